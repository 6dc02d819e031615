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

G_END_DECLS
