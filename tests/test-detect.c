/* The detector's cheap part on hand-made probability grids.  Every expected
 * number below is worked out by hand in the comment above it (from the
 * seed's equations 1-4 or from the notebook's code), not taken from the
 * program's output. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "detect/mir-detect.h"
#include "detect-seed-cnn.h"

#define TOL 1e-6

/* ------------------------------------------------------------------ */
/* Grid A: 3×3 windows (image 30×30, window 10, stride 10), classes
 * [dog, cat], cat = 1 - dog (a binary softmax or a sigmoid's [P, 1-P]).
 *
 *   dog:  0.2  0.9  0.3        cat:  0.8  0.1  0.7
 *         0.1  0.95 0.4              0.9  0.05 0.6
 *         0.0  0.5  0.99             1.0  0.5  0.01
 *
 * window n = row·3 + col (the seed's cord_mat). */
static const float grid_a_dog[9] = { 0.2f, 0.9f, 0.3f, 0.1f, 0.95f, 0.4f, 0.0f, 0.5f, 0.99f };
static const float grid_a_cat[9] = { 0.8f, 0.1f, 0.7f, 0.9f, 0.05f, 0.6f, 1.0f, 0.5f, 0.01f };

static MirDetectGrid *
make_grid_a_sized (int side, int window, int stride)
{
  const char *names[] = { "dog", "cat", NULL };
  MirDetectGeometry geom;
  float probs[18];
  g_autoptr(GError) error = NULL;
  MirDetectGrid *grid;

  g_assert_true (mir_detect_geometry_init (&geom, side, side, window, stride, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (geom.rows, ==, 3);
  g_assert_cmpint (geom.cols, ==, 3);
  for (int n = 0; n < 9; n++)
    {
      probs[2 * n] = grid_a_dog[n];
      probs[2 * n + 1] = grid_a_cat[n];
    }
  grid = mir_detect_grid_new (&geom, 2, names, MIR_HEAD_SOFTMAX, probs, &error);
  g_assert_no_error (error);
  return grid;
}

static MirDetectGrid *
make_grid_a (void)
{
  return make_grid_a_sized (30, 10, 10);
}

static MirDetectParams *
params_a (MirDetectMethod method, double fe_dog, double fe_cat)
{
  MirDetectParams *p = mir_detect_params_new (2, method);

  /* (double) 0.9f = 0.89999998 < 0.9: keep thresholds clear of the values */
  p->classes[0].threshold = 0.89;
  p->classes[1].threshold = 0.85;
  p->classes[0].exception = fe_dog;
  p->classes[1].exception = fe_cat;
  return p;
}

static MirDetectResult *
run (MirDetectGrid *grid, MirDetectParams *params)
{
  g_autoptr(GError) error = NULL;
  MirDetectResult *r = mir_detect_filter (grid, params, &error);

  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

/* Candidate (filter-1 survivor) of class @c at window @n. */
static const MirDetectBox *
candidate (MirDetectResult *r, guint c, guint n)
{
  for (guint i = 0; i < r->candidates->len; i++)
    {
      const MirDetectBox *b = &g_array_index (r->candidates, MirDetectBox, i);
      if (b->class_index == c && b->window == n)
        return b;
    }
  g_error ("no candidate of class %u at window %u", c, n);
  return NULL;
}

/* The windows of the final boxes of class @c, as "n,n,n". */
static char *
box_windows (MirDetectResult *r, guint c)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < r->boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (r->boxes, MirDetectBox, i);
      if (b->class_index == c)
        g_string_append_printf (s, "%s%u", s->len ? "," : "", b->window);
    }
  return g_string_free (s, FALSE);
}

static void
assert_windows (MirDetectResult *r, guint c, const char *expected)
{
  g_autofree char *got = box_windows (r, c);
  g_assert_cmpstr (got, ==, expected);
}

static void
test_geometry (void)
{
  MirDetectGeometry g;
  g_autoptr(GError) error = NULL;
  int x, y, size;

  /* The seed's photo: 400×800 at 150/40: floor(250/40)+1 = 7 rows,
   * floor(650/40)+1 = 17 columns; the notebook keeps 16. */
  g_assert_true (mir_detect_geometry_init (&g, 800, 400, 150, 40, FALSE, &error));
  g_assert_cmpint (g.rows, ==, 7);
  g_assert_cmpint (g.cols, ==, 17);
  g_assert_true (mir_detect_geometry_init (&g, 800, 400, 150, 40, TRUE, &error));
  g_assert_cmpint (g.rows, ==, 7);
  g_assert_cmpint (g.cols, ==, 16);
  g_assert_cmpuint (mir_detect_geometry_n_windows (&g), ==, 112);
  /* window 20 of cord_mat 7×16 = row 1, column 4: x = 160, y = 40 */
  mir_detect_geometry_window_rect (&g, 20, &x, &y, &size);
  g_assert_cmpint (x, ==, 160);
  g_assert_cmpint (y, ==, 40);
  g_assert_cmpint (size, ==, 150);
  /* the last window: row 6, column 15 -> (600, 240), inside 800×400 */
  mir_detect_geometry_window_rect (&g, 111, &x, &y, &size);
  g_assert_cmpint (x, ==, 600);
  g_assert_cmpint (y, ==, 240);

  g_assert_false (mir_detect_geometry_init (&g, 800, 400, 150, 0, FALSE, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mir_detect_geometry_init (&g, 800, 400, 401, 40, FALSE, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  /* 150 wide: one column only, the notebook layout would leave none */
  g_assert_false (mir_detect_geometry_init (&g, 150, 400, 150, 40, TRUE, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  /* window = image: exactly one window */
  g_assert_true (mir_detect_geometry_init (&g, 150, 150, 150, 40, FALSE, &error));
  g_assert_cmpint (g.rows * g.cols, ==, 1);
}

static void
test_params_check (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_2, 0.5, 0.5);
  g_autoptr(MirDetectParams) p3 = mir_detect_params_new (3, MIR_DETECT_METHOD_1);
  MirDetectResult *r;

  p->classes[1].threshold = 1.5;
  r = mir_detect_filter (grid, p, &error);
  g_assert_null (r);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "cat"));
  g_clear_error (&error);

  p->classes[1].threshold = 0.9;
  p->classes[0].exception = -0.1;
  g_assert_null (mir_detect_filter (grid, p, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);

  p->classes[0].exception = NAN;
  g_assert_null (mir_detect_filter (grid, p, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_null (mir_detect_filter (grid, p3, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

/* Method 1 on grid A: dog >= 0.89 keeps 1 (0.9), 4 (0.95), 8 (0.99);
 * cat >= 0.85 keeps 3 (0.9), 6 (1.0). */
static void
test_method1 (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_1, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = run (grid, p);
  const MirDetectBox *b;

  assert_windows (r, 0, "1,4,8");
  assert_windows (r, 1, "3,6");
  g_assert_cmpuint (r->counts[0], ==, 3);
  g_assert_cmpuint (r->counts[1], ==, 2);
  g_assert_true (isnan (r->mu[0]) && isnan (r->mu[1]));
  /* window 4: row 1, col 1 -> (10, 10), 10×10 */
  b = candidate (r, 0, 4);
  g_assert_cmpuint (b->row, ==, 1);
  g_assert_cmpuint (b->col, ==, 1);
  g_assert_cmpfloat_with_epsilon (b->x, 10, TOL);
  g_assert_cmpfloat_with_epsilon (b->y, 10, TOL);
  g_assert_cmpfloat_with_epsilon (b->width, 10, TOL);
  g_assert_cmpfloat_with_epsilon (b->prob, 0.95, TOL);
  g_assert_true (isnan (b->mean));
}

/* Method 2.2, equations, f_e = 0.5 for both.
 * dog, 3×3 means:
 *   n=1 (row 0, col 1): row above outside 3·0.5 = 1.5, row 0: 0.2+0.9+0.3 = 1.4,
 *        row 1: 0.1+0.95+0.4 = 1.45; 4.35/9 = 0.483333
 *   n=4 (centre): all nine: 4.34/9 = 0.482222
 *   n=8 (corner): inside 0.95+0.4+0.5+0.99 = 2.84, five outside 2.5; 5.34/9 = 0.593333
 *   μ = (0.593333 + 0.482222)/2 = 0.537778 -> keeps 8.
 * cat:
 *   n=3 (row 1, col 0): inside 0.8+0.1+0.9+0.05+1.0+0.5 = 3.35, three outside 1.5;
 *        4.85/9 = 0.538889
 *   n=6 (row 2, col 0): inside 0.9+0.05+1.0+0.5 = 2.45, five outside 2.5; 4.95/9 = 0.55
 *   μ = 0.544444 -> keeps 6. */
static void
test_method22 (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_2, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = run (grid, p);

  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 1)->mean, 4.35 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 4)->mean, 4.34 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 8)->mean, 5.34 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[0], (5.34 / 9 + 4.34 / 9) / 2, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 3)->mean, 4.85 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 6)->mean, 0.55, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[1], (0.55 + 4.85 / 9) / 2, TOL);
  assert_windows (r, 0, "8");
  assert_windows (r, 1, "6");
  g_assert_cmpuint (r->n_filter1[0], ==, 3);
  g_assert_cmpuint (r->n_filter2[0], ==, 1);
  g_assert_false (candidate (r, 0, 1)->passed);
  g_assert_true (candidate (r, 0, 8)->passed);
}

/* f_e = 0 and 1 on the dog side (cat f_e = 1):
 * f_e(dog) = 0: n=1 2.85/9 = 0.316667, n=4 0.482222, n=8 2.84/9 = 0.315556;
 *   μ = (0.482222 + 0.315556)/2 = 0.398889 -> keeps 4.
 * f_e(dog) = 1: n=1 (2.85+3)/9 = 0.65, n=4 0.482222, n=8 (2.84+5)/9 = 0.871111;
 *   μ = 0.676667 -> keeps 8.
 * f_e(cat) = 1: n=3 (3.35+3)/9 = 0.705556, n=6 (2.45+5)/9 = 0.827778 -> keeps 6. */
static void
test_exception_extremes (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p0 = params_a (MIR_DETECT_METHOD_2_2, 0.0, 1.0);
  g_autoptr(MirDetectParams) p1 = params_a (MIR_DETECT_METHOD_2_2, 1.0, 1.0);
  g_autoptr(MirDetectResult) r0 = run (grid, p0);
  g_autoptr(MirDetectResult) r1 = run (grid, p1);

  g_assert_cmpfloat_with_epsilon (candidate (r0, 0, 1)->mean, 2.85 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r0, 0, 8)->mean, 2.84 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (r0->mu[0], (4.34 / 9 + 2.84 / 9) / 2, TOL);
  assert_windows (r0, 0, "4");
  g_assert_cmpfloat_with_epsilon (candidate (r1, 0, 1)->mean, 0.65, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r1, 0, 8)->mean, 7.84 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (r1->mu[0], (7.84 / 9 + 4.34 / 9) / 2, TOL);
  assert_windows (r1, 0, "8");
  g_assert_cmpfloat_with_epsilon (candidate (r1, 1, 3)->mean, 6.35 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r1, 1, 6)->mean, 7.45 / 9, TOL);
  assert_windows (r1, 1, "6");
}

/* Method 2.1: the cat side averages 1 - P(cat) (= the dog grid here),
 * filter 1 still on P(cat) >= 0.85 (windows 3 and 6); f_e = 0.5.
 *   n=3: 0.2+0.9+0.1+0.95+0.0+0.5 = 2.65 + 1.5 = 4.15 -> 0.461111
 *   n=6: 0.1+0.95+0.0+0.5 = 1.55 + 2.5 = 4.05 -> 0.45
 *   μ = 0.455556 -> keeps 3.  The dog side is as in 2.2 (keeps 8). */
static void
test_method21 (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_1, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = NULL;

  g_assert_false (p->classes[0].complement);
  g_assert_true (p->classes[1].complement);
  r = run (grid, p);
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 3)->mean, 4.15 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 6)->mean, 0.45, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[1], (4.15 / 9 + 0.45) / 2, TOL);
  assert_windows (r, 1, "3");
  assert_windows (r, 0, "8");
}

/* Notebook-compatible, method 2.2, dog f_e = 0.5; kept [1, 4, 8].
 *   p=0, n=1 (row 0, col 1): centre prob[0] = 0.2; up row -1 -> row 2: 0.5,
 *        up-right (2,2) 0.99, right 0.3, down-right 0.4, down 0.95, down-left 0.1,
 *        left 0.2, up-left (2,0) 0.0; sum 3.64 -> 0.404444
 *   p=1, n=4: centre prob[1] = 0.9; neighbours 0.9+0.3+0.4+0.99+0.5+0.0+0.1+0.2
 *        = 3.39; 4.29/9 = 0.476667
 *   p=2, n=8 (row 2, col 2): centre prob[2] = 0.3; up 0.4; up-right, right,
 *        down-right, down, down-left raise IndexError: 5·0.5; left 0.5;
 *        up-left 0.95; 4.65/9 = 0.516667
 *   μ = (0.516667 + 0.404444)/2 = 0.460556 -> keeps 4 and 8.
 * cat f_e = 1; kept [3, 6]:
 *   p=0, n=3 (row 1, col 0): centre prob[0] = 0.8; up 0.8, up-right 0.1, right 0.05,
 *        down-right 0.5, down 1.0, down-left (2,-1) -> (2,2) 0.01, left (1,2) 0.6,
 *        up-left (0,2) 0.7; 4.56/9 = 0.506667
 *   p=1, n=6 (row 2, col 0): centre prob[1] = 0.1; up 0.9, up-right 0.05, right 0.5,
 *        down-right, down, down-left (row 3) 3·1, left (2,2) 0.01, up-left (1,2) 0.6;
 *        5.16/9 = 0.573333
 *   μ = 0.54 -> keeps 6. */
static void
test_notebook_compat (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_2, 0.5, 1.0);
  g_autoptr(MirDetectResult) r = NULL;

  p->notebook_compat = TRUE;
  r = run (grid, p);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 1)->mean, 3.64 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 4)->mean, 4.29 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 8)->mean, 4.65 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[0], (4.65 / 9 + 3.64 / 9) / 2, TOL);
  assert_windows (r, 0, "4,8");
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 3)->mean, 4.56 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 6)->mean, 5.16 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[1], 0.54, TOL);
  assert_windows (r, 1, "6");
}

/* mir_detect_window_mean (the canvas hover) on grid A, worked by hand:
 *   method 2.2, f_e 0.5, window 0 (corner, not a candidate): 0.2+0.9+0.1+0.95
 *     = 2.15 + 5·0.5 = 4.65 -> 4.65/9; window 4 (centre): sum of all = 4.34/9.
 *   method 2.1, cat complement, f_e 0.5, window 3: 4.15/9 (as test_method21).
 *   notebook mode: the candidates' means are those of test_notebook_compat
 *     (window 8 is the dog's third kept window: centre prob[2]).
 * And for every candidate in every mode it equals the mean filter 2 used. */
static void
test_window_mean (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  const MirDetectMethod methods[] = { MIR_DETECT_METHOD_2_1, MIR_DETECT_METHOD_2_2 };

  {
    g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_2, 0.5, 0.5);
    g_autoptr(MirDetectParams) p21 = params_a (MIR_DETECT_METHOD_2_1, 0.5, 0.5);
    g_autoptr(MirDetectParams) nb = params_a (MIR_DETECT_METHOD_2_2, 0.5, 1.0);

    g_assert_cmpfloat_with_epsilon (mir_detect_window_mean (grid, p, 0, 0), 4.65 / 9, TOL);
    g_assert_cmpfloat_with_epsilon (mir_detect_window_mean (grid, p, 0, 4), 4.34 / 9, TOL);
    g_assert_cmpfloat_with_epsilon (mir_detect_window_mean (grid, p21, 1, 3), 4.15 / 9, TOL);
    nb->notebook_compat = TRUE;
    g_assert_cmpfloat_with_epsilon (mir_detect_window_mean (grid, nb, 0, 8), 4.65 / 9, TOL);
    g_assert_cmpfloat_with_epsilon (mir_detect_window_mean (grid, nb, 1, 6), 5.16 / 9, TOL);
  }

  for (guint m = 0; m < G_N_ELEMENTS (methods); m++)
    for (int mode = 0; mode < 4; mode++)
      {
        g_autoptr(MirDetectParams) p = params_a (methods[m], 0.3, 0.8);
        g_autoptr(MirDetectResult) r = NULL;

        p->notebook_compat = (mode & 1) != 0;
        p->weighted_mean = (mode & 2) != 0;
        p->radius = (mode & 2) ? 2 : 1;
        r = run (grid, p);
        g_assert_cmpuint (r->candidates->len, >, 0);
        for (guint i = 0; i < r->candidates->len; i++)
          {
            const MirDetectBox *b = &g_array_index (r->candidates, MirDetectBox, i);

            g_assert_cmpfloat (mir_detect_window_mean (grid, p, b->class_index, b->window), ==,
                               b->mean);
          }
      }
}

/* Empty and single results.  dog >= 1.0: nothing (max is 0.99): no boxes,
 * μ NaN.  cat >= 1.0: only window 6; one mean is its own μ, so it passes. */
static void
test_empty_and_single (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_2, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = NULL;

  p->classes[0].threshold = 1.0;
  p->classes[1].threshold = 1.0;
  p->grouping = MIR_DETECT_GROUP_MERGE;
  r = run (grid, p);
  g_assert_cmpuint (r->counts[0], ==, 0);
  g_assert_cmpuint (r->n_filter1[0], ==, 0);
  g_assert_true (isnan (r->mu[0]));
  assert_windows (r, 0, "");
  assert_windows (r, 1, "6");
  g_assert_cmpfloat_with_epsilon (r->mu[1], 0.55, TOL);
  g_assert_cmpuint (r->boxes->len, ==, 1);
}

/* Grid B: 2×4 windows (image 40×20), a 3-class softmax [a, b, c]:
 *   n:   0              1              2               3
 *        (0.7,0.2,0.1)  (0.1,0.8,0.1)  (0.05,0.05,0.9) (0.6,0.3,0.1)
 *   n:   4              5              6               7
 *        (0.2,0.2,0.6)  (0.3,0.6,0.1)  (0.9,0.05,0.05) (0.0,0.0,1.0)
 * Class b disabled.  Radius 2 (5×5 = 25 cells), method 2.2.
 * Class c, threshold 0.6, f_e 0.5: kept 2 (0.9), 4 (0.6), 7 (1.0).
 *   c values: row 0: 0.1 0.1 0.9 0.1 / row 1: 0.6 0.1 0.05 1.0 (sum 2.95)
 *   n=2 (row 0, col 2): rows -2..2, cols 0..4: all 8 inside 2.95 + 17·0.5 = 11.45 -> 0.458
 *   n=4 (row 1, col 0): cols -2..2: 0.1+0.1+0.9+0.6+0.1+0.05 = 1.85 + 19·0.5 -> 11.35/25 = 0.454
 *   n=7 (row 1, col 3): cols 1..5: 0.1+0.9+0.1+0.1+0.05+1.0 = 2.25 + 9.5 -> 0.47
 *   μ = (0.47 + 0.454)/2 = 0.462 -> keeps 7.
 * Class a, threshold 0.6, f_e 0: kept 0 (0.7), 3 (0.6), 6 (0.9).
 *   a values: row 0: 0.7 0.1 0.05 0.6 / row 1: 0.2 0.3 0.9 0.0
 *   n=0: cols 0..2: 0.7+0.1+0.05+0.2+0.3+0.9 = 2.25 -> 0.09
 *   n=3: cols 1..3: 0.1+0.05+0.6+0.3+0.9+0.0 = 1.95 -> 0.078
 *   n=6 (row 1, col 2): cols 0..4: all 8 = 2.85 -> 0.114
 *   μ = (0.114 + 0.078)/2 = 0.096 -> keeps 6. */
static MirDetectGrid *
make_grid_b (void)
{
  static const float probs[24] = {
    0.7f, 0.2f, 0.1f,  0.1f, 0.8f, 0.1f,  0.05f, 0.05f, 0.9f,  0.6f, 0.3f, 0.1f,
    0.2f, 0.2f, 0.6f,  0.3f, 0.6f, 0.1f,  0.9f, 0.05f, 0.05f,  0.0f, 0.0f, 1.0f,
  };
  const char *names[] = { "a", "b", "c", NULL };
  MirDetectGeometry geom;
  g_autoptr(GError) error = NULL;
  MirDetectGrid *grid;

  g_assert_true (mir_detect_geometry_init (&geom, 40, 20, 10, 10, FALSE, &error));
  g_assert_cmpint (geom.rows, ==, 2);
  g_assert_cmpint (geom.cols, ==, 4);
  grid = mir_detect_grid_new (&geom, 3, names, MIR_HEAD_SOFTMAX, probs, &error);
  g_assert_no_error (error);
  return grid;
}

static void
test_softmax3_radius2 (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_b ();
  g_autoptr(MirDetectParams) p = mir_detect_params_new (3, MIR_DETECT_METHOD_2_2);
  g_autoptr(MirDetectResult) r = NULL;
  g_autoptr(GError) error = NULL;

  p->radius = 2;
  p->classes[0].threshold = 0.6;
  p->classes[0].exception = 0.0;
  p->classes[1].enabled = FALSE;
  p->classes[1].threshold = 0.0;
  p->classes[2].threshold = 0.6;
  p->classes[2].exception = 0.5;
  r = run (grid, p);
  g_assert_cmpfloat_with_epsilon (candidate (r, 2, 2)->mean, 0.458, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 2, 4)->mean, 0.454, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 2, 7)->mean, 0.47, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[2], 0.462, TOL);
  assert_windows (r, 2, "7");
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 0)->mean, 0.09, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 3)->mean, 0.078, TOL);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 6)->mean, 0.114, TOL);
  g_assert_cmpfloat_with_epsilon (r->mu[0], 0.096, TOL);
  assert_windows (r, 0, "6");
  assert_windows (r, 1, "");
  g_assert_true (isnan (r->mu[1]));
  g_assert_cmpuint (r->n_filter1[1], ==, 0);
  g_assert_cmpint (mir_detect_grid_find_class (grid, "c", &error), ==, 2);
  g_assert_cmpint (mir_detect_grid_find_class (grid, "1", &error), ==, 1);
  g_assert_cmpint (mir_detect_grid_find_class (grid, "zebra", &error), ==, -1);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

/* Weighted mean (Gaussian, σ = r = 1): centre weight 1, edge neighbours
 * e^-1/2, corners e^-1.  Grid A dog, n=4: edges 0.9+0.1+0.4+0.5 = 1.9,
 * corners 0.2+0.3+0.0+0.99 = 1.49, centre 0.95:
 *   (0.95 + 1.9 e^-1/2 + 1.49 e^-1) / (1 + 4 e^-1/2 + 4 e^-1). */
static void
test_weighted_mean (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_2, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = NULL;
  double e1 = exp (-0.5), e2 = exp (-1.0);

  p->weighted_mean = TRUE;
  r = run (grid, p);
  g_assert_cmpfloat_with_epsilon (candidate (r, 0, 4)->mean,
                                  (0.95 + 1.9 * e1 + 1.49 * e2) / (1 + 4 * e1 + 4 * e2), TOL);
}

/* Sigmoid binary: a single output P becomes [1 - P, P]; the grid of a
 * sigmoid model with P = grid A's cat is grid A, so method 2.1 gives the
 * same answer as the softmax case (cat keeps 3). */
static void
test_sigmoid_binary (void)
{
  const char *names[] = { "dog", "cat", NULL };
  MirDetectGeometry geom;
  float probs[18];
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_2_1, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = NULL;

  g_assert_true (mir_detect_geometry_init (&geom, 30, 30, 10, 10, FALSE, &error));
  for (int n = 0; n < 9; n++)
    {
      probs[2 * n + 1] = grid_a_cat[n];
      probs[2 * n] = 1.0f - grid_a_cat[n];
    }
  grid = mir_detect_grid_new (&geom, 2, names, MIR_HEAD_SIGMOID, probs, &error);
  g_assert_no_error (error);
  r = run (grid, p);
  g_assert_cmpfloat_with_epsilon (candidate (r, 1, 3)->mean, 4.15 / 9, TOL);
  assert_windows (r, 1, "3");
  assert_windows (r, 0, "8");
}

/* ------------------------------------------------------------------ */
/* Grouping on hand-made boxes (all 10×10 at y = 0):
 *   A x=0  p=0.9  (window 0)     IoU(A,B) = 80/120 = 0.667
 *   B x=2  p=0.8  (window 1)     IoU(D,A) = 50/150 = 0.333
 *   C x=20 p=0.7  (window 2)     IoU(D,B) = 70/130 = 0.538
 *   D x=5  p=0.95 (window 3)     C overlaps nothing
 *   E x=0  p=0.5  class 1 (window 0): same place as A, other class.
 * NMS 0.5: D first, drops B (0.538); A stays (0.333); C stays -> A, C, D; E.
 * NMS 0.3: D drops A and B -> C, D; E.
 * Merge 0.5: A-B and D-B link {A, B, D}; C alone.  x = (0.9·0 + 0.8·2 +
 *   0.95·5)/2.65 = 6.35/2.65 = 2.396226, width 10, prob 0.95, window 3. */
static void
make_box (MirDetectBox *b, guint c, guint w, double x, double p)
{
  memset (b, 0, sizeof *b);
  b->class_index = c;
  b->window = w;
  b->x = x;
  b->width = 10;
  b->height = 10;
  b->prob = p;
  b->n_members = 1;
}

static void
test_grouping (void)
{
  MirDetectBox boxes[5];
  g_autoptr(GArray) nms5 = NULL;
  g_autoptr(GArray) nms3 = NULL;
  g_autoptr(GArray) merged = NULL;
  g_autoptr(GArray) none = NULL;
  const MirDetectBox *m;

  make_box (&boxes[0], 0, 0, 0, 0.9);
  make_box (&boxes[1], 0, 1, 2, 0.8);
  make_box (&boxes[2], 0, 2, 20, 0.7);
  make_box (&boxes[3], 0, 3, 5, 0.95);
  make_box (&boxes[4], 1, 0, 0, 0.5);

  g_assert_cmpfloat_with_epsilon (mir_detect_iou (0, 0, 10, 10, 2, 0, 10, 10), 80.0 / 120, TOL);

  nms5 = mir_detect_group (boxes, 5, MIR_DETECT_GROUP_NMS, 0.5);
  g_assert_cmpuint (nms5->len, ==, 4);
  g_assert_cmpuint (g_array_index (nms5, MirDetectBox, 0).window, ==, 0);
  g_assert_cmpuint (g_array_index (nms5, MirDetectBox, 1).window, ==, 2);
  g_assert_cmpuint (g_array_index (nms5, MirDetectBox, 2).window, ==, 3);
  g_assert_cmpuint (g_array_index (nms5, MirDetectBox, 3).class_index, ==, 1);

  nms3 = mir_detect_group (boxes, 5, MIR_DETECT_GROUP_NMS, 0.3);
  g_assert_cmpuint (nms3->len, ==, 3);
  g_assert_cmpuint (g_array_index (nms3, MirDetectBox, 0).window, ==, 2);
  g_assert_cmpuint (g_array_index (nms3, MirDetectBox, 1).window, ==, 3);

  merged = mir_detect_group (boxes, 5, MIR_DETECT_GROUP_MERGE, 0.5);
  g_assert_cmpuint (merged->len, ==, 3);
  g_assert_cmpuint (g_array_index (merged, MirDetectBox, 0).window, ==, 2);
  g_assert_cmpuint (g_array_index (merged, MirDetectBox, 0).n_members, ==, 1);
  m = &g_array_index (merged, MirDetectBox, 1);
  g_assert_cmpuint (m->window, ==, 3);
  g_assert_cmpuint (m->n_members, ==, 3);
  g_assert_cmpfloat_with_epsilon (m->x, 6.35 / 2.65, TOL);
  g_assert_cmpfloat_with_epsilon (m->width, 10, TOL);
  g_assert_cmpfloat_with_epsilon (m->height, 10, TOL);
  g_assert_cmpfloat_with_epsilon (m->prob, 0.95, TOL);
  g_assert_cmpuint (g_array_index (merged, MirDetectBox, 2).class_index, ==, 1);

  none = mir_detect_group (boxes, 5, MIR_DETECT_GROUP_NONE, 0.5);
  g_assert_cmpuint (none->len, ==, 5);
}

/* Evaluation: method 1 on grid A gives dog boxes at n=1 (10,0), n=4 (10,10),
 * n=8 (20,20) and cat boxes at n=3 (0,10), n=6 (0,20), all 10×10.
 * Truth: dog (10,2), dog (20,20), dog (0,0), cat (0,20).
 * Greedy by probability: cat 6 (1.0) = cat (0,20), IoU 1 -> TP; dog 8 (0.99)
 * = (20,20) -> TP; dog 4 (0.95) vs (10,2): 10·2/180 = 0.11 -> no; cat 3: no
 * truth left; dog 1 (0.9) vs (10,2): 80/120 = 0.667 -> TP.
 * TP = 3, detected 5, truth 4: P = 0.6, R = 0.75, F1 = 0.9/1.35 = 0.666667;
 * count error +1 (cat +1, dog 0). */
static void
test_evaluate (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_1, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = run (grid, p);
  const MirDetectTruthBox truth[] = {
    { 0, 10, 2, 10, 10 }, { 0, 20, 20, 10, 10 }, { 0, 0, 0, 10, 10 }, { 1, 0, 20, 10, 10 },
  };
  MirDetectEval ev;

  mir_detect_evaluate (r, truth, G_N_ELEMENTS (truth), 0.5, &ev);
  g_assert_cmpuint (ev.true_positives, ==, 3);
  g_assert_cmpuint (ev.n_detected, ==, 5);
  g_assert_cmpuint (ev.n_truth, ==, 4);
  g_assert_cmpfloat_with_epsilon (ev.precision, 0.6, TOL);
  g_assert_cmpfloat_with_epsilon (ev.recall, 0.75, TOL);
  g_assert_cmpfloat_with_epsilon (ev.f1, 0.9 / 1.35, TOL);
  g_assert_cmpint (ev.count_error, ==, 1);
  g_assert_cmpuint (ev.abs_count_error, ==, 1);
  g_assert_cmpint (ev.classes[0].count_error, ==, 0);
  g_assert_cmpint (ev.classes[1].count_error, ==, 1);
  mir_detect_eval_clear (&ev);
}

/* Class names typed by people (ground truth, --classes) match the model's
 * whatever their case, exact names first (issue 16). */
static void
test_class_name_case (void)
{
  const char *model_names[] = { "Cat", "Dog", "T-shirt/top", "Ñandú", NULL };
  const char *clash[] = { "cat", "Cat", "CAT", NULL };
  g_autofree char *dir = g_dir_make_tmp ("mirada-detect-XXXXXX", NULL);
  g_autofree char *lower = g_build_filename (dir, "lower.json", NULL);
  g_autofree char *exact = g_build_filename (dir, "exact.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectTruth) a = NULL;
  g_autoptr(MirDetectTruth) b = NULL;
  g_autoptr(MirDetectGrid) grid = make_grid_a ();

  g_assert_cmpint (mir_detect_match_class_name (model_names, "Cat"), ==, 0);
  g_assert_cmpint (mir_detect_match_class_name (model_names, "cat"), ==, 0);
  g_assert_cmpint (mir_detect_match_class_name (model_names, "DOG"), ==, 1);
  g_assert_cmpint (mir_detect_match_class_name (model_names, "t-shirt/TOP"), ==, 2);
  g_assert_cmpint (mir_detect_match_class_name (model_names, "ñANDÚ"), ==, 3);
  g_assert_cmpint (mir_detect_match_class_name (model_names, "cats"), ==, -1);
  g_assert_cmpint (mir_detect_match_class_name (model_names, ""), ==, -1);
  /* exact wins; a case-only match among several names is ambiguous */
  g_assert_cmpint (mir_detect_match_class_name (clash, "CAT"), ==, 2);
  g_assert_cmpint (mir_detect_match_class_name (clash, "cAt"), ==, -1);

  g_assert_true (g_file_set_contents (exact,
    "{\"objects\": [{\"class\": \"Cat\", \"box\": [1, 2, 3, 4]},"
    " {\"class\": \"Dog\", \"box\": [5, 6, 7, 8]}]}", -1, &error));
  g_assert_true (g_file_set_contents (lower,
    "{\"objects\": [{\"class\": \"cat\", \"box\": [1, 2, 3, 4]},"
    " {\"class\": \"DOG\", \"box\": [5, 6, 7, 8]}]}", -1, &error));
  a = mir_detect_truth_load (exact, model_names, &error);
  g_assert_no_error (error);
  b = mir_detect_truth_load (lower, model_names, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (b->boxes->len, ==, 2);
  g_assert_cmpuint (g_array_index (b->boxes, MirDetectTruthBox, 0).class_index, ==, 0);
  g_assert_cmpuint (g_array_index (b->boxes, MirDetectTruthBox, 1).class_index, ==, 1);
  g_assert_cmpmem (a->boxes->data, a->boxes->len * sizeof (MirDetectTruthBox),
                   b->boxes->data, b->boxes->len * sizeof (MirDetectTruthBox));

  /* an unknown name says which one and lists the model's classes */
  g_assert_true (g_file_set_contents (lower,
    "{\"objects\": [{\"class\": \"cat\", \"box\": [1, 2, 3, 4]},"
    " {\"class\": \"zebra\", \"box\": [5, 6, 7, 8]}]}", -1, &error));
  g_assert_null (mir_detect_truth_load (lower, model_names, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "zebra"));
  g_assert_nonnull (strstr (error->message, "Cat, Dog, T-shirt/top, Ñandú"));
  g_clear_error (&error);

  /* --classes, --threshold CLASS=… go through the same matching */
  g_assert_cmpint (mir_detect_grid_find_class (grid, "CAT", &error), ==, 1);
  g_assert_no_error (error);

  g_unlink (lower);
  g_unlink (exact);
  g_rmdir (dir);
}

static void
test_truth_and_grid_files (void)
{
  const char *names[] = { "dog", "cat", NULL };
  g_autofree char *dir = g_dir_make_tmp ("mirada-detect-XXXXXX", NULL);
  g_autofree char *tpath = g_build_filename (dir, "truth.json", NULL);
  g_autofree char *gpath = g_build_filename (dir, "grid.json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectTruth) truth = NULL;
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectGrid) back = NULL;
  const MirDetectTruthBox *tb;

  g_assert_true (g_file_set_contents (tpath,
    "{\"image\": \"scene.png\", \"width\": 30, \"height\": 30, \"objects\": ["
    "{\"class\": \"cat\", \"box\": [1, 2, 3.5, 4]}, {\"class\": 0, \"box\": [0, 0, 10, 10]}]}",
    -1, &error));
  truth = mir_detect_truth_load (tpath, names, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (truth->image, ==, "scene.png");
  g_assert_cmpuint (truth->boxes->len, ==, 2);
  tb = &g_array_index (truth->boxes, MirDetectTruthBox, 0);
  g_assert_cmpuint (tb->class_index, ==, 1);
  g_assert_cmpfloat_with_epsilon (tb->width, 3.5, TOL);
  g_assert_cmpuint (g_array_index (truth->boxes, MirDetectTruthBox, 1).class_index, ==, 0);
  g_clear_pointer (&truth, mir_detect_truth_free);

  g_assert_true (g_file_set_contents (tpath,
    "{\"objects\": [{\"class\": \"zebra\", \"box\": [1, 2, 3, 4]}]}", -1, &error));
  g_assert_null (mir_detect_truth_load (tpath, names, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_clear_error (&error);

  g_assert_true (mir_detect_grid_save_json (grid, gpath, &error));
  back = mir_detect_grid_load_json (gpath, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->n_classes, ==, 2);
  g_assert_cmpstr (back->class_names[1], ==, "cat");
  g_assert_cmpint (back->geom.rows, ==, 3);
  for (guint i = 0; i < 18; i++)
    g_assert_cmpfloat (back->probs[i], ==, grid->probs[i]);

  g_unlink (tpath);
  g_unlink (gpath);
  g_rmdir (dir);
}

/* Drawing: grid A laid out on a 100×100 image with window 40, stride 30
 * (3×3 windows): dog boxes at window 4 (30,30)-(70,70) and 8 (60,60)-(100,100),
 * thickness 1.  The label (18 px high) sits above each box, so window 4's
 * bottom edge pixel (50, 69) is red and its middle (45, 45) stays black. */
static void
test_draw (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a_sized (100, 40, 30);
  g_autoptr(MirDetectParams) p = params_a (MIR_DETECT_METHOD_1, 0.5, 0.5);
  g_autoptr(MirDetectResult) r = NULL;
  g_autofree guint8 *pixels = g_new0 (guint8, 100 * 100 * 3);
  MirImage image = { .width = 100, .height = 100, .channels = 3, .rowstride = 300,
                     .pixels = pixels };
  guint8 rgb[3];
  const char *names[] = { "dog", "cat", NULL };

  p->classes[0].threshold = 0.94; /* windows 4 (0.95) and 8 (0.99) */
  p->classes[1].enabled = FALSE;
  r = run (grid, p);
  assert_windows (r, 0, "4,8");
  mir_detect_draw (&image, r, names, 1);
  g_assert_cmpuint (pixels[69 * 300 + 50 * 3 + 0], ==, 255);
  g_assert_cmpuint (pixels[69 * 300 + 50 * 3 + 1], ==, 0);
  g_assert_cmpuint (pixels[69 * 300 + 50 * 3 + 2], ==, 0);
  g_assert_cmpuint (pixels[45 * 300 + 45 * 3 + 0], ==, 0);
  g_assert_cmpuint (pixels[45 * 300 + 45 * 3 + 2], ==, 0);
  mir_detect_class_color (1, rgb);
  g_assert_cmpuint (rgb[0], ==, 0);
  g_assert_cmpuint (rgb[2], ==, 255);
  /* further classes get distinct colours */
  for (guint a = 0; a < 20; a++)
    for (guint b = a + 1; b < 20; b++)
      {
        guint8 ca[3], cb[3];
        mir_detect_class_color (a, ca);
        mir_detect_class_color (b, cb);
        g_assert_true (memcmp (ca, cb, 3) != 0);
      }
}

/* ------------------------------------------------------------------ */
/* Multi-scale: two hand-made grids of one 40×40 image.
 *
 * Scale 0: grid A (3×3) with window 20 at stride 10 on the image itself:
 *   window n = (row, col) covers x = 10·col, y = 10·row, 20×20.
 * Scale 1: a pyramid level shrunk by 2 (20×20), window 10 at stride 10: 2×2,
 *   in image pixels x = 20·col, y = 20·row, 20×20.
 *   dog: 0.97 0.2      cat = 1 - dog: 0.03 0.8
 *        0.3  0.92                    0.7  0.08
 *
 * Method 1, threshold 0.85 for both classes.
 *   dog candidates (prob, box): a s0w8 .99 (20,20); b s1w0 .97 (0,0);
 *     c s0w4 .95 (10,10); d s1w3 .92 (20,20); e s0w1 .9 (10,0).
 *   cat candidates: s0w6 1.0 (0,20); s0w3 .9 (0,10); none at scale 1.
 * IoU of two 20×20 boxes shifted by (10, 0): 200 / 600 = 1/3 > 0.3;
 * shifted by (10, 10): 100 / 700 = 1/7; by (20, 0) or more: 0.
 *
 * NMS (IoU 0.3), most probable first: a kept, drops d (same box, IoU 1);
 *   b kept, drops e (1/3); c kept (1/7 with a and b).  Dog: a, c, b ->
 *   in class, scale, window order: s0w4, s0w8, s1w0.  Cat: s0w6 kept,
 *   drops s0w3 (1/3).
 * Merge (IoU 0.3): links a-d, b-e, c-e -> groups {a, d} and {b, c, e}.
 *   {a, d}: both (20,20,20,20) -> (20,20,20,20), 2 members, root a.
 *   {b, c, e}, weights .97, .95, .9 (sum 2.82), root b (scale 1, window 0):
 *     x = (0·.97 + 10·.95 + 10·.9) / 2.82 = 18.5 / 2.82
 *     y = (0·.97 + 10·.95 + 0·.9) / 2.82 = 9.5 / 2.82
 *     right = (20·.97 + 30·.95 + 30·.9) / 2.82 -> width = 56.4 / 2.82 = 20
 *     bottom = (20·.97 + 30·.95 + 20·.9) / 2.82 -> height = 56.4 / 2.82 = 20
 *   cat {s0w6 1.0, s0w3 .9}: x 0, y = (20 + 9) / 1.9, 20×20, 2 members.
 * Method 2.2, f_e 0.5, threshold 0.85 (dog): μ per grid.
 *   scale 0: as in test_method22: (5.34/9 + 4.34/9) / 2 (means of w8, w4;
 *   w1 has 4.35/9); scale 1 (2×2: every 3×3 holds the 4 cells and 5
 *   outside): both means (0.97+0.2+0.3+0.92+2.5)/9 = 4.89/9 = μ. */
static MirDetectGrid *
make_scale1_grid (void)
{
  const char *names[] = { "dog", "cat", NULL };
  const float dog[4] = { 0.97f, 0.2f, 0.3f, 0.92f };
  float probs[8];
  MirDetectGeometry geom;
  g_autoptr(GError) error = NULL;
  MirDetectGrid *grid;

  g_assert_true (mir_detect_geometry_init (&geom, 20, 20, 10, 10, FALSE, &error));
  for (int n = 0; n < 4; n++)
    {
      probs[2 * n] = dog[n];
      probs[2 * n + 1] = 1.0f - dog[n];
    }
  grid = mir_detect_grid_new (&geom, 2, names, MIR_HEAD_SOFTMAX, probs, &error);
  g_assert_no_error (error);
  grid->scale = 2.0;
  return grid;
}

static void
check_box (const MirDetectBox *b, guint c, guint scale, guint window, double x, double y,
           double w, double h, guint members)
{
  g_assert_cmpuint (b->class_index, ==, c);
  g_assert_cmpuint (b->scale, ==, scale);
  g_assert_cmpuint (b->window, ==, window);
  g_assert_cmpfloat_with_epsilon (b->x, x, TOL);
  g_assert_cmpfloat_with_epsilon (b->y, y, TOL);
  g_assert_cmpfloat_with_epsilon (b->width, w, TOL);
  g_assert_cmpfloat_with_epsilon (b->height, h, TOL);
  g_assert_cmpuint (b->n_members, ==, members);
}

static void
test_multiscale (void)
{
  g_autoptr(MirDetectGrid) g0 = make_grid_a_sized (40, 20, 10);
  g_autoptr(MirDetectGrid) g1 = make_scale1_grid ();
  MirDetectGrid *grids[2] = { g0, g1 };
  g_autoptr(MirDetectParams) p = mir_detect_params_new (2, MIR_DETECT_METHOD_1);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectResult) nms = NULL;
  g_autoptr(MirDetectResult) merge = NULL;
  g_autoptr(MirDetectResult) m22 = NULL;
  g_autoptr(MirDetectResult) single = NULL;
  const double sw = 0.97 + 0.95 + 0.9;

  p->classes[0].threshold = p->classes[1].threshold = 0.85;
  p->grouping = MIR_DETECT_GROUP_NMS;
  p->iou = 0.3;
  nms = mir_detect_filter_scales (grids, 2, p, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nms->n_scales, ==, 2);
  g_assert_cmpuint (nms->n_filter1[0], ==, 5);
  g_assert_cmpuint (nms->n_filter1[1], ==, 2);
  g_assert_cmpuint (nms->counts[0], ==, 3);
  g_assert_cmpuint (nms->counts[1], ==, 1);
  g_assert_cmpuint (nms->boxes->len, ==, 4);
  check_box (&g_array_index (nms->boxes, MirDetectBox, 0), 0, 0, 4, 10, 10, 20, 20, 1);
  check_box (&g_array_index (nms->boxes, MirDetectBox, 1), 0, 0, 8, 20, 20, 20, 20, 1);
  check_box (&g_array_index (nms->boxes, MirDetectBox, 2), 0, 1, 0, 0, 0, 20, 20, 1);
  check_box (&g_array_index (nms->boxes, MirDetectBox, 3), 1, 0, 6, 0, 20, 20, 20, 1);

  p->grouping = MIR_DETECT_GROUP_MERGE;
  merge = mir_detect_filter_scales (grids, 2, p, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (merge->boxes->len, ==, 3);
  check_box (&g_array_index (merge->boxes, MirDetectBox, 0), 0, 0, 8, 20, 20, 20, 20, 2);
  check_box (&g_array_index (merge->boxes, MirDetectBox, 1), 0, 1, 0, 18.5 / sw, 9.5 / sw,
             56.4 / sw, 56.4 / sw, 3);
  check_box (&g_array_index (merge->boxes, MirDetectBox, 2), 1, 0, 6, 0, 29 / 1.9, 20, 20, 2);

  /* Method 2.2: μ per grid, neighbourhoods never cross grids. */
  p->method = MIR_DETECT_METHOD_2_2;
  p->grouping = MIR_DETECT_GROUP_NONE;
  p->classes[1].enabled = FALSE;
  m22 = mir_detect_filter_scales (grids, 2, p, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (m22->mu[0 * 2 + 0], (5.34 / 9 + 4.34 / 9) / 2, TOL);
  g_assert_cmpfloat_with_epsilon (m22->mu[1 * 2 + 0], 4.89 / 9, TOL);
  g_assert_true (isnan (m22->mu[1]) && isnan (m22->mu[3]));
  /* the scale-0 part is exactly the single-grid result */
  single = mir_detect_filter (g0, p, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (single->n_filter2[0], ==, 1);
  g_assert_cmpuint (g_array_index (single->boxes, MirDetectBox, 0).window, ==, 8);
  g_assert_cmpuint (g_array_index (m22->boxes, MirDetectBox, 0).scale, ==, 0);
  g_assert_cmpuint (g_array_index (m22->boxes, MirDetectBox, 0).window, ==, 8);

  /* grids of different models are refused */
  {
    const char *other[] = { "a", "b", NULL };
    float probs[18] = { 0 };
    g_autoptr(MirDetectGrid) g2 = mir_detect_grid_new (&g0->geom, 2, other, MIR_HEAD_SOFTMAX,
                                                       probs, &error);
    MirDetectGrid *bad[2] = { g0, g2 };
    g_autoptr(MirDetectResult) r = mir_detect_filter_scales (bad, 2, p, &error);

    g_assert_null (r);
    g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  }
}

static void
test_scales_spec (void)
{
  MirDetectScales sc;
  g_autoptr(GError) error = NULL;
  const int sides[3] = { 100, 150, 200 };
  int w, h;

  g_assert_true (mir_detect_scales_windows (&sc, sides, 3, &error));
  g_assert_cmpuint (sc.n_scales, ==, 3);
  g_assert_cmpint (sc.window[2], ==, 200);
  g_assert_cmpfloat (sc.factor[1], ==, 1.0);
  g_assert_true (mir_detect_scales_pyramid (&sc, 150, 1.25, 3, &error));
  g_assert_cmpfloat_with_epsilon (sc.factor[2], 1.5625, 1e-12);
  /* 800 / 1.5625 = 512, 400 / 1.5625 = 256 */
  mir_detect_scales_image_size (&sc, 2, 800, 400, &w, &h);
  g_assert_cmpint (w, ==, 512);
  g_assert_cmpint (h, ==, 256);
  g_assert_false (mir_detect_scales_pyramid (&sc, 150, 1.0, 3, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (mir_detect_scales_windows (&sc, sides, 0, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

/* ------------------------------------------------------------------ */
/* Fast path: the seed 002 cats/dogs CNN (conv32-64-128-128, all 'valid',
 * 2×2 pooling, dense 512, sigmoid) at 150 px with random weights.  At
 * stride 40 the strides multiply to 2, 4, 8, 16 after the pools; 8 divides
 * 40, 16 does not, so the cut is after conv4 (stride 1 after the third
 * pooling) and pool4 onwards runs per window. */
static MirModel *
make_seed_cnn (const char *padding1, const char *padding2, int side)
{
  g_autofree char *config = seed_cnn_config (padding1, padding2, side);
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
  /* smooth-ish content: a gradient plus noise, so outputs vary */
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      for (int c = 0; c < 3; c++)
        image->pixels[((gsize) y * width + x) * 3 + c] =
          (guint8) CLAMP ((x * (c + 1) + y * (3 - c)) % 256 / 2 + g_rand_int_range (rng, 0, 128),
                          0, 255);
  return image;
}

static void
compare_paths (MirModel *model, const MirImage *image, int window, int stride,
               gboolean expect_shared)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectGrid) slow = NULL;
  g_autoptr(MirDetectGrid) fast = NULL;
  MirDetectGeometry geom;
  gboolean used = TRUE;
  double lo = 1, hi = 0, worst = 0;

  g_assert_true (mir_detect_geometry_init (&geom, image->width, image->height, window, stride,
                                           FALSE, &error));
  slow = mir_detect_classify_full (model, image, &geom, 5, MIR_DETECT_SHARED_NEVER, &used,
                                   NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (used);
  fast = mir_detect_classify_full (model, image, &geom, 5, MIR_DETECT_SHARED_AUTO, &used,
                                   NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (used, ==, expect_shared);
  for (guint i = 0; i < mir_detect_geometry_n_windows (&geom) * slow->n_classes; i++)
    {
      worst = MAX (worst, fabs (slow->probs[i] - fast->probs[i]));
      lo = MIN (lo, slow->probs[i]);
      hi = MAX (hi, slow->probs[i]);
    }
  g_test_message ("%u windows, probabilities %.4f to %.4f, largest difference %.3g",
                  mir_detect_geometry_n_windows (&geom), lo, hi, worst);
  g_assert_cmpfloat (hi - lo, >, 1e-3); /* not saturated: the comparison means something */
  g_assert_cmpfloat (worst, <=, 1e-5);
}

static void
test_shared_path (void)
{
  g_autoptr(MirModel) seed = make_seed_cnn ("valid", "valid", 150);
  g_autoptr(MirModel) same1 = make_seed_cnn ("same", "valid", 150);
  g_autoptr(MirModel) same2 = make_seed_cnn ("valid", "same", 150);
  g_autoptr(MirImage) image = random_image (270, 230, 3);
  g_autofree char *why = NULL;

  g_assert_cmpint (mir_detect_shared_cut (seed, 150, 40, NULL), ==,
                   mir_model_find_node (seed, "c4"));                     /* 40 % 8 == 0 */
  g_assert_cmpint (mir_detect_shared_cut (seed, 150, 48, NULL), ==,
                   mir_model_find_node (seed, "p4"));                     /* 48 % 16 == 0 */
  g_assert_cmpint (mir_detect_shared_cut (seed, 150, 20, NULL), ==,
                   mir_model_find_node (seed, "c3"));                     /* 20 % 4 == 0 */
  g_assert_cmpint (mir_detect_shared_cut (seed, 150, 3, NULL), ==,
                   mir_model_find_node (seed, "c1"));                     /* only conv1 */
  g_assert_cmpint (mir_detect_shared_cut (seed, 120, 40, &why), ==, -1); /* resized */
  g_assert_nonnull (why);
  g_clear_pointer (&why, g_free);
  g_assert_cmpint (mir_detect_shared_cut (same1, 150, 40, &why), ==, -1); /* 'same' first */
  g_assert_nonnull (why);
  g_assert_cmpint (mir_detect_shared_cut (same2, 150, 40, NULL), ==,
                   mir_model_find_node (same2, "p1"));                    /* up to pool 1 */

  compare_paths (seed, image, 150, 40, TRUE);
  compare_paths (seed, image, 150, 48, TRUE);
  compare_paths (same2, image, 150, 40, TRUE);
  compare_paths (same1, image, 150, 40, FALSE);
}


/* ------------------------------------------------------------------ */
/* The field behind the boxes (issue 18) on grid A, method 2.2.
 *
 * dog, threshold 0.85, f_e 0: filter 1 keeps n = 1 (0.9), 4 (0.95), 8 (0.99).
 *   n = 1 (row 0, col 1): inside 0.2+0.9+0.3 + 0.1+0.95+0.4 = 2.85, 3 outside
 *         mean 2.85/9 = 0.316667, without f_e 2.85/6 = 0.475
 *   n = 4: all inside, 4.34/9 = 0.482222
 *   n = 8 (row 2, col 2): inside 0.95+0.4+0.5+0.99 = 2.84, 5 outside
 *         mean 2.84/9 = 0.315556, without f_e 2.84/4 = 0.71
 *   μ = (0.482222 + 0.315556)/2 = 0.398889: only n = 4 passes; n = 1 and 8
 *   would pass without f_e (0.475, 0.71 ≥ μ): f_e rejects them.
 * cat, threshold 0.75, f_e 1: filter 1 keeps n = 0 (0.8), 3 (0.9), 6 (1.0).
 *   n = 0: inside 0.8+0.1+0.9+0.05 = 1.85, 5 outside: (5+1.85)/9 = 0.761111
 *   n = 3: inside 0.8+0.1+0.9+0.05+1.0+0.5 = 3.35, 3 outside: 6.35/9 = 0.705556
 *   n = 6: inside 0.9+0.05+1.0+0.5 = 2.45, 5 outside: 7.45/9 = 0.827778,
 *          without f_e 2.45/4 = 0.6125
 *   μ = (0.827778 + 0.705556)/2 = 0.766667: only n = 6 passes, and only
 *   thanks to f_e (0.6125 < μ): f_e rescues it. */
static void
test_field (void)
{
  g_autoptr(MirDetectGrid) grid = make_grid_a ();
  g_autoptr(MirDetectParams) params = mir_detect_params_new (2, MIR_DETECT_METHOD_2_2);
  g_autoptr(MirDetectResult) result = NULL;
  g_autoptr(MirDetectField) dog = NULL;
  g_autoptr(MirDetectField) cat = NULL;
  g_autoptr(GError) error = NULL;
  static const double dog_mean[3] = { 2.85 / 9, 4.34 / 9, 2.84 / 9 };
  static const guint dog_kept[3] = { 1, 4, 8 };

  params->classes[0].threshold = 0.85;
  params->classes[0].exception = 0.0;
  params->classes[1].threshold = 0.75;
  params->classes[1].exception = 1.0;
  dog = mir_detect_field_new (grid, params, 0, &error);
  g_assert_no_error (error);
  cat = mir_detect_field_new (grid, params, 1, &error);
  g_assert_no_error (error);

  /* P is the grid's, exactly */
  for (guint n = 0; n < 9; n++)
    {
      g_assert_cmpfloat (dog->prob[n], ==, grid_a_dog[n]);
      g_assert_cmpfloat (cat->prob[n], ==, grid_a_cat[n]);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (dog->filter1[dog_kept[i]]);
      g_assert_cmpfloat_with_epsilon (dog->mean[dog_kept[i]], dog_mean[i], TOL);
    }
  g_assert_cmpfloat_with_epsilon (dog->mu, (4.34 / 9 + 2.84 / 9) / 2, TOL);
  g_assert_cmpfloat_with_epsilon (dog->mean_inside[1], 2.85 / 6, TOL);
  g_assert_cmpfloat_with_epsilon (dog->mean_inside[8], 2.84 / 4, TOL);
  g_assert_cmpuint (dog->n_outside[1], ==, 3);
  g_assert_cmpuint (dog->n_outside[4], ==, 0);
  g_assert_cmpuint (dog->n_outside[8], ==, 5);
  g_assert_false (dog->filter1[0]);
  g_assert_true (dog->filter2[4]);
  g_assert_false (dog->filter2[1]);
  g_assert_false (dog->filter2[8]);
  g_assert_cmpint (dog->edge[1], ==, MIR_DETECT_EDGE_REJECTED);
  g_assert_cmpint (dog->edge[8], ==, MIR_DETECT_EDGE_REJECTED);
  g_assert_cmpint (dog->edge[4], ==, MIR_DETECT_EDGE_NONE);

  g_assert_cmpfloat_with_epsilon (cat->mu, (7.45 / 9 + 6.35 / 9) / 2, TOL);
  g_assert_cmpfloat_with_epsilon (cat->mean[0], 6.85 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (cat->mean[6], 7.45 / 9, TOL);
  g_assert_cmpfloat_with_epsilon (cat->mean_inside[6], 2.45 / 4, TOL);
  g_assert_true (cat->filter2[6]);
  g_assert_false (cat->filter2[0]);
  g_assert_false (cat->filter2[3]);
  g_assert_cmpint (cat->edge[6], ==, MIR_DETECT_EDGE_RESCUED);
  g_assert_cmpint (cat->edge[0], ==, MIR_DETECT_EDGE_NONE);

  /* the field's decisions are the boxes' (both classes filtered together) */
  result = mir_detect_filter (grid, params, &error);
  g_assert_no_error (error);
  for (guint c = 0; c < 2; c++)
    {
      const MirDetectField *f = c == 0 ? dog : cat;
      guint n_boxes = 0;

      for (guint i = 0; i < result->boxes->len; i++)
        {
          const MirDetectBox *b = &g_array_index (result->boxes, MirDetectBox, i);

          if (b->class_index != c)
            continue;
          n_boxes++;
          g_assert_true (f->filter2[b->window]);
          g_assert_cmpfloat (f->mean[b->window], ==, b->mean);
        }
      for (guint n = 0; n < 9; n++)
        n_boxes -= f->filter2[n];
      g_assert_cmpuint (n_boxes, ==, 0);
      g_assert_cmpfloat (f->mu, ==, result->mu[c]);
    }

  /* the hover's equations: the numbers in, the verdicts, f_e's effect */
  {
    g_autofree char *kept = mir_detect_field_describe (dog, 4, "dog");
    g_autofree char *edge = mir_detect_field_describe (dog, 1, "dog");
    g_autofree char *rescued = mir_detect_field_describe (cat, 6, NULL);
    g_autofree char *below = mir_detect_field_describe (dog, 0, NULL);

    g_test_message ("%s\n--\n%s\n--\n%s", kept, edge, rescued);
    g_assert_nonnull (strstr (kept, "dog"));
    g_assert_nonnull (strstr (kept, "0.950 ≥ 0.850 ✓"));
    g_assert_nonnull (strstr (kept, "0.482"));
    g_assert_nonnull (strstr (kept, "≥ μ = 0.399 ✓"));
    g_assert_nonnull (strstr (edge, "< μ = 0.399 ✗"));
    g_assert_nonnull (strstr (edge, "3 of 9"));
    g_assert_nonnull (strstr (edge, "0.475"));
    g_assert_nonnull (strstr (edge, "fₑ rejects"));
    g_assert_nonnull (strstr (rescued, "fₑ rescues"));
    g_assert_nonnull (strstr (below, "0.200 < 0.850 ✗"));
  }

  /* the μ field: the means, bilinear between the centres as P, and their
   * contour at μ; every segment end has mean = μ, and the mean at the centre
   * of window 4 (0.482) and window 1 (0.317) lie on both sides of it */
  {
    g_autoptr(GArray) mu = mir_detect_field_mean_contour (dog);
    double x, y;

    g_assert_cmpuint (mu->len, >, 0);
    for (guint i = 0; i < mu->len; i++)
      {
        const MirDetectSegment *q = &g_array_index (mu, MirDetectSegment, i);

        g_assert_cmpfloat_with_epsilon (mir_detect_field_sample_mean (dog, q->x0, q->y0), dog->mu, 1e-9);
        g_assert_cmpfloat_with_epsilon (mir_detect_field_sample_mean (dog, q->x1, q->y1), dog->mu, 1e-9);
      }
    mir_detect_field_cell_centre (dog, 1, 1, &x, &y);
    g_assert_cmpfloat_with_epsilon (mir_detect_field_sample_mean (dog, x, y), 4.34 / 9, TOL);
    mir_detect_field_cell_centre (dog, 0, 1, &x, &y);
    g_assert_cmpfloat_with_epsilon (mir_detect_field_sample_mean (dog, x, y), 2.85 / 9, TOL);
  }

  /* a class that is not looked for: its P and means, but no filter keeps
   * anything (there are no boxes of it) */
  {
    g_autoptr(MirDetectField) off = NULL;

    params->classes[1].enabled = FALSE;
    off = mir_detect_field_new (grid, params, 1, &error);
    g_assert_no_error (error);
    g_assert_true (isnan (off->mu));
    for (guint n = 0; n < 9; n++)
      {
        g_assert_cmpfloat (off->prob[n], ==, grid_a_cat[n]);
        g_assert_cmpfloat (off->mean[n], ==, cat->mean[n]);
        g_assert_false (off->filter1[n] || off->filter2[n] || off->edge[n]);
      }
    params->classes[1].enabled = TRUE;
  }

  /* a class that does not exist is an error, not a crash */
  g_assert_null (mir_detect_field_new (grid, params, 2, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

/* Bilinear P between the window centres, and the threshold contour by
 * marching squares: every segment end lies on P = threshold (it sits on a
 * cell edge, where the bilinear field is linear), and every pair of
 * neighbouring centres on both sides of the threshold has a segment end
 * between them at the linear crossing. */
static void
test_field_contour (void)
{
  const int rows = 5, cols = 7, window = 20, stride = 8;
  MirDetectGeometry geom;
  g_autofree float *probs = g_new (float, rows * cols * 2);
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autoptr(MirDetectParams) params = mir_detect_params_new (2, MIR_DETECT_METHOD_1);
  g_autoptr(MirDetectField) field = NULL;
  g_autoptr(GArray) contour = NULL;
  g_autoptr(GError) error = NULL;
  const double level = 0.55;

  g_assert_true (mir_detect_geometry_init (&geom, window + stride * (cols - 1),
                                           window + stride * (rows - 1), window, stride, FALSE,
                                           &error));
  for (int n = 0; n < rows * cols; n++)
    {
      int r = n / cols, c = n % cols;
      /* two bumps, so the contour has two pieces and a saddle between them */
      double p = 0.9 * exp (-((r - 1.0) * (r - 1.0) + (c - 1.5) * (c - 1.5)) / 2.5) +
                 0.85 * exp (-((r - 3.2) * (r - 3.2) + (c - 5.0) * (c - 5.0)) / 2.0);

      probs[2 * n] = (float) MIN (p, 1.0);
      probs[2 * n + 1] = 1.0f - probs[2 * n];
    }
  grid = mir_detect_grid_new (&geom, 2, NULL, MIR_HEAD_SOFTMAX, probs, &error);
  g_assert_no_error (error);
  params->classes[0].threshold = level;
  field = mir_detect_field_new (grid, params, 0, &error);
  g_assert_no_error (error);

  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        double x, y;
        float p = probs[2 * (r * cols + c)];

        mir_detect_field_cell_centre (field, (guint) r, (guint) c, &x, &y);
        g_assert_cmpfloat (x, ==, c * stride + window / 2.0);
        g_assert_cmpfloat (y, ==, r * stride + window / 2.0);
        g_assert_cmpfloat_with_epsilon (mir_detect_field_sample (field, x, y), p, 1e-12);
        if (c + 1 < cols)
          g_assert_cmpfloat_with_epsilon (mir_detect_field_sample (field, x + stride / 4.0, y),
                                          0.75 * p + 0.25 * probs[2 * (r * cols + c + 1)], 1e-9);
        /* the method-1 field keeps exactly the windows with P >= threshold */
        g_assert_cmpint (field->filter1[r * cols + c], ==, (double) p >= level);
        g_assert_true (isnan (field->mean[r * cols + c]));
      }
  /* method 1 has no μ field */
  {
    g_autoptr(GArray) mu = mir_detect_field_mean_contour (field);

    g_assert_cmpuint (mu->len, ==, 0);
    g_assert_true (isnan (mir_detect_field_sample_mean (field, 0, 0)));
  }
  /* outside the centres: the nearest edge value */
  g_assert_cmpfloat_with_epsilon (mir_detect_field_sample (field, 0, 0), probs[0], 1e-12);

  contour = mir_detect_field_contour (field, level);
  g_assert_cmpuint (contour->len, >, 8);
  for (guint i = 0; i < contour->len; i++)
    {
      const MirDetectSegment *s_seg = &g_array_index (contour, MirDetectSegment, i);
      const double s[4] = { s_seg->x0, s_seg->y0, s_seg->x1, s_seg->y1 };

      g_assert_cmpfloat_with_epsilon (mir_detect_field_sample (field, s[0], s[1]), level, 1e-6);
      g_assert_cmpfloat_with_epsilon (mir_detect_field_sample (field, s[2], s[3]), level, 1e-6);
    }
  for (int r = 0; r < rows; r++)
    for (int c = 0; c + 1 < cols; c++)
      {
        double a = probs[2 * (r * cols + c)], b = probs[2 * (r * cols + c + 1)];
        double x, y;
        gboolean found = FALSE;

        if ((a >= level) == (b >= level))
          continue;
        mir_detect_field_cell_centre (field, (guint) r, (guint) c, &x, &y);
        x += (level - a) / (b - a) * stride;
        for (guint i = 0; i < contour->len && !found; i++)
          {
            const MirDetectSegment *s_seg = &g_array_index (contour, MirDetectSegment, i);
            const double s[4] = { s_seg->x0, s_seg->y0, s_seg->x1, s_seg->y1 };
            found = (fabs (s[0] - x) < 1e-6 && fabs (s[1] - y) < 1e-6) ||
                    (fabs (s[2] - x) < 1e-6 && fabs (s[3] - y) < 1e-6);
          }
        g_assert_true (found);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/geometry", test_geometry);
  g_test_add_func ("/detect/params-check", test_params_check);
  g_test_add_func ("/detect/method1", test_method1);
  g_test_add_func ("/detect/method2.2", test_method22);
  g_test_add_func ("/detect/exception-extremes", test_exception_extremes);
  g_test_add_func ("/detect/method2.1", test_method21);
  g_test_add_func ("/detect/notebook-compat", test_notebook_compat);
  g_test_add_func ("/detect/window-mean", test_window_mean);
  g_test_add_func ("/detect/empty-and-single", test_empty_and_single);
  g_test_add_func ("/detect/softmax3-radius2", test_softmax3_radius2);
  g_test_add_func ("/detect/weighted-mean", test_weighted_mean);
  g_test_add_func ("/detect/sigmoid-binary", test_sigmoid_binary);
  g_test_add_func ("/detect/grouping", test_grouping);
  g_test_add_func ("/detect/field", test_field);
  g_test_add_func ("/detect/field-contour", test_field_contour);
  g_test_add_func ("/detect/evaluate", test_evaluate);
  g_test_add_func ("/detect/files", test_truth_and_grid_files);
  g_test_add_func ("/detect/class-name-case", test_class_name_case);
  g_test_add_func ("/detect/draw", test_draw);
  g_test_add_func ("/detect/multiscale", test_multiscale);
  g_test_add_func ("/detect/scales-spec", test_scales_spec);
  g_test_add_func ("/detect/shared-path", test_shared_path);
  return g_test_run ();
}
