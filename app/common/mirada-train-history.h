/* mirada-train-history.h: the per-epoch history of a training run
 * (`mirada train --history FILE` as CSV or JSON, --history-png FILE as a
 * chart, and the window's Train view drawing the same chart live). */
#pragma once

#include <cairo.h>
#include <glib.h>

#include "train/mir-trainer.h"

G_BEGIN_DECLS

/* Writes @n epochs of @stats to @path: JSON when it ends in .json, else CSV,
 * with columns epoch, loss, accuracy, val_loss, val_accuracy, seconds (the
 * validation columns empty / null without validation). */
gboolean mirada_train_history_save (const char          *path,
                                    const MirEpochStats *stats,
                                    guint                n,
                                    GError             **error);

#define MIRADA_HISTORY_PLOT_WIDTH 1000
#define MIRADA_HISTORY_PLOT_HEIGHT 500

/* Two charts side by side, loss and accuracy versus epoch (training solid,
 * validation dashed), with axes and a legend; written atomically to @path. */
gboolean mirada_train_history_png  (const char          *path,
                                    const MirEpochStats *stats,
                                    guint                n,
                                    GError             **error);

/* The same two charts drawn into @cr over @width × @height (the Train view). */
void     mirada_train_history_draw (cairo_t             *cr,
                                    const MirEpochStats *stats,
                                    guint                n,
                                    double               width,
                                    double               height);

G_END_DECLS
