/* mir-filter-cache.c: see the header.  On-disk entry: "MIRPAT1\n", then
 * width, height, channels (guint32 LE), loss_start, loss_end (float64 LE),
 * then width·height·channels bytes. */
#define G_LOG_DOMAIN "mir-filter-cache"

#include <string.h>
#include <glib/gstdio.h>

#include "mir-file.h"
#include "mir-filter-cache.h"

#define MAGIC "MIRPAT1\n"
#define HEADER (8 + 3 * 4 + 2 * 8)

typedef struct
{
  char *key;
  MirImage *image;
  double loss_start, loss_end;
} Entry;

struct _MirFilterCache
{
  gatomicrefcount ref_count;
  GMutex lock;
  guint capacity;
  char *dir;
  GQueue lru;          /* Entry*, most recent first */
  GHashTable *by_key;  /* key → GList* link in lru */
};

static void
entry_free (Entry *e)
{
  g_free (e->key);
  mir_image_unref (e->image);
  g_free (e);
}

typedef struct
{
  char *path;
  guint64 mtime;
} DiskEntry;

static int
by_mtime_desc (gconstpointer a, gconstpointer b)
{
  const DiskEntry *x = a, *y = b;
  return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : 0;
}

/* Keeps the @keep most recently written entries of @dir. */
static void
prune_disk (const char *dir, guint keep)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GArray) entries = g_array_new (FALSE, FALSE, sizeof (DiskEntry));
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)))
    {
      DiskEntry e;
      GStatBuf st;

      if (!g_str_has_suffix (name, ".pat"))
        continue;
      e.path = g_build_filename (dir, name, NULL);
      e.mtime = g_stat (e.path, &st) == 0 ? (guint64) st.st_mtime : 0;
      g_array_append_val (entries, e);
    }
  g_array_sort (entries, by_mtime_desc);
  for (guint i = 0; i < entries->len; i++)
    {
      DiskEntry *e = &g_array_index (entries, DiskEntry, i);
      if (i >= keep)
        g_unlink (e->path);
      g_free (e->path);
    }
}

/* The directory keeps at most 16 times @capacity entries (the oldest go
 * when the cache is opened). */
MirFilterCache *
mir_filter_cache_new (guint capacity, const char *disk_dir)
{
  MirFilterCache *self = g_new0 (MirFilterCache, 1);

  g_atomic_ref_count_init (&self->ref_count);
  g_mutex_init (&self->lock);
  self->capacity = MAX (capacity, 1);
  self->dir = g_strdup (disk_dir);
  if (disk_dir)
    prune_disk (disk_dir, 16 * self->capacity);
  g_queue_init (&self->lru);
  self->by_key = g_hash_table_new (g_str_hash, g_str_equal);
  return self;
}

MirFilterCache *
mir_filter_cache_ref (MirFilterCache *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
mir_filter_cache_unref (MirFilterCache *self)
{
  if (self == NULL || !g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_hash_table_destroy (self->by_key);
  g_queue_clear_full (&self->lru, (GDestroyNotify) entry_free);
  g_mutex_clear (&self->lock);
  g_free (self->dir);
  g_free (self);
}

char *
mir_filter_cache_default_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "mirada", "patterns", NULL);
}

MirFilterCache *
mir_filter_cache_get_default (void)
{
  static gsize cache;

  if (g_once_init_enter (&cache))
    {
      g_autofree char *dir = mir_filter_cache_default_dir ();
      g_once_init_leave (&cache, (gsize) mir_filter_cache_new (1024, dir));
    }
  return (MirFilterCache *) cache;
}

char *
mir_filter_cache_model_id (MirModel *model)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  gint32 pre = (gint32) model->meta.preprocess;

  g_checksum_update (sum, (const guchar *) &pre, sizeof pre);
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      gint32 act = (gint32) node->layer->activation;

      g_checksum_update (sum, (const guchar *) node->name, (gssize) strlen (node->name) + 1);
      g_checksum_update (sum, (const guchar *) node->layer->klass->name,
                         (gssize) strlen (node->layer->klass->name) + 1);
      g_checksum_update (sum, (const guchar *) &node->shape.ndim, sizeof node->shape.ndim);
      g_checksum_update (sum, (const guchar *) node->shape.dim,
                         (gssize) (sizeof (gint64) * node->shape.ndim));
      g_checksum_update (sum, (const guchar *) &act, sizeof act);
      g_checksum_update (sum, (const guchar *) node->inputs, sizeof (guint) * node->n_inputs);
    }
  for (guint i = 0; i < layers->len; i++)
    {
      MirLayer *layer = layers->pdata[i];
      for (guint j = 0; j < layer->n_weights; j++)
        {
          MirTensor *v = layer->weights[j].value;
          double total = 0;
          gsize stride;

          if (v == NULL)
            continue;
          g_checksum_update (sum, (const guchar *) v->shape, sizeof (gint64) * v->ndim);
          for (gsize k = 0; k < v->numel; k++)
            total += v->data[k];
          g_checksum_update (sum, (const guchar *) &total, sizeof total);
          stride = MAX (v->numel / 4096, 1);
          for (gsize k = 0; k < v->numel; k += stride)
            g_checksum_update (sum, (const guchar *) &v->data[k], sizeof (float));
        }
    }
  return g_strdup (g_checksum_get_string (sum));
}

static char *
entry_path (MirFilterCache *self, const char *key)
{
  g_autofree char *name = g_strconcat (key, ".pat", NULL);
  return g_build_filename (self->dir, name, NULL);
}

/* Call with the lock held; takes @image's reference. */
static void
remember (MirFilterCache *self, const char *key, MirImage *image, double l0, double l1)
{
  GList *link = g_hash_table_lookup (self->by_key, key);
  Entry *e;

  if (link)
    {
      e = link->data;
      mir_image_unref (e->image);
      e->image = image;
      e->loss_start = l0;
      e->loss_end = l1;
      g_queue_unlink (&self->lru, link);
      g_queue_push_head_link (&self->lru, link);
      return;
    }
  e = g_new0 (Entry, 1);
  e->key = g_strdup (key);
  e->image = image;
  e->loss_start = l0;
  e->loss_end = l1;
  g_queue_push_head (&self->lru, e);
  g_hash_table_insert (self->by_key, e->key, self->lru.head);
  while (self->lru.length > self->capacity)
    {
      Entry *old = g_queue_pop_tail (&self->lru);
      g_hash_table_remove (self->by_key, old->key);
      entry_free (old);
    }
}

static MirImage *
load_entry (const char *path, double *l0, double *l1)
{
  g_autofree char *data = NULL;
  gsize len = 0, n;
  guint32 dims[3];
  MirImage *img;

  if (!(data = mir_file_read (path, HEADER + 4096 * 4096 * 3, "cache", &len, NULL)) ||
      len < HEADER ||
      memcmp (data, MAGIC, 8) != 0)
    return NULL;
  for (int i = 0; i < 3; i++)
    {
      memcpy (&dims[i], data + 8 + 4 * i, 4);
      dims[i] = GUINT32_FROM_LE (dims[i]);
    }
  if (dims[0] == 0 || dims[0] > 4096 || dims[1] == 0 || dims[1] > 4096 ||
      (dims[2] != 1 && dims[2] != 3))
    return NULL;
  n = (gsize) dims[0] * dims[1] * dims[2];
  if (len != HEADER + n)
    return NULL;
  memcpy (l0, data + 20, 8);
  memcpy (l1, data + 28, 8);
  img = mir_image_new ((int) dims[0], (int) dims[1], (int) dims[2], NULL);
  if (img == NULL)
    return NULL;
  for (guint y = 0; y < dims[1]; y++)
    memcpy (img->pixels + y * img->rowstride, data + HEADER + (gsize) y * dims[0] * dims[2],
            (gsize) dims[0] * dims[2]);
  return img;
}

MirImage *
mir_filter_cache_lookup (MirFilterCache *self, const char *key, double *loss_start,
                         double *loss_end)
{
  GList *link;
  double l0 = 0, l1 = 0;
  MirImage *img = NULL;

  g_mutex_lock (&self->lock);
  link = g_hash_table_lookup (self->by_key, key);
  if (link)
    {
      Entry *e = link->data;
      g_queue_unlink (&self->lru, link);
      g_queue_push_head_link (&self->lru, link);
      *loss_start = e->loss_start;
      *loss_end = e->loss_end;
      img = mir_image_ref (e->image);
    }
  g_mutex_unlock (&self->lock);
  if (img || self->dir == NULL)
    return img;
  {
    g_autofree char *path = entry_path (self, key);
    img = load_entry (path, &l0, &l1);
  }
  if (img == NULL)
    return NULL;
  g_mutex_lock (&self->lock);
  remember (self, key, mir_image_ref (img), l0, l1);
  g_mutex_unlock (&self->lock);
  *loss_start = l0;
  *loss_end = l1;
  return img;
}

void
mir_filter_cache_insert (MirFilterCache *self, const char *key, MirImage *pattern,
                         double loss_start, double loss_end)
{
  g_mutex_lock (&self->lock);
  remember (self, key, mir_image_ref (pattern), loss_start, loss_end);
  g_mutex_unlock (&self->lock);
  if (self->dir)
    {
      gsize row = (gsize) pattern->width * pattern->channels;
      gsize n = row * pattern->height;
      g_autofree char *data = g_malloc (HEADER + n);
      g_autofree char *path = entry_path (self, key);
      g_autoptr(GError) error = NULL;
      guint32 dims[3] = { GUINT32_TO_LE ((guint32) pattern->width),
                          GUINT32_TO_LE ((guint32) pattern->height),
                          GUINT32_TO_LE ((guint32) pattern->channels) };

      memcpy (data, MAGIC, 8);
      memcpy (data + 8, dims, sizeof dims);
      memcpy (data + 20, &loss_start, 8);
      memcpy (data + 28, &loss_end, 8);
      for (int y = 0; y < pattern->height; y++)
        memcpy (data + HEADER + (gsize) y * row, pattern->pixels + y * pattern->rowstride, row);
      /* g_file_set_contents writes a temporary file and renames it */
      if (g_mkdir_with_parents (self->dir, 0700) != 0 ||
          !g_file_set_contents (path, data, (gssize) (HEADER + n), &error))
        g_debug ("not caching pattern on disk: %s", error ? error->message : self->dir);
    }
}

guint
mir_filter_cache_get_n_entries (MirFilterCache *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->lru.length;
  g_mutex_unlock (&self->lock);
  return n;
}
