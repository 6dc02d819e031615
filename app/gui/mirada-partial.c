/* mirada-partial.c: see mirada-partial.h. */
#define G_LOG_DOMAIN "mirada-partial"

#include "config.h"

#include "mirada-partial.h"

struct _MiradaPartial
{
  gatomicrefcount ref_count;
  GWeakRef target;
  MiradaPartialFunc func;

  GMutex mutex;     /* protects the fields below */
  GPtrArray *latest; /* the last push not delivered yet, or NULL */
  guint idle_id;
  gboolean stopped;
};

MiradaPartial *
mirada_partial_new (GObject           *target,
                    MiradaPartialFunc  func)
{
  MiradaPartial *partial = g_new0 (MiradaPartial, 1);

  g_atomic_ref_count_init (&partial->ref_count);
  g_weak_ref_init (&partial->target, target);
  g_mutex_init (&partial->mutex);
  partial->func = func;
  return partial;
}

MiradaPartial *
mirada_partial_ref (MiradaPartial *partial)
{
  g_atomic_ref_count_inc (&partial->ref_count);
  return partial;
}

void
mirada_partial_unref (MiradaPartial *partial)
{
  if (partial == NULL || !g_atomic_ref_count_dec (&partial->ref_count))
    return;
  g_weak_ref_clear (&partial->target);
  g_clear_pointer (&partial->latest, g_ptr_array_unref);
  g_mutex_clear (&partial->mutex);
  g_free (partial);
}

void
mirada_partial_stop (MiradaPartial *partial)
{
  g_autoptr(GPtrArray) dropped = NULL;

  g_mutex_lock (&partial->mutex);
  partial->stopped = TRUE;
  dropped = g_steal_pointer (&partial->latest);
  g_mutex_unlock (&partial->mutex);
}

static gboolean
deliver_cb (gpointer data)
{
  MiradaPartial *partial = data;
  g_autoptr(GPtrArray) grids = NULL;
  g_autoptr(GObject) target = NULL;
  gboolean stopped;

  g_mutex_lock (&partial->mutex);
  grids = g_steal_pointer (&partial->latest);
  partial->idle_id = 0;
  stopped = partial->stopped;
  g_mutex_unlock (&partial->mutex);

  if (!stopped && grids != NULL && (target = g_weak_ref_get (&partial->target)) != NULL)
    partial->func (target, grids);
  return G_SOURCE_REMOVE;
}

void
mirada_partial_push (MirDetectGrid *const *grids,
                     guint                 n_grids,
                     guint                 done,
                     guint                 total,
                     gpointer              data)
{
  MiradaPartial *partial = data;
  g_autoptr(GPtrArray) copy = g_ptr_array_new_full (n_grids, (GDestroyNotify) mir_detect_grid_unref);
  g_autoptr(GPtrArray) old = NULL;

  for (guint s = 0; s < n_grids; s++)
    g_ptr_array_add (copy, mir_detect_grid_copy (grids[s]));
  g_mutex_lock (&partial->mutex);
  if (!partial->stopped)
    {
      old = g_steal_pointer (&partial->latest);
      partial->latest = g_steal_pointer (&copy);
      /* above the progress bar's idle: the boxes are what the user waits for */
      if (partial->idle_id == 0)
        partial->idle_id = g_idle_add_full (G_PRIORITY_DEFAULT, deliver_cb,
                                            mirada_partial_ref (partial),
                                            (GDestroyNotify) mirada_partial_unref);
    }
  g_mutex_unlock (&partial->mutex);
}
