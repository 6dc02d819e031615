/* mir-filter-pattern.h: the input pattern a filter responds to most, by
 * gradient ascent on the input.
 *
 * Seed method (seed 002, after Chollet's book), exactly:
 *
 *   x = uniform[0,1) · 20 + 128                      (pixel units, 0..255)
 *   repeat 40 times:  g = d mean(A[:, :, :, f]) / dx
 *                     x += g / (sqrt(mean(g²)) + 1e-5) · step
 *   deprocess: x −= mean; x /= std + 1e-5; x ·= 0.1; x += 0.5;
 *              clip to [0, 1]; x ·= 255; uint8
 *
 * Regularised method (Lucid / tf-keras-vis; Olah et al. 2017): the image is
 * x = 255 σ(colour(param(θ))) (mir-filter-param.h: pixel or Fourier
 * parameterisation with a 1/f spectrum, ImageNet-decorrelated colour); each
 * step the model sees a randomly jittered, scaled and rotated copy of x and
 * the gradient flows back through that warp exactly (its adjoint); the
 * objective's gradient (w.r.t. u = x / 255) is scaled to RMS 1, as the seed
 * does, and the penalty gradients are added relative to it:
 *
 *   ∇u = ĝ − tv · ∂TV(u)/∂u − blur_weight · (u − blur_σ(u))
 *
 * (TV anisotropic L1; the blur term is Lucid's blur_input_each_step, the
 * gradient of ½‖u − stopgrad(blur(u))‖²); θ then moves by Adam or SGD.  The
 * pattern is x itself, not deprocessed.  A filter that is off everywhere
 * on the flat start (a ReLU unit: no gradient at all) follows the gradient
 * of its mean before the activation (Lucid's "_pre_relu") until it turns
 * on.
 *
 * Both methods feed preprocess(x) with the model's own preprocessing, so
 * patterns live in pixel units for every model.  Only the layers up to the
 * chosen one run; when they are fully convolutional (mir_model_prefix_any_size)
 * they run at the pattern size whatever the model's input size, past a
 * leading Resizing layer (the seed makes VGG16's patterns at 64 px).  Many filters are optimised
 * at once as one batch (one forward and one backward per step for the whole
 * batch); each filter's random numbers come from (seed, filter), so a
 * pattern does not depend on which other filters share its batch.
 *
 * A 2-D (Dense) layer gives class patterns: its score before a softmax or
 * sigmoid activation is maximised. */
#pragma once

#include <gio/gio.h>

#include "mir-model.h"
#include "mir-image.h"
#include "mir-filter-cache.h"

G_BEGIN_DECLS

typedef enum
{
  MIR_FILTER_METHOD_SEED,        /* exactly the recipe above */
  MIR_FILTER_METHOD_REGULARIZED, /* transforms + penalties + parameterisation + Adam */
} MirFilterMethod;

typedef enum
{
  MIR_FILTER_PARAM_PIXEL,
  MIR_FILTER_PARAM_FOURIER,
} MirFilterParamKind;

typedef enum
{
  MIR_FILTER_OPTIMIZER_ADAM,  /* β 0.9, 0.999, ε 1e-8 */
  MIR_FILTER_OPTIMIZER_SGD,
} MirFilterOptimizer;

typedef struct
{
  MirFilterMethod method;
  int size;        /* pattern side; 0: automatic (64 px, or the model's input if smaller,
                    * larger if the layer has no output at 64).  A layer whose prefix is
                    * fully convolutional is made at any size (only the layers up to it
                    * run, after the leading Resizing); one behind a Flatten or Dense
                    * layer only at the model's own input size (else an error) */
  int steps;       /* seed: 40 */
  float step;      /* seed method's step size; seed: 1 */
  guint32 seed;    /* noise seed */
  int batch;       /* filters optimised together (default 64: a whole grid at once) */
  /* regularised method */
  int jitter;      /* ± pixels of random shift per step */
  float scale_min, scale_max; /* random scale range per step */
  float rotate;    /* ± degrees of random rotation per step */
  float tv;        /* total-variation weight */
  float blur;      /* blur-penalty σ in pixels (0 = off) */
  float blur_weight;
  MirFilterParamKind param;
  gboolean decorrelate; /* ImageNet colour decorrelation (3-channel inputs) */
  MirFilterOptimizer optimizer;
  float lr;        /* learning rate; 0 = 0.05 for Adam, 1 for SGD */
} MirFilterOptions;

#define MIR_FILTER_OPTIONS_DEFAULT                                              \
  { MIR_FILTER_METHOD_SEED, 0, 40, 1.0f, 1, 64,                                 \
    4, 0.9f, 1.1f, 10.0f, 0.05f, 0.0f, 1.0f,                                    \
    MIR_FILTER_PARAM_FOURIER, TRUE, MIR_FILTER_OPTIMIZER_ADAM, 0.0f }

/* Called on the calling thread as each pattern finishes (in filter order;
 * with a cache, the cached ones first). */
typedef void (*MirFilterPatternFunc) (guint index, gint filter, MirImage *pattern,
                                      double loss_start, double loss_end, gpointer user_data);
/* Progressive display: the current image of filter number @index, 1×H×W×C
 * floats in 0..255 as it would be shown (the seed method's deprocess
 * applied).  Called every @preview_every steps and once when it is done. */
typedef void (*MirFilterProgressFunc) (guint index, const MirTensor *img, gpointer data);

/* Patterns for @filters of node @layer (a 4-D output; or a 2-D Dense output,
 * where "filter" is a unit: class patterns).  Returns FALSE on error or
 * cancellation. */
gboolean  mir_filter_patterns      (MirModel               *model,
                                    gint                    layer,
                                    const gint             *filters,
                                    guint                   n_filters,
                                    const MirFilterOptions *options,
                                    MirFilterPatternFunc    callback,
                                    gpointer                user_data,
                                    GCancellable           *cancellable,
                                    GError                **error);
/* The same with a cache (may be NULL) and a progress hook (may be NULL;
 * gets @user_data too). */
gboolean  mir_filter_patterns_full (MirModel               *model,
                                    gint                    layer,
                                    const gint             *filters,
                                    guint                   n_filters,
                                    const MirFilterOptions *options,
                                    MirFilterCache         *cache,
                                    MirFilterProgressFunc   on_pattern,
                                    guint                   preview_every,
                                    MirFilterPatternFunc    callback,
                                    gpointer                user_data,
                                    GCancellable           *cancellable,
                                    GError                **error);

/* The cache key of one pattern: SHA-256 over @model_id
 * (mir_filter_cache_model_id), the layer, the filter, the effective image
 * size and every setting that changes the result (not the batch size). */
char     *mir_filter_pattern_key   (const char             *model_id,
                                    gint                    layer,
                                    gint                    filter,
                                    int                     size,
                                    const MirFilterOptions *options);

/* Seed 002's deprocess_image on @n floats (modified in place) into bytes. */
void      mir_filter_deprocess     (float *x, gsize n, guint8 *out);

/* Lays out patterns (all the same size) as the seed does: an 8×8 grid where
 * pattern i + 8 j sits at row i, column j, @margin pixels apart, black
 * background. */
MirImage *mir_filter_grid          (MirImage *const *patterns, guint n, int per_side, int margin,
                                    GError **error);
/* Side by side: for each filter a column with @top[i] above @bottom[i]
 * (seed above regularised), @per_row filters per band, bands 3·margin apart. */
MirImage *mir_filter_compare_grid  (MirImage *const *top, MirImage *const *bottom, guint n,
                                    int per_row, int margin, GError **error);

G_END_DECLS
