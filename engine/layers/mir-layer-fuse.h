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

G_END_DECLS
