/* mir-detect-examples.c: background and classes by example (issue 18).
 *
 * A model without a background class puts every window in some class (a
 * blank wall is confidently "cat").  The user shows a few windows that are
 * background, or a few of a new class; each becomes an example: the window's
 * embedding (the input of the classifier's head, MirDetectGrid.embed) and a
 * label.  Every window is then compared with the examples by cosine distance
 * (a nearest-prototype classifier on the network's own features, as Teachable
 * Machine does on MobileNet's), with no retraining: a pure function of the
 * cached embeddings, cheap enough for every click.
 *
 * The one choice without examples of "not this label" is where "near" ends.
 * Per label it is the Otsu split of the distances of the grid's windows to
 * the label's prototype: the scene's own gap between windows that look like
 * the examples and those that do not (docs/detector.md measures it against
 * the mean rule and fixed margins on the photo scenes). */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "mir-error.h"
#include "mir-file.h"
#include "mir-json.h"
#include "mir-detect.h"

static void
example_free (MirDetectExample *ex)
{
  g_free (ex->label);
  g_free (ex->embedding);
  g_free (ex);
}

MirDetectExamples *
mir_detect_examples_new (void)
{
  MirDetectExamples *examples = g_new0 (MirDetectExamples, 1);

  examples->items = g_ptr_array_new_with_free_func ((GDestroyNotify) example_free);
  return examples;
}

void
mir_detect_examples_free (MirDetectExamples *examples)
{
  if (examples == NULL)
    return;
  g_ptr_array_unref (examples->items);
  g_free (examples->layer);
  g_free (examples);
}

static void
add_example (MirDetectExamples *examples, const char *label, const float *embedding,
             int x, int y, int size)
{
  MirDetectExample *ex = g_new0 (MirDetectExample, 1);

  ex->label = g_strdup (label);
  ex->embedding = g_memdup2 (embedding, sizeof (float) * examples->dim);
  ex->x = x;
  ex->y = y;
  ex->size = size;
  g_ptr_array_add (examples->items, ex);
}

MirDetectExamples *
mir_detect_examples_copy (const MirDetectExamples *examples)
{
  MirDetectExamples *copy = mir_detect_examples_new ();

  copy->dim = examples->dim;
  copy->layer = g_strdup (examples->layer);
  for (guint i = 0; i < examples->items->len; i++)
    {
      const MirDetectExample *ex = g_ptr_array_index (examples->items, i);

      add_example (copy, ex->label, ex->embedding, ex->x, ex->y, ex->size);
    }
  return copy;
}

gboolean
mir_detect_label_is_background (const char *label)
{
  const char *one[] = { label, NULL };

  return label != NULL && mir_detect_find_background_class (one) == 0;
}

static gboolean
check_label (const char *label, GError **error)
{
  g_autofree char *stripped = label ? g_strstrip (g_strdup (label)) : NULL;

  if (label == NULL || *stripped == '\0' || strlen (label) > 256
      || !g_utf8_validate (label, -1, NULL))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("An example needs a label: “background” or a class name of 1 to 256 "
                     "characters"));
      return FALSE;
    }
  return TRUE;
}

/* Examples and a grid must come from the same layer's features. */
static gboolean
check_dim (MirDetectExamples *examples, guint dim, const char *layer, GError **error)
{
  if (examples->dim == 0 || examples->items->len == 0)
    {
      examples->dim = dim;
      if (layer != NULL)
        {
          g_free (examples->layer);
          examples->layer = g_strdup (layer);
        }
      return TRUE;
    }
  if (examples->dim != dim)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The examples have embeddings of %u values but these windows have %u: "
                     "they come from another model or layer"), examples->dim, dim);
      return FALSE;
    }
  if (examples->layer != NULL && layer != NULL && strcmp (examples->layer, layer) != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The examples are embeddings of layer '%s' but these windows' are of "
                     "layer '%s' (pick the examples' layer for the embeddings)"),
                   examples->layer, layer);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_detect_examples_add_window (MirDetectExamples   *examples,
                                const MirDetectGrid *grid,
                                guint                n,
                                const char          *label,
                                GError             **error)
{
  int x, y, size;

  g_return_val_if_fail (examples != NULL && grid != NULL, FALSE);

  if (!check_label (label, error))
    return FALSE;
  if (grid->embed == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("These windows have no embeddings (the model has no classifier head with "
                     "weights, or the grid was loaded without them)"));
      return FALSE;
    }
  if (n >= mir_detect_geometry_n_windows (&grid->geom))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Window %u does not exist (the grid has %u windows)"), n,
                   mir_detect_geometry_n_windows (&grid->geom));
      return FALSE;
    }
  if (!check_dim (examples, grid->embed_dim, grid->embed_layer, error))
    return FALSE;
  mir_detect_geometry_window_rect (&grid->geom, n, &x, &y, &size);
  add_example (examples, label, mir_detect_grid_get_embedding (grid, n),
               (int) lround (x * grid->scale), (int) lround (y * grid->scale),
               (int) lround (size * grid->scale));
  return TRUE;
}

gboolean
mir_detect_examples_append (MirDetectExamples       *dst,
                            const MirDetectExamples *src,
                            GError                 **error)
{
  if (src->items->len == 0)
    return TRUE;
  if (!check_dim (dst, src->dim, src->layer, error))
    return FALSE;
  for (guint i = 0; i < src->items->len; i++)
    {
      const MirDetectExample *ex = g_ptr_array_index (src->items, i);

      add_example (dst, ex->label, ex->embedding, ex->x, ex->y, ex->size);
    }
  return TRUE;
}

void
mir_detect_examples_clear (MirDetectExamples *examples, const char *label)
{
  for (guint i = examples->items->len; i-- > 0;)
    {
      const MirDetectExample *ex = g_ptr_array_index (examples->items, i);

      if (label == NULL || strcmp (ex->label, label) == 0)
        g_ptr_array_remove_index (examples->items, i);
    }
}

char **
mir_detect_examples_dup_labels (const MirDetectExamples *examples)
{
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();

  for (guint i = 0; i < examples->items->len; i++)
    {
      const MirDetectExample *ex = g_ptr_array_index (examples->items, i);
      gboolean seen = FALSE;

      for (guint j = 0; j < labels->len && !seen; j++)
        seen = strcmp (g_ptr_array_index (labels, j), ex->label) == 0;
      if (!seen)
        g_ptr_array_add (labels, g_strdup (ex->label));
    }
  g_ptr_array_add (labels, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&labels), FALSE);
}

/* ------------------------------------------------------------------ */
/* Finding windows */

gint
mir_detect_grid_window_at (const MirDetectGrid *grid, double x, double y)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  double best = G_MAXDOUBLE;
  gint found = -1;

  x /= grid->scale;
  y /= grid->scale;
  for (guint n = 0; n < N; n++)
    {
      int wx, wy, size;
      double dx, dy;

      mir_detect_geometry_window_rect (&grid->geom, n, &wx, &wy, &size);
      if (x < wx || y < wy || x >= wx + size || y >= wy + size)
        continue;
      dx = x - (wx + size / 2.0);
      dy = y - (wy + size / 2.0);
      if (dx * dx + dy * dy < best)
        {
          best = dx * dx + dy * dy;
          found = (gint) n;
        }
    }
  return found;
}

gint
mir_detect_grid_window_for_box (const MirDetectGrid *grid, double x, double y, double w, double h)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  double best = 0;
  gint found = -1;

  for (guint n = 0; n < N; n++)
    {
      int wx, wy, size;
      double iou;

      mir_detect_geometry_window_rect (&grid->geom, n, &wx, &wy, &size);
      iou = mir_detect_iou (x, y, w, h, wx * grid->scale, wy * grid->scale, size * grid->scale,
                            size * grid->scale);
      if (iou > best)
        {
          best = iou;
          found = (gint) n;
        }
    }
  return found;
}

/* ------------------------------------------------------------------ */
/* The file */

static gboolean
get_numbers (JsonNode *node, guint want, double *out)
{
  JsonArray *a;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (a = json_node_get_array (node)) != want)
    return FALSE;
  for (guint i = 0; i < want; i++)
    {
      JsonNode *v = json_array_get_element (a, i);
      GType t;

      if (!JSON_NODE_HOLDS_VALUE (v))
        return FALSE;
      t = json_node_get_value_type (v);
      if (t == G_TYPE_INT64)
        out[i] = (double) json_node_get_int (v);
      else if (t == G_TYPE_DOUBLE)
        out[i] = json_node_get_double (v);
      else
        return FALSE;
      if (!isfinite (out[i]))
        return FALSE;
    }
  return TRUE;
}

static gboolean
parse_entry (MirDetectExamples *examples, JsonNode *node, guint i, const char *source,
             const MirDetectGrid *grid, GError **error)
{
  JsonObject *obj;
  JsonNode *lnode;
  const char *label;
  double v[4];
  gint n = -1;

#define FAIL(...) G_STMT_START { \
    g_autofree char *why_ = g_strdup_printf (__VA_ARGS__); \
    g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("%s: example %u: %s"), source, i, why_); \
    return FALSE; } G_STMT_END

  if (!JSON_NODE_HOLDS_OBJECT (node))
    FAIL (_("not an object"));
  obj = json_node_get_object (node);
  lnode = json_object_get_member (obj, "label");
  if (lnode == NULL || !JSON_NODE_HOLDS_VALUE (lnode)
      || json_node_get_value_type (lnode) != G_TYPE_STRING)
    FAIL (_("“label” must be a string (“background” or a class name)"));
  label = json_node_get_string (lnode);
  {
    g_autoptr(GError) local = NULL;

    if (!check_label (label, &local))
      FAIL ("%s", local->message);
  }
  if (json_object_has_member (obj, "embedding"))
    {
      JsonNode *enode = json_object_get_member (obj, "embedding");
      g_autofree float *e = NULL;
      JsonArray *a;
      guint dim;

      if (!JSON_NODE_HOLDS_ARRAY (enode)
          || (dim = json_array_get_length (a = json_node_get_array (enode))) < 1
          || dim > (1u << 20))
        FAIL (_("“embedding” must be an array of 1 to 1048576 numbers"));
      e = g_new (float, dim);
      for (guint d = 0; d < dim; d++)
        {
          JsonNode *vn = json_array_get_element (a, d);
          GType t = JSON_NODE_HOLDS_VALUE (vn) ? json_node_get_value_type (vn) : G_TYPE_NONE;
          double x = t == G_TYPE_INT64 ? (double) json_node_get_int (vn)
                   : t == G_TYPE_DOUBLE ? json_node_get_double (vn) : NAN;

          if (!isfinite (x) || fabs (x) > 3.4e38)
            FAIL (_("value %u of “embedding” is not a number"), d);
          e[d] = (float) x;
        }
      {
        g_autoptr(GError) local = NULL;

        if (!check_dim (examples, dim, NULL, &local))
          FAIL ("%s", local->message);
      }
      if (grid != NULL && grid->embed != NULL && grid->embed_dim != dim)
        FAIL (_("its embedding has %u values but these windows have %u: it comes from another "
                "model or layer"), dim, grid->embed_dim);
      {
        int x = 0, y = 0, size = 0;

        if (get_numbers (json_object_get_member (obj, "box"), 4, v))
          {
            x = (int) CLAMP (v[0], -1e9, 1e9);
            y = (int) CLAMP (v[1], -1e9, 1e9);
            size = (int) CLAMP (v[2], 0, 1e9);
          }
        add_example (examples, label, e, x, y, size);
      }
      return TRUE;
    }
  if (grid == NULL)
    FAIL (_("“at”, “box” and “window” need the image's windows; give “embedding”"));
  if (json_object_has_member (obj, "window"))
    {
      JsonNode *wn = json_object_get_member (obj, "window");

      if (!JSON_NODE_HOLDS_VALUE (wn) || json_node_get_value_type (wn) != G_TYPE_INT64
          || json_node_get_int (wn) < 0
          || json_node_get_int (wn) >= mir_detect_geometry_n_windows (&grid->geom))
        FAIL (_("“window” must be a window index from 0 to %u"),
              mir_detect_geometry_n_windows (&grid->geom) - 1);
      n = (gint) json_node_get_int (wn);
    }
  else if (json_object_has_member (obj, "at"))
    {
      if (!get_numbers (json_object_get_member (obj, "at"), 2, v))
        FAIL (_("“at” must be [x, y] in image pixels"));
      if ((n = mir_detect_grid_window_at (grid, v[0], v[1])) < 0)
        FAIL (_("no window covers the point (%g, %g)"), v[0], v[1]);
    }
  else if (json_object_has_member (obj, "box"))
    {
      if (!get_numbers (json_object_get_member (obj, "box"), 4, v) || v[2] <= 0 || v[3] <= 0)
        FAIL (_("“box” must be [x, y, width, height] in image pixels"));
      if ((n = mir_detect_grid_window_for_box (grid, v[0], v[1], v[2], v[3])) < 0)
        FAIL (_("no window overlaps the box"));
    }
  else
    FAIL (_("give where the example is: “at”, “box”, “window” or “embedding”"));
  {
    g_autoptr(GError) local = NULL;

    if (!mir_detect_examples_add_window (examples, grid, (guint) n, label, &local))
      FAIL ("%s", local->message);
  }
  return TRUE;
#undef FAIL
}

MirDetectExamples *
mir_detect_examples_from_json (const char          *text,
                               gsize                len,
                               const char          *source,
                               const MirDetectGrid *grid,
                               GError             **error)
{
  g_autoptr(MirDetectExamples) examples = mir_detect_examples_new ();
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root, *list, *layer;
  JsonObject *obj;
  JsonArray *items;

  if (!(parser = mir_json_parse (text, len, MIR_JSON_MAX_DEPTH, source, error)))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)
      || !(list = json_object_get_member (obj = json_node_get_object (root), "examples"))
      || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: not an examples file (an object with an “examples” array)"), source);
      return NULL;
    }
  if ((layer = json_object_get_member (obj, "embedding_layer")) != NULL)
    {
      if (!JSON_NODE_HOLDS_VALUE (layer) || json_node_get_value_type (layer) != G_TYPE_STRING)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("%s: “embedding_layer” must be a string"), source);
          return NULL;
        }
      examples->layer = g_strdup (json_node_get_string (layer));
    }
  items = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (items); i++)
    if (!parse_entry (examples, json_array_get_element (items, i), i, source, grid, error))
      return NULL;
  return g_steal_pointer (&examples);
}

MirDetectExamples *
mir_detect_examples_load (const char          *path,
                          const MirDetectGrid *grid,
                          GError             **error)
{
  g_autofree char *text = NULL;
  g_autofree char *name = NULL;
  gsize len;

  if (!(text = mir_file_read (path, MIR_FILE_MAX_TEXT, _("examples files"), &len, error)))
    return NULL;
  name = g_strdup_printf ("'%s'", path);
  return mir_detect_examples_from_json (text, len, name, grid, error);
}

char *
mir_detect_examples_to_json (const MirDetectExamples *examples)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *data = NULL;

  json_builder_begin_object (b);
  if (examples->layer)
    {
      json_builder_set_member_name (b, "embedding_layer");
      json_builder_add_string_value (b, examples->layer);
    }
  json_builder_set_member_name (b, "examples");
  json_builder_begin_array (b);
  for (guint i = 0; i < examples->items->len; i++)
    {
      const MirDetectExample *ex = g_ptr_array_index (examples->items, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "label");
      json_builder_add_string_value (b, ex->label);
      if (ex->size > 0)
        {
          json_builder_set_member_name (b, "box");
          json_builder_begin_array (b);
          json_builder_add_int_value (b, ex->x);
          json_builder_add_int_value (b, ex->y);
          json_builder_add_int_value (b, ex->size);
          json_builder_add_int_value (b, ex->size);
          json_builder_end_array (b);
        }
      json_builder_set_member_name (b, "embedding");
      json_builder_begin_array (b);
      for (guint d = 0; d < examples->dim; d++)
        json_builder_add_double_value (b, ex->embedding[d]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  data = json_generator_to_data (gen, NULL);
  return g_strconcat (data, "\n", NULL);
}

/* ------------------------------------------------------------------ */
/* The rule */

static double
norm (const float *a, guint dim)
{
  double s = 0;

  for (guint d = 0; d < dim; d++)
    s += (double) a[d] * a[d];
  return sqrt (s);
}

/* 1 − cos(a, b); an all-zero vector is at 0 from another and at 1 from the rest. */
static double
cosine_distance (const float *a, double na, const float *b, double nb, guint dim)
{
  double dot = 0;

  if (na == 0 || nb == 0)
    return na == nb ? 0.0 : 1.0;
  for (guint d = 0; d < dim; d++)
    dot += (double) a[d] * b[d];
  return CLAMP (1.0 - dot / (na * nb), 0.0, 2.0);
}

/* Otsu's split of @v (n values): the largest value of the lower group that
 * maximises the between-group variance. */
static double
otsu (const double *v, guint n)
{
  g_autofree double *s = g_memdup2 (v, sizeof (double) * n);
  double total = 0, below = 0, best = -1, tau;

  if (n == 0)
    return 0;
  for (guint i = 1; i < n; i++) /* insertion sort: a grid has hundreds of windows */
    {
      double x = s[i];
      guint j = i;

      for (; j > 0 && s[j - 1] > x; j--)
        s[j] = s[j - 1];
      s[j] = x;
    }
  tau = s[n - 1];
  for (guint i = 0; i < n; i++)
    total += s[i];
  for (guint k = 1; k < n; k++)
    {
      double m0, m1, var;

      below += s[k - 1];
      if (s[k] == s[k - 1])
        continue;
      m0 = below / k;
      m1 = (total - below) / (n - k);
      var = (double) k * (double) (n - k) * (m1 - m0) * (m1 - m0);
      if (var > best)
        {
          best = var;
          tau = s[k - 1];
        }
    }
  return tau;
}

double *
mir_detect_examples_distances (const MirDetectExamples *examples,
                               const MirDetectGrid     *grid,
                               const char              *label,
                               MirDetectProtoRule       rule,
                               double                  *tau)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom), dim = examples->dim;
  g_autoptr(GPtrArray) protos = g_ptr_array_new_with_free_func (g_free);
  double *d = g_new (double, N);

  g_return_val_if_fail (grid->embed != NULL && grid->embed_dim == dim, NULL);

  for (guint i = 0; i < examples->items->len; i++)
    {
      const MirDetectExample *ex = g_ptr_array_index (examples->items, i);

      if (strcmp (ex->label, label) == 0)
        g_ptr_array_add (protos, g_memdup2 (ex->embedding, sizeof (float) * dim));
    }
  if (rule == MIR_DETECT_PROTO_MEAN && protos->len > 1)
    {
      float *mean = g_new0 (float, dim);

      for (guint i = 0; i < protos->len; i++)
        {
          const float *p = g_ptr_array_index (protos, i);
          double np = norm (p, dim);

          for (guint k = 0; k < dim && np > 0; k++)
            mean[k] += (float) (p[k] / np / protos->len);
        }
      g_ptr_array_set_size (protos, 0);
      g_ptr_array_add (protos, mean);
    }
  for (guint n = 0; n < N; n++)
    {
      const float *e = mir_detect_grid_get_embedding (grid, n);
      double ne = norm (e, dim), best = G_MAXDOUBLE;

      for (guint i = 0; i < protos->len; i++)
        {
          const float *p = g_ptr_array_index (protos, i);

          best = MIN (best, cosine_distance (e, ne, p, norm (p, dim), dim));
        }
      d[n] = protos->len > 0 ? best : 2.0;
    }
  if (tau)
    *tau = otsu (d, N);
  return d;
}

MirDetectGrid *
mir_detect_grid_apply_examples (const MirDetectGrid     *grid,
                                const MirDetectExamples *examples,
                                MirDetectProtoRule       rule,
                                gint                   **decision,
                                GError                 **error)
{
  const guint N = mir_detect_geometry_n_windows (&grid->geom);
  g_auto(GStrv) labels = mir_detect_examples_dup_labels (examples);
  const guint n_labels = g_strv_length (labels);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree gint *column = g_new (gint, MAX (n_labels, 1));
  g_autofree gint *choice = g_new (gint, MAX (N, 1));
  g_autofree double *tau = g_new (double, MAX (n_labels, 1));
  g_autofree float *probs = NULL;
  g_autoptr(GPtrArray) dist = g_ptr_array_new_with_free_func (g_free);
  MirDetectGrid *out;
  guint K;
  gint bg;

  g_return_val_if_fail (grid != NULL && examples != NULL, NULL);

  if (decision)
    *decision = NULL;
  if (n_labels > 0 && (grid->embed == NULL || grid->embed_dim != examples->dim))
    {
      if (grid->embed == NULL)
        g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                     _("These windows have no embeddings to compare with the examples (the "
                       "model has no classifier head with weights)"));
      else
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("The examples have embeddings of %u values but these windows have %u: "
                       "they come from another model or layer"), examples->dim, grid->embed_dim);
      return NULL;
    }
  if (n_labels > 0 && examples->layer != NULL && grid->embed_layer != NULL
      && strcmp (examples->layer, grid->embed_layer) != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The examples are embeddings of layer '%s' but these windows' are of "
                     "layer '%s' (pick the examples' layer for the embeddings)"),
                   examples->layer, grid->embed_layer);
      return NULL;
    }

  /* the classes: the model's, then each new label */
  for (guint c = 0; c < grid->n_classes; c++)
    g_ptr_array_add (names, grid->class_names[c]);
  bg = mir_detect_find_background_class ((const char *const *) grid->class_names);
  for (guint l = 0; l < n_labels; l++)
    {
      gint c = mir_detect_label_is_background (labels[l]) && bg >= 0 ? bg
             : mir_detect_match_class_name ((const char *const *) grid->class_names, labels[l]);

      if (c < 0)
        {
          /* a second background spelling, or a label repeated with other case */
          for (guint k = grid->n_classes; k < names->len && c < 0; k++)
            if ((mir_detect_label_is_background (labels[l])
                 && mir_detect_label_is_background (g_ptr_array_index (names, k)))
                || g_utf8_collate (g_ptr_array_index (names, k), labels[l]) == 0)
              c = (gint) k;
        }
      if (c < 0)
        {
          c = (gint) names->len;
          g_ptr_array_add (names, labels[l]);
        }
      column[l] = c;
      g_ptr_array_add (dist, mir_detect_examples_distances (examples, grid, labels[l], rule,
                                                            &tau[l]));
    }
  g_ptr_array_add (names, NULL);
  K = names->len - 1;
  probs = g_new0 (float, (gsize) N * K);
  for (guint n = 0; n < N; n++)
    {
      float *row = probs + (gsize) n * K;
      gint best = -1;

      for (guint c = 0; c < grid->n_classes; c++)
        row[c] = mir_detect_grid_get (grid, n, c);
      for (guint l = 0; l < n_labels; l++)
        {
          const double *d = g_ptr_array_index (dist, l);

          if (d[n] <= tau[l] && (best < 0 || d[n] < ((double *) g_ptr_array_index (dist, best))[n]))
            best = (gint) l;
        }
      choice[n] = best;
      if (best >= 0)
        {
          const double dn = ((double *) g_ptr_array_index (dist, best))[n];
          const double score = tau[best] > 0 ? CLAMP (1.0 - dn / (2.0 * tau[best]), 0.5, 1.0)
                                             : 1.0;
          const guint c = (guint) column[best];
          float keep = row[c];

          memset (row, 0, sizeof (float) * K);
          if (mir_detect_label_is_background (labels[best]))
            row[c] = 1.0f;
          else
            row[c] = MAX (keep, (float) score);
        }
    }
  out = mir_detect_grid_new (&grid->geom, K, (const char *const *) names->pdata, grid->head,
                             probs, error);
  if (out == NULL)
    return NULL;
  out->scale = grid->scale;
  if (grid->embed != NULL
      && !mir_detect_grid_set_embeddings (out, grid->embed_dim, grid->embed, grid->embed_layer,
                                          error))
    {
      mir_detect_grid_unref (out);
      return NULL;
    }
  /* a partial grid stays partial (issue 23) */
  if (grid->known != NULL)
    out->known = g_memdup2 (grid->known, MAX (mir_detect_geometry_n_windows (&grid->geom), 1));
  if (decision)
    *decision = g_steal_pointer (&choice);
  return out;
}
