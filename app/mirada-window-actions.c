/* mirada-window-actions.c: the window's actions (open, export, zoom, cancel). */
#define G_LOG_DOMAIN "mirada-window"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-cli.h"
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
  add_filter (GTK_FILE_CHOOSER (dialog), _("Keras models"),
              (const char *const[]) { "*.h5", "*.hdf5", "*.keras", "*.json", NULL }, NULL);
  add_filter (GTK_FILE_CHOOSER (dialog), _("All files"), (const char *const[]) { "*", NULL }, NULL);
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
  add_filter (GTK_FILE_CHOOSER (dialog), _("Images"), NULL, (const char *const[]) { "image/*", NULL });
  add_filter (GTK_FILE_CHOOSER (dialog), _("All files"), (const char *const[]) { "*", NULL }, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (image_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static gboolean
export_csv (MiradaWindow *self,
            const char   *path,
            GError      **error)
{
  g_autoptr(GString) csv = g_string_new ("class,class_name,probability,x,y,width,height,window,row,col\n");
  GArray *boxes = self->result != NULL ? self->result->boxes : NULL;

  for (guint i = 0; boxes != NULL && i < boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (boxes, MirDetectBox, i);
      char num[5][G_ASCII_DTOSTR_BUF_SIZE];
      g_autofree char *name = g_strdup (self->grid->class_names[b->class_index]);

      g_strdelimit (name, ",\"\n", ' ');
      g_ascii_formatd (num[0], sizeof num[0], "%.6f", b->prob);
      g_ascii_formatd (num[1], sizeof num[1], "%.1f", b->x);
      g_ascii_formatd (num[2], sizeof num[2], "%.1f", b->y);
      g_ascii_formatd (num[3], sizeof num[3], "%.1f", b->width);
      g_ascii_formatd (num[4], sizeof num[4], "%.1f", b->height);
      g_string_append_printf (csv, "%u,%s,%s,%s,%s,%s,%s,%u,%u,%u\n", b->class_index, name,
                              num[0], num[1], num[2], num[3], num[4], b->window, b->row, b->col);
    }
  return g_file_set_contents (path, csv->str, csv->len, error);
}

static gboolean
export_png (MiradaWindow *self,
            const char   *path,
            GError      **error)
{
  g_autoptr(MirImage) copy = NULL;

  /* the engine's drawing, as `mirada detect --draw` makes it */
  if (!(copy = mir_image_crop (self->image, 0, 0, self->image->width, self->image->height, error)))
    return FALSE;
  if (self->result != NULL)
    mir_detect_draw (copy, self->result, (const char *const *) self->grid->class_names,
                     MAX (2, MIN (copy->width, copy->height) / 200));
  return mirada_image_save_png (copy, path, error);
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
          if (g_str_has_suffix (path, ".csv"))
            ok = export_csv (self, path, &error);
          else
            ok = export_png (self, path, &error);
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

  if (self->image == NULL)
    return;
  dialog = gtk_file_chooser_native_new (_("Export Detections"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "detections.png");
  add_filter (GTK_FILE_CHOOSER (dialog), _("PNG image with boxes"), (const char *const[]) { "*.png", NULL }, NULL);
  add_filter (GTK_FILE_CHOOSER (dialog), _("CSV table of boxes"), (const char *const[]) { "*.csv", NULL }, NULL);
  g_signal_connect (dialog, "response", G_CALLBACK (export_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
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
  gboolean has_image = self->image != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.export", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.zoom-in", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.zoom-out", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.zoom-fit", has_image);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.cancel-job",
                                 self->detect_runner != NULL && mirada_window_get_busy (self));
}

void
_mirada_window_class_actions_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.open-model", NULL, open_model_action);
  gtk_widget_class_install_action (widget_class, "win.open-image", NULL, open_image_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-fit", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.cancel-job", NULL, cancel_job_action);
}

void
_mirada_window_actions_init (MiradaWindow *self)
{
}
