/* fuzz-keras-config.c: a Keras model config JSON (the model_config
 * attribute) through mir_keras_model_from_config(), then weight
 * initialisation (mir_model_finish), where absurd sizes must be refused. */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-keras.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;

  model = mir_keras_model_from_config ((const char *) data, (gssize) size, &error);
  if (model == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  if (!mir_model_finish (model, TRUE, 1, &error))
    g_assert (error != NULL);
  return 0;
}
