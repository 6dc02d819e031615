/* Guided Grad-CAM (Selvaraju et al. 2017): the guided backpropagation map
 * times the Grad-CAM map (ReLU'd, / max) upsampled bilinearly to the input. */
#define G_LOG_DOMAIN "mir-guided-gradcam"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

MirExplanation *
mir_explain_guided_gradcam (MirModel *model, MirTensor *input, const MirExplainOptions *options,
                            GCancellable *cancellable, GError **error)
{
  g_autoptr(MirExplanation) cam = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autofree float *up = NULL;
  gsize n;

  if (!(cam = mir_explain_gradcam (model, input, options, cancellable, error)) ||
      !(e = mir_explain_guided_backprop (model, input, options, cancellable, error)))
    return NULL;
  n = (gsize) e->width * e->height;
  up = g_new (float, n);
  mir_explain_resize_map (cam->map, cam->width, cam->height, up, e->width, e->height);
  for (gsize i = 0; i < n; i++)
    e->raw[i] *= up[i];
  g_free (e->method);
  e->method = g_strdup ("guided-gradcam");
  mir_explanation_normalise_relu (e);
  return g_steal_pointer (&e);
}
