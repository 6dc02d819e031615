/* test-h5-reader.c: the HDF5 reader process (engine/io/mir-h5-file.h) seen
 * from Mirada's side: a helper that hangs, crashes, sends garbage or is
 * missing ends in the documented error; the real helper gives the same
 * model as the in-process reader; the stream parser refuses broken streams.
 * The misbehaving helpers are small shell scripts. */
#define G_LOG_DOMAIN "mir-test"

#include <string.h>
#include <glib/gstdio.h>

#include "mir-h5-file.h"
#include "mir-keras.h"

static char *tmpdir;
static char *real_reader;

/* A fake helper: /bin/sh running @body. */
static char *
fake_reader (const char *name, const char *body)
{
  g_autofree char *script = g_strdup_printf ("#!/bin/sh\n%s\n", body);
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, script, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
  return path;
}

static char *
good_path (void)
{
  return g_test_build_filename (G_TEST_DIST, "data", "malformed", "good.h5", NULL);
}

/* Loads good.h5 through @reader and returns the error message. */
static char *
load_error (const char *reader)
{
  g_autofree char *path = good_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;

  g_setenv ("MIRADA_H5_READER", reader, TRUE);
  model = mir_keras_load_h5 (path, &error);
  g_setenv ("MIRADA_H5_READER", real_reader, TRUE);
  g_assert_null (model);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  return g_strdup (error->message);
}

static void
test_hang (void)
{
  g_autofree char *reader = fake_reader ("hang", "exec sleep 30");
  g_autofree char *msg = NULL;
  gint64 start = g_get_monotonic_time ();

  g_setenv ("MIRADA_H5_TIMEOUT", "1", TRUE);
  msg = load_error (reader);
  g_unsetenv ("MIRADA_H5_TIMEOUT");
  g_assert_nonnull (strstr (msg, "did not finish reading"));
  g_assert_nonnull (strstr (msg, "in 1 s"));
  /* Killed at the deadline, not waited for. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
}

/* Helpers that fail in other ways: the message holds both substrings. */
typedef struct
{
  const char *name;
  const char *body;
  const char *want[2];
} Failing;

static const Failing failing[] = {
  { "crash", "kill -SEGV $$", { "crashed reading", "signal 11" } },
  { "fail", "echo 'ERROR: AddressSanitizer' >&2; exit 1", { "crashed reading", "exit status 1" } },
  { "garbage", "head -c 100000 /dev/zero", { "malformed data", "signature" } },
  { "silent", "exit 0", { "malformed data", "ends early" } },
  /* an 'F' record (values at a file offset) for 4 MB of a 2 KB file */
  { "outside",
    "printf 'MIRH5\\000v1G\\001\\000\\000\\000/F\\002\\000\\000\\000/w\\001\\000\\000\\000"
    "\\100\\102\\017\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000Z'",
    { "malformed data", "outside the file" } },
};

static void
test_failing (gconstpointer data)
{
  const Failing *c = data;
  g_autofree char *reader = fake_reader (c->name, c->body);
  g_autofree char *msg = load_error (reader);

  g_assert_nonnull (strstr (msg, c->want[0]));
  g_assert_nonnull (strstr (msg, c->want[1]));
}

static void
test_missing (void)
{
  g_autofree char *missing = g_build_filename (tmpdir, "no-such-reader", NULL);
  g_autofree char *msg = load_error (missing);

  g_assert_nonnull (strstr (msg, "MIRADA_H5_READER"));
}

/* The helper and the in-process reader give the same weights. */
static void
test_same_as_in_process (void)
{
  g_autofree char *path = good_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) a = NULL;
  g_autoptr(MirModel) b = NULL;

  a = mir_keras_load_h5 (path, &error);
  g_assert_no_error (error);
  mir_h5_file_set_in_process (TRUE);
  b = mir_keras_load_h5 (path, &error);
  mir_h5_file_set_in_process (FALSE);
  g_assert_no_error (error);
  g_assert_cmpuint (a->nodes->len, ==, b->nodes->len);
  for (guint i = 0; i < a->nodes->len; i++)
    {
      MirLayer *la = ((MirNode *) a->nodes->pdata[i])->layer;
      MirLayer *lb = ((MirNode *) b->nodes->pdata[i])->layer;

      g_assert_cmpuint (la->n_weights, ==, lb->n_weights);
      for (guint j = 0; j < la->n_weights; j++)
        {
          MirTensor *ta = la->weights[j].value, *tb = lb->weights[j].value;
          g_assert_cmpint (ta->numel, ==, tb->numel);
          g_assert_cmpint (memcmp (ta->data, tb->data, (gsize) ta->numel * sizeof (float)), ==, 0);
        }
    }
}

/* The real helper asked for file offsets sends good.h5's datasets as 'F'
 * records (the parser, given no file, refuses them: so they are there), and
 * the weights Mirada then reads from the file itself equal libhdf5's
 * (/h5-reader/same-as-in-process). */
static void
test_file_offsets (void)
{
  g_autofree char *path = good_path ();
  g_autofree char *out_path = g_build_filename (tmpdir, "offsets.stream", NULL);
  /* g_spawn_sync, not GSubprocess: that starts GLib's worker thread, which
   * reads the environment the other tests change (ThreadSanitizer) */
  const char *argv[] = { "/bin/sh", "-c", "exec \"$0\" --file-offsets -- \"$1\" > \"$2\"",
                         real_reader, path, out_path, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MirH5File) f = NULL;
  g_autofree char *out = NULL;
  gsize len = 0;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                               NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_get_contents (out_path, &out, &len, &error));
  g_assert_no_error (error);
  g_unlink (out_path);
  f = mir_h5_file_parse ((const guint8 *) out, len, "good.h5", &error);
  g_assert_null (f);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "none was asked for"));
}

/* Hand-made streams the parser must refuse. */
static void
test_parser (void)
{
  static const struct { const char *name; const char *bytes; gsize len; } cases[] = {
    { "empty", "", 0 },
    { "bad magic", "MIRH5\0v2Z", 9 },
    { "no root", MIR_H5_STREAM_MAGIC "Z", 9 },
    { "unknown tag", MIR_H5_STREAM_MAGIC "G\1\0\0\0/Q", 15 },
    { "no end", MIR_H5_STREAM_MAGIC "G\1\0\0\0/", 14 },
    { "relative path", MIR_H5_STREAM_MAGIC "G\1\0\0\0aZ", 15 },
    { "dot path", MIR_H5_STREAM_MAGIC "G\1\0\0\0/G\2\0\0\0/.Z", 22 },
    { "orphan group", MIR_H5_STREAM_MAGIC "G\1\0\0\0/G\4\0\0\0/a/bZ", 24 },
    { "twice", MIR_H5_STREAM_MAGIC "G\1\0\0\0/G\2\0\0\0/aG\2\0\0\0/aZ", 29 },
    { "long string", MIR_H5_STREAM_MAGIC "G\377\377\377\377/Z", 15 },
    { "rank 99", MIR_H5_STREAM_MAGIC "G\1\0\0\0/D\2\0\0\0/dc\0\0\0Z", 25 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MirH5File) f = mir_h5_file_parse ((const guint8 *) cases[i].bytes, cases[i].len,
                                                  cases[i].name, &error);
      g_test_message ("%s: %s", cases[i].name, error ? error->message : "accepted");
      g_assert_null (f);
      g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, "malformed data"));
    }
}

/* The padding records the helper writes before the values of a dataset in
 * its memory file (mir_h5_dump_to_fd()): accepted when shorter than
 * MIR_H5_STREAM_ALIGN and complete, refused otherwise. */
static void
test_padding (void)
{
  static const char ok[] = MIR_H5_STREAM_MAGIC "G\1\0\0\0/P\3\0\0\0\0\0\0P\0\0\0\0Z";
  static const struct { const char *name; const char *bytes; gsize len; const char *why; } bad[] = {
    { "long padding", MIR_H5_STREAM_MAGIC "G\1\0\0\0/P\100\0\0\0Z", 20, "too long" },
    { "cut padding", MIR_H5_STREAM_MAGIC "G\1\0\0\0/P\10\0\0\0\0\0Z", 22, "ends early" },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(MirH5File) f = mir_h5_file_parse ((const guint8 *) ok, sizeof ok - 1, "ok", &error);

  g_assert_no_error (error);
  g_assert_nonnull (f);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(MirH5File) b = mir_h5_file_parse ((const guint8 *) bad[i].bytes, bad[i].len,
                                                  bad[i].name, &e);
      g_test_message ("%s: %s", bad[i].name, e ? e->message : "accepted");
      g_assert_null (b);
      g_assert_error (e, MIR_ERROR, MIR_ERROR_FORMAT);
      g_assert_nonnull (strstr (e->message, bad[i].why));
    }
}

/* The weights the helper leaves in its memory file outlive the file's
 * reader: the model still predicts (the same as in-process) after every
 * other reference to the stream is gone. */
static void
test_weights_outlive_stream (void)
{
  g_autofree char *path = good_path ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) a = mir_keras_load_h5 (path, &error);
  g_autoptr(MirModel) b = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) ya = NULL;
  g_autoptr(MirTensor) yb = NULL;
  const MirShape *s;
  gint64 shape[MIR_MAX_DIMS];

  g_assert_no_error (error);
  mir_h5_file_set_in_process (TRUE);
  b = mir_keras_load_h5 (path, &error);
  mir_h5_file_set_in_process (FALSE);
  g_assert_no_error (error);
  s = mir_model_get_input_shape (a, 0);
  shape[0] = 2;
  for (guint i = 1; i < s->ndim; i++)
    shape[i] = s->dim[i];
  x = mir_tensor_new (s->ndim, shape, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < x->numel; i++)
    x->data[i] = (float) ((i * 37) % 256) / 255.0f;
  ya = mir_model_predict (a, x, NULL, &error);
  g_assert_no_error (error);
  yb = mir_model_predict (b, x, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ya->numel, ==, yb->numel);
  g_assert_cmpint (memcmp (ya->data, yb->data, ya->numel * sizeof (float)), ==, 0);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  real_reader = g_strdup (g_getenv ("MIRADA_H5_READER"));
  g_assert_nonnull (real_reader);
  tmpdir = g_dir_make_tmp ("mir-h5-reader-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_test_add_func ("/h5-reader/hang", test_hang);
  for (guint i = 0; i < G_N_ELEMENTS (failing); i++)
    {
      g_autofree char *name = g_strdup_printf ("/h5-reader/%s", failing[i].name);
      g_test_add_data_func (name, &failing[i], test_failing);
    }
  g_test_add_func ("/h5-reader/missing", test_missing);
  g_test_add_func ("/h5-reader/same-as-in-process", test_same_as_in_process);
  g_test_add_func ("/h5-reader/parser", test_parser);
  g_test_add_func ("/h5-reader/file-offsets", test_file_offsets);
  g_test_add_func ("/h5-reader/padding", test_padding);
  g_test_add_func ("/h5-reader/weights-outlive-stream", test_weights_outlive_stream);
  status = g_test_run ();
  {
    g_autofree char *hang = g_build_filename (tmpdir, "hang", NULL);
    g_unlink (hang);
    for (guint i = 0; i < G_N_ELEMENTS (failing); i++)
      {
        g_autofree char *p = g_build_filename (tmpdir, failing[i].name, NULL);
        g_unlink (p);
      }
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
  g_free (real_reader);
  return status;
}
