/* Dropout and SpatialDropout2D.
 *
 * Identity at inference.  In training mode each unit (Dropout) or each
 * channel of each sample (SpatialDropout2D) is dropped with probability
 * rate and the kept ones are scaled by 1 / (1 - rate).  The mask comes from
 * the counter-based generator of mir-layer-rng.h seeded by args->seed, so
 * backward regenerates the same mask. */
#define G_LOG_DOMAIN "mir-layer-dropout"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-layer-rng.h"

typedef struct
{
  MirLayer parent;
  double rate;
} MirLayerDropout;

static gboolean
dropout_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerDropout *self = (MirLayerDropout *) layer;

  if (!mir_config_get_double (config, "rate", 0.5, &self->rate, error))
    return FALSE;
  if (!(self->rate >= 0 && self->rate <= 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("the dropout rate must be between 0 and 1, but is %g"), self->rate);
      return FALSE;
    }
  /* noise_shape (a mask shared over some axes) is ignored: it only matters
   * in training, where the trainer treats the layer as plain Dropout. */
  if (config != NULL && json_object_has_member (config, "noise_shape") &&
      !JSON_NODE_HOLDS_NULL (json_object_get_member (config, "noise_shape")))
    g_debug ("Layer '%s': noise_shape is ignored; training uses a per-unit mask", layer->name);
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
dropout_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  if (layer->klass == &mir_layer_spatial_dropout2d_class && in[0].ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (&in[0]);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("SpatialDropout2D needs a 4-D input (N, H, W, C), but is given %s"), s);
      return FALSE;
    }
  *out = in[0];
  return TRUE;
}

/* dst = src * mask * scale, or a copy when the layer is inactive. */
static void
apply_mask (MirLayer *layer, const MirTensor *src, MirTensor *dst, const MirRunArgs *args)
{
  MirLayerDropout *self = (MirLayerDropout *) layer;
  gboolean spatial = layer->klass == &mir_layer_spatial_dropout2d_class;
  float scale;
  gsize c = 1, hw = 1;

  if (!args->training || self->rate <= 0)
    {
      mir_tensor_copy_data (dst, src);
      return;
    }
  if (self->rate >= 1)
    {
      mir_tensor_zero (dst);
      return;
    }
  scale = (float) (1.0 / (1.0 - self->rate));
  if (spatial)
    {
      c = (gsize) src->shape[3];
      hw = (gsize) (src->shape[1] * src->shape[2]);
    }
  for (gsize i = 0; i < src->numel; i++)
    {
      /* SpatialDropout2D: one draw per (sample, channel). */
      guint64 unit = spatial ? (i / (hw * c)) * c + i % c : i;
      gboolean keep = mir_rng_uniform (args->seed, unit) >= self->rate;
      dst->data[i] = keep ? src->data[i] * scale : 0.0f;
    }
}

static gboolean
dropout_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                 const MirRunArgs *args, GError **error)
{
  apply_mask (layer, in[0], out, args);
  return TRUE;
}

static gboolean
dropout_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                  const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                  const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    apply_mask (layer, grad_out, grad_in[0], args);
  return TRUE;
}

const MirLayerClass mir_layer_dropout_class = {
  .name = "Dropout",
  .instance_size = sizeof (MirLayerDropout),
  .flags = MIR_LAYER_FLAG_STOCHASTIC | MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE,
  .configure = dropout_configure,
  .infer = dropout_infer,
  .forward = dropout_forward,
  .backward = dropout_backward,
};

const MirLayerClass mir_layer_spatial_dropout2d_class = {
  .name = "SpatialDropout2D",
  .instance_size = sizeof (MirLayerDropout),
  .flags = MIR_LAYER_FLAG_STOCHASTIC | MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE,
  .configure = dropout_configure,
  .infer = dropout_infer,
  .forward = dropout_forward,
  .backward = dropout_backward,
};
