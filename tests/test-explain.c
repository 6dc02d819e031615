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

static MirModel *
load_config (const char *json, guint32 seed)
{
  g_autoptr(GError) error = NULL;
  MirModel *m = mir_keras_model_from_config (json, -1, &error);

  g_assert_no_error (error);
  g_assert_true (mir_model_finish (m, TRUE, seed, &error));
  g_assert_no_error (error);
  return m;
}

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
  g_autoptr(MirModel) m = load_config (gap_config, 3);
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
  g_autoptr(MirModel) m = load_config (gap_config, 5);
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
  g_autoptr(MirModel) m = load_config (edge_config, 1);
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

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/explain/gradcam-equals-cam-on-gap-head", test_gradcam_equals_cam_on_gap_head);
  g_test_add_func ("/explain/saliency-and-errors", test_saliency_and_errors);
  g_test_add_func ("/explain/filter-pattern-vertical-stripes", test_filter_pattern_vertical_stripes);
  return g_test_run ();
}
