/* mirada-sweep-dialog.h: a threshold × exception-factor sweep over the
 * cached probability grid (the seed's Tables 2–4): a table, a plot of the
 * counts (and F1) against the threshold, and CSV export.  Filtering is
 * cheap, so it runs on the UI thread in idle chunks. */
#pragma once

#include <adwaita.h>

#include "detect/mir-detect.h"

G_BEGIN_DECLS

typedef struct
{
  double threshold;
  double exception;
  double *mu;        /* per class (NaN: none) */
  guint *counts;     /* per class */
  gboolean has_eval;
  double precision, recall, f1;
} MiradaSweepRow;

#define MIRADA_TYPE_SWEEP_DIALOG (mirada_sweep_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MiradaSweepDialog, mirada_sweep_dialog, MIRADA, SWEEP_DIALOG, AdwWindow)

MiradaSweepDialog *mirada_sweep_dialog_new (GtkWindow *parent);
/* The grid to filter, the detector's other settings (method, radius,
 * grouping, enabled classes), and the truth boxes (MirDetectTruthBox) or
 * NULL.  All are copied or referenced; the sweep starts again. */
void     mirada_sweep_dialog_set_input    (MiradaSweepDialog     *self,
                                           MirDetectGrid         *grid,
                                           const MirDetectParams *base,
                                           GArray                *truth);
/* Thresholds from @from to @to by @step, for each of @exceptions. */
void     mirada_sweep_dialog_set_range    (MiradaSweepDialog *self,
                                           double             from,
                                           double             to,
                                           double             step,
                                           const double      *exceptions,
                                           guint              n_exceptions);
gboolean mirada_sweep_dialog_get_running  (MiradaSweepDialog *self);
guint    mirada_sweep_dialog_get_n_rows   (MiradaSweepDialog *self);
const MiradaSweepRow *mirada_sweep_dialog_get_row (MiradaSweepDialog *self, guint i);
/* The swept classes (indices into the grid's classes). */
GArray  *mirada_sweep_dialog_get_classes  (MiradaSweepDialog *self);
/* The table as CSV (written atomically). */
gboolean mirada_sweep_dialog_export_csv   (MiradaSweepDialog *self,
                                           const char        *path,
                                           GError           **error);
char    *mirada_sweep_dialog_to_csv       (MiradaSweepDialog *self);
/* The chart's legend: the plotted classes' names, then the F1 entry with truth. */
char   **mirada_sweep_dialog_dup_legend   (MiradaSweepDialog *self);
/* The exception factors as the entry shows them ("0, 0.5, 1"; "0; 0,5; 1"
 * where the decimal separator is a comma). */
const char *mirada_sweep_dialog_get_exceptions_text (MiradaSweepDialog *self);

void               mirada_sweep_dialog_set_n_scales (MiradaSweepDialog *self,
                                                     guint              n_scales);

G_END_DECLS
