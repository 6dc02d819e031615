/* Layer-by-layer comparison against independent references.
 *
 * Each tests/data/ref/<model>.ref.h5 (and the ones under tests/data/ref/fixtures/)
 * holds the inputs and the output of every layer of a Keras model, computed
 * by TensorFlow.js 4.x from the same config and weights, or by numpy where
 * TF.js cannot express a layer (attribute "reference"); tests/gen/ makes them.
 * The model is loaded with mir_keras_load_h5(), run keeping every node's
 * output, and each layer is compared element by element with
 * |a - b| <= ATOL + RTOL * |b|: float32 engines summing in a different order
 * agree to a few ulps per layer, which this leaves room for while catching
 * any real difference (a wrong padding or weight layout is off by O(1)).
 * For the deep fixture networks the absolute term scales with the layer's
 * magnitude (see ATOL below).
 * Every differing layer is reported, first in graph order first, with the
 * worst element and the NMSE = sum (a - b)^2 / sum b^2.
 */
#define G_LOG_DOMAIN "test-keras-reference"

#include <hdf5.h>
#include <math.h>
#include <string.h>

#include "mir-test-util.h"
#include "mir-keras.h"

#define RTOL 1e-4
#define ATOL 1e-5
/* The fixtures are real networks up to 150 layers deep: an output near zero
 * that is the sum of terms of size M carries float32 rounding of order
 * 1e-7 M per layer in both engines, accumulated over the depth.  There the
 * absolute term is ATOL times the layer's largest |reference| (>= 1), so a
 * near-zero element is held to the precision its layer can have.  The zoo
 * models (a few layers) use the plain tolerance. */

typedef struct
{
  gboolean scaled_atol; /* fixtures: ATOL times the layer's largest |reference| */
  char *ref_path;
  char *model_path;   /* NULL if the model file is not available */
  char *missing_hint; /* why, when model_path is NULL */
} RefCase;

static void
ref_case_free (gpointer data)
{
  RefCase *rc = data;

  g_free (rc->ref_path);
  g_free (rc->model_path);
  g_free (rc->missing_hint);
  g_free (rc);
}

/* ------------------------------------------------------------------ */
/* HDF5 helpers */

static char *
read_string_attr (hid_t obj, const char *name)
{
  hid_t attr, type, mem;
  char *result = NULL;

  if (H5Aexists (obj, name) <= 0)
    return NULL;
  attr = H5Aopen (obj, name, H5P_DEFAULT);
  if (attr < 0)
    return NULL;
  type = H5Aget_type (attr);
  if (H5Tget_class (type) == H5T_STRING)
    {
      mem = H5Tcopy (H5T_C_S1);
      H5Tset_cset (mem, H5Tget_cset (type)); /* h5py writes UTF-8 */
      if (H5Tis_variable_str (type) > 0)
        {
          char *s = NULL;
          H5Tset_size (mem, H5T_VARIABLE);
          if (H5Aread (attr, mem, &s) >= 0 && s != NULL)
            {
              result = g_strdup (s);
              H5free_memory (s);
            }
        }
      else
        {
          size_t size = H5Tget_size (type);
          char *buf = g_malloc0 (size + 1);
          H5Tset_size (mem, size + 1);
          if (H5Aread (attr, mem, buf) >= 0)
            result = buf;
          else
            g_free (buf);
        }
      H5Tclose (mem);
    }
  H5Tclose (type);
  H5Aclose (attr);
  return result;
}

/* Reads an integer array attribute; returns its length or -1. */
static gint
read_int64_attr (hid_t obj, const char *name, gint64 *out, gint max)
{
  hid_t attr, space;
  hssize_t n;
  gint result = -1;

  if (H5Aexists (obj, name) <= 0)
    return -1;
  attr = H5Aopen (obj, name, H5P_DEFAULT);
  space = H5Aget_space (attr);
  n = H5Sget_simple_extent_npoints (space);
  if (n >= 1 && n <= max && H5Aread (attr, H5T_NATIVE_INT64, out) >= 0)
    result = (gint) n;
  H5Sclose (space);
  H5Aclose (attr);
  return result;
}

/* Reads a float dataset (any stored float type) into a new tensor. */
static MirTensor *
read_tensor (hid_t file, const char *path)
{
  hid_t dset, space;
  hsize_t dims[MIR_MAX_DIMS];
  gint64 shape[MIR_MAX_DIMS];
  int ndim;
  MirTensor *t;
  GError *error = NULL;

  if (H5Lexists (file, path, H5P_DEFAULT) <= 0)
    return NULL;
  dset = H5Dopen2 (file, path, H5P_DEFAULT);
  if (dset < 0)
    return NULL;
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

/* ------------------------------------------------------------------ */
/* Matching reference layers to graph nodes */

/* "name" or "name#k" (the k-th call of a shared layer, k >= 1). */
static gint
find_node (MirModel *model, const char *ref_name)
{
  g_autofree char *base = g_strdup (ref_name);
  char *hash = strrchr (base, '#');
  guint want = 0, seen = 0;
  gint idx;

  if (hash != NULL)
    {
      want = (guint) g_ascii_strtoull (hash + 1, NULL, 10);
      *hash = '\0';
    }
  if (want == 0 && (idx = mir_model_find_node (model, base)) >= 0)
    return idx;
  /* Nodes of a shared layer, or inner layers of nested models if the loader
   * qualified their node names: match the layer's own name, in graph order. */
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      if (g_strcmp0 (node->layer->name, base) == 0 && seen++ == want)
        return (gint) i;
    }
  return -1;
}

static gboolean
is_container_class (const char *cls)
{
  return g_strcmp0 (cls, "InputLayer") == 0 || g_strcmp0 (cls, "Sequential") == 0 ||
         g_strcmp0 (cls, "Functional") == 0 || g_strcmp0 (cls, "Model") == 0;
}

typedef struct
{
  gint node;
  char *text;
} Failure;

static void
failure_free (gpointer data)
{
  Failure *f = data;
  g_free (f->text);
  g_free (f);
}

static gint
failure_cmp (gconstpointer a, gconstpointer b)
{
  const Failure *fa = *(const Failure *const *) a;
  const Failure *fb = *(const Failure *const *) b;
  return (fa->node > fb->node) - (fa->node < fb->node);
}

static void
add_failure (GPtrArray *failures, gint node, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
add_failure (GPtrArray *failures, gint node, const char *fmt, ...)
{
  Failure *f = g_new0 (Failure, 1);
  va_list args;

  va_start (args, fmt);
  f->node = node < 0 ? G_MAXINT : node;
  f->text = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_ptr_array_add (failures, f);
}

static char *
index_string (const gint64 *shape, guint ndim, gsize flat)
{
  GString *s = g_string_new ("[");
  gsize rest = flat;
  gint64 idx[MIR_MAX_DIMS];

  for (gint d = (gint) ndim - 1; d >= 0; d--)
    {
      idx[d] = (gint64) (rest % (gsize) shape[d]);
      rest /= (gsize) shape[d];
    }
  for (guint d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", idx[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Compares one layer's output with the dataset layers/@name; returns TRUE if
 * it matches, else adds a failure. */
static gboolean
compare_layer (const char *name, const char *cls, MirTensor *got, hid_t layers, hid_t file,
               gint node, gboolean scaled_atol, GPtrArray *failures, double *nmse_out)
{
  g_autoptr(MirTensor) ref = NULL;
  g_autoptr(MirTensor) dense = NULL;
  gint64 full[MIR_MAX_DIMS];
  gint64 stride = 1;
  gint ndim;
  hid_t dset;
  double num = 0, den = 0, worst_ratio = -1, atol;
  gsize worst = 0, n_bad = 0;
  const float *a;
  gboolean ok = TRUE;

  g_autofree char *path = g_strconcat ("layers/", name, NULL);

  *nmse_out = 0;
  dset = H5Dopen2 (layers, name, H5P_DEFAULT);
  g_assert_cmpint (dset, >=, 0);
  ndim = read_int64_attr (dset, "shape", full, MIR_MAX_DIMS);
  if (read_int64_attr (dset, "sample_stride", &stride, 1) != 1)
    stride = 1;
  H5Dclose (dset);
  g_assert_cmpint (ndim, >=, 1);
  ref = read_tensor (file, path);
  g_assert_nonnull (ref);

  if (got->ndim != (guint) ndim || memcmp (got->shape, full, (gsize) ndim * sizeof (gint64)) != 0)
    {
      g_autofree char *gs = mir_tensor_shape_string (got);
      GString *rs = g_string_new ("(");
      for (gint d = 0; d < ndim; d++)
        g_string_append_printf (rs, "%s%" G_GINT64_FORMAT, d ? ", " : "", full[d]);
      g_string_append_c (rs, ')');
      add_failure (failures, node, "layer '%s': output shape %s, reference %s", name, gs,
                   rs->str);
      g_string_free (rs, TRUE);
      return FALSE;
    }
  if (!mir_tensor_is_contiguous (got))
    {
      GError *error = NULL;
      dense = mir_tensor_dup (got, &error);
      g_assert_no_error (error);
      got = dense;
    }
  g_assert_cmpuint (ref->numel, ==, stride == 1 ? got->numel
                                                : (got->numel + (gsize) stride - 1) / (gsize) stride);
  a = got->data;
  atol = ATOL;
  if (scaled_atol)
    {
      double big = 1;
      for (gsize i = 0; i < ref->numel; i++)
        big = MAX (big, fabs (ref->data[i]));
      atol = ATOL * big;
    }
  for (gsize i = 0; i < ref->numel; i++)
    {
      gsize flat = i * (gsize) stride;
      double x = a[flat], r = ref->data[i];
      double err = fabs (x - r);
      double bound = atol + RTOL * fabs (r);

      if (!isfinite (x) || !isfinite (r))
        {
          g_autofree char *where = index_string (full, (guint) ndim, flat);
          add_failure (failures, node, "layer '%s': non-finite value %g at %s (reference %g)",
                       name, x, where, r);
          return FALSE;
        }
      num += (x - r) * (x - r);
      den += r * r;
      if (err > bound)
        n_bad++;
      if (err / bound > worst_ratio)
        {
          worst_ratio = err / bound;
          worst = flat;
        }
    }
  *nmse_out = den > 0 ? num / den : num;
  if (n_bad > 0)
    {
      g_autofree char *where = index_string (full, (guint) ndim, worst);
      gsize wi = worst / (gsize) stride;
      add_failure (failures, node,
                   "layer '%s' (%s): %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                   " elements differ; worst at %s: got %.9g, reference %.9g (|diff| %.3g, "
                   "atol %.3g); NMSE %.3g",
                   name, cls, n_bad, ref->numel, where,
                   (double) a[worst], (double) ref->data[wi],
                   fabs ((double) a[worst] - ref->data[wi]), atol, *nmse_out);
      ok = FALSE;
    }
  return ok;
}

/* ------------------------------------------------------------------ */

static void
test_reference (gconstpointer data)
{
  const RefCase *rc = data;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTrace) planned = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_tensor_unref);
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (failure_free);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *reference = NULL;
  g_autofree char *order = NULL;
  GError *error = NULL;
  JsonArray *names;
  hid_t file, layers;
  guint n_compared = 0, n_skipped = 0, n_planned = 0;
  double worst_nmse = 0;
  const char *worst_nmse_layer = "-";

  if (rc->model_path == NULL)
    {
      g_test_skip (rc->missing_hint);
      return;
    }

  model = mir_keras_load_h5 (rc->model_path, &error);
  if (model == NULL)
    {
      g_test_fail_printf ("%s: loading failed: %s", rc->model_path, error->message);
      g_clear_error (&error);
      return;
    }

  file = H5Fopen (rc->ref_path, H5F_ACC_RDONLY, H5P_DEFAULT);
  g_assert_cmpint (file, >=, 0);
  reference = read_string_attr (file, "reference");
  g_assert_nonnull (reference);
  g_test_message ("%s: reference %s, tolerance |a-b| <= %g%s + %g |b|", rc->ref_path, reference,
                  ATOL, rc->scaled_atol ? " max(1, max |b| of the layer)" : "", RTOL);

  for (guint i = 0; i < model->inputs->len; i++)
    {
      g_autofree char *key = g_strdup_printf ("input_%u", i);
      MirTensor *t = read_tensor (file, key);

      if (t == NULL)
        {
          g_test_fail_printf ("%s: the model has %u inputs, the reference lacks %s",
                              rc->model_path, model->inputs->len, key);
          H5Fclose (file);
          return;
        }
      g_ptr_array_add (inputs, t);
    }

  trace = mir_model_run (model, (MirTensor *const *) inputs->pdata, inputs->len,
                         MIR_RUN_KEEP_ALL, -1, 0, NULL, &error);
  if (trace == NULL)
    {
      g_test_fail_printf ("%s: running failed: %s", rc->model_path, error->message);
      g_clear_error (&error);
      H5Fclose (file);
      return;
    }

  /* The run an application makes (predict, detect): BatchNormalization
   * folded, layers fused (inverted-residual blocks, conv + pooling), outputs
   * in the arena; its outputs are compared too. */
  planned = mir_model_run (model, (MirTensor *const *) inputs->pdata, inputs->len,
                           MIR_RUN_DEFAULT, -1, 0, NULL, &error);
  if (planned == NULL)
    {
      g_test_fail_printf ("%s: the planned run failed: %s", rc->model_path, error->message);
      g_clear_error (&error);
      H5Fclose (file);
      return;
    }

  layers = H5Gopen2 (file, "layers", H5P_DEFAULT);
  g_assert_cmpint (layers, >=, 0);
  order = read_string_attr (layers, "order");
  g_assert_nonnull (order);
  json_parser_load_from_data (parser, order, -1, &error);
  g_assert_no_error (error);
  names = json_node_get_array (json_parser_get_root (parser));

  for (guint i = 0; i < json_array_get_length (names); i++)
    {
      const char *name = json_array_get_string_element (names, i);
      g_autofree char *cls = NULL;
      hid_t dset;
      gint node;
      MirTensor *got;
      double nmse = 0;

      dset = H5Dopen2 (layers, name, H5P_DEFAULT);
      g_assert_cmpint (dset, >=, 0);
      cls = read_string_attr (dset, "class_name");
      H5Dclose (dset);

      node = find_node (model, name);
      if (node < 0)
        {
          /* Nested models are flattened (their inner layers are compared) and
           * their InputLayers vanish; anything else must exist. */
          if (is_container_class (cls))
            n_skipped++;
          else
            add_failure (failures, -1, "layer '%s' (%s) has no node in the loaded model", name,
                         cls);
          continue;
        }
      got = mir_trace_get (trace, (guint) node);
      if (got == NULL)
        {
          add_failure (failures, node, "layer '%s': no output kept by the run", name);
          continue;
        }
      for (guint k = 0; k < model->outputs->len; k++)
        if (mir_model_get_output (model, k) == (guint) node)
          {
            g_autoptr(GPtrArray) pf = g_ptr_array_new_with_free_func (failure_free);
            double unused;

            n_planned++;
            compare_layer (name, cls, mir_trace_get (planned, (guint) node), layers, file, node,
                           rc->scaled_atol, pf, &unused);
            for (guint q = 0; q < pf->len; q++)
              add_failure (failures, node, "the planned run's output: %s",
                           ((Failure *) pf->pdata[q])->text);
          }
      n_compared++;
      if (compare_layer (name, cls, got, layers, file, node, rc->scaled_atol, failures,
                         &nmse) &&
          nmse > worst_nmse)
        {
          worst_nmse = nmse;
          worst_nmse_layer = json_array_get_string_element (names, i);
        }
    }
  H5Gclose (layers);
  H5Fclose (file);

  g_test_message ("%u layers compared (%u nested-model/input entries without a node), "
                  "largest NMSE among matching layers %.3g (%s); %u outputs of the planned run",
                  n_compared, n_skipped, worst_nmse, worst_nmse_layer, n_planned);
  if (failures->len > 0)
    {
      GString *msg = g_string_new (NULL);

      g_ptr_array_sort (failures, failure_cmp);
      g_string_append_printf (msg, "%s (%s): %u of %u layers differ; first in graph order: %s",
                              rc->model_path, reference, failures->len, n_compared,
                              ((Failure *) failures->pdata[0])->text);
      for (guint i = 0; i < failures->len; i++)
        g_printerr ("  %s\n", ((Failure *) failures->pdata[i])->text);
      g_test_fail_printf ("%s", msg->str);
      g_string_free (msg, TRUE);
    }
}

static gint
cmp_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static void
add_cases (const char *dir, const char *prefix, GPtrArray *keep)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *shared = g_getenv ("MIRADA_SHARED_DIR");
  const char *entry;

  g_assert_nonnull (d);
  while ((entry = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (entry, ".ref.h5"))
      g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, cmp_names);

  for (guint i = 0; i < names->len; i++)
    {
      const char *fname = names->pdata[i];
      RefCase *rc = g_new0 (RefCase, 1);
      g_autofree char *model = NULL;
      g_autofree char *location = NULL;
      g_autofree char *test_path = NULL;
      g_autofree char *stem = g_strndup (fname, strlen (fname) - strlen (".ref.h5"));
      hid_t file;

      rc->ref_path = g_build_filename (dir, fname, NULL);
      rc->scaled_atol = *prefix != '\0';
      file = H5Fopen (rc->ref_path, H5F_ACC_RDONLY, H5P_DEFAULT);
      g_assert_cmpint (file, >=, 0);
      model = read_string_attr (file, "model");
      location = read_string_attr (file, "location");
      H5Fclose (file);
      g_assert_nonnull (model);

      if (location == NULL)
        rc->model_path = g_build_filename (dir, model, NULL);
      else if (g_strcmp0 (location, "resources/default") == 0)
        rc->model_path = g_test_build_filename (G_TEST_DIST, "..", "resources", "default", model,
                                                NULL);
      else if (g_str_has_prefix (location, "$MIRADA_SHARED_DIR"))
        {
          if (shared != NULL)
            rc->model_path = g_build_filename (shared, "fixtures", "models", model, NULL);
        }
      else
        rc->model_path = g_test_build_filename (G_TEST_DIST, "data", "models", model, NULL);
      if (rc->model_path == NULL || !g_file_test (rc->model_path, G_FILE_TEST_EXISTS))
        {
          rc->missing_hint = g_strdup_printf ("model file %s not found (MIRADA_SHARED_DIR=%s); "
                                              "this case is skipped",
                                              rc->model_path ? rc->model_path : model,
                                              shared ? shared : "unset");
          g_clear_pointer (&rc->model_path, g_free);
        }
      test_path = g_strdup_printf ("/keras-reference/%s%s", prefix, stem);
      g_test_add_data_func (test_path, rc, test_reference);
      g_ptr_array_add (keep, rc);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func (ref_case_free);
  g_autofree char *ref_dir = NULL;
  g_autofree char *fixture_dir = NULL;
  int ret;

  g_autofree char **args = g_new0 (char *, argc + 2);
  int n_args = argc + 1;

  /* Run every model even after one failed: each case names its own layers. */
  memcpy (args, argv, sizeof (char *) * (gsize) argc);
  args[argc] = (char *) "--keep-going";
  argv = args;
  argc = n_args;
  g_test_init (&argc, &argv, NULL);
  H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);

  ref_dir = g_test_build_filename (G_TEST_DIST, "data", "ref", NULL);
  fixture_dir = g_build_filename (ref_dir, "fixtures", NULL);
  add_cases (ref_dir, "", cases);
  add_cases (fixture_dir, "fixtures/", cases);
  g_assert_cmpuint (cases->len, >, 0);

  ret = g_test_run ();
  return ret;
}
