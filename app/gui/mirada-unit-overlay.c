/* mirada-unit-overlay.c: the explained unit's receptive field on the photo
 * (see the header). */
#define G_LOG_DOMAIN "mirada-unit-overlay"

#include "config.h"

#include "mirada-unit-overlay.h"

/* Where the image the activations were computed on lies on the photo: the
 * whole image, or the selected window (its crop has the window's size). */
static gboolean
input_rect_on_photo (MiradaCanvas *canvas, MiradaSession *session, const MirImage *input,
                     graphene_rect_t *rect)
{
  MirImage *image = session != NULL ? mirada_session_get_image (session) : NULL;
  MirDetectGrid *grid = session != NULL ? mirada_session_get_grid (session) : NULL;
  int row, col, x, y, size;

  if (image == NULL)
    return FALSE;
  if (input == image)
    {
      graphene_rect_init (rect, 0, 0, image->width, image->height);
      return TRUE;
    }
  if (grid == NULL || !mirada_canvas_get_selected (canvas, &row, &col) ||
      row < 0 || col < 0 || row >= grid->geom.rows || col >= grid->geom.cols)
    return FALSE;
  mir_detect_geometry_window_rect (&grid->geom, (guint) (row * grid->geom.cols + col), &x, &y, &size);
  if (input->width != size || input->height != size)
    return FALSE; /* not this window's crop */
  graphene_rect_init (rect, x, y, size, size);
  return TRUE;
}

/* The model's input is the image stretched to in_w × in_h: input pixel i
 * covers [i, i + 1) × (size / in) of the image. */
static void
map_rect (const MirRect *r, gint64 in_h, gint64 in_w, const graphene_rect_t *to,
          graphene_rect_t *out)
{
  double sx = to->size.width / (double) in_w, sy = to->size.height / (double) in_h;

  graphene_rect_init (out, to->origin.x + r->x0 * sx, to->origin.y + r->y0 * sy,
                      (r->x1 - r->x0) * sx, (r->y1 - r->y0) * sy);
}

static void
unit_changed_cb (MiradaActivationsPanel *panel, MiradaCanvas *canvas)
{
  MirRect field, padded;
  gint64 in_h, in_w;
  MirImage *input;
  graphene_rect_t on_photo, f, p;

  if (!mirada_activations_panel_get_unit_field (panel, &field, &padded, &in_h, &in_w, &input) ||
      in_h <= 0 || in_w <= 0 ||
      !input_rect_on_photo (canvas, mirada_panel_get_session (MIRADA_PANEL (panel)), input, &on_photo))
    {
      mirada_canvas_set_unit_field (canvas, NULL, NULL);
      return;
    }
  map_rect (&field, in_h, in_w, &on_photo, &f);
  map_rect (&padded, in_h, in_w, &on_photo, &p);
  mirada_canvas_set_unit_field (canvas, &f, &p);
}

void
mirada_unit_overlay_follow (MiradaCanvas *canvas, MiradaActivationsPanel *panel)
{
  g_return_if_fail (MIRADA_IS_CANVAS (canvas) && MIRADA_IS_ACTIVATIONS_PANEL (panel));
  g_signal_connect_object (panel, "unit-changed", G_CALLBACK (unit_changed_cb), canvas, 0);
}

void
mirada_draw_unit_field (cairo_t *cr, const graphene_rect_t *field, const graphene_rect_t *padded,
                        double scale)
{
  static const double dash[] = { 6, 4 };

  cairo_save (cr);
  /* the padding: the window minus the field (even-odd), hatched lightly */
  cairo_set_fill_rule (cr, CAIRO_FILL_RULE_EVEN_ODD);
  cairo_rectangle (cr, padded->origin.x * scale, padded->origin.y * scale,
                   padded->size.width * scale, padded->size.height * scale);
  cairo_rectangle (cr, field->origin.x * scale, field->origin.y * scale,
                   field->size.width * scale, field->size.height * scale);
  cairo_set_source_rgba (cr, 0.24, 0.24, 0.78, 0.45);
  cairo_fill (cr);
  /* the field: a dark line under a light dashed one, visible on any photo */
  cairo_rectangle (cr, field->origin.x * scale, field->origin.y * scale,
                   field->size.width * scale, field->size.height * scale);
  cairo_set_line_width (cr, 4);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.8);
  cairo_stroke_preserve (cr);
  cairo_set_line_width (cr, 2);
  cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
  cairo_set_source_rgb (cr, 0.2, 1.0, 1.0);
  cairo_stroke (cr);
  cairo_restore (cr);
}
