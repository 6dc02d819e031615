/* A random map: the baseline a faithful explanation must beat.  Every cell
 * gets an independent uniform value in [0, 1) from a seeded generator
 * (options->seed, default 1), so its deletion curve removes pixels in a
 * random order; a map whose deletion area is not clearly below this one's
 * says no more about the prediction than chance.  The cells are the input's
 * pixels, or, when options->layer is set, that layer's spatial grid (upsampled
 * like a CAM map, so it compares with a CAM of the same coarseness). */
#define G_LOG_DOMAIN "mir-random"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_random (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                    GCancellable *cancellable, GError **error)
{
  MirExplainOptions defaults = MIR_EXPLAIN_OPTIONS_DEFAULT;
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autoptr(GRand) rand = NULL;
  gint node = (gint) mir_model_get_input (model, 0);
  gsize n;

  if (options == NULL)
    options = &defaults;
  if (options->layer >= 0 && (node = mir_explain_resolve_layer (model, options->layer, error)) < 0)
    return NULL;
  trace = mir_explain_forward (model, input, options, "random", node, FALSE, &e, cancellable,
                               error);
  if (trace == NULL)
    return NULL;
  rand = g_rand_new_with_seed (options->seed ? options->seed : 1);
  n = (gsize) e->width * (gsize) e->height;
  for (gsize i = 0; i < n; i++)
    e->raw[i] = (float) g_rand_double (rand);
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
