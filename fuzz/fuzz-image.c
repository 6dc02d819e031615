/* fuzz-image.c: image bytes decoded as the CLI does (mirada_image_load:
 * the format by its first bytes, JPEG scans and GIF frames counted, size
 * check with gdk_pixbuf_get_file_info, then GdkPixbuf), then resized
 * to a small model input and converted to a tensor. */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mirada-cli.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirImage) small = NULL;
  g_autoptr(MirTensor) t = NULL;
  g_autoptr(GError) error = NULL;
  const char *path = mir_fuzz_write_temp (data, size, ".img");
  gint64 shape[4] = { 1, 7, 5, 1 };

  image = mirada_image_load (path, &error);
  if (image == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  small = mir_image_resize (image, 5, 7, MIR_RESIZE_BILINEAR, &error);
  g_assert (small != NULL);
  t = mir_tensor_new (4, shape, &error);
  g_assert (t != NULL);
  if (!mir_image_to_tensor (small, t, 0, MIR_PREPROCESS_SCALE, &error))
    g_assert (error != NULL);
  return 0;
}
