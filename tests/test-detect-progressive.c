/* Issue 23: the detector's progressive classification (coarse windows first,
 * the grid filling in), the reuse of an old grid's windows after a stride
 * change, and the filters' rule for windows not classified yet.  The
 * references are the engine's plain path (mir_detect_classify_full, every
 * window in order, from scratch) and a hand-worked grid. */
#include <math.h>
#include <string.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "detect/mir-detect.h"
#include "detect-seed-cnn.h"

#define TOL 1e-6

/* ------------------------------------------------------------------ */
/* The rule on a hand-made partial grid.
 *
 * Grid A of test-detect.c (3×3 windows, classes dog and cat), dog:
 *
 *   0.2  [0.9]  [0.3]       [ ] = not classified yet (known = 0)
 *   0.1  0.95   0.4
 *   0.0  0.5    0.99
 *
 * Method 2.2, dog threshold 0.89, f_e 0, cat off.
 * Filter 1 keeps 4 (0.95) and 8 (0.99); window 1 (0.9) is unknown: dropped.
 * Mean of 4 (row 1, col 1), the two unknown neighbours left out:
 *   (0.2 + 0.1 + 0.95 + 0.4 + 0.0 + 0.5 + 0.99) / 7 = 3.14 / 7 = 0.448571
 *   (counting them as 0 would give 3.14 / 9 = 0.348889)
 * Mean of 8 (row 2, col 2): 0.95 + 0.4 + 0.5 + 0.99 = 2.84, 5 outside at 0:
 *   2.84 / 9 = 0.315556
 * μ = (0.448571 + 0.315556) / 2 = 0.382063: 4 passes, 8 does not. */
static const float grid_a_dog[9] = { 0.2f, 0.9f, 0.3f, 0.1f, 0.95f, 0.4f, 0.0f, 0.5f, 0.99f };

static MirDetectGrid *
make_partial_a (void)
{
  const char *names[] = { "dog", "cat", NULL };
  g_autoptr(GError) error = NULL;
  MirDetectGeometry geom;
  float probs[18];
  MirDetectGrid *grid;

  g_assert_true (mir_detect_geometry_init (&geom, 30, 30, 10, 10, FALSE, &error));
  for (int n = 0; n < 9; n++)
    {
      probs[2 * n] = grid_a_dog[n];
      probs[2 * n + 1] = 1.0f - grid_a_dog[n];
    }
  grid = mir_detect_grid_new (&geom, 2, names, MIR_HEAD_SOFTMAX, probs, &error);
  g_assert_no_error (error);
  grid->known = g_new (guint8, 9);
  memset (grid->known, 1, 9);
  grid->known[1] = grid->known[2] = 0;
  return grid;
}

static void
test_partial_rule (void)
{
  g_autoptr(MirDetectGrid) grid = make_partial_a ();
  g_autoptr(MirDetectParams) params = mir_detect_params_new (2, MIR_DETECT_METHOD_2_2);
  g_autoptr(MirDetectResult) result = NULL;
  g_autoptr(MirDetectResult) method1 = NULL;
  g_autoptr(MirDetectField) field = NULL;
  g_autoptr(GError) error = NULL;
  const MirDetectBox *b;

  params->classes[0].threshold = 0.89;
  params->classes[0].exception = 0.0;
  params->classes[1].enabled = FALSE;
  g_assert_cmpuint (mir_detect_grid_count_known (grid), ==, 7);

  result = mir_detect_filter (grid, params, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result->n_filter1[0], ==, 2);
  g_assert_cmpuint (result->candidates->len, ==, 2);
  b = &g_array_index (result->candidates, MirDetectBox, 0);
  g_assert_cmpuint (b->window, ==, 4);
  g_assert_cmpfloat_with_epsilon (b->mean, 3.14 / 7, TOL);
  b = &g_array_index (result->candidates, MirDetectBox, 1);
  g_assert_cmpuint (b->window, ==, 8);
  g_assert_cmpfloat_with_epsilon (b->mean, 2.84 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (result->mu[0], (3.14 / 7 + 2.84 / 9) / 2, TOL);
  g_assert_cmpuint (result->boxes->len, ==, 1);
  g_assert_cmpuint (g_array_index (result->boxes, MirDetectBox, 0).window, ==, 4);
  /* the hover's mean is filter 2's */
  g_assert_cmpfloat_with_epsilon (mir_detect_window_mean (grid, params, 0, 4), 3.14 / 7, TOL);

  /* the field agrees: no filter 1 at the unknown window 1 */
  field = mir_detect_field_new (grid, params, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (field->filter1[1], ==, 0);
  g_assert_cmpint (field->filter1[4], ==, 1);
  g_assert_cmpint (field->filter2[4], ==, 1);
  g_assert_cmpint (field->filter2[8], ==, 0);

  /* method 1 at threshold 0: every known window, no unknown one */
  params->method = MIR_DETECT_METHOD_1;
  params->classes[0].threshold = 0.0;
  method1 = mir_detect_filter (grid, params, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (method1->boxes->len, ==, 7);
  for (guint i = 0; i < method1->boxes->len; i++)
    g_assert_true (mir_detect_grid_is_known (grid, g_array_index (method1->boxes, MirDetectBox,
                                                                  i).window));

  /* the copy keeps the mask; a complete grid has none */
  {
    g_autoptr(MirDetectGrid) copy = mir_detect_grid_copy (grid);

    g_assert_nonnull (copy->known);
    g_assert_cmpmem (copy->known, 9, grid->known, 9);
    g_assert_cmpmem (copy->probs, 18 * sizeof (float), grid->probs, 18 * sizeof (float));
    g_clear_pointer (&grid->known, g_free);
    g_assert_cmpuint (mir_detect_grid_count_known (grid), ==, 9);
  }
}

/* ------------------------------------------------------------------ */
/* The seed 002 CNN with random weights (as test-detect.c's fast path). */

static MirModel *
make_seed_cnn (int side)
{
  g_autofree char *config = seed_cnn_config ("valid", "valid", side);
  g_autoptr(GError) error = NULL;
  MirModel *model = mir_keras_model_from_config (config, -1, &error);

  g_assert_no_error (error);
  mir_model_finish (model, TRUE, 7, &error);
  g_assert_no_error (error);
  model->meta.preprocess = MIR_PREPROCESS_SCALE;
  return model;
}

static MirImage *
random_image (int width, int height, guint32 seed)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr(GError) error = NULL;
  MirImage *image = mir_image_new (width, height, 3, &error);

  g_assert_no_error (error);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      for (int c = 0; c < 3; c++)
        image->pixels[(gsize) y * image->rowstride + (gsize) x * 3 + c] =
          (guint8) CLAMP ((x * (c + 1) + y * (3 - c)) % 256 / 2 + g_rand_int_range (rng, 0, 128),
                          0, 255);
  return image;
}

static MirDetectGrid *
plain (MirModel *model, const MirImage *image, int window, int stride, MirDetectSharedMode shared)
{
  g_autoptr(GError) error = NULL;
  MirDetectGeometry geom;
  MirDetectGrid *grid;

  g_assert_true (mir_detect_geometry_init (&geom, image->width, image->height, window, stride,
                                           FALSE, &error));
  grid = mir_detect_classify_full (model, image, &geom, 0, shared, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return grid;
}

/* Largest difference of the probabilities (and embeddings) of @a and @b. */
static double
grid_diff (const MirDetectGrid *a, const MirDetectGrid *b, double *embed_diff)
{
  const guint N = mir_detect_geometry_n_windows (&a->geom);
  double worst = 0;

  g_assert_cmpint (a->geom.rows, ==, b->geom.rows);
  g_assert_cmpint (a->geom.cols, ==, b->geom.cols);
  g_assert_cmpuint (a->n_classes, ==, b->n_classes);
  for (gsize i = 0; i < (gsize) N * a->n_classes; i++)
    worst = MAX (worst, fabs (a->probs[i] - b->probs[i]));
  *embed_diff = 0;
  g_assert_true ((a->embed == NULL) == (b->embed == NULL));
  if (a->embed != NULL)
    {
      g_assert_cmpuint (a->embed_dim, ==, b->embed_dim);
      for (gsize i = 0; i < (gsize) N * a->embed_dim; i++)
        *embed_diff = MAX (*embed_diff, fabs (a->embed[i] - b->embed[i])
                                        / MAX (1.0, fabs (b->embed[i])));
    }
  return worst;
}

typedef struct
{
  const MirDetectGrid *final;  /* to compare the partial grids with, or NULL */
  guint calls;
  guint last_known;
  guint first_known;
  guint total;                 /* windows to classify, as the callback says */
  gboolean first_is_coarse;    /* the first call's known windows are rows, cols ≡ 0 mod 4 */
  double worst;                /* largest |partial - final| over known windows */
  guint boxes_from_unknown;
  guint filter1_mismatch;
} Watch;

static void
watch_partial (MirDetectGrid *const *grids, guint n_grids, guint done, guint total,
               gpointer user_data)
{
  Watch *w = user_data;
  const MirDetectGrid *g = grids[0];
  const guint N = mir_detect_geometry_n_windows (&g->geom);
  guint known = mir_detect_grid_count_known (g);
  g_autoptr(MirDetectParams) params = mir_detect_params_new (g->n_classes, MIR_DETECT_METHOD_2_2);
  g_autoptr(MirDetectResult) r = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (n_grids, ==, 1);
  g_assert_cmpuint (done, <=, total);
  w->total = total;
  g_assert_cmpuint (known, >, w->last_known); /* the grid fills in */
  if (w->calls == 0)
    {
      w->first_known = known;
      w->first_is_coarse = TRUE;
      for (guint n = 0; n < N; n++)
        {
          guint row = n / (guint) g->geom.cols, col = n % (guint) g->geom.cols;
          gboolean coarse = row % 4 == 0 && col % 4 == 0;

          if (coarse != mir_detect_grid_is_known (g, n))
            w->first_is_coarse = FALSE;
        }
    }
  w->calls++;
  w->last_known = known;
  for (guint n = 0; w->final != NULL && n < N; n++)
    for (guint c = 0; c < g->n_classes && mir_detect_grid_is_known (g, n); c++)
      w->worst = MAX (w->worst, fabs (mir_detect_grid_get (g, n, c)
                                      - mir_detect_grid_get (w->final, n, c)));
  /* every class at threshold 0: filter 1 keeps exactly the known windows */
  for (guint c = 0; c < g->n_classes; c++)
    params->classes[c].threshold = 0.0;
  r = mir_detect_filter (g, params, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < r->candidates->len; i++)
    if (!mir_detect_grid_is_known (g, g_array_index (r->candidates, MirDetectBox, i).window))
      w->boxes_from_unknown++;
  for (guint c = 0; c < g->n_classes; c++)
    if (r->n_filter1[c] != known)
      w->filter1_mismatch++;
}

/* Coarse-to-fine on 5×7 windows (270×230 at 150/20): 2×2 coarse windows
 * first, then 3×4 − 4 = 8, then the other 23, in batches of 4.  The final grid
 * is the plain one; every partial grid agrees with it on its known windows. */
static void
check_progressive (MirModel *model, const MirImage *image, MirDetectSharedMode shared)
{
  g_autoptr(MirDetectGrid) ref = plain (model, image, 150, 20, shared);
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autoptr(GError) error = NULL;
  Watch w = { ref, 0, 0, 0, 0, FALSE, 0, 0, 0 };
  MirDetectProgressive prog = { TRUE, NULL, 0, watch_partial, &w };
  double d, de, lo = 1, hi = 0;

  g_assert_cmpint (ref->geom.rows, ==, 5);
  g_assert_cmpint (ref->geom.cols, ==, 7);
  grid = mir_detect_classify_progressive (model, image, &ref->geom, 4, shared, &prog, NULL, NULL,
                                          NULL, &error);
  g_assert_no_error (error);
  g_assert_null (grid->known);
  d = grid_diff (grid, ref, &de);
  for (guint i = 0; i < 35 * ref->n_classes; i++)
    {
      lo = MIN (lo, ref->probs[i]);
      hi = MAX (hi, ref->probs[i]);
    }
  g_test_message ("shared %d: %u partial grids, the first with %u windows; probabilities %.4f "
                  "to %.4f, largest difference %.3g (embeddings, relative %.3g); partial vs "
                  "final %.3g", shared, w.calls, w.first_known, lo, hi, d, de, w.worst);
  g_assert_cmpfloat (hi - lo, >, 1e-3); /* not saturated */
  g_assert_cmpfloat (d, <=, TOL);
  g_assert_cmpfloat (de, <=, 1e-5);
  g_assert_cmpfloat (w.worst, <=, TOL);
  /* 35 windows in batches of 4: 9 calls, the first with the 4 coarse windows */
  g_assert_cmpuint (w.first_known, ==, 4);
  g_assert_true (w.first_is_coarse);
  g_assert_cmpuint (w.calls, ==, 9);
  g_assert_cmpuint (w.last_known, ==, 35);
  g_assert_cmpuint (w.total, ==, 35);
  g_assert_cmpuint (w.boxes_from_unknown, ==, 0);
  g_assert_cmpuint (w.filter1_mismatch, ==, 0);
}

static void
test_progressive (void)
{
  g_autoptr(MirModel) model = make_seed_cnn (150);
  g_autoptr(MirImage) image = random_image (270, 230, 5);

  check_progressive (model, image, MIR_DETECT_SHARED_NEVER);
  check_progressive (model, image, MIR_DETECT_SHARED_AUTO);
}

/* Reuse after a stride change.  270×230 at 150: stride 40 gives x in
 * {0, 40, 80, 120}, y in {0, 40, 80} (3×4 = 12 windows); stride 20 gives
 * x in {0, 20, …, 120}, y in {0, 20, …, 80} (5×7 = 35), 12 of them at the
 * same corners: 23 to classify.  Back to 40, all 12 are in the 20 grid. */
static void
test_reuse (void)
{
  g_autoptr(MirModel) model = make_seed_cnn (150);
  g_autoptr(MirImage) image = random_image (270, 230, 9);
  g_autoptr(MirDetectGrid) old = plain (model, image, 150, 40, MIR_DETECT_SHARED_AUTO);
  g_autoptr(MirDetectGrid) ref = plain (model, image, 150, 20, MIR_DETECT_SHARED_AUTO);
  g_autoptr(MirDetectGrid) ref40 = NULL;
  g_autoptr(MirDetectGrid) marked = NULL;
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autoptr(MirDetectGrid) back = NULL;
  g_autoptr(MirDetectGrid) other = NULL;
  g_autoptr(MirDetectGrid) other_window = NULL;
  g_autoptr(GError) error = NULL;
  MirDetectGrid *reuse[1];
  Watch w = { NULL, 0, 0, 0, 0, FALSE, 0, 0, 0 };
  MirDetectProgressive prog = { TRUE, reuse, 1, watch_partial, &w };
  guint copied = 0;
  double d, de;

  g_assert_cmpuint (mir_detect_geometry_n_windows (&old->geom), ==, 12);
  g_assert_nonnull (old->embed);

  /* 40 → 20: equal to the fresh 20 grid, 23 windows classified */
  reuse[0] = old;
  grid = mir_detect_classify_progressive (model, image, &ref->geom, 8, MIR_DETECT_SHARED_AUTO,
                                          &prog, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  d = grid_diff (grid, ref, &de);
  g_test_message ("40 → 20: %u windows classified, largest difference %.3g (embeddings %.3g)",
                  w.total, d, de);
  g_assert_cmpuint (w.total, ==, 23);
  g_assert_cmpuint (w.first_known, >, 12); /* the reused ones are there from the first call */
  g_assert_cmpuint (w.boxes_from_unknown, ==, 0);
  g_assert_cmpfloat (d, <=, TOL);
  g_assert_cmpfloat (de, <=, 1e-5);

  /* the copies come from the right windows: an old grid with marked values
   * gives them back exactly where the corners coincide */
  marked = mir_detect_grid_copy (old);
  for (guint m = 0; m < 12; m++)
    marked->probs[m * marked->n_classes] = (float) (m + 1) / 64.0f;
  reuse[0] = marked;
  prog.partial = NULL;
  other = mir_detect_classify_progressive (model, image, &ref->geom, 0, MIR_DETECT_SHARED_AUTO,
                                           &prog, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint n = 0; n < 35; n++)
    {
      int x = (int) (n % 7) * 20, y = (int) (n / 7) * 20;

      if (x % 40 == 0 && y % 40 == 0)
        {
          guint m = (guint) (y / 40) * 4 + (guint) (x / 40);

          g_assert_cmpfloat (other->probs[n * other->n_classes], ==, (float) (m + 1) / 64.0f);
          copied++;
        }
      else
        g_assert_cmpfloat_with_epsilon (other->probs[n * other->n_classes],
                                        ref->probs[n * ref->n_classes], TOL);
    }
  g_assert_cmpuint (copied, ==, 12);

  /* 20 → 40: nothing to classify, no partial call, the fresh 40 grid */
  ref40 = mir_detect_grid_ref (old);
  reuse[0] = ref;
  memset (&w, 0, sizeof w);
  prog.partial = watch_partial;
  back = mir_detect_classify_progressive (model, image, &old->geom, 0, MIR_DETECT_SHARED_AUTO,
                                          &prog, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (w.calls, ==, 0);
  g_assert_null (back->known);
  d = grid_diff (back, ref40, &de);
  g_assert_cmpfloat (d, <=, TOL);
  g_assert_cmpfloat (de, <=, 1e-5);

  /* 40 → 30 → 40: the 30 grid (x in {0, 30, …, 120}, y in {0, 30, 60}: 15
   * windows) shares only the corners at y = 0, x in {0, 120} with the 40
   * grid; back to 40 with the 30 grid alone 10 windows are classified, with
   * both old grids (the newest first) none */
  {
    g_autoptr(MirDetectGrid) g30 = NULL;
    g_autoptr(MirDetectGrid) back40 = NULL;
    MirDetectGrid *two[2];
    MirDetectProgressive prog2 = { TRUE, two, 1, watch_partial, &w };
    MirDetectGeometry geom30;

    g_assert_true (mir_detect_geometry_init (&geom30, 270, 230, 150, 30, FALSE, &error));
    two[0] = old;
    memset (&w, 0, sizeof w);
    g30 = mir_detect_classify_progressive (model, image, &geom30, 0, MIR_DETECT_SHARED_AUTO,
                                           &prog2, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (mir_detect_geometry_n_windows (&g30->geom), ==, 15);
    g_assert_cmpuint (w.total, ==, 13);
    two[0] = g30;
    memset (&w, 0, sizeof w);
    back40 = mir_detect_classify_progressive (model, image, &old->geom, 0,
                                              MIR_DETECT_SHARED_AUTO, &prog2, NULL, NULL, NULL,
                                              &error);
    g_assert_no_error (error);
    g_assert_cmpuint (w.total, ==, 10);
    g_clear_pointer (&back40, mir_detect_grid_unref);
    two[1] = old;
    prog2.n_reuse = 2;
    memset (&w, 0, sizeof w);
    back40 = mir_detect_classify_progressive (model, image, &old->geom, 0,
                                              MIR_DETECT_SHARED_AUTO, &prog2, NULL, NULL, NULL,
                                              &error);
    g_assert_no_error (error);
    g_assert_cmpuint (w.calls, ==, 0);
    d = grid_diff (back40, ref40, &de);
    g_test_message ("40 → 30 → 40 with both old grids: nothing classified, difference %.3g", d);
    g_assert_cmpfloat (d, <=, TOL);
    g_assert_cmpfloat (de, <=, 1e-5);
  }

  /* another window side: nothing reused, all 35 classified */
  other_window = plain (model, image, 140, 40, MIR_DETECT_SHARED_NEVER);
  reuse[0] = other_window;
  memset (&w, 0, sizeof w);
  g_clear_pointer (&grid, mir_detect_grid_unref);
  grid = mir_detect_classify_progressive (model, image, &ref->geom, 0, MIR_DETECT_SHARED_AUTO,
                                          &prog, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (w.total, ==, 35);
}

/* Several scales (a pyramid of 2 levels): every partial call hands out both
 * grids; the final grids equal mir_detect_classify_scales'. */
typedef struct
{
  guint calls;
  guint bad;
} ScalesWatch;

static void
watch_scales (MirDetectGrid *const *grids, guint n_grids, guint done, guint total,
              gpointer user_data)
{
  ScalesWatch *w = user_data;

  w->calls++;
  if (n_grids != 2 || grids[0] == NULL || grids[1] == NULL || grids[1]->scale != 1.25
      || done > total)
    w->bad++;
}

static void
test_scales (void)
{
  g_autoptr(MirModel) model = make_seed_cnn (150);
  g_autoptr(MirImage) image = random_image (270, 230, 11);
  g_autoptr(GPtrArray) ref = NULL;
  g_autoptr(GPtrArray) grids = NULL;
  g_autoptr(GError) error = NULL;
  MirDetectScales scales;
  ScalesWatch w = { 0, 0 };
  MirDetectProgressive prog = { TRUE, NULL, 0, watch_scales, &w };

  g_assert_true (mir_detect_scales_pyramid (&scales, 150, 1.25, 2, &error));
  ref = mir_detect_classify_scales (model, image, &scales, 20, FALSE, 0, MIR_DETECT_SHARED_AUTO,
                                    NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  grids = mir_detect_classify_scales_progressive (model, image, &scales, 20, FALSE, 0,
                                                  MIR_DETECT_SHARED_AUTO, &prog, NULL, NULL,
                                                  NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (grids->len, ==, 2);
  for (guint s = 0; s < 2; s++)
    {
      double de, d = grid_diff (g_ptr_array_index (grids, s), g_ptr_array_index (ref, s), &de);

      g_assert_cmpfloat (d, <=, TOL);
      g_assert_cmpfloat (((MirDetectGrid *) g_ptr_array_index (grids, s))->scale, ==,
                         ((MirDetectGrid *) g_ptr_array_index (ref, s))->scale);
    }
  g_assert_cmpuint (w.calls, >=, 2);
  g_assert_cmpuint (w.bad, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect-progressive/partial-rule", test_partial_rule);
  g_test_add_func ("/detect-progressive/progressive", test_progressive);
  g_test_add_func ("/detect-progressive/reuse", test_reuse);
  g_test_add_func ("/detect-progressive/scales", test_scales);
  return g_test_run ();
}
