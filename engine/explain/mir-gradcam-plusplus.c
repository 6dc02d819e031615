/* Grad-CAM++ (Chattopadhay et al. 2018, eq. 19) in the closed form for an
 * exponential score that pytorch-grad-cam uses:
 *   α_ijk = g² / (2 g² + Σ_ab A_abk · g³ + ε), 0 where g = 0
 *   w_k = Σ_ij α_ijk ReLU(g_ijk);  map = ReLU(Σ_k w_k A_k)
 * with g = d z_c / dA (z_c before the final activation). */
#define G_LOG_DOMAIN "mir-gradcam-plusplus"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_gradcam_plusplus (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                              GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *grad;
  gint64 hw, c;

  trace = mir_explain_layer_gradient (model, input, options, "gradcam++", &e, &act, &grad,
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
        sum_a[k] += act->data[i * c + k];
    for (gint64 i = 0; i < hw; i++)
      for (gint64 k = 0; k < c; k++)
        {
          double g = grad->data[i * c + k], g2 = g * g, g3 = g2 * g;
          double alpha;

          if (g == 0)
            continue;
          alpha = g2 / (2 * g2 + sum_a[k] * g3 + 1e-6);
          w[k] += alpha * MAX (g, 0.0);
        }
    mir_explain_weighted_sum (e, act, w);
  }
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
