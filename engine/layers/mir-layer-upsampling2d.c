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

/* Source taps of output coordinate @o along an axis of @in -> @out values. */
static inline void
taps (gint64 o, gint64 in, gint64 out, gint64 *i0, gint64 *i1, float *frac)
{
  float scale = (float) in / (float) out;
  float src = ((float) o + 0.5f) * scale - 0.5f;
  float fl = floorf (src);

  *i0 = CLAMP ((gint64) fl, 0, in - 1);
  *i1 = CLAMP ((gint64) ceilf (src), 0, in - 1);
  *frac = src - fl;
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
      for (gint64 oy = 0; oy < oh; oy++)
        for (gint64 ox = 0; ox < ow; ox++)
          {
            float *restrict yo = out->data + (((gsize) n * (gsize) oh + (gsize) oy) * (gsize) ow +
                                              (gsize) ox) * c;
            if (!self->bilinear)
              memcpy (yo, xn + ((gsize) (oy / self->size[0]) * (gsize) w +
                                (gsize) (ox / self->size[1])) * c, c * sizeof (float));
            else
              {
                gint64 y0, y1, x0, x1;
                float ly, lx;
                const float *restrict p00, *restrict p01, *restrict p10, *restrict p11;

                taps (oy, h, oh, &y0, &y1, &ly);
                taps (ox, w, ow, &x0, &x1, &lx);
                p00 = xn + ((gsize) y0 * (gsize) w + (gsize) x0) * c;
                p01 = xn + ((gsize) y0 * (gsize) w + (gsize) x1) * c;
                p10 = xn + ((gsize) y1 * (gsize) w + (gsize) x0) * c;
                p11 = xn + ((gsize) y1 * (gsize) w + (gsize) x1) * c;
                for (gsize k = 0; k < c; k++)
                  {
                    float top = p00[k] + (p01[k] - p00[k]) * lx;
                    float bottom = p10[k] + (p11[k] - p10[k]) * lx;
                    yo[k] = top + (bottom - top) * ly;
                  }
              }
          }
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
      for (gint64 oy = 0; oy < oh; oy++)
        for (gint64 ox = 0; ox < ow; ox++)
          {
            const float *restrict go = grad_out->data + (((gsize) n * (gsize) oh + (gsize) oy) *
                                                         (gsize) ow + (gsize) ox) * c;
            if (!self->bilinear)
              {
                float *restrict d = dxn + ((gsize) (oy / self->size[0]) * (gsize) w +
                                           (gsize) (ox / self->size[1])) * c;
                for (gsize k = 0; k < c; k++)
                  d[k] += go[k];
              }
            else
              {
                gint64 y0, y1, x0, x1;
                float ly, lx, w00, w01, w10, w11;
                float *d00, *d01, *d10, *d11;

                taps (oy, h, oh, &y0, &y1, &ly);
                taps (ox, w, ow, &x0, &x1, &lx);
                w00 = (1 - ly) * (1 - lx);
                w01 = (1 - ly) * lx;
                w10 = ly * (1 - lx);
                w11 = ly * lx;
                d00 = dxn + ((gsize) y0 * (gsize) w + (gsize) x0) * c;
                d01 = dxn + ((gsize) y0 * (gsize) w + (gsize) x1) * c;
                d10 = dxn + ((gsize) y1 * (gsize) w + (gsize) x0) * c;
                d11 = dxn + ((gsize) y1 * (gsize) w + (gsize) x1) * c;
                for (gsize k = 0; k < c; k++)
                  {
                    d00[k] += go[k] * w00;
                    d01[k] += go[k] * w01;
                    d10[k] += go[k] * w10;
                    d11[k] += go[k] * w11;
                  }
              }
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
