/* mir-loss.h: classification losses computed from logits.
 *
 * The trainer runs the model with MIR_RUN_LOGITS (the last layer skips its
 * softmax/sigmoid) and the loss applies the activation itself, so that the
 * gradient with respect to the logits is exact and stable:
 * softmax cross-entropy gives (softmax(z) - onehot) / N, sigmoid binary
 * cross-entropy (sigmoid(z) - t) / (N K).  Losses are batch means, as in Keras.
 */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_LOSS_SOFTMAX_CROSS_ENTROPY,        /* sparse categorical cross-entropy */
  MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY, /* binary cross-entropy */
} MirLossKind;

typedef struct
{
  double loss;     /* sum over the batch of the per-sample loss */
  guint n_correct; /* samples whose prediction matches the label */
} MirLossResult;

/* The loss matching a model's head: softmax (or linear logits) -> softmax
 * cross-entropy, sigmoid -> binary cross-entropy. */
MirLossKind mir_loss_kind_for_model (MirModel *model);

/* @logits: N×K (any rank whose last axis is K).  @labels: N class indices.
 * Softmax: label in [0, K).  Sigmoid: K = 1 and label 0/1, or K > 1 and
 * the targets are one-vs-rest (t[k] = label == k).
 * Writes d(mean loss over the N samples)/d(logits) into @grad (same shape,
 * may be NULL).  Returns FALSE with an error for a label out of range. */
gboolean    mir_loss_compute        (MirLossKind      kind,
                                     const MirTensor *logits,
                                     const gint32    *labels,
                                     MirTensor       *grad,
                                     MirLossResult   *result,
                                     GError         **error);

G_END_DECLS
