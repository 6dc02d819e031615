#define G_LOG_DOMAIN "mir-model"

/* mir-model.c: the graph (mir-model-private.h lists the other parts):
 * building a model, its topology and what it can tell about itself. */

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-fold.h"
#include "mir-model-private.h"
#include "layers/mir-layers.h"

/* Limits a file cannot exceed, checked before anything is allocated for it. */
#define MIR_MODEL_MAX_NODES 100000
/* Values one example may hold in one layer's output (2^27 floats, 512 MiB;
 * VGG16's largest is 224×224×64 = 3.2 million).  Checked when a layer is
 * added, from its inferred shape, so a config such as UpSampling2D(2048) is
 * refused when it is opened instead of after seconds and gigabytes of
 * predicting. */
#define MIR_MODEL_MAX_ACTIVATION (G_GINT64_CONSTANT (1) << 27)

static void
node_free (gpointer data)
{
  MirNode *node = data;

  g_free (node->name);
  g_clear_pointer (&node->layer, mir_layer_unref);
  g_free (node->inputs);
  g_free (node->group);
  g_free (node);
}

MirModel *
mir_model_new (const char *name)
{
  MirModel *self = g_new0 (MirModel, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->name = g_strdup (name ? name : "model");
  self->nodes = g_ptr_array_new_with_free_func (node_free);
  /* node name -> index + 1: loaders look names up once per layer, and a
   * scan of the node list each time made loading quadratic. */
  self->node_index = g_hash_table_new (g_str_hash, g_str_equal);
  self->inputs = g_array_new (FALSE, FALSE, sizeof (guint));
  self->outputs = g_array_new (FALSE, FALSE, sizeof (guint));
  self->fold_cache = mir_fold_cache_new ();
  self->plan_cache = mir_plan_cache_new ();
  return self;
}

MirModel *
mir_model_ref (MirModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
mir_model_meta_clear (MirModelMeta *meta)
{
  g_clear_pointer (&meta->class_names, g_strfreev);
  g_clear_pointer (&meta->source, g_free);
  g_clear_pointer (&meta->embedding_layer, g_free);
}

static const char *const preprocess_origin_names[] = {
  [MIR_PREPROCESS_FROM_UNKNOWN] = "unknown",
  [MIR_PREPROCESS_FROM_LAYERS] = "layers",
  [MIR_PREPROCESS_FROM_FORMAT] = "format",
  [MIR_PREPROCESS_FROM_LABELS] = "labels",
  [MIR_PREPROCESS_FROM_SIDECAR] = "sidecar",
  [MIR_PREPROCESS_FROM_USER] = "user",
};
G_STATIC_ASSERT (G_N_ELEMENTS (preprocess_origin_names) == MIR_PREPROCESS_FROM_USER + 1);

const char *
mir_preprocess_origin_to_string (MirPreprocessOrigin origin)
{
  if ((guint) origin < G_N_ELEMENTS (preprocess_origin_names))
    return preprocess_origin_names[origin];
  return "unknown";
}

gboolean
mir_model_scales_own_input (MirModel *self)
{
  g_autofree gboolean *before_weights = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  /* before_weights[i]: node i sees the input only through weightless layers
   * (augmentation, Reshape, ...), so a Rescaling there scales raw pixels. */
  before_weights = g_new0 (gboolean, self->nodes->len);
  for (guint i = 0; i < self->nodes->len; i++)
    {
      MirNode *node = g_ptr_array_index (self->nodes, i);
      const char *kind = node->layer->klass->name;
      gboolean fed_raw = node->n_inputs > 0;

      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        {
          before_weights[i] = TRUE;
          continue;
        }
      for (guint j = 0; j < node->n_inputs && fed_raw; j++)
        fed_raw = before_weights[node->inputs[j]];
      if (!fed_raw)
        continue;
      if (g_strcmp0 (kind, "Rescaling") == 0 || g_strcmp0 (kind, "Normalization") == 0)
        return TRUE;
      before_weights[i] = node->layer->n_weights == 0;
    }
  return FALSE;
}

void
mir_model_unref (MirModel *self)
{
  if (self == NULL)
    return;
  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_hash_table_unref (self->node_index);
      g_ptr_array_unref (self->nodes);
      g_array_unref (self->inputs);
      g_array_unref (self->outputs);
      mir_model_meta_clear (&self->meta);
      mir_fold_cache_free (self->fold_cache);
      mir_plan_cache_free (self->plan_cache);
      g_free (self->name);
      g_free (self->format);
      g_free (self->keras_version);
      g_free (self->backend);
      g_free (self);
    }
}

static gboolean
check_room (MirModel *self, const char *name, GError **error)
{
  if (self->nodes->len >= MIR_MODEL_MAX_NODES)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The model has more than %d layers, more than Mirada accepts"),
                   MIR_MODEL_MAX_NODES);
      return FALSE;
    }
  if (mir_model_find_node (self, name) >= 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The model has two layers named '%s'"), name);
      return FALSE;
    }
  return TRUE;
}

/* One example's share of @shape (the batch, dim[0], counts as 1; a dimension
 * still unknown, -1, is not counted) against MIR_MODEL_MAX_ACTIVATION. */
static gboolean
check_activation (const char *name, const MirShape *shape, GError **error)
{
  gint64 n = 1;

  for (guint i = 1; i < shape->ndim; i++)
    {
      if (shape->dim[i] <= 0)
        continue;
      if (n > MIR_MODEL_MAX_ACTIVATION / shape->dim[i])
        {
          n = MIR_MODEL_MAX_ACTIVATION + 1;
          break;
        }
      n *= shape->dim[i];
    }
  if (n > MIR_MODEL_MAX_ACTIVATION)
    {
      g_autofree char *s = mir_shape_to_string (shape);
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Layer '%s' would output %s, more than %d million values per example, "
                     "the most Mirada accepts"),
                   name, s, (int) (MIR_MODEL_MAX_ACTIVATION / 1000000));
      return FALSE;
    }
  return TRUE;
}

gint
mir_model_add_input (MirModel *self, const char *name, const MirShape *shape, GError **error)
{
  MirNode *node;
  MirLayer *layer;
  guint index;

  if (!check_room (self, name, error))
    return -1;
  layer = mir_layer_input_new (name, shape, error);
  if (layer == NULL)
    return -1;
  if (!check_activation (name, shape, error))
    {
      mir_layer_unref (layer);
      return -1;
    }
  node = g_new0 (MirNode, 1);
  node->name = g_strdup (name);
  node->layer = layer;
  node->shape = *shape;
  node->shape.dim[0] = -1;
  index = self->nodes->len;
  g_ptr_array_add (self->nodes, node);
  g_hash_table_insert (self->node_index, node->name, GUINT_TO_POINTER (index + 1));
  g_array_append_val (self->inputs, index);
  return (gint) index;
}

gint
mir_model_add_node (MirModel *self, const char *name, MirLayer *layer, const guint *inputs,
                    guint n_inputs, const char *group, GError **error)
{
  g_autofree MirShape *in = NULL;
  MirShape out;
  MirNode *node;

  g_return_val_if_fail (layer != NULL, -1);

  if (!check_room (self, name, error))
    return -1;
  if (n_inputs == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' has no inputs"), name);
      return -1;
    }
  if (n_inputs > 1 && !(layer->klass->flags & MIR_LAYER_FLAG_MULTI_INPUT))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' (%s) takes one input but is given %u"),
                   name, layer->klass->name, n_inputs);
      return -1;
    }
  in = g_new (MirShape, n_inputs);
  for (guint i = 0; i < n_inputs; i++)
    {
      if (inputs[i] >= self->nodes->len)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("Layer '%s' uses an input that is not defined before it"), name);
          return -1;
        }
      in[i] = ((MirNode *) self->nodes->pdata[inputs[i]])->shape;
    }

  if (layer->built)
    {
      /* A shared layer: the weights fix the shapes it accepts. */
      if (!mir_shape_equal (&in[0], &layer->in_shape))
        {
          g_autofree char *a = mir_shape_to_string (&in[0]);
          g_autofree char *b = mir_shape_to_string (&layer->in_shape);
          g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("Shared layer '%s' is called on shape %s, but was built for %s"),
                       layer->name, a, b);
          return -1;
        }
    }
  if (!mir_layer_build (layer, in, n_inputs, &out, error))
    return -1;
  if (!check_activation (name, &out, error))
    return -1;

  node = g_new0 (MirNode, 1);
  node->name = g_strdup (name);
  node->layer = mir_layer_ref (layer);
  node->n_inputs = n_inputs;
  node->inputs = g_memdup2 (inputs, n_inputs * sizeof (guint));
  node->shape = out;
  node->group = g_strdup (group);
  g_ptr_array_add (self->nodes, node);
  g_hash_table_insert (self->node_index, node->name, GUINT_TO_POINTER (self->nodes->len));
  return (gint) self->nodes->len - 1;
}

gboolean
mir_model_set_outputs (MirModel *self, const guint *outputs, guint n_outputs, GError **error)
{
  if (n_outputs == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("The model has no outputs"));
      return FALSE;
    }
  for (guint i = 0; i < n_outputs; i++)
    if (outputs[i] >= self->nodes->len)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("The model names an output that does not exist"));
        return FALSE;
      }
  g_array_set_size (self->outputs, 0);
  g_array_append_vals (self->outputs, outputs, n_outputs);
  return TRUE;
}

gboolean
mir_model_finish (MirModel *self, gboolean allow_missing_weights, guint32 seed, GError **error)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (self);

  if (self->inputs->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("The model has no inputs"));
      return FALSE;
    }
  if (self->outputs->len == 0)
    {
      guint last = self->nodes->len - 1;
      if (!mir_model_set_outputs (self, &last, 1, error))
        return FALSE;
    }
  for (guint i = 0; i < layers->len; i++)
    {
      MirLayer *layer = layers->pdata[i];

      for (guint j = 0; j < layer->n_weights; j++)
        if (layer->weights[j].value == NULL)
          {
            if (!allow_missing_weights)
              {
                g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                             _("Layer '%s' has no value for its weight '%s' in the file"),
                             layer->name, layer->weights[j].name);
                return FALSE;
              }
            self->weights_initialised = TRUE;
          }
      if (!mir_layer_init_weights (layer, rng, error))
        return FALSE;
    }
  return TRUE;
}

guint
mir_model_get_n_nodes (MirModel *self)
{
  return self->nodes->len;
}

MirNode *
mir_model_get_node (MirModel *self, guint index)
{
  g_return_val_if_fail (index < self->nodes->len, NULL);
  return self->nodes->pdata[index];
}

gint
mir_model_find_node (MirModel *self, const char *name)
{
  gpointer v;

  if (name == NULL || !g_hash_table_lookup_extended (self->node_index, name, NULL, &v))
    return -1;
  return (gint) GPOINTER_TO_UINT (v) - 1;
}

guint
mir_model_get_input (MirModel *self, guint i)
{
  return g_array_index (self->inputs, guint, i);
}

guint
mir_model_get_output (MirModel *self, guint i)
{
  return g_array_index (self->outputs, guint, i);
}

const MirShape *
mir_model_get_input_shape (MirModel *self, guint i)
{
  return &mir_model_get_node (self, mir_model_get_input (self, i))->shape;
}

const MirShape *
mir_model_get_output_shape (MirModel *self, guint i)
{
  return &mir_model_get_node (self, mir_model_get_output (self, i))->shape;
}

GPtrArray *
mir_model_dup_layers (MirModel *self)
{
  GPtrArray *layers = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_layer_unref);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < self->nodes->len; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      if (g_hash_table_add (seen, node->layer))
        g_ptr_array_add (layers, mir_layer_ref (node->layer));
    }
  return layers;
}

gint64
mir_model_count_params (MirModel *self, gint64 *trainable)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (self);
  gint64 total = 0, train = 0;

  for (guint i = 0; i < layers->len; i++)
    {
      gint64 t = 0;
      total += mir_layer_count_params (layers->pdata[i], &t);
      train += t;
    }
  if (trainable)
    *trainable = train;
  return total;
}

/* Layers after a convolution that keep its block going (pooling, dropout). */
static gboolean
is_passthrough (const MirLayerClass *klass)
{
  /* a global pooling kept 4-D (ONNX keepdims) is a 1x1 map, which the caller
   * takes only when nothing larger came before */
  return (klass->flags & (MIR_LAYER_FLAG_POOLING | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE |
                          MIR_LAYER_FLAG_REARRANGES)) != 0;
}

gint
mir_model_find_last_conv (MirModel *self)
{
  gboolean seen_conv = FALSE;
  gint last = -1;

  for (guint i = 0; i < self->nodes->len; i++)
    {
      MirNode *node = self->nodes->pdata[i];

      if (node->layer->klass->flags & MIR_LAYER_FLAG_CONV)
        seen_conv = TRUE;
      /* a 1x1 map (ConvNeXt's LayerNorm after the pooling) has nothing to
       * locate: taken only when there is no other */
      if (seen_conv && node->shape.ndim == 4 && !is_passthrough (node->layer->klass) &&
          !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT) &&
          (last < 0 || node->shape.dim[1] != 1 || node->shape.dim[2] != 1))
        last = (gint) i;
    }
  return last;
}

MirHeadKind
mir_model_get_head_kind (MirModel *self)
{
  MirNode *node;

  if (self->outputs->len == 0)
    return MIR_HEAD_UNKNOWN;
  node = mir_model_get_node (self, mir_model_get_output (self, 0));
  switch (node->layer->activation)
    {
    case MIR_ACT_SOFTMAX:
      return MIR_HEAD_SOFTMAX;
    case MIR_ACT_SIGMOID:
    case MIR_ACT_HARD_SIGMOID:
    case MIR_ACT_HARD_SIGMOID_K3:
      return MIR_HEAD_SIGMOID;
    default:
      return MIR_HEAD_LINEAR;
    }
}

/* Layers whose output at each position depends on a neighbourhood of the
 * input only, with weights that do not depend on the image size. */
static const char *const any_size_classes[] = {
  "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D",
  "AveragePooling2D", "BatchNormalization", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
  "Activation", "ReLU", "LeakyReLU", "Add", "Subtract", "Multiply", "Average", "Maximum",
  "Minimum", "Concatenate", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
  "Rescaling", "Normalization", "RandomFlip", "RandomRotation", "RandomZoom",
  "RandomTranslation", "RandomContrast", NULL
};

gboolean
mir_model_prefix_any_size (MirModel *self, gint until, GError **error)
{
  guint n = self->nodes->len, last;
  g_autofree gboolean *needed = NULL, *leading = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  if (until < 0 || (guint) until >= n)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No such layer index %d"), until);
      return FALSE;
    }
  last = (guint) until;
  needed = g_new0 (gboolean, n);
  leading = g_new0 (gboolean, n);
  needed[last] = TRUE;
  for (gint i = (gint) last; i >= 0; i--)
    {
      MirNode *node = self->nodes->pdata[i];
      if (needed[i])
        for (guint k = 0; k < node->n_inputs; k++)
          needed[node->inputs[k]] = TRUE;
    }
  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      const char *kind = node->layer->klass->name;
      gboolean pre = g_str_equal (kind, "Rescaling") || g_str_equal (kind, "Normalization") ||
                     g_str_equal (kind, "Resizing") || g_str_has_prefix (kind, "Random");

      /* leading[i]: only input and preprocessing layers up to here */
      leading[i] = (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT) != 0;
      if (pre && node->n_inputs == 1)
        leading[i] = leading[node->inputs[0]];
      if (!needed[i] || g_strv_contains (any_size_classes, kind) ||
          (leading[i] && g_str_equal (kind, "Resizing")))
        continue;
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Layer '%s' (%s) needs the model's own input size, and '%s' depends on it"),
                   node->name, kind, ((MirNode *) self->nodes->pdata[last])->name);
      return FALSE;
    }
  return TRUE;
}
