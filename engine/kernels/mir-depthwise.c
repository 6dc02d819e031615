#define G_LOG_DOMAIN "mir-depthwise"

#include <string.h>

#include "mir-act-vec.h"
#include "mir-depthwise.h"
#include "mir-parallel.h"
#include "mir-vec.h"
#include "mir-vec-simd.h"

void
mir_depthwise_forward (const MirConvGeom *g, gint64 mult, const float *x, const float *k,
                       const float *bias, float *y)
{
  gsize c = (gsize) g->c, m = (gsize) mult, cm = c * m;

  for (gint64 n = 0; n < g->n; n++)
    for (gint64 oy = 0; oy < g->oh; oy++)
      for (gint64 ox = 0; ox < g->ow; ox++)
        {
          float *restrict yo = y + (((gsize) n * (gsize) g->oh + (gsize) oy) * (gsize) g->ow +
                                    (gsize) ox) * cm;
          if (bias != NULL)
            memcpy (yo, bias, cm * sizeof (float));
          else
            memset (yo, 0, cm * sizeof (float));
          for (gint64 ky = 0; ky < g->kh; ky++)
            {
              gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
              if (iy < 0 || iy >= g->h)
                continue;
              for (gint64 kx = 0; kx < g->kw; kx++)
                {
                  gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
                  const float *restrict xi;
                  const float *restrict kk;
                  if (ix < 0 || ix >= g->w)
                    continue;
                  xi = x + (((gsize) n * (gsize) g->h + (gsize) iy) * (gsize) g->w + (gsize) ix) * c;
                  kk = k + ((gsize) ky * (gsize) g->kw + (gsize) kx) * cm;
                  if (m == 1)
                    mir_vec_madd (yo, xi, kk, c);
                  else
                    for (gsize j = 0; j < c; j++)
                      for (gsize q = 0; q < m; q++)
                        yo[j * m + q] += xi[j] * kk[j * m + q];
                }
            }
        }
}

void
mir_depthwise_backward (const MirConvGeom *g, gint64 mult, const float *x, const float *k,
                        const float *dy, float *dx, float *dk)
{
  gsize c = (gsize) g->c, m = (gsize) mult, cm = c * m;

  if (dx != NULL)
    memset (dx, 0, (gsize) g->n * (gsize) g->h * (gsize) g->w * c * sizeof (float));
  if (dk != NULL)
    memset (dk, 0, (gsize) g->kh * (gsize) g->kw * cm * sizeof (float));

  for (gint64 n = 0; n < g->n; n++)
    for (gint64 oy = 0; oy < g->oh; oy++)
      for (gint64 ox = 0; ox < g->ow; ox++)
        {
          const float *restrict go = dy + (((gsize) n * (gsize) g->oh + (gsize) oy) *
                                           (gsize) g->ow + (gsize) ox) * cm;
          for (gint64 ky = 0; ky < g->kh; ky++)
            {
              gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
              if (iy < 0 || iy >= g->h)
                continue;
              for (gint64 kx = 0; kx < g->kw; kx++)
                {
                  gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
                  gsize xoff, koff;
                  if (ix < 0 || ix >= g->w)
                    continue;
                  xoff = (((gsize) n * (gsize) g->h + (gsize) iy) * (gsize) g->w + (gsize) ix) * c;
                  koff = ((gsize) ky * (gsize) g->kw + (gsize) kx) * cm;
                  if (dx != NULL)
                    {
                      float *restrict dxi = dx + xoff;
                      const float *restrict kk = k + koff;
                      if (m == 1)
                        mir_vec_madd (dxi, go, kk, c);
                      else
                        for (gsize j = 0; j < c; j++)
                          {
                            float s = 0;
                            for (gsize q = 0; q < m; q++)
                              s += go[j * m + q] * kk[j * m + q];
                            dxi[j] += s;
                          }
                    }
                  if (dk != NULL)
                    {
                      float *restrict dkk = dk + koff;
                      const float *restrict xi = x + xoff;
                      if (m == 1)
                        mir_vec_madd (dkk, go, xi, c);
                      else
                        for (gsize j = 0; j < c; j++)
                          for (gsize q = 0; q < m; q++)
                            dkk[j * m + q] += go[j * m + q] * xi[j];
                    }
                }
            }
        }
}

/* ------------------------------------------------------------------ */
/* Inference kernel for depth_multiplier 1: 8 channels a vector, P output
 * pixels of a row at a time sharing the kernel vectors, bias and activation
 * (ReLU, ReLU6, sigmoid, swish) in registers, rows split over threads.
 * A tile of pixels runs through all its channel blocks before the next
 * tile, so each pixel's channels are read while their cache lines are hot
 * (the other order swept a whole row per 8 channels: 2.9 ms of
 * EfficientNetB0's 18). */

typedef struct
{
  const MirConvGeom *g;
  const float *x, *k, *bias;
  int act;               /* MIR_VEC_ACT_*, every kind */
  MirActivation act_fn;  /* the same, for the channels past the last vector */
  gint64 ox_lo, ox_hi; /* columns whose taps are all inside the image */
  int spec;            /* DW_SPEC_*: the interior tiles for this kernel width and stride */
  float *y;
} DwCtx;

/* Kernel widths and strides with interior tiles of their own (no
 * dilation): DW_SPEC_K3S1 ... DW_SPEC_K5S2, else DW_SPEC_NONE. */
enum
{
  DW_SPEC_NONE,
  DW_SPEC_K3S1,
  DW_SPEC_K3S2,
  DW_SPEC_K5S1,
  DW_SPEC_K5S2,
};

/* Input row oy * sh - pad_top + ky * dh of image @xn from channel @cb, or
 * NULL where kernel row @ky falls outside the image (every tile's rows). */
static inline MIR_ALWAYS_INLINE const float *
dw_input_row (const DwCtx *d, const float *xn, gint64 oy, gint64 ky, gsize cb)
{
  const MirConvGeom *g = d->g;
  gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;

  if (iy < 0 || iy >= g->h)
    return NULL;
  return xn + (gsize) iy * (gsize) g->w * (gsize) g->c + cb;
}

/* P pixels from column @ox, channels [cb, cb + W) in vectors T of W floats;
 * @border: check each pixel's taps (a tile over an edge of the image). */
#define DEFINE_DW_TILE(FN, T, W, ACT, P)                                                    \
  FN void                                                                                    \
  dw_tile##W##_##P (const DwCtx *d, const float *xn, float *yrow, gint64 oy, gint64 ox,      \
                    gsize cb, gboolean border)                                               \
  {                                                                                          \
    const MirConvGeom *g = d->g;                                                             \
    gsize c = (gsize) g->c;                                                                  \
    T acc[P], b0, kv, xv;                                                                    \
                                                                                             \
    memcpy (&b0, d->bias + cb, sizeof b0);                                                   \
    MIR_UNROLL for (int p = 0; p < P; p++)                                                   \
      acc[p] = b0;                                                                           \
    for (gint64 ky = 0; ky < g->kh; ky++)                                                    \
      {                                                                                      \
        const float *xr = dw_input_row (d, xn, oy, ky, cb);                                  \
        if (xr == NULL)                                                                      \
          continue;                                                                          \
        for (gint64 kx = 0; kx < g->kw; kx++)                                                \
          {                                                                                  \
            gint64 ix0 = ox * g->sw - g->pad_left + kx * g->dw;                              \
            memcpy (&kv, d->k + (gsize) (ky * g->kw + kx) * c + cb, sizeof kv);              \
            MIR_UNROLL for (int p = 0; p < P; p++)                                           \
              {                                                                              \
                if (border && (guint64) (ix0 + p * g->sw) >= (guint64) g->w)                 \
                  continue;                                                                  \
                memcpy (&xv, xr + (gsize) (ix0 + p * g->sw) * c, sizeof xv);                 \
                acc[p] += xv * kv;                                                           \
              }                                                                              \
          }                                                                                  \
      }                                                                                      \
    MIR_UNROLL for (int p = 0; p < P; p++)                                                   \
      {                                                                                      \
        T o = ACT (acc[p], d->act);                                                          \
        memcpy (yrow + (gsize) (ox + p) * c + cb, &o, sizeof o);                             \
      }                                                                                      \
  }

DEFINE_DW_TILE (static inline MIR_ALWAYS_INLINE, MirV8, 8, mir_v8_act, 1)
DEFINE_DW_TILE (static inline MIR_ALWAYS_INLINE, MirV8, 8, mir_v8_act, 2)
DEFINE_DW_TILE (static inline MIR_ALWAYS_INLINE, MirV8, 8, mir_v8_act, 4)
DEFINE_DW_TILE (static inline MIR_ALWAYS_INLINE, MirV8, 8, mir_v8_act, 8)
DEFINE_DW_TILE (MIR_V16_FN, MirV16, 16, mir_v16_act, 1)
DEFINE_DW_TILE (MIR_V16_FN, MirV16, 16, mir_v16_act, 2)
DEFINE_DW_TILE (MIR_V16_FN, MirV16, 16, mir_v16_act, 4)
DEFINE_DW_TILE (MIR_V16_FN, MirV16, 16, mir_v16_act, 8)

/* dw_tile##W##_##P for a kernel KW wide at stride SW (both constants):
 * each kernel row loads the (P - 1) SW + KW input vectors its P pixels read
 * once and keeps them in registers, instead of one load per tap and pixel
 * (the generic tile is bound by its loads: P + 1 per P multiply-adds; here
 * (P - 1) SW + 2 KW per P KW).  With @border, the columns outside the
 * image are zeros (the padding itself: each sum gains + 0 w terms, so a
 * result may only differ from the generic tile's in the sign of a zero)
 * and only the first @np pixels are stored (a row's last tile). */
#define DEFINE_DW_TILE_K(FN, T, W, ACT, P, KW, SW)                                           \
  FN void                                                                                    \
  dw_tile##W##_##P##_k##KW##s##SW (const DwCtx *d, const float *xn, float *yrow, gint64 oy,  \
                                   gint64 ox, gsize cb, gboolean border, gint64 np)          \
  {                                                                                          \
    const MirConvGeom *g = d->g;                                                             \
    gsize c = (gsize) g->c;                                                                  \
    gint64 col0 = ox * SW - g->pad_left;                                                     \
    T acc[P], b0, kv, xv[(P - 1) * SW + KW];                                                 \
                                                                                             \
    memcpy (&b0, d->bias + cb, sizeof b0);                                                   \
    MIR_UNROLL for (int p = 0; p < P; p++)                                                   \
      acc[p] = b0;                                                                           \
    for (gint64 ky = 0; ky < g->kh; ky++)                                                    \
      {                                                                                      \
        const float *xr = dw_input_row (d, xn, oy, ky, cb), *kr;                             \
        if (xr == NULL)                                                                      \
          continue;                                                                          \
        kr = d->k + (gsize) (ky * KW) * c + cb;                                              \
        _Pragma ("GCC unroll 32") for (int j = 0; j < (P - 1) * SW + KW; j++)                \
          {                                                                                  \
            if (border && (guint64) (col0 + j) >= (guint64) g->w)                            \
              xv[j] = (T) { 0 };                                                             \
            else                                                                             \
              memcpy (&xv[j], xr + (gsize) (col0 + j) * c, sizeof xv[j]);                    \
          }                                                                                  \
        _Pragma ("GCC unroll 8") for (int kx = 0; kx < KW; kx++)                             \
          {                                                                                  \
            memcpy (&kv, kr + (gsize) kx * c, sizeof kv);                                    \
            MIR_UNROLL for (int p = 0; p < P; p++)                                           \
              acc[p] += xv[p * SW + kx] * kv;                                                \
          }                                                                                  \
      }                                                                                      \
    MIR_UNROLL for (int p = 0; p < P; p++)                                                   \
      if (!border || p < np)                                                                 \
        {                                                                                    \
          T o = ACT (acc[p], d->act);                                                        \
          memcpy (yrow + (gsize) (ox + p) * c + cb, &o, sizeof o);                           \
        }                                                                                    \
  }

#define DEFINE_DW_TILES_K(FN, T, W, ACT, P)                                                  \
  DEFINE_DW_TILE_K (FN, T, W, ACT, P, 3, 1)                                                  \
  DEFINE_DW_TILE_K (FN, T, W, ACT, P, 3, 2)                                                  \
  DEFINE_DW_TILE_K (FN, T, W, ACT, P, 5, 1)                                                  \
  DEFINE_DW_TILE_K (FN, T, W, ACT, P, 5, 2)                                                  \
  /* the tile for d->spec (not DW_SPEC_NONE) */                                              \
  FN void                                                                                    \
  dw_tile##W##_##P##_spec (const DwCtx *d, const float *xn, float *yrow, gint64 oy,          \
                           gint64 ox, gsize cb, gboolean border, gint64 np)                  \
  {                                                                                          \
    switch (d->spec)                                                                         \
      {                                                                                      \
      case DW_SPEC_K3S1:                                                                     \
        dw_tile##W##_##P##_k3s1 (d, xn, yrow, oy, ox, cb, border, np);                       \
        break;                                                                               \
      case DW_SPEC_K3S2:                                                                     \
        dw_tile##W##_##P##_k3s2 (d, xn, yrow, oy, ox, cb, border, np);                       \
        break;                                                                               \
      case DW_SPEC_K5S1:                                                                     \
        dw_tile##W##_##P##_k5s1 (d, xn, yrow, oy, ox, cb, border, np);                       \
        break;                                                                               \
      default:                                                                               \
        dw_tile##W##_##P##_k5s2 (d, xn, yrow, oy, ox, cb, border, np);                       \
        break;                                                                               \
      }                                                                                      \
  }

/* 4 pixels of 8 channels (AVX2, portable: 16 registers), 8 of 16 (AVX-512) */
DEFINE_DW_TILES_K (static inline MIR_ALWAYS_INLINE, MirV8, 8, mir_v8_act, 4)
DEFINE_DW_TILES_K (MIR_V16_FN, MirV16, 16, mir_v16_act, 8)

/* Channels past the last full vector of pixel @ox, one at a time. */
static inline MIR_ALWAYS_INLINE void
dw_tail (const DwCtx *d, const float *xn, float *yrow, gint64 oy, gint64 ox, gsize c0)
{
  const MirConvGeom *g = d->g;
  gsize c = (gsize) g->c;

  for (gsize k = c0; k < c; k++)
    {
      float s = d->bias[k];

      for (gint64 ky = 0; ky < g->kh; ky++)
        {
          gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
          if (iy < 0 || iy >= g->h)
            continue;
          for (gint64 kx = 0; kx < g->kw; kx++)
            {
              gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
              if (ix < 0 || ix >= g->w)
                continue;
              s += xn[((gsize) iy * (gsize) g->w + (gsize) ix) * c + k] *
                   d->k[(gsize) (ky * g->kw + kx) * c + k];
            }
        }
      if (d->act == MIR_VEC_ACT_RELU || d->act == MIR_VEC_ACT_RELU6)
        s = s > 0.0f ? s : 0.0f;
      if (d->act == MIR_VEC_ACT_RELU6)
        s = s < 6.0f ? s : 6.0f;
      yrow[(gsize) ox * c + k] = s;
    }
  if (mir_vec_act_is_exp (d->act))
    mir_act_vec_forward (d->act_fn, yrow + (gsize) ox * c + c0, yrow + (gsize) ox * c + c0,
                         c - c0);
}

/* The 16-channel blocks of DW_TILE_AT (AVX-512), or none. */
#define DW_BLOCKS16(P, border)                                       \
  for (; cb + 16 <= c; cb += 16)                                     \
    dw_tile16_##P (d, xn, yrow, oy, ox, cb, border);
#define DW_NO_BLOCKS16(P, border)

/* The P pixels from column ox through every channel block (16 channels a
 * block with BLOCKS16 = DW_BLOCKS16, then 8, then one at a time). */
#define DW_BLOCKS(P, border, BLOCKS16)                               \
  {                                                                  \
    gsize cb = 0;                                                    \
    BLOCKS16 (P, border)                                             \
    for (; cb < cv; cb += 8)                                         \
      dw_tile8_##P (d, xn, yrow, oy, ox, cb, border);                \
    if (cv < c)                                                      \
      for (gint64 q = ox; q < ox + P; q++)                           \
        dw_tail (d, xn, yrow, oy, q, cv);                            \
  }

/* A tile of P pixels at ox, checking taps only if it reaches past the
 * columns whose taps are all inside the image. */
#define DW_TILE_AT(P, BLOCKS16)                                      \
  {                                                                  \
    if (ox < d->ox_lo || ox + P > d->ox_hi)                          \
      DW_BLOCKS (P, TRUE, BLOCKS16)                                  \
    else                                                             \
      DW_BLOCKS (P, FALSE, BLOCKS16)                                 \
    ox += P;                                                         \
  }

/* A row through the tiles for d->spec, P pixels at a time, VW channels a
 * block (c a multiple of VW): tiles over an edge take the padding as
 * zeros, the last one stores what is left of the row. */
#define DW_SPEC_ROW(P, VW)                                                      \
  for (; ox < g->ow; ox += P)                                                   \
    {                                                                           \
      gint64 np = MIN (P, g->ow - ox);                                          \
                                                                                \
      if (np == P && ox >= d->ox_lo && ox + P <= d->ox_hi)                      \
        for (gsize cb = 0; cb < c; cb += VW)                                    \
          dw_tile##VW##_##P##_spec (d, xn, yrow, oy, ox, cb, FALSE, P);         \
      else                                                                      \
        for (gsize cb = 0; cb < c; cb += VW)                                    \
          dw_tile##VW##_##P##_spec (d, xn, yrow, oy, ox, cb, TRUE, np);         \
    }

/* Each row through the tiles of its kernel (DW_SPEC_ROW) where there are
 * some and the channels fill VW-float vectors; else in generic tiles of P
 * pixels from the left, then 4, 2 and 1 for what is left, tiles over an
 * edge checking their taps.  (The edges used to go one pixel at a time,
 * which loads the kernel vectors for every pixel: a 7-wide row of a 5x5
 * kernel was six tiles, four of them single pixels.)  Each output is the
 * same sum in the same order whatever its tile. */
#define DEFINE_DW_ROWS(FN, PFX, P, BLOCKS16, VW)                               \
  FN void                                                                      \
  PFX##dw_rows (gint64 begin, gint64 end, gpointer data)                       \
  {                                                                            \
    const DwCtx *d = data;                                                     \
    const MirConvGeom *g = d->g;                                               \
    gsize c = (gsize) g->c, cv = c / 8 * 8;                                    \
                                                                               \
    for (gint64 r = begin; r < end; r++)                                       \
      {                                                                        \
        gint64 n = r / g->oh, oy = r % g->oh, ox = 0;                          \
        const float *xn = d->x + (gsize) n * (gsize) (g->h * g->w) * c;        \
        float *yrow = d->y + (gsize) r * (gsize) g->ow * c;                    \
                                                                               \
        if (d->spec != DW_SPEC_NONE && c % VW == 0)                            \
          DW_SPEC_ROW (P, VW)                                                  \
        while (ox < g->ow)                                                     \
          {                                                                    \
            gint64 left = g->ow - ox;                                          \
                                                                               \
            if (left >= P)                                                     \
              DW_TILE_AT (P, BLOCKS16)                                         \
            else if (P > 4 && left >= 4)                                       \
              DW_TILE_AT (4, BLOCKS16)                                         \
            else if (left >= 2)                                                \
              DW_TILE_AT (2, BLOCKS16)                                         \
            else                                                               \
              DW_TILE_AT (1, BLOCKS16)                                         \
          }                                                                    \
      }                                                                        \
  }

DEFINE_DW_ROWS (static inline MIR_ALWAYS_INLINE, , 4, DW_NO_BLOCKS16, 8)
/* AVX-512: 16 channels a register, 8 accumulators (32 registers) */
DEFINE_DW_ROWS (MIR_V16_FN, wide_, 8, DW_BLOCKS16, 16)

static void
dw_rows_portable (gint64 begin, gint64 end, gpointer data)
{
  dw_rows (begin, end, data);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
dw_rows_avx2 (gint64 begin, gint64 end, gpointer data)
{
  dw_rows (begin, end, data);
}

MIR_TARGET_AVX512 static void
dw_rows_avx512 (gint64 begin, gint64 end, gpointer data)
{
  wide_dw_rows (begin, end, data);
}
#endif

void
mir_depthwise_forward_fast (const MirConvGeom *g, const float *x, const float *k,
                            const float *bias, MirActivation act, float *y)
{
  DwCtx d = { 0 };
  g_autofree float *zeros = NULL;
  MirParallelFunc fn = dw_rows_portable;
  gint64 span, hi;

  if (bias == NULL)
    bias = zeros = g_new0 (float, MAX (g->c, 1));
  d.g = g;
  d.x = x;
  d.k = k;
  d.bias = bias;
  d.act = mir_vec_act_kind_all (act);
  d.act_fn = act;
  d.y = y;
  d.ox_lo = MIN ((g->pad_left + g->sw - 1) / g->sw, g->ow);
  span = g->w - 1 + g->pad_left - (g->kw - 1) * g->dw;
  hi = span < 0 ? 0 : MIN (span / g->sw + 1, g->ow);
  d.ox_hi = MAX (hi, d.ox_lo);
  if (g->dw == 1 && (g->kw == 3 || g->kw == 5) && (g->sw == 1 || g->sw == 2) &&
      g_getenv ("MIRADA_DW_GENERIC") == NULL)
    d.spec = g->kw == 3 ? (g->sw == 1 ? DW_SPEC_K3S1 : DW_SPEC_K3S2)
                        : (g->sw == 1 ? DW_SPEC_K5S1 : DW_SPEC_K5S2);
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    fn = dw_rows_avx512;
  else if (mir_cpu_has_avx2 ())
    fn = dw_rows_avx2;
#endif
  mir_parallel_for (g->n * g->oh, MAX (1, 16384 / MAX (g->ow * g->c, 1)), fn, &d);
  if (d.act == MIR_VEC_ACT_NONE && act != MIR_ACT_LINEAR)
    mir_activation_forward (act, y, y, (gsize) (g->n * g->oh * g->ow * g->c), (gsize) g->c);
}
