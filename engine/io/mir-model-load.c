/* mir-model-load.c: format detection and sidecar application. */
#define G_LOG_DOMAIN "mir-model-load"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "mir-file.h"
#include "mir-applications.h"
#include "mir-keras.h"
#include "mir-model-load.h"
#include "mir-onnx.h"
#include "mir-sidecar.h"
#include "mir-imagenet.h"
#include "mir-tfjs.h"

static const guint8 hdf5_signature[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };

typedef enum
{
  FORMAT_UNKNOWN,
  FORMAT_HDF5,
  FORMAT_ZIP,
  FORMAT_TFJS,
  FORMAT_ONNX,
  FORMAT_SAVED_MODEL,
} Format;

/* HDF5 files may start with a user block: the superblock is then at 512,
 * 1024, 2048, ... bytes. */
static gboolean
has_hdf5_signature (FILE *f)
{
  guint8 buf[8];

  for (long offset = 0; offset <= 1 << 20; offset = offset ? offset * 2 : 512)
    {
      if (fseek (f, offset, SEEK_SET) != 0 || fread (buf, 1, sizeof buf, f) != sizeof buf)
        return FALSE;
      if (memcmp (buf, hdf5_signature, sizeof buf) == 0)
        return TRUE;
    }
  return FALSE;
}

static Format
sniff (FILE *f, const char *path)
{
  guint8 head[4096];
  gsize n;
  gsize i = 0;

  n = fread (head, 1, sizeof head, f);
  if (n >= 8 && has_hdf5_signature (f))
    return FORMAT_HDF5;
  if (n >= 4 && memcmp (head, "PK\003\004", 4) == 0)
    return FORMAT_ZIP;
  while (i < n && g_ascii_isspace (head[i]))
    i++;
  if (i < n && head[i] == '{')
    {
      g_autofree char *text = g_strndup ((const char *) head, n);
      if (strstr (text, "\"modelTopology\"") || strstr (text, "\"weightsManifest\"") ||
          strstr (text, "\"format\": \"layers-model\""))
        return FORMAT_TFJS;
    }
  /* ONNX is a protobuf ModelProto: field 1 (ir_version, varint) comes first. */
  if (g_str_has_suffix (path, ".onnx") || (n >= 2 && head[0] == 0x08 && head[1] < 0x20))
    return FORMAT_ONNX;
  if (g_str_has_suffix (path, ".pb"))
    return FORMAT_SAVED_MODEL;
  return FORMAT_UNKNOWN;
}

static MirModel *
load_file (const char *path, GError **error)
{
  g_autofree char *display = NULL;
  g_autoptr(MirModel) model = NULL;
  FILE *f;
  Format format;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_str_has_prefix (path, "arch:"))
    return mir_application_new_from_spec (path, error);

  display = g_filename_display_name (path);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *mj = g_build_filename (path, "model.json", NULL);
      g_autofree char *pb = g_build_filename (path, "saved_model.pb", NULL);

      if (g_file_test (mj, G_FILE_TEST_IS_REGULAR))
        return load_file (mj, error);
      if (g_file_test (pb, G_FILE_TEST_EXISTS))
        g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                     _("'%s' is a TensorFlow SavedModel folder, which Mirada does not read "
                       "yet; save the model with model.save(\"model.h5\")"),
                     display);
      else
        g_set_error (error, MIR_ERROR, MIR_ERROR_IO,
                     _("'%s' is a folder, not a model file"), display);
      return NULL;
    }

  /* A FIFO would block the open and a device would be read for ever. */
  if (!mir_file_check (path, G_MAXSIZE, _("model files"), NULL, error))
    return NULL;
  f = g_fopen (path, "rb");
  if (f == NULL)
    {
      int saved = errno;
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open '%s': %s"), display,
                   g_strerror (saved));
      return NULL;
    }
  format = sniff (f, path);
  fclose (f);

  switch (format)
    {
    case FORMAT_HDF5:
      model = mir_keras_load_h5 (path, error);
      if (model == NULL)
        return NULL;
      break;
    case FORMAT_ZIP:
      model = mir_keras_load_keras (path, error);
      if (model == NULL)
        return NULL;
      break;
    case FORMAT_TFJS:
      model = mir_tfjs_load (path, error);
      if (model == NULL)
        return NULL;
      break;
    case FORMAT_ONNX:
      model = mir_onnx_load (path, error);
      if (model == NULL)
        return NULL;
      break;
    case FORMAT_SAVED_MODEL:
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("'%s' is part of a TensorFlow SavedModel, which is not yet supported; "
                     "save the model with model.save(\"model.h5\")"),
                   display);
      return NULL;
    case FORMAT_UNKNOWN:
    default:
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not a model file Mirada can read (expected a Keras .h5 file)"),
                   display);
      return NULL;
    }

  /* A model with its own Rescaling/Normalization takes raw pixels: known. */
  if (model->meta.preprocess_from == MIR_PREPROCESS_FROM_UNKNOWN &&
      mir_model_scales_own_input (model))
    {
      model->meta.preprocess = MIR_PREPROCESS_NONE;
      model->meta.preprocess_from = MIR_PREPROCESS_FROM_LAYERS;
    }
  if (!mir_sidecar_find_and_load (path, &model->meta, error))
    return NULL;
  /* Names from a sidecar, a labels file or metadata.json that do not fit
   * the outputs would label every result wrongly: refused. */
  if (!mir_model_check_class_names (model, (const char *const *) model->meta.class_names,
                                    model->meta.source, error))
    return NULL;
  return g_steal_pointer (&model);
}

MirModel *
mir_model_load (const char *path, GError **error)
{
  MirModel *model;

  g_return_val_if_fail (path != NULL, NULL);

  if (!(model = load_file (path, error)))
    return NULL;
  /* Nothing named the classes and there are 1000 of them: an ImageNet
   * classifier (the Keras applications, torchvision and ONNX zoo exports all
   * order their outputs by WordNet id). */
  if (model->meta.class_names == NULL
      && mir_model_get_n_classes (model) == MIR_IMAGENET_N_CLASSES
      && !mir_model_is_binary_sigmoid (model))
    model->meta.class_names = g_strdupv ((char **) mir_imagenet_class_names ());
  return model;
}
