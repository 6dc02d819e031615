/* mirada-unit-figure.h: one unit explained, as the CLI (`mirada
 * explain-unit`) and the window's activations panel both show it. */
#pragma once

#include "mir.h"
#include "explain/mir-unit.h"

G_BEGIN_DECLS

typedef struct
{
  MirRect field;       /* the receptive field, in the model's input pixels */
  MirRect padded;      /* the window before clipping: outside the image = padding */
  gboolean have_value; /* @value was recomputed (else @why says why not) */
  MirUnitValue value;
  char *why;
  MirImage *figure;    /* the model's input with the field and padding drawn */
  gint64 input_height, input_width;
  /* "same" against "valid" (the layer slides a window: conv, pooling) */
  gboolean have_padding;
  MirPaddingSizes padding;
  MirRect valid_field;  /* on the model's input: what the "valid" windows see */
  MirRect same_reach;   /* and what the "same"-padded input reaches (unclipped) */
} MiradaUnitExplanation;

typedef enum
{
  MIRADA_UNIT_SHOW_PADDING = 1 << 0, /* the figure shows "valid" against "same" */
} MiradaUnitFlags;

void      mirada_unit_explanation_clear (MiradaUnitExplanation *e);

/* Runs @model on @image (prepared as the model expects) up to @layer,
 * keeping every output, and explains unit (@y, @x, @c) of @layer: field,
 * value, and the figure.  FALSE + @error when the unit or the run fails. */
gboolean  mirada_unit_explain (MirModel              *model,
                               const MirImage        *image,
                               gint                   layer,
                               gint64                 y,
                               gint64                 x,
                               gint64                 c,
                               GCancellable          *cancellable,
                               MiradaUnitExplanation *out,
                               GError               **error);

/* The same, with @flags for the figure. */
gboolean  mirada_unit_explain_full (MirModel              *model,
                                    const MirImage        *image,
                                    gint                   layer,
                                    gint64                 y,
                                    gint64                 x,
                                    gint64                 c,
                                    MiradaUnitFlags        flags,
                                    GCancellable          *cancellable,
                                    MiradaUnitExplanation *out,
                                    GError               **error);

/* The lines a person reads: the field, the padding ("same" and "valid"
 * sizes), the sum, and for a kernel up to 5×5 the kernel, patch and products
 * as grids of numbers (translated). */
char     *mirada_unit_explanation_describe (const MiradaUnitExplanation *e,
                                            const char                  *layer_name,
                                            gint64                       y,
                                            gint64                       x,
                                            gint64                       c);

G_END_DECLS
