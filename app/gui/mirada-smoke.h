/* mirada-smoke.h: MIRADA_SMOKE=1 runs the window as a newcomer sees it and
 * quits once the boxes are on screen (CI's "be the new user" check). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* If MIRADA_SMOKE is set: watches @window until its canvas shows the
 * detector's boxes, writes a PNG of the window to $MIRADA_SMOKE_SCREENSHOT
 * (if set), prints one line and quits @app with exit status 0; after
 * $MIRADA_SMOKE_TIMEOUT seconds (default 120) without boxes it prints why
 * and quits with status 1. */
void mirada_smoke_watch (GApplication *app,
                         GtkWindow    *window);

G_END_DECLS
