/* mirada-canvas.h: the image with the detector's boxes on top; zoom, pan,
 * hover (probabilities of the window under the pointer) and click (selects a
 * window position). */
#pragma once

#include <gtk/gtk.h>

#include "detect/mir-detect.h"
#include "mirada-session.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_CANVAS (mirada_canvas_get_type ())
G_DECLARE_FINAL_TYPE (MiradaCanvas, mirada_canvas, MIRADA, CANVAS, GtkWidget)

GtkWidget  *mirada_canvas_new             (void);
/* Follows @session (or none): its texture, class names, grid and boxes. */
void        mirada_canvas_set_session     (MiradaCanvas *self, MiradaSession *session);
void        mirada_canvas_set_texture     (MiradaCanvas *self, GdkTexture *texture);
GdkTexture *mirada_canvas_get_texture     (MiradaCanvas *self);
/* The grid (for hover) and the filtered boxes (array of MirDetectBox); either may be NULL. */
void        mirada_canvas_set_detections  (MiradaCanvas *self, MirDetectGrid *grid, GArray *boxes);
/* The filter's parameters (copied): the hover shows each class's
 * neighbourhood mean as filter 2 computes it.  NULL shows probabilities only. */
void        mirada_canvas_set_params      (MiradaCanvas *self, const MirDetectParams *params);
void        mirada_canvas_set_n_scales    (MiradaCanvas *self, guint n_scales);
/* How many classes' probability fields the canvas draws (the session's choice). */
guint       mirada_canvas_get_n_fields    (MiradaCanvas *self);
/* The hover text for window (@row, @col): probability and neighbourhood mean
 * per class.  Transfer full. */
char       *mirada_canvas_describe_window (MiradaCanvas *self, int row, int col);
/* The window under the pointer, if any. */
gboolean    mirada_canvas_get_hover       (MiradaCanvas *self, int *row, int *col);
/* The pointer is at (@x, @y), widget pixels (what motion events call; tests too). */
void        mirada_canvas_pointer_moved   (MiradaCanvas *self, double x, double y);
/* Ground-truth boxes (array of MirDetectTruthBox), drawn dashed; NULL hides them. */
void        mirada_canvas_set_truth       (MiradaCanvas *self, GArray *truth);
GArray     *mirada_canvas_get_truth       (MiradaCanvas *self);
/* The receptive field of the unit the activations panel explains, in image
 * pixels, outlined over the photo (@padded: its window before clipping,
 * the part outside the image hatched); NULL hides it. */
void        mirada_canvas_set_unit_field  (MiradaCanvas *self, const graphene_rect_t *field,
                                           const graphene_rect_t *padded);
gboolean    mirada_canvas_get_unit_field  (MiradaCanvas *self, graphene_rect_t *field,
                                           graphene_rect_t *padded);
void        mirada_canvas_set_class_names (MiradaCanvas *self, const char *const *names);
void        mirada_canvas_zoom_in         (MiradaCanvas *self);
void        mirada_canvas_zoom_out        (MiradaCanvas *self);
void        mirada_canvas_zoom_fit        (MiradaCanvas *self);
/* Current scale (image pixel → widget pixel). */
double      mirada_canvas_get_scale       (MiradaCanvas *self);
gboolean    mirada_canvas_get_selected    (MiradaCanvas *self, int *row, int *col);
/* Selects window (@row, @col) as a click (or the arrow keys) does: emits
 * ::window-activated. */
void        mirada_canvas_select          (MiradaCanvas *self, int row, int col);
/* The window position whose centre is nearest to the image point (x, y),
 * if (x, y) lies in some window. */
gboolean    mirada_grid_lookup            (const MirDetectGrid *grid, double x, double y,
                                           int *row, int *col);

/* The occlusion brush (issue 19): while set, a drag on the photo paints
 * (@func gets the image point of the press, each move and the release)
 * instead of panning, and a click paints a dot instead of selecting; an
 * outline of @radius image pixels follows the pointer.  NULL: off. */
typedef enum
{
  MIRADA_BRUSH_BEGIN,
  MIRADA_BRUSH_MOVE,
  MIRADA_BRUSH_END,   /* no point */
} MiradaBrushPhase;
typedef void (*MiradaCanvasBrushFunc) (MiradaCanvas     *canvas,
                                       MiradaBrushPhase  phase,
                                       double            x,
                                       double            y,
                                       gpointer          user_data);
void        mirada_canvas_set_brush       (MiradaCanvas *self, double radius,
                                           MiradaCanvasBrushFunc func, gpointer user_data);
/* While TRUE, a new texture of the same size (the photo repainted) keeps the
 * zoom, the pan and the selected window. */
void        mirada_canvas_set_keep_view   (MiradaCanvas *self, gboolean keep_view);

/* Seed colours: red for the first class, blue for the second, then others;
 * or, after mirada_class_color_set_safe (TRUE) (presentation mode), the
 * colour-blind-safe palette (mir_detect_class_color_safe). */
void        mirada_class_color            (guint class_index, GdkRGBA *rgba);
void        mirada_class_color_set_safe   (gboolean safe);
/* Presentation mode: thicker boxes, larger bold labels, the safe palette's
 * selection highlight (white on black rather than yellow). */
void        mirada_canvas_set_presentation (MiradaCanvas *self, gboolean presentation);
gboolean    mirada_canvas_get_presentation (MiradaCanvas *self);
/* The box outline width and label font size (points) the canvas draws with. */
double      mirada_canvas_get_line_width  (MiradaCanvas *self);
double      mirada_canvas_get_label_size  (MiradaCanvas *self);
/* Draws @truth (MirDetectTruthBox) dashed, image coordinates × @scale. */
void        mirada_draw_truth             (cairo_t *cr, GArray *truth, double scale);
/* Draws @boxes (image coordinates × @scale) with labels on @cr; used by the
 * canvas and by the PNG export. */
void        mirada_draw_boxes             (cairo_t            *cr,
                                           PangoLayout        *layout,
                                           GArray             *boxes,
                                           const char *const  *class_names,
                                           double              scale);
/* The same with outlines @line_width px wide (mirada_draw_boxes: 2) and,
 * with @contrast_text, black label text on light colours (else white). */
void        mirada_draw_boxes_full        (cairo_t            *cr,
                                           PangoLayout        *layout,
                                           GArray             *boxes,
                                           const char *const  *class_names,
                                           double              scale,
                                           double              line_width,
                                           gboolean            contrast_text);

/* The view (issue 19): fitted to the widget, or @zoom (image pixel → widget
 * pixel) with the image origin at widget (@pan_x, @pan_y).  set_view does
 * not emit ::view-changed, which a zoom, pan or fit by the user does. */
void        mirada_canvas_get_view        (MiradaCanvas *self, gboolean *fit, double *zoom,
                                           double *pan_x, double *pan_y);
void        mirada_canvas_set_view        (MiradaCanvas *self, gboolean fit, double zoom,
                                           double pan_x, double pan_y);
/* Draws over the boxes, under the hover: @cr has its origin at the image's,
 * image coordinates × @scale (as mirada_draw_boxes).  NULL removes it. */
typedef void (*MiradaCanvasOverlayFunc) (MiradaCanvas *canvas, cairo_t *cr, double scale,
                                         gpointer data);
void        mirada_canvas_set_overlay     (MiradaCanvas *self, MiradaCanvasOverlayFunc func,
                                           gpointer data, GDestroyNotify destroy);

G_END_DECLS
