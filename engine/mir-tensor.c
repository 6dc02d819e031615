#define G_LOG_DOMAIN "mir-tensor"

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-tensor.h"

/* Big buffers (layer outputs of large batches, im2col blocks).  A fresh
 * 300 MB output costs the kernel as much time zeroing pages on first touch
 * as the convolution that fills it, at every run; so freed big buffers are
 * kept (up to MIRADA_BUFFER_CACHE_MB; by default an eighth of the physical
 * memory, between 1 and 4 GiB: the 1.25 GB a VGG16 filter-pattern step
 * allocates and frees again stays in it on a 16 GB machine) and handed out again
 * for requests of nearly the same size, as ONNX Runtime's arena does.  They
 * are 2 MiB aligned and on transparent huge pages where available, and
 * mapped on their own, so that a buffer the cache lets go of leaves the
 * process at once (malloc would keep memory freed below its top). */
#define HUGE_PAGE_BYTES ((gsize) 2 << 20)
#define BIG_BUFFER_BYTES ((gsize) 8 << 20)

static GMutex big_lock;
static GHashTable *big_sizes; /* data -> size, of every big buffer (live or cached) */
static GQueue big_cache;      /* freed big buffers, most recent first */
static gsize big_cache_bytes;

static gsize
big_cache_limit (void)
{
  static gsize once = 0;
  static gsize limit;

  if (g_once_init_enter (&once))
    {
      const char *s = g_getenv ("MIRADA_BUFFER_CACHE_MB");
      long pages = sysconf (_SC_PHYS_PAGES), page = sysconf (_SC_PAGESIZE);
      guint64 mb = 1024;

      if (pages > 0 && page > 0)
        mb = CLAMP ((guint64) pages / 8 * (guint64) page >> 20, 1024, 4096);
      if (s != NULL)
        mb = g_ascii_strtoull (s, NULL, 10);
      limit = (gsize) MIN (mb, G_MAXSIZE >> 21) << 20;
      g_once_init_leave (&once, 1);
    }
  return limit;
}

/* @bytes (a multiple of HUGE_PAGE_BYTES) of zeroed memory at a
 * HUGE_PAGE_BYTES boundary, or NULL. */
static void *
big_map (gsize bytes)
{
  gsize span = bytes + HUGE_PAGE_BYTES;
  guint8 *raw, *p;

  if (span < bytes)
    return NULL;
  raw = mmap (NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return NULL;
  p = (guint8 *) (((guintptr) raw + HUGE_PAGE_BYTES - 1) & ~(guintptr) (HUGE_PAGE_BYTES - 1));
  if (p > raw)
    munmap (raw, (gsize) (p - raw));
  munmap (p + bytes, (gsize) (raw + span - (p + bytes)));
  return p;
}

/* Unmaps the cached buffer at @l; under big_lock. */
static void
big_cache_drop (GList *l)
{
  gsize size = GPOINTER_TO_SIZE (g_hash_table_lookup (big_sizes, l->data));

  g_hash_table_remove (big_sizes, l->data);
  big_cache_bytes -= size;
  munmap (l->data, size);
  g_queue_delete_link (&big_cache, l);
}

/* Unmaps cached buffers until at most @keep bytes remain; under big_lock. */
static void
big_cache_shrink (gsize keep)
{
  while (big_cache_bytes > keep && big_cache.length > 0)
    big_cache_drop (big_cache.tail);
}

static void *
big_alloc (gsize bytes)
{
  void *p = NULL;

  bytes = (bytes + HUGE_PAGE_BYTES - 1) / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES;
  g_mutex_lock (&big_lock);
  for (GList *l = big_cache.head; l != NULL; l = l->next)
    {
      gsize size = GPOINTER_TO_SIZE (g_hash_table_lookup (big_sizes, l->data));

      if (size >= bytes && size - bytes <= bytes / 4)
        {
          p = l->data;
          big_cache_bytes -= size;
          g_queue_delete_link (&big_cache, l);
          break;
        }
    }
  /* A miss: cached buffers smaller than this may have been left behind by
   * buffers that grew (per-thread scratch).  They go back to the system
   * only as far as the cache needs room under its limit for this one: a
   * trace of many sizes (filter patterns: 64 images of each VGG16 layer,
   * 4 to 64 MiB) misses on its largest tensors every step while its
   * smaller ones wait in the cache, and dropping those made 1.2-2.6 s of
   * page clearing in a 12 s run, one run in two. */
  for (GList *l = p == NULL ? big_cache.tail : NULL, *prev;
       l != NULL && big_cache_bytes + bytes > big_cache_limit (); l = prev)
    {
      prev = l->prev;
      if (GPOINTER_TO_SIZE (g_hash_table_lookup (big_sizes, l->data)) < bytes)
        big_cache_drop (l);
    }
  g_mutex_unlock (&big_lock);
  if (p != NULL)
    return p;
  if ((p = big_map (bytes)) == NULL)
    {
      /* Cached buffers may be what is missing: drop them and retry. */
      mir_buffer_cache_trim ();
      if ((p = big_map (bytes)) == NULL)
        return NULL;
    }
#ifdef MADV_HUGEPAGE
  madvise (p, bytes, MADV_HUGEPAGE);
#endif
  g_mutex_lock (&big_lock);
  if (big_sizes == NULL)
    big_sizes = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (big_sizes, p, GSIZE_TO_POINTER (bytes));
  g_mutex_unlock (&big_lock);
  return p;
}

/* TRUE if @p was a big buffer (now cached or freed). */
static gboolean
big_free (void *p)
{
  gsize size;

  g_mutex_lock (&big_lock);
  size = big_sizes ? GPOINTER_TO_SIZE (g_hash_table_lookup (big_sizes, p)) : 0;
  if (size == 0)
    {
      g_mutex_unlock (&big_lock);
      return FALSE;
    }
  g_queue_push_head (&big_cache, p);
  big_cache_bytes += size;
  big_cache_shrink (big_cache_limit ());
  g_mutex_unlock (&big_lock);
  return TRUE;
}

void
mir_buffer_cache_trim (void)
{
  g_mutex_lock (&big_lock);
  big_cache_shrink (0);
  g_mutex_unlock (&big_lock);
}

gint64
mir_shape_numel (guint ndim, const gint64 *shape)
{
  gint64 nonzero = 1;
  gboolean empty = FALSE;

  /* The product of the non-zero dimensions is bounded too: strides are
   * products of trailing dimensions, and (0, 2^62, 2^62) must not overflow
   * them although it holds no value. */
  for (guint i = 0; i < ndim; i++)
    {
      if (shape[i] < 0)
        return -1;
      if (shape[i] == 0)
        {
          empty = TRUE;
          continue;
        }
      if (nonzero > MIR_TENSOR_MAX_ELEMENTS / shape[i])
        return -1;
      nonzero *= shape[i];
    }
  if (nonzero > MIR_TENSOR_MAX_ELEMENTS)
    return -1;
  return empty ? 0 : nonzero;
}

float *
mir_alloc_floats (gsize n, GError **error)
{
  void *p = NULL;
  gsize bytes;

  if (!g_size_checked_mul (&bytes, n ? n : 1, sizeof (float)) ||
      n > (gsize) MIR_TENSOR_MAX_ELEMENTS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Cannot allocate %zu values: more than Mirada accepts"), n);
      return NULL;
    }
  bytes = (bytes + MIR_TENSOR_ALIGN - 1) / MIR_TENSOR_ALIGN * MIR_TENSOR_ALIGN;
  if (bytes >= BIG_BUFFER_BYTES)
    {
      p = big_alloc (bytes);
      if (p == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("Out of memory allocating %zu MiB"), bytes >> 20);
          return NULL;
        }
      return p;
    }
  if (posix_memalign (&p, MIR_TENSOR_ALIGN, bytes) != 0 || p == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory allocating %zu MiB"),
                   bytes >> 20);
      return NULL;
    }
  return p;
}

void
mir_free_floats (float *p)
{
  if (p != NULL && !big_free (p))
    free (p);
}

static void
set_contiguous_strides (MirTensor *t)
{
  gint64 s = 1;

  for (int i = (int) t->ndim - 1; i >= 0; i--)
    {
      t->stride[i] = s;
      s *= t->shape[i];
    }
}

/* 0 is never handed out: a cache that has seen nothing holds 0. */
static guint64 version_counter = 0;

static guint64
next_version (void)
{
  return __atomic_add_fetch (&version_counter, 1, __ATOMIC_RELAXED);
}

guint64
mir_tensor_get_version (const MirTensor *t)
{
  return __atomic_load_n (&t->version, __ATOMIC_ACQUIRE);
}

void
mir_tensor_changed (MirTensor *t)
{
  for (; t != NULL; t = t->view_of)
    __atomic_store_n (&t->version, next_version (), __ATOMIC_RELEASE);
}

static MirTensor *
tensor_alloc (guint ndim, const gint64 *shape, gboolean zero, GError **error)
{
  MirTensor *t;
  gint64 n;

  if (ndim > MIR_MAX_DIMS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("A tensor of rank %u is beyond the supported rank %d"), ndim, MIR_MAX_DIMS);
      return NULL;
    }
  n = mir_shape_numel (ndim, shape);
  if (n < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("A tensor shape is negative or too large (more than %" PRId64 " values)"),
                   MIR_TENSOR_MAX_ELEMENTS);
      return NULL;
    }

  t = g_new0 (MirTensor, 1);
  g_atomic_ref_count_init (&t->ref_count);
  t->ndim = ndim;
  memcpy (t->shape, shape, ndim * sizeof (gint64));
  set_contiguous_strides (t);
  t->numel = (gsize) n;
  t->data = mir_alloc_floats (t->numel, error);
  if (t->data == NULL)
    {
      g_free (t);
      return NULL;
    }
  if (zero)
    memset (t->data, 0, t->numel * sizeof (float));
  t->owns_data = TRUE;
  t->version = next_version ();
  return t;
}

MirTensor *
mir_tensor_new (guint ndim, const gint64 *shape, GError **error)
{
  return tensor_alloc (ndim, shape, TRUE, error);
}

/* With MIRADA_POISON_UNINITIALIZED set (the test suite sets it), the
 * "uninitialised" values are NaNs, so that a layer wrongly flagged
 * MIR_LAYER_FLAG_WRITES_ALL shows up as NaNs in its output. */
static gboolean
poison_uninitialized (void)
{
  static gsize once = 0;
  static gboolean poison;

  if (g_once_init_enter (&once))
    {
      poison = g_getenv ("MIRADA_POISON_UNINITIALIZED") != NULL;
      g_once_init_leave (&once, 1);
    }
  return poison;
}

MirTensor *
mir_tensor_new_uninitialized (guint ndim, const gint64 *shape, GError **error)
{
  MirTensor *t = tensor_alloc (ndim, shape, FALSE, error);

  if (t != NULL && poison_uninitialized ())
    mir_tensor_fill (t, NAN);
  return t;
}

MirTensor *
mir_tensor_new_wrapped (guint ndim, const gint64 *shape, float *data, GDestroyNotify release,
                        gpointer release_data, GError **error)
{
  MirTensor *t;
  gint64 n = ndim <= MIR_MAX_DIMS ? mir_shape_numel (ndim, shape) : -1;

  g_return_val_if_fail (data != NULL && (guintptr) data % MIR_TENSOR_ALIGN == 0, NULL);

  if (n < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("A tensor shape is negative or too large (more than %" PRId64 " values)"),
                   MIR_TENSOR_MAX_ELEMENTS);
      if (release != NULL)
        release (release_data);
      return NULL;
    }
  t = g_new0 (MirTensor, 1);
  g_atomic_ref_count_init (&t->ref_count);
  t->ndim = ndim;
  memcpy (t->shape, shape, ndim * sizeof (gint64));
  set_contiguous_strides (t);
  t->numel = (gsize) n;
  t->data = data;
  t->release = release;
  t->release_data = release_data;
  t->version = next_version ();  /* like every new tensor: caches keyed on it see a new kernel */
  return t;
}

MirTensor *
mir_tensor_new_4d (gint64 n, gint64 h, gint64 w, gint64 c, GError **error)
{
  gint64 shape[4] = { n, h, w, c };
  return mir_tensor_new (4, shape, error);
}

MirTensor *
mir_tensor_new_2d (gint64 n, gint64 c, GError **error)
{
  gint64 shape[2] = { n, c };
  return mir_tensor_new (2, shape, error);
}

MirTensor *
mir_tensor_new_like (const MirTensor *other, GError **error)
{
  return mir_tensor_new (other->ndim, other->shape, error);
}

MirTensor *
mir_tensor_dup (const MirTensor *src, GError **error)
{
  MirTensor *t = mir_tensor_new_like (src, error);

  if (t != NULL)
    mir_tensor_copy_data (t, src);
  return t;
}

MirTensor *
mir_tensor_view_batch (MirTensor *parent, gint64 start, gint64 count)
{
  MirTensor *t;

  g_return_val_if_fail (parent != NULL && parent->ndim >= 1, NULL);
  g_return_val_if_fail (mir_tensor_is_contiguous (parent), NULL);
  g_return_val_if_fail (start >= 0 && count >= 0 && start + count <= parent->shape[0], NULL);

  t = g_new0 (MirTensor, 1);
  g_atomic_ref_count_init (&t->ref_count);
  t->ndim = parent->ndim;
  memcpy (t->shape, parent->shape, sizeof t->shape);
  memcpy (t->stride, parent->stride, sizeof t->stride);
  t->shape[0] = count;
  t->numel = (gsize) (count * parent->stride[0]);
  t->data = parent->data + start * parent->stride[0];
  t->view_of = mir_tensor_ref (parent);
  t->version = next_version ();
  return t;
}

MirTensor *
mir_tensor_reshape (MirTensor *src, guint ndim, const gint64 *shape, GError **error)
{
  MirTensor *t;
  gint64 n = mir_shape_numel (ndim, shape);

  g_return_val_if_fail (mir_tensor_is_contiguous (src), NULL);
  if (ndim > MIR_MAX_DIMS || n < 0 || (gsize) n != src->numel)
    {
      g_autofree char *s = mir_tensor_shape_string (src);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Cannot reshape a tensor of shape %s to %" PRId64 " values"), s, n);
      return NULL;
    }
  t = g_new0 (MirTensor, 1);
  g_atomic_ref_count_init (&t->ref_count);
  t->ndim = ndim;
  memcpy (t->shape, shape, ndim * sizeof (gint64));
  set_contiguous_strides (t);
  t->numel = src->numel;
  t->data = src->data;
  t->view_of = mir_tensor_ref (src);
  t->version = next_version ();
  return t;
}

MirTensor *
mir_tensor_ref (MirTensor *t)
{
  g_return_val_if_fail (t != NULL, NULL);
  g_atomic_ref_count_inc (&t->ref_count);
  return t;
}

void
mir_tensor_unref (MirTensor *t)
{
  if (t == NULL)
    return;
  if (g_atomic_ref_count_dec (&t->ref_count))
    {
      if (t->owns_data)
        mir_free_floats (t->data);
      if (t->release != NULL)
        t->release (t->release_data);
      if (t->view_of != NULL)
        mir_tensor_unref (t->view_of);
      g_free (t);
    }
}

gboolean
mir_tensor_is_contiguous (const MirTensor *t)
{
  gint64 s = 1;

  for (int i = (int) t->ndim - 1; i >= 0; i--)
    {
      if (t->shape[i] != 1 && t->stride[i] != s)
        return FALSE;
      s *= t->shape[i];
    }
  return TRUE;
}

gboolean
mir_tensor_same_shape (const MirTensor *a, const MirTensor *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (guint i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return TRUE;
}

void
mir_tensor_zero (MirTensor *t)
{
  memset (t->data, 0, t->numel * sizeof (float));
  mir_tensor_changed (t);
}

void
mir_tensor_fill (MirTensor *t, float value)
{
  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = value;
  mir_tensor_changed (t);
}

void
mir_tensor_copy_data (MirTensor *dst, const MirTensor *src)
{
  g_return_if_fail (dst->numel == src->numel);
  memcpy (dst->data, src->data, src->numel * sizeof (float));
  mir_tensor_changed (dst);
}

char *
mir_dims_to_string (guint ndim, const gint64 *dim, const char *unknown)
{
  GString *s = g_string_new ("(");

  for (guint i = 0; i < ndim; i++)
    {
      if (i)
        g_string_append (s, ", ");
      if (dim[i] < 0 && unknown != NULL)
        g_string_append (s, unknown);
      else
        g_string_append_printf (s, "%" G_GINT64_FORMAT, dim[i]);
    }
  g_string_append (s, ndim == 1 ? ",)" : ")");
  return g_string_free (s, FALSE);
}

char *
mir_tensor_shape_string (const MirTensor *t)
{
  return mir_dims_to_string (t->ndim, t->shape, NULL);
}
