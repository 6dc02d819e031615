#include <string.h>
#include "mir.h"

static void
test_new_and_strides (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) t = mir_tensor_new_4d (2, 3, 4, 5, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (t->numel, ==, 120);
  g_assert_cmpint (t->stride[0], ==, 60);
  g_assert_cmpint (t->stride[1], ==, 20);
  g_assert_cmpint (t->stride[2], ==, 5);
  g_assert_cmpint (t->stride[3], ==, 1);
  g_assert_cmpuint (((guintptr) t->data) % MIR_TENSOR_ALIGN, ==, 0);
  for (gsize i = 0; i < t->numel; i++)
    g_assert_cmpfloat (t->data[i], ==, 0.0f);
  g_assert_true (mir_tensor_is_contiguous (t));
}

static void
test_view_batch (void)
{
  g_autoptr(MirTensor) t = mir_tensor_new_2d (4, 3, NULL);
  g_autoptr(MirTensor) v = NULL;

  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = (float) i;
  v = mir_tensor_view_batch (t, 1, 2);
  g_assert_cmpint (v->shape[0], ==, 2);
  g_assert_cmpuint (v->numel, ==, 6);
  g_assert_cmpfloat (v->data[0], ==, 3.0f);
  /* the view keeps the parent alive */
  g_clear_pointer (&t, mir_tensor_unref);
  g_assert_cmpfloat (v->data[5], ==, 8.0f);
}

static void
test_limits (void)
{
  g_autoptr(GError) error = NULL;
  gint64 huge[4] = { 1 << 20, 1 << 20, 1 << 20, 3 };
  gint64 neg[2] = { 2, -3 };
  MirTensor *t = mir_tensor_new (4, huge, &error);

  g_assert_null (t);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_LIMIT);
  g_clear_error (&error);
  t = mir_tensor_new (2, neg, &error);
  g_assert_null (t);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_LIMIT);
  g_assert_cmpint (mir_shape_numel (4, huge), ==, -1);
  {
    /* empty, but its strides would overflow: refused (found by fuzzing) */
    const gint64 empty_huge[3] = { 0, G_GINT64_CONSTANT (1) << 62, G_GINT64_CONSTANT (1) << 62 };
    const gint64 empty_ok[3] = { 4, 0, 7 };

    g_assert_cmpint (mir_shape_numel (3, empty_huge), ==, -1);
    g_assert_cmpint (mir_shape_numel (3, empty_ok), ==, 0);
  }
}

static void
test_reshape (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) t = mir_tensor_new_4d (2, 2, 2, 3, NULL);
  gint64 flat[2] = { 2, 12 };
  gint64 bad[2] = { 2, 13 };
  g_autoptr(MirTensor) r = mir_tensor_reshape (t, 2, flat, &error);
  MirTensor *r2;

  g_assert_no_error (error);
  g_assert_true (r->data == t->data);
  r2 = mir_tensor_reshape (t, 2, bad, &error);
  g_assert_null (r2);
  g_assert_error (error, MIR_ERROR, MIR_ERROR_SHAPE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensor/new", test_new_and_strides);
  g_test_add_func ("/tensor/view-batch", test_view_batch);
  g_test_add_func ("/tensor/limits", test_limits);
  g_test_add_func ("/tensor/reshape", test_reshape);
  return g_test_run ();
}
