/* mirada-job.h: a small job runner for worker-thread work (GTask +
 * GCancellable).  A runner runs one job at a time: a new job cancels the
 * older one, whose result is then dropped.  Workers report progress through
 * mirada_job_set_progress() (any thread); the runner's "progress" property
 * follows on the UI thread through at most one pending idle source. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MiradaJob MiradaJob;

/* Runs on a worker thread; sees only @data (no widgets).  Returns the result
 * (freed with the runner's result_free if nobody takes it) or NULL + error. */
typedef gpointer (*MiradaJobFunc) (MiradaJob    *job,
                                   gpointer      data,
                                   GCancellable *cancellable,
                                   GError      **error);

/* Runs on the UI thread for the current job only: @result (transfer full) or
 * @error (never G_IO_ERROR_CANCELLED).  The runner frees the callback's
 * user_data on the UI thread too, once the job is done or cancelled. */
typedef void (*MiradaJobDoneFunc) (gpointer      result,
                                   const GError *error,
                                   gpointer      user_data);

/* Thread-safe; @fraction in [0, 1]. */
void mirada_job_set_progress (MiradaJob *job,
                              double     fraction);

/* Thread-safe: the job's overall fraction (after the span mapping). */
double mirada_job_get_progress (MiradaJob *job);

/* Later set_progress() fractions map into [@start, @start + @length]: a
 * worker made of parts (the levels of an image pyramid) gives each part its
 * share, so the progress runs once from 0 to 1 over all of them. */
void mirada_job_set_progress_span (MiradaJob *job,
                                   double     start,
                                   double     length);

/* Blocks until no worker is inside a job (cancelled ones stop at their next
 * check), at most @timeout_ms.  Call before exit: OpenBLAS's exit handler
 * can deadlock while another thread is inside a BLAS call.  Returns FALSE on
 * timeout. */
gboolean mirada_jobs_wait_idle (guint timeout_ms);

#define MIRADA_TYPE_JOB_RUNNER (mirada_job_runner_get_type ())
G_DECLARE_FINAL_TYPE (MiradaJobRunner, mirada_job_runner, MIRADA, JOB_RUNNER, GObject)

MiradaJobRunner *mirada_job_runner_new      (void);
void             mirada_job_runner_run      (MiradaJobRunner   *self,
                                             const char        *title,
                                             MiradaJobFunc      func,
                                             gpointer           data,
                                             GDestroyNotify     data_free,
                                             GDestroyNotify     result_free,
                                             MiradaJobDoneFunc  done,
                                             gpointer           user_data,
                                             GDestroyNotify     user_data_free);
void             mirada_job_runner_cancel   (MiradaJobRunner *self);
gboolean         mirada_job_runner_get_busy (MiradaJobRunner *self);
double           mirada_job_runner_get_progress (MiradaJobRunner *self);
const char      *mirada_job_runner_get_title (MiradaJobRunner *self);

G_END_DECLS
