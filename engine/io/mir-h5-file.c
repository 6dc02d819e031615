/* mir-h5-file.c: the parent's side of mir-h5-file.h: runs the HDF5 reader
 * helper, parses its stream with strict bounds, answers the loaders. */
#define G_LOG_DOMAIN "mir-h5"
#define _GNU_SOURCE /* memfd_create */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include <math.h>

#include "mir-file.h"
#include "mir-h5-config.h"
#include "mir-h5-file.h"
#include "mir-keras-private.h"

/* Bounds on what the parent accepts from the child. */
#define MAX_STRING_TOTAL ((gsize) 1 << 30)
#define MAX_RECORDS 8000000
/* The largest stream the helper may write: all weights as float32, the
 * strings, and room for the records. */
#define MAX_STREAM ((guint64) MIR_KERAS_MAX_PARAMS * 4 + MAX_STRING_TOTAL + ((guint64) 256 << 20))
/* The reader's wall-clock time: a floor, plus time in proportion to the
 * file (a 553 MB VGG16 is read in 0.6 s; 16 MiB a second leaves room for a
 * slow disk), so a small file that hangs libhdf5 is given up on in seconds.
 * MIRADA_H5_TIMEOUT (seconds) overrides it. */
#define TIMEOUT_FLOOR 5.0
#define TIMEOUT_BYTES_PER_SECOND (16.0 * 1024 * 1024)

typedef struct
{
  MirH5ErrKind kind;
  gint64 arg;
  char *doing;
  char *detail;
} Err;

typedef struct
{
  char **values;
  Err *err;
} Attr;

typedef struct
{
  GHashTable *attrs; /* name -> Attr */
  Err *attr_err;
  Err *link_err;
  guint n_members;
} Group;

typedef struct
{
  MirTensor *tensor;
  Err *err;
} Dataset;

struct _MirH5File
{
  char *display;
  gboolean from_image;
  GHashTable *groups;   /* path -> Group */
  GHashTable *datasets; /* path -> Dataset (aliases share it: refcounted by the table) */
  Err *fatal;
};

static gboolean in_process;

void
mir_h5_file_set_in_process (gboolean value)
{
  in_process = value;
}

static void
err_free (Err *e)
{
  if (e == NULL)
    return;
  g_free (e->doing);
  g_free (e->detail);
  g_free (e);
}

static void
attr_free (Attr *a)
{
  g_strfreev (a->values);
  err_free (a->err);
  g_free (a);
}

static void
group_free (Group *g)
{
  g_hash_table_unref (g->attrs);
  err_free (g->attr_err);
  err_free (g->link_err);
  g_free (g);
}

static void
dataset_clear (Dataset *d)
{
  g_clear_pointer (&d->tensor, mir_tensor_unref);
  err_free (d->err);
}

static void
dataset_unref (Dataset *d)
{
  g_atomic_rc_box_release_full (d, (GDestroyNotify) dataset_clear);
}

static MirH5File *
file_new (const char *display, gboolean from_image)
{
  MirH5File *f = g_new0 (MirH5File, 1);

  f->display = g_strdup (display);
  f->from_image = from_image;
  f->groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) group_free);
  f->datasets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) dataset_unref);
  return f;
}

void
mir_h5_file_free (MirH5File *self)
{
  if (self == NULL)
    return;
  g_free (self->display);
  g_hash_table_unref (self->groups);
  g_hash_table_unref (self->datasets);
  err_free (self->fatal);
  g_free (self);
}

char *
mir_h5_path_join (const char *group, const char *name)
{
  g_autoptr(GString) out = g_string_new ("");
  const char *parts[2] = { group, name };

  for (guint p = 0; p < 2; p++)
    {
      g_auto(GStrv) comps = g_strsplit (parts[p] ? parts[p] : "", "/", -1);

      for (guint i = 0; comps[i] != NULL; i++)
        if (comps[i][0] != '\0' && strcmp (comps[i], ".") != 0)
          {
            g_string_append_c (out, '/');
            g_string_append (out, comps[i]);
          }
    }
  if (out->len == 0)
    g_string_append_c (out, '/');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

gint64
mir_h5_shape_numel (guint ndim, const gint64 *shape)
{
  gint64 nonzero = 1;

  for (guint i = 0; i < ndim; i++)
    {
      if (shape[i] < 0 || shape[i] > MIR_TENSOR_MAX_ELEMENTS)
        return -1;
      if (shape[i] != 0 && nonzero > MIR_TENSOR_MAX_ELEMENTS / shape[i])
        return -1;
      nonzero *= MAX (shape[i], 1);
    }
  return mir_shape_numel (ndim, shape);
}

/* The group holding @path ("/a/b" -> "/a", "/a" -> "/"). */
static char *
parent_path (const char *path)
{
  const char *last = strrchr (path, '/');

  if (last == NULL || last == path)
    return g_strdup ("/");
  return g_strndup (path, (gsize) (last - path));
}

/* ------------------------------------------------------------------ */
/* Reading the stream: from memory, or from the child's pipe under a
 * deadline while its stderr is collected. */

/* The helper's memory file, mapped; the tensors that use its pages in
 * place hold a reference. */
typedef struct
{
  void *base;
  gsize len;
} MirH5Map;

static MirH5Map *
h5_map_ref (MirH5Map *m)
{
  return g_atomic_rc_box_acquire (m);
}

static void
h5_map_clear (MirH5Map *m)
{
  munmap (m->base, m->len);
}

static void
h5_map_unref (MirH5Map *m)
{
  g_atomic_rc_box_release_full (m, (GDestroyNotify) h5_map_clear);
}

typedef struct
{
  const guint8 *mem;
  gsize mem_len;
  gsize pos;
  int err_fd;       /* the helper's stderr, collected */
  gint64 deadline;
  GString *err_text;
  gsize strings;
  gint64 elements;  /* float32 values of all tensors so far */
  MirH5Map *map;    /* mem is this mapping: tensors may use it in place */
  /* the HDF5 file itself ('F' records): @src_fd, or @src_image; @src_size bytes */
  gboolean has_src;
  int src_fd;
  const guint8 *src_image;
  guint64 src_size;
  guint records;
  const char *problem; /* why parsing stopped, for the message */
} Reader;

#define MAX_ERR_TEXT (64 << 10)

static void
drain_stderr (Reader *r)
{
  char tmp[4096];
  gssize n = read (r->err_fd, tmp, sizeof tmp);

  if (n > 0)
    {
      if (r->err_text->len < MAX_ERR_TEXT)
        g_string_append_len (r->err_text, tmp, MIN ((gsize) n, MAX_ERR_TEXT - r->err_text->len));
    }
  else if (n == 0 || (errno != EINTR && errno != EAGAIN))
    {
      close (r->err_fd);
      r->err_fd = -1;
    }
}

static gboolean
rd (Reader *r, void *dst, gsize n)
{
  if (n > r->mem_len - r->pos)
    {
      r->problem = "the stream ends early";
      return FALSE;
    }
  memcpy (dst, r->mem + r->pos, n);
  r->pos += n;
  return TRUE;
}

static gboolean
rd_u32 (Reader *r, guint32 *v)
{
  return rd (r, v, 4);
}

static gboolean
rd_i64 (Reader *r, gint64 *v)
{
  return rd (r, v, 8);
}

/* A string of at most @max bytes; @path: must be a normalised absolute
 * path without NULs. */
static char *
rd_str (Reader *r, gsize max, gboolean path)
{
  guint32 len;
  g_autofree char *s = NULL;

  if (!rd_u32 (r, &len))
    return NULL;
  if (len > max || len > MAX_STRING_TOTAL - r->strings)
    {
      r->problem = "a string is too long";
      return NULL;
    }
  r->strings += len;
  s = g_try_malloc ((gsize) len + 1);
  if (s == NULL)
    {
      r->problem = "out of memory";
      return NULL;
    }
  if (!rd (r, s, len))
    return NULL;
  s[len] = '\0';
  if (path)
    {
      g_autofree char *norm = NULL;

      if (memchr (s, '\0', len) != NULL || s[0] != '/' ||
          strcmp ((norm = mir_h5_path_join (s, NULL)), s) != 0)
        {
          r->problem = "a path is not well formed";
          return NULL;
        }
    }
  return g_steal_pointer (&s);
}

static Err *
rd_err (Reader *r)
{
  Err *e = g_new0 (Err, 1);
  guint32 kind;

  if (!rd_u32 (r, &kind) || !rd_i64 (r, &e->arg) ||
      !(e->doing = rd_str (r, 256, FALSE)) || !(e->detail = rd_str (r, 64 << 10, FALSE)))
    {
      err_free (e);
      return NULL;
    }
  if (kind < MIR_H5_ERR_HDF5 || kind >= MIR_H5_ERR_LAST)
    {
      r->problem = "an unknown error kind";
      err_free (e);
      return NULL;
    }
  e->kind = (MirH5ErrKind) kind;
  return e;
}

/* The group record @path names, or NULL (the stream is then malformed). */
static Group *
known_group (Reader *r, MirH5File *f, const char *path)
{
  Group *g = g_hash_table_lookup (f->groups, path);

  if (g == NULL)
    r->problem = "a record names a group that was not announced";
  return g;
}

/* Registers a new member @path of its parent group. */
static gboolean
add_member (Reader *r, MirH5File *f, const char *path)
{
  g_autofree char *parent = parent_path (path);
  Group *g;

  if (strcmp (path, "/") == 0 || g_hash_table_contains (f->groups, path) ||
      g_hash_table_contains (f->datasets, path))
    {
      r->problem = "an object is announced twice";
      return FALSE;
    }
  if (!(g = known_group (r, f, parent)))
    return FALSE;
  g->n_members++;
  return TRUE;
}

/* Reads a tensor announced at @owned_path (transfer full). */
/* A tensor's rank and shape; its element count in *@numel. */
static gboolean
rd_shape (Reader *r, guint32 *ndim, gint64 *shape, gint64 *numel)
{
  if (!rd_u32 (r, ndim))
    return FALSE;
  if (*ndim > MIR_MAX_DIMS)
    {
      r->problem = "a tensor has too many dimensions";
      return FALSE;
    }
  for (guint i = 0; i < *ndim; i++)
    if (!rd_i64 (r, &shape[i]))
      return FALSE;
  *numel = mir_h5_shape_numel (*ndim, shape);
  if (*numel < 0 || *numel > MIR_KERAS_MAX_PARAMS - r->elements)
    {
      r->problem = "a tensor has a bad shape or there are too many weights";
      return FALSE;
    }
  r->elements += *numel;
  return TRUE;
}

static void
add_dataset (MirH5File *f, char *path, MirTensor *t)
{
  Dataset *d = g_atomic_rc_box_new0 (Dataset);

  d->tensor = t;
  g_hash_table_insert (f->datasets, path, d);
}

/* An 'F' record: the values read from the HDF5 file itself, at the offset
 * the helper found (checked against the file's size here: the helper is
 * not trusted either). */
static gboolean
parse_tensor_at (Reader *r, MirH5File *f, char *owned_path)
{
  g_autofree char *path = owned_path;
  gint64 shape[MIR_MAX_DIMS], numel, offset;
  g_autoptr(MirTensor) t = NULL;
  guint64 bytes;
  guint32 ndim;

  if (!r->has_src)
    {
      r->problem = "a file offset came although none was asked for";
      return FALSE;
    }
  if (!rd_shape (r, &ndim, shape, &numel) || !rd_i64 (r, &offset))
    return FALSE;
  bytes = (guint64) numel * sizeof (float);
  if (offset < 0 || (guint64) offset > r->src_size || bytes > r->src_size - (guint64) offset)
    {
      r->problem = "a dataset lies outside the file";
      return FALSE;
    }
  if (!(t = mir_tensor_new_uninitialized (ndim, shape, NULL)))
    {
      r->problem = "a tensor is too large";
      return FALSE;
    }
  if (r->src_image != NULL)
    memcpy (t->data, r->src_image + offset, (gsize) bytes);
  else if (mir_file_pread_all (r->src_fd, t->data, (gsize) bytes, (guint64) offset)
           != (gssize) bytes)
    {
      r->problem = "the file could not be read again";
      return FALSE;
    }
  add_dataset (f, g_steal_pointer (&path), g_steal_pointer (&t));
  return TRUE;
}

static gboolean
parse_tensor (Reader *r, MirH5File *f, char *owned_path)
{
  g_autofree char *path = owned_path;
  guint32 ndim;
  gint64 shape[MIR_MAX_DIMS];
  g_autoptr(MirTensor) t = NULL;
  gint64 numel;

  if (!rd_shape (r, &ndim, shape, &numel))
    return FALSE;
  /* From memory, allocate only what the stream can fill. */
  if ((guint64) numel * sizeof (float) > r->mem_len - r->pos)
    {
      r->problem = "the stream ends early";
      return FALSE;
    }
  if (r->map != NULL && numel > 0 && (r->pos % MIR_TENSOR_ALIGN) == 0)
    {
      /* the values are aligned in the helper's memory file (the mapping
       * starts at a page): used in place */
      float *values = (float *) (void *) ((guint8 *) r->map->base + r->pos);

      t = mir_tensor_new_wrapped (ndim, shape, values, (GDestroyNotify) h5_map_unref,
                                  h5_map_ref (r->map), NULL);
      if (t == NULL)
        {
          r->problem = "a tensor is too large";
          return FALSE;
        }
      r->pos += (gsize) numel * sizeof (float);
    }
  else if (!(t = mir_tensor_new_uninitialized (ndim, shape, NULL)))
    {
      r->problem = "a tensor is too large";
      return FALSE;
    }
  else if (!rd (r, t->data, (gsize) t->numel * sizeof (float)))
    return FALSE;
  add_dataset (f, g_steal_pointer (&path), g_steal_pointer (&t));
  return TRUE;
}

static gboolean
parse_record (Reader *r, MirH5File *f, guint8 tag)
{
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;
  Group *g;

  if (tag == 'Z')
    return TRUE;
  if (tag == 'P')
    {
      guint32 n;
      guint8 zeros[MIR_H5_STREAM_ALIGN];

      if (!rd_u32 (r, &n))
        return FALSE;
      if (n >= MIR_H5_STREAM_ALIGN)
        {
          r->problem = "a padding record is too long";
          return FALSE;
        }
      return rd (r, zeros, n);
    }
  if (tag == 'E')
    {
      if (f->fatal != NULL)
        {
          r->problem = "two file errors";
          return FALSE;
        }
      return (f->fatal = rd_err (r)) != NULL;
    }
  if (!(path = rd_str (r, 1 << 20, TRUE)))
    return FALSE;

  switch (tag)
    {
    case 'G':
      if (!(strcmp (path, "/") == 0 && g_hash_table_size (f->groups) == 0) &&
          !add_member (r, f, path))
        return FALSE;
      g = g_new0 (Group, 1);
      g->attrs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) attr_free);
      g_hash_table_insert (f->groups, g_steal_pointer (&path), g);
      return TRUE;

    case 'A':
    case 'a':
      {
        Attr *a;

        if (!(g = known_group (r, f, path)) || !(name = rd_str (r, 1 << 20, FALSE)))
          return FALSE;
        if (g_hash_table_contains (g->attrs, name))
          {
            r->problem = "an attribute is announced twice";
            return FALSE;
          }
        a = g_new0 (Attr, 1);
        g_hash_table_insert (g->attrs, g_strdup (name), a);
        if (tag == 'a')
          return (a->err = rd_err (r)) != NULL;
        {
          guint32 n;
          if (!rd_u32 (r, &n))
            return FALSE;
          if (n > MIR_KERAS_MAX_LIST)
            {
              r->problem = "an attribute has too many entries";
              return FALSE;
            }
          a->values = g_new0 (char *, (gsize) n + 1);
          for (guint32 i = 0; i < n; i++)
            if (!(a->values[i] = rd_str (r, MIR_KERAS_MAX_ATTR_BYTES, FALSE)))
              return FALSE;
        }
        return TRUE;
      }

    case 'g':
    case 'l':
      {
        Err **slot;

        if (!(g = known_group (r, f, path)))
          return FALSE;
        slot = tag == 'g' ? &g->attr_err : &g->link_err;
        if (*slot != NULL)
          {
            r->problem = "a group error is announced twice";
            return FALSE;
          }
        return (*slot = rd_err (r)) != NULL;
      }

    case 'D':
      if (!add_member (r, f, path))
        return FALSE;
      return parse_tensor (r, f, g_steal_pointer (&path));

    case 'F':
      if (!add_member (r, f, path))
        return FALSE;
      return parse_tensor_at (r, f, g_steal_pointer (&path));

    case 'd':
      {
        Dataset *d;
        Err *e;

        if (!add_member (r, f, path) || !(e = rd_err (r)))
          return FALSE;
        d = g_atomic_rc_box_new0 (Dataset);
        d->err = e;
        g_hash_table_insert (f->datasets, g_steal_pointer (&path), d);
        return TRUE;
      }

    case 'L':
      {
        g_autofree char *target = NULL;
        Dataset *d;

        if (!add_member (r, f, path) || !(target = rd_str (r, 1 << 20, TRUE)))
          return FALSE;
        if (!(d = g_hash_table_lookup (f->datasets, target)))
          {
            r->problem = "a link points to an unknown dataset";
            return FALSE;
          }
        g_hash_table_insert (f->datasets, g_steal_pointer (&path), g_atomic_rc_box_acquire (d));
        return TRUE;
      }

    default:
      r->problem = "an unknown record";
      return FALSE;
    }
}

/* Parses the whole stream; NULL with r->problem set when it is malformed. */
static MirH5File *
parse (Reader *r, const char *display, gboolean from_image)
{
  g_autoptr(MirH5File) f = file_new (display, from_image);
  char magic[8];
  guint8 tag = 0;

  if (!rd (r, magic, 8))
    return NULL;
  if (memcmp (magic, MIR_H5_STREAM_MAGIC, 8) != 0)
    {
      r->problem = "it does not start with the stream's signature";
      return NULL;
    }
  while (tag != 'Z')
    {
      if (++r->records > MAX_RECORDS)
        {
          r->problem = "too many records";
          return NULL;
        }
      if (!rd (r, &tag, 1) || !parse_record (r, f, tag))
        return NULL;
    }
  if (f->fatal == NULL && !g_hash_table_contains (f->groups, "/"))
    {
      r->problem = "it holds no root group";
      return NULL;
    }
  return g_steal_pointer (&f);
}

/* ------------------------------------------------------------------ */
/* Opening */

/* The error of an 'E' record. */
static void
set_fatal (MirH5File *f, GError **error)
{
  Err *e = f->fatal;
  const char *detail = e->detail[0] ? e->detail : _("unknown HDF5 error");

  switch (e->kind)
    {
    case MIR_H5_ERR_NO_FILE:
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), f->display,
                   detail);
      break;
    case MIR_H5_ERR_IS_DIR:
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("'%s' is a folder, not a model file"),
                   f->display);
      break;
    case MIR_H5_ERR_NOT_HDF5:
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an HDF5 file (Keras .h5/.hdf5 models are)"), f->display);
      break;
    case MIR_H5_ERR_NOT_HDF5_DETAIL:
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an HDF5 file or cannot be read (%s)"), f->display, detail);
      break;
    case MIR_H5_ERR_DAMAGED:
    default:
      if (f->from_image)
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("%s is not a readable HDF5 file: it is probably truncated or damaged "
                       "(%s)"),
                     f->display, detail);
      else
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("'%s' is an HDF5 file but cannot be opened: it is probably truncated or "
                       "damaged (%s)"),
                     f->display, detail);
      break;
    }
}

/* @f (transfer full) if it was parsed and opened, else NULL with @error. */
static MirH5File *
checked (MirH5File *parsed, Reader *r, const char *display, GError **error)
{
  g_autoptr(MirH5File) f = parsed;

  if (f == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Mirada's HDF5 reader sent malformed data for '%s' (%s)"), display,
                   r->problem ? r->problem : "?");
      return NULL;
    }
  if (f->fatal != NULL)
    {
      set_fatal (f, error);
      return NULL;
    }
  return g_steal_pointer (&f);
}

static MirH5File *
finish_parse (Reader *r, const char *display, gboolean from_image, GError **error)
{
  return checked (parse (r, display, from_image), r, display, error);
}

MirH5File *
mir_h5_file_parse (const guint8 *data, gsize len, const char *display, GError **error)
{
  Reader r = { 0 };

  r.mem = data;
  r.mem_len = len;
  return finish_parse (&r, display, FALSE, error);
}

static gboolean
append_sink (const void *data, gsize len, gpointer user_data)
{
  GByteArray *out = user_data;

  if (len > G_MAXUINT - out->len)
    return FALSE;
  g_byte_array_append (out, data, (guint) len);
  return TRUE;
}

static MirH5File *
open_in_process (const char *path, const void *image, gsize size, const char *display,
                 GError **error)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  Reader r = { 0 };

  if (!mir_h5_dump (path, image, size, append_sink, out))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("'%s' holds more data than Mirada reads in one piece"), display);
      return NULL;
    }
  r.mem = out->data;
  r.mem_len = out->len;
  return finish_parse (&r, display, path == NULL, error);
}

static gboolean
is_executable (const char *path)
{
  return path != NULL && g_file_test (path, G_FILE_TEST_IS_REGULAR) &&
         g_access (path, X_OK) == 0;
}

/* The helper: $MIRADA_H5_READER, next to the running program, or in
 * libexecdir. */
static char *
find_reader (GError **error)
{
  const char *env = g_getenv ("MIRADA_H5_READER");
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *installed = g_build_filename (MIR_LIBEXECDIR, "mirada-h5-reader", NULL);

  if (env != NULL && env[0] != '\0')
    {
      if (is_executable (env))
        return g_strdup (env);
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                   _("MIRADA_H5_READER is set to '%s', which is not a program"), env);
      return NULL;
    }
  if (exe != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (exe);
      g_autofree char *next = g_build_filename (dir, "mirada-h5-reader", NULL);

      if (is_executable (next))
        return g_steal_pointer (&next);
    }
  if (is_executable (installed))
    return g_steal_pointer (&installed);
  g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
               _("Mirada's HDF5 reader (mirada-h5-reader) is missing: it is neither next to "
                 "the program nor in %s; reinstall Mirada or set MIRADA_H5_READER"),
               MIR_LIBEXECDIR);
  return NULL;
}

static double
timeout_seconds (guint64 file_size)
{
  const char *env = g_getenv ("MIRADA_H5_TIMEOUT");
  double t = env ? g_ascii_strtod (env, NULL) : 0;

  if (t > 0 && t <= 86400)
    return t;
  return MIN (TIMEOUT_FLOOR + floor ((double) file_size / TIMEOUT_BYTES_PER_SECOND), 86400.0);
}

/* Starts the reader with @in_fd (or /dev/null) as stdin, @out_fd as stdout
 * and a pipe for stderr, nothing else open.  posix_spawn, not fork:
 * glibc's posix_spawn runs no pthread_atfork handlers, and OpenBLAS'
 * handler stops its thread pool, which can hang a BLAS call running on
 * another thread (the GUI computes on workers while a model loads). */
static gboolean
spawn_reader (const char *const *argv, int in_fd, int out_fd, GPid *pid, int *err_fd,
              int *spawn_errno)
{
  posix_spawn_file_actions_t fa;
  int err_pipe[2] = { -1, -1 };
  pid_t child;
  int rc;

  if (pipe2 (err_pipe, O_CLOEXEC) != 0)
    {
      *spawn_errno = errno;
      return FALSE;
    }
  posix_spawn_file_actions_init (&fa);
  if (in_fd >= 0)
    posix_spawn_file_actions_adddup2 (&fa, in_fd, 0);
  else
    posix_spawn_file_actions_addopen (&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2 (&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2 (&fa, err_pipe[1], 2);
  posix_spawn_file_actions_addclosefrom_np (&fa, 3);
  rc = posix_spawn (&child, argv[0], &fa, NULL, (char *const *) argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  close (err_pipe[1]);
  if (rc != 0)
    {
      *spawn_errno = rc;
      close (err_pipe[0]);
      return FALSE;
    }
  *pid = child;
  *err_fd = err_pipe[0];
  return TRUE;
}

/* What the child said on stderr (nothing, normally; a sanitizer report
 * in a debugging build, which under libhdf5 is libhdf5's) is only for
 * debugging: G_MESSAGES_DEBUG=mir-h5 shows it. */
static void
pass_on_stderr (GString *text)
{
  if (text->len > 0)
    g_debug ("mirada-h5-reader: %s", text->str);
}

static MirH5File *
open_isolated (const char *path, const void *image, gsize size, const char *display,
               GError **error)
{
  g_autofree char *reader = find_reader (error);
  g_autofree char *mem_arg = NULL;
  g_autofree char *cpu_arg = NULL;
  g_autofree char *out_arg = NULL;
  g_autoptr(GString) err_text = g_string_new ("");
  g_autoptr(MirH5File) f = NULL;
  int spawn_errno = 0;
  double timeout;
  guint64 file_size = size;
  guint64 mem_limit;
  const char *argv[8];
  Reader r = { 0 };
  int in_fd = -1, out_fd = -1, err_fd = -1, src_fd = -1;
  int status = 0;
  GPid pid = 0;
  gboolean timed_out = FALSE;
  gboolean late = FALSE;
  gboolean ok;
  struct stat ost;

  if (reader == NULL)
    return NULL;
  if (path != NULL)
    {
      struct stat st;

      /* opened here too: the helper may send datasets as offsets in it */
      src_fd = open (path, O_RDONLY | O_CLOEXEC);
      if (src_fd >= 0 && fstat (src_fd, &st) == 0 && S_ISREG (st.st_mode))
        {
          file_size = (guint64) st.st_size;
          r.has_src = TRUE;
          r.src_fd = src_fd;
          r.src_size = file_size;
        }
      else
        {
          GStatBuf gst;
          if (g_stat (path, &gst) == 0)
            file_size = (guint64) gst.st_size;
        }
    }
  else
    {
      r.has_src = TRUE;
      r.src_image = image;
      r.src_size = size;
    }
  if (path == NULL)
    {
      /* The image goes to the child as its stdin: an anonymous memory file. */
      gsize done = 0;

      in_fd = memfd_create ("mirada-h5-image", MFD_CLOEXEC);
      while (in_fd >= 0 && done < size)
        {
          gssize n = write (in_fd, (const guint8 *) image + done, MIN (size - done, 1 << 30));
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              close (in_fd);
              in_fd = -1;
              break;
            }
          done += (gsize) n;
        }
      if (in_fd < 0 || lseek (in_fd, 0, SEEK_SET) != 0)
        {
          int saved = errno;
          if (in_fd >= 0)
            close (in_fd);
          g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                       _("Cannot hand %s to Mirada's HDF5 reader: %s"), display,
                       g_strerror (saved));
          return NULL;
        }
    }

  timeout = timeout_seconds (file_size);
  /* Address space: libhdf5, a copy of the file (image mode), the largest
   * dataset as float32 (float16 data doubles) and slack. */
  mem_limit = ((guint64) 4 << 30) + 3 * MIN (file_size, (guint64) 64 << 30);
  mem_arg = g_strdup_printf ("--memory-limit=%" G_GUINT64_FORMAT, mem_limit);
  cpu_arg = g_strdup_printf ("--cpu-limit=%u", (guint) timeout + 5);
  out_arg = g_strdup_printf ("--output-limit=%" G_GUINT64_FORMAT, (guint64) MAX_STREAM);
  argv[0] = reader;
  argv[1] = mem_arg;
  argv[2] = cpu_arg;
  argv[3] = out_arg;
  argv[4] = r.has_src ? "--file-offsets" : "--";
  argv[5] = r.has_src ? "--" : (path != NULL ? path : "-");
  argv[6] = r.has_src ? (path != NULL ? path : "-") : NULL;
  argv[7] = NULL;

  /* The stream: a memory file the helper writes and this process maps. */
  out_fd = memfd_create ("mirada-h5-stream", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ok = out_fd >= 0 && spawn_reader (argv, in_fd, out_fd, &pid, &err_fd, &spawn_errno);
  if (out_fd < 0)
    spawn_errno = errno;
  if (in_fd >= 0)
    close (in_fd);
  if (!ok)
    {
      if (out_fd >= 0)
        close (out_fd);
      if (src_fd >= 0)
        close (src_fd);
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                   _("Cannot start Mirada's HDF5 reader '%s': %s"), reader,
                   g_strerror (spawn_errno));
      return NULL;
    }

  /* Waits for the helper to exit (it does after its last record), under
   * the deadline, collecting its stderr. */
  r.err_fd = err_fd;
  r.err_text = err_text;
  r.deadline = g_get_monotonic_time () + (gint64) (timeout * G_USEC_PER_SEC);
  for (;;)
    {
      pid_t got = waitpid (pid, &status, WNOHANG);

      if (got == pid || (got < 0 && errno != EINTR))
        break;
      if (g_get_monotonic_time () >= r.deadline)
        {
          kill (pid, SIGKILL);
          timed_out = TRUE;
          while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
            ;
          break;
        }
      if (r.err_fd >= 0)
        {
          struct pollfd p = { r.err_fd, POLLIN, 0 };
          if (poll (&p, 1, 20) > 0)
            drain_stderr (&r);
        }
      else
        g_usleep (1000);
    }
  /* what is left, without waiting for a grandchild that might hold it */
  while (r.err_fd >= 0)
    {
      struct pollfd p = { r.err_fd, POLLIN, 0 };
      if (poll (&p, 1, 0) <= 0)
        {
          close (r.err_fd);
          r.err_fd = -1;
        }
      else
        drain_stderr (&r);
    }
  g_spawn_close_pid (pid);
  pass_on_stderr (err_text);

  /* What it wrote, unless it crashed.  Sealed first: whatever process might
   * still hold the memory file cannot shrink it under the mapping. */
  if (timed_out || (WIFEXITED (status) && WEXITSTATUS (status) == 0))
    {
      MirH5Map *map = NULL;

      if (fcntl (out_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
          fstat (out_fd, &ost) != 0 || (guint64) ost.st_size > MAX_STREAM)
        r.problem = "its memory file cannot be used";
      else if (ost.st_size > 0)
        {
          void *base = mmap (NULL, (gsize) ost.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
                             out_fd, 0);
          if (base == MAP_FAILED)
            r.problem = "its memory file cannot be mapped";
          else
            {
              map = g_atomic_rc_box_new0 (MirH5Map);
              map->base = base;
              map->len = (gsize) ost.st_size;
            }
        }
      if (r.problem == NULL)
        {
          r.mem = map ? map->base : (const guint8 *) "";
          r.mem_len = map ? map->len : 0;
          r.map = map;
          f = parse (&r, display, path == NULL);
        }
      if (map != NULL)
        h5_map_unref (map);
      late = timed_out && f != NULL; /* all data came: only its exit hung */
    }
  close (out_fd);
  if (src_fd >= 0)
    close (src_fd);

  if ((timed_out && !late) || (WIFSIGNALED (status) && WTERMSIG (status) == SIGXCPU))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The HDF5 library did not finish reading '%s' in %g s; the file is "
                     "probably corrupted"),
                   display, timeout);
      return NULL;
    }
  if (WIFSIGNALED (status) && !late)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The HDF5 library crashed reading '%s' (signal %d, %s); the file is "
                     "corrupted or not an HDF5 file"),
                   display, WTERMSIG (status), g_strsignal (WTERMSIG (status)));
      return NULL;
    }
  if (!late && (!WIFEXITED (status) || WEXITSTATUS (status) != 0))
    {
      /* The helper fails only on a broken pipe, or when a sanitizer in a
       * debugging build caught an error. */
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("The HDF5 library crashed reading '%s' (exit status %d); the file is "
                     "corrupted or not an HDF5 file"),
                   display, WIFEXITED (status) ? WEXITSTATUS (status) : -1);
      return NULL;
    }
  return checked (g_steal_pointer (&f), &r, display, error);
}

MirH5File *
mir_h5_file_open (const char *path, const char *display, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  if (display == NULL)
    display = path;
  /* libhdf5 would block on a FIFO (in the helper, until its timeout). */
  if (!g_file_test (path, G_FILE_TEST_IS_DIR) &&
      !mir_file_check (path, G_MAXSIZE, _("model files"), NULL, error))
    return NULL;
  if (in_process)
    return open_in_process (path, NULL, 0, display, error);
  return open_isolated (path, NULL, 0, display, error);
}

MirH5File *
mir_h5_file_open_image (const void *data, gsize size, const char *display, GError **error)
{
  g_return_val_if_fail (data != NULL || size == 0, NULL);
  g_return_val_if_fail (display != NULL, NULL);

  if (in_process)
    return open_in_process (NULL, data, size, display, error);
  return open_isolated (NULL, data, size, display, error);
}

/* ------------------------------------------------------------------ */
/* Questions */

static void
set_h5_fail (GError **error, const Err *e, const char *what, const char *name)
{
  g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
               _("Cannot read %s of %s: %s failed; the file may be truncated or damaged (%s)"),
               name, what, e->doing[0] ? e->doing : "HDF5",
               e->detail[0] ? e->detail : _("unknown HDF5 error"));
}

int
mir_h5_file_exists (MirH5File *self, const char *group, const char *name, const char *what,
                    GError **error)
{
  g_autofree char *path = mir_h5_path_join (group, name);
  g_autofree char *parent = NULL;
  Group *g;

  if (g_hash_table_contains (self->groups, path) || g_hash_table_contains (self->datasets, path))
    return 1;
  parent = parent_path (path);
  g = g_hash_table_lookup (self->groups, parent);
  if (g != NULL && g->link_err != NULL)
    {
      set_h5_fail (error, g->link_err, what, name);
      return -1;
    }
  return 0;
}

gboolean
mir_h5_file_has_group (MirH5File *self, const char *group, const char *name)
{
  g_autofree char *path = mir_h5_path_join (group, name);

  return g_hash_table_contains (self->groups, path);
}

guint
mir_h5_file_n_members (MirH5File *self, const char *group)
{
  g_autofree char *path = mir_h5_path_join (group, NULL);
  Group *g = g_hash_table_lookup (self->groups, path);

  return g ? g->n_members : 0;
}

/* The attribute @name of @group: 1 found (*out set), 0 absent, -1 error. */
static int
find_attr (MirH5File *self, const char *group, const char *name, const char *what, Attr **out,
           GError **error)
{
  g_autofree char *path = mir_h5_path_join (group, NULL);
  Group *g = g_hash_table_lookup (self->groups, path);
  Attr *a;

  *out = NULL;
  if (g == NULL)
    return 0;
  a = g_hash_table_lookup (g->attrs, name);
  if (a == NULL)
    {
      if (g->attr_err != NULL)
        {
          set_h5_fail (error, g->attr_err, what, name);
          return -1;
        }
      return 0;
    }
  if (a->err != NULL)
    {
      switch (a->err->kind)
        {
        case MIR_H5_ERR_TOO_MANY:
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("Attribute %s of %s has %" PRId64 " entries, more than "
                         "Mirada accepts"),
                       name, what, a->err->arg);
          break;
        case MIR_H5_ERR_NOT_TEXT:
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("Attribute %s of %s is not text"),
                       name, what);
          break;
        case MIR_H5_ERR_TOO_BIG:
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("Attribute %s of %s is larger than Mirada accepts"), name, what);
          break;
        default:
          set_h5_fail (error, a->err, what, name);
          break;
        }
      return -1;
    }
  *out = a;
  return 1;
}

char *
mir_h5_file_read_string_attr (MirH5File *self, const char *group, const char *name,
                              const char *what, GError **error)
{
  Attr *a;

  if (find_attr (self, group, name, what, &a, error) <= 0)
    return NULL;
  return g_strdup (a->values[0] ? a->values[0] : "");
}

char **
mir_h5_file_read_string_list (MirH5File *self, const char *group, const char *name,
                              const char *what, gboolean *present, GError **error)
{
  g_autoptr(GStrvBuilder) out = g_strv_builder_new ();
  Attr *a;
  int e;
  guint count = 0;

  *present = FALSE;
  if ((e = find_attr (self, group, name, what, &a, error)) < 0)
    return NULL;
  if (e > 0)
    {
      *present = TRUE;
      g_strv_builder_addv (out, (const char **) a->values);
    }
  else
    {
      /* Keras splits attributes over 64 KiB into name0, name1, ... */
      for (guint chunk = 0;; chunk++)
        {
          g_autofree char *cname = g_strdup_printf ("%s%u", name, chunk);

          if ((e = find_attr (self, group, cname, what, &a, error)) < 0)
            return NULL;
          if (e == 0)
            break;
          *present = TRUE;
          count += g_strv_length (a->values);
          if (count > MIR_KERAS_MAX_LIST)
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                           _("Attribute %s of %s has more entries than Mirada accepts"),
                           name, what);
              return NULL;
            }
          g_strv_builder_addv (out, (const char **) a->values);
        }
    }
  return g_strv_builder_end (out);
}

MirTensor *
mir_h5_file_read_tensor (MirH5File *self, const char *group, const char *name, const char *what,
                         GError **error)
{
  g_autofree char *path = mir_h5_path_join (group, name);
  Dataset *d = g_hash_table_lookup (self->datasets, path);
  const Err *e = d ? d->err : NULL;
  const char *detail = e && e->detail[0] ? e->detail : _("unknown HDF5 error");

  if (d == NULL || e != NULL)
    {
      if (d == NULL || e->kind == MIR_H5_ERR_OPEN)
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("The weight '%s' of %s is missing from the file or cannot be opened (%s)"),
                     name, what, d == NULL ? _("no such dataset") : detail);
      else if (e->kind == MIR_H5_ERR_RANK)
        g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                     _("The weight '%s' of %s has rank %d, more than Mirada handles (%d)"),
                     name, what, (int) CLAMP (e->arg, 0, G_MAXINT), MIR_MAX_DIMS);
      else if (e->kind == MIR_H5_ERR_TOO_BIG)
        g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                     _("The weight '%s' of %s is larger than Mirada accepts"), name, what);
      else if (e->kind == MIR_H5_ERR_DTYPE)
        g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                     _("The weight '%s' of %s is not stored as float16, float32 or float64"),
                     name, what);
      else if (e->kind == MIR_H5_ERR_READ)
        g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                     _("Cannot read the weight '%s' of %s: the file may be truncated or damaged "
                       "(%s)"),
                     name, what, detail);
      else
        set_h5_fail (error, e, what, name);
      return NULL;
    }
  return mir_tensor_ref (d->tensor);
}
