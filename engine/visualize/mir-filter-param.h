/* mir-filter-param.h: the pieces of the regularised filter-pattern method
 * (Lucid's recipe, Olah et al. 2017 "Feature Visualization"), each with its
 * exact adjoint so that gradients flow from the model input back to the
 * optimised parameters:
 *
 *   θ ─param─▶ t ─colour─▶ c ─sigmoid─▶ x = 255 σ(c) ─warp─▶ y ─preprocess─▶ model
 *
 * param:  pixel (t = θ) or Fourier (t = Re IFFT2(s_k · S_k) / (4 N), S
 *         complex, s_k = √N / max(|f_k|, 1 / max(h, w)): a 1/f spectrum, so
 *         every frequency band starts with about the same energy; Lucid's
 *         fft_image over the full rather than the half spectrum).
 * colour: for 3 channels, optionally decorrelated: c = M t per pixel with
 *         Lucid's square root of the ImageNet colour correlation matrix,
 *         columns normalised to a largest norm of 1 (lucid/optvis/param/
 *         color.py); identity otherwise.
 * warp:   y(p) = x(A⁻¹(p − centre − shift) + centre), bilinear, mirrored at
 *         the border, A = scale · rotation: random jitter, scale and rotation
 *         each step.  Its adjoint scatters with the same weights.
 *
 * Not thread-safe per object (it holds FFT scratch); make one per worker. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MirImageParam MirImageParam;

typedef struct
{
  double scale;   /* > 0 */
  double angle;   /* radians, counter-clockwise */
  double dx, dy;  /* pixels */
} MirWarp;

MirImageParam *mir_image_param_new      (int h, int w, int ch, gboolean fourier,
                                         gboolean decorrelate);
void           mir_image_param_free     (MirImageParam *self);
/* Floats of θ for one image. */
gsize          mir_image_param_get_size (const MirImageParam *self);
/* θ ~ N(0, 0.01²) as Lucid starts. */
void           mir_image_param_init     (MirImageParam *self, float *theta, GRand *rng);
/* x (h·w·ch pixels in 0..255) from θ. */
void           mir_image_param_render   (MirImageParam *self, const float *theta, float *x);
/* dL/dθ (overwritten) from dL/dx at θ. */
void           mir_image_param_backward (MirImageParam *self, const float *theta,
                                         const float *grad_x, float *grad_theta);

/* dst = warp(src); dst and src are h×w×ch. */
void           mir_warp_apply           (const float *src, float *dst, int h, int w, int ch,
                                         const MirWarp *warp);
/* grad_src = warpᵀ(grad_dst) (overwritten). */
void           mir_warp_adjoint         (const float *grad_dst, float *grad_src, int h, int w,
                                         int ch, const MirWarp *warp);

/* Anisotropic total variation Σ |u(p + e) − u(p)| over right and down
 * neighbours and channels; returns it and adds weight · ∂TV/∂u into @grad
 * (which may be NULL). */
double         mir_total_variation      (const float *u, int h, int w, int ch, float weight,
                                         float *grad);
/* out = Gaussian blur of u (σ in pixels, mirrored border). */
void           mir_gaussian_blur        (const float *u, float *out, int h, int w, int ch,
                                         double sigma);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirImageParam, mir_image_param_free)

G_END_DECLS
