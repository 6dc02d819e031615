/* mirada-cli-util.h: more helpers shared by the CLI commands
 * (app/mirada-cli-common.c), beside those in mirada-cli.h. */
#pragma once

#include <json-glib/json-glib.h>

#include "mirada-cli.h"

G_BEGIN_DECLS

/* Parses the options of command @cmd with @context (takes ownership of it).
 * --help / -h is handled here rather than by GLib (which would exit()).
 * Returns -1 to go on (@argc/@argv then hold the positional arguments,
 * argv[0] being the command), or the exit code to return: 0 after printing
 * the help, 1 after a usage error. */
int       mirada_cli_parse        (GOptionContext *context,
                                   const char     *cmd,
                                   int            *argc,
                                   char         ***argv);
/* Prints the help of @context on stdout. */
void      mirada_cli_print_help   (GOptionContext *context);
/* Adds @shape as a JSON list with null for unknown dimensions. */
void      mirada_cli_json_add_shape (JsonBuilder *builder, const MirShape *shape);
/* Adds @s, or null when it is NULL. */
void      mirada_cli_json_add_string (JsonBuilder *builder, const char *s);
/* @s with control characters (C0, DEL, C1: escape sequences a terminal
 * would obey) written as \xNN or \u00NN, for text output; transfer full. */
char     *mirada_cli_printable (const char *s);
/* mirada_cli_printable(), then spaces up to @width columns on a terminal
 * (printf's %-12s counts bytes: "pantalón" would come out one short). */
char     *mirada_cli_printable_padded (const char *s, guint width);

/* A progress line on stderr, only when stderr is a terminal: redrawn at most
 * 10 times a second (always when @final), erased by _end().  What `train`,
 * `filters` and `gradcam` print while a long run works. */
typedef struct
{
  gboolean on;      /* stderr is a terminal */
  gboolean drawn;   /* a line is on screen */
  gint64 start, shown;
} MiradaCliProgress;

void      mirada_cli_progress_begin (MiradaCliProgress *p);
/* TRUE when a line should be drawn now (and notes the time). */
gboolean  mirada_cli_progress_due   (MiradaCliProgress *p, gboolean final);
void      mirada_cli_progress_print (MiradaCliProgress *p, const char *format, ...) G_GNUC_PRINTF (2, 3);
double    mirada_cli_progress_seconds (const MiradaCliProgress *p);
void      mirada_cli_progress_end   (MiradaCliProgress *p);
/* A count option out of @min..@max is a usage error: prints it and returns
 * 1; returns -1 when @value is in range. */
int       mirada_cli_check_range (const char *cmd,
                                  const char *option,
                                  int         value,
                                  int         min,
                                  int         max);
/* Prints the builder's root as indented JSON on stdout. */
void      mirada_cli_json_print   (JsonBuilder *builder);
/* Checks a command's output files (@n_paths of @paths, NULL entries
 * ignored): at most one may be "-" (standard output), and not when the
 * command prints JSON or CSV there itself (@prints_data).  When one is "-",
 * the command's text report (g_print) goes to stderr from then on.
 * Returns -1 to go on, or 1 after a usage error. */
int       mirada_cli_check_outputs (const char        *cmd,
                                    gboolean           prints_data,
                                    const char *const *paths,
                                    guint              n_paths);
/* Number of values of a model output's last axis per sample, or -1. */
gint64    mirada_cli_output_units (MirModel *model);

G_END_DECLS
