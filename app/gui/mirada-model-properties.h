/* mirada-model-properties.h: the model-properties dialog: preprocessing,
 * input scaling and class names, saved to the model's sidecar and applied
 * to the open model without reloading it. */
#pragma once

#include <adwaita.h>

#include "mirada-window.h"

G_BEGIN_DECLS

#define MIRADA_TYPE_MODEL_PROPERTIES (mirada_model_properties_get_type ())
G_DECLARE_FINAL_TYPE (MiradaModelProperties, mirada_model_properties, MIRADA, MODEL_PROPERTIES,
                      AdwWindow)

/* Shows the meta of @window's model; Save applies it to @window. */
GtkWidget *mirada_model_properties_new   (MiradaWindow *window);

/* For tests and scripting: what the controls show, and their Save. */
void       mirada_model_properties_set_preprocess  (MiradaModelProperties *self,
                                                    MirPreprocessMode      mode);
void       mirada_model_properties_set_resize      (MiradaModelProperties *self,
                                                    MirResizeMode          mode);
void       mirada_model_properties_set_class_names (MiradaModelProperties *self,
                                                    const char            *text);
/* Saves and applies; on failure shows the error as a toast, keeps the
 * dialog open and returns FALSE with @error set. */
gboolean   mirada_model_properties_save  (MiradaModelProperties *self,
                                          GError               **error);

/* What the dialog says Save will write (the sidecar's whole path), for tests. */
const char *mirada_model_properties_get_destination (MiradaModelProperties *self);
G_END_DECLS
