/* mir-dataset-formats.c: datasets in their distribution formats — the
 * CIFAR-10/100 binary version (the extracted folder or the .tar.gz itself)
 * and a folder of MNIST-style IDX files.  See mir-dataset.h. */
#define G_LOG_DOMAIN "mir-dataset"

#include <errno.h>
#include <string.h>
#include <zlib.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "mir-error.h"
#include "mir-file.h"
#include "mir-dataset.h"

#define CIFAR_SIDE   32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE * 3)
/* A CIFAR file larger than this is not one (the real ones are 30 and 150 MiB). */
#define CIFAR_MAX_FILE ((gsize) 1 << 30)

static const char *const cifar10_names[] = {
  "airplane", "automobile", "bird", "cat", "deer",
  "dog", "frog", "horse", "ship", "truck", NULL
};

/* The member/file names the CIFAR readers want: the batches, the names. */
static gboolean
cifar_wanted (const char *base)
{
  guint64 n;

  if (g_str_has_prefix (base, "data_batch_") && g_str_has_suffix (base, ".bin"))
    {
      g_autofree char *digits = g_strndup (base + 11, strlen (base) - 15);
      return g_ascii_string_to_unsigned (digits, 10, 1, 99, &n, NULL);
    }
  return g_str_equal (base, "test_batch.bin") || g_str_equal (base, "train.bin") ||
         g_str_equal (base, "test.bin") || g_str_equal (base, "batches.meta.txt") ||
         g_str_equal (base, "fine_label_names.txt");
}

static gboolean
is_cifar_folder (const char *dir)
{
  static const char *const probes[] = {
    "data_batch_1.bin", "test_batch.bin", "train.bin", "test.bin",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (probes); i++)
    {
      g_autofree char *p = g_build_filename (dir, probes[i], NULL);
      if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    }
  return FALSE;
}

/* The folder itself, or the one folder the archives extract to inside it. */
static char *
cifar_folder (const char *dir)
{
  static const char *const subs[] = { "cifar-10-batches-bin", "cifar-100-binary" };

  if (is_cifar_folder (dir))
    return g_strdup (dir);
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *sub = g_build_filename (dir, subs[i], NULL);
      if (is_cifar_folder (sub))
        return g_steal_pointer (&sub);
    }
  return NULL;
}

/* "train-images-idx3-ubyte" (or "train-images.idx3-ubyte"), optionally .gz. */
static char *
idx_find (const char *dir, const char *prefix, const char *kind)
{
  static const char *const seps[] = { "-", "." };
  static const char *const exts[] = { "", ".gz" };

  for (gsize s = 0; s < G_N_ELEMENTS (seps); s++)
    for (gsize e = 0; e < G_N_ELEMENTS (exts); e++)
      {
        g_autofree char *name = g_strdup_printf ("%s%s%s-ubyte%s", prefix, seps[s], kind,
                                                 exts[e]);
        g_autofree char *path = g_build_filename (dir, name, NULL);
        if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
          return g_steal_pointer (&path);
      }
  return NULL;
}

static gboolean
is_idx_folder (const char *dir)
{
  g_autofree char *a = idx_find (dir, "train-images", "idx3");
  g_autofree char *b = idx_find (dir, "t10k-images", "idx3");

  return a != NULL || b != NULL;
}

static gboolean
is_tar_name (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  return g_str_has_suffix (lower, ".tar.gz") || g_str_has_suffix (lower, ".tgz") ||
         g_str_has_suffix (lower, ".tar");
}

MirDatasetFormat
mir_dataset_detect_format (const char *path)
{
  g_return_val_if_fail (path != NULL, MIR_DATASET_FORMAT_FOLDER);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *cifar = cifar_folder (path);

      if (cifar != NULL)
        return MIR_DATASET_FORMAT_CIFAR;
      if (is_idx_folder (path))
        return MIR_DATASET_FORMAT_IDX;
      return MIR_DATASET_FORMAT_FOLDER;
    }
  if (is_tar_name (path))
    return MIR_DATASET_FORMAT_CIFAR;
  return MIR_DATASET_FORMAT_FOLDER;
}

/* ------------------------------------------------------------------ */
/* Tar archives (ustar, with GNU long names and pax path records), read
 * through zlib: gzread() reads a plain tar as it is. */

typedef struct
{
  gzFile gz;
  const char *display;
} Tar;

static gboolean
tar_read (Tar *t, void *buf, gsize len, GError **error)
{
  guint8 *p = buf;

  while (len > 0)
    {
      int got = gzread (t->gz, p, (unsigned) MIN (len, (gsize) (1u << 30)));

      if (got <= 0)
        {
          int errnum = 0;
          const char *msg = got < 0 ? gzerror (t->gz, &errnum) : NULL;

          if (msg != NULL)
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("Cannot read '%s': %s"),
                         t->display, msg);
          else
            g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                         _("The archive '%s' is truncated"), t->display);
          return FALSE;
        }
      p += got;
      len -= (gsize) got;
    }
  return TRUE;
}

static gboolean
tar_skip (Tar *t, guint64 len, GError **error)
{
  guint8 buf[8192];

  while (len > 0)
    {
      gsize n = (gsize) MIN (len, (guint64) sizeof buf);
      if (!tar_read (t, buf, n, error))
        return FALSE;
      len -= n;
    }
  return TRUE;
}

static gboolean
tar_octal (const guint8 *field, gsize width, guint64 *value)
{
  guint64 v = 0;
  gsize i = 0;

  while (i < width && field[i] == ' ')
    i++;
  if (i == width || field[i] < '0' || field[i] > '7')
    return FALSE;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; i++)
    {
      if (v >> 60)
        return FALSE;
      v = v * 8 + (guint64) (field[i] - '0');
    }
  *value = v;
  return TRUE;
}

/* The header's checksum: the sum of its bytes, the checksum field counted
 * as spaces. */
static gboolean
tar_checksum_ok (const guint8 *h)
{
  guint64 want, sum = 0;

  if (!tar_octal (h + 148, 8, &want))
    return FALSE;
  for (gsize i = 0; i < 512; i++)
    sum += i >= 148 && i < 156 ? (guint64) ' ' : h[i];
  return sum == want;
}

/* A pax extended header's "path" record, or NULL. */
static char *
pax_path (const char *data, gsize len)
{
  gsize i = 0;

  while (i < len)
    {
      guint64 rec = 0;
      gsize j = i;

      while (j < len && g_ascii_isdigit (data[j]))
        rec = rec * 10 + (guint64) (data[j++] - '0');
      if (rec == 0 || j >= len || data[j] != ' ' || rec > len - i)
        return NULL;
      if (g_str_has_prefix (data + j + 1, "path=") && i + rec >= j + 6 + 1)
        return g_strndup (data + j + 6, i + rec - (j + 6) - 1);
      i += rec;
    }
  return NULL;
}

/* Reads the members of the archive @path that cifar_wanted() names into
 * @files (basename → GBytes). */
static gboolean
tar_collect (const char *path, GHashTable *files, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *long_name = NULL;
  Tar t = { NULL, display };
  gboolean ok = FALSE, pickles = FALSE;
  gsize total = 0;

  if (!mir_file_check (path, G_MAXSIZE, _("dataset archives"), NULL, error))
    return FALSE;
  if (!(t.gz = gzopen (path, "rb")))
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), display,
                   saved ? g_strerror (saved) : _("out of memory"));
      return FALSE;
    }
  for (;;)
    {
      guint8 h[512];
      guint64 size, padded;
      char type;
      g_autofree char *name = NULL;
      const char *base;
      gboolean zero = TRUE;

      if (!tar_read (&t, h, sizeof h, error))
        goto out;
      for (gsize i = 0; i < sizeof h && zero; i++)
        zero = h[i] == 0;
      if (zero)
        break; /* the end-of-archive block */
      if (!tar_octal (h + 124, 12, &size) || !tar_checksum_ok (h))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("'%s' is not a tar archive (like cifar-10-binary.tar.gz)"), display);
          goto out;
        }
      type = (char) h[156];
      padded = (size + 511) / 512 * 512;
      if (type == 'L' || type == 'x')
        {
          g_autofree char *data = NULL;

          if (size > 65536)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("'%s' is not a tar archive (like cifar-10-binary.tar.gz)"),
                           display);
              goto out;
            }
          data = g_malloc0 ((gsize) padded + 1);
          if (!tar_read (&t, data, (gsize) padded, error))
            goto out;
          g_free (long_name);
          long_name = type == 'L' ? g_strndup (data, (gsize) size) : pax_path (data, (gsize) size);
          continue;
        }
      if (long_name != NULL)
        name = g_steal_pointer (&long_name);
      else if (memcmp (h + 257, "ustar", 5) == 0 && h[345] != 0)
        name = g_strdup_printf ("%.155s/%.100s", (const char *) h + 345, (const char *) h);
      else
        name = g_strndup ((const char *) h, 100);
      base = strrchr (name, '/') ? strrchr (name, '/') + 1 : name;
      if (g_str_equal (base, "data_batch_1") || g_str_equal (base, "train"))
        pickles = TRUE;
      if ((type == '0' || type == '\0') && cifar_wanted (base))
        {
          guint8 *data;

          if (size > CIFAR_MAX_FILE || total + size > 4 * CIFAR_MAX_FILE)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("'%s' in '%s' is too large for a CIFAR file"), name, display);
              goto out;
            }
          data = g_try_malloc (MAX ((gsize) size, 1));
          if (data == NULL)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT, _("Out of memory reading '%s'"),
                           display);
              goto out;
            }
          if (!tar_read (&t, data, (gsize) size, error))
            {
              g_free (data);
              goto out;
            }
          g_hash_table_replace (files, g_strdup (base), g_bytes_new_take (data, (gsize) size));
          total += (gsize) size;
          if (!tar_skip (&t, padded - size, error))
            goto out;
        }
      else if (!tar_skip (&t, padded, error))
        goto out;
    }
  if (pickles && g_hash_table_size (files) == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' is the Python (pickle) version of CIFAR; Mirada reads the binary "
                     "version (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz)"), display);
      goto out;
    }
  ok = TRUE;
out:
  gzclose (t.gz);
  return ok;
}

static gboolean
folder_collect (const char *dir, GHashTable *files, GError **error)
{
  g_autoptr(GDir) d = NULL;
  GError *local = NULL;
  const char *name;

  if (!(d = g_dir_open (dir, 0, &local)))
    {
      g_autofree char *display = g_filename_display_name (dir);
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot read the folder '%s': %s"), display,
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    if (cifar_wanted (name))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        gsize len;
        char *data = mir_file_read (path, CIFAR_MAX_FILE, _("CIFAR files"), &len, error);

        if (data == NULL)
          return FALSE;
        g_hash_table_replace (files, g_strdup (name), g_bytes_new_take (data, len));
      }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* CIFAR records */

static int
compare_batches (gconstpointer a, gconstpointer b)
{
  const char *x = *(const char *const *) a, *y = *(const char *const *) b;
  guint64 nx = g_ascii_strtoull (x + 11, NULL, 10), ny = g_ascii_strtoull (y + 11, NULL, 10);

  return nx < ny ? -1 : nx > ny;
}

/* One name per line, blank lines dropped. */
static char **
names_from_text (GBytes *bytes)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *s = g_strstrip (lines[i]);
      if (*s != '\0' && g_utf8_validate (s, -1, NULL))
        g_ptr_array_add (names, g_strdup (s));
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

static MirDataset *
cifar_decode (GHashTable *files, const char *display, gboolean train, GError **error)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autoptr(MirDataset) ds = NULL;
  g_auto(GStrv) names = NULL;
  gboolean cifar100 = FALSE;
  const char *meta;
  gsize record, label_byte, records = 0;
  guint n_classes;
  gint64 k = 0;
  GHashTableIter iter;
  gpointer key;

  if (g_hash_table_contains (files, "train.bin") || g_hash_table_contains (files, "test.bin"))
    cifar100 = !g_hash_table_contains (files, "test_batch.bin");
  if (cifar100)
    {
      if (g_hash_table_contains (files, train ? "train.bin" : "test.bin"))
        g_ptr_array_add (parts, (gpointer) (train ? "train.bin" : "test.bin"));
    }
  else if (train)
    {
      g_hash_table_iter_init (&iter, files);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (g_str_has_prefix (key, "data_batch_"))
          g_ptr_array_add (parts, key);
      g_ptr_array_sort (parts, compare_batches);
    }
  else if (g_hash_table_contains (files, "test_batch.bin"))
    g_ptr_array_add (parts, (gpointer) "test_batch.bin");
  if (parts->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' has no CIFAR %s batches (expected %s)"), display,
                   train ? C_("CIFAR part", "training") : C_("CIFAR part", "test"),
                   train ? "data_batch_1.bin … data_batch_5.bin, train.bin"
                         : "test_batch.bin, test.bin");
      return NULL;
    }

  /* CIFAR-10: <label> <1024 R> <1024 G> <1024 B>; CIFAR-100: <coarse> <fine> <…>. */
  label_byte = cifar100 ? 1 : 0;
  record = label_byte + 1 + CIFAR_PIXELS;
  n_classes = cifar100 ? 100 : 10;
  for (guint p = 0; p < parts->len; p++)
    {
      GBytes *b = g_hash_table_lookup (files, parts->pdata[p]);
      gsize size = g_bytes_get_size (b);

      if (size == 0 || size % record != 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("'%s' in '%s' is not a %s file: %zu bytes is not a whole number of "
                         "%zu-byte records (truncated or another format?)"),
                       (const char *) parts->pdata[p], display,
                       cifar100 ? "CIFAR-100" : "CIFAR-10", size, record);
          return NULL;
        }
      records += size / record;
    }
  if (!(ds = mir_dataset_new ((gint64) records, CIFAR_SIDE, CIFAR_SIDE, 3, n_classes, error)))
    return NULL;
  for (guint p = 0; p < parts->len; p++)
    {
      GBytes *b = g_hash_table_lookup (files, parts->pdata[p]);
      const guint8 *data = g_bytes_get_data (b, NULL);
      gsize n = g_bytes_get_size (b) / record;

      for (gsize r = 0; r < n; r++, k++)
        {
          const guint8 *rec = data + r * record;
          const guint8 *planes = rec + label_byte + 1;
          guint8 *img = mir_dataset_get_image (ds, k);

          if (rec[label_byte] >= n_classes || (cifar100 && rec[0] >= 20))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                           _("Record %zu of '%s' in '%s' has the label %u, but %s has %u "
                             "classes (wrong record size or a damaged file?)"),
                           r, (const char *) parts->pdata[p], display, rec[label_byte],
                           cifar100 ? "CIFAR-100" : "CIFAR-10", n_classes);
              return NULL;
            }
          ds->labels[k] = rec[label_byte];
          /* planar RGB → HWC */
          for (gsize i = 0; i < CIFAR_SIDE * CIFAR_SIDE; i++)
            {
              img[3 * i] = planes[i];
              img[3 * i + 1] = planes[CIFAR_SIDE * CIFAR_SIDE + i];
              img[3 * i + 2] = planes[2 * CIFAR_SIDE * CIFAR_SIDE + i];
            }
        }
    }

  meta = cifar100 ? "fine_label_names.txt" : "batches.meta.txt";
  if (g_hash_table_contains (files, meta))
    {
      names = names_from_text (g_hash_table_lookup (files, meta));
      if (g_strv_length (names) != n_classes)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("'%s' in '%s' names %u classes, not %u"), meta, display,
                       g_strv_length (names), n_classes);
          return NULL;
        }
    }
  if (names != NULL && !mir_dataset_set_class_names (ds, (const char *const *) names, n_classes,
                                                     error))
    return NULL;
  if (names == NULL && !cifar100 &&
      !mir_dataset_set_class_names (ds, cifar10_names, n_classes, error))
    return NULL;
  return g_steal_pointer (&ds);
}

MirDataset *
mir_dataset_load_cifar (const char *path, gboolean train, GError **error)
{
  g_autoptr(GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) g_bytes_unref);
  g_autofree char *display = g_filename_display_name (path);

  g_return_val_if_fail (path != NULL, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *dir = cifar_folder (path);

      if (dir == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The folder '%s' holds no CIFAR batches (data_batch_1.bin, "
                         "test_batch.bin, train.bin or test.bin)"), display);
          return NULL;
        }
      if (!folder_collect (dir, files, error))
        return NULL;
    }
  else if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' does not exist"), display);
      return NULL;
    }
  else if (!tar_collect (path, files, error))
    return NULL;
  return cifar_decode (files, display, train, error);
}

/* ------------------------------------------------------------------ */
/* IDX folders */

MirDataset *
mir_dataset_load_idx_folder (const char *dir, gboolean train, GError **error)
{
  const char *prefix = train ? "train" : "t10k";
  g_autofree char *display = g_filename_display_name (dir);
  g_autofree char *ik = g_strconcat (prefix, "-images", NULL);
  g_autofree char *lk = g_strconcat (prefix, "-labels", NULL);
  g_autofree char *images = idx_find (dir, ik, "idx3");
  g_autofree char *labels = idx_find (dir, lk, "idx1");
  g_autofree char *names_path = g_build_filename (dir, "labels.txt", NULL);
  g_autoptr(MirDataset) ds = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  if (images == NULL || labels == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The folder '%s' has no %s-images-idx3-ubyte and %s-labels-idx1-ubyte "
                     "files (optionally .gz)"),
                   display, prefix, prefix);
      return NULL;
    }
  if (!(ds = mir_dataset_load_idx (images, labels, error)))
    return NULL;
  /* Class names: a labels.txt beside the files, one per line; else the
   * digits (MNIST). */
  if (g_file_test (names_path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *text = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_auto(GStrv) names = NULL;
      gsize len;

      if (!(text = mir_file_read (names_path, MIR_FILE_MAX_TEXT, _("labels and sidecar files"),
                                  &len, error)))
        return NULL;
      bytes = g_bytes_new_static (text, len);
      names = names_from_text (bytes);
      if (!mir_dataset_set_class_names (ds, (const char *const *) names, 0, error))
        {
          g_prefix_error (error, "%s: ", names_path);
          return NULL;
        }
    }
  else
    {
      g_auto(GStrv) digits = g_new0 (char *, ds->n_classes + 1);

      for (guint c = 0; c < ds->n_classes; c++)
        digits[c] = g_strdup_printf ("%u", c);
      if (!mir_dataset_set_class_names (ds, (const char *const *) digits, ds->n_classes, error))
        return NULL;
    }
  return g_steal_pointer (&ds);
}
