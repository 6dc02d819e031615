/* GaussianDropout: in training mode y = x * e with e ~ N(1, rate / (1 - rate))
 * drawn from args->seed (mir-layer-rng.h), so dy/dx = e; identity otherwise
 * and, as in Keras, also when rate is 0 or 1. */
#define G_LOG_DOMAIN "mir-layer-gaussian-dropout"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-layer-rng.h"

typedef struct
{
  MirLayer parent;
  double rate;
} MirLayerGaussianDropout;

static gboolean
gaussian_dropout_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerGaussianDropout *self = (MirLayerGaussianDropout *) layer;

  if (!mir_config_get_double (config, "rate", 0.0, &self->rate, error))
    return FALSE;
  if (!(self->rate >= 0 && self->rate <= 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("the dropout rate must be between 0 and 1, but is %g"), self->rate);
      return FALSE;
    }
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
gaussian_dropout_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out,
                        GError **error)
{
  *out = in[0];
  return TRUE;
}

/* dst = src * e, the same e in forward and backward. */
static void
apply_noise (MirLayer *layer, const MirTensor *src, MirTensor *dst, const MirRunArgs *args)
{
  MirLayerGaussianDropout *self = (MirLayerGaussianDropout *) layer;
  double sd;

  if (!args->training || self->rate <= 0 || self->rate >= 1)
    {
      mir_tensor_copy_data (dst, src);
      return;
    }
  sd = sqrt (self->rate / (1.0 - self->rate));
  for (gsize i = 0; i < src->numel; i++)
    dst->data[i] = (float) (src->data[i] * (1.0 + sd * mir_rng_normal (args->seed, i)));
}

static gboolean
gaussian_dropout_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                          const MirRunArgs *args, GError **error)
{
  apply_noise (layer, in[0], out, args);
  return TRUE;
}

static gboolean
gaussian_dropout_backward (MirLayer *layer, MirTensor *const *in, guint n_in,
                           const MirTensor *out, const MirTensor *grad_out, MirTensor **grad_in,
                           MirTensor **grad_w, const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    apply_noise (layer, grad_out, grad_in[0], args);
  return TRUE;
}

const MirLayerClass mir_layer_gaussian_dropout_class = {
  .name = "GaussianDropout",
  .instance_size = sizeof (MirLayerGaussianDropout),
  .flags = MIR_LAYER_FLAG_STOCHASTIC | MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE,
  .configure = gaussian_dropout_configure,
  .infer = gaussian_dropout_infer,
  .forward = gaussian_dropout_forward,
  .backward = gaussian_dropout_backward,
};
