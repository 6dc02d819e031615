/* Permute: Keras' Permute(dims), a transpose of the axes after the batch;
 * dims is 1-based (Permute((3, 1, 2)) turns (N, H, W, C) into (N, C, H, W)).
 * The ONNX loader uses it for Transpose and to give a flattened map back in
 * ONNX's channel-first order. */
#define G_LOG_DOMAIN "mir-layer-permute"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  guint ndim;                   /* axes after the batch */
  guint perm[MIR_MAX_DIMS - 1]; /* output axis i is input axis perm[i] (0-based, no batch) */
} MirLayerPermute;

static gboolean
permute_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerPermute *self = (MirLayerPermute *) layer;
  JsonNode *node = NULL;
  JsonArray *a;
  guint n, seen = 0;

  layer->activation = MIR_ACT_LINEAR;
  if (config != NULL && json_object_has_member (config, "dims"))
    node = json_object_get_member (config, "dims");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("the configuration has no dims list"));
      return FALSE;
    }
  a = json_node_get_array (node);
  n = json_array_get_length (a);
  if (n == 0 || n + 1 > MIR_MAX_DIMS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("dims has %u axes; Mirada permutes 1 to %d axes"), n, MIR_MAX_DIMS - 1);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      gint64 v = 0;

      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_INT64)
        v = json_node_get_int (e);
      if (v < 1 || v > n || (seen & (1u << (v - 1))))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("dims must list each axis from 1 to %u once"), n);
          return FALSE;
        }
      seen |= 1u << (v - 1);
      self->perm[i] = (guint) (v - 1);
    }
  self->ndim = n;
  return TRUE;
}

static gboolean
permute_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerPermute *self = (MirLayerPermute *) layer;

  if (in[0].ndim != self->ndim + 1)
    {
      g_autofree char *s = mir_shape_to_string (&in[0]);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("permutes %u axes but its input has shape %s"), self->ndim, s);
      return FALSE;
    }
  out->ndim = in[0].ndim;
  out->dim[0] = in[0].dim[0];
  for (guint i = 0; i < self->ndim; i++)
    out->dim[i + 1] = in[0].dim[self->perm[i] + 1];
  return TRUE;
}

/* Copies @src (shape of the input) to @dst (the permuted shape), or the
 * other way round when @back (the gradient). */
static void
permute_copy (const MirLayerPermute *self, const MirTensor *x, const float *src, float *dst,
              gboolean back)
{
  gsize in_stride[MIR_MAX_DIMS], out_dim[MIR_MAX_DIMS], ostr[MIR_MAX_DIMS], idx[MIR_MAX_DIMS];
  guint nd = self->ndim;
  gsize per = 1, n = (gsize) x->shape[0];

  /* Strides of the input axes, seen in output order. */
  for (gint d = (gint) nd - 1; d >= 0; d--)
    {
      in_stride[d] = per;
      per *= (gsize) x->shape[d + 1];
    }
  for (guint i = 0; i < nd; i++)
    {
      out_dim[i] = (gsize) x->shape[self->perm[i] + 1];
      ostr[i] = in_stride[self->perm[i]];
    }
  for (gsize b = 0; b < n; b++)
    {
      const float *s = src + b * per;
      float *d = dst + b * per;
      gsize off = 0;

      memset (idx, 0, sizeof idx);
      for (gsize o = 0; o < per; o++)
        {
          if (back)
            d[off] = s[o];
          else
            d[o] = s[off];
          /* Next output index, odometer style, keeping the input offset. */
          for (gint i = (gint) nd - 1; i >= 0; i--)
            {
              off += ostr[i];
              if (++idx[i] < out_dim[i])
                break;
              off -= ostr[i] * out_dim[i];
              idx[i] = 0;
            }
        }
    }
}

static gboolean
permute_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                 const MirRunArgs *args, GError **error)
{
  permute_copy ((MirLayerPermute *) layer, in[0], in[0]->data, out->data, FALSE);
  return TRUE;
}

static gboolean
permute_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                  const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                  const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    permute_copy ((MirLayerPermute *) layer, in[0], grad_out->data, grad_in[0]->data, TRUE);
  return TRUE;
}

const MirLayerClass mir_layer_permute_class = {
  .name = "Permute",
  .instance_size = sizeof (MirLayerPermute),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_REARRANGES,
  .configure = permute_configure,
  .infer = permute_infer,
  .forward = permute_forward,
  .backward = permute_backward,
};
