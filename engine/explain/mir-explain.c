#define G_LOG_DOMAIN "mir-explain"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

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
                   _("Class %d does not exist: the model has %" G_GINT64_FORMAT " outputs"),
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
