/* SeparableConv2D: a depthwise convolution (no bias) followed by a pointwise
 * 1x1 convolution done as one GEMM, then bias and activation.  Weights in
 * Keras order: depthwise_kernel [kh, kw, in, mult], pointwise_kernel
 * [1, 1, in * mult, filters], bias [filters]. */
#define G_LOG_DOMAIN "mir-layer-separable-conv2d"

#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"
#include "mir-conv-util.h"
#include "mir-depthwise.h"
#include "mir-gemm.h"

typedef struct
{
  MirLayer parent;
  MirWindow win;
  gint64 mult;
  gint64 filters;
  gboolean use_bias;
} MirLayerSeparableConv2D;

static gboolean
separable_configure (MirLayer *layer, JsonObject *config, GError **error)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;

  if (!mir_config_get_int (config, "filters", 0, &self->filters, error) ||
      !mir_config_get_conv_window (config, &self->win, error) ||
      !mir_config_get_int (config, "depth_multiplier", 1, &self->mult, error) ||
      !mir_config_get_bool (config, "use_bias", TRUE, &self->use_bias, error) ||
      !mir_config_get_activation (layer, config, error))
    return FALSE;
  if (self->filters < 1 || self->filters > (1 << 20))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'filters' must be between 1 and %d, but is %" PRId64),
                   1 << 20, self->filters);
      return FALSE;
    }
  if (self->mult < 1 || self->mult > 65536)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'depth_multiplier' must be between 1 and 65536, but is %" PRId64),
                   self->mult);
      return FALSE;
    }
  return TRUE;
}

static gboolean
separable_infer (MirLayer *layer, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;

  return mir_conv_infer (layer, &self->win, in, self->filters, 1, TRUE, out, error);
}

static gboolean
separable_build (MirLayer *layer, const MirShape *in, guint n_in, GError **error)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;
  gint64 dshape[4] = { self->win.kh, self->win.kw, in->dim[3], self->mult };
  gint64 pshape[4] = { 1, 1, in->dim[3] * self->mult, self->filters };

  if (in->dim[3] < 1)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the number of input channels must be known, but the input shape is %s"), s);
      return FALSE;
    }
  if (pshape[2] > MIR_GEMM_MAX_DIM)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("%" PRId64 " intermediate channels are more than Mirada accepts"),
                   pshape[2]);
      return FALSE;
    }
  mir_layer_add_weight (layer, "depthwise_kernel", 4, dshape, TRUE, MIR_INIT_GLOROT_UNIFORM);
  mir_layer_add_weight (layer, "pointwise_kernel", 4, pshape, TRUE, MIR_INIT_GLOROT_UNIFORM);
  if (self->use_bias)
    mir_layer_add_weight (layer, "bias", 1, &self->filters, TRUE, MIR_INIT_ZEROS);
  return TRUE;
}

/* The depthwise stage: a new buffer of n * oh * ow * (c * mult) floats. */
static float *
depthwise_stage (MirLayerSeparableConv2D *self, const MirTensor *x, MirConvGeom *g,
                 GError **error)
{
  gsize n;
  float *t;

  mir_conv_geom_init (g, &self->win, x);
  n = (gsize) (g->n * g->oh * g->ow) * (gsize) (g->c * self->mult);
  if ((t = mir_alloc_floats (n, error)) == NULL)
    return NULL;
  mir_depthwise_forward (g, self->mult, x->data, self->parent.weights[0].value->data, NULL, t);
  return t;
}

static gboolean
separable_linear (MirLayer *layer, MirTensor *const *in, const MirTensor *out, float *z,
                  GError **error)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;
  gint64 cm, rows, f = self->filters;
  MirConvGeom g;
  float *t = depthwise_stage (self, in[0], &g, error);

  if (t == NULL)
    return FALSE;
  cm = g.c * self->mult;
  rows = g.n * g.oh * g.ow;
  mir_gemm (FALSE, FALSE, rows, f, cm, 1.0f, t, cm, layer->weights[1].value->data, f, 0.0f, z, f);
  if (self->use_bias)
    mir_add_bias_rows (z, layer->weights[2].value->data, rows, f);
  mir_free_floats (t);
  return TRUE;
}

static gboolean
separable_forward (MirLayer *layer, MirTensor *const *in, guint n_in, MirTensor *out,
                   const MirRunArgs *args, GError **error)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;

  if (!separable_linear (layer, in, out, out->data, error))
    return FALSE;
  return mir_act_forward (layer, out, (gsize) self->filters, args, error);
}

static gboolean
separable_backward (MirLayer *layer, MirTensor *const *in, guint n_in, const MirTensor *out,
                    const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                    const MirRunArgs *args, GError **error)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;
  gint64 cm, rows, f = self->filters;
  float *dz_buf = NULL, *t = NULL, *dt = NULL;
  const float *dz;
  gboolean ok = FALSE;
  MirConvGeom g;

  if (!mir_act_backward (layer, in, out, grad_out, (gsize) f, args, separable_linear, &dz_buf,
                         error))
    return FALSE;
  dz = dz_buf ? dz_buf : grad_out->data;
  if ((t = depthwise_stage (self, in[0], &g, error)) == NULL)
    goto out;
  cm = g.c * self->mult;
  rows = g.n * g.oh * g.ow;

  if (self->use_bias && grad_w[2] != NULL)
    mir_sum_rows (dz, rows, f, grad_w[2]->data);
  if (grad_w[1] != NULL) /* dP = T^T dz */
    mir_gemm (TRUE, FALSE, cm, f, rows, 1.0f, t, cm, dz, f, 0.0f, grad_w[1]->data, f);
  if (grad_in[0] != NULL || grad_w[0] != NULL)
    {
      /* dT = dz P^T, then back through the depthwise stage */
      if ((dt = mir_alloc_floats ((gsize) rows * (gsize) cm, error)) == NULL)
        goto out;
      mir_gemm (FALSE, TRUE, rows, cm, f, 1.0f, dz, f, layer->weights[1].value->data, f, 0.0f,
                dt, cm);
      mir_depthwise_backward (&g, self->mult, in[0]->data, layer->weights[0].value->data, dt,
                              grad_in[0] ? grad_in[0]->data : NULL,
                              grad_w[0] ? grad_w[0]->data : NULL);
    }
  ok = TRUE;
out:
  mir_free_floats (dt);
  mir_free_floats (t);
  mir_free_floats (dz_buf);
  return ok;
}

static gint64
separable_flops (MirLayer *layer, const MirShape *in, guint n_in, const MirShape *out)
{
  MirLayerSeparableConv2D *self = (MirLayerSeparableConv2D *) layer;
  gint64 cm = in->dim[3] * self->mult;

  if (out->dim[1] < 0 || out->dim[2] < 0 || in->dim[3] < 0)
    return -1; /* free spatial size: unknown */
  return 2 * out->dim[1] * out->dim[2] * cm * (self->win.kh * self->win.kw + self->filters);
}

static const MirWindow *
separable_window (MirLayer *layer)
{
  return &((MirLayerSeparableConv2D *) layer)->win;
}

const MirLayerClass mir_layer_separable_conv2d_class = {
  .name = "SeparableConv2D",
  .instance_size = sizeof (MirLayerSeparableConv2D),
  .flags = MIR_LAYER_FLAG_CONV | MIR_LAYER_FLAG_WRITES_ALL,
  .configure = separable_configure,
  .infer = separable_infer,
  .build = separable_build,
  .forward = separable_forward,
  .backward = separable_backward,
  .flops = separable_flops,
  .window = separable_window,
};
