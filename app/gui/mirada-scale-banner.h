/* mirada-scale-banner.h: the bar the window shows when nothing says how the
 * open model scales its input (meta.preprocess_from UNKNOWN: no Rescaling
 * layer, no format metadata, no sidecar).  It offers the usual scalings with,
 * as a hint, what the model says about the current image under each, and
 * applies the one chosen as Model Properties does (remembered in the model's
 * sidecar, so the bar does not come back for it). */
#pragma once

#include <gtk/gtk.h>

#include "mir.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_SCALE_BANNER (mirada_scale_banner_get_type ())
G_DECLARE_FINAL_TYPE (MiradaScaleBanner, mirada_scale_banner, MIRADA, SCALE_BANNER, GtkWidget)

GtkWidget *mirada_scale_banner_new          (void);
/* The window's model and image (either may be NULL).  Shows the bar when
 * @model's preprocessing is unknown, hides it otherwise, and computes the
 * hints on a worker. */
void       mirada_scale_banner_update       (MiradaScaleBanner *self,
                                             MirModel          *model,
                                             MirImage          *image);
gboolean   mirada_scale_banner_get_revealed (MiradaScaleBanner *self);
/* The choice buttons (0: none, 1: scale, 2: tf), for tests. */
GtkWidget *mirada_scale_banner_get_choice   (MiradaScaleBanner *self,
                                             guint              index);
/* The hint under choice @index ("" until computed), for tests. */
const char *mirada_scale_banner_get_hint    (MiradaScaleBanner *self,
                                             guint              index);

G_END_DECLS
