/* mir-fft.h: a small mixed-radix complex FFT (any length; prime factors are
 * done as direct sums, so it is fast for lengths made of small primes such
 * as 28, 32, 64, 150, 224) and its 2-D form, for the Fourier image
 * parameterisation of mir-filter-param.c.  Double precision, interleaved
 * (re, im) pairs, unnormalised in both directions:
 *
 *   forward  X[k] = Σ_n x[n] e^{−2πi kn/N}
 *   inverse  x[n] = Σ_k X[k] e^{+2πi kn/N}     (divide by N yourself) */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MirFft MirFft;

MirFft *mir_fft_new     (guint n);
void    mir_fft_free    (MirFft *self);
guint   mir_fft_get_n   (const MirFft *self);
/* In place on @data (2·n doubles). */
void    mir_fft_run     (const MirFft *self, double *data, gboolean inverse);
/* In place on an h×w complex image (row-major, 2·h·w doubles): @rows has
 * length w, @cols length h. */
void    mir_fft_run_2d  (const MirFft *rows, const MirFft *cols, double *data, gboolean inverse);
/* The O(n²) definition, out of place: the tests' reference. */
void    mir_dft_naive   (const double *in, double *out, guint n, gboolean inverse);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirFft, mir_fft_free)

G_END_DECLS
