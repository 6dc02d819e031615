/* Deletion curves as a PNG: a line chart drawn with Cairo (axes, ticks,
 * grid, legend with each curve's area), for comparing in a classroom which
 * explanation map is the most faithful. */
#define G_LOG_DOMAIN "mirada-deletion-plot"

#include "config.h"

#include <math.h>
#include <cairo.h>
#include <glib/gi18n.h>

#include "mirada-deletion-plot.h"
#include "mirada-figure.h"
#include "mirada-export.h"

/* Plot area inside the image; the legend sits right of it. */
#define PLOT_LEFT 100.0
#define PLOT_TOP 70.0
#define PLOT_RIGHT 790.0
#define PLOT_BOTTOM 560.0
#define LEGEND_LEFT 815.0
#define FONT "Sans"
#define LEGEND_ROWS 17

/* A qualitative palette (Tableau 10, then darker variants) for up to 20 curves. */
static const double palette[][3] = {
  { 0.122, 0.467, 0.706 }, { 1.000, 0.498, 0.055 }, { 0.173, 0.627, 0.173 },
  { 0.839, 0.153, 0.157 }, { 0.580, 0.404, 0.741 }, { 0.549, 0.337, 0.294 },
  { 0.890, 0.467, 0.761 }, { 0.737, 0.741, 0.133 }, { 0.090, 0.745, 0.812 },
  { 0.000, 0.000, 0.000 }, { 0.067, 0.267, 0.424 }, { 0.600, 0.298, 0.000 },
  { 0.067, 0.369, 0.067 }, { 0.502, 0.055, 0.059 }, { 0.333, 0.208, 0.447 },
  { 0.333, 0.192, 0.165 }, { 0.600, 0.180, 0.471 }, { 0.447, 0.451, 0.047 },
  { 0.043, 0.447, 0.490 }, { 0.400, 0.400, 0.400 },
};

static void
show_text_at (cairo_t *cr, const char *text, double x, double y, double align_x, double align_y)
{
  cairo_matrix_t m;
  cairo_font_face_t *face = cairo_get_font_face (cr);
  gboolean bold = cairo_font_face_get_type (face) == CAIRO_FONT_TYPE_TOY &&
                  cairo_toy_font_face_get_weight (face) == CAIRO_FONT_WEIGHT_BOLD;

  /* Pango lays the text out (any script, shaping); the size and weight are
   * the ones this file selects with cairo_set_font_size and _select_font_face. */
  cairo_get_font_matrix (cr, &m);
  mirada_figure_text (cr, text, x, y, align_x, align_y, m.xx, bold, 0);
}

static int
by_area (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const MiradaDeletionCurve *curves = user_data;
  double u = curves[*(const guint *) a].f->auc_score, v = curves[*(const guint *) b].f->auc_score;

  return u < v ? -1 : u > v;
}

/* Curve @index's colour and dash: palette colours, the baseline dashed grey. */
static void
set_curve_style (cairo_t *cr, const MiradaDeletionCurve *curve, guint index)
{
  static const double dash[] = { 8.0, 5.0 };

  if (curve->baseline)
    {
      cairo_set_source_rgb (cr, 0.45, 0.45, 0.45);
      cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
    }
  else
    {
      const double *rgb = palette[index % G_N_ELEMENTS (palette)];
      cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
      cairo_set_dash (cr, NULL, 0, 0);
    }
}

static void
draw_axes (cairo_t *cr, double y_lo, double y_hi, double y_step)
{
  double y_scale = (PLOT_BOTTOM - PLOT_TOP) / (y_hi - y_lo);

  cairo_set_font_size (cr, 14);
  cairo_set_line_width (cr, 1.0);
  for (int i = 0; i <= 10; i++)
    {
      double x = PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * i / 10.0;
      g_autofree char *label = g_strdup_printf ("%d%%", 10 * i);

      cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
      cairo_move_to (cr, x, PLOT_TOP);
      cairo_line_to (cr, x, PLOT_BOTTOM);
      cairo_stroke (cr);
      cairo_set_source_rgb (cr, 0, 0, 0);
      cairo_move_to (cr, x, PLOT_BOTTOM);
      cairo_line_to (cr, x, PLOT_BOTTOM + 6);
      cairo_stroke (cr);
      show_text_at (cr, label, x, PLOT_BOTTOM + 10, 0.5, 0.0);
    }
  for (double v = y_lo; v <= y_hi + 0.5 * y_step; v += y_step)
    {
      double y = PLOT_BOTTOM - (v - y_lo) * y_scale, shown = fabs (v) < 1e-9 * y_step ? 0 : v;
      g_autofree char *label = g_strdup_printf ("%g", shown);

      if (shown == 0)
        cairo_set_source_rgb (cr, 0.55, 0.55, 0.55);
      else
        cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
      cairo_move_to (cr, PLOT_LEFT, y);
      cairo_line_to (cr, PLOT_RIGHT, y);
      cairo_stroke (cr);
      cairo_set_source_rgb (cr, 0, 0, 0);
      cairo_move_to (cr, PLOT_LEFT - 6, y);
      cairo_line_to (cr, PLOT_LEFT, y);
      cairo_stroke (cr);
      show_text_at (cr, label, PLOT_LEFT - 10, y, 1.0, 0.5);
    }
  cairo_set_line_width (cr, 1.5);
  cairo_rectangle (cr, PLOT_LEFT, PLOT_TOP, PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP);
  cairo_stroke (cr);

  cairo_set_font_size (cr, 16);
  show_text_at (cr, _("Most salient pixels removed (replaced by grey)"),
                0.5 * (PLOT_LEFT + PLOT_RIGHT), PLOT_BOTTOM + 40, 0.5, 0.0);
  cairo_save (cr);
  cairo_translate (cr, 28, 0.5 * (PLOT_TOP + PLOT_BOTTOM));
  cairo_rotate (cr, -G_PI / 2);
  show_text_at (cr, _("Class score (before softmax/sigmoid)"), 0, 0, 0.5, 0.5);
  cairo_restore (cr);
}

static void
draw_curves (cairo_t *cr, const MiradaDeletionCurve *curves, const guint *order, guint n_curves,
             double y_lo, double y_hi)
{
  double y_scale = (PLOT_BOTTOM - PLOT_TOP) / (y_hi - y_lo);

  cairo_save (cr);
  cairo_rectangle (cr, PLOT_LEFT, PLOT_TOP, PLOT_RIGHT - PLOT_LEFT, PLOT_BOTTOM - PLOT_TOP);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  /* Drawn from the least faithful up, so the best curve is on top. */
  for (guint j = n_curves; j-- > 0;)
    {
      guint c = order[j];
      const MirFaithfulness *f = curves[c].f;

      for (int i = 0; i <= f->n_steps; i++)
        {
          double x = PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * f->fractions[i];
          double y = PLOT_BOTTOM - (f->scores[i] - y_lo) * y_scale;
          if (i == 0)
            cairo_move_to (cr, x, y);
          else
            cairo_line_to (cr, x, y);
        }
      set_curve_style (cr, &curves[c], c);
      cairo_set_line_width (cr, 2.5);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
}

static void
draw_legend (cairo_t *cr, const MiradaDeletionCurve *curves, const guint *order, guint n_curves)
{
  /* At most LEGEND_ROWS rows (the most faithful curves); the rest counted. */
  guint shown = MIN (n_curves, LEGEND_ROWS);
  double row = 24.0, bottom;
  double right = MIRADA_DELETION_PLOT_WIDTH - 15.0;

  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_font_size (cr, 15);
  show_text_at (cr, _("Method"), LEGEND_LEFT, PLOT_TOP, 0.0, 0.0);
  show_text_at (cr, _("Area ↓"), right, PLOT_TOP, 1.0, 0.0);
  cairo_set_line_width (cr, 1.0);
  cairo_move_to (cr, LEGEND_LEFT, PLOT_TOP + 24);
  cairo_line_to (cr, right, PLOT_TOP + 24);
  cairo_stroke (cr);
  cairo_set_font_size (cr, 15);
  for (guint j = 0; j < shown; j++)
    {
      guint c = order[j];
      double y = PLOT_TOP + 36 + row * j + 0.5 * row;
      g_autofree char *area = g_strdup_printf ("%.3f", curves[c].f->auc_score);

      set_curve_style (cr, &curves[c], c);
      cairo_set_line_width (cr, 3.0);
      cairo_move_to (cr, LEGEND_LEFT, y);
      cairo_line_to (cr, LEGEND_LEFT + 30, y);
      cairo_stroke (cr);
      cairo_set_source_rgb (cr, 0, 0, 0);
      show_text_at (cr, curves[c].label, LEGEND_LEFT + 38, y, 0.0, 0.5);
      show_text_at (cr, area, right, y, 1.0, 0.5);
    }
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_font_size (cr, 13);
  cairo_set_source_rgb (cr, 0.3, 0.3, 0.3);
  bottom = PLOT_TOP + 36 + row * shown;
  if (shown < n_curves)
    {
      g_autofree char *more = g_strdup_printf (ngettext ("… and %u more curve",
                                                            "… and %u more curves",
                                                            n_curves - shown),
                                               n_curves - shown);
      show_text_at (cr, more, LEGEND_LEFT, bottom + 4, 0.0, 0.0);
      bottom += 22;
    }
  show_text_at (cr, _("Area under the curve:"), LEGEND_LEFT, bottom + 16, 0.0, 0.0);
  show_text_at (cr, _("lower = more faithful map"), LEGEND_LEFT, bottom + 34, 0.0, 0.0);
}

gboolean
mirada_deletion_plot_png (const char *path, const char *title, const MiradaDeletionCurve *curves,
                          guint n_curves, GError **error)
{
  g_autoptr(MiradaFigure) fig = NULL;
  cairo_t *cr;
  g_autofree guint *order = g_new (guint, MAX (n_curves, 1));
  double y_min = G_MAXDOUBLE, y_max = -G_MAXDOUBLE, step, y_lo, y_hi;

  for (guint c = 0; c < n_curves; c++)
    {
      order[c] = c;
      for (int i = 0; i <= curves[c].f->n_steps; i++)
        {
          y_min = MIN (y_min, curves[c].f->scores[i]);
          y_max = MAX (y_max, curves[c].f->scores[i]);
        }
    }
  if (!(y_min <= y_max) || !isfinite (y_min) || !isfinite (y_max))
    y_min = y_max = 0;
  if (y_max - y_min < 1e-6)
    {
      y_min -= 1;
      y_max += 1;
    }
  y_lo = y_min;
  y_hi = y_max;
  step = mirada_figure_nice_range (&y_lo, &y_hi, 8);
  g_qsort_with_data (order, (gint) n_curves, sizeof (guint), by_area, (gpointer) curves);

  /* PNG, SVG or PDF by the extension */
  if (!(fig = mirada_figure_new (path, MIRADA_DELETION_PLOT_WIDTH, MIRADA_DELETION_PLOT_HEIGHT,
                                 error)))
    return FALSE;
  cr = mirada_figure_get_cairo (fig);
  cairo_select_font_face (cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size (cr, 19);
  cairo_set_source_rgb (cr, 0, 0, 0);
  show_text_at (cr, title, 0.5 * MIRADA_DELETION_PLOT_WIDTH, 22, 0.5, 0.0);
  cairo_select_font_face (cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  draw_axes (cr, y_lo, y_hi, step);
  draw_curves (cr, curves, order, n_curves, y_lo, y_hi);
  draw_legend (cr, curves, order, n_curves);
  return mirada_figure_save (fig, error);
}
