#define G_LOG_DOMAIN "mir-explain"

#include <math.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"
#include "mir-image.h"
#include "mir-resample.h"

void
mir_explanation_free (MirExplanation *e)
{
  if (e == NULL)
    return;
  g_free (e->method);
  g_free (e->layer_name);
  g_free (e->raw);
  g_free (e->map);
  g_free (e->notice);
  g_free (e->weights);
  g_free (e);
}

MirExplanation *
mir_explanation_new (const char *method, MirModel *model, gint layer, int width, int height)
{
  MirExplanation *e = g_new0 (MirExplanation, 1);

  e->method = g_strdup (method);
  e->layer = layer;
  e->layer_name = g_strdup (mir_model_get_node (model, (guint) layer)->name);
  e->width = width;
  e->height = height;
  e->raw = g_new0 (float, (gsize) width * height);
  e->map = g_new0 (float, (gsize) width * height);
  e->class_index = -1;
  return e;
}

gint
mir_explain_resolve_layer (MirModel *model, gint layer, GError **error)
{
  MirNode *node;

  if (layer < 0)
    {
      layer = mir_model_find_last_conv (model);
      if (layer < 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("The model has no convolutional layer to explain"));
          return -1;
        }
      return layer;
    }
  if ((guint) layer >= mir_model_get_n_nodes (model))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No layer with index %d"), layer);
      return -1;
    }
  node = mir_model_get_node (model, (guint) layer);
  if (node->shape.ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (&node->shape);
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Layer '%s' has output shape %s; explanation maps need a layer with a "
                     "spatial (4-D) output"), node->name, s);
      return -1;
    }
  return layer;
}

gboolean
mir_explain_resolve_class (MirModel *model, const MirTensor *probs,
                           const MirExplainOptions *options, MirExplanation *e, GError **error)
{
  gint64 k = probs->shape[probs->ndim - 1];
  gint c = options->class_index;

  if (probs->ndim != 2 || probs->shape[0] != 1)
    {
      g_autofree char *s = mir_tensor_shape_string (probs);
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Explanations need a classifier with one output vector; this model's "
                     "output has shape %s"), s);
      return FALSE;
    }
  if (c < 0)
    {
      c = 0;
      for (gint i = 1; i < k; i++)
        if (probs->data[i] > probs->data[c])
          c = i;
      /* binary sigmoid: the top "class" is the complement when P < 0.5 */
      if (k == 1 && !options->complement && mir_model_get_head_kind (model) == MIR_HEAD_SIGMOID &&
          probs->data[0] < 0.5f)
        e->complement = TRUE;
    }
  else if (c >= k)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Class %d does not exist: the model has %" PRId64 " outputs"),
                   c, k);
      return FALSE;
    }
  e->class_index = c;
  e->complement = e->complement || options->complement;
  e->probability = e->complement ? 1.0 - probs->data[c] : probs->data[c];
  return TRUE;
}

void
mir_explanation_normalise_relu (MirExplanation *e)
{
  gsize n = (gsize) e->width * e->height;
  float hi = 0;

  for (gsize i = 0; i < n; i++)
    if (isfinite (e->raw[i]))
      hi = MAX (hi, e->raw[i]);
  g_clear_pointer (&e->notice, g_free);
  if (!(hi > 1e-12f))
    {
      for (gsize i = 0; i < n; i++)
        e->map[i] = 0;
      e->notice = g_strdup (_("The map has no positive values (flat or all negative): "
                              "nothing in this layer raises the score of this class"));
      return;
    }
  for (gsize i = 0; i < n; i++)
    e->map[i] = isfinite (e->raw[i]) ? MAX (e->raw[i], 0.0f) / hi : 0.0f;
}

void
mir_explanation_normalise_minmax (MirExplanation *e)
{
  gsize n = (gsize) e->width * e->height;
  float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;

  for (gsize i = 0; i < n; i++)
    if (isfinite (e->raw[i]))
      {
        lo = MIN (lo, e->raw[i]);
        hi = MAX (hi, e->raw[i]);
      }
  g_clear_pointer (&e->notice, g_free);
  if (!(hi - lo > 1e-12f))
    {
      for (gsize i = 0; i < n; i++)
        e->map[i] = 0;
      e->notice = g_strdup (_("The map is flat: every position has the same value"));
      return;
    }
  for (gsize i = 0; i < n; i++)
    e->map[i] = isfinite (e->raw[i]) ? (e->raw[i] - lo) / (hi - lo) : 0.0f;
}

MirTrace *
mir_explain_forward (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                     const char *method, gint layer, gboolean for_backward,
                     MirExplanation **e_out, GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) probs = NULL;
  g_autoptr(MirExplanation) e = NULL;
  MirTensor *logits, *act;
  guint out_node = mir_model_get_output (model, 0);

  if (input == NULL || input->ndim != 4 || input->shape[0] != 1)
    {
      g_autofree char *s = input ? mir_tensor_shape_string (input) : g_strdup ("NULL");
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Explanations need one image (1×H×W×C); the input has shape %s"), s);
      return NULL;
    }
  trace = mir_model_run (model, &input, 1,
                         (for_backward ? MIR_RUN_FOR_BACKWARD : MIR_RUN_KEEP_ALL) | MIR_RUN_LOGITS,
                         -1, 0, cancellable, error);
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
  if (act == NULL || act->ndim != 4)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Layer '%s' has no spatial (4-D) output to explain"),
                   mir_model_get_node (model, (guint) layer)->name);
      return NULL;
    }
  e = mir_explanation_new (method, model, layer, (int) act->shape[2], (int) act->shape[1]);
  if (!mir_explain_resolve_class (model, probs, options, e, error))
    return NULL;
  e->score = e->complement ? -logits->data[e->class_index] : logits->data[e->class_index];
  *e_out = g_steal_pointer (&e);
  return g_steal_pointer (&trace);
}

MirTrace *
mir_explain_layer_gradient (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                            const char *method, MirExplanation **e_out, MirTensor **act,
                            MirTensor **grad, GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  gint layer;

  if (options == NULL)
    options = &defaults;
  if ((layer = mir_explain_resolve_layer (model, options->layer, error)) < 0)
    return NULL;
  trace = mir_explain_forward (model, input, options, method, layer, TRUE, &e, cancellable,
                               error);
  if (trace == NULL ||
      !mir_explain_backward (trace, e, layer, MIR_BACKWARD_DEFAULT, cancellable, error))
    return NULL;
  *act = mir_trace_get (trace, (guint) layer);
  *grad = mir_trace_get_grad (trace, (guint) layer);
  *e_out = g_steal_pointer (&e);
  return g_steal_pointer (&trace);
}

gboolean
mir_explain_backward (MirTrace *trace, const MirExplanation *e, gint stop, MirBackwardFlags flags,
                      GCancellable *cancellable, GError **error)
{
  MirModel *model = mir_trace_get_model (trace);
  guint out_node = mir_model_get_output (model, 0);
  g_autoptr(MirTensor) seed = mir_tensor_new_like (mir_trace_get (trace, out_node), error);

  if (seed == NULL)
    return FALSE;
  /* d(−z)/dz = −1: the complement of a sigmoid is σ(−z) */
  seed->data[e->class_index] = e->complement ? -1.0f : 1.0f;
  if (!mir_trace_backward (trace, out_node, seed, stop, flags, cancellable, error))
    return FALSE;
  if (mir_trace_get_grad (trace, (guint) stop) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The score does not depend on layer '%s'"),
                   mir_model_get_node (model, (guint) stop)->name);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_explain_batch_scores (MirModel *model, MirTensor *batch, const MirExplanation *e,
                          double *scores, double *probs, GCancellable *cancellable,
                          GError **error)
{
  MirActivation act = mir_model_get_node (model, mir_model_get_output (model, 0))->layer->activation;
  gint64 n = batch->shape[0];

  for (gint64 start = 0; start < n; start += MIR_EXPLAIN_BATCH)
    {
      gint64 count = MIN (MIR_EXPLAIN_BATCH, n - start);
      g_autoptr(MirTensor) view = mir_tensor_view_batch (batch, start, count);
      g_autoptr(MirTrace) trace = NULL;
      MirTensor *out;
      gint64 k;

      trace = mir_model_run (model, &view, 1, MIR_RUN_LOGITS, -1, 0, cancellable, error);
      if (trace == NULL)
        return FALSE;
      out = mir_trace_get_output (trace, 0);
      k = out->shape[out->ndim - 1];
      for (gint64 b = 0; b < count; b++)
        {
          float *row = out->data + b * k;
          float z = row[e->class_index];

          scores[start + b] = e->complement ? -z : z;
          if (probs != NULL)
            {
              g_autofree float *p = g_memdup2 (row, sizeof (float) * (gsize) k);
              mir_activation_forward (act, p, p, (gsize) k, (gsize) k);
              probs[start + b] = e->complement ? 1.0 - p[e->class_index] : p[e->class_index];
            }
        }
    }
  return TRUE;
}

gboolean
mir_explain_grey_value (MirModel *model, gint64 channels, float *values, GError **error)
{
  g_autoptr(MirImage) grey = mir_image_new (1, 1, 3, error);
  g_autoptr(MirTensor) t = NULL;

  if (grey == NULL || (t = mir_tensor_new_4d (1, 1, 1, channels, error)) == NULL)
    return FALSE;
  grey->pixels[0] = grey->pixels[1] = grey->pixels[2] = 128;
  if (!mir_image_to_tensor (grey, t, 0, model->meta.preprocess, error))
    return FALSE;
  for (gint64 c = 0; c < channels; c++)
    values[c] = t->data[c];
  return TRUE;
}

void
mir_explain_resize_map (const float *src, int sw, int sh, float *dst, int dw, int dh)
{
  mir_resample_bilinear (src, sh, sw, 1, dst, dh, dw);
}

void
mir_explain_abs_max_channels (const MirTensor *t, gint64 index, float *out)
{
  gint64 hw = t->shape[1] * t->shape[2], c = t->shape[3];
  const float *p = t->data + index * hw * c;

  for (gint64 i = 0; i < hw; i++)
    {
      float m = 0;
      for (gint64 k = 0; k < c; k++)
        m = MAX (m, fabsf (p[i * c + k]));
      out[i] = m;
    }
}

void
mir_explain_weighted_sum (MirExplanation *e, const MirTensor *act, double *weights)
{
  gint64 hw = act->shape[1] * act->shape[2], c = act->shape[3];

  for (gint64 i = 0; i < hw; i++)
    {
      double s = 0;
      for (gint64 k = 0; k < c; k++)
        s += weights[k] * act->data[i * c + k];
      e->raw[i] = (float) s;
    }
  g_free (e->weights);
  e->weights = weights;
  e->n_weights = (int) c;
}
