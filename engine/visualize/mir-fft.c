/* mir-fft.c: recursive decimation-in-time Cooley–Tukey over the smallest
 * prime factor of each (sub)length, with one twiddle table per plan. */
#define G_LOG_DOMAIN "mir-fft"

#include <math.h>
#include <string.h>

#include "mir-fft.h"

struct _MirFft
{
  guint n;
  double *tw;      /* cos, sin of 2π j / n, j < n */
  double *work;    /* 2·n doubles: the recursion's output */
  double *tmp;     /* 2·(largest prime factor) doubles */
};

static guint
smallest_factor (guint n)
{
  if (n % 2 == 0)
    return 2;
  for (guint p = 3; p * p <= n; p += 2)
    if (n % p == 0)
      return p;
  return n;
}

MirFft *
mir_fft_new (guint n)
{
  MirFft *self = g_new0 (MirFft, 1);
  guint maxp = 1;

  g_return_val_if_fail (n > 0, NULL);
  self->n = n;
  self->tw = g_new (double, 2 * (gsize) n);
  self->work = g_new (double, 2 * (gsize) n);
  for (guint j = 0; j < n; j++)
    {
      self->tw[2 * j] = cos (2.0 * G_PI * j / n);
      self->tw[2 * j + 1] = sin (2.0 * G_PI * j / n);
    }
  for (guint m = n; m > 1; m /= smallest_factor (m))
    maxp = MAX (maxp, smallest_factor (m));
  self->tmp = g_new (double, 2 * (gsize) maxp);
  return self;
}

void
mir_fft_free (MirFft *self)
{
  if (self == NULL)
    return;
  g_free (self->tw);
  g_free (self->work);
  g_free (self->tmp);
  g_free (self);
}

guint
mir_fft_get_n (const MirFft *self)
{
  return self->n;
}

/* out[0..n) = DFT of in[0], in[stride], ...; twiddles step N/n. */
static void
fft_rec (const MirFft *self, const double *in, gsize stride, double *out, guint n, double sign)
{
  guint p, m;
  gsize step;
  double *t = self->tmp;

  if (n == 1)
    {
      out[0] = in[0];
      out[1] = in[1];
      return;
    }
  p = smallest_factor (n);
  m = n / p;
  for (guint q = 0; q < p; q++)
    fft_rec (self, in + 2 * q * stride, stride * p, out + 2 * (gsize) q * m, m, sign);
  step = self->n / n;
  if (p == 2)
    {
      /* radix 2: X[k] = Y0[k] + W^k Y1[k], X[k + m] = Y0[k] − W^k Y1[k] */
      for (guint k = 0; k < m; k++)
        {
          double *a = out + 2 * (gsize) k, *b = out + 2 * ((gsize) k + m);
          double c = self->tw[2 * k * step], sn = sign * self->tw[2 * k * step + 1];
          double br = b[0] * c - b[1] * sn, bi = b[0] * sn + b[1] * c;
          b[0] = a[0] - br;
          b[1] = a[1] - bi;
          a[0] += br;
          a[1] += bi;
        }
      return;
    }
  /* X[k + r m] = Σ_q W^{q (k + r m)} Y_q[k], W = e^{sign 2πi / n} */
  for (guint k = 0; k < m; k++)
    {
      for (guint q = 0; q < p; q++)
        {
          t[2 * q] = out[2 * ((gsize) q * m + k)];
          t[2 * q + 1] = out[2 * ((gsize) q * m + k) + 1];
        }
      for (guint r = 0; r < p; r++)
        {
          double re = 0, im = 0;
          guint kk = k + r * m, j = 0; /* j = q · kk mod n */
          for (guint q = 0; q < p; q++)
            {
              double c = self->tw[2 * (gsize) j * step], sn = sign * self->tw[2 * (gsize) j * step + 1];
              re += t[2 * q] * c - t[2 * q + 1] * sn;
              im += t[2 * q] * sn + t[2 * q + 1] * c;
              j += kk;
              if (j >= n)
                j -= n;
            }
          out[2 * (gsize) kk] = re;
          out[2 * (gsize) kk + 1] = im;
        }
    }
}

void
mir_fft_run (const MirFft *self, double *data, gboolean inverse)
{
  fft_rec (self, data, 1, self->work, self->n, inverse ? 1.0 : -1.0);
  memcpy (data, self->work, sizeof (double) * 2 * self->n);
}

void
mir_fft_run_2d (const MirFft *rows, const MirFft *cols, double *data, gboolean inverse)
{
  guint w = rows->n, h = cols->n;
  g_autofree double *col = g_new (double, 2 * (gsize) h);

  for (guint y = 0; y < h; y++)
    mir_fft_run (rows, data + 2 * (gsize) y * w, inverse);
  for (guint x = 0; x < w; x++)
    {
      for (guint y = 0; y < h; y++)
        {
          col[2 * y] = data[2 * ((gsize) y * w + x)];
          col[2 * y + 1] = data[2 * ((gsize) y * w + x) + 1];
        }
      mir_fft_run (cols, col, inverse);
      for (guint y = 0; y < h; y++)
        {
          data[2 * ((gsize) y * w + x)] = col[2 * y];
          data[2 * ((gsize) y * w + x) + 1] = col[2 * y + 1];
        }
    }
}

void
mir_dft_naive (const double *in, double *out, guint n, gboolean inverse)
{
  double sign = inverse ? 1.0 : -1.0;

  for (guint k = 0; k < n; k++)
    {
      double re = 0, im = 0;
      for (guint j = 0; j < n; j++)
        {
          double a = sign * 2.0 * G_PI * (double) ((guint64) k * j % n) / n;
          re += in[2 * j] * cos (a) - in[2 * j + 1] * sin (a);
          im += in[2 * j] * sin (a) + in[2 * j + 1] * cos (a);
        }
      out[2 * k] = re;
      out[2 * k + 1] = im;
    }
}
