/* mir-sidecar.c: `<model>.mirada.json` and labels files (see mir-sidecar.h). */
#define G_LOG_DOMAIN "mir-sidecar"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "mir-file.h"
#include "mir-image.h"
#include "mir-json.h"
#include "mir-sidecar.h"


const char *
mir_resize_mode_to_string (MirResizeMode mode)
{
  return mode == MIR_RESIZE_BILINEAR ? "bilinear" : "nearest";
}

gboolean
mir_resize_mode_from_string (const char *s, MirResizeMode *mode, GError **error)
{
  g_return_val_if_fail (s != NULL && mode != NULL, FALSE);

  if (g_ascii_strcasecmp (s, "nearest") == 0)
    *mode = MIR_RESIZE_NEAREST;
  else if (g_ascii_strcasecmp (s, "bilinear") == 0)
    *mode = MIR_RESIZE_BILINEAR;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unknown resize mode '%s' (expected nearest or bilinear)"), s);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_small_file (const char *path, char **contents, gsize *length, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);

  if (!(*contents = mir_file_read (path, MIR_FILE_MAX_TEXT, _("labels and sidecar files"), length,
                                   error)))
    return FALSE;
  if (!g_utf8_validate (*contents, (gssize) *length, NULL))
    {
      g_clear_pointer (contents, g_free);
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("'%s' is not UTF-8 text"), display);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_sidecar_load (const char *sidecar_path, MirModelMeta *meta, GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *display = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) names = NULL;
  MirPreprocessMode preprocess = meta->preprocess;
  MirResizeMode resize = meta->resize;
  gboolean has_preprocess = FALSE;
  JsonObject *root;
  JsonNode *node;
  gsize length;

  g_return_val_if_fail (sidecar_path != NULL && meta != NULL, FALSE);

  if (!read_small_file (sidecar_path, &contents, &length, error))
    return FALSE;
  display = g_filename_display_name (sidecar_path);

  {
    g_autofree char *name = g_strdup_printf ("'%s'", display);

    if (!(parser = mir_json_parse (contents, length, MIR_JSON_MAX_DEPTH, name, error)))
      return FALSE;
  }
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' must hold a JSON object (with class_names, preprocess, resize)"),
                   display);
      return FALSE;
    }
  root = json_node_get_object (node);

  if ((node = json_object_get_member (root, "class_names")) != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      JsonArray *array;
      guint n;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("In '%s', class_names must be a list of strings"), display);
          return FALSE;
        }
      array = json_node_get_array (node);
      n = json_array_get_length (array);
      if (n > MIR_MAX_CLASS_NAMES)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("'%s' names %u classes; Mirada accepts at most %u"), display, n,
                       MIR_MAX_CLASS_NAMES);
          return FALSE;
        }
      names = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        {
          JsonNode *item = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("In '%s', class_names entry %u is not a string"), display, i);
              return FALSE;
            }
          names[i] = g_strdup (json_node_get_string (item));
        }
    }

  if ((node = json_object_get_member (root, "preprocess")) != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("In '%s', preprocess must be a string"), display);
          return FALSE;
        }
      if (!mir_preprocess_mode_from_string (json_node_get_string (node), &preprocess, &local))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("In '%s': %s"), display,
                       local->message);
          return FALSE;
        }
      has_preprocess = TRUE;
    }

  if ((node = json_object_get_member (root, "resize")) != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("In '%s', resize must be a string"), display);
          return FALSE;
        }
      if (!mir_resize_mode_from_string (json_node_get_string (node), &resize, &local))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("In '%s': %s"), display,
                       local->message);
          return FALSE;
        }
    }

  /* Everything checked: only now change @meta. */
  if (names != NULL)
    {
      g_strfreev (meta->class_names);
      meta->class_names = g_steal_pointer (&names);
    }
  meta->preprocess = preprocess;
  if (has_preprocess)
    meta->preprocess_from = MIR_PREPROCESS_FROM_SIDECAR;
  meta->resize = resize;
  g_free (meta->source);
  meta->source = g_strdup (sidecar_path);
  return TRUE;
}

/* The sidecar's root object, or NULL (no file, or not an object: then
 * nothing to keep). */
static JsonParser *
parse_existing (const char *sidecar_path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *name = NULL;
  g_autoptr(JsonParser) parser = NULL;
  gsize length;

  if (!g_file_test (sidecar_path, G_FILE_TEST_EXISTS))
    return NULL;
  if (!read_small_file (sidecar_path, &contents, &length, error))
    return NULL;
  name = g_strdup_printf ("'%s'", sidecar_path);
  if (!(parser = mir_json_parse (contents, length, MIR_JSON_MAX_DEPTH, name, error)))
    return NULL;
  if (json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return g_steal_pointer (&parser);
}

/* Members of the existing sidecar that saving the metadata does not write
 * (the detector's examples, members of later versions) stay. */
static void
keep_other_members (const char *sidecar_path, JsonObject *root)
{
  g_autoptr(JsonParser) parser = parse_existing (sidecar_path, NULL);
  g_autoptr(GList) members = NULL;
  JsonObject *old;

  if (parser == NULL)
    return;
  old = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (old);
  for (GList *l = members; l; l = l->next)
    if (!json_object_has_member (root, l->data))
      json_object_set_member (root, l->data, json_node_copy (json_object_get_member (old, l->data)));
}

static gboolean
write_root (const char *sidecar_path, JsonNode *root, GError **error)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  g_autofree char *with_newline = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  with_newline = g_strconcat (text, "\n", NULL);
  if (!g_file_set_contents (sidecar_path, with_newline, -1, &local))
    {
      g_autofree char *display = g_filename_display_name (sidecar_path);
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

char *
mir_sidecar_load_member (const char *sidecar_path, const char *member, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  JsonNode *node;

  g_return_val_if_fail (sidecar_path != NULL && member != NULL, NULL);

  if (!(parser = parse_existing (sidecar_path, error)))
    return NULL;
  node = json_object_get_member (json_node_get_object (json_parser_get_root (parser)), member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  generator = json_generator_new ();
  json_generator_set_root (generator, node);
  return json_generator_to_data (generator, NULL);
}

gboolean
mir_sidecar_save_member (const char *sidecar_path, const char *member, const char *json_text,
                         GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonParser) value = NULL;
  g_autoptr(JsonNode) fresh = NULL;
  g_autoptr(GError) local = NULL;
  JsonNode *root;

  g_return_val_if_fail (sidecar_path != NULL && member != NULL, FALSE);

  if (json_text != NULL
      && !(value = mir_json_parse (json_text, strlen (json_text), MIR_JSON_MAX_DEPTH, member,
                                   error)))
    return FALSE;
  if (!(parser = parse_existing (sidecar_path, &local)) && local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (parser != NULL)
    root = json_parser_get_root (parser);
  else
    {
      JsonObject *obj = json_object_new ();

      json_object_set_int_member (obj, "mirada", 1);
      root = fresh = json_node_init_object (json_node_alloc (), obj);
      json_object_unref (obj);
    }
  if (value != NULL)
    json_object_set_member (json_node_get_object (root), member,
                            json_node_copy (json_parser_get_root (value)));
  else if (json_object_has_member (json_node_get_object (root), member))
    json_object_remove_member (json_node_get_object (root), member);
  return write_root (sidecar_path, root, error);
}

gboolean
mir_sidecar_save (const char *sidecar_path, const MirModelMeta *meta, GError **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  g_autofree char *with_newline = NULL;

  g_return_val_if_fail (sidecar_path != NULL && meta != NULL, FALSE);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "mirada");
  json_builder_add_int_value (builder, 1);
  if (meta->class_names != NULL)
    {
      json_builder_set_member_name (builder, "class_names");
      json_builder_begin_array (builder);
      for (guint i = 0; meta->class_names[i] != NULL; i++)
        json_builder_add_string_value (builder, meta->class_names[i]);
      json_builder_end_array (builder);
    }
  json_builder_set_member_name (builder, "preprocess");
  json_builder_add_string_value (builder, mir_preprocess_mode_to_string (meta->preprocess));
  json_builder_set_member_name (builder, "resize");
  json_builder_add_string_value (builder, mir_resize_mode_to_string (meta->resize));
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  keep_other_members (sidecar_path, json_node_get_object (root));
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  with_newline = g_strconcat (text, "\n", NULL);

  /* g_file_set_contents writes a temporary file and renames it over. */
  if (!g_file_set_contents (sidecar_path, with_newline, -1, &local))
    {
      g_autofree char *display = g_filename_display_name (sidecar_path);
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

/* The model's path without its extension (only the last component's). */
static char *
model_stem (const char *model_path)
{
  const char *base = strrchr (model_path, G_DIR_SEPARATOR);
  const char *dot = strrchr (base ? base + 1 : model_path, '.');

  if (dot == NULL || dot == (base ? base + 1 : model_path))
    return g_strdup (model_path);
  return g_strndup (model_path, (gsize) (dot - model_path));
}

char *
mir_sidecar_path_for_model (const char *model_path)
{
  g_autofree char *stem = model_stem (model_path);

  return g_strconcat (stem, ".mirada.json", NULL);
}

/* "12 rest" -> TRUE with *index = 12, *rest = "rest". */
static gboolean
split_index (const char *line, guint64 *index, const char **rest)
{
  const char *p = line;
  g_autofree char *digits = NULL;

  if (!g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  if (*p != ' ' && *p != '\t')
    return FALSE;
  digits = g_strndup (line, (gsize) (p - line));
  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT32, index, NULL))
    return FALSE;
  while (*p == ' ' || *p == '\t')
    p++;
  *rest = p;
  return TRUE;
}

/* Keras' imagenet_class_index.json: {"0": ["n01440764", "tench"], …}, one
 * member per class, keyed by its index in decimal, the name last. */
static char **
keras_class_index_load (const char *path, const char *contents, gsize length, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *quoted = g_strdup_printf ("'%s'", display);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GList) members = NULL;
  g_auto(GStrv) names = NULL;
  JsonObject *root;
  JsonNode *node;
  guint n;

  if (!(parser = mir_json_parse (contents, length, MIR_JSON_MAX_DEPTH, quoted, error)))
    return NULL;
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not a class index (expected a JSON object such as "
                     "{\"0\": [\"n01440764\", \"tench\"], …})"),
                   display);
      return NULL;
    }
  root = json_node_get_object (node);
  n = json_object_get_size (root);
  if (n == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("'%s' lists no class names"), display);
      return NULL;
    }
  if (n > MIR_MAX_CLASS_NAMES)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("'%s' names %u classes; Mirada accepts at most %u"), display, n,
                   MIR_MAX_CLASS_NAMES);
      return NULL;
    }
  names = g_new0 (char *, n + 1);
  members = json_object_get_members (root);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *value = json_object_get_member (root, key);
      JsonNode *name = NULL;
      guint64 index;

      if (!g_ascii_string_to_unsigned (key, 10, 0, n - 1, &index, NULL) || names[index] != NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("In '%s', the key '%s' is not a class index from 0 to %u, each once"),
                       display, key, n - 1);
          return NULL;
        }
      if (JSON_NODE_HOLDS_ARRAY (value) && json_array_get_length (json_node_get_array (value)) > 0)
        {
          JsonArray *a = json_node_get_array (value);
          name = json_array_get_element (a, json_array_get_length (a) - 1);
        }
      else if (JSON_NODE_HOLDS_VALUE (value))
        name = value;
      if (name == NULL || !JSON_NODE_HOLDS_VALUE (name)
          || json_node_get_value_type (name) != G_TYPE_STRING)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("In '%s', class %s is not [\"id\", \"name\"] or a name"), display,
                       key);
          return NULL;
        }
      names[index] = g_strdup (json_node_get_string (name));
    }
  return g_steal_pointer (&names);
}

char **
mir_labels_load (const char *path, gboolean *indexed_out, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) names = NULL;
  gboolean indexed = TRUE;
  gsize length;
  guint n = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!read_small_file (path, &contents, &length, error))
    return NULL;
  if (memchr (contents, '\0', length) != NULL)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not a text file with one class name per line"), display);
      return NULL;
    }
  {
    const char *p = contents;

    while (p < contents + length && g_ascii_isspace (*p))
      p++;
    if (p < contents + length && *p == '{')
      {
        if (indexed_out)
          *indexed_out = FALSE;
        return keras_class_index_load (path, contents, length, error);
      }
  }

  /* Line by line, in place: memory grows with the names kept, not with the
   * lines (a file of newlines costs nothing). */
  names = g_ptr_array_new_with_free_func (g_free);
  for (const char *p = contents, *stop = contents + length; p < stop;)
    {
      const char *nl, *a, *b;
      char *line;
      guint64 index;
      const char *rest;

      /* Skip blank lines and leading blanks in one go, strip the line's
       * end (\r too). */
      while (p < stop && g_ascii_isspace (*p))
        p++;
      if (p == stop)
        break;
      nl = memchr (p, '\n', (gsize) (stop - p));
      a = p;
      b = nl ? nl : stop;
      p = nl ? nl + 1 : stop;
      while (b > a && g_ascii_isspace (b[-1]))
        b--;
      if (n == MIR_MAX_CLASS_NAMES)
        {
          g_autofree char *display = g_filename_display_name (path);
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("'%s' names more than %u classes; Mirada accepts at most %u"),
                       display, MIR_MAX_CLASS_NAMES, MIR_MAX_CLASS_NAMES);
          return NULL;
        }
      line = g_strndup (a, (gsize) (b - a));
      if (!split_index (line, &index, &rest) || index != n)
        indexed = FALSE;
      g_ptr_array_add (names, line);
      n++;
    }
  if (n == 0)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("'%s' lists no class names"), display);
      return NULL;
    }
  if (indexed)
    for (guint i = 0; i < names->len; i++)
      {
        guint64 index;
        const char *rest;
        char *line = names->pdata[i];

        if (split_index (line, &index, &rest))
          memmove (line, rest, strlen (rest) + 1);
      }
  if (indexed_out)
    *indexed_out = indexed;
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

gboolean
mir_sidecar_find_and_load (const char *model_path, MirModelMeta *meta, GError **error)
{
  g_autofree char *stem = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *sidecar = NULL;
  g_autofree char *labels = NULL;
  const char *label_candidates[3];
  const char *sidecar_candidates[2];
  g_autofree char *c0 = NULL, *c1 = NULL, *l0 = NULL, *l1 = NULL, *l2 = NULL;
  gboolean indexed = FALSE;
  gboolean generic_labels = FALSE;

  g_return_val_if_fail (model_path != NULL && meta != NULL, FALSE);

  stem = model_stem (model_path);
  dir = g_path_get_dirname (model_path);
  sidecar_candidates[0] = c0 = g_strconcat (stem, ".mirada.json", NULL);
  sidecar_candidates[1] = c1 = g_strconcat (model_path, ".mirada.json", NULL);
  label_candidates[0] = l0 = g_strconcat (stem, ".labels.txt", NULL);
  label_candidates[1] = l1 = g_strconcat (model_path, ".labels.txt", NULL);
  label_candidates[2] = l2 = g_build_filename (dir, "labels.txt", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (sidecar_candidates) && sidecar == NULL; i++)
    if (g_file_test (sidecar_candidates[i], G_FILE_TEST_IS_REGULAR))
      sidecar = g_strdup (sidecar_candidates[i]);
  for (guint i = 0; i < G_N_ELEMENTS (label_candidates) && labels == NULL; i++)
    if (g_file_test (label_candidates[i], G_FILE_TEST_IS_REGULAR))
      {
        labels = g_strdup (label_candidates[i]);
        generic_labels = i == 2;
      }

  if (labels != NULL)
    {
      char **names = mir_labels_load (labels, &indexed, error);

      if (names == NULL)
        return FALSE;
      g_strfreev (meta->class_names);
      meta->class_names = names;
      /* Teachable Machine exports keras_model.h5 + an indexed labels.txt and
       * feeds its models x / 127.5 - 1.  Renamed together ("x_keras_model.h5"
       * + "x_keras_model.labels.txt") they still are that export. */
      if (indexed && (generic_labels || g_str_has_suffix (stem, "keras_model")))
        {
          meta->preprocess = MIR_PREPROCESS_TF;
          meta->preprocess_from = MIR_PREPROCESS_FROM_LABELS;
        }
      g_free (meta->source);
      meta->source = g_strdup (labels);
    }
  if (sidecar != NULL && !mir_sidecar_load (sidecar, meta, error))
    return FALSE;
  return TRUE;
}
