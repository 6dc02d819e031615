/* fuzz-main.c: replays inputs through a harness without libFuzzer, so the
 * committed corpus and crash reproducers run in every build (meson test).
 * Arguments are files or folders (every regular file inside, not
 * recursively). */
#define G_LOG_DOMAIN "mir-fuzz"

#include <stdio.h>

#include "fuzz-util.h"

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static int
run_file (const char *path)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  gsize size;

  if (!g_file_get_contents (path, &data, &size, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) data, size);
  return 0;
}

int
main (int argc, char **argv)
{
  guint n = 0;
  int status = 0;

  mir_fuzz_replaying = TRUE;
  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
          g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
          const char *name;

          while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
            g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
          g_ptr_array_sort (names, compare_paths);
          for (guint j = 0; j < names->len; j++)
            if (g_file_test (names->pdata[j], G_FILE_TEST_IS_REGULAR))
              {
                status |= run_file (names->pdata[j]);
                n++;
              }
        }
      else
        {
          status |= run_file (argv[i]);
          n++;
        }
    }
  printf ("%u inputs replayed\n", n);
  return status;
}
