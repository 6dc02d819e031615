/* mirada-train-window.c: see mirada-train-window.h. */
#define G_LOG_DOMAIN "mirada-train-window"

#include "config.h"

#include <inttypes.h>

#include <math.h>
#include <glib/gi18n.h>

#include "mir.h"
#include "mir-activation-grid.h"
#include "mir-applications.h"
#include "mir-keras.h"
#include "mir-keras-writer.h"
#include "mir-sidecar.h"
#include "mirada-train-history.h"
#include "mirada-train-setup.h"
#include "mirada-train-window.h"
#include "mirada-window.h"

/* The input a folder dataset is decoded at: small enough to train on two
 * cores while a class watches (the course notebook uses 150 px). */
#define SMALL_CNN_FOLDER_SIDE 64
#define CIFAR_FOLDER_SIDE 32
#define MOBILENET_SIDE 96
#define FILTER_ZOOM 6

struct _MiradaTrainWindow
{
  AdwWindow parent_instance;

  GtkWidget *dataset_label;
  GtkWidget *validation_label;
  GtkWidget *weights_label;
  GtkWidget *weights_button;
  GtkWidget *freeze_switch;
  GtkWidget *arch_dropdown;
  GtkWidget *epochs_spin;
  GtkWidget *batch_spin;
  GtkWidget *lr_spin;
  GtkWidget *train_button;
  GtkWidget *cancel_button;
  GtkWidget *save_button;
  GtkWidget *open_button;
  GtkWidget *status_label;
  GtkWidget *progress;
  GtkWidget *chart;
  GtkWidget *filters_picture;
  GtkWidget *filters_caption;
  GtkWidget *acts_picture;
  GtkWidget *acts_caption;

  char *dataset;
  char *validation;           /* or NULL: a split */
  char *weights;              /* transfer: the base's weights, or NULL */
  GArray *history;            /* MirEpochStats of the current run */
  MirModel *model;            /* the trained model (after a run) */
  char **class_names;
  char *error;
  char *saved_path;
  GCancellable *cancellable;
  gboolean running;
};

G_DEFINE_FINAL_TYPE (MiradaTrainWindow, mirada_train_window, ADW_TYPE_WINDOW)

/* ------------------------------------------------------------------ */
/* The worker */

typedef struct
{
  MiradaTrainWindow *self;   /* a reference */
  char *dataset;
  char *validation;
  char *weights;
  gboolean freeze;
  MiradaTrainArch arch;
  guint epochs, batch;
  double lr;
  MirModel *model;
  MirDataset *data;
  MirDataset *val;
  gint64 last_progress;
} Run;

static void
run_free (Run *run)
{
  g_clear_object (&run->self);
  g_free (run->dataset);
  g_free (run->validation);
  g_free (run->weights);
  g_clear_pointer (&run->model, mir_model_unref);
  g_clear_pointer (&run->data, mir_dataset_unref);
  g_clear_pointer (&run->val, mir_dataset_unref);
  g_free (run);
}

typedef struct
{
  MiradaTrainWindow *self;
  MirEpochStats stats;
  MirImage *filters;         /* or NULL */
  MirImage *activations;     /* or NULL */
  guint batch, n_batches, epoch;
  double loss;
  gboolean is_epoch;
} Update;

static void
update_free (gpointer data)
{
  Update *u = data;

  g_clear_object (&u->self);
  g_clear_pointer (&u->filters, mir_image_unref);
  g_clear_pointer (&u->activations, mir_image_unref);
  g_free (u);
}

/* The first convolution's kernels as tiles (RGB when it sees three
 * channels, else the mean over them), each normalised to its own range. */
static MirImage *
first_layer_filters (MirModel *model)
{
  for (guint i = 0; i < model->nodes->len; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      MirTensor *k;
      gint64 kh, kw, cin, cout, cols, rows;
      int tile, gap = 2;
      MirImage *img;

      if (!(node->layer->klass->flags & MIR_LAYER_FLAG_CONV) || node->layer->n_weights == 0 ||
          (k = node->layer->weights[0].value) == NULL || k->ndim != 4)
        continue;
      kh = k->shape[0], kw = k->shape[1], cin = k->shape[2], cout = MIN (k->shape[3], 64);
      cols = MIN (cout, 16), rows = (cout + cols - 1) / cols;
      tile = (int) MAX (kh, kw) * FILTER_ZOOM;
      if (!(img = mir_image_new ((int) (cols * (tile + gap) + gap),
                                 (int) (rows * (tile + gap) + gap), 3, NULL)))
        return NULL;
      memset (img->pixels, 255, img->rowstride * (gsize) img->height);
      for (gint64 f = 0; f < cout; f++)
        {
          float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
          int ox = (int) (gap + (f % cols) * (tile + gap)), oy = (int) (gap + (f / cols) * (tile + gap));

          for (gint64 q = 0; q < kh * kw * cin; q++)
            {
              float v = k->data[q * k->shape[3] + f];
              lo = MIN (lo, v), hi = MAX (hi, v);
            }
          for (int y = 0; y < tile; y++)
            for (int x = 0; x < tile; x++)
              {
                gint64 ky = y / FILTER_ZOOM, kx = x / FILTER_ZOOM;
                guint8 *p = img->pixels + (gsize) (oy + y) * img->rowstride + (gsize) (ox + x) * 3;

                if (ky >= kh || kx >= kw)
                  continue;
                for (int c = 0; c < 3; c++)
                  {
                    double v = 0;
                    if (cin == 3)
                      v = k->data[((ky * kw + kx) * cin + c) * k->shape[3] + f];
                    else
                      {
                        for (gint64 ci = 0; ci < cin; ci++)
                          v += k->data[((ky * kw + kx) * cin + ci) * k->shape[3] + f];
                        v /= (double) cin;
                        if (cin > 1)
                          {
                            /* the mean may sit inside the range: show it as is */
                          }
                      }
                    p[c] = (guint8) CLAMP (hi > lo ? 255.0 * (v - lo) / (hi - lo) : 128, 0, 255);
                  }
              }
        }
      return img;
    }
  return NULL;
}

/* The first convolution's output for the dataset's first image, every
 * channel normalised on its own (the activation grid of the Layers panel). */
static MirImage *
first_layer_activations (MirModel *model, MirDataset *data)
{
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTrace) trace = NULL;
  MirGridOptions opts = MIR_GRID_OPTIONS_DEFAULT;
  const guint8 *src = mir_dataset_get_image (data, 0);
  gint conv = -1;

  for (guint i = 0; i < model->nodes->len && conv < 0; i++)
    if (mir_model_get_node (model, i)->layer->klass->flags & MIR_LAYER_FLAG_CONV)
      conv = (gint) i;
  if (conv < 0 || src == NULL ||
      !(image = mir_image_new ((int) data->width, (int) data->height, (int) data->channels, NULL)))
    return NULL;
  for (gint64 y = 0; y < data->height; y++)
    memcpy (image->pixels + (gsize) y * image->rowstride, src + y * data->width * data->channels,
            (gsize) (data->width * data->channels));
  if (!(input = mir_image_prepare (image, model, NULL)) ||
      !(trace = mir_model_run (model, &input, 1, MIR_RUN_DEFAULT, conv, 0, NULL, NULL)))
    return NULL;
  opts.per_row = 16;
  opts.scale = MAX (1, 48 / (int) MAX (data->width, 1));
  return mir_activation_grid (mir_trace_get (trace, (guint) conv), 0, &opts, NULL, NULL);
}

static GdkTexture *
texture_from_image (const MirImage *img)
{
  g_autoptr(GBytes) bytes = g_bytes_new (img->pixels, img->rowstride * (gsize) img->height);

  return gdk_memory_texture_new (img->width, img->height, GDK_MEMORY_R8G8B8, bytes,
                                 img->rowstride);
}

static gboolean
apply_update (gpointer data)
{
  Update *u = data;
  MiradaTrainWindow *self = u->self;
  g_autofree char *text = NULL;

  if (!u->is_epoch)
    {
      gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress),
                                     u->n_batches ? (double) u->batch / u->n_batches : 0);
      /* TRANSLATORS: the Train view's status within an epoch */
      text = g_strdup_printf (_("Epoch %u of %u: batch %u of %u, loss %.4f"), u->epoch,
                              (guint) gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->epochs_spin)),
                              u->batch, u->n_batches, u->loss);
      gtk_label_set_text (GTK_LABEL (self->status_label), text);
      return G_SOURCE_REMOVE;
    }
  g_array_append_val (self->history, u->stats);
  if (u->stats.has_validation)
    /* TRANSLATORS: the Train view's status after an epoch */
    text = g_strdup_printf (_("Epoch %u of %u: loss %.4f, accuracy %.1f %%; validation: loss "
                              "%.4f, accuracy %.1f %%"), u->stats.epoch, u->stats.n_epochs,
                            u->stats.loss, 100 * u->stats.accuracy, u->stats.val_loss,
                            100 * u->stats.val_accuracy);
  else
    text = g_strdup_printf (_("Epoch %u of %u: loss %.4f, accuracy %.1f %%"), u->stats.epoch,
                            u->stats.n_epochs, u->stats.loss, 100 * u->stats.accuracy);
  gtk_label_set_text (GTK_LABEL (self->status_label), text);
  gtk_widget_queue_draw (self->chart);
  if (u->filters)
    {
      g_autoptr(GdkTexture) texture = texture_from_image (u->filters);
      g_autofree char *caption = g_strdup_printf (_("The first layer’s filters after epoch %u"),
                                                  u->stats.epoch);

      gtk_picture_set_paintable (GTK_PICTURE (self->filters_picture), GDK_PAINTABLE (texture));
      gtk_label_set_text (GTK_LABEL (self->filters_caption), caption);
    }
  if (u->activations)
    {
      g_autoptr(GdkTexture) texture = texture_from_image (u->activations);
      g_autofree char *caption =
        g_strdup_printf (_("What that layer sees in the first image after epoch %u"),
                         u->stats.epoch);

      gtk_picture_set_paintable (GTK_PICTURE (self->acts_picture), GDK_PAINTABLE (texture));
      gtk_label_set_text (GTK_LABEL (self->acts_caption), caption);
    }
  return G_SOURCE_REMOVE;
}

static void
post (Update *u)
{
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, apply_update, u, update_free);
}

static void
epoch_cb (const MirEpochStats *stats, gpointer user_data)
{
  Run *run = user_data;
  Update *u = g_new0 (Update, 1);

  u->self = g_object_ref (run->self);
  u->stats = *stats;
  u->is_epoch = TRUE;
  u->filters = first_layer_filters (run->model);
  u->activations = first_layer_activations (run->model, run->data);
  post (u);
}

static void
batch_cb (guint epoch, guint batch, guint n_batches, double running_loss, gpointer user_data)
{
  Run *run = user_data;
  gint64 now = g_get_monotonic_time ();
  Update *u;

  if (batch < n_batches && now - run->last_progress < G_USEC_PER_SEC / 10)
    return;
  run->last_progress = now;
  u = g_new0 (Update, 1);
  u->self = g_object_ref (run->self);
  u->epoch = epoch, u->batch = batch, u->n_batches = n_batches, u->loss = running_loss;
  post (u);
}

static void
train_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Run *run = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  MirTrainOptions o;
  gint64 side = run->arch == MIRADA_TRAIN_ARCH_MOBILENET || run->arch == MIRADA_TRAIN_ARCH_TRANSFER
                ? MOBILENET_SIDE
                : run->arch == MIRADA_TRAIN_ARCH_CIFAR ? CIFAR_FOLDER_SIDE : SMALL_CNN_FOLDER_SIDE;
  gint64 channels = 3;
  guint done = 0;

  if (!(run->data = mirada_train_load_dataset (run->dataset, side, side, channels, NULL,
                                               cancellable, &error)))
    goto fail;
  if (run->validation != NULL)
    {
      if (!(run->val = mirada_train_load_dataset (run->validation, run->data->height,
                                                  run->data->width, run->data->channels, NULL,
                                                  cancellable, &error)))
        goto fail;
      if (!g_strv_equal ((const char *const *) run->data->class_names,
                         (const char *const *) run->val->class_names))
        {
          g_set_error (&error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("The validation folder “%s” does not have the same classes as “%s”"),
                       run->validation, run->dataset);
          goto fail;
        }
    }
  if (run->data->n_classes < 2)
    {
      g_set_error (&error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("“%s” has fewer than two classes: there is nothing to tell apart"),
                   run->dataset);
      goto fail;
    }
  if (run->arch == MIRADA_TRAIN_ARCH_TRANSFER)
    {
      MiradaBaseSpec b = { (char *) "mobilenetv2", MOBILENET_SIDE, 0.35, run->weights };

      if (run->data->height != MOBILENET_SIDE || run->data->channels != 3)
        {
          g_set_error (&error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("MobileNetV2 here takes 96×96 colour images; “%s” has %" PRId64
                         "×%" PRId64 "×%" PRId64 " (use the small CNN)"),
                       run->dataset, run->data->height, run->data->width, run->data->channels);
          goto fail;
        }
      if (!(run->model = mirada_transfer_model_new (&b, MOBILENET_SIDE, run->data->n_classes,
                                                    run->freeze, 1, NULL, &error)))
        goto fail;
    }
  else if (run->arch == MIRADA_TRAIN_ARCH_MOBILENET)
    {
      MirApplicationOptions ao;

      if (run->data->height != MOBILENET_SIDE || run->data->channels != 3)
        {
          g_set_error (&error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("MobileNetV2 here takes 96×96 colour images; “%s” has %" PRId64
                         "×%" PRId64 "×%" PRId64 " (use the small CNN)"),
                       run->dataset, run->data->height, run->data->width, run->data->channels);
          goto fail;
        }
      mir_application_options_init (&ao);
      ao.size = MOBILENET_SIDE;
      ao.alpha = 0.35;
      ao.classes = run->data->n_classes;
      ao.seed = 1;
      if (!(run->model = mir_application_new ("mobilenetv2", &ao, &error)))
        goto fail;
    }
  else
    {
      json = (run->arch == MIRADA_TRAIN_ARCH_CIFAR ? mirada_cifar_arch_config
                                                   : mirada_default_arch_config)
        ((int) run->data->height, (int) run->data->width, (int) run->data->channels,
         run->data->n_classes);
      if (!(run->model = mir_keras_model_from_config (json, -1, &error)) ||
          !mir_model_finish (run->model, TRUE, 1, &error))
        goto fail;
    }
  /* inputs as training sees them (x / 255), for the activations shown */
  run->model->meta.preprocess = MIR_PREPROCESS_SCALE;
  mir_train_options_init (&o);
  o.epochs = run->epochs;
  o.batch_size = run->batch;
  o.optimizer.learning_rate = run->lr;
  o.seed = 1;
  o.validation_split = run->val != NULL ? 0 : 0.1;
  o.validation = run->val;
  o.preprocess = MIR_PREPROCESS_SCALE;
  o.epoch_func = epoch_cb;
  o.batch_func = batch_cb;
  o.user_data = run;
  /* cancelled: the weights of the last finished epoch are kept */
  if (!mir_train (run->model, run->data, &o, &done, cancellable, &error) && done == 0)
    goto fail;
  g_task_return_boolean (task, TRUE);
  return;
fail:
  g_task_return_error (task, g_steal_pointer (&error));
}

static void
set_running (MiradaTrainWindow *self, gboolean running)
{
  self->running = running;
  gtk_widget_set_sensitive (self->train_button, !running);
  gtk_widget_set_sensitive (self->cancel_button, running);
  gtk_widget_set_sensitive (self->save_button, !running && self->model != NULL);
  gtk_widget_set_sensitive (self->open_button, !running && self->model != NULL);
  gtk_widget_set_visible (self->progress, running);
}

static void
train_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  MiradaTrainWindow *self = MIRADA_TRAIN_WINDOW (source);
  Run *run = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  g_clear_object (&self->cancellable);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_free (self->error);
      self->error = g_strdup (error->message);
      gtk_label_set_text (GTK_LABEL (self->status_label), error->message);
    }
  else
    {
      g_clear_pointer (&self->model, mir_model_unref);
      self->model = g_steal_pointer (&run->model);
      g_strfreev (self->class_names);
      self->class_names = g_strdupv (run->data->class_names);
      g_clear_pointer (&self->saved_path, g_free);
    }
  set_running (self, FALSE);
}

gboolean
mirada_train_window_start (MiradaTrainWindow *self)
{
  g_autoptr(GTask) task = NULL;
  Run *run;

  g_return_val_if_fail (MIRADA_IS_TRAIN_WINDOW (self), FALSE);
  if (self->running || self->dataset == NULL)
    return FALSE;
  run = g_new0 (Run, 1);
  run->self = g_object_ref (self);
  run->dataset = g_strdup (self->dataset);
  run->validation = g_strdup (self->validation);
  run->weights = g_strdup (self->weights);
  run->freeze = gtk_switch_get_active (GTK_SWITCH (self->freeze_switch));
  run->arch = (MiradaTrainArch) gtk_drop_down_get_selected (GTK_DROP_DOWN (self->arch_dropdown));
  run->epochs = (guint) gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->epochs_spin));
  run->batch = (guint) gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->batch_spin));
  run->lr = gtk_spin_button_get_value (GTK_SPIN_BUTTON (self->lr_spin));
  g_array_set_size (self->history, 0);
  g_clear_pointer (&self->error, g_free);
  gtk_widget_queue_draw (self->chart);
  gtk_label_set_text (GTK_LABEL (self->status_label), _("Reading the dataset…"));
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress), 0);
  self->cancellable = g_cancellable_new ();
  set_running (self, TRUE);
  task = g_task_new (self, self->cancellable, train_done, NULL);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);
  g_task_run_in_thread (task, train_thread);
  return TRUE;
}

void
mirada_train_window_cancel (MiradaTrainWindow *self)
{
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
}

gboolean
mirada_train_window_get_running (MiradaTrainWindow *self)
{
  return self->running;
}

const MirEpochStats *
mirada_train_window_get_history (MiradaTrainWindow *self, guint *n)
{
  *n = self->history->len;
  return (const MirEpochStats *) (const void *) self->history->data;
}

const char *
mirada_train_window_get_error (MiradaTrainWindow *self)
{
  return self->error;
}

gboolean
mirada_train_window_save (MiradaTrainWindow *self, const char *path, GError **error)
{
  g_autofree char *sidecar = NULL;

  if (self->model == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Nothing is trained yet"));
      return FALSE;
    }
  g_strfreev (self->model->meta.class_names);
  self->model->meta.class_names = g_strdupv (self->class_names);
  self->model->meta.preprocess = MIR_PREPROCESS_SCALE;
  self->model->meta.preprocess_from = MIR_PREPROCESS_FROM_USER;
  sidecar = mir_sidecar_path_for_model (path);
  if (!mir_keras_save_h5 (self->model, path, error) ||
      !mir_sidecar_save (sidecar, &self->model->meta, error))
    return FALSE;
  g_free (self->saved_path);
  self->saved_path = g_strdup (path);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The widgets */

static void
draw_chart (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  MiradaTrainWindow *self = user_data;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  if (self->history->len == 0)
    {
      PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (area),
                                                            _("The loss and accuracy curves appear here, epoch by epoch."));
      int w, h;

      pango_layout_get_pixel_size (layout, &w, &h);
      cairo_set_source_rgb (cr, 0.4, 0.4, 0.4);
      cairo_move_to (cr, (width - w) / 2.0, (height - h) / 2.0);
      pango_cairo_show_layout (cr, layout);
      g_object_unref (layout);
      return;
    }
  mirada_train_history_draw (cr, (const MirEpochStats *) (const void *) self->history->data,
                             self->history->len, width, height);
}

void
mirada_train_window_set_dataset (MiradaTrainWindow *self, const char *dataset)
{
  g_autofree char *shown = NULL;

  g_free (self->dataset);
  self->dataset = g_strdup (dataset);
  shown = g_strcmp0 (dataset, "fashion-mnist") == 0 ? g_strdup (_("Fashion-MNIST (installed)"))
                                                    : g_filename_display_name (dataset);
  gtk_label_set_text (GTK_LABEL (self->dataset_label), shown);
  gtk_widget_set_sensitive (self->train_button, !self->running);
}

void
mirada_train_window_set_validation (MiradaTrainWindow *self, const char *folder)
{
  g_autofree char *shown = folder ? g_filename_display_name (folder) : NULL;

  g_free (self->validation);
  self->validation = g_strdup (folder);
  gtk_label_set_text (GTK_LABEL (self->validation_label),
                      /* xgettext:no-c-format */
                      shown ? shown : _("10% of the training images"));
}

void
mirada_train_window_set_transfer (MiradaTrainWindow *self, const char *weights, gboolean freeze)
{
  g_autofree char *shown = weights ? g_filename_display_basename (weights) : NULL;

  g_free (self->weights);
  self->weights = g_strdup (weights);
  gtk_label_set_text (GTK_LABEL (self->weights_label), shown ? shown : _("random (none chosen)"));
  gtk_switch_set_active (GTK_SWITCH (self->freeze_switch), freeze);
}

void
mirada_train_window_set_settings (MiradaTrainWindow *self, MiradaTrainArch arch, guint epochs,
                                  guint batch, double learning_rate)
{
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->arch_dropdown), arch);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->epochs_spin), epochs);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->batch_spin), batch);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->lr_spin), learning_rate);
}

/* The three folder/file buttons: a native chooser whose accepted path goes
 * to @func (the dataset, the validation folder, the base's weights). */
typedef void (*PathFunc) (MiradaTrainWindow *self, const char *path);

static void
path_chosen (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  MiradaTrainWindow *self = user_data;
  PathFunc func = (PathFunc) g_object_get_data (G_OBJECT (dialog), "mirada-path-func");

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;

      if (path)
        func (self, path);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
choose_path (MiradaTrainWindow *self, const char *title, GtkFileChooserAction action,
             const char *accept, PathFunc func)
{
  GtkFileChooserNative *dialog =
    gtk_file_chooser_native_new (title, GTK_WINDOW (self), action, accept, _("_Cancel"));

  g_object_set_data (G_OBJECT (dialog), "mirada-path-func", (gpointer) func);
  g_signal_connect (dialog, "response", G_CALLBACK (path_chosen), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
choose_folder (GtkButton *button, MiradaTrainWindow *self)
{
  choose_path (self, _("Choose a Dataset Folder"), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
               _("_Choose"), mirada_train_window_set_dataset);
}

static void
choose_validation (GtkButton *button, MiradaTrainWindow *self)
{
  choose_path (self, _("Choose a Validation Folder"), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
               _("_Choose"), mirada_train_window_set_validation);
}

static void
use_split (GtkButton *button, MiradaTrainWindow *self)
{
  mirada_train_window_set_validation (self, NULL);
}

static void
set_weights (MiradaTrainWindow *self, const char *path)
{
  mirada_train_window_set_transfer (self, path,
                                    gtk_switch_get_active (GTK_SWITCH (self->freeze_switch)));
}

static void
choose_weights (GtkButton *button, MiradaTrainWindow *self)
{
  choose_path (self, _("Choose the Base’s Weights"), GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"),
               set_weights);
}

static void
arch_changed (GObject *dropdown, GParamSpec *pspec, MiradaTrainWindow *self)
{
  gboolean transfer = gtk_drop_down_get_selected (GTK_DROP_DOWN (dropdown)) ==
                      MIRADA_TRAIN_ARCH_TRANSFER;

  gtk_widget_set_sensitive (self->weights_button, transfer);
  gtk_widget_set_sensitive (self->freeze_switch, transfer);
}

static void
use_fashion (GtkButton *button, MiradaTrainWindow *self)
{
  mirada_train_window_set_dataset (self, "fashion-mnist");
}

static void
on_train (GtkButton *button, MiradaTrainWindow *self)
{
  mirada_train_window_start (self);
}

static void
on_cancel (GtkButton *button, MiradaTrainWindow *self)
{
  mirada_train_window_cancel (self);
}

static void
saved (GtkNativeDialog *dialog, int response, gpointer user_data)
{
  MiradaTrainWindow *self = user_data;
  gboolean then_open = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "then-open"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      g_autoptr(GError) error = NULL;

      if (path && !mirada_train_window_save (self, path, &error))
        gtk_label_set_text (GTK_LABEL (self->status_label), error->message);
      else if (path)
        {
          g_autofree char *text = g_strdup_printf (_("Saved %s"), path);
          GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (self));

          gtk_label_set_text (GTK_LABEL (self->status_label), text);
          if (then_open && MIRADA_IS_WINDOW (parent))
            {
              mirada_window_open_model (MIRADA_WINDOW (parent), file);
              gtk_window_present (parent);
            }
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
save_dialog (MiradaTrainWindow *self, gboolean then_open)
{
  GtkFileChooserNative *dialog =
    gtk_file_chooser_native_new (_("Save the Trained Model"), GTK_WINDOW (self),
                                 GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));

  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "model.h5");
  g_object_set_data (G_OBJECT (dialog), "then-open", GINT_TO_POINTER (then_open));
  g_signal_connect (dialog, "response", G_CALLBACK (saved), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
on_save (GtkButton *button, MiradaTrainWindow *self)
{
  save_dialog (self, FALSE);
}

static void
on_open (GtkButton *button, MiradaTrainWindow *self)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (self));

  if (self->saved_path != NULL && MIRADA_IS_WINDOW (parent))
    {
      g_autoptr(GFile) file = g_file_new_for_path (self->saved_path);

      mirada_window_open_model (MIRADA_WINDOW (parent), file);
      gtk_window_present (parent);
      return;
    }
  save_dialog (self, TRUE);
}

static GtkWidget *
row (GtkWidget *grid, int y, const char *label, GtkWidget *widget, const char *tooltip)
{
  GtkWidget *l = gtk_label_new (label);

  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_grid_attach (GTK_GRID (grid), l, 0, y, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), widget, 1, y, 1, 1);
  if (tooltip)
    gtk_widget_set_tooltip_text (widget, tooltip);
  return widget;
}

static void
mirada_train_window_dispose (GObject *object)
{
  MiradaTrainWindow *self = MIRADA_TRAIN_WINDOW (object);

  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  G_OBJECT_CLASS (mirada_train_window_parent_class)->dispose (object);
}

static void
mirada_train_window_finalize (GObject *object)
{
  MiradaTrainWindow *self = MIRADA_TRAIN_WINDOW (object);

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->model, mir_model_unref);
  g_strfreev (self->class_names);
  g_free (self->dataset);
  g_free (self->validation);
  g_free (self->weights);
  g_free (self->error);
  g_free (self->saved_path);
  g_array_unref (self->history);
  G_OBJECT_CLASS (mirada_train_window_parent_class)->finalize (object);
}

static void
mirada_train_window_class_init (MiradaTrainWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mirada_train_window_dispose;
  object_class->finalize = mirada_train_window_finalize;
}

static void
mirada_train_window_init (MiradaTrainWindow *self)
{
  GtkWidget *box, *header, *content, *settings, *grid, *buttons, *dataset_box, *b, *right;
  const char *const archs[] = { N_("Small CNN (the course’s)"),
                                N_("Three conv blocks (the CIFAR-10 notebook’s)"),
                                N_("MobileNetV2 α 0.35, 96 px"),
                                N_("Transfer: MobileNetV2 α 0.35 base + a new head"), NULL };
  g_autoptr(GtkStringList) arch_list = gtk_string_list_new (NULL);

  self->history = g_array_new (FALSE, FALSE, sizeof (MirEpochStats));
  gtk_window_set_title (GTK_WINDOW (self), _("Train a Classifier"));
  gtk_window_set_default_size (GTK_WINDOW (self), 1100, 720);

  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  gtk_box_append (GTK_BOX (box), header);
  content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (content, 18);
  gtk_widget_set_margin_end (content, 18);
  gtk_widget_set_margin_top (content, 12);
  gtk_widget_set_margin_bottom (content, 18);
  gtk_widget_set_vexpand (content, TRUE);
  gtk_box_append (GTK_BOX (box), content);

  settings = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 24);
  gtk_box_append (GTK_BOX (content), settings);
  grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_box_append (GTK_BOX (settings), grid);

  dataset_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  self->dataset_label = gtk_label_new (_("No dataset chosen"));
  gtk_label_set_ellipsize (GTK_LABEL (self->dataset_label), PANGO_ELLIPSIZE_START);
  gtk_label_set_width_chars (GTK_LABEL (self->dataset_label), 28);
  gtk_label_set_xalign (GTK_LABEL (self->dataset_label), 0);
  gtk_box_append (GTK_BOX (dataset_box), self->dataset_label);
  b = gtk_button_new_with_mnemonic (_("_Folder…"));
  gtk_widget_set_tooltip_text (b, _("A folder with one subfolder of images per class, a CIFAR-10/100 "
                                    "binary folder, or a folder of MNIST-style IDX files"));
  g_signal_connect (b, "clicked", G_CALLBACK (choose_folder), self);
  gtk_box_append (GTK_BOX (dataset_box), b);
  b = gtk_button_new_with_label (_("Fashion-MNIST"));
  gtk_widget_set_tooltip_text (b, _("The 60,000 clothing images Debian installs (dataset-fashion-mnist)"));
  g_signal_connect (b, "clicked", G_CALLBACK (use_fashion), self);
  gtk_box_append (GTK_BOX (dataset_box), b);
  row (grid, 0, _("Dataset"), dataset_box, NULL);

  for (guint i = 0; archs[i]; i++)
    gtk_string_list_append (arch_list, _(archs[i]));
  self->arch_dropdown = gtk_drop_down_new (G_LIST_MODEL (g_object_ref (arch_list)), NULL);
  g_signal_connect (self->arch_dropdown, "notify::selected", G_CALLBACK (arch_changed), self);
  row (grid, 2, _("Architecture"), self->arch_dropdown,
       _("The small CNN trains in seconds per epoch on two cores. Images from a folder are "
         "read at 64×64 px for it, 32×32 px for the CIFAR-10 network and 96×96 px for "
         "MobileNetV2; CIFAR and IDX files keep their own size"));
  {
    GtkWidget *vbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6), *wbox, *fbox;

    self->validation_label = gtk_label_new (NULL);
    gtk_label_set_ellipsize (GTK_LABEL (self->validation_label), PANGO_ELLIPSIZE_START);
    gtk_label_set_width_chars (GTK_LABEL (self->validation_label), 28);
    gtk_label_set_xalign (GTK_LABEL (self->validation_label), 0);
    gtk_box_append (GTK_BOX (vbox), self->validation_label);
    b = gtk_button_new_with_mnemonic (_("F_older…"));
    gtk_widget_set_tooltip_text (b, _("A second folder with the same class folders, to validate "
                                      "on instead of a part of the training images"));
    g_signal_connect (b, "clicked", G_CALLBACK (choose_validation), self);
    gtk_box_append (GTK_BOX (vbox), b);
    b = gtk_button_new_with_label (_("Split"));
    /* xgettext:no-c-format */
    gtk_widget_set_tooltip_text (b, _("Validate on 10% of each class of the training folder"));
    g_signal_connect (b, "clicked", G_CALLBACK (use_split), self);
    gtk_box_append (GTK_BOX (vbox), b);
    row (grid, 1, _("Validation"), vbox, NULL);

    wbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
    self->weights_label = gtk_label_new (NULL);
    gtk_label_set_xalign (GTK_LABEL (self->weights_label), 0);
    gtk_widget_set_hexpand (self->weights_label, TRUE);
    gtk_box_append (GTK_BOX (wbox), self->weights_label);
    self->weights_button = gtk_button_new_with_mnemonic (_("_Weights…"));
    gtk_widget_set_tooltip_text (self->weights_button,
                                 _("Keras’ mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5, "
                                   "or any model saved with the same layer names (one Mirada trained)"));
    g_signal_connect (self->weights_button, "clicked", G_CALLBACK (choose_weights), self);
    gtk_box_append (GTK_BOX (wbox), self->weights_button);
    fbox = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_box_append (GTK_BOX (fbox), gtk_label_new (_("Freeze")));
    self->freeze_switch = gtk_switch_new ();
    gtk_widget_set_tooltip_text (self->freeze_switch,
                                 _("Train the new head only: the base keeps its weights and its "
                                   "BatchNormalization statistics"));
    gtk_widget_set_valign (self->freeze_switch, GTK_ALIGN_CENTER);
    gtk_box_append (GTK_BOX (fbox), self->freeze_switch);
    gtk_box_append (GTK_BOX (wbox), fbox);
    row (grid, 3, _("Base weights"), wbox, NULL);
  }
  self->epochs_spin = row (grid, 4, _("Epochs"), gtk_spin_button_new_with_range (1, 500, 1), NULL);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->epochs_spin), 5);
  self->batch_spin = row (grid, 5, _("Batch size"), gtk_spin_button_new_with_range (1, 1024, 1),
                          NULL);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->batch_spin), 32);
  self->lr_spin = row (grid, 6, _("Learning rate"), gtk_spin_button_new_with_range (0.00001, 1, 0.0001),
                       _("Adam's step size (Keras' default 0.001)"));
  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (self->lr_spin), 5);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->lr_spin), 0.001);

  right = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_set_hexpand (right, TRUE);
  gtk_box_append (GTK_BOX (settings), right);
  self->filters_caption = gtk_label_new (_("The first layer’s filters appear here after each epoch"));
  gtk_label_set_xalign (GTK_LABEL (self->filters_caption), 0);
  gtk_box_append (GTK_BOX (right), self->filters_caption);
  self->filters_picture = gtk_picture_new ();
  gtk_picture_set_can_shrink (GTK_PICTURE (self->filters_picture), TRUE);
  gtk_widget_set_size_request (self->filters_picture, 300, 110);
  gtk_box_append (GTK_BOX (right), self->filters_picture);
  self->acts_caption = gtk_label_new (_("…and what it sees in the first image"));
  gtk_label_set_xalign (GTK_LABEL (self->acts_caption), 0);
  gtk_box_append (GTK_BOX (right), self->acts_caption);
  self->acts_picture = gtk_picture_new ();
  gtk_picture_set_can_shrink (GTK_PICTURE (self->acts_picture), TRUE);
  gtk_widget_set_size_request (self->acts_picture, 300, 110);
  gtk_box_append (GTK_BOX (right), self->acts_picture);

  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_append (GTK_BOX (content), buttons);
  self->train_button = gtk_button_new_with_mnemonic (_("_Train"));
  gtk_widget_add_css_class (self->train_button, "suggested-action");
  g_signal_connect (self->train_button, "clicked", G_CALLBACK (on_train), self);
  gtk_box_append (GTK_BOX (buttons), self->train_button);
  self->cancel_button = gtk_button_new_with_mnemonic (_("_Stop"));
  gtk_widget_set_tooltip_text (self->cancel_button,
                               _("Stop after this batch and keep the last finished epoch"));
  g_signal_connect (self->cancel_button, "clicked", G_CALLBACK (on_cancel), self);
  gtk_box_append (GTK_BOX (buttons), self->cancel_button);
  self->save_button = gtk_button_new_with_mnemonic (_("Sa_ve…"));
  g_signal_connect (self->save_button, "clicked", G_CALLBACK (on_save), self);
  gtk_box_append (GTK_BOX (buttons), self->save_button);
  self->open_button = gtk_button_new_with_mnemonic (_("_Open in the Detector"));
  g_signal_connect (self->open_button, "clicked", G_CALLBACK (on_open), self);
  gtk_box_append (GTK_BOX (buttons), self->open_button);
  self->progress = gtk_progress_bar_new ();
  gtk_widget_set_valign (self->progress, GTK_ALIGN_CENTER);
  gtk_widget_set_hexpand (self->progress, TRUE);
  gtk_box_append (GTK_BOX (buttons), self->progress);

  self->status_label = gtk_label_new (_("Choose a dataset, then Train."));
  gtk_label_set_xalign (GTK_LABEL (self->status_label), 0);
  gtk_label_set_wrap (GTK_LABEL (self->status_label), TRUE);
  gtk_box_append (GTK_BOX (content), self->status_label);

  self->chart = gtk_drawing_area_new ();
  gtk_widget_set_vexpand (self->chart, TRUE);
  gtk_widget_set_size_request (self->chart, 600, 300);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->chart), draw_chart, self, NULL);
  gtk_box_append (GTK_BOX (content), self->chart);

  mirada_train_window_set_validation (self, NULL);
  mirada_train_window_set_transfer (self, NULL, TRUE);
  arch_changed (G_OBJECT (self->arch_dropdown), NULL, self);
  adw_window_set_content (ADW_WINDOW (self), box);
  set_running (self, FALSE);
  gtk_widget_set_sensitive (self->train_button, FALSE);
}

MiradaTrainWindow *
mirada_train_window_new (GtkWindow *parent)
{
  return g_object_new (MIRADA_TYPE_TRAIN_WINDOW, "transient-for", parent, NULL);
}
