/* Grad-CAM (Selvaraju et al. 2017) exactly as the seeds' Keras example:
 *   grads = d(score_c before activation) / dA     (tf.GradientTape)
 *   w_k = mean_{i,j} grads[i, j, k]               (tf.reduce_mean axis 0,1,2)
 *   map = ReLU(Σ_k w_k A_k) / max                 (tf.maximum(h, 0) / reduce_max)
 * One forward (kept, with logits) and one backward that stops at the layer. */
#define G_LOG_DOMAIN "mir-gradcam"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_gradcam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *grad;
  gint64 hw, c;
  double *weights;

  trace = mir_explain_layer_gradient (model, input, options, "gradcam", &e, &act, &grad,
                                      cancellable, error);
  if (trace == NULL)
    return NULL;
  hw = act->shape[1] * act->shape[2];
  c = act->shape[3];
  weights = g_new0 (double, c);
  for (gint64 i = 0; i < hw; i++)
    for (gint64 k = 0; k < c; k++)
      weights[k] += grad->data[i * c + k];
  for (gint64 k = 0; k < c; k++)
    weights[k] /= (double) hw;
  mir_explain_weighted_sum (e, act, weights);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
