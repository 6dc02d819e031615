/* mir-json.c: parsing a user's JSON with bounded nesting (see mir-json.h). */
#define G_LOG_DOMAIN "mir-json"

#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-json.h"

guint
mir_json_depth (const char *data, gsize length)
{
  gboolean in_str = FALSE, esc = FALSE;
  guint depth = 0, deepest = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (in_str)
        {
          if (esc)
            esc = FALSE;
          else if (c == '\\')
            esc = TRUE;
          else if (c == '"')
            in_str = FALSE;
          continue;
        }
      if (c == '"')
        in_str = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > deepest)
            deepest = depth;
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return deepest;
}

JsonParser *
mir_json_parse (const char *data, gsize length, guint max_depth, const char *name,
                GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local = NULL;
  guint depth;

  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  depth = mir_json_depth (data, length);
  if (depth > max_depth)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("%s is nested %u levels deep; Mirada reads at most %u levels"), name, depth,
                   max_depth);
      return NULL;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data ? data : "", (gssize) length, &local))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("%s is not valid JSON: %s"), name,
                   local->message);
      return NULL;
    }
  return g_steal_pointer (&parser);
}
