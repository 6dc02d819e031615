/* mir-detect.h: the sliding-window detector of the seed report (methods 1,
 * 2.1 and 2.2), generalised to any classifier.
 *
 * Three stages, from expensive to cheap:
 *
 *   (a) geometry: image size, window side, stride -> a grid of rows × cols
 *       windows (MirDetectGeometry).  Window n sits at row n / cols, column
 *       n % cols (the seed's `cord_mat`, row-major) and covers the pixels
 *       x = col·stride, y = row·stride, window × window.
 *   (b) classification: every window cropped, resized to the model input,
 *       run through the model in batches -> an immutable, reference-counted
 *       probability grid (MirDetectGrid).  Slow; run it in a worker thread
 *       and cache it keyed by model + image + window + stride + layout.
 *   (c) filtering: thresholds, exception factors, neighbourhood means, μ,
 *       grouping -> boxes (MirDetectResult).  Cheap (well under 1 ms for
 *       1000 windows); re-run it on the UI thread on every slider move.
 *
 * Plus evaluation against ground truth (precision / recall / F1 at an IoU,
 * count error).  Plain C over GLib; see docs/detector.md for the methods and
 * the notebook-compatible mode.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "mir-model.h"
#include "mir-image.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------ */
/* (a) Geometry */

typedef struct
{
  int image_width;
  int image_height;
  int window;          /* window side in pixels */
  int stride;          /* step between windows in pixels */
  int rows;            /* floor ((H - window) / stride) + 1 */
  int cols;            /* floor ((W - window) / stride) + 1, minus 1 in notebook layout */
  gboolean notebook_layout;
} MirDetectGeometry;

/* Fills @geom.  Errors (MIR_ERROR_INVALID) for stride or window < 1, a
 * window larger than the image, or a notebook layout with a single column.
 * @notebook_layout leaves the last column of positions out, as the seed's
 * notebook does (its 400×800 photo at 150/40 gives 7×16 = 112 windows where
 * 7×17 fit). */
gboolean mir_detect_geometry_init (MirDetectGeometry *geom,
                                   int                image_width,
                                   int                image_height,
                                   int                window,
                                   int                stride,
                                   gboolean           notebook_layout,
                                   GError           **error);
static inline guint
mir_detect_geometry_n_windows (const MirDetectGeometry *geom)
{
  return (guint) geom->rows * (guint) geom->cols;
}
/* Pixel rectangle of window @n (x, y, side). */
void     mir_detect_geometry_window_rect (const MirDetectGeometry *geom,
                                          guint                    n,
                                          int                     *x,
                                          int                     *y,
                                          int                     *size);

/* ------------------------------------------------------------------ */
/* (b) Probability grid */

typedef struct _MirDetectGrid MirDetectGrid;

/* Immutable once made; share it between threads by reference. */
struct _MirDetectGrid
{
  gatomicrefcount ref_count;
  MirDetectGeometry geom;
  guint n_classes;     /* columns of @probs (a binary sigmoid model gives 2) */
  char **class_names;  /* NULL-terminated, n_classes names */
  MirHeadKind head;    /* what the model's output was */
  float *probs;        /* rows·cols·n_classes; window n, class c at [n·n_classes + c] */
  double scale;        /* image pixels per pixel of the scanned image: 1 unless the grid is a
                        * pyramid level (the image shrunk by @scale, geom describes the
                        * shrunk image); box coordinates are multiplied by it.  Set it
                        * before sharing the grid (mir_detect_grid_new gives 1). */
  /* Each window's embedding (issue 18): the input of the classifier's head (the
   * last weighted layer, a Dense, with the activations after it), the network's
   * features the examples compare (mir-detect-examples.c), or the output of the
   * layer model->meta.embedding_layer names when set.  A 4-D output is
   * averaged over height and width.  NULL (embed_dim 0) when the model has no
   * such head or the grid came from a file without them. */
  guint embed_dim;
  float *embed;        /* rows·cols·embed_dim, window n at [n·embed_dim] */
  char *embed_layer;   /* the node whose output it is, or NULL */
  /* A partial grid (issue 23, mir_detect_classify_progressive): known[n] is 1
   * where window n is classified and 0 where it is not yet (its probabilities
   * and embedding are 0).  NULL: every window is (a complete grid).  The
   * filters never keep an unknown window and leave it out of the
   * neighbourhood means (see mir_detect_filter). */
  guint8 *known;
};

/* Whether window @n of @grid is classified. */
static inline gboolean
mir_detect_grid_is_known (const MirDetectGrid *grid, guint n)
{
  return grid->known == NULL || grid->known[n] != 0;
}
/* The windows of @grid that are classified (all of them for a complete grid). */
guint          mir_detect_grid_count_known (const MirDetectGrid *grid);
/* A deep copy (probabilities, embeddings, the known mask), to keep a partial
 * grid handed out during a classification. */
MirDetectGrid *mir_detect_grid_copy (const MirDetectGrid *grid);

/* Called from the classifying thread after each batch. */
typedef void (*MirDetectProgressFunc) (guint done, guint total, gpointer user_data);

/* Classifies every window of @geom (which must describe @image) with
 * @model, @batch_size windows per run (0 = 32).  Checks @cancellable and
 * calls @progress once per batch.  Outputs become per-class probabilities:
 *  - softmax head: P(c) for every output c;
 *  - one sigmoid output P: two classes, [1 - P, P] (class 1 is the
 *    positive class, as Keras' binary labels are);
 *  - several sigmoid outputs: P(c) each, independent;
 *  - linear head: softmax of the logits (sigmoid for a single output).
 * Class names come from the model's meta, else "class <i>". */
MirDetectGrid *mir_detect_classify (MirModel                *model,
                                    const MirImage          *image,
                                    const MirDetectGeometry *geom,
                                    guint                    batch_size,
                                    MirDetectProgressFunc    progress,
                                    gpointer                 progress_data,
                                    GCancellable            *cancellable,
                                    GError                 **error);

/* A grid from given probabilities (copied): tests, --grid files, caches.
 * @class_names may be NULL ("class <i>").  Values must lie in [0, 1]. */
MirDetectGrid *mir_detect_grid_new (const MirDetectGeometry *geom,
                                    guint                    n_classes,
                                    const char *const       *class_names,
                                    MirHeadKind              head,
                                    const float             *probs,
                                    GError                 **error);
/* Gives @grid a copy of @embed (N·@dim floats, all finite) taken at @layer. */
gboolean       mir_detect_grid_set_embeddings (MirDetectGrid *grid,
                                               guint          dim,
                                               const float   *embed,
                                               const char    *layer,
                                               GError       **error);
static inline const float *
mir_detect_grid_get_embedding (const MirDetectGrid *grid, guint n)
{
  return grid->embed ? grid->embed + (gsize) n * grid->embed_dim : NULL;
}
/* The node whose output is the embedding of @model's windows: walking back from
 * the first output through weightless single-input layers (softmax,
 * activation, dropout) to the head (the first layer with weights), its input.
 * -1 when there is none (@why says why, transfer full, may be NULL). */
gint           mir_detect_find_embedding_node (MirModel *model, char **why);
MirDetectGrid *mir_detect_grid_ref   (MirDetectGrid *grid);
void           mir_detect_grid_unref (MirDetectGrid *grid);
static inline float
mir_detect_grid_get (const MirDetectGrid *grid, guint n, guint c)
{
  return grid->probs[(gsize) n * grid->n_classes + c];
}
/* The index of the class called @name among @class_names (NULL-terminated):
 * the exact name first, else the one name equal to it ignoring case
 * (Unicode case folding: "cat" finds "Cat"); -1 when none or several match. */
gint           mir_detect_match_class_name (const char *const *class_names,
                                            const char        *name);
/* The index of the model's "nothing here" class among @class_names
 * (NULL-terminated; NULL entries end the list): the first name that is, ignoring
 * case, spaces, '_' and '-' around it, one of background, bg, fondo, fundo,
 * none, nothing, nada, other, others, otro, otros, outro, outros, empty,
 * negative, no object; -1 when the model has none.  A model without one puts
 * every window in some class, so the window groups overlapping boxes. */
gint           mir_detect_find_background_class (const char *const *class_names);
/* Class index for a name (mir_detect_match_class_name()) or a decimal
 * index, or -1 with @error set. */
gint           mir_detect_grid_find_class (const MirDetectGrid *grid,
                                           const char          *name_or_index,
                                           GError             **error);
/* JSON: {"image_width", "image_height", "window", "stride",
 *        "notebook_layout", "classes": [names], "probs": [[p0, p1, ...], ...]}
 * one inner array per window, in window order; with embeddings also
 * "embedding_layer" and "embeddings": [[e0, e1, ...], ...] (one per window).  _to_json returns the text
 * (transfer full), _save_json writes it to @path. */
char          *mir_detect_grid_to_json   (const MirDetectGrid *grid);
gboolean       mir_detect_grid_save_json (const MirDetectGrid *grid,
                                          const char          *path,
                                          GError             **error);
MirDetectGrid *mir_detect_grid_load_json (const char *path,
                                          GError    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDetectGrid, mir_detect_grid_unref)

/* ------------------------------------------------------------------ */
/* (b') Several scales, as OpenCV's detectMultiScale: either several window
 * sides on the image itself, or one window side on an image pyramid (the
 * image shrunk by factor^l for level l = 0 .. levels - 1).  Each scale is
 * classified into its own grid (the filters' neighbourhoods stay within a
 * grid, exactly as the seed's single scale); mir_detect_filter_scales()
 * pools the boxes of all scales before grouping. */

#define MIR_DETECT_MAX_SCALES 16

typedef struct
{
  guint n_scales;
  int window[MIR_DETECT_MAX_SCALES]; /* window side in the scanned image */
  double factor[MIR_DETECT_MAX_SCALES]; /* the image is shrunk by this (1 = as is) */
} MirDetectScales;

/* Several window sides (1 to MIR_DETECT_MAX_SCALES, each >= 1), image as is. */
gboolean mir_detect_scales_windows (MirDetectScales *scales,
                                    const int       *windows,
                                    guint            n_windows,
                                    GError         **error);
/* An image pyramid: @levels levels (level 0 = the image), each shrunk by
 * @factor (> 1) from the one before, scanned with @window. */
gboolean mir_detect_scales_pyramid (MirDetectScales *scales,
                                    int              window,
                                    double           factor,
                                    guint            levels,
                                    GError         **error);
/* Size of the image scanned at scale @s: round (W / factor), round (H / factor). */
void     mir_detect_scales_image_size (const MirDetectScales *scales,
                                       guint                  s,
                                       int                    image_width,
                                       int                    image_height,
                                       int                   *width,
                                       int                   *height);

/* The image a grid of @geom scans: @image itself (a new reference) when it
 * has @geom's size, else @image resampled to it with @model's resize
 * method (a pyramid level).  NULL with @error when resampling fails. */
MirImage *mir_detect_level_image (MirModel                *model,
                                  const MirImage          *image,
                                  const MirDetectGeometry *geom,
                                  GError                 **error);

/* Whether to compute the convolutions shared by overlapping windows once
 * over the whole image (docs/detector.md, "Fast path"). */
typedef enum
{
  MIR_DETECT_SHARED_AUTO,   /* when exact: window = model input, stride a multiple of the
                             * strides before the cut, valid padding */
  MIR_DETECT_SHARED_NEVER,  /* always crop and classify every window */
} MirDetectSharedMode;

/* Where the shared stretch of @model would end for windows of @window at
 * @stride: the node index of the last layer computed once over the image,
 * or -1 when nothing can be shared exactly (the reason in @why, if not
 * NULL: transfer full). */
gint mir_detect_shared_cut (MirModel *model,
                            int       window,
                            int       stride,
                            char    **why);

/* mir_detect_classify_full() without keeping the embeddings (to measure what
 * keeping them costs: bench-detect). */
MirDetectGrid *mir_detect_classify_no_embeddings (MirModel                *model,
                                                  const MirImage          *image,
                                                  const MirDetectGeometry *geom,
                                                  guint                    batch_size,
                                                  MirDetectSharedMode      shared,
                                                  GCancellable            *cancellable,
                                                  GError                 **error);

/* mir_detect_classify() with a choice of path; @shared_used (may be NULL)
 * tells whether the shared path ran.  Keeps the embeddings (grid->embed). */
MirDetectGrid *mir_detect_classify_full (MirModel                *model,
                                         const MirImage          *image,
                                         const MirDetectGeometry *geom,
                                         guint                    batch_size,
                                         MirDetectSharedMode      shared,
                                         gboolean                *shared_used,
                                         MirDetectProgressFunc    progress,
                                         gpointer                 progress_data,
                                         GCancellable            *cancellable,
                                         GError                 **error);

/* The names of the classes the grids of @model will have (a single output
 * unit is two classes), NULL-terminated, or NULL when @model is not an
 * image classifier (output N×classes).  For checking class names, e.g. a
 * ground-truth file, before classifying.  Transfer full. */
char         **mir_detect_model_class_names (MirModel *model);

/* Classifies every scale of @scales: a pointer array of @scales->n_scales
 * MirDetectGrid (free function set), grid s with scale = factor[s].
 * Progress counts the windows of all scales. */
GPtrArray *mir_detect_classify_scales (MirModel               *model,
                                       const MirImage         *image,
                                       const MirDetectScales  *scales,
                                       int                     stride,
                                       gboolean                notebook_layout,
                                       guint                   batch_size,
                                       MirDetectSharedMode     shared,
                                       MirDetectProgressFunc   progress,
                                       gpointer                progress_data,
                                       GCancellable           *cancellable,
                                       GError                **error);

/* What classifies one grid for mir_detect_classify_scales_with(): the same
 * contract as mir_detect_classify() (a new grid for @geom of @image, or NULL
 * with @error set; check @cancellable; call @progress with the windows of
 * this grid done so far and its number of windows).  @user_data is the
 * caller's.  Tests and the window's watchdog use it to stand in for the model. */
typedef MirDetectGrid *(*MirDetectClassifyFunc) (MirModel                *model,
                                                 const MirImage          *image,
                                                 const MirDetectGeometry *geom,
                                                 MirDetectProgressFunc    progress,
                                                 gpointer                 progress_data,
                                                 GCancellable            *cancellable,
                                                 gpointer                 user_data,
                                                 GError                 **error);

/* mir_detect_classify_scales() with each grid classified by @classify
 * (NULL: mir_detect_classify_full() with @batch_size and @shared).  Progress
 * runs once from 0 to the windows of all scales, each scale taking its
 * share in order; @cancellable stops it between batches (error
 * G_IO_ERROR_CANCELLED). */
GPtrArray *mir_detect_classify_scales_with (MirModel               *model,
                                            const MirImage         *image,
                                            const MirDetectScales  *scales,
                                            int                     stride,
                                            gboolean                notebook_layout,
                                            guint                   batch_size,
                                            MirDetectSharedMode     shared,
                                            MirDetectClassifyFunc   classify,
                                            gpointer                classify_data,
                                            MirDetectProgressFunc   progress,
                                            gpointer                progress_data,
                                            GCancellable           *cancellable,
                                            GError                **error);

/* ------------------------------------------------------------------ */
/* (b'') Progressive classification and reuse (issue 23): the first boxes
 * after a fraction of the windows, the grid filling in, and a new stride
 * that keeps the probabilities of the windows both grids have.
 *
 * Order (@coarse_first): the windows at every 4th row and column first,
 * then those at every 2nd, then the rest, each group in window order, in
 * batches of @batch_size (the first of at most 8 windows): the first partial
 * grid has a few windows spread over the whole image.
 *
 * Reuse: a window of the new grid whose top-left corner (in the scanned
 * image's pixels) is a window of a grid of @reuse of the same side, on the
 * same image size and scale, with the same classes (and embedding layer
 * when the new grid keeps embeddings), takes that window's probabilities
 * and embedding instead of being classified; the grids of @reuse are asked
 * in their order (at most 16 a scale), each for the windows the ones before
 * it did not have.  @reuse must come from the same model and image: the
 * engine cannot tell.  A stride change from 40 to 20 keeps a quarter of the
 * new windows, from 20 to 40 all of them; 40 -> 30 -> 40 with both old grids
 * classifies nothing on the way back.
 *
 * The final grid equals mir_detect_classify_full()'s (the same windows
 * through the same model in other batches: equal to rounding, ≤ 1e-6). */

/* Called on the classifying thread after each batch with the grids so far
 * (one per scale; @grids[s] is complete, partial or all unknown), borrowed:
 * valid during the call only (mir_detect_grid_copy() to keep one).  @done of
 * @total windows to classify are done (reused ones are not counted). */
typedef void (*MirDetectPartialFunc) (MirDetectGrid *const *grids,
                                      guint                 n_grids,
                                      guint                 done,
                                      guint                 total,
                                      gpointer              user_data);

typedef struct
{
  gboolean coarse_first;        /* coarse-to-fine order (above); FALSE: window order */
  MirDetectGrid *const *reuse;  /* grids (scales) of an earlier classification of the
                                 * same model and image, matched by scale; may be NULL */
  guint n_reuse;
  MirDetectPartialFunc partial; /* may be NULL */
  gpointer partial_data;
} MirDetectProgressive;

/* mir_detect_classify_full() (embeddings kept) in @prog's order, reusing
 * @prog->reuse, calling @prog->partial after each batch.  @prog NULL: the
 * plain classification. */
MirDetectGrid *mir_detect_classify_progressive (MirModel                   *model,
                                                const MirImage             *image,
                                                const MirDetectGeometry    *geom,
                                                guint                       batch_size,
                                                MirDetectSharedMode         shared,
                                                const MirDetectProgressive *prog,
                                                MirDetectProgressFunc       progress,
                                                gpointer                    progress_data,
                                                GCancellable               *cancellable,
                                                GError                    **error);
/* mir_detect_classify_scales() the same way: partial callbacks hand out
 * every scale's grid (the scales after the one being classified all
 * unknown, or already filled with what @prog->reuse gives them). */
GPtrArray *mir_detect_classify_scales_progressive (MirModel                   *model,
                                                   const MirImage             *image,
                                                   const MirDetectScales      *scales,
                                                   int                         stride,
                                                   gboolean                    notebook_layout,
                                                   guint                       batch_size,
                                                   MirDetectSharedMode         shared,
                                                   const MirDetectProgressive *prog,
                                                   MirDetectProgressFunc       progress,
                                                   gpointer                    progress_data,
                                                   GCancellable               *cancellable,
                                                   GError                    **error);
/* @grid is a grid being filled: its known mask (g_new0 (guint8, N) for an
 * empty one) says which windows it has.  Copies into each window it does not
 * have the probabilities (and the embedding, when both grids have them from
 * the same layer) of the window of @old at the same top-left corner, if @old
 * has that window classified, and marks it known.  Nothing when @grid is
 * complete or the image size, window side, scale or classes differ.
 * Returns the windows copied. */
guint mir_detect_grid_reuse (MirDetectGrid       *grid,
                             const MirDetectGrid *old);

/* Classifying again only the windows a change of the image touched (issue 19,
 * the window's occlusion brush; mir-detect-reclassify.c). */

/* The windows of @grid (indices, GArray of guint, transfer full) that meet
 * the rectangle (@x, @y, @width, @height) of the original image: a pyramid
 * grid's rectangle is divided by its scale, then widened by @margin pixels
 * of the scanned image on every side (the resampling's reach). */
GArray        *mir_detect_grid_windows_in_rect (const MirDetectGrid *grid,
                                                double               x,
                                                double               y,
                                                double               width,
                                                double               height,
                                                int                  margin);
/* A copy of @grid where windows @windows are classified again on @image
 * (the image @grid scanned, changed: for a pyramid level the image shrunk as
 * mir_detect_classify_scales() shrinks it) with mir_detect_classify_full()
 * on the smallest block of rows × columns holding them; every other window
 * keeps @grid's probabilities and embedding bit for bit. */
MirDetectGrid *mir_detect_classify_windows     (MirModel            *model,
                                                const MirImage      *image,
                                                const MirDetectGrid *grid,
                                                const guint         *windows,
                                                guint                n_windows,
                                                guint                batch_size,
                                                MirDetectSharedMode  shared,
                                                GCancellable        *cancellable,
                                                GError             **error);

/* Drops the scales (from the first that does not fit on) where a window of
 * the scale's side at @stride does not fit in the scanned image of
 * @image_width × @image_height: a pyramid ends where the window no longer
 * fits.  Keeps at least scale 0 (which mir_detect_classify_scales() then
 * reports as an error if it does not fit either).  Returns the scales kept. */
guint mir_detect_scales_fit (MirDetectScales *scales,
                             int              image_width,
                             int              image_height,
                             int              stride,
                             gboolean         notebook_layout);

/* ------------------------------------------------------------------ */
/* (c) Filtering */

typedef enum
{
  MIR_DETECT_METHOD_1,   /* filter 1 only: P_n(x) >= P(x) */
  MIR_DETECT_METHOD_2_1, /* + neighbourhood mean filter, complement for flagged classes */
  MIR_DETECT_METHOD_2_2, /* + neighbourhood mean filter on P itself */
} MirDetectMethod;

typedef enum
{
  MIR_DETECT_GROUP_NONE,
  MIR_DETECT_GROUP_NMS,   /* keep the most probable box, drop boxes of its class with IoU > iou */
  MIR_DETECT_GROUP_MERGE, /* fuse overlapping boxes (IoU > iou, transitively) of a class into
                           * one, coordinates weighted by probability */
} MirDetectGrouping;

typedef struct
{
  gboolean enabled;    /* look for this class at all */
  double threshold;    /* P(x) of filter 1, in [0, 1] */
  double exception;    /* f_e(x): value of a neighbour outside the grid, in [0, 1] */
  gboolean complement; /* method 2.1: means over 1 - P(x) (the seed's cat side) */
} MirDetectClassParams;

typedef struct
{
  MirDetectMethod method;
  guint n_classes;
  MirDetectClassParams *classes; /* n_classes, owned */
  guint radius;                  /* neighbourhood half-side: 1 = 3×3 (default) */
  gboolean weighted_mean;        /* Gaussian weights exp(-d²/2r²) instead of the plain mean */
  gboolean notebook_compat;      /* reproduce the notebook's quirks (docs/detector.md) */
  MirDetectGrouping grouping;
  double iou;                    /* grouping IoU threshold, default 0.3 */
} MirDetectParams;

/* Defaults: all classes enabled, threshold 0.99, exception 0.5, radius 1,
 * no grouping, iou 0.3; method 2.1 flags class 1 (the seed's "cat") for the
 * complement. */
MirDetectParams *mir_detect_params_new   (guint n_classes, MirDetectMethod method);
MirDetectParams *mir_detect_params_copy  (const MirDetectParams *params);
void             mir_detect_params_free  (MirDetectParams *params);
/* Range checks with messages a user can act on (MIR_ERROR_INVALID). */
gboolean         mir_detect_params_check (const MirDetectParams *params,
                                          const MirDetectGrid   *grid,
                                          GError               **error);

const char *mir_detect_method_to_string   (MirDetectMethod method);   /* "1", "2.1", "2.2" */
gboolean    mir_detect_method_from_string (const char *s, MirDetectMethod *method, GError **error);
const char *mir_detect_grouping_to_string (MirDetectGrouping grouping); /* "none", "nms", "merge" */
gboolean    mir_detect_grouping_from_string (const char *s, MirDetectGrouping *grouping,
                                             GError **error);

typedef struct
{
  guint class_index;
  guint scale;         /* index of the grid (scale) the window belongs to; 0 for one grid */
  guint window;        /* n (merged box: its most probable member) */
  guint row, col;      /* of @window */
  double x, y, width, height; /* image pixels (of the original image at every scale) */
  double prob;         /* P_n(x) (merged box: the largest member's) */
  double mean;         /* neighbourhood mean as used by filter 2; NaN for method 1 */
  gboolean passed;     /* in result->candidates: survived filter 2 (always TRUE for method 1) */
  guint n_members;     /* windows grouped into this box (1 without grouping) */
} MirDetectBox;

typedef struct
{
  gatomicrefcount ref_count;
  guint n_classes;
  guint n_scales;      /* grids pooled (1 for mir_detect_filter) */
  GArray *candidates;  /* MirDetectBox: every window kept by filter 1, scale, class, window order */
  GArray *boxes;       /* MirDetectBox: after filter 2 and grouping, class, scale, window order */
  double *mu;          /* n_scales·n_classes: μ_x of equation 3 for scale s at [s·n_classes + x]
                        * (NaN: method 1, disabled or no candidate) */
  guint *n_filter1;    /* n_classes: windows kept by filter 1 (all scales) */
  guint *n_filter2;    /* n_classes: windows kept by filter 2 (= n_filter1 for method 1) */
  guint *counts;       /* n_classes: boxes after grouping */
} MirDetectResult;

/* Runs filter 1, the neighbourhood means, μ, filter 2 and grouping.  Only
 * fails on parameters that do not fit the grid (mir_detect_params_check). */
MirDetectResult *mir_detect_filter (const MirDetectGrid   *grid,
                                    const MirDetectParams *params,
                                    GError               **error);
/* The same on several grids (scales) of one image: filters 1 and 2 per grid,
 * the passed boxes of all grids pooled, then grouped (NMS or merge across
 * scales) and counted.  The grids must have the same classes. */
MirDetectResult *mir_detect_filter_scales (MirDetectGrid *const   *grids,
                                           guint                   n_grids,
                                           const MirDetectParams  *params,
                                           GError                **error);
/* The neighbourhood mean (equation 2) of window @n for class @c exactly as
 * filter 2 computes it with @params: radius, exception factor at the edges,
 * complement (method 2.1), Gaussian weights, and in notebook mode its wrap
 * and centre (the centre read at the window's rank among those filter 1
 * keeps).  Filter 2 only uses it for windows filter 1 keeps, and method 1
 * not at all; this gives the same formula for any window (the hover). */
double           mir_detect_window_mean  (const MirDetectGrid   *grid,
                                          const MirDetectParams *params,
                                          guint                  c,
                                          guint                  n);
MirDetectResult *mir_detect_result_ref   (MirDetectResult *result);
void             mir_detect_result_unref (MirDetectResult *result);

/* Grouping on its own (used by mir_detect_filter; exposed for tests).
 * Returns a new array of MirDetectBox. */
GArray *mir_detect_group (const MirDetectBox *boxes,
                          guint               n_boxes,
                          MirDetectGrouping   grouping,
                          double              iou);
double  mir_detect_iou   (double ax, double ay, double aw, double ah,
                          double bx, double by, double bw, double bh);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDetectParams, mir_detect_params_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDetectResult, mir_detect_result_unref)

/* ------------------------------------------------------------------ */
/* The field behind the boxes: per window of one class, P, the
 * neighbourhood mean, and what each filter decided (issue 18).  Made from
 * the same code as mir_detect_filter(), so the field and the boxes agree. */

typedef enum
{
  MIR_DETECT_EDGE_NONE,     /* f_e made no difference (or the window is not a candidate) */
  MIR_DETECT_EDGE_RESCUED,  /* passes filter 2 only because outside neighbours count as f_e */
  MIR_DETECT_EDGE_REJECTED, /* fails filter 2 only because outside neighbours count as f_e */
} MirDetectEdgeEffect;

typedef struct
{
  guint class_index;
  MirDetectGeometry geom;  /* of the grid (rows × cols cells, one per window) */
  double scale;            /* the grid's: image pixels per scanned pixel */
  MirDetectMethod method;
  double threshold;        /* P(x) of filter 1 */
  double exception;        /* f_e(x) */
  gboolean complement;     /* method 2.1 averages 1 − P for this class */
  guint radius;
  double mu;               /* μ_x (eq. 3); NaN for method 1, a disabled class or no candidate */
  float *prob;             /* rows·cols: P_n(x), the grid's values */
  double *mean;            /* rows·cols: the mean filter 2 compares with μ (eq. 2, edges as
                            * f_e); NaN for method 1 */
  double *mean_inside;     /* rows·cols: the same mean over the neighbours inside the grid
                            * only (no f_e); NaN for method 1 */
  guint16 *n_outside;      /* rows·cols: neighbours that counted as f_e */
  guint8 *filter1;         /* rows·cols: 1 when filter 1 keeps the window */
  guint8 *filter2;         /* rows·cols: 1 when filter 2 keeps it (method 1: = filter1) */
  guint8 *edge;            /* rows·cols: MirDetectEdgeEffect, with μ held as it is */
} MirDetectField;

/* The field of class @c of @grid under @params (the same checks as
 * mir_detect_filter).  A disabled class still gets its P and means; its
 * filters keep nothing. */
MirDetectField *mir_detect_field_new  (const MirDetectGrid   *grid,
                                       const MirDetectParams *params,
                                       guint                  c,
                                       GError               **error);
void            mir_detect_field_free (MirDetectField *field);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDetectField, mir_detect_field_free)

/* Image coordinates (of the original image) of the centre of cell (row, col). */
void   mir_detect_field_cell_centre (const MirDetectField *field, guint row, guint col,
                                     double *x, double *y);
/* P interpolated bilinearly between the window centres at image point (x, y);
 * outside the centres the nearest edge value (clamped). */
double mir_detect_field_sample      (const MirDetectField *field, double x, double y);
/* Marching squares on the bilinear P field between the centres at @level:
 * a GArray of MirDetectSegment in image coordinates. */
typedef struct
{
  double x0, y0, x1, y1;
} MirDetectSegment;
GArray *mir_detect_field_contour    (const MirDetectField *field, double level);
/* The μ field: the neighbourhood mean (field->mean, bilinear as P) and its
 * contour at μ, where filter 2 cuts (methods 2.1/2.2; NaN and no segments
 * for method 1 or without μ). */
double  mir_detect_field_sample_mean (const MirDetectField *field, double x, double y);
GArray *mir_detect_field_mean_contour (const MirDetectField *field);
/* The equations of filters 1 and 2 for window @n with the numbers in, in
 * plain words (translated), one line each.  @class_name may be NULL. */
char   *mir_detect_field_describe   (const MirDetectField *field, guint n,
                                     const char *class_name);
/* Draws the field into @image (RGB or grey, the grid's image size): the
 * scanned area tinted with @rgb at opacity @opacity · P (bilinear between
 * the centres), the threshold contour @thickness px in @rgb on a black edge,
 * and for methods 2.1/2.2 the mean's contour at μ dashed white on black and a
 * mark on each candidate: a dot (filter 2 keeps),
 * a ring (filter 2 drops), a plus (f_e rescues) or a cross (f_e rejects). */
void    mir_detect_field_draw       (MirImage             *image,
                                     const MirDetectField *field,
                                     const guint8          rgb[3],
                                     double                opacity,
                                     int                   thickness);

/* ------------------------------------------------------------------ */
/* Background and classes by example (issue 18, mir-detect-examples.c): a
 * nearest-prototype classifier on the network's features.  Each example is
 * a window's embedding (MirDetectGrid.embed) with a label: "background" (any
 * name mir_detect_find_background_class() knows), one of the model's classes,
 * or a new class.  Per label l and window n, d_l(n) is the cosine distance
 * from the window's embedding to the nearest example of l (or to the mean of
 * the examples of l); a window is "near" l when d_l(n) is at most τ_l, the
 * Otsu split of {d_l(n)} over the grid's windows (the scene's own gap between
 * what looks like the examples and what does not).  A window near some label
 * takes the nearest one: background rejects it (every class P = 0), a class
 * gets P = max (P, 1 − d/(2τ)) (1 at an example, 0.5 at the split) and the other
 * classes 0.  No retraining; a pure function of the cached embeddings. */

typedef enum
{
  MIR_DETECT_PROTO_NEAREST, /* the nearest example of each label (default) */
  MIR_DETECT_PROTO_MEAN,    /* the mean of each label's (unit-length) examples */
} MirDetectProtoRule;

typedef struct
{
  char *label;      /* "background", a class of the model, or a new class */
  float *embedding; /* dim values */
  int x, y, size;   /* where it was taken, image pixels (informative; size 0: unknown) */
} MirDetectExample;

typedef struct
{
  guint dim;        /* values per embedding (0 while empty) */
  char *layer;      /* the layer the embeddings come from, or NULL */
  GPtrArray *items; /* MirDetectExample */
} MirDetectExamples;

MirDetectExamples *mir_detect_examples_new   (void);
MirDetectExamples *mir_detect_examples_copy  (const MirDetectExamples *examples);
void               mir_detect_examples_free  (MirDetectExamples *examples);
/* Adds window @n of @grid (its embedding) as an example of @label. */
gboolean           mir_detect_examples_add_window (MirDetectExamples   *examples,
                                                   const MirDetectGrid *grid,
                                                   guint                n,
                                                   const char          *label,
                                                   GError             **error);
/* Appends copies of @src's examples to @dst (the same embedding length). */
gboolean           mir_detect_examples_append (MirDetectExamples       *dst,
                                               const MirDetectExamples *src,
                                               GError                 **error);
/* Removes every example (@label NULL) or those of @label. */
void               mir_detect_examples_clear (MirDetectExamples *examples,
                                              const char        *label);
/* Whether @label names the background. */
gboolean           mir_detect_label_is_background (const char *label);
/* The window of @grid under image point (@x, @y) (original image pixels): of
 * the windows containing it, the one whose centre is nearest; -1 if none. */
gint               mir_detect_grid_window_at (const MirDetectGrid *grid, double x, double y);
/* The window of @grid with the largest IoU with the box; -1 if none overlaps. */
gint               mir_detect_grid_window_for_box (const MirDetectGrid *grid, double x, double y,
                                                   double w, double h);
/* The examples file (README, "Background and classes by example"):
 *   {"examples": [{"label": "background", "at": [x, y]},
 *                 {"label": "cat", "box": [x, y, w, h]},
 *                 {"label": "toy", "window": 17},
 *                 {"label": "toy", "embedding": [e0, e1, ...]}],
 *    "embedding_layer": "dense_1"}
 * Entries with "at", "box" or "window" take the embedding of that window of
 * @grid (NULL: such entries are an error); "embedding" is used as is.  @source
 * names the text in errors. */
MirDetectExamples *mir_detect_examples_from_json (const char          *text,
                                                  gsize                len,
                                                  const char          *source,
                                                  const MirDetectGrid *grid,
                                                  GError             **error);
MirDetectExamples *mir_detect_examples_load      (const char          *path,
                                                  const MirDetectGrid *grid,
                                                  GError             **error);
/* Writes every example with its embedding (transfer full). */
char              *mir_detect_examples_to_json   (const MirDetectExamples *examples);
/* The labels in order of first appearance, NULL-terminated (transfer full). */
char             **mir_detect_examples_dup_labels (const MirDetectExamples *examples);

/* Per window of @grid: the cosine distance to label @label's prototype
 * (N values, transfer full), and its Otsu split in @tau. */
double            *mir_detect_examples_distances (const MirDetectExamples *examples,
                                                  const MirDetectGrid     *grid,
                                                  const char              *label,
                                                  MirDetectProtoRule       rule,
                                                  double                  *tau);
/* A new grid: @grid's classes, then one per new label (a background label
 * becomes a "background" class unless the model has one), with the
 * probabilities the examples give (see above).  @grid needs embeddings of
 * the examples' length.  @decision (may be NULL): N labels' indexes into
 * mir_detect_examples_dup_labels(), -1 where no example decided (transfer
 * full). */
MirDetectGrid     *mir_detect_grid_apply_examples (const MirDetectGrid     *grid,
                                                   const MirDetectExamples *examples,
                                                   MirDetectProtoRule       rule,
                                                   gint                   **decision,
                                                   GError                 **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDetectExamples, mir_detect_examples_free)

/* ------------------------------------------------------------------ */
/* Evaluation against ground truth */

typedef struct
{
  guint class_index;
  double x, y, width, height;
} MirDetectTruthBox;

typedef struct
{
  char *image;         /* as given in the file, or NULL */
  int width, height;   /* 0 if not given */
  GArray *boxes;       /* MirDetectTruthBox */
} MirDetectTruth;

/* Ground-truth JSON (docs/detector.md):
 *   {"image": "scene.png", "width": 800, "height": 400,
 *    "objects": [{"class": "dog", "box": [x, y, w, h]}, ...]}
 * "class" is a name from @class_names (case does not matter, see
 * mir_detect_match_class_name()) or an index (number or string). */
MirDetectTruth *mir_detect_truth_load (const char        *path,
                                       const char *const *class_names,
                                       GError           **error);
void            mir_detect_truth_free (MirDetectTruth *truth);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDetectTruth, mir_detect_truth_free)

typedef struct
{
  guint n_truth;
  guint n_detected;
  guint true_positives;
  int count_error;     /* n_detected - n_truth */
} MirDetectClassEval;

typedef struct
{
  guint n_truth;
  guint n_detected;
  guint true_positives;  /* same-class matches with IoU >= @iou, one-to-one, greedy by
                          * descending probability */
  double precision;      /* TP / detected (1 when nothing was detected) */
  double recall;         /* TP / truth (1 when there is no truth) */
  double f1;             /* 2PR / (P + R), 0 when both are 0 */
  int count_error;       /* n_detected - n_truth */
  guint abs_count_error; /* Σ over classes |detected_c - truth_c| */
  guint n_classes;
  MirDetectClassEval *classes; /* n_classes, owned */
} MirDetectEval;

/* @iou is 0.5 for the usual evaluation. */
void mir_detect_evaluate   (const MirDetectResult   *result,
                            const MirDetectTruthBox *truth,
                            guint                    n_truth,
                            double                   iou,
                            MirDetectEval           *eval);
void mir_detect_eval_clear (MirDetectEval *eval);

/* Writing ground truth in the format mir_detect_truth_load() reads.
 * _add_header adds "image" (NULL: ""), "width" and "height" to the open
 * object of @b; _begin_object opens one object of the "objects" array with
 * "class" (@class_name, or the index when NULL), "class_index" and "box"
 * (whole numbers as integers) and leaves it open for more members (close it
 * with json_builder_end_object()).  The scene generator and the detection
 * JSON (mir_detect_result_write_json) write their objects with it, so both
 * read back as ground truth. */
void  mir_detect_truth_json_add_header   (JsonBuilder *b,
                                          const char  *image,
                                          int          width,
                                          int          height);
void  mir_detect_truth_json_begin_object (JsonBuilder *b,
                                          const char  *class_name,
                                          guint        class_index,
                                          double       x,
                                          double       y,
                                          double       width,
                                          double       height);
/* The whole file for @truth (class names from @class_names where it has
 * them), as text ending in a line break.  Transfer full. */
char *mir_detect_truth_to_json           (const MirDetectTruth *truth,
                                          const char *const    *class_names);
/* @b's root as Mirada writes every detector JSON: pretty, indented by 2,
 * ending in a line break.  Transfer full. */
char *mir_detect_json_to_text            (JsonBuilder *b);

/* ------------------------------------------------------------------ */
/* Detections as files: the one CSV and the one JSON schema of `mirada
 * detect --csv/--json` and the window's Export (docs/detector.md, "Output
 * files").  Both append to @out.
 *
 * @grids are the @n_grids grids (scales) @result was filtered from, grids[0]
 * the image as is.  The CSV has a header and one row per box:
 *   class,class_index,scale,scale_window,scale_factor,window,row,col,
 *   x,y,width,height,probability,mean,members
 * (numbers with a '.', whatever the locale; mean empty for method 1).
 * The JSON is the ground-truth format ("image", "width", "height", and the
 * boxes as "objects" with "class", "class_index", "box") plus "window",
 * "stride", "method", "grid", "scales", "classes" (the enabled ones, with
 * @params' thresholds), per object "probability", "scale", "scale_window",
 * "scale_factor", "window", "row", "col", "mean", "members", and
 * "evaluation" when @eval is not NULL.  @image_name may be NULL (""). */
void mir_detect_result_write_csv  (GString               *out,
                                   const MirDetectResult *result,
                                   MirDetectGrid *const  *grids,
                                   guint                  n_grids);
void mir_detect_result_write_json (GString               *out,
                                   const MirDetectResult *result,
                                   MirDetectGrid *const  *grids,
                                   guint                  n_grids,
                                   const MirDetectParams *params,
                                   const MirDetectEval   *eval,
                                   const char            *image_name);

/* ------------------------------------------------------------------ */
/* Drawing (into a copy made by the caller) */

/* RGB of the seed's colours for class @c: red, blue, then distinct hues. */
void     mir_detect_class_color (guint c, guint8 rgb[3]);
/* A colour-blind-safe, high-contrast alternative (Okabe & Ito 2008):
 * vermillion and sky blue first (the seed's red and blue), then orange,
 * bluish green, yellow, blue, reddish purple; classes 7–13 the same
 * half-way to white; later ones as mir_detect_class_color(). */
void     mir_detect_class_color_safe (guint c, guint8 rgb[3]);
/* Draws each box of @result (outline @thickness px) with a label
 * "<class> <prob>" in a built-in 5×7 font.  @image must be RGB or grey. */
void     mir_detect_draw        (MirImage              *image,
                                 const MirDetectResult *result,
                                 const char *const     *class_names,
                                 int                    thickness);

G_END_DECLS
