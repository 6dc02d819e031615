/* mirada gradcam: explanation maps from the CLI (the GUI's Grad-CAM panel). */
#define G_LOG_DOMAIN "mirada-cmd-gradcam"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-figure.h"
#include "mirada-cli-util.h"
#include "mirada-export.h"
#include "mir-explain.h"
#include "mir-colormap.h"
#include "mirada-deletion-plot.h"

#include <json-glib/json-glib.h>

/* The engine's methods (engine/explain/mir-explain-methods.c). */
static const MirExplainMethod *methods;
static guint n_methods;

/* "gradcam (default), gradcam++, …" from the engine's table. */
static char *
method_help_text (void)
{
  g_autoptr(GString) ids = g_string_new (NULL);

  methods = mir_explain_get_methods (&n_methods);
  for (guint i = 0; i < n_methods; i++)
    g_string_append_printf (ids, "%s%s", i ? ", " : "", methods[i].id);
  return g_strdup_printf (_("One of %s (gradcam by default; random is a chance baseline); "
                            "several separated by commas"), ids->str);
}

/* The methods to run (indices into methods[]): --all-methods, or a
 * comma-separated --method. */
static GArray *
parse_methods (const char *spec, gboolean all, GError **error)
{
  g_autoptr(GArray) list = g_array_new (FALSE, FALSE, sizeof (guint));
  g_auto(GStrv) names = NULL;

  if (all)
    {
      for (guint i = 0; i < n_methods; i++)
        g_array_append_val (list, i);
      return g_steal_pointer (&list);
    }
  names = g_strsplit (spec ? spec : "gradcam", ",", -1);
  for (char **n = names; *n; n++)
    {
      const MirExplainMethod *found;
      guint i;

      g_strstrip (*n);
      if (!(found = mir_explain_find_method (*n, error)))
        return NULL;
      i = (guint) (found - methods);
      g_array_append_val (list, i);
    }
  return g_steal_pointer (&list);
}

/* The deletion curves as CSV: fraction,score,probability for one curve;
 * with several, a first "curve" column names each. */
static MiradaCsv *
deletion_csv (GPtrArray *faith, GPtrArray *labels)
{
  MiradaCsv *csv = mirada_csv_new ();
  gboolean labelled = faith->len != 1;

  if (labelled)
    mirada_csv_add_string (csv, "curve");
  mirada_csv_add_string (csv, "fraction");
  mirada_csv_add_string (csv, "score");
  mirada_csv_add_string (csv, "probability");
  mirada_csv_end_row (csv);
  for (guint c = 0; c < faith->len; c++)
    {
      const MirFaithfulness *f = faith->pdata[c];

      for (int i = 0; i <= f->n_steps; i++)
        {
          if (labelled)
            mirada_csv_add_string (csv, labels->pdata[c]);
          mirada_csv_add_double (csv, f->fractions[i], "%.6g");
          mirada_csv_add_double (csv, f->scores[i], "%.9g");
          mirada_csv_add_double (csv, f->probabilities[i], "%.9g");
          mirada_csv_end_row (csv);
        }
    }
  return csv;
}

static void
json_add_double (JsonBuilder *b, const char *member, double v)
{
  json_builder_set_member_name (b, member);
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b); /* JSON has no NaN or infinity */
}

/* A progress line on a terminal for the perturbation methods (Score-CAM
 * runs one masked image per channel). */
typedef struct
{
  const char *method;
  MiradaCliProgress line;
} Progress;

static void
progress_cb (guint done, guint total, gpointer user_data)
{
  Progress *p = user_data;

  if (!mirada_cli_progress_due (&p->line, done >= total))
    return;
  /* TRANSLATORS: mirada gradcam's progress line: method, images run, images, seconds */
  mirada_cli_progress_print (&p->line, _("%s: %u of %u images (%.0f s)"), p->method, done, total,
                             mirada_cli_progress_seconds (&p->line));
}

int
mirada_cmd_gradcam (int argc, char **argv)
{
  g_autofree char *method = NULL, *layer_name = NULL, *class_name = NULL, *cmap_name = NULL;
  g_autofree char *out_path = NULL, *raw_path = NULL, *csv_path = NULL, *labels = NULL;
  g_autofree char *preprocess = NULL, *deletion_csv_path = NULL, *window_spec = NULL;
  g_autofree char *deletion_png = NULL;
  gboolean all_classes = FALSE, complement = FALSE, blend = FALSE, json = FALSE;
  gboolean faithfulness = FALSE, all_methods = FALSE;
  double alpha = -1, keep = 0.2;
  gint patch = 0, stride = 0, samples = 0, steps = 20, seed = 1, max_channels = 0;
  g_autofree char *method_help = method_help_text ();
  GOptionEntry entries[] = {
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method, method_help, N_("METHOD[,…]") },
    { "all-methods", 0, 0, G_OPTION_ARG_NONE, &all_methods, N_("Every method (those that do not apply to the model are skipped)"), NULL },
    { "patch", 0, 0, G_OPTION_ARG_INT, &patch, N_("occlusion: patch side in pixels (default: input side / 8)"), N_("P") },
    { "stride", 0, 0, G_OPTION_ARG_INT, &stride, N_("occlusion: patch stride (default: P / 2)"), N_("S") },
    { "samples", 0, 0, G_OPTION_ARG_INT, &samples, N_("smoothgrad: noisy copies (default 25)"), N_("N") },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, N_("smoothgrad, random: random seed (default 1)"), N_("N") },
    { "max-channels", 0, 0, G_OPTION_ARG_INT, &max_channels, N_("scorecam: mask with only the N channels of largest spatial standard deviation (Faster Score-CAM; default 0: all channels, as the paper)"), N_("N") },
    { "faithfulness", 0, 0, G_OPTION_ARG_NONE, &faithfulness, N_("Print the score with only the top pixels kept and the deletion curve's area"), NULL },
    { "keep", 0, 0, G_OPTION_ARG_DOUBLE, &keep, N_("--faithfulness: fraction of the most salient pixels kept (default 0.2)"), N_("F") },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("--faithfulness: deletion curve steps (default 20)"), N_("N") },
    { "deletion-csv", 0, 0, G_OPTION_ARG_FILENAME, &deletion_csv_path, N_("Write the deletion curve (fraction, score, probability) as CSV; with several methods or classes, one labelled block per curve"), N_("FILE") },
    { "deletion-png", 0, 0, G_OPTION_ARG_FILENAME, &deletion_png, N_("Plot the deletion curves (one per method and class, areas in the legend): PNG, or SVG/PDF by the extension"), N_("FILE") },
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("Layer to explain (default: the last convolutional layer)"), N_("NAME") },
    { "class", 'c', 0, G_OPTION_ARG_STRING, &class_name, N_("Class to explain (default: the top prediction)"), N_("NAME|INDEX") },
    { "complement", 0, 0, G_OPTION_ARG_NONE, &complement, N_("Binary sigmoid models: explain 1 − P"), NULL },
    { "all-classes", 0, 0, G_OPTION_ARG_NONE, &all_classes, N_("One overlay per class, side by side (one row per method)"), NULL },
    { "colormap", 0, 0, G_OPTION_ARG_STRING, &cmap_name, N_("jet (default), viridis, inferno, magma, plasma, gray"), N_("NAME") },
    { "alpha", 'a', 0, G_OPTION_ARG_DOUBLE, &alpha, N_("Overlay strength (default 0.4 additive, 0.6 with --blend)"), N_("A") },
    { "blend", 0, 0, G_OPTION_ARG_NONE, &blend, N_("Blend as a matplotlib overlay (heat map over the photo) instead of the Keras example's sum"), NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the overlays, captioned (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "raw", 0, 0, G_OPTION_ARG_FILENAME, &raw_path, N_("Write the raw signed map as .npy (the first method and class)"), N_("FILE") },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv_path, N_("Write the raw signed map as CSV (the first method and class)"), N_("FILE") },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, N_("Class names, one per line"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"), N_("MODE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the result as JSON"), NULL },
    { "window", 'w', 0, G_OPTION_ARG_STRING, &window_spec, N_("Explain one window of the image, like a detector window (the GUI's selected window)"), N_("X,Y,W,H") },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (_("MODEL IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(GArray) run_methods = NULL;
  g_autoptr(GPtrArray) overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) faith = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_faithfulness_free);
  g_autoptr(GPtrArray) curve_labels = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) curve_baseline = g_array_new (FALSE, FALSE, sizeof (gboolean));
  g_autoptr(GString) report = g_string_new (NULL);
  g_autoptr(JsonBuilder) jb = NULL;
  g_autofree char *first_class = NULL;
  g_autoptr(MirExplainReuse) reuse = NULL;
  MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
  MirColormap cmap = MIR_COLORMAP_JET;
  guint n_classes = 1;
  double first_probability = 0;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx, _("Explain a prediction: which parts of the image made the model choose a class (Grad-CAM, CAM, saliency and more)."));
  {
    int parsed = mirada_cli_parse (ctx, "gradcam", &argc, &argv);

    if (parsed >= 0)
      return parsed;
  }
  if (argc != 3)
    return mirada_cli_usage_error ("gradcam", _("expected a MODEL and an IMAGE"));
  {
    const char *const outputs[] = { out_path, raw_path, csv_path, deletion_csv_path,
                                    deletion_png };
    int ret = mirada_cli_check_outputs ("gradcam", json, outputs, G_N_ELEMENTS (outputs));
    if (ret >= 0)
      return ret;
  }
  if (alpha < 0)
    alpha = blend ? 0.6 : 0.4;
  if (all_methods && method)
    return mirada_cli_usage_error ("gradcam", _("give either --method or --all-methods"));

  if (!(run_methods = parse_methods (method, all_methods, &error)) ||
      (cmap_name && !mir_colormap_from_name (cmap_name, &cmap, &error)))
    return mirada_cli_usage_error ("gradcam", error->message);
  if (!(alpha >= 0 && alpha <= 1))
    return mirada_cli_usage_error ("gradcam", _("--alpha must be between 0 and 1"));
  {
    int bad;

    /* Every count is bounded: a huge one would run for ever. */
    if ((bad = mirada_cli_check_range ("gradcam", "--samples", samples, 0, 10000)) >= 0 ||
        (bad = mirada_cli_check_range ("gradcam", "--max-channels", max_channels, 0, 1 << 20)) >= 0 ||
        (bad = mirada_cli_check_range ("gradcam", "--steps", steps, 1, 1000)) >= 0 ||
        (bad = mirada_cli_check_range ("gradcam", "--patch", patch, 0, MIR_IMAGE_MAX_SIDE)) >= 0 ||
        (bad = mirada_cli_check_range ("gradcam", "--stride", stride, 0, MIR_IMAGE_MAX_SIDE)) >= 0)
      return bad;
  }
  if (!(model = mirada_model_open (argv[1], labels, preprocess, NULL, &error)) ||
      !(image = mirada_image_load (argv[2], &error)))
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (model, argv[1]);
  if (window_spec != NULL)
    {
      int wx, wy, ww, wh;
      char extra;
      MirImage *crop;

      if (sscanf (window_spec, "%d,%d,%d,%d%c", &wx, &wy, &ww, &wh, &extra) != 4)
        return mirada_cli_usage_error ("gradcam", _("--window takes X,Y,W,H in pixels"));
      if (wx < 0 || wy < 0 || ww < 1 || wh < 1 || wx > image->width - ww || wy > image->height - wh)
        {
          g_set_error (&error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("The window %d,%d,%d,%d does not lie inside the %d×%d image"),
                       wx, wy, ww, wh, image->width, image->height);
          return mirada_cli_usage_error ("gradcam", error->message);
        }
      crop = mir_image_crop (image, wx, wy, ww, wh, &error);
      if (crop == NULL)
        return mirada_cli_fail (error);
      mir_image_unref (image);
      image = crop;
    }
  if (!(input = mir_image_prepare (image, model, &error)))
    return mirada_cli_fail (error);
  if (layer_name && (opts.layer = mirada_cli_find_layer (model, layer_name, &error)) < 0)
    return mirada_cli_fail (error);
  if (class_name && (opts.class_index = mirada_cli_parse_class (model, class_name, &error)) < 0)
    return mirada_cli_usage_error ("gradcam", error->message);
  opts.complement = complement;
  if (class_name && mir_model_is_binary_sigmoid (model) && opts.class_index <= 1)
    {
      /* class 1 is the unit's P, class 0 its complement */
      opts.complement = complement ^ (opts.class_index == 0);
      opts.class_index = 0;
    }
  if (patch < 0 || stride < 0 || samples < 0 || seed < 0)
    return mirada_cli_usage_error ("gradcam", _("--patch, --stride, --samples and --seed must be positive"));
  opts.patch = patch;
  opts.stride = stride;
  opts.samples = samples;
  opts.seed = (guint32) seed;
  opts.max_channels = max_channels;
  if (deletion_csv_path || deletion_png)
    faithfulness = TRUE;

  if (all_classes)
    {
      const MirShape *o = mir_model_get_output_shape (model, 0);
      gint64 k = o->dim[o->ndim - 1];
      n_classes = k == 1 ? 2 : (guint) k;
    }
  /* one input, one layer: Score-CAM's masked forwards serve every class */
  reuse = mir_explain_reuse_new ();
  opts.reuse = reuse;

  if (json)
    {
      jb = json_builder_new ();
      json_builder_begin_array (jb);
    }
  for (guint r = 0; r < run_methods->len * n_classes; r++)
    {
      guint m = g_array_index (run_methods, guint, r / n_classes), k = r % n_classes;
      g_autoptr(MirExplanation) e = NULL;
      g_autoptr(MirFaithfulness) f = NULL;
      g_autofree char *cname = NULL;
      MirImage *overlay;

      if (all_classes)
        {
          const MirShape *o = mir_model_get_output_shape (model, 0);
          gboolean binary = o->dim[o->ndim - 1] == 1;
          opts.class_index = binary ? 0 : (gint) k;
          opts.complement = binary && k == 1;
        }
      {
        Progress progress = { methods[m].id };

        mirada_cli_progress_begin (&progress.line);
        if (progress.line.on)
          {
            opts.progress = progress_cb;
            opts.progress_data = &progress;
          }
        e = methods[m].func (model, input, &opts, NULL, &error);
        opts.progress = NULL;
        mirada_cli_progress_end (&progress.line);
      }
      if (e == NULL && all_methods && g_error_matches (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED))
        {
          /* --all-methods: a method that cannot apply to this model (CAM
           * without a pooling head) is reported, not fatal. */
          if (k == 0 && json)
            {
              json_builder_begin_object (jb);
              json_builder_set_member_name (jb, "method");
              json_builder_add_string_value (jb, methods[m].id);
              json_builder_set_member_name (jb, "skipped");
              json_builder_add_string_value (jb, error->message);
              json_builder_end_object (jb);
            }
          else if (k == 0)
            g_string_append_printf (report, _("%s skipped: %s\n"), methods[m].id,
                                    error->message);
          g_clear_error (&error);
          continue;
        }
      if (e == NULL)
        return mirada_cli_fail (error);
      cname = mir_explanation_dup_class_name (model, e);
      if (first_class == NULL)
        {
          first_class = g_strdup (cname);
          first_probability = e->probability;
        }
      if (faithfulness)
        {
          f = mir_faithfulness_compute (model, input, e, keep, steps, NULL, &error);
          if (f == NULL)
            return mirada_cli_fail (error);
        }
      if (json)
        {
          json_builder_begin_object (jb);
          json_builder_set_member_name (jb, "method");
          json_builder_add_string_value (jb, e->method);
          json_builder_set_member_name (jb, "layer");
          mirada_cli_json_add_string (jb, e->layer_name);
          json_builder_set_member_name (jb, "class");
          json_builder_add_int_value (jb, e->class_index);
          json_builder_set_member_name (jb, "class_name");
          mirada_cli_json_add_string (jb, cname);
          json_builder_set_member_name (jb, "complement");
          json_builder_add_boolean_value (jb, e->complement);
          json_add_double (jb, "probability", e->probability);
          json_add_double (jb, "score", e->score);
          json_builder_set_member_name (jb, "width");
          json_builder_add_int_value (jb, e->width);
          json_builder_set_member_name (jb, "height");
          json_builder_add_int_value (jb, e->height);
          json_builder_set_member_name (jb, "notice");
          mirada_cli_json_add_string (jb, e->notice);
          if (f)
            {
              json_builder_set_member_name (jb, "faithfulness");
              json_builder_begin_object (jb);
              json_add_double (jb, "keep_fraction", f->keep_fraction);
              json_add_double (jb, "keep_score", f->keep_score);
              json_add_double (jb, "keep_probability", f->keep_probability);
              json_add_double (jb, "deletion_auc_score", f->auc_score);
              json_add_double (jb, "deletion_auc_probability", f->auc_probability);
              json_builder_end_object (jb);
            }
          json_builder_end_object (jb);
        }
      else
        {
          g_autofree char *shown = mirada_cli_printable (cname);

          g_string_append_printf (report, _("%s on layer '%s' (%d×%d) for %s (P = %.4f)\n"),
                                  e->method, e->layer_name, e->width, e->height, shown,
                                  e->probability);
          if (e->notice)
            g_string_append_printf (report, "  %s\n", e->notice);
          if (f)
            g_string_append_printf (report,
                                    _("  faithfulness: score %.4f (P = %.4f); top %.0f%% kept: "
                                      "score %.4f (change %+.4f, P = %.4f); deletion AUC: "
                                      "score %.4f, P %.4f (%d steps)\n"),
                                    f->score, f->probability, 100 * f->keep_fraction,
                                    f->keep_score, f->keep_score - f->score,
                                    f->keep_probability, f->auc_score, f->auc_probability,
                                    f->n_steps);
        }
      if (f)
        {
          gboolean baseline = (methods[m].flags & MIR_EXPLAIN_METHOD_BASELINE) != 0;

          if (run_methods->len > 1 && n_classes > 1)
            g_ptr_array_add (curve_labels, g_strdup_printf ("%s · %s", methods[m].id, cname));
          else if (n_classes > 1)
            g_ptr_array_add (curve_labels, g_strdup (cname));
          else
            g_ptr_array_add (curve_labels, g_strdup (methods[m].id));
          g_array_append_val (curve_baseline, baseline);
          g_ptr_array_add (faith, g_steal_pointer (&f));
        }
      if (overlays->len == 0 && raw_path &&
          !mirada_export_npy_2d (raw_path, e->raw, e->height, e->width, &error))
        return mirada_cli_fail (error);
      if (overlays->len == 0 && csv_path &&
          !mirada_export_csv_2d (csv_path, e->raw, e->height, e->width, &error))
        return mirada_cli_fail (error);
      overlay = mir_colormap_overlay (image, e->map, e->width, e->height, cmap, (float) alpha,
                                      !blend, &error);
      if (overlay == NULL)
        return mirada_cli_fail (error);
      g_ptr_array_add (overlays, overlay);
      /* TRANSLATORS: caption under an explanation, two lines: the class, then
       * the method and the class's probability */
      g_ptr_array_add (captions, g_strdup_printf (_("%s\n%s · P = %.3f"), cname, methods[m].id,
                                                  e->probability));
    }
  if (json)
    json_builder_end_array (jb);
  if (overlays->len == 0)
    {
      g_set_error (&error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("None of the methods applies to this model"));
      return mirada_cli_fail (error);
    }
  if (deletion_csv_path)
    {
      g_autoptr(MiradaCsv) csv = deletion_csv (faith, curve_labels);
      if (!mirada_csv_save (csv, deletion_csv_path, &error))
        return mirada_cli_fail (error);
    }
  if (deletion_png)
    {
      g_autofree MiradaDeletionCurve *curves = g_new0 (MiradaDeletionCurve, faith->len);
      g_autofree char *base = g_path_get_basename (argv[2]);
      g_autofree char *title = NULL;

      for (guint c = 0; c < faith->len; c++)
        {
          curves[c].label = curve_labels->pdata[c];
          curves[c].f = faith->pdata[c];
          curves[c].baseline = g_array_index (curve_baseline, gboolean, c);
        }
      if (n_classes > 1)
        title = g_strdup_printf (_("Deletion curves for every class of %s"), base);
      else
        title = g_strdup_printf (_("Deletion curve: %s in %s (P = %.3f)"), first_class, base,
                                 first_probability);
      if (!mirada_deletion_plot_png (deletion_png, title, curves, faith->len, &error))
        return mirada_cli_fail (error);
    }
  if (out_path)
    {
      guint columns = n_classes > 1 ? n_classes : MIN (overlays->len, 5);
      g_autofree char *base = g_filename_display_basename (argv[2]);
      /* TRANSLATORS: title of mirada gradcam's figure; %s is the image file */
      g_autofree char *title = g_strdup_printf (_("What the model looked at in %s"), base);

      /* captioned tiles: PNG, or SVG/PDF by the extension */
      if (!mirada_figure_tiles (out_path, title, (MirImage *const *) overlays->pdata,
                                (const char *const *) captions->pdata, overlays->len, columns, 1.0,
                                TRUE, &error))
        return mirada_cli_fail (error);
    }
  if (json)
    mirada_cli_json_print (jb);
  else
    g_print ("%s", report->str);
  return 0;
}
