/* mir-trainer.h: mini-batch training of a MirModel on a MirDataset.
 *
 * Per step: a shuffled batch is preprocessed (and augmented), split into
 * one part per worker thread (data-parallel: see "Data-parallel steps" in
 * mir-trainer.c), the model runs on each part in training mode keeping what backward needs, with MIR_RUN_LOGITS so the
 * loss applies the head's softmax/sigmoid itself (mir-loss.h); backward
 * accumulates the weight gradients, the parts' gradients are summed, and the
 * optimizer updates every trainable weight in place.  BatchNormalization
 * normalises each part with its own statistics ("ghost batch norm").  A run
 * is reproducible from the seed for a given number of workers.  Weights are snapshotted at the end of each epoch: when
 * cancelled (checked per batch) or when the loss stops being finite, the
 * model is left with the weights of the last finished epoch.
 */
#pragma once

#include <gio/gio.h>

#include "mir-dataset.h"
#include "mir-loss.h"
#include "mir-optimizer.h"

G_BEGIN_DECLS

typedef struct
{
  guint epoch;          /* 1-based */
  guint n_epochs;
  guint64 n_samples;    /* training samples seen this epoch */
  double loss;          /* mean training loss over the epoch */
  double accuracy;      /* training accuracy over the epoch (training mode) */
  gboolean has_validation;
  double val_loss;
  double val_accuracy;
  double seconds;       /* wall time of the epoch, validation included */
} MirEpochStats;

typedef void (*MirEpochFunc) (const MirEpochStats *stats, gpointer user_data);

/* Called after each batch, e.g. for a progress bar. */
typedef void (*MirBatchFunc) (guint epoch, guint batch, guint n_batches, double running_loss,
                              gpointer user_data);

typedef struct
{
  guint epochs;                  /* default 1 */
  guint batch_size;              /* default 32 */
  MirOptimizerOptions optimizer; /* default Adam, Keras defaults */
  guint64 seed;                  /* shuffling, augmentation, dropout */
  double validation_split;       /* Keras semantics: the last fraction; used if !validation */
  MirDataset *validation;        /* a separate validation set, or NULL */
  MirPreprocessMode preprocess;  /* how images become floats (default SCALE) */
  MirAugmentOptions augment;     /* training batches only */
  guint n_threads;               /* data-parallel workers; 0: mir_parallel_threads() */
  double lr_decay;               /* step decay: the learning rate is multiplied by this */
  guint lr_decay_every;          /* every this many epochs (0: constant rate) */
  MirEpochFunc epoch_func;
  MirBatchFunc batch_func;
  gpointer user_data;
} MirTrainOptions;

void      mir_train_options_init (MirTrainOptions *options);

/* Trains @model (which the caller owns: its weights change in place) on
 * @data.  On success all epochs ran.  On failure (G_IO_ERROR_CANCELLED when
 * @cancellable fired) the weights are those of the last finished epoch (the
 * initial ones if none finished) and @epochs_done (may be NULL) says how
 * many finished. */
gboolean  mir_train              (MirModel              *model,
                                  MirDataset            *data,
                                  const MirTrainOptions *options,
                                  guint                 *epochs_done,
                                  GCancellable          *cancellable,
                                  GError               **error);

/* One training step's gradients without the update: the mean loss over
 * @batch (@labels) and its gradient for every trainable weight (in
 * mir_model_dup_layers() order, layer by layer, then weight by weight; NULL
 * where the weight gets none), computed with @n_threads workers exactly as
 * mir_train() does (BatchNormalization's moving statistics are updated).
 * @grads: transfer full. */
gboolean  mir_train_gradients    (MirModel      *model,
                                  MirTensor     *batch,
                                  const gint32  *labels,
                                  guint          n_threads,
                                  guint64        seed,
                                  GPtrArray    **grads,
                                  double        *loss,
                                  GError       **error);

/* Mean loss and accuracy of @model on @data (inference mode). */
gboolean  mir_evaluate_dataset   (MirModel          *model,
                                  MirDataset        *data,
                                  MirPreprocessMode  preprocess,
                                  guint              batch_size,
                                  double            *loss,
                                  double            *accuracy,
                                  GCancellable      *cancellable,
                                  GError           **error);

/* The model's first output (probabilities, head activation applied) for
 * every image: an N×K tensor.  Transfer full. */
MirTensor *mir_predict_dataset   (MirModel          *model,
                                  MirDataset        *data,
                                  MirPreprocessMode  preprocess,
                                  guint              batch_size,
                                  GCancellable      *cancellable,
                                  GError           **error);

G_END_DECLS
