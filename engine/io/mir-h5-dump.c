/* mir-h5-dump.c: the child's side of mir-h5-file.h.
 *
 * Walks an HDF5 file with libhdf5 and writes every group, every text
 * attribute of a group and every dataset (as float32) to a sink in the
 * stream format of mir-h5-file.h.  This is the only code that calls libhdf5
 * on untrusted files; it runs in `mirada-h5-reader` (or in the fuzz
 * harnesses).  A problem with one object is written as an error record and
 * the walk goes on: the loader decides whether it needs that object.
 */
#define G_LOG_DOMAIN "mir-h5"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <hdf5.h>

#include "mir-file.h"
#include "mir-h5-file.h"
#include "mir-keras-private.h"

/* Most members of one group, attributes of one group, and objects in all. */
#define MAX_MEMBERS 1000000
#define MAX_OBJECTS 2000000
#define MAX_DEPTH 64

typedef struct
{
  MirH5Sink sink;
  gpointer user_data;
  gboolean failed;
  guint objects;
  gint64 elements;            /* float32 values written so far */
  GHashTable *seen;           /* object address -> path (owned) */
  float *buf;                 /* reused for every dataset: fewer page faults */
  gsize buf_len;              /* in floats */
  /* mir_h5_dump_to_fd(): the stream goes to a file at @pos, through @obuf;
   * dataset values are read by libhdf5 straight into the file's pages */
  int fd;
  guint64 pos;
  guint8 *obuf;
  gsize olen;
  /* mir_h5_dump_set_file_offsets(): where the dumped file's bytes are (the
   * file, or the image), for 'F' records */
  gboolean offsets;
  int src_fd;
  const guint8 *src_image;
  guint64 src_size;
} Dump;

static gboolean dump_file_offsets;

void
mir_h5_dump_set_file_offsets (gboolean value)
{
  dump_file_offsets = value;
}

#define OBUF_SIZE ((gsize) 1 << 20)

typedef hid_t MirH5Id;

static void
h5_close (hid_t id)
{
  if (id < 0)
    return;
  switch (H5Iget_type (id))
    {
    case H5I_FILE:
      H5Fclose (id);
      break;
    case H5I_GROUP:
      H5Gclose (id);
      break;
    case H5I_DATASET:
      H5Dclose (id);
      break;
    case H5I_ATTR:
      H5Aclose (id);
      break;
    case H5I_DATATYPE:
      H5Tclose (id);
      break;
    case H5I_DATASPACE:
      H5Sclose (id);
      break;
    case H5I_GENPROP_LST:
      H5Pclose (id);
      break;
    default:
      break;
    }
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (MirH5Id, h5_close, -1)

static herr_t
walk_cb (unsigned n, const H5E_error2_t *err, void *data)
{
  char **detail = data;

  if (*detail == NULL && err->desc != NULL && err->desc[0] != '\0')
    *detail = g_strdup (err->desc);
  return 0;
}

/* The innermost message on this thread's HDF5 error stack (or ""). */
static char *
dup_detail (void)
{
  char *detail = NULL;

  H5Ewalk2 (H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &detail);
  H5Eclear2 (H5E_DEFAULT);
  return detail ? detail : g_strdup ("");
}

/* ------------------------------------------------------------------ */
/* Writing records */

static gboolean
pwrite_all (int fd, const void *data, gsize len, guint64 pos)
{
  const guint8 *p = data;

  while (len > 0)
    {
      gssize n = pwrite (fd, p, len, (off_t) pos);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (gsize) n;
      pos += (guint64) n;
    }
  return TRUE;
}

static void
flush_fd (Dump *d)
{
  if (d->olen > 0 && !d->failed && !pwrite_all (d->fd, d->obuf, d->olen, d->pos))
    d->failed = TRUE;
  d->pos += d->olen;
  d->olen = 0;
}

static void
put (Dump *d, const void *data, gsize len)
{
  if (d->failed || len == 0)
    return;
  if (d->fd < 0)
    {
      if (!d->sink (data, len, d->user_data))
        d->failed = TRUE;
      return;
    }
  if (len > OBUF_SIZE - d->olen)
    flush_fd (d);
  if (len >= OBUF_SIZE)
    {
      if (!pwrite_all (d->fd, data, len, d->pos))
        d->failed = TRUE;
      d->pos += len;
      return;
    }
  memcpy (d->obuf + d->olen, data, len);
  d->olen += len;
}

static void
put_u8 (Dump *d, guint8 v)
{
  put (d, &v, 1);
}

static void
put_u32 (Dump *d, guint32 v)
{
  put (d, &v, 4);
}

static void
put_i64 (Dump *d, gint64 v)
{
  put (d, &v, 8);
}

static void
put_str (Dump *d, const char *s)
{
  gsize len = strlen (s);

  put_u32 (d, (guint32) MIN (len, G_MAXUINT32));
  put (d, s, MIN (len, G_MAXUINT32));
}

static void
put_err (Dump *d, MirH5ErrKind kind, gint64 arg, const char *doing, const char *detail)
{
  put_u32 (d, kind);
  put_i64 (d, arg);
  put_str (d, doing ? doing : "");
  put_str (d, detail ? detail : "");
}

/* An error record of the HDF5-call kind, with HDF5's message. */
static void
put_h5_err (Dump *d, const char *doing)
{
  g_autofree char *detail = dup_detail ();

  put_err (d, MIR_H5_ERR_HDF5, 0, doing, detail);
}

/* ------------------------------------------------------------------ */
/* Attributes */

/* Reads the text attribute @name of @obj into @out (one entry per element;
 * a byte array gives one string; an empty array gives none).  On failure
 * writes nothing and returns the error record's fields. */
static gboolean
read_attr (hid_t obj, const char *name, GPtrArray *out, MirH5ErrKind *kind, gint64 *arg,
           const char **doing, char **detail)
{
  g_auto(MirH5Id) attr = -1;
  g_auto(MirH5Id) type = -1;
  g_auto(MirH5Id) space = -1;
  g_auto(MirH5Id) mem = -1;
  hssize_t npoints;
  H5T_class_t klass;
  size_t size;
  gsize total;

  *kind = MIR_H5_ERR_HDF5;
#define FAIL(call) do { *doing = call; *detail = dup_detail (); return FALSE; } while (0)
  if ((attr = H5Aopen (obj, name, H5P_DEFAULT)) < 0)
    FAIL ("H5Aopen");
  if ((type = H5Aget_type (attr)) < 0 || (space = H5Aget_space (attr)) < 0)
    FAIL ("H5Aget_type");
  npoints = H5Sget_simple_extent_npoints (space);
  if (npoints < 0)
    FAIL ("H5Sget_simple_extent_npoints");
  if (npoints > MIR_KERAS_MAX_LIST)
    {
      *kind = MIR_H5_ERR_TOO_MANY;
      *arg = npoints;
      return FALSE;
    }
  klass = H5Tget_class (type);
  size = H5Tget_size (type);
  if (klass < 0 || size == 0)
    FAIL ("H5Tget_class");
  if (npoints == 0)
    return TRUE;

  if (klass == H5T_STRING && H5Tis_variable_str (type) > 0)
    {
      g_autofree char **buf = g_new0 (char *, npoints);
      gboolean big = FALSE;

      if ((mem = H5Tcopy (H5T_C_S1)) < 0 || H5Tset_size (mem, H5T_VARIABLE) < 0 ||
          H5Tset_cset (mem, H5Tget_cset (type)) < 0)
        FAIL ("H5Tcopy");
      if (H5Aread (attr, mem, buf) < 0)
        FAIL ("H5Aread");
      for (hssize_t i = 0; i < npoints && !big; i++)
        {
          big = buf[i] != NULL && strlen (buf[i]) > MIR_KERAS_MAX_ATTR_BYTES;
          if (!big)
            g_ptr_array_add (out, g_strdup (buf[i] ? buf[i] : ""));
        }
      H5Dvlen_reclaim (mem, space, H5P_DEFAULT, buf);
      if (big)
        goto too_big;
      return TRUE;
    }

  if (!g_size_checked_mul (&total, (gsize) npoints, size) || total > MIR_KERAS_MAX_ATTR_BYTES)
    goto too_big;

  if (klass == H5T_STRING)
    {
      g_autofree char *buf = g_try_malloc (total + 1);

      if (buf == NULL)
        goto too_big;
      if ((mem = H5Tcopy (H5T_C_S1)) < 0 || H5Tset_size (mem, size) < 0 ||
          H5Tset_strpad (mem, H5T_STR_NULLPAD) < 0)
        FAIL ("H5Tcopy");
      if (H5Aread (attr, mem, buf) < 0)
        FAIL ("H5Aread");
      for (hssize_t i = 0; i < npoints; i++)
        g_ptr_array_add (out, g_strndup (buf + (gsize) i * size, size));
      return TRUE;
    }

  if ((klass == H5T_INTEGER && size == 1) || klass == H5T_OPAQUE)
    {
      g_autofree char *buf = g_try_malloc (total + 1);

      if (buf == NULL)
        goto too_big;
      if (H5Aread (attr, klass == H5T_INTEGER ? H5T_NATIVE_UCHAR : type, buf) < 0)
        FAIL ("H5Aread");
      buf[total] = '\0';
      g_ptr_array_add (out, g_strndup (buf, total));
      return TRUE;
    }
#undef FAIL

  *kind = MIR_H5_ERR_NOT_TEXT;
  return FALSE;

too_big:
  *kind = MIR_H5_ERR_TOO_BIG;
  return FALSE;
}

static herr_t
attr_name_cb (hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
  GPtrArray *names = data;

  if (names->len >= MAX_MEMBERS)
    return -1;
  g_ptr_array_add (names, g_strdup (name));
  return 0;
}

static void
dump_attrs (Dump *d, hid_t g, const char *path)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (H5Aiterate2 (g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, attr_name_cb, names) < 0)
    {
      put_u8 (d, 'g');
      put_str (d, path);
      put_h5_err (d, "H5Aexists");
      return;
    }
  for (guint i = 0; i < names->len && !d->failed; i++)
    {
      g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *detail = NULL;
      MirH5ErrKind kind;
      gint64 arg = 0;
      const char *doing = NULL;

      if (read_attr (g, names->pdata[i], values, &kind, &arg, &doing, &detail))
        {
          put_u8 (d, 'A');
          put_str (d, path);
          put_str (d, names->pdata[i]);
          put_u32 (d, values->len);
          for (guint j = 0; j < values->len; j++)
            {
              /* Fixed-size strings may hold NULs: the stream carries them
               * as they are, the parent stops at the first. */
              put_str (d, values->pdata[j]);
            }
        }
      else
        {
          put_u8 (d, 'a');
          put_str (d, path);
          put_str (d, names->pdata[i]);
          put_err (d, kind, arg, doing, detail);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Datasets */

/* The 'D' record of a dataset in a file output, its values read by libhdf5
 * into the file's pages (no copy of a 400 MB weight through a buffer).  A
 * 'P' record first makes the values start at a multiple of
 * MIR_H5_STREAM_ALIGN, so the parent can use them where they are. */
static void
dump_values_in_place (Dump *d, hid_t ds, const char *path, int ndims, const gint64 *shape,
                      gint64 numel)
{
  gsize header = 1 + 4 + strlen (path) + 4 + 8 * (gsize) ndims;
  gsize bytes = (gsize) numel * sizeof (float);
  guint64 start, data_at, map_at;
  guint32 pad;
  long page = sysconf (_SC_PAGESIZE);
  void *map;
  gboolean ok;

  flush_fd (d);
  if (d->failed)
    return;
  start = d->pos;
  pad = (guint32) ((MIR_H5_STREAM_ALIGN - (start + 5 + header) % MIR_H5_STREAM_ALIGN) %
                   MIR_H5_STREAM_ALIGN);
  data_at = start + 5 + pad + header;
  map_at = data_at / (guint64) page * (guint64) page;
  if (ftruncate (d->fd, (off_t) (data_at + bytes)) != 0)
    {
      put_u8 (d, 'd');
      put_str (d, path);
      put_err (d, MIR_H5_ERR_TOO_BIG, 0, NULL, NULL);
      return;
    }
  map = mmap (NULL, (gsize) (data_at - map_at) + bytes, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_POPULATE,
              d->fd, (off_t) map_at);
  if (map == MAP_FAILED)
    {
      put_u8 (d, 'd');
      put_str (d, path);
      put_err (d, MIR_H5_ERR_TOO_BIG, 0, NULL, NULL);
      return;
    }
  ok = H5Dread (ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                (guint8 *) map + (data_at - map_at)) >= 0;
  munmap (map, (gsize) (data_at - map_at) + bytes);
  if (!ok)
    {
      g_autofree char *det = dup_detail ();
      /* the values written so far are overwritten by what follows, and cut
       * off at the end */
      put_u8 (d, 'd');
      put_str (d, path);
      put_err (d, MIR_H5_ERR_READ, 0, "H5Dread", det);
      return;
    }
  d->elements += numel;
  put_u8 (d, 'P');
  put_u32 (d, pad);
  for (guint32 i = 0; i < pad; i++)
    put_u8 (d, 0);
  put_u8 (d, 'D');
  put_str (d, path);
  put_u32 (d, (guint32) ndims);
  for (int i = 0; i < ndims; i++)
    put_i64 (d, shape[i]);
  flush_fd (d);
  g_warn_if_fail (d->failed || d->pos == data_at);
  d->pos += bytes;
}

/* @n bytes at @offset of the dumped file (or image) into @dst. */
static gboolean
read_source (Dump *d, guint64 offset, void *dst, gsize n)
{
  if (offset > d->src_size || n > d->src_size - offset)
    return FALSE;
  if (d->src_image != NULL)
    {
      memcpy (dst, d->src_image + offset, n);
      return TRUE;
    }
  return mir_file_pread_all (d->src_fd, dst, n, offset) == (gssize) n;
}

/* Element @index (first or last) of @ds read by libhdf5 and from the file
 * at @offset: the same bits, or the offset is not what this code thinks. */
static gboolean
same_element (Dump *d, hid_t ds, int ndims, const gint64 *shape, gboolean last,
              guint64 offset, gint64 numel)
{
  g_auto(MirH5Id) fspace = -1;
  g_auto(MirH5Id) mspace = -1;
  hsize_t start[MIR_MAX_DIMS], count[MIR_MAX_DIMS], one = 1;
  float via_hdf5 = 0, via_file = 0;

  for (int i = 0; i < ndims; i++)
    {
      start[i] = last ? (hsize_t) (shape[i] - 1) : 0;
      count[i] = 1;
    }
  if ((fspace = H5Dget_space (ds)) < 0 || (mspace = H5Screate_simple (1, &one, NULL)) < 0 ||
      (ndims > 0 &&
       H5Sselect_hyperslab (fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) ||
      H5Dread (ds, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, &via_hdf5) < 0)
    return FALSE;
  if (!read_source (d, offset + (last ? (guint64) (numel - 1) * 4 : 0), &via_file, 4))
    return FALSE;
  return memcmp (&via_hdf5, &via_file, 4) == 0;
}

/* An 'F' record for a dataset whose values lie in the file as they are:
 * little-endian float32, contiguous, unfiltered, all of them stored.  The
 * parent reads them from the file itself (one copy, into memory it backs
 * with huge pages) instead of through this process.  FALSE: not such a
 * dataset, dump its values. */
static gboolean
dump_offset (Dump *d, hid_t ds, hid_t type, const char *path, int ndims, const gint64 *shape,
             gint64 numel)
{
  g_auto(MirH5Id) dcpl = -1;
  haddr_t offset;

  if (G_BYTE_ORDER != G_LITTLE_ENDIAN || H5Tequal (type, H5T_IEEE_F32LE) <= 0 ||
      (dcpl = H5Dget_create_plist (ds)) < 0 || H5Pget_layout (dcpl) != H5D_CONTIGUOUS ||
      H5Pget_nfilters (dcpl) != 0 || (offset = H5Dget_offset (ds)) == HADDR_UNDEF ||
      H5Dget_storage_size (ds) != (hsize_t) numel * 4 ||
      (guint64) offset > d->src_size || (guint64) numel * 4 > d->src_size - offset ||
      !same_element (d, ds, ndims, shape, FALSE, offset, numel) ||
      !same_element (d, ds, ndims, shape, TRUE, offset, numel))
    {
      H5Eclear2 (H5E_DEFAULT);
      return FALSE;
    }
  d->elements += numel;
  put_u8 (d, 'F');
  put_str (d, path);
  put_u32 (d, (guint32) ndims);
  for (int i = 0; i < ndims; i++)
    put_i64 (d, shape[i]);
  put_i64 (d, (gint64) offset);
  return TRUE;
}

static void
dump_dataset (Dump *d, hid_t loc, const char *name, const char *path)
{
  g_auto(MirH5Id) ds = -1;
  g_auto(MirH5Id) space = -1;
  g_auto(MirH5Id) type = -1;
  hsize_t dims[MIR_MAX_DIMS];
  gint64 shape[MIR_MAX_DIMS];
  H5T_class_t klass;
  size_t size;
  gint64 numel;
  int ndims;

#define ERR(kind, arg, doing, detail) \
  do { put_u8 (d, 'd'); put_str (d, path); put_err (d, kind, arg, doing, detail); return; } \
  while (0)
#define H5ERR(kind, doing) \
  do { g_autofree char *det = dup_detail (); ERR (kind, 0, doing, det); } while (0)

  if ((ds = H5Dopen2 (loc, name, H5P_DEFAULT)) < 0)
    H5ERR (MIR_H5_ERR_OPEN, "H5Dopen");
  if ((space = H5Dget_space (ds)) < 0 || (ndims = H5Sget_simple_extent_ndims (space)) < 0)
    H5ERR (MIR_H5_ERR_HDF5, "H5Dget_space");
  if (ndims > MIR_MAX_DIMS)
    ERR (MIR_H5_ERR_RANK, ndims, NULL, NULL);
  if (H5Sget_simple_extent_dims (space, dims, NULL) < 0)
    H5ERR (MIR_H5_ERR_HDF5, "H5Sget_simple_extent_dims");
  for (int i = 0; i < ndims; i++)
    {
      if (dims[i] > (hsize_t) MIR_TENSOR_MAX_ELEMENTS)
        ERR (MIR_H5_ERR_TOO_BIG, 0, NULL, NULL);
      shape[i] = (gint64) dims[i];
    }
  numel = mir_h5_shape_numel ((guint) ndims, shape);
  if (numel < 0 || numel > MIR_KERAS_MAX_PARAMS - d->elements)
    ERR (MIR_H5_ERR_TOO_BIG, 0, NULL, NULL);
  if ((type = H5Dget_type (ds)) < 0)
    H5ERR (MIR_H5_ERR_HDF5, "H5Dget_type");
  klass = H5Tget_class (type);
  size = H5Tget_size (type);
  if (!((klass == H5T_FLOAT && (size == 2 || size == 4 || size == 8)) ||
        (klass == H5T_INTEGER && size <= 8)))
    ERR (MIR_H5_ERR_DTYPE, 0, NULL, NULL);
  if (d->offsets && numel > 0 && dump_offset (d, ds, type, path, ndims, shape, numel))
    return;
  if (d->fd >= 0 && numel > 0)
    {
      dump_values_in_place (d, ds, path, ndims, shape, numel);
      return;
    }
  if ((gsize) numel > d->buf_len)
    {
      g_free (d->buf);
      d->buf_len = 0;
      if (!(d->buf = g_try_malloc ((gsize) numel * sizeof (float))))
        ERR (MIR_H5_ERR_TOO_BIG, 0, NULL, NULL);
      d->buf_len = (gsize) numel;
    }
  if (numel > 0 && H5Dread (ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->buf) < 0)
    H5ERR (MIR_H5_ERR_READ, "H5Dread");
#undef H5ERR
#undef ERR
  d->elements += numel;
  put_u8 (d, 'D');
  put_str (d, path);
  put_u32 (d, (guint32) ndims);
  for (int i = 0; i < ndims; i++)
    put_i64 (d, shape[i]);
  put (d, d->buf, (gsize) numel * sizeof (float));
}

/* ------------------------------------------------------------------ */
/* Groups */

static herr_t
link_name_cb (hid_t g, const char *name, const H5L_info_t *info, void *data)
{
  GPtrArray *names = data;

  if (names->len >= MAX_MEMBERS)
    return -1;
  /* Soft and external links are not followed: Keras writes none, and an
   * external link would open another file. */
  if (info->type == H5L_TYPE_HARD)
    g_ptr_array_add (names, g_strdup (name));
  return 0;
}

static void
dump_group (Dump *d, hid_t g, const char *path, guint depth)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *only = NULL;

  put_u8 (d, 'G');
  put_str (d, path);
  dump_attrs (d, g, path);

  if (H5Literate (g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, link_name_cb, names) < 0)
    {
      put_u8 (d, 'l');
      put_str (d, path);
      put_h5_err (d, "H5Lexists");
      return;
    }
  /* A Keras 2 model file keeps its weights in /model_weights and nothing
   * else at the root is read: an unrelated dataset beside the model (of any
   * size) is not walked, let alone read into memory. */
  if (depth == 0)
    for (guint i = 0; i < names->len; i++)
      if (strcmp (names->pdata[i], "model_weights") == 0 &&
          H5Oexists_by_name (g, "model_weights", H5P_DEFAULT) > 0)
        {
          H5O_info_t info;
          if (H5Oget_info_by_name2 (g, "model_weights", &info, H5O_INFO_BASIC,
                                    H5P_DEFAULT) >= 0 && info.type == H5O_TYPE_GROUP)
            only = "model_weights";
          break;
        }
  for (guint i = 0; i < names->len && !d->failed; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *child = NULL;
      H5O_info_t info;
      const char *first;
      gpointer key;

      if (only != NULL && strcmp (name, only) != 0)
        continue;
      child = mir_h5_path_join (path, name);

      /* Keras' optimizer state is never read: skip it (it can be twice the
       * size of the weights). */
      if (depth == 0 && (strcmp (name, "optimizer_weights") == 0 ||
                         strcmp (name, "optimizer") == 0))
        continue;
      if (++d->objects > MAX_OBJECTS)
        {
          put_u8 (d, 'l');
          put_str (d, path);
          put_err (d, MIR_H5_ERR_TOO_MANY, d->objects, NULL, NULL);
          return;
        }
      if (H5Oget_info_by_name2 (g, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        {
          /* Neither group nor dataset: report it as an unreadable dataset. */
          g_autofree char *detail = dup_detail ();
          put_u8 (d, 'd');
          put_str (d, child);
          put_err (d, MIR_H5_ERR_OPEN, 0, "H5Oget_info", detail);
          continue;
        }
      key = GSIZE_TO_POINTER ((gsize) info.addr + 1);
      first = g_hash_table_lookup (d->seen, key);
      if (first != NULL)
        {
          /* A second hard link: datasets are aliased, groups (which could
           * form a cycle) are not walked twice. */
          if (info.type == H5O_TYPE_DATASET)
            {
              put_u8 (d, 'L');
              put_str (d, child);
              put_str (d, first);
            }
          continue;
        }
      g_hash_table_insert (d->seen, key, g_strdup (child));
      if (info.type == H5O_TYPE_GROUP)
        {
          g_auto(MirH5Id) sub = -1;

          if (depth + 1 >= MAX_DEPTH)
            continue;
          if ((sub = H5Gopen2 (g, name, H5P_DEFAULT)) < 0)
            {
              put_u8 (d, 'G');
              put_str (d, child);
              put_u8 (d, 'l');
              put_str (d, child);
              put_h5_err (d, "H5Gopen");
              continue;
            }
          dump_group (d, sub, child, depth + 1);
        }
      else if (info.type == H5O_TYPE_DATASET)
        dump_dataset (d, g, name, child);
    }
}

/* ------------------------------------------------------------------ */
/* Files */

static hid_t
open_file (Dump *d, const char *path, const void *image, gsize image_len)
{
  g_auto(MirH5Id) fapl = -1;
  hid_t file;
  htri_t is;

  if (path != NULL)
    {
      FILE *f = fopen (path, "rb");

      if (f == NULL)
        {
          int saved = errno;
          put_u8 (d, 'E');
          put_err (d, MIR_H5_ERR_NO_FILE, 0, NULL, g_strerror (saved));
          return -1;
        }
      fclose (f);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          put_u8 (d, 'E');
          put_err (d, MIR_H5_ERR_IS_DIR, 0, NULL, NULL);
          return -1;
        }
      is = H5Fis_hdf5 (path);
      if (is <= 0)
        {
          g_autofree char *detail = dup_detail ();
          put_u8 (d, 'E');
          put_err (d, is == 0 ? MIR_H5_ERR_NOT_HDF5 : MIR_H5_ERR_NOT_HDF5_DETAIL, 0, NULL,
                   detail);
          return -1;
        }
      file = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
    }
  else
    {
      if ((fapl = H5Pcreate (H5P_FILE_ACCESS)) < 0 ||
          H5Pset_fapl_core (fapl, 1 << 20, 0) < 0 ||
          H5Pset_file_image (fapl, (void *) image, image_len) < 0)
        {
          g_autofree char *detail = dup_detail ();
          put_u8 (d, 'E');
          put_err (d, MIR_H5_ERR_DAMAGED, 0, NULL, detail);
          return -1;
        }
      file = H5Fopen ("image.h5", H5F_ACC_RDONLY, fapl);
    }
  if (file < 0)
    {
      g_autofree char *detail = dup_detail ();
      put_u8 (d, 'E');
      put_err (d, MIR_H5_ERR_DAMAGED, 0, NULL, detail);
    }
  return file;
}

static gboolean dump (Dump *d, const char *path, const void *image, gsize image_len);

gboolean
mir_h5_dump (const char *path, const void *image, gsize image_len, MirH5Sink sink,
             gpointer user_data)
{
  Dump d = { 0 };

  g_return_val_if_fail (sink != NULL, FALSE);

  d.sink = sink;
  d.user_data = user_data;
  d.fd = -1;
  return dump (&d, path, image, image_len);
}

gboolean
mir_h5_dump_to_fd (const char *path, const void *image, gsize image_len, int fd)
{
  g_autofree guint8 *obuf = g_malloc (OBUF_SIZE);
  Dump d = { 0 };
  gboolean ok;

  d.fd = fd;
  d.obuf = obuf;
  ok = dump (&d, path, image, image_len);
  flush_fd (&d);
  /* cut off the values of a dataset that could not be read at the end */
  return ok && !d.failed && ftruncate (fd, (off_t) d.pos) == 0;
}

static gboolean
dump (Dump *dd, const char *path, const void *image, gsize image_len)
{
  Dump d = *dd;
  g_auto(MirH5Id) file = -1;
  g_auto(MirH5Id) root = -1;
  gboolean ok;

  H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);
  d.seen = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  d.src_fd = -1;
  if (dump_file_offsets && image != NULL)
    {
      d.offsets = TRUE;
      d.src_image = image;
      d.src_size = image_len;
    }
  else if (dump_file_offsets && path != NULL && (d.src_fd = open (path, O_RDONLY | O_CLOEXEC)) >= 0)
    {
      struct stat st;
      if (fstat (d.src_fd, &st) == 0 && S_ISREG (st.st_mode))
        {
          d.offsets = TRUE;
          d.src_size = (guint64) st.st_size;
        }
    }
  put (&d, MIR_H5_STREAM_MAGIC, 8);
  file = open_file (&d, path, image, image_len);
  if (file >= 0)
    {
      if ((root = H5Gopen2 (file, "/", H5P_DEFAULT)) < 0)
        {
          g_autofree char *detail = dup_detail ();
          put_u8 (&d, 'E');
          put_err (&d, MIR_H5_ERR_DAMAGED, 0, NULL, detail);
        }
      else
        dump_group (&d, root, "/", 0);
    }
  put_u8 (&d, 'Z');
  if (d.src_fd >= 0)
    close (d.src_fd);
  g_hash_table_unref (d.seen);
  g_free (d.buf);
  ok = !d.failed;
  *dd = d;
  return ok;
}
