/* mir-error.h: the engine's error domain.
 *
 * Every function that can fail on user input takes a GError ** and returns a
 * value that says it failed (NULL or FALSE).  Messages name the layer, the
 * file and both shapes where they apply, so that a user can act on them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MIR_ERROR (mir_error_quark ())

typedef enum
{
  MIR_ERROR_FAILED,      /* anything else */
  MIR_ERROR_IO,          /* cannot read or write a file */
  MIR_ERROR_FORMAT,      /* the file is not what it claims, or is damaged */
  MIR_ERROR_UNSUPPORTED, /* a valid feature Mirada does not handle (e.g. a Lambda layer) */
  MIR_ERROR_SHAPE,       /* shapes do not agree */
  MIR_ERROR_INVALID,     /* an argument or setting out of range */
  MIR_ERROR_LIMIT,       /* a size beyond what Mirada accepts */
} MirErrorCode;

GQuark mir_error_quark (void);

G_END_DECLS
