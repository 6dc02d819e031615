/* mir-model-load.h: open any model file Mirada knows, by its content. */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* Loads @path whatever its format (told from the first bytes, not the name):
 * HDF5 (Keras .h5) today; Keras 3 .keras archives, TF.js model.json and ONNX
 * files are recognised and refused with MIR_ERROR_UNSUPPORTED.  Then reads
 * the sidecar and labels file next to it (mir-sidecar.h) into model->meta.
 * meta.preprocess_from tells where the preprocessing came from: the format,
 * the model's own Rescaling/Normalization layers, the labels file, the
 * sidecar, or UNKNOWN when nothing said it ('none' is then assumed).  A model
 * with 1000 classes that nothing names gets the ImageNet names
 * (mir-imagenet.h). */
MirModel *mir_model_load (const char  *path,
                          GError     **error);

G_END_DECLS
