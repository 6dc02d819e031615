/* Score-CAM (Wang et al. 2020) as pytorch-grad-cam computes it: each channel
 * A_k of the layer is upsampled (bilinear) to the input, min–max normalised
 * to [0, 1] and multiplies the input; the class scores z_k of the masked
 * inputs (before the final activation) give w = softmax_k (z_k);
 * map = ReLU(Σ_k w_k A_k).  The masked inputs go through the engine
 * MIR_EXPLAIN_BATCH at a time; cancellation is checked per layer. */
#define G_LOG_DOMAIN "mir-scorecam"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

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
  MirTensor *act;
  gint layer;
  gint64 h, w, hw, c, ih, iw, ic, ihw;
  double *weights, top = -G_MAXDOUBLE, sum = 0;

  if (options == NULL)
    options = &defaults;
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

  for (gint64 start = 0; start < c; start += MIR_EXPLAIN_BATCH)
    {
      gint64 count = MIN (MIR_EXPLAIN_BATCH, c - start);
      g_autoptr(MirTensor) batch = mir_tensor_new_4d (count, ih, iw, ic, error);

      if (batch == NULL)
        return NULL;
      for (gint64 b = 0; b < count; b++)
        {
          gint64 k = start + b;
          float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
          float *dst = batch->data + b * ihw * ic;

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
              /* a flat channel masks everything out */
              float m = hi - lo > 0 ? (up[i] - lo) / (hi - lo) : 0.0f;
              for (gint64 ch = 0; ch < ic; ch++)
                dst[i * ic + ch] = input->data[i * ic + ch] * m;
            }
        }
      if (!mir_explain_batch_scores (model, batch, e, scores + start, NULL, cancellable, error))
        return NULL;
    }

  /* softmax over channels */
  weights = g_new (double, c);
  for (gint64 k = 0; k < c; k++)
    top = MAX (top, scores[k]);
  for (gint64 k = 0; k < c; k++)
    sum += (weights[k] = exp (scores[k] - top));
  for (gint64 k = 0; k < c; k++)
    weights[k] /= sum;
  mir_explain_weighted_sum (e, act, weights);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
