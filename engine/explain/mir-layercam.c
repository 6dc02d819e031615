/* LayerCAM (Jiang et al. 2021): map = ReLU(Σ_k ReLU(g_k) ⊙ A_k). */
#define G_LOG_DOMAIN "mir-layercam"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_layercam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *grad;
  gint64 hw, c;

  trace = mir_explain_layer_gradient (model, input, options, "layercam", &e, &act, &grad,
                                      cancellable, error);
  if (trace == NULL)
    return NULL;
  hw = act->shape[1] * act->shape[2];
  c = act->shape[3];
  for (gint64 i = 0; i < hw; i++)
    {
      double s = 0;
      for (gint64 k = 0; k < c; k++)
        s += (double) MAX (grad->data[i * c + k], 0.0f) * act->data[i * c + k];
      e->raw[i] = (float) s;
    }
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
