/* mirada-session.c: the model, the image, the detector's grids and boxes,
 * the ground truth and the jobs that make them (STYLE.md §5).  The window,
 * the canvas and the panels follow its properties; it knows no widgets. */
#define G_LOG_DOMAIN "mirada-session"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "io/mir-sidecar.h"
#include "mir-error.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "mirada-partial.h"
#include "mirada-session.h"

/* The geometry a grid is made with. */
typedef struct
{
  int window_size;
  int stride;
  guint levels;
  gboolean notebook_layout;
} Geometry;

struct _MiradaSession
{
  GObject parent_instance;

  MiradaJobRunner *model_runner;
  MiradaJobRunner *image_runner;
  MiradaJobRunner *detect_runner;
  MiradaClassifyFunc classify;

  MirModel *model;
  char *model_name;
  GFile *model_file;         /* where the model came from, or NULL */
  MirImage *image;           /* what the detector reads */
  GdkTexture *texture;       /* what the canvas shows */
  char *image_name;

  Geometry geometry;         /* asked for last */
  MirDetectParams *params;   /* the filter's, or NULL until someone sets them */
  MirDetectGrid *grid;       /* cached classification of model × image × geometry */
  GPtrArray *scale_grids;    /* every scale's grid ([0] = grid) with several pyramid levels, else NULL */
  MirDetectResult *result;   /* the grid filtered with params */
  char *note;

  /* The last complete grid while a re-classification of the same model and
   * image runs: a cancel brings it back with the geometry that made it. */
  MirDetectGrid *prev_grid;
  GPtrArray *prev_scale_grids;
  Geometry prev_geometry;
  /* Complete grids of earlier geometries of the same model and image, the
   * newest first (at most OLD_GRIDS_MAX): a new geometry takes the windows
   * any of them has (40 -> 30 -> 40 classifies nothing on the way back). */
  GPtrArray *old_grids;
  /* Issue 23: model_grid is the complete grid of self->geometry (else it is
   * the running job's partial grid, or the one it replaces, still shown) */
  gboolean grid_complete;
  MiradaPartial *partial;    /* the running job's partial grids, or NULL */

  char *truth_path;          /* local ground-truth JSON next to the image, or NULL */
  char *truth_name;
  MirDetectTruth *truth;     /* loaded with the grid's class names */

  /* the probability-field overlay (issue 18): a view choice, kept per class index */
  GArray *field_shown;       /* gboolean per class, grown on demand */
  double field_opacity;

  /* background and classes by example (issue 18): grid and scale_grids are
   * what the examples make of the model's grids kept here */
  MirDetectGrid *model_grid;
  GPtrArray *model_scale_grids;
  MirDetectExamples *examples;
  char *mark_label;          /* what a click on the photo marks, or NULL */
  guint last_step;           /* examples the last click or drag added (undo) */
  GPtrArray *retired_layers; /* model->meta.embedding_layer strings a worker may still read */
};

G_DEFINE_FINAL_TYPE (MiradaSession, mirada_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODEL,
  PROP_MODEL_NAME,
  PROP_IMAGE,
  PROP_IMAGE_NAME,
  PROP_TEXTURE,
  PROP_GRID,
  PROP_RESULT,
  PROP_NOTE,
  PROP_TRUTH,
  PROP_WINDOW_SIZE,
  PROP_STRIDE,
  PROP_LEVELS,
  PROP_NOTEBOOK_LAYOUT,
  PROP_BUSY,
  PROP_PROGRESS,
  PROP_JOB_TITLE,
  N_PROPS
};

enum {
  ERROR,
  FILE_OPENED,
  DETECTION_STARTED,
  DETECTION_FINISHED,
  FIELD_CHANGED,
  EXAMPLES_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void run_detection (MiradaSession *self, gboolean same_input);

/* ------------------------------------------------------------------ */
/* Workers: they see only their job data */

static char *
file_display_name (GFile *file)
{
  g_autofree char *base = g_file_get_basename (file);

  return g_filename_display_name (base != NULL ? base : "?");
}

/* Loaders take paths: resources (the built-in model) are copied to the cache first. */
static char *
file_to_local_path (GFile         *file,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autofree char *base = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GFile) dest = NULL;

  if (!g_file_has_uri_scheme (file, "resource"))
    {
      path = g_file_get_path (file);
      if (path == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     _("Only local files can be opened"));
      return g_steal_pointer (&path);
    }
  base = g_file_get_basename (file);
  dir = g_build_filename (g_get_user_cache_dir (), "mirada", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot create the folder %s"), dir);
      return NULL;
    }
  path = g_build_filename (dir, base, NULL);
  dest = g_file_new_for_path (path);
  if (!g_file_copy (file, dest, G_FILE_COPY_OVERWRITE, cancellable, NULL, NULL, error))
    return NULL;
  /* A bundled model's sidecar (class names, preprocessing) travels with it. */
  {
    g_autofree char *uri = g_file_get_uri (file);
    g_autofree char *stem = g_strndup (uri, strrchr (uri, '.') ? (gsize) (strrchr (uri, '.') - uri)
                                                                : strlen (uri));
    g_autofree char *side_uri = g_strconcat (stem, ".mirada.json", NULL);
    g_autofree char *side_base = NULL;
    g_autofree char *side_path = NULL;
    g_autoptr(GFile) side = g_file_new_for_uri (side_uri);
    g_autoptr(GFile) side_dest = NULL;

    if (g_file_query_exists (side, cancellable))
      {
        side_base = g_file_get_basename (side);
        side_path = g_build_filename (dir, side_base, NULL);
        side_dest = g_file_new_for_path (side_path);
        if (!g_file_copy (side, side_dest, G_FILE_COPY_OVERWRITE, cancellable, NULL, NULL, error))
          return NULL;
      }
  }
  return g_steal_pointer (&path);
}

static gpointer
load_model_worker (MiradaJob     *job,
                   gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autofree char *path = file_to_local_path (data, cancellable, error);

  if (path == NULL)
    return NULL;
  return mirada_model_open (path, NULL, NULL, NULL, error);
}

GdkTexture *
mirada_texture_new_for_image (const MirImage *image)
{
  g_autoptr(GBytes) bytes = NULL;

  if (image->channels == 3)
    bytes = g_bytes_new (image->pixels, image->rowstride * image->height);
  else
    {
      /* grey: expand to RGB for the texture */
      guint8 *rgb = g_malloc ((gsize) image->width * image->height * 3);

      for (int y = 0; y < image->height; y++)
        for (int x = 0; x < image->width; x++)
          {
            guint8 v = image->pixels[y * image->rowstride + x * image->channels];
            guint8 *d = rgb + ((gsize) y * image->width + x) * 3;

            d[0] = d[1] = d[2] = v;
          }
      bytes = g_bytes_new_take (rgb, (gsize) image->width * image->height * 3);
      return gdk_memory_texture_new (image->width, image->height, GDK_MEMORY_R8G8B8,
                                     bytes, (gsize) image->width * 3);
    }
  return gdk_memory_texture_new (image->width, image->height, GDK_MEMORY_R8G8B8,
                                 bytes, image->rowstride);
}

typedef struct
{
  MirImage *image;
  GdkTexture *texture;
  char *truth_path;
} LoadedImage;

static void
loaded_image_free (LoadedImage *loaded)
{
  g_clear_pointer (&loaded->image, mir_image_unref);
  g_clear_object (&loaded->texture);
  g_free (loaded->truth_path);
  g_free (loaded);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LoadedImage, loaded_image_free)

/* The ground truth of @file: <stem>.json or <name>.json beside it (a bundled
 * scene's is copied to the cache like the scene).  NULL if there is none. */
static char *
find_truth (GFile        *file,
            GCancellable *cancellable)
{
  g_autofree char *uri = g_file_get_uri (file);
  const char *dot = strrchr (uri, '.');
  const char *slash = strrchr (uri, '/');
  g_autofree char *stem = (dot != NULL && (slash == NULL || dot > slash))
                          ? g_strndup (uri, (gsize) (dot - uri)) : g_strdup (uri);
  char *candidates[] = { g_strconcat (stem, ".json", NULL), g_strconcat (uri, ".json", NULL) };
  char *found = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autoptr(GFile) truth = g_file_new_for_uri (candidates[i]);

      if (found == NULL && g_file_query_exists (truth, cancellable))
        found = file_to_local_path (truth, cancellable, NULL);
      g_free (candidates[i]);
    }
  return found;
}

static gpointer
load_image_worker (MiradaJob     *job,
                   gpointer       data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_autofree char *path = file_to_local_path (data, cancellable, error);
  LoadedImage *loaded;
  MirImage *image;

  if (path == NULL)
    return NULL;
  if (!(image = mirada_image_load (path, error)))
    return NULL;
  loaded = g_new0 (LoadedImage, 1);
  loaded->image = image;
  /* textures are immutable: making one here keeps the copy off the UI thread */
  loaded->texture = mirada_texture_new_for_image (image);
  loaded->truth_path = find_truth (data, cancellable);
  return loaded;
}

/* A pasted texture (immutable, so the worker may read it) to an RGB image. */
static gpointer
paste_image_worker (MiradaJob     *job,
                    gpointer       data,
                    GCancellable  *cancellable,
                    GError       **error)
{
  GdkTexture *texture = data;
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *argb = NULL;
  gsize stride;
  LoadedImage *loaded;
  MirImage *image;

  if (!g_size_checked_mul (&stride, (gsize) w, 4) || w <= 0 || h <= 0 ||
      !(argb = g_try_malloc (stride * (gsize) h)))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT, _("The pasted image (%d×%d) is too large"), w, h);
      return NULL;
    }
  if (!(image = mir_image_new (w, h, 3, error)))
    return NULL;
  gdk_texture_download (texture, argb, stride); /* B G R A, premultiplied */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *p = argb + (gsize) y * stride + (gsize) x * 4;
        guint8 *d = image->pixels + (gsize) y * image->rowstride + (gsize) x * 3;

        /* over white, as a viewer shows a transparent picture */
        d[0] = (guint8) MIN (255, p[2] + (255 - p[3]));
        d[1] = (guint8) MIN (255, p[1] + (255 - p[3]));
        d[2] = (guint8) MIN (255, p[0] + (255 - p[3]));
      }
  loaded = g_new0 (LoadedImage, 1);
  loaded->image = image;
  loaded->texture = mirada_texture_new_for_image (image);
  return loaded;
}

typedef struct
{
  MirModel *model;
  MirImage *image;
  MirDetectGeometry geom;
  guint levels;              /* image pyramid levels, 1 = the image only */
  MiradaClassifyFunc classify;
  GPtrArray *reuse;          /* grids of the same model and image to take windows from, or NULL */
  MiradaPartial *partial;    /* where the partial grids go */
} DetectJob;

static void
detect_job_free (DetectJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->image, mir_image_unref);
  g_clear_pointer (&job->reuse, g_ptr_array_unref);
  g_clear_pointer (&job->partial, mirada_partial_unref);
  g_free (job);
}

static void
classify_progress_cb (guint    done,
                      guint    total,
                      gpointer user_data)
{
  mirada_job_set_progress (user_data, total > 0 ? (double) done / total : 1.0);
}

/* The engine classifies every scale (mir_detect_classify_scales_with, as
 * `mirada detect` does): progress once over all levels, each weighted by its
 * windows, the job's cancellable checked between batches. */
static gpointer
detect_worker (MiradaJob     *job,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  DetectJob *d = data;
  MirDetectScales scales;

  /* Scale 0 is the image itself; levels 1.. scan it shrunk (multi-scale).
   * A level where the window no longer fits ends the pyramid. */
  if (!mir_detect_scales_pyramid (&scales, d->geom.window, MIRADA_PYRAMID_FACTOR,
                                  CLAMP (d->levels, 1, MIR_DETECT_MAX_SCALES), error))
    return NULL;
  mir_detect_scales_fit (&scales, d->image->width, d->image->height, d->geom.stride,
                         d->geom.notebook_layout);
  /* Issue 23: coarse windows first, the grid filling in on screen, the
   * windows of the grid being replaced reused */
  if (d->classify == NULL && d->partial != NULL)
    {
      MirDetectProgressive prog = {
        TRUE, d->reuse != NULL ? (MirDetectGrid *const *) d->reuse->pdata : NULL,
        d->reuse != NULL ? d->reuse->len : 0, mirada_partial_push, d->partial
      };

      return mir_detect_classify_scales_progressive (d->model, d->image, &scales, d->geom.stride,
                                                     d->geom.notebook_layout, 0,
                                                     MIR_DETECT_SHARED_AUTO, &prog,
                                                     classify_progress_cb, job, cancellable,
                                                     error);
    }
  return mir_detect_classify_scales_with (d->model, d->image, &scales, d->geom.stride,
                                          d->geom.notebook_layout, 0, MIR_DETECT_SHARED_AUTO,
                                          d->classify, job, classify_progress_cb, job,
                                          cancellable, error);
}

/* A model sharing @model's layers (and so its weights) with other meta.  A
 * loaded model is immutable (workers may be reading it), so it is not edited
 * in place. */
static MirModel *
model_with_meta (MirModel           *model,
                 const MirModelMeta *meta,
                 GError            **error)
{
  g_autoptr(MirModel) copy = mir_model_new (model->name);

  copy->format = g_strdup (model->format);
  copy->keras_version = g_strdup (model->keras_version);
  copy->backend = g_strdup (model->backend);
  copy->weights_initialised = model->weights_initialised;
  for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      gboolean is_input = FALSE;
      gint index;

      for (guint j = 0; j < model->inputs->len && !is_input; j++)
        is_input = g_array_index (model->inputs, guint, j) == i;
      if (is_input)
        index = mir_model_add_input (copy, node->name, &node->shape, error);
      else
        index = mir_model_add_node (copy, node->name, node->layer, node->inputs, node->n_inputs,
                                    node->group, error);
      if (index != (gint) i)
        {
          g_prefix_error (error, _("Could not copy the model: "));
          return NULL;
        }
    }
  if (!mir_model_set_outputs (copy, (const guint *) (void *) model->outputs->data,
                              model->outputs->len, error))
    return NULL;
  copy->meta.preprocess = meta->preprocess;
  copy->meta.resize = meta->resize;
  copy->meta.class_names = g_strdupv (meta->class_names);
  copy->meta.preprocess_from = meta->preprocess_from;
  copy->meta.source = g_strdup (meta->source);
  return g_steal_pointer (&copy);
}

/* ------------------------------------------------------------------ */
/* UI thread */

static void
emit_error (MiradaSession *self,
            const char    *what,
            const GError  *error)
{
  g_signal_emit (self, signals[ERROR], 0, what, error);
}

static void
set_note (MiradaSession *self,
          const char    *note)
{
  if (g_strcmp0 (self->note, note) == 0)
    return;
  g_free (self->note);
  self->note = g_strdup (note);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOTE]);
}

static void
load_truth (MiradaSession *self)
{
  g_autoptr(GError) error = NULL;

  if (self->truth != NULL || self->truth_path == NULL || self->grid == NULL)
    return;
  /* a small local JSON file: read here, with the grid's class names */
  self->truth = mir_detect_truth_load (self->truth_path, (const char *const *) self->grid->class_names, &error);
  if (self->truth == NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not read the ground truth “%s”"), self->truth_name);

      g_clear_pointer (&self->truth_path, g_free);
      emit_error (self, what, error);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRUTH]);
}

static void
clear_truth (MiradaSession *self)
{
  g_clear_pointer (&self->truth_path, g_free);
  g_clear_pointer (&self->truth_name, g_free);
  g_clear_pointer (&self->truth, mir_detect_truth_free);
}

/* The cheap stage: filters and grouping on the cached grid, UI thread. */
static void
refilter (MiradaSession *self)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->result, mir_detect_result_unref);
  if (self->grid != NULL && self->params != NULL)
    {
      if (self->scale_grids != NULL)
        self->result = mir_detect_filter_scales ((MirDetectGrid *const *) self->scale_grids->pdata,
                                                 self->scale_grids->len, self->params, &error);
      else
        self->result = mir_detect_filter (self->grid, self->params, &error);
      set_note (self, self->result == NULL ? error->message : NULL);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RESULT]);
}

/* grid and scale_grids: the model's grids, or what the examples make of
 * them (mir_detect_grid_apply_examples: cheap, on the UI thread). */
static void
derive_grids (MiradaSession *self)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->scale_grids, g_ptr_array_unref);
  if (self->model_grid != NULL && self->examples != NULL && self->examples->items->len > 0
      && self->model_grid->embed != NULL)
    {
      GPtrArray *src = self->model_scale_grids;
      g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);

      for (guint s = 0; s < (src != NULL ? src->len : 1); s++)
        {
          MirDetectGrid *g = mir_detect_grid_apply_examples (src != NULL ? g_ptr_array_index (src, s)
                                                                         : self->model_grid,
                                                             self->examples, MIR_DETECT_PROTO_NEAREST,
                                                             NULL, &error);
          if (g == NULL)
            break;
          g_ptr_array_add (out, g);
        }
      if (error == NULL)
        {
          self->grid = mir_detect_grid_ref (g_ptr_array_index (out, 0));
          self->scale_grids = src != NULL ? g_steal_pointer (&out) : NULL;
        }
      else
        g_warning ("%s", error->message);
    }
  if (self->grid == NULL && self->model_grid != NULL)
    {
      self->grid = mir_detect_grid_ref (self->model_grid);
      self->scale_grids = self->model_scale_grids != NULL ? g_ptr_array_ref (self->model_scale_grids)
                                                          : NULL;
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GRID]);
}

static void
set_grids (MiradaSession *self,
           MirDetectGrid *grid,        /* transfer full */
           GPtrArray     *scale_grids) /* transfer full */
{
  g_clear_pointer (&self->model_grid, mir_detect_grid_unref);
  g_clear_pointer (&self->model_scale_grids, g_ptr_array_unref);
  self->model_grid = grid;
  self->model_scale_grids = scale_grids;
  derive_grids (self);
}

static void
drop_prev (MiradaSession *self)
{
  g_clear_pointer (&self->prev_grid, mir_detect_grid_unref);
  g_clear_pointer (&self->prev_scale_grids, g_ptr_array_unref);
}

/* Grids kept for reuse (a scale each; 8 geometries of one scale, fewer of
 * a pyramid): a grid with a 1280-float embedding a window of 429 windows is
 * 2.2 MB. */
#define OLD_GRIDS_MAX 8

static gpointer
ref_grid (gconstpointer grid, gpointer unused)
{
  return mir_detect_grid_ref ((MirDetectGrid *) grid);
}

/* Keeps the grids @shown (complete, of the geometry being left) for the
 * next ones. */
static void
keep_old_grids (MiradaSession *self, GPtrArray *shown)
{
  if (!self->grid_complete)
    return;
  if (self->old_grids == NULL)
    self->old_grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  for (guint i = shown->len; i-- > 0;)
    {
      MirDetectGrid *g = shown->pdata[i];
      guint at;

      if (g_ptr_array_find (self->old_grids, g, &at)) /* kept already: to the front */
        g_ptr_array_steal_index (self->old_grids, at);
      else
        mir_detect_grid_ref (g);
      g_ptr_array_insert (self->old_grids, 0, g);
    }
  if (self->old_grids->len > OLD_GRIDS_MAX)
    g_ptr_array_set_size (self->old_grids, OLD_GRIDS_MAX);
}

static void
set_geometry_props (MiradaSession  *self,
                    const Geometry *geometry)
{
  Geometry old = self->geometry;

  self->geometry = *geometry;
  if (old.window_size != geometry->window_size)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WINDOW_SIZE]);
  if (old.stride != geometry->stride)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STRIDE]);
  if (old.levels != geometry->levels)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LEVELS]);
  if (old.notebook_layout != geometry->notebook_layout)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NOTEBOOK_LAYOUT]);
}

static void
stop_partial (MiradaSession *self)
{
  if (self->partial != NULL)
    mirada_partial_stop (self->partial);
  g_clear_pointer (&self->partial, mirada_partial_unref);
}

/* Issue 23: a partial grid of the running job (UI thread): it replaces
 * whatever is shown, boxes and all, and the grid fills in batch by batch. */
static void
partial_cb (GObject   *object,
            GPtrArray *grids)
{
  MiradaSession *self = MIRADA_SESSION (object);

  set_grids (self, mir_detect_grid_ref (g_ptr_array_index (grids, 0)),
             grids->len > 1 ? g_ptr_array_ref (grids) : NULL);
  self->grid_complete = FALSE;
  load_truth (self);
  refilter (self);
}

/* Brings back the last complete grid and the geometry that made it. */
static void
restore_prev (MiradaSession *self)
{
  mirada_job_runner_cancel (self->detect_runner);
  set_geometry_props (self, &self->prev_geometry);
  stop_partial (self);
  set_grids (self, g_steal_pointer (&self->prev_grid), g_steal_pointer (&self->prev_scale_grids));
  self->grid_complete = TRUE;
  load_truth (self);
  refilter (self);
  g_signal_emit (self, signals[DETECTION_FINISHED], 0);
}

static void
detect_done (gpointer      result,
             const GError *error,
             gpointer      user_data)
{
  MiradaSession *self = user_data;
  GPtrArray *grids = result;

  stop_partial (self);
  if (error != NULL)
    {
      /* no half-made grid stays behind */
      if (!self->grid_complete && self->model_grid != NULL)
        {
          set_grids (self, NULL, NULL);
          refilter (self);
        }
      emit_error (self, _("Detection failed"), error);
      g_signal_emit (self, signals[DETECTION_FINISHED], 0);
      return;
    }
  drop_prev (self);
  g_clear_pointer (&self->truth, mir_detect_truth_free);
  set_grids (self, mir_detect_grid_ref (g_ptr_array_index (grids, 0)),
             grids->len > 1 ? grids : NULL);
  self->grid_complete = TRUE;
  if (grids->len <= 1)
    g_ptr_array_unref (grids);
  load_truth (self);
  refilter (self);
  g_signal_emit (self, signals[DETECTION_FINISHED], 0);
}

/* @same_input: only the geometry changed, so the grid being replaced stays
 * at hand for a cancel. */
static void
run_detection (MiradaSession *self,
               gboolean       same_input)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) reuse = NULL;
  DetectJob *job;

  stop_partial (self);
  /* Issue 23: after a geometry change the grid shown stays (boxes and all)
   * until the new one's first partial grid replaces it, and lends the new
   * one the windows they share; another model or image starts empty. */
  if (same_input && self->model_grid != NULL)
    {
      /* the grids shown (perhaps partial), then the older complete ones */
      g_autoptr(GPtrArray) shown = mirada_session_dup_model_grids (self);

      reuse = g_ptr_array_copy (shown, ref_grid, NULL);
      keep_old_grids (self, shown);
      if (self->old_grids != NULL)
        g_ptr_array_extend (reuse, self->old_grids, ref_grid, NULL);
      self->grid_complete = FALSE;
    }
  else
    {
      if (!same_input)
        {
          drop_prev (self);
          g_clear_pointer (&self->old_grids, g_ptr_array_unref);
        }
      set_grids (self, NULL, NULL);
      self->grid_complete = FALSE;
      refilter (self);
    }
  if (self->model == NULL || self->image == NULL)
    {
      mirada_job_runner_cancel (self->detect_runner);
      return;
    }

  g_signal_emit (self, signals[DETECTION_STARTED], 0);
  job = g_new0 (DetectJob, 1);
  if (!mir_detect_geometry_init (&job->geom, self->image->width, self->image->height,
                                 self->geometry.window_size, self->geometry.stride,
                                 self->geometry.notebook_layout, &error))
    {
      g_free (job);
      mirada_job_runner_cancel (self->detect_runner);
      set_grids (self, NULL, NULL);
      refilter (self);
      set_note (self, error->message);
      g_signal_emit (self, signals[DETECTION_FINISHED], 0);
      return;
    }
  job->model = mir_model_ref (self->model);
  job->image = mir_image_ref (self->image);
  job->classify = self->classify;
  job->levels = self->geometry.levels;
  job->reuse = g_steal_pointer (&reuse);
  self->partial = mirada_partial_new (G_OBJECT (self), partial_cb);
  job->partial = mirada_partial_ref (self->partial);
  mirada_job_runner_run (self->detect_runner, _("Classifying windows…"), detect_worker,
                         job, (GDestroyNotify) detect_job_free, (GDestroyNotify) g_ptr_array_unref,
                         detect_done, g_object_ref (self), g_object_unref);
}

static gboolean
geometry_equal (const Geometry *a,
                const Geometry *b)
{
  return a->window_size == b->window_size && a->stride == b->stride &&
         a->levels == b->levels && !a->notebook_layout == !b->notebook_layout;
}

void
mirada_session_set_geometry (MiradaSession *self,
                             int            window_size,
                             int            stride,
                             guint          levels,
                             gboolean       notebook_layout)
{
  Geometry geometry = { window_size, stride, MAX (levels, 1), !!notebook_layout };

  g_return_if_fail (MIRADA_IS_SESSION (self));

  if (geometry_equal (&geometry, &self->geometry))
    return;
  /* back to the geometry of the grid being replaced: keep that grid */
  if (self->prev_grid != NULL && geometry_equal (&geometry, &self->prev_geometry))
    {
      restore_prev (self);
      return;
    }
  /* self->grid is complete and was made with self->geometry */
  if (self->model_grid != NULL && self->grid_complete && self->prev_grid == NULL)
    {
      self->prev_grid = mir_detect_grid_ref (self->model_grid);
      self->prev_scale_grids = self->model_scale_grids != NULL ? g_ptr_array_ref (self->model_scale_grids)
                                                               : NULL;
      self->prev_geometry = self->geometry;
    }
  set_geometry_props (self, &geometry);
  run_detection (self, TRUE);
}

int
mirada_session_get_window_size (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), 0);
  return self->geometry.window_size;
}

int
mirada_session_get_stride (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), 0);
  return self->geometry.stride;
}

guint
mirada_session_get_levels (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), 1);
  return self->geometry.levels;
}

gboolean
mirada_session_get_notebook_layout (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);
  return self->geometry.notebook_layout;
}

void
mirada_session_set_params (MiradaSession         *self,
                           const MirDetectParams *params)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (params != NULL);

  g_clear_pointer (&self->params, mir_detect_params_free);
  self->params = mir_detect_params_copy (params);
  refilter (self);
}

const MirDetectParams *
mirada_session_get_params (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->params;
}

void
mirada_session_set_field_shown (MiradaSession *self,
                                guint          class_index,
                                gboolean       shown)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));

  shown = !!shown;
  if (mirada_session_get_field_shown (self, class_index) == shown)
    return;
  if (class_index >= self->field_shown->len)
    g_array_set_size (self->field_shown, class_index + 1);
  g_array_index (self->field_shown, gboolean, class_index) = shown;
  g_signal_emit (self, signals[FIELD_CHANGED], 0);
}

gboolean
mirada_session_get_field_shown (MiradaSession *self,
                                guint          class_index)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);
  return class_index < self->field_shown->len &&
         g_array_index (self->field_shown, gboolean, class_index);
}

void
mirada_session_set_field_opacity (MiradaSession *self,
                                  double         opacity)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));

  opacity = CLAMP (opacity, 0.0, 1.0);
  if (self->field_opacity == opacity)
    return;
  self->field_opacity = opacity;
  g_signal_emit (self, signals[FIELD_CHANGED], 0);
}

double
mirada_session_get_field_opacity (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), 0);
  return self->field_opacity;
}

/* ------------------------------------------------------------------ */
/* Background and classes by example (issue 18) */

static void set_model_embedding_layer (MiradaSession *self, const char *name);

#define SIDECAR_EXAMPLES "detector_examples"

/* The examples saved beside the model (a new model starts with those). */
static void
load_examples (MiradaSession *self)
{
  g_autofree char *sidecar = mirada_session_dup_sidecar_path (self);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->examples, mir_detect_examples_free);
  if (sidecar != NULL && (text = mir_sidecar_load_member (sidecar, SIDECAR_EXAMPLES, &error)) != NULL)
    self->examples = mir_detect_examples_from_json (text, strlen (text), sidecar, NULL, &error);
  if (error != NULL)
    emit_error (self, _("Could not read the detector’s examples"), error);
  /* where they were clicked is another session's image: not drawn here */
  for (guint i = 0; self->examples != NULL && i < self->examples->items->len; i++)
    ((MirDetectExample *) g_ptr_array_index (self->examples->items, i))->size = 0;
  if (self->examples == NULL)
    self->examples = mir_detect_examples_new ();
  /* the saved examples' layer gives the embeddings (issue 18) */
  if (self->examples->layer != NULL && self->model->meta.embedding_layer == NULL
      && mir_model_find_node (self->model, self->examples->layer) >= 0)
    set_model_embedding_layer (self, self->examples->layer);
  g_signal_emit (self, signals[EXAMPLES_CHANGED], 0);
}

/* Keeps the examples in the model's sidecar for the next session. */
static void
examples_changed (MiradaSession *self)
{
  g_autofree char *sidecar = mirada_session_dup_sidecar_path (self);
  g_autoptr(GError) error = NULL;

  if (sidecar != NULL)
    {
      g_autofree char *text = self->examples->items->len > 0
                              ? mir_detect_examples_to_json (self->examples) : NULL;

      if (!mir_sidecar_save_member (sidecar, SIDECAR_EXAMPLES, text, &error))
        emit_error (self, _("Could not save the detector’s examples"), error);
    }
  derive_grids (self);
  g_clear_pointer (&self->truth, mir_detect_truth_free);
  load_truth (self);
  refilter (self);
  g_signal_emit (self, signals[EXAMPLES_CHANGED], 0);
}

gboolean
mirada_session_add_example (MiradaSession *self,
                            double         x,
                            double         y,
                            const char    *label,
                            GError       **error)
{
  gint n;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);

  if (self->model_grid == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Wait for the detection to finish"));
      return FALSE;
    }
  if ((n = mir_detect_grid_window_at (self->model_grid, x, y)) < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No window covers that point"));
      return FALSE;
    }
  if (self->examples == NULL)
    self->examples = mir_detect_examples_new ();
  if (!mir_detect_examples_add_window (self->examples, self->model_grid, (guint) n, label, error))
    return FALSE;
  self->last_step = 1;
  examples_changed (self);
  return TRUE;
}

guint
mirada_session_add_examples_in_rect (MiradaSession *self,
                                     double         x0,
                                     double         y0,
                                     double         x1,
                                     double         y1,
                                     const char    *label,
                                     GError       **error)
{
  const MirDetectGrid *grid;
  guint added = 0, n_windows;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), 0);

  if ((grid = self->model_grid) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Wait for the detection to finish"));
      return 0;
    }
  if (self->examples == NULL)
    self->examples = mir_detect_examples_new ();
  n_windows = mir_detect_geometry_n_windows (&grid->geom);
  for (guint n = 0; n < n_windows; n++)
    {
      int x, y, size;
      double cx, cy;

      mir_detect_geometry_window_rect (&grid->geom, n, &x, &y, &size);
      cx = (x + size / 2.0) * grid->scale;
      cy = (y + size / 2.0) * grid->scale;
      if (cx < MIN (x0, x1) || cx > MAX (x0, x1) || cy < MIN (y0, y1) || cy > MAX (y0, y1))
        continue;
      if (!mir_detect_examples_add_window (self->examples, grid, n, label, error))
        {
          /* all or nothing: one step */
          g_ptr_array_remove_range (self->examples->items, self->examples->items->len - added,
                                    added);
          return 0;
        }
      added++;
    }
  if (added == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("No window has its centre in that rectangle"));
      return 0;
    }
  self->last_step = added;
  examples_changed (self);
  return added;
}

gboolean
mirada_session_undo_examples (MiradaSession *self)
{
  guint len;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);

  len = self->examples != NULL ? self->examples->items->len : 0;
  if (self->last_step == 0 || self->last_step > len)
    return FALSE;
  g_ptr_array_remove_range (self->examples->items, len - self->last_step, self->last_step);
  self->last_step = 0;
  examples_changed (self);
  return TRUE;
}

/* A worker classifying with the model may be reading the old name: it is
 * kept until the session goes. */
static void
set_model_embedding_layer (MiradaSession *self,
                           const char    *name)
{
  if (self->model == NULL || g_strcmp0 (self->model->meta.embedding_layer, name) == 0)
    return;
  if (self->retired_layers == NULL)
    self->retired_layers = g_ptr_array_new_with_free_func (g_free);
  if (self->model->meta.embedding_layer != NULL)
    g_ptr_array_add (self->retired_layers, self->model->meta.embedding_layer);
  self->model->meta.embedding_layer = g_strdup (name);
}

void
mirada_session_set_embedding_layer (MiradaSession *self,
                                    const char    *name)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));

  if (self->model == NULL || g_strcmp0 (self->model->meta.embedding_layer, name) == 0)
    return;
  if (name != NULL && mir_model_find_node (self->model, name) < 0)
    return;
  set_model_embedding_layer (self, name);
  if (self->examples != NULL && self->examples->items->len > 0)
    {
      mir_detect_examples_clear (self->examples, NULL);
      self->last_step = 0;
      examples_changed (self);
    }
  run_detection (self, FALSE);
}

const char *
mirada_session_get_embedding_layer (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->model != NULL ? self->model->meta.embedding_layer : NULL;
}

void
mirada_session_clear_examples (MiradaSession *self)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));

  if (self->examples == NULL || self->examples->items->len == 0)
    return;
  mir_detect_examples_clear (self->examples, NULL);
  self->last_step = 0;
  examples_changed (self);
}

const MirDetectExamples *
mirada_session_get_examples (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->examples;
}

void
mirada_session_set_mark_label (MiradaSession *self,
                               const char    *label)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_free (self->mark_label);
  self->mark_label = label != NULL && *label != '\0' ? g_strdup (label) : NULL;
}

const char *
mirada_session_get_mark_label (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->mark_label;
}

void
mirada_session_set_model (MiradaSession *self,
                          MirModel      *model)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (model != NULL);

  mir_model_ref (model);
  g_clear_pointer (&self->model, mir_model_unref);
  self->model = model;
  if (self->model_name == NULL)
    {
      self->model_name = g_strdup (model->name);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_NAME]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
  load_examples (self);
  self->last_step = 0;
  run_detection (self, FALSE);
}

void
mirada_session_set_image (MiradaSession *self,
                          MirImage      *image)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (image != NULL);

  mir_image_ref (image);
  g_clear_pointer (&self->image, mir_image_unref);
  self->image = image;
  clear_truth (self);
  if (self->image_name == NULL)
    {
      self->image_name = g_strdup (_("Image"));
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE_NAME]);
    }
  g_clear_object (&self->texture);
  self->texture = mirada_texture_new_for_image (image);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRUTH]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXTURE]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE]);
  run_detection (self, FALSE);
}

void
mirada_session_set_classifier (MiradaSession      *self,
                               MiradaClassifyFunc  func)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  self->classify = func;
}

char *
mirada_session_dup_sidecar_path (MiradaSession *self)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);

  if (self->model == NULL || self->model_file == NULL ||
      (path = g_file_get_path (self->model_file)) == NULL)
    return NULL;
  /* the sidecar it was read from, if it has one of Mirada's names */
  if (self->model->meta.source != NULL && g_str_has_suffix (self->model->meta.source, ".mirada.json"))
    return g_strdup (self->model->meta.source);
  return mir_sidecar_path_for_model (path);
}

/* A copy of @grid with other class names: the same probabilities. */
static MirDetectGrid *
grid_relabelled (MirDetectGrid     *grid,
                 const char *const *names)
{
  g_autoptr(GError) error = NULL;
  MirDetectGrid *copy;

  if (!(copy = mir_detect_grid_new (&grid->geom, grid->n_classes, names, grid->head,
                                    grid->probs, &error)))
    {
      g_warning ("%s", error->message);
      return NULL;
    }
  copy->scale = grid->scale;
  if (grid->embed != NULL
      && !mir_detect_grid_set_embeddings (copy, grid->embed_dim, grid->embed, grid->embed_layer,
                                          &error))
    {
      g_warning ("%s", error->message);
      mir_detect_grid_unref (copy);
      return NULL;
    }
  return copy;
}

/* @model differs from the open one only by its class names: the
 * probabilities do not change, so the grids (every scale's) and the boxes
 * stay and only their names follow (no classification, the boxes never
 * leave the canvas).  FALSE when a classification is needed. */
static gboolean
relabel (MiradaSession *self,
         MirModel      *model)
{
  g_auto(GStrv) names = NULL;
  g_autoptr(GPtrArray) scale_grids = NULL;
  MirDetectGrid *grid;

  if (self->model_grid == NULL || mirada_job_runner_get_busy (self->detect_runner) ||
      model->meta.preprocess != self->model->meta.preprocess ||
      model->meta.resize != self->model->meta.resize)
    return FALSE;
  names = mir_detect_model_class_names (model);
  if (g_strv_length (names) != self->model_grid->n_classes)
    return FALSE;
  if (self->model_scale_grids != NULL)
    {
      scale_grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
      for (guint i = 0; i < self->model_scale_grids->len; i++)
        {
          MirDetectGrid *g = grid_relabelled (g_ptr_array_index (self->model_scale_grids, i),
                                              (const char *const *) names);

          if (g == NULL)
            return FALSE;
          g_ptr_array_add (scale_grids, g);
        }
      grid = mir_detect_grid_ref (g_ptr_array_index (scale_grids, 0));
    }
  else if (!(grid = grid_relabelled (self->model_grid, (const char *const *) names)))
    return FALSE;

  mir_model_ref (model);
  g_clear_pointer (&self->model, mir_model_unref);
  self->model = model;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
  set_grids (self, grid, g_steal_pointer (&scale_grids));
  self->grid_complete = TRUE;
  /* the ground truth names classes: read again with the new names */
  g_clear_pointer (&self->truth, mir_detect_truth_free);
  load_truth (self);
  refilter (self);
  return TRUE;
}

gboolean
mirada_session_apply_model_meta (MiradaSession      *self,
                                 const MirModelMeta *meta,
                                 GError            **error)
{
  g_autoptr(MirModel) model = NULL;
  g_autofree char *sidecar = NULL;
  MirModelMeta saved;
  guint n_classes, n_names;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);
  g_return_val_if_fail (meta != NULL, FALSE);

  if (self->model == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No model is open"));
      return FALSE;
    }
  n_classes = mir_model_get_n_classes (self->model);
  n_names = meta->class_names != NULL ? g_strv_length (meta->class_names) : 0;
  if (n_names > 0 && n_names != n_classes)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   ngettext ("The model has %u class but %u names were given: give one name a line",
                             "The model has %u classes but %u names were given: give one name a line",
                             n_classes),
                   n_classes, n_names);
      return FALSE;
    }

  sidecar = mirada_session_dup_sidecar_path (self);
  saved = *meta;
  saved.source = sidecar;
  /* the user chose it; once in the sidecar it is the sidecar's word */
  saved.preprocess_from = sidecar != NULL ? MIR_PREPROCESS_FROM_SIDECAR : MIR_PREPROCESS_FROM_USER;
  if (sidecar != NULL && !mir_sidecar_save (sidecar, &saved, error))
    return FALSE;
  if (!(model = model_with_meta (self->model, &saved, error)))
    return FALSE;
  if (relabel (self, model))
    return TRUE;
  mirada_session_set_model (self, model);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Opening files */

typedef struct
{
  MiradaSession *session;
  char *name;
  GFile *file;   /* NULL for a pasted image */
} OpenData;

static void
open_data_free (OpenData *data)
{
  g_object_unref (data->session);
  g_clear_object (&data->file);
  g_free (data->name);
  g_free (data);
}

static OpenData *
open_data_new (MiradaSession *self,
               GFile         *file)
{
  OpenData *data = g_new0 (OpenData, 1);

  data->session = g_object_ref (self);
  data->name = file != NULL ? file_display_name (file) : g_strdup (_("Pasted image"));
  data->file = file != NULL ? g_object_ref (file) : NULL;
  return data;
}

static void
model_loaded (gpointer      result,
              const GError *error,
              gpointer      user_data)
{
  OpenData *data = user_data;
  MiradaSession *self = data->session;
  g_autoptr(MirModel) model = result;

  if (error != NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not open the model “%s”"), data->name);

      emit_error (self, what, error);
      return;
    }
  g_free (self->model_name);
  self->model_name = g_strdup (data->name);
  g_set_object (&self->model_file, data->file);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_NAME]);
  mirada_session_set_model (self, model);
  if (data->file != NULL)
    g_signal_emit (self, signals[FILE_OPENED], 0, data->file);
}

static void
image_loaded (gpointer      result,
              const GError *error,
              gpointer      user_data)
{
  OpenData *data = user_data;
  MiradaSession *self = data->session;
  g_autoptr(LoadedImage) loaded = result;

  if (error != NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not open the image “%s”"), data->name);

      emit_error (self, what, error);
      return;
    }
  g_free (self->image_name);
  self->image_name = g_strdup (data->name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE_NAME]);
  mirada_session_set_image (self, loaded->image);
  /* after set_image (which forgets the old one); read once the grid names the classes */
  if (loaded->truth_path != NULL)
    {
      self->truth_path = g_steal_pointer (&loaded->truth_path);
      self->truth_name = g_path_get_basename (self->truth_path);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TRUTH]);
      load_truth (self);
    }
  if (data->file != NULL)
    g_signal_emit (self, signals[FILE_OPENED], 0, data->file);
}

void
mirada_session_paste_texture (MiradaSession *self,
                              GdkTexture    *texture)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (GDK_IS_TEXTURE (texture));

  mirada_job_runner_run (self->image_runner, _("Loading the image…"), paste_image_worker,
                         g_object_ref (texture), g_object_unref, (GDestroyNotify) loaded_image_free,
                         image_loaded, open_data_new (self, NULL), (GDestroyNotify) open_data_free);
}

void
mirada_session_open_model (MiradaSession *self,
                           GFile         *file)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (G_IS_FILE (file));

  mirada_job_runner_run (self->model_runner, _("Loading the model…"), load_model_worker,
                         g_object_ref (file), g_object_unref, (GDestroyNotify) mir_model_unref,
                         model_loaded, open_data_new (self, file), (GDestroyNotify) open_data_free);
}

void
mirada_session_open_image (MiradaSession *self,
                           GFile         *file)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (G_IS_FILE (file));

  mirada_job_runner_run (self->image_runner, _("Loading the image…"), load_image_worker,
                         g_object_ref (file), g_object_unref, (GDestroyNotify) loaded_image_free,
                         image_loaded, open_data_new (self, file), (GDestroyNotify) open_data_free);
}

gboolean
mirada_session_open_defaults (MiradaSession *self)
{
  return mirada_session_open_defaults_for (self, TRUE, TRUE);
}

gboolean
mirada_session_open_defaults_for (MiradaSession *self,
                                  gboolean       want_model,
                                  gboolean       want_scene)
{
  const char *model_path = RESOURCE_BASE "/default/model.h5";
  const char *scene_path = RESOURCE_BASE "/default/scene.png";
  g_autoptr(GFile) model = NULL;
  g_autoptr(GFile) scene = NULL;
  g_autofree char *model_uri = NULL;
  g_autofree char *scene_uri = NULL;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);

  if (!g_resources_get_info (model_path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL, NULL) ||
      !g_resources_get_info (scene_path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL, NULL))
    return FALSE;

  model_uri = g_strconcat ("resource://", model_path, NULL);
  scene_uri = g_strconcat ("resource://", scene_path, NULL);
  model = g_file_new_for_uri (model_uri);
  scene = g_file_new_for_uri (scene_uri);
  if (want_model)
    mirada_session_open_model (self, model);
  if (want_scene)
    mirada_session_open_image (self, scene);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Jobs */

static MiradaJobRunner *
active_runner (MiradaSession *self)
{
  MiradaJobRunner *runners[] = { self->detect_runner, self->model_runner, self->image_runner };

  for (guint i = 0; i < G_N_ELEMENTS (runners); i++)
    if (runners[i] != NULL && mirada_job_runner_get_busy (runners[i]))
      return runners[i];
  return NULL;
}

gboolean
mirada_session_get_busy (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), FALSE);
  return active_runner (self) != NULL;
}

double
mirada_session_get_progress (MiradaSession *self)
{
  MiradaJobRunner *runner;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), 0);
  runner = active_runner (self);
  return runner != NULL ? mirada_job_runner_get_progress (runner) : 0;
}

const char *
mirada_session_get_job_title (MiradaSession *self)
{
  MiradaJobRunner *runner;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  runner = active_runner (self);
  return runner != NULL ? mirada_job_runner_get_title (runner) : NULL;
}

static void
cancel_jobs (MiradaSession *self)
{
  mirada_job_runner_cancel (self->detect_runner);
  mirada_job_runner_cancel (self->model_runner);
  mirada_job_runner_cancel (self->image_runner);
}

void
mirada_session_cancel (MiradaSession *self)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));

  cancel_jobs (self);
  stop_partial (self);
  /* Esc during a re-classification: the last complete grid, not an empty canvas */
  if (self->prev_grid != NULL)
    restore_prev (self);
  else if (!self->grid_complete && self->model_grid != NULL)
    {
      /* a partial grid is not a result */
      set_grids (self, NULL, NULL);
      refilter (self);
    }
}

static void
runner_changed_cb (MiradaSession *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JOB_TITLE]);
}

/* ------------------------------------------------------------------ */
/* Getters */

MirModel *
mirada_session_get_model (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->model;
}

const char *
mirada_session_get_model_name (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->model_name;
}

GFile *
mirada_session_get_model_file (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->model_file;
}

MirImage *
mirada_session_get_image (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->image;
}

const char *
mirada_session_get_image_name (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->image_name;
}

GdkTexture *
mirada_session_get_texture (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->texture;
}

MirDetectGrid *
mirada_session_get_grid (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->grid;
}

GPtrArray *
mirada_session_get_scale_grids (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->scale_grids;
}

guint
mirada_session_get_n_scales (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), 1);
  return self->scale_grids != NULL ? self->scale_grids->len : 1;
}

MirDetectResult *
mirada_session_get_result (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->result;
}

const char *
mirada_session_get_note (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->note;
}

MirDetectTruth *
mirada_session_get_truth (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->truth;
}

const char *
mirada_session_get_truth_name (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->truth_path != NULL ? self->truth_name : NULL;
}

char **
mirada_session_dup_class_names (MiradaSession *self)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  return self->model != NULL ? mir_model_dup_class_names (self->model) : g_new0 (char *, 1);
}

char *
mirada_session_dup_class_name (MiradaSession *self,
                               guint          k)
{
  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);

  if (self->model != NULL && k < mir_model_get_n_classes (self->model))
    return mir_model_dup_class_name (self->model, k);
  if (self->grid != NULL && k < self->grid->n_classes)
    return g_strdup (self->grid->class_names[k]);
  return g_strdup_printf ("%u", k);
}

/* ------------------------------------------------------------------ */

MiradaSession *
mirada_session_new (void)
{
  return g_object_new (MIRADA_TYPE_SESSION, NULL);
}

static void
mirada_session_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MiradaSession *self = MIRADA_SESSION (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      g_value_set_pointer (value, self->model);
      break;
    case PROP_MODEL_NAME:
      g_value_set_string (value, self->model_name);
      break;
    case PROP_IMAGE:
      g_value_set_pointer (value, self->image);
      break;
    case PROP_IMAGE_NAME:
      g_value_set_string (value, self->image_name);
      break;
    case PROP_TEXTURE:
      g_value_set_object (value, self->texture);
      break;
    case PROP_GRID:
      g_value_set_pointer (value, self->grid);
      break;
    case PROP_RESULT:
      g_value_set_pointer (value, self->result);
      break;
    case PROP_NOTE:
      g_value_set_string (value, self->note);
      break;
    case PROP_TRUTH:
      g_value_set_pointer (value, self->truth);
      break;
    case PROP_WINDOW_SIZE:
      g_value_set_int (value, self->geometry.window_size);
      break;
    case PROP_STRIDE:
      g_value_set_int (value, self->geometry.stride);
      break;
    case PROP_LEVELS:
      g_value_set_uint (value, self->geometry.levels);
      break;
    case PROP_NOTEBOOK_LAYOUT:
      g_value_set_boolean (value, self->geometry.notebook_layout);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, mirada_session_get_busy (self));
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, mirada_session_get_progress (self));
      break;
    case PROP_JOB_TITLE:
      g_value_set_string (value, mirada_session_get_job_title (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mirada_session_dispose (GObject *object)
{
  MiradaSession *self = MIRADA_SESSION (object);

  if (self->detect_runner != NULL)
    cancel_jobs (self);
  stop_partial (self);
  g_clear_object (&self->detect_runner);
  g_clear_object (&self->model_runner);
  g_clear_object (&self->image_runner);
  g_clear_pointer (&self->model, mir_model_unref);
  g_clear_pointer (&self->image, mir_image_unref);
  g_clear_object (&self->texture);
  g_clear_object (&self->model_file);
  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->scale_grids, g_ptr_array_unref);
  g_clear_pointer (&self->model_grid, mir_detect_grid_unref);
  g_clear_pointer (&self->model_scale_grids, g_ptr_array_unref);
  g_clear_pointer (&self->examples, mir_detect_examples_free);
  g_clear_pointer (&self->mark_label, g_free);
  g_clear_pointer (&self->result, mir_detect_result_unref);
  drop_prev (self);
  g_clear_pointer (&self->old_grids, g_ptr_array_unref);
  clear_truth (self);

  G_OBJECT_CLASS (mirada_session_parent_class)->dispose (object);
}

static void
mirada_session_finalize (GObject *object)
{
  MiradaSession *self = MIRADA_SESSION (object);

  g_free (self->model_name);
  g_free (self->image_name);
  g_free (self->note);
  g_clear_pointer (&self->params, mir_detect_params_free);
  g_clear_pointer (&self->field_shown, g_array_unref);
  g_clear_pointer (&self->retired_layers, g_ptr_array_unref);

  G_OBJECT_CLASS (mirada_session_parent_class)->finalize (object);
}

static void
mirada_session_class_init (MiradaSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = mirada_session_get_property;
  object_class->dispose = mirada_session_dispose;
  object_class->finalize = mirada_session_finalize;

  properties[PROP_MODEL] = g_param_spec_pointer ("model", NULL, NULL, ro);
  properties[PROP_MODEL_NAME] = g_param_spec_string ("model-name", NULL, NULL, NULL, ro);
  properties[PROP_IMAGE] = g_param_spec_pointer ("image", NULL, NULL, ro);
  properties[PROP_IMAGE_NAME] = g_param_spec_string ("image-name", NULL, NULL, NULL, ro);
  properties[PROP_TEXTURE] = g_param_spec_object ("texture", NULL, NULL, GDK_TYPE_TEXTURE, ro);
  properties[PROP_GRID] = g_param_spec_pointer ("grid", NULL, NULL, ro);
  properties[PROP_RESULT] = g_param_spec_pointer ("result", NULL, NULL, ro);
  properties[PROP_NOTE] = g_param_spec_string ("note", NULL, NULL, NULL, ro);
  properties[PROP_TRUTH] = g_param_spec_pointer ("truth", NULL, NULL, ro);
  properties[PROP_WINDOW_SIZE] = g_param_spec_int ("window-size", NULL, NULL, 0, G_MAXINT, 150, ro);
  properties[PROP_STRIDE] = g_param_spec_int ("stride", NULL, NULL, 0, G_MAXINT, 40, ro);
  properties[PROP_LEVELS] = g_param_spec_uint ("levels", NULL, NULL, 1, G_MAXUINT, 1, ro);
  properties[PROP_NOTEBOOK_LAYOUT] = g_param_spec_boolean ("notebook-layout", NULL, NULL, FALSE, ro);
  properties[PROP_BUSY] = g_param_spec_boolean ("busy", NULL, NULL, FALSE, ro);
  properties[PROP_PROGRESS] = g_param_spec_double ("progress", NULL, NULL, 0, 1, 0, ro);
  properties[PROP_JOB_TITLE] = g_param_spec_string ("job-title", NULL, NULL, NULL, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* A load or a detection failed (what failed, the error); nothing changed. */
  signals[ERROR] =
    g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
  /* A model or an image was opened from this file (for the recent list). */
  signals[FILE_OPENED] =
    g_signal_new ("file-opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_FILE);
  /* A classification starts (the grid is NULL until it ends). */
  signals[DETECTION_STARTED] =
    g_signal_new ("detection-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  /* It ended: with a grid, with an error, or cancelled back to the last grid. */
  signals[DETECTION_FINISHED] =
    g_signal_new ("detection-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  /* Which classes show their probability field, or its opacity, changed. */
  signals[FIELD_CHANGED] =
    g_signal_new ("field-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
  /* the examples (background and classes by example) changed */
  signals[EXAMPLES_CHANGED] =
    g_signal_new ("examples-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
mirada_session_init (MiradaSession *self)
{
  MiradaJobRunner **runners[] = { &self->detect_runner, &self->model_runner, &self->image_runner };

  self->field_shown = g_array_new (FALSE, TRUE, sizeof (gboolean));
  self->field_opacity = 0.5;
  self->geometry = (Geometry) { 150, 40, 1, FALSE };
  for (guint i = 0; i < G_N_ELEMENTS (runners); i++)
    {
      *runners[i] = mirada_job_runner_new ();
      g_signal_connect_object (*runners[i], "notify::busy", G_CALLBACK (runner_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (*runners[i], "notify::progress", G_CALLBACK (runner_changed_cb), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (*runners[i], "notify::title", G_CALLBACK (runner_changed_cb), self, G_CONNECT_SWAPPED);
    }
}

/* ------------------------------------------------------------------ */
/* Live occlusion (issue 19, mirada-occlusion-paint.c) */

GPtrArray *
mirada_session_dup_model_grids (MiradaSession *self)
{
  GPtrArray *grids;

  g_return_val_if_fail (MIRADA_IS_SESSION (self), NULL);
  if (self->model_grid == NULL)
    return NULL;
  if (self->model_scale_grids != NULL)
    return g_ptr_array_ref (self->model_scale_grids);
  grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  g_ptr_array_add (grids, mir_detect_grid_ref (self->model_grid));
  return grids;
}

void
mirada_session_show_occluded (MiradaSession *self,
                              MirImage      *image,
                              GPtrArray     *grids)
{
  g_return_if_fail (MIRADA_IS_SESSION (self));
  g_return_if_fail (image != NULL && grids != NULL && grids->len >= 1);

  if (image != self->image)
    {
      /* grids of the image before the occlusion: no longer this image's */
      drop_prev (self);
      g_clear_pointer (&self->old_grids, g_ptr_array_unref);
      mir_image_ref (image);
      g_clear_pointer (&self->image, mir_image_unref);
      self->image = image;
      g_clear_object (&self->texture);
      self->texture = mirada_texture_new_for_image (image);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXTURE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE]);
    }
  set_grids (self, mir_detect_grid_ref (g_ptr_array_index (grids, 0)),
             grids->len > 1 ? g_ptr_array_ref (grids) : NULL);
  refilter (self);
}
