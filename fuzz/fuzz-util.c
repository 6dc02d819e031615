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

        if (g_file_test (path, G_FILE_TEST_IS_DIR))
          {
            g_autoptr(GDir) sub = g_dir_open (path, 0, NULL);
            const char *entry;

            while (sub != NULL && (entry = g_dir_read_name (sub)) != NULL)
              {
                g_autofree char *file = g_build_filename (path, entry, NULL);
                unlink (file);
              }
            rmdir (path);
          }
        else
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

/* The setup most harnesses need; a harness with more to do defines its own
 * (this one is weak). */
__attribute__ ((weak)) int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  mir_fuzz_init ();
  return 0;
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

const char *
mir_fuzz_temp_dir (void)
{
  static char *dir;

  if (dir == NULL)
    {
      g_autofree char *name = g_strdup_printf ("mir-fuzz-%d-dir", (int) getpid ());
      dir = g_build_filename (g_get_tmp_dir (), name, NULL);
      if (g_mkdir_with_parents (dir, 0700) != 0)
        g_error ("cannot make scratch folder %s", dir);
    }
  return dir;
}

void
mir_fuzz_write_file (const char *dir, const char *name, const uint8_t *data, size_t size)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  FILE *f = fopen (path, "wb");

  if (f == NULL || (size > 0 && fwrite (data, 1, size, f) != size) || fclose (f) != 0)
    g_error ("cannot write scratch file %s", path);
}

void
mir_fuzz_split (const uint8_t *data, size_t size, guint n_parts, const uint8_t **parts,
                size_t *sizes)
{
  for (guint i = 0; i < n_parts; i++)
    {
      size_t len = size;

      if (i + 1 < n_parts)
        {
          guint32 prefix = 0;

          for (guint b = 0; b < 4 && b < size; b++)
            prefix |= (guint32) data[b] << (8 * b);
          data += MIN (size, 4);
          size -= MIN (size, 4);
          len = MIN ((size_t) prefix, size);
        }
      parts[i] = data;
      sizes[i] = len;
      data += len;
      size -= len;
    }
}
