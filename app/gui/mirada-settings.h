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

G_END_DECLS
