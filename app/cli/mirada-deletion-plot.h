/* mirada-deletion-plot.h: deletion curves of explanation maps drawn with
 * Cairo as a PNG (mirada gradcam --deletion-png). */
#pragma once

#include <glib.h>

#include "mir-explain.h"

G_BEGIN_DECLS

typedef struct
{
  const char *label;          /* legend text, e.g. the method name */
  const MirFaithfulness *f;   /* the curve and its area */
  gboolean baseline;          /* drawn dashed grey (the random map) */
} MiradaDeletionCurve;

#define MIRADA_DELETION_PLOT_WIDTH 1100
#define MIRADA_DELETION_PLOT_HEIGHT 640

/* Score versus fraction of the most salient pixels removed, one curve per
 * entry of @curves (an array of @n_curves), the area under each curve in the
 * legend (sorted by area, the most faithful map first); @title goes on top.
 * Written atomically to @path, MIRADA_DELETION_PLOT_WIDTH ×
 * MIRADA_DELETION_PLOT_HEIGHT pixels. */
gboolean mirada_deletion_plot_png (const char                *path,
                                   const char                *title,
                                   const MiradaDeletionCurve *curves,
                                   guint                      n_curves,
                                   GError                   **error);

G_END_DECLS
