/* mir-filter-pattern.h: the input pattern a filter responds to most, by
 * gradient ascent on the input (seed 002, after Chollet's book):
 *
 *   x = uniform[0,1) · 20 + 128                      (pixel units, 0..255)
 *   repeat 40 times:  g = d mean(A[:, :, :, f]) / dx
 *                     x += g / (sqrt(mean(g²)) + 1e-5) · step
 *   deprocess: x −= mean; x /= std + 1e-5; x ·= 0.1; x += 0.5;
 *              clip to [0, 1]; x ·= 255; uint8
 *
 * The seed feeds x to VGG16 directly; Mirada feeds preprocess(x) with the
 * model's own preprocessing (identical for preprocess "none"), so the pattern
 * lives in pixel units for every model.  Many filters are optimised at once
 * as one batch. */
#pragma once

#include <gio/gio.h>

#include "mir-model.h"
#include "mir-image.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_FILTER_METHOD_SEED,        /* exactly the recipe above */
  MIR_FILTER_METHOD_REGULARIZED, /* jitter + blur + decay each step, Adam-free (see .c) */
} MirFilterMethod;

typedef struct
{
  MirFilterMethod method;
  int size;        /* pattern side for models with free input size (seed: 150; default 64) */
  int steps;       /* seed: 40 */
  float step;      /* seed: 1 */
  guint32 seed;    /* noise seed */
  int batch;       /* filters optimised together (default 16) */
  /* regularised variant */
  int jitter;      /* pixels of random shift per step */
  int blur_every;  /* apply a 3×3 blur every N steps (0 = never) */
  float decay;     /* L2 decay towards grey per step */
} MirFilterOptions;

#define MIR_FILTER_OPTIONS_DEFAULT { MIR_FILTER_METHOD_SEED, 64, 40, 1.0f, 1, 16, 4, 4, 0.002f }

/* Called on the calling thread as each pattern finishes (in filter order). */
typedef void (*MirFilterPatternFunc) (guint index, gint filter, MirImage *pattern,
                                      double loss_start, double loss_end, gpointer user_data);

/* Patterns for @filters of node @layer (a 4-D output; or a 2-D Dense output,
 * where "filter" is a unit: class patterns).  Returns FALSE on error or
 * cancellation. */
gboolean  mir_filter_patterns      (MirModel               *model,
                                    gint                    layer,
                                    const gint             *filters,
                                    guint                   n_filters,
                                    const MirFilterOptions *options,
                                    MirFilterPatternFunc    callback,
                                    gpointer                user_data,
                                    GCancellable           *cancellable,
                                    GError                **error);

/* Seed 002's deprocess_image on @n floats (modified in place) into bytes. */
void      mir_filter_deprocess     (float *x, gsize n, guint8 *out);

/* Lays out patterns (all the same size) as the seed does: an 8×8 grid where
 * pattern i + 8 j sits at row i, column j, @margin pixels apart, black
 * background. */
MirImage *mir_filter_grid          (MirImage *const *patterns, guint n, int per_side, int margin,
                                    GError **error);

G_END_DECLS
