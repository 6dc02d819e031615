/* fuzz-onnx.c: an .onnx file through mir_onnx_load() (protobuf-c decoding,
 * the graph conversion to NHWC layers, initializers and their shapes). */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-onnx.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;
  const char *path = mir_fuzz_write_temp (data, size, ".onnx");

  model = mir_onnx_load (path, &error);
  g_assert ((model == NULL) == (error != NULL));
  return 0;
}
