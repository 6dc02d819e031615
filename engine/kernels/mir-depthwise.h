/* mir-depthwise.h: direct depthwise convolution over NHWC batches.
 *
 * Kernel [kh, kw, c, mult] (Keras' depthwise_kernel); output channel
 * c * mult + m is input channel c convolved with kernel[.., .., c, m].
 * The inner loops run over contiguous channels. */
#pragma once

#include "mir-activations.h"
#include "mir-conv-util.h"

G_BEGIN_DECLS

/* y[n, oh, ow, c * mult] = depthwise(x) + bias (bias may be NULL). */
void mir_depthwise_forward  (const MirConvGeom *g, gint64 mult, const float *x, const float *k,
                             const float *bias, float *y);

/* Inference for depth_multiplier 1: y = act (depthwise (x) + bias), @act
 * any (ReLU and ReLU6 in registers, others afterwards); vectorised over
 * channels, threaded over output rows. */
void mir_depthwise_forward_fast (const MirConvGeom *g, const float *x, const float *k,
                                 const float *bias, MirActivation act, float *y);

/* Given dy, overwrites dx (may be NULL) and dk (may be NULL). */
void mir_depthwise_backward (const MirConvGeom *g, gint64 mult, const float *x, const float *k,
                             const float *dy, float *dx, float *dk);

G_END_DECLS
