#define G_LOG_DOMAIN "mir-keras-writer"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <hdf5.h>
#include <glib/gstdio.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "mir-error.h"
#include "mir-keras-writer.h"

/* ------------------------------------------------------------------ */
/* model_config */

/* A linear chain: input, then each node fed by the one before, no layer used
 * twice, one output at the end. */
static gboolean
is_sequential (MirModel *model)
{
  guint n = mir_model_get_n_nodes (model);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

  if (model->inputs->len != 1 || model->outputs->len != 1 || n < 2 ||
      mir_model_get_input (model, 0) != 0 || mir_model_get_output (model, 0) != n - 1)
    return FALSE;
  for (guint i = 1; i < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      if (node->n_inputs != 1 || node->inputs[0] != i - 1 ||
          (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT) ||
          !g_hash_table_add (seen, node->layer))
        return FALSE;
    }
  return TRUE;
}

static JsonArray *
shape_array (const MirShape *shape)
{
  JsonArray *a = json_array_new ();

  for (guint i = 0; i < shape->ndim; i++)
    if (shape->dim[i] < 0)
      json_array_add_null_element (a);
    else
      json_array_add_int_element (a, shape->dim[i]);
  return a;
}

/* A copy of the layer's config (top level copied, so "name" can change). */
static JsonObject *
layer_config (MirModel *model, guint node_index)
{
  MirNode *node = mir_model_get_node (model, node_index);
  MirLayer *layer = node->layer;
  JsonObject *config = json_object_new ();

  if (layer->config != NULL)
    {
      g_autoptr(GList) members = json_object_get_members (layer->config);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (config, l->data,
                                json_node_copy (json_object_get_member (layer->config, l->data)));
    }
  json_object_set_string_member (config, "name", layer->name);
  if (layer->klass->flags & MIR_LAYER_FLAG_INPUT)
    {
      if (!json_object_has_member (config, "batch_input_shape"))
        json_object_set_array_member (config, "batch_input_shape", shape_array (&node->shape));
      json_object_remove_member (config, "batch_shape"); /* Keras 3 spelling */
      if (!json_object_has_member (config, "dtype"))
        json_object_set_string_member (config, "dtype", "float32");
      if (!json_object_has_member (config, "sparse"))
        json_object_set_boolean_member (config, "sparse", FALSE);
      if (!json_object_has_member (config, "ragged"))
        json_object_set_boolean_member (config, "ragged", FALSE);
    }
  else
    {
      /* what the layer is now (train --freeze-base), not what it was loaded as */
      json_object_set_boolean_member (config, "trainable", layer->trainable);
      if (!json_object_has_member (config, "dtype"))
        json_object_set_string_member (config, "dtype", "float32");
    }
  return config;
}

static JsonObject *
layer_entry (MirModel *model, guint node_index)
{
  MirNode *node = mir_model_get_node (model, node_index);
  JsonObject *entry = json_object_new ();

  json_object_set_string_member (entry, "module", "keras.layers");
  json_object_set_string_member (entry, "class_name", node->layer->klass->name);
  json_object_set_object_member (entry, "config", layer_config (model, node_index));
  json_object_set_null_member (entry, "registered_name");
  if (node->n_inputs > 0)
    {
      MirNode *src = mir_model_get_node (model, node->inputs[0]);
      JsonObject *build = json_object_new ();
      json_object_set_array_member (build, "input_shape", shape_array (&src->shape));
      json_object_set_object_member (entry, "build_config", build);
    }
  return entry;
}

/* Keras 2 Functional form: each layer lists its call nodes; a tensor is
 * [layer name, node index within that layer, 0, {}]. */
static JsonObject *
functional_config (MirModel *model)
{
  guint n = mir_model_get_n_nodes (model);
  g_autoptr(GHashTable) entries = g_hash_table_new (NULL, NULL); /* MirLayer* -> JsonObject* */
  g_autofree guint *call_index = g_new0 (guint, n);
  g_autoptr(GHashTable) calls = g_hash_table_new (NULL, NULL);   /* MirLayer* -> count */
  JsonObject *config = json_object_new ();
  JsonArray *layers = json_array_new ();
  JsonArray *ins = json_array_new ();
  JsonArray *outs = json_array_new ();

  json_object_set_string_member (config, "name", model->name ? model->name : "model");
  for (guint i = 0; i < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      JsonObject *entry = g_hash_table_lookup (entries, node->layer);
      JsonArray *inbound;
      guint k = GPOINTER_TO_UINT (g_hash_table_lookup (calls, node->layer));

      call_index[i] = k;
      g_hash_table_insert (calls, node->layer, GUINT_TO_POINTER (k + 1));
      if (entry == NULL)
        {
          entry = layer_entry (model, i);
          json_object_set_string_member (entry, "name", node->layer->name);
          json_object_set_array_member (entry, "inbound_nodes", json_array_new ());
          json_array_add_object_element (layers, entry);
          g_hash_table_insert (entries, node->layer, entry);
        }
      if (node->n_inputs == 0)
        continue;
      inbound = json_array_new ();
      for (guint j = 0; j < node->n_inputs; j++)
        {
          MirNode *src = mir_model_get_node (model, node->inputs[j]);
          JsonArray *t = json_array_new ();
          json_array_add_string_element (t, src->layer->name);
          json_array_add_int_element (t, call_index[node->inputs[j]]);
          json_array_add_int_element (t, 0);
          json_array_add_object_element (t, json_object_new ());
          json_array_add_array_element (inbound, t);
        }
      json_array_add_array_element (json_object_get_array_member (entry, "inbound_nodes"),
                                    inbound);
    }
  for (guint k = 0; k < 2; k++)
    {
      GArray *list = k == 0 ? model->inputs : model->outputs;
      for (guint j = 0; j < list->len; j++)
        {
          guint idx = g_array_index (list, guint, j);
          JsonArray *t = json_array_new ();
          json_array_add_string_element (t, mir_model_get_node (model, idx)->layer->name);
          json_array_add_int_element (t, call_index[idx]);
          json_array_add_int_element (t, 0);
          json_array_add_array_element (k == 0 ? ins : outs, t);
        }
    }
  json_object_set_array_member (config, "layers", layers);
  json_object_set_array_member (config, "input_layers", ins);
  json_object_set_array_member (config, "output_layers", outs);
  return config;
}

static JsonObject *
sequential_config (MirModel *model)
{
  JsonObject *config = json_object_new ();
  JsonArray *layers = json_array_new ();

  json_object_set_string_member (config, "name", model->name ? model->name : "sequential");
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    json_array_add_object_element (layers, layer_entry (model, i));
  json_object_set_array_member (config, "layers", layers);
  return config;
}

/* Layers are named uniquely in a Keras model; a graph whose nodes share a
 * layer name with different layers cannot be written. */
static gboolean
check_names (MirModel *model, GError **error)
{
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirLayer *layer = mir_model_get_node (model, i)->layer;
      MirLayer *other = g_hash_table_lookup (names, layer->name);
      if (other != NULL && other != layer)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Two layers are named '%s'; Keras needs unique layer names"),
                       layer->name);
          return FALSE;
        }
      g_hash_table_insert (names, layer->name, layer);
      if (strchr (layer->name, '/') != NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Layer name '%s' contains '/', which Keras .h5 files cannot hold"),
                       layer->name);
          return FALSE;
        }
    }
  return TRUE;
}

/* The keras_version to write: Keras 3's when a layer's activation means
 * what only Keras 3 calls so (mir_keras_model_set_version reads it back). */
static const char *
writer_version (MirModel *model)
{
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirLayer *layer = mir_model_get_node (model, i)->layer;

      if (layer != NULL && (layer->activation == MIR_ACT_HARD_SIGMOID_K3 ||
                            layer->activation == MIR_ACT_HARD_SWISH))
        return MIR_KERAS3_WRITER_VERSION;
    }
  return MIR_KERAS_WRITER_VERSION;
}

char *
mir_keras_model_config_json (MirModel *model, GError **error)
{
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  JsonObject *top;
  gboolean seq;

  if (!check_names (model, error))
    return NULL;
  seq = is_sequential (model);
  top = json_object_new ();
  json_object_set_string_member (top, "class_name", seq ? "Sequential" : "Functional");
  json_object_set_object_member (top, "config",
                                 seq ? sequential_config (model) : functional_config (model));
  json_object_set_string_member (top, "keras_version", writer_version (model));
  json_object_set_string_member (top, "backend", "tensorflow");
  json_node_take_object (root, top);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------------ */
/* HDF5 */

/* Creates attribute @name of @type over @space on @obj and writes @buf (as
 * @mem_type) when @prepared (the caller's type and space set-up succeeded),
 * then closes the attribute, @space and, with @own_type, @type. */
static gboolean
finish_attr (hid_t obj, const char *name, hid_t type, gboolean own_type, hid_t mem_type,
             hid_t space, gboolean prepared, const void *buf)
{
  hid_t attr = -1;
  gboolean ok = FALSE;

  if (prepared)
    {
      attr = H5Acreate2 (obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
      ok = attr >= 0 && H5Awrite (attr, mem_type, buf) >= 0;
    }
  if (attr >= 0)
    H5Aclose (attr);
  if (space >= 0)
    H5Sclose (space);
  if (own_type && type >= 0)
    H5Tclose (type);
  return ok;
}

/* Fixed-length byte string, as h5py stores Python bytes. */
static gboolean
write_bytes_attr (hid_t obj, const char *name, const char *value)
{
  gsize len = strlen (value);
  hid_t type = H5Tcopy (H5T_C_S1);
  hid_t space = H5Screate (H5S_SCALAR);

  return finish_attr (obj, name, type, TRUE, type, space,
                      type >= 0 && space >= 0 && H5Tset_size (type, MAX (len, 1)) >= 0 &&
                        H5Tset_strpad (type, H5T_STR_NULLPAD) >= 0,
                      len ? value : "");
}

/* Variable-length UTF-8 string, as h5py stores Python str. */
static gboolean
write_str_attr (hid_t obj, const char *name, const char *value)
{
  hid_t type = H5Tcopy (H5T_C_S1);
  hid_t space = H5Screate (H5S_SCALAR);

  return finish_attr (obj, name, type, TRUE, type, space,
                      type >= 0 && space >= 0 && H5Tset_size (type, H5T_VARIABLE) >= 0 &&
                        H5Tset_cset (type, H5T_CSET_UTF8) >= 0,
                      &value);
}

/* An array of fixed-length byte strings (h5py: a list of bytes); an empty
 * list is a float64 array of shape (0,), as numpy makes of []. */
static gboolean
write_names_attr (hid_t obj, const char *name, GPtrArray *names)
{
  hsize_t dims[1] = { names->len };
  hid_t type, space;
  gsize width = 1;
  g_autofree char *buf = NULL;

  if (names->len == 0)
    {
      double dummy = 0;

      space = H5Screate_simple (1, dims, NULL);
      return finish_attr (obj, name, H5T_IEEE_F64LE, FALSE, H5T_NATIVE_DOUBLE, space,
                          space >= 0, &dummy);
    }
  for (guint i = 0; i < names->len; i++)
    width = MAX (width, strlen (names->pdata[i]));
  buf = g_malloc0 (width * names->len);
  for (guint i = 0; i < names->len; i++)
    memcpy (buf + i * width, names->pdata[i], strlen (names->pdata[i]));
  type = H5Tcopy (H5T_C_S1);
  space = H5Screate_simple (1, dims, NULL);
  return finish_attr (obj, name, type, TRUE, type, space,
                      type >= 0 && space >= 0 && H5Tset_size (type, width) >= 0 &&
                        H5Tset_strpad (type, H5T_STR_NULLPAD) >= 0,
                      buf);
}

static gboolean
write_dataset (hid_t group, const char *name, MirTensor *value)
{
  hsize_t dims[MIR_MAX_DIMS];
  hid_t space, lcpl, dset = -1;
  gboolean ok = FALSE;

  for (guint i = 0; i < value->ndim; i++)
    dims[i] = (hsize_t) value->shape[i];
  space = value->ndim ? H5Screate_simple ((int) value->ndim, dims, NULL) : H5Screate (H5S_SCALAR);
  lcpl = H5Pcreate (H5P_LINK_CREATE);
  if (space >= 0 && lcpl >= 0 && H5Pset_create_intermediate_group (lcpl, 1) >= 0)
    {
      dset = H5Dcreate2 (group, name, H5T_IEEE_F32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
      ok = dset >= 0 &&
           H5Dwrite (dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, value->data) >= 0;
    }
  if (dset >= 0)
    H5Dclose (dset);
  if (lcpl >= 0)
    H5Pclose (lcpl);
  if (space >= 0)
    H5Sclose (space);
  return ok;
}

typedef struct
{
  const char *path;
  char *what; /* what was being written when it failed */
} WriteState;

static gboolean
fail_at (WriteState *st, char *what)
{
  g_free (st->what);
  st->what = what;
  return FALSE;
}

static gboolean
write_file (MirModel *model, hid_t file, const char *config_json, WriteState *st)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  g_autoptr(GPtrArray) layer_names = g_ptr_array_new ();
  gboolean seq = is_sequential (model);
  hid_t mw;
  gboolean ok = TRUE;

  if (!write_str_attr (file, "backend", "tensorflow") ||
      !write_str_attr (file, "keras_version", writer_version (model)) ||
      !write_bytes_attr (file, "model_config", config_json) ||
      !write_str_attr (file, "mirada_writer", "written by Mirada"))
    return fail_at (st, g_strdup (_("the model configuration")));

  mw = H5Gcreate2 (file, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (mw < 0)
    return fail_at (st, g_strdup ("model_weights"));
  for (guint l = 0; l < layers->len; l++)
    {
      MirLayer *layer = layers->pdata[l];
      if (seq && (layer->klass->flags & MIR_LAYER_FLAG_INPUT))
        continue; /* Keras' Sequential.layers leaves out the InputLayer */
      g_ptr_array_add (layer_names, layer->name);
    }
  ok = write_names_attr (mw, "layer_names", layer_names) &&
       write_bytes_attr (mw, "backend", "tensorflow") &&
       write_bytes_attr (mw, "keras_version", writer_version (model));
  if (!ok)
    fail_at (st, g_strdup ("model_weights"));

  for (guint l = 0; ok && l < layer_names->len; l++)
    {
      MirLayer *layer = NULL;
      g_autoptr(GPtrArray) wnames = g_ptr_array_new_with_free_func (g_free);
      hid_t g;

      for (guint k = 0; k < layers->len && layer == NULL; k++)
        if (((MirLayer *) layers->pdata[k])->name == layer_names->pdata[l])
          layer = layers->pdata[k];
      g = H5Gcreate2 (mw, layer->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (g < 0)
        {
          ok = fail_at (st, g_strdup_printf (_("layer '%s'"), layer->name));
          break;
        }
      for (guint j = 0; j < layer->n_weights; j++)
        g_ptr_array_add (wnames, g_strdup_printf ("%s/%s:0", layer->name, layer->weights[j].name));
      if (!write_names_attr (g, "weight_names", wnames))
        ok = fail_at (st, g_strdup_printf (_("layer '%s'"), layer->name));
      for (guint j = 0; ok && j < layer->n_weights; j++)
        {
          MirTensor *v = layer->weights[j].value;
          g_autoptr(MirTensor) copy = NULL;

          if (v == NULL)
            {
              ok = fail_at (st, g_strdup_printf (_("layer '%s' (weight '%s' has no value)"),
                                                 layer->name, layer->weights[j].name));
              break;
            }
          if (!mir_tensor_is_contiguous (v))
            v = copy = mir_tensor_dup (v, NULL);
          if (v == NULL || !write_dataset (g, wnames->pdata[j], v))
            ok = fail_at (st, g_strdup_printf (_("weight '%s'"), (char *) wnames->pdata[j]));
        }
      H5Gclose (g);
    }
  H5Gclose (mw);
  return ok;
}

gboolean
mir_keras_save_h5 (MirModel *model, const char *path, GError **error)
{
  g_autofree char *config = NULL;
  g_autofree char *tmp = NULL;
  WriteState st = { path, NULL };
  hid_t file = -1;
  gboolean ok = FALSE;
  int fd;

  g_return_val_if_fail (model != NULL && path != NULL, FALSE);

  config = mir_keras_model_config_json (model, error);
  if (config == NULL)
    return FALSE;

  tmp = g_strdup_printf ("%s.XXXXXX", path);
  fd = g_mkstemp_full (tmp, O_RDWR, 0644);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot create a file next to '%s': %s"),
                   path, g_strerror (saved));
      return FALSE;
    }
  close (fd);

  H5E_BEGIN_TRY
  {
    file = H5Fcreate (tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file >= 0)
      {
        ok = write_file (model, file, config, &st);
        if (H5Fclose (file) < 0 && ok)
          ok = fail_at (&st, g_strdup (_("the end of the file")));
      }
    else
      fail_at (&st, g_strdup (_("the file header")));
  }
  H5E_END_TRY;

  if (ok && g_rename (tmp, path) != 0)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), path,
                   g_strerror (saved));
      g_unlink (tmp);
      return FALSE;
    }
  if (!ok)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                   _("Cannot write '%s': the HDF5 library failed while writing %s "
                     "(is the disk full?)"), path, st.what ? st.what : "?");
      g_free (st.what);
      g_unlink (tmp);
      return FALSE;
    }
  return TRUE;
}
