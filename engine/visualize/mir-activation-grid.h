/* mir-activation-grid.h: seed 002's picture of a layer's activations — every
 * channel as a small image, 16 per row, each normalised as
 * (x − mean) / std · 64 + 128 clipped to 0..255, coloured with viridis. */
#pragma once

#include "mir-tensor.h"
#include "mir-image.h"
#include "mir-colormap.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_GRID_NORM_CHANNEL, /* seed 002: per channel (x − mean) / std · 64 + 128 */
  MIR_GRID_NORM_LAYER,   /* the same with the whole layer's mean and std, so channels compare */
  MIR_GRID_NORM_MINMAX,  /* per channel (x − min) / (max − min) · 255 */
} MirGridNorm;

typedef struct
{
  int per_row;          /* channels per row (seed: 16) */
  MirGridNorm norm;
  MirColormap colormap; /* seed: viridis */
  int gap;              /* white pixels between tiles, in the output image (seed: 0;
                         * the window and `mirada activations` use MIR_GRID_GAP_DEFAULT,
                         * so 32 channels read as 32 pictures, not one sheet) */
  int scale;            /* each value drawn as scale×scale pixels (nearest), ≥ 1 */
} MirGridOptions;

#define MIR_GRID_OPTIONS_DEFAULT { 16, MIR_GRID_NORM_CHANNEL, MIR_COLORMAP_VIRIDIS, 0, 1 }

/* The gap between tiles of the window's grids and of `mirada activations`. */
#define MIR_GRID_GAP_DEFAULT 2

/* Where channel @k's tile starts in a grid of @options for H×W channels
 * (its top-left pixel): column k mod per_row, row k div per_row, each
 * tile W·scale (H·scale) pixels plus the gap.  For hit tests. */
void      mir_activation_grid_tile_origin (const MirGridOptions *options, gint64 h, gint64 w,
                                           gint64 k, int *x0, int *y0);

typedef struct
{
  float mean;
  float max;
  float min;
  float zero_fraction;
  gboolean dead;        /* every value is zero on this input */
} MirChannelStats;

/* Normalises one channel (values at stride @stride) into bytes as @norm says;
 * @layer_mean/@layer_std are used by MIR_GRID_NORM_LAYER.  A constant channel
 * maps to 128 (seed formula) or 0 (min–max) instead of NaN. */
void      mir_grid_normalise_channel (const float *values, gsize n, gsize stride,
                                      MirGridNorm norm, double layer_mean, double layer_std,
                                      guint8 *out);

/* Grid of every channel of sample @batch of a 4-D activation (N×H×W×C).
 * @stats (optional) receives a new array of C channel statistics. */
MirImage *mir_activation_grid        (const MirTensor      *activation,
                                      gint64                batch,
                                      const MirGridOptions *options,
                                      MirChannelStats     **stats,
                                      GError              **error);

/* Statistics of every channel (C entries, g_free) of a 4-D (or 2-D) activation. */
MirChannelStats *mir_activation_stats (const MirTensor *activation, gint64 batch);

G_END_DECLS
