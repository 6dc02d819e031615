#include "config.h"

#include <locale.h>
#include <glib/gi18n.h>

#include "mir.h"

int
main (int argc, char *argv[])
{
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_print ("%s\n", _("Mirada"));
  return 0;
}
