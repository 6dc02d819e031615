/* HiResCAM (Draelos & Carin 2020): map = ReLU(Σ_k g_k ⊙ A_k), the
 * element-wise product of the gradient and the activations, summed over
 * channels.  Equals Grad-CAM when g is spatially constant. */
#define G_LOG_DOMAIN "mir-hirescam"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_hirescam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                      GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *grad;
  gint64 hw, c;

  trace = mir_explain_layer_gradient (model, input, options, "hirescam", &e, &act, &grad,
                                      cancellable, error);
  if (trace == NULL)
    return NULL;
  hw = act->shape[1] * act->shape[2];
  c = act->shape[3];
  for (gint64 i = 0; i < hw; i++)
    {
      double s = 0;
      for (gint64 k = 0; k < c; k++)
        s += (double) grad->data[i * c + k] * act->data[i * c + k];
      e->raw[i] = (float) s;
    }
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
