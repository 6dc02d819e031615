/* mir-dataset.h: in-memory image classification datasets for the trainer.
 *
 * A dataset holds N images of H×W×C bytes (NHWC, uint8), one integer label
 * per image and the class names.  Readers: gzip IDX files (MNIST,
 * Fashion-MNIST, a folder of them), CIFAR-10/100 binary batches (the
 * archive or its folder) and folder-per-class image trees (like Keras'
 * flow_from_directory; the app decodes the images).  Batches become NHWC
 * float tensors with the model's preprocessing and optional augmentation.
 */
#pragma once

#include <gio/gio.h>

#include "mir-model.h"

G_BEGIN_DECLS

/* Where Debian's dataset-fashion-mnist package installs the files. */
#define MIR_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct _MirDataset MirDataset;

struct _MirDataset
{
  gatomicrefcount ref_count;
  gint64 n;            /* number of images */
  gint64 height;
  gint64 width;
  gint64 channels;
  guint8 *pixels;      /* n × height × width × channels bytes, owned */
  gint32 *labels;      /* n labels in [0, n_classes), owned */
  guint n_classes;
  char **class_names;  /* n_classes names, NULL-terminated, owned */
};

/* A dataset of @n zeroed images, labels 0 and @n_classes classes named
 * "class <i>".  Checks the size for overflow. */
MirDataset *mir_dataset_new           (gint64   n,
                                       gint64   height,
                                       gint64   width,
                                       gint64   channels,
                                       guint    n_classes,
                                       GError **error);
MirDataset *mir_dataset_ref           (MirDataset *self);
void        mir_dataset_unref         (MirDataset *self);

/* Bytes of one image (height × width × channels). */
gsize       mir_dataset_image_size    (const MirDataset *self);
guint8     *mir_dataset_get_image     (MirDataset *self, gint64 index);

/* Replaces the class names (@names has @n_classes entries, or is
 * NULL-terminated when @n_classes is 0).  The count may grow (a class with
 * no samples yet, e.g. "background"), but never below the largest label. */
gboolean    mir_dataset_set_class_names (MirDataset         *self,
                                         const char *const  *names,
                                         guint               n_classes,
                                         GError            **error);

/* Reads a (gzip-compressed or plain) IDX image file (magic 0x00000803,
 * N×H×W bytes) and its IDX label file (magic 0x00000801, N bytes). */
MirDataset *mir_dataset_load_idx      (const char  *images_path,
                                       const char  *labels_path,
                                       GError     **error);

/* The Fashion-MNIST training (60000) or test (10000) set from @dir (NULL:
 * MIR_FASHION_MNIST_DIR), with its class names. */
MirDataset *mir_dataset_load_fashion_mnist (const char  *dir,
                                            gboolean     train,
                                            GError     **error);

typedef enum
{
  MIR_DATASET_FORMAT_FOLDER, /* one subfolder of images per class (or not a dataset) */
  MIR_DATASET_FORMAT_CIFAR,  /* CIFAR-10/100 binary: a .tar.gz/.tar or its folder */
  MIR_DATASET_FORMAT_IDX,    /* a folder of MNIST-style IDX files */
} MirDatasetFormat;

/* What @path holds, from its names: a folder with data_batch_1.bin,
 * test_batch.bin, train.bin or test.bin (or a cifar-10-batches-bin or
 * cifar-100-binary subfolder with them) or a file named .tar.gz, .tgz or
 * .tar is CIFAR; a folder with train-images-idx3-ubyte or
 * t10k-images-idx3-ubyte (also "train-images.idx3-ubyte", optionally .gz)
 * is IDX; anything else is taken for a folder per class. */
MirDatasetFormat mir_dataset_detect_format (const char *path);

/* The CIFAR-10 or CIFAR-100 binary version (cifar-10-binary.tar.gz,
 * cifar-100-binary.tar.gz, or either extracted), read without extracting
 * anything: the training set (CIFAR-10: data_batch_N.bin in the order of N;
 * CIFAR-100: train.bin) or the test set (test_batch.bin, test.bin).  Images
 * are 32×32×3 (the records' planar RGB becomes HWC); CIFAR-100 uses the fine
 * labels (the second label byte).  Class names from batches.meta.txt or
 * fine_label_names.txt when present (CIFAR-10's ten names otherwise). */
MirDataset *mir_dataset_load_cifar    (const char  *path,
                                       gboolean     train,
                                       GError     **error);

/* A folder with train-images-idx3-ubyte and train-labels-idx1-ubyte (or
 * the t10k- test files), plain or .gz.  Class names from a labels.txt in the
 * folder (one per line), else "0", "1", … */
MirDataset *mir_dataset_load_idx_folder (const char  *dir,
                                         gboolean     train,
                                         GError     **error);

/* The 10 Fashion-MNIST class names, NULL-terminated. */
const char *const *mir_fashion_mnist_class_names (void);

/* Decodes the image file @path into @pixels: exactly @height × @width ×
 * @channels bytes (HWC), resized and converted as needed.  Provided by the
 * app (GdkPixbuf), since the engine does not decode image formats. */
typedef gboolean (*MirImageDecodeFunc) (const char *path,
                                        gint64      height,
                                        gint64      width,
                                        gint64      channels,
                                        guint8     *pixels,
                                        gpointer    user_data,
                                        GError    **error);

/* A folder-per-class tree: every subdirectory of @dir is a class (sorted
 * alphabetically, like Keras' flow_from_directory), every file in it with
 * an image extension (png, jpg, jpeg, bmp, gif, ppm, pgm, tif, tiff, webp)
 * an image of that class, decoded with @decode into @height × @width ×
 * @channels.  Checks @cancellable per image. */
MirDataset *mir_dataset_load_directory (const char         *dir,
                                        gint64              height,
                                        gint64              width,
                                        gint64              channels,
                                        MirImageDecodeFunc  decode,
                                        gpointer            user_data,
                                        GCancellable       *cancellable,
                                        GError            **error);

/* Told about each file mir_dataset_load_directory_skipping() leaves out:
 * its path and why (@decode's error). */
typedef void (*MirDatasetSkipFunc) (const char   *path,
                                    const GError *why,
                                    gpointer      user_data);

/* Like mir_dataset_load_directory(), but a file @decode cannot read (not an
 * image, corrupt, unreadable) is left out, after @skip (may be NULL) is
 * told, instead of failing the load; the load fails only when a class is
 * left with no images.  @n_skipped (may be NULL): how many were left out. */
MirDataset *mir_dataset_load_directory_skipping (const char         *dir,
                                                 gint64              height,
                                                 gint64              width,
                                                 gint64              channels,
                                                 MirImageDecodeFunc  decode,
                                                 gpointer            user_data,
                                                 MirDatasetSkipFunc  skip,
                                                 gpointer            skip_data,
                                                 guint              *n_skipped,
                                                 GCancellable       *cancellable,
                                                 GError            **error);

/* A copy of images [@start, @start + @count). */
MirDataset *mir_dataset_slice         (MirDataset  *self,
                                       gint64       start,
                                       gint64       count,
                                       GError     **error);

/* Keras' validation_split: the last round(@fraction × N) images (taken
 * before shuffling) become @validation, the rest @train.  @fraction in
 * [0, 1); 0 gives a NULL @validation. */
gboolean    mir_dataset_split         (MirDataset  *self,
                                       double       fraction,
                                       MirDataset **train,
                                       MirDataset **validation,
                                       GError     **error);

/* A stratified, shuffled split for datasets stored class by class (folder
 * trees): the images are shuffled with @seed, then each class gives
 * round(@fraction × its images) of them, but never all, to @validation
 * (so that every class is both trained on and validated in the same
 * proportion), the rest to @train, both in the shuffled order.  The same
 * @seed gives the same split.  @fraction in [0, 1); 0 gives a NULL
 * @validation.  Fails when no image at all would be left for validation. */
gboolean    mir_dataset_split_stratified (MirDataset  *self,
                                          double       fraction,
                                          guint64      seed,
                                          MirDataset **train,
                                          MirDataset **validation,
                                          GError     **error);

/* Images per class: @counts gets @self->n_classes entries. */
void        mir_dataset_count_classes (const MirDataset *self,
                                       gint64           *counts);

/* Fisher-Yates shuffle of @indices with @rng. */
void        mir_shuffle_indices       (guint  *indices,
                                       gsize   n,
                                       GRand  *rng);

typedef struct
{
  guint max_shift;     /* random shift of up to this many pixels in x and y, zero fill */
  gboolean flip;       /* random horizontal flip (p = 0.5) */
} MirAugmentOptions;

/* Writes images @indices[0..@n) into the first @n batch slots of @batch
 * (N×H×W×C float, contiguous, N >= @n, H/W/C those of the dataset),
 * preprocessed with @mode (see MirPreprocessMode), augmented with @augment
 * (may be NULL; needs @rng) and writes their labels into @labels (may be
 * NULL). */
gboolean    mir_dataset_fill_batch    (MirDataset              *self,
                                       const guint             *indices,
                                       gsize                    n,
                                       MirTensor               *batch,
                                       gint32                  *labels,
                                       MirPreprocessMode        mode,
                                       const MirAugmentOptions *augment,
                                       GRand                   *rng,
                                       GError                 **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirDataset, mir_dataset_unref)

G_END_DECLS
