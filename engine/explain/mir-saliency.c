/* Seed 001's "saliency": the mean over channels of the last convolutional
 * layer's activations, np.maximum(s, 0) / np.max(s).  No gradient. */
#define G_LOG_DOMAIN "mir-saliency"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_saliency (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                      GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act;
  gint layer;
  gint64 h, w, c;

  if (options == NULL)
    options = &defaults;
  layer = mir_explain_resolve_layer (model, options->layer, error);
  if (layer < 0)
    return NULL;
  /* class-independent, but report the class and its score like the other
   * methods (the faithfulness measures need the score) */
  trace = mir_explain_forward (model, input, options, "saliency", layer, FALSE, &e, cancellable,
                               error);
  if (trace == NULL)
    return NULL;
  act = mir_trace_get (trace, (guint) layer);
  h = act->shape[1];
  w = act->shape[2];
  c = act->shape[3];
  for (gint64 i = 0; i < h * w; i++)
    {
      double s = 0;
      for (gint64 k = 0; k < c; k++)
        s += act->data[i * c + k];
      e->raw[i] = (float) (s / (double) c);
    }
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
