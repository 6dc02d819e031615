/* fuzz-keras-h5.c: a whole Keras .h5 file through mir_model_load() (format
 * sniffing, then mir_keras_load_h5).  The loader opens paths, so each input
 * is written to a scratch file.  Known libhdf5 1.10 crashes on some corrupt
 * files are listed in fuzz/README.md. */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-model-load.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  mir_fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;
  const char *path = mir_fuzz_write_temp (data, size, ".h5");

  model = mir_model_load (path, &error);
  g_assert ((model == NULL) == (error != NULL));
  return 0;
}
