/* InputLayer: a placeholder whose value is fed to the model. */
#define G_LOG_DOMAIN "mir-layer-input"

#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

typedef struct
{
  MirLayer parent;
  MirShape shape;
} MirLayerInput;

static gboolean
input_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerInput *self = (MirLayerInput *) layer;

  *out = self->shape;
  return TRUE;
}

static gboolean
input_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
               const MirRunArgs *args, GError **error)
{
  /* The graph feeds input nodes directly; nothing to compute. */
  return TRUE;
}

const MirLayerClass mir_layer_input_class = {
  .name = "InputLayer",
  .instance_size = sizeof (MirLayerInput),
  .flags = MIR_LAYER_FLAG_INPUT,
  .infer = input_infer,
  .forward = input_forward,
};

MirLayer *
mir_layer_input_new (const char *name, const MirShape *shape, GError **error)
{
  MirLayerInput *self;

  if (shape->ndim < 2 || shape->ndim > MIR_MAX_DIMS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Input '%s' has rank %u; Mirada handles inputs of rank 2 to %d"),
                   name, shape->ndim, MIR_MAX_DIMS);
      return NULL;
    }
  for (guint i = 1; i < shape->ndim; i++)
    if (shape->dim[i] == 0 || shape->dim[i] > 65536)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                     _("Input '%s' has a dimension of %" PRId64 ", outside 1..65536"),
                     name, shape->dim[i]);
        return NULL;
      }
  self = (MirLayerInput *) mir_layer_new (&mir_layer_input_class, name, NULL, error);
  if (self == NULL)
    return NULL;
  self->shape = *shape;
  self->shape.dim[0] = -1;
  self->parent.out_shape = self->shape;
  self->parent.built = TRUE;
  return &self->parent;
}
