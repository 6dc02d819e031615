/* mirada-smoke.c: see mirada-smoke.h.  The check looks at what a user would
 * see: a detection result with boxes, handed to a canvas that is mapped,
 * has a size and has drawn a frame since. */
#define G_LOG_DOMAIN "mirada-smoke"

#include "config.h"

#include <stdlib.h>

#include "mirada-compare-view.h"
#include "mirada-detector-panel.h"
#include "mirada-smoke.h"
#include "mirada-window.h"

typedef struct
{
  GApplication *app;
  MiradaWindow *window;
  gint64 deadline;
  gint64 frame_at_result; /* canvas frame counter when the boxes appeared, or -1 */
  guint source;
  gboolean field_done;    /* MIRADA_SMOKE_FIELD applied (or not asked for) */
  gboolean examples_done; /* MIRADA_SMOKE_BACKGROUND applied (or not asked for) */
  gboolean compare_done;  /* MIRADA_SMOKE_COMPARE shown (or not asked for) */
} Smoke;

/* MIRADA_SMOKE_BACKGROUND=X,Y[;X,Y…] (image pixels): turns on "Mark
 * background" and marks the windows under those points, as clicks on the
 * photo would (the same session call the canvas makes). */
static void
apply_background (Smoke *smoke)
{
  const char *spec = g_getenv ("MIRADA_SMOKE_BACKGROUND");
  MiradaDetectorPanel *panel = mirada_window_get_detector_panel (smoke->window);
  MiradaSession *session = mirada_window_get_session (smoke->window);
  g_auto(GStrv) points = NULL;

  smoke->examples_done = TRUE;
  if (spec == NULL || *spec == '\0')
    return;
  gtk_toggle_button_set_active (mirada_detector_panel_get_mark_background_button (panel), TRUE);
  points = g_strsplit (spec, ";", -1);
  for (guint i = 0; points[i]; i++)
    {
      g_auto(GStrv) xy = g_strsplit (points[i], ",", 2);
      g_autoptr(GError) error = NULL;

      if (xy[0] == NULL || xy[1] == NULL
          || !mirada_session_add_example (session, g_ascii_strtod (xy[0], NULL),
                                          g_ascii_strtod (xy[1], NULL),
                                          mirada_session_get_mark_label (session), &error))
        g_printerr ("mirada: smoke test: MIRADA_SMOKE_BACKGROUND: “%s”: %s\n", points[i],
                    error != NULL ? error->message : "not X,Y");
    }
  /* the screenshot shows the By Example rows: the sidebar scrolled to them */
  {
    GtkWidget *button = GTK_WIDGET (mirada_detector_panel_get_mark_background_button (panel));
    GtkWidget *scroller = gtk_widget_get_ancestor (button, GTK_TYPE_SCROLLED_WINDOW);
    graphene_point_t at;

    if (scroller != NULL
        && gtk_widget_compute_point (button, gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (scroller)),
                                     &GRAPHENE_POINT_INIT (0, 0), &at))
      gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller)),
                                MAX (0, at.y - 120));
  }
}

/* MIRADA_SMOKE_FIELD=CLASS[=THRESHOLD] (a class index): shows that class's
 * probability field and sets its threshold before the screenshot, as a
 * user would with the class's Field toggle and threshold slider. */
static void
apply_field (Smoke *smoke)
{
  const char *spec = g_getenv ("MIRADA_SMOKE_FIELD");
  MiradaDetectorPanel *panel = mirada_window_get_detector_panel (smoke->window);
  g_auto(GStrv) parts = NULL;
  guint k;

  smoke->field_done = TRUE;
  if (spec == NULL || *spec == '\0')
    return;
  parts = g_strsplit (spec, "=", 2);
  k = (guint) strtoul (parts[0], NULL, 10);
  if (k >= mirada_detector_panel_get_n_classes (panel))
    {
      g_printerr ("mirada: smoke test: MIRADA_SMOKE_FIELD: no class %u\n", k);
      return;
    }
  gtk_toggle_button_set_active (mirada_detector_panel_get_field_toggle (panel, k), TRUE);
  if (parts[1] != NULL)
    gtk_adjustment_set_value (mirada_detector_panel_get_threshold_adjustment (panel, k),
                              g_ascii_strtod (parts[1], NULL));
}

static gint64
canvas_frame (GtkWidget *canvas)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (canvas);

  return clock != NULL ? gdk_frame_clock_get_frame_counter (clock) : -1;
}

static gboolean
save_screenshot (GtkWidget *widget, const char *path, GError **error)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  if (node == NULL || renderer == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "nothing drawn");
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", path);
      return FALSE;
    }
  return TRUE;
}

static void
finish (Smoke *smoke, int status)
{
  g_object_set_data (G_OBJECT (smoke->app), "mirada-smoke-status", GINT_TO_POINTER (status));
  smoke->source = 0;
  g_application_quit (smoke->app);
}

static gboolean
check_cb (gpointer user_data)
{
  Smoke *smoke = user_data;
  GtkWidget *canvas = GTK_WIDGET (mirada_window_get_canvas (smoke->window));
  MirDetectResult *result = mirada_window_get_result (smoke->window);
  gboolean shown = result != NULL && result->boxes->len > 0 &&
                   !mirada_window_get_busy (smoke->window) && gtk_widget_get_mapped (canvas) &&
                   gtk_widget_get_width (canvas) > 0 && gtk_widget_get_height (canvas) > 0;

  if (shown && !smoke->examples_done)
    {
      apply_background (smoke);
      smoke->frame_at_result = -1;
      gtk_widget_queue_draw (canvas);
      return G_SOURCE_CONTINUE;
    }
  if (shown && !smoke->field_done)
    {
      apply_field (smoke);
      smoke->frame_at_result = -1;
      gtk_widget_queue_draw (canvas);
      return G_SOURCE_CONTINUE;
    }
  if (shown && !smoke->compare_done)
    {
      /* a second model beside the first, a window selected (issue 19) */
      smoke->compare_done = _mirada_window_compare_smoke_step (smoke->window);
      smoke->frame_at_result = -1;
      gtk_widget_queue_draw (canvas);
      return G_SOURCE_CONTINUE;
    }
  if (!shown)
    smoke->frame_at_result = -1;
  else if (smoke->frame_at_result < 0)
    smoke->frame_at_result = canvas_frame (canvas);
  else if (canvas_frame (canvas) > smoke->frame_at_result)
    {
      /* a frame was drawn with the boxes in place */
      const char *shot = g_getenv ("MIRADA_SMOKE_SCREENSHOT");
      g_autoptr(GError) error = NULL;

      if (shot != NULL && *shot != '\0' && !save_screenshot (GTK_WIDGET (smoke->window), shot, &error))
        {
          g_printerr ("mirada: smoke test: screenshot: %s\n", error->message);
          finish (smoke, 1);
          return G_SOURCE_REMOVE;
        }
      MirDetectTruth *truth = mirada_window_get_truth (smoke->window);
      g_autofree char *against = NULL;

      /* the scene's ground truth, as the sidebar reports it */
      if (truth != NULL && truth->boxes != NULL)
        {
          MirDetectEval eval = { 0 };

          mir_detect_evaluate (result, (const MirDetectTruthBox *) (gpointer) truth->boxes->data,
                               truth->boxes->len, 0.5, &eval);
          against = g_strdup_printf ("; ground truth: %u of %u found, precision %.3f, "
                                     "recall %.3f, F1 %.3f", eval.true_positives, eval.n_truth,
                                     eval.precision, eval.recall, eval.f1);
          mir_detect_eval_clear (&eval);
        }
      g_print ("mirada: smoke test: the window shows %u boxes on a %d×%d canvas%s\n",
               result->boxes->len, gtk_widget_get_width (canvas), gtk_widget_get_height (canvas),
               against != NULL ? against : "");
      finish (smoke, 0);
      return G_SOURCE_REMOVE;
    }
  else
    gtk_widget_queue_draw (canvas);

  if (g_get_monotonic_time () > smoke->deadline)
    {
      g_printerr ("mirada: smoke test: no boxes on screen after %s s (result: %s, busy: %s)\n",
                  g_getenv ("MIRADA_SMOKE_TIMEOUT") ? g_getenv ("MIRADA_SMOKE_TIMEOUT") : "120",
                  result == NULL ? "none" : "present",
                  mirada_window_get_busy (smoke->window) ? "yes" : "no");
      finish (smoke, 1);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
smoke_free (gpointer data)
{
  Smoke *smoke = data;

  g_clear_handle_id (&smoke->source, g_source_remove);
  g_free (smoke);
}

void
mirada_smoke_watch (GApplication *app, GtkWindow *window)
{
  const char *env = g_getenv ("MIRADA_SMOKE");
  const char *timeout = g_getenv ("MIRADA_SMOKE_TIMEOUT");
  Smoke *smoke;
  double seconds = 120;

  if (env == NULL || *env == '\0' || g_str_equal (env, "0") ||
      g_object_get_data (G_OBJECT (app), "mirada-smoke") != NULL)
    return;
  if (timeout != NULL && g_ascii_strtod (timeout, NULL) > 0)
    seconds = g_ascii_strtod (timeout, NULL);
  smoke = g_new0 (Smoke, 1);
  smoke->app = app;
  smoke->window = MIRADA_WINDOW (window);
  smoke->frame_at_result = -1;
  smoke->deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  smoke->source = g_timeout_add (50, check_cb, smoke);
  g_object_set_data_full (G_OBJECT (app), "mirada-smoke", smoke, smoke_free);
}
