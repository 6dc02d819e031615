/* Conv2D: im2col + sgemm (1x1 stride-1 convolutions as a plain GEMM), kernel
 * in Keras' HWIO layout [kh, kw, in, filters], TensorFlow padding.  Grouped
 * convolutions (Keras "groups", ONNX group; ResNeXt, RegNet): the kernel is
 * [kh, kw, in / groups, filters], filter m seeing the input channels of its
 * group m / (filters / groups); one GEMM a group over that group's columns. */
#define G_LOG_DOMAIN "mir-layer-conv2d"

#include <cblas.h>
#include <pthread.h>

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-layer-fuse.h"
#include "mir-pool.h"
#include "mir-conv-direct.h"
#include "mir-act-vec.h"
#include "mir-conv-util.h"
#include "mir-gemm.h"
#include "mir-im2col.h"
#include "mir-parallel.h"
#include "mir-vec.h"
#include "mir-winograd.h"

/* Upper bound of one im2col block, in floats (16 MiB). */
#define COL_BLOCK_FLOATS (G_GINT64_CONSTANT (1) << 22)

/* Conv output floats a sub-batch of a conv + max pooling step that runs the
 * two layers in turn (1 MiB: half an L2). */
#define POOL_CHUNK_FLOATS (G_GINT64_CONSTANT (1) << 18)

/* The kernel transformed for Winograd (4x the kernel's floats), kept from
 * the second inference run with the same kernel version on
 * (mir_tensor_get_version: a new tensor or any change of its values gives a
 * new one).  The first run transforms it for itself only: a one-shot
 * prediction (`mirada predict` of a VGG) then holds one layer's transform at
 * a time instead of all of them (130 MB for VGG11).  Reference counted: a run
 * keeps its copy even if another thread
 * replaces it. */
typedef struct
{
  guint64 version;
  float *u;
} WinoCache;

typedef struct
{
  MirLayer parent;
  MirWindow win;
  gint64 filters;
  gint64 groups;
  gboolean use_bias;
  pthread_mutex_t lock; /* not GMutex: ThreadSanitizer sees a pthread mutex, and the
                         * packed kernels are fetched from the kernel threads too
                         * (mir-fuse-block.c) */
  WinoCache *wino; /* g_atomic_rc_box */
  guint64 wino_seen;            /* the kernel version a first run transformed for itself */
  WinoCache *wino_back;         /* the turned kernel's transform for the input gradient */
} MirLayerConv2D;

static gboolean
conv2d_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;

  pthread_mutex_init (&self->lock, NULL);
  if (!mir_config_get_int (config, "filters", 0, &self->filters, error) ||
      !mir_config_get_conv_window (config, &self->win, error) ||
      !mir_config_get_bool (config, "use_bias", TRUE, &self->use_bias, error) ||
      !mir_config_get_int (config, "groups", 1, &self->groups, error) ||
      !mir_config_get_activation (layer, config, error))
    return FALSE;
  if (self->filters < 1 || self->filters > (1 << 20))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'filters' must be between 1 and %d, but is %" PRId64),
                   1 << 20, self->filters);
      return FALSE;
    }
  if (self->groups < 1 || self->groups > self->filters || self->filters % self->groups != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'groups' (%" PRId64 ") must divide 'filters' (%" PRId64 ")"),
                   self->groups, self->filters);
      return FALSE;
    }
  return TRUE;
}

static gboolean
conv2d_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;

  return mir_conv_infer (layer, &self->win, in, self->filters, self->groups, FALSE, out, error);
}

static gboolean
conv2d_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;
  gint64 kshape[4] = { self->win.kh, self->win.kw, in->dim[3] / self->groups, self->filters };

  if (in->dim[3] < 1)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the number of input channels must be known, but the input shape is %s"), s);
      return FALSE;
    }
  if (self->win.kh * self->win.kw * in->dim[3] > MIR_GEMM_MAX_DIM)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("a %" PRId64 "x%" PRId64 " kernel over %" PRId64
                     " channels is larger than Mirada accepts"),
                   self->win.kh, self->win.kw, in->dim[3]);
      return FALSE;
    }
  mir_layer_add_weight (layer, "kernel", 4, kshape, TRUE, MIR_INIT_GLOROT_UNIFORM);
  if (self->use_bias)
    mir_layer_add_weight (layer, "bias", 1, &self->filters, TRUE, MIR_INIT_ZEROS);
  return TRUE;
}

static gboolean
is_pointwise (const MirLayerConv2D *self)
{
  return self->win.kh == 1 && self->win.kw == 1 && self->win.sh == 1 && self->win.sw == 1;
}

/* Output rows per im2col block. */
static gint64
block_rows (const MirConvGeom *g)
{
  gint64 row = g->ow * g->kh * g->kw * g->c;
  return CLAMP (COL_BLOCK_FLOATS / MAX (row, 1), 1, g->oh);
}

/* Grouped convolution. */

/* im2col of the @cg channels from @c0 of image @x (rows of kh * kw * cg). */
static void
im2col_group (const MirConvGeom *g, const float *x, gint64 c0, gint64 cg, gint64 oy0,
              gint64 oy1, float *col, gboolean back)
{
  gsize row = (gsize) (g->kh * g->kw * cg);

  for (gint64 oy = oy0; oy < oy1; oy++)
    for (gint64 ox = 0; ox < g->ow; ox++)
      {
        float *r = col + (gsize) ((oy - oy0) * g->ow + ox) * row;

        for (gint64 ky = 0; ky < g->kh; ky++)
          {
            gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
            for (gint64 kx = 0; kx < g->kw; kx++)
              {
                gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
                float *d = r + (gsize) ((ky * g->kw + kx) * cg);
                gboolean in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
                const float *src = in ? x + (gsize) ((iy * g->w + ix) * g->c + c0) : NULL;

                if (!back)
                  {
                    if (in)
                      memcpy (d, src, (gsize) cg * sizeof (float));
                    else
                      memset (d, 0, (gsize) cg * sizeof (float));
                  }
                else if (in) /* col2im: add the columns back into x */
                  mir_vec_axpy ((float *) src, 1.0f, d, (gsize) cg);
              }
          }
      }
}

static gint64
group_block_rows (const MirConvGeom *g, gint64 kdim)
{
  return CLAMP (COL_BLOCK_FLOATS / MAX (g->ow * kdim, 1), 1, g->oh);
}

/* z = grouped conv(x), no bias: per group [rows, kh kw cg] x [kh kw cg, fg],
 * the B and C blocks strided inside the HWIO kernel and the NHWC output. */
static gboolean
grouped_linear (MirLayerConv2D *self, const MirTensor *x, const float *kernel, float *z,
                GError **error)
{
  gint64 f = self->filters, G = self->groups, cg, fg, kdim, rows;
  float *col;
  MirConvGeom g;

  mir_conv_geom_init (&g, &self->win, x);
  cg = g.c / G;
  fg = f / G;
  kdim = g.kh * g.kw * cg;
  if (is_pointwise (self))
    {
      for (gint64 q = 0; q < G; q++)
        mir_gemm (FALSE, FALSE, g.n * g.h * g.w, fg, cg, 1.0f, x->data + q * cg, g.c,
                  kernel + q * fg, f, 0.0f, z + q * fg, f);
      return TRUE;
    }
  rows = group_block_rows (&g, kdim);
  if ((col = mir_alloc_floats ((gsize) (rows * g.ow * kdim), error)) == NULL)
    return FALSE;
  for (gint64 n = 0; n < g.n; n++)
    {
      const float *xn = x->data + (gsize) n * (gsize) (g.h * g.w * g.c);
      float *zn = z + (gsize) n * (gsize) (g.oh * g.ow * f);

      for (gint64 oy0 = 0; oy0 < g.oh; oy0 += rows)
        {
          gint64 oy1 = MIN (oy0 + rows, g.oh);
          for (gint64 q = 0; q < G; q++)
            {
              im2col_group (&g, xn, q * cg, cg, oy0, oy1, col, FALSE);
              mir_gemm (FALSE, FALSE, (oy1 - oy0) * g.ow, fg, kdim, 1.0f, col, kdim,
                        kernel + q * fg, f, 0.0f, zn + (gsize) (oy0 * g.ow * f + q * fg), f);
            }
        }
    }
  mir_free_floats (col);
  return TRUE;
}

/* dK and dx of a grouped convolution from dz (dK and dx may be NULL). */
static gboolean
grouped_backward (MirLayerConv2D *self, const MirTensor *x, const float *kernel,
                  const float *dz, float *dk, float *dx, GError **error)
{
  gint64 f = self->filters, G = self->groups, cg, fg, kdim, rows;
  float *col;
  MirConvGeom g;

  mir_conv_geom_init (&g, &self->win, x);
  cg = g.c / G;
  fg = f / G;
  kdim = g.kh * g.kw * cg;
  if (is_pointwise (self))
    {
      gint64 m = g.n * g.h * g.w;
      for (gint64 q = 0; q < G; q++)
        {
          if (dk != NULL)
            mir_gemm (TRUE, FALSE, cg, fg, m, 1.0f, x->data + q * cg, g.c, dz + q * fg, f, 0.0f,
                      dk + q * fg, f);
          if (dx != NULL)
            mir_gemm (FALSE, TRUE, m, cg, fg, 1.0f, dz + q * fg, f, kernel + q * fg, f, 0.0f,
                      dx + q * cg, g.c);
        }
      return TRUE;
    }
  rows = group_block_rows (&g, kdim);
  if ((col = mir_alloc_floats ((gsize) (rows * g.ow * kdim), error)) == NULL)
    return FALSE;
  if (dk != NULL)
    memset (dk, 0, (gsize) (kdim * f) * sizeof (float));
  if (dx != NULL)
    memset (dx, 0, (gsize) (g.n * g.h * g.w * g.c) * sizeof (float));
  for (gint64 n = 0; n < g.n; n++)
    {
      const float *xn = x->data + (gsize) n * (gsize) (g.h * g.w * g.c);
      const float *dzn = dz + (gsize) n * (gsize) (g.oh * g.ow * f);

      for (gint64 oy0 = 0; oy0 < g.oh; oy0 += rows)
        {
          gint64 oy1 = MIN (oy0 + rows, g.oh), m = (oy1 - oy0) * g.ow;
          for (gint64 q = 0; q < G; q++)
            {
              const float *dzb = dzn + (gsize) (oy0 * g.ow * f + q * fg);
              if (dk != NULL)
                {
                  im2col_group (&g, xn, q * cg, cg, oy0, oy1, col, FALSE);
                  mir_gemm (TRUE, FALSE, kdim, fg, m, 1.0f, col, kdim, dzb, f, 1.0f,
                            dk + q * fg, f);
                }
              if (dx != NULL)
                {
                  mir_gemm (FALSE, TRUE, m, kdim, fg, 1.0f, dzb, f, kernel + q * fg, f, 0.0f,
                            col, kdim);
                  im2col_group (&g, dx + (gsize) n * (gsize) (g.h * g.w * g.c), q * cg, cg,
                                oy0, oy1, col, TRUE);
                }
            }
        }
    }
  mir_free_floats (col);
  return TRUE;
}

/* z = conv(x) + bias, into @z (out->numel floats). */
static gboolean
conv2d_linear (MirLayer *layer, MirTensor *const *in, const MirTensor *out, float *z,
               GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;
  const MirTensor *x = in[0];
  const float *kernel = layer->weights[0].value->data;
  gint64 f = self->filters;
  MirConvGeom g;

  mir_conv_geom_init (&g, &self->win, x);
  if (self->groups > 1)
    {
      if (!grouped_linear (self, x, kernel, z, error))
        return FALSE;
    }
  else if (is_pointwise (self))
    mir_gemm (FALSE, FALSE, g.n * g.h * g.w, f, g.c, 1.0f, x->data, g.c, kernel, f, 0.0f, z, f);
  else
    {
      gint64 kdim = g.kh * g.kw * g.c;
      gint64 rows = block_rows (&g);
      float *col = mir_alloc_floats ((gsize) (rows * g.ow * kdim), error);

      if (col == NULL)
        return FALSE;
      for (gint64 n = 0; n < g.n; n++)
        {
          const float *xn = x->data + (gsize) n * (gsize) (g.h * g.w * g.c);
          float *zn = z + (gsize) n * (gsize) (g.oh * g.ow * f);

          for (gint64 oy0 = 0; oy0 < g.oh; oy0 += rows)
            {
              gint64 oy1 = MIN (oy0 + rows, g.oh);
              mir_im2col (&g, xn, oy0, oy1, col);
              mir_gemm (FALSE, FALSE, (oy1 - oy0) * g.ow, f, kdim, 1.0f, col, kdim, kernel, f,
                        0.0f, zn + (gsize) (oy0 * g.ow * f), f);
            }
        }
      mir_free_floats (col);
    }
  if (self->use_bias)
    mir_add_bias_rows (z, layer->weights[1].value->data, (gint64) (out->numel / (gsize) f), f);
  return TRUE;
}

static void
wino_cache_clear (gpointer data)
{
  WinoCache *c = data;

  mir_free_floats (c->u);
}

/* Packs the kernel @k ([kh][kw][c][f]) into @u for one of the kernels below. */
typedef gboolean (*PackFunc) (const float *k, gint64 c, gint64 f, float *u, GError **error);

static gboolean
pack_forward (const float *k, gint64 c, gint64 f, float *u, GError **error)
{
  mir_winograd_pack_kernel (k, c, f, u);
  return TRUE;
}

static gboolean
pack_pointwise (const float *k, gint64 c, gint64 f, float *u, GError **error)
{
  mir_pointwise_pack_kernel (k, NULL, c, f, u);
  return TRUE;
}

/* The kernel turned by 180 degrees with its channel axes swapped
 * (k'[ky][kx][f][c] = k[2 - ky][2 - kx][c][f]), transformed for Winograd:
 * what backward_data_winograd() correlates the output gradient with. */
static gboolean
pack_turned (const float *k, gint64 c, gint64 f, float *u, GError **error)
{
  float *flip = mir_alloc_floats ((gsize) (9 * c * f), error);

  if (flip == NULL)
    return FALSE;
  for (gint64 ky = 0; ky < 3; ky++)
    for (gint64 kx = 0; kx < 3; kx++)
      {
        const float *src = k + (gsize) (((2 - ky) * 3 + (2 - kx)) * c * f);
        float *dst = flip + (gsize) ((ky * 3 + kx) * f * c);

        for (gint64 ci = 0; ci < c; ci++)
          for (gint64 fo = 0; fo < f; fo++)
            dst[fo * c + ci] = src[ci * f + fo];
      }
  mir_winograd_pack_kernel (flip, f, c, u);
  mir_free_floats (flip);
  return TRUE;
}

/* A packed form of the kernel (@floats floats by @pack) for this run
 * (g_atomic_rc_box_release it), kept in @slot for the kernel's version, or
 * NULL.  With @seen, the first run of a version packs for itself only and
 * the second keeps it: a one-shot prediction (`mirada predict` of a VGG)
 * then holds one layer's transform at a time. */
static WinoCache *
packed_kernel (MirLayerConv2D *self, WinoCache **slot, guint64 *seen, gsize floats,
               PackFunc pack, gint64 c, GError **error)
{
  const MirTensor *k = self->parent.weights[0].value;
  guint64 version = mir_tensor_get_version (k);
  WinoCache *cache;

  pthread_mutex_lock (&self->lock);
  cache = *slot;
  if (cache == NULL || cache->version != version)
    {
      float *u = mir_alloc_floats (floats, error);

      if (u == NULL || !pack (k->data, c, self->filters, u, error))
        {
          mir_free_floats (u);
          pthread_mutex_unlock (&self->lock);
          return NULL;
        }
      cache = g_atomic_rc_box_new0 (WinoCache);
      cache->version = version;
      cache->u = u;
      if (seen != NULL && *seen != version)
        {
          /* a first run: this transform is the run's own */
          *seen = version;
          pthread_mutex_unlock (&self->lock);
          return cache;
        }
      if (*slot != NULL)
        g_atomic_rc_box_release_full (*slot, wino_cache_clear);
      *slot = cache;
    }
  cache = g_atomic_rc_box_acquire (cache);
  pthread_mutex_unlock (&self->lock);
  return cache;
}

/* The packed kernel for this run's forward pass: Winograd's transform, or
 * for a 1x1 layer its panels for mir_pointwise_conv(). */
static WinoCache *
wino_cache_get (MirLayerConv2D *self, gint64 c, GError **error)
{
  if (is_pointwise (self))
    return packed_kernel (self, &self->wino, &self->wino_seen,
                          mir_pointwise_kernel_size (c, self->filters), pack_pointwise, c, error);
  return packed_kernel (self, &self->wino, &self->wino_seen,
                        mir_winograd_kernel_size (c, self->filters), pack_forward, c, error);
}

/* Activations applied to each GEMM block while it is in the cache. */
static gboolean
act_fusable (MirActivation act)
{
  return act == MIR_ACT_LINEAR || mir_act_vec_supported (act);
}

/* Bias and activation over nr rows of f values just written by the GEMM. */
static void
epilogue (float *zb, const float *bias, gint64 nr, gint64 f, MirActivation act)
{
  gsize n = (gsize) (nr * f);

  if (bias != NULL)
    mir_add_bias_rows (zb, bias, nr, f);
  if (act != MIR_ACT_LINEAR)
    mir_act_vec_forward (act, zb, zb, n);
}

/* A 1x1 stride-1 convolution is the GEMM [rows, c] x [c, f].  Blocks of rows
 * go to the kernel threads, each a single-threaded sgemm whose bias and
 * activation are applied while the block is in L2: one pass over the output
 * instead of three (OpenBLAS' own threads, then bias, then activation). */
typedef struct
{
  const float *x, *kernel, *bias;
  float *z;
  gint64 rows, c, f, step;
  MirActivation act;
} PointwiseCtx;

/* Output floats of one block: 32 K floats (128 KiB) sits in L2 with its
 * share of x. */
#define POINTWISE_BLOCK_FLOATS 32768

static void
pointwise_blocks (gint64 begin, gint64 end, gpointer data)
{
  const PointwiseCtx *p = data;

  for (gint64 b = begin; b < end; b++)
    {
      gint64 r0 = b * p->step, nr = MIN (p->step, p->rows - r0);
      float *zb = p->z + (gsize) r0 * (gsize) p->f;

      mir_gemm (FALSE, FALSE, nr, p->f, p->c, 1.0f, p->x + (gsize) r0 * (gsize) p->c, p->c,
                p->kernel, p->f, 0.0f, zb, p->f);
      epilogue (zb, p->bias, nr, p->f, p->act);
    }
}

/* Inference: a direct kernel for few input channels (RGB first layers);
 * Winograd F(4x4, 3x3) for 3x3 stride-1 kernels where it wins (the rule is
 * in mir_winograd_applies()); else im2col + GEMM with bias and activation
 * applied to each GEMM block while it is in the cache. */
static gboolean
conv2d_infer_geom (MirLayer *layer, const MirConvGeom *gp, const float *xd, float *z,
                   MirActivation act, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;
  const float *kernel = layer->weights[0].value->data;
  const float *bias = self->use_bias ? layer->weights[1].value->data : NULL;
  gint64 f = self->filters;
  gboolean fused = act_fusable (act);
  MirConvGeom g = *gp;

  if (mir_conv_direct_applies (&g, f))
    return mir_conv_direct (&g, xd, kernel, f, bias, act, z, error);
  if (mir_winograd_applies (&g, f))
    {
      WinoCache *cache = wino_cache_get (self, g.c, error);
      gboolean ok;

      if (cache == NULL)
        return FALSE;
      ok = mir_winograd_conv (&g, xd, cache->u, f, bias, act, z, error);
      g_atomic_rc_box_release_full (cache, wino_cache_clear);
      return ok;
    }
  if (is_pointwise (self) && mir_pointwise_applies (g.n * g.h * g.w, g.c, f))
    {
      WinoCache *cache = wino_cache_get (self, g.c, error);
      gboolean ok;

      if (cache == NULL)
        return FALSE;
      ok = mir_pointwise_conv (xd, g.n * g.h * g.w, g.c, cache->u, f, bias, act, z, error);
      g_atomic_rc_box_release_full (cache, wino_cache_clear);
      return ok;
    }
  if (is_pointwise (self))
    {
      PointwiseCtx p = { xd, kernel, bias, z, g.n * g.h * g.w, g.c, f, 0,
                         fused ? act : MIR_ACT_LINEAR };

      /* at least 32 rows a block (B is packed once per block) */
      p.step = CLAMP (POINTWISE_BLOCK_FLOATS / MAX (f, 1), 32, MAX (p.rows, 1));
      mir_parallel_for_gemm ((p.rows + p.step - 1) / p.step, 1, pointwise_blocks, &p);
    }
  else
    {
      gint64 kdim = g.kh * g.kw * g.c;
      gint64 rows = block_rows (&g);
      float *col = mir_alloc_floats ((gsize) (rows * g.ow * kdim), error);

      if (col == NULL)
        return FALSE;
      for (gint64 n = 0; n < g.n; n++)
        {
          const float *xn = xd + (gsize) n * (gsize) (g.h * g.w * g.c);
          float *zn = z + (gsize) n * (gsize) (g.oh * g.ow * f);

          for (gint64 oy0 = 0; oy0 < g.oh; oy0 += rows)
            {
              gint64 oy1 = MIN (oy0 + rows, g.oh);
              float *zb = zn + (gsize) (oy0 * g.ow * f);
              gint64 nr = (oy1 - oy0) * g.ow;

              mir_im2col (&g, xn, oy0, oy1, col);
              mir_gemm (FALSE, FALSE, nr, f, kdim, 1.0f, col, kdim, kernel, f, 0.0f, zb, f);
              epilogue (zb, bias, nr, f, fused ? act : MIR_ACT_LINEAR);
            }
        }
      mir_free_floats (col);
    }
  if (!fused)
    mir_activation_forward (act, z, z, (gsize) (g.n * g.oh * g.ow * f), (gsize) f);
  return TRUE;
}

static gboolean
conv2d_infer_forward (MirLayer *layer, MirTensor *const *in, MirTensor *out, MirActivation act,
                      GError **error)
{
  MirConvGeom g;

  mir_conv_geom_init (&g, &((MirLayerConv2D *) layer)->win, in[0]);
  return conv2d_infer_geom (layer, &g, in[0]->data, out->data, act, error);
}

gboolean
mir_conv2d_is_pointwise (MirLayer *conv)
{
  MirLayerConv2D *self = (MirLayerConv2D *) conv;

  return conv->klass == &mir_layer_conv2d_class && conv->built && is_pointwise (self) &&
         self->groups == 1 && conv->n_weights >= 1 && conv->weights[0].value != NULL &&
         conv->weights[0].value->ndim == 4;
}

gboolean
mir_conv2d_rows_applies (MirLayer *conv)
{
  MirLayerConv2D *self = (MirLayerConv2D *) conv;

  if (mir_conv2d_is_pointwise (conv))
    return TRUE;
  return conv->klass == &mir_layer_conv2d_class && conv->built && self->groups == 1 &&
         !self->win.explicit_pads && conv->n_weights >= 1 && conv->weights[0].value != NULL &&
         conv->weights[0].value->ndim == 4 &&
         conv->weights[0].value->shape[2] <= MIR_CONV_DIRECT_MAX_C;
}

gboolean
mir_conv2d_rows (MirLayer *conv, const float *x, gint64 h, gint64 w, gint64 y0, gint64 y1,
                 float *z, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) conv;
  gint64 c = conv->weights[0].value->shape[2], lo;
  MirConvGeom g, band;

  g_return_val_if_fail (mir_conv2d_rows_applies (conv), FALSE);
  if (is_pointwise (self))
    return mir_conv2d_pointwise_rows (conv, x + (gsize) (y0 * w * c), (y1 - y0) * w, z, error);
  /* the input rows the output rows [y0, y1) read, as an image of their own */
  mir_conv_geom_init_shape (&g, &self->win, 1, h, w, c);
  lo = mir_conv_geom_band (&g, y0, y1, &band);
  return conv2d_infer_geom (conv, &band, x + (gsize) (lo * w * c), z, conv->activation, error);
}

gboolean
mir_conv2d_pointwise_rows (MirLayer *conv, const float *x, gint64 rows, float *z, GError **error)
{
  MirConvGeom g = { 0 };

  g_return_val_if_fail (mir_conv2d_is_pointwise (conv), FALSE);
  g.n = g.h = g.oh = 1;
  g.w = g.ow = rows;
  g.c = conv->weights[0].value->shape[2];
  g.kh = g.kw = g.sh = g.sw = g.dh = g.dw = 1;
  return conv2d_infer_geom (conv, &g, x, z, conv->activation, error);
}

gboolean
mir_conv2d_input_scale_pays (MirLayer *conv, gint64 pixels)
{
  MirLayerConv2D *self = (MirLayerConv2D *) conv;

  return conv->klass == &mir_layer_conv2d_class && conv->built && is_pointwise (self) &&
         self->groups == 1 && pixels > self->filters;
}

typedef struct
{
  const float  *x, *kernel, *scale, *bias;
  float        *z;
  gint64        pixels, c, f;
  MirActivation act;
  gint          failed;
} ScaledCtx;

static GPrivate scaled_kernel_key = G_PRIVATE_INIT (mir_thread_scratch_free);

/* Images [begin, end) of conv2d_scaled_forward(): inside a parallel loop
 * each image's GEMM runs on this thread (mir_parallel_for() does not nest),
 * outside it over all of them. */
static void
scaled_images (gint64 begin, gint64 end, gpointer data)
{
  ScaledCtx *p = data;
  float *ks = mir_thread_scratch (&scaled_kernel_key, mir_pointwise_kernel_size (p->c, p->f),
                                  NULL);

  for (gint64 b = begin; b < end && ks != NULL; b++)
    {
      mir_pointwise_pack_kernel (p->kernel, p->scale + b * p->c, p->c, p->f, ks);
      if (!mir_pointwise_conv (p->x + (gsize) (b * p->pixels * p->c), p->pixels, p->c, ks, p->f,
                               p->bias, p->act, p->z + (gsize) (b * p->pixels * p->f), NULL))
        ks = NULL;
    }
  if (ks == NULL)
    g_atomic_int_set (&p->failed, 1);
}

/* Input 0 times args->in_scale (per image and channel, from a fused
 * squeeze-and-excitation Multiply): y_n = (x_n diag(s_n)) W = x_n (diag(s_n) W),
 * so each image runs the 1x1 GEMM blocks with its own scaled copy of the
 * kernel (channels x filters values) instead of a pass over its pixels. */
static gboolean
conv2d_scaled_forward (MirLayer *layer, MirTensor *const *in, MirTensor *out,
                       const MirRunArgs *args, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;
  const MirTensor *x = in[0];
  const float *kernel = layer->weights[0].value->data;
  MirActivation act = mir_act_active (layer, args) ? layer->activation : MIR_ACT_LINEAR;
  gboolean fused = act_fusable (act);
  gint64 f = self->filters, c, pixels;
  float *ks;

  if (!is_pointwise (self) || x->ndim != 4 || args->training || args->for_backward)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                   _("An input scale was given to a convolution that cannot take it"));
      return FALSE;
    }
  c = x->shape[3];
  pixels = x->shape[1] * x->shape[2];
  if (mir_pointwise_applies (pixels, c, f))
    {
      /* each image's scaled kernel packed straight into the micro-kernel's
       * panels.  A batch of at least one image a thread runs whole images
       * per thread (one image's GEMM is small: split over the threads, each
       * image would be packed by one of them and the threads would meet
       * twice an image); fewer images split each one's GEMM. */
      ScaledCtx sc = { x->data, kernel, args->in_scale,
                       self->use_bias ? layer->weights[1].value->data : NULL, out->data,
                       pixels, c, f, act, 0 };

      if (x->shape[0] >= (gint64) mir_parallel_threads ())
        mir_parallel_for_gemm (x->shape[0], 1, scaled_images, &sc);
      else
        scaled_images (0, x->shape[0], &sc);
      if (g_atomic_int_get (&sc.failed))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("Out of memory for the convolution's work buffers"));
          return FALSE;
        }
      return TRUE;
    }
  if ((ks = mir_alloc_floats ((gsize) (c * f), error)) == NULL)
    return FALSE;
  for (gint64 b = 0; b < x->shape[0]; b++)
    {
      PointwiseCtx p = { x->data + (gsize) (b * pixels * c), ks,
                         self->use_bias ? layer->weights[1].value->data : NULL,
                         out->data + (gsize) (b * pixels * f), pixels, c, f, 0,
                         fused ? act : MIR_ACT_LINEAR };

      for (gint64 ci = 0; ci < c; ci++)
        {
          float sc = args->in_scale[b * c + ci];
          for (gint64 fo = 0; fo < f; fo++)
            ks[ci * f + fo] = kernel[ci * f + fo] * sc;
        }
      p.step = CLAMP (POINTWISE_BLOCK_FLOATS / MAX (f, 1), 32, MAX (p.rows, 1));
      mir_parallel_for_gemm ((p.rows + p.step - 1) / p.step, 1, pointwise_blocks, &p);
    }
  mir_free_floats (ks);
  if (!fused)
    mir_activation_forward (act, out->data, out->data, out->numel, (gsize) f);
  return TRUE;
}

static gboolean
conv2d_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                const MirRunArgs *args, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;

  if (args->in_scale != NULL)
    return conv2d_scaled_forward (layer, in, out, args, error);

  if (mir_act_fast_forward_ok (layer, args) && self->groups == 1)
    return conv2d_infer_forward (layer, in, out,
                                 mir_act_active (layer, args) ? layer->activation
                                                              : MIR_ACT_LINEAR,
                                 error);
  if (!conv2d_linear (layer, in, out, out->data, error))
    return FALSE;
  return mir_act_forward (layer, out, (gsize) self->filters, args, error);
}

/* Geometry of the window @w over the output of @g (@f channels). */
static void
geom_over_output (MirConvGeom *pg, const MirWindow *w, const MirConvGeom *g, gint64 f)
{
  pg->n = g->n;
  pg->h = g->oh;
  pg->w = g->ow;
  pg->c = f;
  pg->kh = w->kh;
  pg->kw = w->kw;
  pg->sh = w->sh;
  pg->sw = w->sw;
  pg->dh = w->dh;
  pg->dw = w->dw;
  mir_window_axis (pg->h, pg->kh, pg->sh, pg->dh, w->same, &pg->oh, &pg->pad_top);
  mir_window_axis (pg->w, pg->kw, pg->sw, pg->dw, w->same, &pg->ow, &pg->pad_left);
}

gboolean
mir_conv2d_max_pool_applies (MirLayer *conv, MirLayer *pool)
{
  return conv->klass == &mir_layer_conv2d_class &&
         ((MirLayerConv2D *) conv)->groups == 1 &&
         pool->klass == &mir_layer_max_pooling2d_class &&
         !mir_max_pooling2d_window (pool)->explicit_pads;
}

MirTensor *
mir_conv2d_max_pool_run (MirLayer *layer, MirLayer *pool, MirTensor *x, const MirRunArgs *args,
                         GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;
  const MirWindow *pwin = mir_max_pooling2d_window (pool);
  MirActivation act = mir_act_active (layer, args) ? layer->activation : MIR_ACT_LINEAR;
  g_autoptr(MirTensor) out = NULL;
  g_autoptr(MirTensor) z = NULL;
  MirShape in_s = { 0 }, conv_s, pool_s;
  MirConvGeom g, pg;
  gint64 step;

  g_return_val_if_fail (mir_conv2d_max_pool_applies (layer, pool), NULL);
  in_s.ndim = x->ndim;
  for (guint d = 0; d < x->ndim; d++)
    in_s.dim[d] = x->shape[d];
  if (!conv2d_infer (layer, &in_s, 1, &conv_s, error) ||
      !mir_window_infer (pwin, &conv_s, self->filters, &pool_s, error))
    return NULL;
  out = mir_tensor_new_uninitialized (pool_s.ndim, pool_s.dim, error);
  if (out == NULL)
    return NULL;
  mir_conv_geom_init (&g, &self->win, x);
  geom_over_output (&pg, pwin, &g, self->filters);
  if (mir_act_fast_forward_ok (layer, args) &&
      (act == MIR_ACT_LINEAR || act == MIR_ACT_RELU || act == MIR_ACT_RELU6) &&
      mir_conv_direct_applies (&g, self->filters))
    {
      if (!mir_conv_direct_max_pool (&g, x->data, layer->weights[0].value->data, self->filters,
                                     self->use_bias ? layer->weights[1].value->data : NULL,
                                     act, &pg, out->data, error))
        return NULL;
      return g_steal_pointer (&out);
    }
  /* The two layers one after the other, a few images at a time, so that
   * the pooling reads the conv output from the cache (the sub-batch's conv
   * output about POOL_CHUNK_FLOATS). */
  step = CLAMP (POOL_CHUNK_FLOATS / MAX (g.oh * g.ow * self->filters, 1), 1, g.n);
  conv_s.dim[0] = step;
  z = mir_tensor_new_uninitialized (conv_s.ndim, conv_s.dim, error);
  if (z == NULL)
    return NULL;
  for (gint64 n0 = 0; n0 < g.n; n0 += step)
    {
      gint64 nn = MIN (step, g.n - n0);
      g_autoptr(MirTensor) xb = mir_tensor_view_batch (x, n0, nn);
      g_autoptr(MirTensor) zb = mir_tensor_view_batch (z, 0, nn);

      if (!conv2d_forward (layer, &xb, 1, zb, args, error))
        return NULL;
      pg.n = nn;
      mir_max_pool_forward (&pg, zb->data,
                            out->data + (gsize) n0 * (gsize) (pg.oh * pg.ow * pg.c));
    }
  return g_steal_pointer (&out);
}

gboolean
mir_conv2d_one_filter_applies (MirLayer *conv)
{
  MirLayerConv2D *self = (MirLayerConv2D *) conv;

  return conv->klass == &mir_layer_conv2d_class && conv->built && self->groups == 1 &&
         conv->n_weights >= 1 && conv->weights[0].value != NULL &&
         conv->weights[0].value->ndim == 4 &&
         (!self->use_bias || (conv->n_weights >= 2 && conv->weights[1].value != NULL));
}

typedef struct
{
  MirConvGeom g;
  const float *x, *kernel, *bias, *dz;
  const gint *filters;
  float *z, *dx;
  gint64 nf; /* the layer's filters */
  gint failed;
} OneFilterCtx;

static GPrivate one_filter_key = G_PRIVATE_INIT (mir_thread_scratch_free);

/* Images [begin, end): each image's filter (a [kh kw c] column of the
 * kernel, gathered) as one dot product of c channels a tap and output pixel
 * (forward), or dz times it added back into each tap's input pixel
 * (backward), straight from the image: no column matrix (im2col and
 * col2im of it wrote and read 9x the image a step). */
static void
one_filter_images (gint64 begin, gint64 end, gpointer data)
{
  OneFilterCtx *p = data;
  const MirConvGeom *g = &p->g;
  gint64 kdim = g->kh * g->kw * g->c, rows = g->oh * g->ow, image = g->h * g->w * g->c;
  float *w = mir_thread_scratch (&one_filter_key, (gsize) kdim, NULL);

  if (w == NULL)
    {
      g_atomic_int_set (&p->failed, 1);
      return;
    }
  for (gint64 n = begin; n < end; n++)
    {
      gint64 f = p->filters[n];
      const float *xn = p->x + (gsize) (n * image);
      float *dxn = p->dx != NULL ? p->dx + (gsize) (n * image) : NULL;

      for (gint64 k = 0; k < kdim; k++)
        w[k] = p->kernel[(gsize) k * (gsize) p->nf + (gsize) f];
      if (dxn != NULL)
        memset (dxn, 0, sizeof (float) * (gsize) image);
      for (gint64 oy = 0; oy < g->oh; oy++)
        for (gint64 ox = 0; ox < g->ow; ox++)
          {
            gint64 r = oy * g->ow + ox;
            float acc = 0.0f, d = p->dz != NULL ? p->dz[n * rows + r] : 0.0f;

            if (p->dz != NULL && d == 0.0f)
              continue;
            for (gint64 ky = 0; ky < g->kh; ky++)
              {
                gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;

                if (iy < 0 || iy >= g->h)
                  continue;
                for (gint64 kx = 0; kx < g->kw; kx++)
                  {
                    gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
                    gsize at = (gsize) ((iy * g->w + ix) * g->c);
                    const float *wt = w + (gsize) ((ky * g->kw + kx) * g->c);

                    if (ix < 0 || ix >= g->w)
                      continue;
                    if (dxn != NULL)
                      mir_vec_axpy (dxn + at, d, wt, (gsize) g->c);
                    else
                      acc += cblas_sdot ((blasint) g->c, xn + at, 1, wt, 1);
                  }
              }
            if (p->dz == NULL)
              p->z[n * rows + r] = acc + (p->bias != NULL ? p->bias[f] : 0.0f);
          }
    }
}

/* Checks @conv, @x and @filters, and fills @p's geometry. */
static gboolean
one_filter_setup (MirLayer *conv, const MirTensor *x, const gint *filters, OneFilterCtx *p,
                  GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) conv;

  if (!mir_conv2d_one_filter_applies (conv) || x->ndim != 4 ||
      x->shape[3] != conv->weights[0].value->shape[2])
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                   _("Layer '%s' cannot be computed one filter at a time"), conv->name);
      return FALSE;
    }
  for (gint64 n = 0; n < x->shape[0]; n++)
    if (filters[n] < 0 || filters[n] >= self->filters)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("Layer '%s' has %" PRId64 " filters; %d does not exist"),
                     conv->name, self->filters, filters[n]);
        return FALSE;
      }
  mir_conv_geom_init (&p->g, &self->win, x);
  p->nf = self->filters;
  p->x = x->data;
  p->kernel = conv->weights[0].value->data;
  p->bias = self->use_bias ? conv->weights[1].value->data : NULL;
  p->filters = filters;
  return TRUE;
}

static gboolean
one_filter_images_all (OneFilterCtx *p, gint64 n, GError **error)
{
  mir_parallel_for (n, 1, one_filter_images, p);
  if (g_atomic_int_get (&p->failed))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory for the convolution's work buffers"));
      return FALSE;
    }
  return TRUE;
}

MirTensor *
mir_conv2d_one_filter (MirLayer *conv, const MirTensor *x, const gint *filters, GError **error)
{
  OneFilterCtx p = { 0 };
  g_autoptr(MirTensor) z = NULL;

  if (!one_filter_setup (conv, x, filters, &p, error) ||
      !(z = mir_tensor_new_4d (x->shape[0], p.g.oh, p.g.ow, 1, error)))
    return NULL;
  p.z = z->data;
  if (!one_filter_images_all (&p, x->shape[0], error))
    return NULL;
  return g_steal_pointer (&z);
}

gboolean
mir_conv2d_one_filter_backward (MirLayer *conv, const MirTensor *x, const gint *filters,
                                const float *dz, MirTensor *dx, GError **error)
{
  OneFilterCtx p = { 0 };

  if (dx == NULL || dx->numel != x->numel)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED, _("Gradient shape does not match"));
      return FALSE;
    }
  if (!one_filter_setup (conv, x, filters, &p, error))
    return FALSE;
  p.dz = dz;
  p.dx = dx->data;
  return one_filter_images_all (&p, x->shape[0], error);
}

static void
conv2d_finalize (MirLayer *layer)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;

  if (self->wino != NULL)
    g_atomic_rc_box_release_full (self->wino, wino_cache_clear);
  if (self->wino_back != NULL)
    g_atomic_rc_box_release_full (self->wino_back, wino_cache_clear);
  pthread_mutex_destroy (&self->lock);
}

/* The input gradient of a 3x3 stride-1 convolution is itself a 3x3
 * stride-1 convolution: dx[y][x][c] = sum over (ky, kx, f) of
 * dz[y - ky + pt][x - kx + pl][f] k[ky][kx][c][f], i.e. dz correlated with
 * the kernel turned by 180 degrees and with its channel axes swapped
 * (k'[ky][kx][f][c] = k[2 - ky][2 - kx][c][f]), over dz padded by 2 - pt
 * (2 - pl) and read as zero outside.  Run it by Winograd F(4x4, 3x3) when
 * that shape is one Winograd handles and wins on (the same rule as the
 * forward pass): a quarter of the multiplications of im2col + GEMM, which
 * is what filter patterns and Grad-CAM through early layers spend most of
 * their time in.  *done FALSE: not applicable, use im2col. */
static gboolean
backward_data_winograd (MirLayerConv2D *self, const MirConvGeom *g, const float *dz, float *dx,
                        gboolean *done, GError **error)
{
  gint64 f = self->filters, c = g->c;
  MirConvGeom t;
  WinoCache *cache;
  gboolean ok;

  *done = FALSE;
  if (self->groups != 1 || g->kh != 3 || g->kw != 3 || g->sh != 1 || g->sw != 1 ||
      g->dh != 1 || g->dw != 1 || g->pad_top < 0 || g->pad_top > 2 || g->pad_left < 0 ||
      g->pad_left > 2 || g->cnt_top || g->cnt_bottom || g->cnt_left || g->cnt_right)
    return TRUE;
  t = (MirConvGeom) { .n = g->n, .h = g->oh, .w = g->ow, .c = f,
                      .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                      .oh = g->h, .ow = g->w,
                      .pad_top = 2 - g->pad_top, .pad_left = 2 - g->pad_left };
  if (!mir_winograd_applies (&t, c))
    return TRUE;
  /* The turned kernel's transform, kept per kernel version: a filter pattern
   * at batch 1 runs 40 backward passes with the same weights, and packing
   * costs as much as its small products. */
  if (!(cache = packed_kernel (self, &self->wino_back, NULL, mir_winograd_kernel_size (f, c),
                               pack_turned, c, error)))
    return FALSE;
  ok = mir_winograd_conv (&t, dz, cache->u, c, NULL, MIR_ACT_LINEAR, dx, error);
  g_atomic_rc_box_release_full (cache, wino_cache_clear);
  *done = ok;
  return ok;
}

/* The input gradient through im2col (no Winograd: a first layer over
 * RGB, strides), an image a time over the kernel threads, each with its
 * own column buffer: the scatter (col2im) ran on one thread after every
 * split GEMM (filter patterns of VGG16 at 64 px: 64 images a step).  One
 * image runs on the calling thread, whose GEMM splits itself. */
typedef struct
{
  const MirConvGeom *g;
  const float *dz, *kernel;
  float *dx;
  gint64 f, rows;
  gint failed;
} DataBackCtx;

static GPrivate data_back_key = G_PRIVATE_INIT (mir_thread_scratch_free);

static void
data_backward_images (gint64 begin, gint64 end, gpointer data)
{
  DataBackCtx *c = data;
  const MirConvGeom *g = c->g;
  gint64 kdim = g->kh * g->kw * g->c;
  float *col = mir_thread_scratch (&data_back_key, (gsize) (c->rows * g->ow * kdim), NULL);

  if (col == NULL)
    {
      g_atomic_int_set (&c->failed, 1);
      return;
    }
  for (gint64 n = begin; n < end; n++)
    {
      const float *dzn = c->dz + (gsize) n * (gsize) (g->oh * g->ow * c->f);
      float *dxn = c->dx + (gsize) n * (gsize) (g->h * g->w * g->c);

      memset (dxn, 0, sizeof (float) * (gsize) (g->h * g->w * g->c));
      for (gint64 oy0 = 0; oy0 < g->oh; oy0 += c->rows)
        {
          gint64 oy1 = MIN (oy0 + c->rows, g->oh), m = (oy1 - oy0) * g->ow;

          mir_gemm (FALSE, TRUE, m, kdim, c->f, 1.0f, dzn + (gsize) (oy0 * g->ow * c->f), c->f,
                    c->kernel, c->f, 0.0f, col, kdim);
          mir_col2im (g, col, oy0, oy1, dxn);
        }
    }
}

static gboolean
conv2d_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                 const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                 const MirRunArgs *args, GError **error)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;
  const MirTensor *x = in[0];
  const float *kernel = layer->weights[0].value->data;
  gint64 f = self->filters;
  float *dz_buf = NULL;
  const float *dz;
  float *dx = grad_in[0] ? grad_in[0]->data : NULL;
  float *dk = grad_w[0] ? grad_w[0]->data : NULL;
  MirConvGeom g;

  if (!mir_act_backward (layer, in, out, grad_out, (gsize) f, args, conv2d_linear, &dz_buf, error))
    return FALSE;
  dz = dz_buf ? dz_buf : grad_out->data;
  mir_conv_geom_init (&g, &self->win, x);

  if (self->use_bias && grad_w[1] != NULL)
    mir_sum_rows (dz, (gint64) (out->numel / (gsize) f), f, grad_w[1]->data);

  if (self->groups > 1)
    {
      if ((dk != NULL || dx != NULL) && !grouped_backward (self, x, kernel, dz, dk, dx, error))
        {
          mir_free_floats (dz_buf);
          return FALSE;
        }
    }
  else if (is_pointwise (self))
    {
      gint64 m = g.n * g.h * g.w;
      if (dk != NULL)
        mir_gemm (TRUE, FALSE, g.c, f, m, 1.0f, x->data, g.c, dz, f, 0.0f, dk, f);
      if (dx != NULL)
        mir_gemm (FALSE, TRUE, m, g.c, f, 1.0f, dz, f, kernel, f, 0.0f, dx, g.c);
    }
  else if (dk != NULL || dx != NULL)
    {
      gint64 kdim = g.kh * g.kw * g.c;
      gint64 rows = block_rows (&g);
      gboolean dx_done = FALSE;
      float *col;

      if (dx != NULL && !backward_data_winograd (self, &g, dz, dx, &dx_done, error))
        {
          mir_free_floats (dz_buf);
          return FALSE;
        }
      if (dx_done)
        dx = NULL;
      if (dx != NULL)
        {
          DataBackCtx c = { &g, dz, kernel, dx, f, rows, 0 };

          mir_parallel_for (g.n, 1, data_backward_images, &c);
          if (g_atomic_int_get (&c.failed))
            {
              mir_free_floats (dz_buf);
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("Out of memory for the convolution's work buffers"));
              return FALSE;
            }
        }
      if (dk == NULL)
        {
          mir_free_floats (dz_buf);
          return TRUE;
        }
      col = mir_alloc_floats ((gsize) (rows * g.ow * kdim), error);
      if (col == NULL)
        {
          mir_free_floats (dz_buf);
          return FALSE;
        }
      /* dK = sum over the images and row blocks of col^T dz */
      memset (dk, 0, grad_w[0]->numel * sizeof (float));
      for (gint64 n = 0; n < g.n; n++)
        {
          const float *xn = x->data + (gsize) n * (gsize) (g.h * g.w * g.c);
          const float *dzn = dz + (gsize) n * (gsize) (g.oh * g.ow * f);

          for (gint64 oy0 = 0; oy0 < g.oh; oy0 += rows)
            {
              gint64 oy1 = MIN (oy0 + rows, g.oh);

              mir_im2col (&g, xn, oy0, oy1, col);
              mir_gemm (TRUE, FALSE, kdim, f, (oy1 - oy0) * g.ow, 1.0f, col, kdim,
                        dzn + (gsize) (oy0 * g.ow * f), f, 1.0f, dk, f);
            }
        }
      mir_free_floats (col);
    }
  mir_free_floats (dz_buf);
  return TRUE;
}

static gint64
conv2d_flops (MirLayer *layer, const MirShape *in, guint n_in, const MirShape *out)
{
  MirLayerConv2D *self = (MirLayerConv2D *) layer;

  if (out->dim[1] < 0 || out->dim[2] < 0 || in->dim[3] < 0)
    return -1; /* free spatial size: unknown */
  return 2 * out->dim[1] * out->dim[2] * out->dim[3] * self->win.kh * self->win.kw * in->dim[3] /
         self->groups;
}

static const MirWindow *
conv2d_window (MirLayer *layer)
{
  return &((MirLayerConv2D *) layer)->win;
}

const MirLayerClass mir_layer_conv2d_class = {
  .name = "Conv2D",
  .instance_size = sizeof (MirLayerConv2D),
  .flags = MIR_LAYER_FLAG_CONV | MIR_LAYER_FLAG_WRITES_ALL,
  .configure = conv2d_configure,
  .infer = conv2d_infer,
  .build = conv2d_build,
  .forward = conv2d_forward,
  .backward = conv2d_backward,
  .flops = conv2d_flops,
  .finalize = conv2d_finalize,
  .window = conv2d_window,
};
