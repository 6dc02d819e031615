#define G_LOG_DOMAIN "mir-winograd"

#include <string.h>

#include "mir-gemm.h"
#include "mir-parallel.h"
#include "mir-winograd.h"
#include "mir-tensor.h"

/* Upper bound of one block's transformed tiles, V and M together, in floats
 * (32 MiB): small enough to stay near the cache, large enough for GEMMs. */
#define WINO_BLOCK_FLOATS (G_GINT64_CONSTANT (1) << 23)

/* Tiles a block at most (enough rows for OpenBLAS' GEMM kernels). */
#define WINO_MAX_TILES 512

gboolean
mir_winograd_applies (const MirConvGeom *g, gint64 filters)
{
  /* Measured on VGG16 (2 cores, AVX-512, OpenBLAS): with fewer than 256
   * channels in or out, the 16 GEMMs have k or n too small for OpenBLAS to
   * run near its peak and the (memory-bound) transforms eat the 2.25x fewer
   * products; from 256 on it wins (512 channels: 57 -> 47 ms a layer). */
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1 &&
         g->c >= 256 && filters >= 256 && g->oh >= 2 && g->ow >= 2;
}

gsize
mir_winograd_kernel_size (gint64 c, gint64 f)
{
  return 16 * (gsize) c * (gsize) f;
}

void
mir_winograd_pack_kernel (const float *k, gint64 c, gint64 f, float *u)
{
  gsize cf = (gsize) c * (gsize) f;

  for (gint64 ci = 0; ci < c; ci++)
    {
      const float *g[9];
      float *o[16];

      for (guint q = 0; q < 9; q++)
        g[q] = k + q * cf + (gsize) ci * (gsize) f;
      for (guint p = 0; p < 16; p++)
        o[p] = u + p * cf + (gsize) ci * (gsize) f;
      for (gint64 j = 0; j < f; j++)
        {
          float t[4][3], r[4][4];

          /* t = G g: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 */
          for (guint x = 0; x < 3; x++)
            {
              float g0 = g[0 + x][j], g1 = g[3 + x][j], g2 = g[6 + x][j];
              t[0][x] = g0;
              t[1][x] = 0.5f * (g0 + g1 + g2);
              t[2][x] = 0.5f * (g0 - g1 + g2);
              t[3][x] = g2;
            }
          /* r = t G^T */
          for (guint y = 0; y < 4; y++)
            {
              r[y][0] = t[y][0];
              r[y][1] = 0.5f * (t[y][0] + t[y][1] + t[y][2]);
              r[y][2] = 0.5f * (t[y][0] - t[y][1] + t[y][2]);
              r[y][3] = t[y][2];
            }
          for (guint p = 0; p < 16; p++)
            o[p][j] = r[p / 4][p % 4];
        }
    }
}

/* V[p][row][0..c) = (B^T d B)[p] for the 4x4 input tile at rows y0.., cols x0..
 * (pixels outside the image read as zeros). */
static void
input_tile (const MirConvGeom *g, const float *xn, gint64 y0, gint64 x0, const float *zeros,
            float *v, gsize vstride)
{
  const float *d[16];
  gsize c = (gsize) g->c;

  for (guint i = 0; i < 4; i++)
    for (guint j = 0; j < 4; j++)
      {
        gint64 iy = y0 + i, ix = x0 + j;
        d[i * 4 + j] = (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                         ? zeros
                         : xn + ((gsize) iy * (gsize) g->w + (gsize) ix) * c;
      }
  for (gsize k = 0; k < c; k++)
    {
      float t[4][4];

      /* t = B^T d (over rows), then v = t B (over columns) */
      for (guint j = 0; j < 4; j++)
        {
          float d0 = d[0 + j][k], d1 = d[4 + j][k], d2 = d[8 + j][k], d3 = d[12 + j][k];
          t[0][j] = d0 - d2;
          t[1][j] = d1 + d2;
          t[2][j] = d2 - d1;
          t[3][j] = d1 - d3;
        }
      for (guint i = 0; i < 4; i++)
        {
          v[(i * 4 + 0) * vstride + k] = t[i][0] - t[i][2];
          v[(i * 4 + 1) * vstride + k] = t[i][1] + t[i][2];
          v[(i * 4 + 2) * vstride + k] = t[i][2] - t[i][1];
          v[(i * 4 + 3) * vstride + k] = t[i][1] - t[i][3];
        }
    }
}

static inline float
epilogue (float v, MirActivation act)
{
  if (act == MIR_ACT_RELU)
    return v > 0.0f ? v : 0.0f;
  if (act == MIR_ACT_RELU6)
    return v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
  return v;
}

/* The 2x2 outputs (A^T M A + bias, activated) of one tile. */
static void
output_tile (const float *m, gsize mstride, gint64 f, const float *bias, MirActivation act,
             float *y00, float *y01, float *y10, float *y11)
{
  for (gint64 k = 0; k < f; k++)
    {
      float s[2][4], b = bias ? bias[k] : 0.0f;

      for (guint j = 0; j < 4; j++)
        {
          float m0 = m[(0 + j) * mstride + k], m1 = m[(4 + j) * mstride + k];
          float m2 = m[(8 + j) * mstride + k], m3 = m[(12 + j) * mstride + k];
          s[0][j] = m0 + m1 + m2;
          s[1][j] = m1 - m2 - m3;
        }
      y00[k] = epilogue (s[0][0] + s[0][1] + s[0][2] + b, act);
      y01[k] = epilogue (s[0][1] - s[0][2] - s[0][3] + b, act);
      y10[k] = epilogue (s[1][0] + s[1][1] + s[1][2] + b, act);
      y11[k] = epilogue (s[1][1] - s[1][2] - s[1][3] + b, act);
    }
}

/* One block's tiles, shared by the threads doing its transforms. */
typedef struct
{
  const MirConvGeom *g;
  const float *x;
  const float *zeros;
  float *v, *m, *z;
  gsize vstride, mstride;
  gint64 f, th, tw, t0;
  const float *bias;
  MirActivation act;
} WinoJob;

static void
input_chunk (gint64 begin, gint64 end, gpointer data)
{
  const WinoJob *j = data;
  const MirConvGeom *g = j->g;

  for (gint64 t = begin; t < end; t++)
    {
      gint64 idx = j->t0 + t, n = idx / (j->th * j->tw), r = idx % (j->th * j->tw);
      gint64 ty = r / j->tw, tx = r % j->tw;
      const float *xn = j->x + (gsize) n * (gsize) (g->h * g->w * g->c);

      input_tile (g, xn, 2 * ty - g->pad_top, 2 * tx - g->pad_left, j->zeros,
                  j->v + (gsize) t * (gsize) g->c, j->vstride);
    }
}

static void
output_chunk (gint64 begin, gint64 end, gpointer data)
{
  const WinoJob *j = data;
  const MirConvGeom *g = j->g;
  gint64 f = j->f;
  /* Outputs past the image edge go to a scratch row of this chunk. */
  g_autofree float *junk = g_new (float, f);

  for (gint64 t = begin; t < end; t++)
    {
      gint64 idx = j->t0 + t, n = idx / (j->th * j->tw), r = idx % (j->th * j->tw);
      gint64 oy = 2 * (r / j->tw), ox = 2 * (r % j->tw);
      float *zn = j->z + (gsize) n * (gsize) (g->oh * g->ow * f);
      float *y[4];

      for (guint a = 0; a < 2; a++)
        for (guint b = 0; b < 2; b++)
          y[a * 2 + b] = (oy + a < g->oh && ox + b < g->ow)
                           ? zn + ((gsize) (oy + a) * (gsize) g->ow + (gsize) (ox + b)) *
                                    (gsize) f
                           : junk;
      output_tile (j->m + (gsize) t * (gsize) f, j->mstride, f, j->bias, j->act, y[0], y[1],
                   y[2], y[3]);
    }
}

gboolean
mir_winograd_conv (const MirConvGeom *g, const float *x, const float *u, gint64 f,
                   const float *bias, MirActivation act, float *z, GError **error)
{
  gint64 th = (g->oh + 1) / 2, tw = (g->ow + 1) / 2;
  gint64 total = g->n * th * tw;
  gint64 tb = CLAMP (WINO_BLOCK_FLOATS / (16 * (g->c + f)), 16, MIN (WINO_MAX_TILES, total));
  gsize vstride = (gsize) tb * (gsize) g->c, mstride = (gsize) tb * (gsize) f;
  gboolean fused = act == MIR_ACT_LINEAR || act == MIR_ACT_RELU || act == MIR_ACT_RELU6;
  MirActivation eact = fused ? act : MIR_ACT_LINEAR;
  float *v, *m, *zeros;
  WinoJob job;
  gint64 grain;

  v = mir_alloc_floats (16 * vstride + 16 * mstride + (gsize) g->c, error);
  if (v == NULL)
    return FALSE;
  m = v + 16 * vstride;
  zeros = m + 16 * mstride;
  memset (zeros, 0, (gsize) g->c * sizeof (float));
  job = (WinoJob) { .g = g, .x = x, .zeros = zeros, .v = v, .m = m, .z = z,
                    .vstride = vstride, .mstride = mstride, .f = f, .th = th, .tw = tw,
                    .bias = bias, .act = eact };
  grain = MAX (1, 4096 / MAX (g->c + f, 1));

  for (gint64 t0 = 0; t0 < total; t0 += tb)
    {
      gint64 nt = MIN (tb, total - t0);

      job.t0 = t0;
      mir_parallel_for (nt, grain, input_chunk, &job);
      for (guint p = 0; p < 16; p++)
        mir_gemm (FALSE, FALSE, nt, f, g->c, 1.0f, v + p * vstride, g->c,
                  u + p * (gsize) g->c * (gsize) f, f, 0.0f, m + p * mstride, f);
      mir_parallel_for (nt, grain, output_chunk, &job);
    }
  mir_free_floats (v);
  if (!fused)
    mir_activation_forward (act, z, z, (gsize) (g->n * g->oh * g->ow * f), (gsize) f);
  return TRUE;
}
