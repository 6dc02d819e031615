/* test-session.c: MiradaSession without a window: opens the built-in model
 * and scene through its workers, waits for the boxes, and compares them with
 * mir_detect_classify() + mir_detect_filter() called directly; a threshold
 * re-filters the same grid, a stride classifies again, and a cancel brings
 * back the last complete grid, its boxes and its geometry.  Last, the
 * detector panel in the loop: it pushes its settings into the session and
 * follows a cancel back. */
#define G_LOG_DOMAIN "test-session"

#include "config.h"

#include <locale.h>
#include <math.h>
#include <string.h>

#include <adwaita.h>

#include "detect/mir-detect.h"
#include "mirada-activations-panel.h"
#include "mirada-detector-panel.h"
#include "mirada-heatmap-panel.h"
#include "mirada-job.h"
#include "mirada-session.h"
#include "mirada-sweep-dialog.h"

#include "mir-test-gui.h"
#include "mir-test-util.h"

#define WINDOW_SIZE 150
#define STRIDE 40

static double time_scale = 1.0;

typedef struct
{
  guint grid;
  guint result;
  guint started;
  guint finished;
  guint errors;
} Counts;

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          guint      *counter)
{
  (*counter)++;
}

static void
signal_count_cb (MiradaSession *session,
                 guint         *counter)
{
  (*counter)++;
}

static void
error_cb (MiradaSession *session,
          const char    *what,
          const GError  *error,
          Counts        *counts)
{
  g_test_message ("error: %s: %s", what, error->message);
  counts->errors++;
}

/* @timeout_s is scaled for sanitizer builds. */
static void
wait_until (gboolean (*done) (MiradaSession *), MiradaSession *session, double timeout_s,
            const char *what)
{
  mir_test_wait_until ((gboolean (*) (gpointer)) done, session, timeout_s * time_scale, what);
}

static gboolean
has_result (MiradaSession *session)
{
  return !mirada_session_get_busy (session) && mirada_session_get_result (session) != NULL;
}

static gboolean
not_busy (MiradaSession *session)
{
  return !mirada_session_get_busy (session);
}

static MirDetectParams *
make_params (MirModel *model,
             double    threshold)
{
  MirDetectParams *params = mir_detect_params_new (mir_model_get_n_classes (model), MIR_DETECT_METHOD_2_1);

  for (guint k = 0; k < params->n_classes; k++)
    params->classes[k].threshold = threshold;
  return params;
}

/* The session's grid and boxes against the engine called directly. */
static void
check_against_engine (MiradaSession         *session,
                      int                    stride,
                      const MirDetectParams *params)
{
  MirModel *model = mirada_session_get_model (session);
  MirImage *image = mirada_session_get_image (session);
  MirDetectGrid *grid = mirada_session_get_grid (session);
  MirDetectResult *result = mirada_session_get_result (session);
  g_autoptr(MirDetectResult) expected = NULL;
  g_autoptr(GError) error = NULL;
  MirDetectGeometry geom;
  MirDetectGrid *direct;
  guint n;

  g_assert_nonnull (grid);
  g_assert_nonnull (result);
  g_assert_true (mir_detect_geometry_init (&geom, image->width, image->height, WINDOW_SIZE, stride,
                                           FALSE, &error));
  g_assert_no_error (error);
  direct = mir_detect_classify (model, image, &geom, 0, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (direct);

  n = mir_detect_geometry_n_windows (&geom);
  g_assert_cmpint (grid->geom.stride, ==, stride);
  g_assert_cmpint (grid->geom.rows, ==, direct->geom.rows);
  g_assert_cmpint (grid->geom.cols, ==, direct->geom.cols);
  g_assert_cmpuint (grid->n_classes, ==, direct->n_classes);
  /* the window classifies the windows coarse first, in other batches (issue
   * 23): equal to rounding */
  for (guint i = 0; i < n; i++)
    for (guint k = 0; k < grid->n_classes; k++)
      g_assert_cmpfloat_with_epsilon (mir_detect_grid_get (grid, i, k),
                                      mir_detect_grid_get (direct, i, k), 1e-6);

  expected = mir_detect_filter (direct, params, &error);
  g_assert_no_error (error);
  g_test_message ("stride %d: %u windows, %u boxes", stride, n, expected->boxes->len);
  g_assert_cmpuint (result->boxes->len, ==, expected->boxes->len);
  for (guint i = 0; i < expected->boxes->len; i++)
    {
      const MirDetectBox *a = &g_array_index (result->boxes, MirDetectBox, i);
      const MirDetectBox *b = &g_array_index (expected->boxes, MirDetectBox, i);

      g_assert_cmpuint (a->class_index, ==, b->class_index);
      g_assert_cmpuint (a->window, ==, b->window);
      g_assert_cmpfloat_with_epsilon (a->prob, b->prob, 1e-6);
      g_assert_cmpfloat (a->x, ==, b->x);
      g_assert_cmpfloat (a->y, ==, b->y);
      g_assert_cmpfloat (a->width, ==, b->width);
      g_assert_cmpfloat (a->height, ==, b->height);
    }
  for (guint k = 0; k < grid->n_classes; k++)
    g_assert_cmpuint (result->counts[k], ==, expected->counts[k]);
  mir_detect_grid_unref (direct);
}

static void
test_session_detect (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(MirDetectParams) strict = NULL;
  Counts counts = { 0 };
  MirDetectGrid *grid, *grid40;
  MirDetectResult *result;
  guint n_results, n_boxes;

  g_signal_connect (session, "notify::grid", G_CALLBACK (count_cb), &counts.grid);
  g_signal_connect (session, "notify::result", G_CALLBACK (count_cb), &counts.result);
  g_signal_connect (session, "detection-started", G_CALLBACK (signal_count_cb), &counts.started);
  g_signal_connect (session, "detection-finished", G_CALLBACK (signal_count_cb), &counts.finished);
  g_signal_connect (session, "error", G_CALLBACK (error_cb), &counts);

  /* the built-in model and scene (the binary's resources), through the workers */
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  g_assert_true (mirada_session_open_defaults (session));
  g_assert_true (mirada_session_get_busy (session));
  wait_until (not_busy, session, 120, "the built-in model and scene");
  g_assert_cmpuint (counts.errors, ==, 0);
  g_assert_nonnull (mirada_session_get_model (session));
  g_assert_nonnull (mirada_session_get_image (session));
  g_assert_nonnull (mirada_session_get_texture (session));
  g_assert_cmpint (mirada_session_get_image (session)->width, ==, 800);
  g_assert_cmpstr (mirada_session_get_image_name (session), ==, "scene.png");
  g_assert_cmpstr (mirada_session_get_model_name (session), ==, "model.h5");
  g_assert_cmpuint (mir_model_get_n_classes (mirada_session_get_model (session)), ==, 11);
  {
    g_autofree char *name = mirada_session_dup_class_name (session, 10);

    g_assert_cmpstr (name, ==, "background");
  }
  /* the grid is there, the boxes wait for the filter's parameters */
  g_assert_nonnull (mirada_session_get_grid (session));
  g_assert_null (mirada_session_get_result (session));
  g_assert_cmpstr (mirada_session_get_truth_name (session), ==, "scene.json");
  g_assert_nonnull (mirada_session_get_truth (session));

  params = make_params (mirada_session_get_model (session), 0.5);
  params->classes[10].enabled = FALSE;  /* "background", as the detector panel starts */
  mirada_session_set_params (session, params);
  g_assert_true (has_result (session));
  check_against_engine (session, STRIDE, params);
  result = mirada_session_get_result (session);
  g_assert_cmpuint (result->boxes->len, >, 0);

  /* a threshold: the same grid filtered again on the spot, no job */
  grid = mirada_session_get_grid (session);
  n_results = counts.result;
  n_boxes = result->boxes->len;
  strict = mir_detect_params_copy (params);
  for (guint k = 0; k < strict->n_classes; k++)
    strict->classes[k].threshold = 0.99;
  mirada_session_set_params (session, strict);
  g_assert_false (mirada_session_get_busy (session));
  g_assert_true (mirada_session_get_grid (session) == grid);
  g_assert_cmpuint (counts.result, ==, n_results + 1);
  g_assert_cmpuint (counts.started, ==, 1);
  g_assert_cmpuint (mirada_session_get_result (session)->boxes->len, <, n_boxes);
  check_against_engine (session, STRIDE, strict);
  mirada_session_set_params (session, params);
  check_against_engine (session, STRIDE, params);

  /* a stride: classify again */
  grid40 = mir_detect_grid_ref (grid);
  mirada_session_set_geometry (session, WINDOW_SIZE, 50, 1, FALSE);
  g_assert_true (mirada_session_get_busy (session));
  /* issue 23: the grid shown stays until the new one's first partial grid */
  g_assert_true (mirada_session_get_grid (session) == grid40);
  g_assert_cmpuint (counts.started, ==, 2);
  wait_until (has_result, session, 120, "the stride-50 grid");
  g_assert_false (mirada_session_get_grid (session) == grid40);
  check_against_engine (session, 50, params);
  mir_detect_grid_unref (grid40);

  /* Esc during a re-classification: the last complete grid, its boxes and
   * its geometry come back (not an empty canvas) */
  grid = mirada_session_get_grid (session);
  n_boxes = mirada_session_get_result (session)->boxes->len;
  mirada_session_set_geometry (session, WINDOW_SIZE, 30, 1, FALSE);
  g_assert_true (mirada_session_get_busy (session));
  g_assert_true (mirada_session_get_grid (session) == grid);
  g_assert_cmpint (mirada_session_get_stride (session), ==, 30);
  n_results = counts.finished;
  mirada_session_cancel (session);
  g_assert_true (mirada_session_get_grid (session) == grid);
  g_assert_nonnull (mirada_session_get_result (session));
  g_assert_cmpuint (mirada_session_get_result (session)->boxes->len, ==, n_boxes);
  g_assert_cmpint (mirada_session_get_stride (session), ==, 50);
  g_assert_cmpuint (counts.finished, ==, n_results + 1);
  g_assert_nonnull (mirada_session_get_truth (session));
  wait_until (not_busy, session, 120, "the cancelled job to stop");
  /* the cancelled job's grid never lands */
  g_assert_true (mirada_session_get_grid (session) == grid);
  check_against_engine (session, 50, params);

  /* going back to the last grid's geometry while a new one runs: the same */
  mirada_session_set_geometry (session, WINDOW_SIZE, 30, 1, FALSE);
  g_assert_true (mirada_session_get_busy (session));
  mirada_session_set_geometry (session, WINDOW_SIZE, 50, 1, FALSE);
  g_assert_true (mirada_session_get_grid (session) == grid);
  g_assert_nonnull (mirada_session_get_result (session));
  wait_until (not_busy, session, 120, "the abandoned job to stop");
  g_assert_true (mirada_session_get_grid (session) == grid);

  /* the same geometry again: nothing to do */
  n_results = counts.started;
  mirada_session_set_geometry (session, WINDOW_SIZE, 50, 1, FALSE);
  g_assert_false (mirada_session_get_busy (session));
  g_assert_cmpuint (counts.started, ==, n_results);

  /* a completed re-classification replaces the grid for good: a later cancel
   * has nothing to bring back */
  mirada_session_set_geometry (session, WINDOW_SIZE, 60, 1, FALSE);
  wait_until (has_result, session, 120, "the stride-60 grid");
  check_against_engine (session, 60, params);
  grid = mirada_session_get_grid (session);
  mirada_session_cancel (session);
  g_assert_true (mirada_session_get_grid (session) == grid);
  g_assert_cmpint (mirada_session_get_stride (session), ==, 60);

  /* issue 23: back to the first stride after 50 and 60, every window comes
   * from the first grid, kept since: nothing is classified, so the grid
   * changes once, when the result lands (no partial grids) */
  n_results = counts.grid;
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  wait_until (has_result, session, 120, "the first stride's grid again");
  g_assert_cmpuint (counts.grid, ==, n_results + 1);
  check_against_engine (session, STRIDE, params);
  g_assert_cmpuint (counts.errors, ==, 0);
}

/* A geometry the image cannot hold: a note, no grid, no job; a good one
 * classifies again and clears the note. */
static void
test_session_bad_geometry (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MirImage) image = mir_image_new (64, 48, 3, &error);
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirDetectParams) params = NULL;

  g_assert_no_error (error);
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  g_assert_true (mirada_session_open_defaults (session));
  wait_until (not_busy, session, 120, "the built-in model and scene");
  model = mir_model_ref (mirada_session_get_model (session));
  params = make_params (model, 0.5);
  mirada_session_set_params (session, params);
  g_assert_nonnull (mirada_session_get_result (session));

  mirada_session_set_image (session, image);  /* 64×48: a 150 px window does not fit */
  g_assert_false (mirada_session_get_busy (session));
  g_assert_null (mirada_session_get_grid (session));
  g_assert_null (mirada_session_get_result (session));
  g_assert_nonnull (mirada_session_get_note (session));
  g_assert_null (mirada_session_get_truth_name (session));

  mirada_session_set_geometry (session, 32, 16, 1, FALSE);
  wait_until (has_result, session, 120, "the small image's grid");
  g_assert_null (mirada_session_get_note (session));
  g_assert_cmpint (mirada_session_get_grid (session)->geom.cols, ==, 3);
}

static gboolean
notebook_grid (MiradaSession *session)
{
  MirDetectGrid *grid = mirada_session_get_grid (session);

  return !mirada_session_get_busy (session) && grid != NULL && grid->geom.notebook_layout;
}

static gboolean
plain_grid (MiradaSession *session)
{
  MirDetectGrid *grid = mirada_session_get_grid (session);

  return has_result (session) && !grid->geom.notebook_layout;
}

static gboolean
stride_job_running (MiradaSession *session)
{
  return mirada_session_get_busy (session) && mirada_session_get_stride (session) == 20;
}

static gboolean
panel_stride_back (MiradaSession *session)
{
  MiradaDetectorPanel *panel = g_object_get_data (G_OBJECT (session), "panel");

  return !mirada_session_get_busy (session) && mirada_detector_panel_get_stride (panel) == STRIDE;
}

/* The detector panel drives the session: its geometry and parameters go in
 * (the notebook switch changes both), its counts follow the result, and a
 * cancel puts its stride back. */
static void
test_session_detector_panel (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  MiradaDetectorPanel *panel;
  MirDetectResult *result;
  MirDetectGrid *grid;

  g_settings_set_int (settings, "window-size", WINDOW_SIZE);
  g_settings_set_int (settings, "stride", STRIDE);
  g_settings_set_boolean (settings, "notebook-compat", FALSE);
  panel = g_object_ref_sink (g_object_new (MIRADA_TYPE_DETECTOR_PANEL, NULL));
  g_object_set_data (G_OBJECT (session), "panel", panel);
  mirada_detector_panel_set_session (panel, session);
  g_assert_cmpint (mirada_session_get_stride (session), ==, STRIDE);

  g_assert_true (mirada_session_open_defaults (session));
  wait_until (has_result, session, 120, "the built-in model and scene");
  g_assert_cmpuint (mirada_detector_panel_get_n_classes (panel), ==, 11);
  g_assert_cmpuint (mirada_session_get_params (session)->n_classes, ==, 11);
  g_assert_false (mirada_session_get_params (session)->notebook_compat);
  result = mirada_session_get_result (session);
  for (guint k = 0; k < 11; k++)
    {
      g_autofree char *count = g_strdup_printf ("%u", result->counts[k]);

      g_assert_cmpstr (mirada_detector_panel_get_count_text (panel, k), ==, count);
    }

  /* the notebook switch: the layout (classify again) and the filter's rule */
  g_settings_set_boolean (settings, "notebook-compat", TRUE);
  wait_until (notebook_grid, session, 120, "the notebook layout's grid");
  g_assert_true (mirada_session_get_params (session)->notebook_compat);
  g_assert_cmpint (mirada_session_get_grid (session)->geom.cols, ==, 16);
  g_settings_set_boolean (settings, "notebook-compat", FALSE);
  wait_until (plain_grid, session, 120, "the grid without the notebook layout");
  g_assert_false (mirada_session_get_params (session)->notebook_compat);

  /* a new stride from the panel, cancelled: the panel's stride comes back */
  grid = mirada_session_get_grid (session);
  g_settings_set_int (settings, "stride", 20);
  wait_until (stride_job_running, session, 10, "the stride-20 job");
  mirada_session_cancel (session);
  g_assert_true (mirada_session_get_grid (session) == grid);
  wait_until (panel_stride_back, session, 120, "the panel's stride");
  g_assert_cmpint (g_settings_get_int (settings, "stride"), ==, STRIDE);
  g_assert_true (mirada_session_get_grid (session) == grid);
  g_assert_nonnull (mirada_session_get_result (session));
  g_assert_cmpstr (mirada_detector_panel_get_count_text (panel, 1), !=, "–");

  mirada_detector_panel_set_session (panel, NULL);
  g_object_unref (panel);
}

static gboolean
grouping_is (GSettings  *settings,
             const char *value)
{
  g_autofree char *grouping = g_settings_get_string (settings, "grouping");

  return g_strcmp0 (grouping, value) == 0;
}

/* The background rule (engine) and the first view it gives: a model without
 * a background class starts with grouping on (merge) unless the user chose
 * one, and says so; a background class
 * starts unchecked and is never looked for. */
static void
test_session_background_class (void)
{
  static const char *const with_bg[] = { "cat", "  Background ", NULL };
  static const char *const with_fondo[] = { "gato", "FONDO", "perro", NULL };
  static const char *const with_under[] = { "__background__", "car", NULL };
  static const char *const without[] = { "cat", "dog", "backgrounds", NULL };
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  g_autoptr(MirDetectParams) params = NULL;
  MiradaDetectorPanel *panel;

  g_assert_cmpint (mir_detect_find_background_class (with_bg), ==, 1);
  g_assert_cmpint (mir_detect_find_background_class (with_fondo), ==, 1);
  g_assert_cmpint (mir_detect_find_background_class (with_under), ==, 0);
  g_assert_cmpint (mir_detect_find_background_class (without), ==, -1);
  g_assert_cmpint (mir_detect_find_background_class (NULL), ==, -1);

  g_settings_set_string (settings, "grouping", "none");
  panel = g_object_ref_sink (g_object_new (MIRADA_TYPE_DETECTOR_PANEL, NULL));

  /* a background class: unchecked, insensitive, off in the params; grouping as set */
  mirada_detector_panel_set_classes (panel, 2, with_bg);
  g_assert_cmpint (mirada_detector_panel_get_background_class (panel), ==, 1);
  g_assert_null (mirada_detector_panel_get_background_note (panel));
  g_assert_true (grouping_is (settings, "none"));
  params = mirada_detector_panel_dup_params (panel);
  g_assert_true (params->classes[0].enabled);
  g_assert_false (params->classes[1].enabled);
  g_clear_pointer (&params, mir_detect_params_free);
  mirada_detector_panel_set_enabled (panel, 1, TRUE);
  params = mirada_detector_panel_dup_params (panel);
  g_assert_false (params->classes[1].enabled);
  g_clear_pointer (&params, mir_detect_params_free);

  /* none: grouping starts on (merge, not the schema's NMS) and the sidebar says why */
  g_settings_reset (settings, "grouping");
  mirada_detector_panel_set_classes (panel, 3, without);
  g_assert_cmpint (mirada_detector_panel_get_background_class (panel), ==, -1);
  g_assert_nonnull (mirada_detector_panel_get_background_note (panel));
  g_assert_nonnull (g_strstr_len (mirada_detector_panel_get_background_note (panel), -1, "grouped"));
  g_assert_true (grouping_is (settings, "merge"));
  params = mirada_detector_panel_dup_params (panel);
  g_assert_cmpint (params->grouping, ==, MIR_DETECT_GROUP_MERGE);
  for (guint k = 0; k < 3; k++)
    g_assert_true (params->classes[k].enabled);

  /* a grouping the user chose is kept; turned off, the note goes */
  g_settings_set_string (settings, "grouping", "nms");
  mirada_detector_panel_set_classes (panel, 3, without);
  g_assert_true (grouping_is (settings, "nms"));
  g_assert_nonnull (mirada_detector_panel_get_background_note (panel));
  g_settings_set_string (settings, "grouping", "none");
  mirada_detector_panel_set_classes (panel, 3, without);
  g_assert_true (grouping_is (settings, "none"));
  g_assert_null (mirada_detector_panel_get_background_note (panel));
  g_settings_reset (settings, "grouping");
  g_object_unref (panel);
}

static void
wait_sweep (MiradaSweepDialog *sweep)
{
  gint64 end = g_get_monotonic_time () + (gint64) (30 * time_scale * G_USEC_PER_SEC);

  while (mirada_sweep_dialog_get_running (sweep))
    {
      if (g_get_monotonic_time () > end)
        g_error ("timed out waiting for the sweep");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* The sidebar's controls: the exception factor is greyed out (and says why)
 * in method 1, the keyboard moves a threshold by 0.01 and 0.05, and numbers a
 * person reads follow the locale (IoU ≥ 0,5 beside 0,500 in Spanish). */
static void
test_session_panel_controls (void)
{
  static const char *const names[] = { "cat", "dog", NULL };
  g_autoptr(GSettings) settings = g_settings_new ("io.github.mirada.Mirada");
  MirDetectEval eval = { 0 };
  MiradaDetectorPanel *panel;
  GtkAdjustment *adj;
  const char *detail;
  char *old_locale;

  g_settings_set_string (settings, "method", "1");
  panel = g_object_ref_sink (g_object_new (MIRADA_TYPE_DETECTOR_PANEL, NULL));
  mirada_detector_panel_set_classes (panel, 2, names);
  for (guint k = 0; k < 2; k++)
    g_assert_false (mirada_detector_panel_get_exception_sensitive (panel, k));
  g_settings_set_string (settings, "method", "2.1");
  for (guint k = 0; k < 2; k++)
    g_assert_true (mirada_detector_panel_get_exception_sensitive (panel, k));
  g_settings_set_string (settings, "method", "1");
  g_assert_false (mirada_detector_panel_get_exception_sensitive (panel, 1));
  g_settings_set_string (settings, "method", "2.2");
  g_assert_true (mirada_detector_panel_get_exception_sensitive (panel, 1));

  adj = mirada_detector_panel_get_threshold_adjustment (panel, 0);
  g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_step_increment (adj), 0.01, 1e-12);
  g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_page_increment (adj), 0.05, 1e-12);
  adj = mirada_detector_panel_get_exception_adjustment (panel, 0);
  g_assert_cmpfloat_with_epsilon (gtk_adjustment_get_step_increment (adj), 0.01, 1e-12);

  old_locale = g_strdup (setlocale (LC_NUMERIC, NULL));
  if (setlocale (LC_NUMERIC, "es_ES.UTF-8") == NULL)
    g_test_message ("es_ES.UTF-8 not installed: the decimal comma is not checked");
  else
    {
      eval.precision = eval.recall = eval.f1 = 0.5;
      eval.true_positives = 1;
      eval.n_truth = eval.n_detected = 2;
      mirada_detector_panel_set_evaluation (panel, &eval, "scene.json");
      detail = mirada_detector_panel_get_evaluation_detail (panel);
      g_test_message ("%s · %s", mirada_detector_panel_get_evaluation_text (panel), detail);
      g_assert_nonnull (g_strstr_len (detail, -1, "0,5"));
      g_assert_null (g_strstr_len (detail, -1, "0.5"));
      g_assert_nonnull (g_strstr_len (mirada_detector_panel_get_evaluation_text (panel), -1, "0,500"));
    }
  /* the sweep's list of exception factors: "0; 0,5; 1" in Spanish, read back */
  if (setlocale (LC_NUMERIC, "es_ES.UTF-8") != NULL)
    {
      static const float probs[2 * 2 * 2] = { 0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.3f, 0.7f };
      static const double fe[] = { 0.25, 0.75 };
      g_autoptr(MirDetectParams) base = mir_detect_params_new (2, MIR_DETECT_METHOD_2_2);
      g_autoptr(GError) error = NULL;
      MirDetectGeometry geom;
      MirDetectGrid *grid;
      MiradaSweepDialog *sweep = mirada_sweep_dialog_new (NULL);

      g_assert_true (mir_detect_geometry_init (&geom, 40, 40, 20, 20, FALSE, &error));
      grid = mir_detect_grid_new (&geom, 2, names, MIR_HEAD_SOFTMAX, probs, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (mirada_sweep_dialog_get_exceptions_text (sweep), ==, "0; 0,5; 1");
      mirada_sweep_dialog_set_input (sweep, grid, base, NULL);
      wait_sweep (sweep);
      g_assert_cmpuint (mirada_sweep_dialog_get_n_rows (sweep) % 3, ==, 0);
      g_assert_cmpfloat (mirada_sweep_dialog_get_row (sweep, mirada_sweep_dialog_get_n_rows (sweep) / 3)->exception, ==, 0.5);
      mirada_sweep_dialog_set_range (sweep, 0.5, 0.9, 0.2, fe, G_N_ELEMENTS (fe));
      g_assert_cmpstr (mirada_sweep_dialog_get_exceptions_text (sweep), ==, "0,25; 0,75");
      wait_sweep (sweep);
      g_assert_cmpuint (mirada_sweep_dialog_get_n_rows (sweep), ==, 3 * 2);
      g_assert_cmpfloat (mirada_sweep_dialog_get_row (sweep, 3)->exception, ==, 0.75);
      gtk_window_destroy (GTK_WINDOW (sweep));
      mir_detect_grid_unref (grid);
    }
  setlocale (LC_NUMERIC, old_locale);
  g_free (old_locale);
  g_settings_reset (settings, "method");
  g_object_unref (panel);
}

static gboolean
has_model (MiradaSession *session)
{
  return !mirada_session_get_busy (session) && mirada_session_get_model (session) != NULL;
}

/* Open TF.js Folder hands the session a folder: the loader takes it. */
static void
test_session_tfjs_folder (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "data", "formats", "tfjs-float32", NULL);
  g_autoptr(GFile) folder = g_file_new_for_path (dir);

  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  mirada_session_open_model (session, folder);
  wait_until (has_model, session, 60, "the TF.js model from its folder");
  g_assert_cmpuint (mir_model_get_n_classes (mirada_session_get_model (session)), >, 0);
}

/* Model Properties with other class names only (the same preprocessing and
 * resize): the grid keeps its probabilities and the boxes stay, the names
 * follow, and no classification runs. */
static void
busy_cb (MiradaSession *session,
         GParamSpec    *pspec,
         gboolean      *was_busy)
{
  if (mirada_session_get_busy (session))
    *was_busy = TRUE;
}

static void
test_session_rename_classes (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree float *probs = NULL;
  MirModelMeta meta;
  MirDetectGrid *grid, *grid2;
  MirDetectResult *result, *result2;
  Counts counts = { 0 };
  gboolean was_busy = FALSE;
  gsize n_values;
  guint n_classes;

  g_signal_connect (session, "error", G_CALLBACK (error_cb), &counts);
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  g_assert_true (mirada_session_open_defaults (session));
  wait_until (not_busy, session, 120, "the built-in model and scene");
  params = make_params (mirada_session_get_model (session), 0.99);
  mirada_session_set_params (session, params);
  wait_until (has_result, session, 120, "the first boxes");
  grid = mir_detect_grid_ref (mirada_session_get_grid (session));
  result = mir_detect_result_ref (mirada_session_get_result (session));
  g_assert_cmpuint (result->boxes->len, >, 0);
  n_classes = grid->n_classes;
  n_values = (gsize) mir_detect_geometry_n_windows (&grid->geom) * n_classes;
  probs = g_memdup2 (grid->probs, n_values * sizeof (float));

  /* every class renamed (in capitals: the ground truth beside the scene,
   * matched ignoring case, still reads), the rest of the meta as it is */
  for (guint k = 0; k < n_classes; k++)
    {
      g_autofree char *old = mirada_session_dup_class_name (session, k);
      char *name = g_utf8_strup (old, -1);

      g_assert_cmpstr (name, !=, old);
      g_ptr_array_add (names, name);
    }
  g_ptr_array_add (names, NULL);
  meta = mirada_session_get_model (session)->meta;
  meta.class_names = (char **) names->pdata;
  g_signal_connect (session, "notify::busy", G_CALLBACK (busy_cb), &was_busy);
  g_signal_connect (session, "detection-started", G_CALLBACK (signal_count_cb), &counts.started);
  g_signal_connect (session, "notify::result", G_CALLBACK (count_cb), &counts.result);
  g_assert_true (mirada_session_apply_model_meta (session, &meta, &error));
  g_assert_no_error (error);

  /* no job, not even for a moment */
  g_assert_false (was_busy);
  g_assert_false (mirada_session_get_busy (session));
  g_assert_cmpuint (counts.started, ==, 0);
  g_assert_cmpuint (counts.result, >=, 1);
  grid2 = mirada_session_get_grid (session);
  result2 = mirada_session_get_result (session);
  g_assert_nonnull (grid2);
  g_assert_nonnull (result2);
  g_assert_cmpuint (grid2->n_classes, ==, n_classes);
  g_assert_cmpint (grid2->geom.rows, ==, grid->geom.rows);
  g_assert_cmpint (grid2->geom.cols, ==, grid->geom.cols);
  g_assert_cmpmem (grid2->probs, n_values * sizeof (float), probs, n_values * sizeof (float));
  /* the same boxes */
  g_assert_cmpuint (result2->boxes->len, ==, result->boxes->len);
  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *a = &g_array_index (result->boxes, MirDetectBox, i);
      const MirDetectBox *b = &g_array_index (result2->boxes, MirDetectBox, i);

      g_assert_cmpuint (a->class_index, ==, b->class_index);
      g_assert_cmpfloat (a->prob, ==, b->prob);
      g_assert_cmpfloat (a->x, ==, b->x);
      g_assert_cmpfloat (a->y, ==, b->y);
    }
  /* the new names everywhere */
  for (guint k = 0; k < n_classes; k++)
    {
      g_autofree char *name = mirada_session_dup_class_name (session, k);

      g_assert_cmpstr (name, ==, names->pdata[k]);
      g_assert_cmpstr (grid2->class_names[k], ==, names->pdata[k]);
    }
  g_assert_nonnull (mirada_session_get_truth (session));
  g_assert_cmpuint (counts.errors, ==, 0);
  mir_detect_grid_unref (grid);
  mir_detect_result_unref (result);

  /* other preprocessing: that changes the probabilities, so it classifies */
  meta.preprocess = meta.preprocess == MIR_PREPROCESS_SCALE ? MIR_PREPROCESS_NONE : MIR_PREPROCESS_SCALE;
  g_assert_true (mirada_session_apply_model_meta (session, &meta, &error));
  g_assert_no_error (error);
  g_assert_true (was_busy);
  g_assert_cmpuint (counts.started, ==, 1);
  wait_until (has_result, session, 120, "the boxes under the other preprocessing");
  g_assert_cmpuint (counts.errors, ==, 0);
}

/* The activations panel starts on the first convolution, past the
 * preprocessing layers (Rescaling, RandomFlip: their output is the image
 * again); the heat-map panel on Keras' last convolutional layer. */
static const char *preprocessing_config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"pre\", \"layers\": ["
  "{\"class_name\": \"Rescaling\", \"config\": {\"name\": \"rescale\", \"scale\": 0.00392156862, "
  "\"offset\": 0.0, \"batch_input_shape\": [null, 16, 16, 3]}},"
  "{\"class_name\": \"RandomFlip\", \"config\": {\"name\": \"flip\", \"mode\": \"horizontal\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 4, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\"}},"
  "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"p\", \"units\": 3, "
  "\"activation\": \"softmax\"}}]}}";

static void
test_session_first_conv (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(MirModel) model = mir_test_model_from_config (preprocessing_config, 3);
  MiradaPanel *activations = MIRADA_PANEL (g_object_ref_sink (mirada_activations_panel_new ()));
  MiradaPanel *heatmap = MIRADA_PANEL (g_object_ref_sink (mirada_heatmap_panel_new ()));
  gint first_conv = -1;

  /* the first node whose class is a convolution, found here */
  for (guint i = 0; i < mir_model_get_n_nodes (model) && first_conv < 0; i++)
    {
      MirNode *node = mir_model_get_node (model, i);

      if (node->layer != NULL && g_str_equal (node->layer->klass->name, "Conv2D"))
        first_conv = (gint) i;
    }
  g_assert_cmpint (first_conv, ==, mir_model_find_node (model, "c1"));
  mirada_panel_set_session (activations, session);
  mirada_panel_set_session (heatmap, session);
  mirada_session_set_model (session, model);
  g_assert_cmpint (mirada_panel_get_layer (activations), ==, first_conv);
  g_assert_cmpint (mirada_panel_get_layer (heatmap), ==, mir_model_find_last_conv (model));
  g_assert_cmpint (mirada_panel_get_layer (heatmap), ==, mir_model_find_node (model, "c2"));

  mirada_panel_set_session (activations, NULL);
  mirada_panel_set_session (heatmap, NULL);
  g_object_unref (activations);
  g_object_unref (heatmap);
}

/* Background and classes by example (issue 18): a click's session call gives
 * the grid and boxes the engine gives for the same windows
 * (mir_detect_grid_apply_examples, itself checked against numpy by
 * test-detect-examples.py); a new stride keeps the examples; clearing them
 * brings back the model's grid and boxes. */
static MirDetectParams *
params_for (guint n_classes, double threshold)
{
  MirDetectParams *params = mir_detect_params_new (n_classes, MIR_DETECT_METHOD_1);

  for (guint k = 0; k < n_classes; k++)
    params->classes[k].threshold = threshold;
  return params;
}

static void
check_boxes_equal (MirDetectResult *a, MirDetectResult *b)
{
  g_assert_nonnull (a);
  g_assert_cmpuint (a->boxes->len, ==, b->boxes->len);
  for (guint i = 0; i < a->boxes->len; i++)
    {
      const MirDetectBox *x = &g_array_index (a->boxes, MirDetectBox, i);
      const MirDetectBox *y = &g_array_index (b->boxes, MirDetectBox, i);

      g_assert_cmpuint (x->class_index, ==, y->class_index);
      g_assert_cmpuint (x->window, ==, y->window);
      /* a grid classified again comes in another batch order (issue 23) */
      g_assert_cmpfloat_with_epsilon (x->prob, y->prob, 1e-6);
    }
}

static void
test_session_examples (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(MirDetectExamples) direct = mir_detect_examples_new ();
  g_autoptr(MirDetectGrid) model_grid = NULL;
  g_autoptr(MirDetectGrid) expected_grid = NULL;
  g_autoptr(MirDetectResult) before = NULL;
  g_autoptr(MirDetectResult) expected = NULL;
  g_autoptr(GError) error = NULL;
  MirDetectGrid *grid;
  Counts counts = { 0 };
  guint changed = 0, n_model, N, thing = 0, empty = 0;
  int x, y, size;

  g_signal_connect (session, "error", G_CALLBACK (error_cb), &counts);
  g_signal_connect (session, "examples-changed", G_CALLBACK (signal_count_cb), &changed);
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  g_assert_true (mirada_session_open_defaults (session));
  wait_until (not_busy, session, 120, "the built-in model and scene");
  n_model = mir_model_get_n_classes (mirada_session_get_model (session));
  params = params_for (n_model, 0.5);
  mirada_session_set_params (session, params);
  wait_until (has_result, session, 120, "the first boxes");
  model_grid = mir_detect_grid_ref (mirada_session_get_grid (session));
  before = mir_detect_result_ref (mirada_session_get_result (session));
  g_assert_nonnull (model_grid->embed);
  g_assert_cmpuint (model_grid->embed_dim, >, 0);
  g_assert_cmpuint (before->boxes->len, >, 0);
  changed = 0; /* opening the model announced its (no) saved examples */

  /* the most probable box's window becomes a new class; the least sure
   * window, background */
  N = mir_detect_geometry_n_windows (&model_grid->geom);
  for (guint i = 0; i < before->boxes->len; i++)
    if (g_array_index (before->boxes, MirDetectBox, i).prob
        > g_array_index (before->boxes, MirDetectBox, thing).prob)
      thing = i;
  thing = g_array_index (before->boxes, MirDetectBox, thing).window;
  for (guint n = 0; n < N; n++)
    {
      float mn = 0, me = 0;

      for (guint k = 0; k < model_grid->n_classes; k++)
        {
          mn = MAX (mn, mir_detect_grid_get (model_grid, n, k));
          me = MAX (me, mir_detect_grid_get (model_grid, empty, k));
        }
      if (mn < me)
        empty = n;
    }
  mir_detect_geometry_window_rect (&model_grid->geom, thing, &x, &y, &size);
  g_assert_true (mirada_session_add_example (session, x + size / 2.0, y + size / 2.0, "thing", &error));
  g_assert_no_error (error);
  g_assert_true (mir_detect_examples_add_window (direct, model_grid, thing, "thing", &error));
  mir_detect_geometry_window_rect (&model_grid->geom, empty, &x, &y, &size);
  g_assert_true (mirada_session_add_example (session, x + size / 2.0, y + size / 2.0, "background", &error));
  g_assert_true (mir_detect_examples_add_window (direct, model_grid, empty, "background", &error));
  g_assert_cmpuint (changed, ==, 2);
  g_assert_cmpuint (mirada_session_get_examples (session)->items->len, ==, 2);

  grid = mirada_session_get_grid (session);
  expected_grid = mir_detect_grid_apply_examples (model_grid, direct, MIR_DETECT_PROTO_NEAREST, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (grid->n_classes, ==, expected_grid->n_classes);
  g_assert_cmpstr (grid->class_names[grid->n_classes - 1], ==, "thing");
  for (gsize i = 0; i < (gsize) N * grid->n_classes; i++)
    g_assert_cmpfloat (grid->probs[i], ==, expected_grid->probs[i]);
  g_clear_pointer (&params, mir_detect_params_free);
  params = params_for (grid->n_classes, 0.5);
  mirada_session_set_params (session, params);
  expected = mir_detect_filter (expected_grid, params, &error);
  g_assert_no_error (error);
  check_boxes_equal (mirada_session_get_result (session), expected);
  g_test_message ("examples: %u boxes before, %u after (%u of the new class)",
                  before->boxes->len, expected->boxes->len, expected->counts[grid->n_classes - 1]);
  g_assert_cmpuint (expected->counts[grid->n_classes - 1], >, 0);

  /* a new stride classifies again; the examples stay and apply to its grid */
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE + 10, 1, FALSE);
  wait_until (has_result, session, 120, "the boxes at the new stride");
  g_assert_cmpuint (mirada_session_get_grid (session)->n_classes, ==, expected_grid->n_classes);
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  wait_until (has_result, session, 120, "the boxes at the first stride");

  /* clearing brings back the model's grid and boxes */
  mirada_session_clear_examples (session);
  g_assert_cmpuint (changed, ==, 3);
  g_assert_cmpuint (mirada_session_get_grid (session)->n_classes, ==, n_model);
  g_clear_pointer (&params, mir_detect_params_free);
  params = params_for (n_model, 0.5);
  mirada_session_set_params (session, params);
  check_boxes_equal (mirada_session_get_result (session), before);
  g_assert_cmpuint (counts.errors, ==, 0);
}

/* ------------------------------------------------------------------ */
/* Issue 23: the boxes of a partial grid come before the complete ones, and
 * after a stride change the old boxes stay until a partial grid of the new
 * stride replaces them.  Each notify::result is logged as a letter:
 *   N  no result (the canvas would be empty)
 *   O  the grid shown is complete but a job runs (the old boxes, kept)
 *   P  a partial grid (grid->known) while the job runs
 *   C  the complete grid, no job
 * and detection-finished as F.  Ordering, not timing. */

typedef struct
{
  GString *log;
  int last_stride;   /* of the grid of the last result */
} ProgressLog;

static void
progress_result_cb (MiradaSession *session,
                    GParamSpec    *pspec,
                    ProgressLog   *log)
{
  MirDetectGrid *grid = mirada_session_get_grid (session);
  MirDetectResult *result = mirada_session_get_result (session);

  if (result == NULL || grid == NULL)
    g_string_append_c (log->log, 'N');
  else if (grid->known != NULL)
    g_string_append_c (log->log, mirada_session_get_busy (session) ? 'P' : '!');
  else
    g_string_append_c (log->log, mirada_session_get_busy (session) ? 'O' : 'C');
  if (grid != NULL)
    log->last_stride = grid->geom.stride;
}

static void
progress_finished_cb (MiradaSession *session,
                      ProgressLog   *log)
{
  g_string_append_c (log->log, 'F');
}

/* The session's complete grid against the engine's plain classification. */
static void
check_grid_close (MiradaSession *session,
                  int            stride)
{
  MirImage *image = mirada_session_get_image (session);
  MirDetectGrid *grid = mirada_session_get_grid (session);
  g_autoptr(MirDetectGrid) direct = NULL;
  g_autoptr(GError) error = NULL;
  MirDetectGeometry geom;
  double worst = 0;

  g_assert_true (mir_detect_geometry_init (&geom, image->width, image->height, WINDOW_SIZE, stride,
                                           FALSE, &error));
  direct = mir_detect_classify (mirada_session_get_model (session), image, &geom, 0, NULL, NULL,
                                NULL, &error);
  g_assert_no_error (error);
  g_assert_null (grid->known);
  g_assert_cmpint (grid->geom.stride, ==, stride);
  g_assert_cmpint (grid->geom.rows, ==, direct->geom.rows);
  g_assert_cmpint (grid->geom.cols, ==, direct->geom.cols);
  for (gsize i = 0; i < (gsize) mir_detect_geometry_n_windows (&geom) * grid->n_classes; i++)
    worst = MAX (worst, fabs (grid->probs[i] - direct->probs[i]));
  g_test_message ("stride %d: largest difference from the plain classification %.3g", stride,
                  worst);
  g_assert_cmpfloat (worst, <=, 1e-6);
}

static void
test_session_progressive (void)
{
  g_autoptr(MiradaSession) session = mirada_session_new ();
  g_autoptr(MirDetectParams) params = mir_detect_params_new (11, MIR_DETECT_METHOD_2_1);
  ProgressLog log = { g_string_new (NULL), 0 };
  MirDetectGrid *old_grid;
  MirDetectResult *old_result;
  const char *p, *c;

  /* the built-in model's 11 classes, "background" off, as the panel starts */
  for (guint k = 0; k < params->n_classes; k++)
    params->classes[k].threshold = 0.5;
  params->classes[10].enabled = FALSE;
  mirada_session_set_params (session, params);
  g_signal_connect (session, "notify::result", G_CALLBACK (progress_result_cb), &log);
  g_signal_connect (session, "detection-finished", G_CALLBACK (progress_finished_cb), &log);

  /* opening: partial boxes, then the complete ones, then "finished" */
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  g_assert_true (mirada_session_open_defaults (session));
  wait_until (has_result, session, 120, "the built-in model and scene");
  g_test_message ("open: %s", log.log->str);
  p = strchr (log.log->str, 'P');
  c = strchr (log.log->str, 'C');
  g_assert_nonnull (p);
  g_assert_nonnull (c);
  g_assert_true (p < c);
  g_assert_null (strchr (c + 1, 'P'));
  g_assert_null (strchr (log.log->str, '!'));
  g_assert_cmpint (log.log->str[log.log->len - 1], ==, 'F');
  check_grid_close (session, STRIDE);
  old_grid = mirada_session_get_grid (session);
  old_result = mirada_session_get_result (session);
  g_assert_cmpuint (old_result->boxes->len, >, 0);

  /* stride 40 → 20: the old grid and boxes stay (no N, not even one), then
   * partial grids of stride 20 replace them, then the complete one */
  g_string_truncate (log.log, 0);
  mirada_session_set_geometry (session, WINDOW_SIZE, 20, 1, FALSE);
  g_assert_true (mirada_session_get_busy (session));
  g_assert_true (mirada_session_get_grid (session) == old_grid);
  g_assert_true (mirada_session_get_result (session) == old_result);
  wait_until (has_result, session, 120, "the stride-20 grid");
  g_test_message ("40 → 20: %s", log.log->str);
  g_assert_null (strchr (log.log->str, 'N'));
  g_assert_null (strchr (log.log->str, '!'));
  p = strchr (log.log->str, 'P');
  c = strchr (log.log->str, 'C');
  g_assert_nonnull (p);
  g_assert_nonnull (c);
  g_assert_true (p < c);
  g_assert_null (strchr (c + 1, 'P'));
  g_assert_cmpint (log.last_stride, ==, 20);
  check_grid_close (session, 20);

  /* and back to 40: every window is in the stride-20 grid, nothing to
   * classify, no boxes lost on the way */
  g_string_truncate (log.log, 0);
  mirada_session_set_geometry (session, WINDOW_SIZE, STRIDE, 1, FALSE);
  wait_until (has_result, session, 120, "the stride-40 grid again");
  g_test_message ("20 → 40: %s", log.log->str);
  g_assert_null (strchr (log.log->str, 'N'));
  check_grid_close (session, STRIDE);
  g_string_free (log.log, TRUE);
}

int
main (int argc, char *argv[])
{
  const char *scale = g_getenv ("MIRADA_TEST_TIME_SCALE");
  char *root;
  int status;

  g_test_init (&argc, &argv, NULL);
  if (scale != NULL)
    time_scale = MAX (1.0, g_ascii_strtod (scale, NULL));
  /* the built-in model is copied to the cache: a home of this run */
  root = mir_test_gui_init ("mirada-session");

  g_test_add_func ("/session/detect", test_session_detect);
  g_test_add_func ("/session/bad-geometry", test_session_bad_geometry);
  g_test_add_func ("/session/detector-panel", test_session_detector_panel);
  g_test_add_func ("/session/background-class", test_session_background_class);
  g_test_add_func ("/session/panel-controls", test_session_panel_controls);
  g_test_add_func ("/session/tfjs-folder", test_session_tfjs_folder);
  g_test_add_func ("/session/rename-classes", test_session_rename_classes);
  g_test_add_func ("/session/first-conv", test_session_first_conv);
  g_test_add_func ("/session/examples", test_session_examples);
  g_test_add_func ("/session/progressive", test_session_progressive);
  status = g_test_run ();
  /* as the application's shutdown does: no worker inside OpenBLAS at exit */
  mir_test_gui_finish (NULL, root);
  return status;
}
