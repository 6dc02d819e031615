/* mirada-grid.h: the app's view of a sliding-window classification: the
 * probability of every class at every window position, and the cheap
 * filtering that turns it into boxes (re-run on the UI thread on every
 * slider move).
 *
 * The detector engine (engine/detect/mir-detect.h, branch `detect`) owns the
 * real methods; until it is merged this implements method 1 (filter 1 of the
 * course report: keep window n for class x when Pₙ(x) ≥ P(x)) and reports the
 * others as not available. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MIRADA_MAX_CLASSES 64

typedef enum
{
  MIRADA_METHOD_1,
  MIRADA_METHOD_2_1,
  MIRADA_METHOD_2_2,
} MiradaMethod;

typedef enum
{
  MIRADA_GROUPING_NONE,
  MIRADA_GROUPING_NMS,
  MIRADA_GROUPING_MERGE,
} MiradaGrouping;

typedef struct
{
  gatomicrefcount ref_count;
  int image_width;
  int image_height;
  int window;      /* side of the square window, image pixels */
  int stride;      /* pixels between two positions */
  int cols;
  int rows;
  guint n_classes;
  float *probs;    /* rows × cols × n_classes, row-major; owned */
} MiradaGrid;

typedef struct
{
  MiradaMethod method;
  MiradaGrouping grouping;
  int radius;
  gboolean notebook_compat;
  guint n_classes;
  double threshold[MIRADA_MAX_CLASSES];
  double exception_factor[MIRADA_MAX_CLASSES];
} MiradaFilterParams;

typedef struct
{
  int x, y, width, height; /* image pixels */
  int row, col;            /* grid position */
  guint class_index;
  float probability;
} MiradaBox;

/* Positions of a window grid over an image (0 if the window does not fit). */
void        mirada_grid_dimensions (int image_width, int image_height, int window, int stride,
                                    int *cols, int *rows);
MiradaGrid *mirada_grid_new        (int image_width, int image_height, int window, int stride,
                                    guint n_classes, GError **error);
MiradaGrid *mirada_grid_ref        (MiradaGrid *grid);
void        mirada_grid_unref      (MiradaGrid *grid);
float      *mirada_grid_get_probs  (MiradaGrid *grid, int row, int col);
/* Image rectangle of a window position. */
void        mirada_grid_get_rect   (MiradaGrid *grid, int row, int col,
                                    int *x, int *y, int *width, int *height);
/* The position whose window centre is nearest to (x, y), if (x, y) lies in
 * some window. */
gboolean    mirada_grid_lookup     (MiradaGrid *grid, double x, double y, int *row, int *col);

/* Filters the grid into boxes (array of MiradaBox) and per-class counts
 * (@counts has @params->n_classes slots).  Fails for methods this build does
 * not have yet. */
GArray     *mirada_grid_filter     (MiradaGrid               *grid,
                                    const MiradaFilterParams *params,
                                    guint                    *counts,
                                    GError                  **error);

void        mirada_filter_params_init (MiradaFilterParams *params, guint n_classes,
                                       double threshold, double exception_factor);

const char *mirada_method_to_string   (MiradaMethod method);
gboolean    mirada_method_from_string (const char *s, MiradaMethod *method);
const char *mirada_grouping_to_string (MiradaGrouping grouping);
gboolean    mirada_grouping_from_string (const char *s, MiradaGrouping *grouping);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MiradaGrid, mirada_grid_unref)

G_END_DECLS
