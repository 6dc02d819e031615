/* mirada filters: learned-filter and class patterns from the CLI: seed 002's
 * recipe, the regularised (Lucid-style) variant, both side by side, and a
 * benchmark. */
#define G_LOG_DOMAIN "mirada-cmd-filters"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-figure.h"
#include "mirada-cli-util.h"
#include "mir-activation-grid.h"
#include "mir-filter-pattern.h"

typedef struct
{
  GPtrArray *patterns; /* by index into the filter list */
  gboolean verbose;
  MiradaCliProgress progress;
  guint n_filters, steps, done;
  guint64 previews;    /* progress-hook calls: n_filters per PREVIEW_EVERY steps */
} Collect;

/* Steps between two progress updates of a pattern (a terminal only). */
#define PREVIEW_EVERY 5

static void
show_progress (Collect *c)
{
  guint step = (guint) MIN ((guint64) c->steps,
                            c->previews * PREVIEW_EVERY / MAX (c->n_filters, 1u));

  if (!mirada_cli_progress_due (&c->progress, c->done >= c->n_filters))
    return;
  /* TRANSLATORS: mirada filters' progress line: patterns done, patterns, step, steps, seconds */
  mirada_cli_progress_print (&c->progress, _("Patterns: %u of %u done, step %u of %u (%.0f s)"),
                             c->done, c->n_filters, step, c->steps,
                             mirada_cli_progress_seconds (&c->progress));
}

static void
preview_cb (guint index, const MirTensor *img, gpointer user_data)
{
  Collect *c = user_data;

  c->previews++;
  show_progress (c);
}

static void
pattern_done_cb (guint index, gint filter, MirImage *pattern, double loss_start, double loss_end,
                 gpointer user_data)
{
  Collect *c = user_data;

  g_clear_pointer (&c->patterns->pdata[index], mir_image_unref);
  c->patterns->pdata[index] = mir_image_ref (pattern);
  c->done++;
  mirada_cli_progress_end (&c->progress);
  if (c->verbose)
    g_print (_("filter %d: mean activation %.5g → %.5g\n"), filter, loss_start, loss_end);
}

/* "0-63", "3,5,9-12" */
static GArray *
parse_filters (const char *spec, gint64 units, GError **error)
{
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (gint));
  g_auto(GStrv) parts = g_strsplit (spec, ",", -1);

  for (guint i = 0; parts[i]; i++)
    {
      char *end = NULL;
      gint64 a, b;

      errno = 0;
      a = g_ascii_strtoll (parts[i], &end, 10);
      b = a;
      if (end && *end == '-')
        b = g_ascii_strtoll (end + 1, &end, 10);
      if (errno || end == parts[i] || (end && *end) || a < 0 || b < a || b >= units ||
          b - a > 4096)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Bad filter list '%s': use indexes from 0 to %" PRId64
                         " like 0-63 or 1,5,9"), spec, units - 1);
          return NULL;
        }
      for (gint64 f = a; f <= b; f++)
        {
          gint v = (gint) f;
          g_array_append_val (out, v);
        }
    }
  return g_steal_pointer (&out);
}

/* "0.9,1.1" */
static gboolean
parse_range (const char *spec, float *lo, float *hi, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (spec, ",", -1);
  char *e1 = NULL, *e2 = NULL;

  if (g_strv_length (parts) == 2)
    {
      *lo = (float) g_ascii_strtod (parts[0], &e1);
      *hi = (float) g_ascii_strtod (parts[1], &e2);
      if (e1 != parts[0] && *e1 == '\0' && e2 != parts[1] && *e2 == '\0')
        return TRUE;
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Bad --scale-range '%s': give two numbers like 0.9,1.1"), spec);
  return FALSE;
}

/* Index of @value in the NULL-terminated @names, @fallback when @value is
 * NULL, -1 when it is none of them. */
static int
choice (const char *value, const char *const *names, int fallback)
{
  if (value == NULL)
    return fallback;
  for (int i = 0; names[i]; i++)
    if (g_str_equal (value, names[i]))
      return i;
  return -1;
}

/* A layer by name; "predictions" (Keras' name for the classifier) also
 * finds the model's output layer when no layer has that name. */
static gint
find_layer (MirModel *model, const char *name, GError **error)
{
  if (mir_model_find_node (model, name) < 0 && g_str_equal (name, "predictions"))
    return (gint) mir_model_get_output (model, 0);
  return mirada_cli_find_layer (model, name, error);
}

/* `arch:` models get random weights for every layer (VGG16: 138 M values,
 * 553 MB of fresh memory, nine tenths of it the classifier), while a
 * convolution's pattern needs only the layers up to it.  A layer of the
 * convolutional base comes from the base alone (",notop": the same layers,
 * drawn first from the same seed, so the same weights); the classifier's
 * layers ("predictions" too) from the whole model.  Specs that name
 * notop, a size or a weights file are opened as given. */
static MirModel *
open_for_layer (const char *spec, const char *preprocess, const char *layer_name, GError **error)
{
  if (g_str_has_prefix (spec, "arch:") && strstr (spec, "notop") == NULL &&
      strstr (spec, "top=") == NULL && strstr (spec, "size=") == NULL &&
      strstr (spec, "weights=") == NULL)
    {
      g_autofree char *base_spec = g_strconcat (spec, ",notop", NULL);
      g_autoptr(MirModel) base = mirada_model_open (base_spec, NULL, preprocess, NULL, NULL);
      gint i;

      if (base != NULL && (i = mir_model_find_node (base, layer_name)) >= 0 &&
          mir_model_get_node (base, (guint) i)->shape.ndim == 4)
        return g_steal_pointer (&base);
    }
  return mirada_model_open (spec, NULL, preprocess, NULL, error);
}

static GPtrArray *
run_patterns (MirModel *model, gint layer, GArray *filters, const MirFilterOptions *opts,
              MirFilterCache *cache, gboolean verbose, GError **error)
{
  Collect c = { g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref), verbose };
  gboolean ok;

  mirada_cli_progress_begin (&c.progress);
  c.n_filters = filters->len;
  c.steps = (guint) opts->steps;
  g_ptr_array_set_size (c.patterns, (gint) filters->len);
  ok = mir_filter_patterns_full (model, layer, (const gint *) (void *) filters->data, filters->len,
                                 opts, cache, c.progress.on ? preview_cb : NULL,
                                 c.progress.on ? PREVIEW_EVERY : 0, pattern_done_cb, &c, NULL,
                                 error);
  mirada_cli_progress_end (&c.progress);
  if (!ok)
    {
      g_ptr_array_unref (c.patterns);
      return NULL;
    }
  return c.patterns;
}

/* ------------------------------------------------------------------ */
/* --bench */

/* Seconds of CPU time used by the process (all threads). */
static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wall-clock seconds; *cpu gets the CPU seconds of the same span. */
static double
bench_patterns (MirModel *model, const char *layer_name, guint n, const MirFilterOptions *o,
                double *cpu, GError **error)
{
  gint layer = mirada_cli_find_layer (model, layer_name, error);
  g_autoptr(GArray) filters = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr(GPtrArray) patterns = NULL;
  gint64 t0;

  if (layer < 0)
    return -1;
  for (guint i = 0; i < n; i++)
    {
      gint f = (gint) i;
      g_array_append_val (filters, f);
    }
  *cpu = cpu_seconds ();
  t0 = g_get_monotonic_time ();
  if (!(patterns = run_patterns (model, layer, filters, o, NULL, FALSE, error)))
    return -1;
  *cpu = cpu_seconds () - *cpu;
  return (double) (g_get_monotonic_time () - t0) / 1e6;
}

static int
run_bench (const char *default_model, int batch)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) vgg64 = NULL, deflt = NULL, vgg224 = NULL;
  MirFilterOptions o = MIR_FILTER_OPTIONS_DEFAULT;
  const char *conv[] = { "conv2d", "conv2d_1", "conv2d_2" };
  double t, cpu, total = 0, total_cpu = 0;
  guint n_total = 0;

  o.batch = batch;
  g_print (_("Filter-pattern and activation-grid benchmark (%u processors; wall-clock time, "
             "and CPU time summed over threads: on a busy machine the wall time is inflated)\n"),
           g_get_num_processors ());
  /* 1: one VGG16 block3_conv1 pattern at 64 px, 40 steps, random weights */
  if (!(vgg64 = mirada_model_open ("arch:vgg16,notop,size=64", NULL, NULL, NULL, &error)))
    return mirada_cli_fail (error);
  for (int m = 0; m < 2; m++)
    {
      o.method = m == 0 ? MIR_FILTER_METHOD_SEED : MIR_FILTER_METHOD_REGULARIZED;
      if ((t = bench_patterns (vgg64, "block3_conv1", 1, &o, &cpu, &error)) < 0)
        return mirada_cli_fail (error);
      g_print (_("VGG16 block3_conv1, 1 pattern, 64 px, 40 steps, %s: %.3f s (CPU %.3f s; "
                 "target ≤ 1 s)\n"), m == 0 ? "plain" : "regularized", t, cpu);
    }
  /* 2: every conv filter of the default model */
  if (!(deflt = mirada_model_open (default_model, NULL, NULL, NULL, &error)))
    return mirada_cli_fail (error);
  o.method = MIR_FILTER_METHOD_SEED;
  for (gsize i = 0; i < G_N_ELEMENTS (conv); i++)
    {
      gint l = mir_model_find_node (deflt, conv[i]);
      guint n;
      if (l < 0)
        continue;
      n = (guint) mir_model_get_node (deflt, (guint) l)->shape.dim[3];
      if ((t = bench_patterns (deflt, conv[i], n, &o, &cpu, &error)) < 0)
        return mirada_cli_fail (error);
      g_print (_("  %s: %u patterns, %.3f s (CPU %.3f s)\n"), conv[i], n, t, cpu);
      total += t;
      total_cpu += cpu;
      n_total += n;
    }
  g_print (_("Default model, all %u conv filters, plain gradient ascent, 40 steps, batch %d: %.3f s "
             "(CPU %.3f s; target ≤ 5 s)\n"), n_total, o.batch, total, total_cpu);
  /* 3: activation grid of VGG16 block5_conv3 (512 channels) at 224 px */
  if (!(vgg224 = mirada_model_open ("arch:vgg16,notop", NULL, NULL, NULL, &error)))
    return mirada_cli_fail (error);
  {
    g_autoptr(MirTensor) x = mir_tensor_new_4d (1, 224, 224, 3, &error);
    g_autoptr(MirTrace) trace = NULL;
    g_autofree MirChannelStats *stats = NULL;
    MirGridOptions go = MIR_GRID_OPTIONS_DEFAULT;
    gint layer = mirada_cli_find_layer (vgg224, "block5_conv3", &error);
    g_autoptr(GRand) rng = g_rand_new_with_seed (1);
    gint64 t0;
    double best = G_MAXDOUBLE, fwd;

    if (x == NULL || layer < 0)
      return mirada_cli_fail (error);
    for (gsize i = 0; i < x->numel; i++)
      x->data[i] = (float) g_rand_double_range (rng, -100, 100);
    t0 = g_get_monotonic_time ();
    if (!(trace = mir_model_run (vgg224, &x, 1, MIR_RUN_DEFAULT, layer, 0, NULL, &error)))
      return mirada_cli_fail (error);
    fwd = (double) (g_get_monotonic_time () - t0) / 1e6;
    for (int r = 0; r < 5; r++)
      {
        g_autoptr(MirImage) grid = NULL;
        g_clear_pointer (&stats, g_free);
        t0 = g_get_monotonic_time ();
        if (!(grid = mir_activation_grid (mir_trace_get (trace, (guint) layer), 0, &go, &stats,
                                          &error)))
          return mirada_cli_fail (error);
        best = MIN (best, (double) (g_get_monotonic_time () - t0) / 1e3);
      }
    g_print (_("VGG16 block5_conv3 (14×14×512) at 224 px: forward %.3f s, grid rendering %.2f ms "
               "(best of 5; target < 50 ms)\n"), fwd, best);
  }
  return 0;
}

/* ------------------------------------------------------------------ */

int
mirada_cmd_filters (int argc, char **argv)
{
  g_autofree char *layer_name = NULL, *filters_spec = NULL, *method = NULL, *out_path = NULL;
  gboolean plain = FALSE;
  g_autofree char *preprocess = NULL, *scale_range = NULL, *param = NULL, *optimizer = NULL;
  MirFilterOptions opts = MIR_FILTER_OPTIONS_DEFAULT;
  int size = 0, steps = 40, seed = 1, margin = 5, batch = opts.batch, jitter = opts.jitter;
  double step = 1.0, rotate = opts.rotate, tv = opts.tv, blur = opts.blur;
  double blur_weight = opts.blur_weight, lr = 0;
  gboolean verbose = FALSE, compare = FALSE, no_cache = FALSE, bench = FALSE;
  gboolean decorrelate = FALSE, no_decorrelate = FALSE;
  GOptionEntry entries[] = {
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("Layer whose filters to show (required; a Dense layer gives class patterns, “predictions” the output layer)"), N_("NAME") },
    { "filters", 'f', 0, G_OPTION_ARG_STRING, &filters_spec, N_("Filters, e.g. 0-63 (default: the first 64)"), N_("LIST") },
    { "size", 's', 0, G_OPTION_ARG_INT, &size, N_("Pattern size; only the layers up to --layer run, at this size (default 64, or the model's input if smaller; a layer behind a Flatten or Dense layer: the model's input size only)"), N_("PX") },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("Gradient-ascent steps (default 40)"), N_("N") },
    { "step", 0, 0, G_OPTION_ARG_DOUBLE, &step, N_("Plain method: step size (default 1)"), N_("X") },
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method, N_("plain (gradient ascent from grey noise, default) or regularized"), N_("METHOD") },
    { "jitter", 0, 0, G_OPTION_ARG_INT, &jitter, N_("Regularized: ± pixels of random shift per step (default 4)"), N_("N") },
    { "scale-range", 0, 0, G_OPTION_ARG_STRING, &scale_range, N_("Regularized: random scale per step (default 0.9,1.1)"), N_("A,B") },
    { "rotate", 0, 0, G_OPTION_ARG_DOUBLE, &rotate, N_("Regularized: ± degrees of random rotation per step (default 10)"), N_("DEG") },
    { "tv", 0, 0, G_OPTION_ARG_DOUBLE, &tv, N_("Regularized: total-variation weight (default 0.05)"), N_("W") },
    { "blur", 0, 0, G_OPTION_ARG_DOUBLE, &blur, N_("Regularized: blur-penalty σ in pixels (default 0: off)"), N_("S") },
    { "blur-weight", 0, 0, G_OPTION_ARG_DOUBLE, &blur_weight, N_("Regularized: blur-penalty weight (default 1)"), N_("W") },
    { "param", 0, 0, G_OPTION_ARG_STRING, &param, N_("Regularized: pixel or fourier (default)"), N_("KIND") },
    { "decorrelate", 0, 0, G_OPTION_ARG_NONE, &decorrelate, N_("Regularized: decorrelated ImageNet colour (the default)"), NULL },
    { "no-decorrelate", 0, 0, G_OPTION_ARG_NONE, &no_decorrelate, N_("Regularized: plain RGB"), NULL },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &optimizer, N_("Regularized: adam (default) or sgd"), N_("NAME") },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, N_("Regularized: learning rate (default 0.05 for Adam, 1 for SGD)"), N_("X") },
    { "compare", 0, 0, G_OPTION_ARG_NONE, &compare, N_("Plain row above regularized row, one column per filter"), NULL },
    { "no-cache", 0, 0, G_OPTION_ARG_NONE, &no_cache, N_("Neither read nor write the pattern cache"), NULL },
    { "bench", 0, 0, G_OPTION_ARG_NONE, &bench, N_("Time the standard cases ([MODEL]: the default model's file)"), NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, N_("Noise seed"), N_("N") },
    { "margin", 0, 0, G_OPTION_ARG_INT, &margin, N_("Pixels between patterns (default 5)"), N_("PX") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Filters optimised together (default 64: the whole grid)"), N_("N") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Print the loss of every filter"), NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the grid, captioned (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "plain", 0, 0, G_OPTION_ARG_NONE, &plain, N_("With --out: the bare grid, without title and captions (one pixel per value × --scale)"), NULL },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"), N_("MODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (_("MODEL"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GArray) filters = NULL;
  g_autoptr(MirImage) grid = NULL;
  g_autoptr(GPtrArray) patterns = NULL, reg_patterns = NULL;
  g_autoptr(MirFilterCache) cache = NULL;
  MirNode *node;
  gint layer;
  gint64 units;
  MirImage *first;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx, _("Show the patterns a layer's filters respond to most: gradient ascent on the input, one tile per filter."));
  {
    int parsed = mirada_cli_parse (ctx, "filters", &argc, &argv);

    if (parsed >= 0)
      return parsed;
  }
  if (bench)
    return argc <= 2 ? run_bench (argc == 2 ? argv[1] : "resources/default/model.h5", batch)
                     : mirada_cli_usage_error ("filters", _("--bench takes at most a MODEL"));
  if (argc != 2 || layer_name == NULL)
    return mirada_cli_usage_error ("filters", _("expected a MODEL and --layer NAME"));
  {
    const char *const outputs[] = { out_path };
    int out_ret = mirada_cli_check_outputs ("filters", FALSE, outputs, G_N_ELEMENTS (outputs));
    if (out_ret >= 0)
      return out_ret;
  }
  {
    static const char *const methods[] = { "plain", "regularized", "regularised", "seed", NULL };
    static const char *const params[] = { "pixel", "fourier", NULL };
    static const char *const optimizers[] = { "adam", "sgd", NULL };
    int mi = choice (method, methods, 0), pi = choice (param, params, 1);
    int oi = choice (optimizer, optimizers, 0);

    if (mi < 0 || pi < 0 || oi < 0)
      return mirada_cli_usage_error ("filters",
                                     mi < 0 ? _("--method is plain or regularized")
                                     : pi < 0 ? _("--param is pixel or fourier")
                                              : _("--optimizer is adam or sgd"));
    opts.method = mi == 0 || mi == 3 ? MIR_FILTER_METHOD_SEED : MIR_FILTER_METHOD_REGULARIZED;  /* 3: "seed", the old name */
    opts.param = pi == 0 ? MIR_FILTER_PARAM_PIXEL : MIR_FILTER_PARAM_FOURIER;
    opts.optimizer = oi == 0 ? MIR_FILTER_OPTIMIZER_ADAM : MIR_FILTER_OPTIMIZER_SGD;
  }
  if (decorrelate && no_decorrelate)
    return mirada_cli_usage_error ("filters", _("--decorrelate and --no-decorrelate contradict"));
  if (scale_range && !parse_range (scale_range, &opts.scale_min, &opts.scale_max, &error))
    return mirada_cli_usage_error ("filters", error->message);
  opts.decorrelate = !no_decorrelate;
  opts.size = size;
  opts.steps = steps;
  opts.step = (float) step;
  opts.seed = (guint32) seed;
  opts.batch = batch;
  opts.jitter = jitter;
  opts.rotate = (float) rotate;
  opts.tv = (float) tv;
  opts.blur = (float) blur;
  opts.blur_weight = (float) blur_weight;
  opts.lr = (float) lr;
  if (margin < 0 || margin > 100)
    return mirada_cli_usage_error ("filters", _("--margin must be between 0 and 100"));
  {
    int bad;

    if ((bad = mirada_cli_check_range ("filters", "--size", size, 0, 2048)) >= 0 ||
          (bad = mirada_cli_check_range ("filters", "--steps", steps, 1, 10000)) >= 0 ||
          (bad = mirada_cli_check_range ("filters", "--jitter", jitter, 0, 256)) >= 0 ||
          (bad = mirada_cli_check_range ("filters", "--batch", batch, 1, 256)) >= 0)
      return bad;
  }

  if (!(model = open_for_layer (argv[1], preprocess, layer_name, &error)) ||
      (layer = find_layer (model, layer_name, &error)) < 0)
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  node = mir_model_get_node (model, (guint) layer);
  units = node->shape.dim[node->shape.ndim - 1];
  if (filters_spec)
    filters = parse_filters (filters_spec, units, &error);
  else
    {
      g_autofree char *def = g_strdup_printf ("0-%" G_GINT64_FORMAT, MIN (units, 64) - 1);
      filters = parse_filters (def, units, &error);
    }
  if (filters == NULL)
    return mirada_cli_usage_error ("filters", error->message);
  if (!no_cache)
    cache = mir_filter_cache_ref (mir_filter_cache_get_default ());
  if (compare)
    {
      MirFilterOptions seed_opts = opts, reg_opts = opts;
      seed_opts.method = MIR_FILTER_METHOD_SEED;
      reg_opts.method = MIR_FILTER_METHOD_REGULARIZED;
      if (!(patterns = run_patterns (model, layer, filters, &seed_opts, cache, verbose, &error)) ||
          !(reg_patterns = run_patterns (model, layer, filters, &reg_opts, cache, verbose, &error)) ||
          !(grid = mir_filter_compare_grid ((MirImage *const *) patterns->pdata,
                                            (MirImage *const *) reg_patterns->pdata,
                                            patterns->len, 16, margin, &error)))
        return mirada_cli_fail (error);
    }
  else if (!(patterns = run_patterns (model, layer, filters, &opts, cache, verbose, &error)) ||
           !(grid = mir_filter_grid ((MirImage *const *) patterns->pdata, patterns->len, 8, margin,
                                     &error)))
    return mirada_cli_fail (error);
  first = patterns->pdata[0];
  g_print (ngettext ("%u pattern for layer '%s' (%d×%d px, %d steps, %s)\n",
                     "%u patterns for layer '%s' (%d×%d px, %d steps, %s)\n", patterns->len),
           patterns->len,
           node->name, first->width, first->height, steps,
           compare ? _("plain above regularized")
                   : opts.method == MIR_FILTER_METHOD_SEED ? "plain" : "regularized");
  if (out_path && plain)
    {
      if (!mirada_figure_save_image (out_path, grid, &error))
        return mirada_cli_fail (error);
    }
  else if (out_path)
    {
      /* TRANSLATORS: title of mirada filters' figure: layer, method */
      g_autofree char *title = g_strdup_printf (_("Patterns the filters of “%s” respond to most (%s)"),
                                                node->name,
                                                compare ? _("plain above regularized")
                                                : opts.method == MIR_FILTER_METHOD_SEED
                                                ? _("plain gradient ascent") : _("regularized"));
      g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);
      gboolean ok;

      for (guint k = 0; !compare && k < patterns->len; k++)
        g_ptr_array_add (captions, g_strdup_printf ("%d", g_array_index (filters, gint, k)));
      /* captioned tiles (the plain/regularized pairs as the engine lays them out) */
      if (compare)
        ok = mirada_figure_tiles (out_path, title, &grid, NULL, 1, 1, 1.0, FALSE, &error);
      else
        ok = mirada_figure_tiles (out_path, title, (MirImage *const *) patterns->pdata,
                                  (const char *const *) captions->pdata, patterns->len, 8,
                                  MAX (1.0, 96.0 / MAX (first->width, 1)), TRUE, &error);
      if (!ok)
        return mirada_cli_fail (error);
    }
  return 0;
}
