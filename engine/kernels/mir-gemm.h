/* mir-gemm.h: row-major single-precision GEMM over OpenBLAS, and the small
 * row/column helpers the dense and convolution layers share. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Largest n, lda, ldb, ldc mir_gemm() takes (BLAS ints are 32-bit in LP64
 * builds); m and k may be larger, they are split. */
#define MIR_GEMM_MAX_DIM (G_GINT64_CONSTANT (1) << 30)

/* C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
 * op(A) is A (m x k, leading dimension lda) or, with @trans_a, the transpose
 * of A stored as k x m.  Same for B.  Dimensions beyond what a BLAS int holds
 * are split into several calls. */
void mir_gemm (gboolean     trans_a,
               gboolean     trans_b,
               gint64       m,
               gint64       n,
               gint64       k,
               float        alpha,
               const float *a,
               gint64       lda,
               const float *b,
               gint64       ldb,
               float        beta,
               float       *c,
               gint64       ldc);

/* C[m,n] = A[m,k] B[k,n] (+ bias[j] on every row, then max (c, 0) with
 * @relu), all row-major, A with leading dimension @lda, B and C dense.
 * For inference: the work is split over mir-parallel's threads, each
 * chunk a single-threaded GEMM (or per-row GEMV) whose epilogue runs
 * while the chunk is in the cache; OpenBLAS' own threads stay asleep, so
 * they do not spin on the cores the other kernels need.  Split over the
 * columns of B (weights read once) unless A is the larger operand; for at
 * most 4 rows, over blocks of 1024 rows of B whose partial sums are added
 * in order afterwards (the same sums whatever the thread count). */
void mir_gemm_infer (gint64       m,
                     gint64       n,
                     gint64       k,
                     const float *a,
                     gint64       lda,
                     const float *b,
                     const float *bias,
                     gboolean     relu,
                     float       *c);

/* y[r, j] += bias[j] for @rows rows of @n values. */
void mir_add_bias_rows (float *y, const float *bias, gint64 rows, gint64 n);

/* out[j] = sum over @rows rows of x[r, j] (overwrites @out; double accumulation). */
void mir_sum_rows (const float *x, gint64 rows, gint64 n, float *out);

G_END_DECLS
