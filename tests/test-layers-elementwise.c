/* Elementwise, merge, shape, regulariser and preprocessing layers:
 * gradient checks, forward values against float64 references computed here
 * from the definitions, dropout statistics, and error cases. */
#include <math.h>
#include <string.h>
#include "mir-test-util.h"
#include "mir-test-activation-ref.h"

/* Gradient checks: central differences with eps = 1e-2 on float32 models;
 * inputs are kept >= 0.05 from kinks and ties so each difference sees a
 * smooth function.  Bound on ||analytic - numeric|| / (||a|| + ||n||):
 * 1e-4 (STYLE.md), above truncation (eps^2 f'''/6 ~ 2e-5 f''') and float32
 * rounding of the loss (~6e-8 |L| / eps); the worst case seen is ~3e-5
 * (softsign).  The worst one is printed at the end.
 */
#define GRAD_TOL 1e-4

/* Forward values: float32 results against float64 references. */
#define FWD_ABS 1e-5
#define FWD_REL 1e-4

#define MARGIN 0.05

static double worst_rel_error;
/* FD step for gradcheck(); 0 = the default 1e-2 */
static double grad_eps;
static guint n_gradchecks;

static MirShape
shape4 (gint64 h, gint64 w, gint64 c)
{
  MirShape s = { 4, { -1, h, w, c } };
  return s;
}

static MirShape
shape2 (gint64 c)
{
  MirShape s = { 2, { -1, c } };
  return s;
}

static MirModel *
layer_model (const char *cls, const char *cfg, guint n_in, const MirShape *shapes)
{
  GError *error = NULL;
  MirModel *m = mir_test_layer_model (cls, cfg, n_in, shapes, 7, &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

/* A batch-2 tensor of @s with values uniform in [lo, hi), away from kinks. */
static MirTensor *
smooth_input (const MirShape *s, double lo, double hi, GRand *rng)
{
  gint64 shape[MIR_MAX_DIMS];
  MirTensor *t;

  memcpy (shape, s->dim, sizeof shape);
  shape[0] = 2;
  t = mir_tensor_new (s->ndim, shape, NULL);
  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = ref_random_smooth (rng, lo, hi, MARGIN);
  return t;
}

static MirTensor *
run (MirModel *model, MirTensor **in, guint n_in, MirRunFlags flags, guint64 seed)
{
  GError *error = NULL;
  MirTrace *trace = mir_model_run (model, in, n_in, flags, -1, seed, NULL, &error);
  MirTensor *out;

  g_assert_no_error (error);
  out = mir_tensor_ref (mir_trace_get_output (trace, 0));
  mir_trace_free (trace);
  return out;
}

static void
free_inputs (MirTensor **in, guint n)
{
  for (guint k = 0; k < n; k++)
    mir_tensor_unref (in[k]);
}

/* Gradient check of one layer on inputs @in. */
static void
gradcheck (const char *cls, const char *cfg, guint n_in, const MirShape *shapes, MirTensor **in,
           MirRunFlags flags)
{
  g_autoptr(MirModel) model = layer_model (cls, cfg, n_in, shapes);
  MirGradcheckOptions o = { .flags = flags, .run_seed = 4242, .max_checks = 128,
                           .eps = grad_eps };

  MirGradcheckResult r = { 0 };

  /* once for the log (worst error seen overall), once for the assertion */
  g_assert_true (mir_test_gradcheck (model, in, n_in, &o, &r, NULL));
  g_test_message ("gradcheck %s %s: rel error %.3g over %u elements", cls, cfg ? cfg : "",
                  r.rel_error, r.n_checked);
  worst_rel_error = MAX (worst_rel_error, r.rel_error);
  n_gradchecks++;
  mir_gradcheck_result_clear (&r);
  mir_assert_gradcheck (model, in, n_in, &o, GRAD_TOL);
}

/* Gradient check on smooth random inputs in [lo, hi). */
static void
gradcheck_random (const char *cls, const char *cfg, guint n_in, const MirShape *shapes,
                  double lo, double hi, MirRunFlags flags)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (99);
  MirTensor *in[4];

  for (guint k = 0; k < n_in; k++)
    in[k] = smooth_input (&shapes[k], lo, hi, rng);
  gradcheck (cls, cfg, n_in, shapes, in, flags);
  free_inputs (in, n_in);
}

/* ------------------------------------------------------------------ */
/* Activation, ReLU, LeakyReLU, Softmax */

static void
test_activation_layer (void)
{
  MirShape s = shape4 (3, 2, 5);

  for (int a = 0; a < MIR_ACT_N; a++)
    {
      g_autofree char *cfg = g_strdup_printf ("{\"activation\": \"%s\"}",
                                              mir_activation_get_name (a));
      g_autoptr(MirModel) model = layer_model ("Activation", cfg, 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (a + 1);
      double lo = a == MIR_ACT_RELU6 ? -2 : -3, hi = a == MIR_ACT_RELU6 ? 8 : 3;
      g_autoptr(MirTensor) x = smooth_input (&s, lo, hi, rng);
      g_autoptr(MirTensor) y = NULL;
      g_autoptr(MirTensor) logits = NULL;
      g_autofree double *xd = g_new (double, x->numel);
      g_autofree double *yd = g_new (double, x->numel);

      g_assert_cmpint (mir_model_get_node (model, 1)->layer->activation, ==, a);
      y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);
      for (gsize i = 0; i < x->numel; i++)
        xd[i] = x->data[i];
      ref_activation_rows (a, xd, yd, x->numel, 5);
      for (gsize i = 0; i < x->numel; i++)
        ref_assert_close (y->data[i], yd[i], FWD_ABS, FWD_REL, cfg, i);
      /* logits: the layer's own activation is skipped */
      logits = run (model, &x, 1, MIR_RUN_LOGITS, 0);
      g_assert_cmpmem (logits->data, x->numel * 4, x->data, x->numel * 4);

      gradcheck_random ("Activation", cfg, 1, &s, lo, hi, MIR_RUN_DEFAULT);
    }
}

static void
test_softmax_values (void)
{
  MirShape s = shape4 (3, 4, 5);
  const char *cfgs[] = { "{}", "{\"axis\": -1}", "{\"axis\": 1}", "{\"axis\": 2}", "{\"axis\": [3]}" };
  const guint axes[] = { 3, 3, 1, 2, 3 };

  for (gsize c = 0; c < G_N_ELEMENTS (cfgs); c++)
    {
      g_autoptr(MirModel) model = layer_model ("Softmax", cfgs[c], 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (5);
      g_autoptr(MirTensor) x = smooth_input (&s, -4, 4, rng);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);
      g_autoptr(MirTensor) logits = run (model, &x, 1, MIR_RUN_LOGITS, 0);
      guint ax = axes[c];
      gsize stride = (gsize) x->stride[ax], len = (gsize) x->shape[ax];

      g_assert_cmpint (mir_model_get_node (model, 1)->layer->activation, ==, MIR_ACT_SOFTMAX);
      for (gsize i = 0; i < x->numel; i++)
        {
          /* the start of i's softmax group along the axis */
          gsize pos = (i / stride) % len;
          gsize base = i - pos * stride;
          double sum = 0, sumy = 0;
          for (gsize j = 0; j < len; j++)
            {
              sum += exp ((double) x->data[base + j * stride]);
              sumy += y->data[base + j * stride];
            }
          ref_assert_close (y->data[i], exp ((double) x->data[i]) / sum, FWD_ABS, FWD_REL,
                            cfgs[c], i);
          g_assert_cmpfloat_with_epsilon (sumy, 1.0, 1e-5);
        }
      g_assert_cmpmem (logits->data, x->numel * 4, x->data, x->numel * 4);
      gradcheck_random ("Softmax", cfgs[c], 1, &s, -3, 3, MIR_RUN_DEFAULT);
    }
}

/* Keras' documented ReLU formula. */
static double
ref_relu (double x, double max_value, double slope, double threshold)
{
  if (x >= max_value)
    return max_value;
  if (x >= threshold)
    return x;
  return slope * (x - threshold);
}

static void
test_relu (void)
{
  static const struct
  {
    const char *cfg;
    double max_value, slope, threshold;
    MirActivation act;
  } cases[] = {
    { "{}", INFINITY, 0, 0, MIR_ACT_RELU },
    { "{\"max_value\": null, \"negative_slope\": 0.0, \"threshold\": 0.0}", INFINITY, 0, 0, MIR_ACT_RELU },
    { "{\"max_value\": 6.0}", 6, 0, 0, MIR_ACT_RELU6 },
    { "{\"max_value\": 4.5}", 4.5, 0, 0, MIR_ACT_LINEAR },
    { "{\"negative_slope\": 0.2}", INFINITY, 0.2, 0, MIR_ACT_LINEAR },
    { "{\"threshold\": 1.0}", INFINITY, 0, 1.0, MIR_ACT_LINEAR },
    { "{\"max_value\": 4.5, \"negative_slope\": 0.1, \"threshold\": 0.5}", 4.5, 0.1, 0.5, MIR_ACT_LINEAR },
  };
  MirShape s = shape4 (4, 4, 3);

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MirModel) model = layer_model ("ReLU", cases[c].cfg, 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (11);
      g_autoptr(MirTensor) x = mir_tensor_new_4d (2, 4, 4, 3, NULL);
      g_autoptr(MirTensor) y = NULL;
      const double kinks[] = { 0, cases[c].threshold, cases[c].max_value };

      g_assert_cmpint (mir_model_get_node (model, 1)->layer->activation, ==, cases[c].act);
      for (gsize i = 0; i < x->numel; i++)
        {
          gboolean ok;
          do
            {
              x->data[i] = (float) g_rand_double_range (rng, -3, 8);
              ok = TRUE;
              for (gsize k = 0; k < G_N_ELEMENTS (kinks); k++)
                ok = ok && fabs (x->data[i] - kinks[k]) >= MARGIN;
            }
          while (!ok);
        }
      y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);
      for (gsize i = 0; i < x->numel; i++)
        ref_assert_close (y->data[i], ref_relu (x->data[i], cases[c].max_value, cases[c].slope,
                                                cases[c].threshold),
                          FWD_ABS, FWD_REL, cases[c].cfg, i);
      gradcheck ("ReLU", cases[c].cfg, 1, &s, &x, MIR_RUN_DEFAULT);
    }
}

static void
test_leaky_relu (void)
{
  static const struct { const char *cfg; double slope; } cases[] = {
    { "{}", 0.3 },
    { "{\"alpha\": 0.1}", 0.1 },
    { "{\"negative_slope\": 0.2}", 0.2 },
  };
  MirShape s = shape2 (50);

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MirModel) model = layer_model ("LeakyReLU", cases[c].cfg, 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (12);
      g_autoptr(MirTensor) x = smooth_input (&s, -3, 3, rng);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);

      for (gsize i = 0; i < x->numel; i++)
        ref_assert_close (y->data[i], x->data[i] >= 0 ? x->data[i] : cases[c].slope * x->data[i],
                          FWD_ABS, FWD_REL, cases[c].cfg, i);
      gradcheck ("LeakyReLU", cases[c].cfg, 1, &s, &x, MIR_RUN_DEFAULT);
    }
}

/* ------------------------------------------------------------------ */
/* Merge layers */

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_AVG, OP_MAX, OP_MIN } Op;
static const char *const op_names[] = { "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" };

/* Index into input @t (rank <= out rank, Keras expansion after the batch
 * axis, size-1 axes broadcast) of the output multi-index @idx. */
static gsize
bcast_index (const MirTensor *t, guint out_ndim, const gint64 *idx)
{
  guint extra = out_ndim - t->ndim;
  gsize off = 0;

  for (guint d = 0; d < t->ndim; d++)
    {
      guint od = d == 0 ? 0 : d + extra;
      gint64 i = t->shape[d] == 1 ? 0 : idx[od];
      off += (gsize) (i * t->stride[d]);
    }
  return off;
}

static void
check_merge (Op op, guint n_in, const MirShape *shapes, gboolean separate, gboolean grad)
{
  g_autoptr(MirModel) model = layer_model (op_names[op], NULL, n_in, shapes);
  g_autoptr(GRand) rng = g_rand_new_with_seed (21 + op);
  g_autoptr(MirTensor) y = NULL;
  MirTensor *in[4];

  for (guint k = 0; k < n_in; k++)
    in[k] = smooth_input (&shapes[k], -2, 2, rng);
  if (separate)
    {
      /* Maximum/Minimum: keep every pair of competing values >= 0.1 apart
       * (no ties, no kinks within the FD step): input k gets the value
       * 0.5 * rank_k + noise, with a random order per output element.  With
       * broadcasting the shared value is fixed, the other input moves. */
      y = run (model, in, n_in, MIR_RUN_DEFAULT, 0);
      for (gsize i = 0; i < y->numel; i++)
        {
          gint64 idx[MIR_MAX_DIMS];
          gsize rest = i;
          guint perm[4] = { 0, 1, 2, 3 };
          for (int d = (int) y->ndim - 1; d >= 0; d--)
            {
              idx[d] = (gint64) (rest % (gsize) y->shape[d]);
              rest /= (gsize) y->shape[d];
            }
          for (guint k = n_in - 1; k > 0; k--)
            {
              guint j = (guint) g_rand_int_range (rng, 0, (gint32) k + 1);
              guint t = perm[k];
              perm[k] = perm[j];
              perm[j] = t;
            }
          for (guint k = 0; k < n_in; k++)
            if (in[k]->numel == y->numel)
              in[k]->data[bcast_index (in[k], y->ndim, idx)] =
                0.5f * (float) perm[k] + (float) g_rand_double_range (rng, -0.1, 0.1);
        }
      /* broadcast inputs keep their value; move the full-size ones away from it */
      for (gsize i = 0; i < y->numel; i++)
        {
          gint64 idx[MIR_MAX_DIMS];
          gsize rest = i;
          for (int d = (int) y->ndim - 1; d >= 0; d--)
            {
              idx[d] = (gint64) (rest % (gsize) y->shape[d]);
              rest /= (gsize) y->shape[d];
            }
          for (guint k = 0; k < n_in; k++)
            for (guint j = 0; j < n_in; j++)
              if (j != k && in[k]->numel == y->numel && in[j]->numel != y->numel)
                {
                  float *a = &in[k]->data[bcast_index (in[k], y->ndim, idx)];
                  float b = in[j]->data[bcast_index (in[j], y->ndim, idx)];
                  if (fabsf (*a - b) < 0.1f)
                    *a = b + (*a >= b ? 0.2f : -0.2f);
                }
        }
      g_clear_pointer (&y, mir_tensor_unref);
    }

  y = run (model, in, n_in, MIR_RUN_DEFAULT, 0);
  for (gsize i = 0; i < y->numel; i++)
    {
      gint64 idx[MIR_MAX_DIMS];
      gsize rest = i;
      double v[4], r;

      for (int d = (int) y->ndim - 1; d >= 0; d--)
        {
          idx[d] = (gint64) (rest % (gsize) y->shape[d]);
          rest /= (gsize) y->shape[d];
        }
      for (guint k = 0; k < n_in; k++)
        v[k] = in[k]->data[bcast_index (in[k], y->ndim, idx)];
      r = v[0];
      for (guint k = 1; k < n_in; k++)
        switch (op)
          {
          case OP_ADD: case OP_AVG: r += v[k]; break;
          case OP_SUB: r -= v[k]; break;
          case OP_MUL: r *= v[k]; break;
          case OP_MAX: r = fmax (r, v[k]); break;
          case OP_MIN: r = fmin (r, v[k]); break;
          default: g_assert_not_reached ();
          }
      if (op == OP_AVG)
        r /= n_in;
      ref_assert_close (y->data[i], r, FWD_ABS, FWD_REL, op_names[op], i);
    }
  if (grad)
    gradcheck (op_names[op], NULL, n_in, shapes, in, MIR_RUN_DEFAULT);
  free_inputs (in, n_in);
}

static void
test_merge (void)
{
  MirShape same[3] = { shape4 (3, 4, 2), shape4 (3, 4, 2), shape4 (3, 4, 2) };
  MirShape se[2] = { shape4 (4, 4, 3), shape4 (1, 1, 3) };   /* squeeze-and-excitation */
  MirShape se_rev[2] = { shape4 (1, 1, 3), shape4 (4, 4, 3) };
  MirShape mixed[2] = { shape4 (3, 1, 2), shape4 (1, 4, 2) }; /* both broadcast */
  MirShape rank[2] = { shape4 (3, 4, 5), shape2 (5) };        /* (N, C) -> (N, 1, 1, C) */
  /* no input broadcasts: the flat path, 13 pieces of 4096 values over the
   * threads, the last one short (forward only: the gradient is the same
   * code as for "same") */
  MirShape big[3] = { shape4 (29, 37, 24), shape4 (29, 37, 24), shape4 (29, 37, 24) };

  for (Op op = OP_ADD; op <= OP_MIN; op++)
    {
      gboolean sep = op == OP_MAX || op == OP_MIN;
      check_merge (op, 2, same, sep, TRUE);
      if (op != OP_SUB)
        check_merge (op, 3, same, sep, TRUE);
      check_merge (op, 2, se, sep, TRUE);
      check_merge (op, 2, se_rev, sep, TRUE);
      check_merge (op, op == OP_SUB ? 2 : 3, big, FALSE, FALSE);
      if (!sep)
        {
          check_merge (op, 2, mixed, FALSE, TRUE);
          check_merge (op, 2, rank, FALSE, TRUE);
        }
    }
}

static void
test_merge_ties (void)
{
  /* Maximum/Minimum send the gradient of a tie to the first input. */
  MirShape s[2] = { shape2 (3), shape2 (3) };
  g_autoptr(MirModel) model = layer_model ("Maximum", NULL, 2, s);
  g_autoptr(MirTensor) a = mir_tensor_new_2d (2, 3, NULL);
  g_autoptr(MirTensor) b = mir_tensor_new_2d (2, 3, NULL);
  g_autoptr(MirTensor) seed = mir_tensor_new_2d (2, 3, NULL);
  MirTensor *in[2] = { a, b };
  MirTrace *trace;
  GError *error = NULL;

  mir_tensor_fill (a, 1.0f);
  mir_tensor_fill (b, 1.0f);
  b->data[1] = 2.0f;
  mir_tensor_fill (seed, 1.0f);
  trace = mir_model_run (model, in, 2, MIR_RUN_FOR_BACKWARD, -1, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mir_trace_backward (trace, mir_model_get_output (model, 0), seed, -1,
                                     MIR_BACKWARD_DEFAULT, NULL, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < 6; i++)
    {
      float ga = mir_trace_get_grad (trace, mir_model_get_input (model, 0))->data[i];
      float gb = mir_trace_get_grad (trace, mir_model_get_input (model, 1))->data[i];
      g_assert_cmpfloat (ga, ==, i == 1 ? 0.0f : 1.0f);
      g_assert_cmpfloat (gb, ==, i == 1 ? 1.0f : 0.0f);
    }
  mir_trace_free (trace);
}

/* ------------------------------------------------------------------ */
/* Concatenate, Flatten, Reshape */

static void
test_concatenate (void)
{
  static const struct { const char *cfg; guint axis; } cases[] = {
    { "{\"axis\": 1}", 1 }, { "{\"axis\": 2}", 2 }, { "{\"axis\": -1}", 3 }, { NULL, 3 },
    { "{\"axis\": -3}", 1 },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      guint ax = cases[c].axis;
      MirShape s[3] = { shape4 (2, 3, 2), shape4 (2, 3, 2), shape4 (2, 3, 2) };
      g_autoptr(GRand) rng = g_rand_new_with_seed (31);
      g_autoptr(MirModel) model = NULL;
      g_autoptr(MirTensor) y = NULL;
      MirTensor *in[3];
      gint64 start[3];

      s[1].dim[ax] = 1;
      s[2].dim[ax] = 3;
      model = layer_model ("Concatenate", cases[c].cfg, 3, s);
      for (guint k = 0; k < 3; k++)
        in[k] = smooth_input (&s[k], -1, 1, rng);
      y = run (model, in, 3, MIR_RUN_DEFAULT, 0);
      g_assert_cmpint (y->shape[ax], ==, s[0].dim[ax] + 1 + 3);
      start[0] = 0;
      start[1] = s[0].dim[ax];
      start[2] = start[1] + 1;
      /* every input element lands at its index shifted along the axis */
      for (guint k = 0; k < 3; k++)
        for (gsize i = 0; i < in[k]->numel; i++)
          {
            gint64 idx[4];
            gsize rest = i, off = 0;
            for (int d = 3; d >= 0; d--)
              {
                idx[d] = (gint64) (rest % (gsize) in[k]->shape[d]);
                rest /= (gsize) in[k]->shape[d];
              }
            idx[ax] += start[k];
            for (int d = 0; d < 4; d++)
              off += (gsize) (idx[d] * y->stride[d]);
            g_assert_cmpfloat (y->data[off], ==, in[k]->data[i]);
          }
      gradcheck ("Concatenate", cases[c].cfg, 3, s, in, MIR_RUN_DEFAULT);
      free_inputs (in, 3);
    }
}

static void
test_flatten_reshape (void)
{
  MirShape s = shape4 (3, 4, 2);
  g_autoptr(GRand) rng = g_rand_new_with_seed (41);
  g_autoptr(MirTensor) x = smooth_input (&s, -1, 1, rng);
  static const struct { const char *cls, *cfg; guint ndim; gint64 dims[4]; } cases[] = {
    { "Flatten", NULL, 2, { 2, 24 } },
    { "Reshape", "{\"target_shape\": [4, -1]}", 3, { 2, 4, 6 } },
    { "Reshape", "{\"target_shape\": [2, 3, 4]}", 4, { 2, 2, 3, 4 } },
    { "Reshape", "{\"target_shape\": [-1]}", 2, { 2, 24 } },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MirModel) model = layer_model (cases[c].cls, cases[c].cfg, 1, &s);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);

      g_assert_cmpuint (y->ndim, ==, cases[c].ndim);
      for (guint d = 0; d < y->ndim; d++)
        g_assert_cmpint (y->shape[d], ==, cases[c].dims[d]);
      g_assert_cmpmem (y->data, y->numel * 4, x->data, x->numel * 4);
      gradcheck (cases[c].cls, cases[c].cfg, 1, &s, &x, MIR_RUN_DEFAULT);
    }
}

/* ------------------------------------------------------------------ */
/* LayerNormalization, Slice (issue 20: ConvNeXt, ShuffleNet) */

static void expect_error (const char *cls, const char *cfg, const char *name, guint n_in,
                          const MirShape *shapes, const char *want1, const char *want2);

/* Input and weight gradients against central differences (gamma and beta
 * drawn from [-1, 1) by the test model); the forward pass has its TF.js
 * reference in tests/data/ref/layernorm.ref.h5. */
static void
test_layer_norm (void)
{
  static const char *const cfgs[] = {
    "{}", "{\"center\": false}", "{\"scale\": false, \"epsilon\": 1e-5}", "{\"axis\": [3]}",
  };
  MirShape s = shape4 (3, 4, 5), s2 = shape2 (6);
  g_autoptr(GRand) rng = g_rand_new_with_seed (57);

  for (gsize c = 0; c < G_N_ELEMENTS (cfgs); c++)
    {
      g_autoptr(MirModel) model = layer_model ("LayerNormalization", cfgs[c], 1, &s);
      g_autoptr(MirTensor) x = smooth_input (&s, -2, 3, rng);
      MirGradcheckOptions o = { .max_checks = 128, .weights = TRUE };

      gradcheck ("LayerNormalization", cfgs[c], 1, &s, &x, MIR_RUN_DEFAULT);
      mir_assert_gradcheck (model, &x, 1, &o, GRAD_TOL);
    }
  gradcheck_random ("LayerNormalization", "{\"epsilon\": 0.01}", 1, &s2, -1, 2, MIR_RUN_DEFAULT);
}

static void
test_slice (void)
{
  static const struct { const char *cfg; guint axis; gint64 start, stop; } cases[] = {
    { "{\"axis\": -1, \"start\": 1, \"stop\": 4}", 3, 1, 4 },
    { "{\"axis\": 3, \"start\": 0, \"stop\": 3}", 3, 0, 3 },
    { "{\"axis\": 1, \"start\": 1, \"stop\": 3}", 1, 1, 3 },
    { "{\"axis\": 2, \"start\": 2, \"stop\": 4}", 2, 2, 4 },
  };
  MirShape s = shape4 (3, 4, 6);
  MirShape bad[1] = { shape4 (3, 4, 6) };
  g_autoptr(GRand) rng = g_rand_new_with_seed (58);
  g_autoptr(MirTensor) x = smooth_input (&s, -1, 1, rng);

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MirModel) model = layer_model ("Slice", cases[c].cfg, 1, &s);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);
      gint64 lo[4] = { 0, 0, 0, 0 }, hi[4] = { 2, 3, 4, 6 };
      gsize k = 0;

      lo[cases[c].axis] = cases[c].start;
      hi[cases[c].axis] = cases[c].stop;
      g_assert_cmpint (y->shape[cases[c].axis], ==, cases[c].stop - cases[c].start);
      /* the reference: the input's elements inside the box, in order */
      for (gint64 n = lo[0]; n < hi[0]; n++)
        for (gint64 h = lo[1]; h < hi[1]; h++)
          for (gint64 w = lo[2]; w < hi[2]; w++)
            for (gint64 ch = lo[3]; ch < hi[3]; ch++)
              g_assert_cmpfloat (y->data[k++], ==, x->data[((n * 3 + h) * 4 + w) * 6 + ch]);
      g_assert_cmpuint (k, ==, y->numel);
      gradcheck ("Slice", cases[c].cfg, 1, &s, &x, MIR_RUN_DEFAULT);
    }
  expect_error ("Slice", "{\"axis\": -1, \"start\": 2, \"stop\": 7}", "bad_slice", 1, bad,
                "(None, 3, 4, 6)", "2 to 7");
  expect_error ("Slice", "{\"axis\": 0, \"start\": 0, \"stop\": 1}", "bad_slice_batch", 1, bad,
                "(None, 3, 4, 6)", "batch");
}

/* ------------------------------------------------------------------ */
/* Dropout and noise */

static void
test_dropout_stats (void)
{
  MirShape s = shape2 (5000); /* batch 2: 10 000 elements */
  const double rate = 0.3;
  g_autoptr(MirModel) model = layer_model ("Dropout", "{\"rate\": 0.3, \"noise_shape\": null}", 1, &s);
  g_autoptr(GRand) rng = g_rand_new_with_seed (51);
  g_autoptr(MirTensor) x = smooth_input (&s, 0.5, 1.5, rng);
  g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_TRAINING, 77);
  g_autoptr(MirTensor) y2 = run (model, &x, 1, MIR_RUN_TRAINING, 77);
  g_autoptr(MirTensor) y3 = run (model, &x, 1, MIR_RUN_TRAINING, 78);
  g_autoptr(MirTensor) inf = run (model, &x, 1, MIR_RUN_DEFAULT, 77);
  gsize zeros = 0, n = x->numel;
  double frac, sigma = sqrt (rate * (1 - rate) / (double) n);

  for (gsize i = 0; i < n; i++)
    {
      if (y->data[i] == 0)
        zeros++;
      else
        ref_assert_close (y->data[i], x->data[i] / (1 - rate), FWD_ABS, FWD_REL, "kept", i);
    }
  frac = (double) zeros / (double) n;
  g_test_message ("dropout: %.4f zeros, rate %.2f, sigma %.4f", frac, rate, sigma);
  g_assert_cmpfloat (fabs (frac - rate), <=, 3 * sigma);
  /* the same seed gives the same mask; another seed another one */
  g_assert_cmpmem (y->data, n * 4, y2->data, n * 4);
  g_assert_true (memcmp (y->data, y3->data, n * 4) != 0);
  /* inference: exactly the identity */
  g_assert_cmpmem (inf->data, n * 4, x->data, n * 4);
}

static void
test_spatial_dropout (void)
{
  MirShape s = shape4 (3, 3, 200);
  g_autoptr(MirModel) model = layer_model ("SpatialDropout2D", "{\"rate\": 0.5}", 1, &s);
  g_autoptr(GRand) rng = g_rand_new_with_seed (52);
  g_autoptr(MirTensor) x = smooth_input (&s, 0.5, 1.5, rng);
  g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_TRAINING, 5);
  g_autoptr(MirTensor) inf = run (model, &x, 1, MIR_RUN_DEFAULT, 5);
  gsize dropped = 0;

  /* whole channels per sample: all 9 pixels dropped or all kept (x 2) */
  for (gint64 b = 0; b < 2; b++)
    for (gint64 c = 0; c < 200; c++)
      {
        guint z = 0;
        for (gint64 p = 0; p < 9; p++)
          {
            gsize i = (gsize) ((b * 9 + p) * 200 + c);
            if (y->data[i] == 0)
              z++;
            else
              ref_assert_close (y->data[i], 2.0 * x->data[i], FWD_ABS, FWD_REL, "kept", i);
          }
        g_assert_true (z == 0 || z == 9);
        dropped += z == 9;
      }
  /* 400 channels, p = 0.5: sigma = 10 */
  g_assert_cmpuint (dropped, >=, 200 - 30);
  g_assert_cmpuint (dropped, <=, 200 + 30);
  g_assert_cmpmem (inf->data, x->numel * 4, x->data, x->numel * 4);
}

static void
test_gaussian (void)
{
  MirShape s = shape2 (5000);
  g_autoptr(GRand) rng = g_rand_new_with_seed (53);
  g_autoptr(MirTensor) x = smooth_input (&s, 0.5, 1.5, rng);
  gsize n = x->numel;

  {
    g_autoptr(MirModel) model = layer_model ("GaussianNoise", "{\"stddev\": 0.5}", 1, &s);
    g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_TRAINING, 9);
    g_autoptr(MirTensor) inf = run (model, &x, 1, MIR_RUN_DEFAULT, 9);
    double m = 0, v = 0;
    for (gsize i = 0; i < n; i++)
      m += y->data[i] - x->data[i];
    m /= n;
    for (gsize i = 0; i < n; i++)
      v += pow (y->data[i] - x->data[i] - m, 2);
    v /= n - 1;
    /* mean 0 within 4 standard errors; variance 0.25 within 5 % (se ~1.4 %) */
    g_assert_cmpfloat (fabs (m), <=, 4 * 0.5 / sqrt ((double) n));
    g_assert_cmpfloat (fabs (v - 0.25), <=, 0.05 * 0.25);
    g_assert_cmpmem (inf->data, n * 4, x->data, n * 4);
  }
  {
    g_autoptr(MirModel) model = layer_model ("GaussianDropout", "{\"rate\": 0.2}", 1, &s);
    g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_TRAINING, 9);
    g_autoptr(MirTensor) inf = run (model, &x, 1, MIR_RUN_DEFAULT, 9);
    double m = 0, v = 0, var = 0.2 / 0.8;
    for (gsize i = 0; i < n; i++)
      m += y->data[i] / x->data[i];
    m /= n;
    for (gsize i = 0; i < n; i++)
      v += pow (y->data[i] / x->data[i] - m, 2);
    v /= n - 1;
    g_assert_cmpfloat (fabs (m - 1), <=, 4 * sqrt (var / (double) n));
    g_assert_cmpfloat (fabs (v - var), <=, 0.05 * var);
    g_assert_cmpmem (inf->data, n * 4, x->data, n * 4);
  }
}

static void
test_stochastic_grad (void)
{
  MirShape s = shape4 (3, 3, 4);

  /* training mode with a fixed run_seed: every FD run sees the same mask */
  gradcheck_random ("Dropout", "{\"rate\": 0.4}", 1, &s, -1, 1, MIR_RUN_TRAINING);
  gradcheck_random ("SpatialDropout2D", "{\"rate\": 0.4}", 1, &s, -1, 1, MIR_RUN_TRAINING);
  gradcheck_random ("GaussianNoise", "{\"stddev\": 0.3}", 1, &s, -1, 1, MIR_RUN_TRAINING);
  gradcheck_random ("GaussianDropout", "{\"rate\": 0.3}", 1, &s, -1, 1, MIR_RUN_TRAINING);
  /* and inference */
  gradcheck_random ("Dropout", "{\"rate\": 0.4}", 1, &s, -1, 1, MIR_RUN_DEFAULT);
  gradcheck_random ("GaussianNoise", "{\"stddev\": 0.3}", 1, &s, -1, 1, MIR_RUN_DEFAULT);
}

/* ------------------------------------------------------------------ */
/* Preprocessing */

static void
test_rescaling (void)
{
  MirShape s = shape4 (2, 2, 3);
  static const struct { const char *cfg; double scale[3], offset[3]; } cases[] = {
    { "{\"scale\": 0.00392156862745098, \"offset\": 0.0}", { 1 / 255.0, 1 / 255.0, 1 / 255.0 }, { 0, 0, 0 } },
    { "{\"scale\": 0.0078431372549, \"offset\": -1}", { 0.0078431372549, 0.0078431372549, 0.0078431372549 }, { -1, -1, -1 } },
    { "{\"scale\": [0.5, 2, -1], \"offset\": [[[1, 2, 3]]]}", { 0.5, 2, -1 }, { 1, 2, 3 } },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MirModel) model = layer_model ("Rescaling", cases[c].cfg, 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (61);
      g_autoptr(MirTensor) x = smooth_input (&s, 0, 255, rng);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);

      for (gsize i = 0; i < x->numel; i++)
        ref_assert_close (y->data[i], x->data[i] * cases[c].scale[i % 3] + cases[c].offset[i % 3],
                          FWD_ABS, FWD_REL, cases[c].cfg, i);
      /* Small inputs for the FD check (x +- eps is not exact in float32 near
       * 255) and a large step: the map is linear, so no truncation error,
       * and with scale 1/127.5 a 1e-2 step would drown in output rounding. */
      grad_eps = 0.25;
      gradcheck_random ("Rescaling", cases[c].cfg, 1, &s, -2, 2, MIR_RUN_DEFAULT);
      grad_eps = 0;
    }
}

static void
test_normalization (void)
{
  MirShape s = shape4 (2, 3, 4);
  g_autoptr(GRand) rng = g_rand_new_with_seed (71);
  g_autoptr(MirTensor) x = smooth_input (&s, -2, 2, rng);

  /* adapted form: weights mean, variance (per channel) and count, as Keras saves them */
  {
    g_autoptr(MirModel) model = layer_model ("Normalization", "{\"axis\": -1, \"mean\": null, \"variance\": null}", 1, &s);
    MirLayer *layer = mir_model_get_node (model, 1)->layer;
    g_autoptr(MirTensor) y = NULL;
    MirTensor *mean, *var;

    g_assert_cmpuint (layer->n_weights, ==, 3);
    g_assert_cmpstr (layer->weights[0].name, ==, "mean");
    g_assert_cmpstr (layer->weights[1].name, ==, "variance");
    g_assert_cmpstr (layer->weights[2].name, ==, "count");
    g_assert_cmpuint (layer->weights[0].shape.ndim, ==, 1);
    g_assert_cmpint (layer->weights[0].shape.dim[0], ==, 4);
    g_assert_cmpuint (layer->weights[2].shape.ndim, ==, 0);
    for (guint j = 0; j < 3; j++)
      g_assert_false (layer->weights[j].trainable);
    mean = layer->weights[0].value;
    var = layer->weights[1].value;
    var->data[3] = 0; /* sqrt(0) < epsilon: divides by 1e-7 */
    y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);
    for (gsize i = 0; i < x->numel; i++)
      {
        gsize c = i % 4;
        double r = ((double) x->data[i] - mean->data[c]) / fmax (sqrt (var->data[c]), 1e-7);
        ref_assert_close (y->data[i], r, FWD_ABS, FWD_REL, "normalization", i);
      }
    var->data[3] = 0.7f;
    gradcheck ("Normalization", "{\"axis\": -1}", 1, &s, &x, MIR_RUN_DEFAULT);
  }
  /* config form, scalar and per-channel, and axis null, and invert */
  {
    static const struct { const char *cfg; double mean[4], var[4]; gboolean invert; } cases[] = {
      { "{\"axis\": -1, \"mean\": [0.5, -1, 2, 0], \"variance\": [4, 0.25, 1, 9]}", { 0.5, -1, 2, 0 }, { 4, 0.25, 1, 9 }, FALSE },
      { "{\"axis\": -1, \"mean\": 3.0, \"variance\": 2.0}", { 3, 3, 3, 3 }, { 2, 2, 2, 2 }, FALSE },
      { "{\"axis\": null, \"mean\": 1.5, \"variance\": 0.5}", { 1.5, 1.5, 1.5, 1.5 }, { 0.5, 0.5, 0.5, 0.5 }, FALSE },
      { "{\"axis\": -1, \"mean\": [0.5, -1, 2, 0], \"variance\": [4, 0.25, 1, 9], \"invert\": true}", { 0.5, -1, 2, 0 }, { 4, 0.25, 1, 9 }, TRUE },
    };
    for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
      {
        g_autoptr(MirModel) model = layer_model ("Normalization", cases[c].cfg, 1, &s);
        g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);

        g_assert_cmpuint (mir_model_get_node (model, 1)->layer->n_weights, ==, 0);
        for (gsize i = 0; i < x->numel; i++)
          {
            gsize ch = i % 4;
            double sd = sqrt (cases[c].var[ch]);
            double r = cases[c].invert ? cases[c].mean[ch] + x->data[i] * sd
                                       : (x->data[i] - cases[c].mean[ch]) / sd;
            ref_assert_close (y->data[i], r, FWD_ABS, FWD_REL, cases[c].cfg, i);
          }
        gradcheck ("Normalization", cases[c].cfg, 1, &s, &x, MIR_RUN_DEFAULT);
      }
  }
}

/* tf.image.resize with half-pixel centres, in float64, straight from its
 * definition: a separable linear interpolation at s = (o + 0.5) * in / out - 0.5
 * with the source index clamped to the image. */
static double
ref_sample (const MirTensor *x, gint64 b, double sy, double sx, gint64 c, gboolean nearest)
{
  gint64 h = x->shape[1], w = x->shape[2], ch = x->shape[3];
  double v = 0;

#define AT(yy, xx) ((double) x->data[((b * h + (yy)) * w + (xx)) * ch + c])
  if (nearest)
    {
      gint64 iy = MIN ((gint64) floor (sy + 0.5), h - 1), ix = MIN ((gint64) floor (sx + 0.5), w - 1);
      return AT (iy, ix);
    }
  for (int dy = 0; dy <= 1; dy++)
    for (int dx = 0; dx <= 1; dx++)
      {
        double fy = floor (sy) + dy, fx = floor (sx) + dx;
        double wy = 1 - fabs (sy - fy), wx = 1 - fabs (sx - fx);
        gint64 iy = CLAMP ((gint64) fy, 0, h - 1), ix = CLAMP ((gint64) fx, 0, w - 1);
        v += wy * wx * AT (iy, ix);
      }
#undef AT
  return v;
}

static void
test_resizing (void)
{
  static const struct { gint64 ih, iw, oh, ow; gboolean nearest; } cases[] = {
    { 3, 4, 5, 7, FALSE }, { 6, 6, 4, 3, FALSE }, { 4, 5, 4, 5, FALSE },
    { 3, 4, 5, 7, TRUE }, { 6, 6, 4, 3, TRUE },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      MirShape s = shape4 (cases[c].ih, cases[c].iw, 2);
      g_autofree char *cfg = g_strdup_printf ("{\"height\": %" G_GINT64_FORMAT ", \"width\": %"
                                              G_GINT64_FORMAT ", \"interpolation\": \"%s\", "
                                              "\"crop_to_aspect_ratio\": false}",
                                              cases[c].oh, cases[c].ow,
                                              cases[c].nearest ? "nearest" : "bilinear");
      g_autoptr(MirModel) model = layer_model ("Resizing", cfg, 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (81);
      g_autoptr(MirTensor) x = smooth_input (&s, -1, 1, rng);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);

      g_assert_cmpint (y->shape[1], ==, cases[c].oh);
      g_assert_cmpint (y->shape[2], ==, cases[c].ow);
      for (gint64 b = 0; b < 2; b++)
        for (gint64 oy = 0; oy < cases[c].oh; oy++)
          for (gint64 ox = 0; ox < cases[c].ow; ox++)
            for (gint64 k = 0; k < 2; k++)
              {
                double sy = (oy + 0.5) * cases[c].ih / cases[c].oh - 0.5;
                double sx = (ox + 0.5) * cases[c].iw / cases[c].ow - 0.5;
                gsize i = (gsize) (((b * cases[c].oh + oy) * cases[c].ow + ox) * 2 + k);
                ref_assert_close (y->data[i], ref_sample (x, b, sy, sx, k, cases[c].nearest),
                                  FWD_ABS, FWD_REL, cfg, i);
              }
      if (cases[c].ih == cases[c].oh && cases[c].iw == cases[c].ow)
        g_assert_cmpmem (y->data, y->numel * 4, x->data, x->numel * 4);
      gradcheck ("Resizing", cfg, 1, &s, &x, MIR_RUN_DEFAULT);
    }

  /* Worked by hand from the definition: [0, 1] -> 4 samples at s = -0.25,
   * 0.25, 0.75, 1.25 gives [0, 0.25, 0.75, 1]; nearest gives [0, 0, 1, 1]. */
  {
    MirShape s = shape4 (1, 2, 1);
    g_autoptr(MirModel) bl = layer_model ("Resizing", "{\"height\": 1, \"width\": 4}", 1, &s);
    g_autoptr(MirModel) nn = layer_model ("Resizing", "{\"height\": 1, \"width\": 4, \"interpolation\": \"nearest\"}", 1, &s);
    g_autoptr(MirTensor) x = mir_tensor_new_4d (2, 1, 2, 1, NULL);
    g_autoptr(MirTensor) yb = NULL, yn = NULL;
    const float eb[4] = { 0, 0.25f, 0.75f, 1 }, en[4] = { 0, 0, 1, 1 };

    x->data[1] = x->data[3] = 1;
    yb = run (bl, &x, 1, MIR_RUN_DEFAULT, 0);
    yn = run (nn, &x, 1, MIR_RUN_DEFAULT, 0);
    for (int i = 0; i < 4; i++)
      {
        g_assert_cmpfloat_with_epsilon (yb->data[i], eb[i], 1e-6);
        g_assert_cmpfloat_with_epsilon (yn->data[i], en[i], 1e-6);
      }
  }
}

static void
test_center_crop (void)
{
  static const struct { gint64 ih, iw, oh, ow; } cases[] = {
    { 5, 6, 3, 3 }, { 4, 4, 1, 2 }, { 3, 3, 3, 3 }, { 7, 2, 4, 1 },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      MirShape s = shape4 (cases[c].ih, cases[c].iw, 2);
      g_autofree char *cfg = g_strdup_printf ("{\"height\": %" G_GINT64_FORMAT ", \"width\": %"
                                              G_GINT64_FORMAT "}", cases[c].oh, cases[c].ow);
      g_autoptr(MirModel) model = layer_model ("CenterCrop", cfg, 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (91);
      g_autoptr(MirTensor) x = smooth_input (&s, -1, 1, rng);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 0);
      gint64 top = (cases[c].ih - cases[c].oh) / 2, left = (cases[c].iw - cases[c].ow) / 2;

      for (gint64 b = 0; b < 2; b++)
        for (gint64 oy = 0; oy < cases[c].oh; oy++)
          for (gint64 ox = 0; ox < cases[c].ow; ox++)
            for (gint64 k = 0; k < 2; k++)
              g_assert_cmpfloat (y->data[((b * cases[c].oh + oy) * cases[c].ow + ox) * 2 + k], ==,
                                 x->data[((b * cases[c].ih + oy + top) * cases[c].iw + ox + left) * 2 + k]);
      gradcheck ("CenterCrop", cfg, 1, &s, &x, MIR_RUN_DEFAULT);
    }
}

static void
test_random_augment (void)
{
  static const char *const classes[] = {
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
  };
  MirShape s = shape4 (4, 4, 3);

  for (gsize c = 0; c < G_N_ELEMENTS (classes); c++)
    {
      g_autoptr(MirModel) model = layer_model (classes[c], "{\"factor\": 0.2, \"mode\": \"horizontal\"}", 1, &s);
      g_autoptr(GRand) rng = g_rand_new_with_seed (95);
      g_autoptr(MirTensor) x = smooth_input (&s, -1, 1, rng);
      g_autoptr(MirTensor) y = run (model, &x, 1, MIR_RUN_DEFAULT, 3);
      g_autoptr(MirTensor) yt = run (model, &x, 1, MIR_RUN_TRAINING, 3);

      g_assert_cmpmem (y->data, y->numel * 4, x->data, x->numel * 4);
      g_assert_cmpmem (yt->data, y->numel * 4, x->data, x->numel * 4);
      gradcheck (classes[c], NULL, 1, &s, &x, MIR_RUN_TRAINING);
    }
}

/* ------------------------------------------------------------------ */
/* Errors */

/* Adds a layer named @name on inputs of @shapes; expects a shape error
 * naming the layer and containing @want1 and @want2. */
static void
expect_error (const char *cls, const char *cfg, const char *name, guint n_in,
              const MirShape *shapes, const char *want1, const char *want2)
{
  g_autoptr(MirModel) model = mir_model_new ("m");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(MirLayer) layer = NULL;
  GError *error = NULL;
  guint inputs[4];

  for (guint k = 0; k < n_in; k++)
    {
      g_autofree char *in_name = g_strdup_printf ("in%u", k);
      gint idx = mir_model_add_input (model, in_name, &shapes[k], &error);
      g_assert_no_error (error);
      inputs[k] = (guint) idx;
    }
  g_assert_true (json_parser_load_from_data (parser, cfg, -1, NULL));
  layer = mir_layer_new_by_name (cls, name, json_node_get_object (json_parser_get_root (parser)),
                                 &error);
  g_assert_no_error (error);
  g_assert_cmpint (mir_model_add_node (model, name, layer, inputs, n_in, NULL, &error), ==, -1);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, name));
  g_assert_nonnull (strstr (error->message, want1));
  g_assert_nonnull (strstr (error->message, want2));
  g_clear_error (&error);
}

static void
test_errors (void)
{
  MirShape r[1] = { shape4 (3, 4, 2) };
  MirShape cat[2] = { shape4 (3, 4, 2), shape4 (3, 5, 2) };
  MirShape add[2] = { shape4 (3, 4, 2), shape4 (3, 4, 3) };

  expect_error ("Reshape", "{\"target_shape\": [5, 5]}", "bad_reshape", 1, r,
                "(None, 3, 4, 2)", "(5, 5)");
  expect_error ("Reshape", "{\"target_shape\": [5, -1]}", "bad_reshape_free", 1, r,
                "(None, 3, 4, 2)", "(5, -1)");
  expect_error ("Concatenate", "{\"axis\": -1}", "bad_concat", 2, cat,
                "(None, 3, 4, 2)", "(None, 3, 5, 2)");
  expect_error ("Add", "{}", "bad_add", 2, add, "(None, 3, 4, 2)", "(None, 3, 4, 3)");
  expect_error ("Multiply", "{}", "bad_multiply", 2, add, "(None, 3, 4, 2)", "(None, 3, 4, 3)");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layers/activation", test_activation_layer);
  g_test_add_func ("/layers/softmax", test_softmax_values);
  g_test_add_func ("/layers/relu", test_relu);
  g_test_add_func ("/layers/leaky-relu", test_leaky_relu);
  g_test_add_func ("/layers/merge", test_merge);
  g_test_add_func ("/layers/merge-ties", test_merge_ties);
  g_test_add_func ("/layers/concatenate", test_concatenate);
  g_test_add_func ("/layers/flatten-reshape", test_flatten_reshape);
  g_test_add_func ("/layers/layer-norm", test_layer_norm);
  g_test_add_func ("/layers/slice", test_slice);
  g_test_add_func ("/layers/dropout-stats", test_dropout_stats);
  g_test_add_func ("/layers/spatial-dropout", test_spatial_dropout);
  g_test_add_func ("/layers/gaussian", test_gaussian);
  g_test_add_func ("/layers/stochastic-grad", test_stochastic_grad);
  g_test_add_func ("/layers/rescaling", test_rescaling);
  g_test_add_func ("/layers/normalization", test_normalization);
  g_test_add_func ("/layers/resizing", test_resizing);
  g_test_add_func ("/layers/center-crop", test_center_crop);
  g_test_add_func ("/layers/random-augment", test_random_augment);
  g_test_add_func ("/layers/errors", test_errors);
  {
    int ret = g_test_run ();
    g_test_message ("%u gradient checks, worst relative error %.3g (bound %g)", n_gradchecks,
                    worst_rel_error, GRAD_TOL);
    return ret;
  }
}
