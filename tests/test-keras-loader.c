/* The Keras HDF5 loader: fixtures load with the layer counts, parameter
 * totals and per-weight sums that tests/gen/keras-loader-data.py computed
 * independently with h5py (tests/data/models/expected.json); nested group
 * paths, shared layers, weights-only loading; and every bad input gives a
 * GError with a helpful message. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-keras.h"

static JsonObject *expected_root;

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "models", name, NULL);
}

/* The fixture's path, or NULL (test skipped) for the unlicensed one when the
 * shared folder is absent. */
static char *
fixture_path (const char *name)
{
  const char *shared;
  char *path;

  if (g_strcmp0 (name, "MayurJr__model_cifar10.h5") != 0)
    return data_path (name);
  shared = g_getenv ("MIRADA_SHARED_DIR");
  path = g_build_filename (shared ? shared : ".", "fixtures", "models", name, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *msg = g_strdup_printf (
        "%s is not in the repository (no license) and was not found at %s; "
        "set MIRADA_SHARED_DIR to the folder holding fixtures/models/", name, path);
      g_print ("%s\n", msg);
      g_test_skip (msg);
      g_free (path);
      return NULL;
    }
  return path;
}

static MirLayer *
find_layer (MirModel *model, const char *name)
{
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      if (g_strcmp0 (node->layer->name, name) == 0)
        return node->layer;
    }
  return NULL;
}

static gint64
json_int (JsonObject *o, const char *key)
{
  return json_object_get_int_member (o, key);
}

/* Every stored weight: same shape, and sum and sum of squares equal to the
 * h5py values (both summed in double from the same float32 values). */
static void
check_weights (MirModel *model, JsonObject *exp)
{
  JsonArray *weights = json_object_get_array_member (exp, "weights");

  g_assert_cmpuint (json_array_get_length (weights), >, 0);
  for (guint i = 0; i < json_array_get_length (weights); i++)
    {
      JsonObject *w = json_array_get_object_element (weights, i);
      const char *lname = json_object_get_string_member (w, "layer");
      guint index = (guint) json_int (w, "index");
      JsonArray *shape = json_object_get_array_member (w, "shape");
      double want_sum = json_object_get_double_member (w, "sum");
      double want_sumsq = json_object_get_double_member (w, "sumsq");
      MirLayer *layer = find_layer (model, lname);
      MirTensor *t;
      double sum = 0, sumsq = 0, tol;

      if (layer == NULL)
        g_test_message ("layer %s not found", lname);
      g_assert_nonnull (layer);
      g_assert_cmpuint (index, <, layer->n_weights);
      t = layer->weights[index].value;
      g_assert_nonnull (t);
      g_assert_cmpuint (t->ndim, ==, json_array_get_length (shape));
      for (guint d = 0; d < t->ndim; d++)
        g_assert_cmpint (t->shape[d], ==, json_array_get_int_element (shape, d));
      for (gsize k = 0; k < t->numel; k++)
        {
          sum += t->data[k];
          sumsq += (double) t->data[k] * t->data[k];
        }
      /* Double sums of <= 1e6 float values: rounding stays far below 1e-9. */
      tol = 1e-9 * (1.0 + want_sumsq + (double) t->numel);
      if (fabs (sum - want_sum) > tol || fabs (sumsq - want_sumsq) > tol)
        g_test_message ("layer %s weight %u: sum %.9g vs %.9g, sumsq %.9g vs %.9g",
                        lname, index, sum, want_sum, sumsq, want_sumsq);
      g_assert_cmpfloat (fabs (sum - want_sum), <=, tol);
      g_assert_cmpfloat (fabs (sumsq - want_sumsq), <=, tol);
    }
}

static void
check_counts (MirModel *model, JsonObject *exp)
{
  gint64 trainable = 0;
  gint64 params = mir_model_count_params (model, &trainable);

  g_test_message ("nodes %u, params %" G_GINT64_FORMAT ", trainable %" G_GINT64_FORMAT,
                  mir_model_get_n_nodes (model), params, trainable);
  g_assert_cmpint (params, ==, json_int (exp, "params"));
  g_assert_cmpint (trainable, ==, json_int (exp, "trainable"));
}

static void
test_fixture (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = fixture_path (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  JsonObject *exp;
  JsonArray *in_shape;
  const MirShape *shape;
  const char *version;

  if (path == NULL)
    return;
  exp = json_object_get_object_member (expected_root, name);
  g_assert_nonnull (exp);
  model = mir_keras_load_h5 (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);

  g_assert_cmpint (mir_model_get_n_nodes (model), ==, json_int (exp, "nodes"));
  check_counts (model, exp);
  check_weights (model, exp);
  g_assert_false (model->weights_initialised);

  in_shape = json_object_get_array_member (exp, "input_shape");
  shape = mir_model_get_input_shape (model, 0);
  g_assert_cmpuint (shape->ndim, ==, json_array_get_length (in_shape));
  for (guint d = 0; d < shape->ndim; d++)
    g_assert_cmpint (shape->dim[d], ==, json_array_get_int_element (in_shape, d));
  shape = mir_model_get_output_shape (model, 0);
  g_assert_cmpuint (shape->ndim, ==, 2);
  g_assert_cmpint (shape->dim[0], ==, -1);
  g_assert_cmpint (shape->dim[1], ==, json_int (exp, "output_last_dim"));

  version = json_object_get_string_member (exp, "keras_version");
  g_assert_cmpstr (model->keras_version, ==, version);
  g_assert_cmpstr (model->format, ==,
                   g_str_has_prefix (version, "3.") ? "Keras 3 HDF5" : "Keras 2 HDF5");
  g_assert_nonnull (model->backend);
  g_assert_nonnull (model->name);
}

static void
assert_group (MirModel *model, const char *node, const char *group)
{
  gint i = mir_model_find_node (model, node);

  if (i < 0)
    g_test_message ("no node %s", node);
  g_assert_cmpint (i, >=, 0);
  g_assert_cmpstr (mir_model_get_node (model, (guint) i)->group, ==, group);
}

/* Teachable Machine: MobileNetV2 Functional in a Sequential in a Sequential. */
static void
test_nested_groups (void)
{
  g_autofree char *path = data_path ("963n__keras_model.h5");
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_load_h5 (path, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (model->name, ==, "sequential_4");
  assert_group (model, "sequential_1_input", NULL);
  assert_group (model, "Conv1", "sequential_1/model1");
  assert_group (model, "out_relu", "sequential_1/model1");
  assert_group (model, "global_average_pooling2d_GlobalAveragePooling2D1", "sequential_1");
  assert_group (model, "dense_Dense2", "sequential_3");
  /* The nested InputLayers are bound to the outer input, not kept. */
  g_assert_cmpint (mir_model_find_node (model, "model1_input"), <, 0);
  g_assert_cmpint (mir_model_find_node (model, "input_1"), <, 0);
  g_assert_cmpuint (model->inputs->len, ==, 1);
}

static void
test_shared_layers (void)
{
  g_autofree char *path = data_path ("tiny_shared.h5");
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_load_h5 (path, &error);
  JsonObject *exp = json_object_get_object_member (expected_root, "tiny_shared.h5");
  g_autoptr(GPtrArray) layers = NULL;
  gint a, b;

  g_assert_no_error (error);
  g_assert_cmpint (mir_model_get_n_nodes (model), ==, json_int (exp, "nodes"));
  check_counts (model, exp);
  check_weights (model, exp);
  a = mir_model_find_node (model, "shared");
  b = mir_model_find_node (model, "shared_1");
  g_assert_cmpint (a, >=, 0);
  g_assert_cmpint (b, >=, 0);
  g_assert_true (mir_model_get_node (model, (guint) a)->layer ==
                 mir_model_get_node (model, (guint) b)->layer);
  layers = mir_model_dup_layers (model);
  g_assert_cmpuint (layers->len, ==, 5);
  g_assert_cmpuint (model->inputs->len, ==, 2);
  g_assert_cmpuint (model->outputs->len, ==, 2);
  g_assert_cmpint (mir_model_get_output (model, 1), ==, b);
  g_assert_cmpint (mir_model_get_output_shape (model, 1)->dim[1], ==, 4);
}

/* Keras 2.0 bare-list Sequential with float16/float64 weights, and a Keras 3
 * Functional with a frozen nested Sequential. */
static void
test_tiny (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = data_path (name);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_load_h5 (path, &error);
  JsonObject *exp = json_object_get_object_member (expected_root, name);

  g_assert_no_error (error);
  g_assert_cmpint (mir_model_get_n_nodes (model), ==, json_int (exp, "nodes"));
  check_counts (model, exp);
  check_weights (model, exp);
  if (g_str_equal (name, "tiny_keras3.h5"))
    {
      g_assert_cmpstr (model->format, ==, "Keras 3 HDF5");
      g_assert_cmpstr (model->backend, ==, "jax");
      assert_group (model, "dense_a", "inner");
      assert_group (model, "out", NULL);
    }
  else
    {
      g_assert_cmpstr (model->format, ==, "Keras 2 HDF5");
      assert_group (model, "d1_input", NULL);
    }
}

static void
test_weights_only (void)
{
  g_autofree char *cfg_path = data_path ("fer2013_config.json");
  g_autofree char *w_path = data_path ("fer2013_weights_only.h5");
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirModel) none = NULL;
  JsonObject *exp = json_object_get_object_member (expected_root, "fer2013_weights_only.h5");
  gsize len;

  g_assert_true (g_file_get_contents (cfg_path, &json, &len, NULL));
  model = mir_keras_model_from_config (json, (gssize) len, &error);
  g_assert_no_error (error);
  g_assert_null (find_layer (model, "conv2d_1")->weights[0].value);

  g_assert_true (mir_keras_load_weights_h5 (model, w_path, &error));
  g_assert_no_error (error);
  g_assert_true (mir_model_finish (model, FALSE, 0, &error));
  g_assert_no_error (error);
  g_assert_false (model->weights_initialised);
  check_counts (model, exp);
  check_weights (model, exp);

  /* Loading it as a whole model says what it is. */
  none = mir_keras_load_h5 (w_path, &error);
  g_assert_null (none);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "weights-only"));
  g_assert_nonnull (strstr (error->message, "save_weights"));
}

/* ------------------------------------------------------------------ */
/* Bad inputs */

static void
expect_load_error (const char *path, gint code, const char *sub1, const char *sub2)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_load_h5 (path, &error);

  g_assert_null (model);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", path, error->message);
  g_assert_error (error, MIR_ERROR, code);
  if (sub1 != NULL)
    g_assert_nonnull (strstr (error->message, sub1));
  if (sub2 != NULL)
    g_assert_nonnull (strstr (error->message, sub2));
}

static void
test_bad_files (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("mirada-keras-XXXXXX", NULL);
  g_autofree char *src = data_path ("oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5");
  g_autofree char *contents = NULL;
  g_autofree char *text = g_build_filename (tmp, "notes.h5", NULL);
  g_autofree char *missing = g_build_filename (tmp, "missing.h5", NULL);
  const double fractions[] = { 0.002, 0.5, 0.999 };
  gsize len;

  g_assert_nonnull (tmp);
  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (fractions); i++)
    {
      g_autofree char *cut = g_strdup_printf ("%s/cut%zu.h5", tmp, i);
      g_assert_true (g_file_set_contents (cut, contents, (gssize) (len * fractions[i]), NULL));
      expect_load_error (cut, MIR_ERROR_FORMAT, "truncated", cut);
      g_unlink (cut);
    }

  g_assert_true (g_file_set_contents (text, "just some text\n", -1, NULL));
  expect_load_error (text, MIR_ERROR_FORMAT, "is not an HDF5 file", NULL);
  g_unlink (text);
  expect_load_error (missing, MIR_ERROR_IO, "missing.h5", NULL);
  g_rmdir (tmp);

  {
    g_autofree char *p = data_path ("tiny_noconfig.h5");
    expect_load_error (p, MIR_ERROR_FORMAT, "model_config", "weights-only");
  }
  {
    g_autofree char *p = data_path ("tiny_lambda.h5");
    expect_load_error (p, MIR_ERROR_UNSUPPORTED, "'my_lambda'", "Python code");
  }
  {
    g_autofree char *p = data_path ("tiny_madeup.h5");
    expect_load_error (p, MIR_ERROR_UNSUPPORTED, "'capsule_1'", "FancyCapsule");
  }
  {
    g_autofree char *p = data_path ("tiny_badshape.h5");
    expect_load_error (p, MIR_ERROR_SHAPE, "(4, 2)", "(3, 2)");
  }
}

static void
expect_config_error (const char *json, gint code, const char *sub1, const char *sub2)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_model_from_config (json, -1, &error);

  g_assert_null (model);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, MIR_ERROR, code);
  if (sub1 != NULL)
    g_assert_nonnull (strstr (error->message, sub1));
  if (sub2 != NULL)
    g_assert_nonnull (strstr (error->message, sub2));
}

#define FUNC_HEAD "{\"class_name\": \"Functional\", \"config\": {\"name\": \"m\", " \
                  "\"input_layers\": [[\"x\", 0, 0]], \"layers\": [" \
                  "{\"class_name\": \"InputLayer\", \"name\": \"x\", \"inbound_nodes\": [], " \
                  "\"config\": {\"name\": \"x\", \"batch_input_shape\": [null, 4]}}, "

static void
test_bad_configs (void)
{
  GString *big;

  expect_config_error ("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [",
                       MIR_ERROR_FORMAT, "not valid JSON", ":1:");
  expect_config_error (FUNC_HEAD
                       "{\"class_name\": \"Dense\", \"name\": \"d1\", \"config\": {\"name\": \"d1\", \"units\": 2},"
                       " \"inbound_nodes\": [[[\"d2\", 0, 0, {}]]]},"
                       "{\"class_name\": \"Dense\", \"name\": \"d2\", \"config\": {\"name\": \"d2\", \"units\": 2},"
                       " \"inbound_nodes\": [[[\"d1\", 0, 0, {}]]]}],"
                       " \"output_layers\": [[\"d2\", 0, 0]]}}",
                       MIR_ERROR_FORMAT, "'d1'", "cycle");
  expect_config_error (FUNC_HEAD
                       "{\"class_name\": \"Dense\", \"name\": \"d1\", \"config\": {\"name\": \"d1\", \"units\": 2},"
                       " \"inbound_nodes\": [[[\"nowhere\", 0, 0, {}]]]}],"
                       " \"output_layers\": [[\"d1\", 0, 0]]}}",
                       MIR_ERROR_FORMAT, "'d1'", "'nowhere'");
  expect_config_error (FUNC_HEAD
                       "{\"class_name\": \"Dense\", \"name\": \"d1\", \"config\": {\"name\": \"d1\", \"units\": 2},"
                       " \"inbound_nodes\": [[[\"x\", 3, 0, {}]]]}],"
                       " \"output_layers\": [[\"d1\", 0, 0]]}}",
                       MIR_ERROR_FORMAT, "'d1'", "'x'");
  expect_config_error (FUNC_HEAD
                       "{\"class_name\": \"TFOpLambda\", \"name\": \"tf.math.truediv\", \"config\": "
                       "{\"name\": \"tf.math.truediv\", \"function\": \"math.truediv\"},"
                       " \"inbound_nodes\": [[[\"x\", 0, 0, {\"y\": 127.5}]]]}],"
                       " \"output_layers\": [[\"tf.math.truediv\", 0, 0]]}}",
                       MIR_ERROR_UNSUPPORTED, "tf.math.truediv", "TFOpLambda");
  expect_config_error ("{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                       "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"in\", "
                       "\"batch_input_shape\": [null, 1000000000, 3]}}]}}",
                       MIR_ERROR_LIMIT, "'in'", "1000000000");
  expect_config_error ("{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                       "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}}]}}",
                       MIR_ERROR_FORMAT, "'s'", "batch_input_shape");
  expect_config_error ("{\"class_name\": \"Conv2D\", \"config\": {}}",
                       MIR_ERROR_UNSUPPORTED, "Conv2D", NULL);

  /* More than 100 000 layers: refused before any is built. */
  big = g_string_new ("{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": [");
  for (guint i = 0; i <= 100000; i++)
    g_string_append_printf (big, "%s{\"class_name\": \"Dropout\", \"config\": {\"name\": \"d%u\"}}",
                            i ? ", " : "", i);
  g_string_append (big, "]}}");
  expect_config_error (big->str, MIR_ERROR_LIMIT, "100000", NULL);

  /* Pathological nesting does not reach json-glib's recursion. */
  g_string_truncate (big, 0);
  for (guint i = 0; i < 200000; i++)
    g_string_append_c (big, '[');
  expect_config_error (big->str, MIR_ERROR_LIMIT, "nested", NULL);
  g_string_free (big, TRUE);
}

/* A nested model called twice (siamese): its layers are shared, its second
 * call gets suffixed node names; Keras 3 inbound form. */
static void
test_nested_shared (void)
{
  static const char json[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"siamese\","
    " \"input_layers\": [[\"a\", 0, 0], [\"b\", 0, 0]], \"output_layers\": [\"sum\", 0, 0],"
    " \"layers\": ["
    "  {\"class_name\": \"InputLayer\", \"name\": \"a\", \"inbound_nodes\": [],"
    "   \"config\": {\"name\": \"a\", \"batch_shape\": [null, 3]}},"
    "  {\"class_name\": \"InputLayer\", \"name\": \"b\", \"inbound_nodes\": [],"
    "   \"config\": {\"name\": \"b\", \"batch_shape\": [null, 3]}},"
    "  {\"class_name\": \"Sequential\", \"name\": \"tower\", \"config\": {\"name\": \"tower\","
    "   \"layers\": [{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"t_in\", \"batch_shape\": [null, 3]}},"
    "                {\"class_name\": \"Dense\", \"config\": {\"name\": \"t_dense\", \"units\": 2}}]},"
    "   \"inbound_nodes\": ["
    "     {\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"a\", 0, 0]}}], \"kwargs\": {}},"
    "     {\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"b\", 0, 0]}}], \"kwargs\": {}}]},"
    "  {\"class_name\": \"Add\", \"name\": \"sum\", \"config\": {\"name\": \"sum\"},"
    "   \"inbound_nodes\": [{\"args\": [["
    "     {\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"tower\", 0, 0]}},"
    "     {\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"tower\", 1, 0]}}]],"
    "    \"kwargs\": {}}]}]}}";
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = mir_keras_model_from_config (json, -1, &error);
  g_autoptr(GPtrArray) layers = NULL;
  gint n0, n1;

  g_assert_no_error (error);
  g_assert_cmpuint (mir_model_get_n_nodes (model), ==, 5); /* a, b, t_dense, t_dense_1, sum */
  layers = mir_model_dup_layers (model);
  g_assert_cmpuint (layers->len, ==, 4);
  n0 = mir_model_find_node (model, "t_dense");
  n1 = mir_model_find_node (model, "t_dense_1");
  g_assert_cmpint (n0, >=, 0);
  g_assert_cmpint (n1, >=, 0);
  g_assert_true (mir_model_get_node (model, (guint) n0)->layer ==
                 mir_model_get_node (model, (guint) n1)->layer);
  assert_group (model, "t_dense_1", "tower");
  g_assert_cmpint (mir_model_count_params (model, NULL), ==, 3 * 2 + 2);
  g_assert_cmpint (mir_model_get_output_shape (model, 0)->dim[1], ==, 2);
}

int
main (int argc, char **argv)
{
  static const char *const fixtures[] = {
    "oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5",
    "mlcommons__pretrainedResnet.h5",
    "963n__keras_model.h5",
    "MayurJr__model_cifar10.h5",
  };
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *exp_path = NULL;
  g_autoptr(GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  exp_path = data_path ("expected.json");
  if (!json_parser_load_from_file (parser, exp_path, &error))
    g_error ("cannot read %s: %s", exp_path, error->message);
  expected_root = json_node_get_object (json_parser_get_root (parser));

  for (gsize i = 0; i < G_N_ELEMENTS (fixtures); i++)
    {
      g_autofree char *tp = g_strdup_printf ("/keras/fixture/%s", fixtures[i]);
      g_test_add_data_func (tp, fixtures[i], test_fixture);
    }
  g_test_add_data_func ("/keras/tiny/f16-bare-sequential", "tiny_f16.h5", test_tiny);
  g_test_add_data_func ("/keras/tiny/keras3-nested", "tiny_keras3.h5", test_tiny);
  g_test_add_func ("/keras/nested-groups", test_nested_groups);
  g_test_add_func ("/keras/shared-layers", test_shared_layers);
  g_test_add_func ("/keras/nested-shared", test_nested_shared);
  g_test_add_func ("/keras/weights-only", test_weights_only);
  g_test_add_func ("/keras/bad-files", test_bad_files);
  g_test_add_func ("/keras/bad-configs", test_bad_configs);
  return g_test_run ();
}
