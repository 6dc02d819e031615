/* mirada-model-open.h: opening a model with its sidecar and the user's
 * overrides (app/common: shared by the CLI and the window, no GTK). */
#pragma once

#include "mir.h"

G_BEGIN_DECLS

/* Loads a model file (format detected from the content) with its sidecar
 * (<model>.mirada.json, or labels.txt next to it), then applies the
 * overrides: @labels_path (one class per line), @preprocess (a mode name) and
 * @resize ("nearest" / "bilinear"); any of them may be NULL. */
MirModel *mirada_model_open (const char  *path,
                             const char  *labels_path,
                             const char  *preprocess,
                             const char  *resize,
                             GError     **error);

G_END_DECLS
