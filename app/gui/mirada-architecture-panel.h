/* mirada-architecture-panel.h: the model's nodes (name, type, output shape,
 * parameters) in a column view. */
#pragma once

#include <gtk/gtk.h>

#include "mir.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_ARCHITECTURE_PANEL (mirada_architecture_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaArchitecturePanel, mirada_architecture_panel, MIRADA, ARCHITECTURE_PANEL, GtkBox)

void        mirada_architecture_panel_set_model   (MiradaArchitecturePanel *self,
                                                   MirModel                *model);
/* Selects node @node's row (emits "layer-selected"); -1 unselects. */
void        mirada_architecture_panel_select      (MiradaArchitecturePanel *self,
                                                   gint                     node);
/* The rows, a GListModel of nodes (for tests). */
GListModel *mirada_architecture_panel_get_nodes   (MiradaArchitecturePanel *self);

G_END_DECLS
