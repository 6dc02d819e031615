/* mirada-explain-panel.c: Grad-CAM, activation grids and filter patterns. */
#define G_LOG_DOMAIN "mirada-explain-panel"

#include "config.h"

#include <glib/gi18n.h>

#include "explain/mir-explain.h"
#include "visualize/mir-activation-grid.h"
#include "visualize/mir-colormap.h"
#include "visualize/mir-filter-pattern.h"
#include "mirada-explain-panel.h"
#include "mirada-job.h"
#include "mirada-window.h"

#define N_FILTERS 16

struct _MiradaExplainPanel
{
  GtkBox parent_instance;

  MiradaExplainKind kind;
  GtkDropDown *layer_dropdown;
  GtkDropDown *class_dropdown;   /* Grad-CAM only */
  GtkButton *compute_button;     /* filters only */
  GtkLabel *status_label;
  GtkPicture *picture;

  GSettings *settings;
  MiradaJobRunner *runner;
  MirModel *model;
  GArray *layers;                /* gint node index per dropdown item */
  MirImage *input;
  char *what;
  GdkTexture *texture;
  gboolean updating;
};

G_DEFINE_FINAL_TYPE (MiradaExplainPanel, mirada_explain_panel, GTK_TYPE_BOX)

typedef struct
{
  MiradaExplainKind kind;
  MirModel *model;
  MirImage *input;
  gint layer;
  gint class_index;
  MirColormap colormap;
  double alpha;
} ExplainJob;

typedef struct
{
  GdkTexture *texture;
  char *status;
} ExplainResult;

static void
explain_job_free (ExplainJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->input, mir_image_unref);
  g_free (job);
}

static void
explain_result_free (ExplainResult *r)
{
  g_clear_object (&r->texture);
  g_free (r->status);
  g_free (r);
}

/* Small maps upscaled nearest-neighbour on the CPU (GTK 4.8 only filters
 * linearly), so each activation stays a crisp square. */
static GdkTexture *
texture_upscaled (MirImage  *image,
                  int        min_side,
                  GError   **error)
{
  g_autoptr(MirImage) big = NULL;
  int side = MAX (image->width, image->height);
  int factor = side > 0 ? MAX (1, min_side / side) : 1;

  if (factor == 1)
    return mirada_texture_new_for_image (image);
  if (!(big = mir_image_resize (image, image->width * factor, image->height * factor,
                                MIR_RESIZE_NEAREST, error)))
    return NULL;
  return mirada_texture_new_for_image (big);
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

static ExplainResult *
run_gradcam (ExplainJob    *job,
             GCancellable  *cancellable,
             GError       **error)
{
  MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autoptr(MirImage) overlay = NULL;
  g_autofree char *name = NULL;
  ExplainResult *r;

  opts.layer = job->layer;
  opts.class_index = job->class_index;
  if (!(input = mir_image_prepare (job->input, job->model, error)) ||
      !(e = mir_explain_gradcam (job->model, input, &opts, cancellable, error)) ||
      !(overlay = mir_colormap_overlay (job->input, e->map, e->width, e->height, job->colormap,
                                        (float) job->alpha, FALSE, error)))
    return NULL;
  r = g_new0 (ExplainResult, 1);
  if (!(r->texture = texture_upscaled (overlay, 320, error)))
    {
      explain_result_free (r);
      return NULL;
    }
  name = class_name (job->model, e->class_index);
  /* Translators: Grad-CAM on layer "conv2d_3" (8×8) for "cat", P = 0.97 */
  r->status = g_strdup_printf (_("Grad-CAM on layer “%s” (%d×%d) for “%s”, P = %.4f"),
                               e->layer_name, e->width, e->height, name, e->probability);
  if (e->notice != NULL)
    {
      char *s = g_strconcat (r->status, "\n", e->notice, NULL);
      g_free (r->status);
      r->status = s;
    }
  return r;
}

static ExplainResult *
run_activations (ExplainJob    *job,
                 GCancellable  *cancellable,
                 GError       **error)
{
  MirGridOptions opts = MIR_GRID_OPTIONS_DEFAULT;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirImage) grid = NULL;
  g_autofree MirChannelStats *stats = NULL;
  MirNode *node = mir_model_get_node (job->model, (guint) job->layer);
  MirTensor *act;
  ExplainResult *r;
  guint dead = 0;
  gint64 channels;

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
  if (!(grid = mir_activation_grid (act, 0, &opts, &stats, error)))
    return NULL;
  channels = act->shape[act->ndim - 1];
  for (gint64 c = 0; c < channels; c++)
    dead += stats[c].dead;
  r = g_new0 (ExplainResult, 1);
  if (!(r->texture = texture_upscaled (grid, 480, error)))
    {
      explain_result_free (r);
      return NULL;
    }
  r->status = g_strdup_printf (ngettext ("“%s”: %d channel of %d×%d, %u all zero",
                                         "“%s”: %d channels of %d×%d, %u all zero", (gulong) channels),
                               node->name, (int) channels, (int) act->shape[1], (int) act->shape[2], dead);
  return r;
}

typedef struct
{
  GPtrArray *patterns;
  MiradaJob *job;
  guint n;
} FilterCollect;

static void
pattern_done_cb (guint     index,
                 gint      filter,
                 MirImage *pattern,
                 double    loss_start,
                 double    loss_end,
                 gpointer  user_data)
{
  FilterCollect *fc = user_data;

  g_ptr_array_add (fc->patterns, mir_image_ref (pattern));
  mirada_job_set_progress (fc->job, (double) fc->patterns->len / fc->n);
}

static ExplainResult *
run_filters (ExplainJob    *job,
             MiradaJob     *mjob,
             GCancellable  *cancellable,
             GError       **error)
{
  MirFilterOptions opts = MIR_FILTER_OPTIONS_DEFAULT;
  MirNode *node = mir_model_get_node (job->model, (guint) job->layer);
  g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(MirImage) grid = NULL;
  gint filters[N_FILTERS];
  gint64 channels = node->shape.dim[node->shape.ndim - 1];
  guint n = (guint) MIN (channels, N_FILTERS);
  FilterCollect fc = { patterns, mjob, n };
  ExplainResult *r;

  for (guint i = 0; i < n; i++)
    filters[i] = (gint) i;
  if (!mir_filter_patterns (job->model, job->layer, filters, n, &opts, pattern_done_cb, &fc,
                            cancellable, error))
    return NULL;
  if (!(grid = mir_filter_grid ((MirImage *const *) patterns->pdata, patterns->len, 4, 2, error)))
    return NULL;
  r = g_new0 (ExplainResult, 1);
  if (!(r->texture = texture_upscaled (grid, 320, error)))
    {
      explain_result_free (r);
      return NULL;
    }
  r->status = g_strdup_printf (_("The first %u filters of “%s” (of %d), by gradient ascent"),
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
      return run_gradcam (job, cancellable, error);
    case MIRADA_EXPLAIN_ACTIVATIONS:
      return run_activations (job, cancellable, error);
    case MIRADA_EXPLAIN_FILTERS:
      return run_filters (job, mjob, cancellable, error);
    default:
      g_assert_not_reached ();
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
  gtk_picture_set_paintable (self->picture, GDK_PAINTABLE (r->texture));
  gtk_label_set_label (self->status_label, r->status);
  explain_result_free (r);
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
  job->model = mir_model_ref (self->model);
  job->input = self->input != NULL ? mir_image_ref (self->input) : NULL;
  job->layer = layer;
  job->class_index = self->class_dropdown != NULL
                     ? (gint) gtk_drop_down_get_selected (self->class_dropdown) - 1 : -1;
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
  if (model != NULL)
    mir_model_ref (model);
  g_clear_pointer (&self->model, mir_model_unref);
  self->model = model;
  g_array_set_size (self->layers, 0);
  g_clear_object (&self->texture);
  gtk_picture_set_paintable (self->picture, NULL);

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
          gint64 k = o->dim[o->ndim - 1];

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

GtkWidget *
mirada_explain_panel_new (MiradaExplainKind kind)
{
  MiradaExplainPanel *self = g_object_new (MIRADA_TYPE_EXPLAIN_PANEL,
                                           "orientation", GTK_ORIENTATION_VERTICAL,
                                           "spacing", 6, NULL);
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *label;

  self->kind = kind;
  gtk_widget_set_margin_start (bar, 12);
  gtk_widget_set_margin_end (bar, 12);
  label = gtk_label_new (_("Layer"));
  gtk_box_append (GTK_BOX (bar), label);
  self->layer_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
  gtk_drop_down_set_enable_search (self->layer_dropdown, TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self->layer_dropdown), TRUE);
  gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->layer_dropdown));
  switch (kind)
    {
    case MIRADA_EXPLAIN_GRADCAM:
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->layer_dropdown),
                                   _("The layer whose feature maps Grad-CAM weighs by the gradient of the class score (Keras uses the last convolutional one)."));
      self->class_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->class_dropdown),
                                   _("The class to explain: the regions that raise its score are hot."));
      gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->class_dropdown));
      g_signal_connect_swapped (self->class_dropdown, "notify::selected", G_CALLBACK (run_job), self);
      break;
    case MIRADA_EXPLAIN_ACTIVATIONS:
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->layer_dropdown),
                                   _("The layer whose output is shown: one small image per channel, 16 per row, in viridis."));
      break;
    case MIRADA_EXPLAIN_FILTERS:
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->layer_dropdown),
                                   _("The convolutional layer whose filters are shown."));
      self->compute_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Compute")));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->compute_button),
                                   _("Find, for each of the first 16 filters, the input pattern that excites it most"));
      g_signal_connect_swapped (self->compute_button, "clicked", G_CALLBACK (run_job), self);
      gtk_box_append (GTK_BOX (bar), GTK_WIDGET (self->compute_button));
      break;
    default:
      g_assert_not_reached ();
    }
  if (kind != MIRADA_EXPLAIN_FILTERS)
    g_signal_connect_swapped (self->layer_dropdown, "notify::selected", G_CALLBACK (run_job), self);
  gtk_box_append (GTK_BOX (self), bar);

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
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (self->picture));
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (self), scrolled);

  g_signal_connect_object (self->settings, "changed::colormap", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::alpha", G_CALLBACK (settings_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->runner, "notify::progress", G_CALLBACK (progress_cb), self, G_CONNECT_SWAPPED);
  return GTK_WIDGET (self);
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

  G_OBJECT_CLASS (mirada_explain_panel_parent_class)->dispose (object);
}

static void
mirada_explain_panel_finalize (GObject *object)
{
  g_free (MIRADA_EXPLAIN_PANEL (object)->what);
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
  gtk_widget_set_margin_top (GTK_WIDGET (self), 6);
}
