/* mirada-explain-panel.h: one look inside the model for the selected window
 * (or the whole image): Grad-CAM overlay, activation grid of a layer, or the
 * learned filter patterns of a layer.  Work runs on its own job runner. */
#pragma once

#include <gtk/gtk.h>

#include "mir.h"

G_BEGIN_DECLS

typedef enum
{
  MIRADA_EXPLAIN_GRADCAM,
  MIRADA_EXPLAIN_ACTIVATIONS,
  MIRADA_EXPLAIN_FILTERS,
} MiradaExplainKind;

#define MIRADA_TYPE_EXPLAIN_PANEL (mirada_explain_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaExplainPanel, mirada_explain_panel, MIRADA, EXPLAIN_PANEL, GtkBox)

GtkWidget *mirada_explain_panel_new       (MiradaExplainKind kind);
void       mirada_explain_panel_set_model (MiradaExplainPanel *self, MirModel *model);
/* @input: the image to explain (a window crop or the whole image), @what
 * says which ("Window 12", "Whole image"); NULL clears. */
void       mirada_explain_panel_set_input (MiradaExplainPanel *self, MirImage *input,
                                           const char *what);
gboolean   mirada_explain_panel_get_busy  (MiradaExplainPanel *self);
/* Starts the work now (the filters panel's Compute button). */
void       mirada_explain_panel_compute   (MiradaExplainPanel *self);
/* Grad-CAM: the classes explained side by side when "Detector's classes" is chosen. */
void       mirada_explain_panel_set_classes (MiradaExplainPanel *self, const gint *classes,
                                             guint n_classes);
/* Selects node @node in the layer list if the panel offers it; FALSE if not. */
gboolean   mirada_explain_panel_set_layer (MiradaExplainPanel *self, gint node);
gint       mirada_explain_panel_get_layer (MiradaExplainPanel *self);
/* Grad-CAM: overlays shown side by side (others: 1 with a picture, else 0). */
guint      mirada_explain_panel_get_n_overlays (MiradaExplainPanel *self);
/* Grad-CAM: the caption under overlay @i ("class, P = 0.123"), or NULL. */
const char *mirada_explain_panel_get_caption (MiradaExplainPanel *self, guint i);
/* The last picture shown (for tests and export; Grad-CAM: the overlays side by side), or NULL. */
GdkTexture *mirada_explain_panel_get_texture (MiradaExplainPanel *self);

/* Activations: the channel of the grid under (@x, @y) of the picture, or -1. */
int        mirada_explain_panel_channel_at     (MiradaExplainPanel *self, double x, double y);
/* Shows channel @channel large (-1: the grid again); FALSE without activations. */
gboolean   mirada_explain_panel_zoom_channel   (MiradaExplainPanel *self, int channel);
int        mirada_explain_panel_get_zoom_channel (MiradaExplainPanel *self);
/* In the zoom: the activation (column @ax, row @ay) under (@x, @y) of the picture and its value. */
gboolean   mirada_explain_panel_value_at       (MiradaExplainPanel *self, double x, double y,
                                                int *ax, int *ay, float *value);
/* The picture (activations, filters). */
GtkWidget *mirada_explain_panel_get_picture    (MiradaExplainPanel *self);

/* Filters: progress-hook calls of the last result (a pattern taken from the
 * cache gives one, an optimised one 1 + steps / 5) and its worker time. */
guint        mirada_explain_panel_get_n_previews (MiradaExplainPanel *self);
double       mirada_explain_panel_get_seconds    (MiradaExplainPanel *self);

G_END_DECLS
