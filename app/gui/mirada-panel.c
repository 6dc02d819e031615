/* mirada-panel.c: what the heat map, activation and filter panels share:
 * the session's model, the layer list, the input, and one job at a time on
 * a worker with a status line (STYLE.md §5). */
#define G_LOG_DOMAIN "mirada-panel"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-panel.h"

typedef struct
{
  GtkDropDown *layer_dropdown;
  GtkBox *bar;
  GtkLabel *status_label;
  GtkPicture *picture;           /* owned */
  GtkScrolledWindow *scrolled;

  MiradaSession *session;        /* borrowed (weak), or NULL */
  GSettings *settings;
  MiradaJobRunner *runner;
  MirModel *model;
  GArray *layers;                /* gint node index per dropdown item */
  MirImage *input;
  char *what;
  GdkTexture *texture;
  gboolean updating;
} MiradaPanelPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (MiradaPanel, mirada_panel, GTK_TYPE_BOX)

GdkTexture *
mirada_texture_upscaled (MirImage  *image,
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

GtkDropDown *
mirada_dropdown_new_labelled (GtkStringList *model,
                              const char    *accessible,
                              const char    *tooltip)
{
  GtkDropDown *dropdown = GTK_DROP_DOWN (gtk_drop_down_new (G_LIST_MODEL (model), NULL));

  gtk_widget_set_tooltip_text (GTK_WIDGET (dropdown), tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible, -1);
  return dropdown;
}

static gint
selected_layer (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);
  guint i = gtk_drop_down_get_selected (priv->layer_dropdown);

  if (priv->layers == NULL || i == GTK_INVALID_LIST_POSITION || i >= priv->layers->len)
    return -1;
  return g_array_index (priv->layers, gint, i);
}

static void
job_done (gpointer      result,
          const GError *error,
          gpointer      user_data)
{
  MiradaPanel *self = user_data;

  if (error != NULL)
    {
      mirada_panel_set_status (self, error->message);
      return;
    }
  MIRADA_PANEL_GET_CLASS (self)->show_result (self, result);
}

void
mirada_panel_run (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);
  MiradaPanelClass *klass = MIRADA_PANEL_GET_CLASS (self);
  gpointer job;
  gint layer;

  if (priv->updating || priv->model == NULL)
    return;
  layer = selected_layer (self);
  if (layer < 0)
    return;
  if (klass->needs_input && priv->input == NULL)
    return;
  /* before create_job, which may say better what it looks at */
  if (priv->what != NULL && klass->needs_input)
    mirada_panel_set_status (self, priv->what);
  if (!(job = klass->create_job (self, layer)))
    return;
  mirada_job_runner_run (priv->runner, NULL, klass->worker, job, klass->job_free,
                         klass->result_free, job_done, g_object_ref (self), g_object_unref);
}

/* While the panel has nothing to compute, its status line says why, as the
 * session's state says: a model or image still loading, the detector still
 * classifying, or nothing opened yet ("Open an image" only without one). */
static void
update_waiting_status (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);
  MiradaPanelClass *klass = MIRADA_PANEL_GET_CLASS (self);
  MiradaSession *session = priv->session;
  const char *job = session != NULL && mirada_session_get_busy (session)
                    ? mirada_session_get_job_title (session) : NULL;

  if (priv->model == NULL)
    mirada_panel_set_status (self, job != NULL ? job : _("Open a model."));
  else if (priv->layers->len == 0)
    mirada_panel_set_status (self, _("This model has no convolutional layer to show."));
  else if (klass->needs_input && priv->input == NULL)
    {
      if (job != NULL)
        mirada_panel_set_status (self, job);
      else if (session != NULL && mirada_session_get_image (session) != NULL)
        mirada_panel_set_status (self, _("Click a window on the image to look at that window."));
      else
        mirada_panel_set_status (self, _("Open an image; click a window on it to look at that window."));
    }
}

static void
set_model (MiradaPanel *self,
           MirModel    *model)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);
  MiradaPanelClass *klass = MIRADA_PANEL_GET_CLASS (self);
  g_autoptr(GtkStringList) layers = gtk_string_list_new (NULL);
  guint selected = 0;

  mirada_job_runner_cancel (priv->runner);
  if (model != NULL)
    mir_model_ref (model);
  g_clear_pointer (&priv->model, mir_model_unref);
  priv->model = model;
  g_array_set_size (priv->layers, 0);
  g_clear_object (&priv->texture);
  gtk_picture_set_paintable (priv->picture, NULL);

  if (model != NULL)
    {
      gint last_conv = mir_model_find_last_conv (model);
      gboolean first_conv_seen = FALSE;

      for (guint i = 0; i < mir_model_get_n_nodes (model); i++)
        {
          MirNode *node = mir_model_get_node (model, i);
          gint index = (gint) i;

          if (!klass->layer_wanted (self, node))
            continue;
          if (klass->start_on_last_conv && index == last_conv)
            selected = priv->layers->len;
          if (klass->start_on_first_conv && !first_conv_seen && node->layer != NULL &&
              (node->layer->klass->flags & MIR_LAYER_FLAG_CONV))
            {
              selected = priv->layers->len;
              first_conv_seen = TRUE;
            }
          g_array_append_val (priv->layers, index);
          gtk_string_list_append (layers, node->name);
        }
    }

  priv->updating = TRUE;
  gtk_drop_down_set_model (priv->layer_dropdown, G_LIST_MODEL (layers));
  gtk_drop_down_set_selected (priv->layer_dropdown, selected);
  if (klass->model_changed != NULL)
    klass->model_changed (self, model);
  priv->updating = FALSE;

  update_waiting_status (self);
  /* work that needs no image (filter patterns) is costly: only on request */
  if (klass->needs_input)
    mirada_panel_run (self);
}

static void
session_model_cb (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  set_model (self, mirada_session_get_model (priv->session));
}

void
mirada_panel_set_session (MiradaPanel   *self,
                          MiradaSession *session)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_if_fail (MIRADA_IS_PANEL (self));
  g_return_if_fail (session == NULL || MIRADA_IS_SESSION (session));

  if (priv->session == session)
    return;
  if (priv->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (priv->session, self);
      g_object_remove_weak_pointer (G_OBJECT (priv->session), (gpointer *) &priv->session);
    }
  priv->session = session;
  if (session == NULL)
    return;
  g_object_add_weak_pointer (G_OBJECT (session), (gpointer *) &priv->session);
  g_signal_connect_object (session, "notify::model", G_CALLBACK (session_model_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::busy", G_CALLBACK (update_waiting_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::job-title", G_CALLBACK (update_waiting_status), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::image", G_CALLBACK (update_waiting_status), self, G_CONNECT_SWAPPED);
  if (MIRADA_PANEL_GET_CLASS (self)->session_changed != NULL)
    MIRADA_PANEL_GET_CLASS (self)->session_changed (self, session);
  if (mirada_session_get_model (session) != priv->model)
    session_model_cb (self);
  else
    update_waiting_status (self);
}

void
mirada_panel_set_input (MiradaPanel *self,
                        MirImage    *input,
                        const char  *what)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_if_fail (MIRADA_IS_PANEL (self));

  if (input != NULL)
    mir_image_ref (input);
  g_clear_pointer (&priv->input, mir_image_unref);
  priv->input = input;
  g_free (priv->what);
  priv->what = g_strdup (what);
  if (!MIRADA_PANEL_GET_CLASS (self)->needs_input)
    return;
  if (input == NULL)
    {
      mirada_job_runner_cancel (priv->runner);
      update_waiting_status (self);
    }
  else
    mirada_panel_run (self);
}

void
mirada_panel_compute (MiradaPanel *self)
{
  g_return_if_fail (MIRADA_IS_PANEL (self));
  MIRADA_PANEL_GET_CLASS (self)->compute (self);
}

gboolean
mirada_panel_get_busy (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), FALSE);
  return mirada_job_runner_get_busy (priv->runner);
}

gboolean
mirada_panel_set_layer (MiradaPanel *self,
                        gint         node)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), FALSE);

  for (guint i = 0; i < priv->layers->len; i++)
    if (g_array_index (priv->layers, gint, i) == node)
      {
        gtk_drop_down_set_selected (priv->layer_dropdown, i);
        return TRUE;
      }
  return FALSE;
}

gint
mirada_panel_get_layer (MiradaPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_PANEL (self), -1);
  return selected_layer (self);
}

GdkTexture *
mirada_panel_get_texture (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->texture;
}

void
mirada_panel_set_texture (MiradaPanel *self,
                          GdkTexture  *texture)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_if_fail (MIRADA_IS_PANEL (self));
  g_set_object (&priv->texture, texture);
}

GtkWidget *
mirada_panel_get_picture (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return GTK_WIDGET (priv->picture);
}

MirModel *
mirada_panel_get_model (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->model;
}

MiradaSession *
mirada_panel_get_session (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->session;
}

MirImage *
mirada_panel_get_input (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->input;
}

GSettings *
mirada_panel_get_settings (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->settings;
}

MiradaJobRunner *
mirada_panel_get_runner (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->runner;
}

GtkBox *
mirada_panel_get_bar (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->bar;
}

GtkDropDown *
mirada_panel_get_layer_dropdown (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return priv->layer_dropdown;
}

void
mirada_panel_set_content (MiradaPanel *self,
                          GtkWidget   *content)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_if_fail (MIRADA_IS_PANEL (self));
  gtk_scrolled_window_set_child (priv->scrolled, content);
}

const char *
mirada_panel_get_status (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), NULL);
  return gtk_label_get_label (priv->status_label);
}

void
mirada_panel_set_status (MiradaPanel *self,
                         const char  *text)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_if_fail (MIRADA_IS_PANEL (self));
  gtk_label_set_label (priv->status_label, text);
}

gboolean
mirada_panel_is_updating (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  g_return_val_if_fail (MIRADA_IS_PANEL (self), FALSE);
  return priv->updating;
}

static void
layer_selected_cb (MiradaPanel *self)
{
  MIRADA_PANEL_GET_CLASS (self)->layer_changed (self);
}

static void
mirada_panel_dispose (GObject *object)
{
  MiradaPanel *self = MIRADA_PANEL (object);
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  mirada_panel_set_session (self, NULL);
  if (priv->runner != NULL)
    mirada_job_runner_cancel (priv->runner);
  g_clear_object (&priv->runner);
  g_clear_object (&priv->settings);
  g_clear_pointer (&priv->model, mir_model_unref);
  g_clear_pointer (&priv->input, mir_image_unref);
  g_clear_object (&priv->texture);
  g_clear_pointer (&priv->layers, g_array_unref);
  g_clear_object (&priv->picture);

  G_OBJECT_CLASS (mirada_panel_parent_class)->dispose (object);
}

static void
mirada_panel_finalize (GObject *object)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (MIRADA_PANEL (object));

  g_free (priv->what);

  G_OBJECT_CLASS (mirada_panel_parent_class)->finalize (object);
}

static void
mirada_panel_class_init (MiradaPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mirada_panel_dispose;
  object_class->finalize = mirada_panel_finalize;
  klass->needs_input = TRUE;
  klass->layer_changed = mirada_panel_run;
  klass->compute = mirada_panel_run;
}

static void
mirada_panel_init (MiradaPanel *self)
{
  MiradaPanelPrivate *priv = mirada_panel_get_instance_private (self);

  priv->settings = g_settings_new (APPLICATION_ID);
  priv->runner = mirada_job_runner_new ();
  priv->layers = g_array_new (FALSE, FALSE, sizeof (gint));

  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_box_set_spacing (GTK_BOX (self), 6);
  gtk_widget_set_margin_top (GTK_WIDGET (self), 6);

  /* the layer row (subclasses add their controls), the status, the picture */
  priv->bar = GTK_BOX (gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6));
  gtk_widget_set_margin_start (GTK_WIDGET (priv->bar), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (priv->bar), 12);
  priv->layer_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
  gtk_drop_down_set_enable_search (priv->layer_dropdown, TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (priv->layer_dropdown), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (priv->layer_dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Layer"), -1);
  g_signal_connect_swapped (priv->layer_dropdown, "notify::selected", G_CALLBACK (layer_selected_cb), self);
  gtk_box_append (priv->bar, GTK_WIDGET (priv->layer_dropdown));
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (priv->bar));

  priv->status_label = GTK_LABEL (gtk_label_new (_("Open a model.")));
  gtk_label_set_wrap (priv->status_label, TRUE);
  gtk_label_set_xalign (priv->status_label, 0);
  gtk_widget_set_margin_start (GTK_WIDGET (priv->status_label), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (priv->status_label), 12);
  gtk_widget_add_css_class (GTK_WIDGET (priv->status_label), "dim-label");
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (priv->status_label));

  /* owned: a panel may show another content (heat maps: a flow box) */
  priv->picture = g_object_ref_sink (GTK_PICTURE (gtk_picture_new ()));
  gtk_picture_set_can_shrink (priv->picture, TRUE);
  gtk_widget_set_valign (GTK_WIDGET (priv->picture), GTK_ALIGN_START);
  priv->scrolled = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
  /* a grid is scaled to the panel's width (a horizontal scroll bar hid the
   * last column), so sideways scrolling only happens when the content's
   * minimum is wider than the panel: then it scrolls instead of pushing the
   * panel past the window's edge (tests/test-layout.c, 800×1000) */
  gtk_scrolled_window_set_policy (priv->scrolled, GTK_POLICY_AUTOMATIC, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (priv->scrolled, GTK_WIDGET (priv->picture));
  gtk_widget_set_vexpand (GTK_WIDGET (priv->scrolled), TRUE);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (priv->scrolled));
}
