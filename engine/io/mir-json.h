/* mir-json.h: parsing a user's JSON with bounded nesting.
 *
 * json-glib's parser recurses once per nested array or object, so a file
 * nested tens of thousands of levels deep overflows the stack.  Every JSON
 * document from a user goes through mir_json_parse(), which counts the
 * nesting (brackets outside strings) before json-glib sees it.
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MIR_JSON_MAX_DEPTH       64  /* sidecars, labels metadata, grids, ground truth */
#define MIR_JSON_MAX_DEPTH_MODEL 512 /* Keras configs, TF.js model.json */

/* The deepest nesting of arrays and objects in @data. */
guint       mir_json_depth (const char  *data,
                            gsize        length);

/* Parses @data (@length bytes) if it is nested at most @max_depth levels.
 * @name says what it is in errors: "'grid.json'" or "The model
 * configuration".  The root may be NULL (blank input). */
JsonParser *mir_json_parse (const char  *data,
                            gsize        length,
                            guint        max_depth,
                            const char  *name,
                            GError     **error);

G_END_DECLS
