/* test-occlusion-paint.c: live occlusion painting (issue 19) in the window,
 * under Xvfb, on the built-in model and demo scene.  A stroke over the first
 * sneaker: (a) every window of every scale equals the engine classifying
 * the masked photo (mir_mask_apply) from scratch, within 1e-6, and the
 * windows with no painted pixel keep their probabilities bit for bit; (b)
 * the sneaker's score falls; (c) Clear brings back the original grid
 * exactly; (d) Undo brings back the state before the last stroke.  Also the
 * sliding-patch occlusion map of the window, and (MIRADA_OCCLUSION_SCREENSHOT=
 * PATH) a screenshot.  MIRADA_OCCLUSION_BENCH=N prints the median time from
 * a window-sized stroke to the updated probabilities and boxes over N strokes
 * (a measurement, never a check). */
#define G_LOG_DOMAIN "test-occlusion-paint"

#include "config.h"

#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include <adwaita.h>

#include "detect/mir-detect.h"
#include "explain/mir-mask.h"
#include "mirada-application.h"
#include "mirada-image-io.h"
#include "mirada-job.h"
#include "mirada-model-open.h"
#include "mirada-occlusion-paint.h"
#include "mirada-window.h"
#include "mir-test-gui.h"
#include "mir-test-util.h"

#define TOL 1e-6
#define SNEAKER 7   /* the built-in model's class; the scene's first object is one */

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
paint_idle (gpointer data)
{
  return !mirada_occlusion_paint_get_pending (data);
}

static gboolean
map_done (gpointer data)
{
  return !mirada_occlusion_paint_get_map_busy (data);
}

/* Every scale's probabilities, copied. */
static GPtrArray *
copy_probs (MiradaSession *session)
{
  g_autoptr(GPtrArray) grids = mirada_session_dup_model_grids (session);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  g_assert_nonnull (grids);
  for (guint s = 0; s < grids->len; s++)
    {
      MirDetectGrid *g = g_ptr_array_index (grids, s);

      g_ptr_array_add (out, g_memdup2 (g->probs, sizeof (float) * g->n_classes
                                                 * mir_detect_geometry_n_windows (&g->geom)));
    }
  return out;
}

/* The bounding box of the pixels where @mask differs from @before (NULL: of
 * every painted pixel), widened by 2 px (a brush's disc is rasterised inside
 * its rectangle).  FALSE if none. */
static gboolean
changed_box (const MirImage *mask, const MirImage *before, int box[4])
{
  box[0] = box[1] = G_MAXINT;
  box[2] = box[3] = -1;
  for (int y = 0; y < mask->height; y++)
    for (int x = 0; x < mask->width; x++)
      {
        guint8 m = mask->pixels[(gsize) y * mask->rowstride + x];
        guint8 b = before != NULL ? before->pixels[(gsize) y * before->rowstride + x] : 0;

        if ((m >= 128) != (b >= 128) || (before == NULL && m >= 128))
          {
            box[0] = MIN (box[0], x - 2);
            box[1] = MIN (box[1], y - 2);
            box[2] = MAX (box[2], x + 3);
            box[3] = MAX (box[3], y + 3);
          }
      }
  return box[2] >= 0;
}

/* Whether window @n of a scale-1 grid meets the box (x0, y0, x1, y1). */
static gboolean
window_meets (const MirDetectGrid *grid, guint n, const int box[4])
{
  int x, y, size;

  mir_detect_geometry_window_rect (&grid->geom, n, &x, &y, &size);
  return x < box[2] && x + size > box[0] && y < box[3] && y + size > box[1];
}

/* (a): the session's grids against the engine from scratch on the masked photo. */
static void
check_against_scratch (MiradaWindow *window, MiradaOcclusionPaint *paint, GPtrArray *before,
                       const MirImage *changed_mask, const MirImage *mask_before,
                       MirMaskFill fill)
{
  MiradaSession *session = mirada_window_get_session (window);
  g_autoptr(GPtrArray) grids = mirada_session_dup_model_grids (session);
  g_autoptr(GPtrArray) scratch = NULL;
  g_autoptr(MirImage) masked = NULL;
  g_autoptr(GError) error = NULL;
  MirDetectScales scales;
  MirDetectGrid *g0 = g_ptr_array_index (grids, 0);
  double worst = 0;
  guint n_painted = 0, n_clean = 0, n_changed = 0;
  int box[4] = { 0, 0, 0, 0 };

  /* @before NULL: only the comparison with the engine from scratch */
  if (before == NULL)
    goto scratch_only;
  /* the pixels changed: @changed_mask (or the mask) against @mask_before */
  g_assert_true (changed_box (changed_mask != NULL ? changed_mask : mirada_occlusion_paint_get_mask (paint),
                              mask_before, box));

scratch_only:
  masked = mir_mask_apply (mirada_occlusion_paint_get_original (paint),
                           mirada_occlusion_paint_get_mask (paint), fill, 1, &error);
  g_assert_no_error (error);
  /* the session shows exactly that photo */
  g_assert_cmpmem (masked->pixels, (gsize) masked->rowstride * masked->height,
                   mirada_session_get_image (session)->pixels,
                   (gsize) masked->rowstride * masked->height);
  /* the scales as the session's detect worker makes them */
  g_assert_true (mir_detect_scales_pyramid (&scales, g0->geom.window, MIRADA_PYRAMID_FACTOR,
                                            grids->len, &error));
  scratch = mir_detect_classify_scales (mirada_session_get_model (session), masked, &scales,
                                        g0->geom.stride, g0->geom.notebook_layout, 0,
                                        MIR_DETECT_SHARED_AUTO, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (scratch->len, ==, grids->len);
  for (guint s = 0; s < grids->len; s++)
    {
      MirDetectGrid *now = g_ptr_array_index (grids, s), *ref = g_ptr_array_index (scratch, s);
      const float *old = before != NULL ? g_ptr_array_index (before, s) : NULL;
      guint N = mir_detect_geometry_n_windows (&now->geom);

      g_assert_cmpuint (mir_detect_geometry_n_windows (&ref->geom), ==, N);
      for (guint n = 0; n < N; n++)
        {
          gboolean painted = s != 0 || before == NULL || window_meets (now, n, box);
          gboolean changed = FALSE;

          for (guint k = 0; k < now->n_classes; k++)
            {
              double d = fabs ((double) mir_detect_grid_get (now, n, k) - mir_detect_grid_get (ref, n, k));

              worst = MAX (worst, d);
              if (d > TOL)
                g_error ("scale %u window %u class %u: %.9f after the stroke, %.9f from scratch",
                         s, n, k, mir_detect_grid_get (now, n, k), mir_detect_grid_get (ref, n, k));
              changed = changed || old == NULL
                        || mir_detect_grid_get (now, n, k) != old[(gsize) n * now->n_classes + k];
            }
          if (s != 0)
            continue;
          if (painted)
            n_painted++;
          else
            {
              /* a window away from the change keeps its values bit for bit */
              g_assert_false (changed);
              n_clean++;
            }
          n_changed += changed;
        }
    }
  if (before == NULL)
    {
      g_test_message ("(a) %u scales, every window against scratch: largest difference %.3g "
                      "(tolerance %g)", grids->len, worst, TOL);
      return;
    }
  g_test_message ("(a) %u scales; scale 0: %u windows meet the changed pixels (%u changed), "
                  "%u do not (unchanged, bit for bit); largest difference from scratch %.3g "
                  "(tolerance %g)", grids->len, n_painted, n_changed, n_clean, worst, TOL);
  g_assert_cmpuint (n_painted, >, 0);
  g_assert_cmpuint (n_changed, >, 0);
  g_assert_cmpuint (n_clean, >, 0);
}

static void
assert_probs_equal (MiradaSession *session, GPtrArray *expected, double tol, const char *what)
{
  g_autoptr(GPtrArray) now = copy_probs (session);
  g_autoptr(GPtrArray) grids = mirada_session_dup_model_grids (session);
  double worst = 0;

  g_assert_cmpuint (now->len, ==, expected->len);
  for (guint s = 0; s < now->len; s++)
    {
      MirDetectGrid *g = g_ptr_array_index (grids, s);
      gsize total = (gsize) g->n_classes * mir_detect_geometry_n_windows (&g->geom);
      const float *a = g_ptr_array_index (now, s), *b = g_ptr_array_index (expected, s);

      for (gsize i = 0; i < total; i++)
        {
          worst = MAX (worst, fabs ((double) a[i] - b[i]));
          if (tol == 0 ? a[i] != b[i] : fabs ((double) a[i] - b[i]) > tol)
            g_error ("%s: scale %u value %zu: %.9f, expected %.9f", what, s, i, a[i], b[i]);
        }
    }
  g_test_message ("%s: largest difference %.3g (tolerance %g)", what, worst, tol);
}

static void
save_screenshot (GtkWidget *widget, const char *path)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));
}

static void
spin (double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
test_occlusion_paint (gconstpointer data)
{
  guint n_scales = GPOINTER_TO_UINT (data);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autofree char *model_path = g_test_build_filename (G_TEST_DIST, "..", "resources", "default",
                                                       "model.h5", NULL);
  g_autofree char *scene_path = g_test_build_filename (G_TEST_DIST, "..", "resources", "default",
                                                       "scene.png", NULL);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) original = NULL;
  g_autoptr(GPtrArray) after_first = NULL;
  g_autoptr(MirImage) mask_first = NULL;
  g_autoptr(MirImage) mask_both = NULL;
  MiradaWindow *window;
  MiradaSession *session;
  MiradaCanvas *canvas;
  MiradaOcclusionPaint *paint;
  MirDetectGrid *grid;
  const char *shot = g_getenv ("MIRADA_OCCLUSION_SCREENSHOT");
  const char *bench = g_getenv ("MIRADA_OCCLUSION_BENCH");
  int row, col;
  guint n;
  double p_before, p_after;
  /* the scene's first object: a sneaker in the box 211,34 160×160 */
  const double stroke1[] = { 231, 84, 351, 84, 351, 144, 231, 144 };
  /* the trouser, elsewhere in the scene */
  const double stroke2[] = { 560, 60, 600, 100 };

  model = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (scene_path, &error);
  g_assert_no_error (error);

  /* one scale, or an image pyramid (the strokes reach every level) */
  g_settings_set_int (settings, "scales", (int) n_scales);
  window = mirada_window_new (GTK_APPLICATION (app));
  /* under Xvfb without a window manager the client-side border takes 10 px:
   * the screenshot is then 1280×720 */
  gtk_window_set_default_size (GTK_WINDOW (window), 1290, 730);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (widget_mapped, window, 20, "the window to map");
  session = mirada_window_get_session (window);
  canvas = mirada_window_get_canvas (window);
  paint = mirada_window_get_occlusion_paint (window);
  g_assert_nonnull (paint);
  mirada_window_set_model (window, model);
  mirada_window_set_image (window, image);
  wait_until (window_idle, window, 300, "the built-in model on the demo scene");
  spin (0.3);
  wait_until (window_idle, window, 300, "the explanations");

  grid = mirada_window_get_grid (window);
  g_assert_cmpuint (mirada_session_get_n_scales (session), ==, n_scales);
  g_assert_true (mirada_grid_lookup (grid, 291, 114, &row, &col));
  mirada_canvas_select (canvas, row, col);
  n = (guint) (row * grid->geom.cols + col);
  p_before = mir_detect_grid_get (grid, n, SNEAKER);
  original = copy_probs (session);

  /* a stroke of a 40-px brush over the sneaker: grey */
  mirada_occlusion_paint_set_active (paint, TRUE);
  mirada_occlusion_paint_set_brush (paint, 40, MIR_MASK_FILL_GREY);
  mirada_occlusion_paint_stroke (paint, stroke1, G_N_ELEMENTS (stroke1) / 2);
  g_assert_cmpuint (mirada_occlusion_paint_get_n_strokes (paint), ==, 1);
  wait_until (paint_idle, paint, 120, "the painted windows");
  check_against_scratch (window, paint, original, NULL, NULL, MIR_MASK_FILL_GREY);

  /* (b) the sneaker's score falls; the canvas keeps the selection */
  g_assert_true (mirada_canvas_get_selected (canvas, &row, &col));
  g_assert_cmpuint ((guint) (row * grid->geom.cols + col), ==, n);
  p_after = mir_detect_grid_get (mirada_session_get_grid (session), n, SNEAKER);
  g_test_message ("(b) window %u: P(Sneaker) %.4f before, %.4f after the stroke", n, p_before, p_after);
  g_assert_cmpfloat (p_after, <, p_before - 0.1);
  g_assert_nonnull (mirada_session_get_result (session));

  /* the sliding-patch occlusion map of the selected window */
  mirada_occlusion_paint_compute_map (paint);
  wait_until (map_done, paint, 120, "the occlusion map");
  g_assert_nonnull (mirada_occlusion_paint_get_map (paint));
  wait_until (window_idle, window, 120, "the explanations");
  spin (0.3);
  if (shot != NULL && *shot != '\0')
    {
      if (g_getenv ("MIRADA_OCCLUSION_PRESENTATION") != NULL)
        {
          mirada_window_set_presentation (window, TRUE);
          spin (1.0);
        }
      save_screenshot (GTK_WIDGET (window), shot);
      g_test_message ("screenshot: %s", shot);
    }

  /* (d) a second stroke, then undo: the state after the first */
  after_first = copy_probs (session);
  mask_first = mir_image_crop (mirada_occlusion_paint_get_mask (paint), 0, 0, image->width,
                               image->height, &error);
  g_assert_no_error (error);
  mirada_occlusion_paint_set_brush (paint, 20, MIR_MASK_FILL_GREY);
  mirada_occlusion_paint_stroke (paint, stroke2, G_N_ELEMENTS (stroke2) / 2);
  wait_until (paint_idle, paint, 120, "the second stroke");
  check_against_scratch (window, paint, after_first, NULL, mask_first, MIR_MASK_FILL_GREY);
  mask_both = mir_image_crop (mirada_occlusion_paint_get_mask (paint), 0, 0, image->width,
                              image->height, &error);
  g_assert_no_error (error);
  mirada_occlusion_paint_undo (paint);
  wait_until (paint_idle, paint, 120, "the undo");
  g_assert_cmpuint (mirada_occlusion_paint_get_n_strokes (paint), ==, 1);
  g_assert_cmpmem (mask_first->pixels, (gsize) mask_first->rowstride * mask_first->height,
                   mirada_occlusion_paint_get_mask (paint)->pixels,
                   (gsize) mask_first->rowstride * mask_first->height);
  assert_probs_equal (session, after_first, TOL, "(d) undo");

  /* the other fills (what is painted takes the new fill: every stroke's
   * rectangle, the undone one's too, is classified again): noise and blur */
  for (guint f = 0; f < 2; f++)
    {
      MirMaskFill fill = f == 0 ? MIR_MASK_FILL_NOISE : MIR_MASK_FILL_BLUR;
      g_autoptr(GPtrArray) prev = copy_probs (session);

      mirada_occlusion_paint_set_brush (paint, 20, fill);
      wait_until (paint_idle, paint, 120, "the new fill");
      check_against_scratch (window, paint, prev, mask_both, NULL, fill);
    }

  /* a drag on the canvas paints (the canvas's drag gesture, driven by its
   * signals): one more stroke, over the trouser at 560..600, 60..100 */
  {
    g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (GTK_WIDGET (canvas));
    GtkGesture *drag = NULL;
    double scale = mirada_canvas_get_scale (canvas);
    int cw = gtk_widget_get_width (GTK_WIDGET (canvas)), ch = gtk_widget_get_height (GTK_WIDGET (canvas));
    /* the canvas fits the photo, centred */
    double ox = floor ((cw - image->width * scale) / 2), oy = floor ((ch - image->height * scale) / 2);
    guint before_strokes = mirada_occlusion_paint_get_n_strokes (paint);
    MirImage *mask;

    for (guint i = 0; i < g_list_model_get_n_items (controllers) && drag == NULL; i++)
      {
        g_autoptr(GObject) c = g_list_model_get_item (controllers, i);

        if (GTK_IS_GESTURE_DRAG (c))
          drag = GTK_GESTURE (c);
      }
    g_assert_nonnull (drag);
    g_signal_emit_by_name (drag, "drag-begin", ox + 560 * scale, oy + 60 * scale);
    g_signal_emit_by_name (drag, "drag-update", 40 * scale, 40 * scale);
    g_signal_emit_by_name (drag, "drag-end", 40 * scale, 40 * scale);
    g_assert_cmpuint (mirada_occlusion_paint_get_n_strokes (paint), ==, before_strokes + 1);
    wait_until (paint_idle, paint, 120, "the dragged stroke");
    mask = mirada_occlusion_paint_get_mask (paint);
    g_assert_cmpuint (mask->pixels[(gsize) 80 * mask->rowstride + 580], ==, 255);
    mirada_occlusion_paint_undo (paint);
    wait_until (paint_idle, paint, 120, "the undo of the dragged stroke");
    g_assert_cmpuint (mask->pixels[(gsize) 80 * mask->rowstride + 580], ==, 0);
  }

  /* (c) clear: the original grids, exactly, and the photo */
  mirada_occlusion_paint_clear (paint);
  wait_until (paint_idle, paint, 120, "the clear");
  assert_probs_equal (session, original, 0, "(c) clear");
  g_assert_cmpmem (image->pixels, (gsize) image->rowstride * image->height,
                   mirada_session_get_image (session)->pixels,
                   (gsize) image->rowstride * image->height);
  g_assert_cmpuint (mirada_occlusion_paint_get_n_strokes (paint), ==, 0);

  /* a new stride while painted: the session classifies the painted photo,
   * the original photo's grids are made again for Clear */
  {
    MirDetectGrid *g = mirada_session_get_grid (session);
    int window_size = g->geom.window, stride = g->geom.stride;
    g_autoptr(GPtrArray) scratch = NULL;
    g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
    MirDetectScales scales;

    mirada_occlusion_paint_set_brush (paint, 40, MIR_MASK_FILL_GREY);
    mirada_occlusion_paint_stroke (paint, stroke1, G_N_ELEMENTS (stroke1) / 2);
    wait_until (paint_idle, paint, 120, "the stroke before the new stride");
    mirada_session_set_geometry (session, window_size, 2 * stride, n_scales, FALSE);
    wait_until (window_idle, window, 300, "the new stride");
    wait_until (paint_idle, paint, 120, "the original photo's grids");
    g_assert_cmpuint (mirada_occlusion_paint_get_n_strokes (paint), ==, 1);
    g_assert_cmpint (mirada_session_get_grid (session)->geom.stride, ==, 2 * stride);
    check_against_scratch (window, paint, NULL, NULL, NULL, MIR_MASK_FILL_GREY);
    g_assert_true (mir_detect_scales_pyramid (&scales, window_size, MIRADA_PYRAMID_FACTOR, n_scales,
                                              &error));
    scratch = mir_detect_classify_scales (model, image, &scales, 2 * stride, FALSE, 0,
                                          MIR_DETECT_SHARED_AUTO, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < scratch->len; i++)
      {
        MirDetectGrid *sg = g_ptr_array_index (scratch, i);

        g_ptr_array_add (expected, g_memdup2 (sg->probs, sizeof (float) * sg->n_classes
                                                         * mir_detect_geometry_n_windows (&sg->geom)));
      }
    mirada_occlusion_paint_clear (paint);
    wait_until (paint_idle, paint, 120, "the clear at the new stride");
    assert_probs_equal (session, expected, 0, "clear after a new stride (the original photo from scratch)");
    mirada_session_set_geometry (session, window_size, stride, n_scales, FALSE);
    wait_until (window_idle, window, 300, "the stride back");
  }

  if (bench != NULL && atoi (bench) > 0)
    {
      guint runs = (guint) atoi (bench), n_windows = 0;
      g_autofree double *ms = g_new (double, runs);

      /* a stroke covering a window (150×150 px): a 40-px brush zig-zagging
       * over a 110×110 square */
      mirada_occlusion_paint_set_brush (paint, 20, MIR_MASK_FILL_GREY);
      for (guint i = 0; i < runs; i++)
        {
          double x = 20 + (i * 53) % 610, y = 20 + (i * 37) % 210;
          const double zigzag[] = { x, y, x + 110, y, x, y + 37, x + 110, y + 73, x, y + 110,
                                    x + 110, y + 110 };

          mirada_occlusion_paint_stroke (paint, zigzag, G_N_ELEMENTS (zigzag) / 2);
          wait_until (paint_idle, paint, 120, "a benchmark stroke");
          ms[i] = mirada_occlusion_paint_get_last_latency (paint, &n_windows);
          g_test_message ("stroke %u: %.1f ms, %u windows", i, ms[i], n_windows);
        }
      qsort (ms, runs, sizeof (double), compare_double);
      g_printerr ("occlusion: median %.1f ms from a window-sized stroke to updated probabilities "
                  "and boxes (%u strokes, min %.1f, max %.1f, last %u windows re-classified)\n",
                  ms[runs / 2], runs, ms[0], ms[runs - 1], n_windows);
      mirada_occlusion_paint_clear (paint);
    }
  gtk_window_destroy (GTK_WINDOW (window));
  spin (0.2);
}

int
main (int argc, char *argv[])
{
  char *root;
  int status;

  /* MIRADA_LOCALEDIR (build/po) and LANGUAGE: a screenshot in another language */
  setlocale (LC_ALL, "");
  if (g_getenv ("MIRADA_LOCALEDIR") != NULL)
    {
      bindtextdomain (GETTEXT_PACKAGE, g_getenv ("MIRADA_LOCALEDIR"));
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      textdomain (GETTEXT_PACKAGE);
    }
  g_test_init (&argc, &argv, NULL);
  time_scale = mir_test_time_scale ();
  root = mir_test_gui_init ("mirada-occlusion");
  app = mir_test_gui_app ();

  g_test_add_data_func ("/occlusion-paint/one-scale", GUINT_TO_POINTER (1), test_occlusion_paint);
  g_test_add_data_func ("/occlusion-paint/pyramid", GUINT_TO_POINTER (3), test_occlusion_paint);
  status = g_test_run ();
  mir_test_gui_finish (&app, root);
  return status;
}
