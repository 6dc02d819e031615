/* GlobalAveragePooling2D: mean over height and width, (N, C) or with
 * keepdims (N, 1, 1, C). */
#define G_LOG_DOMAIN "mir-layer-global-average-pooling2d"

#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"

typedef struct
{
  MirLayer parent;
  gboolean keepdims;
} MirLayerGlobalAveragePooling2D;

static gboolean
gap_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerGlobalAveragePooling2D *self = (MirLayerGlobalAveragePooling2D *) layer;

  return mir_config_check_channels_last (config, error) &&
         mir_config_get_bool (config, "keepdims", FALSE, &self->keepdims, error);
}

static gboolean
gap_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerGlobalAveragePooling2D *self = (MirLayerGlobalAveragePooling2D *) layer;

  if (in->ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects a 4-D input (batch, height, width, channels) but got shape %s"), s);
      return FALSE;
    }
  if (self->keepdims)
    *out = (MirShape) { 4, { in->dim[0], 1, 1, in->dim[3] } };
  else
    *out = (MirShape) { 2, { in->dim[0], in->dim[3] } };
  return TRUE;
}

static gboolean
gap_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
             const MirRunArgs *args, GError **error)
{
  const MirTensor *x = in[0];
  gsize hw = (gsize) (x->shape[1] * x->shape[2]), c = (gsize) x->shape[3];
  g_autofree double *acc = g_new (double, c);

  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      const float *xn = x->data + (gsize) n * hw * c;
      for (gsize k = 0; k < c; k++)
        acc[k] = 0;
      for (gsize p = 0; p < hw; p++)
        for (gsize k = 0; k < c; k++)
          acc[k] += xn[p * c + k];
      for (gsize k = 0; k < c; k++)
        out->data[(gsize) n * c + k] = (float) (acc[k] / (double) MAX (hw, 1));
    }
  return TRUE;
}

static gboolean
gap_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
              const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
              const MirRunArgs *args, GError **error)
{
  const MirTensor *x = in[0];
  gsize hw = (gsize) (x->shape[1] * x->shape[2]), c = (gsize) x->shape[3];
  float scale = 1.0f / (float) MAX (hw, 1);

  if (grad_in[0] == NULL)
    return TRUE;
  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      const float *go = grad_out->data + (gsize) n * c;
      float *dxn = grad_in[0]->data + (gsize) n * hw * c;
      for (gsize p = 0; p < hw; p++)
        for (gsize k = 0; k < c; k++)
          dxn[p * c + k] = go[k] * scale;
    }
  return TRUE;
}

const MirLayerClass mir_layer_global_average_pooling2d_class = {
  .name = "GlobalAveragePooling2D",
  .instance_size = sizeof (MirLayerGlobalAveragePooling2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = gap_configure,
  .infer = gap_infer,
  .forward = gap_forward,
  .backward = gap_backward,
};
