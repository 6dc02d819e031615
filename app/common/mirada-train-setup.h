/* mirada-train-setup.h: what `mirada train` and the window's Train view
 * share to set a training run up (app/common, no GTK). */
#pragma once

#include "mir.h"
#include "train/mir-dataset.h"

G_BEGIN_DECLS

/* The course's small CNN (Conv-ReLU-MaxPool blocks, Dropout, Dense) as a
 * Keras config JSON for @height × @width × @channels images and @n_outputs
 * softmax outputs.  Transfer full. */
char       *mirada_default_arch_config (int    height,
                                        int    width,
                                        int    channels,
                                        guint  n_outputs);

/* The CIFAR-10 notebook's CNN: 3 × (Conv2D, Conv2D, MaxPooling2D) with 32,
 * 64, 128 filters, Flatten, Dense softmax.  Transfer full. */
char       *mirada_cifar_arch_config   (int    height,
                                        int    width,
                                        int    channels,
                                        guint  n_outputs);

/* "fashion-mnist", a CIFAR-10/100 binary folder or .tar.gz, a folder of
 * MNIST-style IDX files (their own image size), or a folder with one
 * subfolder of images per class (decoded at @height × @width × @channels;
 * unreadable files are skipped and counted in @skipped). */
MirDataset *mirada_train_load_dataset (const char    *arg,
                                       gint64         height,
                                       gint64         width,
                                       gint64         channels,
                                       guint         *skipped,
                                       GCancellable  *cancellable,
                                       GError       **error);

/* Transfer learning: keras.applications NAME without its classifier, and a
 * new head (GlobalAveragePooling2D "head_pool" + Dense softmax
 * "head_predictions"), as `mirada train --base` and the Train view build it. */
typedef struct
{
  char *name;      /* "mobilenetv2", … (mir_application_list) */
  gint64 size;     /* 0: the dataset's, or 96 px for a folder */
  double alpha;
  char *weights;   /* a notop weights file or a saved model, or NULL: random */
} MiradaBaseSpec;

void      mirada_base_spec_clear    (MiradaBaseSpec *b);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MiradaBaseSpec, mirada_base_spec_clear)
/* "arch:NAME[,size=N][,alpha=A][,weights=FILE]" */
gboolean  mirada_base_spec_parse    (const char      *spec,
                                     MiradaBaseSpec  *out,
                                     GError         **error);
/* The base at @size × @size with the head for @n_classes; the base's weights
 * from b->weights (matched by layer name, the file's own head ignored);
 * @freeze: every base layer with weights not trainable (@n_frozen of them). */
MirModel *mirada_transfer_model_new (const MiradaBaseSpec *b,
                                     gint64                size,
                                     guint                 n_classes,
                                     gboolean              freeze,
                                     guint32               seed,
                                     guint                *n_frozen,
                                     GError              **error);

G_END_DECLS
