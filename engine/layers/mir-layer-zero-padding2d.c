/* ZeroPadding2D: padding as an int, (height, width) or
 * ((top, bottom), (left, right)). */
#define G_LOG_DOMAIN "mir-layer-zero-padding2d"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"

typedef struct
{
  MirLayer parent;
  gint64 pad[4]; /* top, bottom, left, right */
} MirLayerZeroPadding2D;

static gboolean
zero_pad_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerZeroPadding2D *self = (MirLayerZeroPadding2D *) layer;

  return mir_config_check_channels_last (config, error) &&
         mir_config_get_pad4 (config, "padding", 1, self->pad, error);
}

static gboolean
zero_pad_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerZeroPadding2D *self = (MirLayerZeroPadding2D *) layer;

  if (in->ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects a 4-D input (batch, height, width, channels) but got shape %s"), s);
      return FALSE;
    }
  *out = *in;
  if (in->dim[1] >= 0)
    out->dim[1] = in->dim[1] + self->pad[0] + self->pad[1];
  if (in->dim[2] >= 0)
    out->dim[2] = in->dim[2] + self->pad[2] + self->pad[3];
  return TRUE;
}

/* Copies the input rows into (forward) or out of (backward) the padded frame. */
static void
copy_frame (MirLayerZeroPadding2D *self, const MirTensor *small, const MirTensor *big,
            gboolean to_big, float *small_data, float *big_data)
{
  gint64 h = small->shape[1], w = small->shape[2], c = small->shape[3];
  gint64 bh = big->shape[1], bw = big->shape[2];
  gsize row = (gsize) (w * c) * sizeof (float);

  for (gint64 n = 0; n < small->shape[0]; n++)
    for (gint64 y = 0; y < h; y++)
      {
        float *s = small_data + (((gsize) n * (gsize) h + (gsize) y) * (gsize) w) * (gsize) c;
        float *b = big_data + (((gsize) n * (gsize) bh + (gsize) (y + self->pad[0])) * (gsize) bw +
                               (gsize) self->pad[2]) * (gsize) c;
        if (to_big)
          memcpy (b, s, row);
        else
          memcpy (s, b, row);
      }
}

static gboolean
zero_pad_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                  const MirRunArgs *args, GError **error)
{
  memset (out->data, 0, out->numel * sizeof (float));
  copy_frame ((MirLayerZeroPadding2D *) layer, in[0], out, TRUE, in[0]->data, out->data);
  return TRUE;
}

static gboolean
zero_pad_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                   const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                   const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    copy_frame ((MirLayerZeroPadding2D *) layer, in[0], out, FALSE, grad_in[0]->data,
                grad_out->data);
  return TRUE;
}

void
mir_zero_padding2d_pads (MirLayer *layer, gint64 pads[4])
{
  g_return_if_fail (layer->klass == &mir_layer_zero_padding2d_class);
  memcpy (pads, ((MirLayerZeroPadding2D *) layer)->pad, 4 * sizeof (gint64));
}

const MirLayerClass mir_layer_zero_padding2d_class = {
  .name = "ZeroPadding2D",
  .instance_size = sizeof (MirLayerZeroPadding2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = zero_pad_configure,
  .infer = zero_pad_infer,
  .forward = zero_pad_forward,
  .backward = zero_pad_backward,
};
