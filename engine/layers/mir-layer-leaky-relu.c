/* LeakyReLU: f(x) = x for x >= 0, slope * x otherwise.  The slope is
 * "alpha" in Keras 2 configs and "negative_slope" in Keras 3; both default
 * to 0.3. */
#define G_LOG_DOMAIN "mir-layer-leaky-relu"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  float slope;
} MirLayerLeakyReLU;

static gboolean
leaky_relu_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerLeakyReLU *self = (MirLayerLeakyReLU *) layer;
  double alpha, slope;

  if (!mir_config_get_double (config, "alpha", 0.3, &alpha, error) ||
      !mir_config_get_double (config, "negative_slope", alpha, &slope, error))
    return FALSE;
  if (!isfinite (slope))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("the negative slope must be a finite number"));
      return FALSE;
    }
  self->slope = (float) slope;
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
leaky_relu_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
leaky_relu_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                    const MirRunArgs *args, GError **error)
{
  MirLayerLeakyReLU *self = (MirLayerLeakyReLU *) layer;
  const float *x = in[0]->data;

  for (gsize i = 0; i < out->numel; i++)
    out->data[i] = x[i] >= 0 ? x[i] : self->slope * x[i];
  return TRUE;
}

static gboolean
leaky_relu_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                     const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                     const MirRunArgs *args, GError **error)
{
  MirLayerLeakyReLU *self = (MirLayerLeakyReLU *) layer;
  const float *x = in[0]->data, *dy = grad_out->data;

  if (grad_in[0] == NULL)
    return TRUE;
  for (gsize i = 0; i < grad_out->numel; i++)
    grad_in[0]->data[i] = x[i] >= 0 ? dy[i] : self->slope * dy[i];
  return TRUE;
}

const MirLayerClass mir_layer_leaky_relu_class = {
  .name = "LeakyReLU",
  .instance_size = sizeof (MirLayerLeakyReLU),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = leaky_relu_configure,
  .infer = leaky_relu_infer,
  .forward = leaky_relu_forward,
  .backward = leaky_relu_backward,
};
