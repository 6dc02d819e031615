#define G_LOG_DOMAIN "mir-pool"

#include <math.h>

#include "mir-parallel.h"
#include "mir-pool.h"
#include "mir-vec-simd.h"

typedef struct
{
  const MirConvGeom *g;
  const float *x;
  float *y;
} PoolCtx;

/* One output row; @avg selects average pooling. */
static inline MIR_ALWAYS_INLINE void
pool_rows (gint64 begin, gint64 end, const PoolCtx *p, gboolean avg)
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
          scale = 1.0f / (float) MAX ((y1 - y0) * (x1 - x0), 1);
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
MIR_TARGET_AVX2 static void
max_rows_avx2 (gint64 begin, gint64 end, gpointer data)
{
  pool_rows (begin, end, data, FALSE);
}

MIR_TARGET_AVX2 static void
avg_rows_avx2 (gint64 begin, gint64 end, gpointer data)
{
  pool_rows (begin, end, data, TRUE);
}
#endif

static void
run (const MirConvGeom *g, const float *x, float *y, MirParallelFunc portable,
     MirParallelFunc avx2)
{
  PoolCtx p = { g, x, y };
  gint64 row = MAX (g->ow * g->c, 1);

#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx2 ())
    portable = avx2;
#endif
  mir_parallel_for (g->n * g->oh, MAX (1, 32768 / row), portable, &p);
}

void
mir_max_pool_forward (const MirConvGeom *g, const float *x, float *y)
{
#if MIR_HAVE_AVX2_CLONES
  run (g, x, y, max_rows, max_rows_avx2);
#else
  run (g, x, y, max_rows, NULL);
#endif
}

void
mir_avg_pool_forward (const MirConvGeom *g, const float *x, float *y)
{
#if MIR_HAVE_AVX2_CLONES
  run (g, x, y, avg_rows, avg_rows_avx2);
#else
  run (g, x, y, avg_rows, NULL);
#endif
}
