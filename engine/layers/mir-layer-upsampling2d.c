/* UpSampling2D: nearest (repeat rows and columns) or bilinear as Keras 2.4+
 * computes it (backend.resize_images -> tf.image.resize, half-pixel centres):
 * source = (dst + 0.5) * in / out - 0.5, taps floor/ceil clamped to the edges.
 * (TF.js and TF 1 used dst * in / out; tests/gen/README.md explains why the
 * reference for this layer is numpy.) */
#define G_LOG_DOMAIN "mir-layer-upsampling2d"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-resample.h"
#include "mir-conv-util.h"

typedef struct
{
  MirLayer parent;
  gint64 size[2];
  gboolean bilinear;
} MirLayerUpSampling2D;

static gboolean
upsampling_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerUpSampling2D *self = (MirLayerUpSampling2D *) layer;
  static const gint64 twos[2] = { 2, 2 };
  const char *interp = mir_config_get_string (config, "interpolation", "nearest");

  if (!mir_config_check_channels_last (config, error) ||
      !mir_config_get_size_pair (config, "size", twos, self->size, error))
    return FALSE;
  if (g_strcmp0 (interp, "nearest") == 0)
    self->bilinear = FALSE;
  else if (g_strcmp0 (interp, "bilinear") == 0)
    self->bilinear = TRUE;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("interpolation '%s' is not supported; use \"nearest\" or \"bilinear\""),
                   interp);
      return FALSE;
    }
  return TRUE;
}

static gboolean
upsampling_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerUpSampling2D *self = (MirLayerUpSampling2D *) layer;

  if (in->ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects a 4-D input (batch, height, width, channels) but got shape %s"), s);
      return FALSE;
    }
  *out = *in;
  for (guint i = 0; i < 2; i++)
    if (in->dim[1 + i] >= 0)
      out->dim[1 + i] = in->dim[1 + i] * self->size[i];
  return TRUE;
}

static gboolean
upsampling_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                    const MirRunArgs *args, GError **error)
{
  MirLayerUpSampling2D *self = (MirLayerUpSampling2D *) layer;
  const MirTensor *x = in[0];
  gint64 h = x->shape[1], w = x->shape[2], oh = out->shape[1], ow = out->shape[2];
  gsize c = (gsize) x->shape[3];

  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      const float *xn = x->data + (gsize) n * (gsize) (h * w) * c;
      float *yn = out->data + (gsize) n * (gsize) (oh * ow) * c;

      if (self->bilinear)
        {
          mir_resample_bilinear (xn, h, w, (gint64) c, yn, oh, ow);
          continue;
        }
      for (gint64 oy = 0; oy < oh; oy++)
        for (gint64 ox = 0; ox < ow; ox++)
          memcpy (yn + ((gsize) oy * (gsize) ow + (gsize) ox) * c,
                  xn + ((gsize) (oy / self->size[0]) * (gsize) w +
                        (gsize) (ox / self->size[1])) * c, c * sizeof (float));
    }
  return TRUE;
}

static gboolean
upsampling_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                     const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                     const MirRunArgs *args, GError **error)
{
  MirLayerUpSampling2D *self = (MirLayerUpSampling2D *) layer;
  const MirTensor *x = in[0];
  gint64 h = x->shape[1], w = x->shape[2], oh = out->shape[1], ow = out->shape[2];
  gsize c = (gsize) x->shape[3];

  if (grad_in[0] == NULL)
    return TRUE;
  memset (grad_in[0]->data, 0, grad_in[0]->numel * sizeof (float));
  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      float *dxn = grad_in[0]->data + (gsize) n * (gsize) (h * w) * c;
      const float *gn = grad_out->data + (gsize) n * (gsize) (oh * ow) * c;

      if (self->bilinear)
        {
          mir_resample_bilinear_backward (dxn, h, w, (gint64) c, gn, oh, ow);
          continue;
        }
      for (gint64 oy = 0; oy < oh; oy++)
        for (gint64 ox = 0; ox < ow; ox++)
          {
            const float *restrict go = gn + ((gsize) oy * (gsize) ow + (gsize) ox) * c;
            float *restrict d = dxn + ((gsize) (oy / self->size[0]) * (gsize) w +
                                       (gsize) (ox / self->size[1])) * c;
            for (gsize k = 0; k < c; k++)
              d[k] += go[k];
          }
    }
  return TRUE;
}

const MirLayerClass mir_layer_upsampling2d_class = {
  .name = "UpSampling2D",
  .instance_size = sizeof (MirLayerUpSampling2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = upsampling_configure,
  .infer = upsampling_infer,
  .forward = upsampling_forward,
  .backward = upsampling_backward,
};
