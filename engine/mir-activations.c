#define G_LOG_DOMAIN "mir-activations"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-activations.h"
#include "mir-act-vec.h"
#include "mir-error.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

static const char *const act_names[MIR_ACT_N] = {
  [MIR_ACT_LINEAR] = "linear",
  [MIR_ACT_RELU] = "relu",
  [MIR_ACT_RELU6] = "relu6",
  [MIR_ACT_SIGMOID] = "sigmoid",
  [MIR_ACT_HARD_SIGMOID] = "hard_sigmoid",
  [MIR_ACT_SOFTMAX] = "softmax",
  [MIR_ACT_TANH] = "tanh",
  [MIR_ACT_ELU] = "elu",
  [MIR_ACT_SELU] = "selu",
  [MIR_ACT_SWISH] = "swish",
  [MIR_ACT_GELU] = "gelu",
  [MIR_ACT_SOFTPLUS] = "softplus",
  [MIR_ACT_SOFTSIGN] = "softsign",
  [MIR_ACT_EXPONENTIAL] = "exponential",
  [MIR_ACT_HARD_SWISH] = "hard_swish",
  /* not a Keras name: Keras 3 calls it "hard_sigmoid" (the loaders map it by version) */
  [MIR_ACT_HARD_SIGMOID_K3] = "hard_sigmoid_keras3",
};

G_STATIC_ASSERT (G_N_ELEMENTS (act_names) == MIR_ACT_N);

gboolean
mir_activation_from_name (const char *name, const char *layer_name, MirActivation *out,
                          GError **error)
{
  if (name == NULL || name[0] == '\0')
    {
      *out = MIR_ACT_LINEAR;
      return TRUE;
    }
  for (int i = 0; i < MIR_ACT_N; i++)
    if (g_strcmp0 (name, act_names[i]) == 0)
      {
        *out = (MirActivation) i;
        return TRUE;
      }
  if (g_strcmp0 (name, "silu") == 0)
    {
      *out = MIR_ACT_SWISH;
      return TRUE;
    }
  if (g_strcmp0 (name, "hard_silu") == 0)
    {
      *out = MIR_ACT_HARD_SWISH;
      return TRUE;
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
               _("Layer '%s' uses the activation '%s', which Mirada does not support"),
               layer_name ? layer_name : "?", name);
  return FALSE;
}

const char *
mir_activation_get_name (MirActivation act)
{
  g_return_val_if_fail (act < MIR_ACT_N, "linear");
  return act_names[act];
}

gboolean
mir_activation_backward_needs_input (MirActivation act)
{
  switch (act)
    {
    case MIR_ACT_SWISH:
    case MIR_ACT_GELU:
    case MIR_ACT_SOFTPLUS:
    case MIR_ACT_SOFTSIGN:
    case MIR_ACT_ELU:
    case MIR_ACT_SELU:
    case MIR_ACT_HARD_SIGMOID:
    case MIR_ACT_HARD_SWISH:
    case MIR_ACT_HARD_SIGMOID_K3:
      return TRUE;
    case MIR_ACT_LINEAR:
    case MIR_ACT_RELU:
    case MIR_ACT_RELU6:
    case MIR_ACT_SIGMOID:
    case MIR_ACT_SOFTMAX:
    case MIR_ACT_TANH:
    case MIR_ACT_EXPONENTIAL:
    case MIR_ACT_N:
    default:
      return FALSE;
    }
}

static inline float
sigmoidf (float x)
{
  if (x >= 0)
    return 1.0f / (1.0f + expf (-x));
  else
    {
      float e = expf (x);
      return e / (1.0f + e);
    }
}

static inline float
softplusf (float x)
{
  /* log(1 + e^x), stable for large |x| */
  return x > 0 ? x + log1pf (expf (-x)) : log1pf (expf (x));
}

static void
softmax_rows (const float *x, float *y, gsize n, gsize row)
{
  if (row == 0)
    return;
  for (gsize r = 0; r + row <= n; r += row)
    {
      float m = x[r];
      double sum = 0;

      for (gsize i = 1; i < row; i++)
        m = MAX (m, x[r + i]);
      for (gsize i = 0; i < row; i++)
        {
          y[r + i] = expf (x[r + i] - m);
          sum += y[r + i];
        }
      for (gsize i = 0; i < row; i++)
        y[r + i] = (float) (y[r + i] / sum);
    }
}

void
mir_activation_forward (MirActivation act, const float *x, float *y, gsize n, gsize row)
{
  gsize i;

  switch (act)
    {
    case MIR_ACT_LINEAR:
      if (x != y)
        memmove (y, x, n * sizeof (float));
      break;
    case MIR_ACT_RELU:
    case MIR_ACT_RELU6:
    case MIR_ACT_SIGMOID:
    case MIR_ACT_SWISH:
      mir_act_vec_forward_parallel (act, x, y, n);
      break;
    case MIR_ACT_HARD_SIGMOID:
      for (i = 0; i < n; i++)
        y[i] = CLAMP (0.2f * x[i] + 0.5f, 0.0f, 1.0f);
      break;
    case MIR_ACT_HARD_SIGMOID_K3:
      for (i = 0; i < n; i++)
        y[i] = CLAMP (x[i] / 6.0f + 0.5f, 0.0f, 1.0f);
      break;
    case MIR_ACT_HARD_SWISH:
      for (i = 0; i < n; i++)
        y[i] = x[i] * CLAMP (x[i] / 6.0f + 0.5f, 0.0f, 1.0f);
      break;
    case MIR_ACT_SOFTMAX:
      softmax_rows (x, y, n, row);
      break;
    case MIR_ACT_TANH:
      for (i = 0; i < n; i++)
        y[i] = tanhf (x[i]);
      break;
    case MIR_ACT_ELU:
      for (i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : expm1f (x[i]);
      break;
    case MIR_ACT_SELU:
      for (i = 0; i < n; i++)
        y[i] = (float) (SELU_SCALE * (x[i] > 0 ? x[i] : SELU_ALPHA * expm1f (x[i])));
      break;
    case MIR_ACT_GELU:
      for (i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff (x[i] * (float) M_SQRT1_2));
      break;
    case MIR_ACT_SOFTPLUS:
      for (i = 0; i < n; i++)
        y[i] = softplusf (x[i]);
      break;
    case MIR_ACT_SOFTSIGN:
      for (i = 0; i < n; i++)
        y[i] = x[i] / (1.0f + fabsf (x[i]));
      break;
    case MIR_ACT_EXPONENTIAL:
      for (i = 0; i < n; i++)
        y[i] = expf (x[i]);
      break;
    case MIR_ACT_N:
    default:
      g_return_if_reached ();
    }
}

void
mir_activation_backward (MirActivation act, const float *x, const float *y, const float *dy,
                         float *dx, gsize n, gsize row)
{
  gsize i;

  switch (act)
    {
    case MIR_ACT_LINEAR:
      if (dx != dy)
        memmove (dx, dy, n * sizeof (float));
      break;
    case MIR_ACT_RELU:
    case MIR_ACT_RELU6:
      mir_act_vec_relu_backward (act == MIR_ACT_RELU6, y, dy, dx, n);
      break;
    case MIR_ACT_SIGMOID:
      for (i = 0; i < n; i++)
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case MIR_ACT_HARD_SIGMOID:
      for (i = 0; i < n; i++)
        {
          float t = 0.2f * x[i] + 0.5f;
          dx[i] = (t > 0 && t < 1) ? 0.2f * dy[i] : 0;
        }
      break;
    case MIR_ACT_HARD_SIGMOID_K3:
      for (i = 0; i < n; i++)
        dx[i] = (x[i] > -3.0f && x[i] < 3.0f) ? dy[i] / 6.0f : 0;
      break;
    case MIR_ACT_HARD_SWISH:
      /* d/dx x h(x) = h(x) + x h'(x), h' = 1/6 inside (-3, 3) */
      for (i = 0; i < n; i++)
        dx[i] = x[i] <= -3.0f ? 0 : x[i] >= 3.0f ? dy[i] : dy[i] * (x[i] / 3.0f + 0.5f);
      break;
    case MIR_ACT_SOFTMAX:
      if (row == 0)
        break;
      for (gsize r = 0; r + row <= n; r += row)
        {
          double dot = 0;
          for (i = 0; i < row; i++)
            dot += (double) dy[r + i] * y[r + i];
          for (i = 0; i < row; i++)
            dx[r + i] = (float) (y[r + i] * (dy[r + i] - dot));
        }
      break;
    case MIR_ACT_TANH:
      for (i = 0; i < n; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
    case MIR_ACT_ELU:
      for (i = 0; i < n; i++)
        dx[i] = x[i] > 0 ? dy[i] : dy[i] * expf (x[i]);
      break;
    case MIR_ACT_SELU:
      for (i = 0; i < n; i++)
        dx[i] = (float) (x[i] > 0 ? SELU_SCALE * dy[i] : SELU_SCALE * SELU_ALPHA * expf (x[i]) * dy[i]);
      break;
    case MIR_ACT_SWISH:
      for (i = 0; i < n; i++)
        {
          float s = sigmoidf (x[i]);
          dx[i] = dy[i] * (s + x[i] * s * (1.0f - s));
        }
      break;
    case MIR_ACT_GELU:
      for (i = 0; i < n; i++)
        {
          float cdf = 0.5f * (1.0f + erff (x[i] * (float) M_SQRT1_2));
          float pdf = expf (-0.5f * x[i] * x[i]) * 0.3989422804014327f;
          dx[i] = dy[i] * (cdf + x[i] * pdf);
        }
      break;
    case MIR_ACT_SOFTPLUS:
      for (i = 0; i < n; i++)
        dx[i] = dy[i] * sigmoidf (x[i]);
      break;
    case MIR_ACT_SOFTSIGN:
      for (i = 0; i < n; i++)
        {
          float d = 1.0f + fabsf (x[i]);
          dx[i] = dy[i] / (d * d);
        }
      break;
    case MIR_ACT_EXPONENTIAL:
      for (i = 0; i < n; i++)
        dx[i] = dy[i] * y[i];
      break;
    case MIR_ACT_N:
    default:
      g_return_if_reached ();
    }
}

void
mir_activation_guide (MirActivation act, const float *dy, float *dx, gsize n)
{
  if (act != MIR_ACT_RELU && act != MIR_ACT_RELU6)
    return;
  for (gsize i = 0; i < n; i++)
    if (dy[i] < 0)
      dx[i] = 0;
}
