/* mir-detect-filter.c: the cheap part of the detector: filter 1, the
 * neighbourhood means, μ, filter 2 (the seed's methods 1, 2.1 and 2.2) and
 * box grouping, all on a cached probability grid.
 *
 * The equations (seed report, section 4), for one class x with threshold
 * P(x), exception factor f_e(x) and neighbourhood radius r:
 *
 *   filter 1 (eq. 1):  keep window n when P_n(x) >= P(x).
 *   mean (eq. 2):      for each kept n at grid row i, column j,
 *                        mean_n = Σ_{|di|,|dj| <= r} v(i+di, j+dj) / (2r+1)²
 *                      where v is P(x) of that window (1 - P(x) for a class
 *                      flagged `complement` in method 2.1) and a position
 *                      outside the grid counts as f_e(x).
 *   μ (eq. 3):         μ_x = (max_n mean_n + min_n mean_n) / 2 over the kept n.
 *   filter 2 (eq. 4):  keep n when mean_n >= μ_x.
 *
 * Notebook-compatible mode (params->notebook_compat) reproduces what the
 * seed's notebook actually computed, which differs from the equations:
 *
 *   1. The centre term is read as prob[p] where p is the loop counter over
 *      the kept windows (0, 1, 2, ...), not the kept window's index n.  So
 *      the p-th kept window's "centre" is the probability of window p.
 *   2. Neighbours are looked up as cord_mat[i+di][j+dj] inside try/except.
 *      Python wraps negative indices (cord_mat[-1] is the last row), so a
 *      neighbour above the top row or left of the left column silently reads
 *      the opposite edge; only indices >= rows or >= cols raise IndexError and
 *      count as f_e.  So the exception factor applies at the bottom and right
 *      edges only.  (An index below -rows would raise too; with radius 1 that
 *      cannot happen.)  We follow Python's rule exactly: a in [-R, R) is valid
 *      and a < 0 means a + R.
 *   3. NumPy (1.x) compares a float32 array with a Python float in float32,
 *      so filter 1 compares P_n(x) >= (float) P(x).
 *
 * Everything else (μ, filter 2) is the same in both modes.
 *
 * Partial grids (issue 23: grid->known, while a classification fills the
 * grid in): filter 1 never keeps a window not classified yet, and the mean
 * of equation 2 leaves such a neighbour out of both the sum and the count
 * (weights too), as if that position did not exist, rather than counting it
 * as 0 or as f_e; positions outside the grid still count as f_e.  A mean
 * with nothing to average (the notebook's centre and every neighbour
 * unknown) is NaN: filter 2 drops it and μ ignores it.  On a complete grid
 * nothing changes.  The window
 * layout of the notebook (7×16 for its 400×800 photo: the last column of
 * positions left out) is a geometry option, see mir_detect_geometry_init().
 */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-detect.h"

#define MAX_RADIUS 64

MirDetectParams *
mir_detect_params_new (guint n_classes, MirDetectMethod method)
{
  MirDetectParams *params = g_new0 (MirDetectParams, 1);

  params->method = method;
  params->n_classes = n_classes;
  params->classes = g_new0 (MirDetectClassParams, MAX (n_classes, 1));
  for (guint c = 0; c < n_classes; c++)
    {
      params->classes[c].enabled = TRUE;
      params->classes[c].threshold = 0.99;
      params->classes[c].exception = 0.5;
      params->classes[c].complement = (method == MIR_DETECT_METHOD_2_1 && c == 1);
    }
  params->radius = 1;
  params->grouping = MIR_DETECT_GROUP_NONE;
  params->iou = 0.3;
  return params;
}

MirDetectParams *
mir_detect_params_copy (const MirDetectParams *params)
{
  MirDetectParams *copy;

  g_return_val_if_fail (params != NULL, NULL);
  copy = g_memdup2 (params, sizeof *params);
  copy->classes = g_memdup2 (params->classes,
                             sizeof (MirDetectClassParams) * MAX (params->n_classes, 1));
  return copy;
}

void
mir_detect_params_free (MirDetectParams *params)
{
  if (params == NULL)
    return;
  g_free (params->classes);
  g_free (params);
}

gboolean
mir_detect_params_check (const MirDetectParams *params,
                         const MirDetectGrid   *grid,
                         GError               **error)
{
  g_return_val_if_fail (params != NULL, FALSE);

  if (grid != NULL && params->n_classes != grid->n_classes)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Detector settings are for %u classes but the model gives %u"),
                   params->n_classes, grid->n_classes);
      return FALSE;
    }
  if (params->method > MIR_DETECT_METHOD_2_2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Unknown detection method %d"),
                   (int) params->method);
      return FALSE;
    }
  if (params->radius < 1 || params->radius > MAX_RADIUS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Neighbourhood radius %u is out of range (1 to %d)"),
                   params->radius, MAX_RADIUS);
      return FALSE;
    }
  if (!(params->iou >= 0.0 && params->iou <= 1.0))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Grouping IoU %g is outside [0, 1]"), params->iou);
      return FALSE;
    }
  if (params->grouping > MIR_DETECT_GROUP_MERGE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Unknown grouping %d"),
                   (int) params->grouping);
      return FALSE;
    }
  for (guint c = 0; c < params->n_classes; c++)
    {
      const MirDetectClassParams *cp = &params->classes[c];
      const char *name = grid && grid->class_names ? grid->class_names[c] : NULL;
      g_autofree char *fallback = g_strdup_printf ("%u", c);

      if (name == NULL)
        name = fallback;
      if (!(cp->threshold >= 0.0 && cp->threshold <= 1.0))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Threshold %g of class “%s” is outside [0, 1]"), cp->threshold, name);
          return FALSE;
        }
      if (!(cp->exception >= 0.0 && cp->exception <= 1.0))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Exception factor %g of class “%s” is outside [0, 1]"),
                       cp->exception, name);
          return FALSE;
        }
    }
  return TRUE;
}

const char *
mir_detect_method_to_string (MirDetectMethod method)
{
  switch (method)
    {
    case MIR_DETECT_METHOD_1:
      return "1";
    case MIR_DETECT_METHOD_2_1:
      return "2.1";
    case MIR_DETECT_METHOD_2_2:
      return "2.2";
    default:
      return "?";
    }
}

gboolean
mir_detect_method_from_string (const char *s, MirDetectMethod *method, GError **error)
{
  if (g_strcmp0 (s, "1") == 0)
    *method = MIR_DETECT_METHOD_1;
  else if (g_strcmp0 (s, "2.1") == 0)
    *method = MIR_DETECT_METHOD_2_1;
  else if (g_strcmp0 (s, "2.2") == 0)
    *method = MIR_DETECT_METHOD_2_2;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unknown detection method “%s” (use 1, 2.1 or 2.2)"), s ? s : "");
      return FALSE;
    }
  return TRUE;
}

const char *
mir_detect_grouping_to_string (MirDetectGrouping grouping)
{
  switch (grouping)
    {
    case MIR_DETECT_GROUP_NONE:
      return "none";
    case MIR_DETECT_GROUP_NMS:
      return "nms";
    case MIR_DETECT_GROUP_MERGE:
      return "merge";
    default:
      return "?";
    }
}

gboolean
mir_detect_grouping_from_string (const char *s, MirDetectGrouping *grouping, GError **error)
{
  if (g_strcmp0 (s, "none") == 0)
    *grouping = MIR_DETECT_GROUP_NONE;
  else if (g_strcmp0 (s, "nms") == 0)
    *grouping = MIR_DETECT_GROUP_NMS;
  else if (g_strcmp0 (s, "merge") == 0)
    *grouping = MIR_DETECT_GROUP_MERGE;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unknown grouping “%s” (use none, nms or merge)"), s ? s : "");
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */

double
mir_detect_iou (double ax, double ay, double aw, double ah,
                double bx, double by, double bw, double bh)
{
  double ix = MIN (ax + aw, bx + bw) - MAX (ax, bx);
  double iy = MIN (ay + ah, by + bh) - MAX (ay, by);
  double inter, uni;

  if (ix <= 0 || iy <= 0)
    return 0.0;
  inter = ix * iy;
  uni = aw * ah + bw * bh - inter;
  return uni > 0 ? inter / uni : 0.0;
}

static double
box_iou (const MirDetectBox *a, const MirDetectBox *b)
{
  return mir_detect_iou (a->x, a->y, a->width, a->height, b->x, b->y, b->width, b->height);
}

static int
cmp_class_window (gconstpointer pa, gconstpointer pb)
{
  const MirDetectBox *a = pa, *b = pb;

  if (a->class_index != b->class_index)
    return a->class_index < b->class_index ? -1 : 1;
  if (a->scale != b->scale)
    return a->scale < b->scale ? -1 : 1;
  if (a->window != b->window)
    return a->window < b->window ? -1 : 1;
  return 0;
}

/* Class ascending, then probability descending, then scale and window ascending. */
static int
cmp_class_prob (gconstpointer pa, gconstpointer pb)
{
  const MirDetectBox *a = pa, *b = pb;

  if (a->class_index != b->class_index)
    return a->class_index < b->class_index ? -1 : 1;
  if (a->prob != b->prob)
    return a->prob > b->prob ? -1 : 1;
  if (a->scale != b->scale)
    return a->scale < b->scale ? -1 : 1;
  if (a->window != b->window)
    return a->window < b->window ? -1 : 1;
  return 0;
}

static guint
uf_find (guint *parent, guint i)
{
  while (parent[i] != i)
    {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
  return i;
}

GArray *
mir_detect_group (const MirDetectBox *boxes,
                  guint               n_boxes,
                  MirDetectGrouping   grouping,
                  double              iou)
{
  GArray *out = g_array_sized_new (FALSE, FALSE, sizeof (MirDetectBox), n_boxes);
  g_autofree MirDetectBox *sorted = NULL;

  if (n_boxes == 0)
    return out;
  sorted = g_memdup2 (boxes, sizeof (MirDetectBox) * n_boxes);
  qsort (sorted, n_boxes, sizeof (MirDetectBox), cmp_class_prob);

  if (grouping == MIR_DETECT_GROUP_NMS)
    {
      g_autofree gboolean *dropped = g_new0 (gboolean, n_boxes);

      for (guint i = 0; i < n_boxes; i++)
        {
          if (dropped[i])
            continue;
          g_array_append_val (out, sorted[i]);
          for (guint k = i + 1; k < n_boxes && sorted[k].class_index == sorted[i].class_index; k++)
            if (!dropped[k] && box_iou (&sorted[i], &sorted[k]) > iou)
              dropped[k] = TRUE;
        }
    }
  else if (grouping == MIR_DETECT_GROUP_MERGE)
    {
      g_autofree guint *parent = g_new (guint, n_boxes);

      for (guint i = 0; i < n_boxes; i++)
        parent[i] = i;
      for (guint i = 0; i < n_boxes; i++)
        for (guint k = i + 1; k < n_boxes && sorted[k].class_index == sorted[i].class_index; k++)
          if (box_iou (&sorted[i], &sorted[k]) > iou)
            {
              guint a = uf_find (parent, i), b = uf_find (parent, k);
              /* the root stays the most probable member (lowest sorted index) */
              if (a < b)
                parent[b] = a;
              else if (b < a)
                parent[a] = b;
            }
      for (guint i = 0; i < n_boxes; i++)
        {
          MirDetectBox merged;
          double sw = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0;
          guint members = 0;

          if (uf_find (parent, i) != i)
            continue;
          merged = sorted[i];
          for (guint k = i; k < n_boxes && sorted[k].class_index == sorted[i].class_index; k++)
            {
              const MirDetectBox *b = &sorted[k];
              /* all-zero probabilities would give 0/0: weigh equally then */
              double w = sorted[i].prob > 0 ? b->prob : 1.0;

              if (uf_find (parent, k) != i)
                continue;
              sw += w;
              x1 += w * b->x;
              y1 += w * b->y;
              x2 += w * (b->x + b->width);
              y2 += w * (b->y + b->height);
              members += b->n_members;
            }
          merged.x = x1 / sw;
          merged.y = y1 / sw;
          merged.width = x2 / sw - merged.x;
          merged.height = y2 / sw - merged.y;
          merged.n_members = members;
          g_array_append_val (out, merged);
        }
    }
  else
    g_array_append_vals (out, sorted, n_boxes);

  g_array_sort (out, cmp_class_window);
  return out;
}

/* ------------------------------------------------------------------ */

static void
free_result (MirDetectResult *result)
{
  g_array_unref (result->candidates);
  g_array_unref (result->boxes);
  g_free (result->mu);
  g_free (result->n_filter1);
  g_free (result->n_filter2);
  g_free (result->counts);
  g_free (result);
}

MirDetectResult *
mir_detect_result_ref (MirDetectResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_atomic_ref_count_inc (&result->ref_count);
  return result;
}

void
mir_detect_result_unref (MirDetectResult *result)
{
  if (result != NULL && g_atomic_ref_count_dec (&result->ref_count))
    free_result (result);
}

static inline double
cell_value (const MirDetectGrid *grid, guint n, guint c, gboolean complement)
{
  double p = grid->probs[(gsize) n * grid->n_classes + c];
  return complement ? 1.0 - p : p;
}

/* Equation 2: mean over the (2r+1)² neighbourhood of (row, col), outside
 * positions counting as @fe. */
/* With @skip_outside the outside positions are left out of the mean
 * instead (the field's "what if there were no f_e"); @n_outside (may be
 * NULL) counts them either way. */
static double
mean_equations (const MirDetectGrid *grid, guint c, gboolean complement, int row, int col,
                int r, double fe, const double *weights, gboolean skip_outside,
                guint *n_outside)
{
  const int R = grid->geom.rows, C = grid->geom.cols;
  double sum = 0, sw = 0;
  guint outside = 0;
  int k = 0;

  for (int di = -r; di <= r; di++)
    for (int dj = -r; dj <= r; dj++, k++)
      {
        int i = row + di, j = col + dj;
        double w = weights ? weights[k] : 1.0;
        double v;

        if (i < 0 || i >= R || j < 0 || j >= C)
          {
            outside++;
            if (skip_outside)
              continue;
            v = fe;
          }
        else if (!mir_detect_grid_is_known (grid, (guint) (i * C + j)))
          continue;
        else
          v = cell_value (grid, (guint) (i * C + j), c, complement);
        sum += w * v;
        sw += w;
      }
  if (n_outside)
    *n_outside = outside;
  return sw > 0 ? sum / sw : NAN;
}

/* Python's list indexing: valid for -len <= a < len, negative wraps. */
static inline gboolean
py_index (int a, int len, int *out)
{
  if (a < -len || a >= len)
    return FALSE;
  *out = a < 0 ? a + len : a;
  return TRUE;
}

/* The notebook's mean: centre read at the loop counter @p, neighbours via
 * cord_mat with Python's negative-index wrap (see the comment at the top). */
static double
mean_notebook (const MirDetectGrid *grid, guint c, gboolean complement, guint p, int row,
               int col, int r, double fe, const double *weights, gboolean skip_outside,
               guint *n_outside)
{
  const int R = grid->geom.rows, C = grid->geom.cols;
  double sum = 0, sw = 0;
  guint outside = 0;
  int k = 0;

  for (int di = -r; di <= r; di++)
    for (int dj = -r; dj <= r; dj++, k++)
      {
        double w = weights ? weights[k] : 1.0;
        double v;
        int i, j;

        if (di == 0 && dj == 0)
          {
            if (!mir_detect_grid_is_known (grid, p))
              continue;
            v = cell_value (grid, p, c, complement); /* prob_pygs[p, c] */
          }
        else if (py_index (row + di, R, &i) && py_index (col + dj, C, &j))
          {
            if (!mir_detect_grid_is_known (grid, (guint) (i * C + j)))
              continue;
            v = cell_value (grid, (guint) (i * C + j), c, complement);
          }
        else
          {
            outside++;
            if (skip_outside)
              continue;
            v = fe;
          }
        sum += w * v;
        sw += w;
      }
  if (n_outside)
    *n_outside = outside;
  return sw > 0 ? sum / sw : NAN;
}

/* Gaussian weights exp(-d²/2r²) over the (2r+1)² neighbourhood, row-major. */
static double *
mean_weights (int r)
{
  double *weights = g_new (double, (2 * r + 1) * (2 * r + 1));
  int k = 0;

  for (int di = -r; di <= r; di++)
    for (int dj = -r; dj <= r; dj++)
      weights[k++] = exp (-(double) (di * di + dj * dj) / (2.0 * r * r));
  return weights;
}

/* The mean filter 2 compares with μ, for the @p-th window filter 1 kept of
 * class @c (the notebook reads its centre there). */
static double
window_mean_full (const MirDetectGrid *grid, const MirDetectParams *params, guint c, guint p,
                  guint row, guint col, const double *weights, gboolean skip_outside,
                  guint *n_outside)
{
  const MirDetectClassParams *cp = &params->classes[c];
  const gboolean complement = params->method == MIR_DETECT_METHOD_2_1 && cp->complement;
  const int r = (int) params->radius;

  if (params->notebook_compat)
    return mean_notebook (grid, c, complement, p, (int) row, (int) col, r, cp->exception,
                          weights, skip_outside, n_outside);
  return mean_equations (grid, c, complement, (int) row, (int) col, r, cp->exception, weights,
                         skip_outside, n_outside);
}

static double
window_mean (const MirDetectGrid *grid, const MirDetectParams *params, guint c, guint p,
             guint row, guint col, const double *weights)
{
  return window_mean_full (grid, params, c, p, row, col, weights, FALSE, NULL);
}

/* Filter 1 (equation 1) for one probability; the notebook compares in float32. */
static inline gboolean
filter1_keeps (const MirDetectParams *params, const MirDetectClassParams *cp, float p)
{
  return params->notebook_compat ? p >= (float) cp->threshold : (double) p >= cp->threshold;
}

double
mir_detect_window_mean (const MirDetectGrid   *grid,
                        const MirDetectParams *params,
                        guint                  c,
                        guint                  n)
{
  const guint K = grid->n_classes;
  g_autofree double *weights = NULL;
  guint p = n;

  g_return_val_if_fail (grid != NULL && params != NULL, NAN);
  g_return_val_if_fail (c < K && c < params->n_classes, NAN);
  g_return_val_if_fail (n < mir_detect_geometry_n_windows (&grid->geom), NAN);
  g_return_val_if_fail (params->radius <= MAX_RADIUS, NAN);

  if (params->weighted_mean && params->radius > 0)
    weights = mean_weights ((int) params->radius);
  if (params->notebook_compat)
    {
      /* the rank of @n among the windows filter 1 keeps, as mir_detect_filter counts */
      p = 0;
      for (guint m = 0; m < n; m++)
        if (mir_detect_grid_is_known (grid, m)
            && filter1_keeps (params, &params->classes[c], grid->probs[(gsize) m * K + c]))
          p++;
    }
  return window_mean (grid, params, c, p, n / (guint) grid->geom.cols,
                      n % (guint) grid->geom.cols, weights);
}

static void
fill_box (const MirDetectGrid *grid, guint s, guint c, guint n, MirDetectBox *box)
{
  int x, y, size;

  mir_detect_geometry_window_rect (&grid->geom, n, &x, &y, &size);
  box->class_index = c;
  box->scale = s;
  box->window = n;
  box->row = n / (guint) grid->geom.cols;
  box->col = n % (guint) grid->geom.cols;
  box->x = x * grid->scale;
  box->y = y * grid->scale;
  box->width = size * grid->scale;
  box->height = size * grid->scale;
  box->prob = mir_detect_grid_get (grid, n, c);
  box->mean = NAN;
  box->passed = TRUE;
  box->n_members = 1;
}

/* Filters 1 and 2 of one grid (scale @s): appends to result->candidates
 * and @passed, fills the grid's μ and the per-class counts. */
static void
filter_grid (const MirDetectGrid   *grid,
             guint                  s,
             const MirDetectParams *params,
             const double          *weights,
             MirDetectResult       *result,
             GArray                *passed)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  const guint K = grid->n_classes;

  for (guint c = 0; c < K; c++)
    {
      const MirDetectClassParams *cp = &params->classes[c];
      const guint first = result->candidates->len;
      double lo = INFINITY, hi = -INFINITY, mu;
      guint kept;

      if (!cp->enabled)
        continue;

      /* Filter 1 (equation 1). */
      for (guint n = 0; n < N; n++)
        {
          if (mir_detect_grid_is_known (grid, n)
              && filter1_keeps (params, cp, grid->probs[(gsize) n * K + c]))
            {
              MirDetectBox box;

              fill_box (grid, s, c, n, &box);
              g_array_append_val (result->candidates, box);
            }
        }
      kept = result->candidates->len - first;
      result->n_filter1[c] += kept;

      if (params->method == MIR_DETECT_METHOD_1)
        {
          if (kept > 0) /* an empty array's data may be NULL */
            g_array_append_vals (passed, &g_array_index (result->candidates, MirDetectBox, first),
                                 kept);
          result->n_filter2[c] += kept;
          continue;
        }
      if (kept == 0)
        continue;

      /* Neighbourhood means (equation 2) and μ (equation 3). */
      for (guint p = 0; p < kept; p++)
        {
          MirDetectBox *box = &g_array_index (result->candidates, MirDetectBox, first + p);

          box->mean = window_mean (grid, params, c, p, box->row, box->col, weights);
          if (isnan (box->mean)) /* only on a partial grid (see the top) */
            continue;
          lo = MIN (lo, box->mean);
          hi = MAX (hi, box->mean);
        }
      mu = lo <= hi ? (hi + lo) / 2.0 : NAN;
      result->mu[(gsize) s * K + c] = mu;

      /* Filter 2 (equation 4). */
      for (guint p = 0; p < kept; p++)
        {
          MirDetectBox *box = &g_array_index (result->candidates, MirDetectBox, first + p);

          box->passed = box->mean >= mu;
          if (box->passed)
            {
              g_array_append_val (passed, *box);
              result->n_filter2[c]++;
            }
        }
    }
}

MirDetectResult *
mir_detect_filter_scales (MirDetectGrid *const   *grids,
                          guint                   n_grids,
                          const MirDetectParams  *params,
                          GError                **error)
{
  MirDetectResult *result;
  guint K;
  const int r = (int) params->radius;
  g_autofree double *weights = NULL;
  g_autoptr(GArray) passed = NULL;
  gsize n_mu;

  g_return_val_if_fail (grids != NULL && n_grids > 0 && params != NULL, NULL);
  K = grids[0]->n_classes;
  for (guint s = 0; s < n_grids; s++)
    {
      if (!mir_detect_params_check (params, grids[s], error))
        return NULL;
      for (guint c = 0; s > 0 && c < K; c++)
        if (g_strcmp0 (grids[s]->class_names[c], grids[0]->class_names[c]) != 0)
          {
            g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                         _("Scale %u has class “%s” where scale 0 has “%s”; the scales must "
                           "come from one model"), s, grids[s]->class_names[c],
                         grids[0]->class_names[c]);
            return NULL;
          }
    }

  if (params->weighted_mean)
    weights = mean_weights (r);

  n_mu = (gsize) n_grids * K;
  result = g_new0 (MirDetectResult, 1);
  g_atomic_ref_count_init (&result->ref_count);
  result->n_classes = K;
  result->n_scales = n_grids;
  result->candidates = g_array_new (FALSE, FALSE, sizeof (MirDetectBox));
  result->mu = g_new (double, MAX (n_mu, 1));
  for (gsize i = 0; i < n_mu; i++)
    result->mu[i] = NAN;
  result->n_filter1 = g_new0 (guint, MAX (K, 1));
  result->n_filter2 = g_new0 (guint, MAX (K, 1));
  result->counts = g_new0 (guint, MAX (K, 1));
  passed = g_array_new (FALSE, FALSE, sizeof (MirDetectBox));

  for (guint s = 0; s < n_grids; s++)
    filter_grid (grids[s], s, params, weights, result, passed);

  result->boxes = mir_detect_group ((const MirDetectBox *) (void *) passed->data, passed->len,
                                    params->grouping, params->iou);
  for (guint i = 0; i < result->boxes->len; i++)
    result->counts[g_array_index (result->boxes, MirDetectBox, i).class_index]++;
  return result;
}

MirDetectResult *
mir_detect_filter (const MirDetectGrid   *grid,
                   const MirDetectParams *params,
                   GError               **error)
{
  MirDetectGrid *const grids[1] = { (MirDetectGrid *) grid };

  g_return_val_if_fail (grid != NULL && params != NULL, NULL);
  return mir_detect_filter_scales (grids, 1, params, error);
}

/* ------------------------------------------------------------------ */
/* The field behind the boxes (mir-detect.h).  Filters 1 and 2 run through
 * mir_detect_filter() itself on this one class, so the field's decisions are
 * the boxes' decisions; the means of the windows filter 1 drops (the hover
 * shows them too) and the means without f_e come from the same mean code. */

void
mir_detect_field_free (MirDetectField *field)
{
  if (field == NULL)
    return;
  g_free (field->prob);
  g_free (field->mean);
  g_free (field->mean_inside);
  g_free (field->n_outside);
  g_free (field->filter1);
  g_free (field->filter2);
  g_free (field->edge);
  g_free (field);
}

MirDetectField *
mir_detect_field_new (const MirDetectGrid   *grid,
                      const MirDetectParams *params,
                      guint                  c,
                      GError               **error)
{
  g_autoptr(MirDetectParams) one = NULL;
  g_autoptr(MirDetectResult) result = NULL;
  g_autofree double *weights = NULL;
  const MirDetectClassParams *cp;
  MirDetectField *field;
  guint N, K, rank = 0, next = 0;
  gboolean enabled;

  g_return_val_if_fail (grid != NULL && params != NULL, NULL);
  if (!mir_detect_params_check (params, grid, error))
    return NULL;
  if (c >= grid->n_classes)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Class %u does not exist: the model has %u classes"), c, grid->n_classes);
      return NULL;
    }
  N = mir_detect_geometry_n_windows (&grid->geom);
  K = grid->n_classes;
  cp = &params->classes[c];
  enabled = cp->enabled;

  /* the filters on this class alone, no grouping: result->candidates are
   * exactly the windows filter 1 keeps, with their means and filter 2's verdict */
  one = mir_detect_params_copy (params);
  for (guint k = 0; k < K; k++)
    one->classes[k].enabled = (k == c) && enabled;
  one->grouping = MIR_DETECT_GROUP_NONE;
  if (!(result = mir_detect_filter (grid, one, error)))
    return NULL;
  if (params->weighted_mean)
    weights = mean_weights ((int) params->radius);

  field = g_new0 (MirDetectField, 1);
  field->class_index = c;
  field->geom = grid->geom;
  field->scale = grid->scale;
  field->method = params->method;
  field->threshold = cp->threshold;
  field->exception = cp->exception;
  field->complement = params->method == MIR_DETECT_METHOD_2_1 && cp->complement;
  field->radius = params->radius;
  field->mu = enabled ? result->mu[c] : NAN;
  field->prob = g_new (float, MAX (N, 1));
  field->mean = g_new (double, MAX (N, 1));
  field->mean_inside = g_new (double, MAX (N, 1));
  field->n_outside = g_new0 (guint16, MAX (N, 1));
  field->filter1 = g_new0 (guint8, MAX (N, 1));
  field->filter2 = g_new0 (guint8, MAX (N, 1));
  field->edge = g_new0 (guint8, MAX (N, 1));

  for (guint n = 0; n < N; n++)
    {
      const guint row = n / (guint) grid->geom.cols, col = n % (guint) grid->geom.cols;
      const MirDetectBox *box = NULL;
      guint outside = 0;

      field->prob[n] = grid->probs[(gsize) n * K + c];
      if (next < result->candidates->len &&
          g_array_index (result->candidates, MirDetectBox, next).window == n)
        box = &g_array_index (result->candidates, MirDetectBox, next++);
      if (box != NULL)
        {
          field->filter1[n] = 1;
          field->filter2[n] = box->passed ? 1 : 0;
        }
      if (params->method == MIR_DETECT_METHOD_1)
        {
          field->mean[n] = field->mean_inside[n] = NAN;
          continue;
        }
      /* the notebook reads a candidate's centre at its rank among the
       * candidates; any other window at the rank it would have */
      field->mean[n] = box != NULL ? box->mean
                                   : window_mean (grid, params, c, rank, row, col, weights);
      field->mean_inside[n] = window_mean_full (grid, params, c, rank, row, col, weights,
                                                TRUE, &outside);
      field->n_outside[n] = (guint16) outside; /* at most 129² */
      if (box != NULL)
        rank++;
      else if (mir_detect_grid_is_known (grid, n) && filter1_keeps (params, cp, field->prob[n]))
        rank++; /* a disabled class: counted as mir_detect_window_mean counts */
      if (box != NULL && outside > 0 && !isnan (field->mu))
        {
          gboolean with_fe = box->passed;
          gboolean without_fe = field->mean_inside[n] >= field->mu;

          if (with_fe && !without_fe)
            field->edge[n] = MIR_DETECT_EDGE_RESCUED;
          else if (!with_fe && without_fe)
            field->edge[n] = MIR_DETECT_EDGE_REJECTED;
        }
    }
  return field;
}
