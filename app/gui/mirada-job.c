/* mirada-job.c: worker jobs (see mirada-job.h and STYLE.md §5). */
#define G_LOG_DOMAIN "mirada-job"

#include "config.h"

#include "mirada-job.h"

struct _MiradaJob
{
  gatomicrefcount ref_count;
  GWeakRef runner;
  MiradaJobFunc func;
  gpointer data;
  GDestroyNotify data_free;
  GDestroyNotify result_free;
  MiradaJobDoneFunc done;
  gpointer user_data;
  GDestroyNotify user_data_free;

  GMutex mutex;      /* protects the fields below */
  double progress;
  guint idle_id;
  double span_start, span_length; /* where set_progress's [0, 1] lands */
};

struct _MiradaJobRunner
{
  GObject parent_instance;

  MiradaJob *current;       /* the job whose result is wanted, or NULL */
  GCancellable *cancellable;
  char *title;
  double progress;
};

G_DEFINE_FINAL_TYPE (MiradaJobRunner, mirada_job_runner, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BUSY,
  PROP_PROGRESS,
  PROP_TITLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gint n_running; /* workers inside job->func, all runners */

gboolean
mirada_jobs_wait_idle (guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_atomic_int_get (&n_running) > 0)
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_usleep (1000);
    }
  return TRUE;
}

static MiradaJob *
job_ref (MiradaJob *job)
{
  g_atomic_ref_count_inc (&job->ref_count);
  return job;
}

static void
job_unref (MiradaJob *job)
{
  if (!g_atomic_ref_count_dec (&job->ref_count))
    return;
  g_weak_ref_clear (&job->runner);
  if (job->data_free != NULL && job->data != NULL)
    job->data_free (job->data);
  if (job->user_data_free != NULL && job->user_data != NULL)
    job->user_data_free (job->user_data);
  g_mutex_clear (&job->mutex);
  g_free (job);
}

static void
set_progress (MiradaJobRunner *self,
              double           progress)
{
  if (self->progress == progress)
    return;
  self->progress = progress;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
}

static gboolean
progress_idle_cb (gpointer user_data)
{
  MiradaJob *job = user_data;
  g_autoptr(MiradaJobRunner) runner = g_weak_ref_get (&job->runner);
  double progress;

  g_mutex_lock (&job->mutex);
  progress = job->progress;
  job->idle_id = 0;
  g_mutex_unlock (&job->mutex);

  if (runner != NULL && runner->current == job)
    set_progress (runner, progress);
  return G_SOURCE_REMOVE;
}

double
mirada_job_get_progress (MiradaJob *job)
{
  double progress;

  g_return_val_if_fail (job != NULL, 0.0);

  g_mutex_lock (&job->mutex);
  progress = job->progress;
  g_mutex_unlock (&job->mutex);
  return progress;
}

void
mirada_job_set_progress_span (MiradaJob *job,
                              double     start,
                              double     length)
{
  g_return_if_fail (job != NULL);

  g_mutex_lock (&job->mutex);
  job->span_start = start;
  job->span_length = length;
  g_mutex_unlock (&job->mutex);
}

void
mirada_job_set_progress (MiradaJob *job,
                         double     fraction)
{
  g_return_if_fail (job != NULL);

  g_mutex_lock (&job->mutex);
  job->progress = job->span_start + job->span_length * CLAMP (fraction, 0.0, 1.0);
  job->progress = CLAMP (job->progress, 0.0, 1.0);
  if (job->idle_id == 0)
    job->idle_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, progress_idle_cb,
                                    job_ref (job), (GDestroyNotify) job_unref);
  g_mutex_unlock (&job->mutex);
}

static void
job_worker (GTask        *task,
            gpointer      source_object,
            gpointer      task_data,
            GCancellable *cancellable)
{
  MiradaJob *job = task_data;
  g_autoptr(GError) error = NULL;
  gpointer result;

  g_atomic_int_inc (&n_running);
  result = job->func (job, job->data, cancellable, &error);
  g_atomic_int_add (&n_running, -1);
  if (result == NULL)
    {
      if (error == NULL)
        g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "job returned nothing");
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else
    g_task_return_pointer (task, result, job->result_free);
}

static void
job_done_cb (GObject      *source_object,
             GAsyncResult *res,
             gpointer      user_data)
{
  MiradaJobRunner *self = MIRADA_JOB_RUNNER (source_object);
  MiradaJob *job = g_task_get_task_data (G_TASK (res));
  g_autoptr(GError) error = NULL;
  gpointer result;

  /* GTask checks the cancellable: a superseded job gets CANCELLED here even
   * if its worker finished, so stale results never land. */
  result = g_task_propagate_pointer (G_TASK (res), &error);

  if (self->current == job)
    {
      self->current = NULL;
      g_clear_object (&self->cancellable);
      g_clear_pointer (&self->title, g_free);
      set_progress (self, 0.0);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }

  if (error == NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (job->done != NULL)
        {
          job->done (result, error, job->user_data);
          result = NULL;
        }
      if (result != NULL && job->result_free != NULL)
        job->result_free (result);
    }

  /* The callback's data (a reference on a window or a panel) is released
   * here, on the UI thread: the task itself, and with it the job, may be
   * freed on the worker thread, which drops its reference last when this
   * callback ran first, and a widget must not be finalized there. */
  if (job->user_data_free != NULL && job->user_data != NULL)
    job->user_data_free (job->user_data);
  job->user_data = NULL;
}

void
mirada_job_runner_run (MiradaJobRunner   *self,
                       const char        *title,
                       MiradaJobFunc      func,
                       gpointer           data,
                       GDestroyNotify     data_free,
                       GDestroyNotify     result_free,
                       MiradaJobDoneFunc  done,
                       gpointer           user_data,
                       GDestroyNotify     user_data_free)
{
  g_autoptr(GTask) task = NULL;
  MiradaJob *job;
  gboolean was_busy;

  g_return_if_fail (MIRADA_IS_JOB_RUNNER (self));
  g_return_if_fail (func != NULL);

  was_busy = self->current != NULL;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  job = g_new0 (MiradaJob, 1);
  g_atomic_ref_count_init (&job->ref_count);
  g_weak_ref_init (&job->runner, self);
  g_mutex_init (&job->mutex);
  job->span_length = 1.0;
  job->func = func;
  job->data = data;
  job->data_free = data_free;
  job->result_free = result_free;
  job->done = done;
  job->user_data = user_data;
  job->user_data_free = user_data_free;

  self->current = job;
  g_free (self->title);
  self->title = g_strdup (title);
  set_progress (self, 0.0);

  task = g_task_new (self, self->cancellable, job_done_cb, NULL);
  g_task_set_source_tag (task, mirada_job_runner_run);
  g_task_set_task_data (task, job, (GDestroyNotify) job_unref);
  g_task_run_in_thread (task, job_worker);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
  if (!was_busy)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

void
mirada_job_runner_cancel (MiradaJobRunner *self)
{
  g_return_if_fail (MIRADA_IS_JOB_RUNNER (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

gboolean
mirada_job_runner_get_busy (MiradaJobRunner *self)
{
  g_return_val_if_fail (MIRADA_IS_JOB_RUNNER (self), FALSE);
  return self->current != NULL;
}

double
mirada_job_runner_get_progress (MiradaJobRunner *self)
{
  g_return_val_if_fail (MIRADA_IS_JOB_RUNNER (self), 0.0);
  return self->progress;
}

const char *
mirada_job_runner_get_title (MiradaJobRunner *self)
{
  g_return_val_if_fail (MIRADA_IS_JOB_RUNNER (self), NULL);
  return self->title;
}

MiradaJobRunner *
mirada_job_runner_new (void)
{
  return g_object_new (MIRADA_TYPE_JOB_RUNNER, NULL);
}

static void
mirada_job_runner_dispose (GObject *object)
{
  MiradaJobRunner *self = MIRADA_JOB_RUNNER (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->current = NULL;

  G_OBJECT_CLASS (mirada_job_runner_parent_class)->dispose (object);
}

static void
mirada_job_runner_finalize (GObject *object)
{
  MiradaJobRunner *self = MIRADA_JOB_RUNNER (object);

  g_free (self->title);

  G_OBJECT_CLASS (mirada_job_runner_parent_class)->finalize (object);
}

static void
mirada_job_runner_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  MiradaJobRunner *self = MIRADA_JOB_RUNNER (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, self->current != NULL);
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, self->progress);
      break;
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mirada_job_runner_class_init (MiradaJobRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mirada_job_runner_dispose;
  object_class->finalize = mirada_job_runner_finalize;
  object_class->get_property = mirada_job_runner_get_property;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL, 0.0, 1.0, 0.0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mirada_job_runner_init (MiradaJobRunner *self)
{
}
