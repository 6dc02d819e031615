#define G_LOG_DOMAIN "mir-model"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-fold.h"
#include "mir-model.h"
#include "layers/mir-layers.h"
#include "layers/mir-layer-fuse.h"

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

static struct _MirPlanCache *plan_cache_new (void);
static void plan_cache_free (struct _MirPlanCache *cache);

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
  self->plan_cache = plan_cache_new ();
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
}

static const char *const preprocess_origin_names[] = {
  [MIR_PREPROCESS_FROM_UNKNOWN] = "unknown",
  [MIR_PREPROCESS_FROM_LAYERS] = "layers",
  [MIR_PREPROCESS_FROM_FORMAT] = "format",
  [MIR_PREPROCESS_FROM_LABELS] = "labels",
  [MIR_PREPROCESS_FROM_SIDECAR] = "sidecar",
  [MIR_PREPROCESS_FROM_USER] = "user",
};

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
      plan_cache_free (self->plan_cache);
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
  return (klass->flags & (MIR_LAYER_FLAG_POOLING | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE)) != 0 ||
         /* a global pooling kept 4-D (ONNX keepdims) is 1x1: nothing to locate */
         klass == &mir_layer_global_average_pooling2d_class ||
         klass == &mir_layer_global_max_pooling2d_class ||
         /* the ONNX loader's way back to C, H, W order: not an image map */
         klass == &mir_layer_permute_class || klass == &mir_layer_reshape_class;
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

/* ------------------------------------------------------------------ */

struct _MirTrace
{
  MirModel *model;
  MirRunFlags flags;
  guint64 seed;
  gint target;          /* the node run with linear_output, or -1 */
  guint n;
  MirTensor **values;   /* per node */
  gpointer *state;      /* per node, from forward for backward */
  double *times;
  gboolean *ran; /* the node's own forward ran (not folded or fused away) */
  gsize planned_bytes;  /* size of the run's activation arena (plan_memory) */
  MirTensor **grads;    /* per node, after backward */
  GHashTable *weight_grads; /* MirLayer* -> MirTensor*[MIR_MAX_WEIGHTS] */
};

static void
weight_grads_free (gpointer data)
{
  MirTensor **g = data;

  for (guint i = 0; i < MIR_MAX_WEIGHTS; i++)
    g_clear_pointer (&g[i], mir_tensor_unref);
  g_free (g);
}

void
mir_trace_free (MirTrace *trace)
{
  if (trace == NULL)
    return;
  for (guint i = 0; i < trace->n; i++)
    {
      g_clear_pointer (&trace->values[i], mir_tensor_unref);
      g_clear_pointer (&trace->state[i], g_free);
      if (trace->grads)
        g_clear_pointer (&trace->grads[i], mir_tensor_unref);
    }
  g_free (trace->values);
  g_free (trace->state);
  g_free (trace->times);
  g_free (trace->ran);
  g_free (trace->grads);
  g_clear_pointer (&trace->weight_grads, g_hash_table_unref);
  mir_model_unref (trace->model);
  g_free (trace);
}

static gboolean
check_input (MirModel *self, guint k, MirTensor *t, gboolean any_size, GError **error)
{
  const MirShape *want = mir_model_get_input_shape (self, k);
  gboolean ok = t->ndim == want->ndim;

  for (guint i = 1; ok && i < t->ndim; i++)
    ok = want->dim[i] < 0 || want->dim[i] == t->shape[i] ||
         (any_size && t->ndim == 4 && (i == 1 || i == 2) && t->shape[i] > 0);
  if (!ok)
    {
      g_autofree char *a = mir_tensor_shape_string (t);
      g_autofree char *b = mir_shape_to_string (want);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The model's input %u needs shape %s but was given %s"), k, b, a);
      return FALSE;
    }
  if (!mir_tensor_is_contiguous (t))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The input tensor is not contiguous"));
      return FALSE;
    }
  return TRUE;
}

/* consumer[i]: a needed node that takes node i's output (the last), or -1. */
static gint *
find_consumers (MirModel *self, guint last, const gboolean *needed)
{
  gint *consumer = g_new (gint, last + 1);

  for (guint i = 0; i <= last; i++)
    consumer[i] = -1;
  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      if (needed[i])
        for (guint k = 0; k < node->n_inputs; k++)
          consumer[node->inputs[k]] = (gint) i;
    }
  return consumer;
}

/* Finds conv -> BatchNormalization [-> ReLU / Activation] chains whose inner outputs
 * have no other consumer and are not asked for (see mir-fold.h). */
static void
plan_folds (MirModel *self, guint last, const gboolean *needed, const guint *uses, gint target,
            MirLayer **fold_layer, guint *fold_end, gboolean *skip, GPtrArray *refs)
{
  g_autofree gint *consumer = find_consumers (self, last, needed);

  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      MirNode *bn, *act_node = NULL;
      MirActivation act = MIR_ACT_LINEAR;
      guint end;
      gint j, k;
      MirLayer *folded;

      /* One consumer (uses also counts being an output or @until). */
      if (!needed[i] || skip[i] || uses[i] != 1 || (j = consumer[i]) < 0 || (gint) i == target)
        continue;
      bn = self->nodes->pdata[j];
      if (bn->n_inputs != 1 || bn->layer->klass != &mir_layer_batch_normalization_class ||
          j == target)
        continue;
      end = (guint) j;
      if (uses[j] == 1 && (k = consumer[j]) >= 0 && k != target)
        {
          MirNode *kn = self->nodes->pdata[k];
          if (kn->n_inputs == 1 &&
              (kn->layer->klass == &mir_layer_relu_class ||
               kn->layer->klass == &mir_layer_activation_class) &&
              kn->layer->activation != MIR_ACT_SOFTMAX)
            {
              act_node = kn;
              act = kn->layer->activation;
              end = (guint) k;
            }
        }
      folded = mir_fold_cache_get (self->fold_cache, node->layer, bn->layer, act);
      if (folded == NULL && act_node != NULL)
        {
          act = MIR_ACT_LINEAR;
          end = (guint) j;
          folded = mir_fold_cache_get (self->fold_cache, node->layer, bn->layer, act);
        }
      if (folded == NULL)
        continue;
      g_ptr_array_add (refs, folded);
      fold_layer[i] = folded;
      fold_end[i] = end;
      for (guint q = (guint) j; q <= end; q++)
        if (q == (guint) j || q == end)
          skip[q] = TRUE;
    }
}

/* Squeeze-and-excitation: a Multiply of [N,H,W,C] by [N,1,1,C] whose only
 * consumer is a 1x1 Conv2D (perhaps folded) takes no pass of its own: the
 * convolution scales a per-image copy of its kernel instead
 * (MirRunArgs.in_scale), where that is cheaper (mir_conv2d_input_scale_pays).
 * scale_conv[i] = j marks the Multiply i for the convolution j (not one
 * that pools as well); the shapes are checked again when i's inputs are
 * known. */
static void
plan_scale_fusions (MirModel *self, guint last, const gboolean *needed, const guint *uses,
                    gint target, MirLayer *const *fold_layer, MirLayer *const *pool_layer,
                    const gboolean *skip, gint *scale_conv)
{
  for (guint i = 0; i <= last; i++)
    scale_conv[i] = -1;
  for (guint j = 0; j <= last; j++)
    {
      MirNode *conv = self->nodes->pdata[j];
      MirLayer *layer = fold_layer[j] ? fold_layer[j] : conv->layer;
      MirNode *mul;
      guint i;
      const MirShape *shape;

      if (!needed[j] || skip[j] || conv->n_inputs != 1 || pool_layer[j] != NULL)
        continue;
      i = conv->inputs[0];
      mul = self->nodes->pdata[i];
      if (mul->layer->klass != &mir_layer_multiply_class || mul->n_inputs != 2 || skip[i] ||
          uses[i] != 1 || (gint) i == target)
        continue;
      shape = &mul->layer->out_shape;
      if (shape->ndim != 4 ||
          !mir_conv2d_input_scale_pays (layer, shape->dim[1] < 0 || shape->dim[2] < 0
                                                 ? G_MAXINT64
                                                 : shape->dim[1] * shape->dim[2]))
        continue;
      scale_conv[i] = (gint) j;
    }
}

/* For a Multiply planned by plan_scale_fusions(): which of its inputs is the
 * image x [N,H,W,C] and which the scale s (N x C values), or FALSE if the
 * real shapes do not fit (then it runs as a layer). */
static gboolean
scale_inputs (MirTensor *const *in, MirLayer *conv, guint *x_index)
{
  for (guint k = 0; k < 2; k++)
    {
      const MirTensor *x = in[k], *sc = in[1 - k];

      if (x->ndim == 4 && x->shape[1] * x->shape[2] > 1 &&
          ((sc->ndim == 4 && sc->shape[1] == 1 && sc->shape[2] == 1) || sc->ndim == 2) &&
          sc->shape[0] == x->shape[0] && sc->shape[sc->ndim - 1] == x->shape[3] &&
          mir_conv2d_input_scale_pays (conv, x->shape[1] * x->shape[2]))
        {
          *x_index = k;
          return TRUE;
        }
    }
  return FALSE;
}

/* Finds convolutions (folded or not) whose output feeds only a
 * MaxPooling2D and is not asked for: pool_layer[i] is then that pooling
 * (see mir-layer-fuse.h), run with node i. */
static void
plan_pools (MirModel *self, guint last, const gboolean *needed, const guint *uses, gint target,
            MirLayer **fold_layer, guint *fold_end, gboolean *skip, MirLayer **pool_layer)
{
  g_autofree gint *consumer = find_consumers (self, last, needed);

  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i], *pool;
      guint e = fold_end[i];
      gint j;

      if (!needed[i] || skip[i] || uses[e] != 1 || (j = consumer[e]) < 0 ||
          (gint) i == target || (gint) e == target)
        continue;
      pool = self->nodes->pdata[j];
      if (pool->n_inputs != 1 ||
          !mir_conv2d_max_pool_applies (fold_layer[i] ? fold_layer[i] : node->layer, pool->layer))
        continue;
      pool_layer[i] = pool->layer;
      fold_end[i] = (guint) j;
      skip[j] = TRUE;
    }
}

/* Activation memory plan for runs that keep nothing: each node output that
 * is neither a model input nor asked for (@external) gets an offset in one
 * arena shared by the whole run.  An output lives from the step that
 * writes it to the last step that reads it; two outputs whose lives overlap
 * get disjoint ranges, others may share memory.  Offsets are placed
 * largest first at the lowest free offset (greedy by size, as TensorFlow
 * Lite's arena planner), which for chains of shrinking layers needs no more
 * than the largest pair of neighbours.  The arena comes from the big-buffer
 * cache (mir-tensor.c), so runs of the same shapes reuse it. */

#define PLAN_NONE G_MAXSIZE
#define PLAN_ALIGN_FLOATS (MIR_TENSOR_ALIGN / sizeof (float))
/* Beyond this many planned outputs the quadratic placement is not worth it. */
#define PLAN_MAX_VALUES 4096

/* Where a node's output goes: floats [offset, offset + size) of the arena. */
typedef struct
{
  gsize offset; /* PLAN_NONE: a buffer of its own */
  gsize size;
} PlanSlot;

typedef struct
{
  guint value;  /* node index whose output this is */
  guint def;    /* step that writes it */
  guint end;    /* last step that reads it */
  gsize size;   /* floats, rounded up to PLAN_ALIGN_FLOATS */
  gsize offset;
} PlanItem;

static int
plan_item_by_size (gconstpointer a, gconstpointer b)
{
  const PlanItem *x = a, *y = b;

  if (x->size != y->size)
    return x->size > y->size ? -1 : 1;
  return x->def < y->def ? -1 : (x->def > y->def);
}

static int
plan_item_by_offset (gconstpointer a, gconstpointer b)
{
  const PlanItem *x = *(const PlanItem *const *) a, *y = *(const PlanItem *const *) b;

  return x->offset < y->offset ? -1 : (x->offset > y->offset);
}

/* Places items[0..n) (sorted by size) and returns the arena size in floats. */
static gsize
plan_place (PlanItem *items, guint n)
{
  g_autofree PlanItem **busy = g_new (PlanItem *, MAX (n, 1));
  gsize total = 0;

  for (guint a = 0; a < n; a++)
    {
      PlanItem *it = &items[a];
      guint nb = 0;
      gsize at = 0;

      for (guint b = 0; b < a; b++)
        if (items[b].def <= it->end && it->def <= items[b].end)
          busy[nb++] = &items[b];
      qsort (busy, nb, sizeof (PlanItem *), plan_item_by_offset);
      for (guint b = 0; b < nb && busy[b]->offset < at + it->size; b++)
        at = MAX (at, busy[b]->offset + busy[b]->size);
      it->offset = at;
      total = MAX (total, at + it->size);
    }
  return total;
}

/* Fills slot[v] (offset PLAN_NONE for outputs allocated on their own) and
 * returns the arena size in floats, or 0 to plan nothing (shapes that
 * only the run itself can report errors on, too many outputs, or an arena
 * beyond one tensor's limit). */
static gsize
plan_memory (MirModel *self, MirTensor *const *inputs, guint last, const gboolean *needed,
             const gboolean *skip, MirLayer *const *fold_layer, const guint *fold_end,
             MirLayer *const *pool_layer, const gint *scale_conv, const gboolean *external,
             PlanSlot *slot)
{
  g_autofree MirShape *shapes = g_new0 (MirShape, last + 1);
  g_autofree gboolean *known = g_new0 (gboolean, last + 1);
  g_autofree gint *item_of = g_new (gint, last + 1);
  g_autoptr(GArray) items = g_array_new (FALSE, FALSE, sizeof (PlanItem));
  MirShape stack_in[8];
  gsize total;

  for (guint i = 0; i <= last; i++)
    item_of[i] = -1;
  for (guint k = 0; k < self->inputs->len; k++)
    {
      guint v = g_array_index (self->inputs, guint, k);
      if (v <= last)
        {
          shapes[v].ndim = inputs[k]->ndim;
          memcpy (shapes[v].dim, inputs[k]->shape, inputs[k]->ndim * sizeof (gint64));
          known[v] = TRUE;
        }
    }
  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      MirLayer *layer = fold_layer[i] ? fold_layer[i] : node->layer;
      guint v = fold_end[i];
      PlanItem it = { v, i, i, 0, PLAN_NONE };
      gint64 numel;

      if (!needed[i] || skip[i] || (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT))
        continue;
      if (node->n_inputs > G_N_ELEMENTS (stack_in))
        return 0;
      for (guint k = 0; k < node->n_inputs; k++)
        {
          guint src = node->inputs[k];
          /* a Multiply fused into convolution j: its inputs are read there */
          guint reader = scale_conv[i] >= 0 ? (guint) scale_conv[i] : i;
          PlanItem *it_src;

          if (!known[src])
            return 0;
          stack_in[k] = shapes[src];
          if (item_of[src] < 0)
            continue;
          it_src = &g_array_index (items, PlanItem, item_of[src]);
          it_src->end = MAX (it_src->end, reader);
        }
      if (!layer->klass->infer (layer, stack_in, node->n_inputs, &shapes[v], NULL))
        return 0;
      if (pool_layer[i] != NULL) /* a convolution that pools: v is the pool's output */
        {
          MirShape conv_out = shapes[v];
          if (!pool_layer[i]->klass->infer (pool_layer[i], &conv_out, 1, &shapes[v], NULL))
            return 0;
        }
      known[v] = TRUE;
      numel = mir_shape_numel (shapes[v].ndim, shapes[v].dim);
      if (numel < 0)
        return 0;
      if (external[v])
        continue;
      it.size = ((gsize) numel + PLAN_ALIGN_FLOATS - 1) / PLAN_ALIGN_FLOATS * PLAN_ALIGN_FLOATS;
      item_of[v] = (gint) items->len;
      g_array_append_val (items, it);
      if (items->len > PLAN_MAX_VALUES)
        return 0;
    }
  g_array_sort (items, plan_item_by_size);
  total = plan_place ((PlanItem *) (gpointer) items->data, items->len);
  if (total > (gsize) MIR_TENSOR_MAX_ELEMENTS)
    return 0;
  for (guint a = 0; a < items->len; a++)
    {
      PlanItem *it = &g_array_index (items, PlanItem, a);
      slot[it->value].offset = it->offset;
      slot[it->value].size = it->size;
    }
  return total;
}

/* A plan is made again only when a run differs from the last one planned:
 * @until, the flags, the input shapes, or which nodes run and where folded
 * outputs go.  Plans are immutable and reference counted, so concurrent
 * runs can share one. */
typedef struct
{
  gint until;
  MirRunFlags flags;
  guint last;
  MirShape *in_shapes; /* per model input */
  guint *fold_end;     /* last + 1 */
  gboolean *runs;      /* last + 1: needed and not skipped */
  PlanSlot *slot;      /* last + 1 */
  gsize total;         /* arena floats; 0: nothing planned */
  MirTensor *spare;    /* atomic: the arena of a finished run, for the next one */
} MirPlan;

struct _MirPlanCache
{
  GMutex lock;
  MirPlan *plan;
};

static void
plan_clear (gpointer data)
{
  MirPlan *plan = data;

  g_clear_pointer (&plan->spare, mir_tensor_unref);
  g_free (plan->in_shapes);
  g_free (plan->fold_end);
  g_free (plan->runs);
  g_free (plan->slot);
}

static void
plan_release (MirPlan *plan)
{
  g_atomic_rc_box_release_full (plan, plan_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirPlan, plan_release)

static struct _MirPlanCache *
plan_cache_new (void)
{
  struct _MirPlanCache *cache = g_new0 (struct _MirPlanCache, 1);

  g_mutex_init (&cache->lock);
  return cache;
}

static void
plan_cache_free (struct _MirPlanCache *cache)
{
  g_clear_pointer (&cache->plan, plan_release);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

static gboolean
plan_matches (const MirPlan *plan, MirModel *self, gint until, MirRunFlags flags,
              MirTensor *const *inputs, guint last, const guint *fold_end,
              const gboolean *runs)
{
  if (plan->until != until || plan->flags != flags || plan->last != last ||
      memcmp (plan->fold_end, fold_end, (last + 1) * sizeof (guint)) != 0 ||
      memcmp (plan->runs, runs, (last + 1) * sizeof (gboolean)) != 0)
    return FALSE;
  for (guint k = 0; k < self->inputs->len; k++)
    if (plan->in_shapes[k].ndim != inputs[k]->ndim ||
        memcmp (plan->in_shapes[k].dim, inputs[k]->shape, inputs[k]->ndim * sizeof (gint64)))
      return FALSE;
  return TRUE;
}

/* The plan for this run, from the cache or made now (transfer full). */
static MirPlan *
plan_get (MirModel *self, gint until, MirRunFlags flags, MirTensor *const *inputs, guint last,
          const gboolean *needed, const gboolean *skip, MirLayer *const *fold_layer,
          const guint *fold_end, MirLayer *const *pool_layer, const gint *scale_conv,
          const gboolean *external)
{
  struct _MirPlanCache *cache = self->plan_cache;
  g_autofree gboolean *runs = g_new (gboolean, last + 1);
  MirPlan *plan = NULL;

  for (guint i = 0; i <= last; i++)
    runs[i] = needed[i] && !skip[i];
  g_mutex_lock (&cache->lock);
  if (cache->plan != NULL &&
      plan_matches (cache->plan, self, until, flags, inputs, last, fold_end, runs))
    plan = g_atomic_rc_box_acquire (cache->plan);
  g_mutex_unlock (&cache->lock);
  if (plan != NULL)
    return plan;

  plan = g_atomic_rc_box_new0 (MirPlan);
  plan->until = until;
  plan->flags = flags;
  plan->last = last;
  plan->in_shapes = g_new0 (MirShape, self->inputs->len);
  for (guint k = 0; k < self->inputs->len; k++)
    {
      plan->in_shapes[k].ndim = inputs[k]->ndim;
      memcpy (plan->in_shapes[k].dim, inputs[k]->shape, inputs[k]->ndim * sizeof (gint64));
    }
  plan->fold_end = g_memdup2 (fold_end, (last + 1) * sizeof (guint));
  plan->runs = g_steal_pointer (&runs);
  plan->slot = g_new (PlanSlot, last + 1);
  for (guint i = 0; i <= last; i++)
    plan->slot[i].offset = PLAN_NONE;
  plan->total = plan_memory (self, inputs, last, needed, skip, fold_layer, fold_end, pool_layer,
                             scale_conv, external, plan->slot);

  g_mutex_lock (&cache->lock);
  g_clear_pointer (&cache->plan, plan_release);
  cache->plan = g_atomic_rc_box_acquire (plan);
  g_mutex_unlock (&cache->lock);
  return plan;
}

/* A node's output: a view into the arena where planned, else its own
 * tensor; zeroed unless the layer writes every element. */
static MirTensor *
new_output (MirLayer *layer, MirTensor *arena, const PlanSlot *slot, guint ndim,
            const gint64 *shape, GError **error)
{
  gboolean writes_all = (layer->klass->flags & MIR_LAYER_FLAG_WRITES_ALL) != 0;
  gint64 numel = mir_shape_numel (ndim, shape);

  if (arena != NULL && slot != NULL && slot->offset != PLAN_NONE && numel >= 0 &&
      (gsize) numel <= slot->size)
    {
      g_autoptr(MirTensor) flat = mir_tensor_view_batch (arena, (gint64) slot->offset, numel);
      MirTensor *t = mir_tensor_reshape (flat, ndim, shape, error);

      if (t != NULL && !writes_all)
        mir_tensor_zero (t);
      return t;
    }
  if (writes_all)
    return mir_tensor_new_uninitialized (ndim, shape, error);
  return mir_tensor_new (ndim, shape, error);
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

MirTrace *
mir_model_run (MirModel *self, MirTensor *const *inputs, guint n_inputs, MirRunFlags flags,
               gint until, guint64 seed, GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autofree guint *uses = NULL;
  g_autofree gboolean *needed = NULL;
  g_autofree MirLayer **fold_layer = NULL;
  g_autoptr(GPtrArray) fold_refs = NULL;
  g_autofree guint *fold_end = NULL;
  g_autofree gboolean *skip = NULL;
  g_autofree gint *scale_conv = NULL;
  g_autofree guint *scale_x = NULL;
  g_autofree guint *scale_s = NULL;
  g_autofree MirLayer **pool_layer = NULL;
  g_autofree gboolean *external = NULL;
  g_autoptr(MirPlan) plan = NULL;
  const PlanSlot *slot = NULL;
  g_autoptr(MirTensor) arena = NULL;
  gboolean keep;
  guint n = self->nodes->len;
  guint last;

  if (n_inputs != self->inputs->len)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The model takes %u inputs but was given %u"), self->inputs->len, n_inputs);
      return NULL;
    }
  for (guint k = 0; k < n_inputs; k++)
    if (!check_input (self, k, inputs[k], (flags & MIR_RUN_ANY_SIZE) != 0, error))
      return NULL;
  if (until >= (gint) n)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No such layer index %d"), until);
      return NULL;
    }

  if (flags & MIR_RUN_FOR_BACKWARD)
    flags |= MIR_RUN_KEEP_ALL;
  /* the memory plan is made from the shapes at the model's own size */
  if (flags & MIR_RUN_ANY_SIZE)
    flags |= MIR_RUN_NO_PLAN;
  keep = (flags & MIR_RUN_KEEP_ALL) != 0;

  trace = g_new0 (MirTrace, 1);
  trace->model = mir_model_ref (self);
  trace->flags = flags;
  trace->seed = seed;
  trace->n = n;
  trace->values = g_new0 (MirTensor *, n);
  trace->state = g_new0 (gpointer, n);
  trace->times = g_new0 (double, n);
  trace->ran = g_new0 (gboolean, n);

  /* Which nodes must run, and how many consumers each has among them. */
  needed = g_new0 (gboolean, n);
  uses = g_new0 (guint, n);
  external = g_new0 (gboolean, n);
  if (until >= 0)
    {
      needed[until] = TRUE;
      external[until] = TRUE;
      uses[until]++;
      last = (guint) until;
    }
  else
    {
      last = 0;
      for (guint k = 0; k < self->outputs->len; k++)
        {
          guint o = g_array_index (self->outputs, guint, k);
          needed[o] = TRUE;
          external[o] = TRUE;
          uses[o]++;
          last = MAX (last, o);
        }
    }
  trace->target = -1;
  if (flags & MIR_RUN_LOGITS)
    trace->target = until >= 0 ? until : (gint) mir_model_get_output (self, 0);

  for (gint i = (gint) last; i >= 0; i--)
    {
      MirNode *node = self->nodes->pdata[i];
      if (!needed[i])
        continue;
      for (guint k = 0; k < node->n_inputs; k++)
        {
          needed[node->inputs[k]] = TRUE;
          uses[node->inputs[k]]++;
        }
    }

  /* Inference runs that keep nothing: BatchNormalization (+ ReLU) folded
   * into the convolution before it (mir-fold.h).  fold_end[i] is then the
   * node whose output the folded node i produces; the nodes in between are
   * skipped. */
  fold_layer = g_new0 (MirLayer *, n);
  fold_refs = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_layer_unref);
  fold_end = g_new (guint, n);
  skip = g_new0 (gboolean, n);
  for (guint i = 0; i < n; i++)
    fold_end[i] = i;
  scale_conv = g_new (gint, n);
  scale_x = g_new (guint, n);
  scale_s = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    scale_conv[i] = -1;
  pool_layer = g_new0 (MirLayer *, n);
  if (!(flags & (MIR_RUN_KEEP_ALL | MIR_RUN_TRAINING)))
    {
      plan_folds (self, last, needed, uses, trace->target, fold_layer, fold_end, skip, fold_refs);
      plan_pools (self, last, needed, uses, trace->target, fold_layer, fold_end, skip, pool_layer);
      plan_scale_fusions (self, last, needed, uses, trace->target, fold_layer, pool_layer, skip,
                          scale_conv);
    }
  /* scale_x[j] = G_MAXUINT: convolution j takes its input as it is */
  for (guint i = 0; i < n; i++)
    scale_x[i] = G_MAXUINT;

  /* Runs that keep nothing: outputs share one arena (plan_memory). */
  if (!(flags & (MIR_RUN_KEEP_ALL | MIR_RUN_NO_PLAN)))
    {
      gint64 floats;

      plan = plan_get (self, until, flags, inputs, last, needed, skip, fold_layer, fold_end,
                       pool_layer, scale_conv, external);
      floats = (gint64) plan->total;
      /* No arena (nothing planned or too little memory): own buffers.  The
       * last run's arena is taken over when no other run has it: a fresh
       * one costs the page faults of its first touch at every run (on
       * MobileNetV2 b1, runs of 2.7 to 6.5 ms instead of 2.3). */
      if (floats > 0)
        arena = g_atomic_pointer_exchange (&plan->spare, NULL);
      if (floats > 0 && arena == NULL)
        arena = mir_tensor_new_uninitialized (1, &floats, NULL);
      if (arena != NULL)
        {
          slot = plan->slot;
          trace->planned_bytes = (gsize) floats * sizeof (float);
        }
    }

  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      MirLayer *layer = fold_layer[i] ? fold_layer[i] : node->layer;
      MirTensor *stack_in[8];
      g_autofree MirTensor **heap_in = NULL;
      MirTensor **in = stack_in;
      g_autoptr(MirTensor) out = NULL;
      gint64 shape[MIR_MAX_DIMS];
      guint ndim;
      MirRunArgs args = { 0 };
      gint64 t0;

      if (!needed[i] || skip[i])
        continue;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;

      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        {
          for (guint k = 0; k < self->inputs->len; k++)
            if (g_array_index (self->inputs, guint, k) == i)
              trace->values[i] = mir_tensor_ref (inputs[k]);
          continue;
        }

      if (node->n_inputs > G_N_ELEMENTS (stack_in))
        in = heap_in = g_new (MirTensor *, node->n_inputs);
      for (guint k = 0; k < node->n_inputs; k++)
        in[k] = trace->values[node->inputs[k]];

      /* A Multiply fused into the convolution that follows: no run now. */
      if (scale_conv[i] >= 0)
        {
          MirNode *conv = self->nodes->pdata[scale_conv[i]];
          MirLayer *cl = fold_layer[scale_conv[i]] ? fold_layer[scale_conv[i]] : conv->layer;
          guint xk;

          if (scale_inputs (in, cl, &xk))
            {
              scale_x[scale_conv[i]] = node->inputs[xk];
              scale_s[scale_conv[i]] = node->inputs[1 - xk];
              continue;
            }
        }
      if (scale_x[i] != G_MAXUINT)
        {
          in[0] = trace->values[scale_x[i]];
          args.in_scale = trace->values[scale_s[i]]->data;
        }
      for (guint k = 0; k < node->n_inputs; k++)
        g_assert (in[k] != NULL);

      t0 = g_get_monotonic_time ();
      args.training = (flags & MIR_RUN_TRAINING) != 0;
      args.for_backward = (flags & MIR_RUN_FOR_BACKWARD) != 0;
      args.seed = seed ^ ((guint64) (i + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
      args.state = &trace->state[i];
      args.linear_output = (gint) i == trace->target;
      if (pool_layer[i] != NULL)
        out = mir_conv2d_max_pool_run (layer, pool_layer[i], in[0], &args, error);
      else if (mir_layer_output_shape (layer, in, node->n_inputs, &ndim, shape, error))
        {
          /* a leading Resizing at the input's own size: the identity */
          if ((flags & MIR_RUN_ANY_SIZE) && node->layer->klass == &mir_layer_resizing_class &&
              ndim == 4 && in[0]->ndim == 4)
            shape[1] = in[0]->shape[1], shape[2] = in[0]->shape[2];
          out = new_output (layer, arena, slot ? &slot[fold_end[i]] : NULL, ndim, shape, error);
        }
      else
        return NULL;
      if (out == NULL)
        {
          g_prefix_error (error, _("Layer '%s': "), node->name);
          return NULL;
        }
      if (pool_layer[i] == NULL &&
          !layer->klass->forward (layer, in, node->n_inputs, out, &args, error))
        {
          g_prefix_error (error, _("Layer '%s' (%s): "), node->name, node->layer->klass->name);
          return NULL;
        }
      trace->times[i] = (g_get_monotonic_time () - t0) / 1e6;
      trace->ran[i] = TRUE;
      trace->values[fold_end[i]] = g_steal_pointer (&out);

      /* the fused Multiply's inputs are consumed here */
      if (scale_x[i] != G_MAXUINT)
        {
          guint srcs[2] = { scale_x[i], scale_s[i] };

          for (guint k = 0; k < 2; k++)
            if (--uses[srcs[k]] == 0)
              {
                g_clear_pointer (&trace->values[srcs[k]], mir_tensor_unref);
                g_clear_pointer (&trace->state[srcs[k]], g_free);
              }
        }

      if (!keep)
        for (guint k = 0; k < node->n_inputs; k++)
          {
            guint src = node->inputs[k];
            if (--uses[src] == 0)
              {
                g_clear_pointer (&trace->values[src], mir_tensor_unref);
                g_clear_pointer (&trace->state[src], g_free);
              }
          }
    }
  /* What is left in the arena was read by skipped nodes only: its memory
   * may hold later outputs by now. */
  if (slot != NULL)
    for (guint i = 0; i <= last; i++)
      if (slot[i].offset != PLAN_NONE)
        g_clear_pointer (&trace->values[i], mir_tensor_unref);
  /* No view of the arena left: keep it for the next run of this plan. */
  if (arena != NULL && g_atomic_ref_count_compare (&arena->ref_count, 1) &&
      g_atomic_pointer_compare_and_exchange (&plan->spare, NULL, arena))
    arena = NULL;
  return g_steal_pointer (&trace);
}

MirTensor *
mir_model_predict (MirModel *self, MirTensor *input, GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = mir_model_run (self, &input, 1, MIR_RUN_DEFAULT, -1, 0,
                                             cancellable, error);
  if (trace == NULL)
    return NULL;
  return mir_tensor_ref (mir_trace_get_output (trace, 0));
}

MirModel *
mir_trace_get_model (MirTrace *trace)
{
  return trace->model;
}

MirTensor *
mir_trace_get (MirTrace *trace, guint node)
{
  g_return_val_if_fail (node < trace->n, NULL);
  return trace->values[node];
}

MirTensor *
mir_trace_get_output (MirTrace *trace, guint i)
{
  return mir_trace_get (trace, mir_model_get_output (trace->model, i));
}

gsize
mir_trace_get_planned_bytes (MirTrace *trace)
{
  return trace->planned_bytes;
}

double
mir_trace_get_time (MirTrace *trace, guint node)
{
  g_return_val_if_fail (node < trace->n, 0);
  return trace->times[node];
}

gboolean
mir_trace_node_ran (MirTrace *trace, guint node)
{
  g_return_val_if_fail (node < trace->n, FALSE);
  return trace->ran[node];
}

static gboolean
accumulate (MirTensor **slot, MirTensor *g)
{
  if (*slot == NULL)
    {
      *slot = mir_tensor_ref (g);
      return TRUE;
    }
  for (gsize k = 0; k < g->numel; k++)
    (*slot)->data[k] += g->data[k];
  return TRUE;
}

gboolean
mir_trace_backward (MirTrace *trace, guint from, const MirTensor *seed, gint stop,
                    MirBackwardFlags flags, GCancellable *cancellable, GError **error)
{
  MirModel *self = trace->model;
  g_autofree gboolean *anc = NULL;
  g_autofree gboolean *desc = NULL;
  gboolean want_weights = (flags & MIR_BACKWARD_WEIGHTS) != 0;

  g_return_val_if_fail (from < trace->n, FALSE);

  if (!(trace->flags & MIR_RUN_FOR_BACKWARD) || trace->values[from] == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Backward needs a forward pass run for backward up to layer '%s'"),
                   mir_model_get_node (self, from)->name);
      return FALSE;
    }
  if (!mir_tensor_same_shape (seed, trace->values[from]))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The gradient seed does not have the shape of layer '%s'"),
                   mir_model_get_node (self, from)->name);
      return FALSE;
    }
  if (stop >= (gint) from)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Backward must stop at a layer before the one it starts from"));
      return FALSE;
    }

  /* Reset earlier gradients. */
  if (trace->grads == NULL)
    trace->grads = g_new0 (MirTensor *, trace->n);
  for (guint i = 0; i < trace->n; i++)
    g_clear_pointer (&trace->grads[i], mir_tensor_unref);
  g_clear_pointer (&trace->weight_grads, g_hash_table_unref);
  trace->weight_grads = g_hash_table_new_full (NULL, NULL, NULL, weight_grads_free);

  /* anc: ancestors of @from (incl.); desc: descendants of @stop (incl.). */
  anc = g_new0 (gboolean, trace->n);
  desc = g_new0 (gboolean, trace->n);
  anc[from] = TRUE;
  for (gint i = (gint) from; i >= 0; i--)
    {
      MirNode *node = self->nodes->pdata[i];
      if (anc[i])
        for (guint k = 0; k < node->n_inputs; k++)
          anc[node->inputs[k]] = TRUE;
    }
  for (guint i = 0; i <= from; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      if (stop < 0 || (gint) i == stop)
        desc[i] = TRUE;
      for (guint k = 0; k < node->n_inputs && !desc[i]; k++)
        desc[i] = desc[node->inputs[k]];
    }

  {
    g_autoptr(MirTensor) s = mir_tensor_new (seed->ndim, seed->shape, error);
    if (s == NULL)
      return FALSE;
    mir_tensor_copy_data (s, seed);
    trace->grads[from] = g_steal_pointer (&s);
  }

  for (gint i = (gint) from; i >= 0; i--)
    {
      MirNode *node = self->nodes->pdata[i];
      MirLayer *layer = node->layer;
      MirTensor *stack_in[8];
      MirTensor *stack_gin[8];
      g_autofree MirTensor **heap_in = NULL;
      g_autofree MirTensor **heap_gin = NULL;
      MirTensor **in = stack_in, **gin = stack_gin;
      MirTensor *gw[MIR_MAX_WEIGHTS] = { NULL };
      gboolean layer_weights, any = FALSE, ok;
      MirRunArgs args = { 0 };

      if (!anc[i] || trace->grads[i] == NULL)
        continue;
      if (layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        continue;
      if (i == stop && !want_weights)
        continue;
      if (!want_weights && !desc[i])
        continue;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (layer->klass->backward == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Layer '%s' (%s) has no backward pass"), node->name, layer->klass->name);
          return FALSE;
        }

      if (node->n_inputs > G_N_ELEMENTS (stack_in))
        {
          in = heap_in = g_new (MirTensor *, node->n_inputs);
          gin = heap_gin = g_new (MirTensor *, node->n_inputs);
        }
      for (guint k = 0; k < node->n_inputs; k++)
        {
          guint src = node->inputs[k];
          in[k] = trace->values[src];
          gin[k] = NULL;
          if (in[k] == NULL)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                           _("Backward needs the output of layer '%s', which was not kept"),
                           mir_model_get_node (self, src)->name);
              return FALSE;
            }
          if (want_weights || desc[src])
            {
              gin[k] = mir_tensor_new_like (in[k], error);
              if (gin[k] == NULL)
                goto fail;
              any = TRUE;
            }
        }
      layer_weights = want_weights && layer->trainable;
      for (guint j = 0; layer_weights && j < layer->n_weights; j++)
        if (layer->weights[j].trainable)
          {
            gw[j] = mir_tensor_new (layer->weights[j].shape.ndim, layer->weights[j].shape.dim,
                                    error);
            if (gw[j] == NULL)
              goto fail;
            any = TRUE;
          }
      if (!any)
        continue;

      args.training = (trace->flags & MIR_RUN_TRAINING) != 0;
      args.for_backward = TRUE;
      args.seed = trace->seed ^ ((guint64) (i + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
      args.state = &trace->state[i];
      args.linear_output = i == trace->target;
      args.guided_relu = (flags & MIR_BACKWARD_GUIDED) != 0;
      ok = layer->klass->backward (layer, in, node->n_inputs, trace->values[i], trace->grads[i],
                                   gin, gw, &args, error);
      if (!ok)
        {
          g_prefix_error (error, _("Layer '%s' (%s): "), node->name, layer->klass->name);
          goto fail;
        }
      for (guint k = 0; k < node->n_inputs; k++)
        if (gin[k] != NULL)
          {
            accumulate (&trace->grads[node->inputs[k]], gin[k]);
            g_clear_pointer (&gin[k], mir_tensor_unref);
          }
      if (layer_weights)
        {
          MirTensor **slots = g_hash_table_lookup (trace->weight_grads, layer);
          if (slots == NULL)
            {
              slots = g_new0 (MirTensor *, MIR_MAX_WEIGHTS);
              g_hash_table_insert (trace->weight_grads, layer, slots);
            }
          for (guint j = 0; j < layer->n_weights; j++)
            if (gw[j] != NULL)
              {
                accumulate (&slots[j], gw[j]);
                g_clear_pointer (&gw[j], mir_tensor_unref);
              }
        }
      continue;

    fail:
      for (guint k = 0; k < node->n_inputs; k++)
        g_clear_pointer (&gin[k], mir_tensor_unref);
      for (guint j = 0; j < MIR_MAX_WEIGHTS; j++)
        g_clear_pointer (&gw[j], mir_tensor_unref);
      return FALSE;
    }
  return TRUE;
}

MirTensor *
mir_trace_get_grad (MirTrace *trace, guint node)
{
  g_return_val_if_fail (node < trace->n, NULL);
  return trace->grads ? trace->grads[node] : NULL;
}

MirTensor *
mir_trace_get_weight_grad (MirTrace *trace, MirLayer *layer, guint index)
{
  MirTensor **slots;

  g_return_val_if_fail (index < MIR_MAX_WEIGHTS, NULL);
  if (trace->weight_grads == NULL)
    return NULL;
  slots = g_hash_table_lookup (trace->weight_grads, layer);
  return slots ? slots[index] : NULL;
}
