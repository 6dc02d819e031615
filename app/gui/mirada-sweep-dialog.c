/* mirada-sweep-dialog.c: threshold × fₑ sweep, table, plot, CSV. */
#define G_LOG_DOMAIN "mirada-sweep-dialog"

#include "config.h"

#include <locale.h>
#include <math.h>

#include <glib/gi18n.h>

#include <string.h>

#include "mirada-canvas.h"
#include "mirada-export.h"
#include "mirada-sweep-dialog.h"

#define MAX_SETTINGS 5000
#define CHUNK 25         /* settings filtered per idle iteration */

/* One table row: its cells as strings. */
#define MIRADA_TYPE_SWEEP_ITEM (mirada_sweep_item_get_type ())
G_DECLARE_FINAL_TYPE (MiradaSweepItem, mirada_sweep_item, MIRADA, SWEEP_ITEM, GObject)

struct _MiradaSweepItem
{
  GObject parent_instance;
  GStrv cells;
};

G_DEFINE_FINAL_TYPE (MiradaSweepItem, mirada_sweep_item, G_TYPE_OBJECT)

static void
mirada_sweep_item_finalize (GObject *object)
{
  g_strfreev (MIRADA_SWEEP_ITEM (object)->cells);
  G_OBJECT_CLASS (mirada_sweep_item_parent_class)->finalize (object);
}

static void
mirada_sweep_item_class_init (MiradaSweepItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mirada_sweep_item_finalize;
}

static void
mirada_sweep_item_init (MiradaSweepItem *self)
{
}

struct _MiradaSweepDialog
{
  AdwWindow parent_instance;

  GtkAdjustment *from_adj;
  GtkAdjustment *to_adj;
  GtkAdjustment *step_adj;
  GtkEntry *fe_entry;
  GtkDropDown *plot_fe_dropdown;
  GtkDrawingArea *plot;
  GtkColumnView *column_view;
  GtkLabel *status_label;
  GtkWidget *export_button;

  MirDetectGrid *grid;
  MirDetectParams *base;
  GArray *truth;          /* MirDetectTruthBox or NULL */
  GArray *classes;        /* guint: swept (enabled) classes */
  GArray *thresholds;     /* double */
  GArray *exceptions;     /* double */
  GArray *rows;           /* MiradaSweepRow */
  GListStore *items;
  guint n_scales;         /* pyramid levels the window scanned; the sweep uses the first */
  guint next;             /* next setting to filter */
  guint idle_id;
  guint restart_id;
  gboolean updating;
};

G_DEFINE_FINAL_TYPE (MiradaSweepDialog, mirada_sweep_dialog, ADW_TYPE_WINDOW)

static void
row_clear (gpointer data)
{
  MiradaSweepRow *row = data;

  g_clear_pointer (&row->mu, g_free);
  g_clear_pointer (&row->counts, g_free);
}

/* The locale writes 0,5: the list of exception factors is then separated
 * by semicolons ("0; 0,5; 1"), as spreadsheets do. */
static gboolean
decimal_comma (void)
{
  return strcmp (localeconv ()->decimal_point, ",") == 0;
}

static void
format_exceptions (GString      *text,
                   const double *values,
                   guint         n)
{
  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "%s%g", i == 0 ? "" : decimal_comma () ? "; " : ", ", values[i]);
}

/* A number for a person (the locale's decimal separator, as every other
 * number in the window) or for a CSV file (always '.'). */
static char *
fmt_double (double      v,
            const char *format,
            gboolean    for_csv)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    return g_strdup ("");
  if (!for_csv)
    {
      /* @format is "%.<digit>f" or "%.<digit>g" */
      int digits = format[2] - '0';

      g_return_val_if_fail (format[0] == '%' && format[1] == '.' && digits >= 0 && digits <= 9, NULL);
      return format[3] == 'g' ? g_strdup_printf ("%.*g", digits, v) : g_strdup_printf ("%.*f", digits, v);
    }
  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, v));
}

static const char *
class_name (MiradaSweepDialog *self,
            guint              c)
{
  return self->grid->class_names[c];
}

/* Column titles (translated for the table; the CSV keeps plain names). */
static GPtrArray *
column_titles (MiradaSweepDialog *self,
               gboolean           for_csv)
{
  GPtrArray *titles = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (titles, g_strdup (for_csv ? "threshold" : _("Threshold P(x)")));
  g_ptr_array_add (titles, g_strdup (for_csv ? "fe" : _("fₑ(x)")));
  for (guint i = 0; i < self->classes->len; i++)
    {
      guint c = g_array_index (self->classes, guint, i);

      g_ptr_array_add (titles, g_strdup_printf (for_csv ? "mu(%s)" : _("μ %s"), class_name (self, c)));
      g_ptr_array_add (titles, g_strdup_printf (for_csv ? "count(%s)" : _("Count %s"), class_name (self, c)));
    }
  if (self->truth != NULL)
    {
      g_ptr_array_add (titles, g_strdup (for_csv ? "precision" : _("Precision")));
      g_ptr_array_add (titles, g_strdup (for_csv ? "recall" : _("Recall")));
      g_ptr_array_add (titles, g_strdup ("F1"));
    }
  return titles;
}

static GStrv
row_cells (MiradaSweepDialog    *self,
           const MiradaSweepRow *row,
           gboolean              for_csv)
{
  GPtrArray *b = g_ptr_array_new ();

  g_ptr_array_add (b, fmt_double (row->threshold, "%.4g", for_csv));
  g_ptr_array_add (b, fmt_double (row->exception, "%.4g", for_csv));
  for (guint i = 0; i < self->classes->len; i++)
    {
      guint c = g_array_index (self->classes, guint, i);

      g_ptr_array_add (b, fmt_double (row->mu[c], "%.4f", for_csv));
      g_ptr_array_add (b, g_strdup_printf ("%u", row->counts[c]));
    }
  if (row->has_eval)
    {
      g_ptr_array_add (b, fmt_double (row->precision, "%.4f", for_csv));
      g_ptr_array_add (b, fmt_double (row->recall, "%.4f", for_csv));
      g_ptr_array_add (b, fmt_double (row->f1, "%.4f", for_csv));
    }
  g_ptr_array_add (b, NULL);
  return (GStrv) g_ptr_array_free (b, FALSE);
}

char *
mirada_sweep_dialog_to_csv (MiradaSweepDialog *self)
{
  g_autoptr(MiradaCsv) csv = mirada_csv_new ();
  g_autoptr(GPtrArray) titles = NULL;

  g_return_val_if_fail (MIRADA_IS_SWEEP_DIALOG (self), NULL);
  if (self->grid == NULL)
    return g_strdup ("");
  /* Cells hold numbers formatted with '.' (fmt_double for CSV); class
   * names in the titles are quoted by MiradaCsv when they need it. */
  titles = column_titles (self, TRUE);
  for (guint i = 0; i < titles->len; i++)
    mirada_csv_add_string (csv, titles->pdata[i]);
  mirada_csv_end_row (csv);
  for (guint r = 0; r < self->rows->len; r++)
    {
      g_auto(GStrv) cells = row_cells (self, &g_array_index (self->rows, MiradaSweepRow, r), TRUE);

      for (guint i = 0; cells[i] != NULL; i++)
        mirada_csv_add_string (csv, cells[i]);
      mirada_csv_end_row (csv);
    }
  return g_strdup (mirada_csv_get_text (csv, NULL));
}

gboolean
mirada_sweep_dialog_export_csv (MiradaSweepDialog  *self,
                                const char         *path,
                                GError            **error)
{
  g_autofree char *csv = mirada_sweep_dialog_to_csv (self);

  /* atomic for a regular file: a temporary file renamed over @path */
  return mirada_output_write (path, csv, strlen (csv), error);
}

/* ------------------------------------------------------------------ */
/* The sweep */

static void
setting_at (MiradaSweepDialog *self,
            guint              i,
            double            *threshold,
            double            *exception)
{
  guint nt = self->thresholds->len;

  /* f_e outer, threshold inner: each f_e gives one curve */
  *exception = g_array_index (self->exceptions, double, i / nt);
  *threshold = g_array_index (self->thresholds, double, i % nt);
}

static guint
n_settings (MiradaSweepDialog *self)
{
  return self->thresholds->len * self->exceptions->len;
}

static void
finish (MiradaSweepDialog *self)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *status = NULL;

  for (guint r = 0; r < self->rows->len; r++)
    {
      MiradaSweepItem *item = g_object_new (MIRADA_TYPE_SWEEP_ITEM, NULL);

      item->cells = row_cells (self, &g_array_index (self->rows, MiradaSweepRow, r), FALSE);
      g_ptr_array_add (items, item);
    }
  g_list_store_splice (self->items, 0, g_list_model_get_n_items (G_LIST_MODEL (self->items)),
                       items->pdata, items->len);
  status = g_strdup_printf (ngettext ("%u setting", "%u settings", self->rows->len), self->rows->len);
  if (self->n_scales > 1)
    {
      /* Translators: appended to "12 settings" when the detector scans several scales */
      g_autofree char *note = g_strdup_printf (_("%s · counts of scale 1 of %u only (the image as is)"),
                                               status, self->n_scales);
      g_free (status);
      status = g_steal_pointer (&note);
    }
  gtk_label_set_label (self->status_label, status);
  gtk_widget_set_sensitive (self->export_button, self->rows->len > 0);
  gtk_widget_queue_draw (GTK_WIDGET (self->plot));
}

static gboolean
sweep_step_cb (gpointer user_data)
{
  MiradaSweepDialog *self = user_data;
  guint total = n_settings (self);

  for (guint k = 0; k < CHUNK && self->next < total; k++, self->next++)
    {
      g_autoptr(MirDetectParams) p = mir_detect_params_copy (self->base);
      g_autoptr(MirDetectResult) r = NULL;
      g_autoptr(GError) error = NULL;
      MiradaSweepRow row = { 0 };

      setting_at (self, self->next, &row.threshold, &row.exception);
      for (guint i = 0; i < self->classes->len; i++)
        {
          guint c = g_array_index (self->classes, guint, i);

          p->classes[c].threshold = row.threshold;
          p->classes[c].exception = row.exception;
        }
      if (!(r = mir_detect_filter (self->grid, p, &error)))
        {
          gtk_label_set_label (self->status_label, error->message);
          self->idle_id = 0;
          return G_SOURCE_REMOVE;
        }
      row.mu = g_memdup2 (r->mu, sizeof (double) * r->n_classes);
      row.counts = g_memdup2 (r->counts, sizeof (guint) * r->n_classes);
      if (self->truth != NULL)
        {
          MirDetectEval ev = { 0 };

          mir_detect_evaluate (r, (const MirDetectTruthBox *) (void *) self->truth->data,
                               self->truth->len, 0.5, &ev);
          row.has_eval = TRUE;
          row.precision = ev.precision;
          row.recall = ev.recall;
          row.f1 = ev.f1;
          mir_detect_eval_clear (&ev);
        }
      g_array_append_val (self->rows, row);
    }
  if (self->next < total)
    return G_SOURCE_CONTINUE;
  self->idle_id = 0;
  finish (self);
  return G_SOURCE_REMOVE;
}

static void
cell_setup_cb (GtkSignalListItemFactory *factory,
                         GtkListItem              *item,
                         gpointer                  user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 1.0);
  gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
}

static void
cell_bind_cb (GtkSignalListItemFactory *factory,
                        GtkListItem              *item,
                        gpointer                  user_data)
{
  MiradaSweepItem *row = gtk_list_item_get_item (item);
  guint column = GPOINTER_TO_UINT (user_data);

  gtk_label_set_label (GTK_LABEL (gtk_list_item_get_child (item)),
                       column < g_strv_length (row->cells) ? row->cells[column] : "");
}

static void
rebuild_columns (MiradaSweepDialog *self)
{
  g_autoptr(GPtrArray) titles = NULL;
  GListModel *columns = gtk_column_view_get_columns (self->column_view);

  while (g_list_model_get_n_items (columns) > 0)
    {
      g_autoptr(GtkColumnViewColumn) col = g_list_model_get_item (columns, 0);
      gtk_column_view_remove_column (self->column_view, col);
    }
  if (self->grid == NULL)
    return;
  titles = column_titles (self, FALSE);
  for (guint i = 0; i < titles->len; i++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      g_autoptr(GtkColumnViewColumn) column = NULL;

      g_signal_connect (factory, "setup", G_CALLBACK (cell_setup_cb), NULL);
      g_signal_connect (factory, "bind", G_CALLBACK (cell_bind_cb), GUINT_TO_POINTER (i));
      column = gtk_column_view_column_new (titles->pdata[i], factory);
      gtk_column_view_column_set_resizable (column, TRUE);
      gtk_column_view_append_column (self->column_view, column);
    }
}

static void
update_plot_choices (MiradaSweepDialog *self)
{
  g_autoptr(GtkStringList) list = gtk_string_list_new (NULL);

  for (guint i = 0; i < self->exceptions->len; i++)
    {
      g_autofree char *s = fmt_double (g_array_index (self->exceptions, double, i), "%.4g", FALSE);
      /* Translators: the exception factor of the plotted curves */
      g_autofree char *label = g_strdup_printf (_("fₑ = %s"), s);
      gtk_string_list_append (list, label);
    }
  self->updating = TRUE;
  gtk_drop_down_set_model (self->plot_fe_dropdown, G_LIST_MODEL (list));
  gtk_drop_down_set_selected (self->plot_fe_dropdown, 0);
  self->updating = FALSE;
}

static void
restart (MiradaSweepDialog *self)
{
  double from, to, step;
  g_auto(GStrv) parts = NULL;

  g_clear_handle_id (&self->idle_id, g_source_remove);
  g_array_set_size (self->rows, 0);
  g_list_store_remove_all (self->items);
  g_array_set_size (self->thresholds, 0);
  g_array_set_size (self->exceptions, 0);
  gtk_widget_set_sensitive (self->export_button, FALSE);

  from = gtk_adjustment_get_value (self->from_adj);
  to = gtk_adjustment_get_value (self->to_adj);
  step = gtk_adjustment_get_value (self->step_adj);
  if (step <= 0)
    step = 0.01;
  for (guint i = 0; from + i * step <= to + 1e-9 && i < MAX_SETTINGS; i++)
    {
      double t = from + i * step;
      g_array_append_val (self->thresholds, t);
    }
  parts = g_strsplit_set (gtk_editable_get_text (GTK_EDITABLE (self->fe_entry)),
                          decimal_comma () ? "; " : ",; ", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *end = NULL;
      double v;

      if (*parts[i] == '\0')
        continue;
      if (decimal_comma ())
        g_strdelimit (parts[i], ",", '.'); /* "0,5" as the locale writes it; "0.5" too */
      v = g_ascii_strtod (parts[i], &end);
      if (end == parts[i] || *end != '\0' || v < 0 || v > 1)
        {
          g_autofree char *msg = g_strdup_printf (_("“%s” is not an exception factor between 0 and 1"), parts[i]);
          gtk_label_set_label (self->status_label, msg);
          gtk_widget_add_css_class (GTK_WIDGET (self->fe_entry), "error");
          return;
        }
      g_array_append_val (self->exceptions, v);
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->fe_entry), "error");
  if (self->exceptions->len == 0)
    {
      double v = 0.5;
      g_array_append_val (self->exceptions, v);
    }
  while (n_settings (self) > MAX_SETTINGS && self->exceptions->len > 1)
    g_array_set_size (self->exceptions, self->exceptions->len - 1);
  update_plot_choices (self);

  if (self->grid == NULL || self->thresholds->len == 0)
    {
      gtk_label_set_label (self->status_label, _("Run a detection first."));
      gtk_widget_queue_draw (GTK_WIDGET (self->plot));
      return;
    }
  gtk_label_set_label (self->status_label, _("Filtering…"));
  self->next = 0;
  self->idle_id = g_idle_add (sweep_step_cb, self);
}

static gboolean
restart_cb (gpointer user_data)
{
  MiradaSweepDialog *self = user_data;

  self->restart_id = 0;
  restart (self);
  return G_SOURCE_REMOVE;
}

static void
range_changed_cb (MiradaSweepDialog *self)
{
  if (self->updating)
    return;
  /* let spin buttons settle */
  g_clear_handle_id (&self->restart_id, g_source_remove);
  self->restart_id = g_timeout_add (150, restart_cb, self);
}

void
mirada_sweep_dialog_set_input (MiradaSweepDialog     *self,
                               MirDetectGrid         *grid,
                               const MirDetectParams *base,
                               GArray                *truth)
{
  g_return_if_fail (MIRADA_IS_SWEEP_DIALOG (self));

  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->base, mir_detect_params_free);
  g_clear_pointer (&self->truth, g_array_unref);
  g_array_set_size (self->classes, 0);
  if (grid != NULL && base != NULL && base->n_classes == grid->n_classes)
    {
      self->grid = mir_detect_grid_ref (grid);
      self->base = mir_detect_params_copy (base);
      if (truth != NULL)
        self->truth = g_array_ref (truth);
      for (guint c = 0; c < base->n_classes; c++)
        if (base->classes[c].enabled)
          g_array_append_val (self->classes, c);
    }
  rebuild_columns (self);
  g_clear_handle_id (&self->restart_id, g_source_remove);
  restart (self);
}

void
mirada_sweep_dialog_set_range (MiradaSweepDialog *self,
                               double             from,
                               double             to,
                               double             step,
                               const double      *exceptions,
                               guint              n_exceptions)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_return_if_fail (MIRADA_IS_SWEEP_DIALOG (self));

  self->updating = TRUE;
  gtk_adjustment_set_value (self->from_adj, from);
  gtk_adjustment_set_value (self->to_adj, to);
  gtk_adjustment_set_value (self->step_adj, step);
  format_exceptions (text, exceptions, n_exceptions);
  gtk_editable_set_text (GTK_EDITABLE (self->fe_entry), text->str);
  self->updating = FALSE;
  g_clear_handle_id (&self->restart_id, g_source_remove);
  restart (self);
}

gboolean
mirada_sweep_dialog_get_running (MiradaSweepDialog *self)
{
  return self->idle_id != 0 || self->restart_id != 0;
}

guint
mirada_sweep_dialog_get_n_rows (MiradaSweepDialog *self)
{
  return self->rows->len;
}

const MiradaSweepRow *
mirada_sweep_dialog_get_row (MiradaSweepDialog *self,
                             guint              i)
{
  g_return_val_if_fail (i < self->rows->len, NULL);
  return &g_array_index (self->rows, MiradaSweepRow, i);
}

GArray *
mirada_sweep_dialog_get_classes (MiradaSweepDialog *self)
{
  return self->classes;
}

/* ------------------------------------------------------------------ */
/* Plot: counts per class (left axis) and F1 (right axis) against the threshold */

/* A class's colour for a line on this widget: the canvas's colour, lightened
 * towards the text colour when that is light (dark style), where pure blue
 * on a dark background all but vanishes. */
static void
series_color (guint          class_index,
              const GdkRGBA *fg,
              GdkRGBA       *color)
{
  double fg_luma = 0.2126 * fg->red + 0.7152 * fg->green + 0.0722 * fg->blue;

  mirada_class_color (class_index, color);
  if (fg_luma > 0.5)
    {
      color->red = 0.55f * color->red + 0.45f * fg->red;
      color->green = 0.55f * color->green + 0.45f * fg->green;
      color->blue = 0.55f * color->blue + 0.45f * fg->blue;
    }
}

static void
legend_sample (cairo_t       *cr,
               double         x,
               double         y,
               const GdkRGBA *color,
               gboolean       dashed)
{
  static const double dash[] = { 6.0, 3.0 };

  cairo_save (cr);
  gdk_cairo_set_source_rgba (cr, color);
  cairo_set_line_width (cr, 2.0);
  if (dashed)
    cairo_set_dash (cr, dash, 2, 0);
  cairo_move_to (cr, x, y);
  cairo_line_to (cr, x + 18, y);
  cairo_stroke (cr);
  cairo_restore (cr);
}

/* The legend, one entry per series (a line sample and its name), wrapped
 * to @max_width from (@x0, @y0); draws only when @draw.  Returns its height. */
static double
draw_legend (MiradaSweepDialog *self,
             cairo_t           *cr,
             PangoLayout       *layout,
             const GdkRGBA     *fg,
             double             x0,
             double             y0,
             double             max_width,
             gboolean           draw)
{
  guint n = self->classes->len + (self->truth != NULL ? 1 : 0);
  double x = x0, y = y0;
  int tw, th = 0;

  for (guint j = 0; j < n; j++)
    {
      gboolean f1 = j == self->classes->len;
      guint c = f1 ? 0 : g_array_index (self->classes, guint, j);
      /* Translators: the legend entry of the dashed F1 curve of the sweep chart */
      const char *name = f1 ? _("F1 (right axis)") : self->grid->class_names[c];
      double entry_width;
      GdkRGBA color;

      pango_layout_set_text (layout, name, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      entry_width = 18 + 4 + tw + 14;
      if (x > x0 && x + entry_width - 14 > x0 + max_width)
        {
          x = x0;
          y += th + 2;
        }
      if (draw)
        {
          if (f1)
            color = *fg;
          else
            series_color (c, fg, &color);
          legend_sample (cr, x, y + th / 2.0, &color, f1);
          cairo_set_source_rgba (cr, fg->red, fg->green, fg->blue, 0.9);
          cairo_move_to (cr, x + 22, y);
          pango_cairo_show_layout (cr, layout);
        }
      x += entry_width;
    }
  return n > 0 ? y - y0 + th : 0;
}

const char *
mirada_sweep_dialog_get_exceptions_text (MiradaSweepDialog *self)
{
  g_return_val_if_fail (MIRADA_IS_SWEEP_DIALOG (self), NULL);
  return gtk_editable_get_text (GTK_EDITABLE (self->fe_entry));
}

char **
mirada_sweep_dialog_dup_legend (MiradaSweepDialog *self)
{
  GPtrArray *names = g_ptr_array_new ();

  g_return_val_if_fail (MIRADA_IS_SWEEP_DIALOG (self), NULL);
  for (guint j = 0; self->grid != NULL && j < self->classes->len; j++)
    g_ptr_array_add (names, g_strdup (self->grid->class_names[g_array_index (self->classes, guint, j)]));
  if (self->grid != NULL && self->truth != NULL)
    g_ptr_array_add (names, g_strdup (_("F1 (right axis)")));
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

static void
draw_plot (GtkDrawingArea *area,
           cairo_t        *cr,
           int             width,
           int             height,
           gpointer        user_data)
{
  MiradaSweepDialog *self = user_data;
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (GTK_WIDGET (area), NULL);
  double left = 48, right = self->truth != NULL ? 44 : 12, top = 12, bottom = 36;
  double pw = width - left - right, ph = height - top - bottom;
  double tmin, tmax;
  guint fe_index, nt, max_count = 1;
  GdkRGBA fg;
  char buf[64];

  if (self->grid == NULL || self->thresholds->len == 0 || pw < 20 || ph < 20)
    return;
  /* every colour from the widget's style, so the chart reads in light and dark */
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (area)), &fg);
  top = 6 + draw_legend (self, cr, layout, &fg, left, 4, pw, FALSE) + 10;
  ph = height - top - bottom;
  if (ph < 20)
    return;
  draw_legend (self, cr, layout, &fg, left, 4, pw, TRUE);
  nt = self->thresholds->len;
  fe_index = gtk_drop_down_get_selected (self->plot_fe_dropdown);
  if (fe_index == GTK_INVALID_LIST_POSITION || fe_index >= self->exceptions->len)
    fe_index = 0;
  tmin = g_array_index (self->thresholds, double, 0);
  tmax = g_array_index (self->thresholds, double, nt - 1);
  if (tmax <= tmin)
    tmax = tmin + 1e-3;

  for (guint i = fe_index * nt; i < (fe_index + 1) * nt && i < self->rows->len; i++)
    for (guint j = 0; j < self->classes->len; j++)
      max_count = MAX (max_count, g_array_index (self->rows, MiradaSweepRow, i).counts[g_array_index (self->classes, guint, j)]);

  /* axes */
  cairo_set_line_width (cr, 1.0);
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.6);
  cairo_move_to (cr, left, top);
  cairo_line_to (cr, left, top + ph);
  cairo_line_to (cr, left + pw, top + ph);
  if (self->truth != NULL)
    cairo_line_to (cr, left + pw, top);
  cairo_stroke (cr);

  /* ticks: thresholds at the ends and middle; counts 0 and max */
  for (guint k = 0; k <= 2; k++)
    {
      double t = tmin + (tmax - tmin) * k / 2.0;
      int tw, th;

      g_snprintf (buf, sizeof buf, "%.3g", t);
      pango_layout_set_text (layout, buf, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      cairo_move_to (cr, left + pw * k / 2.0 - tw / 2.0, top + ph + 4);
      pango_cairo_show_layout (cr, layout);
    }
  {
    int tw, th;

    pango_layout_set_text (layout, _("Threshold P(x)"), -1);
    pango_layout_get_pixel_size (layout, &tw, &th);
    cairo_move_to (cr, left + pw / 2 - tw / 2.0, top + ph + 4 + th);
    pango_cairo_show_layout (cr, layout);

    g_snprintf (buf, sizeof buf, "%u", max_count);
    pango_layout_set_text (layout, buf, -1);
    pango_layout_get_pixel_size (layout, &tw, &th);
    cairo_move_to (cr, left - tw - 4, top - th / 2.0);
    pango_cairo_show_layout (cr, layout);
    pango_layout_set_text (layout, "0", -1);
    pango_layout_get_pixel_size (layout, &tw, &th);
    cairo_move_to (cr, left - tw - 4, top + ph - th / 2.0);
    pango_cairo_show_layout (cr, layout);
    if (self->truth != NULL)
      {
        pango_layout_set_text (layout, "F1 1", -1);
        pango_layout_get_pixel_size (layout, &tw, &th);
        cairo_move_to (cr, left + pw + 4, top - th / 2.0);
        pango_cairo_show_layout (cr, layout);
      }
  }

  /* one line per class: its count */
  cairo_set_line_width (cr, 2.0);
  for (guint j = 0; j < self->classes->len; j++)
    {
      guint c = g_array_index (self->classes, guint, j);
      GdkRGBA color;

      series_color (c, &fg, &color);
      gdk_cairo_set_source_rgba (cr, &color);
      for (guint i = 0; i < nt && fe_index * nt + i < self->rows->len; i++)
        {
          const MiradaSweepRow *row = &g_array_index (self->rows, MiradaSweepRow, fe_index * nt + i);
          double x = left + pw * (row->threshold - tmin) / (tmax - tmin);
          double y = top + ph * (1.0 - (double) row->counts[c] / max_count);

          if (i == 0)
            cairo_move_to (cr, x, y);
          else
            cairo_line_to (cr, x, y);
        }
      cairo_stroke (cr);
    }

  /* F1, dashed, right axis 0..1 */
  if (self->truth != NULL)
    {
      static const double dash[] = { 6.0, 3.0 };

      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.9);
      cairo_set_dash (cr, dash, 2, 0);
      for (guint i = 0; i < nt && fe_index * nt + i < self->rows->len; i++)
        {
          const MiradaSweepRow *row = &g_array_index (self->rows, MiradaSweepRow, fe_index * nt + i);
          double x = left + pw * (row->threshold - tmin) / (tmax - tmin);
          double y = top + ph * (1.0 - row->f1);

          if (i == 0)
            cairo_move_to (cr, x, y);
          else
            cairo_line_to (cr, x, y);
        }
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
    }
}

/* ------------------------------------------------------------------ */

static void
export_chosen_cb (GtkNativeDialog   *dialog,
                  int                response,
                  MiradaSweepDialog *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      g_autoptr(GError) error = NULL;

      if (path != NULL && !mirada_sweep_dialog_export_csv (self, path, &error))
        gtk_label_set_label (self->status_label, error->message);
      else if (path != NULL)
        {
          g_autofree char *msg = g_strdup_printf (_("Saved %s"), path);
          gtk_label_set_label (self->status_label, msg);
        }
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
export_clicked_cb (MiradaSweepDialog *self)
{
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Export the Sweep Table"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "sweep.csv");
  g_signal_connect (dialog, "response", G_CALLBACK (export_chosen_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static GtkWidget *
spin (GtkAdjustment *adj,
      const char    *accessible,
      const char    *tooltip)
{
  GtkWidget *s = gtk_spin_button_new (adj, 0.01, 3);

  gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (s), TRUE);
  gtk_widget_set_tooltip_text (s, tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (s), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
  return s;
}

static GtkWidget *
mnemonic_label (const char *text,
                GtkWidget  *target)
{
  GtkWidget *label = gtk_label_new_with_mnemonic (text);

  gtk_label_set_mnemonic_widget (GTK_LABEL (label), target);
  return label;
}

MiradaSweepDialog *
mirada_sweep_dialog_new (GtkWindow *parent)
{
  return g_object_new (MIRADA_TYPE_SWEEP_DIALOG, "transient-for", parent,
                       "default-width", 900, "default-height", 640, NULL);
}

static void
mirada_sweep_dialog_dispose (GObject *object)
{
  MiradaSweepDialog *self = MIRADA_SWEEP_DIALOG (object);

  g_clear_handle_id (&self->idle_id, g_source_remove);
  g_clear_handle_id (&self->restart_id, g_source_remove);
  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->base, mir_detect_params_free);
  g_clear_pointer (&self->truth, g_array_unref);
  g_clear_object (&self->items);
  G_OBJECT_CLASS (mirada_sweep_dialog_parent_class)->dispose (object);
}

static void
mirada_sweep_dialog_finalize (GObject *object)
{
  MiradaSweepDialog *self = MIRADA_SWEEP_DIALOG (object);

  g_array_unref (self->rows);
  g_array_unref (self->classes);
  g_array_unref (self->thresholds);
  g_array_unref (self->exceptions);
  G_OBJECT_CLASS (mirada_sweep_dialog_parent_class)->finalize (object);
}

static void
mirada_sweep_dialog_class_init (MiradaSweepDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_sweep_dialog_dispose;
  object_class->finalize = mirada_sweep_dialog_finalize;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
mirada_sweep_dialog_init (MiradaSweepDialog *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *header = adw_header_bar_new ();
  GtkWidget *controls = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_VERTICAL);
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *w;

  self->rows = g_array_new (FALSE, TRUE, sizeof (MiradaSweepRow));
  g_array_set_clear_func (self->rows, row_clear);
  self->classes = g_array_new (FALSE, FALSE, sizeof (guint));
  self->thresholds = g_array_new (FALSE, FALSE, sizeof (double));
  self->exceptions = g_array_new (FALSE, FALSE, sizeof (double));
  self->items = g_list_store_new (MIRADA_TYPE_SWEEP_ITEM);

  gtk_window_set_title (GTK_WINDOW (self), _("Threshold Sweep"));
  gtk_box_append (GTK_BOX (box), header);
  self->export_button = gtk_button_new_with_mnemonic (_("_Export CSV…"));
  gtk_widget_set_tooltip_text (self->export_button, _("Save the table as CSV"));
  gtk_widget_set_sensitive (self->export_button, FALSE);
  g_signal_connect_swapped (self->export_button, "clicked", G_CALLBACK (export_clicked_cb), self);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->export_button);

  self->from_adj = gtk_adjustment_new (0.5, 0.0, 1.0, 0.01, 0.1, 0);
  self->to_adj = gtk_adjustment_new (1.0, 0.0, 1.0, 0.01, 0.1, 0);
  self->step_adj = gtk_adjustment_new (0.01, 0.001, 1.0, 0.001, 0.01, 0);
  gtk_widget_set_margin_start (controls, 12);
  gtk_widget_set_margin_end (controls, 12);
  gtk_widget_set_margin_top (controls, 6);
  gtk_widget_set_margin_bottom (controls, 6);
  w = spin (self->from_adj, _("First threshold"), _("The first threshold P(x) of the sweep"));
  gtk_box_append (GTK_BOX (controls), mnemonic_label (_("Threshold _from"), w));
  gtk_box_append (GTK_BOX (controls), w);
  w = spin (self->to_adj, _("Last threshold"), _("The last threshold P(x) of the sweep"));
  gtk_box_append (GTK_BOX (controls), mnemonic_label (_("_to"), w));
  gtk_box_append (GTK_BOX (controls), w);
  w = spin (self->step_adj, _("Threshold step"), _("The step between two thresholds"));
  gtk_box_append (GTK_BOX (controls), mnemonic_label (_("_step"), w));
  gtk_box_append (GTK_BOX (controls), w);
  self->fe_entry = GTK_ENTRY (gtk_entry_new ());
  {
    static const double defaults[] = { 0, 0.5, 1 };
    g_autoptr(GString) text = g_string_new (NULL);

    format_exceptions (text, defaults, G_N_ELEMENTS (defaults));
    gtk_editable_set_text (GTK_EDITABLE (self->fe_entry), text->str);
  }
  gtk_editable_set_width_chars (GTK_EDITABLE (self->fe_entry), 12);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->fe_entry),
                               decimal_comma ()
                               ? _("Exception factors fₑ(x), separated by semicolons: the value of a missing neighbour in the neighbourhood mean (methods 2.1 and 2.2)")
                               : _("Exception factors fₑ(x), separated by commas: the value of a missing neighbour in the neighbourhood mean (methods 2.1 and 2.2)"));
  gtk_box_append (GTK_BOX (controls), mnemonic_label (_("_Exception factors"), GTK_WIDGET (self->fe_entry)));
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->fe_entry));
  self->plot_fe_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (NULL, NULL));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->plot_fe_dropdown), _("The exception factor whose curves are plotted"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->plot_fe_dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Plotted exception factor"), -1);
  gtk_widget_set_hexpand (GTK_WIDGET (self->plot_fe_dropdown), TRUE);
  gtk_widget_set_halign (GTK_WIDGET (self->plot_fe_dropdown), GTK_ALIGN_END);
  gtk_box_append (GTK_BOX (controls), GTK_WIDGET (self->plot_fe_dropdown));
  gtk_box_append (GTK_BOX (box), controls);

  self->plot = GTK_DRAWING_AREA (gtk_drawing_area_new ());
  gtk_drawing_area_set_content_height (self->plot, 220);
  gtk_drawing_area_set_draw_func (self->plot, draw_plot, self, NULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->plot), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Counts per class and F1 against the threshold"), -1);
  gtk_paned_set_start_child (GTK_PANED (paned), GTK_WIDGET (self->plot));
  gtk_paned_set_shrink_start_child (GTK_PANED (paned), FALSE);
  self->column_view = GTK_COLUMN_VIEW (gtk_column_view_new (
      GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->items))))));
  gtk_column_view_set_show_row_separators (self->column_view, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->column_view), "data-table");
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), GTK_WIDGET (self->column_view));
  gtk_paned_set_end_child (GTK_PANED (paned), scrolled);
  gtk_paned_set_position (GTK_PANED (paned), 240);
  gtk_widget_set_vexpand (paned, TRUE);
  gtk_box_append (GTK_BOX (box), paned);

  self->status_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->status_label, 0);
  gtk_widget_set_margin_start (GTK_WIDGET (self->status_label), 12);
  gtk_widget_set_margin_top (GTK_WIDGET (self->status_label), 4);
  gtk_widget_set_margin_bottom (GTK_WIDGET (self->status_label), 4);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "dim-label");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status_label));
  adw_window_set_content (ADW_WINDOW (self), box);

  g_signal_connect_swapped (self->from_adj, "value-changed", G_CALLBACK (range_changed_cb), self);
  g_signal_connect_swapped (self->to_adj, "value-changed", G_CALLBACK (range_changed_cb), self);
  g_signal_connect_swapped (self->step_adj, "value-changed", G_CALLBACK (range_changed_cb), self);
  g_signal_connect_swapped (self->fe_entry, "changed", G_CALLBACK (range_changed_cb), self);
  g_signal_connect_swapped (self->plot_fe_dropdown, "notify::selected", G_CALLBACK (gtk_widget_queue_draw), self->plot);
  /* the colours come from the style: draw again when it turns dark or light */
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark", G_CALLBACK (gtk_widget_queue_draw),
                           self->plot, G_CONNECT_SWAPPED);
}

/* Multi-scale: the sweep filters the first level's grid only; say so. */
void
mirada_sweep_dialog_set_n_scales (MiradaSweepDialog *self,
                                  guint              n_scales)
{
  g_return_if_fail (MIRADA_IS_SWEEP_DIALOG (self));
  self->n_scales = n_scales;
}
