/* mir-colormap.h: matplotlib's colormaps (the ones the seeds use) and the
 * heat-map overlay of the Keras Grad-CAM example. */
#pragma once

#include <glib.h>

#include "mir-image.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_COLORMAP_JET,
  MIR_COLORMAP_VIRIDIS,
  MIR_COLORMAP_INFERNO,
  MIR_COLORMAP_MAGMA,
  MIR_COLORMAP_PLASMA,
  MIR_COLORMAP_GRAY,
  MIR_COLORMAP_N
} MirColormap;

extern const guint8 mir_colormap_jet[256][3];
extern const guint8 mir_colormap_viridis[256][3];
extern const guint8 mir_colormap_inferno[256][3];
extern const guint8 mir_colormap_magma[256][3];
extern const guint8 mir_colormap_plasma[256][3];
extern const guint8 mir_colormap_gray[256][3];
extern const float mir_colormap_jet_f[256][3];
extern const float mir_colormap_viridis_f[256][3];
extern const float mir_colormap_inferno_f[256][3];
extern const float mir_colormap_magma_f[256][3];
extern const float mir_colormap_plasma_f[256][3];
extern const float mir_colormap_gray_f[256][3];

const char *mir_colormap_get_name   (MirColormap map);
gboolean    mir_colormap_from_name  (const char *name, MirColormap *out, GError **error);
/* The 256×3 byte and float tables. */
const guint8 (*mir_colormap_get_lut (MirColormap map))[3];
const float (*mir_colormap_get_lut_f (MirColormap map))[3];

/* Colours a map of @width×@height values in [0, 1] (clamped; NaN → 0) into a
 * new RGB image: index = (guint8) (255 · v), as the seeds do with np.uint8. */
MirImage   *mir_colormap_apply      (MirColormap  map,
                                     const float *values,
                                     int          width,
                                     int          height,
                                     GError     **error);

/* Superimposes a heat map (values in [0, 1], any size) on @image.
 * @additive TRUE is the Keras Grad-CAM example (seeds 000 and 003):
 * uint8(255·v) → colormap → array_to_img (min–max to 0..255) → resized to
 * the image (bilinear here; PIL's default there is bicubic) → colour·alpha +
 * image → array_to_img again (min–max to 0..255).  @additive FALSE is seed
 * 001's matplotlib overlay: the map resized (bilinear) then coloured, and
 * out = (1−alpha)·image + alpha·colour. */
MirImage   *mir_colormap_overlay    (const MirImage *image,
                                     const float    *heat,
                                     int             heat_width,
                                     int             heat_height,
                                     MirColormap     map,
                                     float           alpha,
                                     gboolean        additive,
                                     GError        **error);

G_END_DECLS
