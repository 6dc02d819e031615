#define G_LOG_DOMAIN "mir-filter-pattern"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-filter-pattern.h"
#include "mir-error.h"

void
mir_filter_deprocess (float *x, gsize n, guint8 *out)
{
  double mean = 0, var = 0, std;

  for (gsize i = 0; i < n; i++)
    mean += x[i];
  mean /= (double) MAX (n, 1);
  for (gsize i = 0; i < n; i++)
    var += (x[i] - mean) * (x[i] - mean);
  std = sqrt (var / (double) MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      double y = (x[i] - mean) / (std + 1e-5);
      y = y * 0.1 + 0.5;
      y = CLAMP (y, 0.0, 1.0) * 255.0;
      x[i] = (float) y;
      out[i] = (guint8) CLAMP (y, 0.0, 255.0); /* astype('uint8') truncates */
    }
}

/* Per-channel affine map pixel → model input, from the model's preprocessing. */
static void
preprocess_affine (MirModel *model, int channels, float *a, float *b)
{
  static const float caffe_mean[3] = { 103.939f, 116.779f, 123.68f };
  static const float torch_mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float torch_std[3] = { 0.229f, 0.224f, 0.225f };

  for (int c = 0; c < channels; c++)
    {
      switch (model->meta.preprocess)
        {
        case MIR_PREPROCESS_SCALE:
          a[c] = 1.0f / 255.0f, b[c] = 0;
          break;
        case MIR_PREPROCESS_TF:
          a[c] = 1.0f / 127.5f, b[c] = -1.0f;
          break;
        case MIR_PREPROCESS_CAFFE:
          /* channel order is swapped too; the pattern is shown in the model's order */
          a[c] = 1.0f, b[c] = channels == 3 ? -caffe_mean[c] : 0;
          break;
        case MIR_PREPROCESS_TORCH:
          a[c] = channels == 3 ? 1.0f / (255.0f * torch_std[c]) : 1.0f / 255.0f;
          b[c] = channels == 3 ? -torch_mean[c] / torch_std[c] : 0;
          break;
        case MIR_PREPROCESS_NONE:
        default:
          a[c] = 1.0f, b[c] = 0;
          break;
        }
    }
}

static void
blur3 (float *x, int n, int size, int ch, float *tmp)
{
  /* separable [1 2 1]/4 blur with edge clamping, per sample and channel */
  for (int s = 0; s < n; s++)
    {
      float *img = x + (gsize) s * size * size * ch;
      for (int pass = 0; pass < 2; pass++)
        {
          memcpy (tmp, img, sizeof (float) * size * size * ch);
          for (int y = 0; y < size; y++)
            for (int xx = 0; xx < size; xx++)
              for (int c = 0; c < ch; c++)
                {
                  int y0 = pass ? MAX (y - 1, 0) : y, y1 = pass ? MIN (y + 1, size - 1) : y;
                  int x0 = pass ? xx : MAX (xx - 1, 0), x1 = pass ? xx : MIN (xx + 1, size - 1);
                  img[(y * size + xx) * ch + c] = 0.25f * tmp[(y0 * size + x0) * ch + c] +
                                                  0.5f * tmp[(y * size + xx) * ch + c] +
                                                  0.25f * tmp[(y1 * size + x1) * ch + c];
                }
        }
    }
}

static void
roll (float *x, int n, int size, int ch, const int *dx, const int *dy, float *tmp)
{
  for (int s = 0; s < n; s++)
    {
      float *img = x + (gsize) s * size * size * ch;
      memcpy (tmp, img, sizeof (float) * size * size * ch);
      for (int y = 0; y < size; y++)
        for (int xx = 0; xx < size; xx++)
          {
            int sy = ((y - dy[s]) % size + size) % size, sx = ((xx - dx[s]) % size + size) % size;
            memcpy (img + (y * size + xx) * ch, tmp + (sy * size + sx) * ch, sizeof (float) * ch);
          }
    }
}

gboolean
mir_filter_patterns (MirModel *model, gint layer, const gint *filters, guint n_filters,
                     const MirFilterOptions *options, MirFilterPatternFunc callback,
                     gpointer user_data, GCancellable *cancellable, GError **error)
{
  MirFilterOptions defaults = MIR_FILTER_OPTIONS_DEFAULT;
  const MirShape *in_shape;
  MirNode *node;
  g_autoptr(GRand) rng = NULL;
  int h, w, ch, batch;
  gint64 units;
  float a[3], b[3];

  if (options == NULL)
    options = &defaults;
  if (layer < 0 || (guint) layer >= mir_model_get_n_nodes (model))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No layer with index %d"), layer);
      return FALSE;
    }
  node = mir_model_get_node (model, (guint) layer);
  if (node->shape.ndim != 4 && node->shape.ndim != 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Filter patterns need a convolutional (4-D) or dense (2-D) layer; '%s' is "
                     "neither"), node->name);
      return FALSE;
    }
  units = node->shape.dim[node->shape.ndim - 1];
  for (guint i = 0; i < n_filters; i++)
    if (filters[i] < 0 || filters[i] >= units)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("Layer '%s' has %" PRId64 " filters; %d does not exist"),
                     node->name, units, filters[i]);
        return FALSE;
      }
  if (options->steps < 0 || options->steps > 10000 || options->size < 8 || options->size > 1024 ||
      !(options->step > 0 && options->step < 1e6))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Filter pattern settings out of range (size 8..1024, steps 0..10000, "
                     "step > 0)"));
      return FALSE;
    }
  if (mir_model_get_n_nodes (model) == 0 || model->inputs->len != 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Filter patterns need a model with one image input"));
      return FALSE;
    }
  in_shape = mir_model_get_input_shape (model, 0);
  if (in_shape->ndim != 4 || (in_shape->dim[3] != 1 && in_shape->dim[3] != 3))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Filter patterns need an image input (H×W×1 or H×W×3)"));
      return FALSE;
    }
  h = in_shape->dim[1] > 0 ? (int) in_shape->dim[1] : options->size;
  w = in_shape->dim[2] > 0 ? (int) in_shape->dim[2] : options->size;
  if (h != w)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Filter patterns need a square input; this model takes %d×%d"), w, h);
      return FALSE;
    }
  ch = (int) in_shape->dim[3];
  preprocess_affine (model, ch, a, b);
  rng = g_rand_new_with_seed (options->seed);
  batch = CLAMP (options->batch, 1, 256);

  for (guint first = 0; first < n_filters; first += (guint) batch)
    {
      guint n = MIN ((guint) batch, n_filters - first);
      g_autoptr(MirTensor) x = mir_tensor_new_4d (n, h, w, ch, error);   /* pixel units */
      g_autoptr(MirTensor) in = NULL;
      g_autofree float *tmp = g_new (float, (gsize) h * w * ch);
      g_autofree double *loss0 = g_new0 (double, n);
      g_autofree double *loss1 = g_new0 (double, n);
      gsize per = (gsize) h * w * ch;

      if (x == NULL)
        return FALSE;
      in = mir_tensor_new_like (x, error);
      if (in == NULL)
        return FALSE;
      for (gsize i = 0; i < x->numel; i++)
        x->data[i] = (float) (g_rand_double (rng) * 20.0 + 128.0);

      for (int step = 0; step <= options->steps; step++)
        {
          g_autoptr(MirTrace) trace = NULL;
          g_autoptr(MirTensor) seed = NULL;
          MirTensor *act, *g;
          gsize sp;
          int dx[256], dy[256];
          gboolean jitter = options->method == MIR_FILTER_METHOD_REGULARIZED && options->jitter > 0 &&
                            step < options->steps;

          if (jitter)
            {
              for (guint s = 0; s < n; s++)
                {
                  dx[s] = g_rand_int_range (rng, -options->jitter, options->jitter + 1);
                  dy[s] = g_rand_int_range (rng, -options->jitter, options->jitter + 1);
                }
              roll (x->data, (int) n, h, ch, dx, dy, tmp);
            }
          for (gsize i = 0; i < x->numel; i++)
            in->data[i] = a[i % ch] * x->data[i] + b[i % ch];
          trace = mir_model_run (model, &in, 1, MIR_RUN_FOR_BACKWARD, layer, 0, cancellable, error);
          if (trace == NULL)
            return FALSE;
          act = mir_trace_get (trace, (guint) layer);
          sp = act->numel / ((gsize) n * (gsize) units); /* spatial positions */
          seed = mir_tensor_new_like (act, error);
          if (seed == NULL)
            return FALSE;
          for (guint s = 0; s < n; s++)
            {
              double l = 0;
              gint f = filters[first + s];
              for (gsize p = 0; p < sp; p++)
                {
                  gsize idx = ((gsize) s * sp + p) * (gsize) units + (gsize) f;
                  l += act->data[idx];
                  seed->data[idx] = (float) (1.0 / (double) sp);
                }
              l /= (double) sp;
              if (step == 0)
                loss0[s] = l;
              loss1[s] = l;
            }
          if (step == options->steps)
            break; /* the last run only measures the final loss */
          if (!mir_trace_backward (trace, (guint) layer, seed, -1, MIR_BACKWARD_DEFAULT, cancellable,
                                   error))
            return FALSE;
          g = mir_trace_get_grad (trace, mir_model_get_input (model, 0));
          if (g == NULL)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                           _("Layer '%s' does not depend on the input"), node->name);
              return FALSE;
            }
          for (guint s = 0; s < n; s++)
            {
              float *gs = g->data + (gsize) s * per;
              float *xs = x->data + (gsize) s * per;
              double ms = 0, norm;

              for (gsize i = 0; i < per; i++)
                {
                  gs[i] *= a[i % ch]; /* chain rule through the preprocessing */
                  ms += (double) gs[i] * gs[i];
                }
              norm = sqrt (ms / (double) per) + 1e-5;
              for (gsize i = 0; i < per; i++)
                xs[i] += (float) (gs[i] / norm * options->step);
              if (options->method == MIR_FILTER_METHOD_REGULARIZED && options->decay > 0)
                for (gsize i = 0; i < per; i++)
                  xs[i] = 128.0f + (xs[i] - 128.0f) * (1.0f - options->decay);
            }
          if (jitter)
            {
              for (guint s = 0; s < n; s++)
                dx[s] = -dx[s], dy[s] = -dy[s];
              roll (x->data, (int) n, h, ch, dx, dy, tmp);
            }
          if (options->method == MIR_FILTER_METHOD_REGULARIZED && options->blur_every > 0 &&
              (step + 1) % options->blur_every == 0)
            blur3 (x->data, (int) n, h, ch, tmp);
        }

      for (guint s = 0; s < n; s++)
        {
          g_autoptr(MirImage) img = mir_image_new (w, h, ch, error);
          if (img == NULL)
            return FALSE;
          {
            g_autofree guint8 *bytes = g_malloc (per);
            mir_filter_deprocess (x->data + (gsize) s * per, per, bytes);
            for (int y = 0; y < h; y++)
              memcpy (img->pixels + y * img->rowstride, bytes + (gsize) y * w * ch, (gsize) w * ch);
          }
          if (callback)
            callback (first + s, filters[first + s], img, loss0[s], loss1[s], user_data);
        }
    }
  return TRUE;
}

MirImage *
mir_filter_grid (MirImage *const *patterns, guint n, int per_side, int margin, GError **error)
{
  g_autoptr(MirImage) grid = NULL;
  gboolean column_major;
  int size, rows, cols;

  if (n == 0 || per_side < 1 || margin < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No filter patterns to lay out"));
      return NULL;
    }
  size = patterns[0]->width;
  /* The seed fills an 8×8 square column by column (filter i + 8 j at row i,
   * column j); more patterns than a square are laid out row by row. */
  column_major = n <= (guint) per_side * (guint) per_side;
  if (column_major)
    {
      rows = (int) MIN (n, (guint) per_side);
      cols = (int) ((n + per_side - 1) / per_side);
    }
  else
    {
      cols = per_side;
      rows = (int) ((n + per_side - 1) / per_side);
    }
  grid = mir_image_new (cols * (size + margin) - margin, rows * (size + margin) - margin, 3, error);
  if (grid == NULL)
    return NULL;
  memset (grid->pixels, 0, grid->rowstride * grid->height);
  for (guint k = 0; k < n; k++)
    {
      int row = column_major ? (int) (k % per_side) : (int) (k / per_side);
      int col = column_major ? (int) (k / per_side) : (int) (k % per_side);
      const MirImage *p = patterns[k];
      int y0 = row * (size + margin), x0 = col * (size + margin);

      for (int y = 0; y < size && y < p->height; y++)
        for (int x = 0; x < size && x < p->width; x++)
          {
            const guint8 *s = p->pixels + y * p->rowstride + p->channels * x;
            guint8 *d = grid->pixels + (y0 + y) * grid->rowstride + 3 * (x0 + x);
            d[0] = s[0];
            d[1] = p->channels == 3 ? s[1] : s[0];
            d[2] = p->channels == 3 ? s[2] : s[0];
          }
    }
  return g_steal_pointer (&grid);
}
