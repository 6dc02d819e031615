/* mirada compare: two models on the same photo, window by window (issue 19,
 * "two models side by side"): each window's top-1 class and probability
 * under both, and how often they agree. */
#define G_LOG_DOMAIN "mirada-cmd-compare"

#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli-util.h"
#include "mirada-compare.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "detect/mir-detect.h"

static const char *
name_of (const MirDetectGrid *g, guint c)
{
  return g->class_names != NULL ? g->class_names[c] : NULL;
}

int
mirada_cmd_compare (int argc, char **argv)
{
  g_autofree char *labels_a = NULL, *labels_b = NULL;
  int window = 150, stride = 40;
  gboolean json = FALSE, all = FALSE;
  GOptionEntry entries[] = {
    { "window", 'w', 0, G_OPTION_ARG_INT, &window, N_("Window side in pixels (default 150)"), N_("PX") },
    { "stride", 's', 0, G_OPTION_ARG_INT, &stride, N_("Step between windows (default 40)"), N_("PX") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all,
      N_("List every window in the text output, not only those where the models disagree"), NULL },
    { "labels-a", 0, 0, G_OPTION_ARG_FILENAME, &labels_a, N_("Class names of the first model"), N_("FILE") },
    { "labels-b", 0, 0, G_OPTION_ARG_FILENAME, &labels_b, N_("Class names of the second model"), N_("FILE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL_A MODEL_B IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) ma = NULL, mb = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirDetectGrid) ga = NULL, gb = NULL;
  g_autoptr(MiradaCompare) cmp = NULL;
  MirDetectGeometry geom;
  guint n, agree;
  int ret;

  g_option_context_set_summary (
    context, _("Classify every window of IMAGE with two models and compare them: each window's "
               "most probable class and its probability under both, and how often they agree "
               "(classes are matched by name)."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "compare", &argc, &argv);
  if (ret >= 0)
    return ret;
  if (argc != 4)
    return mirada_cli_usage_error ("compare", _("expected MODEL_A, MODEL_B and an IMAGE"));
  if ((ret = mirada_cli_check_range ("compare", "--window", window, 1, MIR_IMAGE_MAX_SIDE)) >= 0 ||
      (ret = mirada_cli_check_range ("compare", "--stride", stride, 1, MIR_IMAGE_MAX_SIDE)) >= 0)
    return ret;
  if (!(ma = mirada_model_open (argv[1], labels_a, NULL, NULL, &error)) ||
      !(mb = mirada_model_open (argv[2], labels_b, NULL, NULL, &error)) ||
      !(image = mirada_image_load (argv[3], &error)) ||
      !mir_detect_geometry_init (&geom, image->width, image->height, window, stride, FALSE, &error) ||
      !(ga = mir_detect_classify (ma, image, &geom, 0, NULL, NULL, NULL, &error)) ||
      !(gb = mir_detect_classify (mb, image, &geom, 0, NULL, NULL, NULL, &error)) ||
      !(cmp = mirada_compare_grids (ga, gb, &error)))
    return mirada_cli_fail (error);
  mirada_cli_note_preprocess (ma, argv[1]);
  mirada_cli_note_preprocess (mb, argv[2]);

  /* the window's diff view counts with the same function */
  n = cmp->n_windows;
  agree = cmp->n_agree;

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "window");
      json_builder_add_int_value (b, window);
      json_builder_set_member_name (b, "stride");
      json_builder_add_int_value (b, stride);
      json_builder_set_member_name (b, "grid");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, geom.rows);
      json_builder_add_int_value (b, geom.cols);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "agreement");
      json_builder_add_double_value (b, mirada_compare_rate (cmp));
      json_builder_set_member_name (b, "windows");
      json_builder_begin_array (b);
      for (guint w = 0; w < n; w++)
        {
          const MirDetectGrid *g[2] = { ga, gb };
          int x, y, side;

          mir_detect_geometry_window_rect (&geom, w, &x, &y, &side);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "index");
          json_builder_add_int_value (b, w);
          json_builder_set_member_name (b, "box");
          json_builder_begin_array (b);
          json_builder_add_int_value (b, x);
          json_builder_add_int_value (b, y);
          json_builder_add_int_value (b, side);
          json_builder_add_int_value (b, side);
          json_builder_end_array (b);
          for (int m = 0; m < 2; m++)
            {
              guint c = m == 0 ? cmp->top_a[w] : cmp->top_b[w];

              json_builder_set_member_name (b, m == 0 ? "a" : "b");
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "class");
              json_builder_add_int_value (b, c);
              json_builder_set_member_name (b, "label");
              mirada_cli_json_add_string (b, name_of (g[m], c));
              json_builder_set_member_name (b, "probability");
              json_builder_add_double_value (b, g[m]->probs[(gsize) w * g[m]->n_classes + c]);
              json_builder_set_member_name (b, "probabilities");
              json_builder_begin_array (b);
              for (guint k = 0; k < g[m]->n_classes; k++)
                json_builder_add_double_value (b, g[m]->probs[(gsize) w * g[m]->n_classes + k]);
              json_builder_end_array (b);
              json_builder_end_object (b);
            }
          json_builder_set_member_name (b, "agree");
          json_builder_add_boolean_value (b, cmp->agree[w]);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      mirada_cli_json_print (b);
      return 0;
    }

  g_print (_("%u windows of %d px every %d px (%d×%d); the models agree on %u (%.1f%%)\n"), n,
           window, stride, geom.rows, geom.cols, agree, n > 0 ? 100.0 * agree / n : 0.0);
  for (guint w = 0; w < n; w++)
    {
      guint a = cmp->top_a[w], c = cmp->top_b[w];
      gboolean same = cmp->agree[w];
      g_autofree char *na = NULL, *nb = NULL;
      int x, y, side;

      if (same && !all)
        continue;
      mir_detect_geometry_window_rect (&geom, w, &x, &y, &side);
      na = mirada_cli_printable_padded (name_of (ga, a) ? name_of (ga, a) : "", 16);
      nb = mirada_cli_printable_padded (name_of (gb, c) ? name_of (gb, c) : "", 16);
      g_print ("  %4u  (%4d, %4d)  %s %6.4f   %s %6.4f  %s\n", w, x, y, na,
               ga->probs[(gsize) w * ga->n_classes + a], nb,
               gb->probs[(gsize) w * gb->n_classes + c], same ? "=" : "≠");
    }
  return 0;
}
