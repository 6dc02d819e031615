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

/* What Mirada decodes, recognised by content (the first bytes), never by
 * the file name: PNG, JPEG, GIF, BMP, WebP and TIFF, the formats photos and
 * course material come in.  Everything else GdkPixbuf could open (SVG
 * through librsvg, ICO, TGA, XPM, PNM, ANI, ...) is refused before any
 * decoder sees it: SVG filters and entity expansion ("billion laughs") cost
 * without bound, and a classroom tool needs none of them. */
static const char *
sniff_format (const guint8 *d, gsize n)
{
  if (n >= 8 && memcmp (d, "\x89PNG\r\n\x1a\n", 8) == 0)
    return "png";
  if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
    return "jpeg";
  if (n >= 6 && (memcmp (d, "GIF87a", 6) == 0 || memcmp (d, "GIF89a", 6) == 0))
    return "gif";
  if (n >= 14 && d[0] == 'B' && d[1] == 'M')
    return "bmp";
  if (n >= 12 && memcmp (d, "RIFF", 4) == 0 && memcmp (d + 8, "WEBP", 4) == 0)
    return "webp";
  if (n >= 4 && (memcmp (d, "II*\0", 4) == 0 || memcmp (d, "MM\0*", 4) == 0))
    return "tiff";
  return NULL;
}

/* The scans of a JPEG (SOS markers, walked segment by segment; entropy-coded
 * data holds no marker but RSTn).  A progressive JPEG with thousands of
 * scans keeps libjpeg busy for tens of seconds; real ones have at most a
 * few dozen.  Counting stops past @stop. */
static guint
jpeg_count_scans (const guint8 *d, gsize n, guint stop)
{
  gsize i = 2;
  guint scans = 0;

  while (i + 4 <= n && scans <= stop)
    {
      guint marker, len;

      if (d[i] != 0xff)
        {
          i++; /* not at a marker: damaged, let libjpeg say so */
          continue;
        }
      marker = d[i + 1];
      if (marker == 0xff)
        {
          i++; /* fill byte */
          continue;
        }
      if (marker == 0xd9)
        break; /* EOI */
      if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7))
        {
          i += 2;
          continue;
        }
      len = ((guint) d[i + 2] << 8) | d[i + 3];
      i += 2 + (gsize) len;
      if (marker != 0xda)
        continue;
      scans++;
      /* entropy-coded data: up to a marker other than a stuffed 0xff00 or RSTn */
      while (i + 1 < n && !(d[i] == 0xff && d[i + 1] != 0 && !(d[i + 1] >= 0xd0 && d[i + 1] <= 0xd7)))
        i++;
    }
  return scans;
}

/* The frames of a GIF (image descriptors, walked block by block).  GdkPixbuf
 * composites every frame of an animation into a full canvas.  Counting
 * stops past @stop. */
static guint
gif_count_frames (const guint8 *d, gsize n, guint stop)
{
  gsize i = 13;
  guint frames = 0;

  if (n < 13)
    return 0;
  if (d[10] & 0x80)
    i += (gsize) 3 << ((d[10] & 7) + 1);
  while (i < n && frames <= stop)
    {
      guint8 b = d[i++];

      if (b == 0x3b)
        break;
      if (b == 0x21)
        i++; /* extension label */
      else if (b == 0x2c)
        {
          if (i + 9 > n)
            break;
          frames++;
          if (d[i + 8] & 0x80)
            i += (gsize) 3 << ((d[i + 8] & 7) + 1);
          i += 9 + 1; /* descriptor, LZW minimum code size */
        }
      else
        break; /* damaged: the decoder reports it */
      while (i < n && d[i] != 0) /* sub-blocks */
        i += (gsize) d[i] + 1;
      i++;
    }
  return frames;
}

/* Refuses images past MIR_IMAGE_MAX_SIDE or MIR_IMAGE_MAX_PIXELS, from the
 * size the file declares, before anything is decoded. */
static gboolean
check_size (int width, int height, const char *display, GError **error)
{
  if (width > MIR_IMAGE_MAX_SIDE || height > MIR_IMAGE_MAX_SIDE)
    g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                 _("Image '%s' is %d×%d pixels; Mirada accepts at most %d pixels a side"),
                 display, width, height, MIR_IMAGE_MAX_SIDE);
  else if (width <= 0 || height <= 0)
    g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                 _("Image '%s' claims a size of %d×%d pixels: it is damaged"), display, width,
                 height);
  else if ((gint64) width * height > MIR_IMAGE_MAX_PIXELS)
    g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                 _("Image '%s' is %d×%d pixels; Mirada accepts at most %d megapixels"),
                 display, width, height, (int) (MIR_IMAGE_MAX_PIXELS >> 20));
  else
    return TRUE;
  return FALSE;
}

MirImage *
mirada_image_load (const char *path, GError **error)
{
  g_autofree char *display = NULL;
  g_autofree char *decoder = NULL;
  g_autofree guint8 *data = NULL;
  g_autoptr(GdkPixbuf) raw = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) local = NULL;
  GdkPixbufFormat *info;
  const guint8 *pixels;
  const char *format;
  gsize len = 0;
  int width, height, n_channels, rowstride;

  g_return_val_if_fail (path != NULL, NULL);

  display = g_filename_display_name (path);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open image '%s': no such file"),
                   display);
      return NULL;
    }
  /* Read once (regular files of sane size only: a FIFO would block, a
   * device be read for ever): what is checked is what is decoded. */
  if (!(data = (guint8 *) mir_file_read (path, MIR_FILE_MAX_IMAGE, _("image files"), &len,
                                         error)))
    return NULL;
  format = sniff_format (data, len);
  if (format == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an image Mirada can read (it reads PNG, JPEG, GIF, BMP, WebP "
                     "and TIFF, recognised by their contents)"),
                   display);
      return NULL;
    }
  if (strcmp (format, "jpeg") == 0 &&
      jpeg_count_scans (data, len, MIRADA_IMAGE_MAX_JPEG_SCANS) > MIRADA_IMAGE_MAX_JPEG_SCANS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("JPEG image '%s' has more than %d scans; Mirada accepts at most %d "
                     "(photos have at most a few dozen)"),
                   display, MIRADA_IMAGE_MAX_JPEG_SCANS, MIRADA_IMAGE_MAX_JPEG_SCANS);
      return NULL;
    }
  if (strcmp (format, "gif") == 0 &&
      gif_count_frames (data, len, MIRADA_IMAGE_MAX_GIF_FRAMES) > MIRADA_IMAGE_MAX_GIF_FRAMES)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("GIF image '%s' has more than %d frames; Mirada accepts at most %d"),
                   display, MIRADA_IMAGE_MAX_GIF_FRAMES, MIRADA_IMAGE_MAX_GIF_FRAMES);
      return NULL;
    }

  g_clear_pointer (&data, g_free);

  /* GdkPixbuf picks its decoder by the same first bytes (the name only
   * breaks ties): the size it declares is checked first, and the decoder
   * it would use must be the one for the format recognised above. */
  info = gdk_pixbuf_get_file_info (path, &width, &height);  /* owned by GdkPixbuf */
  if (info == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("Cannot read image '%s': %s"), display,
                   _("the decoder produced no image"));
      return NULL;
    }
  decoder = gdk_pixbuf_format_get_name (info); /* transfer full */
  if (g_strcmp0 (decoder, format) != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an image Mirada can read (it reads PNG, JPEG, GIF, BMP, WebP "
                     "and TIFF, recognised by their contents)"),
                   display);
      return NULL;
    }
  if (!check_size (width, height, display, error))
    return NULL;
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
