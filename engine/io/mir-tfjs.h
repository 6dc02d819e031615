/* mir-tfjs.h: TensorFlow.js layers models (model.json + group*-shard*of*.bin). */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* Loads a TF.js layers model from its model.json: the Keras topology, the
 * weights from the shards its weightsManifest lists (float32, uint8/uint16
 * quantized, float16), and for Teachable Machine exports the class names and
 * preprocessing from the metadata.json beside it. */
MirModel *mir_tfjs_load (const char  *path,
                         GError     **error);

G_END_DECLS
