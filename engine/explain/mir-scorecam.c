/* Score-CAM (Wang et al. 2020) as pytorch-grad-cam computes it: each channel
 * A_k of the layer is upsampled (bilinear) to the input, min–max normalised
 * to [0, 1] and multiplies the input; the class scores z_k of the masked
 * inputs (before the final activation) give w = softmax_k (z_k);
 * map = ReLU(Σ_k w_k A_k).
 *
 * The masked inputs go through the engine MIR_EXPLAIN_BATCH at a time;
 * cancellation is checked per layer.  A channel whose upsampled map is
 * constant (all zero after a ReLU, typically) masks everything out: all
 * such channels share one masked input, the zero image, which runs once.
 * With options->max_channels = N > 0, only the N channels with the largest
 * spatial standard deviation of A_k take part (Faster Score-CAM, the
 * max_N of Tabayashi's Keras Score-CAM): the softmax and the sum run over
 * them, the others weigh 0. */
#define G_LOG_DOMAIN "mir-scorecam"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"
#include "mir-error.h"

/* The class-independent part of a Score-CAM run: the logits of every
 * masked input (rows: the masked channels in order, then the zero image of
 * the flat ones), keyed by what decides them. */
struct _MirExplainReuse
{
  MirModel *model;     /* compared, not referenced */
  guint64 input_hash;
  gint64 input_numel;
  gint layer, max_channels;
  gint64 *masked, n_masked;
  gboolean any_flat;
  gint64 k;            /* classes */
  float *logits;       /* (n_masked + any_flat) x k, or NULL */
};

MirExplainReuse *
mir_explain_reuse_new (void)
{
  return g_new0 (MirExplainReuse, 1);
}

static void
reuse_clear (MirExplainReuse *r)
{
  g_clear_pointer (&r->masked, g_free);
  g_clear_pointer (&r->logits, g_free);
  r->model = NULL;
}

void
mir_explain_reuse_free (MirExplainReuse *reuse)
{
  if (reuse == NULL)
    return;
  reuse_clear (reuse);
  g_free (reuse);
}

/* FNV-1a over the input's bytes: a caller that reuses across inputs by
 * mistake starts over instead of getting another image's map. */
static guint64
input_hash (const MirTensor *t)
{
  const guint8 *b = (const guint8 *) t->data;
  guint64 h = G_GUINT64_CONSTANT (14695981039346656037);

  for (gsize i = 0; i < t->numel * sizeof (float); i++)
    h = (h ^ b[i]) * G_GUINT64_CONSTANT (1099511628211);
  return h;
}

static gboolean
reuse_matches (const MirExplainReuse *r, MirModel *model, guint64 hash, const MirTensor *input,
               gint layer, gint max_channels, const gint64 *masked, gint64 n_masked,
               gboolean any_flat, gint64 k)
{
  return r->logits != NULL && r->model == model && r->input_hash == hash && r->k == k &&
         r->input_numel == (gint64) input->numel && r->layer == layer &&
         r->max_channels == max_channels && r->n_masked == n_masked && r->any_flat == any_flat &&
         memcmp (r->masked, masked, sizeof (gint64) * (gsize) n_masked) == 0;
}

/* Every class's logit (before the final activation) for each image of
 * @batch, into @logits (count x *k). */
static gboolean
batch_logits (MirModel *model, MirTensor *batch, float *logits, gint64 k, GCancellable *cancellable,
              GError **error)
{
  g_autoptr(MirTrace) trace = mir_model_run (model, &batch, 1, MIR_RUN_LOGITS, -1, 0, cancellable,
                                             error);
  MirTensor *out;

  if (trace == NULL)
    return FALSE;
  out = mir_trace_get_output (trace, 0);
  if ((gint64) out->numel != batch->shape[0] * k)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Score-CAM: the model's output does not have one score per class"));
      return FALSE;
    }
  memcpy (logits, out->data, sizeof (float) * out->numel);
  return TRUE;
}

static gint
by_sd_desc (gconstpointer a, gconstpointer b, gpointer data)
{
  const double *sd = data;
  double x = sd[*(const gint64 *) a], y = sd[*(const gint64 *) b];

  if (x != y)
    return x > y ? -1 : 1;
  return *(const gint64 *) a < *(const gint64 *) b ? -1 : 1; /* ties: lower index first */
}

/* Channels taking part: all, or the @max with the largest spatial standard
 * deviation. */
static gint64
select_channels (const MirTensor *act, gint64 max, gint64 *chosen)
{
  gint64 hw = act->shape[1] * act->shape[2], c = act->shape[3];
  g_autofree double *sd = NULL;

  for (gint64 k = 0; k < c; k++)
    chosen[k] = k;
  if (max <= 0 || max >= c)
    return c;
  sd = g_new0 (double, c);
  for (gint64 k = 0; k < c; k++)
    {
      double m = 0, v = 0;
      for (gint64 i = 0; i < hw; i++)
        m += act->data[i * c + k];
      m /= (double) hw;
      for (gint64 i = 0; i < hw; i++)
        v += (act->data[i * c + k] - m) * (act->data[i * c + k] - m);
      sd[k] = sqrt (v / (double) hw);
    }
  g_qsort_with_data (chosen, (gint) c, sizeof (gint64), by_sd_desc, sd);
  return max;
}

MirExplanation *
mir_explain_scorecam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                      GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autofree float *chan = NULL;
  g_autofree float *up = NULL;
  g_autofree double *scores = NULL;
  g_autofree gint64 *chosen = NULL, *masked = NULL;
  g_autofree gboolean *flat = NULL;
  MirTensor *act;
  gint layer;
  gint64 h, w, hw, c, ih, iw, ic, ihw, n_chosen, n_masked = 0;
  gboolean any_flat = FALSE, reused = FALSE;
  double *weights, top = -G_MAXDOUBLE, sum = 0, flat_score = 0;
  g_autofree float *own_logits = NULL;
  float *logits = NULL;
  gint64 k_classes, rows;

  if (options == NULL)
    options = &defaults;
  if (options->max_channels < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Score-CAM: the number of channels must be 0 (all) or more, not %d"),
                   options->max_channels);
      return NULL;
    }
  if ((layer = mir_explain_resolve_layer (model, options->layer, error)) < 0)
    return NULL;
  trace = mir_explain_forward (model, input, options, "scorecam", layer, FALSE, &e, cancellable,
                               error);
  if (trace == NULL)
    return NULL;
  act = mir_trace_get (trace, (guint) layer);
  h = act->shape[1];
  w = act->shape[2];
  c = act->shape[3];
  hw = h * w;
  ih = input->shape[1];
  iw = input->shape[2];
  ic = input->shape[3];
  ihw = ih * iw;
  chan = g_new (float, hw);
  up = g_new (float, ihw);
  scores = g_new0 (double, c);
  chosen = g_new (gint64, c);
  masked = g_new (gint64, c);
  flat = g_new0 (gboolean, c);
  n_chosen = select_channels (act, options->max_channels, chosen);

  /* Which chosen channels need a forward of their own: not the flat ones. */
  for (gint64 j = 0; j < n_chosen; j++)
    {
      gint64 k = chosen[j];
      float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;

      for (gint64 i = 0; i < hw; i++)
        chan[i] = act->data[i * c + k];
      mir_explain_resize_map (chan, (int) w, (int) h, up, (int) iw, (int) ih);
      for (gint64 i = 0; i < ihw; i++)
        {
          lo = MIN (lo, up[i]);
          hi = MAX (hi, up[i]);
        }
      if (hi - lo > 0)
        masked[n_masked++] = k;
      else
        flat[k] = any_flat = TRUE;
    }

  k_classes = mir_model_get_node (model, mir_model_get_output (model, 0))->shape.dim
                [mir_model_get_node (model, mir_model_get_output (model, 0))->shape.ndim - 1];
  rows = n_masked + (any_flat ? 1 : 0);
  if (options->reuse != NULL)
    {
      MirExplainReuse *r = options->reuse;
      guint64 hash = input_hash (input);

      if (!reuse_matches (r, model, hash, input, layer, options->max_channels, masked, n_masked,
                          any_flat, k_classes))
        {
          reuse_clear (r);
          r->model = model;
          r->input_hash = hash;
          r->input_numel = (gint64) input->numel;
          r->layer = layer;
          r->max_channels = options->max_channels;
          r->masked = g_memdup2 (masked, sizeof (gint64) * (gsize) MAX (n_masked, 1));
          r->n_masked = n_masked;
          r->any_flat = any_flat;
          r->k = k_classes;
        }
      else
        reused = TRUE;
      logits = r->logits;
    }
  if (k_classes < 1 || e->class_index < 0 || e->class_index >= k_classes)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Score-CAM: the model's output does not have one score per class"));
      return NULL;
    }
  if (logits == NULL)
    logits = own_logits = g_new (float, (gsize) (MAX (rows, 1) * k_classes));

  /* The masked inputs, MIR_EXPLAIN_BATCH at a time; the zero image of the
   * flat channels rides along in the last batch. */
  for (gint64 start = 0; !reused && start < rows; start += MIR_EXPLAIN_BATCH)
    {
      gint64 count = MIN (MIR_EXPLAIN_BATCH, n_masked + (any_flat ? 1 : 0) - start);
      g_autoptr(MirTensor) batch = mir_tensor_new_4d (count, ih, iw, ic, error);

      if (batch == NULL)
        return NULL;
      for (gint64 b = 0; b < count; b++)
        {
          float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
          float *dst = batch->data + b * ihw * ic;
          gint64 k;

          if (start + b == n_masked)
            {
              /* a flat channel masks everything out */
              memset (dst, 0, sizeof (float) * (gsize) (ihw * ic));
              continue;
            }
          k = masked[start + b];
          for (gint64 i = 0; i < hw; i++)
            chan[i] = act->data[i * c + k];
          mir_explain_resize_map (chan, (int) w, (int) h, up, (int) iw, (int) ih);
          for (gint64 i = 0; i < ihw; i++)
            {
              lo = MIN (lo, up[i]);
              hi = MAX (hi, up[i]);
            }
          for (gint64 i = 0; i < ihw; i++)
            {
              float m = (up[i] - lo) / (hi - lo);
              for (gint64 ch = 0; ch < ic; ch++)
                dst[i * ic + ch] = input->data[i * ic + ch] * m;
            }
        }
      if (!batch_logits (model, batch, logits + start * k_classes, k_classes, cancellable, error))
        return NULL;
      if (options->progress)
        options->progress ((guint) (start + count), (guint) rows, options->progress_data);
    }
  if (options->reuse != NULL && !reused)
    options->reuse->logits = g_steal_pointer (&own_logits);
  else if (reused && options->progress)
    options->progress ((guint) rows, (guint) rows, options->progress_data);
  for (gint64 row = 0; row < rows; row++)
    {
      double z = logits[row * k_classes + e->class_index];

      z = e->complement ? -z : z;
      if (row == n_masked)
        flat_score = z;
      else
        scores[masked[row]] = z;
    }
  for (gint64 k = 0; k < c; k++)
    if (flat[k])
      scores[k] = flat_score;

  /* softmax over the chosen channels */
  weights = g_new0 (double, c);
  for (gint64 j = 0; j < n_chosen; j++)
    top = MAX (top, scores[chosen[j]]);
  for (gint64 j = 0; j < n_chosen; j++)
    sum += (weights[chosen[j]] = exp (scores[chosen[j]] - top));
  for (gint64 j = 0; j < n_chosen; j++)
    weights[chosen[j]] /= sum;
  mir_explain_weighted_sum (e, act, weights);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
