/* mir-filter-param.c: image parameterisations, warps and penalties of the
 * regularised filter-pattern method (see the header for the maths). */
#define G_LOG_DOMAIN "mir-filter-param"

#include <math.h>
#include <string.h>

#include "mir-filter-param.h"
#include "mir-fft.h"

/* Lucid's color_correlation_svd_sqrt (RGB), before normalisation. */
static const double color_sqrt[3][3] = {
  { 0.26, 0.09, 0.02 },
  { 0.27, 0.00, -0.05 },
  { 0.27, -0.09, 0.03 },
};

struct _MirImageParam
{
  int h, w, ch;
  gboolean fourier;
  gboolean decorrelate;
  double m[3][3];      /* colour matrix: c = m t */
  MirFft *fft_w, *fft_h;
  double *freq_scale;  /* h·w: s_k / (4 N) */
  double *spec;        /* 2·h·w scratch */
  float *t;            /* h·w·ch scratch */
};

MirImageParam *
mir_image_param_new (int h, int w, int ch, gboolean fourier, gboolean decorrelate)
{
  MirImageParam *self = g_new0 (MirImageParam, 1);
  double maxnorm = 0;

  self->h = h;
  self->w = w;
  self->ch = ch;
  self->fourier = fourier;
  self->decorrelate = decorrelate && ch == 3;
  for (int j = 0; j < 3; j++)
    {
      double n = 0;
      for (int i = 0; i < 3; i++)
        n += color_sqrt[i][j] * color_sqrt[i][j];
      maxnorm = MAX (maxnorm, sqrt (n));
    }
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      self->m[i][j] = color_sqrt[i][j] / maxnorm;
  self->t = g_new (float, (gsize) h * w * ch);
  if (fourier)
    {
      double n = (double) h * w, fmin = 1.0 / MAX (h, w);

      self->fft_w = mir_fft_new ((guint) w);
      self->fft_h = mir_fft_new ((guint) h);
      self->freq_scale = g_new (double, (gsize) h * w);
      self->spec = g_new (double, 2 * (gsize) h * w);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            /* numpy.fft.fftfreq */
            double fy = (double) (y <= (h - 1) / 2 ? y : y - h) / h;
            double fx = (double) (x <= (w - 1) / 2 ? x : x - w) / w;
            double f = MAX (sqrt (fx * fx + fy * fy), fmin);
            self->freq_scale[y * w + x] = sqrt (n) / f / (4.0 * n);
          }
    }
  return self;
}

void
mir_image_param_free (MirImageParam *self)
{
  if (self == NULL)
    return;
  mir_fft_free (self->fft_w);
  mir_fft_free (self->fft_h);
  g_free (self->freq_scale);
  g_free (self->spec);
  g_free (self->t);
  g_free (self);
}

gsize
mir_image_param_get_size (const MirImageParam *self)
{
  return (gsize) self->h * self->w * self->ch * (self->fourier ? 2 : 1);
}

void
mir_image_param_init (MirImageParam *self, float *theta, GRand *rng)
{
  gsize n = mir_image_param_get_size (self);

  /* Box–Muller */
  for (gsize i = 0; i < n; i += 2)
    {
      double u1 = 1.0 - g_rand_double (rng), u2 = g_rand_double (rng);
      double r = sqrt (-2.0 * log (u1)) * 0.01;
      theta[i] = (float) (r * cos (2 * G_PI * u2));
      if (i + 1 < n)
        theta[i + 1] = (float) (r * sin (2 * G_PI * u2));
    }
}

/* θ → t (self->t) */
static void
param_forward (MirImageParam *self, const float *theta)
{
  gsize hw = (gsize) self->h * self->w;

  if (!self->fourier)
    {
      memcpy (self->t, theta, sizeof (float) * hw * self->ch);
      return;
    }
  /* θ per channel: h·w real parts then h·w imaginary parts */
  for (int c = 0; c < self->ch; c++)
    {
      const float *re = theta + (gsize) c * 2 * hw, *im = re + hw;
      for (gsize k = 0; k < hw; k++)
        {
          self->spec[2 * k] = self->freq_scale[k] * re[k];
          self->spec[2 * k + 1] = self->freq_scale[k] * im[k];
        }
      mir_fft_run_2d (self->fft_w, self->fft_h, self->spec, TRUE);
      for (gsize k = 0; k < hw; k++)
        self->t[k * self->ch + c] = (float) self->spec[2 * k];
    }
}

static inline void
colour (const MirImageParam *self, const float *t, double *c)
{
  if (!self->decorrelate)
    {
      for (int i = 0; i < self->ch; i++)
        c[i] = t[i];
      return;
    }
  for (int i = 0; i < 3; i++)
    c[i] = self->m[i][0] * t[0] + self->m[i][1] * t[1] + self->m[i][2] * t[2];
}

void
mir_image_param_render (MirImageParam *self, const float *theta, float *x)
{
  gsize hw = (gsize) self->h * self->w;

  param_forward (self, theta);
  for (gsize p = 0; p < hw; p++)
    {
      double c[3];
      colour (self, self->t + p * self->ch, c);
      for (int i = 0; i < self->ch; i++)
        x[p * self->ch + i] = (float) (255.0 / (1.0 + exp (-c[i])));
    }
}

void
mir_image_param_backward (MirImageParam *self, const float *theta, const float *grad_x,
                          float *grad_theta)
{
  gsize hw = (gsize) self->h * self->w;
  float *gt = self->fourier ? g_new (float, hw * self->ch) : grad_theta;

  param_forward (self, theta);
  for (gsize p = 0; p < hw; p++)
    {
      double c[3], gc[3];
      colour (self, self->t + p * self->ch, c);
      for (int i = 0; i < self->ch; i++)
        {
          double s = 1.0 / (1.0 + exp (-c[i]));
          gc[i] = grad_x[p * self->ch + i] * 255.0 * s * (1.0 - s);
        }
      if (self->decorrelate)
        for (int j = 0; j < 3; j++)
          gt[p * 3 + j] = (float) (self->m[0][j] * gc[0] + self->m[1][j] * gc[1] +
                                   self->m[2][j] * gc[2]);
      else
        for (int i = 0; i < self->ch; i++)
          gt[p * self->ch + i] = (float) gc[i];
    }
  if (!self->fourier)
    return;
  /* t = Re IFFT(s·S): ∂L/∂S_re + i ∂L/∂S_im = s · FFT(∂L/∂t) */
  for (int c = 0; c < self->ch; c++)
    {
      float *re = grad_theta + (gsize) c * 2 * hw, *im = re + hw;
      for (gsize k = 0; k < hw; k++)
        {
          self->spec[2 * k] = gt[k * self->ch + c];
          self->spec[2 * k + 1] = 0;
        }
      mir_fft_run_2d (self->fft_w, self->fft_h, self->spec, FALSE);
      for (gsize k = 0; k < hw; k++)
        {
          re[k] = (float) (self->freq_scale[k] * self->spec[2 * k]);
          im[k] = (float) (self->freq_scale[k] * self->spec[2 * k + 1]);
        }
    }
  g_free (gt);
}

/* ------------------------------------------------------------------ */
/* Warps */

static inline int
mirror (int i, int n)
{
  int period = 2 * n;

  i %= period;
  if (i < 0)
    i += period;
  return i < n ? i : period - 1 - i;
}

/* For output pixel (x, y): the four source indices and weights. */
static inline void
warp_taps (int x, int y, int h, int w, const double a[4], const MirWarp *warp, int idx[4],
           float wt[4])
{
  double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  double u = x - cx - warp->dx, v = y - cy - warp->dy;
  double sx = a[0] * u + a[1] * v + cx, sy = a[2] * u + a[3] * v + cy;
  double fx = floor (sx), fy = floor (sy);
  double tx = sx - fx, ty = sy - fy;
  int x0 = (int) fx, y0 = (int) fy;
  int xa = mirror (x0, w), xb = mirror (x0 + 1, w), ya = mirror (y0, h), yb = mirror (y0 + 1, h);

  idx[0] = ya * w + xa;
  idx[1] = ya * w + xb;
  idx[2] = yb * w + xa;
  idx[3] = yb * w + xb;
  wt[0] = (float) ((1 - tx) * (1 - ty));
  wt[1] = (float) (tx * (1 - ty));
  wt[2] = (float) ((1 - tx) * ty);
  wt[3] = (float) (tx * ty);
}

/* A⁻¹ = rotation(−angle) / scale */
static void
warp_inverse (const MirWarp *warp, double a[4])
{
  double c = cos (warp->angle) / warp->scale, s = sin (warp->angle) / warp->scale;

  a[0] = c;
  a[1] = s;
  a[2] = -s;
  a[3] = c;
}

void
mir_warp_apply (const float *src, float *dst, int h, int w, int ch, const MirWarp *warp)
{
  double a[4];

  warp_inverse (warp, a);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        int idx[4];
        float wt[4];
        float *d = dst + ((gsize) y * w + x) * ch;

        warp_taps (x, y, h, w, a, warp, idx, wt);
        for (int c = 0; c < ch; c++)
          d[c] = wt[0] * src[(gsize) idx[0] * ch + c] + wt[1] * src[(gsize) idx[1] * ch + c] +
                 wt[2] * src[(gsize) idx[2] * ch + c] + wt[3] * src[(gsize) idx[3] * ch + c];
      }
}

void
mir_warp_adjoint (const float *grad_dst, float *grad_src, int h, int w, int ch,
                  const MirWarp *warp)
{
  double a[4];

  warp_inverse (warp, a);
  memset (grad_src, 0, sizeof (float) * (gsize) h * w * ch);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        int idx[4];
        float wt[4];
        const float *g = grad_dst + ((gsize) y * w + x) * ch;

        warp_taps (x, y, h, w, a, warp, idx, wt);
        for (int k = 0; k < 4; k++)
          for (int c = 0; c < ch; c++)
            grad_src[(gsize) idx[k] * ch + c] += wt[k] * g[c];
      }
}

/* ------------------------------------------------------------------ */
/* Penalties */

double
mir_total_variation (const float *u, int h, int w, int ch, float weight, float *grad)
{
  double tv = 0;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < ch; c++)
        {
          gsize p = ((gsize) y * w + x) * ch + c;
          for (int dir = 0; dir < 2; dir++)
            {
              gsize q;
              float d;

              if ((dir == 0 && x + 1 >= w) || (dir == 1 && y + 1 >= h))
                continue;
              q = dir == 0 ? p + (gsize) ch : p + (gsize) w * ch;
              d = u[q] - u[p];
              tv += fabsf (d);
              if (grad && d != 0)
                {
                  float s = d > 0 ? weight : -weight;
                  grad[q] += s;
                  grad[p] -= s;
                }
            }
        }
  return tv;
}

void
mir_gaussian_blur (const float *u, float *out, int h, int w, int ch, double sigma)
{
  int r = (int) ceil (3 * sigma);
  g_autofree float *k = g_new (float, 2 * r + 1);
  g_autofree float *tmp = g_new (float, (gsize) h * w * ch);
  double sum = 0;

  for (int i = -r; i <= r; i++)
    sum += k[i + r] = (float) exp (-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);
  for (int pass = 0; pass < 2; pass++)
    {
      const float *src = pass == 0 ? u : tmp;
      float *dst = pass == 0 ? tmp : out;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          for (int c = 0; c < ch; c++)
            {
              float acc = 0;
              for (int i = -r; i <= r; i++)
                {
                  int sx = pass == 0 ? mirror (x + i, w) : x, sy = pass == 1 ? mirror (y + i, h) : y;
                  acc += k[i + r] * src[((gsize) sy * w + sx) * ch + c];
                }
              dst[((gsize) y * w + x) * ch + c] = acc;
            }
    }
}
