#define G_LOG_DOMAIN "mir-fold"

#include <string.h>

#include "mir-fold.h"
#include "layers/mir-layers.h"

/* The versions of every weight of the convolution, then of the
 * BatchNormalization (mir_tensor_get_version), that a folded layer was made from. */
typedef struct
{
  guint n;
  guint64 v[2 * MIR_MAX_WEIGHTS];
} Versions;

typedef struct
{
  MirLayer *conv, *bn;     /* not referenced: the model owns them */
  MirActivation act;
  Versions versions;
  MirLayer *folded;
} FoldEntry;

struct _MirFoldCache
{
  GMutex lock;
  GPtrArray *entries;
};

static void
entry_free (gpointer data)
{
  FoldEntry *e = data;

  g_clear_pointer (&e->folded, mir_layer_unref);
  g_free (e);
}

MirFoldCache *
mir_fold_cache_new (void)
{
  MirFoldCache *cache = g_new0 (MirFoldCache, 1);

  g_mutex_init (&cache->lock);
  cache->entries = g_ptr_array_new_with_free_func (entry_free);
  return cache;
}

void
mir_fold_cache_free (MirFoldCache *cache)
{
  if (cache == NULL)
    return;
  g_ptr_array_unref (cache->entries);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

gboolean
mir_fold_applies (MirLayer *conv, MirLayer *bn, MirActivation act)
{
  gint64 channels;

  if (conv->klass != &mir_layer_conv2d_class &&
      conv->klass != &mir_layer_depthwise_conv2d_class)
    return FALSE;
  if (bn->klass != &mir_layer_batch_normalization_class || !conv->built || !bn->built ||
      conv->config == NULL || conv->activation != MIR_ACT_LINEAR ||
      conv->n_weights < 1 || bn->n_weights < 2)
    return FALSE;
  if (act == MIR_ACT_SOFTMAX || act >= MIR_ACT_N)
    return FALSE;
  channels = conv->out_shape.dim[conv->out_shape.ndim - 1];
  return conv->out_shape.ndim == 4 && channels > 0 &&
         bn->in_shape.dim[bn->in_shape.ndim - 1] == channels;
}

static void
get_versions (MirLayer *conv, MirLayer *bn, Versions *out)
{
  out->n = 0;
  for (guint i = 0; i < conv->n_weights; i++)
    out->v[out->n++] = mir_tensor_get_version (conv->weights[i].value);
  for (guint i = 0; i < bn->n_weights; i++)
    out->v[out->n++] = mir_tensor_get_version (bn->weights[i].value);
}

static MirLayer *
build_folded (MirLayer *conv, MirLayer *bn, MirActivation act)
{
  g_autoptr(JsonObject) config = json_object_new ();
  g_autoptr(MirLayer) folded = NULL;
  g_autoptr(MirTensor) kernel = NULL;
  g_autoptr(MirTensor) bias = NULL;
  g_autofree double *a = NULL;
  g_autofree double *b = NULL;
  const MirTensor *k = conv->weights[0].value;
  const float *cb = conv->n_weights > 1 ? conv->weights[1].value->data : NULL;
  gint64 nb = conv->out_shape.dim[3];
  MirShape out;
  GList *members;

  members = json_object_get_members (conv->config);
  for (GList *l = members; l != NULL; l = l->next)
    json_object_set_member (config, l->data,
                            json_node_copy (json_object_get_member (conv->config, l->data)));
  g_list_free (members);
  json_object_set_boolean_member (config, "use_bias", TRUE);
  json_object_set_string_member (config, "activation", mir_activation_get_name (act));

  folded = mir_layer_new (conv->klass, conv->name, config, NULL);
  if (folded == NULL || !mir_layer_build (folded, &conv->in_shape, 1, &out, NULL) ||
      folded->n_weights != 2 || !mir_shape_equal (&out, &conv->out_shape) ||
      folded->weights[0].value != NULL)
    return NULL;
  /* The output channel is the fastest axis of both kernels: [kh, kw, c, f]
   * and the depthwise [kh, kw, c, mult] (channel c * mult + m). */
  if (k->numel % (gsize) nb != 0 || folded->weights[1].shape.dim[0] != nb)
    return NULL;
  a = g_new (double, nb);
  b = g_new (double, nb);
  mir_batch_norm_inference_affine (bn, a, b);
  kernel = mir_tensor_dup (k, NULL);
  bias = mir_tensor_new (1, &nb, NULL);
  if (kernel == NULL || bias == NULL)
    return NULL;
  for (gsize r = 0; r < k->numel / (gsize) nb; r++)
    for (gint64 o = 0; o < nb; o++)
      kernel->data[r * (gsize) nb + (gsize) o] =
        (float) (k->data[r * (gsize) nb + (gsize) o] * a[o]);
  for (gint64 o = 0; o < nb; o++)
    bias->data[o] = (float) ((cb ? cb[o] : 0.0) * a[o] + b[o]);
  if (!mir_layer_set_weight (folded, 0, kernel, NULL) ||
      !mir_layer_set_weight (folded, 1, bias, NULL))
    return NULL;
  return g_steal_pointer (&folded);
}

MirLayer *
mir_fold_cache_get (MirFoldCache *cache, MirLayer *conv, MirLayer *bn, MirActivation act)
{
  Versions versions;
  FoldEntry *e = NULL;
  MirLayer *result = NULL;

  if (!mir_fold_applies (conv, bn, act))
    return NULL;
  get_versions (conv, bn, &versions);

  g_mutex_lock (&cache->lock);
  for (guint i = 0; i < cache->entries->len; i++)
    {
      FoldEntry *c = cache->entries->pdata[i];
      if (c->conv == conv && c->bn == bn && c->act == act)
        {
          e = c;
          break;
        }
    }
  if (e != NULL && (e->versions.n != versions.n ||
                    memcmp (e->versions.v, versions.v, versions.n * sizeof (guint64)) != 0))
    {
      g_ptr_array_remove (cache->entries, e);
      e = NULL;
    }
  if (e == NULL)
    {
      MirLayer *folded = build_folded (conv, bn, act);

      if (folded != NULL)
        {
          e = g_new0 (FoldEntry, 1);
          e->conv = conv;
          e->bn = bn;
          e->act = act;
          e->versions = versions;
          e->folded = folded;
          g_ptr_array_add (cache->entries, e);
        }
    }
  if (e != NULL)
    result = mir_layer_ref (e->folded);
  g_mutex_unlock (&cache->lock);
  return result;
}

guint
mir_fold_cache_size (MirFoldCache *cache)
{
  guint n;

  g_mutex_lock (&cache->lock);
  n = cache->entries->len;
  g_mutex_unlock (&cache->lock);
  return n;
}
