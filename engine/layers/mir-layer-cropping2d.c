/* Cropping2D: cropping as an int, (height, width) or
 * ((top, bottom), (left, right)). */
#define G_LOG_DOMAIN "mir-layer-cropping2d"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"

typedef struct
{
  MirLayer parent;
  gint64 crop[4]; /* top, bottom, left, right */
} MirLayerCropping2D;

static gboolean
crop_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerCropping2D *self = (MirLayerCropping2D *) layer;

  return mir_config_check_channels_last (config, error) &&
         mir_config_get_pad4 (config, "cropping", 0, self->crop, error);
}

static gboolean
crop_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerCropping2D *self = (MirLayerCropping2D *) layer;
  g_autofree char *s = mir_shape_to_string (in);

  if (in->ndim != 4)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects a 4-D input (batch, height, width, channels) but got shape %s"), s);
      return FALSE;
    }
  *out = *in;
  if (in->dim[1] >= 0)
    out->dim[1] = in->dim[1] - self->crop[0] - self->crop[1];
  if (in->dim[2] >= 0)
    out->dim[2] = in->dim[2] - self->crop[2] - self->crop[3];
  if ((in->dim[1] >= 0 && out->dim[1] < 1) || (in->dim[2] >= 0 && out->dim[2] < 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("cropping (%" PRId64 ", %" PRId64 "), (%" PRId64
                     ", %" PRId64 ") leaves nothing of an input of shape %s"),
                   self->crop[0], self->crop[1], self->crop[2], self->crop[3], s);
      return FALSE;
    }
  return TRUE;
}

/* Copies the kept window of @big into @small (forward) or back (backward). */
static void
copy_window (MirLayerCropping2D *self, const MirTensor *big, const MirTensor *small,
             gboolean to_small, float *big_data, float *small_data)
{
  gint64 h = small->shape[1], w = small->shape[2], c = small->shape[3];
  gint64 bh = big->shape[1], bw = big->shape[2];
  gsize row = (gsize) (w * c) * sizeof (float);

  for (gint64 n = 0; n < small->shape[0]; n++)
    for (gint64 y = 0; y < h; y++)
      {
        float *s = small_data + (((gsize) n * (gsize) h + (gsize) y) * (gsize) w) * (gsize) c;
        float *b = big_data + (((gsize) n * (gsize) bh + (gsize) (y + self->crop[0])) *
                               (gsize) bw + (gsize) self->crop[2]) * (gsize) c;
        if (to_small)
          memcpy (s, b, row);
        else
          memcpy (b, s, row);
      }
}

static gboolean
crop_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
              const MirRunArgs *args, GError **error)
{
  copy_window ((MirLayerCropping2D *) layer, in[0], out, TRUE, in[0]->data, out->data);
  return TRUE;
}

static gboolean
crop_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
               const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
               const MirRunArgs *args, GError **error)
{
  if (grad_in[0] == NULL)
    return TRUE;
  memset (grad_in[0]->data, 0, grad_in[0]->numel * sizeof (float));
  copy_window ((MirLayerCropping2D *) layer, in[0], out, FALSE, grad_in[0]->data,
               grad_out->data);
  return TRUE;
}

const MirLayerClass mir_layer_cropping2d_class = {
  .name = "Cropping2D",
  .instance_size = sizeof (MirLayerCropping2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = crop_configure,
  .infer = crop_infer,
  .forward = crop_forward,
  .backward = crop_backward,
};
