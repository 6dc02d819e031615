/* mir-model-classes.c: the one place where a model's output units become
 * named classes, for the CLI, the detector and the window alike.
 *
 * A single sigmoid unit P is two classes, as in Keras' binary models and
 * `mirada predict`: class 1 is P, class 0 is 1 − P (the complement). */
#define G_LOG_DOMAIN "mir-model"

#include <glib/gi18n-lib.h>

#include "mir-model.h"
#include "explain/mir-explain.h"

gboolean
mir_model_is_binary_sigmoid (MirModel *model)
{
  const MirShape *o;

  g_return_val_if_fail (model != NULL, FALSE);

  if (model->outputs == NULL || model->outputs->len == 0)
    return FALSE;
  o = mir_model_get_output_shape (model, 0);
  return o->ndim >= 1 && o->dim[o->ndim - 1] == 1
         && mir_model_get_head_kind (model) == MIR_HEAD_SIGMOID;
}

guint
mir_model_get_n_classes (MirModel *model)
{
  const MirShape *o;

  g_return_val_if_fail (model != NULL, 0);

  if (model->outputs == NULL || model->outputs->len == 0)
    return 0;
  if (mir_model_is_binary_sigmoid (model))
    return 2;
  o = mir_model_get_output_shape (model, 0);
  return o->ndim >= 1 && o->dim[o->ndim - 1] > 0 ? (guint) o->dim[o->ndim - 1] : 0;
}

char *
mir_model_dup_class_name (MirModel *model, guint i)
{
  char **names;

  g_return_val_if_fail (model != NULL, NULL);

  names = model->meta.class_names;
  if (names != NULL && i < g_strv_length (names))
    return g_strdup (names[i]);
  return g_strdup_printf (_("class %u"), i);
}

char **
mir_model_dup_class_names (MirModel *model)
{
  guint n = mir_model_get_n_classes (model);
  char **names = g_new0 (char *, n + 1);

  for (guint c = 0; c < n; c++)
    names[c] = mir_model_dup_class_name (model, c);
  return names;
}

gboolean
mir_model_check_class_names (MirModel *model, const char *const *names, const char *source,
                             GError **error)
{
  const MirShape *o;
  guint n, units;

  g_return_val_if_fail (model != NULL, FALSE);

  if (names == NULL || model->outputs == NULL || model->outputs->len == 0)
    return TRUE;
  n = g_strv_length ((char **) names);
  o = mir_model_get_output_shape (model, 0);
  units = o->ndim >= 1 && o->dim[o->ndim - 1] > 0 ? (guint) o->dim[o->ndim - 1] : 0;
  /* One unit: a binary model, named by one class or by both. */
  if (n == units || (units == 1 && n == 2))
    return TRUE;
  {
    g_autofree char *display = g_filename_display_name (source ? source : "?");

    if (units == 1)
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("'%s' names %u classes, but the model has one output unit (one or two "
                     "class names); correct or remove that file"),
                   display, n);
    else
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("'%s' names %u classes, but the model has %u output units; correct or "
                     "remove that file"),
                   display, n, units);
  }
  return FALSE;
}

/* For a binary sigmoid model with two class names, names[1] for P and
 * names[0] for 1 − P; with one name, "not …" for the complement. */
char *
mir_explanation_dup_class_name (MirModel *model, const MirExplanation *e)
{
  char **names = model->meta.class_names;
  g_autofree char *name = NULL;

  if (mir_model_is_binary_sigmoid (model) && (names == NULL || g_strv_length (names) != 1))
    return mir_model_dup_class_name (model, e->complement ? 0 : 1);
  name = mir_model_dup_class_name (model, (guint) MAX (e->class_index, 0));
  if (e->complement)
    return g_strdup_printf (_("not %s"), name);
  return g_steal_pointer (&name);
}

void
mir_explain_options_set_class (MirExplainOptions *opts, MirModel *model, gint k)
{
  opts->class_index = k;
  opts->complement = FALSE;
  if (k >= 0 && k <= 1 && mir_model_is_binary_sigmoid (model))
    {
      opts->class_index = 0;
      opts->complement = k == 0;
    }
}
