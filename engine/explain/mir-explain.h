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

typedef struct
{
  gint class_index;    /* -1: the top prediction */
  gboolean complement; /* binary sigmoid model: explain 1 − P instead of P */
  gint layer;          /* node index; -1: the last convolutional layer */
} MirExplainOptions;

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

/* Shared by the methods (mir-explain.c). */
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

G_END_DECLS
