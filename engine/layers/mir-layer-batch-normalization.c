/* BatchNormalization over the last (channel) axis.
 *
 * Inference: moving statistics, an affine map per channel.  Training
 * (args->training): statistics of the batch over every axis but the last,
 * and moving = moving * momentum + batch * (1 - momentum), with the biased
 * batch variance as Keras 3 and Keras 2's non-fused path use.  A layer
 * that is not trainable (a frozen base, `mirada train --freeze-base`) runs
 * in inference mode even while training, as in TF 2 Keras.  Weights in
 * Keras order gamma, beta, moving_mean, moving_variance; gamma (scale=False)
 * and beta (center=False) are absent when off. */
#define G_LOG_DOMAIN "mir-layer-batch-normalization"

#include <math.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  gint64 axis;      /* as configured: -1, or a positive index */
  double epsilon;
  double momentum;
  gboolean center, scale;
  gint i_gamma, i_beta, i_mean, i_var;
} MirLayerBatchNormalization;

/* Batch statistics (and moving-average updates) in training mode, unless the
 * layer is frozen: Keras (TF 2) runs a non-trainable BatchNormalization in
 * inference mode, so a frozen base keeps its statistics. */
static inline gboolean
use_batch_stats (const MirLayer *layer, const MirRunArgs *args)
{
  return args->training && layer->trainable;
}

static gboolean
bn_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerBatchNormalization *self = (MirLayerBatchNormalization *) layer;
  JsonNode *axis = config && json_object_has_member (config, "axis")
                   ? json_object_get_member (config, "axis") : NULL;

  self->axis = -1;
  if (axis != NULL && JSON_NODE_HOLDS_ARRAY (axis))
    {
      JsonArray *a = json_node_get_array (axis);
      JsonNode *e = json_array_get_length (a) == 1 ? json_array_get_element (a, 0) : NULL;

      if (e == NULL || !JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("normalisation over several axes is not supported; only the last "
                         "(channel) axis is"));
          return FALSE;
        }
      self->axis = json_node_get_int (e);
    }
  else if (!mir_config_get_int (config, "axis", -1, &self->axis, error))
    return FALSE;
  if (!mir_config_get_double (config, "epsilon", 1e-3, &self->epsilon, error) ||
      !mir_config_get_double (config, "momentum", 0.99, &self->momentum, error) ||
      !mir_config_get_bool (config, "center", TRUE, &self->center, error) ||
      !mir_config_get_bool (config, "scale", TRUE, &self->scale, error))
    return FALSE;
  if (!(self->epsilon > 0) || !isfinite (self->epsilon))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'epsilon' must be positive, but is %g"), self->epsilon);
      return FALSE;
    }
  if (!(self->momentum >= 0 && self->momentum <= 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'momentum' must be between 0 and 1, but is %g"), self->momentum);
      return FALSE;
    }
  return TRUE;
}

static gboolean
bn_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerBatchNormalization *self = (MirLayerBatchNormalization *) layer;
  g_autofree char *s = mir_shape_to_string (in);
  gint64 c = in->ndim > 0 ? in->dim[in->ndim - 1] : -1;

  if (!mir_layer_check_channel_axis (in, self->axis, error))
    return FALSE;
  if (layer->built && c != layer->weights[self->i_mean].shape.dim[0])
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("input of shape %s does not match the %" PRId64
                     " channels of the layer's statistics"), s,
                   layer->weights[self->i_mean].shape.dim[0]);
      return FALSE;
    }
  *out = *in;
  return TRUE;
}

static gboolean
bn_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerBatchNormalization *self = (MirLayerBatchNormalization *) layer;
  gint64 c = in->dim[in->ndim - 1];
  gint i = 0;

  self->i_gamma = self->i_beta = -1;
  if (self->scale)
    {
      mir_layer_add_weight (layer, "gamma", 1, &c, TRUE, MIR_INIT_ONES);
      self->i_gamma = i++;
    }
  if (self->center)
    {
      mir_layer_add_weight (layer, "beta", 1, &c, TRUE, MIR_INIT_ZEROS);
      self->i_beta = i++;
    }
  mir_layer_add_weight (layer, "moving_mean", 1, &c, FALSE, MIR_INIT_ZEROS);
  self->i_mean = i++;
  mir_layer_add_weight (layer, "moving_variance", 1, &c, FALSE, MIR_INIT_ONES);
  self->i_var = i++;
  return TRUE;
}

static inline const float *
weight_or_null (MirLayer *layer, gint i)
{
  return i >= 0 ? layer->weights[i].value->data : NULL;
}

/* Per-channel mean and biased variance over all rows, in double. */
static void
batch_stats (const float *x, gsize rows, gsize c, double *mean, double *var)
{
  for (gsize k = 0; k < c; k++)
    mean[k] = var[k] = 0;
  for (gsize r = 0; r < rows; r++)
    for (gsize k = 0; k < c; k++)
      mean[k] += x[r * c + k];
  for (gsize k = 0; k < c; k++)
    mean[k] /= (double) rows;
  for (gsize r = 0; r < rows; r++)
    for (gsize k = 0; k < c; k++)
      {
        double d = x[r * c + k] - mean[k];
        var[k] += d * d;
      }
  for (gsize k = 0; k < c; k++)
    var[k] /= (double) rows;
}

/* mean[], var[] and inv_std[] to normalise with in this mode. */
static void
get_stats (MirLayerBatchNormalization *self, const MirTensor *x, gboolean training,
           double *mean, double *var, double *inv_std)
{
  MirLayer *layer = &self->parent;
  gsize c = (gsize) x->shape[x->ndim - 1], rows = x->numel / c;

  if (training)
    {
      batch_stats (x->data, rows, c, mean, var);
      for (gsize k = 0; k < c; k++)
        inv_std[k] = 1.0 / sqrt (var[k] + self->epsilon);
    }
  else
    {
      const float *mm = layer->weights[self->i_mean].value->data;
      const float *mv = layer->weights[self->i_var].value->data;
      for (gsize k = 0; k < c; k++)
        {
          mean[k] = mm[k];
          var[k] = mv[k];
          inv_std[k] = 1.0 / sqrt ((double) mv[k] + self->epsilon);
        }
    }
}

static gboolean
bn_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
            const MirRunArgs *args, GError **error)
{
  MirLayerBatchNormalization *self = (MirLayerBatchNormalization *) layer;
  const MirTensor *x = in[0];
  gsize c = (gsize) x->shape[x->ndim - 1], rows = x->numel / c;
  const float *gamma = weight_or_null (layer, self->i_gamma);
  const float *beta = weight_or_null (layer, self->i_beta);
  g_autofree double *mean = g_new (double, c);
  g_autofree double *var = g_new (double, c);
  g_autofree double *inv_std = g_new (double, c);
  g_autofree float *a = g_new (float, c);
  g_autofree float *b = g_new (float, c);

  get_stats (self, x, use_batch_stats (layer, args), mean, var, inv_std);
  for (gsize k = 0; k < c; k++)
    {
      double g = gamma ? gamma[k] : 1.0;
      a[k] = (float) (g * inv_std[k]);
      b[k] = (float) ((beta ? beta[k] : 0.0) - g * inv_std[k] * mean[k]);
    }
  for (gsize r = 0; r < rows; r++)
    {
      const float *restrict xr = x->data + r * c;
      float *restrict yr = out->data + r * c;
      for (gsize k = 0; k < c; k++)
        yr[k] = xr[k] * a[k] + b[k];
    }
  if (use_batch_stats (layer, args))
    {
      float *mm = layer->weights[self->i_mean].value->data;
      float *mv = layer->weights[self->i_var].value->data;
      double mo = self->momentum;

      for (gsize k = 0; k < c; k++)
        {
          mm[k] = (float) (mm[k] * mo + mean[k] * (1 - mo));
          mv[k] = (float) (mv[k] * mo + var[k] * (1 - mo));
        }
      mir_tensor_changed (layer->weights[self->i_mean].value);
      mir_tensor_changed (layer->weights[self->i_var].value);
    }
  return TRUE;
}

static gboolean
bn_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
             const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
             const MirRunArgs *args, GError **error)
{
  MirLayerBatchNormalization *self = (MirLayerBatchNormalization *) layer;
  const MirTensor *x = in[0];
  const float *dy = grad_out->data;
  gsize c = (gsize) x->shape[x->ndim - 1], rows = x->numel / c;
  const float *gamma = weight_or_null (layer, self->i_gamma);
  g_autofree double *mean = g_new (double, c);
  g_autofree double *var = g_new (double, c);
  g_autofree double *inv_std = g_new (double, c);
  g_autofree double *sum_dy = g_new0 (double, c);
  g_autofree double *sum_dy_xhat = g_new0 (double, c);

  get_stats (self, x, use_batch_stats (layer, args), mean, var, inv_std);
  for (gsize r = 0; r < rows; r++)
    for (gsize k = 0; k < c; k++)
      {
        double xhat = (x->data[r * c + k] - mean[k]) * inv_std[k];
        sum_dy[k] += dy[r * c + k];
        sum_dy_xhat[k] += dy[r * c + k] * xhat;
      }
  if (self->i_gamma >= 0 && grad_w[self->i_gamma] != NULL)
    for (gsize k = 0; k < c; k++)
      grad_w[self->i_gamma]->data[k] = (float) sum_dy_xhat[k];
  if (self->i_beta >= 0 && grad_w[self->i_beta] != NULL)
    for (gsize k = 0; k < c; k++)
      grad_w[self->i_beta]->data[k] = (float) sum_dy[k];
  if (grad_in[0] == NULL)
    return TRUE;

  for (gsize r = 0; r < rows; r++)
    for (gsize k = 0; k < c; k++)
      {
        double g = (gamma ? gamma[k] : 1.0) * inv_std[k];
        double d = dy[r * c + k];

        if (use_batch_stats (layer, args))
          {
            /* dx = g * (dy - mean(dy) - xhat * mean(dy * xhat)) */
            double xhat = (x->data[r * c + k] - mean[k]) * inv_std[k];
            d -= (sum_dy[k] + xhat * sum_dy_xhat[k]) / (double) rows;
          }
        grad_in[0]->data[r * c + k] = (float) (g * d);
      }
  return TRUE;
}

const MirLayerClass mir_layer_batch_normalization_class = {
  .name = "BatchNormalization",
  .instance_size = sizeof (MirLayerBatchNormalization),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = bn_configure,
  .infer = bn_infer,
  .build = bn_build,
  .forward = bn_forward,
  .backward = bn_backward,
};

void
mir_batch_norm_inference_affine (MirLayer *layer, double *a, double *b)
{
  MirLayerBatchNormalization *self = (MirLayerBatchNormalization *) layer;
  const float *gamma = weight_or_null (layer, self->i_gamma);
  const float *beta = weight_or_null (layer, self->i_beta);
  const float *mm = layer->weights[self->i_mean].value->data;
  const float *mv = layer->weights[self->i_var].value->data;
  gint64 c = layer->weights[self->i_mean].shape.dim[0];

  g_return_if_fail (layer->klass == &mir_layer_batch_normalization_class);
  for (gint64 k = 0; k < c; k++)
    {
      double inv_std = 1.0 / sqrt ((double) mv[k] + self->epsilon);
      double g = gamma ? gamma[k] : 1.0;

      a[k] = g * inv_std;
      b[k] = (beta ? beta[k] : 0.0) - g * inv_std * mm[k];
    }
}
