/* mirada-detector-panel.h: the detector's controls (window grid, method,
 * per-class threshold and exception factor) and live counts per class. */
#pragma once

#include <adwaita.h>

#include "detect/mir-detect.h"
#include "mirada-session.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_DETECTOR_PANEL (mirada_detector_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaDetectorPanel, mirada_detector_panel, MIRADA, DETECTOR_PANEL, GtkBox)

/* Follows @session (or none): pushes the geometry and the filter's
 * parameters into it, shows its counts, note and geometry. */
void     mirada_detector_panel_set_session   (MiradaDetectorPanel *self,
                                              MiradaSession       *session);
/* Rebuilds one row per class (@names: one per class). */
void     mirada_detector_panel_set_classes   (MiradaDetectorPanel *self,
                                              guint                n_classes,
                                              const char *const   *names);
guint    mirada_detector_panel_get_n_classes (MiradaDetectorPanel *self);
gint     mirada_detector_panel_get_background_class (MiradaDetectorPanel *self);
const char *mirada_detector_panel_get_background_note (MiradaDetectorPanel *self);
/* FALSE in method 1, which has no filter 2 */
gboolean mirada_detector_panel_get_exception_sensitive (MiradaDetectorPanel *self,
                                                        guint                class_index);
/* Filter parameters for the current classes; transfer full. */
MirDetectParams *mirada_detector_panel_dup_params (MiradaDetectorPanel *self);
int      mirada_detector_panel_get_window    (MiradaDetectorPanel *self);
int      mirada_detector_panel_get_stride    (MiradaDetectorPanel *self);
/* Image pyramid levels (1 = the image only), each MIRADA_PYRAMID_FACTOR smaller. */
guint    mirada_detector_panel_get_levels    (MiradaDetectorPanel *self);
gboolean mirada_detector_panel_get_notebook_compat (MiradaDetectorPanel *self);
/* @counts: one per class, or NULL to show "–". */
void     mirada_detector_panel_set_counts    (MiradaDetectorPanel *self,
                                              const guint         *counts);
/* A short message under the method controls (NULL hides it). */
void     mirada_detector_panel_set_note      (MiradaDetectorPanel *self,
                                              const char          *note);

/* Ground truth: @eval against @truth_name (a file name); NULL @truth_name hides the group. */
void     mirada_detector_panel_set_evaluation (MiradaDetectorPanel *self,
                                               const MirDetectEval *eval,
                                               const char          *truth_name);
/* The label "Precision … · Recall … · F1 …", or NULL without ground truth. */
const char *mirada_detector_panel_get_evaluation_text (MiradaDetectorPanel *self);
const char *mirada_detector_panel_get_evaluation_detail (MiradaDetectorPanel *self);
char    *mirada_detector_format_evaluation   (const MirDetectEval *eval);
/* The ticked classes (gint indices); transfer full. */
GArray  *mirada_detector_panel_dup_enabled   (MiradaDetectorPanel *self);
void     mirada_detector_panel_set_enabled   (MiradaDetectorPanel *self,
                                              guint                class_index,
                                              gboolean             enabled);

/* For tests and scripting. */
GtkAdjustment *mirada_detector_panel_get_threshold_adjustment (MiradaDetectorPanel *self,
                                                               guint                class_index);
GtkAdjustment *mirada_detector_panel_get_exception_adjustment (MiradaDetectorPanel *self,
                                                               guint                class_index);
/* The class's "Field" toggle (its probability field on the photo) and the
 * field opacity slider. */
GtkToggleButton *mirada_detector_panel_get_field_toggle (MiradaDetectorPanel *self,
                                                         guint                class_index);
GtkAdjustment *mirada_detector_panel_get_field_opacity_adjustment (MiradaDetectorPanel *self);
const char    *mirada_detector_panel_get_count_text           (MiradaDetectorPanel *self,
                                                               guint                class_index);

/* The "Mark background" toggle (background by example; tests, smoke mode). */
GtkToggleButton *mirada_detector_panel_get_mark_background_button (MiradaDetectorPanel *self);

G_END_DECLS
