/* mir-file.c: reading a user's file, safely (see mir-file.h). */
#define G_LOG_DOMAIN "mir-file"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "mir-error.h"
#include "mir-file.h"

static gboolean
check_stat (const struct stat *st, const char *display, gsize max_size, const char *what,
            GError **error)
{
  if (S_ISFIFO (st->st_mode))
    g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is a FIFO, not a file"), display);
  else if (S_ISDIR (st->st_mode))
    g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is a folder, not a file"), display);
  else if (S_ISCHR (st->st_mode) || S_ISBLK (st->st_mode))
    g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is a device, not a file"), display);
  else if (S_ISSOCK (st->st_mode))
    g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is a socket, not a file"), display);
  else if (!S_ISREG (st->st_mode))
    g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is not a regular file"), display);
  else if ((guint64) st->st_size > (guint64) max_size)
    {
      g_autofree char *size = g_format_size_full ((guint64) st->st_size,
                                                  G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *max = g_format_size_full (max_size, G_FORMAT_SIZE_IEC_UNITS);

      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("'%s' is %s; Mirada reads %s of at most %s"), display, size, what, max);
    }
  else
    return TRUE;
  return FALSE;
}

/* Opens without blocking (a FIFO would wait for a writer) and checks. */
static int
open_checked (const char *path, gsize max_size, const char *what, struct stat *st,
              GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  int fd;

  do
    fd = g_open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), display,
                   g_strerror (saved));
      return -1;
    }
  if (fstat (fd, st) != 0)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot read '%s': %s"), display,
                   g_strerror (saved));
      close (fd);
      return -1;
    }
  if (!check_stat (st, display, max_size, what, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

int
mir_file_open (const char *path, gsize max_size, const char *what, guint64 *size, GError **error)
{
  struct stat st;
  int fd;

  g_return_val_if_fail (path != NULL && what != NULL, -1);

  fd = open_checked (path, max_size, what, &st, error);
  if (fd >= 0 && size != NULL)
    *size = (guint64) st.st_size;
  return fd;
}

gboolean
mir_file_check (const char *path, gsize max_size, const char *what, guint64 *size,
                GError **error)
{
  struct stat st;
  int fd;

  g_return_val_if_fail (path != NULL && what != NULL, FALSE);

  fd = open_checked (path, max_size, what, &st, error);
  if (fd < 0)
    return FALSE;
  close (fd);
  if (size != NULL)
    *size = (guint64) st.st_size;
  return TRUE;
}

char *
mir_file_read (const char *path, gsize max_size, const char *what, gsize *length,
               GError **error)
{
  g_autofree char *buf = NULL;
  struct stat st;
  gsize cap, len = 0;
  int fd;

  g_return_val_if_fail (path != NULL && what != NULL && length != NULL, NULL);

  fd = open_checked (path, max_size, what, &st, error);
  if (fd < 0)
    return NULL;
  /* The size may change while the file is read: read to the end, never
   * past the limit. */
  cap = (gsize) st.st_size + 1;
  buf = g_malloc (cap + 1);
  for (;;)
    {
      ssize_t n;

      if (len == cap)
        {
          if (cap > max_size)
            {
              g_autofree char *display = g_filename_display_name (path);
              g_autofree char *max = g_format_size_full (max_size, G_FORMAT_SIZE_IEC_UNITS);

              close (fd);
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("'%s' grew while it was read; Mirada reads %s of at most %s"),
                           display, what, max);
              return NULL;
            }
          cap = MIN (cap * 2, max_size + 1);
          buf = g_realloc (buf, cap + 1);
        }
      n = read (fd, buf + len, cap - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_autofree char *display = g_filename_display_name (path);

          close (fd);
          g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot read '%s': %s"), display,
                       g_strerror (saved));
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  close (fd);
  buf[len] = '\0';
  *length = len;
  return g_steal_pointer (&buf);
}

gssize
mir_file_pread_all (int fd, void *dst, gsize len, guint64 offset)
{
  guint8 *p = dst;
  gsize done = 0;

  while (done < len)
    {
      gssize got = pread (fd, p + done, MIN (len - done, (gsize) 1 << 30),
                          (off_t) (offset + done));

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        return -1;
      if (got == 0)
        break;
      done += (gsize) got;
    }
  return (gssize) done;
}
