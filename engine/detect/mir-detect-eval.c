/* mir-detect-eval.c: ground truth files and precision / recall / F1. */
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

void
mir_detect_truth_free (MirDetectTruth *truth)
{
  if (truth == NULL)
    return;
  g_free (truth->image);
  g_array_unref (truth->boxes);
  g_free (truth);
}

static gint
class_from_node (JsonNode *node, const char *const *class_names)
{
  guint n = class_names ? g_strv_length ((char **) class_names) : 0;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return -1;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    {
      gint64 v = json_node_get_int (node);
      return v >= 0 && v < G_MAXINT && (n == 0 || v < n) ? (gint) v : -1;
    }
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *s = json_node_get_string (node);
      gint c = mir_detect_match_class_name (class_names, s);
      char *end = NULL;
      guint64 v;

      if (c >= 0)
        return c;
      errno = 0;
      v = g_ascii_strtoull (s, &end, 10);
      if (*s != '\0' && *end == '\0' && errno == 0 && v < G_MAXINT && (n == 0 || v < n))
        return (gint) v;
    }
  return -1;
}

MirDetectTruth *
mir_detect_truth_load (const char        *path,
                       const char *const *class_names,
                       GError           **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirDetectTruth) truth = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonArray *objects;

  {
    g_autofree char *text = NULL;
    g_autofree char *name = NULL;
    gsize len;

    if (!(text = mir_file_read (path, MIR_FILE_MAX_TEXT, _("ground-truth files"), &len, error)))
      return NULL;
    name = g_strdup_printf ("'%s'", path);
    if (!(parser = mir_json_parse (text, len, MIR_JSON_MAX_DEPTH, name, error)))
      return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: ground truth must be a JSON object with an “objects” array"), path);
      return NULL;
    }
  obj = json_node_get_object (root);
  truth = g_new0 (MirDetectTruth, 1);
  truth->boxes = g_array_new (FALSE, FALSE, sizeof (MirDetectTruthBox));
  if (json_object_has_member (obj, "image"))
    truth->image = g_strdup (json_object_get_string_member (obj, "image"));
  if (json_object_has_member (obj, "width"))
    truth->width = (int) json_object_get_int_member (obj, "width");
  if (json_object_has_member (obj, "height"))
    truth->height = (int) json_object_get_int_member (obj, "height");
  if (!json_object_has_member (obj, "objects")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, "objects")))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("%s: ground truth needs an “objects” array"), path);
      return NULL;
    }
  objects = json_object_get_array_member (obj, "objects");
  for (guint i = 0; i < json_array_get_length (objects); i++)
    {
      JsonNode *onode = json_array_get_element (objects, i);
      JsonObject *o;
      JsonNode *bnode, *cnode;
      JsonArray *box;
      MirDetectTruthBox tb;
      double v[4];
      gint c;

      if (!JSON_NODE_HOLDS_OBJECT (onode))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("%s: object %u is not an object"),
                       path, i);
          return NULL;
        }
      o = json_node_get_object (onode);
      cnode = json_object_get_member (o, "class");
      c = class_from_node (cnode, class_names);
      if (c < 0)
        {
          g_autofree char *names = class_names ? g_strjoinv (", ", (char **) class_names)
                                               : g_strdup ("");
          if (cnode != NULL && JSON_NODE_HOLDS_VALUE (cnode)
              && json_node_get_value_type (cnode) == G_TYPE_STRING)
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("%s: object %u has the class “%s”, which the model does not have "
                           "(its classes: %s; or an index from 0)"),
                         path, i, json_node_get_string (cnode), names);
          else
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("%s: object %u has an unknown or missing “class” (classes: %s)"),
                         path, i, names);
          return NULL;
        }
      bnode = json_object_get_member (o, "box");
      if (bnode == NULL || !JSON_NODE_HOLDS_ARRAY (bnode)
          || json_array_get_length (box = json_node_get_array (bnode)) != 4)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("%s: object %u needs “box”: [x, y, width, height]"), path, i);
          return NULL;
        }
      for (guint k = 0; k < 4; k++)
        {
          JsonNode *e = json_array_get_element (box, k);
          GType t = JSON_NODE_HOLDS_VALUE (e) ? json_node_get_value_type (e) : G_TYPE_INVALID;

          if (t == G_TYPE_INT64)
            v[k] = (double) json_node_get_int (e);
          else if (t == G_TYPE_DOUBLE)
            v[k] = json_node_get_double (e);
          else
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("%s: object %u: box values must be numbers"), path, i);
              return NULL;
            }
        }
      if (!(v[2] > 0 && v[3] > 0) || !isfinite (v[0]) || !isfinite (v[1]))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("%s: object %u: box width and height must be positive"), path, i);
          return NULL;
        }
      tb.class_index = (guint) c;
      tb.x = v[0];
      tb.y = v[1];
      tb.width = v[2];
      tb.height = v[3];
      g_array_append_val (truth->boxes, tb);
    }
  return g_steal_pointer (&truth);
}

/* ------------------------------------------------------------------ */
/* Writing ground truth: the loader's format */

void
mir_detect_truth_json_add_header (JsonBuilder *b,
                                  const char  *image,
                                  int          width,
                                  int          height)
{
  json_builder_set_member_name (b, "image");
  json_builder_add_string_value (b, image != NULL ? image : "");
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, height);
}

/* A whole number as an integer (a scene's boxes, as they were written
 * before), anything else as a double. */
static void
add_coordinate (JsonBuilder *b, double v)
{
  if (v == floor (v) && fabs (v) < 1e15)
    json_builder_add_int_value (b, (gint64) v);
  else
    json_builder_add_double_value (b, v);
}

void
mir_detect_truth_json_begin_object (JsonBuilder *b,
                                    const char  *class_name,
                                    guint        class_index,
                                    double       x,
                                    double       y,
                                    double       width,
                                    double       height)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "class");
  if (class_name != NULL)
    json_builder_add_string_value (b, class_name);
  else
    json_builder_add_int_value (b, class_index);
  json_builder_set_member_name (b, "class_index");
  json_builder_add_int_value (b, class_index);
  json_builder_set_member_name (b, "box");
  json_builder_begin_array (b);
  add_coordinate (b, x);
  add_coordinate (b, y);
  add_coordinate (b, width);
  add_coordinate (b, height);
  json_builder_end_array (b);
}

char *
mir_detect_json_to_text (JsonBuilder *b)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}

char *
mir_detect_truth_to_json (const MirDetectTruth *truth,
                          const char *const    *class_names)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  guint n_names = class_names != NULL ? g_strv_length ((char **) class_names) : 0;

  g_return_val_if_fail (truth != NULL, NULL);

  json_builder_begin_object (b);
  mir_detect_truth_json_add_header (b, truth->image, truth->width, truth->height);
  json_builder_set_member_name (b, "objects");
  json_builder_begin_array (b);
  for (guint i = 0; i < truth->boxes->len; i++)
    {
      const MirDetectTruthBox *t = &g_array_index (truth->boxes, MirDetectTruthBox, i);

      mir_detect_truth_json_begin_object (b, t->class_index < n_names
                                             ? class_names[t->class_index] : NULL,
                                          t->class_index, t->x, t->y, t->width, t->height);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return mir_detect_json_to_text (b);
}

/* ------------------------------------------------------------------ */

static int
cmp_prob_desc (gconstpointer pa, gconstpointer pb)
{
  const MirDetectBox *a = *(const MirDetectBox *const *) pa;
  const MirDetectBox *b = *(const MirDetectBox *const *) pb;

  if (a->prob != b->prob)
    return a->prob > b->prob ? -1 : 1;
  return a->window < b->window ? -1 : a->window > b->window;
}

void
mir_detect_evaluate (const MirDetectResult   *result,
                     const MirDetectTruthBox *truth,
                     guint                    n_truth,
                     double                   iou,
                     MirDetectEval           *eval)
{
  guint K = result->n_classes;
  const guint n_det = result->boxes->len;
  g_autofree const MirDetectBox **order = g_new (const MirDetectBox *, MAX (n_det, 1));
  g_autofree gboolean *used = g_new0 (gboolean, MAX (n_truth, 1));

  for (guint t = 0; t < n_truth; t++)
    K = MAX (K, truth[t].class_index + 1);
  memset (eval, 0, sizeof *eval);
  eval->n_classes = K;
  eval->classes = g_new0 (MirDetectClassEval, MAX (K, 1));

  for (guint i = 0; i < n_det; i++)
    {
      order[i] = &g_array_index (result->boxes, MirDetectBox, i);
      eval->classes[order[i]->class_index].n_detected++;
    }
  for (guint t = 0; t < n_truth; t++)
    eval->classes[truth[t].class_index].n_truth++;
  qsort (order, n_det, sizeof *order, cmp_prob_desc);

  /* Greedy one-to-one matching, most probable detection first, each to the
   * unmatched same-class truth box it overlaps most (IoU >= @iou). */
  for (guint i = 0; i < n_det; i++)
    {
      const MirDetectBox *d = order[i];
      double best = -1;
      gint best_t = -1;

      for (guint t = 0; t < n_truth; t++)
        {
          double v;

          if (used[t] || truth[t].class_index != d->class_index)
            continue;
          v = mir_detect_iou (d->x, d->y, d->width, d->height,
                              truth[t].x, truth[t].y, truth[t].width, truth[t].height);
          if (v >= iou && v > best)
            {
              best = v;
              best_t = (gint) t;
            }
        }
      if (best_t >= 0)
        {
          used[best_t] = TRUE;
          eval->classes[d->class_index].true_positives++;
        }
    }

  for (guint c = 0; c < K; c++)
    {
      MirDetectClassEval *ce = &eval->classes[c];

      ce->count_error = (int) ce->n_detected - (int) ce->n_truth;
      eval->n_truth += ce->n_truth;
      eval->n_detected += ce->n_detected;
      eval->true_positives += ce->true_positives;
      eval->abs_count_error += (guint) ABS (ce->count_error);
    }
  eval->count_error = (int) eval->n_detected - (int) eval->n_truth;
  eval->precision = eval->n_detected ? (double) eval->true_positives / eval->n_detected : 1.0;
  eval->recall = eval->n_truth ? (double) eval->true_positives / eval->n_truth : 1.0;
  eval->f1 = eval->precision + eval->recall > 0
    ? 2 * eval->precision * eval->recall / (eval->precision + eval->recall) : 0.0;
}

void
mir_detect_eval_clear (MirDetectEval *eval)
{
  g_clear_pointer (&eval->classes, g_free);
  eval->n_classes = 0;
}
