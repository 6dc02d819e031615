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
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *grad;
  gint layer;
  gint64 hw, c;

  if (options == NULL)
    options = &defaults;
  if ((layer = mir_explain_resolve_layer (model, options->layer, error)) < 0)
    return NULL;
  trace = mir_explain_forward (model, input, options, "xgradcam", layer, TRUE, &e, cancellable,
                               error);
  if (trace == NULL || !mir_explain_backward (trace, e, layer, MIR_BACKWARD_DEFAULT, cancellable,
                                              error))
    return NULL;
  act = mir_trace_get (trace, (guint) layer);
  grad = mir_trace_get_grad (trace, (guint) layer);
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
