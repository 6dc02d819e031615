/* The facts layer classes state about themselves are true (issue 22: the
 * hand-kept class lists in the model, the detector and CAM were replaced by
 * class flags and a window() hook, so a flag that lies breaks them).
 *
 * For every class in mir_layer_class_list():
 *  - MIR_LAYER_FLAG_POINTWISE: same shape out as in, and the output of a
 *    crop of the input is the same crop of the output (each position from
 *    the same position only);
 *  - MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE: at inference the output equals
 *    the input, bit for bit;
 *  - MIR_LAYER_FLAG_REARRANGES: the output's values, sorted, equal the
 *    input's, bit for bit (the same values in another order);
 *  - window() with "valid" padding (what the detector computes once over
 *    the whole image): the output of an input crop at a stride-aligned
 *    offset is the corresponding crop of the output, and the output size is
 *    (in - dilated kernel) / stride + 1.
 * The reference is the layer's own output on the whole input: a flag that
 * is wrong for a class shows as a difference.  Every flagged class needs a
 * configuration below; a class flagged without one fails the test, so the
 * table cannot silently fall behind the layer list. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/mir-conv-util.h"
#include "mir-test-util.h"

#define TOL 1e-5 /* relative: the same float32 kernels over different extents */

typedef struct
{
  const char *name;
  const char *config;
} Case;

/* A configuration per flagged class (windowed ones with "valid" padding and
 * strides > 1 where the class allows, so alignment matters). */
static const Case cases[] = {
  { "HardSigmoid", "{\"alpha\": 0.3, \"beta\": 0.4}" },
  { "HardSwish", "{}" },
  { "Permute", "{\"dims\": [2, 1, 3]}" },
  { "Reshape", "{\"target_shape\": [7, 3, 6]}" },
  { "Flatten", "{}" },
  { "Activation", "{\"activation\": \"tanh\"}" },
  { "ReLU", "{\"max_value\": 0.8, \"threshold\": 0.1}" },
  { "LeakyReLU", "{\"alpha\": 0.2}" },
  { "BatchNormalization", "{\"epsilon\": 0.001}" },
  { "LayerNormalization", "{\"epsilon\": 0.001}" },
  { "Rescaling", "{\"scale\": 0.5, \"offset\": -0.25}" },
  { "Dropout", "{\"rate\": 0.5}" },
  { "SpatialDropout2D", "{\"rate\": 0.5}" },
  { "GaussianNoise", "{\"stddev\": 0.3}" },
  { "GaussianDropout", "{\"rate\": 0.3}" },
  { "Conv2D", "{\"filters\": 4, \"kernel_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"valid\"}" },
  { "MaxPooling2D", "{\"pool_size\": [2, 2], \"strides\": [2, 2], \"padding\": \"valid\"}" },
  { "DepthwiseConv2D", "{\"kernel_size\": [3, 3], \"strides\": [2, 2], \"depth_multiplier\": 2, \"padding\": \"valid\"}" },
  { "SeparableConv2D", "{\"filters\": 4, \"kernel_size\": [3, 3], \"dilation_rate\": [2, 2], \"padding\": \"valid\"}" },
  { "AveragePooling2D", "{\"pool_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"valid\"}" },
};

static const char *
config_for (const MirLayerClass *k)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    if (g_str_equal (cases[i].name, k->name))
      return cases[i].config;
  return NULL;
}

static MirTensor *
forward (const char *cls, const char *cfg, gint64 h, gint64 w, gint64 c, MirTensor *x)
{
  MirShape s = { 4, { -1, h, w, c } };
  GError *error = NULL;
  g_autoptr(MirModel) m = mir_test_layer_model (cls, cfg, 1, &s, 7, &error);
  MirTrace *trace;
  MirTensor *out;

  g_assert_no_error (error);
  trace = mir_model_run (m, &x, 1, MIR_RUN_DEFAULT, -1, 1, NULL, &error);
  g_assert_no_error (error);
  out = mir_tensor_ref (mir_trace_get_output (trace, 0));
  mir_trace_free (trace);
  return out;
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;

  return (x > y) - (x < y);
}

static MirTensor *
random_input (gint64 h, gint64 w, gint64 c, GRand *rng)
{
  const gint64 shape[4] = { 1, h, w, c };
  MirTensor *t = mir_tensor_new (4, shape, NULL);

  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = (float) g_rand_double_range (rng, -1.5, 1.5);
  return t;
}

static MirTensor *
crop (const MirTensor *x, gint64 y0, gint64 x0, gint64 h, gint64 w)
{
  const gint64 c = x->shape[3], W = x->shape[2];
  const gint64 shape[4] = { 1, h, w, c };
  MirTensor *t = mir_tensor_new (4, shape, NULL);

  for (gint64 y = 0; y < h; y++)
    memcpy (t->data + (y * w) * c, x->data + ((y0 + y) * W + x0) * c, sizeof (float) * w * c);
  return t;
}

/* max |a - b| / max |b| over the whole tensors */
static double
rel_diff (const MirTensor *a, const MirTensor *b)
{
  double worst = 0, scale = 1e-12;

  g_assert_cmpuint (a->numel, ==, b->numel);
  for (gsize i = 0; i < a->numel; i++)
    {
      worst = MAX (worst, fabs ((double) a->data[i] - b->data[i]));
      scale = MAX (scale, fabs ((double) b->data[i]));
    }
  return worst / scale;
}

static void
test_flags_true (void)
{
  const MirLayerClass *const *list = mir_layer_class_list ();
  g_autoptr(GRand) rng = g_rand_new_with_seed (22);
  guint n_pointwise = 0, n_identity = 0, n_window = 0, n_rearranges = 0;

  for (gsize i = 0; list[i] != NULL; i++)
    {
      const MirLayerClass *k = list[i];
      gboolean flagged = (k->flags & (MIR_LAYER_FLAG_POINTWISE | MIR_LAYER_FLAG_REARRANGES |
                                      MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE)) != 0 ||
                         k->window != NULL;
      const char *cfg = config_for (k);

      if (!flagged)
        continue;
      if (cfg == NULL)
        g_error ("%s is flagged (pointwise, identity at inference or window()) but "
                 "tests/test-layer-flags.c has no configuration for it: add one to cases[]",
                 k->name);

      if (k->flags & MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE)
        {
          g_autoptr(MirTensor) x = random_input (6, 7, 3, rng);
          g_autoptr(MirTensor) y = forward (k->name, cfg, 6, 7, 3, x);

          g_assert_cmpuint (y->numel, ==, x->numel);
          g_assert_cmpmem (y->data, y->numel * sizeof (float), x->data, x->numel * sizeof (float));
          n_identity++;
        }
      if (k->flags & MIR_LAYER_FLAG_REARRANGES)
        {
          g_autoptr(MirTensor) x = random_input (6, 7, 3, rng);
          g_autoptr(MirTensor) y = forward (k->name, cfg, 6, 7, 3, x);
          g_autofree float *xs = g_memdup2 (x->data, x->numel * sizeof (float));
          g_autofree float *ys = NULL;

          g_assert_cmpuint (y->numel, ==, x->numel);
          ys = g_memdup2 (y->data, y->numel * sizeof (float));
          qsort (xs, x->numel, sizeof (float), cmp_float);
          qsort (ys, y->numel, sizeof (float), cmp_float);
          g_assert_cmpmem (ys, y->numel * sizeof (float), xs, x->numel * sizeof (float));
          g_test_message ("%s: rearranges, %" G_GSIZE_FORMAT " values kept", k->name, y->numel);
          n_rearranges++;
        }
      if (k->flags & MIR_LAYER_FLAG_POINTWISE)
        {
          g_autoptr(MirTensor) x = random_input (9, 10, 3, rng);
          g_autoptr(MirTensor) y = forward (k->name, cfg, 9, 10, 3, x);
          g_autoptr(MirTensor) xc = crop (x, 2, 3, 5, 6);
          g_autoptr(MirTensor) yc = forward (k->name, cfg, 5, 6, 3, xc);
          g_autoptr(MirTensor) ref = crop (y, 2, 3, 5, 6);
          double d;

          g_assert_cmpint (y->ndim, ==, 4);
          g_assert_cmpint (y->shape[1], ==, 9);
          g_assert_cmpint (y->shape[2], ==, 10);
          g_assert_cmpint (y->shape[3], ==, 3);
          d = rel_diff (yc, ref);
          g_test_message ("%s: pointwise, crop vs whole %.3g", k->name, d);
          g_assert_cmpfloat (d, <=, TOL);
          n_pointwise++;
        }
      if (k->window != NULL)
        {
          const gint64 H = 13, W = 14, C = 3;
          g_autoptr(MirTensor) x = random_input (H, W, C, rng);
          g_autoptr(MirTensor) y = forward (k->name, cfg, H, W, C, x);
          g_autoptr(MirLayer) layer = NULL;
          g_autoptr(JsonNode) node = json_from_string (cfg, NULL);
          GError *error = NULL;
          const MirWindow *win;
          gint64 kh, kw, oy, ox, h, w;

          layer = mir_layer_new (k, "probe", json_node_get_object (node), &error);
          g_assert_no_error (error);
          win = k->window (layer);
          g_assert_nonnull (win);
          g_assert_false (win->same);
          kh = (win->kh - 1) * win->dh + 1;
          kw = (win->kw - 1) * win->dw + 1;
          g_assert_cmpint (y->shape[1], ==, (H - kh) / win->sh + 1);
          g_assert_cmpint (y->shape[2], ==, (W - kw) / win->sw + 1);
          /* a crop starting one output row and two output columns in */
          oy = win->sh;
          ox = 2 * win->sw;
          h = H - oy - 1;
          w = W - ox - 1;
          {
            g_autoptr(MirTensor) xc = crop (x, oy, ox, h, w);
            g_autoptr(MirTensor) yc = forward (k->name, cfg, h, w, C, xc);
            g_autoptr(MirTensor) ref = crop (y, 1, 2, yc->shape[1], yc->shape[2]);
            double d = rel_diff (yc, ref);

            g_test_message ("%s: window %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " stride %"
                            G_GINT64_FORMAT ", crop vs whole %.3g", k->name, win->kh, win->kw,
                            win->sh, d);
            g_assert_cmpfloat (d, <=, TOL);
          }
          n_window++;
        }
    }
  g_test_message ("checked %u pointwise, %u identity-at-inference, %u windowed classes",
                  n_pointwise, n_identity, n_window);
  /* the classes the detector, the model and CAM relied on by name before */
  g_assert_cmpuint (n_pointwise, >=, 5);
  g_assert_cmpuint (n_identity, >=, 4);
  g_assert_cmpuint (n_window, >=, 5);
  g_assert_cmpuint (n_rearranges, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/layer-flags/true", test_flags_true);
  return g_test_run ();
}
