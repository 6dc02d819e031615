/* mirada-session.h: what one window looks at (a model, an image, the
 * detector's grids and boxes, the ground truth) and the jobs that make them.
 * No widgets: the window, the canvas and the panels follow its properties. */
#pragma once

#include <gdk/gdk.h>

#include "mir.h"
#include "detect/mir-detect.h"
#include "mirada-job.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_SESSION (mirada_session_get_type ())
G_DECLARE_FINAL_TYPE (MiradaSession, mirada_session, MIRADA, SESSION, GObject)

/* Each level of the image pyramid is this much smaller than the one before. */
#define MIRADA_PYRAMID_FACTOR 1.25

/* Stands in for the model in classifying one scale (tests; worker thread,
 * no widgets): the engine's MirDetectClassifyFunc, whose user data is the
 * MiradaJob.  NULL (the default) runs the model (mir_detect_classify_full). */
typedef MirDetectClassifyFunc MiradaClassifyFunc;

/* Properties (all notify on the UI thread):
 *   model, model-name, image, image-name, texture: what is open
 *   grid:   the last complete classification; while a new one runs, its
 *           partial grid (grid->known, the windows classified so far: issue 23)
 *           or, until the first arrives after a geometry change, the grid it
 *           replaces (NULL while a new model or image is classified)
 *   result: the boxes of the grid under the current parameters
 *   truth:  the ground truth read beside the image, with the grid's class names
 *   note:   why the detector shows no boxes (a bad geometry or parameters), or NULL
 *   window-size, stride, levels, notebook-layout: the geometry asked for
 *   busy, progress, job-title: the job that runs, if any
 * Signals:
 *   ::error (what, GError): a load or a detection failed; nothing changed
 *   ::file-opened (GFile): a model or an image was opened from that file
 *   ::detection-started, ::detection-finished: a classification began, or
 *   ended (with a grid, an error, or a cancel that restored the last grid) */

MiradaSession   *mirada_session_new              (void);

/* Loaders run on workers; on error ::error is emitted and the previous file stays. */
void             mirada_session_open_model       (MiradaSession *self, GFile *file);
void             mirada_session_open_image       (MiradaSession *self, GFile *file);
void             mirada_session_paste_texture    (MiradaSession *self, GdkTexture *texture);
/* The built-in model and scene; FALSE if the resources are missing. */
gboolean         mirada_session_open_defaults    (MiradaSession *self);
/* The built-in model, the demo scene, or both (a window started on a
 * model alone shows it on the demo scene; on a photo alone, the built-in
 * model on it). */
gboolean         mirada_session_open_defaults_for (MiradaSession *self,
                                                   gboolean       want_model,
                                                   gboolean       want_scene);

/* Direct setters (UI thread): both start a classification. */
void             mirada_session_set_model        (MiradaSession *self, MirModel *model);
void             mirada_session_set_image        (MiradaSession *self, MirImage *image);
void             mirada_session_set_classifier   (MiradaSession *self, MiradaClassifyFunc func);

/* The window grid: classifies again when it differs from the one asked for
 * last; going back to the geometry of the last complete grid while a new one
 * runs cancels that and keeps the grid. */
void             mirada_session_set_geometry     (MiradaSession *self,
                                                  int            window_size,
                                                  int            stride,
                                                  guint          levels,
                                                  gboolean       notebook_layout);
int              mirada_session_get_window_size  (MiradaSession *self);
int              mirada_session_get_stride       (MiradaSession *self);
guint            mirada_session_get_levels       (MiradaSession *self);
gboolean         mirada_session_get_notebook_layout (MiradaSession *self);
/* The filter's parameters (copied): filters the cached grid again, on the
 * UI thread (no classification). */
void             mirada_session_set_params       (MiradaSession *self, const MirDetectParams *params);
const MirDetectParams *mirada_session_get_params (MiradaSession *self);
/* The probability-field overlay (issue 18): which classes show their field
 * of P (heat map, threshold contour, filter 2's marks) and the heat map's
 * opacity where P = 1 (default 0.5).  ::field-changed when either changes. */
void             mirada_session_set_field_shown  (MiradaSession *self, guint class_index,
                                                  gboolean shown);
gboolean         mirada_session_get_field_shown  (MiradaSession *self, guint class_index);
void             mirada_session_set_field_opacity (MiradaSession *self, double opacity);
double           mirada_session_get_field_opacity (MiradaSession *self);

/* Background and classes by example (issue 18, mir-detect-examples.c): a
 * nearest-prototype classifier on the network's features.  The window of the
 * model's grid under image point (@x, @y) becomes an example of @label
 * ("background" or a class name, new or the model's); grid and result follow
 * at once (no classification) and the examples are kept in the model's
 * sidecar.  ::examples-changed when they change (also when a model opens
 * with those of its sidecar). */
gboolean         mirada_session_add_example      (MiradaSession *self, double x, double y,
                                                  const char *label, GError **error);
void             mirada_session_clear_examples   (MiradaSession *self);
const MirDetectExamples *mirada_session_get_examples (MiradaSession *self);
/* Every window of the model's grid whose centre lies in the image rectangle
 * spanned by (@x0, @y0) and (@x1, @y1) becomes an example of @label, as one
 * step (a drag in "Mark background" mode); returns how many (0 with @error
 * set when none). */
guint            mirada_session_add_examples_in_rect (MiradaSession *self, double x0, double y0,
                                                      double x1, double y1, const char *label,
                                                      GError **error);
/* Removes the examples the last click or drag added; FALSE when there is
 * nothing to undo. */
gboolean         mirada_session_undo_examples    (MiradaSession *self);
/* The layer whose output is each window's embedding (NULL: the input of the
 * classifier's head); a new one classifies again and forgets the examples
 * (they are embeddings of the old one).  Opening a model picks the layer of
 * the examples saved in its sidecar. */
void             mirada_session_set_embedding_layer (MiradaSession *self, const char *name);
const char      *mirada_session_get_embedding_layer (MiradaSession *self);
/* What a click on the photo marks (NULL: a click selects a window). */
void             mirada_session_set_mark_label   (MiradaSession *self, const char *label);
const char      *mirada_session_get_mark_label   (MiradaSession *self);

MirModel        *mirada_session_get_model        (MiradaSession *self);
const char      *mirada_session_get_model_name   (MiradaSession *self);
/* Where the model came from, or NULL. */
GFile           *mirada_session_get_model_file   (MiradaSession *self);
MirImage        *mirada_session_get_image        (MiradaSession *self);
const char      *mirada_session_get_image_name   (MiradaSession *self);
GdkTexture      *mirada_session_get_texture      (MiradaSession *self);
MirDetectGrid   *mirada_session_get_grid         (MiradaSession *self);
/* Every scale's grid (element 0 is the grid), or NULL with one scale. */
GPtrArray       *mirada_session_get_scale_grids  (MiradaSession *self);
guint            mirada_session_get_n_scales     (MiradaSession *self);
MirDetectResult *mirada_session_get_result       (MiradaSession *self);
const char      *mirada_session_get_note         (MiradaSession *self);
MirDetectTruth  *mirada_session_get_truth        (MiradaSession *self);
/* The ground truth's file name, or NULL when the image has none. */
const char      *mirada_session_get_truth_name   (MiradaSession *self);
/* The model's class names (the engine's rule: one sigmoid unit is two). */
char           **mirada_session_dup_class_names  (MiradaSession *self);
/* Class @k's name: the model's, else the grid's (a classifier may give more). */
char            *mirada_session_dup_class_name   (MiradaSession *self, guint k);

gboolean         mirada_session_get_busy         (MiradaSession *self);
double           mirada_session_get_progress     (MiradaSession *self);
const char      *mirada_session_get_job_title    (MiradaSession *self);
/* Cancels every job; a cancelled re-classification leaves the last complete
 * grid, its boxes and its geometry. */
void             mirada_session_cancel           (MiradaSession *self);

/* The sidecar the properties dialog writes, or NULL (no local model file). */
char            *mirada_session_dup_sidecar_path (MiradaSession *self);
/* Writes @meta to the model's sidecar (atomically) when it came from a local
 * file, then applies it to a copy of the model that shares its layers (no
 * reload) and classifies again.  On error nothing changes. */
gboolean         mirada_session_apply_model_meta (MiradaSession      *self,
                                                  const MirModelMeta *meta,
                                                  GError            **error);

/* Live occlusion (issue 19): the model's grids before the examples, every
 * scale ([0] the image as is; transfer full), or NULL while there are none. */
GPtrArray       *mirada_session_dup_model_grids  (MiradaSession *self);
/* Shows @image (the photo with the painted areas hidden) and takes @grids
 * (the model's grids on it, as mirada_session_dup_model_grids() gives them)
 * without classifying: the boxes follow at once (the cheap stage). */
void             mirada_session_show_occluded    (MiradaSession *self,
                                                  MirImage      *image,
                                                  GPtrArray     *grids);

/* A texture showing @image (RGB or grey). */
GdkTexture    *mirada_texture_new_for_image (const MirImage *image);

G_END_DECLS
