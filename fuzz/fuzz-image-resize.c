/* fuzz-image-resize.c: mir_image_resize / mir_image_crop /
 * mir_image_to_tensor / mir_image_prepare with sizes, modes and pixels
 * taken from the input.  Layout: 12 header bytes, then pixels (repeated to
 * fill the image). */
#define G_LOG_DOMAIN "mir-fuzz"

#include <string.h>

#include "fuzz-util.h"
#include "mir-image.h"
#include "mir-keras.h"

/* A signed size around the interesting range: -2 .. 300, or a huge one. */
static int
size_from (guint8 lo, guint8 hi)
{
  if (hi == 0xff)
    return (int) (G_MAXINT - lo);
  return ((hi & 1) << 8 | lo) % 303 - 2;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirImage) sized = NULL;
  g_autoptr(MirImage) crop = NULL;
  g_autoptr(MirTensor) t = NULL;
  g_autoptr(MirTensor) prepared = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  int sw, sh, dw, dh, channels, tc;
  MirResizeMode resize;
  MirPreprocessMode preprocess;

  if (size < 12)
    return 0;
  sw = size_from (data[0], data[1]);
  sh = size_from (data[2], data[3]);
  dw = size_from (data[4], data[5]);
  dh = size_from (data[6], data[7]);
  channels = data[8] & 1 ? 3 : 1;
  tc = data[8] & 2 ? 3 : (data[8] & 4 ? 1 : 2);
  resize = data[9] & 1 ? MIR_RESIZE_BILINEAR : MIR_RESIZE_NEAREST;
  preprocess = (MirPreprocessMode) (data[10] % 5);

  image = mir_image_new (sw, sh, channels, &error);
  if (image == NULL)
    return 0;
  if (size > 12)
    {
      gsize n = image->rowstride * (gsize) image->height;
      for (gsize i = 0; i < n; i += size - 12)
        memcpy (image->pixels + i, data + 12, MIN (size - 12, n - i));
    }

  sized = mir_image_resize (image, dw, dh, resize, &error);
  if (sized == NULL)
    {
      g_assert (error != NULL);
      g_clear_error (&error);
    }
  else
    {
      t = mir_tensor_new_4d (1, dh, dw, tc, &error);
      g_assert (t != NULL);
      if (!mir_image_to_tensor (sized, t, 0, preprocess, &error))
        g_assert (error != NULL);
      g_clear_error (&error);
    }

  crop = mir_image_crop (image, size_from (data[4], 0), size_from (data[6], 0), dw, dh, &error);
  g_assert ((crop == NULL) == (error != NULL));
  g_clear_error (&error);

  /* A model whose input is dh×dw×tc (unknown sides when negative). */
  config = g_strdup_printf (
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"x\", "
    "\"batch_input_shape\": [null, %s, %s, %d]}},"
    "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"g\"}}]}}",
    dh < 0 ? "null" : (dh == 0 ? "0" : "DH"), dw < 0 ? "null" : "DW", tc);
  {
    g_autofree char *dhs = g_strdup_printf ("%d", dh);
    g_autofree char *dws = g_strdup_printf ("%d", dw);
    GString *s = g_string_new (config);
    g_string_replace (s, "DH", dhs, 1);
    g_string_replace (s, "DW", dws, 1);
    g_free (config);
    config = g_string_free (s, FALSE);
  }
  model = mir_keras_model_from_config (config, -1, &error);
  if (model == NULL || !mir_model_finish (model, TRUE, 1, &error))
    return 0;
  model->meta.resize = resize;
  model->meta.preprocess = preprocess;
  prepared = mir_image_prepare (image, model, &error);
  g_assert ((prepared == NULL) == (error != NULL));
  return 0;
}
