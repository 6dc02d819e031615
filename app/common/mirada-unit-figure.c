/* mirada-unit-figure.c: one unit explained for people (see the header). */
#define G_LOG_DOMAIN "mirada-unit-figure"

#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-unit-figure.h"

void
mirada_unit_explanation_clear (MiradaUnitExplanation *e)
{
  mir_unit_value_clear (&e->value);
  g_clear_pointer (&e->why, g_free);
  g_clear_pointer (&e->figure, mir_image_unref);
  memset (e, 0, sizeof *e);
}

static void
blend (MirImage *img, int px, int py, const guint8 rgb[3], double a)
{
  guint8 *p;

  if (px < 0 || py < 0 || px >= img->width || py >= img->height)
    return;
  p = img->pixels + (gsize) py * img->rowstride + (gsize) px * 3;
  for (int k = 0; k < 3; k++)
    p[k] = (guint8) lround ((1 - a) * p[k] + a * rgb[k]);
}

static void
outline (MirImage *out, const MirRect *r, gint64 margin_y, gint64 margin_x, int s,
         const guint8 rgb[3], int width)
{
  int y0 = (int) (r->y0 + margin_y) * s, y1 = (int) (r->y1 + margin_y) * s - 1;
  int x0 = (int) (r->x0 + margin_x) * s, x1 = (int) (r->x1 + margin_x) * s - 1;

  for (int t = 0; t < width; t++)
    {
      for (int x = x0; x <= x1; x++)
        blend (out, x, y0 + t, rgb, 1), blend (out, x, y1 - t, rgb, 1);
      for (int y = y0; y <= y1; y++)
        blend (out, x0 + t, y, rgb, 1), blend (out, x1 - t, y, rgb, 1);
    }
}

/* Hatches the part of @r outside the image. */
static void
hatch_outside (MirImage *out, const MirImage *seen, const MirRect *r, gint64 margin_y,
               gint64 margin_x, int s, const guint8 rgb[3], double a, int period)
{
  for (gint64 y = r->y0; y < r->y1; y++)
    for (gint64 x = r->x0; x < r->x1; x++)
      if (y < 0 || x < 0 || y >= seen->height || x >= seen->width)
        for (int dy = 0; dy < s; dy++)
          for (int dx = 0; dx < s; dx++)
            {
              int py = (int) (y + margin_y) * s + dy, px = (int) (x + margin_x) * s + dx;
              if (((px + py) / period) % 2 == 0)
                blend (out, px, py, rgb, a);
            }
}

/* The model's input (the image resized as the model sees it), scaled up,
 * on a grey margin that shows the padding; the field outlined in red and
 * the padded part of the window hatched in blue.  With
 * MIRADA_UNIT_SHOW_PADDING: the pixels no "valid" window reads darkened,
 * the "valid" region outlined in green and the border "same" pads hatched
 * in orange. */
static MirImage *
draw_field (const MirImage *seen, const MiradaUnitExplanation *e, MiradaUnitFlags flags,
            GError **error)
{
  const MirRect *field = &e->field, *padded = &e->padded;
  gboolean pads = (flags & MIRADA_UNIT_SHOW_PADDING) && e->have_padding;
  MirRect reach = pads ? e->same_reach : *padded;
  gint64 margin_y = MAX (0, MAX (MAX (-padded->y0, padded->y1 - seen->height),
                                 MAX (-reach.y0, reach.y1 - seen->height)));
  gint64 margin_x = MAX (0, MAX (MAX (-padded->x0, padded->x1 - seen->width),
                                 MAX (-reach.x0, reach.x1 - seen->width)));
  int side = (int) MAX (seen->width + 2 * margin_x, seen->height + 2 * margin_y);
  int s = MAX (1, MIN (16, 512 / MAX (side, 1)));
  int W = (seen->width + 2 * (int) margin_x) * s, H = (seen->height + 2 * (int) margin_y) * s;
  g_autoptr(MirImage) out = mir_image_new (W, H, 3, error);
  static const guint8 red[3] = { 230, 30, 30 }, grey[3] = { 128, 128, 128 }, pad[3] = { 60, 60, 200 };
  static const guint8 black[3] = { 0, 0, 0 }, green[3] = { 40, 200, 70 }, orange[3] = { 240, 150, 20 };

  if (out == NULL)
    return NULL;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        int sy = y / s - (int) margin_y, sx = x / s - (int) margin_x;
        guint8 *p = out->pixels + (gsize) y * out->rowstride + (gsize) x * 3;

        if (sy < 0 || sx < 0 || sy >= seen->height || sx >= seen->width)
          memcpy (p, grey, 3);
        else
          {
            const guint8 *q = seen->pixels + (gsize) sy * seen->rowstride + (gsize) sx * seen->channels;
            for (int k = 0; k < 3; k++)
              p[k] = q[seen->channels == 3 ? k : 0];
            if (pads && !(sy >= e->valid_field.y0 && sy < e->valid_field.y1 &&
                          sx >= e->valid_field.x0 && sx < e->valid_field.x1))
              blend (out, x, y, black, 0.55);
          }
      }
  if (pads)
    {
      hatch_outside (out, seen, &reach, margin_y, margin_x, s, orange, 0.5, 4);
      if (e->valid_field.y1 > e->valid_field.y0 && e->valid_field.x1 > e->valid_field.x0)
        outline (out, &e->valid_field, margin_y, margin_x, s, green, 1);
    }
  hatch_outside (out, seen, padded, margin_y, margin_x, s, pad, 0.7, 3);
  outline (out, field, margin_y, margin_x, s, red, 2);
  return g_steal_pointer (&out);
}

gboolean
mirada_unit_explain (MirModel *model, const MirImage *image, gint layer, gint64 y, gint64 x,
                     gint64 c, GCancellable *cancellable, MiradaUnitExplanation *out,
                     GError **error)
{
  return mirada_unit_explain_full (model, image, layer, y, x, c, 0, cancellable, out, error);
}

gboolean
mirada_unit_explain_full (MirModel *model, const MirImage *image, gint layer, gint64 y,
                          gint64 x, gint64 c, MiradaUnitFlags flags, GCancellable *cancellable,
                          MiradaUnitExplanation *out, GError **error)
{
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirImage) seen = NULL;
  g_autoptr(GError) why = NULL;
  const MirShape *in_shape = mir_model_get_input_shape (model, 0);
  MirTrace *trace;
  gboolean ok;

  memset (out, 0, sizeof *out);
  if (!(input = mir_image_prepare (image, model, error)) ||
      !(trace = mir_model_run (model, &input, 1, MIR_RUN_KEEP_ALL, layer, 0, cancellable, error)))
    return FALSE;
  ok = mir_unit_receptive_field (trace, (guint) layer, y, x, &out->field, &out->padded, error);
  if (ok)
    {
      out->have_value = mir_unit_compute (trace, (guint) layer, y, x, c, &out->value, &why);
      if (!out->have_value)
        out->why = g_strdup (why->message);
      /* a layer without a window has no padding to compare: nothing to say */
      out->have_padding = mir_unit_padding (trace, (guint) layer, &out->padding,
                                            &out->valid_field, &out->same_reach, NULL);
    }
  mir_trace_free (trace);
  if (!ok)
    return FALSE;
  out->input_height = input->shape[1];
  out->input_width = input->shape[2];
  if (!(seen = mir_image_resize (image, (int) input->shape[2], (int) input->shape[1],
                                 model->meta.resize, error)) ||
      !(out->figure = draw_field (seen, out, flags, error)))
    {
      mirada_unit_explanation_clear (out);
      return FALSE;
    }
  (void) in_shape;
  return TRUE;
}

static void
describe_padding (GString *s, const MirPaddingSizes *p)
{
  const char *model = g_str_equal (p->model, "same") ? _("“same”")
                      : g_str_equal (p->model, "valid") ? _("“valid”") : _("explicit");

  /* Translators: "same" and "valid" are Keras' padding names; the numbers
   * are map sizes (rows×columns) and counts of rows/columns of zeros */
  g_string_append_printf (s, _("Padding (%s here; a %" PRId64 "×%" PRId64 " window, stride %"
                               PRId64 "×%" PRId64 ", dilation %" PRId64 "×%" PRId64 " on a %"
                               PRId64 "×%" PRId64 " input): “same” → %" PRId64 "×%" PRId64
                               " map, %" PRId64 "+%" PRId64 " rows and %" PRId64 "+%" PRId64
                               " columns of zeros; “valid” → %" PRId64 "×%" PRId64
                               " map, no zeros\n"),
                          model, p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->in_h, p->in_w,
                          p->same_h, p->same_w, p->pad_top, p->pad_bottom, p->pad_left,
                          p->pad_right, p->valid_h, p->valid_w);
  if (p->valid_units.y1 > p->valid_units.y0 && p->valid_units.x1 > p->valid_units.x0)
    g_string_append_printf (s, _("Units whose window reads no padding: rows %" PRId64 "–%"
                                 PRId64 ", columns %" PRId64 "–%" PRId64 " of the %"
                                 PRId64 "×%" PRId64 " map\n"),
                            p->valid_units.y0, p->valid_units.y1 - 1, p->valid_units.x0,
                            p->valid_units.x1 - 1, p->out_h, p->out_w);
  else
    g_string_append_printf (s, _("Every unit's window reads padding\n"));
}

static void
append_grid (GString *s, const double *g, gint64 kh, gint64 kw)
{
  for (gint64 i = 0; i < kh; i++)
    {
      for (gint64 j = 0; j < kw; j++)
        g_string_append_printf (s, " %9.3g", g[i * kw + j]);
      g_string_append_c (s, '\n');
    }
}

/* The kernel, the patch and their products, position by position (summed
 * over the input channels when there are several). */
static void
describe_grids (GString *s, const MirUnitValue *v)
{
  gint64 n = v->kh * v->kw;
  g_autofree double *kern = g_new0 (double, n), *patch = g_new0 (double, n), *prod = g_new0 (double, n);

  for (gint64 ij = 0; ij < n; ij++)
    for (gint64 q = 0; q < v->cin; q++)
      {
        kern[ij] += v->kernel[ij * v->cin + q];
        patch[ij] += v->patch[ij * v->cin + q];
        prod[ij] += (double) v->kernel[ij * v->cin + q] * v->patch[ij * v->cin + q];
      }
  if (v->cin == 1)
    {
      g_string_append (s, _("Kernel:\n"));
      append_grid (s, kern, v->kh, v->kw);
      g_string_append (s, _("Input patch (0 where padding):\n"));
      append_grid (s, patch, v->kh, v->kw);
      g_string_append (s, _("Products (their sum is the sum above):\n"));
    }
  else
    {
      g_string_append_printf (s, ngettext ("Kernel, summed over its %" PRId64 " input channel:\n",
                                           "Kernel, summed over its %" PRId64 " input channels:\n",
                                           (gulong) v->cin), v->cin);
      append_grid (s, kern, v->kh, v->kw);
      g_string_append_printf (s, ngettext ("Products, summed over the %" PRId64 " input channel "
                                           "(their sum is the sum above):\n",
                                           "Products, summed over the %" PRId64 " input channels "
                                           "(their sum is the sum above):\n",
                                           (gulong) v->cin), v->cin);
    }
  append_grid (s, prod, v->kh, v->kw);
}

char *
mirada_unit_explanation_describe (const MiradaUnitExplanation *e, const char *layer_name,
                                  gint64 y, gint64 x, gint64 c)
{
  GString *s = g_string_new (NULL);
  const MirUnitValue *v = &e->value;

  g_string_append_printf (s, _("Unit (%" PRId64 ", %" PRId64 ", %"
                               PRId64 ") of layer '%s'\n"), y, x, c, layer_name);
  g_string_append_printf (s, _("Receptive field: rows %" PRId64 "–%" PRId64
                               ", columns %" PRId64 "–%" PRId64 " of the %"
                               PRId64 "×%" PRId64 " input (%" PRId64
                               "×%" PRId64 " pixels)\n"),
                          e->field.y0, e->field.y1 - 1, e->field.x0, e->field.x1 - 1,
                          e->input_height, e->input_width, e->field.y1 - e->field.y0,
                          e->field.x1 - e->field.x0);
  if (e->padded.y0 != e->field.y0 || e->padded.x0 != e->field.x0 ||
      e->padded.y1 != e->field.y1 || e->padded.x1 != e->field.x1)
    g_string_append_printf (s, _("Its window reaches past the image (rows %" PRId64 "–%"
                                 PRId64 ", columns %" PRId64 "–%"
                                 PRId64 "): that part is padding, zeros\n"),
                            e->padded.y0, e->padded.y1 - 1, e->padded.x0, e->padded.x1 - 1);
  if (e->have_value)
    {
      if (g_str_has_suffix (v->kind, "pool"))
        g_string_append_printf (s, _("%s of %" PRId64 " input values = %.6g\n"),
                                g_str_equal (v->kind, "max-pool") ? _("Maximum") : _("Mean"),
                                v->n_terms, v->sum);
      else
        g_string_append_printf (s, _("Σ input × weight over %" PRId64 " terms = %.6g; "
                                     "+ bias %.6g = %.6g; %s → %.6g\n"),
                                v->n_terms, v->sum, v->bias, v->pre, v->activation, v->value);
      g_string_append_printf (s, _("The engine's output: %.6g (difference %.2g)\n"), v->engine,
                              fabs (v->value - v->engine));
    }
  else if (e->why != NULL)
    g_string_append_printf (s, "%s\n", e->why);
  if (e->have_padding)
    describe_padding (s, &e->padding);
  if (e->have_value && v->kernel != NULL && v->patch != NULL && v->kh <= 5 && v->kw <= 5)
    describe_grids (s, v);
  return g_string_free (s, FALSE);
}
