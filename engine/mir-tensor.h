/* mir-tensor.h: NHWC float32 tensors.
 *
 * A tensor has a shape (outermost first, Keras order: N, H, W, C for images),
 * strides counted in floats, and 64-byte aligned storage that it owns or that
 * belongs to a parent it is a view of.  Tensors made by mir_tensor_new() are
 * contiguous (stride[ndim-1] == 1, row-major); views keep the parent alive.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MIR_MAX_DIMS 6
#define MIR_TENSOR_ALIGN 64

/* Largest number of elements one tensor may hold (4 Gi floats = 16 GiB). */
#define MIR_TENSOR_MAX_ELEMENTS (G_GINT64_CONSTANT (1) << 32)

typedef struct _MirTensor MirTensor;

struct _MirTensor
{
  gatomicrefcount ref_count;
  guint ndim;
  gint64 shape[MIR_MAX_DIMS];
  gint64 stride[MIR_MAX_DIMS]; /* in floats */
  gsize numel;
  float *data;
  /*< private >*/
  guint64 version;    /* mir_tensor_get_version() */
  MirTensor *view_of; /* keeps the storage alive for views */
  gboolean owns_data;
  GDestroyNotify release;  /* mir_tensor_new_wrapped() */
  gpointer release_data;
};

MirTensor *mir_tensor_new        (guint         ndim,
                                  const gint64 *shape,
                                  GError      **error);
/* Like mir_tensor_new() but the values are left uninitialised: for outputs
 * the caller overwrites entirely (saves a memset pass over large tensors). */
MirTensor *mir_tensor_new_uninitialized (guint         ndim,
                                         const gint64 *shape,
                                         GError      **error);
/* A tensor over @data (contiguous, aligned to MIR_TENSOR_ALIGN), which it
 * does not own: @release (@release_data) is called when the tensor is freed,
 * and also when this fails.  For weights used where a loader mapped them. */
MirTensor *mir_tensor_new_wrapped (guint          ndim,
                                   const gint64  *shape,
                                   float         *data,
                                   GDestroyNotify release,
                                   gpointer       release_data,
                                   GError       **error);
MirTensor *mir_tensor_new_4d     (gint64 n, gint64 h, gint64 w, gint64 c, GError **error);
MirTensor *mir_tensor_new_2d     (gint64 n, gint64 c, GError **error);
MirTensor *mir_tensor_new_like   (const MirTensor *other, GError **error);
MirTensor *mir_tensor_dup        (const MirTensor *src, GError **error);
MirTensor *mir_tensor_view_batch (MirTensor *parent, gint64 start, gint64 count);
MirTensor *mir_tensor_reshape    (MirTensor *t, guint ndim, const gint64 *shape, GError **error);
MirTensor *mir_tensor_ref        (MirTensor *t);
void       mir_tensor_unref      (MirTensor *t);

gboolean   mir_tensor_is_contiguous (const MirTensor *t);
gboolean   mir_tensor_same_shape    (const MirTensor *a, const MirTensor *b);
void       mir_tensor_zero          (MirTensor *t);
void       mir_tensor_fill          (MirTensor *t, float value);
void       mir_tensor_copy_data     (MirTensor *dst, const MirTensor *src);
/* The one shape-to-string: Python's tuple, "(2, 3)", "(5,)"; a negative
 * dimension printed as @unknown ("None" for Keras' batch), or as its number
 * when @unknown is NULL.  mir_tensor_shape_string() and
 * mir_shape_to_string() (mir-layer.h) are this. */
char      *mir_dims_to_string       (guint ndim, const gint64 *dim, const char *unknown);
char      *mir_tensor_shape_string  (const MirTensor *t);

/* The version of the values: drawn from one process-wide counter when the
 * tensor is made and again at every change through mir_tensor_zero, _fill,
 * _copy_data (destination) and mir_tensor_changed, so two states of any two
 * tensors never share a version.  Caches of values made from weights (the
 * Winograd kernel, BatchNormalization folded into a convolution) key on it.
 * Whoever writes t->data directly (an optimizer step, moving statistics, a
 * loader or a test after the model ran) calls mir_tensor_changed() after. */
guint64    mir_tensor_get_version   (const MirTensor *t);
/* Gives @t (and the tensors it is a view of) a new version. */
void       mir_tensor_changed       (MirTensor *t);

/* Number of elements for a shape, or -1 if a dimension is negative or the
 * product overflows MIR_TENSOR_MAX_ELEMENTS. */
gint64     mir_shape_numel          (guint ndim, const gint64 *shape);

/* Aligned float buffers for scratch space (im2col, workspaces). */
float     *mir_alloc_floats         (gsize n, GError **error);
void       mir_free_floats          (float *p);
/* Frees the big buffers kept for reuse (see mir-tensor.c); e.g. when a
 * model is closed. */
void       mir_buffer_cache_trim    (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MirTensor, mir_tensor_unref)

G_END_DECLS
