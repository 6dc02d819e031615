/* mir-winograd.h: 3x3 stride-1 convolutions by Winograd's F(4x4, 3x3).
 *
 * Each 4x4 output tile is computed from a 6x6 input tile with 36 products
 * per (input, output) channel pair instead of 144 (Lavin & Gray, points 0,
 * +-1, +-2, inf): the input tiles and the kernel are transformed
 * (V = B^T d B, U = G g G^T, U once per kernel, in double), the 36 positions
 * become 36 independent GEMMs [tiles x C] x [C x F], and the output
 * transform (A^T M A) adds the bias and applies ReLU/ReLU6 on the way.
 *
 * U is packed once per kernel in panels of 32 filters (the layer caches it),
 * so the 36 GEMMs run in a register-blocked micro-kernel (8 tiles x 32
 * filters on AVX-512, 64 channels at a time) with no packing per call.
 * Work is split into items (a block of tiles, and a slice of the filters when
 * there are few blocks); each thread takes items, transforms the tiles into
 * its own scratch buffer, runs the 36 products there and writes its outputs,
 * so the transformed data stays near the core.  Transforms and products are
 * vectorised over channels and filters (AVX-512, AVX2 or portable 8-float
 * vectors, chosen at run time).
 *
 * Float32 error: the transforms use coefficients up to 5 (input) and 8
 * (output), so the result is less exact than the direct sum: worst relative
 * error seen 1e-5 to 4e-5 of the output scale for 17 to 512 channels
 * (tests/test-kernels-fast.c), against 1e-6 for im2col; the products sum
 * 64 channels at a time from zero (one running sum over 512 channels doubled
 * the error). */
#pragma once

#include "mir-activations.h"
#include "mir-conv-util.h"

G_BEGIN_DECLS

/* TRUE if @g (with @filters outputs) is a shape Winograd handles and wins on. */
gboolean mir_winograd_applies (const MirConvGeom *g, gint64 filters);

/* Floats of the packed transformed kernel: 36 * c * f rounded up to 32 filters. */
gsize    mir_winograd_kernel_size (gint64 c, gint64 f);
/* U[36][f / 32][c][32] (zero past f) from a Keras HWIO kernel [3, 3, c, f]. */
void     mir_winograd_pack_kernel (const float *k, gint64 c, gint64 f, float *u);

/* z = conv(x) + bias, then @act (LINEAR for none; softmax not allowed),
 * for the whole NHWC batch in @x; @u from mir_winograd_pack_kernel(). */
gboolean mir_winograd_conv (const MirConvGeom *g, const float *x, const float *u, gint64 f,
                            const float *bias, MirActivation act, float *z, GError **error);

/* 1x1 stride-1 convolutions, [rows, c] x [c, f], on the same packed GEMM
 * micro-kernel: the kernel packed once (the layer caches it) in panels of
 * 32 filters, the pixels (A) read where they are.  OpenBLAS' sgemm packs A
 * again at every call (sgemm_itcopy: 7 % of EfficientNetB0 at batch 1) and
 * its blocking is made for large products; the 1x1 layers of depthwise
 * networks are many small ones.  Sums run 64 channels at a time from zero,
 * as in the Winograd GEMMs.  MIRADA_POINTWISE=0/1 forces the choice. */
gboolean mir_pointwise_applies      (gint64 rows, gint64 c, gint64 f);
gsize    mir_pointwise_kernel_size  (gint64 c, gint64 f);
/* U[f / 32][c][32] (zero past f) from a Keras kernel [1, 1, c, f], its
 * row ci times @scale[ci] when @scale is not NULL (a squeeze-and-excitation
 * scale folded into the kernel). */
void     mir_pointwise_pack_kernel  (const float *k, const float *scale, gint64 c, gint64 f,
                                     float *u);
/* z[rows][f] = x[rows][c] U + bias, then @act (softmax not allowed). */
gboolean mir_pointwise_conv         (const float *x, gint64 rows, gint64 c, const float *u,
                                     gint64 f, const float *bias, MirActivation act, float *z,
                                     GError **error);

G_END_DECLS
