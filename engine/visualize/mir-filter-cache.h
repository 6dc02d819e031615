/* mir-filter-cache.h: finished filter patterns by (model identity, layer,
 * filter, every setting that changes the result).  An in-memory LRU of
 * @capacity entries, thread-safe, optionally backed by a directory where
 * each entry is one small file written atomically (temp file + rename), so
 * a second run of `mirada filters` or the GUI re-opening a model starts
 * from the finished patterns. */
#pragma once

#include "mir-model.h"
#include "mir-image.h"

G_BEGIN_DECLS

typedef struct _MirFilterCache MirFilterCache;

/* @disk_dir: NULL for memory only; created on first write.  Opening it
 * keeps the 16 · @capacity most recently written entries there. */
MirFilterCache *mir_filter_cache_new      (guint capacity, const char *disk_dir);
MirFilterCache *mir_filter_cache_ref      (MirFilterCache *self);
void            mir_filter_cache_unref    (MirFilterCache *self);
/* g_get_user_cache_dir()/mirada/patterns */
char           *mir_filter_cache_default_dir (void);
/* One process-wide cache (1024 patterns in memory, the default directory on
 * disk) for the GUI and the CLI to share; transfer none. */
MirFilterCache *mir_filter_cache_get_default (void);

/* What identifies a model's behaviour: the graph (layer classes, names,
 * shapes, activations), the preprocessing, and every weight tensor (shape,
 * exact sum, and a strided sample of up to 4096 of its values); hex SHA-256.
 * O(weights) additions: ~0.1 s for VGG16, so compute it once per request. */
char           *mir_filter_cache_model_id (MirModel *model);

/* Looks @key up in memory, then on disk; a reference or NULL. */
MirImage       *mir_filter_cache_lookup   (MirFilterCache *self, const char *key,
                                           double *loss_start, double *loss_end);
void            mir_filter_cache_insert   (MirFilterCache *self, const char *key,
                                           MirImage *pattern, double loss_start,
                                           double loss_end);
guint           mir_filter_cache_get_n_entries (MirFilterCache *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirFilterCache, mir_filter_cache_unref)

G_END_DECLS
