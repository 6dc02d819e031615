/* mir-keras-writer.h: saving models as Keras 2 `.h5` files.
 *
 * The file is what Keras 2 (tf.keras 2.15) `model.save("m.h5")` writes,
 * minus the optimizer: root attributes `model_config` (a Sequential or
 * Functional config JSON built from each layer's stored config and the
 * graph), `keras_version`, `backend` and `mirada_writer`; group
 * `model_weights` with `layer_names`, `backend`, `keras_version`, and per
 * layer a group with `weight_names` ("<layer>/<weight>:0") and the float32
 * datasets.  Written atomically: a temporary file in the same folder is
 * renamed over @path once complete.
 */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

#define MIR_KERAS_WRITER_VERSION "2.15.0"
/* Written instead when a layer uses what only Keras 3 names or means so
 * (Keras 3's hard_sigmoid, hard_swish): the config's names keep their
 * Keras 3 meaning when the file is read again. */
#define MIR_KERAS3_WRITER_VERSION "3.3.3"

gboolean  mir_keras_save_h5            (MirModel    *model,
                                        const char  *path,
                                        GError     **error);

/* The `model_config` JSON that mir_keras_save_h5() writes.  Transfer full. */
char     *mir_keras_model_config_json  (MirModel    *model,
                                        GError     **error);

G_END_DECLS
