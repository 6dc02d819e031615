/* mirada-window.c: the main window: chrome and actions around one
 * MiradaSession (which owns the model, the image, the grids and the jobs). */
#define G_LOG_DOMAIN "mirada-window"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-train-window.h"
#include "mirada-unit-overlay.h"
#include "mirada-window-private.h"

G_DEFINE_FINAL_TYPE (MiradaWindow, mirada_window, ADW_TYPE_APPLICATION_WINDOW)

enum {
  DETECTIONS_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

enum {
  PROP_0,
  PROP_PRESENTATION,
  N_PROPS
};

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
/* Following the session */

static void
update_info (MiradaWindow *self)
{
  g_autoptr(GString) info = g_string_new (NULL);
  const char *model_name = mirada_session_get_model_name (self->session);
  const char *image_name = mirada_session_get_image_name (self->session);
  MirImage *image = mirada_session_get_image (self->session);
  MirDetectGrid *grid = mirada_session_get_grid (self->session);

  if (model_name != NULL)
    /* Translators: shown under the image */
    g_string_append_printf (info, _("Model: %s"), model_name);
  if (image != NULL)
    {
      if (info->len)
        g_string_append (info, " · ");
      g_string_append_printf (info, _("Image: %s (%d×%d)"), image_name, image->width, image->height);
    }
  if (grid != NULL)
    {
      guint n = mir_detect_geometry_n_windows (&grid->geom);

      g_string_append (info, " · ");
      g_string_append_printf (info, ngettext ("%u window (%d×%d)", "%u windows (%d×%d)", n),
                              n, grid->geom.rows, grid->geom.cols);
    }
  gtk_label_set_label (self->info_label, info->str);
  adw_window_title_set_subtitle (self->window_title, image_name != NULL ? image_name : "");
}

static void
update_explain_classes (MiradaWindow *self)
{
  g_autoptr(GArray) enabled = mirada_detector_panel_dup_enabled (self->detector_panel);

  mirada_heatmap_panel_set_classes (MIRADA_HEATMAP_PANEL (self->explain[MIRADA_PANEL_GRADCAM]),
                                    (const gint *) (void *) enabled->data, enabled->len);
}

static void
update_truth (MiradaWindow *self)
{
  MirDetectTruth *truth = mirada_session_get_truth (self->session);
  MirDetectResult *result = mirada_session_get_result (self->session);
  const char *truth_name = mirada_session_get_truth_name (self->session);

  if (truth == NULL)
    {
      mirada_detector_panel_set_evaluation (self->detector_panel, NULL, truth_name);
      mirada_canvas_set_truth (self->canvas, NULL);
      return;
    }
  if (result != NULL)
    {
      MirDetectEval eval = { 0 };

      mir_detect_evaluate (result, (const MirDetectTruthBox *) (void *) truth->boxes->data,
                           truth->boxes->len, 0.5, &eval);
      mirada_detector_panel_set_evaluation (self->detector_panel, &eval, truth_name);
      mir_detect_eval_clear (&eval);
    }
  else
    mirada_detector_panel_set_evaluation (self->detector_panel, NULL, truth_name);
  mirada_canvas_set_truth (self->canvas, g_settings_get_boolean (self->settings, "show-truth")
                                         ? truth->boxes : NULL);
}

MirDetectTruth *
mirada_window_get_truth (MiradaWindow *self)
{
  return mirada_session_get_truth (self->session);
}

void
_mirada_window_update_sweep (MiradaWindow *self)
{
  MirDetectGrid *grid = mirada_session_get_grid (self->session);
  MirDetectTruth *truth = mirada_session_get_truth (self->session);

  if (self->sweep == NULL)
    return;
  mirada_sweep_dialog_set_n_scales (self->sweep, mirada_session_get_n_scales (self->session));
  mirada_sweep_dialog_set_input (self->sweep, grid,
                                 grid != NULL ? mirada_session_get_params (self->session) : NULL,
                                 truth != NULL ? truth->boxes : NULL);
}

/* New boxes (a new grid or a slider move): the canvas and the detector
 * panel follow the session themselves. */
static void
result_changed_cb (MiradaWindow *self)
{
  update_explain_classes (self);
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
    mirada_panel_set_input (self->explain[i], mirada_session_get_image (self->session),
                            _("The whole image; click a window on it to look at that window."));
}

static void
detection_started_cb (MiradaWindow *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
    mirada_panel_set_input (self->explain[i], NULL, NULL);
}

static void
model_changed_cb (MiradaWindow *self)
{
  MirModel *model = mirada_session_get_model (self->session);

  mirada_architecture_panel_set_model (self->architecture_panel, model);
  mirada_scale_banner_update (self->scale_banner, model, mirada_session_get_image (self->session));
  update_info (self);
  _mirada_window_update_actions (self);
}

static void
image_changed_cb (MiradaWindow *self)
{
  gtk_stack_set_visible_child_name (self->canvas_stack, "canvas");
  _mirada_window_update_layout (self); /* the photo's shape decides where the panel goes */
  mirada_scale_banner_update (self->scale_banner, mirada_session_get_model (self->session),
                              mirada_session_get_image (self->session));
  update_info (self);
  _mirada_window_update_actions (self);
}

static void
session_error_cb (MiradaWindow *self,
                  const char   *what,
                  const GError *error)
{
  _mirada_window_toast_error (self, what, error);
}

static void
file_opened_cb (MiradaWindow *self,
                GFile        *file)
{
  _mirada_window_note_recent (self, file);
}

MiradaSession *
mirada_window_get_session (MiradaWindow *self)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);
  return self->session;
}

void
mirada_window_set_model (MiradaWindow *self,
                         MirModel     *model)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  mirada_session_set_model (self->session, model);
}

void
mirada_window_set_image (MiradaWindow *self,
                         MirImage     *image)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  mirada_session_set_image (self->session, image);
}

void
mirada_window_set_classifier (MiradaWindow       *self,
                              MiradaClassifyFunc  func)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  mirada_session_set_classifier (self->session, func);
}

char *
mirada_window_dup_sidecar_path (MiradaWindow *self)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);
  return mirada_session_dup_sidecar_path (self->session);
}

gboolean
mirada_window_apply_model_meta (MiradaWindow       *self,
                                const MirModelMeta *meta,
                                GError            **error)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), FALSE);
  return mirada_session_apply_model_meta (self->session, meta, error);
}

GMenuModel *
mirada_window_get_recent_menu (MiradaWindow *self,
                               guint         section)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);
  return G_MENU_MODEL (section == 0 ? self->recent_models : self->recent_images);
}

void
mirada_window_paste_texture (MiradaWindow *self,
                             GdkTexture   *texture)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  mirada_session_paste_texture (self->session, texture);
}

void
mirada_window_open_model (MiradaWindow *self,
                          GFile        *file)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  mirada_session_open_model (self->session, file);
}

void
mirada_window_open_image (MiradaWindow *self,
                          GFile        *file)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  mirada_session_open_image (self->session, file);
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

void
mirada_window_open_files_or_defaults (MiradaWindow  *self,
                                      GFile        **files,
                                      int            n_files)
{
  gboolean image = FALSE, model = FALSE;

  g_return_if_fail (MIRADA_IS_WINDOW (self));
  for (int i = 0; i < n_files; i++)
    {
      if (file_is_image (files[i]))
        image = TRUE;
      else
        model = TRUE;
    }
  /* the model first, as mirada_session_open_defaults(): the scene is
   * classified once, with it */
  if (!model)
    mirada_session_open_defaults_for (self->session, TRUE, FALSE);
  mirada_window_open_files (self, files, n_files);
  if (!image)
    mirada_session_open_defaults_for (self->session, FALSE, TRUE);
}

gboolean
mirada_window_open_defaults (MiradaWindow *self)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), FALSE);
  return mirada_session_open_defaults (self->session);
}

/* ------------------------------------------------------------------ */

static void
update_job_ui (MiradaWindow *self)
{
  gboolean busy = mirada_session_get_busy (self->session);

  gtk_widget_set_visible (self->job_box, busy);
  gtk_spinner_set_spinning (self->job_spinner, busy);
  if (busy)
    {
      gtk_progress_bar_set_fraction (self->job_progress, mirada_session_get_progress (self->session));
      gtk_progress_bar_set_text (self->job_progress, mirada_session_get_job_title (self->session));
    }
  _mirada_window_update_actions (self);
}

gboolean
mirada_window_get_busy (MiradaWindow *self)
{
  return mirada_session_get_busy (self->session);
}

void
mirada_window_cancel_jobs (MiradaWindow *self)
{
  mirada_session_cancel (self->session);
}

MirModel *
mirada_window_get_model (MiradaWindow *self)
{
  return mirada_session_get_model (self->session);
}

MirDetectGrid *
mirada_window_get_grid (MiradaWindow *self)
{
  return mirada_session_get_grid (self->session);
}

MirDetectResult *
mirada_window_get_result (MiradaWindow *self)
{
  return mirada_session_get_result (self->session);
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
  MirDetectGrid *grid = mirada_session_get_grid (self->session);
  guint n;

  if (grid == NULL)
    return;
  n = (guint) (row * grid->geom.cols + col);
  /* Translators: the window number n of the report, then its row and column */
  g_string_append_printf (text, _("Window %u (row %d, column %d)"), n, row, col);
  for (guint k = 0; k < grid->n_classes; k++)
    {
      g_autofree char *name = mirada_session_dup_class_name (self->session, k);

      g_string_append_printf (text, "%s%s %.4f", k == 0 ? ": " : " · ",
                              name, mir_detect_grid_get (grid, n, k));
    }
  gtk_label_set_label (self->info_label, text->str);

  /* the explanations follow the selected window */
  {
    g_autoptr(MirImage) crop = NULL;
    g_autoptr(GError) error = NULL;
    int x, y, size;

    mir_detect_geometry_window_rect (&grid->geom, n, &x, &y, &size);
    if (!(crop = mir_image_crop (mirada_session_get_image (self->session), x, y, size, size, &error)))
      {
        _mirada_window_toast_error (self, _("Cannot cut the window"), error);
        return;
      }
    for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
      mirada_panel_set_input (self->explain[i], crop, text->str);
  }
}

void
mirada_window_select_window (MiradaWindow *self,
                             int           row,
                             int           col)
{
  MirDetectGrid *grid;

  g_return_if_fail (MIRADA_IS_WINDOW (self));
  grid = mirada_session_get_grid (self->session);
  g_return_if_fail (grid != NULL);
  g_return_if_fail (row >= 0 && row < grid->geom.rows && col >= 0 && col < grid->geom.cols);

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
  self->maximized = index;
  if (index >= 0)
    mirada_window_show_panel (self, (guint) index);
  for (int i = 0; i < MIRADA_N_PANELS; i++)
    {
      gtk_toggle_button_set_active (self->maximize[i], i == index);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->maximize[i]),
                                   i == index ? _("Bring the photo back")
                                              : _("Show this panel in place of the photo (press again to bring the photo back)"));
      gtk_button_set_icon_name (GTK_BUTTON (self->maximize[i]),
                                i == index ? "view-restore-symbolic" : "view-fullscreen-symbolic");
    }
  /* the panel takes the photo's place: the whole width (or height) */
  gtk_widget_set_visible (self->canvas_area, index < 0);
  gtk_widget_set_visible (self->panels_separator, index < 0);
  self->maximizing = FALSE;
  _mirada_window_update_layout (self);
  if (index >= 0)
    gtk_widget_grab_focus (GTK_WIDGET (self->maximize[index]));
}

static const char *const panel_pages[MIRADA_N_PANELS] = {
  [MIRADA_PANEL_GRADCAM] = "heatmaps",
  [MIRADA_PANEL_ACTIVATIONS] = "activations",
  [MIRADA_PANEL_FILTERS] = "filters",
  [MIRADA_PANEL_ARCHITECTURE] = "architecture",
};

void
mirada_window_show_panel (MiradaWindow *self,
                          guint         index)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));
  g_return_if_fail (index < MIRADA_N_PANELS);

  adw_view_stack_set_visible_child_name (self->panel_stack, panel_pages[index]);
}

guint
mirada_window_get_visible_panel (MiradaWindow *self)
{
  GtkWidget *child;

  g_return_val_if_fail (MIRADA_IS_WINDOW (self), 0);
  child = adw_view_stack_get_visible_child (self->panel_stack);
  for (guint i = 0; i < MIRADA_N_PANELS; i++)
    if (self->frames[i] == child)
      return i;
  return 0;
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

/* The layout follows the window's size (GTK 4.8 has no AdwBreakpoint):
 *  - under 1200 px (and in presentation mode) the detector controls fold
 *    into an overlay (the header's sidebar button, F9), so the photo keeps
 *    its width;
 *  - wide: photo | one panel (a fixed column); narrow or portrait: the panel
 *    under the photo, at most 2/5 of the height.
 * Changing the layout inside an allocation would resize during it, so the
 * allocation only notes the size and an idle applies it. */
#define FOLD_WIDTH 1200
#define SIDE_BY_SIDE_WIDTH 900
#define PANEL_COLUMN_WIDTH 360

#define SIDEBAR_WIDTH 340
#define PANEL_ROW_MIN_HEIGHT 320

/* Whether the panel goes beside the photo (else under it): wide windows put
 * it beside; when a photo is open, whichever arrangement shows the photo
 * larger wins (a wide scene on a 1280×720 projector is a third larger with
 * the panel under it). */
static gboolean
panel_beside (MiradaWindow *self,
              int           width,
              int           height)
{
  MirImage *image = self->session ? mirada_session_get_image (self->session) : NULL;
  gboolean folded = width < FOLD_WIDTH || self->presentation;
  int content = width - (!folded && adw_flap_get_reveal_flap (self->flap) ? SIDEBAR_WIDTH : 0);
  double beside, under;

  if (width < SIDE_BY_SIDE_WIDTH || width * 4 <= height * 5)
    return FALSE;
  if (image == NULL || image->width <= 0 || image->height <= 0)
    return TRUE;
  beside = MIN ((double) (content - PANEL_COLUMN_WIDTH) / image->width,
                (double) height / image->height);
  /* under: the panel takes 2/5 of the height, and no less than its
   * controls and a row of results need */
  under = MIN ((double) content / image->width,
               (double) (height - MAX (height * 2 / 5, PANEL_ROW_MIN_HEIGHT)) / image->height);
  /* beside unless under is clearly larger: the panel's results are taller
   * than wide */
  return beside * 1.1 >= under;
}

static gboolean
apply_layout_cb (gpointer data)
{
  MiradaWindow *self = data;
  int width = self->layout_width, height = self->layout_height;
  gboolean side = panel_beside (self, width, height);

  self->layout_idle = 0;
  /* presentation mode: the photo and one panel, the controls on demand */
  adw_flap_set_fold_policy (self->flap, width < FOLD_WIDTH || self->presentation
                                        ? ADW_FLAP_FOLD_POLICY_ALWAYS : ADW_FLAP_FOLD_POLICY_AUTO);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self->content_box),
                                  side ? GTK_ORIENTATION_HORIZONTAL : GTK_ORIENTATION_VERTICAL);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self->panels_separator),
                                  side ? GTK_ORIENTATION_VERTICAL : GTK_ORIENTATION_HORIZONTAL);
  if (self->maximized >= 0)
    {
      gtk_widget_set_size_request (self->panels_area, -1, -1);
      gtk_widget_set_hexpand (self->panels_area, TRUE);
      gtk_widget_set_vexpand (self->panels_area, TRUE);
    }
  else if (side)
    {
      gtk_widget_set_size_request (self->panels_area, PANEL_COLUMN_WIDTH, -1);
      gtk_widget_set_hexpand (self->panels_area, FALSE);
      gtk_widget_set_vexpand (self->panels_area, TRUE);
    }
  else
    {
      gtk_widget_set_size_request (self->panels_area, -1, MAX (height * 2 / 5, 160));
      gtk_widget_set_hexpand (self->panels_area, TRUE);
      gtk_widget_set_vexpand (self->panels_area, FALSE);
    }
  return G_SOURCE_REMOVE;
}

void
_mirada_window_update_layout (MiradaWindow *self)
{
  if (self->layout_idle == 0)
    self->layout_idle = g_idle_add_full (G_PRIORITY_HIGH_IDLE, apply_layout_cb, self, NULL);
}

static void
mirada_window_size_allocate (GtkWidget *widget,
                             int        width,
                             int        height,
                             int        baseline)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  int w, h;

  GTK_WIDGET_CLASS (mirada_window_parent_class)->size_allocate (widget, width, height, baseline);
  /* the content's size, without the client-side shadow */
  w = gtk_widget_get_width (GTK_WIDGET (self->toast_overlay));
  h = gtk_widget_get_height (GTK_WIDGET (self->toast_overlay));
  if (w <= 0 || h <= 0 || (w == self->layout_width && h == self->layout_height))
    return;
  self->layout_width = w;
  self->layout_height = h;
  _mirada_window_update_layout (self);
}

static void
toggle_sidebar_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);

  adw_flap_set_reveal_flap (self->flap, !adw_flap_get_reveal_flap (self->flap));
}

static void
layer_selected_cb (MiradaWindow *self,
                   gint          node)
{
  /* the architecture list sets the layer of the other panels that offer it */
  for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
    mirada_panel_set_layer (self->explain[i], node);
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

  if (self->session != NULL)
    {
      /* the widgets stop following the session before its jobs end */
      g_signal_handlers_disconnect_by_data (self->session, self);
      mirada_canvas_set_session (self->canvas, NULL);
      mirada_detector_panel_set_session (self->detector_panel, NULL);
      mirada_session_cancel (self->session);
      g_clear_object (&self->session);
    }
  if (self->sweep != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->sweep), (gpointer *) &self->sweep);
      gtk_window_destroy (GTK_WINDOW (self->sweep));
      self->sweep = NULL;
    }
  if (self->train != NULL)
    {
      /* a run stops after its batch (the Train view cancels it when disposed) */
      g_object_remove_weak_pointer (G_OBJECT (self->train), (gpointer *) &self->train);
      gtk_window_destroy (GTK_WINDOW (self->train));
      self->train = NULL;
    }
  g_clear_object (&self->settings);
  g_clear_pointer (&self->opened_uris, g_ptr_array_unref);
  g_clear_handle_id (&self->layout_idle, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (object), MIRADA_TYPE_WINDOW);

  G_OBJECT_CLASS (mirada_window_parent_class)->dispose (object);
}

static void
mirada_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MiradaWindow *self = MIRADA_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PRESENTATION:
      g_value_set_boolean (value, self->presentation);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mirada_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MiradaWindow *self = MIRADA_WINDOW (object);

  switch (prop_id)
    {
    case PROP_PRESENTATION:
      mirada_window_set_presentation (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mirada_window_class_init (MiradaWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = mirada_window_dispose;
  object_class->get_property = mirada_window_get_property;
  object_class->set_property = mirada_window_set_property;
  window_class->close_request = mirada_window_close_request;
  widget_class->size_allocate = mirada_window_size_allocate;

  /* Emitted after the boxes and counts were recomputed (new grid or slider move). */
  signals[DETECTIONS_CHANGED] =
    g_signal_new ("detections-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /* Presentation mode (mirada-window-presentation.c); win.presentation's state. */
  g_object_class_install_property (object_class, PROP_PRESENTATION,
                                   g_param_spec_boolean ("presentation", NULL, NULL, FALSE,
                                                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                                         G_PARAM_STATIC_STRINGS));

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
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, flap);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, content_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, canvas_area);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, panels_separator);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, panels_area);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, panel_stack);
  gtk_widget_class_bind_template_child (widget_class, MiradaWindow, sidebar_button);
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
  /* F9 (mirada-application.c): the detector controls over the photo when folded */
  gtk_widget_class_install_action (widget_class, "win.toggle-sidebar", NULL, toggle_sidebar_action);
  _mirada_window_presentation_class_init (widget_class);
  _mirada_window_compare_class_init (widget_class);
}

/* The layout for the size the window is about to get, before its first
 * allocation: the default size within the first monitor (the whole monitor
 * when maximized).  The .ui's own layout (sidebar open, the panel beside
 * the photo) needs about 1400 px: on a 1280×720 screen the window was laid
 * out once at that width, the flap giving its content a negative one (Gtk
 * warnings at most starts under mutter) before the idle after that
 * allocation applied the right layout.  The allocation still has the last
 * word (size_allocate), and when it matches this guess nothing changes. */
static void
apply_expected_layout (MiradaWindow *self)
{
  GListModel *monitors = gdk_display_get_monitors (gtk_widget_get_display (GTK_WIDGET (self)));
  g_autoptr(GdkMonitor) monitor = NULL;
  int width, height;

  gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
  if (g_list_model_get_n_items (monitors) > 0 &&
      (monitor = g_list_model_get_item (monitors, 0)) != NULL)
    {
      GdkRectangle area;

      gdk_monitor_get_geometry (monitor, &area);
      if (area.width > 0 && area.height > 0)
        {
          gboolean maximized = g_settings_get_boolean (self->settings, "window-maximized");

          width = maximized || width <= 0 ? area.width : MIN (width, area.width);
          height = maximized || height <= 0 ? area.height : MIN (height, area.height);
        }
    }
  if (width <= 0 || height <= 0)
    return;
  self->layout_width = width;
  self->layout_height = height;
  apply_layout_cb (self);
}

static void
maximize_once_mapped (GtkWidget *widget)
{
  g_signal_handlers_disconnect_by_func (widget, maximize_once_mapped, NULL);
  gtk_window_maximize (GTK_WINDOW (widget));
}

static void
mirada_window_init (MiradaWindow *self)
{
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->maximized = -1;

  self->session = mirada_session_new ();
  self->settings = g_settings_new (APPLICATION_ID);
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    {
      gtk_window_maximize (GTK_WINDOW (self));
      /* GTK 4.8 under an X11 window manager (mutter) drops a maximize
       * asked before the window exists: ask again once it is mapped */
      g_signal_connect (self, "map", G_CALLBACK (maximize_once_mapped), NULL);
    }

  g_signal_connect_object (self->session, "notify::busy", G_CALLBACK (update_job_ui), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::progress", G_CALLBACK (update_job_ui), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::job-title", G_CALLBACK (update_job_ui), self, G_CONNECT_SWAPPED);

  {
    GtkBox *boxes[] = { self->gradcam_box, self->activations_box, self->filters_box };
    GtkWidget *(*panel_new[]) (void) = { mirada_heatmap_panel_new, mirada_activations_panel_new,
                                         mirada_filters_panel_new };

    for (guint i = 0; i < G_N_ELEMENTS (self->explain); i++)
      {
        self->explain[i] = MIRADA_PANEL (panel_new[i] ());
        mirada_panel_set_session (self->explain[i], self->session);
        gtk_widget_set_vexpand (GTK_WIDGET (self->explain[i]), TRUE);
        gtk_box_append (boxes[i], GTK_WIDGET (self->explain[i]));
      }
    /* the unit the activations panel explains: its field on the photo too */
    mirada_unit_overlay_follow (self->canvas, MIRADA_ACTIVATIONS_PANEL (self->explain[1]));
  }

  /* the canvas and the detector panel follow the session; the window the rest */
  mirada_canvas_set_session (self->canvas, self->session);
  mirada_detector_panel_set_session (self->detector_panel, self->session);
  /* issue 19: the occlusion brush, under the photo */
  self->occlusion = MIRADA_OCCLUSION_PAINT (mirada_occlusion_paint_new ());
  mirada_occlusion_paint_attach (self->occlusion, self->session, self->canvas);
  gtk_box_insert_child_after (GTK_BOX (self->canvas_area), GTK_WIDGET (self->occlusion),
                              GTK_WIDGET (self->canvas_stack));
  /* its toggle beside the heat maps' layer and method: hide what the map shows, watch the score */
  gtk_box_append (mirada_panel_get_bar (self->explain[MIRADA_PANEL_GRADCAM]),
                  mirada_occlusion_paint_get_toggle (self->occlusion));
  g_signal_connect_object (self->session, "notify::model", G_CALLBACK (model_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::model-name", G_CALLBACK (update_info), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::image", G_CALLBACK (image_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->flap, "notify::reveal-flap", G_CALLBACK (_mirada_window_update_layout),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::image-name", G_CALLBACK (update_info), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::grid", G_CALLBACK (_mirada_window_update_actions), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::result", G_CALLBACK (result_changed_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "notify::truth", G_CALLBACK (update_truth), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "detection-started", G_CALLBACK (detection_started_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "detection-finished", G_CALLBACK (explain_whole_image), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "error", G_CALLBACK (session_error_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->session, "file-opened", G_CALLBACK (file_opened_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->canvas, "window-activated", G_CALLBACK (window_activated_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->architecture_panel, "layer-selected", G_CALLBACK (layer_selected_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::show-truth", G_CALLBACK (update_truth), self, G_CONNECT_SWAPPED);
  for (guint i = 0; i < MIRADA_N_PANELS; i++)
    {
      g_signal_connect (self->maximize[i], "toggled", G_CALLBACK (maximize_toggled_cb), self);
      g_signal_connect (self->panel_export[i], "clicked", G_CALLBACK (panel_export_clicked_cb), self);
    }

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (file_dropped_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  _mirada_window_actions_init (self);
  _mirada_window_presentation_init (self);
  update_info (self);
  _mirada_window_update_actions (self);
  apply_expected_layout (self);
}

MiradaOcclusionPaint *
mirada_window_get_occlusion_paint (MiradaWindow *self)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);
  return self->occlusion;
}
