#define G_LOG_DOMAIN "mir-scene"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "mir-scene.h"
#include "detect/mir-detect.h"
#include "mir-error.h"

void
mir_scene_options_init_default (MirSceneOptions *o)
{
  memset (o, 0, sizeof *o);
  o->width = 800;
  o->height = 400;
  o->item_size = 150;
  o->size_jitter = 0.1;
  o->textured = FALSE;
  o->background_level = 0;
  o->seed = 1;
  /* seed 000's photo: two dogs and two cats; here two sneakers (7), two
   * trousers (1), and two items of other classes */
  o->n_items = 6;
  o->item_classes[0] = 7;
  o->item_classes[1] = 7;
  o->item_classes[2] = 1;
  o->item_classes[3] = 1;
  o->item_classes[4] = 8;
  o->item_classes[5] = 0;
}

void
mir_scene_free (MirScene *scene)
{
  if (scene == NULL)
    return;
  g_clear_pointer (&scene->image, mir_image_unref);
  if (scene->objects)
    {
      for (guint i = 0; i < scene->objects->len; i++)
        g_free (g_array_index (scene->objects, MirSceneObject, i).class_name);
      g_array_unref (scene->objects);
    }
  g_free (scene);
}

/* Bilinear upscaling of a grey H×W item into the scene at (x, y), size s×s;
 * the item's pixels are drawn over the background with max() so its black
 * surround does not cut a square hole in a textured background. */
static void
paste_item (MirImage *scene, const guint8 *item, int ih, int iw, int ic, int x, int y, int s)
{
  for (int dy = 0; dy < s; dy++)
    for (int dx = 0; dx < s; dx++)
      {
        double sy = (dy + 0.5) * ih / s - 0.5, sx = (dx + 0.5) * iw / s - 0.5;
        int y0, x0, y1, x1;
        double fy, fx, v;
        guint8 *p;

        sy = CLAMP (sy, 0, ih - 1);
        sx = CLAMP (sx, 0, iw - 1);
        y0 = (int) floor (sy);
        x0 = (int) floor (sx);
        y1 = MIN (y0 + 1, ih - 1);
        x1 = MIN (x0 + 1, iw - 1);
        fy = sy - y0;
        fx = sx - x0;
        p = scene->pixels + (y + dy) * scene->rowstride + 3 * (x + dx);
        for (int c = 0; c < 3; c++)
          {
            int cc = ic == 3 ? c : 0;
            v = (1 - fy) * ((1 - fx) * item[(y0 * iw + x0) * ic + cc] + fx * item[(y0 * iw + x1) * ic + cc]) +
                fy * ((1 - fx) * item[(y1 * iw + x0) * ic + cc] + fx * item[(y1 * iw + x1) * ic + cc]);
            p[c] = (guint8) MAX (p[c], (int) (v + 0.5));
          }
      }
}

MirScene *
mir_scene_generate (MirDataset *items, const MirSceneOptions *o, GError **error)
{
  g_autoptr(MirScene) scene = g_new0 (MirScene, 1);
  g_autoptr(GRand) rng = g_rand_new_with_seed (o->seed);
  g_autoptr(GHashTable) used = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) slots = g_hash_table_new (NULL, NULL);

  if (o->width < 32 || o->height < 32 || o->width > MIR_IMAGE_MAX_SIDE ||
      o->height > MIR_IMAGE_MAX_SIDE || o->item_size < 8 ||
      o->item_size * (1 + o->size_jitter) > MIN (o->width, o->height) ||
      o->n_items > MIR_SCENE_MAX_ITEMS || o->size_jitter < 0 || o->size_jitter >= 1 ||
      o->background_level < 0 || o->background_level > 255)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Scene settings out of range (items must fit in the scene, at most %d)"),
                   MIR_SCENE_MAX_ITEMS);
      return NULL;
    }
  scene->image = mir_image_new (o->width, o->height, 3, error);
  if (scene->image == NULL)
    return NULL;
  scene->objects = g_array_new (FALSE, FALSE, sizeof (MirSceneObject));

  for (int y = 0; y < o->height; y++)
    for (int x = 0; x < o->width; x++)
      {
        guint8 *p = scene->image->pixels + y * scene->image->rowstride + 3 * x;
        int v = o->background_level;
        if (o->textured)
          v += (int) (12.0 * y / o->height + g_rand_double_range (rng, -6, 6));
        p[0] = p[1] = p[2] = (guint8) CLAMP (v, 0, 255);
      }

  for (guint k = 0; k < o->n_items; k++)
    {
      gint want = o->item_classes[k];
      gint64 idx = -1;
      int s, x = 0, y = 0, tries;
      MirSceneObject obj = { 0 };

      if (want >= (gint) items->n_classes)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("The dataset has no class %d"), want);
          return NULL;
        }
      for (tries = 0; tries < 100000; tries++)
        {
          gint64 i = g_rand_int_range (rng, 0, (gint32) items->n);
          if ((want < 0 || items->labels[i] == want) &&
              !g_hash_table_contains (used, GINT_TO_POINTER ((gint) i)))
            {
              idx = i;
              break;
            }
        }
      if (idx < 0)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Not enough images of class %d in the dataset"), want);
          return NULL;
        }
      g_hash_table_add (used, GINT_TO_POINTER ((gint) idx));
      s = (int) (o->item_size * (1 + g_rand_double_range (rng, -o->size_jitter, o->size_jitter)));
      /* a jittered grid of slots: always succeeds while there are free slots */
      {
        int smax = (int) ceil (o->item_size * (1 + o->size_jitter)) + 4;
        int cols = MAX (o->width / smax, 1), rows = MAX (o->height / smax, 1);
        int sw = o->width / cols, sh = o->height / rows, slot = -1;

        for (tries = 0; tries < 1000; tries++)
          {
            int cand = g_rand_int_range (rng, 0, cols * rows);
            if (!g_hash_table_contains (slots, GINT_TO_POINTER (cand + 1)))
              {
                slot = cand;
                break;
              }
          }
        if (slot < 0)
          {
            g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                         _("Cannot place %u items of %d px without overlap in a %d×%d scene"),
                         o->n_items, o->item_size, o->width, o->height);
            return NULL;
          }
        g_hash_table_add (slots, GINT_TO_POINTER (slot + 1));
        x = (slot % cols) * sw + g_rand_int_range (rng, 0, MAX (sw - s, 0) + 1);
        y = (slot / cols) * sh + g_rand_int_range (rng, 0, MAX (sh - s, 0) + 1);
        x = MIN (x, o->width - s);
        y = MIN (y, o->height - s);
      }
      paste_item (scene->image, mir_dataset_get_image (items, idx), (int) items->height,
                  (int) items->width, (int) items->channels, x, y, s);
      obj.class_index = items->labels[idx];
      obj.class_name = g_strdup (items->class_names ? items->class_names[obj.class_index] : "?");
      obj.x = x;
      obj.y = y;
      obj.w = s;
      obj.h = s;
      obj.source_index = idx;
      g_array_append_val (scene->objects, obj);
    }
  return g_steal_pointer (&scene);
}

char *
mir_scene_to_json (const MirScene *scene, const char *image_name)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *text = NULL;

  /* the ground-truth writer of the detector, next to its loader */
  json_builder_begin_object (b);
  mir_detect_truth_json_add_header (b, image_name, scene->image->width, scene->image->height);
  json_builder_set_member_name (b, "objects");
  json_builder_begin_array (b);
  for (guint i = 0; i < scene->objects->len; i++)
    {
      const MirSceneObject *o = &g_array_index (scene->objects, MirSceneObject, i);

      mir_detect_truth_json_begin_object (b, o->class_name, (guint) o->class_index,
                                          o->x, o->y, o->w, o->h);
      json_builder_set_member_name (b, "source_index");
      json_builder_add_int_value (b, o->source_index);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  text = mir_detect_json_to_text (b);
  /* without the final line break, as before */
  text[strlen (text) - 1] = '\0';
  return g_steal_pointer (&text);
}

gboolean
mir_scene_save_json (const MirScene *scene, const char *image_name, const char *path,
                     GError **error)
{
  g_autofree char *json = mir_scene_to_json (scene, image_name);
  return g_file_set_contents (path, json, -1, error);
}

MirDataset *
mir_scene_add_background (MirDataset *items, gint64 n, int level, guint32 seed, GError **error)
{
  g_autoptr(MirDataset) out = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  gsize sz = mir_dataset_image_size (items);
  gint64 H = items->height, W = items->width, C = items->channels;
  guint label, n_classes = items->n_classes;
  gint64 n_items = 0;
  g_autofree gboolean *positions = NULL;

  if (n < 0 || n > G_MAXINT32 - items->n || level < 0 || level > 255)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Bad number of background samples"));
      return NULL;
    }
  /* reuse a "background" class the dataset already names (it has no samples) */
  if (n_classes > 0 && items->class_names &&
      g_strcmp0 (items->class_names[n_classes - 1], "background") == 0)
    label = n_classes - 1;
  else
    label = n_classes++;
  for (gint64 i = 0; i < items->n; i++)
    n_items += items->labels[i] != (gint32) label;
  if (n_items == 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Background crops need item images to cut"));
      return NULL;
    }
  out = mir_dataset_new (items->n + n, H, W, C, n_classes, error);
  if (out == NULL)
    return NULL;
  positions = g_new0 (gboolean, items->n + n);
  /* Background samples are spread evenly among the items (position j is a
   * background sample when floor((j + 1) n / total) steps), so that a
   * validation split taken from the end gets its share of each. */
  {
    gint64 total = items->n + n, src = 0;
    for (gint64 j = 0; j < total; j++)
      {
        gboolean bg = (j + 1) * n / total > j * n / total;
        positions[j] = bg;
        if (!bg)
          {
            memcpy (mir_dataset_get_image (out, j), mir_dataset_get_image (items, src), sz);
            out->labels[j] = items->labels[src];
            src++;
          }
      }
  }
  for (guint i = 0; i < n_classes; i++)
    g_ptr_array_add (names, i == label ? (char *) "background"
                            : items->class_names ? items->class_names[i] : (char *) "?");
  if (!mir_dataset_set_class_names (out, (const char *const *) names->pdata, names->len, error))
    return NULL;

  for (gint64 j = 0, k = 0; j < items->n + n; j++)
    {
      guint8 *dst;
      int kind;

      if (!positions[j])
        continue;
      dst = mir_dataset_get_image (out, j);
      kind = (int) (k++ % 3);
      out->labels[j] = (gint32) label;
      if (kind == 0 || kind == 1)
        {
          double amp = kind == 0 ? 2.0 : g_rand_double_range (rng, 4, 16);
          int lvl = level + g_rand_int_range (rng, 0, 13);
          for (gsize i = 0; i < sz; i++)
            {
              /* one draw per pixel (CLAMP would evaluate its argument twice) */
              double v = lvl + g_rand_double_range (rng, -amp, amp);
              dst[i] = (guint8) CLAMP (v, 0.0, 255.0);
            }
        }
      else
        {
          /* an item shifted so that 35–90% of it lies outside the frame: a window
           * that far off an item must say "nothing here", not guess a class */
          gint64 src;
          const guint8 *im;

          do
            src = g_rand_int_range (rng, 0, (gint32) items->n);
          while (items->labels[src] == (gint32) label);
          im = mir_dataset_get_image (items, src);
          double out_frac = g_rand_double_range (rng, 0.35, 0.9);
          int side = g_rand_int_range (rng, 0, 4);
          int shift_x = 0, shift_y = 0;
          int along = g_rand_int_range (rng, -(int) (W / 4), (int) (W / 4) + 1);

          switch (side)
            {
            case 0: shift_x = (int) (out_frac * W); shift_y = along; break;
            case 1: shift_x = -(int) (out_frac * W); shift_y = along; break;
            case 2: shift_y = (int) (out_frac * H); shift_x = along; break;
            default: shift_y = -(int) (out_frac * H); shift_x = along; break;
            }
          for (gint64 y = 0; y < H; y++)
            for (gint64 x = 0; x < W; x++)
              for (gint64 c = 0; c < C; c++)
                {
                  gint64 sy = y - shift_y, sx = x - shift_x;
                  int v = level;
                  if (sy >= 0 && sy < H && sx >= 0 && sx < W)
                    v = MAX (level, im[(sy * W + sx) * C + c]);
                  v += g_rand_int_range (rng, -2, 3);
                  dst[(y * W + x) * C + c] = (guint8) CLAMP (v, 0, 255);
                }
        }
    }
  return g_steal_pointer (&out);
}
