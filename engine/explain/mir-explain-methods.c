/* mir-explain-methods.c: the one table of explanation methods.  The CLI
 * (`mirada gradcam -m`), the window's heat-map panel, the reference tests and
 * the fuzz harness all read it: a new method is its own file plus one line
 * here. */
#define G_LOG_DOMAIN "mir-explain"

#include <glib/gi18n-lib.h>

#include "mir-explain.h"

static const MirExplainMethod methods[] = {
  { "gradcam", N_("Grad-CAM"), mir_explain_gradcam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "gradcam++", N_("Grad-CAM++"), mir_explain_gradcam_plusplus, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "hirescam", N_("HiResCAM"), mir_explain_hirescam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "xgradcam", N_("XGrad-CAM"), mir_explain_xgradcam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "layercam", N_("LayerCAM"), mir_explain_layercam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "scorecam", N_("Score-CAM"), mir_explain_scorecam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "eigencam", N_("Eigen-CAM"), mir_explain_eigencam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "cam", N_("CAM"), mir_explain_cam, MIR_EXPLAIN_METHOD_CLASS_MAP },
  { "saliency", N_("Mean activation"), mir_explain_saliency, 0 },
  { "gradients", N_("Gradients"), mir_explain_gradients, 0 },
  { "smoothgrad", N_("SmoothGrad"), mir_explain_smoothgrad, 0 },
  { "guided", N_("Guided backpropagation"), mir_explain_guided_backprop, 0 },
  { "guided-gradcam", N_("Guided Grad-CAM"), mir_explain_guided_gradcam, 0 },
  { "occlusion", N_("Occlusion"), mir_explain_occlusion, 0 },
  { "random", N_("Random (a chance baseline)"), mir_explain_random, MIR_EXPLAIN_METHOD_BASELINE },
};
/* A method declared in mir-explain.h but left out of this table fails
 * tests/check-layer-list.py. */

const MirExplainMethod *
mir_explain_get_methods (guint *n_methods)
{
  *n_methods = G_N_ELEMENTS (methods);
  return methods;
}

const MirExplainMethod *
mir_explain_find_method (const char *id, GError **error)
{
  g_autoptr(GString) known = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      if (g_strcmp0 (methods[i].id, id) == 0)
        return &methods[i];
      g_string_append_printf (known, "%s%s", i ? ", " : "", methods[i].id);
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown explanation method '%s' (available: %s)"), id ? id : "", known->str);
  return NULL;
}
