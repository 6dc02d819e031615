/* mirada-timing.c: see mirada-timing.h.  Lines look like
 *   mirada-timing: 1.234 first-frame
 *   mirada-timing: 1.456 boxes partial 12 known 10/119 stride 40
 *   mirada-timing: 2.345 boxes complete 15 known 119/119 stride 40
 *   mirada-timing: 2.400 stride-change 20
 *   mirada-timing: 2.400 boxes-gone
 *   mirada-timing: 2.401 detection-started
 * (seconds since the process started; "boxes" when the frame after a new
 * result was painted). */
#define G_LOG_DOMAIN "mirada-timing"

#include "config.h"

#include <stdlib.h>

#include "mirada-timing.h"
#include "mirada-window.h"

typedef struct
{
  GApplication *app;
  MiradaWindow *window;
  MiradaSession *session;
  gint64 start;
  gboolean first_frame;
  gboolean pending;       /* a result waits for its frame */
  char *pending_text;
  char **strides;         /* MIRADA_TIMING_STRIDE=S[,S…], one after each complete result */
  guint next_stride;
} Timing;

static gint64 process_start;

static double
now_s (void)
{
  return (double) (g_get_monotonic_time () - process_start) / G_USEC_PER_SEC;
}

static gboolean
quit_cb (gpointer data)
{
  g_application_quit (data);
  return G_SOURCE_REMOVE;
}

/* The next stride of the list that changes something; FALSE when none is left. */
static gboolean
change_stride (Timing *t)
{
  MiradaSession *s = t->session;

  while (t->strides != NULL && t->strides[t->next_stride] != NULL)
    {
      int stride = atoi (t->strides[t->next_stride++]);

      if (stride < 1 || stride == mirada_session_get_stride (s))
        continue;
      g_printerr ("mirada-timing: %.4f stride-change %d\n", now_s (), stride);
      mirada_session_set_geometry (s, mirada_session_get_window_size (s), stride,
                                   mirada_session_get_levels (s),
                                   mirada_session_get_notebook_layout (s));
      return TRUE;
    }
  return FALSE;
}

static void
after_paint_cb (GdkFrameClock *clock,
                Timing        *t)
{
  if (!t->first_frame)
    {
      t->first_frame = TRUE;
      g_printerr ("mirada-timing: %.4f first-frame\n", now_s ());
    }
  if (t->pending)
    {
      gboolean complete = g_str_has_prefix (t->pending_text, "complete");

      t->pending = FALSE;
      g_printerr ("mirada-timing: %.4f boxes %s\n", now_s (), t->pending_text);
      if (complete && !change_stride (t))
        g_idle_add (quit_cb, t->app);
    }
}

static void
result_cb (MiradaSession *session,
           GParamSpec    *pspec,
           Timing        *t)
{
  MirDetectResult *result = mirada_session_get_result (session);
  MirDetectGrid *grid = mirada_session_get_grid (session);
  gboolean busy = mirada_session_get_busy (session);

  if (result == NULL || result->boxes->len == 0)
    {
      g_printerr ("mirada-timing: %.4f boxes-gone%s\n", now_s (), busy ? " (busy)" : "");
      if (result == NULL || busy)
        return;
    }
  g_free (t->pending_text);
  t->pending_text = g_strdup_printf ("%s %u known %u/%u stride %d window %d", busy ? "partial" : "complete",
                                     result->boxes->len, mir_detect_grid_count_known (grid),
                                     mir_detect_geometry_n_windows (&grid->geom),
                                     grid->geom.stride, grid->geom.window);
  t->pending = TRUE;
  gtk_widget_queue_draw (GTK_WIDGET (mirada_window_get_canvas (t->window)));
}

static void
started_cb (MiradaSession *session,
            Timing        *t)
{
  g_printerr ("mirada-timing: %.4f detection-started\n", now_s ());
}

static void
realize_cb (GtkWidget *widget,
            Timing    *t)
{
  g_signal_connect (gtk_widget_get_frame_clock (widget), "after-paint",
                    G_CALLBACK (after_paint_cb), t);
}

static void
timing_free (gpointer data)
{
  Timing *t = data;

  g_free (t->pending_text);
  g_strfreev (t->strides);
  g_free (t);
}

void
mirada_timing_watch (GApplication *app,
                     GtkWindow    *window)
{
  const char *env = g_getenv ("MIRADA_TIMING");
  const char *stride = g_getenv ("MIRADA_TIMING_STRIDE");
  Timing *t;

  if (env == NULL || *env == '\0' || g_str_equal (env, "0") ||
      g_object_get_data (G_OBJECT (app), "mirada-timing") != NULL)
    return;
  t = g_new0 (Timing, 1);
  t->app = app;
  t->window = MIRADA_WINDOW (window);
  t->session = mirada_window_get_session (t->window);
  t->strides = stride != NULL ? g_strsplit (stride, ",", -1) : NULL;
  g_signal_connect (t->session, "notify::result", G_CALLBACK (result_cb), t);
  g_signal_connect (t->session, "detection-started", G_CALLBACK (started_cb), t);
  if (gtk_widget_get_realized (GTK_WIDGET (window)))
    realize_cb (GTK_WIDGET (window), t);
  else
    g_signal_connect (window, "realize", G_CALLBACK (realize_cb), t);
  g_object_set_data_full (G_OBJECT (app), "mirada-timing", t, timing_free);
}

/* The process's start, as near as a constructor gets. */
__attribute__((constructor)) static void
timing_init (void)
{
  process_start = g_get_monotonic_time ();
}
