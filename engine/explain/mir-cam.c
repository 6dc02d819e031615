/* CAM (Zhou et al. 2016) as seed 003 computes it, for heads
 * GlobalAveragePooling2D → Dense: map = features · W[:, c] where features is
 * the pooling's input and W the Dense kernel; cv2.NORM_MINMAX to [0, 1].
 * Heads with no Dense (a convolution with one channel per class, then
 * GlobalAveragePooling2D, as in mini-Xception) have W = identity. */
#define G_LOG_DOMAIN "mir-cam"

#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"
#include "layers/mir-layers.h"

/* Walks back from the output over layers that do not mix channels spatially
 * (Activation, Softmax, Dropout) to find Dense ← GlobalAveragePooling2D. */
static gboolean
find_head (MirModel *model, gint *dense_out, gint *features_out, GError **error)
{
  gint i = (gint) mir_model_get_output (model, 0);
  MirNode *node = mir_model_get_node (model, (guint) i);

  while (node->n_inputs == 1 &&
         (node->layer->klass == &mir_layer_activation_class ||
          node->layer->klass == &mir_layer_softmax_class ||
          (node->layer->klass->flags & MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE)))
    {
      i = (gint) node->inputs[0];
      node = mir_model_get_node (model, (guint) i);
    }
  /* Fully convolutional heads (mini-Xception): the pooled maps are the class
   * scores themselves, so the CAM of class c is channel c. */
  if (node->layer->klass == &mir_layer_global_average_pooling2d_class && node->n_inputs == 1 &&
      node->shape.ndim == 2)
    {
      *dense_out = -1;
      *features_out = (gint) node->inputs[0];
      return TRUE;
    }
  if (node->layer->klass == &mir_layer_dense_class && node->n_inputs == 1)
    {
      gint gap = (gint) node->inputs[0];
      MirNode *g = mir_model_get_node (model, (guint) gap);

      while (g->n_inputs == 1 && (g->layer->klass->flags & MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE))
        {
          gap = (gint) g->inputs[0];
          g = mir_model_get_node (model, (guint) gap);
        }
      if (g->layer->klass == &mir_layer_global_average_pooling2d_class && g->n_inputs == 1 &&
          g->shape.ndim == 2)
        {
          *dense_out = i;
          *features_out = (gint) g->inputs[0];
          return TRUE;
        }
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
               _("CAM needs a model whose head is GlobalAveragePooling2D followed by Dense; "
                 "this model ends with '%s' (%s). Use Grad-CAM instead."),
               node->name, node->layer->klass->name);
  return FALSE;
}

MirExplanation *
mir_explain_cam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                 GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *act, *kernel;
  MirNode *dense;
  gint dense_i, feat_i;
  gint64 h, w, c, units;

  if (options == NULL)
    options = &defaults;
  if (!find_head (model, &dense_i, &feat_i, error))
    return NULL;
  dense = dense_i >= 0 ? mir_model_get_node (model, (guint) dense_i) : NULL;
  kernel = dense ? mir_layer_get_weight (dense->layer, "kernel") : NULL;
  trace = mir_model_run (model, &input, 1, MIR_RUN_KEEP_ALL, -1, 0, cancellable, error);
  if (trace == NULL)
    return NULL;
  act = mir_trace_get (trace, (guint) feat_i);
  h = act->shape[1];
  w = act->shape[2];
  c = act->shape[3];
  units = kernel ? kernel->shape[1] : c;
  if (kernel == NULL && c != mir_model_get_output_shape (model, 0)->dim[1])
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("CAM needs GlobalAveragePooling2D over one map per class, or followed by "
                     "Dense; layer '%s' has %" PRId64 " channels for %" PRId64
                     " classes"), mir_model_get_node (model, (guint) feat_i)->name, c,
                   mir_model_get_output_shape (model, 0)->dim[1]);
      return NULL;
    }
  e = mir_explanation_new ("cam", model, feat_i, (int) w, (int) h);
  if (!mir_explain_resolve_class (model, mir_trace_get_output (trace, 0), options, e, error))
    return NULL;
  for (gint64 i = 0; i < h * w; i++)
    {
      double s = 0;
      if (kernel == NULL)
        s = act->data[i * c + e->class_index];
      else
        for (gint64 k = 0; k < c; k++)
          s += (double) act->data[i * c + k] * kernel->data[k * units + e->class_index];
      e->raw[i] = (float) (e->complement ? -s : s);
    }
  mir_explanation_normalise_minmax (e);
  return g_steal_pointer (&e);
}
