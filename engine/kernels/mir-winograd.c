#define G_LOG_DOMAIN "mir-winograd"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-act-vec.h"
#include "mir-parallel.h"
#include "mir-tensor.h"
#include "mir-vec-simd.h"
#include "mir-winograd.h"

/* Input tile side, output tile side, transformed positions. */
#define TI 6
#define TO 4
#define NP (TI * TI)
/* Filters a panel of the packed kernel (the GEMM micro-kernel's width). */
#define NR 32
/* Channels a micro-kernel call sums from zero (then adds to M). */
#define KC 64

/* Tiles a work item.  Its V and M should stay in the L2, but each item
 * streams its slice of the packed kernel (36 c f floats) once, so a large
 * slice wants many tiles: up to SMALL_ITEM floats of V and M (512 KiB) and
 * from 16 tiles while the slice has at most SMALL_SLICE floats (4 MiB), else
 * up to LARGE_ITEM floats (16 MiB) and from 32 tiles; at most 128.  One busy
 * core, CPU time, small / large items: 224x224 64->64 9.6 / 11.0 ms,
 * 112x112 128->128 9.1 / 10.2, 56x56 256->256 8.3 / 8.1, 28x28 512->512
 * 12.3 / 9.7, 8 x 14x14 512->512 26.1 / 21.4. */
#define SMALL_ITEM (G_GINT64_CONSTANT (1) << 17)
#define SMALL_SLICE (G_GINT64_CONSTANT (1) << 20)
#define LARGE_ITEM (G_GINT64_CONSTANT (1) << 22)
#define MAX_TILES 128
/* Fewest rows a 1x1 convolution's item. */
#define WT_ROWS_MIN 8

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
  /* Measured with the packed micro-kernel (one busy AVX-512 core, CPU time,
   * OpenBLAS 0.3.21, im2col / Winograd): 224x224 64->64 (VGG16) 60 / 10 ms,
   * 14x14 512->512 8.3 / 3.4, 7x7 512->512 3.4 / 2.6, 4x4 128->128 0.062 /
   * 0.052, 32x32 16->16 0.083 / 0.030, 8->32 0.074 / 0.050, 32->8 0.12 /
   * 0.068; Winograd loses on 8->8 (0.048 / 0.062) and where most of a tile
   * is outside the output: 3x3 256->256 (one tile, 9 of 16 outputs used)
   * 0.28 / 0.33, 2x2 64->64 a draw. */
  return g->c >= 8 && filters >= 8 && g->c * filters >= 256 &&
         g->n * g->oh * g->ow * 8 >= tiles * TO * TO * 5;
}

static inline gint64
round_nr (gint64 f)
{
  return (f + NR - 1) / NR * NR;
}

gsize
mir_winograd_kernel_size (gint64 c, gint64 f)
{
  return NP * (gsize) c * (gsize) round_nr (f);
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
  gsize panel = (gsize) c * NR, plane = panel * (gsize) (round_nr (f) / NR);

  memset (u, 0, mir_winograd_kernel_size (c, f) * sizeof (float));
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
            u[(y * TI + x) * plane + (gsize) (j / NR) * panel + (gsize) ci * NR + (gsize) (j % NR)] =
              (float) (t[y][0] * wg[x][0] + t[y][1] * wg[x][1] + t[y][2] * wg[x][2]);
      }
}

/* Floats between the 36 planes of V or M (@nt rows of @width): an odd
 * number of cache lines, so that the planes a tile is written to or read
 * from do not all fall in the same L1 set (a power-of-two plane size would
 * alias them). */
static inline gsize
plane_floats (gint64 nt, gint64 width)
{
  gsize s = ((gsize) nt * (gsize) width + 15) / 16 * 16;

  return (s / 16) % 2 == 0 ? s + 16 : s;
}

typedef struct
{
  const MirConvGeom *g;
  const float *x, *u, *zeros, *bias;
  float *z;
  gint64 f, th, tw, total;
  gint64 tb;        /* tiles an item */
  gint64 nfs, fsw;  /* filter slices an item, and their width (a multiple of NR) */
  gint64 nfb;       /* panels of NR filters in the packed kernel */
  int act;          /* MIR_VEC_ACT_* */
  int isa;          /* ISA_* */
  gint failed;      /* atomic: a scratch buffer could not be allocated */
} Ctx;

/* A 1x1 convolution (mir_pointwise_conv()): items of @rb rows x a slice
 * of @fsw filters. */
typedef struct
{
  const float *x, *u, *bias;
  float *z;
  gint64 rows, c, f, rb, nfs, fsw;
  gint64 nrb, unit;      /* row blocks, and the rows their bounds are multiples of */
  int act;               /* MIR_VEC_ACT_*, in registers */
  MirActivation after;   /* applied to each item's block after it, or LINEAR */
  int isa;
  gint failed;
} PwCtx;

enum
{
  ISA_GENERIC,
  ISA_AVX2,
  ISA_AVX512,
};

/* Input pixel pointers of tile @idx (zeros outside the image) into @d, or
 * output ones from filter @f0 (NULL past the edge) into @y. */
static inline void
tile_pointers (const Ctx *c, gint64 idx, const float **d, float **y, gint64 f0)
{
  const MirConvGeom *g = c->g;
  gint64 n = idx / (c->th * c->tw), r = idx % (c->th * c->tw);
  gint64 ty = r / c->tw, tx = r % c->tw;

  if (d != NULL)
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

typedef float WtV8 __attribute__ ((vector_size (32)));
typedef gint32 WtV8i __attribute__ ((vector_size (32)));

#define WT_SUFFIX generic
#define WT_ATTR
#define WT_V WtV8
#define WT_VI WtV8i
#define WT_W 8
#define WT_MR 3
#define WT_NC 16
#include "mir-winograd-tmpl.h"

#if MIR_HAVE_AVX2_CLONES
typedef float WtV16 __attribute__ ((vector_size (64)));
typedef gint32 WtV16i __attribute__ ((vector_size (64)));

#define WT_SUFFIX avx2
#define WT_ATTR MIR_TARGET_AVX2
#define WT_V WtV8
#define WT_VI WtV8i
#define WT_W 8
#define WT_MR 6
#define WT_NC 16
#include "mir-winograd-tmpl.h"

#define WT_SUFFIX avx512
#define WT_ATTR __attribute__ ((target ("avx512f,fma")))
#define WT_V WtV16
#define WT_VI WtV16i
#define WT_W 16
#define WT_MR 8
#define WT_NC 32
#include "mir-winograd-tmpl.h"
#endif

/* Each thread's scratch (V and M of its item), kept between calls. */
static GPrivate scratch_key = G_PRIVATE_INIT (mir_thread_scratch_free);

static float *
scratch_get (gsize n)
{
  return mir_thread_scratch (&scratch_key, n, NULL);
}

/* Items: tile blocks x filter slices.  Each transforms its tiles into its
 * thread's scratch, runs the 36 products there (gemm_block) and
 * writes its outputs. */
static void
items (gint64 begin, gint64 end, gpointer data)
{
  Ctx *c = data;
  gint64 cc = c->g->c;
  gsize vsize = NP * plane_floats (c->tb, cc);
  float *v = scratch_get (vsize + NP * plane_floats (c->tb, round_nr (c->fsw)));
  float *m = v + vsize;

  if (v == NULL)
    {
      g_atomic_int_set (&c->failed, 1);
      return;
    }
  for (gint64 it = begin; it < end; it++)
    {
      gint64 blk = it / c->nfs, f0 = (it % c->nfs) * c->fsw;
      gint64 t0 = blk * c->tb, nt = MIN (c->tb, c->total - t0), fc = MIN (c->fsw, c->f - f0);

#if MIR_HAVE_AVX2_CLONES
      if (c->isa == ISA_AVX512)
        {
          input_block_avx512 (c, t0, nt, v);
          gemm_block_avx512 (c, nt, f0, fc, v, m);
          output_block_avx512 (c, t0, nt, f0, fc, m);
          continue;
        }
      if (c->isa == ISA_AVX2)
        {
          input_block_avx2 (c, t0, nt, v);
          gemm_block_avx2 (c, nt, f0, fc, v, m);
          output_block_avx2 (c, t0, nt, f0, fc, m);
          continue;
        }
#endif
      input_block_generic (c, t0, nt, v);
      gemm_block_generic (c, nt, f0, fc, v, m);
      output_block_generic (c, t0, nt, f0, fc, m);
    }
}

/* Tiles an item for filter slices of width @fsw. */
static gint64
tiles_per_item (const MirConvGeom *g, gint64 fsw, gint64 total)
{
  gboolean small = NP * g->c * fsw <= SMALL_SLICE;
  gint64 tb = CLAMP ((small ? SMALL_ITEM : LARGE_ITEM) / (NP * (g->c + fsw)), small ? 16 : 32,
                     MAX_TILES);
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
  float *zeros;

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
  c.nfb = round_nr (f) / NR;
  c.tb = tiles_per_item (g, f, c.total);
  nb = (c.total + c.tb - 1) / c.tb;
  /* Too few blocks to keep every thread busy: split the filters too (each
   * slice transforms its block's input again, cheap next to its GEMMs). */
  if (nb < 2 * (gint64) threads && f >= 32 * (gint64) threads)
    {
      c.nfs = (2 * (gint64) threads + nb - 1) / nb;
      c.fsw = round_nr ((f + c.nfs - 1) / c.nfs);
      c.nfs = (f + c.fsw - 1) / c.fsw;
      c.tb = tiles_per_item (g, c.fsw, c.total);
      nb = (c.total + c.tb - 1) / c.tb;
    }
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx2 ())
    c.isa = mir_cpu_has_avx512 () ? ISA_AVX512 : ISA_AVX2;
#endif

  zeros = mir_alloc_floats ((gsize) (g->c + f), error);
  if (zeros == NULL)
    return FALSE;
  memset (zeros, 0, (gsize) (g->c + f) * sizeof (float));
  c.zeros = zeros;
  c.bias = bias != NULL ? bias : zeros;
  mir_parallel_for (nb * c.nfs, 1, items, &c);
  mir_free_floats (zeros);
  if (g_atomic_int_get (&c.failed))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory for the Winograd convolution's work buffers"));
      return FALSE;
    }
  if (c.act == MIR_VEC_ACT_NONE && act != MIR_ACT_LINEAR)
    mir_activation_forward (act, z, z, (gsize) (g->n * g->oh * g->ow * f), (gsize) f);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* 1x1 convolutions on the same micro-kernel */

gboolean
mir_pointwise_applies (gint64 rows, gint64 c, gint64 f)
{
  const char *force = g_getenv ("MIRADA_POINTWISE");

  if (force != NULL)
    return force[0] == '1';
  /* measured against OpenBLAS through mir_gemm: see mir-winograd.h */
  return rows >= 1 && c >= 8 && f >= 8;
}

gsize
mir_pointwise_kernel_size (gint64 c, gint64 f)
{
  return (gsize) c * (gsize) round_nr (f);
}

/* Row ci of each panel is NR consecutive floats of the kernel's row ci
 * (times its scale), zeros past the last filter: one vectorised loop a
 * panel row.  At batch 1 a squeeze-and-excitation projection packs its
 * scaled kernel before every run (EfficientNetB0: 16 of them, up to
 * 1152 x 320 floats); the element-wise loop with a division and a
 * remainder each, after a memset of the whole buffer, took 1.4 % of the
 * network's time there, and on one thread 1.3 % still (perf, one thread):
 * the rows are split over the threads. */
typedef struct
{
  const float *k, *scale;
  gint64 c, f;
  float *u;
} PackCtx;

/* Kernel rows [begin, end): each writes its own row of every panel. */
static void
pack_rows (gint64 begin, gint64 end, gpointer data)
{
  const PackCtx *p = data;
  gsize panel = (gsize) p->c * NR;

  for (gint64 ci = begin; ci < end; ci++)
    {
      const float *kr = p->k + (gsize) ci * (gsize) p->f;
      float sc = p->scale != NULL ? p->scale[ci] : 1.0f;

      for (gint64 j0 = 0; j0 < p->f; j0 += NR)
        {
          float *o = p->u + (gsize) (j0 / NR) * panel + (gsize) ci * NR;
          gint64 nj = MIN (NR, p->f - j0);

          if (nj == NR)
            for (int j = 0; j < NR; j++)
              o[j] = kr[j0 + j] * sc;
          else
            for (int j = 0; j < NR; j++)
              o[j] = j < nj ? kr[j0 + j] * sc : 0.0f;
        }
    }
}

void
mir_pointwise_pack_kernel (const float *k, const float *scale, gint64 c, gint64 f, float *u)
{
  PackCtx p = { k, scale, c, f, u };

  /* split where it is worth a meeting of the threads (about 32 K values a
   * chunk: the 1152 x 192 projections of EfficientNetB0's last blocks);
   * inside a parallel loop this runs on the caller's thread */
  mir_parallel_for (c, MAX (32768 / MAX (f, 1), 16), pack_rows, &p);
}

static void
pw_items (gint64 begin, gint64 end, gpointer data)
{
  PwCtx *c = data;
  float *m = scratch_get ((gsize) (c->rb * round_nr (c->fsw)));

  if (m == NULL)
    {
      g_atomic_int_set (&c->failed, 1);
      return;
    }
  for (gint64 it = begin; it < end; it++)
    {
      gint64 units = (c->rows + c->unit - 1) / c->unit, rbi = it / c->nfs;
      gint64 r0 = rbi * units / c->nrb * c->unit;
      gint64 r1 = MIN ((rbi + 1) * units / c->nrb * c->unit, c->rows);
      gint64 f0 = (it % c->nfs) * c->fsw;
      gint64 nr = r1 - r0, fc = MIN (c->fsw, c->f - f0);

#if MIR_HAVE_AVX2_CLONES
      if (c->isa == ISA_AVX512)
        {
          pw_item_avx512 (c, r0, nr, f0, fc, m);
          continue;
        }
      if (c->isa == ISA_AVX2)
        {
          pw_item_avx2 (c, r0, nr, f0, fc, m);
          continue;
        }
#endif
      pw_item_generic (c, r0, nr, f0, fc, m);
    }
}

gboolean
mir_pointwise_conv (const float *x, gint64 rows, gint64 c, const float *u, gint64 f,
                    const float *bias, MirActivation act, float *z, GError **error)
{
  guint threads = mir_parallel_threads ();
  PwCtx p = { 0 };
  gint64 nrb;
  float *zeros = NULL;

  p.x = x;
  p.u = u;
  p.z = z;
  p.rows = rows;
  p.c = c;
  p.f = f;
  p.act = mir_vec_act_kind (act);
  p.after = p.act == MIR_VEC_ACT_NONE ? act : MIR_ACT_LINEAR;
  if (p.after != MIR_ACT_LINEAR && !mir_act_vec_supported (p.after))
    p.after = MIR_ACT_LINEAR; /* applied below, over the whole output */
  /* 64 rows an item: their X (64 c floats) and M (64 x 32 a panel) stay in
   * L1/L2 while the panels of U stream past them */
  p.rb = 64;
  p.nfs = 1;
  p.fsw = f;
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx2 ())
    p.isa = mir_cpu_has_avx512 () ? ISA_AVX512 : ISA_AVX2;
#endif
  nrb = (rows + p.rb - 1) / p.rb;
  if (nrb < 2 * (gint64) threads)
    {
      /* few rows (late layers, batch 1): fewer rows an item, then filter slices */
      p.rb = MAX (WT_ROWS_MIN, (rows + 2 * (gint64) threads - 1) / (2 * (gint64) threads));
      nrb = (rows + p.rb - 1) / p.rb;
      if (nrb < 2 * (gint64) threads && f > NR)
        {
          p.nfs = (2 * (gint64) threads + nrb - 1) / nrb;
          p.fsw = round_nr ((f + p.nfs - 1) / p.nfs);
          p.nfs = (f + p.fsw - 1) / p.fsw;
        }
    }
  /* Items the threads take one at a time: a count of row blocks that is a
   * multiple of the threads (times the filter slices), each block's bounds
   * multiples of the micro-kernel's rows, their sizes within one such unit
   * of each other.  Blocks of 64 rows with a short last one left a thread
   * idle: 196 rows (14 x 14 at batch 1) were 64 + 64 against 64 + 4. */
  p.unit = p.isa == ISA_AVX512 ? 8 : p.isa == ISA_AVX2 ? 6 : 3; /* each template's WT_MR */
  if (p.nfs == 1 && nrb % (gint64) threads != 0 && nrb < 16 * (gint64) threads)
    nrb += (gint64) threads - nrb % (gint64) threads;
  nrb = MIN (nrb, (rows + p.unit - 1) / p.unit);
  p.nrb = nrb;
  p.rb = ((rows + p.unit - 1) / p.unit + nrb - 1) / nrb * p.unit;
  if (bias == NULL)
    {
      zeros = mir_alloc_floats ((gsize) f, error);
      if (zeros == NULL)
        return FALSE;
      memset (zeros, 0, (gsize) f * sizeof (float));
    }
  p.bias = bias != NULL ? bias : zeros;
  mir_parallel_for (nrb * p.nfs, 1, pw_items, &p);
  mir_free_floats (zeros);
  if (g_atomic_int_get (&p.failed))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory for the convolution's work buffers"));
      return FALSE;
    }
  if (p.act == MIR_VEC_ACT_NONE && act != MIR_ACT_LINEAR && p.after == MIR_ACT_LINEAR)
    mir_activation_forward (act, z, z, (gsize) (rows * f), (gsize) f);
  return TRUE;
}
