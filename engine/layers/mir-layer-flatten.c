/* Flatten: (N, d1, ..., dk) -> (N, d1 * ... * dk), row-major (NHWC order, as
 * Keras with channels_last). */
#define G_LOG_DOMAIN "mir-layer-flatten"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

static gboolean
flatten_configure (MirLayer *self, JsonObject *config, GError **error)
{
  const char *fmt = mir_config_get_string (config, "data_format", "channels_last");

  if (g_strcmp0 (fmt, "channels_first") == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("channels_first data is not supported; Mirada works in channels_last"));
      return FALSE;
    }
  self->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
flatten_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  gint64 n = 1;

  for (guint d = 1; d < in[0].ndim && n >= 0; d++)
    {
      if (in[0].dim[d] < 0)
        n = -1;
      else if (in[0].dim[d] != 0 && n > MIR_TENSOR_MAX_ELEMENTS / in[0].dim[d])
        {
          g_autofree char *s = mir_shape_to_string (&in[0]);
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("flattening an input of shape %s gives too many values"), s);
          return FALSE;
        }
      else
        n *= in[0].dim[d];
    }
  out->ndim = 2;
  out->dim[0] = in[0].ndim > 0 ? in[0].dim[0] : 1;
  out->dim[1] = n;
  return TRUE;
}

static gboolean
flatten_forward (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
                 const MirRunArgs *args, GError **error)
{
  memcpy (out->data, in[0]->data, out->numel * sizeof (float));
  return TRUE;
}

static gboolean
flatten_backward (MirLayer *self, MirTensor *const *in, guint n_in, const MirTensor *out,
                  const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                  const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    memcpy (grad_in[0]->data, grad_out->data, grad_out->numel * sizeof (float));
  return TRUE;
}

const MirLayerClass mir_layer_flatten_class = {
  .name = "Flatten",
  .instance_size = sizeof (MirLayer),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_REARRANGES,
  .configure = flatten_configure,
  .infer = flatten_infer,
  .forward = flatten_forward,
  .backward = flatten_backward,
};
