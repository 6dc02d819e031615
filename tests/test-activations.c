/* Unit test for engine/mir-activations.c: every activation's forward against
 * float64 definitions, and its backward against central differences (of the
 * float64 definition, and of the engine's own forward), in place too. */
#include <math.h>
#include <string.h>
#include "mir-test-util.h"
#include "mir-test-activation-ref.h"

#define N 240
#define ROW 6

/* Forward: 1e-5 absolute + 1e-4 relative (float32 against float64). */
#define FWD_ABS 1e-5
#define FWD_REL 1e-4

static void
fill_inputs (MirActivation act, float *x, GRand *rng)
{
  /* RELU6 needs values around 6 too; the others [-4, 4].  Exponential up to 4
   * keeps values moderate.  0.05 away from kinks (the FD steps are smaller). */
  double lo = act == MIR_ACT_RELU6 ? -2 : -4, hi = act == MIR_ACT_RELU6 ? 8 : 4;
  for (gsize i = 0; i < N; i++)
    x[i] = ref_random_smooth (rng, lo, hi, 0.05);
}

static void
test_forward (gconstpointer data)
{
  MirActivation act = GPOINTER_TO_INT (data);
  g_autoptr(GRand) rng = g_rand_new_with_seed (1 + act);
  float x[N], y[N], yin[N];
  double xd[N], yd[N];

  fill_inputs (act, x, rng);
  /* a few large magnitudes for the stable branches (not for exponential) */
  if (act != MIR_ACT_EXPONENTIAL)
    {
      x[0] = -30;
      x[1] = 30;
    }
  for (gsize i = 0; i < N; i++)
    xd[i] = x[i];
  mir_activation_forward (act, x, y, N, ROW);
  ref_activation_rows (act, xd, yd, N, ROW);
  for (gsize i = 0; i < N; i++)
    {
      g_assert_true (isfinite (y[i]));
      ref_assert_close (y[i], yd[i], FWD_ABS, FWD_REL, mir_activation_get_name (act), i);
    }
  if (act == MIR_ACT_SOFTMAX)
    for (gsize r = 0; r < N; r += ROW)
      {
        double s = 0;
        for (gsize i = 0; i < ROW; i++)
          s += y[r + i];
        g_assert_cmpfloat_with_epsilon (s, 1.0, 1e-5);
      }
  /* x and y may alias */
  memcpy (yin, x, sizeof x);
  mir_activation_forward (act, yin, yin, N, ROW);
  g_assert_cmpmem (yin, sizeof yin, y, sizeof y);
}

/* L(x) = sum_i dy_i * act(x)_i, in float64 from the reference. */
static double
ref_loss (MirActivation act, const double *x, const float *dy)
{
  double y[N], s = 0;

  ref_activation_rows (act, x, y, N, ROW);
  for (gsize i = 0; i < N; i++)
    s += y[i] * dy[i];
  return s;
}

/* The same loss from the engine's forward (float32). */
static double
engine_loss (MirActivation act, const float *x, const float *dy)
{
  float y[N];
  double s = 0;

  mir_activation_forward (act, x, y, N, ROW);
  for (gsize i = 0; i < N; i++)
    s += (double) y[i] * dy[i];
  return s;
}

static void
test_backward (gconstpointer data)
{
  MirActivation act = GPOINTER_TO_INT (data);
  g_autoptr(GRand) rng = g_rand_new_with_seed (100 + act);
  float x[N], y[N], dy[N], dx[N], dx2[N];
  double xd[N];
  double diff2 = 0, num2 = 0, ana2 = 0;

  fill_inputs (act, x, rng);
  for (gsize i = 0; i < N; i++)
    {
      xd[i] = x[i];
      dy[i] = (float) g_rand_double_range (rng, -1, 1);
    }
  mir_activation_forward (act, x, y, N, ROW);
  mir_activation_backward (act, mir_activation_backward_needs_input (act) ? x : NULL, y, dy, dx,
                           N, ROW);

  /* 1. Against the float64 definition, h = 1e-6: truncation ~h^2 and
   * rounding ~1e-16/h are both far below the 1e-4 relative bound, so the
   * bound measures float32 rounding in backward only. */
  for (gsize i = 0; i < N; i++)
    {
      double h = 1e-6, saved = xd[i], lp, lm, num;
      xd[i] = saved + h;
      lp = ref_loss (act, xd, dy);
      xd[i] = saved - h;
      lm = ref_loss (act, xd, dy);
      xd[i] = saved;
      num = (lp - lm) / (2 * h);
      ref_assert_close (dx[i], num, 1e-5, 1e-4, mir_activation_get_name (act), i);
    }

  /* 2. Against the engine's float32 forward, eps = 1e-2 (inputs stay 0.05
   * from kinks): relative error norm <= 1e-3 covers truncation eps^2 f'''/6
   * and float32 rounding ~6e-8 |L| / eps. */
  for (gsize i = 0; i < N; i++)
    {
      float saved = x[i];
      double lp, lm, num;
      x[i] = saved + 1e-2f;
      lp = engine_loss (act, x, dy);
      x[i] = saved - 1e-2f;
      lm = engine_loss (act, x, dy);
      x[i] = saved;
      num = (lp - lm) / ((double) (saved + 1e-2f) - (double) (saved - 1e-2f));
      diff2 += (num - dx[i]) * (num - dx[i]);
      num2 += num * num;
      ana2 += (double) dx[i] * dx[i];
    }
  g_assert_cmpfloat (sqrt (diff2) / (sqrt (num2) + sqrt (ana2) + 1e-12), <=, 1e-3);

  /* dx may alias dy */
  memcpy (dx2, dy, sizeof dy);
  mir_activation_backward (act, mir_activation_backward_needs_input (act) ? x : NULL, y, dx2,
                           dx2, N, ROW);
  g_assert_cmpmem (dx2, sizeof dx2, dx, sizeof dx);
}

static void
test_names (void)
{
  for (int a = 0; a < MIR_ACT_N; a++)
    {
      MirActivation got;
      GError *error = NULL;
      g_assert_true (mir_activation_from_name (mir_activation_get_name (a), "l", &got, &error));
      g_assert_no_error (error);
      g_assert_cmpint (got, ==, a);
    }
  {
    MirActivation got;
    GError *error = NULL;
    g_assert_true (mir_activation_from_name ("silu", "l", &got, NULL));
    g_assert_cmpint (got, ==, MIR_ACT_SWISH);
    g_assert_false (mir_activation_from_name ("no_such_act", "my_dense", &got, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
    g_assert_nonnull (strstr (error->message, "my_dense"));
    g_clear_error (&error);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/activations/names", test_names);
  for (int a = 0; a < MIR_ACT_N; a++)
    {
      g_autofree char *f = g_strdup_printf ("/activations/forward/%s", mir_activation_get_name (a));
      g_autofree char *b = g_strdup_printf ("/activations/backward/%s", mir_activation_get_name (a));
      g_test_add_data_func (f, GINT_TO_POINTER (a), test_forward);
      g_test_add_data_func (b, GINT_TO_POINTER (a), test_backward);
    }
  return g_test_run ();
}
