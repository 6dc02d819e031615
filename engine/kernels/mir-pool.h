/* mir-pool.h: 2-D max and average pooling forward over NHWC batches,
 * vectorised over channels (AVX2 clone or portable vector code) and
 * threaded over output rows (mir-parallel.h).  TensorFlow semantics: padded
 * cells never win a max and do not count in an average. */
#pragma once

#include "mir-conv-util.h"

G_BEGIN_DECLS

void mir_max_pool_forward (const MirConvGeom *g, const float *x, float *y);
void mir_avg_pool_forward (const MirConvGeom *g, const float *x, float *y);

G_END_DECLS
