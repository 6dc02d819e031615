#define G_LOG_DOMAIN "mir-model"

/* mir-model-plan.c: a run compiled into steps (mir-model-private.h).
 *
 * Compiling decides once per (model, @until, flags, input shapes) which nodes
 * run, what is fused into what (BatchNormalization folded into a
 * convolution, a MaxPooling2D run with the convolution before it, a
 * squeeze-and-excitation Multiply taken by a 1x1 convolution) and where each
 * output lives in the run's activation arena.  The executor
 * (mir-model-run.c) then only walks the steps.  Plans are kept in a small
 * per-model cache, most recent first; the most recent keeps the arena of its
 * last run. */

#include <string.h>

#include "mir-fold.h"
#include "mir-model-private.h"
#include "layers/mir-layers.h"
#include "layers/mir-layer-fuse.h"

/* Plans kept per model (different @until, flags or input sizes in turn: the
 * window's activation grid and its detection, batch sizes in a benchmark). */
#define PLAN_CACHE_SIZE 8

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
            MirLayer **fold_layer, MirLayer **fold_bn, MirActivation *fold_act,
            guint *fold_end, gboolean *skip, GPtrArray *refs)
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
      fold_bn[i] = bn->layer;
      fold_act[i] = act;
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
                    const gint *block_dw, const gboolean *skip, gint *scale_conv)
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

      if (!needed[j] || skip[j] || conv->n_inputs != 1 || pool_layer[j] != NULL ||
          block_dw[j] >= 0)
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

/* For a Multiply planned by plan_scale_fusions(): FALSE if the real shapes
 * do not fit (then it runs as a layer). */
gboolean
mir_plan_scale_inputs (MirTensor *const *in, MirLayer *conv, guint *x_index)
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

/* The node's layer as the run will have it (folded or its own). */
static MirLayer *
planned_layer (MirModel *self, MirLayer *const *fold_layer, guint i)
{
  return fold_layer[i] ? fold_layer[i] : ((MirNode *) self->nodes->pdata[i])->layer;
}

/* The single needed consumer of node @v's output if it takes only that
 * output and neither is the target, else -1. */
static gint
sole_consumer (MirModel *self, const guint *uses, const gint *consumer, const gboolean *skip,
               gint target, guint v)
{
  gint j;

  if (uses[v] != 1 || (gint) v == target || (j = consumer[v]) < 0 || j == target || skip[j] ||
      ((MirNode *) self->nodes->pdata[j])->n_inputs != 1)
    return -1;
  return j;
}

/* Inverted-residual blocks (layers/mir-layer-fuse.h), from a 1x1
 * convolution, or a stem convolution over RGB, i (folded or not) whose
 * output feeds only a DepthwiseConv2D
 * j (perhaps through a ZeroPadding2D p), or from a DepthwiseConv2D i = j
 * itself; then, if j's output feeds only a 1x1 convolution k, k too (a
 * block from a depthwise needs one), and if k's output feeds only an Add of
 * it and the block's input, the Add a.  block_dw[i] = j, block_pad[i] = p,
 * block_pw[i] = k, block_add[i] = a (-1: none); the nodes taken in are
 * skipped and fold_end[i] is the last of them.  MIRADA_FUSE_BLOCKS=0 turns
 * this off (to compare). */
static void
plan_blocks (MirModel *self, guint last, const gboolean *needed, const guint *uses, gint target,
             MirLayer **fold_layer, guint *fold_end, gboolean *skip, MirLayer **pool_layer,
             gint *block_dw, gint *block_pad, gint *block_pw, gint *block_add)
{
  const char *env = g_getenv ("MIRADA_FUSE_BLOCKS");
  g_autofree gint *consumer = NULL;

  if (env != NULL && env[0] == '0')
    return;
  consumer = find_consumers (self, last, needed);
  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      MirBlock b = { 0 };
      gint j = -1, p = -1, k = -1, a = -1;
      guint end;

      if (!needed[i] || skip[i] || pool_layer[i] != NULL || node->n_inputs != 1 ||
          (gint) i == target || (gint) fold_end[i] == target)
        continue;
      if (node->layer->klass == &mir_layer_depthwise_conv2d_class)
        j = (gint) i;
      else if (mir_conv2d_rows_applies (planned_layer (self, fold_layer, i)) &&
               (j = sole_consumer (self, uses, consumer, skip, target, fold_end[i])) >= 0 &&
               ((MirNode *) self->nodes->pdata[j])->layer->klass ==
                 &mir_layer_zero_padding2d_class)
        {
          p = j;
          j = sole_consumer (self, uses, consumer, skip, target, (guint) p);
        }
      if (j < 0 || pool_layer[j] != NULL || (gint) fold_end[j] == target)
        continue;
      b.expand = j == (gint) i ? NULL : planned_layer (self, fold_layer, i);
      b.pad = p >= 0 ? ((MirNode *) self->nodes->pdata[p])->layer : NULL;
      b.dw = planned_layer (self, fold_layer, (guint) j);
      end = fold_end[j];
      if ((k = sole_consumer (self, uses, consumer, skip, target, end)) >= 0 &&
          pool_layer[k] == NULL && (gint) fold_end[k] != target)
        {
          b.project = planned_layer (self, fold_layer, (guint) k);
          if (!mir_block_applies (&b))
            b.project = NULL, k = -1;
        }
      else
        k = -1;
      if (!mir_block_applies (&b))
        continue;
      if (k >= 0)
        {
          MirNode *an;

          end = fold_end[k];
          if (uses[end] == 1 && (a = consumer[end]) >= 0 && a != target && !skip[a] &&
              (an = self->nodes->pdata[a])->layer->klass == &mir_layer_add_class &&
              an->n_inputs == 2 &&
              ((an->inputs[0] == end && an->inputs[1] == node->inputs[0]) ||
               (an->inputs[1] == end && an->inputs[0] == node->inputs[0])) &&
              mir_block_residual_applies (&b))
            end = (guint) a;
          else
            a = -1;
        }
      block_dw[i] = j;
      block_pad[i] = p;
      block_pw[i] = k;
      block_add[i] = a;
      for (gint q = 0; q < 4; q++)
        {
          gint v = (gint[]) { j, p, k, a }[q];
          if (v >= 0 && v != (gint) i)
            skip[v] = TRUE;
        }
      fold_end[i] = end;
    }
}

/* The block planned at node @i (plan_blocks), its layers as planned. */
static void
planned_block (MirModel *self, MirLayer *const *fold_layer, guint i, const gint *block_dw,
               const gint *block_pad, const gint *block_pw, MirBlock *b)
{
  b->expand = block_dw[i] == (gint) i ? NULL : planned_layer (self, fold_layer, i);
  b->pad = block_pad[i] >= 0 ? ((MirNode *) self->nodes->pdata[block_pad[i]])->layer : NULL;
  b->dw = planned_layer (self, fold_layer, (guint) block_dw[i]);
  b->project = block_pw[i] >= 0 ? planned_layer (self, fold_layer, (guint) block_pw[i]) : NULL;
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

#define PLAN_ALIGN_FLOATS (MIR_TENSOR_ALIGN / sizeof (float))
/* Beyond this many planned outputs the quadratic placement is not worth it. */
#define PLAN_MAX_VALUES 4096

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

/* Fills slot[v] (offset MIR_PLAN_NONE for outputs allocated on their own) and
 * returns the arena size in floats, or 0 to plan nothing (shapes that
 * only the run itself can report errors on, too many outputs, or an arena
 * beyond one tensor's limit). */
static gsize
plan_memory (MirModel *self, MirTensor *const *inputs, guint last, const gboolean *needed,
             const gboolean *skip, MirLayer *const *fold_layer, const guint *fold_end,
             MirLayer *const *pool_layer, const gint *scale_conv, const gint *block_dw,
             const gint *block_pad, const gint *block_pw, const gboolean *external,
             MirPlanSlot *slot)
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
      PlanItem it = { v, i, i, 0, MIR_PLAN_NONE };
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
      if (block_dw[i] >= 0)
        {
          MirBlock b;

          planned_block (self, fold_layer, i, block_dw, block_pad, block_pw, &b);
          if (!mir_block_infer (&b, &stack_in[0], &shapes[v], NULL))
            return 0;
        }
      else if (!layer->klass->infer (layer, stack_in, node->n_inputs, &shapes[v], NULL))
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

struct _MirPlanCache
{
  GMutex lock;
  MirPlan *plans[PLAN_CACHE_SIZE]; /* most recently used first */
  guint compiled;
};

static void
plan_clear (gpointer data)
{
  MirPlan *plan = data;

  g_clear_pointer (&plan->spare, mir_tensor_unref);
  g_free (plan->in_shapes);
  g_free (plan->steps);
  g_free (plan->uses);
}

void
mir_plan_release (MirPlan *plan)
{
  g_atomic_rc_box_release_full (plan, plan_clear);
}

MirPlanCache *
mir_plan_cache_new (void)
{
  MirPlanCache *cache = g_new0 (MirPlanCache, 1);

  g_mutex_init (&cache->lock);
  return cache;
}

void
mir_plan_cache_free (MirPlanCache *cache)
{
  for (guint i = 0; i < PLAN_CACHE_SIZE; i++)
    g_clear_pointer (&cache->plans[i], mir_plan_release);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

guint
mir_plan_cache_get_compiled (MirPlanCache *cache)
{
  guint n;

  g_mutex_lock (&cache->lock);
  n = cache->compiled;
  g_mutex_unlock (&cache->lock);
  return n;
}

static gboolean
plan_matches (const MirPlan *plan, MirModel *self, gint until, MirRunFlags flags,
              MirTensor *const *inputs)
{
  if (plan->until != until || plan->flags != flags || plan->n_nodes != self->nodes->len)
    return FALSE;
  for (guint k = 0; k < self->inputs->len; k++)
    if (plan->in_shapes[k].ndim != inputs[k]->ndim ||
        memcmp (plan->in_shapes[k].dim, inputs[k]->shape, inputs[k]->ndim * sizeof (gint64)))
      return FALSE;
  return TRUE;
}

/* Compiles the plan: which nodes run and how many readers each output has,
 * the fusions, the arena. */
static MirPlan *
plan_compile (MirModel *self, gint until, MirRunFlags flags, MirTensor *const *inputs)
{
  guint n = self->nodes->len, last;
  g_autofree guint *uses = g_new0 (guint, n);
  g_autofree gboolean *needed = g_new0 (gboolean, n);
  g_autofree gboolean *external = g_new0 (gboolean, n);
  g_autofree MirLayer **fold_layer = g_new0 (MirLayer *, n);
  g_autofree MirLayer **fold_bn = g_new0 (MirLayer *, n);
  g_autofree MirActivation *fold_act = g_new0 (MirActivation, n);
  g_autoptr(GPtrArray) fold_refs =
    g_ptr_array_new_with_free_func ((GDestroyNotify) mir_layer_unref);
  g_autofree guint *fold_end = g_new (guint, n);
  g_autofree gboolean *skip = g_new0 (gboolean, n);
  g_autofree gint *scale_conv = g_new (gint, n);
  g_autofree MirLayer **pool_layer = g_new0 (MirLayer *, n);
  g_autofree gint *block_dw = g_new (gint, n);
  g_autofree gint *block_pad = g_new (gint, n);
  g_autofree gint *block_pw = g_new (gint, n);
  g_autofree gint *block_add = g_new (gint, n);
  g_autofree MirPlanSlot *slot = NULL;
  MirPlan *plan;

  plan = g_atomic_rc_box_new0 (MirPlan);
  plan->until = until;
  plan->flags = flags;
  plan->n_nodes = n;
  plan->in_shapes = g_new0 (MirShape, self->inputs->len);
  for (guint k = 0; k < self->inputs->len; k++)
    {
      plan->in_shapes[k].ndim = inputs[k]->ndim;
      memcpy (plan->in_shapes[k].dim, inputs[k]->shape, inputs[k]->ndim * sizeof (gint64));
    }

  /* Which nodes must run, and how many consumers each has among them. */
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
  plan->last = last;
  plan->target = -1;
  if (flags & MIR_RUN_LOGITS)
    plan->target = until >= 0 ? until : (gint) mir_model_get_output (self, 0);
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
  for (guint i = 0; i < n; i++)
    {
      fold_end[i] = i;
      scale_conv[i] = -1;
      block_dw[i] = block_pad[i] = block_pw[i] = block_add[i] = -1;
    }
  if (!(flags & (MIR_RUN_KEEP_ALL | MIR_RUN_TRAINING)))
    {
      plan_folds (self, last, needed, uses, plan->target, fold_layer, fold_bn, fold_act,
                  fold_end, skip, fold_refs);
      plan_pools (self, last, needed, uses, plan->target, fold_layer, fold_end, skip, pool_layer);
      plan_blocks (self, last, needed, uses, plan->target, fold_layer, fold_end, skip, pool_layer,
                   block_dw, block_pad, block_pw, block_add);
      plan_scale_fusions (self, last, needed, uses, plan->target, fold_layer, pool_layer,
                          block_dw, skip, scale_conv);
    }

  /* Runs that keep nothing: outputs share one arena (plan_memory). */
  slot = g_new (MirPlanSlot, last + 1);
  for (guint i = 0; i <= last; i++)
    slot[i].offset = MIR_PLAN_NONE, slot[i].size = 0;
  if (!(flags & (MIR_RUN_KEEP_ALL | MIR_RUN_NO_PLAN)))
    plan->total = plan_memory (self, inputs, last, needed, skip, fold_layer, fold_end,
                               pool_layer, scale_conv, block_dw, block_pad, block_pw, external,
                               slot);

  plan->steps = g_new0 (MirPlanStep, last + 1);
  for (guint i = 0; i <= last; i++)
    {
      MirNode *node = self->nodes->pdata[i];
      MirPlanStep *step;

      if (!needed[i] || skip[i])
        continue;
      step = &plan->steps[plan->n_steps++];
      step->node = i;
      step->out = fold_end[i];
      step->input = -1;
      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        for (guint k = 0; k < self->inputs->len; k++)
          if (g_array_index (self->inputs, guint, k) == i)
            step->input = (gint) k;
      step->fold_bn = fold_bn[i];
      step->fold_act = fold_act[i];
      step->pool = pool_layer[i];
      step->scale_conv = scale_conv[i];
      step->block_dw = block_dw[i];
      step->block_pad = block_pad[i];
      step->block_pw = block_pw[i];
      step->block_add = block_add[i] >= 0;
      step->block_gap = -1;
      /* a squeeze-and-excitation's GlobalAveragePooling2D of the block's
       * output (EfficientNet): summed by the block, image by image */
      for (guint q = fold_end[i] + 1; block_dw[i] >= 0 && q <= last && step->block_gap < 0; q++)
        {
          MirNode *qn = self->nodes->pdata[q];

          if (needed[q] && !skip[q] && qn->n_inputs == 1 && qn->inputs[0] == fold_end[i] &&
              qn->layer->klass == &mir_layer_global_average_pooling2d_class)
            step->block_gap = (gint) q;
        }
      if (block_dw[i] >= 0 && block_dw[i] != (gint) i)
        {
          step->dw_bn = fold_bn[block_dw[i]];
          step->dw_act = fold_act[block_dw[i]];
        }
      if (block_pw[i] >= 0)
        {
          step->pw_bn = fold_bn[block_pw[i]];
          step->pw_act = fold_act[block_pw[i]];
        }
      step->slot = slot[fold_end[i]];
    }
  plan->uses = g_memdup2 (uses, (last + 1) * sizeof (guint));
  return plan;
}

MirPlan *
mir_plan_get (MirModel *self, gint until, MirRunFlags flags, MirTensor *const *inputs)
{
  MirPlanCache *cache = self->plan_cache;
  MirPlan *plan = NULL;
  MirTensor *evicted = NULL;
  guint at;

  g_mutex_lock (&cache->lock);
  for (at = 0; at < PLAN_CACHE_SIZE && cache->plans[at] != NULL; at++)
    if (plan_matches (cache->plans[at], self, until, flags, inputs))
      {
        plan = cache->plans[at];
        break;
      }
  if (plan != NULL)
    {
      /* to the front; an arena is kept by the front plan only */
      memmove (cache->plans + 1, cache->plans, at * sizeof (MirPlan *));
      cache->plans[0] = plan;
      if (at > 0)
        evicted = g_atomic_pointer_exchange (&cache->plans[1]->spare, NULL);
      plan = g_atomic_rc_box_acquire (plan);
    }
  g_mutex_unlock (&cache->lock);
  g_clear_pointer (&evicted, mir_tensor_unref);
  if (plan != NULL)
    return plan;

  plan = plan_compile (self, until, flags, inputs);

  g_mutex_lock (&cache->lock);
  cache->compiled++;
  g_clear_pointer (&cache->plans[PLAN_CACHE_SIZE - 1], mir_plan_release);
  memmove (cache->plans + 1, cache->plans, (PLAN_CACHE_SIZE - 1) * sizeof (MirPlan *));
  cache->plans[0] = g_atomic_rc_box_acquire (plan);
  if (cache->plans[1] != NULL)
    evicted = g_atomic_pointer_exchange (&cache->plans[1]->spare, NULL);
  g_mutex_unlock (&cache->lock);
  g_clear_pointer (&evicted, mir_tensor_unref);
  return plan;
}
