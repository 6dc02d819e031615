#define G_LOG_DOMAIN "mir-layer"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layer.h"
#include "layers/mir-layers.h"
#include "kernels/mir-parallel.h"

/* Every layer type, one line each (the Keras class name is klass->name):
 * adding a layer is its file in engine/layers/, its extern in mir-layers.h
 * and one line here. */
static const MirLayerClass *const class_list[] = {
#define MIR_LAYER_CLASS(name) &mir_layer_##name##_class,
#include "layers/mir-layer-list.h"
#undef MIR_LAYER_CLASS
  NULL
};
G_STATIC_ASSERT (G_N_ELEMENTS (class_list) == MIR_LAYER_N_CLASSES + 1);

/* Names older Keras versions (or the short aliases) wrote for a class. */
static const struct
{
  const char *alias;
  const char *name;
} aliases[] = {
  { "Convolution2D", "Conv2D" },
  { "SeparableConvolution2D", "SeparableConv2D" },
  { "MaxPool2D", "MaxPooling2D" },
  { "AvgPool2D", "AveragePooling2D" },
  { "GlobalAvgPool2D", "GlobalAveragePooling2D" },
  { "GlobalMaxPool2D", "GlobalMaxPooling2D" },
};

const MirLayerClass *
mir_layer_class_lookup (const char *keras_class_name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (aliases); i++)
    if (g_strcmp0 (aliases[i].alias, keras_class_name) == 0)
      keras_class_name = aliases[i].name;
  for (gsize i = 0; class_list[i] != NULL; i++)
    if (g_strcmp0 (class_list[i]->name, keras_class_name) == 0)
      return class_list[i];
  return NULL;
}

const MirLayerClass *const *
mir_layer_class_list (void)
{
  return class_list;
}

MirLayer *
mir_layer_new (const MirLayerClass *klass, const char *name, JsonObject *config, GError **error)
{
  MirLayer *self;

  g_return_val_if_fail (klass != NULL, NULL);
  g_return_val_if_fail (klass->instance_size >= sizeof (MirLayer), NULL);

  self = g_malloc0 (klass->instance_size);
  self->klass = klass;
  g_atomic_ref_count_init (&self->ref_count);
  self->name = g_strdup (name ? name : klass->name);
  self->trainable = TRUE;
  if (config != NULL)
    self->config = json_object_ref (config);
  if (config != NULL && json_object_has_member (config, "trainable"))
    {
      JsonNode *n = json_object_get_member (config, "trainable");
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN)
        self->trainable = json_node_get_boolean (n);
    }
  if (klass->configure != NULL && !klass->configure (self, config, error))
    {
      g_prefix_error (error, _("Layer '%s' (%s): "), self->name, klass->name);
      mir_layer_unref (self);
      return NULL;
    }
  return self;
}

MirLayer *
mir_layer_new_by_name (const char *class_name, const char *name, JsonObject *config,
                       GError **error)
{
  const MirLayerClass *klass = mir_layer_class_lookup (class_name);

  if (klass == NULL)
    {
      if (g_strcmp0 (class_name, "Lambda") == 0)
        g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                     _("Layer '%s' of type Lambda is not supported: Lambda layers hold Python code, "
                       "which Mirada cannot run; rebuild the model with built-in layers"),
                     name ? name : "?");
      else
        g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                     _("Layer '%s' of type %s is not supported by Mirada"),
                     name ? name : "?", class_name ? class_name : "(none)");
      return NULL;
    }
  return mir_layer_new (klass, name, config, error);
}

MirLayer *
mir_layer_ref (MirLayer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
mir_layer_unref (MirLayer *self)
{
  if (self == NULL)
    return;
  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      if (self->klass->finalize != NULL)
        self->klass->finalize (self);
      for (guint i = 0; i < self->n_weights; i++)
        {
          g_free (self->weights[i].name);
          g_clear_pointer (&self->weights[i].value, mir_tensor_unref);
        }
      g_clear_pointer (&self->config, json_object_unref);
      g_free (self->name);
      g_free (self);
    }
}

gboolean
mir_layer_build (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  if (!self->klass->infer (self, in, n_in, out, error))
    {
      g_prefix_error (error, _("Layer '%s' (%s): "), self->name, self->klass->name);
      return FALSE;
    }
  if (self->built)
    return TRUE;
  if (n_in > 0)
    self->in_shape = in[0];
  self->n_in = n_in;
  self->out_shape = *out;
  if (self->klass->build != NULL && !self->klass->build (self, in, n_in, error))
    {
      g_prefix_error (error, _("Layer '%s' (%s): "), self->name, self->klass->name);
      return FALSE;
    }
  self->built = TRUE;
  return TRUE;
}

MirWeight *
mir_layer_add_weight (MirLayer *self, const char *name, guint ndim, const gint64 *shape,
                      gboolean trainable, MirInit init)
{
  MirWeight *w;

  g_return_val_if_fail (self->n_weights < MIR_MAX_WEIGHTS, NULL);
  g_return_val_if_fail (ndim <= MIR_MAX_DIMS, NULL);

  w = &self->weights[self->n_weights++];
  w->name = g_strdup (name);
  w->shape.ndim = ndim;
  memcpy (w->shape.dim, shape, ndim * sizeof (gint64));
  w->trainable = trainable;
  w->init = init;
  w->value = NULL;
  return w;
}

gboolean
mir_layer_set_weight (MirLayer *self, guint index, MirTensor *value, GError **error)
{
  MirWeight *w;
  gboolean ok;

  g_return_val_if_fail (index < self->n_weights, FALSE);
  w = &self->weights[index];
  ok = value->ndim == w->shape.ndim;
  for (guint i = 0; ok && i < value->ndim; i++)
    ok = value->shape[i] == w->shape.dim[i];
  if (!ok)
    {
      g_autofree char *want = mir_shape_to_string (&w->shape);
      g_autofree char *got = mir_tensor_shape_string (value);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Layer '%s': weight '%s' has shape %s in the file, but the layer "
                     "configuration needs %s"),
                   self->name, w->name, got, want);
      return FALSE;
    }
  g_clear_pointer (&w->value, mir_tensor_unref);
  w->value = mir_tensor_ref (value);
  return TRUE;
}

MirTensor *
mir_layer_get_weight (MirLayer *self, const char *name)
{
  for (guint i = 0; i < self->n_weights; i++)
    if (g_strcmp0 (self->weights[i].name, name) == 0)
      return self->weights[i].value;
  return NULL;
}

static void
fan_in_out (const MirShape *s, double *fan_in, double *fan_out)
{
  double receptive = 1;

  if (s->ndim < 1)
    {
      *fan_in = *fan_out = 1;
      return;
    }
  if (s->ndim == 1)
    {
      *fan_in = *fan_out = (double) s->dim[0];
      return;
    }
  for (guint i = 0; i + 2 < s->ndim; i++)
    receptive *= (double) s->dim[i];
  *fan_in = receptive * (double) s->dim[s->ndim - 2];
  *fan_out = receptive * (double) s->dim[s->ndim - 1];
}

/* Random weights of large tensors (VGG16's 138 M: 2.5 s of one thread's
 * g_rand before any `arch:vgg16` command could start) come from
 * splitmix64 in chunks of INIT_CHUNK values, each chunk seeded by the
 * tensor's seed (two draws of the model's GRand) and its index, so the
 * values do not depend on the thread count.  Tensors below
 * INIT_PARALLEL_MIN values (every layer of the models the course trains)
 * keep drawing from the GRand itself, in order, as before. */
#define INIT_CHUNK 65536
#define INIT_PARALLEL_MIN (1 << 20)

typedef struct
{
  float *data;
  gsize n;
  guint64 seed;
  MirInit init;
  double limit;
} InitCtx;

static inline guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double
unit_double (guint64 *state)
{
  return (double) (splitmix64 (state) >> 11) * (1.0 / 9007199254740992.0);
}

static void
init_chunks (gint64 begin, gint64 end, gpointer data)
{
  const InitCtx *c = data;

  for (gint64 ch = begin; ch < end; ch++)
    {
      guint64 state = c->seed ^ ((guint64) ch * G_GUINT64_CONSTANT (0xD1B54A32D192ED03));
      gsize k0 = (gsize) ch * INIT_CHUNK, k1 = MIN (c->n, k0 + INIT_CHUNK);

      if (c->init == MIR_INIT_GLOROT_UNIFORM)
        for (gsize k = k0; k < k1; k++)
          c->data[k] = (float) (c->limit * (2.0 * unit_double (&state) - 1.0));
      else
        for (gsize k = k0; k < k1; k++)
          {
            double u1 = 1e-12 + (1.0 - 1e-12) * unit_double (&state);
            double u2 = unit_double (&state);
            c->data[k] = (float) (c->limit * sqrt (-2.0 * log (u1)) * cos (2 * G_PI * u2));
          }
    }
}

static void
init_large (MirTensor *t, MirInit init, double limit, GRand *rng)
{
  InitCtx c = { t->data, t->numel, 0, init, limit };

  c.seed = ((guint64) g_rand_int (rng) << 32) | g_rand_int (rng);
  mir_parallel_for ((gint64) ((t->numel + INIT_CHUNK - 1) / INIT_CHUNK), 1, init_chunks, &c);
}

gboolean
mir_layer_init_weights (MirLayer *self, GRand *rng, GError **error)
{
  for (guint i = 0; i < self->n_weights; i++)
    {
      MirWeight *w = &self->weights[i];
      g_autoptr(MirTensor) t = NULL;
      double fan_in, fan_out, limit;

      if (w->value != NULL)
        continue;
      t = mir_tensor_new (w->shape.ndim, w->shape.dim, error);
      if (t == NULL)
        return FALSE;
      fan_in_out (&w->shape, &fan_in, &fan_out);
      switch (w->init)
        {
        case MIR_INIT_ZEROS:
          break;
        case MIR_INIT_ONES:
          mir_tensor_fill (t, 1.0f);
          break;
        case MIR_INIT_GLOROT_UNIFORM:
          limit = sqrt (6.0 / MAX (fan_in + fan_out, 1.0));
          if (t->numel >= INIT_PARALLEL_MIN)
            {
              init_large (t, w->init, limit, rng);
              break;
            }
          for (gsize k = 0; k < t->numel; k++)
            t->data[k] = (float) g_rand_double_range (rng, -limit, limit);
          break;
        case MIR_INIT_HE_NORMAL:
          limit = sqrt (2.0 / MAX (fan_in, 1.0));
          if (t->numel >= INIT_PARALLEL_MIN)
            {
              init_large (t, w->init, limit, rng);
              break;
            }
          for (gsize k = 0; k < t->numel; k++)
            {
              /* Box-Muller */
              double u1 = g_rand_double_range (rng, 1e-12, 1.0);
              double u2 = g_rand_double (rng);
              t->data[k] = (float) (limit * sqrt (-2.0 * log (u1)) * cos (2 * G_PI * u2));
            }
          break;
        default:
          g_return_val_if_reached (FALSE);
        }
      w->value = g_steal_pointer (&t);
    }
  return TRUE;
}

gint64
mir_layer_count_params (MirLayer *self, gint64 *trainable_out)
{
  gint64 total = 0, trainable = 0;

  for (guint i = 0; i < self->n_weights; i++)
    {
      gint64 n = mir_shape_numel (self->weights[i].shape.ndim, self->weights[i].shape.dim);
      total += n;
      if (self->weights[i].trainable && self->trainable)
        trainable += n;
    }
  if (trainable_out)
    *trainable_out = trainable;
  return total;
}

gboolean
mir_layer_output_shape (MirLayer *self, MirTensor *const *in, guint n_in, guint *ndim,
                        gint64 *shape, GError **error)
{
  MirShape stack_shapes[8];
  g_autofree MirShape *heap_shapes = NULL;
  MirShape *shapes = stack_shapes;
  MirShape out;

  if (n_in > G_N_ELEMENTS (stack_shapes))
    shapes = heap_shapes = g_new (MirShape, n_in);
  for (guint i = 0; i < n_in; i++)
    {
      shapes[i].ndim = in[i]->ndim;
      memcpy (shapes[i].dim, in[i]->shape, in[i]->ndim * sizeof (gint64));
    }
  if (!self->klass->infer (self, shapes, n_in, &out, error))
    {
      g_prefix_error (error, _("Layer '%s' (%s): "), self->name, self->klass->name);
      return FALSE;
    }
  *ndim = out.ndim;
  memcpy (shape, out.dim, out.ndim * sizeof (gint64));
  return TRUE;
}

static gboolean
wrong_type (JsonObject *config, const char *key, const char *want, GError **error)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("configuration entry '%s' should be %s"), key, want);
  return FALSE;
}

static JsonNode *
get_member (JsonObject *config, const char *key)
{
  JsonNode *n;

  if (config == NULL || !json_object_has_member (config, key))
    return NULL;
  n = json_object_get_member (config, key);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return NULL;
  return n;
}

gboolean
mir_config_get_int (JsonObject *config, const char *key, gint64 def, gint64 *out, GError **error)
{
  JsonNode *n = get_member (config, key);

  *out = def;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n))
    return wrong_type (config, key, _("a number"), error);
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_INT64:
      *out = json_node_get_int (n);
      return TRUE;
    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (n);
        if (d != floor (d) || fabs (d) > 1e15)
          return wrong_type (config, key, _("a whole number"), error);
        *out = (gint64) d;
        return TRUE;
      }
    default:
      return wrong_type (config, key, _("a number"), error);
    }
}

gboolean
mir_config_get_double (JsonObject *config, const char *key, double def, double *out,
                       GError **error)
{
  JsonNode *n = get_member (config, key);

  *out = def;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n))
    return wrong_type (config, key, _("a number"), error);
  switch (json_node_get_value_type (n))
    {
    case G_TYPE_INT64:
      *out = (double) json_node_get_int (n);
      return TRUE;
    case G_TYPE_DOUBLE:
      *out = json_node_get_double (n);
      return TRUE;
    default:
      return wrong_type (config, key, _("a number"), error);
    }
}

gboolean
mir_config_get_bool (JsonObject *config, const char *key, gboolean def, gboolean *out,
                     GError **error)
{
  JsonNode *n = get_member (config, key);

  *out = def;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return wrong_type (config, key, _("true or false"), error);
  *out = json_node_get_boolean (n);
  return TRUE;
}

const char *
mir_config_get_string (JsonObject *config, const char *key, const char *def)
{
  JsonNode *n = get_member (config, key);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return def;
  return json_node_get_string (n);
}

gboolean
mir_config_get_int_tuple (JsonObject *config, const char *key, guint n, const gint64 *def,
                          gint64 *out, GError **error)
{
  JsonNode *node = get_member (config, key);

  for (guint i = 0; i < n; i++)
    out[i] = def ? def[i] : 0;
  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node))
    {
      gint64 v;
      if (!mir_config_get_int (config, key, 0, &v, error))
        return FALSE;
      for (guint i = 0; i < n; i++)
        out[i] = v;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      if (json_array_get_length (a) != n)
        return wrong_type (config, key, _("a list of the right length"), error);
      for (guint i = 0; i < n; i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          if (!JSON_NODE_HOLDS_VALUE (e) ||
              (json_node_get_value_type (e) != G_TYPE_INT64 &&
               json_node_get_value_type (e) != G_TYPE_DOUBLE))
            return wrong_type (config, key, _("a list of numbers"), error);
          out[i] = json_node_get_value_type (e) == G_TYPE_INT64
                   ? json_node_get_int (e) : (gint64) json_node_get_double (e);
        }
      return TRUE;
    }
  return wrong_type (config, key, _("a number or a list of numbers"), error);
}

gboolean
mir_layer_check_channel_axis (const MirShape *in, gint64 axis, GError **error)
{
  g_autofree char *s = mir_shape_to_string (in);
  gint64 c = in->ndim > 0 ? in->dim[in->ndim - 1] : -1;

  if (in->ndim < 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects an input of rank 2 or more but got shape %s"), s);
      return FALSE;
    }
  if (axis != -1 && axis != (gint64) in->ndim - 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("normalisation over axis %" PRId64 " of an input of shape %s is "
                     "not supported; only the last (channel) axis is"), axis, s);
      return FALSE;
    }
  if (c < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the channel axis must be known, but the input shape is %s"), s);
      return FALSE;
    }
  return TRUE;
}

char *
mir_shape_to_string (const MirShape *shape)
{
  return mir_dims_to_string (shape->ndim, shape->dim, "None");
}

gboolean
mir_shape_equal (const MirShape *a, const MirShape *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (guint i = 0; i < a->ndim; i++)
    if (a->dim[i] != b->dim[i])
      return FALSE;
  return TRUE;
}
