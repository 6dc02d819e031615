/* mirada-train-history.c: see mirada-train-history.h. */
#define G_LOG_DOMAIN "mirada-train-history"

#include "config.h"

#include <math.h>
#include <cairo.h>
#include <pango/pangocairo.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "mirada-train-history.h"
#include "mirada-figure.h"
#include "mirada-export.h"
#include "mir-error.h"

gboolean
mirada_train_history_save (const char *path, const MirEpochStats *stats, guint n, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);

  if (g_str_has_suffix (lower, ".json"))
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;
      gsize len;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "epochs");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          const MirEpochStats *s = &stats[i];

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "epoch");
          json_builder_add_int_value (b, s->epoch);
          json_builder_set_member_name (b, "loss");
          json_builder_add_double_value (b, s->loss);
          json_builder_set_member_name (b, "accuracy");
          json_builder_add_double_value (b, s->accuracy);
          json_builder_set_member_name (b, "val_loss");
          if (s->has_validation)
            json_builder_add_double_value (b, s->val_loss);
          else
            json_builder_add_null_value (b);
          json_builder_set_member_name (b, "val_accuracy");
          if (s->has_validation)
            json_builder_add_double_value (b, s->val_accuracy);
          else
            json_builder_add_null_value (b);
          json_builder_set_member_name (b, "seconds");
          json_builder_add_double_value (b, s->seconds);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      text = json_generator_to_data (gen, &len);
      text = g_realloc (text, len + 2);
      text[len++] = '\n';
      return mirada_output_write (path, text, len, error);
    }
  else
    {
      g_autoptr(MiradaCsv) csv = mirada_csv_new ();

      mirada_csv_add_string (csv, "epoch");
      mirada_csv_add_string (csv, "loss");
      mirada_csv_add_string (csv, "accuracy");
      mirada_csv_add_string (csv, "val_loss");
      mirada_csv_add_string (csv, "val_accuracy");
      mirada_csv_add_string (csv, "seconds");
      mirada_csv_end_row (csv);
      for (guint i = 0; i < n; i++)
        {
          const MirEpochStats *s = &stats[i];

          mirada_csv_add_int (csv, s->epoch);
          mirada_csv_add_double (csv, s->loss, NULL);
          mirada_csv_add_double (csv, s->accuracy, NULL);
          mirada_csv_add_double (csv, s->has_validation ? s->val_loss : NAN, NULL);
          mirada_csv_add_double (csv, s->has_validation ? s->val_accuracy : NAN, NULL);
          mirada_csv_add_double (csv, s->seconds, "%.3f");
          mirada_csv_end_row (csv);
        }
      return mirada_csv_save (csv, path, error);
    }
}

/* ------------------------------------------------------------------ */
/* The chart */

#define FONT "Sans 11"
#define MARGIN_LEFT 70.0
#define MARGIN_RIGHT 20.0
#define MARGIN_TOP 50.0
#define MARGIN_BOTTOM 60.0

static const double train_rgb[3] = { 0.122, 0.467, 0.706 };
static const double val_rgb[3] = { 1.000, 0.498, 0.055 };

/* @text at (@x, @y), aligned by @ax, @ay (0 left/top, 0.5 centre, 1 right/bottom). */
static void
text_at (cairo_t *cr, PangoLayout *layout, const char *text, double x, double y, double ax,
         double ay)
{
  int w, h;

  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, x - ax * w, y - ay * h);
  pango_cairo_show_layout (cr, layout);
}

static double
value_of (const MirEpochStats *s, gboolean accuracy, gboolean val)
{
  if (accuracy)
    return val ? s->val_accuracy : s->accuracy;
  return val ? s->val_loss : s->loss;
}

/* One chart in the box (@x0, @y0)–(@x1, @y1): training and, if any,
 * validation values of the loss or the accuracy. */
static void
draw_chart (cairo_t *cr, PangoLayout *layout, const MirEpochStats *stats, guint n,
            gboolean accuracy, double x0, double y0, double x1, double y1)
{
  static const double dash[] = { 7.0, 4.0 };
  gboolean has_val = FALSE;
  double lo = INFINITY, hi = -INFINITY, step, xstep;
  double px0 = x0 + MARGIN_LEFT, px1 = x1 - MARGIN_RIGHT, py0 = y0 + MARGIN_TOP,
         py1 = y1 - MARGIN_BOTTOM;
  guint first = stats[0].epoch, last = stats[n - 1].epoch;

  for (guint i = 0; i < n; i++)
    for (int v = 0; v < 2; v++)
      {
        double y;

        if (v && !stats[i].has_validation)
          continue;
        has_val |= v;
        y = value_of (&stats[i], accuracy, v);
        if (isfinite (y))
          lo = MIN (lo, y), hi = MAX (hi, y);
      }
  if (!isfinite (lo))
    lo = 0, hi = 1;
  if (accuracy)
    lo = MAX (0.0, lo), hi = MIN (1.0, hi);
  if (hi - lo < 1e-6)
    lo -= 0.05, hi += 0.05;
  step = mirada_figure_nice_range (&lo, &hi, 5);
  if (last == first)
    last = first + 1;
  xstep = MAX (1.0, mirada_figure_nice_step (last - first, 8));

#define X(e) (px0 + ((double) (e) - first) * (px1 - px0) / (double) (last - first))
#define Y(v) (py1 - ((v) - lo) * (py1 - py0) / (hi - lo))

  cairo_set_line_width (cr, 1.0);
  for (double v = lo; v <= hi + 0.5 * step; v += step)
    {
      g_autofree char *label = g_strdup_printf ("%.*f", (int) CLAMP (ceil (-log10 (step) - 1e-9), 0, 6), v);

      cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
      cairo_move_to (cr, px0, Y (v));
      cairo_line_to (cr, px1, Y (v));
      cairo_stroke (cr);
      cairo_set_source_rgb (cr, 0, 0, 0);
      text_at (cr, layout, label, px0 - 8, Y (v), 1.0, 0.5);
    }
  for (double e = first; e <= last + 0.5; e += xstep)
    {
      g_autofree char *label = g_strdup_printf ("%.0f", e);

      cairo_set_source_rgb (cr, 0, 0, 0);
      cairo_move_to (cr, X (e), py1);
      cairo_line_to (cr, X (e), py1 + 5);
      cairo_stroke (cr);
      text_at (cr, layout, label, X (e), py1 + 8, 0.5, 0.0);
    }
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_rectangle (cr, px0, py0, px1 - px0, py1 - py0);
  cairo_stroke (cr);
  text_at (cr, layout, _("epoch"), 0.5 * (px0 + px1), py1 + 30, 0.5, 0.0);
  text_at (cr, layout, accuracy ? _("Accuracy") : _("Loss"), 0.5 * (px0 + px1), y0 + 12, 0.5,
           0.0);

  cairo_save (cr);
  cairo_rectangle (cr, px0, py0, px1 - px0, py1 - py0);
  cairo_clip (cr);
  cairo_set_line_width (cr, 2.5);
  for (int v = 0; v < 2; v++)
    {
      gboolean started = FALSE;
      const double *rgb = v ? val_rgb : train_rgb;

      if (v && !has_val)
        continue;
      cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
      cairo_set_dash (cr, v ? dash : NULL, v ? G_N_ELEMENTS (dash) : 0, 0);
      for (guint i = 0; i < n; i++)
        {
          double y = value_of (&stats[i], accuracy, v);

          if ((v && !stats[i].has_validation) || !isfinite (y))
            continue;
          if (started)
            cairo_line_to (cr, X (stats[i].epoch), Y (y));
          else
            cairo_move_to (cr, X (stats[i].epoch), Y (y));
          started = TRUE;
        }
      cairo_stroke (cr);
      for (guint i = 0; i < n; i++)
        {
          double y = value_of (&stats[i], accuracy, v);

          if ((v && !stats[i].has_validation) || !isfinite (y))
            continue;
          cairo_arc (cr, X (stats[i].epoch), Y (y), 3.5, 0, 2 * G_PI);
          cairo_fill (cr);
        }
    }
  cairo_restore (cr);

  /* The legend, top right inside the plot, on white over the curves. */
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_line_width (cr, 1.0);
  cairo_rectangle (cr, px1 - 200, py0 + 2, 196, has_val ? 46 : 24);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_fill_preserve (cr);
  cairo_set_source_rgb (cr, 0.7, 0.7, 0.7);
  cairo_stroke (cr);
  for (int v = 0; v < (has_val ? 2 : 1); v++)
    {
      const double *rgb = v ? val_rgb : train_rgb;
      double ly = py0 + 14 + 22 * v, lx = px1 - 190;

      cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
      cairo_set_line_width (cr, 2.5);
      cairo_set_dash (cr, v ? dash : NULL, v ? G_N_ELEMENTS (dash) : 0, 0);
      cairo_move_to (cr, lx, ly);
      cairo_line_to (cr, lx + 30, ly);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      cairo_set_source_rgb (cr, 0, 0, 0);
      text_at (cr, layout, v ? _("validation") : _("training"), lx + 38, ly, 0.0, 0.5);
    }
#undef X
#undef Y
}

void
mirada_train_history_draw (cairo_t *cr, const MirEpochStats *stats, guint n, double width,
                           double height)
{
  PangoLayout *layout = pango_cairo_create_layout (cr);
  PangoFontDescription *font = pango_font_description_from_string (FONT);

  pango_layout_set_font_description (layout, font);
  draw_chart (cr, layout, stats, n, FALSE, 0, 0, width / 2.0, height);
  draw_chart (cr, layout, stats, n, TRUE, width / 2.0, 0, width, height);
  pango_font_description_free (font);
  g_object_unref (layout);
}

gboolean
mirada_train_history_png (const char *path, const MirEpochStats *stats, guint n, GError **error)
{
  g_autoptr(MiradaFigure) fig = NULL;

  g_return_val_if_fail (n > 0, FALSE);

  /* PNG, SVG or PDF by the extension */
  if (!(fig = mirada_figure_new (path, MIRADA_HISTORY_PLOT_WIDTH, MIRADA_HISTORY_PLOT_HEIGHT,
                                 error)))
    return FALSE;
  mirada_train_history_draw (mirada_figure_get_cairo (fig), stats, n, MIRADA_HISTORY_PLOT_WIDTH,
                             MIRADA_HISTORY_PLOT_HEIGHT);
  return mirada_figure_save (fig, error);
}
