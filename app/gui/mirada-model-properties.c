/* mirada-model-properties.c: preprocessing, input scaling and class names of
 * the open model, written to its sidecar (engine/io/mir-sidecar.c). */
#define G_LOG_DOMAIN "mirada-model-properties"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-model-properties.h"

struct _MiradaModelProperties
{
  AdwWindow parent_instance;

  /* template */
  AdwToastOverlay *toast_overlay;
  AdwPreferencesGroup *input_group;
  AdwPreferencesGroup *names_group;
  AdwComboRow *preprocess_row;
  AdwComboRow *resize_row;
  GtkTextView *names_view;

  /* owned */
  MiradaWindow *window;
};

G_DEFINE_FINAL_TYPE (MiradaModelProperties, mirada_model_properties, ADW_TYPE_WINDOW)

/* In MirPreprocessMode and MirResizeMode order. */
static const char *const preprocess_labels[] = {
  N_("None (raw 0–255)"),
  N_("Scale (x / 255)"),
  N_("TensorFlow (x / 127.5 − 1)"),
  N_("Caffe (BGR, minus ImageNet mean)"),
  N_("PyTorch (x / 255, ImageNet mean and std)"),
};
static const char *const resize_labels[] = {
  N_("Nearest (Keras)"),
  N_("Bilinear (TensorFlow)"),
};

G_STATIC_ASSERT (G_N_ELEMENTS (preprocess_labels) == MIR_PREPROCESS_TORCH + 1);
G_STATIC_ASSERT (G_N_ELEMENTS (resize_labels) == MIR_RESIZE_BILINEAR + 1);

static GListModel *
labels_model (const char *const *labels,
              guint              n)
{
  GtkStringList *list = gtk_string_list_new (NULL);

  for (guint i = 0; i < n; i++)
    gtk_string_list_append (list, _(labels[i]));
  return G_LIST_MODEL (list);
}

void
mirada_model_properties_set_preprocess (MiradaModelProperties *self,
                                        MirPreprocessMode      mode)
{
  g_return_if_fail (MIRADA_IS_MODEL_PROPERTIES (self));
  adw_combo_row_set_selected (self->preprocess_row, (guint) mode);
}

void
mirada_model_properties_set_resize (MiradaModelProperties *self,
                                    MirResizeMode          mode)
{
  g_return_if_fail (MIRADA_IS_MODEL_PROPERTIES (self));
  adw_combo_row_set_selected (self->resize_row, (guint) mode);
}

void
mirada_model_properties_set_class_names (MiradaModelProperties *self,
                                         const char            *text)
{
  g_return_if_fail (MIRADA_IS_MODEL_PROPERTIES (self));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->names_view), text, -1);
}

/* One name a line; blank lines and surrounding spaces dropped.  NULL when
 * there is none (the model then names its classes "class i"). */
static char **
parse_names (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *name = g_strstrip (lines[i]);

      if (*name == '\0')
        continue;
      g_strv_builder_add (builder, name);
      n++;
    }
  return n > 0 ? g_strv_builder_end (builder) : NULL;
}

gboolean
mirada_model_properties_save (MiradaModelProperties *self,
                              GError               **error)
{
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  MirModelMeta meta = { 0 };
  gboolean ok;

  g_return_val_if_fail (MIRADA_IS_MODEL_PROPERTIES (self), FALSE);

  buffer = gtk_text_view_get_buffer (self->names_view);
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  meta.preprocess = (MirPreprocessMode) adw_combo_row_get_selected (self->preprocess_row);
  meta.resize = (MirResizeMode) adw_combo_row_get_selected (self->resize_row);
  meta.class_names = parse_names (text);
  ok = mirada_window_apply_model_meta (self->window, &meta, &local_error);
  mir_model_meta_clear (&meta);
  if (!ok)
    {
      AdwToast *toast = adw_toast_new (local_error->message);

      adw_toast_set_timeout (toast, 0); /* stays until dismissed: the user has to act */
      adw_toast_overlay_add_toast (self->toast_overlay, toast);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MiradaModelProperties *self = MIRADA_MODEL_PROPERTIES (widget);

  if (mirada_model_properties_save (self, NULL))
    gtk_window_destroy (GTK_WINDOW (self));
}

GtkWidget *
mirada_model_properties_new (MiradaWindow *window)
{
  MiradaModelProperties *self;
  MirModel *model;
  g_autofree char *sidecar = NULL;
  g_autofree char *names = NULL;

  g_return_val_if_fail (MIRADA_IS_WINDOW (window), NULL);

  model = mirada_window_get_model (window);
  self = g_object_new (MIRADA_TYPE_MODEL_PROPERTIES, "transient-for", window, NULL);
  self->window = g_object_ref (window);
  if (model == NULL)
    return GTK_WIDGET (self);

  mirada_model_properties_set_preprocess (self, model->meta.preprocess);
  mirada_model_properties_set_resize (self, model->meta.resize);
  names = model->meta.class_names != NULL ? g_strjoinv ("\n", model->meta.class_names) : NULL;
  mirada_model_properties_set_class_names (self, names != NULL ? names : "");

  sidecar = mirada_window_dup_sidecar_path (window);
  if (sidecar != NULL)
    {
      g_autofree char *display = g_filename_display_name (sidecar);
      g_autofree char *where = NULL;

      /* say where Save writes before it does, the whole path: the model's
       * folder may be a shared one */
      if (g_file_test (sidecar, G_FILE_TEST_EXISTS))
        /* Translators: %s is a whole path such as /home/ana/cats.mirada.json */
        where = g_strdup_printf (_("Save replaces “%s”, the file beside the model that keeps these settings."), display);
      else
        /* Translators: %s is a whole path such as /home/ana/cats.mirada.json */
        where = g_strdup_printf (_("Save writes these settings to “%s”, beside the model."), display);
      adw_preferences_group_set_description (self->input_group, where);
    }
  else
    adw_preferences_group_set_description (self->input_group,
                                           _("The model was not opened from a local file: "
                                             "changes last until it is closed"));
  adw_preferences_group_set_description (self->names_group,
                                         _("One name a line, in the order of the model’s outputs; "
                                           "leave empty for “class 0”, “class 1”, …"));
  return GTK_WIDGET (self);
}

const char *
mirada_model_properties_get_destination (MiradaModelProperties *self)
{
  g_return_val_if_fail (MIRADA_IS_MODEL_PROPERTIES (self), NULL);
  return adw_preferences_group_get_description (self->input_group);
}

static void
mirada_model_properties_dispose (GObject *object)
{
  MiradaModelProperties *self = MIRADA_MODEL_PROPERTIES (object);

  g_clear_object (&self->window);
  gtk_widget_dispose_template (GTK_WIDGET (object), MIRADA_TYPE_MODEL_PROPERTIES);

  G_OBJECT_CLASS (mirada_model_properties_parent_class)->dispose (object);
}

static void
mirada_model_properties_class_init (MiradaModelPropertiesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_model_properties_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/mirada/Mirada/ui/mirada-model-properties.ui");
  gtk_widget_class_bind_template_child (widget_class, MiradaModelProperties, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MiradaModelProperties, input_group);
  gtk_widget_class_bind_template_child (widget_class, MiradaModelProperties, names_group);
  gtk_widget_class_bind_template_child (widget_class, MiradaModelProperties, preprocess_row);
  gtk_widget_class_bind_template_child (widget_class, MiradaModelProperties, resize_row);
  gtk_widget_class_bind_template_child (widget_class, MiradaModelProperties, names_view);
  gtk_widget_class_install_action (widget_class, "properties.save", NULL, save_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK,
                                       "properties.save", NULL);
}

static void
mirada_model_properties_init (MiradaModelProperties *self)
{
  g_autoptr(GListModel) preprocess = labels_model (preprocess_labels, G_N_ELEMENTS (preprocess_labels));
  g_autoptr(GListModel) resize = labels_model (resize_labels, G_N_ELEMENTS (resize_labels));

  gtk_widget_init_template (GTK_WIDGET (self));
  adw_combo_row_set_model (self->preprocess_row, preprocess);
  adw_combo_row_set_model (self->resize_row, resize);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->names_view),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Class names, one a line"),
                                  -1);
}
