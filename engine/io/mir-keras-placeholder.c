/* TEMPORARY placeholder until the loader branch lands (removed then). */
#define G_LOG_DOMAIN "mir-keras"

#include <glib/gi18n-lib.h>

#include "mir-keras.h"

MirModel *
mir_keras_load_h5 (const char *path, GError **error)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED, _("The Keras loader is not built yet"));
  return NULL;
}
