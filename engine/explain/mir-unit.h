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
  char *kind;          /* "conv", "depthwise", "dense", "max-pool", "average-pool" */
  gint64 kh, kw, cin;  /* the patch: rows, columns, input channels used */
  float *patch;        /* kh × kw × cin input values (0 where padding), or NULL for dense */
  float *kernel;       /* kh × kw × cin weights of this output channel (NULL for pooling) */
  gint64 n_terms;      /* products summed (pooling: cells looked at) */
  double sum;          /* Σ patch × kernel (pooling: the max or the mean) */
  double bias;         /* 0 when the layer has none */
  double pre;          /* sum + bias */
  double value;        /* after the layer's activation */
  double engine;       /* the engine's own output at the unit */
  char *activation;    /* the activation's name ("linear" when none) */
} MirUnitValue;

void     mir_unit_value_clear (MirUnitValue *v);

/* Recomputes unit (@y, @x, @c) of @node (Conv2D, DepthwiseConv2D, Dense,
 * MaxPooling2D, AveragePooling2D) for sample 0 of @trace (KEEP_ALL), in
 * double precision, and fills @out.  Other layer types: MIR_ERROR_UNSUPPORTED. */
gboolean mir_unit_compute     (MirTrace     *trace,
                               guint         node,
                               gint64        y,
                               gint64        x,
                               gint64        c,
                               MirUnitValue *out,
                               GError      **error);

G_END_DECLS
