/* mir-onnx.h: ONNX image classifiers (see mir-onnx.c for the operators). */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* Loads an .onnx file, converting its NCHW graph to the engine's NHWC
 * layers.  An operator Mirada does not run is a MIR_ERROR_UNSUPPORTED naming
 * the node, the operator and the opset. */
MirModel *mir_onnx_load (const char  *path,
                         GError     **error);

/* The ONNX operators Mirada converts, sorted by name, NULL-terminated (the
 * table the loader dispatches on and its "not supported" message lists). */
const char *const *mir_onnx_operators (void);

G_END_DECLS
