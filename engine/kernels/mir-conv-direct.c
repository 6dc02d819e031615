#define G_LOG_DOMAIN "mir-conv-direct"

#include <string.h>

#include "mir-conv-direct.h"
#include "mir-parallel.h"
#include "mir-pool.h"
#include "mir-tensor.h"
#include "mir-vec-simd.h"

/* Fully unrolls a tile's loops: with MIR_UNROLL's 8, GCC leaves the
 * accumulators of 12- and 16-pixel tiles on the stack (a load and a store
 * around every multiply-add: 4x slower, measured). */
#define TILE_UNROLL _Pragma ("GCC unroll 16")

/* Vectors of filters a block at most. */
#define FBLOCK_VECS 4

typedef struct Ctx Ctx;

struct Ctx
{
  const MirConvGeom *g;
  const float *x;
  float *kp;         /* [kh][kw][c][fpad], zero padded filters (owned) */
  const float *bias; /* [fpad], zero padded */
  gint64 f, fpad;    /* fpad: f rounded up to the vector width */
  int act;           /* MIR_VEC_ACT_* */
  gint64 ox_lo, ox_hi; /* output columns whose taps are all inside the image */
  const MirConvGeom *pool; /* max pooling over the conv output, or NULL */
  MirParallelFunc pool_rows; /* mir_max_pool_rows_func () */
  void (*conv_row) (const Ctx *c, gint64 n, gint64 oy, float *zrow); /* for this CPU */
  float *z;
};

/* P output pixels (consecutive columns of one row) x NB vectors of VW
 * filters (type T, mir_##V##_load, ...) from @fb, accumulated in registers.
 * With @border (P == 1), taps outside the image are skipped.  Every output
 * is bias + the taps in (ky, kx, ci) order, whatever the vector width. */
#define DEFINE_TILE(FN, PFX, T, V, VW, P, NB)                                                   \
  FN void                                                                                       \
  PFX##tile_##P##_##NB (const Ctx *c, const float *xn, float *zrow, gint64 oy, gint64 ox,       \
                        gint64 fb, gboolean border)                                             \
  {                                                                                             \
    const MirConvGeom *g = c->g;                                                                \
    gsize cc = (gsize) g->c, fpad = (gsize) c->fpad;                                            \
    T acc[P][NB];                                                                                 \
                                                                                                \
    TILE_UNROLL for (int p = 0; p < P; p++)                                                      \
      TILE_UNROLL for (int b = 0; b < NB; b++)                                                   \
        acc[p][b] = mir_##V##_load (c->bias + fb + VW * b);                                     \
    for (gint64 ky = 0; ky < g->kh; ky++)                                                       \
      {                                                                                         \
        gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;                                       \
        const float *xr;                                                                        \
        if (iy < 0 || iy >= g->h)                                                               \
          continue;                                                                             \
        xr = xn + (gsize) iy * (gsize) g->w * cc;                                               \
        for (gint64 kx = 0; kx < g->kw; kx++)                                                   \
          {                                                                                     \
            gint64 ix0 = ox * g->sw - g->pad_left + kx * g->dw;                                 \
            const float *kp = c->kp + ((gsize) (ky * g->kw + kx) * cc) * fpad + (gsize) fb;     \
            if (border && (ix0 < 0 || ix0 >= g->w))                                             \
              continue;                                                                         \
            for (gsize ci = 0; ci < cc; ci++)                                                   \
              {                                                                                 \
                T kv[NB];                                                                         \
                TILE_UNROLL for (int b = 0; b < NB; b++)                                         \
                  kv[b] = mir_##V##_load (kp + ci * fpad + VW * (gsize) b);                     \
                TILE_UNROLL for (int p = 0; p < P; p++)                                          \
                  {                                                                             \
                    float xv = xr[(gsize) (ix0 + p * g->sw) * cc + ci];                         \
                    TILE_UNROLL for (int b = 0; b < NB; b++)                                     \
                      acc[p][b] += xv * kv[b];                                                  \
                  }                                                                             \
              }                                                                                 \
          }                                                                                     \
      }                                                                                         \
    TILE_UNROLL for (int p = 0; p < P; p++)                                                      \
      TILE_UNROLL for (int b = 0; b < NB; b++)                                                   \
        mir_##V##_store_n (zrow + (gsize) (ox + p) * (gsize) c->f + (gsize) fb + VW * (gsize) b, \
                           mir_##V##_act (acc[p][b], c->act), c->f - fb - VW * b);              \
  }

/* One output row for the filter block at @fb of NB vectors: borders one
 * pixel at a time, the interior P pixels at a time, then what is left of
 * it 4 and 2 at a time (the "r" tiles).  A one-pixel tile does a
 * multiply-add per broadcast and loads the filters for each pixel: the 15
 * interior pixels a 112-wide row leaves after 16-pixel tiles (an RGB stem
 * of 16 filters at stride 2: MobileNetV2 α 0.35) took about half of that
 * layer's time one at a time.  Each output is the same sum in the same
 * order whatever its tile. */
#define DEFINE_ROW(FN, PFX, T, V, VW, P, NB)                                       \
  DEFINE_TILE (FN, PFX, T, V, VW, 1, NB)                                           \
  DEFINE_TILE (FN, PFX, T, V, VW, P, NB)                                           \
  DEFINE_TILE (FN, PFX##r, T, V, VW, 4, NB)                                        \
  DEFINE_TILE (FN, PFX##r, T, V, VW, 2, NB)                                        \
  FN void                                                                          \
  PFX##row_##NB (const Ctx *c, const float *xn, float *zrow, gint64 oy, gint64 fb) \
  {                                                                                \
    gint64 ox = 0;                                                                 \
    for (; ox < c->ox_lo; ox++)                                                    \
      PFX##tile_1_##NB (c, xn, zrow, oy, ox, fb, TRUE);                            \
    for (; ox + P <= c->ox_hi; ox += P)                                            \
      PFX##tile_##P##_##NB (c, xn, zrow, oy, ox, fb, FALSE);                       \
    for (; P > 4 && ox + 4 <= c->ox_hi; ox += 4)                                   \
      PFX##rtile_4_##NB (c, xn, zrow, oy, ox, fb, FALSE);                          \
    for (; P > 2 && ox + 2 <= c->ox_hi; ox += 2)                                   \
      PFX##rtile_2_##NB (c, xn, zrow, oy, ox, fb, FALSE);                          \
    for (; ox < c->ox_hi; ox++)                                                    \
      PFX##tile_1_##NB (c, xn, zrow, oy, ox, fb, FALSE);                           \
    for (; ox < c->g->ow; ox++)                                                    \
      PFX##tile_1_##NB (c, xn, zrow, oy, ox, fb, TRUE);                            \
  }

/* 8 floats a vector, 16 registers (AVX2, portable): P · NB accumulators +
 * NB filter vectors + 1 broadcast <= 16. */
DEFINE_ROW (static inline MIR_ALWAYS_INLINE, , MirV8, v8, 8, 8, 1)
DEFINE_ROW (static inline MIR_ALWAYS_INLINE, , MirV8, v8, 8, 6, 2)
DEFINE_ROW (static inline MIR_ALWAYS_INLINE, , MirV8, v8, 8, 4, 3)
DEFINE_ROW (static inline MIR_ALWAYS_INLINE, , MirV8, v8, 8, 3, 4)
/* 16 floats a vector, 32 registers (AVX-512): half the multiply-adds of 8
 * floats, and more pixels a tile. */
DEFINE_ROW (MIR_V16_FN, z_, MirV16, v16, 16, 16, 1)
DEFINE_ROW (MIR_V16_FN, z_, MirV16, v16, 16, 12, 2)
DEFINE_ROW (MIR_V16_FN, z_, MirV16, v16, 16, 8, 3)
DEFINE_ROW (MIR_V16_FN, z_, MirV16, v16, 16, 6, 4)

/* Conv output row @oy of image @n into @zrow (ow * f floats), filter block
 * by filter block, with the PFX row kernels. */
#define DEFINE_CONV_ROW(FN, PFX, VW)                                           \
  FN void                                                                      \
  PFX##conv_row (const Ctx *c, gint64 n, gint64 oy, float *zrow)               \
  {                                                                            \
    const MirConvGeom *g = c->g;                                               \
    const float *xn = c->x + (gsize) n * (gsize) (g->h * g->w * g->c);         \
                                                                               \
    for (gint64 fb = 0; fb < c->fpad; fb += FBLOCK_VECS * VW)                  \
      switch (MIN (c->fpad - fb, FBLOCK_VECS * VW) / VW)                       \
        {                                                                      \
        case 1:                                                                \
          PFX##row_1 (c, xn, zrow, oy, fb);                                    \
          break;                                                               \
        case 2:                                                                \
          PFX##row_2 (c, xn, zrow, oy, fb);                                    \
          break;                                                               \
        case 3:                                                                \
          PFX##row_3 (c, xn, zrow, oy, fb);                                    \
          break;                                                               \
        default:                                                               \
          PFX##row_4 (c, xn, zrow, oy, fb);                                    \
          break;                                                               \
        }                                                                      \
  }

DEFINE_CONV_ROW (static inline MIR_ALWAYS_INLINE, , 8)
DEFINE_CONV_ROW (MIR_V16_FN, z_, 16)

/* One function a conv row an instruction set (not inlined into both
 * runners below: the code is large). */
static void
conv_row_generic (const Ctx *c, gint64 n, gint64 oy, float *zrow)
{
  conv_row (c, n, oy, zrow);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
conv_row_avx2 (const Ctx *c, gint64 n, gint64 oy, float *zrow)
{
  conv_row (c, n, oy, zrow);
}

MIR_TARGET_AVX512 static void
conv_row_avx512 (const Ctx *c, gint64 n, gint64 oy, float *zrow)
{
  z_conv_row (c, n, oy, zrow);
}
#endif

/* Every output row of [begin, end) (rows count n · oh). */
static void
rows_chunk (gint64 begin, gint64 end, gpointer data)
{
  const Ctx *c = data;
  const MirConvGeom *g = c->g;

  for (gint64 r = begin; r < end; r++)
    c->conv_row (c, r / g->oh, r % g->oh, c->z + (gsize) r * (gsize) (g->ow * c->f));
}

/* Every pooled output row of [begin, end) (rows count n · pool oh): the
 * conv rows its windows cover into the chunk's scratch, then pooled. */
static void
pool_chunk (gint64 begin, gint64 end, gpointer data)
{
  const Ctx *c = data;
  const MirConvGeom *g = c->g, *pg = c->pool;
  gsize row = (gsize) (g->ow * c->f);
  float *scratch = g_new (float, (gsize) pg->kh * row);

  for (gint64 r = begin; r < end; r++)
    {
      gint64 n = r / pg->oh, py = r % pg->oh, y0;
      MirConvGeom band;
      MirPoolJob job = { &band, scratch, NULL };

      /* the conv rows pooled row py reads, as an image whose pooled row 0 it is */
      y0 = mir_conv_geom_band (pg, py, py + 1, &band);
      for (gint64 oy = y0; oy < y0 + band.h; oy++)
        c->conv_row (c, n, oy, scratch + (gsize) (oy - y0) * row);
      job.y = c->z + (gsize) r * (gsize) (pg->ow * c->f);
      c->pool_rows (0, 1, &job);
    }
  g_free (scratch);
}

gboolean
mir_conv_direct_applies (const MirConvGeom *g, gint64 filters)
{
  return g->c >= 1 && g->ow >= 1 && g->oh >= 1 &&
         (g->c <= MIR_CONV_DIRECT_MAX_C || g->kh * g->kw * g->c <= MIR_CONV_DIRECT_MAX_K ||
          (g->kh * g->kw == 1 && filters <= MIR_CONV_DIRECT_MAX_F1));
}

/* TRUE to use the AVX-512 kernels (16 floats a vector). */
static gboolean
use_avx512 (void)
{
#if MIR_HAVE_AVX2_CLONES
  return mir_cpu_has_avx512 ();
#else
  return FALSE;
#endif
}

/* Packs the kernel and bias for vectors of @lanes floats
 * (mir_free_floats (c->kp) after) and fills @c. */
static gboolean
ctx_init (Ctx *c, const MirConvGeom *g, const float *x, const float *k, gint64 f,
          const float *bias, MirActivation act, gint64 lanes, float *z, GError **error)
{
  gint64 fpad = (f + lanes - 1) / lanes * lanes, taps = g->kh * g->kw * g->c;
  gint64 span, hi;
  float *kp;

  kp = mir_alloc_floats ((gsize) ((taps + 1) * fpad), error);
  if (kp == NULL)
    return FALSE;
  memset (kp, 0, (gsize) ((taps + 1) * fpad) * sizeof (float));
  for (gint64 t = 0; t < taps; t++)
    memcpy (kp + t * fpad, k + t * f, (gsize) f * sizeof (float));
  if (bias != NULL)
    memcpy (kp + taps * fpad, bias, (gsize) f * sizeof (float));

  memset (c, 0, sizeof *c);
  c->g = g;
  c->x = x;
  c->kp = kp;
  c->bias = kp + taps * fpad;
  c->f = f;
  c->fpad = fpad;
  c->act = mir_vec_act_kind_all (act);
  c->z = z;
  /* Columns whose every tap is inside the image: ox * sw >= pad_left and
   * ox * sw - pad_left + (kw - 1) * dw <= w - 1. */
  c->ox_lo = MIN ((g->pad_left + g->sw - 1) / g->sw, g->ow);
  span = g->w - 1 + g->pad_left - (g->kw - 1) * g->dw;
  hi = span < 0 ? 0 : MIN (span / g->sw + 1, g->ow);
  c->ox_hi = MAX (hi, c->ox_lo); /* no interior: the border code does every column */
  return TRUE;
}

/* The direct kernel over @g into @z, or with @pool the max pooling of its
 * output. */
static gboolean
run (const MirConvGeom *g, const float *x, const float *k, gint64 f, const float *bias,
     MirActivation act, const MirConvGeom *pool, float *z, GError **error)
{
  /* 8 filters or fewer: 8-float vectors, a 16-float one would be half
   * zeros (the same sums in the same order; MobileNetV2's projection to 8
   * channels at 112x112: 0.158 -> 0.113 ms on one thread) */
  gboolean wide = use_avx512 () && f > 8;
  gint64 items, grain;
  Ctx c;

  if (!ctx_init (&c, g, x, k, f, bias, act, wide ? 16 : 8, z, error))
    return FALSE;
  c.conv_row = conv_row_generic;
#if MIR_HAVE_AVX2_CLONES
  if (wide)
    c.conv_row = conv_row_avx512;
  else if (mir_cpu_has_avx2 ())
    c.conv_row = conv_row_avx2;
#endif
  /* A chunk: about 16384 conv outputs. */
  grain = MAX (1, 16384 / MAX (g->ow * c.fpad * (pool ? pool->kh : 1), 1));
  items = pool ? pool->n * pool->oh : g->n * g->oh;
  c.pool = pool;
  if (pool != NULL)
    c.pool_rows = mir_max_pool_rows_func ();
  mir_parallel_for (items, grain, pool ? pool_chunk : rows_chunk, &c);
  mir_free_floats (c.kp);
  return TRUE;
}

gboolean
mir_conv_direct (const MirConvGeom *g, const float *x, const float *k, gint64 f,
                 const float *bias, MirActivation act, float *z, GError **error)
{
  if (!run (g, x, k, f, bias, act, NULL, z, error))
    return FALSE;
  if (mir_vec_act_kind_all (act) == MIR_VEC_ACT_NONE && act != MIR_ACT_LINEAR)
    mir_activation_forward (act, z, z, (gsize) (g->n * g->oh * g->ow * f), (gsize) f);
  return TRUE;
}

gboolean
mir_conv_direct_max_pool (const MirConvGeom *g, const float *x, const float *k, gint64 f,
                          const float *bias, MirActivation act, const MirConvGeom *pool,
                          float *y, GError **error)
{
  g_return_val_if_fail (mir_vec_act_kind (act) != MIR_VEC_ACT_NONE || act == MIR_ACT_LINEAR,
                        FALSE);
  g_return_val_if_fail (pool->n == g->n && pool->h == g->oh && pool->w == g->ow &&
                        pool->c == f, FALSE);
  return run (g, x, k, f, bias, act, pool, y, error);
}
