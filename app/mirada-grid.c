/* mirada-grid.c: window grid and filter 1 (see mirada-grid.h). */
#define G_LOG_DOMAIN "mirada-grid"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "mir.h"
#include "mirada-grid.h"

void
mirada_grid_dimensions (int  image_width,
                        int  image_height,
                        int  window,
                        int  stride,
                        int *cols,
                        int *rows)
{
  *cols = 0;
  *rows = 0;
  if (window <= 0 || stride <= 0 || window > image_width || window > image_height)
    return;
  *cols = (image_width - window) / stride + 1;
  *rows = (image_height - window) / stride + 1;
}

MiradaGrid *
mirada_grid_new (int      image_width,
                 int      image_height,
                 int      window,
                 int      stride,
                 guint    n_classes,
                 GError **error)
{
  g_autoptr(MiradaGrid) grid = NULL;
  gsize n = 0;
  int cols, rows;

  mirada_grid_dimensions (image_width, image_height, window, stride, &cols, &rows);
  if (cols == 0 || rows == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The window (%d px) does not fit in the image (%d×%d px); choose a smaller window"),
                   window, image_width, image_height);
      return NULL;
    }
  if (n_classes == 0 || n_classes > MIRADA_MAX_CLASSES)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The model has %u output classes; the detector handles 1 to %d"),
                   n_classes, MIRADA_MAX_CLASSES);
      return NULL;
    }
  if (!g_size_checked_mul (&n, (gsize) cols, (gsize) rows) ||
      !g_size_checked_mul (&n, n, n_classes) ||
      !g_size_checked_mul (&n, n, sizeof (float)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Too many window positions (%d×%d); choose a larger stride"), cols, rows);
      return NULL;
    }

  grid = g_new0 (MiradaGrid, 1);
  g_atomic_ref_count_init (&grid->ref_count);
  grid->image_width = image_width;
  grid->image_height = image_height;
  grid->window = window;
  grid->stride = stride;
  grid->cols = cols;
  grid->rows = rows;
  grid->n_classes = n_classes;
  grid->probs = g_try_malloc0 (n);
  if (grid->probs == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Not enough memory for %d×%d window positions"), cols, rows);
      return NULL;
    }
  return g_steal_pointer (&grid);
}

MiradaGrid *
mirada_grid_ref (MiradaGrid *grid)
{
  g_return_val_if_fail (grid != NULL, NULL);
  g_atomic_ref_count_inc (&grid->ref_count);
  return grid;
}

void
mirada_grid_unref (MiradaGrid *grid)
{
  if (grid == NULL)
    return;
  if (g_atomic_ref_count_dec (&grid->ref_count))
    {
      g_free (grid->probs);
      g_free (grid);
    }
}

float *
mirada_grid_get_probs (MiradaGrid *grid,
                       int         row,
                       int         col)
{
  g_return_val_if_fail (row >= 0 && row < grid->rows && col >= 0 && col < grid->cols, NULL);
  return grid->probs + ((gsize) row * grid->cols + col) * grid->n_classes;
}

void
mirada_grid_get_rect (MiradaGrid *grid,
                      int         row,
                      int         col,
                      int        *x,
                      int        *y,
                      int        *width,
                      int        *height)
{
  *x = col * grid->stride;
  *y = row * grid->stride;
  *width = grid->window;
  *height = grid->window;
}

gboolean
mirada_grid_lookup (MiradaGrid *grid,
                    double      x,
                    double      y,
                    int        *row,
                    int        *col)
{
  double half = grid->window / 2.0;
  int c, r;

  c = (int) floor ((x - half) / grid->stride + 0.5);
  r = (int) floor ((y - half) / grid->stride + 0.5);
  c = CLAMP (c, 0, grid->cols - 1);
  r = CLAMP (r, 0, grid->rows - 1);
  if (x < c * grid->stride || x >= c * grid->stride + grid->window ||
      y < r * grid->stride || y >= r * grid->stride + grid->window)
    return FALSE;
  *row = r;
  *col = c;
  return TRUE;
}

void
mirada_filter_params_init (MiradaFilterParams *params,
                           guint               n_classes,
                           double              threshold,
                           double              exception_factor)
{
  memset (params, 0, sizeof *params);
  params->method = MIRADA_METHOD_1;
  params->grouping = MIRADA_GROUPING_NONE;
  params->radius = 1;
  params->n_classes = MIN (n_classes, MIRADA_MAX_CLASSES);
  for (guint i = 0; i < params->n_classes; i++)
    {
      params->threshold[i] = threshold;
      params->exception_factor[i] = exception_factor;
    }
}

GArray *
mirada_grid_filter (MiradaGrid               *grid,
                    const MiradaFilterParams *params,
                    guint                    *counts,
                    GError                  **error)
{
  g_autoptr(GArray) boxes = NULL;
  guint n_classes;

  g_return_val_if_fail (grid != NULL && params != NULL, NULL);

  if (params->method != MIRADA_METHOD_1 || params->grouping != MIRADA_GROUPING_NONE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Method %s with grouping “%s” needs the detector engine, which is not part of this build yet; method 1 without grouping works"),
                   mirada_method_to_string (params->method),
                   mirada_grouping_to_string (params->grouping));
      return NULL;
    }

  n_classes = MIN (grid->n_classes, params->n_classes);
  boxes = g_array_new (FALSE, FALSE, sizeof (MiradaBox));
  if (counts != NULL)
    memset (counts, 0, sizeof (guint) * params->n_classes);

  /* Filter 1 (equation 1): f₁(Imₙ) = 1 when Pₙ(x) ≥ P(x). */
  for (int r = 0; r < grid->rows; r++)
    for (int c = 0; c < grid->cols; c++)
      {
        const float *p = mirada_grid_get_probs (grid, r, c);

        for (guint k = 0; k < n_classes; k++)
          {
            MiradaBox box;

            if (!(p[k] >= params->threshold[k]))
              continue;
            mirada_grid_get_rect (grid, r, c, &box.x, &box.y, &box.width, &box.height);
            box.row = r;
            box.col = c;
            box.class_index = k;
            box.probability = p[k];
            g_array_append_val (boxes, box);
            if (counts != NULL)
              counts[k]++;
          }
      }
  return g_steal_pointer (&boxes);
}

static const char *const method_names[] = { "1", "2.1", "2.2" };
static const char *const grouping_names[] = { "none", "nms", "merge" };

const char *
mirada_method_to_string (MiradaMethod method)
{
  g_return_val_if_fail (method <= MIRADA_METHOD_2_2, "1");
  return method_names[method];
}

gboolean
mirada_method_from_string (const char   *s,
                           MiradaMethod *method)
{
  for (guint i = 0; i < G_N_ELEMENTS (method_names); i++)
    if (g_strcmp0 (s, method_names[i]) == 0)
      {
        *method = (MiradaMethod) i;
        return TRUE;
      }
  return FALSE;
}

const char *
mirada_grouping_to_string (MiradaGrouping grouping)
{
  g_return_val_if_fail (grouping <= MIRADA_GROUPING_MERGE, "none");
  return grouping_names[grouping];
}

gboolean
mirada_grouping_from_string (const char     *s,
                             MiradaGrouping *grouping)
{
  for (guint i = 0; i < G_N_ELEMENTS (grouping_names); i++)
    if (g_strcmp0 (s, grouping_names[i]) == 0)
      {
        *grouping = (MiradaGrouping) i;
        return TRUE;
      }
  return FALSE;
}
