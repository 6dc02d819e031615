/* mirada-detect-export.c: detections as CSV, JSON or a PNG with the boxes. */
#define G_LOG_DOMAIN "mirada-export"

#include "config.h"

#include <glib/gi18n.h>

#include "mir.h"
#include "mirada-detect-export.h"
#include "mirada-figure.h"
#include "mirada-export.h"
#include "mirada-image-io.h"

MiradaDetectionsFormat
mirada_detections_format_for_path (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path != NULL ? path : "", -1);

  if (g_str_has_suffix (lower, ".csv"))
    return MIRADA_DETECTIONS_CSV;
  if (g_str_has_suffix (lower, ".json"))
    return MIRADA_DETECTIONS_JSON;
  return MIRADA_DETECTIONS_PNG;
}

gboolean
mirada_detections_export (const MiradaDetections *d,
                          MiradaDetectionsFormat  format,
                          const char             *path,
                          GError                **error)
{
  g_autoptr(GString) out = NULL;

  g_return_val_if_fail (d != NULL && path != NULL, FALSE);

  if (format == MIRADA_DETECTIONS_PNG)
    {
      g_autoptr(MirImage) copy = NULL;

      if (d->image == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Drawing the boxes needs the image"));
          return FALSE;
        }
      /* the engine's drawing into a copy */
      if (!(copy = mir_image_crop (d->image, 0, 0, d->image->width, d->image->height, error)))
        return FALSE;
      if (d->result != NULL && d->n_grids > 0)
        mir_detect_draw (copy, d->result, (const char *const *) d->grids[0]->class_names,
                         (int) mirada_figure_box_line (copy->width));
      return mirada_image_save_png (copy, path, error);
    }
  if (d->result == NULL || d->n_grids == 0 || d->params == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("There are no detections to export yet: wait until the windows are "
                     "classified"));
      return FALSE;
    }
  out = g_string_new (NULL);
  if (format == MIRADA_DETECTIONS_CSV)
    mir_detect_result_write_csv (out, d->result, d->grids, d->n_grids);
  else
    {
      MirDetectEval ev = { 0 };

      if (d->truth != NULL)
        mir_detect_evaluate (d->result, (const MirDetectTruthBox *) (void *) d->truth->boxes->data,
                             d->truth->boxes->len, 0.5, &ev);
      mir_detect_result_write_json (out, d->result, d->grids, d->n_grids, d->params,
                                    d->truth != NULL ? &ev : NULL, d->image_name);
      mir_detect_eval_clear (&ev);
    }
  return mirada_output_write (path, out->str, out->len, error);
}
