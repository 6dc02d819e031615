/* sgemm-bench N THREADS: OpenBLAS sgemm GFLOP/s on an N x N x N product
 * (median of 5 after a warm-up), the ceiling bench-compare measures the
 * convolution workloads against.  Prints JSON. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 2048;
  int threads = argc > 2 ? atoi (argv[2]) : 0;
  size_t nn = (size_t) n * (size_t) n;
  float *a = malloc (nn * sizeof (float)), *b = malloc (nn * sizeof (float));
  float *c = malloc (nn * sizeof (float));
  double t[5];

  if (n < 1 || a == NULL || b == NULL || c == NULL)
    return 1;
  if (threads > 0)
    openblas_set_num_threads (threads);
  for (size_t i = 0; i < nn; i++)
    {
      a[i] = (float) ((i * 7919) % 1000) / 1000.0f;
      b[i] = (float) ((i * 104729) % 1000) / 1000.0f;
    }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  for (int r = 0; r < 5; r++)
    {
      double t0 = now ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                   c, n);
      t[r] = now () - t0;
    }
  qsort (t, 5, sizeof (double), cmp);
  printf ("{\"n\": %d, \"threads\": %d, \"median_seconds\": %g, \"gflops_per_second\": %g}\n",
          n, openblas_get_num_threads (), t[2], 2.0 * n * (double) n * n / t[2] / 1e9);
  free (a);
  free (b);
  free (c);
  return 0;
}
