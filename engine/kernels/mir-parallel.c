#define G_LOG_DOMAIN "mir-parallel"

#include <cblas.h>

#include "mir-parallel.h"

#define MAX_THREADS 64

typedef struct
{
  MirParallelFunc fn;
  gpointer data;
  gint64 n, grain;
  gint n_chunks;
  gint next;      /* atomic: next chunk to take */
  gint done;      /* chunks finished, under lock */
  GMutex lock;
  GCond cond;
} Job;

static GThreadPool *pool;
static GPrivate in_worker;

static void
job_clear (gpointer data)
{
  Job *job = data;

  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
}

/* Takes chunks until none is left. */
static void
run_chunks (Job *job)
{
  gint mine = 0;

  for (;;)
    {
      gint i = g_atomic_int_add (&job->next, 1);
      gint64 begin, end;

      if (i >= job->n_chunks)
        break;
      begin = (gint64) i * job->grain;
      end = MIN (begin + job->grain, job->n);
      job->fn (begin, end, job->data);
      mine++;
    }
  if (mine > 0)
    {
      g_mutex_lock (&job->lock);
      job->done += mine;
      if (job->done == job->n_chunks)
        g_cond_broadcast (&job->cond);
      g_mutex_unlock (&job->lock);
    }
}

static void
worker (gpointer data, gpointer user_data)
{
  Job *job = data;

  g_private_set (&in_worker, GINT_TO_POINTER (1));
  run_chunks (job);
  g_atomic_rc_box_release_full (job, job_clear);
}

guint
mir_parallel_threads (void)
{
  int t = openblas_get_num_threads ();

  return (guint) CLAMP (t, 1, MAX_THREADS);
}

void
mir_parallel_for (gint64 n, gint64 grain, MirParallelFunc fn, gpointer data)
{
  static gsize once = 0;
  guint threads = mir_parallel_threads ();
  gint64 n_chunks;
  Job *job;

  if (n <= 0)
    return;
  grain = MAX (grain, 1);
  n_chunks = (n + grain - 1) / grain;
  if (threads <= 1 || n_chunks <= 1 || g_private_get (&in_worker) != NULL ||
      n_chunks > G_MAXINT / 2)
    {
      fn (0, n, data);
      return;
    }
  if (g_once_init_enter (&once))
    {
      pool = g_thread_pool_new (worker, NULL, MAX_THREADS - 1, FALSE, NULL);
      g_once_init_leave (&once, 1);
    }

  job = g_atomic_rc_box_new0 (Job);
  job->fn = fn;
  job->data = data;
  job->n = n;
  job->grain = grain;
  job->n_chunks = (gint) n_chunks;
  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);
  for (guint t = 1; t < threads && (gint64) t < n_chunks; t++)
    g_thread_pool_push (pool, g_atomic_rc_box_acquire (job), NULL);
  run_chunks (job);
  g_mutex_lock (&job->lock);
  while (job->done < job->n_chunks)
    g_cond_wait (&job->cond, &job->lock);
  g_mutex_unlock (&job->lock);
  g_atomic_rc_box_release_full (job, job_clear);
}
