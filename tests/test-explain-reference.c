/* Explanation maps against TF.js references (tests/data/ref/explain/, made
 * by tests/gen/explain.py + run-explain.js from tf.grad gradients).  For
 * each model and method, Mirada's normalised map must have a Pearson
 * correlation >= 0.999 with the reference map and differ by at most 1e-3 at
 * every position.  The numbers are printed per method. */
#include <math.h>
#include <string.h>
#include <hdf5.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "mir-explain.h"

/* The methods with a PyTorch reference map (tests/gen/explain.py); the
 * functions come from the engine's table (mir-explain-methods.c). */
static const char *const method_ids[] = {
  "gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "cam", "saliency", "gradients",
};

static const char *const ref_files[] = {
  "explain_gap.h5",
  "explain_flat.h5",
  "sequential_cnn.h5",
  "oarriaga__fer2013_mini_XCEPTION.102-0.66.hdf5",
  "mlcommons__pretrainedResnet.h5",
};

static char *
read_string_attr (hid_t obj, const char *name)
{
  hid_t attr, type, mem;
  char *result = NULL;

  g_assert_cmpint (H5Aexists (obj, name), >, 0);
  attr = H5Aopen (obj, name, H5P_DEFAULT);
  type = H5Aget_type (attr);
  mem = H5Tcopy (H5T_C_S1);
  H5Tset_cset (mem, H5Tget_cset (type));
  if (H5Tis_variable_str (type) > 0)
    {
      char *s = NULL;
      H5Tset_size (mem, H5T_VARIABLE);
      g_assert_cmpint (H5Aread (attr, mem, &s), >=, 0);
      result = g_strdup (s);
      H5free_memory (s);
    }
  else
    {
      size_t size = H5Tget_size (type);
      result = g_malloc0 (size + 1);
      H5Tset_size (mem, size + 1);
      g_assert_cmpint (H5Aread (attr, mem, result), >=, 0);
    }
  H5Tclose (mem);
  H5Tclose (type);
  H5Aclose (attr);
  return result;
}

static gint64
read_int_attr (hid_t obj, const char *name)
{
  gint64 v = -1;
  hid_t attr = H5Aopen (obj, name, H5P_DEFAULT);

  g_assert_cmpint (attr, >=, 0);
  g_assert_cmpint (H5Aread (attr, H5T_NATIVE_INT64, &v), >=, 0);
  H5Aclose (attr);
  return v;
}

/* NULL if the dataset does not exist. */
static MirTensor *
read_dataset (hid_t file, const char *path)
{
  hsize_t dims[MIR_MAX_DIMS];
  gint64 shape[MIR_MAX_DIMS];
  hid_t dset, space;
  int ndim;
  MirTensor *t;
  g_autoptr(GError) error = NULL;

  if (H5Lexists (file, "raw", H5P_DEFAULT) <= 0 && g_str_has_prefix (path, "raw/"))
    return NULL;
  if (H5Lexists (file, path, H5P_DEFAULT) <= 0)
    return NULL;
  dset = H5Dopen2 (file, path, H5P_DEFAULT);
  space = H5Dget_space (dset);
  ndim = H5Sget_simple_extent_ndims (space);
  g_assert_cmpint (ndim, >=, 1);
  g_assert_cmpint (ndim, <=, MIR_MAX_DIMS);
  H5Sget_simple_extent_dims (space, dims, NULL);
  for (int i = 0; i < ndim; i++)
    shape[i] = (gint64) dims[i];
  t = mir_tensor_new ((guint) ndim, shape, &error);
  g_assert_no_error (error);
  g_assert_cmpint (H5Dread (dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data),
                   >=, 0);
  H5Sclose (space);
  H5Dclose (dset);
  return t;
}

static void
test_reference (gconstpointer data)
{
  const char *name = data;
  g_autofree char *ref_name = g_strconcat (name, ".explain.h5", NULL);
  g_autofree char *ref_path = g_test_build_filename (G_TEST_DIST, "data", "ref", "explain",
                                                     ref_name, NULL);
  g_autofree char *model_rel = NULL, *layer_name = NULL, *model_path = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(GError) error = NULL;
  MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
  guint n_checked = 0;
  hid_t file;

  file = H5Fopen (ref_path, H5F_ACC_RDONLY, H5P_DEFAULT);
  g_assert_cmpint (file, >=, 0);
  model_rel = read_string_attr (file, "model");
  layer_name = read_string_attr (file, "layer");
  opts.class_index = (gint) read_int_attr (file, "class");
  model_path = g_test_build_filename (G_TEST_DIST, "data", model_rel, NULL);
  model = mir_keras_load_h5 (model_path, &error);
  g_assert_no_error (error);
  opts.layer = mir_model_find_node (model, layer_name);
  g_assert_cmpint (opts.layer, >=, 0);
  input = read_dataset (file, "input");
  g_assert_nonnull (input);

  for (gsize m = 0; m < G_N_ELEMENTS (method_ids); m++)
    {
      const MirExplainMethod *method = mir_explain_find_method (method_ids[m], NULL);
      g_assert_nonnull (method);
      g_autofree char *path = g_strconcat ("map/", method_ids[m], NULL);
      g_autoptr(MirTensor) ref = read_dataset (file, path);
      g_autoptr(MirExplanation) e = NULL;
      double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, maxdiff = 0, r;
      gsize n;

      if (ref == NULL)
        continue; /* CAM: only for heads that allow it (the generator decides) */
      e = method->func (model, input, &opts, NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (e);
      g_assert_cmpint (e->class_index, ==, opts.class_index);
      n = (gsize) e->width * e->height;
      g_assert_cmpint (ref->numel, ==, n);
      for (gsize i = 0; i < n; i++)
        {
          double a = e->map[i], b = ref->data[i];
          sa += a;
          sb += b;
          saa += a * a;
          sbb += b * b;
          sab += a * b;
          maxdiff = MAX (maxdiff, fabs (a - b));
        }
      {
        double cov = sab - sa * sb / n, va = saa - sa * sa / n, vb = sbb - sb * sb / n;
        /* two identical flat maps correlate perfectly */
        r = (va <= 0 && vb <= 0) ? 1.0 : cov / sqrt (MAX (va, 1e-300) * MAX (vb, 1e-300));
      }
      g_test_message ("%s %s (%d×%d): pearson %.7f, max |diff| %.2e", name, method_ids[m],
                      e->width, e->height, r, maxdiff);
      if (g_getenv ("MIR_EXPLAIN_REPORT"))
        g_printerr ("%s\t%s\t%dx%d\tpearson %.7f\tmax|diff| %.2e\n", name, method_ids[m],
                    e->width, e->height, r, maxdiff);
      g_assert_cmpfloat (r, >=, 0.999);
      g_assert_cmpfloat (maxdiff, <=, 1e-3);
      n_checked++;
    }
  g_assert_cmpuint (n_checked, >=, 7);
  H5Fclose (file);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (ref_files); i++)
    {
      g_autofree char *p = g_strconcat ("/explain-reference/", ref_files[i], NULL);
      g_test_add_data_func (p, ref_files[i], test_reference);
    }
  return g_test_run ();
}
