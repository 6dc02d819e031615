/* ReLU with Keras' options:
 *   f(x) = max_value                     if x >= max_value
 *        = x                             if threshold <= x < max_value
 *        = negative_slope * (x - threshold) otherwise
 * (the formula of the Keras documentation; TF's implementation agrees with it
 * for threshold >= 0, the only case models use in practice).
 *
 * A plain ReLU (and ReLU(6)) records itself as layer->activation, so asking
 * for the linear output of the last layer skips it, as for Activation("relu"). */
#define G_LOG_DOMAIN "mir-layer-relu"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  double max_value;   /* INFINITY when none */
  double negative_slope;
  double threshold;
} MirLayerReLU;

static gboolean
relu_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerReLU *self = (MirLayerReLU *) layer;

  if (!mir_config_get_double (config, "max_value", INFINITY, &self->max_value, error) ||
      !mir_config_get_double (config, "negative_slope", 0.0, &self->negative_slope, error) ||
      !mir_config_get_double (config, "threshold", 0.0, &self->threshold, error))
    return FALSE;
  if (self->max_value < 0 || isnan (self->max_value))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("max_value must be at least 0, but is %g"), self->max_value);
      return FALSE;
    }
  if (self->negative_slope < 0 || !isfinite (self->negative_slope) || !isfinite (self->threshold))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("negative_slope must be at least 0 and threshold finite, but they are %g and %g"),
                   self->negative_slope, self->threshold);
      return FALSE;
    }
  layer->activation = MIR_ACT_LINEAR;
  if (self->negative_slope == 0 && self->threshold == 0)
    {
      if (isinf (self->max_value))
        layer->activation = MIR_ACT_RELU;
      else if (self->max_value == 6.0)
        layer->activation = MIR_ACT_RELU6;
    }
  return TRUE;
}

static gboolean
relu_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
relu_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
              const MirRunArgs *args, GError **error)
{
  MirLayerReLU *self = (MirLayerReLU *) layer;
  const float *x = in[0]->data;
  float *y = out->data;
  float mx = (float) self->max_value, th = (float) self->threshold;
  float ns = (float) self->negative_slope;

  if (args->linear_output && layer->activation != MIR_ACT_LINEAR)
    {
      mir_tensor_copy_data (out, in[0]);
      return TRUE;
    }
  for (gsize i = 0; i < out->numel; i++)
    {
      if (x[i] >= mx)
        y[i] = mx;
      else if (x[i] >= th)
        y[i] = x[i];
      else
        y[i] = ns * (x[i] - th);
    }
  return TRUE;
}

static gboolean
relu_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
               const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
               const MirRunArgs *args, GError **error)
{
  MirLayerReLU *self = (MirLayerReLU *) layer;
  const float *x = in[0]->data, *dy = grad_out->data;
  float mx = (float) self->max_value, th = (float) self->threshold;
  float ns = (float) self->negative_slope;
  float *dx;

  if (grad_in[0] == NULL)
    return TRUE;
  dx = grad_in[0]->data;
  if (args->linear_output && layer->activation != MIR_ACT_LINEAR)
    {
      mir_tensor_copy_data (grad_in[0], grad_out);
      return TRUE;
    }
  for (gsize i = 0; i < grad_out->numel; i++)
    {
      if (x[i] >= mx)
        dx[i] = 0;
      else if (x[i] >= th)
        dx[i] = dy[i];
      else
        dx[i] = ns * dy[i];
      if (args->guided_relu && dy[i] < 0)
        dx[i] = 0;
    }
  return TRUE;
}

const MirLayerClass mir_layer_relu_class = {
  .name = "ReLU",
  .instance_size = sizeof (MirLayerReLU),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = relu_configure,
  .infer = relu_infer,
  .forward = relu_forward,
  .backward = relu_backward,
};
