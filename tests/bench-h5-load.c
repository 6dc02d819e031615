/* bench-h5-load.c: the cost of reading HDF5 models in the mirada-h5-reader
 * process (mir-h5-file.h) against reading them in this process.
 *
 *   bench-h5-load MODEL.h5 [ROUNDS]
 *
 * Alternates the two ways ROUNDS times (default 3) and prints the median of
 * each; the file is read once first so both find it in the page cache. */
#define G_LOG_DOMAIN "mir-bench"

#include <stdio.h>
#include <stdlib.h>

#include "mir-h5-file.h"
#include "mir-keras.h"

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
load_once (const char *path, gboolean in_process)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  gint64 start = g_get_monotonic_time ();

  mir_h5_file_set_in_process (in_process);
  model = mir_keras_load_h5 (path, &error);
  if (model == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      exit (1);
    }
  return (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
}

int
main (int argc, char **argv)
{
  guint rounds = argc > 2 ? (guint) atoi (argv[2]) : 3;
  g_autoptr(GArray) isolated = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) local = g_array_new (FALSE, FALSE, sizeof (double));
  double mi, ml;

  if (argc < 2 || rounds == 0)
    {
      fprintf (stderr, "usage: bench-h5-load MODEL.h5 [ROUNDS]\n");
      return 2;
    }
  load_once (argv[1], TRUE);
  for (guint i = 0; i < rounds; i++)
    {
      double t = load_once (argv[1], FALSE);
      g_array_append_val (isolated, t);
      t = load_once (argv[1], TRUE);
      g_array_append_val (local, t);
    }
  g_array_sort (isolated, compare_doubles);
  g_array_sort (local, compare_doubles);
  mi = g_array_index (isolated, double, rounds / 2);
  ml = g_array_index (local, double, rounds / 2);
  printf ("in-process %.3f s, isolated %.3f s (median of %u): overhead %.3f s (%+.0f%%)\n", ml,
          mi, rounds, mi - ml, 100 * (mi - ml) / ml);
  return 0;
}
