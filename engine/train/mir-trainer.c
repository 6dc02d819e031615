#define G_LOG_DOMAIN "mir-trainer"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-trainer.h"

void
mir_train_options_init (MirTrainOptions *options)
{
  *options = (MirTrainOptions) { 0 };
  options->epochs = 1;
  options->batch_size = 32;
  mir_optimizer_options_init (&options->optimizer, MIR_OPTIMIZER_ADAM);
  options->preprocess = MIR_PREPROCESS_SCALE;
}

/* The model must take one image input of the dataset's size and output at
 * least as many classes as the dataset has (or one sigmoid for 2 classes). */
static gboolean
check_model (MirModel *model, MirDataset *data, MirLossKind kind, GError **error)
{
  const MirShape *in, *out;
  gint64 K;

  if (model->inputs->len != 1 || model->outputs->len < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Training needs a model with one input (this one has %u)"),
                   model->inputs->len);
      return FALSE;
    }
  in = mir_model_get_input_shape (model, 0);
  if (in->ndim != 4 || (in->dim[1] >= 0 && in->dim[1] != data->height) ||
      (in->dim[2] >= 0 && in->dim[2] != data->width) || in->dim[3] != data->channels)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The model takes inputs of shape %s but the images are %" PRId64
                     "×%" PRId64 "×%" PRId64),
                   s, data->height, data->width, data->channels);
      return FALSE;
    }
  out = mir_model_get_output_shape (model, 0);
  K = out->dim[out->ndim - 1];
  if (out->ndim != 2 || K <= 0 ||
      (kind == MIR_LOSS_SOFTMAX_CROSS_ENTROPY && K < (gint64) data->n_classes) ||
      (kind == MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY && K == 1 && data->n_classes > 2) ||
      (kind == MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY && K > 1 && K < (gint64) data->n_classes))
    {
      g_autofree char *s = mir_shape_to_string (out);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The model's output has shape %s, which cannot classify the dataset's "
                     "%u classes"), s, data->n_classes);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  MirLayer *layer;
  guint index;
  MirTensor *saved;
} WeightRef;

static void
weight_ref_clear (gpointer data)
{
  WeightRef *w = data;
  g_clear_pointer (&w->saved, mir_tensor_unref);
}

static GArray *
collect_weights (MirModel *model, GError **error)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  g_autoptr(GArray) refs = g_array_new (FALSE, TRUE, sizeof (WeightRef));

  g_array_set_clear_func (refs, weight_ref_clear);
  for (guint l = 0; l < layers->len; l++)
    {
      MirLayer *layer = layers->pdata[l];
      for (guint j = 0; j < layer->n_weights; j++)
        {
          WeightRef w = { layer, j, NULL };
          if (layer->weights[j].value == NULL)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                           _("Layer '%s': weight '%s' has no value"), layer->name,
                           layer->weights[j].name);
              return NULL;
            }
          w.saved = mir_tensor_dup (layer->weights[j].value, error);
          if (w.saved == NULL)
            return NULL;
          g_array_append_val (refs, w);
        }
    }
  return g_steal_pointer (&refs);
}

static void
snapshot (GArray *refs, gboolean restore)
{
  for (guint i = 0; i < refs->len; i++)
    {
      WeightRef *w = &g_array_index (refs, WeightRef, i);
      MirTensor *value = w->layer->weights[w->index].value;
      if (restore)
        mir_tensor_copy_data (value, w->saved);
      else
        mir_tensor_copy_data (w->saved, value);
    }
}

static gboolean
all_finite (const MirTensor *t)
{
  for (gsize i = 0; i < t->numel; i++)
    if (!isfinite (t->data[i]))
      return FALSE;
  return TRUE;
}

/* Runs @data through @model in batches in inference mode; for each batch
 * calls back with the logits (@logits) or probabilities. */
typedef gboolean (*BatchOutFunc) (MirTensor *out, const gint32 *labels, gsize first, gsize n,
                                  gpointer user_data, GError **error);

static gboolean
run_batches (MirModel *model, MirDataset *data, MirPreprocessMode preprocess, guint batch_size,
             gboolean logits, BatchOutFunc func, gpointer user_data, GCancellable *cancellable,
             GError **error)
{
  g_autofree guint *idx = NULL;
  g_autofree gint32 *labels = NULL;

  if (batch_size == 0)
    batch_size = 32;
  idx = g_new (guint, batch_size);
  labels = g_new (gint32, batch_size);
  for (gint64 first = 0; first < data->n; first += batch_size)
    {
      gsize n = (gsize) MIN ((gint64) batch_size, data->n - first);
      g_autoptr(MirTensor) batch = NULL;
      g_autoptr(MirTrace) trace = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      for (gsize i = 0; i < n; i++)
        idx[i] = (guint) (first + (gint64) i);
      batch = mir_tensor_new_4d ((gint64) n, data->height, data->width, data->channels, error);
      if (batch == NULL ||
          !mir_dataset_fill_batch (data, idx, n, batch, labels, preprocess, NULL, NULL, error))
        return FALSE;
      trace = mir_model_run (model, &batch, 1, logits ? MIR_RUN_LOGITS : MIR_RUN_DEFAULT, -1, 0,
                             cancellable, error);
      if (trace == NULL)
        return FALSE;
      if (!func (mir_trace_get_output (trace, 0), labels, (gsize) first, n, user_data, error))
        return FALSE;
    }
  return TRUE;
}

typedef struct
{
  MirLossKind kind;
  double loss;
  guint64 correct;
} EvalAcc;

static gboolean
eval_batch (MirTensor *out, const gint32 *labels, gsize first, gsize n, gpointer user_data,
            GError **error)
{
  EvalAcc *acc = user_data;
  MirLossResult r;

  if (!mir_loss_compute (acc->kind, out, labels, NULL, &r, error))
    return FALSE;
  acc->loss += r.loss;
  acc->correct += r.n_correct;
  return TRUE;
}

gboolean
mir_evaluate_dataset (MirModel *model, MirDataset *data, MirPreprocessMode preprocess,
                      guint batch_size, double *loss, double *accuracy,
                      GCancellable *cancellable, GError **error)
{
  EvalAcc acc = { mir_loss_kind_for_model (model), 0, 0 };

  if (!check_model (model, data, acc.kind, error))
    return FALSE;
  if (!run_batches (model, data, preprocess, batch_size, TRUE, eval_batch, &acc, cancellable,
                    error))
    return FALSE;
  if (loss)
    *loss = data->n ? acc.loss / (double) data->n : 0;
  if (accuracy)
    *accuracy = data->n ? (double) acc.correct / (double) data->n : 0;
  return TRUE;
}

static gboolean
predict_batch (MirTensor *out, const gint32 *labels, gsize first, gsize n, gpointer user_data,
               GError **error)
{
  MirTensor **result = user_data;
  gsize K = (gsize) out->shape[out->ndim - 1];

  memcpy ((*result)->data + first * K, out->data, n * K * sizeof (float));
  return TRUE;
}

MirTensor *
mir_predict_dataset (MirModel *model, MirDataset *data, MirPreprocessMode preprocess,
                     guint batch_size, GCancellable *cancellable, GError **error)
{
  const MirShape *out;
  g_autoptr(MirTensor) result = NULL;

  if (!check_model (model, data, mir_loss_kind_for_model (model), error))
    return NULL;
  out = mir_model_get_output_shape (model, 0);
  result = mir_tensor_new_2d (data->n, out->dim[out->ndim - 1], error);
  if (result == NULL)
    return NULL;
  if (!run_batches (model, data, preprocess, batch_size, FALSE, predict_batch, &result,
                    cancellable, error))
    return NULL;
  return g_steal_pointer (&result);
}

static gboolean
train_step (MirModel *model, MirOptimizer *opt, GArray *refs, MirLossKind kind, MirTensor *batch,
            const gint32 *labels, guint64 seed, MirLossResult *result, GCancellable *cancellable,
            GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) grad = NULL;
  MirTensor *logits;
  guint out_node = mir_model_get_output (model, 0);

  trace = mir_model_run (model, &batch, 1,
                         MIR_RUN_TRAINING | MIR_RUN_FOR_BACKWARD | MIR_RUN_LOGITS, -1, seed,
                         cancellable, error);
  if (trace == NULL)
    return FALSE;
  logits = mir_trace_get_output (trace, 0);
  grad = mir_tensor_new_like (logits, error);
  if (grad == NULL || !mir_loss_compute (kind, logits, labels, grad, result, error))
    return FALSE;
  if (!isfinite (result->loss))
    return TRUE; /* the caller stops */
  if (!mir_trace_backward (trace, out_node, grad, -1, MIR_BACKWARD_WEIGHTS, cancellable, error))
    return FALSE;

  mir_optimizer_begin_step (opt);
  for (guint i = 0; i < refs->len; i++)
    {
      WeightRef *w = &g_array_index (refs, WeightRef, i);
      MirWeight *weight = &w->layer->weights[w->index];
      MirTensor *g;

      if (!weight->trainable || !w->layer->trainable)
        continue;
      g = mir_trace_get_weight_grad (trace, w->layer, w->index);
      if (g == NULL)
        continue;
      if (!all_finite (g))
        {
          result->loss = NAN;
          return TRUE;
        }
      if (!mir_optimizer_update (opt, weight->value, g, error))
        {
          g_prefix_error (error, _("Layer '%s': "), w->layer->name);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
mir_train (MirModel *model, MirDataset *data, const MirTrainOptions *options,
           guint *epochs_done, GCancellable *cancellable, GError **error)
{
  g_autoptr(MirDataset) train = NULL;
  g_autoptr(MirDataset) validation = NULL;
  g_autoptr(MirOptimizer) opt = NULL;
  g_autoptr(GArray) refs = NULL;
  g_autoptr(GRand) rng = NULL;
  g_autofree guint *order = NULL;
  g_autofree gint32 *labels = NULL;
  const MirAugmentOptions *augment = NULL;
  MirLossKind kind = mir_loss_kind_for_model (model);
  guint batch_size = options->batch_size ? options->batch_size : 32;
  guint64 step = 0;
  guint n_batches;

  if (epochs_done)
    *epochs_done = 0;
  if (options->validation != NULL)
    {
      train = mir_dataset_ref (data);
      validation = mir_dataset_ref (options->validation);
    }
  else if (!mir_dataset_split (data, options->validation_split, &train, &validation, error))
    return FALSE;
  if (train->n == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The training set is empty"));
      return FALSE;
    }
  if (!check_model (model, train, kind, error) ||
      (validation && !check_model (model, validation, kind, error)))
    return FALSE;
  if (!(opt = mir_optimizer_new (&options->optimizer, error)))
    return FALSE;
  if (!(refs = collect_weights (model, error)))
    return FALSE;
  if (options->augment.max_shift > 0 || options->augment.flip)
    augment = &options->augment;

  rng = g_rand_new_with_seed ((guint32) (options->seed ^ (options->seed >> 32)));
  order = g_new (guint, train->n);
  labels = g_new (gint32, batch_size);
  for (gint64 i = 0; i < train->n; i++)
    order[i] = (guint) i;
  n_batches = (guint) ((train->n + batch_size - 1) / batch_size);

  for (guint epoch = 1; epoch <= options->epochs; epoch++)
    {
      MirEpochStats stats = { 0 };
      gint64 t0 = g_get_monotonic_time ();
      double loss_sum = 0;
      guint64 correct = 0, seen = 0;

      if (options->lr_decay_every > 0 && options->lr_decay > 0)
        mir_optimizer_set_learning_rate (opt, options->optimizer.learning_rate *
                                              pow (options->lr_decay,
                                                   (epoch - 1) / options->lr_decay_every));
      mir_shuffle_indices (order, (gsize) train->n, rng);
      for (guint b = 0; b < n_batches; b++)
        {
          gsize first = (gsize) b * batch_size;
          gsize n = MIN ((gsize) batch_size, (gsize) train->n - first);
          g_autoptr(MirTensor) batch = NULL;
          MirLossResult r = { 0 };

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            goto fail;
          batch = mir_tensor_new_4d ((gint64) n, train->height, train->width, train->channels,
                                     error);
          if (batch == NULL ||
              !mir_dataset_fill_batch (train, order + first, n, batch, labels,
                                       options->preprocess, augment, rng, error))
            goto fail;
          step++;
          if (!train_step (model, opt, refs, kind, batch, labels,
                           options->seed * G_GUINT64_CONSTANT (6364136223846793005) + step, &r,
                           cancellable, error))
            goto fail;
          if (!isfinite (r.loss))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                           _("Training diverged in epoch %u, batch %u (the loss is no longer "
                             "finite); try a lower learning rate"), epoch, b + 1);
              goto fail;
            }
          loss_sum += r.loss;
          correct += r.n_correct;
          seen += n;
          if (options->batch_func)
            options->batch_func (epoch, b + 1, n_batches, loss_sum / (double) seen,
                                 options->user_data);
        }

      stats.epoch = epoch;
      stats.n_epochs = options->epochs;
      stats.n_samples = seen;
      stats.loss = loss_sum / (double) MAX (seen, 1);
      stats.accuracy = (double) correct / (double) MAX (seen, 1);
      if (validation != NULL)
        {
          stats.has_validation = TRUE;
          if (!mir_evaluate_dataset (model, validation, options->preprocess, batch_size,
                                     &stats.val_loss, &stats.val_accuracy, cancellable, error))
            goto fail;
        }
      /* The epoch is finished: keep its weights. */
      snapshot (refs, FALSE);
      if (epochs_done)
        *epochs_done = epoch;
      stats.seconds = (double) (g_get_monotonic_time () - t0) / 1e6;
      if (options->epoch_func)
        options->epoch_func (&stats, options->user_data);
    }
  return TRUE;

fail:
  snapshot (refs, TRUE);
  return FALSE;
}
