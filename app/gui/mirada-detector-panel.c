/* mirada-detector-panel.c: detector controls bound to GSettings. */
#define G_LOG_DOMAIN "mirada-detector-panel"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-canvas.h"
#include "mirada-detector-panel.h"
#include "mirada-settings.h"

#define MAX_CLASSES 256

typedef struct
{
  GtkCheckButton *enabled;
  GtkAdjustment *threshold;
  GtkAdjustment *exception;
  GtkWidget *exception_scale;
  GtkWidget *exception_note; /* "methods 2.1 and 2.2 only", shown in method 1 */
  GtkLabel *count;
  GtkToggleButton *field;    /* show this class's probability field on the photo */
} ClassRow;

struct _MiradaDetectorPanel
{
  GtkBox parent_instance;

  /* template */
  GtkAdjustment *window_adjustment;
  GtkAdjustment *stride_adjustment;
  GtkAdjustment *levels_adjustment;
  GtkAdjustment *radius_adjustment;
  AdwComboRow *method_row;
  GtkDropDown *grouping_dropdown;
  GtkSwitch *compat_switch;
  GtkLabel *note_label;
  GtkLabel *background_label;
  GtkLabel *no_classes_label;
  GtkBox *classes_box;
  GtkWidget *truth_group;
  GtkLabel *eval_label;
  GtkLabel *eval_detail_label;
  GtkSwitch *truth_switch;
  GtkAdjustment *field_opacity_adjustment;
  GtkToggleButton *mark_background_button;
  GtkToggleButton *mark_class_button;
  GtkEntry *new_class_entry;
  AdwActionRow *examples_row;
  GtkButton *clear_examples_button;
  GtkButton *undo_examples_button;
  AdwComboRow *embedding_layer_row;
  GtkStringList *embedding_layer_list;
  gboolean updating_layers;

  /* owned */
  GSettings *settings;
  GArray *rows; /* ClassRow */
  gint background_class; /* mir_detect_find_background_class(), -1 for none */
  guint grid_changed_id;

  /* borrowed */
  MiradaSession *session;
};

G_DEFINE_FINAL_TYPE (MiradaDetectorPanel, mirada_detector_panel, GTK_TYPE_BOX)

enum {
  FILTER_CHANGED,
  GRID_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
emit_filter_changed (MiradaDetectorPanel *self)
{
  g_signal_emit (self, signals[FILTER_CHANGED], 0);
}

static gboolean
emit_grid_changed_cb (gpointer user_data)
{
  MiradaDetectorPanel *self = user_data;

  self->grid_changed_id = 0;
  g_signal_emit (self, signals[GRID_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

static void
grid_value_changed_cb (MiradaDetectorPanel *self)
{
  /* Spin buttons change by one per click: wait for the value to settle
   * before classifying every window again. */
  g_clear_handle_id (&self->grid_changed_id, g_source_remove);
  self->grid_changed_id = g_timeout_add (250, emit_grid_changed_cb, self);
}

static const char *const method_choices[] = { "1", "2.1", "2.2", NULL };
static const char *const grouping_choices[] = { "none", "nms", "merge", NULL };
/* the grouping a model without a background class starts with (index in
 * grouping_choices): on generated scenes merge gave a better F1 and count
 * than NMS for such a model (docs/detector.md, "A model without a background
 * class") */
#define NO_BACKGROUND_GROUPING 2

static void
draw_swatch (GtkDrawingArea *area,
             cairo_t        *cr,
             int             width,
             int             height,
             gpointer        user_data)
{
  GdkRGBA color;

  mirada_class_color (GPOINTER_TO_UINT (user_data), &color);
  gdk_cairo_set_source_rgba (cr, &color);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_fill (cr);
}

static GtkWidget *
labelled_scale (GtkAdjustment *adjustment,
                const char    *title,
                const char    *tooltip)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *label = gtk_label_new (title);
  GtkWidget *scale = gtk_scale_new (GTK_ORIENTATION_HORIZONTAL, adjustment);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "caption");
  gtk_scale_set_draw_value (GTK_SCALE (scale), TRUE);
  gtk_scale_set_value_pos (GTK_SCALE (scale), GTK_POS_RIGHT);
  gtk_scale_set_digits (GTK_SCALE (scale), 3);
  gtk_widget_set_hexpand (scale, TRUE);
  gtk_widget_set_tooltip_text (box, tooltip);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), scale);
  return box;
}

/* The sidebar says why boxes are grouped when the model has no background
 * class (and stays quiet when the user turned grouping off). */
static void
field_toggled_cb (GtkToggleButton     *button,
                  MiradaDetectorPanel *self)
{
  guint k = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "class-index"));

  if (self->session != NULL)
    mirada_session_set_field_shown (self->session, k, gtk_toggle_button_get_active (button));
}

static void
field_opacity_cb (MiradaDetectorPanel *self)
{
  if (self->session != NULL)
    mirada_session_set_field_opacity (self->session,
                                      gtk_adjustment_get_value (self->field_opacity_adjustment));
}

static void
update_background_note (MiradaDetectorPanel *self)
{
  gtk_widget_set_visible (GTK_WIDGET (self->background_label),
                          self->rows->len > 0 && self->background_class < 0 &&
                          gtk_drop_down_get_selected (self->grouping_dropdown) != 0 /* none */);
}

/* Method 1 stops at filter 1: the exception factor does nothing there, so
 * its slider is greyed out and says which methods use it. */
static void
update_exception_rows (MiradaDetectorPanel *self)
{
  gboolean used = adw_combo_row_get_selected (self->method_row) != 0;

  for (guint i = 0; i < self->rows->len; i++)
    {
      ClassRow *row = &g_array_index (self->rows, ClassRow, i);

      gtk_widget_set_sensitive (row->exception_scale, used);
      gtk_widget_set_visible (row->exception_note, !used);
    }
}

gboolean
mirada_detector_panel_get_exception_sensitive (MiradaDetectorPanel *self,
                                               guint                class_index)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), FALSE);
  g_return_val_if_fail (class_index < self->rows->len, FALSE);
  return gtk_widget_get_sensitive (g_array_index (self->rows, ClassRow, class_index).exception_scale);
}

static void
clear_rows (MiradaDetectorPanel *self)
{
  GtkWidget *child;

  for (guint i = 0; i < self->rows->len; i++)
    {
      ClassRow *row = &g_array_index (self->rows, ClassRow, i);

      g_signal_handlers_disconnect_by_data (row->threshold, self);
      g_signal_handlers_disconnect_by_data (row->exception, self);
      if (i == 0)
        {
          g_settings_unbind (row->threshold, "value");
          g_settings_unbind (row->exception, "value");
        }
      g_clear_object (&row->threshold);
      g_clear_object (&row->exception);
    }
  g_array_set_size (self->rows, 0);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->classes_box))))
    gtk_box_remove (self->classes_box, child);
}

void
mirada_detector_panel_set_classes (MiradaDetectorPanel *self,
                                   guint                n_classes,
                                   const char *const   *names)
{
  guint n_names = names != NULL ? g_strv_length ((char **) names) : 0;

  g_return_if_fail (MIRADA_IS_DETECTOR_PANEL (self));

  clear_rows (self);
  n_classes = MIN (n_classes, MAX_CLASSES);
  gtk_widget_set_visible (GTK_WIDGET (self->no_classes_label), n_classes == 0);
  self->background_class = n_names >= n_classes ? mir_detect_find_background_class (names) : -1;
  if (self->background_class >= (gint) n_classes)
    self->background_class = -1;
  /* Without a "nothing here" class every window gets some class and the
   * windows over one object overlap by the dozen: start with the grouping
   * that suits that best, unless the user chose one. */
  if (n_classes > 0 && self->background_class < 0)
    {
      g_autoptr(GVariant) chosen = g_settings_get_user_value (self->settings, "grouping");

      if (chosen == NULL)
        gtk_drop_down_set_selected (self->grouping_dropdown, NO_BACKGROUND_GROUPING);
    }

  for (guint k = 0; k < n_classes; k++)
    {
      g_autofree char *name = k < n_names ? g_strdup (names[k]) : g_strdup_printf ("%u", k);
      GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
      GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *swatch = gtk_drawing_area_new ();
      GtkWidget *name_label = gtk_label_new (name);
      GtkWidget *count = gtk_label_new ("–");
      GtkWidget *enabled = gtk_check_button_new ();
      /* Translators: a toggle beside each class: show its probability field on the photo */
      GtkWidget *field = gtk_toggle_button_new_with_label (_("Field"));
      ClassRow row;

      gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (swatch), 12);
      gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (swatch), 12);
      gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (swatch), draw_swatch, GUINT_TO_POINTER (k), NULL);
      gtk_widget_set_valign (swatch, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (name_label, "heading");
      gtk_label_set_xalign (GTK_LABEL (name_label), 0);
      gtk_label_set_ellipsize (GTK_LABEL (name_label), PANGO_ELLIPSIZE_END);
      gtk_widget_set_hexpand (name_label, TRUE);
      gtk_widget_add_css_class (count, "count-label");
      gtk_widget_set_tooltip_text (count, _("Windows kept for this class with the current settings"));
      /* a "background" class ("nothing here", as the built-in model has) is
       * never looked for: its boxes would cover the whole photo */
      gtk_check_button_set_active (GTK_CHECK_BUTTON (enabled), (gint) k != self->background_class);
      gtk_widget_set_sensitive (enabled, (gint) k != self->background_class);
      gtk_widget_set_tooltip_text (enabled, (gint) k != self->background_class
                                   ? _("Look for this class")
                                   : self->session != NULL && mirada_session_get_model (self->session) != NULL
                                     && k >= mir_model_get_n_classes (mirada_session_get_model (self->session))
                                   ? _("The windows your background examples rejected (By Example): never drawn.")
                                   : _("This is the model’s background class (“nothing here”): its windows are never drawn."));
      gtk_accessible_update_property (GTK_ACCESSIBLE (enabled), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
      row.enabled = GTK_CHECK_BUTTON (enabled);
      gtk_box_append (GTK_BOX (header), enabled);
      gtk_box_append (GTK_BOX (header), swatch);
      gtk_box_append (GTK_BOX (header), name_label);
      gtk_box_append (GTK_BOX (header), count);
      gtk_widget_add_css_class (field, "flat");
      gtk_widget_set_valign (field, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (field, _("Show this class’s probability field on the photo: P as a heat map, the threshold as a contour line, and what filter 2 and the exception factor decided"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (field), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
      g_object_set_data (G_OBJECT (field), "class-index", GUINT_TO_POINTER (k));
      gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (field),
                                    self->session != NULL && mirada_session_get_field_shown (self->session, k));
      g_signal_connect (field, "toggled", G_CALLBACK (field_toggled_cb), self);
      row.field = GTK_TOGGLE_BUTTON (field);
      gtk_box_append (GTK_BOX (header), field);
      gtk_box_append (GTK_BOX (box), header);

      /* arrow keys move by 0.01, Page Up/Down by 0.05; a drag still gives any value */
      row.threshold = g_object_ref_sink (gtk_adjustment_new (g_settings_get_double (self->settings, "threshold"),
                                                              0.0, 1.0, 0.01, 0.05, 0.0));
      row.exception = g_object_ref_sink (gtk_adjustment_new (g_settings_get_double (self->settings, "exception-factor"),
                                                              0.0, 1.0, 0.01, 0.05, 0.0));
      row.count = GTK_LABEL (count);
      gtk_box_append (GTK_BOX (box),
                      labelled_scale (row.threshold, _("Threshold P(x)"),
                                      _("Threshold P(x), filter 1 (equation 1): keep window n when Pₙ(x) ≥ P(x). Higher values keep fewer, surer windows.")));
      {
        GtkWidget *exception_box = labelled_scale (row.exception, _("Exception factor fₑ(x)"),
                                                   _("Exception factor fₑ(x), 0 ≤ fₑ(x) ≤ 1: the value that stands in for a missing neighbour when the neighbourhood mean of a selected window is computed (equation 2). Used by methods 2.1 and 2.2."));

        row.exception_scale = gtk_widget_get_last_child (exception_box);
        /* one line, not wrapped: a wrapping label per class made every
         * relayout of the sidebar (each progress step) cost tens of ms */
        row.exception_note = gtk_label_new (_("Only methods 2.1 and 2.2 use it"));
        gtk_label_set_xalign (GTK_LABEL (row.exception_note), 0);
        gtk_label_set_ellipsize (GTK_LABEL (row.exception_note), PANGO_ELLIPSIZE_END);
        gtk_widget_add_css_class (row.exception_note, "caption");
        gtk_widget_add_css_class (row.exception_note, "dim-label");
        gtk_widget_insert_after (row.exception_note, exception_box, gtk_widget_get_first_child (exception_box));
        gtk_box_append (GTK_BOX (box), exception_box);
      }
      g_signal_connect_swapped (row.enabled, "toggled", G_CALLBACK (emit_filter_changed), self);
      g_signal_connect_swapped (row.threshold, "value-changed", G_CALLBACK (emit_filter_changed), self);
      g_signal_connect_swapped (row.exception, "value-changed", G_CALLBACK (emit_filter_changed), self);
      if (k == 0)
        {
          /* the first class's values become the defaults for the next model */
          g_settings_bind (self->settings, "threshold", row.threshold, "value", G_SETTINGS_BIND_SET);
          g_settings_bind (self->settings, "exception-factor", row.exception, "value", G_SETTINGS_BIND_SET);
        }
      g_array_append_val (self->rows, row);
      gtk_box_append (self->classes_box, box);
    }
  update_exception_rows (self);
  update_background_note (self);
}

GtkToggleButton *
mirada_detector_panel_get_mark_background_button (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);
  return self->mark_background_button;
}

gint
mirada_detector_panel_get_background_class (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), -1);
  return self->background_class;
}

const char *
mirada_detector_panel_get_background_note (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);
  return gtk_widget_get_visible (GTK_WIDGET (self->background_label))
         ? gtk_label_get_label (self->background_label) : NULL;
}

guint
mirada_detector_panel_get_n_classes (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), 0);
  return self->rows->len;
}

MirDetectParams *
mirada_detector_panel_dup_params (MiradaDetectorPanel *self)
{
  static const MirDetectMethod methods[] = { MIR_DETECT_METHOD_1, MIR_DETECT_METHOD_2_1, MIR_DETECT_METHOD_2_2 };
  static const MirDetectGrouping groupings[] = { MIR_DETECT_GROUP_NONE, MIR_DETECT_GROUP_NMS, MIR_DETECT_GROUP_MERGE };
  MirDetectParams *params;
  guint method, grouping;

  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);

  method = MIN (adw_combo_row_get_selected (self->method_row), G_N_ELEMENTS (methods) - 1);
  grouping = MIN (gtk_drop_down_get_selected (self->grouping_dropdown), G_N_ELEMENTS (groupings) - 1);
  /* the engine's defaults (e.g. method 2.1 takes 1 − P for class 1, as the report does) */
  params = mir_detect_params_new (self->rows->len, methods[method]);
  params->grouping = groupings[grouping];
  params->radius = (guint) gtk_adjustment_get_value (self->radius_adjustment);
  params->notebook_compat = gtk_switch_get_active (self->compat_switch);
  for (guint k = 0; k < params->n_classes; k++)
    {
      ClassRow *row = &g_array_index (self->rows, ClassRow, k);

      params->classes[k].enabled = gtk_check_button_get_active (row->enabled) &&
                                   (gint) k != self->background_class;
      params->classes[k].threshold = gtk_adjustment_get_value (row->threshold);
      params->classes[k].exception = gtk_adjustment_get_value (row->exception);
    }
  return params;
}

gboolean
mirada_detector_panel_get_notebook_compat (MiradaDetectorPanel *self)
{
  return gtk_switch_get_active (self->compat_switch);
}

int
mirada_detector_panel_get_window (MiradaDetectorPanel *self)
{
  return (int) gtk_adjustment_get_value (self->window_adjustment);
}

guint
mirada_detector_panel_get_levels (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), 1);
  return (guint) gtk_adjustment_get_value (self->levels_adjustment);
}

int
mirada_detector_panel_get_stride (MiradaDetectorPanel *self)
{
  return (int) gtk_adjustment_get_value (self->stride_adjustment);
}

void
mirada_detector_panel_set_counts (MiradaDetectorPanel *self,
                                  const guint         *counts)
{
  g_return_if_fail (MIRADA_IS_DETECTOR_PANEL (self));

  for (guint k = 0; k < self->rows->len; k++)
    {
      ClassRow *row = &g_array_index (self->rows, ClassRow, k);
      g_autofree char *text = counts != NULL ? g_strdup_printf ("%u", counts[k]) : g_strdup ("–");

      gtk_label_set_label (row->count, text);
    }
}

void
mirada_detector_panel_set_note (MiradaDetectorPanel *self,
                                const char          *note)
{
  g_return_if_fail (MIRADA_IS_DETECTOR_PANEL (self));

  gtk_label_set_label (self->note_label, note != NULL ? note : "");
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), note != NULL);
}

char *
mirada_detector_format_evaluation (const MirDetectEval *eval)
{
  /* Translators: detection quality against the ground truth */
  return g_strdup_printf (_("Precision %.3f · Recall %.3f · F1 %.3f"),
                          eval->precision, eval->recall, eval->f1);
}

void
mirada_detector_panel_set_evaluation (MiradaDetectorPanel *self,
                                      const MirDetectEval *eval,
                                      const char          *truth_name)
{
  g_autofree char *text = NULL;
  g_autofree char *detail = NULL;

  g_return_if_fail (MIRADA_IS_DETECTOR_PANEL (self));

  gtk_widget_set_visible (self->truth_group, truth_name != NULL);
  if (truth_name == NULL)
    return;
  if (eval == NULL)
    {
      gtk_label_set_label (self->eval_label, "–");
      gtk_label_set_label (self->eval_detail_label, truth_name);
      return;
    }
  text = mirada_detector_format_evaluation (eval);
  /* Translators: "3 of 4 true boxes found, 5 boxes detected (IoU ≥ 0.5), from
   * scene.json"; the IoU is a number formatted in your locale (0,5) */
  detail = g_strdup_printf (_("%u of %u true boxes found, %u boxes detected (IoU ≥ %.1f), from %s"),
                            eval->true_positives, eval->n_truth, eval->n_detected, 0.5, truth_name);
  gtk_label_set_label (self->eval_label, text);
  gtk_label_set_label (self->eval_detail_label, detail);
}

const char *
mirada_detector_panel_get_evaluation_text (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);
  return gtk_widget_get_visible (self->truth_group) ? gtk_label_get_label (self->eval_label) : NULL;
}

const char *
mirada_detector_panel_get_evaluation_detail (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);
  return gtk_widget_get_visible (self->truth_group) ? gtk_label_get_label (self->eval_detail_label) : NULL;
}

GArray *
mirada_detector_panel_dup_enabled (MiradaDetectorPanel *self)
{
  GArray *enabled = g_array_new (FALSE, FALSE, sizeof (gint));

  for (guint k = 0; k < self->rows->len; k++)
    if (gtk_check_button_get_active (g_array_index (self->rows, ClassRow, k).enabled))
      {
        gint c = (gint) k;
        g_array_append_val (enabled, c);
      }
  return enabled;
}

void
mirada_detector_panel_set_enabled (MiradaDetectorPanel *self,
                                   guint                class_index,
                                   gboolean             enabled)
{
  g_return_if_fail (class_index < self->rows->len);
  gtk_check_button_set_active (g_array_index (self->rows, ClassRow, class_index).enabled, enabled);
}

GtkAdjustment *
mirada_detector_panel_get_threshold_adjustment (MiradaDetectorPanel *self,
                                                guint                class_index)
{
  g_return_val_if_fail (class_index < self->rows->len, NULL);
  return g_array_index (self->rows, ClassRow, class_index).threshold;
}

GtkAdjustment *
mirada_detector_panel_get_exception_adjustment (MiradaDetectorPanel *self,
                                                guint                class_index)
{
  g_return_val_if_fail (class_index < self->rows->len, NULL);
  return g_array_index (self->rows, ClassRow, class_index).exception;
}

GtkToggleButton *
mirada_detector_panel_get_field_toggle (MiradaDetectorPanel *self,
                                        guint                class_index)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);
  g_return_val_if_fail (class_index < self->rows->len, NULL);
  return g_array_index (self->rows, ClassRow, class_index).field;
}

GtkAdjustment *
mirada_detector_panel_get_field_opacity_adjustment (MiradaDetectorPanel *self)
{
  g_return_val_if_fail (MIRADA_IS_DETECTOR_PANEL (self), NULL);
  return self->field_opacity_adjustment;
}

const char *
mirada_detector_panel_get_count_text (MiradaDetectorPanel *self,
                                      guint                class_index)
{
  g_return_val_if_fail (class_index < self->rows->len, NULL);
  return gtk_label_get_label (g_array_index (self->rows, ClassRow, class_index).count);
}

/* ------------------------------------------------------------------ */
/* Following the session */

static void
push_params (MiradaDetectorPanel *self)
{
  g_autoptr(MirDetectParams) params = NULL;

  if (self->session == NULL)
    return;
  params = mirada_detector_panel_dup_params (self);
  mirada_session_set_params (self->session, params);
}

static void
push_geometry (MiradaDetectorPanel *self)
{
  /* the filter reads the notebook switch too */
  push_params (self);
  if (self->session != NULL)
    mirada_session_set_geometry (self->session, mirada_detector_panel_get_window (self),
                                 mirada_detector_panel_get_stride (self),
                                 mirada_detector_panel_get_levels (self),
                                 mirada_detector_panel_get_notebook_compat (self));
}

static void fill_embedding_layers (MiradaDetectorPanel *self);

static void
session_model_cb (MiradaDetectorPanel *self)
{
  MirModel *model = mirada_session_get_model (self->session);
  g_auto(GStrv) names = mirada_session_dup_class_names (self->session);

  mirada_detector_panel_set_classes (self, model != NULL ? mir_model_get_n_classes (model) : 0,
                                     (const char *const *) names);
  push_params (self);
  fill_embedding_layers (self);
}

static void
session_grid_cb (MiradaDetectorPanel *self)
{
  MirDetectGrid *grid = mirada_session_get_grid (self->session);

  /* a classifier may give other classes than the model's output names */
  if (grid == NULL || grid->n_classes == self->rows->len)
    return;
  mirada_detector_panel_set_classes (self, grid->n_classes, (const char *const *) grid->class_names);
  /* a class by example scores 0.5 at the edge of "near its examples" and 1
   * at an example: start its threshold at that edge */
  {
    MirModel *model = mirada_session_get_model (self->session);
    guint first = model != NULL ? mir_model_get_n_classes (model) : grid->n_classes;

    for (guint k = first; k < self->rows->len; k++)
      if ((gint) k != self->background_class)
        gtk_adjustment_set_value (g_array_index (self->rows, ClassRow, k).threshold, 0.5);
  }
  push_params (self);
}

static void
session_result_cb (MiradaDetectorPanel *self)
{
  MirDetectResult *result = mirada_session_get_result (self->session);

  mirada_detector_panel_set_counts (self, result != NULL ? result->counts : NULL);
}

static void
session_note_cb (MiradaDetectorPanel *self)
{
  mirada_detector_panel_set_note (self, mirada_session_get_note (self->session));
}

/* Background and classes by example: what a click on the photo marks. */
static void
push_mark_label (MiradaDetectorPanel *self)
{
  const char *label = NULL;

  if (self->session == NULL)
    return;
  if (gtk_toggle_button_get_active (self->mark_background_button))
    label = "background";
  else if (gtk_toggle_button_get_active (self->mark_class_button))
    label = gtk_editable_get_text (GTK_EDITABLE (self->new_class_entry));
  mirada_session_set_mark_label (self->session, label);
}

static void
mark_toggled_cb (GtkToggleButton     *button,
                 MiradaDetectorPanel *self)
{
  /* one mark at a time; a class needs its name first */
  if (gtk_toggle_button_get_active (button))
    {
      GtkToggleButton *other = button == self->mark_background_button ? self->mark_class_button
                                                                       : self->mark_background_button;

      g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->new_class_entry))));

      if (button == self->mark_class_button && *name == '\0')
        {
          gtk_toggle_button_set_active (button, FALSE);
          gtk_widget_grab_focus (GTK_WIDGET (self->new_class_entry));
          return;
        }
      gtk_toggle_button_set_active (other, FALSE);
    }
  push_mark_label (self);
}

static void
clear_examples_cb (MiradaDetectorPanel *self)
{
  if (self->session != NULL)
    mirada_session_clear_examples (self->session);
}

static void
undo_examples_cb (MiradaDetectorPanel *self)
{
  if (self->session != NULL && !mirada_session_undo_examples (self->session))
    gtk_widget_error_bell (GTK_WIDGET (self));
}

/* "Features from": the head's input (item 0), then every layer of the model
 * before its output. */
static void
sync_embedding_layer (MiradaDetectorPanel *self)
{
  const char *layer = self->session != NULL ? mirada_session_get_embedding_layer (self->session) : NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->embedding_layer_list)), pick = 0;

  for (guint i = 1; layer != NULL && i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (self->embedding_layer_list, i), layer) == 0)
      pick = i;
  self->updating_layers = TRUE;
  adw_combo_row_set_selected (self->embedding_layer_row, pick);
  self->updating_layers = FALSE;
}

static void
fill_embedding_layers (MiradaDetectorPanel *self)
{
  MirModel *model = self->session != NULL ? mirada_session_get_model (self->session) : NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  guint n = model != NULL ? mir_model_get_n_nodes (model) : 0;

  g_ptr_array_add (names, (gpointer) _("Head input (default)"));
  for (guint i = 0; i + 1 < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);

      if (node->layer != NULL && !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT)
          && (node->shape.ndim == 2 || node->shape.ndim == 4))
        g_ptr_array_add (names, node->name);
    }
  g_ptr_array_add (names, NULL);
  self->updating_layers = TRUE;
  gtk_string_list_splice (self->embedding_layer_list, 0,
                          g_list_model_get_n_items (G_LIST_MODEL (self->embedding_layer_list)),
                          (const char *const *) names->pdata);
  self->updating_layers = FALSE;
  sync_embedding_layer (self);
}

static void
embedding_layer_selected_cb (MiradaDetectorPanel *self)
{
  guint i = adw_combo_row_get_selected (self->embedding_layer_row);

  if (self->updating_layers || self->session == NULL || i == GTK_INVALID_LIST_POSITION)
    return;
  mirada_session_set_embedding_layer (self->session, i == 0 ? NULL
                                      : gtk_string_list_get_string (self->embedding_layer_list, i));
}

static void
session_examples_cb (MiradaDetectorPanel *self)
{
  const MirDetectExamples *examples = mirada_session_get_examples (self->session);
  guint n = examples != NULL ? examples->items->len : 0;
  g_autofree char *text = NULL;

  if (n == 0)
    text = g_strdup (_("none"));
  else
    {
      g_auto(GStrv) labels = mir_detect_examples_dup_labels (examples);
      g_autofree char *joined = g_strjoinv (", ", labels);

      /* Translators: %u examples, then the labels they teach ("background, toy") */
      text = g_strdup_printf (ngettext ("%u example: %s", "%u examples: %s", n), n, joined);
    }
  adw_action_row_set_subtitle (self->examples_row, text);
  gtk_widget_set_sensitive (GTK_WIDGET (self->clear_examples_button), n > 0);
  gtk_widget_set_sensitive (GTK_WIDGET (self->undo_examples_button), n > 0);
  sync_embedding_layer (self);
}

/* A cancelled re-classification brings back the geometry of the last grid. */
static void
session_geometry_cb (MiradaDetectorPanel *self)
{
  gtk_adjustment_set_value (self->window_adjustment, mirada_session_get_window_size (self->session));
  gtk_adjustment_set_value (self->stride_adjustment, mirada_session_get_stride (self->session));
  gtk_adjustment_set_value (self->levels_adjustment, mirada_session_get_levels (self->session));
  gtk_switch_set_active (self->compat_switch, mirada_session_get_notebook_layout (self->session));
}

void
mirada_detector_panel_set_session (MiradaDetectorPanel *self,
                                   MiradaSession       *session)
{
  static const char *const geometry_props[] = {
    "notify::window-size", "notify::stride", "notify::levels", "notify::notebook-layout"
  };

  g_return_if_fail (MIRADA_IS_DETECTOR_PANEL (self));
  g_return_if_fail (session == NULL || MIRADA_IS_SESSION (session));

  if (self->session == session)
    return;
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      g_object_remove_weak_pointer (G_OBJECT (self->session), (gpointer *) &self->session);
    }
  self->session = session;
  if (session == NULL)
    return;
  g_object_add_weak_pointer (G_OBJECT (session), (gpointer *) &self->session);
  for (guint k = 0; k < self->rows->len; k++)
    gtk_toggle_button_set_active (g_array_index (self->rows, ClassRow, k).field,
                                  mirada_session_get_field_shown (session, k));
  gtk_adjustment_set_value (self->field_opacity_adjustment,
                            mirada_session_get_field_opacity (session));
  g_signal_connect_object (session, "notify::model", G_CALLBACK (session_model_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::grid", G_CALLBACK (session_grid_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::result", G_CALLBACK (session_result_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::note", G_CALLBACK (session_note_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "examples-changed", G_CALLBACK (session_examples_cb), self, G_CONNECT_SWAPPED);
  fill_embedding_layers (self);
  session_examples_cb (self);
  push_mark_label (self);
  for (guint i = 0; i < G_N_ELEMENTS (geometry_props); i++)
    g_signal_connect_object (session, geometry_props[i], G_CALLBACK (session_geometry_cb), self, G_CONNECT_SWAPPED);
  push_geometry (self);
}

static void
mirada_detector_panel_dispose (GObject *object)
{
  MiradaDetectorPanel *self = MIRADA_DETECTOR_PANEL (object);

  mirada_detector_panel_set_session (self, NULL);
  g_clear_handle_id (&self->grid_changed_id, g_source_remove);
  if (self->rows != NULL)
    {
      clear_rows (self);
      g_clear_pointer (&self->rows, g_array_unref);
    }
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (object), MIRADA_TYPE_DETECTOR_PANEL);

  G_OBJECT_CLASS (mirada_detector_panel_parent_class)->dispose (object);
}

static void
mirada_detector_panel_class_init (MiradaDetectorPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_detector_panel_dispose;

  /* Thresholds, exception factors, method, radius, grouping or the
   * notebook switch changed: filter the cached grid again. */
  signals[FILTER_CHANGED] =
    g_signal_new ("filter-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* Window size or stride changed (debounced): classify again. */
  signals[GRID_CHANGED] =
    g_signal_new ("grid-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_BASE "/ui/mirada-detector-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, window_adjustment);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, stride_adjustment);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, levels_adjustment);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, radius_adjustment);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, method_row);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, grouping_dropdown);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, compat_switch);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, note_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, background_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, no_classes_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, classes_box);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, truth_group);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, eval_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, eval_detail_label);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, truth_switch);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, field_opacity_adjustment);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, mark_background_button);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, mark_class_button);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, new_class_entry);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, examples_row);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, clear_examples_button);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, undo_examples_button);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, embedding_layer_row);
  gtk_widget_class_bind_template_child (widget_class, MiradaDetectorPanel, embedding_layer_list);
}

static void
mirada_detector_panel_init (MiradaDetectorPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self->mark_background_button, "toggled", G_CALLBACK (mark_toggled_cb), self);
  g_signal_connect (self->mark_class_button, "toggled", G_CALLBACK (mark_toggled_cb), self);
  g_signal_connect_swapped (self->new_class_entry, "changed", G_CALLBACK (push_mark_label), self);
  g_signal_connect_swapped (self->clear_examples_button, "clicked", G_CALLBACK (clear_examples_cb), self);
  g_signal_connect_swapped (self->undo_examples_button, "clicked", G_CALLBACK (undo_examples_cb), self);
  g_signal_connect_swapped (self->embedding_layer_row, "notify::selected", G_CALLBACK (embedding_layer_selected_cb), self);

  self->rows = g_array_new (FALSE, TRUE, sizeof (ClassRow));
  self->background_class = -1;
  self->settings = g_settings_new (APPLICATION_ID);

  g_settings_bind (self->settings, "window-size", self->window_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "stride", self->stride_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "radius", self->radius_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "scales", self->levels_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "notebook-compat", self->compat_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-truth", self->truth_switch, "active", G_SETTINGS_BIND_DEFAULT);
  mirada_settings_bind_choice (self->settings, "method", self->method_row, "selected",
                               method_choices);
  mirada_settings_bind_choice (self->settings, "grouping", self->grouping_dropdown, "selected",
                               grouping_choices);

  g_signal_connect_swapped (self->window_adjustment, "value-changed", G_CALLBACK (grid_value_changed_cb), self);
  g_signal_connect_swapped (self->stride_adjustment, "value-changed", G_CALLBACK (grid_value_changed_cb), self);
  g_signal_connect_swapped (self->levels_adjustment, "value-changed", G_CALLBACK (grid_value_changed_cb), self);
  g_signal_connect_swapped (self->radius_adjustment, "value-changed", G_CALLBACK (emit_filter_changed), self);
  /* the notebook layout drops the last column of windows: classify again */
  g_signal_connect_swapped (self->compat_switch, "notify::active", G_CALLBACK (grid_value_changed_cb), self);
  g_signal_connect_swapped (self->method_row, "notify::selected", G_CALLBACK (emit_filter_changed), self);
  g_signal_connect_swapped (self->method_row, "notify::selected", G_CALLBACK (update_exception_rows), self);
  g_signal_connect_swapped (self->grouping_dropdown, "notify::selected", G_CALLBACK (emit_filter_changed), self);
  g_signal_connect_swapped (self->grouping_dropdown, "notify::selected", G_CALLBACK (update_background_note), self);
  /* with a session, the panel asks it to filter or classify again */
  g_signal_connect (self, "filter-changed", G_CALLBACK (push_params), NULL);
  g_signal_connect (self, "grid-changed", G_CALLBACK (push_geometry), NULL);
  g_signal_connect_swapped (self->field_opacity_adjustment, "value-changed", G_CALLBACK (field_opacity_cb), self);
}
