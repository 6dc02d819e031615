/* LayerNormalization over the last (channel) axis: each position's vector
 * of C values is normalised by its own mean and biased variance,
 *
 *   y = (x - mean) / sqrt (var + epsilon) * gamma + beta
 *
 * as Keras' LayerNormalization (axis -1), ONNX's LayerNormalization (axis -1)
 * and PyTorch's LayerNorm over the last dimension (ConvNeXt) compute it.
 * Weights in Keras order gamma, beta; either is absent when scale / center
 * is off.  Statistics in double. */
#define G_LOG_DOMAIN "mir-layer-layer-norm"

#include <math.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  gint64 axis;      /* as configured: -1, or a positive index */
  double epsilon;
  gboolean center, scale;
  gint i_gamma, i_beta;
} MirLayerLayerNorm;

static gboolean
ln_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerLayerNorm *self = (MirLayerLayerNorm *) layer;
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
      !mir_config_get_bool (config, "center", TRUE, &self->center, error) ||
      !mir_config_get_bool (config, "scale", TRUE, &self->scale, error))
    return FALSE;
  {
    gboolean rms = FALSE;
    if (!mir_config_get_bool (config, "rms_scaling", FALSE, &rms, error))
      return FALSE;
    if (rms)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                     _("RMS scaling (rms_scaling) is not supported"));
        return FALSE;
      }
  }
  if (!(self->epsilon > 0) || !isfinite (self->epsilon))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'epsilon' must be positive, but is %g"), self->epsilon);
      return FALSE;
    }
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
ln_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerLayerNorm *self = (MirLayerLayerNorm *) layer;
  g_autofree char *s = mir_shape_to_string (in);
  gint64 c = in->ndim > 0 ? in->dim[in->ndim - 1] : -1;

  if (!mir_layer_check_channel_axis (in, self->axis, error))
    return FALSE;
  if (layer->built && layer->n_weights > 0 && c != layer->weights[0].shape.dim[0])
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("input of shape %s does not match the %" PRId64
                     " channels of the layer's weights"), s, layer->weights[0].shape.dim[0]);
      return FALSE;
    }
  *out = *in;
  return TRUE;
}

static gboolean
ln_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerLayerNorm *self = (MirLayerLayerNorm *) layer;
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
  return TRUE;
}

static inline const float *
weight_or_null (MirLayer *layer, gint i)
{
  return i >= 0 ? layer->weights[i].value->data : NULL;
}

/* Mean and 1 / sqrt (var + epsilon) of one row of @c values. */
static void
row_stats (const float *x, gsize c, double epsilon, double *mean, double *inv_std)
{
  double m = 0, v = 0;

  for (gsize k = 0; k < c; k++)
    m += x[k];
  m /= (double) c;
  for (gsize k = 0; k < c; k++)
    {
      double d = x[k] - m;
      v += d * d;
    }
  *mean = m;
  *inv_std = 1.0 / sqrt (v / (double) c + epsilon);
}

static gboolean
ln_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
            const MirRunArgs *args, GError **error)
{
  MirLayerLayerNorm *self = (MirLayerLayerNorm *) layer;
  const MirTensor *x = in[0];
  gsize c = (gsize) x->shape[x->ndim - 1], rows = x->numel / c;
  const float *gamma = weight_or_null (layer, self->i_gamma);
  const float *beta = weight_or_null (layer, self->i_beta);

  for (gsize r = 0; r < rows; r++)
    {
      const float *xr = x->data + r * c;
      float *yr = out->data + r * c;
      double mean, inv_std;

      row_stats (xr, c, self->epsilon, &mean, &inv_std);
      for (gsize k = 0; k < c; k++)
        {
          double y = (xr[k] - mean) * inv_std;
          if (gamma)
            y *= gamma[k];
          if (beta)
            y += beta[k];
          yr[k] = (float) y;
        }
    }
  return TRUE;
}

/* With xh = (x - mean) * inv_std and g = dy * gamma:
 *   dx = inv_std * (g - mean (g) - xh * mean (g * xh)),
 *   dgamma = sum over rows of dy * xh, dbeta = sum of dy. */
static gboolean
ln_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
             const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
             const MirRunArgs *args, GError **error)
{
  MirLayerLayerNorm *self = (MirLayerLayerNorm *) layer;
  const MirTensor *x = in[0];
  gsize c = (gsize) x->shape[x->ndim - 1], rows = x->numel / c;
  const float *gamma = weight_or_null (layer, self->i_gamma);
  float *dgamma = self->i_gamma >= 0 && grad_w[self->i_gamma] ? grad_w[self->i_gamma]->data
                  : NULL;
  float *dbeta = self->i_beta >= 0 && grad_w[self->i_beta] ? grad_w[self->i_beta]->data : NULL;
  g_autofree double *xh = g_new (double, c);
  g_autofree double *sg = g_new0 (double, c);
  g_autofree double *sb = g_new0 (double, c);

  for (gsize r = 0; r < rows; r++)
    {
      const float *xr = x->data + r * c, *dy = grad_out->data + r * c;
      double mean, inv_std, mg = 0, mgx = 0;

      row_stats (xr, c, self->epsilon, &mean, &inv_std);
      for (gsize k = 0; k < c; k++)
        {
          double g = gamma ? (double) dy[k] * gamma[k] : dy[k];
          xh[k] = (xr[k] - mean) * inv_std;
          mg += g;
          mgx += g * xh[k];
          sg[k] += dy[k] * xh[k];
          sb[k] += dy[k];
        }
      mg /= (double) c;
      mgx /= (double) c;
      if (grad_in[0] != NULL)
        for (gsize k = 0; k < c; k++)
          {
            double g = gamma ? (double) dy[k] * gamma[k] : dy[k];
            grad_in[0]->data[r * c + k] = (float) (inv_std * (g - mg - xh[k] * mgx));
          }
    }
  for (gsize k = 0; k < c; k++)
    {
      if (dgamma)
        dgamma[k] = (float) sg[k];
      if (dbeta)
        dbeta[k] = (float) sb[k];
    }
  return TRUE;
}

static gint64
ln_flops (MirLayer *layer, const MirShape *in, guint n_in, const MirShape *out)
{
  gint64 n = 1;

  for (guint i = 1; i < in->ndim; i++)
    n *= MAX (in->dim[i], 1);
  return 8 * n;
}

const MirLayerClass mir_layer_layer_norm_class = {
  .name = "LayerNormalization",
  .instance_size = sizeof (MirLayerLayerNorm),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = ln_configure,
  .infer = ln_infer,
  .build = ln_build,
  .forward = ln_forward,
  .backward = ln_backward,
  .flops = ln_flops,
};
