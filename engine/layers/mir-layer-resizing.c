/* Resizing: resizes (N, H, W, C) images to (N, height, width, C) the way
 * Keras' Resizing layer does through tf.image.resize (antialias off), i.e.
 * with half-pixel centres:
 *   bilinear: source coordinate s = (o + 0.5) * in / out - 0.5, between
 *             max(floor(s), 0) and min(ceil(s), in - 1), weight s - floor(s);
 *   nearest:  source index min(floor((o + 0.5) * in / out), in - 1).
 * Only crop_to_aspect_ratio = false (and no padding or antialiasing). */
#define G_LOG_DOMAIN "mir-layer-resizing"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-resample.h"

typedef struct
{
  MirLayer parent;
  gint64 height, width;
  gboolean nearest;
} MirLayerResizing;

static gboolean
resizing_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerResizing *self = (MirLayerResizing *) layer;
  const char *interp = mir_config_get_string (config, "interpolation", "bilinear");
  const char *fmt = mir_config_get_string (config, "data_format", "channels_last");
  gboolean crop, pad, antialias;

  layer->activation = MIR_ACT_LINEAR;
  if (!mir_config_get_int (config, "height", 0, &self->height, error) ||
      !mir_config_get_int (config, "width", 0, &self->width, error) ||
      !mir_config_get_bool (config, "crop_to_aspect_ratio", FALSE, &crop, error) ||
      !mir_config_get_bool (config, "pad_to_aspect_ratio", FALSE, &pad, error) ||
      !mir_config_get_bool (config, "antialias", FALSE, &antialias, error))
    return FALSE;
  if (self->height < 1 || self->width < 1 || self->height > 65536 || self->width > 65536)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("the target size %" PRId64 "×%" PRId64
                     " is outside 1..65536"), self->height, self->width);
      return FALSE;
    }
  if (g_strcmp0 (interp, "bilinear") == 0)
    self->nearest = FALSE;
  else if (g_strcmp0 (interp, "nearest") == 0)
    self->nearest = TRUE;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' interpolation is not supported; Mirada resizes with 'bilinear' or "
                     "'nearest'"), interp);
      return FALSE;
    }
  if (crop || pad || antialias)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("resizing with crop_to_aspect_ratio, pad_to_aspect_ratio or antialias "
                     "is not supported"));
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
resizing_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerResizing *self = (MirLayerResizing *) layer;

  if (in[0].ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (&in[0]);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Resizing needs a 4-D input (N, H, W, C), but is given %s"), s);
      return FALSE;
    }
  *out = in[0];
  out->dim[1] = self->height;
  out->dim[2] = self->width;
  return TRUE;
}

/* Nearest: source index min (floor ((o + 0.5) * in / out), in - 1). */
static gint64 *
nearest_taps (gint64 in_size, gint64 out_size)
{
  gint64 *taps = g_new (gint64, MAX (out_size, 1));
  float scale = (float) in_size / (float) out_size;

  for (gint64 o = 0; o < out_size; o++)
    taps[o] = CLAMP ((gint64) floorf (((float) o + 0.5f) * scale), 0, in_size - 1);
  return taps;
}

/* Forward: out = resize (in).  Transposed (backward): in += resize^T (out).
 * (The tensors' data stay writable through const MirTensor pointers.) */
static void
resize (MirLayerResizing *self, const MirTensor *in, const MirTensor *out, gboolean transpose)
{
  gint64 n = in->shape[0], ih = in->shape[1], iw = in->shape[2], c = in->shape[3];
  gint64 oh = out->shape[1], ow = out->shape[2];
  g_autofree gint64 *ty = NULL;
  g_autofree gint64 *tx = NULL;

  if (!self->nearest)
    {
      for (gint64 b = 0; b < n; b++)
        if (!transpose)
          mir_resample_bilinear (in->data + b * ih * iw * c, ih, iw, c,
                                 out->data + b * oh * ow * c, oh, ow);
        else
          mir_resample_bilinear_backward (in->data + b * ih * iw * c, ih, iw, c,
                                          out->data + b * oh * ow * c, oh, ow);
      return;
    }
  ty = nearest_taps (ih, oh);
  tx = nearest_taps (iw, ow);
  for (gint64 b = 0; b < n; b++)
    for (gint64 y = 0; y < oh; y++)
      {
        float *r = in->data + ((b * ih + ty[y]) * iw) * c;
        float *o = out->data + ((b * oh + y) * ow) * c;

        for (gint64 x = 0; x < ow; x++)
          for (gint64 k = 0; k < c; k++)
            if (!transpose)
              o[x * c + k] = r[tx[x] * c + k];
            else
              r[tx[x] * c + k] += o[x * c + k];
      }
}

static gboolean
resizing_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                  const MirRunArgs *args, GError **error)
{
  resize ((MirLayerResizing *) layer, in[0], out, FALSE);
  return TRUE;
}

static gboolean
resizing_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                   const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                   const MirRunArgs *args, GError **error)
{
  if (grad_in[0] == NULL)
    return TRUE;
  mir_tensor_zero (grad_in[0]);
  resize ((MirLayerResizing *) layer, grad_in[0], grad_out, TRUE);
  return TRUE;
}

const MirLayerClass mir_layer_resizing_class = {
  .name = "Resizing",
  .instance_size = sizeof (MirLayerResizing),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = resizing_configure,
  .infer = resizing_infer,
  .forward = resizing_forward,
  .backward = resizing_backward,
};
