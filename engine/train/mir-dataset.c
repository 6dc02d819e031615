#define G_LOG_DOMAIN "mir-dataset"

#include <errno.h>
#include <string.h>
#include <zlib.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-dataset.h"

static const char *const fashion_mnist_names[] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL
};

const char *const *
mir_fashion_mnist_class_names (void)
{
  return fashion_mnist_names;
}

MirDataset *
mir_dataset_new (gint64 n, gint64 height, gint64 width, gint64 channels, guint n_classes,
                 GError **error)
{
  g_autoptr(MirDataset) self = NULL;
  gsize image, total;

  if (n < 0 || height <= 0 || width <= 0 || channels <= 0 || n_classes == 0 ||
      !g_size_checked_mul (&image, (gsize) height, (gsize) width) ||
      !g_size_checked_mul (&image, image, (gsize) channels) ||
      !g_size_checked_mul (&total, image, (gsize) n) ||
      (gsize) n > G_MAXUINT)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("A dataset of %" PRId64 " images of %" PRId64 "×%"
                     PRId64 "×%" PRId64 " in %u classes is invalid or too large"),
                   n, height, width, channels, n_classes);
      return NULL;
    }

  self = g_new0 (MirDataset, 1);
  g_atomic_ref_count_init (&self->ref_count);
  self->n = n;
  self->height = height;
  self->width = width;
  self->channels = channels;
  self->pixels = g_try_malloc0 (MAX (total, 1));
  self->labels = g_try_new0 (gint32, MAX (n, 1));
  if (self->pixels == NULL || self->labels == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Out of memory for a dataset of %zu MiB"), total >> 20);
      return NULL;
    }
  self->n_classes = n_classes;
  self->class_names = g_new0 (char *, n_classes + 1);
  for (guint i = 0; i < n_classes; i++)
    self->class_names[i] = g_strdup_printf ("class %u", i);
  return g_steal_pointer (&self);
}

MirDataset *
mir_dataset_ref (MirDataset *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
mir_dataset_unref (MirDataset *self)
{
  if (self == NULL)
    return;
  if (g_atomic_ref_count_dec (&self->ref_count))
    {
      g_free (self->pixels);
      g_free (self->labels);
      g_strfreev (self->class_names);
      g_free (self);
    }
}

gsize
mir_dataset_image_size (const MirDataset *self)
{
  return (gsize) self->height * (gsize) self->width * (gsize) self->channels;
}

guint8 *
mir_dataset_get_image (MirDataset *self, gint64 index)
{
  g_return_val_if_fail (index >= 0 && index < self->n, NULL);
  return self->pixels + (gsize) index * mir_dataset_image_size (self);
}

gboolean
mir_dataset_set_class_names (MirDataset *self, const char *const *names, guint n_classes,
                             GError **error)
{
  gint32 max_label = -1;
  char **copy;

  if (n_classes == 0)
    n_classes = g_strv_length ((char **) names);
  for (gint64 i = 0; i < self->n; i++)
    max_label = MAX (max_label, self->labels[i]);
  if (n_classes == 0 || (gint64) n_classes <= max_label)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The dataset has labels up to %d but only %u class names were given"),
                   max_label, n_classes);
      return FALSE;
    }
  /* copy first: @names may point into the old names */
  copy = g_new0 (char *, n_classes + 1);
  for (guint i = 0; i < n_classes; i++)
    copy[i] = g_strdup (names[i]);
  g_strfreev (self->class_names);
  self->class_names = copy;
  self->n_classes = n_classes;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* IDX files */

typedef struct
{
  gzFile gz;
  const char *path;
} IdxFile;

static gboolean
idx_read (IdxFile *f, void *buf, gsize len, const char *what, GError **error)
{
  guint8 *p = buf;

  while (len > 0)
    {
      unsigned chunk = (unsigned) MIN (len, (gsize) (1u << 30));
      int got = gzread (f->gz, p, chunk);

      if (got < 0)
        {
          int errnum = 0;
          const char *msg = gzerror (f->gz, &errnum);
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("Cannot read %s of '%s': %s"), what, f->path, msg ? msg : "?");
          return FALSE;
        }
      if (got == 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The IDX file '%s' is truncated: it ends in the middle of %s"),
                       f->path, what);
          return FALSE;
        }
      p += got;
      len -= (gsize) got;
    }
  return TRUE;
}

/* Opens @path, checks the magic (unsigned bytes, @ndim dimensions) and reads
 * the dimensions. */
static gboolean
idx_open (IdxFile *f, const char *path, guint ndim, guint32 *dims, GError **error)
{
  guint8 header[4];

  f->path = path;
  f->gz = gzopen (path, "rb");
  if (f->gz == NULL)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), path,
                   saved ? g_strerror (saved) : _("out of memory"));
      return FALSE;
    }
  /* TRANSLATORS: the part of an IDX file being read, shown in "Cannot read %s of
   * '%s'" and "it ends in the middle of %s". */
  if (!idx_read (f, header, 4, C_("IDX file part", "the header"), error))
    return FALSE;
  if (header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != ndim)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an IDX file of unsigned bytes with %u dimensions "
                     "(magic number %02x%02x%02x%02x, expected 000008%02x)"),
                   path, ndim, header[0], header[1], header[2], header[3], ndim);
      return FALSE;
    }
  for (guint i = 0; i < ndim; i++)
    {
      guint8 b[4];
      if (!idx_read (f, b, 4, C_("IDX file part", "the header"), error))
        return FALSE;
      dims[i] = ((guint32) b[0] << 24) | ((guint32) b[1] << 16) | ((guint32) b[2] << 8) | b[3];
    }
  return TRUE;
}

static gboolean
idx_check_end (IdxFile *f, GError **error)
{
  guint8 extra;

  if (gzread (f->gz, &extra, 1) != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The IDX file '%s' is longer than its header says"), f->path);
      return FALSE;
    }
  return TRUE;
}

static void
idx_close (IdxFile *f)
{
  if (f->gz != NULL)
    gzclose (f->gz);
  f->gz = NULL;
}

MirDataset *
mir_dataset_load_idx (const char *images_path, const char *labels_path, GError **error)
{
  IdxFile fi = { 0 }, fl = { 0 };
  guint32 idims[3], ldims[1];
  g_autoptr(MirDataset) ds = NULL;
  g_autofree guint8 *raw_labels = NULL;
  guint n_classes = 0;
  gboolean ok = FALSE;

  g_return_val_if_fail (images_path != NULL && labels_path != NULL, NULL);

  if (!idx_open (&fi, images_path, 3, idims, error) ||
      !idx_open (&fl, labels_path, 1, ldims, error))
    goto out;
  if (idims[0] != ldims[0])
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' holds %u images but '%s' holds %u labels"),
                   images_path, idims[0], labels_path, ldims[0]);
      goto out;
    }
  if (idims[1] == 0 || idims[2] == 0 || idims[1] > 65536 || idims[2] > 65536)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' declares images of %u×%u pixels"), images_path, idims[1], idims[2]);
      goto out;
    }
  raw_labels = g_try_malloc (MAX (ldims[0], 1));
  if (raw_labels == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT, _("Out of memory reading '%s'"), labels_path);
      goto out;
    }
  if (!idx_read (&fl, raw_labels, ldims[0], C_("IDX file part", "the labels"), error) ||
      !idx_check_end (&fl, error))
    goto out;
  for (guint32 i = 0; i < ldims[0]; i++)
    n_classes = MAX (n_classes, (guint) raw_labels[i] + 1);

  ds = mir_dataset_new (idims[0], idims[1], idims[2], 1, MAX (n_classes, 1), error);
  if (ds == NULL)
    goto out;
  if (!idx_read (&fi, ds->pixels, (gsize) ds->n * mir_dataset_image_size (ds),
                 C_("IDX file part", "the pixels"), error) ||
      !idx_check_end (&fi, error))
    goto out;
  for (guint32 i = 0; i < ldims[0]; i++)
    ds->labels[i] = raw_labels[i];
  ok = TRUE;

out:
  idx_close (&fi);
  idx_close (&fl);
  return ok ? g_steal_pointer (&ds) : NULL;
}

MirDataset *
mir_dataset_load_fashion_mnist (const char *dir, gboolean train, GError **error)
{
  const char *prefix = train ? "train" : "t10k";
  g_autofree char *images_name = g_strdup_printf ("%s-images-idx3-ubyte.gz", prefix);
  g_autofree char *labels_name = g_strdup_printf ("%s-labels-idx1-ubyte.gz", prefix);
  g_autofree char *images = g_build_filename (dir ? dir : MIR_FASHION_MNIST_DIR, images_name, NULL);
  g_autofree char *labels = g_build_filename (dir ? dir : MIR_FASHION_MNIST_DIR, labels_name, NULL);
  g_autoptr(MirDataset) ds = NULL;

  if (!g_file_test (images, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                   _("Fashion-MNIST is not installed: '%s' does not exist "
                     "(install the Debian package dataset-fashion-mnist)"), images);
      return NULL;
    }
  ds = mir_dataset_load_idx (images, labels, error);
  if (ds == NULL)
    return NULL;
  if (ds->height != 28 || ds->width != 28 || ds->n_classes > 10)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' does not look like Fashion-MNIST (%" PRId64 "×%" PRId64
                     " images, %u classes; expected 28×28 and 10)"),
                   images, ds->height, ds->width, ds->n_classes);
      return NULL;
    }
  if (!mir_dataset_set_class_names (ds, fashion_mnist_names, 10, error))
    return NULL;
  return g_steal_pointer (&ds);
}

/* ------------------------------------------------------------------ */
/* Folder per class */

static gboolean
has_image_extension (const char *name)
{
  static const char *const exts[] = {
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp",
  };
  g_autofree char *lower = g_ascii_strdown (name, -1);

  for (gsize i = 0; i < G_N_ELEMENTS (exts); i++)
    if (g_str_has_suffix (lower, exts[i]))
      return TRUE;
  return FALSE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Sorted names of the entries of @dir that are directories (@want_dirs) or
 * image files. */
static GPtrArray *
list_entries (const char *dir, gboolean want_dirs, GError **error)
{
  g_autoptr(GDir) d = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GError *local = NULL;
  const char *name;

  d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot read the folder '%s': %s"), dir,
                   local->message);
      g_error_free (local);
      return NULL;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *full = g_build_filename (dir, name, NULL);
      gboolean is_dir = g_file_test (full, G_FILE_TEST_IS_DIR);

      if (name[0] == '.')
        continue;
      if (want_dirs ? is_dir : (!is_dir && has_image_extension (name)))
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_sort (names, compare_strings);
  return g_steal_pointer (&names);
}

/* @lenient: a file @decode fails on is left out (and @skip told) instead
 * of failing the load; a class left with no images fails it. */
static MirDataset *
load_directory (const char *dir, gint64 height, gint64 width, gint64 channels,
                MirImageDecodeFunc decode, gpointer user_data, gboolean lenient,
                MirDatasetSkipFunc skip, gpointer skip_data, guint *n_skipped,
                GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) classes = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr(MirDataset) ds = NULL;
  gint64 total = 0, k = 0;
  guint skipped = 0;

  g_return_val_if_fail (dir != NULL && decode != NULL, NULL);

  if (n_skipped)
    *n_skipped = 0;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                   _("'%s' is not a folder (expected one subfolder of images per class)"), dir);
      return NULL;
    }
  classes = list_entries (dir, TRUE, error);
  if (classes == NULL)
    return NULL;
  if (classes->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The folder '%s' has no subfolders: put the images of each class in a "
                     "subfolder named after the class"), dir);
      return NULL;
    }
  for (guint c = 0; c < classes->len; c++)
    {
      g_autofree char *sub = g_build_filename (dir, classes->pdata[c], NULL);
      GPtrArray *list = list_entries (sub, FALSE, error);
      if (list == NULL)
        return NULL;
      g_ptr_array_add (files, list);
      total += list->len;
    }
  if (total == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The class folders under '%s' hold no images"), dir);
      return NULL;
    }

  ds = mir_dataset_new (total, height, width, channels, classes->len, error);
  if (ds == NULL)
    return NULL;
  g_ptr_array_add (classes, NULL);
  if (!mir_dataset_set_class_names (ds, (const char *const *) classes->pdata, classes->len - 1,
                                    error))
    return NULL;

  for (guint c = 0; c < files->len; c++)
    {
      GPtrArray *list = files->pdata[c];
      gint64 first = k;
      guint class_skipped = 0;

      for (guint i = 0; i < list->len; i++)
        {
          g_autofree char *path = g_build_filename (dir, classes->pdata[c], list->pdata[i], NULL);
          GError *local = NULL;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return NULL;
          if (!decode (path, height, width, channels, mir_dataset_get_image (ds, k), user_data,
                       &local))
            {
              if (!lenient)
                {
                  g_propagate_error (error, local);
                  return NULL;
                }
              if (skip)
                skip (path, local, skip_data);
              g_error_free (local);
              skipped++;
              class_skipped++;
              continue;
            }
          ds->labels[k++] = (gint32) c;
        }
      if (lenient && k == first)
        {
          g_autofree char *sub = g_build_filename (dir, classes->pdata[c], NULL);
          if (class_skipped > 0)
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("The class “%s” has no readable images: all %u files in '%s' "
                           "were skipped"),
                         (const char *) classes->pdata[c], class_skipped, sub);
          else
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("The class “%s” has no images: put some in '%s' or remove "
                           "the folder"),
                         (const char *) classes->pdata[c], sub);
          return NULL;
        }
    }
  if (k < ds->n)
    {
      /* give back the room of the skipped files */
      ds->n = k;
      ds->pixels = g_realloc (ds->pixels, MAX ((gsize) k * mir_dataset_image_size (ds), 1));
      ds->labels = g_realloc_n (ds->labels, (gsize) MAX (k, 1), sizeof (gint32));
    }
  if (n_skipped)
    *n_skipped = skipped;
  return g_steal_pointer (&ds);
}

MirDataset *
mir_dataset_load_directory (const char *dir, gint64 height, gint64 width, gint64 channels,
                            MirImageDecodeFunc decode, gpointer user_data,
                            GCancellable *cancellable, GError **error)
{
  return load_directory (dir, height, width, channels, decode, user_data, FALSE, NULL, NULL,
                         NULL, cancellable, error);
}

MirDataset *
mir_dataset_load_directory_skipping (const char *dir, gint64 height, gint64 width,
                                     gint64 channels, MirImageDecodeFunc decode,
                                     gpointer user_data, MirDatasetSkipFunc skip,
                                     gpointer skip_data, guint *n_skipped,
                                     GCancellable *cancellable, GError **error)
{
  return load_directory (dir, height, width, channels, decode, user_data, TRUE, skip,
                         skip_data, n_skipped, cancellable, error);
}

/* ------------------------------------------------------------------ */
/* Splits and batches */

MirDataset *
mir_dataset_slice (MirDataset *self, gint64 start, gint64 count, GError **error)
{
  MirDataset *out;

  g_return_val_if_fail (start >= 0 && count >= 0 && start + count <= self->n, NULL);
  out = mir_dataset_new (count, self->height, self->width, self->channels, self->n_classes, error);
  if (out == NULL)
    return NULL;
  memcpy (out->pixels, self->pixels + (gsize) start * mir_dataset_image_size (self),
          (gsize) count * mir_dataset_image_size (self));
  memcpy (out->labels, self->labels + start, (gsize) count * sizeof (gint32));
  mir_dataset_set_class_names (out, (const char *const *) self->class_names, self->n_classes,
                               NULL);
  return out;
}

gboolean
mir_dataset_split (MirDataset *self, double fraction, MirDataset **train,
                   MirDataset **validation, GError **error)
{
  gint64 n_val;

  *train = NULL;
  *validation = NULL;
  if (!(fraction >= 0 && fraction < 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The validation split must be at least 0 and below 1, not %g"), fraction);
      return FALSE;
    }
  n_val = (gint64) (fraction * (double) self->n + 0.5);
  if (fraction > 0 && (n_val == 0 || n_val == self->n))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("A validation split of %g leaves no images for training or validation "
                     "out of %" PRId64), fraction, self->n);
      return FALSE;
    }
  if (n_val == 0)
    {
      *train = mir_dataset_ref (self);
      return TRUE;
    }
  *train = mir_dataset_slice (self, 0, self->n - n_val, error);
  if (*train == NULL)
    return FALSE;
  *validation = mir_dataset_slice (self, self->n - n_val, n_val, error);
  if (*validation == NULL)
    {
      g_clear_pointer (train, mir_dataset_unref);
      return FALSE;
    }
  return TRUE;
}

void
mir_dataset_count_classes (const MirDataset *self, gint64 *counts)
{
  memset (counts, 0, self->n_classes * sizeof *counts);
  for (gint64 i = 0; i < self->n; i++)
    if (self->labels[i] >= 0 && (guint) self->labels[i] < self->n_classes)
      counts[self->labels[i]]++;
}

/* A copy of images @indices[0..@n), in that order. */
static MirDataset *
dataset_gather (MirDataset *self, const guint *indices, gint64 n, GError **error)
{
  gsize sz = mir_dataset_image_size (self);
  MirDataset *out;

  out = mir_dataset_new (n, self->height, self->width, self->channels, self->n_classes, error);
  if (out == NULL)
    return NULL;
  for (gint64 i = 0; i < n; i++)
    {
      memcpy (out->pixels + (gsize) i * sz, mir_dataset_get_image (self, indices[i]), sz);
      out->labels[i] = self->labels[indices[i]];
    }
  mir_dataset_set_class_names (out, (const char *const *) self->class_names, self->n_classes,
                               NULL);
  return out;
}

gboolean
mir_dataset_split_stratified (MirDataset *self, double fraction, guint64 seed,
                              MirDataset **train, MirDataset **validation, GError **error)
{
  /* a stream of its own, not the trainer's (which starts from the seed too) */
  const guint32 key[3] = { (guint32) seed, (guint32) (seed >> 32), 0x73706c74 /* "splt" */ };
  g_autoptr(GRand) rng = NULL;
  g_autofree gint64 *count = NULL;
  g_autofree gint64 *quota = NULL;
  g_autofree guint *order = NULL;
  g_autofree guint *val_idx = NULL;
  g_autofree guint *train_idx = NULL;
  gint64 n_val = 0, n_train = 0;

  *train = NULL;
  *validation = NULL;
  if (!(fraction >= 0 && fraction < 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The validation split must be at least 0 and below 1, not %g"), fraction);
      return FALSE;
    }
  if (fraction == 0)
    {
      *train = mir_dataset_ref (self);
      return TRUE;
    }

  count = g_new0 (gint64, MAX (self->n_classes, 1));
  quota = g_new0 (gint64, MAX (self->n_classes, 1));
  mir_dataset_count_classes (self, count);
  for (guint c = 0; c < self->n_classes; c++)
    {
      /* round half up; a class keeps at least one image for training */
      quota[c] = MIN ((gint64) (fraction * (double) count[c] + 0.5), MAX (count[c] - 1, 0));
      n_val += quota[c];
    }
  if (n_val == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("A validation split of %g leaves no images for validation out of %"
                     PRId64 " (too few images per class)"), fraction, self->n);
      return FALSE;
    }

  rng = g_rand_new_with_seed_array (key, G_N_ELEMENTS (key));
  order = g_new (guint, MAX (self->n, 1));
  for (gint64 i = 0; i < self->n; i++)
    order[i] = (guint) i;
  mir_shuffle_indices (order, (gsize) self->n, rng);

  val_idx = g_new (guint, MAX (n_val, 1));
  train_idx = g_new (guint, MAX (self->n - n_val, 1));
  n_val = 0;
  for (gint64 i = 0; i < self->n; i++)
    {
      gint32 c = self->labels[order[i]];
      if (c >= 0 && (guint) c < self->n_classes && quota[c] > 0)
        {
          quota[c]--;
          val_idx[n_val++] = order[i];
        }
      else
        train_idx[n_train++] = order[i];
    }

  *train = dataset_gather (self, train_idx, n_train, error);
  if (*train == NULL)
    return FALSE;
  *validation = dataset_gather (self, val_idx, n_val, error);
  if (*validation == NULL)
    {
      g_clear_pointer (train, mir_dataset_unref);
      return FALSE;
    }
  return TRUE;
}

void
mir_shuffle_indices (guint *indices, gsize n, GRand *rng)
{
  for (gsize i = n; i > 1; i--)
    {
      gsize j = (gsize) g_rand_int_range (rng, 0, (gint32) i);
      guint t = indices[i - 1];
      indices[i - 1] = indices[j];
      indices[j] = t;
    }
}

/* Per-channel affine maps y = x * scale[c] + offset[c] for each mode, with
 * the source channel (for CAFFE's RGB -> BGR). */
static void
preprocess_coefficients (MirPreprocessMode mode, gint64 channels, float *scale, float *offset,
                         gint64 *source)
{
  static const float caffe_mean[3] = { 103.939f, 116.779f, 123.68f }; /* BGR */
  static const float torch_mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float torch_std[3] = { 0.229f, 0.224f, 0.225f };

  for (gint64 c = 0; c < channels; c++)
    {
      source[c] = c;
      switch (mode)
        {
        case MIR_PREPROCESS_SCALE:
          scale[c] = 1.0f / 255.0f;
          offset[c] = 0;
          break;
        case MIR_PREPROCESS_TF:
          scale[c] = 1.0f / 127.5f;
          offset[c] = -1.0f;
          break;
        case MIR_PREPROCESS_CAFFE:
          scale[c] = 1.0f;
          if (channels == 3)
            {
              source[c] = 2 - c;
              offset[c] = -caffe_mean[c];
            }
          else
            offset[c] = -(caffe_mean[0] + caffe_mean[1] + caffe_mean[2]) / 3.0f;
          break;
        case MIR_PREPROCESS_TORCH:
          if (channels == 3)
            {
              scale[c] = 1.0f / (255.0f * torch_std[c]);
              offset[c] = -torch_mean[c] / torch_std[c];
            }
          else
            {
              scale[c] = 1.0f / (255.0f * 0.226f);
              offset[c] = -0.449f / 0.226f;
            }
          break;
        case MIR_PREPROCESS_NONE:
        default:
          scale[c] = 1.0f;
          offset[c] = 0;
          break;
        }
    }
}

gboolean
mir_dataset_fill_batch (MirDataset *self, const guint *indices, gsize n, MirTensor *batch,
                        gint32 *labels, MirPreprocessMode mode, const MirAugmentOptions *augment,
                        GRand *rng, GError **error)
{
  const gint64 H = self->height, W = self->width, C = self->channels;
  float scale[16], offset[16];
  gint64 source[16];

  if (batch->ndim != 4 || batch->shape[1] != H || batch->shape[2] != W || batch->shape[3] != C ||
      batch->shape[0] < (gint64) n || !mir_tensor_is_contiguous (batch))
    {
      g_autofree char *s = mir_tensor_shape_string (batch);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The model takes inputs of shape %s but the dataset's images are %"
                     PRId64 "×%" PRId64 "×%" PRId64),
                   s, H, W, C);
      return FALSE;
    }
  if (C > (gint64) G_N_ELEMENTS (scale))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Images with %" PRId64 " channels are not supported"), C);
      return FALSE;
    }
  g_return_val_if_fail (augment == NULL || rng != NULL, FALSE);
  preprocess_coefficients (mode, C, scale, offset, source);

  for (gsize b = 0; b < n; b++)
    {
      const guint8 *img;
      float *dst = batch->data + b * (gsize) (H * W * C);
      gint64 dx = 0, dy = 0;
      gboolean flip = FALSE;

      g_return_val_if_fail ((gint64) indices[b] < self->n, FALSE);
      img = mir_dataset_get_image (self, indices[b]);
      if (labels != NULL)
        labels[b] = self->labels[indices[b]];
      if (augment != NULL)
        {
          gint32 s = (gint32) augment->max_shift;
          if (s > 0)
            {
              dx = g_rand_int_range (rng, -s, s + 1);
              dy = g_rand_int_range (rng, -s, s + 1);
            }
          if (augment->flip)
            flip = g_rand_boolean (rng);
        }
      for (gint64 y = 0; y < H; y++)
        for (gint64 x = 0; x < W; x++)
          {
            /* output (y, x) shows input (y - dy, x' - dx), x' flipped */
            gint64 sy = y - dy;
            gint64 sx = (flip ? W - 1 - x : x) - dx;
            gboolean inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
            const guint8 *px = inside ? img + (sy * W + sx) * C : NULL;

            for (gint64 c = 0; c < C; c++)
              {
                float v = px ? (float) px[source[c]] : 0.0f;
                dst[(y * W + x) * C + c] = v * scale[c] + offset[c];
              }
          }
    }
  return TRUE;
}
