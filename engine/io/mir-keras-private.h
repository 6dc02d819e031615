/* mir-keras-private.h: pieces shared by the Keras loader files.
 *
 * mir-keras-h5.c reads HDF5 (string attributes in their several encodings,
 * chunked list attributes, float datasets) and loads weights;
 * mir-keras-config.c turns a model config JSON into a MirModel.
 */
#pragma once

#include <hdf5.h>

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

/* Opens @path read-only; errors say whether it is missing, not HDF5, or
 * damaged.  Silences HDF5's own error printing for this thread. */
hid_t      mir_h5_open_file          (const char  *path,
                                      GError     **error);

/* Reads a scalar string attribute (fixed- or variable-length string, or a
 * byte array).  Returns NULL with no error when the attribute is absent
 * (unless @required).  @what names the object in messages. */
char      *mir_h5_read_string_attr   (hid_t        obj,
                                      const char  *name,
                                      const char  *what,
                                      GError     **error);

/* Reads a list-of-strings attribute, following Keras' chunking
 * (`name0`, `name1`, ...).  An absent attribute gives @present = FALSE and
 * an empty vector; an empty numeric array (Keras' empty list) is empty too. */
char     **mir_h5_read_string_list   (hid_t        obj,
                                      const char  *name,
                                      const char  *what,
                                      gboolean    *present,
                                      GError     **error);

/* Reads a float16/32/64 dataset at @path under @loc as float32. */
MirTensor *mir_h5_read_tensor        (hid_t        loc,
                                      const char  *path,
                                      const char  *what,
                                      GError     **error);

/* The innermost message on this thread's HDF5 error stack, or NULL. */
char      *mir_h5_dup_error_detail   (void);

/* Loads weights from an open file (the model_weights group or the root of a
 * save_weights file). */
gboolean   mir_keras_load_weights_hid (MirModel   *model,
                                       hid_t       file,
                                       const char *path,
                                       GError    **error);

/* Opens an HDF5 file held in memory (core driver, file image; @data is
 * copied).  @what names it in messages. */
hid_t      mir_h5_open_image         (const void  *data,
                                      gsize        size,
                                      const char  *what,
                                      GError     **error);

/* Keras' naming.to_snake_case ("BatchNormalization" -> "batch_normalization",
 * "ReLU" -> "re_lu").  Transfer full. */
char      *mir_keras_snake_case      (const char *name);

/* Loads weights saved by Keras 3's saving_lib (layers/<snake_class>[_N]/vars/<i>)
 * for the model built from @config_root. */
gboolean   mir_keras3_load_weights_hid (MirModel   *model,
                                        JsonObject *config_root,
                                        hid_t       file,
                                        const char *path,
                                        GError    **error);

/* TRUE for class names that denote a model used as a layer. */
gboolean   mir_keras_is_model_class  (const char *class_name);

G_END_DECLS
