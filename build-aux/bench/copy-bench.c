/* copy-bench THREADS: memory bandwidth at working sets from 256 KiB to
 * 256 MiB, THREADS threads each on its part, median of 5 after a warm-up:
 * memcpy (bytes read + written; source + destination = the working set) and
 * a read-only float sum over the working set.  bench-compare uses the larger
 * of the two for the memory term of each row's bound: a layer whose bytes
 * fit a working set cannot move them faster.  Prints JSON. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct
{
  char *dst;
  const char *src;
  size_t n;
  int reps;
  float sum;
} Part;

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

static void *
copy_part (void *data)
{
  Part *p = data;
  for (int r = 0; r < p->reps; r++)
    {
      memcpy (p->dst, p->src, p->n);
      __asm__ volatile ("" : : "r"(p->dst) : "memory");
    }
  return NULL;
}

static void *
read_part (void *data)
{
  Part *p = data;
  const float *x = (const float *) p->src;
  size_t n = p->n / sizeof (float);
  float acc[64] = { 0 };
  for (int r = 0; r < p->reps; r++)
    {
      for (size_t i = 0; i + 64 <= n; i += 64)
        for (int j = 0; j < 64; j++)
          acc[j] += x[i + j];
      __asm__ volatile ("" : : "r"(x) : "memory");
    }
  for (int j = 0; j < 64; j++)
    p->sum += acc[j];
  return NULL;
}

static double
run (void *(*fn) (void *), char *dst, const char *src, size_t n, int threads, int reps)
{
  pthread_t tid[16];
  Part parts[16];
  size_t chunk = n / (size_t) threads;
  double t0 = now ();
  for (int i = 0; i < threads; i++)
    {
      parts[i] = (Part) { dst ? dst + i * chunk : NULL, src + i * chunk, chunk, reps, 0 };
      pthread_create (&tid[i], NULL, fn, &parts[i]);
    }
  for (int i = 0; i < threads; i++)
    pthread_join (tid[i], NULL);
  return now () - t0;
}

int
main (int argc, char **argv)
{
  int threads = argc > 1 ? atoi (argv[1]) : 2;
  static const size_t sizes[] = { 256u << 10, 1u << 20, 4u << 20, 16u << 20, 64u << 20,
                                  256u << 20 };
  const size_t n_sizes = sizeof sizes / sizeof sizes[0];

  if (threads < 1 || threads > 16)
    return 1;
  printf ("{\"threads\": %d, \"rows\": [", threads);
  for (size_t s = 0; s < n_sizes; s++)
    {
      size_t half = sizes[s] / 2; /* working set = source + destination */
      char *src = malloc (half), *dst = malloc (half);
      double t[5], tr[5];
      int reps;
      if (src == NULL || dst == NULL)
        return 1;
      memset (src, 1, half);
      memset (dst, 2, half);
      reps = (int) ((512u << 20) / half); /* about 1 GiB moved per timing */
      if (reps < 1)
        reps = 1;
      run (copy_part, dst, src, half, threads, reps);
      for (int r = 0; r < 5; r++)
        t[r] = run (copy_part, dst, src, half, threads, reps);
      qsort (t, 5, sizeof (double), cmp);
      free (dst);
      free (src);
      /* the read-only sum over a buffer the size of the whole working set */
      src = malloc (sizes[s]);
      if (src == NULL)
        return 1;
      /* ones, not zeros: GCC turns malloc + memset 0 into calloc, whose
       * fresh pages are never written, and the sum then read the kernel's
       * one zero page from the cache (90 GB/s a core at 256 MiB, against
       * 20-28 for memcpy: every memory term of the bound too small) */
      for (size_t i = 0; i < sizes[s] / sizeof (float); i++)
        ((float *) src)[i] = 1.0f;
      run (read_part, NULL, src, sizes[s], threads, reps / 2 + 1);
      for (int r = 0; r < 5; r++)
        tr[r] = run (read_part, NULL, src, sizes[s], threads, reps / 2 + 1);
      qsort (tr, 5, sizeof (double), cmp);
      free (src);
      printf ("%s{\"working_set\": %zu, \"copy_gb_per_second\": %g, "
              "\"read_gb_per_second\": %g, \"gb_per_second\": %g}",
              s ? ", " : "", sizes[s], 2.0 * (double) half * reps / t[2] / 1e9,
              (double) sizes[s] * (reps / 2 + 1) / tr[2] / 1e9,
              fmax (2.0 * (double) half * reps / t[2], (double) sizes[s] * (reps / 2 + 1) / tr[2])
                  / 1e9);
    }
  printf ("]}\n");
  return 0;
}
