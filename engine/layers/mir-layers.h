/* mir-layers.h: the layer classes, one per file in this folder.
 * The registry (mir-layer-registry.c) maps Keras class names to them. */
#pragma once

#include "mir-layer.h"

G_BEGIN_DECLS

extern const MirLayerClass mir_layer_input_class;
extern const MirLayerClass mir_layer_conv2d_class;
extern const MirLayerClass mir_layer_depthwise_conv2d_class;
extern const MirLayerClass mir_layer_separable_conv2d_class;
extern const MirLayerClass mir_layer_dense_class;
extern const MirLayerClass mir_layer_max_pooling2d_class;
extern const MirLayerClass mir_layer_average_pooling2d_class;
extern const MirLayerClass mir_layer_global_average_pooling2d_class;
extern const MirLayerClass mir_layer_global_max_pooling2d_class;
extern const MirLayerClass mir_layer_batch_normalization_class;
extern const MirLayerClass mir_layer_zero_padding2d_class;
extern const MirLayerClass mir_layer_cropping2d_class;
extern const MirLayerClass mir_layer_upsampling2d_class;

extern const MirLayerClass mir_layer_activation_class;
extern const MirLayerClass mir_layer_relu_class;
extern const MirLayerClass mir_layer_leaky_relu_class;
extern const MirLayerClass mir_layer_softmax_class;
extern const MirLayerClass mir_layer_add_class;
extern const MirLayerClass mir_layer_subtract_class;
extern const MirLayerClass mir_layer_multiply_class;
extern const MirLayerClass mir_layer_average_class;
extern const MirLayerClass mir_layer_maximum_class;
extern const MirLayerClass mir_layer_minimum_class;
extern const MirLayerClass mir_layer_concatenate_class;
extern const MirLayerClass mir_layer_flatten_class;
extern const MirLayerClass mir_layer_reshape_class;
extern const MirLayerClass mir_layer_permute_class;
extern const MirLayerClass mir_layer_slice_class;
extern const MirLayerClass mir_layer_layer_norm_class;
extern const MirLayerClass mir_layer_hard_sigmoid_class;
extern const MirLayerClass mir_layer_hard_swish_class;
extern const MirLayerClass mir_layer_dropout_class;
extern const MirLayerClass mir_layer_spatial_dropout2d_class;
extern const MirLayerClass mir_layer_gaussian_noise_class;
extern const MirLayerClass mir_layer_gaussian_dropout_class;
extern const MirLayerClass mir_layer_rescaling_class;
extern const MirLayerClass mir_layer_normalization_class;
extern const MirLayerClass mir_layer_resizing_class;
extern const MirLayerClass mir_layer_center_crop_class;
extern const MirLayerClass mir_layer_random_flip_class;
extern const MirLayerClass mir_layer_random_rotation_class;
extern const MirLayerClass mir_layer_random_zoom_class;
extern const MirLayerClass mir_layer_random_translation_class;
extern const MirLayerClass mir_layer_random_contrast_class;
/* How many classes are declared above: class_list[] in mir-layer.c must
 * hold each one (a static check there, as ggml's GGML_OP_COUNT). */
#define MIR_LAYER_N_CLASSES 44

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

G_END_DECLS
