/* mir-detect-classify.c: the expensive part of the detector: every window
 * of the grid cropped, resized to the model input and classified, in
 * batches.  (Kept apart from mir-detect-grid.c so that programs using only
 * the cheap filter do not link the model runner.) */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-detect.h"

#define DEFAULT_BATCH 32

/* Turns one output row of @k values into @n_classes probabilities. */
static void
row_to_probs (const float *out, gint64 k, MirHeadKind head, float *probs)
{
  if (k == 1)
    {
      double p = out[0];

      if (head != MIR_HEAD_SIGMOID && head != MIR_HEAD_SOFTMAX)
        p = 1.0 / (1.0 + exp (-p));
      probs[0] = (float) (1.0 - p);
      probs[1] = (float) p;
      return;
    }
  if (head == MIR_HEAD_SOFTMAX || head == MIR_HEAD_SIGMOID)
    {
      for (gint64 c = 0; c < k; c++)
        probs[c] = out[c];
    }
  else
    {
      double mx = out[0], sum = 0;

      for (gint64 c = 1; c < k; c++)
        mx = MAX (mx, out[c]);
      for (gint64 c = 0; c < k; c++)
        sum += exp (out[c] - mx);
      for (gint64 c = 0; c < k; c++)
        probs[c] = (float) (exp (out[c] - mx) / sum);
    }
  /* rounding can push a probability a hair outside [0, 1] */
  for (gint64 c = 0; c < k; c++)
    probs[c] = CLAMP (probs[c], 0.0f, 1.0f);
}

MirDetectGrid *
mir_detect_classify (MirModel                *model,
                     const MirImage          *image,
                     const MirDetectGeometry *geom,
                     guint                    batch_size,
                     MirDetectProgressFunc    progress,
                     gpointer                 progress_data,
                     GCancellable            *cancellable,
                     GError                 **error)
{
  g_autoptr(MirDetectGrid) grid = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const MirShape *in_shape, *out_shape;
  MirHeadKind head;
  gint64 H, W, C, k;
  guint n_classes, N;

  g_return_val_if_fail (model != NULL && image != NULL && geom != NULL, NULL);

  if (geom->image_width != image->width || geom->image_height != image->height)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Window grid is for a %d×%d image but the image is %d×%d"),
                   geom->image_width, geom->image_height, image->width, image->height);
      return NULL;
    }
  if (model->inputs->len != 1 || model->outputs->len < 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The detector needs a model with one image input (this one has %u inputs)"),
                   model->inputs->len);
      return NULL;
    }
  in_shape = mir_model_get_input_shape (model, 0);
  out_shape = mir_model_get_output_shape (model, 0);
  if (in_shape->ndim != 4 || out_shape->ndim != 2 || out_shape->dim[1] < 1)
    {
      g_autofree char *a = mir_shape_to_string (in_shape);
      g_autofree char *b = mir_shape_to_string (out_shape);
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The detector needs an image classifier (input N×H×W×C, output N×classes); "
                     "this model maps %s to %s"), a, b);
      return NULL;
    }
  H = in_shape->dim[1] > 0 ? in_shape->dim[1] : geom->window;
  W = in_shape->dim[2] > 0 ? in_shape->dim[2] : geom->window;
  C = in_shape->dim[3];
  k = out_shape->dim[1];
  if (C != 1 && C != 3)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("The model input has %" PRId64 " channels; the detector feeds "
                     "grey (1) or RGB (3) windows"), C);
      return NULL;
    }
  head = mir_model_get_head_kind (model);
  n_classes = k == 1 ? 2 : (guint) k;
  for (guint c = 0; c < n_classes; c++)
    {
      const char *name = NULL;

      if (model->meta.class_names && g_strv_length (model->meta.class_names) > c)
        name = model->meta.class_names[c];
      g_ptr_array_add (names, name ? g_strdup (name) : g_strdup_printf ("class %u", c));
    }
  g_ptr_array_add (names, NULL);
  grid = mir_detect_grid_new (geom, n_classes, (const char *const *) names->pdata, head, NULL,
                              error);
  if (grid == NULL)
    return NULL;

  if (batch_size == 0)
    batch_size = DEFAULT_BATCH;
  N = mir_detect_geometry_n_windows (geom);
  for (guint start = 0; start < N; start += batch_size)
    {
      guint count = MIN (batch_size, N - start);
      g_autoptr(MirTensor) batch = NULL;
      g_autoptr(MirTrace) trace = NULL;
      MirTensor *out;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (!(batch = mir_tensor_new_4d (count, H, W, C, error)))
        return NULL;
      for (guint i = 0; i < count; i++)
        {
          g_autoptr(MirImage) crop = NULL;
          g_autoptr(MirImage) sized = NULL;
          int x, y, size;

          mir_detect_geometry_window_rect (geom, start + i, &x, &y, &size);
          if (!(crop = mir_image_crop (image, x, y, size, size, error)))
            return NULL;
          if (size == W && size == H)
            sized = mir_image_ref (crop);
          else if (!(sized = mir_image_resize (crop, (int) W, (int) H, model->meta.resize, error)))
            return NULL;
          if (!mir_image_to_tensor (sized, batch, i, model->meta.preprocess, error))
            return NULL;
        }
      if (!(trace = mir_model_run (model, &batch, 1, MIR_RUN_DEFAULT, -1, 0, cancellable, error)))
        return NULL;
      out = mir_trace_get_output (trace, 0);
      if (out == NULL || out->ndim != 2 || out->shape[0] != count || out->shape[1] != k
          || !mir_tensor_is_contiguous (out))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("The model output is not %u×%" PRId64 " as declared"),
                       count, k);
          return NULL;
        }
      for (guint i = 0; i < count; i++)
        {
          const float *row = out->data + (gsize) i * (gsize) k;

          for (gint64 c = 0; c < k; c++)
            if (!isfinite (row[c]))
              {
                g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED,
                             _("The model gave a non-finite output for window %u"), start + i);
                return NULL;
              }
          row_to_probs (row, k, head, grid->probs + (gsize) (start + i) * n_classes);
        }
      if (progress)
        progress (start + count, N, progress_data);
    }
  return g_steal_pointer (&grid);
}
