/* fuzz-onnx.c: an .onnx file through mir_onnx_load() (the framing walker,
 * protobuf-c decoding, then again with every raw_data read from the file;
 * the graph conversion to NHWC layers, initializers and their shapes). */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-onnx.h"
#include "mir-onnx-walk.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;
  const char *path = mir_fuzz_write_temp (data, size, ".onnx");

  model = mir_onnx_load (path, &error);
  g_assert ((model == NULL) == (error != NULL));
  g_clear_pointer (&model, mir_model_unref);
  g_clear_error (&error);

  /* again with every raw_data left in the file (mir-onnx-walk.h) */
  mir_onnx_walk_set_min_defer (1);
  model = mir_onnx_load (path, &error);
  mir_onnx_walk_set_min_defer (0);
  g_assert ((model == NULL) == (error != NULL));
  return 0;
}
