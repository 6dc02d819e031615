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
 */
#define G_LOG_DOMAIN "mir-keras"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-keras-private.h"

typedef hid_t MirH5Id;

static void
h5_close (hid_t id)
{
  if (id < 0)
    return;
  switch (H5Iget_type (id))
    {
    case H5I_FILE:
      H5Fclose (id);
      break;
    case H5I_GROUP:
      H5Gclose (id);
      break;
    case H5I_DATASET:
      H5Dclose (id);
      break;
    case H5I_ATTR:
      H5Aclose (id);
      break;
    case H5I_DATATYPE:
      H5Tclose (id);
      break;
    case H5I_DATASPACE:
      H5Sclose (id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose (id);
      break;
    default:
      break;
    }
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (MirH5Id, h5_close, -1)

static herr_t
walk_cb (unsigned n, const H5E_error2_t *err, void *data)
{
  char **detail = data;

  if (*detail == NULL && err->desc != NULL && err->desc[0] != '\0')
    *detail = g_strdup (err->desc);
  return 0;
}

char *
mir_h5_dup_error_detail (void)
{
  char *detail = NULL;

  H5Ewalk2 (H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &detail);
  H5Eclear2 (H5E_DEFAULT);
  return detail;
}

hid_t
mir_h5_open_file (const char *path, GError **error)
{
  htri_t is;
  hid_t file;
  FILE *f;

  H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);

  f = fopen (path, "rb");
  if (f == NULL)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), path,
                   g_strerror (saved));
      return -1;
    }
  fclose (f);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is a folder, not a model file"), path);
      return -1;
    }

  is = H5Fis_hdf5 (path);
  if (is == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an HDF5 file (Keras .h5/.hdf5 models are)"), path);
      return -1;
    }
  if (is < 0)
    {
      g_autofree char *detail = mir_h5_dup_error_detail ();
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an HDF5 file or cannot be read (%s)"), path,
                   detail ? detail : _("unknown HDF5 error"));
      return -1;
    }
  file = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    {
      g_autofree char *detail = mir_h5_dup_error_detail ();
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is an HDF5 file but cannot be opened: it is probably truncated or "
                     "damaged (%s)"),
                   path, detail ? detail : _("unknown HDF5 error"));
      return -1;
    }
  return file;
}

static gboolean
h5_fail (GError **error, const char *what, const char *name, const char *doing)
{
  g_autofree char *detail = mir_h5_dup_error_detail ();

  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("Cannot read %s of %s: %s failed; the file may be truncated or damaged (%s)"),
               name, what, doing, detail ? detail : _("unknown HDF5 error"));
  return FALSE;
}

/* Reads attribute @name of @obj as strings, appended to @out.  A string
 * attribute gives one entry per element; a byte array (uint8/int8/opaque)
 * gives one string; an empty numeric array gives none. */
static gboolean
read_attr (hid_t obj, const char *name, const char *what, GPtrArray *out, GError **error)
{
  g_auto(MirH5Id) attr = -1;
  g_auto(MirH5Id) type = -1;
  g_auto(MirH5Id) space = -1;
  g_auto(MirH5Id) mem = -1;
  hssize_t npoints;
  H5T_class_t klass;
  size_t size;
  gsize total;

  if ((attr = H5Aopen (obj, name, H5P_DEFAULT)) < 0)
    return h5_fail (error, what, name, "H5Aopen");
  if ((type = H5Aget_type (attr)) < 0 || (space = H5Aget_space (attr)) < 0)
    return h5_fail (error, what, name, "H5Aget_type");
  npoints = H5Sget_simple_extent_npoints (space);
  if (npoints < 0)
    return h5_fail (error, what, name, "H5Sget_simple_extent_npoints");
  if (npoints > MIR_KERAS_MAX_LIST)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Attribute %s of %s has %" PRId64 " entries, more than Mirada "
                     "accepts"),
                   name, what, (gint64) npoints);
      return FALSE;
    }
  klass = H5Tget_class (type);
  size = H5Tget_size (type);
  if (klass < 0 || size == 0)
    return h5_fail (error, what, name, "H5Tget_class");
  if (npoints == 0)
    return TRUE;

  if (klass == H5T_STRING && H5Tis_variable_str (type) > 0)
    {
      g_autofree char **buf = g_new0 (char *, npoints);

      if ((mem = H5Tcopy (H5T_C_S1)) < 0 || H5Tset_size (mem, H5T_VARIABLE) < 0 ||
          H5Tset_cset (mem, H5Tget_cset (type)) < 0)
        return h5_fail (error, what, name, "H5Tcopy");
      if (H5Aread (attr, mem, buf) < 0)
        return h5_fail (error, what, name, "H5Aread");
      for (hssize_t i = 0; i < npoints; i++)
        {
          if (buf[i] != NULL && strlen (buf[i]) > MIR_KERAS_MAX_ATTR_BYTES)
            {
              H5Dvlen_reclaim (mem, space, H5P_DEFAULT, buf);
              goto too_big;
            }
          g_ptr_array_add (out, g_strdup (buf[i] ? buf[i] : ""));
        }
      H5Dvlen_reclaim (mem, space, H5P_DEFAULT, buf);
      return TRUE;
    }

  if (!g_size_checked_mul (&total, (gsize) npoints, size) || total > MIR_KERAS_MAX_ATTR_BYTES)
    goto too_big;

  if (klass == H5T_STRING)
    {
      g_autofree char *buf = g_try_malloc (total + 1);

      if (buf == NULL)
        goto too_big;
      if ((mem = H5Tcopy (H5T_C_S1)) < 0 || H5Tset_size (mem, size) < 0 ||
          H5Tset_strpad (mem, H5T_STR_NULLPAD) < 0)
        return h5_fail (error, what, name, "H5Tcopy");
      if (H5Aread (attr, mem, buf) < 0)
        return h5_fail (error, what, name, "H5Aread");
      for (hssize_t i = 0; i < npoints; i++)
        g_ptr_array_add (out, g_strndup (buf + (gsize) i * size, size));
      return TRUE;
    }

  if ((klass == H5T_INTEGER && size == 1) || klass == H5T_OPAQUE)
    {
      g_autofree char *buf = g_try_malloc (total + 1);

      if (buf == NULL)
        goto too_big;
      if (H5Aread (attr, klass == H5T_INTEGER ? H5T_NATIVE_UCHAR : type, buf) < 0)
        return h5_fail (error, what, name, "H5Aread");
      buf[total] = '\0';
      g_ptr_array_add (out, g_strndup (buf, total));
      return TRUE;
    }

  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("Attribute %s of %s is not text"), name, what);
  return FALSE;

too_big:
  g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
               _("Attribute %s of %s is larger than Mirada accepts"), name, what);
  return FALSE;
}

static int
attr_exists (hid_t obj, const char *name, const char *what, GError **error)
{
  htri_t e = H5Aexists (obj, name);

  if (e < 0)
    {
      h5_fail (error, what, name, "H5Aexists");
      return -1;
    }
  return e > 0;
}

char *
mir_h5_read_string_attr (hid_t obj, const char *name, const char *what, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  int e = attr_exists (obj, name, what, error);

  if (e <= 0)
    return NULL;
  if (!read_attr (obj, name, what, out, error))
    return NULL;
  if (out->len == 0)
    return g_strdup ("");
  return g_strdup (out->pdata[0]);
}

char **
mir_h5_read_string_list (hid_t obj, const char *name, const char *what, gboolean *present,
                         GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  int e;

  *present = FALSE;
  if ((e = attr_exists (obj, name, what, error)) < 0)
    return NULL;
  if (e > 0)
    {
      *present = TRUE;
      if (!read_attr (obj, name, what, out, error))
        return NULL;
    }
  else
    {
      /* Keras splits attributes over 64 KiB into name0, name1, ... */
      for (guint chunk = 0;; chunk++)
        {
          g_autofree char *cname = g_strdup_printf ("%s%u", name, chunk);

          if ((e = attr_exists (obj, cname, what, error)) < 0)
            return NULL;
          if (e == 0)
            break;
          *present = TRUE;
          if (!read_attr (obj, cname, what, out, error))
            return NULL;
          if (out->len > MIR_KERAS_MAX_LIST)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("Attribute %s of %s has more entries than Mirada accepts"),
                           name, what);
              return NULL;
            }
        }
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

MirTensor *
mir_h5_read_tensor (hid_t loc, const char *path, const char *what, GError **error)
{
  g_auto(MirH5Id) ds = -1;
  g_auto(MirH5Id) space = -1;
  g_auto(MirH5Id) type = -1;
  g_autoptr(MirTensor) t = NULL;
  hsize_t dims[MIR_MAX_DIMS];
  gint64 shape[MIR_MAX_DIMS];
  H5T_class_t klass;
  size_t size;
  int ndims;

  if ((ds = H5Dopen2 (loc, path, H5P_DEFAULT)) < 0)
    {
      g_autofree char *detail = mir_h5_dup_error_detail ();
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The weight '%s' of %s is missing from the file or cannot be opened (%s)"),
                   path, what, detail ? detail : _("unknown HDF5 error"));
      return NULL;
    }
  if ((space = H5Dget_space (ds)) < 0 || (ndims = H5Sget_simple_extent_ndims (space)) < 0)
    {
      h5_fail (error, what, path, "H5Dget_space");
      return NULL;
    }
  if (ndims > MIR_MAX_DIMS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The weight '%s' of %s has rank %d, more than Mirada handles (%d)"),
                   path, what, ndims, MIR_MAX_DIMS);
      return NULL;
    }
  if (H5Sget_simple_extent_dims (space, dims, NULL) < 0)
    {
      h5_fail (error, what, path, "H5Sget_simple_extent_dims");
      return NULL;
    }
  for (int i = 0; i < ndims; i++)
    {
      if (dims[i] > (hsize_t) MIR_TENSOR_MAX_ELEMENTS)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("The weight '%s' of %s is larger than Mirada accepts"), path, what);
          return NULL;
        }
      shape[i] = (gint64) dims[i];
    }
  if (mir_shape_numel ((guint) ndims, shape) < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The weight '%s' of %s is larger than Mirada accepts"), path, what);
      return NULL;
    }
  if ((type = H5Dget_type (ds)) < 0)
    {
      h5_fail (error, what, path, "H5Dget_type");
      return NULL;
    }
  klass = H5Tget_class (type);
  size = H5Tget_size (type);
  if (!((klass == H5T_FLOAT && (size == 2 || size == 4 || size == 8)) ||
        (klass == H5T_INTEGER && size <= 8)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The weight '%s' of %s is not stored as float16, float32 or float64"),
                   path, what);
      return NULL;
    }
  if (!(t = mir_tensor_new ((guint) ndims, shape, error)))
    return NULL;
  if (t->numel > 0 && H5Dread (ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0)
    {
      g_autofree char *detail = mir_h5_dup_error_detail ();
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Cannot read the weight '%s' of %s: the file may be truncated or damaged "
                     "(%s)"),
                   path, what, detail ? detail : _("unknown HDF5 error"));
      return NULL;
    }
  return g_steal_pointer (&t);
}

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
load_nested (MirModel *model, hid_t g, const char *name, GPtrArray *leaves, char **wnames,
             const char *path, GError **error)
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
      MirTensor *t = mir_h5_read_tensor (g, wnames[i], what, error);
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
mir_keras_load_weights_hid (MirModel *model, hid_t file, const char *path, GError **error)
{
  g_auto(MirH5Id) base = -1;
  g_auto(GStrv) names = NULL;
  gboolean present;
  htri_t has_mw;

  has_mw = H5Lexists (file, "model_weights", H5P_DEFAULT);
  if (has_mw < 0)
    return h5_fail (error, path, "model_weights", "H5Lexists");
  base = H5Gopen2 (file, has_mw > 0 ? "model_weights" : "/", H5P_DEFAULT);
  if (base < 0)
    return h5_fail (error, path, "model_weights", "H5Gopen");
  names = mir_h5_read_string_list (base, "layer_names", path, &present, error);
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
      g_auto(MirH5Id) g = -1;
      g_auto(GStrv) wnames = NULL;
      g_autofree char *what = NULL;
      htri_t exists;
      MirLayer *layer;

      exists = name[0] != '\0' && strcmp (name, ".") != 0 && strchr (name, '/') == NULL
                 ? H5Lexists (base, name, H5P_DEFAULT) : 0;
      if (exists <= 0)
        {
          H5Eclear2 (H5E_DEFAULT);
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("'%s' lists weights for layer '%s' but has no group for them"),
                       path, name);
          return FALSE;
        }
      if ((g = H5Gopen2 (base, name, H5P_DEFAULT)) < 0)
        return h5_fail (error, path, name, "H5Gopen");
      what = g_strdup_printf (_("layer '%s' in '%s'"), name, path);
      wnames = mir_h5_read_string_list (g, "weight_names", what, &present, error);
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
              g_autoptr(MirTensor) t = mir_h5_read_tensor (g, wnames[j], what, error);
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
          if (!load_nested (model, g, name, leaves, wnames, path, error))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
mir_keras_load_weights_h5 (MirModel *model, const char *path, GError **error)
{
  g_auto(MirH5Id) file = -1;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if ((file = mir_h5_open_file (path, error)) < 0)
    return FALSE;
  return mir_keras_load_weights_hid (model, file, path, error);
}

MirModel *
mir_keras_load_h5 (const char *path, GError **error)
{
  g_auto(MirH5Id) file = -1;
  g_autoptr(MirModel) model = NULL;
  g_autofree char *config = NULL;
  g_autofree char *version = NULL;
  g_autofree char *backend = NULL;
  g_autoptr(GError) local = NULL;
  gboolean keras3;

  g_return_val_if_fail (path != NULL, NULL);

  if ((file = mir_h5_open_file (path, error)) < 0)
    return NULL;
  config = mir_h5_read_string_attr (file, "model_config", path, &local);
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
  version = mir_h5_read_string_attr (file, "keras_version", path, &local);
  if (local == NULL)
    backend = mir_h5_read_string_attr (file, "backend", path, &local);
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
  model->format = g_strdup (keras3 ? "Keras 3 HDF5" : "Keras 2 HDF5");
  model->keras_version = g_steal_pointer (&version);
  model->backend = g_steal_pointer (&backend);

  if (!mir_keras_load_weights_hid (model, file, path, error))
    return NULL;
  if (!mir_model_finish (model, FALSE, 0, error))
    return NULL;
  return g_steal_pointer (&model);
}
