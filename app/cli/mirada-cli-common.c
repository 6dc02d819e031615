/* mirada-cli-common.c: what the CLI commands share (mirada-cli.h,
 * mirada-cli-util.h): errors, option parsing, JSON output (model and image loading
 * are in app/common/). */
#define G_LOG_DOMAIN "mirada-cli"

#include "config.h"
#include <unistd.h>
#include <stdarg.h>

#include <stdio.h>
#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli.h"
#include "mirada-cli-util.h"
#include "mir-sidecar.h"

char *
mirada_cli_printable (const char *s)
{
  GString *out;

  if (s == NULL)
    return NULL;
  out = g_string_sized_new (strlen (s));
  for (const guchar *p = (const guchar *) s; *p; p++)
    {
      if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\x%02x", *p);
      else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
        g_string_append_printf (out, "\\u%04x", *++p);
      else
        g_string_append_c (out, (char) *p);
    }
  return g_string_free (out, FALSE);
}

char *
mirada_cli_printable_padded (const char *s, guint width)
{
  char *shown = mirada_cli_printable (s != NULL ? s : "");
  GString *out;
  guint cols = 0;

  if (!g_utf8_validate (shown, -1, NULL))
    cols = (guint) strlen (shown);
  else
    for (const char *p = shown; *p; p = g_utf8_next_char (p))
      {
        gunichar ch = g_utf8_get_char (p);
        cols += g_unichar_iszerowidth (ch) ? 0 : g_unichar_iswide (ch) ? 2 : 1;
      }
  out = g_string_new (shown);
  g_free (shown);
  while (cols++ < width)
    g_string_append_c (out, ' ');
  return g_string_free (out, FALSE);
}

void
mirada_cli_progress_begin (MiradaCliProgress *p)
{
  p->on = isatty (STDERR_FILENO);
  p->drawn = FALSE;
  p->start = g_get_monotonic_time ();
  p->shown = 0;
}

gboolean
mirada_cli_progress_due (MiradaCliProgress *p, gboolean final)
{
  gint64 now = g_get_monotonic_time ();

  if (!p->on || (!final && now - p->shown < G_USEC_PER_SEC / 10))
    return FALSE;
  p->shown = now;
  return TRUE;
}

void
mirada_cli_progress_print (MiradaCliProgress *p, const char *format, ...)
{
  va_list args;

  fputs ("\r\033[K", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fflush (stderr);
  p->drawn = TRUE;
}

double
mirada_cli_progress_seconds (const MiradaCliProgress *p)
{
  return (g_get_monotonic_time () - p->start) / 1e6;
}

void
mirada_cli_progress_end (MiradaCliProgress *p)
{
  if (!p->drawn)
    return;
  fputs ("\r\033[K", stderr);
  fflush (stderr);
  p->drawn = FALSE;
}

int
mirada_cli_check_range (const char *cmd, const char *option, int value, int min, int max)
{
  g_autofree char *message = NULL;

  if (value >= min && value <= max)
    return -1;
  /* TRANSLATORS: an option such as --samples, its limits and the value given. */
  message = g_strdup_printf (_("%s must be between %d and %d, not %d"), option, min, max, value);
  return mirada_cli_usage_error (cmd, message);
}

int
mirada_cli_fail (GError *error)
{
  g_autofree char *message = g_strdup (error ? error->message : _("Unknown error"));
  g_autofree char *printable = NULL;

  /* One line, whatever the message holds, and no control characters from
   * file content (class names, file names) reaching the terminal. */
  g_strdelimit (message, "\r\n\t", ' ');
  printable = mirada_cli_printable (message);
  g_printerr ("mirada: %s\n", printable);
  return 2;
}

int
mirada_cli_usage_error (const char *cmd, const char *message)
{
  if (cmd != NULL)
    {
      g_printerr ("mirada %s: %s\n", cmd, message);
      g_printerr (_("Try “mirada %s --help” for more information.\n"), cmd);
    }
  else
    {
      g_printerr ("mirada: %s\n", message);
      g_printerr (_("Try “mirada --help” for more information.\n"));
    }
  return 1;
}

/* The note waiting for the command's end (printed only if it succeeds, so
 * that a failure stays one line on stderr). */
static char *pending_note;
static gboolean noted;

void
mirada_cli_note_preprocess (MirModel *model, const char *path)
{
  g_autofree char *display = NULL;
  g_autofree char *sidecar = NULL;
  g_autofree char *sidecar_name = NULL;

  g_return_if_fail (model != NULL && path != NULL);

  if (noted || model->meta.preprocess_from != MIR_PREPROCESS_FROM_UNKNOWN ||
      model->meta.preprocess != MIR_PREPROCESS_NONE)
    return;
  noted = TRUE;
  display = g_filename_display_basename (path);
  sidecar = mir_sidecar_path_for_model (path);
  sidecar_name = g_filename_display_basename (sidecar);
  /* TRANSLATORS: one line on stderr.  Keep --preprocess, 'none', scale, tf and
   * {"preprocess": "scale"} as they are: they are what the user types. */
  pending_note = g_strdup_printf (_("note: %s does not say how its input is scaled; using 0..255 "
                               "('none'). If it was trained on x/255, pass --preprocess scale "
                               "(tf for -1..1); to remember it, write {\"preprocess\": \"scale\"} "
                               "to %s or choose it in the window's Model Properties."),
                             display, sidecar_name);
}

void
mirada_cli_flush_note (gboolean print)
{
  if (print && pending_note != NULL)
    g_printerr ("mirada: %s\n", pending_note);
  g_clear_pointer (&pending_note, g_free);
}

/* ------------------------------------------------------------------ */

void
mirada_cli_print_help (GOptionContext *context)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_print ("%s", help);
}

int
mirada_cli_parse (GOptionContext *context, const char *cmd, int *argc, char ***argv)
{
  gboolean help = FALSE;
  const GOptionEntry help_entries[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, N_("Show this help"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("mirada %s", cmd);

  g_set_prgname (prgname);
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, help_entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    return mirada_cli_usage_error (cmd, error->message);
  if (help)
    {
      mirada_cli_print_help (context);
      return 0;
    }
  return -1;
}

void
mirada_cli_json_add_shape (JsonBuilder *builder, const MirShape *shape)
{
  json_builder_begin_array (builder);
  for (guint i = 0; i < shape->ndim; i++)
    if (shape->dim[i] < 0)
      json_builder_add_null_value (builder);
    else
      json_builder_add_int_value (builder, shape->dim[i]);
  json_builder_end_array (builder);
}

void
mirada_cli_json_add_string (JsonBuilder *builder, const char *s)
{
  if (s == NULL)
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, s);
}

void
mirada_cli_json_print (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

static void
print_to_stderr (const char *text)
{
  fputs (text, stderr);
}

int
mirada_cli_check_outputs (const char        *cmd,
                          gboolean           prints_data,
                          const char *const *paths,
                          guint              n_paths)
{
  guint n_stdout = 0;

  for (guint i = 0; i < n_paths; i++)
    n_stdout += mirada_output_is_stdout (paths[i]);
  if (n_stdout == 0)
    return -1;
  if (n_stdout > 1)
    return mirada_cli_usage_error (cmd, _("Only one output can go to standard output (“-”)"));
  if (prints_data)
    return mirada_cli_usage_error (cmd, _("--json and --csv print on standard output; "
                                          "write the other output to a file, not “-”"));
  /* The data owns stdout: the report goes to stderr. */
  g_set_print_handler (print_to_stderr);
  return -1;
}

gint64
mirada_cli_output_units (MirModel *model)
{
  const MirShape *shape;

  if (model->outputs->len == 0)
    return -1;
  shape = mir_model_get_output_shape (model, 0);
  if (shape->ndim != 2)
    return -1;
  return shape->dim[1];
}
