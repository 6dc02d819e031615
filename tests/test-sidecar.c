/* Sidecar and labels files, and model format detection (mir-sidecar.c,
 * mir-model-load.c). */
#include <string.h>
#include <glib/gstdio.h>
#include "mir-test-util.h"
#include "mir-sidecar.h"
#include "mir-model-load.h"

static char *tmpdir;

static char *
write_file (const char *name, const char *contents, gssize len)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (tmpdir, name, NULL);

  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_names (char **names, const char *const *expect)
{
  g_assert_nonnull (names);
  g_assert_cmpuint (g_strv_length (names), ==, g_strv_length ((char **) expect));
  for (guint i = 0; expect[i]; i++)
    g_assert_cmpstr (names[i], ==, expect[i]);
}

static void
test_labels (void)
{
  g_autoptr(GError) error = NULL;
  struct
  {
    const char *text;
    gboolean indexed;
    const char *expect[4];
  } cases[] = {
    /* Teachable Machine: every line starts with its own index. */
    { "0 Cat\n1 Dog\n", TRUE, { "Cat", "Dog", NULL } },
    { "0 5 Galoon\r\n1 Other thing\r\n", TRUE, { "5 Galoon", "Other thing", NULL } },
    /* Plain: an index that is not the line's own stays. */
    { "5 Galoon\n7 Other\n", FALSE, { "5 Galoon", "7 Other", NULL } },
    { "cat\n\n  dog  \nbird", FALSE, { "cat", "dog", "bird", NULL } },
    { "0 a\n2 b\n", FALSE, { "0 a", "2 b", NULL } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_file ("l.txt", cases[i].text, -1);
      gboolean indexed = !cases[i].indexed;
      g_auto(GStrv) names = mir_labels_load (path, &indexed, &error);

      g_assert_no_error (error);
      assert_names (names, cases[i].expect);
      g_assert_cmpint (indexed, ==, cases[i].indexed);
    }

  {
    g_autofree char *path = write_file ("empty.txt", "\n\n", -1);
    g_assert_null (mir_labels_load (path, NULL, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
    g_clear_error (&error);
  }
  {
    g_autofree char *path = write_file ("bin.txt", "a\0b\n", 4);
    g_assert_null (mir_labels_load (path, NULL, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
    g_clear_error (&error);
  }
}

static void
test_roundtrip (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (tmpdir, "rt.mirada.json", NULL);
  const char *names[] = { "cat", "dög", "a \"quoted\" one", NULL };
  MirModelMeta meta = { 0 }, back = { 0 };

  meta.class_names = g_strdupv ((char **) names);
  meta.preprocess = MIR_PREPROCESS_CAFFE;
  meta.resize = MIR_RESIZE_BILINEAR;
  g_assert_true (mir_sidecar_save (path, &meta, &error));
  g_assert_no_error (error);
  g_assert_true (mir_sidecar_load (path, &back, &error));
  g_assert_no_error (error);
  assert_names (back.class_names, names);
  g_assert_cmpint (back.preprocess, ==, MIR_PREPROCESS_CAFFE);
  g_assert_cmpint (back.resize, ==, MIR_RESIZE_BILINEAR);
  g_assert_cmpstr (back.source, ==, path);
  mir_model_meta_clear (&meta);
  mir_model_meta_clear (&back);
}

static void
test_sidecar_errors (void)
{
  const char *bad[] = {
    "[1, 2]",
    "{\"class_names\": \"cat\"}",
    "{\"class_names\": [\"a\", 3]}",
    "{\"preprocess\": \"imagenet\"}",
    "{\"resize\": \"bicubic\"}",
    "{\"preprocess\": 3}",
    "{not json",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = write_file ("bad.mirada.json", bad[i], -1);
      MirModelMeta meta = { 0 };

      meta.preprocess = MIR_PREPROCESS_TF;
      g_assert_false (mir_sidecar_load (path, &meta, &error));
      g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
      /* A failed load leaves the meta as it was. */
      g_assert_cmpint (meta.preprocess, ==, MIR_PREPROCESS_TF);
      g_assert_null (meta.class_names);
      mir_model_meta_clear (&meta);
    }
  {
    /* Unknown members are ignored; absent ones keep their values. */
    g_autoptr(GError) error = NULL;
    g_autofree char *path = write_file ("ok.mirada.json", "{\"future\": 1, \"resize\": \"bilinear\"}", -1);
    MirModelMeta meta = { 0 };

    meta.preprocess = MIR_PREPROCESS_TORCH;
    g_assert_true (mir_sidecar_load (path, &meta, &error));
    g_assert_no_error (error);
    g_assert_cmpint (meta.preprocess, ==, MIR_PREPROCESS_TORCH);
    g_assert_cmpint (meta.resize, ==, MIR_RESIZE_BILINEAR);
    mir_model_meta_clear (&meta);
  }
}

static void
test_find (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename (tmpdir, "find", NULL);
  g_autofree char *model = g_build_filename (dir, "cats.h5", NULL);
  g_autofree char *generic = g_build_filename (dir, "labels.txt", NULL);
  g_autofree char *own = g_build_filename (dir, "cats.labels.txt", NULL);
  g_autofree char *sidecar = g_build_filename (dir, "cats.mirada.json", NULL);
  g_autofree char *expected_sidecar = mir_sidecar_path_for_model (model);
  const char *tm[] = { "Cat", "Dog", NULL };
  const char *own_names[] = { "x", "y", NULL };
  const char *side_names[] = { "s1", "s2", NULL };
  MirModelMeta meta = { 0 };

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_cmpstr (expected_sidecar, ==, sidecar);

  /* Nothing there: fine, nothing changes. */
  g_assert_true (mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_no_error (error);
  g_assert_null (meta.class_names);
  g_assert_null (meta.source);
  g_assert_cmpint (meta.preprocess_from, ==, MIR_PREPROCESS_FROM_UNKNOWN);

  /* A Teachable Machine labels.txt: names and its "tf" preprocessing. */
  g_file_set_contents (generic, "0 Cat\n1 Dog\n", -1, &error);
  g_assert_no_error (error);
  g_assert_true (mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_no_error (error);
  assert_names (meta.class_names, tm);
  g_assert_cmpint (meta.preprocess, ==, MIR_PREPROCESS_TF);
  g_assert_cmpint (meta.preprocess_from, ==, MIR_PREPROCESS_FROM_LABELS);
  mir_model_meta_clear (&meta);
  meta.preprocess = MIR_PREPROCESS_NONE;
  meta.preprocess_from = MIR_PREPROCESS_FROM_UNKNOWN;

  /* <model>.labels.txt wins over labels.txt and implies nothing. */
  g_file_set_contents (own, "0 x\n1 y\n", -1, &error);
  g_assert_no_error (error);
  g_assert_true (mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_no_error (error);
  assert_names (meta.class_names, own_names);
  g_assert_cmpint (meta.preprocess, ==, MIR_PREPROCESS_NONE);
  g_assert_cmpint (meta.preprocess_from, ==, MIR_PREPROCESS_FROM_UNKNOWN);
  g_assert_cmpstr (meta.source, ==, own);
  mir_model_meta_clear (&meta);

  /* A sidecar without "preprocess" leaves it unknown. */
  g_file_set_contents (sidecar, "{\"class_names\": [\"s1\", \"s2\"]}", -1, &error);
  g_assert_no_error (error);
  g_assert_true (mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_no_error (error);
  g_assert_cmpint (meta.preprocess_from, ==, MIR_PREPROCESS_FROM_UNKNOWN);
  mir_model_meta_clear (&meta);

  /* The sidecar wins for what it has. */
  g_file_set_contents (sidecar, "{\"class_names\": [\"s1\", \"s2\"], \"preprocess\": \"scale\"}",
                       -1, &error);
  g_assert_no_error (error);
  g_assert_true (mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_no_error (error);
  assert_names (meta.class_names, side_names);
  g_assert_cmpint (meta.preprocess, ==, MIR_PREPROCESS_SCALE);
  g_assert_cmpint (meta.preprocess_from, ==, MIR_PREPROCESS_FROM_SIDECAR);
  g_assert_cmpstr (meta.source, ==, sidecar);
  mir_model_meta_clear (&meta);
  meta.preprocess_from = MIR_PREPROCESS_FROM_UNKNOWN;

  /* What a sidecar was written with reads back as known (issue 16: the
   * window's answer is remembered). */
  meta.preprocess = MIR_PREPROCESS_TF;
  g_assert_true (mir_sidecar_save (sidecar, &meta, &error));
  g_assert_no_error (error);
  meta.preprocess = MIR_PREPROCESS_NONE;
  g_assert_true (mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_no_error (error);
  g_assert_cmpint (meta.preprocess, ==, MIR_PREPROCESS_TF);
  g_assert_cmpint (meta.preprocess_from, ==, MIR_PREPROCESS_FROM_SIDECAR);
  mir_model_meta_clear (&meta);

  /* A damaged sidecar is an error. */
  g_file_set_contents (sidecar, "{", -1, &error);
  g_assert_true (!mir_sidecar_find_and_load (model, &meta, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  mir_model_meta_clear (&meta);
}

static void
test_model_load_errors (void)
{
  struct
  {
    const char *name;
    const char *contents;
    gssize len;
    int code;
  } cases[] = {
    /* Recognised by content, read by their loaders, refused as damaged. */
    { "m.keras", "PK\003\004rest of a zip", -1, MIR_ERROR_FORMAT },
    { "model.json", "  {\"format\": \"layers-model\", \"modelTopology\": {}}", -1,
      MIR_ERROR_FORMAT },
    { "m.onnx", "\010\007\022\004abcd", -1, MIR_ERROR_FORMAT },
    { "m.h5", "not an hdf5 file at all", -1, MIR_ERROR_FORMAT },
    { "empty.h5", "", 0, MIR_ERROR_FORMAT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = write_file (cases[i].name, cases[i].contents, cases[i].len);
      g_autoptr(MirModel) model = mir_model_load (path, &error);

      g_assert_null (model);
      g_assert_error (error, MIR_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].name));
    }
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename (tmpdir, "missing.h5", NULL);
    g_assert_null (mir_model_load (path, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_IO);
    g_clear_error (&error);
    /* A folder without model.json (one with it is a TF.js model). */
    g_free (path);
    path = g_build_filename (tmpdir, "a-folder", NULL);
    g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
    g_assert_null (mir_model_load (path, &error));
    g_assert_error (error, MIR_ERROR, MIR_ERROR_IO);
  }
}

/* Issue 16: mir_model_load records where the preprocessing came from. */
static void
test_model_load_preprocess_from (void)
{
  static const struct
  {
    const char *file;
    MirPreprocessMode preprocess;
    MirPreprocessOrigin from;
  } cases[] = {
    { "tiny_grey.h5", MIR_PREPROCESS_NONE, MIR_PREPROCESS_FROM_UNKNOWN },   /* nothing says */
    { "tiny_rescaling.h5", MIR_PREPROCESS_NONE, MIR_PREPROCESS_FROM_LAYERS }, /* Rescaling(1/255) */
    { "tiny_softmax.h5", MIR_PREPROCESS_SCALE, MIR_PREPROCESS_FROM_SIDECAR },
    { "tiny_sigmoid.h5", MIR_PREPROCESS_TF, MIR_PREPROCESS_FROM_SIDECAR },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "cli", cases[i].file,
                                                     NULL);
      g_autoptr(MirModel) model = mir_model_load (path, &error);

      g_test_message ("%s", cases[i].file);
      g_assert_no_error (error);
      g_assert_cmpint (model->meta.preprocess, ==, cases[i].preprocess);
      g_assert_cmpint (model->meta.preprocess_from, ==, cases[i].from);
      g_assert_cmpint (mir_model_scales_own_input (model), ==,
                       cases[i].from == MIR_PREPROCESS_FROM_LAYERS);
    }
  /* A built-in application knows its own. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MirModel) model = mir_model_load ("arch:mobilenetv2,alpha=0.35,size=96", &error);

    g_assert_no_error (error);
    g_assert_cmpint (model->meta.preprocess, ==, MIR_PREPROCESS_TF);
    g_assert_cmpint (model->meta.preprocess_from, ==, MIR_PREPROCESS_FROM_FORMAT);
  }
  g_assert_cmpstr (mir_preprocess_origin_to_string (MIR_PREPROCESS_FROM_UNKNOWN), ==, "unknown");
  g_assert_cmpstr (mir_preprocess_origin_to_string (MIR_PREPROCESS_FROM_LABELS), ==, "labels");
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("mirada-sidecar-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_add_func ("/sidecar/labels", test_labels);
  g_test_add_func ("/sidecar/roundtrip", test_roundtrip);
  g_test_add_func ("/sidecar/errors", test_sidecar_errors);
  g_test_add_func ("/sidecar/find", test_find);
  g_test_add_func ("/model-load/errors", test_model_load_errors);
  g_test_add_func ("/model-load/preprocess-from", test_model_load_preprocess_from);
  ret = g_test_run ();
  mir_test_remove_tree (tmpdir);
  g_free (tmpdir);
  return ret;
}
