/* mir-sidecar.h: what a model file does not store, kept beside it.
 *
 * A model `cats.h5` may have, in the same folder:
 *
 * - `cats.mirada.json` (or `cats.h5.mirada.json`), Mirada's own sidecar:
 *
 *       {
 *         "mirada": 1,
 *         "class_names": ["cat", "dog"],
 *         "preprocess": "scale",
 *         "resize": "nearest"
 *       }
 *
 *   Every member is optional.  "detector_examples" holds the detector's
 *   examples (background and classes by example: labels and embeddings, the
 *   format of mir_detect_examples_to_json()); saving the rest keeps it.  "class_names" lists the output classes in
 *   output order; "preprocess" is how pixels (0..255) become inputs: "none"
 *   (raw), "scale" (x / 255), "tf" (x / 127.5 - 1), "caffe" (RGB to BGR, minus
 *   the ImageNet means 103.939, 116.779, 123.68), "torch" (x / 255, minus
 *   0.485, 0.456, 0.406, divided by 0.229, 0.224, 0.225); "resize" is
 *   "nearest" (Keras load_img) or "bilinear" (tf.image.resize).  Unknown
 *   members are ignored, so later versions can add some.
 *
 * - `cats.labels.txt` (or `cats.h5.labels.txt`), else `labels.txt`: one class
 *   name per line.  Teachable Machine's "0 Cat" / "1 Dog" form (every line
 *   starting with its own 0-based index) is read as "Cat", "Dog"; an index
 *   is only stripped then, so "5 Galoon" alone stays "5 Galoon" while
 *   "0 5 Galoon" becomes "5 Galoon".  A Teachable Machine `labels.txt` (the
 *   indexed form, named `labels.txt`, or `<stem>.labels.txt` beside a
 *   `<stem>` ending in `keras_model`, Teachable Machine's export name) also
 *   implies its preprocessing ("tf") unless a sidecar says otherwise.  A
 *   labels file that starts with '{' is Keras' `imagenet_class_index.json`
 *   form instead: {"0": ["n01440764", "tench"], …} (each class's index as
 *   its key, the name last in its list).
 *
 * The sidecar wins over the labels file for the members it has.
 */
#pragma once

#include "mir-model.h"

G_BEGIN_DECLS

/* At most this many class names (labels files, sidecars, metadata.json). */
#define MIR_MAX_CLASS_NAMES 100000

/* Reads a `.mirada.json` sidecar into @meta (members it has replace those in
 * @meta; sets meta->source, and meta->preprocess_from to SIDECAR when it has
 * "preprocess"). */
gboolean    mir_sidecar_load          (const char          *sidecar_path,
                                       MirModelMeta        *meta,
                                       GError             **error);
/* Writes @meta as a sidecar atomically (temporary file + rename). */
gboolean    mir_sidecar_save          (const char          *sidecar_path,
                                       const MirModelMeta  *meta,
                                       GError             **error);
/* Member @member of the sidecar at @sidecar_path as JSON text (transfer full),
 * or NULL without an error when the file or the member does not exist. */
char       *mir_sidecar_load_member   (const char          *sidecar_path,
                                       const char          *member,
                                       GError             **error);
/* Sets member @member of the sidecar to the JSON @json_text (NULL removes
 * it), keeping the other members; creates the file ({"mirada": 1, ...}) when
 * there is none.  Atomic, as mir_sidecar_save(). */
gboolean    mir_sidecar_save_member   (const char          *sidecar_path,
                                       const char          *member,
                                       const char          *json_text,
                                       GError             **error);
/* The sidecar path Mirada writes for @model_path: the model's path with its
 * extension replaced by `.mirada.json`.  Transfer full. */
char       *mir_sidecar_path_for_model (const char         *model_path);
/* Looks for a sidecar and a labels file next to @model_path (names above)
 * and reads what it finds into @meta (a Teachable Machine labels file sets
 * meta->preprocess_from to LABELS).  Finding nothing is not an error; a
 * damaged file is. */
gboolean    mir_sidecar_find_and_load (const char          *model_path,
                                       MirModelMeta        *meta,
                                       GError             **error);

/* Reads a labels file (format above).  @indexed_out (may be NULL) tells
 * whether it was in the indexed Teachable Machine form.  Transfer full. */
char      **mir_labels_load           (const char          *path,
                                       gboolean            *indexed_out,
                                       GError             **error);

const char *mir_resize_mode_to_string   (MirResizeMode mode);
gboolean    mir_resize_mode_from_string (const char     *s,
                                         MirResizeMode  *mode,
                                         GError        **error);

G_END_DECLS
