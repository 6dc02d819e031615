/* mir-keras-private.h: pieces shared by the Keras loader files.
 *
 * mir-keras-h5.c loads weights from HDF5 files read through mir-h5-file.h;
 * mir-keras-config.c turns a model config JSON into a MirModel.
 */
#pragma once

#include "mir-h5-file.h"
#include "mir-keras.h"

G_BEGIN_DECLS

/* Most layers (all nesting levels) a config may declare. */
#define MIR_KERAS_MAX_LAYERS 100000
/* Most weights (all layers together) a model may declare: 8 GiB of float32. */
#define MIR_KERAS_MAX_PARAMS (G_GINT64_CONSTANT (1) << 31)
/* Deepest JSON nesting accepted (Keras configs stay far below). */
#define MIR_KERAS_MAX_JSON_DEPTH 512
/* Largest string attribute read (model_config of big models is a few MB). */
#define MIR_KERAS_MAX_ATTR_BYTES ((gsize) 256 << 20)
/* Most entries in a list attribute (layer_names, weight_names). */
#define MIR_KERAS_MAX_LIST 1000000

/* Loads weights from a parsed HDF5 file (the model_weights group or the
 * root of a save_weights file). */
gboolean   mir_keras_load_weights_file (MirModel   *model,
                                        MirH5File  *file,
                                        const char *path,
                                        GError    **error);

/* Keras' naming.to_snake_case ("BatchNormalization" -> "batch_normalization",
 * "ReLU" -> "re_lu").  Transfer full. */
char      *mir_keras_snake_case      (const char *name);

/* Loads weights saved by Keras 3's saving_lib (layers/<snake_class>[_N]/vars/<i>)
 * for the model built from @config_root. */
gboolean   mir_keras3_load_weights_file (MirModel   *model,
                                        JsonObject *config_root,
                                        MirH5File  *file,
                                        const char *path,
                                        GError    **error);

/* TRUE for class names that denote a model used as a layer. */
gboolean   mir_keras_is_model_class  (const char *class_name);

G_END_DECLS
