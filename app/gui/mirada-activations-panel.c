/* mirada-activations-panel.c: a layer's activation grid (seed
 * normalisation, viridis) on a worker, and one channel large on request. */
#define G_LOG_DOMAIN "mirada-activations-panel"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "mir-error.h"
#include "visualize/mir-activation-grid.h"
#include "visualize/mir-colormap.h"
#include "mirada-activations-panel.h"
#include "mirada-image-io.h"
#include "mirada-job.h"
#include "mirada-unit-figure.h"

struct _MiradaActivationsPanel
{
  MiradaPanel parent_instance;

  GtkWidget *back_button;
  /* the layer's values, for the channel zoom */
  MirTensor *activation;         /* 1×H×W×C, or NULL */
  MirChannelStats *stats;        /* C entries */
  char *layer_name;
  int grid_factor;               /* texture pixels per grid pixel */
  int zoom_channel;              /* -1: the grid */
  int zoom_factor;               /* texture pixels per activation value in the zoom */
  /* what the shown activations were computed from, for "explain this unit" */
  MirModel *model;
  MirImage *input;
  gint layer;
  MiradaJobRunner *unit_runner;
  GtkWidget *unit_popover;
  GtkPicture *unit_picture;
  GtkLabel *unit_label;
  char *unit_text;               /* the last explanation shown, or NULL */
  /* the unit explained, stepped with the arrow keys / buttons */
  gboolean have_unit;
  gint64 unit_y, unit_x, unit_c;
  gboolean unit_padding;         /* the figure shows "same" against "valid" */
  GtkWidget *unit_step[4];       /* ◀ ▲ ▼ ▶ */
  GtkWidget *unit_padding_toggle;
  MirRect unit_field;            /* the last explanation's field, in model input pixels */
  MirRect unit_padded;           /* and its window before clipping */
  gint64 unit_in_h, unit_in_w;   /* the model's input size it is in */
  MirImage *unit_input;          /* the image it was computed on */
  gboolean unit_open;            /* the popover shows it */
  gboolean unit_have_value;
  double unit_value, unit_engine;
};

G_DEFINE_FINAL_TYPE (MiradaActivationsPanel, mirada_activations_panel, MIRADA_TYPE_PANEL)

enum
{
  UNIT_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  MirModel *model;
  MirImage *input;
  gint layer;
} ActivationsJob;

typedef struct
{
  GdkTexture *texture;
  char *status;
  MirTensor *activation;   /* the values shown */
  MirChannelStats *stats;
  char *layer_name;
  int factor;              /* texture pixels per grid pixel */
  MirModel *model;         /* what it was computed from */
  MirImage *input;
  gint layer;
} ActivationsResult;

static void
activations_job_free (ActivationsJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->input, mir_image_unref);
  g_free (job);
}

static void
activations_result_free (ActivationsResult *r)
{
  g_clear_object (&r->texture);
  g_free (r->status);
  g_clear_pointer (&r->activation, mir_tensor_unref);
  g_free (r->stats);
  g_free (r->layer_name);
  g_clear_pointer (&r->model, mir_model_unref);
  g_clear_pointer (&r->input, mir_image_unref);
  g_free (r);
}

/* Channels a row: the seed's 16, fewer for a few channels so a narrow panel
 * shows them large (32 channels: 8 a row, 4 rows). */
static int
grid_columns (gint64 channels)
{
  return (int) CLAMP (ceil (sqrt (2.0 * channels)), 1, 16);
}

static gpointer
activations_worker (MiradaJob     *mjob,
                    gpointer       data,
                    GCancellable  *cancellable,
                    GError       **error)
{
  ActivationsJob *job = data;
  MirGridOptions opts = MIR_GRID_OPTIONS_DEFAULT;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTrace) trace = NULL;
  gint64 channels;
  g_autoptr(MirImage) grid = NULL;
  g_autofree MirChannelStats *stats = NULL;
  MirNode *node = mir_model_get_node (job->model, (guint) job->layer);
  MirTensor *act;
  ActivationsResult *r;
  guint dead = 0;

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
  channels = act->shape[act->ndim - 1];
  opts.per_row = grid_columns (channels);
  opts.gap = MIR_GRID_GAP_DEFAULT;
  if (!(grid = mir_activation_grid (act, 0, &opts, &stats, error)))
    return NULL;
  for (gint64 c = 0; c < channels; c++)
    dead += stats[c].dead;
  r = g_new0 (ActivationsResult, 1);
  if (!(r->texture = mirada_texture_upscaled (grid, 480, &r->factor, error)) ||
      !(r->activation = mir_tensor_dup (act, error)))
    {
      activations_result_free (r);
      return NULL;
    }
  r->stats = g_steal_pointer (&stats);
  r->layer_name = g_strdup (node->name);
  r->model = mir_model_ref (job->model);
  r->input = mir_image_ref (job->input);
  r->layer = job->layer;
  r->status = g_strdup_printf (ngettext ("“%s”: %d channel of %d×%d, %u all zero",
                                         "“%s”: %d channels of %d×%d, %u all zero", (gulong) channels),
                               node->name, (int) channels, (int) act->shape[1], (int) act->shape[2], dead);
  return r;
}

static void
clear_activation (MiradaActivationsPanel *self)
{
  if (self->unit_runner != NULL)
    mirada_job_runner_cancel (self->unit_runner);
  g_clear_pointer (&self->model, mir_model_unref);
  g_clear_pointer (&self->input, mir_image_unref);
  g_clear_pointer (&self->activation, mir_tensor_unref);
  g_clear_pointer (&self->stats, g_free);
  g_clear_pointer (&self->layer_name, g_free);
  self->zoom_channel = -1;
  gtk_widget_set_visible (self->back_button, FALSE);
  if (self->have_unit)
    {
      self->have_unit = FALSE;
      g_clear_pointer (&self->unit_input, mir_image_unref);
      g_signal_emit (self, signals[UNIT_CHANGED], 0);
    }
}

static void
mirada_activations_panel_show_result (MiradaPanel *panel,
                                      gpointer     result)
{
  MiradaActivationsPanel *self = MIRADA_ACTIVATIONS_PANEL (panel);
  ActivationsResult *r = result;

  mirada_panel_set_texture (panel, r->texture);
  clear_activation (self);
  self->activation = g_steal_pointer (&r->activation);
  self->stats = g_steal_pointer (&r->stats);
  self->layer_name = g_steal_pointer (&r->layer_name);
  self->grid_factor = r->factor;
  self->model = g_steal_pointer (&r->model);
  self->input = g_steal_pointer (&r->input);
  self->layer = r->layer;
  gtk_picture_set_paintable (GTK_PICTURE (mirada_panel_get_picture (panel)), GDK_PAINTABLE (r->texture));
  mirada_panel_set_status (panel, r->status);
  activations_result_free (r);
}

static gpointer
mirada_activations_panel_create_job (MiradaPanel *panel,
                                     gint         layer)
{
  ActivationsJob *job = g_new0 (ActivationsJob, 1);

  job->model = mir_model_ref (mirada_panel_get_model (panel));
  job->input = mir_image_ref (mirada_panel_get_input (panel));
  job->layer = layer;
  return job;
}

static gboolean
mirada_activations_panel_layer_wanted (MiradaPanel *panel,
                                       MirNode     *node)
{
  return node->shape.ndim == 4 && !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT);
}

static void
mirada_activations_panel_model_changed (MiradaPanel *panel,
                                        MirModel    *model)
{
  clear_activation (MIRADA_ACTIVATIONS_PANEL (panel));
}

/* ------------------------------------------------------------------ */
/* One channel large, with the value under the pointer */

/* The texture point under (@wx, @wy) of the picture, which shows its
 * paintable scaled to fit, centred (GtkPicture with keep-aspect-ratio). */
static gboolean
picture_to_texture (MiradaActivationsPanel *self,
                    double                  wx,
                    double                  wy,
                    double                 *tx,
                    double                 *ty)
{
  GtkWidget *picture = mirada_panel_get_picture (MIRADA_PANEL (self));
  GdkPaintable *paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));
  double w = gtk_widget_get_width (picture);
  double h = gtk_widget_get_height (picture);
  double pw, ph, scale;

  if (paintable == NULL || w <= 0 || h <= 0)
    return FALSE;
  pw = gdk_paintable_get_intrinsic_width (paintable);
  ph = gdk_paintable_get_intrinsic_height (paintable);
  if (pw <= 0 || ph <= 0)
    return FALSE;
  scale = MIN (w / pw, h / ph);
  *tx = (wx - (w - pw * scale) / 2) / scale;
  *ty = (wy - (h - ph * scale) / 2) / scale;
  return *tx >= 0 && *ty >= 0 && *tx < pw && *ty < ph;
}

int
mirada_activations_panel_channel_at (MiradaActivationsPanel *self,
                                     double                  x,
                                     double                  y)
{
  double tx, ty;
  gint64 h, w, c, gx, gy, col, row, channel, per_row;
  const int gap = MIR_GRID_GAP_DEFAULT;

  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), -1);
  if (self->activation == NULL || self->zoom_channel >= 0 ||
      !picture_to_texture (self, x, y, &tx, &ty))
    return -1;
  h = self->activation->shape[1];
  w = self->activation->shape[2];
  c = self->activation->shape[3];
  /* the grid's layout (activations_worker: scale 1, the default gap); a
   * click on a gap is on no channel */
  per_row = grid_columns (c);
  gx = (gint64) (tx / self->grid_factor);
  gy = (gint64) (ty / self->grid_factor);
  col = gx / (w + gap);
  row = gy / (h + gap);
  if (gx % (w + gap) >= w || gy % (h + gap) >= h)
    return -1;
  channel = row * per_row + col;
  return col < per_row && channel < c ? (int) channel : -1;
}

static void
show_channel_summary (MiradaActivationsPanel *self)
{
  const MirChannelStats *st = &self->stats[self->zoom_channel];
  g_autofree char *text =
    /* Translators: channel 5 of layer "conv2d": its mean, maximum and share of zeros */
    g_strdup_printf (_("Channel %d of “%s”: mean %.4g, max %.4g, %.0f %% zeros%s"),
                     self->zoom_channel, self->layer_name, st->mean, st->max,
                     100 * st->zero_fraction, st->dead ? _(" (dead on this image)") : "");

  mirada_panel_set_status (MIRADA_PANEL (self), text);
}

gboolean
mirada_activations_panel_zoom_channel (MiradaActivationsPanel *self,
                                       int                     channel)
{
  GtkPicture *picture;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree guint8 *bytes = NULL;
  g_autofree float *values = NULL;
  gint64 h, w, c;

  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), FALSE);
  if (self->activation == NULL)
    return FALSE;
  picture = GTK_PICTURE (mirada_panel_get_picture (MIRADA_PANEL (self)));
  if (channel < 0)
    {
      self->zoom_channel = -1;
      gtk_picture_set_paintable (picture, GDK_PAINTABLE (mirada_panel_get_texture (MIRADA_PANEL (self))));
      gtk_widget_set_visible (self->back_button, FALSE);
      mirada_panel_set_status (MIRADA_PANEL (self), "");
      return TRUE;
    }
  h = self->activation->shape[1];
  w = self->activation->shape[2];
  c = self->activation->shape[3];
  if (channel >= c)
    return FALSE;

  /* the grid's colouring of this channel (seed normalisation, viridis), large */
  bytes = g_malloc ((gsize) (h * w));
  values = g_new (float, h * w);
  mir_grid_normalise_channel (self->activation->data + channel, (gsize) (h * w), (gsize) c,
                              MIR_GRID_NORM_CHANNEL, 0, 0, bytes);
  for (gint64 i = 0; i < h * w; i++)
    values[i] = bytes[i] / 255.f;
  if (!(image = mir_colormap_apply (MIR_COLORMAP_VIRIDIS, values, (int) w, (int) h, NULL)) ||
      !(texture = mirada_texture_upscaled (image, 480, &self->zoom_factor, NULL)))
    return FALSE;
  self->zoom_channel = channel;
  gtk_picture_set_paintable (picture, GDK_PAINTABLE (texture));
  gtk_widget_set_visible (self->back_button, TRUE);
  show_channel_summary (self);
  return TRUE;
}

int
mirada_activations_panel_get_zoom_channel (MiradaActivationsPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), -1);
  return self->zoom_channel;
}

gboolean
mirada_activations_panel_value_at (MiradaActivationsPanel *self,
                                   double                  x,
                                   double                  y,
                                   int                    *ax,
                                   int                    *ay,
                                   float                  *value)
{
  double tx, ty;
  gint64 c;

  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), FALSE);
  if (self->activation == NULL || self->zoom_channel < 0 ||
      !picture_to_texture (self, x, y, &tx, &ty))
    return FALSE;
  c = self->activation->shape[3];
  *ax = MIN ((int) (tx / self->zoom_factor), (int) self->activation->shape[2] - 1);
  *ay = MIN ((int) (ty / self->zoom_factor), (int) self->activation->shape[1] - 1);
  *value = self->activation->data[((gint64) *ay * self->activation->shape[2] + *ax) * c +
                                  self->zoom_channel];
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* One unit explained: its receptive field on the input and its value by
 * hand, as `mirada explain-unit` writes them (app/common/mirada-unit-figure.c) */

typedef struct
{
  MirModel *model;
  MirImage *input;
  gint layer;
  gint64 y, x, c;
  gboolean padding;
  char *layer_name;
} UnitJob;

typedef struct
{
  GdkTexture *texture;
  char *text;
  MirRect field, padded;
  gint64 in_h, in_w;
  MirImage *input;
  gboolean have_padding;
  gboolean have_value;
  double value, engine;
} UnitResult;

static void
unit_job_free (UnitJob *job)
{
  g_clear_pointer (&job->model, mir_model_unref);
  g_clear_pointer (&job->input, mir_image_unref);
  g_free (job->layer_name);
  g_free (job);
}

static void
unit_result_free (UnitResult *r)
{
  g_clear_object (&r->texture);
  g_free (r->text);
  g_clear_pointer (&r->input, mir_image_unref);
  g_free (r);
}

static gpointer
unit_worker (MiradaJob *mjob, gpointer data, GCancellable *cancellable, GError **error)
{
  UnitJob *job = data;
  MiradaUnitExplanation e = { 0 };
  UnitResult *r;

  if (!mirada_unit_explain_full (job->model, job->input, job->layer, job->y, job->x, job->c,
                                 job->padding ? MIRADA_UNIT_SHOW_PADDING : 0, cancellable, &e,
                                 error))
    return NULL;
  r = g_new0 (UnitResult, 1);
  r->field = e.field;
  r->padded = e.padded;
  r->in_h = e.input_height;
  r->in_w = e.input_width;
  r->input = mir_image_ref (job->input);
  r->have_padding = e.have_padding;
  r->have_value = e.have_value;
  r->value = e.value.value;
  r->engine = e.value.engine;
  r->text = mirada_unit_explanation_describe (&e, job->layer_name, job->y, job->x, job->c);
  r->texture = mirada_texture_upscaled (e.figure, 256, NULL, error);
  mirada_unit_explanation_clear (&e);
  if (r->texture == NULL)
    {
      unit_result_free (r);
      return NULL;
    }
  return r;
}

static void
unit_done (gpointer result, const GError *error, gpointer user_data)
{
  MiradaActivationsPanel *self = user_data;
  UnitResult *r = result;

  g_clear_pointer (&self->unit_text, g_free);
  if (r == NULL)
    {
      mirada_panel_set_status (MIRADA_PANEL (self), error->message);
      return;
    }
  self->unit_text = g_strdup (r->text);
  self->unit_field = r->field;
  self->unit_padded = r->padded;
  self->unit_in_h = r->in_h;
  self->unit_in_w = r->in_w;
  g_clear_pointer (&self->unit_input, mir_image_unref);
  self->unit_input = g_steal_pointer (&r->input);
  self->unit_have_value = r->have_value;
  self->unit_value = r->value;
  /* "same" vs "valid" only means something for a layer that slides a window */
  gtk_widget_set_sensitive (self->unit_padding_toggle, r->have_padding);
  self->unit_engine = r->engine;
  gtk_picture_set_paintable (self->unit_picture, GDK_PAINTABLE (r->texture));
  gtk_label_set_label (self->unit_label, r->text);
  gtk_popover_popup (GTK_POPOVER (self->unit_popover));
  self->unit_open = TRUE;
  unit_result_free (r);
  g_signal_emit (self, signals[UNIT_CHANGED], 0);
}

/* The buttons a step would take off the map are insensitive. */
static void
update_step_buttons (MiradaActivationsPanel *self)
{
  gint64 h = self->activation != NULL ? self->activation->shape[1] : 0;
  gint64 w = self->activation != NULL ? self->activation->shape[2] : 0;

  gtk_widget_set_sensitive (self->unit_step[0], self->have_unit && self->unit_x > 0);
  gtk_widget_set_sensitive (self->unit_step[1], self->have_unit && self->unit_y > 0);
  gtk_widget_set_sensitive (self->unit_step[2], self->have_unit && self->unit_y < h - 1);
  gtk_widget_set_sensitive (self->unit_step[3], self->have_unit && self->unit_x < w - 1);
}

/* Points the popover at unit (@ax, @ay) of the zoomed channel. */
static void
point_at_unit (MiradaActivationsPanel *self, gint64 ax, gint64 ay)
{
  GtkWidget *picture = mirada_panel_get_picture (MIRADA_PANEL (self));
  GdkPaintable *paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));
  double w = gtk_widget_get_width (picture), h = gtk_widget_get_height (picture);
  double pw, ph, scale;
  GdkRectangle at;

  if (paintable == NULL || w <= 0 || h <= 0 || self->zoom_factor <= 0)
    return;
  pw = gdk_paintable_get_intrinsic_width (paintable);
  ph = gdk_paintable_get_intrinsic_height (paintable);
  if (pw <= 0 || ph <= 0)
    return;
  scale = MIN (w / pw, h / ph);
  at.x = (int) ((w - pw * scale) / 2 + (ax + 0.5) * self->zoom_factor * scale);
  at.y = (int) ((h - ph * scale) / 2 + (ay + 0.5) * self->zoom_factor * scale);
  at.width = at.height = 1;
  gtk_popover_set_pointing_to (GTK_POPOVER (self->unit_popover), &at);
}

gboolean
mirada_activations_panel_step_unit (MiradaActivationsPanel *self,
                                    int                     dy,
                                    int                     dx)
{
  gint64 y, x;

  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), FALSE);
  if (!self->have_unit || self->activation == NULL || self->zoom_channel != self->unit_c)
    return FALSE;
  /* clamped at the map's edges: a step off the map stays put */
  y = CLAMP (self->unit_y + dy, 0, self->activation->shape[1] - 1);
  x = CLAMP (self->unit_x + dx, 0, self->activation->shape[2] - 1);
  if (y == self->unit_y && x == self->unit_x)
    return FALSE;
  point_at_unit (self, x, y);
  return mirada_activations_panel_explain_unit (self, (int) x, (int) y);
}

gboolean
mirada_activations_panel_get_unit (MiradaActivationsPanel *self,
                                   int                    *ay,
                                   int                    *ax,
                                   MirRect                *field,
                                   double                 *value,
                                   double                 *engine)
{
  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), FALSE);
  if (!self->have_unit || self->unit_text == NULL)
    return FALSE;
  if (ay != NULL)
    *ay = (int) self->unit_y;
  if (ax != NULL)
    *ax = (int) self->unit_x;
  if (field != NULL)
    *field = self->unit_field;
  if (value != NULL)
    *value = self->unit_have_value ? self->unit_value : NAN;
  if (engine != NULL)
    *engine = self->unit_have_value ? self->unit_engine : NAN;
  return TRUE;
}

gboolean
mirada_activations_panel_get_unit_field (MiradaActivationsPanel *self,
                                         MirRect                *field,
                                         MirRect                *padded,
                                         gint64                 *in_h,
                                         gint64                 *in_w,
                                         MirImage              **input)
{
  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), FALSE);
  if (!self->have_unit || self->unit_input == NULL || !self->unit_open)
    return FALSE;
  *field = self->unit_field;
  *padded = self->unit_padded;
  *in_h = self->unit_in_h;
  *in_w = self->unit_in_w;
  *input = self->unit_input;
  return TRUE;
}

void
mirada_activations_panel_set_unit_padding (MiradaActivationsPanel *self,
                                           gboolean                show)
{
  g_return_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self));
  if (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (self->unit_padding_toggle)) != !!show)
    gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->unit_padding_toggle), show);
}

static void
padding_toggled_cb (GtkToggleButton *button, MiradaActivationsPanel *self)
{
  self->unit_padding = gtk_toggle_button_get_active (button);
  if (self->have_unit && self->zoom_channel == self->unit_c)
    mirada_activations_panel_explain_unit (self, (int) self->unit_x, (int) self->unit_y);
}

static void
step_clicked_cb (GtkButton *button, MiradaActivationsPanel *self)
{
  int which = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "mirada-step"));
  static const int dy[4] = { 0, -1, 1, 0 }, dx[4] = { -1, 0, 0, 1 };

  mirada_activations_panel_step_unit (self, dy[which], dx[which]);
}

static gboolean
unit_key_pressed_cb (GtkEventControllerKey *controller,
                     guint                  keyval,
                     guint                  keycode,
                     GdkModifierType        state,
                     MiradaActivationsPanel *self)
{
  switch (keyval)
    {
    case GDK_KEY_Left: case GDK_KEY_KP_Left:
      mirada_activations_panel_step_unit (self, 0, -1);
      return TRUE;
    case GDK_KEY_Right: case GDK_KEY_KP_Right:
      mirada_activations_panel_step_unit (self, 0, 1);
      return TRUE;
    case GDK_KEY_Up: case GDK_KEY_KP_Up:
      mirada_activations_panel_step_unit (self, -1, 0);
      return TRUE;
    case GDK_KEY_Down: case GDK_KEY_KP_Down:
      mirada_activations_panel_step_unit (self, 1, 0);
      return TRUE;
    default:
      return FALSE;
    }
}

gboolean
mirada_activations_panel_explain_unit (MiradaActivationsPanel *self,
                                       int                     ax,
                                       int                     ay)
{
  UnitJob *job;

  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), FALSE);
  if (self->model == NULL || self->input == NULL || self->zoom_channel < 0 ||
      self->activation == NULL || ax < 0 || ay < 0 || ax >= self->activation->shape[2] ||
      ay >= self->activation->shape[1])
    return FALSE;
  self->have_unit = TRUE;
  self->unit_y = ay;
  self->unit_x = ax;
  self->unit_c = self->zoom_channel;
  update_step_buttons (self);
  job = g_new0 (UnitJob, 1);
  job->model = mir_model_ref (self->model);
  job->input = mir_image_ref (self->input);
  job->layer = self->layer;
  job->y = ay;
  job->x = ax;
  job->c = self->zoom_channel;
  job->padding = self->unit_padding;
  job->layer_name = g_strdup (self->layer_name);
  g_clear_pointer (&self->unit_text, g_free);
  mirada_job_runner_run (self->unit_runner, NULL, unit_worker, job, (GDestroyNotify) unit_job_free,
                         (GDestroyNotify) unit_result_free, unit_done, g_object_ref (self),
                         g_object_unref);
  return TRUE;
}

const char *
mirada_activations_panel_get_unit_text (MiradaActivationsPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_ACTIVATIONS_PANEL (self), NULL);
  return self->unit_text;
}

static void
picture_pressed_cb (GtkGestureClick        *gesture,
                    int                     n_press,
                    double                  x,
                    double                  y,
                    MiradaActivationsPanel *self)
{
  int channel, ax, ay;
  float value;

  /* in the zoom: a click explains the unit under the pointer */
  if (self->zoom_channel >= 0)
    {
      if (mirada_activations_panel_value_at (self, x, y, &ax, &ay, &value))
        {
          GdkRectangle at = { (int) x, (int) y, 1, 1 };

          gtk_popover_set_pointing_to (GTK_POPOVER (self->unit_popover), &at);
          mirada_activations_panel_explain_unit (self, ax, ay);
        }
      return;
    }
  channel = mirada_activations_panel_channel_at (self, x, y);
  if (channel >= 0)
    mirada_activations_panel_zoom_channel (self, channel);
}

static void
picture_motion_cb (GtkEventControllerMotion *controller,
                   double                    x,
                   double                    y,
                   MiradaActivationsPanel   *self)
{
  int ax, ay;
  float value;

  if (mirada_activations_panel_value_at (self, x, y, &ax, &ay, &value))
    {
      /* Translators: channel 5, the activation at column x, row y, and its value */
      g_autofree char *text = g_strdup_printf (_("Channel %d at (%d, %d): %.5g"),
                                               self->zoom_channel, ax, ay, value);

      mirada_panel_set_status (MIRADA_PANEL (self), text);
    }
  else if (self->zoom_channel >= 0)
    show_channel_summary (self);
}

static void
unit_popover_closed_cb (MiradaActivationsPanel *self)
{
  self->unit_open = FALSE;
  g_signal_emit (self, signals[UNIT_CHANGED], 0);
}

static void
back_clicked_cb (MiradaActivationsPanel *self)
{
  mirada_activations_panel_zoom_channel (self, -1);
}

GtkWidget *
mirada_activations_panel_new (void)
{
  return g_object_new (MIRADA_TYPE_ACTIVATIONS_PANEL, NULL);
}

static void
mirada_activations_panel_dispose (GObject *object)
{
  MiradaActivationsPanel *self = MIRADA_ACTIVATIONS_PANEL (object);

  if (self->unit_runner != NULL)
    mirada_job_runner_cancel (self->unit_runner);
  g_clear_object (&self->unit_runner);
  g_clear_pointer (&self->unit_popover, gtk_widget_unparent);
  g_clear_pointer (&self->unit_text, g_free);
  g_clear_pointer (&self->unit_input, mir_image_unref);
  g_clear_pointer (&self->model, mir_model_unref);
  g_clear_pointer (&self->input, mir_image_unref);
  g_clear_pointer (&self->activation, mir_tensor_unref);
  g_clear_pointer (&self->stats, g_free);
  g_clear_pointer (&self->layer_name, g_free);

  G_OBJECT_CLASS (mirada_activations_panel_parent_class)->dispose (object);
}

static void
mirada_activations_panel_class_init (MiradaActivationsPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  MiradaPanelClass *panel_class = MIRADA_PANEL_CLASS (klass);

  object_class->dispose = mirada_activations_panel_dispose;
  /* the explained unit changed, or the popover closed: the canvas follows */
  signals[UNIT_CHANGED] = g_signal_new ("unit-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  panel_class->needs_input = TRUE;
  panel_class->start_on_first_conv = TRUE;
  panel_class->layer_wanted = mirada_activations_panel_layer_wanted;
  panel_class->model_changed = mirada_activations_panel_model_changed;
  panel_class->create_job = mirada_activations_panel_create_job;
  panel_class->job_free = (GDestroyNotify) activations_job_free;
  panel_class->worker = activations_worker;
  panel_class->result_free = (GDestroyNotify) activations_result_free;
  panel_class->show_result = mirada_activations_panel_show_result;
}

static void
mirada_activations_panel_init (MiradaActivationsPanel *self)
{
  MiradaPanel *panel = MIRADA_PANEL (self);
  GtkWidget *picture = mirada_panel_get_picture (panel);
  GtkGesture *click = gtk_gesture_click_new ();
  GtkEventController *motion = gtk_event_controller_motion_new ();

  self->zoom_channel = -1;
  gtk_widget_set_tooltip_text (GTK_WIDGET (mirada_panel_get_layer_dropdown (panel)),
                               _("The layer whose output is shown: one small image per channel, in viridis. It starts on the first convolution: the layers before it only prepare the image."));
  self->back_button = gtk_button_new_from_icon_name ("view-grid-symbolic");
  gtk_widget_set_tooltip_text (self->back_button, _("Back to all channels"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->back_button), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("All channels"), -1);
  gtk_widget_set_visible (self->back_button, FALSE);
  g_signal_connect_swapped (self->back_button, "clicked", G_CALLBACK (back_clicked_cb), self);
  gtk_box_append (mirada_panel_get_bar (panel), self->back_button);

  g_signal_connect (click, "pressed", G_CALLBACK (picture_pressed_cb), self);
  gtk_widget_add_controller (picture, GTK_EVENT_CONTROLLER (click));
  g_signal_connect (motion, "motion", G_CALLBACK (picture_motion_cb), self);
  gtk_widget_add_controller (picture, motion);
  gtk_widget_set_tooltip_text (picture, _("Click a channel to see it large, with the value under the pointer; "
                                          "click a unit there to see which input pixels it looks at and how "
                                          "its value is made"));
  /* the unit explanation: the input with the receptive field, and the sum */
  self->unit_runner = mirada_job_runner_new ();
  self->unit_popover = gtk_popover_new ();
  {
    GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
    GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);

    self->unit_picture = GTK_PICTURE (gtk_picture_new ());
    gtk_widget_set_size_request (GTK_WIDGET (self->unit_picture), 256, 256);
    static const char *const arrows[4] = { "◀", "▲", "▼", "▶" };
    const char *step_tips[4] = { _("One unit left (Left arrow)"), _("One unit up (Up arrow)"),
                                 _("One unit down (Down arrow)"), _("One unit right (Right arrow)") };
    GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
    GtkEventController *keys = gtk_event_controller_key_new ();

    for (int i = 0; i < 4; i++)
      {
        self->unit_step[i] = gtk_button_new_with_label (arrows[i]);
        g_object_set_data (G_OBJECT (self->unit_step[i]), "mirada-step", GINT_TO_POINTER (i));
        gtk_widget_set_tooltip_text (self->unit_step[i], step_tips[i]);
        gtk_accessible_update_property (GTK_ACCESSIBLE (self->unit_step[i]),
                                        GTK_ACCESSIBLE_PROPERTY_LABEL, step_tips[i], -1);
        g_signal_connect (self->unit_step[i], "clicked", G_CALLBACK (step_clicked_cb), self);
        gtk_box_append (GTK_BOX (bar), self->unit_step[i]);
      }
    /* Translators: a toggle in the unit explanation: show what "same" and
     * "valid" padding do (Keras' names, kept in quotes) */
    self->unit_padding_toggle = gtk_toggle_button_new_with_label (_("“same” vs “valid”"));
    gtk_widget_set_tooltip_text (self->unit_padding_toggle,
                                 _("Show what “same” and “valid” padding do to this layer: the map's "
                                   "size under each and, on the input, the region the “valid” windows "
                                   "read framed in green (the pixels they never read darkened) and the "
                                   "border “same” adds hatched in orange"));
    gtk_widget_set_halign (bar, GTK_ALIGN_CENTER);
    g_signal_connect (self->unit_padding_toggle, "toggled", G_CALLBACK (padding_toggled_cb), self);
    update_step_buttons (self);
    /* the arrow keys step the unit while the popover is open (capture:
     * before the buttons and the label move the focus or the cursor) */
    gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
    g_signal_connect (keys, "key-pressed", G_CALLBACK (unit_key_pressed_cb), self);
    gtk_widget_add_controller (self->unit_popover, keys);

    self->unit_label = GTK_LABEL (gtk_label_new (""));
    gtk_widget_add_css_class (GTK_WIDGET (self->unit_label), "monospace");
    gtk_label_set_selectable (self->unit_label, TRUE);
    gtk_label_set_wrap (self->unit_label, TRUE);
    gtk_label_set_max_width_chars (self->unit_label, 56);
    gtk_label_set_xalign (self->unit_label, 0);
    /* side by side, so that it fits a 720-pixel-high window: the figure
     * and the controls on the left, the numbers on the right */
    gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->unit_picture));
    gtk_box_append (GTK_BOX (box), bar);
    gtk_box_append (GTK_BOX (box), self->unit_padding_toggle);
    gtk_box_append (GTK_BOX (row), box);
    gtk_widget_set_valign (GTK_WIDGET (self->unit_label), GTK_ALIGN_START);
    gtk_box_append (GTK_BOX (row), GTK_WIDGET (self->unit_label));
    gtk_popover_set_child (GTK_POPOVER (self->unit_popover), row);
  }
  gtk_widget_set_parent (self->unit_popover, picture);
  g_signal_connect_swapped (self->unit_popover, "closed", G_CALLBACK (unit_popover_closed_cb), self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Activation grid"), -1);
}
