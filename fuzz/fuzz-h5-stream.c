/* fuzz-h5-stream.c: the parent's side of the HDF5 reader process
 * (mir_h5_file_parse): whatever the child sends, the parent must refuse it
 * cleanly.  Each parsed file is also asked the questions the Keras loaders
 * ask. */
#define G_LOG_DOMAIN "mir-fuzz"

#include "fuzz-util.h"
#include "mir-h5-file.h"

static void
ask (MirH5File *f, const char *group, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirTensor) t = NULL;
  g_auto(GStrv) list = NULL;
  g_autofree char *attr = NULL;
  gboolean present;

  mir_h5_file_exists (f, group, name, "fuzz", &error);
  g_clear_error (&error);
  mir_h5_file_has_group (f, group, name);
  mir_h5_file_n_members (f, group);
  attr = mir_h5_file_read_string_attr (f, group, name, "fuzz", &error);
  g_clear_error (&error);
  list = mir_h5_file_read_string_list (f, group, name, "fuzz", &present, &error);
  g_assert ((list == NULL) == (error != NULL));
  g_clear_error (&error);
  t = mir_h5_file_read_tensor (f, group, name, "fuzz", &error);
  g_assert ((t == NULL) == (error != NULL));
  if (t != NULL)
    g_assert (t->numel <= (gsize) MIR_TENSOR_MAX_ELEMENTS);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirH5File) f = mir_h5_file_parse (data, size, "fuzz", &error);
  static const char *const names[] = { "model_config", "layer_names", "weight_names", "a", "x",
                                       "model_weights", "0", "kernel:0", "d/kernel:0", "vars" };
  static const char *const groups[] = { "/", "/model_weights", "/a", "/layers", "/a/vars" };

  g_assert ((f == NULL) == (error != NULL));
  if (f == NULL)
    return 0;
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    for (guint j = 0; j < G_N_ELEMENTS (names); j++)
      ask (f, groups[i], names[j]);
  return 0;
}
