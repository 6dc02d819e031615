/* The activation memory plan of runs that keep nothing (mir-model-plan.c): the
 * planned run must give bit for bit the outputs of a run with a buffer per
 * output (MIR_RUN_NO_PLAN) and, where no BatchNormalization is folded, of a
 * KEEP_ALL run; on graphs with branches, multi-use outputs, outputs in the
 * middle of the graph and @until; on two model files; run twice, so that
 * the second run's arena holds the first run's values; and with batch
 * sizes in turn (the model caches its compiled plans: compiled once each).  And the arena must be as
 * small as the liveness of the outputs allows, computed here from the graph
 * and the shapes. */
#include <math.h>
#include <string.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "mir-model-private.h"

/* x -> c1 (relu; read by c2, c3 and a pooling three nodes later)
 *   -> add(c2, c3) -> pool -> concat(pool, avgpool(c1)) -> conv [-> BN -> ReLU]
 *   -> global pooling -> dense softmax; outputs: the dense and the add. */
static MirModel *
branchy_model (gboolean with_bn, guint *add_node)
{
  MirModel *model = mir_model_new ("branchy");
  MirShape in = { 4, { -1, 12, 10, 3 } };
  guint c1, c2, c3, a, p, q, cat, c4, g, o;
  guint outs[2];

  g_assert_cmpint (mir_model_add_input (model, "x", &in, NULL), ==, 0);
  c1 = mir_test_add_node (model, "Conv2D", "c1",
                          "{\"filters\": 8, \"kernel_size\": [3, 3], \"padding\": \"same\","
                          " \"activation\": \"relu\"}", (guint[]) { 0 }, 1);
  c2 = mir_test_add_node (model, "Conv2D", "c2", "{\"filters\": 8, \"kernel_size\": [3, 3], "
                          "\"padding\": \"same\"}", &c1, 1);
  c3 = mir_test_add_node (model, "Conv2D", "c3", "{\"filters\": 8, \"kernel_size\": [1, 1]}",
                          &c1, 1);
  a = mir_test_add_node (model, "Add", "add", "{}", (guint[]) { c2, c3 }, 2);
  p = mir_test_add_node (model, "MaxPooling2D", "pool", "{\"pool_size\": [2, 2]}", &a, 1);
  q = mir_test_add_node (model, "AveragePooling2D", "avg", "{\"pool_size\": [2, 2]}", &c1, 1);
  cat = mir_test_add_node (model, "Concatenate", "cat", "{\"axis\": -1}", (guint[]) { p, q }, 2);
  c4 = mir_test_add_node (model, "Conv2D", "c4", "{\"filters\": 12, \"kernel_size\": [3, 3], "
                          "\"padding\": \"same\"}", &cat, 1);
  if (with_bn)
    {
      c4 = mir_test_add_node (model, "BatchNormalization", "bn", "{\"epsilon\": 0.001}", &c4, 1);
      c4 = mir_test_add_node (model, "ReLU", "relu", "{}", &c4, 1);
    }
  g = mir_test_add_node (model, "GlobalAveragePooling2D", "gap", "{}", &c4, 1);
  o = mir_test_add_node (model, "Dense", "dense",
                         "{\"units\": 5, \"activation\": \"softmax\"}", &g, 1);
  outs[0] = o;
  outs[1] = a;
  g_assert_true (mir_model_set_outputs (model, outs, 2, NULL));
  mir_test_fill_weights (model, with_bn ? 7 : 8);
  *add_node = a;
  return model;
}

static MirTrace *
run (MirModel *model, MirTensor *x, MirRunFlags flags, gint until)
{
  GError *error = NULL;
  MirTrace *trace = mir_model_run (model, &x, 1, flags, until, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (trace);
  return trace;
}

static void
assert_bitwise (MirTensor *a, MirTensor *b)
{
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_true (mir_tensor_same_shape (a, b));
  g_assert_cmpmem (a->data, a->numel * sizeof (float), b->data, b->numel * sizeof (float));
}

/* Largest sum of live output sizes (floats, each rounded up to 16 as the
 * arena aligns them) over the steps of a run of the whole model with batch
 * @batch, for a model without folded layers: node v (not an input, not an
 * output) lives from step v to its last consumer.  No plan can be smaller. */
static gsize
live_lower_bound (MirModel *model, gint64 batch, gsize *sum)
{
  guint n = mir_model_get_n_nodes (model);
  g_autofree guint *end = g_new0 (guint, n);
  g_autofree gsize *size = g_new0 (gsize, n);
  gsize best = 0;

  *sum = 0;
  for (guint v = 0; v < n; v++)
    {
      MirNode *node = mir_model_get_node (model, v);
      gsize numel = (gsize) batch;
      gboolean is_output = FALSE;

      for (guint k = 0; k < node->n_inputs; k++)
        end[node->inputs[k]] = v;
      for (guint k = 0; k < model->outputs->len; k++)
        is_output |= mir_model_get_output (model, k) == v;
      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT || is_output)
        continue;
      for (guint d = 1; d < node->shape.ndim; d++)
        numel *= (gsize) node->shape.dim[d];
      size[v] = (numel + 15) / 16 * 16;
      *sum += size[v];
    }
  for (guint t = 0; t < n; t++)
    {
      gsize live = 0;
      for (guint v = 0; v <= t; v++)
        if (size[v] > 0 && end[v] >= t)
          live += size[v];
      best = MAX (best, live);
    }
  return best;
}

static void
test_branches (gconstpointer data)
{
  gboolean with_bn = GPOINTER_TO_INT (data);
  guint add_node;
  g_autoptr(MirModel) model = branchy_model (with_bn, &add_node);
  g_autoptr(GRand) rng = g_rand_new_with_seed (3);
  gint64 shape[4] = { 3, 12, 10, 3 };
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -1.0f, 1.0f, rng);
  g_autoptr(MirTrace) keep = run (model, x, MIR_RUN_KEEP_ALL, -1);
  g_autoptr(MirTrace) own = run (model, x, MIR_RUN_NO_PLAN, -1);
  gsize sum, bound = live_lower_bound (model, shape[0], &sum);

  g_assert_cmpuint (mir_trace_get_planned_bytes (keep), ==, 0);
  g_assert_cmpuint (mir_trace_get_planned_bytes (own), ==, 0);
  /* Twice: the second arena comes back from the cache with old values. */
  for (guint r = 0; r < 2; r++)
    {
      g_autoptr(MirTrace) plan = run (model, x, MIR_RUN_DEFAULT, -1);
      g_autoptr(MirTrace) upto = run (model, x, MIR_RUN_DEFAULT, (gint) add_node);
      gsize bytes = mir_trace_get_planned_bytes (plan);

      for (guint k = 0; k < 2; k++)
        {
          assert_bitwise (mir_trace_get_output (plan, k), mir_trace_get_output (own, k));
          if (!with_bn) /* else KEEP_ALL runs BN on its own: other rounding */
            assert_bitwise (mir_trace_get_output (plan, k), mir_trace_get_output (keep, k));
        }
      assert_bitwise (mir_trace_get (upto, add_node), mir_trace_get (keep, add_node));
      g_assert_null (mir_trace_get (plan, 1)); /* c1 is not kept */
      g_test_message ("arena %zu bytes, live lower bound %zu, no reuse %zu", bytes,
                      bound * sizeof (float), sum * sizeof (float));
      /* Folding BN makes fewer outputs than the bound counts. */
      if (!with_bn)
        g_assert_cmpuint (bytes, >=, bound * sizeof (float));
      g_assert_cmpuint (bytes, >, 0);
      g_assert_cmpuint (bytes, <, sum * sizeof (float));
    }
}

/* A run is compiled once per (@until, flags, input shapes) and then taken
 * from the model's plan cache, with runs of other batch sizes, flags and
 * @until in between; the outputs stay those of runs with a buffer per
 * output (each plan's arena handed from run to run). */
static void
test_compiled_once (void)
{
  guint add_node;
  g_autoptr(MirModel) model = branchy_model (TRUE, &add_node);
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  gint64 s3[4] = { 3, 12, 10, 3 }, s2[4] = { 2, 12, 10, 3 };
  g_autoptr(MirTensor) x3 = mir_test_random_tensor (4, s3, -1.0f, 1.0f, rng);
  g_autoptr(MirTensor) x2 = mir_test_random_tensor (4, s2, -1.0f, 1.0f, rng);
  g_autoptr(MirTrace) own3 = run (model, x3, MIR_RUN_NO_PLAN, -1);
  g_autoptr(MirTrace) own2 = run (model, x2, MIR_RUN_NO_PLAN, -1);
  guint base = mir_plan_cache_get_compiled (model->plan_cache);

  g_assert_cmpuint (base, ==, 2); /* a NO_PLAN run has steps too (no arena) */
  for (guint round = 0; round < 3; round++)
    {
      g_autoptr(MirTrace) a = run (model, x3, MIR_RUN_DEFAULT, -1);
      g_autoptr(MirTrace) b = run (model, x2, MIR_RUN_DEFAULT, -1);
      g_autoptr(MirTrace) k = run (model, x3, MIR_RUN_KEEP_ALL, -1);
      g_autoptr(MirTrace) u = run (model, x3, MIR_RUN_DEFAULT, (gint) add_node);

      for (guint o = 0; o < 2; o++)
        {
          assert_bitwise (mir_trace_get_output (a, o), mir_trace_get_output (own3, o));
          assert_bitwise (mir_trace_get_output (b, o), mir_trace_get_output (own2, o));
        }
      assert_bitwise (mir_trace_get (u, add_node), mir_trace_get_output (own3, 1));
      g_assert_cmpuint (mir_trace_get_planned_bytes (k), ==, 0); /* KEEP_ALL: no arena */
      g_assert_cmpuint (mir_trace_get_planned_bytes (a), >, 0);
      /* four new plans in the first round, none after */
      g_assert_cmpuint (mir_plan_cache_get_compiled (model->plan_cache), ==, base + 4);
    }
}

/* A chain whose neighbours' sizes shrink pairwise: the plan must reach the
 * lower bound, i.e. reuse the first conv's buffer for the second conv.
 * Average pooling: a conv feeding a max pool runs fused with it (no conv
 * output at all), which the bound below does not model. */
static void
test_chain_reuse (void)
{
  g_autoptr(MirModel) model = mir_model_new ("chain");
  MirShape in = { 4, { -1, 16, 16, 4 } };
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  gint64 shape[4] = { 5, 16, 16, 4 };
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -1.0f, 1.0f, rng);
  g_autoptr(MirTrace) plan = NULL;
  g_autoptr(MirTrace) keep = NULL;
  gsize sum, bound;
  guint i;

  g_assert_cmpint (mir_model_add_input (model, "x", &in, NULL), ==, 0);
  i = mir_test_add_node (model, "Conv2D", "a", "{\"filters\": 8, \"kernel_size\": [3, 3], "
                         "\"padding\": \"same\"}", (guint[]) { 0 }, 1);
  i = mir_test_add_node (model, "AveragePooling2D", "b", "{\"pool_size\": [2, 2]}", &i, 1);
  i = mir_test_add_node (model, "Conv2D", "c", "{\"filters\": 16, \"kernel_size\": [3, 3], "
                         "\"padding\": \"same\", \"activation\": \"relu\"}", &i, 1);
  i = mir_test_add_node (model, "AveragePooling2D", "d", "{\"pool_size\": [2, 2]}", &i, 1);
  i = mir_test_add_node (model, "Flatten", "flat", "{}", &i, 1);
  i = mir_test_add_node (model, "Dense", "out", "{\"units\": 3}", &i, 1);
  g_assert_true (mir_model_set_outputs (model, &i, 1, NULL));
  mir_test_fill_weights (model, 9);

  bound = live_lower_bound (model, shape[0], &sum);
  plan = run (model, x, MIR_RUN_DEFAULT, -1);
  keep = run (model, x, MIR_RUN_KEEP_ALL, -1);
  assert_bitwise (mir_trace_get_output (plan, 0), mir_trace_get_output (keep, 0));
  /* a (5·16·16·8) and b (5·8·8·8) are live together; c, d, flat reuse them. */
  g_assert_cmpuint (bound, ==, 5 * 16 * 16 * 8 + 5 * 8 * 8 * 8);
  g_assert_cmpuint (mir_trace_get_planned_bytes (plan), ==, bound * sizeof (float));
  g_assert_cmpuint (sum, >, bound);

  /* Other batch sizes in turn: the model's cached plan must follow them. */
  for (gint64 b = 1; b <= 7; b += 3)
    for (guint r = 0; r < 2; r++)
      {
        gint64 bshape[4] = { b, 16, 16, 4 };
        g_autoptr(MirTensor) xb = mir_test_random_tensor (4, bshape, -1.0f, 1.0f, rng);
        g_autoptr(MirTrace) pb = run (model, xb, MIR_RUN_DEFAULT, -1);
        g_autoptr(MirTrace) kb = run (model, xb, MIR_RUN_KEEP_ALL, -1);

        assert_bitwise (mir_trace_get_output (pb, 0), mir_trace_get_output (kb, 0));
        g_assert_cmpuint (mir_trace_get_planned_bytes (pb), ==,
                          live_lower_bound (model, b, &sum) * sizeof (float));
      }
}

/* A test-only layer without MIR_LAYER_FLAG_WRITES_ALL: out += in, which
 * gives out = in only if the planner zeroed its output. */
static gboolean
accum_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
accum_forward (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
               const MirRunArgs *args, GError **error)
{
  for (gsize i = 0; i < out->numel; i++)
    out->data[i] += in[0]->data[i];
  return TRUE;
}

static const MirLayerClass accum_class = {
  .name = "TestAccumulate",
  .instance_size = sizeof (MirLayer),
  .infer = accum_infer,
  .forward = accum_forward,
};

static void
test_zeroed (void)
{
  g_autoptr(MirModel) model = mir_model_new ("accumulate");
  MirShape in = { 2, { -1, 1000 } };
  g_autoptr(GRand) rng = g_rand_new_with_seed (13);
  gint64 shape[2] = { 3, 1000 };
  g_autoptr(MirTensor) x = mir_test_random_tensor (2, shape, -1.0f, 1.0f, rng);
  guint i = 0;

  g_assert_cmpint (mir_model_add_input (model, "x", &in, NULL), ==, 0);
  for (guint k = 0; k < 4; k++)
    {
      g_autofree char *name = g_strdup_printf ("acc%u", k);
      g_autoptr(MirLayer) layer = mir_layer_new (&accum_class, name, NULL, NULL);
      gint idx = mir_model_add_node (model, name, layer, &i, 1, NULL, NULL);

      g_assert_cmpint (idx, >, 0);
      i = (guint) idx;
    }
  g_assert_true (mir_model_finish (model, FALSE, 0, NULL));
  for (guint r = 0; r < 3; r++)
    {
      g_autoptr(MirTrace) plan = run (model, x, MIR_RUN_DEFAULT, -1);

      g_assert_cmpuint (mir_trace_get_planned_bytes (plan), >, 0);
      assert_bitwise (mir_trace_get_output (plan, 0), x);
    }
}

static void
test_model_file (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "models", name, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_load_h5 (path, &error);
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  const MirShape *s;
  gint64 shape[MIR_MAX_DIMS];
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) own = NULL;
  g_autoptr(MirTrace) keep = NULL;
  MirTensor *a, *b;
  double worst = 0, scale = 0;

  g_assert_no_error (error);
  s = mir_model_get_input_shape (model, 0);
  shape[0] = 4;
  for (guint d = 1; d < s->ndim; d++)
    shape[d] = s->dim[d];
  x = mir_test_random_tensor (s->ndim, shape, 0.0f, 1.0f, rng);
  own = run (model, x, MIR_RUN_NO_PLAN, -1);
  keep = run (model, x, MIR_RUN_KEEP_ALL, -1);
  for (guint r = 0; r < 2; r++)
    {
      g_autoptr(MirTrace) plan = run (model, x, MIR_RUN_DEFAULT, -1);
      gsize sum, bound = live_lower_bound (model, shape[0], &sum);

      assert_bitwise (mir_trace_get_output (plan, 0), mir_trace_get_output (own, 0));
      g_assert_cmpuint (mir_trace_get_planned_bytes (plan), >, 0);
      g_assert_cmpuint (mir_trace_get_planned_bytes (plan), <, sum * sizeof (float));
      g_test_message ("%s: arena %zu bytes, live lower bound (unfolded) %zu, no reuse %zu",
                      name, mir_trace_get_planned_bytes (plan), bound * sizeof (float),
                      sum * sizeof (float));
    }
  /* KEEP_ALL does not fold BatchNormalization: equal up to rounding. */
  a = mir_trace_get_output (own, 0);
  b = mir_trace_get_output (keep, 0);
  g_assert_true (mir_tensor_same_shape (a, b));
  for (gsize k = 0; k < a->numel; k++)
    {
      worst = MAX (worst, fabs ((double) a->data[k] - b->data[k]));
      scale = MAX (scale, fabs ((double) b->data[k]));
    }
  g_assert_cmpfloat (worst, <=, 1e-5 * MAX (scale, 1.0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/memory-plan/branches", GINT_TO_POINTER (FALSE), test_branches);
  g_test_add_data_func ("/memory-plan/branches-folded", GINT_TO_POINTER (TRUE), test_branches);
  g_test_add_func ("/memory-plan/chain-reuse", test_chain_reuse);
  g_test_add_func ("/memory-plan/compiled-once", test_compiled_once);
  g_test_add_func ("/memory-plan/zeroed", test_zeroed);
  g_test_add_data_func ("/memory-plan/file/resnet", "mlcommons__pretrainedResnet.h5",
                        test_model_file);
  g_test_add_data_func ("/memory-plan/file/mini-xception",
                        "oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5", test_model_file);
  return g_test_run ();
}
