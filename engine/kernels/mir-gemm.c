#define G_LOG_DOMAIN "mir-gemm"

#include <cblas.h>
#include <string.h>

#include "mir-gemm.h"
#include "mir-parallel.h"
#include "mir-vec.h"

#define GEMM_MAX_DIM MIR_GEMM_MAX_DIM

/* Rows of C up to which products run as one sgemv per row.  OpenBLAS' sgemm
 * packs all of B whatever m is: for VGG16's fc1 at batch 1 (25088 x 4096)
 * that is 3x the time of streaming B once through sgemv.  Measured on the
 * 2-core AVX-512 machine (busy, medians of 4): 25088 x 4096, m = 1: gemm
 * 137 ms, gemv 29 ms; m = 2: 128 / 63; m = 4: 208 / 176 (4096 x 4096: 13.5 /
 * 6.7); m = 8: even; m = 16: gemm wins. */
#define GEMV_MAX_ROWS 4

/* Floats of B one block of the per-row sgemvs reads (1 MiB: half of L2),
 * so that with m > 1 B comes from memory once and from L2 for the other rows. */
#define GEMV_BLOCK_FLOATS (G_GINT64_CONSTANT (1) << 18)

/* C = alpha * op(A) op(B) + beta C for m <= GEMV_MAX_ROWS, k and n within a
 * BLAS int: row i of C is op(B)^T times row i of op(A). */
static void
gemm_small_m (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, float alpha,
              const float *a, gint64 lda, const float *b, gint64 ldb, float beta, float *c,
              gint64 ldc)
{
  gint64 kc = m == 1 ? k : CLAMP (GEMV_BLOCK_FLOATS / n, 16, k);
  /* op(A) row i: contiguous, or column i of the k x m matrix A. */
  gint64 inc = trans_a ? lda : 1;

  /* beta = 0 must not read C (it may hold NaNs): start from zeros. */
  if (beta == 0.0f)
    {
      for (gint64 i = 0; i < m; i++)
        memset (c + (gsize) i * (gsize) ldc, 0, (gsize) n * sizeof (float));
      beta = 1.0f;
    }

  for (gint64 p0 = 0; p0 < k; p0 += kc)
    {
      gint64 kk = MIN (kc, k - p0);
      float bt = p0 == 0 ? beta : 1.0f;

      for (gint64 i = 0; i < m; i++)
        {
          const float *ai = trans_a ? a + i + (gsize) p0 * (gsize) lda
                                    : a + (gsize) i * (gsize) lda + p0;
          float *ci = c + (gsize) i * (gsize) ldc;

          if (trans_b) /* B is n x k: ci = B[:, p0..] ai */
            cblas_sgemv (CblasRowMajor, CblasNoTrans, (int) n, (int) kk, alpha, b + p0,
                         (int) ldb, ai, (int) inc, bt, ci, 1);
          else /* B is k x n: ci = B[p0.., :]^T ai */
            cblas_sgemv (CblasRowMajor, CblasTrans, (int) kk, (int) n, alpha,
                         b + (gsize) p0 * (gsize) ldb, (int) ldb, ai, (int) inc, bt, ci, 1);
        }
    }
}

/* One product on this thread: per-row sgemv for few rows, else sgemm
 * (OpenBLAS is single-threaded, see mir-parallel.h). */
static void
gemm_serial (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, float alpha,
             const float *a, gint64 lda, const float *b, gint64 ldb, float beta, float *c,
             gint64 ldc)
{
  if (m <= GEMV_MAX_ROWS)
    {
      gemm_small_m (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, (int) m, (int) n, (int) k, alpha,
               a, (int) lda, b, (int) ldb, beta, c, (int) ldc);
}

/* Products below this many multiply-adds run on one thread (handing work
 * to the pool costs some microseconds). */
#define SPLIT_MIN_MACS (G_GINT64_CONSTANT (1) << 19)

typedef struct
{
  gboolean trans_a, trans_b, split_n;
  gint64 m, n, k, lda, ldb, ldc, part;
  float alpha, beta;
  const float *a, *b;
  float *c;
} GemmSplit;

static void
gemm_parts (gint64 begin, gint64 end, gpointer data)
{
  const GemmSplit *g = data;

  for (gint64 p = begin; p < end; p++)
    {
      gint64 lo = p * g->part;

      if (g->split_n) /* columns [lo, hi) of op(B) and C */
        {
          gint64 nn = MIN (g->part, g->n - lo);
          const float *bp = g->trans_b ? g->b + (gsize) lo * (gsize) g->ldb : g->b + lo;
          gemm_serial (g->trans_a, g->trans_b, g->m, nn, g->k, g->alpha, g->a, g->lda, bp,
                       g->ldb, g->beta, g->c + lo, g->ldc);
        }
      else /* rows [lo, hi) of op(A) and C */
        {
          gint64 mm = MIN (g->part, g->m - lo);
          const float *ap = g->trans_a ? g->a + lo : g->a + (gsize) lo * (gsize) g->lda;
          gemm_serial (g->trans_a, g->trans_b, mm, g->n, g->k, g->alpha, ap, g->lda, g->b,
                       g->ldb, g->beta, g->c + (gsize) lo * (gsize) g->ldc, g->ldc);
        }
    }
}

/* Splits C over the engine's threads: by rows when op(B) is the larger
 * operand to pack (each thread packs its own copy of the smaller one), else
 * by columns; parts are multiples of 16 (the AVX-512 width) so that they
 * line up with the kernels' tiles.  Each value is the same dot product in
 * the same order whatever the split. */
static void
gemm_split (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, float alpha,
            const float *a, gint64 lda, const float *b, gint64 ldb, float beta, float *c,
            gint64 ldc)
{
  GemmSplit g = { trans_a, trans_b, FALSE, m, n, k, lda, ldb, ldc, 0, alpha, beta, a, b, c };
  guint threads = mir_parallel_nested () ? 1 : mir_parallel_threads ();
  gint64 len;

  if (threads <= 1 || m * n * k < SPLIT_MIN_MACS)
    {
      gemm_serial (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  /* few rows (sgemv) or B bigger than A: split the columns */
  g.split_n = m <= GEMV_MAX_ROWS || (m < n && n >= 32);
  len = g.split_n ? n : m;
  g.part = (len + threads - 1) / threads;
  g.part = (g.part + 15) / 16 * 16;
  if (g.part >= len)
    {
      gemm_serial (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  mir_parallel_for ((len + g.part - 1) / g.part, 1, gemm_parts, &g);
}

void
mir_gemm (gboolean trans_a, gboolean trans_b, gint64 m, gint64 n, gint64 k, float alpha,
          const float *a, gint64 lda, const float *b, gint64 ldb, float beta, float *c,
          gint64 ldc)
{
  g_return_if_fail (m >= 0 && n >= 0 && k >= 0);
  g_return_if_fail (n <= GEMM_MAX_DIM && lda <= GEMM_MAX_DIM && ldb <= GEMM_MAX_DIM &&
                    ldc <= GEMM_MAX_DIM);

  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      for (gint64 i = 0; i < m; i++)
        {
          float *row = c + (gsize) i * (gsize) ldc;
          if (beta == 0.0f)
            memset (row, 0, (gsize) n * sizeof (float));
          else
            for (gint64 j = 0; j < n; j++)
              row[j] *= beta;
        }
      return;
    }
  /* Split m: rows of C and of op(A). */
  if (m > GEMM_MAX_DIM)
    {
      for (gint64 i0 = 0; i0 < m; i0 += GEMM_MAX_DIM)
        {
          gint64 mm = MIN (GEMM_MAX_DIM, m - i0);
          const float *ai = trans_a ? a + i0 : a + (gsize) i0 * (gsize) lda;
          mir_gemm (trans_a, trans_b, mm, n, k, alpha, ai, lda, b, ldb, beta,
                    c + (gsize) i0 * (gsize) ldc, ldc);
        }
      return;
    }
  /* Split k: accumulate the partial products. */
  if (k > GEMM_MAX_DIM)
    {
      for (gint64 p0 = 0; p0 < k; p0 += GEMM_MAX_DIM)
        {
          gint64 kk = MIN (GEMM_MAX_DIM, k - p0);
          const float *ap = trans_a ? a + (gsize) p0 * (gsize) lda : a + p0;
          const float *bp = trans_b ? b + p0 : b + (gsize) p0 * (gsize) ldb;
          mir_gemm (trans_a, trans_b, m, n, kk, alpha, ap, lda, bp, ldb,
                    p0 == 0 ? beta : 1.0f, c, ldc);
        }
      return;
    }
  gemm_split (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Rows of B a chunk of a split over k (few rows of C): a size set by k
 * alone, so that the sums do not depend on the number of threads; about
 * k / 8 (so that 2 threads share the chunks evenly: EfficientNetB0's
 * 1280 x 1000 classifier took 0.26 ms with blocks of 1024 + 256, 0.17 with
 * 8 blocks), in multiples of 64 from 128 to 1024 (VGG16's fc1, k = 25088:
 * blocks of 1024, 13.9 ms; of 128, 14.6). */
static gint64
infer_kblock (gint64 k)
{
  return CLAMP ((k / 8 + 63) / 64 * 64, 128, 1024);
}

typedef struct
{
  gint64 m, n, k, lda;
  const float *a, *b, *bias;
  gboolean relu;
  int split;     /* SPLIT_* */
  float *c;
  float *part;   /* SPLIT_K: a block of m x n partial sums a chunk */
} InferJob;

enum
{
  SPLIT_ROWS, /* rows of A and C */
  SPLIT_COLS, /* columns of B and C */
  SPLIT_K,    /* rows of B, summed afterwards */
};

/* Bias and ReLU over @rows rows of C's columns [c0, c1). */
static void
epilogue (const InferJob *j, float *c, gint64 rows, gint64 c0, gint64 c1)
{
  for (gint64 r = 0; r < rows; r++, c += j->n)
    {
      if (j->bias != NULL)
        mir_vec_add (c, j->bias + c0, (gsize) (c1 - c0));
      if (j->relu)
        for (gint64 i = 0; i < c1 - c0; i++)
          c[i] = c[i] > 0.0f ? c[i] : 0.0f;
    }
}

/* Chunks [begin, end) of the split. */
static void
infer_chunk (gint64 begin, gint64 end, gpointer data)
{
  const InferJob *j = data;
  gint64 kb = infer_kblock (j->k);

  if (j->split == SPLIT_K)
    for (gint64 t = begin; t < end; t++)
      {
        gint64 p0 = t * kb, kk = MIN (kb, j->k - p0);

        mir_gemm (FALSE, FALSE, j->m, j->n, kk, 1.0f, j->a + p0, j->lda,
                  j->b + (gsize) p0 * (gsize) j->n, j->n, 0.0f,
                  j->part + (gsize) t * (gsize) (j->m * j->n), j->n);
      }
  else
    {
      gboolean cols = j->split == SPLIT_COLS;
      gint64 r0 = cols ? 0 : begin, r1 = cols ? j->m : end;
      gint64 c0 = cols ? begin : 0, c1 = cols ? end : j->n;
      float *c = j->c + (gsize) r0 * (gsize) j->n + (gsize) c0;

      mir_gemm (FALSE, FALSE, r1 - r0, c1 - c0, j->k, 1.0f, j->a + (gsize) r0 * (gsize) j->lda,
                j->lda, j->b + c0, j->n, 0.0f, c, j->n);
      epilogue (j, c, r1 - r0, c0, c1);
    }
}

void
mir_gemm_infer (gint64 m, gint64 n, gint64 k, const float *a, gint64 lda, const float *b,
                const float *bias, gboolean relu, float *c)
{
  InferJob j = { m, n, k, lda, a, b, bias, relu, n >= m ? SPLIT_COLS : SPLIT_ROWS, c, NULL };
  gint64 threads = mir_parallel_threads ();
  gint64 len = j.split == SPLIT_COLS ? n : m;
  /* A chunk a thread: each sgemm packs the whole other operand; whole
   * vectors of columns. */
  gint64 grain = MAX ((len + threads - 1) / threads, 1);

  if (m <= 0 || n <= 0)
    return;
  if (j.split == SPLIT_COLS)
    grain = (grain + 15) / 16 * 16;
  /* Few rows: per-row GEMVs that stream B, in blocks of its rows (column
   * slices of B would be read in short strided runs, 2x slower measured). */
  if (m <= GEMV_MAX_ROWS && k > infer_kblock (k))
    {
      gint64 kb = infer_kblock (k), blocks = (k + kb - 1) / kb;

      j.split = SPLIT_K;
      j.part = g_new (float, (gsize) (blocks * m * n));
      mir_parallel_for_gemm (blocks, 1, infer_chunk, &j);
      for (gint64 i = 0; i < m * n; i++)
        {
          float s = j.part[i];
          for (gint64 t = 1; t < blocks; t++)
            s += j.part[(gsize) (t * m * n + i)];
          c[i] = s;
        }
      g_free (j.part);
      epilogue (&j, c, m, 0, n);
      return;
    }
  mir_parallel_for_gemm (len, grain, infer_chunk, &j);
}

void
mir_add_bias_rows (float *y, const float *bias, gint64 rows, gint64 n)
{
  for (gint64 r = 0; r < rows; r++)
    {
      mir_vec_add (y + (gsize) r * (gsize) n, bias, (gsize) n);
    }
}

void
mir_sum_rows (const float *x, gint64 rows, gint64 n, float *out)
{
  g_autofree double *acc = g_new0 (double, n);

  for (gint64 r = 0; r < rows; r++)
    {
      const float *row = x + (gsize) r * (gsize) n;
      for (gint64 j = 0; j < n; j++)
        acc[j] += row[j];
    }
  for (gint64 j = 0; j < n; j++)
    out[j] = (float) acc[j];
}
