/* mir-optimizer.h: SGD with momentum and Adam, with Keras' update rules
 * and defaults.  State (momentum, moments) is kept per weight tensor, keyed
 * by the tensor: update a weight's values in place, never swap the tensor.
 *
 * SGD (Keras): v = momentum v - lr g; w += v  (nesterov: w += momentum v - lr g)
 * Adam (Keras 2.11+): t += 1; alpha = lr sqrt(1 - b2^t) / (1 - b1^t);
 *   m += (1 - b1)(g - m); v += (1 - b2)(g² - v); w -= alpha m / (sqrt(v) + eps)
 */
#pragma once

#include "mir-tensor.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_OPTIMIZER_SGD,
  MIR_OPTIMIZER_ADAM,
} MirOptimizerKind;

typedef struct
{
  MirOptimizerKind kind;
  double learning_rate; /* SGD 0.01, Adam 0.001 */
  double momentum;      /* SGD: 0 */
  gboolean nesterov;    /* SGD: FALSE */
  double beta1;         /* Adam: 0.9 */
  double beta2;         /* Adam: 0.999 */
  double epsilon;       /* Adam: 1e-7 */
} MirOptimizerOptions;

typedef struct _MirOptimizer MirOptimizer;

/* Fills @options with Keras' defaults for @kind. */
void          mir_optimizer_options_init (MirOptimizerOptions *options,
                                          MirOptimizerKind     kind);
gboolean      mir_optimizer_kind_from_string (const char       *name,
                                              MirOptimizerKind *kind,
                                              GError          **error);
const char   *mir_optimizer_kind_to_string   (MirOptimizerKind kind);

/* Checks the options (positive learning rate, momentum in [0, 1), ...). */
/* Changes the learning rate between steps (learning-rate schedules). */
void          mir_optimizer_set_learning_rate (MirOptimizer *self, double learning_rate);
MirOptimizer *mir_optimizer_new          (const MirOptimizerOptions *options,
                                          GError                   **error);
void          mir_optimizer_free         (MirOptimizer *self);
const MirOptimizerOptions *mir_optimizer_get_options (MirOptimizer *self);

/* Starts a training step (Adam's iteration count). */
void          mir_optimizer_begin_step   (MirOptimizer *self);
guint64       mir_optimizer_get_iterations (MirOptimizer *self);
/* Applies @grad (same shape) to @weight in place. */
gboolean      mir_optimizer_update       (MirOptimizer    *self,
                                          MirTensor       *weight,
                                          const MirTensor *grad,
                                          GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirOptimizer, mir_optimizer_free)

G_END_DECLS
