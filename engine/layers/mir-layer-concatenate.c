/* Concatenate: joins its inputs along one axis (default -1; negative axes
 * count from the end).  All other axes must agree. */
#define G_LOG_DOMAIN "mir-layer-concatenate"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  gint64 axis;
} MirLayerConcatenate;

static gboolean
concatenate_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerConcatenate *self = (MirLayerConcatenate *) layer;

  layer->activation = MIR_ACT_LINEAR;
  return mir_config_get_int (config, "axis", -1, &self->axis, error);
}

static gboolean
resolve_axis (MirLayerConcatenate *self, guint ndim, guint *axis, GError **error)
{
  gint64 a = self->axis < 0 ? self->axis + (gint64) ndim : self->axis;

  if (a < 0 || a >= (gint64) ndim)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("axis %" PRId64 " is outside inputs of rank %u"), self->axis, ndim);
      return FALSE;
    }
  *axis = (guint) a;
  return TRUE;
}

static gboolean
concatenate_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out,
                   GError **error)
{
  MirLayerConcatenate *self = (MirLayerConcatenate *) layer;
  guint axis;

  if (n_in == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE, _("the layer has no inputs"));
      return FALSE;
    }
  if (!resolve_axis (self, in[0].ndim, &axis, error))
    return FALSE;
  *out = in[0];
  for (guint k = 1; k < n_in; k++)
    {
      gboolean ok = in[k].ndim == in[0].ndim;

      for (guint d = 0; ok && d < in[0].ndim; d++)
        if (d != axis && in[k].dim[d] >= 0 && out->dim[d] >= 0 && in[k].dim[d] != out->dim[d])
          ok = FALSE;
        else if (d != axis && out->dim[d] < 0)
          out->dim[d] = in[k].dim[d];
      if (!ok)
        {
          g_autofree char *s0 = mir_shape_to_string (&in[0]);
          g_autofree char *sk = mir_shape_to_string (&in[k]);
          g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("inputs of shapes %s and %s cannot be concatenated on axis %"
                         PRId64 ": all other axes must be equal"),
                       s0, sk, self->axis);
          return FALSE;
        }
      if (out->dim[axis] < 0 || in[k].dim[axis] < 0)
        out->dim[axis] = -1;
      else
        out->dim[axis] += in[k].dim[axis];
    }
  return TRUE;
}

static gboolean
concatenate_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                     const MirRunArgs *args, GError **error)
{
  guint axis = 0;
  gsize outer = 1, inner = 1, out_row, pos = 0;

  if (!resolve_axis ((MirLayerConcatenate *) layer, out->ndim, &axis, error))
    return FALSE;
  for (guint d = 0; d < axis; d++)
    outer *= (gsize) out->shape[d];
  for (guint d = axis + 1; d < out->ndim; d++)
    inner *= (gsize) out->shape[d];
  out_row = (gsize) out->shape[axis] * inner;
  for (guint k = 0; k < n_in; k++)
    {
      gsize chunk = (gsize) in[k]->shape[axis] * inner;

      for (gsize o = 0; o < outer; o++)
        memcpy (out->data + o * out_row + pos, in[k]->data + o * chunk, chunk * sizeof (float));
      pos += chunk;
    }
  return TRUE;
}

static gboolean
concatenate_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                      const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                      const MirRunArgs *args, GError **error)
{
  guint axis = 0;
  gsize outer = 1, inner = 1, out_row, pos = 0;

  if (!resolve_axis ((MirLayerConcatenate *) layer, grad_out->ndim, &axis, error))
    return FALSE;
  for (guint d = 0; d < axis; d++)
    outer *= (gsize) grad_out->shape[d];
  for (guint d = axis + 1; d < grad_out->ndim; d++)
    inner *= (gsize) grad_out->shape[d];
  out_row = (gsize) grad_out->shape[axis] * inner;
  for (guint k = 0; k < n_in; k++)
    {
      gsize chunk = (gsize) in[k]->shape[axis] * inner;

      if (grad_in[k] != NULL)
        for (gsize o = 0; o < outer; o++)
          memcpy (grad_in[k]->data + o * chunk, grad_out->data + o * out_row + pos,
                  chunk * sizeof (float));
      pos += chunk;
    }
  return TRUE;
}

const MirLayerClass mir_layer_concatenate_class = {
  .name = "Concatenate",
  .instance_size = sizeof (MirLayerConcatenate),
  .flags = MIR_LAYER_FLAG_MULTI_INPUT | MIR_LAYER_FLAG_WRITES_ALL,
  .configure = concatenate_configure,
  .infer = concatenate_infer,
  .forward = concatenate_forward,
  .backward = concatenate_backward,
};
