/* mirada-window.c: the main window and its worker jobs (STYLE.md §5). */
#define G_LOG_DOMAIN "mirada-window"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "io/mir-sidecar.h"
#include "mir-error.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "mirada-window-private.h"

G_DEFINE_FINAL_TYPE (MiradaWindow, mirada_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  DETECTIONS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void run_detection (MiradaWindow *self);
static void image_loaded (gpointer result, const GError *error, gpointer user_data);

void
_mirada_window_toast_error (MiradaWindow *self,
                            const char   *what,
                            const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 8);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
  g_message ("%s", text);
}

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
} DetectJob;

static void
detect_job_free (DetectJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->image, mir_image_unref);
  g_free (job);
}

static gpointer
detect_worker (MiradaJob     *job,
               gpointer       data,
               GCancellable  *cancellable,
               GError       **error)
{
  DetectJob *d = data;
  g_autoptr(GPtrArray) grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  MirDetectScales scales;
  MirDetectGrid *grid;

  MirDetectGeometry geoms[MIR_DETECT_MAX_SCALES];
  int sizes[MIR_DETECT_MAX_SCALES][2];
  guint n_levels = 1;
  double total, done = 0;

  /* Scale 0 is the image itself; levels 1.. scan it shrunk (multi-scale).
   * A level where the window no longer fits ends the pyramid.  The progress
   * runs once over all levels, each weighted by its number of windows. */
  geoms[0] = d->geom;
  sizes[0][0] = d->image->width;
  sizes[0][1] = d->image->height;
  if (d->levels > 1
      && !mir_detect_scales_pyramid (&scales, d->geom.window, MIRADA_DETECTOR_PYRAMID_FACTOR,
                                     MIN (d->levels, MIR_DETECT_MAX_SCALES), error))
    return NULL;
  for (guint s = 1; s < d->levels && s < MIR_DETECT_MAX_SCALES; s++, n_levels++)
    {
      mir_detect_scales_image_size (&scales, s, d->image->width, d->image->height,
                                    &sizes[s][0], &sizes[s][1]);
      if (!mir_detect_geometry_init (&geoms[s], sizes[s][0], sizes[s][1], d->geom.window,
                                     d->geom.stride, d->geom.notebook_layout, NULL))
        break;
    }
  total = 0;
  for (guint s = 0; s < n_levels; s++)
    total += mir_detect_geometry_n_windows (&geoms[s]);
  for (guint s = 0; s < n_levels; s++)
    {
      g_autoptr(MirImage) level = NULL;
      double share = mir_detect_geometry_n_windows (&geoms[s]) / MAX (total, 1.0);

      mirada_job_set_progress_span (job, done, share);
      done += share;
      if (s == 0)
        grid = d->classify (d->model, d->image, &d->geom, job, cancellable, error);
      else if ((level = mir_image_resize (d->image, sizes[s][0], sizes[s][1],
                                          d->model->meta.resize, error)))
        grid = d->classify (d->model, level, &geoms[s], job, cancellable, error);
      else
        grid = NULL;
      if (grid == NULL)
        return NULL;
      if (s > 0)
        grid->scale = scales.factor[s];
      g_ptr_array_add (grids, grid);
    }
  return g_steal_pointer (&grids);
}

static void
classify_progress_cb (guint    done,
                      guint    total,
                      gpointer user_data)
{
  mirada_job_set_progress (user_data, total > 0 ? (double) done / total : 1.0);
}

MirDetectGrid *
mirada_classify_default (MirModel                *model,
                         const MirImage          *image,
                         const MirDetectGeometry *geom,
                         MiradaJob               *job,
                         GCancellable            *cancellable,
                         GError                 **error)
{
  return mir_detect_classify (model, image, geom, 0, classify_progress_cb, job, cancellable, error);
}

/* ------------------------------------------------------------------ */
/* UI thread */

static void
update_info (MiradaWindow *self)
{
  g_autoptr(GString) info = g_string_new (NULL);

  if (self->model_name != NULL)
    /* Translators: shown under the image */
    g_string_append_printf (info, _("Model: %s"), self->model_name);
  if (self->image != NULL)
    {
      if (info->len)
        g_string_append (info, " · ");
      g_string_append_printf (info, _("Image: %s (%d×%d)"), self->image_name,
                              self->image->width, self->image->height);
    }
  if (self->grid != NULL)
    {
      guint n = mir_detect_geometry_n_windows (&self->grid->geom);

      g_string_append (info, " · ");
      g_string_append_printf (info, ngettext ("%u window (%d×%d)", "%u windows (%d×%d)", n),
                              n, self->grid->geom.rows, self->grid->geom.cols);
    }
  gtk_label_set_label (self->info_label, info->str);
  adw_window_title_set_subtitle (self->window_title, self->image_name != NULL ? self->image_name : "");
}

static void
update_explain_classes (MiradaWindow *self)
{
  g_autoptr(GArray) enabled = mirada_detector_panel_dup_enabled (self->detector_panel);

  mirada_explain_panel_set_classes (self->explain[MIRADA_PANEL_GRADCAM], (const gint *) (void *) enabled->data,
                                    enabled->len);
}

static void
load_truth (MiradaWindow *self)
{
  g_autoptr(GError) error = NULL;

  if (self->truth != NULL || self->truth_path == NULL || self->grid == NULL)
    return;
  /* a small local JSON file: read here, with the grid's class names */
  self->truth = mir_detect_truth_load (self->truth_path, (const char *const *) self->grid->class_names, &error);
  if (self->truth == NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not read the ground truth “%s”"), self->truth_name);

      _mirada_window_toast_error (self, what, error);
      g_clear_pointer (&self->truth_path, g_free);
    }
}

static void
update_truth (MiradaWindow *self)
{
  load_truth (self);
  if (self->truth == NULL)
    {
      mirada_detector_panel_set_evaluation (self->detector_panel, NULL,
                                            self->truth_path != NULL ? self->truth_name : NULL);
      mirada_canvas_set_truth (self->canvas, NULL);
      return;
    }
  if (self->result != NULL)
    {
      MirDetectEval eval = { 0 };

      mir_detect_evaluate (self->result, (const MirDetectTruthBox *) (void *) self->truth->boxes->data,
                           self->truth->boxes->len, 0.5, &eval);
      mirada_detector_panel_set_evaluation (self->detector_panel, &eval, self->truth_name);
      mir_detect_eval_clear (&eval);
    }
  else
    mirada_detector_panel_set_evaluation (self->detector_panel, NULL, self->truth_name);
  mirada_canvas_set_truth (self->canvas, g_settings_get_boolean (self->settings, "show-truth")
                                         ? self->truth->boxes : NULL);
}

static void
clear_truth (MiradaWindow *self)
{
  g_clear_pointer (&self->truth_path, g_free);
  g_clear_pointer (&self->truth_name, g_free);
  g_clear_pointer (&self->truth, mir_detect_truth_free);
}

MirDetectTruth *
mirada_window_get_truth (MiradaWindow *self)
{
  return self->truth;
}

void
_mirada_window_update_sweep (MiradaWindow *self)
{
  g_autoptr(MirDetectParams) params = NULL;

  if (self->sweep == NULL)
    return;
  if (self->grid != NULL)
    params = mirada_detector_panel_dup_params (self->detector_panel);
  mirada_sweep_dialog_set_n_scales (self->sweep, self->scale_grids != NULL ? self->scale_grids->len : 1);
  mirada_sweep_dialog_set_input (self->sweep, self->grid, params,
                                 self->truth != NULL ? self->truth->boxes : NULL);
}

static void
refilter (MiradaWindow *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDetectParams) params = NULL;

  g_clear_pointer (&self->result, mir_detect_result_unref);
  update_explain_classes (self);
  if (self->grid == NULL)
    {
      mirada_detector_panel_set_counts (self->detector_panel, NULL);
      mirada_canvas_set_detections (self->canvas, NULL, NULL);
      update_truth (self);
      update_info (self);
      _mirada_window_update_sweep (self);
      g_signal_emit (self, signals[DETECTIONS_CHANGED], 0);
      return;
    }

  /* the cheap stage: filters and grouping on the cached grid, UI thread */
  params = mirada_detector_panel_dup_params (self->detector_panel);
  if (self->scale_grids != NULL)
    self->result = mir_detect_filter_scales ((MirDetectGrid *const *) self->scale_grids->pdata,
                                             self->scale_grids->len, params, &error);
  else
    self->result = mir_detect_filter (self->grid, params, &error);
  mirada_canvas_set_params (self->canvas, self->result != NULL ? params : NULL);
  mirada_canvas_set_n_scales (self->canvas, self->scale_grids != NULL ? self->scale_grids->len : 1);
  if (self->result == NULL)
    {
      mirada_detector_panel_set_note (self->detector_panel, error->message);
      mirada_detector_panel_set_counts (self->detector_panel, NULL);
      mirada_canvas_set_detections (self->canvas, self->grid, NULL);
    }
  else
    {
      mirada_detector_panel_set_note (self->detector_panel, NULL);
      mirada_detector_panel_set_counts (self->detector_panel, self->result->counts);
      mirada_canvas_set_detections (self->canvas, self->grid, self->result->boxes);
    }
  update_truth (self);
  update_info (self);
  _mirada_window_update_sweep (self);
  g_signal_emit (self, signals[DETECTIONS_CHANGED], 0);
}

/* One inference at a time (OpenBLAS already uses every core): the
 * explanations start once the detection is done. */
static void
explain_whole_image (MiradaWindow *self)
{
  update_explain_classes (self);
  for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
    mirada_explain_panel_set_input (self->explain[i], self->image,
                                    _("The whole image; click a window on it to look at that window."));
}

static void
detect_done (gpointer      result,
             const GError *error,
             gpointer      user_data)
{
  MiradaWindow *self = user_data;

  explain_whole_image (self);
  if (error != NULL)
    {
      _mirada_window_toast_error (self, _("Detection failed"), error);
      return;
    }
  {
    GPtrArray *grids = result;

    g_clear_pointer (&self->grid, mir_detect_grid_unref);
    g_clear_pointer (&self->scale_grids, g_ptr_array_unref);
    self->grid = mir_detect_grid_ref (g_ptr_array_index (grids, 0));
    if (grids->len > 1)
      self->scale_grids = grids;
    else
      g_ptr_array_unref (grids);
  }
  g_clear_pointer (&self->truth, mir_detect_truth_free);
  /* the grid names the classes (model meta, else "class i") */
  if (mirada_detector_panel_get_n_classes (self->detector_panel) != self->grid->n_classes)
    mirada_detector_panel_set_classes (self->detector_panel, self->grid->n_classes,
                                       (const char *const *) self->grid->class_names);
  mirada_canvas_set_class_names (self->canvas, (const char *const *) self->grid->class_names);
  refilter (self);
  _mirada_window_update_actions (self);
}

static void
run_detection (MiradaWindow *self)
{
  g_autoptr(GError) error = NULL;
  DetectJob *job;

  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->scale_grids, g_ptr_array_unref);
  refilter (self);
  if (self->model == NULL || self->image == NULL)
    {
      mirada_job_runner_cancel (self->detect_runner);
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
    mirada_explain_panel_set_input (self->explain[i], NULL, NULL);

  job = g_new0 (DetectJob, 1);
  if (!mir_detect_geometry_init (&job->geom, self->image->width, self->image->height,
                                 mirada_detector_panel_get_window (self->detector_panel),
                                 mirada_detector_panel_get_stride (self->detector_panel),
                                 mirada_detector_panel_get_notebook_compat (self->detector_panel),
                                 &error))
    {
      g_free (job);
      mirada_job_runner_cancel (self->detect_runner);
      mirada_detector_panel_set_note (self->detector_panel, error->message);
      explain_whole_image (self);
      return;
    }
  job->model = mir_model_ref (self->model);
  job->image = mir_image_ref (self->image);
  job->classify = self->classify;
  job->levels = mirada_detector_panel_get_levels (self->detector_panel);
  mirada_job_runner_run (self->detect_runner, _("Classifying windows…"), detect_worker,
                         job, (GDestroyNotify) detect_job_free, (GDestroyNotify) g_ptr_array_unref,
                         detect_done, g_object_ref (self), g_object_unref);
}

static guint
model_n_classes (MirModel *model)
{
  const MirShape *shape;

  if (mir_model_get_n_nodes (model) == 0 || model->outputs == NULL || model->outputs->len == 0)
    return 0;
  shape = mir_model_get_output_shape (model, 0);
  if (shape == NULL || shape->ndim < 2 || shape->dim[shape->ndim - 1] <= 0)
    return 0;
  /* one sigmoid output: the detector makes it two classes, [1 − P, P] */
  if (shape->dim[shape->ndim - 1] == 1 && mir_model_get_head_kind (model) == MIR_HEAD_SIGMOID)
    return 2;
  return (guint) MIN (shape->dim[shape->ndim - 1], 256);
}

void
mirada_window_set_model (MiradaWindow *self,
                         MirModel     *model)
{
  guint n_classes;

  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (model != NULL);

  mir_model_ref (model);
  g_clear_pointer (&self->model, mir_model_unref);
  self->model = model;
  if (self->model_name == NULL)
    self->model_name = g_strdup (model->name);

  n_classes = model_n_classes (model);
  mirada_detector_panel_set_classes (self->detector_panel, n_classes,
                                     (const char *const *) model->meta.class_names);
  mirada_canvas_set_class_names (self->canvas, (const char *const *) model->meta.class_names);
  mirada_architecture_panel_set_model (self->architecture_panel, model);
  for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
    mirada_explain_panel_set_model (self->explain[i], model);
  mirada_scale_banner_update (self->scale_banner, model, self->image);
  run_detection (self);
  _mirada_window_update_actions (self);
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
  copy->meta.preprocess_from = meta->preprocess_from;
  copy->meta.resize = meta->resize;
  copy->meta.class_names = g_strdupv (meta->class_names);
  copy->meta.source = g_strdup (meta->source);
  return g_steal_pointer (&copy);
}

char *
mirada_window_dup_sidecar_path (MiradaWindow *self)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);

  if (self->model == NULL || self->model_file == NULL ||
      (path = g_file_get_path (self->model_file)) == NULL)
    return NULL;
  /* the sidecar it was read from, if it has one of Mirada's names */
  if (self->model->meta.source != NULL && g_str_has_suffix (self->model->meta.source, ".mirada.json"))
    return g_strdup (self->model->meta.source);
  return mir_sidecar_path_for_model (path);
}

gboolean
mirada_window_apply_model_meta (MiradaWindow       *self,
                                const MirModelMeta *meta,
                                GError            **error)
{
  g_autoptr(MirModel) model = NULL;
  g_autofree char *sidecar = NULL;
  MirModelMeta saved;
  guint n_classes, n_names;

  g_return_val_if_fail (MIRADA_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (meta != NULL, FALSE);

  if (self->model == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No model is open"));
      return FALSE;
    }
  n_classes = model_n_classes (self->model);
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

  sidecar = mirada_window_dup_sidecar_path (self);
  saved = *meta;
  saved.source = sidecar;
  /* the user chose it; once in the sidecar it is the sidecar's word */
  saved.preprocess_from = sidecar != NULL ? MIR_PREPROCESS_FROM_SIDECAR : MIR_PREPROCESS_FROM_USER;
  if (sidecar != NULL && !mir_sidecar_save (sidecar, &saved, error))
    return FALSE;
  if (!(model = model_with_meta (self->model, &saved, error)))
    return FALSE;
  mirada_window_set_model (self, model);
  return TRUE;
}

GMenuModel *
mirada_window_get_recent_menu (MiradaWindow *self,
                               guint         section)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);
  return G_MENU_MODEL (section == 0 ? self->recent_models : self->recent_images);
}

void
mirada_window_set_image (MiradaWindow *self,
                         MirImage     *image)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (image != NULL);

  mir_image_ref (image);
  g_clear_pointer (&self->image, mir_image_unref);
  self->image = image;
  clear_truth (self);
  if (self->image_name == NULL)
    self->image_name = g_strdup (_("Image"));
  g_clear_object (&self->texture);
  self->texture = mirada_texture_new_for_image (image);
  mirada_canvas_set_texture (self->canvas, self->texture);
  gtk_stack_set_visible_child_name (self->canvas_stack, "canvas");
  mirada_scale_banner_update (self->scale_banner, self->model, image);
  run_detection (self);
  _mirada_window_update_actions (self);
}

void
mirada_window_set_classifier (MiradaWindow       *self,
                              MiradaClassifyFunc  func)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  self->classify = func != NULL ? func : mirada_classify_default;
}

typedef struct
{
  MiradaWindow *window;
  char *name;
  GFile *file;   /* NULL for a pasted image */
} OpenData;

static void
open_data_free (OpenData *data)
{
  g_object_unref (data->window);
  g_clear_object (&data->file);
  g_free (data->name);
  g_free (data);
}

static OpenData *
open_data_new (MiradaWindow *self,
               GFile        *file)
{
  OpenData *data = g_new0 (OpenData, 1);

  data->window = g_object_ref (self);
  data->name = file_display_name (file);
  data->file = g_object_ref (file);
  return data;
}

void
mirada_window_paste_texture (MiradaWindow *self,
                             GdkTexture   *texture)
{
  OpenData *data;

  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (GDK_IS_TEXTURE (texture));

  data = g_new0 (OpenData, 1);
  data->window = g_object_ref (self);
  data->name = g_strdup (_("Pasted image"));
  mirada_job_runner_run (self->image_runner, _("Loading the image…"), paste_image_worker,
                         g_object_ref (texture), g_object_unref, (GDestroyNotify) loaded_image_free,
                         image_loaded, data, (GDestroyNotify) open_data_free);
}

static void
model_loaded (gpointer      result,
              const GError *error,
              gpointer      user_data)
{
  OpenData *data = user_data;
  MiradaWindow *self = data->window;
  g_autoptr(MirModel) model = result;

  if (error != NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not open the model “%s”"), data->name);

      _mirada_window_toast_error (self, what, error);
      return;
    }
  g_free (self->model_name);
  self->model_name = g_strdup (data->name);
  g_set_object (&self->model_file, data->file);
  mirada_window_set_model (self, model);
  if (data->file != NULL)
    _mirada_window_note_recent (self, data->file);
}

static void
image_loaded (gpointer      result,
              const GError *error,
              gpointer      user_data)
{
  OpenData *data = user_data;
  MiradaWindow *self = data->window;
  g_autoptr(LoadedImage) loaded = result;

  if (error != NULL)
    {
      g_autofree char *what = g_strdup_printf (_("Could not open the image “%s”"), data->name);

      _mirada_window_toast_error (self, what, error);
      return;
    }
  g_free (self->image_name);
  self->image_name = g_strdup (data->name);
  mirada_window_set_image (self, loaded->image);
  /* after set_image (which forgets the old one); read once the grid names the classes */
  if (loaded->truth_path != NULL)
    {
      self->truth_path = g_steal_pointer (&loaded->truth_path);
      self->truth_name = g_path_get_basename (self->truth_path);
      update_truth (self);
    }
  if (data->file != NULL)
    _mirada_window_note_recent (self, data->file);
}

void
mirada_window_open_model (MiradaWindow *self,
                          GFile        *file)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  mirada_job_runner_run (self->model_runner, _("Loading the model…"), load_model_worker,
                         g_object_ref (file), g_object_unref, (GDestroyNotify) mir_model_unref,
                         model_loaded, open_data_new (self, file), (GDestroyNotify) open_data_free);
}

void
mirada_window_open_image (MiradaWindow *self,
                          GFile        *file)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  mirada_job_runner_run (self->image_runner, _("Loading the image…"), load_image_worker,
                         g_object_ref (file), g_object_unref, (GDestroyNotify) loaded_image_free,
                         image_loaded, open_data_new (self, file), (GDestroyNotify) open_data_free);
}

static gboolean
file_is_image (GFile *file)
{
  g_autofree char *base = g_file_get_basename (file);
  g_autofree char *type = g_content_type_guess (base, NULL, 0, NULL);

  return type != NULL && g_content_type_is_mime_type (type, "image/*");
}

void
mirada_window_open_files (MiradaWindow  *self,
                          GFile        **files,
                          int            n_files)
{
  for (int i = 0; i < n_files; i++)
    {
      if (file_is_image (files[i]))
        mirada_window_open_image (self, files[i]);
      else
        mirada_window_open_model (self, files[i]);
    }
}

gboolean
mirada_window_open_defaults (MiradaWindow *self)
{
  const char *model_path = RESOURCE_BASE "/default/model.h5";
  const char *scene_path = RESOURCE_BASE "/default/scene.png";
  g_autoptr(GFile) model = NULL;
  g_autoptr(GFile) scene = NULL;
  g_autofree char *model_uri = NULL;
  g_autofree char *scene_uri = NULL;

  if (!g_resources_get_info (model_path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL, NULL) ||
      !g_resources_get_info (scene_path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL, NULL))
    return FALSE;

  model_uri = g_strconcat ("resource://", model_path, NULL);
  scene_uri = g_strconcat ("resource://", scene_path, NULL);
  model = g_file_new_for_uri (model_uri);
  scene = g_file_new_for_uri (scene_uri);
  mirada_window_open_model (self, model);
  mirada_window_open_image (self, scene);
  return TRUE;
}

/* ------------------------------------------------------------------ */

static void
update_job_ui (MiradaWindow *self)
{
  MiradaJobRunner *runners[] = { self->detect_runner, self->model_runner, self->image_runner };
  MiradaJobRunner *active = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (runners); i++)
    if (mirada_job_runner_get_busy (runners[i]))
      {
        active = runners[i];
        break;
      }

  gtk_widget_set_visible (self->job_box, active != NULL);
  gtk_spinner_set_spinning (self->job_spinner, active != NULL);
  if (active != NULL)
    {
      gtk_progress_bar_set_fraction (self->job_progress, mirada_job_runner_get_progress (active));
      gtk_progress_bar_set_text (self->job_progress, mirada_job_runner_get_title (active));
    }
  _mirada_window_update_actions (self);
}

gboolean
mirada_window_get_busy (MiradaWindow *self)
{
  return mirada_job_runner_get_busy (self->detect_runner) ||
         mirada_job_runner_get_busy (self->model_runner) ||
         mirada_job_runner_get_busy (self->image_runner);
}

void
mirada_window_cancel_jobs (MiradaWindow *self)
{
  mirada_job_runner_cancel (self->detect_runner);
  mirada_job_runner_cancel (self->model_runner);
  mirada_job_runner_cancel (self->image_runner);
}

MirModel *
mirada_window_get_model (MiradaWindow *self)
{
  return self->model;
}

MirDetectGrid *
mirada_window_get_grid (MiradaWindow *self)
{
  return self->grid;
}

MirDetectResult *
mirada_window_get_result (MiradaWindow *self)
{
  return self->result;
}

MiradaCanvas *
mirada_window_get_canvas (MiradaWindow *self)
{
  return self->canvas;
}

MiradaDetectorPanel *
mirada_window_get_detector_panel (MiradaWindow *self)
{
  return self->detector_panel;
}

static void
window_activated_cb (MiradaWindow *self,
                     int           row,
                     int           col)
{
  g_autoptr(GString) text = g_string_new (NULL);
  guint n;

  if (self->grid == NULL)
    return;
  n = (guint) (row * self->grid->geom.cols + col);
  /* Translators: the window number n of the report, then its row and column */
  g_string_append_printf (text, _("Window %u (row %d, column %d)"), n, row, col);
  for (guint k = 0; k < self->grid->n_classes; k++)
    g_string_append_printf (text, "%s%s %.4f", k == 0 ? ": " : " · ",
                            self->grid->class_names[k], mir_detect_grid_get (self->grid, n, k));
  gtk_label_set_label (self->info_label, text->str);

  /* the explanations follow the selected window */
  {
    g_autoptr(MirImage) crop = NULL;
    g_autoptr(GError) error = NULL;
    int x, y, size;

    mir_detect_geometry_window_rect (&self->grid->geom, n, &x, &y, &size);
    if (!(crop = mir_image_crop (self->image, x, y, size, size, &error)))
      {
        _mirada_window_toast_error (self, _("Cannot cut the window"), error);
        return;
      }
    for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
      mirada_explain_panel_set_input (self->explain[i], crop, text->str);
  }
}

void
mirada_window_select_window (MiradaWindow *self,
                             int           row,
                             int           col)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (self->grid != NULL);
  g_return_if_fail (row >= 0 && row < self->grid->geom.rows && col >= 0 && col < self->grid->geom.cols);

  window_activated_cb (self, row, col);
}

GtkWidget *
mirada_window_get_explain_panel (MiradaWindow *self,
                                 guint         index)
{
  g_return_val_if_fail (index < G_N_ELEMENTS (self->explain), NULL);
  return GTK_WIDGET (self->explain[index]);
}

GtkWidget *
mirada_window_get_panel_frame (MiradaWindow *self,
                               guint         index)
{
  g_return_val_if_fail (index < MIRADA_N_PANELS, NULL);
  return self->frames[index];
}

GtkWidget *
mirada_window_get_architecture_panel (MiradaWindow *self)
{
  return GTK_WIDGET (self->architecture_panel);
}

GtkWidget *
mirada_window_get_sweep_dialog (MiradaWindow *self)
{
  return self->sweep != NULL ? GTK_WIDGET (self->sweep) : NULL;
}

void
mirada_window_maximize_panel (MiradaWindow *self,
                              int           index)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (index >= -1 && index < MIRADA_N_PANELS);

  self->maximizing = TRUE;
  for (int i = 0; i < MIRADA_N_PANELS; i++)
    {
      gtk_toggle_button_set_active (self->maximize[i], i == index);
      gtk_widget_set_visible (self->frames[i], index < 0 || i == index);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->maximize[i]),
                                   i == index ? _("Show all four panels again")
                                              : _("Maximise this panel (the others are hidden until you press it again)"));
      gtk_button_set_icon_name (GTK_BUTTON (self->maximize[i]),
                                i == index ? "view-restore-symbolic" : "view-fullscreen-symbolic");
    }
  /* a pane with both halves hidden goes too, so the other takes the room */
  gtk_widget_set_visible (GTK_WIDGET (self->top_paned),
                          gtk_widget_get_visible (self->frames[MIRADA_PANEL_GRADCAM]) ||
                          gtk_widget_get_visible (self->frames[MIRADA_PANEL_ACTIVATIONS]));
  gtk_widget_set_visible (GTK_WIDGET (self->bottom_paned),
                          gtk_widget_get_visible (self->frames[MIRADA_PANEL_ARCHITECTURE]) ||
                          gtk_widget_get_visible (self->frames[MIRADA_PANEL_FILTERS]));
  self->maximizing = FALSE;
  if (index >= 0)
    gtk_widget_grab_focus (GTK_WIDGET (self->maximize[index]));
}

static void
maximize_toggled_cb (GtkToggleButton *button,
                     MiradaWindow    *self)
{
  if (self->maximizing)
    return;
  for (int i = 0; i < MIRADA_N_PANELS; i++)
    if (self->maximize[i] == button)
      {
        mirada_window_maximize_panel (self, gtk_toggle_button_get_active (button) ? i : -1);
        return;
      }
}

/* The first time a pane knows its size, split it in the middle (GtkPaned
 * would give the start child its natural width). */
static void
pane_max_position_cb (GtkPaned   *paned,
                      GParamSpec *pspec,
                      gpointer    user_data)
{
  int max = 0;

  g_object_get (paned, "max-position", &max, NULL);
  if (max <= 0 || g_object_get_data (G_OBJECT (paned), "mirada-split") != NULL)
    return;
  g_object_set_data (G_OBJECT (paned), "mirada-split", GINT_TO_POINTER (1));
  gtk_paned_set_position (paned, max / 2);
}

static void
layer_selected_cb (MiradaWindow *self,
                   gint          node)
{
  /* the architecture list sets the layer of the other panels that offer it */
  for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
    mirada_explain_panel_set_layer (self->explain[i], node);
}

static void
panel_export_clicked_cb (GtkButton    *button,
                         MiradaWindow *self)
{
  for (guint i = 0; i < MIRADA_N_PANELS; i++)
    if (self->panel_export[i] == button)
      gtk_widget_activate_action (GTK_WIDGET (self), "win.export-panel", "u", i);
}

static gboolean
file_dropped_cb (GtkDropTarget *target,
                 const GValue  *value,
                 double         x,
                 double         y,
                 MiradaWindow  *self)
{
  GSList *list;
  g_autoptr(GPtrArray) files = g_ptr_array_new ();

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  list = g_value_get_boxed (value);
  for (GSList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (files, l->data);
  mirada_window_open_files (self, (GFile **) files->pdata, files->len);
  return files->len > 0;
}

static gboolean
mirada_window_close_request (GtkWindow *window)
{
  MiradaWindow *self = MIRADA_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  mirada_window_cancel_jobs (self);

  return GTK_WINDOW_CLASS (mirada_window_parent_class)->close_request (window);
}

MiradaWindow *
mirada_window_new (GtkApplication *application)
{
  return g_object_new (MIRADA_TYPE_WINDOW, "application", application, NULL);
}

static void
mirada_window_dispose (GObject *object)
{
  MiradaWindow *self = MIRADA_WINDOW (object);

  if (self->detect_runner != NULL)
    mirada_window_cancel_jobs (self);
  g_clear_object (&self->detect_runner);
  g_clear_object (&self->model_runner);
  g_clear_object (&self->image_runner);
  g_clear_pointer (&self->model, mir_model_unref);
  g_clear_pointer (&self->image, mir_image_unref);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->scale_grids, g_ptr_array_unref);
  g_clear_pointer (&self->result, mir_detect_result_unref);
  clear_truth (self);
  if (self->sweep != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->sweep), (gpointer *) &self->sweep);
      gtk_window_destroy (GTK_WINDOW (self->sweep));
      self->sweep = NULL;
    }
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (object), MIRADA_TYPE_WINDOW);

  G_OBJECT_CLASS (mirada_window_parent_class)->dispose (object);
}

static void
mirada_window_finalize (GObject *object)
{
  MiradaWindow *self = MIRADA_WINDOW (object);

  g_free (self->model_name);
  g_free (self->image_name);
  g_clear_object (&self->model_file);

  G_OBJECT_CLASS (mirada_window_parent_class)->finalize (object);
}

static void
mirada_window_class_init (MiradaWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = mirada_window_dispose;
  object_class->finalize = mirada_window_finalize;
  window_class->close_request = mirada_window_close_request;

  /* Emitted after the boxes and counts were recomputed (new grid or slider move). */
  signals[DETECTIONS_CHANGED] =
    g_signal_new ("detections-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  g_type_ensure (MIRADA_TYPE_CANVAS);
  g_type_ensure (MIRADA_TYPE_DETECTOR_PANEL);
  g_type_ensure (MIRADA_TYPE_ARCHITECTURE_PANEL);
  g_type_ensure (MIRADA_TYPE_SCALE_BANNER);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE "/ui/mirada-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, job_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, job_spinner);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, job_progress);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, canvas_stack);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, canvas);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, info_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, detector_panel);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, architecture_panel);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, gradcam_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, activations_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, filters_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, panels_paned);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, top_paned);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, bottom_paned);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, recent_models);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, recent_images);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, scale_banner);
  gtk_widget_class_bind_template_child_full (widget_class, "gradcam_frame", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, frames[MIRADA_PANEL_GRADCAM]));
  gtk_widget_class_bind_template_child_full (widget_class, "activations_frame", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, frames[MIRADA_PANEL_ACTIVATIONS]));
  gtk_widget_class_bind_template_child_full (widget_class, "filters_frame", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, frames[MIRADA_PANEL_FILTERS]));
  gtk_widget_class_bind_template_child_full (widget_class, "architecture_frame", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, frames[MIRADA_PANEL_ARCHITECTURE]));
  gtk_widget_class_bind_template_child_full (widget_class, "gradcam_maximize", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, maximize[MIRADA_PANEL_GRADCAM]));
  gtk_widget_class_bind_template_child_full (widget_class, "activations_maximize", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, maximize[MIRADA_PANEL_ACTIVATIONS]));
  gtk_widget_class_bind_template_child_full (widget_class, "filters_maximize", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, maximize[MIRADA_PANEL_FILTERS]));
  gtk_widget_class_bind_template_child_full (widget_class, "architecture_maximize", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, maximize[MIRADA_PANEL_ARCHITECTURE]));
  gtk_widget_class_bind_template_child_full (widget_class, "gradcam_export", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, panel_export[MIRADA_PANEL_GRADCAM]));
  gtk_widget_class_bind_template_child_full (widget_class, "activations_export", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, panel_export[MIRADA_PANEL_ACTIVATIONS]));
  gtk_widget_class_bind_template_child_full (widget_class, "filters_export", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, panel_export[MIRADA_PANEL_FILTERS]));
  gtk_widget_class_bind_template_child_full (widget_class, "architecture_export", FALSE,
                                             G_STRUCT_OFFSET (MiradaWindow, panel_export[MIRADA_PANEL_ARCHITECTURE]));

  _mirada_window_class_actions_init (widget_class);
}

static void
mirada_window_init (MiradaWindow *self)
{
  GtkDropTarget *drop;
  MiradaJobRunner **runners[] = { &self->detect_runner, &self->model_runner, &self->image_runner };

  gtk_widget_init_template (GTK_WIDGET (self));

  self->classify = mirada_classify_default;
  self->settings = g_settings_new (APPLICATION_ID);
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  for (guint i = 0; i < G_N_ELEMENTS (runners); i++)
    {
      *runners[i] = mirada_job_runner_new ();
      g_signal_connect_object (*runners[i], "notify::busy", G_CALLBACK (update_job_ui), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (*runners[i], "notify::progress", G_CALLBACK (update_job_ui), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (*runners[i], "notify::title", G_CALLBACK (update_job_ui), self, G_CONNECT_SWAPPED);
    }

  {
    GtkBox *boxes[] = { self->gradcam_box, self->activations_box, self->filters_box };

    for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
      {
        self->explain[i] = MIRADA_EXPLAIN_PANEL (mirada_explain_panel_new ((MiradaExplainKind) i));
        gtk_widget_set_vexpand (GTK_WIDGET (self->explain[i]), TRUE);
        gtk_box_append (boxes[i], GTK_WIDGET (self->explain[i]));
      }
  }

  g_signal_connect_object (self->detector_panel, "filter-changed", G_CALLBACK (refilter), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->detector_panel, "grid-changed", G_CALLBACK (run_detection), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->canvas, "window-activated", G_CALLBACK (window_activated_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->architecture_panel, "layer-selected", G_CALLBACK (layer_selected_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::show-truth", G_CALLBACK (update_truth), self, G_CONNECT_SWAPPED);
  g_signal_connect (self->top_paned, "notify::max-position", G_CALLBACK (pane_max_position_cb), NULL);
  g_signal_connect (self->bottom_paned, "notify::max-position", G_CALLBACK (pane_max_position_cb), NULL);
  g_signal_connect (self->panels_paned, "notify::max-position", G_CALLBACK (pane_max_position_cb), NULL);
  for (guint i = 0; i < MIRADA_N_PANELS; i++)
    {
      g_signal_connect (self->maximize[i], "toggled", G_CALLBACK (maximize_toggled_cb), self);
      g_signal_connect (self->panel_export[i], "clicked", G_CALLBACK (panel_export_clicked_cb), self);
    }

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (file_dropped_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  _mirada_window_actions_init (self);
  update_info (self);
  _mirada_window_update_actions (self);
}
