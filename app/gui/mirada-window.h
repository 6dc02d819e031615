/* mirada-window.h: the main window: detector controls | canvas | one panel. */
#pragma once

#include <adwaita.h>

#include "mir.h"
#include "mirada-canvas.h"
#include "mirada-detector-panel.h"
#include "mirada-occlusion-paint.h"
#include "detect/mir-detect.h"
#include "mirada-job.h"
#include "mirada-session.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_WINDOW (mirada_window_get_type ())
G_DECLARE_FINAL_TYPE (MiradaWindow, mirada_window, MIRADA, WINDOW, AdwApplicationWindow)

MiradaWindow *mirada_window_new          (GtkApplication *application);
/* What the window shows: the model, the image, the detector's grids and
 * boxes and the jobs that make them.  The functions below that load, set or
 * get those are shorthands for the session's. */
MiradaSession *mirada_window_get_session (MiradaWindow *self);
/* Loads on a worker; errors become toasts and keep the previous file. */
void          mirada_window_open_model   (MiradaWindow *self, GFile *file);
void          mirada_window_open_image   (MiradaWindow *self, GFile *file);
/* Sorts files into images and models by content type. */
void          mirada_window_open_files   (MiradaWindow *self, GFile **files, int n_files);
/* A new window's files: what they leave out (a model or a photo) from the
 * built-in model and demo scene. */
void          mirada_window_open_files_or_defaults (MiradaWindow *self, GFile **files,
                                                    int n_files);
/* Opens the built-in model and scene if the resources exist; returns FALSE if not. */
gboolean      mirada_window_open_defaults (MiradaWindow *self);

/* Opens a pasted picture (converted on a worker). */
void          mirada_window_paste_texture (MiradaWindow *self, GdkTexture *texture);

/* Direct setters (the UI thread; used by tests). */
void          mirada_window_set_model    (MiradaWindow *self, MirModel *model);
void          mirada_window_set_image    (MiradaWindow *self, MirImage *image);
void          mirada_window_set_classifier (MiradaWindow *self, MiradaClassifyFunc func);

MirModel            *mirada_window_get_model          (MiradaWindow *self);
/* Replaces the open model's preprocessing, resizing and class names: writes
 * them to its sidecar (atomically) when it came from a local file, then
 * applies them to a copy of the model that shares its layers (no reload) and
 * re-runs the detector.  On error nothing changes. */
gboolean             mirada_window_apply_model_meta   (MiradaWindow       *self,
                                                       const MirModelMeta *meta,
                                                       GError            **error);
/* The sidecar the properties dialog writes, or NULL (no local model file). */
char                *mirada_window_dup_sidecar_path   (MiradaWindow *self);
/* The "Open Recent" menu: section 0 models, section 1 images (newest first). */
GMenuModel          *mirada_window_get_recent_menu    (MiradaWindow *self, guint section);
MirDetectGrid       *mirada_window_get_grid           (MiradaWindow *self);
MirDetectResult     *mirada_window_get_result         (MiradaWindow *self);
MiradaCanvas        *mirada_window_get_canvas         (MiradaWindow *self);
/* The occlusion brush under the photo (issue 19). */
MiradaOcclusionPaint *mirada_window_get_occlusion_paint (MiradaWindow *self);
MiradaDetectorPanel *mirada_window_get_detector_panel (MiradaWindow *self);
/* The four panels beside the canvas, in this order. */
enum {
  MIRADA_PANEL_GRADCAM,
  MIRADA_PANEL_ACTIVATIONS,
  MIRADA_PANEL_FILTERS,
  MIRADA_PANEL_ARCHITECTURE,
  MIRADA_N_PANELS
};
/* A panel with its header (title, save, maximise). */
GtkWidget           *mirada_window_get_panel_frame    (MiradaWindow *self, guint index);
GtkWidget           *mirada_window_get_architecture_panel (MiradaWindow *self);
/* One panel at a time is shown beside (or under) the canvas. */
void                 mirada_window_show_panel         (MiradaWindow *self, guint index);
guint                mirada_window_get_visible_panel  (MiradaWindow *self);
/* Shows panel @index in the canvas's place (the whole width); -1 brings the
 * canvas back beside it. */
void                 mirada_window_maximize_panel     (MiradaWindow *self, int index);
/* The sweep window (Ctrl+Shift+S), or NULL when it is not open. */
GtkWidget           *mirada_window_get_sweep_dialog   (MiradaWindow *self);
/* Writes panel @index as a PNG (atomically). */
gboolean             mirada_window_export_panel       (MiradaWindow *self, guint index,
                                                       const char *path, GError **error);
/* Exports by extension: .png (image with boxes), .csv or .json (boxes). */
gboolean             mirada_window_export_detections  (MiradaWindow *self, const char *path,
                                                       GError **error);
/* Ground truth (a sibling <image>.json), or NULL. */
MirDetectTruth      *mirada_window_get_truth          (MiradaWindow *self);
/* 0: Grad-CAM, 1: activations, 2: filters (a MiradaPanel: MiradaHeatmapPanel,
 * MiradaActivationsPanel, MiradaFiltersPanel). */
GtkWidget           *mirada_window_get_explain_panel  (MiradaWindow *self, guint index);
/* Selects the window at (@row, @col) as a click on the canvas does. */
void                 mirada_window_select_window      (MiradaWindow *self, int row, int col);
gboolean             mirada_window_get_busy           (MiradaWindow *self);
/* Presentation mode (F11, win.presentation; Escape leaves it when no job
 * runs): full screen, the .presentation CSS class (larger type), thick
 * boxes and large labels in the colour-blind-safe palette, the detector
 * controls folded, keys 1–4 choose the panel, PageUp/PageDown the stride. */
void                 mirada_window_set_presentation   (MiradaWindow *self, gboolean presentation);
gboolean             mirada_window_get_presentation   (MiradaWindow *self);
void                 mirada_window_cancel_jobs        (MiradaWindow *self);

G_END_DECLS
