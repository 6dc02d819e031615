/* mir-vec.h: contiguous float loops written so that GCC's -O2 vectoriser
 * (very cheap cost model: known trip counts only) and clang both turn them
 * into SIMD code: blocks of 8 with a fixed inner count, then the tail. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MIR_VEC_BLOCK 8

/* y += a * b */
static inline void
mir_vec_madd (float *restrict y, const float *restrict a, const float *restrict b, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] += a[j + q] * b[j + q];
  for (; j < n; j++)
    y[j] += a[j] * b[j];
}

/* y += s * x */
static inline void
mir_vec_axpy (float *restrict y, float s, const float *restrict x, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] += s * x[j + q];
  for (; j < n; j++)
    y[j] += s * x[j];
}

/* y += x */
static inline void
mir_vec_add (float *restrict y, const float *restrict x, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] += x[j + q];
  for (; j < n; j++)
    y[j] += x[j];
}

/* y = max(y, x) */
static inline void
mir_vec_max (float *restrict y, const float *restrict x, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] = x[j + q] > y[j + q] ? x[j + q] : y[j + q];
  for (; j < n; j++)
    y[j] = x[j] > y[j] ? x[j] : y[j];
}

/* y -= x */
static inline void
mir_vec_sub (float *restrict y, const float *restrict x, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] -= x[j + q];
  for (; j < n; j++)
    y[j] -= x[j];
}

/* y *= x */
static inline void
mir_vec_mul (float *restrict y, const float *restrict x, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] *= x[j + q];
  for (; j < n; j++)
    y[j] *= x[j];
}

/* y = min(y, x) */
static inline void
mir_vec_min (float *restrict y, const float *restrict x, gsize n)
{
  gsize j = 0;

  for (; j + MIR_VEC_BLOCK <= n; j += MIR_VEC_BLOCK)
    for (gsize q = 0; q < MIR_VEC_BLOCK; q++)
      y[j + q] = x[j + q] < y[j + q] ? x[j + q] : y[j + q];
  for (; j < n; j++)
    y[j] = x[j] < y[j] ? x[j] : y[j];
}

G_END_DECLS
