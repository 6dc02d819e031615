/* mirada scene: demo scenes with ground truth from the Fashion-MNIST test split. */
#define G_LOG_DOMAIN "mirada-cmd-scene"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "mirada-cli.h"
#include "mirada-cli-util.h"
#include "mir-scene.h"

int
mirada_cmd_scene (int argc, char **argv)
{
  g_autofree char *out_dir = NULL, *data_dir = NULL, *prefix = NULL;
  int seed = 1, count = 1, items = 0;
  gboolean textured = FALSE, is_default = FALSE;
  GOptionEntry entries[] = {
    { "out-dir", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, N_("Write scenes here (required)"), N_("DIR") },
    { "default", 0, 0, G_OPTION_ARG_NONE, &is_default, N_("The default demo scene: two sneakers, two trousers, a bag and a T-shirt, like the two dogs and two cats of the original detector demo"), NULL },
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, N_("Number of scenes (default 1)"), N_("N") },
    { "items", 0, 0, G_OPTION_ARG_INT, &items, N_("Items per scene (default: 4 to 6 at random)"), N_("N") },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, N_("Random seed (default 1)"), N_("N") },
    { "textured", 0, 0, G_OPTION_ARG_NONE, &textured, N_("Textured instead of plain background"), NULL },
    { "prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, N_("File name prefix (default scene)"), N_("NAME") },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, N_("Fashion-MNIST folder (default: Debian's)"), N_("DIR") },
    { NULL }
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDataset) test = NULL;
  g_autoptr(GRand) rng = NULL;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (ctx, _("Compose demo scenes with ground truth: Fashion-MNIST items on a plain background, with a JSON file of their boxes."));
  {
    int parsed = mirada_cli_parse (ctx, "scene", &argc, &argv);

    if (parsed >= 0)
      return parsed;
  }
  if (out_dir == NULL || argc != 1)
    return mirada_cli_usage_error ("scene", _("--out-dir is required"));
  if (count < 1 || count > 10000 || items < 0 || items > MIR_SCENE_MAX_ITEMS)
    return mirada_cli_usage_error ("scene", _("--count must be 1..10000 and --items 0..32"));
  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    {
      g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_FAILED, _("Cannot create %s"), out_dir);
      return mirada_cli_fail (error);
    }
  /* only the TEST split: the built-in model never saw these items */
  test = mir_dataset_load_fashion_mnist (data_dir, FALSE, &error);
  if (test == NULL)
    return mirada_cli_fail (error);
  rng = g_rand_new_with_seed ((guint32) seed);

  for (int k = 0; k < count; k++)
    {
      MirSceneOptions o;
      g_autoptr(MirScene) scene = NULL;
      g_autofree char *base = NULL, *png = NULL, *json = NULL, *png_name = NULL, *text = NULL;

      mir_scene_options_init_default (&o);
      o.textured = textured;
      o.seed = (guint32) seed + (guint32) k;
      if (!is_default)
        {
          o.n_items = items > 0 ? (guint) items : (guint) g_rand_int_range (rng, 4, 7);
          /* two of one class and two of another, like the seed, then others */
          o.item_classes[0] = o.item_classes[1] = g_rand_int_range (rng, 0, 10);
          do
            o.item_classes[2] = g_rand_int_range (rng, 0, 10);
          while (o.item_classes[2] == o.item_classes[0]);
          o.item_classes[3] = o.item_classes[2];
          for (guint i = 4; i < o.n_items; i++)
            o.item_classes[i] = g_rand_int_range (rng, 0, 10);
        }
      scene = mir_scene_generate (test, &o, &error);
      if (scene == NULL)
        return mirada_cli_fail (error);
      base = count == 1 ? g_strdup (prefix ? prefix : "scene")
                        : g_strdup_printf ("%s-%03d", prefix ? prefix : "scene", k);
      png_name = g_strconcat (base, ".png", NULL);
      png = g_build_filename (out_dir, png_name, NULL);
      json = g_strconcat (out_dir, G_DIR_SEPARATOR_S, base, ".json", NULL);
      text = mir_scene_to_json (scene, png_name);
      if (!mirada_image_save_png (scene->image, png, &error) ||
          !mirada_output_write (json, text, strlen (text), &error))
        return mirada_cli_fail (error);
      g_print (ngettext ("%s: %u item\n", "%s: %u items\n", scene->objects->len), png,
               scene->objects->len);
    }
  return 0;
}
