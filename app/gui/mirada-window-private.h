/* mirada-window-private.h: MiradaWindow's struct, shared by its files. */
#pragma once

#include "mirada-architecture-panel.h"
#include "mirada-activations-panel.h"
#include "mirada-filters-panel.h"
#include "mirada-heatmap-panel.h"
#include "mirada-occlusion-paint.h"
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
  AdwFlap *flap;                 /* the detector controls; folds into an overlay when narrow */
  GtkBox *content_box;           /* canvas_area | panels_area, or one above the other */
  GtkWidget *canvas_area;
  GtkWidget *panels_separator;
  GtkWidget *panels_area;        /* the switcher over the one visible panel */
  AdwViewStack *panel_stack;
  GtkToggleButton *sidebar_button;
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
  struct _MiradaTrainWindow *train;  /* weak: the Train view */
  GtkRecentManager *recent;  /* borrowed default */
  GPtrArray *opened_uris;    /* what this window opened, oldest first: the
                              * recent list's order when timestamps tie */
  gboolean maximizing;
  int maximized;             /* the panel in the photo's place, or -1 */
  int layout_width;          /* the content size the layout was made for */
  int layout_height;
  guint layout_idle;
  gboolean presentation;     /* full screen, large type, thick boxes (F11) */
  struct _MiradaCompareView *compare; /* weak: a second model beside the photo (issue 19) */

  MiradaOcclusionPaint *occlusion; /* the occlusion brush under the photo (issue 19) */
};

void _mirada_window_actions_init  (MiradaWindow *self);
void _mirada_window_class_actions_init (GtkWidgetClass *widget_class);
void _mirada_window_update_actions (MiradaWindow *self);
void _mirada_window_toast_error   (MiradaWindow *self, const char *what, const GError *error);
void _mirada_window_update_sweep  (MiradaWindow *self);
void _mirada_window_update_recent (MiradaWindow *self);
void _mirada_window_note_recent   (MiradaWindow *self, GFile *file);
void _mirada_window_update_layout (MiradaWindow *self);
void _mirada_window_presentation_class_init (GtkWidgetClass *widget_class);
void _mirada_window_presentation_init (MiradaWindow *self);
void _mirada_window_compare_class_init (GtkWidgetClass *widget_class);

G_END_DECLS
