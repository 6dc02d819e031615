/* mirada-compare-view.h: a second model on the same photo (issue 19, "two
 * models side by side"): its own session and canvas beside the window's,
 * zoom, pan and selection shared, the detector's settings applied to both,
 * the windows coloured by agreement (mirada-compare.h, as `mirada compare`
 * counts it) and both models' Grad-CAM of the selected window. */
#pragma once

#include <gtk/gtk.h>

#include "mirada-canvas.h"
#include "mirada-compare.h"
#include "mirada-session.h"
#include "mirada-window.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_COMPARE_VIEW (mirada_compare_view_get_type ())
G_DECLARE_FINAL_TYPE (MiradaCompareView, mirada_compare_view, MIRADA, COMPARE_VIEW, GtkBox)

/* Follows @session_a (image, geometry, filter parameters) and @canvas_a
 * (view, selection, presentation). */
MiradaCompareView *mirada_compare_view_new          (MiradaSession *session_a,
                                                     MiradaCanvas  *canvas_a);
/* Moves @stack (the widget showing canvas A, a child of @area) into the
 * view's left half and puts the view in its place; close puts it back. */
void               mirada_compare_view_attach       (MiradaCompareView *self,
                                                     GtkBox            *area,
                                                     GtkWidget         *stack);
/* Detaches (see attach) and emits ::closed. */
void               mirada_compare_view_close        (MiradaCompareView *self);
/* Model B: a file (on a worker, as the window opens models), or a spec
 * "arch:NAME[,…]" (the applications the CLI builds). */
void               mirada_compare_view_open_model   (MiradaCompareView *self,
                                                     GFile             *file);
void               mirada_compare_view_open_spec    (MiradaCompareView *self,
                                                     const char        *spec);
MiradaSession     *mirada_compare_view_get_session  (MiradaCompareView *self);
MiradaCanvas      *mirada_compare_view_get_canvas   (MiradaCompareView *self);
/* The agreement of the two grids shown, or NULL while either is missing. */
const MiradaCompare *mirada_compare_view_get_compare (MiradaCompareView *self);
const char        *mirada_compare_view_get_agreement_text (MiradaCompareView *self);
const char        *mirada_compare_view_get_selection_text (MiradaCompareView *self);
/* The diff colours on both canvases. */
void               mirada_compare_view_set_diff     (MiradaCompareView *self,
                                                     gboolean           diff);
/* "Separate thresholds": B's classes keep their own thresholds (the
 * popover's sliders) instead of those of A's classes of the same name; the
 * other settings still apply to both. */
void               mirada_compare_view_set_separate (MiradaCompareView *self,
                                                     gboolean           separate);
/* B's own threshold slider for its class @class_index, or NULL. */
GtkAdjustment     *mirada_compare_view_get_threshold_adjustment (MiradaCompareView *self,
                                                                 guint              class_index);
/* Grad-CAM of the selected window: running, and the two maps (0: A, 1: B). */
gboolean           mirada_compare_view_get_explaining (MiradaCompareView *self);
GdkPaintable      *mirada_compare_view_get_explanation (MiradaCompareView *self,
                                                        guint              which);

/* The window's side (mirada-window-compare.c): the view, opening @file as
 * model B (NULL: the built-in model), or NULL without a photo. */
MiradaCompareView *mirada_window_compare_with       (MiradaWindow *window,
                                                     GFile        *file);
MiradaCompareView *mirada_window_get_compare_view   (MiradaWindow *window);
/* Smoke mode: MIRADA_SMOKE_COMPARE=MODEL opens MODEL as model B, then
 * MIRADA_SMOKE_COMPARE_SELECT=ROW,COL selects that window and
 * MIRADA_SMOKE_COMPARE_DIFF=1 colours the windows by agreement.  Call until
 * it returns TRUE (done, or nothing asked). */
gboolean           _mirada_window_compare_smoke_step (MiradaWindow *window);

G_END_DECLS
