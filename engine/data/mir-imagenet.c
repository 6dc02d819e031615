/* mir-imagenet.c: the ImageNet class names from the engine's GResource. */
#define G_LOG_DOMAIN "mir-imagenet"

#include <gio/gio.h>
#include <string.h>

#include "mir-imagenet.h"
#include "mir-engine-resources.h"

typedef struct
{
  char **wnids;
  char **names;
} ImagenetNames;

static GBytes *
lookup (const char *name)
{
  g_autofree char *path = g_strconcat ("/io/github/mirada/engine/imagenet/", name, NULL);
  g_autoptr(GError) error = NULL;
  GBytes *bytes = g_resource_lookup_data (mir_engine_get_resource (), path,
                                          G_RESOURCE_LOOKUP_FLAGS_NONE, &error);

  /* Compiled in: missing is a build error, not a user's. */
  if (bytes == NULL)
    g_error ("%s: %s", path, error->message);
  return bytes;
}

static gpointer
load_names (gpointer data)
{
  ImagenetNames *in = g_new0 (ImagenetNames, 1);
  g_autoptr(GBytes) classes = lookup ("imagenet_classes.txt");
  g_autoptr(GBytes) synsets = lookup ("imagenet_synsets.txt");
  g_autoptr(GHashTable) first_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                            g_free);
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  (void) data;

  /* "n01440764 tench, Tinca tinca": the id, then the names; keep the first. */
  lines = g_strsplit (g_bytes_get_data (synsets, NULL), "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      const char *space = strchr (line, ' ');
      const char *end;

      if (space == NULL)
        continue;
      end = strchr (space + 1, ',');
      if (end == NULL)
        end = space + 1 + strlen (space + 1);
      g_hash_table_insert (first_name, g_strndup (line, (gsize) (space - line)),
                           g_strstrip (g_strndup (space + 1, (gsize) (end - space - 1))));
    }
  g_clear_pointer (&lines, g_strfreev);

  in->wnids = g_new0 (char *, MIR_IMAGENET_N_CLASSES + 1);
  in->names = g_new0 (char *, MIR_IMAGENET_N_CLASSES + 1);
  lines = g_strsplit (g_bytes_get_data (classes, NULL), "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *wnid = g_strstrip (lines[i]);
      const char *name;

      if (*wnid == '\0')
        continue;
      if (n == MIR_IMAGENET_N_CLASSES || !(name = g_hash_table_lookup (first_name, wnid)))
        g_error ("imagenet_classes.txt: line %u ('%s') is not one of %d known ids", i + 1,
                 wnid, MIR_IMAGENET_N_CLASSES);
      in->wnids[n] = g_strdup (wnid);
      in->names[n] = g_strdup (name);
      n++;
    }
  if (n != MIR_IMAGENET_N_CLASSES)
    g_error ("imagenet_classes.txt lists %u ids, not %d", n, MIR_IMAGENET_N_CLASSES);
  return in;
}

static ImagenetNames *
get (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, load_names, NULL);
}

const char *const *
mir_imagenet_class_names (void)
{
  return (const char *const *) get ()->names;
}

const char *const *
mir_imagenet_wnids (void)
{
  return (const char *const *) get ()->wnids;
}
