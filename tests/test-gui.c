/* test-gui.c: the application window under Xvfb: loads a fixture model and a
 * synthetic scene through the window's own workers, waits for the detector,
 * checks the canvas pixels, moves the thresholds and compares the count
 * labels with mir_detect_filter() called directly, writes a screenshot, and
 * watches the main loop's responsiveness while detection jobs run. */
#define G_LOG_DOMAIN "test-gui"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include <adwaita.h>

#include "detect/mir-detect.h"
#include "mirada-application.h"
#include "mirada-activations-panel.h"
#include "mirada-filters-panel.h"
#include "mirada-heatmap-panel.h"
#include "mirada-job.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"
#include "mirada-unit-figure.h"
#include "kernels/mir-conv-util.h"
#include "mirada-window.h"
#include "mirada-canvas.h"
#include "mirada-panel.h"
#include "mirada-architecture-panel.h"
#include "mirada-sweep-dialog.h"
#include "mirada-model-properties.h"
#include "io/mir-sidecar.h"
#include "mir-error.h"
#include "mir-test-gui.h"
#include "mir-test-util.h"
#include "visualize/mir-activation-grid.h"

#define MODEL "mlcommons__pretrainedResnet.h5" /* CIFAR-10 ResNet, 32×32 input, 10 classes */

static MiradaApplication *app;
static GThread *ui_thread;
static double time_scale = 1.0;  /* MIRADA_TEST_TIME_SCALE: sanitizer builds are slower */

/* The generous upper bounds are not the expected durations: the waits end as
 * soon as @done holds, and a loaded machine only makes them longer;
 * @timeout_s is scaled for sanitizer builds. */
static void
wait_until (gboolean (*done) (gpointer), gpointer data, double timeout_s, const char *what)
{
  mir_test_wait_until (done, data, timeout_s * time_scale, what);
}

static gboolean
window_idle (gpointer data)
{
  MiradaWindow *window = data;

  return !mirada_window_get_busy (window) && mirada_window_get_grid (window) != NULL;
}

static gboolean
window_not_busy (gpointer data)
{
  return !mirada_window_get_busy (data);
}

static gboolean
widget_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static gboolean
widget_shown (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0 &&
         gtk_widget_get_height (data) > 0;
}

static void
after_paint_cb (GdkFrameClock *clock,
                gpointer       data)
{
  *(gboolean *) data = TRUE;
}

/* Waits until @widget is mapped, has a size, and a frame that began after
 * this call laid it out and drew it.  Then its allocation is current and
 * gtk_widget_paintable_new() shows what it draws now: before its first
 * frame a widget has no render node at all (an empty paintable, a NULL
 * snapshot), and until the next frame it has the previous one.  The frame
 * clock says when, whatever the speed of the machine. */
static void
wait_drawn (GtkWidget *widget)
{
  GdkFrameClock *clock;
  gboolean painted = FALSE;
  gulong handler;

  wait_until (widget_shown, widget, 60, "a widget to be mapped and allocated");
  clock = gtk_widget_get_frame_clock (widget);
  g_assert_nonnull (clock);
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &painted);
  gtk_widget_queue_draw (widget);
  wait_until (flag_set, &painted, 60, "a frame drawing the widget");
  g_signal_handler_disconnect (clock, handler);
  g_assert_true (widget_shown (widget));
}

/* A scene without pure red or blue (the colours of the first two classes'
 * boxes): a grey-green gradient with a few blobs. */
static char *
write_scene (const char *dir)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 320, 192);
  cairo_t *cr = cairo_create (surface);
  cairo_pattern_t *gradient = cairo_pattern_create_linear (0, 0, 320, 192);
  char *path = g_build_filename (dir, "scene.png", NULL);

  cairo_pattern_add_color_stop_rgb (gradient, 0, 0.55, 0.65, 0.5);
  cairo_pattern_add_color_stop_rgb (gradient, 1, 0.2, 0.3, 0.25);
  cairo_set_source (cr, gradient);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, 0.9, 0.85, 0.6);
  cairo_arc (cr, 70, 60, 35, 0, 2 * G_PI);
  cairo_fill (cr);
  cairo_set_source_rgb (cr, 0.35, 0.25, 0.2);
  cairo_rectangle (cr, 180, 90, 90, 70);
  cairo_fill (cr);
  cairo_set_source_rgb (cr, 0.95, 0.95, 0.95);
  cairo_arc (cr, 250, 50, 20, 0, 2 * G_PI);
  cairo_fill (cr);
  g_assert_cmpint (cairo_surface_write_to_png (surface, path), ==, CAIRO_STATUS_SUCCESS);
  cairo_pattern_destroy (gradient);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return path;
}

/* The widget as it looks now (drawn by a frame first, see wait_drawn). */
static GdkTexture *
render_widget (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = NULL;
  GtkSnapshot *snapshot;
  g_autoptr(GskRenderNode) node = NULL;
  GskRenderer *renderer;
  int w, h;

  wait_drawn (widget);
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  w = gtk_widget_get_width (widget);
  h = gtk_widget_get_height (widget);
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

typedef struct
{
  double variance;  /* of the luminance, 0..255² */
  guint n_red;      /* pixels of the first class's box colour */
} PixelStats;

static void
pixel_stats (GdkTexture *texture, PixelStats *stats)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *data = g_malloc ((gsize) w * h * 4);
  double sum = 0, sum2 = 0;

  gdk_texture_download (texture, data, (gsize) w * 4); /* Cairo ARGB32: B G R A in memory */
  stats->n_red = 0;
  for (gsize i = 0; i < (gsize) w * h; i++)
    {
      const guint8 *p = data + i * 4;
      double y = 0.299 * p[2] + 0.587 * p[1] + 0.114 * p[0];

      sum += y;
      sum2 += y * y;
      if (p[2] > 220 && p[1] < 40 && p[0] < 40)
        stats->n_red++;
    }
  stats->variance = sum2 / ((double) w * h) - (sum / ((double) w * h)) * (sum / ((double) w * h));
}

static void
set_all_thresholds (MiradaDetectorPanel *panel, double t)
{
  for (guint k = 0; k < mirada_detector_panel_get_n_classes (panel); k++)
    gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, k), t);
}

/* Counts per class from the detector API called directly (method 1, no
 * grouping, the same thresholds for every class). */
static void
direct_counts (MirDetectGrid *grid, double t, guint *counts)
{
  g_autoptr(MirDetectParams) params = mir_detect_params_new (grid->n_classes, MIR_DETECT_METHOD_1);
  g_autoptr(MirDetectResult) result = NULL;
  g_autoptr(GError) error = NULL;

  for (guint k = 0; k < grid->n_classes; k++)
    params->classes[k].threshold = t;
  result = mir_detect_filter (grid, params, &error);
  g_assert_no_error (error);
  memcpy (counts, result->counts, sizeof (guint) * grid->n_classes);
}

static void
check_labels (MiradaDetectorPanel *panel, const guint *counts, guint n)
{
  for (guint k = 0; k < n; k++)
    {
      g_autofree char *expected = g_strdup_printf ("%u", counts[k]);

      g_assert_cmpstr (mirada_detector_panel_get_count_text (panel, k), ==, expected);
    }
}

/* A widget is disposed and finalized where its last reference goes: that
 * must be the UI thread (a worker finalizing a destroyed window or panel
 * whose job it held corrupts GTK's state, a crash later in another test). */
static void
disposed_cb (gpointer data,
             GObject *where_the_object_was)
{
  if (g_thread_self () != ui_thread)
    g_error ("a %s was disposed off the UI thread", (const char *) data);
}

static MiradaWindow *
new_window (void)
{
  MiradaWindow *window = mirada_window_new (GTK_APPLICATION (app));

  g_object_weak_ref (G_OBJECT (window), disposed_cb, (gpointer) "MiradaWindow");
  for (guint i = 0; i < 3; i++)
    g_object_weak_ref (G_OBJECT (mirada_window_get_explain_panel (window, i)), disposed_cb,
                       (gpointer) "MiradaExplainPanel");
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 860);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (widget_mapped, window, 20, "the window to map");
  return window;
}

static void
test_gui_detect (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-gui-XXXXXX", NULL);
  g_autofree char *scene_path = write_scene (dir);
  g_autofree char *shot = g_test_build_filename (G_TEST_BUILT, "gui-screenshot.png", NULL);
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  g_autoptr(GdkTexture) blank = NULL;
  g_autoptr(GdkTexture) with_boxes = NULL;
  g_autoptr(GdkTexture) without_boxes = NULL;
  g_autoptr(GdkTexture) full = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirDetectGrid) direct = NULL;
  g_autoptr(GError) error = NULL;
  MiradaDetectorPanel *panel;
  MiradaWindow *window;
  MirDetectGrid *grid;
  PixelStats stats_blank, stats_boxes, stats_none;
  guint counts_low[256], counts_mid[256], counts_high[256];
  double median;
  g_autofree float *sorted = NULL;
  guint n_windows;

  window = new_window ();
  panel = mirada_window_get_detector_panel (window);

  mirada_window_open_model (window, model_file);
  mirada_window_open_image (window, scene_file);
  g_assert_true (mirada_window_get_busy (window));
  wait_until (window_idle, window, 300, "the model, the image and the detection");
  grid = mirada_window_get_grid (window);
  g_assert_nonnull (grid);
  g_assert_cmpuint (grid->n_classes, ==, 10);
  g_assert_cmpuint (mirada_detector_panel_get_n_classes (panel), ==, 10);

  /* window 64, stride 32 (set in main) over 320×192: 5×9 windows */
  g_assert_cmpint (grid->geom.window, ==, 64);
  g_assert_cmpint (grid->geom.rows, ==, 5);
  g_assert_cmpint (grid->geom.cols, ==, 9);
  n_windows = mir_detect_geometry_n_windows (&grid->geom);

  /* the worker's grid equals the detector called directly on the same files */
  model = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);
  direct = mir_detect_classify (model, image, &grid->geom, 0, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < (gsize) n_windows * grid->n_classes; i++)
    g_assert_cmpfloat_with_epsilon (grid->probs[i], direct->probs[i], 1e-6);

  /* thresholds: 0 keeps every window for every class (an independent count);
   * the median of class 0 keeps about half; above 1 keeps none */
  sorted = g_new (float, n_windows);
  for (guint n = 0; n < n_windows; n++)
    sorted[n] = mir_detect_grid_get (grid, n, 0);
  for (guint i = 1; i < n_windows; i++)
    for (guint j = i; j > 0 && sorted[j - 1] > sorted[j]; j--)
      {
        float t = sorted[j];
        sorted[j] = sorted[j - 1];
        sorted[j - 1] = t;
      }
  median = sorted[n_windows / 2];
  g_test_message ("class 0 probabilities: min %.4g, median %.4g, max %.4g",
                  sorted[0], median, sorted[n_windows - 1]);

  set_all_thresholds (panel, 0.0);
  direct_counts (grid, 0.0, counts_low);
  for (guint k = 0; k < grid->n_classes; k++)
    g_assert_cmpuint (counts_low[k], ==, n_windows);
  check_labels (panel, counts_low, grid->n_classes);

  set_all_thresholds (panel, median);
  direct_counts (grid, median, counts_mid);
  check_labels (panel, counts_mid, grid->n_classes);
  g_assert_cmpuint (counts_mid[0], <, counts_low[0]);
  g_assert_cmpuint (counts_mid[0], >=, 1);

  set_all_thresholds (panel, 1.0);
  direct_counts (grid, 1.0, counts_high);
  check_labels (panel, counts_high, grid->n_classes);

  /* pixels: only class 0 (red) boxes, at threshold 0, against none */
  without_boxes = render_widget (GTK_WIDGET (mirada_window_get_canvas (window)));
  set_all_thresholds (panel, 1.0);
  gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, 0), 0.0);
  with_boxes = render_widget (GTK_WIDGET (mirada_window_get_canvas (window)));
  pixel_stats (without_boxes, &stats_none);
  pixel_stats (with_boxes, &stats_boxes);
  g_test_message ("canvas %dx%d: luminance variance %.1f (no boxes) / %.1f (boxes); red pixels %u / %u",
                  gdk_texture_get_width (with_boxes), gdk_texture_get_height (with_boxes),
                  stats_none.variance, stats_boxes.variance, stats_none.n_red, stats_boxes.n_red);
  g_assert_cmpfloat (stats_none.variance, >, 25.0);   /* the scene is there, not a flat colour */
  g_assert_cmpuint (stats_boxes.n_red, >, stats_none.n_red + 1000); /* 45 red outlines */

  /* a blank reference: the same widget with no image renders flat */
  mirada_canvas_set_texture (mirada_window_get_canvas (window), NULL);
  blank = render_widget (GTK_WIDGET (mirada_window_get_canvas (window)));
  pixel_stats (blank, &stats_blank);
  g_assert_cmpfloat (stats_blank.variance, <, 1.0);

  /* put it back for the screenshot: class 0 at its median, others strict */
  set_all_thresholds (panel, 0.999);
  gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, 0), median);
  mirada_canvas_set_texture (mirada_window_get_canvas (window), NULL);
  mirada_window_set_image (window, image);
  wait_until (window_idle, window, 300, "the second detection");
  full = render_widget (GTK_WIDGET (window));
  g_assert_true (gdk_texture_save_to_png (full, shot));
  g_test_message ("screenshot: %s", shot);

  /* files of the wrong kind: an error toast, and the previous model, image
   * and detections stay */
  {
    MirModel *prev_model = mirada_window_get_model (window);
    MirDetectGrid *prev_grid = mirada_window_get_grid (window);
    GdkTexture *prev_texture = mirada_canvas_get_texture (mirada_window_get_canvas (window));

    mirada_window_open_model (window, scene_file);
    wait_until (window_not_busy, window, 60, "the failed model load");
    mirada_window_open_image (window, model_file);
    wait_until (window_not_busy, window, 60, "the failed image load");
    g_assert_true (mirada_window_get_model (window) == prev_model);
    g_assert_true (mirada_window_get_grid (window) == prev_grid);
    g_assert_true (mirada_canvas_get_texture (mirada_window_get_canvas (window)) == prev_texture);
  }

  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (scene_path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Grad-CAM, activations, filters */

static gboolean
explain_done (gpointer data)
{
  return !mirada_panel_get_busy (data) && mirada_panel_get_texture (data) != NULL;
}

static double
texture_variance (GdkTexture *texture)
{
  PixelStats stats;

  pixel_stats (texture, &stats);
  return stats.variance;
}

/* Luma of @texture, w·h doubles. */
static double *
texture_luma (GdkTexture *texture)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *data = g_malloc ((gsize) w * h * 4);
  double *y = g_new (double, (gsize) w * h);

  gdk_texture_download (texture, data, (gsize) w * 4);
  for (gsize i = 0; i < (gsize) w * h; i++)
    y[i] = 0.299 * data[i * 4 + 2] + 0.587 * data[i * 4 + 1] + 0.114 * data[i * 4];
  return y;
}

/* Mean |a − b| of the luma of two textures of the same size. */
static double
texture_mean_abs_diff (GdkTexture *a, GdkTexture *b)
{
  int w = gdk_texture_get_width (a), h = gdk_texture_get_height (a);
  g_autofree double *ya = NULL, *yb = NULL;
  double sum = 0;

  g_assert_cmpint (gdk_texture_get_width (b), ==, w);
  g_assert_cmpint (gdk_texture_get_height (b), ==, h);
  ya = texture_luma (a);
  yb = texture_luma (b);
  for (gsize i = 0; i < (gsize) w * h; i++)
    sum += fabs (ya[i] - yb[i]);
  return sum / ((double) w * h);
}

/* Roughness of a pattern grid: the mean |step| between horizontal
 * neighbours over the standard deviation, both over the non-black pixels
 * (not the margins).  Noise has steps as large as its spread at every
 * block edge; a smooth pattern's steps are small next to its contrast.
 * The grid is upscaled nearest-neighbour by the same factor for both
 * methods, so the ratio compares. */
static double
texture_roughness (GdkTexture *texture)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree double *y = texture_luma (texture);
  double steps = 0, sum = 0, sum2 = 0, n = 0, n_steps = 0, mean;

  for (int r = 0; r < h; r++)
    for (int c = 0; c < w; c++)
      {
        double v = y[(gsize) r * w + c];

        if (v < 1)
          continue;
        sum += v;
        sum2 += v * v;
        n++;
        if (c + 1 < w && y[(gsize) r * w + c + 1] >= 1)
          {
            steps += fabs (y[(gsize) r * w + c + 1] - v);
            n_steps++;
          }
      }
  g_assert_cmpfloat (n, >, 0);
  mean = sum / n;
  return (steps / MAX (n_steps, 1)) / sqrt (MAX (sum2 / n - mean * mean, 1e-9));
}

static void
paintable_changed_cb (GtkPicture *picture, GParamSpec *pspec, GArray *widths)
{
  GdkPaintable *paintable = gtk_picture_get_paintable (picture);

  if (paintable != NULL)
    {
      int w = gdk_paintable_get_intrinsic_width (paintable);
      g_array_append_val (widths, w);
    }
}

/* Widget point of the picture showing texture point (tx, ty): the picture
 * scales its paintable to fit, keeping its aspect ratio, centred. */
static void
texture_to_picture (GtkWidget *picture, double tx, double ty, double *x, double *y)
{
  GdkPaintable *paintable = gtk_picture_get_paintable (GTK_PICTURE (picture));
  double w = gtk_widget_get_width (picture), h = gtk_widget_get_height (picture);
  double pw = gdk_paintable_get_intrinsic_width (paintable);
  double ph = gdk_paintable_get_intrinsic_height (paintable);
  double s = MIN (w / pw, h / ph);

  *x = (w - pw * s) / 2 + tx * s;
  *y = (h - ph * s) / 2 + ty * s;
}

/* The widget's first event controller of @type (the widget keeps it). */
static gpointer
find_controller (GtkWidget *widget, GType type)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) c = g_list_model_get_item (controllers, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (c, type))
        return c;
    }
  g_error ("%s has no %s", G_OBJECT_TYPE_NAME (widget), g_type_name (type));
  return NULL;
}

/* The heat-map panel's maps against the engine called here on @crop: the
 * same class (numbered as the detector numbers them), layer and method,
 * the same map and probability; the most probable first, the model's top
 * prediction among them. */
static void
check_heatmaps_against_engine (MiradaHeatmapPanel *panel, MirModel *model, MirImage *crop)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autofree char *method_id = g_settings_get_string (settings, "explain-method");
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTensor) probs = NULL;
  g_autoptr(GError) error = NULL;
  guint n = mirada_heatmap_panel_get_n_overlays (panel);
  const MirExplainMethod *method = mir_explain_find_method (method_id, NULL);
  gint64 top = 0;

  g_assert_nonnull (method);
  g_assert_cmpuint (n, >=, 1);
  input = mir_image_prepare (crop, model, &error);
  g_assert_no_error (error);
  probs = mir_model_predict (model, input, NULL, &error);
  g_assert_no_error (error);
  for (gint64 k = 1; k < probs->shape[1]; k++)
    if (probs->data[k] > probs->data[top])
      top = k;
  g_assert_false (mir_model_is_binary_sigmoid (model));
  g_assert_cmpint (mirada_heatmap_panel_get_explanation (panel, 0)->class_index, ==, top);
  for (guint i = 0; i < n; i++)
    {
      const MirExplanation *shown = mirada_heatmap_panel_get_explanation (panel, i);
      MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
      g_autoptr(MirExplanation) e = NULL;
      double worst = 0;

      opts.layer = mirada_panel_get_layer (MIRADA_PANEL (panel));
      opts.class_index = shown->class_index;
      opts.complement = shown->complement;
      if (g_strcmp0 (method_id, "scorecam") == 0)
        opts.max_channels = g_settings_get_int (settings, "scorecam-channels");
      e = method->func (model, input, &opts, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (e->width, ==, shown->width);
      g_assert_cmpint (e->height, ==, shown->height);
      for (int j = 0; j < e->width * e->height; j++)
        worst = MAX (worst, fabs (e->map[j] - shown->map[j]));
      g_test_message ("map %u: %s, class %d, P = %.6f (direct %.6f), worst |Δmap| %.3g", i,
                      mirada_heatmap_panel_get_caption (panel, i), shown->class_index,
                      shown->probability, e->probability, worst);
      g_assert_cmpfloat (worst, <=, 1e-6);
      g_assert_cmpfloat (fabs (e->probability - shown->probability), <=, 1e-7);
      /* the order came from an inference run (fused kernels), the maps'
       * probabilities from the explanation's own forward pass */
      g_assert_cmpfloat (fabs (shown->probability - probs->data[shown->class_index]), <=, 1e-5);
      if (i > 0)
        g_assert_cmpfloat (shown->probability, <=, mirada_heatmap_panel_get_explanation (panel, i - 1)->probability + 1e-5);
    }
}

/* Score-CAM with the panel's channel setting (scorecam-channels): the maps
 * are the engine's with that max_channels (check_heatmaps_against_engine)
 * and not those of all channels, and the status says how many of the
 * layer's channels took part.  Grad-CAM again afterwards. */
static void
check_scorecam_channels (MiradaWindow *window, MiradaHeatmapPanel *panel, MirModel *model,
                         MirImage *crop)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirExplanation) all = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *said = NULL;
  MirExplainOptions opts = MIR_EXPLAIN_OPTIONS_DEFAULT;
  const MirExplanation *shown;
  MirNode *node;
  double worst = 0;

  mirada_window_show_panel (window, MIRADA_PANEL_GRADCAM);
  g_assert_cmpint (g_settings_get_int (settings, "scorecam-channels"), ==, 128);
  g_settings_set_int (settings, "scorecam-channels", 3);
  g_settings_set_string (settings, "explain-method", "scorecam");
  g_assert_true (mirada_panel_get_busy (MIRADA_PANEL (panel)));
  wait_until (explain_done, panel, 120, "the Score-CAM maps");
  check_heatmaps_against_engine (panel, model, crop);

  shown = mirada_heatmap_panel_get_explanation (panel, 0);
  node = mir_model_get_node (model, (guint) shown->layer);
  g_assert_cmpint (node->shape.dim[3], >, 3);
  said = g_strdup_printf ("Score-CAM used 3 of the layer’s %d channels", (int) node->shape.dim[3]);
  g_test_message ("%s", mirada_panel_get_status (MIRADA_PANEL (panel)));
  g_assert_nonnull (strstr (mirada_panel_get_status (MIRADA_PANEL (panel)), said));
  input = mir_image_prepare (crop, model, &error);
  g_assert_no_error (error);
  opts.layer = shown->layer;
  opts.class_index = shown->class_index;
  all = mir_explain_scorecam (model, input, &opts, NULL, &error);
  g_assert_no_error (error);
  for (int j = 0; j < all->width * all->height; j++)
    worst = MAX (worst, fabs (all->map[j] - shown->map[j]));
  g_test_message ("Score-CAM, 3 channels against all %d: worst |Δmap| %.3g",
                  (int) node->shape.dim[3], worst);
  g_assert_cmpfloat (worst, >, 1e-3);

  g_settings_reset (settings, "scorecam-channels");
  g_settings_set_string (settings, "explain-method", "gradcam");
  wait_until (explain_done, panel, 120, "the Grad-CAM maps again");
}

/* A click on the second map shows it large; the back button goes back. */
static void
check_heatmap_zoom (MiradaHeatmapPanel *panel)
{
  g_assert_cmpint (mirada_heatmap_panel_get_zoomed (panel), ==, -1);
  g_assert_true (mirada_heatmap_panel_zoom (panel, 1));
  g_assert_cmpint (mirada_heatmap_panel_get_zoomed (panel), ==, 1);
  g_assert_false (mirada_heatmap_panel_zoom (panel, 100));
  g_assert_true (mirada_heatmap_panel_zoom (panel, -1));
  g_assert_cmpint (mirada_heatmap_panel_get_zoomed (panel), ==, -1);
}

static gboolean
unit_explained (gpointer data)
{
  return mirada_activations_panel_get_unit_text (data) != NULL;
}

/* The red field outline's left column and top row in the popover's figure
 * (draw_field's red, 230, 30, 30), in texture pixels. */
static void
red_outline_at (GdkTexture *texture, int *left, int *top)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *px = g_malloc ((gsize) w * h * 4);

  *left = *top = G_MAXINT;
  gdk_texture_download (texture, px, (gsize) w * 4);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const guint8 *p = px + ((gsize) y * w + x) * 4; /* B, G, R, A */

        if (p[2] == 230 && p[1] == 30 && p[0] == 30)
          {
            *left = MIN (*left, x);
            *top = MIN (*top, y);
          }
      }
  g_assert_cmpint (*left, <, w);
}

static gboolean
unit_shown (gpointer data)
{
  return mirada_activations_panel_get_unit (data, NULL, NULL, NULL, NULL, NULL);
}

/* Stepping through the sliding (issue 19): with the unit's popover open,
 * Right twice moves the unit two columns; its receptive field, as the
 * panel reports it and as the red outline of the figure is drawn, moves by
 * 2 × the strides on the way (in the model's input pixels); the value shown
 * is the layer's output computed here.  A step off the map is clamped. */
static void
check_unit_stepping (MiradaActivationsPanel *panel, MirModel *model, MirTensor *act, gint layer)
{
  GtkWidget *picture = mirada_panel_get_picture (MIRADA_PANEL (panel));
  GtkWidget *popover = NULL, *figure;
  GtkEventController *keys;
  gint64 jump = 1, C = act->shape[3], W = act->shape[2];
  MirRect f0, f1;
  int y0, x0, y1, x1, left0, top0, left1, top1;
  double value, engine;
  gboolean handled = FALSE;
  g_autoptr(GdkTexture) before = NULL;
  MiradaUnitExplanation e = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *direct = NULL;

  /* the strides from the input to the layer, read off the layers' windows */
  for (guint i = 0; i <= (guint) layer; i++)
    {
      MirLayer *l = mir_model_get_node (model, i)->layer;

      if (l->klass->window != NULL)
        jump *= l->klass->window (l)->sw;
    }
  for (GtkWidget *c = gtk_widget_get_first_child (picture); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_POPOVER (c))
      popover = c;
  g_assert_nonnull (popover);
  wait_until (widget_mapped, popover, 20, "the unit's popover");
  figure = gtk_widget_get_first_child (gtk_widget_get_first_child (gtk_popover_get_child (GTK_POPOVER (popover))));
  g_assert_true (GTK_IS_PICTURE (figure));
  g_assert_true (mirada_activations_panel_get_unit (panel, &y0, &x0, &f0, NULL, NULL));
  before = g_object_ref (GDK_TEXTURE (gtk_picture_get_paintable (GTK_PICTURE (figure))));
  keys = find_controller (popover, GTK_TYPE_EVENT_CONTROLLER_KEY);
  for (int k = 0; k < 2; k++)
    {
      g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Right, 0, 0, &handled);
      g_assert_true (handled);
    }
  wait_until (unit_shown, panel, 60, "the stepped unit's explanation");
  g_assert_true (mirada_activations_panel_get_unit (panel, &y1, &x1, &f1, &value, &engine));
  g_test_message ("Right ×2: unit (%d, %d) → (%d, %d), field columns [%" G_GINT64_FORMAT ", %"
                  G_GINT64_FORMAT ") → [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "), jump %"
                  G_GINT64_FORMAT "; value %.7g, engine %.7g, direct %.7g", y0, x0, y1, x1,
                  f0.x0, f0.x1, f1.x0, f1.x1, jump, value, engine,
                  act->data[((gint64) y1 * W + x1) * C + 3]);
  g_assert_cmpint (y1, ==, y0);
  g_assert_cmpint (x1, ==, x0 + 2);
  /* an interior unit: nothing clipped, the whole field moves */
  g_assert_cmpint (f1.x0 - f0.x0, ==, 2 * jump);
  g_assert_cmpint (f1.x1 - f0.x1, ==, 2 * jump);
  g_assert_cmpint (f1.y0, ==, f0.y0);
  g_assert_cmpint (f1.y1, ==, f0.y1);
  g_assert_cmpfloat (fabs (value - act->data[((gint64) y1 * W + x1) * C + 3]), <=,
                     1e-5 * MAX (1.0, fabs (engine)));
  g_assert_cmpfloat (fabs (value - engine), <=, 1e-5 * MAX (1.0, fabs (engine)));
  /* the text is `mirada explain-unit`'s for the new unit */
  g_assert_true (mirada_unit_explain (model, mirada_panel_get_input (MIRADA_PANEL (panel)), layer,
                                      y1, x1, 3, NULL, &e, &error));
  g_assert_no_error (error);
  direct = mirada_unit_explanation_describe (&e, mir_model_get_node (model, (guint) layer)->name,
                                             y1, x1, 3);
  g_assert_cmpstr (mirada_activations_panel_get_unit_text (panel), ==, direct);
  /* the drawn outline moved as far, in the figure's pixels (same size, no margin) */
  {
    GdkTexture *after = GDK_TEXTURE (gtk_picture_get_paintable (GTK_PICTURE (figure)));
    double s = (double) gdk_texture_get_width (after) / (double) e.input_width;

    g_assert_cmpint (gdk_texture_get_width (after), ==, gdk_texture_get_width (before));
    /* the window reads no padding: the figure has no margin */
    g_assert_true (memcmp (&e.padded, &e.field, sizeof e.field) == 0);
    red_outline_at (before, &left0, &top0);
    red_outline_at (after, &left1, &top1);
    g_test_message ("outline: left %d → %d, top %d → %d (%.3g texture pixels an input pixel)",
                    left0, left1, top0, top1, s);
    g_assert_cmpint (top1, ==, top0);
    g_assert_cmpfloat (fabs ((left1 - left0) - 2 * jump * s), <, 0.5);
  }
  /* the field on the photo too (the activations are of the whole image
   * here): the model's input stretched over the image */
  {
    MiradaCanvas *canvas = mirada_window_get_canvas (MIRADA_WINDOW (gtk_widget_get_root (GTK_WIDGET (panel))));
    MirImage *shown = mirada_panel_get_input (MIRADA_PANEL (panel));
    double sx = shown->width / (double) e.input_width, sy = shown->height / (double) e.input_height;
    graphene_rect_t cf;

    g_assert_true (mirada_canvas_get_unit_field (canvas, &cf, NULL));
    g_test_message ("on the photo: %.2f,%.2f %.2fx%.2f (×%.3g, ×%.3g)", cf.origin.x, cf.origin.y,
                    cf.size.width, cf.size.height, sx, sy);
    g_assert_cmpfloat (fabs (cf.origin.x - f1.x0 * sx), <, 1e-3);
    g_assert_cmpfloat (fabs (cf.origin.y - f1.y0 * sy), <, 1e-3);
    g_assert_cmpfloat (fabs (cf.size.width - (f1.x1 - f1.x0) * sx), <, 1e-3);
    g_assert_cmpfloat (fabs (cf.size.height - (f1.y1 - f1.y0) * sy), <, 1e-3);
  }
  mirada_unit_explanation_clear (&e);

  /* the buttons: ◀ once; a step far off the map stops at the edge */
  g_assert_true (mirada_activations_panel_step_unit (panel, 0, -1));
  wait_until (unit_shown, panel, 60, "the unit stepped left");
  g_assert_true (mirada_activations_panel_get_unit (panel, &y1, &x1, NULL, NULL, NULL));
  g_assert_cmpint (x1, ==, x0 + 1);
  g_assert_true (mirada_activations_panel_step_unit (panel, -1000, 0));
  wait_until (unit_shown, panel, 60, "the unit at the top");
  g_assert_true (mirada_activations_panel_get_unit (panel, &y1, &x1, NULL, NULL, NULL));
  g_assert_cmpint (y1, ==, 0);
  g_assert_false (mirada_activations_panel_step_unit (panel, -1, 0));
  /* the padding toggle redraws the figure for the same unit */
  mirada_activations_panel_set_unit_padding (panel, TRUE);
  wait_until (unit_shown, panel, 60, "the unit with its padding");
  g_assert_true (mirada_activations_panel_get_unit (panel, &y1, &x1, NULL, NULL, NULL));
  g_assert_cmpint (y1, ==, 0);
  g_assert_cmpint (x1, ==, x0 + 1);
  mirada_activations_panel_set_unit_padding (panel, FALSE);
  wait_until (unit_shown, panel, 60, "the unit without its padding");
}

/* Click channel 3 of the activation grid: it shows large, and the value
 * under the pointer is the layer's output computed here directly. */
static void
check_channel_zoom (MiradaPanel *panel, MirModel *model, MirImage *image)
{
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *picture = mirada_panel_get_picture (panel);
  gint layer = mirada_panel_get_layer (panel);
  GdkTexture *grid = mirada_panel_get_texture (panel);
  MirTensor *act;
  const gint64 G = MIR_GRID_GAP_DEFAULT;
  gint64 H, W, C;
  double f = 0, x, y;
  int ax = -1, ay = -1;
  float value = NAN, expected;

  input = mir_image_prepare (image, model, &error);
  g_assert_no_error (error);
  trace = mir_model_run (model, &input, 1, MIR_RUN_DEFAULT, layer, 0, NULL, &error);
  g_assert_no_error (error);
  act = mir_trace_get (trace, (guint) layer);
  H = act->shape[1];
  W = act->shape[2];
  C = act->shape[3];
  g_assert_cmpint (C, >, 4);
  wait_drawn (picture);

  /* the grid: per_row tiles of W×H a row with white gaps of G pixels
   * between them, upscaled by an integer f: find the one layout whose
   * width and height give the same f */
  {
    int gw = gdk_texture_get_width (grid), gh = gdk_texture_get_height (grid);
    gint64 per_row = 0, rows = 0;
    g_autofree guint8 *px = g_malloc ((gsize) gw * gh * 4);

    for (gint64 p = 1; p <= 16 && per_row == 0; p++)
      {
        gint64 r = (C + p - 1) / p, lw = p * (W + G) - G, lh = r * (H + G) - G;

        if (gw % lw == 0 && gh % lh == 0 && gw / lw == gh / lh)
          {
            per_row = p;
            rows = r;
            f = (double) gw / lw;
          }
      }
    g_assert_cmpint (per_row, >, 1);
    g_test_message ("activation grid %dx%d: %" G_GINT64_FORMAT " tiles a row, %" G_GINT64_FORMAT
                    " rows, ×%g", gw, gh, per_row, rows, f);
    /* the gap after tile 0 is white from top to bottom */
    gdk_texture_download (grid, px, (gsize) gw * 4);
    for (int yy = 0; yy < gh; yy++)
      for (int xx = (int) (W * f); xx < (int) ((W + G) * f); xx++)
        g_assert_cmpuint (px[((gsize) yy * gw + xx) * 4 + 1], ==, 255);
    /* a click on the gap is on no channel */
    texture_to_picture (picture, (W + G / 2.0) * f, 0.5 * H * f, &x, &y);
    g_assert_cmpint (mirada_activations_panel_channel_at (MIRADA_ACTIVATIONS_PANEL (panel), x, y), ==, -1);
  }
  texture_to_picture (picture, (3 * (W + G) + 0.5 * W) * f, 0.5 * H * f, &x, &y);
  g_assert_cmpint (mirada_activations_panel_channel_at (MIRADA_ACTIVATIONS_PANEL (panel), x, y), ==, 3);
  g_signal_emit_by_name (find_controller (picture, GTK_TYPE_GESTURE_CLICK), "pressed", 1, x, y);
  g_assert_cmpint (mirada_activations_panel_get_zoom_channel (MIRADA_ACTIVATIONS_PANEL (panel)), ==, 3);
  wait_drawn (picture);

  /* the zoom: W×H values, upscaled by f; the pointer over column 1, row 2 */
  f = gdk_paintable_get_intrinsic_width (gtk_picture_get_paintable (GTK_PICTURE (picture))) / (double) W;
  texture_to_picture (picture, 1.5 * f, 2.5 * f, &x, &y);
  g_assert_true (mirada_activations_panel_value_at (MIRADA_ACTIVATIONS_PANEL (panel), x, y, &ax, &ay, &value));
  expected = act->data[(2 * W + 1) * C + 3];
  g_test_message ("channel 3 at (1, 2): %g (direct %g)", value, expected);
  g_assert_cmpint (ax, ==, 1);
  g_assert_cmpint (ay, ==, 2);
  g_assert_cmpfloat (value, ==, expected);

  /* a click on that unit explains it (issue 19): the popover's text is what
   * `mirada explain-unit` prints for the same input, layer and unit */
  {
    MiradaUnitExplanation e = { 0 };
    g_autofree char *direct = NULL;

    g_signal_emit_by_name (find_controller (picture, GTK_TYPE_GESTURE_CLICK), "pressed", 1, x, y);
    wait_until (unit_explained, panel, 60, "the unit's explanation");
    g_assert_true (mirada_unit_explain (model, image, layer, 2, 1, 3, NULL, &e, &error));
    g_assert_no_error (error);
    direct = mirada_unit_explanation_describe (&e, mir_model_get_node (model, (guint) layer)->name,
                                               2, 1, 3);
    g_test_message ("unit (2, 1, 3): %s", direct);
    g_assert_cmpstr (mirada_activations_panel_get_unit_text (MIRADA_ACTIVATIONS_PANEL (panel)), ==, direct);
    g_assert_true (e.have_value);
    g_assert_cmpfloat (fabs (e.value.value - expected), <=, 1e-5 * MAX (1.0, fabs (expected)));
    mirada_unit_explanation_clear (&e);
  }
  check_unit_stepping (MIRADA_ACTIVATIONS_PANEL (panel), model, act, layer);

  g_assert_true (mirada_activations_panel_zoom_channel (MIRADA_ACTIVATIONS_PANEL (panel), -1));
  g_assert_true (gtk_picture_get_paintable (GTK_PICTURE (picture)) == GDK_PAINTABLE (grid));
}

/* The filters panel's methods: a second Compute comes from the pattern
 * cache (one preview per pattern, no optimisation, the same grid, faster);
 * the seed recipe gives another grid, noisier than the regularised one. */
static void
check_filter_methods (MiradaPanel *panel)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autoptr(GdkTexture) regularised = g_object_ref (mirada_panel_get_texture (panel));
  GdkTexture *seed;
  double first_s = mirada_filters_panel_get_seconds (MIRADA_FILTERS_PANEL (panel));
  g_autofree char *method = g_settings_get_string (settings, "filter-method");
  double rough_reg, rough_seed, diff;

  /* the default method */
  g_assert_cmpstr (method, ==, "regularized");

  /* the same layer and method again: all 16 from the cache */
  mirada_panel_compute (panel);
  wait_until (explain_done, panel, 120, "the cached filter patterns");
  g_test_message ("second compute: %u previews, %.3f s (first %.3f s; machine busy)",
                  mirada_filters_panel_get_n_previews (MIRADA_FILTERS_PANEL (panel)),
                  mirada_filters_panel_get_seconds (MIRADA_FILTERS_PANEL (panel)), first_s);
  g_assert_cmpuint (mirada_filters_panel_get_n_previews (MIRADA_FILTERS_PANEL (panel)), ==, 16);
  g_assert_cmpfloat (texture_mean_abs_diff (regularised, mirada_panel_get_texture (panel)), ==, 0.0);
  g_assert_cmpfloat (mirada_filters_panel_get_seconds (MIRADA_FILTERS_PANEL (panel)), <, first_s / 2);

  /* the seed recipe: the setting moves the dropdown, which drops the grid
   * and, Compute having been pressed, computes the seed patterns */
  g_settings_set_string (settings, "filter-method", "seed");
  g_assert_null (mirada_panel_get_texture (panel));
  g_assert_true (mirada_panel_get_busy (panel));
  wait_until (explain_done, panel, 300, "the seed filter patterns");
  seed = mirada_panel_get_texture (panel);
  g_assert_cmpfloat (texture_variance (seed), >, 25.0);
  g_assert_cmpfloat (texture_variance (regularised), >, 25.0);
  diff = texture_mean_abs_diff (regularised, seed);
  rough_reg = texture_roughness (regularised);
  rough_seed = texture_roughness (seed);
  g_test_message ("seed vs regularised grid: mean |Δ| %.1f; roughness seed %.3f, regularised %.3f",
                  diff, rough_seed, rough_reg);
  /* different grids (not a few pixels apart) */
  g_assert_cmpfloat (diff, >, 10.0);
  /* the regularised patterns are at least twice as smooth as the seed's noise */
  g_assert_cmpfloat (rough_reg, <, rough_seed / 2);
  g_settings_reset (settings, "filter-method");
}

static void
test_gui_explain (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *scene_path = g_test_build_filename (G_TEST_DIST, "data", "scene-small.png", NULL);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) error = NULL;
  MiradaPanel *panels[3];
  GdkTexture *whole[2];
  MiradaWindow *window;

  model = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);

  window = new_window ();
  for (guint i = 0; i < 3; i++)
    panels[i] = MIRADA_PANEL (mirada_window_get_explain_panel (window, i));
  mirada_window_set_model (window, model);
  mirada_window_set_image (window, image);
  wait_until (window_idle, window, 300, "the detection");

  /* activations of the whole image; the heat maps of the most probable
   * box (no window chosen yet), the numbers of `mirada gradcam --window` */
  for (guint i = 0; i < 2; i++)
    {
      wait_until (explain_done, panels[i], 120, "the first explanations");
      whole[i] = mirada_panel_get_texture (panels[i]);
      g_test_message ("panel %u: %dx%d, variance %.1f", i, gdk_texture_get_width (whole[i]),
                      gdk_texture_get_height (whole[i]), texture_variance (whole[i]));
      g_assert_cmpfloat (texture_variance (whole[i]), >, 25.0);
    }
  {
    MirDetectResult *result = mirada_window_get_result (window);
    const MirDetectBox *best = NULL;
    int x, y, w, h;

    g_assert_nonnull (result);
    for (guint i = 0; i < result->boxes->len; i++)
      if (best == NULL || g_array_index (result->boxes, MirDetectBox, i).prob > best->prob)
        best = &g_array_index (result->boxes, MirDetectBox, i);
    if (best != NULL)
      {
        g_autoptr(MirImage) crop = NULL;

        g_assert_true (mirada_heatmap_panel_get_region (MIRADA_HEATMAP_PANEL (panels[0]), &x, &y, &w, &h));
        g_test_message ("most probable box %g,%g %gx%g, P = %.4f; maps of %d,%d %dx%d",
                        best->x, best->y, best->width, best->height, best->prob, x, y, w, h);
        g_assert_cmpint (x, ==, (int) floor (best->x + 0.5));
        g_assert_cmpint (y, ==, (int) floor (best->y + 0.5));
        g_assert_cmpint (w, ==, (int) floor (best->width + 0.5));
        g_assert_cmpint (h, ==, (int) floor (best->height + 0.5));
        crop = mir_image_crop (image, x, y, w, h, &error);
        g_assert_no_error (error);
        check_heatmaps_against_engine (MIRADA_HEATMAP_PANEL (panels[0]), model, crop);
      }
    else
      g_assert_false (mirada_heatmap_panel_get_region (MIRADA_HEATMAP_PANEL (panels[0]), &x, &y, &w, &h));
  }

  /* the whole image on request: one map per ticked class (all ten, and the
   * top prediction; at most 8), side by side 8 px apart in the export, each
   * with the image's size (320×192), the most probable first */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (mirada_heatmap_panel_get_whole_image_button (MIRADA_HEATMAP_PANEL (panels[0]))), TRUE);
  g_assert_true (mirada_panel_get_busy (panels[0]));
  wait_until (explain_done, panels[0], 120, "the heat maps of the whole image");
  {
    guint n = mirada_heatmap_panel_get_n_overlays (MIRADA_HEATMAP_PANEL (panels[0]));
    GdkTexture *t = mirada_panel_get_texture (panels[0]);

    g_assert_cmpuint (n, ==, 8);
    g_assert_cmpint (gdk_texture_get_width (t), ==, n * 320 + (n - 1) * 8);
    g_assert_cmpint (gdk_texture_get_height (t), ==, 192);
    check_heatmaps_against_engine (MIRADA_HEATMAP_PANEL (panels[0]), model, image);
  }

  /* one panel shows at a time: the activations, to click on them */
  mirada_window_show_panel (window, MIRADA_PANEL_ACTIVATIONS);
  check_channel_zoom (panels[1], model, image);

  /* a selected window: both are computed again, on the 64×64 crop (the
   * whole-image toggle goes off: the person chose a window) */
  mirada_window_select_window (window, 1, 2);
  for (guint i = 0; i < 2; i++)
    {
      wait_until (explain_done, panels[i], 120, "an explanation of the window");
      g_assert_true (mirada_panel_get_texture (panels[i]) != whole[i]);
    }
  g_assert_false (gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (mirada_heatmap_panel_get_whole_image_button (MIRADA_HEATMAP_PANEL (panels[0])))));
  /* new activations: the last unit's field leaves the photo */
  g_assert_false (mirada_canvas_get_unit_field (mirada_window_get_canvas (window), NULL, NULL));
  {
    MirDetectGrid *grid = mirada_window_get_grid (window);
    g_autoptr(MirImage) crop = NULL;
    guint n = mirada_heatmap_panel_get_n_overlays (MIRADA_HEATMAP_PANEL (panels[0]));
    int x, y, size;

    mir_detect_geometry_window_rect (&grid->geom, (guint) (1 * grid->geom.cols + 2), &x, &y, &size);
    crop = mir_image_crop (image, x, y, size, size, &error);
    g_assert_no_error (error);
    g_test_message ("window (1, 2): %d,%d %dx%d, %u maps", x, y, size, size, n);
    check_heatmaps_against_engine (MIRADA_HEATMAP_PANEL (panels[0]), model, crop);
    /* square 64×64 crops this time */
    g_assert_cmpint (gdk_texture_get_width (mirada_panel_get_texture (panels[0])), ==,
                     n * gdk_texture_get_height (mirada_panel_get_texture (panels[0])) + (n - 1) * 8);
    check_scorecam_channels (window, MIRADA_HEATMAP_PANEL (panels[0]), model, crop);
  }
  check_heatmap_zoom (MIRADA_HEATMAP_PANEL (panels[0]));

  /* a second screenshot artefact, the activations panel in view */
  {
    g_autofree char *shot = g_test_build_filename (G_TEST_BUILT, "gui-screenshot-gradcam.png", NULL);
    g_autoptr(GdkTexture) full = NULL;

    full = render_widget (GTK_WIDGET (window));
    g_assert_true (gdk_texture_save_to_png (full, shot));
  }

  /* filter patterns only on request */
  g_assert_null (mirada_panel_get_texture (panels[2]));
  {
    g_autoptr(GArray) widths = g_array_new (FALSE, FALSE, sizeof (int));
    GtkWidget *picture = mirada_panel_get_picture (panels[2]);
    gulong id = g_signal_connect (picture, "notify::paintable", G_CALLBACK (paintable_changed_cb), widths);
    int final_width;

    mirada_panel_compute (panels[2]);
    wait_until (explain_done, panels[2], 300, "the filter patterns");
    g_signal_handler_disconnect (picture, id);
    g_assert_cmpfloat (texture_variance (mirada_panel_get_texture (panels[2])), >, 25.0);
    /* progressively: the 16 patterns fill a grid of the final size in place
     * (the ones not started yet black), previews and finished batches
     * showing several times before the final grid */
    final_width = gdk_texture_get_width (mirada_panel_get_texture (panels[2]));
    g_test_message ("filter grid widths as they came: %u pictures, first %d, final %d",
                    widths->len, widths->len > 0 ? g_array_index (widths, int, 0) : -1, final_width);
    g_assert_cmpuint (widths->len, >=, 3);
    for (guint i = 0; i < widths->len; i++)
      g_assert_cmpint (g_array_index (widths, int, i), ==, final_width);
    /* the previews: the default method (regularised) optimised every one of
     * the 16 patterns, a preview every 5 of its 40 steps */
    g_test_message ("first compute: %u previews, %.3f s", mirada_filters_panel_get_n_previews (MIRADA_FILTERS_PANEL (panels[2])),
                    mirada_filters_panel_get_seconds (MIRADA_FILTERS_PANEL (panels[2])));
    g_assert_cmpuint (mirada_filters_panel_get_n_previews (MIRADA_FILTERS_PANEL (panels[2])), >=, 16 * (40 / 5));
  }
  check_filter_methods (panels[2]);

  gtk_window_destroy (GTK_WINDOW (window));
}


/* A binary sigmoid model (one unit P, classes cat/dog): the heat-map panel
 * numbers its two classes as the detector and `mirada predict` do, class 0
 * "cat" = 1 − P and class 1 "dog" = P (P computed here by the engine). */
static const char *sigmoid_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"catdog\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\", \"batch_input_shape\": [null, 16, 16, 3]}},"
  "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"p\", \"units\": 1, "
  "\"activation\": \"sigmoid\"}}]}}";

static void
test_gui_explain_sigmoid (void)
{
  g_autofree char *image_path = g_test_build_filename (G_TEST_DIST, "data", "cli", "photo.png", NULL);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autoptr(MirModel) model = mir_test_model_from_config (sigmoid_config, 7);
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirTensor) out = NULL;
  g_autoptr(GError) error = NULL;
  const char *names[] = { "cat", "dog", NULL };
  MiradaPanel *panel;
  MiradaWindow *window;
  double p_dog, p[2];
  int old_size, old_stride;

  model->meta.class_names = g_strdupv ((char **) names);
  model->meta.preprocess = MIR_PREPROCESS_TF;
  /* a bias that moves P well away from 1/2, so that P and 1 − P differ */
  mir_model_get_node (model, (guint) mir_model_find_node (model, "p"))->layer->weights[1].value->data[0] = 1.0f;
  image = mirada_image_load (image_path, &error);
  g_assert_no_error (error);
  input = mir_image_prepare (image, model, &error);
  g_assert_no_error (error);
  out = mir_model_predict (model, input, NULL, &error);
  g_assert_no_error (error);
  p_dog = out->data[0];
  g_test_message ("P(dog) = %.4f", p_dog);
  g_assert_cmpfloat (fabs (p_dog - 0.5), >, 0.01);  /* the two classes tell apart */

  /* windows that fit the 64×48 photo (the suite's settings restored after) */
  old_size = g_settings_get_int (settings, "window-size");
  old_stride = g_settings_get_int (settings, "stride");
  g_settings_set_int (settings, "window-size", 32);
  g_settings_set_int (settings, "stride", 16);
  window = new_window ();
  panel = MIRADA_PANEL (mirada_window_get_explain_panel (window, 0));
  mirada_window_set_model (window, model);
  mirada_window_set_image (window, image);
  wait_until (window_idle, window, 120, "the detection");
  wait_until (explain_done, panel, 120, "the Grad-CAM maps");
  /* the whole photo, as P(dog) above */
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (mirada_heatmap_panel_get_whole_image_button (MIRADA_HEATMAP_PANEL (panel))), TRUE);
  g_assert_true (mirada_panel_get_busy (panel));
  wait_until (explain_done, panel, 120, "the Grad-CAM maps of the whole photo");

  /* both classes, the more probable first */
  g_assert_cmpuint (mirada_heatmap_panel_get_n_overlays (MIRADA_HEATMAP_PANEL (panel)), ==, 2);
  p[0] = p[1] = -1;
  for (guint i = 0; i < 2; i++)
    {
      const char *caption = mirada_heatmap_panel_get_caption (MIRADA_HEATMAP_PANEL (panel), i);
      /* the first map is the predicted class's */
      guint k = (i == 0) == (p_dog > 0.5) ? 1 : 0;
      g_autofree char *prefix = g_strdup_printf ("%s, P = ", names[k]);

      g_test_message ("overlay %u: %s", i, caption);
      g_assert_nonnull (caption);
      g_assert_true (g_str_has_prefix (caption, prefix));
      p[k] = g_ascii_strtod (caption + strlen (prefix), NULL);
    }
  /* captions print 3 decimals */
  g_assert_cmpfloat (fabs (p[1] - p_dog), <=, 6e-4);
  g_assert_cmpfloat (fabs (p[0] - (1.0 - p_dog)), <=, 6e-4);

  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_set_int (settings, "window-size", old_size);
  g_settings_set_int (settings, "stride", old_stride);
}

/* ------------------------------------------------------------------ */
/* The four panels one by one, maximise, layer selection */

static gboolean
all_explained (gpointer data)
{
  MiradaPanel **panels = data;

  for (guint i = 0; i < 3; i++)
    if (!explain_done (panels[i]))
      return FALSE;
  return TRUE;
}

static void
test_gui_panels (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *scene_path = g_test_build_filename (G_TEST_DIST, "data", "scene-small.png", NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-panels-XXXXXX", NULL);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) error = NULL;
  MiradaPanel *panels[3];
  MiradaWindow *window;
  guint n_maps;
  gint conv = -1;

  model = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);

  window = new_window ();
  for (guint i = 0; i < 3; i++)
    panels[i] = MIRADA_PANEL (mirada_window_get_explain_panel (window, i));
  mirada_window_set_model (window, model);
  mirada_window_set_image (window, image);
  wait_until (window_idle, window, 300, "the detection");
  /* two classes ticked: two heat maps side by side */
  for (guint k = 0; k < 10; k++)
    mirada_detector_panel_set_enabled (mirada_window_get_detector_panel (window), k, k == 3 || k == 5);
  mirada_window_select_window (window, 1, 2);
  mirada_panel_compute (panels[2]);
  wait_until (all_explained, panels, 300, "the three explanations of the window");
  wait_drawn (GTK_WIDGET (window));

  /* one panel at a time beside the canvas, each with room */
  for (guint i = 0; i < MIRADA_N_PANELS; i++)
    {
      GtkWidget *frame = mirada_window_get_panel_frame (window, i);

      mirada_window_show_panel (window, i);
      wait_drawn (frame);
      g_assert_cmpuint (mirada_window_get_visible_panel (window), ==, i);
      g_test_message ("panel %u: %d×%d", i, gtk_widget_get_width (frame), gtk_widget_get_height (frame));
      g_assert_true (gtk_widget_get_mapped (frame));
      g_assert_cmpint (gtk_widget_get_width (frame), >=, 100);
      g_assert_cmpint (gtk_widget_get_height (frame), >=, 100);
    }
  /* the two ticked classes and the window's predicted class (if another) */
  n_maps = mirada_heatmap_panel_get_n_overlays (MIRADA_HEATMAP_PANEL (panels[0]));
  g_assert_cmpuint (n_maps, >=, 2);
  g_assert_cmpuint (n_maps, <=, 3);

  /* each shows a picture of the window, not a flat colour: the explanation
   * textures, the architecture panel as drawn, and each panel's PNG export */
  for (guint i = 0; i < MIRADA_N_PANELS; i++)
    {
      g_autofree char *name = g_strdup_printf ("panel-%u.png", i);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(GdkTexture) drawn = NULL;
      g_autoptr(GdkTexture) saved = NULL;
      double v_drawn, v_own;

      mirada_window_show_panel (window, i);
      wait_drawn (mirada_window_get_panel_frame (window, i));
      drawn = render_widget (mirada_window_get_panel_frame (window, i));
      v_drawn = texture_variance (drawn);

      if (i < 3)
        v_own = texture_variance (mirada_panel_get_texture (panels[i]));
      else
        v_own = v_drawn;
      g_test_message ("panel %u: variance %.1f (own picture), %.1f (drawn)", i, v_own, v_drawn);
      g_assert_cmpfloat (v_own, >, 25.0);
      g_assert_cmpfloat (v_drawn, >, 25.0);
      g_assert_true (mirada_window_export_panel (window, i, path, &error));
      g_assert_no_error (error);
      saved = gdk_texture_new_from_filename (path, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (texture_variance (saved), >, 25.0);
      g_unlink (path);
    }
  /* the Grad-CAM window crop is square: square overlays side by side, 8 px apart */
  {
    GdkTexture *t = mirada_panel_get_texture (panels[0]);
    int w = gdk_texture_get_width (t), h = gdk_texture_get_height (t);

    g_assert_cmpint (w, >, (int) n_maps * h);
    g_assert_cmpint (w, <, (int) n_maps * h + 60);
  }

  /* maximise the activations: it takes the canvas's place, then gives it back */
  {
    GtkWidget *canvas = GTK_WIDGET (mirada_window_get_canvas (window));
    GtkWidget *frame = mirada_window_get_panel_frame (window, MIRADA_PANEL_ACTIVATIONS);
    /* beside the photo or under it, as the photo's shape decides */
    double before = (double) gtk_widget_get_width (frame) * gtk_widget_get_height (frame);
    double photo = (double) gtk_widget_get_width (canvas) * gtk_widget_get_height (canvas);

    mirada_window_show_panel (window, MIRADA_PANEL_FILTERS);
    mirada_window_maximize_panel (window, MIRADA_PANEL_ACTIVATIONS);
    wait_drawn (mirada_window_get_panel_frame (window, MIRADA_PANEL_ACTIVATIONS));
    g_assert_cmpuint (mirada_window_get_visible_panel (window), ==, MIRADA_PANEL_ACTIVATIONS);
    for (guint i = 0; i < MIRADA_N_PANELS; i++)
      g_assert_true (gtk_widget_get_mapped (mirada_window_get_panel_frame (window, i)) == (i == MIRADA_PANEL_ACTIVATIONS));
    g_assert_false (gtk_widget_get_mapped (canvas));
    g_assert_cmpint (gtk_widget_get_height (mirada_window_get_panel_frame (window, MIRADA_PANEL_ACTIVATIONS)), >, 400);
    /* the photo's room is the panel's now */
    g_assert_cmpfloat ((double) gtk_widget_get_width (frame) * gtk_widget_get_height (frame), >,
                       before + 0.8 * photo);
    mirada_window_maximize_panel (window, -1);
    wait_drawn (canvas);
    g_assert_true (gtk_widget_get_mapped (canvas));
    g_assert_true (gtk_widget_get_mapped (mirada_window_get_panel_frame (window, MIRADA_PANEL_ACTIVATIONS)));
  }

  /* a layer chosen in the architecture list becomes the other panels' layer */
  for (guint i = 0; i < mir_model_get_n_nodes (model) && conv < 0; i++)
    {
      MirNode *node = mir_model_get_node (model, i);

      if (node->layer != NULL && (node->layer->klass->flags & MIR_LAYER_FLAG_CONV) && node->shape.ndim == 4 &&
          (gint) i != mirada_panel_get_layer (panels[1]))
        conv = (gint) i;
    }
  g_assert_cmpint (conv, >=, 0);
  mirada_architecture_panel_select (MIRADA_ARCHITECTURE_PANEL (mirada_window_get_architecture_panel (window)), conv);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (mirada_panel_get_layer (panels[i]), ==, conv);
  wait_until (all_explained, panels, 300, "the explanations of the new layer");

  gtk_window_destroy (GTK_WINDOW (window));
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Sweep and ground truth */

static gboolean
sweep_done (gpointer data)
{
  return !mirada_sweep_dialog_get_running (data);
}

/* A ground truth for the synthetic scene: two boxes, classes 3 and 5 by
 * index, on the window positions (row 1, col 2) and (row 2, col 5) of the
 * 64/32 grid, so that a threshold of 0 finds both. */
static char *
write_truth (const char *dir)
{
  char *path = g_build_filename (dir, "scene.json", NULL);
  const char *json = "{\"image\": \"scene.png\", \"width\": 320, \"height\": 192,\n"
                     " \"objects\": [{\"class\": 3, \"box\": [64, 32, 64, 64]},\n"
                     "             {\"class\": \"5\", \"box\": [160, 64, 64, 64]}]}\n";

  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  return path;
}

static void
test_gui_sweep_truth (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-sweep-XXXXXX", NULL);
  g_autofree char *scene_path = write_scene (dir);
  g_autofree char *truth_path = write_truth (dir);
  g_autofree char *csv_path = g_build_filename (dir, "sweep.csv", NULL);
  g_autofree char *csv = NULL;
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  g_autoptr(MirDetectTruth) truth = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  const double fe[] = { 0.0, 1.0 };
  MiradaDetectorPanel *panel;
  MiradaSweepDialog *sweep;
  MiradaWindow *window;
  MirDetectGrid *grid;
  double median;

  window = new_window ();
  panel = mirada_window_get_detector_panel (window);
  mirada_window_open_model (window, model_file);
  mirada_window_open_image (window, scene_file);
  wait_until (window_idle, window, 300, "the model, the image and the detection");
  grid = mirada_window_get_grid (window);

  /* the sibling scene.json was found and read with the model's classes */
  g_assert_nonnull (mirada_window_get_truth (window));
  truth = mir_detect_truth_load (truth_path, (const char *const *) grid->class_names, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (truth->boxes->len, ==, 2);
  g_assert_cmpuint (mirada_canvas_get_truth (mirada_window_get_canvas (window))->len, ==, 2);

  /* P/R/F1 in the sidebar = mir_detect_evaluate at several thresholds */
  {
    g_autofree float *p3 = g_new (float, mir_detect_geometry_n_windows (&grid->geom));
    guint n = mir_detect_geometry_n_windows (&grid->geom);

    for (guint i = 0; i < n; i++)
      p3[i] = mir_detect_grid_get (grid, i, 3);
    for (guint i = 1; i < n; i++)
      for (guint j = i; j > 0 && p3[j - 1] > p3[j]; j--)
        {
          float t = p3[j];
          p3[j] = p3[j - 1];
          p3[j - 1] = t;
        }
    median = p3[n / 2];
  }
  {
    const double ts[] = { 0.0, median, 1.0 };

    for (guint q = 0; q < G_N_ELEMENTS (ts); q++)
      {
        g_autoptr(MirDetectParams) params = NULL;
        g_autoptr(MirDetectResult) result = NULL;
        g_autofree char *expected = NULL;
        MirDetectEval eval = { 0 };

        set_all_thresholds (panel, ts[q]);
        params = mirada_detector_panel_dup_params (panel);
        result = mir_detect_filter (grid, params, &error);
        g_assert_no_error (error);
        mir_detect_evaluate (result, (const MirDetectTruthBox *) (void *) truth->boxes->data,
                             truth->boxes->len, 0.5, &eval);
        expected = g_strdup_printf ("Precision %.3f · Recall %.3f · F1 %.3f", eval.precision, eval.recall, eval.f1);
        g_test_message ("threshold %.4f: %u detected, %u TP: %s", ts[q], eval.n_detected, eval.true_positives,
                        mirada_detector_panel_get_evaluation_text (panel));
        g_assert_cmpstr (mirada_detector_panel_get_evaluation_text (panel), ==, expected);
        if (ts[q] == 0.0)
          g_assert_cmpuint (eval.true_positives, ==, 2);   /* every window kept, the two true ones too */
        mir_detect_eval_clear (&eval);
      }
  }
  /* the toggle hides the dashed boxes */
  g_settings_set_boolean (settings, "show-truth", FALSE);
  g_assert_null (mirada_canvas_get_truth (mirada_window_get_canvas (window)));
  g_settings_set_boolean (settings, "show-truth", TRUE);

  /* the sweep window (Ctrl+Shift+S), with method 2.2 so that fₑ matters */
  g_settings_set_string (settings, "method", "2.2");
  set_all_thresholds (panel, 0.5);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.sweep", NULL));
  sweep = MIRADA_SWEEP_DIALOG (mirada_window_get_sweep_dialog (window));
  g_assert_nonnull (sweep);
  mirada_sweep_dialog_set_range (sweep, 0.1, 0.9, 0.1, fe, G_N_ELEMENTS (fe));
  wait_until (sweep_done, sweep, 30, "the sweep");
  g_assert_cmpuint (mirada_sweep_dialog_get_n_rows (sweep), ==, 9 * 2);

  /* two settings against mir_detect_filter called directly */
  {
    const guint picks[] = { 2, 9 + 6 };

    for (guint q = 0; q < G_N_ELEMENTS (picks); q++)
      {
        const MiradaSweepRow *row = mirada_sweep_dialog_get_row (sweep, picks[q]);
        g_autoptr(MirDetectParams) params = mirada_detector_panel_dup_params (panel);
        g_autoptr(MirDetectResult) result = NULL;
        MirDetectEval eval = { 0 };

        g_assert_cmpfloat_with_epsilon (row->threshold, 0.1 * (1 + picks[q] % 9), 1e-9);
        g_assert_cmpfloat (row->exception, ==, fe[picks[q] / 9]);
        g_assert_true (params->method == MIR_DETECT_METHOD_2_2);
        for (guint k = 0; k < params->n_classes; k++)
          {
            params->classes[k].threshold = row->threshold;
            params->classes[k].exception = row->exception;
          }
        result = mir_detect_filter (grid, params, &error);
        g_assert_no_error (error);
        for (guint k = 0; k < grid->n_classes; k++)
          {
            g_assert_cmpuint (row->counts[k], ==, result->counts[k]);
            if (!isnan (result->mu[k]))
              g_assert_cmpfloat (row->mu[k], ==, result->mu[k]);
          }
        mir_detect_evaluate (result, (const MirDetectTruthBox *) (void *) truth->boxes->data,
                             truth->boxes->len, 0.5, &eval);
        g_assert_true (row->has_eval);
        g_assert_cmpfloat (row->f1, ==, eval.f1);
        g_test_message ("sweep row %u: threshold %.2f, fe %.1f, class 3 count %u, F1 %.3f", picks[q],
                        row->threshold, row->exception, row->counts[3], row->f1);
        mir_detect_eval_clear (&eval);
      }
  }
  /* the thresholds change the counts: the sweep is not one setting repeated */
  g_assert_cmpuint (mirada_sweep_dialog_get_row (sweep, 0)->counts[0] + mirada_sweep_dialog_get_row (sweep, 0)->counts[3], >,
                    mirada_sweep_dialog_get_row (sweep, 8)->counts[0] + mirada_sweep_dialog_get_row (sweep, 8)->counts[3]);

  /* CSV: a header and one line per setting */
  g_assert_true (mirada_sweep_dialog_export_csv (sweep, csv_path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  {
    g_auto(GStrv) lines = g_strsplit (g_strchomp (csv), "\n", -1);

    g_assert_cmpuint (g_strv_length (lines), ==, 1 + 9 * 2);
    g_assert_true (g_str_has_prefix (lines[0], "threshold,fe,mu("));
    g_assert_true (g_str_has_suffix (lines[0], ",precision,recall,F1"));
  }

  /* detections as JSON and CSV */
  {
    g_autofree char *json_path = g_build_filename (dir, "boxes.json", NULL);
    g_autoptr(MirDetectTruth) back = NULL;
    MirDetectResult *result = mirada_window_get_result (window);

    g_assert_true (mirada_window_export_detections (window, json_path, &error));
    g_assert_no_error (error);
    /* the JSON is in the ground-truth format: it reads back as one */
    back = mir_detect_truth_load (json_path, (const char *const *) grid->class_names, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (back->boxes->len, ==, result->boxes->len);
    g_unlink (json_path);
  }
  /* issue 22: the window's Export and `mirada detect --grid … --csv/--json`
   * on the window's own grid, settings and ground truth write the same bytes */
  for (guint f = 0; f < 2; f++)
    {
      MiradaSession *session = mirada_window_get_session (window);
      g_autofree char *path = g_build_filename (dir, f == 0 ? "boxes.csv" : "boxes.json", NULL);
      g_autofree char *grid_path = g_build_filename (dir, "grid.json", NULL);
      g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *exported = NULL, *out = NULL, *err = NULL;
      int status = -1;

      g_assert_null (mirada_session_get_scale_grids (session)); /* one scale here */
      g_assert_true (mirada_window_export_detections (window, path, &error));
      g_assert_no_error (error);
      g_assert_true (g_file_get_contents (path, &exported, NULL, NULL));
      g_assert_true (mir_detect_grid_save_json (grid, grid_path, &error));
      g_assert_no_error (error);
      g_ptr_array_add (args, g_strdup (g_getenv ("MIRADA_BINARY")));
      g_ptr_array_add (args, g_strdup ("detect"));
      g_ptr_array_add (args, g_strdup ("--grid"));
      g_ptr_array_add (args, g_strdup (grid_path));
      g_ptr_array_add (args, g_strdup (scene_path));
      g_ptr_array_add (args, g_strdup ("--truth"));
      g_ptr_array_add (args, g_strdup (truth_path));
      mir_test_detect_params_args (args, mirada_session_get_params (session));
      g_ptr_array_add (args, g_strdup (f == 0 ? "--csv" : "--json"));
      g_ptr_array_add (args, NULL);
      g_assert_nonnull (args->pdata[0]);
      g_assert_true (g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   &out, &err, &status, &error));
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, NULL))
        g_error ("mirada detect: %s", err);
      g_test_message ("export %s: %zu bytes, %u boxes, the same as mirada detect's",
                      f == 0 ? "CSV" : "JSON", strlen (exported), mirada_window_get_result (window)->boxes->len);
      g_assert_cmpuint (mirada_window_get_result (window)->boxes->len, >, 0);
      g_assert_cmpstr (out, ==, exported);
      if (f == 1)
        g_assert_nonnull (strstr (exported, "\"evaluation\""));
      g_unlink (path);
      g_unlink (grid_path);
    }

  g_settings_reset (settings, "method");
  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (csv_path);
  g_unlink (truth_path);
  g_unlink (scene_path);
  g_rmdir (dir);
}

/* Issue 17: what the window says follows what it shows.  The panels' status
 * follows the session while a model loads; the hover read-out follows a zoom
 * under a still pointer; Model Properties names the file Save writes; the
 * sweep chart has a legend and its lines stand out in dark style. */
static gboolean
status_check_until_idle (gpointer data)
{
  MiradaWindow *window = data;
  MiradaSession *session = mirada_window_get_session (window);
  MiradaPanel *panel = MIRADA_PANEL (mirada_window_get_explain_panel (window, 0));
  const char *status = mirada_panel_get_status (panel);

  /* an image is open from the start: never ask for one */
  g_assert_null (g_strstr_len (status, -1, "Open an image"));
  if (mirada_session_get_busy (session) && mirada_panel_get_input (panel) == NULL &&
      mirada_session_get_job_title (session) != NULL)
    g_assert_cmpstr (status, ==, mirada_session_get_job_title (session));
  return !mirada_window_get_busy (window) && mirada_window_get_grid (window) != NULL;
}

static double
luminance (double r, double g, double b)
{
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

static void
test_gui_issue17 (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-issue17-XXXXXX", NULL);
  g_autofree char *scene_path = write_scene (dir);
  g_autofree char *truth_path = write_truth (dir);
  g_autofree char *sidecar = NULL;
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  AdwStyleManager *style = adw_style_manager_get_default ();
  const double fe[] = { 0.5 };
  MiradaSweepDialog *sweep;
  MiradaWindow *window;
  MiradaCanvas *canvas;
  GtkWidget *props;
  MirDetectGrid *grid;
  int row0 = -1, col0 = -1, row1 = -1, col1 = -1, row2 = -1, col2 = -1;
  double px, py;

  window = new_window ();
  mirada_window_open_image (window, scene_file);
  wait_until (window_not_busy, window, 60, "the image");
  mirada_window_open_model (window, model_file);
  wait_until (status_check_until_idle, window, 300, "the model and the detection");
  grid = mirada_window_get_grid (window);
  wait_drawn (GTK_WIDGET (mirada_window_get_canvas (window)));

  /* hover: a point away from the centre, then zoom in around the centre */
  canvas = mirada_window_get_canvas (window);
  px = gtk_widget_get_width (GTK_WIDGET (canvas)) / 2.0 + 0.3 * grid->geom.image_width * mirada_canvas_get_scale (canvas);
  py = gtk_widget_get_height (GTK_WIDGET (canvas)) / 2.0 + 0.25 * grid->geom.image_height * mirada_canvas_get_scale (canvas);
  mirada_canvas_pointer_moved (canvas, px, py);
  g_assert_true (mirada_canvas_get_hover (canvas, &row0, &col0));
  mirada_canvas_zoom_in (canvas);
  mirada_canvas_zoom_in (canvas);
  if (mirada_canvas_get_hover (canvas, &row1, &col1))
    {
      /* what a motion to the same spot now finds */
      mirada_canvas_pointer_moved (canvas, px, py);
      g_assert_true (mirada_canvas_get_hover (canvas, &row2, &col2));
      g_assert_cmpint (row1, ==, row2);
      g_assert_cmpint (col1, ==, col2);
      g_test_message ("hover (%d, %d) before the zoom, (%d, %d) after", row0, col0, row1, col1);
      g_assert_true (row1 != row0 || col1 != col0);
    }
  else
    {
      /* the pointer left the grid: the read-out is gone, not stale */
      mirada_canvas_pointer_moved (canvas, px, py);
      g_assert_false (mirada_canvas_get_hover (canvas, &row2, &col2));
    }
  mirada_canvas_zoom_fit (canvas);

  /* Model Properties says where Save writes, before saving */
  sidecar = mirada_window_dup_sidecar_path (window);
  g_assert_nonnull (sidecar);
  props = mirada_model_properties_new (window);
  {
    g_autofree char *display = g_filename_display_name (sidecar);
    const char *where = mirada_model_properties_get_destination (MIRADA_MODEL_PROPERTIES (props));

    g_test_message ("Model Properties: %s", where);
    g_assert_nonnull (g_strstr_len (where, -1, display));
    g_assert_false (g_file_test (sidecar, G_FILE_TEST_EXISTS));
  }
  gtk_window_destroy (GTK_WINDOW (props));

  /* the sweep chart in dark style: a legend, lines that stand out */
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.sweep", NULL));
  sweep = MIRADA_SWEEP_DIALOG (mirada_window_get_sweep_dialog (window));
  mirada_sweep_dialog_set_range (sweep, 0.05, 0.95, 0.05, fe, G_N_ELEMENTS (fe));
  wait_until (sweep_done, sweep, 30, "the sweep");
  wait_until (widget_mapped, sweep, 20, "the sweep window");
  wait_drawn (GTK_WIDGET (sweep));
  {
    g_auto(GStrv) legend = mirada_sweep_dialog_dup_legend (sweep);
    GArray *classes = mirada_sweep_dialog_get_classes (sweep);
    g_autoptr(GdkTexture) shot = render_widget (GTK_WIDGET (sweep));
    const char *keep = g_getenv ("MIRADA_TEST_SCREENSHOT_DIR");
    int w = gdk_texture_get_width (shot), h = gdk_texture_get_height (shot);
    g_autofree guint8 *data = g_malloc ((gsize) w * h * 4);
    double bg;
    guint n_bright = 0;

    g_assert_true (adw_style_manager_get_dark (style));
    g_assert_cmpuint (g_strv_length (legend), ==, classes->len + 1); /* the classes and F1 */
    for (guint j = 0; j < classes->len; j++)
      g_assert_cmpstr (legend[j], ==, grid->class_names[g_array_index (classes, guint, j)]);
    if (keep != NULL)
      {
        g_autofree char *path = g_build_filename (keep, "sweep-dark.png", NULL);

        gdk_texture_save_to_png (shot, path);
      }
    /* the second class's colour, pure blue on the canvas, on a dark
     * background: its line is drawn lighter, with a clear contrast */
    gdk_texture_download (shot, data, (gsize) w * 4);
    bg = luminance (data[(gsize) (h - 4) * w * 4 + 4 * 4 + 2] / 255.0,
                    data[(gsize) (h - 4) * w * 4 + 4 * 4 + 1] / 255.0,
                    data[(gsize) (h - 4) * w * 4 + 4 * 4 + 0] / 255.0);
    g_assert_cmpfloat (bg, <, 0.3);
    for (gsize i = 0; i < (gsize) w * h; i++)
      {
        const guint8 *p = data + i * 4;

        /* bluish, and much lighter than pure blue */
        if (p[0] > 200 && p[0] > p[2] + 40 && luminance (p[2] / 255.0, p[1] / 255.0, p[0] / 255.0) > bg + 0.25)
          n_bright++;
      }
    g_test_message ("dark sweep chart: background luminance %.2f, %u light-blue pixels", bg, n_bright);
    g_assert_cmpuint (n_bright, >, 24);
  }
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_DEFAULT);

  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (truth_path);
  g_unlink (scene_path);
  g_rmdir (dir);
}


/* ------------------------------------------------------------------ */
/* The probability field (issue 18): the class's Field toggle draws it,
 * turning it off gives back the same pixels, and moving the threshold
 * moves the contour: the pixels that change lie on the contours of the two
 * thresholds (the engine's marching squares at each, in widget pixels), and
 * the new contour's pixels did change.  Class 0 is not looked for (its
 * boxes would change too) and every other class is off: only the contour
 * can move. */
static guint
count_changed (GdkTexture *a, GdkTexture *b, guint8 **mask)
{
  int w = gdk_texture_get_width (a), h = gdk_texture_get_height (a);
  g_autofree guint8 *pa = g_malloc ((gsize) w * h * 4);
  g_autofree guint8 *pb = g_malloc ((gsize) w * h * 4);
  guint n = 0;

  g_assert_cmpint (gdk_texture_get_width (b), ==, w);
  g_assert_cmpint (gdk_texture_get_height (b), ==, h);
  gdk_texture_download (a, pa, (gsize) w * 4);
  gdk_texture_download (b, pb, (gsize) w * 4);
  if (mask)
    *mask = g_malloc0 ((gsize) w * h);
  for (gsize i = 0; i < (gsize) w * h; i++)
    if (memcmp (pa + i * 4, pb + i * 4, 4) != 0)
      {
        n++;
        if (mask)
          (*mask)[i] = 1;
      }
  return n;
}

/* Distance from (x, y) to the nearest segment of @contour (image
 * coordinates, drawn at @scale + (@ox, @oy)). */
static double
contour_distance (GArray *contour, double scale, double ox, double oy, double x, double y)
{
  double best = G_MAXDOUBLE;

  for (guint i = 0; i < contour->len; i++)
    {
      const MirDetectSegment *s_seg = &g_array_index (contour, MirDetectSegment, i);
      const double s[4] = { s_seg->x0, s_seg->y0, s_seg->x1, s_seg->y1 };
      double ax = ox + s[0] * scale, ay = oy + s[1] * scale;
      double bx = ox + s[2] * scale, by = oy + s[3] * scale;
      double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
      double t = len2 > 0 ? CLAMP (((x - ax) * dx + (y - ay) * dy) / len2, 0, 1) : 0;

      best = MIN (best, hypot (x - (ax + t * dx), y - (ay + t * dy)));
    }
  return best;
}

/* The widget once its size has stopped changing (a banner or a toast
 * sliding in moves the canvas for a few frames): the same size in six
 * frames running. */
static GdkTexture *
render_settled (GtkWidget *widget)
{
  GdkTexture *texture = render_widget (widget);

  for (int i = 0, same = 0; i < 300 && same < 5; i++)
    {
      GdkTexture *next = render_widget (widget);

      if (gdk_texture_get_width (next) == gdk_texture_get_width (texture) &&
          gdk_texture_get_height (next) == gdk_texture_get_height (texture))
        same++;
      else
        same = 0;
      g_object_unref (texture);
      texture = next;
    }
  return texture;
}

static void
test_gui_field (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-field-XXXXXX", NULL);
  g_autofree char *scene_path = write_scene (dir);
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  g_autoptr(GdkTexture) off = NULL;
  g_autoptr(GdkTexture) on1 = NULL;
  g_autoptr(GdkTexture) on2 = NULL;
  g_autoptr(GdkTexture) off_again = NULL;
  g_autoptr(GArray) contour1 = NULL;
  g_autoptr(GArray) contour2 = NULL;
  g_autofree guint8 *moved = NULL;
  g_autofree float *sorted = NULL;
  MiradaDetectorPanel *panel;
  MiradaCanvas *canvas;
  MiradaWindow *window;
  MirDetectGrid *grid;
  double t1, t2, scale, ox, oy;
  guint n_windows, n_changed, n_stray = 0, n_on_new = 0, n_new_checked = 0;
  int w, h;

  window = new_window ();
  panel = mirada_window_get_detector_panel (window);
  canvas = mirada_window_get_canvas (window);
  mirada_window_open_model (window, model_file);
  mirada_window_open_image (window, scene_file);
  wait_until (window_idle, window, 300, "the model, the image and the detection");
  grid = mirada_window_get_grid (window);
  n_windows = mir_detect_geometry_n_windows (&grid->geom);

  /* two thresholds between the 30th and the 70th percentile of class 0 */
  sorted = g_new (float, n_windows);
  for (guint n = 0; n < n_windows; n++)
    sorted[n] = mir_detect_grid_get (grid, n, 0);
  for (guint i = 1; i < n_windows; i++)
    for (guint j = i; j > 0 && sorted[j - 1] > sorted[j]; j--)
      {
        float t = sorted[j];
        sorted[j] = sorted[j - 1];
        sorted[j - 1] = t;
      }
  t1 = (sorted[n_windows * 3 / 10] + sorted[n_windows * 3 / 10 + 1]) / 2.0;
  t2 = (sorted[n_windows * 7 / 10] + sorted[n_windows * 7 / 10 + 1]) / 2.0;
  g_test_message ("class 0: thresholds %.6g and %.6g", t1, t2);
  g_assert_cmpfloat (t1, <, t2);

  for (guint k = 0; k < mirada_detector_panel_get_n_classes (panel); k++)
    mirada_detector_panel_set_enabled (panel, k, FALSE);
  gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, 0), t1);
  t1 = mirada_session_get_params (mirada_window_get_session (window))->classes[0].threshold;
  g_assert_cmpuint (mirada_window_get_result (window)->boxes->len, ==, 0);
  /* no hover read-out: its text would change with the threshold */
  mirada_canvas_pointer_moved (canvas, -100, -100);
  off = render_settled (GTK_WIDGET (canvas));
  g_assert_cmpuint (mirada_canvas_get_n_fields (canvas), ==, 0);

  gtk_toggle_button_set_active (mirada_detector_panel_get_field_toggle (panel, 0), TRUE);
  g_assert_true (mirada_session_get_field_shown (mirada_window_get_session (window), 0));
  g_assert_cmpuint (mirada_canvas_get_n_fields (canvas), ==, 1);
  on1 = render_settled (GTK_WIDGET (canvas));
  n_changed = count_changed (off, on1, NULL);
  g_test_message ("field on: %u pixels changed", n_changed);
  g_assert_cmpuint (n_changed, >, 1000);

  gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, 0), t2);
  on2 = render_settled (GTK_WIDGET (canvas));
  n_changed = count_changed (on1, on2, &moved);

  /* where the contours are drawn: the canvas fits the image, centred */
  w = gdk_texture_get_width (on1);
  h = gdk_texture_get_height (on1);
  scale = mirada_canvas_get_scale (canvas);
  ox = floor ((w - grid->geom.image_width * scale) / 2);
  oy = floor ((h - grid->geom.image_height * scale) / 2);
  {
    g_autoptr(MirDetectParams) params = mir_detect_params_copy (mirada_session_get_params (mirada_window_get_session (window)));
    g_autoptr(MirDetectField) f1 = NULL;
    g_autoptr(MirDetectField) f2 = NULL;

    /* what the session filters with: the slider's value */
    g_assert_cmpfloat_with_epsilon (params->classes[0].threshold, t2, 1e-3);
    t2 = params->classes[0].threshold;
    f2 = mir_detect_field_new (grid, params, 0, NULL);
    params->classes[0].threshold = t1;
    f1 = mir_detect_field_new (grid, params, 0, NULL);
    contour1 = mir_detect_field_contour (f1, t1);
    contour2 = mir_detect_field_contour (f2, t2);
  }
  g_assert_cmpuint (contour1->len, >, 0);
  g_assert_cmpuint (contour2->len, >, 0);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (moved[(gsize) y * w + x])
        {
          double d = MIN (contour_distance (contour1, scale, ox, oy, x + 0.5, y + 0.5),
                          contour_distance (contour2, scale, ox, oy, x + 0.5, y + 0.5));
          /* a 2 px line on a 1 px black edge each side, round caps, antialiased */
          if (d > 3.5 && n_stray++ < 5)
            g_test_message ("changed pixel (%d, %d) is %.1f px from both contours", x, y, d);
        }
  /* the new contour's midpoints (away from the old one) changed */
  for (guint i = 0; i < contour2->len; i++)
    {
      const MirDetectSegment *s_seg = &g_array_index (contour2, MirDetectSegment, i);
      const double s[4] = { s_seg->x0, s_seg->y0, s_seg->x1, s_seg->y1 };
      double x = ox + (s[0] + s[2]) / 2 * scale, y = oy + (s[1] + s[3]) / 2 * scale;
      int ix = (int) floor (x), iy = (int) floor (y);

      if (ix < 0 || iy < 0 || ix >= w || iy >= h ||
          contour_distance (contour1, scale, ox, oy, x, y) < 6)
        continue;
      n_new_checked++;
      n_on_new += moved[(gsize) iy * w + ix];
    }
  g_test_message ("canvas %dx%d, scale %.4g, origin (%.0f, %.0f), presentation %d, method %s",
                  w, h, scale, ox, oy, mirada_canvas_get_presentation (canvas),
                  mir_detect_method_to_string (mirada_session_get_params (mirada_window_get_session (window))->method));
  g_test_message ("threshold %.4g -> %.4g: %u pixels changed, %u farther than 3.5 px from "
                  "both contours; %u of %u midpoints of the new contour changed",
                  t1, t2, n_changed, n_stray, n_on_new, n_new_checked);
  /* pictures to look at: the canvas at both thresholds, the sidebar's classes */
  {
    g_autofree char *shot1 = g_test_build_filename (G_TEST_BUILT, "field-threshold-1.png", NULL);
    g_autofree char *shot2 = g_test_build_filename (G_TEST_BUILT, "field-threshold-2.png", NULL);
    g_autofree char *shot3 = g_test_build_filename (G_TEST_BUILT, "field-panel.png", NULL);
    g_autoptr(GdkTexture) sidebar = render_widget (GTK_WIDGET (panel));

    g_assert_true (gdk_texture_save_to_png (on1, shot1));
    g_assert_true (gdk_texture_save_to_png (on2, shot2));
    g_assert_true (gdk_texture_save_to_png (sidebar, shot3));
    g_test_message ("pictures: %s, %s, %s", shot1, shot2, shot3);
  }
  g_assert_cmpuint (n_changed, >, 50);
  g_assert_cmpuint (n_stray, ==, 0);
  g_assert_cmpuint (n_new_checked, >, 0);
  g_assert_cmpuint (n_on_new, ==, n_new_checked);

  /* the hover shows the equations with the numbers in */
  {
    g_autofree char *text = mirada_canvas_describe_window (canvas, 0, 0);

    g_assert_nonnull (strstr (text, "Filter 1: P = "));
  }
  /* a picture of it: the pointer over window (1, 1) */
  {
    g_autofree char *shot = g_test_build_filename (G_TEST_BUILT, "field-hover.png", NULL);
    g_autoptr(GdkTexture) hover = NULL;
    double cx = ox + (grid->geom.stride + grid->geom.window / 2.0) * scale;
    double cy = oy + (grid->geom.stride + grid->geom.window / 2.0) * scale;
    int row = -1, col = -1;

    mirada_canvas_pointer_moved (canvas, cx, cy);
    g_assert_true (mirada_canvas_get_hover (canvas, &row, &col));
    g_assert_cmpint (row, ==, 1);
    g_assert_cmpint (col, ==, 1);
    hover = render_settled (GTK_WIDGET (canvas));
    g_assert_true (gdk_texture_save_to_png (hover, shot));
    mirada_canvas_pointer_moved (canvas, -100, -100);
  }

  /* off again: the canvas as it was */
  gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, 0), t1);
  gtk_toggle_button_set_active (mirada_detector_panel_get_field_toggle (panel, 0), FALSE);
  g_assert_cmpuint (mirada_canvas_get_n_fields (canvas), ==, 0);
  off_again = render_settled (GTK_WIDGET (canvas));
  g_assert_cmpuint (count_changed (off, off_again, NULL), ==, 0);

  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (scene_path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Main-loop watchdog.  A gap is the wall time between two 1 ms ticks minus
 * the time the main thread sat runnable in the kernel's run queue waiting for
 * a core (/proc/thread-self/schedstat, 2nd field), and minus the same wait of
 * the X server: drawing a frame waits for Xvfb's replies (the main thread
 * then sleeps in poll), and on a busy machine Xvfb in turn waits for a core,
 * tens of milliseconds a round trip.  Other processes on a busy machine then
 * do not count, while the main thread computing or blocked on a lock still
 * does.  The raw wall gap is reported beside it. */

typedef struct
{
  gint64 start;
  gint64 last;
  gint64 last_wait;  /* run-queue wait at the last tick, µs */
  gint64 worst;
  gint64 worst_raw;
  gint64 worst_at;  /* since start */
  guint ticks;
  guint n_over_16ms;
} Watchdog;

static gint64
runqueue_wait_us (const char *schedstat)
{
  g_autofree char *text = NULL;
  guint64 on_cpu = 0, waiting = 0;

  if (schedstat == NULL || !g_file_get_contents (schedstat, &text, NULL, NULL) ||
      sscanf (text, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &on_cpu, &waiting) != 2)
    return 0;  /* no schedstat: raw wall gaps */
  return (gint64) (waiting / 1000);
}

/* /proc/PID/schedstat of the Xvfb serving $DISPLAY (xvfb-run starts it as
 * "Xvfb :N ..."), or NULL. */
static char *
find_xserver_schedstat (void)
{
  const char *display = g_getenv ("DISPLAY");
  GDir *proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  char *found = NULL;

  while (display != NULL && proc != NULL && found == NULL && (name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *cmdline = NULL;
      gsize len = 0;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_build_filename ("/proc", name, "cmdline", NULL);
      /* argv[0] NUL argv[1] NUL ... */
      if (g_file_get_contents (path, &cmdline, &len, NULL) && g_str_has_suffix (cmdline, "Xvfb") &&
          strlen (cmdline) + 1 < len && g_str_equal (cmdline + strlen (cmdline) + 1, display))
        found = g_build_filename ("/proc", name, "schedstat", NULL);
    }
  if (proc != NULL)
    g_dir_close (proc);
  return found;
}

static char *xserver_schedstat;

static gboolean
watchdog_tick (gpointer data)
{
  Watchdog *w = data;
  gint64 now = g_get_monotonic_time ();
  gint64 wait = runqueue_wait_us ("/proc/thread-self/schedstat") + runqueue_wait_us (xserver_schedstat);

  if (w->last != 0)
    {
      gint64 raw = now - w->last;
      gint64 gap = raw - (wait - w->last_wait);

      w->worst_raw = MAX (w->worst_raw, raw);
      if (gap > w->worst)
        {
          w->worst = gap;
          w->worst_at = now - w->start;
        }
      if (gap > 16000)
        w->n_over_16ms++;
    }
  w->last = now;
  w->last_wait = wait;
  w->ticks++;
  return G_SOURCE_CONTINUE;
}

static gint sleepy_stop;
static MirDetectGrid *
sleepy_classify (MirModel                *model,
                 const MirImage          *image,
                 const MirDetectGeometry *geom,
                 MirDetectProgressFunc    progress,
                 gpointer                 progress_data,
                 GCancellable            *cancellable,
                 gpointer                 user_data,
                 GError                 **error)
{
  guint n = mir_detect_geometry_n_windows (geom);
  g_autofree float *probs = g_new (float, n * 2);

  /* "work" with progress every 10 ms and a busy CPU meanwhile, until the
   * test has watched 1.5 s of it (sleepy_stop; at most 60 s): a fixed 1.5 s
   * could end before the window's first frame on a loaded machine */
  for (guint step = 0; step < 6000 && !g_atomic_int_get (&sleepy_stop); step++)
    {
      gint64 until = g_get_monotonic_time () + 10000;
      volatile double x = 0;

      while (g_get_monotonic_time () < until)
        x += 1.0;
      (void) x;
      progress (MIN (step + 1, 150), 150, progress_data);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      probs[2 * i] = (float) i / n;
      probs[2 * i + 1] = 1.0f - (float) i / n;
    }
  return mir_detect_grid_new (geom, 2, NULL, MIR_HEAD_SOFTMAX, probs, error);
}

static gboolean
stop_sleepy (gpointer data)
{
  g_atomic_int_set (&sleepy_stop, 1);
  return G_SOURCE_REMOVE;
}

/* The longest main-loop gap while the detection runs, in ms; -1 when the
 * detection was over before the window's first frame (nothing to watch). */
static double
watch_detection (MiradaWindow *window, MirModel *model, MirImage *image)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (window));
  Watchdog w = { 0 };
  gboolean painted = FALSE;
  gint64 t0 = g_get_monotonic_time ();
  gulong handler;
  guint id;

  /* Setting the model rebuilds the class rows and the architecture list;
   * the first frame lays them out (UI work, reported apart).  The watchdog
   * then covers the job itself. */
  mirada_window_set_model (window, model);
  mirada_window_set_image (window, image);
  g_assert_true (mirada_window_get_busy (window));
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &painted);
  gtk_widget_queue_draw (GTK_WIDGET (window));
  wait_until (flag_set, &painted, 20, "a frame");
  g_signal_handler_disconnect (clock, handler);
  g_test_message ("model + image set and first frame painted in %.1f ms",
                  (g_get_monotonic_time () - t0) / 1000.0);
  if (!mirada_window_get_busy (window))
    {
      g_test_message ("the detection ended before the first frame: nothing to watch");
      return -1;
    }
  g_timeout_add (1500, stop_sleepy, NULL);

  /* 1 ms ticks at default priority, like the frame clock's work */
  w.start = g_get_monotonic_time ();
  id = g_timeout_add (1, watchdog_tick, &w);
  wait_until (window_idle, window, 300, "the detection");
  g_source_remove (id);
  g_test_message ("%u main-loop ticks in %.2f s, %u gaps over 16 ms, longest gap %.1f ms at %.0f ms "
                  "(%.1f ms of wall time with the main thread's and the X server's waits for a core)",
                  w.ticks, (g_get_monotonic_time () - w.start) / 1e6, w.n_over_16ms,
                  w.worst / 1000.0, w.worst_at / 1000.0, w.worst_raw / 1000.0);
  return w.worst / 1000.0;
}

static void
test_gui_watchdog (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) error = NULL;
  /* 50 ms, times the sanitizers' factor (tests/meson.build) */
  const char *scale_env = g_getenv ("MIRADA_TEST_WATCHDOG_SCALE");
  double limit = 50.0 * (scale_env != NULL ? g_ascii_strtod (scale_env, NULL) : 1.0);
  MiradaWindow *window;
  double gap_fake, gap_real;

  model = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mir_image_new (640, 384, 3, &error);
  g_assert_no_error (error);
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width * 3; x++)
      image->pixels[y * image->rowstride + x] = (guint8) ((x * 7 + y * 3) & 0xff);

  window = new_window ();
  xserver_schedstat = find_xserver_schedstat ();
  g_test_message ("X server's scheduler statistics: %s", xserver_schedstat != NULL ? xserver_schedstat : "not found");

  /* a fake job that keeps one core busy on the worker, watched 1.5 s */
  g_atomic_int_set (&sleepy_stop, 0);
  mirada_window_set_classifier (window, sleepy_classify);
  gap_fake = watch_detection (window, model, image);
  g_assert_cmpfloat (gap_fake, >=, 0);  /* it runs until told to stop */
  g_assert_cmpfloat (gap_fake, <, limit);

  /* the real detector (OpenBLAS on every core) over 11×19 windows */
  mirada_window_set_classifier (window, NULL);
  gap_real = watch_detection (window, model, image);
  g_test_message ("longest main-loop gap: fake job %.1f ms, real detection %.1f ms (limit %.0f ms)",
                  gap_fake, gap_real, limit);
  /* -1: the real detection was faster than the first frame (a loaded
   * machine painting slowly); the fake job above was watched regardless */
  g_assert_cmpfloat (gap_real, <, limit);

  g_clear_pointer (&xserver_schedstat, g_free);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ------------------------------------------------------------------ */
/* Hover, model properties, recent files, paste */


/* The 3×3 mean of class @k around (@row, @col), positions outside the grid
 * counting as @fe: equation 2 written out again, independently of the engine. */
static double
mean_by_hand (MirDetectGrid *grid, guint k, int row, int col, double fe)
{
  double sum = 0;

  for (int i = row - 1; i <= row + 1; i++)
    for (int j = col - 1; j <= col + 1; j++)
      if (i < 0 || j < 0 || i >= grid->geom.rows || j >= grid->geom.cols)
        sum += fe;
      else
        sum += mir_detect_grid_get (grid, (guint) (i * grid->geom.cols + j), k);
  return sum / 9;
}

static void
check_hover_text (MiradaWindow *window, MirDetectGrid *grid, int row, int col, double fe)
{
  g_autofree char *text = mirada_canvas_describe_window (mirada_window_get_canvas (window), row, col);
  guint n = (guint) (row * grid->geom.cols + col);

  g_test_message ("hover (%d, %d):\n%s", row, col, text);
  for (guint k = 0; k < grid->n_classes; k++)
    {
      g_autofree char *line = g_strdup_printf ("\n%s: %.4f · %.4f\n", grid->class_names[k],
                                               mir_detect_grid_get (grid, n, k),
                                               mean_by_hand (grid, k, row, col, fe));
      g_autofree char *padded = g_strconcat (text, "\n", NULL);

      if (strstr (padded, line) == NULL)
        g_error ("hover text lacks “%s”", g_strstrip (g_strdup (line)));
    }
}

static gboolean
grid_width_is (gpointer data)
{
  MiradaWindow *window = ((gpointer *) data)[0];
  int width = GPOINTER_TO_INT (((gpointer *) data)[1]);
  MirDetectGrid *grid = mirada_window_get_grid (window);

  return !mirada_window_get_busy (window) && grid != NULL && grid->geom.image_width == width;
}

static gboolean
recent_filled (gpointer data)
{
  MiradaWindow *window = data;

  return g_menu_model_get_n_items (mirada_window_get_recent_menu (window, 0)) > 0 &&
         g_menu_model_get_n_items (mirada_window_get_recent_menu (window, 1)) > 0;
}

typedef struct
{
  MiradaWindow *window;
  const char *model_uri, *scene_uri;
} RecentWant;

static char *recent_target (MiradaWindow *window, guint section);

/* GtkRecentManager writes and re-reads its file in idles: the menus show
 * this test's files first only once that happened (files of earlier tests
 * are in the list already, so "not empty" is not enough) */
static gboolean
recent_first (gpointer data)
{
  RecentWant *w = data;
  g_autofree char *model = NULL, *scene = NULL;

  if (!recent_filled (w->window))
    return FALSE;
  model = recent_target (w->window, 0);
  scene = recent_target (w->window, 1);
  return g_str_equal (model, w->model_uri) && g_str_equal (scene, w->scene_uri);
}

static char *
recent_target (MiradaWindow *window, guint section)
{
  g_autoptr(GVariant) target = g_menu_model_get_item_attribute_value (
    mirada_window_get_recent_menu (window, section), 0, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_STRING);

  g_assert_nonnull (target);
  return g_variant_dup_string (target, NULL);
}

static void
test_gui_model_tools (void)
{
  static const char *const cifar[] = { "airplane", "automobile", "bird", "cat", "deer", "dog",
                                       "frog", "horse", "ship", "truck", NULL };
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-gui-XXXXXX", NULL);
  g_autofree char *model_path = g_build_filename (dir, "cifar.h5", NULL);
  g_autofree char *sidecar = g_build_filename (dir, "cifar.mirada.json", NULL);
  g_autofree char *scene_path = write_scene (dir);
  g_autofree char *names_text = g_strjoinv ("\n", (char **) cifar);
  g_autofree char *model_uri = NULL, *scene_uri = NULL, *got_uri = NULL;
  g_autoptr(GFile) fixture_file = g_file_new_for_path (fixture);
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autoptr(MirDetectGrid) old_grid = NULL;
  g_autoptr(MirDetectGrid) direct = NULL;
  g_autoptr(MirModel) reloaded = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) error = NULL;
  MirModelMeta meta = { 0 };
  MiradaDetectorPanel *panel;
  MiradaModelProperties *dialog;
  MiradaWindow *window;
  MirModel *model;
  MirDetectGrid *grid;
  MirPreprocessMode new_mode;
  GtkWidget *canvas;
  double scale, max_diff = 0;
  int row = -1, col = -1;

  g_assert_true (g_file_copy (fixture_file, model_file, G_FILE_COPY_NONE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_settings_set_string (settings, "method", "2.2");
  g_settings_set_int (settings, "radius", 1);
  g_settings_set_boolean (settings, "notebook-compat", FALSE);

  window = new_window ();
  panel = mirada_window_get_detector_panel (window);
  mirada_window_open_model (window, model_file);
  mirada_window_open_image (window, scene_file);
  wait_until (window_idle, window, 300, "the model, the image and the detection");
  grid = mirada_window_get_grid (window);
  for (guint k = 0; k < mirada_detector_panel_get_n_classes (panel); k++)
    gtk_adjustment_set_value (mirada_detector_panel_get_exception_adjustment (panel, k), 0.3);
  wait_drawn (GTK_WIDGET (mirada_window_get_canvas (window)));

  /* hover: a pointer over image point (10, 10) lies in window (0, 0) only;
   * the canvas fits the image centred, so the image centre is the widget's */
  canvas = GTK_WIDGET (mirada_window_get_canvas (window));
  scale = mirada_canvas_get_scale (MIRADA_CANVAS (canvas));
  g_signal_emit_by_name (find_controller (canvas, GTK_TYPE_EVENT_CONTROLLER_MOTION), "motion",
                         gtk_widget_get_width (canvas) / 2.0 + (10 - 160) * scale,
                         gtk_widget_get_height (canvas) / 2.0 + (10 - 96) * scale);
  g_assert_true (mirada_canvas_get_hover (MIRADA_CANVAS (canvas), &row, &col));
  g_assert_cmpint (row, ==, 0);
  g_assert_cmpint (col, ==, 0);
  check_hover_text (window, grid, 0, 0, 0.3);   /* five neighbours outside: f_e */
  check_hover_text (window, grid, 2, 4, 0.3);   /* inside */
  check_hover_text (window, grid, 4, 8, 0.3);   /* bottom-right corner */

  /* model properties: new preprocessing, resizing and class names */
  model = mirada_window_get_model (window);
  old_grid = mir_detect_grid_ref (grid);
  new_mode = model->meta.preprocess == MIR_PREPROCESS_TF ? MIR_PREPROCESS_SCALE : MIR_PREPROCESS_TF;
  dialog = MIRADA_MODEL_PROPERTIES (mirada_model_properties_new (window));
  gtk_window_present (GTK_WINDOW (dialog));

  /* a wrong number of names is refused, and nothing changes */
  mirada_model_properties_set_class_names (dialog, "cat\ndog\n");
  g_assert_false (mirada_model_properties_save (dialog, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (mirada_window_get_model (window) == model);
  g_assert_false (g_file_test (sidecar, G_FILE_TEST_EXISTS));

  /* a sidecar that cannot be written (a folder in its place): an error, no change */
  g_assert_cmpint (g_mkdir (sidecar, 0700), ==, 0);
  mirada_model_properties_set_class_names (dialog, names_text);
  mirada_model_properties_set_preprocess (dialog, new_mode);
  mirada_model_properties_set_resize (dialog, MIR_RESIZE_BILINEAR);
  g_assert_false (mirada_model_properties_save (dialog, &error));
  g_assert_nonnull (error);
  g_test_message ("unwritable sidecar: %s", error->message);
  g_clear_error (&error);
  g_assert_true (mirada_window_get_model (window) == model);
  g_assert_cmpint (g_rmdir (sidecar), ==, 0);

  g_assert_true (mirada_model_properties_save (dialog, &error));
  g_assert_no_error (error);
  gtk_window_destroy (GTK_WINDOW (dialog));
  wait_until (window_idle, window, 300, "the detection with the new preprocessing");
  model = mirada_window_get_model (window);
  grid = mirada_window_get_grid (window);
  g_assert_cmpint (model->meta.preprocess, ==, new_mode);
  g_assert_cmpint (model->meta.resize, ==, MIR_RESIZE_BILINEAR);
  g_assert_true (g_strv_equal ((const char *const *) model->meta.class_names, cifar));
  g_assert_cmpstr (grid->class_names[3], ==, "cat");
  g_assert_true (grid != old_grid);

  /* the sidecar on disk holds the same, and reopening the file from disk
   * gives the grid the re-applied model gave */
  g_assert_true (mir_sidecar_load (sidecar, &meta, &error));
  g_assert_no_error (error);
  g_assert_cmpint (meta.preprocess, ==, new_mode);
  g_assert_cmpint (meta.resize, ==, MIR_RESIZE_BILINEAR);
  g_assert_true (g_strv_equal ((const char *const *) meta.class_names, cifar));
  mir_model_meta_clear (&meta);
  reloaded = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reloaded->meta.preprocess, ==, new_mode);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);
  direct = mir_detect_classify (reloaded, image, &grid->geom, 0, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < (gsize) mir_detect_geometry_n_windows (&grid->geom) * grid->n_classes; i++)
    {
      g_assert_cmpfloat_with_epsilon (grid->probs[i], direct->probs[i], 1e-5);
      max_diff = MAX (max_diff, fabs (grid->probs[i] - old_grid->probs[i]));
    }
  g_test_message ("largest change of a probability with the new preprocessing: %.4g", max_diff);
  g_assert_cmpfloat (max_diff, >, 1e-3);

  /* recent files: the model under Models, the scene under Images */
  model_uri = g_file_get_uri (model_file);
  scene_uri = g_file_get_uri (scene_file);
  {
    RecentWant want = { window, model_uri, scene_uri };

    wait_until (recent_first, &want, 20, "this test's files first in the recent-files menus");
  }
  got_uri = recent_target (window, 0);
  g_assert_cmpstr (got_uri, ==, model_uri);
  g_free (got_uri);
  got_uri = recent_target (window, 1);
  g_assert_cmpstr (got_uri, ==, scene_uri);

  /* paste: a 200×160 picture put on the clipboard opens as the image */
  {
    cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 200, 160);
    cairo_t *cr = cairo_create (surface);
    g_autofree char *png = g_build_filename (dir, "paste.png", NULL);
    g_autoptr(GdkTexture) pasted = NULL;
    g_autofree guint8 *want = g_malloc (200 * 160 * 4);
    g_autofree guint8 *got = g_malloc (200 * 160 * 4);
    gpointer args[2] = { window, GINT_TO_POINTER (200) };
    GdkTexture *shown;

    cairo_set_source_rgb (cr, 0.2, 0.5, 0.8);
    cairo_paint (cr);
    cairo_set_source_rgb (cr, 0.9, 0.3, 0.1);
    cairo_rectangle (cr, 40, 30, 90, 70);
    cairo_fill (cr);
    g_assert_cmpint (cairo_surface_write_to_png (surface, png), ==, CAIRO_STATUS_SUCCESS);
    cairo_destroy (cr);
    cairo_surface_destroy (surface);
    pasted = gdk_texture_new_from_filename (png, &error);
    g_assert_no_error (error);

    gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (window)), pasted);
    gtk_widget_grab_focus (canvas);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.paste", NULL));
    wait_until (grid_width_is, args, 300, "the pasted image's detection");
    g_assert_cmpint (mirada_window_get_grid (window)->geom.image_height, ==, 160);
    shown = mirada_canvas_get_texture (MIRADA_CANVAS (canvas));
    g_assert_cmpint (gdk_texture_get_width (shown), ==, 200);
    gdk_texture_download (pasted, want, 200 * 4);
    gdk_texture_download (shown, got, 200 * 4);
    g_assert_cmpmem (want, 200 * 160 * 4, got, 200 * 160 * 4);
    g_unlink (png);
  }

  gtk_window_destroy (GTK_WINDOW (window));
  g_unlink (sidecar);
  g_unlink (model_path);
  g_unlink (scene_path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Shortcuts, keyboard navigation, names of icon-only buttons */

static void
check_icon_buttons (GtkWidget *widget, guint *n_checked)
{
  /* GTK's own parts (minimise/close, spin arrows) are named by GTK */
  if (GTK_IS_WINDOW_CONTROLS (widget) || GTK_IS_SPIN_BUTTON (widget))
    return;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    check_icon_buttons (child, n_checked);
  if ((GTK_IS_BUTTON (widget) && GTK_IS_IMAGE (gtk_button_get_child (GTK_BUTTON (widget)))) ||
      (GTK_IS_MENU_BUTTON (widget) && gtk_menu_button_get_icon_name (GTK_MENU_BUTTON (widget)) != NULL))
    {
      /* an icon alone says nothing to a new user: every one explains itself */
      if (gtk_widget_get_tooltip_text (widget) == NULL)
        {
          GString *path = g_string_new (NULL);

          for (GtkWidget *w = widget; w != NULL; w = gtk_widget_get_parent (w))
            g_string_append_printf (path, " < %s.%s", G_OBJECT_TYPE_NAME (w), gtk_widget_get_css_name (w));
          g_error ("an icon-only button has no tooltip:%s", path->str);
        }
      (*n_checked)++;
    }
}

static void
test_gui_keyboard (void)
{
  static const struct { const char *accel, *action; } wanted[] = {
    { "<Control>o", "win.open-model" },
    { "<Control><Shift>o", "win.open-image" },
    { "<Control>e", "win.export" },
    { "<Control>question", "win.show-help-overlay" },
    { "<Control>plus", "win.zoom-in" },
    { "<Control>minus", "win.zoom-out" },
    { "<Control>v", "win.paste" },
    { "<Alt>Return", "win.model-properties" },
  };
  g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource ("/io/github/mirada/Mirada/gtk/help-overlay.ui");
  g_autoptr(GSList) objects = gtk_builder_get_objects (builder);
  MiradaWindow *window = new_window ();
  MiradaCanvas *canvas = mirada_window_get_canvas (window);
  GtkEventController *keys = NULL;
  guint n_shortcuts = 0, n_buttons = 0;
  gboolean handled = FALSE;
  int row = -1, col = -1;

  for (guint i = 0; i < G_N_ELEMENTS (wanted); i++)
    {
      g_auto(GStrv) actions = gtk_application_get_actions_for_accel (GTK_APPLICATION (app), wanted[i].accel);

      g_assert_nonnull (actions);
      if (!g_strv_contains ((const char *const *) actions, wanted[i].action))
        g_error ("%s does not run %s", wanted[i].accel, wanted[i].action);
    }
  /* every action in the shortcuts window has its key */
  for (GSList *l = objects; l != NULL; l = l->next)
    if (GTK_IS_SHORTCUTS_SHORTCUT (l->data))
      {
        g_autofree char *action = NULL;
        g_autofree char *accel = NULL;

        g_object_get (l->data, "action-name", &action, "accelerator", &accel, NULL);
        if (action != NULL)
          {
            g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), action);

            if (accels == NULL || accels[0] == NULL)
              g_error ("%s is in the shortcuts window without a key", action);
          }
        else
          g_assert_nonnull (accel);
        n_shortcuts++;
      }
  g_assert_cmpuint (n_shortcuts, ==, 21); /* files 6, image 6, presentation 7, general 2 */

  check_icon_buttons (GTK_WIDGET (window), &n_buttons);
  g_test_message ("%u shortcuts, %u icon-only buttons checked", n_shortcuts, n_buttons);
  g_assert_cmpuint (n_buttons, >=, 11);

  /* the arrows walk the window grid from the top-left corner, clamped */
  g_assert_true (mirada_window_open_defaults (window));
  wait_until (window_idle, window, 300, "the default model and scene");
  keys = find_controller (GTK_WIDGET (canvas), GTK_TYPE_EVENT_CONTROLLER_KEY);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Right, 0, 0, &handled);
  g_assert_true (handled);
  g_assert_true (mirada_canvas_get_selected (canvas, &row, &col));
  g_assert_cmpint (row, ==, 0);   /* the first press selects the corner */
  g_assert_cmpint (col, ==, 0);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Right, 0, 0, &handled);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Down, 0, 0, &handled);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Left, 0, 0, &handled);
  g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_Left, 0, 0, &handled);
  g_assert_true (mirada_canvas_get_selected (canvas, &row, &col));
  g_assert_cmpint (row, ==, 1);
  g_assert_cmpint (col, ==, 0);
  {
    double before = mirada_canvas_get_scale (canvas);

    g_signal_emit_by_name (keys, "key-pressed", GDK_KEY_plus, 0, 0, &handled);
    g_assert_cmpfloat_with_epsilon (mirada_canvas_get_scale (canvas), before * 1.25, 1e-9);
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* First start: the built-in model and scene open from the GResource (the test
 * bundles stand-ins under the same paths). */
static void
test_gui_defaults (void)
{
  MiradaWindow *window = new_window ();
  MirDetectGrid *grid;

  g_assert_true (mirada_window_open_defaults (window));
  wait_until (window_idle, window, 300, "the default model and scene");
  grid = mirada_window_get_grid (window);
  g_assert_cmpint (grid->geom.image_width, ==, 320);
  g_assert_cmpint (grid->geom.image_height, ==, 192);
  g_assert_cmpuint (grid->n_classes, ==, 10);
  g_assert_cmpuint (mir_model_get_n_nodes (mirada_window_get_model (window)), ==, 30);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* `mirada MODEL` and `mirada PHOTO` in a new window: the model on the demo
 * scene, the built-in model on the photo (the test's stand-ins: the
 * CIFAR-10 ResNet, 32 px, and the 320×192 scene). */
static void
test_gui_defaults_partial (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models",
                                                       "animals-cnn.h5", NULL);
  g_autofree char *photo_path = g_test_build_filename (G_TEST_DIST, "data", "photo-scenes",
                                                       "photo-1.jpg", NULL);
  g_autoptr(MirImage) photo = mirada_image_load (photo_path, NULL);
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) photo_file = g_file_new_for_path (photo_path);
  MiradaWindow *window;
  MirDetectGrid *grid;
  MirModel *model;

  g_assert_nonnull (photo);
  window = new_window ();
  mirada_window_open_files_or_defaults (window, &model_file, 1);
  wait_until (window_idle, window, 300, "the model on the demo scene");
  grid = mirada_window_get_grid (window);
  model = mirada_window_get_model (window);
  g_assert_cmpuint (mir_model_get_n_classes (model), ==, 4); /* bird, cat, dog, horse */
  g_assert_cmpint (grid->geom.image_width, ==, 320);
  g_assert_cmpint (grid->geom.image_height, ==, 192);
  gtk_window_destroy (GTK_WINDOW (window));

  window = new_window ();
  mirada_window_open_files_or_defaults (window, &photo_file, 1);
  wait_until (window_idle, window, 300, "the built-in model on the photo");
  grid = mirada_window_get_grid (window);
  model = mirada_window_get_model (window);
  g_assert_cmpuint (mir_model_get_n_nodes (model), ==, 30); /* the ResNet */
  g_assert_cmpint (grid->geom.image_width, ==, photo->width);
  g_assert_cmpint (grid->geom.image_height, ==, photo->height);
  g_assert_true (photo->width != 320);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ------------------------------------------------------------------ */
/* Multi-scale: the progress runs once from 0 to 1 over all levels */

typedef struct
{
  guint n_windows;
  double start, end;   /* the job's overall progress at the level's 0 and 1 */
} LevelProgress;

static GArray *level_progress;  /* LevelProgress, filled on the worker */

static MirDetectGrid *
level_classify (MirModel                *model,
                const MirImage          *image,
                const MirDetectGeometry *geom,
                MirDetectProgressFunc    progress,
                gpointer                 progress_data,
                GCancellable            *cancellable,
                gpointer                 user_data,
                GError                 **error)
{
  MiradaJob *job = user_data;
  guint n = mir_detect_geometry_n_windows (geom);
  g_autofree float *probs = g_new0 (float, n * 2);
  LevelProgress p = { n, 0, 0 };

  /* the engine maps this level's 0 … n windows into the job's overall progress */
  progress (0, n, progress_data);
  p.start = mirada_job_get_progress (job);
  progress (n, n, progress_data);
  p.end = mirada_job_get_progress (job);
  g_array_append_val (level_progress, p);
  return mir_detect_grid_new (geom, 2, NULL, MIR_HEAD_SOFTMAX, probs, error);
}

static void
test_gui_scales (void)
{
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *scene_path = g_test_build_filename (G_TEST_DIST, "data", "scene-small.png", NULL);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) error = NULL;
  MiradaWindow *window;
  double total = 0;

  model = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);

  /* the Scales setting drives the detector panel */
  g_settings_set_int (settings, "scales", 3);
  level_progress = g_array_new (FALSE, FALSE, sizeof (LevelProgress));
  window = new_window ();
  g_assert_cmpuint (mirada_detector_panel_get_levels (mirada_window_get_detector_panel (window)), ==, 3);
  mirada_window_set_classifier (window, level_classify);
  mirada_window_set_model (window, model);
  mirada_window_set_image (window, image);
  wait_until (window_idle, window, 300, "the multi-scale detection");

  /* the last run's three levels (setting the model may have started one) */
  g_assert_cmpuint (level_progress->len, >=, 3);
  for (guint i = level_progress->len - 3; i < level_progress->len; i++)
    total += g_array_index (level_progress, LevelProgress, i).n_windows;
  for (guint i = level_progress->len - 3, l = 0; i < level_progress->len; i++, l++)
    {
      LevelProgress *p = &g_array_index (level_progress, LevelProgress, i);

      g_test_message ("level %u: %u windows, progress %.4f → %.4f", l, p->n_windows, p->start, p->end);
      /* each level takes its share of all windows, after the one before */
      g_assert_cmpfloat_with_epsilon (p->end - p->start, p->n_windows / total, 1e-9);
      if (l == 0)
        g_assert_cmpfloat_with_epsilon (p->start, 0.0, 1e-9);
      else
        g_assert_cmpfloat_with_epsilon (p->start, (p - 1)->end, 1e-9);
      if (l == 2)
        g_assert_cmpfloat_with_epsilon (p->end, 1.0, 1e-9);
    }
  /* the hover says which scale its grid is */
  {
    g_autofree char *text = mirada_canvas_describe_window (mirada_window_get_canvas (window), 0, 0);

    g_test_message ("hover: %s", text);
    g_assert_nonnull (strstr (text, "scale 1 of 3"));
  }

  gtk_window_destroy (GTK_WINDOW (window));
  g_settings_reset (settings, "scales");
  g_clear_pointer (&level_progress, g_array_unref);
}

/* ------------------------------------------------------------------ */
/* Job runner: the done callback's data (in the application a window or a
 * panel) is released on the UI thread, cancelled jobs included, although
 * GLib may finalize a threaded GTask on its worker thread. */

static gint n_released, n_released_off_ui;

static gpointer
quick_job (MiradaJob    *job,
           gpointer      data,
           GCancellable *cancellable,
           GError      **error)
{
  return g_strdup ("result");
}

static void
quick_done (gpointer      result,
            const GError *error,
            gpointer      user_data)
{
  g_assert_no_error (error);
  g_free (result);
}

static void
release_user_data (gpointer data)
{
  if (g_thread_self () != ui_thread)
    g_atomic_int_inc (&n_released_off_ui);
  g_atomic_int_inc (&n_released);
}

static gboolean
all_released (gpointer data)
{
  return g_atomic_int_get (&n_released) == GPOINTER_TO_INT (data);
}

static void
test_gui_job_thread (void)
{
  g_autoptr(MiradaJobRunner) runner = mirada_job_runner_new ();
  gint n_started = 0;

  /* the race (the main loop runs the callback before the worker drops its
   * task reference) hits a few percent of the jobs: 7 to 18 of these 600
   * on the runner that left the data to the task's finalization */
  for (guint i = 0; i < 400; i++)
    {
      /* every other time a second job supersedes the first (cancelled) */
      for (guint j = 0; j < 1 + i % 2; j++, n_started++)
        mirada_job_runner_run (runner, NULL, quick_job, NULL, NULL, g_free, quick_done,
                               GINT_TO_POINTER (1), release_user_data);
      wait_until (all_released, GINT_TO_POINTER (n_started), 60, "the jobs' callback data to be released");
      g_assert_false (mirada_job_runner_get_busy (runner));
    }
  g_test_message ("%d jobs, callback data released off the UI thread %d times",
                  n_started, g_atomic_int_get (&n_released_off_ui));
  g_assert_cmpint (g_atomic_int_get (&n_released_off_ui), ==, 0);
}

/* ------------------------------------------------------------------ */

/* Background by example, drag-select (issue 18): in "Mark background" mode a
 * drag on the photo marks every window whose centre lies in the rectangle,
 * as one step (undo takes them all back, not the click before); their
 * embeddings are those mir_detect_examples_add_window gives the same
 * windows.  "Features from" another layer classifies again with that layer's
 * output as the embeddings and forgets the examples. */
static void
test_gui_drag_background (void)
{
  g_autofree char *src = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-drag-XXXXXX", NULL);
  g_autofree char *model_path = g_build_filename (dir, "resnet.h5", NULL);
  g_autofree char *scene_path = write_scene (dir);
  g_autofree char *contents = NULL;
  g_autoptr(GFile) model_file = NULL;
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  g_autoptr(MirDetectExamples) direct = mir_detect_examples_new ();
  g_autoptr(MirDetectGrid) model_grid = NULL;
  g_autoptr(GError) error = NULL;
  const double rx0 = 60.3, ry0 = 60.3, rx1 = 160.3, ry1 = 100.3; /* image pixels, off the centres' half-pixel grid */
  const MirDetectExamples *examples;
  MiradaDetectorPanel *panel;
  MiradaSession *session;
  MiradaCanvas *canvas;
  MiradaWindow *window;
  GtkEventController *drag;
  double scale, ox, oy, wx0, wy0, wx1, wy1;
  guint n_windows, n_inside = 0;
  gsize len;
  gint conv;

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (model_path, contents, (gssize) len, NULL));
  model_file = g_file_new_for_path (model_path);
  window = new_window ();
  panel = mirada_window_get_detector_panel (window);
  canvas = mirada_window_get_canvas (window);
  session = mirada_window_get_session (window);
  mirada_window_open_model (window, model_file);
  mirada_window_open_image (window, scene_file);
  wait_until (window_idle, window, 300, "the model, the image and the detection");
  model_grid = mir_detect_grid_ref (mirada_window_get_grid (window));
  g_assert_nonnull (model_grid->embed);

  /* the windows whose centres the rectangle covers, marked directly */
  n_windows = mir_detect_geometry_n_windows (&model_grid->geom);
  for (guint n = 0; n < n_windows; n++)
    {
      int x, y, size;

      mir_detect_geometry_window_rect (&model_grid->geom, n, &x, &y, &size);
      if (x + size / 2.0 >= rx0 && x + size / 2.0 <= rx1 && y + size / 2.0 >= ry0 && y + size / 2.0 <= ry1)
        {
          g_assert_true (mir_detect_examples_add_window (direct, model_grid, n, "background", &error));
          n_inside++;
        }
    }
  g_test_message ("drag over (%g, %g)-(%g, %g): %u of %u windows", rx0, ry0, rx1, ry1, n_inside, n_windows);
  g_assert_cmpuint (n_inside, >=, 2);

  /* a click first (one example), then the drag, in widget coordinates */
  gtk_toggle_button_set_active (mirada_detector_panel_get_mark_background_button (panel), TRUE);
  g_assert_cmpstr (mirada_session_get_mark_label (session), ==, "background");
  g_assert_true (mirada_session_add_example (session, 300, 170, "background", &error));
  g_assert_no_error (error);
  render_settled (GTK_WIDGET (canvas));
  scale = mirada_canvas_get_scale (canvas);
  ox = floor ((gtk_widget_get_width (GTK_WIDGET (canvas)) - model_grid->geom.image_width * scale) / 2);
  oy = floor ((gtk_widget_get_height (GTK_WIDGET (canvas)) - model_grid->geom.image_height * scale) / 2);
  wx0 = ox + rx0 * scale;
  wy0 = oy + ry0 * scale;
  wx1 = ox + rx1 * scale;
  wy1 = oy + ry1 * scale;
  drag = find_controller (GTK_WIDGET (canvas), GTK_TYPE_GESTURE_DRAG);
  g_signal_emit_by_name (drag, "drag-begin", wx0, wy0);
  g_signal_emit_by_name (drag, "drag-update", (wx1 - wx0) / 2, (wy1 - wy0) / 2);
  g_signal_emit_by_name (drag, "drag-update", wx1 - wx0, wy1 - wy0);
  {
    g_autoptr(GdkTexture) shot = render_settled (GTK_WIDGET (window));
    g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "gui-drag-background.png", NULL);

    gdk_texture_save_to_png (shot, path);
    g_test_message ("the rectangle while dragging: %s", path);
  }
  g_signal_emit_by_name (drag, "drag-end", wx1 - wx0, wy1 - wy0);

  examples = mirada_session_get_examples (session);
  g_assert_cmpuint (examples->items->len, ==, 1 + n_inside);
  for (guint i = 0; i < n_inside; i++)
    {
      const MirDetectExample *got = g_ptr_array_index (examples->items, 1 + i);
      const MirDetectExample *want = g_ptr_array_index (direct->items, i);

      g_assert_cmpstr (got->label, ==, "background");
      g_assert_cmpint (got->x, ==, want->x);
      g_assert_cmpint (got->y, ==, want->y);
      g_assert_cmpint (got->size, ==, want->size);
      g_assert_cmpmem (got->embedding, sizeof (float) * examples->dim,
                       want->embedding, sizeof (float) * direct->dim);
    }
  /* one undo step: the drag's windows, not the click */
  g_assert_true (mirada_session_undo_examples (session));
  g_assert_cmpuint (mirada_session_get_examples (session)->items->len, ==, 1);
  g_assert_false (mirada_session_undo_examples (session));
  g_assert_cmpuint (mirada_session_get_examples (session)->items->len, ==, 1);

  /* another layer: the last convolution's output, averaged over H and W */
  conv = mir_model_find_last_conv (mirada_session_get_model (session));
  g_assert_cmpint (conv, >=, 0);
  {
    MirNode *node = mir_model_get_node (mirada_session_get_model (session), (guint) conv);
    MirDetectGrid *grid;

    mirada_session_set_embedding_layer (session, node->name);
    wait_until (window_idle, window, 300, "the detection with another embedding layer");
    grid = mirada_window_get_grid (window);
    g_assert_cmpstr (grid->embed_layer, ==, node->name);
    g_assert_cmpuint (grid->embed_dim, ==, (guint) node->shape.dim[3]);
    g_assert_cmpuint (mirada_session_get_examples (session)->items->len, ==, 0);
    g_test_message ("embeddings of %s: %u values", node->name, grid->embed_dim);
  }
  {
    g_autoptr(GdkTexture) shot = render_settled (GTK_WIDGET (panel));
    g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "gui-by-example-panel.png", NULL);

    gdk_texture_save_to_png (shot, path);
  }
  gtk_toggle_button_set_active (mirada_detector_panel_get_mark_background_button (panel), FALSE);
  mirada_session_set_embedding_layer (session, NULL);
  wait_until (window_idle, window, 300, "the detection with the head's input");
  gtk_window_destroy (GTK_WINDOW (window));
  mir_test_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_autoptr(GSettings) settings = NULL;
  char *root;
  int status;

  g_test_init (&argc, &argv, NULL);
  ui_thread = g_thread_self ();
  time_scale = mir_test_time_scale ();
  /* A home of this run's own, set before GTK or GLib read the variables
   * and removed at the end: the recent-files list, caches and
   * configuration never touch the developer's, and every run starts
   * empty. */
  root = mir_test_gui_init ("mirada-gui");

  settings = g_settings_new ("io.github.mirada.Mirada");
  g_settings_set_int (settings, "window-size", 64);
  g_settings_set_int (settings, "stride", 32);
  /* the counts below are of ungrouped windows (the default groups with NMS) */
  g_settings_set_string (settings, "grouping", "none");

  app = mir_test_gui_app ();

  g_test_add_func ("/gui/job-thread", test_gui_job_thread);
  g_test_add_func ("/gui/detect", test_gui_detect);
  g_test_add_func ("/gui/explain", test_gui_explain);
  g_test_add_func ("/gui/explain-sigmoid", test_gui_explain_sigmoid);
  g_test_add_func ("/gui/panels", test_gui_panels);
  g_test_add_func ("/gui/sweep-truth", test_gui_sweep_truth);
  g_test_add_func ("/gui/watchdog", test_gui_watchdog);
  g_test_add_func ("/gui/defaults", test_gui_defaults);
  g_test_add_func ("/gui/defaults-partial", test_gui_defaults_partial);
  g_test_add_func ("/gui/model-tools", test_gui_model_tools);
  g_test_add_func ("/gui/keyboard", test_gui_keyboard);
  g_test_add_func ("/gui/scales", test_gui_scales);
  g_test_add_func ("/gui/issue17", test_gui_issue17);
  g_test_add_func ("/gui/field", test_gui_field);
  g_test_add_func ("/gui/drag-background", test_gui_drag_background);
  status = g_test_run ();
  /* as the application's shutdown does: no worker inside OpenBLAS at exit */
  mir_test_gui_finish (&app, root);
  return status;
}
