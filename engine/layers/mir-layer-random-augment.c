/* RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast.
 *
 * Keras applies these only in training.  In Mirada they are the identity at
 * inference AND in training mode: augmentation for training is done by the
 * trainer on the input images, not by these layers.  Backward is the
 * identity too.  Their configuration is kept (layer->config) but not used. */
#define G_LOG_DOMAIN "mir-layer-random-augment"

#include <glib/gi18n-lib.h>

#include "mir-layers.h"

static gboolean
augment_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

static gboolean
augment_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
augment_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                 const MirRunArgs *args, GError **error)
{
  mir_tensor_copy_data (out, in[0]);
  return TRUE;
}

static gboolean
augment_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                  const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                  const MirRunArgs *args, GError **error)
{
  if (grad_in[0] != NULL)
    mir_tensor_copy_data (grad_in[0], grad_out);
  return TRUE;
}

#define AUGMENT_CLASS(sym, keras_name)      \
  const MirLayerClass sym = {               \
    .name = keras_name,                     \
    .instance_size = sizeof (MirLayer),     \
    .flags = MIR_LAYER_FLAG_WRITES_ALL,           \
    .configure = augment_configure,         \
    .infer = augment_infer,                 \
    .forward = augment_forward,             \
    .backward = augment_backward,           \
  }

AUGMENT_CLASS (mir_layer_random_flip_class, "RandomFlip");
AUGMENT_CLASS (mir_layer_random_rotation_class, "RandomRotation");
AUGMENT_CLASS (mir_layer_random_zoom_class, "RandomZoom");
AUGMENT_CLASS (mir_layer_random_translation_class, "RandomTranslation");
AUGMENT_CLASS (mir_layer_random_contrast_class, "RandomContrast");
