#define G_LOG_DOMAIN "mir-activation-grid"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-activation-grid.h"
#include "mir-error.h"

void
mir_grid_normalise_channel (const float *v, gsize n, gsize stride, MirGridNorm norm,
                            double layer_mean, double layer_std, guint8 *out)
{
  double mean = 0, var = 0, lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE, std;

  for (gsize i = 0; i < n; i++)
    {
      double x = v[i * stride];
      mean += x;
      lo = MIN (lo, x);
      hi = MAX (hi, x);
    }
  mean /= (double) MAX (n, 1);
  for (gsize i = 0; i < n; i++)
    {
      double d = v[i * stride] - mean;
      var += d * d;
    }
  std = sqrt (var / (double) MAX (n, 1)); /* numpy's std: population */

  if (norm == MIR_GRID_NORM_LAYER)
    {
      mean = layer_mean;
      std = layer_std;
    }
  for (gsize i = 0; i < n; i++)
    {
      double x = v[i * stride], y;

      if (norm == MIR_GRID_NORM_MINMAX)
        y = hi > lo ? (x - lo) / (hi - lo) * 255.0 : 0.0;
      else
        y = std > 0 ? (x - mean) / std * 64.0 + 128.0 : 128.0;
      /* np.clip then astype('uint8') truncates */
      out[i] = (guint8) CLAMP (y, 0.0, 255.0);
    }
}

MirChannelStats *
mir_activation_stats (const MirTensor *act, gint64 batch)
{
  gint64 c = act->shape[act->ndim - 1];
  gsize per = (gsize) (act->stride[0] / c);
  const float *base = act->data + batch * act->stride[0];
  MirChannelStats *stats = g_new0 (MirChannelStats, c);

  for (gint64 k = 0; k < c; k++)
    {
      double sum = 0;
      gsize zeros = 0;
      float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;

      for (gsize i = 0; i < per; i++)
        {
          float x = base[i * c + k];
          sum += x;
          zeros += x == 0.0f;
          lo = MIN (lo, x);
          hi = MAX (hi, x);
        }
      stats[k].mean = (float) (sum / (double) MAX (per, 1));
      stats[k].min = lo;
      stats[k].max = hi;
      stats[k].zero_fraction = (float) zeros / (float) MAX (per, 1);
      stats[k].dead = zeros == per;
    }
  return stats;
}

void
mir_activation_grid_tile_origin (const MirGridOptions *options, gint64 h, gint64 w, gint64 k,
                                 int *x0, int *y0)
{
  gint64 r = k / options->per_row, q = k % options->per_row;

  *x0 = (int) (q * (w * options->scale + options->gap));
  *y0 = (int) (r * (h * options->scale + options->gap));
}

MirImage *
mir_activation_grid (const MirTensor *act, gint64 batch, const MirGridOptions *options,
                     MirChannelStats **stats_out, GError **error)
{
  MirGridOptions defaults = MIR_GRID_OPTIONS_DEFAULT;
  const guint8 (*lut)[3];
  g_autoptr(MirImage) img = NULL;
  g_autofree guint8 *tile = NULL;
  gint64 h, w, c, rows, cols;
  double layer_mean = 0, layer_var = 0;
  const float *base;
  int scale, gap;
  gsize per;

  if (options == NULL)
    options = &defaults;
  if (act->ndim != 4)
    {
      g_autofree char *s = mir_tensor_shape_string (act);
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("An activation grid needs a 4-D layer output; this one has shape %s"), s);
      return NULL;
    }
  if (batch < 0 || batch >= act->shape[0] || options->per_row < 1 || options->per_row > 4096 ||
      options->scale < 1 || options->scale > 64 || options->gap < 0 || options->gap > 64)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Activation grid settings out of range (per row 1..4096, scale 1..64, "
                     "gap 0..64)"));
      return NULL;
    }
  h = act->shape[1];
  w = act->shape[2];
  c = act->shape[3];
  per = (gsize) (h * w);
  scale = options->scale;
  gap = options->gap;
  cols = MIN (options->per_row, c);
  /* Unlike the seed (n_features // images_per_row), the last partial row is shown. */
  rows = (c + options->per_row - 1) / options->per_row;
  if (cols * (w * scale + gap) > MIR_IMAGE_MAX_SIDE ||
      rows * (h * scale + gap) > MIR_IMAGE_MAX_SIDE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The activation grid would be larger than %d pixels; use fewer channels "
                     "per row or a smaller scale"), MIR_IMAGE_MAX_SIDE);
      return NULL;
    }
  img = mir_image_new ((int) (cols * (w * scale + gap) - gap),
                       (int) (rows * (h * scale + gap) - gap), 3, error);
  if (img == NULL)
    return NULL;
  memset (img->pixels, 255, img->rowstride * img->height);

  base = act->data + batch * act->stride[0];
  if (options->norm == MIR_GRID_NORM_LAYER)
    {
      gsize n = per * (gsize) c;
      for (gsize i = 0; i < n; i++)
        layer_mean += base[i];
      layer_mean /= (double) n;
      for (gsize i = 0; i < n; i++)
        layer_var += (base[i] - layer_mean) * (base[i] - layer_mean);
      layer_var /= (double) n;
    }
  lut = mir_colormap_get_lut (options->colormap);
  tile = g_malloc (per);
  for (gint64 k = 0; k < c; k++)
    {
      int x0, y0;

      mir_activation_grid_tile_origin (options, h, w, k, &x0, &y0);

      mir_grid_normalise_channel (base + k, per, (gsize) c, options->norm, layer_mean,
                                  sqrt (layer_var), tile);
      for (gint64 y = 0; y < h * scale; y++)
        for (gint64 x = 0; x < w * scale; x++)
          {
            const guint8 *col = lut[tile[(y / scale) * w + x / scale]];
            guint8 *p = img->pixels + (y0 + y) * img->rowstride + 3 * (x0 + x);
            p[0] = col[0];
            p[1] = col[1];
            p[2] = col[2];
          }
    }
  if (stats_out)
    *stats_out = mir_activation_stats (act, batch);
  return g_steal_pointer (&img);
}
