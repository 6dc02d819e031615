/* mirada-h5-reader.c: reads one HDF5 file for Mirada in a process of its own.
 *
 *   mirada-h5-reader [--memory-limit=BYTES] [--cpu-limit=SECONDS]
 *                    [--output-limit=BYTES] [--file-offsets] -- FILE
 *   mirada-h5-reader ... -- -        (the file image on stdin)
 *
 * Writes the file's groups, text attributes and float32 datasets to stdout
 * in the stream format of engine/io/mir-h5-file.h.  When stdout is a
 * regular file open for reading and writing (Mirada gives it a memory
 * file) the datasets are read into the file's pages in place
 * (mir_h5_dump_to_fd()); to a pipe or a write-only file, streamed.  With
 * --file-offsets, float32 datasets stored plainly in the file are sent as
 * their offset (mir_h5_dump_set_file_offsets()) and Mirada reads them.  libhdf5 1.10 hangs or
 * crashes on some corrupt files; here that costs a child process, which
 * Mirada (mir_h5_file_open()) kills after a timeout or reports when it
 * crashed.  Not meant to be run by hand; installed in libexecdir.
 */
#define G_LOG_DOMAIN "mirada-h5-reader"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "mir-h5-file.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Largest file image accepted on stdin (.keras weights are ~500 MB). */
#define MAX_IMAGE ((gsize) 8 << 30)

typedef struct
{
  guint8 buf[1 << 20];
  gsize len;
} Out;

static gboolean
write_all (const void *data, gsize len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      gssize n = write (STDOUT_FILENO, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static gboolean
flush_out (Out *o)
{
  gboolean ok = write_all (o->buf, o->len);

  o->len = 0;
  return ok;
}

static gboolean
sink (const void *data, gsize len, gpointer user_data)
{
  Out *o = user_data;

  if (len > sizeof o->buf - o->len && !flush_out (o))
    return FALSE;
  if (len >= sizeof o->buf)
    return write_all (data, len);
  memcpy (o->buf + o->len, data, len);
  o->len += len;
  return TRUE;
}

static void
set_limit (int resource, guint64 value)
{
  struct rlimit rl = { (rlim_t) value, (rlim_t) value };

  if (setrlimit (resource, &rl) != 0)
    g_printerr ("mirada-h5-reader: cannot set a resource limit: %s\n", g_strerror (errno));
}

static guint8 *
read_stdin (gsize *len)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 chunk[1 << 16];

  for (;;)
    {
      gssize n = read (STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (data->len + (gsize) n > MIN (MAX_IMAGE, G_MAXUINT))
        return NULL;
      g_byte_array_append (data, chunk, (guint) n);
    }
  *len = data->len;
  return g_byte_array_free (g_steal_pointer (&data), FALSE);
}

int
main (int argc, char **argv)
{
  static Out out;
  g_autofree guint8 *image = NULL;
  const char *file = NULL;
  guint64 memory = 0, cpu = 0, output = 0;
  struct stat st;
  gboolean to_file;
  gsize image_len = 0;
  gboolean ok;

#ifdef __linux__
  /* Ends with Mirada. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
#endif
  for (int i = 1; i < argc; i++)
    {
      if (g_str_has_prefix (argv[i], "--memory-limit="))
        memory = g_ascii_strtoull (argv[i] + 15, NULL, 10);
      else if (g_str_has_prefix (argv[i], "--cpu-limit="))
        cpu = g_ascii_strtoull (argv[i] + 12, NULL, 10);
      else if (g_str_has_prefix (argv[i], "--output-limit="))
        output = g_ascii_strtoull (argv[i] + 15, NULL, 10);
      else if (strcmp (argv[i], "--file-offsets") == 0)
        mir_h5_dump_set_file_offsets (TRUE);
      else if (strcmp (argv[i], "--") == 0 && i + 2 == argc)
        file = argv[i + 1];
    }
  if (file == NULL)
    {
      g_printerr ("usage: mirada-h5-reader [--memory-limit=BYTES] [--cpu-limit=SECONDS] "
                  "[--output-limit=BYTES] [--file-offsets] -- FILE|-\n");
      return 2;
    }

  set_limit (RLIMIT_CORE, 0);
  if (cpu > 0)
    set_limit (RLIMIT_CPU, cpu);
  /* a regular file open for reading and writing (mappable): Mirada's memfd */
  to_file = fstat (STDOUT_FILENO, &st) == 0 && S_ISREG (st.st_mode) &&
            (fcntl (STDOUT_FILENO, F_GETFL) & O_ACCMODE) == O_RDWR;
  if (output > 0)
    {
      /* past it, writes fail (EFBIG) instead of killing the process */
      signal (SIGXFSZ, SIG_IGN);
      set_limit (RLIMIT_FSIZE, output);
    }
#ifndef UNDER_ASAN
  /* AddressSanitizer reserves terabytes of address space up front. */
  if (memory > 0)
    set_limit (RLIMIT_AS, memory);
#else
  (void) memory;
#endif

  if (strcmp (file, "-") == 0)
    {
      image = read_stdin (&image_len);
      if (image == NULL)
        {
          g_printerr ("mirada-h5-reader: cannot read the file image from stdin\n");
          return 1;
        }
      ok = to_file ? mir_h5_dump_to_fd (NULL, image, image_len, STDOUT_FILENO)
                   : mir_h5_dump (NULL, image, image_len, sink, &out);
    }
  else
    ok = to_file ? mir_h5_dump_to_fd (file, NULL, 0, STDOUT_FILENO)
                 : mir_h5_dump (file, NULL, 0, sink, &out);
  ok = ok && flush_out (&out);
  /* No cleanup: libhdf5's own shutdown is more of the code we distrust. */
  _exit (ok ? 0 : 1);
}
