/* One unit explained: receptive field and the value recomputed by hand
 * (issue 19).  See mir-unit.h. */
#define G_LOG_DOMAIN "mir-unit"

#include <math.h>
#include <inttypes.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-unit.h"
#include "kernels/mir-conv-util.h"
#include "layers/mir-layers.h"

static MirTensor *
node_tensor (MirTrace *trace, guint node, GError **error)
{
  MirTensor *t = mir_trace_get (trace, node);
  MirModel *model = mir_trace_get_model (trace);

  if (t == NULL)
    g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                 _("The output of layer '%s' was not kept; run the model with every output kept"),
                 mir_model_get_node (model, node)->name);
  return t;
}

/* Maps the rectangle @r of @node's output back to the model's input.
 * @clip: clip to each input's extent on the way (the exact field). */
static gboolean
field_of (MirTrace *trace, guint node, MirRect r, gboolean clip, MirRect *out, int depth,
          GError **error)
{
  MirModel *model = mir_trace_get_model (trace);
  MirNode *n = mir_model_get_node (model, node);
  const MirLayerClass *k = n->layer->klass;
  MirTensor *y, *x;
  MirRect in_r, acc = { G_MAXINT64, G_MAXINT64, G_MININT64, G_MININT64 };

  if (depth > 100000)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT, _("The model is too deep to trace back"));
      return FALSE;
    }
  if ((k->flags & MIR_LAYER_FLAG_INPUT) || n->n_inputs == 0)
    {
      *out = r;
      return TRUE;
    }
  if (!(y = node_tensor (trace, node, error)))
    return FALSE;
  for (guint i = 0; i < n->n_inputs; i++)
    {
      MirRect got;

      if (!(x = node_tensor (trace, n->inputs[i], error)))
        return FALSE;
      if (x->ndim != 4)
        {
          /* before the spatial part (a Reshape to images, say): everything */
          in_r = (MirRect) { 0, 0, 1, 1 };
        }
      else if (y->ndim == 4 && k->window != NULL)
        {
          const MirWindow *w = k->window (n->layer);
          MirConvGeom g;
          gint64 pt, pl;

          /* the padding as the layer computes it: TF "same"/"valid" or ONNX pads */
          mir_conv_geom_init (&g, w, x);
          pt = g.pad_top;
          pl = g.pad_left;

          in_r.y0 = r.y0 * w->sh - pt;
          in_r.y1 = (r.y1 - 1) * w->sh - pt + (w->kh - 1) * w->dh + 1;
          in_r.x0 = r.x0 * w->sw - pl;
          in_r.x1 = (r.x1 - 1) * w->sw - pl + (w->kw - 1) * w->dw + 1;
        }
      else if (y->ndim == 4 && y->shape[1] == x->shape[1] && y->shape[2] == x->shape[2])
        in_r = r; /* point-wise, merges, concatenation: the same positions */
      else
        in_r = (MirRect) { 0, 0, x->shape[1], x->shape[2] }; /* Flatten, Dense, GAP, resizing */
      if (clip && x->ndim == 4)
        {
          in_r.y0 = CLAMP (in_r.y0, 0, x->shape[1]);
          in_r.y1 = CLAMP (in_r.y1, 0, x->shape[1]);
          in_r.x0 = CLAMP (in_r.x0, 0, x->shape[2]);
          in_r.x1 = CLAMP (in_r.x1, 0, x->shape[2]);
        }
      if (!field_of (trace, n->inputs[i], in_r, clip, &got, depth + 1, error))
        return FALSE;
      acc.y0 = MIN (acc.y0, got.y0);
      acc.x0 = MIN (acc.x0, got.x0);
      acc.y1 = MAX (acc.y1, got.y1);
      acc.x1 = MAX (acc.x1, got.x1);
    }
  *out = acc;
  return TRUE;
}

static gboolean
check_unit (MirTrace *trace, guint node, gint64 y, gint64 x, gint64 c, MirTensor **out,
            GError **error)
{
  MirModel *model = mir_trace_get_model (trace);
  MirTensor *t;

  if (node >= mir_model_get_n_nodes (model))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("There is no layer %u"), node);
      return FALSE;
    }
  if (!(t = node_tensor (trace, node, error)))
    return FALSE;
  if (t->ndim == 4 ? (y < 0 || y >= t->shape[1] || x < 0 || x >= t->shape[2] ||
                      c < -1 || c >= t->shape[3])
                   : (t->ndim != 2 || c < -1 || c >= t->shape[1]))
    {
      g_autofree char *s = mir_tensor_shape_string (t);
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unit (%" PRId64 ", %" PRId64 ", %" PRId64 ") is outside the output of "
                     "layer '%s', of shape %s"),
                   y, x, c, mir_model_get_node (model, node)->name, s);
      return FALSE;
    }
  *out = t;
  return TRUE;
}

gboolean
mir_unit_receptive_field (MirTrace *trace, guint node, gint64 y, gint64 x, MirRect *field,
                          MirRect *padded, GError **error)
{
  MirTensor *t;
  MirRect r;

  g_return_val_if_fail (trace != NULL && field != NULL, FALSE);
  if (!check_unit (trace, node, y, x, -1, &t, error))
    return FALSE;
  r = t->ndim == 4 ? (MirRect) { y, x, y + 1, x + 1 } : (MirRect) { 0, 0, 1, 1 };
  if (!field_of (trace, node, r, TRUE, field, 0, error))
    return FALSE;
  if (padded != NULL && !field_of (trace, node, r, FALSE, padded, 0, error))
    return FALSE;
  return TRUE;
}

void
mir_unit_value_clear (MirUnitValue *v)
{
  g_clear_pointer (&v->kind, g_free);
  g_clear_pointer (&v->patch, g_free);
  g_clear_pointer (&v->kernel, g_free);
  g_clear_pointer (&v->activation, g_free);
  memset (v, 0, sizeof *v);
}

/* The pre-activation of output channel @c at (@y, @x), filling the patch
 * and kernel of @v when @fill. */
/* SeparableConv2D's kernel for output channel @c, folded into one kh × kw × C
 * kernel: K[i, j, ci] = Σ_m depthwise[i, j, ci, m] · pointwise[ci·mult + m, c]
 * (no activation between the two, so the unit is linear in the patch). */
static float *
separable_kernel (MirLayer *layer, gint64 kh, gint64 kw, gint64 C, gint64 filters, gint64 c)
{
  MirTensor *dk = mir_layer_get_weight (layer, "depthwise_kernel");
  MirTensor *pk = mir_layer_get_weight (layer, "pointwise_kernel");
  gint64 mult = dk->shape[3];
  float *k = g_new (float, kh * kw * C);

  for (gint64 ij = 0; ij < kh * kw; ij++)
    for (gint64 ci = 0; ci < C; ci++)
      {
        double acc = 0;

        for (gint64 m = 0; m < mult; m++)
          acc += (double) dk->data[(ij * C + ci) * mult + m] * pk->data[(ci * mult + m) * filters + c];
        k[ij * C + ci] = (float) acc;
      }
  return k;
}

static double
conv_pre (MirLayer *layer, const MirWindow *w, const MirTensor *in, const MirTensor *outt,
          gboolean depthwise, gint64 mult, gint64 y, gint64 x, gint64 c, MirUnitValue *v,
          gboolean fill)
{
  gboolean separable = layer->klass == &mir_layer_separable_conv2d_class;
  MirTensor *kernel = mir_layer_get_weight (layer, depthwise ? "depthwise_kernel" : "kernel");
  MirTensor *bias = mir_layer_get_weight (layer, "bias");
  g_autofree float *folded = separable ? separable_kernel (layer, w->kh, w->kw, in->shape[3],
                                                           outt->shape[3], c) : NULL;
  const gint64 H = in->shape[1], W = in->shape[2], C = in->shape[3];
  MirConvGeom g;
  gint64 pt, pl;
  gint64 cin = depthwise ? 1 : C, c_first = depthwise ? c / mult : 0;
  double sum = 0;

  mir_conv_geom_init (&g, w, in);
  pt = g.pad_top;
  pl = g.pad_left;
  for (gint64 i = 0; i < w->kh; i++)
    for (gint64 j = 0; j < w->kw; j++)
      for (gint64 q = 0; q < cin; q++)
        {
          gint64 yy = y * w->sh - pt + i * w->dh, xx = x * w->sw - pl + j * w->dw;
          gint64 ci = c_first + q;
          float xv = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? in->data[(yy * W + xx) * C + ci] : 0;
          /* Keras: kernel [kh, kw, cin, filters]; depthwise [kh, kw, cin, mult] */
          float kv = separable ? folded[(i * w->kw + j) * C + ci]
                     : depthwise ? kernel->data[((i * w->kw + j) * C + ci) * mult + c % mult]
                                 : kernel->data[((i * w->kw + j) * C + ci) * outt->shape[3] + c];
          gsize at = (gsize) ((i * w->kw + j) * cin + q);

          sum += (double) xv * kv;
          if (fill)
            {
              v->patch[at] = xv;
              v->kernel[at] = kv;
            }
        }
  if (fill)
    {
      v->kh = w->kh;
      v->kw = w->kw;
      v->cin = cin;
      v->n_terms = w->kh * w->kw * cin;
      v->sum = sum;
      v->bias = bias != NULL ? bias->data[c] : 0;
    }
  return sum + (bias != NULL ? bias->data[c] : 0);
}

static double
dense_pre (MirLayer *layer, const MirTensor *in, gint64 c, gint64 units, MirUnitValue *v,
           gboolean fill)
{
  MirTensor *kernel = mir_layer_get_weight (layer, "kernel");
  MirTensor *bias = mir_layer_get_weight (layer, "bias");
  gint64 n = in->shape[in->ndim - 1];
  double sum = 0;

  for (gint64 i = 0; i < n; i++)
    sum += (double) in->data[i] * kernel->data[i * units + c];
  if (fill)
    {
      v->n_terms = n;
      v->cin = n;
      v->sum = sum;
      v->bias = bias != NULL ? bias->data[c] : 0;
    }
  return sum + (bias != NULL ? bias->data[c] : 0);
}

gboolean
mir_unit_compute (MirTrace *trace, guint node, gint64 y, gint64 x, gint64 c, MirUnitValue *out,
                  GError **error)
{
  MirModel *model = mir_trace_get_model (trace);
  MirNode *n;
  const MirLayerClass *k;
  MirTensor *yt, *in;
  gboolean conv, separable, depthwise, dense, maxp, avgp;
  gint64 channels;
  double *pre_all = NULL;

  g_return_val_if_fail (trace != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  if (c < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The unit's channel must be given"));
      return FALSE;
    }
  if (!check_unit (trace, node, y, x, c, &yt, error))
    return FALSE;
  n = mir_model_get_node (model, node);
  k = n->layer->klass;
  separable = k == &mir_layer_separable_conv2d_class;
  conv = k == &mir_layer_conv2d_class || separable;
  depthwise = k == &mir_layer_depthwise_conv2d_class;
  dense = k == &mir_layer_dense_class;
  maxp = k == &mir_layer_max_pooling2d_class;
  avgp = k == &mir_layer_average_pooling2d_class;
  if (!(conv || depthwise || dense || maxp || avgp) || n->n_inputs != 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Layer '%s' is a %s; a unit can be recomputed for Conv2D, DepthwiseConv2D, "
                     "SeparableConv2D, Dense, MaxPooling2D and AveragePooling2D layers"),
                   n->name, k->name);
      return FALSE;
    }
  if (!(in = node_tensor (trace, n->inputs[0], error)))
    return FALSE;
  if (dense && yt->ndim != 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Layer '%s' is a Dense layer over a map; a unit can be recomputed for a "
                     "Dense layer over a vector"), n->name);
      return FALSE;
    }
  channels = yt->shape[yt->ndim - 1];
  out->activation = g_strdup (mir_activation_get_name (n->layer->activation));
  out->engine = yt->ndim == 4 ? yt->data[(y * yt->shape[2] + x) * channels + c] : yt->data[c];

  if (maxp || avgp)
    {
      const MirWindow *w = k->window (n->layer);
      const gint64 H = in->shape[1], W = in->shape[2], C = in->shape[3];
      MirConvGeom g;
      gint64 pt, pl;
      double acc = maxp ? -INFINITY : 0;
      gint64 cells = 0;

      mir_conv_geom_init (&g, w, in);
      pt = g.pad_top;
      pl = g.pad_left;
      out->kind = g_strdup (maxp ? "max-pool" : "average-pool");
      out->kh = w->kh;
      out->kw = w->kw;
      out->cin = 1;
      out->patch = g_new0 (float, w->kh * w->kw);
      for (gint64 i = 0; i < w->kh; i++)
        for (gint64 j = 0; j < w->kw; j++)
          {
            gint64 yy = y * w->sh - pt + i, xx = x * w->sw - pl + j;

            if (yy < 0 || yy >= H || xx < 0 || xx >= W)
              continue; /* Keras leaves padding out of both */
            out->patch[i * w->kw + j] = in->data[(yy * W + xx) * C + c];
            acc = maxp ? MAX (acc, in->data[(yy * W + xx) * C + c]) : acc + in->data[(yy * W + xx) * C + c];
            cells++;
          }
      out->n_terms = cells;
      /* the divisor the layer uses (ONNX count_include_pad counts padding) */
      out->sum = avgp ? acc / mir_pool_divisor (&g, y, x) : acc;
      out->pre = out->value = out->sum;
      return TRUE;
    }

  out->kind = g_strdup (separable ? "separable" : conv ? "conv" : depthwise ? "depthwise" : "dense");
  if (conv || depthwise)
    {
      const MirWindow *w = k->window (n->layer);
      gint64 mult = depthwise ? channels / in->shape[3] : 1;
      gint64 cin = depthwise ? 1 : in->shape[3];

      if (mir_layer_get_weight (n->layer, depthwise || separable ? "depthwise_kernel" : "kernel") == NULL ||
          (separable && mir_layer_get_weight (n->layer, "pointwise_kernel") == NULL))
        goto no_weights;
      if (conv && !separable && mir_layer_get_weight (n->layer, "kernel")->shape[2] != in->shape[3])
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Layer '%s' is a grouped convolution; its units cannot be recomputed "
                         "yet"), n->name);
          return FALSE;
        }
      out->patch = g_new0 (float, w->kh * w->kw * cin);
      out->kernel = g_new0 (float, w->kh * w->kw * cin);
      out->pre = conv_pre (n->layer, w, in, yt, depthwise, mult, y, x, c, out, TRUE);
      if (n->layer->activation == MIR_ACT_SOFTMAX)
        {
          pre_all = g_new (double, channels);
          for (gint64 q = 0; q < channels; q++)
            pre_all[q] = conv_pre (n->layer, w, in, yt, depthwise, mult, y, x, q, NULL, FALSE);
        }
    }
  else
    {
      if (mir_layer_get_weight (n->layer, "kernel") == NULL)
        goto no_weights;
      out->pre = dense_pre (n->layer, in, c, channels, out, TRUE);
      if (n->layer->activation == MIR_ACT_SOFTMAX)
        {
          pre_all = g_new (double, channels);
          for (gint64 q = 0; q < channels; q++)
            pre_all[q] = dense_pre (n->layer, in, q, channels, NULL, FALSE);
        }
    }

  if (pre_all != NULL)
    {
      double m = -INFINITY, z = 0;

      for (gint64 q = 0; q < channels; q++)
        m = MAX (m, pre_all[q]);
      for (gint64 q = 0; q < channels; q++)
        z += exp (pre_all[q] - m);
      out->value = exp (out->pre - m) / z;
      g_free (pre_all);
    }
  else
    {
      float p = (float) out->pre, v;

      mir_activation_forward (n->layer->activation, &p, &v, 1, 1);
      out->value = v;
    }
  return TRUE;

no_weights:
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Layer '%s' has no weights"), n->name);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* "same" against "valid" */

static void
padding_axis (gint64 in, gint64 k, gint64 s, gint64 d, gint64 *same, gint64 *valid,
              gint64 *pad_before, gint64 *pad_after, gint64 *cover)
{
  gint64 eff = (k - 1) * d + 1, total;

  *same = (in + s - 1) / s;
  total = MAX ((*same - 1) * s + eff - in, 0);
  *pad_before = total / 2;
  *pad_after = total - total / 2;
  *valid = in >= eff ? (in - eff) / s + 1 : 0;
  /* the last valid window ends at (valid − 1)·s + eff; stride can leave rows out */
  *cover = *valid > 0 ? (*valid - 1) * s + eff : 0;
}

/* The positions [lo, hi) of an axis of @out positions whose window, starting
 * at p·s − pad, lies inside [0, in). */
static void
inside_positions (gint64 in, gint64 eff, gint64 s, gint64 pad, gint64 out, gint64 *lo, gint64 *hi)
{
  *lo = (pad + s - 1) / s;
  *hi = in + pad - eff >= 0 ? (in + pad - eff) / s + 1 : 0;
  *lo = MIN (*lo, out);
  *hi = CLAMP (*hi, *lo, out);
}

void
mir_window_padding_sizes (const MirWindow *win, gint64 in_h, gint64 in_w, MirPaddingSizes *out)
{
  MirConvGeom g;
  MirTensor shape = { 0 };
  gint64 cover_h, cover_w;

  g_return_if_fail (win != NULL && out != NULL);
  memset (out, 0, sizeof *out);
  out->in_h = in_h;
  out->in_w = in_w;
  out->kh = win->kh;
  out->kw = win->kw;
  out->sh = win->sh;
  out->sw = win->sw;
  out->dh = win->dh;
  out->dw = win->dw;
  padding_axis (in_h, win->kh, win->sh, win->dh, &out->same_h, &out->valid_h, &out->pad_top,
                &out->pad_bottom, &cover_h);
  padding_axis (in_w, win->kw, win->sw, win->dw, &out->same_w, &out->valid_w, &out->pad_left,
                &out->pad_right, &cover_w);
  out->valid_cover = (MirRect) { 0, 0, cover_h, cover_w };
  out->model = win->explicit_pads ? "explicit" : win->same ? "same" : "valid";
  /* the layer's own map: the same rule the layer runs */
  shape.ndim = 4;
  shape.shape[0] = 1;
  shape.shape[1] = in_h;
  shape.shape[2] = in_w;
  shape.shape[3] = 1;
  mir_conv_geom_init (&g, win, &shape);
  out->out_h = g.oh;
  out->out_w = g.ow;
  inside_positions (in_h, (win->kh - 1) * win->dh + 1, win->sh, g.pad_top, g.oh,
                    &out->valid_units.y0, &out->valid_units.y1);
  inside_positions (in_w, (win->kw - 1) * win->dw + 1, win->sw, g.pad_left, g.ow,
                    &out->valid_units.x0, &out->valid_units.x1);
}

gboolean
mir_unit_padding (MirTrace *trace, guint node, MirPaddingSizes *out, MirRect *valid_field,
                  MirRect *same_reach, GError **error)
{
  MirModel *model = mir_trace_get_model (trace);
  MirNode *n;
  MirTensor *in;

  g_return_val_if_fail (trace != NULL && out != NULL, FALSE);
  if (node >= mir_model_get_n_nodes (model))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("There is no layer %u"), node);
      return FALSE;
    }
  n = mir_model_get_node (model, node);
  if (n->layer->klass->window == NULL || n->n_inputs != 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Layer '%s' is a %s: it slides no window, so padding does not apply"),
                   n->name, n->layer->klass->name);
      return FALSE;
    }
  if (!(in = node_tensor (trace, n->inputs[0], error)))
    return FALSE;
  if (in->ndim != 4)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Layer '%s' is a %s: it slides no window, so padding does not apply"),
                   n->name, n->layer->klass->name);
      return FALSE;
    }
  mir_window_padding_sizes (n->layer->klass->window (n->layer), in->shape[1], in->shape[2], out);
  if (valid_field != NULL)
    {
      if (out->valid_cover.y1 > 0 && out->valid_cover.x1 > 0)
        {
          if (!field_of (trace, n->inputs[0], out->valid_cover, TRUE, valid_field, 0, error))
            return FALSE;
        }
      else
        *valid_field = (MirRect) { 0, 0, 0, 0 };
    }
  if (same_reach != NULL)
    {
      MirRect r = { -out->pad_top, -out->pad_left, out->in_h + out->pad_bottom,
                    out->in_w + out->pad_right };

      if (!field_of (trace, n->inputs[0], r, FALSE, same_reach, 0, error))
        return FALSE;
    }
  return TRUE;
}
