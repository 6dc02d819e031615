/* mir-detect-field.c: the probability field behind the detector's boxes
 * (issue 18): sampling P bilinearly between the window centres, the
 * threshold contour (marching squares), the equations of a window with its
 * numbers in, and the overlay drawn into an 8-bit image (no Cairo: the
 * engine draws pixels, as mir-detect-draw.c does).  The field itself is
 * made in mir-detect-filter.c, from the filters' own code. */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-detect.h"

void
mir_detect_field_cell_centre (const MirDetectField *field,
                              guint                 row,
                              guint                 col,
                              double               *x,
                              double               *y)
{
  const MirDetectGeometry *g = &field->geom;

  *x = ((double) col * g->stride + g->window / 2.0) * field->scale;
  *y = ((double) row * g->stride + g->window / 2.0) * field->scale;
}

/* P of the cell, or (@mean) its neighbourhood mean (equation 2) */
static inline double
cell_v (const MirDetectField *field, gboolean mean, int row, int col)
{
  gsize n = (gsize) row * (gsize) field->geom.cols + (gsize) col;

  return mean ? field->mean[n] : field->prob[n];
}

static double
sample_values (const MirDetectField *field, gboolean mean, double x, double y)
{
  const MirDetectGeometry *g = &field->geom;
  double u, v, fu, fv;
  int c0, r0, c1, r1;

  /* grid coordinates: centre of cell (r, c) at (c, r) */
  u = (x / field->scale - g->window / 2.0) / g->stride;
  v = (y / field->scale - g->window / 2.0) / g->stride;
  u = CLAMP (u, 0.0, (double) (g->cols - 1));
  v = CLAMP (v, 0.0, (double) (g->rows - 1));
  c0 = (int) floor (u);
  r0 = (int) floor (v);
  c1 = MIN (c0 + 1, g->cols - 1);
  r1 = MIN (r0 + 1, g->rows - 1);
  fu = u - c0;
  fv = v - r0;
  return (1 - fv) * ((1 - fu) * cell_v (field, mean, r0, c0) + fu * cell_v (field, mean, r0, c1)) +
         fv * ((1 - fu) * cell_v (field, mean, r1, c0) + fu * cell_v (field, mean, r1, c1));
}

double
mir_detect_field_sample (const MirDetectField *field,
                         double                x,
                         double                y)
{
  g_return_val_if_fail (field != NULL, NAN);
  return sample_values (field, FALSE, x, y);
}

double
mir_detect_field_sample_mean (const MirDetectField *field,
                              double                x,
                              double                y)
{
  g_return_val_if_fail (field != NULL, NAN);
  if (field->method == MIR_DETECT_METHOD_1)
    return NAN;
  return sample_values (field, TRUE, x, y);
}

/* The grid padded with one ring: the ring's positions are the edges of the
 * scanned area and its values the nearest cell's, so the contour of the
 * padded grid is the contour of the clamped field mir_detect_field_sample()
 * gives, out to where the windows end. */
static double
pad_coord (const MirDetectField *field, int k, int n)
{
  const MirDetectGeometry *g = &field->geom;

  if (k < 0)
    return 0.0;
  if (k >= n)
    return ((double) (n - 1) * g->stride + g->window) * field->scale;
  return ((double) k * g->stride + g->window / 2.0) * field->scale;
}

static double
pad_value (const MirDetectField *field, gboolean mean, int row, int col)
{
  return cell_v (field, mean, CLAMP (row, 0, field->geom.rows - 1),
                 CLAMP (col, 0, field->geom.cols - 1));
}

static void
add_segment (GArray *segments, double x0, double y0, double x1, double y1)
{
  MirDetectSegment s = { x0, y0, x1, y1 };

  g_array_append_val (segments, s);
}

static GArray *
contour_values (const MirDetectField *field, gboolean mean, double level)
{
  GArray *segments = g_array_new (FALSE, FALSE, sizeof (MirDetectSegment));
  const int R = field->geom.rows, C = field->geom.cols;

  if (mean && (field->method == MIR_DETECT_METHOD_1 || isnan (level)))
    return segments;
  for (int i = -1; i < R; i++)
    for (int j = -1; j < C; j++)
      {
        /* corners counter-clockwise from the top left: a b / d c */
        const double xa = pad_coord (field, j, C), xb = pad_coord (field, j + 1, C);
        const double ya = pad_coord (field, i, R), yd = pad_coord (field, i + 1, R);
        const double va = pad_value (field, mean, i, j), vb = pad_value (field, mean, i, j + 1);
        const double vc = pad_value (field, mean, i + 1, j + 1), vd = pad_value (field, mean, i + 1, j);
        const int code = (va >= level) << 3 | (vb >= level) << 2 | (vc >= level) << 1 |
                         (vd >= level);
        double px[4], py[4]; /* crossings on the edges top, right, bottom, left */

        if (code == 0 || code == 15)
          continue;
#define CROSS(e, v0, v1, x0, y0, x1, y1)                                   \
        do {                                                               \
          double t = (v1) != (v0) ? (level - (v0)) / ((v1) - (v0)) : 0.5;  \
          px[e] = (x0) + t * ((x1) - (x0));                                \
          py[e] = (y0) + t * ((y1) - (y0));                                \
        } while (0)
        CROSS (0, va, vb, xa, ya, xb, ya);
        CROSS (1, vb, vc, xb, ya, xb, yd);
        CROSS (2, vd, vc, xa, yd, xb, yd);
        CROSS (3, va, vd, xa, ya, xa, yd);
#undef CROSS
        switch (code)
          {
          case 1: case 14: add_segment (segments, px[3], py[3], px[2], py[2]); break;
          case 2: case 13: add_segment (segments, px[2], py[2], px[1], py[1]); break;
          case 3: case 12: add_segment (segments, px[3], py[3], px[1], py[1]); break;
          case 4: case 11: add_segment (segments, px[0], py[0], px[1], py[1]); break;
          case 6: case 9:  add_segment (segments, px[0], py[0], px[2], py[2]); break;
          case 7: case 8:  add_segment (segments, px[3], py[3], px[0], py[0]); break;
          case 5: case 10:
            {
              /* a saddle: the bilinear centre value decides which corners join */
              gboolean centre_in = (va + vb + vc + vd) / 4.0 >= level;
              gboolean a_in = code == 10;

              if (centre_in == a_in)
                {
                  /* a and c joined through the centre: cut off b and d */
                  add_segment (segments, px[0], py[0], px[1], py[1]);
                  add_segment (segments, px[3], py[3], px[2], py[2]);
                }
              else
                {
                  add_segment (segments, px[3], py[3], px[0], py[0]);
                  add_segment (segments, px[2], py[2], px[1], py[1]);
                }
            }
            break;
          default:
            break;
          }
      }
  return segments;
}

GArray *
mir_detect_field_contour (const MirDetectField *field,
                          double                level)
{
  g_return_val_if_fail (field != NULL, NULL);
  return contour_values (field, FALSE, level);
}

GArray *
mir_detect_field_mean_contour (const MirDetectField *field)
{
  g_return_val_if_fail (field != NULL, NULL);
  return contour_values (field, TRUE, field->mu);
}

char *
mir_detect_field_describe (const MirDetectField *field,
                           guint                 n,
                           const char           *class_name)
{
  GString *text;
  const int side = 2 * (int) field->radius + 1;
  const guint total = (guint) (side * side);
  double p;

  g_return_val_if_fail (field != NULL, NULL);
  g_return_val_if_fail (n < mir_detect_geometry_n_windows (&field->geom), NULL);

  p = field->prob[n];
  text = g_string_new (NULL);
  if (class_name != NULL)
    g_string_append_printf (text, "%s\n", class_name);
  if (field->filter1[n])
    /* Translators: filter 1 of the seed's detector with the numbers in:
     * the window's probability, at least the threshold, a tick */
    g_string_append_printf (text, _("Filter 1: P = %.3f ≥ %.3f ✓ kept"), p, field->threshold);
  else if (p >= field->threshold)
    /* Translators: P reaches the threshold but the class is switched off */
    g_string_append_printf (text, _("Filter 1: P = %.3f ≥ %.3f, but the class is off"), p,
                            field->threshold);
  else
    /* Translators: filter 1: the window's probability is below the threshold, a cross */
    g_string_append_printf (text, _("Filter 1: P = %.3f < %.3f ✗ dropped"), p, field->threshold);

  g_string_append_c (text, '\n');
  if (field->method == MIR_DETECT_METHOD_1)
    {
      g_string_append (text, _("Filter 2: not used by method 1"));
      return g_string_free (text, FALSE);
    }
  /* Translators: filter 2 of the seed's detector with the numbers in: the
   * mean of the window's neighbourhood (e.g. 3×3) against μ; "1 − P" is
   * method 2.1's complement */
  if (!field->filter1[n])
    g_string_append_printf (text, field->complement
                            ? _("Filter 2: %d×%d mean of 1 − P = %.3f, not compared: filter 1 dropped the window")
                            : _("Filter 2: %d×%d mean = %.3f, not compared: filter 1 dropped the window"),
                            side, side, field->mean[n]);
  else if (field->filter2[n])
    g_string_append_printf (text, field->complement
                            ? _("Filter 2: %d×%d mean of 1 − P = %.3f ≥ μ = %.3f ✓ kept")
                            : _("Filter 2: %d×%d mean = %.3f ≥ μ = %.3f ✓ kept"),
                            side, side, field->mean[n], field->mu);
  else
    g_string_append_printf (text, field->complement
                            ? _("Filter 2: %d×%d mean of 1 − P = %.3f < μ = %.3f ✗ dropped")
                            : _("Filter 2: %d×%d mean = %.3f < μ = %.3f ✗ dropped"),
                            side, side, field->mean[n], field->mu);

  if (field->n_outside[n] > 0)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text,
                              /* Translators: the exception factor f_e at the photo's edge */
                              g_dngettext (GETTEXT_PACKAGE,
                                           "%u of %u neighbours lies outside the photo and "
                                           "counts as fₑ = %.2f; without it the mean would be "
                                           "%.3f",
                                           "%u of %u neighbours lie outside the photo and count "
                                           "as fₑ = %.2f; without them the mean would be %.3f",
                                           field->n_outside[n]),
                              (guint) field->n_outside[n], total, field->exception,
                              field->mean_inside[n]);
      if (field->edge[n] == MIR_DETECT_EDGE_RESCUED)
        g_string_append_printf (text, "\n%s", _("fₑ rescues this window"));
      else if (field->edge[n] == MIR_DETECT_EDGE_REJECTED)
        g_string_append_printf (text, "\n%s", _("fₑ rejects this window"));
    }
  return g_string_free (text, FALSE);
}

/* ------------------------------------------------------------------ */
/* Drawing into an 8-bit image */

static inline void
blend_pixel (MirImage *image, int x, int y, const guint8 rgb[3], double alpha)
{
  guint8 *p;

  if (x < 0 || y < 0 || x >= image->width || y >= image->height || alpha <= 0)
    return;
  alpha = MIN (alpha, 1.0);
  p = image->pixels + (gsize) y * image->rowstride + (gsize) x * (gsize) image->channels;
  if (image->channels >= 3)
    for (int k = 0; k < 3; k++)
      p[k] = (guint8) lround (p[k] * (1 - alpha) + rgb[k] * alpha);
  else
    p[0] = (guint8) lround (p[0] * (1 - alpha) +
                            (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000.0 * alpha);
}

/* A square brush of side @w centred on (x, y). */
static void
dab (MirImage *image, double x, double y, double w, const guint8 rgb[3])
{
  int x0 = (int) floor (x - w / 2 + 0.5), y0 = (int) floor (y - w / 2 + 0.5);
  int n = MAX ((int) lround (w), 1);

  for (int yy = y0; yy < y0 + n; yy++)
    for (int xx = x0; xx < x0 + n; xx++)
      blend_pixel (image, xx, yy, rgb, 1.0);
}

static void
line (MirImage *image, double x0, double y0, double x1, double y1, double w, const guint8 rgb[3])
{
  double len = hypot (x1 - x0, y1 - y0);
  int steps = MAX ((int) ceil (len * 2), 1);

  for (int s = 0; s <= steps; s++)
    {
      double t = (double) s / steps;
      dab (image, x0 + t * (x1 - x0), y0 + t * (y1 - y0), w, rgb);
    }
}

/* Dashes of @dash px on and off along the segment. */
static void
line_dashed (MirImage *image, double x0, double y0, double x1, double y1, double w, double dash,
             const guint8 rgb[3])
{
  double len = hypot (x1 - x0, y1 - y0);
  int steps = MAX ((int) ceil (len * 2), 1);

  for (int s = 0; s <= steps; s++)
    {
      double t = (double) s / steps;

      if (((int) floor (t * len / dash)) % 2 == 0)
        dab (image, x0 + t * (x1 - x0), y0 + t * (y1 - y0), w, rgb);
    }
}

static void
disc (MirImage *image, double cx, double cy, double r0, double r1, const guint8 rgb[3])
{
  for (int y = (int) floor (cy - r1); y <= (int) ceil (cy + r1); y++)
    for (int x = (int) floor (cx - r1); x <= (int) ceil (cx + r1); x++)
      {
        double d = hypot (x + 0.5 - cx, y + 0.5 - cy);
        if (d <= r1 && d >= r0)
          blend_pixel (image, x, y, rgb, 1.0);
      }
}

void
mir_detect_field_draw (MirImage             *image,
                       const MirDetectField *field,
                       const guint8          rgb[3],
                       double                opacity,
                       int                   thickness)
{
  static const guint8 black[3] = { 0, 0, 0 }, white[3] = { 255, 255, 255 };
  const MirDetectGeometry *g;
  g_autoptr(GArray) contour = NULL;
  int x1, y1;
  double mark;

  g_return_if_fail (image != NULL && field != NULL);
  g = &field->geom;
  thickness = MAX (thickness, 1);
  opacity = CLAMP (opacity, 0.0, 1.0);

  /* the heat map over the scanned area */
  x1 = MIN ((int) ceil (((double) (g->cols - 1) * g->stride + g->window) * field->scale),
            image->width);
  y1 = MIN ((int) ceil (((double) (g->rows - 1) * g->stride + g->window) * field->scale),
            image->height);
  for (int y = 0; y < y1; y++)
    for (int x = 0; x < x1; x++)
      blend_pixel (image, x, y, rgb, opacity * mir_detect_field_sample (field, x + 0.5, y + 0.5));

  /* the μ field: where the neighbourhood mean crosses μ (filter 2's cut), dashed */
  {
    g_autoptr(GArray) mu = mir_detect_field_mean_contour (field);

    for (int pass = 0; pass < 2; pass++)
      for (guint i = 0; i < mu->len; i++)
        {
          const MirDetectSegment *q = &g_array_index (mu, MirDetectSegment, i);

          line_dashed (image, q->x0, q->y0, q->x1, q->y1, pass == 0 ? thickness + 2 : thickness,
                       3.0 * thickness, pass == 0 ? black : white);
        }
  }

  /* the threshold contour: the class colour on a black edge */
  contour = mir_detect_field_contour (field, field->threshold);
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < contour->len; i++)
      {
        const MirDetectSegment *s_seg = &g_array_index (contour, MirDetectSegment, i);
        const double s[4] = { s_seg->x0, s_seg->y0, s_seg->x1, s_seg->y1 };
        line (image, s[0], s[1], s[2], s[3], pass == 0 ? thickness + 2 : thickness,
              pass == 0 ? black : rgb);
      }

  if (field->method == MIR_DETECT_METHOD_1)
    return;
  /* the candidates' marks: what filter 2 and f_e did */
  mark = MAX (3.0, MIN (g->stride * field->scale / 6.0, 4.0 * thickness));
  for (int r = 0; r < g->rows; r++)
    for (int c = 0; c < g->cols; c++)
      {
        guint n = (guint) (r * g->cols + c);
        double cx, cy;

        if (!field->filter1[n])
          continue;
        mir_detect_field_cell_centre (field, (guint) r, (guint) c, &cx, &cy);
        switch (field->edge[n])
          {
          case MIR_DETECT_EDGE_RESCUED: /* a plus */
            line (image, cx - mark, cy, cx + mark, cy, thickness + 2, black);
            line (image, cx, cy - mark, cx, cy + mark, thickness + 2, black);
            line (image, cx - mark, cy, cx + mark, cy, thickness, white);
            line (image, cx, cy - mark, cx, cy + mark, thickness, white);
            break;
          case MIR_DETECT_EDGE_REJECTED: /* a cross */
            line (image, cx - mark, cy - mark, cx + mark, cy + mark, thickness + 2, black);
            line (image, cx - mark, cy + mark, cx + mark, cy - mark, thickness + 2, black);
            line (image, cx - mark, cy - mark, cx + mark, cy + mark, thickness, white);
            line (image, cx - mark, cy + mark, cx + mark, cy - mark, thickness, white);
            break;
          default:
            disc (image, cx, cy, 0, mark + 1, black);
            /* kept: a white dot; dropped: a white ring */
            disc (image, cx, cy, field->filter2[n] ? 0 : mark - 1.5, mark, white);
            break;
          }
      }
}
