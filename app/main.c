/* main.c: `mirada COMMAND ...` dispatch through the command table. */
#define G_LOG_DOMAIN "mirada"

#include "config.h"

#include <locale.h>
#include <malloc.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#if MIRADA_WITH_GUI
#include "mirada-application.h"
#endif

static const MiradaCommand commands[] = {
  { "info", mirada_cmd_info, N_("Show a model's layers, output shapes and parameters") },
  { "predict", mirada_cmd_predict, N_("Classify images with a model") },
  { "bench", mirada_cmd_bench, N_("Time a model's forward pass, layer by layer") },
  { "detect", mirada_cmd_detect, N_("Find objects with a sliding window: thresholds and neighbourhood means") },
  { "gradcam", mirada_cmd_gradcam, N_("Explain a prediction: Grad-CAM, CAM, saliency") },
  { "activations", mirada_cmd_activations, N_("Show a layer's activations as a grid") },
  { "compare", mirada_cmd_compare, N_("Two models on the same photo, window by window") },
  { "explain-unit", mirada_cmd_explain_unit, N_("Explain one unit: its receptive field and its value, by hand") },
  { "filters", mirada_cmd_filters, N_("Show the patterns a layer's filters respond to most") },
  { "train", mirada_cmd_train, N_("Train a classifier and save it as Keras .h5") },
  { "evaluate", mirada_cmd_evaluate, N_("Measure a classifier on a labelled dataset") },
  { "scene", mirada_cmd_scene, N_("Compose demo scenes with ground truth") },
};

static void
print_help (void)
{
  g_print ("%s\n  mirada %s\n  mirada %s\n\n", _("Usage:"), _("[MODEL] [IMAGE]"),
           _("COMMAND [OPTION…] [ARGUMENT…]"));
  g_print ("%s\n", _("Without a command, Mirada opens its window (on the built-in model and demo "
                     "scene, or on MODEL and IMAGE; MODEL alone goes on the demo scene, IMAGE "
                     "alone under the built-in model)."));
  g_print ("%s\n\n", _("Mirada looks inside convolutional neural networks."));
  g_print ("%s\n", _("Commands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_print ("  %-13s %s\n", commands[i].name, _(commands[i].summary));
  g_print ("  %-13s %s\n", "help", _("Show the options of a command"));
  g_print ("\n%s\n", _("Options:"));
  g_print ("  %-14s %s\n", "-h, --help", _("Show this help"));
  g_print ("  %-14s %s\n", "--version", _("Show the version"));
  g_print ("\n%s\n", _("Run “mirada COMMAND --help” for the options of a command."));
}

static const MiradaCommand *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int
unknown_command (const char *name)
{
  g_autofree char *message = g_strdup_printf (_("Unknown command “%s”"), name);

  return mirada_cli_usage_error (NULL, message);
}

/* The build tree's compiled catalogues (build/po) when this binary is the
 * uninstalled build/app/mirada, so `build-aux/run` speaks the user's language
 * before anything is installed; NULL otherwise. */
static const char *
uninstalled_localedir (void)
{
  static char *dir;
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *exe_dir = exe != NULL ? g_path_get_dirname (exe) : NULL;
  g_autofree char *app_dir = g_build_filename (MIRADA_BUILD_ROOT, "app", NULL);

  if (dir != NULL)
    return dir;
  if (exe_dir == NULL || g_strcmp0 (exe_dir, app_dir) != 0)
    return NULL;
  dir = g_build_filename (MIRADA_BUILD_ROOT, "po", NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    g_clear_pointer (&dir, g_free);
  return dir;
}

int
main (int argc, char *argv[])
{
  const MiradaCommand *command;
  const char *localedir;

  /* Layer outputs and gradients are large buffers allocated and freed for
   * every batch; keeping them in the heap instead of mmap/munmap saves the
   * page faults of fresh memory (a training epoch: 67 -> 55 s). */
  mallopt (M_MMAP_THRESHOLD, 256 << 20);
  mallopt (M_TRIM_THRESHOLD, 512 << 20);
  mallopt (M_TOP_PAD, 64 << 20);

  setlocale (LC_ALL, "");
  /* MIRADA_LOCALEDIR: the build tree's compiled catalogues (build/po, set by
   * the tests and `meson devenv`), so translations work before installing. */
  localedir = g_getenv ("MIRADA_LOCALEDIR");
  if (localedir == NULL || *localedir == '\0')
    localedir = uninstalled_localedir ();
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("mirada");

  /* Without a command (or with files to open), the GUI. */
  if (argc < 2 ||
      (find_command (argv[1]) == NULL && strcmp (argv[1], "help") != 0 && argv[1][0] != '-' &&
       (g_file_test (argv[1], G_FILE_TEST_EXISTS) || g_str_has_prefix (argv[1], "arch:"))))
    {
#if MIRADA_WITH_GUI
      return mirada_gui_run (argc, argv);
#else
      /* -Dgui=false: a server build; say what works instead. */
      g_printerr ("mirada: %s\n", _("This Mirada was built without its window (-Dgui=false): "
                                     "give a command, for example “mirada detect MODEL IMAGE”."));
      g_printerr ("%s\n", _("Run “mirada --help” for the list of commands."));
      return 2;
#endif
    }

  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      print_help ();
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      g_print ("mirada %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (strcmp (argv[1], "help") == 0)
    {
      char *help_argv[3];

      if (argc < 3)
        {
          print_help ();
          return 0;
        }
      if (argc > 3)
        return mirada_cli_usage_error ("help", _("Give one command name"));
      command = find_command (argv[2]);
      if (command == NULL)
        return unknown_command (argv[2]);
      help_argv[0] = argv[2];
      help_argv[1] = (char *) "--help";
      help_argv[2] = NULL;
      return command->func (2, help_argv);
    }
  if (argv[1][0] == '-')
    {
      g_autofree char *message = g_strdup_printf (_("Unknown option %s"), argv[1]);
      return mirada_cli_usage_error (NULL, message);
    }

  command = find_command (argv[1]);
  if (command == NULL)
    return unknown_command (argv[1]);
  {
    int ret = command->func (argc - 1, argv + 1);

    /* after the results: "the model's input scaling was assumed" (a failure
     * stays one line) */
    mirada_cli_flush_note (ret == 0);
    return ret;
  }
}
