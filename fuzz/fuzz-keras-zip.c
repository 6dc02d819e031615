/* fuzz-keras-zip.c: a Keras 3 `.keras` archive through
 * mir_keras_load_keras(): the zip itself, config.json, metadata.json and the
 * walk of model.weights.h5 against the config.
 *
 * An input that starts with a zip signature is the archive as is (the zip
 * layer).  Any other input is split (mir_fuzz_split) into config.json,
 * metadata.json and model.weights.h5, which the harness stores in a fresh
 * zip, so that mutations reach the members (libzip would refuse a changed
 * member by its CRC); an empty metadata part leaves metadata.json out.
 *
 * As in fuzz-keras-h5, the HDF5 reader runs in this process under libFuzzer
 * (build-aux/fuzz runs the harness in fork mode past libhdf5's own crashes
 * and hangs) and through mirada-h5-reader in the replays. */
#define G_LOG_DOMAIN "mir-fuzz"

#include <string.h>
#include <zip.h>

#include "fuzz-util.h"
#include "mir-h5-file.h"
#include "mir-keras.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  mir_fuzz_init ();
  mir_h5_file_set_in_process (!mir_fuzz_replaying);
  return 0;
}

static void
add_member (zip_t *z, const char *name, const uint8_t *data, size_t size)
{
  zip_source_t *src = zip_source_buffer (z, data, size, 0);
  zip_int64_t index;

  if (src == NULL || (index = zip_file_add (z, name, src, ZIP_FL_OVERWRITE)) < 0)
    g_error ("cannot add %s to the scratch zip: %s", name, zip_strerror (z));
  zip_set_file_compression (z, (zip_uint64_t) index, ZIP_CM_STORE, 0);
}

static const char *
write_zip (const uint8_t *data, size_t size)
{
  const char *path = mir_fuzz_write_temp (NULL, 0, ".keras");
  const uint8_t *parts[3];
  size_t sizes[3];
  zip_t *z;
  int err = 0;

  mir_fuzz_split (data, size, 3, parts, sizes);
  z = zip_open (path, ZIP_TRUNCATE | ZIP_CREATE, &err);
  if (z == NULL)
    g_error ("cannot make the scratch zip %s (libzip error %d)", path, err);
  add_member (z, "config.json", parts[0], sizes[0]);
  if (sizes[1] > 0)
    add_member (z, "metadata.json", parts[1], sizes[1]);
  add_member (z, "model.weights.h5", parts[2], sizes[2]);
  if (zip_close (z) != 0)
    g_error ("cannot write the scratch zip %s: %s", path, zip_strerror (z));
  return path;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;
  const char *path;

  if (size >= 4 && memcmp (data, "PK\x03\x04", 4) == 0)
    path = mir_fuzz_write_temp (data, size, ".keras");
  else
    path = write_zip (data, size);

  model = mir_keras_load_keras (path, &error);
  g_assert ((model == NULL) == (error != NULL));
  return 0;
}
