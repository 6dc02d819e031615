/* mir-explain.h: explanation maps (Grad-CAM and family).  One method per
 * file, one signature:
 *
 *   MirExplanation *mir_explain_<method> (model, input, options, cancellable, error)
 *
 * @input is one preprocessed image (1×H×W×C).  The map has the spatial size
 * of the chosen layer; resizing and colouring are the caller's
 * (mir_colormap_overlay). */
#pragma once

#include <gio/gio.h>

#include "mir-model.h"

G_BEGIN_DECLS

/* The perturbation methods (Score-CAM, occlusion, SmoothGrad) report after
 * each engine batch: @done of @total images run.  From the calling thread. */
typedef void (*MirExplainProgressFunc) (guint done, guint total, gpointer user_data);

typedef struct
{
  gint class_index;    /* -1: the top prediction */
  gboolean complement; /* binary sigmoid model: explain 1 − P instead of P */
  gint layer;          /* node index; -1: the last convolutional layer */
  /* Method parameters; 0 means the method's default. */
  gint patch;          /* occlusion: patch side P (default input side / 8) */
  gint stride;         /* occlusion: patch stride S (default P / 2) */
  gint samples;        /* smoothgrad: noisy copies N (default 25) */
  double noise;        /* smoothgrad: σ as a fraction of max − min of the input (default 0.15) */
  guint32 seed;        /* smoothgrad, random: seed (default 1) */
  gint max_channels;   /* scorecam: masks from the channels with the largest spatial
                        * standard deviation only (Faster Score-CAM); 0: all (the paper) */
  MirExplainProgressFunc progress; /* or NULL */
  gpointer progress_data;
  struct _MirExplainReuse *reuse; /* or NULL: see mir_explain_reuse_new() */
} MirExplainOptions;

/* What one explanation leaves for the next of the same model, input, layer
 * and method parameters but another class: Score-CAM's masked inputs score
 * every class in one forward, so the maps of several classes cost the
 * forwards of one.  Make one for a loop over the classes of one model and
 * one input, set it as options->reuse in each call, free it after; a call
 * with another layer or parameters (or input: it is checked) starts over. */
typedef struct _MirExplainReuse MirExplainReuse;

MirExplainReuse *mir_explain_reuse_new  (void);
void             mir_explain_reuse_free (MirExplainReuse *reuse);

/* Images per engine batch for the perturbation methods (ScoreCAM,
 * SmoothGrad, occlusion, faithfulness). */
#define MIR_EXPLAIN_BATCH 32

#define MIR_EXPLAIN_OPTIONS_DEFAULT { -1, FALSE, -1 }

typedef struct
{
  char *method;
  char *layer_name;
  gint layer;
  gint class_index;
  gboolean complement;
  double score;        /* the explained score before the final activation */
  double probability;  /* the model's probability for that class */
  int width;
  int height;
  float *raw;          /* the signed map before ReLU/normalisation, width×height */
  float *map;          /* normalised to [0, 1] */
  char *notice;        /* non-NULL when the map is flat or all negative (map is 0) */
  double *weights;     /* CAM methods with one weight per channel: the weights, else NULL */
  int n_weights;
} MirExplanation;

void            mir_explanation_free    (MirExplanation *e);

/* Grad-CAM as the seeds compute it (Keras example): gradient of the class
 * score before softmax/sigmoid w.r.t. the layer's output A; weights =
 * mean over H, W; map = ReLU(Σ_k w_k A_k) / max. */
MirExplanation *mir_explain_gradcam     (MirModel                *model,
                                         MirTensor               *input,
                                         const MirExplainOptions *options,
                                         GCancellable            *cancellable,
                                         GError                 **error);

/* Seed 001's "saliency": mean over channels of the layer's activations,
 * max(s, 0) / max(s). */
MirExplanation *mir_explain_saliency    (MirModel                *model,
                                         MirTensor               *input,
                                         const MirExplainOptions *options,
                                         GCancellable            *cancellable,
                                         GError                 **error);

/* CAM (seed 003) for heads GlobalAveragePooling2D → Dense: map = Σ_k
 * w_{k,c} A_k from the Dense kernel, min–max normalised (cv2.NORM_MINMAX);
 * for GlobalAveragePooling2D heads with one channel per class, A_c.
 * The layer is always the pooling's input; options->layer is ignored. */
MirExplanation *mir_explain_cam         (MirModel                *model,
                                         MirTensor               *input,
                                         const MirExplainOptions *options,
                                         GCancellable            *cancellable,
                                         GError                 **error);

/* Grad-CAM++ (Chattopadhay et al. 2018) in its closed form for an
 * exponential score, as pytorch-grad-cam computes it: with g = dz/dA,
 * α = g² / (2 g² + Σ_ij A · g³) (0 where g = 0), w_k = Σ_ij α ReLU(g);
 * map = ReLU(Σ_k w_k A_k). */
MirExplanation *mir_explain_gradcam_plusplus (MirModel *model, MirTensor *input,
                                              const MirExplainOptions *options,
                                              GCancellable *cancellable, GError **error);
/* HiResCAM (Draelos & Carin): map = ReLU(Σ_k g_k ⊙ A_k). */
MirExplanation *mir_explain_hirescam    (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* XGrad-CAM (Fu et al.): w_k = Σ_ij g·A / Σ_ij A; map = ReLU(Σ_k w_k A_k). */
MirExplanation *mir_explain_xgradcam    (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* LayerCAM (Jiang et al.): map = ReLU(Σ_k ReLU(g_k) ⊙ A_k). */
MirExplanation *mir_explain_layercam    (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* Score-CAM (Wang et al.): each channel, upsampled to the input and min–max
 * normalised, masks the input; w = softmax over channels of the masked
 * inputs' class scores (before the final activation); map = ReLU(Σ w_k A_k).
 * Batched through the engine (MIR_EXPLAIN_BATCH). */
MirExplanation *mir_explain_scorecam    (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* Eigen-CAM: projection of the mean-centred activations (HW × C) on their
 * first principal component, its sign chosen to correlate positively with
 * the mean activation; class-independent. */
MirExplanation *mir_explain_eigencam    (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* Input-space maps (the input's H×W; e->layer is the input node). */
/* Vanilla gradients (Simonyan et al.): max over channels of |dz/dx|. */
MirExplanation *mir_explain_gradients   (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* SmoothGrad (Smilkov et al.): the gradient averaged over N copies of the
 * input with Gaussian noise σ = noise · (max − min), then max_c |·|. */
MirExplanation *mir_explain_smoothgrad  (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);
/* Guided backpropagation (Springenberg et al.): ReLUs also stop negative
 * incoming gradients (MIR_BACKWARD_GUIDED); max over channels of |dz/dx|. */
MirExplanation *mir_explain_guided_backprop (MirModel *model, MirTensor *input,
                                             const MirExplainOptions *options,
                                             GCancellable *cancellable, GError **error);
/* Guided Grad-CAM: guided backpropagation × Grad-CAM's map upsampled
 * (bilinear) to the input. */
MirExplanation *mir_explain_guided_gradcam (MirModel *model, MirTensor *input,
                                            const MirExplainOptions *options,
                                            GCancellable *cancellable, GError **error);
/* Occlusion sensitivity (Zeiler & Fergus): a grey patch (pixel value 128,
 * preprocessed) P×P slides with stride S; each pixel's value is the mean
 * drop of the class score over the patches covering it. */
MirExplanation *mir_explain_occlusion   (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);

/* A random baseline (mir-random.c): uniform values per input pixel (per cell
 * of options->layer's grid when set) from a generator seeded with
 * options->seed (default 1); the chance level of the faithfulness measures. */
MirExplanation *mir_explain_random      (MirModel *model, MirTensor *input,
                                         const MirExplainOptions *options,
                                         GCancellable *cancellable, GError **error);

/* Faithfulness of a map (mir-faithfulness.c).  The map is resized to the
 * input (bilinear); pixels are ranked by it, most salient first, and
 * replaced by the grey baseline. */
typedef struct
{
  double score;           /* class score (before the final activation) of the input */
  double probability;
  double keep_fraction;   /* top-k fraction kept */
  double keep_score;      /* score with only the top-k pixels kept */
  double keep_probability;
  int n_steps;            /* deletion curve: n_steps + 1 points, fraction i / n_steps */
  double *fractions;
  double *scores;
  double *probabilities;
  double auc_score;       /* trapezoidal areas over fraction 0..1 */
  double auc_probability;
} MirFaithfulness;

MirFaithfulness *mir_faithfulness_compute (MirModel *model, MirTensor *input,
                                           const MirExplanation *e, double keep_fraction,
                                           int n_steps, GCancellable *cancellable,
                                           GError **error);
void             mir_faithfulness_free    (MirFaithfulness *f);

/* Shared by the methods (mir-explain.c). */
/* One forward pass on @input (kept for backward when @for_backward; the last
 * layer gives logits), the class choice, and a new explanation of the
 * spatial size of @layer's output (a resolved node index; the input node
 * for input-space maps) with score and probability filled in. */
MirTrace       *mir_explain_forward       (MirModel *model, MirTensor *input,
                                           const MirExplainOptions *options, const char *method,
                                           gint layer, gboolean for_backward,
                                           MirExplanation **e_out, GCancellable *cancellable,
                                           GError **error);
/* The shared start of the gradient-weighted CAM methods (Grad-CAM, Grad-CAM++,
 * HiResCAM, XGradCAM, LayerCAM): resolves the layer (options may be NULL),
 * runs the forward pass kept for backward, picks the class, and back-
 * propagates its score down to the layer.  *act and *grad (borrowed from the
 * returned trace) are that layer's output and gradient. */
MirTrace       *mir_explain_layer_gradient (MirModel *model, MirTensor *input,
                                            const MirExplainOptions *options, const char *method,
                                            MirExplanation **e_out, MirTensor **act,
                                            MirTensor **grad, GCancellable *cancellable,
                                            GError **error);
/* Back-propagates e's class score (before the final activation) down to
 * @stop; the gradient at @stop is mir_trace_get_grad (trace, stop). */
gboolean        mir_explain_backward      (MirTrace *trace, const MirExplanation *e, gint stop,
                                           MirBackwardFlags flags, GCancellable *cancellable,
                                           GError **error);
/* The scores (and probabilities, may be NULL) of class @e->class_index for
 * every image of @batch, run MIR_EXPLAIN_BATCH at a time. */
gboolean        mir_explain_batch_scores  (MirModel *model, MirTensor *batch,
                                           const MirExplanation *e, double *scores,
                                           double *probs, GCancellable *cancellable,
                                           GError **error);
/* The preprocessed value of a grey pixel (128) for each of @channels. */
gboolean        mir_explain_grey_value    (MirModel *model, gint64 channels, float *values,
                                           GError **error);
/* Bilinear resize with half-pixel centres (cv2.resize / tf.image.resize). */
void            mir_explain_resize_map    (const float *src, int sw, int sh, float *dst,
                                           int dw, int dh);
/* out[i] = max_c |t[index, i, c]| for an NHWC tensor. */
void            mir_explain_abs_max_channels (const MirTensor *t, gint64 index, float *out);
/* Σ_k w_k A_k into e->raw, keeps the weights in e. */
void            mir_explain_weighted_sum  (MirExplanation *e, const MirTensor *act,
                                           double *weights);
gint            mir_explain_resolve_layer (MirModel *model, gint layer, GError **error);
/* Picks the class (top when options->class_index < 0) from the model's output
 * probabilities; checks the index; fills e->class_index/probability. */
gboolean        mir_explain_resolve_class (MirModel *model, const MirTensor *probs,
                                           const MirExplainOptions *options,
                                           MirExplanation *e, GError **error);
MirExplanation *mir_explanation_new       (const char *method, MirModel *model, gint layer,
                                           int width, int height);
/* map = max(raw, 0) / max; sets the notice when there is nothing positive. */
void            mir_explanation_normalise_relu   (MirExplanation *e);
/* map = (raw − min) / (max − min); notice when flat. */
void            mir_explanation_normalise_minmax (MirExplanation *e);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirExplanation, mir_explanation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirExplainReuse, mir_explain_reuse_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirFaithfulness, mir_faithfulness_free)

/* The explained class's name: for a binary sigmoid model names[1] for P,
 * names[0] (or "not …") for 1 − P (engine/mir-model-classes.c). */
char *mir_explanation_dup_class_name (MirModel             *model,
                                      const MirExplanation *e);
/* Sets @opts' class from class number @k as the detector and `mirada predict`
 * number them: for a binary sigmoid model 1 is P and 0 its complement. */
void  mir_explain_options_set_class  (MirExplainOptions    *opts,
                                      MirModel             *model,
                                      gint                  k);

/* ------------------------------------------------------------------ */
/* The methods (engine/explain/mir-explain-methods.c, the one table) */

typedef MirExplanation *(*MirExplainFunc) (MirModel                *model,
                                           MirTensor               *input,
                                           const MirExplainOptions *options,
                                           GCancellable            *cancellable,
                                           GError                 **error);

typedef enum
{
  MIR_EXPLAIN_METHOD_CLASS_MAP = 1 << 0, /* a map at a conv layer's resolution (the CAM family) */
  MIR_EXPLAIN_METHOD_BASELINE = 1 << 1,  /* a chance baseline for faithfulness, not an explanation */
} MirExplainMethodFlags;

typedef struct
{
  const char *id;          /* as `mirada gradcam -m` takes it */
  const char *label;       /* for people, N_() (translate with _()) */
  MirExplainFunc func;
  MirExplainMethodFlags flags;
} MirExplainMethod;


/* Every method, in the order menus show them. */
const MirExplainMethod *mir_explain_get_methods (guint *n_methods);
/* The method called @id, or NULL and an error listing the known ones. */
const MirExplainMethod *mir_explain_find_method (const char *id, GError **error);

G_END_DECLS
