/* mir-image.c: 8-bit images and their conversion into model inputs.
 *
 * Resizing and colour conversion follow what a Keras user's own pipeline did
 * at training time, so that a model sees the same numbers in Mirada:
 *
 * - NEAREST is Pillow's Image.resize(NEAREST), which keras.utils.load_img
 *   (target_size=...) uses: Pillow maps the destination pixel x to source
 *   column (int) xo, xo starting at scale / 2 and growing by scale = src / dst
 *   in double precision (ImagingScaleAffine in libImaging/Geometry.c).  That
 *   is floor ((x + 0.5) * src / dst); we step the same way to get the same
 *   rounding on exact boundaries, and clamp to the image.
 * - BILINEAR is tf.image.resize (..., method="bilinear", antialias=False)
 *   (what image_dataset_from_directory uses): half-pixel centres, source
 *   coordinate (x + 0.5) * src / dst - 0.5, neighbours clamped to the edge.
 *   It is not Pillow's BILINEAR, which widens its filter when downscaling.
 *   TF keeps floats; we round to the nearest 8-bit value (error <= 0.5/255).
 * - RGB to grey is Pillow's convert("L"): ITU-R 601-2 luma
 *   L = R * 299/1000 + G * 587/1000 + B * 114/1000, computed as Pillow does in
 *   16.16 fixed point and rounded: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
 */
#define G_LOG_DOMAIN "mir-image"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-image.h"
#include "kernels/mir-resample.h"

MirImage *
mir_image_new (int width, int height, int channels, GError **error)
{
  MirImage *image;
  gsize rowstride, size;

  if (width <= 0 || height <= 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("An image of %d×%d pixels is empty"), width, height);
      return NULL;
    }
  if (width > MIR_IMAGE_MAX_SIDE || height > MIR_IMAGE_MAX_SIDE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The image is %d×%d pixels; Mirada accepts at most %d pixels a side"),
                   width, height, MIR_IMAGE_MAX_SIDE);
      return NULL;
    }
  if ((gint64) width * height > MIR_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The image is %d×%d pixels; Mirada accepts at most %d megapixels"),
                   width, height, (int) (MIR_IMAGE_MAX_PIXELS >> 20));
      return NULL;
    }
  if (channels != 1 && channels != 3)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("An image has 1 (grey) or 3 (RGB) channels, not %d"), channels);
      return NULL;
    }

  rowstride = (gsize) width * (gsize) channels;
  if (!g_size_checked_mul (&size, rowstride, (gsize) height))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The image is %d×%d pixels, too large to hold in memory"), width, height);
      return NULL;
    }

  image = g_new0 (MirImage, 1);
  g_atomic_ref_count_init (&image->ref_count);
  image->width = width;
  image->height = height;
  image->channels = channels;
  image->rowstride = rowstride;
  image->pixels = g_try_malloc0 (size);
  if (image->pixels == NULL)
    {
      g_free (image);
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Not enough memory for an image of %d×%d pixels"), width, height);
      return NULL;
    }
  return image;
}

MirImage *
mir_image_ref (MirImage *image)
{
  g_return_val_if_fail (image != NULL, NULL);
  g_atomic_ref_count_inc (&image->ref_count);
  return image;
}

void
mir_image_unref (MirImage *image)
{
  if (image == NULL)
    return;
  if (g_atomic_ref_count_dec (&image->ref_count))
    {
      g_free (image->pixels);
      g_free (image);
    }
}

MirImage *
mir_image_crop (const MirImage *src, int x, int y, int width, int height, GError **error)
{
  MirImage *dst;

  g_return_val_if_fail (src != NULL, NULL);

  if (x < 0 || y < 0 || width <= 0 || height <= 0 ||
      width > src->width - x || height > src->height - y)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The rectangle %d×%d at (%d, %d) does not lie inside the %d×%d image"),
                   width, height, x, y, src->width, src->height);
      return NULL;
    }
  dst = mir_image_new (width, height, src->channels, error);
  if (dst == NULL)
    return NULL;
  for (int r = 0; r < height; r++)
    memcpy (dst->pixels + (gsize) r * dst->rowstride,
            src->pixels + (gsize) (y + r) * src->rowstride + (gsize) x * src->channels,
            (gsize) width * src->channels);
  return dst;
}

/* Pillow's nearest-neighbour source indices (see the top of the file). */
static int *
nearest_table (int src, int dst)
{
  int *table = g_new (int, dst);
  double scale = (double) src / dst;
  double pos = scale * 0.5;

  for (int i = 0; i < dst; i++)
    {
      int s = pos < 0.0 ? 0 : (int) pos;
      table[i] = CLAMP (s, 0, src - 1);
      pos += scale;
    }
  return table;
}

MirImage *
mir_image_resize (const MirImage *src, int width, int height, MirResizeMode mode, GError **error)
{
  g_autoptr(MirImage) dst = NULL;
  int ch;

  g_return_val_if_fail (src != NULL, NULL);

  dst = mir_image_new (width, height, src->channels, error);
  if (dst == NULL)
    return NULL;
  ch = src->channels;

  if (width == src->width && height == src->height)
    {
      for (int y = 0; y < height; y++)
        memcpy (dst->pixels + (gsize) y * dst->rowstride,
                src->pixels + (gsize) y * src->rowstride, (gsize) width * ch);
      return g_steal_pointer (&dst);
    }

  switch (mode)
    {
    case MIR_RESIZE_NEAREST:
      {
        g_autofree int *xs = nearest_table (src->width, width);
        g_autofree int *ys = nearest_table (src->height, height);

        for (int y = 0; y < height; y++)
          {
            const guint8 *in = src->pixels + (gsize) ys[y] * src->rowstride;
            guint8 *out = dst->pixels + (gsize) y * dst->rowstride;

            for (int x = 0; x < width; x++)
              for (int c = 0; c < ch; c++)
                out[x * ch + c] = in[xs[x] * ch + c];
          }
      }
      break;

    case MIR_RESIZE_BILINEAR:
      {
        g_autofree MirResampleTap *xs = mir_resample_taps (src->width, width);
        g_autofree MirResampleTap *ys = mir_resample_taps (src->height, height);

        for (int y = 0; y < height; y++)
          {
            const guint8 *top = src->pixels + (gsize) ys[y].lo * src->rowstride;
            const guint8 *bottom = src->pixels + (gsize) ys[y].hi * src->rowstride;
            float fy = ys[y].frac;
            guint8 *out = dst->pixels + (gsize) y * dst->rowstride;

            for (int x = 0; x < width; x++)
              {
                gsize l = (gsize) xs[x].lo * ch, r = (gsize) xs[x].hi * ch;
                float fx = xs[x].frac;

                for (int c = 0; c < ch; c++)
                  {
                    float t = top[l + c] + (top[r + c] - top[l + c]) * fx;
                    float b = bottom[l + c] + (bottom[r + c] - bottom[l + c]) * fx;
                    float v = t + (b - t) * fy;

                    out[x * ch + c] = (guint8) CLAMP (lrintf (v), 0, 255);
                  }
              }
          }
      }
      break;

    default:
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Unknown resize mode %d"), (int) mode);
      return NULL;
    }
  return g_steal_pointer (&dst);
}

static inline guint8
luma (const guint8 *rgb)
{
  return (guint8) (((guint32) rgb[0] * 19595 + (guint32) rgb[1] * 38470 +
                    (guint32) rgb[2] * 7471 + 0x8000) >> 16);
}

/* Channel @c (in the tensor's order) of a pixel valued @v (0..255, in RGB
 * order before any swap) after preprocessing. */
static const float caffe_mean[3] = { 103.939f, 116.779f, 123.68f }; /* B, G, R */
static const float torch_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float torch_std[3] = { 0.229f, 0.224f, 0.225f };

gboolean
mir_image_to_tensor (const MirImage *image, MirTensor *batch, gint64 index,
                     MirPreprocessMode mode, GError **error)
{
  gint64 tc;
  float *base;

  g_return_val_if_fail (image != NULL && batch != NULL, FALSE);

  if (batch->ndim != 4 || !mir_tensor_is_contiguous (batch))
    {
      g_autofree char *s = mir_tensor_shape_string (batch);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("An image goes into an N×H×W×C tensor, not one of shape %s"), s);
      return FALSE;
    }
  if (index < 0 || index >= batch->shape[0])
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Batch slot %" PRId64 " is outside a batch of %" PRId64),
                   index, batch->shape[0]);
      return FALSE;
    }
  if (batch->shape[1] != image->height || batch->shape[2] != image->width)
    {
      g_autofree char *s = mir_tensor_shape_string (batch);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The image is %d×%d pixels but the tensor %s expects %" PRId64
                     "×%" PRId64),
                   image->width, image->height, s, batch->shape[2], batch->shape[1]);
      return FALSE;
    }
  tc = batch->shape[3];
  if (tc != 1 && tc != 3)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The model expects %" PRId64 " channels per pixel; images give 1 "
                     "(grey) or 3 (RGB)"),
                   tc);
      return FALSE;
    }
  if ((guint) mode > MIR_PREPROCESS_TORCH)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Unknown preprocessing mode %d"),
                   (int) mode);
      return FALSE;
    }

  base = batch->data + index * batch->stride[0];
  for (int y = 0; y < image->height; y++)
    {
      const guint8 *row = image->pixels + (gsize) y * image->rowstride;
      float *out = base + (gsize) y * (gsize) batch->stride[1];

      for (int x = 0; x < image->width; x++, out += tc)
        {
          const guint8 *px = row + (gsize) x * image->channels;
          float rgb[3];

          if (tc == 1)
            rgb[0] = image->channels == 1 ? px[0] : luma (px);
          else if (image->channels == 1)
            rgb[0] = rgb[1] = rgb[2] = px[0];
          else
            {
              rgb[0] = px[0];
              rgb[1] = px[1];
              rgb[2] = px[2];
            }

          /* With one channel, the modes with per-channel constants use
           * their first channel's, as Keras' x[..., 0] would. */
          switch (mode)
            {
            case MIR_PREPROCESS_NONE:
              for (gint64 c = 0; c < tc; c++)
                out[c] = rgb[c];
              break;
            case MIR_PREPROCESS_SCALE:
              for (gint64 c = 0; c < tc; c++)
                out[c] = rgb[c] / 255.0f;
              break;
            case MIR_PREPROCESS_TF:
              for (gint64 c = 0; c < tc; c++)
                out[c] = rgb[c] / 127.5f - 1.0f;
              break;
            case MIR_PREPROCESS_CAFFE:
              for (gint64 c = 0; c < tc; c++)
                out[c] = rgb[tc - 1 - c] - caffe_mean[c];
              break;
            case MIR_PREPROCESS_TORCH:
              for (gint64 c = 0; c < tc; c++)
                out[c] = (rgb[c] / 255.0f - torch_mean[c]) / torch_std[c];
              break;
            default:
              g_assert_not_reached ();
            }
        }
    }
  return TRUE;
}

MirTensor *
mir_image_prepare (const MirImage *image, MirModel *model, GError **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  return mir_image_prepare_as (image, model, model->meta.preprocess, error);
}

MirTensor *
mir_image_prepare_as (const MirImage    *image,
                      MirModel          *model,
                      MirPreprocessMode  mode,
                      GError           **error)
{
  const MirShape *in;
  gint64 h, w, c;
  g_autoptr(MirImage) sized = NULL;
  g_autoptr(MirTensor) t = NULL;

  g_return_val_if_fail (image != NULL && model != NULL, NULL);

  if (model->inputs->len == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("The model has no inputs"));
      return NULL;
    }
  in = mir_model_get_input_shape (model, 0);
  /* (H, W, C) images, or (H, W) grey ones (MNIST-style Flatten inputs). */
  if (in->ndim != 4 && in->ndim != 3)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The model's input has shape %s, which is not an image "
                     "(height, width, channels)"),
                   s);
      return NULL;
    }
  h = in->dim[1] > 0 ? in->dim[1] : image->height;
  w = in->dim[2] > 0 ? in->dim[2] : image->width;
  c = in->ndim == 4 ? in->dim[3] : 1;
  if (h > MIR_IMAGE_MAX_SIDE || w > MIR_IMAGE_MAX_SIDE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The model expects %" PRId64 "×%" PRId64
                     " images; Mirada accepts at most %d pixels a side"),
                   w, h, MIR_IMAGE_MAX_SIDE);
      return NULL;
    }

  sized = mir_image_resize (image, (int) w, (int) h, model->meta.resize, error);
  if (sized == NULL)
    return NULL;
  t = mir_tensor_new_4d (1, h, w, c, error);
  if (t == NULL)
    return NULL;
  if (!mir_image_to_tensor (sized, t, 0, mode, error))
    return NULL;
  if (in->ndim == 3)
    {
      gint64 shape[3] = { 1, h, w };
      return mir_tensor_reshape (t, 3, shape, error);
    }
  return g_steal_pointer (&t);
}

static const char *const preprocess_names[] = {
  [MIR_PREPROCESS_NONE] = "none",
  [MIR_PREPROCESS_SCALE] = "scale",
  [MIR_PREPROCESS_TF] = "tf",
  [MIR_PREPROCESS_CAFFE] = "caffe",
  [MIR_PREPROCESS_TORCH] = "torch",
};
G_STATIC_ASSERT (G_N_ELEMENTS (preprocess_names) == MIR_PREPROCESS_TORCH + 1);

const char *
mir_preprocess_mode_to_string (MirPreprocessMode mode)
{
  if ((guint) mode < G_N_ELEMENTS (preprocess_names))
    return preprocess_names[mode];
  return "none";
}

gboolean
mir_preprocess_mode_from_string (const char *s, MirPreprocessMode *mode, GError **error)
{
  g_return_val_if_fail (s != NULL && mode != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (preprocess_names); i++)
    if (g_ascii_strcasecmp (s, preprocess_names[i]) == 0)
      {
        *mode = (MirPreprocessMode) i;
        return TRUE;
      }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown preprocessing mode '%s' (expected none, scale, tf, caffe or torch)"), s);
  return FALSE;
}
