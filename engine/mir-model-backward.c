#define G_LOG_DOMAIN "mir-model"

/* mir-model-backward.c: back-propagation over a trace that a run kept for
 * backward (MIR_RUN_FOR_BACKWARD): from one node's gradient to the earlier
 * nodes' and, if asked, the weights'. */

#include <glib/gi18n-lib.h>

#include "mir-model-private.h"

static void
weight_grads_free (gpointer data)
{
  MirTensor **g = data;

  for (guint i = 0; i < MIR_MAX_WEIGHTS; i++)
    g_clear_pointer (&g[i], mir_tensor_unref);
  g_free (g);
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
      args.seed = mir_node_seed (trace->seed, (guint) i);
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
