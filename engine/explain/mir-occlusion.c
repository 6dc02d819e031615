/* Occlusion sensitivity (Zeiler & Fergus 2014): a P×P patch of grey (pixel
 * value 128 after the model's preprocessing) slides over the input with
 * stride S (defaults P = min(H, W) / 8, S = P / 2; the last row and column
 * of patches touch the border).  Each pixel's raw value is the mean drop of
 * the class score (before the final activation) over the patches covering it:
 * positive where hiding the pixel lowers the score.  Batched. */
#define G_LOG_DOMAIN "mir-occlusion"

#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

static GArray *
positions (gint64 size, gint64 p, gint64 s)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (gint64 x = 0; x + p <= size; x += s)
    g_array_append_val (a, x);
  if (a->len == 0 || g_array_index (a, gint64, a->len - 1) + p < size)
    {
      gint64 last = MAX (size - p, 0);
      g_array_append_val (a, last);
    }
  return a;
}

MirExplanation *
mir_explain_occlusion (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                       GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autoptr(GArray) ys = NULL, xs = NULL;
  g_autofree float *grey = NULL;
  g_autofree double *scores = NULL, *sum = NULL;
  g_autofree guint *count = NULL;
  gint in_node = (gint) mir_model_get_input (model, 0);
  gint64 h, w, c, p, s, n;

  if (options == NULL)
    options = &defaults;
  trace = mir_explain_forward (model, input, options, "occlusion", in_node, FALSE, &e,
                               cancellable, error);
  if (trace == NULL)
    return NULL;
  g_clear_pointer (&trace, mir_trace_free);
  h = input->shape[1];
  w = input->shape[2];
  c = input->shape[3];
  p = options->patch > 0 ? options->patch : MAX (MIN (h, w) / 8, 1);
  s = options->stride > 0 ? options->stride : MAX (p / 2, 1);
  if (p > MIN (h, w))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The occlusion patch (%" PRId64 ") is larger than the input "
                     "(%" PRId64 "×%" PRId64 ")"), p, w, h);
      return NULL;
    }
  grey = g_new (float, c);
  if (!mir_explain_grey_value (model, c, grey, error))
    return NULL;
  ys = positions (h, p, s);
  xs = positions (w, p, s);
  n = (gint64) ys->len * xs->len;
  scores = g_new (double, n);
  sum = g_new0 (double, h * w);
  count = g_new0 (guint, h * w);

  for (gint64 start = 0; start < n; start += MIR_EXPLAIN_BATCH)
    {
      gint64 cnt = MIN (MIR_EXPLAIN_BATCH, n - start);
      g_autoptr(MirTensor) batch = mir_tensor_new_4d (cnt, h, w, c, error);

      if (batch == NULL)
        return NULL;
      for (gint64 b = 0; b < cnt; b++)
        {
          gint64 y0 = g_array_index (ys, gint64, (start + b) / xs->len);
          gint64 x0 = g_array_index (xs, gint64, (start + b) % xs->len);
          float *dst = batch->data + b * h * w * c;

          memcpy (dst, input->data, sizeof (float) * (gsize) (h * w * c));
          for (gint64 y = y0; y < y0 + p; y++)
            for (gint64 x = x0; x < x0 + p; x++)
              for (gint64 k = 0; k < c; k++)
                dst[(y * w + x) * c + k] = grey[k];
        }
      if (!mir_explain_batch_scores (model, batch, e, scores + start, NULL, cancellable, error))
        return NULL;
      if (options && options->progress)
        options->progress ((guint) (start + cnt), (guint) n, options->progress_data);
    }
  for (gint64 j = 0; j < n; j++)
    {
      gint64 y0 = g_array_index (ys, gint64, j / xs->len);
      gint64 x0 = g_array_index (xs, gint64, j % xs->len);
      for (gint64 y = y0; y < y0 + p; y++)
        for (gint64 x = x0; x < x0 + p; x++)
          {
            sum[y * w + x] += e->score - scores[j];
            count[y * w + x]++;
          }
    }
  for (gint64 i = 0; i < h * w; i++)
    e->raw[i] = count[i] ? (float) (sum[i] / count[i]) : 0.0f;
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
