/* mirada-image-io.h: decoding and encoding images with GdkPixbuf
 * (app/common: shared by the CLI and the window, no GTK). */
#pragma once

#include "mir.h"

G_BEGIN_DECLS

/* What mirada_image_load() accepts besides MIR_IMAGE_MAX_SIDE and
 * MIR_IMAGE_MAX_PIXELS (README "Images"). */
#define MIRADA_IMAGE_MAX_JPEG_SCANS 100
#define MIRADA_IMAGE_MAX_GIF_FRAMES 256

/* Decodes an image file with GdkPixbuf (EXIF orientation applied, alpha
 * dropped) into RGB.  Only PNG, JPEG, GIF, BMP, WebP and TIFF, recognised by
 * their first bytes; the declared size is checked before decoding. */
MirImage *mirada_image_load           (const char     *path,
                                       GError        **error);
/* Writes an RGB/grey MirImage as PNG with mirada_output_write() ("-" is
 * standard output; a regular file is replaced atomically). */
gboolean  mirada_image_save_png       (const MirImage *image,
                                       const char     *path,
                                       GError        **error);
/* A dataset image for the trainer and `mirada evaluate`: decoded, resized to
 * @width × @height with @resize and converted to @channels, into @pixels
 * (HWC). */
gboolean  mirada_dataset_image_decode (const char     *path,
                                       gint64          height,
                                       gint64          width,
                                       gint64          channels,
                                       MirResizeMode   resize,
                                       guint8         *pixels,
                                       GError        **error);

G_END_DECLS
