/* Demo scenes and background samples (engine/data/mir-scene.c). */
#include <string.h>

#include "mir.h"
#include "mir-scene.h"

static MirDataset *
toy_items (void)
{
  /* 40 images 4×4×1 in 4 classes; image i is filled with 10 + i */
  g_autoptr(GError) error = NULL;
  MirDataset *d = mir_dataset_new (40, 4, 4, 1, 4, &error);

  g_assert_no_error (error);
  for (gint64 i = 0; i < d->n; i++)
    {
      memset (mir_dataset_get_image (d, i), (int) (10 + i), 16);
      d->labels[i] = (gint32) (i % 4);
    }
  return d;
}

static void
test_scene_layout (void)
{
  g_autoptr(MirDataset) items = toy_items ();
  g_autoptr(GError) error = NULL;
  MirSceneOptions o;
  g_autoptr(MirScene) s = NULL;
  g_autoptr(MirScene) again = NULL;

  mir_scene_options_init_default (&o);
  o.item_classes[0] = o.item_classes[1] = 1;
  o.item_classes[2] = o.item_classes[3] = 2;
  o.item_classes[4] = 3;
  o.item_classes[5] = 0;
  s = mir_scene_generate (items, &o, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->image->width, ==, 800);
  g_assert_cmpint (s->image->height, ==, 400);
  g_assert_cmpuint (s->objects->len, ==, 6);
  for (guint i = 0; i < s->objects->len; i++)
    {
      MirSceneObject *a = &g_array_index (s->objects, MirSceneObject, i);
      const guint8 *centre;

      /* the class asked for, the label of the source image, inside the scene */
      g_assert_cmpint (a->class_index, ==, o.item_classes[i]);
      g_assert_cmpint (items->labels[a->source_index], ==, a->class_index);
      g_assert_cmpint (a->x, >=, 0);
      g_assert_cmpint (a->y, >=, 0);
      g_assert_cmpint (a->x + a->w, <=, 800);
      g_assert_cmpint (a->y + a->h, <=, 400);
      g_assert_cmpint (ABS (a->w - 150), <=, 15);
      /* the item's (constant) value is drawn at its centre */
      centre = s->image->pixels + (a->y + a->h / 2) * s->image->rowstride + 3 * (a->x + a->w / 2);
      g_assert_cmpuint (centre[0], ==, 10 + a->source_index);
      for (guint j = 0; j < i; j++)
        {
          MirSceneObject *b = &g_array_index (s->objects, MirSceneObject, j);
          gboolean overlap = a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h &&
                             b->y < a->y + a->h;
          g_assert_false (overlap);
          g_assert_cmpint (a->source_index, !=, b->source_index);
        }
    }
  /* reproducible from the seed */
  again = mir_scene_generate (items, &o, &error);
  g_assert_cmpmem (s->image->pixels, s->image->rowstride * 400, again->image->pixels,
                   again->image->rowstride * 400);
  {
    g_autofree char *json = mir_scene_to_json (s, "scene.png");
    g_assert_nonnull (strstr (json, "\"box\""));
  }
  /* too many items for the canvas is an error, not a hang */
  o.n_items = 20;
  for (int i = 0; i < 20; i++)
    o.item_classes[i] = -1;
  g_assert_null (mir_scene_generate (items, &o, &error));
  g_assert_error (error, MIR_ERROR, MIR_ERROR_INVALID);
}

static void
test_background_samples (void)
{
  g_autoptr(MirDataset) items = toy_items ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MirDataset) d = mir_scene_add_background (items, 12, 0, 3, &error);
  gint64 bg = 0, last_bg = -1;
  guint bg_label;

  g_assert_no_error (error);
  g_assert_cmpint (d->n, ==, 52);
  g_assert_cmpuint (d->n_classes, ==, 5);
  bg_label = d->n_classes - 1;
  g_assert_cmpstr (d->class_names[bg_label], ==, "background");
  for (gint64 i = 0; i < d->n; i++)
    if (d->labels[i] == (gint32) bg_label)
      {
        /* spread out: never two in a row with 40 items for 12 samples */
        g_assert_cmpint (i - last_bg, >, 1);
        last_bg = i;
        bg++;
      }
  g_assert_cmpint (bg, ==, 12);
  /* the items keep their order and labels */
  for (gint64 i = 0, k = 0; i < d->n; i++)
    if (d->labels[i] != (gint32) bg_label)
      {
        g_assert_cmpint (d->labels[i], ==, items->labels[k]);
        g_assert_cmpuint (mir_dataset_get_image (d, i)[0], ==, 10 + k);
        k++;
      }
  /* the last tenth (a validation split) holds background samples too */
  {
    gint64 tail = 0;
    for (gint64 i = d->n - 6; i < d->n; i++)
      tail += d->labels[i] == (gint32) bg_label;
    g_assert_cmpint (tail, >=, 1);
  }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scene/layout", test_scene_layout);
  g_test_add_func ("/scene/background-samples", test_background_samples);
  return g_test_run ();
}
