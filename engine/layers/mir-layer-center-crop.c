/* CenterCrop: the central height × width window of (N, H, W, C) images, at
 * offsets ((H - height) // 2, (W - width) // 2) as TF computes them.  Keras
 * resizes instead when the image is smaller than the window; Mirada reports
 * that case as unsupported. */
#define G_LOG_DOMAIN "mir-layer-center-crop"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  gint64 height, width;
} MirLayerCenterCrop;

static gboolean
center_crop_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerCenterCrop *self = (MirLayerCenterCrop *) layer;
  const char *fmt = mir_config_get_string (config, "data_format", "channels_last");

  layer->activation = MIR_ACT_LINEAR;
  if (!mir_config_get_int (config, "height", 0, &self->height, error) ||
      !mir_config_get_int (config, "width", 0, &self->width, error))
    return FALSE;
  if (self->height < 1 || self->width < 1 || self->height > 65536 || self->width > 65536)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("the crop size %" PRId64 "×%" PRId64 " is outside 1..65536"),
                   self->height, self->width);
      return FALSE;
    }
  if (g_strcmp0 (fmt, "channels_first") == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("channels_first data is not supported; Mirada works in channels_last"));
      return FALSE;
    }
  return TRUE;
}

static gboolean
center_crop_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out,
                   GError **error)
{
  MirLayerCenterCrop *self = (MirLayerCenterCrop *) layer;

  if (in[0].ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (&in[0]);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("CenterCrop needs a 4-D input (N, H, W, C), but is given %s"), s);
      return FALSE;
    }
  if ((in[0].dim[1] >= 0 && in[0].dim[1] < self->height) ||
      (in[0].dim[2] >= 0 && in[0].dim[2] < self->width))
    {
      g_autofree char *s = mir_shape_to_string (&in[0]);
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("the input of shape %s is smaller than the crop %" PRId64 "×%"
                     PRId64 "; Keras would resize it, which Mirada does not do"),
                   s, self->height, self->width);
      return FALSE;
    }
  *out = in[0];
  out->dim[1] = self->height;
  out->dim[2] = self->width;
  return TRUE;
}

/* Copies the window between @img (N, H, W, C) and @crop, either way. */
static void
copy_window (const MirTensor *img, const MirTensor *crop, gboolean to_crop)
{
  gint64 n = img->shape[0], h = img->shape[1], w = img->shape[2], c = img->shape[3];
  gint64 ch = crop->shape[1], cw = crop->shape[2];
  gint64 top = (h - ch) / 2, left = (w - cw) / 2;

  for (gint64 b = 0; b < n; b++)
    for (gint64 y = 0; y < ch; y++)
      {
        float *src = img->data + ((b * h + top + y) * w + left) * c;
        float *dst = crop->data + ((b * ch + y) * cw) * c;
        if (to_crop)
          memcpy (dst, src, (gsize) (cw * c) * sizeof (float));
        else
          memcpy (src, dst, (gsize) (cw * c) * sizeof (float));
      }
}

static gboolean
center_crop_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                     const MirRunArgs *args, GError **error)
{
  copy_window (in[0], out, TRUE);
  return TRUE;
}

static gboolean
center_crop_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                      const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                      const MirRunArgs *args, GError **error)
{
  if (grad_in[0] == NULL)
    return TRUE;
  mir_tensor_zero (grad_in[0]);
  copy_window (grad_in[0], grad_out, FALSE);
  return TRUE;
}

const MirLayerClass mir_layer_center_crop_class = {
  .name = "CenterCrop",
  .instance_size = sizeof (MirLayerCenterCrop),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = center_crop_configure,
  .infer = center_crop_infer,
  .forward = center_crop_forward,
  .backward = center_crop_backward,
};
