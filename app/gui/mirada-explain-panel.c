/* mirada-explain-panel.c: Grad-CAM, activation grids and filter patterns. */
#define G_LOG_DOMAIN "mirada-explain-panel"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "explain/mir-explain.h"
#include "visualize/mir-activation-grid.h"
#include "visualize/mir-colormap.h"
#include "visualize/mir-filter-pattern.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "mirada-explain-panel.h"
#include "mirada-settings.h"
#include "mirada-job.h"
#include "mirada-window.h"

#define N_FILTERS 16
/* Filters optimised together: one batch finished shows at once in the panel. */
#define FILTER_BATCH 4

struct _MiradaExplainPanel
{
  GtkBox parent_instance;

  MiradaExplainKind kind;
  GPtrArray *captions;           /* Grad-CAM: the overlays' captions shown */
  GtkDropDown *layer_dropdown;
  GtkDropDown *class_dropdown;   /* Grad-CAM only */
  GtkDropDown *method_dropdown;  /* Grad-CAM only */
  GtkDropDown *colormap_dropdown;/* Grad-CAM only */
  GtkButton *compute_button;     /* filters only */
  GtkDropDown *filter_method_dropdown; /* filters only: seed recipe or regularised */
  GtkLabel *status_label;
  GtkPicture *picture;           /* activations, filters */
  GtkFlowBox *overlays_box;      /* Grad-CAM: one picture + caption per class, wrapped */

  GSettings *settings;
  MiradaJobRunner *runner;
  MirModel *model;
  GArray *layers;                /* gint node index per dropdown item */
  MirImage *input;
  char *what;
  GdkTexture *texture;
  GArray *classes;               /* gint: the detector's enabled classes */
  gboolean updating;

  /* activations: the layer's values, for the channel zoom */
  MirTensor *activation;         /* 1×H×W×C, or NULL */
  MirChannelStats *stats;        /* C entries */
  char *layer_name;
  int grid_factor;               /* texture pixels per grid pixel */
  int zoom_channel;              /* -1: the grid */
  int zoom_factor;               /* texture pixels per activation value in the zoom */
  GtkWidget *back_button;

  /* filters: the last result's progress-hook calls and worker time */
  guint n_previews;
  double seconds;
  gboolean filters_wanted;       /* Compute was pressed for this model */
};

G_DEFINE_FINAL_TYPE (MiradaExplainPanel, mirada_explain_panel, GTK_TYPE_BOX)

typedef MirExplanation *(*ExplainFunc) (MirModel *, MirTensor *, const MirExplainOptions *,
                                        GCancellable *, GError **);

/* The engine's methods (engine/explain/mir-explain.h), as `mirada gradcam -m` names them. */
static const struct
{
  const char *id;
  const char *label;
  ExplainFunc func;
} methods[] = {
  { "gradcam", N_("Grad-CAM"), mir_explain_gradcam },
  { "gradcam++", N_("Grad-CAM++"), mir_explain_gradcam_plusplus },
  { "hirescam", N_("HiResCAM"), mir_explain_hirescam },
  { "xgradcam", N_("XGrad-CAM"), mir_explain_xgradcam },
  { "layercam", N_("LayerCAM"), mir_explain_layercam },
  { "scorecam", N_("Score-CAM"), mir_explain_scorecam },
  { "eigencam", N_("Eigen-CAM"), mir_explain_eigencam },
  { "cam", N_("CAM"), mir_explain_cam },
  { "saliency", N_("Mean activation"), mir_explain_saliency },
  { "gradients", N_("Gradients"), mir_explain_gradients },
  { "smoothgrad", N_("SmoothGrad"), mir_explain_smoothgrad },
  { "guided", N_("Guided backpropagation"), mir_explain_guided_backprop },
  { "guided-gradcam", N_("Guided Grad-CAM"), mir_explain_guided_gradcam },
  { "occlusion", N_("Occlusion"), mir_explain_occlusion },
};

static const char *const colormaps[] = { "jet", "viridis", "inferno", "magma", "plasma", "gray", NULL };

/* Overlays side by side at most (each is one explanation run). */
#define MAX_OVERLAYS 8

typedef struct
{
  MiradaExplainKind kind;
  MirModel *model;
  MirImage *input;
  gint layer;
  guint method;
  GArray *classes;     /* gint; -1: the top prediction */
  MirColormap colormap;
  double alpha;
  GWeakRef *panel;     /* filters: partial grids go there (an atomic rc box; read on the UI thread) */
} ExplainJob;

typedef struct
{
  GdkTexture *texture;     /* all of it (overlays side by side) */
  GPtrArray *textures;     /* Grad-CAM: one per class */
  GPtrArray *captions;     /* Grad-CAM: one per class */
  char *status;
  MirTensor *activation;   /* activations: the values shown */
  MirChannelStats *stats;
  char *layer_name;
  int factor;              /* activations: texture pixels per grid pixel */
  guint n_previews;        /* filters: progress-hook calls */
  double seconds;          /* filters: worker time */
} ExplainResult;

static void
explain_job_free (ExplainJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->input, mir_image_unref);
  g_clear_pointer (&job->classes, g_array_unref);
  g_atomic_rc_box_release_full (job->panel, (GDestroyNotify) g_weak_ref_clear);
  g_free (job);
}

static void
explain_result_free (ExplainResult *r)
{
  g_clear_object (&r->texture);
  g_clear_pointer (&r->textures, g_ptr_array_unref);
  g_clear_pointer (&r->captions, g_ptr_array_unref);
  g_free (r->status);
  g_clear_pointer (&r->activation, mir_tensor_unref);
  g_free (r->stats);
  g_free (r->layer_name);
  g_free (r);
}

/* Small maps upscaled nearest-neighbour on the CPU (GTK 4.8 only filters
 * linearly), so each activation stays a crisp square. */
static GdkTexture *
texture_upscaled_by (MirImage  *image,
                     int        min_side,
                     int       *factor_out,
                     GError   **error)
{
  g_autoptr(MirImage) big = NULL;
  int side = MAX (image->width, image->height);
  int factor = side > 0 ? MAX (1, min_side / side) : 1;

  if (factor_out != NULL)
    *factor_out = factor;
  if (factor == 1)
    return mirada_texture_new_for_image (image);
  if (!(big = mir_image_resize (image, image->width * factor, image->height * factor,
                                MIR_RESIZE_NEAREST, error)))
    return NULL;
  return mirada_texture_new_for_image (big);
}

static GdkTexture *
texture_upscaled (MirImage  *image,
                  int        min_side,
                  GError   **error)
{
  return texture_upscaled_by (image, min_side, NULL, error);
}

/* One overlay of the Grad-CAM flow box: about @side pixels wide whatever
 * the image, so two or more fit side by side in a panel. */
static GdkTexture *
texture_thumbnail (MirImage  *image,
                   int        side,
                   GError   **error)
{
  g_autoptr(MirImage) small = NULL;

  if (image->width <= side + side / 4)
    return texture_upscaled (image, side, error);
  if (!(small = mir_image_resize (image, side, MAX (1, image->height * side / image->width),
                                  MIR_RESIZE_BILINEAR, error)))
    return NULL;
  return mirada_texture_new_for_image (small);
}

static char *
class_name (MirModel *model,
            gint      k)
{
  char **names = model->meta.class_names;

  if (names != NULL && k >= 0 && (guint) k < g_strv_length (names))
    return g_strdup (names[k]);
  return g_strdup_printf (_("class %d"), k);
}

/* @images side by side with a white gap, top-aligned (RGB). */
static MirImage *
side_by_side (GPtrArray  *images,
              GError    **error)
{
  g_autoptr(MirImage) out = NULL;
  int w = 0, h = 0, x = 0;

  for (guint i = 0; i < images->len; i++)
    {
      MirImage *im = images->pdata[i];

      w += im->width + (i > 0 ? 8 : 0);
      h = MAX (h, im->height);
    }
  if (!(out = mir_image_new (w, h, 3, error)))
    return NULL;
  memset (out->pixels, 255, out->rowstride * out->height);
  for (guint i = 0; i < images->len; i++)
    {
      MirImage *im = images->pdata[i];

      for (int y = 0; y < im->height; y++)
        memcpy (out->pixels + y * out->rowstride + 3 * x, im->pixels + y * im->rowstride,
                (gsize) im->width * 3);
      x += im->width + 8;
    }
  return g_steal_pointer (&out);
}

static ExplainResult *
run_gradcam (ExplainJob    *job,
             MiradaJob     *mjob,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(GPtrArray) overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(GPtrArray) textures = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MirImage) all = NULL;
  g_autofree char *layer_name = NULL;
  g_autofree char *notice = NULL;
  int map_w = 0, map_h = 0;
  ExplainResult *r;

  if (!(input = mir_image_prepare (job->input, job->model, error)))
    return NULL;
  for (guint i = 0; i < job->classes->len; i++)
    {
      MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
      g_autoptr(MirExplanation) e = NULL;
      g_autoptr(MirImage) overlay = NULL;
      g_autofree char *name = NULL;
      GdkTexture *texture;

      opts.layer = job->layer;
      /* class numbers as the detector and `mirada predict` give them (a
       * binary sigmoid model: 0 is 1 − P, 1 is P) */
      mir_explain_options_set_class (&opts, job->model, g_array_index (job->classes, gint, i));
      if (!(e = methods[job->method].func (job->model, input, &opts, cancellable, error)) ||
          !(overlay = mir_colormap_overlay (job->input, e->map, e->width, e->height, job->colormap,
                                            (float) job->alpha, FALSE, error)) ||
          !(texture = texture_thumbnail (overlay, 150, error)))
        return NULL;
      name = mir_explanation_dup_class_name (job->model, e);
      /* Translators: a class name and its probability under a heat map */
      g_ptr_array_add (captions, g_strdup_printf (_("%s, P = %.3f"), name, e->probability));
      g_ptr_array_add (textures, texture);
      g_ptr_array_add (overlays, g_steal_pointer (&overlay));
      if (layer_name == NULL)
        {
          layer_name = g_strdup (e->layer_name);
          map_w = e->width;
          map_h = e->height;
        }
      if (e->notice != NULL && notice == NULL)
        notice = g_strdup_printf ("%s: %s", name, e->notice);
      mirada_job_set_progress (mjob, (double) (i + 1) / job->classes->len);
    }
  if (!(all = side_by_side (overlays, error)))
    return NULL;
  r = g_new0 (ExplainResult, 1);
  if (!(r->texture = texture_upscaled (all, 160, error)))
    {
      explain_result_free (r);
      return NULL;
    }
  r->textures = g_steal_pointer (&textures);
  r->captions = g_steal_pointer (&captions);
  /* Translators: Grad-CAM on layer "conv2d_3" (8×8) */
  r->status = g_strdup_printf (_("%s on layer “%s” (%d×%d)"), _(methods[job->method].label),
                               layer_name, map_w, map_h);
  if (notice != NULL)
    {
      char *s = g_strconcat (r->status, "\n", notice, NULL);
      g_free (r->status);
      r->status = s;
    }
  return r;
}

/* Channels a row: the seed's 16, fewer for a few channels so a narrow panel
 * shows them large (32 channels: 8 a row, 4 rows). */
static int
grid_columns (gint64 channels)
{
  return (int) CLAMP (ceil (sqrt (2.0 * channels)), 1, 16);
}

static ExplainResult *
run_activations (ExplainJob    *job,
                 GCancellable  *cancellable,
                 GError       **error)
{
  MirGridOptions opts = MIR_GRID_OPTIONS_DEFAULT;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTrace) trace = NULL;
  gint64 channels;
  g_autoptr(MirImage) grid = NULL;
  g_autofree MirChannelStats *stats = NULL;
  MirNode *node = mir_model_get_node (job->model, (guint) job->layer);
  MirTensor *act;
  ExplainResult *r;
  guint dead = 0;

  if (!(input = mir_image_prepare (job->input, job->model, error)) ||
      !(trace = mir_model_run (job->model, &input, 1, MIR_RUN_DEFAULT, job->layer, 0,
                               cancellable, error)))
    return NULL;
  act = mir_trace_get (trace, (guint) job->layer);
  if (act == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED, _("Layer “%s” kept no output"), node->name);
      return NULL;
    }
  channels = act->shape[act->ndim - 1];
  opts.per_row = grid_columns (channels);
  if (!(grid = mir_activation_grid (act, 0, &opts, &stats, error)))
    return NULL;
  for (gint64 c = 0; c < channels; c++)
    dead += stats[c].dead;
  r = g_new0 (ExplainResult, 1);
  if (!(r->texture = texture_upscaled_by (grid, 480, &r->factor, error)) ||
      !(r->activation = mir_tensor_dup (act, error)))
    {
      explain_result_free (r);
      return NULL;
    }
  r->stats = g_steal_pointer (&stats);
  r->layer_name = g_strdup (node->name);
  r->status = g_strdup_printf (ngettext ("“%s”: %d channel of %d×%d, %u all zero",
                                         "“%s”: %d channels of %d×%d, %u all zero", (gulong) channels),
                               node->name, (int) channels, (int) act->shape[1], (int) act->shape[2], dead);
  return r;
}

/* The filters panel's methods, as `mirada filters -m` names them. */
static const char *const filter_method_ids[] = { "seed", "regularized", NULL };

/* A preview every this many steps: 8 pictures per pattern at 40 steps. */
#define FILTER_PREVIEW_EVERY 5
/* At most this often a partial grid goes to the UI thread (µs). */
#define FILTER_PREVIEW_INTERVAL (G_USEC_PER_SEC / 10)

typedef struct
{
  MirImage **slots;        /* n: finished patterns or the latest previews, NULL before */
  MiradaJob *job;
  guint n, n_done;
  guint n_previews;        /* progress-hook calls (a cached pattern gives exactly one) */
  gint64 last_post;        /* monotonic µs of the last partial grid */
  ExplainJob *explain;
  GCancellable *cancellable;
} FilterCollect;

/* The patterns found so far, for the UI thread. */
typedef struct
{
  GWeakRef *panel;         /* a reference on the job's rc box */
  GCancellable *cancellable;
  GdkTexture *texture;
  guint done, n;
} PartialFilters;

static gboolean
show_partial_filters (gpointer data)
{
  PartialFilters *pf = data;
  MiradaExplainPanel *self = g_weak_ref_get (pf->panel);

  /* a newer job cancels this one: its partial grid must not land */
  if (self != NULL && !g_cancellable_is_cancelled (pf->cancellable) &&
      mirada_job_runner_get_busy (self->runner))
    {
      g_autofree char *text = g_strdup_printf (_("%u of %u filter patterns…"), pf->done, pf->n);

      gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (pf->texture));
      gtk_label_set_label (self->status_label, text);
    }
  g_clear_object (&self);
  return G_SOURCE_REMOVE;
}

static void
partial_filters_free (gpointer data)
{
  PartialFilters *pf = data;

  g_object_unref (pf->texture);
  g_clear_object (&pf->cancellable);
  g_atomic_rc_box_release_full (pf->panel, (GDestroyNotify) g_weak_ref_clear);
  g_free (pf);
}

/* The grid of the patterns so far (finished or previews) to the UI thread,
 * the ones not started yet black: the grid keeps the final grid's size and
 * layout, so the picture fills in place. */
static void
post_partial_grid (FilterCollect *fc)
{
  g_autoptr(MirImage) grid = NULL;
  g_autoptr(MirImage) blank = NULL;
  g_autofree MirImage **images = g_new0 (MirImage *, fc->n);
  const MirImage *first = NULL;
  PartialFilters *pf;

  for (guint i = 0; i < fc->n && first == NULL; i++)
    first = fc->slots[i];
  if (first == NULL || !(blank = mir_image_new (first->width, first->height, first->channels, NULL)))
    return;
  memset (blank->pixels, 0, blank->rowstride * (gsize) blank->height);
  for (guint i = 0; i < fc->n; i++)
    images[i] = fc->slots[i] != NULL ? fc->slots[i] : blank;
  if (!(grid = mir_filter_grid ((MirImage *const *) images, fc->n, 4, 2, NULL)))
    return;
  pf = g_new0 (PartialFilters, 1);
  if (!(pf->texture = texture_upscaled (grid, 320, NULL)))
    {
      g_free (pf);
      return;
    }
  pf->panel = g_atomic_rc_box_acquire (fc->explain->panel);
  pf->cancellable = fc->cancellable != NULL ? g_object_ref (fc->cancellable) : NULL;
  pf->done = fc->n_done;
  pf->n = fc->n;
  fc->last_post = g_get_monotonic_time ();
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, show_partial_filters, pf, partial_filters_free);
}

static void
set_slot (FilterCollect *fc,
          guint          index,
          MirImage      *image)
{
  if (index >= fc->n)
    return;
  g_clear_pointer (&fc->slots[index], mir_image_unref);
  fc->slots[index] = image;
}

/* A pattern as it optimises (1×H×W×C floats in 0..255): the panel shows it
 * sharpening, step by step. */
static void
pattern_preview_cb (guint            index,
                    const MirTensor *img,
                    gpointer         user_data)
{
  FilterCollect *fc = user_data;
  MirImage *image;
  gint64 h = img->shape[1], w = img->shape[2], c = img->shape[3];

  fc->n_previews++;
  if (!(image = mir_image_new ((int) w, (int) h, (int) c, NULL)))
    return;
  for (gint64 y = 0; y < h; y++)
    for (gint64 i = 0; i < w * c; i++)
      image->pixels[y * (gint64) image->rowstride + i] =
        (guint8) CLAMP (lrintf (img->data[y * w * c + i]), 0, 255);
  set_slot (fc, index, image);
  if (g_get_monotonic_time () - fc->last_post >= FILTER_PREVIEW_INTERVAL)
    post_partial_grid (fc);
}

static void
pattern_done_cb (guint     index,
                 gint      filter,
                 MirImage *pattern,
                 double    loss_start,
                 double    loss_end,
                 gpointer  user_data)
{
  FilterCollect *fc = user_data;

  set_slot (fc, index, mir_image_ref (pattern));
  fc->n_done++;
  mirada_job_set_progress (fc->job, (double) fc->n_done / fc->n);
  /* each finished batch shows at once; the last one arrives as the result */
  if (fc->n_done < fc->n && fc->n_done % FILTER_BATCH == 0)
    post_partial_grid (fc);
}

static ExplainResult *
run_filters (ExplainJob    *job,
             MiradaJob     *mjob,
             GCancellable  *cancellable,
             GError       **error)
{
  MirFilterOptions opts = MIR_FILTER_OPTIONS_DEFAULT;
  MirNode *node = mir_model_get_node (job->model, (guint) job->layer);
  MirImage *slots[N_FILTERS] = { NULL };
  g_autoptr(MirImage) grid = NULL;
  gint filters[N_FILTERS];
  gint64 channels = node->shape.dim[node->shape.ndim - 1];
  guint n = (guint) MIN (channels, N_FILTERS);
  FilterCollect fc = { slots, mjob, n, 0, 0, 0, job, cancellable };
  gint64 start = g_get_monotonic_time ();
  gboolean ok;
  ExplainResult *r = NULL;

  opts.batch = FILTER_BATCH;
  opts.method = job->method == 0 ? MIR_FILTER_METHOD_SEED : MIR_FILTER_METHOD_REGULARIZED;
  for (guint i = 0; i < n; i++)
    filters[i] = (gint) i;
  ok = mir_filter_patterns_full (job->model, job->layer, filters, n, &opts,
                                 mir_filter_cache_get_default (), pattern_preview_cb,
                                 FILTER_PREVIEW_EVERY, pattern_done_cb, &fc, cancellable, error) &&
       (grid = mir_filter_grid ((MirImage *const *) slots, n, 4, 2, error)) != NULL;
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&slots[i], mir_image_unref);
  if (!ok)
    return NULL;
  r = g_new0 (ExplainResult, 1);
  if (!(r->texture = texture_upscaled (grid, 320, error)))
    {
      explain_result_free (r);
      return NULL;
    }
  r->n_previews = fc.n_previews;
  r->seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  r->status = g_strdup_printf (opts.method == MIR_FILTER_METHOD_SEED
                               ? _("The first %u filters of “%s” (of %d), by the seed’s gradient ascent: 40 steps from grey noise")
                               : _("The first %u filters of “%s” (of %d), by regularised gradient ascent: jitter, scale, rotation, smoothness penalty"),
                               n, node->name, (int) channels);
  return r;
}

static gpointer
explain_worker (MiradaJob     *mjob,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  ExplainJob *job = data;

  switch (job->kind)
    {
    case MIRADA_EXPLAIN_GRADCAM:
      return run_gradcam (job, mjob, cancellable, error);
    case MIRADA_EXPLAIN_ACTIVATIONS:
      return run_activations (job, cancellable, error);
    case MIRADA_EXPLAIN_FILTERS:
      return run_filters (job, mjob, cancellable, error);
    default:
      g_assert_not_reached ();
    }
}

static void
clear_overlays (MiradaExplainPanel *self)
{
  GtkWidget *child;

  g_clear_pointer (&self->captions, g_ptr_array_unref);
  if (self->overlays_box == NULL)
    return;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->overlays_box))))
    gtk_flow_box_remove (self->overlays_box, child);
}

static void
show_overlays (MiradaExplainPanel *self,
               GPtrArray          *textures,
               GPtrArray          *captions)
{
  clear_overlays (self);
  self->captions = g_ptr_array_ref (captions);
  for (guint i = 0; i < textures->len; i++)
    {
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
      GtkWidget *picture = gtk_picture_new_for_paintable (textures->pdata[i]);
      GtkWidget *caption = gtk_label_new (captions->pdata[i]);

      /* at least the thumbnail's size (about 150 px wide): a flow box would
       * otherwise give a shrinkable picture far less */
      gtk_widget_set_size_request (picture, gdk_texture_get_width (textures->pdata[i]),
                                   gdk_texture_get_height (textures->pdata[i]));
      gtk_widget_set_valign (picture, GTK_ALIGN_START);
      gtk_accessible_update_property (GTK_ACCESSIBLE (picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      captions->pdata[i], -1);
      gtk_label_set_ellipsize (GTK_LABEL (caption), PANGO_ELLIPSIZE_END);
      gtk_widget_add_css_class (caption, "caption");
      gtk_widget_set_hexpand (box, TRUE);
      gtk_box_append (GTK_BOX (box), picture);
      gtk_box_append (GTK_BOX (box), caption);
      gtk_flow_box_append (self->overlays_box, box);
    }
}

static void
explain_done (gpointer      result,
              const GError *error,
              gpointer      user_data)
{
  MiradaExplainPanel *self = user_data;
  ExplainResult *r = result;

  if (error != NULL)
    {
      gtk_label_set_label (self->status_label, error->message);
      return;
    }
  g_set_object (&self->texture, r->texture);
  g_clear_pointer (&self->activation, mir_tensor_unref);
  g_clear_pointer (&self->stats, g_free);
  g_clear_pointer (&self->layer_name, g_free);
  self->activation = g_steal_pointer (&r->activation);
  self->stats = g_steal_pointer (&r->stats);
  self->layer_name = g_steal_pointer (&r->layer_name);
  self->grid_factor = r->factor;
  self->n_previews = r->n_previews;
  self->seconds = r->seconds;
  self->zoom_channel = -1;
  if (self->back_button != NULL)
    gtk_widget_set_visible (self->back_button, FALSE);
  if (self->overlays_box != NULL)
    show_overlays (self, r->textures, r->captions);
  else
    gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (r->texture));
  gtk_label_set_label (self->status_label, r->status);
  explain_result_free (r);
}

/* ------------------------------------------------------------------ */
/* Activations: one channel large, with the value under the pointer */

/* The texture point under (@wx, @wy) of the picture, which shows its
 * paintable scaled to fit, centred (GtkPicture with keep-aspect-ratio). */
static gboolean
picture_to_texture (MiradaExplainPanel *self,
                    double              wx,
                    double              wy,
                    double             *tx,
                    double             *ty)
{
  GdkPaintable *paintable = gtk_picture_get_paintable (self->picture);
  double w = gtk_widget_get_width (GTK_WIDGET (self->picture));
  double h = gtk_widget_get_height (GTK_WIDGET (self->picture));
  double pw, ph, scale;

  if (paintable == NULL || w <= 0 || h <= 0)
    return FALSE;
  pw = gdk_paintable_get_intrinsic_width (paintable);
  ph = gdk_paintable_get_intrinsic_height (paintable);
  if (pw <= 0 || ph <= 0)
    return FALSE;
  scale = MIN (w / pw, h / ph);
  *tx = (wx - (w - pw * scale) / 2) / scale;
  *ty = (wy - (h - ph * scale) / 2) / scale;
  return *tx >= 0 && *ty >= 0 && *tx < pw && *ty < ph;
}

int
mirada_explain_panel_channel_at (MiradaExplainPanel *self,
                                 double              x,
                                 double              y)
{
  double tx, ty;
  gint64 h, w, c, col, row, channel, per_row;

  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), -1);
  if (self->activation == NULL || self->zoom_channel >= 0 ||
      !picture_to_texture (self, x, y, &tx, &ty))
    return -1;
  h = self->activation->shape[1];
  w = self->activation->shape[2];
  c = self->activation->shape[3];
  /* the grid's layout (run_activations: no margin) */
  per_row = grid_columns (c);
  col = (gint64) (tx / self->grid_factor) / w;
  row = (gint64) (ty / self->grid_factor) / h;
  channel = row * per_row + col;
  return col < per_row && channel < c ? (int) channel : -1;
}

static void
show_channel_summary (MiradaExplainPanel *self)
{
  const MirChannelStats *st = &self->stats[self->zoom_channel];
  g_autofree char *text =
    /* Translators: channel 5 of layer "conv2d": its mean, maximum and share of zeros */
    g_strdup_printf (_("Channel %d of “%s”: mean %.4g, max %.4g, %.0f %% zeros%s"),
                     self->zoom_channel, self->layer_name, st->mean, st->max,
                     100 * st->zero_fraction, st->dead ? _(" (dead on this image)") : "");

  gtk_label_set_label (self->status_label, text);
}

gboolean
mirada_explain_panel_zoom_channel (MiradaExplainPanel *self,
                                   int                 channel)
{
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree guint8 *bytes = NULL;
  g_autofree float *values = NULL;
  gint64 h, w, c;

  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), FALSE);
  if (self->activation == NULL)
    return FALSE;
  if (channel < 0)
    {
      self->zoom_channel = -1;
      gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (self->texture));
      gtk_widget_set_visible (self->back_button, FALSE);
      gtk_label_set_label (self->status_label, "");
      return TRUE;
    }
  h = self->activation->shape[1];
  w = self->activation->shape[2];
  c = self->activation->shape[3];
  if (channel >= c)
    return FALSE;

  /* the grid's colouring of this channel (seed normalisation, viridis), large */
  bytes = g_malloc ((gsize) (h * w));
  values = g_new (float, h * w);
  mir_grid_normalise_channel (self->activation->data + channel, (gsize) (h * w), (gsize) c,
                              MIR_GRID_NORM_CHANNEL, 0, 0, bytes);
  for (gint64 i = 0; i < h * w; i++)
    values[i] = bytes[i] / 255.f;
  if (!(image = mir_colormap_apply (MIR_COLORMAP_VIRIDIS, values, (int) w, (int) h, NULL)) ||
      !(texture = texture_upscaled_by (image, 480, &self->zoom_factor, NULL)))
    return FALSE;
  self->zoom_channel = channel;
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (texture));
  gtk_widget_set_visible (self->back_button, TRUE);
  show_channel_summary (self);
  return TRUE;
}

int
mirada_explain_panel_get_zoom_channel (MiradaExplainPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), -1);
  return self->zoom_channel;
}

gboolean
mirada_explain_panel_value_at (MiradaExplainPanel *self,
                               double              x,
                               double              y,
                               int                *ax,
                               int                *ay,
                               float              *value)
{
  double tx, ty;
  gint64 c;

  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), FALSE);
  if (self->activation == NULL || self->zoom_channel < 0 ||
      !picture_to_texture (self, x, y, &tx, &ty))
    return FALSE;
  c = self->activation->shape[3];
  *ax = MIN ((int) (tx / self->zoom_factor), (int) self->activation->shape[2] - 1);
  *ay = MIN ((int) (ty / self->zoom_factor), (int) self->activation->shape[1] - 1);
  *value = self->activation->data[((gint64) *ay * self->activation->shape[2] + *ax) * c +
                                  self->zoom_channel];
  return TRUE;
}

static void
picture_pressed_cb (GtkGestureClick    *gesture,
                    int                 n_press,
                    double              x,
                    double              y,
                    MiradaExplainPanel *self)
{
  int channel = mirada_explain_panel_channel_at (self, x, y);

  if (channel >= 0)
    mirada_explain_panel_zoom_channel (self, channel);
}

static void
picture_motion_cb (GtkEventControllerMotion *controller,
                   double                    x,
                   double                    y,
                   MiradaExplainPanel       *self)
{
  int ax, ay;
  float value;

  if (mirada_explain_panel_value_at (self, x, y, &ax, &ay, &value))
    {
      /* Translators: channel 5, the activation at column x, row y, and its value */
      g_autofree char *text = g_strdup_printf (_("Channel %d at (%d, %d): %.5g"),
                                               self->zoom_channel, ax, ay, value);

      gtk_label_set_label (self->status_label, text);
    }
  else if (self->zoom_channel >= 0)
    show_channel_summary (self);
}

static void
back_clicked_cb (MiradaExplainPanel *self)
{
  mirada_explain_panel_zoom_channel (self, -1);
}

static gint
selected_layer (MiradaExplainPanel *self)
{
  guint i = gtk_drop_down_get_selected (self->layer_dropdown);

  if (self->layers == NULL || i == GTK_INVALID_LIST_POSITION || i >= self->layers->len)
    return -1;
  return g_array_index (self->layers, gint, i);
}

static void
run_job (MiradaExplainPanel *self)
{
  g_autofree char *cmap = NULL;
  ExplainJob *job;
  gint layer;

  if (self->updating || self->model == NULL)
    return;
  layer = selected_layer (self);
  if (layer < 0)
    return;
  if (self->kind != MIRADA_EXPLAIN_FILTERS && self->input == NULL)
    return;

  job = g_new0 (ExplainJob, 1);
  job->kind = self->kind;
  job->panel = g_atomic_rc_box_new0 (GWeakRef);
  g_weak_ref_init (job->panel, self);
  job->model = mir_model_ref (self->model);
  job->input = self->input != NULL ? mir_image_ref (self->input) : NULL;
  job->layer = layer;
  job->classes = g_array_new (FALSE, FALSE, sizeof (gint));
  if (self->kind == MIRADA_EXPLAIN_GRADCAM)
    {
      /* 0: the detector's classes, 1: the top prediction, 2 + k: class k */
      guint choice = gtk_drop_down_get_selected (self->class_dropdown);
      gint top = -1;

      if (choice == 0 && self->classes->len > 0)
        g_array_append_vals (job->classes, self->classes->data, MIN (self->classes->len, MAX_OVERLAYS));
      else if (choice >= 2 && choice != GTK_INVALID_LIST_POSITION)
        {
          gint k = (gint) choice - 2;
          g_array_append_val (job->classes, k);
        }
      else
        g_array_append_val (job->classes, top);
      job->method = MIN (gtk_drop_down_get_selected (self->method_dropdown), G_N_ELEMENTS (methods) - 1);
    }
  else if (self->kind == MIRADA_EXPLAIN_FILTERS)
    job->method = MIN (gtk_drop_down_get_selected (self->filter_method_dropdown), 1);
  cmap = g_settings_get_string (self->settings, "colormap");
  if (!mir_colormap_from_name (cmap, &job->colormap, NULL))
    job->colormap = MIR_COLORMAP_JET;
  job->alpha = g_settings_get_double (self->settings, "alpha");

  if (self->what != NULL && self->kind != MIRADA_EXPLAIN_FILTERS)
    gtk_label_set_label (self->status_label, self->what);
  mirada_job_runner_run (self->runner, NULL, explain_worker, job, (GDestroyNotify) explain_job_free,
                         (GDestroyNotify) explain_result_free, explain_done,
                         g_object_ref (self), g_object_unref);
}

static gboolean
layer_wanted (MiradaExplainKind  kind,
              MirNode           *node)
{
  gboolean conv = node->layer != NULL && (node->layer->klass->flags & MIR_LAYER_FLAG_CONV);
  gboolean spatial = node->shape.ndim == 4;

  switch (kind)
    {
    case MIRADA_EXPLAIN_FILTERS:
      return conv && spatial;
    case MIRADA_EXPLAIN_GRADCAM:    /* any feature map (Keras' "last conv layer" may be an activation) */
    case MIRADA_EXPLAIN_ACTIVATIONS:
      return spatial && !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT);
    default:
      return FALSE;
    }
}

void
mirada_explain_panel_set_model (MiradaExplainPanel *self,
                                MirModel           *model)
{
  g_autoptr(GtkStringList) layers = gtk_string_list_new (NULL);
  g_autoptr(GtkStringList) classes = gtk_string_list_new (NULL);
  guint selected = 0;

  g_return_if_fail (MIRADA_IS_EXPLAIN_PANEL (self));

  mirada_job_runner_cancel (self->runner);
  self->filters_wanted = FALSE;
  if (model != NULL)
    mir_model_ref (model);
  g_clear_pointer (&self->model, mir_model_unref);
  self->model = model;
  g_array_set_size (self->layers, 0);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->activation, mir_tensor_unref);
  self->zoom_channel = -1;
  if (self->back_button != NULL)
    gtk_widget_set_visible (self->back_button, FALSE);
  gtk_picture_set_paintable (self->picture, NULL);
  clear_overlays (self);

  if (model != NULL)
    {
      gint last_conv = mir_model_find_last_conv (model);

      for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
        {
          MirNode *node = mir_model_get_node (model, i);
          gint index = (gint) i;

          if (!layer_wanted (self->kind, node))
            continue;
          /* Grad-CAM starts on Keras' "last conv layer"; the others on the first */
          if (self->kind == MIRADA_EXPLAIN_GRADCAM && index == last_conv)
            selected = self->layers->len;
          g_array_append_val (self->layers, index);
          gtk_string_list_append (layers, node->name);
        }
      if (self->class_dropdown != NULL)
        {
          const MirShape *o = mir_model_get_output_shape (model, 0);
          /* a binary sigmoid model has two classes, 1 − P and P */
          gint64 k = mir_model_is_binary_sigmoid (model) ? 2 : o->dim[o->ndim - 1];

          gtk_string_list_append (classes, _("Detector’s classes"));
          gtk_string_list_append (classes, _("Top prediction"));
          for (gint64 c = 0; c < k && c < 256; c++)
            {
              g_autofree char *name = class_name (model, (gint) c);
              gtk_string_list_append (classes, name);
            }
        }
    }

  self->updating = TRUE;
  gtk_drop_down_set_model (self->layer_dropdown, G_LIST_MODEL (layers));
  gtk_drop_down_set_selected (self->layer_dropdown, selected);
  if (self->class_dropdown != NULL)
    {
      gtk_drop_down_set_model (self->class_dropdown, G_LIST_MODEL (classes));
      gtk_drop_down_set_selected (self->class_dropdown, 0);
    }
  self->updating = FALSE;

  if (model == NULL)
    gtk_label_set_label (self->status_label, _("Open a model."));
  else if (self->layers->len == 0)
    gtk_label_set_label (self->status_label, _("This model has no convolutional layer to show."));
  else if (self->kind == MIRADA_EXPLAIN_FILTERS)
    gtk_label_set_label (self->status_label, _("Choose a layer and press Compute: each pattern is found by 40 steps of gradient ascent."));
  else if (self->input == NULL)
    gtk_label_set_label (self->status_label, _("Open an image; click a window on it to look at that window."));
  /* filter patterns are costly and need no image: only on request */
  if (self->kind != MIRADA_EXPLAIN_FILTERS)
    run_job (self);
}

void
mirada_explain_panel_set_input (MiradaExplainPanel *self,
                                MirImage           *input,
                                const char         *what)
{
  g_return_if_fail (MIRADA_IS_EXPLAIN_PANEL (self));

  if (input != NULL)
    mir_image_ref (input);
  g_clear_pointer (&self->input, mir_image_unref);
  self->input = input;
  g_free (self->what);
  self->what = g_strdup (what);
  if (self->kind == MIRADA_EXPLAIN_FILTERS)
    return;
  if (input == NULL)
    mirada_job_runner_cancel (self->runner);
  else
    run_job (self);
}

void
mirada_explain_panel_compute (MiradaExplainPanel *self)
{
  g_return_if_fail (MIRADA_IS_EXPLAIN_PANEL (self));
  if (self->kind == MIRADA_EXPLAIN_FILTERS)
    self->filters_wanted = TRUE;
  run_job (self);
}

gboolean
mirada_explain_panel_get_busy (MiradaExplainPanel *self)
{
  return mirada_job_runner_get_busy (self->runner);
}

GdkTexture *
mirada_explain_panel_get_texture (MiradaExplainPanel *self)
{
  return self->texture;
}

static void
settings_changed_cb (MiradaExplainPanel *self)
{
  if (self->kind == MIRADA_EXPLAIN_GRADCAM)
    run_job (self);
}


static void
progress_cb (MiradaExplainPanel *self)
{
  if (self->kind == MIRADA_EXPLAIN_FILTERS && mirada_job_runner_get_busy (self->runner))
    {
      g_autofree char *text = g_strdup_printf (_("Computing filter patterns… %.0f %%"),
                                               100 * mirada_job_runner_get_progress (self->runner));
      gtk_label_set_label (self->status_label, text);
    }
}

static const char *const *
method_ids (void)
{
  static const char *ids[G_N_ELEMENTS (methods) + 1];

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    ids[i] = methods[i].id;
  return ids;
}

static GtkDropDown *
labelled_dropdown (GtkStringList *model,
                   const char    *accessible,
                   const char    *tooltip)
{
  GtkDropDown *dropdown = GTK_DROP_DOWN (gtk_drop_down_new (G_LIST_MODEL (model), NULL));

  gtk_widget_set_tooltip_text (GTK_WIDGET (dropdown), tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible, -1);
  return dropdown;
}

static void
build_gradcam_controls (MiradaExplainPanel *self,
                        GtkBox             *bar)
{
  GtkWidget *bar2 = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkStringList *method_list = gtk_string_list_new (NULL);
  GtkStringList *cmap_list = gtk_string_list_new (colormaps);
  GtkAdjustment *alpha;
  GtkWidget *scale;

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    gtk_string_list_append (method_list, _(methods[i].label));
  self->method_dropdown = labelled_dropdown (method_list, _("Method"),
                                             _("How the heat map is made: Grad-CAM and its variants weigh a layer’s feature maps; gradients, SmoothGrad and guided backpropagation work on the input pixels; occlusion hides patches."));
  gtk_box_append (bar, GTK_WIDGET (self->method_dropdown));
  mirada_settings_bind_choice (self->settings, "explain-method", self->method_dropdown, "selected",
                               method_ids ());

  gtk_widget_set_margin_start (bar2, 12);
  gtk_widget_set_margin_end (bar2, 12);
  self->class_dropdown = labelled_dropdown (gtk_string_list_new (NULL), _("Class"),
                                            _("The classes to explain, one heat map each: the regions that raise a class’s score are hot. “Detector’s classes” are those ticked in the sidebar."));
  gtk_widget_set_hexpand (GTK_WIDGET (self->class_dropdown), TRUE);
  gtk_box_append (GTK_BOX (bar2), GTK_WIDGET (self->class_dropdown));
  g_signal_connect_swapped (self->class_dropdown, "notify::selected", G_CALLBACK (run_job), self);

  self->colormap_dropdown = labelled_dropdown (cmap_list, _("Colour map"),
                                               _("Colour map of the heat maps"));
  gtk_box_append (GTK_BOX (bar2), GTK_WIDGET (self->colormap_dropdown));
  mirada_settings_bind_choice (self->settings, "colormap", self->colormap_dropdown, "selected",
                               colormaps);

  alpha = gtk_adjustment_new (0.4, 0.0, 1.0, 0.05, 0.1, 0.0);
  scale = gtk_scale_new (GTK_ORIENTATION_HORIZONTAL, alpha);
  gtk_scale_set_digits (GTK_SCALE (scale), 2);
  gtk_scale_set_draw_value (GTK_SCALE (scale), TRUE);
  gtk_scale_set_value_pos (GTK_SCALE (scale), GTK_POS_RIGHT);
  gtk_widget_set_hexpand (scale, TRUE);
  gtk_widget_set_tooltip_text (scale, _("Opacity of the heat map over the image"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (scale), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Opacity"), -1);
  g_settings_bind (self->settings, "alpha", alpha, "value", G_SETTINGS_BIND_DEFAULT);
  gtk_box_append (GTK_BOX (self), bar2);
  /* the opacity on its own row: the panel stays narrow enough for a 2×2 layout */
  {
    GtkWidget *bar3 = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
    GtkWidget *label = gtk_label_new_with_mnemonic (_("O_pacity"));

    gtk_label_set_mnemonic_widget (GTK_LABEL (label), scale);
    gtk_widget_add_css_class (label, "dim-label");
    gtk_widget_set_margin_start (bar3, 12);
    gtk_widget_set_margin_end (bar3, 12);
    gtk_box_append (GTK_BOX (bar3), label);
    gtk_box_append (GTK_BOX (bar3), scale);
    gtk_box_append (GTK_BOX (self), bar3);
  }
}

/* Filters: another layer or method cancels the patterns being computed
 * and drops the grid; once the user has asked for patterns (Compute) the
 * panel follows the choice at once (cached patterns come instantly),
 * before that it waits for Compute. */
static void
filter_choice_changed_cb (MiradaExplainPanel *self)
{
  if (self->updating || self->model == NULL)
    return;
  mirada_job_runner_cancel (self->runner);
  g_clear_object (&self->texture);
  gtk_picture_set_paintable (self->picture, NULL);
  if (self->filters_wanted)
    run_job (self);
  else
    gtk_label_set_label (self->status_label, _("Press Compute to find this layer’s filter patterns."));
}

static void
compute_clicked_cb (MiradaExplainPanel *self)
{
  mirada_explain_panel_compute (self);
}

GtkWidget *
mirada_explain_panel_new (MiradaExplainKind kind)
{
  MiradaExplainPanel *self = g_object_new (MIRADA_TYPE_EXPLAIN_PANEL,
                                           "orientation", GTK_ORIENTATION_VERTICAL,
                                           "spacing", 6, NULL);
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *scrolled = gtk_scrolled_window_new ();

  self->kind = kind;
  gtk_widget_set_margin_start (bar, 12);
  gtk_widget_set_margin_end (bar, 12);
  self->layer_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
  gtk_drop_down_set_enable_search (self->layer_dropdown, TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->layer_dropdown), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->layer_dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Layer"), -1);
  gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->layer_dropdown));
  gtk_box_append (GTK_BOX (self), bar);
  switch (kind)
    {
    case MIRADA_EXPLAIN_GRADCAM:
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->layer_dropdown),
                                   _("The layer whose feature maps Grad-CAM weighs by the gradient of the class score (Keras uses the last convolutional one)."));
      build_gradcam_controls (self, GTK_BOX (bar));
      break;
    case MIRADA_EXPLAIN_ACTIVATIONS:
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->layer_dropdown),
                                   _("The layer whose output is shown: one small image per channel, 16 per row, in viridis."));
      self->back_button = gtk_button_new_from_icon_name ("view-grid-symbolic");
      gtk_widget_set_tooltip_text (self->back_button, _("Back to all channels"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->back_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("All channels"), -1);
      gtk_widget_set_visible (self->back_button, FALSE);
      g_signal_connect_swapped (self->back_button, "clicked", G_CALLBACK (back_clicked_cb), self);
      gtk_box_append (GTK_BOX (bar), self->back_button);
      break;
    case MIRADA_EXPLAIN_FILTERS:
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->layer_dropdown),
                                   _("The convolutional layer whose filters are shown."));
      {
        GtkStringList *list = gtk_string_list_new (NULL);

        /* the order of filter_method_ids */
        gtk_string_list_append (list, _("Seed recipe"));
        gtk_string_list_append (list, _("Regularised"));
        self->filter_method_dropdown =
          labelled_dropdown (list, _("Method"),
                             _("Seed recipe: seed 002’s gradient ascent exactly (40 steps of size 1 from grey noise); on small inputs its patterns look like noise. Regularised: each step sees a jittered, scaled and rotated copy, with a smoothness penalty and a Fourier parameterisation (as Lucid does), so the patterns are readable."));
        gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->filter_method_dropdown));
        mirada_settings_bind_choice (self->settings, "filter-method", self->filter_method_dropdown,
                                     "selected", filter_method_ids);
        g_signal_connect_swapped (self->filter_method_dropdown, "notify::selected",
                                  G_CALLBACK (filter_choice_changed_cb), self);
        g_signal_connect_swapped (self->layer_dropdown, "notify::selected",
                                  G_CALLBACK (filter_choice_changed_cb), self);
      }
      self->compute_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Compute")));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->compute_button),
                                   _("Find, for each of the first 16 filters, the input pattern that excites it most"));
      g_signal_connect_swapped (self->compute_button, "clicked", G_CALLBACK (compute_clicked_cb), self);
      gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->compute_button));
      break;
    default:
      g_assert_not_reached ();
    }
  if (kind != MIRADA_EXPLAIN_FILTERS)
    g_signal_connect_swapped (self->layer_dropdown, "notify::selected", G_CALLBACK (run_job), self);

  self->status_label = GTK_LABEL (gtk_label_new (_("Open a model.")));
  gtk_label_set_wrap (self->status_label, TRUE);
  gtk_label_set_xalign (self->status_label, 0);
  gtk_widget_set_margin_start (GTK_WIDGET (self->status_label), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (self->status_label), 12);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "dim-label");
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->status_label));

  self->picture = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->picture, TRUE);
  gtk_widget_set_valign (GTK_WIDGET (self->picture), GTK_ALIGN_START);
  if (kind == MIRADA_EXPLAIN_ACTIVATIONS)
    {
      GtkGesture *click = gtk_gesture_click_new ();
      GtkEventController *motion = gtk_event_controller_motion_new ();

      g_signal_connect (click, "pressed", G_CALLBACK (picture_pressed_cb), self);
      gtk_widget_add_controller (GTK_WIDGET (self->picture), GTK_EVENT_CONTROLLER (click));
      g_signal_connect (motion, "motion", G_CALLBACK (picture_motion_cb), self);
      gtk_widget_add_controller (GTK_WIDGET (self->picture), motion);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->picture),
                                   _("Click a channel to see it large, with the value under the pointer"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("Activation grid"), -1);
    }
  if (kind == MIRADA_EXPLAIN_GRADCAM)
    {
      self->overlays_box = GTK_FLOW_BOX (gtk_flow_box_new ());
      gtk_flow_box_set_homogeneous (self->overlays_box, TRUE);
      gtk_flow_box_set_selection_mode (self->overlays_box, GTK_SELECTION_NONE);
      gtk_flow_box_set_max_children_per_line (self->overlays_box, MAX_OVERLAYS);
      gtk_flow_box_set_column_spacing (self->overlays_box, 8);
      gtk_flow_box_set_row_spacing (self->overlays_box, 8);
      gtk_widget_set_valign (GTK_WIDGET (self->overlays_box), GTK_ALIGN_START);
      gtk_widget_set_margin_start (GTK_WIDGET (self->overlays_box), 6);
      gtk_widget_set_margin_end (GTK_WIDGET (self->overlays_box), 6);
      gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (self->overlays_box));
    }
  else
    gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (self->picture));
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (self), scrolled);

  g_signal_connect_object (self->settings, "changed::colormap", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::alpha", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::explain-method", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->runner, "notify::progress", G_CALLBACK (progress_cb), self, G_CONNECT_SWAPPED);
  return GTK_WIDGET (self);
}

void
mirada_explain_panel_set_classes (MiradaExplainPanel *self,
                                  const gint         *classes,
                                  guint               n_classes)
{
  g_return_if_fail (MIRADA_IS_EXPLAIN_PANEL (self));

  if (n_classes == self->classes->len &&
      (n_classes == 0 || memcmp (classes, self->classes->data, n_classes * sizeof (gint)) == 0))
    return;
  g_array_set_size (self->classes, 0);
  g_array_append_vals (self->classes, classes, n_classes);
  if (self->kind == MIRADA_EXPLAIN_GRADCAM && self->class_dropdown != NULL &&
      gtk_drop_down_get_selected (self->class_dropdown) == 0)
    run_job (self);
}

gboolean
mirada_explain_panel_set_layer (MiradaExplainPanel *self,
                                gint                node)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), FALSE);

  for (guint i = 0; i < self->layers->len; i++)
    if (g_array_index (self->layers, gint, i) == node)
      {
        gtk_drop_down_set_selected (self->layer_dropdown, i);
        return TRUE;
      }
  return FALSE;
}

gint
mirada_explain_panel_get_layer (MiradaExplainPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), -1);
  return selected_layer (self);
}

guint
mirada_explain_panel_get_n_overlays (MiradaExplainPanel *self)
{
  GtkWidget *child;
  guint n = 0;

  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), 0);
  if (self->overlays_box == NULL)
    return self->texture != NULL ? 1 : 0;
  for (child = gtk_widget_get_first_child (GTK_WIDGET (self->overlays_box)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n++;
  return n;
}

static void
mirada_explain_panel_dispose (GObject *object)
{
  MiradaExplainPanel *self = MIRADA_EXPLAIN_PANEL (object);

  if (self->runner != NULL)
    mirada_job_runner_cancel (self->runner);
  g_clear_object (&self->runner);
  g_clear_object (&self->settings);
  g_clear_pointer (&self->model, mir_model_unref);
  g_clear_pointer (&self->input, mir_image_unref);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->layers, g_array_unref);
  g_clear_pointer (&self->classes, g_array_unref);
  g_clear_pointer (&self->activation, mir_tensor_unref);
  g_clear_pointer (&self->stats, g_free);

  G_OBJECT_CLASS (mirada_explain_panel_parent_class)->dispose (object);
}

static void
mirada_explain_panel_finalize (GObject *object)
{
  g_free (MIRADA_EXPLAIN_PANEL (object)->what);
  g_free (MIRADA_EXPLAIN_PANEL (object)->layer_name);
  g_clear_pointer (&MIRADA_EXPLAIN_PANEL (object)->captions, g_ptr_array_unref);
  G_OBJECT_CLASS (mirada_explain_panel_parent_class)->finalize (object);
}

static void
mirada_explain_panel_class_init (MiradaExplainPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mirada_explain_panel_dispose;
  object_class->finalize = mirada_explain_panel_finalize;
}

static void
mirada_explain_panel_init (MiradaExplainPanel *self)
{
  self->settings = g_settings_new (APPLICATION_ID);
  self->runner = mirada_job_runner_new ();
  self->layers = g_array_new (FALSE, FALSE, sizeof (gint));
  self->classes = g_array_new (FALSE, FALSE, sizeof (gint));
  self->zoom_channel = -1;
  gtk_widget_set_margin_top (GTK_WIDGET (self), 6);
}

GtkWidget *
mirada_explain_panel_get_picture (MiradaExplainPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), NULL);
  return GTK_WIDGET (self->picture);
}

guint
mirada_explain_panel_get_n_previews (MiradaExplainPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), 0);
  return self->n_previews;
}

double
mirada_explain_panel_get_seconds (MiradaExplainPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), 0);
  return self->seconds;
}

const char *
mirada_explain_panel_get_caption (MiradaExplainPanel *self,
                                  guint               i)
{
  g_return_val_if_fail (MIRADA_IS_EXPLAIN_PANEL (self), NULL);
  if (self->captions == NULL || i >= self->captions->len)
    return NULL;
  return self->captions->pdata[i];
}
