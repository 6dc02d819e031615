/* Vanilla gradients (Simonyan et al. 2014): the gradient of the class score
 * (before the final activation) with respect to the input image; the map is
 * its largest absolute value over the colour channels, / max. */
#define G_LOG_DOMAIN "mir-gradients"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_gradients (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                       GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  gint in_node = (gint) mir_model_get_input (model, 0);

  if (options == NULL)
    options = &defaults;
  trace = mir_explain_forward (model, input, options, "gradients", in_node, TRUE, &e, cancellable,
                               error);
  if (trace == NULL ||
      !mir_explain_backward (trace, e, in_node, MIR_BACKWARD_DEFAULT, cancellable, error))
    return NULL;
  mir_explain_abs_max_channels (mir_trace_get_grad (trace, (guint) in_node), 0, e->raw);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
