/* The inference fast paths of Conv2D (Winograd F(4x4, 3x3), the direct
 * kernel for c <= 4 input channels, bias and
 * activation fused into the GEMM epilogue, pre-packed kernels) against a
 * naive float64 direct loop written here and against the training path
 * (im2col + separate epilogue), on odd sizes, both paddings, batch > 1 and
 * more than one Winograd block, tiles crossing the borders, channel counts
 * that are not multiples of 8 or 16, filter slices (few tiles).  Cases
 * marked "wino" force the Winograd kernel (MIRADA_WINOGRAD=1) whatever the
 * size rule picks, so that small shapes exercise it too.
 *
 * Tolerance: |got - want| <= 1e-4 * (|want| + rms(want)), i.e. 1e-4 relative
 * to the value or, where the sum cancels, to the output's scale. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "mir-act-vec.h"
#include "mir-fold.h"
#include "mir-gemm.h"
#include "mir-optimizer.h"
#include "mir-parallel.h"
#include "mir-test-util.h"

#define REL_TOL 1e-4

typedef struct
{
  const char *config;
  gint64 n, h, w, c;
  gboolean big; /* compared with the im2col path only (the float64 loop is too slow) */
  gboolean wino; /* force the Winograd kernel */
} ConvCase;

static const ConvCase conv_cases[] = {
  /* Winograd: odd output sizes, "same" padding, batch 3, fused relu */
  { "{\"filters\": 256, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    3, 7, 9, 256, FALSE, TRUE },
  /* Winograd, "valid", odd filters, linear with bias */
  { "{\"filters\": 257, \"kernel_size\": 3}", 2, 10, 11, 260, FALSE, TRUE },
  /* Winograd, relu6 without bias */
  { "{\"filters\": 264, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu6\", "
    "\"use_bias\": false}", 1, 6, 5, 256, FALSE, TRUE },
  /* Winograd, an activation applied after the transform (swish) */
  { "{\"filters\": 256, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"swish\"}",
    2, 8, 8, 256, FALSE, TRUE },
  /* Winograd over several tile blocks (2 x 9 x 8 tiles, 512 channels) */
  { "{\"filters\": 256, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    2, 33, 32, 512, TRUE },
  /* Winograd chosen by the size rule: 3 x 7 x 7 tiles in 2 blocks, channels
   * 24 -> 40 (not multiples of 16), borders on the right and bottom */
  { "{\"filters\": 40, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu6\"}",
    3, 26, 25, 24 },
  /* forced: 19 -> 21 channels (vector tails), "same", batch 2 */
  { "{\"filters\": 21, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    2, 13, 11, 19, FALSE, TRUE },
  /* forced: "valid", batch 3, linear, 40 -> 36 */
  { "{\"filters\": 36, \"kernel_size\": 3}", 3, 10, 14, 40, FALSE, TRUE },
  /* forced: one tile block, filters split in slices (300 = 3 x 80 + 60) */
  { "{\"filters\": 300, \"kernel_size\": 3, \"padding\": \"same\", \"use_bias\": false}",
    1, 9, 9, 16, FALSE, TRUE },
  /* forced: images smaller than a tile (3 x 5 outputs) */
  { "{\"filters\": 17, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    2, 3, 5, 17, FALSE, TRUE },
  /* forced: "valid" down to 2 x 2 outputs, sigmoid applied afterwards */
  { "{\"filters\": 24, \"kernel_size\": 3, \"activation\": \"sigmoid\"}", 4, 4, 4, 33, FALSE,
    TRUE },
  /* im2col with fused epilogue: few channels, stride 2, dilation */
  { "{\"filters\": 8, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
    "\"activation\": \"relu\"}", 2, 9, 8, 3 },
  { "{\"filters\": 16, \"kernel_size\": 3, \"dilation_rate\": 2, \"activation\": \"relu6\"}",
    2, 9, 10, 16 },
  { "{\"filters\": 5, \"kernel_size\": [2, 4], \"strides\": [1, 2], \"activation\": \"sigmoid\"}",
    3, 7, 9, 4 },
  /* 1x1 on the packed micro-kernel (mir_pointwise_conv): 130 channels (two
   * 64-channel sums and a tail), 33 filters (a full and a partial panel), no
   * bias, relu6 in registers */
  { "{\"filters\": 33, \"kernel_size\": 1, \"activation\": \"relu6\", \"use_bias\": false}",
    2, 6, 7, 130 },
  /* 15 rows: items of 8 rows and two filter slices (64 + 36), sigmoid after
   * each slice's rows */
  { "{\"filters\": 100, \"kernel_size\": 1, \"activation\": \"sigmoid\"}", 1, 3, 5, 72 },
  /* 1x1: plain GEMM with fused epilogue */
  { "{\"filters\": 40, \"kernel_size\": 1, \"activation\": \"relu\"}", 3, 5, 7, 24 },  /* Direct kernel (c <= 4): 4 vectors of filters x 3 pixels, "valid" */
  { "{\"filters\": 32, \"kernel_size\": 3, \"activation\": \"relu\"}", 3, 17, 19, 3 },
  /* a 32-filter block and an 8-filter block, relu6, "same" */
  { "{\"filters\": 40, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu6\"}",
    2, 13, 11, 3 },
  /* 3 vectors of filters, 5x5 stride 2, 4 channels */
  { "{\"filters\": 24, \"kernel_size\": 5, \"strides\": 2, \"padding\": \"same\", "
    "\"activation\": \"relu\"}", 2, 15, 17, 4 },
  /* a partial vector of filters (10), 7x7 stride 2, one channel, linear */
  { "{\"filters\": 10, \"kernel_size\": 7, \"strides\": 2, \"padding\": \"same\"}",
    1, 9, 23, 1 },
  /* dilation, no bias, an activation applied afterwards */
  { "{\"filters\": 16, \"kernel_size\": 3, \"dilation_rate\": 2, \"padding\": \"same\", "
    "\"activation\": \"swish\", \"use_bias\": false}", 2, 12, 14, 2 },
  /* image narrower than the kernel: every column is a border column */
  { "{\"filters\": 8, \"kernel_size\": 5, \"padding\": \"same\", \"activation\": \"relu\"}",
    2, 3, 4, 3 },
  /* 64 filters, rectangular kernel, strides (1, 2) */
  { "{\"filters\": 64, \"kernel_size\": [2, 4], \"strides\": [1, 2], \"activation\": \"relu\"}",
    2, 7, 21, 3 },
  /* 1x1 over 16 and 12 channels (direct: kh * kw * c <= 16), 48 filters = 32 + 16 */
  { "{\"filters\": 8, \"kernel_size\": 1}", 2, 9, 7, 16 },
  { "{\"filters\": 48, \"kernel_size\": 1, \"activation\": \"relu6\"}", 2, 5, 11, 12 },
  /* rows wide enough for the AVX-512 tiles (16, 12, 8 and 6 pixels for 1..4
   * vectors of filters), with tails and borders */
  { "{\"filters\": 8, \"kernel_size\": 3}", 1, 5, 37, 2 },
  { "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    2, 6, 30, 3 },
  { "{\"filters\": 24, \"kernel_size\": 3, \"padding\": \"same\"}", 1, 4, 29, 3 },
  { "{\"filters\": 32, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu6\"}",
    2, 7, 41, 3 },
  /* 1x1 over 3 channels (direct) */
  { "{\"filters\": 17, \"kernel_size\": 1, \"activation\": \"relu6\"}", 3, 5, 7, 3 },
  /* direct, stride 2, swish in registers (EfficientNet's stem) */
  { "{\"filters\": 32, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
    "\"activation\": \"swish\"}", 2, 15, 17, 3 },
  /* 1x1 as GEMM row blocks over the threads (3600 rows, 11 blocks), swish
   * in the epilogue (EfficientNet's expansion) */
  { "{\"filters\": 96, \"kernel_size\": 1, \"activation\": \"swish\"}", 2, 40, 45, 16 },
  /* the same with sigmoid, no bias, 7 filters (blocks of 4681 rows: one) */
  { "{\"filters\": 7, \"kernel_size\": 1, \"activation\": \"sigmoid\", "
    "\"use_bias\": false}", 3, 11, 13, 40 },
  /* 1x1 with relu over 70 blocks of 32 rows (filters 1200) */
  { "{\"filters\": 1200, \"kernel_size\": 1, \"activation\": \"relu\"}", 1, 7, 320, 24 },
  /* 130 rows: 3 blocks of 64 become 4 of 32-34 rows (a multiple of the
   * threads, bounds on the micro-kernel's rows) */
  { "{\"filters\": 40, \"kernel_size\": 1, \"activation\": \"swish\"}", 1, 10, 13, 24 },
};

typedef struct
{
  GTestDataFunc func;
  gconstpointer data;
  const char *env;   /* MIRADA_PORTABLE_KERNELS, MIRADA_NO_AVX512, MIRADA_RECIP or MIRADA_DW_GENERIC */
  const char *value; /* what it is set to */
} PortableCase;

static double
act_ref (const char *config, double v)
{
  if (strstr (config, "\"relu6\""))
    return v < 0 ? 0 : (v > 6 ? 6 : v);
  if (strstr (config, "\"relu\""))
    return v < 0 ? 0 : v;
  if (strstr (config, "\"swish\""))
    return v / (1 + exp (-v));
  if (strstr (config, "\"sigmoid\""))
    return 1 / (1 + exp (-v));
  return v;
}

/* Naive NHWC convolution in double, TensorFlow padding. */
static double *
conv_ref (MirLayer *layer, const char *config, const MirTensor *x, const MirTensor *y)
{
  const MirTensor *k = layer->weights[0].value;
  const MirTensor *b = layer->n_weights > 1 ? layer->weights[1].value : NULL;
  gint64 n = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
  gint64 oh = y->shape[1], ow = y->shape[2], f = y->shape[3];
  gint64 kh = k->shape[0], kw = k->shape[1];
  gint64 sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  gboolean same = strstr (config, "\"same\"") != NULL;
  double *out = g_new0 (double, y->numel);

  if (strstr (config, "\"strides\": 2"))
    sh = sw = 2;
  if (strstr (config, "\"strides\": [1, 2]"))
    sw = 2;
  if (strstr (config, "\"dilation_rate\": 2"))
    dh = dw = 2;
  if (same)
    {
      pt = MAX ((oh - 1) * sh + (kh - 1) * dh + 1 - h, 0) / 2;
      pl = MAX ((ow - 1) * sw + (kw - 1) * dw + 1 - w, 0) / 2;
    }
  /* Per output pixel, all filters at once (the kernel rows are contiguous
   * over filters); each sum still runs over ky, kx, ci in order. */
  for (gint64 b0 = 0; b0 < n; b0++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        {
          double *o = out + ((b0 * oh + oy) * ow + ox) * f;

          for (gint64 fo = 0; fo < f; fo++)
            o[fo] = b ? b->data[fo] : 0;
          for (gint64 ky = 0; ky < kh; ky++)
            for (gint64 kx = 0; kx < kw; kx++)
              {
                gint64 iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                  continue;
                for (gint64 ci = 0; ci < c; ci++)
                  {
                    double xv = x->data[((b0 * h + iy) * w + ix) * c + ci];
                    const float *kr = k->data + ((ky * kw + kx) * c + ci) * f;
                    for (gint64 fo = 0; fo < f; fo++)
                      o[fo] += xv * kr[fo];
                  }
              }
          for (gint64 fo = 0; fo < f; fo++)
            o[fo] = act_ref (config, o[fo]);
        }
  return out;
}

static void
assert_close (const float *got, const double *want, gsize n, const char *what)
{
  double rms = 0, worst = 0;
  gsize worst_i = 0;

  for (gsize i = 0; i < n; i++)
    rms += want[i] * want[i];
  rms = sqrt (rms / MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      double e = fabs (got[i] - want[i]) / (fabs (want[i]) + rms + 1e-30);
      if (!(e <= worst))
        {
          worst = e;
          worst_i = i;
        }
    }
  g_test_message ("%s: worst relative error %.2e at %" G_GSIZE_FORMAT " (%g vs %g)", what,
                  worst, worst_i, got[worst_i], want[worst_i]);
  g_assert_cmpfloat (worst, <=, REL_TOL);
}

static void
test_conv_fast (gconstpointer data)
{
  const ConvCase *cc = data;
  MirShape in_shape = { 4, { -1, cc->h, cc->w, cc->c } };
  gint64 shape[4] = { cc->n, cc->h, cc->w, cc->c };
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  g_autoptr(MirModel) model = mir_test_layer_model ("Conv2D", cc->config, 1, &in_shape, 3,
                                                    &error);
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) fast = NULL;
  g_autoptr(MirTrace) slow = NULL;
  g_autofree double *want = NULL;
  g_autofree double *slow_d = NULL;
  MirTensor *y, *ys;
  MirLayer *layer;

  g_assert_no_error (error);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);
  if (cc->wino)
    g_setenv ("MIRADA_WINOGRAD", "1", TRUE);
  fast = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  /* The training path: im2col and a separate epilogue. */
  slow = mir_model_run (model, &x, 1, MIR_RUN_FOR_BACKWARD, -1, 0, NULL, &error);
  g_assert_no_error (error);
  y = mir_trace_get_output (fast, 0);
  ys = mir_trace_get_output (slow, 0);
  layer = mir_model_get_node (model, mir_model_get_output (model, 0))->layer;
  slow_d = g_new (double, ys->numel);
  for (gsize i = 0; i < ys->numel; i++)
    slow_d[i] = ys->data[i];
  assert_close (y->data, slow_d, y->numel, "fast vs im2col path");
  if (cc->big)
    {
      g_unsetenv ("MIRADA_WINOGRAD");
      return;
    }
  want = conv_ref (layer, cc->config, x, y);
  assert_close (y->data, want, y->numel, "fast vs float64 reference");

  /* Weights changed in place (as the trainer does): the packed kernel follows. */
  for (gsize i = 0; i < layer->weights[0].value->numel; i++)
    layer->weights[0].value->data[i] *= -0.5f;
  mir_tensor_changed (layer->weights[0].value);
  g_clear_pointer (&fast, mir_trace_free);
  fast = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  y = mir_trace_get_output (fast, 0);
  g_free (want);
  want = conv_ref (layer, cc->config, x, y);
  assert_close (y->data, want, y->numel, "after an in-place weight update");
  g_unsetenv ("MIRADA_WINOGRAD");
}

/* The input gradient of a 3x3 stride-1 Conv2D, run by Winograd on the
 * turned kernel (MIRADA_WINOGRAD=1) and by im2col + GEMM + col2im
 * (MIRADA_WINOGRAD=0), against a float64 loop over the definition
 * dx[iy][ix][c] = sum dy[oy][ox][f] k[ky][kx][c][f], iy = oy - pt + ky:
 * "same" (dy padded by 1) and "valid" (by 2), odd sizes, batch 2, channel
 * counts off the vector widths, more tiles than one block (ConvCase's
 * big and wino are not used: both paths run). */
static const ConvCase back_data_cases[] = {
  { "{\"filters\": 24, \"kernel_size\": 3, \"padding\": \"same\"}", 2, 11, 13, 19 },
  { "{\"filters\": 37, \"kernel_size\": 3}", 2, 10, 9, 16 },
  { "{\"filters\": 64, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    1, 34, 33, 40 },
};

/* dx by definition, float64, for dy at the outputs @y passes (ReLU) */
static double *
backward_data_ref (const ConvCase *bc, const MirTensor *k, const MirTensor *y,
                   const MirTensor *dy)
{
  gint64 oh = y->shape[1], ow = y->shape[2], f = y->shape[3];
  gint64 pt = strstr (bc->config, "\"same\"") ? 1 : 0;
  double *want = g_new0 (double, bc->n * bc->h * bc->w * bc->c);

  for (gint64 b = 0; b < bc->n; b++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        for (gint64 fo = 0; fo < f; fo++)
          {
            gsize at = (gsize) (((b * oh + oy) * ow + ox) * f + fo);
            double g = dy->data[at];

            if (strstr (bc->config, "relu") && !(y->data[at] > 0))
              continue;
            for (gint64 ky = 0; ky < 3; ky++)
              for (gint64 kx = 0; kx < 3; kx++)
                {
                  gint64 iy = oy - pt + ky, ix = ox - pt + kx;
                  if (iy < 0 || iy >= bc->h || ix < 0 || ix >= bc->w)
                    continue;
                  for (gint64 ci = 0; ci < bc->c; ci++)
                    want[((b * bc->h + iy) * bc->w + ix) * bc->c + ci] +=
                      g * k->data[((ky * 3 + kx) * bc->c + ci) * f + fo];
                }
          }
  return want;
}

/* ... then once more after the kernel changed in place (as a training step
 * does): the turned kernel's kept transform must follow. */
static void
test_conv_backward_data (gconstpointer data)
{
  const ConvCase *bc = data;
  MirShape in_shape = { 4, { -1, bc->h, bc->w, bc->c } };
  gint64 shape[4] = { bc->n, bc->h, bc->w, bc->c };
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (17);
  g_autoptr(MirModel) model = mir_test_layer_model ("Conv2D", bc->config, 1, &in_shape, 9,
                                                    &error);
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) dy = NULL;
  MirTensor *k;
  MirLayer *layer;
  guint out_node;

  g_assert_no_error (error);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);
  out_node = mir_model_get_output (model, 0);
  layer = mir_model_get_node (model, out_node)->layer;
  k = layer->weights[0].value;
  for (guint round = 0; round < 2; round++)
    {
      if (round == 1)
        {
          for (gsize i = 0; i < k->numel; i++)
            k->data[i] = k->data[i] * -0.5f + 0.01f;
          mir_tensor_changed (k);
        }
      for (guint force = 0; force < 2; force++)
        {
          g_autoptr(MirTrace) trace = NULL;
          g_autofree double *want = NULL;
          MirTensor *y, *dx;

          g_setenv ("MIRADA_WINOGRAD", force ? "1" : "0", TRUE);
          trace = mir_model_run (model, &x, 1, MIR_RUN_FOR_BACKWARD, -1, 0, NULL, &error);
          g_assert_no_error (error);
          y = mir_trace_get_output (trace, 0);
          if (dy == NULL)
            dy = mir_test_random_tensor (4, y->shape, -1, 1, rng);
          want = backward_data_ref (bc, k, y, dy);
          g_assert_true (mir_trace_backward (trace, out_node, dy, -1, MIR_BACKWARD_DEFAULT, NULL,
                                             &error));
          g_assert_no_error (error);
          dx = mir_trace_get_grad (trace, 0);
          g_assert_nonnull (dx);
          assert_close (dx->data, want, dx->numel,
                        force ? "input gradient, Winograd" : "input gradient, im2col");
        }
    }
  g_unsetenv ("MIRADA_WINOGRAD");
}

/* The layer's packed Winograd kernel follows a training step: inference
 * (packs and caches the kernel), one SGD update of the kernel in place
 * through the optimizer, as the trainer does, then inference again, compared
 * with the im2col path (MIRADA_WINOGRAD=0) on the updated weights; the
 * output must also have moved far more than the tolerance, so a stale cache
 * cannot pass. */
static void
test_winograd_cache_step (void)
{
  MirShape in_shape = { 4, { -1, 12, 10, 48 } };
  gint64 shape[4] = { 2, 12, 10, 48 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (13);
  g_autoptr(MirModel) model = mir_test_layer_model (
    "Conv2D", "{\"filters\": 40, \"kernel_size\": 3, \"padding\": \"same\"}", 1, &in_shape, 5,
    &error);
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) grad = NULL;
  g_autoptr(MirOptimizer) opt = NULL;
  g_autoptr(MirTrace) first = NULL;
  g_autoptr(MirTrace) second = NULL;
  g_autoptr(MirTrace) ref = NULL;
  g_autofree double *want = NULL;
  MirOptimizerOptions options;
  MirTensor *kernel, *y0, *y1, *yr;
  double moved = 0, rms = 0;

  g_assert_no_error (error);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);
  g_setenv ("MIRADA_WINOGRAD", "1", TRUE);
  first = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);

  kernel = mir_model_get_node (model, mir_model_get_output (model, 0))->layer->weights[0].value;
  grad = mir_test_random_tensor (kernel->ndim, kernel->shape, -1, 1, rng);
  mir_optimizer_options_init (&options, MIR_OPTIMIZER_SGD);
  options.learning_rate = 0.01;
  opt = mir_optimizer_new (&options, &error);
  g_assert_no_error (error);
  mir_optimizer_begin_step (opt);
  g_assert_true (mir_optimizer_update (opt, kernel, grad, &error));
  g_assert_no_error (error);

  second = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  g_setenv ("MIRADA_WINOGRAD", "0", TRUE);
  ref = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  g_unsetenv ("MIRADA_WINOGRAD");

  y0 = mir_trace_get_output (first, 0);
  y1 = mir_trace_get_output (second, 0);
  yr = mir_trace_get_output (ref, 0);
  want = g_new (double, yr->numel);
  for (gsize i = 0; i < yr->numel; i++)
    {
      want[i] = yr->data[i];
      rms += want[i] * want[i];
      moved = MAX (moved, fabs ((double) y1->data[i] - y0->data[i]));
    }
  rms = sqrt (rms / MAX (yr->numel, 1));
  assert_close (y1->data, want, yr->numel, "Winograd after an SGD step vs im2col");
  g_test_message ("largest change of an output: %.2e (rms %.2e)", moved, rms);
  g_assert_cmpfloat (moved, >, 100 * REL_TOL * rms);
}

/* Pooling (vectorised over channels, threaded over rows) against float64
 * loops: TF padding, padded cells never win a max nor count in a mean. */
typedef struct
{
  const char *klass;
  gint64 kh, kw, sh, sw;
  gboolean same;
  gint64 n, h, w, c;
} PoolCase;

static const PoolCase pool_cases[] = {
  { "MaxPooling2D", 2, 2, 2, 2, FALSE, 3, 9, 11, 13 },
  { "MaxPooling2D", 3, 3, 2, 2, TRUE, 2, 10, 7, 32 },
  { "MaxPooling2D", 2, 3, 1, 2, TRUE, 2, 5, 8, 7 },
  /* 16 + 16 + 8 + 3 channels (AVX-512, AVX2 and scalar tails) */
  { "MaxPooling2D", 2, 2, 2, 2, FALSE, 2, 7, 9, 43 },
  { "MaxPooling2D", 3, 2, 3, 1, TRUE, 1, 8, 5, 64 },
  { "AveragePooling2D", 2, 2, 2, 2, FALSE, 3, 9, 11, 13 },
  { "AveragePooling2D", 3, 3, 2, 2, TRUE, 2, 10, 7, 40 },
  { "AveragePooling2D", 3, 2, 1, 3, TRUE, 1, 6, 9, 8 },
};

/* The Keras config of @pc's window. */
static char *
pool_config (const PoolCase *pc)
{
  return g_strdup_printf (
    "{\"pool_size\": [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], \"strides\": [%"
    G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], \"padding\": \"%s\"}",
    pc->kh, pc->kw, pc->sh, pc->sw, pc->same ? "same" : "valid");
}

/* Pooling @pc over @x (pc->n x h x w x c) in float64, @oh x @ow outputs. */
static double *
pool_ref (const PoolCase *pc, gboolean is_max, const double *x, gint64 oh, gint64 ow)
{
  double *want = g_new (double, pc->n * oh * ow * pc->c);
  gint64 pt = 0, pl = 0;

  if (pc->same)
    {
      pt = MAX ((oh - 1) * pc->sh + pc->kh - pc->h, 0) / 2;
      pl = MAX ((ow - 1) * pc->sw + pc->kw - pc->w, 0) / 2;
    }
  for (gint64 b = 0; b < pc->n; b++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        for (gint64 k = 0; k < pc->c; k++)
          {
            double acc = is_max ? -INFINITY : 0;
            int count = 0;

            for (gint64 ky = 0; ky < pc->kh; ky++)
              for (gint64 kx = 0; kx < pc->kw; kx++)
                {
                  gint64 iy = oy * pc->sh - pt + ky, ix = ox * pc->sw - pl + kx;
                  double v;
                  if (iy < 0 || iy >= pc->h || ix < 0 || ix >= pc->w)
                    continue;
                  v = x[((b * pc->h + iy) * pc->w + ix) * pc->c + k];
                  acc = is_max ? MAX (acc, v) : acc + v;
                  count++;
                }
            want[((b * oh + oy) * ow + ox) * pc->c + k] = is_max ? acc : acc / count;
          }
  return want;
}

static void
test_pool (gconstpointer data)
{
  const PoolCase *pc = data;
  MirShape in_shape = { 4, { -1, pc->h, pc->w, pc->c } };
  gint64 shape[4] = { pc->n, pc->h, pc->w, pc->c };
  g_autofree char *config = pool_config (pc);
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  g_autoptr(MirModel) model = mir_test_layer_model (pc->klass, config, 1, &in_shape, 3, &error);
  gboolean is_max = g_str_equal (pc->klass, "MaxPooling2D");
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) trace = NULL;
  g_autofree double *want = NULL;
  g_autofree double *xd = NULL;
  gint64 oh, ow;
  MirTensor *y;

  g_assert_no_error (error);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);
  trace = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  y = mir_trace_get_output (trace, 0);
  oh = pc->same ? (pc->h + pc->sh - 1) / pc->sh : (pc->h - pc->kh) / pc->sh + 1;
  ow = pc->same ? (pc->w + pc->sw - 1) / pc->sw : (pc->w - pc->kw) / pc->sw + 1;
  g_assert_cmpint (y->shape[1], ==, oh);
  g_assert_cmpint (y->shape[2], ==, ow);
  xd = g_new (double, x->numel);
  for (gsize i = 0; i < x->numel; i++)
    xd[i] = x->data[i];
  want = pool_ref (pc, is_max, xd, oh, ow);
  assert_close (y->data, want, y->numel, config);
}

/* DepthwiseConv2D (vectorised over channels, 4 or 8 pixels a tile, fused
 * bias + ReLU/ReLU6/sigmoid/swish, threaded) against a float64 loop. */
typedef struct
{
  gint64 k, s, d, mult;
  gboolean same, bias;
  const char *act;
  gint64 n, h, w, c;
} DwCase;

static const DwCase dw_cases[] = {
  { 3, 1, 1, 1, TRUE, TRUE, "relu6", 2, 9, 13, 16 },
  { 3, 2, 1, 1, TRUE, FALSE, "relu6", 3, 11, 10, 40 },
  { 3, 2, 1, 1, FALSE, TRUE, "relu", 2, 12, 9, 13 },
  { 3, 1, 2, 1, TRUE, TRUE, "linear", 1, 10, 11, 24 },
  { 5, 1, 1, 1, TRUE, TRUE, "swish", 2, 7, 9, 9 },
  { 3, 1, 1, 1, TRUE, TRUE, "relu6", 2, 2, 1, 8 },
  { 3, 1, 1, 2, TRUE, TRUE, "relu6", 2, 6, 7, 5 },
  /* in-register swish and sigmoid, 8-pixel tiles (AVX-512), channel tails */
  { 3, 1, 1, 1, TRUE, FALSE, "swish", 2, 5, 37, 24 },
  { 5, 2, 1, 1, TRUE, TRUE, "swish", 1, 23, 41, 21 },
  { 3, 1, 1, 1, FALSE, TRUE, "sigmoid", 2, 6, 30, 19 },
  /* rows whose interior ends in 4- and 2-pixel tiles (14: 8 + 4, 13: 8 + 2 + 1) */
  { 3, 1, 1, 1, TRUE, TRUE, "relu6", 1, 6, 14, 48 },
  { 3, 1, 1, 1, TRUE, TRUE, "swish", 1, 5, 13, 40 },
  /* the kernels' own tiles (3 and 5 wide, stride 1 and 2) on whole 16-channel
   * vectors: rows shorter than a tile (7), a last tile of 6 and of 1 pixel,
   * odd widths at stride 2, no padding */
  { 5, 1, 1, 1, TRUE, TRUE, "swish", 1, 7, 7, 32 },
  { 5, 1, 1, 1, TRUE, FALSE, "relu6", 2, 9, 14, 16 },
  { 3, 2, 1, 1, TRUE, TRUE, "swish", 1, 9, 15, 32 },
  { 5, 2, 1, 1, TRUE, TRUE, "sigmoid", 1, 11, 17, 16 },
  { 3, 1, 1, 1, FALSE, TRUE, "linear", 1, 6, 19, 16 },
  { 5, 2, 1, 1, FALSE, TRUE, "relu", 1, 12, 21, 48 },
};

static void
test_depthwise (gconstpointer data)
{
  const DwCase *dc = data;
  MirShape in_shape = { 4, { -1, dc->h, dc->w, dc->c } };
  gint64 shape[4] = { dc->n, dc->h, dc->w, dc->c };
  g_autofree char *config = g_strdup_printf (
    "{\"kernel_size\": %" G_GINT64_FORMAT ", \"strides\": %" G_GINT64_FORMAT
    ", \"dilation_rate\": %" G_GINT64_FORMAT ", \"depth_multiplier\": %" G_GINT64_FORMAT
    ", \"padding\": \"%s\", \"use_bias\": %s, \"activation\": \"%s\"}",
    dc->k, dc->s, dc->d, dc->mult, dc->same ? "same" : "valid", dc->bias ? "true" : "false",
    dc->act);
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  g_autoptr(MirModel) model = mir_test_layer_model ("DepthwiseConv2D", config, 1, &in_shape, 3,
                                                    &error);
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTrace) slow = NULL;
  g_autofree double *want = NULL;
  g_autofree char *act_cfg = g_strdup_printf ("\"%s\"", dc->act);
  gint64 oh, ow, pt = 0, pl = 0, eff = (dc->k - 1) * dc->d + 1, cm = dc->c * dc->mult;
  MirLayer *layer;
  const MirTensor *k, *b;
  MirTensor *y;

  g_assert_no_error (error);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);
  trace = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  slow = mir_model_run (model, &x, 1, MIR_RUN_FOR_BACKWARD, -1, 0, NULL, &error);
  g_assert_no_error (error);
  y = mir_trace_get_output (trace, 0);
  layer = mir_model_get_node (model, mir_model_get_output (model, 0))->layer;
  k = layer->weights[0].value;
  b = dc->bias ? layer->weights[1].value : NULL;
  oh = dc->same ? (dc->h + dc->s - 1) / dc->s : (dc->h - eff) / dc->s + 1;
  ow = dc->same ? (dc->w + dc->s - 1) / dc->s : (dc->w - eff) / dc->s + 1;
  g_assert_cmpint (y->shape[1], ==, oh);
  g_assert_cmpint (y->shape[2], ==, ow);
  if (dc->same)
    {
      pt = MAX ((oh - 1) * dc->s + eff - dc->h, 0) / 2;
      pl = MAX ((ow - 1) * dc->s + eff - dc->w, 0) / 2;
    }
  want = g_new (double, y->numel);
  for (gint64 n = 0; n < dc->n; n++)
    for (gint64 oy = 0; oy < oh; oy++)
      for (gint64 ox = 0; ox < ow; ox++)
        for (gint64 ci = 0; ci < dc->c; ci++)
          for (gint64 m = 0; m < dc->mult; m++)
            {
              gint64 o = ci * dc->mult + m;
              double acc = b ? b->data[o] : 0;

              for (gint64 ky = 0; ky < dc->k; ky++)
                for (gint64 kx = 0; kx < dc->k; kx++)
                  {
                    gint64 iy = oy * dc->s - pt + ky * dc->d, ix = ox * dc->s - pl + kx * dc->d;
                    if (iy < 0 || iy >= dc->h || ix < 0 || ix >= dc->w)
                      continue;
                    acc += (double) x->data[((n * dc->h + iy) * dc->w + ix) * dc->c + ci] *
                           k->data[((ky * dc->k + kx) * dc->c + ci) * dc->mult + m];
                  }
              want[((n * oh + oy) * ow + ox) * cm + o] = act_ref (act_cfg, acc);
            }
  assert_close (y->data, want, y->numel, config);
  assert_close (mir_trace_get_output (slow, 0)->data, want, y->numel, "training path");
}

/* BatchNormalization (+ activation) folded into the convolution before it in
 * inference runs that keep nothing; runs keeping every output see the
 * unfolded values.  conv(3 -> 16) -> BN -> ReLU(6) -> depthwise stride 2
 * -> BN -> Activation(swish) -> conv 1x1 -> BN (output). */
typedef struct
{
  const char *klass, *name, *config;
} ChainLayer;

/* Makes @model input -> layers[0] -> ... -> layers[n - 1] (the output),
 * initialised; returns the node index of layers[0]. */
static gint
chain_model (MirModel *model, const MirShape *in_shape, const ChainLayer *layers, guint n)
{
  g_autoptr(GError) error = NULL;
  gint idx, first = -1;

  idx = mir_model_add_input (model, "input", in_shape, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(MirLayer) layer = NULL;
      guint prev = (guint) idx;

      json_parser_load_from_data (parser, layers[i].config, -1, &error);
      g_assert_no_error (error);
      layer = mir_layer_new_by_name (layers[i].klass, layers[i].name,
                                     json_node_get_object (json_parser_get_root (parser)),
                                     &error);
      g_assert_no_error (error);
      idx = mir_model_add_node (model, layers[i].name, layer, &prev, 1, NULL, &error);
      g_assert_no_error (error);
      if (i == 0)
        first = idx;
    }
  mir_model_finish (model, TRUE, 3, &error);
  g_assert_no_error (error);
  return first;
}

static const ChainLayer fold_layers[] = {
  { "Conv2D", "conv_a", "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\", "
                        "\"use_bias\": false}" },
  { "BatchNormalization", "bn_a", "{\"epsilon\": 0.001}" },
  { "ReLU", "relu_a", "{\"max_value\": 6.0}" },
  { "DepthwiseConv2D", "dw_b", "{\"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
                               "\"use_bias\": false}" },
  { "BatchNormalization", "bn_b", "{}" },
  { "Activation", "swish_b", "{\"activation\": \"swish\"}" },
  { "Conv2D", "conv_c", "{\"filters\": 8, \"kernel_size\": 1}" },
  { "BatchNormalization", "bn_c", "{}" },
};

static void
randomise_bn (MirLayer *bn, GRand *rng)
{
  for (guint j = 0; j < bn->n_weights; j++)
    {
      MirTensor *t = bn->weights[j].value;
      gboolean var = g_str_equal (bn->weights[j].name, "moving_variance");
      gboolean gamma = g_str_equal (bn->weights[j].name, "gamma");

      for (gsize i = 0; i < t->numel; i++)
        t->data[i] = var ? (float) g_rand_double_range (rng, 0.5, 2.0)
                   : gamma ? (float) g_rand_double_range (rng, 0.5, 1.5)
                           : (float) g_rand_double_range (rng, -0.5, 0.5);
      mir_tensor_changed (t);
    }
}

static void
test_bn_fold (void)
{
  MirShape in_shape = { 4, { -1, 9, 11, 3 } };
  gint64 shape[4] = { 2, 9, 11, 3 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (13);
  g_autoptr(MirModel) model = mir_model_new ("fold");
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) fast = NULL;
  g_autoptr(MirTrace) kept = NULL;
  g_autofree double *want = NULL;
  g_autofree double *conv_want = NULL;
  gint conv_a;
  MirTensor *yk;

  conv_a = chain_model (model, &in_shape, fold_layers, G_N_ELEMENTS (fold_layers));
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirLayer *layer = mir_model_get_node (model, i)->layer;
      if (g_str_equal (layer->klass->name, "BatchNormalization"))
        randomise_bn (layer, rng);
    }
  x = mir_test_random_tensor (4, shape, -1, 1, rng);

  for (guint round = 0; round < 2; round++)
    {
      MirTensor *y;

      g_clear_pointer (&fast, mir_trace_free);
      g_clear_pointer (&kept, mir_trace_free);
      fast = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (mir_fold_cache_size (model->fold_cache), ==, 3);
      kept = mir_model_run (model, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
      g_assert_no_error (error);
      y = mir_trace_get_output (fast, 0);
      yk = mir_trace_get_output (kept, 0);
      g_clear_pointer (&want, g_free);
      want = g_new (double, yk->numel);
      for (gsize i = 0; i < yk->numel; i++)
        want[i] = yk->data[i];
      assert_close (y->data, want, y->numel, "folded vs layer by layer");

      /* Kept outputs are the unfolded ones: conv_a's is the bare convolution. */
      g_clear_pointer (&conv_want, g_free);
      conv_want = conv_ref (mir_model_get_node (model, (guint) conv_a)->layer,
                            fold_layers[0].config, x, mir_trace_get (kept, (guint) conv_a));
      assert_close (mir_trace_get (kept, (guint) conv_a)->data, conv_want,
                    mir_trace_get (kept, (guint) conv_a)->numel, "kept conv_a (unfolded)");

      /* In-place update of the statistics (as training does): the fold follows. */
      for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
        {
          MirLayer *layer = mir_model_get_node (model, i)->layer;
          if (g_str_equal (layer->klass->name, "BatchNormalization"))
            randomise_bn (layer, rng);
        }
    }
}

/* The index of a kernel value that the sampled fingerprint the caches used
 * before the version counter (64 samples at MIN (i * step + i % step, n - 1),
 * step = n / 64) never read: a change there left them stale. */
static gsize
unsampled_index (gsize n)
{
  gsize step = MAX (n / 64, 1);

  for (gsize idx = 1; idx < n; idx++)
    {
      gboolean sampled = FALSE;
      for (gsize i = 0; i < 64 && !sampled; i++)
        sampled = MIN (i * step + i % step, n - 1) == idx;
      if (!sampled)
        return idx;
    }
  g_assert_not_reached ();
}

/* Largest |a - b| over the rms of @b. */
static double
moved_over_rms (const MirTensor *a, const MirTensor *b)
{
  double moved = 0, rms = 0;

  for (gsize i = 0; i < b->numel; i++)
    {
      rms += (double) b->data[i] * b->data[i];
      moved = MAX (moved, fabs ((double) a->data[i] - b->data[i]));
    }
  return moved / MAX (sqrt (rms / MAX (b->numel, 1)), 1e-30);
}

/* One kernel value that no fingerprint sample hit is changed in place (and
 * mir_tensor_changed called, as every writer of weights does): the cached
 * Winograd kernel and the cached BatchNormalization fold must follow.
 * References: the im2col path (MIRADA_WINOGRAD=0) and a run keeping every
 * output (never folded), on the changed weights.  The output must also have
 * moved far more than the tolerance, so a stale cache cannot pass. */
static void
test_weights_version (void)
{
  static const ChainLayer conv_bn[] = {
    { "Conv2D", "conv", "{\"filters\": 40, \"kernel_size\": 3, \"padding\": \"same\", "
                        "\"use_bias\": false}" },
    { "BatchNormalization", "bn", "{}" },
  };
  MirShape in_shape = { 4, { -1, 12, 10, 48 } };
  gint64 shape[4] = { 2, 12, 10, 48 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (29);
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -1, 1, rng);

  for (guint fold = 0; fold < 2; fold++)
    {
      g_autoptr(MirModel) model = NULL;
      g_autoptr(MirTrace) first = NULL;
      g_autoptr(MirTrace) second = NULL;
      g_autoptr(MirTrace) ref = NULL;
      g_autofree double *want = NULL;
      MirTensor *kernel, *y0, *y1, *yr;
      gsize idx;

      if (fold)
        {
          gint conv_i;
          model = mir_model_new ("fold");
          conv_i = chain_model (model, &in_shape, conv_bn, G_N_ELEMENTS (conv_bn));
          randomise_bn (mir_model_get_node (model, (guint) conv_i + 1)->layer, rng);
          kernel = mir_model_get_node (model, (guint) conv_i)->layer->weights[0].value;
        }
      else
        {
          model = mir_test_layer_model ("Conv2D", conv_bn[0].config, 1, &in_shape, 5, &error);
          g_assert_no_error (error);
          kernel = mir_model_get_node (model, mir_model_get_output (model, 0))->layer
                     ->weights[0].value;
        }
      g_setenv ("MIRADA_WINOGRAD", "1", TRUE);
      first = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
      g_assert_no_error (error);
      if (fold)
        g_assert_cmpuint (mir_fold_cache_size (model->fold_cache), ==, 1);

      idx = unsampled_index (kernel->numel);
      kernel->data[idx] += 4.0f;
      mir_tensor_changed (kernel);
      second = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
      g_assert_no_error (error);
      if (fold)
        ref = mir_model_run (model, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
      else
        {
          g_setenv ("MIRADA_WINOGRAD", "0", TRUE);
          ref = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
        }
      g_assert_no_error (error);
      g_unsetenv ("MIRADA_WINOGRAD");

      y0 = mir_trace_get_output (first, 0);
      y1 = mir_trace_get_output (second, 0);
      yr = mir_trace_get_output (ref, 0);
      want = g_new (double, yr->numel);
      for (gsize i = 0; i < yr->numel; i++)
        want[i] = yr->data[i];
      g_test_message ("%s: kernel value %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " changed",
                      fold ? "fold" : "winograd", idx, kernel->numel);
      assert_close (y1->data, want, yr->numel,
                    fold ? "folded after an unsampled change vs unfolded"
                         : "Winograd after an unsampled change vs im2col");
      g_assert_cmpfloat (moved_over_rms (yr, y0), >, 100 * REL_TOL);
    }
}

/* One product against a float64 loop: beta 0 over NaNs, then beta 1
 * (alpha 0.5) over random values; leading dimensions 3 wider than the
 * matrices.  Tolerance: 1e-5 of sum |a b| for each element. */
static void
check_gemm (GRand *rng, gint64 m, gint64 n, gint64 k, gboolean ta, gboolean tb)
{
  gint64 pad = 3;
  gint64 lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  g_autofree float *a = g_new (float, (ta ? k : m) * lda);
  g_autofree float *b = g_new (float, (tb ? n : k) * ldb);
  g_autofree float *c = g_new (float, m * ldc);
  g_autofree float *c1 = g_new (float, m * ldc);

  for (gint64 i = 0; i < (ta ? k : m) * lda; i++)
    a[i] = (float) g_rand_double_range (rng, -1, 1);
  for (gint64 i = 0; i < (tb ? n : k) * ldb; i++)
    b[i] = (float) g_rand_double_range (rng, -1, 1);
  for (gint64 i = 0; i < m * ldc; i++)
    {
      c[i] = NAN;
      c1[i] = (float) g_rand_double_range (rng, -1, 1);
    }
  mir_gemm (ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  mir_gemm (ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 1.0f, c1, ldc);
  for (gint64 i = 0; i < m; i++)
    for (gint64 j = 0; j < n; j++)
      {
        double s = 0, mag = 0;
        for (gint64 p = 0; p < k; p++)
          {
            double av = ta ? a[p * lda + i] : a[i * lda + p];
            double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
            s += av * bv;
            mag += fabs (av * bv);
          }
        g_assert_cmpfloat (fabs (c[i * ldc + j] - s), <=, 1e-5 * mag);
      }
  /* c1 = 0.5 a b + c1_before: c1 - 0.5 c recovers c1_before in range */
  for (gint64 i = 0; i < m; i++)
    for (gint64 j = 0; j < n; j++)
      g_assert_cmpfloat (fabs (c1[i * ldc + j] - 0.5 * c[i * ldc + j]), <=, 1.0 + 1e-3);
}

/* Squeeze-and-excitation: Multiply(x, gate) feeding a 1x1 Conv2D (+ BN,
 * folded) runs inside the convolution (a per-image scaled kernel) in
 * inference runs; the output equals the layer-by-layer run's within
 * REL_TOL.  Not fused where the scaled kernel would cost more than the
 * pass (pixels <= filters), nor with the inputs in the other order... which
 * is fused too (the gate may come first). */
static void
check_se_fusion (gint64 batch, gint64 h, gint64 w, gboolean gate_first, gboolean want_fused)
{
  MirShape in_shape = { 4, { -1, h, w, 6 } };
  gint64 shape[4] = { batch, h, w, 6 };
  static const struct
  {
    const char *klass, *name, *config;
    gint in0, in1; /* indexes into ids[], -1: none */
  } layers[] = {
    { "Conv2D", "expand", "{\"filters\": 16, \"kernel_size\": 1, \"activation\": \"swish\"}",
      0, -1 },
    { "GlobalAveragePooling2D", "gap", "{}", 1, -1 },
    { "Reshape", "reshape", "{\"target_shape\": [1, 1, 16]}", 2, -1 },
    { "Conv2D", "squeeze", "{\"filters\": 4, \"kernel_size\": 1, \"activation\": \"swish\"}",
      3, -1 },
    { "Conv2D", "excite", "{\"filters\": 16, \"kernel_size\": 1, \"activation\": \"sigmoid\"}",
      4, -1 },
    { "Multiply", "scale", "{}", 1, 5 },
    { "Conv2D", "project", "{\"filters\": 12, \"kernel_size\": 1, \"use_bias\": false}", 6,
      -1 },
    { "BatchNormalization", "bn", "{}", 7, -1 },
    /* so that bn's output is in the run's arena (the planner must keep x
     * alive up to "project", which reads it in place of the Multiply) */
    { "GlobalAveragePooling2D", "head", "{}", 8, -1 },
  };
  guint ids[G_N_ELEMENTS (layers) + 1];
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (17);
  g_autoptr(MirModel) model = mir_model_new ("se");
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) fast = NULL;
  g_autoptr(MirTrace) kept = NULL;
  g_autofree double *want = NULL;
  MirTensor *yk;
  gint idx;

  idx = mir_model_add_input (model, "input", &in_shape, &error);
  g_assert_no_error (error);
  ids[0] = (guint) idx;
  for (guint i = 0; i < G_N_ELEMENTS (layers); i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(MirLayer) layer = NULL;
      guint inputs[2];
      guint n_in = layers[i].in1 >= 0 ? 2 : 1;

      json_parser_load_from_data (parser, layers[i].config, -1, &error);
      g_assert_no_error (error);
      layer = mir_layer_new_by_name (layers[i].klass, layers[i].name,
                                     json_node_get_object (json_parser_get_root (parser)),
                                     &error);
      g_assert_no_error (error);
      inputs[0] = ids[layers[i].in0];
      if (n_in == 2)
        {
          inputs[1] = ids[layers[i].in1];
          if (gate_first)
            {
              guint t = inputs[0];
              inputs[0] = inputs[1];
              inputs[1] = t;
            }
        }
      idx = mir_model_add_node (model, layers[i].name, layer, inputs, n_in, NULL, &error);
      g_assert_no_error (error);
      ids[i + 1] = (guint) idx;
    }
  mir_model_finish (model, TRUE, batch, &error);
  g_assert_no_error (error);
  randomise_bn (mir_model_get_node (model, ids[8])->layer, rng);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);

  fast = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  kept = mir_model_run (model, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mir_trace_node_ran (kept, ids[6]));
  g_assert_cmpint (mir_trace_node_ran (fast, ids[6]), ==, !want_fused);
  g_assert_true (mir_trace_node_ran (fast, ids[7]));
  yk = mir_trace_get_output (kept, 0);
  want = g_new (double, yk->numel);
  for (gsize i = 0; i < yk->numel; i++)
    want[i] = yk->data[i];
  assert_close (mir_trace_get_output (fast, 0)->data, want, yk->numel,
                "SE Multiply fused into the 1x1 convolution");
}

static void
test_se_fusion (void)
{
  guint threads = mir_parallel_threads ();

  /* 2 threads: a batch of 3 runs whole images per thread, each packing its
   * own scaled kernel; a batch of 1 splits the image's rows over them */
  mir_parallel_set_threads (2);
  check_se_fusion (3, 9, 11, FALSE, TRUE);  /* 99 pixels > 12 filters */
  check_se_fusion (3, 9, 11, TRUE, TRUE);   /* gate as the first input */
  check_se_fusion (1, 9, 11, FALSE, TRUE);
  check_se_fusion (3, 3, 4, FALSE, FALSE);  /* 12 pixels: not worth it */
  mir_parallel_set_threads (threads);
}

/* A Conv2D feeding only a MaxPooling2D runs as one step in inference runs
 * that keep nothing (mir-layer-fuse.h): the direct kernel pools each band
 * of conv rows while it is in the cache; other convolutions run the two
 * layers in turn.  Checked bit for bit against the layer-by-layer run
 * (MIR_RUN_KEEP_ALL: the same conv kernel, then the pooling; max commutes
 * exactly with the ReLU family), and against float64 loops with REL_TOL.
 * Odd sizes, "valid" pools that drop the last row or column, "same" and
 * overlapping pools, a strided conv, partial filter vectors, rows wide
 * enough for the AVX-512 tiles, a BatchNormalization + ReLU folded in
 * between, and the fallbacks (an activation applied afterwards, 16 input
 * channels, conv outputs large enough to be run an image at a time). */
typedef struct
{
  const char *conv;
  PoolCase pool;   /* window only: n, h, w, c are the conv output's */
  gint64 n, h, w, c;
  gboolean bn;     /* conv -> BatchNormalization -> ReLU -> pool */
} ConvPoolCase;

#define POOL(kh, kw, sh, sw, same) { "MaxPooling2D", kh, kw, sh, sw, same, 0, 0, 0, 0 }

static const ConvPoolCase conv_pool_cases[] = {
  { "{\"filters\": 32, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    POOL (2, 2, 2, 2, FALSE), 3, 13, 11, 1 },
  { "{\"filters\": 40, \"kernel_size\": 3, \"activation\": \"relu6\"}",
    POOL (3, 3, 2, 2, TRUE), 2, 15, 17, 3 },
  { "{\"filters\": 10, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
    "\"use_bias\": false}", POOL (2, 3, 1, 2, TRUE), 2, 11, 14, 2 },
  { "{\"filters\": 32, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    POOL (2, 2, 2, 2, FALSE), 2, 8, 41, 1 },
  { "{\"filters\": 24, \"kernel_size\": 3, \"activation\": \"relu\"}",
    POOL (2, 2, 2, 2, FALSE), 1, 6, 37, 4 },
  { "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"swish\"}",
    POOL (2, 2, 2, 2, FALSE), 2, 9, 10, 3 },
  { "{\"filters\": 24, \"kernel_size\": 3, \"activation\": \"relu\"}",
    POOL (2, 2, 2, 2, FALSE), 2, 10, 9, 16 },
  { "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\", \"use_bias\": false}",
    POOL (2, 2, 2, 2, FALSE), 2, 9, 11, 3, TRUE },
  /* conv outputs over 1 MiB an image: one image at a time (im2col, then
   * Winograd) */
  { "{\"filters\": 16, \"kernel_size\": 3, \"activation\": \"relu\"}",
    POOL (2, 2, 2, 2, FALSE), 3, 96, 95, 8 },
  { "{\"filters\": 16, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    POOL (3, 3, 2, 2, TRUE), 2, 97, 96, 16 },
};

static void
test_conv_pool (gconstpointer data)
{
  const ConvPoolCase *cc = data;
  MirShape in_shape = { 4, { -1, cc->h, cc->w, cc->c } };
  gint64 shape[4] = { cc->n, cc->h, cc->w, cc->c };
  g_autofree char *pconfig = pool_config (&cc->pool);
  ChainLayer layers[4] = {
    { "Conv2D", "conv", cc->conv },
    { "BatchNormalization", "bn", "{}" },
    { "ReLU", "relu", "{}" },
    { "MaxPooling2D", "pool", pconfig },
  };
  g_autoptr(GRand) rng = g_rand_new_with_seed (17);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_model_new ("conv-pool");
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTrace) fast = NULL;
  g_autoptr(MirTrace) kept = NULL;
  g_autofree double *conv_want = NULL;
  g_autofree double *want = NULL;
  MirTensor *y, *yk, *zk;
  MirLayer *conv;
  PoolCase pc = cc->pool;
  gint conv_i;

  if (cc->bn)
    conv_i = chain_model (model, &in_shape, layers, 4);
  else
    {
      layers[1] = layers[3];
      conv_i = chain_model (model, &in_shape, layers, 2);
    }
  conv = mir_model_get_node (model, (guint) conv_i)->layer;
  for (guint j = 1; j < conv->n_weights; j++) /* a bias that is not zero */
    for (gsize i = 0; i < conv->weights[j].value->numel; i++)
      conv->weights[j].value->data[i] = (float) g_rand_double_range (rng, -0.5, 0.5);
  if (cc->bn)
    randomise_bn (mir_model_get_node (model, (guint) conv_i + 1)->layer, rng);
  x = mir_test_random_tensor (4, shape, -1, 1, rng);

  fast = mir_model_run (model, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  g_assert_no_error (error);
  kept = mir_model_run (model, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
  g_assert_no_error (error);
  y = mir_trace_get_output (fast, 0);
  yk = mir_trace_get_output (kept, 0);
  g_assert_cmpuint (y->numel, ==, yk->numel);
  for (guint d = 0; d < 4; d++)
    g_assert_cmpint (y->shape[d], ==, yk->shape[d]);
  if (!cc->bn) /* folding changes the rounding: compared below with REL_TOL */
    g_assert_cmpmem (y->data, y->numel * sizeof (float), yk->data, yk->numel * sizeof (float));

  /* float64: the conv, BN + ReLU on the kept BN output's input, the pool. */
  zk = mir_trace_get (kept, (guint) conv_i);
  conv_want = conv_ref (conv, cc->conv, x, zk);
  if (cc->bn)
    {
      MirLayer *bn = mir_model_get_node (model, (guint) conv_i + 1)->layer;
      const float *gamma = mir_layer_get_weight (bn, "gamma")->data;
      const float *beta = mir_layer_get_weight (bn, "beta")->data;
      const float *mean = mir_layer_get_weight (bn, "moving_mean")->data;
      const float *var = mir_layer_get_weight (bn, "moving_variance")->data;
      gint64 f = zk->shape[3];

      for (gsize i = 0; i < zk->numel; i++)
        {
          gint64 k = (gint64) (i % (gsize) f);
          double v = (conv_want[i] - mean[k]) / sqrt (var[k] + 1e-3) * gamma[k] + beta[k];
          conv_want[i] = v > 0 ? v : 0;
        }
    }
  pc.n = zk->shape[0];
  pc.h = zk->shape[1];
  pc.w = zk->shape[2];
  pc.c = zk->shape[3];
  want = pool_ref (&pc, TRUE, conv_want, y->shape[1], y->shape[2]);
  assert_close (y->data, want, y->numel, "fused conv + pool vs float64");
}

/* mir_gemm_infer() (chunks of columns or rows on the engine's threads, bias
 * and ReLU in each chunk) against a float64 loop: one row (per-row GEMV
 * over column slices, or over blocks of k summed afterwards), few rows, more
 * rows than columns (split by rows),
 * columns not a multiple of 16, lda wider than k, C starting as NaNs.
 * Tolerance: 1e-5 of sum |a b| + |bias| for each element. */
static void
test_gemm_infer (void)
{
  static const gint64 shapes[][3] = { /* m, n, k */
    { 1, 300, 700 }, { 3, 37, 129 }, { 119, 128, 311 }, { 50, 7, 64 }, { 17, 17, 5 },
    { 1, 70, 2500 }, { 4, 33, 3073 }, /* blocks of about k / 8 rows of B, partial sums */
  };
  g_autoptr(GRand) rng = g_rand_new_with_seed (23);

  for (guint si = 0; si < G_N_ELEMENTS (shapes); si++)
    for (guint mode = 0; mode < 3; mode++) /* no bias; bias; bias + relu */
      {
        gint64 m = shapes[si][0], n = shapes[si][1], k = shapes[si][2], lda = k + 5;
        g_autofree float *a = g_new (float, m * lda);
        g_autofree float *b = g_new (float, k * n);
        g_autofree float *bias = g_new (float, n);
        g_autofree float *c = g_new (float, m * n);

        for (gint64 i = 0; i < m * lda; i++)
          a[i] = (float) g_rand_double_range (rng, -1, 1);
        for (gint64 i = 0; i < k * n; i++)
          b[i] = (float) g_rand_double_range (rng, -1, 1);
        for (gint64 j = 0; j < n; j++)
          bias[j] = (float) g_rand_double_range (rng, -3, 3);
        for (gint64 i = 0; i < m * n; i++)
          c[i] = NAN;
        mir_gemm_infer (m, n, k, a, lda, b, mode > 0 ? bias : NULL, mode == 2, c);
        for (gint64 i = 0; i < m; i++)
          for (gint64 j = 0; j < n; j++)
            {
              double s = mode > 0 ? bias[j] : 0, mag = fabs (s);
              for (gint64 p = 0; p < k; p++)
                {
                  s += (double) a[i * lda + p] * b[p * n + j];
                  mag += fabs ((double) a[i * lda + p] * b[p * n + j]);
                }
              if (mode == 2)
                s = MAX (s, 0);
              g_assert_cmpfloat (fabs (c[i * n + j] - s), <=, 1e-5 * mag);
            }
      }
}

/* mir_gemm() for few rows (per-row sgemv, B in blocks of k for m > 1),
 * every transpose combination. */
static void
test_gemm_small_m (void)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  static const gint64 ks[] = { 3, 700, 20000 }; /* 20000: three blocks of k */

  for (gint64 m = 1; m <= 5; m++)
    for (guint ki = 0; ki < G_N_ELEMENTS (ks); ki++)
      for (guint tr = 0; tr < 4; tr++)
        check_gemm (rng, m, 19, ks[ki], tr & 1, tr >> 1);
}

/* Products split over the engine's threads (mir_gemm's gemm_split): by
 * rows, by columns, few rows (sgemv by column blocks), a last part shorter
 * than the others, every transpose combination; with 2 kernel threads
 * whatever the machine has. */
static void
test_gemm_split (void)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (12);
  static const gint64 shapes[][3] = {
    { 300, 40, 70 },  /* rows: parts of 160 */
    { 20, 500, 90 },  /* columns: parts of 256 */
    { 3, 900, 400 },  /* sgemv by columns */
    { 37, 33, 500 },  /* rows: 32 + 5 */
  };

  g_autofree char *saved = g_strdup (g_getenv ("MIRADA_KERNEL_THREADS"));

  g_setenv ("MIRADA_KERNEL_THREADS", "2", TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    for (guint tr = 0; tr < 4; tr++)
      check_gemm (rng, shapes[i][0], shapes[i][1], shapes[i][2], tr & 1, tr >> 1);
  if (saved != NULL)
    g_setenv ("MIRADA_KERNEL_THREADS", saved, TRUE);
  else
    g_unsetenv ("MIRADA_KERNEL_THREADS");
  /* the engine runs OpenBLAS single-threaded (its pool does the splitting) */
  g_assert_cmpint (openblas_get_num_threads (), ==, 1);
}

/* OpenBLAS single-thread sections nest and overlap across threads: the
 * first saves the thread count, the last restores it, and the engine's own
 * thread count is not theirs to change. */
static void
blas_chunk (gint64 begin, gint64 end, gpointer data)
{
  g_atomic_int_add ((gint *) data, (gint) (end - begin));
}

static gpointer
blas_hammer (gpointer data)
{
  for (guint i = 0; i < 300; i++)
    mir_parallel_for_gemm (8, 1, blas_chunk, data);
  return NULL;
}

static void
test_blas_sections (void)
{
  int original = openblas_get_num_threads ();
  int before = original;
  guint engine = mir_parallel_threads ();
  gint count = 0;
  GThread *t[3];

  if (before < 2)
    openblas_set_num_threads (2);
  before = openblas_get_num_threads ();
  mir_blas_single_begin ();
  g_assert_cmpint (openblas_get_num_threads (), ==, 1);
  g_assert_cmpuint (mir_parallel_threads (), ==, engine);
  mir_blas_single_begin ();
  mir_blas_single_end ();
  g_assert_cmpint (openblas_get_num_threads (), ==, 1);
  mir_blas_single_end ();
  g_assert_cmpint (openblas_get_num_threads (), ==, before);

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    t[i] = g_thread_new ("blas-hammer", blas_hammer, &count);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_thread_join (t[i]);
  g_assert_cmpint (count, ==, 3 * 300 * 8);
  g_assert_cmpint (openblas_get_num_threads (), ==, before);
  /* the engine's setting (one thread) for the tests that follow */
  openblas_set_num_threads (original);
}

/* The vectorised sigmoid and swish (mir-act-vec.c) against libm in double
 * (ReLU and ReLU6 exactly):
 * within 6e-7 of the value (a few float ulp) plus 1e-35 absolute (below
 * -87.3 the exponential is clamped to the smallest normal float, so
 * sigmoid(-100) is 1.2e-38 instead of 3.7e-44); NaN stays NaN, sigmoid(+-inf)
 * is 1 and (almost) 0, the ReLUs make it 0; a value's result does not
 * depend on its position (tails of 1..15 values). */
static void
test_act_vec (gconstpointer data)
{
  static const MirActivation acts[] = { MIR_ACT_SIGMOID, MIR_ACT_SWISH, MIR_ACT_RELU,
                                        MIR_ACT_RELU6 };
  gsize n = 20011;
  g_autofree float *x = g_new (float, n);
  g_autofree float *y = g_new (float, n);
  g_autofree float *z = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    x[i] = (float) (-110.0 + 220.0 * (double) i / (double) (n - 1));
  x[17] = 0.0f;
  x[18] = -0.0f;
  x[19] = 1e-30f;
  x[20] = -1e-30f;
  x[21] = 88.5f;
  x[22] = -87.0f;
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    {
      double worst = 0;

      mir_act_vec_forward_parallel (acts[a], x, y, n);
      for (gsize i = 0; i < n; i++)
        {
          double v = x[i], s = 1.0 / (1.0 + exp (-v));
          double want = acts[a] == MIR_ACT_SWISH     ? v * s
                        : acts[a] == MIR_ACT_SIGMOID ? s
                        : acts[a] == MIR_ACT_RELU    ? MAX (v, 0)
                                                     : CLAMP (v, 0, 6);
          double e = fabs (y[i] - want) / (fabs (want) * 6e-7 + 1e-35);

          worst = MAX (worst, e);
        }
      g_test_message ("%s: worst error %.3f of the bound", mir_activation_get_name (acts[a]),
                      worst);
      g_assert_cmpfloat (worst, <=, 1.0);
      /* the same values through odd lengths and offsets */
      for (gsize len = 1; len < 40; len += 3)
        {
          mir_act_vec_forward (acts[a], x + 101 + len, z, len);
          g_assert_cmpmem (z, len * sizeof (float), y + 101 + len, len * sizeof (float));
        }
      /* in place */
      memcpy (z, x, n * sizeof (float));
      mir_activation_forward (acts[a], z, z, n, n);
      g_assert_cmpmem (z, n * sizeof (float), y, n * sizeof (float));
    }
  {
    float special[4] = { NAN, INFINITY, -INFINITY, 5.0f }, out[4];

    mir_act_vec_forward (MIR_ACT_SIGMOID, special, out, 4);
    g_assert_true (isnan (out[0]));
    g_assert_cmpfloat (out[1], ==, 1.0f);
    g_assert_cmpfloat (out[2], >=, 0.0f);
    g_assert_cmpfloat (out[2], <, 1e-37f);
    mir_act_vec_forward (MIR_ACT_SWISH, special, out, 1);
    g_assert_true (isnan (out[0]));
    /* the ReLUs send NaN to 0, as mir_activation_forward() */
    mir_act_vec_forward (MIR_ACT_RELU, special, out, 4);
    g_assert_cmpfloat (out[0], ==, 0.0f);
    g_assert_cmpfloat (out[1], ==, INFINITY);
    g_assert_cmpfloat (out[2], ==, 0.0f);
    mir_act_vec_forward (MIR_ACT_RELU6, special, out, 4);
    g_assert_cmpfloat (out[0], ==, 0.0f);
    g_assert_cmpfloat (out[1], ==, 6.0f);
    g_assert_cmpfloat (out[2], ==, 0.0f);
    g_assert_cmpfloat (out[3], ==, 5.0f);
  }
}

/* The same, with the portable kernels instead of the SIMD clones, with the
 * AVX2 clones on an AVX-512 CPU, or with the other reciprocal of the
 * 16-float sigmoid and swish than this CPU's (mir_vec_prefer_newton). */
static void
test_portable (gconstpointer data)
{
  const PortableCase *pc = data;

  g_setenv (pc->env, pc->value, TRUE);
  pc->func (pc->data);
  g_unsetenv (pc->env);
}

static void
add_variants (const char *path, GTestDataFunc func, gconstpointer data, gboolean recip)
{
  static const char *const envs[][3] = {
    { "portable", "MIRADA_PORTABLE_KERNELS", "1" },
    { "avx2", "MIRADA_NO_AVX512", "1" },
    { "newton", "MIRADA_RECIP", "newton" },
    { "divide", "MIRADA_RECIP", "divide" },
  };

  g_test_add_data_func (path, data, func);
  for (guint i = 0; i < (recip ? 4u : 2u); i++)
    {
      PortableCase *pc = g_new (PortableCase, 1);
      g_autofree char *variant = g_strdup_printf ("%s/%s", path, envs[i][0]);

      pc->func = func;
      pc->data = data;
      pc->env = envs[i][1];
      pc->value = envs[i][2];
      g_test_add_data_func_full (variant, pc, test_portable, g_free);
    }
}

static void
add_both (const char *path, GTestDataFunc func, gconstpointer data)
{
  add_variants (path, func, data, FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (conv_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/kernels-fast/conv2d/%u", i);
      add_variants (path, test_conv_fast, &conv_cases[i], TRUE);
    }
  for (guint i = 0; i < G_N_ELEMENTS (pool_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/kernels-fast/pool/%u", i);
      add_both (path, test_pool, &pool_cases[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (conv_pool_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/kernels-fast/conv-pool/%u", i);
      add_both (path, test_conv_pool, &conv_pool_cases[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (dw_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/kernels-fast/depthwise/%u", i);
      g_autofree char *generic = g_strdup_printf ("%s/generic", path);
      PortableCase *pc = g_new (PortableCase, 1);

      add_variants (path, test_depthwise, &dw_cases[i], TRUE);
      /* the generic tiles where the kernel has tiles of its own */
      *pc = (PortableCase) { test_depthwise, &dw_cases[i], "MIRADA_DW_GENERIC", "1" };
      g_test_add_data_func_full (generic, pc, test_portable, g_free);
    }
  add_variants ("/kernels-fast/act-vec", test_act_vec, NULL, TRUE);
  g_test_add_func ("/kernels-fast/winograd-cache-step", test_winograd_cache_step);
  for (gsize i = 0; i < G_N_ELEMENTS (back_data_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/kernels-fast/conv-backward-data/%" G_GSIZE_FORMAT, i);
      g_test_add_data_func (path, &back_data_cases[i], test_conv_backward_data);
    }
  g_test_add_func ("/kernels-fast/bn-fold", test_bn_fold);
  g_test_add_func ("/kernels-fast/weights-version", test_weights_version);
  g_test_add_func ("/kernels-fast/se-fusion", test_se_fusion);
  g_test_add_func ("/kernels-fast/gemm-small-m", test_gemm_small_m);
  g_test_add_func ("/kernels-fast/gemm-split", test_gemm_split);
  g_test_add_func ("/kernels-fast/gemm-infer", test_gemm_infer);
  g_test_add_func ("/kernels-fast/blas-sections", test_blas_sections);
  return g_test_run ();
}
