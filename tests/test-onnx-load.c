/* test-onnx-load.c: how the ONNX loader reads initializers (issue 20).
 *
 * Large raw_data stay in the file until their weight is made
 * (engine/io/mir-onnx-walk.h).  The committed test models are small, so
 * these tests lower the threshold to 1 byte (every raw_data read from the
 * file) and check:
 *  - each model in tests/data/onnx gives bit for bit the output of the
 *    default path, and still matches its PyTorch reference (1e-4 relative,
 *    1e-5 absolute, as in test-formats);
 *  - raw_data at every alignment in the file (the model shifted by 1 to 4
 *    bytes) gives the same output;
 *  - a Flatten -> Gemm whose weight (273,000 floats) is transposed in two
 *    blocks matches y = alpha * x W^T + beta * c computed here in double
 *    (1e-5 relative, 1e-6 absolute), in both paths;
 *  - a file cut inside an initializer's raw_data, and one whose weight is
 *    in an external file, are refused with clear messages. */
#define G_LOG_DOMAIN "mir-test"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-model-load.h"
#include "mir-onnx-walk.h"
#include "onnx.pb-c.h"

static const char *const models[] = {
  "small_cnn", "resnet_block", "depthwise", "pool_modes", "flatten_out", "hard_ops13",
  "hard_ops17", "grouped", "shuffle",
};

static char *tmpdir;

static char *
data_path (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".onnx", NULL);
  return g_test_build_filename (G_TEST_DIST, "data", "onnx", file, NULL);
}

/* Input x[i] = ((i * 37) % 256) / 127.5 - 1 over the flat NHWC index, as
 * the references of tests/gen/onnx-models.py. */
static MirTensor *
make_input (MirModel *model, gint64 batch)
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
    t->data[i] = (float) (((i * 37) % 256) / 127.5 - 1.0);
  return t;
}

/* The output of @path for make_input(), loaded with raw_data of at least
 * @min_defer bytes left in the file (0: the default). */
static MirTensor *
run (const char *path, gsize min_defer)
{
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  GError *error = NULL;
  MirTensor *y;

  mir_onnx_walk_set_min_defer (min_defer);
  model = mir_model_load (path, &error);
  mir_onnx_walk_set_min_defer (0);
  g_assert_no_error (error);
  x = make_input (model, 2);
  y = mir_model_predict (model, x, NULL, &error);
  g_assert_no_error (error);
  return y;
}

static void
assert_same (const MirTensor *a, const MirTensor *b)
{
  g_assert_cmpuint (a->numel, ==, b->numel);
  g_assert_cmpint (memcmp (a->data, b->data, a->numel * sizeof (float)), ==, 0);
}

static JsonObject *
load_ref (const char *name, JsonParser **parser)
{
  g_autofree char *file = g_strconcat (name, ".ref.json", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "onnx", file, NULL);
  GError *error = NULL;

  *parser = json_parser_new ();
  json_parser_load_from_file (*parser, path, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*parser));
}

static void
test_in_file (gconstpointer data)
{
  const char *name = data;
  g_autofree char *path = data_path (name);
  g_autoptr(MirTensor) a = run (path, 0);
  g_autoptr(MirTensor) b = run (path, 1);
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *ref = load_ref (name, &parser);
  JsonArray *want = json_object_get_array_member (ref, "output");

  assert_same (a, b);
  g_assert_cmpuint (b->numel, ==, json_array_get_length (want));
  for (guint i = 0; i < b->numel; i++)
    {
      double w = json_array_get_double_element (want, i);
      if (fabs (b->data[i] - w) > 1e-5 + 1e-4 * fabs (w))
        g_error ("output %u: got %.8g, PyTorch %.8g", i, b->data[i], w);
    }
}

static Onnx__ModelProto *
unpack_file (const char *path, char **contents)
{
  GError *error = NULL;
  gsize len;
  Onnx__ModelProto *mp;

  g_file_get_contents (path, contents, &len, &error);
  g_assert_no_error (error);
  mp = onnx__model_proto__unpack (NULL, len, (const uint8_t *) *contents);
  g_assert_nonnull (mp);
  return mp;
}

static char *
write_model (Onnx__ModelProto *mp, const char *name)
{
  gsize len = onnx__model_proto__get_packed_size (mp);
  g_autofree guint8 *buf = g_malloc (len);
  char *path = g_build_filename (tmpdir, name, NULL);
  GError *error = NULL;

  onnx__model_proto__pack (mp, buf);
  g_file_set_contents (path, (const char *) buf, (gssize) len, &error);
  g_assert_no_error (error);
  return path;
}

/* ModelProto.doc_string (field 6) is written before the graph (7): a
 * string of 1 to 4 bytes moves every raw_data by 3 to 6 bytes, to every
 * alignment. */
static void
test_offsets (void)
{
  g_autofree char *good = data_path ("small_cnn");
  g_autofree char *contents = NULL;
  g_autoptr(MirTensor) want = run (good, 0);
  Onnx__ModelProto *mp = unpack_file (good, &contents);
  char *saved = mp->doc_string;

  for (guint shift = 1; shift <= 4; shift++)
    {
      g_autofree char *doc = g_strnfill (shift, 'x');
      g_autofree char *name = g_strdup_printf ("shift%u.onnx", shift);
      g_autofree char *path = NULL;
      g_autoptr(MirTensor) got = NULL;

      mp->doc_string = doc;
      path = write_model (mp, name);
      got = run (path, 1);
      assert_same (want, got);
      g_unlink (path);
    }
  mp->doc_string = saved;
  onnx__model_proto__free_unpacked (mp, NULL);
}

/* Gemm test model: x (1, C, H, W) -> Flatten -> Gemm (transB, alpha, beta). */
#define GC 5
#define GH 6
#define GW 7
#define GK (GC * GH * GW)
#define GN 1300
#define ALPHA 0.5
#define BETA 2.0

static Onnx__ValueInfoProto *
value_info (const char *name, guint n, const gint64 *dims)
{
  Onnx__ValueInfoProto *vi = g_new0 (Onnx__ValueInfoProto, 1);
  Onnx__TypeProto *tp = g_new0 (Onnx__TypeProto, 1);
  Onnx__TypeProto__Tensor *tt = g_new0 (Onnx__TypeProto__Tensor, 1);
  Onnx__TensorShapeProto *sp = g_new0 (Onnx__TensorShapeProto, 1);

  onnx__value_info_proto__init (vi);
  onnx__type_proto__init (tp);
  onnx__type_proto__tensor__init (tt);
  onnx__tensor_shape_proto__init (sp);
  sp->n_dim = n;
  sp->dim = g_new0 (Onnx__TensorShapeProto__Dimension *, n);
  for (guint i = 0; i < n; i++)
    {
      sp->dim[i] = g_new0 (Onnx__TensorShapeProto__Dimension, 1);
      onnx__tensor_shape_proto__dimension__init (sp->dim[i]);
      sp->dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      sp->dim[i]->dim_value = dims[i];
    }
  tt->has_elem_type = TRUE;
  tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tt->shape = sp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->name = (char *) name;
  vi->type = tp;
  return vi;
}

static void
value_info_free (Onnx__ValueInfoProto *vi)
{
  Onnx__TensorShapeProto *sp = vi->type->tensor_type->shape;

  for (gsize i = 0; i < sp->n_dim; i++)
    g_free (sp->dim[i]);
  g_free (sp->dim);
  g_free (sp);
  g_free (vi->type->tensor_type);
  g_free (vi->type);
  g_free (vi);
}

static Onnx__AttributeProto *
int_attr (const char *name, gint64 v)
{
  Onnx__AttributeProto *a = g_new0 (Onnx__AttributeProto, 1);

  onnx__attribute_proto__init (a);
  a->name = (char *) name;
  a->has_type = TRUE;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->has_i = TRUE;
  a->i = v;
  return a;
}

static Onnx__AttributeProto *
float_attr (const char *name, float v)
{
  Onnx__AttributeProto *a = g_new0 (Onnx__AttributeProto, 1);

  onnx__attribute_proto__init (a);
  a->name = (char *) name;
  a->has_type = TRUE;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  a->has_f = TRUE;
  a->f = v;
  return a;
}

/* Writes the Gemm model with weights @w (GN x GK, raw_data, little-endian
 * as on this machine) and @c (GN, float_data); @external: W marked as held
 * in an external file instead. */
static char *
write_gemm_model (const float *w, const float *c, gboolean external, const char *name)
{
  static const gint64 in_dims[4] = { 1, GC, GH, GW };
  static const gint64 out_dims[2] = { 1, GN };
  static const gint64 w_dims[2] = { GN, GK };
  static const gint64 c_dims[1] = { GN };
  static char *flat_in[] = { (char *) "x" }, *flat_out[] = { (char *) "f" };
  static char *gemm_in[] = { (char *) "f", (char *) "W", (char *) "C" },
              *gemm_out[] = { (char *) "y" };
  Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
  Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
  Onnx__OperatorSetIdProto op = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  Onnx__OperatorSetIdProto *ops[1] = { &op };
  Onnx__NodeProto flat = ONNX__NODE_PROTO__INIT, gemm = ONNX__NODE_PROTO__INIT;
  Onnx__NodeProto *nodes[2] = { &flat, &gemm };
  Onnx__TensorProto tw = ONNX__TENSOR_PROTO__INIT, tc = ONNX__TENSOR_PROTO__INIT;
  Onnx__TensorProto *inits[2] = { &tw, &tc };
  Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
  Onnx__StringStringEntryProto *locs[1] = { &loc };
  Onnx__AttributeProto *fa[1], *ga[3];
  Onnx__ValueInfoProto *in[1], *out[1];
  char *path;

  op.domain = (char *) "";
  op.has_version = TRUE;
  op.version = 13;
  mp.has_ir_version = TRUE;
  mp.ir_version = 7;
  mp.producer_name = (char *) "test-onnx-load";
  mp.n_opset_import = 1;
  mp.opset_import = ops;

  fa[0] = int_attr ("axis", 1);
  flat.op_type = (char *) "Flatten";
  flat.name = (char *) "flatten";
  flat.n_input = 1;
  flat.input = flat_in;
  flat.n_output = 1;
  flat.output = flat_out;
  flat.n_attribute = 1;
  flat.attribute = fa;
  ga[0] = int_attr ("transB", 1);
  ga[1] = float_attr ("alpha", (float) ALPHA);
  ga[2] = float_attr ("beta", (float) BETA);
  gemm.op_type = (char *) "Gemm";
  gemm.name = (char *) "gemm";
  gemm.n_input = 3;
  gemm.input = gemm_in;
  gemm.n_output = 1;
  gemm.output = gemm_out;
  gemm.n_attribute = 3;
  gemm.attribute = ga;

  tw.name = (char *) "W";
  tw.n_dims = 2;
  tw.dims = (int64_t *) w_dims;
  tw.has_data_type = TRUE;
  tw.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  if (external)
    {
      loc.key = (char *) "location";
      loc.value = (char *) "weights.bin";
      tw.n_external_data = 1;
      tw.external_data = locs;
      tw.has_data_location = TRUE;
      tw.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    }
  else
    {
      tw.has_raw_data = TRUE;
      tw.raw_data.len = (gsize) GN * GK * sizeof (float);
      tw.raw_data.data = (uint8_t *) w;
    }
  tc.name = (char *) "C";
  tc.n_dims = 1;
  tc.dims = (int64_t *) c_dims;
  tc.has_data_type = TRUE;
  tc.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  tc.n_float_data = GN;
  tc.float_data = (float *) c;

  in[0] = value_info ("x", 4, in_dims);
  out[0] = value_info ("y", 2, out_dims);
  g.name = (char *) "gemm-test";
  g.n_node = 2;
  g.node = nodes;
  g.n_initializer = 2;
  g.initializer = inits;
  g.n_input = 1;
  g.input = in;
  g.n_output = 1;
  g.output = out;
  mp.graph = &g;

  path = write_model (&mp, name);
  value_info_free (in[0]);
  value_info_free (out[0]);
  g_free (fa[0]);
  for (guint i = 0; i < 3; i++)
    g_free (ga[i]);
  return path;
}

static void
test_gemm_blocks (void)
{
  g_autofree float *w = g_new (float, (gsize) GN * GK);
  g_autofree float *c = g_new (float, GN);
  g_autoptr(GRand) rng = g_rand_new_with_seed (20);
  g_autofree char *path = NULL;
  double worst = 0;

  g_assert_cmpint (G_BYTE_ORDER, ==, G_LITTLE_ENDIAN);
  for (gsize i = 0; i < (gsize) GN * GK; i++)
    w[i] = (float) g_rand_double_range (rng, -1, 1);
  for (gsize i = 0; i < GN; i++)
    c[i] = (float) g_rand_double_range (rng, -1, 1);
  path = write_gemm_model (w, c, FALSE, "gemm.onnx");

  for (guint pass = 0; pass < 2; pass++)
    {
      g_autoptr(MirModel) model = NULL;
      g_autoptr(MirTensor) x = NULL;
      g_autoptr(MirTensor) y = NULL;
      GError *error = NULL;

      mir_onnx_walk_set_min_defer (pass == 0 ? 0 : 1);
      model = mir_model_load (path, &error);
      mir_onnx_walk_set_min_defer (0);
      g_assert_no_error (error);
      x = make_input (model, 1);
      g_assert_cmpint (x->numel, ==, GK);
      y = mir_model_predict (model, x, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (y->numel, ==, GN);
      for (gint64 n = 0; n < GN; n++)
        {
          double want = BETA * c[n];

          /* ONNX flattens C, H, W; the engine's input is H, W, C */
          for (gint64 ci = 0; ci < GC; ci++)
            for (gint64 h = 0; h < GH; h++)
              for (gint64 wi = 0; wi < GW; wi++)
                want += ALPHA * (double) w[n * GK + (ci * GH + h) * GW + wi] *
                        x->data[(h * GW + wi) * GC + ci];
          if (fabs (y->data[n] - want) > 1e-6 + 1e-5 * fabs (want))
            g_error ("pass %u, output %" G_GINT64_FORMAT ": got %.8g, want %.8g", pass, n,
                     y->data[n], want);
          worst = MAX (worst, fabs (y->data[n] - want));
        }
    }
  g_test_message ("worst |difference| %.3g", worst);
  g_unlink (path);
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
test_bad (void)
{
  g_autofree float *w = g_new0 (float, (gsize) GN * GK);
  g_autofree float *c = g_new0 (float, GN);
  g_autofree char *good = write_gemm_model (w, c, FALSE, "cut-source.onnx");
  g_autofree char *ext = write_gemm_model (w, c, TRUE, "external.onnx");
  g_autofree char *cut = g_build_filename (tmpdir, "cut.onnx", NULL);
  g_autofree char *contents = NULL;
  GError *error = NULL;
  gsize len;

  /* cut in the middle of W's 1 MB raw_data: both paths call it damaged */
  g_file_get_contents (good, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, >, (gsize) GN * GK * 4);
  g_file_set_contents (cut, contents, (gssize) (len / 2), &error);
  g_assert_no_error (error);
  expect_error (cut, "truncated or damaged");
  mir_onnx_walk_set_min_defer (1);
  expect_error (cut, "truncated or damaged");
  expect_error (ext, "external data file");
  mir_onnx_walk_set_min_defer (0);
  expect_error (ext, "external data file");
  g_unlink (good);
  g_unlink (ext);
  g_unlink (cut);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("mir-onnx-load-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  for (guint i = 0; i < G_N_ELEMENTS (models); i++)
    {
      g_autofree char *name = g_strdup_printf ("/onnx-load/in-file/%s", models[i]);
      g_test_add_data_func (name, models[i], test_in_file);
    }
  g_test_add_func ("/onnx-load/offsets", test_offsets);
  g_test_add_func ("/onnx-load/gemm-blocks", test_gemm_blocks);
  g_test_add_func ("/onnx-load/bad", test_bad);
  status = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  return status;
}
