/* mir-tfjs.c: TensorFlow.js layers models (model.json + weight shards).
 *
 * model.json holds "modelTopology" (a Keras 2 model config, sometimes under
 * "model_config" with keras_version and backend beside it) and
 * "weightsManifest": a list of groups, each with "paths" (shard files,
 * relative to model.json, concatenated in order) and "weights" (name, shape,
 * dtype and an optional "quantization": {"dtype": "uint8"|"uint16", "scale",
 * "min"} meaning value = q * scale + min, or {"dtype": "float16"}), stored
 * back to back in the concatenated shards.  Weight names are
 * "<layer>/<weight>", possibly behind nested-model prefixes
 * ("sequential_1/dense/kernel").
 *
 * Teachable Machine exports put a metadata.json beside model.json whose
 * "labels" are the class names; their models expect x / 127.5 - 1.
 */
#define G_LOG_DOMAIN "mir-tfjs"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-file.h"
#include "mir-json.h"
#include "mir-keras-private.h"
#include "mir-sidecar.h"
#include "mir-tfjs.h"

/* (a GByteArray holds them: at most G_MAXUINT bytes) */
#define MAX_WEIGHT_BYTES ((gsize) G_MAXUINT)

static float
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 bits;
  float f;

  if (exp == 0)
    {
      if (mant == 0)
        bits = sign;
      else
        {
          /* subnormal: normalise */
          exp = 127 - 15 + 1;
          while (!(mant & 0x400))
            {
              mant <<= 1;
              exp--;
            }
          mant &= 0x3ff;
          bits = sign | (exp << 23) | (mant << 13);
        }
    }
  else if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13);
  else
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  memcpy (&f, &bits, sizeof f);
  return f;
}

static JsonObject *
get_obj (JsonObject *o, const char *key)
{
  JsonNode *n;

  if (o == NULL || !json_object_has_member (o, key))
    return NULL;
  n = json_object_get_member (o, key);
  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* The parsed document's object, or NULL: an empty or blank file parses
 * with no root at all. */
static JsonObject *
root_object (JsonParser *parser)
{
  JsonNode *n = json_parser_get_root (parser);

  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static JsonArray *
get_array (JsonObject *o, const char *key)
{
  JsonNode *n;

  if (o == NULL || !json_object_has_member (o, key))
    return NULL;
  n = json_object_get_member (o, key);
  return JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static gboolean
manifest_error (GError **error, const char *display, const char *detail)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("The weightsManifest of '%s' is malformed: %s"), display, detail);
  return FALSE;
}

/* Finds the layer a manifest name "a/b/layer/weight" refers to, and the
 * weight's index in it. */
static MirLayer *
find_target (MirModel *model, const char *wname, guint *index, GHashTable *next_index)
{
  g_auto(GStrv) parts = g_strsplit (wname, "/", -1);
  guint n = g_strv_length (parts);
  g_autofree char *wshort = NULL;
  g_autofree char *prefix = NULL;
  MirLayer *found = NULL;
  char *colon;

  if (n < 2)
    return NULL;
  wshort = g_strdup (parts[n - 1]);
  if ((colon = strchr (wshort, ':')) != NULL)
    *colon = '\0';
  {
    g_autofree char *last = parts[n - 1];
    parts[n - 1] = NULL;
    prefix = g_strjoinv ("/", parts);
    parts[n - 1] = g_steal_pointer (&last);
  }

  for (guint i = 0; i < model->nodes->len; i++)
    {
      MirNode *node = model->nodes->pdata[i];
      MirLayer *l = node->layer;
      g_autofree char *full = NULL;

      if (l->n_weights == 0 || g_strcmp0 (l->name, parts[n - 2]) != 0)
        continue;
      if (found == NULL)
        found = l;
      else if (found != l)
        {
          /* ambiguous: prefer the one whose nested path matches */
          full = node->group ? g_strdup_printf ("%s/%s", node->group, l->name) : g_strdup (l->name);
          if (g_str_has_suffix (full, prefix) || g_str_has_suffix (prefix, full))
            found = l;
        }
    }
  if (found == NULL)
    return NULL;
  for (guint j = 0; j < found->n_weights; j++)
    if (g_strcmp0 (found->weights[j].name, wshort) == 0)
      {
        *index = j;
        return found;
      }
  /* Unknown weight name: take the next one in Keras order. */
  *index = GPOINTER_TO_UINT (g_hash_table_lookup (next_index, found));
  if (*index >= found->n_weights)
    return NULL;
  return found;
}

static gboolean
load_group (MirModel *model, JsonObject *group, const char *dir, const char *display,
            GHashTable *next_index, GError **error)
{
  JsonArray *paths = get_array (group, "paths");
  JsonArray *weights = get_array (group, "weights");
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  gsize offset = 0;

  if (paths == NULL || weights == NULL)
    return manifest_error (error, display, _("a group lacks \"paths\" or \"weights\""));

  for (guint i = 0; i < json_array_get_length (paths); i++)
    {
      const char *rel = json_array_get_string_element (paths, i);
      g_autofree char *shard = NULL;
      g_autofree char *data = NULL;
      g_autoptr(GError) local = NULL;
      gsize len;

      if (rel == NULL || rel[0] == '\0' || g_path_is_absolute (rel) || strstr (rel, "..") != NULL)
        return manifest_error (error, display, _("a shard path is empty, absolute or leaves the "
                                                 "model's folder"));
      shard = g_build_filename (dir, rel, NULL);
      /* Each shard may use what the shards before it left of the limit. */
      data = mir_file_read (shard, MAX_WEIGHT_BYTES - buf->len, _("TF.js weights"), &len,
                            &local);
      if (data == NULL)
        {
          g_set_error (error, local->domain, local->code,
                       _("Cannot read the weight shard that '%s' lists: %s"), display,
                       local->message);
          return FALSE;
        }
      g_byte_array_append (buf, (const guint8 *) data, (guint) len);
    }

  for (guint i = 0; i < json_array_get_length (weights); i++)
    {
      JsonNode *wn = json_array_get_element (weights, i);
      JsonObject *w = JSON_NODE_HOLDS_OBJECT (wn) ? json_node_get_object (wn) : NULL;
      JsonObject *quant = get_obj (w, "quantization");
      JsonArray *shape_a = get_array (w, "shape");
      const char *name = mir_config_get_string (w, "name", NULL);
      const char *dtype = mir_config_get_string (w, "dtype", "float32");
      const char *qdtype = quant ? mir_config_get_string (quant, "dtype", NULL) : NULL;
      gint64 shape[MIR_MAX_DIMS];
      g_autoptr(MirTensor) t = NULL;
      gsize elem, size, numel;
      double scale = 1.0, min = 0.0;
      const guint8 *src;
      MirLayer *layer;
      guint index = 0;
      guint ndim;

      if (w == NULL || name == NULL || shape_a == NULL)
        return manifest_error (error, display, _("a weight entry lacks \"name\" or \"shape\""));
      ndim = json_array_get_length (shape_a);
      if (ndim > MIR_MAX_DIMS)
        return manifest_error (error, display, _("a weight has too many dimensions"));
      for (guint d = 0; d < ndim; d++)
        {
          JsonNode *dn = json_array_get_element (shape_a, d);
          if (!JSON_NODE_HOLDS_VALUE (dn) || json_node_get_value_type (dn) != G_TYPE_INT64 ||
              json_node_get_int (dn) < 0)
            return manifest_error (error, display, _("a weight shape is not a list of sizes"));
          shape[d] = json_node_get_int (dn);
        }
      if (mir_shape_numel (ndim, shape) < 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("Weight '%s' of '%s' is larger than Mirada accepts"), name, display);
          return FALSE;
        }
      numel = (gsize) mir_shape_numel (ndim, shape);

      if (quant != NULL)
        {
          if (g_strcmp0 (qdtype, "uint8") == 0)
            elem = 1;
          else if (g_strcmp0 (qdtype, "uint16") == 0 || g_strcmp0 (qdtype, "float16") == 0)
            elem = 2;
          else
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                           _("Weight '%s' of '%s' is quantized as %s; Mirada reads uint8, uint16 "
                             "and float16"),
                           name, display, qdtype ? qdtype : "?");
              return FALSE;
            }
          if (elem == 1 || g_strcmp0 (qdtype, "uint16") == 0)
            {
              if (!mir_config_get_double (quant, "scale", 1.0, &scale, error) ||
                  !mir_config_get_double (quant, "min", 0.0, &min, error))
                return FALSE;
            }
        }
      else if (g_strcmp0 (dtype, "float32") == 0)
        elem = 4;
      else
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Weight '%s' of '%s' has dtype %s; Mirada reads float32 weights"),
                       name, display, dtype);
          return FALSE;
        }
      if (!g_size_checked_mul (&size, numel, elem))
        return manifest_error (error, display, _("a weight size overflows"));
      if (offset + size > buf->len)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The weight shards of '%s' hold %u bytes, but the weightsManifest needs "
                         "at least %zu up to weight '%s': a shard is missing, "
                         "truncated or does not belong to this model"),
                       display, buf->len, offset + size, name);
          return FALSE;
        }
      src = buf->data + offset;
      offset += size;

      layer = find_target (model, name, &index, next_index);
      if (layer == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("'%s' has a weight '%s' for a layer the model does not have"),
                       display, name);
          return FALSE;
        }
      if (!(t = mir_tensor_new (ndim, shape, error)))
        return FALSE;
      for (gsize k = 0; k < numel; k++)
        {
          if (elem == 4)
            {
              guint32 bits;
              memcpy (&bits, src + 4 * k, 4);
              bits = GUINT32_FROM_LE (bits);
              memcpy (&t->data[k], &bits, 4);
            }
          else if (elem == 1)
            t->data[k] = (float) (src[k] * scale + min);
          else
            {
              guint16 v;
              memcpy (&v, src + 2 * k, 2);
              v = GUINT16_FROM_LE (v);
              t->data[k] = g_strcmp0 (qdtype, "float16") == 0 ? half_to_float (v)
                                                             : (float) (v * scale + min);
            }
        }
      if (!mir_layer_set_weight (layer, index, t, error))
        {
          g_prefix_error (error, _("'%s', weight '%s': "), display, name);
          return FALSE;
        }
      g_hash_table_insert (next_index, layer, GUINT_TO_POINTER (index + 1));
    }
  if (offset != buf->len)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The weight shards of '%s' hold %u bytes, but the weightsManifest "
                     "describes %zu: the shards do not belong to this manifest"),
                   display, buf->len, offset);
      return FALSE;
    }
  return TRUE;
}

/* Teachable Machine: labels and preprocessing from metadata.json. */
static gboolean
read_tm_metadata (MirModel *model, const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, "metadata.json", NULL);
  g_autofree char *d = g_filename_display_name (path);
  g_autofree char *name = g_strdup_printf ("'%s'", d);
  g_autofree char *text = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;
  JsonArray *labels;
  const char *pkg;
  gsize len;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  /* Read, not memory-mapped: a file truncated meanwhile cannot crash us. */
  if (!(text = mir_file_read (path, MIR_FILE_MAX_TEXT, _("metadata files"), &len, error)) ||
      !(parser = mir_json_parse (text, len, MIR_JSON_MAX_DEPTH, name, error)))
    return FALSE;
  if ((root = root_object (parser)) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' (beside the TF.js model) is not a JSON object%s%s"), d, "", "");
      return FALSE;
    }
  if ((labels = get_array (root, "labels")) != NULL &&
      json_array_get_length (labels) > MIR_MAX_CLASS_NAMES)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("'%s' names %u classes; Mirada accepts at most %u"), d,
                   json_array_get_length (labels), MIR_MAX_CLASS_NAMES);
      return FALSE;
    }
  labels = get_array (root, "labels");
  pkg = mir_config_get_string (root, "packageName", "");
  if (labels != NULL && json_array_get_length (labels) > 0)
    {
      GPtrArray *names = g_ptr_array_new ();
      for (guint i = 0; i < json_array_get_length (labels); i++)
        {
          JsonNode *n = json_array_get_element (labels, i);
          g_ptr_array_add (names, g_strdup (JSON_NODE_HOLDS_VALUE (n) &&
                                            json_node_get_value_type (n) == G_TYPE_STRING
                                              ? json_node_get_string (n) : "?"));
        }
      g_ptr_array_add (names, NULL);
      g_strfreev (model->meta.class_names);
      model->meta.class_names = (char **) g_ptr_array_free (names, FALSE);
      g_free (model->meta.source);
      model->meta.source = g_strdup (path);
    }
  if (strstr (pkg, "teachablemachine") != NULL || json_object_has_member (root, "tmVersion"))
    {
      model->meta.preprocess = MIR_PREPROCESS_TF;
      model->meta.preprocess_from = MIR_PREPROCESS_FROM_FORMAT;
    }
  return TRUE;
}

MirModel *
mir_tfjs_load (const char *path, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = NULL;
  g_autofree char *topo_json = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GHashTable) next_index = g_hash_table_new (NULL, NULL);
  JsonObject *root, *topo, *cfg;
  JsonArray *manifest;
  JsonNode *cfg_node;
  gsize len;

  if (!(text = mir_file_read (path, MIR_FILE_MAX_CONFIG, _("TF.js model files"), &len, error)))
    return NULL;
  {
    g_autofree char *name = g_strdup_printf ("'%s'", display);

    if (!(parser = mir_json_parse (text, len, MIR_JSON_MAX_DEPTH_MODEL, name, error)))
      return NULL;
  }
  if ((root = root_object (parser)) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not a TensorFlow.js model (not a JSON object)"), display);
      return NULL;
    }
  if (g_strcmp0 (mir_config_get_string (root, "format", "layers-model"), "graph-model") == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' is a TensorFlow.js graph model (converted from a SavedModel); Mirada "
                     "reads TF.js layers models"),
                   display);
      return NULL;
    }
  topo = get_obj (root, "modelTopology");
  manifest = get_array (root, "weightsManifest");
  if (topo == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' has no \"modelTopology\" object"), display);
      return NULL;
    }
  cfg = get_obj (topo, "model_config");
  if (mir_config_get_string (cfg ? cfg : topo, "class_name", NULL) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The modelTopology of '%s' is not a Keras model (it has no \"class_name\")"),
                   display);
      return NULL;
    }
  cfg_node = json_object_get_member (cfg ? topo : root, cfg ? "model_config" : "modelTopology");
  topo_json = json_to_string (cfg_node, FALSE);
  model = mir_keras_model_from_config (topo_json, -1, error);
  if (model == NULL)
    {
      g_prefix_error (error, "%s: ", display);
      return NULL;
    }
  model->format = g_strdup ("TensorFlow.js layers model");
  model->keras_version = g_strdup (mir_config_get_string (topo, "keras_version", NULL));
  model->backend = g_strdup (mir_config_get_string (topo, "backend", NULL));

  if (manifest == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' has no \"weightsManifest\": the model's weights are not listed"),
                   display);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (manifest); i++)
    {
      JsonNode *g = json_array_get_element (manifest, i);
      if (!JSON_NODE_HOLDS_OBJECT (g))
        {
          manifest_error (error, display, _("a group is not an object"));
          return NULL;
        }
      if (!load_group (model, json_node_get_object (g), dir, display, next_index, error))
        return NULL;
    }
  if (!mir_model_finish (model, FALSE, 0, error))
    {
      g_prefix_error (error, "%s: ", display);
      return NULL;
    }
  if (!read_tm_metadata (model, dir, error))
    return NULL;
  return g_steal_pointer (&model);
}
