/* mirada-cli.h: the CLI subcommands (one file each: mirada-cmd-<name>.c)
 * and what they share.  Exit codes: 0 success, 1 usage error, 2 bad input
 * (one line on stderr: "mirada: <message>"). */
#pragma once

#include <gio/gio.h>

#include "mir.h"
#include "explain/mir-explain.h"
#include "mirada-export.h"
#include "mirada-image-io.h"
#include "mirada-model-open.h"

G_BEGIN_DECLS

typedef int (*MiradaCommandFunc) (int argc, char **argv);

typedef struct
{
  const char *name;
  MiradaCommandFunc func;
  const char *summary; /* translatable, N_() */
} MiradaCommand;

/* Commands (argv[0] is the command name). */
int mirada_cmd_info     (int argc, char **argv);
int mirada_cmd_predict  (int argc, char **argv);
int mirada_cmd_bench    (int argc, char **argv);
int mirada_cmd_detect   (int argc, char **argv);
int mirada_cmd_train    (int argc, char **argv);
int mirada_cmd_evaluate (int argc, char **argv);
int mirada_cmd_scene    (int argc, char **argv);

/* Shared by the commands (app/mirada-cli-common.c). */

/* Prints "mirada: <message>" on stderr and returns 2 (@error is not freed). */
int       mirada_cli_fail       (GError *error);
/* Prints "mirada <cmd>: <message>" and a hint to use --help; returns 1.
 * Every bad option value goes here (out of range, unparsable, an unknown
 * name), also when it is only known to be bad after the model is loaded. */
int       mirada_cli_usage_error (const char *cmd, const char *message);
/* When nothing says how @model (opened from @path) scales its input
 * (meta.preprocess_from UNKNOWN), keeps a note saying that 0..255 is assumed
 * and how to say otherwise; once per run.  mirada_cli_flush_note() prints it
 * (one "mirada: note: ..." line on stderr) when @print, and forgets it: main()
 * prints it after a command succeeded, so errors stay one line. */
void      mirada_cli_note_preprocess (MirModel *model, const char *path);
void      mirada_cli_flush_note      (gboolean print);
/* A class given by name (from the model's labels, case-insensitive) or by
 * index; -1 + error if neither (app/mirada-cli-lookup.c). */
gint      mirada_cli_parse_class (MirModel *model, const char *text, GError **error);
/* A node by layer name; -1 + error naming it. */
gint      mirada_cli_find_layer  (MirModel *model, const char *name, GError **error);

int mirada_cmd_gradcam     (int argc, char **argv);
int mirada_cmd_activations (int argc, char **argv);
int mirada_cmd_explain_unit (int argc, char **argv);
int mirada_cmd_compare (int argc, char **argv);
int mirada_cmd_filters     (int argc, char **argv);

G_END_DECLS
