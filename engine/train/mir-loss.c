#define G_LOG_DOMAIN "mir-loss"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-loss.h"

MirLossKind
mir_loss_kind_for_model (MirModel *model)
{
  return mir_model_get_head_kind (model) == MIR_HEAD_SIGMOID
           ? MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY
           : MIR_LOSS_SOFTMAX_CROSS_ENTROPY;
}

/* log(1 + exp(x)) without overflow. */
static double
softplus (double x)
{
  return x > 0 ? x + log1p (exp (-x)) : log1p (exp (x));
}

gboolean
mir_loss_compute (MirLossKind kind, const MirTensor *logits, const gint32 *labels,
                  MirTensor *grad, MirLossResult *result, GError **error)
{
  gsize K, N;
  double total = 0;
  guint correct = 0;

  g_return_val_if_fail (logits->ndim >= 1 && mir_tensor_is_contiguous (logits), FALSE);
  g_return_val_if_fail (grad == NULL || mir_tensor_same_shape (grad, logits), FALSE);

  K = (gsize) logits->shape[logits->ndim - 1];
  N = K ? logits->numel / K : 0;
  if (K == 0 || N == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE, _("The model's output is empty"));
      return FALSE;
    }
  if (kind == MIR_LOSS_SOFTMAX_CROSS_ENTROPY && K < 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Softmax cross-entropy needs at least 2 outputs per sample, the model has %zu"),
                   K);
      return FALSE;
    }

  for (gsize n = 0; n < N; n++)
    {
      const float *z = logits->data + n * K;
      float *g = grad ? grad->data + n * K : NULL;
      gint32 y = labels[n];

      if (y < 0 || (K > 1 && (gsize) y >= K) || (K == 1 && y > 1))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Label %d is out of range for a model with %zu"
                         " outputs"), y, K);
          return FALSE;
        }

      if (kind == MIR_LOSS_SOFTMAX_CROSS_ENTROPY)
        {
          double mx = z[0], sum = 0, lse;
          gsize arg = 0;

          for (gsize k = 1; k < K; k++)
            if (z[k] > mx)
              {
                mx = z[k];
                arg = k;
              }
          for (gsize k = 0; k < K; k++)
            sum += exp ((double) z[k] - mx);
          lse = mx + log (sum);
          total += lse - z[y];
          correct += arg == (gsize) y;
          if (g)
            for (gsize k = 0; k < K; k++)
              {
                double p = exp ((double) z[k] - lse);
                g[k] = (float) ((p - (k == (gsize) y)) / (double) N);
              }
        }
      else
        {
          gboolean all_right = TRUE;
          double s = 0;

          for (gsize k = 0; k < K; k++)
            {
              double t = K == 1 ? (double) y : (double) ((gsize) y == k);
              double x = z[k];
              /* -t log σ(x) - (1-t) log(1-σ(x)) = softplus(x) - t x */
              s += softplus (x) - t * x;
              all_right = all_right && ((x > 0) == (t > 0.5));
              if (g)
                {
                  double sig = x >= 0 ? 1.0 / (1.0 + exp (-x)) : exp (x) / (1.0 + exp (x));
                  g[k] = (float) ((sig - t) / ((double) N * (double) K));
                }
            }
          total += s / (double) K;
          correct += all_right;
        }
    }
  result->loss = total;
  result->n_correct = correct;
  return TRUE;
}
