/* mir-test-gui.h: the start and end the window's tests share (their own
 * settings and test functions come between). */
#pragma once

#include <adwaita.h>

#include "mirada-application.h"

G_BEGIN_DECLS

/* Before anything reads the environment: a home of the run's own
 * (mir_test_private_home (@prefix), returned: pass it to
 * mir_test_gui_finish()), GTK and libadwaita initialised, animations off.
 * libadwaita 1.2's AdwFlap animates folding and revealing; a window made
 * while the machine was busy got a NaN progress from those animations and
 * allocated its content INT_MIN wide (tests/test-layout.c: 4 runs in 25
 * under load).  The tests check states and sizes, not animations. */
char              *mir_test_gui_init   (const char *prefix);

/* The application, registered (asserts). */
MiradaApplication *mir_test_gui_app    (void);

/* The end of main(): no job left inside the engine (as the application's
 * shutdown waits), the application released, @root removed and freed;
 * either may be NULL. */
void               mir_test_gui_finish (MiradaApplication **app, char *root);

G_END_DECLS
