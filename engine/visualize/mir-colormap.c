#define G_LOG_DOMAIN "mir-colormap"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-colormap.h"
#include "mir-error.h"
#include "mir-resample.h"

static const char *const names[MIR_COLORMAP_N] = {
  [MIR_COLORMAP_JET] = "jet",
  [MIR_COLORMAP_VIRIDIS] = "viridis",
  [MIR_COLORMAP_INFERNO] = "inferno",
  [MIR_COLORMAP_MAGMA] = "magma",
  [MIR_COLORMAP_PLASMA] = "plasma",
  [MIR_COLORMAP_GRAY] = "gray",
};

const char *
mir_colormap_get_name (MirColormap map)
{
  g_return_val_if_fail (map < MIR_COLORMAP_N, "jet");
  return names[map];
}

gboolean
mir_colormap_from_name (const char *name, MirColormap *out, GError **error)
{
  for (int i = 0; i < MIR_COLORMAP_N; i++)
    if (g_strcmp0 (name, names[i]) == 0)
      {
        *out = (MirColormap) i;
        return TRUE;
      }
  if (g_strcmp0 (name, "grey") == 0)
    {
      *out = MIR_COLORMAP_GRAY;
      return TRUE;
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown colormap '%s' (use jet, viridis, inferno, magma, plasma or gray)"),
               name ? name : "");
  return FALSE;
}

const guint8 (*mir_colormap_get_lut (MirColormap map))[3]
{
  switch (map)
    {
    case MIR_COLORMAP_VIRIDIS: return mir_colormap_viridis;
    case MIR_COLORMAP_INFERNO: return mir_colormap_inferno;
    case MIR_COLORMAP_MAGMA: return mir_colormap_magma;
    case MIR_COLORMAP_PLASMA: return mir_colormap_plasma;
    case MIR_COLORMAP_GRAY: return mir_colormap_gray;
    case MIR_COLORMAP_JET:
    case MIR_COLORMAP_N:
    default: return mir_colormap_jet;
    }
}

const float (*mir_colormap_get_lut_f (MirColormap map))[3]
{
  switch (map)
    {
    case MIR_COLORMAP_VIRIDIS: return mir_colormap_viridis_f;
    case MIR_COLORMAP_INFERNO: return mir_colormap_inferno_f;
    case MIR_COLORMAP_MAGMA: return mir_colormap_magma_f;
    case MIR_COLORMAP_PLASMA: return mir_colormap_plasma_f;
    case MIR_COLORMAP_GRAY: return mir_colormap_gray_f;
    case MIR_COLORMAP_JET:
    case MIR_COLORMAP_N:
    default: return mir_colormap_jet_f;
    }
}

static inline int
to_index (float v)
{
  if (!(v > 0)) /* NaN too */
    return 0;
  if (v >= 1)
    return 255;
  return (int) (255.0f * v); /* np.uint8 truncates */
}

MirImage *
mir_colormap_apply (MirColormap map, const float *values, int width, int height, GError **error)
{
  const guint8 (*lut)[3] = mir_colormap_get_lut (map);
  MirImage *img = mir_image_new (width, height, 3, error);

  if (img == NULL)
    return NULL;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const guint8 *c = lut[to_index (values[(gsize) y * width + x])];
        guint8 *p = img->pixels + y * img->rowstride + 3 * x;
        p[0] = c[0];
        p[1] = c[1];
        p[2] = c[2];
      }
  return img;
}

MirImage *
mir_colormap_overlay (const MirImage *image, const float *heat, int hw, int hh, MirColormap map,
                      float alpha, gboolean additive, GError **error)
{
  const float (*lut)[3] = mir_colormap_get_lut_f (map);
  g_autoptr(MirImage) out = NULL;
  g_autofree float *colour = NULL; /* heat-map resolution, RGB, 0..255 */
  g_autofree float *sum = NULL;
  int W = image->width, H = image->height;

  if (hw <= 0 || hh <= 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The heat map is empty"));
      return NULL;
    }
  if (!(alpha >= 0 && alpha <= 1))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The overlay alpha %g is outside 0..1"), (double) alpha);
      return NULL;
    }
  out = mir_image_new (W, H, 3, error);
  if (out == NULL)
    return NULL;

  if (additive)
    {
      float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
      gsize n = (gsize) hw * hh * 3;

      /* jet_colors[uint8(255 * heat)], then array_to_img's min-max scaling */
      colour = g_new (float, n);
      for (int i = 0; i < hw * hh; i++)
        for (int c = 0; c < 3; c++)
          {
            float v = lut[to_index (heat[i])][c];
            colour[3 * i + c] = v;
            lo = MIN (lo, v);
            hi = MAX (hi, v);
          }
      for (gsize i = 0; i < n; i++)
        colour[i] = hi > lo ? floorf ((colour[i] - lo) / (hi - lo) * 255.0f) : 0;

      /* resized to the image, then added (the Keras example's jet_heatmap.resize) */
      sum = g_new (float, (gsize) W * H * 3);
      mir_resample_bilinear (colour, hh, hw, 3, sum, H, W);
      lo = G_MAXFLOAT;
      hi = -G_MAXFLOAT;
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          for (int c = 0; c < 3; c++)
            {
              const guint8 *ip = image->pixels + y * image->rowstride + image->channels * x;
              float base = image->channels == 3 ? ip[c] : ip[0];
              float *v = &sum[((gsize) y * W + x) * 3 + c];

              *v = *v * alpha + base;
              lo = MIN (lo, *v);
              hi = MAX (hi, *v);
            }
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++)
          {
            float v = sum[(gsize) y * W * 3 + x];
            out->pixels[y * out->rowstride + x] =
              (guint8) (hi > lo ? CLAMP ((v - lo) / (hi - lo) * 255.0f, 0, 255) : 0);
          }
    }
  else
    {
      sum = g_new (float, (gsize) W * H);
      mir_resample_bilinear (heat, hh, hw, 1, sum, H, W);
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          {
            float v = sum[(gsize) y * W + x];
            const float *col = lut[to_index (v)];
            const guint8 *ip = image->pixels + y * image->rowstride + image->channels * x;
            guint8 *op = out->pixels + y * out->rowstride + 3 * x;

            for (int c = 0; c < 3; c++)
              {
                float base = image->channels == 3 ? ip[c] : ip[0];
                float r = (1 - alpha) * base + alpha * col[c] * 255.0f;
                op[c] = (guint8) CLAMP (r + 0.5f, 0, 255);
              }
          }
    }
  return g_steal_pointer (&out);
}
