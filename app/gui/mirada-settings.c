#define G_LOG_DOMAIN "mirada-settings"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-settings.h"

static gboolean
choice_get_mapping (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data)
{
  const char *const *choices = user_data;
  const char *s = g_variant_get_string (variant, NULL);

  for (guint i = 0; choices[i] != NULL; i++)
    if (g_strcmp0 (s, choices[i]) == 0)
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
choice_set_mapping (const GValue       *value,
                    const GVariantType *expected_type,
                    gpointer            user_data)
{
  const char *const *choices = user_data;
  guint i = g_value_get_uint (value);

  if (i >= g_strv_length ((char **) choices))
    return NULL;
  return g_variant_new_string (choices[i]);
}

void
mirada_settings_bind_choice (GSettings         *settings,
                             const char        *key,
                             gpointer           object,
                             const char        *property,
                             const char *const *choices)
{
  g_settings_bind_with_mapping (settings, key, object, property, G_SETTINGS_BIND_DEFAULT,
                                choice_get_mapping, choice_set_mapping, (gpointer) choices, NULL);
}

/* ------------------------------------------------------------------ */
/* Finding the schema */

#define SCHEMA_RESOURCE RESOURCE_BASE "/gschemas.compiled"

/* The directories GLib searches for schemas, highest priority first
 * (gio/gsettingsschema.c: GSETTINGS_SCHEMA_DIR, then the user's data dir,
 * then the system data dirs). */
static GPtrArray *
schema_search_path (void)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  const char *env = g_getenv ("GSETTINGS_SCHEMA_DIR");
  const char *const *sys = g_get_system_data_dirs ();

  if (env != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, 0);

      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_ptr_array_add (dirs, g_strdup (parts[i]));
    }
  g_ptr_array_add (dirs, g_build_filename (g_get_user_data_dir (), "glib-2.0", "schemas", NULL));
  for (guint i = 0; sys[i] != NULL; i++)
    g_ptr_array_add (dirs, g_build_filename (sys[i], "glib-2.0", "schemas", NULL));
  return dirs;
}

/* The first schema @id GLib would find, without building (and caching) the
 * default schema source. */
static GSettingsSchema *
lookup_installed (const char *id)
{
  g_autoptr(GPtrArray) dirs = schema_search_path ();

  for (guint i = 0; i < dirs->len; i++)
    {
      g_autoptr(GSettingsSchemaSource) source = NULL;
      g_autofree char *file = g_build_filename (dirs->pdata[i], "gschemas.compiled", NULL);

      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;
      source = g_settings_schema_source_new_from_directory (dirs->pdata[i], NULL, FALSE, NULL);
      if (source != NULL)
        {
          GSettingsSchema *schema = g_settings_schema_source_lookup (source, id, FALSE);

          if (schema != NULL)
            return schema;
        }
    }
  return NULL;
}

/* TRUE if @have has every key of @want, with the same type. */
static gboolean
schema_covers (GSettingsSchema *have, GSettingsSchema *want)
{
  g_auto(GStrv) keys = g_settings_schema_list_keys (want);

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GSettingsSchemaKey) a = NULL;
      g_autoptr(GSettingsSchemaKey) b = NULL;

      if (!g_settings_schema_has_key (have, keys[i]))
        return FALSE;
      a = g_settings_schema_get_key (have, keys[i]);
      b = g_settings_schema_get_key (want, keys[i]);
      if (!g_variant_type_equal (g_settings_schema_key_get_value_type (a),
                                 g_settings_schema_key_get_value_type (b)))
        return FALSE;
    }
  return TRUE;
}

/* Writes the compiled schema bundled in the binary to @dir (only when it
 * differs from what is there). */
static gboolean
write_bundled (GBytes *bytes, const char *dir, GError **error)
{
  g_autofree char *file = g_build_filename (dir, "gschemas.compiled", NULL);
  g_autofree char *old = NULL;
  gsize old_len = 0;
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  if (g_file_get_contents (file, &old, &old_len, NULL) && old_len == len &&
      memcmp (old, data, len) == 0)
    return TRUE;
  return g_file_set_contents (file, data, (gssize) len, error);
}

gboolean
mirada_settings_ensure_schema (GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GSettingsSchema) installed = NULL;
  g_autoptr(GSettingsSchema) bundled = NULL;
  g_autoptr(GSettingsSchemaSource) source = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) local = NULL;
  const char *env;

  bytes = g_resources_lookup_data (SCHEMA_RESOURCE, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  installed = lookup_installed (APPLICATION_ID);
  if (bytes == NULL)
    {
      /* a build without the bundled copy: the installed schema or nothing */
      if (installed != NULL)
        return TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("The settings schema %s is not installed"), APPLICATION_ID);
      return FALSE;
    }

  /* The binary carries the schema it was built with: put it where GLib looks
   * first unless the installed one (a `meson install`, a package) has every
   * key this build reads.  So the build tree runs on a machine where nothing
   * was installed, and a stale system-wide copy never aborts it. */
  dir = g_build_filename (g_get_user_cache_dir (), "mirada", "schemas", PACKAGE_VERSION, NULL);
  if (!write_bundled (bytes, dir, &local))
    {
      g_clear_error (&local);
      g_clear_pointer (&dir, g_free);
      if (!(dir = g_dir_make_tmp ("mirada-schemas-XXXXXX", &local)) ||
          !write_bundled (bytes, dir, &local))
        {
          if (installed != NULL)
            return TRUE;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       _("Cannot prepare the settings schema: %s"), local->message);
          return FALSE;
        }
    }
  source = g_settings_schema_source_new_from_directory (dir, NULL, TRUE, &local);
  if (source == NULL ||
      !(bundled = g_settings_schema_source_lookup (source, APPLICATION_ID, FALSE)))
    {
      if (installed != NULL)
        return TRUE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot prepare the settings schema: %s"),
                   local != NULL ? local->message : APPLICATION_ID);
      return FALSE;
    }
  if (installed != NULL && schema_covers (installed, bundled))
    return TRUE;

  env = g_getenv ("GSETTINGS_SCHEMA_DIR");
  path = env != NULL && *env != '\0' ? g_strconcat (dir, G_SEARCHPATH_SEPARATOR_S, env, NULL)
                                     : g_strdup (dir);
  g_setenv ("GSETTINGS_SCHEMA_DIR", path, TRUE);
  return TRUE;
}
