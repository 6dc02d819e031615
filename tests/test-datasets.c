/* Datasets in their distribution formats (mir-dataset-formats.c): CIFAR-10
 * and CIFAR-100 binary, as the .tar.gz and as its folder, and a folder of
 * MNIST-style IDX files.  The files and the expected pixels (HWC, made with
 * numpy from the planar records) and labels come from
 * tests/gen/make-datasets.py (tests/data/datasets); every byte is compared.
 * Broken files must fail with a MIR_ERROR that names the problem. */
#include <string.h>
#include <json-glib/json-glib.h>

#include "mir-dataset.h"
#include "mir-error.h"

static JsonObject *expected;

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "datasets", name, NULL);
}

static void
check_dataset (MirDataset *ds, const char *set, gboolean train, const char *pixels_file,
               gint64 h, gint64 w, gint64 c)
{
  JsonObject *o = json_object_get_object_member (expected, set);
  JsonArray *labels = json_object_get_array_member (o, train ? "train_labels" : "test_labels");
  g_autofree char *path = data_path (pixels_file);
  g_autofree char *want = NULL;
  gsize len;

  g_assert_nonnull (ds);
  g_assert_cmpint (ds->height, ==, h);
  g_assert_cmpint (ds->width, ==, w);
  g_assert_cmpint (ds->channels, ==, c);
  g_assert_cmpint (ds->n, ==, json_array_get_length (labels));
  for (gint64 i = 0; i < ds->n; i++)
    g_assert_cmpint (ds->labels[i], ==, json_array_get_int_element (labels, (guint) i));
  g_assert_true (g_file_get_contents (path, &want, &len, NULL));
  g_assert_cmpuint (len, ==, (gsize) ds->n * mir_dataset_image_size (ds));
  g_assert_cmpmem (ds->pixels, len, want, len);
  if (json_object_has_member (o, "names"))
    {
      JsonArray *names = json_object_get_array_member (o, "names");

      g_assert_cmpuint (ds->n_classes, ==, json_array_get_length (names));
      for (guint k = 0; k < ds->n_classes; k++)
        g_assert_cmpstr (ds->class_names[k], ==, json_array_get_string_element (names, k));
    }
}

static void
test_cifar10 (void)
{
  const char *sources[] = { "cifar-10-binary.tar.gz", "cifar-10-batches-bin", "." };

  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    for (int train = 1; train >= 0; train--)
      {
        g_autofree char *path = data_path (sources[i]);
        g_autoptr(GError) error = NULL;
        g_autoptr(MirDataset) ds = NULL;

        /* "." holds both cifar-10-batches-bin and cifar-100-binary: the first wins. */
        g_assert_cmpint (mir_dataset_detect_format (path), ==, MIR_DATASET_FORMAT_CIFAR);
        ds = mir_dataset_load_cifar (path, train, &error);
        g_assert_no_error (error);
        check_dataset (ds, "cifar10", train, train ? "cifar10-train.hwc" : "cifar10-test.hwc",
                       32, 32, 3);
      }
}

static void
test_cifar100 (void)
{
  const char *sources[] = { "cifar-100-binary.tar.gz", "cifar-100-binary" };

  for (gsize i = 0; i < G_N_ELEMENTS (sources); i++)
    for (int train = 1; train >= 0; train--)
      {
        g_autofree char *path = data_path (sources[i]);
        g_autoptr(GError) error = NULL;
        g_autoptr(MirDataset) ds = mir_dataset_load_cifar (path, train, &error);

        g_assert_no_error (error);
        check_dataset (ds, "cifar100", train, train ? "cifar100-train.hwc" : "cifar100-test.hwc",
                       32, 32, 3);
      }
}

static void
test_idx_folder (void)
{
  g_autofree char *path = data_path ("mnist-idx");

  g_assert_cmpint (mir_dataset_detect_format (path), ==, MIR_DATASET_FORMAT_IDX);
  for (int train = 1; train >= 0; train--)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MirDataset) ds = mir_dataset_load_idx_folder (path, train, &error);

      g_assert_no_error (error);
      check_dataset (ds, "mnist", train, train ? "mnist-train.hw" : "mnist-test.hw", 6, 5, 1);
      /* Digits for names, as many as the largest label needs. */
      g_assert_cmpstr (ds->class_names[0], ==, "0");
      g_assert_cmpstr (ds->class_names[ds->n_classes - 1], ==,
                       train ? "9" : "7");
    }
}

static void
test_folder_per_class_is_default (void)
{
  g_autofree char *path = data_path ("bad");

  g_assert_cmpint (mir_dataset_detect_format (path), ==, MIR_DATASET_FORMAT_FOLDER);
}

/* Each broken input: the error's code and a fragment of its message. */
static void
test_broken (void)
{
  static const struct
  {
    const char *path;
    gboolean idx;
    int code;
    const char *fragment;
  } cases[] = {
    { "bad/truncated.tar.gz", FALSE, MIR_ERROR_FORMAT, "truncated" },
    { "bad/not-a-tar.tar.gz", FALSE, MIR_ERROR_FORMAT, "not a tar archive" },
    { "bad/cifar-10-python.tar.gz", FALSE, MIR_ERROR_UNSUPPORTED, "binary version" },
    { "bad/partial-record", FALSE, MIR_ERROR_FORMAT, "3073-byte records" },
    { "bad/cifar100-as-10", FALSE, MIR_ERROR_FORMAT, "3073-byte records" },
    { "bad/bad-label", FALSE, MIR_ERROR_FORMAT, "label 200" },
    { "bad/does-not-exist.tar.gz", FALSE, MIR_ERROR_IO, "does not exist" },
    { "bad", FALSE, MIR_ERROR_FORMAT, "no CIFAR batches" },
    { "bad/idx-truncated", TRUE, MIR_ERROR_FORMAT, "truncated" },
    { "cifar-10-batches-bin", TRUE, MIR_ERROR_FORMAT, "train-images-idx3-ubyte" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = data_path (cases[i].path);
      g_autoptr(GError) error = NULL;
      g_autoptr(MirDataset) ds = cases[i].idx ? mir_dataset_load_idx_folder (path, TRUE, &error)
                                              : mir_dataset_load_cifar (path, TRUE, &error);

      g_test_message ("%s: %s", cases[i].path, error ? error->message : "(loaded)");
      g_assert_null (ds);
      g_assert_error (error, MIR_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].fragment));
    }
}

int
main (int argc, char **argv)
{
  g_autofree char *path = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  int ret;

  g_test_init (&argc, &argv, NULL);
  path = data_path ("expected.json");
  if (!json_parser_load_from_file (parser, path, NULL))
    g_error ("cannot read %s", path);
  expected = json_node_get_object (json_parser_get_root (parser));
  g_test_add_func ("/datasets/cifar10", test_cifar10);
  g_test_add_func ("/datasets/cifar100", test_cifar100);
  g_test_add_func ("/datasets/idx-folder", test_idx_folder);
  g_test_add_func ("/datasets/folder-per-class", test_folder_per_class_is_default);
  g_test_add_func ("/datasets/broken", test_broken);
  ret = g_test_run ();
  return ret;
}
