/* Float64 references for the activations, from their mathematical
 * definitions (Keras 2 documentation), independent of mir-activations.c.
 * Shared by test-activations.c and test-layers-elementwise.c. */
#pragma once

#include <math.h>
#include "mir.h"

/* SELU constants from Klambauer et al. 2017, as Keras uses them. */
#define REF_SELU_ALPHA 1.6732632423543772848170429916717
#define REF_SELU_SCALE 1.0507009873554804934193349852946

/* Elementwise activations; softmax is handled by ref_activation_rows(). */
static inline double
ref_activation (MirActivation act, double x)
{
  switch (act)
    {
    case MIR_ACT_LINEAR: return x;
    case MIR_ACT_RELU: return x > 0 ? x : 0;
    case MIR_ACT_RELU6: return fmin (fmax (x, 0), 6);
    case MIR_ACT_SIGMOID: return 1 / (1 + exp (-x));
    case MIR_ACT_HARD_SIGMOID: return fmin (fmax (0.2 * x + 0.5, 0), 1);
    case MIR_ACT_TANH: return tanh (x);
    case MIR_ACT_ELU: return x > 0 ? x : exp (x) - 1;
    case MIR_ACT_SELU: return REF_SELU_SCALE * (x > 0 ? x : REF_SELU_ALPHA * (exp (x) - 1));
    case MIR_ACT_SWISH: return x / (1 + exp (-x));
    case MIR_ACT_GELU: return 0.5 * x * (1 + erf (x / sqrt (2.0)));
    case MIR_ACT_SOFTPLUS: return log (1 + exp (x));
    case MIR_ACT_SOFTSIGN: return x / (1 + fabs (x));
    case MIR_ACT_EXPONENTIAL: return exp (x);
    /* Keras 3 (keras/src/activations/activations.py): relu6(x + 3) / 6, x of that */
    case MIR_ACT_HARD_SIGMOID_K3: return fmin (fmax (x + 3, 0), 6) / 6;
    case MIR_ACT_HARD_SWISH: return x * fmin (fmax (x + 3, 0), 6) / 6;
    case MIR_ACT_SOFTMAX:
    case MIR_ACT_N:
    default:
      g_assert_not_reached ();
    }
}

/* y = act(x) over n values in rows of @row (softmax: exp(x_i) / sum exp(x_j)). */
static inline void
ref_activation_rows (MirActivation act, const double *x, double *y, gsize n, gsize row)
{
  if (act != MIR_ACT_SOFTMAX)
    {
      for (gsize i = 0; i < n; i++)
        y[i] = ref_activation (act, x[i]);
      return;
    }
  for (gsize r = 0; r < n; r += row)
    {
      double s = 0;
      for (gsize i = 0; i < row; i++)
        s += exp (x[r + i]);
      for (gsize i = 0; i < row; i++)
        y[r + i] = exp (x[r + i]) / s;
    }
}

/* Kinks (points where the derivative jumps) to keep test inputs away from. */
static const double ref_kinks[] = { 0.0, 6.0, -2.5, 2.5, -3.0, 3.0 };

/* Uniform in [lo, hi) but at least @margin away from every ref_kinks value. */
static inline float
ref_random_smooth (GRand *rng, double lo, double hi, double margin)
{
  for (;;)
    {
      double v = g_rand_double_range (rng, lo, hi);
      gboolean ok = TRUE;
      for (gsize k = 0; k < G_N_ELEMENTS (ref_kinks); k++)
        if (fabs (v - ref_kinks[k]) < margin)
          ok = FALSE;
      if (ok)
        return (float) v;
    }
}

/* |a - r| <= abs_tol + rel_tol * |r| */
#define ref_assert_close(a, r, abs_tol, rel_tol, what, idx)                         \
  G_STMT_START {                                                                   \
    double _a = (a), _r = (r);                                                     \
    if (!(fabs (_a - _r) <= (abs_tol) + (rel_tol) * fabs (_r)))                    \
      {                                                                            \
        g_test_message ("%s[%" G_GSIZE_FORMAT "]: got %.9g, expected %.9g",       \
                        (what), (gsize) (idx), _a, _r);                            \
        g_assert_cmpfloat_with_epsilon (_a, _r, (abs_tol) + (rel_tol) * fabs (_r)); \
      }                                                                            \
  } G_STMT_END
