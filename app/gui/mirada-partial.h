/* mirada-partial.h: hands the partial grids of a progressive classification
 * (issue 23, mir_detect_classify_scales_progressive) from the worker to the
 * UI thread.  The worker pushes a copy of every scale's grid after each
 * batch; at most one idle source is pending, and it delivers the latest
 * push only (a slow UI thread skips the grids it had no time to show). */
#pragma once

#include <glib-object.h>

#include "detect/mir-detect.h"

G_BEGIN_DECLS

typedef struct _MiradaPartial MiradaPartial;

/* UI thread: @grids (MirDetectGrid, one per scale; transfer none) for @target. */
typedef void (*MiradaPartialFunc) (GObject   *target,
                                   GPtrArray *grids);

/* Delivers to @func with @target (held by a weak reference) until
 * mirada_partial_stop(). */
MiradaPartial *mirada_partial_new   (GObject           *target,
                                     MiradaPartialFunc  func);
MiradaPartial *mirada_partial_ref   (MiradaPartial *partial);
void           mirada_partial_unref (MiradaPartial *partial);
/* UI thread: nothing more is delivered (a pending push is dropped). */
void           mirada_partial_stop  (MiradaPartial *partial);
/* Any thread; a MirDetectPartialFunc whose user data is the MiradaPartial. */
void           mirada_partial_push  (MirDetectGrid *const *grids,
                                     guint                 n_grids,
                                     guint                 done,
                                     guint                 total,
                                     gpointer              partial);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MiradaPartial, mirada_partial_unref)

G_END_DECLS
