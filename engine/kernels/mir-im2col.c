#define G_LOG_DOMAIN "mir-im2col"

#include <string.h>

#include "mir-im2col.h"
#include "mir-parallel.h"
#include "mir-vec.h"

static void
im2col_rows (const MirConvGeom *g, const float *x, gint64 oy0, gint64 oy1, float *col)
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

typedef struct
{
  const MirConvGeom *g;
  const float *x;
  gint64 oy0;
  float *col;
} Im2colJob;

static void
im2col_chunk (gint64 begin, gint64 end, gpointer data)
{
  const Im2colJob *j = data;
  gsize row = (gsize) (j->g->ow * j->g->kh * j->g->kw * j->g->c);

  im2col_rows (j->g, j->x, j->oy0 + begin, j->oy0 + end, j->col + (gsize) begin * row);
}

/* Threaded over output rows: a memory-bound copy that otherwise runs on
 * one core between two multithreaded GEMMs. */
void
mir_im2col (const MirConvGeom *g, const float *x, gint64 oy0, gint64 oy1, float *col)
{
  Im2colJob j = { g, x, oy0, col };
  gint64 row = MAX (g->ow * g->kh * g->kw * g->c, 1);

  mir_parallel_for (oy1 - oy0, MAX (1, 65536 / row), im2col_chunk, &j);
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
