/* mirada-export.h: writing numbers out (atomically: temp file + rename). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A float32 little-endian .npy of shape (rows, cols). */
gboolean mirada_export_npy_2d (const char *path, const float *values, int rows, int cols,
                               GError **error);
/* Rows of comma-separated values with full float precision. */
gboolean mirada_export_csv_2d (const char *path, const float *values, int rows, int cols,
                               GError **error);

G_END_DECLS
