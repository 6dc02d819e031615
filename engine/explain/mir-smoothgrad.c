/* SmoothGrad (Smilkov et al. 2017): the input gradient of the class score
 * averaged over N copies of the input with Gaussian noise of σ = noise ·
 * (max − min of the input) (defaults N = 25, noise = 0.15); the map is the
 * largest absolute value over channels of the mean gradient, / max.  The
 * noisy copies run through the engine (forward + backward) in batches; the
 * noise comes from a seeded GRand, so the map is reproducible. */
#define G_LOG_DOMAIN "mir-smoothgrad"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

/* Keeps the backward's memory bounded: all layer outputs are kept. */
#define SMOOTHGRAD_BATCH 8

MirExplanation *
mir_explain_smoothgrad (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                        GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autoptr(GRand) rng = NULL;
  g_autoptr(MirTensor) mean_grad = NULL;
  gint in_node = (gint) mir_model_get_input (model, 0);
  guint out_node = mir_model_get_output (model, 0);
  gint n_samples;
  double sigma, lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE;
  gsize per;

  if (options == NULL)
    options = &defaults;
  n_samples = options->samples > 0 ? options->samples : 25;
  trace = mir_explain_forward (model, input, options, "smoothgrad", in_node, FALSE, &e,
                               cancellable, error);
  if (trace == NULL)
    return NULL;
  g_clear_pointer (&trace, mir_trace_free);
  for (gsize i = 0; i < input->numel; i++)
    {
      lo = MIN (lo, input->data[i]);
      hi = MAX (hi, input->data[i]);
    }
  sigma = (options->noise > 0 ? options->noise : 0.15) * (hi - lo);
  rng = g_rand_new_with_seed (options->seed ? options->seed : 1);
  per = input->numel;
  if ((mean_grad = mir_tensor_new_like (input, error)) == NULL)
    return NULL;

  for (gint start = 0; start < n_samples; start += SMOOTHGRAD_BATCH)
    {
      gint count = MIN (SMOOTHGRAD_BATCH, n_samples - start);
      g_autoptr(MirTensor) batch = mir_tensor_new_4d (count, input->shape[1], input->shape[2],
                                                      input->shape[3], error);
      g_autoptr(MirTensor) seed = NULL;
      g_autoptr(MirTrace) t = NULL;
      MirTensor *out, *g;
      gint64 k;

      if (batch == NULL)
        return NULL;
      for (gint b = 0; b < count; b++)
        for (gsize i = 0; i < per; i++)
          {
            /* Box–Muller */
            double u1 = g_rand_double (rng), u2 = g_rand_double (rng);
            double z = sqrt (-2.0 * log (1.0 - u1)) * cos (2 * G_PI * u2);
            batch->data[(gsize) b * per + i] = input->data[i] + (float) (sigma * z);
          }
      t = mir_model_run (model, &batch, 1, MIR_RUN_FOR_BACKWARD | MIR_RUN_LOGITS, -1, 0,
                         cancellable, error);
      if (t == NULL)
        return NULL;
      out = mir_trace_get (t, out_node);
      k = out->shape[out->ndim - 1];
      if ((seed = mir_tensor_new_like (out, error)) == NULL)
        return NULL;
      for (gint b = 0; b < count; b++)
        seed->data[b * k + e->class_index] = e->complement ? -1.0f : 1.0f;
      if (!mir_trace_backward (t, out_node, seed, in_node, MIR_BACKWARD_DEFAULT, cancellable,
                               error))
        return NULL;
      g = mir_trace_get_grad (t, (guint) in_node);
      if (g == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("The score does not depend on the input"));
          return NULL;
        }
      for (gint b = 0; b < count; b++)
        for (gsize i = 0; i < per; i++)
          mean_grad->data[i] += g->data[(gsize) b * per + i] / (float) n_samples;
      if (options->progress)
        options->progress ((guint) (start + count), (guint) n_samples, options->progress_data);
    }
  mir_explain_abs_max_channels (mean_grad, 0, e->raw);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
