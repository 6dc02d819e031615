/* mirada gradcam: explanation maps from the CLI (the GUI's Grad-CAM panel). */
#define G_LOG_DOMAIN "mirada-cmd-gradcam"

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-export.h"
#include "mir-explain.h"
#include "mir-colormap.h"

typedef MirExplanation *(*ExplainFunc) (MirModel *, MirTensor *, const MirExplainOptions *,
                                        GCancellable *, GError **);

static const struct
{
  const char *name;
  ExplainFunc func;
} methods[] = {
  { "gradcam", mir_explain_gradcam },
  { "gradcam++", mir_explain_gradcam_plusplus },
  { "hirescam", mir_explain_hirescam },
  { "xgradcam", mir_explain_xgradcam },
  { "layercam", mir_explain_layercam },
  { "scorecam", mir_explain_scorecam },
  { "eigencam", mir_explain_eigencam },
  { "cam", mir_explain_cam },
  { "saliency", mir_explain_saliency },
  { "gradients", mir_explain_gradients },
  { "smoothgrad", mir_explain_smoothgrad },
  { "guided", mir_explain_guided_backprop },
  { "guided-gradcam", mir_explain_guided_gradcam },
  { "occlusion", mir_explain_occlusion },
};

static ExplainFunc
lookup_method (const char *name, GError **error)
{
  g_autoptr(GString) known = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      if (g_strcmp0 (methods[i].name, name) == 0)
        return methods[i].func;
      g_string_append_printf (known, "%s%s", i ? ", " : "", methods[i].name);
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown explanation method '%s' (available: %s)"), name, known->str);
  return NULL;
}

static MirImage *
side_by_side (GPtrArray *images, GError **error)
{
  int w = 0, h = 0, x = 0;
  g_autoptr(MirImage) out = NULL;

  for (guint i = 0; i < images->len; i++)
    {
      MirImage *im = images->pdata[i];
      w += im->width + (i ? 8 : 0);
      h = MAX (h, im->height);
    }
  out = mir_image_new (w, h, 3, error);
  if (out == NULL)
    return NULL;
  memset (out->pixels, 255, out->rowstride * out->height);
  for (guint i = 0; i < images->len; i++)
    {
      MirImage *im = images->pdata[i];
      for (int y = 0; y < im->height; y++)
        memcpy (out->pixels + y * out->rowstride + 3 * x, im->pixels + y * im->rowstride,
                (gsize) im->width * 3);
      x += im->width + 8;
    }
  return g_steal_pointer (&out);
}

int
mirada_cmd_gradcam (int argc, char **argv)
{
  g_autofree char *method = NULL, *layer_name = NULL, *class_name = NULL, *cmap_name = NULL;
  g_autofree char *out_path = NULL, *raw_path = NULL, *csv_path = NULL, *labels = NULL;
  g_autofree char *preprocess = NULL, *deletion_csv = NULL, *window_spec = NULL;
  gboolean all_classes = FALSE, complement = FALSE, blend = FALSE, json = FALSE;
  gboolean faithfulness = FALSE;
  double alpha = -1, keep = 0.2;
  gint patch = 0, stride = 0, samples = 0, steps = 20;
  GOptionEntry entries[] = {
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method, N_("gradcam (default), gradcam++, hirescam, xgradcam, layercam, scorecam, eigencam, cam, saliency, gradients, smoothgrad, guided, guided-gradcam or occlusion"), N_("METHOD") },
    { "patch", 0, 0, G_OPTION_ARG_INT, &patch, N_("occlusion: patch side in pixels (default: input side / 8)"), N_("P") },
    { "stride", 0, 0, G_OPTION_ARG_INT, &stride, N_("occlusion: patch stride (default: P / 2)"), N_("S") },
    { "samples", 0, 0, G_OPTION_ARG_INT, &samples, N_("smoothgrad: noisy copies (default 25)"), N_("N") },
    { "faithfulness", 0, 0, G_OPTION_ARG_NONE, &faithfulness, N_("Print the score with only the top pixels kept and the deletion curve's area"), NULL },
    { "keep", 0, 0, G_OPTION_ARG_DOUBLE, &keep, N_("--faithfulness: fraction of the most salient pixels kept (default 0.2)"), N_("F") },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps, N_("--faithfulness: deletion curve steps (default 20)"), N_("N") },
    { "deletion-csv", 0, 0, G_OPTION_ARG_FILENAME, &deletion_csv, N_("Write the deletion curve (fraction, score, probability) as CSV"), N_("FILE") },
    { "layer", 'l', 0, G_OPTION_ARG_STRING, &layer_name, N_("Layer to explain (default: the last convolutional layer)"), N_("NAME") },
    { "class", 'c', 0, G_OPTION_ARG_STRING, &class_name, N_("Class to explain (default: the top prediction)"), N_("NAME|INDEX") },
    { "complement", 0, 0, G_OPTION_ARG_NONE, &complement, N_("Binary sigmoid models: explain 1 − P"), NULL },
    { "all-classes", 0, 0, G_OPTION_ARG_NONE, &all_classes, N_("One overlay per class, side by side"), NULL },
    { "colormap", 0, 0, G_OPTION_ARG_STRING, &cmap_name, N_("jet (default), viridis, inferno, magma, plasma, gray"), N_("NAME") },
    { "alpha", 'a', 0, G_OPTION_ARG_DOUBLE, &alpha, N_("Overlay strength (default 0.4 additive, 0.6 with --blend)"), N_("A") },
    { "blend", 0, 0, G_OPTION_ARG_NONE, &blend, N_("Blend like seed 001's matplotlib overlay instead of the Keras example's sum"), NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write the overlay PNG here"), N_("FILE") },
    { "raw", 0, 0, G_OPTION_ARG_FILENAME, &raw_path, N_("Write the raw signed map as .npy"), N_("FILE") },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv_path, N_("Write the raw signed map as CSV"), N_("FILE") },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, N_("Class names, one per line"), N_("FILE") },
    { "preprocess", 0, 0, G_OPTION_ARG_STRING, &preprocess, N_("none, scale, tf, caffe or torch"), N_("MODE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the result as JSON"), NULL },
    { "window", 'w', 0, G_OPTION_ARG_STRING, &window_spec, N_("Explain one window of the image, like a detector window (the GUI's selected window)"), N_("X,Y,W,H") },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (_("MODEL IMAGE — explain a prediction"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(GPtrArray) overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(GString) report = g_string_new (NULL);
  MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
  MirColormap cmap = MIR_COLORMAP_JET;
  ExplainFunc func;
  guint n_runs = 1;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return mirada_cli_usage_error ("gradcam", error->message);
  if (argc != 3)
    return mirada_cli_usage_error ("gradcam", _("expected a MODEL and an IMAGE"));
  if (alpha < 0)
    alpha = blend ? 0.6 : 0.4;

  if (!(func = lookup_method (method ? method : "gradcam", &error)) ||
      (cmap_name && !mir_colormap_from_name (cmap_name, &cmap, &error)))
    return mirada_cli_fail (error);
  if (!(alpha >= 0 && alpha <= 1))
    return mirada_cli_usage_error ("gradcam", _("--alpha must be between 0 and 1"));
  if (!(model = mirada_cli_load_model (argv[1], labels, preprocess, NULL, &error)) ||
      !(image = mirada_image_load (argv[2], &error)))
    return mirada_cli_fail (error);
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
          return mirada_cli_fail (error);
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
    return mirada_cli_fail (error);
  opts.complement = complement;
  if (patch < 0 || stride < 0 || samples < 0)
    return mirada_cli_usage_error ("gradcam", _("--patch, --stride and --samples must be positive"));
  opts.patch = patch;
  opts.stride = stride;
  opts.samples = samples;
  if (deletion_csv)
    faithfulness = TRUE;

  if (all_classes)
    {
      const MirShape *o = mir_model_get_output_shape (model, 0);
      gint64 k = o->dim[o->ndim - 1];
      n_runs = k == 1 ? 2 : (guint) k;
    }

  if (json)
    g_string_append (report, "[");
  for (guint r = 0; r < n_runs; r++)
    {
      g_autoptr(MirExplanation) e = NULL;
      g_autoptr(MirFaithfulness) f = NULL;
      g_autofree char *cname = NULL;
      MirImage *overlay;

      if (all_classes)
        {
          const MirShape *o = mir_model_get_output_shape (model, 0);
          gboolean binary = o->dim[o->ndim - 1] == 1;
          opts.class_index = binary ? 0 : (gint) r;
          opts.complement = binary && r == 1;
        }
      e = func (model, input, &opts, NULL, &error);
      if (e == NULL)
        return mirada_cli_fail (error);
      cname = mirada_cli_class_name (model, (guint) e->class_index);
      if (e->complement)
        {
          char *c = g_strdup_printf (_("not %s"), cname);
          g_free (cname);
          cname = c;
        }
      if (faithfulness)
        {
          f = mir_faithfulness_compute (model, input, e, keep, steps, NULL, &error);
          if (f == NULL)
            return mirada_cli_fail (error);
        }
      if (json)
        {
          g_string_append_printf (report,
                                  "%s{\"method\": \"%s\", \"layer\": \"%s\", \"class\": %d, "
                                  "\"class_name\": \"%s\", \"complement\": %s, \"probability\": %.6g, "
                                  "\"score\": %.6g, \"width\": %d, \"height\": %d, \"notice\": %s%s%s",
                                  r ? ", " : "", e->method, e->layer_name, e->class_index, cname,
                                  e->complement ? "true" : "false", e->probability, e->score,
                                  e->width, e->height, e->notice ? "\"" : "",
                                  e->notice ? e->notice : "null", e->notice ? "\"" : "");
          if (f)
            g_string_append_printf (report,
                                    ", \"faithfulness\": {\"keep_fraction\": %.6g, "
                                    "\"keep_score\": %.6g, \"keep_probability\": %.6g, "
                                    "\"deletion_auc_score\": %.6g, "
                                    "\"deletion_auc_probability\": %.6g}",
                                    f->keep_fraction, f->keep_score, f->keep_probability,
                                    f->auc_score, f->auc_probability);
          g_string_append (report, "}");
        }
      else
        {
          g_string_append_printf (report, _("%s on layer '%s' (%d×%d) for %s (P = %.4f)\n"),
                                  e->method, e->layer_name, e->width, e->height, cname,
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
      if (r == 0 && f && deletion_csv)
        {
          g_autoptr(GString) csv = g_string_new ("fraction,score,probability\n");
          for (int i = 0; i <= f->n_steps; i++)
            g_string_append_printf (csv, "%.6g,%.9g,%.9g\n", f->fractions[i], f->scores[i],
                                    f->probabilities[i]);
          if (!g_file_set_contents (deletion_csv, csv->str, (gssize) csv->len, &error))
            return mirada_cli_fail (error);
        }
      if (r == 0 && raw_path && !mirada_export_npy_2d (raw_path, e->raw, e->height, e->width, &error))
        return mirada_cli_fail (error);
      if (r == 0 && csv_path && !mirada_export_csv_2d (csv_path, e->raw, e->height, e->width, &error))
        return mirada_cli_fail (error);
      overlay = mir_colormap_overlay (image, e->map, e->width, e->height, cmap, (float) alpha,
                                      !blend, &error);
      if (overlay == NULL)
        return mirada_cli_fail (error);
      g_ptr_array_add (overlays, overlay);
    }
  if (json)
    g_string_append (report, "]\n");
  if (out_path)
    {
      g_autoptr(MirImage) all = side_by_side (overlays, &error);
      if (all == NULL || !mirada_image_save_png (all, out_path, &error))
        return mirada_cli_fail (error);
    }
  g_print ("%s", report->str);
  return 0;
}
