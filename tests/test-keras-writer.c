/* The Keras 2 .h5 writer: structure and values checked by h5py (an
 * independent reader), atomic replacement, and (with the loader) a
 * bit-exact round trip. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-keras-writer.h"
#include "mir-keras.h"

/* value[i] = sin(0.37 i + 1.3 l) for the l-th weight of the model. */
static void
fill_weights (MirModel *model)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  guint l = 0;

  for (guint k = 0; k < layers->len; k++)
    {
      MirLayer *layer = layers->pdata[k];
      for (guint j = 0; j < layer->n_weights; j++, l++)
        {
          MirWeight *w = &layer->weights[j];
          g_autoptr(MirTensor) t = mir_tensor_new (w->shape.ndim, w->shape.dim, NULL);
          for (gsize i = 0; i < t->numel; i++)
            t->data[i] = (float) sin (0.37 * (double) i + 1.3 * l);
          g_assert_true (mir_layer_set_weight (layer, j, t, NULL));
        }
    }
  g_assert_true (mir_model_finish (model, FALSE, 0, NULL));
}

static MirModel *
sequential_model (void)
{
  MirModel *model = mir_model_new ("sequential");
  MirShape in = { 4, { -1, 6, 5, 2 } };
  guint i;

  g_assert_cmpint (mir_model_add_input (model, "conv2d_input", &in, NULL), ==, 0);
  i = mir_test_add_node (model, "Conv2D", "conv2d",
                         "{\"name\": \"conv2d\", \"filters\": 3, \"kernel_size\": [3, 3],"
                         " \"padding\": \"same\", \"activation\": \"relu\", \"use_bias\": true,"
                         " \"strides\": [1, 1]}",
                         (guint[]) { 0 }, 1);
  i = mir_test_add_node (model, "Flatten", "flatten", "{\"name\": \"flatten\"}", &i, 1);
  i = mir_test_add_node (model, "Dense", "dense",
                         "{\"name\": \"dense\", \"units\": 4, \"activation\": \"softmax\"}", &i, 1);
  g_assert_true (mir_model_set_outputs (model, &i, 1, NULL));
  fill_weights (model);
  return model;
}

static MirModel *
functional_model (void)
{
  MirModel *model = mir_model_new ("model");
  MirShape in = { 2, { -1, 3 } };
  guint a, b, s, o;

  g_assert_cmpint (mir_model_add_input (model, "input_1", &in, NULL), ==, 0);
  a = mir_test_add_node (model, "Dense", "a", "{\"units\": 4, \"activation\": \"tanh\"}",
                         (guint[]) { 0 }, 1);
  b = mir_test_add_node (model, "Dense", "b", "{\"units\": 4}", (guint[]) { 0 }, 1);
  s = mir_test_add_node (model, "Add", "add", "{}", (guint[]) { a, b }, 2);
  o = mir_test_add_node (model, "Dense", "out",
                         "{\"units\": 2, \"activation\": \"sigmoid\"}", &s, 1);
  g_assert_true (mir_model_set_outputs (model, &o, 1, NULL));
  fill_weights (model);
  return model;
}

static void
check_with_h5py (const char *path, const char *kind)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "check-keras-h5.py", NULL);
  const char *argv[] = { "/usr/bin/python3", script, path, kind, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  GError *error = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                &error);
  g_assert_no_error (error);
  g_test_message ("h5py: %s%s", out, err);
  if (!g_spawn_check_wait_status (status, NULL))
    g_printerr ("%s\n", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static guint
count_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_write (gconstpointer data)
{
  const char *kind = data;
  g_autoptr(MirModel) model = g_str_equal (kind, "sequential") ? sequential_model ()
                                                                : functional_model ();
  g_autofree char *dir = g_dir_make_tmp ("mir-h5w-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "model.h5", NULL);
  GError *error = NULL;

  /* an older file is replaced whole */
  g_assert_true (g_file_set_contents (path, "old", -1, NULL));
  g_assert_true (mir_keras_save_h5 (model, path, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_entries (dir), ==, 1); /* no temporary file left */
  check_with_h5py (path, kind);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_write_errors (void)
{
  g_autoptr(MirModel) model = sequential_model ();
  GError *error = NULL;

  g_assert_false (mir_keras_save_h5 (model, "/nonexistent-dir/mirada/model.h5", &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_IO);
  g_clear_error (&error);
}


/* Written, then read back by Mirada's own loader: same graph, bit-identical
 * weights and outputs.  Returns the model read back. */
static MirModel *
round_trip (MirModel *model)
{
  g_autoptr(MirModel) back = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mir-h5rt-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "model.h5", NULL);
  g_autoptr(GPtrArray) la = NULL;
  g_autoptr(GPtrArray) lb = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (3);
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(MirTensor) ya = NULL;
  g_autoptr(MirTensor) yb = NULL;
  const MirShape *in = mir_model_get_input_shape (model, 0);
  gint64 shape[MIR_MAX_DIMS];
  GError *error = NULL;

  g_assert_true (mir_keras_save_h5 (model, path, &error));
  g_assert_no_error (error);
  back = mir_keras_load_h5 (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_false (back->weights_initialised);

  g_assert_cmpuint (mir_model_get_n_nodes (back), ==, mir_model_get_n_nodes (model));
  la = mir_model_dup_layers (model);
  lb = mir_model_dup_layers (back);
  g_assert_cmpuint (la->len, ==, lb->len);
  for (guint l = 0; l < la->len; l++)
    {
      MirLayer *a = la->pdata[l], *b = lb->pdata[l];
      g_assert_cmpstr (a->name, ==, b->name);
      g_assert_cmpstr (a->klass->name, ==, b->klass->name);
      g_assert_cmpint (a->activation, ==, b->activation);
      g_assert_cmpuint (a->n_weights, ==, b->n_weights);
      for (guint j = 0; j < a->n_weights; j++)
        {
          MirTensor *ta = a->weights[j].value, *tb = b->weights[j].value;
          g_assert_true (mir_tensor_same_shape (ta, tb));
          g_assert_cmpmem (ta->data, ta->numel * sizeof (float), tb->data, tb->numel * sizeof (float));
        }
    }

  shape[0] = 5;
  for (guint i = 1; i < in->ndim; i++)
    shape[i] = in->dim[i];
  x = mir_test_random_tensor (in->ndim, shape, 0, 1, rng);
  ya = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  yb = mir_model_predict (back, x, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (ya->data, ya->numel * sizeof (float), yb->data, yb->numel * sizeof (float));

  g_unlink (path);
  g_rmdir (dir);
  return g_steal_pointer (&back);
}

static void
test_round_trip (gconstpointer data)
{
  const char *kind = data;
  gboolean seq = g_str_equal (kind, "sequential");
  g_autoptr(MirModel) model = seq ? sequential_model () : functional_model ();
  g_autoptr(MirModel) back = round_trip (model);

  g_assert_nonnull (back);
}

/* The member @member of layer @name's config in the model_config that the
 * writer makes for @model, as JSON text (NULL when absent); and the
 * layer's class name in @klass. */
static char *
written_member (MirModel *model, const char *name, const char *member, char **klass)
{
  g_autofree char *text = mir_keras_model_config_json (model, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *layers;

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  layers = json_object_get_array_member (
    json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "config"),
    "layers");
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *entry = json_array_get_object_element (layers, i);
      JsonObject *config = json_object_get_object_member (entry, "config");

      if (g_strcmp0 (json_object_get_string_member (config, "name"), name) != 0)
        continue;
      *klass = g_strdup (json_object_get_string_member (entry, "class_name"));
      if (!json_object_has_member (config, member))
        return NULL;
      return json_to_string (json_object_get_member (config, member), FALSE);
    }
  g_assert_not_reached ();
}

/* Issue 20: the Keras layers that map onto what ONNX brought (grouped
 * convolution, hard sigmoid / swish, Permute, general Reshape) are written
 * back under their Keras names and options, and read back the same (the
 * zoo models of tests/gen/zoo.py, whose outputs test-keras-reference checks
 * against TF.js and numpy). */
static void
test_round_trip_issue20 (gconstpointer data)
{
  const char *file = data;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "ref", file, NULL);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirModel) back = NULL;
  g_autofree char *config = NULL;
  GError *error = NULL;

  model = mir_keras_load_h5 (path, &error);
  g_assert_no_error (error);
  back = round_trip (model);
  config = mir_keras_model_config_json (model, NULL);
  if (g_str_equal (file, "np_grouped_conv.h5"))
    {
      g_autofree char *klass = NULL;
      g_autofree char *groups = written_member (model, "conv_g4_same_s2", "groups", &klass);

      g_assert_cmpstr (klass, ==, "Conv2D");
      g_assert_cmpstr (groups, ==, "4");
      g_assert_nonnull (strstr (config, "\"keras_version\":\"" MIR_KERAS_WRITER_VERSION "\""));
    }
  else if (g_str_equal (file, "np_keras3_hard.h5"))
    {
      g_autofree char *klass = NULL;
      g_autofree char *act = written_member (model, "act_hard_swish", "activation", &klass);
      g_autofree char *klass2 = NULL;
      g_autofree char *act2 = written_member (model, "dense_hard_sigmoid", "activation", &klass2);

      g_assert_cmpstr (klass, ==, "Activation");
      g_assert_cmpstr (act, ==, "\"hard_swish\"");
      g_assert_cmpstr (klass2, ==, "Dense");
      g_assert_cmpstr (act2, ==, "\"hard_sigmoid\"");
      /* Keras 3's meaning of hard_sigmoid survives: the file says Keras 3 */
      g_assert_nonnull (strstr (config, "\"keras_version\":\"" MIR_KERAS3_WRITER_VERSION "\""));
      for (guint i = 0; i < mir_model_get_n_nodes (back); i++)
        {
          MirLayer *layer = mir_model_get_node (back, i)->layer;

          if (g_str_equal (layer->name, "dense_hard_sigmoid") ||
              g_str_equal (layer->name, "act_hard_sigmoid"))
            g_assert_cmpint (layer->activation, ==, MIR_ACT_HARD_SIGMOID_K3);
          if (g_str_equal (layer->name, "act_hard_silu"))
            g_assert_cmpint (layer->activation, ==, MIR_ACT_HARD_SWISH);
        }
    }
  else
    {
      g_autofree char *klass = NULL;
      g_autofree char *dims = written_member (model, "shuffle_swap", "dims", &klass);
      g_autofree char *klass2 = NULL;
      g_autofree char *target = written_member (model, "reshape_regroup", "target_shape", &klass2);

      g_assert_cmpstr (klass, ==, "Permute");
      g_assert_cmpstr (dims, ==, "[1,2,4,3]");
      g_assert_cmpstr (klass2, ==, "Reshape");
      g_assert_cmpstr (target, ==, "[2,-1,6]");
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/keras-writer/sequential", "sequential", test_write);
  g_test_add_data_func ("/keras-writer/functional", "functional", test_write);
  g_test_add_func ("/keras-writer/errors", test_write_errors);
  g_test_add_data_func ("/keras-writer/round-trip/sequential", "sequential", test_round_trip);
  g_test_add_data_func ("/keras-writer/round-trip/functional", "functional", test_round_trip);
  g_test_add_data_func ("/keras-writer/round-trip/grouped-conv", "np_grouped_conv.h5",
                        test_round_trip_issue20);
  g_test_add_data_func ("/keras-writer/round-trip/keras3-hard", "np_keras3_hard.h5",
                        test_round_trip_issue20);
  g_test_add_data_func ("/keras-writer/round-trip/permute-reshape", "permute_reshape.h5",
                        test_round_trip_issue20);
  return g_test_run ();
}
