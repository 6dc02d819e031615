/* mirada-detect-examples.h: `mirada detect`'s background and classes by
 * example (--examples, --add-background, --add-example, --save-examples),
 * kept apart from the command's own code. */
#pragma once

#include "detect/mir-detect.h"

G_BEGIN_DECLS

typedef struct
{
  char **files;          /* --examples FILE (repeatable) */
  char **backgrounds;    /* --add-background X,Y */
  char **adds;           /* --add-example LABEL=X,Y */
  char *save;            /* --save-examples FILE */
  char *rule;            /* --example-rule nearest|mean */
  char *layer;           /* --embedding-layer NAME */
  gboolean to_sidecar;   /* --save-examples-to-sidecar */
  gboolean no_sidecar;   /* --no-sidecar-examples */
} MiradaExampleOptions;

void mirada_example_options_clear (MiradaExampleOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MiradaExampleOptions, mirada_example_options_clear)

/* Gathers the examples (the model's sidecar, the files, the points; resolved
 * on the first grid), saves them when asked, and replaces every grid of
 * @grids by the grid the examples give.  @model_path and @model may be NULL
 * (--grid).  @n_model_classes: the classes before.  Returns -1 to go on, or
 * the exit code after printing the error. */
int  mirada_detect_examples_apply (MiradaExampleOptions *o,
                                   const char           *model_path,
                                   MirModel             *model,
                                   GPtrArray            *grids,
                                   guint                *n_model_classes);

/* Before classifying: the layer whose output is each window's embedding,
 * --embedding-layer or else the layer of the examples saved in the model's
 * sidecar (model->meta.embedding_layer; unset: the head's input).  Returns
 * -1 to go on, or the exit code after printing the error. */
int  mirada_detect_examples_pick_layer (MiradaExampleOptions *o,
                                        const char           *model_path,
                                        MirModel             *model);

/* Defaults of the classes the examples added: a background class is not
 * looked for; a new class's threshold is 0.5 (its P is 0.5 at the edge of
 * "near"). */
void mirada_detect_examples_defaults (MirDetectParams     *params,
                                      const MirDetectGrid *grid,
                                      guint                n_model_classes);

G_END_DECLS
