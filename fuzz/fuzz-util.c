/* fuzz-util.c: scratch files and setup shared by the harnesses. */
#define G_LOG_DOMAIN "mir-fuzz"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <hdf5.h>

#include "fuzz-util.h"

gboolean mir_fuzz_replaying;

static void
remove_scratch (void)
{
  g_autofree char *prefix = g_strdup_printf ("mir-fuzz-%d", (int) getpid ());
  g_autoptr(GDir) dir = g_dir_open (g_get_tmp_dir (), 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, prefix))
      {
        g_autofree char *path = g_build_filename (g_get_tmp_dir (), name, NULL);
        unlink (path);
      }
}

void
mir_fuzz_init (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);
  atexit (remove_scratch);
}

const char *
mir_fuzz_write_temp (const uint8_t *data, size_t size, const char *suffix)
{
  static GHashTable *paths;
  char *path;
  FILE *f;

  if (paths == NULL)
    paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  path = g_hash_table_lookup (paths, suffix);
  if (path == NULL)
    {
      g_autofree char *name = g_strdup_printf ("mir-fuzz-%d%s", (int) getpid (), suffix);
      path = g_build_filename (g_get_tmp_dir (), name, NULL);
      g_hash_table_insert (paths, g_strdup (suffix), path);
    }
  f = fopen (path, "wb");
  if (f == NULL || (size > 0 && fwrite (data, 1, size, f) != size) || fclose (f) != 0)
    g_error ("cannot write scratch file %s", path);
  return path;
}
