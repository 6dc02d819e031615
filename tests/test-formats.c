/* Model formats beyond Keras .h5: Keras 3 .keras archives, TensorFlow.js
 * layers models, ONNX graphs and the built-in Keras applications.
 *
 * Outputs are compared with independent references made by the scripts in
 * tests/gen/ (numpy for the .keras fixtures, TF.js 4.22 for the TF.js
 * models, PyTorch for ONNX), with the tolerance stated at each check; damaged
 * files must give a GError whose message says what is wrong. */
#include <math.h>
#include <string.h>
#include <zip.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-applications.h"
#include "mir-model-load.h"
#include "onnx.pb-c.h"
#include "mir-onnx.h"
#include "mir-parallel.h"

static char *
data_path (const char *dir, const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", dir, name, NULL);
}

/* A fixture from $MIRADA_SHARED_DIR/fixtures/models, or NULL (test skipped). */
static char *
shared_path (const char *name)
{
  const char *shared = g_getenv ("MIRADA_SHARED_DIR");
  char *path = g_build_filename (shared ? shared : ".", "fixtures", "models", name, NULL);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *msg = g_strdup_printf (
        "%s is not in the repository (no license file) and was not found at %s; "
        "set MIRADA_SHARED_DIR to the folder holding fixtures/models/", name, path);
      g_print ("%s\n", msg);
      g_test_skip (msg);
      g_free (path);
      return NULL;
    }
  return path;
}

static JsonObject *
load_json (const char *path, JsonParser **parser_out)
{
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  *parser_out = parser;
  return json_node_get_object (json_parser_get_root (parser));
}

/* Input x[i] = ((i * 37) % 256) / div + off over the flat NHWC index. */
static MirTensor *
make_input (MirModel *model, gint64 batch, double div, double off)
{
  const MirShape *s = mir_model_get_input_shape (model, 0);
  gint64 shape[MIR_MAX_DIMS];
  GError *error = NULL;
  MirTensor *t;

  shape[0] = batch;
  for (guint i = 1; i < s->ndim; i++)
    shape[i] = s->dim[i];
  t = mir_tensor_new (s->ndim, shape, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = (float) (((i * 37) % 256) / div + off);
  return t;
}

/* |got - want| <= atol + rtol * |want| for every element. */
static void
compare_output (MirTensor *out, JsonObject *ref, double rtol, double atol)
{
  JsonArray *want = json_object_get_array_member (ref, "output");
  double worst = 0;

  g_assert_cmpuint (out->numel, ==, json_array_get_length (want));
  for (guint i = 0; i < out->numel; i++)
    {
      double w = json_array_get_double_element (want, i);
      double d = fabs (out->data[i] - w);
      if (d > atol + rtol * fabs (w))
        g_error ("output %u: got %.8g, reference %.8g (rtol %g, atol %g)", i, out->data[i], w,
                 rtol, atol);
      worst = MAX (worst, d);
    }
  g_test_message ("worst |difference| %.3g over %" G_GSIZE_FORMAT " outputs", worst, out->numel);
}

static MirLayer *
find_layer (MirModel *model, const char *name)
{
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    if (g_strcmp0 (mir_model_get_node (model, i)->layer->name, name) == 0)
      return mir_model_get_node (model, i)->layer;
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Keras 3 .keras */

static void
test_keras_zip (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = NULL;
  g_autofree char *refname = g_strconcat (name, ".ref.json", NULL);
  g_autofree char *refpath = data_path ("formats", refname);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) y = NULL;
  GError *error = NULL;
  JsonObject *ref;
  JsonArray *weights;

  if (g_str_has_prefix (name, "AKSHATV25"))
    path = data_path ("models", name);
  else if (!(path = shared_path (name)))
    return;
  ref = load_json (refpath, &parser);
  model = mir_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (model->format, ==, "Keras 3 .keras");
  g_assert_nonnull (model->keras_version);
  g_assert_false (model->weights_initialised);

  /* Every weight where h5py found it (sums in double of the same floats). */
  weights = json_object_get_array_member (ref, "weights");
  g_assert_cmpuint (json_array_get_length (weights), >, 0);
  for (guint i = 0; i < json_array_get_length (weights); i++)
    {
      JsonObject *w = json_array_get_object_element (weights, i);
      MirLayer *layer = find_layer (model, json_object_get_string_member (w, "layer"));
      guint index = (guint) json_object_get_int_member (w, "index");
      double want = json_object_get_double_member (w, "sum"), sum = 0;
      MirTensor *t;

      g_assert_nonnull (layer);
      g_assert_cmpuint (index, <, layer->n_weights);
      t = layer->weights[index].value;
      for (gsize k = 0; k < t->numel; k++)
        sum += t->data[k];
      g_assert_cmpfloat_with_epsilon (sum, want, 1e-9 * (1 + fabs (want)) + 1e-6);
    }

  x = make_input (model, 2, 255.0, 0.0);
  y = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  /* numpy in float64 vs float32 kernels: 1e-4 relative, 1e-6 absolute. */
  compare_output (y, ref, 1e-4, 1e-6);
}

static char *
tmp_copy_prefix (const char *src, gsize keep, const char *tmpdir, const char *name)
{
  g_autofree char *contents = NULL;
  char *dst = g_build_filename (tmpdir, name, NULL);
  GError *error = NULL;
  gsize len;

  g_file_get_contents (src, &contents, &len, &error);
  g_assert_no_error (error);
  g_file_set_contents (dst, contents, MIN (keep, len), &error);
  g_assert_no_error (error);
  return dst;
}

static char *
make_zip (const char *tmpdir, const char *name, const char *const *members,
          const char *const *contents, const gsize *lengths, guint n)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  int err = 0;
  zip_t *z = zip_open (path, ZIP_CREATE | ZIP_TRUNCATE, &err);

  g_assert_nonnull (z);
  for (guint i = 0; i < n; i++)
    {
      zip_source_t *s = zip_source_buffer (z, contents[i], lengths[i], 0);
      g_assert_nonnull (s);
      g_assert_cmpint (zip_file_add (z, members[i], s, ZIP_FL_OVERWRITE), >=, 0);
    }
  g_assert_cmpint (zip_close (z), ==, 0);
  return path;
}

static void
expect_error (const char *path, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_model_load (path, &error);

  g_assert_null (model);
  g_assert_nonnull (error);
  g_test_message ("%s -> %s", path, error->message);
  if (strstr (error->message, fragment) == NULL)
    g_error ("error for %s does not mention '%s': %s", path, fragment, error->message);
}

static void
test_keras_zip_bad (void)
{
  g_autofree char *good = data_path ("models", "AKSHATV25__mnist_model.keras");
  g_autofree char *tmp = g_dir_make_tmp ("mirada-formats-XXXXXX", NULL);
  g_autofree char *cut = tmp_copy_prefix (good, 40000, tmp, "truncated.keras");
  g_autofree char *config = NULL;
  g_autofree char *bad1 = NULL, *bad2 = NULL, *bad3 = NULL;
  static const char junk[] = "this is not an HDF5 file at all, just bytes";
  gsize config_len;
  int err = 0;
  zip_t *z;
  zip_stat_t st;
  zip_file_t *zf;

  expect_error (cut, "truncated or damaged");

  /* Real config, no weights; real config, junk weights; junk config. */
  z = zip_open (good, ZIP_RDONLY, &err);
  g_assert_nonnull (z);
  g_assert_cmpint (zip_stat (z, "config.json", 0, &st), ==, 0);
  config_len = (gsize) st.size;
  config = g_malloc (config_len);
  zf = zip_fopen (z, "config.json", 0);
  g_assert_cmpint (zip_fread (zf, config, st.size), ==, (zip_int64_t) st.size);
  zip_fclose (zf);
  zip_discard (z);
  {
    const char *m1[] = { "config.json", "metadata.json" };
    const char *c1[] = { config, "{\"keras_version\": \"3.1.0\"}" };
    gsize l1[] = { config_len, strlen (c1[1]) };
    const char *m2[] = { "config.json", "model.weights.h5" };
    const char *c2[] = { config, junk };
    gsize l2[] = { config_len, sizeof junk };
    const char *m3[] = { "config.json", "model.weights.h5" };
    const char *c3[] = { "{\"class_name\": \"Sequential\", \"config\": {\"layers\": 5}}", junk };
    gsize l3[] = { strlen (c3[0]), sizeof junk };

    bad1 = make_zip (tmp, "noweights.keras", m1, c1, l1, 2);
    bad2 = make_zip (tmp, "junkweights.keras", m2, c2, l2, 2);
    bad3 = make_zip (tmp, "badconfig.keras", m3, c3, l3, 2);
  }
  expect_error (bad1, "model.weights.h5");
  expect_error (bad2, "not a readable HDF5 file");
  expect_error (bad3, "list of layers");
  g_unlink (cut);
  g_unlink (bad1);
  g_unlink (bad2);
  g_unlink (bad3);
  g_rmdir (tmp);
}

/* ------------------------------------------------------------------ */
/* TensorFlow.js */

static void
test_tfjs (gconstpointer data)
{
  const char *kind = data;
  g_autofree char *dir = g_strconcat ("tfjs-", kind, NULL);
  g_autofree char *path = data_path ("formats", dir);
  g_autofree char *mj = g_build_filename (path, "model.json", NULL);
  g_autofree char *refpath = g_build_filename (path, "ref.json", NULL);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) y = NULL;
  GError *error = NULL;
  JsonObject *ref = load_json (refpath, &parser);

  model = mir_model_load (mj, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (model->format, ==, "TensorFlow.js layers model");
  g_assert_false (model->weights_initialised);
  x = make_input (model, 2, 127.5, -1.0);
  y = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  /* TF.js dequantized the same bytes: 1e-4 relative for every encoding. */
  compare_output (y, ref, 1e-4, 1e-6);
}

static void
test_tfjs_tm (void)
{
  g_autofree char *dir = shared_path ("traumverloren__tm_image_model");
  g_autofree char *refpath = data_path ("formats", "tm_image_model.ref.json");
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) y = NULL;
  GError *error = NULL;
  JsonObject *ref;

  if (dir == NULL)
    return;
  ref = load_json (refpath, &parser);
  model = mir_model_load (dir, &error); /* the folder: model.json inside */
  g_assert_no_error (error);
  g_assert_nonnull (model->meta.class_names);
  g_assert_cmpstr (model->meta.class_names[0], ==, "blah1");
  g_assert_cmpstr (model->meta.class_names[1], ==, "blah2");
  g_assert_null (model->meta.class_names[2]);
  g_assert_cmpint (model->meta.preprocess, ==, MIR_PREPROCESS_TF);
  x = make_input (model, 1, 127.5, -1.0);
  y = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  compare_output (y, ref, 1e-4, 1e-5);
}

static char *
copy_dir (const char *src, const char *tmp, const char *name)
{
  g_autoptr(GDir) d = g_dir_open (src, 0, NULL);
  char *dst = g_build_filename (tmp, name, NULL);
  const char *f;

  g_assert_nonnull (d);
  g_assert_cmpint (g_mkdir (dst, 0700), ==, 0);
  while ((f = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *a = g_build_filename (src, f, NULL);
      g_free (tmp_copy_prefix (a, G_MAXSIZE, dst, f));
    }
  return dst;
}

static void
rm_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *f;

  while (d && (f = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, f, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

static void
test_tfjs_bad (void)
{
  g_autofree char *src = data_path ("formats", "tfjs-float32");
  g_autofree char *tmp = g_dir_make_tmp ("mirada-tfjs-XXXXXX", NULL);
  g_autofree char *d1 = copy_dir (src, tmp, "missing");
  g_autofree char *d2 = copy_dir (src, tmp, "short");
  g_autofree char *d3 = copy_dir (src, tmp, "sizes");
  g_autofree char *d4 = copy_dir (src, tmp, "quant");
  g_autofree char *p = NULL;
  g_autofree char *mj = NULL;
  g_autofree char *text = NULL;
  GError *error = NULL;
  gsize len;

  /* A shard missing. */
  p = g_build_filename (d1, "group1-shard2of2.bin", NULL);
  g_unlink (p);
  g_clear_pointer (&p, g_free);
  p = g_build_filename (d1, "model.json", NULL);
  expect_error (p, "group1-shard2of2.bin");
  g_clear_pointer (&p, g_free);

  /* A shard shorter than the manifest says. */
  p = g_build_filename (d2, "group1-shard2of2.bin", NULL);
  g_free (tmp_copy_prefix (p, 100, d2, "group1-shard2of2.bin"));
  g_clear_pointer (&p, g_free);
  p = g_build_filename (d2, "model.json", NULL);
  expect_error (p, "truncated");
  g_clear_pointer (&p, g_free);

  /* Manifest sizes that do not match the shards (dense kernel [4,3] -> [4,4]). */
  mj = g_build_filename (d3, "model.json", NULL);
  g_file_get_contents (mj, &text, &len, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GString) s = g_string_new (text);
    g_assert_cmpuint (g_string_replace (s, "\"head/kernel\",\"shape\":[4,3]",
                                        "\"head/kernel\",\"shape\":[4,4]", 1), ==, 1);
    g_file_set_contents (mj, s->str, -1, &error);
    g_assert_no_error (error);
  }
  expect_error (mj, "has shape (4, 4) in the file");
  g_clear_pointer (&mj, g_free);
  g_clear_pointer (&text, g_free);

  /* An unknown quantization dtype. */
  mj = g_build_filename (d4, "model.json", NULL);
  g_file_get_contents (mj, &text, &len, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GString) s = g_string_new (text);
    g_assert_cmpuint (g_string_replace (s, "\"shape\":[3,3,3,4],\"dtype\":\"float32\"}",
                                        "\"shape\":[3,3,3,4],\"dtype\":\"float32\","
                                        "\"quantization\":{\"dtype\":\"int4\"}}", 1), ==, 1);
    g_file_set_contents (mj, s->str, -1, &error);
    g_assert_no_error (error);
  }
  expect_error (mj, "int4");

  rm_dir (d1);
  rm_dir (d2);
  rm_dir (d3);
  rm_dir (d4);
  g_rmdir (tmp);
}

/* ------------------------------------------------------------------ */
/* ONNX */

static void
test_onnx (gconstpointer data)
{
  const char *name = data;
  g_autofree char *file = g_strconcat (name, ".onnx", NULL);
  g_autofree char *reffile = g_strconcat (name, ".ref.json", NULL);
  g_autofree char *path = data_path ("onnx", file);
  g_autofree char *refpath = data_path ("onnx", reffile);
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) y = NULL;
  GError *error = NULL;
  JsonObject *ref = load_json (refpath, &parser);

  g_autofree char *format = g_strdup_printf ("ONNX (opset %" G_GINT64_FORMAT ")",
                                              json_object_get_int_member (ref, "opset"));

  model = mir_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (model->format, ==, format);
  g_assert_false (model->weights_initialised);
  x = make_input (model, 2, 127.5, -1.0);
  y = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  /* PyTorch (float32, other summation order): 1e-4 relative, 1e-5 absolute. */
  compare_output (y, ref, 1e-4, 1e-5);
}

/* The whole loaded graph's backward pass (what Grad-CAM runs) against
 * central differences: grouped convolutions, HardSwish/HardSigmoid, the
 * global pools from ReduceMean, Permute/Reshape of the channel shuffle and
 * of a flattened output, explicit-pad pooling.  Max pooling has kinks: the
 * input is a shuffled ramp (no ties within the step). */
static void
test_onnx_gradcheck (gconstpointer data)
{
  const char *name = data;
  g_autofree char *file = g_strconcat (name, ".onnx", NULL);
  g_autofree char *path = data_path ("onnx", file);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (5);
  MirGradcheckOptions o = { .eps = 1e-2, .max_checks = 48 };
  GError *error = NULL;

  model = mir_model_load (path, &error);
  g_assert_no_error (error);
  x = make_input (model, 1, 127.5, -1.0);
  /* distinct values 0.004 apart, shuffled: no ties for the max pools */
  for (gsize i = x->numel; i > 1; i--)
    {
      gsize j = (gsize) g_rand_int_range (rng, 0, (gint32) i);
      float t = x->data[i - 1];
      x->data[i - 1] = x->data[j];
      x->data[j] = t;
    }
  for (gsize i = 0; i < x->numel; i++)
    x->data[i] += (float) i * 1e-6f;
  /* float32 through a whole graph: the input gradients are 1e-4 to 1e-2, the
   * differences at eps 1e-2 carry about 0.5% noise (1e-3 is worse) */
  mir_assert_gradcheck (model, &x, 1, &o, 1e-2);
}

/* Writes @mp, changed by the caller, to @tmp/@name. */
static char *
write_onnx (Onnx__ModelProto *mp, const char *tmp, const char *name)
{
  gsize len = onnx__model_proto__get_packed_size (mp);
  g_autofree guint8 *buf = g_malloc (len);
  char *path = g_build_filename (tmp, name, NULL);
  GError *error = NULL;

  onnx__model_proto__pack (mp, buf);
  g_file_set_contents (path, (const char *) buf, (gssize) len, &error);
  g_assert_no_error (error);
  return path;
}

static void
test_onnx_bad (void)
{
  g_autofree char *good = data_path ("onnx", "resnet_block.onnx");
  g_autofree char *tmp = g_dir_make_tmp ("mirada-onnx-XXXXXX", NULL);
  g_autofree char *cut = tmp_copy_prefix (good, 3000, tmp, "truncated.onnx");
  g_autofree char *contents = NULL;
  g_autofree char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
  GError *error = NULL;
  Onnx__ModelProto *mp;
  gsize len;
  char *saved;
  gint64 saved_version;

  expect_error (cut, "truncated or damaged");

  g_file_get_contents (good, &contents, &len, &error);
  g_assert_no_error (error);
  mp = onnx__model_proto__unpack (NULL, len, (const uint8_t *) contents);
  g_assert_nonnull (mp);

  saved_version = mp->opset_import[0]->version;
  mp->opset_import[0]->version = 99;
  p1 = write_onnx (mp, tmp, "opset99.onnx");
  mp->opset_import[0]->version = saved_version;

  saved = mp->graph->node[1]->op_type;
  mp->graph->node[1]->op_type = (char *) "Erf";
  p2 = write_onnx (mp, tmp, "erf.onnx");
  mp->graph->node[1]->op_type = saved;

  /* A grouped (neither plain nor depthwise) convolution. */
  for (gsize i = 0; i < mp->graph->n_node; i++)
    if (g_strcmp0 (mp->graph->node[i]->op_type, "Conv") == 0)
      {
        Onnx__NodeProto *n = mp->graph->node[i];
        for (gsize a = 0; a < n->n_attribute; a++)
          if (g_strcmp0 (n->attribute[a]->name, "group") == 0)
            {
              gint64 old = n->attribute[a]->i;
              n->attribute[a]->i = 2;
              p3 = write_onnx (mp, tmp, "group2.onnx");
              n->attribute[a]->i = old;
            }
        break;
      }
  g_assert_nonnull (p3);

  /* A custom-domain operator. */
  saved = mp->graph->node[1]->domain;
  mp->graph->node[1]->domain = (char *) "com.example";
  p4 = write_onnx (mp, tmp, "domain.onnx");
  mp->graph->node[1]->domain = saved;
  onnx__model_proto__free_unpacked (mp, NULL);

  expect_error (p1, "opset 99");
  expect_error (p2, "operator Erf");
  expect_error (p2, "opset 13");
  expect_error (p3, "group=2");
  expect_error (p4, "com.example");
  g_unlink (cut);
  g_unlink (p1);
  g_unlink (p2);
  g_unlink (p3);
  g_unlink (p4);
  g_rmdir (tmp);
}

/* The operator table (issue 22): sorted (the loader looks names up with
 * bsearch), and the "not supported" message lists every operator in it;
 * an operator newer than the model's opset is refused by name. */
static void
test_onnx_op_table (void)
{
  const char *const *ops = mir_onnx_operators ();
  g_autofree char *good = data_path ("onnx", "resnet_block.onnx");
  g_autofree char *tmp = g_dir_make_tmp ("mirada-onnx-XXXXXX", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *p1 = NULL, *p2 = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(MirModel) m1 = NULL;
  g_autoptr(MirModel) m2 = NULL;
  GError *error = NULL;
  Onnx__ModelProto *mp;
  gsize len, n = 0;
  char *saved;

  for (n = 0; ops[n] != NULL; n++)
    if (n > 0 && strcmp (ops[n - 1], ops[n]) >= 0)
      g_error ("the ONNX operator table is not sorted: %s before %s", ops[n - 1], ops[n]);
  g_assert_cmpuint (n, >=, 30);

  g_file_get_contents (good, &contents, &len, &error);
  g_assert_no_error (error);
  mp = onnx__model_proto__unpack (NULL, len, (const uint8_t *) contents);
  g_assert_nonnull (mp);
  saved = mp->graph->node[1]->op_type;
  mp->graph->node[1]->op_type = (char *) "Einsum";
  p1 = write_onnx (mp, tmp, "einsum.onnx");
  mp->graph->node[1]->op_type = (char *) "LayerNormalization";
  p2 = write_onnx (mp, tmp, "layernorm13.onnx");
  mp->graph->node[1]->op_type = saved;
  onnx__model_proto__free_unpacked (mp, NULL);

  m1 = mir_model_load (p1, &e1);
  g_assert_null (m1);
  g_assert_error (e1, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (e1->message, "operator Einsum"));
  for (gsize i = 0; i < n; i++)
    {
      g_autofree char *word = g_strdup_printf (" %s,", ops[i]);
      g_autofree char *last = g_strdup_printf (" %s)", ops[i]);
      if (!strstr (e1->message, word) && !strstr (e1->message, last))
        g_error ("the unsupported-operator message does not list %s: %s", ops[i], e1->message);
    }
  {
    g_autofree char *old = data_path ("onnx", "old_softmax11.onnx");
    expect_error (old, "before opset 13");
  }
  m2 = mir_model_load (p2, &e2);
  g_assert_null (m2);
  g_assert_nonnull (strstr (e2->message, "from opset 17"));
  g_assert_nonnull (strstr (e2->message, "opset 13"));
  g_unlink (p1);
  g_unlink (p2);
  g_rmdir (tmp);
}

/* ------------------------------------------------------------------ */
/* Keras applications */

typedef struct
{
  const char *spec;
  gint64 params;  /* Keras' model.summary() total */
  const char *layers[4];
  gint64 shapes[4][3];
} ArchCase;

static const ArchCase arch_cases[] = {
  { "arch:vgg16", 138357544, { "block5_conv3", "block5_pool", "fc2", "predictions" },
    { { 14, 14, 512 }, { 7, 7, 512 }, { 4096, 0, 0 }, { 1000, 0, 0 } } },
  { "arch:vgg16,notop", 14714688, { "block1_conv1", "block5_pool" }, { { 224, 224, 64 }, { 7, 7, 512 } } },
  { "arch:resnet50", 25636712, { "conv1_pad", "conv4_block6_out", "conv5_block3_out", "avg_pool" },
    { { 230, 230, 3 }, { 14, 14, 1024 }, { 7, 7, 2048 }, { 2048, 0, 0 } } },
  { "arch:resnet50,notop", 23587712, { "conv2_block1_0_conv" }, { { 56, 56, 256 } } },
  { "arch:mobilenetv2", 3538984,
    { "block_13_pad", "block_16_project_BN", "out_relu", "predictions" },
    { { 15, 15, 576 }, { 7, 7, 320 }, { 7, 7, 1280 }, { 1000, 0, 0 } } },
  { "arch:mobilenetv2,notop", 2257984, { "expanded_conv_project" }, { { 112, 112, 16 } } },
  { "arch:mobilenetv2,alpha=0.5,notop,size=160", 706224, { "Conv1", "out_relu" },
    { { 80, 80, 16 }, { 5, 5, 1280 } } },
  { "arch:xception", 22910480,
    { "block4_pool", "block13_pool", "block14_sepconv2_act", "avg_pool" },
    { { 19, 19, 728 }, { 10, 10, 1024 }, { 10, 10, 2048 }, { 2048, 0, 0 } } },
  { "arch:xception,notop", 20861480, { "block1_conv1" }, { { 149, 149, 32 } } },
  { "arch:efficientnetb0", 5330571,
    { "normalization", "block6a_se_excite", "block5c_add", "top_activation" },
    { { 224, 224, 3 }, { 7, 7, 672 }, { 14, 14, 112 }, { 7, 7, 1280 } } },
  { "arch:efficientnetb0,notop", 4049571, { "stem_conv" }, { { 112, 112, 32 } } },
};

static void
test_arch (gconstpointer data)
{
  const ArchCase *c = data;
  g_autoptr(MirModel) model = NULL;
  GError *error = NULL;

  model = mir_model_load (c->spec, &error);
  g_assert_no_error (error);
  g_assert_true (model->weights_initialised);
  g_assert_cmpint (mir_model_count_params (model, NULL), ==, c->params);
  for (guint i = 0; i < G_N_ELEMENTS (c->layers) && c->layers[i]; i++)
    {
      gint idx = mir_model_find_node (model, c->layers[i]);
      const MirShape *s;

      if (idx < 0)
        g_error ("%s has no layer %s", c->spec, c->layers[i]);
      s = &mir_model_get_node (model, (guint) idx)->shape;
      g_assert_cmpuint (s->ndim, ==, c->shapes[i][1] ? 4 : 2);
      for (guint d = 1; d < s->ndim; d++)
        g_assert_cmpint (s->dim[d], ==, c->shapes[i][d - 1]);
    }
}

/* Large random weights (VGG16's block5_conv3 kernel: 2.4 M values) are
 * drawn in chunks over the kernel threads: the same values on 1 and on 2
 * threads, and Glorot-uniform in distribution: inside +-limit, mean 0 and
 * variance limit^2 / 3 within 1 % of limit^2 (with 2.4 M draws the standard
 * errors are 0.04 % and 0.03 %), and no two neighbours equal (chunks that
 * repeated a stream would show). */
static void
test_arch_random_weights (void)
{
  g_autoptr(MirModel) one = NULL, two = NULL;
  GError *error = NULL;
  const MirTensor *a, *b;
  double limit, mean = 0, var = 0;
  gsize same = 0;
  guint threads = mir_parallel_threads ();
  gint idx;

  mir_parallel_set_threads (1);
  one = mir_model_load ("arch:vgg16,notop,size=32", &error);
  g_assert_no_error (error);
  mir_parallel_set_threads (2);
  two = mir_model_load ("arch:vgg16,notop,size=32", &error);
  g_assert_no_error (error);
  mir_parallel_set_threads (threads);
  idx = mir_model_find_node (one, "block5_conv3");
  g_assert_cmpint (idx, >=, 0);
  a = mir_model_get_node (one, (guint) idx)->layer->weights[0].value;
  b = mir_model_get_node (two, (guint) idx)->layer->weights[0].value;
  g_assert_cmpuint (a->numel, ==, 3 * 3 * 512 * 512);
  g_assert_cmpmem (a->data, a->numel * sizeof (float), b->data, b->numel * sizeof (float));
  limit = sqrt (6.0 / (9.0 * 512 + 9.0 * 512));
  for (gsize k = 0; k < a->numel; k++)
    {
      g_assert_cmpfloat (fabs (a->data[k]), <=, limit);
      mean += a->data[k];
      same += k > 0 && a->data[k] == a->data[k - 1];
    }
  mean /= (double) a->numel;
  for (gsize k = 0; k < a->numel; k++)
    var += (a->data[k] - mean) * (a->data[k] - mean);
  var /= (double) a->numel;
  g_assert_cmpfloat (fabs (mean), <=, 0.01 * limit);
  g_assert_cmpfloat (fabs (var - limit * limit / 3.0), <=, 0.01 * limit * limit);
  g_assert_cmpuint (same, <, 10);

  /* The convolutional base of the whole model has the same weights as the
   * base alone (`mirada filters` builds only the base for a layer of it):
   * its layers come first and draw first, small (block1_conv1, from the
   * GRand) and large (block5_conv3, in chunks) alike. */
  {
    g_autoptr(MirModel) whole = mir_model_load ("arch:vgg16", &error);
    const char *names[2] = { "block1_conv1", "block5_conv3" };

    g_assert_no_error (error);
    for (guint i = 0; i < 2; i++)
      {
        const MirTensor *w = mir_model_get_node (whole, (guint) mir_model_find_node (whole, names[i]))
                               ->layer->weights[0].value;
        const MirTensor *o = mir_model_get_node (one, (guint) mir_model_find_node (one, names[i]))
                               ->layer->weights[0].value;

        g_assert_cmpmem (w->data, w->numel * sizeof (float), o->data, o->numel * sizeof (float));
      }
  }
}

/* A small one end to end: it runs, and Keras-named weights load onto it. */
static void
test_arch_run (void)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) y = NULL;
  GError *error = NULL;
  double sum = 0;

  model = mir_model_load ("arch:mobilenetv2,alpha=0.35,size=96,classes=3", &error);
  g_assert_no_error (error);
  x = make_input (model, 1, 127.5, -1.0);
  y = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (y->numel, ==, 3);
  for (guint i = 0; i < 3; i++)
    sum += y->data[i];
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
}

static void
test_arch_bad (void)
{
  static const char *const bad[][2] = {
    { "arch:alexnet", "Unknown architecture" },
    { "arch:vgg16,size=300", "use --no-top" },
    { "arch:resnet50,alpha=0.5", "MobileNetV2 only" },
    { "arch:xception,size=20,notop", "out of range" },
    { "arch:vgg16,top=yes", "top=yes" },
    { "arch:vgg16,weights=/nonexistent/vgg16.h5", "nonexistent" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    expect_error (bad[i][0], bad[i][1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/formats/keras/mnist", "AKSHATV25__mnist_model.keras", test_keras_zip);
  g_test_add_data_func ("/formats/keras/cifar10-bn", "MayurJr__best_model.keras", test_keras_zip);
  g_test_add_func ("/formats/keras/bad", test_keras_zip_bad);
  g_test_add_data_func ("/formats/tfjs/float32-2-shards", "float32", test_tfjs);
  g_test_add_data_func ("/formats/tfjs/uint8", "uint8", test_tfjs);
  g_test_add_data_func ("/formats/tfjs/uint16", "uint16", test_tfjs);
  g_test_add_data_func ("/formats/tfjs/float16", "float16", test_tfjs);
  g_test_add_func ("/formats/tfjs/teachable-machine", test_tfjs_tm);
  g_test_add_func ("/formats/tfjs/bad", test_tfjs_bad);
  g_test_add_data_func ("/formats/onnx/small-cnn", "small_cnn", test_onnx);
  g_test_add_data_func ("/formats/onnx/resnet-block", "resnet_block", test_onnx);
  g_test_add_data_func ("/formats/onnx/depthwise", "depthwise", test_onnx);
  /* issue 20: pads counted in averages, ceil_mode, a flattened map as the output */
  g_test_add_data_func ("/formats/onnx/pool-modes", "pool_modes", test_onnx);
  g_test_add_data_func ("/formats/onnx/flatten-out", "flatten_out", test_onnx);
  g_test_add_data_func ("/formats/onnx/hard-ops13", "hard_ops13", test_onnx);
  g_test_add_data_func ("/formats/onnx/hard-ops17", "hard_ops17", test_onnx);
  g_test_add_data_func ("/formats/onnx/grouped", "grouped", test_onnx);
  g_test_add_data_func ("/formats/onnx/shuffle", "shuffle", test_onnx);
  g_test_add_data_func ("/formats/onnx/gradcheck/grouped", "grouped", test_onnx_gradcheck);
  g_test_add_data_func ("/formats/onnx/gradcheck/hard-ops17", "hard_ops17", test_onnx_gradcheck);
  g_test_add_data_func ("/formats/onnx/gradcheck/shuffle", "shuffle", test_onnx_gradcheck);
  g_test_add_data_func ("/formats/onnx/gradcheck/flatten-out", "flatten_out",
                        test_onnx_gradcheck);
  g_test_add_func ("/formats/onnx/bad", test_onnx_bad);
  g_test_add_func ("/formats/onnx/op-table", test_onnx_op_table);
  g_test_add_data_func ("/formats/onnx/convnext13", "convnext13", test_onnx);
  g_test_add_data_func ("/formats/onnx/convnext17", "convnext17", test_onnx);
  g_test_add_data_func ("/formats/onnx/channel-split13", "channel_split13", test_onnx);
  g_test_add_data_func ("/formats/onnx/channel-split17", "channel_split17", test_onnx);
  g_test_add_data_func ("/formats/onnx/gradcheck/convnext13", "convnext13", test_onnx_gradcheck);
  g_test_add_data_func ("/formats/onnx/gradcheck/convnext17", "convnext17", test_onnx_gradcheck);
  g_test_add_data_func ("/formats/onnx/gradcheck/channel-split13", "channel_split13",
                        test_onnx_gradcheck);
  for (guint i = 0; i < G_N_ELEMENTS (arch_cases); i++)
    {
      g_autofree char *tp = g_strdup_printf ("/formats/arch/%s", arch_cases[i].spec + 5);
      g_test_add_data_func (tp, &arch_cases[i], test_arch);
    }
  g_test_add_func ("/formats/arch/run", test_arch_run);
  g_test_add_func ("/formats/arch/random-weights", test_arch_random_weights);
  g_test_add_func ("/formats/arch/bad", test_arch_bad);
  return g_test_run ();
}
