/* Slice: the elements start .. stop - 1 along one axis (not the batch), as
 * ONNX's Slice with step 1 on one axis (ShuffleNet's channel split).
 * Config: "axis" (negative counts from the end; default -1, the channels),
 * "start", "stop" (0 <= start < stop <= the axis' size). */
#define G_LOG_DOMAIN "mir-layer-slice"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  gint64 axis, start, stop;
} MirLayerSlice;

static gboolean
slice_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerSlice *self = (MirLayerSlice *) layer;

  if (!mir_config_get_int (config, "axis", -1, &self->axis, error) ||
      !mir_config_get_int (config, "start", 0, &self->start, error) ||
      !mir_config_get_int (config, "stop", -1, &self->stop, error))
    return FALSE;
  if (self->start < 0 || self->stop <= self->start)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("the slice %" PRId64 " to %" PRId64 " is empty or negative"), self->start,
                   self->stop);
      return FALSE;
    }
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
slice_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerSlice *self = (MirLayerSlice *) layer;
  g_autofree char *s = mir_shape_to_string (in);
  gint64 axis = self->axis < 0 ? self->axis + (gint64) in->ndim : self->axis;

  if (axis < 1 || axis >= (gint64) in->ndim)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("cannot slice axis %" PRId64 " of an input of shape %s (the batch axis "
                     "stays whole)"), self->axis, s);
      return FALSE;
    }
  if (in->dim[axis] < self->stop)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the slice %" PRId64 " to %" PRId64 " does not fit axis %" PRId64
                     " of an input of shape %s"), self->start, self->stop, self->axis, s);
      return FALSE;
    }
  *out = *in;
  out->dim[axis] = self->stop - self->start;
  return TRUE;
}

/* The input as outer x size x inner blocks along the axis. */
static void
blocks (MirLayerSlice *self, const MirTensor *x, gsize *outer, gsize *size, gsize *inner)
{
  gint64 axis = self->axis < 0 ? self->axis + (gint64) x->ndim : self->axis;

  *outer = *inner = 1;
  for (gint64 i = 0; i < axis; i++)
    *outer *= (gsize) x->shape[i];
  for (gint64 i = axis + 1; i < (gint64) x->ndim; i++)
    *inner *= (gsize) x->shape[i];
  *size = (gsize) x->shape[axis];
}

static gboolean
slice_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
               const MirRunArgs *args, GError **error)
{
  MirLayerSlice *self = (MirLayerSlice *) layer;
  gsize outer, size, inner, k = (gsize) (self->stop - self->start);

  blocks (self, in[0], &outer, &size, &inner);
  for (gsize o = 0; o < outer; o++)
    memcpy (out->data + o * k * inner, in[0]->data + (o * size + (gsize) self->start) * inner,
            k * inner * sizeof (float));
  return TRUE;
}

static gboolean
slice_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                const MirRunArgs *args, GError **error)
{
  MirLayerSlice *self = (MirLayerSlice *) layer;
  gsize outer, size, inner, k = (gsize) (self->stop - self->start);

  if (grad_in[0] == NULL)
    return TRUE;
  blocks (self, in[0], &outer, &size, &inner);
  memset (grad_in[0]->data, 0, grad_in[0]->numel * sizeof (float));
  for (gsize o = 0; o < outer; o++)
    memcpy (grad_in[0]->data + (o * size + (gsize) self->start) * inner,
            grad_out->data + o * k * inner, k * inner * sizeof (float));
  return TRUE;
}

const MirLayerClass mir_layer_slice_class = {
  .name = "Slice",
  .instance_size = sizeof (MirLayerSlice),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = slice_configure,
  .infer = slice_infer,
  .forward = slice_forward,
  .backward = slice_backward,
};
