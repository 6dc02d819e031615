/* mir-model.h: a model is a DAG of nodes in topological order.
 *
 * Node i applies a (possibly shared) MirLayer to the outputs of earlier nodes.
 * Input nodes hold an InputLayer and are fed.  Nested Keras models are
 * flattened at load time; their nodes remember the nested model's name in
 * @group.  A loaded model is immutable (except by the trainer, which owns its
 * model) and reference counted, so the UI and a worker can each hold one.
 */
#pragma once

#include <gio/gio.h>

#include "mir-layer.h"

G_BEGIN_DECLS

typedef struct
{
  char *name;         /* unique in the model; = layer name unless shared */
  MirLayer *layer;    /* reference */
  guint n_inputs;
  guint *inputs;      /* indices of earlier nodes */
  MirShape shape;     /* output shape, dim[0] = -1 (batch) */
  char *group;        /* nested model path ("sequential_1/model_1") or NULL */
} MirNode;

typedef enum
{
  MIR_PREPROCESS_NONE,  /* raw 0..255 */
  MIR_PREPROCESS_SCALE, /* x / 255 */
  MIR_PREPROCESS_TF,    /* x / 127.5 - 1 */
  MIR_PREPROCESS_CAFFE, /* RGB -> BGR, minus ImageNet mean (103.939, 116.779, 123.68) */
  MIR_PREPROCESS_TORCH, /* x / 255, minus mean (0.485, 0.456, 0.406), / std (0.229, 0.224, 0.225) */
} MirPreprocessMode;

typedef enum
{
  MIR_RESIZE_NEAREST,   /* Keras load_img default */
  MIR_RESIZE_BILINEAR,
} MirResizeMode;

typedef enum
{
  MIR_HEAD_UNKNOWN,
  MIR_HEAD_SOFTMAX,     /* probabilities over classes */
  MIR_HEAD_SIGMOID,     /* one or more independent probabilities */
  MIR_HEAD_LINEAR,      /* logits or regression values */
} MirHeadKind;

/* Where meta.preprocess came from.  Only UNKNOWN means nobody said: the
 * default ('none', raw 0..255) is an assumption the user should hear about. */
typedef enum
{
  MIR_PREPROCESS_FROM_UNKNOWN, /* nothing said it: the default is assumed */
  MIR_PREPROCESS_FROM_LAYERS,  /* the model scales its own input (Rescaling or
                                * Normalization before any weighted layer): 'none' */
  MIR_PREPROCESS_FROM_FORMAT,  /* the format's metadata or convention (TF.js Teachable
                                * Machine metadata, a PyTorch ONNX export, a built-in
                                * Keras application) */
  MIR_PREPROCESS_FROM_LABELS,  /* a Teachable Machine labels file beside the model: 'tf' */
  MIR_PREPROCESS_FROM_SIDECAR, /* the "preprocess" member of a .mirada.json sidecar */
  MIR_PREPROCESS_FROM_USER,    /* an override (--preprocess, a choice not saved) */
} MirPreprocessOrigin;

/* What the model file does not store: how to feed it and what its outputs mean. */
typedef struct
{
  MirPreprocessMode preprocess;
  MirPreprocessOrigin preprocess_from;
  MirResizeMode resize;
  char **class_names; /* NULL-terminated, or NULL */
  char *source;       /* where the metadata came from (sidecar path), or NULL */
  char *embedding_layer; /* the node whose output the detector keeps as each window's
                          * embedding (examples, issue 18), or NULL: the head's input */
} MirModelMeta;

typedef struct _MirModel MirModel;

struct _MirModel
{
  gatomicrefcount ref_count;
  char *name;
  char *format;        /* "Keras 2 HDF5", "Keras 3 .keras", ... */
  char *keras_version; /* or NULL */
  char *backend;       /* or NULL */
  GPtrArray *nodes;    /* MirNode*, topological order */
  GArray *inputs;      /* guint node indices */
  GArray *outputs;     /* guint node indices */
  MirModelMeta meta;
  gboolean weights_initialised; /* TRUE if some weights were not in the file */
  /*< private >*/
  struct _MirFoldCache *fold_cache; /* BatchNormalization folded into convolutions (mir-fold.h) */
  struct _MirPlanCache *plan_cache; /* compiled runs and their arenas (mir-model-plan.c) */
  GHashTable *node_index;           /* node name -> index + 1 (mir_model_find_node) */
};

MirModel   *mir_model_new          (const char *name);
MirModel   *mir_model_ref          (MirModel *self);
void        mir_model_unref        (MirModel *self);

/* Building (loaders).  Returns the node index or -1 with @error set. */
gint        mir_model_add_input    (MirModel       *self,
                                    const char     *name,
                                    const MirShape *shape,
                                    GError        **error);
/* Builds @layer on the inputs' shapes on its first use; a shared layer must
 * see the same input shapes again.  Takes a reference on @layer. */
gint        mir_model_add_node     (MirModel     *self,
                                    const char   *name,
                                    MirLayer     *layer,
                                    const guint  *inputs,
                                    guint         n_inputs,
                                    const char   *group,
                                    GError      **error);
gboolean    mir_model_set_outputs  (MirModel    *self,
                                    const guint *outputs,
                                    guint        n_outputs,
                                    GError     **error);
/* After weights were loaded: initialise the missing ones (flags it) and check. */
gboolean    mir_model_finish       (MirModel  *self,
                                    gboolean   allow_missing_weights,
                                    guint32    seed,
                                    GError   **error);

guint       mir_model_get_n_nodes  (MirModel *self);
MirNode    *mir_model_get_node     (MirModel *self, guint index);
gint        mir_model_find_node    (MirModel *self, const char *name);
guint       mir_model_get_input    (MirModel *self, guint i);
guint       mir_model_get_output   (MirModel *self, guint i);
const MirShape *mir_model_get_input_shape  (MirModel *self, guint i);
const MirShape *mir_model_get_output_shape (MirModel *self, guint i);
gint64      mir_model_count_params (MirModel *self, gint64 *trainable);
/* Unique layers (shared layers once), in node order. */
GPtrArray  *mir_model_dup_layers   (MirModel *self);
/* Index of the last node whose layer has MIR_LAYER_FLAG_CONV and a 4-D output
 * (Keras' "last conv layer"), or -1. */
gint        mir_model_find_last_conv (MirModel *self);
/* What the final output means, from the last layers' activation. */
MirHeadKind mir_model_get_head_kind (MirModel *self);

/* Classes (mir-model-classes.c, the one place they are named).  A single
 * sigmoid unit P is two classes: 0 is 1 − P, 1 is P. */
gboolean    mir_model_is_binary_sigmoid (MirModel *self);
/* Classes the first output stands for (2 for a binary sigmoid unit). */
guint       mir_model_get_n_classes   (MirModel *self);
/* The name of class @i (from the labels, else "class <i>"); transfer full. */
char       *mir_model_dup_class_name  (MirModel *self, guint i);
/* Every class's name, NULL-terminated; transfer full. */
char      **mir_model_dup_class_names (MirModel *self);
/* Checks that @names (may be NULL), read from @source, fit the model: as
 * many names as classes, or 1 or 2 for a single output unit (binary). */
gboolean    mir_model_check_class_names (MirModel          *self,
                                         const char *const *names,
                                         const char        *source,
                                         GError           **error);

void        mir_model_meta_clear   (MirModelMeta *meta);
/* "unknown", "layers", "format", "labels", "sidecar" or "user". */
const char *mir_preprocess_origin_to_string (MirPreprocessOrigin origin);
/* Whether the model scales its own input: a Rescaling or Normalization node
 * reached from an input through weightless layers only. */
gboolean    mir_model_scales_own_input (MirModel *self);

/* ------------------------------------------------------------------ */
/* Running */

typedef enum
{
  MIR_RUN_DEFAULT = 0,
  MIR_RUN_KEEP_ALL = 1 << 0,     /* keep every node's output */
  MIR_RUN_FOR_BACKWARD = 1 << 1, /* keep what backward needs (implies KEEP_ALL) */
  MIR_RUN_TRAINING = 1 << 2,     /* dropout/noise on, BatchNormalization on batch statistics */
  MIR_RUN_LOGITS = 1 << 3,       /* the last node (@until or the first output) skips its
                                  * activation: scores before softmax/sigmoid */
  MIR_RUN_NO_PLAN = 1 << 4,      /* without KEEP_ALL: every output in its own buffer
                                  * instead of the shared activation arena (tests) */
  MIR_RUN_ANY_SIZE = 1 << 5,     /* the inputs' height and width may differ from the model's:
                                  * only for a prefix mir_model_prefix_any_size accepts; its
                                  * leading Resizing layers then pass the image through at
                                  * its own size (implies NO_PLAN) */
} MirRunFlags;

typedef struct _MirTrace MirTrace;

/* Runs up to @until (a node index, or -1 for the model's outputs).  Without
 * KEEP_ALL, outputs are freed as soon as their last consumer ran, and only
 * the outputs (or @until) remain readable; the others share one arena,
 * their memory reused once they are dead.  Checks @cancellable per node. */
MirTrace   *mir_model_run          (MirModel          *self,
                                    MirTensor *const  *inputs,
                                    guint              n_inputs,
                                    MirRunFlags        flags,
                                    gint               until,
                                    guint64            seed,
                                    GCancellable      *cancellable,
                                    GError           **error);
/* Whether the nodes @until needs work at any input height and width (a
 * fully convolutional prefix: convolutions, pooling, padding, element-wise
 * and inference-time identity layers), so that MIR_RUN_ANY_SIZE may run
 * them at another size.  A Resizing layer is allowed only among the
 * preprocessing layers right after the input (Rescaling, Normalization,
 * Resizing, augmentation), where that run skips it.  On FALSE, @error
 * names the first node that fixes the input size (Flatten, Dense, ...). */
gboolean    mir_model_prefix_any_size (MirModel  *self,
                                       gint       until,
                                       GError   **error);
/* Convenience: one input, first output, nothing kept.  Transfer full. */
MirTensor  *mir_model_predict      (MirModel      *self,
                                    MirTensor     *input,
                                    GCancellable  *cancellable,
                                    GError       **error);

MirModel   *mir_trace_get_model    (MirTrace *trace);
/* Borrowed; NULL if the node was not run or was freed. */
MirTensor  *mir_trace_get          (MirTrace *trace, guint node);
MirTensor  *mir_trace_get_output   (MirTrace *trace, guint i);
/* Bytes of the arena the run's outputs shared (0 when KEEP_ALL or NO_PLAN, or
 * nothing was planned); outputs that are asked for are not in it. */
gsize       mir_trace_get_planned_bytes (MirTrace *trace);
/* Per-node times of the last run, in seconds (for bench). */
double      mir_trace_get_time     (MirTrace *trace, guint node);
/* Whether the node's own layer ran (FALSE when it was not needed, or was
 * folded or fused into another node: BatchNormalization, Multiply). */
gboolean    mir_trace_node_ran     (MirTrace *trace, guint node);

typedef enum
{
  MIR_BACKWARD_DEFAULT = 0,
  MIR_BACKWARD_WEIGHTS = 1 << 0, /* also accumulate weight gradients */
  MIR_BACKWARD_GUIDED = 1 << 1,  /* guided backpropagation through ReLUs (explanations) */
} MirBackwardFlags;

/* Back-propagates @seed (dL/d(output of @from), same shape) through the
 * trace.  Only nodes between @stop (a node index, or -1 for the inputs) and
 * @from are visited unless WEIGHTS is set.  The trace must have been run with
 * MIR_RUN_FOR_BACKWARD. */
gboolean    mir_trace_backward     (MirTrace          *trace,
                                    guint              from,
                                    const MirTensor   *seed,
                                    gint               stop,
                                    MirBackwardFlags   flags,
                                    GCancellable      *cancellable,
                                    GError           **error);
/* dL/d(output of @node) after backward, borrowed, or NULL. */
MirTensor  *mir_trace_get_grad     (MirTrace *trace, guint node);
/* dL/d(weight @index of @layer), summed over every node using @layer; borrowed or NULL. */
MirTensor  *mir_trace_get_weight_grad (MirTrace *trace, MirLayer *layer, guint index);
void        mir_trace_free         (MirTrace *trace);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirModel, mir_model_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirTrace, mir_trace_free)

G_END_DECLS
