/* mirada-heatmap-panel.c: heat maps of the engine's explanation methods
 * (engine/explain/mir-explain.h), one per class, on a worker. */
#define G_LOG_DOMAIN "mirada-heatmap-panel"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "explain/mir-explain.h"
#include "visualize/mir-colormap.h"
#include "mirada-heatmap-panel.h"
#include "mirada-image-io.h"
#include "mirada-settings.h"

/* Maps at most (each is one explanation run). */
#define MAX_OVERLAYS 8
/* The big map's texture: at least this many pixels on its longer side
 * (nearest-neighbour upscale of a small window; GTK scales it to the panel). */
#define LARGE_SIDE 512

struct _MiradaHeatmapPanel
{
  MiradaPanel parent_instance;

  GtkDropDown *class_dropdown;
  GtkDropDown *method_dropdown;
  GtkDropDown *colormap_dropdown;
  GtkToggleButton *whole_button;  /* whole-image Grad-CAM on request */
  GtkWidget *back_button;         /* from the large view back to the maps */
  GtkWidget *channels_box;        /* Score-CAM's channel count, shown with that method */
  GtkWidget *main_button;         /* the first map, in the maps grid */
  GtkStack *stack;                /* "maps" or "zoom" */
  GtkPicture *main_picture;       /* the first (most probable) map, the panel's width */
  GtkLabel *main_caption;
  GtkFlowBox *overlays_box;       /* the others, smaller, wrapped */
  GtkWidget *overlays_scroller;   /* around overlays_box */
  GtkPicture *zoom_picture;       /* one map large */
  GtkLabel *zoom_caption;

  GPtrArray *textures;            /* the maps shown, most probable first */
  GPtrArray *thumbnails;          /* the same, small (the maps below the first) */
  GPtrArray *captions;
  GPtrArray *explanations;        /* MirExplanation, for tests and the numbers */
  GArray *classes;                /* gint: the detector's enabled classes */
  int zoomed;                     /* the map shown large, or -1 */

  /* what the maps are of */
  MirImage *last_window;          /* the last window crop the window gave us */
  gboolean has_region;
  int region[4];                  /* x, y, w, h in the image; has_region FALSE: whole image */
  gboolean region_is_top_box;     /* no window chosen: the most probable box */
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

static gboolean
is_scorecam (guint method)
{
  return method < n_methods && g_strcmp0 (methods[method]->id, "scorecam") == 0;
}

static const char *const colormaps[] = { "jet", "viridis", "inferno", "magma", "plasma", "gray", NULL };

typedef struct
{
  MirModel *model;
  MirImage *input;     /* the window's crop, the most probable box's, or the whole image */
  gint layer;
  guint method;
  gint max_channels;   /* Score-CAM: the setting scorecam-channels (0: all) */
  GArray *classes;     /* gint, numbered as the detector numbers them */
  gboolean add_top;    /* the top prediction too (first, unless less probable) */
  MirColormap colormap;
  double alpha;
  char *what;          /* the status's first line: what the maps are of */
} HeatmapJob;

typedef struct
{
  GdkTexture *texture;     /* the overlays side by side (export, tests) */
  GPtrArray *textures;     /* one per class, most probable first */
  GPtrArray *thumbnails;   /* the same, small: drawing many large textures scaled down
                            * each frame costs the UI thread (GTK's cairo renderer) */
  GPtrArray *captions;
  GPtrArray *explanations;
  char *status;
} HeatmapResult;

static void
heatmap_job_free (HeatmapJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->input, mir_image_unref);
  g_clear_pointer (&job->classes, g_array_unref);
  g_free (job->what);
  g_free (job);
}

static void
heatmap_result_free (HeatmapResult *r)
{
  g_clear_object (&r->texture);
  g_clear_pointer (&r->textures, g_ptr_array_unref);
  g_clear_pointer (&r->thumbnails, g_ptr_array_unref);
  g_clear_pointer (&r->captions, g_ptr_array_unref);
  g_clear_pointer (&r->explanations, g_ptr_array_unref);
  g_free (r->status);
  g_free (r);
}

/* A smaller map below the first: about @side pixels on its longer side. */
static GdkTexture *
texture_thumbnail (MirImage  *image,
                   int        side,
                   GError   **error)
{
  g_autoptr(MirImage) small = NULL;
  int longer = MAX (image->width, image->height);

  if (longer <= side + side / 4)
    return mirada_texture_upscaled (image, side, NULL, error);
  if (!(small = mir_image_resize (image, MAX (1, image->width * side / longer),
                                  MAX (1, image->height * side / longer),
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

/* The probability of class @k (numbered as the detector numbers them: a
 * binary sigmoid model's 0 is 1 − P, 1 is P) in the model's output, as
 * mir_explain_resolve_class() reads it. */
static double
class_probability (const MirTensor *probs,
                   gboolean         binary,
                   gint             k)
{
  if (binary)
    return k == 1 ? probs->data[0] : 1.0 - probs->data[0];
  return probs->data[k];
}

static int
compare_by_probability (gconstpointer a,
                        gconstpointer b,
                        gpointer      data)
{
  const double *p = data;
  double pa = p[*(const gint *) a], pb = p[*(const gint *) b];

  return pa < pb ? 1 : pa > pb ? -1 : *(const gint *) a - *(const gint *) b;
}

static gpointer
heatmap_worker (MiradaJob     *mjob,
                gpointer       data,
                GCancellable  *cancellable,
                GError       **error)
{
  HeatmapJob *job = data;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTensor) probs = NULL;
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr(GPtrArray) overlays = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_image_unref);
  g_autoptr(GPtrArray) textures = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) thumbnails = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) captions = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) explanations = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_explanation_free);
  g_autoptr(MirImage) all = NULL;
  g_autoptr(MirExplainReuse) reuse = NULL;
  g_autofree double *p = NULL;
  g_autofree char *layer_name = NULL;
  g_autofree char *notice = NULL;
  g_autoptr(GString) status = g_string_new (NULL);
  gboolean binary = mir_model_is_binary_sigmoid (job->model);
  gint64 n_classes;
  int map_w = 0, map_h = 0;
  HeatmapResult *r;

  if (!(input = mir_image_prepare (job->input, job->model, error)) ||
      !(probs = mir_model_predict (job->model, input, cancellable, error)))
    return NULL;
  /* the order: by the model's probability on this input, so the
   * predicted class comes first */
  n_classes = binary ? 2 : probs->shape[probs->ndim - 1];
  p = g_new (double, n_classes);
  for (gint k = 0; k < n_classes; k++)
    p[k] = class_probability (probs, binary, k);
  for (guint i = 0; i < job->classes->len; i++)
    {
      gint k = g_array_index (job->classes, gint, i);

      if (k >= 0 && k < n_classes)
        g_array_append_val (order, k);
    }
  if (job->add_top || order->len == 0)
    {
      gint top = 0;
      gboolean present = FALSE;

      for (gint k = 1; k < n_classes; k++)
        if (p[k] > p[top])
          top = k;
      for (guint i = 0; i < order->len; i++)
        present = present || g_array_index (order, gint, i) == top;
      if (!present)
        g_array_append_val (order, top);
    }
  g_array_sort_with_data (order, compare_by_probability, p);
  if (order->len > MAX_OVERLAYS)
    g_array_set_size (order, MAX_OVERLAYS);

  /* one model, one input, one layer: Score-CAM's masked forwards serve
   * every class (8 overlays of VGG16: the forwards of one) */
  reuse = mir_explain_reuse_new ();
  for (guint i = 0; i < order->len; i++)
    {
      MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
      g_autoptr(MirExplanation) e = NULL;
      g_autoptr(MirImage) overlay = NULL;
      g_autofree char *name = NULL;
      GdkTexture *texture, *thumbnail;

      opts.layer = job->layer;
      opts.reuse = reuse;
      opts.max_channels = job->max_channels;
      /* class numbers as the detector and `mirada predict` give them (a
       * binary sigmoid model: 0 is 1 − P, 1 is P) */
      mir_explain_options_set_class (&opts, job->model, g_array_index (order, gint, i));
      if (!(e = methods[job->method]->func (job->model, input, &opts, cancellable, error)) ||
          !(overlay = mir_colormap_overlay (job->input, e->map, e->width, e->height, job->colormap,
                                            (float) job->alpha, FALSE, error)) ||
          !(texture = mirada_texture_upscaled (overlay, LARGE_SIDE, NULL, error)))
        return NULL;
      if (!(thumbnail = texture_thumbnail (overlay, 96, error)))
        {
          g_object_unref (texture);
          return NULL;
        }
      g_ptr_array_add (thumbnails, thumbnail);
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
      g_ptr_array_add (explanations, g_steal_pointer (&e));
      mirada_job_set_progress (mjob, (double) (i + 1) / order->len);
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
  r->thumbnails = g_steal_pointer (&thumbnails);
  r->captions = g_steal_pointer (&captions);
  r->explanations = g_steal_pointer (&explanations);
  if (job->what != NULL)
    g_string_append_printf (status, "%s\n", job->what);
  /* Translators: Grad-CAM on layer "conv2d_3" (8×8) */
  g_string_append_printf (status, _("%s on layer “%s” (%d×%d)"), _(methods[job->method]->label),
                          layer_name, map_w, map_h);
  if (is_scorecam (job->method) && job->max_channels > 0 && r->explanations->len > 0)
    {
      const MirExplanation *e0 = g_ptr_array_index (r->explanations, 0);
      MirNode *node = mir_model_get_node (job->model, (guint) e0->layer);
      gint64 channels = node != NULL && node->shape.ndim == 4 ? node->shape.dim[3] : 0;

      if (channels > job->max_channels)
        {
          g_string_append_c (status, '\n');
          /* Translators: Score-CAM used 128 of the layer's 512 channels */
          g_string_append_printf (status, _("Score-CAM used %d of the layer’s %d channels, those of largest spread; “Channels” beside the method sets how many (0: all, slower)."),
                                  job->max_channels, (int) channels);
        }
    }
  if (notice != NULL)
    g_string_append_printf (status, "\n%s", notice);
  r->status = g_string_free (g_steal_pointer (&status), FALSE);
  return r;
}

/* ------------------------------------------------------------------ */
/* The maps: the first large, the others smaller below; a click shows one large */

static void
clear_overlays (MiradaHeatmapPanel *self)
{
  GtkWidget *child;

  g_clear_pointer (&self->textures, g_ptr_array_unref);
  g_clear_pointer (&self->thumbnails, g_ptr_array_unref);
  g_clear_pointer (&self->captions, g_ptr_array_unref);
  g_clear_pointer (&self->explanations, g_ptr_array_unref);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->overlays_box))))
    gtk_flow_box_remove (self->overlays_box, child);
  gtk_picture_set_paintable (self->main_picture, NULL);
  gtk_label_set_label (self->main_caption, "");
  mirada_heatmap_panel_zoom (self, -1);
}

static void
map_clicked_cb (GtkButton          *button,
                MiradaHeatmapPanel *self)
{
  mirada_heatmap_panel_zoom (self, GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "map-index")));
}

/* A flat button showing map @i (its picture scales with the button) and its caption. */
static GtkWidget *
map_button_new (MiradaHeatmapPanel *self,
                guint               i)
{
  GtkWidget *button = gtk_button_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *picture = gtk_picture_new_for_paintable (self->thumbnails->pdata[i]);
  GtkWidget *caption = gtk_label_new (self->captions->pdata[i]);

  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  /* smaller than the first map, but no fixed size: a flow box line shares
   * the panel's width between them */
  gtk_widget_set_size_request (picture, 64, 64);
  gtk_label_set_ellipsize (GTK_LABEL (caption), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (caption, "caption");
  gtk_box_append (GTK_BOX (box), picture);
  gtk_box_append (GTK_BOX (box), caption);
  gtk_button_set_child (GTK_BUTTON (button), box);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, _("Click to see this heat map large"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  self->captions->pdata[i], -1);
  g_object_set_data (G_OBJECT (button), "map-index", GINT_TO_POINTER (i));
  g_signal_connect (button, "clicked", G_CALLBACK (map_clicked_cb), self);
  return button;
}

/* One map: the whole width; several: the first takes what the others,
 * beside it, leave. */
static void
set_alone (MiradaHeatmapPanel *self,
           gboolean            alone)
{
  gtk_widget_set_visible (self->overlays_scroller, !alone);
}

static void
show_overlays (MiradaHeatmapPanel *self,
               HeatmapResult      *r)
{
  clear_overlays (self);
  self->textures = g_steal_pointer (&r->textures);
  self->thumbnails = g_steal_pointer (&r->thumbnails);
  self->captions = g_steal_pointer (&r->captions);
  self->explanations = g_steal_pointer (&r->explanations);
  if (self->textures->len == 0)
    return;
  gtk_picture_set_paintable (self->main_picture, self->textures->pdata[0]);
  gtk_label_set_label (self->main_caption, self->captions->pdata[0]);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->main_picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  self->captions->pdata[0], -1);
  for (guint i = 1; i < self->textures->len; i++)
    gtk_flow_box_append (self->overlays_box, map_button_new (self, i));
  set_alone (self, self->textures->len <= 1);
}

gboolean
mirada_heatmap_panel_zoom (MiradaHeatmapPanel *self,
                           int                 i)
{
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), FALSE);

  if (i < 0)
    {
      self->zoomed = -1;
      gtk_stack_set_visible_child_name (self->stack, "maps");
      gtk_widget_set_visible (self->back_button, FALSE);
      return TRUE;
    }
  if (self->textures == NULL || (guint) i >= self->textures->len)
    return FALSE;
  self->zoomed = i;
  gtk_picture_set_paintable (self->zoom_picture, self->textures->pdata[i]);
  gtk_label_set_label (self->zoom_caption, self->captions->pdata[i]);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->zoom_picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  self->captions->pdata[i], -1);
  gtk_stack_set_visible_child_name (self->stack, "zoom");
  gtk_widget_set_visible (self->back_button, TRUE);
  return TRUE;
}

int
mirada_heatmap_panel_get_zoomed (MiradaHeatmapPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), -1);
  return self->zoomed;
}

static void
main_clicked_cb (MiradaHeatmapPanel *self)
{
  mirada_heatmap_panel_zoom (self, 0);
}

static void
back_clicked_cb (MiradaHeatmapPanel *self)
{
  mirada_heatmap_panel_zoom (self, -1);
}

static void
mirada_heatmap_panel_show_result (MiradaPanel *panel,
                                  gpointer     result)
{
  MiradaHeatmapPanel *self = MIRADA_HEATMAP_PANEL (panel);
  HeatmapResult *r = result;

  mirada_panel_set_texture (panel, r->texture);
  show_overlays (self, r);
  mirada_panel_set_status (panel, r->status);
  heatmap_result_free (r);
}

/* ------------------------------------------------------------------ */
/* What to explain */

/* The most probable box of @result, in whole image pixels inside @image;
 * FALSE when there is none. */
static gboolean
top_box (MirDetectResult *result,
         MirImage        *image,
         int              rect[4],
         const MirDetectBox **box_out)
{
  const MirDetectBox *best = NULL;
  int x, y, w, h;

  if (result == NULL || image == NULL)
    return FALSE;
  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (result->boxes, MirDetectBox, i);

      if (best == NULL || b->prob > best->prob)
        best = b;
    }
  if (best == NULL)
    return FALSE;
  /* whole pixels, as `mirada gradcam --window X,Y,W,H` takes them */
  x = CLAMP ((int) floor (best->x + 0.5), 0, image->width - 1);
  y = CLAMP ((int) floor (best->y + 0.5), 0, image->height - 1);
  w = CLAMP ((int) floor (best->width + 0.5), 1, image->width - x);
  h = CLAMP ((int) floor (best->height + 0.5), 1, image->height - y);
  rect[0] = x;
  rect[1] = y;
  rect[2] = w;
  rect[3] = h;
  if (box_out != NULL)
    *box_out = best;
  return TRUE;
}

/* New boxes: with no window chosen the maps follow the most probable box. */
static void
result_changed_cb (MiradaHeatmapPanel *self)
{
  MiradaPanel *panel = MIRADA_PANEL (self);
  MiradaSession *session = mirada_panel_get_session (panel);
  MirImage *input = mirada_panel_get_input (panel);
  int rect[4];

  /* the complete result only: while the grid fills in (issue 23) the top box
   * may move with every batch, and a map per batch would slow the classification */
  if (session == NULL || input == NULL || input != mirada_session_get_image (session) ||
      gtk_toggle_button_get_active (self->whole_button) || mirada_panel_get_busy (panel) ||
      mirada_session_get_busy (session))
    return;
  if (!top_box (mirada_session_get_result (session), input, rect, NULL))
    return;
  if (self->has_region && self->region_is_top_box && memcmp (rect, self->region, sizeof rect) == 0)
    return;
  mirada_panel_run (panel);
}

/* The session's boxes: before a window is chosen, the maps follow its most
 * probable box (the base class disconnects this with its own handlers). */
static void
mirada_heatmap_panel_session_changed (MiradaPanel   *panel,
                                      MiradaSession *session)
{
  g_signal_connect_object (session, "notify::result", G_CALLBACK (result_changed_cb), panel,
                           G_CONNECT_SWAPPED);
}

static gpointer
mirada_heatmap_panel_create_job (MiradaPanel *panel,
                                 gint         layer)
{
  MiradaHeatmapPanel *self = MIRADA_HEATMAP_PANEL (panel);
  GSettings *settings = mirada_panel_get_settings (panel);
  MiradaSession *session = mirada_panel_get_session (panel);
  MirImage *input = mirada_panel_get_input (panel);
  MirImage *image = session != NULL ? mirada_session_get_image (session) : NULL;
  HeatmapJob *job = g_new0 (HeatmapJob, 1);
  g_autofree char *cmap = NULL;
  /* 0: the detector's classes, 1: the top prediction, 2 + k: class k */
  guint choice = gtk_drop_down_get_selected (self->class_dropdown);
  const MirDetectBox *box = NULL;

  /* a window the person chose: its maps, whatever the toggle said */
  if (input != image && input != self->last_window)
    {
      g_clear_pointer (&self->last_window, mir_image_unref);
      self->last_window = mir_image_ref (input);
      g_signal_handlers_block_by_func (self->whole_button, mirada_panel_run, self);
      gtk_toggle_button_set_active (self->whole_button, FALSE);
      g_signal_handlers_unblock_by_func (self->whole_button, mirada_panel_run, self);
    }
  self->has_region = FALSE;
  self->region_is_top_box = FALSE;
  if (gtk_toggle_button_get_active (self->whole_button) && image != NULL)
    {
      job->input = mir_image_ref (image);
      job->what = g_strdup (_("The whole image, squeezed into the model’s input."));
    }
  else if (input != image)
    job->input = mir_image_ref (input);   /* the selected window */
  else if (top_box (session != NULL ? mirada_session_get_result (session) : NULL, image,
                    self->region, &box) &&
           (job->input = mir_image_crop (image, self->region[0], self->region[1],
                                         self->region[2], self->region[3], NULL)) != NULL)
    {
      g_autofree char *name = mirada_session_dup_class_name (session, box->class_index);

      self->has_region = TRUE;
      self->region_is_top_box = TRUE;
      /* Translators: the most probable box's class and probability, then its
       * x, y, width and height in the image */
      job->what = g_strdup_printf (_("The most probable box (%s, P = %.3f) at %d,%d, %d×%d; click a window to look at another."),
                                   name, box->prob, self->region[0], self->region[1],
                                   self->region[2], self->region[3]);
    }
  else
    {
      job->input = mir_image_ref (input);
      job->what = g_strdup (_("No box yet: the whole image, squeezed into the model’s input."));
    }
  if (job->what != NULL)
    mirada_panel_set_status (panel, job->what);

  job->model = mir_model_ref (mirada_panel_get_model (panel));
  job->layer = layer;
  job->classes = g_array_new (FALSE, FALSE, sizeof (gint));
  if (choice == 0 && self->classes->len > 0)
    {
      g_array_append_vals (job->classes, self->classes->data, self->classes->len);
      job->add_top = TRUE;
    }
  else if (choice >= 2 && choice != GTK_INVALID_LIST_POSITION)
    {
      gint k = (gint) choice - 2;
      g_array_append_val (job->classes, k);
    }
  else
    job->add_top = TRUE;
  job->method = MIN (gtk_drop_down_get_selected (self->method_dropdown), n_methods - 1);
  job->max_channels = g_settings_get_int (settings, "scorecam-channels");
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
  guint selected = gtk_drop_down_get_selected (self->class_dropdown);
  GListModel *old = gtk_drop_down_get_model (self->class_dropdown);
  guint old_n = old != NULL ? g_list_model_get_n_items (old) : 0;

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
  /* the same classes renamed (Model Properties): the choice stays */
  if (selected == GTK_INVALID_LIST_POSITION || selected >= old_n ||
      g_list_model_get_n_items (G_LIST_MODEL (classes)) != old_n)
    selected = 0;
  gtk_drop_down_set_selected (self->class_dropdown, selected);
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
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), 0);
  return self->textures != NULL ? self->textures->len : 0;
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

const MirExplanation *
mirada_heatmap_panel_get_explanation (MiradaHeatmapPanel *self,
                                      guint               i)
{
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), NULL);
  if (self->explanations == NULL || i >= self->explanations->len)
    return NULL;
  return self->explanations->pdata[i];
}

gboolean
mirada_heatmap_panel_get_region (MiradaHeatmapPanel *self,
                                 int                *x,
                                 int                *y,
                                 int                *width,
                                 int                *height)
{
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), FALSE);
  if (!self->has_region)
    return FALSE;
  *x = self->region[0];
  *y = self->region[1];
  *width = self->region[2];
  *height = self->region[3];
  return TRUE;
}

GtkWidget *
mirada_heatmap_panel_get_whole_image_button (MiradaHeatmapPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_HEATMAP_PANEL (self), NULL);
  return GTK_WIDGET (self->whole_button);
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

  g_clear_pointer (&self->last_window, mir_image_unref);
  g_clear_pointer (&self->classes, g_array_unref);
  g_clear_pointer (&self->textures, g_ptr_array_unref);
  g_clear_pointer (&self->thumbnails, g_ptr_array_unref);
  g_clear_pointer (&self->captions, g_ptr_array_unref);
  g_clear_pointer (&self->explanations, g_ptr_array_unref);

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
  panel_class->session_changed = mirada_heatmap_panel_session_changed;
  panel_class->create_job = mirada_heatmap_panel_create_job;
  panel_class->job_free = (GDestroyNotify) heatmap_job_free;
  panel_class->worker = heatmap_worker;
  panel_class->result_free = (GDestroyNotify) heatmap_result_free;
  panel_class->show_result = mirada_heatmap_panel_show_result;
}

static void
update_channels_visible (MiradaHeatmapPanel *self)
{
  gtk_widget_set_visible (self->channels_box,
                          is_scorecam (gtk_drop_down_get_selected (self->method_dropdown)));
}

/* only Score-CAM's maps depend on it */
static void
scorecam_channels_changed (MiradaHeatmapPanel *self)
{
  if (is_scorecam (gtk_drop_down_get_selected (self->method_dropdown)))
    mirada_panel_run (MIRADA_PANEL (self));
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
  GtkWidget *maps = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *zoom = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  GtkWidget *main_button = gtk_button_new ();
  GtkWidget *main_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkAdjustment *alpha;
  GtkWidget *scale;

  self->zoomed = -1;
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
  /* Score-CAM's masked forwards, one a channel: how many (VGG16's
   * block5_conv3 has 512, 20-30 s on two cores; 128 stay under 10 s) */
  {
    GtkAdjustment *adj = gtk_adjustment_new (128, 0, 4096, 16, 64, 0);
    GtkWidget *spin = gtk_spin_button_new (adj, 1, 0);
    GtkWidget *clabel = gtk_label_new_with_mnemonic (_("C_hannels"));

    self->channels_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_add_css_class (clabel, "dim-label");
    gtk_label_set_mnemonic_widget (GTK_LABEL (clabel), spin);
    gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (spin), TRUE);
    gtk_widget_set_tooltip_text (spin, _("Score-CAM masks the input with this many of the layer’s channels, those of largest spatial spread (Faster Score-CAM), one forward pass each; 0 uses all of them, as the paper does."));
    g_settings_bind (settings, "scorecam-channels", adj, "value", G_SETTINGS_BIND_DEFAULT);
    gtk_box_append (GTK_BOX (self->channels_box), clabel);
    gtk_box_append (GTK_BOX (self->channels_box), spin);
    gtk_box_append (bar, self->channels_box);
    g_signal_connect_object (self->method_dropdown, "notify::selected",
                             G_CALLBACK (update_channels_visible), self, G_CONNECT_SWAPPED);
    update_channels_visible (self);
  }
  self->back_button = gtk_button_new_from_icon_name ("go-previous-symbolic");
  gtk_widget_set_tooltip_text (self->back_button, _("Back to all heat maps"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->back_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("All heat maps"), -1);
  gtk_widget_set_visible (self->back_button, FALSE);
  g_signal_connect_swapped (self->back_button, "clicked", G_CALLBACK (back_clicked_cb), self);
  gtk_box_append (bar, self->back_button);

  /* second row: the classes, what to look at, the colour map */
  gtk_widget_set_margin_start (bar2, 12);
  gtk_widget_set_margin_end (bar2, 12);
  self->class_dropdown = mirada_dropdown_new_labelled (gtk_string_list_new (NULL), _("Class"),
                                                       _("The classes to explain, one heat map each, the most probable first: the regions that raise a class’s score are hot. “Detector’s classes” are those ticked in the sidebar, and the predicted class."));
  gtk_widget_set_hexpand (GTK_WIDGET (self->class_dropdown), TRUE);
  gtk_box_append (GTK_BOX (bar2), GTK_WIDGET (self->class_dropdown));
  g_signal_connect_swapped (self->class_dropdown, "notify::selected", G_CALLBACK (mirada_panel_run), self);
  self->whole_button = GTK_TOGGLE_BUTTON (gtk_toggle_button_new_with_mnemonic (_("_Whole image")));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->whole_button),
                               _("Explain the whole image, squeezed into the model’s input, instead of the selected window (or, before one is chosen, the most probable box)"));
  g_signal_connect_swapped (self->whole_button, "toggled", G_CALLBACK (mirada_panel_run), self);
  self->colormap_dropdown = mirada_dropdown_new_labelled (cmap_list, _("Colour map"),
                                                          _("Colour map of the heat maps"));
  gtk_box_append (GTK_BOX (bar2), GTK_WIDGET (self->colormap_dropdown));
  mirada_settings_bind_choice (settings, "colormap", self->colormap_dropdown, "selected", colormaps);
  gtk_box_insert_child_after (GTK_BOX (self), bar2, GTK_WIDGET (bar));

  /* the opacity and the whole-image toggle on their own row: the panel
   * stays narrow enough for a 2×2 layout */
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
  /* here, not beside the classes: that row sets the panel's narrowest width */
  gtk_box_append (GTK_BOX (bar3), GTK_WIDGET (self->whole_button));
  gtk_box_insert_child_after (GTK_BOX (self), bar3, bar2);

  /* the maps: the most probable one large (what the panel's width and
   * height leave), the others beside it, smaller, two a row */
  self->main_picture = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->main_picture, TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self->main_picture), 128, 128);
  gtk_widget_set_vexpand (GTK_WIDGET (self->main_picture), TRUE);
  self->main_caption = GTK_LABEL (gtk_label_new (""));
  gtk_label_set_ellipsize (self->main_caption, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->main_caption), "heading");
  gtk_box_append (GTK_BOX (main_box), GTK_WIDGET (self->main_picture));
  gtk_box_append (GTK_BOX (main_box), GTK_WIDGET (self->main_caption));
  /* the map and its caption together, as large as the column allows: in a
   * frame a little taller than wide (room for the caption), centred; a
   * picture filling the column's height drew the map in its middle and left
   * the caption at the bottom, far from it */
  {
    GtkWidget *frame = gtk_aspect_frame_new (0.5f, 0.5f, 0.88f, FALSE);

    gtk_aspect_frame_set_child (GTK_ASPECT_FRAME (frame), main_box);
    gtk_button_set_child (GTK_BUTTON (main_button), frame);
  }
  gtk_widget_add_css_class (main_button, "flat");
  gtk_widget_set_vexpand (main_button, TRUE);
  gtk_widget_set_tooltip_text (main_button, _("Click to see this heat map large"));
  g_signal_connect_swapped (main_button, "clicked", G_CALLBACK (main_clicked_cb), self);
  gtk_widget_set_hexpand (main_button, TRUE);
  gtk_box_append (GTK_BOX (maps), main_button);
  self->main_button = main_button;

  self->overlays_box = GTK_FLOW_BOX (gtk_flow_box_new ());
  gtk_flow_box_set_homogeneous (self->overlays_box, TRUE);
  gtk_flow_box_set_selection_mode (self->overlays_box, GTK_SELECTION_NONE);
  gtk_flow_box_set_min_children_per_line (self->overlays_box, 1);
  gtk_flow_box_set_max_children_per_line (self->overlays_box, 2);
  gtk_flow_box_set_column_spacing (self->overlays_box, 4);
  gtk_flow_box_set_row_spacing (self->overlays_box, 4);
  gtk_widget_set_valign (GTK_WIDGET (self->overlays_box), GTK_ALIGN_START);
  /* the others scroll on their own: the first map keeps the panel's height */
  self->overlays_scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (self->overlays_scroller),
                                  GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_width (GTK_SCROLLED_WINDOW (self->overlays_scroller), TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (self->overlays_scroller),
                                 GTK_WIDGET (self->overlays_box));
  gtk_box_append (GTK_BOX (maps), self->overlays_scroller);

  /* one map large (a click on a map), the back button in the top row */
  self->zoom_picture = GTK_PICTURE (gtk_picture_new ());
  gtk_picture_set_can_shrink (self->zoom_picture, TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self->zoom_picture), TRUE);
  self->zoom_caption = GTK_LABEL (gtk_label_new (""));
  gtk_widget_add_css_class (GTK_WIDGET (self->zoom_caption), "heading");
  gtk_box_append (GTK_BOX (zoom), GTK_WIDGET (self->zoom_picture));
  gtk_box_append (GTK_BOX (zoom), GTK_WIDGET (self->zoom_caption));

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_stack_add_named (self->stack, maps, "maps");
  gtk_stack_add_named (self->stack, zoom, "zoom");
  gtk_stack_set_visible_child_name (self->stack, "maps");
  gtk_widget_set_margin_start (GTK_WIDGET (self->stack), 6);
  gtk_widget_set_margin_end (GTK_WIDGET (self->stack), 6);
  mirada_panel_set_content (panel, GTK_WIDGET (self->stack));

  g_signal_connect_object (settings, "changed::colormap", G_CALLBACK (mirada_panel_run), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (settings, "changed::alpha", G_CALLBACK (mirada_panel_run), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (settings, "changed::explain-method", G_CALLBACK (mirada_panel_run), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (settings, "changed::scorecam-channels", G_CALLBACK (scorecam_channels_changed), self, G_CONNECT_SWAPPED);
}
