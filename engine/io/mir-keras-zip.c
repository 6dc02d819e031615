/* mir-keras-zip.c: Keras 3 `.keras` archives (also tf.keras 2.13+ ones).
 *
 * The archive is a zip holding `config.json` (the model config, Keras 3
 * form: module / class_name / config / registered_name, build_config,
 * inbound nodes as __keras_tensor__ args, or tf.keras' Keras 2 lists),
 * `metadata.json` ({"keras_version": ...}) and `model.weights.h5`.
 *
 * The weights file is not addressed by layer names.  Keras' saving_lib walks
 * the model's `layers` list and names each entry after its class in snake
 * case ("Conv2D" -> conv2d, "BatchNormalization" -> batch_normalization),
 * numbering repeats of the same class in list order (conv2d, conv2d_1, ...);
 * a layer's variables are datasets `vars/0`, `vars/1`, ... in the layer's
 * weight order, and a nested model's layers are one level deeper:
 * `layers/functional/layers/conv2d/vars/0`.  tf.keras 2.x writes the same
 * structure under `_layer_checkpoint_dependencies` instead of `layers`.
 *
 * The HDF5 file goes from memory to the HDF5 reader process (mir-h5-file.h),
 * which opens it with HDF5's core driver: nothing is written to disk.
 */
#define G_LOG_DOMAIN "mir-keras"

#include <inttypes.h>
#include <string.h>
#include <zip.h>
#include <glib/gi18n-lib.h>

#include "mir-file.h"
#include "mir-json.h"
#include "mir-keras-private.h"

/* Largest member read from an archive (weights of big models are ~500 MB). */
#define MAX_MEMBER_BYTES ((gsize) 4 << 30)
/* config.json and metadata.json.  json-glib's tree takes up to ~42 bytes of
 * memory per byte of JSON text (a 32 MB array of zeros: 1.4 GB and 36 s), so
 * this bounds what parsing costs: 32 MiB holds a 25,000-layer Keras 3
 * config (Keras writes them uncompressed). */
#define MAX_JSON_BYTES ((gsize) 32 << 20)
/* Expansion ratios past which a member larger than RATIO_FREE_BYTES is
 * refused before it is inflated: deflate cannot shrink anything more than
 * 1032:1, so only bzip2, zstd or a forged size go further (weights of zeros
 * come close); JSON that Keras wrote compresses about 10:1. */
#define MAX_RATIO_WEIGHTS 1100
#define MAX_RATIO_JSON 100
#define RATIO_FREE_BYTES ((gsize) 1 << 20)

typedef struct
{
  MirH5File *file;
  MirModel *model;
  const char *path;
  gboolean tf_keras;
  GHashTable *layers; /* index_layers */
} Walk;

static void
close_zip (zip_t *z)
{
  if (z != NULL)
    zip_discard (z);
}

static zip_t *
open_zip (const char *path, const char *display, GError **error)
{
  int code = 0;
  zip_t *z;

  /* libzip would block on a FIFO and read a device for ever. */
  if (!mir_file_check (path, G_MAXSIZE, _("model files"), NULL, error))
    return NULL;
  z = zip_open (path, ZIP_RDONLY, &code);
  if (z == NULL)
    {
      zip_error_t ze;
      zip_error_init_with_code (&ze, code);
      if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS || code == ZIP_ER_READ ||
          code == ZIP_ER_SEEK || code == ZIP_ER_EOF)
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("'%s' is not a readable .keras archive: the zip file is truncated or "
                       "damaged (%s)"),
                     display, zip_error_strerror (&ze));
      else
        g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), display,
                     zip_error_strerror (&ze));
      zip_error_fini (&ze);
    }
  return z;
}

/* Reads a whole member; NULL with @error unset when it is absent and not
 * @required. */
static guint8 *
read_member (zip_t *z, const char *name, const char *display, gboolean required, gsize max,
             guint64 max_ratio, gsize *len_out, GError **error)
{
  zip_stat_t st;
  zip_file_t *zf;
  g_autofree guint8 *buf = NULL;
  zip_int64_t got;

  zip_stat_init (&st);
  if (zip_stat (z, name, 0, &st) != 0)
    {
      if (required)
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("'%s' is a zip file but not a Keras model archive: it has no %s"),
                     display, name);
      return NULL;
    }
  if (!(st.valid & ZIP_STAT_SIZE) || st.size > max)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("%s in '%s' is larger than Mirada accepts"), name, display);
      return NULL;
    }
  if (st.size > RATIO_FREE_BYTES && (!(st.valid & ZIP_STAT_COMP_SIZE) ||
                                     st.size / MAX (st.comp_size, 1) > max_ratio))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("%s in '%s' would expand from %" PRIu64 " to %" PRIu64 " bytes, more "
                     "than any real model file compresses: the archive is damaged or a zip "
                     "bomb"),
                   name, display, (uint64_t) st.comp_size, (uint64_t) st.size);
      return NULL;
    }
  buf = g_try_malloc ((gsize) st.size + 1);
  if (buf == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Not enough memory to read %s from '%s'"), name, display);
      return NULL;
    }
  zf = zip_fopen (z, name, 0);
  if (zf == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Cannot read %s from '%s': %s"), name, display, zip_strerror (z));
      return NULL;
    }
  got = zip_fread (zf, buf, st.size);
  /* libzip checks the CRC only when a read reaches the end of the member:
   * one more read, which must find nothing, makes it. */
  if (got >= 0 && (zip_uint64_t) got == st.size)
    {
      guint8 extra;
      zip_int64_t more = zip_fread (zf, &extra, 1);

      if (more != 0)
        {
          zip_error_t *ze = zip_file_get_error (zf);
          if (more < 0 && zip_error_code_zip (ze) == ZIP_ER_CRC)
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("Cannot read %s from '%s': its checksum (CRC) is wrong, the archive "
                           "is damaged"),
                         name, display);
          else
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("Cannot read %s from '%s': the archive is truncated or damaged (%s)"),
                         name, display,
                         more < 0 ? zip_file_strerror (zf) : _("longer than it declares"));
          zip_fclose (zf);
          return NULL;
        }
    }
  if (got < 0 || (zip_uint64_t) got != st.size)
    {
      if (got < 0 && zip_error_code_zip (zip_file_get_error (zf)) == ZIP_ER_CRC)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("Cannot read %s from '%s': its checksum (CRC) is wrong, the archive "
                         "is damaged"),
                       name, display);
          zip_fclose (zf);
          return NULL;
        }
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Cannot read %s from '%s': the archive is truncated or damaged (%s)"),
                   name, display, zip_file_strerror (zf));
      zip_fclose (zf);
      return NULL;
    }
  if (zip_fclose (zf) != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Cannot read %s from '%s': the archive is damaged (checksum error)"),
                   name, display);
      return NULL;
    }
  buf[st.size] = 0;
  *len_out = (gsize) st.size;
  return g_steal_pointer (&buf);
}

/* Keras' naming.to_snake_case: drop non-word characters, then
 * "(.)([A-Z][a-z]+)" -> "\1_\2", then "([a-z])([A-Z])" -> "\1_\2", lower. */
char *
mir_keras_snake_case (const char *name)
{
  g_autoptr(GString) a = g_string_new (NULL);
  g_autoptr(GString) b = g_string_new (NULL);
  GString *c = g_string_new (NULL);

  for (const char *p = name; *p; p++)
    if (g_ascii_isalnum (*p) || *p == '_')
      g_string_append_c (a, *p);
  for (gsize i = 0; i < a->len; i++)
    {
      if (i > 0 && g_ascii_isupper (a->str[i]) && i + 1 < a->len && g_ascii_islower (a->str[i + 1]))
        g_string_append_c (b, '_');
      g_string_append_c (b, a->str[i]);
    }
  for (gsize i = 0; i < b->len; i++)
    {
      if (i > 0 && g_ascii_islower (b->str[i - 1]) && g_ascii_isupper (b->str[i]))
        g_string_append_c (c, '_');
      g_string_append_c (c, g_ascii_tolower (b->str[i]));
    }
  return g_string_free (c, FALSE);
}

/* Refuses an archive holding a member Mirada reads twice: zip_stat would
 * pick one of them silently, and another program may pick the other. */
static gboolean
check_duplicates (zip_t *z, const char *display, GError **error)
{
  static const char *const wanted[] = { "config.json", "metadata.json", "model.weights.h5" };
  guint seen[G_N_ELEMENTS (wanted)] = { 0 };
  zip_int64_t n = zip_get_num_entries (z, 0);

  for (zip_int64_t i = 0; i < n; i++)
    {
      const char *name = zip_get_name (z, (zip_uint64_t) i, ZIP_FL_ENC_RAW);

      if (name == NULL)
        continue;
      for (guint k = 0; k < G_N_ELEMENTS (wanted); k++)
        if (strcmp (name, wanted[k]) == 0 && ++seen[k] > 1)
          {
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("'%s' holds %s twice: the archive is damaged or was tampered with"),
                         display, wanted[k]);
            return FALSE;
          }
    }
  return TRUE;
}

static char *
layer_key (const char *group, const char *name)
{
  return g_strconcat (group ? group : "", "\x1f", name, NULL);
}

/* (group, layer name) -> layer, made once: a scan of the nodes per layer
 * made loading quadratic in the layer count. */
static GHashTable *
index_layers (MirModel *model)
{
  GHashTable *index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < model->nodes->len; i++)
    {
      MirNode *node = model->nodes->pdata[i];
      char *key;

      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        continue;
      key = layer_key (node->group, node->layer->name);
      if (g_hash_table_contains (index, key))
        g_free (key); /* the first node wins, as the scan did */
      else
        g_hash_table_insert (index, key, node->layer);
    }
  return index;
}

static MirLayer *
find_layer_in_group (GHashTable *index, const char *group, const char *name)
{
  g_autofree char *key = layer_key (group, name);

  return g_hash_table_lookup (index, key);
}

static JsonObject *
obj_member (JsonObject *o, const char *key)
{
  JsonNode *n;

  if (o == NULL || !json_object_has_member (o, key))
    return NULL;
  n = json_object_get_member (o, key);
  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static gboolean
link_exists (Walk *w, const char *loc, const char *name)
{
  g_autoptr(GError) ignored = NULL;

  return mir_h5_file_exists (w->file, loc, name, w->path, &ignored) > 0;
}

/* The container group of a model's layers under @loc, or NULL. */
static char *
layers_group (Walk *w, const char *loc)
{
  if (mir_h5_file_has_group (w->file, loc, "layers"))
    return mir_h5_path_join (loc, "layers");
  if (mir_h5_file_has_group (w->file, loc, "_layer_checkpoint_dependencies"))
    return mir_h5_path_join (loc, "_layer_checkpoint_dependencies");
  return NULL;
}

static gboolean
load_layer_vars (Walk *w, const char *g, const char *key, MirLayer *layer, const char *where,
                 GError **error)
{
  g_autofree char *what = g_strdup_printf (_("layer '%s' (%s/%s) in '%s'"), layer->name, where,
                                           key, w->path);
  g_autofree char *vars = mir_h5_path_join (g, "vars");
  guint n;

  if (!link_exists (w, g, "vars"))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The weights file in '%s' has no variables for layer '%s' (expected %s/%s/vars)"),
                   w->path, layer->name, where, key);
      return FALSE;
    }
  if (!mir_h5_file_has_group (w->file, g, "vars"))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Cannot read the variables of %s: the file may be damaged"), what);
      return FALSE;
    }
  n = mir_h5_file_n_members (w->file, vars);
  if (n != layer->n_weights)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' has %u weights in '%s', but its configuration needs %u"),
                   layer->name, n, w->path, layer->n_weights);
      return FALSE;
    }
  for (guint j = 0; j < layer->n_weights; j++)
    {
      char idx[16];
      g_autoptr(MirTensor) t = NULL;

      g_snprintf (idx, sizeof idx, "%u", j);
      t = mir_h5_file_read_tensor (w->file, vars, idx, what, error);
      if (t == NULL || !mir_layer_set_weight (layer, j, t, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
walk_model (Walk *w, JsonObject *entry, const char *group, const char *container, const char *where,
            guint depth, GError **error)
{
  JsonObject *cfg = obj_member (entry, "config");
  g_autoptr(GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonNode *ln;
  JsonArray *layers;

  if (depth > 64)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT, _("Models are nested too deeply"));
      return FALSE;
    }
  if (cfg == NULL || !json_object_has_member (cfg, "layers") ||
      !JSON_NODE_HOLDS_ARRAY ((ln = json_object_get_member (cfg, "layers"))))
    return TRUE; /* the config builder reported it already */
  layers = json_node_get_array (ln);

  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonNode *en = json_array_get_element (layers, i);
      JsonObject *e, *ecfg;
      const char *klass, *name;
      g_autofree char *snake = NULL;
      g_autofree char *key = NULL;
      gpointer count;
      g_autofree char *g = NULL;

      if (!JSON_NODE_HOLDS_OBJECT (en))
        continue;
      e = json_node_get_object (en);
      ecfg = obj_member (e, "config");
      klass = mir_config_get_string (e, "class_name", NULL);
      name = mir_config_get_string (e, "name", NULL);
      if (name == NULL)
        name = mir_config_get_string (ecfg, "name", NULL);
      if (klass == NULL || name == NULL)
        continue;
      snake = mir_keras_snake_case (klass);
      if (g_hash_table_lookup_extended (used, snake, NULL, &count))
        {
          guint n = GPOINTER_TO_UINT (count) + 1;
          key = g_strdup_printf ("%s_%u", snake, n);
          g_hash_table_insert (used, g_strdup (snake), GUINT_TO_POINTER (n));
        }
      else
        {
          key = g_strdup (snake);
          g_hash_table_insert (used, g_strdup (snake), GUINT_TO_POINTER (0));
        }

      if (mir_keras_is_model_class (klass))
        {
          g_autofree char *child = group ? g_strdup_printf ("%s/%s", group, name) : g_strdup (name);
          g_autofree char *child_where = NULL;
          g_autofree char *inner = NULL;

          if (!link_exists (w, container, key))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("The weights file in '%s' has no weights for nested model '%s' "
                             "(expected %s/%s)"),
                           w->path, name, where, key);
              return FALSE;
            }
          g = mir_h5_path_join (container, key);
          inner = layers_group (w, g);
          child_where = g_strdup_printf ("%s/%s/layers", where, key);
          if (inner != NULL && !walk_model (w, e, child, inner, child_where, depth + 1, error))
            return FALSE;
          continue;
        }
      else
        {
          MirLayer *layer = find_layer_in_group (w->layers, group, name);
          const char *use = key;

          if (layer == NULL || layer->n_weights == 0)
            continue;
          /* Older writers (some tf.keras versions) address by layer name. */
          if (!link_exists (w, container, use) && link_exists (w, container, name))
            use = name;
          if (!link_exists (w, container, use))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("The weights file in '%s' has no weights for layer '%s' "
                             "(expected %s/%s)"),
                           w->path, name, where, key);
              return FALSE;
            }
          if (!mir_h5_file_has_group (w->file, container, use))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("Cannot open the weights of layer '%s' in '%s'"), name, w->path);
              return FALSE;
            }
          g = mir_h5_path_join (container, use);
          if (!load_layer_vars (w, g, use, layer, where, error))
            return FALSE;
        }
    }
  return TRUE;
}

gboolean
mir_keras3_load_weights_file (MirModel *model, JsonObject *config_root, MirH5File *file,
                              const char *path, GError **error)
{
  g_autoptr(GHashTable) index = index_layers (model);
  Walk w = { file, model, path, FALSE, index };
  g_autofree char *top = layers_group (&w, "/");

  if (top == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The weights file in '%s' has no \"layers\" group: it was not written by "
                     "Keras' model.save()"),
                   path);
      return FALSE;
    }
  return walk_model (&w, config_root, NULL, top, "layers", 0, error);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (zip_t, close_zip)

MirModel *
mir_keras_load_keras (const char *path, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr(zip_t) z = NULL;
  g_autofree guint8 *config = NULL;
  g_autofree guint8 *metadata = NULL;
  g_autofree guint8 *weights = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *version = NULL;
  g_autofree char *what = NULL;
  gsize config_len = 0, meta_len = 0, weights_len = 0;
  g_autoptr(MirH5File) file = NULL;
  JsonNode *root;
  gboolean ok;

  g_return_val_if_fail (path != NULL, NULL);

  if (!(z = open_zip (path, display, error)))
    return NULL;
  if (!check_duplicates (z, display, error))
    return NULL;
  if (!(config = read_member (z, "config.json", display, TRUE, MAX_JSON_BYTES, MAX_RATIO_JSON,
                              &config_len, error)))
    return NULL;
  metadata = read_member (z, "metadata.json", display, FALSE, MAX_JSON_BYTES, MAX_RATIO_JSON,
                            &meta_len, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (metadata != NULL)
    {
      g_autofree char *name = g_strdup_printf (_("metadata.json in '%s'"), display);
      g_autoptr(JsonParser) mp = NULL;
      JsonNode *mroot = NULL;

      /* Only keras_version is taken from it: a damaged metadata.json is
       * ignored, but one nested too deeply is refused. */
      mp = mir_json_parse ((const char *) metadata, meta_len, MIR_JSON_MAX_DEPTH, name, &local);
      if (local != NULL && g_error_matches (local, MIR_ERROR, MIR_ERROR_LIMIT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      g_clear_error (&local);
      /* (a blank metadata.json parses with no root) */
      if (mp != NULL && (mroot = json_parser_get_root (mp)) != NULL &&
          JSON_NODE_HOLDS_OBJECT (mroot))
        {
          const char *v = mir_config_get_string (json_node_get_object (mroot), "keras_version",
                                                 NULL);
          version = g_strdup (v);
        }
    }

  if (!g_utf8_validate ((const char *) config, (gssize) config_len, NULL))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("config.json in '%s' is not valid UTF-8 text"), display);
      return NULL;
    }
  model = mir_keras_model_from_config ((const char *) config, (gssize) config_len, error);
  if (model == NULL)
    {
      g_prefix_error (error, "%s: ", display);
      return NULL;
    }
  /* The builder validated the JSON already. */
  parser = mir_json_parse ((const char *) config, config_len, MIR_KERAS_MAX_JSON_DEPTH,
                           _("The model configuration"), error);
  if (parser == NULL)
    return NULL;
  root = json_parser_get_root (parser);

  mir_keras_model_set_version (model, !(version && g_str_has_prefix (version, "2.")));
  model->format = g_strdup (version && g_str_has_prefix (version, "2.") ? "tf.keras .keras"
                                                                          : "Keras 3 .keras");
  model->keras_version = g_strdup (version);

  if (!(weights = read_member (z, "model.weights.h5", display, TRUE, MAX_MEMBER_BYTES,
                               MAX_RATIO_WEIGHTS, &weights_len, error)))
    return NULL;
  what = g_strdup_printf ("model.weights.h5 in '%s'", display);
  file = mir_h5_file_open_image (weights, weights_len, what, error);
  if (file == NULL)
    return NULL;
  g_clear_pointer (&weights, g_free);
  ok = mir_keras3_load_weights_file (model, json_node_get_object (root), file, display, error);
  g_clear_pointer (&file, mir_h5_file_free);
  if (!ok)
    return NULL;
  if (!mir_model_finish (model, FALSE, 0, error))
    return NULL;
  return g_steal_pointer (&model);
}
