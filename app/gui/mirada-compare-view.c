/* mirada-compare-view.c: two models side by side (mirada-compare-view.h). */
#define G_LOG_DOMAIN "mirada-compare-view"

#include "config.h"

#include <glib/gi18n.h>

#include "explain/mir-explain.h"
#include "mirada-compare-view.h"
#include "mirada-model-open.h"
#include "mirada-panel.h"
#include "visualize/mir-colormap.h"

struct _MiradaCompareView
{
  GtkBox parent_instance;

  /* template */
  GtkBox *halves;
  GtkBox *a_box;
  GtkLabel *a_label;
  GtkLabel *b_label;
  GtkSpinner *b_spinner;
  GtkButton *close_button;
  MiradaCanvas *canvas_b;
  GtkToggleButton *diff_button;
  GtkLabel *agreement_label;
  GtkLabel *selection_label;
  GtkPicture *explain_a;
  GtkPicture *explain_b;
  GtkLabel *caption_a;
  GtkLabel *caption_b;
  GtkSwitch *separate_switch;
  GtkGrid *threshold_grid;

  MiradaSession *session_a;  /* weak */
  MiradaCanvas *canvas_a;    /* weak */
  MiradaSession *session_b;  /* owned: model B on A's image */
  GtkBox *area;              /* where the view is attached, or NULL */
  GtkWidget *stack;          /* what it took from there */
  gboolean stack_hhomogeneous;
  MiradaJobRunner *spec_runner;
  MiradaJobRunner *explain_runner;
  MiradaCompare *compare;
  MirDetectGrid *last_a, *last_b; /* the grids compare was made of (owned), or NULL */
  gboolean syncing;          /* a view or a selection being copied across */
  gboolean diff;
  int sel_row, sel_col;      /* -1: none */
  GPtrArray *thresholds;     /* GtkAdjustment per class of B: its own thresholds */
};

G_DEFINE_FINAL_TYPE (MiradaCompareView, mirada_compare_view, GTK_TYPE_BOX)

enum {
  CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ------------------------------------------------------------------ */
/* Both models' Grad-CAM of the selected window (worker) */

typedef struct
{
  MirModel *model[2];
  gint top[2];
  MirImage *crop;
} ExplainJob;

typedef struct
{
  GdkTexture *texture[2];
  char *caption[2];
} ExplainResult;

static void
explain_job_free (ExplainJob *job)
{
  for (int m = 0; m < 2; m++)
    g_clear_pointer (&job->model[m], mir_model_unref);
  g_clear_pointer (&job->crop, mir_image_unref);
  g_free (job);
}

static void
explain_result_free (ExplainResult *r)
{
  for (int m = 0; m < 2; m++)
    {
      g_clear_object (&r->texture[m]);
      g_free (r->caption[m]);
    }
  g_free (r);
}

/* One model after the other (one inference at a time); a model without a
 * convolution says so in its caption. */
static gpointer
explain_worker (MiradaJob     *mjob,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  ExplainJob *job = data;
  ExplainResult *r = g_new0 (ExplainResult, 1);

  for (int m = 0; m < 2; m++)
    {
      MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
      g_autoptr(MirTensor) input = NULL;
      g_autoptr(MirExplanation) e = NULL;
      g_autoptr(MirImage) overlay = NULL;
      g_autoptr(GError) local = NULL;
      g_autofree char *name = NULL;

      mir_explain_options_set_class (&opts, job->model[m], job->top[m]);
      if (!(input = mir_image_prepare (job->crop, job->model[m], &local)) ||
          !(e = mir_explain_gradcam (job->model[m], input, &opts, cancellable, &local)) ||
          !(overlay = mir_colormap_overlay (job->crop, e->map, e->width, e->height,
                                            MIR_COLORMAP_JET, 0.4f, FALSE, &local)) ||
          !(r->texture[m] = mirada_texture_upscaled (overlay, 192, NULL, &local)))
        {
          if (g_cancellable_is_cancelled (cancellable))
            {
              explain_result_free (r);
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
          r->caption[m] = g_strdup (local->message);
          continue;
        }
      name = mir_explanation_dup_class_name (job->model[m], e);
      /* Translators: under a model's Grad-CAM of one window: the class it
       * explains and its probability */
      r->caption[m] = g_strdup_printf (_("Grad-CAM of %s, P = %.3f"), name, e->probability);
      mirada_job_set_progress (mjob, (m + 1) / 2.0);
    }
  return r;
}

static void
explain_done (gpointer      result,
              const GError *error,
              gpointer      user_data)
{
  MiradaCompareView *self = user_data;
  ExplainResult *r = result;

  if (error != NULL)
    {
      gtk_label_set_label (self->caption_a, error->message);
      gtk_label_set_label (self->caption_b, "");
      return;
    }
  gtk_picture_set_paintable (self->explain_a, GDK_PAINTABLE (r->texture[0]));
  gtk_picture_set_paintable (self->explain_b, GDK_PAINTABLE (r->texture[1]));
  gtk_label_set_label (self->caption_a, r->caption[0]);
  gtk_label_set_label (self->caption_b, r->caption[1]);
  explain_result_free (r);
}

static void
clear_explanations (MiradaCompareView *self)
{
  mirada_job_runner_cancel (self->explain_runner);
  gtk_picture_set_paintable (self->explain_a, NULL);
  gtk_picture_set_paintable (self->explain_b, NULL);
  gtk_label_set_label (self->caption_a, "");
  gtk_label_set_label (self->caption_b, "");
}

/* ------------------------------------------------------------------ */
/* Agreement */

static char *
class_name (MiradaSession *session,
            guint          k)
{
  return mirada_session_dup_class_name (session, k);
}

static void
update_selection (MiradaCompareView *self)
{
  MirDetectGrid *ga = self->session_a != NULL ? mirada_session_get_grid (self->session_a) : NULL;
  MirDetectGrid *gb = mirada_session_get_grid (self->session_b);
  g_autofree char *na = NULL, *nb = NULL;
  g_autofree char *text = NULL;
  ExplainJob *job;
  guint n;
  int x, y, side;

  if (self->sel_row < 0 || self->compare == NULL || ga == NULL || gb == NULL)
    {
      gtk_label_set_label (self->selection_label,
                           _("Click a window to compare the two models on it."));
      clear_explanations (self);
      return;
    }
  n = (guint) (self->sel_row * ga->geom.cols + self->sel_col);
  na = class_name (self->session_a, self->compare->top_a[n]);
  nb = class_name (self->session_b, self->compare->top_b[n]);
  text = g_strdup_printf (self->compare->agree[n]
                          /* Translators: the selected window; then each model's most
                           * probable class and its probability */
                          ? _("Window %u (row %d, column %d): A %s %.4f · B %s %.4f — they agree")
                          : _("Window %u (row %d, column %d): A %s %.4f · B %s %.4f — they differ"),
                          n, self->sel_row, self->sel_col,
                          na, mir_detect_grid_get (ga, n, self->compare->top_a[n]),
                          nb, mir_detect_grid_get (gb, n, self->compare->top_b[n]));
  gtk_label_set_label (self->selection_label, text);

  /* both models' Grad-CAM of their own top class on this window */
  clear_explanations (self);
  job = g_new0 (ExplainJob, 1);
  mir_detect_geometry_window_rect (&ga->geom, n, &x, &y, &side);
  job->crop = mir_image_crop (mirada_session_get_image (self->session_a), x, y, side, side, NULL);
  if (job->crop == NULL || mirada_session_get_model (self->session_a) == NULL ||
      mirada_session_get_model (self->session_b) == NULL)
    {
      explain_job_free (job);
      return;
    }
  job->model[0] = mir_model_ref (mirada_session_get_model (self->session_a));
  job->model[1] = mir_model_ref (mirada_session_get_model (self->session_b));
  job->top[0] = (gint) self->compare->top_a[n];
  job->top[1] = (gint) self->compare->top_b[n];
  gtk_label_set_label (self->caption_a, _("Computing Grad-CAM…"));
  mirada_job_runner_run (self->explain_runner, _("Explaining the window…"), explain_worker, job,
                         (GDestroyNotify) explain_job_free, (GDestroyNotify) explain_result_free,
                         explain_done, self, NULL);
}

static void
update_compare (MiradaCompareView *self)
{
  MirDetectGrid *ga = self->session_a != NULL ? mirada_session_get_grid (self->session_a) : NULL;
  MirDetectGrid *gb = mirada_session_get_grid (self->session_b);
  g_autofree char *text = NULL;

  /* new grids: new agreement; the canvases forget their selection too */
  if (ga != self->last_a || gb != self->last_b)
    {
      g_clear_pointer (&self->last_a, mir_detect_grid_unref);
      g_clear_pointer (&self->last_b, mir_detect_grid_unref);
      self->last_a = ga != NULL ? mir_detect_grid_ref (ga) : NULL;
      self->last_b = gb != NULL ? mir_detect_grid_ref (gb) : NULL;
      g_clear_pointer (&self->compare, mirada_compare_free);
      if (ga != NULL && gb != NULL)
        self->compare = mirada_compare_grids (ga, gb, NULL);
      self->sel_row = self->sel_col = -1;
      update_selection (self);
      gtk_widget_queue_draw (GTK_WIDGET (self->canvas_b));
      if (self->canvas_a != NULL)
        gtk_widget_queue_draw (GTK_WIDGET (self->canvas_a));
    }
  if (self->compare != NULL)
    text = g_strdup_printf (ngettext ("The models agree on %u of %u window (%.1f%%)",
                                      "The models agree on %u of %u windows (%.1f%%)",
                                      self->compare->n_windows),
                            self->compare->n_agree, self->compare->n_windows,
                            100.0 * mirada_compare_rate (self->compare));
  else if (mirada_session_get_busy (self->session_b) ||
           (self->session_a != NULL && mirada_session_get_busy (self->session_a)))
    text = g_strdup (_("Classifying the windows…"));
  else
    text = g_strdup ("");
  gtk_label_set_label (self->agreement_label, text);
}

/* Every window's centre cell (stride × stride: they tile the grid) green
 * where the two top-1 classes agree, red where they differ. */
static void
draw_diff (MiradaCanvas *canvas,
           cairo_t      *cr,
           double        scale,
           gpointer      data)
{
  MiradaCompareView *self = data;
  MirDetectGrid *grid = self->session_a != NULL ? mirada_session_get_grid (self->session_a) : NULL;
  double cell;

  if (!self->diff || self->compare == NULL || grid == NULL)
    return;
  cell = MIN (grid->geom.stride, grid->geom.window);
  for (guint n = 0; n < self->compare->n_windows; n++)
    {
      int x, y, side;

      mir_detect_geometry_window_rect (&grid->geom, n, &x, &y, &side);
      if (self->compare->agree[n])
        cairo_set_source_rgba (cr, 0.15, 0.75, 0.3, 0.35);
      else
        cairo_set_source_rgba (cr, 0.9, 0.15, 0.15, 0.45);
      cairo_rectangle (cr, (x + side / 2.0 - cell / 2) * scale, (y + side / 2.0 - cell / 2) * scale,
                       cell * scale, cell * scale);
      cairo_fill (cr);
    }
}

void
mirada_compare_view_set_diff (MiradaCompareView *self,
                              gboolean           diff)
{
  g_return_if_fail (MIRADA_IS_COMPARE_VIEW (self));
  gtk_toggle_button_set_active (self->diff_button, diff);
}

static void
diff_toggled_cb (MiradaCompareView *self)
{
  self->diff = gtk_toggle_button_get_active (self->diff_button);
  gtk_widget_queue_draw (GTK_WIDGET (self->canvas_b));
  if (self->canvas_a != NULL)
    gtk_widget_queue_draw (GTK_WIDGET (self->canvas_a));
}

/* ------------------------------------------------------------------ */
/* Following A */

static void
sync_params (MiradaCompareView *self)
{
  const MirDetectParams *pa;
  MirDetectGrid *gb = mirada_session_get_grid (self->session_b);
  MirModel *mb = mirada_session_get_model (self->session_b);
  g_auto(GStrv) names_a = NULL;
  g_autoptr(GPtrArray) names_b = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MirDetectParams) pb = NULL;
  guint n_b;

  if (self->session_a == NULL || (pa = mirada_session_get_params (self->session_a)) == NULL ||
      (gb == NULL && mb == NULL))
    return;
  n_b = gb != NULL ? gb->n_classes : mir_model_get_n_classes (mb);
  names_a = g_new0 (char *, pa->n_classes + 1);
  for (guint k = 0; k < pa->n_classes; k++)
    names_a[k] = class_name (self->session_a, k);
  for (guint k = 0; k < n_b; k++)
    g_ptr_array_add (names_b, class_name (self->session_b, k));
  g_ptr_array_add (names_b, NULL);
  pb = mirada_compare_params_for (pa, (const char *const *) names_a,
                                  (const char *const *) names_b->pdata, n_b);
  if (gtk_switch_get_active (self->separate_switch) && self->thresholds->len == n_b)
    for (guint k = 0; k < n_b; k++)
      pb->classes[k].threshold = gtk_adjustment_get_value (self->thresholds->pdata[k]);
  mirada_session_set_params (self->session_b, pb);
}

/* One slider per class of B, starting from the thresholds B has now. */
static void
update_threshold_rows (MiradaCompareView *self)
{
  MirDetectGrid *gb = mirada_session_get_grid (self->session_b);
  MirModel *mb = mirada_session_get_model (self->session_b);
  const MirDetectParams *pb = mirada_session_get_params (self->session_b);
  guint n = gb != NULL ? gb->n_classes : mb != NULL ? mir_model_get_n_classes (mb) : 0;
  GtkWidget *child;

  if (n == self->thresholds->len)
    return;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->threshold_grid))) != NULL)
    gtk_grid_remove (self->threshold_grid, child);
  g_ptr_array_set_size (self->thresholds, 0);
  for (guint k = 0; k < n; k++)
    {
      g_autofree char *name = class_name (self->session_b, k);
      GtkAdjustment *adj = gtk_adjustment_new (pb != NULL && k < pb->n_classes ? pb->classes[k].threshold : 0.99,
                                               0.0, 1.0, 0.001, 0.01, 0.0);
      GtkWidget *label = gtk_label_new (name);
      GtkWidget *scale = gtk_scale_new (GTK_ORIENTATION_HORIZONTAL, adj);

      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 16);
      gtk_scale_set_digits (GTK_SCALE (scale), 3);
      gtk_scale_set_draw_value (GTK_SCALE (scale), TRUE);
      gtk_scale_set_value_pos (GTK_SCALE (scale), GTK_POS_RIGHT);
      gtk_widget_set_size_request (scale, 180, -1);
      gtk_accessible_update_property (GTK_ACCESSIBLE (scale), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
      g_object_bind_property (self->separate_switch, "active", scale, "sensitive", G_BINDING_SYNC_CREATE);
      g_signal_connect_swapped (adj, "value-changed", G_CALLBACK (sync_params), self);
      gtk_grid_attach (self->threshold_grid, label, 0, (int) k, 1, 1);
      gtk_grid_attach (self->threshold_grid, scale, 1, (int) k, 1, 1);
      g_ptr_array_add (self->thresholds, g_object_ref_sink (adj));
    }
}

/* Separate thresholds start from those B follows now. */
static void
separate_toggled_cb (MiradaCompareView *self)
{
  const MirDetectParams *pb = mirada_session_get_params (self->session_b);

  if (gtk_switch_get_active (self->separate_switch) && pb != NULL)
    for (guint k = 0; k < self->thresholds->len && k < pb->n_classes; k++)
      {
        g_signal_handlers_block_by_func (self->thresholds->pdata[k], sync_params, self);
        gtk_adjustment_set_value (self->thresholds->pdata[k], pb->classes[k].threshold);
        g_signal_handlers_unblock_by_func (self->thresholds->pdata[k], sync_params, self);
      }
  sync_params (self);
}

GtkAdjustment *
mirada_compare_view_get_threshold_adjustment (MiradaCompareView *self,
                                              guint              class_index)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return class_index < self->thresholds->len ? self->thresholds->pdata[class_index] : NULL;
}

void
mirada_compare_view_set_separate (MiradaCompareView *self,
                                  gboolean           separate)
{
  g_return_if_fail (MIRADA_IS_COMPARE_VIEW (self));
  gtk_switch_set_active (self->separate_switch, separate);
}

static void
sync_geometry (MiradaCompareView *self)
{
  if (self->session_a == NULL)
    return;
  mirada_session_set_geometry (self->session_b, mirada_session_get_window_size (self->session_a),
                               mirada_session_get_stride (self->session_a),
                               mirada_session_get_levels (self->session_a),
                               mirada_session_get_notebook_layout (self->session_a));
}

static void
sync_image (MiradaCompareView *self)
{
  MirImage *image = self->session_a != NULL ? mirada_session_get_image (self->session_a) : NULL;

  if (image != NULL && image != mirada_session_get_image (self->session_b))
    mirada_session_set_image (self->session_b, image);
}

static void
update_titles (MiradaCompareView *self)
{
  const char *a = self->session_a != NULL ? mirada_session_get_model_name (self->session_a) : NULL;
  const char *b = mirada_session_get_model_name (self->session_b);
  /* Translators: the first model's name above its canvas */
  g_autofree char *ta = g_strdup_printf (_("A · %s"), a != NULL ? a : "–");
  /* Translators: the second model's name above its canvas */
  g_autofree char *tb = g_strdup_printf (_("B · %s"), b != NULL ? b : _("loading…"));

  gtk_label_set_label (self->a_label, ta);
  gtk_label_set_label (self->b_label, tb);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->a_label), ta);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->b_label), tb);
}

static void
copy_view (MiradaCanvas *from,
           MiradaCanvas *to)
{
  gboolean fit;
  double zoom, px, py;

  mirada_canvas_get_view (from, &fit, &zoom, &px, &py);
  mirada_canvas_set_view (to, fit, zoom, px, py);
}

static void
view_a_cb (MiradaCompareView *self)
{
  if (!self->syncing && self->canvas_a != NULL)
    copy_view (self->canvas_a, self->canvas_b);
}

static void
view_b_cb (MiradaCompareView *self)
{
  if (!self->syncing && self->canvas_a != NULL)
    copy_view (self->canvas_b, self->canvas_a);
}

static gboolean
can_select (MiradaCanvas  *canvas,
            MiradaSession *session,
            int            row,
            int            col)
{
  MirDetectGrid *grid = mirada_session_get_grid (session);

  return grid != NULL && row < grid->geom.rows && col < grid->geom.cols;
}

/* A click on either canvas selects the same window on the other. */
static void
activated_a_cb (MiradaCompareView *self,
                int                row,
                int                col)
{
  if (self->syncing)
    return;
  self->syncing = TRUE;
  if (can_select (self->canvas_b, self->session_b, row, col))
    mirada_canvas_select (self->canvas_b, row, col);
  self->syncing = FALSE;
  self->sel_row = row;
  self->sel_col = col;
  update_selection (self);
}

static void
activated_b_cb (MiradaCompareView *self,
                int                row,
                int                col)
{
  if (self->syncing)
    return;
  self->syncing = TRUE;
  if (self->canvas_a != NULL && can_select (self->canvas_a, self->session_a, row, col))
    mirada_canvas_select (self->canvas_a, row, col); /* the window's panels follow too */
  self->syncing = FALSE;
  self->sel_row = row;
  self->sel_col = col;
  update_selection (self);
}

/* ------------------------------------------------------------------ */
/* Model B */

static gpointer
open_spec_worker (MiradaJob     *job,
                  gpointer       data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  return mirada_model_open (data, NULL, NULL, NULL, error);
}

static void
spec_done (gpointer      result,
           const GError *error,
           gpointer      user_data)
{
  MiradaCompareView *self = user_data;

  if (error != NULL)
    {
      gtk_label_set_label (self->agreement_label, error->message);
      return;
    }
  mirada_session_set_model (self->session_b, result);
  mir_model_unref (result);
}

void
mirada_compare_view_open_model (MiradaCompareView *self,
                                GFile             *file)
{
  g_return_if_fail (MIRADA_IS_COMPARE_VIEW (self));
  mirada_session_open_model (self->session_b, file);
}

void
mirada_compare_view_open_spec (MiradaCompareView *self,
                               const char        *spec)
{
  g_return_if_fail (MIRADA_IS_COMPARE_VIEW (self));
  mirada_job_runner_run (self->spec_runner, _("Loading the model…"), open_spec_worker,
                         g_strdup (spec), g_free, (GDestroyNotify) mir_model_unref,
                         spec_done, self, NULL);
}

/* ------------------------------------------------------------------ */

void
mirada_compare_view_attach (MiradaCompareView *self,
                            GtkBox            *area,
                            GtkWidget         *stack)
{
  g_return_if_fail (MIRADA_IS_COMPARE_VIEW (self));
  g_return_if_fail (self->area == NULL);
  g_return_if_fail (gtk_widget_get_parent (stack) == GTK_WIDGET (area));

  self->area = area;
  self->stack = g_object_ref (stack);
  /* half the width: as wide as the page shown (the canvas), not as its
   * widest page (the status page asking for a model and a photo) */
  if (GTK_IS_STACK (stack))
    {
      self->stack_hhomogeneous = gtk_stack_get_hhomogeneous (GTK_STACK (stack));
      gtk_stack_set_hhomogeneous (GTK_STACK (stack), FALSE);
    }
  gtk_box_remove (area, stack);
  gtk_box_append (self->a_box, stack);
  gtk_box_prepend (area, GTK_WIDGET (self));
}

static void
detach (MiradaCompareView *self)
{
  if (self->area == NULL)
    return;
  gtk_box_remove (self->a_box, self->stack);
  gtk_box_prepend (self->area, self->stack);
  if (GTK_IS_STACK (self->stack))
    gtk_stack_set_hhomogeneous (GTK_STACK (self->stack), self->stack_hhomogeneous);
  g_clear_object (&self->stack);
  if (gtk_widget_get_parent (GTK_WIDGET (self)) == GTK_WIDGET (self->area))
    gtk_box_remove (self->area, GTK_WIDGET (self));
  self->area = NULL;
}

static void
disconnect_a (MiradaCompareView *self)
{
  if (self->canvas_a != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->canvas_a, self);
      mirada_canvas_set_overlay (self->canvas_a, NULL, NULL, NULL);
      g_object_remove_weak_pointer (G_OBJECT (self->canvas_a), (gpointer *) &self->canvas_a);
      self->canvas_a = NULL;
    }
  if (self->session_a != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session_a, self);
      g_object_remove_weak_pointer (G_OBJECT (self->session_a), (gpointer *) &self->session_a);
      self->session_a = NULL;
    }
}

void
mirada_compare_view_close (MiradaCompareView *self)
{
  g_return_if_fail (MIRADA_IS_COMPARE_VIEW (self));

  g_object_ref (self);
  mirada_job_runner_cancel (self->explain_runner);
  mirada_job_runner_cancel (self->spec_runner);
  mirada_session_cancel (self->session_b);
  disconnect_a (self);
  detach (self);
  g_signal_emit (self, signals[CLOSED], 0);
  g_object_unref (self);
}

MiradaSession *
mirada_compare_view_get_session (MiradaCompareView *self)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return self->session_b;
}

MiradaCanvas *
mirada_compare_view_get_canvas (MiradaCompareView *self)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return self->canvas_b;
}

const MiradaCompare *
mirada_compare_view_get_compare (MiradaCompareView *self)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return self->compare;
}

const char *
mirada_compare_view_get_agreement_text (MiradaCompareView *self)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return gtk_label_get_label (self->agreement_label);
}

const char *
mirada_compare_view_get_selection_text (MiradaCompareView *self)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return gtk_label_get_label (self->selection_label);
}

gboolean
mirada_compare_view_get_explaining (MiradaCompareView *self)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), FALSE);
  return mirada_job_runner_get_busy (self->explain_runner);
}

GdkPaintable *
mirada_compare_view_get_explanation (MiradaCompareView *self,
                                     guint              which)
{
  g_return_val_if_fail (MIRADA_IS_COMPARE_VIEW (self), NULL);
  return gtk_picture_get_paintable (which == 0 ? self->explain_a : self->explain_b);
}

MiradaCompareView *
mirada_compare_view_new (MiradaSession *session_a,
                         MiradaCanvas  *canvas_a)
{
  MiradaCompareView *self;

  g_return_val_if_fail (MIRADA_IS_SESSION (session_a), NULL);
  g_return_val_if_fail (MIRADA_IS_CANVAS (canvas_a), NULL);

  self = g_object_new (MIRADA_TYPE_COMPARE_VIEW, NULL);
  self->session_a = session_a;
  self->canvas_a = canvas_a;
  g_object_add_weak_pointer (G_OBJECT (session_a), (gpointer *) &self->session_a);
  g_object_add_weak_pointer (G_OBJECT (canvas_a), (gpointer *) &self->canvas_a);

  /* B: A's geometry and image first, then its model (one classification) */
  sync_geometry (self);
  sync_image (self);
  g_signal_connect_swapped (session_a, "notify::image", G_CALLBACK (sync_image), self);
  g_signal_connect_swapped (session_a, "notify::window-size", G_CALLBACK (sync_geometry), self);
  g_signal_connect_swapped (session_a, "notify::stride", G_CALLBACK (sync_geometry), self);
  g_signal_connect_swapped (session_a, "notify::levels", G_CALLBACK (sync_geometry), self);
  g_signal_connect_swapped (session_a, "notify::notebook-layout", G_CALLBACK (sync_geometry), self);
  g_signal_connect_swapped (session_a, "notify::result", G_CALLBACK (sync_params), self);
  g_signal_connect_swapped (session_a, "notify::grid", G_CALLBACK (update_compare), self);
  g_signal_connect_swapped (session_a, "notify::model-name", G_CALLBACK (update_titles), self);
  g_signal_connect_swapped (canvas_a, "view-changed", G_CALLBACK (view_a_cb), self);
  g_signal_connect_swapped (canvas_a, "window-activated", G_CALLBACK (activated_a_cb), self);
  g_object_bind_property (canvas_a, "presentation", self->canvas_b, "presentation", G_BINDING_SYNC_CREATE);
  mirada_canvas_set_overlay (canvas_a, draw_diff, self, NULL);
  update_titles (self);
  return self;
}

static void
mirada_compare_view_dispose (GObject *object)
{
  MiradaCompareView *self = MIRADA_COMPARE_VIEW (object);

  disconnect_a (self);
  if (self->explain_runner != NULL)
    mirada_job_runner_cancel (self->explain_runner);
  if (self->spec_runner != NULL)
    mirada_job_runner_cancel (self->spec_runner);
  g_clear_object (&self->explain_runner);
  g_clear_object (&self->spec_runner);
  if (self->session_b != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session_b, self);
      mirada_canvas_set_overlay (self->canvas_b, NULL, NULL, NULL);
      mirada_canvas_set_session (self->canvas_b, NULL);
      mirada_session_cancel (self->session_b);
      g_clear_object (&self->session_b);
    }
  g_clear_object (&self->stack);
  g_clear_pointer (&self->compare, mirada_compare_free);
  g_clear_pointer (&self->last_a, mir_detect_grid_unref);
  g_clear_pointer (&self->last_b, mir_detect_grid_unref);
  if (self->thresholds != NULL)
    {
      for (guint k = 0; k < self->thresholds->len; k++)
        g_signal_handlers_disconnect_by_data (self->thresholds->pdata[k], self);
      g_clear_pointer (&self->thresholds, g_ptr_array_unref);
    }
  gtk_widget_dispose_template (GTK_WIDGET (object), MIRADA_TYPE_COMPARE_VIEW);

  G_OBJECT_CLASS (mirada_compare_view_parent_class)->dispose (object);
}

static void
mirada_compare_view_class_init (MiradaCompareViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_compare_view_dispose;

  /* The close button (or mirada_compare_view_close ()) took the view away. */
  signals[CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  g_type_ensure (MIRADA_TYPE_CANVAS);
  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE "/ui/mirada-compare-view.ui");
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, halves);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, a_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, a_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, b_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, b_spinner);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, close_button);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, canvas_b);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, diff_button);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, agreement_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, selection_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, explain_a);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, explain_b);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, caption_a);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, caption_b);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, separate_switch);
  gtk_widget_class_bind_template_child (widget_class, MiradaCompareView, threshold_grid);
}

static void
mirada_compare_view_init (MiradaCompareView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->sel_row = self->sel_col = -1;
  self->thresholds = g_ptr_array_new_with_free_func (g_object_unref);
  self->session_b = mirada_session_new ();
  self->spec_runner = mirada_job_runner_new ();
  self->explain_runner = mirada_job_runner_new ();
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->canvas_b), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Image with the second model’s boxes"), -1);
  mirada_canvas_set_session (self->canvas_b, self->session_b);
  mirada_canvas_set_overlay (self->canvas_b, draw_diff, self, NULL);
  g_signal_connect_swapped (self->session_b, "notify::grid", G_CALLBACK (sync_params), self);
  g_signal_connect_swapped (self->session_b, "notify::model", G_CALLBACK (sync_params), self);
  g_signal_connect_swapped (self->session_b, "notify::grid", G_CALLBACK (update_compare), self);
  g_signal_connect_swapped (self->session_b, "notify::grid", G_CALLBACK (update_threshold_rows), self);
  g_signal_connect_swapped (self->separate_switch, "notify::active", G_CALLBACK (separate_toggled_cb), self);
  g_signal_connect_swapped (self->session_b, "notify::busy", G_CALLBACK (update_compare), self);
  g_signal_connect_swapped (self->session_b, "notify::model-name", G_CALLBACK (update_titles), self);
  g_object_bind_property (self->session_b, "busy", self->b_spinner, "spinning", G_BINDING_SYNC_CREATE);
  g_signal_connect_swapped (self->canvas_b, "view-changed", G_CALLBACK (view_b_cb), self);
  g_signal_connect_swapped (self->canvas_b, "window-activated", G_CALLBACK (activated_b_cb), self);
  g_signal_connect_swapped (self->diff_button, "toggled", G_CALLBACK (diff_toggled_cb), self);
  g_signal_connect_swapped (self->close_button, "clicked", G_CALLBACK (mirada_compare_view_close), self);
}
