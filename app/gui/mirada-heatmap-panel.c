/* mirada-heatmap-panel.c: heat maps of the engine's explanation methods
 * (engine/explain/mir-explain.h), one per class, on a worker. */
#define G_LOG_DOMAIN "mirada-heatmap-panel"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "explain/mir-explain.h"
#include "visualize/mir-colormap.h"
#include "mirada-heatmap-panel.h"
#include "mirada-image-io.h"
#include "mirada-settings.h"

/* Overlays side by side at most (each is one explanation run). */
#define MAX_OVERLAYS 8

struct _MiradaHeatmapPanel
{
  MiradaPanel parent_instance;

  GtkDropDown *class_dropdown;
  GtkDropDown *method_dropdown;
  GtkDropDown *colormap_dropdown;
  GtkFlowBox *overlays_box;      /* one picture + caption per class, wrapped */
  GPtrArray *captions;           /* the overlays' captions shown */
  GArray *classes;               /* gint: the detector's enabled classes */
};

G_DEFINE_FINAL_TYPE (MiradaHeatmapPanel, mirada_heatmap_panel, MIRADA_TYPE_PANEL)

/* The engine's methods (engine/explain/mir-explain-methods.c) a person picks
 * from: all but the chance baseline, in the engine's order. */
static const MirExplainMethod *methods[64];
static guint n_methods;
static const char *method_id_list[G_N_ELEMENTS (methods) + 1];

static void
ensure_methods (void)
{
  const MirExplainMethod *all;
  guint n;

  if (n_methods > 0)
    return;
  all = mir_explain_get_methods (&n);
  for (guint i = 0; i < n && n_methods < G_N_ELEMENTS (methods); i++)
    if (!(all[i].flags & MIR_EXPLAIN_METHOD_BASELINE))
      {
        methods[n_methods] = &all[i];
        method_id_list[n_methods++] = all[i].id;
      }
}

static const char *const colormaps[] = { "jet", "viridis", "inferno", "magma", "plasma", "gray", NULL };

typedef struct
{
  MirModel *model;
  MirImage *input;
  gint layer;
  guint method;
  GArray *classes;     /* gint; -1: the top prediction */
  MirColormap colormap;
  double alpha;
} HeatmapJob;

typedef struct
{
  GdkTexture *texture;     /* the overlays side by side */
  GPtrArray *textures;     /* one per class */
  GPtrArray *captions;     /* one per class */
  char *status;
} HeatmapResult;

static void
heatmap_job_free (HeatmapJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->input, mir_image_unref);
  g_clear_pointer (&job->classes, g_array_unref);
  g_free (job);
}

static void
heatmap_result_free (HeatmapResult *r)
{
  g_clear_object (&r->texture);
  g_clear_pointer (&r->textures, g_ptr_array_unref);
  g_clear_pointer (&r->captions, g_ptr_array_unref);
  g_free (r->status);
  g_free (r);
}

/* One overlay of the flow box: about @side pixels wide whatever the image,
 * so two or more fit side by side in a panel. */
static GdkTexture *
texture_thumbnail (MirImage  *image,
                   int        side,
                   GError   **error)
{
  g_autoptr(MirImage) small = NULL;

  if (image->width <= side + side / 4)
    return mirada_texture_upscaled (image, side, NULL, error);
  if (!(small = mir_image_resize (image, side, MAX (1, image->height * side / image->width),
                                  MIR_RESIZE_BILINEAR, error)))
    return NULL;
  return mirada_texture_new_for_image (small);
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

static gpointer
heatmap_worker (MiradaJob     *mjob,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  HeatmapJob *job = data;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(GPtrArray) overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(GPtrArray) textures = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(MirImage) all = NULL;
  g_autofree char *layer_name = NULL;
  g_autofree char *notice = NULL;
  int map_w = 0, map_h = 0;
  HeatmapResult *r;

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
      if (!(e = methods[job->method]->func (job->model, input, &opts, cancellable, error)) ||
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
  r = g_new0 (HeatmapResult, 1);
  if (!(r->texture = mirada_texture_upscaled (all, 160, NULL, error)))
    {
      heatmap_result_free (r);
      return NULL;
    }
  r->textures = g_steal_pointer (&textures);
  r->captions = g_steal_pointer (&captions);
  /* Translators: Grad-CAM on layer "conv2d_3" (8×8) */
  r->status = g_strdup_printf (_("%s on layer “%s” (%d×%d)"), _(methods[job->method]->label),
                               layer_name, map_w, map_h);
  if (notice != NULL)
    {
      char *s = g_strconcat (r->status, "\n", notice, NULL);
      g_free (r->status);
      r->status = s;
    }
  return r;
}

static void
clear_overlays (MiradaHeatmapPanel *self)
{
  GtkWidget *child;

  g_clear_pointer (&self->captions, g_ptr_array_unref);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->overlays_box))))
    gtk_flow_box_remove (self->overlays_box, child);
}

static void
show_overlays (MiradaHeatmapPanel *self,
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
mirada_heatmap_panel_show_result (MiradaPanel *panel,
                                  gpointer     result)
{
  MiradaHeatmapPanel *self = MIRADA_HEATMAP_PANEL (panel);
  HeatmapResult *r = result;

  mirada_panel_set_texture (panel, r->texture);
  show_overlays (self, r->textures, r->captions);
  mirada_panel_set_status (panel, r->status);
  heatmap_result_free (r);
}

static gpointer
mirada_heatmap_panel_create_job (MiradaPanel *panel,
                                 gint         layer)
{
  MiradaHeatmapPanel *self = MIRADA_HEATMAP_PANEL (panel);
  GSettings *settings = mirada_panel_get_settings (panel);
  HeatmapJob *job = g_new0 (HeatmapJob, 1);
  g_autofree char *cmap = NULL;
  /* 0: the detector's classes, 1: the top prediction, 2 + k: class k */
  guint choice = gtk_drop_down_get_selected (self->class_dropdown);
  gint top = -1;

  job->model = mir_model_ref (mirada_panel_get_model (panel));
  job->input = mir_image_ref (mirada_panel_get_input (panel));
  job->layer = layer;
  job->classes = g_array_new (FALSE, FALSE, sizeof (gint));
  if (choice == 0 && self->classes->len > 0)
    g_array_append_vals (job->classes, self->classes->data, MIN (self->classes->len, MAX_OVERLAYS));
  else if (choice >= 2 && choice != GTK_INVALID_LIST_POSITION)
    {
      gint k = (gint) choice - 2;
      g_array_append_val (job->classes, k);
    }
  else
    g_array_append_val (job->classes, top);
  job->method = MIN (gtk_drop_down_get_selected (self->method_dropdown), n_methods - 1);
  cmap = g_settings_get_string (settings, "colormap");
  if (!mir_colormap_from_name (cmap, &job->colormap, NULL))
    job->colormap = MIR_COLORMAP_JET;
  job->alpha = g_settings_get_double (settings, "alpha");
  return job;
}

static gboolean
mirada_heatmap_panel_layer_wanted (MiradaPanel *panel,
                                   MirNode     *node)
{
  /* any feature map (Keras' "last conv layer" may be an activation) */
  return node->shape.ndim == 4 && !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT);
}

static void
mirada_heatmap_panel_model_changed (MiradaPanel *panel,
                                    MirModel    *model)
{
  MiradaHeatmapPanel *self = MIRADA_HEATMAP_PANEL (panel);
  g_autoptr(GtkStringList) classes = gtk_string_list_new (NULL);

  clear_overlays (self);
  if (model != NULL)
    {
      /* the engine's classes (a binary sigmoid model has two, 1 − P and P) */
      guint n = mir_model_get_n_classes (model);

      gtk_string_list_append (classes, _("Detector’s classes"));
      gtk_string_list_append (classes, _("Top prediction"));
      for (guint c = 0; c < n && c < 256; c++)
        {
          g_autofree char *name = mir_model_dup_class_name (model, c);
          gtk_string_list_append (classes, name);
        }
    }
  gtk_drop_down_set_model (self->class_dropdown, G_LIST_MODEL (classes));
  gtk_drop_down_set_selected (self->class_dropdown, 0);
}

void
mirada_heatmap_panel_set_classes (MiradaHeatmapPanel *self,
                                  const gint         *classes,
                                  guint               n_classes)
{
  g_return_if_fail (MIRADA_IS_HEATMAP_PANEL (self));

  if (n_classes == self->classes->len &&
      (n_classes == 0 || memcmp (classes, self->classes->data, n_classes * sizeof (gint)) == 0))
    return;
  g_array_set_size (self->classes, 0);
  g_array_append_vals (self->classes, classes, n_classes);
  if (gtk_drop_down_get_selected (self->class_dropdown) == 0)
    mirada_panel_run (MIRADA_PANEL (self));
}

guint
mirada_heatmap_panel_get_n_overlays (MiradaHeatmapPanel *self)
{
  GtkWidget *child;
  guint n = 0;

  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), 0);
  for (child = gtk_widget_get_first_child (GTK_WIDGET (self->overlays_box)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n++;
  return n;
}

const char *
mirada_heatmap_panel_get_caption (MiradaHeatmapPanel *self,
                                  guint               i)
{
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), NULL);
  if (self->captions == NULL || i >= self->captions->len)
    return NULL;
  return self->captions->pdata[i];
}

static const char *const *
method_ids (void)
{
  ensure_methods ();
  return method_id_list;
}

GtkWidget *
mirada_heatmap_panel_new (void)
{
  return g_object_new (MIRADA_TYPE_HEATMAP_PANEL, NULL);
}

static void
mirada_heatmap_panel_dispose (GObject *object)
{
  MiradaHeatmapPanel *self = MIRADA_HEATMAP_PANEL (object);

  g_clear_pointer (&self->classes, g_array_unref);
  g_clear_pointer (&self->captions, g_ptr_array_unref);

  G_OBJECT_CLASS (mirada_heatmap_panel_parent_class)->dispose (object);
}

static void
mirada_heatmap_panel_class_init (MiradaHeatmapPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MiradaPanelClass *panel_class = MIRADA_PANEL_CLASS (klass);

  object_class->dispose = mirada_heatmap_panel_dispose;
  panel_class->needs_input = TRUE;
  panel_class->start_on_last_conv = TRUE;
  panel_class->layer_wanted = mirada_heatmap_panel_layer_wanted;
  panel_class->model_changed = mirada_heatmap_panel_model_changed;
  panel_class->create_job = mirada_heatmap_panel_create_job;
  panel_class->job_free = (GDestroyNotify) heatmap_job_free;
  panel_class->worker = heatmap_worker;
  panel_class->result_free = (GDestroyNotify) heatmap_result_free;
  panel_class->show_result = mirada_heatmap_panel_show_result;
}

static void
mirada_heatmap_panel_init (MiradaHeatmapPanel *self)
{
  MiradaPanel *panel = MIRADA_PANEL (self);
  GSettings *settings = mirada_panel_get_settings (panel);
  GtkBox *bar = mirada_panel_get_bar (panel);
  GtkWidget *bar2 = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *bar3 = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkStringList *method_list = gtk_string_list_new (NULL);
  GtkStringList *cmap_list = gtk_string_list_new (colormaps);
  GtkWidget *label = gtk_label_new_with_mnemonic (_("O_pacity"));
  GtkAdjustment *alpha;
  GtkWidget *scale;

  self->classes = g_array_new (FALSE, FALSE, sizeof (gint));
  gtk_widget_set_tooltip_text (GTK_WIDGET (mirada_panel_get_layer_dropdown (panel)),
                               _("The layer whose feature maps Grad-CAM weighs by the gradient of the class score (Keras uses the last convolutional one)."));

  ensure_methods ();
  for (guint i = 0; i < n_methods; i++)
    gtk_string_list_append (method_list, _(methods[i]->label));
  self->method_dropdown = mirada_dropdown_new_labelled (method_list, _("Method"),
                                                        _("How the heat map is made: Grad-CAM and its variants weigh a layer’s feature maps; gradients, SmoothGrad and guided backpropagation work on the input pixels; occlusion hides patches."));
  gtk_box_append (bar, GTK_WIDGET (self->method_dropdown));
  mirada_settings_bind_choice (settings, "explain-method", self->method_dropdown, "selected",
                               method_ids ());

  /* second row: the classes and the colour map */
  gtk_widget_set_margin_start (bar2, 12);
  gtk_widget_set_margin_end (bar2, 12);
  self->class_dropdown = mirada_dropdown_new_labelled (gtk_string_list_new (NULL), _("Class"),
                                                       _("The classes to explain, one heat map each: the regions that raise a class’s score are hot. “Detector’s classes” are those ticked in the sidebar."));
  gtk_widget_set_hexpand (GTK_WIDGET (self->class_dropdown), TRUE);
  gtk_box_append (GTK_BOX (bar2), GTK_WIDGET (self->class_dropdown));
  g_signal_connect_swapped (self->class_dropdown, "notify::selected", G_CALLBACK (mirada_panel_run), self);
  self->colormap_dropdown = mirada_dropdown_new_labelled (cmap_list, _("Colour map"),
                                                          _("Colour map of the heat maps"));
  gtk_box_append (GTK_BOX (bar2), GTK_WIDGET (self->colormap_dropdown));
  mirada_settings_bind_choice (settings, "colormap", self->colormap_dropdown, "selected", colormaps);
  gtk_box_insert_child_after (GTK_BOX (self), bar2, GTK_WIDGET (bar));

  /* the opacity on its own row: the panel stays narrow enough for a 2×2 layout */
  alpha = gtk_adjustment_new (0.4, 0.0, 1.0, 0.05, 0.1, 0.0);
  scale = gtk_scale_new (GTK_ORIENTATION_HORIZONTAL, alpha);
  gtk_scale_set_digits (GTK_SCALE (scale), 2);
  gtk_scale_set_draw_value (GTK_SCALE (scale), TRUE);
  gtk_scale_set_value_pos (GTK_SCALE (scale), GTK_POS_RIGHT);
  gtk_widget_set_hexpand (scale, TRUE);
  gtk_widget_set_tooltip_text (scale, _("Opacity of the heat map over the image"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (scale), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Opacity"), -1);
  g_settings_bind (settings, "alpha", alpha, "value", G_SETTINGS_BIND_DEFAULT);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), scale);
  gtk_widget_add_css_class (label, "dim-label");
  gtk_widget_set_margin_start (bar3, 12);
  gtk_widget_set_margin_end (bar3, 12);
  gtk_box_append (GTK_BOX (bar3), label);
  gtk_box_append (GTK_BOX (bar3), scale);
  gtk_box_insert_child_after (GTK_BOX (self), bar3, bar2);

  self->overlays_box = GTK_FLOW_BOX (gtk_flow_box_new ());
  gtk_flow_box_set_homogeneous (self->overlays_box, TRUE);
  gtk_flow_box_set_selection_mode (self->overlays_box, GTK_SELECTION_NONE);
  gtk_flow_box_set_max_children_per_line (self->overlays_box, MAX_OVERLAYS);
  gtk_flow_box_set_column_spacing (self->overlays_box, 8);
  gtk_flow_box_set_row_spacing (self->overlays_box, 8);
  gtk_widget_set_valign (GTK_WIDGET (self->overlays_box), GTK_ALIGN_START);
  gtk_widget_set_margin_start (GTK_WIDGET (self->overlays_box), 6);
  gtk_widget_set_margin_end (GTK_WIDGET (self->overlays_box), 6);
  mirada_panel_set_content (panel, GTK_WIDGET (self->overlays_box));

  g_signal_connect_object (settings, "changed::colormap", G_CALLBACK (mirada_panel_run), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (settings, "changed::alpha", G_CALLBACK (mirada_panel_run), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (settings, "changed::explain-method", G_CALLBACK (mirada_panel_run), self, G_CONNECT_SWAPPED);
}
