/* Convolution, pooling, normalisation and padding layers:
 *  1. finite-difference gradient checks for every layer and option;
 *  2. forward outputs against naive float64 direct-loop references written
 *     here, independently of engine/kernels;
 *  3. configuration and shape errors. */
#include <math.h>
#include <string.h>

#include "mir-test-util.h"
#include "mir-conv-util.h"
#include "mir-layer-fuse.h"

/* Gradient checks: central differences with eps = 1e-2 on float32 models,
 * summed loss L = sum(out * R) in double; the relative error
 * ||analytic - numeric|| / (||analytic|| + ||numeric||) must be <= 1e-3 (observed: <= 2e-5).
 * ReLU and max kinks are avoided by the choice of inputs (see InputKind),
 * not by a looser bound. */
#define GRAD_EPS 1e-2
#define GRAD_TOL 1e-3

/* Forward comparisons: |got - want| <= FWD_ABS + FWD_REL * |want|. */
#define FWD_REL 1e-4
#define FWD_ABS 1e-5

typedef enum
{
  INPUT_RANDOM,    /* uniform in [-1, 1) */
  INPUT_DISTINCT,  /* a shuffled ramp with steps of 0.05 > 2 eps: no ties within eps (max pooling) */
  INPUT_NO_KINKS,  /* uniform, redrawn until every pre-activation is >= 0.05 from 0 (ReLU) */
} InputKind;

typedef struct
{
  const char *cls;
  const char *config;
  guint ndim;
  gint64 shape[4]; /* batch included */
  InputKind kind;
  MirRunFlags flags;
} GradCase;

static const GradCase grad_cases[] = {
  /* Conv2D */
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 3}", 4, { 2, 6, 7, 3 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"relu\"}",
    4, { 1, 5, 5, 3 }, INPUT_NO_KINKS, 0 },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
    "\"activation\": \"sigmoid\"}", 4, { 2, 7, 8, 3 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 2, \"padding\": \"same\", \"activation\": \"swish\"}",
    4, { 2, 6, 5, 2 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": [4, 4], \"strides\": [2, 2], \"padding\": \"same\"}",
    4, { 1, 8, 7, 2 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"dilation_rate\": 2, \"padding\": \"same\"}",
    4, { 2, 7, 6, 2 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"dilation_rate\": [2, 2]}",
    4, { 1, 7, 8, 2 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"use_bias\": false}",
    4, { 2, 7, 6, 3 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 5, \"kernel_size\": 1, \"activation\": \"swish\"}",
    4, { 2, 4, 3, 3 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 5, \"kernel_size\": 1, \"strides\": 2, \"use_bias\": false}",
    4, { 2, 5, 4, 3 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": [2, 3], \"strides\": [2, 1], \"padding\": \"same\"}",
    4, { 2, 5, 6, 2 }, INPUT_RANDOM, 0 },
  /* linear_output: the loss sees the pre-activation */
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"swish\"}",
    4, { 1, 5, 4, 2 }, INPUT_RANDOM, MIR_RUN_LOGITS },
  /* grouped Conv2D (issue 20: ResNeXt, RegNet): one GEMM a group */
  { "Conv2D", "{\"filters\": 6, \"kernel_size\": 3, \"groups\": 2, \"padding\": \"same\"}",
    4, { 2, 5, 6, 4 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"groups\": 4, \"strides\": 2, "
    "\"dilation_rate\": 1, \"activation\": \"sigmoid\"}", 4, { 2, 7, 6, 8 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 6, \"kernel_size\": 1, \"groups\": 3, \"use_bias\": false}",
    4, { 2, 3, 4, 6 }, INPUT_RANDOM, 0 },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"groups\": 2, \"dilation_rate\": 2, "
    "\"padding\": \"same\", \"activation\": \"relu\"}", 4, { 1, 6, 6, 4 }, INPUT_NO_KINKS, 0 },
  /* DepthwiseConv2D */
  { "DepthwiseConv2D", "{\"kernel_size\": 3, \"padding\": \"same\"}", 4, { 2, 6, 5, 3 },
    INPUT_RANDOM, 0 },
  { "DepthwiseConv2D", "{\"kernel_size\": 3, \"strides\": 2, \"depth_multiplier\": 2, "
    "\"activation\": \"relu\"}", 4, { 1, 7, 7, 2 }, INPUT_NO_KINKS, 0 },
  { "DepthwiseConv2D", "{\"kernel_size\": 3, \"dilation_rate\": 2, \"depth_multiplier\": 2, "
    "\"padding\": \"same\", \"use_bias\": false, \"activation\": \"swish\"}", 4, { 2, 6, 7, 2 },
    INPUT_RANDOM, 0 },
  { "DepthwiseConv2D", "{\"kernel_size\": 2, \"strides\": 2, \"padding\": \"same\", "
    "\"activation\": \"sigmoid\"}", 4, { 2, 7, 6, 3 }, INPUT_RANDOM, 0 },
  /* SeparableConv2D */
  { "SeparableConv2D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"}",
    4, { 2, 5, 6, 3 }, INPUT_RANDOM, 0 },
  { "SeparableConv2D", "{\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, \"depth_multiplier\": 2, "
    "\"activation\": \"swish\"}", 4, { 2, 7, 8, 2 }, INPUT_RANDOM, 0 },
  { "SeparableConv2D", "{\"filters\": 3, \"kernel_size\": 3, \"dilation_rate\": 2, \"padding\": \"same\", "
    "\"use_bias\": false, \"activation\": \"sigmoid\"}", 4, { 1, 6, 7, 2 }, INPUT_RANDOM, 0 },
  { "SeparableConv2D", "{\"filters\": 2, \"kernel_size\": 2, \"padding\": \"same\", "
    "\"activation\": \"relu\"}", 4, { 1, 4, 5, 2 }, INPUT_NO_KINKS, 0 },
  /* Dense */
  { "Dense", "{\"units\": 5}", 2, { 3, 6 }, INPUT_RANDOM, 0 },
  { "Dense", "{\"units\": 5, \"activation\": \"relu\"}", 2, { 2, 6 }, INPUT_NO_KINKS, 0 },
  { "Dense", "{\"units\": 4, \"activation\": \"sigmoid\"}", 2, { 3, 5 }, INPUT_RANDOM, 0 },
  { "Dense", "{\"units\": 4, \"activation\": \"softmax\"}", 2, { 3, 5 }, INPUT_RANDOM, 0 },
  { "Dense", "{\"units\": 4, \"activation\": \"swish\", \"use_bias\": false}", 2, { 3, 5 },
    INPUT_RANDOM, 0 },
  { "Dense", "{\"units\": 3, \"activation\": \"softmax\"}", 4, { 2, 3, 2, 4 }, INPUT_RANDOM, 0 },
  { "Dense", "{\"units\": 3, \"activation\": \"softmax\"}", 2, { 2, 5 }, INPUT_RANDOM,
    MIR_RUN_LOGITS },
  /* pooling */
  { "MaxPooling2D", "{}", 4, { 2, 6, 6, 3 }, INPUT_DISTINCT, 0 },
  { "MaxPooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}", 4, { 2, 7, 6, 2 },
    INPUT_DISTINCT, 0 },
  { "MaxPooling2D", "{\"pool_size\": [2, 3], \"strides\": 1, \"padding\": \"same\"}",
    4, { 1, 5, 4, 2 }, INPUT_DISTINCT, 0 },
  { "MaxPooling2D", "{\"pool_size\": 3, \"strides\": 2}", 4, { 1, 7, 8, 2 }, INPUT_DISTINCT, 0 },
  { "AveragePooling2D", "{}", 4, { 2, 6, 6, 3 }, INPUT_RANDOM, 0 },
  { "AveragePooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}",
    4, { 2, 7, 6, 2 }, INPUT_RANDOM, 0 },
  { "AveragePooling2D", "{\"pool_size\": [2, 3], \"strides\": 1, \"padding\": \"same\"}",
    4, { 1, 5, 4, 2 }, INPUT_RANDOM, 0 },
  { "AveragePooling2D", "{\"pool_size\": 3, \"strides\": 2}", 4, { 1, 7, 8, 2 }, INPUT_RANDOM, 0 },
  /* explicit pads, ceil_mode, count_include_pad (ONNX pooling, issue 20) */
  { "MaxPooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": [[1, 1], [1, 1]], "
    "\"ceil_mode\": true}", 4, { 2, 6, 7, 2 }, INPUT_DISTINCT, 0 },
  { "AveragePooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": [[1, 1], [0, 2]], "
    "\"ceil_mode\": true, \"count_include_pad\": true}", 4, { 2, 6, 7, 2 }, INPUT_RANDOM, 0 },
  { "AveragePooling2D", "{\"pool_size\": 5, \"strides\": 1, \"padding\": [[2, 2], [2, 2]], "
    "\"count_include_pad\": true}", 4, { 1, 5, 6, 2 }, INPUT_RANDOM, 0 },
  { "AveragePooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": [[1, 0], [1, 1]], "
    "\"ceil_mode\": true}", 4, { 2, 6, 6, 2 }, INPUT_RANDOM, 0 },
  /* ONNX's HardSigmoid, HardSwish and Transpose */
  { "HardSigmoid", "{}", 4, { 2, 3, 4, 3 }, INPUT_RANDOM, 0 },
  { "HardSigmoid", "{\"alpha\": 0.1666667, \"beta\": 0.5}", 2, { 3, 5 }, INPUT_RANDOM, 0 },
  { "HardSwish", "{}", 4, { 2, 3, 4, 3 }, INPUT_RANDOM, 0 },
  { "Permute", "{\"dims\": [3, 1, 2]}", 4, { 2, 3, 4, 5 }, INPUT_RANDOM, 0 },
  { "Permute", "{\"dims\": [2, 3, 1]}", 4, { 2, 3, 4, 5 }, INPUT_RANDOM, 0 },
  { "Permute", "{\"dims\": [2, 1]}", 3, { 2, 3, 4 }, INPUT_RANDOM, 0 },
  { "GlobalAveragePooling2D", "{}", 4, { 2, 4, 5, 3 }, INPUT_RANDOM, 0 },
  { "GlobalAveragePooling2D", "{\"keepdims\": true}", 4, { 2, 4, 5, 3 }, INPUT_RANDOM, 0 },
  { "GlobalMaxPooling2D", "{}", 4, { 2, 4, 5, 3 }, INPUT_DISTINCT, 0 },
  { "GlobalMaxPooling2D", "{\"keepdims\": true}", 4, { 2, 4, 5, 3 }, INPUT_DISTINCT, 0 },
  /* BatchNormalization */
  { "BatchNormalization", "{}", 4, { 2, 3, 4, 3 }, INPUT_RANDOM, 0 },
  { "BatchNormalization", "{\"axis\": [3], \"epsilon\": 0.01}", 4, { 2, 3, 4, 3 }, INPUT_RANDOM,
    MIR_RUN_TRAINING },
  { "BatchNormalization", "{\"axis\": 3, \"center\": false}", 4, { 2, 3, 3, 2 }, INPUT_RANDOM,
    MIR_RUN_TRAINING },
  { "BatchNormalization", "{\"scale\": false}", 4, { 2, 3, 3, 2 }, INPUT_RANDOM, MIR_RUN_TRAINING },
  { "BatchNormalization", "{\"scale\": false, \"center\": false}", 4, { 2, 3, 3, 2 }, INPUT_RANDOM,
    0 },
  { "BatchNormalization", "{\"scale\": false, \"center\": false}", 2, { 6, 3 }, INPUT_RANDOM,
    MIR_RUN_TRAINING },
  /* padding, cropping, upsampling */
  { "ZeroPadding2D", "{\"padding\": 1}", 4, { 2, 3, 4, 2 }, INPUT_RANDOM, 0 },
  { "ZeroPadding2D", "{\"padding\": [2, 1]}", 4, { 1, 3, 4, 2 }, INPUT_RANDOM, 0 },
  { "ZeroPadding2D", "{\"padding\": [[1, 2], [0, 3]]}", 4, { 2, 3, 4, 2 }, INPUT_RANDOM, 0 },
  { "Cropping2D", "{\"cropping\": 1}", 4, { 2, 5, 6, 2 }, INPUT_RANDOM, 0 },
  { "Cropping2D", "{\"cropping\": [2, 1]}", 4, { 1, 6, 5, 2 }, INPUT_RANDOM, 0 },
  { "Cropping2D", "{\"cropping\": [[0, 2], [1, 3]]}", 4, { 2, 5, 7, 2 }, INPUT_RANDOM, 0 },
  { "UpSampling2D", "{}", 4, { 2, 3, 4, 2 }, INPUT_RANDOM, 0 },
  { "UpSampling2D", "{\"size\": [2, 3]}", 4, { 1, 3, 2, 2 }, INPUT_RANDOM, 0 },
  { "UpSampling2D", "{\"interpolation\": \"bilinear\"}", 4, { 2, 3, 4, 2 }, INPUT_RANDOM, 0 },
  { "UpSampling2D", "{\"size\": [3, 2], \"interpolation\": \"bilinear\"}", 4, { 1, 3, 4, 2 },
    INPUT_RANDOM, 0 },
};

static MirModel *
layer_model (const char *cls, const char *config, guint ndim, const gint64 *shape, guint32 seed)
{
  g_autoptr(GError) error = NULL;
  MirShape s = { ndim, { -1 } };
  MirModel *model;

  for (guint i = 1; i < ndim; i++)
    s.dim[i] = shape[i];
  model = mir_test_layer_model (cls, config, 1, &s, seed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

static MirLayer *
model_layer (MirModel *model)
{
  return mir_model_get_node (model, 1)->layer;
}

static MirTensor *
distinct_tensor (guint ndim, const gint64 *shape, GRand *rng)
{
  MirTensor *t = mir_tensor_new (ndim, shape, NULL);

  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = (float) (((double) i - (double) t->numel / 2) * 0.05);
  for (gsize i = t->numel; i > 1; i--) /* Fisher-Yates */
    {
      gsize j = (gsize) g_rand_int_range (rng, 0, (gint32) i);
      float tmp = t->data[i - 1];
      t->data[i - 1] = t->data[j];
      t->data[j] = tmp;
    }
  return t;
}

/* An input whose pre-activations (the layer run with MIR_RUN_LOGITS) all lie
 * at least 0.05 from the ReLU kink: perturbing one input or weight by eps
 * moves a pre-activation by at most eps * max|w or x| = 1e-2. */
static MirTensor *
input_without_kinks (MirModel *model, guint ndim, const gint64 *shape, GRand *rng)
{
  for (guint attempt = 0; attempt < 2000; attempt++)
    {
      g_autoptr(MirTensor) x = mir_test_random_tensor (ndim, shape, -1.0f, 1.0f, rng);
      g_autoptr(GError) error = NULL;
      g_autoptr(MirTrace) trace = mir_model_run (model, &x, 1, MIR_RUN_LOGITS, -1, 0, NULL, &error);
      MirTensor *z;
      float m = INFINITY;

      g_assert_no_error (error);
      z = mir_trace_get_output (trace, 0);
      for (gsize i = 0; i < z->numel; i++)
        m = MIN (m, fabsf (z->data[i]));
      if (m >= 0.05f)
        return g_steal_pointer (&x);
    }
  g_assert_not_reached ();
  return NULL;
}

static void
test_gradcheck (gconstpointer data)
{
  const GradCase *c = data;
  g_autoptr(MirModel) model = layer_model (c->cls, c->config, c->ndim, c->shape, 42);
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  g_autoptr(MirTensor) x = NULL;
  MirGradcheckOptions o = { .eps = GRAD_EPS, .weights = TRUE, .flags = c->flags };

  g_test_message ("%s %s", c->cls, c->config);
  switch (c->kind)
    {
    case INPUT_DISTINCT:
      x = distinct_tensor (c->ndim, c->shape, rng);
      break;
    case INPUT_NO_KINKS:
      x = input_without_kinks (model, c->ndim, c->shape, rng);
      break;
    case INPUT_RANDOM:
    default:
      x = mir_test_random_tensor (c->ndim, c->shape, -1.0f, 1.0f, rng);
      break;
    }
  {
    MirGradcheckResult r = { 0 };
    g_autoptr(GError) error = NULL;

    g_assert_true (mir_test_gradcheck (model, &x, 1, &o, &r, &error));
    g_assert_no_error (error);
    g_test_message ("rel error %.3g over %u elements; worst %s", r.rel_error, r.n_checked,
                    r.worst);
    mir_gradcheck_result_clear (&r);
  }
  mir_assert_gradcheck (model, &x, 1, &o, GRAD_TOL);
}

/* The input gradient alone (explanations and filter patterns ask for no
 * weight gradient): for a convolution over 3 channels (im2col, not
 * Winograd) a batch of 3 goes an image a thread (data_backward_images), a
 * batch of 1 runs on the calling thread with its GEMM split.  Central
 * differences as test_gradcheck, same tolerance. */
static void
test_input_gradient_only (void)
{
  static const gint64 shapes[2][4] = { { 3, 9, 8, 3 }, { 1, 9, 8, 3 } };

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MirModel) model =
        layer_model ("Conv2D", "{\"filters\": 5, \"kernel_size\": 3, \"strides\": 2, "
                     "\"padding\": \"same\", \"activation\": \"relu\"}", 4, shapes[i], 43);
      g_autoptr(GRand) rng = g_rand_new_with_seed (8);
      g_autoptr(MirTensor) x = input_without_kinks (model, 4, shapes[i], rng);
      MirGradcheckOptions o = { .eps = GRAD_EPS, .weights = FALSE, .max_checks = 200 };

      mir_assert_gradcheck (model, &x, 1, &o, GRAD_TOL);
    }
}

/* ------------------------------------------------------------------ */
/* Naive float64 references. */

static void
assert_close (const MirTensor *got, const double *want, gsize n, const char *what)
{
  gsize worst = 0;
  double worst_excess = -INFINITY;

  g_assert_cmpuint (got->numel, ==, n);
  for (gsize i = 0; i < n; i++)
    {
      double d = fabs ((double) got->data[i] - want[i]);
      double excess = d - (FWD_ABS + FWD_REL * fabs (want[i]));
      g_assert_true (isfinite (got->data[i]));
      if (excess > worst_excess)
        {
          worst_excess = excess;
          worst = i;
        }
    }
  if (worst_excess > 0)
    g_test_message ("%s: element %" G_GSIZE_FORMAT ": got %.8g, want %.8g", what, worst,
                    (double) got->data[worst], want[worst]);
  g_assert_cmpfloat (worst_excess, <=, 0);
}

/* TensorFlow's padding, spelled out: "same" gives ceil(in / s) outputs and
 * pads max((out - 1) * s + dilated_k - in, 0) cells, the smaller half before. */
static void
ref_axis (gint64 in, gint64 k, gint64 s, gint64 d, gboolean same, gint64 *out, gint64 *before)
{
  gint64 span = d * (k - 1) + 1;

  if (same)
    {
      gint64 total;
      *out = in / s + (in % s != 0);
      total = (*out - 1) * s + span - in;
      if (total < 0)
        total = 0;
      *before = total / 2;
    }
  else
    {
      *out = (in - span) / s + 1;
      *before = 0;
    }
}

typedef struct
{
  gint64 kh, kw, sh, sw, dh, dw;
  gboolean same;
} RefWin;

#define X4(t, n, y, x, c) ((t)->data[(((n) * (t)->shape[1] + (y)) * (t)->shape[2] + (x)) * (t)->shape[3] + (c)])

/* Conv2D: out[n, oy, ox, f] = b[f] + sum x[n, iy, ix, c] k[ky, kx, c, f]. */
static double *
ref_conv2d (const MirTensor *x, const MirTensor *k, const MirTensor *b, const RefWin *w,
            gint64 *oh, gint64 *ow)
{
  gint64 pt, pl, f = k->shape[3], c = x->shape[3];
  double *y;

  ref_axis (x->shape[1], w->kh, w->sh, w->dh, w->same, oh, &pt);
  ref_axis (x->shape[2], w->kw, w->sw, w->dw, w->same, ow, &pl);
  y = g_new0 (double, x->shape[0] * *oh * *ow * f);
  for (gint64 n = 0; n < x->shape[0]; n++)
    for (gint64 oy = 0; oy < *oh; oy++)
      for (gint64 ox = 0; ox < *ow; ox++)
        for (gint64 fo = 0; fo < f; fo++)
          {
            double s = b ? b->data[fo] : 0;
            for (gint64 ky = 0; ky < w->kh; ky++)
              for (gint64 kx = 0; kx < w->kw; kx++)
                for (gint64 ci = 0; ci < c; ci++)
                  {
                    gint64 iy = oy * w->sh + ky * w->dh - pt;
                    gint64 ix = ox * w->sw + kx * w->dw - pl;
                    if (iy >= 0 && iy < x->shape[1] && ix >= 0 && ix < x->shape[2])
                      s += (double) X4 (x, n, iy, ix, ci) * X4 (k, ky, kx, ci, fo);
                  }
            y[((n * *oh + oy) * *ow + ox) * f + fo] = s;
          }
  return y;
}

/* DepthwiseConv2D: out[.., c * M + m] = b + sum x[n, iy, ix, c] k[ky, kx, c, m]. */
static double *
ref_depthwise (const MirTensor *x, const MirTensor *k, const MirTensor *b, const RefWin *w,
               gint64 *oh, gint64 *ow)
{
  gint64 pt, pl, c = x->shape[3], mult = k->shape[3];
  double *y;

  ref_axis (x->shape[1], w->kh, w->sh, w->dh, w->same, oh, &pt);
  ref_axis (x->shape[2], w->kw, w->sw, w->dw, w->same, ow, &pl);
  y = g_new0 (double, x->shape[0] * *oh * *ow * c * mult);
  for (gint64 n = 0; n < x->shape[0]; n++)
    for (gint64 oy = 0; oy < *oh; oy++)
      for (gint64 ox = 0; ox < *ow; ox++)
        for (gint64 ci = 0; ci < c; ci++)
          for (gint64 m = 0; m < mult; m++)
            {
              double s = b ? b->data[ci * mult + m] : 0;
              for (gint64 ky = 0; ky < w->kh; ky++)
                for (gint64 kx = 0; kx < w->kw; kx++)
                  {
                    gint64 iy = oy * w->sh + ky * w->dh - pt;
                    gint64 ix = ox * w->sw + kx * w->dw - pl;
                    if (iy >= 0 && iy < x->shape[1] && ix >= 0 && ix < x->shape[2])
                      s += (double) X4 (x, n, iy, ix, ci) * X4 (k, ky, kx, ci, m);
                  }
              y[((n * *oh + oy) * *ow + ox) * c * mult + ci * mult + m] = s;
            }
  return y;
}

/* Pooling: max or mean over the window cells inside the input. */
static double *
ref_pool (const MirTensor *x, const RefWin *w, gboolean max, gint64 *oh, gint64 *ow)
{
  gint64 pt, pl, c = x->shape[3];
  double *y;

  ref_axis (x->shape[1], w->kh, w->sh, 1, w->same, oh, &pt);
  ref_axis (x->shape[2], w->kw, w->sw, 1, w->same, ow, &pl);
  y = g_new0 (double, x->shape[0] * *oh * *ow * c);
  for (gint64 n = 0; n < x->shape[0]; n++)
    for (gint64 oy = 0; oy < *oh; oy++)
      for (gint64 ox = 0; ox < *ow; ox++)
        for (gint64 ci = 0; ci < c; ci++)
          {
            double s = max ? -INFINITY : 0;
            gint64 count = 0;
            for (gint64 ky = 0; ky < w->kh; ky++)
              for (gint64 kx = 0; kx < w->kw; kx++)
                {
                  gint64 iy = oy * w->sh + ky - pt;
                  gint64 ix = ox * w->sw + kx - pl;
                  if (iy < 0 || iy >= x->shape[1] || ix < 0 || ix >= x->shape[2])
                    continue;
                  count++;
                  if (max)
                    s = MAX (s, (double) X4 (x, n, iy, ix, ci));
                  else
                    s += X4 (x, n, iy, ix, ci);
                }
            y[((n * *oh + oy) * *ow + ox) * c + ci] = max ? s : s / (double) count;
          }
  return y;
}

typedef struct
{
  const char *cls;
  const char *config;
  RefWin win;
  gint64 mult, filters;
  gint64 shape[4];
  gboolean relu;
} FwdCase;

static const FwdCase fwd_cases[] = {
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 3}", { 3, 3, 1, 1, 1, 1, FALSE }, 1, 4,
    { 2, 9, 8, 3 }, FALSE },
  { "Conv2D", "{\"filters\": 5, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"}",
    { 3, 3, 2, 2, 1, 1, TRUE }, 1, 5, { 2, 10, 9, 4 }, FALSE },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": 4, \"padding\": \"same\", \"activation\": \"relu\"}",
    { 4, 4, 1, 1, 1, 1, TRUE }, 1, 3, { 1, 7, 8, 2 }, TRUE },
  { "Conv2D", "{\"filters\": 3, \"kernel_size\": [2, 3], \"strides\": [1, 2], \"padding\": \"same\"}",
    { 2, 3, 1, 2, 1, 1, TRUE }, 1, 3, { 2, 6, 7, 3 }, FALSE },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"dilation_rate\": 2, \"padding\": \"same\", "
    "\"use_bias\": false}", { 3, 3, 1, 1, 2, 2, TRUE }, 1, 4, { 1, 9, 8, 3 }, FALSE },
  { "Conv2D", "{\"filters\": 6, \"kernel_size\": 1}", { 1, 1, 1, 1, 1, 1, FALSE }, 1, 6,
    { 2, 5, 4, 7 }, FALSE },
  { "Conv2D", "{\"filters\": 6, \"kernel_size\": 1, \"strides\": 2, \"padding\": \"same\"}",
    { 1, 1, 2, 2, 1, 1, TRUE }, 1, 6, { 2, 5, 4, 3 }, FALSE },
  { "DepthwiseConv2D", "{\"kernel_size\": 3, \"padding\": \"same\"}", { 3, 3, 1, 1, 1, 1, TRUE },
    1, 0, { 2, 7, 6, 5 }, FALSE },
  { "DepthwiseConv2D", "{\"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
    "\"depth_multiplier\": 2}", { 3, 3, 2, 2, 1, 1, TRUE }, 2, 0, { 2, 8, 7, 3 }, FALSE },
  { "DepthwiseConv2D", "{\"kernel_size\": [2, 4], \"dilation_rate\": 2, \"depth_multiplier\": 3, "
    "\"use_bias\": false}", { 2, 4, 1, 1, 2, 2, FALSE }, 3, 0, { 1, 6, 9, 2 }, FALSE },
  { "SeparableConv2D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\"}",
    { 3, 3, 1, 1, 1, 1, TRUE }, 1, 4, { 2, 6, 5, 3 }, FALSE },
  { "SeparableConv2D", "{\"filters\": 5, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\", "
    "\"depth_multiplier\": 2, \"activation\": \"relu\"}", { 3, 3, 2, 2, 1, 1, TRUE }, 2, 5,
    { 1, 8, 9, 3 }, TRUE },
  { "MaxPooling2D", "{}", { 2, 2, 2, 2, 1, 1, FALSE }, 0, 0, { 2, 6, 7, 3 }, FALSE },
  { "MaxPooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}",
    { 3, 3, 2, 2, 1, 1, TRUE }, 0, 0, { 2, 8, 7, 3 }, FALSE },
  { "MaxPooling2D", "{\"pool_size\": [2, 2], \"strides\": [1, 1], \"padding\": \"same\"}",
    { 2, 2, 1, 1, 1, 1, TRUE }, 0, 0, { 1, 5, 4, 2 }, FALSE },
  { "AveragePooling2D", "{}", { 2, 2, 2, 2, 1, 1, FALSE }, 0, 0, { 2, 6, 7, 3 }, FALSE },
  { "AveragePooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}",
    { 3, 3, 2, 2, 1, 1, TRUE }, 0, 0, { 2, 8, 7, 3 }, FALSE },
  { "AveragePooling2D", "{\"pool_size\": [2, 2], \"strides\": [1, 1], \"padding\": \"same\"}",
    { 2, 2, 1, 1, 1, 1, TRUE }, 0, 0, { 1, 5, 4, 2 }, FALSE },
  { "AveragePooling2D", "{\"pool_size\": 4, \"strides\": 3, \"padding\": \"same\"}",
    { 4, 4, 3, 3, 1, 1, TRUE }, 0, 0, { 1, 7, 8, 2 }, FALSE },
};

static void
test_forward_reference (gconstpointer data)
{
  const FwdCase *c = data;
  g_autoptr(MirModel) model = layer_model (c->cls, c->config, 4, c->shape, 3);
  MirLayer *layer = model_layer (model);
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, c->shape, -1.0f, 1.0f, rng);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) y = mir_model_predict (model, x, NULL, &error);
  g_autofree double *want = NULL;
  gint64 oh = 0, ow = 0, oc;

  g_test_message ("%s %s", c->cls, c->config);
  g_assert_no_error (error);
  if (g_str_equal (c->cls, "Conv2D"))
    {
      want = ref_conv2d (x, mir_layer_get_weight (layer, "kernel"),
                         mir_layer_get_weight (layer, "bias"), &c->win, &oh, &ow);
      oc = c->filters;
    }
  else if (g_str_equal (c->cls, "DepthwiseConv2D"))
    {
      want = ref_depthwise (x, mir_layer_get_weight (layer, "depthwise_kernel"),
                            mir_layer_get_weight (layer, "bias"), &c->win, &oh, &ow);
      oc = c->shape[3] * c->mult;
    }
  else if (g_str_equal (c->cls, "SeparableConv2D"))
    {
      MirTensor *p = mir_layer_get_weight (layer, "pointwise_kernel");
      MirTensor *b = mir_layer_get_weight (layer, "bias");
      gint64 cm = c->shape[3] * c->mult;
      g_autofree double *t = ref_depthwise (x, mir_layer_get_weight (layer, "depthwise_kernel"),
                                            NULL, &c->win, &oh, &ow);
      gint64 rows = c->shape[0] * oh * ow;

      oc = c->filters;
      want = g_new0 (double, rows * oc);
      for (gint64 r = 0; r < rows; r++)
        for (gint64 f = 0; f < oc; f++)
          {
            double s = b ? b->data[f] : 0;
            for (gint64 j = 0; j < cm; j++)
              s += t[r * cm + j] * p->data[j * oc + f];
            want[r * oc + f] = s;
          }
    }
  else
    {
      want = ref_pool (x, &c->win, g_str_equal (c->cls, "MaxPooling2D"), &oh, &ow);
      oc = c->shape[3];
    }
  if (c->relu)
    for (gint64 i = 0; i < c->shape[0] * oh * ow * oc; i++)
      want[i] = MAX (want[i], 0);
  g_assert_cmpint (y->ndim, ==, 4);
  g_assert_cmpint (y->shape[1], ==, oh);
  g_assert_cmpint (y->shape[2], ==, ow);
  g_assert_cmpint (y->shape[3], ==, oc);
  assert_close (y, want, (gsize) (c->shape[0] * oh * ow * oc), c->cls);
}

/* Dense on a rank-3 input acts on the last axis; softmax normalises it. */
static void
test_dense_forward (void)
{
  gint64 shape[3] = { 2, 3, 4 };
  g_autoptr(MirModel) model = layer_model ("Dense", "{\"units\": 5, \"activation\": \"softmax\"}",
                                           3, shape, 5);
  MirLayer *layer = model_layer (model);
  MirTensor *k = mir_layer_get_weight (layer, "kernel");
  MirTensor *b = mir_layer_get_weight (layer, "bias");
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  g_autoptr(MirTensor) x = mir_test_random_tensor (3, shape, -1.0f, 1.0f, rng);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) y = mir_model_predict (model, x, NULL, &error);
  double want[2 * 3 * 5];

  g_assert_no_error (error);
  g_assert_cmpint (y->ndim, ==, 3);
  g_assert_cmpint (y->shape[2], ==, 5);
  for (gint64 r = 0; r < 6; r++)
    {
      double sum = 0;
      for (gint64 u = 0; u < 5; u++)
        {
          double z = b->data[u];
          for (gint64 i = 0; i < 4; i++)
            z += (double) x->data[r * 4 + i] * k->data[i * 5 + u];
          want[r * 5 + u] = exp (z);
          sum += want[r * 5 + u];
        }
      for (gint64 u = 0; u < 5; u++)
        want[r * 5 + u] /= sum;
    }
  assert_close (y, want, G_N_ELEMENTS (want), "Dense");
  g_assert_true (mir_model_get_head_kind (model) == MIR_HEAD_SOFTMAX);
}

/* Inference uses the moving statistics; training the batch statistics, and
 * moves the moving ones by (1 - momentum). */
static void
test_batchnorm_forward (void)
{
  gint64 shape[4] = { 2, 3, 2, 3 };
  const double eps = 1e-3, mom = 0.9;
  g_autoptr(MirModel) model = layer_model ("BatchNormalization", "{\"momentum\": 0.9}", 4, shape, 9);
  MirLayer *layer = model_layer (model);
  MirTensor *gamma = mir_layer_get_weight (layer, "gamma");
  MirTensor *beta = mir_layer_get_weight (layer, "beta");
  MirTensor *mm = mir_layer_get_weight (layer, "moving_mean");
  MirTensor *mv = mir_layer_get_weight (layer, "moving_variance");
  g_autoptr(GRand) rng = g_rand_new_with_seed (9);
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -2.0f, 3.0f, rng);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) y = mir_model_predict (model, x, NULL, &error);
  g_autoptr(MirTrace) trace = NULL;
  double want[2 * 3 * 2 * 3], mean[3] = { 0 }, var[3] = { 0 }, mm0[3], mv0[3];
  const gsize rows = 12;

  g_assert_no_error (error);
  g_assert_false (layer->weights[2].trainable);
  g_assert_false (layer->weights[3].trainable);
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      gsize c = i % 3;
      want[i] = (x->data[i] - mm->data[c]) / sqrt (mv->data[c] + eps) * gamma->data[c] + beta->data[c];
    }
  assert_close (y, want, G_N_ELEMENTS (want), "BatchNormalization inference");

  for (gsize i = 0; i < rows * 3; i++)
    mean[i % 3] += x->data[i] / (double) rows;
  for (gsize i = 0; i < rows * 3; i++)
    var[i % 3] += pow (x->data[i] - mean[i % 3], 2) / (double) rows;
  for (guint c = 0; c < 3; c++)
    {
      mm0[c] = mm->data[c];
      mv0[c] = mv->data[c];
    }
  trace = mir_model_run (model, &x, 1, MIR_RUN_TRAINING, -1, 0, NULL, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      gsize c = i % 3;
      want[i] = (x->data[i] - mean[c]) / sqrt (var[c] + eps) * gamma->data[c] + beta->data[c];
    }
  assert_close (mir_trace_get_output (trace, 0), want, G_N_ELEMENTS (want),
                "BatchNormalization training");
  for (guint c = 0; c < 3; c++)
    {
      g_assert_cmpfloat_with_epsilon (mm->data[c], mm0[c] * mom + mean[c] * (1 - mom), 1e-5);
      g_assert_cmpfloat_with_epsilon (mv->data[c], mv0[c] * mom + var[c] * (1 - mom), 1e-5);
    }
}

/* Hand-derived values.  Bilinear with half-pixel centres (Keras 2.4+,
 * tf.image.resize), size 2 on [0, 1, 3]: source x = (o + .5) / 2 - .5 =
 * -.25, .25, .75, 1.25, 1.75, 2.25 -> 0 (clamped), .25, .75, 1.5, 2.5, 3. */
static void
test_resample_forward (void)
{
  gint64 shape[4] = { 1, 1, 3, 1 };
  g_autoptr(MirTensor) x = mir_tensor_new (4, shape, NULL);
  g_autoptr(GError) error = NULL;
  const double bilinear[6] = { 0, 0.25, 0.75, 1.5, 2.5, 3 };
  const double nearest[6] = { 0, 0, 1, 1, 3, 3 };
  const double padded[] = { 0, 0, 0, 0, 0, 0,   0, 0, 1, 3, 0, 0 };
  const double cropped[] = { 1 };

  x->data[0] = 0;
  x->data[1] = 1;
  x->data[2] = 3;
  {
    g_autoptr(MirModel) m = layer_model ("UpSampling2D",
                                         "{\"size\": [1, 2], \"interpolation\": \"bilinear\"}",
                                         4, shape, 1);
    g_autoptr(MirTensor) y = mir_model_predict (m, x, NULL, &error);
    g_assert_no_error (error);
    assert_close (y, bilinear, 6, "bilinear");
  }
  {
    g_autoptr(MirModel) m = layer_model ("UpSampling2D", "{\"size\": [1, 2]}", 4, shape, 1);
    g_autoptr(MirTensor) y = mir_model_predict (m, x, NULL, &error);
    g_assert_no_error (error);
    assert_close (y, nearest, 6, "nearest");
  }
  {
    /* ((top 1, bottom 0), (left 1, right 2)): 2 x 6 */
    g_autoptr(MirModel) m = layer_model ("ZeroPadding2D", "{\"padding\": [[1, 0], [1, 2]]}", 4,
                                         shape, 1);
    g_autoptr(MirTensor) y = mir_model_predict (m, x, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (y->shape[1], ==, 2);
    g_assert_cmpint (y->shape[2], ==, 6);
    assert_close (y, padded, G_N_ELEMENTS (padded), "ZeroPadding2D");
  }
  {
    g_autoptr(MirModel) m = layer_model ("Cropping2D", "{\"cropping\": [[0, 0], [1, 1]]}", 4,
                                         shape, 1);
    g_autoptr(MirTensor) y = mir_model_predict (m, x, NULL, &error);
    g_assert_no_error (error);
    assert_close (y, cropped, 1, "Cropping2D");
  }
}

/* Global pooling against a float64 loop: a tiny shape, and one with 3
 * chunks of pixels (143) and 83 channels, so the average's summing kernel
 * takes its 4-vector blocks, single vectors and scalar tail, under each
 * ISA the machine has (portable, AVX2, AVX-512). */
static void
test_global_pool_forward (void)
{
  static const gint64 shapes[][4] = { { 2, 3, 2, 4 }, { 3, 11, 13, 83 } };
  static const char *const isa_env[][2] = {
    { "MIRADA_PORTABLE_KERNELS", "MIRADA_NO_AVX512" }, /* portable */
    { "MIRADA_NO_AVX512", NULL },                      /* AVX2 */
    { NULL, NULL },                                    /* AVX-512 where there */
  };
  g_autoptr(GRand) rng = g_rand_new_with_seed (2);
  g_autoptr(GError) error = NULL;

  for (gsize si = 0; si < G_N_ELEMENTS (shapes); si++)
    {
      const gint64 *shape = shapes[si];
      gint64 n_img = shape[0], hw = shape[1] * shape[2], ch = shape[3];
      g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -1.0f, 1.0f, rng);
      g_autofree double *want = g_new (double, n_img * ch);

      for (gsize isa = 0; isa < G_N_ELEMENTS (isa_env); isa++)
        for (guint max = 0; max < 2; max++)
          for (guint keep = 0; keep < 2; keep++)
            {
              g_autoptr(MirModel) m = NULL;
              g_autoptr(MirTensor) y = NULL;

              for (gsize e = 0; e < 2; e++)
                if (isa_env[isa][e] != NULL)
                  g_setenv (isa_env[isa][e], "1", TRUE);
              m = layer_model (max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D",
                               keep ? "{\"keepdims\": true}" : "{}", 4, shape, 1);
              y = mir_model_predict (m, x, NULL, &error);
              g_unsetenv ("MIRADA_PORTABLE_KERNELS");
              g_unsetenv ("MIRADA_NO_AVX512");
              g_assert_no_error (error);
              g_assert_cmpint (y->ndim, ==, keep ? 4 : 2);
              for (gint64 n = 0; n < n_img; n++)
                for (gint64 c = 0; c < ch; c++)
                  {
                    double s = max ? -INFINITY : 0;
                    for (gint64 p = 0; p < hw; p++)
                      {
                        double v = x->data[(n * hw + p) * ch + c];
                        s = max ? MAX (s, v) : s + v / (double) hw;
                      }
                    want[n * ch + c] = s;
                  }
              assert_close (y, want, (gsize) (n_img * ch), "global pooling");
            }
    }
}

/* Backward without the pre-activation kept by forward (state NULL) must
 * recompute it and give the same gradients as with it. */
static void
test_backward_recompute (void)
{
  static const struct { const char *cls, *config; gint64 shape[4]; guint ndim; } cases[] = {
    { "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": \"swish\"}",
      { 2, 5, 4, 2 }, 4 },
    { "DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 2, \"activation\": \"gelu\"}",
      { 2, 5, 4, 2 }, 4 },
    { "SeparableConv2D", "{\"filters\": 3, \"kernel_size\": 2, \"activation\": \"elu\"}",
      { 2, 5, 4, 2 }, 4 },
    { "Dense", "{\"units\": 4, \"activation\": \"softplus\"}", { 3, 5 }, 2 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MirModel) model = layer_model (cases[i].cls, cases[i].config, cases[i].ndim,
                                               cases[i].shape, 4);
      MirLayer *layer = model_layer (model);
      g_autoptr(GRand) rng = g_rand_new_with_seed (4);
      g_autoptr(MirTensor) x = mir_test_random_tensor (cases[i].ndim, cases[i].shape, -2, 2, rng);
      g_autoptr(GError) error = NULL;
      g_autoptr(MirTensor) y = mir_model_predict (model, x, NULL, &error);
      g_autoptr(MirTensor) dy = mir_test_random_tensor (y->ndim, y->shape, -1, 1, rng);
      g_autoptr(MirTensor) y2 = mir_tensor_new_like (y, NULL);
      MirTensor *dx[2] = { mir_tensor_new_like (x, NULL), mir_tensor_new_like (x, NULL) };
      MirTensor *dw[2][MIR_MAX_WEIGHTS] = { { NULL } };
      gpointer kept = NULL, none = NULL;
      MirRunArgs with = { .for_backward = TRUE, .state = &kept };
      MirRunArgs without = { .for_backward = TRUE, .state = &none };

      g_assert_no_error (error);
      g_assert_true (layer->klass->forward (layer, &x, 1, y2, &with, &error));
      g_assert_nonnull (kept);
      for (guint r = 0; r < 2; r++)
        {
          for (guint j = 0; j < layer->n_weights; j++)
            dw[r][j] = mir_tensor_new (layer->weights[j].shape.ndim, layer->weights[j].shape.dim,
                                       NULL);
          g_assert_true (layer->klass->backward (layer, &x, 1, y2, dy, &dx[r], dw[r],
                                                 r ? &without : &with, &error));
          g_assert_no_error (error);
        }
      g_assert_null (none);
      for (gsize k = 0; k < x->numel; k++)
        g_assert_cmpfloat_with_epsilon (dx[0]->data[k], dx[1]->data[k], 1e-6);
      for (guint j = 0; j < layer->n_weights; j++)
        {
          for (gsize k = 0; k < dw[0][j]->numel; k++)
            g_assert_cmpfloat_with_epsilon (dw[0][j]->data[k], dw[1][j]->data[k], 1e-5);
          mir_tensor_unref (dw[0][j]);
          mir_tensor_unref (dw[1][j]);
        }
      mir_tensor_unref (dx[0]);
      mir_tensor_unref (dx[1]);
      g_free (kept);
    }
}

/* MaxPooling2D backward where the windows do not overlap (pool size <=
 * strides: written cell by cell, W channels at once) against a loop that
 * routes each window's gradient to its first maximum in window order:
 * inputs with many ties (a quarter of the values 0, as after a ReLU) and a
 * NaN, 37 channels (vector blocks and a scalar tail), odd sizes ("valid"
 * leaves the last row and column to no window), strides past the pool (cells
 * between windows), "same" padding (clipped windows), under each ISA.  The
 * routing is exact: the gradients must be equal. */
static void
test_max_pool_backward_disjoint (void)
{
  static const struct { const char *config; gint64 shape[4]; } cases[] = {
    { "{}", { 2, 9, 7, 37 } },
    { "{}", { 3, 8, 8, 64 } },
    { "{\"pool_size\": 2, \"strides\": 3}", { 2, 10, 11, 37 } },
    { "{\"pool_size\": 3, \"strides\": 3, \"padding\": \"same\"}", { 2, 8, 7, 20 } },
  };
  static const char *const isa_env[][2] = {
    { "MIRADA_PORTABLE_KERNELS", "MIRADA_NO_AVX512" },
    { "MIRADA_NO_AVX512", NULL },
    { NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    for (gsize isa = 0; isa < G_N_ELEMENTS (isa_env); isa++)
      {
        const gint64 *sh = cases[i].shape;
        g_autoptr(MirModel) model = layer_model ("MaxPooling2D", cases[i].config, 4, sh, 1);
        MirLayer *layer = model_layer (model);
        g_autoptr(GRand) rng = g_rand_new_with_seed (11 + (guint32) i);
        g_autoptr(MirTensor) x = mir_test_random_tensor (4, sh, -1, 1, rng);
        g_autoptr(GError) error = NULL;
        g_autoptr(MirTensor) y = NULL;
        g_autoptr(MirTensor) dy = NULL;
        g_autoptr(MirTensor) dx = mir_tensor_new_like (x, NULL);
        g_autofree float *want = g_new0 (float, x->numel);
        MirTensor *dw[MIR_MAX_WEIGHTS] = { NULL };
        MirRunArgs args = { .for_backward = TRUE };
        const MirWindow *win = mir_max_pooling2d_window (layer);
        MirConvGeom g;

        for (gsize k = 0; k < x->numel; k++)
          if (g_rand_int_range (rng, 0, 4) == 0)
            x->data[k] = 0.0f;
        x->data[5] = NAN;
        y = mir_model_predict (model, x, NULL, &error);
        g_assert_no_error (error);
        dy = mir_test_random_tensor (y->ndim, y->shape, -1, 1, rng);
        for (gsize k = 0; k < dx->numel; k++)
          dx->data[k] = 7.0f; /* every cell must be written */
        for (gsize e = 0; e < 2; e++)
          if (isa_env[isa][e] != NULL)
            g_setenv (isa_env[isa][e], "1", TRUE);
        g_assert_true (layer->klass->backward (layer, &x, 1, y, dy, &dx, dw, &args, &error));
        g_unsetenv ("MIRADA_PORTABLE_KERNELS");
        g_unsetenv ("MIRADA_NO_AVX512");
        g_assert_no_error (error);

        mir_conv_geom_init (&g, win, x);
        g_assert_true (g.kh <= g.sh && g.kw <= g.sw);
        for (gint64 n = 0; n < g.n; n++)
          for (gint64 oy = 0; oy < g.oh; oy++)
            for (gint64 ox = 0; ox < g.ow; ox++)
              for (gint64 c = 0; c < g.c; c++)
                {
                  gint64 y0, y1, x0, x1;
                  gsize arg = G_MAXSIZE;
                  float best = 0;

                  mir_conv_window_bounds (&g, oy, ox, &y0, &y1, &x0, &x1);
                  for (gint64 iy = y0; iy < y1; iy++)
                    for (gint64 ix = x0; ix < x1; ix++)
                      {
                        gsize off = (gsize) (((n * g.h + iy) * g.w + ix) * g.c + c);

                        if (arg == G_MAXSIZE || x->data[off] > best)
                          {
                            best = x->data[off];
                            arg = off;
                          }
                      }
                  if (arg != G_MAXSIZE)
                    want[arg] += dy->data[((n * g.oh + oy) * g.ow + ox) * g.c + c];
                }
        for (gsize k = 0; k < x->numel; k++)
          if (dx->data[k] != want[k])
            g_error ("case %zu, ISA %zu: dx[%zu] = %g, want %g", i, isa, k, dx->data[k],
                     want[k]);
      }
}

/* ------------------------------------------------------------------ */
/* Errors */

static void
assert_config_error (const char *cls, const char *config, gint code)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  MirLayer *layer;

  g_assert_true (json_parser_load_from_data (parser, config, -1, NULL));
  layer = mir_layer_new_by_name (cls, "my_layer_7", json_node_get_object (json_parser_get_root (parser)),
                                 &error);
  g_assert_null (layer);
  g_assert_error (error, MIR_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "my_layer_7"));
}

/* Builds input (shape) -> layer and expects an error naming the layer and,
 * if @needle is not NULL, containing it (a shape). */
static void
assert_build_error (const char *cls, const char *config, const MirShape *shape, const char *needle)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(MirModel) model = mir_model_new ("m");
  g_autoptr(GError) error = NULL;
  g_autoptr(MirLayer) layer = NULL;
  guint in;

  g_assert_true (json_parser_load_from_data (parser, config, -1, NULL));
  in = (guint) mir_model_add_input (model, "in", shape, &error);
  g_assert_no_error (error);
  layer = mir_layer_new_by_name (cls, "my_layer_8", json_node_get_object (json_parser_get_root (parser)),
                                 &error);
  g_assert_no_error (error);
  g_assert_cmpint (mir_model_add_node (model, "my_layer_8", layer, &in, 1, NULL, &error), <, 0);
  g_assert_nonnull (error);
  g_assert_true (error->domain == MIR_ERROR);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "my_layer_8"));
  if (needle)
    g_assert_nonnull (strstr (error->message, needle));
}

static void
test_errors (void)
{
  MirShape s4 = { 4, { -1, 3, 3, 2 } };
  MirShape s2 = { 2, { -1, 5 } };
  MirShape free_c = { 4, { -1, 4, 4, -1 } };

  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 0}", MIR_ERROR_INVALID);
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": [3, -1]}", MIR_ERROR_INVALID);
  assert_config_error ("Conv2D", "{\"filters\": 0, \"kernel_size\": 3}", MIR_ERROR_INVALID);
  assert_config_error ("Conv2D", "{\"filters\": 2}", MIR_ERROR_FORMAT);
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"bogus\"}",
                       MIR_ERROR_UNSUPPORTED);
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"data_format\": \"channels_first\"}",
                       MIR_ERROR_UNSUPPORTED);
  /* groups must divide the filters (and, at build time, the input channels) */
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"groups\": 3}",
                       MIR_ERROR_INVALID);
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"groups\": 0}",
                       MIR_ERROR_INVALID);
  assert_config_error ("Permute", "{\"dims\": [1, 1, 2]}", MIR_ERROR_INVALID);
  assert_config_error ("Permute", "{\"dims\": [0, 1]}", MIR_ERROR_INVALID);
  assert_config_error ("MaxPooling2D", "{\"pool_size\": 2, \"padding\": [[2, 0], [0, 0]]}",
                       MIR_ERROR_INVALID);
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"strides\": 0}",
                       MIR_ERROR_INVALID);
  assert_config_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 3, \"activation\": \"mish\"}",
                       MIR_ERROR_UNSUPPORTED);
  assert_config_error ("DepthwiseConv2D", "{\"kernel_size\": 3, \"depth_multiplier\": 0}",
                       MIR_ERROR_INVALID);
  assert_config_error ("SeparableConv2D", "{\"filters\": 2, \"kernel_size\": 3, \"padding\": \"bogus\"}",
                       MIR_ERROR_UNSUPPORTED);
  assert_config_error ("DepthwiseConv2D", "{\"kernel_size\": 3, \"data_format\": \"channels_first\"}",
                       MIR_ERROR_UNSUPPORTED);
  assert_config_error ("Dense", "{\"units\": 0}", MIR_ERROR_INVALID);
  assert_config_error ("MaxPooling2D", "{\"pool_size\": 0}", MIR_ERROR_INVALID);
  assert_config_error ("AveragePooling2D", "{\"padding\": \"full\"}", MIR_ERROR_UNSUPPORTED);
  assert_config_error ("GlobalAveragePooling2D", "{\"data_format\": \"channels_first\"}",
                       MIR_ERROR_UNSUPPORTED);
  assert_config_error ("UpSampling2D", "{\"interpolation\": \"bicubic\"}", MIR_ERROR_UNSUPPORTED);
  assert_config_error ("ZeroPadding2D", "{\"padding\": [1, 2, 3]}", MIR_ERROR_FORMAT);
  assert_config_error ("Cropping2D", "{\"cropping\": -1}", MIR_ERROR_INVALID);
  assert_config_error ("BatchNormalization", "{\"axis\": [1, 2]}", MIR_ERROR_UNSUPPORTED);
  assert_config_error ("BatchNormalization", "{\"epsilon\": 0}", MIR_ERROR_INVALID);

  /* a kernel larger than its (valid-padded) input: both shapes named */
  assert_build_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 5}", &s4, "(None, 3, 3, 2)");
  assert_build_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 5}", &s4, "5x5");
  assert_build_error ("DepthwiseConv2D", "{\"kernel_size\": 2, \"dilation_rate\": 3}", &s4, "4x4");
  assert_build_error ("MaxPooling2D", "{\"pool_size\": 4}", &s4, "(None, 3, 3, 2)");
  assert_build_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 1}", &s2, "(None, 5)");
  assert_build_error ("GlobalMaxPooling2D", "{}", &s2, "(None, 5)");
  assert_build_error ("BatchNormalization", "{\"axis\": 1}", &s4, "(None, 3, 3, 2)");
  assert_build_error ("Cropping2D", "{\"cropping\": [[2, 1], [0, 0]]}", &s4, "(None, 3, 3, 2)");
  assert_build_error ("Conv2D", "{\"filters\": 2, \"kernel_size\": 1}", &free_c, "(None, 4, 4, None)");

  /* free spatial size: the mismatch shows at run time, as an error */
  {
    g_autoptr(MirModel) model = NULL;
    g_autoptr(GError) error = NULL;
    gint64 small[4] = { 1, 3, 4, 2 };
    g_autoptr(MirTensor) x = mir_tensor_new (4, small, NULL);
    MirTensor *y;

    model = mir_test_layer_model ("Conv2D", "{\"filters\": 2, \"kernel_size\": 5}", 1,
                                  &(MirShape) { 4, { -1, -1, -1, 2 } }, 1, &error);
    g_assert_no_error (error);
    y = mir_model_predict (model, x, NULL, &error);
    g_assert_null (y);
    g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "(1, 3, 4, 2)"));
    g_assert_nonnull (strstr (error->message, "5x5"));
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (grad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/layers-conv/gradcheck/%02" G_GSIZE_FORMAT "-%s",
                                               i, grad_cases[i].cls);
      g_test_add_data_func (path, &grad_cases[i], test_gradcheck);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (fwd_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/layers-conv/forward/%02" G_GSIZE_FORMAT "-%s",
                                               i, fwd_cases[i].cls);
      g_test_add_data_func (path, &fwd_cases[i], test_forward_reference);
    }
  g_test_add_func ("/layers-conv/forward/dense", test_dense_forward);
  g_test_add_func ("/layers-conv/forward/batchnorm", test_batchnorm_forward);
  g_test_add_func ("/layers-conv/forward/resample", test_resample_forward);
  g_test_add_func ("/layers-conv/forward/global-pool", test_global_pool_forward);
  g_test_add_func ("/layers-conv/backward-recompute", test_backward_recompute);
  g_test_add_func ("/layers-conv/input-gradient-only", test_input_gradient_only);
  g_test_add_func ("/layers-conv/max-pool-backward-disjoint", test_max_pool_backward_disjoint);
  g_test_add_func ("/layers-conv/errors", test_errors);
  return g_test_run ();
}
