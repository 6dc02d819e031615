#define G_LOG_DOMAIN "mir-depthwise"

#include <string.h>

#include "mir-depthwise.h"
#include "mir-vec.h"

void
mir_depthwise_forward (const MirConvGeom *g, gint64 mult, const float *x, const float *k,
                       const float *bias, float *y)
{
  gsize c = (gsize) g->c, m = (gsize) mult, cm = c * m;

  for (gint64 n = 0; n < g->n; n++)
    for (gint64 oy = 0; oy < g->oh; oy++)
      for (gint64 ox = 0; ox < g->ow; ox++)
        {
          float *restrict yo = y + (((gsize) n * (gsize) g->oh + (gsize) oy) * (gsize) g->ow +
                                    (gsize) ox) * cm;
          if (bias != NULL)
            memcpy (yo, bias, cm * sizeof (float));
          else
            memset (yo, 0, cm * sizeof (float));
          for (gint64 ky = 0; ky < g->kh; ky++)
            {
              gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
              if (iy < 0 || iy >= g->h)
                continue;
              for (gint64 kx = 0; kx < g->kw; kx++)
                {
                  gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
                  const float *restrict xi;
                  const float *restrict kk;
                  if (ix < 0 || ix >= g->w)
                    continue;
                  xi = x + (((gsize) n * (gsize) g->h + (gsize) iy) * (gsize) g->w + (gsize) ix) * c;
                  kk = k + ((gsize) ky * (gsize) g->kw + (gsize) kx) * cm;
                  if (m == 1)
                    mir_vec_madd (yo, xi, kk, c);
                  else
                    for (gsize j = 0; j < c; j++)
                      for (gsize q = 0; q < m; q++)
                        yo[j * m + q] += xi[j] * kk[j * m + q];
                }
            }
        }
}

void
mir_depthwise_backward (const MirConvGeom *g, gint64 mult, const float *x, const float *k,
                        const float *dy, float *dx, float *dk)
{
  gsize c = (gsize) g->c, m = (gsize) mult, cm = c * m;

  if (dx != NULL)
    memset (dx, 0, (gsize) g->n * (gsize) g->h * (gsize) g->w * c * sizeof (float));
  if (dk != NULL)
    memset (dk, 0, (gsize) g->kh * (gsize) g->kw * cm * sizeof (float));

  for (gint64 n = 0; n < g->n; n++)
    for (gint64 oy = 0; oy < g->oh; oy++)
      for (gint64 ox = 0; ox < g->ow; ox++)
        {
          const float *restrict go = dy + (((gsize) n * (gsize) g->oh + (gsize) oy) *
                                           (gsize) g->ow + (gsize) ox) * cm;
          for (gint64 ky = 0; ky < g->kh; ky++)
            {
              gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
              if (iy < 0 || iy >= g->h)
                continue;
              for (gint64 kx = 0; kx < g->kw; kx++)
                {
                  gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
                  gsize xoff, koff;
                  if (ix < 0 || ix >= g->w)
                    continue;
                  xoff = (((gsize) n * (gsize) g->h + (gsize) iy) * (gsize) g->w + (gsize) ix) * c;
                  koff = ((gsize) ky * (gsize) g->kw + (gsize) kx) * cm;
                  if (dx != NULL)
                    {
                      float *restrict dxi = dx + xoff;
                      const float *restrict kk = k + koff;
                      if (m == 1)
                        mir_vec_madd (dxi, go, kk, c);
                      else
                        for (gsize j = 0; j < c; j++)
                          {
                            float s = 0;
                            for (gsize q = 0; q < m; q++)
                              s += go[j * m + q] * kk[j * m + q];
                            dxi[j] += s;
                          }
                    }
                  if (dk != NULL)
                    {
                      float *restrict dkk = dk + koff;
                      const float *restrict xi = x + xoff;
                      if (m == 1)
                        mir_vec_madd (dkk, go, xi, c);
                      else
                        for (gsize j = 0; j < c; j++)
                          for (gsize q = 0; q < m; q++)
                            dkk[j * m + q] += go[j * m + q] * xi[j];
                    }
                }
            }
        }
}
