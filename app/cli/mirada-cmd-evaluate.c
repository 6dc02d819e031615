/* mirada evaluate: accuracy, per-class precision and recall, a confusion
 * matrix (CSV, PNG) and a grid of the most confidently wrong examples, as
 * the CIFAR-10 notebook (seed 004) does by hand. */
#define G_LOG_DOMAIN "mirada-cmd-evaluate"

#include "config.h"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-figure.h"
#include "mir-scene.h"
#include "mirada-cli-util.h"
#include "train/mir-trainer.h"

#define WRONG_COLS 8
#define WRONG_ROWS 4

typedef struct
{
  gint64 index;
  guint truth;
  guint predicted;
  float confidence;
} Wrong;

static int
compare_wrong (gconstpointer a, gconstpointer b)
{
  const Wrong *x = a, *y = b;
  return (x->confidence < y->confidence) - (x->confidence > y->confidence);
}

static gboolean
decode_image (const char *path, gint64 height, gint64 width, gint64 channels, guint8 *pixels,
              gpointer user_data, GError **error)
{
  MirModel *model = user_data;

  return mirada_dataset_image_decode (path, height, width, channels, model->meta.resize,
                                          pixels, error);
}

/* Output index of each dataset class: by name when the model knows its
 * class names, else in order. */
static gboolean
map_classes (MirModel *model, MirDataset *data, guint n_outputs, guint *map, GError **error)
{
  for (guint c = 0; c < data->n_classes; c++)
    {
      map[c] = c;
      if (model->meta.class_names != NULL)
        {
          gboolean found = FALSE;
          for (guint k = 0; model->meta.class_names[k] && !found; k++)
            if (g_strcmp0 (model->meta.class_names[k], data->class_names[c]) == 0)
              {
                map[c] = k;
                found = TRUE;
              }
          if (!found)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                           _("The dataset's class '%s' is not one of the model's classes"),
                           data->class_names[c]);
              return FALSE;
            }
        }
      if (map[c] >= n_outputs)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("The dataset has %u classes but the model only %u outputs"),
                       data->n_classes, n_outputs);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
write_csv (const char *path, MirModel *model, const guint64 *conf, guint K, GError **error)
{
  g_autoptr(MiradaCsv) csv = mirada_csv_new ();

  mirada_csv_add_string (csv, "true\\predicted");
  for (guint j = 0; j < K; j++)
    {
      g_autofree char *name = mir_model_dup_class_name (model, j);
      mirada_csv_add_string (csv, name);
    }
  mirada_csv_end_row (csv);
  for (guint i = 0; i < K; i++)
    {
      g_autofree char *name = mir_model_dup_class_name (model, i);
      mirada_csv_add_string (csv, name);
      for (guint j = 0; j < K; j++)
        mirada_csv_add_int (csv, (gint64) conf[i * K + j]);
      mirada_csv_end_row (csv);
    }
  return mirada_csv_save (csv, path, error);
}

/* The confusion matrix as a figure (PNG, SVG or PDF by the extension): a
 * title naming the model and the data, the accuracy, the class names on both
 * axes and the count in every cell (mirada_figure_confusion). */
static gboolean
write_confusion_figure (const char *path, MirModel *model, const char *model_path,
                        const char *data_name, const guint64 *conf, guint K, guint64 right,
                        gint64 total, GError **error)
{
  g_autofree char *model_base = g_filename_display_basename (model_path);
  g_autofree char *data_base = g_filename_display_basename (data_name);
  /* TRANSLATORS: the confusion matrix's title: model file, dataset */
  g_autofree char *title = g_strdup_printf (_("Confusion matrix: %s on %s"), model_base, data_base);
  g_autofree char *subtitle = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  for (guint k = 0; k < K; k++)
    g_ptr_array_add (names, mir_model_dup_class_name (model, k));
  g_ptr_array_add (names, NULL);
  /* TRANSLATORS: under the confusion matrix's title */
  subtitle = g_strdup_printf (_("accuracy %.1f %% (%" PRIu64 " of %" PRId64
                                "); rows: the true class, colour: the row's share"),
                              100.0 * (double) right / (double) MAX (total, 1), right, total);
  return mirada_figure_confusion (path, title, subtitle, conf, K,
                                  (const char *const *) names->pdata, error);
}

/* The most confidently wrong examples, each captioned "true → predicted (p)". */
static gboolean
write_wrong_grid (const char *path, MirModel *model, MirDataset *data, const Wrong *wrong,
                  guint n_wrong, GError **error)
{
  guint n = MIN (n_wrong, WRONG_COLS * WRONG_ROWS);
  g_autoptr(GPtrArray) tiles = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);

  if (n == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Every example was classified right: there is nothing to draw in “%s”"),
                   path);
      return FALSE;
    }
  for (guint k = 0; k < n; k++)
    {
      const guint8 *src = mir_dataset_get_image (data, wrong[k].index);
      g_autofree char *tn = mir_model_dup_class_name (model, wrong[k].truth);
      g_autofree char *pn = mir_model_dup_class_name (model, wrong[k].predicted);
      MirImage *tile = mir_image_new ((int) data->width, (int) data->height, 3, error);

      if (tile == NULL)
        return FALSE;
      for (gint64 y = 0; y < data->height; y++)
        for (gint64 x = 0; x < data->width; x++)
          {
            const guint8 *s = src + (y * data->width + x) * data->channels;
            guint8 *d = tile->pixels + (gsize) y * tile->rowstride + (gsize) x * 3;
            for (int c = 0; c < 3; c++)
              d[c] = s[data->channels == 3 ? c : 0];
          }
      g_ptr_array_add (tiles, tile);
      /* TRANSLATORS: caption of a wrongly classified example, two lines:
       * the true class, then → the predicted class (its probability) */
      g_ptr_array_add (captions, g_strdup_printf (_("%s\n→ %s (%.2f)"), tn, pn, wrong[k].confidence));
    }
  return mirada_figure_tiles (path, _("Most confidently wrong: true class → predicted"),
                              (MirImage *const *) tiles->pdata,
                              (const char *const *) captions->pdata, n, WRONG_COLS,
                              MAX (1.0, 112.0 / MAX (data->width, data->height)), FALSE, error);
}

int
mirada_cmd_evaluate (int argc, char **argv)
{
  g_autofree char *csv = NULL;
  g_autofree char *png = NULL;
  g_autofree char *wrong_png = NULL;
  g_autofree char *labels = NULL;
  g_autofree char *preprocess = NULL;
  int batch = 64, background = 0;
  GOptionEntry entries[] = {
    { "background", 0, 0, G_OPTION_ARG_INT, &background, N_("Add N generated \"background\" samples (blank, noise, items cut off by the frame) to measure that class"), "N" },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv, N_("Write the confusion matrix as CSV"), N_("FILE") },
    { "png", 0, 0, G_OPTION_ARG_FILENAME, &png, N_("Draw the confusion matrix with class names and counts (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "wrong", 0, 0, G_OPTION_ARG_FILENAME, &wrong_png, N_("Draw the most confidently wrong examples, captioned (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, N_("Class names, one per line"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("Override the model's preprocessing"), N_("MODE") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Batch size (default 64)"), "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL fashion-mnist|DIR|CIFAR|IDX-DIR"));
  g_autoptr(GError) error = NULL;
  int ret;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirDataset) data = NULL;
  g_autoptr(MirTensor) probs = NULL;
  g_autofree guint64 *conf = NULL;
  g_autofree guint *map = NULL;
  g_autoptr(GArray) wrong = g_array_new (FALSE, FALSE, sizeof (Wrong));
  const MirShape *in, *out;
  guint K, P;
  guint64 right = 0;

  g_option_context_set_summary (context, _("Measure a classifier on a labelled dataset."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "evaluate", &argc, &argv);
  if (ret >= 0)
    return ret;
  if (argc != 3)
    return mirada_cli_usage_error ("evaluate", _("expected a model and a dataset"));
  {
    const char *const outputs[] = { csv, png, wrong_png };
    int out_ret = mirada_cli_check_outputs ("evaluate", FALSE, outputs, G_N_ELEMENTS (outputs));
    if (out_ret >= 0)
      return out_ret;
  }
  if (batch < 1)
    return mirada_cli_usage_error ("evaluate", _("--batch must be at least 1"));
  if ((ret = mirada_cli_check_range ("evaluate", "--batch", batch, 1, 4096)) >= 0)
    return ret;

  if (!(model = mirada_model_open (argv[1], labels, preprocess, NULL, &error)))
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  in = mir_model_get_input_shape (model, 0);
  out = mir_model_get_output_shape (model, 0);
  if (in->ndim != 4 || in->dim[1] <= 0 || in->dim[2] <= 0)
    {
      g_set_error (&error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The model must take one image input of fixed size"));
      return mirada_cli_fail (error);
    }
  /* The test part of a dataset in a fixed format: CIFAR's test batch, the
   * IDX folder's t10k files. */
  if (g_strcmp0 (argv[2], "fashion-mnist") == 0)
    data = mir_dataset_load_fashion_mnist (NULL, FALSE, &error);
  else if (mir_dataset_detect_format (argv[2]) == MIR_DATASET_FORMAT_CIFAR)
    data = mir_dataset_load_cifar (argv[2], FALSE, &error);
  else if (mir_dataset_detect_format (argv[2]) == MIR_DATASET_FORMAT_IDX)
    data = mir_dataset_load_idx_folder (argv[2], FALSE, &error);
  else
    data = mir_dataset_load_directory (argv[2], in->dim[1], in->dim[2], in->dim[3], decode_image,
                                       model, NULL, &error);
  if (data == NULL)
    return mirada_cli_fail (error);
  if (data->height != in->dim[1] || data->width != in->dim[2] || data->channels != in->dim[3])
    {
      g_set_error (&error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The images of '%s' are %" PRId64 "×%" PRId64 "×%" PRId64
                     " but the model takes %" PRId64 "×%" PRId64 "×%" PRId64),
                   argv[2], data->height, data->width, data->channels, in->dim[1],
                   in->dim[2], in->dim[3]);
      return mirada_cli_fail (error);
    }
  if (background < 0 || background > 1000000)
    return mirada_cli_usage_error ("evaluate", _("--background must be between 0 and 1000000"));
  if (background > 0)
    {
      /* from this dataset's own items (the test split), another seed than training's */
      MirDataset *with = mir_scene_add_background (data, background, 0, 4242, &error);
      if (with == NULL)
        return mirada_cli_fail (error);
      mir_dataset_unref (data);
      data = with;
    }

  P = (guint) out->dim[out->ndim - 1];
  K = MAX (P, 2); /* one sigmoid output: two classes */
  map = g_new (guint, data->n_classes);
  if (!map_classes (model, data, K, map, &error))
    return mirada_cli_fail (error);
  /* A model without class names shows the dataset's (same order). */
  if (model->meta.class_names == NULL)
    {
      model->meta.class_names = g_new0 (char *, K + 1);
      for (guint k = 0; k < K; k++)
        model->meta.class_names[k] = k < data->n_classes ? g_strdup (data->class_names[k])
                                                          : g_strdup_printf ("class %u", k);
    }
  if (!(probs = mir_predict_dataset (model, data, model->meta.preprocess, (guint) batch, NULL,
                                     &error)))
    return mirada_cli_fail (error);

  conf = g_new0 (guint64, (gsize) K * K);
  for (gint64 n = 0; n < data->n; n++)
    {
      const float *p = probs->data + n * P;
      guint truth = map[data->labels[n]], pred = 0;
      float best;

      if (P == 1)
        {
          pred = p[0] > 0.5f;
          best = pred ? p[0] : 1 - p[0];
        }
      else
        {
          best = p[0];
          for (guint k = 1; k < P; k++)
            if (p[k] > best)
              {
                best = p[k];
                pred = k;
              }
        }
      conf[truth * K + pred]++;
      if (pred == truth)
        right++;
      else
        {
          Wrong w = { n, truth, pred, best };
          g_array_append_val (wrong, w);
        }
    }

  g_print (_("Accuracy: %.4f (%" PRIu64 " of %" PRId64 ")\n"),
           (double) right / (double) MAX (data->n, 1), right, data->n);
  g_print ("%-20s %9s %9s %8s\n", _("class"), _("precision"), _("recall"), _("support"));
  for (guint k = 0; k < K; k++)
    {
      guint64 tp = conf[k * K + k], row = 0, col = 0;
      g_autofree char *name = mir_model_dup_class_name (model, k);
      for (guint j = 0; j < K; j++)
        {
          row += conf[k * K + j];
          col += conf[j * K + k];
        }
      if (row == 0 && col == 0)
        continue;
      g_autofree char *shown = mirada_cli_printable_padded (name, 20);
      g_print ("%s %9.4f %9.4f %8" G_GUINT64_FORMAT "\n", shown,
               col ? (double) tp / (double) col : 0.0, row ? (double) tp / (double) row : 0.0, row);
    }

  g_array_sort (wrong, compare_wrong);
  if (wrong_png != NULL)
    {
      guint n = MIN (wrong->len, WRONG_COLS * WRONG_ROWS);
      if (!write_wrong_grid (wrong_png, model, data, (const Wrong *) (gpointer) wrong->data,
                             wrong->len, &error))
        return mirada_cli_fail (error);
      g_print (_("Most confidently wrong (left to right, top to bottom), in %s:\n"), wrong_png);
      for (guint k = 0; k < n; k++)
        {
          Wrong *w = &g_array_index (wrong, Wrong, k);
          g_autofree char *tn = mir_model_dup_class_name (model, w->truth);
          g_autofree char *pn = mir_model_dup_class_name (model, w->predicted);
          g_autofree char *t = mirada_cli_printable (tn);
          g_autofree char *p = mirada_cli_printable (pn);
          g_print (_("  %2u: image %" PRId64 ", true %s, predicted %s (%.3f)\n"),
                   k + 1, w->index, t, p, w->confidence);
        }
    }
  if (csv != NULL && !write_csv (csv, model, conf, K, &error))
    return mirada_cli_fail (error);
  if (png != NULL &&
      !write_confusion_figure (png, model, argv[1], argv[2], conf, K, right, data->n, &error))
    return mirada_cli_fail (error);
  return 0;
}
