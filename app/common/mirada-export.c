/* mirada-export.c: writing files and locale-independent numbers. */
#define G_LOG_DOMAIN "mirada-export"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "mir.h"
#include "mirada-export.h"

/* Symbolic links followed before giving up (the kernel's own limit). */
#define MAX_LINKS 40

gboolean
mirada_output_is_stdout (const char *path)
{
  return path != NULL && strcmp (path, "-") == 0;
}

static gboolean
write_stdout (const void *data, gsize len, GError **error)
{
  int saved;

  /* Through stdio, so the bytes come after anything printed before. */
  if ((len > 0 && fwrite (data, 1, len, stdout) != len) || fflush (stdout) != 0)
    {
      saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write to standard output: %s"),
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* @path with every symbolic link in its last component followed: the file
 * that writing "to @path" should change.  The result may not exist yet (a
 * dangling link names the file to create). */
static char *
resolve_links (const char *path, GError **error)
{
  g_autofree char *current = g_strdup (path);

  for (int hops = 0;; hops++)
    {
      GStatBuf st;
      g_autofree char *target = NULL;
      g_autoptr(GError) local = NULL;

      if (g_lstat (current, &st) != 0 || !S_ISLNK (st.st_mode))
        return g_steal_pointer (&current);
      if (hops == MAX_LINKS)
        {
          g_autofree char *display = g_filename_display_name (path);
          g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                       g_strerror (ELOOP));
          return NULL;
        }
      if (!(target = g_file_read_link (current, &local)))
        {
          g_autofree char *display = g_filename_display_name (path);
          g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                       local->message);
          return NULL;
        }
      if (!g_path_is_absolute (target))
        {
          g_autofree char *dir = g_path_get_dirname (current);
          g_autofree char *joined = g_build_filename (dir, target, NULL);
          g_free (target);
          target = g_steal_pointer (&joined);
        }
      g_free (current);
      current = g_steal_pointer (&target);
    }
}

/* A character device, FIFO or socket: written in place, never replaced. */
static gboolean
write_special (const char *path, const char *display, const void *data, gsize len,
               gboolean fifo, GError **error)
{
  const guint8 *p = data;
  int fd, flags;

  /* O_NONBLOCK: opening a FIFO nobody reads from fails at once (ENXIO)
   * instead of waiting forever for a reader. */
  fd = g_open (path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved = errno;
      if (fifo && saved == ENXIO)
        g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                     _("Cannot write '%s': it is a FIFO and nothing is reading from it "
                       "(start the reader first)"), display);
      else
        g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                     g_strerror (saved));
      return FALSE;
    }
  /* Blocking writes from here on: a slow reader is waited for. */
  flags = fcntl (fd, F_GETFL);
  if (flags >= 0)
    fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int saved = n < 0 ? errno : EIO;
          g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                       g_strerror (saved));
          close (fd);
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  if (close (fd) != 0 && errno != EINTR)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

gboolean
mirada_output_write (const char *path, const void *data, gsize len, GError **error)
{
  g_autofree char *display = NULL;
  g_autofree char *target = NULL;
  g_autoptr(GError) local = NULL;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (mirada_output_is_stdout (path))
    return write_stdout (data, len, error);

  display = g_filename_display_name (path);
  if (*path == '\0')
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write a file with an empty name"));
      return FALSE;
    }
  if (!(target = resolve_links (path, error)))
    return FALSE;

  if (g_stat (target, &st) == 0)
    {
      if (S_ISDIR (st.st_mode))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                       _("Cannot write '%s': it is a folder; give a file name"), display);
          return FALSE;
        }
      if (!S_ISREG (st.st_mode))
        return write_special (target, display, data, len, S_ISFIFO (st.st_mode), error);
    }
  else if (errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                   g_strerror (saved));
      return FALSE;
    }

  /* A regular file, or a new one: temporary file in the same folder +
   * rename, so a reader never sees half a file. */
  if (!g_file_set_contents (target, data ? data : "", (gssize) len, &local))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */

gboolean
mirada_export_npy_2d (const char *path, const float *values, int rows, int cols, GError **error)
{
  g_autoptr(GString) header = g_string_new (NULL);
  g_autoptr(GByteArray) out = g_byte_array_new ();
  static const guint8 magic[] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0 };
  guint16 hlen;

  g_string_printf (header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }",
                   rows, cols);
  /* pad so that magic + length + header is a multiple of 64, ending in \n */
  while ((sizeof magic + 2 + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  hlen = GUINT16_TO_LE ((guint16) header->len);
  g_byte_array_append (out, magic, sizeof magic);
  g_byte_array_append (out, (const guint8 *) &hlen, 2);
  g_byte_array_append (out, (const guint8 *) header->str, header->len);
  for (gsize i = 0; i < (gsize) rows * cols; i++)
    {
      guint32 bits;
      memcpy (&bits, &values[i], 4);
      bits = GUINT32_TO_LE (bits);
      g_byte_array_append (out, (const guint8 *) &bits, 4);
    }
  return mirada_output_write (path, out->data, out->len, error);
}

gboolean
mirada_export_csv_2d (const char *path, const float *values, int rows, int cols, GError **error)
{
  g_autoptr(MiradaCsv) csv = mirada_csv_new ();

  for (int r = 0; r < rows; r++)
    {
      for (int c = 0; c < cols; c++)
        mirada_csv_add_double (csv, values[(gsize) r * cols + c], "%.9g");
      mirada_csv_end_row (csv);
    }
  return mirada_csv_save (csv, path, error);
}

/* ------------------------------------------------------------------ */

struct _MiradaCsv
{
  GString *text;
  gboolean in_row; /* a field was added to the current row */
};

MiradaCsv *
mirada_csv_new (void)
{
  MiradaCsv *csv = g_new0 (MiradaCsv, 1);

  csv->text = g_string_new (NULL);
  return csv;
}

void
mirada_csv_free (MiradaCsv *csv)
{
  if (csv == NULL)
    return;
  g_string_free (csv->text, TRUE);
  g_free (csv);
}

static void
begin_field (MiradaCsv *csv)
{
  if (csv->in_row)
    g_string_append_c (csv->text, ',');
  csv->in_row = TRUE;
}

void
mirada_csv_add_string (MiradaCsv *csv, const char *text)
{
  begin_field (csv);
  if (text == NULL)
    return;
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (csv->text, text);
      return;
    }
  g_string_append_c (csv->text, '"');
  for (const char *p = text; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (csv->text, '"');
      g_string_append_c (csv->text, *p);
    }
  g_string_append_c (csv->text, '"');
}

void
mirada_csv_add_double (MiradaCsv *csv, double value, const char *format)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  begin_field (csv);
  if (isnan (value))
    return;
  g_string_append (csv->text, g_ascii_formatd (buf, sizeof buf, format ? format : "%.9g",
                                               value));
}

void
mirada_csv_add_int (MiradaCsv *csv, gint64 value)
{
  begin_field (csv);
  g_string_append_printf (csv->text, "%" G_GINT64_FORMAT, value);
}

void
mirada_csv_end_row (MiradaCsv *csv)
{
  g_string_append_c (csv->text, '\n');
  csv->in_row = FALSE;
}

const char *
mirada_csv_get_text (MiradaCsv *csv, gsize *len)
{
  if (len)
    *len = csv->text->len;
  return csv->text->str;
}

gboolean
mirada_csv_save (MiradaCsv *csv, const char *path, GError **error)
{
  return mirada_output_write (path, csv->text->str, csv->text->len, error);
}
