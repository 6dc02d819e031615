/* mirada filters: seed 002's learned-filter patterns from the CLI. */
#define G_LOG_DOMAIN "mirada-cmd-filters"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mir-filter-pattern.h"

typedef struct
{
  GPtrArray *patterns;
  gboolean verbose;
} Collect;

static void
pattern_done_cb (guint index, gint filter, MirImage *pattern, double loss_start, double loss_end,
                 gpointer user_data)
{
  Collect *c = user_data;

  g_ptr_array_add (c->patterns, mir_image_ref (pattern));
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

int
mirada_cmd_filters (int argc, char **argv)
{
  g_autofree char *layer_name = NULL, *filters_spec = NULL, *method = NULL, *out_path = NULL;
  g_autofree char *preprocess = NULL;
  int size = 64, steps = 40, seed = 1, margin = 5, batch = 16;
  double step = 1.0;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("Layer whose filters to show (required)"), N_("NAME") },
    { "filters", 'f', 0, G_OPTION_ARG_STRING, &filters_spec, N_("Filters, e.g. 0-63 (default: the first 64)"), N_("LIST") },
    { "size", 's', 0, G_OPTION_ARG_INT, &size, N_("Pattern size for models with a free input size (default 64)"), N_("PX") },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("Gradient-ascent steps (default 40)"), N_("N") },
    { "step", 0, 0, G_OPTION_ARG_DOUBLE, &step, N_("Step size (default 1)"), N_("X") },
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method, N_("seed (default) or regularized"), N_("METHOD") },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, N_("Noise seed"), N_("N") },
    { "margin", 0, 0, G_OPTION_ARG_INT, &margin, N_("Pixels between patterns (default 5)"), N_("PX") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Filters optimised together (default 16)"), N_("N") },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Print the loss of every filter"), NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the grid PNG here"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"), N_("MODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (_("MODEL — learned-filter patterns"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GArray) filters = NULL;
  g_autoptr(MirImage) grid = NULL;
  Collect collect = { g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref), FALSE };
  MirFilterOptions opts = MIR_FILTER_OPTIONS_DEFAULT;
  MirNode *node;
  gint layer;
  gint64 units;
  int status = 0;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      status = mirada_cli_usage_error ("filters", error->message);
      goto out;
    }
  if (argc != 2 || layer_name == NULL)
    {
      status = mirada_cli_usage_error ("filters", _("expected a MODEL and --layer NAME"));
      goto out;
    }
  if (method == NULL || g_str_equal (method, "seed"))
    opts.method = MIR_FILTER_METHOD_SEED;
  else if (g_str_equal (method, "regularized") || g_str_equal (method, "regularised"))
    opts.method = MIR_FILTER_METHOD_REGULARIZED;
  else
    {
      status = mirada_cli_usage_error ("filters", _("--method is seed or regularized"));
      goto out;
    }
  opts.size = size;
  opts.steps = steps;
  opts.step = (float) step;
  opts.seed = (guint32) seed;
  opts.batch = batch;
  collect.verbose = verbose;

  if (!(model = mirada_cli_load_model (argv[1], NULL, preprocess, NULL, &error)) ||
      (layer = mirada_cli_find_layer (model, layer_name, &error)) < 0)
    {
      status = mirada_cli_fail (error);
      goto out;
    }
  node = mir_model_get_node (model, (guint) layer);
  units = node->shape.dim[node->shape.ndim - 1];
  if (filters_spec)
    filters = parse_filters (filters_spec, units, &error);
  else
    {
      g_autofree char *def = g_strdup_printf ("0-%" G_GINT64_FORMAT, MIN (units, 64) - 1);
      filters = parse_filters (def, units, &error);
    }
  if (filters == NULL ||
      !mir_filter_patterns (model, layer, (const gint *) (void *) filters->data, filters->len, &opts,
                            pattern_done_cb, &collect, NULL, &error) ||
      !(grid = mir_filter_grid ((MirImage *const *) collect.patterns->pdata, collect.patterns->len,
                                8, margin, &error)))
    {
      status = mirada_cli_fail (error);
      goto out;
    }
  g_print (_("%u patterns for layer '%s' (%d×%d px, %d steps, %s)\n"), collect.patterns->len,
           layer_name, ((MirImage *) collect.patterns->pdata[0])->width,
           ((MirImage *) collect.patterns->pdata[0])->height, steps,
           opts.method == MIR_FILTER_METHOD_SEED ? "seed" : "regularized");
  if (out_path && !mirada_image_save_png (grid, out_path, &error))
    status = mirada_cli_fail (error);
out:
  g_ptr_array_unref (collect.patterns);
  return status;
}
