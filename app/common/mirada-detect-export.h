/* mirada-detect-export.h: the detections of one image as a file, the one
 * way `mirada detect --csv/--json` and the window's Export write them (so
 * the two give identical files for the same result; tests/test-detect-export.c). */
#pragma once

#include <glib.h>

#include "mir-image.h"
#include "detect/mir-detect.h"

G_BEGIN_DECLS

typedef enum
{
  MIRADA_DETECTIONS_CSV,  /* mir_detect_result_write_csv() */
  MIRADA_DETECTIONS_JSON, /* mir_detect_result_write_json() */
  MIRADA_DETECTIONS_PNG,  /* the image with the boxes drawn (mir_detect_draw()) */
} MiradaDetectionsFormat;

typedef struct
{
  const MirImage        *image;      /* the image (PNG only; may be NULL otherwise) */
  const char            *image_name; /* its file name for the JSON, or NULL */
  MirDetectGrid *const  *grids;      /* the scales @result was filtered from */
  guint                  n_grids;
  const MirDetectParams *params;
  const MirDetectResult *result;
  const MirDetectTruth  *truth;      /* NULL, or the ground truth: the JSON's
                                      * "evaluation" at IoU 0.5 */
} MiradaDetections;

/* The format a file name asks for: ".csv", ".json" (any case), else PNG. */
MiradaDetectionsFormat mirada_detections_format_for_path (const char *path);

/* Writes @d to @path ("-": standard output) with mirada_output_write(). */
gboolean mirada_detections_export (const MiradaDetections *d,
                                   MiradaDetectionsFormat  format,
                                   const char             *path,
                                   GError                **error);

G_END_DECLS
