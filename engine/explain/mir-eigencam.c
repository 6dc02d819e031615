/* Eigen-CAM (Bany Muhammad & Yeasin 2020), as pytorch-grad-cam's
 * get_2d_projection: the activations reshaped to (HW, C), mean-centred per
 * channel, projected on their first right singular vector (power iteration
 * on XᵀX in double precision).  A singular vector's sign is arbitrary; it is
 * chosen so that the projection correlates positively with the mean
 * activation over channels.  map = ReLU(projection) / max. */
#define G_LOG_DOMAIN "mir-eigencam"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_eigencam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                      GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autofree double *x = NULL, *mean = NULL, *v = NULL, *xv = NULL, *nv = NULL;
  MirTensor *act;
  gint layer;
  gint64 hw, c;
  double corr = 0, mbar = 0, pbar = 0;

  if (options == NULL)
    options = &defaults;
  if ((layer = mir_explain_resolve_layer (model, options->layer, error)) < 0)
    return NULL;
  trace = mir_explain_forward (model, input, options, "eigencam", layer, FALSE, &e, cancellable,
                               error);
  if (trace == NULL)
    return NULL;
  act = mir_trace_get (trace, (guint) layer);
  hw = act->shape[1] * act->shape[2];
  c = act->shape[3];
  x = g_new (double, hw * c);
  mean = g_new0 (double, c);
  v = g_new (double, c);
  nv = g_new (double, c);
  xv = g_new (double, hw);
  for (gint64 i = 0; i < hw * c; i++)
    mean[i % c] += act->data[i];
  for (gint64 k = 0; k < c; k++)
    mean[k] /= (double) hw;
  for (gint64 i = 0; i < hw * c; i++)
    x[i] = act->data[i] - mean[i % c];

  /* power iteration: v ← XᵀX v / |XᵀX v|, from a fixed, non-symmetric start */
  for (gint64 k = 0; k < c; k++)
    v[k] = 1.0 + 0.01 * (double) (k % 7);
  for (int it = 0; it < 1000; it++)
    {
      double norm = 0, diff = 0;

      for (gint64 i = 0; i < hw; i++)
        {
          double s = 0;
          for (gint64 k = 0; k < c; k++)
            s += x[i * c + k] * v[k];
          xv[i] = s;
        }
      for (gint64 k = 0; k < c; k++)
        nv[k] = 0;
      for (gint64 i = 0; i < hw; i++)
        for (gint64 k = 0; k < c; k++)
          nv[k] += x[i * c + k] * xv[i];
      for (gint64 k = 0; k < c; k++)
        norm += nv[k] * nv[k];
      norm = sqrt (norm);
      if (!(norm > 0))
        break;
      for (gint64 k = 0; k < c; k++)
        {
          nv[k] /= norm;
          diff = MAX (diff, fabs (nv[k] - v[k]));
          v[k] = nv[k];
        }
      if (diff < 1e-10)
        break;
      if ((it & 63) == 63 && g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
    }
  for (gint64 i = 0; i < hw; i++)
    {
      double s = 0, m = 0;
      for (gint64 k = 0; k < c; k++)
        {
          s += x[i * c + k] * v[k];
          m += act->data[i * c + k];
        }
      xv[i] = s;
      mbar += m / (double) c;
      pbar += s;
    }
  mbar /= (double) hw;
  pbar /= (double) hw;
  for (gint64 i = 0; i < hw; i++)
    {
      double m = 0;
      for (gint64 k = 0; k < c; k++)
        m += act->data[i * c + k];
      corr += (m / (double) c - mbar) * (xv[i] - pbar);
    }
  for (gint64 i = 0; i < hw; i++)
    e->raw[i] = (float) (corr < 0 ? -xv[i] : xv[i]);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
