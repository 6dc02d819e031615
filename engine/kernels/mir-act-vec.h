/* mir-act-vec.h: vectorised, threaded elementwise activations (sigmoid,
 * swish; ReLU and ReLU6 for the GEMM epilogues) for mir_activation_forward
 * and the convolution epilogues. */
#pragma once

#include <glib.h>

#include "mir-activations.h"

G_BEGIN_DECLS

/* Whether mir_act_vec_forward() computes @act. */
gboolean mir_act_vec_supported (MirActivation act);

/* y = act(x) over n values on this thread (x and y may alias).  Every value
 * goes through the same vector code, tail included, so a value does not
 * depend on where it sits in the array. */
void     mir_act_vec_forward   (MirActivation act, const float *x, float *y, gsize n);

/* The same split across the kernel threads for large n. */
void     mir_act_vec_forward_parallel (MirActivation act, const float *x, float *y, gsize n);

/* dx = dy where y = relu(z) (or relu6 with @six) passes a gradient, else 0,
 * vectorised and split across the kernel threads (dx may be dy). */
void     mir_act_vec_relu_backward (gboolean six, const float *y, const float *dy, float *dx,
                                    gsize n);

G_END_DECLS
