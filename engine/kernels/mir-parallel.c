#define _GNU_SOURCE /* sched_getcpu, CPU_* */
#define G_LOG_DOMAIN "mir-parallel"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "mir-parallel.h"

#define MAX_THREADS 64

/* Every field shared between threads is handed over with atomics written
 * in this file (not inside GLib), so that ThreadSanitizer sees the
 * ordering; the mutex and condition only put the caller to sleep (after it
 * spun a while). */
typedef struct
{
  gint refs;      /* atomic: the caller and each queued worker */
  gint published; /* atomic: the fields below are set */
  MirParallelFunc fn;
  gpointer data;
  gint64 n, grain;
  gint n_chunks;
  gint next;      /* atomic: next chunk to take */
  gint done;      /* atomic: chunks finished */
  gint all_done;  /* atomic: done == n_chunks */
  GMutex lock;
  GCond cond;
} Job;

/* The workers: threads of this file that spin for a while after each job
 * before they sleep.  A futex wake-up costs 10-20 us on this kind of
 * machine, about the work of a whole small layer (MobileNetV2's ran faster
 * on one thread than on two with a sleeping pool); a worker that is still
 * spinning picks the next job up in well under a microsecond. */
#define SPIN_US 200

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static GQueue queue;     /* Job *, one entry per helper a job asked for */
static gint queued;      /* atomic: queue.length, for the spinning workers */
static guint n_workers;  /* under queue_lock */
static guint sleepers;   /* under queue_lock */
static GPrivate in_worker;

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

/* Spins until @flag is nonzero or SPIN_US have passed. */
static void
spin_until_nonzero (gint *flag)
{
  gint64 until = 0;

  for (guint i = 0; g_atomic_int_get (flag) == 0; i++)
    {
      cpu_relax ();
      if ((i & 63) == 0)
        {
          gint64 now = g_get_monotonic_time ();
          if (until == 0)
            until = now + SPIN_US;
          else if (now >= until)
            return;
          /* Let a thread that shares this core run: a new worker starts on
           * its creator's core and the scheduler moves it only after tens
           * of milliseconds (MobileNetV2's first 16 runs took 4-5 ms
           * instead of 2.2), and other programs may want the core too. */
          sched_yield ();
        }
    }
}

static void
job_release (Job *job)
{
  if (g_atomic_int_dec_and_test (&job->refs))
    {
      g_mutex_clear (&job->lock);
      g_cond_clear (&job->cond);
      g_free (job);
    }
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
  if (mine > 0 && g_atomic_int_add (&job->done, mine) + mine == job->n_chunks)
    {
      g_atomic_int_set (&job->all_done, 1);
      g_mutex_lock (&job->lock);
      g_cond_broadcast (&job->cond);
      g_mutex_unlock (&job->lock);
    }
}

/* A new thread starts on its creator's core, and the scheduler moves it
 * away only after tens of milliseconds, during which worker and caller
 * share one core.  The worker leaves that core at once (an affinity mask
 * without it, then the full mask back: the scheduler stays free). */
static void
leave_core (int creator_cpu)
{
#ifdef __linux__
  cpu_set_t all, others;

  if (creator_cpu < 0 || sched_getaffinity (0, sizeof all, &all) != 0)
    return;
  others = all;
  CPU_CLR (creator_cpu, &others);
  if (CPU_COUNT (&others) == 0 || sched_setaffinity (0, sizeof others, &others) != 0)
    return;
  sched_setaffinity (0, sizeof all, &all);
#endif
}

static gpointer
worker_main (gpointer data)
{
  leave_core (GPOINTER_TO_INT (data) - 1);
  g_private_set (&in_worker, GINT_TO_POINTER (1));
  for (;;)
    {
      Job *job;

      pthread_mutex_lock (&queue_lock);
      while ((job = g_queue_pop_head (&queue)) == NULL)
        {
          pthread_mutex_unlock (&queue_lock);
          spin_until_nonzero (&queued);
          pthread_mutex_lock (&queue_lock);
          if (queue.length == 0)
            {
              sleepers++;
              pthread_cond_wait (&queue_cond, &queue_lock);
              sleepers--;
            }
        }
      g_atomic_int_add (&queued, -1);
      pthread_mutex_unlock (&queue_lock);
      if (g_atomic_int_get (&job->published))
        run_chunks (job);
      job_release (job);
    }
  return NULL;
}

/* Queues @job for @helpers workers, starting workers up to that many. */
static void
queue_job (Job *job, guint helpers)
{
  pthread_mutex_lock (&queue_lock);
  while (n_workers < helpers && n_workers < MAX_THREADS - 1)
    {
#ifdef __linux__
      int cpu = sched_getcpu ();
#else
      int cpu = -1;
#endif
      GThread *t = g_thread_try_new ("mir-worker", worker_main, GINT_TO_POINTER (cpu + 1), NULL);
      if (t == NULL)
        break; /* fewer helpers: the caller does the rest */
      g_thread_unref (t);
      n_workers++;
    }
  /* no more entries than workers (if a thread could not start, the caller
   * does its share; an entry no worker takes would keep the job forever) */
  for (guint i = 0; i < MIN (helpers, n_workers); i++)
    {
      g_atomic_int_inc (&job->refs);
      g_queue_push_tail (&queue, job);
      g_atomic_int_inc (&queued);
    }
  if (sleepers > 0)
    pthread_cond_broadcast (&queue_cond);
  pthread_mutex_unlock (&queue_lock);
}

/* The engine's thread count: OpenBLAS' own at the first call (its
 * default, or OPENBLAS_NUM_THREADS), after which OpenBLAS itself is set to
 * one thread for good: every GEMM that is split is split here
 * (mir_gemm()), over the same pool as the other kernels.  OpenBLAS' idle
 * threads spin in sched_yield() for a while after each threaded call, and
 * on 2 cores that took a third of the time of the kernels running next
 * (EfficientNetB0's 1x1 convolutions: 1.46 ms vs 0.86 ms). */
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static gint engine_threads; /* atomic */

static void
threads_init (void)
{
  int t = openblas_get_num_threads ();

  g_atomic_int_set (&engine_threads, CLAMP (t, 1, MAX_THREADS));
  openblas_set_num_threads (1);
}

void
mir_parallel_set_threads (guint n)
{
  pthread_once (&threads_once, threads_init);
  g_atomic_int_set (&engine_threads, (gint) CLAMP (n, 1, MAX_THREADS));
}

/* Single-thread sections: a pthread mutex (ThreadSanitizer sees it; GLib's
 * futex-based GMutex it does not). */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static gint blas_sections; /* atomic reads (mir_parallel_nested), writes under blas_lock */
static int blas_saved;

void
mir_blas_single_begin (void)
{
  pthread_once (&threads_once, threads_init);
  pthread_mutex_lock (&blas_lock);
  if (g_atomic_int_add (&blas_sections, 1) == 0)
    {
      blas_saved = openblas_get_num_threads ();
      if (blas_saved > 1)
        openblas_set_num_threads (1);
    }
  pthread_mutex_unlock (&blas_lock);
}

void
mir_blas_single_end (void)
{
  pthread_mutex_lock (&blas_lock);
  if (g_atomic_int_get (&blas_sections) == 0)
    g_critical ("mir_blas_single_end() without a section");
  else if (g_atomic_int_dec_and_test (&blas_sections) && blas_saved > 1)
    openblas_set_num_threads (blas_saved);
  pthread_mutex_unlock (&blas_lock);
}

guint
mir_parallel_threads (void)
{
  /* MIRADA_KERNEL_THREADS overrides (ThreadSanitizer runs keep OpenBLAS
   * single-threaded but still exercise these threads). */
  const char *env = g_getenv ("MIRADA_KERNEL_THREADS");
  int t;

  pthread_once (&threads_once, threads_init);
  if (env != NULL)
    t = atoi (env);
  else
    t = g_atomic_int_get (&engine_threads);
  return (guint) CLAMP (t, 1, MAX_THREADS);
}

gboolean
mir_parallel_nested (void)
{
  return g_private_get (&in_worker) != NULL || g_atomic_int_get (&blas_sections) > 0;
}

static void
parallel_for (guint threads, gint64 n, gint64 grain, MirParallelFunc fn, gpointer data)
{
  gint64 n_chunks;
  Job *job;

  if (n <= 0)
    return;
  grain = MAX (grain, 1);
  n_chunks = (n + grain - 1) / grain;
  if (threads <= 1 || n_chunks <= 1 || mir_parallel_nested () || n_chunks > G_MAXINT / 2)
    {
      fn (0, n, data);
      return;
    }
  job = g_new0 (Job, 1);
  job->refs = 1;
  job->fn = fn;
  job->data = data;
  job->n = n;
  job->grain = grain;
  job->n_chunks = (gint) n_chunks;
  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);
  g_atomic_int_set (&job->published, 1);
  queue_job (job, (guint) MIN ((gint64) threads - 1, n_chunks - 1));
  /* the caller's chunks are inside the job too: nested loops run inline */
  g_private_set (&in_worker, GINT_TO_POINTER (1));
  run_chunks (job);
  g_private_set (&in_worker, NULL);
  /* The helpers are usually a few microseconds from done: spin first.
   * The last chunk's worker broadcasts after its atomic add, under the lock,
   * so checking under the lock cannot miss it. */
  if (g_atomic_int_get (&job->done) < job->n_chunks)
    spin_until_nonzero (&job->all_done);
  g_mutex_lock (&job->lock);
  while (g_atomic_int_get (&job->done) < job->n_chunks)
    g_cond_wait (&job->cond, &job->lock);
  g_mutex_unlock (&job->lock);
  job_release (job);
}

void
mir_parallel_for (gint64 n, gint64 grain, MirParallelFunc fn, gpointer data)
{
  parallel_for (mir_parallel_threads (), n, grain, fn, data);
}

void
mir_parallel_for_gemm (gint64 n, gint64 grain, MirParallelFunc fn, gpointer data)
{
  /* OpenBLAS runs one thread anyway (the engine set it so): no section */
  parallel_for (mir_parallel_threads (), n, grain, fn, data);
}
