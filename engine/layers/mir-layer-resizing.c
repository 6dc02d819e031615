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

typedef struct
{
  MirLayer parent;
  gint64 height, width;
  gboolean nearest;
} MirLayerResizing;

/* Per output coordinate: the two source indices and the weight of the second. */
typedef struct
{
  gint64 lo, hi;
  float w;
} Tap;

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

static Tap *
make_taps (gint64 in_size, gint64 out_size, gboolean nearest)
{
  Tap *taps = g_new (Tap, out_size);
  float scale = (float) in_size / (float) out_size;

  for (gint64 o = 0; o < out_size; o++)
    {
      if (nearest)
        {
          gint64 i = (gint64) floorf (((float) o + 0.5f) * scale);
          taps[o].lo = taps[o].hi = CLAMP (i, 0, in_size - 1);
          taps[o].w = 0;
        }
      else
        {
          float s = ((float) o + 0.5f) * scale - 0.5f;
          float f = floorf (s);
          taps[o].lo = MAX ((gint64) f, 0);
          taps[o].hi = MIN ((gint64) ceilf (s), in_size - 1);
          taps[o].w = s - f;
        }
    }
  return taps;
}

/* Forward: out = resize (in).  Transposed (backward): in += resize^T (out).
 * (The tensors' data stay writable through const MirTensor pointers.) */
static void
resize (MirLayerResizing *self, const MirTensor *in, const MirTensor *out, gboolean transpose)
{
  gint64 n = in->shape[0], ih = in->shape[1], iw = in->shape[2], c = in->shape[3];
  gint64 oh = out->shape[1], ow = out->shape[2];
  g_autofree Tap *ty = make_taps (ih, oh, self->nearest);
  g_autofree Tap *tx = make_taps (iw, ow, self->nearest);

  for (gint64 b = 0; b < n; b++)
    for (gint64 y = 0; y < oh; y++)
      {
        float *r0 = in->data + ((b * ih + ty[y].lo) * iw) * c;
        float *r1 = in->data + ((b * ih + ty[y].hi) * iw) * c;
        float *o = out->data + ((b * oh + y) * ow) * c;
        float wy = ty[y].w;

        for (gint64 x = 0; x < ow; x++)
          {
            gint64 x0 = tx[x].lo * c, x1 = tx[x].hi * c;
            float wx = tx[x].w;

            if (!transpose)
              for (gint64 k = 0; k < c; k++)
                {
                  float top = r0[x0 + k] + (r0[x1 + k] - r0[x0 + k]) * wx;
                  float bottom = r1[x0 + k] + (r1[x1 + k] - r1[x0 + k]) * wx;
                  o[x * c + k] = top + (bottom - top) * wy;
                }
            else
              for (gint64 k = 0; k < c; k++)
                {
                  float g = o[x * c + k];
                  r0[x0 + k] += g * (1 - wy) * (1 - wx);
                  r0[x1 + k] += g * (1 - wy) * wx;
                  r1[x0 + k] += g * wy * (1 - wx);
                  r1[x1 + k] += g * wy * wx;
                }
          }
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
