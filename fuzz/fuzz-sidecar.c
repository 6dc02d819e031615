/* fuzz-sidecar.c: the same bytes as a `.mirada.json` sidecar
 * (mir_sidecar_load) and as a labels file (mir_labels_load). */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-sidecar.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  MirModelMeta meta = { 0 };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) labels = NULL;
  const char *path = mir_fuzz_write_temp (data, size, ".mirada.json");
  gboolean indexed;

  if (!mir_sidecar_load (path, &meta, &error))
    g_assert (error != NULL);
  mir_model_meta_clear (&meta);
  g_clear_error (&error);

  path = mir_fuzz_write_temp (data, size, ".labels.txt");
  labels = mir_labels_load (path, &indexed, &error);
  g_assert ((labels == NULL) == (error != NULL));
  return 0;
}
