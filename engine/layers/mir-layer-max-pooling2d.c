/* MaxPooling2D: TF semantics (padded cells never win); backward routes the
 * gradient to the first maximum of each window, found again from the input. */
#define G_LOG_DOMAIN "mir-layer-max-pooling2d"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-layer-fuse.h"
#include "mir-conv-util.h"
#include "mir-parallel.h"
#include "mir-pool.h"
#include "mir-vec.h"
#include "mir-vec-simd.h"

typedef struct
{
  MirLayer parent;
  MirWindow win;
} MirLayerMaxPooling2D;

static gboolean
max_pool_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerMaxPooling2D *self = (MirLayerMaxPooling2D *) layer;

  return mir_config_get_pool_window (config, &self->win, error);
}

static gboolean
max_pool_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerMaxPooling2D *self = (MirLayerMaxPooling2D *) layer;

  return mir_window_infer (&self->win, in, in->ndim == 4 ? in->dim[3] : -1, out, error);
}

static gboolean
max_pool_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                  const MirRunArgs *args, GError **error)
{
  MirLayerMaxPooling2D *self = (MirLayerMaxPooling2D *) layer;
  MirConvGeom g;

  mir_conv_geom_init (&g, &self->win, in[0]);
  mir_max_pool_forward (&g, in[0]->data, out->data);
  return TRUE;
}

const MirWindow *
mir_max_pooling2d_window (MirLayer *pool)
{
  g_return_val_if_fail (pool->klass == &mir_layer_max_pooling2d_class, NULL);
  return &((MirLayerMaxPooling2D *) pool)->win;
}

/* The backward pass of images begin .. end: each image's gradient is its
 * own, so images run on separate threads (the windows of one image may
 * overlap and add to the same input cell). */
typedef struct
{
  const MirConvGeom *g;
  const float *x, *go;
  float *dx;
} BackCtx;

/* Offset of channel 0 of input cell (@iy, @ix) of image @n. */
static inline gsize
cell (const MirConvGeom *g, gint64 n, gint64 iy, gint64 ix)
{
  return (((gsize) n * (gsize) g->h + (gsize) iy) * (gsize) g->w + (gsize) ix) * (gsize) g->c;
}

static void
backward_images (gint64 begin, gint64 end, gpointer data)
{
  const BackCtx *b = data;
  const MirConvGeom *g = b->g;
  gsize c = (gsize) g->c;
  g_autofree gsize *arg = g_new (gsize, c);
  g_autofree float *best = g_new (float, c);

  for (gint64 n = begin; n < end; n++)
    for (gint64 oy = 0; oy < g->oh; oy++)
      for (gint64 ox = 0; ox < g->ow; ox++)
        {
          const float *go = b->go + (((gsize) n * (gsize) g->oh + (gsize) oy) *
                                     (gsize) g->ow + (gsize) ox) * c;
          gint64 y0, y1, x0, x1;

          mir_conv_window_bounds (g, oy, ox, &y0, &y1, &x0, &x1);
          for (gsize k = 0; k < c; k++)
            {
              best[k] = -INFINITY;
              arg[k] = G_MAXSIZE;
            }
          for (gint64 iy = y0; iy < y1; iy++)
            for (gint64 ix = x0; ix < x1; ix++)
              {
                gsize off = cell (g, n, iy, ix);
                for (gsize k = 0; k < c; k++)
                  if (b->x[off + k] > best[k] || arg[k] == G_MAXSIZE)
                    {
                      best[k] = b->x[off + k];
                      arg[k] = off + k;
                    }
              }
          for (gsize k = 0; k < c; k++)
            if (arg[k] != G_MAXSIZE)
              b->dx[arg[k]] += go[k];
        }
}

/* The same for windows that do not overlap (pool size <= strides: VGG's
 * 2x2/2): every input cell has one window at most, so each window writes
 * its cells (the gradient at its first maximum, zeros elsewhere) instead
 * of adding, and W channels go at once.  The first maximum as above: a
 * cell replaces the best so far only if it is greater (NaN never is). */
#define DEFINE_BACK_DISJOINT(FN, W)                                                        \
  FN void                                                                                  \
  back_disjoint_body##W (const BackCtx *b, gint64 begin, gint64 end)                       \
  {                                                                                        \
    const MirConvGeom *g = b->g;                                                           \
    gsize c = (gsize) g->c;                                                                \
                                                                                           \
    for (gint64 n = begin; n < end; n++)                                                   \
      for (gint64 oy = 0; oy < g->oh; oy++)                                                \
        for (gint64 ox = 0; ox < g->ow; ox++)                                              \
          {                                                                                \
            const float *go = b->go + (((gsize) n * (gsize) g->oh + (gsize) oy) *          \
                                       (gsize) g->ow + (gsize) ox) * c;                    \
            gint64 y0, y1, x0, x1;                                                         \
            gsize k = 0;                                                                   \
                                                                                           \
            mir_conv_window_bounds (g, oy, ox, &y0, &y1, &x0, &x1);                        \
            if (y0 >= y1 || x0 >= x1)                                                      \
              continue;                                                                    \
            for (; k + W <= c; k += W)                                                     \
              {                                                                            \
                MirV##W best, v, gv, zero = { 0 };                                         \
                MirV##W##i arg = { 0 }, j = { 0 };                                         \
                                                                                           \
                memcpy (&gv, go + k, sizeof gv);                                           \
                memcpy (&best, b->x + cell (g, n, y0, x0) + k, sizeof best);               \
                for (gint64 iy = y0; iy < y1; iy++)                                        \
                  for (gint64 ix = x0; ix < x1; ix++, j += 1)                              \
                    {                                                                      \
                      MirV##W##i m;                                                        \
                                                                                           \
                      memcpy (&v, b->x + cell (g, n, iy, ix) + k, sizeof v);               \
                      m = v > best; /* never at the first cell: arg stays 0 */             \
                      best = mir_v##W##_select (m, v, best);                               \
                      arg = (j & m) | (arg & ~m);                                          \
                    }                                                                      \
                j = (MirV##W##i) { 0 };                                                    \
                for (gint64 iy = y0; iy < y1; iy++)                                        \
                  for (gint64 ix = x0; ix < x1; ix++, j += 1)                              \
                    {                                                                      \
                      v = mir_v##W##_select (arg == j, gv, zero);                          \
                      memcpy (b->dx + cell (g, n, iy, ix) + k, &v, sizeof v);              \
                    }                                                                      \
              }                                                                            \
            for (; k < c; k++)                                                             \
              {                                                                            \
                float bv = 0.0f;                                                           \
                gsize barg = G_MAXSIZE;                                                    \
                                                                                           \
                for (gint64 iy = y0; iy < y1; iy++)                                        \
                  for (gint64 ix = x0; ix < x1; ix++)                                      \
                    {                                                                      \
                      gsize off = cell (g, n, iy, ix) + k;                                 \
                                                                                           \
                      if (barg == G_MAXSIZE || b->x[off] > bv)                             \
                        {                                                                  \
                          bv = b->x[off];                                                  \
                          barg = off;                                                      \
                        }                                                                  \
                      b->dx[off] = 0.0f;                                                   \
                    }                                                                      \
                b->dx[barg] = go[k];                                                       \
              }                                                                            \
          }                                                                                \
  }

DEFINE_BACK_DISJOINT (static inline MIR_ALWAYS_INLINE, 8)
DEFINE_BACK_DISJOINT (MIR_V16_FN, 16)

static void
back_disjoint_portable (gint64 begin, gint64 end, gpointer data)
{
  back_disjoint_body8 (data, begin, end);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
back_disjoint_avx2 (gint64 begin, gint64 end, gpointer data)
{
  back_disjoint_body8 (data, begin, end);
}

MIR_TARGET_AVX512 static void
back_disjoint_avx512 (gint64 begin, gint64 end, gpointer data)
{
  back_disjoint_body16 (data, begin, end);
}
#endif

static MirParallelFunc
back_disjoint_pick (void)
{
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    return back_disjoint_avx512;
  if (mir_cpu_has_avx2 ())
    return back_disjoint_avx2;
#endif
  return back_disjoint_portable;
}

static gboolean
max_pool_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                   const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                   const MirRunArgs *args, GError **error)
{
  MirLayerMaxPooling2D *self = (MirLayerMaxPooling2D *) layer;
  MirConvGeom g;
  BackCtx b;

  if (grad_in[0] == NULL)
    return TRUE;
  mir_conv_geom_init (&g, &self->win, in[0]);
  b = (BackCtx) { &g, in[0]->data, grad_out->data, grad_in[0]->data };
  if (g.kh <= g.sh && g.kw <= g.sw && g.dh == 1 && g.dw == 1)
    {
      /* cells no window covers (strides past the pool, the edge of a
       * "valid" pooling) keep zero; the others are written */
      if (!(g.kh == g.sh && g.kw == g.sw && g.pad_top == 0 && g.pad_left == 0 &&
            g.oh * g.sh == g.h && g.ow * g.sw == g.w))
        memset (b.dx, 0, grad_in[0]->numel * sizeof (float));
      mir_parallel_for (g.n, 1, back_disjoint_pick (), &b);
      return TRUE;
    }
  memset (b.dx, 0, grad_in[0]->numel * sizeof (float));
  mir_parallel_for (g.n, 1, backward_images, &b);
  return TRUE;
}

static const MirWindow *
max_pool_window (MirLayer *layer)
{
  return &((MirLayerMaxPooling2D *) layer)->win;
}

const MirLayerClass mir_layer_max_pooling2d_class = {
  .name = "MaxPooling2D",
  .instance_size = sizeof (MirLayerMaxPooling2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POOLING,
  .configure = max_pool_configure,
  .infer = max_pool_infer,
  .forward = max_pool_forward,
  .backward = max_pool_backward,
  .window = max_pool_window,
};
