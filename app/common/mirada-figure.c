/* mirada-figure.c: Cairo + Pango figures written as PNG, SVG or PDF. */
#define G_LOG_DOMAIN "mirada"

#include "config.h"

#include <math.h>
#include <string.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "mirada-export.h"
#include "mirada-figure.h"
#include "mirada-image-io.h"

#define FONT_FAMILY "Sans"

struct _MiradaFigure
{
  char *path;
  MiradaFigureFormat format;
  cairo_surface_t *surface;
  cairo_t *cr;
  GByteArray *bytes;  /* what the SVG/PDF surface streams out */
};

MiradaFigureFormat
mirada_figure_format_for_path (const char *path)
{
  g_autofree char *lower = NULL;

  if (path == NULL)
    return MIRADA_FIGURE_PNG;
  lower = g_ascii_strdown (path, -1);
  if (g_str_has_suffix (lower, ".svg"))
    return MIRADA_FIGURE_SVG;
  if (g_str_has_suffix (lower, ".pdf"))
    return MIRADA_FIGURE_PDF;
  return MIRADA_FIGURE_PNG;
}

static cairo_status_t
append_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

static gboolean
cairo_ok (cairo_status_t status, const char *path, GError **error)
{
  if (status == CAIRO_STATUS_SUCCESS)
    return TRUE;
  g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Could not draw “%s”: %s"), path,
               cairo_status_to_string (status));
  return FALSE;
}

MiradaFigure *
mirada_figure_new (const char *path, int width, int height, GError **error)
{
  g_autoptr(MiradaFigure) fig = g_new0 (MiradaFigure, 1);

  g_return_val_if_fail (path != NULL, NULL);
  /* Cairo's limit for image surfaces; figures stay far below it. */
  if (width < 1 || height < 1 || width > 32767 || height > 32767)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("A figure of %d×%d pixels is too large to draw (at most 32767 per side)"),
                   width, height);
      return NULL;
    }
  fig->path = g_strdup (path);
  fig->format = mirada_figure_format_for_path (path);
  fig->bytes = g_byte_array_new ();
  switch (fig->format)
    {
    case MIRADA_FIGURE_SVG:
      fig->surface = cairo_svg_surface_create_for_stream (append_bytes, fig->bytes, width, height);
      cairo_svg_surface_set_document_unit (fig->surface, CAIRO_SVG_UNIT_PX);
      break;
    case MIRADA_FIGURE_PDF:
      fig->surface = cairo_pdf_surface_create_for_stream (append_bytes, fig->bytes, width, height);
      cairo_pdf_surface_set_metadata (fig->surface, CAIRO_PDF_METADATA_CREATOR, "Mirada");
      break;
    case MIRADA_FIGURE_PNG:
    default:
      fig->surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
      break;
    }
  fig->cr = cairo_create (fig->surface);
  if (!cairo_ok (cairo_status (fig->cr), path, error))
    return NULL;
  cairo_set_source_rgb (fig->cr, 1, 1, 1);
  cairo_paint (fig->cr);
  cairo_set_source_rgb (fig->cr, 0, 0, 0);
  return g_steal_pointer (&fig);
}

cairo_t *
mirada_figure_get_cairo (MiradaFigure *figure)
{
  return figure->cr;
}

gboolean
mirada_figure_save (MiradaFigure *fig, GError **error)
{
  cairo_status_t status = cairo_status (fig->cr);

  cairo_destroy (g_steal_pointer (&fig->cr));
  if (status == CAIRO_STATUS_SUCCESS)
    {
      if (fig->format == MIRADA_FIGURE_PNG)
        status = cairo_surface_write_to_png_stream (fig->surface, append_bytes, fig->bytes);
      else
        {
          cairo_surface_finish (fig->surface);
          status = cairo_surface_status (fig->surface);
        }
    }
  if (!cairo_ok (status, fig->path, error))
    return FALSE;
  return mirada_output_write (fig->path, fig->bytes->data, fig->bytes->len, error);
}

void
mirada_figure_free (MiradaFigure *fig)
{
  if (fig == NULL)
    return;
  g_clear_pointer (&fig->cr, cairo_destroy);
  g_clear_pointer (&fig->surface, cairo_surface_destroy);
  if (fig->bytes != NULL)
    g_byte_array_unref (fig->bytes);
  g_free (fig->path);
  g_free (fig);
}

/* ------------------------------------------------------------------ */
/* Text and pictures */

static PangoLayout *
make_layout (cairo_t *cr, const char *text, double size, gboolean bold, double max_width)
{
  PangoLayout *layout = pango_cairo_create_layout (cr);
  PangoFontDescription *font = pango_font_description_new ();
  cairo_font_options_t *options = cairo_font_options_create ();

  /* The same glyph outlines in every format: no hinting, so the PNG and a
   * renderer's picture of the SVG or PDF agree. */
  cairo_font_options_set_hint_style (options, CAIRO_HINT_STYLE_NONE);
  cairo_font_options_set_hint_metrics (options, CAIRO_HINT_METRICS_OFF);
  pango_cairo_context_set_font_options (pango_layout_get_context (layout), options);
  cairo_font_options_destroy (options);
  pango_layout_context_changed (layout);
  pango_font_description_set_family (font, FONT_FAMILY);
  pango_font_description_set_absolute_size (font, size * PANGO_SCALE);
  pango_font_description_set_weight (font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_layout_set_font_description (layout, font);
  pango_font_description_free (font);
  pango_layout_set_text (layout, text, -1);
  if (max_width > 0)
    {
      pango_layout_set_width (layout, (int) (max_width * PANGO_SCALE));
      pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
    }
  return layout;
}

void
mirada_figure_text_extent (cairo_t *cr, const char *text, double size, gboolean bold,
                           double *width, double *height)
{
  g_autoptr(PangoLayout) layout = make_layout (cr, text, size, bold, 0);
  PangoRectangle logical;

  pango_layout_get_extents (layout, NULL, &logical);
  if (width)
    *width = (double) logical.width / PANGO_SCALE;
  if (height)
    *height = (double) logical.height / PANGO_SCALE;
}

double
mirada_figure_text (cairo_t *cr, const char *text, double x, double y, double ax, double ay,
                    double size, gboolean bold, double max_width)
{
  g_autoptr(PangoLayout) layout = make_layout (cr, text, size, bold, max_width);
  PangoRectangle logical;
  double w, h;

  /* the lines of a several-line text aligned as the anchor says */
  pango_layout_set_alignment (layout, ax > 0.75 ? PANGO_ALIGN_RIGHT
                                      : ax > 0.25 ? PANGO_ALIGN_CENTER : PANGO_ALIGN_LEFT);
  pango_layout_get_extents (layout, NULL, &logical);
  w = (double) logical.width / PANGO_SCALE;
  h = (double) logical.height / PANGO_SCALE;
  /* logical.x: where alignment inside a set width put the text */
  cairo_move_to (cr, x - ax * w - (double) logical.x / PANGO_SCALE,
                 y - ay * h - (double) logical.y / PANGO_SCALE);
  pango_cairo_show_layout (cr, layout);
  return w;
}

void
mirada_figure_image (cairo_t *cr, const MirImage *image, double x, double y, double w, double h,
                     gboolean smooth)
{
  cairo_surface_t *surface;
  cairo_pattern_t *pattern;
  guint8 *data;
  int stride;

  g_autoptr(MirImage) sized = NULL;
  int pw = (int) lround (w), ph = (int) lround (h);

  g_return_if_fail (image != NULL && image->width > 0 && image->height > 0);
  /* Resampled here, once, to the pixels it will cover, and placed on whole
   * pixels: a PDF or SVG viewer then shows the same pixels as the PNG
   * instead of smoothing (or not) as it likes. */
  if ((pw != image->width || ph != image->height) && pw > 0 && ph > 0)
    {
      sized = mir_image_resize (image, pw, ph, smooth ? MIR_RESIZE_BILINEAR : MIR_RESIZE_NEAREST,
                                NULL);
      if (sized != NULL)
        {
          image = sized;
          x = round (x), y = round (y), w = pw, h = ph;
        }
    }
  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, image->width, image->height);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS)
    {
      cairo_surface_destroy (surface);
      return;
    }
  cairo_surface_flush (surface);
  data = cairo_image_surface_get_data (surface);
  stride = cairo_image_surface_get_stride (surface);
  for (int r = 0; r < image->height; r++)
    {
      const guint8 *src = image->pixels + (gsize) r * image->rowstride;
      guint32 *dst = (guint32 *) (void *) (data + (gsize) r * (gsize) stride);

      for (int c = 0; c < image->width; c++)
        {
          const guint8 *p = src + (gsize) c * (gsize) image->channels;
          guint32 R = p[0], G = image->channels >= 3 ? p[1] : p[0],
                  B = image->channels >= 3 ? p[2] : p[0];
          dst[c] = 0xff000000u | (R << 16) | (G << 8) | B;
        }
    }
  cairo_surface_mark_dirty (surface);
  cairo_save (cr);
  cairo_rectangle (cr, x, y, w, h);
  cairo_clip (cr);
  cairo_translate (cr, x, y);
  cairo_scale (cr, w / image->width, h / image->height);
  cairo_set_source_surface (cr, surface, 0, 0);
  pattern = cairo_get_source (cr);
  cairo_pattern_set_filter (pattern, smooth ? CAIRO_FILTER_BILINEAR : CAIRO_FILTER_NEAREST);
  cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
  cairo_paint (cr);
  cairo_restore (cr);
  cairo_surface_destroy (surface);
}

static void
set_rgb8 (cairo_t *cr, const guint8 rgb[3])
{
  cairo_set_source_rgb (cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
}

static const char *
class_name (const char *const *names, guint c, char *buf, gsize size)
{
  if (names != NULL && g_strv_length ((char **) names) > c && names[c] != NULL)
    return names[c];
  g_snprintf (buf, size, "%u", c);
  return buf;
}

gboolean
mirada_figure_save_image (const char *path, const MirImage *image, GError **error)
{
  g_autoptr(MiradaFigure) fig = NULL;

  if (mirada_figure_format_for_path (path) == MIRADA_FIGURE_PNG)
    return mirada_image_save_png (image, path, error);
  if (!(fig = mirada_figure_new (path, image->width, image->height, error)))
    return FALSE;
  mirada_figure_image (fig->cr, image, 0, 0, image->width, image->height, FALSE);
  return mirada_figure_save (fig, error);
}

/* ------------------------------------------------------------------ */
/* Detections */

double
mirada_figure_nice_step (double range, int target)
{
  double raw = range / target, mag = pow (10.0, floor (log10 (raw))), norm = raw / mag;

  if (norm < 1.5)
    return mag;
  if (norm < 3.0)
    return 2 * mag;
  if (norm < 7.0)
    return 5 * mag;
  return 10 * mag;
}

double
mirada_figure_nice_range (double *lo, double *hi, int target)
{
  double step = mirada_figure_nice_step (*hi - *lo, target);

  *lo = floor (*lo / step) * step;
  *hi = ceil (*hi / step) * step;
  return step;
}

double
mirada_figure_box_line (int width)
{
  return MAX (2.0, width / 300.0);
}

gboolean
mirada_figure_detections (const char *path, const MirImage *image, const MirDetectResult *result,
                          const char *const *class_names, GError **error)
{
  g_autoptr(MiradaFigure) fig = NULL;
  cairo_t *cr;
  double line, size;

  g_return_val_if_fail (image != NULL && result != NULL, FALSE);
  if (!(fig = mirada_figure_new (path, image->width, image->height, error)))
    return FALSE;
  cr = fig->cr;
  mirada_figure_image (cr, image, 0, 0, image->width, image->height, FALSE);
  /* Lines and labels grow with the photo, readable on a projector. */
  line = mirada_figure_box_line (image->width);
  size = MAX (12.0, image->width / 60.0);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_MITER);
  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (result->boxes, MirDetectBox, i);
      g_autofree char *label = NULL;
      char buf[16];
      guint8 rgb[3];
      double tw, th, pad = size / 4, ty;

      mir_detect_class_color (b->class_index, rgb);
      set_rgb8 (cr, rgb);
      cairo_set_line_width (cr, line);
      cairo_rectangle (cr, b->x + line / 2, b->y + line / 2, b->width - line, b->height - line);
      cairo_stroke (cr);

      label = g_strdup_printf ("%s %.3f", class_name (class_names, b->class_index, buf,
                                                      sizeof buf), b->prob);
      mirada_figure_text_extent (cr, label, size, TRUE, &tw, &th);
      /* above the box, or just inside it at the top of the photo */
      ty = b->y - th - 2 * pad >= 0 ? b->y - th - 2 * pad : b->y;
      cairo_rectangle (cr, b->x, ty, tw + 2 * pad, th + 2 * pad);
      cairo_fill (cr);
      /* dark text on light colours, white on dark ones */
      if (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 150)
        cairo_set_source_rgb (cr, 0, 0, 0);
      else
        cairo_set_source_rgb (cr, 1, 1, 1);
      mirada_figure_text (cr, label, b->x + pad, ty + pad, 0, 0, size, TRUE, 0);
    }
  return mirada_figure_save (fig, error);
}

/* ------------------------------------------------------------------ */
/* Confusion matrix */

gboolean
mirada_figure_confusion (const char *path, const char *title, const char *subtitle,
                         const guint64 *conf, guint K, const char *const *class_names,
                         GError **error)
{
  g_autoptr(MiradaFigure) fig = NULL;
  cairo_t *cr;
  /* Cells big enough for a count up to K = 20; CIFAR-100 gets small squares. */
  double cell = K <= 12 ? 48 : K <= 20 ? 36 : MAX (8.0, 720.0 / K);
  double font = K <= 12 ? 13 : K <= 20 ? 11 : MIN (10.0, cell * 0.8);
  gboolean counts = K <= 20, names = cell >= 8;
  double label_w = 0, top, left, side = cell * K, width, height, tmp;
  char buf[16];
  cairo_surface_t *measure = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t *mcr = cairo_create (measure);

  for (guint k = 0; k < K && names; k++)
    {
      mirada_figure_text_extent (mcr, class_name (class_names, k, buf, sizeof buf), font, FALSE,
                                 &tmp, NULL);
      label_w = MAX (label_w, MIN (tmp, 220));
    }
  cairo_destroy (mcr);
  cairo_surface_destroy (measure);

  left = 40 + label_w + 8;      /* the "True class" label, the names */
  top = 70 + label_w * 0.75 + 8; /* title, subtitle, the names at 45° */
  /* the last column's name leans right of the matrix by about 0.7 of its length */
  width = MAX (left + side + label_w * 0.72 + 16, 420);
  height = top + side + 50;
  if (!(fig = mirada_figure_new (path, (int) ceil (width), (int) ceil (height), error)))
    return FALSE;
  cr = fig->cr;

  cairo_set_source_rgb (cr, 0, 0, 0);
  mirada_figure_text (cr, title, width / 2, 10, 0.5, 0, 18, TRUE, width - 20);
  if (subtitle)
    {
      cairo_set_source_rgb (cr, 0.3, 0.3, 0.3);
      mirada_figure_text (cr, subtitle, width / 2, 36, 0.5, 0, 13, FALSE, width - 20);
    }

  for (guint i = 0; i < K; i++)
    {
      guint64 row = 0;

      for (guint j = 0; j < K; j++)
        row += conf[(gsize) i * K + j];
      for (guint j = 0; j < K; j++)
        {
          guint64 n = conf[(gsize) i * K + j];
          double f = row ? (double) n / (double) row : 0, x = left + j * cell, y = top + i * cell;
          double r, g, b;

          if (i == j)
            r = g = 1 - f, b = 1;
          else
            {
              f = MIN (1.0, f * 5); /* errors are small fractions: stretched */
              r = 1, g = b = 1 - f;
            }
          cairo_set_source_rgb (cr, r, g, b);
          cairo_rectangle (cr, x, y, cell, cell);
          cairo_fill (cr);
          if (counts && n > 0)
            {
              g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT, n);

              if (0.299 * r + 0.587 * g + 0.114 * b < 0.5)
                cairo_set_source_rgb (cr, 1, 1, 1);
              else
                cairo_set_source_rgb (cr, 0, 0, 0);
              mirada_figure_text (cr, text, x + cell / 2, y + cell / 2, 0.5, 0.5, font * 0.9,
                                  i == j, cell - 2);
            }
        }
    }
  /* the grid */
  cairo_set_source_rgb (cr, 0.63, 0.63, 0.63);
  cairo_set_line_width (cr, 1);
  for (guint k = 0; k <= K; k++)
    {
      cairo_move_to (cr, left + k * cell, top);
      cairo_line_to (cr, left + k * cell, top + side);
      cairo_move_to (cr, left, top + k * cell);
      cairo_line_to (cr, left + side, top + k * cell);
    }
  cairo_stroke (cr);

  cairo_set_source_rgb (cr, 0, 0, 0);
  for (guint k = 0; k < K && names; k++)
    {
      const char *name = class_name (class_names, k, buf, sizeof buf);

      /* rows: the true class, right-aligned before the row */
      mirada_figure_text (cr, name, left - 6, top + (k + 0.5) * cell, 1, 0.5, font, FALSE, 220);
      /* columns: the predicted class, at 45° above the column */
      cairo_save (cr);
      cairo_translate (cr, left + (k + 0.5) * cell, top - 4);
      cairo_rotate (cr, -G_PI / 4);
      mirada_figure_text (cr, name, 0, 0, 0, 0.5, font, FALSE, 220);
      cairo_restore (cr);
    }
  /* axis titles */
  mirada_figure_text (cr, _("Predicted class"), left + side / 2, top + side + 10, 0.5, 0, 13, TRUE,
                      0);
  cairo_save (cr);
  cairo_translate (cr, 12, top + side / 2);
  cairo_rotate (cr, -G_PI / 2);
  mirada_figure_text (cr, _("True class"), 0, 0, 0.5, 0, 13, TRUE, 0);
  cairo_restore (cr);
  return mirada_figure_save (fig, error);
}

/* ------------------------------------------------------------------ */
/* Captioned tiles */

gboolean
mirada_figure_tiles (const char *path, const char *title, MirImage *const *tiles,
                     const char *const *captions, guint n_tiles, guint per_row, double tile_scale,
                     gboolean smooth, GError **error)
{
  g_autoptr(MiradaFigure) fig = NULL;
  cairo_t *cr;
  double tw = 0, th = 0, gap = 8, cap = 0, head = title ? 34 : 6;
  guint rows;
  double width, height;

  g_return_val_if_fail (n_tiles > 0 && per_row > 0, FALSE);
  for (guint i = 0; i < n_tiles; i++)
    {
      tw = MAX (tw, tiles[i]->width * tile_scale);
      th = MAX (th, tiles[i]->height * tile_scale);
    }
  /* a caption may have several lines ("\n") */
  for (guint i = 0; captions && i < n_tiles; i++)
    if (captions[i])
      {
        guint lines = 1;
        for (const char *c = captions[i]; *c; c++)
          lines += *c == '\n';
        cap = MAX (cap, 15.0 * lines + 4);
      }
  per_row = MIN (per_row, n_tiles);
  rows = (n_tiles + per_row - 1) / per_row;
  /* captions need some width even under tiny tiles */
  if (captions)
    tw = MAX (tw, 48);
  width = per_row * (tw + gap) + gap;
  height = head + rows * (th + cap + gap) + gap;
  if (!(fig = mirada_figure_new (path, (int) ceil (width), (int) ceil (height), error)))
    return FALSE;
  cr = fig->cr;
  if (title)
    {
      cairo_set_source_rgb (cr, 0, 0, 0);
      mirada_figure_text (cr, title, width / 2, 8, 0.5, 0, 16, TRUE, width - 16);
    }
  for (guint i = 0; i < n_tiles; i++)
    {
      double x = gap + (i % per_row) * (tw + gap), y = head + (i / per_row) * (th + cap + gap);
      double w = tiles[i]->width * tile_scale, h = tiles[i]->height * tile_scale;

      mirada_figure_image (cr, tiles[i], x + (tw - w) / 2, y, w, h, smooth);
      if (captions && captions[i])
        {
          cairo_set_source_rgb (cr, 0.15, 0.15, 0.15);
          mirada_figure_text (cr, captions[i], x + tw / 2, y + th + 2, 0.5, 0, 11, FALSE, tw + gap);
        }
    }
  return mirada_figure_save (fig, error);
}
