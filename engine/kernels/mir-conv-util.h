/* mir-conv-util.h: what the convolution, pooling and padding layers share:
 * Keras config parsing (window sizes, padding, data_format, activation),
 * TensorFlow's output-size and padding rules, and the activation epilogue
 * (forward, and the gradient through it for backward). */
#pragma once

#include <json-glib/json-glib.h>

#include "mir-layer.h"

G_BEGIN_DECLS

/* A 2-D sliding window: kernel or pool size, strides, dilation, padding. */
struct _MirWindow
{
  gint64 kh, kw;
  gint64 sh, sw;
  gint64 dh, dw;
  gboolean same; /* padding "same" (TF: extra pixel bottom/right), else "valid" */
  /* Pooling only (ONNX/PyTorch semantics), instead of same/valid: */
  gboolean explicit_pads; /* pads[] top, bottom, left, right; padded cells never win a max */
  gint64 pads[4];
  gboolean ceil_mode;     /* output size rounded up; the last window starts inside the input */
  gboolean count_pad;     /* average: the padded cells count in the divisor (count_include_pad) */
};

/* A window applied to one concrete NHWC input. */
typedef struct
{
  gint64 n, h, w, c;    /* input */
  gint64 kh, kw, sh, sw, dh, dw;
  gint64 oh, ow;        /* output */
  gint64 pad_top, pad_left;
  /* Average pooling: padding counted in the divisor (0 = only input cells count). */
  gint64 cnt_top, cnt_bottom, cnt_left, cnt_right;
} MirConvGeom;

/* Window of output pixel (oy, ox), clipped to the input: [y0, y1) x [x0, x1). */
static inline void
mir_conv_window_bounds (const MirConvGeom *g, gint64 oy, gint64 ox, gint64 *y0, gint64 *y1,
                        gint64 *x0, gint64 *x1)
{
  *y0 = oy * g->sh - g->pad_top;
  *x0 = ox * g->sw - g->pad_left;
  *y1 = MIN (*y0 + g->kh, g->h);
  *x1 = MIN (*x0 + g->kw, g->w);
  *y0 = MAX (*y0, 0);
  *x0 = MAX (*x0, 0);
}

/* Average pooling: the number of cells the mean of output (oy, ox) divides by. */
static inline float
mir_pool_divisor (const MirConvGeom *g, gint64 oy, gint64 ox)
{
  gint64 y0 = oy * g->sh - g->pad_top, x0 = ox * g->sw - g->pad_left;
  gint64 y1 = MIN (y0 + g->kh, g->h + g->cnt_bottom), x1 = MIN (x0 + g->kw, g->w + g->cnt_right);

  y0 = MAX (y0, -g->cnt_top);
  x0 = MAX (x0, -g->cnt_left);
  return (float) MAX ((y1 - y0) * (x1 - x0), 1);
}

/* Reads an int or a pair of ints >= 1 from @key (Keras "kernel_size": 3 or
 * [3, 3]).  @def may be NULL: then the key is required. */
gboolean mir_config_get_size_pair (JsonObject   *config,
                                   const char   *key,
                                   const gint64 *def,
                                   gint64       *out,
                                   GError      **error);
/* "padding": "valid" (default) or "same". */
gboolean mir_config_get_padding   (JsonObject *config, gboolean *same, GError **error);
/* "data_format": only "channels_last" (or absent) is accepted. */
gboolean mir_config_check_channels_last (JsonObject *config, GError **error);
/* Sets layer->activation from "activation" (absent = linear). */
gboolean mir_config_get_activation (MirLayer *layer, JsonObject *config, GError **error);
/* Reads ZeroPadding2D / Cropping2D amounts: an int, a pair (symmetric
 * height, width) or ((top, bottom), (left, right)); out = top, bottom, left, right. */
gboolean mir_config_get_pad4      (JsonObject *config, const char *key, gint64 def,
                                   gint64 *out, GError **error);

/* MaxPooling2D / AveragePooling2D: pool_size (default 2), strides (default
 * pool_size), padding, data_format.  Beyond Keras (the ONNX loader writes
 * them): "padding" as ((top, bottom), (left, right)), "ceil_mode" and
 * "count_include_pad" (booleans). */
gboolean mir_config_get_pool_window (JsonObject *config, MirWindow *win, GError **error);

/* Conv2D, DepthwiseConv2D, SeparableConv2D: kernel_size (required),
 * strides and dilation_rate (default 1), padding, data_format. */
gboolean mir_config_get_conv_window (JsonObject *config, MirWindow *win, GError **error);
/* infer() of a convolution: the output shape of @win over @in with @out_c
 * channels (-1: unknown), the input's channels split into @groups and, once
 * @layer is built, against its kernel's (dimension 2 of weight 0) times
 * @groups; the error calls the kernel a depthwise kernel when @depthwise. */
gboolean mir_conv_infer           (MirLayer *layer, const MirWindow *win, const MirShape *in,
                                   gint64 out_c, gint64 groups, gboolean depthwise,
                                   MirShape *out, GError **error);

/* TensorFlow's rule for one spatial axis.  @in may be -1 (then *out = -1).
 * Returns FALSE if the (dilated) window does not fit a "valid" input. */
gboolean mir_window_axis          (gint64 in, gint64 k, gint64 s, gint64 d, gboolean same,
                                   gint64 *out, gint64 *pad_before);
/* Output shape of a window over an NHWC shape, with @out_c channels; errors
 * (rank, window larger than the input) name both shapes. */
gboolean mir_window_infer         (const MirWindow *win, const MirShape *in, gint64 out_c,
                                   MirShape *out, GError **error);
/* The explicit-padding rule (ONNX, PyTorch) for one axis: pads @pb, @pe. */
gboolean mir_window_axis_explicit (gint64 in, gint64 k, gint64 s, gint64 d, gint64 pb,
                                   gint64 pe, gboolean ceil_mode, gint64 *out);
void     mir_conv_geom_init       (MirConvGeom *g, const MirWindow *win, const MirTensor *x);
/* The same for an NHWC input of that shape. */
void     mir_conv_geom_init_shape (MirConvGeom *g, const MirWindow *win, gint64 n, gint64 h,
                                   gint64 w, gint64 c);

/* The band of @g's input that its output rows [@y0, @y1) read: rows
 * [lo, lo + @band->h) of an image (lo returned), as an input of its own
 * whose output rows are those: @band is @g with n = 1 and that band's h, oh
 * and pad_top (taps outside the input stay padding). */
gint64   mir_conv_geom_band       (const MirConvGeom *g, gint64 y0, gint64 y1,
                                   MirConvGeom *band);

/* A buffer of at least @n floats kept per thread and per @key between calls
 * (grown as needed, freed with the thread), where @key is the caller's
 * `static GPrivate key = G_PRIVATE_INIT (mir_thread_scratch_free);`; NULL
 * with @error set if it cannot grow. */
float   *mir_thread_scratch       (GPrivate *key, gsize n, GError **error);
void     mir_thread_scratch_free  (gpointer data);

/* TRUE when the layer's activation must be applied in this call. */
gboolean mir_act_active           (MirLayer *layer, const MirRunArgs *args);
/* TRUE when a forward pass may use the inference kernels (activation fused,
 * nothing kept for backward): not training, and either no backward follows
 * or the activation's derivative comes from its output alone (linear, ReLU,
 * ReLU6: Grad-CAM and filter patterns run the fast kernels). */
gboolean mir_act_fast_forward_ok  (MirLayer *layer, const MirRunArgs *args);
/* Forward epilogue: out holds the pre-activation z; keeps a copy of z in
 * *args->state when backward will need it, then applies the activation in
 * place (softmax over the last axis of length @row). */
gboolean mir_act_forward          (MirLayer *layer, MirTensor *out, gsize row,
                                   const MirRunArgs *args, GError **error);

/* Recomputes the pre-activation of @layer for @in into @z (out->numel floats). */
typedef gboolean (*MirLinearFunc) (MirLayer *layer, MirTensor *const *in, const MirTensor *out,
                                   float *z, GError **error);

/* Backward through the activation: *dz_buf is set to a new buffer
 * (mir_free_floats) holding dL/dz, or to NULL when dL/dz is grad_out itself.
 * Uses the pre-activation kept in *args->state or recomputes it. */
gboolean mir_act_backward         (MirLayer *layer, MirTensor *const *in, const MirTensor *out,
                                   const MirTensor *grad_out, gsize row, const MirRunArgs *args,
                                   MirLinearFunc recompute, float **dz_buf, GError **error);

G_END_DECLS
