/* Dense: y = act(x K + b) over the last axis (rank 2 and higher, like Keras),
 * kernel [in, units]. */
#define G_LOG_DOMAIN "mir-layer-dense"

#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"
#include "mir-gemm.h"

typedef struct
{
  MirLayer parent;
  gint64 units;
  gboolean use_bias;
} MirLayerDense;

static gboolean
dense_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerDense *self = (MirLayerDense *) layer;

  if (!mir_config_get_int (config, "units", 0, &self->units, error) ||
      !mir_config_get_bool (config, "use_bias", TRUE, &self->use_bias, error) ||
      !mir_config_get_activation (layer, config, error))
    return FALSE;
  if (self->units < 1 || self->units > (1 << 24))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'units' must be between 1 and %d, but is %" PRId64),
                   1 << 24, self->units);
      return FALSE;
    }
  return TRUE;
}

static gboolean
dense_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerDense *self = (MirLayerDense *) layer;
  g_autofree char *s = mir_shape_to_string (in);

  if (in->ndim < 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects an input of rank 2 or more but got shape %s"), s);
      return FALSE;
    }
  if (in->dim[in->ndim - 1] < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the last axis of the input must be known, but the input shape is %s"), s);
      return FALSE;
    }
  if (layer->built && in->dim[in->ndim - 1] != layer->weights[0].shape.dim[0])
    {
      g_autofree char *w = mir_shape_to_string (&layer->weights[0].shape);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("input of shape %s does not match the kernel of shape %s"), s, w);
      return FALSE;
    }
  *out = *in;
  out->dim[in->ndim - 1] = self->units;
  return TRUE;
}

static gboolean
dense_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerDense *self = (MirLayerDense *) layer;
  gint64 kshape[2] = { in->dim[in->ndim - 1], self->units };

  if (kshape[0] > MIR_GEMM_MAX_DIM)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("an input of %" PRId64 " features is more than Mirada accepts"),
                   kshape[0]);
      return FALSE;
    }
  mir_layer_add_weight (layer, "kernel", 2, kshape, TRUE, MIR_INIT_GLOROT_UNIFORM);
  if (self->use_bias)
    mir_layer_add_weight (layer, "bias", 1, &self->units, TRUE, MIR_INIT_ZEROS);
  return TRUE;
}

static gboolean
dense_linear (MirLayer *layer, MirTensor *const *in, const MirTensor *out, float *z,
              GError **error)
{
  MirLayerDense *self = (MirLayerDense *) layer;
  const MirTensor *x = in[0];
  gint64 k = x->shape[x->ndim - 1], u = self->units;
  gint64 rows = (gint64) (x->numel / (gsize) k);

  mir_gemm (FALSE, FALSE, rows, u, k, 1.0f, x->data, k, layer->weights[0].value->data, u, 0.0f,
            z, u);
  if (self->use_bias)
    mir_add_bias_rows (z, layer->weights[1].value->data, rows, u);
  return TRUE;
}

static gboolean
dense_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
               const MirRunArgs *args, GError **error)
{
  MirLayerDense *self = (MirLayerDense *) layer;
  const MirTensor *x = in[0];
  gint64 k = x->shape[x->ndim - 1];

  /* Inference: chunks on the engine's threads with bias and ReLU in each
   * (mir_gemm_infer).  Training keeps the plain product (mir_gemm) and its
   * rounding. */
  if (mir_act_fast_forward_ok (layer, args))
    {
      gboolean relu = mir_act_active (layer, args) && layer->activation == MIR_ACT_RELU;

      mir_gemm_infer ((gint64) (x->numel / (gsize) k), self->units, k, x->data, k,
                      layer->weights[0].value->data,
                      self->use_bias ? layer->weights[1].value->data : NULL, relu, out->data);
      if (relu)
        return TRUE;
    }
  else if (!dense_linear (layer, in, out, out->data, error))
    return FALSE;
  return mir_act_forward (layer, out, (gsize) self->units, args, error);
}

static gboolean
dense_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                const MirRunArgs *args, GError **error)
{
  MirLayerDense *self = (MirLayerDense *) layer;
  const MirTensor *x = in[0];
  gint64 k = x->shape[x->ndim - 1], u = self->units;
  gint64 rows = (gint64) (x->numel / (gsize) k);
  float *dz_buf = NULL;
  const float *dz;

  if (!mir_act_backward (layer, in, out, grad_out, (gsize) u, args, dense_linear, &dz_buf, error))
    return FALSE;
  dz = dz_buf ? dz_buf : grad_out->data;
  if (grad_w[0] != NULL) /* dK = X^T dz */
    mir_gemm (TRUE, FALSE, k, u, rows, 1.0f, x->data, k, dz, u, 0.0f, grad_w[0]->data, u);
  if (self->use_bias && grad_w[1] != NULL)
    mir_sum_rows (dz, rows, u, grad_w[1]->data);
  if (grad_in[0] != NULL) /* dX = dz K^T */
    mir_gemm (FALSE, TRUE, rows, k, u, 1.0f, dz, u, layer->weights[0].value->data, u, 0.0f,
              grad_in[0]->data, k);
  mir_free_floats (dz_buf);
  return TRUE;
}

static gint64
dense_flops (MirLayer *layer, const MirShape *in, guint n_in, const MirShape *out)
{
  MirLayerDense *self = (MirLayerDense *) layer;
  gint64 rows = 1;

  for (guint i = 1; i + 1 < in->ndim; i++)
    rows *= MAX (in->dim[i], 1);
  return 2 * rows * in->dim[in->ndim - 1] * self->units;
}

const MirLayerClass mir_layer_dense_class = {
  .name = "Dense",
  .instance_size = sizeof (MirLayerDense),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = dense_configure,
  .infer = dense_infer,
  .build = dense_build,
  .forward = dense_forward,
  .backward = dense_backward,
  .flops = dense_flops,
};
