/* mirada-activations-panel.h: the activation grid of a layer for the
 * selected window or the whole image; a click shows one channel large, with
 * the value under the pointer. */
#pragma once

#include "mirada-panel.h"
#include "explain/mir-unit.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_ACTIVATIONS_PANEL (mirada_activations_panel_get_type ())
G_DECLARE_FINAL_TYPE (MiradaActivationsPanel, mirada_activations_panel, MIRADA, ACTIVATIONS_PANEL, MiradaPanel)

GtkWidget *mirada_activations_panel_new              (void);
/* The channel of the grid under (@x, @y) of the picture, or -1. */
int        mirada_activations_panel_channel_at       (MiradaActivationsPanel *self, double x, double y);
/* Shows channel @channel large (-1: the grid again); FALSE without activations. */
gboolean   mirada_activations_panel_zoom_channel     (MiradaActivationsPanel *self, int channel);
int        mirada_activations_panel_get_zoom_channel (MiradaActivationsPanel *self);
/* In the zoom: explains unit (column @ax, row @ay) of the zoomed channel on a
 * worker (receptive field, value by hand), then shows it in a popover;
 * FALSE when there is nothing to explain. */
gboolean   mirada_activations_panel_explain_unit     (MiradaActivationsPanel *self, int ax, int ay);
/* Moves the explained unit by (@dy, @dx) positions in the map (the arrow
 * keys and the ◀ ▲ ▼ ▶ buttons of the popover), clamped at the edges, and
 * explains it; FALSE when it did not move. */
gboolean   mirada_activations_panel_step_unit        (MiradaActivationsPanel *self, int dy, int dx);
/* The explained unit (row, column), its receptive field in the model's
 * input pixels, its value recomputed by hand and the engine's (NAN when
 * the layer has no recipe); FALSE before the first explanation is shown. */
gboolean   mirada_activations_panel_get_unit         (MiradaActivationsPanel *self, int *ay, int *ax,
                                                      MirRect *field, double *value, double *engine);
/* While the unit's popover is open: its field and padded window in the
 * model's input pixels (@in_h × @in_w) and the image the activations were
 * computed on (borrowed: a window's crop or the whole image).  The panel
 * emits ::unit-changed when these change or the popover closes. */
gboolean   mirada_activations_panel_get_unit_field   (MiradaActivationsPanel *self, MirRect *field,
                                                      MirRect *padded, gint64 *in_h, gint64 *in_w,
                                                      MirImage **input);
/* The popover's "same" vs "valid" toggle. */
void       mirada_activations_panel_set_unit_padding (MiradaActivationsPanel *self, gboolean show);
/* The last explanation's text (as `mirada explain-unit` prints it), or NULL. */
const char *mirada_activations_panel_get_unit_text   (MiradaActivationsPanel *self);
/* In the zoom: the activation (column @ax, row @ay) under (@x, @y) of the picture and its value. */
gboolean   mirada_activations_panel_value_at         (MiradaActivationsPanel *self, double x, double y,
                                                      int *ax, int *ay, float *value);

G_END_DECLS
