/* mir-layers.h: the layer classes, one per file in this folder.
 * engine/mir-layer.c maps Keras class names to them (class_list, aliases). */
#pragma once

#include "mir-layer.h"

G_BEGIN_DECLS

/* The classes, from layers/mir-layer-list.h (one line per class). */
#define MIR_LAYER_CLASS(name) extern const MirLayerClass mir_layer_##name##_class;
#include "mir-layer-list.h"
#undef MIR_LAYER_CLASS

/* How many there are, counted from the same list. */
enum
{
#define MIR_LAYER_CLASS(name) MIR_LAYER_INDEX_##name,
#include "mir-layer-list.h"
#undef MIR_LAYER_CLASS
  MIR_LAYER_N_CLASSES
};



G_END_DECLS

G_BEGIN_DECLS
/* InputLayer instances are made by mir_model_add_input() with their shape. */
MirLayer *mir_layer_input_new (const char *name, const MirShape *shape, GError **error);
/* BatchNormalization at inference as y = x * a + b per channel (a, b of
 * the layer's channel count), for folding it into a convolution. */
void mir_batch_norm_inference_affine (MirLayer *bn, double *a, double *b);
/* TRUE if @conv (a Conv2D) can take its input times a per-image, per-channel
 * scale (MirRunArgs.in_scale) for images of @pixels pixels, and that costs
 * less than the Multiply pass it replaces: a 1x1 stride-1 kernel, whose
 * scaled copy (channels x filters per image) is smaller than the image. */
gboolean mir_conv2d_input_scale_pays (MirLayer *conv, gint64 pixels);
/* GlobalAveragePooling2D's sums of one image of @hw pixels of @c channels
 * at @x, what its forward sums before it averages them (MirRunArgs.in_sums),
 * bit for bit: mir_gap_chunks (@hw) rows of @c floats an image.
 * mir_gap_band_sums() fills the rows of the chunks wholly inside pixels
 * [@p0, @p1) (the rest of @sums untouched): a band of rows written by one
 * thread, or with 0 and @hw the whole image.  mir_gap_edge_sums() fills
 * the row of the chunk across the edge between pixels @edge - 1 and @edge,
 * if one crosses it, once both bands are written. */
gsize    mir_gap_chunks     (gsize hw);
void     mir_gap_band_sums  (const float *x, gsize hw, gsize c, gsize p0, gsize p1,
                             float *sums);
void     mir_gap_edge_sums  (const float *x, gsize hw, gsize c, gsize edge, float *sums);
/* A ZeroPadding2D's padding: top, bottom, left, right. */
void mir_zero_padding2d_pads (MirLayer *layer, gint64 pads[4]);
/* TRUE if @conv is a built Conv2D with a 1x1 stride-1 kernel and one group. */
gboolean mir_conv2d_is_pointwise (MirLayer *conv);
/* Inference of such a convolution over @rows pixels of @x (its input
 * channels each), into @z: the kernels conv2d's forward picks, its own
 * activation applied. */
gboolean mir_conv2d_pointwise_rows (MirLayer *conv, const float *x, gint64 rows, float *z,
                                    GError **error);
/* TRUE if mir_conv2d_rows() takes @conv: a pointwise convolution as above,
 * or one over at most MIR_CONV_DIRECT_MAX_C channels (a network's stem over
 * RGB, on the direct kernel) with "same" or "valid" padding. */
gboolean mir_conv2d_rows_applies (MirLayer *conv);
/* Inference of such a convolution over one image @x (@h x @w, its input
 * channels): output rows [@y0, @y1) into @z (the rows one after the other),
 * its own activation applied. */
gboolean mir_conv2d_rows (MirLayer *conv, const float *x, gint64 h, gint64 w, gint64 y0,
                          gint64 y1, float *z, GError **error);

/* TRUE if @conv is a built Conv2D with one group: mir_conv2d_one_filter()
 * takes it. */
gboolean mir_conv2d_one_filter_applies (MirLayer *conv);
/* One filter an image (the values before the activation): z[n][oy][ox][0]
 * = bias[f_n] + the taps of filter @filters[n] over image n of @x, for
 * @x->shape[0] images.  A filter pattern's objective needs only its filter
 * of the layer it looks at: 1/filters of the layer's multiply-adds,
 * forward and back.  Transfer full. */
MirTensor *mir_conv2d_one_filter (MirLayer *conv, const MirTensor *x, const gint *filters,
                                  GError **error);
/* Its adjoint: @dx (the shape of @x, overwritten) = d/dx of sum(@dz · z). */
gboolean mir_conv2d_one_filter_backward (MirLayer *conv, const MirTensor *x, const gint *filters,
                                         const float *dz, MirTensor *dx, GError **error);

G_END_DECLS
