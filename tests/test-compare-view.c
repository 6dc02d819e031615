/* test-compare-view.c: two models side by side in the window (issue 19)
 * under Xvfb.  Model A is the built-in model, model B a different network
 * (tests/data/cli/tiny_softmax.h5, its classes renamed after two of A's so
 * that some windows agree).  Model B's grid is checked against the engine
 * called directly and both against `mirada compare --json` (probabilities
 * within 1e-6, the same top-1 classes, agreement flags and rate), then zoom,
 * pan and selection on either canvas against the other, the detector
 * settings against B's parameters, both Grad-CAMs of the selected window,
 * the diff colours on the canvas, and closing. */
#define G_LOG_DOMAIN "test-compare-view"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <adwaita.h>

#include "detect/mir-detect.h"
#include "mir-test-gui.h"
#include "mir-test-util.h"
#include "mirada-application.h"
#include "mirada-canvas.h"
#include "mirada-compare-view.h"
#include "mirada-detector-panel.h"
#include "mirada-image-io.h"
#include "mirada-job.h"
#include "mirada-model-open.h"
#include "mirada-window.h"

#define TOL 1e-6  /* the same engine path in the window and in the CLI: float printing */

static MiradaApplication *app;
static double time_scale = 1.0;

static void
wait_until (gboolean (*done) (gpointer), gpointer data, double timeout_s, const char *what)
{
  mir_test_wait_until (done, data, timeout_s * time_scale, what);
}

static gboolean
widget_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
window_idle (gpointer data)
{
  return !mirada_window_get_busy (data) && mirada_window_get_grid (data) != NULL;
}

static gboolean
compare_ready (gpointer data)
{
  MiradaCompareView *view = data;
  MiradaSession *b = mirada_compare_view_get_session (view);

  return !mirada_session_get_busy (b) && mirada_session_get_result (b) != NULL &&
         mirada_compare_view_get_compare (view) != NULL;
}

static gboolean
explained (gpointer data)
{
  MiradaCompareView *view = data;

  return !mirada_compare_view_get_explaining (view) &&
         mirada_compare_view_get_explanation (view, 0) != NULL &&
         mirada_compare_view_get_explanation (view, 1) != NULL;
}

static gboolean
pointer_cleared (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static void
assert_same_view (MiradaCanvas *x,
                  MiradaCanvas *y)
{
  gboolean fx, fy;
  double zx, zy, px, py, qx, qy;

  mirada_canvas_get_view (x, &fx, &zx, &px, &py);
  mirada_canvas_get_view (y, &fy, &zy, &qx, &qy);
  g_assert_cmpint (fx, ==, fy);
  g_assert_cmpfloat_with_epsilon (zx, zy, 1e-12);
  g_assert_cmpfloat_with_epsilon (px, qx, 1e-9);
  g_assert_cmpfloat_with_epsilon (py, qy, 1e-9);
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
after_paint_cb (GdkFrameClock *clock,
                gpointer       data)
{
  *(gboolean *) data = TRUE;
}

static gboolean
widget_shown (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0 &&
         gtk_widget_get_height (data) > 0;
}

/* As test-gui.c: a frame begun after this call drew @widget, then its
 * render node is current. */
static GdkTexture *
render_widget (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  GtkSnapshot *snapshot;
  GdkFrameClock *clock;
  gboolean painted = FALSE;
  gulong handler;
  int w, h;

  wait_until (widget_shown, widget, 60, "a widget to be mapped and allocated");
  clock = gtk_widget_get_frame_clock (widget);
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &painted);
  gtk_widget_queue_draw (widget);
  wait_until (flag_set, &painted, 60, "a frame drawing the widget");
  g_signal_handler_disconnect (clock, handler);
  paintable = gtk_widget_paintable_new (widget);
  snapshot = gtk_snapshot_new ();
  w = gtk_widget_get_width (widget);
  h = gtk_widget_get_height (widget);
  gdk_paintable_snapshot (paintable, snapshot, w, h);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)), node,
                                      &GRAPHENE_RECT_INIT (0, 0, w, h));
}

/* Red and green (0..255) of @texture at the widget point of image point (@x, @y). */
static void
pixel_at (GdkTexture   *texture,
          MiradaCanvas *canvas,
          double        x,
          double        y,
          double       *red,
          double       *green)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  GdkTexture *image = mirada_canvas_get_texture (canvas);
  double scale = mirada_canvas_get_scale (canvas);
  double ox = floor ((w - gdk_texture_get_width (image) * scale) / 2);
  double oy = floor ((h - gdk_texture_get_height (image) * scale) / 2);
  g_autofree guchar *data = g_malloc ((gsize) w * h * 4);
  int px = (int) (ox + x * scale), py = (int) (oy + y * scale);

  g_assert_cmpint (px, >=, 0);
  g_assert_cmpint (px, <, w);
  g_assert_cmpint (py, >=, 0);
  g_assert_cmpint (py, <, h);
  gdk_texture_download (texture, data, (gsize) w * 4);  /* B, G, R, A in memory */
  *red = data[(gsize) py * w * 4 + (gsize) px * 4 + 2];
  *green = data[(gsize) py * w * 4 + (gsize) px * 4 + 1];
}

/* `mirada compare A B IMAGE -w 64 -s 32 --json`, parsed. */
static JsonObject *
run_cli_compare (const char *a,
                 const char *b,
                 const char *image)
{
  const char *mirada = g_getenv ("MIRADA_BINARY");
  const char *argv[] = { mirada, "compare", a, b, image, "-w", "64", "-s", "32", "--json", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  int status;

  g_assert_nonnull (mirada);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("mirada compare: %s\n%s", error->message, err);
  json_parser_load_from_data (parser, out, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static void
test_compare_view (void)
{
  g_autofree char *a_path = g_test_build_filename (G_TEST_DIST, "..", "resources", "default", "model.h5", NULL);
  g_autofree char *scene_path = g_test_build_filename (G_TEST_DIST, "data", "scene-small.png", NULL);
  g_autofree char *tiny = g_test_build_filename (G_TEST_DIST, "data", "cli", "tiny_softmax.h5", NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-compare-XXXXXX", NULL);
  g_autofree char *b_path = g_build_filename (dir, "other.h5", NULL);
  g_autofree char *b_side = g_build_filename (dir, "other.mirada.json", NULL);
  g_autofree char *bytes = NULL;
  g_autoptr(GFile) a_file = g_file_new_for_path (a_path);
  g_autoptr(GFile) b_file = g_file_new_for_path (b_path);
  g_autoptr(GFile) scene_file = g_file_new_for_path (scene_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model_b = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirDetectGrid) direct_b = NULL;
  g_autoptr(JsonObject) cli = NULL;
  gsize len;
  MiradaWindow *window;
  MiradaCompareView *view;
  MiradaSession *session_b;
  MiradaCanvas *canvas_a, *canvas_b;
  MirDetectGrid *ga, *gb;
  const MiradaCompare *cmp;
  JsonArray *windows;
  double worst = 0;
  guint n, agree_count = 0;
  int sel_r = -1, sel_c = -1, row, col;

  /* model B: another network, two of its classes named as A's */
  g_assert_true (g_file_get_contents (tiny, &bytes, &len, &error));
  g_assert_true (g_file_set_contents (b_path, bytes, (gssize) len, &error));
  g_assert_true (g_file_set_contents (b_side,
                                      "{ \"mirada\": 1, \"class_names\": [\"Trouser\", \"background\", \"Bag\"],"
                                      " \"preprocess\": \"scale\" }", -1, &error));
  g_assert_no_error (error);

  window = mirada_window_new (GTK_APPLICATION (app));
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 860);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (widget_mapped, window, 20, "the window to map");
  mirada_window_open_model (window, a_file);
  mirada_window_open_image (window, scene_file);
  wait_until (window_idle, window, 300, "model A's detection");

  view = mirada_window_compare_with (window, b_file);
  g_assert_nonnull (view);
  g_assert_true (mirada_window_get_compare_view (window) == view);
  wait_until (compare_ready, view, 300, "model B's detection");
  session_b = mirada_compare_view_get_session (view);
  canvas_a = mirada_window_get_canvas (window);
  canvas_b = mirada_compare_view_get_canvas (view);
  ga = mirada_window_get_grid (window);
  gb = mirada_session_get_grid (session_b);
  cmp = mirada_compare_view_get_compare (view);
  g_assert_cmpuint (gb->n_classes, ==, 3);
  g_assert_cmpint (gb->geom.rows, ==, ga->geom.rows);
  g_assert_cmpint (gb->geom.cols, ==, ga->geom.cols);
  n = mir_detect_geometry_n_windows (&gb->geom);
  g_assert_cmpuint (cmp->n_windows, ==, n);

  /* B's grid = the engine's classification of model B, called here */
  model_b = mirada_model_open (b_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);
  direct_b = mir_detect_classify (model_b, image, &gb->geom, 0, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < (gsize) n * gb->n_classes; i++)
    worst = MAX (worst, fabs (gb->probs[i] - direct_b->probs[i]));
  g_test_message ("B: %u windows, worst |window − engine| %.3g", n, worst);
  g_assert_cmpfloat (worst, <=, TOL);

  /* ... and both against `mirada compare --json` on the same files */
  g_assert_cmpint (ga->geom.window, ==, 64);
  g_assert_cmpint (ga->geom.stride, ==, 32);
  cli = run_cli_compare (a_path, b_path, scene_path);
  windows = json_object_get_array_member (cli, "windows");
  g_assert_cmpuint (json_array_get_length (windows), ==, n);
  worst = 0;
  for (guint w = 0; w < n; w++)
    {
      JsonObject *o = json_array_get_object_element (windows, w);
      const MirDetectGrid *g[2] = { ga, gb };
      const guint top[2] = { cmp->top_a[w], cmp->top_b[w] };

      g_assert_cmpint (json_object_get_int_member (o, "index"), ==, w);
      for (int m = 0; m < 2; m++)
        {
          JsonObject *mo = json_object_get_object_member (o, m == 0 ? "a" : "b");
          JsonArray *probs = json_object_get_array_member (mo, "probabilities");

          g_assert_cmpuint (json_array_get_length (probs), ==, g[m]->n_classes);
          for (guint k = 0; k < g[m]->n_classes; k++)
            worst = MAX (worst, fabs (json_array_get_double_element (probs, k) -
                                      mir_detect_grid_get (g[m], w, k)));
          g_assert_cmpint (json_object_get_int_member (mo, "class"), ==, top[m]);
        }
      /* independently: the arg-max of each grid, names compared here */
      for (int m = 0; m < 2; m++)
        {
          guint best = 0;

          for (guint k = 1; k < g[m]->n_classes; k++)
            if (mir_detect_grid_get (g[m], w, k) > mir_detect_grid_get (g[m], w, best))
              best = k;
          g_assert_cmpuint (top[m], ==, best);
        }
      {
        g_autofree char *na = mirada_session_dup_class_name (mirada_window_get_session (window), top[0]);
        g_autofree char *nb = mirada_session_dup_class_name (session_b, top[1]);

        g_assert_cmpint (cmp->agree[w], ==, g_ascii_strcasecmp (na, nb) == 0);
      }
      g_assert_cmpint (json_object_get_boolean_member (o, "agree"), ==, cmp->agree[w]);
      agree_count += cmp->agree[w];
      if (sel_r < 0 && cmp->agree[w])
        {
          sel_r = (int) w / ga->geom.cols;
          sel_c = (int) w % ga->geom.cols;
        }
    }
  g_test_message ("window vs CLI: worst %.3g; agreement %u of %u (CLI %.6f)", worst,
                  cmp->n_agree, n, json_object_get_double_member (cli, "agreement"));
  g_assert_cmpfloat (worst, <=, TOL);
  g_assert_cmpuint (agree_count, ==, cmp->n_agree);
  g_assert_cmpfloat_with_epsilon (mirada_compare_rate (cmp),
                                  json_object_get_double_member (cli, "agreement"), 1e-12);
  /* a comparison that can fail both ways: some windows agree, some do not */
  g_assert_cmpuint (cmp->n_agree, >, 0);
  g_assert_cmpuint (cmp->n_agree, <, n);
  {
    g_autofree char *count = g_strdup_printf (" %u ", cmp->n_agree);

    g_assert_nonnull (strstr (mirada_compare_view_get_agreement_text (view), count));
  }

  /* the diff view: an agreeing window's centre turns greener, a
   * disagreeing one's redder, on both canvases */
  {
    g_autoptr(GdkTexture) off = NULL, on_a = NULL, on_b = NULL;
    gint agreeing = -1, differing = -1;

    for (guint w = 0; w < n; w++)
      if (cmp->agree[w] && agreeing < 0)
        agreeing = (gint) w;
      else if (!cmp->agree[w] && differing < 0)
        differing = (gint) w;
    g_assert_cmpint (agreeing, >=, 0);
    g_assert_cmpint (differing, >=, 0);
    off = render_widget (GTK_WIDGET (canvas_b));
    mirada_compare_view_set_diff (view, TRUE);
    on_b = render_widget (GTK_WIDGET (canvas_b));
    on_a = render_widget (GTK_WIDGET (canvas_a));
    for (int which = 0; which < 2; which++)
      {
        guint w = (guint) (which == 0 ? agreeing : differing);
        int x, y, side;
        double r0, g0, r1, g1, ra, ga_;

        mir_detect_geometry_window_rect (&gb->geom, w, &x, &y, &side);
        pixel_at (off, canvas_b, x + side / 2.0, y + side / 2.0, &r0, &g0);
        pixel_at (on_b, canvas_b, x + side / 2.0, y + side / 2.0, &r1, &g1);
        pixel_at (on_a, canvas_a, x + side / 2.0, y + side / 2.0, &ra, &ga_);
        g_test_message ("window %u (%s): off R %.0f G %.0f, diff on R %.0f G %.0f (A: R %.0f G %.0f)",
                        w, which == 0 ? "agree" : "differ", r0, g0, r1, g1, ra, ga_);
        if (which == 0)
          {
            g_assert_cmpfloat ((g1 - g0) - (r1 - r0), >, 15);
            g_assert_cmpfloat (ga_ - ra, >, 0);
          }
        else
          {
            g_assert_cmpfloat ((r1 - r0) - (g1 - g0), >, 15);
            g_assert_cmpfloat (ra - ga_, >, 0);
          }
      }
    mirada_compare_view_set_diff (view, FALSE);
  }

  /* zoom and pan: either canvas moves the other */
  mirada_canvas_zoom_in (canvas_a);
  assert_same_view (canvas_a, canvas_b);
  mirada_canvas_zoom_in (canvas_b);
  mirada_canvas_zoom_in (canvas_b);
  assert_same_view (canvas_a, canvas_b);
  {
    gboolean fit;
    double zoom, px, py;

    mirada_canvas_get_view (canvas_a, &fit, &zoom, &px, &py);
    g_assert_false (fit);
  }
  mirada_canvas_zoom_fit (canvas_b);
  assert_same_view (canvas_a, canvas_b);

  /* selection: a window where they agree, clicked on B, is selected on A */
  g_assert_cmpint (sel_r, >=, 0);
  mirada_canvas_select (canvas_b, sel_r, sel_c);
  g_assert_true (mirada_canvas_get_selected (canvas_a, &row, &col));
  g_assert_cmpint (row, ==, sel_r);
  g_assert_cmpint (col, ==, sel_c);
  {
    guint w = (guint) (sel_r * ga->geom.cols + sel_c);
    g_autofree char *pb = g_strdup_printf ("%.4f", mir_detect_grid_get (gb, w, cmp->top_b[w]));

    /* the read-out names B's top-1 probability as the grid has it */
    g_assert_nonnull (strstr (mirada_compare_view_get_selection_text (view), pb));
  }
  wait_until (explained, view, 120, "both models' Grad-CAM of the window");
  /* and the other way round */
  mirada_canvas_select (canvas_a, 0, 0);
  g_assert_true (mirada_canvas_get_selected (canvas_b, &row, &col));
  g_assert_cmpint (row, ==, 0);
  g_assert_cmpint (col, ==, 0);

  /* the detector's settings reach B: A's "background" threshold is B's class 1's */
  {
    MiradaDetectorPanel *panel = mirada_window_get_detector_panel (window);
    g_auto(GStrv) names = mirada_session_dup_class_names (mirada_window_get_session (window));
    gint bg = -1;
    const MirDetectParams *pb;

    for (guint k = 0; names != NULL && names[k] != NULL; k++)
      if (g_str_equal (names[k], "background"))
        bg = (gint) k;
    g_assert_cmpint (bg, >=, 0);
    gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, (guint) bg), 0.4321);
    pb = mirada_session_get_params (session_b);
    g_assert_nonnull (pb);
    g_assert_cmpuint (pb->n_classes, ==, 3);
    g_assert_cmpfloat_with_epsilon (pb->classes[1].threshold, 0.4321, 1e-9);

    /* separate thresholds: B keeps its own, starting from those it had */
    mirada_compare_view_set_separate (view, TRUE);
    g_assert_nonnull (mirada_compare_view_get_threshold_adjustment (view, 1));
    g_assert_null (mirada_compare_view_get_threshold_adjustment (view, 3));
    g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_value (mirada_compare_view_get_threshold_adjustment (view, 1)),
                                    0.4321, 1e-9);
    gtk_adjustment_set_value (mirada_compare_view_get_threshold_adjustment (view, 1), 0.2);
    gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, (guint) bg), 0.7);
    pb = mirada_session_get_params (session_b);
    g_assert_cmpfloat_with_epsilon (pb->classes[1].threshold, 0.2, 1e-9);
    /* ... and follows A again when they are shared */
    mirada_compare_view_set_separate (view, FALSE);
    pb = mirada_session_get_params (session_b);
    g_assert_cmpfloat_with_epsilon (pb->classes[1].threshold, 0.7, 1e-9);
  }

  /* closing puts the window's canvas back */
  g_object_add_weak_pointer (G_OBJECT (view), (gpointer *) &view);
  mirada_compare_view_close (view);
  wait_until (pointer_cleared, &view, 30, "the compare view to go");
  g_assert_null (mirada_window_get_compare_view (window));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (canvas_a)));

  /* a file that is no model: an error, and the view goes again */
  {
    g_autoptr(GFile) not_a_model = g_file_new_for_path (scene_path);

    view = mirada_window_compare_with (window, not_a_model);
    g_assert_nonnull (view);
    g_object_add_weak_pointer (G_OBJECT (view), (gpointer *) &view);
    wait_until (pointer_cleared, &view, 60, "the view to close after the error");
    g_assert_null (mirada_window_get_compare_view (window));
  }

  /* the built-in model against itself agrees on every window; the window
   * closes with the view open */
  view = mirada_window_compare_with (window, NULL);
  wait_until (compare_ready, view, 300, "the built-in model as model B");
  cmp = mirada_compare_view_get_compare (view);
  g_assert_cmpuint (cmp->n_agree, ==, cmp->n_windows);
  g_assert_cmpfloat (mirada_compare_rate (cmp), ==, 1.0);
  g_object_add_weak_pointer (G_OBJECT (view), (gpointer *) &view);
  gtk_window_destroy (GTK_WINDOW (window));
  wait_until (pointer_cleared, &view, 30, "the compare view to go with the window");
  g_remove (b_side);
  g_remove (b_path);
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  g_autoptr(GSettings) settings = NULL;
  char *root;
  int status;

  g_test_init (&argc, &argv, NULL);
  time_scale = mir_test_time_scale ();
  root = mir_test_gui_init ("mirada-compare-home");

  settings = g_settings_new ("io.github.mirada.Mirada");
  g_settings_set_int (settings, "window-size", 64);
  g_settings_set_int (settings, "stride", 32);
  g_settings_set_int (settings, "scales", 1);

  app = mir_test_gui_app ();

  g_test_add_func ("/compare-view/two-models", test_compare_view);
  status = g_test_run ();
  mir_test_gui_finish (&app, root);
  return status;
}
