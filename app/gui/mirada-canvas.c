/* mirada-canvas.c: image + boxes, drawn in snapshot() (STYLE.md §6). */
#define G_LOG_DOMAIN "mirada-canvas"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "mirada-canvas.h"
#include "mirada-unit-overlay.h"

#define ZOOM_MIN 0.05
#define ZOOM_MAX 32.0
#define ZOOM_STEP 1.25

struct _MiradaCanvas
{
  GtkWidget parent_instance;

  GdkTexture *texture;
  GskRenderNode *image_node; /* cached: rebuilt when the texture changes */
  MirDetectGrid *grid;
  MirDetectParams *params;   /* the filter's, for the hover's neighbourhood means; or NULL */
  guint n_scales;            /* pyramid levels scanned; the grid is scale 1 (the image as is) */
  GArray *boxes;
  GArray *truth;             /* MirDetectTruthBox, drawn dashed; or NULL */
  char **class_names;
  MiradaSession *session;    /* borrowed (weak), or NULL */

  gboolean fit;              /* follow the widget size */
  double zoom;               /* when !fit */
  double pan_x, pan_y;       /* widget offset of the image origin when !fit */
  double drag_start_x, drag_start_y;
  /* a drag in "Mark" mode (issue 18): the rectangle, widget pixels */
  gboolean marking;
  double mark_x0, mark_y0, mark_x1, mark_y1;

  double pointer_x, pointer_y;
  gboolean hovering;
  int hover_row, hover_col;
  gboolean pointer_inside;   /* pointer_x/y are in the widget (hover follows zoom and pan) */
  gboolean has_selection;
  int sel_row, sel_col;
  gboolean presentation;     /* thick boxes, large bold labels */

  /* the probability fields the session shows (issue 18): FieldView per class shown */
  GPtrArray *fields;
  double field_opacity;

  /* drawn over the boxes (the compare view's agreement colours, issue 19) */
  MiradaCanvasOverlayFunc overlay;
  gpointer overlay_data;
  GDestroyNotify overlay_destroy;

  /* the explained unit's receptive field on the photo (issue 19), image pixels */
  gboolean has_unit_field;
  graphene_rect_t unit_field, unit_padded;

  /* the occlusion brush (issue 19, mirada-occlusion-paint.c): drags paint */
  MiradaCanvasBrushFunc brush_func;
  gpointer brush_data;
  double brush_radius;       /* image pixels */
  gboolean brushing;         /* a drag is painting */
  double brush_x0, brush_y0; /* where it began, widget pixels */
  gboolean keep_view;        /* a new texture of the same size keeps zoom, pan and selection */
};

/* One class's field and its threshold contour, remade when the boxes are
 * (the same filter run) or the session's choice of fields changes. */
typedef struct
{
  MirDetectField *field;
  GArray *contour;           /* MirDetectSegment, image coordinates */
  GArray *mu_contour;        /* where the mean crosses μ (methods 2.1/2.2) */
} FieldView;

static void
field_view_free (FieldView *view)
{
  mir_detect_field_free (view->field);
  g_array_unref (view->contour);
  g_array_unref (view->mu_contour);
  g_free (view);
}

G_DEFINE_FINAL_TYPE (MiradaCanvas, mirada_canvas, GTK_TYPE_WIDGET)

enum {
  WINDOW_ACTIVATED,
  VIEW_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

enum {
  PROP_0,
  PROP_PRESENTATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* One palette for every widget that shows class colours (canvas, swatches,
 * sweep plot): presentation mode switches it for the whole application. */
static gboolean safe_palette;

void
mirada_class_color_set_safe (gboolean safe)
{
  safe_palette = safe;
}

void
mirada_class_color (guint    class_index,
                    GdkRGBA *rgba)
{
  guint8 rgb[3];

  /* the engine's colours, so the GUI matches `mirada detect --draw` */
  if (safe_palette)
    mir_detect_class_color_safe (class_index, rgb);
  else
    mir_detect_class_color (class_index, rgb);
  rgba->red = rgb[0] / 255.f;
  rgba->green = rgb[1] / 255.f;
  rgba->blue = rgb[2] / 255.f;
  rgba->alpha = 1.f;
}

static char *
class_label (const char *const *names,
             guint              k)
{
  guint n = names != NULL ? g_strv_length ((char **) names) : 0;

  /* callers pass every class's name (mir_model_dup_class_names, a grid's) */
  if (k < n)
    return g_strdup (names[k]);
  return g_strdup_printf ("%u", k);
}

static int
compare_prob_desc (gconstpointer a,
                   gconstpointer b)
{
  const MirDetectBox *const *x = a, *const *y = b;

  return (*x)->prob < (*y)->prob ? 1 : (*x)->prob > (*y)->prob ? -1 : 0;
}

/* The windows clicked as examples (background and classes by example): the
 * window dotted, and at its centre a cross (background) or a ring (a class). */
static void
draw_examples (MiradaCanvas *self,
               cairo_t      *cr,
               double        scale)
{
  const MirDetectExamples *examples = self->session != NULL
                                      ? mirada_session_get_examples (self->session) : NULL;

  if (examples == NULL)
    return;
  cairo_save (cr);
  for (guint i = 0; i < examples->items->len; i++)
    {
      const MirDetectExample *ex = g_ptr_array_index (examples->items, i);
      double cx = (ex->x + ex->size / 2.0) * scale, cy = (ex->y + ex->size / 2.0) * scale;
      gboolean bg = mir_detect_label_is_background (ex->label);

      if (ex->size <= 0)
        continue; /* from another image: no place here */
      cairo_set_line_width (cr, 1.5);
      cairo_set_dash (cr, (double[]) { 2, 3 }, 2, 0);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.8);
      cairo_rectangle (cr, ex->x * scale, ex->y * scale, ex->size * scale, ex->size * scale);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
      cairo_arc (cr, cx, cy, 11, 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0, 0, 0, 0.75);
      cairo_fill_preserve (cr);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.95);
      cairo_set_line_width (cr, 2);
      cairo_stroke (cr);
      if (bg)
        {
          cairo_move_to (cr, cx - 5, cy - 5);
          cairo_line_to (cr, cx + 5, cy + 5);
          cairo_move_to (cr, cx + 5, cy - 5);
          cairo_line_to (cr, cx - 5, cy + 5);
        }
      else
        cairo_arc (cr, cx, cy, 4, 0, 2 * G_PI);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
}

void
mirada_draw_truth (cairo_t *cr,
                   GArray  *truth,
                   double   scale)
{
  static const double dash[] = { 6.0, 4.0 };

  if (truth == NULL)
    return;
  cairo_save (cr);
  cairo_set_line_width (cr, 2.0);
  cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
  for (guint i = 0; i < truth->len; i++)
    {
      const MirDetectTruthBox *t = &g_array_index (truth, MirDetectTruthBox, i);
      GdkRGBA color;

      /* white under the class colour: visible on dark and light images */
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 5.0);
      cairo_rectangle (cr, t->x * scale + 3, t->y * scale + 3, t->width * scale - 6, t->height * scale - 6);
      cairo_stroke (cr);
      mirada_class_color (t->class_index, &color);
      gdk_cairo_set_source_rgba (cr, &color);
      cairo_set_dash (cr, dash, G_N_ELEMENTS (dash), 0);
      cairo_rectangle (cr, t->x * scale + 3, t->y * scale + 3, t->width * scale - 6, t->height * scale - 6);
      cairo_stroke (cr);
    }
  cairo_restore (cr);
}

void
mirada_draw_boxes (cairo_t           *cr,
                   PangoLayout       *layout,
                   GArray            *boxes,
                   const char *const *class_names,
                   double             scale)
{
  mirada_draw_boxes_full (cr, layout, boxes, class_names, scale, 2.0, FALSE);
}

/* WCAG relative luminance of a colour's sRGB values */
static double
luminance (const GdkRGBA *c)
{
  double v[3] = { c->red, c->green, c->blue };

  for (int i = 0; i < 3; i++)
    v[i] = v[i] <= 0.03928 ? v[i] / 12.92 : pow ((v[i] + 0.055) / 1.055, 2.4);
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}

void
mirada_draw_boxes_full (cairo_t           *cr,
                        PangoLayout       *layout,
                        GArray            *boxes,
                        const char *const *class_names,
                        double             scale,
                        double             line_width,
                        gboolean           contrast_text)
{
  g_autoptr(GPtrArray) order = NULL;
  g_autoptr(GArray) placed = NULL;
  double inset = line_width / 2;

  if (boxes == NULL)
    return;

  cairo_set_line_width (cr, line_width);
  for (guint i = 0; i < boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (boxes, MirDetectBox, i);
      GdkRGBA color;

      mirada_class_color (b->class_index, &color);
      gdk_cairo_set_source_rgba (cr, &color);
      cairo_rectangle (cr, b->x * scale + inset, b->y * scale + inset,
                       b->width * scale - 2 * inset, b->height * scale - 2 * inset);
      cairo_stroke (cr);
    }

  /* Labels, most probable first, above their box (inside it only at the
   * image's top edge) so that they hide nothing of what they label.  A label
   * that would cover an earlier (more probable) one moves down, below that
   * label, while it still lies within its box's height; otherwise it is left
   * out (overlapping windows would otherwise bury them all). */
  order = g_ptr_array_new ();
  for (guint i = 0; i < boxes->len; i++)
    g_ptr_array_add (order, &g_array_index (boxes, MirDetectBox, i));
  g_ptr_array_sort (order, compare_prob_desc);
  placed = g_array_new (FALSE, FALSE, sizeof (graphene_rect_t));
  for (guint i = 0; i < order->len; i++)
    {
      const MirDetectBox *b = order->pdata[i];
      g_autofree char *name = class_label (class_names, b->class_index);
      g_autofree char *text = g_strdup_printf ("%s %.3f", name, b->prob);
      graphene_rect_t rect;
      gboolean free_spot = FALSE;
      double top = b->y * scale, bottom = (b->y + b->height) * scale;
      int tw, th;
      GdkRGBA color;

      pango_layout_set_text (layout, text, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      graphene_rect_init (&rect, b->x * scale, top - (th + 2), tw + 6, th + 2);
      if (rect.origin.y < 0)
        rect.origin.y = top + 1;
      while (!free_spot && rect.origin.y + rect.size.height <= bottom)
        {
          free_spot = TRUE;
          for (guint j = 0; j < placed->len && free_spot; j++)
            {
              const graphene_rect_t *other = &g_array_index (placed, graphene_rect_t, j);

              if (graphene_rect_intersection (&rect, other, NULL))
                {
                  free_spot = FALSE;
                  rect.origin.y = other->origin.y + other->size.height + 1;
                }
            }
        }
      if (!free_spot)
        continue;
      g_array_append_val (placed, rect);

      mirada_class_color (b->class_index, &color);
      gdk_cairo_set_source_rgba (cr, &color);
      cairo_rectangle (cr, rect.origin.x, rect.origin.y, rect.size.width, rect.size.height);
      cairo_fill (cr);
      /* white, as `mirada detect --draw`; or whichever of black and white
       * contrasts more with the label's colour (WCAG: L > 0.179 → black) */
      if (contrast_text && luminance (&color) > 0.179)
        cairo_set_source_rgb (cr, 0, 0, 0);
      else
        cairo_set_source_rgb (cr, 1, 1, 1);
      cairo_move_to (cr, rect.origin.x + 3, rect.origin.y + 1);
      pango_cairo_show_layout (cr, layout);
    }
}

static void
get_transform (MiradaCanvas *self,
               double       *scale,
               double       *ox,
               double       *oy)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self));
  int h = gtk_widget_get_height (GTK_WIDGET (self));
  int iw, ih;

  *scale = 1.0;
  *ox = *oy = 0.0;
  if (self->texture == NULL)
    return;
  iw = gdk_texture_get_width (self->texture);
  ih = gdk_texture_get_height (self->texture);
  if (self->fit)
    {
      *scale = MIN ((double) w / iw, (double) h / ih);
      if (*scale <= 0)
        *scale = 1.0;
      *ox = floor ((w - iw * *scale) / 2);
      *oy = floor ((h - ih * *scale) / 2);
    }
  else
    {
      *scale = self->zoom;
      *ox = self->pan_x;
      *oy = self->pan_y;
    }
}

gboolean
mirada_grid_lookup (const MirDetectGrid *grid,
                    double               x,
                    double               y,
                    int                 *row,
                    int                 *col)
{
  const MirDetectGeometry *g = &grid->geom;
  double half = g->window / 2.0;
  int c, r;

  c = (int) floor ((x - half) / g->stride + 0.5);
  r = (int) floor ((y - half) / g->stride + 0.5);
  c = CLAMP (c, 0, g->cols - 1);
  r = CLAMP (r, 0, g->rows - 1);
  if (x < c * g->stride || x >= c * g->stride + g->window ||
      y < r * g->stride || y >= r * g->stride + g->window)
    return FALSE;
  *row = r;
  *col = c;
  return TRUE;
}

static void
window_rect (const MirDetectGrid *grid,
             int                  row,
             int                  col,
             int                 *x,
             int                 *y,
             int                 *w,
             int                 *h)
{
  int size;

  mir_detect_geometry_window_rect (&grid->geom, (guint) (row * grid->geom.cols + col), x, y, &size);
  *w = *h = size;
}

char *
mirada_canvas_describe_window (MiradaCanvas *self,
                               int           row,
                               int           col)
{
  GString *text;
  guint n;

  g_return_val_if_fail (MIRADA_IS_CANVAS (self), NULL);
  g_return_val_if_fail (self->grid != NULL, NULL);
  g_return_val_if_fail (row >= 0 && row < self->grid->geom.rows, NULL);
  g_return_val_if_fail (col >= 0 && col < self->grid->geom.cols, NULL);

  n = (guint) (row * self->grid->geom.cols + col);
  text = g_string_new (NULL);
  /* Translators: a window position of the sliding-window grid: row, column */
  g_string_append_printf (text, _("Window %d, %d"), row, col);
  if (self->n_scales > 1)
    /* Translators: the hover shows the windows of the image as is, the first
     * level of a multi-scale pyramid, e.g. "scale 1 of 3" */
    g_string_append_printf (text, _(" · scale 1 of %u"), self->n_scales);
  if (self->params != NULL && self->params->n_classes == self->grid->n_classes)
    {
      int side = 2 * (int) self->params->radius + 1;

      g_string_append_c (text, '\n');
      if (self->params->weighted_mean)
        /* Translators: the neighbourhood of a window position, e.g. "weighted 3×3 mean" */
        g_string_append_printf (text, _("probability · weighted %d×%d mean"), side, side);
      else
        /* Translators: the neighbourhood of a window position, e.g. "3×3 mean" */
        g_string_append_printf (text, _("probability · %d×%d mean"), side, side);
    }
  for (guint k = 0; k < self->grid->n_classes; k++)
    {
      g_autofree char *name = self->session != NULL ? mirada_session_dup_class_name (self->session, k)
                                                     : class_label ((const char *const *) self->grid->class_names, k);

      g_string_append_printf (text, "\n%s: %.4f", name, mir_detect_grid_get (self->grid, n, k));
      /* the mean filter 2 compares with μ (edges count as the exception factor) */
      if (self->params != NULL && self->params->n_classes == self->grid->n_classes)
        g_string_append_printf (text, " · %.4f",
                                mir_detect_window_mean (self->grid, self->params, k, n));
    }
  /* the classes whose field is shown: their filters' equations with the numbers in */
  for (guint i = 0; self->fields != NULL && i < self->fields->len; i++)
    {
      const FieldView *view = g_ptr_array_index (self->fields, i);
      guint k = view->field->class_index;
      g_autofree char *name = self->session != NULL ? mirada_session_dup_class_name (self->session, k)
                                                     : class_label ((const char *const *) self->grid->class_names, k);
      g_autofree char *equations = mir_detect_field_describe (view->field, n, name);

      g_string_append_printf (text, "\n\n%s", equations);
    }
  return g_string_free (text, FALSE);
}

/* The fields: P as a translucent heat map in the class colour (bilinear
 * between the window centres, as mir_detect_field_sample), the threshold
 * contour in the class colour on a black edge, and for methods 2.1/2.2 the
 * mean's contour at μ (dashed white on black) and a
 * mark on each window filter 1 keeps (dot: filter 2 keeps it; ring: drops
 * it; plus: fₑ rescues it; cross: fₑ rejects it), as mir_detect_field_draw
 * draws them for `mirada detect --field-png`. */
static void
draw_fields (MiradaCanvas *self,
             cairo_t      *cr,
             double        scale)
{
  const double lw = self->presentation ? 4.0 : 2.0;

  for (guint i = 0; self->fields != NULL && i < self->fields->len; i++)
    {
      const FieldView *view = g_ptr_array_index (self->fields, i);
      const MirDetectField *field = view->field;
      const MirDetectGeometry *g = &field->geom;
      const double unit = field->scale * g->stride; /* image pixels between centres */
      cairo_surface_t *heat;
      cairo_pattern_t *pattern;
      cairo_matrix_t matrix;
      guint8 *data;
      int stride;
      GdkRGBA color;
      double mark;

      mirada_class_color (field->class_index, &color);
      heat = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, g->cols, g->rows);
      data = cairo_image_surface_get_data (heat);
      stride = cairo_image_surface_get_stride (heat);
      for (int r = 0; r < g->rows; r++)
        for (int c = 0; c < g->cols; c++)
          {
            double a = self->field_opacity * CLAMP (field->prob[r * g->cols + c], 0.0f, 1.0f);
            guint32 px = (guint32) lround (a * 255) << 24 |
                         (guint32) lround (color.red * a * 255) << 16 |
                         (guint32) lround (color.green * a * 255) << 8 |
                         (guint32) lround (color.blue * a * 255);

            memcpy (data + (gsize) r * stride + (gsize) c * 4, &px, 4);
          }
      cairo_surface_mark_dirty (heat);
      pattern = cairo_pattern_create_for_surface (heat);
      /* pattern pixel u + 0.5 is the centre of column u: x = (u·stride + window/2)·scale */
      cairo_matrix_init_scale (&matrix, 1.0 / (unit * scale), 1.0 / (unit * scale));
      cairo_matrix_translate (&matrix, -(g->window / 2.0 * field->scale - unit / 2) * scale,
                              -(g->window / 2.0 * field->scale - unit / 2) * scale);
      cairo_pattern_set_matrix (pattern, &matrix);
      cairo_pattern_set_filter (pattern, CAIRO_FILTER_BILINEAR);
      cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
      cairo_save (cr);
      cairo_rectangle (cr, 0, 0, ((g->cols - 1) * (double) g->stride + g->window) * field->scale * scale,
                       ((g->rows - 1) * (double) g->stride + g->window) * field->scale * scale);
      cairo_clip (cr);
      cairo_set_source (cr, pattern);
      cairo_paint (cr);
      cairo_restore (cr);
      cairo_pattern_destroy (pattern);
      cairo_surface_destroy (heat);

      /* the μ field: where the neighbourhood mean crosses μ (filter 2's cut),
       * dashed white on black */
      for (int pass = 0; pass < 2 && view->mu_contour->len > 0; pass++)
        {
          for (guint k = 0; k < view->mu_contour->len; k++)
            {
              const MirDetectSegment *q = &g_array_index (view->mu_contour, MirDetectSegment, k);

              cairo_move_to (cr, q->x0 * scale, q->y0 * scale);
              cairo_line_to (cr, q->x1 * scale, q->y1 * scale);
            }
          cairo_set_dash (cr, (double[]) { 3 * lw, 3 * lw }, 2, 0);
          cairo_set_source_rgb (cr, pass == 0 ? 0 : 1, pass == 0 ? 0 : 1, pass == 0 ? 0 : 1);
          cairo_set_line_width (cr, pass == 0 ? lw + 2 : lw);
          cairo_stroke (cr);
          cairo_set_dash (cr, NULL, 0, 0);
        }

      cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
      for (int pass = 0; pass < 2; pass++)
        {
          for (guint k = 0; k < view->contour->len; k++)
            {
              const MirDetectSegment *sg = &g_array_index (view->contour, MirDetectSegment, k);
              const double seg[4] = { sg->x0, sg->y0, sg->x1, sg->y1 };

              cairo_move_to (cr, seg[0] * scale, seg[1] * scale);
              cairo_line_to (cr, seg[2] * scale, seg[3] * scale);
            }
          if (pass == 0)
            cairo_set_source_rgb (cr, 0, 0, 0);
          else
            gdk_cairo_set_source_rgba (cr, &color);
          cairo_set_line_width (cr, pass == 0 ? lw + 2 : lw);
          cairo_stroke (cr);
        }

      if (field->method == MIR_DETECT_METHOD_1)
        continue;
      mark = CLAMP (unit * scale / 6.0, 3.0, 4.0 * lw);
      for (int r = 0; r < g->rows; r++)
        for (int c = 0; c < g->cols; c++)
          {
            guint n = (guint) (r * g->cols + c);
            double cx, cy;

            if (!field->filter1[n])
              continue;
            mir_detect_field_cell_centre (field, (guint) r, (guint) c, &cx, &cy);
            cx *= scale;
            cy *= scale;
            cairo_new_path (cr);
            switch (field->edge[n])
              {
              case MIR_DETECT_EDGE_RESCUED:
                cairo_move_to (cr, cx - mark, cy);
                cairo_line_to (cr, cx + mark, cy);
                cairo_move_to (cr, cx, cy - mark);
                cairo_line_to (cr, cx, cy + mark);
                break;
              case MIR_DETECT_EDGE_REJECTED:
                cairo_move_to (cr, cx - mark, cy - mark);
                cairo_line_to (cr, cx + mark, cy + mark);
                cairo_move_to (cr, cx - mark, cy + mark);
                cairo_line_to (cr, cx + mark, cy - mark);
                break;
              default:
                cairo_arc (cr, cx, cy, field->filter2[n] ? mark / 2 : mark - lw / 2, 0, 2 * G_PI);
                break;
              }
            if (field->edge[n] == MIR_DETECT_EDGE_NONE && field->filter2[n])
              {
                /* kept: a white dot on a black edge */
                cairo_set_source_rgb (cr, 0, 0, 0);
                cairo_set_line_width (cr, 2.0);
                cairo_stroke_preserve (cr);
                cairo_set_source_rgb (cr, 1, 1, 1);
                cairo_fill (cr);
                continue;
              }
            cairo_set_source_rgb (cr, 0, 0, 0);
            cairo_set_line_width (cr, lw + 2);
            cairo_stroke_preserve (cr);
            cairo_set_source_rgb (cr, 1, 1, 1);
            cairo_set_line_width (cr, lw);
            cairo_stroke (cr);
          }
    }
}

static void
draw_hover (MiradaCanvas *self,
            cairo_t      *cr,
            PangoLayout  *layout,
            double        scale)
{
  char *text;
  int x, y, w, h, tw, th;
  double tx, ty;

  if (self->grid == NULL)
    return;

  if (self->has_selection)
    {
      window_rect (self->grid, self->sel_row, self->sel_col, &x, &y, &w, &h);
      if (self->presentation)
        {
          /* yellow is a class colour of the safe palette: white on black */
          cairo_set_source_rgb (cr, 0, 0, 0);
          cairo_set_line_width (cr, 8.0);
          cairo_rectangle (cr, x * scale, y * scale, w * scale, h * scale);
          cairo_stroke (cr);
          cairo_set_source_rgb (cr, 1, 1, 1);
          cairo_set_line_width (cr, 4.0);
        }
      else
        {
          cairo_set_source_rgba (cr, 1, 1, 0, 0.9);
          cairo_set_line_width (cr, 3.0);
        }
      cairo_rectangle (cr, x * scale, y * scale, w * scale, h * scale);
      cairo_stroke (cr);
    }

  if (!self->hovering)
    return;

  window_rect (self->grid, self->hover_row, self->hover_col, &x, &y, &w, &h);
  cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
  cairo_set_line_width (cr, 1.5);
  cairo_set_dash (cr, (double[]) { 6, 4 }, 2, 0);
  cairo_rectangle (cr, x * scale, y * scale, w * scale, h * scale);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);

  text = mirada_canvas_describe_window (self, self->hover_row, self->hover_col);
  pango_layout_set_text (layout, text, -1);
  g_free (text);
  pango_layout_get_pixel_size (layout, &tw, &th);
  tx = (x + w) * scale + 4;
  ty = y * scale;
  /* keep the box inside the widget: left of the window if it would stick out */
  {
    double ox, oy, sc;

    get_transform (self, &sc, &ox, &oy);
    if (ox + tx + tw + 8 > gtk_widget_get_width (GTK_WIDGET (self)))
      tx = MAX (x * scale - tw - 12, -ox);
    if (oy + ty + th + 6 > gtk_widget_get_height (GTK_WIDGET (self)))
      ty = gtk_widget_get_height (GTK_WIDGET (self)) - oy - th - 6;
  }
  cairo_set_source_rgba (cr, 0, 0, 0, 0.8);
  cairo_rectangle (cr, tx, ty, tw + 8, th + 6);
  cairo_fill_preserve (cr);
  /* a light edge: the box stands out on dark scenes too */
  cairo_set_source_rgba (cr, 1, 1, 1, 0.6);
  cairo_set_line_width (cr, 1.0);
  cairo_stroke (cr);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_move_to (cr, tx + 4, ty + 3);
  pango_cairo_show_layout (cr, layout);
}

/* The widget's font (the CSS one: the window's .presentation class makes it
 * larger), bold and 1.25× as large again in presentation mode. */
static PangoFontDescription *
label_font (MiradaCanvas *self)
{
  PangoContext *context = gtk_widget_get_pango_context (GTK_WIDGET (self));
  PangoFontDescription *font = pango_font_description_copy (pango_context_get_font_description (context));
  int size = pango_font_description_get_size (font);

  if (size <= 0)
    size = 10 * PANGO_SCALE;
  if (self->presentation)
    {
      pango_font_description_set_weight (font, PANGO_WEIGHT_BOLD);
      size = size * 5 / 4;
    }
  if (pango_font_description_get_size_is_absolute (font))
    pango_font_description_set_absolute_size (font, size);
  else
    pango_font_description_set_size (font, size);
  return font;
}

double
mirada_canvas_get_label_size (MiradaCanvas *self)
{
  g_autoptr(PangoFontDescription) font = NULL;

  g_return_val_if_fail (MIRADA_IS_CANVAS (self), 0);
  font = label_font (self);
  return (double) pango_font_description_get_size (font) / PANGO_SCALE;
}

double
mirada_canvas_get_line_width (MiradaCanvas *self)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), 0);
  /* thick enough to see from the back of a classroom */
  return self->presentation ? 5.0 : 2.0;
}

void
mirada_canvas_set_presentation (MiradaCanvas *self,
                                gboolean      presentation)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  presentation = !!presentation;
  if (self->presentation == presentation)
    return;
  self->presentation = presentation;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRESENTATION]);
}

gboolean
mirada_canvas_get_presentation (MiradaCanvas *self)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), FALSE);
  return self->presentation;
}

static void
mirada_canvas_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MiradaCanvas *self = MIRADA_CANVAS (object);

  switch (prop_id)
    {
    case PROP_PRESENTATION:
      g_value_set_boolean (value, self->presentation);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mirada_canvas_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MiradaCanvas *self = MIRADA_CANVAS (object);

  switch (prop_id)
    {
    case PROP_PRESENTATION:
      mirada_canvas_set_presentation (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mirada_canvas_snapshot (GtkWidget   *widget,
                        GtkSnapshot *snapshot)
{
  MiradaCanvas *self = MIRADA_CANVAS (widget);
  int w = gtk_widget_get_width (widget);
  int h = gtk_widget_get_height (widget);
  g_autoptr(PangoLayout) layout = NULL;
  double scale, ox, oy;
  int iw, ih;
  cairo_t *cr;

  if (self->texture == NULL || w <= 0 || h <= 0)
    return;

  get_transform (self, &scale, &ox, &oy);
  iw = gdk_texture_get_width (self->texture);
  ih = gdk_texture_get_height (self->texture);

  if (self->image_node == NULL)
    self->image_node = gsk_texture_node_new (self->texture, &GRAPHENE_RECT_INIT (0, 0, iw, ih));

  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (ox, oy));
  gtk_snapshot_scale (snapshot, scale, scale);
  gtk_snapshot_append_node (snapshot, self->image_node);
  gtk_snapshot_restore (snapshot);

  /* Boxes and hover are cheap: redrawn every frame, in widget pixels so the
   * lines and labels keep their size at any zoom. */
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  cairo_translate (cr, ox, oy);
  layout = gtk_widget_create_pango_layout (widget, NULL);
  draw_fields (self, cr, scale);
  mirada_draw_truth (cr, self->truth, scale);
  draw_examples (self, cr, scale);
  if (self->presentation)
    {
      g_autoptr(PangoFontDescription) font = label_font (self);
      g_autoptr(PangoLayout) labels = gtk_widget_create_pango_layout (widget, NULL);

      pango_layout_set_font_description (labels, font);
      mirada_draw_boxes_full (cr, labels, self->boxes, (const char *const *) self->class_names,
                              scale, mirada_canvas_get_line_width (self), TRUE);
    }
  else
    mirada_draw_boxes (cr, layout, self->boxes, (const char *const *) self->class_names, scale);
  if (self->overlay != NULL)
    {
      cairo_save (cr);
      self->overlay (self, cr, scale, self->overlay_data);
      cairo_restore (cr);
    }

  if (self->has_unit_field)
    mirada_draw_unit_field (cr, &self->unit_field, &self->unit_padded, scale);
  draw_hover (self, cr, layout, scale);
  if (self->marking)
    {
      cairo_translate (cr, -ox, -oy);
      cairo_rectangle (cr, MIN (self->mark_x0, self->mark_x1), MIN (self->mark_y0, self->mark_y1),
                       fabs (self->mark_x1 - self->mark_x0), fabs (self->mark_y1 - self->mark_y0));
      cairo_set_source_rgba (cr, 1, 1, 1, 0.2);
      cairo_fill_preserve (cr);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_set_line_width (cr, 1.5);
      cairo_set_dash (cr, (double[]) { 4, 3 }, 2, 0);
      cairo_stroke (cr);
    }
  if (self->brush_func != NULL && self->pointer_inside)
    {
      /* the brush's outline under the pointer, white on black */
      cairo_new_path (cr);
      cairo_arc (cr, self->pointer_x - ox, self->pointer_y - oy,
                 MAX (self->brush_radius * scale, 2.0), 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0, 0, 0, 0.8);
      cairo_set_line_width (cr, 3.0);
      cairo_stroke_preserve (cr);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
      cairo_set_line_width (cr, 1.5);
      cairo_stroke (cr);
    }
  cairo_destroy (cr);
  gtk_snapshot_pop (snapshot);
}

static void
mirada_canvas_measure (GtkWidget      *widget,
                       GtkOrientation  orientation,
                       int             for_size,
                       int            *minimum,
                       int            *natural,
                       int            *minimum_baseline,
                       int            *natural_baseline)
{
  *minimum = 64;
  *natural = 480;
}

static gboolean
widget_to_image (MiradaCanvas *self,
                 double        wx,
                 double        wy,
                 double       *ix,
                 double       *iy)
{
  double scale, ox, oy;

  if (self->texture == NULL)
    return FALSE;
  get_transform (self, &scale, &ox, &oy);
  *ix = (wx - ox) / scale;
  *iy = (wy - oy) / scale;
  return TRUE;
}

/* The window under the pointer, again: after a motion, and after anything
 * that moves the image under a still pointer (zoom, pan, fit, a new grid),
 * so the hover read-out never describes a window the pointer has left. */
static void
update_hover (MiradaCanvas *self)
{
  double ix, iy;
  int row = 0, col = 0;
  gboolean hovering = FALSE;

  if (self->pointer_inside && self->grid != NULL &&
      widget_to_image (self, self->pointer_x, self->pointer_y, &ix, &iy))
    hovering = mirada_grid_lookup (self->grid, ix, iy, &row, &col);

  if (hovering != self->hovering || (hovering && (row != self->hover_row || col != self->hover_col)))
    {
      self->hovering = hovering;
      if (hovering)
        {
          self->hover_row = row;
          self->hover_col = col;
        }
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

void
mirada_canvas_pointer_moved (MiradaCanvas *self,
                             double        x,
                             double        y)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  self->pointer_x = x;
  self->pointer_y = y;
  self->pointer_inside = TRUE;
  update_hover (self);
  if (self->brush_func != NULL)
    gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
pointer_motion_cb (GtkEventControllerMotion *controller,
                   double                    x,
                   double                    y,
                   MiradaCanvas             *self)
{
  mirada_canvas_pointer_moved (self, x, y);
}

static void
pointer_leave_cb (GtkEventControllerMotion *controller,
                  MiradaCanvas             *self)
{
  self->pointer_inside = FALSE;
  if (self->hovering)
    {
      self->hovering = FALSE;
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

static void
leave_fit (MiradaCanvas *self)
{
  double scale, ox, oy;

  if (!self->fit)
    return;
  get_transform (self, &scale, &ox, &oy);
  self->fit = FALSE;
  self->zoom = scale;
  self->pan_x = ox;
  self->pan_y = oy;
}

static void
zoom_at (MiradaCanvas *self,
         double        factor,
         double        wx,
         double        wy)
{
  double new_zoom;

  if (self->texture == NULL)
    return;
  leave_fit (self);
  new_zoom = CLAMP (self->zoom * factor, ZOOM_MIN, ZOOM_MAX);
  /* keep the image point under (wx, wy) in place */
  self->pan_x = wx - (wx - self->pan_x) * new_zoom / self->zoom;
  self->pan_y = wy - (wy - self->pan_y) * new_zoom / self->zoom;
  self->zoom = new_zoom;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_hover (self);
  g_signal_emit (self, signals[VIEW_CHANGED], 0);
}

static gboolean
scrolled_cb (GtkEventControllerScroll *controller,
             double                    dx,
             double                    dy,
             MiradaCanvas             *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));
  double x, y;

  if (!(state & GDK_CONTROL_MASK))
    {
      if (self->texture == NULL)
        return FALSE;
      leave_fit (self);
      self->pan_x -= dx * 30;
      self->pan_y -= dy * 30;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      update_hover (self);
      g_signal_emit (self, signals[VIEW_CHANGED], 0);
      return TRUE;
    }

  /* zoom around the pointer (last motion position) */
  x = self->pointer_x;
  y = self->pointer_y;
  zoom_at (self, dy < 0 ? ZOOM_STEP : 1.0 / ZOOM_STEP, x, y);
  return TRUE;
}

/* The windows whose centres lie in the widget rectangle become examples of
 * the mark label, as one step. */
static gboolean
mark_rect (MiradaCanvas *self,
           double        wx0,
           double        wy0,
           double        wx1,
           double        wy1)
{
  g_autoptr(GError) error = NULL;
  double x0, y0, x1, y1;

  return self->session != NULL && mirada_session_get_mark_label (self->session) != NULL
         && widget_to_image (self, wx0, wy0, &x0, &y0) && widget_to_image (self, wx1, wy1, &x1, &y1)
         && mirada_session_add_examples_in_rect (self->session, x0, y0, x1, y1,
                                                 mirada_session_get_mark_label (self->session),
                                                 &error) > 0;
}

static void
drag_begin_cb (GtkGestureDrag *gesture,
               double          x,
               double          y,
               MiradaCanvas   *self)
{
  double scale, ox, oy, ix, iy;

  get_transform (self, &scale, &ox, &oy);
  self->drag_start_x = ox;
  self->drag_start_y = oy;
  self->brushing = self->brush_func != NULL && widget_to_image (self, x, y, &ix, &iy);
  if (self->brushing)
    {
      self->brush_x0 = x;
      self->brush_y0 = y;
      gtk_widget_grab_focus (GTK_WIDGET (self));
      self->brush_func (self, MIRADA_BRUSH_BEGIN, ix, iy, self->brush_data);
    }
  /* "Mark" mode: a drag spans a rectangle of examples instead of panning */
  self->marking = !self->brushing && self->session != NULL && mirada_session_get_mark_label (self->session) != NULL;
  self->mark_x0 = self->mark_x1 = x;
  self->mark_y0 = self->mark_y1 = y;
}

static void
drag_update_cb (GtkGestureDrag *gesture,
                double          dx,
                double          dy,
                MiradaCanvas   *self)
{
  if (self->brushing)
    {
      double sx = self->brush_x0, sy = self->brush_y0, ix, iy;

      if (widget_to_image (self, sx + dx, sy + dy, &ix, &iy))
        self->brush_func (self, MIRADA_BRUSH_MOVE, ix, iy, self->brush_data);
      self->pointer_x = sx + dx;
      self->pointer_y = sy + dy;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  if (self->texture == NULL || hypot (dx, dy) < 4)
    return;
  if (self->marking)
    {
      self->mark_x1 = self->mark_x0 + dx;
      self->mark_y1 = self->mark_y0 + dy;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  leave_fit (self);
  self->pan_x = self->drag_start_x + dx;
  self->pan_y = self->drag_start_y + dy;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_hover (self);
  g_signal_emit (self, signals[VIEW_CHANGED], 0);
}

static void
drag_end_cb (GtkGestureDrag *gesture,
             double          dx,
             double          dy,
             MiradaCanvas   *self)
{
  double sx, sy, ix, iy;
  int row, col;

  if (self->brushing)
    {
      self->brushing = FALSE;
      if (self->brush_func != NULL)
        self->brush_func (self, MIRADA_BRUSH_END, 0, 0, self->brush_data);
      return;
    }
  if (self->marking && hypot (dx, dy) >= 4)
    {
      self->marking = FALSE;
      gtk_widget_queue_draw (GTK_WIDGET (self));
      if (!mark_rect (self, self->mark_x0, self->mark_y0, self->mark_x0 + dx, self->mark_y0 + dy))
        gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  self->marking = FALSE;
  if (hypot (dx, dy) >= 4 || self->grid == NULL)
    return;
  /* A click without movement selects the window under the pointer, or marks
   * it as an example (background or a class by example: the detector panel's
   * "Mark" buttons). */
  gtk_gesture_drag_get_start_point (gesture, &sx, &sy);
  gtk_widget_grab_focus (GTK_WIDGET (self));
  if (self->session != NULL && mirada_session_get_mark_label (self->session) != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (widget_to_image (self, sx, sy, &ix, &iy)
          && !mirada_session_add_example (self->session, ix, iy,
                                          mirada_session_get_mark_label (self->session), &error))
        gtk_widget_error_bell (GTK_WIDGET (self));
      return;
    }
  if (widget_to_image (self, sx, sy, &ix, &iy) &&
      mirada_grid_lookup (self->grid, ix, iy, &row, &col))
    mirada_canvas_select (self, row, col);
}

/* Keyboard: the arrows move the selected window (a click's job), + and −
 * zoom, 0 fits. */
static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                MiradaCanvas          *self)
{
  int dr = 0, dc = 0, row, col;

  if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK))
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_plus: case GDK_KEY_KP_Add: case GDK_KEY_equal:
      mirada_canvas_zoom_in (self);
      return TRUE;
    case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
      mirada_canvas_zoom_out (self);
      return TRUE;
    case GDK_KEY_0: case GDK_KEY_KP_0:
      mirada_canvas_zoom_fit (self);
      return TRUE;
    case GDK_KEY_Left: case GDK_KEY_KP_Left: dc = -1; break;
    case GDK_KEY_Right: case GDK_KEY_KP_Right: dc = 1; break;
    case GDK_KEY_Up: case GDK_KEY_KP_Up: dr = -1; break;
    case GDK_KEY_Down: case GDK_KEY_KP_Down: dr = 1; break;
    default:
      return FALSE;
    }
  if (self->grid == NULL)
    return FALSE;
  row = self->has_selection ? CLAMP (self->sel_row + dr, 0, self->grid->geom.rows - 1) : 0;
  col = self->has_selection ? CLAMP (self->sel_col + dc, 0, self->grid->geom.cols - 1) : 0;
  mirada_canvas_select (self, row, col);
  return TRUE;
}

void
mirada_canvas_select (MiradaCanvas *self,
                      int           row,
                      int           col)
{
  g_autofree char *text = NULL;

  g_return_if_fail (MIRADA_IS_CANVAS (self));
  g_return_if_fail (self->grid != NULL);
  g_return_if_fail (row >= 0 && row < self->grid->geom.rows && col >= 0 && col < self->grid->geom.cols);

  self->has_selection = TRUE;
  self->sel_row = row;
  self->sel_col = col;
  /* what the hover shows, for screen readers too */
  text = mirada_canvas_describe_window (self, row, col);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[WINDOW_ACTIVATED], 0, row, col);
}

void
mirada_canvas_set_texture (MiradaCanvas *self,
                           GdkTexture   *texture)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  gboolean same_size = self->texture != NULL && texture != NULL
                       && gdk_texture_get_width (self->texture) == gdk_texture_get_width (texture)
                       && gdk_texture_get_height (self->texture) == gdk_texture_get_height (texture);

  if (!g_set_object (&self->texture, texture))
    return;
  g_clear_pointer (&self->image_node, gsk_render_node_unref);
  if (self->keep_view && same_size)
    {
      /* the same photo, repainted (the occlusion brush) */
      gtk_widget_queue_draw (GTK_WIDGET (self));
      return;
    }
  self->fit = TRUE;
  self->hovering = FALSE;
  self->has_selection = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

GdkTexture *
mirada_canvas_get_texture (MiradaCanvas *self)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), NULL);
  return self->texture;
}

void
mirada_canvas_set_detections (MiradaCanvas *self,
                              MirDetectGrid *grid,
                              GArray        *boxes)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  /* a grid of the same windows (a brush stroke re-classified some) keeps the selection */
  if (grid != self->grid
      && !(grid != NULL && self->grid != NULL
           && memcmp (&grid->geom, &self->grid->geom, sizeof grid->geom) == 0))
    {
      self->hovering = FALSE;
      self->has_selection = FALSE;
    }
  if (grid != NULL)
    mir_detect_grid_ref (grid);
  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  self->grid = grid;
  if (boxes != NULL)
    g_array_ref (boxes);
  g_clear_pointer (&self->boxes, g_array_unref);
  self->boxes = boxes;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_hover (self);
}

void
mirada_canvas_set_params (MiradaCanvas          *self,
                          const MirDetectParams *params)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  g_clear_pointer (&self->params, mir_detect_params_free);
  if (params != NULL)
    self->params = mir_detect_params_copy (params);
  if (self->hovering)
    gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
mirada_canvas_get_hover (MiradaCanvas *self,
                         int          *row,
                         int          *col)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), FALSE);
  if (!self->hovering)
    return FALSE;
  *row = self->hover_row;
  *col = self->hover_col;
  return TRUE;
}

void
mirada_canvas_set_truth (MiradaCanvas *self,
                         GArray       *truth)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  if (truth != NULL)
    g_array_ref (truth);
  g_clear_pointer (&self->truth, g_array_unref);
  self->truth = truth;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
mirada_canvas_set_unit_field (MiradaCanvas          *self,
                              const graphene_rect_t *field,
                              const graphene_rect_t *padded)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  self->has_unit_field = field != NULL;
  if (field != NULL)
    {
      self->unit_field = *field;
      self->unit_padded = padded != NULL ? *padded : *field;
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
mirada_canvas_get_unit_field (MiradaCanvas    *self,
                              graphene_rect_t *field,
                              graphene_rect_t *padded)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), FALSE);
  if (self->has_unit_field && field != NULL)
    *field = self->unit_field;
  if (self->has_unit_field && padded != NULL)
    *padded = self->unit_padded;
  return self->has_unit_field;
}

GArray *
mirada_canvas_get_truth (MiradaCanvas *self)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), NULL);
  return self->truth;
}

void
mirada_canvas_set_class_names (MiradaCanvas      *self,
                               const char *const *names)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));

  g_strfreev (self->class_names);
  self->class_names = g_strdupv ((char **) names);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
mirada_canvas_zoom_in (MiradaCanvas *self)
{
  zoom_at (self, ZOOM_STEP, gtk_widget_get_width (GTK_WIDGET (self)) / 2.0,
           gtk_widget_get_height (GTK_WIDGET (self)) / 2.0);
}

void
mirada_canvas_zoom_out (MiradaCanvas *self)
{
  zoom_at (self, 1.0 / ZOOM_STEP, gtk_widget_get_width (GTK_WIDGET (self)) / 2.0,
           gtk_widget_get_height (GTK_WIDGET (self)) / 2.0);
}

void
mirada_canvas_zoom_fit (MiradaCanvas *self)
{
  self->fit = TRUE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_hover (self);
  g_signal_emit (self, signals[VIEW_CHANGED], 0);
}

double
mirada_canvas_get_scale (MiradaCanvas *self)
{
  double scale, ox, oy;

  get_transform (self, &scale, &ox, &oy);
  return scale;
}

gboolean
mirada_canvas_get_selected (MiradaCanvas *self,
                            int          *row,
                            int          *col)
{
  if (!self->has_selection)
    return FALSE;
  *row = self->sel_row;
  *col = self->sel_col;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Following the session */

static void
session_texture_cb (MiradaCanvas *self)
{
  mirada_canvas_set_texture (self, mirada_session_get_texture (self->session));
}

static void
session_model_cb (MiradaCanvas *self)
{
  g_auto(GStrv) names = mirada_session_dup_class_names (self->session);

  mirada_canvas_set_class_names (self, (const char *const *) names);
}

/* The fields of the classes the session shows, from the grid and the
 * parameters that made the boxes (the filters' own code: they agree). */
static void
update_fields (MiradaCanvas *self)
{
  g_ptr_array_set_size (self->fields, 0);
  if (self->session != NULL && self->grid != NULL && self->params != NULL &&
      self->params->n_classes == self->grid->n_classes)
    {
      self->field_opacity = mirada_session_get_field_opacity (self->session);
      for (guint k = 0; k < self->grid->n_classes; k++)
        {
          FieldView *view;
          MirDetectField *field;

          if (!mirada_session_get_field_shown (self->session, k) ||
              !(field = mir_detect_field_new (self->grid, self->params, k, NULL)))
            continue;
          view = g_new0 (FieldView, 1);
          view->field = field;
          view->contour = mir_detect_field_contour (field, field->threshold);
          view->mu_contour = mir_detect_field_mean_contour (field);
          g_ptr_array_add (self->fields, view);
        }
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
mirada_canvas_get_n_fields (MiradaCanvas *self)
{
  g_return_val_if_fail (MIRADA_IS_CANVAS (self), 0);
  return self->fields->len;
}

static void
session_result_cb (MiradaCanvas *self)
{
  MirDetectGrid *grid = mirada_session_get_grid (self->session);
  MirDetectResult *result = mirada_session_get_result (self->session);

  if (grid != NULL)
    {
      mirada_canvas_set_params (self, result != NULL ? mirada_session_get_params (self->session) : NULL);
      mirada_canvas_set_n_scales (self, mirada_session_get_n_scales (self->session));
    }
  mirada_canvas_set_detections (self, grid, result != NULL ? result->boxes : NULL);
  update_fields (self);
}

void
mirada_canvas_set_session (MiradaCanvas  *self,
                           MiradaSession *session)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
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
  g_signal_connect_object (session, "notify::texture", G_CALLBACK (session_texture_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::model", G_CALLBACK (session_model_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::result", G_CALLBACK (session_result_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "field-changed", G_CALLBACK (update_fields), self, G_CONNECT_SWAPPED);
}

GtkWidget *
mirada_canvas_new (void)
{
  return g_object_new (MIRADA_TYPE_CANVAS, NULL);
}

static void
mirada_canvas_dispose (GObject *object)
{
  MiradaCanvas *self = MIRADA_CANVAS (object);

  mirada_canvas_set_session (self, NULL);
  g_clear_object (&self->texture);
  g_clear_pointer (&self->image_node, gsk_render_node_unref);
  g_clear_pointer (&self->grid, mir_detect_grid_unref);
  g_clear_pointer (&self->params, mir_detect_params_free);
  g_clear_pointer (&self->boxes, g_array_unref);
  g_clear_pointer (&self->truth, g_array_unref);
  g_clear_pointer (&self->class_names, g_strfreev);
  g_clear_pointer (&self->fields, g_ptr_array_unref);
  mirada_canvas_set_overlay (self, NULL, NULL, NULL);

  G_OBJECT_CLASS (mirada_canvas_parent_class)->dispose (object);
}

static void
mirada_canvas_class_init (MiradaCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_canvas_dispose;
  object_class->get_property = mirada_canvas_get_property;
  object_class->set_property = mirada_canvas_set_property;
  widget_class->snapshot = mirada_canvas_snapshot;
  widget_class->measure = mirada_canvas_measure;

  /**
   * MiradaCanvas::window-activated:
   * @row: grid row
   * @col: grid column
   *
   * A click selected the window at (@row, @col).
   */
  signals[WINDOW_ACTIVATED] =
    g_signal_new ("window-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  /**
   * MiradaCanvas::view-changed:
   *
   * The user zoomed, panned or fitted the image (not emitted by
   * mirada_canvas_set_view()).
   */
  signals[VIEW_CHANGED] =
    g_signal_new ("view-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /* Presentation mode: thick boxes, large bold labels, a white selection. */
  properties[PROP_PRESENTATION] =
    g_param_spec_boolean ("presentation", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "miradacanvas");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
mirada_canvas_init (MiradaCanvas *self)
{
  GtkEventController *controller;
  GtkGesture *drag;

  self->fit = TRUE;
  self->zoom = 1.0;
  self->fields = g_ptr_array_new_with_free_func ((GDestroyNotify) field_view_free);
  self->field_opacity = 0.5;
  gtk_widget_add_css_class (GTK_WIDGET (self), "mirada-canvas");
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);

  controller = gtk_event_controller_motion_new ();
  g_signal_connect (controller, "motion", G_CALLBACK (pointer_motion_cb), self);
  g_signal_connect (controller, "leave", G_CALLBACK (pointer_leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  controller = gtk_event_controller_key_new ();
  g_signal_connect (controller, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Image with the detector’s boxes"),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  _("Arrow keys move the selected window; plus and minus zoom"), -1);

  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES);
  g_signal_connect (controller, "scroll", G_CALLBACK (scrolled_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), controller);

  drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin_cb), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update_cb), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (drag_end_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
}

/* Multi-scale: the hover says its grid is the first of @n_scales levels. */
void
mirada_canvas_set_n_scales (MiradaCanvas *self,
                            guint         n_scales)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  self->n_scales = n_scales;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The view (issue 19: two canvases zoom and pan together). */
void
mirada_canvas_get_view (MiradaCanvas *self,
                        gboolean     *fit,
                        double       *zoom,
                        double       *pan_x,
                        double       *pan_y)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  *fit = self->fit;
  *zoom = self->zoom;
  *pan_x = self->pan_x;
  *pan_y = self->pan_y;
}

void
mirada_canvas_set_view (MiradaCanvas *self,
                        gboolean      fit,
                        double        zoom,
                        double        pan_x,
                        double        pan_y)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  self->fit = !!fit;
  self->zoom = CLAMP (zoom, ZOOM_MIN, ZOOM_MAX);
  self->pan_x = pan_x;
  self->pan_y = pan_y;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_hover (self);
}

void
mirada_canvas_set_overlay (MiradaCanvas            *self,
                           MiradaCanvasOverlayFunc  func,
                           gpointer                 data,
                           GDestroyNotify           destroy)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  if (self->overlay_destroy != NULL)
    self->overlay_destroy (self->overlay_data);
  self->overlay = func;
  self->overlay_data = data;
  self->overlay_destroy = destroy;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
mirada_canvas_set_brush (MiradaCanvas          *self,
                         double                 radius,
                         MiradaCanvasBrushFunc  func,
                         gpointer               user_data)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  if (self->brushing && self->brush_func != NULL && func != self->brush_func)
    self->brush_func (self, MIRADA_BRUSH_END, 0, 0, self->brush_data);
  self->brushing = self->brushing && func != NULL;
  self->brush_func = func;
  self->brush_data = user_data;
  self->brush_radius = radius;
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), func != NULL ? "crosshair" : NULL);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
mirada_canvas_set_keep_view (MiradaCanvas *self,
                             gboolean      keep_view)
{
  g_return_if_fail (MIRADA_IS_CANVAS (self));
  self->keep_view = keep_view;
}
