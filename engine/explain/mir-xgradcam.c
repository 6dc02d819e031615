/* XGrad-CAM (Fu et al. 2020): w_k = Σ_ij g_ijk A_ijk / Σ_ij A_ijk (0 when
 * the channel is all zero); map = ReLU(Σ_k w_k A_k). */
#define G_LOG_DOMAIN "mir-xgradcam"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_xgradcam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *grad;
  gint64 hw, c;

  trace = mir_explain_layer_gradient (model, input, options, "xgradcam", &e, &act, &grad,
                                      cancellable, error);
  if (trace == NULL)
    return NULL;
  hw = act->shape[1] * act->shape[2];
  c = act->shape[3];
  {
    double *w = g_new0 (double, c);
    g_autofree double *sum_a = g_new0 (double, c);

    for (gint64 i = 0; i < hw; i++)
      for (gint64 k = 0; k < c; k++)
        {
          sum_a[k] += act->data[i * c + k];
          w[k] += (double) grad->data[i * c + k] * act->data[i * c + k];
        }
    for (gint64 k = 0; k < c; k++)
      w[k] = w[k] / (sum_a[k] + 1e-7);
    mir_explain_weighted_sum (e, act, w);
  }
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
