/* mir-conv-direct.h: direct convolution for few input channels (or a
 * small kh * kw * c).
 *
 * For a first layer over RGB (c <= 4) im2col + GEMM is a thin product
 * (k = 27) that OpenBLAS runs far from its peak; this kernel instead keeps
 * the whole kernel in L1, vectorises over the output filters (blocks of up
 * to 4 vectors, several output pixels at once in registers), adds the bias
 * and applies ReLU/ReLU6 in registers and writes each output once.
 * Threaded over output rows (mir-parallel.h); AVX-512 with 16-float
 * vectors, AVX2+FMA with 8, or portable vector code, whichever the CPU
 * has (each output is the same sum in the same order in all three). */
#pragma once

#include "mir-activations.h"
#include "mir-conv-util.h"

G_BEGIN_DECLS

/* Input channels up to which the direct kernel is used, whatever the
 * kernel size; and products (kh * kw * c) up to which it is used anyway
 * (MobileNetV2's 1x1 convolutions over 8 or 16 channels: 3.5x faster than
 * the thin GEMM, measured). */
#define MIR_CONV_DIRECT_MAX_C 4
#define MIR_CONV_DIRECT_MAX_K 16
/* Filters up to which a 1x1 convolution takes the direct kernel whatever
 * its channels (MobileNetV2's projections to 8 or 16 channels: one or two
 * vectors of filters, where the GEMM's 32-filter panels are mostly zeros;
 * 0.95x the time on one thread, interleaved pairs). */
#define MIR_CONV_DIRECT_MAX_F1 16

/* TRUE if the direct kernel handles @g (any kernel size, strides, dilation,
 * padding; c <= MIR_CONV_DIRECT_MAX_C or kh * kw * c <= MIR_CONV_DIRECT_MAX_K, or a 1x1
 * kernel of at most MIR_CONV_DIRECT_MAX_F1 filters). */
gboolean mir_conv_direct_applies (const MirConvGeom *g, gint64 filters);

/* z = act (conv (x, k) + bias) for the NHWC batch @x; @k is Keras' HWIO
 * kernel [kh, kw, c, f]; @bias may be NULL; @act any (softmax over f). */
gboolean mir_conv_direct (const MirConvGeom *g, const float *x, const float *k, gint64 f,
                          const float *bias, MirActivation act, float *z, GError **error);

/* y = max_pool (act (conv (x, k) + bias)) without the conv output ever
 * leaving the cache: each thread computes the conv rows one pooled row's
 * windows cover and pools them at once.  @pool is the max pooling's
 * geometry over the conv output (n, oh, ow, f); @act LINEAR, RELU or RELU6
 * (monotone, so pooling after it equals pooling before).  Equal, bit for
 * bit, to mir_conv_direct() then mir_max_pool_forward(). */
gboolean mir_conv_direct_max_pool (const MirConvGeom *g, const float *x, const float *k,
                                   gint64 f, const float *bias, MirActivation act,
                                   const MirConvGeom *pool, float *y, GError **error);

G_END_DECLS
