/* mir-image.h: 8-bit images (decoded by the app with GdkPixbuf) and their
 * conversion into model input tensors. */
#pragma once

#include <glib.h>

#include "mir-model.h"

G_BEGIN_DECLS

/* Largest image side Mirada accepts (larger images are refused). */
#define MIR_IMAGE_MAX_SIDE 16384
/* Most pixels an image may have (64 megapixels: 8192×8192, ~200 MB as RGB;
 * a GdkPixbuf decode needs as much again). */
#define MIR_IMAGE_MAX_PIXELS (G_GINT64_CONSTANT (1) << 26)

typedef struct
{
  gatomicrefcount ref_count;
  int width;
  int height;
  int channels;   /* 1 (grey) or 3 (RGB) */
  gsize rowstride;
  guint8 *pixels; /* owned */
} MirImage;

MirImage *mir_image_new        (int width, int height, int channels, GError **error);
MirImage *mir_image_ref        (MirImage *image);
void      mir_image_unref      (MirImage *image);
/* A copy of the rectangle (must lie inside the image). */
MirImage *mir_image_crop       (const MirImage *src, int x, int y, int width, int height,
                                GError **error);
/* NEAREST matches PIL's (Keras load_img's default) sampling; BILINEAR uses
 * half-pixel centres like PIL/TF resize with antialias off. */
MirImage *mir_image_resize     (const MirImage *src, int width, int height, MirResizeMode mode,
                                GError **error);
/* Writes @image (already of the tensor's H×W) into batch slot @index of the
 * NHWC tensor @batch, converting RGB<->grey to the tensor's channels and
 * applying @mode. */
gboolean  mir_image_to_tensor  (const MirImage    *image,
                                MirTensor         *batch,
                                gint64             index,
                                MirPreprocessMode  mode,
                                GError           **error);
/* Resize to the model's input size (meta.resize) and preprocess (meta.preprocess)
 * into a new 1×H×W×C tensor. */
MirTensor *mir_image_prepare   (const MirImage *image, MirModel *model, GError **error);
/* The same with @mode instead of meta.preprocess (what would the model say if
 * its input were scaled so?). */
MirTensor *mir_image_prepare_as (const MirImage    *image,
                                 MirModel          *model,
                                 MirPreprocessMode  mode,
                                 GError           **error);

const char *mir_preprocess_mode_to_string (MirPreprocessMode mode);
gboolean    mir_preprocess_mode_from_string (const char *s, MirPreprocessMode *mode,
                                             GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirImage, mir_image_unref)

G_END_DECLS
