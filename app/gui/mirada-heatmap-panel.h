/* mirada-heatmap-panel.h: Grad-CAM (and the engine's other explanation
 * methods) over the selected window (before one is chosen, the most
 * probable box; the whole image on request), one heat map per class, the
 * most probable first and large, the others smaller below; a click shows
 * one large. */
#pragma once

#include "explain/mir-explain.h"
#include "mirada-panel.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_HEATMAP_PANEL (mirada_heatmap_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaHeatmapPanel, mirada_heatmap_panel, MIRADA, HEATMAP_PANEL, MiradaPanel)

GtkWidget  *mirada_heatmap_panel_new          (void);
/* The classes explained side by side when "Detector's classes" is chosen. */
void        mirada_heatmap_panel_set_classes  (MiradaHeatmapPanel *self,
                                               const gint         *classes,
                                               guint               n_classes);
/* Maps shown, most probable first. */
guint       mirada_heatmap_panel_get_n_overlays (MiradaHeatmapPanel *self);
/* The caption under map @i ("class, P = 0.123"), or NULL. */
const char *mirada_heatmap_panel_get_caption  (MiradaHeatmapPanel *self,
                                               guint               i);
/* The explanation map @i shows (its map, class and probability), or NULL. */
const MirExplanation *mirada_heatmap_panel_get_explanation (MiradaHeatmapPanel *self,
                                                            guint               i);
/* The region of the image explained when it is the most probable box
 * (no window chosen); FALSE for a chosen window or the whole image. */
gboolean    mirada_heatmap_panel_get_region   (MiradaHeatmapPanel *self,
                                               int *x, int *y, int *width, int *height);
/* Shows map @i large (-1: back to all maps); FALSE if there is no map @i. */
gboolean    mirada_heatmap_panel_zoom         (MiradaHeatmapPanel *self,
                                               int                 i);
int         mirada_heatmap_panel_get_zoomed   (MiradaHeatmapPanel *self);
/* The "Whole image" toggle. */
GtkWidget  *mirada_heatmap_panel_get_whole_image_button (MiradaHeatmapPanel *self);

G_END_DECLS
