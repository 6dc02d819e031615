/* mirada-cmd-info.c: `mirada info MODEL`, a model.summary()-like table. */
#define G_LOG_DOMAIN "mirada-info"

#include "config.h"

#include <inttypes.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-cli-util.h"

typedef struct
{
  char *layer;     /* "name (Type)" */
  char *group;     /* nested model, or "" */
  char *shape;
  char *params;
  char *inbound;   /* "a, b" */
} Row;

static void
row_clear (Row *row)
{
  g_free (row->layer);
  g_free (row->group);
  g_free (row->shape);
  g_free (row->params);
  g_free (row->inbound);
}

static const char *
head_kind_name (MirHeadKind kind)
{
  switch (kind)
    {
    case MIR_HEAD_SOFTMAX:
      return "softmax";
    case MIR_HEAD_SIGMOID:
      return "sigmoid";
    case MIR_HEAD_LINEAR:
      return "linear";
    case MIR_HEAD_UNKNOWN:
    default:
      return "unknown";
    }
}

/* Parameters of @node's layer, counted at its first use only (shared layers). */
static gint64
node_params (GHashTable *seen, MirNode *node, gint64 *trainable)
{
  *trainable = 0;
  if (!g_hash_table_add (seen, node->layer))
    return 0;
  return mir_layer_count_params (node->layer, trainable);
}

/* Pads @s to @width display columns (UTF-8 aware, unlike printf's %-*s). */
static void
append_padded (GString *line, const char *s, gsize width)
{
  glong len = g_utf8_strlen (s, -1);

  g_string_append (line, s);
  for (glong i = len; i < (glong) width; i++)
    g_string_append_c (line, ' ');
}

static void
print_rule (gsize width, char c)
{
  g_autofree char *rule = g_strnfill (width, c);
  g_print ("%s\n", rule);
}

static void
print_table (MirModel *model, const char *path)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr(GArray) rows = g_array_new (FALSE, TRUE, sizeof (Row));
  const char *headers[5] = { N_("Layer (type)"), N_("In model"), N_("Output shape"), N_("Param #"),
                             N_("Connected to") };
  gsize widths[5];
  gboolean any_group = FALSE;
  gsize total_width = 0;
  gint64 total, trainable;
  guint n = mir_model_get_n_nodes (model);

  g_array_set_clear_func (rows, (GDestroyNotify) row_clear);
  for (guint c = 0; c < 5; c++)
    widths[c] = (gsize) g_utf8_strlen (_(headers[c]), -1);

  for (guint i = 0; i < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      GString *inbound = g_string_new (NULL);
      gint64 t;
      Row row;

      for (guint k = 0; k < node->n_inputs; k++)
        {
          if (k > 0)
            g_string_append (inbound, ", ");
          g_string_append (inbound, mir_model_get_node (model, node->inputs[k])->name);
        }
      row.layer = g_strdup_printf ("%s (%s)", node->name, node->layer->klass->name);
      row.group = g_strdup (node->group ? node->group : "");
      row.shape = mir_shape_to_string (&node->shape);
      row.params = g_strdup_printf ("%" G_GINT64_FORMAT, node_params (seen, node, &t));
      row.inbound = g_string_free (inbound, FALSE);
      any_group |= node->group != NULL;

      widths[0] = MAX (widths[0], (gsize) g_utf8_strlen (row.layer, -1));
      widths[1] = MAX (widths[1], (gsize) g_utf8_strlen (row.group, -1));
      widths[2] = MAX (widths[2], (gsize) g_utf8_strlen (row.shape, -1));
      widths[3] = MAX (widths[3], (gsize) g_utf8_strlen (row.params, -1));
      widths[4] = MAX (widths[4], (gsize) g_utf8_strlen (row.inbound, -1));
      g_array_append_val (rows, row);
    }
  for (guint c = 0; c < 5; c++)
    if (c != 1 || any_group)
      total_width += widths[c] + (c < 4 ? 2 : 0);

  g_print (_("Model: \"%s\""), model->name);
  g_print ("\n");
  print_rule (total_width, '_');
  {
    g_autoptr(GString) line = g_string_new (NULL);
    for (guint c = 0; c < 5; c++)
      if (c != 1 || any_group)
        {
          append_padded (line, _(headers[c]), c < 4 ? widths[c] + 2 : 0);
        }
    g_print ("%s\n", line->str);
  }
  print_rule (total_width, '=');
  for (guint i = 0; i < rows->len; i++)
    {
      Row *row = &g_array_index (rows, Row, i);
      g_autoptr(GString) line = g_string_new (NULL);

      append_padded (line, row->layer, widths[0] + 2);
      if (any_group)
        append_padded (line, row->group, widths[1] + 2);
      append_padded (line, row->shape, widths[2] + 2);
      /* Numbers right-aligned. */
      for (gsize k = g_utf8_strlen (row->params, -1); k < widths[3]; k++)
        g_string_append_c (line, ' ');
      g_string_append (line, row->params);
      g_string_append (line, "  ");
      g_string_append (line, row->inbound);
      g_print ("%s\n", g_strchomp (line->str));
    }
  print_rule (total_width, '=');

  total = mir_model_count_params (model, &trainable);
  g_print (_("Total params: %" PRId64 " (%.2f MB)\n"), total, total * 4.0 / 1e6);
  g_print (_("Trainable params: %" PRId64 "\n"), trainable);
  g_print (_("Non-trainable params: %" PRId64 "\n"), total - trainable);
  print_rule (total_width, '_');

  g_print (_("File: %s\n"), path);
  g_print (_("Format: %s\n"), model->format ? model->format : _("unknown"));
  if (model->keras_version)
    g_print (_("Keras version: %s\n"), model->keras_version);
  if (model->backend)
    g_print (_("Backend: %s\n"), model->backend);
  for (guint i = 0; i < model->inputs->len; i++)
    {
      g_autofree char *s = mir_shape_to_string (mir_model_get_input_shape (model, i));
      g_print (_("Input: %s %s\n"), mir_model_get_node (model, mir_model_get_input (model, i))->name,
               s);
    }
  for (guint i = 0; i < model->outputs->len; i++)
    {
      g_autofree char *s = mir_shape_to_string (mir_model_get_output_shape (model, i));
      g_print (_("Output: %s %s\n"),
               mir_model_get_node (model, mir_model_get_output (model, i))->name, s);
    }
  g_print (_("Output activation: %s\n"), head_kind_name (mir_model_get_head_kind (model)));
  g_print (_("Preprocessing: %s; resize: %s\n"),
           mir_preprocess_mode_to_string (model->meta.preprocess),
           model->meta.resize == MIR_RESIZE_BILINEAR ? "bilinear" : "nearest");
  if (model->meta.class_names)
    {
      g_autofree char *joined = g_strjoinv (", ", model->meta.class_names);
      g_autofree char *shown = mirada_cli_printable (joined);
      g_print (_("Classes (%u): %s\n"), g_strv_length (model->meta.class_names), shown);
    }
  if (model->meta.preprocess_from == MIR_PREPROCESS_FROM_UNKNOWN)
    g_print ("%s\n", _("Note: nothing in or beside the model says how its input is scaled; "
                       "'none' (0..255) is assumed"));
  if (model->meta.source)
    g_print (_("Metadata from: %s\n"), model->meta.source);
  if (model->weights_initialised && g_str_has_prefix (path, "arch:"))
    g_print ("%s\n", _("Warning: no weights file was given; the weights are random "
                       "(add weights=FILE or --weights FILE)"));
  else if (model->weights_initialised)
    g_print ("%s\n", _("Warning: some weights were missing from the file and were initialised "
                       "at random"));
}

static void
print_json (MirModel *model, const char *path)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  gint64 total, trainable;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, model->name);
  json_builder_set_member_name (b, "format");
  mirada_cli_json_add_string (b, model->format);
  json_builder_set_member_name (b, "keras_version");
  mirada_cli_json_add_string (b, model->keras_version);
  json_builder_set_member_name (b, "backend");
  mirada_cli_json_add_string (b, model->backend);

  for (guint io = 0; io < 2; io++)
    {
      GArray *list = io == 0 ? model->inputs : model->outputs;

      json_builder_set_member_name (b, io == 0 ? "inputs" : "outputs");
      json_builder_begin_array (b);
      for (guint i = 0; i < list->len; i++)
        {
          MirNode *node = mir_model_get_node (model, g_array_index (list, guint, i));

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, node->name);
          json_builder_set_member_name (b, "shape");
          mirada_cli_json_add_shape (b, &node->shape);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      gint64 t, p = node_params (seen, node, &t);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, node->name);
      json_builder_set_member_name (b, "layer");
      json_builder_add_string_value (b, node->layer->name);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, node->layer->klass->name);
      json_builder_set_member_name (b, "group");
      mirada_cli_json_add_string (b, node->group);
      json_builder_set_member_name (b, "output_shape");
      mirada_cli_json_add_shape (b, &node->shape);
      json_builder_set_member_name (b, "params");
      json_builder_add_int_value (b, p);
      json_builder_set_member_name (b, "trainable_params");
      json_builder_add_int_value (b, t);
      json_builder_set_member_name (b, "activation");
      json_builder_add_string_value (b, mir_activation_get_name (node->layer->activation));
      json_builder_set_member_name (b, "connected_to");
      json_builder_begin_array (b);
      for (guint k = 0; k < node->n_inputs; k++)
        json_builder_add_string_value (b, mir_model_get_node (model, node->inputs[k])->name);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  total = mir_model_count_params (model, &trainable);
  json_builder_set_member_name (b, "total_params");
  json_builder_add_int_value (b, total);
  json_builder_set_member_name (b, "trainable_params");
  json_builder_add_int_value (b, trainable);
  json_builder_set_member_name (b, "non_trainable_params");
  json_builder_add_int_value (b, total - trainable);
  json_builder_set_member_name (b, "output_activation");
  json_builder_add_string_value (b, head_kind_name (mir_model_get_head_kind (model)));
  json_builder_set_member_name (b, "preprocess");
  json_builder_add_string_value (b, mir_preprocess_mode_to_string (model->meta.preprocess));
  json_builder_set_member_name (b, "preprocess_from");
  json_builder_add_string_value (b, mir_preprocess_origin_to_string (model->meta.preprocess_from));
  json_builder_set_member_name (b, "resize");
  json_builder_add_string_value (b, model->meta.resize == MIR_RESIZE_BILINEAR ? "bilinear"
                                                                                : "nearest");
  json_builder_set_member_name (b, "class_names");
  if (model->meta.class_names)
    {
      json_builder_begin_array (b);
      for (guint i = 0; model->meta.class_names[i]; i++)
        json_builder_add_string_value (b, model->meta.class_names[i]);
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "metadata_source");
  mirada_cli_json_add_string (b, model->meta.source);
  json_builder_set_member_name (b, "weights_initialised");
  json_builder_add_boolean_value (b, model->weights_initialised);
  json_builder_end_object (b);

  mirada_cli_json_print (b);
}

int
mirada_cmd_info (int argc, char **argv)
{
  gboolean json = FALSE;
  gboolean no_top = FALSE;
  char *labels = NULL;
  char *arch = NULL;
  char *weights = NULL;
  int size = 0;
  double alpha = 1.0;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON instead of a table"), NULL },
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &labels,
      N_("Class names, one per line (overrides the sidecar)"), N_("FILE") },
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch,
      N_("A built-in Keras application instead of a model file: vgg16, resnet50, mobilenetv2, "
         "xception, efficientnetb0 (every command accepts the model path arch:NAME)"),
      N_("NAME") },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights,
      N_("With --arch: a Keras weights .h5 file (without it the weights are random)"),
      N_("FILE") },
    { "no-top", 0, 0, G_OPTION_ARG_NONE, &no_top, N_("With --arch: leave out the classifier"),
      NULL },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, N_("With --arch: input height and width"), N_("N") },
    { "alpha", 0, 0, G_OPTION_ARG_DOUBLE, &alpha, N_("With --arch mobilenetv2: width multiplier"),
      N_("A") },
    { NULL }
  };
  g_autofree char *arch_owned = NULL;
  g_autofree char *weights_owned = NULL;
  g_autofree char *spec = NULL;
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autofree char *labels_owned = NULL;
  int ret;

  g_option_context_set_summary (context, _("Show a model's layers, output shapes and parameters, "
                                           "like Keras' model.summary()."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "info", &argc, &argv);
  labels_owned = labels;
  arch_owned = arch;
  weights_owned = weights;
  if (ret >= 0)
    return ret;
  if ((ret = mirada_cli_check_range ("info", "--size", size, 0, MIR_IMAGE_MAX_SIDE)) >= 0)
    return ret;
  if (arch != NULL)
    {
      g_autoptr(GString) sp = g_string_new ("arch:");

      if (argc != 1)
        return mirada_cli_usage_error ("info", _("Give either a model file or --arch"));
      g_string_append (sp, arch);
      if (no_top)
        g_string_append (sp, ",notop");
      if (size > 0)
        g_string_append_printf (sp, ",size=%d", size);
      if (alpha != 1.0)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          g_string_append_printf (sp, ",alpha=%s", g_ascii_dtostr (buf, sizeof buf, alpha));
        }
      if (weights != NULL)
        g_string_append_printf (sp, ",weights=%s", weights);
      spec = g_string_free (g_steal_pointer (&sp), FALSE);
    }
  else if (weights != NULL || no_top || size > 0 || alpha != 1.0)
    return mirada_cli_usage_error ("info", _("--weights, --no-top, --size and --alpha go with "
                                             "--arch"));
  else if (argc != 2)
    return mirada_cli_usage_error ("info", argc < 2 ? _("Give a model file")
                                                    : _("Give one model file"));
  else
    spec = g_strdup (argv[1]);

  model = mirada_model_open (spec, labels, NULL, NULL, &error);
  if (model == NULL)
    return mirada_cli_fail (error);
  if (json)
    print_json (model, spec);
  else
    print_table (model, spec);
  return 0;
}
