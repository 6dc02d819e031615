#define G_LOG_DOMAIN "mir-pool"

#include <math.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include "mir-parallel.h"
#include "mir-pool.h"
#include "mir-vec-simd.h"

/* One output row; @avg selects average pooling. */
static inline MIR_ALWAYS_INLINE void
pool_rows (gint64 begin, gint64 end, const MirPoolJob *p, gboolean avg)
{
  const MirConvGeom *g = p->g;
  gsize c = (gsize) g->c;

  for (gint64 r = begin; r < end; r++)
    {
      gint64 n = r / g->oh, oy = r % g->oh;
      gint64 y0 = oy * g->sh - g->pad_top, y1 = MIN (y0 + g->kh, g->h);
      const float *xn = p->x + (gsize) n * (gsize) (g->h * g->w) * c;
      float *yr = p->y + (gsize) r * (gsize) g->ow * c;

      y0 = MAX (y0, 0);
      for (gint64 ox = 0; ox < g->ow; ox++)
        {
          gint64 x0 = ox * g->sw - g->pad_left, x1 = MIN (x0 + g->kw, g->w);
          float *yo = yr + (gsize) ox * c;
          float scale;
          gsize k = 0;

          x0 = MAX (x0, 0);
          scale = 1.0f / mir_pool_divisor (g, oy, ox);
          for (; k + 8 <= c; k += 8)
            {
              MirV8 v = mir_v8_splat (avg ? 0.0f : -INFINITY);

              for (gint64 iy = y0; iy < y1; iy++)
                for (gint64 ix = x0; ix < x1; ix++)
                  {
                    MirV8 t = mir_v8_load (xn + ((gsize) iy * (gsize) g->w + (gsize) ix) * c + k);
                    v = avg ? v + t : mir_v8_max (t, v);
                  }
              mir_v8_store (yo + k, avg ? v * scale : v);
            }
          for (; k < c; k++)
            {
              float v = avg ? 0.0f : -INFINITY;

              for (gint64 iy = y0; iy < y1; iy++)
                for (gint64 ix = x0; ix < x1; ix++)
                  {
                    float t = xn[((gsize) iy * (gsize) g->w + (gsize) ix) * c + k];
                    v = avg ? v + t : (t > v ? t : v);
                  }
              yo[k] = avg ? v * scale : v;
            }
        }
    }
}

static void
max_rows (gint64 begin, gint64 end, gpointer data)
{
  pool_rows (begin, end, data, FALSE);
}

static void
avg_rows (gint64 begin, gint64 end, gpointer data)
{
  pool_rows (begin, end, data, TRUE);
}

#if MIR_HAVE_AVX2_CLONES
/* Max pooling rows with the x86 max instruction: maxps (a, b) is a > b ? a
 * : b (b when unordered), exactly mir_v8_max (a, b), in one instruction;
 * VW channels a vector (VEC, LOAD, STORE, VMAX, SPLAT), 4, 2 or 1 vectors
 * a window pass, then 8 channels, then one by one.  The window loops are
 * inside the channel block loop, as above, so every cell is taken in the
 * same order. */

/* Channels [k, ...) NV vectors at a time while they last. */
#define MAX_BLOCK(VEC, VW, NV, LOAD, STORE, VMAX, SPLAT)                                  \
  for (; k + (NV) * (VW) <= c; k += (NV) * (VW))                                          \
    {                                                                                     \
      VEC v[NV];                                                                          \
      MIR_UNROLL for (int b = 0; b < (NV); b++)                                           \
        v[b] = SPLAT (-INFINITY);                                                         \
      for (gint64 iy = y0; iy < y1; iy++)                                                 \
        {                                                                                 \
          const float *xr = xn + (gsize) iy * (gsize) g->w * c + k;                       \
          for (gint64 ix = x0; ix < x1; ix++)                                             \
            MIR_UNROLL for (int b = 0; b < (NV); b++)                                     \
              v[b] = VMAX (LOAD (xr + (gsize) ix * c + (gsize) b * (VW)), v[b]);          \
        }                                                                                 \
      MIR_UNROLL for (int b = 0; b < (NV); b++)                                           \
        STORE (yo + k + (gsize) b * (VW), v[b]);                                          \
    }

#define DEFINE_MAX_ROWS(NAME, TARGET, VEC, VW, LOAD, STORE, VMAX, SPLAT)                  \
  TARGET static void                                                                      \
  NAME (gint64 begin, gint64 end, gpointer data)                                          \
  {                                                                                       \
    const MirPoolJob *p = data;                                                           \
    const MirConvGeom *g = p->g;                                                          \
    gsize c = (gsize) g->c;                                                               \
                                                                                          \
    for (gint64 r = begin; r < end; r++)                                                  \
      {                                                                                   \
        gint64 n = r / g->oh, oy = r % g->oh;                                             \
        gint64 y0 = oy * g->sh - g->pad_top, y1 = MIN (y0 + g->kh, g->h);                 \
        const float *xn = p->x + (gsize) n * (gsize) (g->h * g->w) * c;                   \
        float *yr = p->y + (gsize) r * (gsize) g->ow * c;                                 \
                                                                                          \
        y0 = MAX (y0, 0);                                                                 \
        for (gint64 ox = 0; ox < g->ow; ox++)                                             \
          {                                                                               \
            gint64 x0 = ox * g->sw - g->pad_left, x1 = MIN (x0 + g->kw, g->w);            \
            float *yo = yr + (gsize) ox * c;                                              \
            gsize k = 0;                                                                  \
                                                                                          \
            x0 = MAX (x0, 0);                                                             \
            MAX_BLOCK (VEC, VW, 4, LOAD, STORE, VMAX, SPLAT)                              \
            MAX_BLOCK (VEC, VW, 2, LOAD, STORE, VMAX, SPLAT)                              \
            MAX_BLOCK (VEC, VW, 1, LOAD, STORE, VMAX, SPLAT)                              \
            MAX_BLOCK (__m256, 8, 1, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_max_ps,    \
                       _mm256_set1_ps)                                                    \
            for (; k < c; k++)                                                            \
              {                                                                           \
                float v = -INFINITY;                                                      \
                for (gint64 iy = y0; iy < y1; iy++)                                       \
                  for (gint64 ix = x0; ix < x1; ix++)                                     \
                    {                                                                     \
                      float t = xn[((gsize) iy * (gsize) g->w + (gsize) ix) * c + k];     \
                      v = t > v ? t : v;                                                  \
                    }                                                                     \
                yo[k] = v;                                                                \
              }                                                                           \
          }                                                                               \
      }                                                                                   \
  }

/* _mm512_max_ps with its unused source lanes set (GCC 12 warns about the
 * undefined ones _mm512_max_ps passes). */
static inline MIR_ALWAYS_INLINE MIR_TARGET_AVX512 __m512
max512 (__m512 a, __m512 b)
{
  return _mm512_mask_max_ps (a, (__mmask16) 0xFFFF, a, b);
}

DEFINE_MAX_ROWS (max_rows_avx2, MIR_TARGET_AVX2, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps,
                 _mm256_max_ps, _mm256_set1_ps)
DEFINE_MAX_ROWS (max_rows_avx512, MIR_TARGET_AVX512, __m512, 16, _mm512_loadu_ps,
                 _mm512_storeu_ps, max512, _mm512_set1_ps)
#endif

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
avg_rows_avx2 (gint64 begin, gint64 end, gpointer data)
{
  pool_rows (begin, end, data, TRUE);
}
#endif

/* Output rows a chunk. */
static gint64
grain (const MirConvGeom *g)
{
  return MAX (1, 32768 / MAX (g->ow * g->c, 1));
}

MirParallelFunc
mir_max_pool_rows_func (void)
{
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    return max_rows_avx512;
  if (mir_cpu_has_avx2 ())
    return max_rows_avx2;
#endif
  return max_rows;
}

void
mir_max_pool_forward (const MirConvGeom *g, const float *x, float *y)
{
  MirPoolJob p = { g, x, y };

  mir_parallel_for (g->n * g->oh, grain (g), mir_max_pool_rows_func (), &p);
}

void
mir_avg_pool_forward (const MirConvGeom *g, const float *x, float *y)
{
  MirPoolJob p = { g, x, y };
  MirParallelFunc fn = avg_rows;

#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx2 ())
    fn = avg_rows_avx2;
#endif
  mir_parallel_for (g->n * g->oh, grain (g), fn, &p);
}
