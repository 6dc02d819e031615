/* AveragePooling2D: TF semantics, with "same" padding the padded cells are
 * not counted in the mean. */
#define G_LOG_DOMAIN "mir-layer-average-pooling2d"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"
#include "mir-pool.h"
#include "mir-vec.h"

typedef struct
{
  MirLayer parent;
  MirWindow win;
} MirLayerAveragePooling2D;

static gboolean
avg_pool_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerAveragePooling2D *self = (MirLayerAveragePooling2D *) layer;

  return mir_config_get_pool_window (config, &self->win, error);
}

static gboolean
avg_pool_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerAveragePooling2D *self = (MirLayerAveragePooling2D *) layer;

  return mir_window_infer (&self->win, in, in->ndim == 4 ? in->dim[3] : -1, out, error);
}

static gboolean
avg_pool_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                  const MirRunArgs *args, GError **error)
{
  MirLayerAveragePooling2D *self = (MirLayerAveragePooling2D *) layer;
  MirConvGeom g;

  mir_conv_geom_init (&g, &self->win, in[0]);
  mir_avg_pool_forward (&g, in[0]->data, out->data);
  return TRUE;
}

static gboolean
avg_pool_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                   const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                   const MirRunArgs *args, GError **error)
{
  MirLayerAveragePooling2D *self = (MirLayerAveragePooling2D *) layer;
  MirConvGeom g;
  float *dx;
  gsize c;

  if (grad_in[0] == NULL)
    return TRUE;
  dx = grad_in[0]->data;
  mir_conv_geom_init (&g, &self->win, in[0]);
  c = (gsize) g.c;
  memset (dx, 0, grad_in[0]->numel * sizeof (float));
  for (gint64 n = 0; n < g.n; n++)
    for (gint64 oy = 0; oy < g.oh; oy++)
      for (gint64 ox = 0; ox < g.ow; ox++)
        {
          const float *restrict go = grad_out->data + (((gsize) n * (gsize) g.oh + (gsize) oy) *
                                                       (gsize) g.ow + (gsize) ox) * c;
          gint64 y0, y1, x0, x1;
          float scale;

          mir_conv_window_bounds (&g, oy, ox, &y0, &y1, &x0, &x1);
          scale = 1.0f / mir_pool_divisor (&g, oy, ox);
          for (gint64 iy = y0; iy < y1; iy++)
            for (gint64 ix = x0; ix < x1; ix++)
              {
                float *restrict d = dx + (((gsize) n * (gsize) g.h + (gsize) iy) *
                                          (gsize) g.w + (gsize) ix) * c;
                mir_vec_axpy (d, scale, go, c);
              }
        }
  return TRUE;
}

static const MirWindow *
avg_pool_window (MirLayer *layer)
{
  return &((MirLayerAveragePooling2D *) layer)->win;
}

const MirLayerClass mir_layer_average_pooling2d_class = {
  .name = "AveragePooling2D",
  .instance_size = sizeof (MirLayerAveragePooling2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POOLING,
  .configure = avg_pool_configure,
  .infer = avg_pool_infer,
  .forward = avg_pool_forward,
  .backward = avg_pool_backward,
  .window = avg_pool_window,
};
