/* mir-mask.h: hiding part of a photo, as a student does by hand to test what
 * an explanation claims ("cover what Grad-CAM highlights: does the score
 * fall?").  `mirada predict --mask`, and the window's occlusion brush. */
#pragma once

#include "mir-image.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_MASK_FILL_GREY,   /* 128, 128, 128: the sliding-patch occlusion's fill */
  MIR_MASK_FILL_BLUR,   /* a box blur of the photo (radius: 1/16 of its shorter side) */
  MIR_MASK_FILL_NOISE,  /* uniform noise 0..255 per channel, from a seed */
} MirMaskFill;

/* "grey", "blur" or "noise". */
gboolean  mir_mask_fill_from_name (const char   *name,
                                   MirMaskFill  *fill,
                                   GError      **error);

/* A copy of @image where @mask is set replaced by @fill.  @mask is an image
 * of any size, stretched (nearest) over the photo; a pixel is hidden where
 * the mask's grey level (the mean of its channels) is 128 or more: paint
 * white where the photo should be hidden.  @seed: for the noise. */
MirImage *mir_mask_apply          (const MirImage *image,
                                   const MirImage *mask,
                                   MirMaskFill     fill,
                                   guint32         seed,
                                   GError        **error);
/* @image with every pixel replaced by @fill (what mir_mask_apply() puts
 * under the mask; the noise of a pixel depends only on @seed and its
 * position). */
MirImage *mir_mask_fill_image     (const MirImage *image,
                                   MirMaskFill     fill,
                                   guint32         seed,
                                   GError        **error);
/* Writes into @dest (a copy of @image) the rectangle (@x0, @y0, @width,
 * @height) of mir_mask_apply (@image, @mask) given @filled =
 * mir_mask_fill_image (@image): hidden pixels from @filled, the others from
 * @image.  FALSE when the sizes differ.  What a brush repaints per stroke. */
gboolean  mir_mask_composite      (MirImage       *dest,
                                   const MirImage *image,
                                   const MirImage *filled,
                                   const MirImage *mask,
                                   int             x0,
                                   int             y0,
                                   int             width,
                                   int             height);
/* The share of the photo's pixels @mask hides (0..1). */
double    mir_mask_coverage       (const MirImage *image,
                                   const MirImage *mask);

G_END_DECLS
