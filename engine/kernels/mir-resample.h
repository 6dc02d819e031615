/* mir-resample.h: half-pixel bilinear resampling, the one implementation
 * (tf.image.resize "bilinear" without antialias, PyTorch interpolate with
 * align_corners=False, cv2.resize INTER_LINEAR): output coordinate o of an
 * axis of @src values -> @dst values reads source s = (o + 0.5) * src / dst
 * - 0.5, between floor(s) and ceil(s), both clamped to the edges, weight
 * s - floor(s) on the upper one.  Computed in float as TensorFlow does
 * (compute_interpolation_weights in resize_bilinear_op.cc).
 *
 * Used by image resizing (mir-image.c), the Resizing and UpSampling2D
 * layers, explanation maps (mir-explain.c) and colour overlays (mir-colormap.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 lo, hi; /* source indices, 0 <= lo <= hi < src */
  float frac;    /* weight of hi */
} MirResampleTap;

/* The taps of every output along one axis; g_free() them. */
MirResampleTap *mir_resample_taps (gint64 src, gint64 dst);

/* dst [dh][dw][c] = the bilinear resampling of src [sh][sw][c] (rows
 * contiguous, channels fastest). */
void mir_resample_bilinear (const float *src, gint64 sh, gint64 sw, gint64 c,
                            float *dst, gint64 dh, gint64 dw);

/* Its transpose, for backward: grad_src [sh][sw][c] += resample^T (grad_dst [dh][dw][c]). */
void mir_resample_bilinear_backward (float *grad_src, gint64 sh, gint64 sw, gint64 c,
                                     const float *grad_dst, gint64 dh, gint64 dw);

G_END_DECLS
