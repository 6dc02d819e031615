/* Rescaling: y = x * scale + offset.  scale and offset are numbers or lists
 * (possibly nested, as Keras 3 saves arrays) of one value per channel of the
 * last axis. */
#define G_LOG_DOMAIN "mir-layer-rescaling"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  guint n_scale, n_offset; /* 1 or the number of channels */
  float *scale, *offset;
} MirLayerRescaling;

static gboolean
flatten_numbers (JsonNode *node, GArray *out)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (a); i++)
        if (!flatten_numbers (json_array_get_element (a, i), out))
          return FALSE;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) &&
      (json_node_get_value_type (node) == G_TYPE_DOUBLE ||
       json_node_get_value_type (node) == G_TYPE_INT64))
    {
      float v = (float) json_node_get_double (node);
      if (json_node_get_value_type (node) == G_TYPE_INT64)
        v = (float) json_node_get_int (node);
      g_array_append_val (out, v);
      return TRUE;
    }
  return FALSE;
}

static gboolean
read_values (JsonObject *config, const char *key, float def, float **values, guint *n,
             GError **error)
{
  g_autoptr(GArray) a = g_array_new (FALSE, FALSE, sizeof (float));
  JsonNode *node = NULL;

  if (config != NULL && json_object_has_member (config, key))
    node = json_object_get_member (config, key);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    g_array_append_val (a, def);
  else if (!flatten_numbers (node, a) || a->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("configuration entry '%s' should be a number or a list of numbers"), key);
      return FALSE;
    }
  for (guint i = 0; i < a->len; i++)
    if (!isfinite (g_array_index (a, float, i)))
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("configuration entry '%s' holds a value that is not finite"), key);
        return FALSE;
      }
  *n = a->len;
  *values = g_memdup2 (a->data, a->len * sizeof (float));
  return TRUE;
}

static gboolean
rescaling_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerRescaling *self = (MirLayerRescaling *) layer;

  layer->activation = MIR_ACT_LINEAR;
  return read_values (config, "scale", 1.0f, &self->scale, &self->n_scale, error) &&
         read_values (config, "offset", 0.0f, &self->offset, &self->n_offset, error);
}

static void
rescaling_finalize (MirLayer *layer)
{
  MirLayerRescaling *self = (MirLayerRescaling *) layer;

  g_free (self->scale);
  g_free (self->offset);
}

static gboolean
rescaling_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerRescaling *self = (MirLayerRescaling *) layer;
  gint64 c = in[0].dim[in[0].ndim - 1];

  if ((self->n_scale > 1 && c >= 0 && self->n_scale != c) ||
      (self->n_offset > 1 && c >= 0 && self->n_offset != c))
    {
      g_autofree char *s = mir_shape_to_string (&in[0]);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("%u scale and %u offset values do not match an input of shape %s "
                     "(give 1 or one per channel of the last axis)"),
                   self->n_scale, self->n_offset, s);
      return FALSE;
    }
  *out = in[0];
  return TRUE;
}

static gboolean
rescaling_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                   const MirRunArgs *args, GError **error)
{
  MirLayerRescaling *self = (MirLayerRescaling *) layer;
  gsize c = (gsize) out->shape[out->ndim - 1];

  for (gsize i = 0; i < out->numel; i++)
    {
      gsize ch = c ? i % c : 0;
      float s = self->scale[self->n_scale > 1 ? ch : 0];
      float o = self->offset[self->n_offset > 1 ? ch : 0];
      out->data[i] = in[0]->data[i] * s + o;
    }
  return TRUE;
}

static gboolean
rescaling_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                    const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                    const MirRunArgs *args, GError **error)
{
  MirLayerRescaling *self = (MirLayerRescaling *) layer;
  gsize c = (gsize) grad_out->shape[grad_out->ndim - 1];

  if (grad_in[0] == NULL)
    return TRUE;
  for (gsize i = 0; i < grad_out->numel; i++)
    grad_in[0]->data[i] = grad_out->data[i] * self->scale[self->n_scale > 1 && c ? i % c : 0];
  return TRUE;
}

const MirLayerClass mir_layer_rescaling_class = {
  .name = "Rescaling",
  .instance_size = sizeof (MirLayerRescaling),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = rescaling_configure,
  .infer = rescaling_infer,
  .forward = rescaling_forward,
  .backward = rescaling_backward,
  .finalize = rescaling_finalize,
};
