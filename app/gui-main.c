/* gui-main.c: a GUI-only entry point for development (`mirada-gui`); the
 * `mirada` executable calls mirada_gui_run() when no subcommand is given. */
#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "mirada-application.h"

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  return mirada_gui_run (argc, argv);
}
