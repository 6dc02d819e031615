/* mir-onnx.c: ONNX image classifiers -> a MirModel.
 *
 * The file is a protobuf ModelProto (schema engine/io/onnx/onnx.proto,
 * compiled by protoc-c).  Its graph (NCHW, nodes in topological order) is
 * rebuilt node by node as Keras-style layers (JSON configs given to
 * mir_layer_new_by_name), so the same layer classes run it in the engine's
 * NHWC layout:
 *
 *   Conv (any group; depthwise group = C)   -> [ZeroPadding2D +] Conv2D (groups) /
 *        DepthwiseConv2D, weights OIHW -> HWIO (depthwise: HW C mult)
 *   Gemm, MatMul (+ Add of a bias)          -> Dense, weights transposed to
 *        (in, out); after a Flatten of an NCHW map the rows are permuted from
 *        C,H,W order to the engine's H,W,C order
 *   Relu, Clip(0, m), Sigmoid, Tanh, Softmax -> ReLU (max_value) / Activation / Softmax
 *   HardSigmoid, HardSwish                  -> HardSigmoid (alpha, beta) / HardSwish
 *   MaxPool, AveragePool                    -> MaxPooling2D / AveragePooling2D
 *        ("same" when the pads are Keras' same pads and the average leaves the
 *        padding out; otherwise explicit pads, ceil_mode, count_include_pad)
 *   GlobalAveragePool, GlobalMaxPool        -> Global*Pooling2D (keepdims)
 *   ReduceMean, ReduceMax over H and W      -> Global*Pooling2D (keepdims 0 or 1)
 *   BatchNormalization                      -> BatchNormalization
 *   Add, Mul (tensors)                      -> Add, Multiply (broadcasting);
 *        with a scalar or per-channel constant -> Rescaling
 *   Concat (channels)                       -> Concatenate
 *   Transpose (batch axis kept)             -> Permute
 *   Reshape to another static shape         -> [Permute +] Reshape [+ Permute]
 *        (values in ONNX order; 4-D results back to N, H, W, C)
 *   Flatten, Reshape to (N, -1)             -> Flatten (kept in H, W, C order for
 *        a Gemm/MatMul, which permutes its rows; anywhere else, and at a
 *        graph output, Reshape + Permute + Flatten give ONNX's C, H, W order)
 *   Pad (constant 0, spatial)               -> ZeroPadding2D
 *   Identity, Dropout                       -> nothing (the value is passed on)
 *   Constant                                -> a constant for the ops above
 *   Sub, Div by a constant                  -> Rescaling; Sub of two maps -> Subtract
 *   Slice, Split (step 1, not the batch)    -> Slice (one per output)
 *   LayerNormalization (last axis)          -> LayerNormalization
 *   MatMul on a rank-4 value                -> Dense on the engine's last axis,
 *        which then holds ONNX's last axis (ConvNeXt's Linear after its Permute)
 *   Shape, Gather, Unsqueeze, Squeeze, Cast, Concat, Slice, Add/Sub/Mul/Div
 *        on integer constants               -> folded into constants while loading
 *   torch's GELU (x / sqrt 2 -> Erf -> + 1 -> * x -> * 0.5) -> Activation("gelu")
 *   torch's LayerNorm before opset 17 (ReduceMean, Sub, Pow, ReduceMean, Add,
 *        Sqrt, Div [, Mul, Add])        -> LayerNormalization
 *        (each pattern only when every step is the sole reader of the one before)
 * Each value records which ONNX axis each engine axis holds (Value.order), so
 * a Transpose adds no layer; ops that need the default layout get a Permute.
 * Dispatch is op_table[] (sorted; its names make the "not supported"
 * message); anything else is refused with the operator's name and the
 * model's opset, and an operator newer than the declared opset by name too.
 */
#define G_LOG_DOMAIN "mir-onnx"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <unistd.h>
#include <glib/gi18n-lib.h>

#include "mir-file.h"
#include "mir-onnx-walk.h"
#include "onnx.pb-c.h"

#include "mir-onnx.h"

#define MAX_FILE_BYTES ((gsize) 2 << 30)
#define MIN_OPSET 7
#define MAX_OPSET 21

typedef struct _Value
{
  gint node;                          /* MirModel node, or -1 for a constant */
  const Onnx__TensorProto *constant;  /* initializer or Constant output */
  gboolean nonneg;                    /* known >= 0 (zero padding is then exact for max) */
  MirLayer *matmul;                   /* Dense from a MatMul whose bias is still open */
  gint64 flat[3];                     /* a Flatten of an H, W, C map (H*W > 1), else 0 */
  struct _Value *chw;                 /* that value in ONNX's C, H, W order, once made */
  gboolean ordered;                   /* order[] gives its layout (else engine_order()) */
  guint order[MIR_MAX_DIMS];          /* engine axis i holds ONNX axis order[i] */
  struct _Value *canon;               /* that value in engine_order(), once made */
} Value;

typedef struct
{
  MirModel *model;
  GHashTable *values; /* name -> Value* (owned) */
  GHashTable *names;  /* layer names used (owned) */
  gint64 opset;
  const char *display;
  const Onnx__NodeProto *node; /* the node being converted (messages) */
  const char *node_name;
  int fd;                /* the file, for the raw_data left in it */
  GHashTable *deferred;  /* TensorProto -> MirOnnxDeferred: raw_data left in the file */
  GHashTable *consumers; /* value name -> GPtrArray of the nodes reading it (NULL: a graph
                          * output), for the patterns fused into one layer */
  GHashTable *producers; /* value name -> node writing it */
  GHashTable *fused;     /* nodes already converted as part of such a pattern */
  GPtrArray *folded;     /* Onnx__TensorProto made by folding shape arithmetic (owned) */
} Ctx;

/* ------------------------------------------------------------------ */
/* Messages */

static gboolean
node_error (Ctx *c, GError **error, int code, const char *detail)
{
  g_set_error (error, MIR_ERROR, code, _("ONNX node '%s' (%s, opset %" PRId64 ") in '%s': %s"),
               c->node_name, c->node->op_type, c->opset, c->display, detail);
  return FALSE;
}

static gboolean
unsupported (Ctx *c, GError **error, const char *detail)
{
  return node_error (c, error, MIR_ERROR_UNSUPPORTED, detail);
}

/* ------------------------------------------------------------------ */
/* Attributes and tensors */

static const Onnx__AttributeProto *
attr (const Onnx__NodeProto *n, const char *name)
{
  for (gsize i = 0; i < n->n_attribute; i++)
    if (g_strcmp0 (n->attribute[i]->name, name) == 0)
      return n->attribute[i];
  return NULL;
}

static gint64
attr_int (const Onnx__NodeProto *n, const char *name, gint64 def)
{
  const Onnx__AttributeProto *a = attr (n, name);
  return a && a->has_i ? a->i : def;
}

static double
attr_float (const Onnx__NodeProto *n, const char *name, double def)
{
  const Onnx__AttributeProto *a = attr (n, name);
  return a && a->has_f ? a->f : def;
}

/* Reads an ints attribute of exactly @len values (or @def when absent). */
static gboolean
attr_ints (Ctx *c, const char *name, gsize len, const gint64 *def, gint64 *out, GError **error)
{
  const Onnx__AttributeProto *a = attr (c->node, name);

  if (a == NULL || a->n_ints == 0)
    {
      if (def == NULL)
        {
          g_autofree char *d = g_strdup_printf (_("the attribute %s is missing"), name);
          return node_error (c, error, MIR_ERROR_FORMAT, d);
        }
      memcpy (out, def, len * sizeof (gint64));
      return TRUE;
    }
  if (a->n_ints != len)
    {
      g_autofree char *d = g_strdup_printf (_("the attribute %s has %u values; Mirada handles "
                                              "2-D images (%u values)"),
                                            name, (guint) a->n_ints, (guint) len);
      return unsupported (c, error, d);
    }
  for (gsize i = 0; i < len; i++)
    out[i] = a->ints[i];
  return TRUE;
}

static const char *
attr_string (const Onnx__NodeProto *n, const char *name, const char *def, char *buf, gsize size)
{
  const Onnx__AttributeProto *a = attr (n, name);
  gsize len;

  if (a == NULL || !a->has_s)
    return def;
  /* Not NUL-terminated, and NULL when empty: no g_strlcpy. */
  len = MIN (size - 1, a->s.len);
  if (len > 0)
    memcpy (buf, a->s.data, len);
  buf[len] = '\0';
  return buf;
}

static gint64
tensor_numel (const Onnx__TensorProto *t)
{
  gint64 n = 1;

  for (gsize i = 0; i < t->n_dims; i++)
    {
      if (t->dims[i] < 0 || (t->dims[i] > 0 && n > MIR_TENSOR_MAX_ELEMENTS / t->dims[i]))
        return -1;
      n *= t->dims[i];
    }
  return n;
}

/* The number of values of the float (or double) constant @t once its data
 * are known to be there, or -1 with @error.  The data must be there before
 * memory is taken for them: a shape in the file alone (a Gemm "of 16 GiB"
 * with no data) must not allocate. */
static gint64
tensor_floats_check (Ctx *c, const Onnx__TensorProto *t, GError **error)
{
  gint64 n = tensor_numel (t);
  gsize width, have;

  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    {
      unsupported (c, error, _("its weights are stored in an external data file; save the model "
                               "with the weights inside the .onnx file"));
      return -1;
    }
  if (n < 0)
    {
      node_error (c, error, MIR_ERROR_LIMIT, _("a constant is larger than Mirada accepts"));
      return -1;
    }
  if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT &&
      t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE)
    {
      unsupported (c, error, _("a constant it uses is not float32 or float64"));
      return -1;
    }
  width = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? 4 : 8;
  have = t->has_raw_data ? t->raw_data.len / width
         : width == 4 ? t->n_float_data : t->n_double_data;
  if ((t->has_raw_data && t->raw_data.len % width != 0) || have != (gsize) n)
    {
      node_error (c, error, MIR_ERROR_FORMAT,
                  _("a constant's data does not match its shape: the file is damaged"));
      return -1;
    }
  return n;
}

/* Reads @len bytes at @offset of the ONNX file into @dst. */
static gboolean
read_deferred (Ctx *c, guint64 offset, void *dst, gsize len, GError **error)
{
  gssize got = mir_file_pread_all (c->fd, dst, len, offset);

  if (got < 0)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot read '%s': %s"), c->display,
                   g_strerror (saved));
      return FALSE;
    }
  if ((gsize) got < len)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not a valid ONNX model: it is truncated or damaged"),
                   c->display);
      return FALSE;
    }
  return TRUE;
}

/* Values [@first, @first + @count) of the constant @t, which
 * tensor_floats_check() accepted, as floats into @dst.  A raw_data the
 * loader left in the file (mir-onnx-walk.h) is read from there into @dst
 * directly. */
static gboolean
tensor_floats_range (Ctx *c, const Onnx__TensorProto *t, gsize first, gsize count, float *dst,
                     GError **error)
{
  gboolean is_float = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  gsize width = is_float ? 4 : 8;
  gpointer in_file = c->deferred ? g_hash_table_lookup (c->deferred, t) : NULL;

  if (in_file != NULL)
    {
      guint64 offset = ((const MirOnnxDeferred *) in_file)->offset + (guint64) first * width;

      if (is_float)
        {
          if (!read_deferred (c, offset, dst, count * 4, error))
            return FALSE;
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
          for (gsize i = 0; i < count; i++)
            {
              guint32 bits;
              memcpy (&bits, &dst[i], 4);
              bits = GUINT32_FROM_LE (bits);
              memcpy (&dst[i], &bits, 4);
            }
#endif
        }
      else
        {
          double buf[4096];

          for (gsize done = 0; done < count;)
            {
              gsize take = MIN (count - done, G_N_ELEMENTS (buf));
              if (!read_deferred (c, offset + done * 8, buf, take * 8, error))
                return FALSE;
              for (gsize i = 0; i < take; i++)
                {
                  guint64 bits;
                  double d;
                  memcpy (&bits, &buf[i], 8);
                  bits = GUINT64_FROM_LE (bits);
                  memcpy (&d, &bits, 8);
                  dst[done + i] = (float) d;
                }
              done += take;
            }
        }
      return TRUE;
    }
  if (is_float)
    {
      if (t->has_raw_data)
        for (gsize i = 0; i < count; i++)
          {
            guint32 bits;
            memcpy (&bits, t->raw_data.data + 4 * (first + i), 4);
            bits = GUINT32_FROM_LE (bits);
            memcpy (&dst[i], &bits, 4);
          }
      else
        memcpy (dst, t->float_data + first, count * sizeof (float));
    }
  else
    {
      if (t->has_raw_data)
        for (gsize i = 0; i < count; i++)
          {
            guint64 bits;
            double d;
            memcpy (&bits, t->raw_data.data + 8 * (first + i), 8);
            bits = GUINT64_FROM_LE (bits);
            memcpy (&d, &bits, 8);
            dst[i] = (float) d;
          }
      else
        for (gsize i = 0; i < count; i++)
          dst[i] = (float) t->double_data[first + i];
    }
  return TRUE;
}

/* A float (or double) constant as a flat array of @n_out floats. */
static float *
tensor_floats (Ctx *c, const Onnx__TensorProto *t, gsize *n_out, GError **error)
{
  gint64 n = tensor_floats_check (c, t, error);
  g_autofree float *out = NULL;

  if (n < 0)
    return NULL;
  out = g_try_new0 (float, MAX (n, 1));
  if (out == NULL)
    {
      node_error (c, error, MIR_ERROR_LIMIT, _("a constant is larger than Mirada accepts"));
      return NULL;
    }
  if (!tensor_floats_range (c, t, 0, (gsize) n, out, error))
    return NULL;
  *n_out = (gsize) n;
  return g_steal_pointer (&out);
}

/* An int64 (or int32) constant. */
static gint64 *
tensor_ints (Ctx *c, const Onnx__TensorProto *t, gsize *n_out, GError **error)
{
  gint64 n = tensor_numel (t);
  gint64 *out;
  const MirOnnxDeferred *in_file;
  const guint8 *raw = t->raw_data.data;
  guint8 file_raw[64 * 8];

  if (n < 0 || n > 64)
    {
      node_error (c, error, MIR_ERROR_FORMAT, _("an integer constant is too large"));
      return NULL;
    }
  out = g_new0 (gint64, MAX (n, 1));
  /* a raw_data left in the file (tests leave even small ones there) */
  if (t->has_raw_data && c->deferred && (in_file = g_hash_table_lookup (c->deferred, t)))
    {
      if (t->raw_data.len > sizeof file_raw)
        goto bad;
      if (!read_deferred (c, in_file->offset, file_raw, t->raw_data.len, error))
        {
          g_free (out);
          return NULL;
        }
      raw = file_raw;
    }
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
    {
      if (t->has_raw_data ? t->raw_data.len != (gsize) n * 8 : t->n_int64_data != (gsize) n)
        goto bad;
      for (gint64 i = 0; i < n; i++)
        {
          if (t->has_raw_data)
            {
              guint64 v;
              memcpy (&v, raw + 8 * i, 8);
              out[i] = (gint64) GUINT64_FROM_LE (v);
            }
          else
            out[i] = t->int64_data[i];
        }
    }
  else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
    {
      if (t->has_raw_data ? t->raw_data.len != (gsize) n * 4 : t->n_int32_data != (gsize) n)
        goto bad;
      for (gint64 i = 0; i < n; i++)
        {
          if (t->has_raw_data)
            {
              guint32 v;
              memcpy (&v, raw + 4 * i, 4);
              out[i] = (gint32) GUINT32_FROM_LE (v);
            }
          else
            out[i] = t->int32_data[i];
        }
    }
  else
    goto bad;
  *n_out = (gsize) n;
  return out;

bad:
  g_free (out);
  node_error (c, error, MIR_ERROR_FORMAT, _("an integer constant is malformed"));
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Values */

/* An optional proto2 string that is absent is NULL in protobuf-c. */
static const char *
opt_name (const char *s)
{
  return s != NULL ? s : "";
}

static Value *
lookup (Ctx *c, guint i, GError **error)
{
  Value *v;

  if (i >= c->node->n_input || c->node->input[i][0] == '\0')
    {
      g_autofree char *d = g_strdup_printf (_("input %u is missing"), i + 1);
      node_error (c, error, MIR_ERROR_FORMAT, d);
      return NULL;
    }
  v = g_hash_table_lookup (c->values, c->node->input[i]);
  if (v == NULL)
    {
      g_autofree char *d = g_strdup_printf (_("its input '%s' is not computed before it"),
                                            c->node->input[i]);
      node_error (c, error, MIR_ERROR_FORMAT, d);
    }
  return v;
}

static Value *canonical (Ctx *c, Value *v, GError **error);

/* An input computed from the image in whatever layout it has (a transposed
 * value keeps its engine layout, see Value.order); a flattened map may still
 * be in H, W, C order. */
static Value *
tensor_any (Ctx *c, guint i, GError **error)
{
  Value *v = lookup (c, i, error);

  if (v != NULL && v->node < 0)
    {
      unsupported (c, error, _("it applies to constants only; Mirada needs the image to flow "
                               "through it"));
      return NULL;
    }
  return v;
}

/* An input computed from the image, in the default layout (images N, H, W, C;
 * see engine_order()): a flattened map may still be in H, W, C order (only
 * Gemm, MatMul and elementwise ops take it so). */
static Value *
tensor_input_raw (Ctx *c, guint i, GError **error)
{
  Value *v = tensor_any (c, i, error);

  return v != NULL ? canonical (c, v, error) : NULL;
}

static const Onnx__TensorProto *
const_input (Ctx *c, guint i, gboolean optional, GError **error)
{
  Value *v;

  if (optional && (i >= c->node->n_input || c->node->input[i][0] == '\0'))
    return NULL;
  if ((v = lookup (c, i, error)) == NULL)
    return NULL;
  if (v->constant == NULL)
    {
      g_autofree char *d = g_strdup_printf (_("input %u ('%s') must be a constant (an "
                                              "initializer); Mirada does not compute weights"),
                                            i + 1, c->node->input[i]);
      unsupported (c, error, d);
    }
  return v->constant;
}

static const MirShape *
shape_of (Ctx *c, const Value *v)
{
  return &mir_model_get_node (c->model, (guint) v->node)->shape;
}

static gint permute (Ctx *c, guint in, guint r, const guint *src, GError **error);

/* Engine axis i of a value of rank @r holds ONNX axis order[i]: images are
 * N, H, W, C; every other rank is kept in ONNX's order.  A Transpose changes
 * only which ONNX axis each engine axis holds (Value.order); ops that need
 * the default layout get it through canonical(). */
static void
engine_order (guint r, guint *order)
{
  for (guint i = 0; i < r; i++)
    order[i] = i;
  if (r == 4)
    {
      order[1] = 2;
      order[2] = 3;
      order[3] = 1;
    }
}

static void
value_order (Ctx *c, const Value *v, guint *o)
{
  if (v->ordered)
    memcpy (o, v->order, sizeof v->order);
  else
    engine_order (shape_of (c, v)->ndim, o);
}

static void
set_order (Ctx *c, Value *v, const guint *o)
{
  guint r = shape_of (c, v)->ndim, def[MIR_MAX_DIMS];

  engine_order (r, def);
  v->ordered = memcmp (def, o, r * sizeof (guint)) != 0;
  memset (v->order, 0, sizeof v->order);
  if (v->ordered)
    memcpy (v->order, o, r * sizeof (guint));
}

/* A value that no ONNX name refers to (kept in the table under a private key). */
static Value *
new_value (Ctx *c, gint node)
{
  Value *v = g_new0 (Value, 1);

  v->node = node;
  g_hash_table_replace (c->values, g_strdup_printf ("\x01%p", (void *) v), v);
  return v;
}

/* @v with engine axis i holding ONNX axis target[i] (a Permute if needed). */
static Value *
relayout (Ctx *c, Value *v, const guint *target, GError **error)
{
  guint r = shape_of (c, v)->ndim, o[MIR_MAX_DIMS], src[MIR_MAX_DIMS] = { 0 };
  Value *w;
  gint idx;

  value_order (c, v, o);
  if (memcmp (o, target, r * sizeof (guint)) == 0)
    return v;
  for (guint i = 0; i < r; i++)
    for (guint j = 0; j < r; j++)
      if (o[j] == target[i])
        src[i] = j;
  if ((idx = permute (c, (guint) v->node, r, src, error)) < 0)
    return NULL;
  w = new_value (c, idx);
  w->nonneg = v->nonneg;
  set_order (c, w, target);
  return w;
}

static Value *
canonical (Ctx *c, Value *v, GError **error)
{
  guint o[MIR_MAX_DIMS];

  if (v->node < 0 || !v->ordered)
    return v;
  if (v->canon == NULL)
    {
      engine_order (shape_of (c, v)->ndim, o);
      v->canon = relayout (c, v, o, error);
    }
  return v->canon;
}

/* @v with ONNX's last axis as the engine's last (Dense, LayerNormalization
 * and Softmax work on the engine's last axis). */
static Value *
last_axis_last (Ctx *c, Value *v, GError **error)
{
  guint r = shape_of (c, v)->ndim, o[MIR_MAX_DIMS], id[MIR_MAX_DIMS];

  value_order (c, v, o);
  if (o[r - 1] == r - 1)
    return v;
  for (guint i = 0; i < r; i++)
    id[i] = i;
  return relayout (c, v, id, error);
}

static Value *
set_output (Ctx *c, guint i, gint node)
{
  Value *v = g_new0 (Value, 1);

  v->node = node;
  if (i < c->node->n_output && c->node->output[i][0] != '\0')
    g_hash_table_replace (c->values, g_strdup (c->node->output[i]), v);
  else
    g_hash_table_replace (c->values, g_strdup_printf ("\x01%p", (void *) v), v);
  return v;
}

static void
alias_output (Ctx *c, const Value *src)
{
  Value *v = set_output (c, 0, src->node);

  *v = *src;
}

/* ------------------------------------------------------------------ */
/* Layers */

static JsonArray *
int_pair (gint64 a, gint64 b)
{
  JsonArray *arr = json_array_new ();

  json_array_add_int_element (arr, a);
  json_array_add_int_element (arr, b);
  return arr;
}

/* Adds a layer of @klass fed by @in; @cfg is consumed.  Returns the node or -1. */
static gint
add_layer (Ctx *c, const char *klass, JsonObject *cfg, const guint *in, guint n_in,
           MirLayer **layer_out, GError **error)
{
  g_autoptr(JsonObject) config = cfg;
  g_autoptr(MirLayer) layer = NULL;
  g_autofree char *name = NULL;
  GString *base = g_string_new (NULL);
  const char *src = c->node->name && c->node->name[0] ? c->node->name
                    : c->node->n_output > 0 && c->node->output[0][0] ? c->node->output[0]
                    : c->node_name;
  gint idx;

  for (const char *p = src; *p; p++)
    {
      if (*p == '/' || *p == ':' || *p == '.' || *p == ' ')
        {
          if (base->len > 0 && base->str[base->len - 1] != '_')
            g_string_append_c (base, '_');
        }
      else
        g_string_append_c (base, *p);
    }
  if (base->len == 0)
    g_string_append (base, c->node->op_type);
  name = g_strdup (base->str);
  for (guint k = 1; g_hash_table_contains (c->names, name); k++)
    {
      g_free (name);
      name = g_strdup_printf ("%s_%u", base->str, k);
    }
  g_string_free (base, TRUE);
  json_object_set_string_member (config, "name", name);
  layer = mir_layer_new_by_name (klass, name, config, error);
  if (layer == NULL)
    return -1;
  idx = mir_model_add_node (c->model, name, layer, in, n_in, NULL, error);
  if (idx < 0)
    {
      g_prefix_error (error, _("ONNX node '%s' (%s) in '%s': "), c->node_name, c->node->op_type,
                      c->display);
      return -1;
    }
  g_hash_table_add (c->names, g_steal_pointer (&name));
  if (layer_out)
    *layer_out = layer;
  return idx;
}

/* A flattened map in ONNX's order (C, H, W): Reshape to (H, W, C), Permute
 * to (C, H, W), Flatten.  Made once per value. */
static Value *
flat_in_onnx_order (Ctx *c, Value *x, GError **error)
{
  JsonObject *cfg;
  JsonArray *arr;
  Value *v;
  guint in;
  gint idx;

  if (x->flat[0] == 0)
    return x;
  if (x->chw != NULL)
    return x->chw;
  cfg = json_object_new ();
  arr = json_array_new ();
  for (int i = 0; i < 3; i++)
    json_array_add_int_element (arr, x->flat[i]);
  json_object_set_array_member (cfg, "target_shape", arr);
  in = (guint) x->node;
  if ((idx = add_layer (c, "Reshape", cfg, &in, 1, NULL, error)) < 0)
    return NULL;
  cfg = json_object_new ();
  arr = json_array_new ();
  json_array_add_int_element (arr, 3);
  json_array_add_int_element (arr, 1);
  json_array_add_int_element (arr, 2);
  json_object_set_array_member (cfg, "dims", arr);
  in = (guint) idx;
  if ((idx = add_layer (c, "Permute", cfg, &in, 1, NULL, error)) < 0)
    return NULL;
  in = (guint) idx;
  if ((idx = add_layer (c, "Flatten", json_object_new (), &in, 1, NULL, error)) < 0)
    return NULL;
  v = g_new0 (Value, 1);
  v->node = idx;
  v->nonneg = x->nonneg;
  g_hash_table_replace (c->values, g_strdup_printf ("\x01%p", (void *) v), v);
  x->chw = v;
  return v;
}

/* An input computed from the image, in ONNX's element order. */
static Value *
tensor_input (Ctx *c, guint i, GError **error)
{
  Value *v = tensor_input_raw (c, i, error);

  return v != NULL ? flat_in_onnx_order (c, v, error) : NULL;
}

static gboolean
set_weight (Ctx *c, MirLayer *layer, guint index, const float *data, gsize n, GError **error)
{
  MirWeight *w = &layer->weights[index];
  g_autoptr(MirTensor) t = mir_tensor_new (w->shape.ndim, w->shape.dim, error);

  if (t == NULL)
    return FALSE;
  if (t->numel != n)
    return node_error (c, error, MIR_ERROR_SHAPE,
                       _("a weight has the wrong number of values for its layer"));
  memcpy (t->data, data, n * sizeof (float));
  return mir_layer_set_weight (layer, index, t, error);
}

/* The largest kernel side, stride, dilation or pad read from a file. */
#define MAX_WINDOW 65536

/* Keras "same" pads for one axis: (begin, end). */
static void
same_pads (gint64 in, gint64 k, gint64 s, gint64 *b, gint64 *e)
{
  gint64 out = (in + s - 1) / s;
  gint64 total = MAX ((out - 1) * s + k - in, 0);

  *b = total / 2;
  *e = total - *b;
}

/* Pads (ONNX order t, l, b, r) -> "valid", "same" or explicit. */
typedef enum { PAD_VALID, PAD_SAME, PAD_EXPLICIT } PadKind;

static PadKind
classify_pads (const MirShape *s, const gint64 k[2], const gint64 st[2], const gint64 p[4])
{
  gint64 b0, e0, b1, e1;

  if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0)
    return PAD_VALID;
  same_pads (s->dim[1], k[0], st[0], &b0, &e0);
  same_pads (s->dim[2], k[1], st[1], &b1, &e1);
  if (p[0] == b0 && p[2] == e0 && p[1] == b1 && p[3] == e1)
    return PAD_SAME;
  return PAD_EXPLICIT;
}

static gint
zero_pad (Ctx *c, guint in, const gint64 p[4], GError **error)
{
  JsonObject *cfg = json_object_new ();
  JsonArray *pad = json_array_new ();

  json_array_add_array_element (pad, int_pair (p[0], p[2]));
  json_array_add_array_element (pad, int_pair (p[1], p[3]));
  json_object_set_array_member (cfg, "padding", pad);
  return add_layer (c, "ZeroPadding2D", cfg, &in, 1, NULL, error);
}

static gboolean
read_pads (Ctx *c, const gint64 k[2], const gint64 st[2], const gint64 dil[2],
           const MirShape *s, gint64 p[4], GError **error)
{
  static const gint64 zeros[4] = { 0, 0, 0, 0 };
  char buf[32];
  const char *ap = attr_string (c->node, "auto_pad", "NOTSET", buf, sizeof buf);

  /* Kernel, strides and dilations come from the file: a zero stride would
   * divide by zero below, huge values overflow the size arithmetic. */
  for (int a = 0; a < 2; a++)
    if (k[a] < 1 || k[a] > MAX_WINDOW || st[a] < 1 || st[a] > MAX_WINDOW || dil[a] < 1 ||
        dil[a] > MAX_WINDOW)
      {
        g_autofree char *d = g_strdup_printf (_("kernel_shape, strides and dilations must be "
                                                "between 1 and %d (they are %" PRId64 "×%"
                                                PRId64 ", %" PRId64 "×%" PRId64 ", %" PRId64
                                                "×%" PRId64 ")"),
                                              MAX_WINDOW, k[0], k[1], st[0], st[1], dil[0],
                                              dil[1]);
        return node_error (c, error, MIR_ERROR_FORMAT, d);
      }
  if (g_strcmp0 (ap, "NOTSET") == 0)
    {
      if (!attr_ints (c, "pads", 4, zeros, p, error))
        return FALSE;
      for (int a = 0; a < 4; a++)
        if (p[a] < 0 || p[a] > MAX_WINDOW)
          {
            g_autofree char *d = g_strdup_printf (_("its pads must be between 0 and %d"),
                                                  MAX_WINDOW);
            return node_error (c, error, MIR_ERROR_FORMAT, d);
          }
      return TRUE;
    }
  if (g_strcmp0 (ap, "VALID") == 0)
    {
      memset (p, 0, 4 * sizeof (gint64));
      return TRUE;
    }
  if (g_strcmp0 (ap, "SAME_UPPER") == 0 || g_strcmp0 (ap, "SAME_LOWER") == 0)
    {
      gint64 b0, e0, b1, e1;
      gboolean lower = ap[5] == 'L';

      same_pads (s->dim[1], (k[0] - 1) * dil[0] + 1, st[0], &b0, &e0);
      same_pads (s->dim[2], (k[1] - 1) * dil[1] + 1, st[1], &b1, &e1);
      p[0] = lower ? e0 : b0;
      p[2] = lower ? b0 : e0;
      p[1] = lower ? e1 : b1;
      p[3] = lower ? b1 : e1;
      return TRUE;
    }
  return node_error (c, error, MIR_ERROR_FORMAT, _("its auto_pad value is not one ONNX defines"));
}

static gboolean
check_4d (Ctx *c, const Value *v, GError **error)
{
  if (shape_of (c, v)->ndim != 4)
    return unsupported (c, error, _("Mirada runs it on image tensors (N, C, H, W) only"));
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Operators */

static gboolean
op_conv (Ctx *c, GError **error)
{
  static const gint64 ones[2] = { 1, 1 };
  Value *x = tensor_input (c, 0, error);
  const Onnx__TensorProto *w, *b = NULL;
  g_autofree float *wd = NULL;
  g_autofree float *bd = NULL;
  g_autofree float *k = NULL;
  gint64 st[2], dil[2], ks[2], p[4], group, M, Cg, C, kh, kw;
  gsize nw = 0, nb = 0;
  const MirShape *s;
  JsonObject *cfg;
  MirLayer *layer;
  gboolean depthwise;
  guint in;
  gint idx;

  if (x == NULL || !check_4d (c, x, error) || !(w = const_input (c, 1, FALSE, error)))
    return FALSE;
  if (c->node->n_input > 2 && c->node->input[2][0] &&
      !(b = const_input (c, 2, TRUE, error)))
    return FALSE;
  s = shape_of (c, x);
  if (w->n_dims != 4)
    return unsupported (c, error, _("its kernel is not 4-D (Mirada runs 2-D convolutions)"));
  M = w->dims[0];
  Cg = w->dims[1];
  kh = w->dims[2];
  kw = w->dims[3];
  C = s->dim[3];
  group = attr_int (c->node, "group", 1);
  {
    gint64 def_k[2] = { kh, kw };
    if (!attr_ints (c, "strides", 2, ones, st, error) ||
        !attr_ints (c, "dilations", 2, ones, dil, error) ||
        !attr_ints (c, "kernel_shape", 2, def_k, ks, error) ||
        !read_pads (c, ks, st, dil, s, p, error))
      return FALSE;
  }
  if (ks[0] != kh || ks[1] != kw)
    return node_error (c, error, MIR_ERROR_FORMAT, _("kernel_shape does not match the kernel"));
  depthwise = group > 1 && group == C && Cg == 1 && M % C == 0;
  if (group < 1 || C % group != 0 || Cg != C / group || M % group != 0)
    {
      g_autofree char *d = g_strdup_printf (_("group=%" PRId64 " does not fit %" PRId64
                                              " input channels, a kernel for %" PRId64
                                              " channels a group and %" PRId64 " outputs"),
                                            group, C, Cg, M);
      return node_error (c, error, MIR_ERROR_SHAPE, d);
    }
  if (!(wd = tensor_floats (c, w, &nw, error)))
    return FALSE;
  if (b != NULL && (!(bd = tensor_floats (c, b, &nb, error))))
    return FALSE;
  if (b != NULL && nb != (gsize) M)
    return node_error (c, error, MIR_ERROR_SHAPE, _("its bias does not have one value per output"));

  in = (guint) x->node;
  {
    gint64 keff[2] = { (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1 };
    PadKind pk = classify_pads (s, keff, st, p);

    /* Keras only pads "same" like this for stride 1 or when it matches exactly. */
    cfg = json_object_new ();
    if (pk == PAD_EXPLICIT)
      {
        if ((idx = zero_pad (c, in, p, error)) < 0)
          {
            json_object_unref (cfg);
            return FALSE;
          }
        in = (guint) idx;
      }
    json_object_set_string_member (cfg, "padding", pk == PAD_SAME ? "same" : "valid");
  }
  json_object_set_array_member (cfg, "kernel_size", int_pair (kh, kw));
  json_object_set_array_member (cfg, "strides", int_pair (st[0], st[1]));
  json_object_set_array_member (cfg, "dilation_rate", int_pair (dil[0], dil[1]));
  json_object_set_boolean_member (cfg, "use_bias", b != NULL);
  json_object_set_string_member (cfg, "activation", "linear");
  k = g_new (float, nw);
  if (!depthwise)
    {
      /* grouped: OIHW (M, C / group, kh, kw) -> HWIO (kh, kw, C / group, M) */
      json_object_set_int_member (cfg, "filters", M);
      json_object_set_int_member (cfg, "groups", group);
      for (gint64 m = 0; m < M; m++)
        for (gint64 ci = 0; ci < Cg; ci++)
          for (gint64 i = 0; i < kh; i++)
            for (gint64 j = 0; j < kw; j++)
              k[((i * kw + j) * Cg + ci) * M + m] = wd[((m * Cg + ci) * kh + i) * kw + j];
      idx = add_layer (c, "Conv2D", cfg, &in, 1, &layer, error);
    }
  else
    {
      gint64 mult = M / C;
      json_object_set_int_member (cfg, "depth_multiplier", mult);
      for (gint64 ci = 0; ci < C; ci++)
        for (gint64 q = 0; q < mult; q++)
          for (gint64 i = 0; i < kh; i++)
            for (gint64 j = 0; j < kw; j++)
              k[((i * kw + j) * C + ci) * mult + q] = wd[((ci * mult + q) * kh + i) * kw + j];
      idx = add_layer (c, "DepthwiseConv2D", cfg, &in, 1, &layer, error);
    }
  if (idx < 0 || !set_weight (c, layer, 0, k, nw, error) ||
      (b != NULL && !set_weight (c, layer, 1, bd, nb, error)))
    return FALSE;
  set_output (c, 0, idx);
  return TRUE;
}

/* Dense from a (K, N) matrix given as kernel[k * N + n]; fixes the row order
 * after a Flatten of an NCHW map. */
/* Puts the rows of @kernel (@K x @N) of a Gemm after a Flatten of an NCHW
 * map, in C, H, W order, into the engine's H, W, C order, in place: row d
 * takes row src(d), following each cycle of the permutation with one row
 * kept aside. */
static void
permute_rows_hwc (float *kernel, gint64 H, gint64 W, gint64 C, gint64 N)
{
  gint64 K = H * W * C;
  g_autofree guint8 *done = g_new0 (guint8, K);
  g_autofree float *keep = g_new (float, N);
  gsize row = (gsize) N * sizeof (float);

  for (gint64 d0 = 0; d0 < K; d0++)
    {
      gint64 d = d0;

      if (done[d0])
        continue;
      memcpy (keep, &kernel[d0 * N], row);
      for (;;)
        {
          gint64 ci = d % C, hw = d / C;
          gint64 src = (ci * H + hw / W) * W + hw % W;

          done[d] = 1;
          if (src == d0)
            {
              memcpy (&kernel[d * N], keep, row);
              break;
            }
          memcpy (&kernel[d * N], &kernel[src * N], row);
          d = src;
        }
    }
}

/* A Dense of @kernel (transfer full: (K, N), rows in ONNX order; it becomes
 * the layer's weight without a copy) and @bias (or zeros). */
static gboolean
make_dense (Ctx *c, Value *x, MirTensor *kernel_owned, gint64 K, gint64 N, const float *bias,
            MirLayer **layer_out, GError **error)
{
  g_autoptr(MirTensor) kernel = kernel_owned;
  const MirShape *s = shape_of (c, x);
  g_autofree float *zeros = NULL;
  JsonObject *cfg;
  MirLayer *layer;
  guint in = (guint) x->node;
  gint idx;

  if (s->ndim < 2 || (s->ndim != 2 && x->flat[0] != 0))
    return unsupported (c, error, _("Mirada runs it on (N, features) inputs only"));
  if (s->dim[s->ndim - 1] != K)
    {
      g_autofree char *d = g_strdup_printf (_("its weight expects %" PRId64 " inputs "
                                              "but is given %" PRId64),
                                            K, s->dim[s->ndim - 1]);
      return node_error (c, error, MIR_ERROR_SHAPE, d);
    }
  if (x->flat[0] > 0)
    permute_rows_hwc (kernel->data, x->flat[0], x->flat[1], x->flat[2], N);
  cfg = json_object_new ();
  json_object_set_int_member (cfg, "units", N);
  json_object_set_string_member (cfg, "activation", "linear");
  json_object_set_boolean_member (cfg, "use_bias", TRUE);
  if ((idx = add_layer (c, "Dense", cfg, &in, 1, &layer, error)) < 0)
    return FALSE;
  if (bias == NULL)
    bias = zeros = g_new0 (float, N);
  if (!mir_layer_set_weight (layer, 0, kernel, error) ||
      !set_weight (c, layer, 1, bias, (gsize) N, error))
    return FALSE;
  {
    guint o[MIR_MAX_DIMS];
    Value *out;

    value_order (c, x, o);
    out = set_output (c, 0, idx);
    set_order (c, out, o);
  }
  if (layer_out)
    *layer_out = layer;
  return TRUE;
}

/* The (K, N) kernel of a Gemm or MatMul from the constant @B: B itself, or
 * with @trans B^T (B is N x K), times @alpha.  Read in blocks of B's rows
 * straight from the file when its data are there (tensor_floats_range()),
 * so a 400 MB fully-connected weight is held once. */
static MirTensor *
dense_kernel (Ctx *c, const Onnx__TensorProto *B, gint64 K, gint64 N, gboolean trans,
              double alpha, GError **error)
{
  gint64 shape[2] = { K, N };
  g_autoptr(MirTensor) kernel = NULL;
  g_autofree float *buf = NULL;
  gint64 rows;

  if (tensor_floats_check (c, B, error) < 0)
    return NULL;
  if (!(kernel = mir_tensor_new_uninitialized (2, shape, NULL)))
    {
      node_error (c, error, MIR_ERROR_LIMIT, _("a constant is larger than Mirada accepts"));
      return NULL;
    }
  if (kernel->numel == 0)
    return g_steal_pointer (&kernel);
  if (!trans)
    {
      if (!tensor_floats_range (c, B, 0, (gsize) (K * N), kernel->data, error))
        return NULL;
      if (alpha != 1.0)
        for (gsize i = 0; i < kernel->numel; i++)
          kernel->data[i] = (float) (alpha * kernel->data[i]);
      return g_steal_pointer (&kernel);
    }
  /* B^T: blocks of about 1 MiB of B's rows (n), scattered into columns */
  rows = CLAMP (((gint64) 1 << 18) / MAX (K, 1), 1, MAX (N, 1));
  buf = g_new (float, rows * K);
  for (gint64 n0 = 0; n0 < N; n0 += rows)
    {
      gint64 nr = MIN (rows, N - n0);

      if (!tensor_floats_range (c, B, (gsize) (n0 * K), (gsize) (nr * K), buf, error))
        return NULL;
      for (gint64 k = 0; k < K; k++)
        for (gint64 j = 0; j < nr; j++)
          kernel->data[k * N + n0 + j] = (float) (alpha * buf[j * K + k]);
    }
  return g_steal_pointer (&kernel);
}

static gboolean
op_gemm (Ctx *c, GError **error)
{
  Value *x = tensor_input_raw (c, 0, error);
  const Onnx__TensorProto *B, *Cc = NULL;
  g_autofree float *cd = NULL;
  g_autofree float *bias = NULL;
  g_autoptr(MirTensor) kernel = NULL;
  gint64 K, N;
  gsize nc = 0;
  double alpha = attr_float (c->node, "alpha", 1.0), beta = attr_float (c->node, "beta", 1.0);
  gboolean transB = attr_int (c->node, "transB", 0) != 0;

  if (x == NULL || !(B = const_input (c, 1, FALSE, error)))
    return FALSE;
  if (c->node->n_input > 2 && c->node->input[2][0] && !(Cc = const_input (c, 2, TRUE, error)))
    return FALSE;
  if (attr_int (c->node, "transA", 0) != 0)
    return unsupported (c, error, _("transA=1 is not supported"));
  if (shape_of (c, x)->ndim != 2)
    return unsupported (c, error, _("Mirada runs it on (N, features) inputs only"));
  if (B->n_dims != 2)
    return node_error (c, error, MIR_ERROR_FORMAT, _("its weight is not a matrix"));
  K = transB ? B->dims[1] : B->dims[0];
  N = transB ? B->dims[0] : B->dims[1];
  if (!(kernel = dense_kernel (c, B, K, N, transB, alpha, error)))
    return FALSE;
  bias = g_new0 (float, MAX (N, 1));
  if (Cc != NULL)
    {
      if (!(cd = tensor_floats (c, Cc, &nc, error)))
        return FALSE;
      if (nc != 1 && nc != (gsize) N)
        return unsupported (c, error, _("its C input is not a bias vector"));
      for (gint64 n = 0; n < N; n++)
        bias[n] = (float) (beta * cd[nc == 1 ? 0 : n]);
    }
  return make_dense (c, x, g_steal_pointer (&kernel), K, N, bias, NULL, error);
}

static gboolean
op_matmul (Ctx *c, GError **error)
{
  Value *x = tensor_any (c, 0, error);
  Value *out;
  const Onnx__TensorProto *B;
  MirTensor *kernel;
  MirLayer *layer = NULL;

  if (x == NULL || !(B = const_input (c, 1, FALSE, error)) ||
      !(x = last_axis_last (c, x, error)))
    return FALSE;
  if (B->n_dims != 2)
    return unsupported (c, error, _("its second input is not a constant matrix"));
  if (!(kernel = dense_kernel (c, B, B->dims[0], B->dims[1], FALSE, 1.0, error)))
    return FALSE;
  if (!make_dense (c, x, kernel, B->dims[0], B->dims[1], NULL, &layer, error))
    return FALSE;
  /* (a MatMul without a named output has no Add to fold a bias into) */
  if (c->node->n_output > 0 && (out = g_hash_table_lookup (c->values, c->node->output[0])))
    out->matmul = layer;
  return TRUE;
}

/* A scalar, or one value per channel of @x (the ONNX axis its engine layout
 * holds last), as ONNX broadcasts constant @t against it: NULL if not. */
static float *
channel_const (Ctx *c, const Onnx__TensorProto *t, const Value *x, gsize *n_out,
               GError **error)
{
  const MirShape *s = shape_of (c, x);
  guint r = s->ndim, o[MIR_MAX_DIMS];
  gint64 ch = s->dim[r - 1];
  gint64 n = tensor_numel (t);
  gboolean ok = n == 1;

  value_order (c, x, o);
  if (!ok && n == ch && t->n_dims <= r)
    {
      /* dims right-aligned with x's ONNX axes: only the channel axis may be > 1
       * ((C, 1, 1) for NCHW, (C) for N, H, W, C or (N, features)) */
      ok = TRUE;
      for (gsize i = 0; i < t->n_dims; i++)
        {
          guint axis = r - (guint) t->n_dims + (guint) i;
          if (t->dims[i] != 1 && (axis != o[r - 1] || t->dims[i] != ch))
            ok = FALSE;
        }
    }
  if (!ok)
    return NULL;
  return tensor_floats (c, t, n_out, error);
}

typedef enum
{
  BIN_ADD,
  BIN_SUB,
  BIN_MUL,
  BIN_DIV,
} BinOp;

static gboolean fold_binary (Ctx *c, BinOp op, GError **error);

static gboolean
op_binary (Ctx *c, BinOp op, GError **error)
{
  static const char *const merge[] = { "Add", "Subtract", "Multiply", NULL };
  Value *a = lookup (c, 0, error), *b = a ? lookup (c, 1, error) : NULL;
  Value *x, *out;
  const Onnx__TensorProto *k;
  g_autofree float *kd = NULL;
  JsonObject *cfg;
  JsonArray *sc, *of;
  guint o[MIR_MAX_DIMS];
  gboolean const_first;
  gsize n = 0;
  gint idx;

  if (a == NULL || b == NULL)
    return FALSE;
  if (a->node < 0 && b->node < 0)
    return fold_binary (c, op, error);
  if ((a->node >= 0 && !(a = flat_in_onnx_order (c, a, error))) ||
      (b->node >= 0 && !(b = flat_in_onnx_order (c, b, error))))
    return FALSE;
  if (a->node >= 0 && b->node >= 0)
    {
      guint in[2], ob[MIR_MAX_DIMS];
      guint r = shape_of (c, a)->ndim;

      if (op == BIN_DIV)
        return unsupported (c, error, _("Mirada divides by constants only (and runs the "
                                        "division of LayerNormalization as one layer)"));
      value_order (c, a, o);
      value_order (c, b, ob);
      if (r != shape_of (c, b)->ndim || memcmp (o, ob, r * sizeof (guint)) != 0)
        {
          if (!(a = canonical (c, a, error)) || !(b = canonical (c, b, error)))
            return FALSE;
          value_order (c, a, o);
        }
      in[0] = (guint) a->node;
      in[1] = (guint) b->node;
      if ((idx = add_layer (c, merge[op], json_object_new (), in, 2, NULL, error)) < 0)
        return FALSE;
      out = set_output (c, 0, idx);
      set_order (c, out, o);
      out->nonneg = op != BIN_SUB && a->nonneg && b->nonneg;
      return TRUE;
    }
  const_first = a->node < 0;
  x = const_first ? b : a;
  k = const_first ? a->constant : b->constant;
  value_order (c, x, o);

  /* MatMul + Add: the bias of the Dense just made (when the Add is the
   * MatMul's only reader: the Dense's output changes) */
  if (op == BIN_ADD && x->matmul != NULL)
    {
      const MirShape *s = shape_of (c, x);
      GPtrArray *uses = g_hash_table_lookup (c->consumers, c->node->input[const_first ? 1 : 0]);
      gboolean vec = tensor_numel (k) == s->dim[s->ndim - 1] && k->n_dims >= 1 &&
                     uses != NULL && uses->len == 1;

      for (gsize i = 0; vec && i + 1 < k->n_dims; i++)
        vec = k->dims[i] == 1;
      if (vec)
        {
          MirTensor *bias = x->matmul->weights[1].value;
          if (!(kd = tensor_floats (c, k, &n, error)))
            return FALSE;
          for (gsize i = 0; i < n; i++)
            bias->data[i] += kd[i];
          mir_tensor_changed (bias); /* values changed in place: caches must see it */
          out = set_output (c, 0, x->node);
          set_order (c, out, o);
          return TRUE;
        }
    }
  if (!(kd = channel_const (c, k, x, &n, error)))
    {
      if (error && *error)
        return FALSE;
      return unsupported (c, error, _("its constant operand is neither a scalar nor one value "
                                      "per channel"));
    }
  if (op == BIN_DIV && const_first)
    return unsupported (c, error, _("Mirada divides by constants only"));
  /* Rescaling: y = x * scale + offset */
  cfg = json_object_new ();
  sc = json_array_new ();
  of = json_array_new ();
  for (gsize i = 0; i < n; i++)
    {
      double scale = 1.0, offset = 0.0;

      switch (op)
        {
        case BIN_ADD:
          offset = kd[i];
          break;
        case BIN_SUB:
          scale = const_first ? -1.0 : 1.0;
          offset = const_first ? kd[i] : -(double) kd[i];
          break;
        case BIN_MUL:
          scale = kd[i];
          break;
        case BIN_DIV:
          if (kd[i] == 0.0f)
            {
              json_array_unref (sc);
              json_array_unref (of);
              json_object_unref (cfg);
              return unsupported (c, error, _("it divides by zero"));
            }
          scale = 1.0 / (double) kd[i];
          break;
        default:
          g_assert_not_reached ();
        }
      json_array_add_double_element (sc, scale);
      json_array_add_double_element (of, offset);
    }
  json_object_set_array_member (cfg, "scale", sc);
  json_object_set_array_member (cfg, "offset", of);
  {
    guint in = (guint) x->node;
    if ((idx = add_layer (c, "Rescaling", cfg, &in, 1, NULL, error)) < 0)
      return FALSE;
  }
  out = set_output (c, 0, idx);
  set_order (c, out, o);
  memcpy (out->flat, x->flat, sizeof out->flat);
  return TRUE;
}

/* A one-input layer; an elementwise one (@any_layout) keeps its input's layout. */
static gboolean
one_input (Ctx *c, const char *klass, JsonObject *cfg, gboolean nonneg, gboolean any_layout,
           GError **error)
{
  Value *x = any_layout ? tensor_any (c, 0, error) : tensor_input_raw (c, 0, error), *out;
  guint o[MIR_MAX_DIMS];
  guint in;
  gint idx;

  if (x == NULL)
    {
      json_object_unref (cfg);
      return FALSE;
    }
  in = (guint) x->node;
  if ((idx = add_layer (c, klass, cfg, &in, 1, NULL, error)) < 0)
    return FALSE;
  out = set_output (c, 0, idx);
  out->nonneg = nonneg;
  if (any_layout)
    {
      value_order (c, x, o);
      set_order (c, out, o);
    }
  /* elementwise (or over all features): the order of a flattened map is kept */
  memcpy (out->flat, x->flat, sizeof out->flat);
  return TRUE;
}

static gboolean
simple (Ctx *c, const char *klass, JsonObject *cfg, gboolean nonneg, GError **error)
{
  return one_input (c, klass, cfg, nonneg, FALSE, error);
}

static gboolean
elementwise (Ctx *c, const char *klass, JsonObject *cfg, gboolean nonneg, GError **error)
{
  return one_input (c, klass, cfg, nonneg, TRUE, error);
}

static gboolean
op_activation (Ctx *c, const char *act, gboolean nonneg, GError **error)
{
  JsonObject *cfg = json_object_new ();

  json_object_set_string_member (cfg, "activation", act);
  return elementwise (c, "Activation", cfg, nonneg, error);
}

static gboolean
op_clip (Ctx *c, GError **error)
{
  double lo = -INFINITY, hi = INFINITY;
  JsonObject *cfg;

  if (c->opset < 11)
    {
      lo = attr_float (c->node, "min", -INFINITY);
      hi = attr_float (c->node, "max", INFINITY);
    }
  else
    for (guint i = 1; i <= 2; i++)
      {
        g_autoptr(GError) local = NULL;
        const Onnx__TensorProto *t = const_input (c, i, TRUE, &local);
        g_autofree float *v = NULL;
        gsize n;

        if (local != NULL)
          {
            g_propagate_error (error, g_steal_pointer (&local));
            return FALSE;
          }
        if (t == NULL)
          continue;
        if (!(v = tensor_floats (c, t, &n, error)))
          return FALSE;
        if (n != 1)
          return unsupported (c, error, _("its bounds are not scalars"));
        if (i == 1)
          lo = v[0];
        else
          hi = v[0];
      }
  if (lo != 0.0)
    {
      g_autofree char *d = g_strdup_printf (_("it clips to [%g, %g]; Mirada runs Clip with a "
                                              "lower bound of 0 (ReLU, ReLU6)"),
                                            lo, hi);
      return unsupported (c, error, d);
    }
  cfg = json_object_new ();
  if (isfinite (hi))
    json_object_set_double_member (cfg, "max_value", hi);
  return elementwise (c, "ReLU", cfg, TRUE, error);
}

static gboolean
op_pool (Ctx *c, gboolean is_max, GError **error)
{
  static const gint64 ones[2] = { 1, 1 };
  Value *x = tensor_input (c, 0, error);
  gint64 k[2], st[2], dil[2], p[4];
  const MirShape *s;
  PadKind pk;
  JsonObject *cfg;
  gboolean ceil_mode, count_pad;
  guint in;
  gint idx;

  if (x == NULL || !check_4d (c, x, error))
    return FALSE;
  s = shape_of (c, x);
  if (!attr_ints (c, "kernel_shape", 2, NULL, k, error) ||
      !attr_ints (c, "strides", 2, ones, st, error) ||
      !attr_ints (c, "dilations", 2, ones, dil, error) ||
      !read_pads (c, k, st, ones, s, p, error))
    return FALSE;
  if (dil[0] != 1 || dil[1] != 1)
    return unsupported (c, error, _("dilated pooling is not supported"));
  ceil_mode = attr_int (c->node, "ceil_mode", 0) != 0;
  count_pad = !is_max && attr_int (c->node, "count_include_pad", 0) != 0;
  for (int a = 0; a < 4; a++)
    if (p[a] >= k[a % 2])
      return unsupported (c, error, _("a pad is as large as the pooling window"));
  pk = classify_pads (s, k, st, p);
  in = (guint) x->node;
  cfg = json_object_new ();
  json_object_set_array_member (cfg, "pool_size", int_pair (k[0], k[1]));
  json_object_set_array_member (cfg, "strides", int_pair (st[0], st[1]));
  /* Keras' "same" leaves the padding out of an average; anything else is
   * given as explicit pads, with ONNX's ceil_mode and count_include_pad. */
  if (!ceil_mode && (pk == PAD_VALID || (pk == PAD_SAME && !count_pad)))
    json_object_set_string_member (cfg, "padding", pk == PAD_SAME ? "same" : "valid");
  else
    {
      JsonArray *pad = json_array_new ();

      json_array_add_array_element (pad, int_pair (p[0], p[2]));
      json_array_add_array_element (pad, int_pair (p[1], p[3]));
      json_object_set_array_member (cfg, "padding", pad);
      json_object_set_boolean_member (cfg, "ceil_mode", ceil_mode);
      json_object_set_boolean_member (cfg, "count_include_pad", count_pad);
    }
  if ((idx = add_layer (c, is_max ? "MaxPooling2D" : "AveragePooling2D", cfg, &in, 1, NULL,
                        error)) < 0)
    return FALSE;
  set_output (c, 0, idx)->nonneg = x->nonneg;
  return TRUE;
}

static gboolean
op_global_pool (Ctx *c, gboolean is_max, GError **error)
{
  Value *x = tensor_input (c, 0, error);
  JsonObject *cfg;

  if (x == NULL || !check_4d (c, x, error))
    return FALSE;
  cfg = json_object_new ();
  json_object_set_boolean_member (cfg, "keepdims", TRUE);
  return simple (c, is_max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", cfg, x->nonneg,
                 error);
}

/* ReduceMean / ReduceMax over the height and width of an image: global
 * pooling, keeping the 1x1 axes (keepdims=1) or not. */
static gboolean
op_reduce (Ctx *c, gboolean is_max, GError **error)
{
  Value *x = tensor_input (c, 0, error);
  g_autofree gint64 *axes = NULL;
  gboolean keep = attr_int (c->node, "keepdims", 1) != 0;
  gboolean h = FALSE, w = FALSE;
  JsonObject *cfg;
  gsize n = 0;

  if (x == NULL || !check_4d (c, x, error))
    return FALSE;
  if (c->opset >= 18 && c->node->n_input > 1 && c->node->input[1][0])
    {
      const Onnx__TensorProto *t = const_input (c, 1, FALSE, error);
      if (t == NULL || !(axes = tensor_ints (c, t, &n, error)))
        return FALSE;
    }
  else
    {
      const Onnx__AttributeProto *a = attr (c->node, "axes");
      if (a != NULL && a->n_ints > 0)
        {
          n = MIN (a->n_ints, (gsize) 64);
          axes = g_memdup2 (a->ints, n * sizeof (gint64));
        }
    }
  for (gsize i = 0; i < n; i++)
    {
      gint64 ax = axes[i] < 0 ? axes[i] + 4 : axes[i];
      if (ax == 2 && !h)
        h = TRUE;
      else if (ax == 3 && !w)
        w = TRUE;
      else
        {
          h = w = FALSE;
          break;
        }
    }
  if (!h || !w)
    return unsupported (c, error, _("Mirada reduces over the height and width together "
                                    "(axes 2 and 3) only"));
  cfg = json_object_new ();
  json_object_set_boolean_member (cfg, "keepdims", keep);
  return simple (c, is_max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", cfg, x->nonneg,
                 error);
}

/* HardSigmoid (alpha, beta) and HardSwish. */
static gboolean
op_hard (Ctx *c, gboolean swish, GError **error)
{
  JsonObject *cfg = json_object_new ();

  if (!swish)
    {
      json_object_set_double_member (cfg, "alpha", attr_float (c->node, "alpha", 0.2));
      json_object_set_double_member (cfg, "beta", attr_float (c->node, "beta", 0.5));
    }
  return elementwise (c, swish ? "HardSwish" : "HardSigmoid", cfg, !swish, error);
}

static gboolean
op_batchnorm (Ctx *c, GError **error)
{
  static const char *const what[4] = { "scale", "B", "mean", "var" };
  Value *x = tensor_input (c, 0, error);
  JsonObject *cfg;
  MirLayer *layer;
  guint in;
  gint idx;

  if (x == NULL)
    return FALSE;
  if (attr_int (c->node, "training_mode", 0))
    return unsupported (c, error, _("it is exported in training mode; export with model.eval()"));
  if (c->opset < 9 && attr_int (c->node, "spatial", 1) == 0)
    return unsupported (c, error, _("spatial=0 (statistics per position, before opset 9) is "
                                    "not supported"));
  cfg = json_object_new ();
  json_object_set_int_member (cfg, "axis", -1);
  json_object_set_double_member (cfg, "epsilon", attr_float (c->node, "epsilon", 1e-5));
  json_object_set_boolean_member (cfg, "center", TRUE);
  json_object_set_boolean_member (cfg, "scale", TRUE);
  in = (guint) x->node;
  if ((idx = add_layer (c, "BatchNormalization", cfg, &in, 1, &layer, error)) < 0)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    {
      const Onnx__TensorProto *t = const_input (c, i + 1, FALSE, error);
      g_autofree float *v = NULL;
      gsize n;

      if (t == NULL || !(v = tensor_floats (c, t, &n, error)))
        return FALSE;
      if (!set_weight (c, layer, i, v, n, error))
        {
          g_prefix_error (error, "%s: ", what[i]);
          return FALSE;
        }
    }
  set_output (c, 0, idx);
  return TRUE;
}

static gboolean
op_concat (Ctx *c, GError **error)
{
  g_autofree guint *in = g_new (guint, MAX (c->node->n_input, 1));
  gint64 axis = attr_int (c->node, "axis", 1);
  gboolean nonneg = TRUE;
  guint rank = 0;
  JsonObject *cfg;
  gint idx;

  for (guint i = 0; i < c->node->n_input; i++)
    {
      Value *v = tensor_input (c, i, error);
      if (v == NULL)
        return FALSE;
      in[i] = (guint) v->node;
      nonneg = nonneg && v->nonneg;
      rank = shape_of (c, v)->ndim;
    }
  if (axis < 0)
    axis += rank;
  if (axis != 1)
    return unsupported (c, error, _("Mirada concatenates along the channel axis (axis=1) only"));
  cfg = json_object_new ();
  json_object_set_int_member (cfg, "axis", -1);
  if ((idx = add_layer (c, "Concatenate", cfg, in, (guint) c->node->n_input, NULL, error)) < 0)
    return FALSE;
  set_output (c, 0, idx)->nonneg = nonneg;
  return TRUE;
}

static gboolean
flatten (Ctx *c, Value *x, GError **error)
{
  const MirShape *s = shape_of (c, x);
  Value *out;
  guint in = (guint) x->node;
  gint idx;

  if (s->ndim == 2)
    {
      alias_output (c, x);
      return TRUE;
    }
  if ((idx = add_layer (c, "Flatten", json_object_new (), &in, 1, NULL, error)) < 0)
    return FALSE;
  out = set_output (c, 0, idx);
  out->nonneg = x->nonneg;
  if (s->ndim == 4 && s->dim[1] * s->dim[2] > 1)
    {
      out->flat[0] = s->dim[1];
      out->flat[1] = s->dim[2];
      out->flat[2] = s->dim[3];
    }
  return TRUE;
}

static gboolean
op_flatten (Ctx *c, GError **error)
{
  Value *x = tensor_input_raw (c, 0, error);

  if (x == NULL)
    return FALSE;
  if (attr_int (c->node, "axis", 1) != 1)
    return unsupported (c, error, _("Mirada flattens from axis 1 only"));
  return flatten (c, x, error);
}

/* Adds a Permute of @in whose output engine axis i is input engine axis
 * src[i] (src[0] = 0, the batch), unless that is the identity. */
static gint
permute (Ctx *c, guint in, guint r, const guint *src, GError **error)
{
  JsonObject *cfg;
  JsonArray *arr;
  gboolean identity = TRUE;

  for (guint i = 1; i < r; i++)
    identity = identity && src[i] == i;
  if (identity)
    return (gint) in;
  cfg = json_object_new ();
  arr = json_array_new ();
  for (guint i = 1; i < r; i++)
    json_array_add_int_element (arr, src[i]);
  json_object_set_array_member (cfg, "dims", arr);
  return add_layer (c, "Permute", cfg, &in, 1, NULL, error);
}

/* Transpose (batch axis kept): no layer, the value only changes which ONNX
 * axis each engine axis holds; the next op that needs the default layout
 * permutes it (ConvNeXt's Permute to N, H, W, C then is none at all). */
static gboolean
op_transpose (Ctx *c, GError **error)
{
  Value *x = tensor_any (c, 0, error), *out;
  const Onnx__AttributeProto *a;
  guint r, perm[MIR_MAX_DIMS] = { 0 }, inv[MIR_MAX_DIMS] = { 0 }, o[MIR_MAX_DIMS];
  guint seen = 0;

  if (x == NULL || !(x = flat_in_onnx_order (c, x, error)))
    return FALSE;
  r = shape_of (c, x)->ndim;
  a = attr (c->node, "perm");
  if (a != NULL && a->n_ints > 0 && a->n_ints != r)
    return node_error (c, error, MIR_ERROR_FORMAT, _("its perm does not match its input's rank"));
  for (guint i = 0; i < r; i++)
    {
      gint64 v = a != NULL && a->n_ints > 0 ? a->ints[i] : (gint64) (r - 1 - i);
      if (v < 0 || v >= r || (seen & (1u << v)))
        return node_error (c, error, MIR_ERROR_FORMAT, _("its perm is not a permutation"));
      seen |= 1u << v;
      perm[i] = (guint) v;
    }
  if (perm[0] != 0)
    return unsupported (c, error, _("it moves the batch axis"));
  /* output ONNX axis k is input ONNX axis perm[k]: the engine axis that held
   * input axis j now holds output axis inv[j] */
  for (guint k = 0; k < r; k++)
    inv[perm[k]] = k;
  value_order (c, x, o);
  for (guint i = 0; i < r; i++)
    o[i] = inv[o[i]];
  out = set_output (c, 0, x->node);
  out->nonneg = x->nonneg;
  set_order (c, out, o);
  return TRUE;
}

/* Reshape to a static target (ShuffleNet's channel shuffle): the batch
 * stays first (target[0] is 0, -1 or 1 with the rest fixing the size); the
 * values are put in ONNX's order, reshaped, and a 4-D result goes back to
 * N, H, W, C. */
static gboolean
reshape_general (Ctx *c, Value *x, const gint64 *v, gsize n, GError **error)
{
  const MirShape *s;
  guint r, o[MIR_MAX_DIMS], src[MIR_MAX_DIMS];
  gint64 onnx_dim[MIR_MAX_DIMS], numel = 1, known = 1;
  gboolean free_axis = FALSE;
  JsonObject *cfg;
  JsonArray *arr;
  gint idx;

  if (!(x = flat_in_onnx_order (c, x, error)))
    return FALSE;
  s = shape_of (c, x);
  r = s->ndim;
  engine_order (r, o);
  for (guint i = 1; i < r; i++)
    {
      onnx_dim[o[i]] = s->dim[i];
      numel *= s->dim[i];
    }
  if (n < 2 || n > MIR_MAX_DIMS)
    return unsupported (c, error, _("Mirada reshapes to 2 to 6 axes only"));
  for (gsize i = 1; i < n; i++)
    {
      if (v[i] == -1 && !free_axis)
        free_axis = TRUE;
      else if (v[i] == 0 && i < r)
        known *= onnx_dim[i];
      else if (v[i] >= 1 && v[i] <= MIR_TENSOR_MAX_ELEMENTS)
        known *= v[i];
      else
        return unsupported (c, error, _("its target shape is not one Mirada can run"));
      if (known > MIR_TENSOR_MAX_ELEMENTS)
        return unsupported (c, error, _("its target shape is not one Mirada can run"));
    }
  if (!(v[0] == 0 || v[0] == 1 || (v[0] == -1 && !free_axis)) ||
      (free_axis ? numel % known != 0 : known != numel))
    return unsupported (c, error, _("Mirada reshapes each image of the batch alone: the first "
                                    "axis must stay the batch"));
  /* to ONNX order: engine axis i <- the engine axis holding ONNX axis i */
  {
    guint oi[MIR_MAX_DIMS];
    for (guint i = 0; i < r; i++)
      oi[o[i]] = i;
    for (guint i = 0; i < r; i++)
      src[i] = oi[i];
  }
  if ((idx = permute (c, (guint) x->node, r, src, error)) < 0)
    return FALSE;
  cfg = json_object_new ();
  arr = json_array_new ();
  for (gsize i = 1; i < n; i++)
    json_array_add_int_element (arr, v[i] == 0 ? onnx_dim[i] : v[i]);
  json_object_set_array_member (cfg, "target_shape", arr);
  {
    guint in = (guint) idx;
    if ((idx = add_layer (c, "Reshape", cfg, &in, 1, NULL, error)) < 0)
      return FALSE;
  }
  if (n == 4)
    {
      /* back to N, H, W, C: engine axis i <- ONNX axis o[i] */
      engine_order (4, o);
      if ((idx = permute (c, (guint) idx, 4, o, error)) < 0)
        return FALSE;
    }
  set_output (c, 0, idx)->nonneg = x->nonneg;
  return TRUE;
}

static gboolean
op_reshape (Ctx *c, GError **error)
{
  Value *x = tensor_input_raw (c, 0, error);
  const Onnx__TensorProto *t;
  g_autofree gint64 *v = NULL;
  const MirShape *s;
  gint64 numel = 1;
  gsize n;

  if (x == NULL || !(t = const_input (c, 1, FALSE, error)) || !(v = tensor_ints (c, t, &n, error)))
    return FALSE;
  s = shape_of (c, x);
  for (guint i = 1; i < s->ndim; i++)
    numel *= s->dim[i];
  if (n == 2 && (v[0] == 0 || v[0] == -1 || v[0] >= 1) && (v[1] == -1 || v[1] == numel) &&
      !(v[0] == -1 && v[1] == -1))
    return flatten (c, x, error);
  return reshape_general (c, x, v, n, error);
}

static gboolean
op_pad (Ctx *c, GError **error)
{
  Value *x = tensor_input (c, 0, error);
  char buf[32];
  const char *mode = attr_string (c->node, "mode", "constant", buf, sizeof buf);
  g_autofree gint64 *pads = NULL;
  gint64 p[4];
  gsize n = 0;
  gint idx;

  if (x == NULL || !check_4d (c, x, error))
    return FALSE;
  if (g_strcmp0 (mode, "constant") != 0)
    return unsupported (c, error, _("Mirada pads with zeros only (mode \"constant\")"));
  if (c->opset < 11)
    {
      const Onnx__AttributeProto *a = attr (c->node, "pads");
      if (a == NULL)
        return node_error (c, error, MIR_ERROR_FORMAT, _("the attribute pads is missing"));
      n = a->n_ints;
      pads = g_memdup2 (a->ints, n * sizeof (gint64));
      if (attr_float (c->node, "value", 0.0) != 0.0)
        return unsupported (c, error, _("Mirada pads with zeros only"));
    }
  else
    {
      const Onnx__TensorProto *t = const_input (c, 1, FALSE, error);
      g_autoptr(GError) local = NULL;
      const Onnx__TensorProto *val;

      if (t == NULL || !(pads = tensor_ints (c, t, &n, error)))
        return FALSE;
      val = const_input (c, 2, TRUE, &local);
      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (val != NULL)
        {
          g_autofree float *f = NULL;
          gsize nf;
          if (!(f = tensor_floats (c, val, &nf, error)))
            return FALSE;
          if (nf != 1 || f[0] != 0.0f)
            return unsupported (c, error, _("Mirada pads with zeros only"));
        }
    }
  if (n != 8 || pads[0] || pads[1] || pads[4] || pads[5])
    return unsupported (c, error, _("Mirada pads the height and width of images only"));
  for (gsize i = 0; i < 8; i++)
    if (pads[i] < 0)
      return unsupported (c, error, _("negative padding (cropping) is not supported"));
  p[0] = pads[2];
  p[1] = pads[3];
  p[2] = pads[6];
  p[3] = pads[7];
  if (!p[0] && !p[1] && !p[2] && !p[3])
    {
      alias_output (c, x);
      return TRUE;
    }
  if ((idx = zero_pad (c, (guint) x->node, p, error)) < 0)
    return FALSE;
  set_output (c, 0, idx)->nonneg = x->nonneg;
  return TRUE;
}

static gboolean
op_softmax (Ctx *c, GError **error)
{
  Value *x = tensor_input_raw (c, 0, error);
  gint64 axis = attr_int (c->node, "axis", c->opset >= 13 ? -1 : 1);
  guint rank;
  JsonObject *cfg;

  if (x == NULL)
    return FALSE;
  rank = shape_of (c, x)->ndim;
  if (axis < 0)
    axis += rank;
  if (axis != 1 || (rank != 2 && rank != 4))
    return unsupported (c, error, _("Mirada runs Softmax over the classes or channels (axis 1) "
                                    "only"));
  /* before opset 13, axis 1 of an N, C, H, W map means over C, H and W together */
  if (c->opset < 13 && rank == 4 && shape_of (c, x)->dim[1] * shape_of (c, x)->dim[2] != 1)
    return unsupported (c, error, _("before opset 13 its Softmax runs over channels, height "
                                    "and width together, which Mirada does not run"));
  cfg = json_object_new ();
  json_object_set_int_member (cfg, "axis", -1);
  return simple (c, "Softmax", cfg, TRUE, error);
}

/* ------------------------------------------------------------------ */
/* Shape arithmetic, folded while loading (ShuffleNet's channel split:
 * Shape -> Gather -> Add -> Div -> Mul -> Slice bounds) */

static void
folded_free (gpointer p)
{
  Onnx__TensorProto *t = p;

  g_free (t->dims);
  g_free (t->int64_data);
  g_free (t);
}

/* An int64 constant made while loading (owned by @c). */
static const Onnx__TensorProto *
make_ints (Ctx *c, const gint64 *dims, gsize ndims, const gint64 *v, gsize n)
{
  Onnx__TensorProto *t = g_new0 (Onnx__TensorProto, 1);

  onnx__tensor_proto__init (t);
  t->has_data_type = TRUE;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
  t->n_dims = ndims;
  t->dims = g_new0 (int64_t, MAX (ndims, 1));
  if (ndims > 0)
    memcpy (t->dims, dims, ndims * sizeof (gint64));
  t->n_int64_data = n;
  t->int64_data = g_new0 (int64_t, MAX (n, 1));
  if (n > 0)
    memcpy (t->int64_data, v, n * sizeof (gint64));
  g_ptr_array_add (c->folded, t);
  return t;
}

static gboolean
fold_out (Ctx *c, guint i, const Onnx__TensorProto *t)
{
  set_output (c, i, -1)->constant = t;
  return TRUE;
}

static gboolean
is_int_tensor (const Onnx__TensorProto *t)
{
  return t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ||
         t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
}

/* Input @i as an integer constant of rank 0 or 1. */
static gint64 *
int_input (Ctx *c, guint i, gsize *n, gsize *rank, GError **error)
{
  const Onnx__TensorProto *t = const_input (c, i, FALSE, error);

  if (t == NULL)
    return NULL;
  if (t->n_dims > 1 || !is_int_tensor (t))
    {
      unsupported (c, error, _("Mirada computes shapes from integer vectors only"));
      return NULL;
    }
  if (rank)
    *rank = t->n_dims;
  return tensor_ints (c, t, n, error);
}

/* An optional list of ints from input @i (opset >= @since) or attribute @name. */
static gint64 *
ints_arg (Ctx *c, guint i, gint64 since, const char *name, gsize *n, GError **error)
{
  const Onnx__AttributeProto *a;

  *n = 0;
  if (c->opset >= since)
    {
      if (i >= c->node->n_input || c->node->input[i][0] == '\0')
        return g_new0 (gint64, 1);
      return int_input (c, i, n, NULL, error);
    }
  a = attr (c->node, name);
  if (a == NULL || a->n_ints == 0)
    return g_new0 (gint64, 1);
  if (a->n_ints > 64)
    {
      node_error (c, error, MIR_ERROR_FORMAT, _("an integer constant is too large"));
      return NULL;
    }
  *n = a->n_ints;
  return g_memdup2 (a->ints, a->n_ints * sizeof (gint64));
}

/* The ONNX dimensions of a value computed from the image (batch 1). */
static guint
onnx_dims (Ctx *c, const Value *v, gint64 *d)
{
  const MirShape *s = shape_of (c, v);
  guint o[MIR_MAX_DIMS];

  value_order (c, v, o);
  for (guint i = 0; i < s->ndim; i++)
    d[o[i]] = s->dim[i];
  d[0] = 1;
  return s->ndim;
}

static gboolean
op_shape (Ctx *c, GError **error)
{
  Value *v = lookup (c, 0, error);
  gint64 d[MIR_MAX_DIMS], r, start, end, n;

  if (v == NULL)
    return FALSE;
  if (v->node < 0)
    {
      if (v->constant->n_dims > MIR_MAX_DIMS)
        return unsupported (c, error, _("its input has too many axes"));
      r = (gint64) v->constant->n_dims;
      for (gint64 i = 0; i < r; i++)
        d[i] = v->constant->dims[i];
    }
  else
    {
      /* the batch is 1: a shape computed from it serves one image at a time */
      if (!(v = flat_in_onnx_order (c, v, error)))
        return FALSE;
      r = onnx_dims (c, v, d);
    }
  start = attr_int (c->node, "start", 0);
  end = attr_int (c->node, "end", r);
  start = CLAMP (start < 0 ? start + r : start, 0, r);
  end = CLAMP (end < 0 ? end + r : end, 0, r);
  n = MAX (end - start, 0);
  return fold_out (c, 0, make_ints (c, &n, 1, d + start, (gsize) n));
}

static gboolean
op_gather (Ctx *c, GError **error)
{
  Value *v = lookup (c, 0, error);
  g_autofree gint64 *data = NULL;
  g_autofree gint64 *idx = NULL;
  gsize n, m, rd, ri;
  gint64 dim;

  if (v == NULL)
    return FALSE;
  if (v->node >= 0)
    return unsupported (c, error, _("Mirada gathers from constant shapes only"));
  if (!(data = int_input (c, 0, &n, &rd, error)) || !(idx = int_input (c, 1, &m, &ri, error)))
    return FALSE;
  if (rd != 1 || (attr_int (c->node, "axis", 0) != 0 && attr_int (c->node, "axis", 0) != -1))
    return unsupported (c, error, _("Mirada gathers from constant shapes only"));
  for (gsize i = 0; i < m; i++)
    {
      gint64 k = idx[i] < 0 ? idx[i] + (gint64) n : idx[i];
      if (k < 0 || k >= (gint64) n)
        return node_error (c, error, MIR_ERROR_FORMAT, _("an index is out of range"));
      idx[i] = data[k];
    }
  dim = (gint64) m;
  return fold_out (c, 0, make_ints (c, &dim, ri, idx, m));
}

/* Unsqueeze and Squeeze of integer constants: the values stay, the
 * dimensions change. */
static gboolean
squeeze_const (Ctx *c, gboolean un, GError **error)
{
  const Onnx__TensorProto *t = const_input (c, 0, FALSE, error);
  g_autofree gint64 *axes = NULL;
  g_autofree gint64 *v = NULL;
  gint64 dims[MIR_MAX_DIMS];
  gsize n, na, r, out_r = 0;
  guint64 mark = 0;

  if (t == NULL)
    return FALSE;
  if (!is_int_tensor (t) || t->n_dims > MIR_MAX_DIMS)
    return unsupported (c, error, _("Mirada computes shapes from integer vectors only"));
  if (!(axes = ints_arg (c, 1, 13, "axes", &na, error)) || !(v = tensor_ints (c, t, &n, error)))
    return FALSE;
  r = t->n_dims + (un ? na : 0);
  if (r > MIR_MAX_DIMS)
    return unsupported (c, error, _("its result has too many axes"));
  for (gsize i = 0; i < na; i++)
    {
      gint64 a = axes[i] < 0 ? axes[i] + (gint64) r : axes[i];
      if (a < 0 || a >= (gint64) r || (mark & (1u << a)))
        return node_error (c, error, MIR_ERROR_FORMAT, _("its axes are out of range"));
      mark |= 1u << a;
    }
  if (un)
    for (gsize i = 0, k = 0; i < r; i++)
      dims[out_r++] = (mark & (1u << i)) ? 1 : t->dims[k++];
  else
    for (gsize i = 0; i < t->n_dims; i++)
      {
        gboolean drop = na > 0 ? (mark & (1u << i)) != 0 : t->dims[i] == 1;
        if (drop && t->dims[i] != 1)
          return node_error (c, error, MIR_ERROR_FORMAT,
                             _("it removes an axis whose size is not 1"));
        if (!drop)
          dims[out_r++] = t->dims[i];
      }
  return fold_out (c, 0, make_ints (c, dims, out_r, v, n));
}

static gboolean
op_unsqueeze (Ctx *c, GError **error)
{
  return squeeze_const (c, TRUE, error);
}

static gboolean
op_squeeze (Ctx *c, GError **error)
{
  return squeeze_const (c, FALSE, error);
}

static gboolean
fold_concat (Ctx *c, GError **error)
{
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 dim;

  for (guint i = 0; i < c->node->n_input; i++)
    {
      g_autofree gint64 *v = NULL;
      gsize n, r;

      if (!(v = int_input (c, i, &n, &r, error)))
        return FALSE;
      if (r != 1)
        return unsupported (c, error, _("Mirada computes shapes from integer vectors only"));
      g_array_append_vals (out, v, (guint) n);
    }
  if (out->len > 64)
    return node_error (c, error, MIR_ERROR_FORMAT, _("an integer constant is too large"));
  dim = out->len;
  return fold_out (c, 0, make_ints (c, &dim, 1, (gint64 *) (void *) out->data, out->len));
}

static gboolean
fold_binary (Ctx *c, BinOp op, GError **error)
{
  g_autofree gint64 *a = NULL;
  g_autofree gint64 *b = NULL;
  const Onnx__TensorProto *ta = const_input (c, 0, FALSE, error), *tb;
  gint64 r[64], dim;
  gsize na, nb, ra, rb, n;

  if (ta == NULL || !(tb = const_input (c, 1, FALSE, error)))
    return FALSE;
  if (!is_int_tensor (ta) || !is_int_tensor (tb))
    return unsupported (c, error, _("it computes on constants only"));
  if (!(a = int_input (c, 0, &na, &ra, error)) || !(b = int_input (c, 1, &nb, &rb, error)))
    return FALSE;
  if (na != nb && na != 1 && nb != 1)
    return node_error (c, error, MIR_ERROR_FORMAT, _("its operands do not broadcast"));
  n = MAX (na, nb);
  for (gsize i = 0; i < n; i++)
    {
      gint64 x = a[na == 1 ? 0 : i], y = b[nb == 1 ? 0 : i];
      switch (op)
        {
        case BIN_ADD:
          r[i] = x + y;
          break;
        case BIN_SUB:
          r[i] = x - y;
          break;
        case BIN_MUL:
          r[i] = x * y;
          break;
        case BIN_DIV:
          if (y == 0)
            return node_error (c, error, MIR_ERROR_FORMAT, _("it divides by zero"));
          r[i] = x / y;
          break;
        default:
          g_assert_not_reached ();
        }
    }
  dim = (gint64) n;
  return fold_out (c, 0, make_ints (c, &dim, MAX (ra, rb), r, n));
}

/* Slice bounds as ONNX clamps them, for step 1. */
static gboolean
slice_bounds (gint64 dim, gint64 start, gint64 end, gint64 *s, gint64 *e)
{
  if (start < 0)
    start += dim;
  if (end < 0)
    end += dim;
  *s = CLAMP (start, 0, dim);
  *e = CLAMP (end, 0, dim);
  return *e > *s;
}

static gboolean
op_slice (Ctx *c, GError **error)
{
  Value *x = lookup (c, 0, error), *out;
  g_autofree gint64 *starts = NULL, *ends = NULL, *axes = NULL, *steps = NULL;
  gsize ns, ne, na, nst;
  gint64 d[MIR_MAX_DIMS];
  guint o[MIR_MAX_DIMS], r;
  gint node;

  if (x == NULL || !(starts = ints_arg (c, 1, 10, "starts", &ns, error)) ||
      !(ends = ints_arg (c, 2, 10, "ends", &ne, error)) ||
      !(axes = ints_arg (c, 3, 10, "axes", &na, error)) ||
      !(steps = ints_arg (c, 4, 10, "steps", &nst, error)))
    return FALSE;
  if (ns != ne || ns == 0 || (na != 0 && na != ns) || (nst != 0 && nst != ns))
    return node_error (c, error, MIR_ERROR_FORMAT, _("its starts, ends, axes and steps differ in "
                                                     "length"));
  for (gsize i = 0; i < nst; i++)
    if (steps[i] != 1)
      return unsupported (c, error, _("Mirada slices with step 1 only"));
  if (x->node < 0)
    {
      /* a shape vector */
      g_autofree gint64 *v = NULL;
      gsize n, rank;
      gint64 s, e, dim;

      if (!(v = int_input (c, 0, &n, &rank, error)))
        return FALSE;
      if (rank != 1 || ns != 1 || (na == 1 && axes[0] != 0 && axes[0] != -1))
        return unsupported (c, error, _("Mirada computes shapes from integer vectors only"));
      if (!slice_bounds ((gint64) n, starts[0], ends[0], &s, &e))
        s = e = 0;
      dim = e - s;
      return fold_out (c, 0, make_ints (c, &dim, 1, v + s, (gsize) dim));
    }
  if (!(x = flat_in_onnx_order (c, x, error)))
    return FALSE;
  r = onnx_dims (c, x, d);
  value_order (c, x, o);
  node = x->node;
  for (gsize i = 0; i < ns; i++)
    {
      gint64 a = na ? axes[i] : (gint64) i, s, e;
      JsonObject *cfg;
      guint in = (guint) node, j = 0;

      if (a < 0)
        a += r;
      if (a < 0 || a >= (gint64) r)
        return node_error (c, error, MIR_ERROR_FORMAT, _("its axes are out of range"));
      if (a == 0)
        {
          if (starts[i] == 0 && ends[i] >= 1)
            continue;
          return unsupported (c, error, _("Mirada keeps the batch axis whole"));
        }
      if (!slice_bounds (d[a], starts[i], ends[i], &s, &e))
        return unsupported (c, error, _("the slice is empty"));
      if (s == 0 && e == d[a])
        continue;
      while (o[j] != (guint) a)
        j++;
      cfg = json_object_new ();
      json_object_set_int_member (cfg, "axis", j);
      json_object_set_int_member (cfg, "start", s);
      json_object_set_int_member (cfg, "stop", e);
      if ((node = add_layer (c, "Slice", cfg, &in, 1, NULL, error)) < 0)
        return FALSE;
    }
  out = set_output (c, 0, node);
  out->nonneg = x->nonneg;
  set_order (c, out, o);
  return TRUE;
}

static gboolean
op_split (Ctx *c, GError **error)
{
  Value *x = tensor_any (c, 0, error);
  g_autofree gint64 *split = NULL;
  gint64 d[MIR_MAX_DIMS], a = attr_int (c->node, "axis", 0), start = 0;
  guint o[MIR_MAX_DIMS], r, j = 0;
  gsize n;

  if (x == NULL || !(x = flat_in_onnx_order (c, x, error)) ||
      !(split = ints_arg (c, 1, 13, "split", &n, error)))
    return FALSE;
  r = onnx_dims (c, x, d);
  value_order (c, x, o);
  if (a < 0)
    a += r;
  if (a <= 0 || a >= (gint64) r)
    return unsupported (c, error, _("Mirada keeps the batch axis whole"));
  if (n == 0)
    {
      gint64 parts = (gint64) c->node->n_output;
      if (d[a] % parts != 0)
        return unsupported (c, error, _("its parts are not of equal size"));
      n = c->node->n_output;
      g_free (split);
      split = g_new (gint64, n);
      for (gsize i = 0; i < n; i++)
        split[i] = d[a] / parts;
    }
  if (n != c->node->n_output)
    return node_error (c, error, MIR_ERROR_FORMAT, _("its split does not match its outputs"));
  while (o[j] != (guint) a)
    j++;
  for (gsize i = 0; i < n; i++)
    {
      JsonObject *cfg = json_object_new ();
      guint in = (guint) x->node;
      Value *out;
      gint idx;

      if (split[i] < 1 || start + split[i] > d[a])
        {
          json_object_unref (cfg);
          return node_error (c, error, MIR_ERROR_FORMAT, _("its split does not match its input"));
        }
      json_object_set_int_member (cfg, "axis", j);
      json_object_set_int_member (cfg, "start", start);
      json_object_set_int_member (cfg, "stop", start + split[i]);
      start += split[i];
      if ((idx = add_layer (c, "Slice", cfg, &in, 1, NULL, error)) < 0)
        return FALSE;
      out = set_output (c, (guint) i, idx);
      out->nonneg = x->nonneg;
      set_order (c, out, o);
    }
  return TRUE;
}

static gboolean
op_cast (Ctx *c, GError **error)
{
  Value *x = lookup (c, 0, error);
  gint64 to = attr_int (c->node, "to", 0);

  if (x == NULL)
    return FALSE;
  if ((x->node >= 0 && to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) ||
      (x->node < 0 && is_int_tensor (x->constant) &&
       (to == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || to == ONNX__TENSOR_PROTO__DATA_TYPE__INT32)))
    {
      alias_output (c, x);
      return TRUE;
    }
  return unsupported (c, error, _("Mirada casts images to float32 and shapes to integers only"));
}

/* ------------------------------------------------------------------ */
/* LayerNormalization, and the patterns run as one layer */

/* A LayerNormalization layer over ONNX's last axis of @x, output under @name. */
static gboolean
emit_layer_norm (Ctx *c, Value *x, double eps, const Onnx__TensorProto *scale,
                 const Onnx__TensorProto *bias, const char *name, GError **error)
{
  const Onnx__TensorProto *t[2] = { scale, bias };
  JsonObject *cfg;
  MirLayer *layer;
  guint in, o[MIR_MAX_DIMS];
  gint64 ch;
  Value *out;
  gint idx;

  if (!(x = last_axis_last (c, x, error)))
    return FALSE;
  ch = shape_of (c, x)->dim[shape_of (c, x)->ndim - 1];
  cfg = json_object_new ();
  json_object_set_int_member (cfg, "axis", -1);
  json_object_set_double_member (cfg, "epsilon", eps);
  json_object_set_boolean_member (cfg, "center", TRUE);
  json_object_set_boolean_member (cfg, "scale", TRUE);
  in = (guint) x->node;
  if ((idx = add_layer (c, "LayerNormalization", cfg, &in, 1, &layer, error)) < 0)
    return FALSE;
  for (guint i = 0; i < 2; i++)
    {
      g_autofree float *v = NULL;
      gsize n = (gsize) ch;

      if (t[i] == NULL)
        {
          v = g_new (float, n);
          for (gsize k = 0; k < n; k++)
            v[k] = i == 0 ? 1.0f : 0.0f;
        }
      else if (!(v = tensor_floats (c, t[i], &n, error)))
        return FALSE;
      if (n == 1 && ch > 1)
        {
          float f = v[0];
          g_free (v);
          v = g_new (float, ch);
          for (gint64 k = 0; k < ch; k++)
            v[k] = f;
          n = (gsize) ch;
        }
      if (!set_weight (c, layer, i, v, n, error))
        {
          g_prefix_error (error, "%s: ", i == 0 ? "scale" : "bias");
          return FALSE;
        }
    }
  out = g_new0 (Value, 1);
  out->node = idx;
  g_hash_table_replace (c->values, g_strdup (name), out);
  value_order (c, x, o);
  set_order (c, out, o);
  return TRUE;
}

static gboolean
op_layer_norm (Ctx *c, GError **error)
{
  Value *x = tensor_any (c, 0, error);
  const Onnx__TensorProto *scale, *bias = NULL;
  gint64 axis = attr_int (c->node, "axis", -1);
  guint r;

  if (x == NULL || !(x = flat_in_onnx_order (c, x, error)) ||
      !(scale = const_input (c, 1, FALSE, error)))
    return FALSE;
  if (c->node->n_input > 2 && c->node->input[2][0] && !(bias = const_input (c, 2, TRUE, error)))
    return FALSE;
  r = shape_of (c, x)->ndim;
  if (axis < 0)
    axis += r;
  if (axis != (gint64) r - 1)
    return unsupported (c, error, _("Mirada normalises over the last axis only"));
  for (gsize i = 1; i < c->node->n_output; i++)
    if (c->node->output[i][0] != '\0' && g_hash_table_contains (c->consumers, c->node->output[i]))
      return unsupported (c, error, _("Mirada does not give its mean and deviation outputs"));
  return emit_layer_norm (c, x, attr_float (c->node, "epsilon", 1e-5), scale, bias,
                          c->node->output[0], error);
}

/* The only node reading @name, if it is an @op (and @name is no graph output). */
static const Onnx__NodeProto *
sole_consumer (Ctx *c, const char *name, const char *op)
{
  GPtrArray *a = g_hash_table_lookup (c->consumers, name);
  const Onnx__NodeProto *n;

  if (a == NULL || a->len != 1 || (n = a->pdata[0]) == NULL || n->n_output < 1 ||
      g_strcmp0 (n->op_type, op) != 0 || (n->domain && n->domain[0] &&
                                          g_strcmp0 (n->domain, "ai.onnx") != 0))
    return NULL;
  return n;
}

/* A constant by name: known already, or the value of a Constant node not yet reached. */
static const Onnx__TensorProto *
peek_const (Ctx *c, const char *name)
{
  Value *v;
  const Onnx__NodeProto *p;
  const Onnx__AttributeProto *a;

  if (name == NULL)
    return NULL;
  if ((v = g_hash_table_lookup (c->values, name)) != NULL)
    return v->constant;
  p = g_hash_table_lookup (c->producers, name);
  if (p == NULL || g_strcmp0 (p->op_type, "Constant") != 0 || (a = attr (p, "value")) == NULL)
    return NULL;
  return a->t;
}

static gboolean
scalar_const (Ctx *c, const char *name, double *out)
{
  const Onnx__TensorProto *t = name ? peek_const (c, name) : NULL;
  g_autofree float *f = NULL;
  gsize n;

  if (t == NULL || tensor_numel (t) != 1 || is_int_tensor (t) ||
      !(f = tensor_floats (c, t, &n, NULL)))
    return FALSE;
  *out = f[0];
  return TRUE;
}

static gboolean
scalar_is (Ctx *c, const char *name, double want, double tol)
{
  double v;

  return scalar_const (c, name, &v) && fabs (v - want) <= tol;
}

/* The input of two-input node @n that is not @name (NULL if none). */
static const char *
other_input (const Onnx__NodeProto *n, const char *name)
{
  if (n->n_input != 2)
    return NULL;
  if (g_strcmp0 (n->input[0], name) == 0)
    return n->input[1];
  if (g_strcmp0 (n->input[1], name) == 0)
    return n->input[0];
  return NULL;
}

/* A vector of @ch values along the last of @r axes. */
static gboolean
last_axis_vector (const Onnx__TensorProto *t, gint64 ch, guint r)
{
  if (t == NULL || is_int_tensor (t) || t->n_dims < 1 || t->n_dims > r ||
      t->dims[t->n_dims - 1] != ch)
    return FALSE;
  for (gsize i = 0; i + 1 < t->n_dims; i++)
    if (t->dims[i] != 1)
      return FALSE;
  return TRUE;
}

/* GELU as torch.onnx writes it before opset 20:
 *   x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5
 * becomes one Activation("gelu") when each step is the only reader of the
 * one before.  Called on the Div. */
static gboolean
fuse_gelu (Ctx *c, gboolean *done, GError **error)
{
  const Onnx__NodeProto *div = c->node, *erf, *add, *mul, *half;
  const char *x = div->n_input > 0 ? div->input[0] : NULL, *o;
  JsonObject *cfg;
  Value *xv, *out;
  guint in, ord[MIR_MAX_DIMS];
  gint idx;

  *done = FALSE;
  if (div->n_input != 2 || !scalar_is (c, div->input[1], G_SQRT2, 1e-6) ||
      !(erf = sole_consumer (c, div->output[0], "Erf")) ||
      !(add = sole_consumer (c, erf->output[0], "Add")) ||
      !scalar_is (c, other_input (add, erf->output[0]), 1.0, 0.0) ||
      !(mul = sole_consumer (c, add->output[0], "Mul")) ||
      !(o = other_input (mul, add->output[0])) || g_strcmp0 (o, x) != 0 ||
      !(half = sole_consumer (c, mul->output[0], "Mul")) ||
      !scalar_is (c, other_input (half, mul->output[0]), 0.5, 0.0))
    return TRUE;
  if (!(xv = tensor_any (c, 0, error)))
    return FALSE;
  cfg = json_object_new ();
  json_object_set_string_member (cfg, "activation", "gelu");
  in = (guint) xv->node;
  if ((idx = add_layer (c, "Activation", cfg, &in, 1, NULL, error)) < 0)
    return FALSE;
  out = g_new0 (Value, 1);
  out->node = idx;
  g_hash_table_replace (c->values, g_strdup (half->output[0]), out);
  value_order (c, xv, ord);
  set_order (c, out, ord);
  memcpy (out->flat, xv->flat, sizeof out->flat);
  g_hash_table_add (c->fused, (gpointer) erf);
  g_hash_table_add (c->fused, (gpointer) add);
  g_hash_table_add (c->fused, (gpointer) mul);
  g_hash_table_add (c->fused, (gpointer) half);
  *done = TRUE;
  return TRUE;
}

/* Whether ReduceMean @n averages over the last of @r axes only, keeping it. */
static gboolean
means_last_axis (Ctx *c, const Onnx__NodeProto *n, guint r)
{
  const Onnx__AttributeProto *a = attr (n, "axes");
  gint64 ax;

  if (attr_int (n, "keepdims", 1) == 0)
    return FALSE;
  if (c->opset >= 18)
    {
      const Onnx__TensorProto *t = n->n_input > 1 ? peek_const (c, n->input[1]) : NULL;
      g_autofree gint64 *v = NULL;
      gsize k;

      if (t == NULL || tensor_numel (t) != 1 || !(v = tensor_ints (c, t, &k, NULL)))
        return FALSE;
      ax = v[0];
    }
  else if (a == NULL || a->n_ints != 1)
    return FALSE;
  else
    ax = a->ints[0];
  return ax == -1 || ax == (gint64) r - 1;
}

/* LayerNormalization as torch.onnx writes it before opset 17:
 *   m = ReduceMean(x), d = x - m, v = ReduceMean(d ^ 2),
 *   y = d / Sqrt(v + eps) [* gamma] [+ beta]
 * over the last axis becomes one LayerNormalization layer.  Called on the
 * first ReduceMean. */
static gboolean
fuse_layer_norm (Ctx *c, gboolean *done, GError **error)
{
  const Onnx__NodeProto *rm = c->node, *sub, *pw = NULL, *rm2, *add, *sq, *dv = NULL, *last;
  const Onnx__NodeProto *mul, *badd;
  const Onnx__TensorProto *gamma = NULL, *beta = NULL;
  const char *d;
  GPtrArray *uses;
  Value *x;
  double eps;
  gint64 ch;
  guint r;

  *done = FALSE;
  x = rm->n_input >= 1 ? g_hash_table_lookup (c->values, rm->input[0]) : NULL;
  if (x == NULL || x->node < 0 || x->flat[0] != 0)
    return TRUE;
  r = shape_of (c, x)->ndim;
  if (!means_last_axis (c, rm, r) || !(sub = sole_consumer (c, rm->output[0], "Sub")) ||
      sub->n_input != 2 || g_strcmp0 (sub->input[0], rm->input[0]) != 0 ||
      g_strcmp0 (sub->input[1], rm->output[0]) != 0)
    return TRUE;
  d = sub->output[0];
  uses = g_hash_table_lookup (c->consumers, d);
  if (uses == NULL || uses->len != 2)
    return TRUE;
  for (guint i = 0; i < 2; i++)
    {
      const Onnx__NodeProto *u = uses->pdata[i];
      if (u != NULL && g_strcmp0 (u->op_type, "Pow") == 0)
        pw = u;
      else if (u != NULL && g_strcmp0 (u->op_type, "Div") == 0)
        dv = u;
    }
  if (pw == NULL || dv == NULL || pw->n_input != 2 || g_strcmp0 (pw->input[0], d) != 0 ||
      !scalar_is (c, pw->input[1], 2.0, 0.0) || dv->n_input != 2 ||
      g_strcmp0 (dv->input[0], d) != 0 ||
      !(rm2 = sole_consumer (c, pw->output[0], "ReduceMean")) || !means_last_axis (c, rm2, r) ||
      !(add = sole_consumer (c, rm2->output[0], "Add")) ||
      !scalar_const (c, other_input (add, rm2->output[0]), &eps) || !(eps > 0) ||
      !(sq = sole_consumer (c, add->output[0], "Sqrt")) ||
      sole_consumer (c, sq->output[0], "Div") != dv || g_strcmp0 (dv->input[1], sq->output[0]) != 0)
    return TRUE;
  {
    guint o[MIR_MAX_DIMS];
    value_order (c, x, o);
    /* the channel count is that of ONNX's last axis */
    ch = 0;
    for (guint i = 0; i < r; i++)
      if (o[i] == r - 1)
        ch = shape_of (c, x)->dim[i];
  }
  last = dv;
  if ((mul = sole_consumer (c, dv->output[0], "Mul")) &&
      last_axis_vector (gamma = peek_const (c, other_input (mul, dv->output[0])), ch, r))
    {
      last = mul;
      if ((badd = sole_consumer (c, mul->output[0], "Add")) &&
          last_axis_vector (beta = peek_const (c, other_input (badd, mul->output[0])), ch, r))
        last = badd;
      else
        badd = NULL, beta = NULL;
    }
  else
    mul = badd = NULL, gamma = NULL;
  if (!emit_layer_norm (c, x, eps, gamma, beta, last->output[0], error))
    return FALSE;
  g_hash_table_add (c->fused, (gpointer) sub);
  g_hash_table_add (c->fused, (gpointer) pw);
  g_hash_table_add (c->fused, (gpointer) rm2);
  g_hash_table_add (c->fused, (gpointer) add);
  g_hash_table_add (c->fused, (gpointer) sq);
  g_hash_table_add (c->fused, (gpointer) dv);
  if (mul)
    g_hash_table_add (c->fused, (gpointer) mul);
  if (badd)
    g_hash_table_add (c->fused, (gpointer) badd);
  *done = TRUE;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The operator table */

static gboolean
op_constant (Ctx *c, GError **error)
{
  const Onnx__AttributeProto *a = attr (c->node, "value");

  if (a == NULL || a->t == NULL)
    return unsupported (c, error, _("only tensor constants (attribute value) are supported"));
  set_output (c, 0, -1)->constant = a->t;
  return TRUE;
}

static gboolean
op_identity (Ctx *c, GError **error)
{
  Value *x = lookup (c, 0, error);

  if (x == NULL)
    return FALSE;
  alias_output (c, x);
  return TRUE;
}

static gboolean
op_add (Ctx *c, GError **error)
{
  return op_binary (c, BIN_ADD, error);
}

static gboolean
op_sub (Ctx *c, GError **error)
{
  return op_binary (c, BIN_SUB, error);
}

static gboolean
op_mul (Ctx *c, GError **error)
{
  return op_binary (c, BIN_MUL, error);
}

static gboolean
op_div (Ctx *c, GError **error)
{
  gboolean done;

  if (!fuse_gelu (c, &done, error))
    return FALSE;
  return done || op_binary (c, BIN_DIV, error);
}

static gboolean
op_sum (Ctx *c, GError **error)
{
  if (c->node->n_input == 1)
    return op_identity (c, error);
  if (c->node->n_input != 2)
    return unsupported (c, error, _("it has more than two inputs"));
  return op_binary (c, BIN_ADD, error);
}

static gboolean
op_concat_any (Ctx *c, GError **error)
{
  Value *v = lookup (c, 0, error);

  if (v == NULL)
    return FALSE;
  if (v->node < 0)
    return fold_concat (c, error);
  return op_concat (c, error);
}

static gboolean
op_relu (Ctx *c, GError **error)
{
  return elementwise (c, "ReLU", json_object_new (), TRUE, error);
}

static gboolean
op_sigmoid (Ctx *c, GError **error)
{
  return op_activation (c, "sigmoid", TRUE, error);
}

static gboolean
op_tanh (Ctx *c, GError **error)
{
  return op_activation (c, "tanh", FALSE, error);
}

static gboolean
op_max_pool (Ctx *c, GError **error)
{
  return op_pool (c, TRUE, error);
}

static gboolean
op_average_pool (Ctx *c, GError **error)
{
  return op_pool (c, FALSE, error);
}

static gboolean
op_global_average_pool (Ctx *c, GError **error)
{
  return op_global_pool (c, FALSE, error);
}

static gboolean
op_global_max_pool (Ctx *c, GError **error)
{
  return op_global_pool (c, TRUE, error);
}

static gboolean
op_reduce_mean (Ctx *c, GError **error)
{
  gboolean done;

  if (!fuse_layer_norm (c, &done, error))
    return FALSE;
  return done || op_reduce (c, FALSE, error);
}

static gboolean
op_reduce_max (Ctx *c, GError **error)
{
  return op_reduce (c, TRUE, error);
}

static gboolean
op_hard_sigmoid (Ctx *c, GError **error)
{
  return op_hard (c, FALSE, error);
}

static gboolean
op_hard_swish (Ctx *c, GError **error)
{
  return op_hard (c, TRUE, error);
}

typedef struct
{
  const char *name;
  gint64 since;   /* the first opset with the operator (7: all Mirada reads) */
  gboolean (*convert) (Ctx *c, GError **error);
} OpEntry;

/* Sorted by name (looked up with bsearch; test-formats checks the order
 * through mir_onnx_operators()). */
static const OpEntry op_table[] = {
  { "Add", 7, op_add },
  { "AveragePool", 7, op_average_pool },
  { "BatchNormalization", 7, op_batchnorm },
  { "Cast", 7, op_cast },
  { "Clip", 7, op_clip },
  { "Concat", 7, op_concat_any },
  { "Constant", 7, op_constant },
  { "Conv", 7, op_conv },
  { "Div", 7, op_div },
  { "Dropout", 7, op_identity },
  { "Flatten", 7, op_flatten },
  { "Gather", 7, op_gather },
  { "Gemm", 7, op_gemm },
  { "GlobalAveragePool", 7, op_global_average_pool },
  { "GlobalMaxPool", 7, op_global_max_pool },
  { "HardSigmoid", 7, op_hard_sigmoid },
  { "HardSwish", 14, op_hard_swish },
  { "Identity", 7, op_identity },
  { "LayerNormalization", 17, op_layer_norm },
  { "MatMul", 7, op_matmul },
  { "MaxPool", 7, op_max_pool },
  { "Mul", 7, op_mul },
  { "Pad", 7, op_pad },
  { "ReduceMax", 7, op_reduce_max },
  { "ReduceMean", 7, op_reduce_mean },
  { "Relu", 7, op_relu },
  { "Reshape", 7, op_reshape },
  { "Shape", 7, op_shape },
  { "Sigmoid", 7, op_sigmoid },
  { "Slice", 7, op_slice },
  { "Softmax", 7, op_softmax },
  { "Split", 7, op_split },
  { "Squeeze", 7, op_squeeze },
  { "Sub", 7, op_sub },
  { "Sum", 7, op_sum },
  { "Tanh", 7, op_tanh },
  { "Transpose", 7, op_transpose },
  { "Unsqueeze", 7, op_unsqueeze },
};

/* Operators Mirada runs only as part of a pattern converted as one layer. */
static const struct
{
  const char *name;
  const char *pattern;
} pattern_ops[] = {
  { "Erf", "GELU: x * 0.5 * (1 + Erf (x / sqrt (2)))" },
  { "Pow", "LayerNormalization: (x - mean) / Sqrt (mean ((x - mean) ^ 2) + eps)" },
  { "Sqrt", "LayerNormalization: (x - mean) / Sqrt (mean ((x - mean) ^ 2) + eps)" },
};

static int
op_entry_cmp (const void *key, const void *entry)
{
  return strcmp (key, ((const OpEntry *) entry)->name);
}

const char *const *
mir_onnx_operators (void)
{
  static const char *names[G_N_ELEMENTS (op_table) + 1];

  if (names[0] == NULL)
    for (gsize i = 0; i < G_N_ELEMENTS (op_table); i++)
      names[i] = op_table[i].name;
  return names;
}

static gboolean
convert_node (Ctx *c, GError **error)
{
  const char *op = c->node->op_type;
  const OpEntry *e;

  if (g_hash_table_contains (c->fused, c->node))
    return TRUE;
  if (c->node->domain != NULL && c->node->domain[0] != '\0' &&
      g_strcmp0 (c->node->domain, "ai.onnx") != 0)
    {
      g_autofree char *d = g_strdup_printf (_("it belongs to the operator domain '%s', which "
                                              "Mirada does not run"),
                                            c->node->domain);
      return unsupported (c, error, d);
    }
  if (c->node->n_output < 1)
    return node_error (c, error, MIR_ERROR_FORMAT, _("it has no output"));
  e = op != NULL ? bsearch (op, op_table, G_N_ELEMENTS (op_table), sizeof op_table[0],
                            op_entry_cmp)
                 : NULL;
  if (e != NULL)
    {
      if (c->opset < e->since)
        {
          g_autofree char *d = g_strdup_printf (_("the operator %s is part of ONNX from opset "
                                                  "%" PRId64 " on, but the model declares "
                                                  "opset %" PRId64),
                                                op, e->since, c->opset);
          return node_error (c, error, MIR_ERROR_FORMAT, d);
        }
      return e->convert (c, error);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (pattern_ops); i++)
    if (g_strcmp0 (op, pattern_ops[i].name) == 0)
      {
        g_autofree char *d = g_strdup_printf (_("Mirada runs the operator %s only inside the "
                                                "pattern %s, and this node is not part of one"),
                                              op, pattern_ops[i].pattern);
        return unsupported (c, error, d);
      }
  {
    GString *list = g_string_new (NULL);
    g_autofree char *d = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS (op_table); i++)
      g_string_append_printf (list, "%s%s", i ? ", " : "", op_table[i].name);
    d = g_strdup_printf (_("the operator %s is not one Mirada runs (it runs %s)"), op, list->str);
    g_string_free (list, TRUE);
    return unsupported (c, error, d);
  }
}

/* Who reads and who writes each value (for the patterns above). */
static void
index_graph (Ctx *c, const Onnx__GraphProto *g)
{
  for (gsize i = 0; i < g->n_node; i++)
    {
      const Onnx__NodeProto *n = g->node[i];

      for (gsize k = 0; k < n->n_input; k++)
        {
          GPtrArray *a;
          if (n->input[k] == NULL || n->input[k][0] == '\0')
            continue;
          if (!(a = g_hash_table_lookup (c->consumers, n->input[k])))
            g_hash_table_insert (c->consumers, n->input[k], a = g_ptr_array_new ());
          g_ptr_array_add (a, (gpointer) n);
        }
      for (gsize k = 0; k < n->n_output; k++)
        if (n->output[k] != NULL && n->output[k][0] != '\0')
          g_hash_table_insert (c->producers, n->output[k], (gpointer) n);
    }
  for (gsize i = 0; i < g->n_output; i++)
    {
      GPtrArray *a;
      const char *name = opt_name (g->output[i]->name);
      if (!(a = g_hash_table_lookup (c->consumers, name)))
        g_hash_table_insert (c->consumers, (gpointer) name, a = g_ptr_array_new ());
      g_ptr_array_add (a, NULL);
    }
}

/* ------------------------------------------------------------------ */

static gboolean
add_graph_input (Ctx *c, const Onnx__ValueInfoProto *vi, GError **error)
{
  const Onnx__TypeProto__Tensor *tt;
  const Onnx__TensorShapeProto *sp;
  MirShape shape = { 0 };
  gint64 d[4];
  Value *v;
  gint idx;

  if (vi->type == NULL || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
      (tt = vi->type->tensor_type) == NULL || (sp = tt->shape) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The input '%s' of '%s' is not a tensor of known shape"), opt_name (vi->name),
                   c->display);
      return FALSE;
    }
  if (tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The input '%s' of '%s' is not float32"), vi->name, c->display);
      return FALSE;
    }
  if (sp->n_dim != 4 && sp->n_dim != 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The input '%s' of '%s' has rank %u; Mirada reads image inputs "
                     "(N, C, H, W) or (N, features)"),
                   vi->name, c->display, (guint) sp->n_dim);
      return FALSE;
    }
  for (gsize i = 1; i < sp->n_dim; i++)
    {
      if (sp->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
          sp->dim[i]->dim_value < 1 || sp->dim[i]->dim_value > 65536)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("The input '%s' of '%s' does not give a fixed size for dimension %u; "
                         "export the model with a fixed image size"),
                       vi->name, c->display, (guint) i);
          return FALSE;
        }
      d[i] = sp->dim[i]->dim_value;
    }
  shape.ndim = (guint) sp->n_dim;
  shape.dim[0] = -1;
  if (sp->n_dim == 4)
    {
      shape.dim[1] = d[2];
      shape.dim[2] = d[3];
      shape.dim[3] = d[1];
    }
  else
    shape.dim[1] = d[1];
  {
    g_autofree char *name = g_strdup (vi->name && vi->name[0] ? vi->name : "input");
    idx = mir_model_add_input (c->model, name, &shape, error);
    if (idx < 0)
      return FALSE;
    g_hash_table_add (c->names, g_steal_pointer (&name));
  }
  v = g_new0 (Value, 1);
  v->node = idx;
  g_hash_table_replace (c->values, g_strdup (opt_name (vi->name)), v);
  return TRUE;
}

/* Gives the initializers whose raw_data the walker left in the file their
 * length back (the data stay NULL: tensor_floats_range() reads them from
 * c->fd).  FALSE when the skeleton does not have those initializers. */
static gboolean
attach_deferred (Ctx *c, Onnx__ModelProto *mp, GArray *deferred)
{
  Onnx__GraphProto *g = mp->graph;

  if (deferred == NULL || deferred->len == 0)
    return TRUE;
  c->deferred = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < deferred->len; i++)
    {
      const MirOnnxDeferred *d = &g_array_index (deferred, MirOnnxDeferred, i);
      Onnx__TensorProto *t;

      if (g == NULL || d->initializer >= g->n_initializer || d->length > G_MAXSIZE)
        return FALSE;
      t = g->initializer[d->initializer];
      if (t->has_raw_data || t->raw_data.data != NULL)
        return FALSE;
      t->has_raw_data = TRUE;
      t->raw_data.len = (gsize) d->length;
      g_hash_table_insert (c->deferred, t, (gpointer) d);
    }
  return TRUE;
}

/* Undoes attach_deferred() before protobuf-c frees the message. */
static void
detach_deferred (Ctx *c, Onnx__ModelProto *mp, GArray *deferred)
{
  GHashTableIter iter;
  gpointer key;

  if (mp == NULL || deferred == NULL || c->deferred == NULL)
    return;
  g_hash_table_iter_init (&iter, c->deferred);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Onnx__TensorProto *t = key;
      t->has_raw_data = FALSE;
      t->raw_data.len = 0;
      t->raw_data.data = NULL;
    }
}

MirModel *
mir_onnx_load (const char *path, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *data = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(GHashTable) values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GArray) outs = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GByteArray) skeleton = NULL;
  g_autoptr(GArray) deferred = NULL;
  g_autoptr(GHashTable) consumers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                           (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GHashTable) producers = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) fused = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) folded = g_ptr_array_new_with_free_func (folded_free);
  Onnx__ModelProto *mp;
  Onnx__GraphProto *g;
  Ctx c = { 0 };
  guint64 size = 0;
  gsize len;
  gint64 opset = -1;
  gboolean ok = FALSE;

  /* The large raw_data stay in the file until their weights are made
   * (mir-onnx-walk.h); a file the walker does not follow is read whole. */
  if ((c.fd = mir_file_open (path, MAX_FILE_BYTES, _("ONNX files"), &size, error)) < 0)
    return NULL;
  if (mir_onnx_walk (c.fd, size, &skeleton, &deferred))
    mp = onnx__model_proto__unpack (NULL, skeleton->len, skeleton->data);
  else
    {
      g_clear_pointer (&deferred, g_array_unref);
      close (c.fd);
      c.fd = -1;
      if (!(data = mir_file_read (path, MAX_FILE_BYTES, _("ONNX files"), &len, error)))
        return NULL;
      mp = onnx__model_proto__unpack (NULL, len, (const uint8_t *) data);
    }
  g_clear_pointer (&skeleton, g_byte_array_unref);
  if (mp == NULL || !attach_deferred (&c, mp, deferred))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not a valid ONNX model: it is truncated or damaged"), display);
      goto out;
    }
  g = mp->graph;
  for (gsize i = 0; i < mp->n_opset_import; i++)
    {
      const char *dom = mp->opset_import[i]->domain;
      if ((dom == NULL || dom[0] == '\0' || g_strcmp0 (dom, "ai.onnx") == 0) &&
          mp->opset_import[i]->has_version)
        opset = mp->opset_import[i]->version;
    }
  if (g == NULL || g->n_node == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("'%s' is an ONNX file without a graph"),
                   display);
      goto out;
    }
  if (opset < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' does not say which ONNX operator set (opset) it uses"), display);
      goto out;
    }
  if (opset < MIN_OPSET || opset > MAX_OPSET)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' uses ONNX opset %" PRId64 "; Mirada reads opsets %d to %d "
                     "(export with opset_version=13)"),
                   display, opset, MIN_OPSET, MAX_OPSET);
      goto out;
    }

  model = mir_model_new (g->name && g->name[0] ? g->name : "onnx");
  c.model = model;
  c.values = values;
  c.names = names;
  c.opset = opset;
  c.display = display;
  c.consumers = consumers;
  c.producers = producers;
  c.fused = fused;
  c.folded = folded;
  index_graph (&c, g);

  for (gsize i = 0; i < g->n_initializer; i++)
    {
      Value *v = g_new0 (Value, 1);
      v->node = -1;
      v->constant = g->initializer[i];
      g_hash_table_replace (values, g_strdup (opt_name (g->initializer[i]->name)), v);
    }
  for (gsize i = 0; i < g->n_input; i++)
    if (!g_hash_table_contains (values, opt_name (g->input[i]->name)) &&
        !add_graph_input (&c, g->input[i], error))
      goto out;
  if (model->inputs->len != 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' has %u inputs; Mirada reads ONNX models with one image input"),
                   display, model->inputs->len);
      goto out;
    }
  for (gsize i = 0; i < g->n_node; i++)
    {
      g_autofree char *fallback = g_strdup_printf ("#%u", (guint) i);
      c.node = g->node[i];
      c.node_name = c.node->name && c.node->name[0] ? c.node->name : fallback;
      if (!convert_node (&c, error))
        goto out;
    }
  for (gsize i = 0; i < g->n_output; i++)
    {
      Value *v = g_hash_table_lookup (values, opt_name (g->output[i]->name));
      guint idx;
      if (v == NULL || v->node < 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                       _("The output '%s' of '%s' is not computed by its graph"),
                       opt_name (g->output[i]->name), display);
          goto out;
        }
      /* a flattened map leaves the model in ONNX's C, H, W order */
      if (!(v = flat_in_onnx_order (&c, v, error)) || !(v = canonical (&c, v, error)))
        goto out;
      idx = (guint) v->node;
      g_array_append_val (outs, idx);
    }
  if (!mir_model_set_outputs (model, &g_array_index (outs, guint, 0), outs->len, error) ||
      !mir_model_finish (model, FALSE, 0, error))
    goto out;
  model->format = g_strdup_printf ("ONNX (opset %" G_GINT64_FORMAT ")", opset);
  if (mp->producer_name && mp->producer_name[0])
    model->backend = g_strdup_printf ("%s %s", mp->producer_name,
                                      mp->producer_version ? mp->producer_version : "");
  /* torchvision-style classifiers expect ImageNet mean/std; a sidecar overrides it. */
  if (g_strcmp0 (mp->producer_name, "pytorch") == 0)
    {
      model->meta.preprocess = MIR_PREPROCESS_TORCH;
      model->meta.preprocess_from = MIR_PREPROCESS_FROM_FORMAT;
    }
  ok = TRUE;

out:
  detach_deferred (&c, mp, deferred);
  if (mp != NULL)
    onnx__model_proto__free_unpacked (mp, NULL);
  if (c.fd >= 0)
    close (c.fd);
  g_clear_pointer (&c.deferred, g_hash_table_unref);
  return ok ? g_steal_pointer (&model) : NULL;
}
