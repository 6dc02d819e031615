/* Looking up classes and layers by the names users type. */
#define G_LOG_DOMAIN "mirada-cli"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"

/* A class given by name (from the model's labels) or by index. */
gint
mirada_cli_parse_class (MirModel *model, const char *text, GError **error)
{
  const MirShape *out = mir_model_get_output_shape (model, 0);
  gint64 n = out->dim[out->ndim - 1];
  char *end = NULL;
  gint64 v;

  if (model->meta.class_names != NULL)
    for (guint i = 0; model->meta.class_names[i] != NULL; i++)
      if (g_ascii_strcasecmp (model->meta.class_names[i], text) == 0)
        return (gint) i;
  errno = 0;
  v = g_ascii_strtoll (text, &end, 10);
  if (errno == 0 && end != text && *end == '\0' && v >= 0 && v < MAX (n, 2))
    return (gint) v;
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown class '%s': give a class name from the model's labels or an index "
                 "from 0 to %" PRId64), text, MAX (n, 2) - 1);
  return -1;
}

gint
mirada_cli_find_layer (MirModel *model, const char *name, GError **error)
{
  gint i = mir_model_find_node (model, name);

  if (i < 0)
    g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                 _("The model has no layer named '%s' (see 'mirada info MODEL')"), name);
  return i;
}

