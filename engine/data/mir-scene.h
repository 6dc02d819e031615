/* mir-scene.h: demo scenes with ground truth, and the "background" samples
 * that give the built-in model a "nothing here" answer.
 *
 * A scene is the size of seed 000's photo (400×800 RGB) with items from a
 * dataset's TEST split (never training images) scaled up to about the seed's
 * window size (150 px) and placed without overlap on a plain or textured
 * background.  Its ground truth is a list of (class, box). */
#pragma once

#include <gio/gio.h>

#include "mir-image.h"
#include "mir-dataset.h"

G_BEGIN_DECLS

typedef struct
{
  int width;            /* 800 */
  int height;           /* 400 */
  int item_size;        /* 150: nominal side of an item */
  double size_jitter;   /* ±fraction of item_size (0.1) */
  gboolean textured;    /* low-amplitude noise and a gentle gradient instead of flat */
  int background_level; /* 0..255; Fashion-MNIST items sit on 0 */
  guint32 seed;
  /* which items: @n_items entries of class indices (−1: any class) */
  guint n_items;
  gint item_classes[32];
} MirSceneOptions;

#define MIR_SCENE_MAX_ITEMS 32

typedef struct
{
  gint class_index;
  char *class_name;
  int x, y, w, h;
  gint64 source_index; /* index in the dataset it came from */
} MirSceneObject;

typedef struct
{
  MirImage *image;
  GArray *objects;      /* MirSceneObject */
} MirScene;

void      mir_scene_options_init_default (MirSceneOptions *options);
MirScene *mir_scene_generate   (MirDataset            *test_items,
                                const MirSceneOptions *options,
                                GError               **error);
void      mir_scene_free       (MirScene *scene);
/* {"image": ..., "width": W, "height": H, "objects": [{"class": name,
 * "class_index": i, "box": [x, y, w, h], "source_index": n}]} */
char     *mir_scene_to_json    (const MirScene *scene, const char *image_name);
gboolean  mir_scene_save_json  (const MirScene *scene, const char *image_name, const char *path,
                                GError **error);

/* Appends @n "background" images of the dataset's size to a new dataset
 * built from @items (same H×W×C, same classes plus one named "background"
 * whose label is the last): a third blank canvas at @level (±noise), a third
 * noise at that level, a third crops that cut one of @items' images off
 * (between 35% and 90% of it outside the frame), as a sliding window that
 * misses an item sees it.  Drawn with @seed. */
MirDataset *mir_scene_add_background (MirDataset *items,
                                      gint64      n,
                                      int         level,
                                      guint32     seed,
                                      GError    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirScene, mir_scene_free)

G_END_DECLS
