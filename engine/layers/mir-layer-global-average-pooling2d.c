/* GlobalAveragePooling2D: mean over height and width, (N, C) or with
 * keepdims (N, 1, 1, C). */
#define G_LOG_DOMAIN "mir-layer-global-average-pooling2d"

#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-parallel.h"
#include "mir-vec.h"
#include "mir-vec-simd.h"
#include "mir-conv-util.h"

typedef struct
{
  MirLayer parent;
  gboolean keepdims;
} MirLayerGlobalAveragePooling2D;

static gboolean
gap_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerGlobalAveragePooling2D *self = (MirLayerGlobalAveragePooling2D *) layer;

  return mir_config_check_channels_last (config, error) &&
         mir_config_get_bool (config, "keepdims", FALSE, &self->keepdims, error);
}

static gboolean
gap_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerGlobalAveragePooling2D *self = (MirLayerGlobalAveragePooling2D *) layer;

  if (in->ndim != 4)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects a 4-D input (batch, height, width, channels) but got shape %s"), s);
      return FALSE;
    }
  if (self->keepdims)
    *out = (MirShape) { 4, { in->dim[0], 1, 1, in->dim[3] } };
  else
    *out = (MirShape) { 2, { in->dim[0], in->dim[3] } };
  return TRUE;
}

/* Pixels summed in float before the running sum (in double) takes them:
 * the float error stays that of 64 terms, and the chunks are fixed, so the
 * result does not depend on how the threads split them. */
#define GAP_CHUNK 64

typedef void (*GapSumFunc) (const float *x, gsize np, gsize c, float *acc);

typedef struct
{
  const float *x;
  gsize hw, c, chunks; /* chunks per image */
  float *sums;         /* [n][chunks][c] */
  GapSumFunc sum;
} GapCtx;

/* acc[0..c) = the sum of @np pixels of @c channels from @x, pixel by pixel
 * in order (what mir_vec_add() in a loop gives, bit for bit), four vectors
 * of channels at a time held in registers over the pixels instead of
 * loaded and stored at each. */
#define DEFINE_GAP_SUM(W)                                                        \
  static inline MIR_ALWAYS_INLINE void                                           \
  gap_sum_body##W (const float *x, gsize np, gsize c, float *acc)                \
  {                                                                              \
    gsize k = 0;                                                                 \
                                                                                 \
    for (; k + 4 * W <= c; k += 4 * W)                                           \
      {                                                                          \
        MirV##W a[4], v;                                                         \
                                                                                 \
        MIR_UNROLL for (int q = 0; q < 4; q++)                                   \
          memcpy (&a[q], x + k + q * W, sizeof v);                               \
        for (gsize p = 1; p < np; p++)                                           \
          MIR_UNROLL for (int q = 0; q < 4; q++)                                 \
            {                                                                    \
              memcpy (&v, x + p * c + k + q * W, sizeof v);                      \
              a[q] += v;                                                         \
            }                                                                    \
        memcpy (acc + k, a, sizeof a);                                           \
      }                                                                          \
    for (; k + W <= c; k += W)                                                   \
      {                                                                          \
        MirV##W a, v;                                                            \
                                                                                 \
        memcpy (&a, x + k, sizeof a);                                            \
        for (gsize p = 1; p < np; p++)                                           \
          {                                                                      \
            memcpy (&v, x + p * c + k, sizeof v);                                \
            a += v;                                                              \
          }                                                                      \
        memcpy (acc + k, &a, sizeof a);                                          \
      }                                                                          \
    for (; k < c; k++)                                                           \
      {                                                                          \
        float a = x[k];                                                          \
                                                                                 \
        for (gsize p = 1; p < np; p++)                                           \
          a += x[p * c + k];                                                     \
        acc[k] = a;                                                              \
      }                                                                          \
  }

DEFINE_GAP_SUM (8)
DEFINE_GAP_SUM (16)

static void
gap_sum_portable (const float *x, gsize np, gsize c, float *acc)
{
  gap_sum_body8 (x, np, c, acc);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
gap_sum_avx2 (const float *x, gsize np, gsize c, float *acc)
{
  gap_sum_body8 (x, np, c, acc);
}

MIR_TARGET_AVX512 static void
gap_sum_avx512 (const float *x, gsize np, gsize c, float *acc)
{
  gap_sum_body16 (x, np, c, acc);
}
#endif

static GapSumFunc
gap_sum_pick (void)
{
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    return gap_sum_avx512;
  if (mir_cpu_has_avx2 ())
    return gap_sum_avx2;
#endif
  return gap_sum_portable;
}

gsize
mir_gap_chunks (gsize hw)
{
  return (hw + GAP_CHUNK - 1) / GAP_CHUNK;
}

/* Chunk @j of the image at @x (@hw pixels of @c channels) into @row. */
static inline void
chunk_sum (GapSumFunc sum, const float *x, gsize hw, gsize c, gsize j, float *row)
{
  gsize p0 = j * GAP_CHUNK;

  sum (x + p0 * c, MIN (GAP_CHUNK, hw - p0), c, row);
}

void
mir_gap_band_sums (const float *x, gsize hw, gsize c, gsize p0, gsize p1, float *sums)
{
  GapSumFunc sum = gap_sum_pick ();
  gsize j1 = p1 >= hw ? mir_gap_chunks (hw) : p1 / GAP_CHUNK;

  for (gsize j = (p0 + GAP_CHUNK - 1) / GAP_CHUNK; j < j1; j++)
    chunk_sum (sum, x, hw, c, j, sums + j * c);
}

void
mir_gap_edge_sums (const float *x, gsize hw, gsize c, gsize edge, float *sums)
{
  gsize j = edge / GAP_CHUNK;

  if (edge % GAP_CHUNK != 0 && edge < hw)
    chunk_sum (gap_sum_pick (), x, hw, c, j, sums + j * c);
}

static void
gap_chunks (gint64 begin, gint64 end, gpointer data)
{
  const GapCtx *g = data;

  for (gsize j = (gsize) begin; j < (gsize) end; j++)
    chunk_sum (g->sum, g->x + (j / g->chunks) * g->hw * g->c, g->hw, g->c, j % g->chunks,
               g->sums + j * g->c);
}

static gboolean
gap_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
             const MirRunArgs *args, GError **error)
{
  const MirTensor *x = in[0];
  gsize hw = (gsize) (x->shape[1] * x->shape[2]), c = (gsize) x->shape[3];
  gsize n = (gsize) x->shape[0], chunks = mir_gap_chunks (hw);
  g_autofree double *acc = g_new (double, MAX (c, 1));
  GapCtx g = { x->data, hw, c, chunks, NULL, gap_sum_pick () };

  if (hw == 0 || c == 0)
    {
      memset (out->data, 0, out->numel * sizeof (float));
      return TRUE;
    }
  if (args->in_sums != NULL) /* summed by the block that made x */
    g.sums = (float *) args->in_sums;
  else if ((g.sums = mir_alloc_floats (n * chunks * c, error)) == NULL)
    return FALSE;
  else
    mir_parallel_for ((gint64) (n * chunks), (gint64) MAX (16384 / (GAP_CHUNK * c), 1),
                      gap_chunks, &g);
  for (gsize b = 0; b < n; b++)
    {
      for (gsize k = 0; k < c; k++)
        acc[k] = 0;
      for (gsize j = 0; j < chunks; j++)
        {
          const float *s = g.sums + (b * chunks + j) * c;
          for (gsize k = 0; k < c; k++)
            acc[k] += s[k];
        }
      for (gsize k = 0; k < c; k++)
        out->data[b * c + k] = (float) (acc[k] / (double) hw);
    }
  if (args->in_sums == NULL)
    mir_free_floats (g.sums);
  return TRUE;
}

static gboolean
gap_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
              const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
              const MirRunArgs *args, GError **error)
{
  const MirTensor *x = in[0];
  gsize hw = (gsize) (x->shape[1] * x->shape[2]), c = (gsize) x->shape[3];
  float scale = 1.0f / (float) MAX (hw, 1);

  if (grad_in[0] == NULL)
    return TRUE;
  for (gint64 n = 0; n < x->shape[0]; n++)
    {
      const float *go = grad_out->data + (gsize) n * c;
      float *dxn = grad_in[0]->data + (gsize) n * hw * c;
      for (gsize p = 0; p < hw; p++)
        for (gsize k = 0; k < c; k++)
          dxn[p * c + k] = go[k] * scale;
    }
  return TRUE;
}

const MirLayerClass mir_layer_global_average_pooling2d_class = {
  .name = "GlobalAveragePooling2D",
  .instance_size = sizeof (MirLayerGlobalAveragePooling2D),
  .flags = MIR_LAYER_FLAG_WRITES_ALL,
  .configure = gap_configure,
  .infer = gap_infer,
  .forward = gap_forward,
  .backward = gap_backward,
};
