/* mirada train: train a CNN on Fashion-MNIST or a folder-per-class image
 * tree and save it as a Keras 2 .h5 file (with a .mirada.json sidecar for
 * the class names and preprocessing).  Ctrl-C stops after the current
 * batch and saves the weights of the last finished epoch. */
#define G_LOG_DOMAIN "mirada-cmd-train"

#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <inttypes.h>
#include <glib/gi18n.h>
#include <glib-unix.h>

#include "mirada-cli.h"
#include "mirada-cli-util.h"
#include "mirada-train-history.h"
#include "mirada-train-setup.h"
#include "mir-applications.h"
#include "mir-model-load.h"
#include <string.h>
#include "mir-file.h"
#include "mir-keras.h"
#include "mir-keras-writer.h"
#include "mir-sidecar.h"
#include "train/mir-trainer.h"
#include "mir-scene.h"

#define BACKGROUND_CLASS "background"

/* Samples of the "background" class (the extra output of the default
 * architecture), so that sliding-window detection can say "nothing here":
 * as many as one real class has (N / classes), a third blank canvas, a third
 * noise at the scene's background level, a third training items cut off by
 * the frame (engine/data/mir-scene.c). */
static gboolean
add_background_samples (MirDataset **dataset, guint background_label, guint64 seed,
                        GError **error)
{
  MirDataset *d = *dataset;
  MirDataset *with;

  g_return_val_if_fail (background_label + 1 == d->n_classes, FALSE);
  with = mir_scene_add_background (d, d->n / MAX (d->n_classes - 1, 1), 0, (guint32) seed, error);
  if (with == NULL)
    return FALSE;
  mir_dataset_unref (d);
  *dataset = with;
  return TRUE;
}

/* Decodes with GdkPixbuf (mirada_image_load), resizes like Keras' load_img
 * (nearest) and converts to the requested channels (PIL's "L" luma). */
static gboolean
decode_image (const char *path, gint64 height, gint64 width, gint64 channels, guint8 *pixels,
              gpointer user_data, GError **error)
{
  return mirada_dataset_image_decode (path, height, width, channels, MIR_RESIZE_NEAREST,
                                          pixels, error);
}

/* A file the folder reader leaves out: one line on stderr. */
static void
skip_cb (const char *path, const GError *why, gpointer user_data)
{
  g_autofree char *message = g_strdup_printf (_("skipping %s: %s"), path, why->message);

  g_strdelimit (message, "\r\n", ' ');
  g_printerr ("mirada: %s\n", message);
}

/* A folder-per-class tree, its unreadable files skipped with a warning
 * each and a count at the end. */
static MirDataset *
load_folder (const char *dir, const MirShape *in, GError **error)
{
  MirDataset *data;
  guint skipped = 0;

  data = mir_dataset_load_directory_skipping (dir, in->dim[1], in->dim[2], in->dim[3],
                                              decode_image, NULL, skip_cb, NULL, &skipped,
                                              NULL, error);
  if (skipped > 0)
    {
      g_autofree char *message =
        g_strdup_printf (ngettext ("skipped %u file of '%s' that is not a readable image",
                                   "skipped %u files of '%s' that are not readable images",
                                   skipped), skipped, dir);
      g_printerr ("mirada: %s\n", message);
    }
  return data;
}

/* --validation: the same classes as the training folder, in the same order. */
static gboolean
check_same_classes (const MirDataset *train, const char *train_dir, const MirDataset *val,
                    const char *val_dir, GError **error)
{
  gboolean same = train->n_classes == val->n_classes;

  for (guint c = 0; same && c < train->n_classes; c++)
    same = g_strcmp0 (train->class_names[c], val->class_names[c]) == 0;
  if (!same)
    {
      g_autofree char *a = g_strjoinv (", ", train->class_names);
      g_autofree char *b = g_strjoinv (", ", val->class_names);
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The validation folder '%s' must have the same class subfolders as the "
                     "training folder '%s' (training: %s; validation: %s)"),
                   val_dir, train_dir, a, b);
    }
  return same;
}

/* Images per class in each part, so that a split leaving a class out shows. */
static void
print_split (const MirDataset *train, const MirDataset *val)
{
  g_autofree gint64 *nt = g_new0 (gint64, train->n_classes);
  g_autofree gint64 *nv = g_new0 (gint64, train->n_classes);

  mir_dataset_count_classes (train, nt);
  if (val != NULL)
    mir_dataset_count_classes (val, nv);
  g_print (_("Images per class (training + validation):\n"));
  for (guint c = 0; c < train->n_classes; c++)
    g_print ("  %s: %" PRId64 " + %" PRId64 "\n", train->class_names[c], nt[c], nv[c]);
}

typedef struct
{
  MirModel *model;
  MirDataset *data;
  MirTrainOptions options;
  guint epochs_done;
  GMainLoop *loop;
  GError *error;
  gboolean ok;
  /* Written by the training thread only, read after it ends. */
  GArray *history;          /* MirEpochStats */
  const char *history_path; /* --history, or NULL */
  const char *history_png;  /* --history-png, or NULL */
  GError *history_error;    /* the first failure to write them */
  MiradaCliProgress progress; /* the line within an epoch, on a terminal */
} TrainJob;

/* Files are rewritten after every epoch: a chart to watch, and the epochs
 * so far kept if the run is stopped.  Standard output ("-") gets them once,
 * at the end (@final). */
static void
write_history (TrainJob *job, gboolean final)
{
  const MirEpochStats *stats = (const MirEpochStats *) (const void *) job->history->data;

  if (job->history->len == 0)
    return;
  if (job->history_error == NULL && job->history_path != NULL &&
      mirada_output_is_stdout (job->history_path) == final)
    mirada_train_history_save (job->history_path, stats, job->history->len, &job->history_error);
  if (job->history_error == NULL && job->history_png != NULL &&
      mirada_output_is_stdout (job->history_png) == final)
    mirada_train_history_png (job->history_png, stats, job->history->len, &job->history_error);
}

/* The line within an epoch, on a terminal only, at most 10 times a second. */
static void
batch_done_cb (guint epoch, guint batch, guint n_batches, double running_loss,
               gpointer user_data)
{
  TrainJob *job = user_data;

  if (!mirada_cli_progress_due (&job->progress, batch == n_batches))
    return;
  /* TRANSLATORS: the progress line within an epoch: epoch, epochs, batch, batches, loss. */
  mirada_cli_progress_print (&job->progress, _("Epoch %u/%u: batch %u/%u, loss %.4f"), epoch,
                             job->options.epochs, batch, n_batches, running_loss);
}

static void
epoch_done_cb (const MirEpochStats *s, gpointer user_data)
{
  TrainJob *job = user_data;

  mirada_cli_progress_end (&job->progress);
  g_array_append_val (job->history, *s);
  write_history (job, FALSE);
  if (s->has_validation)
    g_print (_("Epoch %u/%u: loss %.4f, accuracy %.4f, validation loss %.4f, validation accuracy %.4f (%.1f s)\n"),
             s->epoch, s->n_epochs, s->loss, s->accuracy, s->val_loss, s->val_accuracy, s->seconds);
  else
    g_print (_("Epoch %u/%u: loss %.4f, accuracy %.4f (%.1f s)\n"),
             s->epoch, s->n_epochs, s->loss, s->accuracy, s->seconds);
}

static void
train_worker (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  TrainJob *job = data;

  job->ok = mir_train (job->model, job->data, &job->options, &job->epochs_done, cancellable,
                       &job->error);
  g_task_return_boolean (task, TRUE);
}

static void
train_finished_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TrainJob *job = user_data;
  g_main_loop_quit (job->loop);
}

static gboolean
sigint_cb (gpointer user_data)
{
  GCancellable *cancellable = user_data;

  if (!g_cancellable_is_cancelled (cancellable))
    g_printerr ("%s\n", _("Interrupted: stopping after this batch and keeping the last finished epoch…"));
  g_cancellable_cancel (cancellable);
  return G_SOURCE_CONTINUE;
}

/* @data: a dataset in a fixed format other than Fashion-MNIST (CIFAR, IDX),
 * read before the model: the default architecture takes its image size and
 * has one output per class.  NULL: 28×28 grey, "background" included. */
static MirModel *
build_model (const char *arch, const MirDataset *data, guint32 seed, GError **error)
{
  g_autofree char *json = NULL;
  gsize len = 0;
  g_autoptr(MirModel) model = NULL;

  if (g_strcmp0 (arch, "default") == 0 && data != NULL)
    json = mirada_default_arch_config ((int) data->height, (int) data->width,
                                       (int) data->channels, data->n_classes);
  else if (g_strcmp0 (arch, "cifar") == 0)
    json = mirada_cifar_arch_config (data ? (int) data->height : 32, data ? (int) data->width : 32,
                                     data ? (int) data->channels : 3,
                                     data ? data->n_classes : 10u);
  else if (g_strcmp0 (arch, "default") == 0)
    json = mirada_default_arch_config (28, 28, 1, 11u);
  else if (!(json = mir_file_read (arch, MIR_FILE_MAX_CONFIG, _("model configurations"), &len,
                                   error)))
    return NULL;
  if (!(model = mir_keras_model_from_config (json, -1, error)))
    {
      g_prefix_error (error, _("Architecture '%s': "), arch);
      return NULL;
    }
  if (!mir_model_finish (model, TRUE, seed, error))
    return NULL;
  return g_steal_pointer (&model);
}

int
mirada_cmd_train (int argc, char **argv)
{
  g_autofree char *arch = NULL;
  g_autofree char *dataset_arg = NULL;
  g_autofree char *out = NULL;
  g_autofree char *optimizer = NULL;
  g_autofree char *preprocess = NULL;
  g_autofree char *validation_dir = NULL;
  g_autofree char *history = NULL;
  g_autofree char *history_png = NULL;
  g_autofree char *base = NULL;
  g_autofree char *init = NULL;
  gboolean freeze_base = FALSE;
  int epochs = 10, batch = 32, seed = 1, shift = 2;
  double lr = 0, momentum = 0, val_split = NAN; /* not given: 0.1 */
  gboolean augment = FALSE, flip = FALSE;
  double lr_decay = 1.0;
  int lr_every = 0;
  int threads = 0;
  GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_FILENAME, &arch, N_("Architecture: \"default\" (the course's small CNN), \"cifar\" (the CIFAR-10 notebook's three conv blocks) or a Keras model config JSON file"), N_("ARCH") },
    { "base", 0, 0, G_OPTION_ARG_STRING, &base, N_("Transfer learning: start from a built-in architecture without its classifier, arch:NAME[,size=N][,alpha=A][,weights=FILE] (weights: a model or weights .h5 whose layers have the base's names; size: the dataset's, or 96 px for a folder), and put a new head on it (global average pooling + softmax Dense)"), N_("SPEC") },
    { "freeze-base", 0, 0, G_OPTION_ARG_NONE, &freeze_base, N_("With --base: train the new head only (the base's weights and BatchNormalization statistics stay as loaded)"), NULL },
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &init, N_("Continue training a saved model (.h5, .keras, …) instead of building a new one"), N_("MODEL") },
    { "dataset", 0, 0, G_OPTION_ARG_FILENAME, &dataset_arg, N_("\"fashion-mnist\", a folder with one subfolder of images per class, CIFAR-10/100 binary (the .tar.gz or its folder) or a folder of MNIST-style IDX files"), N_("DATASET") },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, N_("Number of epochs (default 10)"), "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Batch size (default 32)"), "N" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &optimizer, N_("adam (default) or sgd"), N_("NAME") },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, N_("Learning rate (default 0.001 for Adam, 0.01 for SGD)"), "X" },
    { "momentum", 0, 0, G_OPTION_ARG_DOUBLE, &momentum, N_("SGD momentum (default 0)"), "X" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, N_("Random seed for initialisation, shuffling and augmentation (default 1)"), "N" },
    { "augment", 0, 0, G_OPTION_ARG_NONE, &augment, N_("Random shifts of up to 2 pixels and horizontal flips"), NULL },
    { "shift", 0, 0, G_OPTION_ARG_INT, &shift, N_("Random shifts of up to N pixels (0 = none; sets --augment without flips unless --flip)"), "N" },
    { "flip", 0, 0, G_OPTION_ARG_NONE, &flip, N_("Random horizontal flips"), NULL },
    { "lr-decay", 0, 0, G_OPTION_ARG_DOUBLE, &lr_decay, N_("Multiply the learning rate by X every --lr-decay-every epochs"), "X" },
    { "lr-decay-every", 0, 0, G_OPTION_ARG_INT, &lr_every, N_("Epochs between two learning-rate decays (0: constant)"), "N" },
    { "validation-split", 0, 0, G_OPTION_ARG_DOUBLE, &val_split, N_("Fraction of the data kept for validation (default 0.1; from a folder: of each class, chosen at random with --seed)"), "X" },
    { "validation", 0, 0, G_OPTION_ARG_FILENAME, &validation_dir, N_("A second folder with one subfolder of images per class (the same classes) to validate on instead of a split"), N_("DIR") },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, N_("Worker threads, each training on a part of every batch (default 0: one per core); a seed reproduces a run for the same number"), "N" },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("How pixels become inputs: none, scale (default), tf, caffe, torch"), N_("MODE") },
    { "history", 0, 0, G_OPTION_ARG_FILENAME, &history, N_("Write the loss and accuracy of every epoch to FILE (JSON if it ends in .json, else CSV)"), N_("FILE") },
    { "history-png", 0, 0, G_OPTION_ARG_FILENAME, &history_png, N_("Draw the loss and accuracy curves into FILE (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, N_("Where to save the model (.h5)"), N_("FILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  int ret;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirDataset) data = NULL;
  g_autoptr(MirDataset) validation = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GTask) task = NULL;
  g_autofree char *sidecar = NULL;
  MirOptimizerKind kind = MIR_OPTIMIZER_ADAM;
  MirPreprocessMode mode = MIR_PREPROCESS_SCALE;
  TrainJob job = { 0 };
  const MirShape *in;
  gint64 trainable = 0, params;
  guint sig;
  MirDatasetFormat format = MIR_DATASET_FORMAT_FOLDER;
  gboolean fashion, folder;
  g_auto(MiradaBaseSpec) base_spec = { 0 };

  g_option_context_set_summary (context, _("Train a classifier and save it as a Keras 2 .h5 file."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "train", &argc, &argv);
  if (ret >= 0)
    return ret;
  if (argc > 1)
    return mirada_cli_usage_error ("train", _("unexpected argument"));
  if (dataset_arg == NULL || out == NULL)
    return mirada_cli_usage_error ("train", _("--dataset and --out are required"));
  if (threads < 0 || threads > 64)
    return mirada_cli_usage_error ("train", _("--threads must be between 0 and 64"));
  if (epochs < 1 || batch < 1)
    return mirada_cli_usage_error ("train", _("--epochs and --batch must be at least 1"));
  if ((ret = mirada_cli_check_range ("train", "--epochs", epochs, 1, 100000)) >= 0 ||
        (ret = mirada_cli_check_range ("train", "--batch", batch, 1, 4096)) >= 0 ||
        (ret = mirada_cli_check_range ("train", "--lr-decay-every", lr_every, 0, 100000)) >= 0)
    return ret;
  if (optimizer && !mir_optimizer_kind_from_string (optimizer, &kind, &error))
    return mirada_cli_usage_error ("train", error->message);
  if (preprocess && !mir_preprocess_mode_from_string (preprocess, &mode, &error))
    return mirada_cli_usage_error ("train", error->message);
  fashion = g_strcmp0 (dataset_arg, "fashion-mnist") == 0;
  if (!fashion)
    format = mir_dataset_detect_format (dataset_arg);
  folder = !fashion && format == MIR_DATASET_FORMAT_FOLDER;
  if (validation_dir && !folder)
    return mirada_cli_usage_error ("train", _("--validation needs a folder dataset (--dataset DIR)"));
  {
    const char *const outputs[] = { history, history_png };
    if ((ret = mirada_cli_check_outputs ("train", FALSE, outputs, G_N_ELEMENTS (outputs))) >= 0)
      return ret;
  }
  if ((arch != NULL) + (base != NULL) + (init != NULL) > 1)
    return mirada_cli_usage_error ("train", _("Choose one of --arch, --base and --init"));
  if (freeze_base && base == NULL)
    return mirada_cli_usage_error ("train", _("--freeze-base needs --base"));
  if (base != NULL && !mirada_base_spec_parse (base, &base_spec, &error))
    return mirada_cli_usage_error ("train", error->message);
  if (validation_dir && !isnan (val_split))
    return mirada_cli_usage_error ("train", _("Choose one of --validation and --validation-split"));
  if (isnan (val_split))
    val_split = 0.1;
  else if (!(val_split >= 0 && val_split < 1))
    return mirada_cli_usage_error ("train", _("--validation-split must be at least 0 and below 1"));

  /* A dataset in a fixed format is read first: its image size is the
   * default architecture's input. */
  if (fashion)
    data = mir_dataset_load_fashion_mnist (NULL, TRUE, &error);
  else if (format == MIR_DATASET_FORMAT_CIFAR)
    data = mir_dataset_load_cifar (dataset_arg, TRUE, &error);
  else if (format == MIR_DATASET_FORMAT_IDX)
    data = mir_dataset_load_idx_folder (dataset_arg, TRUE, &error);
  if (!folder && data == NULL)
    return mirada_cli_fail (error);

  if (base != NULL)
    {
      /* The head needs the number of classes: a folder is read first, at the
       * base's input size. */
      gint64 size = base_spec.size ? base_spec.size : data != NULL ? data->height : 96;
      MirShape want = { 4, { -1, size, size, 3 } };

      if (folder && !(data = load_folder (dataset_arg, &want, &error)))
        return mirada_cli_fail (error);
      guint frozen = 0;

      if (!(model = mirada_transfer_model_new (&base_spec, size, data->n_classes, freeze_base,
                                               (guint32) seed, &frozen, &error)))
        return mirada_cli_fail (error);
      if (freeze_base)
        g_print (ngettext ("Base %s: %u layer with weights frozen; training the head\n",
                           "Base %s: %u layers with weights frozen; training the head\n", frozen),
                 base_spec.name, frozen);
    }
  else if (init != NULL)
    {
      if (!(model = mir_model_load (init, &error)))
        return mirada_cli_fail (error);
    }
  else if (!(model = build_model (arch ? arch : "default", fashion ? NULL : data, (guint32) seed,
                                  &error)))
    return mirada_cli_fail (error);
  in = mir_model_get_input_shape (model, 0);
  if (model->inputs->len != 1 || in->ndim != 4 || in->dim[1] <= 0 || in->dim[2] <= 0)
    {
      g_set_error (&error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The architecture must take one image input of fixed size"));
      return mirada_cli_fail (error);
    }

  if (folder && data == NULL && !(data = load_folder (dataset_arg, in, &error)))
    return mirada_cli_fail (error);
  if (data->height != in->dim[1] || data->width != in->dim[2] || data->channels != in->dim[3])
    {
      g_set_error (&error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The images of '%s' are %" PRId64 "×%" PRId64 "×%" PRId64
                     " but the architecture takes %" PRId64 "×%" PRId64 "×%" PRId64
                     "; give --arch a model configuration with that input size"),
                   dataset_arg, data->height, data->width, data->channels, in->dim[1],
                   in->dim[2], in->dim[3]);
      return mirada_cli_fail (error);
    }
  if (validation_dir)
    {
      if (!(validation = load_folder (validation_dir, in, &error)) ||
          !check_same_classes (data, dataset_arg, validation, validation_dir, &error))
        return mirada_cli_fail (error);
    }

  /* A model with one output more than the dataset's classes gets the
   * "background" class. */
  {
    const MirShape *o = mir_model_get_output_shape (model, 0);
    if (o->dim[o->ndim - 1] == (gint64) data->n_classes + 1)
      {
        g_autoptr(GPtrArray) names = g_ptr_array_new ();
        for (guint i = 0; i < data->n_classes; i++)
          g_ptr_array_add (names, data->class_names[i]);
        g_ptr_array_add (names, (gpointer) BACKGROUND_CLASS);
        g_ptr_array_add (names, NULL);
        if (!mir_dataset_set_class_names (data, (const char *const *) names->pdata,
                                          names->len - 1, &error) ||
            !add_background_samples (&data, data->n_classes - 1, (guint64) seed, &error))
          return mirada_cli_fail (error);
        if (validation &&
            (!mir_dataset_set_class_names (validation, (const char *const *) names->pdata,
                                           names->len - 1, &error) ||
             !add_background_samples (&validation, validation->n_classes - 1,
                                      (guint64) seed + 1, &error)))
          return mirada_cli_fail (error);
      }
  }

  /* A folder is read class by class: Keras' validation_split (the last
   * images) would keep whole classes out of training.  Split each class
   * at random with the seed instead.  (Fashion-MNIST's files are already
   * shuffled; the trainer takes its tail, as Keras does.) */
  if (folder)
    {
      if (validation == NULL)
        {
          g_autoptr(MirDataset) all = g_steal_pointer (&data);
          if (!mir_dataset_split_stratified (all, val_split, (guint64) seed, &data, &validation,
                                             &error))
            return mirada_cli_fail (error);
        }
      print_split (data, validation);
      val_split = 0;
    }

  mir_train_options_init (&job.options);
  job.options.epochs = (guint) epochs;
  job.options.batch_size = (guint) batch;
  mir_optimizer_options_init (&job.options.optimizer, kind);
  if (lr > 0)
    job.options.optimizer.learning_rate = lr;
  job.options.optimizer.momentum = momentum;
  job.options.seed = (guint64) seed;
  job.options.n_threads = (guint) threads;
  job.options.validation_split = val_split;
  job.options.validation = validation;
  job.options.preprocess = mode;
  if (augment || flip || shift != 2)
    {
      if (shift < 0 || shift > 64)
        return mirada_cli_usage_error ("train", _("--shift must be between 0 and 64"));
      job.options.augment.max_shift = (guint) shift;
      job.options.augment.flip = augment || flip;
    }
  if (!(lr_decay > 0 && lr_decay <= 1) || lr_every < 0)
    return mirada_cli_usage_error ("train", _("--lr-decay must be in (0, 1] and --lr-decay-every ≥ 0"));
  job.options.lr_decay = lr_decay;
  job.options.lr_decay_every = (guint) lr_every;
  job.options.epoch_func = epoch_done_cb;
  job.options.batch_func = batch_done_cb;
  job.options.user_data = &job;
  job.history = g_array_new (FALSE, FALSE, sizeof (MirEpochStats));
  job.history_path = history;
  job.history_png = history_png;
  mirada_cli_progress_begin (&job.progress);

  params = mir_model_count_params (model, &trainable);
  {
    g_autofree char *n_params = g_strdup_printf (
      ngettext ("%" PRId64 " parameter", "%" PRId64 " parameters", (gulong) MIN (params, G_MAXULONG)),
      params);
    g_autofree char *n_images = g_strdup_printf (
      ngettext ("%" PRId64 " image", "%" PRId64 " images", (gulong) MIN (data->n, G_MAXULONG)),
      data->n);
    g_autofree char *n_classes = g_strdup_printf (
      ngettext ("%u class", "%u classes", data->n_classes), data->n_classes);
    g_autofree char *n_epochs = g_strdup_printf (ngettext ("%d epoch", "%d epochs", epochs),
                                                 epochs);

    /* TRANSLATORS: "Training default (1,234 parameters) on 60000 images in 10 classes,
     * adam, batch 32, 10 epochs"; the counts are translated on their own. */
    g_print (_("Training %s (%s) on %s in %s, %s, batch %d, %s\n"),
             base ? base : init ? init : arch ? arch : "default",
             n_params, n_images, n_classes, mir_optimizer_kind_to_string (kind), batch,
             n_epochs);
  }

  job.model = model;
  job.data = data;
  job.loop = loop = g_main_loop_new (NULL, FALSE);
  sig = g_unix_signal_add (SIGINT, sigint_cb, cancellable);
  task = g_task_new (NULL, cancellable, train_finished_cb, &job);
  g_task_set_task_data (task, &job, NULL);
  g_task_run_in_thread (task, train_worker);
  g_main_loop_run (loop);
  g_source_remove (sig);
  write_history (&job, TRUE);
  g_clear_pointer (&job.history, g_array_unref);

  if (!job.ok)
    {
      if (!g_error_matches (job.error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && job.epochs_done == 0)
        return mirada_cli_fail (job.error);
      if (job.epochs_done == 0)
        {
          g_clear_error (&job.error);
          g_set_error (&error, MIR_ERROR, MIR_ERROR_FAILED,
                       _("Training was interrupted before the first epoch finished; nothing was saved"));
          return mirada_cli_fail (error);
        }
      g_printerr (_("Training stopped (%s); saving the weights of epoch %u\n"),
                  job.error->message, job.epochs_done);
    }

  g_strfreev (model->meta.class_names);
  model->meta.class_names = g_strdupv (data->class_names);
  model->meta.preprocess = mode;
  model->meta.preprocess_from = MIR_PREPROCESS_FROM_USER;
  model->meta.resize = MIR_RESIZE_NEAREST;
  if (!mir_keras_save_h5 (model, out, &error))
    return mirada_cli_fail (error);
  sidecar = mir_sidecar_path_for_model (out);
  if (!mir_sidecar_save (sidecar, &model->meta, &error))
    return mirada_cli_fail (error);
  g_print (_("Saved %s and %s\n"), out, sidecar);
  if (job.history_error != NULL)
    {
      g_clear_error (&job.error);
      ret = mirada_cli_fail (job.history_error);
      g_clear_error (&job.history_error);
      return ret;
    }
  if (job.error != NULL)
    {
      g_clear_error (&job.error);
      return 130; /* interrupted, like a shell */
    }
  return 0;
}
