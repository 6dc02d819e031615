/* mir-file.h: reading a user's file, safely.
 *
 * Every file a user names (models, sidecars, labels, detector grids, ground
 * truth, TF.js weight shards, bench inputs) is read through these: the file
 * is opened without blocking (a FIFO does not hang), must be a regular file
 * (not a FIFO, device, socket or folder), and its size is checked against a
 * per-kind limit before anything is allocated.  The contents are read, not
 * memory-mapped, so a file truncated while it is read cannot crash Mirada.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Limits per kind of file (bytes). */
#define MIR_FILE_MAX_TEXT   ((gsize) 64 << 20)  /* sidecars, labels, grids, ground truth, metadata */
#define MIR_FILE_MAX_CONFIG ((gsize) 256 << 20) /* Keras configs, TF.js model.json */
#define MIR_FILE_MAX_IMAGE  ((gsize) 1 << 30)   /* image files (also limited in pixels) */

/* Checks that @path is a regular file of at most @max_size bytes, without
 * blocking.  @what names the kind of file in the size error, plural
 * ("labels files").  On success *@size (may be NULL) is its size. */
gboolean  mir_file_check  (const char  *path,
                           gsize        max_size,
                           const char  *what,
                           guint64     *size,
                           GError     **error);

/* Opens @path for reading (O_CLOEXEC) as mir_file_check() allows it: a
 * file descriptor, or -1 with @error.  For readers that take parts of a
 * large file with pread() (the ONNX loader): such a reader must treat a
 * short read as a truncated file. */
int       mir_file_open   (const char  *path,
                           gsize        max_size,
                           const char  *what,
                           guint64     *size,
                           GError     **error);

/* Reads @len bytes at @offset of @fd into @dst, again after short reads and
 * EINTR.  Returns the bytes read: @len, fewer where the file ends, or -1
 * with errno set. */
gssize    mir_file_pread_all (int fd, void *dst, gsize len, guint64 offset);

/* Reads @path as mir_file_check() allows it.  The result is NUL-terminated
 * (the NUL is not counted in *@length); free with g_free(). */
char     *mir_file_read   (const char  *path,
                           gsize        max_size,
                           const char  *what,
                           gsize       *length,
                           GError     **error);

G_END_DECLS
