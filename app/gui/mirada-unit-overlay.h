/* mirada-unit-overlay.h: the receptive field of the unit the activations
 * panel explains (issue 19), drawn on the photo as well: mapped from the
 * model's input to the rectangle of the image the activations were
 * computed on (the selected window, or the whole image). */
#pragma once

#include <gtk/gtk.h>

#include "mirada-activations-panel.h"
#include "mirada-canvas.h"

G_BEGIN_DECLS

/* Keeps @canvas's unit field in step with @panel's explanation (the
 * panel's session gives the image and the selected window's rectangle). */
void mirada_unit_overlay_follow (MiradaCanvas           *canvas,
                                 MiradaActivationsPanel *panel);

/* The field outlined (dashed, light on dark) and the part of @padded outside
 * the image hatched, in image coordinates × @scale. */
void mirada_draw_unit_field     (cairo_t               *cr,
                                 const graphene_rect_t *field,
                                 const graphene_rect_t *padded,
                                 double                 scale);

G_END_DECLS
