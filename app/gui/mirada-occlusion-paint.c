/* mirada-occlusion-paint.c: live occlusion painting (issue 19).
 *
 * The photo before painting and its grids are kept; the mask (one channel,
 * the photo's size) collects the strokes.  Each paint marks a rectangle
 * "stale"; at most once a frame the shown photo is recomposed there
 * (mir_mask_composite on a fill image made once per fill), and a worker
 * re-classifies the windows of every scale that meet the stale rectangles
 * (mir_detect_classify_windows).  One re-classification runs at a time:
 * what is painted while it runs is gathered and goes in the next, so the
 * newest state always wins and no work is thrown away mid-drag.  Its grids
 * replace the session's (mirada_session_show_occluded: the boxes refilter at
 * once).  Undo puts back the mask before the stroke and re-classifies the
 * stroke's rectangle; Clear puts back the original grids themselves. */
#define G_LOG_DOMAIN "mirada-occlusion"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "explain/mir-explain.h"
#include "visualize/mir-colormap.h"
#include "mirada-job.h"
#include "mirada-occlusion-paint.h"

#define NOISE_SEED 1
#define CHART_CLASSES 4   /* the chart shows the classes most probable before or now */

typedef struct
{
  int x0, y0, x1, y1;   /* empty when x1 <= x0 */
} Rect;

static gboolean
rect_empty (const Rect *r)
{
  return r->x1 <= r->x0 || r->y1 <= r->y0;
}

static void
rect_union (Rect *r, const Rect *o)
{
  if (rect_empty (o))
    return;
  if (rect_empty (r))
    {
      *r = *o;
      return;
    }
  r->x0 = MIN (r->x0, o->x0);
  r->y0 = MIN (r->y0, o->y0);
  r->x1 = MAX (r->x1, o->x1);
  r->y1 = MAX (r->y1, o->y1);
}

typedef struct
{
  MirImage *mask_before;
  Rect rect;
} Stroke;

static void
stroke_free (Stroke *s)
{
  mir_image_unref (s->mask_before);
  g_free (s);
}

struct _MiradaOcclusionPaint
{
  GtkBox parent_instance;

  GtkToggleButton *toggle;
  GtkLabel *status;
  GtkRevealer *revealer;
  GtkSpinButton *size_spin;
  GtkDropDown *fill_dropdown;
  GtkWidget *undo_button;
  GtkWidget *clear_button;
  GtkWidget *map_button;
  GtkWidget *chart;
  GtkPicture *map_picture;
  GtkLabel *map_label;

  MiradaSession *session;    /* weak */
  MiradaCanvas *canvas;      /* weak */

  MirImage *original;        /* the photo before painting, or NULL (nothing painted) */
  GPtrArray *original_grids; /* the model's grids on it, every scale */
  MirImage *mask;            /* 1 channel, 255 where hidden */
  MirImage *filled;          /* the original under the fill everywhere */
  MirMaskFill fill;
  MirMaskFill filled_as;
  double radius;
  MirImage *occluded;        /* what the session shows (never changed once shown) */
  GPtrArray *undo;           /* Stroke */
  Stroke *current;           /* the stroke being painted, or NULL */
  double last_x, last_y;

  Rect painted;              /* every stroke's rectangle */
  Rect dirty_pixels;         /* painted, not yet recomposed */
  Rect stale;                /* recomposed, not yet re-classified */
  Rect inflight;             /* being re-classified */
  gint64 stale_since;        /* when the oldest stale paint was made (µs) */
  gint64 inflight_since;
  guint update_source;
  MiradaJobRunner *runner;
  MiradaJobRunner *original_runner;
  gboolean running;
  gboolean original_running; /* the original photo's grids are being made again */
  gboolean explain_pending;  /* the selected window changed: explain it again when calm */
  gboolean showing;          /* our own session update is under way */
  double last_latency_ms;
  guint last_n_windows;

  MiradaJobRunner *map_runner;
  GdkTexture *map;
};

G_DEFINE_FINAL_TYPE (MiradaOcclusionPaint, mirada_occlusion_paint, GTK_TYPE_BOX)

static void schedule_update (MiradaOcclusionPaint *self);

/* The session shows @image and @grids; the canvas keeps its zoom and selection. */
static void
show (MiradaOcclusionPaint *self, MirImage *image, GPtrArray *grids)
{
  self->showing = TRUE;
  if (self->canvas != NULL)
    mirada_canvas_set_keep_view (self->canvas, TRUE);
  mirada_session_show_occluded (self->session, image, grids);
  if (self->canvas != NULL)
    mirada_canvas_set_keep_view (self->canvas, FALSE);
  self->showing = FALSE;
}
static void start_job (MiradaOcclusionPaint *self);

/* ------------------------------------------------------------------ */
/* State */

static gboolean
selected_window (MiradaOcclusionPaint *self, guint *n)
{
  MirDetectGrid *grid;
  int row, col;

  if (self->canvas == NULL || self->session == NULL
      || (grid = mirada_session_get_grid (self->session)) == NULL
      || !mirada_canvas_get_selected (self->canvas, &row, &col))
    return FALSE;
  *n = (guint) (row * grid->geom.cols + col);
  return TRUE;
}

/* The class probabilities of window @n before painting (or now, if nothing
 * is painted) and now, in the model's grid (the examples' classes are not
 * the model's). */
static gboolean
window_probs (MiradaOcclusionPaint *self, guint n, const MirDetectGrid **before,
              const MirDetectGrid **now)
{
  g_autoptr(GPtrArray) grids = NULL;

  if (self->session == NULL || !(grids = mirada_session_dup_model_grids (self->session)))
    return FALSE;
  *now = g_ptr_array_index (grids, 0);
  *before = self->original_grids != NULL ? g_ptr_array_index (self->original_grids, 0) : *now;
  if (n >= mir_detect_geometry_n_windows (&(*now)->geom)
      || (*before)->n_classes != (*now)->n_classes
      || mir_detect_geometry_n_windows (&(*before)->geom) != mir_detect_geometry_n_windows (&(*now)->geom))
    return FALSE;
  /* the session keeps the grids alive */
  return TRUE;
}

static void
update_status (MiradaOcclusionPaint *self)
{
  const MirDetectGrid *before, *now;
  guint n;
  gint top = 0;

  gtk_widget_set_sensitive (self->undo_button, self->undo->len > 0);
  gtk_widget_set_sensitive (self->clear_button, self->original != NULL && self->original_grids != NULL);
  gtk_widget_set_sensitive (self->map_button, self->session != NULL &&
                            mirada_session_get_model (self->session) != NULL &&
                            selected_window (self, &n));
  gtk_widget_queue_draw (self->chart);
  if (!selected_window (self, &n) || !window_probs (self, n, &before, &now))
    {
      gtk_label_set_label (self->status, gtk_toggle_button_get_active (self->toggle)
                           ? _("Click a window first (with the brush off) to follow its scores.")
                           : "");
      return;
    }
  for (guint k = 1; k < before->n_classes; k++)
    if (mir_detect_grid_get (before, n, k) > mir_detect_grid_get (before, n, (guint) top))
      top = (gint) k;
  {
    g_autofree char *name = mirada_session_dup_class_name (self->session, (guint) top);
    g_autofree char *text = NULL;

    /* Translators: window number, its class, the probability before painting → now */
    text = g_strdup_printf (_("Window %u · %s: %.3f before, %.3f now"), n, name,
                            mir_detect_grid_get (before, n, (guint) top),
                            mir_detect_grid_get (now, n, (guint) top));
    gtk_label_set_label (self->status, text);
  }
}

/* ------------------------------------------------------------------ */
/* The bar chart: per class, before (grey) and now (the class colour) */

static int
compare_desc (gconstpointer a, gconstpointer b, gpointer data)
{
  const double *key = data;
  double x = key[*(const guint *) a], y = key[*(const guint *) b];

  return x < y ? 1 : x > y ? -1 : (int) *(const guint *) a - (int) *(const guint *) b;
}

static void
draw_chart (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
  MiradaOcclusionPaint *self = data;
  const MirDetectGrid *before, *now;
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (GTK_WIDGET (area), NULL);
  g_autofree double *key = NULL;
  g_autofree guint *order = NULL;
  GdkRGBA fg;
  guint n, shown;
  double row_h, label_w, num_w, bar_w;

  if (!selected_window (self, &n) || !window_probs (self, n, &before, &now))
    return;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (area)), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  key = g_new (double, before->n_classes);
  order = g_new (guint, before->n_classes);
  for (guint k = 0; k < before->n_classes; k++)
    {
      key[k] = MAX (mir_detect_grid_get (before, n, k), mir_detect_grid_get (now, n, k));
      order[k] = k;
    }
  g_qsort_with_data (order, (gint) before->n_classes, sizeof (guint), compare_desc, key);
  shown = MIN (before->n_classes, CHART_CLASSES);
  row_h = (double) height / shown;
  /* room for the numbers and the longest name (at most 40 %), the rest for the bars */
  {
    int tw, th, widest = 0;

    pango_layout_set_text (layout, "0.000 → 0.000", -1);
    pango_layout_get_pixel_size (layout, &tw, &th);
    num_w = tw + 8;
    for (guint i = 0; i < shown; i++)
      {
        g_autofree char *name = mirada_session_dup_class_name (self->session, order[i]);

        pango_layout_set_text (layout, name, -1);
        pango_layout_get_pixel_size (layout, &tw, &th);
        widest = MAX (widest, tw);
      }
    label_w = MIN (widest + 8, 0.4 * width);
  }
  bar_w = MAX (width - label_w - num_w, 10);
  for (guint i = 0; i < shown; i++)
    {
      guint k = order[i];
      double pb = mir_detect_grid_get (before, n, k), pn = mir_detect_grid_get (now, n, k);
      double y = i * row_h;
      g_autofree char *name = mirada_session_dup_class_name (self->session, k);
      g_autofree char *nums = g_strdup_printf ("%.3f → %.3f", pb, pn);
      GdkRGBA colour;
      int tw, th;

      gdk_cairo_set_source_rgba (cr, &fg);
      pango_layout_set_text (layout, name, -1);
      pango_layout_set_width (layout, (int) (label_w - 4) * PANGO_SCALE);
      pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
      pango_layout_get_pixel_size (layout, &tw, &th);
      cairo_move_to (cr, 0, y + (row_h - th) / 2);
      pango_cairo_show_layout (cr, layout);
      /* before: a thin grey bar on top; now: the class colour below it */
      cairo_set_source_rgba (cr, 0.55, 0.55, 0.55, 0.9);
      cairo_rectangle (cr, label_w, y + row_h * 0.15, bar_w * pb, row_h * 0.3);
      cairo_fill (cr);
      mirada_class_color (k, &colour);
      gdk_cairo_set_source_rgba (cr, &colour);
      cairo_rectangle (cr, label_w, y + row_h * 0.5, bar_w * pn, row_h * 0.35);
      cairo_fill (cr);
      gdk_cairo_set_source_rgba (cr, &fg);
      cairo_set_line_width (cr, 1);
      cairo_rectangle (cr, label_w + 0.5, y + row_h * 0.15 + 0.5, bar_w - 1, row_h * 0.7 - 1);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.3);
      cairo_stroke (cr);
      gdk_cairo_set_source_rgba (cr, &fg);
      pango_layout_set_text (layout, nums, -1);
      pango_layout_set_width (layout, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      cairo_move_to (cr, width - tw, y + (row_h - th) / 2);
      pango_cairo_show_layout (cr, layout);
    }
}

/* ------------------------------------------------------------------ */
/* Re-classifying the touched windows on a worker */

typedef struct
{
  MirModel *model;
  MirImage *image;
  GPtrArray *grids;
  Rect rect;
} ReclassifyJob;

typedef struct
{
  GPtrArray *grids;
  GArray *touched;           /* scale 0's windows re-classified */
  guint n_windows;           /* of every scale */
  double worker_ms;          /* the worker's own time */
} ReclassifyResult;

static void
reclassify_job_free (ReclassifyJob *job)
{
  mir_model_unref (job->model);
  mir_image_unref (job->image);
  g_ptr_array_unref (job->grids);
  g_free (job);
}

static void
reclassify_result_free (ReclassifyResult *r)
{
  g_clear_pointer (&r->grids, g_ptr_array_unref);
  g_clear_pointer (&r->touched, g_array_unref);
  g_free (r);
}

static gpointer
reclassify_worker (MiradaJob *mjob, gpointer data, GCancellable *cancellable, GError **error)
{
  ReclassifyJob *job = data;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  ReclassifyResult *r;
  g_autoptr(GArray) touched0 = NULL;
  guint total = 0;
  gint64 t0 = g_get_monotonic_time ();

  for (guint s = 0; s < job->grids->len; s++)
    {
      MirDetectGrid *grid = g_ptr_array_index (job->grids, s);
      g_autoptr(MirImage) level = NULL;
      g_autoptr(GArray) windows = NULL;
      MirDetectGrid *next;
      /* a pyramid level is the image resampled: a changed pixel reaches its neighbours */
      int margin = grid->scale == 1.0 ? 0 : (int) ceil (grid->scale) + 2;

      windows = mir_detect_grid_windows_in_rect (grid, job->rect.x0, job->rect.y0,
                                                 job->rect.x1 - job->rect.x0,
                                                 job->rect.y1 - job->rect.y0, margin);
      if (windows->len > 0
          && !(level = mir_detect_level_image (job->model, job->image, &grid->geom, error)))
        return NULL;
      if (windows->len == 0)
        next = mir_detect_grid_ref (grid);
      else if (!(next = mir_detect_classify_windows (job->model, level, grid,
                                                     (const guint *) (void *) windows->data,
                                                     windows->len, 0, MIR_DETECT_SHARED_AUTO,
                                                     cancellable, error)))
        return NULL;
      g_ptr_array_add (out, next);
      total += windows->len;
      if (s == 0)
        touched0 = g_steal_pointer (&windows);
      mirada_job_set_progress (mjob, (double) (s + 1) / job->grids->len);
    }
  r = g_new0 (ReclassifyResult, 1);
  r->grids = g_steal_pointer (&out);
  r->touched = g_steal_pointer (&touched0);
  r->n_windows = total;
  r->worker_ms = (g_get_monotonic_time () - t0) / 1000.0;
  return r;
}

/* The selected window's explanations (and the info line) again, on the
 * occluded photo: the window's own newest-wins job runners. */
static void
explain_again (MiradaOcclusionPaint *self)
{
  MirDetectGrid *grid;
  int row, col;

  self->explain_pending = FALSE;
  if (self->canvas != NULL && self->session != NULL
      && (grid = mirada_session_get_grid (self->session)) != NULL
      && mirada_canvas_get_selected (self->canvas, &row, &col))
    mirada_canvas_select (self->canvas, row, col);
}

static void
reclassify_done (gpointer result, const GError *error, gpointer user_data)
{
  MiradaOcclusionPaint *self = user_data;
  ReclassifyResult *r = result;
  guint n;

  self->running = FALSE;
  if (error != NULL)
    {
      g_warning ("%s", error->message);
      self->inflight = (Rect) { 0 };
      update_status (self);
      return;
    }
  if (self->original != NULL && self->occluded != NULL && self->session != NULL)
    {
      show (self, self->occluded, r->grids);
      self->last_latency_ms = (g_get_monotonic_time () - self->inflight_since) / 1000.0;
      self->last_n_windows = r->n_windows;
      if (g_getenv ("MIRADA_OCCLUSION_TIMING") != NULL)
        g_printerr ("occlusion: %.1f ms from paint to boxes, %u windows re-classified in %.1f ms\n",
                    self->last_latency_ms, r->n_windows, r->worker_ms);
      if (selected_window (self, &n))
        for (guint i = 0; i < r->touched->len; i++)
          if (g_array_index (r->touched, guint, i) == n)
            self->explain_pending = TRUE;
    }
  self->inflight = (Rect) { 0 };
  reclassify_result_free (r);
  if (!rect_empty (&self->stale))
    start_job (self);
  else if (self->explain_pending && self->current == NULL)
    explain_again (self);
  update_status (self);
}

static void
start_job (MiradaOcclusionPaint *self)
{
  ReclassifyJob *job;
  GPtrArray *grids;
  MirModel *model;

  if (self->running || rect_empty (&self->stale) || self->session == NULL
      || self->occluded == NULL || !(model = mirada_session_get_model (self->session))
      || !(grids = mirada_session_dup_model_grids (self->session)))
    return;
  job = g_new0 (ReclassifyJob, 1);
  job->model = mir_model_ref (model);
  job->image = mir_image_ref (self->occluded);
  job->grids = grids;
  job->rect = self->stale;
  self->inflight = self->stale;
  self->inflight_since = self->stale_since;
  self->stale = (Rect) { 0 };
  self->running = TRUE;
  mirada_job_runner_run (self->runner, _("Classifying the painted windows…"), reclassify_worker,
                         job, (GDestroyNotify) reclassify_job_free,
                         (GDestroyNotify) reclassify_result_free, reclassify_done, self, NULL);
}

/* ------------------------------------------------------------------ */
/* Painting */

static gboolean
ensure_started (MiradaOcclusionPaint *self)
{
  MirImage *image;
  g_autoptr(GError) error = NULL;

  if (self->original != NULL)
    return TRUE;
  if (self->session == NULL || (image = mirada_session_get_image (self->session)) == NULL
      || mirada_session_get_busy (self->session)
      || !(self->original_grids = mirada_session_dup_model_grids (self->session)))
    return FALSE;
  if (!(self->mask = mir_image_new (image->width, image->height, 1, &error)))
    {
      g_warning ("%s", error->message);
      g_clear_pointer (&self->original_grids, g_ptr_array_unref);
      return FALSE;
    }
  memset (self->mask->pixels, 0, (gsize) self->mask->rowstride * image->height);
  self->original = mir_image_ref (image);
  self->occluded = mir_image_ref (image);
  return TRUE;
}

static gboolean
ensure_filled (MiradaOcclusionPaint *self)
{
  g_autoptr(GError) error = NULL;

  if (self->filled != NULL && self->filled_as == self->fill)
    return TRUE;
  g_clear_pointer (&self->filled, mir_image_unref);
  if (!(self->filled = mir_mask_fill_image (self->original, self->fill, NOISE_SEED, &error)))
    {
      g_warning ("%s", error->message);
      return FALSE;
    }
  self->filled_as = self->fill;
  return TRUE;
}

/* Marks @r painted: recomposed and re-classified at the next update. */
static void
mark_dirty (MiradaOcclusionPaint *self, const Rect *r)
{
  if (rect_empty (&self->stale) && rect_empty (&self->dirty_pixels))
    self->stale_since = g_get_monotonic_time ();
  rect_union (&self->dirty_pixels, r);
  schedule_update (self);
}

/* A disc of the brush swept from (@x0, @y0) to (@x1, @y1) into the mask. */
static void
paint_segment (MiradaOcclusionPaint *self, double x0, double y0, double x1, double y1)
{
  MirImage *m = self->mask;
  double r = self->radius, dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  Rect box;

  box.x0 = MAX (0, (int) floor (MIN (x0, x1) - r));
  box.y0 = MAX (0, (int) floor (MIN (y0, y1) - r));
  box.x1 = MIN (m->width, (int) ceil (MAX (x0, x1) + r) + 1);
  box.y1 = MIN (m->height, (int) ceil (MAX (y0, y1) + r) + 1);
  if (rect_empty (&box))
    return;
  for (int y = box.y0; y < box.y1; y++)
    for (int x = box.x0; x < box.x1; x++)
      {
        double px = x + 0.5 - x0, py = y + 0.5 - y0;
        double t = len2 > 0 ? CLAMP ((px * dx + py * dy) / len2, 0, 1) : 0;
        double ex = px - t * dx, ey = py - t * dy;

        if (ex * ex + ey * ey <= r * r)
          m->pixels[(gsize) y * m->rowstride + x] = 255;
      }
  rect_union (&self->current->rect, &box);
  rect_union (&self->painted, &box);
  mark_dirty (self, &box);
}

static void
stroke_begin (MiradaOcclusionPaint *self, double x, double y)
{
  g_autoptr(GError) error = NULL;

  /* not while the session classifies everything (a new geometry or model) */
  if (self->current != NULL || self->session == NULL || mirada_session_get_busy (self->session)
      || !ensure_started (self) || !ensure_filled (self))
    return;
  self->current = g_new0 (Stroke, 1);
  self->current->mask_before = mir_image_crop (self->mask, 0, 0, self->mask->width,
                                               self->mask->height, &error);
  if (self->current->mask_before == NULL)
    {
      g_warning ("%s", error->message);
      g_clear_pointer (&self->current, g_free);
      return;
    }
  self->last_x = x;
  self->last_y = y;
  paint_segment (self, x, y, x, y);
}

static void
stroke_move (MiradaOcclusionPaint *self, double x, double y)
{
  if (self->current == NULL)
    return;
  paint_segment (self, self->last_x, self->last_y, x, y);
  self->last_x = x;
  self->last_y = y;
}

static void
stroke_end (MiradaOcclusionPaint *self)
{
  if (self->current == NULL)
    return;
  if (rect_empty (&self->current->rect))
    stroke_free (self->current);
  else
    g_ptr_array_add (self->undo, self->current);
  self->current = NULL;
  if (self->explain_pending && !self->running && rect_empty (&self->stale)
      && rect_empty (&self->dirty_pixels))
    explain_again (self);
  update_status (self);
}

/* Once a frame: the shown photo recomposed where painted, the re-classification started. */
static gboolean
update_cb (gpointer data)
{
  MiradaOcclusionPaint *self = data;
  g_autoptr(MirImage) next = NULL;
  g_autoptr(GPtrArray) grids = NULL;
  g_autoptr(GError) error = NULL;
  Rect d = self->dirty_pixels;

  self->update_source = 0;
  if (rect_empty (&d) || self->original == NULL || self->session == NULL)
    return G_SOURCE_REMOVE;
  self->dirty_pixels = (Rect) { 0 };
  if (!ensure_filled (self)
      || !(next = mir_image_crop (self->occluded, 0, 0, self->occluded->width,
                                  self->occluded->height, &error))
      || !mir_mask_composite (next, self->original, self->filled, self->mask, d.x0, d.y0,
                              d.x1 - d.x0, d.y1 - d.y0)
      || !(grids = mirada_session_dup_model_grids (self->session)))
    {
      if (error != NULL)
        g_warning ("%s", error->message);
      return G_SOURCE_REMOVE;
    }
  g_clear_pointer (&self->occluded, mir_image_unref);
  self->occluded = g_steal_pointer (&next);
  show (self, self->occluded, grids);
  rect_union (&self->stale, &d);
  start_job (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_update (MiradaOcclusionPaint *self)
{
  /* before the next redraw: the frame that shows the paint also starts its
   * re-classification (motion events come at most once a frame) */
  if (self->update_source == 0)
    self->update_source = g_idle_add_full (G_PRIORITY_HIGH_IDLE, update_cb, self, NULL);
}

static void
brush_cb (MiradaCanvas *canvas, MiradaBrushPhase phase, double x, double y, gpointer data)
{
  MiradaOcclusionPaint *self = data;

  switch (phase)
    {
    case MIRADA_BRUSH_BEGIN:
      stroke_begin (self, x, y);
      break;
    case MIRADA_BRUSH_MOVE:
      stroke_move (self, x, y);
      break;
    case MIRADA_BRUSH_END:
    default:
      stroke_end (self);
      break;
    }
}

void
mirada_occlusion_paint_stroke (MiradaOcclusionPaint *self, const double *xy, guint n_points)
{
  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  g_return_if_fail (n_points >= 1 && xy != NULL);

  stroke_begin (self, xy[0], xy[1]);
  for (guint i = 1; i < n_points; i++)
    stroke_move (self, xy[2 * i], xy[2 * i + 1]);
  stroke_end (self);
}

/* Forgets the painting (the session keeps what it shows). */
static void
reset (MiradaOcclusionPaint *self)
{
  mirada_job_runner_cancel (self->runner);
  mirada_job_runner_cancel (self->original_runner);
  self->running = self->original_running = FALSE;
  g_clear_handle_id (&self->update_source, g_source_remove);
  g_clear_pointer (&self->original, mir_image_unref);
  g_clear_pointer (&self->original_grids, g_ptr_array_unref);
  g_clear_pointer (&self->mask, mir_image_unref);
  g_clear_pointer (&self->filled, mir_image_unref);
  g_clear_pointer (&self->occluded, mir_image_unref);
  g_clear_pointer (&self->current, stroke_free);
  g_ptr_array_set_size (self->undo, 0);
  self->painted = self->dirty_pixels = self->stale = self->inflight = (Rect) { 0 };
  self->explain_pending = FALSE;
}

void
mirada_occlusion_paint_clear (MiradaOcclusionPaint *self)
{
  g_autoptr(MirImage) original = NULL;
  g_autoptr(GPtrArray) grids = NULL;

  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  if (self->original == NULL || self->original_grids == NULL)
    return;
  original = mir_image_ref (self->original);
  grids = g_ptr_array_ref (self->original_grids);
  reset (self);
  if (self->session != NULL)
    {
      show (self, original, grids);
      explain_again (self);
    }
  update_status (self);
}

void
mirada_occlusion_paint_undo (MiradaOcclusionPaint *self)
{
  Stroke *s;

  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  if (self->undo->len == 0 || self->current != NULL)
    return;
  if (self->undo->len == 1 && self->original_grids != NULL)
    {
      /* back to nothing painted: the original grids themselves */
      mirada_occlusion_paint_clear (self);
      return;
    }
  s = g_ptr_array_steal_index (self->undo, self->undo->len - 1);
  memcpy (self->mask->pixels, s->mask_before->pixels,
          (gsize) self->mask->rowstride * self->mask->height);
  self->explain_pending = TRUE;
  mark_dirty (self, &s->rect);
  stroke_free (s);
  update_status (self);
}

/* ------------------------------------------------------------------ */
/* The sliding-patch occlusion map of the selected window, for comparison */

typedef struct
{
  MirModel *model;
  MirImage *crop;
  gint class_index;
} MapJob;

static void
map_job_free (MapJob *job)
{
  mir_model_unref (job->model);
  mir_image_unref (job->crop);
  g_free (job);
}

static gpointer
map_worker (MiradaJob *mjob, gpointer data, GCancellable *cancellable, GError **error)
{
  MapJob *job = data;
  MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autoptr(MirImage) overlay = NULL;
  g_autoptr(MirImage) big = NULL;

  mir_explain_options_set_class (&opts, job->model, job->class_index);
  if (!(input = mir_image_prepare (job->crop, job->model, error))
      || !(e = mir_explain_occlusion (job->model, input, &opts, cancellable, error))
      || !(overlay = mir_colormap_overlay (job->crop, e->map, e->width, e->height,
                                           MIR_COLORMAP_JET, 0.5f, FALSE, error))
      || !(big = mir_image_resize (overlay, 128, 128, MIR_RESIZE_BILINEAR, error)))
    return NULL;
  return mirada_texture_new_for_image (big);
}

static void
map_done (gpointer result, const GError *error, gpointer user_data)
{
  MiradaOcclusionPaint *self = user_data;

  if (error != NULL)
    {
      gtk_label_set_label (self->map_label, error->message);
      gtk_widget_set_visible (GTK_WIDGET (self->map_label), TRUE);
      return;
    }
  g_clear_object (&self->map);
  self->map = result;
  gtk_picture_set_paintable (self->map_picture, GDK_PAINTABLE (self->map));
  gtk_widget_set_visible (GTK_WIDGET (self->map_picture), TRUE);
  /* the picture's tooltip says what it is: the row keeps its width for the chart */
  gtk_label_set_label (self->map_label, "");
  gtk_widget_set_visible (GTK_WIDGET (self->map_label), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->map_picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Occlusion map"), -1);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->map_picture),
                               _("Sliding-patch occlusion map of the selected window before painting: red where a grey patch lowers the score most"));
}

void
mirada_occlusion_paint_compute_map (MiradaOcclusionPaint *self)
{
  const MirDetectGrid *before, *now;
  g_autoptr(GError) error = NULL;
  MirImage *photo;
  MapJob *job;
  guint n;
  int x, y, size;
  gint top = 0;

  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  if (!selected_window (self, &n) || !window_probs (self, n, &before, &now)
      || mirada_session_get_model (self->session) == NULL)
    return;
  photo = self->original != NULL ? self->original : mirada_session_get_image (self->session);
  for (guint k = 1; k < before->n_classes; k++)
    if (mir_detect_grid_get (before, n, k) > mir_detect_grid_get (before, n, (guint) top))
      top = (gint) k;
  job = g_new0 (MapJob, 1);
  mir_detect_geometry_window_rect (&before->geom, n, &x, &y, &size);
  if (!(job->crop = mir_image_crop (photo, x, y, size, size, &error)))
    {
      g_free (job);
      gtk_label_set_label (self->map_label, error->message);
      return;
    }
  job->model = mir_model_ref (mirada_session_get_model (self->session));
  job->class_index = top;
  gtk_label_set_label (self->map_label, _("Computing…"));
  gtk_widget_set_visible (GTK_WIDGET (self->map_label), TRUE);
  mirada_job_runner_run (self->map_runner, _("Occlusion map…"), map_worker, job,
                         (GDestroyNotify) map_job_free, g_object_unref, map_done, self, NULL);
}

/* ------------------------------------------------------------------ */
/* Widget */

static void
brush_changed (MiradaOcclusionPaint *self)
{
  static const MirMaskFill fills[] = { MIR_MASK_FILL_GREY, MIR_MASK_FILL_BLUR, MIR_MASK_FILL_NOISE };
  guint f = MIN (gtk_drop_down_get_selected (self->fill_dropdown), G_N_ELEMENTS (fills) - 1);
  MirMaskFill old = self->fill;

  self->radius = gtk_spin_button_get_value (self->size_spin) / 2;
  self->fill = fills[f];
  if (self->canvas != NULL && gtk_toggle_button_get_active (self->toggle))
    mirada_canvas_set_brush (self->canvas, self->radius, brush_cb, self);
  /* a new fill: what is painted already takes it too */
  if (old != self->fill && self->original != NULL && ensure_filled (self))
    {
      Rect painted = self->painted;

      self->explain_pending = TRUE;
      mark_dirty (self, &painted);
    }
}

static void
toggled_cb (MiradaOcclusionPaint *self)
{
  gboolean on = gtk_toggle_button_get_active (self->toggle);

  /* hidden, not just folded: a folded revealer still asks for its child's width */
  gtk_widget_set_visible (GTK_WIDGET (self), on);
  gtk_revealer_set_reveal_child (self->revealer, on);
  if (self->canvas != NULL)
    mirada_canvas_set_brush (self->canvas, self->radius, on ? brush_cb : NULL, self);
  update_status (self);
}

/* The original photo's grids for the session's model and geometry, as its
 * detect worker makes them (after a new geometry or model while painted). */
typedef struct
{
  MirModel *model;
  MirImage *image;
  int window, stride;
  guint levels;
  gboolean notebook_layout;
} OriginalJob;

static void
original_job_free (OriginalJob *job)
{
  mir_model_unref (job->model);
  mir_image_unref (job->image);
  g_free (job);
}

static gpointer
original_worker (MiradaJob *mjob, gpointer data, GCancellable *cancellable, GError **error)
{
  OriginalJob *job = data;
  MirDetectScales scales;

  if (!mir_detect_scales_pyramid (&scales, job->window, MIRADA_PYRAMID_FACTOR,
                                  CLAMP (job->levels, 1, MIR_DETECT_MAX_SCALES), error))
    return NULL;
  mir_detect_scales_fit (&scales, job->image->width, job->image->height, job->stride,
                         job->notebook_layout);
  return mir_detect_classify_scales (job->model, job->image, &scales, job->stride,
                                     job->notebook_layout, 0, MIR_DETECT_SHARED_AUTO, NULL, NULL,
                                     cancellable, error);
}

static void
original_done (gpointer result, const GError *error, gpointer user_data)
{
  MiradaOcclusionPaint *self = user_data;

  self->original_running = FALSE;
  if (error != NULL)
    g_warning ("%s", error->message);
  else if (self->original != NULL)
    self->original_grids = g_ptr_array_ref (result);
  if (result != NULL)
    g_ptr_array_unref (result);
  update_status (self);
}

/* The session classified the painted photo again (a new geometry or model):
 * its grids are the painting's; the original photo's are made again. */
static void
detection_finished_cb (MiradaOcclusionPaint *self)
{
  OriginalJob *job;

  if (self->original == NULL || self->original_grids != NULL || self->session == NULL
      || mirada_session_get_grid (self->session) == NULL
      || mirada_session_get_image (self->session) != self->occluded)
    return;
  job = g_new0 (OriginalJob, 1);
  job->model = mir_model_ref (mirada_session_get_model (self->session));
  job->image = mir_image_ref (self->original);
  job->window = mirada_session_get_window_size (self->session);
  job->stride = mirada_session_get_stride (self->session);
  job->levels = mirada_session_get_levels (self->session);
  job->notebook_layout = mirada_session_get_notebook_layout (self->session);
  self->original_running = TRUE;
  mirada_job_runner_run (self->original_runner, _("Classifying the photo before painting…"), original_worker,
                         job, (GDestroyNotify) original_job_free,
                         (GDestroyNotify) g_ptr_array_unref, original_done, self, NULL);
}

/* Someone else classifies.  A new photo: the painting is forgotten.  The
 * painted photo again (a new geometry or model): the painting stays, the
 * re-classification under way is dropped (the session does all windows), and
 * the original grids are made again once it is done. */
static void
detection_started_cb (MiradaOcclusionPaint *self)
{
  if (self->original != NULL && self->session != NULL
      && mirada_session_get_image (self->session) == self->occluded)
    {
      mirada_job_runner_cancel (self->runner);
      mirada_job_runner_cancel (self->original_runner);
      self->running = self->original_running = FALSE;
      self->stale = self->inflight = (Rect) { 0 };
      g_clear_pointer (&self->original_grids, g_ptr_array_unref);
    }
  else
    reset (self);
  g_clear_object (&self->map);
  gtk_widget_set_visible (GTK_WIDGET (self->map_picture), FALSE);
  gtk_label_set_label (self->map_label, "");
  update_status (self);
}

static void
result_cb (MiradaOcclusionPaint *self)
{
  if (!self->showing)
    update_status (self);
  else
    gtk_widget_queue_draw (self->chart);
}

static void
selected_cb (MiradaOcclusionPaint *self)
{
  update_status (self);
}

void
mirada_occlusion_paint_attach (MiradaOcclusionPaint *self,
                               MiradaSession        *session,
                               MiradaCanvas         *canvas)
{
  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  self->session = session;
  self->canvas = canvas;
  g_object_add_weak_pointer (G_OBJECT (session), (gpointer *) &self->session);
  g_object_add_weak_pointer (G_OBJECT (canvas), (gpointer *) &self->canvas);
  g_signal_connect_object (session, "detection-started", G_CALLBACK (detection_started_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "notify::result", G_CALLBACK (result_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (session, "detection-finished", G_CALLBACK (detection_finished_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (canvas, "window-activated", G_CALLBACK (selected_cb), self,
                           G_CONNECT_SWAPPED | G_CONNECT_AFTER);
  update_status (self);
}

void
mirada_occlusion_paint_set_active (MiradaOcclusionPaint *self, gboolean active)
{
  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  gtk_toggle_button_set_active (self->toggle, active);
}

gboolean
mirada_occlusion_paint_get_active (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), FALSE);
  return gtk_toggle_button_get_active (self->toggle);
}

void
mirada_occlusion_paint_set_brush (MiradaOcclusionPaint *self, double radius, MirMaskFill fill)
{
  g_return_if_fail (MIRADA_IS_OCCLUSION_PAINT (self));
  gtk_spin_button_set_value (self->size_spin, 2 * radius);
  gtk_drop_down_set_selected (self->fill_dropdown, fill == MIR_MASK_FILL_BLUR ? 1
                                                   : fill == MIR_MASK_FILL_NOISE ? 2 : 0);
  brush_changed (self);
}

guint
mirada_occlusion_paint_get_n_strokes (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), 0);
  return self->undo->len;
}

gboolean
mirada_occlusion_paint_get_pending (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), FALSE);
  return self->running || self->original_running || self->update_source != 0
         || !rect_empty (&self->stale) || !rect_empty (&self->dirty_pixels);
}

MirImage *
mirada_occlusion_paint_get_mask (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), NULL);
  return self->mask;
}

MirImage *
mirada_occlusion_paint_get_original (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), NULL);
  return self->original;
}

double
mirada_occlusion_paint_get_last_latency (MiradaOcclusionPaint *self, guint *n_windows)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), 0);
  if (n_windows != NULL)
    *n_windows = self->last_n_windows;
  return self->last_latency_ms;
}

gboolean
mirada_occlusion_paint_get_map_busy (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), FALSE);
  return mirada_job_runner_get_busy (self->map_runner);
}

GdkTexture *
mirada_occlusion_paint_get_map (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), NULL);
  return self->map;
}

static gboolean
undo_shortcut_cb (GtkWidget *widget, GVariant *args, gpointer data)
{
  MiradaOcclusionPaint *self = MIRADA_OCCLUSION_PAINT (widget);

  if (self->undo->len == 0)
    return FALSE;
  mirada_occlusion_paint_undo (self);
  return TRUE;
}

static void
mirada_occlusion_paint_dispose (GObject *object)
{
  MiradaOcclusionPaint *self = MIRADA_OCCLUSION_PAINT (object);

  if (self->runner != NULL)
    reset (self);
  if (self->canvas != NULL)
    {
      mirada_canvas_set_brush (self->canvas, 0, NULL, NULL);
      g_object_remove_weak_pointer (G_OBJECT (self->canvas), (gpointer *) &self->canvas);
      self->canvas = NULL;
    }
  if (self->session != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->session), (gpointer *) &self->session);
      self->session = NULL;
    }
  if (self->map_runner != NULL)
    mirada_job_runner_cancel (self->map_runner);
  if (self->toggle != NULL)
    g_signal_handlers_disconnect_by_data (self->toggle, self);
  g_clear_object (&self->toggle);
  g_clear_object (&self->runner);
  g_clear_object (&self->original_runner);
  g_clear_object (&self->map_runner);
  g_clear_object (&self->map);
  g_clear_pointer (&self->undo, g_ptr_array_unref);
  G_OBJECT_CLASS (mirada_occlusion_paint_parent_class)->dispose (object);
}

static void
mirada_occlusion_paint_class_init (MiradaOcclusionPaintClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_occlusion_paint_dispose;
  gtk_widget_class_set_css_name (widget_class, "miradaocclusionpaint");
}

static GtkWidget *
icon_button (const char *icon, const char *tooltip, GCallback cb, gpointer data)
{
  GtkWidget *b = gtk_button_new_from_icon_name (icon);

  gtk_widget_set_tooltip_text (b, tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (b), GTK_ACCESSIBLE_PROPERTY_LABEL, tooltip, -1);
  g_signal_connect_swapped (b, "clicked", cb, data);
  return b;
}

static void
mirada_occlusion_paint_init (MiradaOcclusionPaint *self)
{
  const char *fills[] = { N_("Grey"), N_("Blur"), N_("Noise"), NULL };
  g_autoptr(GtkStringList) fill_names = gtk_string_list_new (NULL);
  GtkWidget *top, *box, *controls, *buttons, *size_box, *map_box;
  GtkEventController *shortcuts;

  self->undo = g_ptr_array_new_with_free_func ((GDestroyNotify) stroke_free);
  self->runner = mirada_job_runner_new ();
  self->original_runner = mirada_job_runner_new ();
  self->map_runner = mirada_job_runner_new ();
  self->radius = 20;
  self->fill = MIR_MASK_FILL_GREY;

  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);

  /* The toggle lives in the window's header bar (mirada_occlusion_paint_get_toggle):
   * while it is off, nothing of this takes room under the photo. */
  self->toggle = GTK_TOGGLE_BUTTON (g_object_ref_sink (gtk_toggle_button_new ()));
  /* an icon (a pencil), as the header's other tools: the header keeps its width */
  gtk_button_set_icon_name (GTK_BUTTON (self->toggle), "document-edit-symbolic");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->toggle), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Paint Occlusion"), -1);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->toggle),
                               _("Paint occlusion: paint over the photo to hide part of it; the touched windows are classified again at once, the boxes and the selected window’s scores follow"));
  g_signal_connect_swapped (self->toggle, "toggled", G_CALLBACK (toggled_cb), self);

  self->revealer = GTK_REVEALER (gtk_revealer_new ());
  gtk_revealer_set_transition_type (self->revealer, GTK_REVEALER_TRANSITION_TYPE_SLIDE_UP);
  gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
  top = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_widget_set_margin_start (top, 6);
  gtk_widget_set_margin_end (top, 6);
  gtk_widget_set_margin_top (top, 4);
  gtk_widget_set_margin_bottom (top, 2);
  gtk_revealer_set_child (self->revealer, top);
  gtk_box_append (GTK_BOX (self), GTK_WIDGET (self->revealer));
  self->status = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->status, 0);
  gtk_label_set_ellipsize (self->status, PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (top), GTK_WIDGET (self->status));
  /* controls | bar chart | occlusion map, one row: the photo keeps its room */
  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  gtk_box_append (GTK_BOX (top), box);

  controls = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  size_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_box_append (GTK_BOX (size_box), gtk_label_new (_("Brush")));
  self->size_spin = GTK_SPIN_BUTTON (gtk_spin_button_new_with_range (2, 400, 2));
  gtk_spin_button_set_value (self->size_spin, 2 * self->radius);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->size_spin), _("Brush diameter in photo pixels"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->size_spin), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Brush diameter in photo pixels"), -1);
  g_signal_connect_swapped (self->size_spin, "value-changed", G_CALLBACK (brush_changed), self);
  gtk_box_append (GTK_BOX (size_box), GTK_WIDGET (self->size_spin));
  for (guint i = 0; fills[i] != NULL; i++)
    gtk_string_list_append (fill_names, _(fills[i]));
  self->fill_dropdown = GTK_DROP_DOWN (gtk_drop_down_new (G_LIST_MODEL (g_object_ref (fill_names)), NULL));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->fill_dropdown),
                               _("What the brush puts over the photo: flat grey (as the occlusion map), a blur of the photo, or noise"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->fill_dropdown), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Fill"), -1);
  g_signal_connect_swapped (self->fill_dropdown, "notify::selected", G_CALLBACK (brush_changed), self);
  gtk_box_append (GTK_BOX (size_box), GTK_WIDGET (self->fill_dropdown));
  gtk_box_append (GTK_BOX (controls), size_box);
  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  self->undo_button = icon_button ("edit-undo-symbolic", _("Undo the last stroke (Ctrl+Z)"),
                                   G_CALLBACK (mirada_occlusion_paint_undo), self);
  gtk_box_append (GTK_BOX (buttons), self->undo_button);
  self->clear_button = gtk_button_new_with_mnemonic (_("_Clear"));
  gtk_widget_set_tooltip_text (self->clear_button, _("Remove all paint: the photo and the scores as before"));
  g_signal_connect_swapped (self->clear_button, "clicked", G_CALLBACK (mirada_occlusion_paint_clear), self);
  gtk_box_append (GTK_BOX (buttons), self->clear_button);
  self->map_button = gtk_button_new_with_mnemonic (_("Occlusion _Map"));
  gtk_widget_set_tooltip_text (self->map_button,
                               _("Compute the sliding-patch occlusion map of the selected window, to compare with what you painted"));
  g_signal_connect_swapped (self->map_button, "clicked", G_CALLBACK (mirada_occlusion_paint_compute_map), self);
  gtk_box_append (GTK_BOX (buttons), self->map_button);
  gtk_box_append (GTK_BOX (controls), buttons);
  gtk_box_append (GTK_BOX (box), controls);

  self->chart = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (self->chart), 22 * CHART_CLASSES);
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (self->chart), 240);
  gtk_widget_set_hexpand (self->chart, TRUE);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->chart), draw_chart, self, NULL);
  gtk_widget_set_tooltip_text (self->chart, _("The selected window’s class probabilities before painting (grey) and now (colour)"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->chart), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("The selected window’s class probabilities before painting (grey) and now (colour)"), -1);
  gtk_box_append (GTK_BOX (box), self->chart);

  map_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  self->map_picture = GTK_PICTURE (gtk_picture_new ());
  gtk_widget_set_size_request (GTK_WIDGET (self->map_picture), 72, 72);
  gtk_widget_set_visible (GTK_WIDGET (self->map_picture), FALSE);
  gtk_box_append (GTK_BOX (map_box), GTK_WIDGET (self->map_picture));
  self->map_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_ellipsize (self->map_label, PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (self->map_label, 12);
  gtk_widget_add_css_class (GTK_WIDGET (self->map_label), "caption");
  gtk_box_append (GTK_BOX (map_box), GTK_WIDGET (self->map_label));
  gtk_box_append (GTK_BOX (box), map_box);

  shortcuts = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (shortcuts), GTK_SHORTCUT_SCOPE_MANAGED);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_z, GDK_CONTROL_MASK),
                                                          gtk_callback_action_new (undo_shortcut_cb, NULL, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), shortcuts);
  update_status (self);
}

GtkWidget *
mirada_occlusion_paint_new (void)
{
  return g_object_new (MIRADA_TYPE_OCCLUSION_PAINT, NULL);
}

GtkWidget *
mirada_occlusion_paint_get_toggle (MiradaOcclusionPaint *self)
{
  g_return_val_if_fail (MIRADA_IS_OCCLUSION_PAINT (self), NULL);
  return GTK_WIDGET (self->toggle);
}
