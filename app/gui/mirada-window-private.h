/* mirada-window-private.h: MiradaWindow's struct, shared by its files. */
#pragma once

#include "mirada-architecture-panel.h"
#include "mirada-explain-panel.h"
#include "mirada-scale-banner.h"
#include "mirada-sweep-dialog.h"
#include "mirada-window.h"

G_BEGIN_DECLS

struct _MiradaWindow
{
  AdwApplicationWindow parent_instance;

  /* template */
  AdwToastOverlay *toast_overlay;
  AdwWindowTitle *window_title;
  GtkWidget *job_box;
  GtkSpinner *job_spinner;
  GtkProgressBar *job_progress;
  GtkStack *canvas_stack;
  MiradaCanvas *canvas;
  GtkLabel *info_label;
  MiradaDetectorPanel *detector_panel;
  MiradaArchitecturePanel *architecture_panel;
  GtkBox *gradcam_box;
  GtkBox *activations_box;
  GtkBox *filters_box;
  GtkPaned *panels_paned;
  GtkPaned *top_paned;
  GtkPaned *bottom_paned;
  GtkWidget *frames[MIRADA_N_PANELS];          /* Heat maps, activations, filters, architecture */
  GtkToggleButton *maximize[MIRADA_N_PANELS];
  GtkButton *panel_export[MIRADA_N_PANELS];
  GMenu *recent_models;
  GMenu *recent_images;
  MiradaScaleBanner *scale_banner; /* asks when the model's input scaling is unknown */

  /* owned */
  MiradaExplainPanel *explain[3]; /* Grad-CAM, activations, filters (children of the boxes) */
  GSettings *settings;
  MiradaJobRunner *model_runner;
  MiradaJobRunner *image_runner;
  MiradaJobRunner *detect_runner;
  MirModel *model;
  char *model_name;
  GFile *model_file;         /* where the model came from, or NULL */
  MirImage *image;           /* what the detector reads */
  GdkTexture *texture;       /* what the canvas shows */
  char *image_name;
  MirDetectGrid *grid;       /* cached classification of model × image × window × stride × layout */
  GPtrArray *scale_grids;    /* every scale's grid (MirDetectGrid, [0] = grid) when the
                              * detector panel asks for several pyramid levels, else NULL */
  MirDetectResult *result;   /* last filter result */
  MiradaClassifyFunc classify;
  char *truth_path;          /* local ground-truth JSON next to the image, or NULL */
  char *truth_name;
  MirDetectTruth *truth;     /* loaded with the grid's class names */
  MiradaSweepDialog *sweep;  /* weak */
  GtkRecentManager *recent;  /* borrowed default */
  gboolean maximizing;
};

void _mirada_window_actions_init  (MiradaWindow *self);
void _mirada_window_class_actions_init (GtkWidgetClass *widget_class);
void _mirada_window_update_actions (MiradaWindow *self);
void _mirada_window_toast_error   (MiradaWindow *self, const char *what, const GError *error);
void _mirada_window_update_sweep  (MiradaWindow *self);
void _mirada_window_update_recent (MiradaWindow *self);
void _mirada_window_note_recent   (MiradaWindow *self, GFile *file);

G_END_DECLS
