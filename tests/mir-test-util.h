/* Test helpers shared by the engine tests: one-layer models and
 * finite-difference gradient checks (after GGML's test-backend-ops). */
#pragma once

#include "mir.h"
#include "detect/mir-detect.h"

G_BEGIN_DECLS

/* A model with @n_in inputs of the given shapes (dim[0] ignored) feeding one
 * layer of Keras class @class_name with the JSON @config (may be NULL), its
 * weights drawn uniformly from [-1, 1) with @seed (BatchNormalization's
 * moving_variance from [0.5, 1.5)).  Returns NULL + error on failure. */
MirModel  *mir_test_layer_model (const char     *class_name,
                                 const char     *config_json,
                                 guint           n_in,
                                 const MirShape *in_shapes,
                                 guint32         seed,
                                 GError        **error);

/* A tensor of @shape (batch included) with values uniform in [lo, hi). */
MirTensor *mir_test_random_tensor (guint ndim, const gint64 *shape, float lo, float hi,
                                   GRand *rng);

/* Sets every weight of @model uniform in [-0.5, 0.5) (BatchNormalization
 * variances in [0.5, 1.5)) from @seed, then finishes the model. */
void       mir_test_fill_weights  (MirModel *model, guint32 seed);

typedef struct
{
  double eps;          /* central-difference step (default 1e-2 when 0) */
  guint max_checks;    /* elements checked per tensor (default 64 when 0) */
  gboolean weights;    /* also check trainable weights */
  MirRunFlags flags;   /* extra run flags (e.g. MIR_RUN_TRAINING) */
  guint64 run_seed;    /* seed for stochastic layers (same in every run) */
} MirGradcheckOptions;

typedef struct
{
  double rel_error;    /* ||analytic - numeric|| / (||analytic|| + ||numeric|| + 1e-12) */
  double max_abs;      /* worst |analytic - numeric| */
  char *worst;         /* description of the worst element */
  guint n_checked;
} MirGradcheckResult;

/* Checks d(sum(out * R))/d(input) (and weights) of the model's first output
 * against central differences, R fixed random.  Inputs are perturbed in
 * place and restored. */
gboolean   mir_test_gradcheck (MirModel                  *model,
                               MirTensor *const          *inputs,
                               guint                      n_inputs,
                               const MirGradcheckOptions *options,
                               MirGradcheckResult        *result,
                               GError                   **error);
void       mir_gradcheck_result_clear (MirGradcheckResult *result);

/* Asserts the check passed with rel_error <= tol, printing the worst element. */
#define mir_assert_gradcheck(model, inputs, n, opts, tol)                          \
  G_STMT_START {                                                                   \
    MirGradcheckResult _r = { 0 };                                                 \
    GError *_e = NULL;                                                             \
    gboolean _ok = mir_test_gradcheck ((model), (inputs), (n), (opts), &_r, &_e);  \
    g_assert_no_error (_e);                                                        \
    g_assert_true (_ok);                                                           \
    if (_r.rel_error > (tol))                                                      \
      g_test_message ("gradcheck: rel error %.3g > %.3g, worst %s",                \
                      _r.rel_error, (double) (tol), _r.worst);                     \
    g_assert_cmpfloat (_r.rel_error, <=, (tol));                                   \
    g_assert_cmpuint (_r.n_checked, >, 0);                                         \
    mir_gradcheck_result_clear (&_r);                                              \
  } G_STMT_END

/* A layer of Keras class @class_name from the JSON @config_json (asserts
 * on failure). */
MirLayer  *mir_test_layer_new (const char *class_name, const char *name,
                               const char *config_json);
/* Adds such a layer as node @name on @inputs; returns its index (asserts). */
guint      mir_test_add_node  (MirModel *model, const char *class_name, const char *name,
                               const char *config_json, const guint *inputs, guint n_inputs);

/* A model from a Keras JSON config, weights initialised from @seed
 * (asserts on failure). */
MirModel  *mir_test_model_from_config (const char *json, guint32 seed);
/* Σ of squared central differences along x and along y of channel 0 of
 * @img, inside a one-pixel border: stripes across x give ex ≫ ey. */
void       mir_test_gradient_energy   (const MirImage *img, double *ex, double *ey);

/* Iterates the default main context until @done (@data) holds, or fails
 * naming @what after @timeout_s seconds (callers scale it for sanitizer
 * builds).  A 50 ms wake-up makes the check run when nothing else happens.
 * The GUI and session tests' one wait. */
void       mir_test_wait_until        (gboolean   (*done) (gpointer),
                                       gpointer     data,
                                       double       timeout_s,
                                       const char  *what);

/* Removes @path and everything under it (not following symbolic links). */
void       mir_test_remove_tree       (const char *path);

/* A home of the run's own: a new temporary folder (prefix @prefix) with
 * home, data, config, cache and state folders that HOME and XDG_*_HOME now
 * name, set before GTK or GLib read them, so the recent-files list, caches
 * and configuration never touch the developer's and every run starts empty.
 * Returns the folder (g_free; mir_test_remove_tree it at the end). */
char      *mir_test_private_home      (const char *prefix);

/* MIRADA_TEST_TIME_SCALE (>= 1; sanitizer builds run the UI several times
 * slower), or 1. */
double     mir_test_time_scale        (void);

/* Appends to @args (char*, g_free) the `mirada detect` options that give
 * @params: method, grouping, IoU, radius, Gaussian means, every class's
 * threshold, exception factor and complement by index, --classes. */
void mir_test_detect_params_args (GPtrArray *args, const MirDetectParams *params);

G_END_DECLS
