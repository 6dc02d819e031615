/* Elementwise merge layers: Add, Subtract, Multiply, Average, Maximum,
 * Minimum.  One implementation with an op per class.
 *
 * Inputs broadcast as in Keras: an input of lower rank gets size-1 axes
 * inserted after the batch axis (Keras expands at axis 1), and an axis of
 * size 1 stretches to the other inputs' size, so [N,H,W,C] * [N,1,1,C]
 * (squeeze-and-excitation) works.  Backward sums the gradient over the
 * broadcast axes; Maximum/Minimum send it to the winning input (the first on
 * ties). */
#define G_LOG_DOMAIN "mir-layer-merge"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-parallel.h"
#include "mir-vec.h"

typedef enum
{
  MERGE_ADD,
  MERGE_SUBTRACT,
  MERGE_MULTIPLY,
  MERGE_AVERAGE,
  MERGE_MAXIMUM,
  MERGE_MINIMUM,
} MergeOp;

typedef struct
{
  MirLayer parent;
  MergeOp op;
} MirLayerMerge;

typedef gint64 Strides[MIR_MAX_DIMS];

/* The output shape and, per input, strides over it (0 on broadcast axes). */
typedef struct
{
  guint ndim;
  gint64 shape[MIR_MAX_DIMS];
  guint n_in;
  Strides *stride;
  gsize inner; /* length of the last axis */
  gsize rows;  /* numel / inner */
} Bcast;

static gboolean
merge_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerMerge *self = (MirLayerMerge *) layer;
  const MirLayerClass *k = layer->klass;

  if (k == &mir_layer_add_class)
    self->op = MERGE_ADD;
  else if (k == &mir_layer_subtract_class)
    self->op = MERGE_SUBTRACT;
  else if (k == &mir_layer_multiply_class)
    self->op = MERGE_MULTIPLY;
  else if (k == &mir_layer_average_class)
    self->op = MERGE_AVERAGE;
  else if (k == &mir_layer_maximum_class)
    self->op = MERGE_MAXIMUM;
  else if (k == &mir_layer_minimum_class)
    self->op = MERGE_MINIMUM;
  else
    g_return_val_if_reached (FALSE);
  layer->activation = MIR_ACT_LINEAR;
  return TRUE;
}

/* Input shape @s seen with rank @ndim: size-1 axes inserted after the batch. */
static void
expand_shape (guint s_ndim, const gint64 *s, guint ndim, gint64 *e)
{
  guint extra = ndim - s_ndim;

  for (guint d = 0; d < ndim; d++)
    {
      if (s_ndim == 0)
        e[d] = 1;
      else if (d == 0)
        e[d] = s[0];
      else if (d <= extra)
        e[d] = 1;
      else
        e[d] = s[d - extra];
    }
}

static gboolean
merge_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerMerge *self = (MirLayerMerge *) layer;
  guint ndim = 0;

  if (self->op == MERGE_SUBTRACT && n_in != 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Subtract takes exactly 2 inputs, but is given %u"), n_in);
      return FALSE;
    }
  if (n_in == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE, _("the layer has no inputs"));
      return FALSE;
    }
  for (guint k = 0; k < n_in; k++)
    ndim = MAX (ndim, in[k].ndim);
  out->ndim = ndim;
  for (guint d = 0; d < ndim; d++)
    out->dim[d] = 1;
  for (guint k = 0; k < n_in; k++)
    {
      gint64 e[MIR_MAX_DIMS];

      expand_shape (in[k].ndim, in[k].dim, ndim, e);
      for (guint d = 0; d < ndim; d++)
        {
          gint64 a = out->dim[d], b = e[d];

          if (a == b || b == 1)
            continue;
          if (a == 1)
            out->dim[d] = b;
          else if (a < 0 || b < 0)
            out->dim[d] = a < 0 ? b : a; /* unknown: checked again on the real shapes */
          else
            {
              g_autofree char *s0 = mir_shape_to_string (&in[0]);
              g_autofree char *sk = mir_shape_to_string (&in[k]);
              g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                           _("inputs of shapes %s and %s cannot be combined: axis %u has "
                             "sizes %" PRId64 " and %" PRId64
                             " (they must be equal, or one of them 1)"),
                           s0, sk, d, a, b);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static void
bcast_init (Bcast *b, MirTensor *const *in, guint n_in, const MirTensor *out)
{
  b->ndim = out->ndim;
  memcpy (b->shape, out->shape, sizeof b->shape);
  b->n_in = n_in;
  b->stride = g_new0 (Strides, n_in);
  for (guint k = 0; k < n_in; k++)
    {
      gint64 e[MIR_MAX_DIMS];
      gint64 s = 1;

      expand_shape (in[k]->ndim, in[k]->shape, out->ndim, e);
      for (int d = (int) out->ndim - 1; d >= 0; d--)
        {
          b->stride[k][d] = e[d] == 1 ? 0 : s;
          s *= e[d];
        }
    }
  b->inner = out->ndim > 0 ? (gsize) out->shape[out->ndim - 1] : 1;
  b->rows = b->inner > 0 ? out->numel / b->inner : 0;
}

static void
bcast_clear (Bcast *b)
{
  g_clear_pointer (&b->stride, g_free);
}

/* Offsets of row @row (all axes but the last) in every input. */
static void
row_offsets (const Bcast *b, gsize row, gsize *offs)
{
  gsize rest = row;

  for (guint k = 0; k < b->n_in; k++)
    offs[k] = 0;
  for (int d = (int) b->ndim - 2; d >= 0; d--)
    {
      gsize idx = rest % (gsize) b->shape[d];
      rest /= (gsize) b->shape[d];
      for (guint k = 0; k < b->n_in; k++)
        offs[k] += idx * (gsize) b->stride[k][d];
    }
}

static gsize
inner_stride (const Bcast *b, guint k)
{
  return b->ndim > 0 ? (gsize) b->stride[k][b->ndim - 1] : 0;
}

/* Combines input @x (stride @s along the row) into the row @y. */
static void
merge_row (MergeOp op, float *y, const float *x, gsize s, gsize n)
{
  if (s == 1) /* the common case: plain vector loops */
    switch (op)
      {
      case MERGE_ADD:
      case MERGE_AVERAGE:
        mir_vec_add (y, x, n);
        return;
      case MERGE_SUBTRACT:
        mir_vec_sub (y, x, n);
        return;
      case MERGE_MULTIPLY:
        mir_vec_mul (y, x, n);
        return;
      case MERGE_MAXIMUM:
        mir_vec_max (y, x, n);
        return;
      case MERGE_MINIMUM:
        mir_vec_min (y, x, n);
        return;
      default:
        g_assert_not_reached ();
      }
  switch (op)
    {
    case MERGE_ADD:
    case MERGE_AVERAGE:
      for (gsize i = 0; i < n; i++)
        y[i] += x[i * s];
      break;
    case MERGE_SUBTRACT:
      for (gsize i = 0; i < n; i++)
        y[i] -= x[i * s];
      break;
    case MERGE_MULTIPLY:
      for (gsize i = 0; i < n; i++)
        y[i] *= x[i * s];
      break;
    case MERGE_MAXIMUM:
      for (gsize i = 0; i < n; i++)
        y[i] = x[i * s] > y[i] ? x[i * s] : y[i];
      break;
    case MERGE_MINIMUM:
      for (gsize i = 0; i < n; i++)
        y[i] = x[i * s] < y[i] ? x[i * s] : y[i];
      break;
    default:
      g_assert_not_reached ();
    }
}

typedef struct
{
  const Bcast *b;
  MergeOp op;
  MirTensor *const *in;
  guint n_in;
  float *out;
} MergeCtx;

/* Rows [begin, end) of the output; each value combines the inputs in the
 * same order whatever the split, so results do not depend on threads. */
static void
merge_rows (gint64 begin, gint64 end, gpointer data)
{
  const MergeCtx *m = data;
  const Bcast *b = m->b;
  gsize stack_offs[8];
  g_autofree gsize *heap_offs = NULL;
  gsize *offs = stack_offs;

  if (m->n_in > G_N_ELEMENTS (stack_offs))
    offs = heap_offs = g_new (gsize, m->n_in);
  for (gsize r = (gsize) begin; r < (gsize) end; r++)
    {
      float *y = m->out + r * b->inner;

      row_offsets (b, r, offs);
      for (guint k = 0; k < m->n_in; k++)
        {
          const float *x = m->in[k]->data + offs[k];
          gsize s = inner_stride (b, k);

          if (k > 0)
            merge_row (m->op, y, x, s, b->inner);
          else if (s == 1)
            memcpy (y, x, b->inner * sizeof (float));
          else
            for (gsize i = 0; i < b->inner; i++)
              y[i] = x[i * s];
        }
      if (m->op == MERGE_AVERAGE)
        for (gsize i = 0; i < b->inner; i++)
          y[i] /= (float) m->n_in;
    }
}

/* Values [begin, end) x FLAT_CHUNK when no input broadcasts: the inputs
 * and the output are the same flat arrays, combined a cache-sized piece at
 * a time in the same order as merge_rows().  A residual Add over
 * 56 x 56 x 24 values (EfficientNetB0) spent most of its time in
 * merge_rows()' per-row offsets for rows of 24 values. */
#define FLAT_CHUNK 4096

static void
merge_flat (gint64 begin, gint64 end, gpointer data)
{
  const MergeCtx *m = data;
  gsize numel = m->in[0]->numel;

  for (gsize o = (gsize) begin * FLAT_CHUNK; o < MIN ((gsize) end * FLAT_CHUNK, numel);
       o += FLAT_CHUNK)
    {
      gsize n = MIN ((gsize) FLAT_CHUNK, numel - o);
      float *y = m->out + o;

      if (y != m->in[0]->data + o)
        memcpy (y, m->in[0]->data + o, n * sizeof (float));
      for (guint k = 1; k < m->n_in; k++)
        merge_row (m->op, y, m->in[k]->data + o, 1, n);
      if (m->op == MERGE_AVERAGE)
        for (gsize i = 0; i < n; i++)
          y[i] /= (float) m->n_in;
    }
}

static gboolean
merge_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
               const MirRunArgs *args, GError **error)
{
  MirLayerMerge *self = (MirLayerMerge *) layer;
  MergeCtx m = { NULL, self->op, in, n_in, out->data };
  gboolean flat = TRUE;
  Bcast b;

  for (guint k = 0; k < n_in; k++)
    flat = flat && in[k]->numel == out->numel;
  if (flat)
    {
      gint64 chunks = (out->numel + FLAT_CHUNK - 1) / FLAT_CHUNK;

      mir_parallel_for (chunks, 4, merge_flat, &m);
      return TRUE;
    }
  bcast_init (&b, in, n_in, out);
  m.b = &b;
  /* chunks of about 16 K values */
  mir_parallel_for ((gint64) b.rows, (gint64) MAX (16384 / MAX (b.inner, 1), 1), merge_rows, &m);
  bcast_clear (&b);
  return TRUE;
}

static gboolean
merge_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                const MirRunArgs *args, GError **error)
{
  MirLayerMerge *self = (MirLayerMerge *) layer;
  g_autofree gsize *offs = g_new (gsize, n_in);
  g_autofree float *tmp = NULL;
  Bcast b;

  for (guint k = 0; k < n_in; k++)
    if (grad_in[k] != NULL)
      mir_tensor_zero (grad_in[k]);
  bcast_init (&b, in, n_in, out);
  tmp = g_new (float, MAX (b.inner, 1));
  for (gsize r = 0; r < b.rows; r++)
    {
      const float *dy = grad_out->data + r * b.inner;

      row_offsets (&b, r, offs);
      if (self->op == MERGE_MAXIMUM || self->op == MERGE_MINIMUM)
        {
          for (gsize i = 0; i < b.inner; i++)
            {
              guint win = 0;
              float best = in[0]->data[offs[0] + i * inner_stride (&b, 0)];

              for (guint k = 1; k < n_in; k++)
                {
                  float v = in[k]->data[offs[k] + i * inner_stride (&b, k)];
                  if (self->op == MERGE_MAXIMUM ? v > best : v < best)
                    {
                      best = v;
                      win = k;
                    }
                }
              if (grad_in[win] != NULL)
                grad_in[win]->data[offs[win] + i * inner_stride (&b, win)] += dy[i];
            }
          continue;
        }
      for (guint k = 0; k < n_in; k++)
        {
          float *dx;
          gsize s = inner_stride (&b, k);

          if (grad_in[k] == NULL)
            continue;
          dx = grad_in[k]->data + offs[k];
          switch (self->op)
            {
            case MERGE_ADD:
              for (gsize i = 0; i < b.inner; i++)
                dx[i * s] += dy[i];
              break;
            case MERGE_AVERAGE:
              for (gsize i = 0; i < b.inner; i++)
                dx[i * s] += dy[i] / (float) n_in;
              break;
            case MERGE_SUBTRACT:
              for (gsize i = 0; i < b.inner; i++)
                dx[i * s] += k == 0 ? dy[i] : -dy[i];
              break;
            case MERGE_MULTIPLY:
              /* d/dx_k = dy * prod of the other inputs (no division: zeros are fine). */
              memcpy (tmp, dy, b.inner * sizeof (float));
              for (guint j = 0; j < n_in; j++)
                {
                  const float *xj = in[j]->data + offs[j];
                  gsize sj = inner_stride (&b, j);
                  if (j == k)
                    continue;
                  for (gsize i = 0; i < b.inner; i++)
                    tmp[i] *= xj[i * sj];
                }
              for (gsize i = 0; i < b.inner; i++)
                dx[i * s] += tmp[i];
              break;
            case MERGE_MAXIMUM:
            case MERGE_MINIMUM:
            default:
              g_assert_not_reached ();
            }
        }
    }
  bcast_clear (&b);
  return TRUE;
}

static gint64
merge_flops (MirLayer *layer, const MirShape *in, guint n_in, const MirShape *out)
{
  gint64 n = 1;

  for (guint d = 1; d < out->ndim; d++)
    n *= MAX (out->dim[d], 1);
  return n * (gint64) (n_in > 0 ? n_in - 1 : 0);
}

#define MERGE_CLASS(sym, keras_name)             \
  const MirLayerClass sym = {                    \
    .name = keras_name,                          \
    .instance_size = sizeof (MirLayerMerge),     \
    .flags = MIR_LAYER_FLAG_MULTI_INPUT | MIR_LAYER_FLAG_WRITES_ALL,         \
    .configure = merge_configure,                \
    .infer = merge_infer,                        \
    .forward = merge_forward,                    \
    .backward = merge_backward,                  \
    .flops = merge_flops,                        \
  }

MERGE_CLASS (mir_layer_add_class, "Add");
MERGE_CLASS (mir_layer_subtract_class, "Subtract");
MERGE_CLASS (mir_layer_multiply_class, "Multiply");
MERGE_CLASS (mir_layer_average_class, "Average");
MERGE_CLASS (mir_layer_maximum_class, "Maximum");
MERGE_CLASS (mir_layer_minimum_class, "Minimum");
