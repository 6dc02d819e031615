/* mir-fuse-block.c: an inverted-residual block (MobileNetV2, EfficientNet)
 * run as one step in inference (mir-layer-fuse.h).
 *
 * The layers one after the other write the expanded tensor (6x the block's
 * channels) and the depthwise output to memory and read them back, and each
 * is a parallel loop of its own whose threads meet at its end: on
 * MobileNetV2 at batch 1 that is about 50 loops of 10-40 us each.  Here each
 * thread takes a band of output rows of one image and walks it a few rows
 * at a time: the 1x1 expansion of just the input rows those rows need (rows
 * it already expanded for the previous few rows are kept), the depthwise
 * convolution of them, and the 1x1 projection (plus the block's input for
 * a residual Add) straight into the output.  A ZeroPadding2D before the
 * depthwise (keras.applications' stride-2 blocks) becomes part of its
 * padding; a block without expansion (MobileNetV2's first) reads its input
 * rows where they are.  Every kernel is the one the layer itself runs, on
 * the same values in the same order, so the result equals the layers' bit
 * for bit.  Batches of at least as many images as threads give each thread
 * whole images. */
#define G_LOG_DOMAIN "mir-fuse-block"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-layer-fuse.h"
#include "mir-conv-util.h"
#include "mir-depthwise.h"
#include "mir-parallel.h"
#include "mir-vec.h"

/* Expanded floats one step of a band aims at: 64 K floats (256 KiB) stay
 * in L2 with the depthwise rows made from them. */
#define BLOCK_STEP_FLOATS (G_GINT64_CONSTANT (1) << 16)
/* Output pixels a step's projection should have at least (the 1x1 GEMM's
 * micro-kernel takes 8 rows at a time; fewer pixels waste its loads). */
#define BLOCK_STEP_PIXELS 64

static gint64
filters_of (MirLayer *conv)
{
  return conv->weights[0].value->shape[3];
}

/* A kernel's input channels (Conv2D and DepthwiseConv2D: [kh, kw, c, ·]). */
static gint64
channels_of (MirLayer *conv)
{
  return conv->weights[0].value->shape[2];
}

gboolean
mir_block_applies (const MirBlock *b)
{
  const MirTensor *k;

  if (b->dw == NULL || b->dw->klass != &mir_layer_depthwise_conv2d_class || !b->dw->built ||
      b->dw->n_weights < 1 || (k = b->dw->weights[0].value) == NULL || k->ndim != 4 ||
      k->shape[3] != 1 || b->dw->klass->window (b->dw)->explicit_pads ||
      (b->dw->n_weights >= 2 && b->dw->weights[1].value == NULL))
    return FALSE;
  if (b->expand != NULL &&
      (!mir_conv2d_rows_applies (b->expand) || filters_of (b->expand) != k->shape[2]))
    return FALSE;
  if (b->pad != NULL)
    {
      gint64 pads[4];

      if (b->pad->klass != &mir_layer_zero_padding2d_class)
        return FALSE;
      mir_zero_padding2d_pads (b->pad, pads);
      for (guint i = 0; i < 4; i++)
        if (pads[i] < 0 || pads[i] > 64)
          return FALSE;
    }
  /* without an expansion and a projection there is nothing to gain */
  if (b->expand == NULL && b->project == NULL)
    return FALSE;
  return b->project == NULL ||
         (mir_conv2d_is_pointwise (b->project) && channels_of (b->project) == k->shape[2]);
}

gboolean
mir_block_residual_applies (const MirBlock *b)
{
  const MirWindow *win = b->dw->klass->window (b->dw);
  gint64 cin = b->expand ? channels_of (b->expand) : channels_of (b->dw);

  return b->project != NULL && b->pad == NULL && filters_of (b->project) == cin &&
         (b->expand == NULL || mir_conv2d_is_pointwise (b->expand)) &&
         win->sh == 1 && win->sw == 1 && (win->same || (win->kh == 1 && win->kw == 1));
}

gboolean
mir_block_infer (const MirBlock *b, const MirShape *in, MirShape *out, GError **error)
{
  MirLayer *layers[4] = { b->expand, b->pad, b->dw, b->project };
  MirShape cur = *in;

  for (guint i = 0; i < 4; i++)
    {
      MirShape next;

      if (layers[i] == NULL)
        continue;
      if (!layers[i]->klass->infer (layers[i], &cur, 1, &next, error))
        return FALSE;
      cur = next;
    }
  *out = cur;
  return TRUE;
}

typedef struct
{
  MirLayer *expand, *project; /* either may be NULL */
  const float *x, *dk, *db;
  float *y;
  MirActivation dact;
  gboolean residual;
  MirConvGeom g;           /* the depthwise over the expanded batch (a ZeroPadding2D
                            * before it as its padding) */
  gint64 cin, co;          /* the block's input and output channels */
  gint64 xh, xw;           /* the block's input size (the expansion's, which may stride) */
  gint64 parts, band;      /* items an image; output rows a step */
  float *gap_sums;         /* or NULL: each whole image's GlobalAveragePooling2D sums */
  gsize e_floats, d_floats; /* a thread's scratch */
  gint failed;             /* atomic */
  GError *error;           /* atomic: the first */
} BlockCtx;

/* Each thread's expanded rows and depthwise output (not the kernels' own
 * scratch: those run inside a block's items). */
static GPrivate scratch_key = G_PRIVATE_INIT (mir_thread_scratch_free);

static void
block_fail (BlockCtx *c, GError *error)
{
  g_atomic_int_set (&c->failed, 1);
  if (!g_atomic_pointer_compare_and_exchange (&c->error, NULL, error))
    g_error_free (error);
}

/* Output rows [oy0, oy1) of image @n, @band rows a step. */
static gboolean
block_rows (BlockCtx *c, gint64 n, gint64 oy0, gint64 oy1, float *e, float *d, GError **error)
{
  const MirConvGeom *g = &c->g;
  gsize erow = (gsize) (g->w * g->c);
  const float *xn = c->x + (gsize) n * (gsize) (c->xh * c->xw * c->cin);
  float *yn = c->y + (gsize) n * (gsize) (g->oh * g->ow * (c->project ? c->co : g->c));
  gint64 have_lo = 0, have_hi = 0; /* expanded input rows in e */

  for (gint64 b0 = oy0; b0 < oy1; b0 += c->band)
    {
      gint64 b1 = MIN (b0 + c->band, oy1), lo, hi, from;
      MirConvGeom bg; /* the depthwise over the expanded rows it reads */
      float *dout;

      lo = from = mir_conv_geom_band (g, b0, b1, &bg);
      hi = lo + bg.h;
      if (c->expand == NULL) /* the depthwise reads the block's input */
        e = (float *) xn + (gsize) lo * erow;
      /* rows the last step expanded: moved to the front */
      else if (have_hi > lo && have_lo <= lo)
        {
          from = MIN (have_hi, hi);
          if (lo > have_lo && from > lo)
            memmove (e, e + (gsize) (lo - have_lo) * erow,
                     (gsize) (from - lo) * erow * sizeof (float));
        }
      if (c->expand != NULL && hi > from &&
          !mir_conv2d_rows (c->expand, xn, c->xh, c->xw, from, hi, e + (gsize) (from - lo) * erow,
                            error))
        return FALSE;
      have_lo = lo;
      have_hi = hi;

      dout = c->project ? d : yn + (gsize) (b0 * g->ow * g->c);
      mir_depthwise_forward_fast (&bg, e, c->dk, c->db, c->dact, dout);

      if (c->project != NULL)
        {
          gint64 pixels = (b1 - b0) * g->ow;
          float *yb = yn + (gsize) (b0 * g->ow * c->co);

          if (!mir_conv2d_pointwise_rows (c->project, d, pixels, yb, error))
            return FALSE;
          if (c->residual) /* y = project + x, as Add (x, project) adds */
            mir_vec_add (yb, xn + (gsize) (b0 * c->xw * c->cin), (gsize) (pixels * c->co));
        }
    }
  return TRUE;
}

static void
block_items (gint64 begin, gint64 end, gpointer data)
{
  BlockCtx *c = data;
  GError *error = NULL;
  float *e;

  if (g_atomic_int_get (&c->failed))
    return;
  e = mir_thread_scratch (&scratch_key, c->e_floats + c->d_floats, &error);
  if (e == NULL)
    {
      block_fail (c, error);
      return;
    }
  for (gint64 it = begin; it < end; it++)
    {
      gint64 n = it / c->parts, p = it % c->parts;
      gint64 oy0 = c->g.oh * p / c->parts, oy1 = c->g.oh * (p + 1) / c->parts;

      if (!block_rows (c, n, oy0, oy1, e, e + c->e_floats, &error))
        {
          block_fail (c, error);
          return;
        }
      if (c->gap_sums != NULL) /* the band just written, its chunks within it */
        {
          gsize hw = (gsize) (c->g.oh * c->g.ow), co = (gsize) (c->project ? c->co : c->g.c);

          mir_gap_band_sums (c->y + (gsize) n * hw * co, hw, co, (gsize) (oy0 * c->g.ow),
                             (gsize) (oy1 * c->g.ow),
                             c->gap_sums + (gsize) n * mir_gap_chunks (hw) * co);
        }
    }
}

gboolean
mir_block_run (const MirBlock *b, MirTensor *x, MirTensor *out, GError **error)
{
  BlockCtx c = { 0 };
  MirConvGeom *g = &c.g;
  guint threads = mir_parallel_threads ();
  const MirWindow *win;
  gint64 rows_step, e_rows, eh, ew, pad, pads[4] = { 0, 0, 0, 0 };

  g_return_val_if_fail (mir_block_applies (b), FALSE);
  g_return_val_if_fail (x->ndim == 4 && out->ndim == 4, FALSE);
  c.expand = b->expand;
  c.project = b->project;
  c.x = x->data;
  c.y = out->data;
  c.dk = b->dw->weights[0].value->data;
  c.db = b->dw->n_weights >= 2 ? b->dw->weights[1].value->data : NULL;
  c.dact = b->dw->activation;
  c.cin = x->shape[3];
  c.co = out->shape[3];
  c.xh = eh = x->shape[1];
  c.xw = ew = x->shape[2];
  if (b->expand != NULL) /* the expanded size (a stem may stride) */
    {
      const MirWindow *ewin = b->expand->klass->window (b->expand);

      mir_window_axis (c.xh, ewin->kh, ewin->sh, ewin->dh, ewin->same, &eh, &pad);
      mir_window_axis (c.xw, ewin->kw, ewin->sw, ewin->dw, ewin->same, &ew, &pad);
    }
  if (b->pad != NULL)
    mir_zero_padding2d_pads (b->pad, pads);
  /* the depthwise over the expanded batch; a ZeroPadding2D before it adds
   * to its padding (rows and columns outside the input read as zeros) */
  win = b->dw->klass->window (b->dw);
  mir_conv_geom_init_shape (g, win, x->shape[0], eh + pads[0] + pads[1], ew + pads[2] + pads[3],
                            channels_of (b->dw));
  g->h = eh;
  g->w = ew;
  g->pad_top += pads[0];
  g->pad_left += pads[2];
  if (g->oh != out->shape[1] || g->ow != out->shape[2] ||
      c.cin != (b->expand ? channels_of (b->expand) : g->c) ||
      (b->residual && (out->shape[1] != x->shape[1] || out->shape[2] != x->shape[2] ||
                       c.co != c.cin || !mir_block_residual_applies (b))))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("The block's output does not have the shape its layers give"));
      return FALSE;
    }
  c.residual = b->residual;

  /* each thread a band of one image's rows at batch 1, whole images when
   * the batch has enough of them; one thread (or a run inside another
   * parallel loop) walks the images in turn, and so does an image too small
   * to split (its kernels then split their own work) */
  c.parts = x->shape[0] >= threads ? 1 : (threads + x->shape[0] - 1) / x->shape[0];
  if (g->oh < 2 * c.parts)
    c.parts = 1;
  /* output rows a step: enough pixels for the projection, expanded rows
   * within BLOCK_STEP_FLOATS */
  c.band = MAX (1, (BLOCK_STEP_PIXELS + g->ow - 1) / g->ow);
  rows_step = (BLOCK_STEP_FLOATS / MAX (g->w * g->c, 1) - (g->kh - 1) * g->dh - 1) / g->sh + 1;
  c.band = CLAMP (MIN (c.band * 4, rows_step), c.band, g->oh);
  if (c.parts > 1 && c.band >= g->oh && b->expand != NULL && b->project == NULL &&
      g_getenv ("MIRADA_BLOCK_HALO") == NULL)
    {
      /* The bands' expanded rows overlap by the depthwise window: at 7 x 7
       * with a 5 x 5 window two bands expand 5 + 6 of the 7 rows.  Where
       * the overlap passes an eighth of the image and the image is one
       * step, one band whose kernels split their own work (rows of the 1x1
       * GEMM, rows of the depthwise) computes less; over several steps
       * their loops would meet too often.  Only without a projection
       * (EfficientNet's blocks, 1152 channels at 7 x 7): MobileNetV2
       * 0.35's small blocks with one took 3 times as long that way (the
       * projection and the Add two more loops, each of a few
       * microseconds' work).  MIRADA_BLOCK_HALO set keeps the bands (to
       * compare). */
      gint64 expanded = 0;

      for (gint64 p = 0; p < c.parts; p++)
        {
          MirConvGeom bg;

          mir_conv_geom_band (g, g->oh * p / c.parts, g->oh * (p + 1) / c.parts, &bg);
          expanded += bg.h;
        }
      if (8 * (expanded - g->h) > g->h)
        c.parts = 1;
    }

  e_rows = MIN ((c.band - 1) * g->sh + (g->kh - 1) * g->dh + 1, g->h);
  c.e_floats = b->expand ? (gsize) (e_rows * g->w * g->c + 16) / 16 * 16 : 0;
  c.d_floats = b->project ? (gsize) (c.band * g->ow * g->c) : 0;
  if (b->gap_sums != NULL)
    c.gap_sums = mir_alloc_floats ((gsize) x->shape[0] *
                                     mir_gap_chunks ((gsize) (g->oh * g->ow)) *
                                     (gsize) (b->project ? c.co : g->c),
                                   NULL); /* NULL: the layer sums them itself */
  mir_parallel_for (x->shape[0] * c.parts, 1, block_items, &c);
  if (c.error != NULL)
    {
      mir_free_floats (c.gap_sums);
      g_propagate_error (error, c.error);
      return FALSE;
    }
  /* the chunks across the bands' edges, once both sides are written */
  if (c.gap_sums != NULL && c.parts > 1)
    {
      gsize hw = (gsize) (g->oh * g->ow), co = (gsize) (b->project ? c.co : g->c);

      for (gint64 n = 0; n < x->shape[0]; n++)
        for (gint64 p = 1; p < c.parts; p++)
          mir_gap_edge_sums (c.y + (gsize) n * hw * co, hw, co,
                             (gsize) (g->oh * p / c.parts * g->ow),
                             c.gap_sums + (gsize) n * mir_gap_chunks (hw) * co);
    }
  if (b->gap_sums != NULL)
    *b->gap_sums = c.gap_sums;
  return TRUE;
}
