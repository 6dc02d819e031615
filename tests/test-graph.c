/* Graph mechanics with two test-only layers, independent of the real ones:
 * Scale (y = w * x, one trainable scalar weight) and Sum (y = a + b).
 * The model is a diamond: x -> s1 -> {s2, s3} -> sum, so the gradient of
 * sum w.r.t. x is w1 * (w2 + w3) and must accumulate over both branches. */
#include <string.h>
#include "mir-test-util.h"

static gboolean
same_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  *out = in[0];
  return TRUE;
}

static gboolean
scale_build (MirLayer *self, const MirShape *in, guint n_in, GError **error)
{
  gint64 one = 1;
  mir_layer_add_weight (self, "w", 1, &one, TRUE, MIR_INIT_ONES);
  return TRUE;
}

static gboolean
scale_forward (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
               const MirRunArgs *args, GError **error)
{
  float w = self->weights[0].value->data[0];
  for (gsize i = 0; i < out->numel; i++)
    out->data[i] = w * in[0]->data[i];
  return TRUE;
}

static gboolean
scale_backward (MirLayer *self, MirTensor *const *in, guint n_in, const MirTensor *out,
                const MirTensor *gout, MirTensor **gin, MirTensor **gw, const MirRunArgs *args,
                GError **error)
{
  float w = self->weights[0].value->data[0];
  if (gin[0])
    for (gsize i = 0; i < gout->numel; i++)
      gin[0]->data[i] = w * gout->data[i];
  if (gw[0])
    {
      double s = 0;
      for (gsize i = 0; i < gout->numel; i++)
        s += gout->data[i] * in[0]->data[i];
      gw[0]->data[0] = (float) s;
    }
  return TRUE;
}

static const MirLayerClass scale_class = {
  .name = "TestScale",
  .instance_size = sizeof (MirLayer),
  .infer = same_infer,
  .build = scale_build,
  .forward = scale_forward,
  .backward = scale_backward,
};

static gboolean
sum_forward (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
             const MirRunArgs *args, GError **error)
{
  for (gsize i = 0; i < out->numel; i++)
    out->data[i] = in[0]->data[i] + in[1]->data[i];
  return TRUE;
}

static gboolean
sum_backward (MirLayer *self, MirTensor *const *in, guint n_in, const MirTensor *out,
              const MirTensor *gout, MirTensor **gin, MirTensor **gw, const MirRunArgs *args,
              GError **error)
{
  for (guint k = 0; k < 2; k++)
    if (gin[k])
      mir_tensor_copy_data (gin[k], gout);
  return TRUE;
}

static const MirLayerClass sum_class = {
  .name = "TestSum",
  .instance_size = sizeof (MirLayer),
  .flags = MIR_LAYER_FLAG_MULTI_INPUT,
  .infer = same_infer,
  .forward = sum_forward,
  .backward = sum_backward,
};

static MirModel *
make_diamond (MirLayer **s1_out)
{
  g_autoptr(GError) error = NULL;
  MirModel *m = mir_model_new ("diamond");
  MirShape shape = { 2, { -1, 3 } };
  g_autoptr(MirLayer) s1 = mir_layer_new (&scale_class, "s1", NULL, &error);
  g_autoptr(MirLayer) s2 = mir_layer_new (&scale_class, "s2", NULL, &error);
  g_autoptr(MirLayer) s3 = mir_layer_new (&scale_class, "s3", NULL, &error);
  g_autoptr(MirLayer) sum = mir_layer_new (&sum_class, "sum", NULL, &error);
  gint x, a, b, c;
  guint ab[2];

  x = mir_model_add_input (m, "x", &shape, &error);
  g_assert_no_error (error);
  a = mir_model_add_node (m, "s1", s1, (guint *) &x, 1, NULL, &error);
  b = mir_model_add_node (m, "s2", s2, (guint *) &a, 1, NULL, &error);
  c = mir_model_add_node (m, "s3", s3, (guint *) &a, 1, NULL, &error);
  ab[0] = (guint) b;
  ab[1] = (guint) c;
  mir_model_add_node (m, "sum", sum, ab, 2, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mir_model_finish (m, TRUE, 1, &error));
  s1->weights[0].value->data[0] = 2.0f;
  s2->weights[0].value->data[0] = 3.0f;
  s3->weights[0].value->data[0] = -0.5f;
  *s1_out = s1;
  return m;
}

static void
test_forward_backward (void)
{
  g_autoptr(GError) error = NULL;
  MirLayer *s1;
  g_autoptr(MirModel) m = make_diamond (&s1);
  g_autoptr(MirTensor) x = mir_tensor_new_2d (1, 3, NULL);
  g_autoptr(MirTensor) seed = NULL;
  g_autoptr(MirTrace) trace = NULL;
  MirTensor *y, *gx, *gw;

  x->data[0] = 1;
  x->data[1] = -2;
  x->data[2] = 0.5f;
  trace = mir_model_run (m, &x, 1, MIR_RUN_FOR_BACKWARD, -1, 0, NULL, &error);
  g_assert_no_error (error);
  y = mir_trace_get_output (trace, 0);
  /* y = 2 * (3 - 0.5) * x = 5 x */
  g_assert_cmpfloat_with_epsilon (y->data[1], -10.0f, 1e-6);
  g_assert_nonnull (mir_trace_get (trace, 1)); /* kept */

  seed = mir_tensor_new_like (y, NULL);
  mir_tensor_fill (seed, 1.0f);
  g_assert_true (mir_trace_backward (trace, 4, seed, -1, MIR_BACKWARD_WEIGHTS, NULL, &error));
  g_assert_no_error (error);
  gx = mir_trace_get_grad (trace, 0);
  g_assert_nonnull (gx);
  g_assert_cmpfloat_with_epsilon (gx->data[0], 5.0f, 1e-6);
  gw = mir_trace_get_weight_grad (trace, s1, 0);
  /* d/dw1 sum(w1 (w2 + w3) x) = 2.5 * sum(x) = -1.25 */
  g_assert_cmpfloat_with_epsilon (gw->data[0], -1.25f, 1e-6);

  /* stop at s1: no gradient to the input is computed */
  g_assert_true (mir_trace_backward (trace, 4, seed, 1, MIR_BACKWARD_DEFAULT, NULL, &error));
  g_assert_nonnull (mir_trace_get_grad (trace, 1));
  g_assert_cmpfloat_with_epsilon (mir_trace_get_grad (trace, 1)->data[0], 2.5f, 1e-6);
  g_assert_null (mir_trace_get_grad (trace, 0));
}

static void
test_free_intermediates (void)
{
  g_autoptr(GError) error = NULL;
  MirLayer *s1;
  g_autoptr(MirModel) m = make_diamond (&s1);
  g_autoptr(MirTensor) x = mir_tensor_new_2d (4, 3, NULL);
  g_autoptr(MirTrace) trace = mir_model_run (m, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);

  g_assert_no_error (error);
  g_assert_null (mir_trace_get (trace, 1));
  g_assert_null (mir_trace_get (trace, 2));
  g_assert_nonnull (mir_trace_get_output (trace, 0));
  g_assert_cmpint (mir_trace_get_output (trace, 0)->shape[0], ==, 4);
  /* run until a middle node */
  g_clear_pointer (&trace, mir_trace_free);
  trace = mir_model_run (m, &x, 1, MIR_RUN_DEFAULT, 2, 0, NULL, &error);
  g_assert_nonnull (mir_trace_get (trace, 2));
  g_assert_null (mir_trace_get (trace, 4));
}

static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  MirLayer *s1;
  g_autoptr(MirModel) m = make_diamond (&s1);
  g_autoptr(MirTensor) x = mir_tensor_new_2d (1, 4, NULL);
  g_autoptr(GCancellable) c = g_cancellable_new ();
  MirTrace *trace = mir_model_run (m, &x, 1, MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  MirLayer *l;

  g_assert_null (trace);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
  g_clear_error (&error);

  g_clear_pointer (&x, mir_tensor_unref);
  x = mir_tensor_new_2d (1, 3, NULL);
  g_cancellable_cancel (c);
  trace = mir_model_run (m, &x, 1, MIR_RUN_DEFAULT, -1, 0, c, &error);
  g_assert_null (trace);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  l = mir_layer_new_by_name ("Lambda", "lambda_3", NULL, &error);
  g_assert_null (l);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "lambda_3"));
  g_assert_nonnull (strstr (error->message, "Python"));
}

static void
test_gradcheck_helper (void)
{
  MirLayer *s1;
  g_autoptr(MirModel) m = make_diamond (&s1);
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  gint64 shape[2] = { 2, 3 };
  g_autoptr(MirTensor) x = mir_test_random_tensor (2, shape, -1, 1, rng);
  MirGradcheckOptions o = { .weights = TRUE };

  mir_assert_gradcheck (m, &x, 1, &o, 1e-3);
}

static void
test_registry_complete (void)
{
  const MirLayerClass *const *list = mir_layer_class_list ();
  guint n = 0;

  for (; *list; list++, n++)
    {
      g_assert_nonnull ((*list)->name);
      g_assert_nonnull ((*list)->infer);
      g_assert_true (mir_layer_class_lookup ((*list)->name) == *list);
    }
  g_assert_cmpuint (n, >=, 39);
  /* the names older Keras versions wrote resolve to the same classes */
  g_assert_true (mir_layer_class_lookup ("Convolution2D") == mir_layer_class_lookup ("Conv2D"));
  g_assert_true (mir_layer_class_lookup ("SeparableConvolution2D") ==
                 mir_layer_class_lookup ("SeparableConv2D"));
  g_assert_true (mir_layer_class_lookup ("MaxPool2D") == mir_layer_class_lookup ("MaxPooling2D"));
  g_assert_true (mir_layer_class_lookup ("AvgPool2D") ==
                 mir_layer_class_lookup ("AveragePooling2D"));
  g_assert_true (mir_layer_class_lookup ("GlobalAvgPool2D") ==
                 mir_layer_class_lookup ("GlobalAveragePooling2D"));
  g_assert_true (mir_layer_class_lookup ("GlobalMaxPool2D") ==
                 mir_layer_class_lookup ("GlobalMaxPooling2D"));
  g_assert_nonnull (mir_layer_class_lookup ("Conv2D"));
  g_assert_null (mir_layer_class_lookup ("NoSuchLayer"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/graph/forward-backward", test_forward_backward);
  g_test_add_func ("/graph/free-intermediates", test_free_intermediates);
  g_test_add_func ("/graph/errors", test_errors);
  g_test_add_func ("/graph/registry", test_registry_complete);
  g_test_add_func ("/graph/gradcheck-helper", test_gradcheck_helper);
  return g_test_run ();
}
