/* mir-layer.h: one layer type = one MirLayerClass (a vtable), one file under
 * engine/layers/ with its configuration parser, shape inference, forward and
 * backward side by side.
 *
 * A MirLayer is an instance: its configuration (parsed from a Keras-style JSON
 * config object, whatever the file format was) and its weights.  A layer can be
 * used by several graph nodes (Keras shared layers); its weights are then shared.
 * Subclasses embed MirLayer as their first member and set instance_size.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "mir-activations.h"
#include "mir-error.h"
#include "mir-tensor.h"

G_BEGIN_DECLS

#define MIR_MAX_WEIGHTS 8

/* A symbolic shape: dim[0] is the batch (-1 = any); other dims may also be -1
 * only for the input of models declared with free spatial size. */
typedef struct
{
  guint ndim;
  gint64 dim[MIR_MAX_DIMS];
} MirShape;

typedef enum
{
  MIR_INIT_ZEROS,
  MIR_INIT_ONES,
  MIR_INIT_GLOROT_UNIFORM, /* Keras' default for kernels */
  MIR_INIT_HE_NORMAL,
} MirInit;

typedef struct
{
  char *name;        /* Keras weight name: "kernel", "bias", "gamma", "moving_mean", ... */
  MirShape shape;    /* exact, no -1 */
  gboolean trainable;
  MirInit init;
  MirTensor *value;  /* NULL until loaded or initialised */
} MirWeight;

typedef enum
{
  MIR_LAYER_FLAG_NONE = 0,
  MIR_LAYER_FLAG_MULTI_INPUT = 1 << 0, /* Add, Concatenate, ... */
  MIR_LAYER_FLAG_INPUT = 1 << 1,       /* InputLayer: its value is fed */
  MIR_LAYER_FLAG_STOCHASTIC = 1 << 2,  /* differs in training mode (Dropout, GaussianNoise) */
  MIR_LAYER_FLAG_CONV = 1 << 3,        /* a convolutional feature map producer (Grad-CAM picks these) */
  MIR_LAYER_FLAG_WRITES_ALL = 1 << 4,  /* forward() writes every element of its output, so
                                        * the graph need not zero it first */
  MIR_LAYER_FLAG_POINTWISE = 1 << 5,   /* same shape out as in, each position computed from
                                        * the same position only (activations, BN, Rescaling):
                                        * the detector computes it once over the whole image */
  MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE = 1 << 6, /* passes its input through unless training
                                        * (Dropout, GaussianNoise): heads and CAM look through it */
  MIR_LAYER_FLAG_POOLING = 1 << 7,     /* spatial pooling (Max/AveragePooling2D): keeps a conv
                                        * block's maps, so the block's last conv stays "last" */
  MIR_LAYER_FLAG_REARRANGES = 1 << 8,  /* the output holds the input's values in another order
                                        * (Permute, Reshape, Flatten): no new feature map, so
                                        * Grad-CAM's "last conv" rule looks through it */
} MirLayerFlags;

/* The sliding window of a convolution or pooling layer (kernels/mir-conv-util.h). */
typedef struct _MirWindow MirWindow;

/* Per-call arguments shared by forward and backward. */
typedef struct
{
  gboolean training;     /* Dropout/noise active, BatchNormalization uses batch statistics */
  gboolean for_backward; /* keep whatever backward needs in *state */
  guint64 seed;          /* for stochastic layers in training mode */
  gpointer *state;       /* per-node slot kept from forward to backward; the layer
                          * stores g_malloc'd data (freed with g_free) */
  gboolean linear_output; /* skip the layer's own activation (self->activation):
                           * the graph sets it on the last node to get logits */
  gboolean guided_relu;   /* backward only: ReLU-family activations also zero negative
                           * incoming gradients (guided backpropagation) */
  const float *in_scale;  /* forward, inference only: input 0 is to be multiplied by
                           * this [batch][channels] scale first (a squeeze-and-excitation
                           * Multiply fused in by mir_model_run; only layers for which
                           * mir_conv2d_input_scale_pays() said so get it) */
  const float *in_sums;   /* GlobalAveragePooling2D, inference only: its input's
                           * chunk sums (mir_gap_band_sums() over each image), made
                           * by the inverted-residual block before it while the
                           * rows were in the cache, or NULL */
} MirRunArgs;

typedef struct _MirLayer MirLayer;
typedef struct _MirLayerClass MirLayerClass;

struct _MirLayerClass
{
  const char *name;      /* Keras class_name, e.g. "Conv2D" */
  gsize instance_size;   /* sizeof the subclass struct */
  MirLayerFlags flags;

  /* Parse the Keras "config" object (may be NULL for defaults). */
  gboolean (*configure) (MirLayer *self, JsonObject *config, GError **error);

  /* Pure shape inference: the output shape for these input shapes (-1 stays
   * -1 where it propagates), or an error naming both shapes.  No side effects:
   * it is called again with concrete shapes at run time. */
  gboolean (*infer) (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error);

  /* Optional (NULL for weightless layers): declare the weights, in Keras
   * order, with mir_layer_add_weight().  Called once, for the first node
   * using the layer, after infer() succeeded on the same shapes. */
  gboolean (*build) (MirLayer *self, const MirShape *in, guint n_in, GError **error);

  /* Compute @out (allocated by the caller with the concrete output shape
   * from infer(), contiguous; zeroed unless the class has
   * MIR_LAYER_FLAG_WRITES_ALL, then uninitialised).  Inputs are contiguous. */
  gboolean (*forward) (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
                       const MirRunArgs *args, GError **error);

  /* Given dL/d(out), write dL/d(in[i]) into grad_in[i] (overwrite; NULL means
   * not needed) and dL/d(weight j) into grad_w[j] (overwrite; NULL means not
   * needed).  @out is the forward output, @args->state what forward kept. */
  gboolean (*backward) (MirLayer *self, MirTensor *const *in, guint n_in, const MirTensor *out,
                        const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                        const MirRunArgs *args, GError **error);

  /* Free subclass data (not the MirLayer itself). */
  void (*finalize) (MirLayer *self);

  /* Optional: FLOPs for one sample (multiply-adds counted as 2). */
  gint64 (*flops) (MirLayer *self, const MirShape *in, guint n_in, const MirShape *out);

  /* Optional: the layer's sliding window (kernel, strides, dilation,
   * padding), for layers the detector may compute once over the whole image
   * and cut into windows (translation-equivariant).  NULL: not shareable. */
  const MirWindow *(*window) (MirLayer *self);
};

struct _MirLayer
{
  const MirLayerClass *klass;
  gatomicrefcount ref_count;
  char *name;
  JsonObject *config;    /* the Keras config it was made from (reference), or NULL;
                          * the .h5 writer saves it back */
  gboolean built;
  gboolean trainable;
  MirShape in_shape;     /* first input shape seen at build */
  guint n_in;
  MirShape out_shape;
  /* The activation the layer applies last (its "activation" attribute;
   * SOFTMAX for Softmax layers, ...), LINEAR if none.  configure() sets it;
   * forward/backward skip it when args->linear_output. */
  MirActivation activation;
  guint n_weights;
  MirWeight weights[MIR_MAX_WEIGHTS];
};

/* The registry: Keras class name -> class.  Aliases (Convolution2D, ...) too. */
const MirLayerClass *mir_layer_class_lookup (const char *keras_class_name);
/* All registered classes, NULL-terminated. */
const MirLayerClass *const *mir_layer_class_list (void);

MirLayer *mir_layer_new         (const MirLayerClass *klass,
                                 const char          *name,
                                 JsonObject          *config,
                                 GError             **error);
/* Looks up @class_name; an unknown one gives MIR_ERROR_UNSUPPORTED naming
 * the layer and, for Lambda layers, why. */
MirLayer *mir_layer_new_by_name (const char  *class_name,
                                 const char  *name,
                                 JsonObject  *config,
                                 GError     **error);
MirLayer *mir_layer_ref         (MirLayer *self);
void      mir_layer_unref       (MirLayer *self);

gboolean  mir_layer_build       (MirLayer       *self,
                                 const MirShape *in,
                                 guint           n_in,
                                 MirShape       *out,
                                 GError        **error);

/* For build(): declare weight number self->n_weights in Keras order. */
MirWeight *mir_layer_add_weight (MirLayer     *self,
                                 const char   *name,
                                 guint         ndim,
                                 const gint64 *shape,
                                 gboolean      trainable,
                                 MirInit       init);

/* Checks the shape, takes a reference. */
gboolean  mir_layer_set_weight  (MirLayer  *self,
                                 guint      index,
                                 MirTensor *value,
                                 GError   **error);
MirTensor *mir_layer_get_weight (MirLayer *self, const char *name);
/* Initialise every weight that has no value yet, Keras-style, from @rng. */
gboolean  mir_layer_init_weights (MirLayer *self, GRand *rng, GError **error);
gint64    mir_layer_count_params (MirLayer *self, gint64 *trainable_out);

/* The concrete output shape for concrete input tensors (runs infer()). */
gboolean  mir_layer_output_shape (MirLayer          *self,
                                  MirTensor *const  *in,
                                  guint              n_in,
                                  guint             *ndim,
                                  gint64            *shape,
                                  GError           **error);

/* Helpers for configure(): typed reads of Keras config members with defaults.
 * They fail (FALSE + error) only when a member exists with the wrong type. */
gboolean  mir_config_get_int    (JsonObject *config, const char *key, gint64 def, gint64 *out, GError **error);
gboolean  mir_config_get_double (JsonObject *config, const char *key, double def, double *out, GError **error);
gboolean  mir_config_get_bool   (JsonObject *config, const char *key, gboolean def, gboolean *out, GError **error);
/* Returns a borrowed string or @def. */
const char *mir_config_get_string (JsonObject *config, const char *key, const char *def);
/* Reads an int or a list of @n ints (Keras "kernel_size": 3 or [3, 3]). */
gboolean  mir_config_get_int_tuple (JsonObject *config, const char *key, guint n,
                                    const gint64 *def, gint64 *out, GError **error);

char     *mir_shape_to_string   (const MirShape *shape);
/* For layers that normalise over the channel axis (BatchNormalization,
 * LayerNormalization): @in has rank 2 or more, @axis (as configured: -1 or
 * a positive index) is its last one, and that axis's size is known. */
gboolean  mir_layer_check_channel_axis (const MirShape *in, gint64 axis, GError **error);
gboolean  mir_shape_equal       (const MirShape *a, const MirShape *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirLayer, mir_layer_unref)

G_END_DECLS
