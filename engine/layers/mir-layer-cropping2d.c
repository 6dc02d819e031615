/* PLACEHOLDER: not implemented yet. */
#define G_LOG_DOMAIN "mir-layer-cropping2d"

#include <glib/gi18n-lib.h>

#include "mir-layers.h"

static gboolean
placeholder_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED, _("Layer type %s is not implemented yet"), layer->klass->name);
  return FALSE;
}

const MirLayerClass mir_layer_cropping2d_class = {
  .name = "Cropping2D",
  .instance_size = sizeof (MirLayer),
  .flags = MIR_LAYER_FLAG_NONE,
  .infer = placeholder_infer,
};
