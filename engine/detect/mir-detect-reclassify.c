/* mir-detect-reclassify.c: classifying again only some windows of a grid,
 * after part of the image changed (issue 19, the window's occlusion brush:
 * a stroke re-classifies the windows it touches, not the whole image).
 *
 * The windows asked for are classified as one block: the smallest run of
 * rows × columns holding them, cut out of the image (its origin lies on the
 * stride, so the block's windows are exactly the grid's), through
 * mir_detect_classify_full() and so the same path (the shared convolutions
 * over that block only, when the whole grid would use them).  The other
 * windows keep the grid's values bit for bit. */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-detect.h"

GArray *
mir_detect_grid_windows_in_rect (const MirDetectGrid *grid,
                                 double               x,
                                 double               y,
                                 double               width,
                                 double               height,
                                 int                  margin)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (guint));
  const MirDetectGeometry *g;
  double s, x0, y0, x1, y1;
  int r0, r1, c0, c1;

  g_return_val_if_fail (grid != NULL, out);
  if (!(width > 0 && height > 0))
    return out;
  g = &grid->geom;
  s = grid->scale > 0 ? grid->scale : 1.0;
  /* the rectangle in the scanned image's pixels, widened by @margin */
  x0 = x / s - margin;
  y0 = y / s - margin;
  x1 = (x + width) / s + margin;
  y1 = (y + height) / s + margin;
  /* window c covers [c·stride, c·stride + window): it meets [x0, x1) when
   * c·stride < x1 and c·stride + window > x0 */
  c0 = MAX (0, (int) floor ((x0 - g->window) / g->stride) + 1);
  c1 = MIN (g->cols - 1, (int) ceil (x1 / g->stride) - 1);
  r0 = MAX (0, (int) floor ((y0 - g->window) / g->stride) + 1);
  r1 = MIN (g->rows - 1, (int) ceil (y1 / g->stride) - 1);
  for (int r = r0; r <= r1; r++)
    for (int c = c0; c <= c1; c++)
      {
        guint n = (guint) r * (guint) g->cols + (guint) c;
        g_array_append_val (out, n);
      }
  return out;
}

MirDetectGrid *
mir_detect_classify_windows (MirModel            *model,
                             const MirImage      *image,
                             const MirDetectGrid *grid,
                             const guint         *windows,
                             guint                n_windows,
                             guint                batch_size,
                             MirDetectSharedMode  shared,
                             GCancellable        *cancellable,
                             GError             **error)
{
  const MirDetectGeometry *g;
  g_autoptr(MirDetectGrid) out = NULL;
  g_autoptr(MirDetectGrid) part = NULL;
  g_autoptr(MirImage) block = NULL;
  MirDetectGeometry bg;
  int r0 = G_MAXINT, r1 = -1, c0 = G_MAXINT, c1 = -1;
  guint N;

  g_return_val_if_fail (model != NULL && image != NULL && grid != NULL, NULL);
  g_return_val_if_fail (n_windows == 0 || windows != NULL, NULL);

  g = &grid->geom;
  N = mir_detect_geometry_n_windows (g);
  if (g->image_width != image->width || g->image_height != image->height)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Window grid is for a %d×%d image but the image is %d×%d"),
                   g->image_width, g->image_height, image->width, image->height);
      return NULL;
    }
  if (!(out = mir_detect_grid_new (g, grid->n_classes, (const char *const *) grid->class_names,
                                   grid->head, grid->probs, error)))
    return NULL;
  out->scale = grid->scale;
  if (grid->embed != NULL
      && !mir_detect_grid_set_embeddings (out, grid->embed_dim, grid->embed, grid->embed_layer,
                                          error))
    return NULL;
  for (guint i = 0; i < n_windows; i++)
    {
      int r, c;

      if (windows[i] >= N)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Window %u is not in the grid (%u windows)"), windows[i], N);
          return NULL;
        }
      r = (int) (windows[i] / (guint) g->cols);
      c = (int) (windows[i] % (guint) g->cols);
      r0 = MIN (r0, r);
      r1 = MAX (r1, r);
      c0 = MIN (c0, c);
      c1 = MAX (c1, c);
    }
  if (n_windows == 0)
    return g_steal_pointer (&out);

  /* the block of windows, cut out of the image: its windows are the grid's */
  if (!(block = mir_image_crop (image, c0 * g->stride, r0 * g->stride,
                                (c1 - c0) * g->stride + g->window,
                                (r1 - r0) * g->stride + g->window, error))
      || !mir_detect_geometry_init (&bg, block->width, block->height, g->window, g->stride,
                                    FALSE, error))
    return NULL;
  g_assert (bg.rows == r1 - r0 + 1 && bg.cols == c1 - c0 + 1);
  if (!(part = mir_detect_classify_full (model, block, &bg, batch_size, shared, NULL, NULL, NULL,
                                         cancellable, error)))
    return NULL;
  if (part->n_classes != grid->n_classes
      || (grid->embed != NULL && part->embed != NULL && part->embed_dim != grid->embed_dim))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The model gives %u classes; the grid has %u"), part->n_classes,
                   grid->n_classes);
      return NULL;
    }
  for (guint i = 0; i < n_windows; i++)
    {
      guint n = windows[i];
      guint m = (n / (guint) g->cols - (guint) r0) * (guint) bg.cols + (n % (guint) g->cols - (guint) c0);

      memcpy (out->probs + (gsize) n * out->n_classes, part->probs + (gsize) m * part->n_classes,
              sizeof (float) * out->n_classes);
      if (out->embed != NULL && part->embed != NULL)
        memcpy (out->embed + (gsize) n * out->embed_dim, part->embed + (gsize) m * part->embed_dim,
                sizeof (float) * out->embed_dim);
    }
  return g_steal_pointer (&out);
}
