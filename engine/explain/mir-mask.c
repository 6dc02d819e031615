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
 * looks like out of focus (the shapes gone, the colours kept). */
static MirImage *
box_blur (const MirImage *src, int r, GError **error)
{
  int w = src->width, h = src->height, ch = src->channels;
  g_autoptr(MirImage) tmp = mir_image_new (w, h, ch, error);
  g_autoptr(MirImage) dst = NULL;

  if (tmp == NULL || !(dst = mir_image_new (w, h, ch, error)))
    return NULL;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < ch; c++)
        {
          guint sum = 0;
          for (int k = -r; k <= r; k++)
            {
              int xx = CLAMP (x + k, 0, w - 1);
              sum += src->pixels[(gsize) y * src->rowstride + (gsize) xx * ch + c];
            }
          tmp->pixels[(gsize) y * tmp->rowstride + (gsize) x * ch + c] =
            (guint8) ((sum + (guint) r) / (guint) (2 * r + 1));
        }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < ch; c++)
        {
          guint sum = 0;
          for (int k = -r; k <= r; k++)
            {
              int yy = CLAMP (y + k, 0, h - 1);
              sum += tmp->pixels[(gsize) yy * tmp->rowstride + (gsize) x * ch + c];
            }
          dst->pixels[(gsize) y * dst->rowstride + (gsize) x * ch + c] =
            (guint8) ((sum + (guint) r) / (guint) (2 * r + 1));
        }
  return g_steal_pointer (&dst);
}

MirImage *
mir_mask_apply (const MirImage *image, const MirImage *mask, MirMaskFill fill, guint32 seed,
                GError **error)
{
  g_autoptr(MirImage) out = NULL;
  g_autoptr(MirImage) blurred = NULL;
  g_autoptr(GRand) rng = NULL;

  g_return_val_if_fail (image != NULL && mask != NULL, NULL);
  if (mask->width < 1 || mask->height < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The mask is empty"));
      return NULL;
    }
  if (!(out = mir_image_crop (image, 0, 0, image->width, image->height, error)))
    return NULL;
  if (fill == MIR_MASK_FILL_BLUR &&
      !(blurred = box_blur (image, MAX (1, MIN (image->width, image->height) / 16), error)))
    return NULL;
  rng = g_rand_new_with_seed (seed);
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        guint8 *p = out->pixels + (gsize) y * out->rowstride + (gsize) x * out->channels;

        if (!hidden (image, mask, x, y))
          continue;
        for (int c = 0; c < out->channels; c++)
          switch (fill)
            {
            case MIR_MASK_FILL_BLUR:
              p[c] = blurred->pixels[(gsize) y * blurred->rowstride +
                                     (gsize) x * blurred->channels + c];
              break;
            case MIR_MASK_FILL_NOISE:
              p[c] = (guint8) g_rand_int_range (rng, 0, 256);
              break;
            case MIR_MASK_FILL_GREY:
            default:
              p[c] = 128;
              break;
            }
      }
  return g_steal_pointer (&out);
}
