#define G_LOG_DOMAIN "mir-conv-util"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-conv-util.h"

gboolean
mir_config_get_size_pair (JsonObject *config, const char *key, const gint64 *def, gint64 *out,
                          GError **error)
{
  gboolean present = config != NULL && json_object_has_member (config, key) &&
                     !json_node_is_null (json_object_get_member (config, key));

  if (!present && def == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("the configuration has no '%s'"), key);
      return FALSE;
    }
  if (!mir_config_get_int_tuple (config, key, 2, def, out, error))
    return FALSE;
  for (guint i = 0; i < 2; i++)
    if (out[i] < 1 || out[i] > 65536)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("'%s' must be between 1 and 65536, but is %" PRId64), key,
                     out[i]);
        return FALSE;
      }
  return TRUE;
}

gboolean
mir_config_get_padding (JsonObject *config, gboolean *same, GError **error)
{
  const char *padding = mir_config_get_string (config, "padding", "valid");

  if (g_ascii_strcasecmp (padding, "valid") == 0)
    *same = FALSE;
  else if (g_ascii_strcasecmp (padding, "same") == 0)
    *same = TRUE;
  else
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("padding '%s' is not supported; use \"valid\" or \"same\""), padding);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_config_check_channels_last (JsonObject *config, GError **error)
{
  const char *fmt = mir_config_get_string (config, "data_format", "channels_last");

  if (g_strcmp0 (fmt, "channels_last") != 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("data_format '%s' is not supported; Mirada runs channels_last (NHWC) "
                     "models only"), fmt);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_config_get_activation (MirLayer *layer, JsonObject *config, GError **error)
{
  const char *name = mir_config_get_string (config, "activation", "linear");

  if (config != NULL && json_object_has_member (config, "activation"))
    {
      JsonNode *n = json_object_get_member (config, "activation");
      if (!json_node_is_null (n) &&
          !(JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("the activation is not a built-in name (custom activations are not "
                         "supported)"));
          return FALSE;
        }
    }
  return mir_activation_from_name (name, layer->name, &layer->activation, error);
}

static gboolean
read_pair (JsonNode *node, gint64 *a, gint64 *b)
{
  JsonArray *arr;

  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      *a = *b = json_node_get_int (node);
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  arr = json_node_get_array (node);
  if (json_array_get_length (arr) != 2)
    return FALSE;
  for (guint i = 0; i < 2; i++)
    {
      JsonNode *e = json_array_get_element (arr, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64)
        return FALSE;
    }
  *a = json_array_get_int_element (arr, 0);
  *b = json_array_get_int_element (arr, 1);
  return TRUE;
}

gboolean
mir_config_get_pad4 (JsonObject *config, const char *key, gint64 def, gint64 *out,
                     GError **error)
{
  JsonNode *node;
  gboolean ok = FALSE;

  out[0] = out[1] = out[2] = out[3] = def;
  if (config == NULL || !json_object_has_member (config, key))
    return TRUE;
  node = json_object_get_member (config, key);
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
    {
      out[0] = out[1] = out[2] = out[3] = json_node_get_int (node);
      ok = TRUE;
    }
  else if (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == 2)
    {
      JsonArray *arr = json_node_get_array (node);
      JsonNode *h = json_array_get_element (arr, 0);
      JsonNode *w = json_array_get_element (arr, 1);

      if (JSON_NODE_HOLDS_ARRAY (h) == JSON_NODE_HOLDS_ARRAY (w))
        ok = read_pair (h, &out[0], &out[1]) && read_pair (w, &out[2], &out[3]);
    }
  if (!ok)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' should be an integer, a pair of integers or a pair of pairs"), key);
      return FALSE;
    }
  for (guint i = 0; i < 4; i++)
    if (out[i] < 0 || out[i] > 65536)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("'%s' must be between 0 and 65536, but is %" PRId64),
                     key, out[i]);
        return FALSE;
      }
  return TRUE;
}

gboolean
mir_config_get_conv_window (JsonObject *config, MirWindow *win, GError **error)
{
  static const gint64 ones[2] = { 1, 1 };
  gint64 k[2], s[2], d[2];

  memset (win, 0, sizeof *win);
  if (!mir_config_get_size_pair (config, "kernel_size", NULL, k, error) ||
      !mir_config_get_size_pair (config, "strides", ones, s, error) ||
      !mir_config_get_size_pair (config, "dilation_rate", ones, d, error) ||
      !mir_config_get_padding (config, &win->same, error) ||
      !mir_config_check_channels_last (config, error))
    return FALSE;
  win->kh = k[0];
  win->kw = k[1];
  win->sh = s[0];
  win->sw = s[1];
  win->dh = d[0];
  win->dw = d[1];
  return TRUE;
}

gboolean
mir_conv_infer (MirLayer *layer, const MirWindow *win, const MirShape *in, gint64 out_c,
                gint64 groups, gboolean depthwise, MirShape *out, GError **error)
{
  if (!mir_window_infer (win, in, out_c, out, error))
    return FALSE;
  if (in->dim[3] > 0 && in->dim[3] % groups != 0)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("an input of shape %s does not split into %" PRId64 " groups of channels"),
                   s, groups);
      return FALSE;
    }
  if (layer->built && in->dim[3] != layer->weights[0].shape.dim[2] * groups)
    {
      g_autofree char *s = mir_shape_to_string (in);
      g_autofree char *w = mir_shape_to_string (&layer->weights[0].shape);
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   depthwise ? _("input of shape %s does not match the depthwise kernel of shape %s")
                             : _("input of shape %s does not match the kernel of shape %s"),
                   s, w);
      return FALSE;
    }
  return TRUE;
}

gboolean
mir_config_get_pool_window (JsonObject *config, MirWindow *win, GError **error)
{
  static const gint64 twos[2] = { 2, 2 };
  gint64 k[2], s[2];

  memset (win, 0, sizeof *win);
  if (!mir_config_get_size_pair (config, "pool_size", twos, k, error) ||
      !mir_config_get_size_pair (config, "strides", k, s, error) ||
      !mir_config_check_channels_last (config, error))
    return FALSE;
  if (config != NULL && json_object_has_member (config, "padding") &&
      JSON_NODE_HOLDS_ARRAY (json_object_get_member (config, "padding")))
    {
      win->explicit_pads = TRUE;
      if (!mir_config_get_pad4 (config, "padding", 0, win->pads, error))
        return FALSE;
      for (int a = 0; a < 4; a++)
        if (win->pads[a] >= k[a / 2])
          {
            g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                         _("a padding of %" PRId64 " is not smaller than the pool size %"
                           PRId64),
                         win->pads[a], k[a / 2]);
            return FALSE;
          }
      if (!mir_config_get_bool (config, "ceil_mode", FALSE, &win->ceil_mode, error) ||
          !mir_config_get_bool (config, "count_include_pad", FALSE, &win->count_pad, error))
        return FALSE;
    }
  else if (!mir_config_get_padding (config, &win->same, error))
    return FALSE;
  win->kh = k[0];
  win->kw = k[1];
  win->sh = s[0];
  win->sw = s[1];
  win->dh = win->dw = 1;
  return TRUE;
}

gboolean
mir_window_axis (gint64 in, gint64 k, gint64 s, gint64 d, gboolean same, gint64 *out,
                 gint64 *pad_before)
{
  gint64 eff = (k - 1) * d + 1;

  *pad_before = 0;
  if (in < 0)
    {
      *out = -1;
      return TRUE;
    }
  if (same)
    {
      gint64 total;
      *out = (in + s - 1) / s;
      total = MAX ((*out - 1) * s + eff - in, 0);
      *pad_before = total / 2; /* TensorFlow: the odd pixel goes after (bottom/right) */
      return TRUE;
    }
  if (in < eff)
    {
      *out = 0;
      return FALSE;
    }
  *out = (in - eff) / s + 1;
  return TRUE;
}

gboolean
mir_window_axis_explicit (gint64 in, gint64 k, gint64 s, gint64 d, gint64 pb, gint64 pe,
                          gboolean ceil_mode, gint64 *out)
{
  gint64 span = in + pb + pe - ((k - 1) * d + 1);

  if (in < 0)
    {
      *out = -1;
      return TRUE;
    }
  if (span < 0)
    {
      *out = 0;
      return FALSE;
    }
  *out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  /* PyTorch and ONNX: the last window must start inside the input or its top padding. */
  if (ceil_mode && (*out - 1) * s >= in + pb)
    (*out)--;
  return TRUE;
}

static gboolean
window_axes (const MirWindow *win, gint64 h, gint64 w, gint64 *oh, gint64 *ow, gint64 *pt,
             gint64 *pl)
{
  if (win->explicit_pads)
    {
      *pt = win->pads[0];
      *pl = win->pads[2];
      return mir_window_axis_explicit (h, win->kh, win->sh, win->dh, win->pads[0], win->pads[1],
                                       win->ceil_mode, oh) &&
             mir_window_axis_explicit (w, win->kw, win->sw, win->dw, win->pads[2], win->pads[3],
                                       win->ceil_mode, ow);
    }
  return mir_window_axis (h, win->kh, win->sh, win->dh, win->same, oh, pt) &&
         mir_window_axis (w, win->kw, win->sw, win->dw, win->same, ow, pl);
}

gboolean
mir_window_infer (const MirWindow *win, const MirShape *in, gint64 out_c, MirShape *out,
                  GError **error)
{
  gint64 pad;
  g_autofree char *s = mir_shape_to_string (in);

  if (in->ndim != 4)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("expects a 4-D input (batch, height, width, channels) but got shape %s"), s);
      return FALSE;
    }
  *out = *in;
  out->dim[3] = out_c;
  if (!window_axes (win, in->dim[1], in->dim[2], &out->dim[1], &out->dim[2], &pad, &pad))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("the window of %" PRId64 "x%" PRId64
                     " (dilated: %" PRId64 "x%" PRId64
                     ") is larger than its input of shape %s with \"valid\" padding"),
                   win->kh, win->kw, (win->kh - 1) * win->dh + 1, (win->kw - 1) * win->dw + 1, s);
      return FALSE;
    }
  return TRUE;
}

void
mir_conv_geom_init (MirConvGeom *g, const MirWindow *win, const MirTensor *x)
{
  mir_conv_geom_init_shape (g, win, x->shape[0], x->shape[1], x->shape[2], x->shape[3]);
}

void
mir_conv_geom_init_shape (MirConvGeom *g, const MirWindow *win, gint64 n, gint64 h, gint64 w,
                          gint64 c)
{
  g->n = n;
  g->h = h;
  g->w = w;
  g->c = c;
  g->kh = win->kh;
  g->kw = win->kw;
  g->sh = win->sh;
  g->sw = win->sw;
  g->dh = win->dh;
  g->dw = win->dw;
  window_axes (win, g->h, g->w, &g->oh, &g->ow, &g->pad_top, &g->pad_left);
  g->cnt_top = g->cnt_bottom = g->cnt_left = g->cnt_right = 0;
  if (win->explicit_pads && win->count_pad)
    {
      g->cnt_top = win->pads[0];
      g->cnt_bottom = win->pads[1];
      g->cnt_left = win->pads[2];
      g->cnt_right = win->pads[3];
    }
}

gboolean
mir_act_active (MirLayer *layer, const MirRunArgs *args)
{
  return layer->activation != MIR_ACT_LINEAR && !args->linear_output;
}

gboolean
mir_act_fast_forward_ok (MirLayer *layer, const MirRunArgs *args)
{
  if (args->training)
    return FALSE;
  return !args->for_backward || !mir_act_active (layer, args) ||
         !mir_activation_backward_needs_input (layer->activation);
}

gboolean
mir_act_forward (MirLayer *layer, MirTensor *out, gsize row, const MirRunArgs *args,
                 GError **error)
{
  if (!mir_act_active (layer, args))
    return TRUE;
  if (args->for_backward && args->state != NULL &&
      mir_activation_backward_needs_input (layer->activation))
    {
      gsize bytes;
      float *z;

      g_clear_pointer (args->state, g_free);
      if (!g_size_checked_mul (&bytes, out->numel, sizeof (float)) ||
          (z = g_try_malloc (bytes)) == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                       _("Out of memory keeping the pre-activation for backward"));
          return FALSE;
        }
      memcpy (z, out->data, bytes);
      *args->state = z;
    }
  mir_activation_forward (layer->activation, out->data, out->data, out->numel, row);
  return TRUE;
}

gboolean
mir_act_backward (MirLayer *layer, MirTensor *const *in, const MirTensor *out,
                  const MirTensor *grad_out, gsize row, const MirRunArgs *args,
                  MirLinearFunc recompute, float **dz_buf, GError **error)
{
  const float *z = NULL;
  float *zbuf = NULL;
  float *dz;

  *dz_buf = NULL;
  if (!mir_act_active (layer, args))
    return TRUE;
  if (mir_activation_backward_needs_input (layer->activation))
    {
      if (args->state != NULL && *args->state != NULL)
        z = *args->state;
      else
        {
          if ((zbuf = mir_alloc_floats (out->numel, error)) == NULL)
            return FALSE;
          if (!recompute (layer, in, out, zbuf, error))
            {
              mir_free_floats (zbuf);
              return FALSE;
            }
          z = zbuf;
        }
    }
  dz = mir_alloc_floats (out->numel, error);
  if (dz != NULL)
    {
      mir_activation_backward (layer->activation, z, out->data, grad_out->data, dz, out->numel,
                               row);
      if (args->guided_relu)
        mir_activation_guide (layer->activation, grad_out->data, dz, out->numel);
    }
  mir_free_floats (zbuf);
  *dz_buf = dz;
  return dz != NULL;
}

gint64
mir_conv_geom_band (const MirConvGeom *g, gint64 y0, gint64 y1, MirConvGeom *band)
{
  gint64 lo = MAX (0, y0 * g->sh - g->pad_top);
  gint64 hi = MIN (g->h, (y1 - 1) * g->sh - g->pad_top + (g->kh - 1) * g->dh + 1);

  *band = *g;
  band->n = 1;
  band->h = MAX (hi, lo) - lo;
  band->oh = y1 - y0;
  band->pad_top = g->pad_top + lo - y0 * g->sh;
  return lo;
}

typedef struct
{
  float *p;
  gsize n;
} ThreadScratch;

void
mir_thread_scratch_free (gpointer data)
{
  ThreadScratch *s = data;

  mir_free_floats (s->p);
  g_free (s);
}

float *
mir_thread_scratch (GPrivate *key, gsize n, GError **error)
{
  ThreadScratch *s = g_private_get (key);

  if (s == NULL)
    {
      s = g_new0 (ThreadScratch, 1);
      g_private_set (key, s);
    }
  if (s->n < n)
    {
      mir_free_floats (s->p);
      s->p = mir_alloc_floats (n, error);
      s->n = s->p != NULL ? n : 0;
    }
  return s->p;
}
