/* HardSigmoid and HardSwish, ONNX's operators (PyTorch's nn.Hardsigmoid and
 * nn.Hardswish, MobileNetV3):
 *   HardSigmoid: f(x) = clamp(alpha x + beta, 0, 1), alpha 0.2 and beta 0.5
 *                by default (PyTorch exports alpha = 1/6);
 *   HardSwish:   f(x) = x clamp(x / 6 + 1/2, 0, 1).
 * Two classes in one file: HardSwish is HardSigmoid(1/6, 1/2) times x. */
#define G_LOG_DOMAIN "mir-layer-hard-sigmoid"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  float alpha, beta;
} MirLayerHardSigmoid;

static gboolean
hard_sigmoid_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerHardSigmoid *self = (MirLayerHardSigmoid *) layer;
  gboolean swish = layer->klass == &mir_layer_hard_swish_class;
  double alpha = 1.0 / 6.0, beta = 0.5;

  if (!swish && (!mir_config_get_double (config, "alpha", 0.2, &alpha, error) ||
                 !mir_config_get_double (config, "beta", 0.5, &beta, error)))
    return FALSE;
  if (!isfinite (alpha) || !isfinite (beta))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("alpha and beta must be finite numbers"));
      return FALSE;
    }
  self->alpha = (float) alpha;
  self->beta = (float) beta;
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
hard_sigmoid_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out,
                    GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
hard_sigmoid_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                      const MirRunArgs *args, GError **error)
{
  MirLayerHardSigmoid *self = (MirLayerHardSigmoid *) layer;
  gboolean swish = layer->klass == &mir_layer_hard_swish_class;
  const float *x = in[0]->data;

  for (gsize i = 0; i < out->numel; i++)
    {
      float h = CLAMP (self->alpha * x[i] + self->beta, 0.0f, 1.0f);
      out->data[i] = swish ? x[i] * h : h;
    }
  return TRUE;
}

static gboolean
hard_sigmoid_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                       const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                       const MirRunArgs *args, GError **error)
{
  MirLayerHardSigmoid *self = (MirLayerHardSigmoid *) layer;
  gboolean swish = layer->klass == &mir_layer_hard_swish_class;
  const float *x = in[0]->data, *dy = grad_out->data;

  if (grad_in[0] == NULL)
    return TRUE;
  for (gsize i = 0; i < grad_out->numel; i++)
    {
      float z = self->alpha * x[i] + self->beta;
      float inside = z > 0.0f && z < 1.0f ? 1.0f : 0.0f;
      float d;

      if (swish) /* d(x h)/dx = h + x h' */
        d = CLAMP (z, 0.0f, 1.0f) + inside * self->alpha * x[i];
      else
        d = inside * self->alpha;
      grad_in[0]->data[i] = d * dy[i];
    }
  return TRUE;
}

const MirLayerClass mir_layer_hard_sigmoid_class = {
  .name = "HardSigmoid",
  .instance_size = sizeof (MirLayerHardSigmoid),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = hard_sigmoid_configure,
  .infer = hard_sigmoid_infer,
  .forward = hard_sigmoid_forward,
  .backward = hard_sigmoid_backward,
};

const MirLayerClass mir_layer_hard_swish_class = {
  .name = "HardSwish",
  .instance_size = sizeof (MirLayerHardSigmoid),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = hard_sigmoid_configure,
  .infer = hard_sigmoid_infer,
  .forward = hard_sigmoid_forward,
  .backward = hard_sigmoid_backward,
};
