#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "mir-test-util.h"
#include "mir-keras.h"

MirTensor *
mir_test_random_tensor (guint ndim, const gint64 *shape, float lo, float hi, GRand *rng)
{
  MirTensor *t = mir_tensor_new (ndim, shape, NULL);

  g_assert_nonnull (t);
  for (gsize i = 0; i < t->numel; i++)
    t->data[i] = (float) g_rand_double_range (rng, lo, hi);
  return t;
}

MirModel *
mir_test_layer_model (const char *class_name, const char *config_json, guint n_in,
                      const MirShape *in_shapes, guint32 seed, GError **error)
{
  g_autoptr(MirModel) model = mir_model_new ("test");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(MirLayer) layer = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autofree guint *inputs = g_new (guint, n_in);
  JsonObject *config = NULL;

  if (config_json != NULL)
    {
      if (!json_parser_load_from_data (parser, config_json, -1, error))
        return NULL;
      config = json_node_get_object (json_parser_get_root (parser));
    }
  for (guint i = 0; i < n_in; i++)
    {
      g_autofree char *name = g_strdup_printf ("input_%u", i);
      gint idx = mir_model_add_input (model, name, &in_shapes[i], error);
      if (idx < 0)
        return NULL;
      inputs[i] = (guint) idx;
    }
  layer = mir_layer_new_by_name (class_name, "layer", config, error);
  if (layer == NULL)
    return NULL;
  if (mir_model_add_node (model, "layer", layer, inputs, n_in, NULL, error) < 0)
    return NULL;
  for (guint j = 0; j < layer->n_weights; j++)
    {
      MirWeight *w = &layer->weights[j];
      gboolean positive = g_str_equal (w->name, "moving_variance") || g_str_equal (w->name, "variance");
      g_autoptr(MirTensor) t = mir_test_random_tensor (w->shape.ndim, w->shape.dim,
                                                       positive ? 0.5f : -1.0f,
                                                       positive ? 1.5f : 1.0f, rng);
      if (!mir_layer_set_weight (layer, j, t, error))
        return NULL;
    }
  if (!mir_model_finish (model, FALSE, seed, error))
    return NULL;
  return g_steal_pointer (&model);
}

/* Weights uniform in [-0.5, 0.5), BatchNormalization variances in [0.5, 1.5). */
void
mir_test_fill_weights (MirModel *model, guint32 seed)
{
  g_autoptr(GPtrArray) layers = mir_model_dup_layers (model);
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);

  for (guint k = 0; k < layers->len; k++)
    {
      MirLayer *layer = layers->pdata[k];
      for (guint j = 0; j < layer->n_weights; j++)
        {
          MirWeight *w = &layer->weights[j];
          float lo = g_str_equal (w->name, "moving_variance") ? 0.5f : -0.5f;
          g_autoptr(MirTensor) t = mir_test_random_tensor (w->shape.ndim, w->shape.dim, lo,
                                                           lo + 1.0f, rng);
          g_assert_true (mir_layer_set_weight (layer, j, t, NULL));
        }
    }
  g_assert_true (mir_model_finish (model, FALSE, 0, NULL));
}

static gboolean
loss (MirModel *model, MirTensor *const *inputs, guint n_inputs, const MirGradcheckOptions *o,
      const MirTensor *r, double *out, GError **error)
{
  g_autoptr(MirTrace) trace = mir_model_run (model, inputs, n_inputs, o->flags, -1, o->run_seed,
                                             NULL, error);
  MirTensor *y;
  double s = 0;

  if (trace == NULL)
    return FALSE;
  y = mir_trace_get_output (trace, 0);
  for (gsize i = 0; i < y->numel; i++)
    s += (double) y->data[i] * r->data[i];
  *out = s;
  return TRUE;
}

typedef struct
{
  double num2, ana2, diff2, max_abs;
  char *worst;
  guint n;
} Acc;

static gboolean
check_tensor (MirModel *model, MirTensor *const *inputs, guint n_inputs,
              const MirGradcheckOptions *o, const MirTensor *r, MirTensor *param,
              const MirTensor *analytic, const char *what, GRand *rng, Acc *acc, GError **error)
{
  guint max_checks = o->max_checks ? o->max_checks : 64;
  double eps = o->eps > 0 ? o->eps : 1e-2;
  guint n = (guint) MIN ((gsize) max_checks, param->numel);

  for (guint c = 0; c < n; c++)
    {
      gsize i = param->numel <= max_checks ? c : (gsize) g_rand_int_range (rng, 0, (gint32) param->numel);
      float saved = param->data[i];
      double lp, lm, num, ana, d;

      param->data[i] = (float) (saved + eps);
      if (!loss (model, inputs, n_inputs, o, r, &lp, error))
        return FALSE;
      param->data[i] = (float) (saved - eps);
      if (!loss (model, inputs, n_inputs, o, r, &lm, error))
        return FALSE;
      param->data[i] = saved;
      num = (lp - lm) / (2 * eps);
      ana = analytic ? analytic->data[i] : 0.0;
      d = fabs (ana - num);
      acc->num2 += num * num;
      acc->ana2 += ana * ana;
      acc->diff2 += d * d;
      acc->n++;
      if (d > acc->max_abs || acc->worst == NULL)
        {
          acc->max_abs = MAX (acc->max_abs, d);
          g_free (acc->worst);
          acc->worst = g_strdup_printf ("%s[%" G_GSIZE_FORMAT "]: analytic %.6g numeric %.6g",
                                        what, i, ana, num);
        }
    }
  return TRUE;
}

gboolean
mir_test_gradcheck (MirModel *model, MirTensor *const *inputs, guint n_inputs,
                    const MirGradcheckOptions *options, MirGradcheckResult *result,
                    GError **error)
{
  MirGradcheckOptions o = { 0 };
  g_autoptr(GRand) rng = g_rand_new_with_seed (12345);
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) r = NULL;
  g_autoptr(GPtrArray) layers = NULL;
  MirTensor *y;
  guint out_node = mir_model_get_output (model, 0);
  Acc acc = { 0 };

  if (options)
    o = *options;
  trace = mir_model_run (model, inputs, n_inputs, o.flags | MIR_RUN_FOR_BACKWARD, -1,
                         o.run_seed, NULL, error);
  if (trace == NULL)
    return FALSE;
  y = mir_trace_get_output (trace, 0);
  r = mir_test_random_tensor (y->ndim, y->shape, -1.0f, 1.0f, rng);
  if (!mir_trace_backward (trace, out_node, r, -1,
                           o.weights ? MIR_BACKWARD_WEIGHTS : MIR_BACKWARD_DEFAULT, NULL, error))
    return FALSE;

  for (guint k = 0; k < n_inputs; k++)
    {
      g_autofree char *what = g_strdup_printf ("input %u", k);
      MirTensor *g = mir_trace_get_grad (trace, mir_model_get_input (model, k));
      if (!check_tensor (model, inputs, n_inputs, &o, r, inputs[k], g, what, rng, &acc, error))
        goto fail;
    }
  if (o.weights)
    {
      layers = mir_model_dup_layers (model);
      for (guint l = 0; l < layers->len; l++)
        {
          MirLayer *layer = layers->pdata[l];
          for (guint j = 0; j < layer->n_weights; j++)
            {
              g_autofree char *what = NULL;
              if (!layer->weights[j].trainable)
                continue;
              what = g_strdup_printf ("%s.%s", layer->name, layer->weights[j].name);
              if (!check_tensor (model, inputs, n_inputs, &o, r, layer->weights[j].value,
                                 mir_trace_get_weight_grad (trace, layer, j), what, rng, &acc,
                                 error))
                goto fail;
            }
        }
    }
  result->rel_error = sqrt (acc.diff2) / (sqrt (acc.ana2) + sqrt (acc.num2) + 1e-12);
  result->max_abs = acc.max_abs;
  result->worst = acc.worst;
  result->n_checked = acc.n;
  return TRUE;

fail:
  g_free (acc.worst);
  return FALSE;
}

void
mir_gradcheck_result_clear (MirGradcheckResult *result)
{
  g_clear_pointer (&result->worst, g_free);
}

MirLayer *
mir_test_layer_new (const char *class_name, const char *name, const char *config_json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  GError *error = NULL;
  MirLayer *layer;

  g_assert_true (json_parser_load_from_data (parser, config_json, -1, &error));
  layer = mir_layer_new_by_name (class_name, name,
                                 json_node_get_object (json_parser_get_root (parser)), &error);
  g_assert_no_error (error);
  return layer;
}

guint
mir_test_add_node (MirModel *model, const char *class_name, const char *name,
                   const char *config_json, const guint *inputs, guint n_inputs)
{
  g_autoptr(MirLayer) layer = mir_test_layer_new (class_name, name, config_json);
  GError *error = NULL;
  gint idx = mir_model_add_node (model, name, layer, inputs, n_inputs, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (idx, >=, 0);
  return (guint) idx;
}

MirModel *
mir_test_model_from_config (const char *json, guint32 seed)
{
  g_autoptr(GError) error = NULL;
  MirModel *m = mir_keras_model_from_config (json, -1, &error);

  g_assert_no_error (error);
  g_assert_true (mir_model_finish (m, TRUE, seed, &error));
  g_assert_no_error (error);
  return m;
}

void
mir_test_gradient_energy (const MirImage *img, double *ex, double *ey)
{
  gssize row = (gssize) img->rowstride, c = img->channels;

  *ex = *ey = 0;
  for (int y = 1; y < img->height - 1; y++)
    for (int x = 1; x < img->width - 1; x++)
      {
        const guint8 *p = img->pixels + y * img->rowstride + c * x;
        *ex += ((double) p[c] - p[-c]) * ((double) p[c] - p[-c]);
        *ey += ((double) p[row] - p[-row]) * ((double) p[row] - p[-row]);
      }
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
mir_test_wait_until (gboolean (*done) (gpointer), gpointer data, double timeout_s, const char *what)
{
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + (gint64) (timeout_s * G_USEC_PER_SEC);
  guint tick = g_timeout_add (50, wake_up, NULL);

  while (!done (data))
    {
      if (g_get_monotonic_time () > end)
        g_error ("timed out after %.0f s waiting for %s",
                 (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC, what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

/* ------------------------------------------------------------------ */

/* The command line that gives @params (every field the CLI has an option for). */
void
mir_test_detect_params_args (GPtrArray *args, const MirDetectParams *params)
{
  g_autoptr(GString) classes = g_string_new (NULL);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_ptr_array_add (args, g_strdup ("--method"));
  g_ptr_array_add (args, g_strdup (mir_detect_method_to_string (params->method)));
  g_ptr_array_add (args, g_strdup ("--group"));
  g_ptr_array_add (args, g_strdup (mir_detect_grouping_to_string (params->grouping)));
  g_ptr_array_add (args, g_strdup ("--iou"));
  g_ptr_array_add (args, g_strdup (g_ascii_dtostr (buf, sizeof buf, params->iou)));
  g_ptr_array_add (args, g_strdup_printf ("--radius=%u", params->radius));
  if (params->weighted_mean)
    g_ptr_array_add (args, g_strdup ("--weighted"));
  for (guint c = 0; c < params->n_classes; c++)
    {
      g_ptr_array_add (args, g_strdup ("--threshold"));
      g_ptr_array_add (args, g_strdup_printf ("%u=%s", c,
                                              g_ascii_dtostr (buf, sizeof buf,
                                                              params->classes[c].threshold)));
      g_ptr_array_add (args, g_strdup ("--exception"));
      g_ptr_array_add (args, g_strdup_printf ("%u=%s", c,
                                              g_ascii_dtostr (buf, sizeof buf,
                                                              params->classes[c].exception)));
      if (params->classes[c].complement)
        {
          g_ptr_array_add (args, g_strdup ("--complement"));
          g_ptr_array_add (args, g_strdup_printf ("%u", c));
        }
      if (params->classes[c].enabled)
        g_string_append_printf (classes, "%s%u", classes->len ? "," : "", c);
    }
  g_ptr_array_add (args, g_strdup ("--classes"));
  g_ptr_array_add (args, g_strdup (classes->str));
}

void
mir_test_remove_tree (const char *path)
{
  GDir *dir;

  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && (dir = g_dir_open (path, 0, NULL)) != NULL)
    {
      const char *name;

      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          mir_test_remove_tree (child);
        }
      g_dir_close (dir);
    }
  g_remove (path);
}

char *
mir_test_private_home (const char *prefix)
{
  static const char *const dirs[][2] = {
    { "HOME", "home" },
    { "XDG_DATA_HOME", "data" },     /* GTK's recently-used.xbel */
    { "XDG_CONFIG_HOME", "config" },
    { "XDG_CACHE_HOME", "cache" },   /* the pattern cache */
    { "XDG_STATE_HOME", "state" },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpl = g_strdup_printf ("%s-XXXXXX", prefix);
  char *root = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (root, dirs[i][1], NULL);

      g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
      g_setenv (dirs[i][0], path, TRUE);
    }
  return root;
}

double
mir_test_time_scale (void)
{
  const char *s = g_getenv ("MIRADA_TEST_TIME_SCALE");
  double v = s != NULL ? g_ascii_strtod (s, NULL) : 1.0;

  return v >= 1.0 ? v : 1.0;
}
