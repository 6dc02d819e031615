/* Reshape: (N, ...) -> (N, target_shape...), row-major; one entry of
 * target_shape may be -1 and is then inferred. */
#define G_LOG_DOMAIN "mir-layer-reshape"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  guint ndim;                     /* of target, without the batch */
  gint64 target[MIR_MAX_DIMS - 1];
} MirLayerReshape;

static gboolean
reshape_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerReshape *self = (MirLayerReshape *) layer;
  JsonNode *node = NULL;
  JsonArray *a;
  guint n, n_free = 0;

  layer->activation = MIR_ACT_LINEAR;
  if (config != NULL && json_object_has_member (config, "target_shape"))
    node = json_object_get_member (config, "target_shape");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("the configuration has no target_shape list"));
      return FALSE;
    }
  a = json_node_get_array (node);
  n = json_array_get_length (a);
  if (n + 1 > MIR_MAX_DIMS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("target_shape has %u axes; Mirada handles at most %d"), n, MIR_MAX_DIMS - 1);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      gint64 v;

      if (JSON_NODE_HOLDS_NULL (e))
        v = -1;
      else if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_INT64)
        v = json_node_get_int (e);
      else if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_DOUBLE)
        v = (gint64) json_node_get_double (e);
      else
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("target_shape should be a list of whole numbers"));
          return FALSE;
        }
      if (v < -1 || v == 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("target_shape entry %" PRId64 " is not a positive size or -1"), v);
          return FALSE;
        }
      if (v == -1 && ++n_free > 1)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("target_shape may have only one -1 entry"));
          return FALSE;
        }
      self->target[i] = v;
    }
  self->ndim = n;
  return TRUE;
}

/* "(4, -1)": like mir_shape_to_string() but -1 stays -1 (it is not a batch). */
static char *
target_string (MirLayerReshape *self)
{
  return mir_dims_to_string (self->ndim, self->target, NULL);
}

static gboolean
reshape_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerReshape *self = (MirLayerReshape *) layer;
  gint64 n_in_elems = 1, known = 1;
  gint free_axis = -1;

  for (guint d = 1; d < in[0].ndim && n_in_elems >= 0; d++)
    n_in_elems = in[0].dim[d] < 0 ? -1 : n_in_elems * in[0].dim[d];
  if (n_in_elems > MIR_TENSOR_MAX_ELEMENTS)
    n_in_elems = MIR_TENSOR_MAX_ELEMENTS + 1;
  for (guint i = 0; i < self->ndim; i++)
    {
      if (self->target[i] < 0)
        free_axis = (gint) i;
      else if (known > MIR_TENSOR_MAX_ELEMENTS / self->target[i])
        known = MIR_TENSOR_MAX_ELEMENTS + 1;
      else
        known *= self->target[i];
    }

  out->ndim = self->ndim + 1;
  out->dim[0] = in[0].ndim > 0 ? in[0].dim[0] : 1;
  memcpy (out->dim + 1, self->target, self->ndim * sizeof (gint64));
  if (n_in_elems < 0)
    return TRUE; /* unknown until run time; the -1 stays */

  if ((free_axis < 0 && known != n_in_elems) ||
      (free_axis >= 0 && (known > n_in_elems || n_in_elems % known != 0)))
    {
      g_autofree char *a = mir_shape_to_string (&in[0]);
      g_autofree char *b = target_string (self);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("an input of shape %s (%" PRId64 " values per sample) cannot be "
                     "reshaped to the target shape %s"),
                   a, n_in_elems, b);
      return FALSE;
    }
  if (free_axis >= 0)
    out->dim[free_axis + 1] = n_in_elems / known;
  return TRUE;
}

static gboolean
reshape_forward (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
                 const MirRunArgs *args, GError **error)
{
  memcpy (out->data, in[0]->data, out->numel * sizeof (float));
  return TRUE;
}

static gboolean
reshape_backward (MirLayer *self, MirTensor *const *in, guint n_in, const MirTensor *out,
                  const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                  const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    memcpy (grad_in[0]->data, grad_out->data, grad_out->numel * sizeof (float));
  return TRUE;
}

const MirLayerClass mir_layer_reshape_class = {
  .name = "Reshape",
  .instance_size = sizeof (MirLayerReshape),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_REARRANGES,
  .configure = reshape_configure,
  .infer = reshape_infer,
  .forward = reshape_forward,
  .backward = reshape_backward,
};
