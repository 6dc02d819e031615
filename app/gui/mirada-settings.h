/* mirada-settings.h: GSettings helpers shared by the window's panels. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Binds a string key whose value is one of @choices (NULL-terminated, static)
 * to an unsigned property such as GtkDropDown:selected (the index). */
void mirada_settings_bind_choice (GSettings          *settings,
                                  const char         *key,
                                  gpointer            object,
                                  const char         *property,
                                  const char *const  *choices);

/* Makes sure g_settings_new (APPLICATION_ID) finds a schema with every key
 * this build reads: the installed one if it is complete, else the copy
 * compiled into the binary (written to the user's cache folder and put
 * first on GSETTINGS_SCHEMA_DIR).  Call before anything uses GSettings. */
gboolean mirada_settings_ensure_schema (GError **error);

G_END_DECLS
