/* mir-applications.h: Keras applications architectures built in (VGG16,
 * ResNet50, MobileNetV2, Xception, EfficientNetB0), with Keras' layer names,
 * optionally with an official weights file loaded onto them. */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

typedef struct
{
  gboolean include_top;  /* the ImageNet classifier head (default TRUE) */
  gint64 size;           /* input height = width; 0 = the architecture's default */
  double alpha;          /* MobileNetV2 width multiplier (1.0) */
  gint64 classes;        /* outputs of the top (1000) */
  const char *weights;   /* a Keras weights .h5 file, or NULL: random weights
                          * (model->weights_initialised is then TRUE) */
  guint32 seed;          /* for the random weights */
} MirApplicationOptions;

void        mir_application_options_init (MirApplicationOptions *options);
/* NULL-terminated list of the names accepted below. */
const char *const *mir_application_list (void);
/* The Keras 2 Functional config JSON of @arch.  Transfer full. */
char       *mir_application_config  (const char                  *arch,
                                     const MirApplicationOptions *options,
                                     GError                     **error);
MirModel   *mir_application_new     (const char                  *arch,
                                     const MirApplicationOptions *options,
                                     GError                     **error);
/* A model "path" of the form `arch:NAME[,notop][,size=N][,alpha=A][,classes=N]
 * [,weights=FILE]`, e.g. `arch:vgg16` or `arch:mobilenetv2,alpha=0.5,notop`. */
MirModel   *mir_application_new_from_spec (const char  *spec,
                                           GError     **error);

G_END_DECLS
