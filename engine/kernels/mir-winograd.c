#define G_LOG_DOMAIN "mir-winograd"

#include <string.h>

#include "mir-gemm.h"
#include "mir-parallel.h"
#include "mir-tensor.h"
#include "mir-vec-simd.h"
#include "mir-winograd.h"

/* Input tile side, output tile side, transformed positions. */
#define TI 6
#define TO 4
#define NP (TI * TI)

/* One work item's transformed tiles, V and M together, at most this many
 * floats (8 MiB): its V and M are written and read once, while the
 * transformed kernel (36 c f floats) is read once per item, so items need
 * many tiles when c f is large. */
#define ITEM_FLOATS (G_GINT64_CONSTANT (1) << 21)
#define MIN_TILES 16
#define MAX_TILES 128

gboolean
mir_winograd_applies (const MirConvGeom *g, gint64 filters)
{
  const char *force = g_getenv ("MIRADA_WINOGRAD");
  gint64 tiles = g->n * ((g->oh + TO - 1) / TO) * ((g->ow + TO - 1) / TO);

  if (!(g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1))
    return FALSE;
  /* MIRADA_WINOGRAD=0 or 1 forces the choice (benchmarks, tests). */
  if (force != NULL)
    return force[0] == '1';
  /* Measured layer by layer (2 busy AVX-512 cores, OpenBLAS 0.3.21, min of
   * interleaved runs, im2col / Winograd): VGG16 b1 224x224 64->64 99 / 20 ms,
   * 112x112 128->128 71 / 24, 56x56 256->256 73 / 30, 28x28 256->512 18 /
   * 8.8, 28x28 512->512 70 / 46, but 14x14 512->512 (16 tiles) 20 / 22; seed
   * CNN b16 74x74 32->64 56 / 11, 17x17 128->128 26 / 8.6.  With fewer than
   * 32 tiles the GEMMs have too few rows for the 4x fewer products to pay;
   * with fewer than 16 channels in or out the transforms dominate. */
  return g->c >= 16 && filters >= 16 && tiles >= 32 && g->oh >= 2 && g->ow >= 2;
}

gsize
mir_winograd_kernel_size (gint64 c, gint64 f)
{
  return NP * (gsize) c * (gsize) f;
}

/* G of F(4x4, 3x3) (Lavin & Gray), interpolation points 0, +-1, +-2, inf. */
static const double wg[TI][3] = {
  { 1.0 / 4, 0, 0 },
  { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
  { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
  { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
  { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
  { 0, 0, 1 },
};

void
mir_winograd_pack_kernel (const float *k, gint64 c, gint64 f, float *u)
{
  gsize cf = (gsize) c * (gsize) f;

  for (gint64 ci = 0; ci < c; ci++)
    for (gint64 j = 0; j < f; j++)
      {
        double t[TI][3];
        gsize at = (gsize) ci * (gsize) f + (gsize) j;

        /* t = G g, then U = t G^T, in double */
        for (guint y = 0; y < TI; y++)
          for (guint x = 0; x < 3; x++)
            t[y][x] = wg[y][0] * k[(0 + x) * cf + at] + wg[y][1] * k[(3 + x) * cf + at] +
                      wg[y][2] * k[(6 + x) * cf + at];
        for (guint y = 0; y < TI; y++)
          for (guint x = 0; x < TI; x++)
            u[(y * TI + x) * cf + at] =
              (float) (t[y][0] * wg[x][0] + t[y][1] * wg[x][1] + t[y][2] * wg[x][2]);
      }
}

static inline MIR_ALWAYS_INLINE MirV8
load_n (const float *p, gint64 n)
{
  MirV8 v = mir_v8_splat (0.0f);

  if (n >= 8)
    return mir_v8_load (p);
  memcpy (&v, p, (gsize) n * sizeof (float));
  return v;
}

/* B^T applied to a column (or row) of 6: d0..d5 -> r0..r5. */
static inline MIR_ALWAYS_INLINE void
bt6 (const MirV8 *d, MirV8 *r)
{
  MirV8 a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];
  MirV8 e = d[4] - d[2], h = 2.0f * (d[3] - d[1]);

  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = a + b;
  r[2] = a - b;
  r[3] = e + h;
  r[4] = e - h;
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* A^T applied to a column (or row) of 6: m0..m5 -> s0..s3. */
static inline MIR_ALWAYS_INLINE void
at6 (const MirV8 *m, MirV8 *s)
{
  MirV8 p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], t = m[3] - m[4];

  s[0] = m[0] + p + r;
  s[1] = q + 2.0f * t;
  s[2] = p + 4.0f * r;
  s[3] = q + 8.0f * t + m[5];
}

/* V[p][0..c) = (B^T d B)[p] for the 6x6 input pixels @d (zeros outside). */
static inline MIR_ALWAYS_INLINE void
input_tile_body (const float *const *d, gint64 c, float *v, gsize vstride)
{
  for (gint64 k = 0; k < c; k += 8)
    {
      gint64 nk = MIN (8, c - k);
      MirV8 t[TI][TI];

      MIR_UNROLL for (int j = 0; j < TI; j++)
        {
          MirV8 col[TI], r[TI];

          MIR_UNROLL for (int i = 0; i < TI; i++)
            col[i] = load_n (d[i * TI + j] + k, nk);
          bt6 (col, r);
          MIR_UNROLL for (int i = 0; i < TI; i++)
            t[i][j] = r[i];
        }
      MIR_UNROLL for (int i = 0; i < TI; i++)
        {
          MirV8 r[TI];

          bt6 (t[i], r);
          MIR_UNROLL for (int j = 0; j < TI; j++)
            mir_v8_store_n (v + (gsize) (i * TI + j) * vstride + (gsize) k, r[j], nk);
        }
    }
}

/* The 4x4 outputs (A^T M A + bias, activated) of one tile; y[i] NULL for
 * outputs past the image edge. */
static inline MIR_ALWAYS_INLINE void
output_tile_body (const float *m, gsize mstride, gint64 f, const float *bias, int act,
                  float *const *y)
{
  for (gint64 k = 0; k < f; k += 8)
    {
      gint64 nk = MIN (8, f - k);
      MirV8 s[TO][TI];
      MirV8 b = load_n (bias + k, nk);

      MIR_UNROLL for (int j = 0; j < TI; j++)
        {
          MirV8 col[TI], r[TO];

          MIR_UNROLL for (int i = 0; i < TI; i++)
            col[i] = load_n (m + (gsize) (i * TI + j) * mstride + (gsize) k, nk);
          at6 (col, r);
          MIR_UNROLL for (int i = 0; i < TO; i++)
            s[i][j] = r[i];
        }
      MIR_UNROLL for (int i = 0; i < TO; i++)
        {
          MirV8 r[TO];

          at6 (s[i], r);
          MIR_UNROLL for (int j = 0; j < TO; j++)
            if (y[i * TO + j] != NULL)
              mir_v8_store_n (y[i * TO + j] + k, mir_v8_act (r[j] + b, act), nk);
        }
    }
}

typedef struct
{
  const MirConvGeom *g;
  const float *x, *u, *zeros, *bias;
  float *z;
  gint64 f, th, tw, total;
  gint64 tb;        /* tiles an item */
  gint64 nfs, fsw;  /* filter slices an item, and their width */
  int act;
  gboolean avx2;
  /* one scratch buffer per thread: V [NP][tb][c], M [NP][tb][fsw] */
  guint n_slots;
  float **slot;
  gint *busy;       /* atomic */
} Ctx;

typedef void (*TileFunc) (const Ctx *c, gint64 t0, gint64 nt, gint64 f0, gint64 fc, float *v,
                          float *m);

/* Output pixel pointers of tile @idx (NULL past the edge), or input ones. */
static void
tile_pointers (const Ctx *c, gint64 idx, gboolean input, gint64 f0, const float **d, float **y)
{
  const MirConvGeom *g = c->g;
  gint64 n = idx / (c->th * c->tw), r = idx % (c->th * c->tw);
  gint64 ty = r / c->tw, tx = r % c->tw;

  if (input)
    {
      gint64 y0 = TO * ty - g->pad_top, x0 = TO * tx - g->pad_left;
      const float *xn = c->x + (gsize) n * (gsize) (g->h * g->w * g->c);

      for (gint64 i = 0; i < TI; i++)
        for (gint64 j = 0; j < TI; j++)
          {
            gint64 iy = y0 + i, ix = x0 + j;
            d[i * TI + j] = (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                              ? c->zeros
                              : xn + ((gsize) iy * (gsize) g->w + (gsize) ix) * (gsize) g->c;
          }
      return;
    }
  for (gint64 i = 0; i < TO; i++)
    for (gint64 j = 0; j < TO; j++)
      {
        gint64 oy = TO * ty + i, ox = TO * tx + j;
        y[i * TO + j] = (oy < g->oh && ox < g->ow)
                          ? c->z + (((gsize) n * (gsize) g->oh + (gsize) oy) * (gsize) g->ow +
                                    (gsize) ox) * (gsize) c->f + (gsize) f0
                          : NULL;
      }
}

#define DEFINE_TRANSFORMS(SUFFIX, ATTR)                                                      \
  static ATTR void                                                                           \
  input_block_##SUFFIX (const Ctx *c, gint64 t0, gint64 nt, gint64 f0, gint64 fc, float *v,  \
                        float *m)                                                            \
  {                                                                                          \
    gsize vstride = (gsize) (nt * c->g->c);                                                  \
    for (gint64 t = 0; t < nt; t++)                                                          \
      {                                                                                      \
        const float *d[NP];                                                                  \
        tile_pointers (c, t0 + t, TRUE, 0, d, NULL);                                         \
        input_tile_body (d, c->g->c, v + (gsize) (t * c->g->c), vstride);                    \
      }                                                                                      \
  }                                                                                          \
  static ATTR void                                                                           \
  output_block_##SUFFIX (const Ctx *c, gint64 t0, gint64 nt, gint64 f0, gint64 fc, float *v, \
                         float *m)                                                           \
  {                                                                                          \
    gsize mstride = (gsize) (nt * fc);                                                       \
    for (gint64 t = 0; t < nt; t++)                                                          \
      {                                                                                      \
        float *y[TO * TO];                                                                   \
        tile_pointers (c, t0 + t, FALSE, f0, NULL, y);                                       \
        output_tile_body (m + (gsize) (t * fc), mstride, fc, c->bias + f0, c->act, y);       \
      }                                                                                      \
  }

DEFINE_TRANSFORMS (generic, )
#if MIR_HAVE_AVX2_CLONES
DEFINE_TRANSFORMS (avx2, MIR_TARGET_AVX2)
#endif

static guint
slot_take (const Ctx *c)
{
  for (;;)
    {
      for (guint s = 0; s < c->n_slots; s++)
        if (g_atomic_int_compare_and_exchange (&c->busy[s], 0, 1))
          return s;
      g_thread_yield (); /* only if the thread count changed meanwhile */
    }
}

/* Items: tile blocks x filter slices.  Each transforms its tiles into its
 * thread's buffer, runs the 36 GEMMs there (OpenBLAS single-threaded) and
 * writes its outputs. */
static void
items (gint64 begin, gint64 end, gpointer data)
{
  const Ctx *c = data;
  guint s = slot_take (c);
  float *v = c->slot[s];
  float *m = v + NP * (gsize) c->tb * (gsize) c->g->c;
  TileFunc in_fn = input_block_generic, out_fn = output_block_generic;
  gint64 cc = c->g->c, last_block = -1;

#if MIR_HAVE_AVX2_CLONES
  if (c->avx2)
    {
      in_fn = input_block_avx2;
      out_fn = output_block_avx2;
    }
#endif
  for (gint64 it = begin; it < end; it++)
    {
      gint64 blk = it / c->nfs, f0 = (it % c->nfs) * c->fsw;
      gint64 t0 = blk * c->tb, nt = MIN (c->tb, c->total - t0), fc = MIN (c->fsw, c->f - f0);

      if (blk != last_block)
        in_fn (c, t0, nt, 0, 0, v, NULL);
      last_block = blk;
      for (guint p = 0; p < NP; p++)
        mir_gemm (FALSE, FALSE, nt, fc, cc, 1.0f, v + p * (gsize) (nt * cc), cc,
                  c->u + p * (gsize) cc * (gsize) c->f + (gsize) f0, c->f, 0.0f,
                  m + p * (gsize) (nt * fc), fc);
      out_fn (c, t0, nt, f0, fc, NULL, m);
    }
  g_atomic_int_set (&c->busy[s], 0);
}

/* Tiles an item for filter slices of width @fsw. */
static gint64
tiles_per_item (const MirConvGeom *g, gint64 fsw, gint64 total)
{
  gint64 tb = CLAMP (ITEM_FLOATS / (NP * (g->c + fsw)), MIN_TILES, MAX_TILES);
  gint64 nb = (total + tb - 1) / tb;

  return (total + nb - 1) / nb; /* even blocks */
}

gboolean
mir_winograd_conv (const MirConvGeom *g, const float *x, const float *u, gint64 f,
                   const float *bias, MirActivation act, float *z, GError **error)
{
  guint threads = mir_parallel_threads ();
  Ctx c = { 0 };
  gint64 nb;
  gsize per_slot;
  float *zeros;
  gboolean ok = TRUE;

  c.g = g;
  c.x = x;
  c.u = u;
  c.z = z;
  c.f = f;
  c.th = (g->oh + TO - 1) / TO;
  c.tw = (g->ow + TO - 1) / TO;
  c.total = g->n * c.th * c.tw;
  c.act = mir_vec_act_kind (act);
  c.nfs = 1;
  c.fsw = f;
  c.tb = tiles_per_item (g, f, c.total);
  nb = (c.total + c.tb - 1) / c.tb;
  /* Too few blocks to keep every thread busy: split the filters too (each
   * slice transforms its block's input again, cheap next to its GEMMs). */
  if (nb < 2 * (gint64) threads && f >= 32 * (gint64) threads)
    {
      c.nfs = (2 * (gint64) threads + nb - 1) / nb;
      c.fsw = ((f + c.nfs - 1) / c.nfs + 15) / 16 * 16;
      c.nfs = (f + c.fsw - 1) / c.fsw;
      c.tb = tiles_per_item (g, c.fsw, c.total);
      nb = (c.total + c.tb - 1) / c.tb;
    }
#if MIR_HAVE_AVX2_CLONES
  c.avx2 = mir_cpu_has_avx2 ();
#endif

  zeros = mir_alloc_floats ((gsize) (g->c + f), error);
  if (zeros == NULL)
    return FALSE;
  memset (zeros, 0, (gsize) (g->c + f) * sizeof (float));
  c.zeros = zeros;
  if (bias == NULL)
    bias = zeros;
  c.bias = bias;
  c.n_slots = threads;
  c.slot = g_new0 (float *, threads);
  c.busy = g_new0 (gint, threads);
  per_slot = NP * (gsize) c.tb * (gsize) (g->c + c.fsw);
  for (guint s = 0; s < threads && ok; s++)
    ok = (c.slot[s] = mir_alloc_floats (per_slot, error)) != NULL;
  if (ok)
    mir_parallel_for_gemm (nb * c.nfs, 1, items, &c);
  for (guint s = 0; s < threads; s++)
    mir_free_floats (c.slot[s]);
  g_free (c.slot);
  g_free (c.busy);
  mir_free_floats (zeros);
  if (ok && c.act == MIR_VEC_ACT_NONE && act != MIR_ACT_LINEAR)
    mir_activation_forward (act, z, z, (gsize) (g->n * g->oh * g->ow * f), (gsize) f);
  return ok;
}
