/* mir-parallel.h: splitting a loop over the cores the engine may use.
 *
 * One pool for everything: OpenBLAS runs single-threaded (set at the first
 * use of this module) and mir_gemm() splits large products over the same
 * GThreadPool the other kernels (direct and depthwise convolutions, pooling,
 * Winograd, elementwise) use, so the cores are never oversubscribed.  The
 * caller takes part in the work; chunks are handed out dynamically (the
 * machine may be shared).  Called from inside a chunk (the caller's own
 * included) it runs serially (no nesting). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs fn (begin, end, data) over disjoint ranges covering [0, n), each of
 * at most @grain items (the last may be shorter), on up to
 * mir_parallel_threads() threads; returns when all are done. */
typedef void (*MirParallelFunc) (gint64 begin, gint64 end, gpointer data);

void  mir_parallel_for     (gint64 n, gint64 grain, MirParallelFunc fn, gpointer data);

/* The same for chunks that run GEMMs themselves (each thread its own small
 * products; OpenBLAS runs one thread since the engine's first use). */
void  mir_parallel_for_gemm (gint64 n, gint64 grain, MirParallelFunc fn, gpointer data);

/* Threads mir_parallel_for() uses: OpenBLAS' thread count before the
 * engine set it to 1 (its default or OPENBLAS_NUM_THREADS), or what
 * mir_parallel_set_threads() set, or MIRADA_KERNEL_THREADS. */
guint mir_parallel_threads (void);

/* Sets the engine's thread count (mirada bench --threads). */
void  mir_parallel_set_threads (guint n);

/* TRUE inside a chunk of mir_parallel_for(), or while a single-thread
 * section (below) is open: loops there run serially. */
gboolean mir_parallel_nested (void);

/* A section during which the caller's own threads do the parallel work
 * (the trainer's data-parallel workers): the engine's loops and GEMM splits
 * run serially in every thread meanwhile, and OpenBLAS runs one thread.
 * Process-wide, so sections count: the first to begin saves OpenBLAS'
 * thread count, the last to end restores it; overlapping sections from
 * several threads never leave the engine serial for good. */
void  mir_blas_single_begin (void);
void  mir_blas_single_end   (void);

G_END_DECLS
