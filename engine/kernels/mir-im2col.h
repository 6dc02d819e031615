/* mir-im2col.h: lowering a convolution to a matrix product.
 *
 * For one NHWC image, row (oy * ow + ox) of the column matrix holds the
 * receptive field of output pixel (oy, ox) in (ky, kx, c) order, zeros where
 * it falls in the padding, so that with a Keras HWIO kernel seen as a
 * [kh * kw * c, filters] matrix, out = col x kernel. */
#pragma once

#include "mir-conv-util.h"

G_BEGIN_DECLS

/* Columns of output rows [oy0, oy1) of image @x (h * w * c floats) into @col
 * ((oy1 - oy0) * ow rows of kh * kw * c floats). */
void mir_im2col (const MirConvGeom *g, const float *x, gint64 oy0, gint64 oy1, float *col);

/* The adjoint: adds the columns of output rows [oy0, oy1) back into @dx. */
void mir_col2im (const MirConvGeom *g, const float *col, gint64 oy0, gint64 oy1, float *dx);

G_END_DECLS
