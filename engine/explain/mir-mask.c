/* mir-mask.c: a photo with a painted mask replaced by grey, blur or noise. */
#define G_LOG_DOMAIN "mir-mask"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-mask.h"

gboolean
mir_mask_fill_from_name (const char *name, MirMaskFill *fill, GError **error)
{
  static const char *const names[] = { "grey", "blur", "noise" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i]) == 0)
      {
        *fill = (MirMaskFill) i;
        return TRUE;
      }
  if (g_strcmp0 (name, "gray") == 0)
    {
      *fill = MIR_MASK_FILL_GREY;
      return TRUE;
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown mask fill “%s” (grey, blur or noise)"), name ? name : "");
  return FALSE;
}

/* Is photo pixel (x, y) under the mask (stretched nearest over the photo)? */
static inline gboolean
hidden (const MirImage *image, const MirImage *mask, int x, int y)
{
  int mx = (int) (((gint64) x * mask->width) / image->width);
  int my = (int) (((gint64) y * mask->height) / image->height);
  const guint8 *m = mask->pixels + (gsize) my * mask->rowstride + (gsize) mx * mask->channels;
  int sum = 0;

  for (int c = 0; c < mask->channels; c++)
    sum += m[c];
  return sum >= 128 * mask->channels;
}

double
mir_mask_coverage (const MirImage *image, const MirImage *mask)
{
  guint64 n = 0;

  g_return_val_if_fail (image != NULL && mask != NULL, 0);
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      n += hidden (image, mask, x, y);
  return (double) n / ((double) image->width * image->height);
}

/* Box blur of radius @r, separable, edges clamped: what the painted region
 * looks like out of focus (the shapes gone, the colours kept).  A running
 * sum per row and column (the same sums as adding the 2r + 1 values). */
static MirImage *
box_blur (const MirImage *src, int r, GError **error)
{
  int w = src->width, h = src->height, ch = src->channels;
  g_autoptr(MirImage) tmp = mir_image_new (w, h, ch, error);
  g_autoptr(MirImage) dst = NULL;
  const guint n = (guint) (2 * r + 1);

  if (tmp == NULL || !(dst = mir_image_new (w, h, ch, error)))
    return NULL;
  for (int y = 0; y < h; y++)
    for (int c = 0; c < ch; c++)
      {
        const guint8 *row = src->pixels + (gsize) y * src->rowstride + c;
        guint8 *out = tmp->pixels + (gsize) y * tmp->rowstride + c;
        guint sum = 0;

        for (int k = -r; k <= r; k++)
          sum += row[(gsize) CLAMP (k, 0, w - 1) * ch];
        for (int x = 0; x < w; x++)
          {
            out[(gsize) x * ch] = (guint8) ((sum + (guint) r) / n);
            sum += row[(gsize) MIN (x + r + 1, w - 1) * ch];
            sum -= row[(gsize) MAX (x - r, 0) * ch];
          }
      }
  for (int x = 0; x < w; x++)
    for (int c = 0; c < ch; c++)
      {
        const guint8 *col = tmp->pixels + (gsize) x * ch + c;
        guint8 *out = dst->pixels + (gsize) x * ch + c;
        guint sum = 0;

        for (int k = -r; k <= r; k++)
          sum += col[(gsize) CLAMP (k, 0, h - 1) * tmp->rowstride];
        for (int y = 0; y < h; y++)
          {
            out[(gsize) y * dst->rowstride] = (guint8) ((sum + (guint) r) / n);
            sum += col[(gsize) MIN (y + r + 1, h - 1) * tmp->rowstride];
            sum -= col[(gsize) MAX (y - r, 0) * tmp->rowstride];
          }
      }
  return g_steal_pointer (&dst);
}

/* Noise value of channel @c at (@x, @y): a hash of the seed and the
 * position, so a pixel's noise does not depend on which other pixels are
 * hidden (a brush stroke changes only the windows it touches). */
static inline guint8
noise_at (guint32 seed, int x, int y, int c)
{
  guint32 h = seed * 0x9E3779B1u ^ (guint32) x * 0x85EBCA77u ^ (guint32) y * 0xC2B2AE3Du
              ^ (guint32) c * 0x27D4EB2Fu;

  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  h ^= h >> 15;
  return (guint8) (h >> 24);
}

MirImage *
mir_mask_fill_image (const MirImage *image, MirMaskFill fill, guint32 seed, GError **error)
{
  g_autoptr(MirImage) out = NULL;

  g_return_val_if_fail (image != NULL, NULL);
  if (fill == MIR_MASK_FILL_BLUR)
    return box_blur (image, MAX (1, MIN (image->width, image->height) / 16), error);
  if (!(out = mir_image_new (image->width, image->height, image->channels, error)))
    return NULL;
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        guint8 *p = out->pixels + (gsize) y * out->rowstride + (gsize) x * out->channels;

        for (int c = 0; c < out->channels; c++)
          p[c] = fill == MIR_MASK_FILL_NOISE ? noise_at (seed, x, y, c) : 128;
      }
  return g_steal_pointer (&out);
}

gboolean
mir_mask_composite (MirImage       *dest,
                    const MirImage *image,
                    const MirImage *filled,
                    const MirImage *mask,
                    int             x0,
                    int             y0,
                    int             width,
                    int             height)
{
  int x1, y1;

  g_return_val_if_fail (dest != NULL && image != NULL && filled != NULL && mask != NULL, FALSE);
  if (dest->width != image->width || dest->height != image->height
      || filled->width != image->width || filled->height != image->height
      || dest->channels != image->channels || filled->channels != image->channels
      || mask->width < 1 || mask->height < 1)
    return FALSE;
  x1 = MIN (image->width, x0 + width);
  y1 = MIN (image->height, y0 + height);
  for (int y = MAX (y0, 0); y < y1; y++)
    for (int x = MAX (x0, 0); x < x1; x++)
      {
        const gsize o = (gsize) x * image->channels;
        const guint8 *src = hidden (image, mask, x, y)
                            ? filled->pixels + (gsize) y * filled->rowstride + o
                            : image->pixels + (gsize) y * image->rowstride + o;

        memcpy (dest->pixels + (gsize) y * dest->rowstride + o, src, (gsize) image->channels);
      }
  return TRUE;
}

MirImage *
mir_mask_apply (const MirImage *image, const MirImage *mask, MirMaskFill fill, guint32 seed,
                GError **error)
{
  g_autoptr(MirImage) out = NULL;
  g_autoptr(MirImage) filled = NULL;

  g_return_val_if_fail (image != NULL && mask != NULL, NULL);
  if (mask->width < 1 || mask->height < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The mask is empty"));
      return NULL;
    }
  if (!(out = mir_image_crop (image, 0, 0, image->width, image->height, error))
      || !(filled = mir_mask_fill_image (image, fill, seed, error)))
    return NULL;
  mir_mask_composite (out, image, filled, mask, 0, 0, image->width, image->height);
  return g_steal_pointer (&out);
}
