/* Inverted-residual blocks run as one step (engine/layers/mir-fuse-block.c):
 * a model's planned run with the fusion must give bit for bit the values of
 * the same model run layer by layer (MIRADA_FUSE_BLOCKS=0, the same folded
 * weights and kernels), and agree within 1e-5 of the largest value with a
 * KEEP_ALL run, which folds nothing (an independent path: BatchNormalization
 * as its own layer).  The cases cover what the bands must get right: strides
 * 1 and 2, "same" and "valid" padding, odd sizes, dilation, 3x3 and 5x5
 * kernels, a residual Add, a block without projection (its depthwise output
 * read twice, as EfficientNet's squeeze-and-excitation does), expansions on
 * the direct and the GEMM kernels, batches of 1 and 3, and 1 to 3 threads
 * (bands of one image meeting in its middle, rows a thread expanded for the
 * previous step reused). */
#include <math.h>
#include <string.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "kernels/mir-parallel.h"
#include "layers/mir-layer-fuse.h"

typedef struct
{
  const char *name;
  gint64 h, w, c;     /* block input */
  gint64 e;           /* expanded channels */
  gint64 co;          /* projected channels; 0: no projection */
  gint64 k, stride, dilation;
  gboolean same;
  const char *act;    /* "relu6" or an Activation name */
  gboolean residual;  /* Add (input, projection) */
  gboolean branch;    /* the depthwise output also feeds a pooling: no projection fused */
  gint64 batch;
  guint threads;
  const char *zero_pad; /* a ZeroPadding2D "padding" before the depthwise, or NULL */
  gboolean no_expand;   /* the block starts at the depthwise (MobileNetV2's first) */
  gint64 expand_k, expand_s; /* a stem as the expansion: its kernel and stride (0: 1x1) */
} BlockCase;

static const BlockCase cases[] = {
  { "mobilenet-s1-residual", 28, 28, 16, 96, 16, 3, 1, 1, TRUE, "relu6", TRUE, FALSE, 1, 2 },
  { "mobilenet-s1-residual-3threads", 28, 28, 16, 96, 16, 3, 1, 1, TRUE, "relu6", TRUE, FALSE, 1, 3 },
  { "mobilenet-s1-residual-1thread", 28, 28, 16, 96, 16, 3, 1, 1, TRUE, "relu6", TRUE, FALSE, 1, 1 },
  { "direct-expand-s2-same-odd", 17, 13, 8, 48, 8, 3, 2, 1, TRUE, "relu6", FALSE, FALSE, 1, 2 },
  { "gemm-expand-s2-valid-odd", 19, 21, 24, 72, 40, 3, 2, 1, FALSE, "relu", FALSE, FALSE, 3, 2 },
  { "swish-5x5-residual-batch3", 14, 14, 40, 240, 40, 5, 1, 1, TRUE, "swish", TRUE, FALSE, 3, 2 },
  { "tall-bands-reused", 64, 12, 16, 96, 24, 3, 1, 1, TRUE, "relu6", FALSE, FALSE, 1, 2 },
  { "dilated-same", 23, 20, 16, 64, 16, 3, 1, 2, TRUE, "relu6", TRUE, FALSE, 1, 2 },
  { "no-projection-branch", 30, 30, 24, 144, 24, 5, 2, 1, TRUE, "swish", FALSE, TRUE, 1, 2 },
  { "tiny-unsplit", 3, 3, 16, 32, 16, 3, 1, 1, TRUE, "relu6", TRUE, FALSE, 1, 2 }, /* one band */
  /* 7 x 7, 5 x 5 window at batch 1: two bands would expand 11 of 7 rows;
   * without a projection (EfficientNet's last stage) one band whose
   * kernels split their work, with one the two bands */
  { "small-image-one-band", 7, 7, 32, 192, 32, 5, 1, 1, TRUE, "swish", TRUE, FALSE, 1, 2 },
  { "small-image-one-band-branch", 7, 7, 32, 192, 32, 5, 1, 1, TRUE, "swish", FALSE, TRUE, 1, 2 },
  /* keras.applications: ZeroPadding2D (correct_pad) then a "valid" depthwise */
  { "zero-pad-keras-s2", 28, 28, 16, 96, 24, 3, 2, 1, FALSE, "relu6", FALSE, FALSE, 1, 2,
    "[[0, 1], [0, 1]]" },
  { "zero-pad-odd-5x5", 15, 17, 24, 144, 40, 5, 2, 1, FALSE, "swish", FALSE, FALSE, 2, 2,
    "[[2, 2], [1, 2]]" },
  { "zero-pad-same-s1", 20, 18, 16, 64, 16, 3, 1, 1, TRUE, "relu6", FALSE, FALSE, 1, 3, "1" },
  /* no expansion: depthwise -> projection (-> Add) */
  { "pre-as-expansion", 56, 56, 16, 16, 8, 3, 1, 1, TRUE, "relu6", FALSE, FALSE, 1, 2, NULL,
    TRUE },
  { "no-expansion-residual", 30, 24, 32, 32, 32, 3, 1, 1, TRUE, "relu6", TRUE, FALSE, 2, 2, NULL,
    TRUE },
  /* a stem over RGB as the expansion (3x3 stride 2, "same"): MobileNetV2's first block, and
   * EfficientNet's (its depthwise output read twice) */
  { "stem-expansion", 33, 29, 3, 16, 8, 3, 1, 1, TRUE, "relu6", FALSE, FALSE, 1, 2, NULL, FALSE,
    3, 2 },
  { "stem-expansion-branch-batch2", 40, 38, 3, 32, 16, 3, 1, 1, TRUE, "swish", FALSE, TRUE, 2, 2,
    NULL, FALSE, 3, 2 },
};

typedef struct
{
  MirModel *model;
  guint block_out; /* the last node of the block */
  guint dw;        /* the depthwise node */
  guint project;   /* the projection's node, if any */
} Built;

static guint
add_act (MirModel *model, const char *act, const char *name, guint src)
{
  if (g_str_equal (act, "relu6"))
    return mir_test_add_node (model, "ReLU", name, "{\"max_value\": 6.0}", &src, 1);
  {
    g_autofree char *cfg = g_strdup_printf ("{\"activation\": \"%s\"}", act);
    return mir_test_add_node (model, "Activation", name, cfg, &src, 1);
  }
}

/* x -> pre (1x1, ReLU) -> expand -> BN -> act -> depthwise -> BN -> act
 *   [-> project -> BN [-> Add (pre, ...)]] -> GAP -> Dense; with @branch
 * the depthwise output also goes to a pooling whose output is concatenated
 * before the Dense.  Outputs: the Dense and the block's last node. */
static Built
build (const BlockCase *bc)
{
  Built b = { 0 };
  MirShape in = { 4, { -1, bc->h, bc->w, bc->c } };
  g_autofree char *pre_cfg = NULL, *exp_cfg = NULL, *dw_cfg = NULL, *pw_cfg = NULL;
  guint x, pre, v, dw, gap, dense, outs[2];

  b.model = mir_model_new ("block");
  g_assert_cmpint (mir_model_add_input (b.model, "x", &in, NULL), ==, 0);
  x = 0;
  pre_cfg = g_strdup_printf ("{\"filters\": %" G_GINT64_FORMAT ", \"kernel_size\": [1, 1],"
                             " \"activation\": \"relu\"}", bc->c);
  pre = mir_test_add_node (b.model, "Conv2D", "pre", pre_cfg, &x, 1);
  v = pre;
  if (!bc->no_expand)
    {
      gint64 ek = bc->expand_k ? bc->expand_k : 1, es = bc->expand_s ? bc->expand_s : 1;

      exp_cfg = g_strdup_printf ("{\"filters\": %" G_GINT64_FORMAT ", \"kernel_size\": [%"
                                 G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], \"strides\": [%"
                                 G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], \"padding\": \"same\","
                                 " \"use_bias\": false}", bc->e, ek, ek, es, es);
      v = mir_test_add_node (b.model, "Conv2D", "expand", exp_cfg, &pre, 1);
      v = mir_test_add_node (b.model, "BatchNormalization", "expand_bn", "{\"epsilon\": 0.001}",
                             &v, 1);
      v = add_act (b.model, bc->act, "expand_act", v);
    }
  if (bc->zero_pad != NULL)
    {
      g_autofree char *zp = g_strdup_printf ("{\"padding\": %s}", bc->zero_pad);
      v = mir_test_add_node (b.model, "ZeroPadding2D", "pad", zp, &v, 1);
    }
  dw_cfg = g_strdup_printf ("{\"kernel_size\": [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "],"
                            " \"strides\": [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "],"
                            " \"dilation_rate\": [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "],"
                            " \"padding\": \"%s\", \"use_bias\": false}",
                            bc->k, bc->k, bc->stride, bc->stride, bc->dilation, bc->dilation,
                            bc->same ? "same" : "valid");
  b.dw = dw = mir_test_add_node (b.model, "DepthwiseConv2D", "dw", dw_cfg, &v, 1);
  v = mir_test_add_node (b.model, "BatchNormalization", "dw_bn", "{\"epsilon\": 0.001}", &dw, 1);
  v = add_act (b.model, bc->act, "dw_act", v);
  if (bc->co > 0)
    {
      guint dw_out = v;

      pw_cfg = g_strdup_printf ("{\"filters\": %" G_GINT64_FORMAT ", \"kernel_size\": [1, 1],"
                                " \"use_bias\": false}", bc->co);
      b.project = v = mir_test_add_node (b.model, "Conv2D", "project", pw_cfg, &v, 1);
      v = mir_test_add_node (b.model, "BatchNormalization", "project_bn", "{\"epsilon\": 0.001}",
                             &v, 1);
      if (bc->residual)
        v = mir_test_add_node (b.model, "Add", "add", "{}", (guint[]) { pre, v }, 2);
      b.block_out = v;
      gap = mir_test_add_node (b.model, "GlobalAveragePooling2D", "gap", "{}", &v, 1);
      if (bc->branch)
        {
          guint side = mir_test_add_node (b.model, "GlobalAveragePooling2D", "side", "{}",
                                          &dw_out, 1);
          gap = mir_test_add_node (b.model, "Concatenate", "cat", "{\"axis\": -1}",
                                   (guint[]) { gap, side }, 2);
          b.block_out = dw_out;
        }
    }
  else
    {
      b.block_out = v;
      gap = mir_test_add_node (b.model, "GlobalAveragePooling2D", "gap", "{}", &v, 1);
    }
  dense = mir_test_add_node (b.model, "Dense", "dense", "{\"units\": 3}", &gap, 1);
  outs[0] = dense;
  outs[1] = b.block_out;
  g_assert_true (mir_model_set_outputs (b.model, outs, 2, NULL));
  mir_test_fill_weights (b.model, 11);
  return b;
}

static MirTrace *
run (MirModel *model, MirTensor *x, MirRunFlags flags)
{
  GError *error = NULL;
  MirTrace *trace = mir_model_run (model, &x, 1, flags, -1, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (trace);
  return trace;
}

static double
max_abs (const MirTensor *t)
{
  double m = 0;

  for (gsize i = 0; i < t->numel; i++)
    m = MAX (m, fabs ((double) t->data[i]));
  return m;
}

static void
test_block (gconstpointer data)
{
  const BlockCase *bc = data;
  Built fused = build (bc), plain;
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  gint64 shape[4] = { bc->batch, bc->h, bc->w, bc->c };
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, -1.0f, 1.0f, rng);
  g_autoptr(MirTrace) tf = NULL;
  g_autoptr(MirTrace) tp = NULL;
  g_autoptr(MirTrace) tk = NULL;
  gboolean whole_block = bc->co > 0 && !bc->branch;

  mir_parallel_set_threads (bc->threads);
  tf = run (fused.model, x, MIR_RUN_DEFAULT);
  /* the same model, the same weights, planned without the fusion */
  g_setenv ("MIRADA_FUSE_BLOCKS", "0", TRUE);
  plain = build (bc);
  tp = run (plain.model, x, MIR_RUN_DEFAULT);
  g_unsetenv ("MIRADA_FUSE_BLOCKS");
  tk = run (fused.model, x, MIR_RUN_KEEP_ALL);

  /* the fusion happened where it should, and not without it */
  /* (without an expansion the block is planned from the depthwise, unless
   * "pre" is taken as the expansion: its output has no other reader) */
  g_assert_cmpint (mir_trace_node_ran (tf, fused.dw), ==, bc->no_expand && bc->residual);
  g_assert_true (mir_trace_node_ran (tp, plain.dw));
  if (whole_block)
    g_assert_false (mir_trace_node_ran (tf, fused.project));

  for (guint k = 0; k < 2; k++)
    {
      MirTensor *a = mir_trace_get_output (tf, k), *b = mir_trace_get_output (tp, k);
      MirTensor *r = mir_trace_get_output (tk, k);
      double scale = MAX (max_abs (r), 1e-3), worst = 0;

      g_assert_true (mir_tensor_same_shape (a, b));
      g_assert_cmpmem (a->data, a->numel * sizeof (float), b->data, b->numel * sizeof (float));
      g_assert_true (mir_tensor_same_shape (a, r));
      for (gsize i = 0; i < a->numel; i++)
        worst = MAX (worst, fabs ((double) a->data[i] - r->data[i]));
      g_test_message ("%s output %u: bitwise equal to the layer-by-layer run; "
                      "max |fused - unfolded| %.3g of max |value| %.3g", bc->name, k, worst,
                      scale);
      g_assert_cmpfloat (worst, <=, 1e-5 * scale);
    }
  mir_model_unref (fused.model);
  mir_model_unref (plain.model);
}

/* An output of the wrong shape is refused with an error, not written. */
static void
test_wrong_shape (void)
{
  Built b = build (&cases[0]);
  MirBlock blk = { 0 };
  g_autoptr(GRand) rng = g_rand_new_with_seed (3);
  gint64 xs[4] = { 1, cases[0].h, cases[0].w, cases[0].c };
  gint64 ys[4] = { 1, cases[0].h - 1, cases[0].w, cases[0].co };
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, xs, -1.0f, 1.0f, rng);
  g_autoptr(MirTensor) y = mir_tensor_new (4, ys, NULL);
  GError *error = NULL;

  blk.expand = mir_model_get_node (b.model, 2)->layer; /* after the input and "pre" */
  blk.dw = mir_model_get_node (b.model, b.dw)->layer;
  blk.project = mir_model_get_node (b.model, b.project)->layer;
  g_assert_true (g_str_equal (blk.expand->name, "expand"));
  g_assert_true (mir_block_applies (&blk));
  g_assert_false (mir_block_run (&blk, x, y, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  mir_model_unref (b.model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fuse-block/wrong-shape", test_wrong_shape);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/fuse-block/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_block);
    }
  return g_test_run ();
}
