/* mir-keras.h: Keras model files.
 *
 * Keras 2 HDF5 (`model.save("m.h5")`): root attributes `model_config` (JSON),
 * `keras_version`, `backend`; group `model_weights` with `layer_names` and per
 * layer `weight_names`.  Also tf.keras files, `.h5` files written by Keras 3
 * (Keras 3 config form, weights one group deeper), and weights-only files
 * (`save_weights`).  Nested models are flattened into one graph.
 */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* Loads a whole model (config + weights) from a Keras .h5/.hdf5 file. */
MirModel *mir_keras_load_h5            (const char  *path,
                                        GError     **error);

/* Builds the graph described by a Keras model config JSON (the value of
 * `model_config`, or a `{"class_name": ..., "config": ...}` object in Keras 2
 * or Keras 3 form).  Weights are not set (mir_model_finish() can initialise
 * them). */
MirModel *mir_keras_model_from_config  (const char  *json,
                                        gssize       length,
                                        GError     **error);
/* What the Keras version changes in the meaning of a config, applied to a
 * model built by mir_keras_model_from_config(): Keras 3's "hard_sigmoid" is
 * relu6(x + 3) / 6 (MIR_ACT_HARD_SIGMOID_K3) where Keras 2 and TF.js use
 * clip(0.2 x + 0.5, 0, 1).  The .h5 and .keras loaders call it with what the
 * file says it was written by. */
void       mir_keras_model_set_version   (MirModel    *model,
                                          gboolean     keras3);

/* Reads weights for @model from a Keras .h5 file (a whole-model file or a
 * `save_weights` file), matching layers by name and weights by order, with
 * every shape checked.  Does not call mir_model_finish(). */
gboolean  mir_keras_load_weights_h5    (MirModel    *model,
                                        const char  *path,
                                        GError     **error);

/* Loads a Keras 3 `.keras` archive (zip: config.json, metadata.json,
 * model.weights.h5), also the ones tf.keras 2.13+ writes. */
MirModel *mir_keras_load_keras         (const char  *path,
                                        GError     **error);

G_END_DECLS
