/* mirada-figure.h: figures for slides and reports, drawn once with Cairo and
 * Pango and written as PNG, SVG or PDF by the output file's extension
 * (app/common: the CLI and the window share it, no GTK).
 *
 * Every figure a command writes (--png, --out, --draw, --history-png …) goes
 * through MiradaFigure: text is laid out by Pango (accents, any script the
 * fonts have), SVG and PDF are vector (pictures inside them are embedded at
 * their own resolution), and the file is written with mirada_output_write()
 * ("-" is standard output, PNG there). */
#pragma once

#include <cairo.h>

#include "mir.h"
#include "detect/mir-detect.h"

G_BEGIN_DECLS

typedef enum
{
  MIRADA_FIGURE_PNG,
  MIRADA_FIGURE_SVG,
  MIRADA_FIGURE_PDF,
} MiradaFigureFormat;

/* ".svg" and ".pdf" (any case) are vector; everything else, "-" too, is PNG. */
MiradaFigureFormat mirada_figure_format_for_path (const char *path);

typedef struct _MiradaFigure MiradaFigure;

/* A @width × @height figure (pixels; points in SVG and PDF, the same number)
 * painted white, to be written to @path by mirada_figure_save(). */
MiradaFigure *mirada_figure_new       (const char    *path,
                                       int            width,
                                       int            height,
                                       GError       **error);
cairo_t      *mirada_figure_get_cairo (MiradaFigure  *figure);
/* Finishes the drawing and writes the file. */
gboolean      mirada_figure_save      (MiradaFigure  *figure,
                                       GError       **error);
void          mirada_figure_free      (MiradaFigure  *figure);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MiradaFigure, mirada_figure_free)

/* @text (UTF-8, may hold Pango markup when @markup) in the sans-serif face at
 * @size pixels, in the current source colour, its box anchored at (@x, @y) by
 * (@ax, @ay): (0, 0) top left, (0.5, 0.5) centre, (1, 1) bottom right.
 * @max_width > 0 ellipsises at the end.  Returns the text's width. */
double mirada_figure_text         (cairo_t       *cr,
                                   const char    *text,
                                   double         x,
                                   double         y,
                                   double         ax,
                                   double         ay,
                                   double         size,
                                   gboolean       bold,
                                   double         max_width);
/* The width and height the text would take. */
void   mirada_figure_text_extent  (cairo_t       *cr,
                                   const char    *text,
                                   double         size,
                                   gboolean       bold,
                                   double        *width,
                                   double        *height);
/* An RGB or grey MirImage drawn into the rectangle (@x, @y, @w, @h); @smooth
 * chooses bilinear over nearest-neighbour scaling (pixels of small maps stay
 * sharp squares when FALSE). */
void   mirada_figure_image        (cairo_t        *cr,
                                   const MirImage *image,
                                   double          x,
                                   double          y,
                                   double          w,
                                   double          h,
                                   gboolean        smooth);

/* Chart axes (the training history, the deletion curves): a round tick step
 * (1, 2 or 5 times a power of ten) for about @target ticks over @range > 0;
 * and @lo, @hi widened to whole multiples of such a step, which it returns. */
double mirada_figure_nice_step  (double range, int target);
double mirada_figure_nice_range (double *lo, double *hi, int target);

/* A picture already drawn (the probability field, the unit explainer) as it
 * is: PNG pixel for pixel, or embedded in an SVG or PDF page of its size. */
/* The box line width, in pixels, for a photo of @width × @height: the same
 * for `detect --draw`, its probability field and the window's PNG export
 * (MAX (2, width / 300): readable on a projector). */
double   mirada_figure_box_line    (int width);

gboolean mirada_figure_save_image (const char            *path,
                                   const MirImage        *image,
                                   GError               **error);

/* `mirada detect --draw`: the photo with each box in its class's colour and
 * a label "name probability" above it. */
gboolean mirada_figure_detections (const char            *path,
                                   const MirImage        *image,
                                   const MirDetectResult *result,
                                   const char *const     *class_names,
                                   GError               **error);

/* `mirada evaluate --png`: a confusion matrix (@conf, K × K, row = true
 * class) with a title, the class names on both axes, the count in every cell
 * and each row's share as the cell's colour (the diagonal blue, errors red). */
gboolean mirada_figure_confusion  (const char            *path,
                                   const char            *title,
                                   const char            *subtitle,
                                   const guint64         *conf,
                                   guint                  K,
                                   const char *const     *class_names,
                                   GError               **error);

/* A grid of captioned tiles (activation channels, filter patterns, the
 * Grad-CAM strip): @title above, each tile with its caption under it. */
gboolean mirada_figure_tiles      (const char            *path,
                                   const char            *title,
                                   MirImage *const       *tiles,
                                   const char *const     *captions,
                                   guint                  n_tiles,
                                   guint                  per_row,
                                   double                 tile_scale,
                                   gboolean               smooth,
                                   GError               **error);

G_END_DECLS
