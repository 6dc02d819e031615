/* mirada-train-setup.c: what `mirada train` and the window's Train view
 * share to set a training run up. */
#include "config.h"

#include <glib/gi18n.h>

#include "mirada-image-io.h"
#include "mirada-train-setup.h"

/* The default architecture: a small CNN in the spirit of the course notebook
 * (seed 002: Conv-ReLU-MaxPool blocks, then Dense), a printf template for
 * the input's height, width and channels and the number of outputs.  For
 * 28×28 grey images (Fashion-MNIST) it has 11 outputs: the 10 classes and
 * "background" (see add_background_samples()); about 12 MFLOPs per image.
 * For another dataset in a fixed format (CIFAR, IDX) it takes the dataset's
 * image size and has one output per class. */
static const char default_arch_template[] =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"mirada_fashion\", \"layers\": ["
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %d, %d, %d],"
  " \"dtype\": \"float32\", \"sparse\": false, \"ragged\": false, \"name\": \"input_1\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"filters\": 32, \"kernel_size\": [3, 3], \"strides\": [1, 1],"
  " \"padding\": \"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1],"
  " \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"max_pooling2d\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2],"
  " \"data_format\": \"channels_last\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"filters\": 64, \"kernel_size\": [3, 3], \"strides\": [1, 1],"
  " \"padding\": \"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1],"
  " \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"max_pooling2d_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2],"
  " \"data_format\": \"channels_last\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d_2\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"filters\": 64, \"kernel_size\": [3, 3], \"strides\": [1, 1],"
  " \"padding\": \"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1],"
  " \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"data_format\": \"channels_last\"}},"
  "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"rate\": 0.3}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"units\": 128, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"rate\": 0.3}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"units\": %u, \"activation\": \"softmax\", \"use_bias\": true}}"
  "]}, \"keras_version\": \"2.15.0\", \"backend\": \"tensorflow\"}";

/* The CIFAR-10 notebook's CNN (seed 004): three blocks of Conv2D > Conv2D >
 * MaxPooling2D with 32, 64 and 128 filters of 3×3 ("same", ReLU), Flatten,
 * Dense softmax.  For 32×32×3 and 10 classes: 307,498 parameters, as the
 * notebook's model.summary() prints. */
static const char cifar_arch_template[] =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"cifar_cnn\", \"layers\": ["
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %d, %d, %d],"
  " \"dtype\": \"float32\", \"name\": \"input_1\"}},"
#define CONV(name, filters) \
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"" name "\", \"filters\": " #filters "," \
  " \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", \"activation\": \"relu\"," \
  " \"use_bias\": true, \"dilation_rate\": [1, 1], \"groups\": 1}},"
#define POOL(name) \
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"" name "\", \"pool_size\": [2, 2]," \
  " \"strides\": [2, 2], \"padding\": \"valid\"}},"
  CONV ("conv2d", 32) CONV ("conv2d_1", 32) POOL ("max_pooling2d")
  CONV ("conv2d_2", 64) CONV ("conv2d_3", 64) POOL ("max_pooling2d_1")
  CONV ("conv2d_4", 128) CONV ("conv2d_5", 128) POOL ("max_pooling2d_2")
#undef CONV
#undef POOL
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": %u,"
  " \"activation\": \"softmax\", \"use_bias\": true}}"
  "]}, \"keras_version\": \"2.15.0\", \"backend\": \"tensorflow\"}";

char *
mirada_cifar_arch_config (int height, int width, int channels, guint n_outputs)
{
  return g_strdup_printf (cifar_arch_template, height, width, channels, n_outputs);
}

char *
mirada_default_arch_config (int height, int width, int channels, guint n_outputs)
{
  return g_strdup_printf (default_arch_template, height, width, channels, n_outputs);
}

static gboolean
decode_nearest (const char *path, gint64 height, gint64 width, gint64 channels, guint8 *pixels,
                gpointer user_data, GError **error)
{
  return mirada_dataset_image_decode (path, height, width, channels, MIR_RESIZE_NEAREST, pixels,
                                      error);
}

MirDataset *
mirada_train_load_dataset (const char *arg, gint64 height, gint64 width, gint64 channels,
                           guint *skipped, GCancellable *cancellable, GError **error)
{
  MirDatasetFormat format;

  if (skipped)
    *skipped = 0;
  if (g_strcmp0 (arg, "fashion-mnist") == 0)
    return mir_dataset_load_fashion_mnist (NULL, TRUE, error);
  format = mir_dataset_detect_format (arg);
  if (format == MIR_DATASET_FORMAT_CIFAR)
    return mir_dataset_load_cifar (arg, TRUE, error);
  if (format == MIR_DATASET_FORMAT_IDX)
    return mir_dataset_load_idx_folder (arg, TRUE, error);
  return mir_dataset_load_directory_skipping (arg, height, width, channels, decode_nearest, NULL,
                                              NULL, NULL, skipped, cancellable, error);
}
