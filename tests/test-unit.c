/* The convolution explainer's numbers (issue 19): receptive fields against
 * rectangles worked out by hand (stride, "same" padding, dilation, pooling
 * chains, Dense after Flatten), and a unit's value recomputed from its
 * patch, kernel and bias against the engine's own output (conv with ReLU at
 * a padded border, depthwise, separable, Dense with softmax after Flatten,
 * max and average pooling); "same" against "valid" map sizes by hand and
 * against the engine's output shapes. */
#include <math.h>
#include <string.h>

#include "explain/mir-unit.h"
#include "io/mir-keras.h"
#include "kernels/mir-conv-util.h"
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

/* SeparableConv2D (depthwise 3×3, multiplier 2, then 1×1 to 4 filters,
 * stride 2, "same", tanh: no unit hidden by a ReLU's zero) and a dilated one: the unit from the folded
 * kernel against the engine; their fields by hand. */
static void
test_unit_separable (void)
{
  g_autoptr(MirModel) m = model_from (
    "{\"class_name\": \"SeparableConv2D\", \"config\": {\"name\": \"s1\", \"filters\": 4, "
    "\"kernel_size\": [3, 3], \"depth_multiplier\": 2, \"strides\": [2, 2], \"padding\": \"same\", "
    "\"activation\": \"tanh\"}},"
    "{\"class_name\": \"SeparableConv2D\", \"config\": {\"name\": \"s2\", \"filters\": 3, "
    "\"kernel_size\": [2, 3], \"dilation_rate\": [2, 2], \"activation\": \"sigmoid\"}}",
    11, 11, 3);
  MirTrace *t = trace_of (m, 11, 11, 3, 4);
  MirRect f, p;

  /* s1: 11 → ceil(11/2) = 6, TF pads (5·2 + 3 − 11) = 2 rows: 1 top, 1 bottom */
  for (int k = 0; k < 4; k++)
    check_value (t, node (m, "s1"), k, 5 - k, k, "separable");
  check_value (t, node (m, "s1"), 0, 0, 1, "separable");
  check_value (t, node (m, "s1"), 5, 5, 2, "separable");
  /* s2: a 2×3 window dilated 2 (3×5 wide) over 6×6, "valid": 4×2 */
  for (int k = 0; k < 3; k++)
    check_value (t, node (m, "s2"), 3 - k % 2, k % 2, k, "separable");
  /* fields: s1 unit (0, 0): input rows 2·0 − 1 .. +3 → [−1, 2) → [0, 2) clipped;
   * s2 unit (1, 1): s1 rows [1, 1 + 2·1 + 1) = [1, 4), columns [1, 1 + 2·2 + 1) = [1, 6);
   * input rows [2·1 − 1, 2·3 − 1 + 3) = [1, 8), columns [1, 2·5 − 1 + 3) = [1, 12) → [1, 11) */
  g_assert_true (mir_unit_receptive_field (t, node (m, "s1"), 0, 0, &f, &p, NULL));
  assert_rect (&f, 0, 0, 2, 2);
  assert_rect (&p, -1, -1, 2, 2);
  g_assert_true (mir_unit_receptive_field (t, node (m, "s2"), 1, 1, &f, &p, NULL));
  assert_rect (&f, 1, 1, 8, 11);
  assert_rect (&p, 1, 1, 8, 12);
  mir_trace_free (t);
}

/* An average pool "same" with stride 2 after a valid stride-1 max pool:
 * the field of a pooling chain with padding at the far border. */
static void
test_unit_field_pool_chain (void)
{
  g_autoptr(MirModel) m = model_from (
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"mp\", \"pool_size\": [3, 3], "
    "\"strides\": [1, 1]}},"
    "{\"class_name\": \"AveragePooling2D\", \"config\": {\"name\": \"ap\", \"pool_size\": [2, 2], "
    "\"padding\": \"same\"}}", 9, 9, 2);
  MirTrace *t = trace_of (m, 9, 9, 2, 5);
  MirRect f, p;

  /* mp: 9 → 7; ap: 7 → 4, pads (3·2 + 2 − 7) = 1 at the bottom/right.
   * ap unit (3, 1): mp rows [6, 8) → [6, 7) clipped, columns [2, 4);
   * input rows [6, 6 + 3) = [6, 9), columns [2, 3 + 3) = [2, 6);
   * unclipped: mp rows [6, 8) → input [6, 10) */
  g_assert_true (mir_unit_receptive_field (t, node (m, "ap"), 3, 1, &f, &p, NULL));
  assert_rect (&f, 6, 2, 9, 6);
  assert_rect (&p, 6, 2, 10, 6);
  check_value (t, node (m, "ap"), 3, 3, 1, "average-pool"); /* corner: 1 cell of 4 */
  check_value (t, node (m, "mp"), 6, 0, 0, "max-pool");
  mir_trace_free (t);
}

typedef struct
{
  int in_h, in_w, kh, kw, sh, sw, dh, dw;
  /* by hand: TF's rules */
  gint64 same_h, same_w, valid_h, valid_w, pt, pb, pl, pr, cover_h, cover_w;
  /* the units of the "same" map whose window reads no padding */
  gint64 vu_y0, vu_y1, vu_x0, vu_x1;
} PadCase;

static const PadCase pad_cases[] = {
  /* 28, 3×3, s1: same 28 (1 + 1), valid 26; units 1..26 read no padding */
  { 28, 28, 3, 3, 1, 1, 1, 1, 28, 28, 26, 26, 1, 1, 1, 1, 28, 28, 1, 27, 1, 27 },
  /* 32, 3×3, s2: same 16, total (15·2 + 3 − 32) = 1 → 0 + 1; valid (29 / 2) + 1 = 15,
   * reading rows [0, 14·2 + 3) = [0, 31); units 0..14 */
  { 32, 32, 3, 3, 2, 2, 1, 1, 16, 16, 15, 15, 0, 1, 0, 1, 31, 31, 0, 15, 0, 15 },
  /* 12, 3×3 dilated 2 (5 wide): same 12 (2 + 2), valid 8; units 2..9 */
  { 12, 12, 3, 3, 1, 1, 2, 2, 12, 12, 8, 8, 2, 2, 2, 2, 12, 12, 2, 10, 2, 10 },
  /* 10×9, 5×3, s3×2: rows same 4, total (3·3 + 5 − 10) = 4 → 2 + 2, valid 2, cover
   * 3 + 5 = 8, units ceil(2/3) = 1 .. (10 + 2 − 5)/3 = 2; columns same 5, total
   * (4·2 + 3 − 9) = 2 → 1 + 1, valid 4, cover 9, units 1 .. (9 + 1 − 3)/2 = 3 */
  { 10, 9, 5, 3, 3, 2, 1, 1, 4, 5, 2, 4, 2, 2, 1, 1, 8, 9, 1, 3, 1, 4 },
  /* 7, 2×2 pool-like, s2: same 4 (0 + 1), valid 3 reading [0, 6); units 0..2 */
  { 7, 7, 2, 2, 2, 2, 1, 1, 4, 4, 3, 3, 0, 1, 0, 1, 6, 6, 0, 3, 0, 3 },
};

/* "same" against "valid": the sizes against numbers worked out by hand, and
 * against the output shape of a model built with each padding (conv,
 * separable and pooling, which share the rule). */
static void
test_unit_padding_sizes (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (pad_cases); i++)
    {
      const PadCase *pc = &pad_cases[i];
      MirWindow win = { pc->kh, pc->kw, pc->sh, pc->sw, pc->dh, pc->dw, TRUE };
      MirPaddingSizes ps;

      mir_window_padding_sizes (&win, pc->in_h, pc->in_w, &ps);
      g_test_message ("case %" G_GSIZE_FORMAT ": same %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                      ", valid %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT, i, ps.same_h, ps.same_w,
                      ps.valid_h, ps.valid_w);
      g_assert_cmpint (ps.same_h, ==, pc->same_h);
      g_assert_cmpint (ps.same_w, ==, pc->same_w);
      g_assert_cmpint (ps.valid_h, ==, pc->valid_h);
      g_assert_cmpint (ps.valid_w, ==, pc->valid_w);
      g_assert_cmpint (ps.pad_top, ==, pc->pt);
      g_assert_cmpint (ps.pad_bottom, ==, pc->pb);
      g_assert_cmpint (ps.pad_left, ==, pc->pl);
      g_assert_cmpint (ps.pad_right, ==, pc->pr);
      assert_rect (&ps.valid_cover, 0, 0, pc->cover_h, pc->cover_w);
      assert_rect (&ps.valid_units, pc->vu_y0, pc->vu_x0, pc->vu_y1, pc->vu_x1);
      g_assert_cmpstr (ps.model, ==, "same");
      g_assert_cmpint (ps.out_h, ==, ps.same_h);
      /* valid units: every one of the valid map, in the same map, shifted */
      g_assert_cmpint (ps.valid_units.y1 - ps.valid_units.y0, <=, ps.valid_h);

      /* the engine's own shapes, for a model built with each padding */
      for (int layer = 0; layer < 3; layer++)
        for (int same = 0; same < 2; same++)
          {
            g_autofree char *json = NULL;
            g_autoptr(MirModel) m = NULL;
            g_autoptr(GError) error = NULL;
            MirTrace *t;
            MirTensor *y;
            MirPaddingSizes got;
            MirRect vf, reach;
            const char *pad = same ? "same" : "valid";

            if (layer == 2 && pc->dh != 1)
              continue; /* pooling has no dilation */
            json = layer == 0
              ? g_strdup_printf ("{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"l\", "
                                 "\"filters\": 2, \"kernel_size\": [%d, %d], \"strides\": [%d, %d], "
                                 "\"dilation_rate\": [%d, %d], \"padding\": \"%s\"}}",
                                 pc->kh, pc->kw, pc->sh, pc->sw, pc->dh, pc->dw, pad)
              : layer == 1
              ? g_strdup_printf ("{\"class_name\": \"SeparableConv2D\", \"config\": {\"name\": \"l\", "
                                 "\"filters\": 2, \"kernel_size\": [%d, %d], \"strides\": [%d, %d], "
                                 "\"dilation_rate\": [%d, %d], \"padding\": \"%s\"}}",
                                 pc->kh, pc->kw, pc->sh, pc->sw, pc->dh, pc->dw, pad)
              : g_strdup_printf ("{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"l\", "
                                 "\"pool_size\": [%d, %d], \"strides\": [%d, %d], \"padding\": \"%s\"}}",
                                 pc->kh, pc->kw, pc->sh, pc->sw, pad);
            m = model_from (json, pc->in_h, pc->in_w, 1);
            t = trace_of (m, pc->in_h, pc->in_w, 1, 6);
            y = mir_trace_get (t, node (m, "l"));
            g_assert_true (mir_unit_padding (t, node (m, "l"), &got, &vf, &reach, &error));
            g_assert_no_error (error);
            g_assert_cmpstr (got.model, ==, pad);
            g_assert_cmpint (y->shape[1], ==, same ? pc->same_h : pc->valid_h);
            g_assert_cmpint (y->shape[2], ==, same ? pc->same_w : pc->valid_w);
            g_assert_cmpint (got.out_h, ==, y->shape[1]);
            g_assert_cmpint (got.out_w, ==, y->shape[2]);
            /* the first layer: the regions are in the input's own pixels */
            assert_rect (&vf, 0, 0, pc->cover_h, pc->cover_w);
            assert_rect (&reach, -pc->pt, -pc->pl, pc->in_h + pc->pb, pc->in_w + pc->pr);
            /* the units that read no padding, counted one by one from the
             * layer's own geometry */
            {
              gint64 eh = (pc->kh - 1) * pc->dh + 1, ew = (pc->kw - 1) * pc->dw + 1;
              gint64 pt = same ? pc->pt : 0, pl = same ? pc->pl : 0, n = 0, n_expect;

              for (gint64 yy = 0; yy < y->shape[1]; yy++)
                for (gint64 xx = 0; xx < y->shape[2]; xx++)
                  n += yy * pc->sh - pt >= 0 && yy * pc->sh - pt + eh <= pc->in_h &&
                       xx * pc->sw - pl >= 0 && xx * pc->sw - pl + ew <= pc->in_w;
              n_expect = (got.valid_units.y1 - got.valid_units.y0) *
                         (got.valid_units.x1 - got.valid_units.x0);
              g_assert_cmpint (n, ==, n_expect);
              if (!same)
                g_assert_cmpint (n, ==, y->shape[1] * y->shape[2]);
            }
            mir_trace_free (t);
          }
    }
  /* a window larger than its input: no "valid" position */
  {
    MirWindow win = { 5, 5, 1, 1, 1, 1, TRUE };
    MirPaddingSizes ps;

    mir_window_padding_sizes (&win, 3, 4, &ps);
    g_assert_cmpint (ps.valid_h, ==, 0);
    g_assert_cmpint (ps.valid_w, ==, 0);
    g_assert_cmpint (ps.same_h, ==, 3);
    g_assert_cmpint (ps.same_w, ==, 4);
    g_assert_cmpint (ps.valid_units.y1 - ps.valid_units.y0, ==, 0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/unit/field-chain", test_unit_field_chain);
  g_test_add_func ("/unit/field-same-border", test_unit_field_same_border);
  g_test_add_func ("/unit/values", test_unit_values);
  g_test_add_func ("/unit/separable", test_unit_separable);
  g_test_add_func ("/unit/field-pool-chain", test_unit_field_pool_chain);
  g_test_add_func ("/unit/padding-sizes", test_unit_padding_sizes);
  return g_test_run ();
}
