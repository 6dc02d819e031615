/* The convolution explainer's numbers (issue 19): receptive fields against
 * rectangles worked out by hand (stride, "same" padding, dilation, pooling
 * chains, Dense after Flatten), and a unit's value recomputed from its
 * patch, kernel and bias against the engine's own output (conv with ReLU at
 * a padded border, depthwise, Dense with softmax, max and average pooling). */
#include <math.h>
#include <string.h>

#include "explain/mir-unit.h"
#include "io/mir-keras.h"
#include "mir-test-util.h"

#define VALUE_TOL 1e-5 /* relative: double-precision sum vs the float32 kernels */

static MirModel *
model_from (const char *layers, int h, int w, int c)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_strdup_printf (
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"m\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"x\", "
    "\"batch_input_shape\": [null, %d, %d, %d]}}, %s]}}", h, w, c, layers);
  MirModel *m = mir_keras_model_from_config (json, -1, &error);

  g_assert_no_error (error);
  mir_model_finish (m, TRUE, 5, &error);
  g_assert_no_error (error);
  /* Keras starts biases at zero: give them values, so the bias term counts */
  for (guint i = 0; i < mir_model_get_n_nodes (m); i++)
    {
      MirTensor *b = mir_layer_get_weight (mir_model_get_node (m, i)->layer, "bias");

      for (gsize k = 0; b != NULL && k < b->numel; k++)
        b->data[k] = 0.1f * (float) ((k * 7 + i) % 5) - 0.2f;
    }
  return m;
}

static MirTrace *
trace_of (MirModel *m, int h, int w, int c, guint32 seed)
{
  const gint64 shape[4] = { 1, h, w, c };
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -1.f, 1.f, rng);
  g_autoptr(GError) error = NULL;
  MirTrace *t = mir_model_run (m, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);

  g_assert_no_error (error);
  return t;
}

static guint
node (MirModel *m, const char *name)
{
  for (guint i = 0; i < mir_model_get_n_nodes (m); i++)
    if (g_str_equal (mir_model_get_node (m, i)->name, name))
      return i;
  g_assert_not_reached ();
}

static void
assert_rect (const MirRect *r, gint64 y0, gint64 x0, gint64 y1, gint64 x1)
{
  g_test_message ("rows [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "), columns [%" G_GINT64_FORMAT
                  ", %" G_GINT64_FORMAT ")", r->y0, r->y1, r->x0, r->x1);
  g_assert_cmpint (r->y0, ==, y0);
  g_assert_cmpint (r->x0, ==, x0);
  g_assert_cmpint (r->y1, ==, y1);
  g_assert_cmpint (r->x1, ==, x1);
}

/* 32×32 → conv 3×3 stride 2 "same" (16×16; TF pads 1 row, at the bottom)
 * → max pool 2×2 (8×8) → conv 3×3 dilation 2 "valid" (4×4).  Unit (1, 2)
 * of the last conv, by hand:
 *   last conv: rows 1 .. 1+4 → [1, 6), columns 2 .. 2+4 → [2, 7);
 *   pool:      rows 2·1 .. 2·5+1 → [2, 12), columns [4, 14);
 *   first conv: rows 2·2 − 0 .. 2·11 + 2 → [4, 25), columns [8, 29). */
static void
test_unit_field_chain (void)
{
  g_autoptr(MirModel) m = model_from (
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 2, \"kernel_size\": [3, 3], "
    "\"strides\": [2, 2], \"padding\": \"same\"}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p\", \"pool_size\": [2, 2]}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 2, \"kernel_size\": [3, 3], "
    "\"dilation_rate\": [2, 2]}}", 32, 32, 1);
  MirTrace *t = trace_of (m, 32, 32, 1, 1);
  MirRect f, p;
  g_autoptr(GError) error = NULL;

  g_assert_true (mir_unit_receptive_field (t, node (m, "c2"), 1, 2, &f, &p, &error));
  g_assert_no_error (error);
  assert_rect (&f, 4, 8, 25, 29);
  assert_rect (&p, 4, 8, 25, 29);
  /* the first conv alone: 3×3 around (2y, 2x), no padding at the top-left */
  g_assert_true (mir_unit_receptive_field (t, node (m, "c1"), 0, 0, &f, &p, &error));
  assert_rect (&f, 0, 0, 3, 3);
  /* its last row and column: the window reaches the padding row TF adds at
   * the bottom (rows 30, 31, 32): the field stops at 32 */
  g_assert_true (mir_unit_receptive_field (t, node (m, "c1"), 15, 15, &f, &p, &error));
  assert_rect (&f, 30, 30, 32, 32);
  assert_rect (&p, 30, 30, 33, 33);
  /* outside the map: an error, not a rectangle */
  g_assert_false (mir_unit_receptive_field (t, node (m, "c2"), 4, 0, &f, &p, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  mir_trace_free (t);
}

/* 8×8 → conv 5×5 "same": 2 rows and columns of padding on each side. */
static void
test_unit_field_same_border (void)
{
  g_autoptr(MirModel) m = model_from (
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 3, \"kernel_size\": [5, 5], "
    "\"padding\": \"same\", \"activation\": \"relu\"}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 4, \"activation\": \"softmax\"}}",
    8, 8, 2);
  MirTrace *t = trace_of (m, 8, 8, 2, 2);
  MirRect f, p;

  g_assert_true (mir_unit_receptive_field (t, node (m, "c"), 0, 0, &f, &p, NULL));
  assert_rect (&f, 0, 0, 3, 3);
  assert_rect (&p, -2, -2, 3, 3);
  g_assert_true (mir_unit_receptive_field (t, node (m, "c"), 7, 3, &f, &p, NULL));
  assert_rect (&f, 5, 1, 8, 6);
  assert_rect (&p, 5, 1, 10, 6);
  /* Dense after Flatten sees the whole image */
  g_assert_true (mir_unit_receptive_field (t, node (m, "d"), 0, 0, &f, &p, NULL));
  assert_rect (&f, 0, 0, 8, 8);
  mir_trace_free (t);
}

static void
check_value (MirTrace *t, guint n, gint64 y, gint64 x, gint64 c, const char *kind)
{
  MirUnitValue v = { 0 };
  g_autoptr(GError) error = NULL;
  double err;

  g_assert_true (mir_unit_compute (t, n, y, x, c, &v, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (v.kind, ==, kind);
  err = fabs (v.value - v.engine) / MAX (fabs (v.engine), 1e-3);
  g_test_message ("%s unit (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                  "): %" G_GINT64_FORMAT " terms, sum %.6g + bias %.6g = %.6g, %s → %.7g; "
                  "engine %.7g (rel. diff %.2g)", kind, y, x, c, v.n_terms, v.sum, v.bias, v.pre,
                  v.activation, v.value, v.engine, err);
  g_assert_cmpfloat (err, <=, VALUE_TOL);
  mir_unit_value_clear (&v);
}

static void
test_unit_values (void)
{
  g_autoptr(MirModel) m = model_from (
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c\", \"filters\": 6, \"kernel_size\": [5, 5], "
    "\"padding\": \"same\", \"activation\": \"relu\"}},"
    "{\"class_name\": \"DepthwiseConv2D\", \"config\": {\"name\": \"dw\", \"kernel_size\": [3, 3], "
    "\"depth_multiplier\": 2, \"strides\": [2, 2], \"activation\": \"tanh\"}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"mp\", \"pool_size\": [2, 2]}},"
    "{\"class_name\": \"AveragePooling2D\", \"config\": {\"name\": \"ap\", \"pool_size\": [3, 3], "
    "\"strides\": [1, 1], \"padding\": \"same\"}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 5, \"activation\": \"softmax\"}}",
    12, 12, 3);
  MirTrace *t = trace_of (m, 12, 12, 3, 3);
  MirUnitValue v = { 0 };
  g_autoptr(GError) error = NULL;

  for (int k = 0; k < 6; k++)
    check_value (t, node (m, "c"), k % 2 ? 11 : 0, k * 2, k, "conv"); /* borders: padding */
  check_value (t, node (m, "c"), 6, 5, 2, "conv");
  check_value (t, node (m, "dw"), 1, 3, 7, "depthwise");
  check_value (t, node (m, "dw"), 4, 0, 0, "depthwise");
  check_value (t, node (m, "mp"), 1, 0, 5, "max-pool");
  check_value (t, node (m, "ap"), 0, 0, 3, "average-pool"); /* corner: 4 cells of 9 */
  check_value (t, node (m, "ap"), 1, 1, 11, "average-pool");
  for (int c = 0; c < 5; c++)
    check_value (t, node (m, "d"), 0, 0, c, "dense");
  /* a layer without a recipe: a clear error */
  g_assert_false (mir_unit_compute (t, node (m, "f"), 0, 0, 0, &v, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
  mir_trace_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/unit/field-chain", test_unit_field_chain);
  g_test_add_func ("/unit/field-same-border", test_unit_field_same_border);
  g_test_add_func ("/unit/values", test_unit_values);
  return g_test_run ();
}
