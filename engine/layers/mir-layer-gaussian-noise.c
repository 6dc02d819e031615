/* GaussianNoise: in training mode y = x + N(0, stddev^2) noise drawn from
 * args->seed (mir-layer-rng.h); identity otherwise.  dy/dx = 1 either way. */
#define G_LOG_DOMAIN "mir-layer-gaussian-noise"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-layer-rng.h"

typedef struct
{
  MirLayer parent;
  double stddev;
} MirLayerGaussianNoise;

static gboolean
gaussian_noise_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerGaussianNoise *self = (MirLayerGaussianNoise *) layer;

  if (!mir_config_get_double (config, "stddev", 0.0, &self->stddev, error))
    return FALSE;
  if (!(self->stddev >= 0 && isfinite (self->stddev)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("stddev must be a number of at least 0, but is %g"), self->stddev);
      return FALSE;
    }
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
gaussian_noise_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out,
                      GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
gaussian_noise_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                        const MirRunArgs *args, GError **error)
{
  MirLayerGaussianNoise *self = (MirLayerGaussianNoise *) layer;

  if (!args->training || self->stddev == 0)
    {
      mir_tensor_copy_data (out, in[0]);
      return TRUE;
    }
  for (gsize i = 0; i < out->numel; i++)
    out->data[i] = (float) (in[0]->data[i] + self->stddev * mir_rng_normal (args->seed, i));
  return TRUE;
}

static gboolean
gaussian_noise_backward (MirLayer *layer, MirTensor *const *in, guint n_in,
                         const MirTensor *out, const MirTensor *grad_out, MirTensor **grad_in,
                         MirTensor **grad_w, const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    mir_tensor_copy_data (grad_in[0], grad_out);
  return TRUE;
}

const MirLayerClass mir_layer_gaussian_noise_class = {
  .name = "GaussianNoise",
  .instance_size = sizeof (MirLayerGaussianNoise),
  .flags = MIR_LAYER_FLAG_STOCHASTIC | MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE,
  .configure = gaussian_noise_configure,
  .infer = gaussian_noise_infer,
  .forward = gaussian_noise_forward,
  .backward = gaussian_noise_backward,
};
