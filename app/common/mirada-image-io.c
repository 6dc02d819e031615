/* mirada-image-io.c: images in and out through GdkPixbuf, for the CLI and the
 * window alike. */
#define G_LOG_DOMAIN "mirada-common"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "mir-file.h"
#include "mirada-export.h"
#include "mirada-image-io.h"

MirImage *
mirada_image_load (const char *path, GError **error)
{
  g_autofree char *display = NULL;
  g_autoptr(GdkPixbuf) raw = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(MirImage) image = NULL;
  const guint8 *pixels;
  int width, height, n_channels, rowstride;

  g_return_val_if_fail (path != NULL, NULL);

  display = g_filename_display_name (path);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open image '%s': no such file"),
                   display);
      return NULL;
    }
  /* GdkPixbuf opens the file itself: a FIFO would block it and a device
   * would be read for ever, so only regular files of sane size go on. */
  if (!mir_file_check (path, MIR_FILE_MAX_IMAGE, _("image files"), NULL, error))
    return NULL;
  /* Refuse huge images before decoding them. */
  if (gdk_pixbuf_get_file_info (path, &width, &height) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an image Mirada can read (PNG, JPEG, BMP, GIF, TIFF, …)"),
                   display);
      return NULL;
    }
  if (width > MIR_IMAGE_MAX_SIDE || height > MIR_IMAGE_MAX_SIDE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Image '%s' is %d×%d pixels; Mirada accepts at most %d pixels a side"),
                   display, width, height, MIR_IMAGE_MAX_SIDE);
      return NULL;
    }
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Image '%s' claims a size of %d×%d pixels: it is damaged"), display, width,
                   height);
      return NULL;
    }
  if ((gint64) width * height > MIR_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Image '%s' is %d×%d pixels; Mirada accepts at most %d megapixels"),
                   display, width, height, (int) (MIR_IMAGE_MAX_PIXELS >> 20));
      return NULL;
    }

  raw = gdk_pixbuf_new_from_file (path, &local);
  if (raw == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("Cannot read image '%s': %s"), display,
                   local->message);
      return NULL;
    }
  pixbuf = gdk_pixbuf_apply_embedded_orientation (raw);
  if (pixbuf == NULL)
    pixbuf = g_object_ref (raw);

  if (gdk_pixbuf_get_colorspace (pixbuf) != GDK_COLORSPACE_RGB ||
      gdk_pixbuf_get_bits_per_sample (pixbuf) != 8)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Image '%s' is not 8-bit RGB after decoding"), display);
      return NULL;
    }
  width = gdk_pixbuf_get_width (pixbuf);
  height = gdk_pixbuf_get_height (pixbuf);
  n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  if (n_channels < 3)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Image '%s' has %d channels after decoding"), display, n_channels);
      return NULL;
    }

  image = mir_image_new (width, height, 3, error);
  if (image == NULL)
    return NULL;
  /* Alpha is dropped, not composited, as PIL's convert("RGB") does. */
  for (int y = 0; y < height; y++)
    {
      const guint8 *in = pixels + (gsize) y * (gsize) rowstride;
      guint8 *out = image->pixels + (gsize) y * image->rowstride;

      for (int x = 0; x < width; x++)
        memcpy (out + 3 * x, in + n_channels * x, 3);
    }
  return g_steal_pointer (&image);
}

gboolean
mirada_image_save_png (const MirImage *image, const char *path, GError **error)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *buffer = NULL;
  g_autofree char *display = g_filename_display_name (path);
  gsize size;
  guint8 *pixels;
  int rowstride;

  g_return_val_if_fail (image != NULL && path != NULL, FALSE);

  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, image->width, image->height);
  if (pixbuf == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Not enough memory to save a %d×%d image"), image->width, image->height);
      return FALSE;
    }
  pixels = gdk_pixbuf_get_pixels (pixbuf);
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  for (int y = 0; y < image->height; y++)
    {
      const guint8 *in = image->pixels + (gsize) y * image->rowstride;
      guint8 *out = pixels + (gsize) y * (gsize) rowstride;

      if (image->channels == 3)
        memcpy (out, in, (gsize) image->width * 3);
      else
        for (int x = 0; x < image->width; x++)
          out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
    }
  if (!gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "png", &local, NULL))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED, _("Cannot encode '%s' as PNG: %s"),
                   display, local->message);
      return FALSE;
    }
  /* "-", symlinks, devices, or temporary file + rename (mirada_output_write). */
  return mirada_output_write (path, buffer, size, error);
}

/* A dataset image for the trainer and `mirada evaluate`: decoded with
 * GdkPixbuf (mirada_image_load), resized to @width × @height with @resize and
 * converted to @channels (PIL's "L" luma for grey), into @pixels (HWC). */
gboolean
mirada_dataset_image_decode (const char    *path,
                             gint64         height,
                             gint64         width,
                             gint64         channels,
                             MirResizeMode  resize,
                             guint8        *pixels,
                             GError       **error)
{
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirImage) sized = NULL;

  if (!(image = mirada_image_load (path, error)))
    return FALSE;
  if (!(sized = mir_image_resize (image, (int) width, (int) height, resize, error)))
    return FALSE;
  for (gint64 y = 0; y < height; y++)
    for (gint64 x = 0; x < width; x++)
      {
        const guint8 *s = sized->pixels + (gsize) y * sized->rowstride + (gsize) x * sized->channels;
        guint8 *d = pixels + (y * width + x) * channels;
        for (gint64 c = 0; c < channels; c++)
          {
            if (sized->channels == 1)
              d[c] = s[0];
            else if (channels == 1)
              d[c] = (guint8) ((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
            else
              d[c] = s[MIN (c, sized->channels - 1)];
          }
      }
  return TRUE;
}
