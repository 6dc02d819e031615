/* mirada-window-compare.c: the window's side of two models side by side
 * (issue 19): the "Compare with a Second Model" actions and where the
 * compare view goes (mirada-compare-view.c does the rest). */
#define G_LOG_DOMAIN "mirada-window"

#include "config.h"

#include <stdio.h>

#include <glib/gi18n.h>

#include "mirada-compare-view.h"
#include "mirada-window-private.h"

MiradaCompareView *
mirada_window_get_compare_view (MiradaWindow *self)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);
  return self->compare;
}

static void
compare_error_cb (MiradaWindow *self,
                  const char   *what,
                  const GError *error)
{
  _mirada_window_toast_error (self, what, error);
  /* a second model that never opened: nothing to compare */
  if (self->compare != NULL &&
      mirada_session_get_model (mirada_compare_view_get_session (self->compare)) == NULL)
    mirada_compare_view_close (self->compare);
}

static void
compare_closed_cb (MiradaWindow *self)
{
  if (self->compare != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->compare), (gpointer *) &self->compare);
  self->compare = NULL;
  _mirada_window_update_layout (self);
}

/* The view beside the window's canvas, made on first use. */
static MiradaCompareView *
ensure_view (MiradaWindow *self)
{
  if (self->compare != NULL)
    return self->compare;
  self->compare = mirada_compare_view_new (self->session, self->canvas);
  g_object_add_weak_pointer (G_OBJECT (self->compare), (gpointer *) &self->compare);
  g_signal_connect_object (mirada_compare_view_get_session (self->compare), "error",
                           G_CALLBACK (compare_error_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->compare, "closed", G_CALLBACK (compare_closed_cb), self,
                           G_CONNECT_SWAPPED);
  mirada_compare_view_attach (self->compare, GTK_BOX (self->canvas_area), GTK_WIDGET (self->canvas_stack));
  /* two photos need the room: below 1600 px the detector's controls step
   * aside (the sidebar button, F9, brings them back) */
  if (gtk_widget_get_width (GTK_WIDGET (self)) < 1600)
    adw_flap_set_reveal_flap (self->flap, FALSE);
  _mirada_window_update_layout (self);
  return self->compare;
}

/* The view, or NULL (and a toast) without a photo to compare on. */
static MiradaCompareView *
prepare (MiradaWindow *self)
{
  if (mirada_session_get_image (self->session) == NULL)
    {
      AdwToast *toast = adw_toast_new (_("Open a photo first, then a second model to compare"));

      adw_toast_overlay_add_toast (self->toast_overlay, toast);
      return NULL;
    }
  return ensure_view (self);
}

MiradaCompareView *
mirada_window_compare_with (MiradaWindow *self,
                            GFile        *file)
{
  g_autoptr(GFile) builtin = NULL;
  MiradaCompareView *view;

  g_return_val_if_fail (MIRADA_IS_WINDOW (self), NULL);

  if ((view = prepare (self)) == NULL)
    return NULL;
  if (file == NULL)
    file = builtin = g_file_new_for_uri ("resource://" RESOURCE_BASE "/default/model.h5");
  mirada_compare_view_open_model (view, file);
  return view;
}

static void
compare_chosen_cb (GtkNativeDialog *dialog,
                   int              response,
                   MiradaWindow    *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        mirada_window_compare_with (self, file);
    }
  g_object_unref (dialog);
}

static void
compare_model_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  GtkFileChooserNative *dialog;
  GtkFileFilter *filter = gtk_file_filter_new ();

  dialog = gtk_file_chooser_native_new (_("Compare with a Second Model"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Compare"), NULL);
  gtk_file_filter_set_name (filter, _("Models (Keras, TensorFlow.js, ONNX)"));
  gtk_file_filter_add_suffix (filter, "h5");
  gtk_file_filter_add_suffix (filter, "keras");
  gtk_file_filter_add_suffix (filter, "json");
  gtk_file_filter_add_suffix (filter, "onnx");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  g_object_unref (filter);
  g_signal_connect (dialog, "response", G_CALLBACK (compare_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
compare_builtin_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  mirada_window_compare_with (MIRADA_WINDOW (widget), NULL);
}

/* A model the engine builds from a spec, as the CLI takes it
 * ("arch:efficientnetb0,weights=FILE"). */
static void
compare_arch_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  MiradaCompareView *view = prepare (self);

  if (view != NULL)
    mirada_compare_view_open_spec (view, g_variant_get_string (parameter, NULL));
}

static void
compare_close_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);

  if (self->compare != NULL)
    mirada_compare_view_close (self->compare);
}

gboolean
_mirada_window_compare_smoke_step (MiradaWindow *self)
{
  const char *model = g_getenv ("MIRADA_SMOKE_COMPARE");
  const char *select = g_getenv ("MIRADA_SMOKE_COMPARE_SELECT");
  MiradaSession *b;
  MiradaCanvas *canvas;

  if (model == NULL || *model == '\0')
    return TRUE;
  if (self->compare == NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (model);

      if (mirada_window_compare_with (self, file) == NULL)
        return TRUE;
      if (g_strcmp0 (g_getenv ("MIRADA_SMOKE_COMPARE_DIFF"), "1") == 0)
        mirada_compare_view_set_diff (self->compare, TRUE);
      return FALSE;
    }
  b = mirada_compare_view_get_session (self->compare);
  if (mirada_session_get_busy (b) || mirada_compare_view_get_compare (self->compare) == NULL)
    return FALSE;
  canvas = mirada_compare_view_get_canvas (self->compare);
  if (select != NULL && *select != '\0' && !mirada_canvas_get_selected (canvas, &(int) { 0 }, &(int) { 0 }))
    {
      MirDetectGrid *grid = mirada_session_get_grid (b);
      int row = 0, col = 0;

      if (sscanf (select, "%d,%d", &row, &col) != 2 || row < 0 || col < 0 ||
          row >= grid->geom.rows || col >= grid->geom.cols)
        {
          g_printerr ("mirada: smoke test: MIRADA_SMOKE_COMPARE_SELECT: “%s”: no such window\n", select);
          return TRUE;
        }
      mirada_canvas_select (canvas, row, col);
      return FALSE;
    }
  return !mirada_compare_view_get_explaining (self->compare);
}

void
_mirada_window_compare_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.compare-model", NULL, compare_model_action);
  gtk_widget_class_install_action (widget_class, "win.compare-builtin", NULL, compare_builtin_action);
  gtk_widget_class_install_action (widget_class, "win.compare-arch", "s", compare_arch_action);
  gtk_widget_class_install_action (widget_class, "win.compare-close", NULL, compare_close_action);
}
