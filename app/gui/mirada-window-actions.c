/* mirada-window-actions.c: the window's actions (open, export, zoom, cancel). */
#define G_LOG_DOMAIN "mirada-window"

#include "config.h"

#include <glib/gi18n.h>


#include <string.h>

#include "mirada-detect-export.h"
#include "mirada-export.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "mirada-model-properties.h"
#include "mirada-train-window.h"
#include "mirada-window-private.h"

static void
model_chosen_cb (GtkNativeDialog *dialog,
                 int              response,
                 MiradaWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        mirada_window_open_model (self, file);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
image_chosen_cb (GtkNativeDialog *dialog,
                 int              response,
                 MiradaWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        mirada_window_open_image (self, file);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
add_filter (GtkFileChooser     *chooser,
            const char         *name,
            const char *const  *patterns,
            const char *const  *mime_types)
{
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, name);
  for (guint i = 0; patterns != NULL && patterns[i] != NULL; i++)
    gtk_file_filter_add_pattern (filter, patterns[i]);
  for (guint i = 0; mime_types != NULL && mime_types[i] != NULL; i++)
    gtk_file_filter_add_mime_type (filter, mime_types[i]);
  gtk_file_chooser_add_filter (chooser, filter);
}

static void
open_model_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Open a Model"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  /* every format the loaders read (a TF.js model is its model.json; its
   * folder through Open TF.js Folder) */
  add_filter (GTK_FILE_CHOOSER (dialog), _("Models (Keras, TensorFlow.js, ONNX)"),
              (const char *const[]) { "*.h5", "*.hdf5", "*.keras", "*.json", "*.onnx", NULL }, NULL);
  add_filter (GTK_FILE_CHOOSER (dialog), _("All files"), (const char *const[]) { "*", NULL }, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (model_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* A TensorFlow.js model is a folder (model.json and its weight shards):
 * the loader takes the folder itself. */
static void
open_model_folder_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Open a TensorFlow.js Model Folder"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Open"), _("_Cancel"));
  g_signal_connect (dialog, "response", G_CALLBACK (model_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
open_image_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Open an Image"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  /* The formats mirada_image_load() reads (not SVG, XPM, ICO, ...). */
  add_filter (GTK_FILE_CHOOSER (dialog), _("Images"), NULL,
              (const char *const[]) { "image/png", "image/jpeg", "image/gif", "image/bmp",
                                      "image/webp", "image/tiff", NULL });
  add_filter (GTK_FILE_CHOOSER (dialog), _("All files"), (const char *const[]) { "*", NULL }, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (image_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

gboolean
mirada_window_export_detections (MiradaWindow  *self,
                                 const char    *path,
                                 GError       **error)
{
  GPtrArray *scale_grids;
  MirDetectGrid *grid;
  MiradaDetections d = { 0 };

  g_return_val_if_fail (MIRADA_IS_WINDOW (self), FALSE);

  if (mirada_session_get_image (self->session) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Open an image first"));
      return FALSE;
    }
  /* what `mirada detect --csv/--json` writes for the same result (one writer) */
  scale_grids = mirada_session_get_scale_grids (self->session);
  grid = mirada_session_get_grid (self->session);
  d.image = mirada_session_get_image (self->session);
  d.image_name = mirada_session_get_image_name (self->session);
  if (scale_grids != NULL)
    {
      d.grids = (MirDetectGrid *const *) scale_grids->pdata;
      d.n_grids = scale_grids->len;
    }
  else if (grid != NULL)
    {
      d.grids = &grid;
      d.n_grids = 1;
    }
  d.params = mirada_session_get_params (self->session);
  d.result = mirada_session_get_result (self->session);
  d.truth = mirada_session_get_truth (self->session);
  return mirada_detections_export (&d, mirada_detections_format_for_path (path), path, error);
}

static void
export_chosen_cb (GtkNativeDialog *dialog,
                  int              response,
                  MiradaWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr(GError) error = NULL;
      gboolean ok;

      if (path != NULL)
        {
          ok = mirada_window_export_detections (self, path, &error);
          if (!ok)
            _mirada_window_toast_error (self, _("Export failed"), error);
          else
            adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (_("Exported")));
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  GtkFileChooserNative *dialog;

  if (mirada_session_get_image (self->session) == NULL)
    return;
  dialog = gtk_file_chooser_native_new (_("Export Detections"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "detections.png");
  add_filter (GTK_FILE_CHOOSER (dialog), _("PNG image with boxes"), (const char *const[]) { "*.png", NULL }, NULL);
  add_filter (GTK_FILE_CHOOSER (dialog), _("CSV table of boxes"), (const char *const[]) { "*.csv", NULL }, NULL);
  add_filter (GTK_FILE_CHOOSER (dialog), _("JSON list of boxes"), (const char *const[]) { "*.json", NULL }, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (export_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* A widget drawn into a texture (the architecture panel has no picture of its own). */
static GdkTexture *
render_widget (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  GtkNative *native = gtk_widget_get_native (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  if (native == NULL || w <= 0 || h <= 0)
    {
      g_object_unref (snapshot);
      return NULL;
    }
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    return NULL;
  return gsk_renderer_render_texture (gtk_native_get_renderer (native), node,
                                      &GRAPHENE_RECT_INIT (0, 0, w, h));
}

gboolean
mirada_window_export_panel (MiradaWindow  *self,
                            guint          index,
                            const char    *path,
                            GError       **error)
{
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GBytes) png = NULL;

  g_return_val_if_fail (MIRADA_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (index < MIRADA_N_PANELS, FALSE);

  if (index < G_N_ELEMENTS (self->explain) && mirada_panel_get_texture (self->explain[index]) != NULL)
    texture = g_object_ref (mirada_panel_get_texture (self->explain[index]));
  else
    texture = render_widget (self->frames[index]);
  if (texture == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The panel shows nothing yet"));
      return FALSE;
    }
  png = gdk_texture_save_to_png_bytes (texture);
  return mirada_output_write (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png), error);
}

static void
panel_chosen_cb (GtkNativeDialog *dialog,
                 int              response,
                 MiradaWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (dialog), "panel"));
      g_autoptr(GError) error = NULL;

      if (path != NULL && !mirada_window_export_panel (self, index, path, &error))
        _mirada_window_toast_error (self, _("Export failed"), error);
      else if (path != NULL)
        adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (_("Exported")));
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
export_panel_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  static const char *const names[] = { "heat-maps.png", "activations.png", "filters.png", "architecture.png" };
  MiradaWindow *self = MIRADA_WINDOW (widget);
  guint index = g_variant_get_uint32 (parameter);
  GtkFileChooserNative *dialog;

  if (index >= MIRADA_N_PANELS)
    return;
  dialog = gtk_file_chooser_native_new (_("Save the Panel"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), names[index]);
  g_object_set_data (G_OBJECT (dialog), "panel", GUINT_TO_POINTER (index));
  g_signal_connect (dialog, "response", G_CALLBACK (panel_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
sweep_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);

  if (self->sweep == NULL)
    {
      self->sweep = mirada_sweep_dialog_new (GTK_WINDOW (self));
      g_object_add_weak_pointer (G_OBJECT (self->sweep), (gpointer *) &self->sweep);
      gtk_window_set_hide_on_close (GTK_WINDOW (self->sweep), FALSE);
    }
  _mirada_window_update_sweep (self);
  gtk_window_present (GTK_WINDOW (self->sweep));
}

/* The Train view: one per window, kept while it is open (a run goes on when
 * the main window is used meanwhile). */
static void
train_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);

  if (self->train == NULL)
    {
      self->train = mirada_train_window_new (GTK_WINDOW (self));
      g_object_add_weak_pointer (G_OBJECT (self->train), (gpointer *) &self->train);
    }
  gtk_window_present (GTK_WINDOW (self->train));
}

static void
texture_pasted_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(MiradaWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (source), result, &error);

  if (texture == NULL)
    {
      _mirada_window_toast_error (self, _("Nothing to paste"), error);
      return;
    }
  mirada_window_paste_texture (self, texture);
}

static void
paste_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  GdkClipboard *clipboard = gtk_widget_get_clipboard (widget);

  /* Ctrl+V in a text field pastes text there */
  if (focus != NULL && (GTK_IS_TEXT (focus) || GTK_IS_EDITABLE (focus)))
    {
      gtk_widget_activate_action (focus, "clipboard.paste", NULL);
      return;
    }
  gdk_clipboard_read_texture_async (clipboard, NULL, texture_pasted_cb, g_object_ref (self));
}

void
_mirada_window_note_recent (MiradaWindow *self,
                            GFile        *file)
{
  g_autofree char *uri = NULL;

  /* the bundled model and scene are not "recent files" */
  if (g_file_has_uri_scheme (file, "resource"))
    return;
  uri = g_file_get_uri (file);
  if (self->opened_uris == NULL)
    self->opened_uris = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->opened_uris->len; i++)
    if (g_str_equal (self->opened_uris->pdata[i], uri))
      {
        g_ptr_array_remove_index (self->opened_uris, i);
        break;
      }
  g_ptr_array_add (self->opened_uris, g_strdup (uri));
  gtk_recent_manager_add_item (self->recent, uri);
}

/* Where @uri was opened in this window: larger is later, -1 never. */
static int
opened_rank (MiradaWindow *self,
             const char   *uri)
{
  if (self->opened_uris != NULL)
    for (guint i = self->opened_uris->len; i-- > 0;)
      if (g_str_equal (self->opened_uris->pdata[i], uri))
        return (int) i;
  return -1;
}

/* Newest first.  The recent-files store keeps whole seconds, so two files
 * opened within a second tie; then the order this window opened them in
 * decides, so the file opened last is at the top. */
static gint
compare_recent (gconstpointer a,
                gconstpointer b,
                gpointer      data)
{
  GtkRecentInfo *ia = (GtkRecentInfo *) a, *ib = (GtkRecentInfo *) b;
  int c = g_date_time_compare (gtk_recent_info_get_modified (ib),
                               gtk_recent_info_get_modified (ia));

  if (c != 0)
    return c;
  return opened_rank (data, gtk_recent_info_get_uri (ib)) -
         opened_rank (data, gtk_recent_info_get_uri (ia));
}

void
_mirada_window_update_recent (MiradaWindow *self)
{
  GList *items = gtk_recent_manager_get_items (self->recent);
  const char *app_name = g_get_application_name ();
  guint n = 0;

  guint n_images = 0;

  g_menu_remove_all (self->recent_models);
  g_menu_remove_all (self->recent_images);
  items = g_list_sort_with_data (items, compare_recent, self);
  for (GList *l = items; l != NULL; l = l->next)
    {
      GtkRecentInfo *info = l->data;
      g_autoptr(GMenuItem) item = NULL;
      g_autofree char *type = NULL;
      gboolean image;

      if (app_name == NULL || !gtk_recent_info_has_application (info, app_name) ||
          !gtk_recent_info_exists (info))
        continue;
      /* as mirada_window_open_files sorts dropped files */
      type = g_content_type_guess (gtk_recent_info_get_uri (info), NULL, 0, NULL);
      image = g_content_type_is_mime_type (type, "image/*");
      if ((image ? n_images : n) >= 8)
        continue;
      item = g_menu_item_new (gtk_recent_info_get_display_name (info), NULL);
      g_menu_item_set_action_and_target_value (item, "win.open-recent",
                                               g_variant_new_string (gtk_recent_info_get_uri (info)));
      g_menu_append_item (image ? self->recent_images : self->recent_models, item);
      if (image)
        n_images++;
      else
        n++;
    }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
}

static void
open_recent_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  g_autoptr(GFile) file = g_file_new_for_uri (g_variant_get_string (parameter, NULL));
  GFile *files[] = { file };

  mirada_window_open_files (MIRADA_WINDOW (widget), files, 1);
}

static void
model_properties_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  GtkWidget *dialog = mirada_model_properties_new (MIRADA_WINDOW (widget));

  gtk_window_present (GTK_WINDOW (dialog));
}

static void
zoom_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);

  if (g_str_equal (action_name, "win.zoom-in"))
    mirada_canvas_zoom_in (self->canvas);
  else if (g_str_equal (action_name, "win.zoom-out"))
    mirada_canvas_zoom_out (self->canvas);
  else
    mirada_canvas_zoom_fit (self->canvas);
}

static void
cancel_job_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  mirada_window_cancel_jobs (MIRADA_WINDOW (widget));
}

void
_mirada_window_update_actions (MiradaWindow *self)
{
  gboolean has_image = self->session != NULL && mirada_session_get_image (self->session) != NULL;
  gboolean has_grid = self->session != NULL && mirada_session_get_grid (self->session) != NULL;
  gboolean has_model = self->session != NULL && mirada_session_get_model (self->session) != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.export", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.zoom-in", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.zoom-out", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.zoom-fit", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sweep", has_grid);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.model-properties", has_model);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.cancel-job",
                                 self->session != NULL && mirada_window_get_busy (self));
}

void
_mirada_window_class_actions_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.open-model", NULL, open_model_action);
  gtk_widget_class_install_action (widget_class, "win.open-model-folder", NULL, open_model_folder_action);
  gtk_widget_class_install_action (widget_class, "win.open-image", NULL, open_image_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-fit", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.cancel-job", NULL, cancel_job_action);
  gtk_widget_class_install_action (widget_class, "win.export-panel", "u", export_panel_action);
  gtk_widget_class_install_action (widget_class, "win.sweep", NULL, sweep_action);
  gtk_widget_class_install_action (widget_class, "win.train", NULL, train_action);
  gtk_widget_class_install_action (widget_class, "win.paste", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "win.open-recent", "s", open_recent_action);
  gtk_widget_class_install_action (widget_class, "win.model-properties", NULL,
                                   model_properties_action);
}

void
_mirada_window_actions_init (MiradaWindow *self)
{
  self->recent = gtk_recent_manager_get_default ();
  g_signal_connect_object (self->recent, "changed", G_CALLBACK (_mirada_window_update_recent), self,
                           G_CONNECT_SWAPPED);
  _mirada_window_update_recent (self);
}
