/* mir-pool.h: 2-D max and average pooling forward over NHWC batches,
 * vectorised over channels (AVX2 clone or portable vector code) and
 * threaded over output rows (mir-parallel.h).  TensorFlow semantics: padded
 * cells never win a max and do not count in an average. */
#pragma once

#include "mir-conv-util.h"
#include "mir-parallel.h"

G_BEGIN_DECLS

void mir_max_pool_forward (const MirConvGeom *g, const float *x, float *y);
void mir_avg_pool_forward (const MirConvGeom *g, const float *x, float *y);

/* One pooling: @g over the batch @x into @y. */
typedef struct
{
  const MirConvGeom *g;
  const float *x;
  float *y;
} MirPoolJob;

/* The max pooling kernel for this CPU, chosen once by the caller: fn
 * (begin, end, MirPoolJob *) writes output rows [begin, end) (row r is
 * image r / oh, output row r % oh) in the calling thread. */
MirParallelFunc mir_max_pool_rows_func (void);

G_END_DECLS
