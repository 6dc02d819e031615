/* mir-winograd.h: 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3).
 *
 * Each 2x2 output tile is computed from a 4x4 input tile with 16 products
 * per (input, output) channel pair instead of 36: the input tiles and the
 * kernel are transformed (V = B^T d B, U = G g G^T), the 16 positions become
 * 16 independent GEMMs [tiles x C] x [C x F] through OpenBLAS, and the output
 * transform (A^T M A) adds the bias and applies the activation on the way.
 * F(2x2, 3x3) keeps the float32 error at the level of the direct sum (its
 * transforms only use 0, +-1 and +-1/2). */
#pragma once

#include "mir-activations.h"
#include "mir-conv-util.h"

G_BEGIN_DECLS

/* TRUE if @g (with @filters outputs) is a shape Winograd handles and wins on. */
gboolean mir_winograd_applies (const MirConvGeom *g, gint64 filters);

/* Floats of the transformed kernel: 16 * c * f. */
gsize    mir_winograd_kernel_size (gint64 c, gint64 f);
/* U[16][c][f] from a Keras HWIO kernel [3, 3, c, f]. */
void     mir_winograd_pack_kernel (const float *k, gint64 c, gint64 f, float *u);

/* z = conv(x) + bias, then @act (LINEAR for none; softmax not allowed),
 * for the whole NHWC batch in @x; @u from mir_winograd_pack_kernel(). */
gboolean mir_winograd_conv (const MirConvGeom *g, const float *x, const float *u, gint64 f,
                            const float *bias, MirActivation act, float *z, GError **error);

G_END_DECLS
