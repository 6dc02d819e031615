#define G_LOG_DOMAIN "mir-model"

/* mir-model-run.c: the executor.  mir_model_run() takes the run's plan
 * (mir-model-plan.c, compiled once per model, @until, flags and input
 * shapes) and walks its steps: gather the inputs, run the layer (folded,
 * pooling or input-scaled as the step says) into its arena slot or a
 * buffer of its own, and free each output after its last reader. */

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-fold.h"
#include "mir-model-private.h"
#include "layers/mir-layers.h"
#include "layers/mir-layer-fuse.h"

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

/* A node's output: a view into the arena where planned, else its own
 * tensor; zeroed unless the layer writes every element. */
static MirTensor *
new_output (MirLayer *layer, MirTensor *arena, const MirPlanSlot *slot, guint ndim,
            const gint64 *shape, GError **error)
{
  gboolean writes_all = (layer->klass->flags & MIR_LAYER_FLAG_WRITES_ALL) != 0;
  gint64 numel = mir_shape_numel (ndim, shape);

  if (arena != NULL && slot != NULL && slot->offset != MIR_PLAN_NONE && numel >= 0 &&
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

/* One of the readers of node @src's output is done with it: the last one
 * frees it. */
static void
consumed (MirTrace *trace, guint *uses, guint src)
{
  if (--uses[src] == 0)
    {
      g_clear_pointer (&trace->values[src], mir_tensor_unref);
      g_clear_pointer (&trace->state[src], g_free);
    }
}

/* The folded layer of node @i with @bn, @act (a new reference in *@ref), or
 * the node's own layer. */
static MirLayer *
step_layer (MirModel *self, guint i, MirLayer *bn, MirActivation act, MirLayer **ref,
            GError **error)
{
  MirNode *node = self->nodes->pdata[i];

  if (bn == NULL)
    return node->layer;
  *ref = mir_fold_cache_get (self->fold_cache, node->layer, bn, act);
  if (*ref == NULL)
    g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                 _("Layer '%s': could not fold the batch normalization after it"), node->name);
  return *ref;
}

/* The inverted-residual block planned from @step's node, whose layer
 * (folded already) is @head (mir_block_run). */
static gboolean
run_block (MirModel *self, const MirPlanStep *step, MirLayer *head, MirTensor *x,
           MirTensor *arena, MirTensor **out, float **gap_sums, GError **error)
{
  g_autoptr(MirLayer) dw_ref = NULL;
  g_autoptr(MirLayer) pw_ref = NULL;
  MirBlock b = { 0 };
  MirShape in_s = { 0 }, out_s;

  if ((guint) step->block_dw == step->node)
    b.dw = head;
  else
    {
      b.expand = head;
      b.dw = step_layer (self, (guint) step->block_dw, step->dw_bn, step->dw_act, &dw_ref, error);
      if (b.dw == NULL)
        return FALSE;
    }
  if (step->block_pad >= 0)
    b.pad = ((MirNode *) self->nodes->pdata[step->block_pad])->layer;
  if (step->block_pw >= 0 &&
      (b.project = step_layer (self, (guint) step->block_pw, step->pw_bn, step->pw_act, &pw_ref,
                               error)) == NULL)
    return FALSE;
  b.residual = step->block_add;
  in_s.ndim = x->ndim;
  memcpy (in_s.dim, x->shape, x->ndim * sizeof (gint64));
  /* the GlobalAveragePooling2D after it: its sums, image by image */
  if (step->block_gap >= 0)
    b.gap_sums = &gap_sums[step->block_gap];
  if (!mir_block_infer (&b, &in_s, &out_s, error) ||
      (*out = new_output (b.dw, arena, arena ? &step->slot : NULL, out_s.ndim, out_s.dim,
                          error)) == NULL ||
      !mir_block_run (&b, x, *out, error))
    {
      g_prefix_error (error, _("Layer '%s': "),
                      ((MirNode *) self->nodes->pdata[step->node])->name);
      return FALSE;
    }
  return TRUE;
}

MirTrace *
mir_model_run (MirModel *self, MirTensor *const *inputs, guint n_inputs, MirRunFlags flags,
               gint until, guint64 seed, GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirPlan) plan = NULL;
  g_autoptr(MirTensor) arena = NULL;
  g_autofree guint *uses = NULL;
  g_autofree guint *scale_x = NULL;
  g_autofree guint *scale_s = NULL;
  g_autoptr(GPtrArray) gap_owner = NULL;
  float **gap_sums; /* per node: its input's sums from the block before it, or NULL */
  gboolean keep;
  guint n = self->nodes->len;

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

  plan = mir_plan_get (self, until, flags, inputs);

  trace = g_new0 (MirTrace, 1);
  trace->model = mir_model_ref (self);
  trace->flags = flags;
  trace->seed = seed;
  trace->n = n;
  trace->values = g_new0 (MirTensor *, n);
  trace->state = g_new0 (gpointer, n);
  trace->times = g_new0 (double, n);
  trace->ran = g_new0 (gboolean, n);
  trace->target = plan->target;

  /* counted down as readers run; scale_x[j] = G_MAXUINT: convolution j takes
   * its input as it is, else the image and scale of a Multiply fused into it */
  uses = g_memdup2 (plan->uses, (plan->last + 1) * sizeof (guint));
  scale_x = g_new (guint, plan->last + 1);
  scale_s = g_new (guint, plan->last + 1);
  for (guint i = 0; i <= plan->last; i++)
    scale_x[i] = G_MAXUINT;
  gap_owner = g_ptr_array_new_full (n, (GDestroyNotify) mir_free_floats);
  g_ptr_array_set_size (gap_owner, (gint) n);
  gap_sums = (float **) gap_owner->pdata;

  if (plan->total > 0)
    {
      gint64 floats = (gint64) plan->total;

      /* No arena (too little memory): own buffers.  The last run's arena is
       * taken over when no other run has it: a fresh one costs the page
       * faults of its first touch at every run (on MobileNetV2 b1, runs of
       * 2.7 to 6.5 ms instead of 2.3). */
      arena = g_atomic_pointer_exchange (&plan->spare, NULL);
      if (arena == NULL)
        arena = mir_tensor_new_uninitialized (1, &floats, NULL);
      if (arena != NULL)
        trace->planned_bytes = (gsize) floats * sizeof (float);
    }

  for (guint s = 0; s < plan->n_steps; s++)
    {
      const MirPlanStep *step = &plan->steps[s];
      guint i = step->node;
      MirNode *node = self->nodes->pdata[i];
      g_autoptr(MirLayer) folded = NULL;
      MirLayer *layer = node->layer;
      MirTensor *stack_in[8];
      g_autofree MirTensor **heap_in = NULL;
      MirTensor **in = stack_in;
      g_autoptr(MirTensor) out = NULL;
      gint64 shape[MIR_MAX_DIMS];
      guint ndim;
      MirRunArgs args = { 0 };
      gint64 t0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;

      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        {
          if (step->input >= 0)
            trace->values[i] = mir_tensor_ref (inputs[step->input]);
          continue;
        }

      if (node->n_inputs > G_N_ELEMENTS (stack_in))
        in = heap_in = g_new (MirTensor *, node->n_inputs);
      for (guint k = 0; k < node->n_inputs; k++)
        in[k] = trace->values[node->inputs[k]];

      /* A Multiply fused into the convolution that follows: no run now.
       * (The folded copy of that convolution has its configuration.) */
      if (step->scale_conv >= 0)
        {
          MirNode *conv = self->nodes->pdata[step->scale_conv];
          guint xk;

          if (mir_plan_scale_inputs (in, conv->layer, &xk))
            {
              scale_x[step->scale_conv] = node->inputs[xk];
              scale_s[step->scale_conv] = node->inputs[1 - xk];
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

      /* The folded layer for the weights as they are now (mir-fold.h). */
      if ((layer = step_layer (self, i, step->fold_bn, step->fold_act, &folded, error)) == NULL)
        return NULL;

      t0 = g_get_monotonic_time ();
      args.training = (flags & MIR_RUN_TRAINING) != 0;
      args.for_backward = (flags & MIR_RUN_FOR_BACKWARD) != 0;
      args.seed = mir_node_seed (seed, i);
      args.state = &trace->state[i];
      args.linear_output = (gint) i == trace->target;
      args.in_sums = gap_sums[i];
      if (step->block_dw >= 0)
        {
          if (!run_block (self, step, layer, in[0], arena, &out, gap_sums, error))
            return NULL;
        }
      else if (step->pool != NULL)
        out = mir_conv2d_max_pool_run (layer, step->pool, in[0], &args, error);
      else if (mir_layer_output_shape (layer, in, node->n_inputs, &ndim, shape, error))
        {
          /* a leading Resizing at the input's own size: the identity */
          if ((flags & MIR_RUN_ANY_SIZE) && node->layer->klass == &mir_layer_resizing_class &&
              ndim == 4 && in[0]->ndim == 4)
            shape[1] = in[0]->shape[1], shape[2] = in[0]->shape[2];
          out = new_output (layer, arena, arena ? &step->slot : NULL, ndim, shape, error);
        }
      else
        return NULL;
      if (out == NULL)
        {
          g_prefix_error (error, _("Layer '%s': "), node->name);
          return NULL;
        }
      if (step->pool == NULL && step->block_dw < 0 &&
          !layer->klass->forward (layer, in, node->n_inputs, out, &args, error))
        {
          g_prefix_error (error, _("Layer '%s' (%s): "), node->name, node->layer->klass->name);
          return NULL;
        }
      g_clear_pointer (&gap_sums[i], mir_free_floats);
      trace->times[i] = (g_get_monotonic_time () - t0) / 1e6;
      trace->ran[i] = TRUE;
      trace->values[step->out] = g_steal_pointer (&out);

      /* the fused Multiply's inputs are consumed here */
      if (scale_x[i] != G_MAXUINT)
        {
          consumed (trace, uses, scale_x[i]);
          consumed (trace, uses, scale_s[i]);
        }

      if (!keep)
        {
          for (guint k = 0; k < node->n_inputs; k++)
            consumed (trace, uses, node->inputs[k]);
          if (step->block_add) /* the block's Add read its input a second time */
            consumed (trace, uses, node->inputs[0]);
        }
    }
  /* What is left in the arena was read by skipped nodes only: its memory
   * may hold later outputs by now. */
  if (arena != NULL)
    for (guint s = 0; s < plan->n_steps; s++)
      if (plan->steps[s].slot.offset != MIR_PLAN_NONE)
        g_clear_pointer (&trace->values[plan->steps[s].out], mir_tensor_unref);
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
