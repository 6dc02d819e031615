/* mirada activations: seed 002's per-layer activation grid from the CLI. */
#define G_LOG_DOMAIN "mirada-cmd-activations"

#include "config.h"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-figure.h"
#include "mirada-cli-util.h"
#include "mir-activation-grid.h"

static gboolean
parse_norm (const char *s, MirGridNorm *out, GError **error)
{
  if (s == NULL || g_str_equal (s, "channel"))
    *out = MIR_GRID_NORM_CHANNEL;
  else if (g_str_equal (s, "layer"))
    *out = MIR_GRID_NORM_LAYER;
  else if (g_str_equal (s, "minmax"))
    *out = MIR_GRID_NORM_MINMAX;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unknown normalisation '%s' (use channel, layer or minmax)"), s);
      return FALSE;
    }
  return TRUE;
}

/* Dense / global-pooling outputs: a bar chart of the @top largest units. */
static MirImage *
bar_chart (const float *v, gint64 n, int top, GError **error)
{
  g_autofree gint64 *order = g_new (gint64, n);
  g_autoptr(MirImage) img = NULL;
  int bars = (int) MIN (n, (gint64) top), bw = 12, gap = 4, H = 160;
  float hi = 0;

  for (gint64 i = 0; i < n; i++)
    order[i] = i;
  /* partial selection sort: n is small (units of one layer) */
  for (int i = 0; i < bars; i++)
    for (gint64 j = i + 1; j < n; j++)
      if (v[order[j]] > v[order[i]])
        {
          gint64 t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
  for (int i = 0; i < bars; i++)
    hi = MAX (hi, ABS (v[order[i]]));
  img = mir_image_new (MAX (bars * (bw + gap) + gap, 16), H, 3, error);
  if (img == NULL)
    return NULL;
  memset (img->pixels, 255, img->rowstride * img->height);
  for (int i = 0; i < bars; i++)
    {
      int len = hi > 0 ? (int) (ABS (v[order[i]]) / hi * (H - 8)) : 0;
      for (int y = H - 4 - len; y < H - 4; y++)
        for (int x = gap + i * (bw + gap); x < gap + i * (bw + gap) + bw; x++)
          {
            guint8 *p = img->pixels + y * img->rowstride + 3 * x;
            const guint8 *c = mir_colormap_viridis[v[order[i]] >= 0 ? 180 : 40];
            p[0] = c[0];
            p[1] = c[1];
            p[2] = c[2];
          }
    }
  return g_steal_pointer (&img);
}

int
mirada_cmd_activations (int argc, char **argv)
{
  g_autofree char *layer_name = NULL, *norm_name = NULL, *cmap_name = NULL, *out_path = NULL;
  gboolean plain = FALSE;
  g_autofree char *labels = NULL, *preprocess = NULL;
  int per_row = 16, scale = 1, gap = MIR_GRID_GAP_DEFAULT, top = 20;
  gboolean stats_flag = FALSE;
  GOptionEntry entries[] = {
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("Layer to show (required)"), N_("NAME") },
    { "per-row", 0, 0, G_OPTION_ARG_INT, &per_row, N_("Channels per row (default 16)"), N_("N") },
    { "norm", 0, 0, G_OPTION_ARG_STRING, &norm_name, N_("channel (each channel on its own range, default), layer or minmax"), N_("MODE") },
    { "colormap", 0, 0, G_OPTION_ARG_STRING, &cmap_name, N_("viridis (default), jet, inferno, magma, plasma, gray"), N_("NAME") },
    { "scale", 0, 0, G_OPTION_ARG_INT, &scale, N_("Pixels per activation value (default 1)"), N_("N") },
    { "gap", 0, 0, G_OPTION_ARG_INT, &gap, N_("White pixels between channels, as in the window (default 2)"), N_("N") },
    /* the option's older name */
    { "margin", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &gap, NULL, NULL },
    { "top", 0, 0, G_OPTION_ARG_INT, &top, N_("Dense layers: units in the bar chart (default 20)"), N_("N") },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &stats_flag, N_("Print mean, max and fraction of zeros per channel"), NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the grid, captioned (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "plain", 0, 0, G_OPTION_ARG_NONE, &plain, N_("With --out: the bare grid, without title and captions (one pixel per value × --scale)"), NULL },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, N_("Class names, one per line"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"), N_("MODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (_("MODEL IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirImage) grid = NULL;
  g_autofree MirChannelStats *stats = NULL;
  MirGridOptions opts = MIR_GRID_OPTIONS_DEFAULT;
  MirTensor *act;
  gint layer;
  guint dead = 0;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx, _("Show a layer's activations as a grid: one tile per channel, normalised per channel or per layer."));
  {
    int parsed = mirada_cli_parse (ctx, "activations", &argc, &argv);

    if (parsed >= 0)
      return parsed;
  }
  if (argc != 3)
    return mirada_cli_usage_error ("activations", _("expected a MODEL and an IMAGE"));
  {
    const char *const outputs[] = { out_path };
    int out_ret = mirada_cli_check_outputs ("activations", FALSE, outputs, G_N_ELEMENTS (outputs));
    if (out_ret >= 0)
      return out_ret;
  }
  if (layer_name == NULL)
    return mirada_cli_usage_error ("activations", _("--layer is required"));
  {
    int bad;

    if ((bad = mirada_cli_check_range ("activations", "--per-row", per_row, 1, 1024)) >= 0 ||
          (bad = mirada_cli_check_range ("activations", "--scale", scale, 1, 64)) >= 0 ||
          (bad = mirada_cli_check_range ("activations", "--gap", gap, 0, 100)) >= 0 ||
          (bad = mirada_cli_check_range ("activations", "--top", top, 1, 1000)) >= 0)
      return bad;
  }
  if (!parse_norm (norm_name, &opts.norm, &error) ||
      (cmap_name && !mir_colormap_from_name (cmap_name, &opts.colormap, &error)))
    return mirada_cli_usage_error ("activations", error->message);
  opts.per_row = per_row;
  opts.scale = scale;
  opts.gap = gap;
  if (!(model = mirada_model_open (argv[1], labels, preprocess, NULL, &error)) ||
      !(image = mirada_image_load (argv[2], &error)) ||
      !(input = mir_image_prepare (image, model, &error)) ||
      (layer = mirada_cli_find_layer (model, layer_name, &error)) < 0 ||
      !(trace = mir_model_run (model, &input, 1, MIR_RUN_DEFAULT, layer, 0, NULL, &error)))
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  act = mir_trace_get (trace, (guint) layer);

  if (act->ndim == 4)
    {
      grid = mir_activation_grid (act, 0, &opts, &stats, &error);
      if (grid == NULL)
        return mirada_cli_fail (error);
    }
  else
    {
      if (top < 1 || top > 1000)
        return mirada_cli_usage_error ("activations", _("--top must be between 1 and 1000"));
      stats = mir_activation_stats (act, 0);
      grid = bar_chart (act->data, act->shape[act->ndim - 1], top, &error);
      if (grid == NULL)
        return mirada_cli_fail (error);
    }
  {
    gint64 c = act->shape[act->ndim - 1];
    g_autofree char *shape = mir_tensor_shape_string (act);
    for (gint64 k = 0; k < c; k++)
      dead += stats[k].dead;
    g_print (ngettext ("Layer '%s', output %s: %" PRId64 " channel, %u dead on this image\n",
                       "Layer '%s', output %s: %" PRId64 " channels, %u dead on this image\n",
                       (gulong) MIN (c, G_MAXULONG)),
             layer_name, shape, c, dead);
    if (stats_flag)
      {
        g_print ("%-8s %12s %12s %8s\n", _("channel"), _("mean"), _("max"), _("zeros"));
        for (gint64 k = 0; k < c; k++)
          g_print ("%-8" G_GINT64_FORMAT " %12.5g %12.5g %7.1f%%%s\n", k, stats[k].mean,
                   stats[k].max, 100.0 * stats[k].zero_fraction, stats[k].dead ? _(" dead") : "");
      }
  }
  if (out_path && plain)
    {
      if (!mirada_figure_save_image (out_path, grid, &error))
        return mirada_cli_fail (error);
    }
  else if (out_path)
    {
      g_autofree char *base = g_filename_display_basename (argv[2]);
      g_autofree char *shape = mir_tensor_shape_string (act);
      /* TRANSLATORS: title of mirada activations' figure: layer, its output shape, image file */
      g_autofree char *title = g_strdup_printf (_("Activations of “%s” %s on %s"), layer_name, shape,
                                                base);
      g_autoptr(GPtrArray) tiles = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
      g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);
      gboolean ok;

      if (act->ndim == 4 && act->shape[1] * opts.scale >= 12)
        {
          /* one captioned tile per channel, cut from the engine's grid */
          gint64 h = act->shape[1], w = act->shape[2], c = act->shape[3];

          for (gint64 k = 0; k < c; k++)
            {
              int x0, y0;
              MirImage *tile;

              mir_activation_grid_tile_origin (&opts, h, w, k, &x0, &y0);
              if (!(tile = mir_image_crop (grid, x0, y0, (int) (w * opts.scale),
                                           (int) (h * opts.scale), &error)))
                return mirada_cli_fail (error);
              g_ptr_array_add (tiles, tile);
              g_ptr_array_add (captions, stats[k].dead
                                         /* TRANSLATORS: caption of a channel that is zero everywhere */
                                         ? g_strdup_printf (_("%" PRId64 " (dead)"), k)
                                         : g_strdup_printf ("%" G_GINT64_FORMAT, k));
            }
          ok = mirada_figure_tiles (out_path, title, (MirImage *const *) tiles->pdata,
                                    (const char *const *) captions->pdata, tiles->len,
                                    (guint) opts.per_row, MAX (1.0, 64.0 / (w * opts.scale)),
                                    FALSE, &error);
        }
      else
        ok = mirada_figure_tiles (out_path, title, &grid, NULL, 1, 1, 1.0, FALSE, &error);
      if (!ok)
        return mirada_cli_fail (error);
    }
  return 0;
}
