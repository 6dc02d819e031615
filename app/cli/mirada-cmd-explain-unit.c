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
#include "mirada-figure.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "mirada-unit-figure.h"

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

static void
json_pair (JsonBuilder *b, const char *name, gint64 a, gint64 c)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  json_builder_add_int_value (b, a);
  json_builder_add_int_value (b, c);
  json_builder_end_array (b);
}

/* "padding": what "same" and "valid" make of the layer's window (null for a
 * layer that slides none) */
static void
json_padding (JsonBuilder *b, const MiradaUnitExplanation *e)
{
  const MirPaddingSizes *p = &e->padding;

  json_builder_set_member_name (b, "padding");
  if (!e->have_padding)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, p->model);
  json_pair (b, "input", p->in_h, p->in_w);
  json_pair (b, "output", p->out_h, p->out_w);
  json_pair (b, "same", p->same_h, p->same_w);
  json_pair (b, "valid", p->valid_h, p->valid_w);
  json_builder_set_member_name (b, "same_pads");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, p->pad_top);
  json_builder_add_int_value (b, p->pad_bottom);
  json_builder_add_int_value (b, p->pad_left);
  json_builder_add_int_value (b, p->pad_right);
  json_builder_end_array (b);
  json_rect (b, "valid_units", &p->valid_units);
  json_rect (b, "valid_field", &e->valid_field);
  json_rect (b, "same_reach", &e->same_reach);
  json_builder_end_object (b);
}

int
mirada_cmd_explain_unit (int argc, char **argv)
{
  g_autofree char *layer_name = NULL, *unit = NULL, *out_path = NULL, *labels = NULL;
  g_autofree char *preprocess = NULL;
  gboolean json = FALSE, show_padding = FALSE;
  GOptionEntry entries[] = {
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("The layer (required)"), N_("NAME") },
    { "unit", 'u', 0, G_OPTION_ARG_STRING, &unit,
      N_("The unit: row,column,channel of a map, or the index of a Dense unit (default 0,0,0)"),
      N_("Y,X,C") },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path,
      N_("Write the input with the unit's receptive field drawn (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "show-padding", 0, 0, G_OPTION_ARG_NONE, &show_padding,
      N_("In the figure, darken the pixels no “valid” window reads and hatch the border “same” padding adds"),
      NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, N_("Class names, one per line"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"),
      N_("MODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  MiradaUnitExplanation e = { 0 };
  gint64 y = 0, x = 0, c = 0;
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
      (layer = mirada_cli_find_layer (model, layer_name, &error)) < 0)
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  if (!mirada_unit_explain_full (model, image, layer, y, x, c,
                                 show_padding ? MIRADA_UNIT_SHOW_PADDING : 0, NULL, &e, &error))
    return mirada_cli_fail (error);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      const MirUnitValue *v = &e.value;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "layer");
      json_builder_add_string_value (b, layer_name);
      json_builder_set_member_name (b, "unit");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, y);
      json_builder_add_int_value (b, x);
      json_builder_add_int_value (b, c);
      json_builder_end_array (b);
      json_rect (b, "receptive_field", &e.field);
      json_rect (b, "window_with_padding", &e.padded);
      json_padding (b, &e);
      if (e.have_value)
        {
          json_builder_set_member_name (b, "kind");
          json_builder_add_string_value (b, v->kind);
          json_builder_set_member_name (b, "terms");
          json_builder_add_int_value (b, v->n_terms);
          json_builder_set_member_name (b, "sum");
          json_builder_add_double_value (b, v->sum);
          json_builder_set_member_name (b, "bias");
          json_builder_add_double_value (b, v->bias);
          json_builder_set_member_name (b, "pre_activation");
          json_builder_add_double_value (b, v->pre);
          json_builder_set_member_name (b, "activation");
          json_builder_add_string_value (b, v->activation);
          json_builder_set_member_name (b, "value");
          json_builder_add_double_value (b, v->value);
          json_builder_set_member_name (b, "engine_value");
          json_builder_add_double_value (b, v->engine);
        }
      else
        {
          json_builder_set_member_name (b, "value_error");
          json_builder_add_string_value (b, e.why);
        }
      json_builder_end_object (b);
      mirada_cli_json_print (b);
    }
  else
    {
      g_autofree char *text = mirada_unit_explanation_describe (&e, layer_name, y, x, c);
      g_print ("%s", text);
    }

  if (out_path != NULL && !mirada_figure_save_image (out_path, e.figure, &error))
    {
      mirada_unit_explanation_clear (&e);
      return mirada_cli_fail (error);
    }
  mirada_unit_explanation_clear (&e);
  return 0;
}
