/* fuzz-keras-h5.c: a whole Keras .h5 file through mir_model_load() (format
 * sniffing, then mir_keras_load_h5).  The loader opens paths, so each input
 * is written to a scratch file.
 *
 * Under libFuzzer the HDF5 reader (mir_h5_dump) runs in this process, so its
 * code is covered and its bugs are found; libhdf5 1.10's own hangs and
 * crashes on some corrupt files (fuzz/README.md) then stop a run, which
 * build-aux/fuzz runs in fork mode.  The replay driver (meson test) goes
 * through the mirada-h5-reader process like Mirada does, so the libhdf5
 * reproducers in the corpus must end in a clean error. */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-h5-file.h"
#include "mir-model-load.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  mir_fuzz_init ();
  mir_h5_file_set_in_process (!mir_fuzz_replaying);
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
