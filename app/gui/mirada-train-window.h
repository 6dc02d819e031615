/* mirada-train-window.h: the Train view.  Pick a dataset and settings, train
 * on a worker thread (cancellable), watch the loss and accuracy curves and the
 * first layer's filters change epoch by epoch, save the model and open it in
 * the detector.  The same training as `mirada train` (app/common/
 * mirada-train-setup.h, engine/train). */
#pragma once

#include <adwaita.h>

#include "train/mir-trainer.h"

G_BEGIN_DECLS

typedef enum
{
  MIRADA_TRAIN_ARCH_SMALL_CNN,   /* the course's small CNN (mirada_default_arch_config) */
  MIRADA_TRAIN_ARCH_CIFAR,       /* the CIFAR-10 notebook's CNN (mirada_cifar_arch_config) */
  MIRADA_TRAIN_ARCH_MOBILENET,   /* MobileNetV2 α 0.35 at 96 px, trained whole */
  MIRADA_TRAIN_ARCH_TRANSFER,    /* its base (weights from a file) + a new head */
} MiradaTrainArch;

#define MIRADA_TYPE_TRAIN_WINDOW (mirada_train_window_get_type ())
G_DECLARE_FINAL_TYPE (MiradaTrainWindow, mirada_train_window, MIRADA, TRAIN_WINDOW, AdwWindow)

MiradaTrainWindow *mirada_train_window_new        (GtkWindow         *parent);
/* "fashion-mnist" or a folder (class folders, CIFAR binary, IDX files). */
void               mirada_train_window_set_dataset (MiradaTrainWindow *self,
                                                    const char        *dataset);
void               mirada_train_window_set_settings (MiradaTrainWindow *self,
                                                     MiradaTrainArch    arch,
                                                     guint              epochs,
                                                     guint              batch,
                                                     double             learning_rate);
/* A separate validation folder (the same classes), or NULL: 10% of the data. */
void               mirada_train_window_set_validation (MiradaTrainWindow *self,
                                                       const char        *folder);
/* MIRADA_TRAIN_ARCH_TRANSFER: the base's weights (a notop weights file or a
 * saved model with the base's layer names; NULL: random) and whether the
 * base is frozen (only the head trains). */
void               mirada_train_window_set_transfer (MiradaTrainWindow *self,
                                                     const char        *weights,
                                                     gboolean           freeze);
/* Starts training (as the Train button); FALSE if running or no dataset. */
gboolean           mirada_train_window_start      (MiradaTrainWindow *self);
void               mirada_train_window_cancel     (MiradaTrainWindow *self);
gboolean           mirada_train_window_get_running (MiradaTrainWindow *self);
/* The finished epochs so far. */
const MirEpochStats *mirada_train_window_get_history (MiradaTrainWindow *self,
                                                      guint             *n);
/* The last error of a run, or NULL. */
const char        *mirada_train_window_get_error  (MiradaTrainWindow *self);
/* Saves the trained model (.h5 and its sidecar with the class names). */
gboolean           mirada_train_window_save       (MiradaTrainWindow *self,
                                                   const char        *path,
                                                   GError           **error);

G_END_DECLS
