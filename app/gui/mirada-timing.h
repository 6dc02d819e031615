/* mirada-timing.h: MIRADA_TIMING=1 prints, on standard error, when the
 * window's first frame and each detection result reached the screen
 * (build-aux/bench-first-boxes reads it; issue 23).  With
 * MIRADA_TIMING_STRIDE=S[,S…] the stride changes to each S in turn once the
 * complete result before it is on screen; the application quits after the
 * last complete result.  A measuring hook, not a feature: nothing is translated. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void mirada_timing_watch (GApplication *app,
                          GtkWindow    *window);

G_END_DECLS
