/* fuzz-detect-grid.c: a saved probability grid (`detect --grid`,
 * mir_detect_grid_load_json) and the same bytes as ground truth
 * (mir_detect_truth_load); then the filter with parameters taken from the
 * first bytes, evaluation, and drawing onto an image of the grid's size;
 * the probability field of each class (issue 18): its contours, the hover's
 * equations of every window and the field drawn; the same bytes as a
 * detector examples file, applied to the grid. */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "detect/mir-detect.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autoptr(MirDetectTruth) truth = NULL;
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(MirDetectResult) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *path = mir_fuzz_write_temp (data, size, ".json");
  guint8 h0 = size > 0 ? data[0] : 0, h1 = size > 1 ? data[1] : 0;
  const char *const names[] = { "dog", "cat", NULL };

  truth = mir_detect_truth_load (path, names, &error);
  g_assert ((truth == NULL) == (error != NULL));
  g_clear_error (&error);

  grid = mir_detect_grid_load_json (path, &error);
  if (grid == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  /* the same bytes as an examples file (background and classes by example)
   * resolved on this grid, applied to it with both rules */
  {
    g_autoptr(MirDetectExamples) examples = mir_detect_examples_from_json ((const char *) data,
                                                                           size, "fuzz", grid,
                                                                           &error);

    g_assert ((examples == NULL) == (error != NULL));
    g_clear_error (&error);
    for (int rule = 0; examples != NULL && rule < 2; rule++)
      {
        g_autofree gint *decision = NULL;
        g_autoptr(MirDetectGrid) applied = mir_detect_grid_apply_examples (grid, examples,
                                                                           (MirDetectProtoRule) rule,
                                                                           &decision, &error);

        g_assert ((applied == NULL) == (error != NULL));
        g_clear_error (&error);
      }
  }
  params = mir_detect_params_new (grid->n_classes, (MirDetectMethod) (h0 % 3));
  params->radius = h0 >> 4;
  params->weighted_mean = (h1 & 1) != 0;
  params->notebook_compat = (h1 & 2) != 0;
  params->grouping = (MirDetectGrouping) ((h1 >> 2) % 3);
  params->iou = (h1 >> 4) / 15.0;
  params->classes[0].threshold = (h0 & 0xf) / 15.0;
  result = mir_detect_filter (grid, params, &error);
  if (result == NULL)
    {
      g_assert (error != NULL);
      return 0;
    }
  if (truth != NULL)
    {
      MirDetectEval eval;
      mir_detect_evaluate (result, (const MirDetectTruthBox *) (void *) truth->boxes->data,
                           truth->boxes->len, 0.5, &eval);
      mir_detect_eval_clear (&eval);
    }
  if (grid->geom.image_width <= 512 && grid->geom.image_height <= 512)
    {
      g_autoptr(MirImage) image = mir_image_new (grid->geom.image_width,
                                                 grid->geom.image_height, 3, NULL);
      if (image != NULL)
        mir_detect_draw (image, result, (const char *const *) grid->class_names, 2);
      for (guint c = 0; image != NULL && c < grid->n_classes && c < 4; c++)
        {
          g_autoptr(MirDetectField) field = mir_detect_field_new (grid, params, c, &error);
          g_autoptr(GArray) contour = NULL;
          g_autoptr(GArray) mu = NULL;
          const guint8 rgb[3] = { 255, 0, 0 };

          g_assert (field != NULL);
          contour = mir_detect_field_contour (field, field->threshold);
          mu = mir_detect_field_mean_contour (field);
          for (guint n = 0; n < mir_detect_geometry_n_windows (&grid->geom) && n < 64; n++)
            g_free (mir_detect_field_describe (field, n, grid->class_names[c]));
          mir_detect_field_draw (image, field, rgb, 0.5, 2);
        }
    }
  return 0;
}
