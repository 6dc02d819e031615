/* Explanations and filter patterns on small models with known answers. */
#include <math.h>
#include <string.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "mir-explain.h"
#include "mir-filter-pattern.h"

/* Input 6×6×2 → Conv2D(3, 3×3, same, relu) → GAP → Dense(4, softmax). */
static const char *gap_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"gapnet\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv\", \"filters\": 3, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 6, 6, 2]}},"
  "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 4, "
  "\"activation\": \"softmax\"}}]}}";

static MirTensor *
random_input (MirModel *m, guint32 seed)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  const MirShape *s = mir_model_get_input_shape (m, 0);
  gint64 shape[4] = { 1, s->dim[1], s->dim[2], s->dim[3] };
  return mir_test_random_tensor (4, shape, 0.0f, 1.0f, rng);
}

/* With a GAP → Dense head, d z_c / d A_k(i,j) = W[k, c] / (H W), so Grad-CAM's
 * channel weights are W[:, c] / (H W) and its raw map is CAM's raw map / (H W).
 * This holds only if the gradient is taken on the logit z_c (before softmax). */
static void
test_gradcam_equals_cam_on_gap_head (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (gap_config, 3);
  g_autoptr(MirTensor) x = random_input (m, 4);
  g_autoptr(GError) error = NULL;

  for (gint c = 0; c < 4; c++)
    {
      MirExplainOptions o = { c, FALSE, -1 };
      g_autoptr(MirExplanation) g = mir_explain_gradcam (m, x, &o, NULL, &error);
      g_autoptr(MirExplanation) k = NULL;

      g_assert_no_error (error);
      k = mir_explain_cam (m, x, &o, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g->layer_name, ==, "conv");
      g_assert_cmpint (g->width, ==, 6);
      g_assert_cmpint (k->class_index, ==, c);
      for (int i = 0; i < 36; i++)
        g_assert_cmpfloat_with_epsilon (g->raw[i] * 36.0f, k->raw[i], 1e-5 + 1e-4 * fabsf (k->raw[i]));
      /* normalised map in [0, 1] with its maximum at 1 (unless flagged flat) */
      if (g->notice == NULL)
        {
          float hi = 0;
          for (int i = 0; i < 36; i++)
            {
              g_assert_cmpfloat (g->map[i], >=, 0.0f);
              hi = MAX (hi, g->map[i]);
            }
          g_assert_cmpfloat_with_epsilon (hi, 1.0f, 1e-6);
        }
    }
}

static void
test_saliency_and_errors (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (gap_config, 5);
  g_autoptr(MirTensor) x = random_input (m, 6);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirExplanation) s = mir_explain_saliency (m, x, NULL, NULL, &error);
  g_autoptr(MirTrace) t = NULL;
  MirExplainOptions bad = { 9, FALSE, -1 };
  MirExplanation *e;
  MirTensor *a;
  float hi = 0;

  g_assert_no_error (error);
  t = mir_model_run (m, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
  a = mir_trace_get (t, (guint) mir_model_find_node (m, "conv"));
  for (int i = 0; i < 36; i++)
    hi = MAX (hi, (a->data[3 * i] + a->data[3 * i + 1] + a->data[3 * i + 2]) / 3);
  for (int i = 0; i < 36; i++)
    {
      float mean = (a->data[3 * i] + a->data[3 * i + 1] + a->data[3 * i + 2]) / 3;
      g_assert_cmpfloat_with_epsilon (s->raw[i], mean, 1e-6);
      g_assert_cmpfloat_with_epsilon (s->map[i], mean / hi, 1e-5);
    }
  e = mir_explain_gradcam (m, x, &bad, NULL, &error);
  g_assert_null (e);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  /* a 2-D layer cannot be explained spatially */
  bad.class_index = 0;
  bad.layer = mir_model_find_node (m, "gap");
  e = mir_explain_gradcam (m, x, &bad, NULL, &error);
  g_assert_null (e);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "gap"));
}

/* One 3×3 filter that is a vertical edge detector (−1 0 1 along x) on a grey
 * input.  Gradient ascent on its mean activation must raise it well above the
 * start, and the pattern must vary along x far more than along y (vertical
 * stripes). */
static const char *edge_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"edge\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"edge_conv\", \"filters\": 1, "
  "\"kernel_size\": [3, 3], \"padding\": \"valid\", \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 32, 32, 1]}}]}}";

static void
cb (guint i, gint f, MirImage *img, double l0, double l1, gpointer data)
{
  struct { double l0, l1; MirImage *img; } *r = data;
  r->l0 = l0;
  r->l1 = l1;
  r->img = mir_image_ref (img);
}

static void
test_filter_pattern_vertical_stripes (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (edge_config, 1);
  MirLayer *conv = mir_model_get_node (m, 1)->layer;
  MirTensor *k = mir_layer_get_weight (conv, "kernel");
  MirTensor *b = mir_layer_get_weight (conv, "bias");
  MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
  g_autoptr(GError) error = NULL;
  gint filter = 0;
  struct { double l0, l1; MirImage *img; } r = { 0 };

  /* kernel [3, 3, 1, 1]: columns −1, 0, +1 */
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++)
      k->data[y * 3 + x] = (float) (x - 1);
  b->data[0] = 0.0f;

  g_assert_true (mir_filter_patterns (m, 1, &filter, 1, &o, cb, &r, NULL, &error));
  g_assert_no_error (error);
  /* started near zero (grey noise: ±20 differences) and rose by > 10× */
  g_assert_cmpfloat (r.l1, >, 10 * MAX (r.l0, 1.0));
  {
    double ex = 0, ey = 0;
    for (int y = 1; y < 31; y++)
      for (int x = 1; x < 31; x++)
        {
          const guint8 *p = r.img->pixels + y * r.img->rowstride + x;
          ex += pow ((double) p[1] - p[-1], 2);
          ey += pow ((double) p[r.img->rowstride] - p[-(gssize) r.img->rowstride], 2);
        }
    g_test_message ("gradient energy: along x %.0f, along y %.0f", ex, ey);
    g_assert_cmpfloat (ex, >, 3 * ey); /* horizontal stripes (a transposed gradient) fail */
  }
  mir_image_unref (r.img);
}


/* With a GAP head the gradient is spatially constant (W[:, c] / HW), so
 * HiResCAM's Σ_k g_k A_k is Grad-CAM's raw map; XGrad-CAM's weights
 * are the same constant (Σ g A / Σ A = g), so its map equals Grad-CAM too;
 * LayerCAM on ReLU activations is never negative. */
static void
test_gradient_cams_on_gap_head (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (gap_config, 7);
  g_autoptr(MirTensor) x = random_input (m, 8);
  g_autoptr(GError) error = NULL;

  for (gint c = 0; c < 4; c++)
    {
      MirExplainOptions o = { c, FALSE, -1 };
      g_autoptr(MirExplanation) g = mir_explain_gradcam (m, x, &o, NULL, &error);
      g_autoptr(MirExplanation) hr = mir_explain_hirescam (m, x, &o, NULL, &error);
      g_autoptr(MirExplanation) xg = mir_explain_xgradcam (m, x, &o, NULL, &error);
      g_autoptr(MirExplanation) lc = mir_explain_layercam (m, x, &o, NULL, &error);
      g_autoptr(MirExplanation) pp = mir_explain_gradcam_plusplus (m, x, &o, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (hr->width, ==, 6);
      for (int i = 0; i < 36; i++)
        {
          float want = g->raw[i];
          g_assert_cmpfloat_with_epsilon (hr->raw[i], want, 1e-5 + 1e-4 * fabsf (want));
          g_assert_cmpfloat_with_epsilon (xg->raw[i], want, 1e-4 + 1e-3 * fabsf (want));
          g_assert_cmpfloat (lc->raw[i], >=, 0.0f);
          g_assert_cmpfloat (lc->map[i], >=, 0.0f);
          g_assert_cmpfloat (lc->map[i], <=, 1.0f);
        }
      g_assert_cmpint (pp->n_weights, ==, 3);
      /* Grad-CAM++ weights are 0 exactly for channels with a negative gradient */
      {
        MirTensor *k = mir_layer_get_weight (mir_model_get_node (m, (guint) mir_model_find_node (m, "dense"))->layer, "kernel");
        for (int ch = 0; ch < 3; ch++)
          if (k->data[ch * 4 + c] < 0)
            g_assert_cmpfloat (pp->weights[ch], ==, 0.0);
          else
            g_assert_cmpfloat (pp->weights[ch], >=, 0.0);
      }
    }
}

/* Input 8×8×1 → Flatten → Dense(2) with the kernel rows of the left half
 * (x < 4) zeroed: occluding there changes nothing (drop exactly 0); on the
 * right, the drop of a 4×4 patch is Σ W[p, c] (x_p − 128) (no preprocessing). */
static const char *flat_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"flatnet\", \"layers\": ["
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flat\", "
  "\"batch_input_shape\": [null, 8, 8, 1]}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, "
  "\"activation\": \"softmax\"}}]}}";

static MirModel *
flat_model (void)
{
  MirModel *m = mir_test_model_from_config (flat_config, 9);
  MirTensor *k = mir_layer_get_weight (mir_model_get_node (m, 2)->layer, "kernel");

  for (int p = 0; p < 64; p++)
    if (p % 8 < 4)
      k->data[p * 2] = k->data[p * 2 + 1] = 0.0f;
  return m;
}

static void
test_occlusion_zero_weights (void)
{
  g_autoptr(MirModel) m = flat_model ();
  g_autoptr(GRand) rng = g_rand_new_with_seed (10);
  gint64 shape[4] = { 1, 8, 8, 1 };
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, 0.0f, 255.0f, rng);
  MirTensor *k = mir_layer_get_weight (mir_model_get_node (m, 2)->layer, "kernel");
  MirExplainOptions o = { 1, FALSE, -1, 4, 4 };
  g_autoptr(GError) error = NULL;
  g_autoptr(MirExplanation) e = mir_explain_occlusion (m, x, &o, NULL, &error);
  g_autoptr(MirFaithfulness) f = NULL;
  double grey_score = 0;

  g_assert_no_error (error);
  g_assert_cmpint (e->width, ==, 8);
  for (int y = 0; y < 8; y++)
    for (int xx = 0; xx < 8; xx++)
      {
        double want = 0;
        if (xx >= 4)
          for (int py = y / 4 * 4; py < y / 4 * 4 + 4; py++)
            for (int px = 4; px < 8; px++)
              want += k->data[(py * 8 + px) * 2 + 1] * (x->data[py * 8 + px] - 128.0);
        if (xx < 4)
          g_assert_cmpfloat (e->raw[y * 8 + xx], ==, 0.0f);
        else
          g_assert_cmpfloat_with_epsilon (e->raw[y * 8 + xx], want, 1e-3 + 1e-4 * fabs (want));
      }

  /* faithfulness: the curve starts at the input's score and, with every
   * pixel grey, ends at Σ W 128 + b */
  f = mir_faithfulness_compute (m, x, e, 0.25, 10, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (f->n_steps, ==, 10);
  g_assert_cmpfloat_with_epsilon (f->scores[0], e->score, 1e-3);
  for (int p = 0; p < 64; p++)
    grey_score += 128.0 * k->data[p * 2 + 1];
  grey_score += mir_layer_get_weight (mir_model_get_node (m, 2)->layer, "bias")->data[1];
  g_assert_cmpfloat_with_epsilon (f->scores[10], grey_score, 1e-3 + 1e-5 * fabs (grey_score));
  g_assert_cmpfloat (f->fractions[10], ==, 1.0);
  for (int i = 0; i <= 10; i++)
    g_assert_cmpfloat (f->probabilities[i], >=, 0.0);
}

/* Conv2D (linear) → ReLU → Conv2D (linear) → Activation(relu) → Flatten →
 * Dense: under guided backpropagation the gradients entering each ReLU from
 * below (at the convolutions' outputs) are never negative, and at the last
 * one they equal the plain gradient where that is positive, 0 elsewhere. */
static const char *guided_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"guided\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"batch_input_shape\": [null, 5, 5, 2]}},"
  "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r1\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\"}},"
  "{\"class_name\": \"Activation\", \"config\": {\"name\": \"r2\", \"activation\": \"relu\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c3\", \"filters\": 3, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"activation\": \"relu\"}},"
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"fl\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 3}}]}}";

static void
test_guided_backprop_no_negative_leaks (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (guided_config, 11);
  g_autoptr(MirTensor) x = random_input (m, 12);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTrace) t = mir_model_run (m, &x, 1, MIR_RUN_FOR_BACKWARD | MIR_RUN_LOGITS, -1, 0,
                                         NULL, &error);
  guint out = mir_model_get_output (m, 0);
  gint in = (gint) mir_model_get_input (m, 0);
  guint c1 = (guint) mir_model_find_node (m, "c1"), c2 = (guint) mir_model_find_node (m, "c2");
  g_autoptr(MirTensor) seed = mir_tensor_new_like (mir_trace_get (t, out), &error);
  g_autoptr(MirTensor) plain1 = NULL, plain2 = NULL;
  gboolean neg1 = FALSE, neg2 = FALSE;
  MirTensor *g1, *g2;

  g_assert_no_error (error);
  seed->data[0] = 1.0f;
  g_assert_true (mir_trace_backward (t, out, seed, in, MIR_BACKWARD_DEFAULT, NULL, &error));
  plain1 = mir_tensor_dup (mir_trace_get_grad (t, c1), &error);
  plain2 = mir_tensor_dup (mir_trace_get_grad (t, c2), &error);
  g_assert_true (mir_trace_backward (t, out, seed, in, MIR_BACKWARD_GUIDED, NULL, &error));
  g_assert_no_error (error);
  g1 = mir_trace_get_grad (t, c1);
  g2 = mir_trace_get_grad (t, c2);
  for (gsize i = 0; i < g1->numel; i++)
    {
      neg1 = neg1 || plain1->data[i] < 0;
      neg2 = neg2 || plain2->data[i] < 0;
      g_assert_cmpfloat (g1->data[i], >=, 0.0f);
      g_assert_cmpfloat (g2->data[i], >=, 0.0f);
    }
  /* the plain gradients do have negative parts, so the check could fail */
  g_assert_true (neg1 && neg2);
  {
    /* c3's fused relu is guided too: the gradient reaching r2's output is
     * the same in both runs only if c3 let nothing negative through, so
     * compare at c2 with the guided rule applied to r2's incoming gradient */
    MirTensor *a2 = mir_trace_get (t, c2);
    gboolean any = FALSE;
    for (gsize i = 0; i < g2->numel; i++)
      if (a2->data[i] <= 0)
        g_assert_cmpfloat (g2->data[i], ==, 0.0f);
      else
        any = any || g2->data[i] > 0;
    g_assert_true (any);
  }
  {
    g_autoptr(MirExplanation) e = mir_explain_guided_backprop (m, x, NULL, NULL, &error);
    g_autoptr(MirExplanation) gg = NULL;
    g_assert_no_error (error);
    g_assert_cmpint (e->width, ==, 5);
    g_assert_cmpint (e->height, ==, 5);
    gg = mir_explain_guided_gradcam (m, x, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (gg->method, ==, "guided-gradcam");
    for (int i = 0; i < 25; i++)
      g_assert_cmpfloat (gg->raw[i], <=, e->raw[i] + 1e-6f); /* × a map in [0, 1] */
  }
}

/* Score-CAM weights are a softmax: positive, summing to 1; Eigen-CAM's sign
 * makes it correlate positively with the mean activation; SmoothGrad with a
 * vanishing noise is the vanilla gradient map. */
static void
test_scorecam_eigencam_smoothgrad (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (gap_config, 13);
  g_autoptr(MirTensor) x = random_input (m, 14);
  g_autoptr(GError) error = NULL;
  MirExplainOptions o = { 2, FALSE, -1 };
  g_autoptr(MirExplanation) sc = mir_explain_scorecam (m, x, &o, NULL, &error);
  g_autoptr(MirExplanation) ec = NULL, gr = NULL, sg = NULL;
  g_autoptr(MirTrace) t = NULL;
  double sum = 0, corr = 0, mm = 0, mp = 0;
  MirTensor *a;

  g_assert_no_error (error);
  g_assert_cmpint (sc->n_weights, ==, 3);
  for (int k = 0; k < 3; k++)
    {
      g_assert_cmpfloat (sc->weights[k], >, 0.0);
      sum += sc->weights[k];
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-9);

  ec = mir_explain_eigencam (m, x, &o, NULL, &error);
  g_assert_no_error (error);
  t = mir_model_run (m, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
  a = mir_trace_get (t, (guint) mir_model_find_node (m, "conv"));
  for (int i = 0; i < 36; i++)
    {
      mm += (a->data[3 * i] + a->data[3 * i + 1] + a->data[3 * i + 2]) / 3 / 36;
      mp += ec->raw[i] / 36.0;
    }
  for (int i = 0; i < 36; i++)
    corr += ((a->data[3 * i] + a->data[3 * i + 1] + a->data[3 * i + 2]) / 3 - mm) *
            (ec->raw[i] - mp);
  g_assert_cmpfloat (corr, >, 0.0);

  gr = mir_explain_gradients (m, x, &o, NULL, &error);
  g_assert_no_error (error);
  o.noise = 1e-7;
  o.samples = 5;
  sg = mir_explain_smoothgrad (m, x, &o, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sg->width, ==, 6);
  for (int i = 0; i < 36; i++)
    g_assert_cmpfloat_with_epsilon (sg->raw[i], gr->raw[i], 1e-4 * gr->raw[i] + 1e-6);
}

/* Score-CAM against a direct computation: one masked image per channel,
 * each run on its own (mir_model_run, batch 1), the softmax of their class
 * logits taken here.  The engine batches the masked images, runs the zero
 * image of the flat channels once, and with max_channels keeps the channels
 * of largest spatial standard deviation; weights must agree to 1e-6, the
 * signed map to 1e-5 of its maximum and the normalised map to 1e-5.
 * Channels 3 and 7 of the explained layer are dead (bias −100: all zero
 * after the ReLU, flat masks). */
static const char *scorecam_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"scnet\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 12, 12, 2]}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p1\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 12, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"activation\": \"relu\"}},"
  "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 4, "
  "\"activation\": \"softmax\"}}]}}";

static void
test_scorecam_direct (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (scorecam_config, 21);
  g_autoptr(MirTensor) x = random_input (m, 22);
  g_autoptr(MirTrace) t = NULL;
  gint c2 = mir_model_find_node (m, "c2");
  MirTensor *bias = mir_layer_get_weight (mir_model_get_node (m, (guint) c2)->layer, "bias");
  const int C = 12, HW = 36, IHW = 144;
  double z[12], sd[12];
  g_autoptr(GError) error = NULL;
  MirTensor *a;
  int cls = 1;

  bias->data[3] = bias->data[7] = -100.0f;
  /* biases elsewhere, so that the zero image of the flat channels scores ≠ 0 */
  for (int k = 0; k < 4; k++)
    {
      mir_layer_get_weight (mir_model_get_node (m, 1)->layer, "bias")->data[k] = 0.05f * (k + 1);
      mir_layer_get_weight (mir_model_get_node (m, (guint) mir_model_find_node (m, "dense"))->layer,
                            "bias")->data[k] = 0.3f * (k + 1);
    }
  t = mir_model_run (m, &x, 1, MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
  g_assert_no_error (error);
  a = mir_trace_get (t, (guint) c2);
  for (int k = 0; k < C; k++)
    {
      float chan[36], up[144], lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
      g_autoptr(MirTensor) xm = mir_tensor_new_like (x, NULL);
      g_autoptr(MirTrace) tm = NULL;
      double mean = 0, var = 0;

      for (int i = 0; i < HW; i++)
        {
          chan[i] = a->data[i * C + k];
          mean += chan[i] / (double) HW;
        }
      for (int i = 0; i < HW; i++)
        var += (chan[i] - mean) * (chan[i] - mean) / HW;
      sd[k] = sqrt (var);
      mir_explain_resize_map (chan, 6, 6, up, 12, 12);
      for (int i = 0; i < IHW; i++)
        lo = MIN (lo, up[i]), hi = MAX (hi, up[i]);
      for (int i = 0; i < IHW; i++)
        for (int ch = 0; ch < 2; ch++)
          xm->data[i * 2 + ch] = x->data[i * 2 + ch] * (hi > lo ? (up[i] - lo) / (hi - lo) : 0);
      tm = mir_model_run (m, &xm, 1, MIR_RUN_LOGITS, -1, 0, NULL, &error);
      g_assert_no_error (error);
      z[k] = mir_trace_get_output (tm, 0)->data[cls];
      if (k == 3 || k == 7)
        g_assert_cmpfloat (sd[k], ==, 0.0);
    }
  for (int max = 0; max <= C; max += 5) /* 0 (all), 5, 10 */
    {
      MirExplainOptions o = { cls, FALSE, c2 };
      g_autoptr(MirExplanation) e = NULL;
      gboolean chosen[12];
      double w[12] = { 0 }, sum = 0, top = -G_MAXDOUBLE, raw[36], peak = 0;

      /* the max channels of largest standard deviation, ties to the lower index */
      for (int k = 0; k < C; k++)
        {
          int above = 0;
          for (int j = 0; j < C; j++)
            above += sd[j] > sd[k] || (sd[j] == sd[k] && j < k);
          chosen[k] = max == 0 || above < max;
        }
      for (int k = 0; k < C; k++)
        if (chosen[k])
          top = MAX (top, z[k]);
      for (int k = 0; k < C; k++)
        if (chosen[k])
          sum += (w[k] = exp (z[k] - top));
      for (int k = 0; k < C; k++)
        w[k] /= sum;
      for (int i = 0; i < HW; i++)
        {
          raw[i] = 0;
          for (int k = 0; k < C; k++)
            raw[i] += w[k] * a->data[i * C + k];
          peak = MAX (peak, raw[i]);
        }
      o.max_channels = max;
      e = mir_explain_scorecam (m, x, &o, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (e->n_weights, ==, C);
      g_assert_cmpint (e->width, ==, 6);
      for (int k = 0; k < C; k++)
        {
          g_test_message ("max %d, channel %d: sd %.4g, weight %.6g (direct %.6g)", max, k, sd[k],
                          e->weights[k], w[k]);
          g_assert_cmpfloat (fabs (e->weights[k] - w[k]), <=, 1e-6);
        }
      /* the signed sum, and the map: its ReLU over its maximum */
      g_assert_cmpfloat (peak, >, 0);
      for (int i = 0; i < HW; i++)
        {
          g_assert_cmpfloat (fabs (e->raw[i] - raw[i]), <=, 1e-5 * peak);
          g_assert_cmpfloat (fabs (e->map[i] - MAX (raw[i], 0) / peak), <=, 1e-5);
        }
    }
  {
    MirExplainOptions bad = { cls, FALSE, c2 };
    g_autoptr(MirExplanation) e = NULL;

    bad.max_channels = -1;
    e = mir_explain_scorecam (m, x, &bad, NULL, &error);
    g_assert_null (e);
    g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  }
}

/* A reuse object (the heat-map panel's loop over classes): each class's
 * map equals the one computed alone, exactly (the same logits of the same
 * masked inputs); the masked forwards run once, which the probe shows: with
 * the Dense kernel's column of class 1 doubled after the first call, the
 * reused map of class 1 keeps the old weights while a fresh one changes.
 * Another input through the same object starts over. */
/* Class @cls's Score-CAM of @x through @reuse, and computed alone. */
static void
scorecam_both (MirModel *m, MirTensor *x, gint cls, gint layer, MirExplainReuse *reuse,
               MirExplanation **with, MirExplanation **alone)
{
  MirExplainOptions o = { cls, FALSE, layer }, plain = { cls, FALSE, layer };
  g_autoptr(GError) error = NULL;

  o.reuse = reuse;
  *with = mir_explain_scorecam (m, x, &o, NULL, &error);
  g_assert_no_error (error);
  *alone = mir_explain_scorecam (m, x, &plain, NULL, &error);
  g_assert_no_error (error);
}

static void
test_scorecam_reuse (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (scorecam_config, 23);
  g_autoptr(MirTensor) x = random_input (m, 24);
  g_autoptr(MirTensor) x2 = random_input (m, 25);
  g_autoptr(MirExplainReuse) reuse = mir_explain_reuse_new ();
  g_autoptr(MirExplanation) a = NULL, b = NULL;
  gint c2 = mir_model_find_node (m, "c2");
  const gint order[4] = { 2, 0, 3, 1 };
  MirTensor *kernel;
  gboolean differs = FALSE;

  for (guint i = 0; i < 4; i++)
    {
      g_clear_pointer (&a, mir_explanation_free);
      g_clear_pointer (&b, mir_explanation_free);
      scorecam_both (m, x, order[i], c2, reuse, &a, &b);
      g_assert_cmpmem (a->weights, sizeof (double) * a->n_weights, b->weights,
                       sizeof (double) * b->n_weights);
      g_assert_cmpmem (a->raw, sizeof (float) * 36, b->raw, sizeof (float) * 36);
    }
  /* the probe: logits of class 1 changed, masks (layer c2) untouched */
  kernel = mir_layer_get_weight (mir_model_get_node (m, (guint) mir_model_find_node (m, "dense"))->layer,
                                 "kernel");
  for (gint64 r = 0; r < kernel->shape[0]; r++)
    kernel->data[r * 4 + 1] *= 2.0f;
  mir_tensor_changed (kernel);
  g_clear_pointer (&a, mir_explanation_free);
  g_clear_pointer (&b, mir_explanation_free);
  scorecam_both (m, x, 1, c2, reuse, &a, &b);
  for (int k = 0; k < a->n_weights; k++)
    differs = differs || fabs (a->weights[k] - b->weights[k]) > 1e-6;
  g_assert_true (differs);
  /* another input: the object starts over */
  g_clear_pointer (&a, mir_explanation_free);
  g_clear_pointer (&b, mir_explanation_free);
  scorecam_both (m, x2, 1, c2, reuse, &a, &b);
  g_assert_cmpmem (a->weights, sizeof (double) * a->n_weights, b->weights,
                   sizeof (double) * b->n_weights);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/explain/gradcam-equals-cam-on-gap-head", test_gradcam_equals_cam_on_gap_head);
  g_test_add_func ("/explain/saliency-and-errors", test_saliency_and_errors);
  g_test_add_func ("/explain/filter-pattern-vertical-stripes", test_filter_pattern_vertical_stripes);
  g_test_add_func ("/explain/gradient-cams-on-gap-head", test_gradient_cams_on_gap_head);
  g_test_add_func ("/explain/occlusion-zero-weights-and-faithfulness", test_occlusion_zero_weights);
  g_test_add_func ("/explain/guided-backprop-no-negative-leaks", test_guided_backprop_no_negative_leaks);
  g_test_add_func ("/explain/scorecam-eigencam-smoothgrad", test_scorecam_eigencam_smoothgrad);
  g_test_add_func ("/explain/scorecam-direct", test_scorecam_direct);
  g_test_add_func ("/explain/scorecam-reuse", test_scorecam_reuse);
  return g_test_run ();
}
