/* mir-detect-grid.c: window geometry and the probability grid (making,
 * sharing, saving and loading it). */
#define G_LOG_DOMAIN "mir-detect"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "mir-file.h"
#include "mir-json.h"
#include "mir-error.h"
#include "mir-detect.h"

static gboolean
check_window (int window, GError **error)
{
  if (window < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Window size must be at least 1 pixel, not %d"), window);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_detect_geometry_init (MirDetectGeometry *geom,
                          int                image_width,
                          int                image_height,
                          int                window,
                          int                stride,
                          gboolean           notebook_layout,
                          GError           **error)
{
  g_return_val_if_fail (geom != NULL, FALSE);

  memset (geom, 0, sizeof *geom);
  if (image_width < 1 || image_height < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The image is empty (%d×%d)"),
                   image_width, image_height);
      return FALSE;
    }
  if (!check_window (window, error))
    return FALSE;
  if (stride < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Stride must be at least 1 pixel, not %d"), stride);
      return FALSE;
    }
  if (window > image_width || window > image_height)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Window of %d pixels does not fit in the %d×%d image; use a smaller --window"),
                   window, image_width, image_height);
      return FALSE;
    }
  geom->image_width = image_width;
  geom->image_height = image_height;
  geom->window = window;
  geom->stride = stride;
  geom->rows = (image_height - window) / stride + 1;
  geom->cols = (image_width - window) / stride + 1;
  geom->notebook_layout = notebook_layout;
  if (notebook_layout)
    {
      if (geom->cols < 2)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("The notebook layout leaves the last column of windows out, but "
                         "only one column fits in the %d×%d image"),
                       image_width, image_height);
          return FALSE;
        }
      geom->cols--;
    }
  if ((gint64) geom->rows * geom->cols > G_MAXINT32)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Too many windows (%d×%d); use a larger stride"), geom->rows, geom->cols);
      return FALSE;
    }
  return TRUE;
}

void
mir_detect_geometry_window_rect (const MirDetectGeometry *geom,
                                 guint                    n,
                                 int                     *x,
                                 int                     *y,
                                 int                     *size)
{
  *x = (int) (n % (guint) geom->cols) * geom->stride;
  *y = (int) (n / (guint) geom->cols) * geom->stride;
  *size = geom->window;
}

/* ------------------------------------------------------------------ */
/* Scales */

/* Shared checks of the two ways to make scales. */
static gboolean
check_scales (guint n, GError **error)
{
  if (n < 1 || n > MIR_DETECT_MAX_SCALES)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Give 1 to %d scales (window sizes or pyramid levels), not %u"),
                   MIR_DETECT_MAX_SCALES, n);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_detect_scales_windows (MirDetectScales *scales,
                           const int       *windows,
                           guint            n_windows,
                           GError         **error)
{
  g_return_val_if_fail (scales != NULL, FALSE);

  memset (scales, 0, sizeof *scales);
  if (!check_scales (n_windows, error))
    return FALSE;
  for (guint s = 0; s < n_windows; s++)
    {
      if (!check_window (windows[s], error))
        return FALSE;
      scales->window[s] = windows[s];
      scales->factor[s] = 1.0;
    }
  scales->n_scales = n_windows;
  return TRUE;
}

gboolean
mir_detect_scales_pyramid (MirDetectScales *scales,
                           int              window,
                           double           factor,
                           guint            levels,
                           GError         **error)
{
  g_return_val_if_fail (scales != NULL, FALSE);

  memset (scales, 0, sizeof *scales);
  if (!check_scales (levels, error) || !check_window (window, error))
    return FALSE;
  if (!(factor > 1.0 && factor <= 16.0))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The pyramid scale factor must be above 1 and at most 16, not %g"), factor);
      return FALSE;
    }
  for (guint s = 0; s < levels; s++)
    {
      scales->window[s] = window;
      scales->factor[s] = pow (factor, s);
    }
  scales->n_scales = levels;
  return TRUE;
}

void
mir_detect_scales_image_size (const MirDetectScales *scales,
                              guint                  s,
                              int                    image_width,
                              int                    image_height,
                              int                   *width,
                              int                   *height)
{
  g_return_if_fail (scales != NULL && s < scales->n_scales);

  *width = MAX (1, (int) lround (image_width / scales->factor[s]));
  *height = MAX (1, (int) lround (image_height / scales->factor[s]));
}

/* ------------------------------------------------------------------ */

static void
free_grid (MirDetectGrid *grid)
{
  g_strfreev (grid->class_names);
  g_free (grid->probs);
  g_free (grid->embed);
  g_free (grid->embed_layer);
  g_free (grid->known);
  g_free (grid);
}

guint
mir_detect_grid_count_known (const MirDetectGrid *grid)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  guint known = 0;

  if (grid->known == NULL)
    return N;
  for (guint n = 0; n < N; n++)
    known += grid->known[n] != 0;
  return known;
}

MirDetectGrid *
mir_detect_grid_copy (const MirDetectGrid *grid)
{
  const gsize N = mir_detect_geometry_n_windows (&grid->geom);
  MirDetectGrid *copy;

  g_return_val_if_fail (grid != NULL, NULL);

  copy = g_new0 (MirDetectGrid, 1);
  g_atomic_ref_count_init (&copy->ref_count);
  copy->geom = grid->geom;
  copy->n_classes = grid->n_classes;
  copy->class_names = g_strdupv (grid->class_names);
  copy->head = grid->head;
  copy->probs = g_memdup2 (grid->probs, MAX (N * grid->n_classes * sizeof (float), 1));
  copy->scale = grid->scale;
  if (grid->embed != NULL)
    {
      copy->embed_dim = grid->embed_dim;
      copy->embed = g_memdup2 (grid->embed, N * grid->embed_dim * sizeof (float));
      copy->embed_layer = g_strdup (grid->embed_layer);
    }
  if (grid->known != NULL)
    copy->known = g_memdup2 (grid->known, MAX (N, 1));
  return copy;
}

guint
mir_detect_grid_reuse (MirDetectGrid       *grid,
                       const MirDetectGrid *old)
{
  const MirDetectGeometry *g, *o;
  gboolean embed;
  guint N, K, copied = 0;

  g_return_val_if_fail (grid != NULL && old != NULL, 0);

  g = &grid->geom;
  o = &old->geom;
  N = mir_detect_geometry_n_windows (g);
  K = grid->n_classes;
  embed = grid->embed != NULL && old->embed != NULL && grid->embed_dim == old->embed_dim
          && g_strcmp0 (grid->embed_layer, old->embed_layer) == 0;
  if (grid->known == NULL || g->image_width != o->image_width
      || g->image_height != o->image_height || g->window != o->window
      || grid->scale != old->scale || K != old->n_classes)
    return 0;
  for (guint c = 0; c < K; c++)
    if (g_strcmp0 (grid->class_names[c], old->class_names[c]) != 0)
      return 0;
  for (guint n = 0; n < N; n++)
    {
      int x, y, size;
      guint m;

      if (grid->known[n])
        continue;
      mir_detect_geometry_window_rect (g, n, &x, &y, &size);
      if (x % o->stride != 0 || y % o->stride != 0 || x / o->stride >= o->cols
          || y / o->stride >= o->rows)
        continue;
      m = (guint) (y / o->stride) * (guint) o->cols + (guint) (x / o->stride);
      if (!mir_detect_grid_is_known (old, m))
        continue;
      memcpy (grid->probs + (gsize) n * K, old->probs + (gsize) m * K, K * sizeof (float));
      if (embed)
        memcpy (grid->embed + (gsize) n * grid->embed_dim, old->embed + (gsize) m * old->embed_dim,
                grid->embed_dim * sizeof (float));
      grid->known[n] = 1;
      copied++;
    }
  return copied;
}

gboolean
mir_detect_grid_set_embeddings (MirDetectGrid *grid,
                                guint          dim,
                                const float   *embed,
                                const char    *layer,
                                GError       **error)
{
  const gsize N = mir_detect_geometry_n_windows (&grid->geom);
  gsize total, bytes;
  float *copy;

  g_return_val_if_fail (grid != NULL && embed != NULL, FALSE);

  if (dim < 1 || !g_size_checked_mul (&total, N, dim)
      || !g_size_checked_mul (&bytes, total, sizeof (float)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Embeddings of %zu windows × %u values are too large"), N, dim);
      return FALSE;
    }
  for (gsize i = 0; i < total; i++)
    if (!isfinite (embed[i]))
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("Embedding value %zu of window %zu is not a finite number"),
                     i % dim, i / dim);
        return FALSE;
      }
  if (!(copy = g_try_malloc (bytes)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory for embeddings of %zu bytes"), bytes);
      return FALSE;
    }
  memcpy (copy, embed, bytes);
  g_free (grid->embed);
  g_free (grid->embed_layer);
  grid->embed = copy;
  grid->embed_dim = dim;
  grid->embed_layer = g_strdup (layer);
  return TRUE;
}

MirDetectGrid *
mir_detect_grid_ref (MirDetectGrid *grid)
{
  g_return_val_if_fail (grid != NULL, NULL);
  g_atomic_ref_count_inc (&grid->ref_count);
  return grid;
}

void
mir_detect_grid_unref (MirDetectGrid *grid)
{
  if (grid != NULL && g_atomic_ref_count_dec (&grid->ref_count))
    free_grid (grid);
}

MirDetectGrid *
mir_detect_grid_new (const MirDetectGeometry *geom,
                     guint                    n_classes,
                     const char *const       *class_names,
                     MirHeadKind              head,
                     const float             *probs,
                     GError                 **error)
{
  MirDetectGrid *grid;
  gsize n_windows, total, bytes;

  g_return_val_if_fail (geom != NULL, NULL);

  if (n_classes < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The detector needs at least one class"));
      return NULL;
    }
  n_windows = mir_detect_geometry_n_windows (geom);
  if (!g_size_checked_mul (&total, n_windows, n_classes)
      || !g_size_checked_mul (&bytes, total, sizeof (float)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Probability grid of %zu windows × %u classes is too large"),
                   n_windows, n_classes);
      return NULL;
    }
  if (probs != NULL)
    for (gsize i = 0; i < total; i++)
      if (!(probs[i] >= 0.0f && probs[i] <= 1.0f))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Probability %g of window %zu, class %zu is outside [0, 1]"),
                       (double) probs[i], i / n_classes, i % n_classes);
          return NULL;
        }

  grid = g_new0 (MirDetectGrid, 1);
  g_atomic_ref_count_init (&grid->ref_count);
  grid->geom = *geom;
  grid->n_classes = n_classes;
  grid->head = head;
  grid->scale = 1.0;
  grid->class_names = g_new0 (char *, n_classes + 1);
  for (guint c = 0; c < n_classes; c++)
    {
      const char *name = NULL;

      if (class_names != NULL && g_strv_length ((char **) class_names) > c)
        name = class_names[c];
      grid->class_names[c] = name ? g_strdup (name) : g_strdup_printf ("class %u", c);
    }
  grid->probs = g_try_malloc0 (MAX (bytes, 1));
  if (grid->probs == NULL)
    {
      free_grid (grid);
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory for a probability grid of %zu bytes"), bytes);
      return NULL;
    }
  if (probs != NULL)
    memcpy (grid->probs, probs, bytes);
  return grid;
}

gint
mir_detect_match_class_name (const char *const *class_names, const char *name)
{
  g_autofree char *folded = NULL;
  gint found = -1;

  if (class_names == NULL || name == NULL)
    return -1;
  for (guint c = 0; class_names[c] != NULL; c++)
    if (strcmp (class_names[c], name) == 0)
      return (gint) c;
  folded = g_utf8_casefold (name, -1);
  for (guint c = 0; class_names[c] != NULL; c++)
    {
      g_autofree char *other = g_utf8_casefold (class_names[c], -1);

      if (strcmp (other, folded) == 0)
        {
          if (found >= 0)
            return -1; /* "cat" with both "Cat" and "CAT": ambiguous */
          found = (gint) c;
        }
    }
  return found;
}

gint
mir_detect_find_background_class (const char *const *class_names)
{
  static const char *const names[] = {
    "background", "bg", "fondo", "fundo", "none", "nothing", "nada", "other", "others",
    "otro", "otros", "outro", "outros", "empty", "negative", "no object", "no_object",
  };

  if (class_names == NULL)
    return -1;
  for (guint c = 0; class_names[c] != NULL; c++)
    {
      g_autofree char *folded = g_utf8_casefold (class_names[c], -1);
      char *name = g_strstrip (folded);

      while (*name == '_' || *name == '-')
        name++;
      for (gsize end = strlen (name); end > 0 && (name[end - 1] == '_' || name[end - 1] == '-'); end--)
        name[end - 1] = '\0';
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        if (strcmp (name, names[i]) == 0)
          return (gint) c;
    }
  return -1;
}

gint
mir_detect_grid_find_class (const MirDetectGrid *grid,
                            const char          *name_or_index,
                            GError             **error)
{
  char *end = NULL;
  guint64 v;

  g_return_val_if_fail (grid != NULL && name_or_index != NULL, -1);

  {
    gint c = mir_detect_match_class_name ((const char *const *) grid->class_names,
                                          name_or_index);
    if (c >= 0 && (guint) c < grid->n_classes)
      return c;
  }
  errno = 0;
  v = g_ascii_strtoull (name_or_index, &end, 10);
  if (*name_or_index != '\0' && end != NULL && *end == '\0' && errno == 0
      && v < grid->n_classes)
    return (gint) v;
  {
    g_autofree char *names = g_strjoinv (", ", grid->class_names);
    g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                 _("Unknown class “%s” (classes: %s; or an index 0 to %u)"),
                 name_or_index, names, grid->n_classes - 1);
  }
  return -1;
}

/* ------------------------------------------------------------------ */
/* JSON */

char *
mir_detect_grid_to_json (const MirDetectGrid *grid)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  g_autofree char *data = NULL;

  /* JsonGenerator writes numbers with '.' whatever the locale. */
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "image_width");
  json_builder_add_int_value (b, grid->geom.image_width);
  json_builder_set_member_name (b, "image_height");
  json_builder_add_int_value (b, grid->geom.image_height);
  json_builder_set_member_name (b, "window");
  json_builder_add_int_value (b, grid->geom.window);
  json_builder_set_member_name (b, "stride");
  json_builder_add_int_value (b, grid->geom.stride);
  json_builder_set_member_name (b, "notebook_layout");
  json_builder_add_boolean_value (b, grid->geom.notebook_layout);
  if (grid->scale != 1.0)
    {
      json_builder_set_member_name (b, "scale");
      json_builder_add_double_value (b, grid->scale);
    }
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; c < grid->n_classes; c++)
    json_builder_add_string_value (b, grid->class_names[c]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "probs");
  json_builder_begin_array (b);
  for (guint n = 0; n < N; n++)
    {
      json_builder_begin_array (b);
      for (guint c = 0; c < grid->n_classes; c++)
        json_builder_add_double_value (b, mir_detect_grid_get (grid, n, c));
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  if (grid->embed != NULL)
    {
      if (grid->embed_layer)
        {
          json_builder_set_member_name (b, "embedding_layer");
          json_builder_add_string_value (b, grid->embed_layer);
        }
      json_builder_set_member_name (b, "embeddings");
      json_builder_begin_array (b);
      for (guint n = 0; n < N; n++)
        {
          const float *e = mir_detect_grid_get_embedding (grid, n);

          json_builder_begin_array (b);
          for (guint d = 0; d < grid->embed_dim; d++)
            json_builder_add_double_value (b, e[d]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  data = json_generator_to_data (gen, NULL);
  return g_strconcat (data, "\n", NULL);
}

gboolean
mir_detect_grid_save_json (const MirDetectGrid *grid,
                           const char          *path,
                           GError             **error)
{
  g_autofree char *json = mir_detect_grid_to_json (grid);

  return g_file_set_contents (path, json, -1, error);
}

static gboolean
get_int (JsonObject *obj, const char *key, const char *path, int *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64
      || json_node_get_int (node) < 0 || json_node_get_int (node) > G_MAXINT)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: “%s” must be a non-negative integer"), path, key);
      return FALSE;
    }
  *out = (int) json_node_get_int (node);
  return TRUE;
}

static gboolean
node_to_double (JsonNode *node, double *out)
{
  GType t;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

/* "embeddings": one array of the same length per window; "embedding_layer". */
static gboolean
load_embeddings (MirDetectGrid *grid, JsonObject *obj, const char *path, GError **error)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  JsonNode *node = json_object_get_member (obj, "embeddings");
  JsonNode *lnode = json_object_get_member (obj, "embedding_layer");
  g_autofree float *embed = NULL;
  JsonArray *rows;
  guint dim = 0;

  if (!JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (rows = json_node_get_array (node)) != N)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: “embeddings” must be an array of one array per window (%u)"), path, N);
      return FALSE;
    }
  if (lnode != NULL && (!JSON_NODE_HOLDS_VALUE (lnode)
                        || json_node_get_value_type (lnode) != G_TYPE_STRING))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: “embedding_layer” must be a string"), path);
      return FALSE;
    }
  for (guint n = 0; n < N; n++)
    {
      JsonNode *rnode = json_array_get_element (rows, n);
      JsonArray *row;

      if (!JSON_NODE_HOLDS_ARRAY (rnode)
          || (n > 0 && json_array_get_length (json_node_get_array (rnode)) != dim)
          || json_array_get_length (json_node_get_array (rnode)) < 1
          || json_array_get_length (json_node_get_array (rnode)) > (1u << 20))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("%s: embedding %u must be an array of 1 to 1048576 numbers, as long "
                         "as the others"), path, n);
          return FALSE;
        }
      row = json_node_get_array (rnode);
      if (n == 0)
        {
          dim = json_array_get_length (row);
          embed = g_new (float, (gsize) N * dim);
        }
      for (guint d = 0; d < dim; d++)
        {
          double v;

          if (!node_to_double (json_array_get_element (row, d), &v) || !isfinite (v))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("%s: value %u of embedding %u is not a number"), path, d, n);
              return FALSE;
            }
          embed[(gsize) n * dim + d] = (float) v;
        }
    }
  if (N == 0)
    return TRUE;
  return mir_detect_grid_set_embeddings (grid, dim, embed,
                                         lnode ? json_node_get_string (lnode) : NULL, error);
}

MirDetectGrid *
mir_detect_grid_load_json (const char *path,
                           GError    **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree float *probs = NULL;
  MirDetectGeometry geom;
  JsonNode *root;
  JsonObject *obj;
  JsonArray *classes, *rows;
  int width, height, window, stride;
  gboolean notebook = FALSE;
  guint n_classes, N;

  {
    g_autofree char *text = NULL;
    g_autofree char *name = NULL;
    gsize len;

    if (!(text = mir_file_read (path, MIR_FILE_MAX_TEXT, _("detector grids"), &len, error)))
      return NULL;
    name = g_strdup_printf ("'%s'", path);
    if (!(parser = mir_json_parse (text, len, MIR_JSON_MAX_DEPTH, name, error)))
      return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("%s: not a probability grid object"),
                   path);
      return NULL;
    }
  obj = json_node_get_object (root);
  if (!get_int (obj, "image_width", path, &width, error)
      || !get_int (obj, "image_height", path, &height, error)
      || !get_int (obj, "window", path, &window, error)
      || !get_int (obj, "stride", path, &stride, error))
    return NULL;
  if (json_object_has_member (obj, "notebook_layout"))
    {
      JsonNode *node = json_object_get_member (obj, "notebook_layout");

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("%s: “notebook_layout” must be true or false"), path);
          return NULL;
        }
      notebook = json_node_get_boolean (node);
    }
  if (!mir_detect_geometry_init (&geom, width, height, window, stride, notebook, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  if (!json_object_has_member (obj, "classes")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, "classes"))
      || !json_object_has_member (obj, "probs")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, "probs")))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: “classes” and “probs” must be arrays"), path);
      return NULL;
    }
  classes = json_object_get_array_member (obj, "classes");
  rows = json_object_get_array_member (obj, "probs");
  n_classes = json_array_get_length (classes);
  N = mir_detect_geometry_n_windows (&geom);
  if (n_classes < 1 || json_array_get_length (rows) != N)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: %u rows of probabilities for %d×%d = %u windows and %u classes"),
                   path, json_array_get_length (rows), geom.rows, geom.cols, N, n_classes);
      return NULL;
    }
  for (guint c = 0; c < n_classes; c++)
    {
      JsonNode *node = json_array_get_element (classes, c);

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("%s: class %u is not a string"),
                       path, c);
          return NULL;
        }
      g_ptr_array_add (names, (gpointer) json_node_get_string (node));
    }
  g_ptr_array_add (names, NULL);
  probs = g_new (float, (gsize) N * n_classes);
  for (guint n = 0; n < N; n++)
    {
      JsonNode *rnode = json_array_get_element (rows, n);
      JsonArray *row;

      if (!JSON_NODE_HOLDS_ARRAY (rnode)
          || json_array_get_length (row = json_node_get_array (rnode)) != n_classes)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("%s: window %u must have %u probabilities"), path, n, n_classes);
          return NULL;
        }
      for (guint c = 0; c < n_classes; c++)
        {
          double v;

          if (!node_to_double (json_array_get_element (row, c), &v))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("%s: probability %u of window %u is not a number"), path, c, n);
              return NULL;
            }
          probs[(gsize) n * n_classes + c] = (float) v;
        }
    }
  {
    MirDetectGrid *grid = mir_detect_grid_new (&geom, n_classes,
                                               (const char *const *) names->pdata,
                                               n_classes == 1 ? MIR_HEAD_SIGMOID : MIR_HEAD_SOFTMAX,
                                               probs, error);
    if (grid == NULL)
      g_prefix_error (error, "%s: ", path);
    else if (json_object_has_member (obj, "scale"))
      {
        double scale;

        if (!node_to_double (json_object_get_member (obj, "scale"), &scale)
            || !(scale > 0 && scale < 1e6))
          {
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("%s: “scale” must be a positive number"), path);
            mir_detect_grid_unref (grid);
            return NULL;
          }
        grid->scale = scale;
      }
    if (grid != NULL && json_object_has_member (obj, "embeddings")
        && !load_embeddings (grid, obj, path, error))
      {
        mir_detect_grid_unref (grid);
        return NULL;
      }
    return grid;
  }
}
