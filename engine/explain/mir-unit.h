/* One unit of a layer, explained (issue 19, the convolution explainer): its
 * receptive field on the model's input, and its value recomputed by hand
 * from the input patch, the kernel and the bias. */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* A rectangle of rows [y0, y1) and columns [x0, x1) in the model's input
 * pixels. */
typedef struct
{
  gint64 y0, x0, y1, x1;
} MirRect;

/* The receptive field of unit (@y, @x) of @node's output, through every
 * convolution, pooling and point-wise layer on the way back to the input:
 * @field is the input pixels that can change the unit (inside the image);
 * @padded is the same window before clipping, so the part of @padded outside
 * [0, H) × [0, W) is padding ("same" padding, or a window at the border).
 * Layers without a spatial rule (Flatten, Dense, global pooling, resizing)
 * see their whole input.  @trace must come from mir_model_run() with
 * MIR_RUN_KEEP_ALL up to (at least) @node: its tensors give the concrete
 * sizes. */
gboolean mir_unit_receptive_field (MirTrace *trace,
                                   guint     node,
                                   gint64    y,
                                   gint64    x,
                                   MirRect  *field,
                                   MirRect  *padded,
                                   GError  **error);

/* A unit's value recomputed from its inputs, step by step. */
typedef struct
{
  char *kind;          /* "conv", "depthwise", "separable", "dense", "max-pool", "average-pool" */
  gint64 kh, kw, cin;  /* the patch: rows, columns, input channels used */
  float *patch;        /* kh × kw × cin input values (0 where padding), or NULL for dense */
  float *kernel;       /* kh × kw × cin weights of this output channel (NULL for pooling);
                        * separable: the effective kernel, Σ_m depthwise[.., m] ×
                        * pointwise[m, c], so that the sum is still patch × kernel */
  gint64 n_terms;      /* products summed (pooling: cells looked at) */
  double sum;          /* Σ patch × kernel (pooling: the max or the mean) */
  double bias;         /* 0 when the layer has none */
  double pre;          /* sum + bias */
  double value;        /* after the layer's activation */
  double engine;       /* the engine's own output at the unit */
  char *activation;    /* the activation's name ("linear" when none) */
} MirUnitValue;

void     mir_unit_value_clear (MirUnitValue *v);

/* Recomputes unit (@y, @x, @c) of @node (Conv2D, DepthwiseConv2D,
 * SeparableConv2D, Dense, MaxPooling2D, AveragePooling2D) for sample 0 of @trace (KEEP_ALL), in
 * double precision, and fills @out.  Other layer types: MIR_ERROR_UNSUPPORTED. */
gboolean mir_unit_compute     (MirTrace     *trace,
                               guint         node,
                               gint64        y,
                               gint64        x,
                               gint64        c,
                               MirUnitValue *out,
                               GError      **error);

/* What "same" and "valid" padding make of a sliding-window layer (Conv2D,
 * DepthwiseConv2D, SeparableConv2D, pooling) over an @in_h × @in_w map, by
 * TensorFlow's rules: "same" gives ceil(in / s) positions and pads
 * max((out − 1)·s + eff − in, 0) zeros, the odd one at the bottom/right;
 * "valid" gives floor((in − eff) / s) + 1 positions (0 when the window, eff =
 * (k − 1)·d + 1 wide, does not fit) and no padding. */
typedef struct
{
  gint64 in_h, in_w;          /* the layer's input map */
  gint64 kh, kw, sh, sw, dh, dw;
  gint64 same_h, same_w;      /* output size with "same" */
  gint64 valid_h, valid_w;    /* output size with "valid" */
  gint64 pad_top, pad_bottom, pad_left, pad_right; /* the zeros "same" adds */
  MirRect valid_cover;        /* the input rows/columns the "valid" windows read */
  MirRect valid_units;        /* the positions of the layer's own map whose window
                               * lies inside the input (no padding read) */
  gint64 out_h, out_w;        /* the layer's own output */
  const char *model;          /* what the layer uses: "same", "valid" or "explicit" */
} MirPaddingSizes;

/* A pure function of the window (its kernel, strides, dilation, padding)
 * and the input size. */
void     mir_window_padding_sizes (const MirWindow *win,
                                   gint64           in_h,
                                   gint64           in_w,
                                   MirPaddingSizes *out);

/* The same for layer @node of @trace (KEEP_ALL), and on the model's input:
 * @valid_field, the pixels the layer's "valid" windows see (clipped), and
 * @same_reach, what its "same"-padded input reaches (unclipped: the part
 * outside the image is padding).  Either may be NULL.  A layer that slides
 * no window: MIR_ERROR_UNSUPPORTED. */
gboolean mir_unit_padding         (MirTrace        *trace,
                                   guint            node,
                                   MirPaddingSizes *out,
                                   MirRect         *valid_field,
                                   MirRect         *same_reach,
                                   GError         **error);

G_END_DECLS
