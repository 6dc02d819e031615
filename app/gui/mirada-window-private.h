/* mirada-window-private.h: MiradaWindow's struct, shared by its files. */
#pragma once

#include "mirada-architecture-panel.h"
#include "mirada-activations-panel.h"
#include "mirada-filters-panel.h"
#include "mirada-heatmap-panel.h"
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
  MiradaPanel *explain[3];   /* heat maps, activations, filters (children of the boxes) */
  MiradaSession *session;   /* the model, image, grids, boxes and jobs */
  GSettings *settings;
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
