/* mir-fold.h: BatchNormalization (and a following activation) folded into
 * the convolution before it, for inference runs.
 *
 * mir_model_run() asks for a folded layer when a Conv2D or DepthwiseConv2D
 * without activation feeds only a BatchNormalization (that perhaps feeds
 * only a ReLU or an elementwise Activation: swish in EfficientNet), and the run keeps no intermediate outputs (no
 * MIR_RUN_KEEP_ALL, not training): then nobody can see the convolution's
 * own output, and one pass over memory replaces two or three.  Runs that
 * keep outputs (activation grids, Grad-CAM, training) never fold, so they
 * see every layer's unfolded values.
 *
 * The folded layer is a copy of the convolution with kernel * a and
 * bias * a + b (a, b: the BatchNormalization's affine form), kept in a
 * per-model cache and rebuilt when any weight of the two layers has another
 * version (mir_tensor_get_version, as the Winograd kernel cache). */
#pragma once

#include "mir-layer.h"

G_BEGIN_DECLS

typedef struct _MirFoldCache MirFoldCache;

MirFoldCache *mir_fold_cache_new  (void);
void          mir_fold_cache_free (MirFoldCache *cache);

/* TRUE if @conv (with no activation of its own) can absorb @bn and then
 * @act (any elementwise activation: not softmax). */
gboolean      mir_fold_applies    (MirLayer *conv, MirLayer *bn, MirActivation act);

/* A new reference to the layer computing act (bn (conv (x))), or NULL (no
 * error: the caller runs the layers one by one). */
MirLayer     *mir_fold_cache_get  (MirFoldCache *cache,
                                   MirLayer     *conv,
                                   MirLayer     *bn,
                                   MirActivation act);

/* Folded layers currently cached (for tests). */
guint         mir_fold_cache_size (MirFoldCache *cache);

G_END_DECLS
