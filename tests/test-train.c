/* The trainer's parts on their own: IDX / folder datasets, batches and
 * augmentation, losses (against worked-out values and central differences)
 * and optimisers (against an independent double-precision formulation). */
#include <math.h>
#include <string.h>
#include <zlib.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "train/mir-trainer.h"

#define FMNIST MIR_FASHION_MNIST_DIR

/* ------------------------------------------------------------------ */
/* Datasets */

/* An independent read with Python's gzip + numpy: N H W, the first 20
 * labels, the pixel sums of images 0 and N-1. */
static void
python_read (const char *prefix, gint64 *n, gint64 *h, gint64 *w, guint8 *labels20,
             guint64 *sum0, guint64 *sum_last)
{
  const char *script =
    "import gzip, sys, numpy as np\n"
    "d, p = sys.argv[1], sys.argv[2]\n"
    "img = np.frombuffer(gzip.open(f'{d}/{p}-images-idx3-ubyte.gz').read(), np.uint8, offset=16)\n"
    "lab = np.frombuffer(gzip.open(f'{d}/{p}-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)\n"
    "img = img.reshape(len(lab), 28, 28)\n"
    "print(len(lab), 28, 28, ' '.join(str(int(x)) for x in lab[:20]), int(img[0].sum(dtype=np.uint64)), int(img[-1].sum(dtype=np.uint64)))\n";
  const char *argv[] = { "/usr/bin/python3", "-c", script, FMNIST, prefix, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) tok = NULL;
  GError *error = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                &error);
  g_assert_no_error (error);
  if (status != 0)
    g_printerr ("%s", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  tok = g_strsplit (g_strstrip (out), " ", -1);
  g_assert_cmpuint (g_strv_length (tok), ==, 25);
  *n = g_ascii_strtoll (tok[0], NULL, 10);
  *h = g_ascii_strtoll (tok[1], NULL, 10);
  *w = g_ascii_strtoll (tok[2], NULL, 10);
  for (int i = 0; i < 20; i++)
    labels20[i] = (guint8) g_ascii_strtoll (tok[3 + i], NULL, 10);
  *sum0 = g_ascii_strtoull (tok[23], NULL, 10);
  *sum_last = g_ascii_strtoull (tok[24], NULL, 10);
}

static guint64
image_sum (MirDataset *ds, gint64 i)
{
  const guint8 *p = mir_dataset_get_image (ds, i);
  guint64 s = 0;
  for (gsize k = 0; k < mir_dataset_image_size (ds); k++)
    s += p[k];
  return s;
}

static void
test_fashion_mnist (gconstpointer data)
{
  gboolean train = GPOINTER_TO_INT (data);
  g_autoptr(MirDataset) ds = NULL;
  GError *error = NULL;
  gint64 n, h, w;
  guint8 labels[20];
  guint64 sum0, sum_last;

  ds = mir_dataset_load_fashion_mnist (NULL, train, &error);
  g_assert_no_error (error);
  python_read (train ? "train" : "t10k", &n, &h, &w, labels, &sum0, &sum_last);
  g_assert_cmpint (ds->n, ==, train ? 60000 : 10000);
  g_assert_cmpint (ds->n, ==, n);
  g_assert_cmpint (ds->height, ==, h);
  g_assert_cmpint (ds->width, ==, w);
  g_assert_cmpint (ds->channels, ==, 1);
  for (int i = 0; i < 20; i++)
    g_assert_cmpint (ds->labels[i], ==, labels[i]);
  g_assert_cmpuint (image_sum (ds, 0), ==, sum0);
  g_assert_cmpuint (image_sum (ds, ds->n - 1), ==, sum_last);
  g_assert_cmpuint (ds->n_classes, ==, 10);
  /* growing the names from the dataset's own (the CLI adds "background") */
  {
    g_autoptr(GPtrArray) names = g_ptr_array_new ();
    for (guint i = 0; i < 10; i++)
      g_ptr_array_add (names, ds->class_names[i]);
    g_ptr_array_add (names, (gpointer) "background");
    g_assert_true (mir_dataset_set_class_names (ds, (const char *const *) names->pdata, 11, &error));
    g_assert_cmpstr (ds->class_names[10], ==, "background");
    g_assert_cmpuint (ds->n_classes, ==, 11);
  }
  g_assert_cmpstr (ds->class_names[0], ==, "T-shirt/top");
  g_assert_cmpstr (ds->class_names[9], ==, "Ankle boot");
  g_assert_null (ds->class_names[11]);
}

static void
write_gz (const char *path, const guint8 *data, gsize len)
{
  gzFile f = gzopen (path, "wb");
  g_assert_nonnull (f);
  if (len > 0)
    g_assert_cmpint (gzwrite (f, data, (unsigned) len), ==, (int) len);
  g_assert_cmpint (gzclose (f), ==, Z_OK);
}

static void
test_idx_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mir-idx-XXXXXX", NULL);
  g_autofree char *img = g_build_filename (dir, "img.gz", NULL);
  g_autofree char *lab = g_build_filename (dir, "lab.gz", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.gz", NULL);
  /* 3 images of 2×2, 3 labels */
  guint8 good_img[16 + 12] = { 0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                               1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  guint8 good_lab[8 + 3] = { 0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1 };
  guint8 bad_magic[8 + 3] = { 0, 0, 9, 1, 0, 0, 0, 3, 2, 0, 1 };
  guint8 two_lab[8 + 2] = { 0, 0, 8, 1, 0, 0, 0, 2, 2, 0 };
  g_autoptr(MirDataset) ds = NULL;
  GError *error = NULL;

  write_gz (img, good_img, sizeof good_img);
  write_gz (lab, good_lab, sizeof good_lab);
  ds = mir_dataset_load_idx (img, lab, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ds->n, ==, 3);
  g_assert_cmpuint (ds->n_classes, ==, 3);
  g_assert_cmpint (ds->labels[0], ==, 2);
  g_assert_cmpint (mir_dataset_get_image (ds, 2)[3], ==, 12);
  g_clear_pointer (&ds, mir_dataset_unref);

  /* truncated pixels */
  write_gz (img, good_img, sizeof good_img - 1);
  ds = mir_dataset_load_idx (img, lab, &error);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "truncated"));
  g_assert_null (ds);
  g_clear_error (&error);
  /* truncated header */
  write_gz (img, good_img, 6);
  g_assert_null (mir_dataset_load_idx (img, lab, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_clear_error (&error);
  /* trailing bytes */
  write_gz (img, good_img, sizeof good_img);
  {
    guint8 longer[sizeof good_lab + 1];
    memcpy (longer, good_lab, sizeof good_lab);
    longer[sizeof good_lab] = 0;
    write_gz (lab, longer, sizeof longer);
  }
  g_assert_null (mir_dataset_load_idx (img, lab, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_clear_error (&error);
  /* wrong magic */
  write_gz (lab, bad_magic, sizeof bad_magic);
  g_assert_null (mir_dataset_load_idx (img, lab, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "magic"));
  g_clear_error (&error);
  /* count mismatch */
  write_gz (lab, two_lab, sizeof two_lab);
  g_assert_null (mir_dataset_load_idx (img, lab, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_clear_error (&error);
  /* images and labels swapped */
  write_gz (lab, good_lab, sizeof good_lab);
  g_assert_null (mir_dataset_load_idx (lab, img, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_clear_error (&error);
  /* missing file */
  g_assert_null (mir_dataset_load_idx (missing, lab, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_IO);
  g_clear_error (&error);

  g_unlink (img);
  g_unlink (lab);
  g_rmdir (dir);
}

/* Fake decoder: every pixel is the file name's first byte, channel c adds c. */
static gboolean
fake_decode (const char *path, gint64 h, gint64 w, gint64 c, guint8 *pixels, gpointer user_data,
             GError **error)
{
  g_autofree char *base = g_path_get_basename (path);
  guint *calls = user_data;

  (*calls)++;
  if (g_str_has_prefix (base, "bad"))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, "cannot decode %s", base);
      return FALSE;
    }
  for (gint64 i = 0; i < h * w; i++)
    for (gint64 k = 0; k < c; k++)
      pixels[i * c + k] = (guint8) (base[0] + k);
  return TRUE;
}

static void
touch (const char *dir, const char *sub, const char *name)
{
  g_autofree char *d = g_build_filename (dir, sub, NULL);
  g_autofree char *f = g_build_filename (d, name, NULL);
  g_mkdir_with_parents (d, 0700);
  g_assert_true (g_file_set_contents (f, "x", 1, NULL));
}

static void
test_directory (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mir-dir-XXXXXX", NULL);
  g_autoptr(MirDataset) ds = NULL;
  g_autofree char *rm = NULL;
  GError *error = NULL;
  guint calls = 0;

  touch (dir, "dogs", "b.JPG");
  touch (dir, "dogs", "a.png");
  touch (dir, "cats", "c.jpeg");
  touch (dir, "cats", "notes.txt");
  touch (dir, "Zebras", "z.bmp");

  ds = mir_dataset_load_directory (dir, 4, 3, 3, fake_decode, &calls, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (calls, ==, 4);
  g_assert_cmpint (ds->n, ==, 4);
  g_assert_cmpuint (ds->n_classes, ==, 3);
  /* sorted like Python's sorted(): upper case first */
  g_assert_cmpstr (ds->class_names[0], ==, "Zebras");
  g_assert_cmpstr (ds->class_names[1], ==, "cats");
  g_assert_cmpstr (ds->class_names[2], ==, "dogs");
  g_assert_cmpint (ds->labels[0], ==, 0);
  g_assert_cmpint (ds->labels[1], ==, 1);
  g_assert_cmpint (ds->labels[2], ==, 2);
  g_assert_cmpint (ds->labels[3], ==, 2);
  g_assert_cmpint (mir_dataset_get_image (ds, 0)[0], ==, 'z');
  g_assert_cmpint (mir_dataset_get_image (ds, 2)[0], ==, 'a'); /* files sorted too */
  g_assert_cmpint (mir_dataset_get_image (ds, 3)[2], ==, 'b' + 2);
  g_clear_pointer (&ds, mir_dataset_unref);

  touch (dir, "cats", "bad.png");
  ds = mir_dataset_load_directory (dir, 4, 3, 3, fake_decode, &calls, NULL, &error);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_null (ds);
  g_clear_error (&error);

  ds = mir_dataset_load_directory ("/nonexistent/mirada", 4, 3, 3, fake_decode, &calls, NULL,
                                   &error);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_IO);
  g_clear_error (&error);

  rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_true (g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL));
}

static void
record_skip (const char *path, const GError *why, gpointer user_data)
{
  GPtrArray *skipped = user_data;

  g_assert_nonnull (why);
  g_ptr_array_add (skipped, g_path_get_basename (path));
}

/* Issue 16: a file that is not a readable image is skipped (and reported)
 * instead of aborting the whole load; a class left with nothing fails. */
static void
test_directory_skipping (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mir-dir-XXXXXX", NULL);
  g_autoptr(MirDataset) ds = NULL;
  g_autoptr(GPtrArray) skipped = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *rm = NULL;
  GError *error = NULL;
  guint calls = 0, n_skipped = 99;

  touch (dir, "dogs", "a.png");
  touch (dir, "dogs", "bad-1.png");
  touch (dir, "dogs", "c.png");
  touch (dir, "cats", "bad-2.jpg");
  touch (dir, "cats", "d.png");

  ds = mir_dataset_load_directory_skipping (dir, 4, 3, 1, fake_decode, &calls, record_skip,
                                            skipped, &n_skipped, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (calls, ==, 5);
  g_assert_cmpuint (n_skipped, ==, 2);
  g_assert_cmpuint (skipped->len, ==, 2);
  g_assert_cmpstr (skipped->pdata[0], ==, "bad-2.jpg");
  g_assert_cmpstr (skipped->pdata[1], ==, "bad-1.png");
  g_assert_cmpint (ds->n, ==, 3);
  g_assert_cmpint (ds->labels[0], ==, 0);
  g_assert_cmpint (ds->labels[1], ==, 1);
  g_assert_cmpint (ds->labels[2], ==, 1);
  g_assert_cmpint (mir_dataset_get_image (ds, 0)[0], ==, 'd');
  g_assert_cmpint (mir_dataset_get_image (ds, 1)[0], ==, 'a');
  g_assert_cmpint (mir_dataset_get_image (ds, 2)[11], ==, 'c');
  g_clear_pointer (&ds, mir_dataset_unref);

  /* the strict reader still fails on the first bad file */
  ds = mir_dataset_load_directory (dir, 4, 3, 1, fake_decode, &calls, NULL, &error);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_null (ds);
  g_clear_error (&error);

  /* a class whose every file is skipped fails, naming the class */
  touch (dir, "zz-owls", "bad-3.png");
  ds = mir_dataset_load_directory_skipping (dir, 4, 3, 1, fake_decode, &calls, NULL, NULL,
                                            NULL, NULL, &error);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "zz-owls"));
  g_assert_null (ds);
  g_clear_error (&error);

  rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_true (g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL));
}

/* Issue 16: a folder is read class by class; the split must take the same
 * fraction of every class, at random but reproducibly for a seed. */
static void
test_split_stratified (void)
{
  const guint K = 4, PER = 25;
  g_autoptr(MirDataset) ds = mir_dataset_new (K * PER, 2, 2, 1, K, NULL);
  g_autoptr(MirDataset) train = NULL;
  g_autoptr(MirDataset) val = NULL;
  g_autoptr(MirDataset) train2 = NULL;
  g_autoptr(MirDataset) val2 = NULL;
  g_autoptr(MirDataset) val3 = NULL;
  g_autoptr(MirDataset) train3 = NULL;
  g_autofree gboolean *seen = g_new0 (gboolean, K * PER);
  gint64 nt[4], nv[4];
  GError *error = NULL;
  gboolean same_order = TRUE, tail = TRUE;

  /* class by class, as the folder reader stores them; the first pixel
   * numbers the image */
  for (guint i = 0; i < K * PER; i++)
    {
      ds->labels[i] = (gint32) (i / PER);
      mir_dataset_get_image (ds, i)[0] = (guint8) i;
    }

  g_assert_true (mir_dataset_split_stratified (ds, 0.1, 7, &train, &val, &error));
  g_assert_no_error (error);
  g_assert_cmpint (train->n + val->n, ==, K * PER);
  mir_dataset_count_classes (train, nt);
  mir_dataset_count_classes (val, nv);
  for (guint c = 0; c < K; c++)
    {
      /* round(0.1 × 25) = 3 (half up) of every class, the last one too */
      g_assert_cmpint (nv[c], ==, 3);
      g_assert_cmpint (nt[c], ==, 22);
    }
  g_assert_cmpstr (val->class_names[3], ==, ds->class_names[3]);
  /* every image once, with its own label; not simply the tail of each class */
  for (gint64 i = 0; i < train->n + val->n; i++)
    {
      MirDataset *d = i < train->n ? train : val;
      gint64 j = i < train->n ? i : i - train->n;
      guint id = mir_dataset_get_image (d, j)[0];

      g_assert_false (seen[id]);
      seen[id] = TRUE;
      g_assert_cmpint (d->labels[j], ==, (gint32) (id / PER));
      if (d == val && id % PER < PER - 3)
        tail = FALSE;
    }
  g_assert_false (tail);

  /* the same seed, the same split; another seed, another one */
  g_assert_true (mir_dataset_split_stratified (ds, 0.1, 7, &train2, &val2, &error));
  g_assert_cmpint (val2->n, ==, val->n);
  g_assert_cmpmem (val2->pixels, (gsize) val->n * 4, val->pixels, (gsize) val->n * 4);
  g_assert_cmpmem (train2->pixels, (gsize) train->n * 4, train->pixels, (gsize) train->n * 4);
  g_assert_true (mir_dataset_split_stratified (ds, 0.1, 8, &train3, &val3, &error));
  for (gint64 i = 0; i < val->n; i++)
    same_order = same_order && mir_dataset_get_image (val3, i)[0] == mir_dataset_get_image (val, i)[0];
  g_assert_false (same_order);
  g_clear_pointer (&train2, mir_dataset_unref);
  g_clear_pointer (&val2, mir_dataset_unref);

  /* 0: everything trains; a class of one image keeps it for training */
  g_assert_true (mir_dataset_split_stratified (ds, 0, 7, &train2, &val2, &error));
  g_assert_null (val2);
  g_assert_true (train2 == ds);
  g_clear_pointer (&train2, mir_dataset_unref);
  g_assert_false (mir_dataset_split_stratified (ds, 1.0, 7, &train2, &val2, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autoptr(MirDataset) tiny = mir_dataset_new (3, 2, 2, 1, 2, NULL);
    tiny->labels[0] = 0;
    tiny->labels[1] = 1;
    tiny->labels[2] = 1;
    g_assert_true (mir_dataset_split_stratified (tiny, 0.5, 1, &train2, &val2, &error));
    mir_dataset_count_classes (val2, nv);
    g_assert_cmpint (nv[0], ==, 0);
    g_assert_cmpint (nv[1], ==, 1);
    g_clear_pointer (&train2, mir_dataset_unref);
    g_clear_pointer (&val2, mir_dataset_unref);
    g_assert_false (mir_dataset_split_stratified (tiny, 0.1, 1, &train2, &val2, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
    g_clear_error (&error);
  }
}

static void
test_split_and_batch (void)
{
  g_autoptr(MirDataset) ds = mir_dataset_new (10, 5, 6, 1, 2, NULL);
  g_autoptr(MirDataset) train = NULL;
  g_autoptr(MirDataset) val = NULL;
  g_autoptr(MirTensor) batch = mir_tensor_new_4d (10, 5, 6, 1, NULL);
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  MirAugmentOptions aug = { .max_shift = 2, .flip = TRUE };
  guint idx[10];
  gint32 labels[10];
  GError *error = NULL;
  guint flips = 0, shifts = 0;

  for (gint64 i = 0; i < ds->n; i++)
    {
      guint8 *p = mir_dataset_get_image (ds, i);
      ds->labels[i] = (gint32) (i % 2);
      for (gsize k = 0; k < mir_dataset_image_size (ds); k++)
        p[k] = (guint8) (1 + g_rand_int_range (rng, 0, 255));
    }

  g_assert_true (mir_dataset_split (ds, 0.2, &train, &val, &error));
  g_assert_no_error (error);
  g_assert_cmpint (train->n, ==, 8);
  g_assert_cmpint (val->n, ==, 2);
  g_assert_cmpmem (mir_dataset_get_image (val, 0), 30, mir_dataset_get_image (ds, 8), 30);
  g_clear_pointer (&train, mir_dataset_unref);
  g_clear_pointer (&val, mir_dataset_unref);
  g_assert_false (mir_dataset_split (ds, 1.0, &train, &val, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);

  for (guint i = 0; i < 10; i++)
    idx[i] = i;
  mir_shuffle_indices (idx, 10, rng);
  {
    guint seen = 0;
    for (guint i = 0; i < 10; i++)
      seen |= 1u << idx[i];
    g_assert_cmpuint (seen, ==, 0x3ff);
  }

  /* scale: x / 255 */
  g_assert_true (mir_dataset_fill_batch (ds, idx, 10, batch, labels, MIR_PREPROCESS_SCALE, NULL,
                                         NULL, &error));
  g_assert_no_error (error);
  for (guint b = 0; b < 10; b++)
    {
      const guint8 *p = mir_dataset_get_image (ds, idx[b]);
      g_assert_cmpint (labels[b], ==, ds->labels[idx[b]]);
      for (guint k = 0; k < 30; k++)
        g_assert_cmpfloat_with_epsilon (batch->data[b * 30 + k], p[k] / 255.0, 1e-7);
    }

  /* augmentation: every output is the input shifted by |d| <= 2 and
   * possibly flipped, zero outside */
  for (guint round = 0; round < 20; round++)
    {
      g_assert_true (mir_dataset_fill_batch (ds, idx, 10, batch, NULL, MIR_PREPROCESS_NONE, &aug,
                                             rng, &error));
      for (guint b = 0; b < 10; b++)
        {
          const guint8 *p = mir_dataset_get_image (ds, idx[b]);
          const float *o = batch->data + b * 30;
          gboolean found = FALSE;
          for (int f = 0; f < 2 && !found; f++)
            for (int dy = -2; dy <= 2 && !found; dy++)
              for (int dx = -2; dx <= 2 && !found; dx++)
                {
                  gboolean ok = TRUE;
                  for (int y = 0; y < 5 && ok; y++)
                    for (int x = 0; x < 6 && ok; x++)
                      {
                        int sy = y - dy, sx0 = f ? 5 - x : x, sx = sx0 - dx;
                        float want = (sy >= 0 && sy < 5 && sx >= 0 && sx < 6) ? p[sy * 6 + sx] : 0;
                        ok = o[y * 6 + x] == want;
                      }
                  if (ok)
                    {
                      found = TRUE;
                      flips += f;
                      shifts += dx != 0 || dy != 0;
                    }
                }
          g_assert_true (found);
        }
    }
  /* 200 samples: both flips and shifts happen (p(no flip) = 2^-200) */
  g_assert_cmpuint (flips, >, 50);
  g_assert_cmpuint (shifts, >, 100);

  /* shape mismatch */
  {
    g_autoptr(MirTensor) wrong = mir_tensor_new_4d (10, 6, 5, 1, NULL);
    g_assert_false (mir_dataset_fill_batch (ds, idx, 10, wrong, NULL, MIR_PREPROCESS_NONE, NULL,
                                            NULL, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
    g_clear_error (&error);
  }
}

/* ------------------------------------------------------------------ */
/* Losses */

static double
loss_of (MirLossKind kind, const MirTensor *z, const gint32 *labels)
{
  MirLossResult r;
  GError *error = NULL;
  g_assert_true (mir_loss_compute (kind, z, labels, NULL, &r, &error));
  g_assert_no_error (error);
  return r.loss / (double) z->shape[0];
}

static void
check_loss_grad (MirLossKind kind, gint64 N, gint64 K, const gint32 *labels)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (99);
  gint64 shape[2] = { N, K };
  g_autoptr(MirTensor) z = mir_test_random_tensor (2, shape, -3, 3, rng);
  g_autoptr(MirTensor) g = mir_tensor_new_like (z, NULL);
  MirLossResult r;
  double diff2 = 0, ana2 = 0, num2 = 0, rel;
  const double eps = 1e-2;

  g_assert_true (mir_loss_compute (kind, z, labels, g, &r, NULL));
  for (gsize i = 0; i < z->numel; i++)
    {
      float saved = z->data[i];
      double lp, lm, num;
      z->data[i] = (float) (saved + eps);
      lp = loss_of (kind, z, labels);
      z->data[i] = (float) (saved - eps);
      lm = loss_of (kind, z, labels);
      z->data[i] = saved;
      num = (lp - lm) / (2 * eps);
      diff2 += (num - g->data[i]) * (num - g->data[i]);
      ana2 += (double) g->data[i] * g->data[i];
      num2 += num * num;
    }
  rel = sqrt (diff2) / (sqrt (ana2) + sqrt (num2));
  g_test_message ("loss %d: gradient rel error %.3g", kind, rel);
  /* the style guide's bound for central differences in double */
  g_assert_cmpfloat (rel, <=, 1e-4);
}

static void
test_softmax_cross_entropy (void)
{
  gint64 shape[2] = { 2, 3 };
  g_autoptr(MirTensor) z = mir_tensor_new (2, shape, NULL);
  g_autoptr(MirTensor) g = mir_tensor_new_like (z, NULL);
  gint32 labels[2] = { 2, 1 };
  gint32 bad[2] = { 3, 0 };
  gint32 many[5] = { 0, 3, 1, 2, 3 };
  MirLossResult r;
  GError *error = NULL;
  const float zz[6] = { 1, 2, 3, 1000, 0, -1000 };
  /* worked out: log(e + e^2 + e^3) - 3 = 0.40760596444; second sample:
   * log-sum-exp = 1000, loss = 1000 - 0 */
  double want = 0.40760596444 + 1000.0;
  double p2[3];

  memcpy (z->data, zz, sizeof zz);
  g_assert_true (mir_loss_compute (MIR_LOSS_SOFTMAX_CROSS_ENTROPY, z, labels, g, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (r.loss, want, 1e-6);
  g_assert_cmpuint (r.n_correct, ==, 1); /* sample 0 argmax 2 right, sample 1 argmax 0 wrong */
  /* gradient = (softmax - onehot) / N */
  {
    double s = exp (1) + exp (2) + exp (3);
    p2[0] = exp (1) / s;
    p2[1] = exp (2) / s;
    p2[2] = exp (3) / s - 1;
  }
  for (int k = 0; k < 3; k++)
    g_assert_cmpfloat_with_epsilon (g->data[k], p2[k] / 2, 1e-7);
  g_assert_cmpfloat_with_epsilon (g->data[3], 0.5, 1e-7);
  g_assert_cmpfloat_with_epsilon (g->data[4], -0.5, 1e-7);
  g_assert_cmpfloat_with_epsilon (g->data[5], 0.0, 1e-7);

  g_assert_false (mir_loss_compute (MIR_LOSS_SOFTMAX_CROSS_ENTROPY, z, bad, g, &r, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);

  check_loss_grad (MIR_LOSS_SOFTMAX_CROSS_ENTROPY, 5, 4, many);
}

static void
test_binary_cross_entropy (void)
{
  gint64 shape[2] = { 3, 1 };
  g_autoptr(MirTensor) z = mir_tensor_new (2, shape, NULL);
  g_autoptr(MirTensor) g = mir_tensor_new_like (z, NULL);
  gint32 labels[3] = { 1, 0, 1 };
  gint32 multi[4] = { 0, 2, 1, 2 };
  MirLossResult r;
  const float zz[3] = { 0, 2, -200 };
  /* worked out: log 2; -log(1 - σ(2)) = log(1 + e^2) = 2.126928011; -log σ(-200) ≈ 200 */
  double want = log (2) + 2.126928011 + 200.0;

  memcpy (z->data, zz, sizeof zz);
  g_assert_true (mir_loss_compute (MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY, z, labels, g, &r, NULL));
  g_assert_cmpfloat_with_epsilon (r.loss, want, 1e-6);
  g_assert_cmpuint (r.n_correct, ==, 0);
  g_assert_cmpfloat_with_epsilon (g->data[0], (0.5 - 1) / 3, 1e-7);
  g_assert_cmpfloat_with_epsilon (g->data[1], 1 / (1 + exp (-2)) / 3, 1e-7);
  g_assert_cmpfloat_with_epsilon (g->data[2], -1.0 / 3, 1e-7);

  check_loss_grad (MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY, 3, 1, labels);
  check_loss_grad (MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY, 4, 3, multi);
}

/* ------------------------------------------------------------------ */
/* Optimisers */

static void
test_sgd_momentum (void)
{
  MirOptimizerOptions o;
  g_autoptr(MirOptimizer) opt = NULL;
  g_autoptr(MirTensor) w = mir_tensor_new_2d (1, 3, NULL);
  g_autoptr(MirTensor) g = mir_tensor_new_2d (1, 3, NULL);
  const float grad[3] = { 1.0f, -2.0f, 0.5f };
  const double lr = 0.1, mu = 0.9;
  GError *error = NULL;

  mir_optimizer_options_init (&o, MIR_OPTIMIZER_SGD);
  g_assert_cmpfloat (o.learning_rate, ==, 0.01);
  o.learning_rate = lr;
  o.momentum = mu;
  opt = mir_optimizer_new (&o, &error);
  g_assert_no_error (error);
  memcpy (g->data, grad, sizeof grad);
  /* constant gradient: v_t = -lr g (1 - mu^t) / (1 - mu), w_t = sum v */
  for (int t = 1; t <= 10; t++)
    {
      mir_optimizer_begin_step (opt);
      g_assert_true (mir_optimizer_update (opt, w, g, &error));
    }
  for (int k = 0; k < 3; k++)
    {
      double sum = 0;
      for (int t = 1; t <= 10; t++)
        sum += -lr * grad[k] * (1 - pow (mu, t)) / (1 - mu);
      g_assert_cmpfloat_with_epsilon (w->data[k], sum, 1e-5 * fabs (sum));
    }

  o.momentum = 1.5;
  g_assert_null (mir_optimizer_new (&o, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
}

static void
test_adam (void)
{
  MirOptimizerOptions o;
  g_autoptr(MirOptimizer) opt = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  gint64 shape[1] = { 16 };
  g_autoptr(MirTensor) w = mir_test_random_tensor (1, shape, -1, 1, rng);
  g_autoptr(MirTensor) g = mir_tensor_new_like (w, NULL);
  double rw[16], m[16] = { 0 }, v[16] = { 0 };
  GError *error = NULL;

  mir_optimizer_options_init (&o, MIR_OPTIMIZER_ADAM);
  g_assert_cmpfloat (o.learning_rate, ==, 0.001);
  g_assert_cmpfloat (o.beta1, ==, 0.9);
  g_assert_cmpfloat (o.beta2, ==, 0.999);
  g_assert_cmpfloat (o.epsilon, ==, 1e-7);
  opt = mir_optimizer_new (&o, &error);
  for (int i = 0; i < 16; i++)
    rw[i] = w->data[i];

  /* Reference: Kingma & Ba with bias-corrected moments, and Keras' epsilon
   * (added to sqrt(v) before correction): w -= lr m^ / (sqrt(v^) + eps / sqrt(1 - b2^t)). */
  for (int t = 1; t <= 50; t++)
    {
      for (int i = 0; i < 16; i++)
        g->data[i] = (float) (2 * (w->data[i] - 0.25 * i) + 0.1 * sin (t + i));
      if (t == 1)
        {
          float before[16];
          memcpy (before, w->data, sizeof before);
          mir_optimizer_begin_step (opt);
          g_assert_true (mir_optimizer_update (opt, w, g, &error));
          /* first step: m^/sqrt(v^) = sign(g), a step of lr */
          for (int i = 0; i < 16; i++)
            g_assert_cmpfloat_with_epsilon (before[i] - w->data[i],
                                            0.001 * (g->data[i] > 0 ? 1 : -1), 1e-6);
        }
      else
        {
          mir_optimizer_begin_step (opt);
          g_assert_true (mir_optimizer_update (opt, w, g, &error));
        }
      for (int i = 0; i < 16; i++)
        {
          double gi = g->data[i];
          double mh, vh;
          m[i] = 0.9 * m[i] + 0.1 * gi;
          v[i] = 0.999 * v[i] + 0.001 * gi * gi;
          mh = m[i] / (1 - pow (0.9, t));
          vh = v[i] / (1 - pow (0.999, t));
          rw[i] -= 0.001 * mh / (sqrt (vh) + 1e-7 / sqrt (1 - pow (0.999, t)));
        }
    }
  for (int i = 0; i < 16; i++)
    g_assert_cmpfloat_with_epsilon (w->data[i], rw[i], 2e-6);
  g_assert_cmpuint (mir_optimizer_get_iterations (opt), ==, 50);
}

/* Both optimisers minimise a quadratic. */
static void
test_quadratic (void)
{
  for (int kind = 0; kind < 2; kind++)
    {
      MirOptimizerOptions o;
      g_autoptr(MirOptimizer) opt = NULL;
      g_autoptr(MirTensor) w = mir_tensor_new_2d (2, 2, NULL);
      g_autoptr(MirTensor) g = mir_tensor_new_like (w, NULL);

      mir_optimizer_options_init (&o, kind ? MIR_OPTIMIZER_ADAM : MIR_OPTIMIZER_SGD);
      o.learning_rate = kind ? 0.05 : 0.05;
      o.momentum = 0.9;
      opt = mir_optimizer_new (&o, NULL);
      for (int t = 0; t < 2000; t++)
        {
          for (int i = 0; i < 4; i++)
            g->data[i] = 2 * (w->data[i] - (float) (i - 1.5));
          mir_optimizer_begin_step (opt);
          g_assert_true (mir_optimizer_update (opt, w, g, NULL));
        }
      for (int i = 0; i < 4; i++)
        g_assert_cmpfloat_with_epsilon (w->data[i], i - 1.5, 1e-3);
    }
}


/* ------------------------------------------------------------------ */
/* Training a tiny model */

/* Input 4×4×1 -> Flatten -> Dense(8, relu) -> Dense(K, softmax|sigmoid). */
static MirModel *
toy_model (guint k, const char *head, guint32 seed)
{
  g_autoptr(MirModel) model = mir_model_new ("toy");
  MirShape in = { 4, { -1, 4, 4, 1 } };
  g_autoptr(MirLayer) flat = mir_test_layer_new ("Flatten", "flatten", "{}");
  g_autoptr(MirLayer) hidden = mir_test_layer_new ("Dense", "hidden", "{\"units\": 8, \"activation\": \"relu\"}");
  g_autofree char *json = g_strdup_printf ("{\"units\": %u, \"activation\": \"%s\"}", k, head);
  g_autoptr(MirLayer) out = mir_test_layer_new ("Dense", "out", json);
  GError *error = NULL;
  guint i = 0;

  g_assert_cmpint (mir_model_add_input (model, "input", &in, &error), ==, 0);
  i = (guint) mir_model_add_node (model, "flatten", flat, &i, 1, NULL, &error);
  i = (guint) mir_model_add_node (model, "hidden", hidden, &i, 1, NULL, &error);
  i = (guint) mir_model_add_node (model, "out", out, &i, 1, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mir_model_set_outputs (model, &i, 1, &error));
  g_assert_true (mir_model_finish (model, TRUE, seed, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&model);
}

/* Two classes: noise in [0, 100), plus 35 on the top half (class 0) or the
 * bottom half (class 1). */
static MirDataset *
toy_dataset (gint64 n, guint32 seed)
{
  MirDataset *ds = mir_dataset_new (n, 4, 4, 1, 2, NULL);
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);

  for (gint64 i = 0; i < n; i++)
    {
      guint8 *p = mir_dataset_get_image (ds, i);
      gint32 y = g_rand_int_range (rng, 0, 2);
      ds->labels[i] = y;
      for (int k = 0; k < 16; k++)
        p[k] = (guint8) (g_rand_int_range (rng, 0, 100) + (((k < 8) == (y == 0)) ? 35 : 0));
    }
  return ds;
}

/* The gradient the trainer feeds back (loss from logits) matches central
 * differences of -log(p_y) computed from the model's ordinary softmax
 * output, for every weight. */
static void
test_model_gradient (void)
{
  g_autoptr(MirModel) model = toy_model (3, "softmax", 3);
  g_autoptr(MirDataset) ds = toy_dataset (6, 4);
  g_autoptr(MirTensor) x = mir_tensor_new_4d (6, 4, 4, 1, NULL);
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) grad = NULL;
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  guint idx[6] = { 0, 1, 2, 3, 4, 5 };
  gint32 labels[6];
  MirLossResult r;
  GError *error = NULL;
  double diff2 = 0, ana2 = 0, num2 = 0, rel;
  const double eps = 1e-3;

  labels[0] = 0;
  g_assert_true (mir_dataset_fill_batch (ds, idx, 6, x, labels, MIR_PREPROCESS_SCALE, NULL, NULL,
                                         &error));
  labels[5] = 2; /* use the third class too */
  trace = mir_model_run (model, &x, 1, MIR_RUN_TRAINING | MIR_RUN_FOR_BACKWARD | MIR_RUN_LOGITS,
                         -1, 0, NULL, &error);
  g_assert_no_error (error);
  grad = mir_tensor_new_like (mir_trace_get_output (trace, 0), NULL);
  g_assert_true (mir_loss_compute (MIR_LOSS_SOFTMAX_CROSS_ENTROPY, mir_trace_get_output (trace, 0),
                                   labels, grad, &r, &error));
  g_assert_true (mir_trace_backward (trace, mir_model_get_output (model, 0), grad, -1,
                                     MIR_BACKWARD_WEIGHTS, NULL, &error));
  g_assert_no_error (error);

  for (guint l = 0; l < layers->len; l++)
    {
      MirLayer *layer = layers->pdata[l];
      for (guint j = 0; j < layer->n_weights; j++)
        {
          MirTensor *w = layer->weights[j].value;
          MirTensor *g = mir_trace_get_weight_grad (trace, layer, j);
          g_assert_nonnull (g);
          for (gsize i = 0; i < w->numel; i += 3)
            {
              float saved = w->data[i];
              double lp = 0, lm = 0, num;
              for (int side = 0; side < 2; side++)
                {
                  g_autoptr(MirTensor) p = NULL;
                  double L = 0;
                  w->data[i] = (float) (saved + (side ? -eps : eps));
                  mir_tensor_changed (w);
                  p = mir_model_predict (model, x, NULL, &error);
                  g_assert_no_error (error);
                  for (int n = 0; n < 6; n++)
                    L -= log ((double) p->data[n * 3 + labels[n]]) / 6;
                  if (side)
                    lm = L;
                  else
                    lp = L;
                }
              w->data[i] = saved;
              mir_tensor_changed (w);
              num = (lp - lm) / (2 * eps);
              diff2 += (num - g->data[i]) * (num - g->data[i]);
              ana2 += (double) g->data[i] * g->data[i];
              num2 += num * num;
            }
        }
    }
  rel = sqrt (diff2) / (sqrt (ana2) + sqrt (num2));
  g_test_message ("model gradient rel error %.3g", rel);
  /* float32 forward passes with eps 1e-3: rounding noise ~ 1e-7 / 1e-3 per
   * difference; 1e-2 leaves room for it and still fails on a wrong seed
   * (a missing 1/N or softmax Jacobian gives errors of order 1). */
  g_assert_cmpfloat (rel, <=, 1e-2);
}

typedef struct
{
  guint epochs_seen;
  double first_loss, last_loss, last_val_accuracy;
  GCancellable *cancel_in_epoch;  /* cancel during this epoch's batches */
  guint cancel_epoch;
  MirModel *model;
  float *saved;                  /* weights at the end of the last epoch */
  gsize n_saved;
} ToyRun;

static void
save_weights (MirModel *model, float **buf, gsize *n)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  gsize total = 0, off = 0;

  for (guint l = 0; l < layers->len; l++)
    for (guint j = 0; j < ((MirLayer *) layers->pdata[l])->n_weights; j++)
      total += ((MirLayer *) layers->pdata[l])->weights[j].value->numel;
  g_free (*buf);
  *buf = g_new (float, total);
  *n = total;
  for (guint l = 0; l < layers->len; l++)
    for (guint j = 0; j < ((MirLayer *) layers->pdata[l])->n_weights; j++)
      {
        MirTensor *t = ((MirLayer *) layers->pdata[l])->weights[j].value;
        memcpy (*buf + off, t->data, t->numel * sizeof (float));
        off += t->numel;
      }
}

static void
toy_epoch_cb (const MirEpochStats *stats, gpointer user_data)
{
  ToyRun *run = user_data;

  g_test_message ("epoch %u/%u: loss %.4f acc %.4f val_loss %.4f val_acc %.4f (%.3f s)",
                  stats->epoch, stats->n_epochs, stats->loss, stats->accuracy, stats->val_loss,
                  stats->val_accuracy, stats->seconds);
  g_assert_true (stats->has_validation);
  g_assert_true (isfinite (stats->loss));
  if (stats->epoch == 1)
    run->first_loss = stats->loss;
  run->last_loss = stats->loss;
  run->last_val_accuracy = stats->val_accuracy;
  run->epochs_seen = stats->epoch;
  if (run->model)
    save_weights (run->model, &run->saved, &run->n_saved);
}

static void
toy_batch_cb (guint epoch, guint batch, guint n_batches, double loss, gpointer user_data)
{
  ToyRun *run = user_data;
  if (run->cancel_in_epoch && epoch == run->cancel_epoch && batch == n_batches / 2)
    g_cancellable_cancel (run->cancel_in_epoch);
}

static void
test_train_toy (gconstpointer data)
{
  const char *head = data;
  gboolean sigmoid = g_str_equal (head, "sigmoid");
  g_autoptr(MirModel) model = toy_model (sigmoid ? 1 : 2, head, 11);
  g_autoptr(MirDataset) train = toy_dataset (256, 1);
  g_autoptr(MirDataset) val = toy_dataset (200, 2);
  MirTrainOptions o;
  ToyRun run = { 0 };
  GError *error = NULL;
  guint done = 0;
  double acc = 0;

  mir_train_options_init (&o);
  o.epochs = 20;          /* 16 batches per epoch: 320 steps */
  o.batch_size = 16;
  o.optimizer.learning_rate = 0.01;
  o.seed = 42;
  o.validation = val;
  o.epoch_func = toy_epoch_cb;
  o.user_data = &run;
  g_assert_cmpint (mir_loss_kind_for_model (model), ==,
                   sigmoid ? MIR_LOSS_SIGMOID_BINARY_CROSS_ENTROPY : MIR_LOSS_SOFTMAX_CROSS_ENTROPY);
  g_assert_true (mir_train (model, train, &o, &done, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (done, ==, 20);
  g_assert_cmpuint (run.epochs_seen, ==, 20);
  g_assert_cmpfloat (run.last_loss, <, run.first_loss);
  g_assert_cmpfloat (run.last_val_accuracy, >, 0.95);
  /* an independent evaluation agrees with the last epoch's */
  g_assert_true (mir_evaluate_dataset (model, val, MIR_PREPROCESS_SCALE, 7, NULL, &acc, NULL,
                                       &error));
  g_assert_cmpfloat_with_epsilon (acc, run.last_val_accuracy, 1e-12);
  g_test_message ("%s: final validation accuracy %.3f", head, acc);
}

/* Cancelled half-way through epoch 3: the weights are those at the end of
 * epoch 2, and the same seed gives the same run. */
static void
test_train_cancel (void)
{
  g_autoptr(MirModel) model = toy_model (2, "softmax", 11);
  g_autoptr(MirDataset) train = toy_dataset (256, 1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree float *now = NULL;
  gsize n_now = 0;
  MirTrainOptions o;
  ToyRun run = { 0 };
  GError *error = NULL;
  guint done = 99;

  mir_train_options_init (&o);
  o.epochs = 5;
  o.batch_size = 16;
  o.optimizer.learning_rate = 0.01;
  o.validation_split = 0.25;
  o.augment.flip = TRUE;
  o.epoch_func = toy_epoch_cb;
  o.batch_func = toy_batch_cb;
  o.user_data = &run;
  run.model = model;
  run.cancel_in_epoch = cancellable;
  run.cancel_epoch = 3;
  g_assert_false (mir_train (model, train, &o, &done, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (done, ==, 2);
  g_assert_cmpuint (run.epochs_seen, ==, 2);
  save_weights (model, &now, &n_now);
  g_assert_cmpuint (n_now, ==, run.n_saved);
  g_assert_cmpmem (now, n_now * sizeof (float), run.saved, run.n_saved * sizeof (float));
  g_free (run.saved);
}

/* ------------------------------------------------------------------ */
/* Data-parallel steps */

#define DP_CONV(name, filters, extra) \
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"" name "\", \"filters\": " #filters "," \
  " \"kernel_size\": [3, 3], \"padding\": \"same\"" extra "}}"

#define DP_DENSE(name, units, act) \
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"" name "\", \"units\": " #units "," \
  " \"activation\": \"" act "\"}}"
#define DP_FLATTEN "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}}"

/* A Sequential model on @h×@w×@c inputs with the given layers (Keras JSON). */
static MirModel *
dp_model (int h, int w, int c, const char *layers, guint32 seed)
{
  g_autofree char *json = g_strdup_printf (
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"dp\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %d, %d, %d],"
    " \"name\": \"in\"}}, %s]}}", h, w, c, layers);
  GError *error = NULL;
  MirModel *model = mir_keras_model_from_config (json, -1, &error);

  g_assert_no_error (error);
  g_assert_true (mir_model_finish (model, TRUE, seed, &error));
  return model;
}

static MirTensor *
dp_batch (gint64 n, gint64 h, gint64 w, gint64 c, gint32 *labels, gint32 k, guint32 seed)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  MirTensor *x = mir_tensor_new_4d (n, h, w, c, NULL);

  for (gsize i = 0; i < x->numel; i++)
    x->data[i] = (float) g_rand_double_range (rng, -1, 1);
  for (gint64 i = 0; i < n; i++)
    labels[i] = g_rand_int_range (rng, 0, k);
  return x;
}

/* max |a - b| / max |a| over one gradient */
static double
dp_rel_diff (const MirTensor *a, const MirTensor *b)
{
  double d = 0, m = 0;

  g_assert_true (mir_tensor_same_shape (a, b));
  for (gsize i = 0; i < a->numel; i++)
    {
      d = MAX (d, fabs ((double) a->data[i] - b->data[i]));
      m = MAX (m, fabs ((double) a->data[i]));
    }
  g_assert_cmpfloat (m, >, 0); /* the check is not vacuous */
  return d / m;
}

/* Two workers give the gradients of one: each worker's summed share of the
 * batch mean equals the whole batch's (batch 7 splits 4 + 3).  The float
 * sums are grouped differently, so a relative 1e-5 of each tensor's largest
 * value (float32 rounding is ~1e-7; a missing n_w / n scale or a lost part
 * gives errors of order 0.1 or more). */
static void
test_data_parallel_gradients (void)
{
  const char *layers =
    DP_CONV ("c1", 4, ", \"activation\": \"relu\"") ","
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p1\", \"pool_size\": [2, 2]}},"
    DP_CONV ("c2", 5, ", \"activation\": \"relu\"") "," DP_FLATTEN ","
    DP_DENSE ("d1", 6, "relu") "," DP_DENSE ("d2", 3, "softmax");
  g_autoptr(MirModel) model = dp_model (8, 8, 2, layers, 5);
  gint32 labels[7];
  g_autoptr(MirTensor) x = dp_batch (7, 8, 8, 2, labels, 3, 9);
  g_autoptr(GPtrArray) g1 = NULL;
  g_autoptr(GPtrArray) g2 = NULL;
  GError *error = NULL;
  double l1 = 0, l2 = 0, worst = 0;

  g_assert_true (mir_train_gradients (model, x, labels, 1, 3, &g1, &l1, &error));
  g_assert_no_error (error);
  g_assert_true (mir_train_gradients (model, x, labels, 2, 3, &g2, &l2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g1->len, ==, 8); /* kernel and bias of 4 layers */
  g_assert_cmpuint (g2->len, ==, g1->len);
  g_assert_cmpfloat (fabs (l1 - l2), <=, 1e-6 * l1);
  for (guint i = 0; i < g1->len; i++)
    worst = MAX (worst, dp_rel_diff (g1->pdata[i], g2->pdata[i]));
  g_test_message ("1 vs 2 workers: largest relative gradient difference %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-5);
}

/* With BatchNormalization each worker normalises its part with the part's
 * statistics ("ghost batch norm"): the 2-worker gradient is the mean of the
 * 1-worker gradients of the two halves, and the moving statistics are the
 * mean of the ones each half gives.  Same tolerance as above. */
static void
test_data_parallel_batchnorm (void)
{
  const char *layers =
    DP_CONV ("c1", 3, "") ","
    "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", \"momentum\": 0.5}},"
    "{\"class_name\": \"Activation\", \"config\": {\"name\": \"a\", \"activation\": \"relu\"}},"
    DP_FLATTEN "," DP_DENSE ("d", 3, "softmax");
  g_autoptr(MirModel) model = dp_model (4, 4, 2, layers, 7);
  gint32 labels[8];
  g_autoptr(MirTensor) x = dp_batch (8, 4, 4, 2, labels, 3, 11);
  g_autoptr(GPtrArray) layer_list = mir_model_dup_layers (model);
  MirLayer *bn = NULL;
  g_autoptr(GPtrArray) g2 = NULL;
  g_autoptr(GPtrArray) ga = NULL;
  g_autoptr(GPtrArray) gb = NULL;
  g_autoptr(MirTensor) m0 = NULL, v0 = NULL, m2 = NULL, v2 = NULL, ma = NULL, va = NULL;
  GError *error = NULL;
  double worst = 0;

  for (guint l = 0; l < layer_list->len; l++)
    if (g_str_equal (((MirLayer *) layer_list->pdata[l])->name, "bn"))
      bn = layer_list->pdata[l];
  g_assert_nonnull (bn);
  g_assert_cmpuint (bn->n_weights, ==, 4); /* gamma, beta, moving mean, moving variance */
  m0 = mir_tensor_dup (bn->weights[2].value, NULL);
  v0 = mir_tensor_dup (bn->weights[3].value, NULL);

  g_assert_true (mir_train_gradients (model, x, labels, 2, 1, &g2, NULL, &error));
  g_assert_no_error (error);
  m2 = mir_tensor_dup (bn->weights[2].value, NULL);
  v2 = mir_tensor_dup (bn->weights[3].value, NULL);

  for (int half = 0; half < 2; half++)
    {
      g_autoptr(MirTensor) part = mir_tensor_view_batch (x, 4 * half, 4);
      mir_tensor_copy_data (bn->weights[2].value, m0);
      mir_tensor_copy_data (bn->weights[3].value, v0);
      g_assert_true (mir_train_gradients (model, part, labels + 4 * half, 1, 1,
                                          half ? &gb : &ga, NULL, &error));
      g_assert_no_error (error);
      if (half == 0)
        {
          ma = mir_tensor_dup (bn->weights[2].value, NULL);
          va = mir_tensor_dup (bn->weights[3].value, NULL);
        }
    }
  g_assert_cmpuint (g2->len, ==, 6);
  for (guint i = 0; i < g2->len; i++)
    {
      MirTensor *a = ga->pdata[i], *b = gb->pdata[i];
      for (gsize k = 0; k < a->numel; k++)
        a->data[k] = (float) (0.5 * ((double) a->data[k] + b->data[k]));
      worst = MAX (worst, dp_rel_diff (a, g2->pdata[i]));
    }
  g_test_message ("ghost batch norm: largest relative gradient difference %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-5);
  for (gsize k = 0; k < m0->numel; k++)
    {
      /* ma, va: after half 0; the layer holds half 1's */
      double mean = 0.5 * ((double) ma->data[k] + bn->weights[2].value->data[k]);
      double var = 0.5 * ((double) va->data[k] + bn->weights[3].value->data[k]);
      g_assert_cmpfloat (fabs (m2->data[k] - m0->data[k]), >, 1e-4); /* they moved */
      g_assert_cmpfloat_with_epsilon (m2->data[k], mean, 1e-6);
      g_assert_cmpfloat_with_epsilon (v2->data[k], var, 1e-6);
    }
}

/* Dropout on two workers: the same seed and worker count give bit-identical
 * weights after training; another seed gives others. */
static void
test_data_parallel_reproducible (void)
{
  const char *layers =
    DP_FLATTEN "," DP_DENSE ("h", 16, "relu") ","
    "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"drop\", \"rate\": 0.4}},"
    DP_DENSE ("o", 2, "softmax");
  g_autoptr(MirDataset) train = toy_dataset (96, 3);
  float *w[3] = { NULL };
  gsize n[3] = { 0 };

  for (int run = 0; run < 3; run++)
    {
      g_autoptr(MirModel) model = dp_model (4, 4, 1, layers, 2);
      MirTrainOptions o;
      GError *error = NULL;

      mir_train_options_init (&o);
      o.epochs = 2;
      o.batch_size = 15;
      o.n_threads = 2;
      o.seed = run == 2 ? 8 : 7;
      o.validation_split = 0.25;
      g_assert_true (mir_train (model, train, &o, NULL, NULL, &error));
      g_assert_no_error (error);
      save_weights (model, &w[run], &n[run]);
    }
  g_assert_cmpuint (n[0], ==, n[1]);
  g_assert_cmpmem (w[0], n[0] * sizeof (float), w[1], n[1] * sizeof (float));
  g_assert_true (memcmp (w[0], w[2], n[0] * sizeof (float)) != 0);
  for (int run = 0; run < 3; run++)
    g_free (w[run]);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/train/dataset/fashion-mnist-train", GINT_TO_POINTER (TRUE),
                        test_fashion_mnist);
  g_test_add_data_func ("/train/dataset/fashion-mnist-test", GINT_TO_POINTER (FALSE),
                        test_fashion_mnist);
  g_test_add_func ("/train/dataset/idx-errors", test_idx_errors);
  g_test_add_func ("/train/dataset/directory", test_directory);
  g_test_add_func ("/train/dataset/directory-skipping", test_directory_skipping);
  g_test_add_func ("/train/dataset/split-stratified", test_split_stratified);
  g_test_add_func ("/train/dataset/split-batch-augment", test_split_and_batch);
  g_test_add_func ("/train/loss/softmax-cross-entropy", test_softmax_cross_entropy);
  g_test_add_func ("/train/loss/binary-cross-entropy", test_binary_cross_entropy);
  g_test_add_func ("/train/optimizer/sgd-momentum", test_sgd_momentum);
  g_test_add_func ("/train/optimizer/adam", test_adam);
  g_test_add_func ("/train/optimizer/quadratic", test_quadratic);
  g_test_add_func ("/train/model-gradient", test_model_gradient);
  g_test_add_data_func ("/train/toy/softmax", "softmax", test_train_toy);
  g_test_add_data_func ("/train/toy/sigmoid", "sigmoid", test_train_toy);
  g_test_add_func ("/train/toy/cancel", test_train_cancel);
  g_test_add_func ("/train/data-parallel/gradients", test_data_parallel_gradients);
  g_test_add_func ("/train/data-parallel/batchnorm", test_data_parallel_batchnorm);
  g_test_add_func ("/train/data-parallel/reproducible", test_data_parallel_reproducible);
  return g_test_run ();
}
