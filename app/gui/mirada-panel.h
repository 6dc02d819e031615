/* mirada-panel.h: the base of the panels that look inside the model for the
 * selected window (or the whole image): heat maps, activations, filter
 * patterns.  It follows a MiradaSession's model, keeps the layer list, and
 * runs each panel's work on its own job runner (one job at a time: a new
 * one cancels the older, whose result is dropped) with a status line. */
#pragma once

#include <gtk/gtk.h>

#include "mir.h"
#include "mirada-job.h"
#include "mirada-session.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_PANEL (mirada_panel_get_type ())
G_DECLARE_DERIVABLE_TYPE (MiradaPanel, mirada_panel, MIRADA, PANEL, GtkBox)

struct _MiradaPanelClass
{
  GtkBoxClass parent_class;

  /* The work needs an input image (FALSE: filter patterns need none, and
   * start only on request). */
  gboolean needs_input;
  /* The layer list starts on Keras' "last conv layer" (else on the first). */
  gboolean start_on_last_conv;
  /* The layer list starts on the first convolution (MIR_LAYER_FLAG_CONV),
   * past the preprocessing layers (Rescaling, Normalization, Resizing,
   * Random*…), whose output is only the image again; else on the first. */
  gboolean start_on_first_conv;

  /* Whether @node belongs in the layer list. */
  gboolean (*layer_wanted)  (MiradaPanel *self,
                             MirNode     *node);
  /* A new session to follow (never NULL): connect to its signals with the
   * panel as data; the base class disconnects them when the session goes. */
  void     (*session_changed) (MiradaPanel   *self,
                               MiradaSession *session);
  /* The model changed (the layer list is rebuilt, the picture cleared). */
  void     (*model_changed) (MiradaPanel *self,
                             MirModel    *model);
  /* The layer choice changed; the default runs the job. */
  void     (*layer_changed) (MiradaPanel *self);
  /* Compute was asked for; the default runs the job. */
  void     (*compute)       (MiradaPanel *self);
  /* The job's data for @layer (refs and copied settings, no widgets), or
   * NULL to run nothing.  Freed with job_free. */
  gpointer (*create_job)    (MiradaPanel *self,
                             gint         layer);
  GDestroyNotify job_free;
  /* Runs on a worker, sees only the job's data. */
  MiradaJobFunc  worker;
  GDestroyNotify result_free;
  /* The job's result on the UI thread (transfer full). */
  void     (*show_result)   (MiradaPanel *self,
                             gpointer     result);
};

/* Follows @session's model (NULL: none). */
void        mirada_panel_set_session   (MiradaPanel *self, MiradaSession *session);
/* @input: the image to explain (a window crop or the whole image), @what
 * says which ("Window 12", "Whole image"); NULL clears. */
void        mirada_panel_set_input     (MiradaPanel *self, MirImage *input, const char *what);
gboolean    mirada_panel_get_busy      (MiradaPanel *self);
/* Starts the work now (the filters panel's Compute button). */
void        mirada_panel_compute       (MiradaPanel *self);
/* Selects node @node in the layer list if the panel offers it; FALSE if not. */
gboolean    mirada_panel_set_layer     (MiradaPanel *self, gint node);
gint        mirada_panel_get_layer     (MiradaPanel *self);
/* The last picture shown (for tests and export; heat maps: the overlays side by side), or NULL. */
GdkTexture *mirada_panel_get_texture   (MiradaPanel *self);
/* The picture (activations, filters). */
GtkWidget  *mirada_panel_get_picture   (MiradaPanel *self);

/* For subclasses */
MirModel        *mirada_panel_get_model    (MiradaPanel *self);
MirImage        *mirada_panel_get_input    (MiradaPanel *self);
/* The session followed, or NULL. */
MiradaSession   *mirada_panel_get_session  (MiradaPanel *self);
GSettings       *mirada_panel_get_settings (MiradaPanel *self);
MiradaJobRunner *mirada_panel_get_runner   (MiradaPanel *self);
/* The row with the layer list, for the panel's own controls. */
GtkBox          *mirada_panel_get_bar      (MiradaPanel *self);
GtkDropDown     *mirada_panel_get_layer_dropdown (MiradaPanel *self);
/* The scrolled area's child (the picture unless set). */
void             mirada_panel_set_content  (MiradaPanel *self, GtkWidget *content);
void             mirada_panel_set_status   (MiradaPanel *self, const char *text);
/* The status line's text (what the panel is doing or waiting for). */
const char      *mirada_panel_get_status   (MiradaPanel *self);
void             mirada_panel_set_texture  (MiradaPanel *self, GdkTexture *texture);
/* TRUE while the layer list is being rebuilt (its signals are not choices). */
gboolean         mirada_panel_is_updating  (MiradaPanel *self);
/* Runs the job for the chosen layer (cancels the one running). */
void             mirada_panel_run          (MiradaPanel *self);

/* @image upscaled nearest-neighbour (GTK 4.8 only filters linearly) to at
 * least @min_side pixels on its longer side, so each value stays a crisp
 * square; @factor_out: texture pixels per image pixel.  Any thread. */
GdkTexture *mirada_texture_upscaled (MirImage  *image,
                                     int        min_side,
                                     int       *factor_out,
                                     GError   **error);

/* A drop-down with an accessible label and a tooltip. */
GtkDropDown *mirada_dropdown_new_labelled (GtkStringList *model,
                                          const char    *accessible,
                                          const char    *tooltip);

G_END_DECLS
