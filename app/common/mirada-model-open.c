/* mirada-model-open.c: opening a model file the way every part of Mirada does
 * (CLI commands and the window): the file, its sidecar, then the user's
 * overrides. */
#define G_LOG_DOMAIN "mirada-common"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-model-open.h"
#include "mir-model-load.h"
#include "mir-sidecar.h"

MirModel *
mirada_model_open (const char *path, const char *labels_path, const char *preprocess,
                   const char *resize, GError **error)
{
  g_autoptr(MirModel) model = NULL;
  MirPreprocessMode mode;
  MirResizeMode resize_mode;

  g_return_val_if_fail (path != NULL, NULL);

  /* Check the overrides first: a typo should not cost a model load. */
  if (preprocess != NULL && !mir_preprocess_mode_from_string (preprocess, &mode, error))
    return NULL;
  if (resize != NULL && !mir_resize_mode_from_string (resize, &resize_mode, error))
    return NULL;

  model = mir_model_load (path, error);
  if (model == NULL)
    return NULL;

  if (labels_path != NULL)
    {
      char **names = mir_labels_load (labels_path, NULL, error);

      if (names == NULL)
        return NULL;
      if (!mir_model_check_class_names (model, (const char *const *) names, labels_path, error))
        {
          g_strfreev (names);
          return NULL;
        }
      g_strfreev (model->meta.class_names);
      model->meta.class_names = names;
    }
  if (preprocess != NULL)
    {
      model->meta.preprocess = mode;
      model->meta.preprocess_from = MIR_PREPROCESS_FROM_USER;
    }
  if (resize != NULL)
    model->meta.resize = resize_mode;
  return g_steal_pointer (&model);
}
