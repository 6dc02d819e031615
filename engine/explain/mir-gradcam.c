/* Grad-CAM (Selvaraju et al. 2017) exactly as the seeds' Keras example:
 *   grads = d(score_c before activation) / dA     (tf.GradientTape)
 *   w_k = mean_{i,j} grads[i, j, k]               (tf.reduce_mean axis 0,1,2)
 *   map = ReLU(Σ_k w_k A_k) / max                 (tf.maximum(h, 0) / reduce_max)
 * One forward (kept) and one backward that stops at the layer. */
#define G_LOG_DOMAIN "mir-gradcam"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_gradcam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                     GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) probs = NULL;
  g_autoptr(MirTensor) seed = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *logits, *act, *grad;
  guint out_node = mir_model_get_output (model, 0);
  gint layer;
  gint64 h, w, c;

  if (options == NULL)
    options = &defaults;
  layer = mir_explain_resolve_layer (model, options->layer, error);
  if (layer < 0)
    return NULL;

  /* Probabilities (for the class choice) and logits (for the gradient) come
   * from one run: the last layer runs without its activation, which is then
   * applied here. */
  trace = mir_model_run (model, &input, 1, MIR_RUN_FOR_BACKWARD | MIR_RUN_LOGITS, -1, 0,
                         cancellable, error);
  if (trace == NULL)
    return NULL;
  logits = mir_trace_get_output (trace, 0);
  probs = mir_tensor_dup (logits, error);
  if (probs == NULL)
    return NULL;
  mir_activation_forward (mir_model_get_node (model, out_node)->layer->activation,
                          probs->data, probs->data, probs->numel,
                          (gsize) probs->shape[probs->ndim - 1]);

  act = mir_trace_get (trace, (guint) layer);
  h = act->shape[1];
  w = act->shape[2];
  c = act->shape[3];
  e = mir_explanation_new ("gradcam", model, layer, (int) w, (int) h);
  if (!mir_explain_resolve_class (model, probs, options, e, error))
    return NULL;
  e->score = e->complement ? -logits->data[e->class_index] : logits->data[e->class_index];

  seed = mir_tensor_new_like (logits, error);
  if (seed == NULL)
    return NULL;
  /* d(−z)/dz = −1: the complement of a sigmoid is σ(−z) */
  seed->data[e->class_index] = e->complement ? -1.0f : 1.0f;
  if (!mir_trace_backward (trace, out_node, seed, layer, MIR_BACKWARD_DEFAULT, cancellable, error))
    return NULL;
  grad = mir_trace_get_grad (trace, (guint) layer);
  if (grad == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The score does not depend on layer '%s'"), e->layer_name);
      return NULL;
    }

  {
    g_autofree double *weights = g_new0 (double, c);

    for (gint64 i = 0; i < h * w; i++)
      for (gint64 k = 0; k < c; k++)
        weights[k] += grad->data[i * c + k];
    for (gint64 k = 0; k < c; k++)
      weights[k] /= (double) (h * w);
    for (gint64 i = 0; i < h * w; i++)
      {
        double s = 0;
        for (gint64 k = 0; k < c; k++)
          s += weights[k] * act->data[i * c + k];
        e->raw[i] = (float) s;
      }
  }
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
