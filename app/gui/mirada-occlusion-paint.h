/* mirada-occlusion-paint.h: live occlusion painting (issue 19).  A brush
 * hides part of the photo (grey, blur or noise, mir_mask_apply's fills); each
 * stroke re-classifies on a worker only the windows it touches
 * (mir_detect_classify_windows) and the boxes follow; a bar chart shows the
 * selected window's class probabilities before painting and now; the
 * selected window's explanations recompute on the occluded photo.  Undo
 * (Ctrl+Z) per stroke, Clear (the original grids back, exactly), and the
 * sliding-patch occlusion map of the selected window for comparison. */
#pragma once

#include <gtk/gtk.h>

#include "explain/mir-mask.h"
#include "mirada-canvas.h"
#include "mirada-session.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_OCCLUSION_PAINT (mirada_occlusion_paint_get_type ())
G_DECLARE_FINAL_TYPE (MiradaOcclusionPaint, mirada_occlusion_paint, MIRADA, OCCLUSION_PAINT, GtkBox)

GtkWidget *mirada_occlusion_paint_new      (void);
/* Follows @session and paints on @canvas (both borrowed; they outlive it). */
void       mirada_occlusion_paint_attach   (MiradaOcclusionPaint *self,
                                            MiradaSession        *session,
                                            MiradaCanvas         *canvas);
/* The "Paint Occlusion" toggle button, for the window's header bar (the
 * widget itself shows only while it is on): while on, drags on the canvas
 * paint. */
GtkWidget *mirada_occlusion_paint_get_toggle (MiradaOcclusionPaint *self);
void       mirada_occlusion_paint_set_active (MiradaOcclusionPaint *self, gboolean active);
gboolean   mirada_occlusion_paint_get_active (MiradaOcclusionPaint *self);
/* Brush radius in image pixels and the fill. */
void       mirada_occlusion_paint_set_brush (MiradaOcclusionPaint *self, double radius,
                                             MirMaskFill fill);
/* One stroke through @n_points image points (x0, y0, x1, y1, …): what a
 * drag does (tests, benchmarks). */
void       mirada_occlusion_paint_stroke   (MiradaOcclusionPaint *self,
                                            const double         *xy,
                                            guint                 n_points);
void       mirada_occlusion_paint_undo     (MiradaOcclusionPaint *self);
void       mirada_occlusion_paint_clear    (MiradaOcclusionPaint *self);
/* Strokes that can be undone. */
guint      mirada_occlusion_paint_get_n_strokes (MiradaOcclusionPaint *self);
/* TRUE while painted pixels are not yet in the grids and boxes. */
gboolean   mirada_occlusion_paint_get_pending (MiradaOcclusionPaint *self);
/* The mask (1 channel, the photo's size, 255 = hidden) or NULL; the photo
 * before painting or NULL. */
MirImage  *mirada_occlusion_paint_get_mask     (MiradaOcclusionPaint *self);
MirImage  *mirada_occlusion_paint_get_original (MiradaOcclusionPaint *self);
/* Milliseconds from the first paint of the last update to its grids and
 * boxes shown (0 before any), and the windows it re-classified. */
double     mirada_occlusion_paint_get_last_latency (MiradaOcclusionPaint *self,
                                                    guint                *n_windows);
/* Computes the sliding-patch occlusion map of the selected window (the
 * photo before painting) on a worker; TRUE while it runs. */
void       mirada_occlusion_paint_compute_map (MiradaOcclusionPaint *self);
gboolean   mirada_occlusion_paint_get_map_busy (MiradaOcclusionPaint *self);
GdkTexture *mirada_occlusion_paint_get_map    (MiradaOcclusionPaint *self);

G_END_DECLS
