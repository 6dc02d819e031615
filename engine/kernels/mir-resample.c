#include <math.h>

#include "mir-resample.h"

MirResampleTap *
mir_resample_taps (gint64 src, gint64 dst)
{
  MirResampleTap *taps = g_new (MirResampleTap, MAX (dst, 1));
  float scale = (float) src / (float) dst;

  for (gint64 o = 0; o < dst; o++)
    {
      float s = ((float) o + 0.5f) * scale - 0.5f;
      float f = floorf (s);

      taps[o].lo = CLAMP ((gint64) f, 0, src - 1);
      taps[o].hi = CLAMP ((gint64) ceilf (s), 0, src - 1);
      taps[o].frac = s - f;
    }
  return taps;
}

void
mir_resample_bilinear (const float *src, gint64 sh, gint64 sw, gint64 c, float *dst, gint64 dh,
                       gint64 dw)
{
  g_autofree MirResampleTap *ty = mir_resample_taps (sh, dh);
  g_autofree MirResampleTap *tx = mir_resample_taps (sw, dw);

  for (gint64 y = 0; y < dh; y++)
    {
      const float *r0 = src + ty[y].lo * sw * c;
      const float *r1 = src + ty[y].hi * sw * c;
      float *o = dst + y * dw * c;
      float wy = ty[y].frac;

      for (gint64 x = 0; x < dw; x++)
        {
          gint64 x0 = tx[x].lo * c, x1 = tx[x].hi * c;
          float wx = tx[x].frac;

          for (gint64 k = 0; k < c; k++)
            {
              float top = r0[x0 + k] + (r0[x1 + k] - r0[x0 + k]) * wx;
              float bottom = r1[x0 + k] + (r1[x1 + k] - r1[x0 + k]) * wx;
              o[x * c + k] = top + (bottom - top) * wy;
            }
        }
    }
}

void
mir_resample_bilinear_backward (float *grad_src, gint64 sh, gint64 sw, gint64 c,
                                const float *grad_dst, gint64 dh, gint64 dw)
{
  g_autofree MirResampleTap *ty = mir_resample_taps (sh, dh);
  g_autofree MirResampleTap *tx = mir_resample_taps (sw, dw);

  for (gint64 y = 0; y < dh; y++)
    {
      float *r0 = grad_src + ty[y].lo * sw * c;
      float *r1 = grad_src + ty[y].hi * sw * c;
      const float *o = grad_dst + y * dw * c;
      float wy = ty[y].frac;

      for (gint64 x = 0; x < dw; x++)
        {
          gint64 x0 = tx[x].lo * c, x1 = tx[x].hi * c;
          float wx = tx[x].frac;

          for (gint64 k = 0; k < c; k++)
            {
              float g = o[x * c + k];
              r0[x0 + k] += g * (1 - wy) * (1 - wx);
              r0[x1 + k] += g * (1 - wy) * wx;
              r1[x0 + k] += g * wy * (1 - wx);
              r1[x1 + k] += g * wy * wx;
            }
        }
    }
}
