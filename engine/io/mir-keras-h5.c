/* mir-keras-h5.c: Keras HDF5 files (libhdf5 C API).
 *
 * Layout (Keras 2, tf.keras, and Keras 3's legacy .h5):
 *   /  attrs model_config (JSON), keras_version, backend
 *   /model_weights  attr layer_names (maybe chunked: layer_names0, 1, ...)
 *   /model_weights/<layer>  attr weight_names; datasets at <layer>/<weight name>
 *   /optimizer_weights  (ignored)
 * A save_weights() file has layer_names and the layer groups at the root.
 *
 * Weights are matched to a layer by order (names such as "conv2d_1_1/kernel:0"
 * vary across versions).  A nested model stores all of its layers' weights in
 * one group: they are matched by the layer-name component of each weight
 * name when that accounts for every weight, otherwise by Keras' order
 * (trainable weights of all layers, then the non-trainable ones), otherwise
 * by plain layer order; every shape is checked.
 *
 * libhdf5 itself runs in a helper process (mir-h5-file.h): this file asks the
 * parsed MirH5File for attributes and tensors by path.
 */
#define G_LOG_DOMAIN "mir-keras"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-h5-file.h"
#include "mir-keras-private.h"

/* ------------------------------------------------------------------ */
/* Matching weights to layers */

typedef struct
{
  MirLayer *layer;
  guint index;
} Slot;

static gboolean
fits (const MirWeight *w, const MirTensor *t)
{
  if (w->shape.ndim != t->ndim)
    return FALSE;
  for (guint i = 0; i < t->ndim; i++)
    if (w->shape.dim[i] != t->shape[i])
      return FALSE;
  return TRUE;
}

static gboolean
slots_fit (GArray *slots, GPtrArray *tensors)
{
  if (slots->len != tensors->len)
    return FALSE;
  for (guint i = 0; i < slots->len; i++)
    {
      Slot *s = &g_array_index (slots, Slot, i);
      if (s->layer == NULL || !fits (&s->layer->weights[s->index], tensors->pdata[i]))
        return FALSE;
    }
  return TRUE;
}

/* The path component before the last: "sequential_1/conv2d_3/kernel" ->
 * "conv2d_3", "block_1_expand/kernel:0" -> "block_1_expand". */
static char *
weight_layer_component (const char *wname)
{
  const char *last = strrchr (wname, '/');
  const char *start;

  if (last == NULL)
    return NULL;
  start = last;
  while (start > wname && start[-1] != '/')
    start--;
  return g_strndup (start, (gsize) (last - start));
}

/* Strategy 1: by the layer name inside each weight name, order within it. */
static GArray *
slots_by_name (GPtrArray *leaves, char **wnames, guint n)
{
  g_autoptr(GArray) slots = g_array_new (FALSE, TRUE, sizeof (Slot));
  g_autoptr(GHashTable) by_layer =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
  guint assigned = 0;

  g_array_set_size (slots, n);
  for (guint i = 0; i < n; i++)
    {
      char *comp = weight_layer_component (wnames[i]);
      GArray *list;

      if (comp == NULL)
        return NULL;
      list = g_hash_table_lookup (by_layer, comp);
      if (list == NULL)
        {
          list = g_array_new (FALSE, FALSE, sizeof (guint));
          g_hash_table_insert (by_layer, comp, list);
        }
      else
        g_free (comp);
      g_array_append_val (list, i);
    }
  for (guint l = 0; l < leaves->len; l++)
    {
      MirLayer *layer = leaves->pdata[l];
      GArray *list;

      if (layer->n_weights == 0)
        continue;
      list = g_hash_table_lookup (by_layer, layer->name);
      if (list == NULL || list->len != layer->n_weights)
        return NULL;
      for (guint j = 0; j < list->len; j++)
        {
          Slot *s = &g_array_index (slots, Slot, g_array_index (list, guint, j));
          if (s->layer != NULL)
            return NULL;
          s->layer = layer;
          s->index = j;
          assigned++;
        }
      g_hash_table_remove (by_layer, layer->name);
    }
  if (assigned != n)
    return NULL;
  return g_steal_pointer (&slots);
}

/* Strategy 2 (Keras' model.weights order): trainable weights of every layer,
 * then the non-trainable ones.  Strategy 3 (@plain): layer by layer. */
static GArray *
slots_by_order (GPtrArray *leaves, gboolean plain)
{
  GArray *slots = g_array_new (FALSE, TRUE, sizeof (Slot));

  for (guint pass = 0; pass < (plain ? 1u : 2u); pass++)
    for (guint l = 0; l < leaves->len; l++)
      {
        MirLayer *layer = leaves->pdata[l];

        for (guint j = 0; j < layer->n_weights; j++)
          {
            gboolean tr = layer->trainable && layer->weights[j].trainable;
            Slot s = { layer, j };

            if (plain || (pass == 0) == tr)
              g_array_append_val (slots, s);
          }
      }
  return slots;
}

static gboolean
load_nested (MirModel *model, MirH5File *f, const char *g, const char *name, GPtrArray *leaves,
             char **wnames, const char *path, GError **error)
{
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_tensor_unref);
  g_autofree char *what = g_strdup_printf (_("nested model '%s' in '%s'"), name, path);
  g_autoptr(GArray) slots = NULL;
  guint n = g_strv_length (wnames);
  guint needed = 0;

  for (guint l = 0; l < leaves->len; l++)
    needed += ((MirLayer *) leaves->pdata[l])->n_weights;
  if (needed != n)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The file has %u weights for nested model '%s', but its layers need %u"),
                   n, name, needed);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      MirTensor *t = mir_h5_file_read_tensor (f, g, wnames[i], what, error);
      if (t == NULL)
        return FALSE;
      g_ptr_array_add (tensors, t);
    }

  slots = slots_by_name (leaves, wnames, n);
  if (slots == NULL || !slots_fit (slots, tensors))
    {
      g_clear_pointer (&slots, g_array_unref);
      slots = slots_by_order (leaves, FALSE);
      if (!slots_fit (slots, tensors))
        {
          g_autoptr(GArray) plain = slots_by_order (leaves, TRUE);
          if (slots_fit (plain, tensors))
            {
              g_array_unref (slots);
              slots = g_steal_pointer (&plain);
            }
        }
    }
  /* mir_layer_set_weight() checks every shape again and words the error. */
  for (guint i = 0; i < n; i++)
    {
      Slot *s = &g_array_index (slots, Slot, i);
      if (!mir_layer_set_weight (s->layer, s->index, tensors->pdata[i], error))
        {
          g_prefix_error (error, _("Nested model '%s' (file weight '%s'): "), name, wnames[i]);
          return FALSE;
        }
    }
  return TRUE;
}

static MirLayer *
find_top_layer (MirModel *model, const char *name)
{
  for (guint i = 0; i < model->nodes->len; i++)
    {
      MirNode *node = model->nodes->pdata[i];
      if (node->group == NULL && !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT) &&
          g_strcmp0 (node->layer->name, name) == 0)
        return node->layer;
    }
  return NULL;
}

static GPtrArray *
nested_layers (MirModel *model, const char *name)
{
  GPtrArray *leaves = g_ptr_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  gsize len = strlen (name);

  for (guint i = 0; i < model->nodes->len; i++)
    {
      MirNode *node = model->nodes->pdata[i];
      if (node->group != NULL && strncmp (node->group, name, len) == 0 &&
          (node->group[len] == '\0' || node->group[len] == '/') &&
          g_hash_table_add (seen, node->layer))
        g_ptr_array_add (leaves, node->layer);
    }
  return leaves;
}

gboolean
mir_keras_load_weights_file (MirModel *model, MirH5File *f, const char *path, GError **error)
{
  g_auto(GStrv) names = NULL;
  const char *base;
  gboolean present;
  int has_mw;

  has_mw = mir_h5_file_exists (f, "/", "model_weights", path, error);
  if (has_mw < 0)
    return FALSE;
  base = has_mw > 0 ? "/model_weights" : "/";
  names = mir_h5_file_read_string_list (f, base, "layer_names", path, &present, error);
  if (names == NULL)
    return FALSE;
  if (!present)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' holds no Keras weights (no model_weights group and no layer_names "
                     "attribute)"),
                   path);
      return FALSE;
    }

  for (guint i = 0; names[i] != NULL; i++)
    {
      const char *name = names[i];
      g_autofree char *g = NULL;
      g_auto(GStrv) wnames = NULL;
      g_autofree char *what = NULL;
      MirLayer *layer;

      if (name[0] == '\0' || strcmp (name, ".") == 0 || strchr (name, '/') != NULL ||
          !mir_h5_file_has_group (f, base, name))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("'%s' lists weights for layer '%s' but has no group for them"),
                       path, name);
          return FALSE;
        }
      g = mir_h5_path_join (base, name);
      what = g_strdup_printf (_("layer '%s' in '%s'"), name, path);
      wnames = mir_h5_file_read_string_list (f, g, "weight_names", what, &present, error);
      if (wnames == NULL)
        return FALSE;
      if (wnames[0] == NULL)
        continue;

      layer = find_top_layer (model, name);
      if (layer != NULL)
        {
          guint n = g_strv_length (wnames);

          if (n != layer->n_weights)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("Layer '%s' has %u weights in the file, but its configuration "
                             "needs %u"),
                           name, n, layer->n_weights);
              return FALSE;
            }
          for (guint j = 0; j < n; j++)
            {
              g_autoptr(MirTensor) t = mir_h5_file_read_tensor (f, g, wnames[j], what, error);
              if (t == NULL || !mir_layer_set_weight (layer, j, t, error))
                return FALSE;
            }
        }
      else
        {
          g_autoptr(GPtrArray) leaves = nested_layers (model, name);

          if (leaves->len == 0)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("'%s' has weights for a layer '%s', which the model does not have"),
                           path, name);
              return FALSE;
            }
          if (!load_nested (model, f, g, name, leaves, wnames, path, error))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
mir_keras_load_weights_h5 (MirModel *model, const char *path, GError **error)
{
  g_autoptr(MirH5File) f = NULL;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!(f = mir_h5_file_open (path, path, error)))
    return FALSE;
  return mir_keras_load_weights_file (model, f, path, error);
}

MirModel *
mir_keras_load_h5 (const char *path, GError **error)
{
  g_autoptr(MirH5File) file = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autofree char *config = NULL;
  g_autofree char *version = NULL;
  g_autofree char *backend = NULL;
  g_autoptr(GError) local = NULL;
  gboolean keras3;

  g_return_val_if_fail (path != NULL, NULL);

  if (!(file = mir_h5_file_open (path, path, error)))
    return NULL;
  config = mir_h5_file_read_string_attr (file, "/", "model_config", path, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (config == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' holds no model architecture (no model_config attribute): it may be "
                     "a weights-only file written by save_weights(). Such a file needs the "
                     "model's architecture from elsewhere (a model .h5 file or the JSON of "
                     "model.to_json()), onto which its weights are loaded"),
                   path);
      return NULL;
    }
  if (!g_utf8_validate (config, -1, NULL))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The model configuration in '%s' is not valid UTF-8 text"), path);
      return NULL;
    }
  version = mir_h5_file_read_string_attr (file, "/", "keras_version", path, &local);
  if (local == NULL)
    backend = mir_h5_file_read_string_attr (file, "/", "backend", path, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (version != NULL && g_str_has_prefix (version, "1."))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' was written by Keras %s; Mirada reads files from Keras 2 and 3"),
                   path, version);
      return NULL;
    }

  model = mir_keras_model_from_config (config, -1, error);
  if (model == NULL)
    return NULL;
  keras3 = version != NULL ? g_str_has_prefix (version, "3.")
                           : strstr (config, "\"registered_name\"") != NULL;
  mir_keras_model_set_version (model, keras3);
  model->format = g_strdup (keras3 ? "Keras 3 HDF5" : "Keras 2 HDF5");
  model->keras_version = g_steal_pointer (&version);
  model->backend = g_steal_pointer (&backend);

  if (!mir_keras_load_weights_file (model, file, path, error))
    return NULL;
  g_clear_pointer (&file, mir_h5_file_free);
  if (!mir_model_finish (model, FALSE, 0, error))
    return NULL;
  return g_steal_pointer (&model);
}
