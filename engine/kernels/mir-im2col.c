#define G_LOG_DOMAIN "mir-im2col"

#include <string.h>

#include "mir-im2col.h"
#include "mir-vec.h"

void
mir_im2col (const MirConvGeom *g, const float *x, gint64 oy0, gint64 oy1, float *col)
{
  gsize c = (gsize) g->c;

  for (gint64 oy = oy0; oy < oy1; oy++)
    for (gint64 ox = 0; ox < g->ow; ox++)
      for (gint64 ky = 0; ky < g->kh; ky++)
        {
          gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
          for (gint64 kx = 0; kx < g->kw; kx++, col += c)
            {
              gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
              if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                memset (col, 0, c * sizeof (float));
              else
                memcpy (col, x + ((gsize) iy * (gsize) g->w + (gsize) ix) * c, c * sizeof (float));
            }
        }
}

void
mir_col2im (const MirConvGeom *g, const float *col, gint64 oy0, gint64 oy1, float *dx)
{
  gsize c = (gsize) g->c;

  for (gint64 oy = oy0; oy < oy1; oy++)
    for (gint64 ox = 0; ox < g->ow; ox++)
      for (gint64 ky = 0; ky < g->kh; ky++)
        {
          gint64 iy = oy * g->sh - g->pad_top + ky * g->dh;
          for (gint64 kx = 0; kx < g->kw; kx++, col += c)
            {
              gint64 ix = ox * g->sw - g->pad_left + kx * g->dw;
              float *d;
              if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                continue;
              d = dx + ((gsize) iy * (gsize) g->w + (gsize) ix) * c;
              mir_vec_add (d, col, c);
            }
        }
}
