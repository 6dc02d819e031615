/* fuzz-tfjs.c: a TF.js layers model through mir_tfjs_load(): model.json
 * (topology + weights manifest), a Teachable Machine metadata.json beside
 * it and the weight shard.  The input is split (mir_fuzz_split) into
 * model.json, metadata.json and group1-shard1of1.bin, written to a scratch
 * folder; an empty metadata part means no metadata.json. */
#define G_LOG_DOMAIN "mir-fuzz"

#include <unistd.h>

#include "fuzz-util.h"
#include "mir-tfjs.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;
  const char *dir = mir_fuzz_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "model.json", NULL);
  g_autofree char *meta = g_build_filename (dir, "metadata.json", NULL);
  const uint8_t *parts[3];
  size_t sizes[3];

  mir_fuzz_split (data, size, 3, parts, sizes);
  mir_fuzz_write_file (dir, "model.json", parts[0], sizes[0]);
  if (sizes[1] > 0)
    mir_fuzz_write_file (dir, "metadata.json", parts[1], sizes[1]);
  else
    unlink (meta);
  mir_fuzz_write_file (dir, "group1-shard1of1.bin", parts[2], sizes[2]);

  model = mir_tfjs_load (path, &error);
  g_assert ((model == NULL) == (error != NULL));
  return 0;
}
