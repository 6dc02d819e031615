/* mirada explain-unit: one unit of a layer, explained (issue 19): where on
 * the input it looks (its receptive field, padding marked) and how its value
 * is made (patch × kernel, summed, plus bias, through the activation),
 * checked against the engine's own output. */
#define G_LOG_DOMAIN "mirada-cmd-explain-unit"

#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli-util.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "explain/mir-unit.h"

/* "y,x,c" or "y,x" (channel 0) or "c" (a Dense unit). */
static gboolean
parse_unit (const char *s, gint64 *y, gint64 *x, gint64 *c)
{
  g_auto(GStrv) parts = g_strsplit (s, ",", -1);
  guint n = g_strv_length (parts);
  gint64 v[3] = { 0, 0, 0 };

  if (n < 1 || n > 3)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      char *end;
      g_strstrip (parts[i]);
      v[i] = g_ascii_strtoll (parts[i], &end, 10);
      if (*parts[i] == '\0' || *end != '\0' || v[i] < 0 || v[i] > G_MAXINT32)
        return FALSE;
    }
  if (n == 1)
    *y = 0, *x = 0, *c = v[0];
  else
    *y = v[0], *x = v[1], *c = n == 3 ? v[2] : 0;
  return TRUE;
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

/* The model's input (the image resized as the model sees it), scaled up,
 * on a grey margin that shows the padding; the field outlined in red and
 * the padded part of the window hatched. */
static MirImage *
draw_field (const MirImage *seen, const MirRect *field, const MirRect *padded, GError **error)
{
  gint64 margin_y = MAX (0, MAX (-padded->y0, padded->y1 - seen->height));
  gint64 margin_x = MAX (0, MAX (-padded->x0, padded->x1 - seen->width));
  int side = MAX (seen->width + 2 * (int) margin_x, seen->height + 2 * (int) margin_y);
  int s = MAX (1, MIN (16, 512 / MAX (side, 1)));
  int W = (seen->width + 2 * (int) margin_x) * s, H = (seen->height + 2 * (int) margin_y) * s;
  g_autoptr(MirImage) out = mir_image_new (W, H, 3, error);
  static const guint8 red[3] = { 230, 30, 30 }, grey[3] = { 128, 128, 128 }, pad[3] = { 60, 60, 200 };

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
          }
      }
  /* padding the window covers: hatched blue */
  for (gint64 y = padded->y0; y < padded->y1; y++)
    for (gint64 x = padded->x0; x < padded->x1; x++)
      if (y < 0 || x < 0 || y >= seen->height || x >= seen->width)
        for (int dy = 0; dy < s; dy++)
          for (int dx = 0; dx < s; dx++)
            {
              int py = (int) (y + margin_y) * s + dy, px = (int) (x + margin_x) * s + dx;
              if (((px + py) / 3) % 2 == 0)
                blend (out, px, py, pad, 0.7);
            }
  /* the field: a 2-px red outline */
  {
    int y0 = (int) (field->y0 + margin_y) * s, y1 = (int) (field->y1 + margin_y) * s - 1;
    int x0 = (int) (field->x0 + margin_x) * s, x1 = (int) (field->x1 + margin_x) * s - 1;

    for (int t = 0; t < 2; t++)
      {
        for (int x = x0; x <= x1; x++)
          blend (out, x, y0 + t, red, 1), blend (out, x, y1 - t, red, 1);
        for (int y = y0; y <= y1; y++)
          blend (out, x0 + t, y, red, 1), blend (out, x1 - t, y, red, 1);
      }
  }
  return g_steal_pointer (&out);
}

static void
json_rect (JsonBuilder *b, const char *name, const MirRect *r)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "y0");
  json_builder_add_int_value (b, r->y0);
  json_builder_set_member_name (b, "x0");
  json_builder_add_int_value (b, r->x0);
  json_builder_set_member_name (b, "y1");
  json_builder_add_int_value (b, r->y1);
  json_builder_set_member_name (b, "x1");
  json_builder_add_int_value (b, r->x1);
  json_builder_end_object (b);
}

int
mirada_cmd_explain_unit (int argc, char **argv)
{
  g_autofree char *layer_name = NULL, *unit = NULL, *out_path = NULL, *labels = NULL;
  g_autofree char *preprocess = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("The layer (required)"), N_("NAME") },
    { "unit", 'u', 0, G_OPTION_ARG_STRING, &unit,
      N_("The unit: row,column,channel of a map, or the index of a Dense unit (default 0,0,0)"),
      N_("Y,X,C") },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
      N_("Write the input with the unit's receptive field drawn (PNG)"), N_("FILE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, N_("Class names, one per line"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"),
      N_("MODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL, seen = NULL, picture = NULL;
  g_autoptr(MirTensor) input = NULL;
  MirTrace *trace = NULL;
  MirUnitValue v = { 0 };
  MirRect field, padded;
  gint64 y = 0, x = 0, c = 0;
  const MirShape *in_shape;
  gboolean have_value;
  g_autoptr(GError) value_error = NULL;
  gint layer;
  int ret;

  g_option_context_set_summary (
    context, _("Explain one unit of a layer: the input pixels it looks at (its receptive field, "
               "through every convolution, pooling and padding on the way) and its value "
               "recomputed from the input patch, the kernel and the bias, next to the engine's "
               "own output."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "explain-unit", &argc, &argv);
  if (ret >= 0)
    return ret;
  if (argc != 3)
    return mirada_cli_usage_error ("explain-unit", _("expected a MODEL and an IMAGE"));
  if (layer_name == NULL)
    return mirada_cli_usage_error ("explain-unit", _("--layer is required"));
  if (unit != NULL && !parse_unit (unit, &y, &x, &c))
    return mirada_cli_usage_error ("explain-unit",
                                   _("--unit takes ROW,COLUMN,CHANNEL (or one index for a Dense "
                                     "layer), non-negative integers"));
  {
    const char *const outputs[] = { out_path };
    if ((ret = mirada_cli_check_outputs ("explain-unit", json, outputs, 1)) >= 0)
      return ret;
  }
  if (!(model = mirada_model_open (argv[1], labels, preprocess, NULL, &error)) ||
      !(image = mirada_image_load (argv[2], &error)) ||
      !(input = mir_image_prepare (image, model, &error)) ||
      (layer = mirada_cli_find_layer (model, layer_name, &error)) < 0 ||
      !(trace = mir_model_run (model, &input, 1, MIR_RUN_KEEP_ALL, layer, 0, NULL, &error)))
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  {
    MirTensor *t = mir_trace_get (trace, (guint) layer);
    if (t != NULL && t->ndim == 2 && unit != NULL && !strchr (unit, ','))
      y = 0, x = 0;
  }
  if (!mir_unit_receptive_field (trace, (guint) layer, y, x, &field, &padded, &error))
    {
      mir_trace_free (trace);
      return mirada_cli_fail (error);
    }
  have_value = mir_unit_compute (trace, (guint) layer, y, x, c, &v, &value_error);
  in_shape = mir_model_get_input_shape (model, 0);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "layer");
      json_builder_add_string_value (b, layer_name);
      json_builder_set_member_name (b, "unit");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, y);
      json_builder_add_int_value (b, x);
      json_builder_add_int_value (b, c);
      json_builder_end_array (b);
      json_rect (b, "receptive_field", &field);
      json_rect (b, "window_with_padding", &padded);
      if (have_value)
        {
          json_builder_set_member_name (b, "kind");
          json_builder_add_string_value (b, v.kind);
          json_builder_set_member_name (b, "terms");
          json_builder_add_int_value (b, v.n_terms);
          json_builder_set_member_name (b, "sum");
          json_builder_add_double_value (b, v.sum);
          json_builder_set_member_name (b, "bias");
          json_builder_add_double_value (b, v.bias);
          json_builder_set_member_name (b, "pre_activation");
          json_builder_add_double_value (b, v.pre);
          json_builder_set_member_name (b, "activation");
          json_builder_add_string_value (b, v.activation);
          json_builder_set_member_name (b, "value");
          json_builder_add_double_value (b, v.value);
          json_builder_set_member_name (b, "engine_value");
          json_builder_add_double_value (b, v.engine);
        }
      else
        {
          json_builder_set_member_name (b, "value_error");
          json_builder_add_string_value (b, value_error->message);
        }
      json_builder_end_object (b);
      mirada_cli_json_print (b);
    }
  else
    {
      g_print (_("Unit (%" PRId64 ", %" PRId64 ", %" PRId64 ") of layer '%s'\n"), y, x, c, layer_name);
      g_print (_("Receptive field: rows %" PRId64 "–%" PRId64 ", columns %" PRId64 "–%" PRId64
                 " of the %" PRId64 "×%" PRId64 " input (%" PRId64 "×%" PRId64 " pixels)\n"),
               field.y0, field.y1 - 1, field.x0, field.x1 - 1, in_shape->dim[1], in_shape->dim[2],
               field.y1 - field.y0, field.x1 - field.x0);
      if (padded.y0 != field.y0 || padded.x0 != field.x0 || padded.y1 != field.y1 ||
          padded.x1 != field.x1)
        g_print (_("Its window reaches past the image (rows %" PRId64 "–%" PRId64 ", columns %"
                   PRId64 "–%" PRId64 "): that part is padding, zeros\n"),
                 padded.y0, padded.y1 - 1, padded.x0, padded.x1 - 1);
      if (have_value)
        {
          if (g_str_has_suffix (v.kind, "pool"))
            g_print (_("%s of %" PRId64 " input values = %.6g\n"),
                     g_str_equal (v.kind, "max-pool") ? _("Maximum") : _("Mean"), v.n_terms, v.sum);
          else
            g_print (_("Σ input × weight over %" PRId64 " terms = %.6g; + bias %.6g = %.6g; "
                       "%s → %.6g\n"),
                     v.n_terms, v.sum, v.bias, v.pre, v.activation, v.value);
          g_print (_("The engine's output: %.6g (difference %.2g)\n"), v.engine, fabs (v.value - v.engine));
        }
      else
        g_print ("%s\n", value_error->message);
    }

  if (out_path != NULL)
    {
      if (!(seen = mir_image_resize (image, (int) in_shape->dim[2], (int) in_shape->dim[1],
                                     model->meta.resize, &error)) ||
          !(picture = draw_field (seen, &field, &padded, &error)) ||
          !mirada_image_save_png (picture, out_path, &error))
        {
          mir_unit_value_clear (&v);
          mir_trace_free (trace);
          return mirada_cli_fail (error);
        }
    }
  mir_unit_value_clear (&v);
  mir_trace_free (trace);
  return 0;
}
