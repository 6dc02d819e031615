/* GlobalMaxPooling2D: maximum over height and width, (N, C) or with
 * keepdims (N, 1, 1, C); backward routes to the first maximum. */
#define G_LOG_DOMAIN "mir-layer-global-max-pooling2d"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"

typedef struct
{
  MirLayer parent;
  gboolean keepdims;
} MirLayerGlobalMaxPooling2D;

static gboolean
gmp_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerGlobalMaxPooling2D *self = (MirLayerGlobalMaxPooling2D *) layer;

  return mir_config_check_channels_last (config, error) &&
         mir_config_get_bool (config, "keepdims", FALSE, &self->keepdims, error);
}

static gboolean
gmp_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerGlobalMaxPooling2D *self = (MirLayerGlobalMaxPooling2D *) layer;

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
gmp_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
             const MirRunArgs *args, GError **error)
{
  const MirTensor *x = in[0];
  gsize hw = (gsize) (x->shape[1] * x->shape[2]), c = (gsize) x->shape[3];

  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      const float *xn = x->data + (gsize) n * hw * c;
      float *yo = out->data + (gsize) n * c;

      memcpy (yo, xn, c * sizeof (float));
      for (gsize p = 1; p < hw; p++)
        for (gsize k = 0; k < c; k++)
          yo[k] = xn[p * c + k] > yo[k] ? xn[p * c + k] : yo[k];
    }
  return TRUE;
}

static gboolean
gmp_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
              const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
              const MirRunArgs *args, GError **error)
{
  const MirTensor *x = in[0];
  gsize hw = (gsize) (x->shape[1] * x->shape[2]), c = (gsize) x->shape[3];
  g_autofree gsize *arg = NULL;

  if (grad_in[0] == NULL)
    return TRUE;
  arg = g_new (gsize, c);
  memset (grad_in[0]->data, 0, grad_in[0]->numel * sizeof (float));
  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      const float *xn = x->data + (gsize) n * hw * c;
      float *dxn = grad_in[0]->data + (gsize) n * hw * c;

      for (gsize k = 0; k < c; k++)
        arg[k] = k;
      for (gsize p = 1; p < hw; p++)
        for (gsize k = 0; k < c; k++)
          if (xn[p * c + k] > xn[arg[k]])
            arg[k] = p * c + k;
      for (gsize k = 0; k < c; k++)
        dxn[arg[k]] += grad_out->data[(gsize) n * c + k];
    }
  return TRUE;
}

const MirLayerClass mir_layer_global_max_pooling2d_class = {
  .name = "GlobalMaxPooling2D",
  .instance_size = sizeof (MirLayerGlobalMaxPooling2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = gmp_configure,
  .infer = gmp_infer,
  .forward = gmp_forward,
  .backward = gmp_backward,
};
