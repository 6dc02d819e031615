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
                gsize off = (((gsize) n * (gsize) g->h + (gsize) iy) * (gsize) g->w + (gsize) ix) * c;
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
