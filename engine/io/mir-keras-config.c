/* mir-keras-config.c: a Keras model config (JSON) -> a MirModel graph.
 *
 * Handles Sequential (Keras 2.0's bare layer list too, explicit InputLayer or
 * `batch_input_shape` on the first layer) and Functional ("Model" in old
 * files), the Keras 2 `inbound_nodes` form `[[["name", node, tensor, {}]]]`
 * and the Keras 3 form `{"args": [{"class_name": "__keras_tensor__", ...}]}`.
 *
 * Nested models are flattened: their InputLayers disappear (bound to the
 * tensors the outer model feeds them) unless nothing feeds them, and their
 * nodes get the nested model path ("sequential_1/model1") as group.
 *
 * Node names: the first node of a layer takes the layer's name; later calls
 * of a shared layer are "<name>_1", "<name>_2", ... (Keras' own node
 * numbering).  A candidate already taken by another node or reserved as the
 * name of another layer anywhere in the config gets a further "_<n>" until
 * it is unique.  An implicit Sequential input is "<first layer>_input", as
 * Keras names it.
 */
#define G_LOG_DOMAIN "mir-keras"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-json.h"
#include "mir-keras-private.h"

#define MAX_MODEL_NESTING 64
#define MAX_DIM 65536

typedef struct
{
  MirModel *model;
  GHashTable *layers;      /* JsonObject* (layer entry) -> MirLayer* (owned ref) */
  GHashTable *call_counts; /* MirLayer* -> nodes made so far */
  GHashTable *reserved;    /* every layer name in the config (borrowed) */
  GHashTable *used;        /* node names taken (owned) */
  guint depth;
} Builder;

typedef struct
{
  const char *name;
  gint64 node;
  gint64 tensor;
} Ref;

gboolean
mir_keras_is_model_class (const char *class_name)
{
  return g_strcmp0 (class_name, "Sequential") == 0 ||
         g_strcmp0 (class_name, "Functional") == 0 ||
         g_strcmp0 (class_name, "Model") == 0;
}

static gboolean
malformed (GError **error, const char *detail)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("The model configuration is malformed: %s"), detail);
  return FALSE;
}

static const char *
entry_class (JsonObject *entry)
{
  return mir_config_get_string (entry, "class_name", NULL);
}

static JsonObject *
entry_config (JsonObject *entry)
{
  JsonNode *n;

  if (!json_object_has_member (entry, "config"))
    return NULL;
  n = json_object_get_member (entry, "config");
  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static const char *
entry_name (JsonObject *entry)
{
  const char *name = mir_config_get_string (entry, "name", NULL);

  if (name == NULL)
    name = mir_config_get_string (entry_config (entry), "name", NULL);
  return name;
}

static gboolean
entry_frozen (JsonObject *entry)
{
  JsonObject *cfg = entry_config (entry);
  JsonNode *n;

  if (cfg == NULL || !json_object_has_member (cfg, "trainable"))
    return FALSE;
  n = json_object_get_member (cfg, "trainable");
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN &&
         !json_node_get_boolean (n);
}

/* The layer list of a model entry: "config" itself (Keras 2.0 Sequential)
 * or "config"."layers". */
static JsonArray *
model_layers (JsonObject *entry, GError **error)
{
  JsonNode *cfg, *layers;
  const char *name = entry_name (entry);

  if (!json_object_has_member (entry, "config"))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The model configuration is malformed: model '%s' has no \"config\""),
                   name ? name : "?");
      return NULL;
    }
  cfg = json_object_get_member (entry, "config");
  if (JSON_NODE_HOLDS_ARRAY (cfg))
    return json_node_get_array (cfg);
  if (JSON_NODE_HOLDS_OBJECT (cfg) && json_object_has_member (json_node_get_object (cfg), "layers"))
    {
      layers = json_object_get_member (json_node_get_object (cfg), "layers");
      if (JSON_NODE_HOLDS_ARRAY (layers))
        return json_node_get_array (layers);
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("The model configuration is malformed: model '%s' has no list of layers"),
               name ? name : "?");
  return NULL;
}

static JsonObject *
layer_entry (JsonArray *layers, guint i, GError **error)
{
  JsonNode *n = json_array_get_element (layers, i);

  if (!JSON_NODE_HOLDS_OBJECT (n))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The model configuration is malformed: layer entry %u is not an object"), i);
      return NULL;
    }
  return json_node_get_object (n);
}

/* Counts layers over every nesting level (refusing absurd counts before
 * anything is built) and collects their names. */
static gboolean
survey (JsonObject *entry, guint depth, guint *count, GHashTable *names, GError **error)
{
  JsonArray *layers;

  if (depth > MAX_MODEL_NESTING)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Models are nested more than %d levels deep"), MAX_MODEL_NESTING);
      return FALSE;
    }
  if (!(layers = model_layers (entry, error)))
    return FALSE;
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *e = layer_entry (layers, i, error);
      const char *name;

      if (e == NULL)
        return FALSE;
      if (++*count > MIR_KERAS_MAX_LAYERS)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("The model has more than %d layers, more than Mirada accepts"),
                       MIR_KERAS_MAX_LAYERS);
          return FALSE;
        }
      if (entry_class (e) == NULL)
        return malformed (error, _("a layer has no \"class_name\""));
      name = entry_name (e);
      if (name == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The model configuration is malformed: a layer of type %s has no name"),
                       entry_class (e));
          return FALSE;
        }
      g_hash_table_add (names, (gpointer) name);
      if (mir_keras_is_model_class (entry_class (e)) &&
          !survey (e, depth + 1, count, names, error))
        return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Shapes */

static gboolean
parse_shape_array (JsonArray *a, gboolean add_batch, const char *layer, MirShape *shape,
                   GError **error)
{
  guint n = json_array_get_length (a);
  guint off = add_batch ? 1 : 0;

  if (n + off < 1 || n + off > MIR_MAX_DIMS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Input '%s' has rank %u; Mirada handles inputs of rank 2 to %d"),
                   layer, n + off, MIR_MAX_DIMS);
      return FALSE;
    }
  shape->ndim = n + off;
  shape->dim[0] = -1;
  for (guint i = 0; i < n; i++)
    {
      JsonNode *d = json_array_get_element (a, i);

      if (JSON_NODE_HOLDS_NULL (d))
        shape->dim[i + off] = -1;
      else if (JSON_NODE_HOLDS_VALUE (d) && json_node_get_value_type (d) == G_TYPE_INT64)
        {
          gint64 v = json_node_get_int (d);

          if (v < 1 || v > MAX_DIM)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("Input '%s' has a dimension of %" PRId64
                             ", outside 1..%d"),
                           layer, v, MAX_DIM);
              return FALSE;
            }
          shape->dim[i + off] = v;
        }
      else
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The input shape of layer '%s' is malformed: it must be a list of "
                         "numbers or nulls"),
                       layer);
          return FALSE;
        }
    }
  shape->dim[0] = -1;
  return TRUE;
}

/* The declared input shape of a layer config: batch_input_shape (Keras 2),
 * batch_shape (Keras 3), or input_shape (without batch). */
static gboolean
declared_shape (JsonObject *cfg, const char *layer, MirShape *shape, gboolean *found,
                GError **error)
{
  static const struct { const char *key; gboolean add_batch; } keys[] = {
    { "batch_input_shape", FALSE },
    { "batch_shape", FALSE },
    { "input_shape", TRUE },
  };

  *found = FALSE;
  if (cfg == NULL)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      JsonNode *n;

      if (!json_object_has_member (cfg, keys[i].key))
        continue;
      n = json_object_get_member (cfg, keys[i].key);
      if (JSON_NODE_HOLDS_NULL (n))
        continue;
      if (!JSON_NODE_HOLDS_ARRAY (n))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The input shape of layer '%s' is malformed: \"%s\" is not a list"),
                       layer, keys[i].key);
          return FALSE;
        }
      *found = TRUE;
      return parse_shape_array (json_node_get_array (n), keys[i].add_batch, layer, shape, error);
    }
  return TRUE;
}

static gboolean
check_bound_shape (MirModel *model, guint node, const char *input, const MirShape *want,
                   GError **error)
{
  const MirShape *have = &mir_model_get_node (model, node)->shape;
  gboolean ok = have->ndim == want->ndim;

  for (guint i = 1; ok && i < want->ndim; i++)
    ok = want->dim[i] < 0 || have->dim[i] < 0 || want->dim[i] == have->dim[i];
  if (!ok)
    {
      g_autofree char *a = mir_shape_to_string (have);
      g_autofree char *b = mir_shape_to_string (want);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Input '%s' of a nested model expects shape %s, but is given %s"),
                   input, b, a);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Nodes */

static char *
unique_name (Builder *b, const char *base, gboolean own)
{
  if (!g_hash_table_contains (b->used, base) &&
      (own || !g_hash_table_contains (b->reserved, base)))
    return g_strdup (base);
  for (guint n = 1;; n++)
    {
      g_autofree char *cand = g_strdup_printf ("%s_%u", base, n);
      if (!g_hash_table_contains (b->used, cand) && !g_hash_table_contains (b->reserved, cand))
        return g_steal_pointer (&cand);
    }
}

static gint
add_input (Builder *b, const char *base, gboolean own, const MirShape *shape, GError **error)
{
  g_autofree char *name = unique_name (b, base, own);
  gint idx = mir_model_add_input (b->model, name, shape, error);

  if (idx >= 0)
    g_hash_table_add (b->used, g_steal_pointer (&name));
  return idx;
}

static MirLayer *
get_layer (Builder *b, JsonObject *entry, gboolean frozen, GError **error)
{
  MirLayer *layer = g_hash_table_lookup (b->layers, entry);
  const char *klass = entry_class (entry);
  const char *name = entry_name (entry);

  if (layer != NULL)
    return layer;
  if (g_strcmp0 (klass, "TFOpLambda") == 0 || g_strcmp0 (klass, "SlicingOpLambda") == 0)
    {
      const char *fn = mir_config_get_string (entry_config (entry), "function", "?");
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Layer '%s' is the TensorFlow operation %s recorded by tf.keras (%s), "
                     "not a Keras layer; Mirada cannot run it. Rebuild the model with Keras "
                     "layers (for example Rescaling instead of tf.math.truediv)"),
                   name, fn, klass);
      return NULL;
    }
  layer = mir_layer_new_by_name (klass, name, entry_config (entry), error);
  if (layer == NULL)
    return NULL;
  if (frozen)
    layer->trainable = FALSE;
  g_hash_table_insert (b->layers, entry, layer);
  return layer;
}

static gint
add_leaf (Builder *b, JsonObject *entry, const guint *in, guint n_in, const char *group,
          gboolean frozen, GError **error)
{
  MirLayer *layer = get_layer (b, entry, frozen, error);
  g_autofree char *base = NULL;
  g_autofree char *name = NULL;
  guint k;
  gint idx;

  if (layer == NULL)
    return -1;
  k = GPOINTER_TO_UINT (g_hash_table_lookup (b->call_counts, layer));
  base = k == 0 ? g_strdup (layer->name) : g_strdup_printf ("%s_%u", layer->name, k);
  name = unique_name (b, base, k == 0);
  idx = mir_model_add_node (b->model, name, layer, in, n_in, group, error);
  if (idx < 0)
    return -1;
  g_hash_table_insert (b->call_counts, layer, GUINT_TO_POINTER (k + 1));
  g_hash_table_add (b->used, g_steal_pointer (&name));
  return idx;
}

static gboolean build_model (Builder *b, JsonObject *entry, const char *group, gboolean frozen,
                             const guint *bound, guint n_bound, GArray *outs, GError **error);

static char *
child_group (const char *group, const char *name)
{
  return group ? g_strdup_printf ("%s/%s", group, name) : g_strdup (name);
}

/* ------------------------------------------------------------------ */
/* Sequential */

static gboolean
build_sequential (Builder *b, JsonObject *entry, const char *group, gboolean frozen,
                  const guint *bound, guint n_bound, GArray *outs, GError **error)
{
  const char *model_name = entry_name (entry);
  JsonArray *layers = model_layers (entry, error);
  gint cur = -1;

  if (layers == NULL)
    return FALSE;
  if (model_name == NULL)
    model_name = "sequential";
  if (n_bound > 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Sequential model '%s' is given %u inputs; it takes one"),
                   model_name, n_bound);
      return FALSE;
    }
  if (n_bound == 1)
    cur = (gint) bound[0];

  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *e = layer_entry (layers, i, error);
      const char *klass, *name;
      MirShape shape;
      gboolean found;

      if (e == NULL)
        return FALSE;
      klass = entry_class (e);
      name = entry_name (e);

      if (g_strcmp0 (klass, "InputLayer") == 0)
        {
          if (!declared_shape (entry_config (e), name, &shape, &found, error))
            return FALSE;
          if (cur >= 0)
            {
              if (found && !check_bound_shape (b->model, (guint) cur, name, &shape, error))
                return FALSE;
              continue;
            }
          if (!found)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("Input layer '%s' does not declare its shape"), name);
              return FALSE;
            }
          if ((cur = add_input (b, name, TRUE, &shape, error)) < 0)
            return FALSE;
          continue;
        }

      if (cur < 0 && !mir_keras_is_model_class (klass))
        {
          g_autofree char *input_name = NULL;
          JsonObject *mcfg = entry_config (entry);

          if (!declared_shape (entry_config (e), name, &shape, &found, error))
            return FALSE;
          if (!found && i == 0 && mcfg != NULL && json_object_has_member (mcfg, "build_input_shape"))
            {
              JsonNode *n = json_object_get_member (mcfg, "build_input_shape");
              if (JSON_NODE_HOLDS_ARRAY (n))
                {
                  if (!parse_shape_array (json_node_get_array (n), FALSE, name, &shape, error))
                    return FALSE;
                  found = TRUE;
                }
            }
          if (!found)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("Sequential model '%s' does not declare the shape of its input "
                             "(its first layer '%s' has no batch_input_shape)"),
                           model_name, name);
              return FALSE;
            }
          input_name = g_strdup_printf ("%s_input", name);
          if ((cur = add_input (b, input_name, FALSE, &shape, error)) < 0)
            return FALSE;
        }

      if (mir_keras_is_model_class (klass))
        {
          g_autoptr(GArray) child_outs = g_array_new (FALSE, FALSE, sizeof (guint));
          g_autofree char *path = child_group (group, name);
          guint in = cur >= 0 ? (guint) cur : 0;

          if (!build_model (b, e, path, frozen || entry_frozen (e), &in, cur >= 0 ? 1 : 0,
                            child_outs, error))
            return FALSE;
          if (child_outs->len != 1)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                           _("Nested model '%s' has %u outputs; inside the Sequential model "
                             "'%s' it must have one"),
                           name, child_outs->len, model_name);
              return FALSE;
            }
          cur = (gint) g_array_index (child_outs, guint, 0);
        }
      else
        {
          guint in = (guint) cur;
          if ((cur = add_leaf (b, e, &in, 1, group, frozen, error)) < 0)
            return FALSE;
        }
    }
  if (cur < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Sequential model '%s' has no layers"), model_name);
      return FALSE;
    }
  {
    guint out = (guint) cur;
    g_array_append_val (outs, out);
  }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Functional */

typedef struct
{
  JsonObject *obj;
  const char *name;
  const char *klass;
  guint n_calls;
  GArray **calls_refs; /* per call: Ref */
  GArray **calls_out;  /* per call: guint node indices; NULL until made */
  gboolean *visiting;  /* per call: on the stack of build_functional */
} Entry;

typedef struct
{
  guint i, k; /* entry, call */
} Call;

static void
entry_clear (Entry *e)
{
  for (guint k = 0; k < e->n_calls; k++)
    {
      if (e->calls_refs && e->calls_refs[k])
        g_array_unref (e->calls_refs[k]);
      if (e->calls_out && e->calls_out[k])
        g_array_unref (e->calls_out[k]);
    }
  g_free (e->calls_refs);
  g_free (e->calls_out);
  g_free (e->visiting);
}

static gboolean
bad_ref (const char *layer, GError **error)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("The model configuration is malformed: an input reference of layer '%s' is "
                 "not [name, node index, tensor index]"),
               layer);
  return FALSE;
}

static gboolean
parse_ref_array (JsonArray *a, const char *layer, Ref *ref, GError **error)
{
  JsonNode *n0, *n1, *n2;

  if (json_array_get_length (a) < 3)
    goto bad;
  n0 = json_array_get_element (a, 0);
  n1 = json_array_get_element (a, 1);
  n2 = json_array_get_element (a, 2);
  if (!JSON_NODE_HOLDS_VALUE (n0) || json_node_get_value_type (n0) != G_TYPE_STRING ||
      !JSON_NODE_HOLDS_VALUE (n1) || json_node_get_value_type (n1) != G_TYPE_INT64 ||
      !JSON_NODE_HOLDS_VALUE (n2) || json_node_get_value_type (n2) != G_TYPE_INT64)
    goto bad;
  ref->name = json_node_get_string (n0);
  ref->node = json_node_get_int (n1);
  ref->tensor = json_node_get_int (n2);
  if (ref->node < 0 || ref->tensor < 0 || ref->node > MIR_KERAS_MAX_LAYERS ||
      ref->tensor > MIR_KERAS_MAX_LAYERS)
    goto bad;
  return TRUE;

bad:
  return bad_ref (layer, error);
}

/* Keras 3: collects the keras_history of every __keras_tensor__ in @node. */
static gboolean
collect_keras_tensors (JsonNode *node, const char *layer, GArray *refs, guint depth,
                       GError **error)
{
  if (depth > 16)
    return malformed (error, _("inbound node arguments are nested too deeply"));
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (a); i++)
        if (!collect_keras_tensors (json_array_get_element (a, i), layer, refs, depth + 1, error))
          return FALSE;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);
      JsonObject *cfg;
      JsonNode *hist;
      Ref ref;

      if (g_strcmp0 (entry_class (o), "__keras_tensor__") != 0)
        return TRUE;
      cfg = entry_config (o);
      if (cfg == NULL || !json_object_has_member (cfg, "keras_history") ||
          !JSON_NODE_HOLDS_ARRAY ((hist = json_object_get_member (cfg, "keras_history"))))
        return bad_ref (layer, error);
      if (!parse_ref_array (json_node_get_array (hist), layer, &ref, error))
        return FALSE;
      g_array_append_val (refs, ref);
    }
  return TRUE;
}

/* One inbound node (one call) of @layer, Keras 2 list or Keras 3 object form. */
static GArray *
parse_call (JsonNode *node, const char *layer, GError **error)
{
  g_autoptr(GArray) refs = g_array_new (FALSE, FALSE, sizeof (Ref));

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *o = json_node_get_object (node);
      if (!json_object_has_member (o, "args"))
        {
          malformed (error, _("an inbound node has no \"args\""));
          return NULL;
        }
      if (!collect_keras_tensors (json_object_get_member (o, "args"), layer, refs, 0, error))
        return NULL;
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *a = json_node_get_array (node);
      JsonNode *first = json_array_get_length (a) ? json_array_get_element (a, 0) : NULL;

      if (first != NULL && JSON_NODE_HOLDS_VALUE (first))
        {
          /* A single reference not wrapped in a list. */
          Ref ref;
          if (!parse_ref_array (a, layer, &ref, error))
            return NULL;
          g_array_append_val (refs, ref);
        }
      else
        for (guint i = 0; i < json_array_get_length (a); i++)
          {
            JsonNode *t = json_array_get_element (a, i);
            Ref ref;

            if (!JSON_NODE_HOLDS_ARRAY (t))
              {
                bad_ref (layer, error);
                return NULL;
              }
            if (!parse_ref_array (json_node_get_array (t), layer, &ref, error))
              return NULL;
            g_array_append_val (refs, ref);
          }
    }
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The model configuration is malformed: an inbound node of layer '%s' is "
                     "neither a list nor an object"),
                   layer);
      return NULL;
    }
  if (refs->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' is called without inputs in the model configuration"), layer);
      return NULL;
    }
  return g_steal_pointer (&refs);
}

/* input_layers / output_layers: [[name, n, t], ...] or one [name, n, t]. */
static GArray *
parse_io_refs (JsonObject *cfg, const char *key, const char *model_name, GError **error)
{
  g_autoptr(GArray) refs = g_array_new (FALSE, FALSE, sizeof (Ref));
  JsonNode *n;
  JsonArray *a;

  if (cfg == NULL || !json_object_has_member (cfg, key) ||
      !JSON_NODE_HOLDS_ARRAY ((n = json_object_get_member (cfg, key))))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The model configuration is malformed: model '%s' has no \"%s\" list"),
                   model_name, key);
      return NULL;
    }
  a = json_node_get_array (n);
  if (json_array_get_length (a) > 0 && JSON_NODE_HOLDS_VALUE (json_array_get_element (a, 0)))
    {
      Ref ref;
      if (!parse_ref_array (a, model_name, &ref, error))
        return NULL;
      g_array_append_val (refs, ref);
      return g_steal_pointer (&refs);
    }
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *t = json_array_get_element (a, i);
      Ref ref;

      if (!JSON_NODE_HOLDS_ARRAY (t))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Model '%s' lists its %s in a form Mirada does not read (a "
                         "dictionary or nested structure)"),
                       model_name, key);
          return NULL;
        }
      if (!parse_ref_array (json_node_get_array (t), model_name, &ref, error))
        return NULL;
      g_array_append_val (refs, ref);
    }
  return g_steal_pointer (&refs);
}

/* Resolves @ref to a node index: 1 done, 0 not made yet, -1 error. */
static int
resolve (Entry *entries, GHashTable *by_name, const Ref *ref, const char *user, guint *out,
         GError **error)
{
  gpointer p;
  Entry *t;
  GArray *o;

  if (!g_hash_table_lookup_extended (by_name, ref->name, NULL, &p))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' takes its input from '%s', which is not in the model"),
                   user, ref->name);
      return -1;
    }
  t = &entries[GPOINTER_TO_UINT (p)];
  if (ref->node >= t->n_calls)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' takes its input from call %" PRId64 " of layer '%s', "
                     "which does not exist (calls made: %u)"),
                   user, ref->node, ref->name, t->n_calls);
      return -1;
    }
  o = t->calls_out[ref->node];
  if (o == NULL)
    return 0;
  if (ref->tensor >= o->len)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Layer '%s' takes output %" PRId64 " of layer '%s', which has "
                     "only %u"),
                   user, ref->tensor, ref->name, o->len);
      return -1;
    }
  *out = g_array_index (o, guint, ref->tensor);
  return 1;
}

static gboolean
build_functional (Builder *b, JsonObject *entry, const char *group, gboolean frozen,
                  const guint *bound, guint n_bound, GArray *outs, GError **error)
{
  const char *model_name = entry_name (entry);
  JsonObject *cfg = entry_config (entry);
  JsonArray *layers = model_layers (entry, error);
  g_autoptr(GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) in_refs = NULL;
  g_autoptr(GArray) out_refs = NULL;
  Entry *entries = NULL;
  g_autoptr(GArray) stack = g_array_new (FALSE, FALSE, sizeof (Call));
  guint n = 0;
  gboolean ok = FALSE;

  if (layers == NULL)
    return FALSE;
  if (model_name == NULL)
    model_name = "model";
  if (!(in_refs = parse_io_refs (cfg, "input_layers", model_name, error)) ||
      !(out_refs = parse_io_refs (cfg, "output_layers", model_name, error)))
    return FALSE;
  if (n_bound > 0 && n_bound != in_refs->len)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Nested model '%s' has %u inputs but is called with %u"),
                   model_name, in_refs->len, n_bound);
      return FALSE;
    }

  n = json_array_get_length (layers);
  entries = g_new0 (Entry, n);
  for (guint i = 0; i < n; i++)
    {
      Entry *e = &entries[i];
      JsonNode *inbound;

      if (!(e->obj = layer_entry (layers, i, error)))
        goto out;
      e->name = entry_name (e->obj);
      e->klass = entry_class (e->obj);
      if (g_hash_table_contains (by_name, e->name))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("Model '%s' has two layers named '%s'"), model_name, e->name);
          goto out;
        }
      g_hash_table_insert (by_name, (gpointer) e->name, GUINT_TO_POINTER (i));
      if (g_strcmp0 (e->klass, "InputLayer") == 0)
        {
          e->n_calls = 1;
          e->calls_out = g_new0 (GArray *, 1);
          e->visiting = g_new0 (gboolean, 1);
          continue;
        }
      inbound = json_object_has_member (e->obj, "inbound_nodes")
                  ? json_object_get_member (e->obj, "inbound_nodes") : NULL;
      if (inbound == NULL || JSON_NODE_HOLDS_NULL (inbound))
        continue; /* a layer the model does not use */
      if (!JSON_NODE_HOLDS_ARRAY (inbound))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The model configuration is malformed: \"inbound_nodes\" of layer "
                         "'%s' is not a list"),
                       e->name);
          goto out;
        }
      e->n_calls = json_array_get_length (json_node_get_array (inbound));
      e->calls_refs = g_new0 (GArray *, e->n_calls);
      e->calls_out = g_new0 (GArray *, e->n_calls);
      for (guint k = 0; k < e->n_calls; k++)
        {
          e->calls_refs[k] = parse_call (json_array_get_element (json_node_get_array (inbound), k),
                                         e->name, error);
          if (e->calls_refs[k] == NULL)
            goto out;
        }
      e->visiting = g_new0 (gboolean, e->n_calls);
    }

  /* Inputs, in input_layers order. */
  for (guint j = 0; j < in_refs->len; j++)
    {
      Ref *r = &g_array_index (in_refs, Ref, j);
      gpointer p;
      Entry *e;
      MirShape shape;
      gboolean found;
      gint idx;

      if (!g_hash_table_lookup_extended (by_name, r->name, NULL, &p) ||
          g_strcmp0 (entries[GPOINTER_TO_UINT (p)].klass, "InputLayer") != 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Model '%s' names '%s' as an input, which is not one of its input "
                         "layers"),
                       model_name, r->name);
          goto out;
        }
      e = &entries[GPOINTER_TO_UINT (p)];
      if (e->calls_out[0] != NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("Model '%s' lists its input '%s' twice"), model_name, r->name);
          goto out;
        }
      if (!declared_shape (entry_config (e->obj), e->name, &shape, &found, error))
        goto out;
      if (n_bound > 0)
        {
          if (found && !check_bound_shape (b->model, bound[j], e->name, &shape, error))
            goto out;
          idx = (gint) bound[j];
        }
      else
        {
          if (!found)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("Input layer '%s' does not declare its shape"), e->name);
              goto out;
            }
          if ((idx = add_input (b, e->name, TRUE, &shape, error)) < 0)
            goto out;
        }
      e->calls_out[0] = g_array_new (FALSE, FALSE, sizeof (guint));
      g_array_append_val (e->calls_out[0], idx);
    }

  /* Layers in dependency order, depth first with an explicit stack: a call
   * whose input is not made yet puts that input's call on top.  Every call
   * is tried a bounded number of times, so a config listed in any order
   * loads in time linear in its size (sweeping the list until nothing
   * changed was quadratic for a list in reverse order). */
  for (guint i0 = 0; i0 < n; i0++)
    for (guint k0 = 0; entries[i0].calls_refs != NULL && k0 < entries[i0].n_calls; k0++)
      {
        Call c0 = { i0, k0 };

        if (entries[i0].calls_out[k0] != NULL)
          continue;
        g_array_set_size (stack, 0);
        g_array_append_val (stack, c0);
        entries[i0].visiting[k0] = TRUE;
        while (stack->len > 0)
          {
            Call c = g_array_index (stack, Call, stack->len - 1);
            Entry *e = &entries[c.i];
            GArray *refs = e->calls_refs[c.k];
            g_autofree guint *in = g_new (guint, MAX (refs->len, 1));
            const Ref *blocked = NULL;
            GArray *o;

            for (guint r = 0; blocked == NULL && r < refs->len; r++)
              {
                int st = resolve (entries, by_name, &g_array_index (refs, Ref, r), e->name,
                                  &in[r], error);
                if (st < 0)
                  goto out;
                if (st == 0)
                  blocked = &g_array_index (refs, Ref, r);
              }
            if (blocked != NULL)
              {
                /* resolve() checked that the layer and its call exist */
                guint ti = GPOINTER_TO_UINT (g_hash_table_lookup (by_name, blocked->name));
                Entry *t = &entries[ti];
                Call dep = { ti, (guint) blocked->node };

                /* named: the first layer in list order that cannot be made,
                 * as a user reads the config */
                if (t->calls_refs == NULL || t->visiting[dep.k])
                  {
                    g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                                 _("The inputs of layer '%s' can never be computed: its "
                                   "connections in model '%s' form a cycle or start from a "
                                   "layer that is not an input"),
                                 entries[i0].name, model_name);
                    goto out;
                  }
                t->visiting[dep.k] = TRUE;
                g_array_append_val (stack, dep);
                continue;
              }

            o = g_array_new (FALSE, FALSE, sizeof (guint));
            e->calls_out[c.k] = o;
            if (mir_keras_is_model_class (e->klass))
              {
                g_autofree char *path = child_group (group, e->name);
                if (!build_model (b, e->obj, path, frozen || entry_frozen (e->obj), in,
                                  refs->len, o, error))
                  goto out;
              }
            else
              {
                gint idx = add_leaf (b, e->obj, in, refs->len, group, frozen, error);
                if (idx < 0)
                  goto out;
                g_array_append_val (o, idx);
              }
            e->visiting[c.k] = FALSE;
            g_array_set_size (stack, stack->len - 1);
          }
      }

  for (guint j = 0; j < out_refs->len; j++)
    {
      guint idx;
      int st = resolve (entries, by_name, &g_array_index (out_refs, Ref, j), model_name, &idx,
                        error);
      if (st < 0)
        goto out;
      if (st == 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("Model '%s' names '%s' as an output, but it is never computed"),
                       model_name, g_array_index (out_refs, Ref, j).name);
          goto out;
        }
      g_array_append_val (outs, idx);
    }
  ok = TRUE;

out:
  for (guint i = 0; i < n; i++)
    entry_clear (&entries[i]);
  g_free (entries);
  return ok;
}

static gboolean
build_model (Builder *b, JsonObject *entry, const char *group, gboolean frozen,
             const guint *bound, guint n_bound, GArray *outs, GError **error)
{
  const char *klass = entry_class (entry);
  gboolean ok;

  if (++b->depth > MAX_MODEL_NESTING)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Models are nested more than %d levels deep"), MAX_MODEL_NESTING);
      return FALSE;
    }
  if (g_strcmp0 (klass, "Sequential") == 0)
    ok = build_sequential (b, entry, group, frozen, bound, n_bound, outs, error);
  else
    ok = build_functional (b, entry, group, frozen, bound, n_bound, outs, error);
  b->depth--;
  return ok;
}

/* ------------------------------------------------------------------ */

static MirModel *
model_from_node (JsonNode *root, GError **error)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GHashTable) reserved = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) layers = NULL;
  g_autoptr(GHashTable) call_counts = NULL;
  g_autoptr(GHashTable) used = NULL;
  g_autoptr(GArray) outs = g_array_new (FALSE, FALSE, sizeof (guint));
  JsonObject *top;
  const char *klass, *name;
  guint count = 0;
  Builder b = { 0 };

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      malformed (error, _("it is not a JSON object"));
      return NULL;
    }
  top = json_node_get_object (root);
  klass = entry_class (top);
  if (!mir_keras_is_model_class (klass))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The configuration describes a %s, not a Sequential or Functional model"),
                   klass ? klass : _("thing without \"class_name\""));
      return NULL;
    }
  if (!survey (top, 0, &count, reserved, error))
    return NULL;

  name = entry_name (top);
  if (name == NULL)
    name = g_strcmp0 (klass, "Sequential") == 0 ? "sequential" : "model";
  model = mir_model_new (name);
  layers = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) mir_layer_unref);
  call_counts = g_hash_table_new (NULL, NULL);
  used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b.model = model;
  b.layers = layers;
  b.call_counts = call_counts;
  b.reserved = reserved;
  b.used = used;

  if (!build_model (&b, top, NULL, entry_frozen (top), NULL, 0, outs, error))
    return NULL;
  if (model->inputs->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("The model has no inputs"));
      return NULL;
    }
  if (!mir_model_set_outputs (model, &g_array_index (outs, guint, 0), outs->len, error))
    return NULL;
  return g_steal_pointer (&model);
}

/* Refuses models whose weights would not fit in memory, before any weight
 * is allocated or read (each tensor alone is also limited, mir-tensor.h). */
static gboolean
check_param_count (MirModel *model, GError **error)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  gint64 total = 0;

  for (guint i = 0; i < layers->len; i++)
    {
      MirLayer *layer = layers->pdata[i];

      for (guint j = 0; j < layer->n_weights; j++)
        {
          gint64 n = mir_shape_numel (layer->weights[j].shape.ndim, layer->weights[j].shape.dim);

          if (n < 0 || n > MIR_KERAS_MAX_PARAMS - total)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("The model declares more parameters than Mirada accepts (at most %"
                             PRId64 ", %" PRId64 " GiB of float32 weights; "
                             "exceeded at layer '%s')"),
                           MIR_KERAS_MAX_PARAMS, MIR_KERAS_MAX_PARAMS * 4 >> 30, layer->name);
              return FALSE;
            }
          total += n;
        }
    }
  return TRUE;
}

MirModel *
mir_keras_model_from_config (const char *json, gssize length, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  gsize len;

  g_return_val_if_fail (json != NULL, NULL);

  len = length < 0 ? strlen (json) : (gsize) length;
  /* json-glib parses recursively: the nesting is bounded first. */
  parser = mir_json_parse (json, len, MIR_KERAS_MAX_JSON_DEPTH, _("The model configuration"),
                           error);
  if (parser == NULL)
    return NULL;
  if (json_parser_get_root (parser) == NULL)
    {
      malformed (error, _("it is empty"));
      return NULL;
    }
  model = model_from_node (json_parser_get_root (parser), error);
  if (model != NULL && !check_param_count (model, error))
    return NULL;
  return g_steal_pointer (&model);
}

void
mir_keras_model_set_version (MirModel *model,
                             gboolean  keras3)
{
  g_return_if_fail (model != NULL);

  for (guint i = 0; keras3 && i < mir_model_get_n_nodes (model); i++)
    {
      MirLayer *layer = mir_model_get_node (model, i)->layer;

      if (layer != NULL && layer->activation == MIR_ACT_HARD_SIGMOID)
        layer->activation = MIR_ACT_HARD_SIGMOID_K3;
    }
}
