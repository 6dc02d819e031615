/* mirada-cmd-predict.c: `mirada predict MODEL IMAGE...`, the top classes of
 * each image, all images in one batch. */
#define G_LOG_DOMAIN "mirada-predict"

#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mir-mask.h"
#include "mirada-cli-util.h"
#include "mir-sidecar.h"

typedef struct
{
  guint index;
  float value;
} Score;

static int
compare_scores (gconstpointer a, gconstpointer b)
{
  const Score *x = a, *y = b;

  if (x->value != y->value)
    return x->value < y->value ? 1 : -1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* The scores of one sample, best first: for a single sigmoid unit P
 * (@binary, mir_model_is_binary_sigmoid), two classes (1: P, 0: 1 - P), as
 * Keras' binary models mean it. */
static GArray *
sample_scores (const float *row, gint64 units, gboolean binary)
{
  GArray *scores = g_array_new (FALSE, FALSE, sizeof (Score));

  if (binary)
    {
      Score one = { 1, row[0] }, zero = { 0, 1.0f - row[0] };
      g_array_append_val (scores, one);
      g_array_append_val (scores, zero);
    }
  else
    for (gint64 i = 0; i < units; i++)
      {
        Score s = { (guint) i, row[i] };
        g_array_append_val (scores, s);
      }
  g_array_sort (scores, compare_scores);
  return scores;
}

static int
compare_paths (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Runs the model on all @images at once when they give same-sized inputs,
 * else one by one; returns one output row per image (N×units). */
static MirTensor *
run_batch (MirModel *model, GPtrArray *inputs, GError **error)
{
  MirTensor *first = inputs->pdata[0];
  gboolean same = TRUE;
  g_autoptr(MirTensor) out = NULL;
  gint64 units = -1;

  for (guint i = 1; i < inputs->len; i++)
    same &= mir_tensor_same_shape (first, inputs->pdata[i]);

  if (same)
    {
      gint64 shape[MIR_MAX_DIMS];
      g_autoptr(MirTensor) batch = NULL;
      gsize per = first->numel;

      memcpy (shape, first->shape, sizeof shape);
      shape[0] = inputs->len;
      batch = mir_tensor_new (first->ndim, shape, error);
      if (batch == NULL)
        return NULL;
      for (guint i = 0; i < inputs->len; i++)
        memcpy (batch->data + i * per, ((MirTensor *) inputs->pdata[i])->data,
                per * sizeof (float));
      return mir_model_predict (model, batch, NULL, error);
    }

  for (guint i = 0; i < inputs->len; i++)
    {
      g_autoptr(MirTensor) one = mir_model_predict (model, inputs->pdata[i], NULL, error);

      if (one == NULL)
        return NULL;
      if (out == NULL)
        {
          units = (gint64) one->numel;
          out = mir_tensor_new_2d (inputs->len, units, error);
          if (out == NULL)
            return NULL;
        }
      memcpy (out->data + i * units, one->data, (gsize) units * sizeof (float));
    }
  return g_steal_pointer (&out);
}

/* Images given in one batch at most (bounds memory on big folders). */
#define PREDICT_CHUNK 32

/* The files to classify: each argument as given, a folder's regular files
 * (not recursive, hidden ones skipped) sorted by name.  A folder that cannot
 * be read is reported and counted in @n_failed. */
static GPtrArray *
expand_inputs (char **args, int n_args, guint *n_failed)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);

  for (int i = 0; i < n_args; i++)
    {
      g_autoptr(GDir) dir = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) names = NULL;
      const char *name;

      if (!g_file_test (args[i], G_FILE_TEST_IS_DIR))
        {
          g_ptr_array_add (files, g_strdup (args[i]));
          continue;
        }
      if (!(dir = g_dir_open (args[i], 0, &error)))
        {
          g_autofree char *display = g_filename_display_name (args[i]);
          g_printerr ("mirada: %s: %s\n", display, error->message);
          (*n_failed)++;
          continue;
        }
      names = g_ptr_array_new_with_free_func (g_free);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = NULL;

          if (name[0] == '.')
            continue;
          path = g_build_filename (args[i], name, NULL);
          if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add (names, g_steal_pointer (&path));
        }
      g_ptr_array_sort_with_data (names, (GCompareDataFunc) compare_paths, NULL);
      if (names->len == 0)
        {
          g_autofree char *display = g_filename_display_name (args[i]);
          g_printerr ("mirada: %s: %s\n", display, _("the folder holds no files"));
          (*n_failed)++;
        }
      for (guint k = 0; k < names->len; k++)
        g_ptr_array_add (files, g_steal_pointer (&names->pdata[k]));
    }
  return files;
}

/* "mirada: FILE: why" on stderr, and the same in the JSON "errors" list. */
static void
report_failure (const char *path, const char *message, JsonBuilder *errors)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *line = g_strdup (message);

  g_strdelimit (line, "\r\n", ' ');
  g_printerr ("mirada: %s: %s\n", display, line);
  if (errors != NULL)
    {
      json_builder_begin_object (errors);
      json_builder_set_member_name (errors, "image");
      json_builder_add_string_value (errors, path);
      json_builder_set_member_name (errors, "error");
      json_builder_add_string_value (errors, message);
      json_builder_end_object (errors);
    }
}

int
mirada_cmd_predict (int argc, char **argv)
{
  int top = 5;
  gboolean json = FALSE, csv = FALSE;
  char *labels = NULL, *preprocess = NULL, *resize = NULL, *mask_path = NULL, *fill_name = NULL;
  const GOptionEntry entries[] = {
    { "top", 'k', 0, G_OPTION_ARG_INT, &top, N_("Show the K best classes (default 5)"), "K" },
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &labels,
      N_("Class names, one per line (overrides the sidecar)"), N_("FILE") },
    { "preprocess", 'p', 0, G_OPTION_ARG_STRING, &preprocess,
      N_("How pixels become inputs: none, scale, tf, caffe or torch"), N_("MODE") },
    { "resize", 'r', 0, G_OPTION_ARG_STRING, &resize,
      N_("How images are resized to the model's input: nearest or bilinear"), N_("MODE") },
    { "mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path,
      N_("Hide part of every image first: where this picture (stretched over the image) is "
         "white, the pixels are replaced by --fill; to test what an explanation claims"),
      N_("FILE") },
    { "fill", 0, 0, G_OPTION_ARG_STRING, &fill_name,
      N_("With --mask: grey (default), blur or noise"), N_("KIND") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      N_("Print JSON (unreadable images in an \"errors\" list)"), NULL },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv,
      N_("Print CSV: a header line, then per image the file and the K best classes as "
         "class_1,probability_1,…,class_K,probability_K (score_N for linear outputs)"), NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL IMAGE|FOLDER…"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GPtrArray) files = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonBuilder) errors = NULL;
  g_autoptr(MiradaCsv) table = NULL;
  g_autofree char *labels_owned = NULL, *preprocess_owned = NULL, *resize_owned = NULL;
  g_autofree char *mask_owned = NULL, *fill_owned = NULL;
  g_autoptr(MirImage) mask = NULL;
  MirMaskFill fill = MIR_MASK_FILL_GREY;
  MirPreprocessMode mode;
  MirHeadKind head;
  gboolean binary;
  gint64 units;
  guint n_failed = 0, n_done = 0, shown_max;
  const char *what;
  int ret;

  g_option_context_set_summary (context, _("Classify images with a model and show the most "
                                           "likely classes of each.  A folder stands for the "
                                           "files in it (sorted by name, not its subfolders); "
                                           "an image that cannot be read is reported on stderr "
                                           "and the others are still classified (exit code 2)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "predict", &argc, &argv);
  labels_owned = labels;
  preprocess_owned = preprocess;
  resize_owned = resize;
  mask_owned = mask_path;
  fill_owned = fill_name;
  if (ret >= 0)
    return ret;
  if (fill_name && !mask_path)
    return mirada_cli_usage_error ("predict", _("--fill goes with --mask"));
  if (fill_name && !mir_mask_fill_from_name (fill_name, &fill, &error))
    return mirada_cli_usage_error ("predict", error->message);
  if (mask_path && !(mask = mirada_image_load (mask_path, &error)))
    return mirada_cli_fail (error);

  if (argc < 3)
    return mirada_cli_usage_error ("predict", argc < 2 ? _("Give a model file and images")
                                                       : _("Give at least one image"));
  if (top < 1)
    return mirada_cli_usage_error ("predict", _("--top must be at least 1"));
  if ((ret = mirada_cli_check_range ("predict", "--top", top, 1, MIR_MAX_CLASS_NAMES)) >= 0)
    return ret;
  if (json && csv)
    return mirada_cli_usage_error ("predict", _("Choose one of --json and --csv"));
  if (preprocess && !mir_preprocess_mode_from_string (preprocess, &mode, &error))
    return mirada_cli_usage_error ("predict", error->message);
  if (resize && g_ascii_strcasecmp (resize, "nearest") != 0 &&
      g_ascii_strcasecmp (resize, "bilinear") != 0)
    return mirada_cli_usage_error ("predict", _("--resize must be nearest or bilinear"));

  model = mirada_model_open (argv[1], labels, preprocess, resize, &error);
  if (model == NULL)
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  units = mirada_cli_output_units (model);
  if (units < 1)
    {
      g_autofree char *s = mir_shape_to_string (mir_model_get_output_shape (model, 0));
      g_set_error (&error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("predict shows class scores, but the model's output has shape %s"), s);
      return mirada_cli_fail (error);
    }
  head = mir_model_get_head_kind (model);
  what = head == MIR_HEAD_LINEAR ? "score" : "probability";
  binary = mir_model_is_binary_sigmoid (model);
  shown_max = MIN ((guint) top, binary ? 2u : (guint) units);

  if (json)
    {
      builder = json_builder_new ();
      errors = json_builder_new ();
      json_builder_begin_array (errors);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "model");
      json_builder_add_string_value (builder, argv[1]);
      json_builder_set_member_name (builder, "output_activation");
      json_builder_add_string_value (builder, head == MIR_HEAD_SOFTMAX   ? "softmax"
                                              : head == MIR_HEAD_SIGMOID ? "sigmoid"
                                                                         : "linear");
      json_builder_set_member_name (builder, "preprocess");
      json_builder_add_string_value (builder,
                                     mir_preprocess_mode_to_string (model->meta.preprocess));
      json_builder_set_member_name (builder, "images");
      json_builder_begin_array (builder);
    }
  if (csv)
    {
      table = mirada_csv_new ();
      mirada_csv_add_string (table, "file");
      for (guint k = 1; k <= shown_max; k++)
        {
          g_autofree char *c = g_strdup_printf ("class_%u", k);
          g_autofree char *p = g_strdup_printf ("%s_%u", what, k);
          mirada_csv_add_string (table, c);
          mirada_csv_add_string (table, p);
        }
      mirada_csv_end_row (table);
    }

  files = expand_inputs (argv + 2, argc - 2, &n_failed);
  for (guint start = 0; start < files->len; start += PREDICT_CHUNK)
    {
      guint end = MIN (files->len, start + PREDICT_CHUNK);
      g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_tensor_unref);
      g_autoptr(GPtrArray) names = g_ptr_array_new ();
      g_autoptr(MirTensor) out = NULL;

      /* Decode this chunk; a bad file is reported and left out. */
      for (guint i = start; i < end; i++)
        {
          const char *path = files->pdata[i];
          g_autoptr(GError) local = NULL;
          g_autoptr(MirImage) image = mirada_image_load (path, &local);
          MirTensor *t;

          /* --mask: the hidden part replaced before anything else */
          if (image && mask)
            {
              MirImage *masked = mir_mask_apply (image, mask, fill, 1, &local);
              g_clear_pointer (&image, mir_image_unref);
              image = masked;
            }
          t = image ? mir_image_prepare (image, model, &local) : NULL;

          if (t == NULL)
            {
              report_failure (path, local->message, errors);
              n_failed++;
              continue;
            }
          g_ptr_array_add (inputs, t);
          g_ptr_array_add (names, (gpointer) path);
        }
      if (inputs->len == 0)
        continue;

      out = run_batch (model, inputs, &error);
      if (out == NULL)
        return mirada_cli_fail (error);
      if (out->numel != (gsize) units * inputs->len)
        {
          g_autofree char *s = mir_tensor_shape_string (out);
          g_set_error (&error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("The model gave an output of shape %s for %u images"), s, inputs->len);
          return mirada_cli_fail (error);
        }

      for (guint n = 0; n < inputs->len; n++)
        {
          const float *row = out->data + n * units;
          const char *path = names->pdata[n];
          g_autoptr(GArray) scores = NULL;
          gboolean finite = TRUE;
          guint shown;

          for (gint64 u = 0; u < units; u++)
            finite &= isfinite (row[u]) != 0;
          if (!finite)
            {
              report_failure (path, _("The model's output is not a finite number (NaN or "
                                      "infinity); check the preprocessing mode"), errors);
              n_failed++;
              continue;
            }
          scores = sample_scores (row, units, binary);
          shown = MIN ((guint) top, scores->len);
          n_done++;

          if (json)
            {
              json_builder_begin_object (builder);
              json_builder_set_member_name (builder, "image");
              json_builder_add_string_value (builder, path);
              json_builder_set_member_name (builder, "predictions");
              json_builder_begin_array (builder);
            }
          else if (csv)
            mirada_csv_add_string (table, path);
          else
            g_print ("%s\n", path);

          for (guint k = 0; k < shown; k++)
            {
              Score *s = &g_array_index (scores, Score, k);
              g_autofree char *name = mir_model_dup_class_name (model, s->index);

              if (json)
                {
                  json_builder_begin_object (builder);
                  json_builder_set_member_name (builder, "class");
                  json_builder_add_int_value (builder, s->index);
                  json_builder_set_member_name (builder, "label");
                  json_builder_add_string_value (builder, name);
                  json_builder_set_member_name (builder, what);
                  json_builder_add_double_value (builder, s->value);
                  json_builder_end_object (builder);
                }
              else if (csv)
                {
                  mirada_csv_add_string (table, name);
                  mirada_csv_add_double (table, s->value, "%.9g");
                }
              else
                {
                  g_autofree char *printable = mirada_cli_printable_padded (name, 24);

                  if (head == MIR_HEAD_LINEAR)
                    g_print ("  %2u. %s %10.4f\n", k + 1, printable, s->value);
                  else
                    g_print ("  %2u. %s %8.4f  (%5.1f%%)\n", k + 1, printable, s->value,
                             100.0 * s->value);
                }
            }
          if (json)
            {
              json_builder_end_array (builder);
              json_builder_end_object (builder);
            }
          else if (csv)
            mirada_csv_end_row (table);
        }
      if (csv)
        {
          /* Rows so far, so a long run shows progress. */
          if (!mirada_csv_save (table, "-", &error))
            return mirada_cli_fail (error);
          mirada_csv_free (table);
          table = mirada_csv_new ();
        }
    }
  if (csv && !mirada_csv_save (table, "-", &error))
    return mirada_cli_fail (error);

  if (json)
    {
      g_autoptr(JsonNode) list = NULL;

      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "errors");
      json_builder_end_array (errors);
      list = json_builder_get_root (errors);
      json_builder_add_value (builder, g_steal_pointer (&list));
      json_builder_end_object (builder);
      mirada_cli_json_print (builder);
    }
  return n_failed > 0 ? 2 : 0;
}
