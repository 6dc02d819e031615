#define G_LOG_DOMAIN "mir-optimizer"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-optimizer.h"

struct _MirOptimizer
{
  MirOptimizerOptions options;
  guint64 iterations;
  GHashTable *slots; /* MirTensor* (weight) -> MirTensor*[2] (momentum or m, v) */
};

typedef struct
{
  MirTensor *weight; /* a reference, so the key stays valid */
  MirTensor *a;
  MirTensor *b;
} Slot;

static void
slot_free (gpointer data)
{
  Slot *s = data;

  g_clear_pointer (&s->weight, mir_tensor_unref);
  g_clear_pointer (&s->a, mir_tensor_unref);
  g_clear_pointer (&s->b, mir_tensor_unref);
  g_free (s);
}

void
mir_optimizer_options_init (MirOptimizerOptions *options, MirOptimizerKind kind)
{
  *options = (MirOptimizerOptions) { 0 };
  options->kind = kind;
  options->learning_rate = kind == MIR_OPTIMIZER_ADAM ? 0.001 : 0.01;
  options->momentum = 0;
  options->nesterov = FALSE;
  options->beta1 = 0.9;
  options->beta2 = 0.999;
  options->epsilon = 1e-7;
}

gboolean
mir_optimizer_kind_from_string (const char *name, MirOptimizerKind *kind, GError **error)
{
  if (g_ascii_strcasecmp (name, "adam") == 0)
    *kind = MIR_OPTIMIZER_ADAM;
  else if (g_ascii_strcasecmp (name, "sgd") == 0)
    *kind = MIR_OPTIMIZER_SGD;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unknown optimizer '%s' (expected adam or sgd)"), name);
      return FALSE;
    }
  return TRUE;
}

const char *
mir_optimizer_kind_to_string (MirOptimizerKind kind)
{
  return kind == MIR_OPTIMIZER_ADAM ? "adam" : "sgd";
}

MirOptimizer *
mir_optimizer_new (const MirOptimizerOptions *options, GError **error)
{
  MirOptimizer *self;
  const MirOptimizerOptions *o = options;

  if (!(o->learning_rate > 0 && isfinite (o->learning_rate)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The learning rate must be a positive number, not %g"), o->learning_rate);
      return NULL;
    }
  if (o->kind == MIR_OPTIMIZER_SGD && !(o->momentum >= 0 && o->momentum < 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The momentum must be at least 0 and below 1, not %g"), o->momentum);
      return NULL;
    }
  if (o->kind == MIR_OPTIMIZER_ADAM &&
      !(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->epsilon > 0))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Adam needs beta1 and beta2 in [0, 1) and a positive epsilon "
                     "(got %g, %g, %g)"), o->beta1, o->beta2, o->epsilon);
      return NULL;
    }
  self = g_new0 (MirOptimizer, 1);
  self->options = *options;
  self->slots = g_hash_table_new_full (NULL, NULL, NULL, slot_free);
  return self;
}

void
mir_optimizer_free (MirOptimizer *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->slots);
  g_free (self);
}

const MirOptimizerOptions *
mir_optimizer_get_options (MirOptimizer *self)
{
  return &self->options;
}

void
mir_optimizer_set_learning_rate (MirOptimizer *self, double learning_rate)
{
  g_return_if_fail (learning_rate > 0 && isfinite (learning_rate));
  self->options.learning_rate = learning_rate;
}

void
mir_optimizer_begin_step (MirOptimizer *self)
{
  self->iterations++;
}

guint64
mir_optimizer_get_iterations (MirOptimizer *self)
{
  return self->iterations;
}

static Slot *
get_slot (MirOptimizer *self, MirTensor *weight, gboolean two, GError **error)
{
  Slot *s = g_hash_table_lookup (self->slots, weight);

  if (s != NULL)
    return s;
  s = g_new0 (Slot, 1);
  s->weight = mir_tensor_ref (weight);
  s->a = mir_tensor_new_like (weight, error);
  if (s->a != NULL && two)
    s->b = mir_tensor_new_like (weight, error);
  if (s->a == NULL || (two && s->b == NULL))
    {
      slot_free (s);
      return NULL;
    }
  g_hash_table_insert (self->slots, weight, s);
  return s;
}

static gboolean
update_values (MirOptimizer *self, MirTensor *weight, const MirTensor *grad, GError **error)
{
  const MirOptimizerOptions *o = &self->options;
  const gsize n = weight->numel;
  float *w = weight->data;
  const float *g = grad->data;
  Slot *s;

  g_return_val_if_fail (mir_tensor_is_contiguous (weight) && mir_tensor_is_contiguous (grad),
                        FALSE);
  if (!mir_tensor_same_shape (weight, grad))
    {
      g_autofree char *a = mir_tensor_shape_string (weight);
      g_autofree char *b = mir_tensor_shape_string (grad);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("A weight of shape %s got a gradient of shape %s"), a, b);
      return FALSE;
    }

  if (o->kind == MIR_OPTIMIZER_SGD)
    {
      const float lr = (float) o->learning_rate, mu = (float) o->momentum;
      float *v;

      if (o->momentum == 0)
        {
          for (gsize i = 0; i < n; i++)
            w[i] -= lr * g[i];
          return TRUE;
        }
      if (!(s = get_slot (self, weight, FALSE, error)))
        return FALSE;
      v = s->a->data;
      for (gsize i = 0; i < n; i++)
        {
          v[i] = mu * v[i] - lr * g[i];
          w[i] += o->nesterov ? mu * v[i] - lr * g[i] : v[i];
        }
      return TRUE;
    }
  else
    {
      double t = (double) MAX (self->iterations, 1);
      float alpha = (float) (o->learning_rate * sqrt (1 - pow (o->beta2, t)) /
                             (1 - pow (o->beta1, t)));
      const float b1 = (float) (1 - o->beta1), b2 = (float) (1 - o->beta2);
      const float eps = (float) o->epsilon;
      float *m, *v;

      if (!(s = get_slot (self, weight, TRUE, error)))
        return FALSE;
      m = s->a->data;
      v = s->b->data;
      for (gsize i = 0; i < n; i++)
        {
          m[i] += (g[i] - m[i]) * b1;
          v[i] += (g[i] * g[i] - v[i]) * b2;
          w[i] -= m[i] * alpha / (sqrtf (v[i]) + eps);
        }
      return TRUE;
    }
}

gboolean
mir_optimizer_update (MirOptimizer *self, MirTensor *weight, const MirTensor *grad,
                      GError **error)
{
  if (!update_values (self, weight, grad, error))
    return FALSE;
  mir_tensor_changed (weight); /* caches of transformed weights follow (mir-tensor.h) */
  return TRUE;
}
