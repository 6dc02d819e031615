/* test-detect-export.c: issue 22.  The detector owns detection end to end:
 *  - `mirada detect --csv/--json` and the window's Export
 *    (mirada_detections_export, which the window calls with its session's
 *    grids, parameters, boxes and ground truth) write byte-identical files
 *    for the same result, one or several scales, with and without ground
 *    truth;
 *  - the JSON reads back as ground truth (the boxes), the CSV has one row per
 *    box with the box's numbers;
 *  - the ground-truth writer round-trips through the loader, and the scene
 *    generator's JSON is that writer's;
 *  - mir_detect_classify_scales_with: the progress runs once from 0 to the
 *    windows of all scales, each level in its share, and a cancel stops it.
 *
 * Usage: test-detect-export PATH/TO/mirada */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "mir.h"
#include "mir-scene.h"
#include "detect/mir-detect.h"
#include "mirada-detect-export.h"
#include "mir-test-util.h"

static const char *mirada_path;

/* A grid of @rows × @cols windows over an image, probabilities from a fixed
 * seed: a few high ones, so that the filters keep some boxes. */
static MirDetectGrid *
random_grid (int width, int height, int window, int stride, guint32 seed, double scale)
{
  const char *const names[] = { "dog", "cat, \"big\"", "background", NULL };
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(GError) error = NULL;
  g_autofree float *probs = NULL;
  MirDetectGeometry geom;
  MirDetectGrid *grid;
  guint n;

  g_assert_true (mir_detect_geometry_init (&geom, width, height, window, stride, FALSE, &error));
  g_assert_no_error (error);
  n = mir_detect_geometry_n_windows (&geom);
  probs = g_new (float, n * 3);
  for (guint i = 0; i < n; i++)
    {
      double a = g_rand_double (rand), b = g_rand_double (rand) * (1 - a);

      /* sharpen: most windows are background, some clearly one class */
      if (g_rand_double (rand) < 0.6)
        a *= 0.1, b *= 0.1;
      probs[3 * i] = (float) a;
      probs[3 * i + 1] = (float) b;
      probs[3 * i + 2] = (float) (1 - a - b);
    }
  grid = mir_detect_grid_new (&geom, 3, names, MIR_HEAD_SOFTMAX, probs, &error);
  g_assert_no_error (error);
  grid->scale = scale;
  return grid;
}

/* Runs `mirada detect --grid G0 [--grid G1 …] [--truth T] --csv|--json` with
 * @params' options and returns its standard output. */
static char *
run_cli (const char *dir, GPtrArray *grids, const MirDetectParams *params,
         const char *truth_path, gboolean json)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;

  g_ptr_array_add (args, g_strdup (mirada_path));
  g_ptr_array_add (args, g_strdup ("detect"));
  for (guint q = 0; q < grids->len; q++)
    {
      g_autofree char *name = g_strdup_printf ("grid%u.json", q);
      char *path = g_build_filename (dir, name, NULL);

      g_assert_true (mir_detect_grid_save_json (g_ptr_array_index (grids, q), path, &error));
      g_assert_no_error (error);
      g_ptr_array_add (args, g_strdup ("--grid"));
      g_ptr_array_add (args, path);
    }
  if (truth_path != NULL)
    {
      g_ptr_array_add (args, g_strdup ("--truth"));
      g_ptr_array_add (args, g_strdup (truth_path));
    }
  mir_test_detect_params_args (args, params);
  g_ptr_array_add (args, g_strdup (json ? "--json" : "--csv"));
  g_ptr_array_add (args, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) args->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("mirada detect failed: %s", err);
  return g_steal_pointer (&out);
}

static char *
read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* The CSV parsed without the writer's code: rows of fields, quotes undone. */
static GPtrArray *
parse_csv (const char *text)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  GPtrArray *row = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  gboolean quoted = FALSE;

  for (const char *p = text; *p; p++)
    {
      if (quoted)
        {
          if (*p == '"' && p[1] == '"')
            g_string_append_c (field, '"'), p++;
          else if (*p == '"')
            quoted = FALSE;
          else
            g_string_append_c (field, *p);
        }
      else if (*p == '"')
        quoted = TRUE;
      else if (*p == ',' || *p == '\n')
        {
          g_ptr_array_add (row, g_strdup (field->str));
          g_string_truncate (field, 0);
          if (*p == '\n')
            {
              g_ptr_array_add (rows, row);
              row = g_ptr_array_new_with_free_func (g_free);
            }
        }
      else
        g_string_append_c (field, *p);
    }
  g_assert_cmpuint (row->len, ==, 0);  /* the last line ends in a line break */
  g_ptr_array_unref (row);
  g_string_free (field, TRUE);
  return rows;
}

static void
check_one (const char *dir, GPtrArray *grids, MirDetectParams *params, const char *truth_path)
{
  MirDetectGrid *grid = g_ptr_array_index (grids, 0);
  g_autoptr(MirDetectResult) result = NULL;
  g_autoptr(MirDetectTruth) truth = NULL;
  g_autoptr(MirDetectTruth) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *csv_path = g_build_filename (dir, "boxes.csv", NULL);
  g_autofree char *json_path = g_build_filename (dir, "boxes.JSON", NULL);
  g_autofree char *cli_csv = NULL, *cli_json = NULL, *csv = NULL, *json = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  MiradaDetections d = { 0 };

  result = mir_detect_filter_scales ((MirDetectGrid *const *) grids->pdata, grids->len, params,
                                     &error);
  g_assert_no_error (error);
  if (truth_path != NULL)
    {
      truth = mir_detect_truth_load (truth_path, (const char *const *) grid->class_names, &error);
      g_assert_no_error (error);
    }
  d.grids = (MirDetectGrid *const *) grids->pdata;
  d.n_grids = grids->len;
  d.params = params;
  d.result = result;
  d.truth = truth;
  /* the window's Export: the format from the name's suffix, any case */
  g_assert_true (mirada_detections_export (&d, mirada_detections_format_for_path (csv_path),
                                           csv_path, &error));
  g_assert_no_error (error);
  g_assert_true (mirada_detections_export (&d, mirada_detections_format_for_path (json_path),
                                           json_path, &error));
  g_assert_no_error (error);
  csv = read_file (csv_path);
  json = read_file (json_path);

  cli_csv = run_cli (dir, grids, params, truth_path, FALSE);
  cli_json = run_cli (dir, grids, params, truth_path, TRUE);
  g_test_message ("%u scales, %u boxes, truth %s: CSV %zu bytes, JSON %zu bytes",
                  grids->len, result->boxes->len, truth_path ? "yes" : "no", strlen (csv),
                  strlen (json));
  g_assert_cmpuint (result->boxes->len, >, 0);
  g_assert_cmpstr (cli_csv, ==, csv);
  g_assert_cmpstr (cli_json, ==, json);

  /* the JSON is ground truth: every box, in order, read by the loader */
  back = mir_detect_truth_load (json_path, (const char *const *) grid->class_names, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->boxes->len, ==, result->boxes->len);
  g_assert_cmpint (back->width, ==, grid->geom.image_width);
  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (result->boxes, MirDetectBox, i);
      const MirDetectTruthBox *t = &g_array_index (back->boxes, MirDetectTruthBox, i);

      g_assert_cmpuint (t->class_index, ==, b->class_index);
      g_assert_cmpfloat_with_epsilon (t->x, b->x, 1e-9);
      g_assert_cmpfloat_with_epsilon (t->height, b->height, 1e-9);
    }
  if (truth_path != NULL)
    g_assert_nonnull (strstr (json, "\"evaluation\""));
  else
    g_assert_null (strstr (json, "\"evaluation\""));

  /* the CSV: the header, then one row per box with its numbers */
  rows = parse_csv (csv);
  g_assert_cmpuint (rows->len, ==, 1 + result->boxes->len);
  {
    GPtrArray *head = g_ptr_array_index (rows, 0);
    const char *const want[] = { "class", "class_index", "scale", "scale_window", "scale_factor",
                                 "window", "row", "col", "x", "y", "width", "height",
                                 "probability", "mean", "members" };

    g_assert_cmpuint (head->len, ==, G_N_ELEMENTS (want));
    for (guint h = 0; h < head->len; h++)
      g_assert_cmpstr (g_ptr_array_index (head, h), ==, want[h]);
  }
  for (guint i = 0; i < result->boxes->len; i++)
    {
      GPtrArray *row = g_ptr_array_index (rows, i + 1);
      const MirDetectBox *b = &g_array_index (result->boxes, MirDetectBox, i);
      const MirDetectGrid *g = g_ptr_array_index (grids, b->scale);

      g_assert_cmpuint (row->len, ==, 15);
      g_assert_cmpstr (g_ptr_array_index (row, 0), ==, grid->class_names[b->class_index]);
      g_assert_cmpuint (g_ascii_strtoull (g_ptr_array_index (row, 2), NULL, 10), ==, b->scale);
      g_assert_cmpint (g_ascii_strtoll (g_ptr_array_index (row, 3), NULL, 10), ==, g->geom.window);
      g_assert_cmpuint (g_ascii_strtoull (g_ptr_array_index (row, 5), NULL, 10), ==, b->window);
      g_assert_cmpfloat_with_epsilon (g_ascii_strtod (g_ptr_array_index (row, 8), NULL), b->x, 0.005);
      g_assert_cmpfloat_with_epsilon (g_ascii_strtod (g_ptr_array_index (row, 11), NULL), b->height,
                                      0.005);
      g_assert_cmpfloat_with_epsilon (g_ascii_strtod (g_ptr_array_index (row, 12), NULL), b->prob,
                                      5e-7);
      if (isnan (b->mean))
        g_assert_cmpstr (g_ptr_array_index (row, 13), ==, "");
      else
        g_assert_cmpfloat_with_epsilon (g_ascii_strtod (g_ptr_array_index (row, 13), NULL),
                                        b->mean, 5e-7);
      g_assert_cmpuint (g_ascii_strtoull (g_ptr_array_index (row, 14), NULL, 10), ==,
                        b->n_members);
    }
  g_unlink (csv_path);
  g_unlink (json_path);
}

static void
test_cli_and_export_identical (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mirada-detect-export-XXXXXX", NULL);
  g_autofree char *truth_path = g_build_filename (dir, "truth.json", NULL);
  g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  g_autoptr(GPtrArray) three = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(GError) error = NULL;
  const char *truth_text =
    "{\"image\": \"scene.png\", \"width\": 640, \"height\": 384, \"objects\": ["
    "{\"class\": \"dog\", \"box\": [0, 0, 96, 96]},"
    "{\"class\": 1, \"box\": [160, 64, 96, 96]}]}";

  g_assert_true (g_file_set_contents (truth_path, truth_text, -1, &error));
  g_assert_no_error (error);
  g_ptr_array_add (one, random_grid (640, 384, 96, 32, 7, 1.0));
  /* a pyramid as the window makes it: the image shrunk by 1.25 and 1.5625 */
  g_ptr_array_add (three, random_grid (640, 384, 96, 32, 11, 1.0));
  g_ptr_array_add (three, random_grid (512, 307, 96, 32, 12, 1.25));
  g_ptr_array_add (three, random_grid (410, 246, 96, 32, 13, 1.5625));

  /* method 1 (no means: empty CSV fields, JSON null), no grouping */
  params = mir_detect_params_new (3, MIR_DETECT_METHOD_1);
  params->classes[0].threshold = 0.6;
  params->classes[1].threshold = 0.55;
  params->classes[2].enabled = FALSE;
  check_one (dir, one, params, NULL);
  check_one (dir, three, params, truth_path);
  mir_detect_params_free (g_steal_pointer (&params));

  /* method 2.1 with a complement, Gaussian means and merge across scales */
  params = mir_detect_params_new (3, MIR_DETECT_METHOD_2_1);
  params->classes[0].threshold = 0.5;
  params->classes[1].threshold = 0.45;
  params->classes[1].exception = 0.25;
  params->classes[2].enabled = FALSE;
  params->weighted_mean = TRUE;
  params->grouping = MIR_DETECT_GROUP_MERGE;
  params->iou = 0.2;
  check_one (dir, one, params, truth_path);
  check_one (dir, three, params, NULL);

  for (guint q = 0; q < 3; q++)
    {
      g_autofree char *name = g_strdup_printf ("grid%u.json", q);
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_unlink (truth_path);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Ground truth: written as the loader reads it */

static void
test_truth_round_trip (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mirada-truth-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "truth.json", NULL);
  g_autofree char *again_path = g_build_filename (dir, "again.json", NULL);
  const char *const names[] = { "dog", "cat", NULL };
  g_autoptr(MirDetectTruth) truth = NULL, back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL, *again = NULL;
  const char *src =
    "{\"image\": \"a b.png\", \"width\": 300, \"height\": 200, \"objects\": ["
    "{\"class\": \"CAT\", \"box\": [1.5, 2, 30.25, 40]},"
    "{\"class\": \"0\", \"box\": [100, 50, 60, 70]}]}";

  g_assert_true (g_file_set_contents (path, src, -1, &error));
  truth = mir_detect_truth_load (path, names, &error);
  g_assert_no_error (error);
  text = mir_detect_truth_to_json (truth, names);
  g_assert_true (g_str_has_suffix (text, "}\n"));
  g_assert_true (g_file_set_contents (again_path, text, -1, &error));
  back = mir_detect_truth_load (again_path, names, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->image, ==, "a b.png");
  g_assert_cmpint (back->width, ==, 300);
  g_assert_cmpint (back->height, ==, 200);
  g_assert_cmpuint (back->boxes->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      const MirDetectTruthBox *a = &g_array_index (truth->boxes, MirDetectTruthBox, i);
      const MirDetectTruthBox *b = &g_array_index (back->boxes, MirDetectTruthBox, i);

      g_assert_cmpuint (a->class_index, ==, b->class_index);
      g_assert_cmpfloat (a->x, ==, b->x);
      g_assert_cmpfloat (a->y, ==, b->y);
      g_assert_cmpfloat (a->width, ==, b->width);
      g_assert_cmpfloat (a->height, ==, b->height);
    }
  g_assert_cmpuint (g_array_index (back->boxes, MirDetectTruthBox, 0).class_index, ==, 1);
  /* the canonical names, and whole numbers as integers */
  g_assert_nonnull (strstr (text, "\"class\" : \"cat\""));
  g_assert_nonnull (strstr (text, "30.25"));
  g_assert_null (strstr (text, "100.0"));
  /* writing what was read gives the same text again */
  again = mir_detect_truth_to_json (back, names);
  g_assert_cmpstr (again, ==, text);
  g_unlink (path);
  g_unlink (again_path);
  g_rmdir (dir);
}

/* The scene generator's JSON is ground truth with the same boxes. */
static void
test_scene_truth (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mirada-scene-truth-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "scene.json", NULL);
  g_autoptr(MirDataset) items = NULL;
  g_autoptr(MirScene) scene = NULL;
  g_autoptr(MirDetectTruth) truth = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  const char *const names[] = { "class 0", "class 1", "class 2", "class 3", NULL };
  MirSceneOptions o;

  /* 40 images 4×4×1 in 4 classes, as tests/test-scene.c makes them */
  items = mir_dataset_new (40, 4, 4, 1, 4, &error);
  g_assert_no_error (error);
  for (gint64 i = 0; i < items->n; i++)
    {
      memset (mir_dataset_get_image (items, i), (int) (10 + i), 16);
      items->labels[i] = (gint32) (i % 4);
    }
  mir_scene_options_init_default (&o);
  o.item_classes[0] = o.item_classes[1] = 1;
  o.item_classes[2] = 2;
  o.item_classes[3] = 3;
  o.item_classes[4] = 0;
  o.item_classes[5] = 2;
  scene = mir_scene_generate (items, &o, &error);
  g_assert_no_error (error);
  json = mir_scene_to_json (scene, "scene.png");
  g_assert_true (g_file_set_contents (path, json, -1, &error));
  truth = mir_detect_truth_load (path, names, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (truth->boxes->len, ==, scene->objects->len);
  for (guint i = 0; i < truth->boxes->len; i++)
    {
      const MirDetectTruthBox *t = &g_array_index (truth->boxes, MirDetectTruthBox, i);
      const MirSceneObject *s = &g_array_index (scene->objects, MirSceneObject, i);

      g_assert_cmpint (t->class_index, ==, s->class_index);
      g_assert_cmpfloat (t->x, ==, s->x);
      g_assert_cmpfloat (t->y, ==, s->y);
      g_assert_cmpfloat (t->width, ==, s->w);
      g_assert_cmpfloat (t->height, ==, s->h);
    }
  g_assert_nonnull (strstr (json, "\"source_index\""));
  g_unlink (path);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Multi-scale classification: progress and cancel (no GTK) */

typedef struct
{
  GArray *seen;             /* guint: every progress value, in order */
  guint total;
  GCancellable *cancel_at;  /* cancelled when the progress passes @cancel_after */
  guint cancel_after;
  guint n_classified;       /* grids the stand-in made */
} ProgressLog;

static void
log_progress (guint done, guint total, gpointer user_data)
{
  ProgressLog *log = user_data;

  g_array_append_val (log->seen, done);
  log->total = total;
  if (log->cancel_at != NULL && done >= log->cancel_after)
    g_cancellable_cancel (log->cancel_at);
}

/* Stands in for the model: 10 steps per grid, checking the cancellable. */
static MirDetectGrid *
stand_in (MirModel *model, const MirImage *image, const MirDetectGeometry *geom,
          MirDetectProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
          gpointer user_data, GError **error)
{
  ProgressLog *log = user_data;
  guint n = mir_detect_geometry_n_windows (geom);
  g_autofree float *probs = g_new0 (float, n * 2);

  (void) model;
  g_assert_cmpint (image->width, ==, geom->image_width);
  for (guint step = 0; step <= 10; step++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      progress (step, 10, progress_data);
    }
  log->n_classified++;
  return mir_detect_grid_new (geom, 2, NULL, MIR_HEAD_SOFTMAX, probs, error);
}

static void
test_scales_progress_cancel (void)
{
  g_autoptr(MirModel) model = mir_model_new ("unused");
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GPtrArray) grids = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  MirDetectScales scales;
  ProgressLog log = { 0 };
  guint n[4] = { 0 }, sum = 0, last = 0;

  image = mir_image_new (400, 300, 3, &error);
  g_assert_no_error (error);
  /* 6 levels asked for; a 100 px window fits the image shrunk by up to
   * 1.25^4 = 2.44 (164×123), not by 1.25^5 (131×98): the pyramid ends there */
  g_assert_true (mir_detect_scales_pyramid (&scales, 100, 1.25, 6, &error));
  g_assert_cmpuint (mir_detect_scales_fit (&scales, 400, 300, 20, FALSE), ==, 5);
  for (guint s = 0; s < 4; s++)
    {
      int w, h;

      mir_detect_scales_image_size (&scales, s, 400, 300, &w, &h);
      n[s] = (guint) (((w - 100) / 20 + 1) * ((h - 100) / 20 + 1));
      sum += n[s];
    }
  scales.n_scales = 4;

  log.seen = g_array_new (FALSE, FALSE, sizeof (guint));
  grids = mir_detect_classify_scales_with (model, image, &scales, 20, FALSE, 0,
                                           MIR_DETECT_SHARED_AUTO, stand_in, &log, log_progress,
                                           &log, cancellable, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (grids->len, ==, 4);
  g_assert_cmpuint (log.total, ==, sum);
  /* monotonic, each level from the end of the one before to its share more */
  for (guint i = 0; i < log.seen->len; i++)
    {
      guint v = g_array_index (log.seen, guint, i);

      g_assert_cmpuint (v, >=, last);
      last = v;
    }
  for (guint s = 0, offset = 0; s < 4; offset += n[s], s++)
    {
      g_assert_cmpuint (g_array_index (log.seen, guint, s * 11), ==, offset);
      g_assert_cmpuint (g_array_index (log.seen, guint, s * 11 + 10), ==, offset + n[s]);
      g_assert_cmpfloat (((MirDetectGrid *) g_ptr_array_index (grids, s))->scale, ==,
                         pow (1.25, s));
    }
  g_assert_cmpuint (last, ==, sum);

  /* a cancel in level 1 stops there: no grid, the cancel's error */
  g_array_set_size (log.seen, 0);
  log.n_classified = 0;
  log.cancel_at = cancellable;
  log.cancel_after = n[0] + 1;
  g_clear_pointer (&grids, g_ptr_array_unref);
  grids = mir_detect_classify_scales_with (model, image, &scales, 20, FALSE, 0,
                                           MIR_DETECT_SHARED_AUTO, stand_in, &log, log_progress,
                                           &log, cancellable, &error);
  g_assert_null (grids);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (log.n_classified, ==, 1);
  g_array_unref (log.seen);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (argc < 2)
    {
      g_printerr ("usage: %s PATH/TO/mirada\n", argv[0]);
      return 2;
    }
  mirada_path = argv[1];
  g_test_add_func ("/detect-export/cli-and-export-identical", test_cli_and_export_identical);
  g_test_add_func ("/detect-export/truth-round-trip", test_truth_round_trip);
  g_test_add_func ("/detect-export/scene-truth", test_scene_truth);
  g_test_add_func ("/detect-export/scales-progress-cancel", test_scales_progress_cancel);
  return g_test_run ();
}
