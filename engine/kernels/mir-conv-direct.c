#define G_LOG_DOMAIN "mir-conv-direct"

#include <string.h>

#include "mir-conv-direct.h"
#include "mir-parallel.h"
#include "mir-tensor.h"
#include "mir-vec-simd.h"

/* Filters a block at most: 4 vectors of 8. */
#define FBLOCK 32

typedef struct
{
  const MirConvGeom *g;
  const float *x;
  const float *kp;   /* [kh][kw][c][fpad], zero padded filters */
  const float *bias; /* [fpad], zero padded */
  gint64 f, fpad;
  int act;           /* MIR_VEC_ACT_* */
  gint64 ox_lo, ox_hi; /* output columns whose taps are all inside the image */
  float *z;
} Ctx;

/* P output pixels (consecutive columns of one row) x NB vectors of filters
 * from @fb, accumulated in registers.  With @border (P == 1), taps outside
 * the image are skipped. */
#define DEFINE_TILE(P, NB)                                                                      \
  static inline MIR_ALWAYS_INLINE void                                                          \
  tile_##P##_##NB (const Ctx *c, const float *xn, float *zrow, gint64 oy, gint64 ox, gint64 fb, \
                   gboolean border)                                                             \
  {                                                                                             \
    const MirConvGeom *g = c->g;                                                                \
    gsize cc = (gsize) g->c, fpad = (gsize) c->fpad;                                            \
    MirV8 acc[P][NB];                                                                           \
                                                                                                \
    MIR_UNROLL for (int p = 0; p < P; p++)                                                      \
      MIR_UNROLL for (int b = 0; b < NB; b++)                                                   \
        acc[p][b] = mir_v8_load (c->bias + fb + 8 * b);                                         \
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
                MirV8 kv[NB];                                                                   \
                MIR_UNROLL for (int b = 0; b < NB; b++)                                         \
                  kv[b] = mir_v8_load (kp + ci * fpad + 8 * (gsize) b);                         \
                MIR_UNROLL for (int p = 0; p < P; p++)                                          \
                  {                                                                             \
                    float xv = xr[(gsize) (ix0 + p * g->sw) * cc + ci];                         \
                    MIR_UNROLL for (int b = 0; b < NB; b++)                                     \
                      acc[p][b] += xv * kv[b];                                                  \
                  }                                                                             \
              }                                                                                 \
          }                                                                                     \
      }                                                                                         \
    MIR_UNROLL for (int p = 0; p < P; p++)                                                      \
      MIR_UNROLL for (int b = 0; b < NB; b++)                                                   \
        mir_v8_store_n (zrow + (gsize) (ox + p) * (gsize) c->f + (gsize) fb + 8 * (gsize) b,    \
                        mir_v8_act (acc[p][b], c->act), c->f - fb - 8 * b);                     \
  }

DEFINE_TILE (1, 1)
DEFINE_TILE (8, 1)
DEFINE_TILE (1, 2)
DEFINE_TILE (6, 2)
DEFINE_TILE (1, 3)
DEFINE_TILE (4, 3)
DEFINE_TILE (1, 4)
DEFINE_TILE (3, 4)
/* AVX-512VL has 32 vector registers: twice the pixels a tile (P · NB
 * accumulators + NB filter vectors + 1 broadcast <= 32). */
DEFINE_TILE (16, 1)
DEFINE_TILE (12, 2)
DEFINE_TILE (8, 3)
DEFINE_TILE (6, 4)

/* One output row for the filter block at @fb of NB vectors: borders one
 * pixel at a time, the interior P pixels at a time. */
#define DEFINE_ROW(PFX, P, NB)                                                     \
  static inline MIR_ALWAYS_INLINE void                                             \
  PFX##row_##NB (const Ctx *c, const float *xn, float *zrow, gint64 oy, gint64 fb) \
  {                                                                                \
    gint64 ox = 0;                                                            \
    for (; ox < c->ox_lo; ox++)                                               \
      tile_1_##NB (c, xn, zrow, oy, ox, fb, TRUE);                            \
    for (; ox + P <= c->ox_hi; ox += P)                                       \
      tile_##P##_##NB (c, xn, zrow, oy, ox, fb, FALSE);                       \
    for (; ox < c->ox_hi; ox++)                                               \
      tile_1_##NB (c, xn, zrow, oy, ox, fb, FALSE);                           \
    for (; ox < c->g->ow; ox++)                                               \
      tile_1_##NB (c, xn, zrow, oy, ox, fb, TRUE);                            \
  }

DEFINE_ROW (, 8, 1)
DEFINE_ROW (, 6, 2)
DEFINE_ROW (, 4, 3)
DEFINE_ROW (, 3, 4)
DEFINE_ROW (wide_, 16, 1)
DEFINE_ROW (wide_, 12, 2)
DEFINE_ROW (wide_, 8, 3)
DEFINE_ROW (wide_, 6, 4)

/* Every output row of [begin, end) (rows count n · oh), filter block by
 * filter block, with the PFX row kernels. */
#define DEFINE_ROWS_BODY(PFX)                                                 \
  static inline MIR_ALWAYS_INLINE void                                        \
  PFX##rows_body (gint64 begin, gint64 end, gpointer data)                    \
  {                                                                           \
    const Ctx *c = data;                                                      \
    const MirConvGeom *g = c->g;                                              \
                                                                              \
    for (gint64 r = begin; r < end; r++)                                      \
      {                                                                       \
        gint64 n = r / g->oh, oy = r % g->oh;                                 \
        const float *xn = c->x + (gsize) n * (gsize) (g->h * g->w * g->c);    \
        float *zrow = c->z + (gsize) r * (gsize) (g->ow * c->f);              \
                                                                              \
        for (gint64 fb = 0; fb < c->fpad; fb += FBLOCK)                       \
          switch (MIN (c->fpad - fb, FBLOCK) / 8)                             \
            {                                                                 \
            case 1:                                                           \
              PFX##row_1 (c, xn, zrow, oy, fb);                               \
              break;                                                          \
            case 2:                                                           \
              PFX##row_2 (c, xn, zrow, oy, fb);                               \
              break;                                                          \
            case 3:                                                           \
              PFX##row_3 (c, xn, zrow, oy, fb);                               \
              break;                                                          \
            default:                                                          \
              PFX##row_4 (c, xn, zrow, oy, fb);                               \
              break;                                                          \
            }                                                                 \
      }                                                                       \
  }

DEFINE_ROWS_BODY ()
DEFINE_ROWS_BODY (wide_)

static void
rows_generic (gint64 begin, gint64 end, gpointer data)
{
  rows_body (begin, end, data);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
rows_avx2 (gint64 begin, gint64 end, gpointer data)
{
  rows_body (begin, end, data);
}

MIR_TARGET_AVX512 static void
rows_avx512 (gint64 begin, gint64 end, gpointer data)
{
  wide_rows_body (begin, end, data);
}
#endif

gboolean
mir_conv_direct_applies (const MirConvGeom *g, gint64 filters)
{
  return g->c >= 1 && g->ow >= 1 && g->oh >= 1 &&
         (g->c <= MIR_CONV_DIRECT_MAX_C || g->kh * g->kw * g->c <= MIR_CONV_DIRECT_MAX_K);
}

gboolean
mir_conv_direct (const MirConvGeom *g, const float *x, const float *k, gint64 f,
                 const float *bias, MirActivation act, float *z, GError **error)
{
  gint64 fpad = (f + 7) / 8 * 8, taps = g->kh * g->kw * g->c;
  gint64 rows = g->n * g->oh;
  gint64 span, hi;
  float *kp;
  Ctx c = { 0 };
  MirParallelFunc fn = rows_generic;

  kp = mir_alloc_floats ((gsize) ((taps + 1) * fpad), error);
  if (kp == NULL)
    return FALSE;
  memset (kp, 0, (gsize) ((taps + 1) * fpad) * sizeof (float));
  for (gint64 t = 0; t < taps; t++)
    memcpy (kp + t * fpad, k + t * f, (gsize) f * sizeof (float));
  if (bias != NULL)
    memcpy (kp + taps * fpad, bias, (gsize) f * sizeof (float));

  c.g = g;
  c.x = x;
  c.kp = kp;
  c.bias = kp + taps * fpad;
  c.f = f;
  c.fpad = fpad;
  c.act = mir_vec_act_kind_all (act);
  c.z = z;
  /* Columns whose every tap is inside the image: ox * sw >= pad_left and
   * ox * sw - pad_left + (kw - 1) * dw <= w - 1. */
  c.ox_lo = MIN ((g->pad_left + g->sw - 1) / g->sw, g->ow);
  span = g->w - 1 + g->pad_left - (g->kw - 1) * g->dw;
  hi = span < 0 ? 0 : MIN (span / g->sw + 1, g->ow);
  c.ox_hi = MAX (hi, c.ox_lo); /* no interior: the border code does every column */

#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    fn = rows_avx512;
  else if (mir_cpu_has_avx2 ())
    fn = rows_avx2;
#endif
  mir_parallel_for (rows, MAX (1, 16384 / MAX (g->ow * fpad, 1)), fn, &c);
  mir_free_floats (kp);
  if (c.act == MIR_VEC_ACT_NONE && act != MIR_ACT_LINEAR)
    mir_activation_forward (act, z, z, (gsize) (rows * g->ow * f), (gsize) f);
  return TRUE;
}
