/* mir-layer-fuse.h: layers run together as one step in inference runs.
 *
 * mir_model_run() uses these when a Conv2D (perhaps with a folded
 * BatchNormalization) feeds only a MaxPooling2D and the run keeps no
 * intermediate outputs: the convolution's output then never reaches
 * memory (a 28x28x32 batch of 119 windows is 12 MB written and read back
 * otherwise). */
#pragma once

#include "mir-layer.h"
#include "mir-conv-util.h"

G_BEGIN_DECLS

/* The pool window of a MaxPooling2D layer. */
const MirWindow *mir_max_pooling2d_window (MirLayer *pool);

/* TRUE if mir_conv2d_max_pool_run() takes @conv then @pool: @conv is a
 * Conv2D, @pool a MaxPooling2D. */
gboolean mir_conv2d_max_pool_applies (MirLayer *conv, MirLayer *pool);

/* The output of @pool applied to the output of @conv for the input @x
 * (a new tensor), or NULL with @error set.  Equal to running the two
 * layers one after the other; @args are the conv's. */
MirTensor *mir_conv2d_max_pool_run (MirLayer *conv, MirLayer *pool, MirTensor *x,
                                    const MirRunArgs *args, GError **error);

/* An inverted-residual block (MobileNetV2, EfficientNet; layers/mir-fuse-block.c)
 * run band by band, so that the expanded tensor never reaches memory: the
 * layers, each perhaps with a BatchNormalization folded in. */
typedef struct
{
  MirLayer *expand;   /* a 1x1 Conv2D or a stem over at most 4 channels
                       * (mir_conv2d_rows_applies), or NULL: the block starts at
                       * the depthwise */
  MirLayer *pad;      /* a ZeroPadding2D before the depthwise, or NULL */
  MirLayer *dw;       /* a DepthwiseConv2D, depth multiplier 1 */
  MirLayer *project;  /* a 1x1 Conv2D after it, or NULL */
  gboolean residual;  /* the block's input added at the end (an Add) */
  float **gap_sums;   /* or NULL: *@gap_sums set to each image's GlobalAveragePooling2D
                       * sums of the output (mir_gap_band_sums, mir_gap_chunks rows
                       * an image; free with mir_free_floats), made by the thread
                       * that wrote each band of rows as it finishes it (the rows
                       * still in its cache), the chunks across bands' edges
                       * after all of them; left NULL when out of memory */
} MirBlock;

/* TRUE if mir_block_run() takes @b (@b->residual aside). */
gboolean mir_block_applies (const MirBlock *b);

/* TRUE if an Add of the block's input and @b->project's output can be
 * taken in too (stride 1, "same" padding, no ZeroPadding2D, as many output
 * as input channels). */
gboolean mir_block_residual_applies (const MirBlock *b);

/* The block's output shape for the input shape @in. */
gboolean mir_block_infer (const MirBlock *b, const MirShape *in, MirShape *out, GError **error);

/* Writes into @out (of the shape mir_block_infer() gives) the output of the
 * layers applied in turn to @x (plus @x with @b->residual); equal, bit for
 * bit, to running them one by one. */
gboolean mir_block_run (const MirBlock *b, MirTensor *x, MirTensor *out, GError **error);

G_END_DECLS
