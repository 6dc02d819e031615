/* DepthwiseConv2D: each input channel convolved with its own depth_multiplier
 * filters, by a direct loop kernel (mir-depthwise.c). */
#define G_LOG_DOMAIN "mir-layer-depthwise-conv2d"

#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"
#include "mir-depthwise.h"
#include "mir-gemm.h"

typedef struct
{
  MirLayer parent;
  MirWindow win;
  gint64 mult;
  gboolean use_bias;
} MirLayerDepthwiseConv2D;

static gboolean
depthwise_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;

  if (!mir_config_get_conv_window (config, &self->win, error) ||
      !mir_config_get_int (config, "depth_multiplier", 1, &self->mult, error) ||
      !mir_config_get_bool (config, "use_bias", TRUE, &self->use_bias, error) ||
      !mir_config_get_activation (layer, config, error))
    return FALSE;
  if (self->mult < 1 || self->mult > 65536)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'depth_multiplier' must be between 1 and 65536, but is %" PRId64),
                   self->mult);
      return FALSE;
    }
  return TRUE;
}

static gboolean
depthwise_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;

  return mir_conv_infer (layer, &self->win, in,
                         in->ndim == 4 && in->dim[3] > 0 ? in->dim[3] * self->mult : -1, 1,
                         TRUE, out, error);
}

static gboolean
depthwise_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;
  gint64 kshape[4] = { self->win.kh, self->win.kw, in->dim[3], self->mult };
  gint64 nb = in->dim[3] * self->mult;

  if (in->dim[3] < 1)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the number of input channels must be known, but the input shape is %s"), s);
      return FALSE;
    }
  mir_layer_add_weight (layer, "depthwise_kernel", 4, kshape, TRUE, MIR_INIT_GLOROT_UNIFORM);
  if (self->use_bias)
    mir_layer_add_weight (layer, "bias", 1, &nb, TRUE, MIR_INIT_ZEROS);
  return TRUE;
}

static gboolean
depthwise_linear (MirLayer *layer, MirTensor *const *in, const MirTensor *out, float *z,
                  GError **error)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;
  MirConvGeom g;

  mir_conv_geom_init (&g, &self->win, in[0]);
  if (self->mult == 1)
    mir_depthwise_forward_fast (&g, in[0]->data, layer->weights[0].value->data,
                                self->use_bias ? layer->weights[1].value->data : NULL,
                                MIR_ACT_LINEAR, z);
  else
    mir_depthwise_forward (&g, self->mult, in[0]->data, layer->weights[0].value->data,
                           self->use_bias ? layer->weights[1].value->data : NULL, z);
  return TRUE;
}

static gboolean
depthwise_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                   const MirRunArgs *args, GError **error)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;

  /* Inference: the activation in the kernel's registers. */
  if (self->mult == 1 && mir_act_fast_forward_ok (layer, args))
    {
      MirConvGeom g;

      mir_conv_geom_init (&g, &self->win, in[0]);
      mir_depthwise_forward_fast (&g, in[0]->data, layer->weights[0].value->data,
                                  self->use_bias ? layer->weights[1].value->data : NULL,
                                  mir_act_active (layer, args) ? layer->activation
                                                               : MIR_ACT_LINEAR,
                                  out->data);
      return TRUE;
    }
  if (!depthwise_linear (layer, in, out, out->data, error))
    return FALSE;
  return mir_act_forward (layer, out, (gsize) out->shape[3], args, error);
}

static gboolean
depthwise_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                    const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                    const MirRunArgs *args, GError **error)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;
  gint64 cm = out->shape[3];
  float *dz_buf = NULL;
  const float *dz;
  MirConvGeom g;

  if (!mir_act_backward (layer, in, out, grad_out, (gsize) cm, args, depthwise_linear, &dz_buf,
                         error))
    return FALSE;
  dz = dz_buf ? dz_buf : grad_out->data;
  mir_conv_geom_init (&g, &self->win, in[0]);
  if (self->use_bias && grad_w[1] != NULL)
    mir_sum_rows (dz, (gint64) (out->numel / (gsize) cm), cm, grad_w[1]->data);
  if (grad_in[0] != NULL || grad_w[0] != NULL)
    mir_depthwise_backward (&g, self->mult, in[0]->data, layer->weights[0].value->data, dz,
                            grad_in[0] ? grad_in[0]->data : NULL,
                            grad_w[0] ? grad_w[0]->data : NULL);
  mir_free_floats (dz_buf);
  return TRUE;
}

static gint64
depthwise_flops (MirLayer *layer, const MirShape *in, guint n_in, const MirShape *out)
{
  MirLayerDepthwiseConv2D *self = (MirLayerDepthwiseConv2D *) layer;

  if (out->dim[1] < 0 || out->dim[2] < 0 || in->dim[3] < 0)
    return -1; /* free spatial size: unknown */
  return 2 * out->dim[1] * out->dim[2] * out->dim[3] * self->win.kh * self->win.kw;
}

static const MirWindow *
depthwise_window (MirLayer *layer)
{
  return &((MirLayerDepthwiseConv2D *) layer)->win;
}

const MirLayerClass mir_layer_depthwise_conv2d_class = {
  .name = "DepthwiseConv2D",
  .instance_size = sizeof (MirLayerDepthwiseConv2D),
  .flags = MIR_LAYER_FLAG_CONV | MIR_LAYER_FLAG_WRITES_ALL,
  .configure = depthwise_configure,
  .infer = depthwise_infer,
  .build = depthwise_build,
  .forward = depthwise_forward,
  .backward = depthwise_backward,
  .flops = depthwise_flops,
  .window = depthwise_window,
};
