/* mir-model-private.h: what the four parts of a model share, as ggml splits
 * its graph from its allocator:
 *
 *   mir-model.c           the graph: construction, topology, queries
 *   mir-model-plan.c      a run compiled once per (model, @until, flags,
 *                         input shapes) into steps (node, output, fusions,
 *                         arena slot), cached with its arena
 *   mir-model-run.c       the executor: the loop over a plan's steps, the trace
 *   mir-model-backward.c  backward over a trace
 *
 * Nothing outside engine/ includes it (tests may, to look at the plan cache). */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* A slot's offset for an output that gets a buffer of its own. */
#define MIR_PLAN_NONE G_MAXSIZE

/* Where a step's output goes: floats [offset, offset + size) of the arena. */
typedef struct
{
  gsize offset; /* MIR_PLAN_NONE: a buffer of its own */
  gsize size;
} MirPlanSlot;

/* One step: node @node runs and its output is node @out's (@out > @node when
 * a BatchNormalization [+ activation] is folded into it, or a MaxPooling2D
 * runs with it). */
typedef struct
{
  guint node;
  guint out;
  gint input;             /* an InputLayer: which model input it is fed, else -1 */
  MirLayer *fold_bn;      /* the BatchNormalization folded in (mir-fold.h), or NULL;
                           * the folded layer comes from the model's fold cache at
                           * run time, so it follows the weights' versions */
  MirActivation fold_act; /* the activation folded with it */
  MirLayer *pool;         /* the MaxPooling2D run with this convolution
                           * (layers/mir-layer-fuse.h), or NULL */
  gint scale_conv;        /* a Multiply that the 1x1 convolution node scale_conv
                           * takes as its kernel's input scale, if the run's shapes
                           * fit (MirRunArgs.in_scale), else -1 */
  /* An inverted-residual block run from this node (mir_block_run,
   * layers/mir-layer-fuse.h): its DepthwiseConv2D node (this node itself
   * when the block has no expansion), else -1; a ZeroPadding2D node before
   * that, or -1; the projecting 1x1 Conv2D node or -1; the depthwise (if not
   * this node) and the projection each with its folded BatchNormalization
   * and activation as @fold_bn, @fold_act; with @block_add the Add of the
   * block's input after them. */
  gint block_dw, block_pad, block_pw;
  gint block_gap;         /* a GlobalAveragePooling2D node reading the block's output,
                           * which the block sums as it writes it (MirBlock.gap_sums,
                           * MirRunArgs.in_sums), else -1 */
  MirLayer *dw_bn, *pw_bn;
  MirActivation dw_act, pw_act;
  gboolean block_add;
  MirPlanSlot slot;       /* where @out goes when the run has an arena */
} MirPlanStep;

/* Immutable once made, reference counted (g_atomic_rc_box): concurrent
 * runs share one. */
typedef struct
{
  /* what it was compiled for */
  gint until;
  MirRunFlags flags;
  guint n_nodes;
  MirShape *in_shapes;  /* per model input */
  /* what it says */
  guint last;           /* the last node run */
  gint target;          /* the node run with linear_output, or -1 */
  guint n_steps;
  MirPlanStep *steps;   /* in node order */
  guint *uses;          /* last + 1: how many steps read each output (+ 1 if
                         * it is asked for); the run counts them down */
  gsize total;          /* arena floats; 0: no arena (KEEP_ALL, NO_PLAN, or
                         * nothing could be planned) */
  MirTensor *spare;     /* atomic: the arena of a finished run, for the next */
} MirPlan;

typedef struct _MirPlanCache MirPlanCache;

MirPlanCache *mir_plan_cache_new  (void);
void          mir_plan_cache_free (MirPlanCache *cache);
/* How many plans the cache compiled since the model was made (tests). */
guint         mir_plan_cache_get_compiled (MirPlanCache *cache);

/* The plan for this run (@flags as mir_model_run normalised them; @inputs
 * checked), from the cache or compiled now.  Transfer full. */
MirPlan      *mir_plan_get        (MirModel         *self,
                                   gint              until,
                                   MirRunFlags       flags,
                                   MirTensor *const *inputs);
void          mir_plan_release    (MirPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirPlan, mir_plan_release)

/* Whether a Multiply's real inputs fit the fusion plan_scale_fusions planned
 * into @conv: which input is the image x [N,H,W,C] (*x_index) and which the
 * scale s (N x C values). */
gboolean      mir_plan_scale_inputs (MirTensor *const *in,
                                     MirLayer         *conv,
                                     guint            *x_index);

struct _MirTrace
{
  MirModel *model;
  MirRunFlags flags;
  guint64 seed;
  gint target;          /* the node run with linear_output, or -1 */
  guint n;
  MirTensor **values;   /* per node */
  gpointer *state;      /* per node, from forward for backward */
  double *times;
  gboolean *ran;        /* the node's own forward ran (not folded or fused away) */
  gsize planned_bytes;  /* size of the run's activation arena */
  MirTensor **grads;    /* per node, after backward */
  GHashTable *weight_grads; /* MirLayer* -> MirTensor*[MIR_MAX_WEIGHTS] */
};

/* The seed a node's stochastic layer gets in a run seeded @seed. */
static inline guint64
mir_node_seed (guint64 seed, guint node)
{
  return seed ^ ((guint64) (node + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
}

G_END_DECLS
