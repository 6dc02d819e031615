/* mir-activations.h: the elementwise activations Keras layers name in their
 * "activation" attribute, shared by Conv2D, Dense, Activation, ... */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  MIR_ACT_LINEAR,
  MIR_ACT_RELU,
  MIR_ACT_RELU6,
  MIR_ACT_SIGMOID,
  MIR_ACT_HARD_SIGMOID, /* Keras 2 / TF.js: clip(0.2 x + 0.5, 0, 1) */
  MIR_ACT_SOFTMAX,      /* over the last axis */
  MIR_ACT_TANH,
  MIR_ACT_ELU,
  MIR_ACT_SELU,
  MIR_ACT_SWISH,        /* also "silu" */
  MIR_ACT_GELU,         /* exact (erf) form, Keras' default */
  MIR_ACT_SOFTPLUS,
  MIR_ACT_SOFTSIGN,
  MIR_ACT_EXPONENTIAL,
  MIR_ACT_HARD_SWISH,   /* Keras 3 "hard_swish" / "hard_silu": x clip(x / 6 + 1/2, 0, 1) */
  MIR_ACT_HARD_SIGMOID_K3, /* Keras 3's "hard_sigmoid": clip(x / 6 + 1/2, 0, 1)
                            * (relu6(x + 3) / 6); a Keras 3 file's "hard_sigmoid"
                            * becomes this (mir_keras_model_set_version) */
  MIR_ACT_N
} MirActivation;

/* Parses a Keras activation name ("relu", "swish", ...).  An unknown name is a
 * MIR_ERROR_UNSUPPORTED naming @layer_name. */
gboolean    mir_activation_from_name (const char    *name,
                                      const char    *layer_name,
                                      MirActivation *out,
                                      GError       **error);
const char *mir_activation_get_name  (MirActivation act);

/* y = act(x) over n values; @row is the length of the last axis (softmax).
 * x and y may alias. */
void        mir_activation_forward   (MirActivation act,
                                      const float  *x,
                                      float        *y,
                                      gsize         n,
                                      gsize         row);

/* dx = dy * act'(x), given x (pre-activation, may be NULL when
 * !mir_activation_backward_needs_input()) and y = act(x).  dx may alias dy. */
void        mir_activation_backward  (MirActivation act,
                                      const float  *x,
                                      const float  *y,
                                      const float  *dy,
                                      float        *dx,
                                      gsize         n,
                                      gsize         row);

gboolean    mir_activation_backward_needs_input (MirActivation act);

/* Guided backpropagation: for ReLU and ReLU6 sets dx = 0 wherever dy < 0
 * (after mir_activation_backward); other activations are left alone. */
void        mir_activation_guide     (MirActivation act,
                                      const float  *dy,
                                      float        *dx,
                                      gsize         n);

G_END_DECLS
