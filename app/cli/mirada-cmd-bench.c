/* mirada-cmd-bench.c: `mirada bench MODEL`, forward-pass timing on random
 * input: a warm-up run, then the median of --runs runs, per layer too. */
#define G_LOG_DOMAIN "mirada-bench"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "mir-file.h"
#include "mir-parallel.h"
#include "mirada-cli.h"
#include "mirada-cli-util.h"

/* Size used for input dimensions the model leaves free. */
#define BENCH_FREE_SIDE 224

static double
median (double *v, guint n)
{
  g_autofree double *s = g_memdup2 (v, n * sizeof (double));

  for (guint i = 1; i < n; i++)
    for (guint j = i; j > 0 && s[j - 1] > s[j]; j--)
      {
        double t = s[j];
        s[j] = s[j - 1];
        s[j - 1] = t;
      }
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static gint64
shape_numel (const MirShape *shape)
{
  gint64 n = 1;

  for (guint i = 1; i < shape->ndim; i++)
    n *= MAX (shape->dim[i], 1);
  return n;
}

/* FLOPs of one sample at @node (multiply-add = 2).  The layer class's own
 * count when it has one; else an estimate from the weights: every output
 * position of a conv/dense layer uses each kernel value once (2 FLOPs per
 * kernel value per position); other layers count one per output value. */
static gint64
node_flops (MirModel *model, MirNode *node, const MirShape *concrete)
{
  MirLayer *layer = node->layer;
  MirShape in[8], out = concrete[mir_model_find_node (model, node->name)];
  gint64 kernel = 0, positions;

  if (layer->klass->flags & MIR_LAYER_FLAG_INPUT)
    return 0;
  if (layer->klass->flops != NULL && node->n_inputs <= G_N_ELEMENTS (in))
    {
      for (guint k = 0; k < node->n_inputs; k++)
        in[k] = concrete[node->inputs[k]];
      return layer->klass->flops (layer, in, node->n_inputs, &out);
    }
  for (guint w = 0; w < layer->n_weights; w++)
    if (g_str_has_suffix (layer->weights[w].name, "kernel"))
      {
        gint64 n = 1;
        for (guint d = 0; d < layer->weights[w].shape.ndim; d++)
          n *= layer->weights[w].shape.dim[d];
        kernel += n;
      }
  if (kernel == 0)
    return shape_numel (&out);
  /* Positions = every output value but the last axis (channels / units). */
  positions = shape_numel (&out) / MAX (out.dim[out.ndim - 1], 1);
  return 2 * kernel * positions;
}

typedef struct
{
  guint node;
  double time;
} LayerTime;

static int
compare_times (gconstpointer a, gconstpointer b)
{
  const LayerTime *x = a, *y = b;

  if (x->time != y->time)
    return x->time < y->time ? 1 : -1;
  return x->node < y->node ? -1 : (x->node > y->node);
}

int
mirada_cmd_bench (int argc, char **argv)
{
  int batch = 1, threads = 0, runs = 10;
  gboolean json = FALSE;
  g_autofree char *input_path = NULL;
  g_autofree char *output_path = NULL;
  const GOptionEntry entries[] = {
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, N_("Images per run (default 1)"), "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      N_("Threads (default: OpenBLAS' choice, the cores or OPENBLAS_NUM_THREADS)"), "N" },
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, N_("Timed runs after the warm-up (default 10)"),
      "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &input_path,
      N_("Raw little-endian float32 NHWC input (batch × the model's input shape) instead of "
         "random values (one-input models)"), N_("FILE") },
    { "save-output", 0, 0, G_OPTION_ARG_FILENAME, &output_path,
      N_("Write the first output of the last run as raw float32"), N_("FILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GPtrArray) inputs = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (1);
  g_autofree double *totals = NULL;
  g_autofree double *node_times = NULL; /* runs × nodes */
  g_autofree gboolean *ran = NULL;     /* nodes: ran in the last run (not fused) */
  gboolean any_fused = FALSE;
  g_autofree MirShape *concrete = NULL;
  g_autoptr(GArray) layers = NULL;
  gboolean free_dims = FALSE;
  double total_median, flops = 0;
  guint n_nodes;
  int ret;

  g_option_context_set_summary (context, _("Time a model's forward pass on random input: one "
                                           "warm-up run, then the median of the timed runs, "
                                           "in total and per layer."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "bench", &argc, &argv);
  if (ret >= 0)
    return ret;
  if (argc != 2)
    return mirada_cli_usage_error ("bench", argc < 2 ? _("Give a model file")
                                                     : _("Give one model file"));
  {
    const char *const outputs[] = { output_path };
    int out_ret = mirada_cli_check_outputs ("bench", json, outputs, G_N_ELEMENTS (outputs));
    if (out_ret >= 0)
      return out_ret;
  }
  if (batch < 1 || batch > 4096)
    return mirada_cli_usage_error ("bench", _("--batch must be between 1 and 4096"));
  if (runs < 1 || runs > 100000)
    return mirada_cli_usage_error ("bench", _("--runs must be between 1 and 100000"));
  if (threads < 0 || threads > 1024)
    return mirada_cli_usage_error ("bench", _("--threads must be between 1 and 1024"));
  if (threads > 0)
    mir_parallel_set_threads ((guint) threads);

  model = mirada_model_open (argv[1], NULL, NULL, NULL, &error);
  if (model == NULL)
    return mirada_cli_fail (error);
  n_nodes = mir_model_get_n_nodes (model);

  /* Random inputs in [0, 1) of the model's input shapes. */
  inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_tensor_unref);
  for (guint i = 0; i < model->inputs->len; i++)
    {
      const MirShape *s = mir_model_get_input_shape (model, i);
      gint64 shape[MIR_MAX_DIMS];
      MirTensor *t;

      shape[0] = batch;
      for (guint d = 1; d < s->ndim; d++)
        {
          shape[d] = s->dim[d] > 0 ? s->dim[d] : BENCH_FREE_SIDE;
          free_dims |= s->dim[d] <= 0;
        }
      t = mir_tensor_new (s->ndim, shape, &error);
      if (t == NULL)
        return mirada_cli_fail (error);
      g_ptr_array_add (inputs, t);
      if (input_path != NULL && i == 0)
        {
          g_autofree char *raw = NULL;
          gsize len = 0;

          /* (a device such as /dev/zero, or a huge file, is refused unread) */
          if (!(raw = mir_file_read (input_path, t->numel * sizeof (float), _("inputs"), &len,
                                     &error)))
            return mirada_cli_fail (error);
          if (len != t->numel * sizeof (float))
            {
              g_autofree char *shp = mir_tensor_shape_string (t);
              g_set_error (&error, MIR_ERROR, MIR_ERROR_SHAPE,
                           _("%s holds %zu bytes, but an input of shape %s "
                             "needs %zu"), input_path, len, shp,
                           t->numel * sizeof (float));
              return mirada_cli_fail (error);
            }
          memcpy (t->data, raw, len);
        }
      else
        for (gsize k = 0; k < t->numel; k++)
          t->data[k] = (float) g_rand_double (rng);
    }

  totals = g_new0 (double, runs);
  node_times = g_new0 (double, (gsize) runs * n_nodes);
  ran = g_new0 (gboolean, n_nodes);
  concrete = g_new0 (MirShape, n_nodes);
  for (int r = -1; r < runs; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(MirTrace) trace = mir_model_run (model, (MirTensor *const *) inputs->pdata,
                                                 inputs->len, MIR_RUN_DEFAULT, -1, 0, NULL,
                                                 &error);
      if (trace == NULL)
        return mirada_cli_fail (error);
      if (r < 0)
        continue; /* warm-up */
      totals[r] = (g_get_monotonic_time () - t0) / 1e6;
      if (output_path != NULL && r == runs - 1)
        {
          MirTensor *o = mir_trace_get_output (trace, 0);
          if (!mirada_output_write (output_path, o->data, o->numel * sizeof (float), &error))
            return mirada_cli_fail (error);
        }
      for (guint i = 0; i < n_nodes; i++)
        {
          node_times[(gsize) r * n_nodes + i] = mir_trace_get_time (trace, i);
          ran[i] = mir_trace_node_ran (trace, i);
        }
    }

  /* Concrete per-sample shapes (free dimensions as run) for the FLOP counts. */
  for (guint i = 0; i < n_nodes; i++)
    {
      concrete[i] = mir_model_get_node (model, i)->shape;
      concrete[i].dim[0] = 1;
      for (guint d = 1; d < concrete[i].ndim; d++)
        if (concrete[i].dim[d] < 0)
          concrete[i].dim[d] = BENCH_FREE_SIDE;
    }

  layers = g_array_new (FALSE, FALSE, sizeof (LayerTime));
  {
    g_autofree double *column = g_new (double, runs);
    for (guint i = 0; i < n_nodes; i++)
      {
        LayerTime lt = { i, 0 };
        for (int r = 0; r < runs; r++)
          column[r] = node_times[(gsize) r * n_nodes + i];
        lt.time = median (column, (guint) runs);
        g_array_append_val (layers, lt);
        flops += (double) node_flops (model, mir_model_get_node (model, i), concrete) * batch;
      }
  }
  g_array_sort (layers, compare_times);
  total_median = median (totals, (guint) runs);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "model");
      json_builder_add_string_value (b, argv[1]);
      json_builder_set_member_name (b, "batch");
      json_builder_add_int_value (b, batch);
      json_builder_set_member_name (b, "threads");
      json_builder_add_int_value (b, mir_parallel_threads ());
      json_builder_set_member_name (b, "runs");
      json_builder_add_int_value (b, runs);
      json_builder_set_member_name (b, "median_seconds");
      json_builder_add_double_value (b, total_median);
      json_builder_set_member_name (b, "flops");
      json_builder_add_double_value (b, flops);
      json_builder_set_member_name (b, "gflops_per_second");
      json_builder_add_double_value (b, total_median > 0 ? flops / total_median / 1e9 : 0);
      json_builder_set_member_name (b, "layers");
      json_builder_begin_array (b);
      for (guint i = 0; i < layers->len; i++)
        {
          LayerTime *lt = &g_array_index (layers, LayerTime, i);
          MirNode *node = mir_model_get_node (model, lt->node);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, node->name);
          json_builder_set_member_name (b, "type");
          json_builder_add_string_value (b, node->layer->klass->name);
          json_builder_set_member_name (b, "median_seconds");
          json_builder_add_double_value (b, lt->time);
          json_builder_set_member_name (b, "ran");
          json_builder_add_boolean_value (b, ran[lt->node]);
          json_builder_set_member_name (b, "flops");
          json_builder_add_double_value (
            b, (double) node_flops (model, node, concrete) * batch);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      mirada_cli_json_print (b);
      return 0;
    }

  g_print (_("Model: %s\n"), argv[1]);
  g_print (_("Batch: %d, threads: %d, runs: %d (after one warm-up run)\n"), batch,
           mir_parallel_threads (), runs);
  if (free_dims)
    g_print (_("Free input dimensions were set to %d\n"), BENCH_FREE_SIDE);
  g_print ("\n%-32s %-22s %10s %6s %9s\n", _("Layer"), _("Type"), _("ms"), "%", _("GFLOP/s"));
  for (guint i = 0; i < layers->len; i++)
    {
      LayerTime *lt = &g_array_index (layers, LayerTime, i);
      MirNode *node = mir_model_get_node (model, lt->node);
      double f = (double) node_flops (model, node, concrete) * batch;

      if (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
        continue;
      if (!ran[lt->node])
        {
          /* Translators: in the bench table, a layer computed inside another layer’s step */
          g_print ("%-32s %-22s %10s\n", node->name, node->layer->klass->name, _("fused"));
          any_fused = TRUE;
          continue;
        }
      g_print ("%-32s %-22s %10.3f %6.1f %9.2f\n", node->name, node->layer->klass->name,
               lt->time * 1e3, total_median > 0 ? 100.0 * lt->time / total_median : 0.0,
               lt->time > 0 ? f / lt->time / 1e9 : 0.0);
    }
  if (any_fused)
    g_print (_("\n“fused”: computed inside another layer’s step (batch normalization, activation "
               "or max pooling with the convolution before it; an inverted-residual block as "
               "one step); that layer’s time includes it.\n"));
  g_print ("\n");
  g_print (_("Total (median): %.3f ms per batch, %.3f ms per image\n"), total_median * 1e3,
           total_median * 1e3 / batch);
  g_print (_("Compute: %.3f GFLOP per batch, %.2f GFLOP/s\n"), flops / 1e9,
           total_median > 0 ? flops / total_median / 1e9 : 0.0);
  return 0;
}
