/* Faithfulness of an explanation map: does hiding what the map points at
 * change the prediction?  The map (e->map) is resized bilinearly to the
 * input and the pixels ranked by it, most salient first (ties by index).
 *   - keep top-k: only the top keep_fraction of the pixels keep their value,
 *     the rest become the grey baseline (pixel 128, preprocessed);
 *   - deletion curve (Petsiuk et al. 2018): the top i / n_steps fraction is
 *     replaced by the baseline, i = 0 … n_steps; the area under the curve
 *     (trapezoid, fraction 0..1) is low for a faithful map.
 * Scores are the class scores before the final activation (as explained),
 * probabilities after it.  All perturbed inputs run in batches. */
#define G_LOG_DOMAIN "mir-faithfulness"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-explain.h"

void
mir_faithfulness_free (MirFaithfulness *f)
{
  if (f == NULL)
    return;
  g_free (f->fractions);
  g_free (f->scores);
  g_free (f->probabilities);
  g_free (f);
}

static const float *rank_values;

static int
by_value_desc (gconstpointer a, gconstpointer b)
{
  gint64 i = *(const gint64 *) a, j = *(const gint64 *) b;
  float u = rank_values[i], v = rank_values[j];

  if (u != v)
    return u > v ? -1 : 1;
  return i < j ? -1 : (i > j);
}

MirFaithfulness *
mir_faithfulness_compute (MirModel *model, MirTensor *input, const MirExplanation *e,
                          double keep_fraction, int n_steps, GCancellable *cancellable,
                          GError **error)
{
  static GMutex rank_lock;
  g_autoptr(MirTensor) batch = NULL;
  g_autofree float *map = NULL;
  g_autofree float *grey = NULL;
  g_autofree gint64 *order = NULL;
  g_autofree double *scores = NULL, *probs = NULL;
  MirFaithfulness *f;
  gint64 h, w, c, hw, n;

  if (input == NULL || input->ndim != 4 || input->shape[0] != 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                   _("Faithfulness needs one image (1×H×W×C)"));
      return NULL;
    }
  if (!(keep_fraction > 0 && keep_fraction <= 1) || n_steps < 1 || n_steps > 1000)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Faithfulness needs a kept fraction in (0, 1] and 1 to 1000 deletion "
                     "steps"));
      return NULL;
    }
  h = input->shape[1];
  w = input->shape[2];
  c = input->shape[3];
  hw = h * w;
  map = g_new (float, hw);
  mir_explain_resize_map (e->map, e->width, e->height, map, (int) w, (int) h);
  order = g_new (gint64, hw);
  for (gint64 i = 0; i < hw; i++)
    order[i] = i;
  g_mutex_lock (&rank_lock);
  rank_values = map;
  qsort (order, (gsize) hw, sizeof (gint64), by_value_desc);
  rank_values = NULL;
  g_mutex_unlock (&rank_lock);
  grey = g_new (float, c);
  if (!mir_explain_grey_value (model, c, grey, error))
    return NULL;

  /* image 0: top-k kept; images 1 … n_steps + 1: deletion i = 0 … n_steps */
  n = n_steps + 2;
  if ((batch = mir_tensor_new_4d (n, h, w, c, error)) == NULL)
    return NULL;
  for (gint64 b = 0; b < n; b++)
    {
      float *dst = batch->data + b * hw * c;
      gint64 from, to;

      memcpy (dst, input->data, sizeof (float) * (gsize) (hw * c));
      if (b == 0)
        {
          from = (gint64) (keep_fraction * (double) hw + 0.5);
          to = hw;
        }
      else
        {
          from = 0;
          to = (gint64) ((double) (b - 1) / n_steps * (double) hw + 0.5);
        }
      for (gint64 r = from; r < to; r++)
        for (gint64 k = 0; k < c; k++)
          dst[order[r] * c + k] = grey[k];
    }
  scores = g_new (double, n);
  probs = g_new (double, n);
  if (!mir_explain_batch_scores (model, batch, e, scores, probs, cancellable, error))
    return NULL;

  f = g_new0 (MirFaithfulness, 1);
  f->score = scores[1];
  f->probability = probs[1];
  f->keep_fraction = keep_fraction;
  f->keep_score = scores[0];
  f->keep_probability = probs[0];
  f->n_steps = n_steps;
  f->fractions = g_new (double, n_steps + 1);
  f->scores = g_new (double, n_steps + 1);
  f->probabilities = g_new (double, n_steps + 1);
  for (int i = 0; i <= n_steps; i++)
    {
      f->fractions[i] = (double) i / n_steps;
      f->scores[i] = scores[i + 1];
      f->probabilities[i] = probs[i + 1];
      if (i > 0)
        {
          f->auc_score += 0.5 * (f->scores[i] + f->scores[i - 1]) / n_steps;
          f->auc_probability += 0.5 * (f->probabilities[i] + f->probabilities[i - 1]) / n_steps;
        }
    }
  return f;
}
