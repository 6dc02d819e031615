/* mir-onnx-walk.c: see mir-onnx-walk.h.
 *
 * Protobuf wire format: each field is a varint key (field number << 3 |
 * wire type) and a value: 0 varint, 1 fixed64, 2 varint length + bytes,
 * 5 fixed32 (3 and 4, groups, are not in ONNX: the walker gives up).
 * The walker descends into ModelProto.graph (7), GraphProto.initializer (5)
 * and TensorProto.raw_data (9); every other field is copied as it is.
 */
#define G_LOG_DOMAIN "mir-onnx"

#include <string.h>
#include <unistd.h>

#include "mir-file.h"
#include "mir-onnx-walk.h"

#define WINDOW ((gsize) 256 << 10)
#define FIELD_GRAPH 7
#define FIELD_INITIALIZER 5
#define FIELD_RAW_DATA 9

static gsize min_defer = MIR_ONNX_WALK_MIN_DEFER;

void
mir_onnx_walk_set_min_defer (gsize bytes)
{
  min_defer = bytes > 0 ? bytes : MIR_ONNX_WALK_MIN_DEFER;
}

typedef struct
{
  int fd;
  guint64 size;
  guint8 *win;         /* a window of the file at win_off */
  guint64 win_off;
  gsize win_len;
  gboolean failed;
} Src;

/* Bytes [@off, @off + @len) of the file, @len <= WINDOW; NULL past the end
 * or when reading fails. */
static const guint8 *
src_at (Src *s, guint64 off, gsize len)
{
  if (off > s->size || len > s->size - off)
    return NULL;
  if (off < s->win_off || off + len > s->win_off + s->win_len)
    {
      gsize want = (gsize) MIN ((guint64) WINDOW, s->size - off);
      gssize n = mir_file_pread_all (s->fd, s->win, want, off);
      gsize got = n > 0 ? (gsize) n : 0;

      s->win_off = off;
      s->win_len = got;
      if (got < len)
        {
          s->failed = TRUE;
          return NULL;
        }
    }
  return s->win + (off - s->win_off);
}

/* Appends bytes [@off, @off + @len) of the file to @out. */
static gboolean
src_copy (Src *s, guint64 off, guint64 len, GByteArray *out)
{
  while (len > 0)
    {
      gsize take = (gsize) MIN (len, (guint64) WINDOW);
      const guint8 *p = src_at (s, off, take);

      if (p == NULL || take > G_MAXUINT - out->len)
        return FALSE;
      g_byte_array_append (out, p, (guint) take);
      off += take;
      len -= take;
    }
  return TRUE;
}

/* A varint at *@off (advanced past it), below @end. */
static gboolean
get_varint (Src *s, guint64 *off, guint64 end, guint64 *value)
{
  guint64 v = 0;

  for (guint i = 0; i < 10; i++)
    {
      const guint8 *p;

      if (*off >= end || !(p = src_at (s, *off, 1)))
        return FALSE;
      (*off)++;
      v |= (guint64) (*p & 0x7f) << (7 * i);
      if (!(*p & 0x80))
        {
          *value = v;
          return TRUE;
        }
    }
  return FALSE;
}

static void
put_varint (GByteArray *out, guint64 v)
{
  guint8 b[10];
  guint n = 0;

  do
    {
      b[n] = (guint8) (v & 0x7f);
      v >>= 7;
      if (v)
        b[n] |= 0x80;
      n++;
    }
  while (v);
  g_byte_array_append (out, b, n);
}

/* One field at *@off below @end: its number, wire type, and where its value
 * (for type 2: its bytes) starts and ends.  *@off is advanced past it. */
static gboolean
next_field (Src *s, guint64 *off, guint64 end, guint32 *number, guint *type, guint64 *key_off,
            guint64 *val_off, guint64 *val_end)
{
  guint64 key, len;

  *key_off = *off;
  if (!get_varint (s, off, end, &key) || key >> 3 == 0 || key >> 3 > G_MAXINT32)
    return FALSE;
  *number = (guint32) (key >> 3);
  *type = (guint) (key & 7);
  *val_off = *off;
  switch (*type)
    {
    case 0:
      if (!get_varint (s, off, end, &len))
        return FALSE;
      break;
    case 1:
      if (end - *off < 8)
        return FALSE;
      *off += 8;
      break;
    case 5:
      if (end - *off < 4)
        return FALSE;
      *off += 4;
      break;
    case 2:
      if (!get_varint (s, off, end, &len) || len > end - *off)
        return FALSE;
      *val_off = *off;
      *off += len;
      break;
    default:
      return FALSE; /* groups */
    }
  *val_end = *off;
  return TRUE;
}

static void
put_message (GByteArray *out, guint32 number, const GByteArray *msg)
{
  put_varint (out, (guint64) number << 3 | 2);
  put_varint (out, msg->len);
  g_byte_array_append (out, msg->data, msg->len);
}

/* A TensorProto at [@off, @end): its skeleton to @out, its large raw_data
 * (there must be at most one raw_data) to @d. */
static gboolean
walk_tensor (Src *s, guint64 off, guint64 end, GByteArray *out, MirOnnxDeferred *d,
             gboolean *deferred)
{
  guint n_raw = 0;

  *deferred = FALSE;
  while (off < end)
    {
      guint64 key_off, val_off, val_end;
      guint32 number;
      guint type;

      if (!next_field (s, &off, end, &number, &type, &key_off, &val_off, &val_end))
        return FALSE;
      if (number == FIELD_RAW_DATA)
        {
          if (type != 2 || ++n_raw > 1)
            return FALSE;
          if (val_end - val_off >= min_defer)
            {
              d->offset = val_off;
              d->length = val_end - val_off;
              *deferred = TRUE;
              continue;
            }
        }
      if (!src_copy (s, key_off, off - key_off, out))
        return FALSE;
    }
  return TRUE;
}

static gboolean
walk_graph (Src *s, guint64 off, guint64 end, GByteArray *out, GArray *deferred)
{
  gsize index = 0;

  while (off < end)
    {
      guint64 key_off, val_off, val_end;
      guint32 number;
      guint type;

      if (!next_field (s, &off, end, &number, &type, &key_off, &val_off, &val_end))
        return FALSE;
      if (number == FIELD_INITIALIZER && type == 2)
        {
          g_autoptr(GByteArray) t = g_byte_array_new ();
          MirOnnxDeferred d = { index++, 0, 0 };
          gboolean is_deferred;

          if (!walk_tensor (s, val_off, val_end, t, &d, &is_deferred))
            return FALSE;
          if (is_deferred)
            g_array_append_val (deferred, d);
          put_message (out, FIELD_INITIALIZER, t);
          continue;
        }
      if (number == FIELD_INITIALIZER)
        return FALSE;
      if (!src_copy (s, key_off, off - key_off, out))
        return FALSE;
    }
  return TRUE;
}

static gboolean
walk (Src *s, GByteArray **skeleton, GArray **deferred)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GArray) d = g_array_new (FALSE, FALSE, sizeof (MirOnnxDeferred));
  guint64 off = 0;
  guint n_graph = 0;

  while (off < s->size)
    {
      guint64 key_off, val_off, val_end;
      guint32 number;
      guint type;

      if (!next_field (s, &off, s->size, &number, &type, &key_off, &val_off, &val_end))
        return FALSE;
      if (number == FIELD_GRAPH)
        {
          g_autoptr(GByteArray) g = g_byte_array_new ();

          /* protobuf merges a repeated message field; the walker does not */
          if (type != 2 || ++n_graph > 1 || !walk_graph (s, val_off, val_end, g, d))
            return FALSE;
          put_message (out, FIELD_GRAPH, g);
          continue;
        }
      if (!src_copy (s, key_off, off - key_off, out))
        return FALSE;
    }
  if (s->failed)
    return FALSE;
  *skeleton = g_steal_pointer (&out);
  *deferred = g_steal_pointer (&d);
  return TRUE;
}

gboolean
mir_onnx_walk (int fd, guint64 size, GByteArray **skeleton, GArray **deferred)
{
  g_autofree guint8 *win = g_malloc (WINDOW);
  Src s = { 0 };

  s.fd = fd;
  s.size = size;
  s.win = win;
  return walk (&s, skeleton, deferred);
}
