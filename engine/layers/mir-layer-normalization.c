/* Normalization (the preprocessing layer):
 *   y = (x - mean) / max(sqrt(variance), epsilon),   epsilon = 1e-7
 * exactly as Keras 2 and 3 compute it (backend.epsilon()); with "invert"
 * y = mean + x * max(sqrt(variance), epsilon).
 *
 * mean and variance span the kept axes ("axis", default -1; null keeps none,
 * giving one mean for everything).  Either they come from the config
 * ("mean"/"variance" numbers or lists), or the layer has the non-trainable
 * weights Keras saves after adapt(): mean and variance of the kept axes'
 * shape, then count, a scalar (int64 in Keras, unused here). */
#define G_LOG_DOMAIN "mir-layer-normalization"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

#define NORM_EPSILON 1e-7

typedef struct
{
  MirLayer parent;
  guint n_axes;
  gint64 axes[MIR_MAX_DIMS]; /* as configured, may be negative */
  gboolean invert;
  /* config-only form */
  float *mean, *variance;
  guint n_mean, n_variance;
} MirLayerNormalization;

static gboolean
flatten_numbers (JsonNode *node, GArray *out)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (a); i++)
        if (!flatten_numbers (json_array_get_element (a, i), out))
          return FALSE;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      float v = (float) json_node_get_int (node);
      g_array_append_val (out, v);
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    {
      float v = (float) json_node_get_double (node);
      g_array_append_val (out, v);
      return TRUE;
    }
  return FALSE;
}

/* Reads config[key] as numbers into *values, or leaves it NULL when absent. */
static gboolean
read_values (JsonObject *config, const char *key, float **values, guint *n, GError **error)
{
  g_autoptr(GArray) a = g_array_new (FALSE, FALSE, sizeof (float));
  JsonNode *node = NULL;

  *values = NULL;
  *n = 0;
  if (config != NULL && json_object_has_member (config, key))
    node = json_object_get_member (config, key);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!flatten_numbers (node, a) || a->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("configuration entry '%s' should be a number or a list of numbers"), key);
      return FALSE;
    }
  *n = a->len;
  *values = g_memdup2 (a->data, a->len * sizeof (float));
  return TRUE;
}

static gboolean
normalization_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerNormalization *self = (MirLayerNormalization *) layer;
  JsonNode *axis = NULL;

  layer->activation = MIR_ACT_LINEAR;
  if (config != NULL && json_object_has_member (config, "axis"))
    axis = json_object_get_member (config, "axis");
  if (axis == NULL)
    {
      self->n_axes = 1;
      self->axes[0] = -1;
    }
  else if (JSON_NODE_HOLDS_NULL (axis))
    self->n_axes = 0;
  else if (JSON_NODE_HOLDS_ARRAY (axis))
    {
      JsonArray *a = json_node_get_array (axis);
      self->n_axes = json_array_get_length (a);
      if (self->n_axes > MIR_MAX_DIMS)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("too many axes in 'axis'"));
          return FALSE;
        }
      for (guint i = 0; i < self->n_axes; i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("configuration entry 'axis' should be a whole number or a list of them"));
              return FALSE;
            }
          self->axes[i] = json_node_get_int (e);
        }
    }
  else
    {
      self->n_axes = 1;
      if (!mir_config_get_int (config, "axis", -1, &self->axes[0], error))
        return FALSE;
    }
  if (!mir_config_get_bool (config, "invert", FALSE, &self->invert, error) ||
      !read_values (config, "mean", &self->mean, &self->n_mean, error) ||
      !read_values (config, "variance", &self->variance, &self->n_variance, error))
    return FALSE;
  if ((self->mean == NULL) != (self->variance == NULL))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("the configuration gives only one of 'mean' and 'variance'"));
      return FALSE;
    }
  return TRUE;
}

static void
normalization_finalize (MirLayer *layer)
{
  MirLayerNormalization *self = (MirLayerNormalization *) layer;

  g_free (self->mean);
  g_free (self->variance);
}

/* kept[d] for the input's axes, and the statistics' shape in @stats. */
static gboolean
kept_axes (MirLayerNormalization *self, const MirShape *in, gboolean *kept, MirShape *stats,
           GError **error)
{
  memset (kept, 0, MIR_MAX_DIMS * sizeof (gboolean));
  for (guint i = 0; i < self->n_axes; i++)
    {
      gint64 a = self->axes[i] < 0 ? self->axes[i] + in->ndim : self->axes[i];
      if (a < 0 || a >= (gint64) in->ndim)
        {
          g_autofree char *s = mir_shape_to_string (in);
          g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("axis %" PRId64 " is outside an input of shape %s"),
                       self->axes[i], s);
          return FALSE;
        }
      kept[a] = TRUE;
    }
  stats->ndim = 0;
  for (guint d = 0; d < in->ndim; d++)
    if (kept[d])
      {
        if (in->dim[d] < 0)
          {
            g_autofree char *s = mir_shape_to_string (in);
            g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                         _("axis %u of the input shape %s must be known to normalise along it"),
                         d, s);
            return FALSE;
          }
        stats->dim[stats->ndim++] = in->dim[d];
      }
  return TRUE;
}

static gboolean
normalization_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out,
                     GError **error)
{
  MirLayerNormalization *self = (MirLayerNormalization *) layer;
  gboolean kept[MIR_MAX_DIMS];
  MirShape stats;
  gint64 n;

  if (!kept_axes (self, &in[0], kept, &stats, error))
    return FALSE;
  n = mir_shape_numel (stats.ndim, stats.dim);
  if (self->mean != NULL &&
      ((self->n_mean != 1 && self->n_mean != n) || (self->n_variance != 1 && self->n_variance != n)))
    {
      g_autofree char *s = mir_shape_to_string (&stats);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the configuration gives %u mean and %u variance values, but the kept "
                     "axes have shape %s"),
                   self->n_mean, self->n_variance, s);
      return FALSE;
    }
  *out = in[0];
  return TRUE;
}

static gboolean
normalization_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerNormalization *self = (MirLayerNormalization *) layer;
  gboolean kept[MIR_MAX_DIMS];
  MirShape stats;

  if (self->mean != NULL)
    return TRUE;
  if (!kept_axes (self, &in[0], kept, &stats, error))
    return FALSE;
  mir_layer_add_weight (layer, "mean", stats.ndim, stats.dim, FALSE, MIR_INIT_ZEROS);
  mir_layer_add_weight (layer, "variance", stats.ndim, stats.dim, FALSE, MIR_INIT_ONES);
  mir_layer_add_weight (layer, "count", 0, stats.dim, FALSE, MIR_INIT_ZEROS);
  return TRUE;
}

/* The statistics and, for every element of a tensor, its index into them. */
typedef struct
{
  const float *mean, *variance;
  gsize n_mean, n_variance;
  gsize *index; /* per element */
} Stats;

static gboolean
get_stats (MirLayerNormalization *self, const MirTensor *t, Stats *st, GError **error)
{
  MirShape in = { 0 };
  gboolean kept[MIR_MAX_DIMS];
  MirShape stats;
  gint64 sstride[MIR_MAX_DIMS] = { 0 };
  gint64 idx[MIR_MAX_DIMS] = { 0 };
  gint64 s = 1, off = 0;

  in.ndim = t->ndim;
  memcpy (in.dim, t->shape, t->ndim * sizeof (gint64));
  if (!kept_axes (self, &in, kept, &stats, error))
    return FALSE;
  if (self->mean != NULL)
    {
      st->mean = self->mean;
      st->variance = self->variance;
      st->n_mean = self->n_mean;
      st->n_variance = self->n_variance;
    }
  else
    {
      MirTensor *m = self->parent.weights[0].value, *v = self->parent.weights[1].value;
      if (m == NULL || v == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("the mean and variance are not set"));
          return FALSE;
        }
      st->mean = m->data;
      st->variance = v->data;
      st->n_mean = m->numel;
      st->n_variance = v->numel;
    }
  for (int d = (int) t->ndim - 1; d >= 0; d--)
    if (kept[d])
      {
        sstride[d] = s;
        s *= t->shape[d];
      }
  st->index = g_new (gsize, t->numel);
  for (gsize i = 0; i < t->numel; i++)
    {
      st->index[i] = (gsize) off;
      for (int d = (int) t->ndim - 1; d >= 0; d--)
        {
          off += sstride[d];
          if (++idx[d] < t->shape[d])
            break;
          off -= sstride[d] * idx[d];
          idx[d] = 0;
        }
    }
  return TRUE;
}

static inline float
denom (const Stats *st, gsize k)
{
  float v = st->variance[st->n_variance > 1 ? k : 0];
  return (float) MAX (sqrt (MAX (v, 0.0f)), NORM_EPSILON);
}

static gboolean
normalization_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                       const MirRunArgs *args, GError **error)
{
  MirLayerNormalization *self = (MirLayerNormalization *) layer;
  Stats st;

  if (!get_stats (self, out, &st, error))
    return FALSE;
  for (gsize i = 0; i < out->numel; i++)
    {
      gsize k = st.index[i];
      float m = st.mean[st.n_mean > 1 ? k : 0];
      if (self->invert)
        out->data[i] = m + in[0]->data[i] * denom (&st, k);
      else
        out->data[i] = (in[0]->data[i] - m) / denom (&st, k);
    }
  g_free (st.index);
  return TRUE;
}

static gboolean
normalization_backward (MirLayer *layer, MirTensor *const *in, guint n_in,
                        const MirTensor *out, const MirTensor *grad_out, MirTensor **grad_in,
                        MirTensor **grad_w, const MirRunArgs *args, GError **error)
{
  MirLayerNormalization *self = (MirLayerNormalization *) layer;
  Stats st;

  if (grad_in[0] == NULL)
    return TRUE;
  if (!get_stats (self, grad_out, &st, error))
    return FALSE;
  for (gsize i = 0; i < grad_out->numel; i++)
    {
      float d = denom (&st, st.index[i]);
      grad_in[0]->data[i] = self->invert ? grad_out->data[i] * d : grad_out->data[i] / d;
    }
  g_free (st.index);
  return TRUE;
}

const MirLayerClass mir_layer_normalization_class = {
  .name = "Normalization",
  .instance_size = sizeof (MirLayerNormalization),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = normalization_configure,
  .infer = normalization_infer,
  .build = normalization_build,
  .forward = normalization_forward,
  .backward = normalization_backward,
  .finalize = normalization_finalize,
};
