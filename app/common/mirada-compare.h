/* mirada-compare.h: two models on the same windows (issue 19, "two models
 * side by side"): each window's top-1 class under both and whether they
 * agree.  One definition for `mirada compare` and the window's diff view
 * (app/common: no GTK). */
#pragma once

#include "detect/mir-detect.h"

G_BEGIN_DECLS

typedef struct
{
  guint n_windows;
  guint n_agree;
  guint *top_a;        /* per window: the most probable class of A (first on ties) */
  guint *top_b;
  gboolean *agree;     /* per window: mirada_compare_same_class (top_a, top_b) */
} MiradaCompare;

/* The most probable class of window @n (the first of equal ones). */
guint          mirada_compare_top1        (const MirDetectGrid *grid,
                                           guint                n);
/* Two classes are the same when their names match (case and surrounding
 * space ignored), or, when either grid has no names, their indices. */
gboolean       mirada_compare_same_class  (const MirDetectGrid *a,
                                           guint                ca,
                                           const MirDetectGrid *b,
                                           guint                cb);
/* Window by window; the grids must have the same geometry (same windows),
 * else NULL with MIR_ERROR_INVALID. */
MiradaCompare *mirada_compare_grids       (const MirDetectGrid *a,
                                           const MirDetectGrid *b,
                                           GError             **error);
/* n_agree / n_windows (0 without windows). */
double         mirada_compare_rate        (const MiradaCompare *cmp);
void           mirada_compare_free        (MiradaCompare       *cmp);

/* The filter parameters for model B's classes (@names_b, @n_b of them) from
 * model A's (@params, classes @names_a): the shared settings (method,
 * radius, grouping…) as they are, each class of B the settings of A's class
 * of the same name (as mirada_compare_same_class matches them), else of A's
 * class with the same index, else the defaults.  Transfer full. */
MirDetectParams *mirada_compare_params_for (const MirDetectParams *params,
                                            const char *const     *names_a,
                                            const char *const     *names_b,
                                            guint                  n_b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MiradaCompare, mirada_compare_free)

G_END_DECLS
