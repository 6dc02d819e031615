/* mir-h5-file.h: HDF5 model files read in an isolated process.
 *
 * Debian 12's libhdf5 (1.10.8) hangs or crashes on some corrupt files, and
 * model files come from the internet.  So the loaders never call libhdf5 on
 * an untrusted file in the application's process: mir_h5_file_open() runs
 * the helper `mirada-h5-reader` (app/mirada-h5-reader.c), which opens
 * the file with libhdf5 under memory and CPU limits and writes everything
 * the Keras loaders read (groups, text attributes of groups, float32 data of
 * datasets; no optimizer state) to a pipe.  The parent parses that stream
 * with strict bounds (it does not trust the child either), under a wall-clock
 * timeout, and turns a crash, a hang or garbage into a GError.
 *
 * The loaders then ask the parsed MirH5File for attributes and tensors by
 * path; a problem libhdf5 had with one object (a damaged attribute, a
 * dataset of strings) travels in the stream and becomes the same GError the
 * loader gave when it read the object itself, only when the object is used.
 *
 * The stream ("MIRH5 v1", native byte order, the child runs on the same
 * machine): an 8-byte magic, then records, each a tag byte:
 *   'G' str path                                  a group
 *   'A' str group, str name, u32 n, n x str       a text attribute
 *   'a' str group, str name, ERR                  an attribute libhdf5 could not read
 *   'g' str group, ERR                            the attributes of a group could not be listed
 *   'l' str group, ERR                            the members of a group could not be listed
 *   'D' str path, u32 ndim, ndim x i64, float32 data   a dataset
 *   'F' str path, u32 ndim, ndim x i64, i64 offset      a dataset whose values are
 *                                                 in the file itself at @offset, as
 *                                                 little-endian float32 (file offsets
 *                                                 on, see mir_h5_dump_set_file_offsets)
 *   'd' str path, ERR                             a dataset that cannot be read
 *   'L' str path, str target                      a second hard link to a dataset
 *   'P' u32 n, n zero bytes                       padding (n < MIR_H5_STREAM_ALIGN)
 *   'E' ERR                                       the file cannot be opened at all
 *   'Z'                                           end
 * where str = u32 length + bytes, ERR = u32 kind, i64 arg, str doing, str detail.
 *
 * The helper writes the stream into a memory file (memfd) that Mirada maps
 * when the helper is done, not into a pipe: libhdf5 reads each dataset
 * straight into the memory file's pages, after a 'P' record that puts the
 * values at a multiple of MIR_H5_STREAM_ALIGN bytes, and the loaded
 * tensors use those pages in place (no copy of a 500 MB model through a
 * pipe).
 */
#pragma once

#include "mir-tensor.h"

G_BEGIN_DECLS

#define MIR_H5_STREAM_MAGIC "MIRH5\0v1"
/* Where the values of a 'D' record written by mir_h5_dump_to_fd() start
 * (MIR_TENSOR_ALIGN). */
#define MIR_H5_STREAM_ALIGN 64

/* Kinds of the error records. */
typedef enum
{
  MIR_H5_ERR_HDF5 = 1,    /* an HDF5 call failed: doing = the call, detail = HDF5's message */
  MIR_H5_ERR_TOO_MANY,    /* arg = number of entries */
  MIR_H5_ERR_NOT_TEXT,
  MIR_H5_ERR_TOO_BIG,
  MIR_H5_ERR_RANK,        /* arg = rank */
  MIR_H5_ERR_DTYPE,
  MIR_H5_ERR_OPEN,        /* dataset cannot be opened */
  MIR_H5_ERR_READ,        /* dataset data cannot be read */
  MIR_H5_ERR_NO_FILE,     /* 'E': detail = strerror */
  MIR_H5_ERR_IS_DIR,      /* 'E' */
  MIR_H5_ERR_NOT_HDF5,    /* 'E' */
  MIR_H5_ERR_NOT_HDF5_DETAIL, /* 'E': H5Fis_hdf5 failed */
  MIR_H5_ERR_DAMAGED,     /* 'E': H5Fopen failed */
  MIR_H5_ERR_LAST
} MirH5ErrKind;

typedef struct _MirH5File MirH5File;

/* Writes @len bytes of the stream; FALSE stops the dump. */
typedef gboolean (*MirH5Sink) (const void *data, gsize len, gpointer user_data);

/* The child's side: dumps the HDF5 file at @path (or, with @path NULL, the
 * file image @image of @image_len bytes) to @sink.  Returns FALSE only when
 * @sink failed; problems with the file are records in the stream. */
gboolean   mir_h5_dump               (const char  *path,
                                      const void  *image,
                                      gsize        image_len,
                                      MirH5Sink    sink,
                                      gpointer     user_data);

/* The same stream written to @fd, a regular file (the helper's memory
 * file) at its offset 0, the values of each dataset aligned and read in
 * place (see above).  Returns FALSE when the file could not be written. */
gboolean   mir_h5_dump_to_fd         (const char  *path,
                                      const void  *image,
                                      gsize        image_len,
                                      int          fd);

/* The child's side: with @value TRUE, datasets stored in the file as
 * contiguous, unfiltered little-endian float32 become 'F' records (their
 * offset in the file, or in the image) instead of carrying their values;
 * the parent then reads them from the file it opened itself: one copy of a
 * 500 MB model instead of two, into memory it backs with huge pages
 * (mirada-h5-reader --file-offsets).  Each offset is checked first: the
 * first and last values read there must equal libhdf5's. */
void       mir_h5_dump_set_file_offsets (gboolean value);

/* Reads the HDF5 file @path through the helper process.  @display names the
 * file in messages. */
MirH5File *mir_h5_file_open          (const char  *path,
                                      const char  *display,
                                      GError     **error);
/* The same for an HDF5 file held in memory (a .keras archive's member). */
MirH5File *mir_h5_file_open_image    (const void  *data,
                                      gsize        size,
                                      const char  *display,
                                      GError     **error);
/* Parses a stream held in memory (the fuzz harnesses). */
MirH5File *mir_h5_file_parse         (const guint8 *data,
                                      gsize        len,
                                      const char  *display,
                                      GError     **error);
void       mir_h5_file_free          (MirH5File   *self);

/* Reads HDF5 files in this process instead of the helper: only for the fuzz
 * harnesses of the reader itself and for measuring the isolation's cost. */
void       mir_h5_file_set_in_process (gboolean    in_process);

/* 1 when @name (a path relative to the group @group) names a group or a
 * dataset, 0 when not, -1 with @error when the group's members could not be
 * listed.  @what names @group in messages. */
int        mir_h5_file_exists        (MirH5File   *self,
                                      const char  *group,
                                      const char  *name,
                                      const char  *what,
                                      GError     **error);
/* TRUE when @name under @group is a group. */
gboolean   mir_h5_file_has_group     (MirH5File   *self,
                                      const char  *group,
                                      const char  *name);
/* Number of members of the group @group (0 when it is missing). */
guint      mir_h5_file_n_members     (MirH5File   *self,
                                      const char  *group);

/* A scalar text attribute of @group (see mir_h5_read_string_attr()): NULL
 * without error when absent. */
char      *mir_h5_file_read_string_attr (MirH5File  *self,
                                         const char *group,
                                         const char *name,
                                         const char *what,
                                         GError    **error);
/* A list attribute, following Keras' chunking (name0, name1, ...). */
char     **mir_h5_file_read_string_list (MirH5File  *self,
                                         const char *group,
                                         const char *name,
                                         const char *what,
                                         gboolean   *present,
                                         GError    **error);
/* The dataset @name under @group as float32 (a new reference). */
MirTensor *mir_h5_file_read_tensor   (MirH5File   *self,
                                      const char  *group,
                                      const char  *name,
                                      const char  *what,
                                      GError     **error);

/* The number of values of @shape, or -1 when it is negative or too large;
 * unlike mir_shape_numel() a zero dimension does not excuse the others
 * (the strides of a tensor are products of them). */
gint64     mir_h5_shape_numel        (guint        ndim,
                                      const gint64 *shape);

/* "@group/@name" normalised ("/" root, no empty or "." parts).  Transfer full. */
char      *mir_h5_path_join          (const char  *group,
                                      const char  *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirH5File, mir_h5_file_free)

G_END_DECLS
