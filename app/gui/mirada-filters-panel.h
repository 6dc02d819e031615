/* mirada-filters-panel.h: the learned filter patterns of a convolutional
 * layer (the first 16), found by gradient ascent on a worker on request and
 * shown as each batch finishes. */
#pragma once

#include "mirada-panel.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_FILTERS_PANEL (mirada_filters_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaFiltersPanel, mirada_filters_panel, MIRADA, FILTERS_PANEL, MiradaPanel)

GtkWidget *mirada_filters_panel_new            (void);
/* Progress-hook calls of the last result (a pattern taken from the cache
 * gives one, an optimised one 1 + steps / 5) and its worker time. */
guint      mirada_filters_panel_get_n_previews (MiradaFiltersPanel *self);
double     mirada_filters_panel_get_seconds    (MiradaFiltersPanel *self);

G_END_DECLS
