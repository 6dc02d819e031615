/* Regularised filter patterns: the FFT against the plain DFT, the gradients
 * of the image parameterisations and warps against finite differences,
 * gradient ascent with every method, the vertical-edge filter, class scores
 * before the softmax, and the pattern cache. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "mir-fft.h"
#include "mir-filter-param.h"
#include "mir-filter-pattern.h"

/* ------------------------------------------------------------------ */
/* FFT */

static void
test_fft_matches_dft (void)
{
  /* mixed radix (28 = 2·2·7, 150 = 2·3·5·5, 224 = 2⁵·7), a prime, 1 */
  const guint lengths[] = { 1, 2, 3, 8, 13, 28, 64, 150, 224 };
  g_autoptr(GRand) rng = g_rand_new_with_seed (3);

  for (gsize li = 0; li < G_N_ELEMENTS (lengths); li++)
    for (int inverse = 0; inverse < 2; inverse++)
      {
        guint n = lengths[li];
        g_autoptr(MirFft) fft = mir_fft_new (n);
        g_autofree double *x = g_new (double, 2 * n), *ref = g_new (double, 2 * n);
        double err = 0, mag = 0;

        for (guint i = 0; i < 2 * n; i++)
          x[i] = g_rand_double_range (rng, -1, 1);
        mir_dft_naive (x, ref, n, inverse);
        mir_fft_run (fft, x, inverse);
        for (guint i = 0; i < 2 * n; i++)
          {
            err = MAX (err, fabs (x[i] - ref[i]));
            mag = MAX (mag, fabs (ref[i]));
          }
        /* double precision: a few ulps per butterfly level */
        g_assert_cmpfloat (err, <=, 1e-12 * n * (mag + 1));
      }
}

static void
test_fft_2d_matches_dft (void)
{
  /* 6 rows × 10 columns: the 2-D DFT is the DFT of every row, then of
   * every column, each done here with the naive sum. */
  const guint h = 6, w = 10;
  g_autoptr(MirFft) rows = mir_fft_new (w);
  g_autoptr(MirFft) cols = mir_fft_new (h);
  g_autoptr(GRand) rng = g_rand_new_with_seed (4);
  double x[2 * 60], ref[2 * 60], line[20], out[20];

  for (guint i = 0; i < 2 * h * w; i++)
    ref[i] = x[i] = g_rand_double_range (rng, -1, 1);
  for (guint y = 0; y < h; y++)
    {
      mir_dft_naive (ref + 2 * y * w, out, w, FALSE);
      memcpy (ref + 2 * y * w, out, sizeof (double) * 2 * w);
    }
  for (guint c = 0; c < w; c++)
    {
      for (guint y = 0; y < h; y++)
        line[2 * y] = ref[2 * (y * w + c)], line[2 * y + 1] = ref[2 * (y * w + c) + 1];
      mir_dft_naive (line, out, h, FALSE);
      for (guint y = 0; y < h; y++)
        ref[2 * (y * w + c)] = out[2 * y], ref[2 * (y * w + c) + 1] = out[2 * y + 1];
    }
  mir_fft_run_2d (rows, cols, x, FALSE);
  for (guint i = 0; i < 2 * h * w; i++)
    g_assert_cmpfloat_with_epsilon (x[i], ref[i], 1e-10);
  /* inverse undoes forward up to the factor h·w */
  mir_fft_run_2d (rows, cols, x, TRUE);
  {
    g_autoptr(GRand) again = g_rand_new_with_seed (4);
    for (guint i = 0; i < 2 * h * w; i++)
      g_assert_cmpfloat_with_epsilon (x[i] / (h * w), g_rand_double_range (again, -1, 1), 1e-12);
  }
}

/* ------------------------------------------------------------------ */
/* Gradients of the regularised method's pieces */

/* <warp(x), r> = <x, warpᵀ(r)>: the adjoint is the transpose of the exact
 * linear map (relative error ≤ 1e-5 in float). */
static void
test_warp_adjoint_dot_product (void)
{
  const int h = 11, w = 14, ch = 3;
  const gsize n = (gsize) h * w * ch;
  const MirWarp warps[] = {
    { 1.0, 0.0, 3, -2 },               /* pure jitter (mirrored border) */
    { 1.08, 0.17, 1, 0 },              /* scale up, rotate ~10° */
    { 0.9, -0.3, -2.5, 4 },            /* scale down: samples outside, mirrored */
  };
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  g_autofree float *x = g_new (float, n), *y = g_new (float, n);
  g_autofree float *r = g_new (float, n), *gx = g_new (float, n);

  for (gsize k = 0; k < G_N_ELEMENTS (warps); k++)
    {
      double lhs = 0, rhs = 0, scale = 0;

      for (gsize i = 0; i < n; i++)
        {
          x[i] = (float) g_rand_double_range (rng, -1, 1);
          r[i] = (float) g_rand_double_range (rng, -1, 1);
        }
      mir_warp_apply (x, y, h, w, ch, &warps[k]);
      mir_warp_adjoint (r, gx, h, w, ch, &warps[k]);
      for (gsize i = 0; i < n; i++)
        {
          lhs += (double) y[i] * r[i];
          rhs += (double) x[i] * gx[i];
          scale += fabs ((double) y[i] * r[i]);
        }
      g_test_message ("warp %zu: <Wx, r> = %.7g, <x, Wᵀr> = %.7g", k, lhs, rhs);
      g_assert_cmpfloat (fabs (lhs - rhs), <=, 1e-5 * scale);
    }
  /* the identity warp is the identity */
  {
    MirWarp id = { 1.0, 0.0, 0, 0 };
    mir_warp_apply (x, y, h, w, ch, &id);
    for (gsize i = 0; i < n; i++)
      g_assert_cmpfloat_with_epsilon (y[i], x[i], 1e-6);
  }
}

/* L(θ) = Σ r · warp(render(θ)); the analytic dL/dθ (warp adjoint, then the
 * parameterisation's backward) against central differences on 40 entries
 * of θ.  Tolerance: |numeric − analytic| ≤ 1e-3 · max|analytic| + 1e-3
 * (float rendering, step 1e-2, second-order error ~1e-4 relative). */
static void
check_param_gradient (gboolean fourier, gboolean decorrelate, int ch)
{
  const int h = 10, w = 12;
  const gsize n = (gsize) h * w * ch;
  const MirWarp warp = { 1.07, 0.12, 2, -1 };
  g_autoptr(MirImageParam) p = mir_image_param_new (h, w, ch, fourier, decorrelate);
  gsize P = mir_image_param_get_size (p);
  g_autoptr(GRand) rng = g_rand_new_with_seed (6);
  g_autofree float *theta = g_new (float, P), *g = g_new (float, P);
  g_autofree float *x = g_new (float, n), *y = g_new (float, n);
  g_autofree float *r = g_new (float, n), *gx = g_new (float, n);
  double gmax = 0, worst = 0;
  const double eps = 1e-2;

  mir_image_param_init (p, theta, rng);
  for (gsize i = 0; i < P; i++)
    theta[i] *= fourier ? 30.0f : 80.0f; /* away from the flat start: sigmoid curvature counts */
  for (gsize i = 0; i < n; i++)
    r[i] = (float) g_rand_double_range (rng, -1, 1);
  mir_warp_adjoint (r, gx, h, w, ch, &warp);
  mir_image_param_backward (p, theta, gx, g);
  for (gsize i = 0; i < P; i++)
    gmax = MAX (gmax, fabs (g[i]));
  g_assert_cmpfloat (gmax, >, 0);
  for (int k = 0; k < 40; k++)
    {
      gsize i = (gsize) g_rand_int_range (rng, 0, (gint32) P);
      float saved = theta[i];
      double lp = 0, lm = 0, num;

      theta[i] = (float) (saved + eps);
      mir_image_param_render (p, theta, x);
      mir_warp_apply (x, y, h, w, ch, &warp);
      for (gsize j = 0; j < n; j++)
        lp += (double) r[j] * y[j];
      theta[i] = (float) (saved - eps);
      mir_image_param_render (p, theta, x);
      mir_warp_apply (x, y, h, w, ch, &warp);
      for (gsize j = 0; j < n; j++)
        lm += (double) r[j] * y[j];
      theta[i] = saved;
      num = (lp - lm) / (2 * eps);
      worst = MAX (worst, fabs (num - g[i]));
      g_assert_cmpfloat (fabs (num - g[i]), <=, 1e-3 * gmax + 1e-3);
    }
  g_test_message ("%s%s, %d channels: max |analytic| %.4g, worst |numeric − analytic| %.3g",
                  fourier ? "fourier" : "pixel", decorrelate ? " decorrelated" : "", ch, gmax,
                  worst);
}

static void
test_param_gradients (void)
{
  check_param_gradient (FALSE, FALSE, 1);
  check_param_gradient (FALSE, TRUE, 3);
  check_param_gradient (TRUE, FALSE, 1);
  check_param_gradient (TRUE, TRUE, 3);
}

/* ∂TV/∂u against central differences (random values: no ties). */
static void
test_total_variation_gradient (void)
{
  const int h = 5, w = 6, ch = 2;
  const gsize n = (gsize) h * w * ch;
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  float u[60], g[60];
  const double eps = 1e-4;

  for (gsize i = 0; i < n; i++)
    u[i] = (float) g_rand_double (rng);
  memset (g, 0, sizeof g);
  mir_total_variation (u, h, w, ch, 1.0f, g);
  for (gsize i = 0; i < n; i++)
    {
      float saved = u[i];
      double tp, tm;
      u[i] = (float) (saved + eps);
      tp = mir_total_variation (u, h, w, ch, 0, NULL);
      u[i] = (float) (saved - eps);
      tm = mir_total_variation (u, h, w, ch, 0, NULL);
      u[i] = saved;
      g_assert_cmpfloat_with_epsilon ((tp - tm) / (2 * eps), g[i], 1e-2);
    }
}

/* ------------------------------------------------------------------ */
/* Gradient ascent */

/* Input 16×16×3 → Conv(8, 3×3, same, relu) → MaxPool → Conv(6, 3×3, relu)
 * → Flatten → Dense(5, softmax). */
static const char *small_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"small\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 8, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 16, 16, 3]}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p1\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 6, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\"}},"
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flat\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 5, "
  "\"activation\": \"softmax\"}}]}}";

typedef struct
{
  double l0[8], l1[8];
  MirImage *img[8];
  guint n_previews, n_done;
} Results;

static void
collect_cb (guint i, gint f, MirImage *img, double l0, double l1, gpointer data)
{
  Results *r = data;

  r->l0[i] = l0;
  r->l1[i] = l1;
  g_clear_pointer (&r->img[i], mir_image_unref);
  r->img[i] = mir_image_ref (img);
  r->n_done++;
}

static void
preview_cb (guint i, const MirTensor *img, gpointer data)
{
  Results *r = data;

  g_assert_nonnull (img);
  g_assert_cmpint (img->ndim, ==, 4);
  r->n_previews++;
}

static void
results_clear (Results *r)
{
  for (int i = 0; i < 8; i++)
    g_clear_pointer (&r->img[i], mir_image_unref);
}

static void
test_ascent_every_method (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (small_config, 11);
  const gint filters[6] = { 0, 1, 2, 3, 4, 5 };
  struct { const char *name; MirFilterMethod method; MirFilterParamKind param;
           gboolean decorrelate; MirFilterOptimizer opt; } cases[] = {
    { "seed", MIR_FILTER_METHOD_SEED, 0, FALSE, 0 },
    { "pixel+adam", MIR_FILTER_METHOD_REGULARIZED, MIR_FILTER_PARAM_PIXEL, FALSE,
      MIR_FILTER_OPTIMIZER_ADAM },
    { "pixel+decorrelated+sgd", MIR_FILTER_METHOD_REGULARIZED, MIR_FILTER_PARAM_PIXEL, TRUE,
      MIR_FILTER_OPTIMIZER_SGD },
    { "fourier+decorrelated+adam", MIR_FILTER_METHOD_REGULARIZED, MIR_FILTER_PARAM_FOURIER, TRUE,
      MIR_FILTER_OPTIMIZER_ADAM },
    { "fourier+sgd", MIR_FILTER_METHOD_REGULARIZED, MIR_FILTER_PARAM_FOURIER, FALSE,
      MIR_FILTER_OPTIMIZER_SGD },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    for (gint layer = 3; layer <= 5; layer += 2) /* c2 (filters), out (class scores) */
      {
        MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
        g_autoptr(GError) error = NULL;
        Results r = { 0 };
        guint n = layer == 3 ? 6 : 5;
        int rising_needed = (int) n;

        o.method = cases[c].method;
        o.param = cases[c].param;
        o.decorrelate = cases[c].decorrelate;
        o.optimizer = cases[c].opt;
        o.jitter = 2;
        o.batch = 4; /* two batches */
        g_assert_true (mir_filter_patterns_full (m, layer, filters, n, &o, NULL, preview_cb, 10,
                                                 collect_cb, &r, NULL, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (r.n_done, ==, n);
        /* every 10 of 40 steps, plus once when done */
        g_assert_cmpuint (r.n_previews, ==, n * 5);
        for (guint i = 0; i < n; i++)
          {
            g_test_message ("%s, layer %d, unit %u: %.5g → %.5g", cases[c].name, layer, i,
                            r.l0[i], r.l1[i]);
            /* The seed recipe has nothing to follow for a ReLU unit that is
             * off everywhere on its noise start (zero gradient): it stays
             * at 0.  Every other unit, and every unit with the regularised
             * method (which revives dead units), must rise; a wrong
             * gradient sign makes the objective fall. */
            if (cases[c].method == MIR_FILTER_METHOD_SEED && r.l0[i] == 0 && r.l1[i] == 0)
              {
                rising_needed--;
                continue;
              }
            g_assert_cmpfloat (r.l1[i], >, r.l0[i] + 0.05 * fabs (r.l0[i]) + 1e-3);
          }
        g_assert_cmpint (rising_needed, >=, 2);
        results_clear (&r);
      }
}

/* The class pattern maximises the score before the softmax: the returned
 * loss is the logit of the returned image (recomputed independently, on
 * the 8-bit pattern), which a probability (≤ 1) could not reach. */
static void
test_class_score_is_logit (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (small_config, 12);
  MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) x = mir_tensor_new_4d (1, 16, 16, 3, NULL);
  g_autoptr(MirTrace) trace = NULL;
  Results r = { 0 };
  gint cls = 2;
  MirTensor *logits;

  o.method = MIR_FILTER_METHOD_REGULARIZED;
  o.steps = 60;
  o.lr = 0.1f;
  g_assert_true (mir_filter_patterns (m, 5, &cls, 1, &o, collect_cb, &r, NULL, &error));
  g_assert_no_error (error);
  for (int y = 0; y < 16; y++)
    for (int i = 0; i < 16 * 3; i++)
      x->data[y * 48 + i] = r.img[0]->pixels[y * r.img[0]->rowstride + i];
  trace = mir_model_run (m, &x, 1, MIR_RUN_LOGITS, -1, 0, NULL, &error);
  g_assert_no_error (error);
  logits = mir_trace_get_output (trace, 0);
  g_test_message ("class %d: score %.4g → %.4g; logit of the 8-bit pattern %.4g", cls, r.l0[0],
                  r.l1[0], logits->data[cls]);
  g_assert_cmpfloat (fabs (logits->data[cls] - r.l1[0]), <=, 0.05 * fabs (r.l1[0]) + 0.1);
  g_assert_cmpfloat (r.l1[0], >, 1.0);
  results_clear (&r);
}

/* ------------------------------------------------------------------ */
/* Vertical edges */

static const char *edge_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"edge\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"edge_conv\", \"filters\": 1, "
  "\"kernel_size\": [3, 3], \"padding\": \"valid\", \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 32, 32, 1]}}]}}";

static void
test_vertical_stripes_regularized (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (edge_config, 1);
  MirLayer *conv = mir_model_get_node (m, 1)->layer;
  MirTensor *k = mir_layer_get_weight (conv, "kernel");
  MirTensor *b = mir_layer_get_weight (conv, "bias");
  gint filter = 0;

  /* kernel [3, 3, 1, 1]: columns −1, 0, +1 (a vertical-edge detector) */
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++)
      k->data[y * 3 + x] = (float) (x - 1);
  b->data[0] = 0.0f;
  for (int param = 0; param < 2; param++)
    {
      MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
      g_autoptr(GError) error = NULL;
      Results r = { 0 };
      double ex = 0, ey = 0;

      o.method = MIR_FILTER_METHOD_REGULARIZED;
      o.param = param ? MIR_FILTER_PARAM_FOURIER : MIR_FILTER_PARAM_PIXEL;
      g_assert_true (mir_filter_patterns (m, 1, &filter, 1, &o, collect_cb, &r, NULL, &error));
      g_assert_no_error (error);
      mir_test_gradient_energy (r.img[0], &ex, &ey);
      g_test_message ("%s: activation %.4g → %.4g, gradient energy along x %.0f, along y %.0f",
                      param ? "fourier" : "pixel", r.l0[0], r.l1[0], ex, ey);
      g_assert_cmpfloat (r.l1[0], >, r.l0[0] + 1.0);
      /* Horizontal stripes (a transposed gradient) fail.  Measured: pixel
       * ≈ 5×, Fourier ≈ 2.2× (2.9× after 200 steps): the 1/f spectrum keeps
       * the low-frequency blobs of its start, along which this objective is
       * blind, so its bound is lower. */
      g_assert_cmpfloat (ex, >, (param ? 1.6 : 3.0) * ey);
      results_clear (&r);
    }
}

/* ------------------------------------------------------------------ */
/* Cache */

static void
test_cache (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (small_config, 13);
  g_autofree char *dir = g_dir_make_tmp ("mirada-pattern-cache-XXXXXX", NULL);
  const gint filters[3] = { 1, 3, 4 };
  MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
  g_autoptr(GError) error = NULL;
  Results first = { 0 };

  o.method = MIR_FILTER_METHOD_REGULARIZED;
  o.steps = 10;
  {
    g_autoptr(MirFilterCache) cache = mir_filter_cache_new (16, dir);
    g_assert_true (mir_filter_patterns_full (m, 3, filters, 3, &o, cache, preview_cb, 1,
                                             collect_cb, &first, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (first.n_previews, ==, 3 * 11); /* computed: every step + done */
    g_assert_cmpuint (mir_filter_cache_get_n_entries (cache), ==, 3);
  }
  /* A new cache object on the same directory (a second run): from disk. */
  for (int round = 0; round < 2; round++)
    {
      g_autoptr(MirFilterCache) cache = mir_filter_cache_new (16, dir);
      Results again = { 0 };

      g_assert_true (mir_filter_patterns_full (m, 3, filters, 3, &o, cache, preview_cb, 1,
                                               collect_cb, &again, NULL, &error));
      g_assert_cmpuint (again.n_previews, ==, 3); /* hits: once each */
      for (int i = 0; i < 3; i++)
        {
          const MirImage *a = first.img[i], *b = again.img[i];
          g_assert_cmpint (a->width, ==, b->width);
          for (int y = 0; y < a->height; y++)
            g_assert_cmpmem (a->pixels + y * a->rowstride, a->width * a->channels,
                             b->pixels + y * b->rowstride, b->width * b->channels);
          g_assert_cmpfloat (again.l1[i], ==, first.l1[i]);
        }
      results_clear (&again);
    }
  /* a changed setting misses: every filter is computed again */
  {
    g_autoptr(MirFilterCache) cache = mir_filter_cache_new (16, dir);
    MirFilterOptions o2 = o;
    Results miss = { 0 };

    o2.tv = o.tv * 2;
    g_assert_true (mir_filter_patterns_full (m, 3, filters, 3, &o2, cache, preview_cb, 1,
                                             collect_cb, &miss, NULL, &error));
    g_assert_cmpuint (miss.n_previews, ==, 3 * 11);
    results_clear (&miss);
  }
  /* keys: settings, filter, layer and weights all change them; the batch
   * size does not */
  {
    g_autofree char *id = mir_filter_cache_model_id (m);
    g_autofree char *k0 = mir_filter_pattern_key (id, 3, 1, 16, &o);
    MirFilterOptions o2 = o;
    g_autofree char *k_batch = NULL, *k_rot = NULL, *k_filter = NULL, *k_layer = NULL;
    g_autofree char *id2 = NULL, *k_weights = NULL;
    MirTensor *kernel = mir_layer_get_weight (mir_model_get_node (m, 1)->layer, "kernel");

    o2.batch = 3;
    k_batch = mir_filter_pattern_key (id, 3, 1, 16, &o2);
    o2.rotate = 5;
    k_rot = mir_filter_pattern_key (id, 3, 1, 16, &o2);
    k_filter = mir_filter_pattern_key (id, 3, 2, 16, &o);
    k_layer = mir_filter_pattern_key (id, 1, 1, 16, &o);
    kernel->data[7] += 1e-3f;
    id2 = mir_filter_cache_model_id (m);
    k_weights = mir_filter_pattern_key (id2, 3, 1, 16, &o);
    g_assert_cmpstr (k0, ==, k_batch);
    g_assert_cmpstr (k0, !=, k_rot);
    g_assert_cmpstr (k0, !=, k_filter);
    g_assert_cmpstr (k0, !=, k_layer);
    g_assert_cmpstr (k0, !=, k_weights);
  }
  /* LRU: capacity 2 keeps the two most recent */
  {
    g_autoptr(MirFilterCache) lru = mir_filter_cache_new (2, NULL);
    double l0, l1;
    for (int i = 0; i < 3; i++)
      {
        char key[8];
        g_snprintf (key, sizeof key, "k%d", i);
        mir_filter_cache_insert (lru, key, first.img[i], i, i);
      }
    g_assert_cmpuint (mir_filter_cache_get_n_entries (lru), ==, 2);
    g_assert_null (mir_filter_cache_lookup (lru, "k0", &l0, &l1));
    {
      g_autoptr(MirImage) hit = mir_filter_cache_lookup (lru, "k2", &l0, &l1);
      g_assert_true (hit == first.img[2]);
      g_assert_cmpfloat (l1, ==, 2);
    }
  }
  results_clear (&first);
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (d)))
      {
        g_autofree char *p = g_build_filename (dir, name, NULL);
        g_unlink (p);
      }
    g_rmdir (dir);
  }
}

static void
test_cancel (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (small_config, 14);
  g_autoptr(GCancellable) c = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
  gint f = 0;

  o.method = MIR_FILTER_METHOD_REGULARIZED;
  g_cancellable_cancel (c);
  g_assert_false (mir_filter_patterns (m, 3, &f, 1, &o, NULL, NULL, c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ------------------------------------------------------------------ */
/* Batches and prefixes */

/* All filters in one batch give the patterns of one filter at a time: each
 * sample's loss is its own filter's mean, and each filter's noise comes
 * from (seed, filter).  Bound: at most 1 grey level apart anywhere (float
 * sums in another order inside a larger GEMM), final objective within
 * 1e-3 relative. */
static void
test_batch_equals_one_by_one (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (small_config, 14);
  const gint filters[6] = { 0, 1, 2, 3, 4, 5 };

  for (int method = 0; method < 2; method++)
    {
      MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
      g_autoptr(GError) error = NULL;
      Results all = { 0 }, one = { 0 };
      int worst = 0;

      o.method = method ? MIR_FILTER_METHOD_REGULARIZED : MIR_FILTER_METHOD_SEED;
      o.batch = 6;
      g_assert_true (mir_filter_patterns (m, 3, filters, 6, &o, collect_cb, &all, NULL, &error));
      g_assert_no_error (error);
      o.batch = 1;
      g_assert_true (mir_filter_patterns (m, 3, filters, 6, &o, collect_cb, &one, NULL, &error));
      g_assert_no_error (error);
      for (int i = 0; i < 6; i++)
        {
          const MirImage *a = all.img[i], *b = one.img[i];

          g_assert_cmpint (a->width, ==, 16);
          g_assert_cmpint (b->width, ==, 16);
          for (int y = 0; y < a->height; y++)
            for (int k = 0; k < a->width * a->channels; k++)
              worst = MAX (worst, abs ((int) a->pixels[y * a->rowstride + k] -
                                       (int) b->pixels[y * b->rowstride + k]));
          g_assert_cmpfloat (fabs (all.l1[i] - one.l1[i]), <=, 1e-3 * fabs (one.l1[i]) + 1e-6);
        }
      g_test_message ("%s: batch of 6 against one at a time: at most %d grey levels apart",
                      method ? "regularized" : "seed", worst);
      g_assert_cmpint (worst, <=, 1);
      results_clear (&all);
      results_clear (&one);
    }
}

/* A convolution's pattern computes only each sample's own filter of the
 * layer (mir_conv2d_one_filter); MIRADA_FILTER_HEAD=0 runs the whole layer
 * and picks the filter after it.  Both give the same objective and the
 * same ascent, for the first convolution (its input is the image) and a
 * later one (its input is a trace the gradient flows back through), with
 * both methods.  Bounds: the initial losses within 1e-5 relative (the same
 * products summed in another order), the final ones within 1e-3, the
 * images at most 1 grey level apart. */
static void
test_one_filter_equals_whole_layer (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (small_config, 15);
  const gint filters[6] = { 5, 0, 3, 1, 4, 2 };

  for (int layer = 1; layer <= 3; layer += 2)
    for (int method = 0; method < 2; method++)
      {
        MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
        g_autoptr(GError) error = NULL;
        Results head = { 0 }, whole = { 0 };
        int worst = 0, rose = 0;

        o.method = method ? MIR_FILTER_METHOD_REGULARIZED : MIR_FILTER_METHOD_SEED;
        o.batch = 6;
        g_unsetenv ("MIRADA_FILTER_HEAD");
        g_assert_true (mir_filter_patterns (m, layer, filters, 6, &o, collect_cb, &head, NULL,
                                            &error));
        g_assert_no_error (error);
        g_setenv ("MIRADA_FILTER_HEAD", "0", TRUE);
        g_assert_true (mir_filter_patterns (m, layer, filters, 6, &o, collect_cb, &whole, NULL,
                                            &error));
        g_unsetenv ("MIRADA_FILTER_HEAD");
        g_assert_no_error (error);
        for (int i = 0; i < 6; i++)
          {
            const MirImage *a = head.img[i], *b = whole.img[i];

            for (int y = 0; y < a->height; y++)
              for (int k = 0; k < a->width * a->channels; k++)
                worst = MAX (worst, abs ((int) a->pixels[y * a->rowstride + k] -
                                         (int) b->pixels[y * b->rowstride + k]));
            g_assert_cmpfloat (fabs (head.l0[i] - whole.l0[i]), <=,
                               1e-5 * fabs (whole.l0[i]) + 1e-7);
            g_assert_cmpfloat (fabs (head.l1[i] - whole.l1[i]), <=,
                               1e-3 * fabs (whole.l1[i]) + 1e-6);
            rose += whole.l1[i] > whole.l0[i] + 1e-3 * fabs (whole.l0[i]);
          }
        /* the ascent did something (a filter that stays off on the seed
         * method's start has a zero gradient): unchanged losses would pass
         * trivially */
        g_assert_cmpint (rose, >=, 3);
        g_test_message ("layer %d, %s: one filter against the whole layer: at most %d grey "
                        "levels apart", layer, method ? "regularized" : "seed", worst);
        g_assert_cmpint (worst, <=, 1);
        results_clear (&head);
        results_clear (&whole);
      }
}

/* Input 40×40×3 → Resizing(32×32) → Rescaling(1/255) → Conv(4, 3×3 valid,
 * relu) → MaxPool → Conv(5, 3×3 valid, relu) → Flatten → Dense(3). */
static const char *prefix_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"prefix\", \"layers\": ["
  "{\"class_name\": \"Resizing\", \"config\": {\"name\": \"resize\", \"height\": 32, "
  "\"width\": 32, \"interpolation\": \"bilinear\", \"batch_input_shape\": [null, 40, 40, 3]}},"
  "{\"class_name\": \"Rescaling\", \"config\": {\"name\": \"scale\", \"scale\": 0.00392156862, "
  "\"offset\": 0.0}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"padding\": \"valid\", \"activation\": \"relu\"}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p1\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 5, "
  "\"kernel_size\": [3, 3], \"padding\": \"valid\", \"activation\": \"relu\"}},"
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flat\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 3}}]}}";

/* The prefix up to c2, run at 20×20 past the Resizing layer, equals the
 * full model's c2 on the same 20×20 crop of the resized image: with valid
 * convolutions and a crop offset (4, 6) that the 2×2 pooling divides, every
 * output position sees the same pixels, so c2 of the crop is c2 of the
 * whole at offset (2, 3).  Bound: 1e-5 of the largest activation (float
 * sums in another order).  The prefix check refuses Flatten and Dense. */
static void
test_prefix_any_size (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (prefix_config, 15);
  g_autoptr(GRand) rng = g_rand_new_with_seed (16);
  gint64 shape[4] = { 1, 40, 40, 3 };
  g_autoptr(MirTensor) x = mir_test_random_tensor (4, shape, 0.0f, 255.0f, rng);
  g_autoptr(MirTensor) crop = mir_tensor_new_4d (1, 20, 20, 3, NULL);
  g_autoptr(MirTrace) full = NULL, part = NULL, refused = NULL;
  g_autoptr(GError) error = NULL;
  gint resize = mir_model_find_node (m, "resize"), c2 = mir_model_find_node (m, "c2");
  MirTensor *r, *a, *b;
  double peak = 0, worst = 0;

  g_assert_true (mir_model_prefix_any_size (m, c2, &error));
  g_assert_no_error (error);
  g_assert_false (mir_model_prefix_any_size (m, mir_model_find_node (m, "out"), &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "flat"));
  g_clear_error (&error);

  full = mir_model_run (m, &x, 1, MIR_RUN_KEEP_ALL, c2, 0, NULL, &error);
  g_assert_no_error (error);
  r = mir_trace_get (full, (guint) resize);
  a = mir_trace_get (full, (guint) c2);
  g_assert_cmpint (r->shape[1], ==, 32);
  g_assert_cmpint (a->shape[1], ==, 13);
  for (int y = 0; y < 20; y++)
    memcpy (crop->data + y * 20 * 3, r->data + ((y + 4) * 32 + 6) * 3, sizeof (float) * 20 * 3);
  /* without the flag, the model's own size only */
  refused = mir_model_run (m, &crop, 1, MIR_RUN_DEFAULT, c2, 0, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
  g_clear_error (&error);
  part = mir_model_run (m, &crop, 1, MIR_RUN_ANY_SIZE, c2, 0, NULL, &error);
  g_assert_no_error (error);
  b = mir_trace_get (part, (guint) c2);
  g_assert_cmpint (b->shape[1], ==, 7);
  g_assert_cmpint (b->shape[2], ==, 7);
  for (gsize i = 0; i < a->numel; i++)
    peak = MAX (peak, fabs (a->data[i]));
  for (int y = 0; y < 7; y++)
    for (int xx = 0; xx < 7; xx++)
      for (int k = 0; k < 5; k++)
        worst = MAX (worst, fabs (b->data[(y * 7 + xx) * 5 + k] -
                                  a->data[((y + 2) * 13 + xx + 3) * 5 + k]));
  g_test_message ("c2 at 20 px against the whole at 40 px: largest |difference| %.3g "
                  "(activations up to %.3g)", worst, peak);
  g_assert_cmpfloat (peak, >, 0);
  g_assert_cmpfloat (worst, <=, 1e-5 * peak);
}

/* --size on every model: honoured for a fully convolutional prefix (even
 * though the model's input is fixed), refused for a layer behind Dense;
 * automatic: 64 px or the model's input if smaller. */
static void
test_pattern_size (void)
{
  g_autoptr(MirModel) m = mir_test_model_from_config (prefix_config, 17);
  gint c2 = mir_model_find_node (m, "c2"), out = mir_model_find_node (m, "out");
  gint f = 0;
  struct { gint layer; int size; int want; } cases[] = {
    { c2, 20, 20 }, { c2, 8, 8 }, { c2, 100, 100 }, { c2, 0, 40 }, { out, 0, 40 }, { out, 40, 40 },
    { out, 20, -1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
      g_autoptr(GError) error = NULL;
      Results r = { 0 };
      gboolean ok;

      o.size = cases[i].size;
      o.steps = 2;
      ok = mir_filter_patterns (m, cases[i].layer, &f, 1, &o, collect_cb, &r, NULL, &error);
      if (cases[i].want < 0)
        {
          g_assert_false (ok);
          g_assert_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
          g_test_message ("size %d refused: %s", cases[i].size, error->message);
          continue;
        }
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpint (r.img[0]->width, ==, cases[i].want);
      g_assert_cmpint (r.img[0]->height, ==, cases[i].want);
      results_clear (&r);
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/filter-pattern/fft", test_fft_matches_dft);
  g_test_add_func ("/filter-pattern/fft-2d", test_fft_2d_matches_dft);
  g_test_add_func ("/filter-pattern/warp-adjoint", test_warp_adjoint_dot_product);
  g_test_add_func ("/filter-pattern/param-gradients", test_param_gradients);
  g_test_add_func ("/filter-pattern/tv-gradient", test_total_variation_gradient);
  g_test_add_func ("/filter-pattern/ascent-every-method", test_ascent_every_method);
  g_test_add_func ("/filter-pattern/class-score-is-logit", test_class_score_is_logit);
  g_test_add_func ("/filter-pattern/vertical-stripes-regularized",
                   test_vertical_stripes_regularized);
  g_test_add_func ("/filter-pattern/cache", test_cache);
  g_test_add_func ("/filter-pattern/batch-equals-one-by-one", test_batch_equals_one_by_one);
  g_test_add_func ("/filter-pattern/prefix-any-size", test_prefix_any_size);
  g_test_add_func ("/filter-pattern/one-filter-equals-whole-layer",
                   test_one_filter_equals_whole_layer);
  g_test_add_func ("/filter-pattern/size", test_pattern_size);
  g_test_add_func ("/filter-pattern/cancel", test_cancel);
  return g_test_run ();
}
