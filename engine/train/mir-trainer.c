#define G_LOG_DOMAIN "mir-trainer"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include <cblas.h>

#include "mir-error.h"
#include "mir-keras.h"
#include "mir-keras-writer.h"
#include "mir-parallel.h"
#include "mir-layer-rng.h"
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
  guint layer_index;   /* in mir_model_dup_layers() */
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
          WeightRef w = { layer, l, j, NULL };
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

/* ------------------------------------------------------------------ */
/* Data-parallel steps.
 *
 * A step's batch is split into contiguous parts, one per worker; worker 0
 * runs the trained model itself on the calling thread, the others each run a
 * replica (rebuilt from the model's Keras config, so no layer state is
 * shared between threads) from an exclusive thread pool.  Each worker keeps
 * its own trace (activations and gradients) and seeds its stochastic layers
 * with a hash of the step's seed and its index, so a run is reproducible for a given
 * seed and number of workers.  The loss gradient of part w is scaled by
 * n_w / n so that the weight gradients, summed in worker order, are those of
 * the whole batch's mean loss.  BatchNormalization uses each part's own
 * statistics ("ghost batch normalization"); its moving statistics are the
 * mean of the workers' updated copies.  While workers run, OpenBLAS is
 * single-threaded (process-wide): two workers on two cores beat two-thread
 * GEMMs on the small matrices of a small CNN. */

typedef struct _Team Team;

typedef struct
{
  Team *team;
  MirModel *model;     /* worker 0: the trained model; others: a replica (owned) */
  GPtrArray *layers;   /* mir_model_dup_layers (model) */
  MirTensor *part;     /* this step's rows of the batch (a view) */
  const gint32 *labels;
  gsize n;
  guint64 seed;
  MirTrace *trace;
  MirLossResult result;
  GError *error;
} Worker;

struct _Team
{
  MirModel *model;
  MirLossKind kind;
  GArray *refs;        /* WeightRef of the trained model */
  guint n_workers;
  Worker *workers;
  GPtrArray *grads;    /* summed gradient per ref (NULL for non-trainable) */
  GThreadPool *pool;
  /* Handed over with atomics written in this file (GLib's own locks are
   * invisible to ThreadSanitizer), as in mir-parallel.c; the mutex and
   * condition only put the caller to sleep. */
  gint round;          /* atomic: bumped once a step's parts are set up */
  gint pending;        /* atomic: workers of this step still running */
  GMutex lock;
  GCond cond;
  gboolean blas_single; /* inside a mir_blas_single_begin() section */
  GCancellable *cancellable;
  gsize batch_n;
};

static gboolean
ref_is_trainable (const WeightRef *w)
{
  return w->layer->trainable && w->layer->weights[w->index].trainable;
}

static void
worker_run (Worker *w)
{
  Team *team = w->team;
  g_autoptr(MirTensor) grad = NULL;
  MirTensor *logits;

  w->result = (MirLossResult) { 0 };
  w->trace = mir_model_run (w->model, &w->part, 1,
                            MIR_RUN_TRAINING | MIR_RUN_FOR_BACKWARD | MIR_RUN_LOGITS, -1, w->seed,
                            team->cancellable, &w->error);
  if (w->trace == NULL)
    return;
  logits = mir_trace_get_output (w->trace, 0);
  grad = mir_tensor_new_like (logits, &w->error);
  if (grad == NULL || !mir_loss_compute (team->kind, logits, w->labels, grad, &w->result,
                                         &w->error))
    return;
  if (!isfinite (w->result.loss))
    return; /* the caller stops */
  if (w->n != team->batch_n)
    {
      float s = (float) ((double) w->n / (double) team->batch_n);
      for (gsize i = 0; i < grad->numel; i++)
        grad->data[i] *= s;
    }
  mir_trace_backward (w->trace, mir_model_get_output (w->model, 0), grad, -1,
                      MIR_BACKWARD_WEIGHTS, team->cancellable, &w->error);
}

static void
team_thread (gpointer data, gpointer user_data)
{
  Worker *w = data;
  Team *team = g_atomic_pointer_get (&w->team);

  if (g_atomic_int_get (&team->round) > 0) /* acquires the step's setup */
    worker_run (w);
  if (g_atomic_int_dec_and_test (&team->pending))
    {
      g_mutex_lock (&team->lock);
      g_cond_signal (&team->cond);
      g_mutex_unlock (&team->lock);
    }
}

/* A copy of @model's graph and layers (weights are copied per step). */
static MirModel *
replica_new (MirModel *model, GPtrArray *layers, GError **error)
{
  g_autofree char *json = mir_keras_model_config_json (model, error);
  g_autoptr(MirModel) copy = NULL;
  g_autoptr(GPtrArray) copy_layers = NULL;

  if (json == NULL || !(copy = mir_keras_model_from_config (json, -1, error)) ||
      !mir_model_finish (copy, TRUE, 0, error))
    return NULL;
  copy_layers = mir_model_dup_layers (copy);
  if (copy_layers->len != layers->len)
    goto mismatch;
  for (guint l = 0; l < layers->len; l++)
    {
      MirLayer *a = layers->pdata[l], *b = copy_layers->pdata[l];
      if (a->n_weights != b->n_weights)
        goto mismatch;
      for (guint j = 0; j < a->n_weights; j++)
        if (!mir_tensor_same_shape (a->weights[j].value, b->weights[j].value))
          goto mismatch;
      b->trainable = a->trainable;
      for (guint j = 0; j < a->n_weights; j++)
        b->weights[j].trainable = a->weights[j].trainable;
    }
  return g_steal_pointer (&copy);

mismatch:
  g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
               _("Model '%s' cannot be copied for data-parallel training (its saved "
                 "configuration builds different layers)"), model->name);
  return NULL;
}

static void
team_free (Team *team)
{
  if (team->pool)
    g_thread_pool_free (team->pool, FALSE, TRUE);
  for (guint w = 0; w < team->n_workers; w++)
    {
      Worker *wk = &team->workers[w];
      g_clear_pointer (&wk->trace, mir_trace_free);
      g_clear_pointer (&wk->part, mir_tensor_unref);
      g_clear_pointer (&wk->layers, g_ptr_array_unref);
      g_clear_error (&wk->error);
      if (w > 0)
        g_clear_pointer (&wk->model, mir_model_unref);
    }
  g_free (team->workers);
  g_clear_pointer (&team->grads, g_ptr_array_unref);
  if (team->blas_single)
    mir_blas_single_end ();
  g_mutex_clear (&team->lock);
  g_cond_clear (&team->cond);
  g_free (team);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Team, team_free)

/* @n_threads: 0 for the engine's thread count (mir_parallel_threads()). */
static Team *
team_new (MirModel *model, GArray *refs, MirLossKind kind, guint n_threads, GError **error)
{
  g_autoptr(Team) team = g_new0 (Team, 1);
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  guint wanted = MAX (n_threads ? n_threads : mir_parallel_threads (), 1);

  g_mutex_init (&team->lock);
  g_cond_init (&team->cond);
  team->model = model;
  team->kind = kind;
  team->refs = refs;
  team->n_workers = 1;
  team->workers = g_new0 (Worker, wanted);
  team->grads = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_tensor_unref);
  for (guint i = 0; i < refs->len; i++)
    g_ptr_array_add (team->grads, NULL);
  team->workers[0].team = team;
  team->workers[0].model = model;
  team->workers[0].layers = g_ptr_array_ref (layers);
  for (guint w = 1; w < wanted; w++)
    {
      Worker *wk = &team->workers[w];
      if (!(wk->model = replica_new (model, layers, error)))
        return NULL;
      wk->layers = mir_model_dup_layers (wk->model);
      /* atomic: the pool may hand this worker to a thread GLib kept from an
       * earlier pool, a hand-over ThreadSanitizer cannot see */
      g_atomic_pointer_set (&wk->team, team);
      team->n_workers++;
    }
  if (team->n_workers > 1)
    {
      gint64 one = 1;

      /* The engine's lazily initialised statics (g_once) are set here,
       * before the pool's threads exist: g_once_init_leave() runs inside
       * uninstrumented GLib, so ThreadSanitizer would not see the hand-over. */
      mir_tensor_unref (mir_tensor_new_uninitialized (1, &one, NULL));
      mir_blas_single_begin ();
      team->blas_single = TRUE;
      team->pool = g_thread_pool_new (team_thread, NULL, (gint) team->n_workers - 1, TRUE, error);
      if (team->pool == NULL)
        return NULL;
    }
  return g_steal_pointer (&team);
}

/* OpenBLAS gets its threads back while the team is idle (validation). */
static void
team_pause (Team *team, gboolean pause)
{
  if (team->n_workers <= 1 || team->blas_single == !pause)
    return;
  if (pause)
    mir_blas_single_end ();
  else
    mir_blas_single_begin ();
  team->blas_single = !pause;
}

static MirTensor *
worker_weight (Worker *wk, const WeightRef *w)
{
  MirLayer *layer = wk->layers->pdata[w->layer_index];
  return layer->weights[w->index].value;
}

/* One forward and backward over @batch: the summed gradients are in
 * team->grads, @result holds the summed loss (NaN when not finite). */
static gboolean
team_gradients (Team *team, MirTensor *batch, const gint32 *labels, guint64 seed,
                MirLossResult *result, GCancellable *cancellable, GError **error)
{
  gsize n = (gsize) batch->shape[0];
  guint used = (guint) MIN ((gsize) team->n_workers, n);
  gsize first = 0;
  gboolean ok = TRUE, have;

  team->batch_n = n;
  team->cancellable = cancellable;
  *result = (MirLossResult) { 0 };
  for (guint w = 0; w < used; w++)
    {
      Worker *wk = &team->workers[w];
      wk->n = n / used + (w < n % used);
      wk->part = mir_tensor_view_batch (batch, (gint64) first, (gint64) wk->n);
      wk->labels = labels + first;
      wk->seed = w ? mir_rng_u64 (seed, w) : seed; /* worker 0: as on one thread */
      first += wk->n;
      if (w > 0)
        for (guint i = 0; i < team->refs->len; i++)
          {
            const WeightRef *r = &g_array_index (team->refs, WeightRef, i);
            mir_tensor_copy_data (worker_weight (wk, r), r->layer->weights[r->index].value);
          }
    }
  g_atomic_int_set (&team->pending, (gint) used - 1);
  g_atomic_int_inc (&team->round);
  for (guint w = 1; w < used; w++)
    if (!g_thread_pool_push (team->pool, &team->workers[w], NULL))
      team_thread (&team->workers[w], NULL); /* cannot happen: the threads exist */
  worker_run (&team->workers[0]);
  g_mutex_lock (&team->lock);
  while (g_atomic_int_get (&team->pending) > 0)
    g_cond_wait (&team->cond, &team->lock);
  g_mutex_unlock (&team->lock);

  for (guint w = 0; w < used; w++)
    {
      Worker *wk = &team->workers[w];
      if (wk->error != NULL && ok)
        {
          g_propagate_error (error, g_steal_pointer (&wk->error));
          ok = FALSE;
        }
      g_clear_error (&wk->error);
      result->loss += wk->result.loss;
      result->n_correct += wk->result.n_correct;
    }
  for (guint i = 0; ok && isfinite (result->loss) && i < team->refs->len; i++)
    {
      const WeightRef *r = &g_array_index (team->refs, WeightRef, i);
      MirTensor *value = r->layer->weights[r->index].value;

      if (!ref_is_trainable (r))
        {
          /* moving statistics: the mean of the workers' copies */
          if (used > 1)
            for (gsize k = 0; k < value->numel; k++)
              {
                double s = 0;
                for (guint w = 0; w < used; w++)
                  s += worker_weight (&team->workers[w], r)->data[k];
                value->data[k] = (float) (s / used);
              }
          if (used > 1)
            mir_tensor_changed (value);
          continue;
        }
      have = FALSE;
      for (guint w = 0; w < used; w++)
        {
          Worker *wk = &team->workers[w];
          MirTensor *g = mir_trace_get_weight_grad (wk->trace, wk->layers->pdata[r->layer_index],
                                                    r->index);
          MirTensor *sum = team->grads->pdata[i];

          if (g == NULL)
            continue;
          if (!have && sum == NULL)
            {
              if (!(team->grads->pdata[i] = mir_tensor_dup (g, error)))
                {
                  ok = FALSE;
                  break;
                }
            }
          else if (!have)
            mir_tensor_copy_data (sum, g);
          else
            for (gsize k = 0; k < sum->numel; k++)
              sum->data[k] += g->data[k];
          have = TRUE;
        }
      if (!have)
        g_clear_pointer (&team->grads->pdata[i], mir_tensor_unref);
    }
  for (guint w = 0; w < used; w++)
    {
      g_clear_pointer (&team->workers[w].trace, mir_trace_free);
      g_clear_pointer (&team->workers[w].part, mir_tensor_unref);
    }
  return ok;
}

static gboolean
train_step (Team *team, MirOptimizer *opt, MirTensor *batch, const gint32 *labels,
            guint64 seed, MirLossResult *result, GCancellable *cancellable, GError **error)
{
  if (!team_gradients (team, batch, labels, seed, result, cancellable, error))
    return FALSE;
  if (!isfinite (result->loss))
    return TRUE; /* the caller stops */

  mir_optimizer_begin_step (opt);
  for (guint i = 0; i < team->refs->len; i++)
    {
      WeightRef *w = &g_array_index (team->refs, WeightRef, i);
      MirTensor *g = team->grads->pdata[i];

      if (!ref_is_trainable (w) || g == NULL)
        continue;
      if (!all_finite (g))
        {
          result->loss = NAN;
          return TRUE;
        }
      if (!mir_optimizer_update (opt, w->layer->weights[w->index].value, g, error))
        {
          g_prefix_error (error, _("Layer '%s': "), w->layer->name);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
mir_train_gradients (MirModel *model, MirTensor *batch, const gint32 *labels, guint n_threads,
                     guint64 seed, GPtrArray **grads, double *loss, GError **error)
{
  g_autoptr(GArray) refs = NULL;
  g_autoptr(Team) team = NULL;
  MirLossResult r;

  g_return_val_if_fail (grads != NULL, FALSE);
  if (!(refs = collect_weights (model, error)) ||
      !(team = team_new (model, refs, mir_loss_kind_for_model (model), n_threads, error)) ||
      !team_gradients (team, batch, labels, seed, &r, NULL, error))
    return FALSE;
  *grads = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_tensor_unref);
  for (guint i = 0; i < refs->len; i++)
    if (ref_is_trainable (&g_array_index (refs, WeightRef, i)))
      g_ptr_array_add (*grads, g_steal_pointer (&team->grads->pdata[i]));
  if (loss)
    *loss = r.loss / (double) batch->shape[0];
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
  g_autoptr(Team) team = NULL;
  GError *local_error = NULL;
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
  if (!(team = team_new (model, refs, kind, options->n_threads, &local_error)))
    {
      /* a model whose config does not rebuild it trains on one worker */
      g_debug ("Training on one worker: %s", local_error->message);
      g_clear_error (&local_error);
      if (!(team = team_new (model, refs, kind, 1, error)))
        return FALSE;
    }
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
          if (!train_step (team, opt, batch, labels,
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
          gboolean ok;

          stats.has_validation = TRUE;
          team_pause (team, TRUE);
          ok = mir_evaluate_dataset (model, validation, options->preprocess, batch_size,
                                     &stats.val_loss, &stats.val_accuracy, cancellable, error);
          team_pause (team, FALSE);
          if (!ok)
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
