/* Softmax over one axis (default -1).  layer->activation is SOFTMAX, so a
 * graph asking for logits (args->linear_output) gets the identity. */
#define G_LOG_DOMAIN "mir-layer-softmax"

#include <math.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  gint64 axis;
} MirLayerSoftmax;

static gboolean
softmax_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerSoftmax *self = (MirLayerSoftmax *) layer;
  JsonNode *node = NULL;

  layer->activation = MIR_ACT_SOFTMAX;
  if (config != NULL && json_object_has_member (config, "axis"))
    node = json_object_get_member (config, "axis");
  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      /* Keras accepts a list of axes; one axis is all real models use. */
      if (json_array_get_length (json_node_get_array (node)) != 1)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("softmax over several axes at once is not supported"));
          return FALSE;
        }
      return mir_config_get_int_tuple (config, "axis", 1, NULL, &self->axis, error);
    }
  return mir_config_get_int (config, "axis", -1, &self->axis, error);
}

static gboolean
resolve_axis (MirLayerSoftmax *self, guint ndim, guint *axis, GError **error)
{
  gint64 a = self->axis < 0 ? self->axis + (gint64) ndim : self->axis;

  if (a < 0 || a >= (gint64) ndim)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("axis %" PRId64 " is outside an input of rank %u"),
                   self->axis, ndim);
      return FALSE;
    }
  *axis = (guint) a;
  return TRUE;
}

static gboolean
softmax_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  guint axis;

  if (!resolve_axis ((MirLayerSoftmax *) layer, in[0].ndim, &axis, error))
    return FALSE;
  *out = in[0];
  return TRUE;
}

/* The tensor as [outer, len, inner] around the softmax axis. */
static gboolean
split_dims (MirLayer *layer, const MirTensor *t, gsize *outer, gsize *len, gsize *inner,
            GError **error)
{
  guint axis;

  if (!resolve_axis ((MirLayerSoftmax *) layer, t->ndim, &axis, error))
    return FALSE;
  *outer = *inner = 1;
  for (guint i = 0; i < axis; i++)
    *outer *= (gsize) t->shape[i];
  *len = (gsize) t->shape[axis];
  for (guint i = axis + 1; i < t->ndim; i++)
    *inner *= (gsize) t->shape[i];
  return TRUE;
}

static gboolean
softmax_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                 const MirRunArgs *args, GError **error)
{
  gsize outer, len, inner;

  if (args->linear_output)
    {
      mir_tensor_copy_data (out, in[0]);
      return TRUE;
    }
  if (!split_dims (layer, out, &outer, &len, &inner, error))
    return FALSE;
  for (gsize o = 0; o < outer; o++)
    for (gsize j = 0; j < inner; j++)
      {
        const float *x = in[0]->data + o * len * inner + j;
        float *y = out->data + o * len * inner + j;
        float m = -INFINITY;
        double sum = 0;

        for (gsize i = 0; i < len; i++)
          m = MAX (m, x[i * inner]);
        for (gsize i = 0; i < len; i++)
          {
            y[i * inner] = expf (x[i * inner] - m);
            sum += y[i * inner];
          }
        for (gsize i = 0; i < len; i++)
          y[i * inner] = (float) (y[i * inner] / sum);
      }
  return TRUE;
}

static gboolean
softmax_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                  const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                  const MirRunArgs *args, GError **error)
{
  gsize outer, len, inner;

  if (grad_in[0] == NULL)
    return TRUE;
  if (args->linear_output)
    {
      mir_tensor_copy_data (grad_in[0], grad_out);
      return TRUE;
    }
  if (!split_dims (layer, out, &outer, &len, &inner, error))
    return FALSE;
  /* dx_i = y_i (dy_i - sum_j dy_j y_j) */
  for (gsize o = 0; o < outer; o++)
    for (gsize j = 0; j < inner; j++)
      {
        gsize base = o * len * inner + j;
        const float *y = out->data + base, *dy = grad_out->data + base;
        float *dx = grad_in[0]->data + base;
        double dot = 0;

        for (gsize i = 0; i < len; i++)
          dot += (double) dy[i * inner] * y[i * inner];
        for (gsize i = 0; i < len; i++)
          dx[i * inner] = (float) (y[i * inner] * (dy[i * inner] - dot));
      }
  return TRUE;
}

const MirLayerClass mir_layer_softmax_class = {
  .name = "Softmax",
  .instance_size = sizeof (MirLayerSoftmax),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = softmax_configure,
  .infer = softmax_infer,
  .forward = softmax_forward,
  .backward = softmax_backward,
};
