/* mirada-application.h: the GTK application (no subcommand given). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MIRADA_TYPE_APPLICATION (mirada_application_get_type ())
G_DECLARE_FINAL_TYPE (MiradaApplication, mirada_application, MIRADA, APPLICATION, AdwApplication)

MiradaApplication *mirada_application_new (void);

/* Runs the GUI; `mirada MODEL IMAGE` opens both.  Returns the exit status.
 * Called by main() when no CLI subcommand is given. */
int mirada_gui_run (int argc, char **argv);

G_END_DECLS
