/* mirada-export.h: writing files (one function for every single-file output)
 * and numbers (.npy, CSV) that do not depend on the locale. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes @len bytes of @data to @path, the one way every single-file output
 * of Mirada is written:
 *  - "-" is standard output;
 *  - a symbolic link is followed, and its target written (so the link stays);
 *  - a regular file, or one that does not exist yet, is written to a
 *    temporary file in the same folder and renamed over (atomic: a reader
 *    never sees half a file);
 *  - an existing character device, FIFO or socket is opened and written in
 *    place (never replaced); a FIFO nobody reads from is an error, not a hang;
 *  - a folder is refused. */
gboolean mirada_output_write     (const char  *path,
                                  const void  *data,
                                  gsize        len,
                                  GError     **error);
/* TRUE when @path means standard output ("-"). */
gboolean mirada_output_is_stdout (const char  *path);

/* A float32 little-endian .npy of shape (rows, cols). */
gboolean mirada_export_npy_2d (const char *path, const float *values, int rows, int cols,
                               GError **error);
/* Rows of comma-separated values with full float precision. */
gboolean mirada_export_csv_2d (const char *path, const float *values, int rows, int cols,
                               GError **error);

/* A CSV table (RFC 4180): fields are quoted when they hold a comma, a quote
 * or a line break; numbers are written with a '.' whatever the locale
 * (g_ascii_formatd), a NaN as an empty field.  Lines end in "\n". */
typedef struct _MiradaCsv MiradaCsv;

MiradaCsv  *mirada_csv_new        (void);
void        mirada_csv_free       (MiradaCsv   *csv);
void        mirada_csv_add_string (MiradaCsv   *csv,
                                   const char  *text);
/* @format is one printf conversion for a double, e.g. "%.9g" (default when NULL). */
void        mirada_csv_add_double (MiradaCsv   *csv,
                                   double       value,
                                   const char  *format);
void        mirada_csv_add_int    (MiradaCsv   *csv,
                                   gint64       value);
void        mirada_csv_end_row    (MiradaCsv   *csv);
const char *mirada_csv_get_text   (MiradaCsv   *csv,
                                   gsize       *len);
/* Writes the table with mirada_output_write(). */
gboolean    mirada_csv_save       (MiradaCsv   *csv,
                                   const char  *path,
                                   GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MiradaCsv, mirada_csv_free)

G_END_DECLS
