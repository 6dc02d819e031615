/* bench-detect: time of the detector's cheap path (filter 1, neighbourhood
 * means, μ, filter 2, grouping) on a cached probability grid of about 1000
 * windows.  The issue asks for < 1 ms per run; this prints the median of
 * many runs for each method and fails (exit 1) above 1 ms, so that
 * `meson test --benchmark` shows a regression. */
#include <stdio.h>
#include <stdlib.h>

#include "detect/mir-detect.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  const char *names[] = { "dog", "cat", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autofree float *probs = NULL;
  MirDetectGeometry geom;
  GRand *rng = g_rand_new_with_seed (42);
  const int runs = 2000;
  double times[2000];
  int status = 0;
  guint N;

  /* 1270×1270 at 150/40: 29×29 = 841 windows; 1390 wide: 29×32 = 928; use
   * 1430×1390 -> 32×33 = 1056 windows. */
  if (!mir_detect_geometry_init (&geom, 1430, 1390, 150, 40, FALSE, &error))
    g_error ("%s", error->message);
  N = mir_detect_geometry_n_windows (&geom);
  probs = g_new (float, N * 2);
  for (guint n = 0; n < N; n++)
    {
      /* smooth blobs of high probability, like a scene with a few objects */
      float p = (float) g_rand_double (rng);
      p = p * p * p;
      probs[2 * n] = p;
      probs[2 * n + 1] = 1.0f - p;
    }
  grid = mir_detect_grid_new (&geom, 2, names, MIR_HEAD_SOFTMAX, probs, &error);
  if (grid == NULL)
    g_error ("%s", error->message);

  for (int m = 0; m < 4; m++)
    {
      MirDetectMethod method = m == 0 ? MIR_DETECT_METHOD_1
                             : m == 1 ? MIR_DETECT_METHOD_2_1 : MIR_DETECT_METHOD_2_2;
      g_autoptr(MirDetectParams) params = mir_detect_params_new (2, method);
      guint boxes = 0;
      double median;

      /* thresholds low enough that ~10-30 % of the windows are candidates */
      params->classes[0].threshold = 0.5;
      params->classes[1].threshold = 0.9;
      params->grouping = m == 3 ? MIR_DETECT_GROUP_MERGE : MIR_DETECT_GROUP_NMS;
      for (int i = 0; i < runs; i++)
        {
          gint64 t0 = g_get_monotonic_time ();
          g_autoptr(MirDetectResult) r = mir_detect_filter (grid, params, &error);

          times[i] = (g_get_monotonic_time () - t0) / 1000.0;
          if (r == NULL)
            g_error ("%s", error->message);
          boxes = r->n_filter1[0] + r->n_filter1[1];
        }
      qsort (times, runs, sizeof (double), cmp_double);
      median = times[runs / 2];
      printf ("method %-3s grouping %-5s: %u windows, %u candidates: median %.4f ms, "
              "p95 %.4f ms\n", mir_detect_method_to_string (method),
              mir_detect_grouping_to_string (params->grouping), N, boxes, median,
              times[runs * 95 / 100]);
      if (median >= 1.0)
        status = 1;
    }
  g_rand_free (rng);
  return status;
}
