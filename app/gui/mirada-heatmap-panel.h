/* mirada-heatmap-panel.h: Grad-CAM (and the engine's other explanation
 * methods) over the selected window or the whole image, one heat map per
 * class side by side. */
#pragma once

#include "mirada-panel.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_HEATMAP_PANEL (mirada_heatmap_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaHeatmapPanel, mirada_heatmap_panel, MIRADA, HEATMAP_PANEL, MiradaPanel)

GtkWidget  *mirada_heatmap_panel_new          (void);
/* The classes explained side by side when "Detector's classes" is chosen. */
void        mirada_heatmap_panel_set_classes  (MiradaHeatmapPanel *self,
                                               const gint         *classes,
                                               guint               n_classes);
/* Overlays shown side by side. */
guint       mirada_heatmap_panel_get_n_overlays (MiradaHeatmapPanel *self);
/* The caption under overlay @i ("class, P = 0.123"), or NULL. */
const char *mirada_heatmap_panel_get_caption  (MiradaHeatmapPanel *self,
                                               guint               i);

G_END_DECLS
