/* mirada-window-presentation.c: presentation mode (F11) for a projector:
 * full screen, larger type (the window's .presentation CSS class), thick
 * boxes with large labels and a colour-blind-safe palette, the detector
 * controls folded away, one panel beside the photo (keys 1–4), and the
 * detector driven from the keyboard (PageUp/PageDown: stride; the threshold
 * sliders step 0.01, Shift or PageUp/PageDown 0.05). */
#define G_LOG_DOMAIN "mirada-window"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-window-private.h"

#define STRIDE_STEP 10          /* px, PageUp/PageDown */
#define THRESHOLD_STEP 0.01     /* arrows on a threshold slider */
#define THRESHOLD_PAGE 0.05     /* Shift+arrows, PageUp/PageDown on it */

/* Every widget redraws: the class colours of the swatches and plots follow
 * the palette, which they read when they draw. */
static void
queue_draw_all (GtkWidget *widget)
{
  gtk_widget_queue_draw (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    queue_draw_all (child);
}

static void
set_threshold_steps (MiradaWindow *self,
                     gboolean      presentation)
{
  guint n = mirada_detector_panel_get_n_classes (self->detector_panel);

  for (guint k = 0; k < n; k++)
    {
      GtkAdjustment *adj = mirada_detector_panel_get_threshold_adjustment (self->detector_panel, k);

      if (adj == NULL)
        continue;
      if (presentation)
        {
          /* remember the panel's own steps to give them back */
          if (g_object_get_data (G_OBJECT (adj), "mirada-steps") == NULL)
            {
              double *steps = g_new (double, 2);

              steps[0] = gtk_adjustment_get_step_increment (adj);
              steps[1] = gtk_adjustment_get_page_increment (adj);
              g_object_set_data_full (G_OBJECT (adj), "mirada-steps", steps, g_free);
            }
          gtk_adjustment_set_step_increment (adj, THRESHOLD_STEP);
          gtk_adjustment_set_page_increment (adj, THRESHOLD_PAGE);
        }
      else
        {
          double *steps = g_object_get_data (G_OBJECT (adj), "mirada-steps");

          if (steps != NULL)
            {
              gtk_adjustment_set_step_increment (adj, steps[0]);
              gtk_adjustment_set_page_increment (adj, steps[1]);
              g_object_set_data (G_OBJECT (adj), "mirada-steps", NULL);
            }
        }
    }
}

/* Escape belongs to win.cancel-job while a job runs (its cancel restores
 * the last boxes), to win.leave-presentation otherwise: one is enabled. */
static void
update_escape (MiradaWindow *self)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.leave-presentation",
                                 self->presentation && !mirada_window_get_busy (self));
}

void
mirada_window_set_presentation (MiradaWindow *self,
                                gboolean      presentation)
{
  g_return_if_fail (MIRADA_IS_WINDOW (self));

  presentation = !!presentation;
  if (self->presentation == presentation)
    return;
  self->presentation = presentation;
  if (presentation)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self), "presentation");
      gtk_window_fullscreen (GTK_WINDOW (self));
      adw_flap_set_reveal_flap (self->flap, FALSE);
      if (self->maximized >= 0)
        mirada_window_maximize_panel (self, -1);
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (self), "presentation");
      gtk_window_unfullscreen (GTK_WINDOW (self));
    }
  mirada_canvas_set_presentation (self->canvas, presentation);
  mirada_class_color_set_safe (presentation);
  set_threshold_steps (self, presentation);
  update_escape (self);
  _mirada_window_update_layout (self);
  queue_draw_all (GTK_WIDGET (self));
  g_object_notify (G_OBJECT (self), "presentation");
}

gboolean
mirada_window_get_presentation (MiradaWindow *self)
{
  g_return_val_if_fail (MIRADA_IS_WINDOW (self), FALSE);
  return self->presentation;
}

static void
leave_presentation_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  /* Escape: bound after win.cancel-job, which takes it while a job runs */
  mirada_window_set_presentation (MIRADA_WINDOW (widget), FALSE);
}

static void
show_panel_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  guint index = g_variant_get_uint32 (parameter);

  if (index >= MIRADA_N_PANELS)
    return;
  if (self->maximized >= 0)
    mirada_window_maximize_panel (self, (int) index);
  else
    mirada_window_show_panel (self, index);
}

static void
stride_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MiradaWindow *self = MIRADA_WINDOW (widget);
  int stride = g_settings_get_int (self->settings, "stride");
  int window = g_settings_get_int (self->settings, "window-size");

  /* the detector panel follows the setting and the session re-classifies */
  if (g_str_equal (action_name, "win.stride-up"))
    stride = MIN (stride + STRIDE_STEP, MAX (window, 1));
  else
    stride = MAX (stride - STRIDE_STEP, 1);
  g_settings_set_int (self->settings, "stride", stride);
}

/* Shift+arrows on a slider move it by a page, as PageUp/PageDown do. */
static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                MiradaWindow          *self)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  GtkScrollType scroll;

  if ((state & GDK_MODIFIER_MASK & ~GDK_LOCK_MASK) != GDK_SHIFT_MASK || !GTK_IS_RANGE (focus))
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Right:
    case GDK_KEY_KP_Right:
    case GDK_KEY_Up:
    case GDK_KEY_KP_Up:
      scroll = GTK_SCROLL_PAGE_FORWARD;
      break;
    case GDK_KEY_Left:
    case GDK_KEY_KP_Left:
    case GDK_KEY_Down:
    case GDK_KEY_KP_Down:
      scroll = GTK_SCROLL_PAGE_BACKWARD;
      break;
    default:
      return FALSE;
    }
  g_signal_emit_by_name (focus, "move-slider", scroll);
  return TRUE;
}

void
_mirada_window_presentation_class_init (GtkWidgetClass *widget_class)
{
  static const guint digits[][2] = {
    { GDK_KEY_1, GDK_KEY_KP_1 }, { GDK_KEY_2, GDK_KEY_KP_2 },
    { GDK_KEY_3, GDK_KEY_KP_3 }, { GDK_KEY_4, GDK_KEY_KP_4 },
  };

  /* F11 is an application accelerator (mirada-application.c) */
  gtk_widget_class_install_property_action (widget_class, "win.presentation", "presentation");
  gtk_widget_class_install_action (widget_class, "win.leave-presentation", NULL, leave_presentation_action);
  gtk_widget_class_install_action (widget_class, "win.show-panel", "u", show_panel_action);
  gtk_widget_class_install_action (widget_class, "win.stride-up", NULL, stride_action);
  gtk_widget_class_install_action (widget_class, "win.stride-down", NULL, stride_action);
  /* bubble phase: a focused entry or slider takes its keys first */
  for (guint i = 0; i < G_N_ELEMENTS (digits); i++)
    for (guint j = 0; j < 2; j++)
      gtk_widget_class_add_binding_action (widget_class, digits[i][j], 0, "win.show-panel", "u", i);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Page_Up, 0, "win.stride-up", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Page_Up, 0, "win.stride-up", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Page_Down, 0, "win.stride-down", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Page_Down, 0, "win.stride-down", NULL);
}

void
_mirada_window_presentation_init (MiradaWindow *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();

  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  g_signal_connect_object (self->session, "notify::busy", G_CALLBACK (update_escape), self, G_CONNECT_SWAPPED);
  update_escape (self);
}
