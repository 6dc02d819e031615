/* mirada-filters-panel.c: filter patterns by gradient ascent
 * (engine/visualize/mir-filter-pattern.h) on a worker; the grid fills in
 * place as patterns sharpen and batches finish. */
#define G_LOG_DOMAIN "mirada-filters-panel"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "visualize/mir-filter-pattern.h"
#include "mirada-filters-panel.h"
#include "mirada-settings.h"

#define N_FILTERS 16
/* Filters optimised together: the whole grid in one batch (one forward and
 * one backward per step for all of them; previews still come every few
 * steps). */
#define FILTER_BATCH N_FILTERS
/* A preview every this many steps: 8 pictures per pattern at 40 steps. */
#define FILTER_PREVIEW_EVERY 5
/* At most this often a partial grid goes to the UI thread (µs). */
#define FILTER_PREVIEW_INTERVAL (G_USEC_PER_SEC / 10)

struct _MiradaFiltersPanel
{
  MiradaPanel parent_instance;

  GtkDropDown *method_dropdown;  /* seed recipe or regularised */
  GtkButton *compute_button;
  /* the last result's progress-hook calls and worker time */
  guint n_previews;
  double seconds;
  gboolean wanted;               /* Compute was pressed for this model */
};

G_DEFINE_FINAL_TYPE (MiradaFiltersPanel, mirada_filters_panel, MIRADA_TYPE_PANEL)

/* The methods, as `mirada filters -m` names them. */
static const char *const method_ids[] = { "seed", "regularized", NULL };

typedef struct
{
  MirModel *model;
  gint layer;
  guint method;        /* an index of method_ids */
  GWeakRef *panel;     /* partial grids go there (an atomic rc box; read on the UI thread) */
} FiltersJob;

typedef struct
{
  GdkTexture *texture;
  char *status;
  guint n_previews;        /* progress-hook calls */
  double seconds;          /* worker time */
} FiltersResult;

static void
filters_job_free (FiltersJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_atomic_rc_box_release_full (job->panel, (GDestroyNotify) g_weak_ref_clear);
  g_free (job);
}

static void
filters_result_free (FiltersResult *r)
{
  g_clear_object (&r->texture);
  g_free (r->status);
  g_free (r);
}

typedef struct
{
  MirImage **slots;        /* n: finished patterns or the latest previews, NULL before */
  MiradaJob *job;
  guint n, n_done;
  guint n_previews;        /* progress-hook calls (a cached pattern gives exactly one) */
  gint64 last_post;        /* monotonic µs of the last partial grid */
  FiltersJob *filters;
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
  MiradaPanel *self = g_weak_ref_get (pf->panel);

  /* a newer job cancels this one: its partial grid must not land */
  if (self != NULL && !g_cancellable_is_cancelled (pf->cancellable) &&
      mirada_panel_get_busy (self))
    {
      g_autofree char *text = g_strdup_printf (_("%u of %u filter patterns…"), pf->done, pf->n);

      gtk_picture_set_paintable (GTK_PICTURE (mirada_panel_get_picture (self)), GDK_PAINTABLE (pf->texture));
      mirada_panel_set_status (self, text);
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
  if (!(pf->texture = mirada_texture_upscaled (grid, 320, NULL, NULL)))
    {
      g_free (pf);
      return;
    }
  pf->panel = g_atomic_rc_box_acquire (fc->filters->panel);
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
  /* at most every FILTER_PREVIEW_INTERVAL, and after each round of previews
   * of the batch (its last filter), so a fast batch still shows progress */
  if (g_get_monotonic_time () - fc->last_post >= FILTER_PREVIEW_INTERVAL ||
      index + 1 == MIN (fc->n, FILTER_BATCH))
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

static gpointer
filters_worker (MiradaJob     *mjob,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  FiltersJob *job = data;
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
  FiltersResult *r = NULL;

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
  r = g_new0 (FiltersResult, 1);
  if (!(r->texture = mirada_texture_upscaled (grid, 320, NULL, error)))
    {
      filters_result_free (r);
      return NULL;
    }
  r->n_previews = fc.n_previews;
  r->seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  r->status = g_strdup_printf (opts.method == MIR_FILTER_METHOD_SEED
                               ? _("The first %u filters of “%s” (of %d), by plain gradient ascent: 40 steps from grey noise")
                               : _("The first %u filters of “%s” (of %d), by regularised gradient ascent: jitter, scale, rotation, smoothness penalty"),
                               n, node->name, (int) channels);
  return r;
}

static void
mirada_filters_panel_show_result (MiradaPanel *panel,
                                  gpointer     result)
{
  MiradaFiltersPanel *self = MIRADA_FILTERS_PANEL (panel);
  FiltersResult *r = result;

  mirada_panel_set_texture (panel, r->texture);
  self->n_previews = r->n_previews;
  self->seconds = r->seconds;
  gtk_picture_set_paintable (GTK_PICTURE (mirada_panel_get_picture (panel)), GDK_PAINTABLE (r->texture));
  mirada_panel_set_status (panel, r->status);
  filters_result_free (r);
}

static gpointer
mirada_filters_panel_create_job (MiradaPanel *panel,
                                 gint         layer)
{
  MiradaFiltersPanel *self = MIRADA_FILTERS_PANEL (panel);
  FiltersJob *job = g_new0 (FiltersJob, 1);

  job->panel = g_atomic_rc_box_new0 (GWeakRef);
  g_weak_ref_init (job->panel, self);
  job->model = mir_model_ref (mirada_panel_get_model (panel));
  job->layer = layer;
  job->method = MIN (gtk_drop_down_get_selected (self->method_dropdown), 1);
  return job;
}

static gboolean
mirada_filters_panel_layer_wanted (MiradaPanel *panel,
                                   MirNode     *node)
{
  gboolean conv = node->layer != NULL && (node->layer->klass->flags & MIR_LAYER_FLAG_CONV);

  return conv && node->shape.ndim == 4;
}

static void
mirada_filters_panel_model_changed (MiradaPanel *panel,
                                    MirModel    *model)
{
  MIRADA_FILTERS_PANEL (panel)->wanted = FALSE;
  if (model != NULL && mirada_panel_get_layer (panel) >= 0)
    mirada_panel_set_status (panel, _("Choose a layer and press Compute: each pattern is found by 40 steps of gradient ascent."));
}

static void
mirada_filters_panel_compute (MiradaPanel *panel)
{
  MIRADA_FILTERS_PANEL (panel)->wanted = TRUE;
  mirada_panel_run (panel);
}

/* Another layer or method cancels the patterns being computed and drops the
 * grid; once the user has asked for patterns (Compute) the panel follows the
 * choice at once (cached patterns come instantly), before that it waits for
 * Compute. */
static void
mirada_filters_panel_layer_changed (MiradaPanel *panel)
{
  MiradaFiltersPanel *self = MIRADA_FILTERS_PANEL (panel);

  if (mirada_panel_is_updating (panel) || mirada_panel_get_model (panel) == NULL)
    return;
  mirada_job_runner_cancel (mirada_panel_get_runner (panel));
  mirada_panel_set_texture (panel, NULL);
  gtk_picture_set_paintable (GTK_PICTURE (mirada_panel_get_picture (panel)), NULL);
  if (self->wanted)
    mirada_panel_run (panel);
  else
    mirada_panel_set_status (panel, _("Press Compute to find this layer’s filter patterns."));
}

static void
progress_cb (MiradaFiltersPanel *self)
{
  MiradaJobRunner *runner = mirada_panel_get_runner (MIRADA_PANEL (self));

  if (mirada_job_runner_get_busy (runner))
    {
      g_autofree char *text = g_strdup_printf (_("Computing filter patterns… %.0f %%"),
                                               100 * mirada_job_runner_get_progress (runner));
      mirada_panel_set_status (MIRADA_PANEL (self), text);
    }
}

guint
mirada_filters_panel_get_n_previews (MiradaFiltersPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_FILTERS_PANEL (self), 0);
  return self->n_previews;
}

double
mirada_filters_panel_get_seconds (MiradaFiltersPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_FILTERS_PANEL (self), 0);
  return self->seconds;
}

GtkWidget *
mirada_filters_panel_new (void)
{
  return g_object_new (MIRADA_TYPE_FILTERS_PANEL, NULL);
}

static void
mirada_filters_panel_class_init (MiradaFiltersPanelClass *klass)
{
  MiradaPanelClass *panel_class = MIRADA_PANEL_CLASS (klass);

  panel_class->needs_input = FALSE;
  panel_class->layer_wanted = mirada_filters_panel_layer_wanted;
  panel_class->model_changed = mirada_filters_panel_model_changed;
  panel_class->layer_changed = mirada_filters_panel_layer_changed;
  panel_class->compute = mirada_filters_panel_compute;
  panel_class->create_job = mirada_filters_panel_create_job;
  panel_class->job_free = (GDestroyNotify) filters_job_free;
  panel_class->worker = filters_worker;
  panel_class->result_free = (GDestroyNotify) filters_result_free;
  panel_class->show_result = mirada_filters_panel_show_result;
}

static void
mirada_filters_panel_init (MiradaFiltersPanel *self)
{
  MiradaPanel *panel = MIRADA_PANEL (self);
  GtkBox *bar = mirada_panel_get_bar (panel);
  GtkStringList *list = gtk_string_list_new (NULL);

  gtk_widget_set_tooltip_text (GTK_WIDGET (mirada_panel_get_layer_dropdown (panel)),
                               _("The convolutional layer whose filters are shown."));
  /* the order of method_ids */
  gtk_string_list_append (list, _("Plain"));
  gtk_string_list_append (list, _("Regularised"));
  self->method_dropdown =
    mirada_dropdown_new_labelled (list, _("Method"),
                                  _("Plain: the course’s gradient ascent exactly (40 steps of size 1 from grey noise); on small inputs its patterns look like noise. Regularised: each step sees a jittered, scaled and rotated copy, with a smoothness penalty and a Fourier parameterisation (as Lucid does), so the patterns are readable."));
  gtk_box_append (bar, GTK_WIDGET (self->method_dropdown));
  mirada_settings_bind_choice (mirada_panel_get_settings (panel), "filter-method", self->method_dropdown,
                               "selected", method_ids);
  g_signal_connect_swapped (self->method_dropdown, "notify::selected",
                            G_CALLBACK (mirada_filters_panel_layer_changed), self);

  self->compute_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Compute")));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->compute_button),
                               _("Find, for each of the first 16 filters, the input pattern that excites it most"));
  g_signal_connect_swapped (self->compute_button, "clicked", G_CALLBACK (mirada_panel_compute), self);
  gtk_box_append (bar, GTK_WIDGET (self->compute_button));

  g_signal_connect_object (mirada_panel_get_runner (panel), "notify::progress", G_CALLBACK (progress_cb),
                           self, G_CONNECT_SWAPPED);
}
