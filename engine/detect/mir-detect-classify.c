/* mir-detect-classify.c: the expensive part of the detector: every window
 * of the grid cropped, resized to the model input and classified, in
 * batches; several scales (window sides or an image pyramid); and the
 * shared-convolution fast path.  (Kept apart from mir-detect-grid.c so that
 * programs using only the cheap filter do not link the model runner.)
 *
 * Fast path.  Windows at stride s overlap (150 px at 40 px: each pixel lies
 * in up to 16 windows), so the per-window path computes the first
 * convolutions of the same pixels many times.  A stretch of layers at the
 * start of a chain model is shareable exactly when every layer is
 * translation-equivariant without border effects: Conv2D and pooling with
 * 'valid' padding (a 'same' layer pads each window with zeros at the
 * window's border, where the whole image has real pixels: not shareable),
 * and point-wise layers (activations, BatchNormalization at inference,
 * Dropout, Rescaling).  If the window is the model's input size (no
 * resize) and the product P of the strides up to the cut divides s, then
 * window (x, y)'s feature map at the cut is the crop at (x / P, y / P) of
 * the feature map of the whole image.  So the stretch runs once on the
 * whole image, and only the layers after the cut run per window, on crops.
 * The cut is the deepest node with these properties. */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <inttypes.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-error.h"
#include "mir-detect.h"
#include "kernels/mir-conv-util.h"
#include "layers/mir-layers.h"

#define DEFAULT_BATCH 32
/* Progressive classification: at most this many windows before the first partial grid. */
#define FIRST_BATCH 8
/* Above this many bytes for one shared feature map, crop windows instead. */
#define SHARED_BUDGET ((gsize) 1 << 30)

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

/* ------------------------------------------------------------------ */
/* Fast path: where the shareable stretch ends */

/* Stride of a shareable spatial layer (1 for point-wise ones), or 0 when
 * the layer cannot be computed once over the whole image.  The layer
 * classes say which they are: MIR_LAYER_FLAG_POINTWISE and
 * _IDENTITY_AT_INFERENCE, or a window() with "valid" padding (a "same" pad
 * would differ at a window's border from the image's). */
static gint64
shareable_stride (MirLayer *layer)
{
  const MirLayerClass *k = layer->klass;
  const MirWindow *w;

  if (k->flags & (MIR_LAYER_FLAG_POINTWISE | MIR_LAYER_FLAG_IDENTITY_AT_INFERENCE))
    return 1;
  if (k->window == NULL || (w = k->window (layer)) == NULL || w->same)
    return 0;
  /* explicit (ONNX) pads, ceil_mode: not the "valid" grid this relies on */
  if (w->explicit_pads || w->ceil_mode)
    return 0;
  if (w->sh != w->sw || w->sh < 1)
    return 0;
  return w->sh;
}

/* mir_detect_shared_cut(), also giving the product of the strides up to the cut. */
static gint
find_cut (MirModel *model, int window, int stride, gint64 *cut_stride, char **why)
{
  const MirShape *in_shape;
  const guint n = mir_model_get_n_nodes (model);
  gint64 P = 1;
  gint cut = -1;

#define WHY(...) G_STMT_START { if (why) *why = g_strdup_printf (__VA_ARGS__); return -1; } G_STMT_END
  if (why)
    *why = NULL;
  if (model->inputs->len != 1 || model->outputs->len != 1
      || mir_model_get_input (model, 0) != 0 || mir_model_get_output (model, 0) != n - 1)
    WHY (_("the model is not a single chain of layers"));
  in_shape = mir_model_get_input_shape (model, 0);
  if (in_shape->ndim != 4
      || (in_shape->dim[1] > 0 && in_shape->dim[1] != window)
      || (in_shape->dim[2] > 0 && in_shape->dim[2] != window))
    WHY (_("windows of %d px are resized to the model input"), window);
  for (guint i = 1; i + 1 < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      gint64 st;

      if (node->n_inputs != 1 || node->inputs[0] != i - 1)
        WHY (_("the model is not a single chain of layers"));
      if ((st = shareable_stride (node->layer)) == 0)
        break;
      P *= st;
      if (stride % P != 0)
        break;
      /* a model declared with free spatial size has no fixed map to crop */
      if (node->shape.ndim == 4 && node->shape.dim[1] > 0 && node->shape.dim[2] > 0
          && node->shape.dim[3] > 0)
        {
          cut = (gint) i;
          *cut_stride = P;
        }
    }
  for (guint i = (guint) MAX (cut, 0) + 1; i < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);

      if (node->n_inputs != 1 || node->inputs[0] != i - 1)
        WHY (_("the model is not a single chain of layers"));
    }
  if (cut < 0)
    WHY (_("the first layer has 'same' padding, is not a convolution or pooling, or its stride "
           "does not divide the window stride %d"), stride);
#undef WHY
  return cut;
}

gint
mir_detect_shared_cut (MirModel *model,
                       int       window,
                       int       stride,
                       char    **why)
{
  gint64 P;

  g_return_val_if_fail (model != NULL, -1);
  return find_cut (model, window, stride, &P, why);
}

/* The layers after @cut as a model of their own, fed with the feature map. */
static MirModel *
tail_model (MirModel *model, gint cut, GError **error)
{
  g_autoptr(MirModel) tail = mir_model_new ("detect-tail");
  MirNode *cn = mir_model_get_node (model, (guint) cut);
  gint prev;
  guint out;

  if ((prev = mir_model_add_input (tail, "detect_shared_features", &cn->shape, error)) < 0)
    return NULL;
  for (guint i = (guint) cut + 1; i < mir_model_get_n_nodes (model); i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      guint in = (guint) prev;

      if ((prev = mir_model_add_node (tail, node->name, node->layer, &in, 1, node->group,
                                      error)) < 0)
        return NULL;
    }
  out = (guint) prev;
  if (!mir_model_set_outputs (tail, &out, 1, error) || !mir_model_finish (tail, FALSE, 0, error))
    return NULL;
  return g_steal_pointer (&tail);
}

/* ------------------------------------------------------------------ */
/* Embeddings: the input of the classifier's head */

gint
mir_detect_find_embedding_node (MirModel *model, char **why)
{
  guint n = mir_model_get_n_nodes (model);
  MirNode *node;
  guint o;

#define WHY(...) G_STMT_START { if (why) *why = g_strdup_printf (__VA_ARGS__); return -1; } G_STMT_END
  if (why)
    *why = NULL;
  if (model->outputs == NULL || model->outputs->len < 1 || n < 2)
    WHY (_("the model has no output"));
  o = mir_model_get_output (model, 0);
  node = mir_model_get_node (model, o);
  /* softmax, activations, dropout: no weights, one input */
  while (node->layer != NULL && node->layer->n_weights == 0 && node->n_inputs == 1
         && !(node->layer->klass->flags & MIR_LAYER_FLAG_INPUT))
    node = mir_model_get_node (model, o = node->inputs[0]);
  if (node->layer == NULL || node->layer->n_weights == 0 || node->n_inputs != 1)
    WHY (_("no layer with weights and one input ends the model"));
  node = mir_model_get_node (model, node->inputs[0]);
  if (node->layer != NULL && (node->layer->klass->flags & MIR_LAYER_FLAG_INPUT))
    WHY (_("the head is the model's first layer"));
#undef WHY
  return (gint) mir_model_get_node (model, o)->inputs[0];
}

/* Whether the nodes after @e in @model form a chain from @e to the one output
 * (the head: what runs on the embeddings to give the outputs). */
static gboolean
head_is_chain (MirModel *model, guint e)
{
  const guint n = mir_model_get_n_nodes (model);

  if (model->outputs->len != 1 || mir_model_get_output (model, 0) != n - 1 || e + 1 >= n)
    return FALSE;
  for (guint i = e + 1; i < n; i++)
    {
      MirNode *node = mir_model_get_node (model, i);

      if (node->n_inputs != 1 || node->inputs[0] != i - 1)
        return FALSE;
    }
  return TRUE;
}

/* Values per window of node @e's output @t (N×D, or N×H×W×C averaged over H, W). */
static guint
embed_dim_of (const MirTensor *t)
{
  return t->ndim == 4 ? (guint) t->shape[3] : (guint) (t->numel / (gsize) t->shape[0]);
}

/* Samples @first .. @first + @count - 1 of @t into @dst. */
static void
copy_embeddings (const MirTensor *t, guint first, guint count, float *dst)
{
  if (t->ndim == 4)
    {
      const gint64 hw = t->shape[1] * t->shape[2], C = t->shape[3];

      for (guint i = first; i < first + count; i++)
        {
          const float *src = t->data + (gsize) i * (gsize) (hw * C);
          float *row = dst + (gsize) (i - first) * (gsize) C;

          for (gint64 c = 0; c < C; c++)
            {
              double sum = 0;

              for (gint64 p = 0; p < hw; p++)
                sum += src[p * C + c];
              row[c] = (float) (sum / (double) hw);
            }
        }
    }
  else
    {
      const gsize per = t->numel / (gsize) t->shape[0];

      memcpy (dst, t->data + first * per, sizeof (float) * per * count);
    }
}

/* Runs nodes 1..@cut once over the whole @image.  NULL without an error
 * when a feature map would exceed SHARED_BUDGET (the caller crops instead). */
static MirTensor *
shared_features (MirModel *model, const MirImage *image, gint64 C, gint cut,
                 GCancellable *cancellable, GError **error)
{
  g_autoptr(MirTensor) x = NULL;
  gsize bytes;

  if (!g_size_checked_mul (&bytes, (gsize) image->width * (gsize) image->height, (gsize) C * 4)
      || bytes > SHARED_BUDGET)
    return NULL;
  if (!(x = mir_tensor_new_4d (1, image->height, image->width, C, error))
      || !mir_image_to_tensor (image, x, 0, model->meta.preprocess, error))
    return NULL;
  for (guint i = 1; i <= (guint) cut; i++)
    {
      MirNode *node = mir_model_get_node (model, i);
      MirLayer *layer = node->layer;
      g_autoptr(MirTensor) out = NULL;
      gpointer state = NULL;
      MirRunArgs args = { 0 };
      gint64 shape[MIR_MAX_DIMS];
      guint ndim;
      gboolean ok;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (!mir_layer_output_shape (layer, &x, 1, &ndim, shape, error))
        return NULL;
      bytes = sizeof (float);
      for (guint d = 0; d < ndim; d++)
        if (shape[d] < 0 || !g_size_checked_mul (&bytes, bytes, (gsize) shape[d]))
          return NULL;
      if (bytes > SHARED_BUDGET)
        return NULL;
      out = (layer->klass->flags & MIR_LAYER_FLAG_WRITES_ALL)
            ? mir_tensor_new_uninitialized (ndim, shape, error)
            : mir_tensor_new (ndim, shape, error);
      if (out == NULL)
        return NULL;
      args.state = &state;
      ok = layer->klass->forward (layer, &x, 1, out, &args, error);
      g_free (state);
      if (!ok)
        {
          g_prefix_error (error, _("Layer '%s' (%s): "), node->name, layer->klass->name);
          return NULL;
        }
      g_clear_pointer (&x, mir_tensor_unref);
      x = g_steal_pointer (&out);
    }
  return g_steal_pointer (&x);
}

/* Copies the f×f crop of @features at (@fy, @fx) into sample @i of @batch. */
static void
crop_features (const MirTensor *features, gint64 fy, gint64 fx, MirTensor *batch, guint i)
{
  const gint64 W = features->shape[2], C = features->shape[3];
  const gint64 fh = batch->shape[1], fw = batch->shape[2];
  float *dst = batch->data + (gsize) i * (gsize) (fh * fw * C);

  for (gint64 r = 0; r < fh; r++)
    memcpy (dst + r * fw * C, features->data + ((fy + r) * W + fx) * C,
            sizeof (float) * (gsize) (fw * C));
}

/* ------------------------------------------------------------------ */

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
  return mir_detect_classify_full (model, image, geom, batch_size, MIR_DETECT_SHARED_AUTO, NULL,
                                   progress, progress_data, cancellable, error);
}

char **
mir_detect_model_class_names (MirModel *model)
{
  const MirShape *out_shape;
  char **names;
  guint n_classes;

  g_return_val_if_fail (model != NULL, NULL);

  if (model->outputs == NULL || model->outputs->len < 1)
    return NULL;
  out_shape = mir_model_get_output_shape (model, 0);
  if (out_shape->ndim != 2 || out_shape->dim[1] < 1 || out_shape->dim[1] > G_MAXINT)
    return NULL;
  n_classes = out_shape->dim[1] == 1 ? 2 : (guint) out_shape->dim[1];
  names = g_new0 (char *, n_classes + 1);
  for (guint c = 0; c < n_classes; c++)
    names[c] = mir_model_dup_class_name (model, c);
  return names;
}

/* Old grids one scale may take windows from, at most. */
#define PLAN_MAX_REUSE 16

/* How classify() goes about it beyond the plain way (issue 23). */
typedef struct
{
  gboolean coarse_first;
  const MirDetectGrid *reuse[PLAN_MAX_REUSE]; /* of this scale, the first first */
  guint n_reuse;
  /* after each batch: the grid so far */
  void (*partial) (MirDetectGrid *grid, guint done, guint total, gpointer data);
  gpointer partial_data;
  double scale;                  /* the grid's (MirDetectGrid.scale) */
} ClassifyPlan;

static MirDetectGrid *classify (MirModel *model, const MirImage *image,
                                const MirDetectGeometry *geom, guint batch_size,
                                MirDetectSharedMode shared, gboolean embeddings,
                                gboolean *shared_used, MirDetectProgressFunc progress,
                                gpointer progress_data, const ClassifyPlan *plan,
                                GCancellable *cancellable, GError **error);

MirDetectGrid *
mir_detect_classify_full (MirModel                *model,
                          const MirImage          *image,
                          const MirDetectGeometry *geom,
                          guint                    batch_size,
                          MirDetectSharedMode      shared,
                          gboolean                *shared_used,
                          MirDetectProgressFunc    progress,
                          gpointer                 progress_data,
                          GCancellable            *cancellable,
                          GError                 **error)
{
  return classify (model, image, geom, batch_size, shared, TRUE, shared_used, progress,
                   progress_data, NULL, cancellable, error);
}

MirDetectGrid *
mir_detect_classify_no_embeddings (MirModel                *model,
                                   const MirImage          *image,
                                   const MirDetectGeometry *geom,
                                   guint                    batch_size,
                                   MirDetectSharedMode      shared,
                                   GCancellable            *cancellable,
                                   GError                 **error)
{
  return classify (model, image, geom, batch_size, shared, FALSE, NULL, NULL, NULL, NULL,
                   cancellable, error);
}

static MirDetectGrid *
classify (MirModel                *model,
          const MirImage          *image,
          const MirDetectGeometry *geom,
          guint                    batch_size,
          MirDetectSharedMode      shared,
          gboolean                 embeddings,
          gboolean                *shared_used,
          MirDetectProgressFunc    progress,
          gpointer                 progress_data,
          const ClassifyPlan      *plan,
          GCancellable            *cancellable,
          GError                 **error)
{
  g_autoptr(MirDetectGrid) grid = NULL;
  g_auto(GStrv) names = NULL;
  g_autoptr(MirTensor) features = NULL;
  g_autoptr(MirModel) tail = NULL;
  g_autoptr(MirModel) head_model = NULL;
  g_autofree float *embed = NULL;
  g_autofree char *embed_name = NULL;
  guint embed_dim = 0;
  gint embed_node = -1, model_embed, picked = -1;
  gboolean keep_all = FALSE;
  MirModel *runner = model;
  const MirShape *in_shape, *out_shape;
  MirHeadKind head;
  gint64 H, W, C, k, P = 1;
  guint n_classes, N, n_todo;
  g_autofree guint *order = NULL;  /* the windows to classify, in order */
  guint n_groups = 1;
  gint cut = -1;

  g_return_val_if_fail (model != NULL && image != NULL && geom != NULL, NULL);

  if (shared_used)
    *shared_used = FALSE;

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
  names = mir_detect_model_class_names (model);
  if (names == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("The model has too many outputs (%" PRId64 ") for the detector"), k);
      return NULL;
    }
  n_classes = g_strv_length (names);
  grid = mir_detect_grid_new (geom, n_classes, (const char *const *) names, head, NULL, error);
  if (grid == NULL)
    return NULL;

  if (batch_size == 0)
    batch_size = DEFAULT_BATCH;
  N = mir_detect_geometry_n_windows (geom);

  /* A layer the user picked for the embeddings (model->meta.embedding_layer). */
  if (embeddings && model->meta.embedding_layer != NULL
      && (picked = mir_model_find_node (model, model->meta.embedding_layer)) < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The model has no layer named '%s' for the embeddings"),
                   model->meta.embedding_layer);
      return NULL;
    }

  /* The fast path when it is exact (see the top of this file); not when the
   * picked layer lies within the shared stretch (it would be cropped). */
  if (shared == MIR_DETECT_SHARED_AUTO
      && (cut = find_cut (model, geom->window, geom->stride, &P, NULL)) >= 0
      && picked >= 0 && picked <= cut)
    cut = -1;
  if (shared == MIR_DETECT_SHARED_AUTO && cut >= 0)
    {
      const MirShape *fs = &mir_model_get_node (model, (guint) cut)->shape;

      if (!(features = shared_features (model, image, C, cut, cancellable, error)))
        {
          if (error && *error)
            return NULL;
          cut = -1; /* too large: crop windows */
        }
      else
        {
          if (!(tail = tail_model (model, cut, error)))
            return NULL;
          runner = tail;
          H = fs->dim[1];
          W = fs->dim[2];
          C = fs->dim[3];
          if (shared_used)
            *shared_used = TRUE;
        }
    }

  /* The embeddings: run to the head's input, keep it, then run the head on it
   * (a model of its own: the same layers, so the same outputs).  Not when the
   * head is not a plain chain after the embedding, or lies within the shared
   * stretch. */
  if (embeddings && (model_embed = picked >= 0 ? picked
                                   : mir_detect_find_embedding_node (model, NULL)) >= 0
      && model_embed > cut)
    {
      MirNode *en = mir_model_get_node (model, (guint) model_embed);

      embed_name = g_strdup (en->name);
      embed_node = mir_model_find_node (runner, en->name);
      if (embed_node >= 0 && picked >= 0 && !head_is_chain (runner, (guint) embed_node))
        keep_all = TRUE; /* a picked layer off the chain: run it all, keep every output */
      else if (embed_node < 0 || !head_is_chain (runner, (guint) embed_node))
        embed_node = -1;
      else if (!(head_model = tail_model (runner, embed_node, error)))
        return NULL;
    }

  /* Which windows to classify, in which order (issue 23). */
  order = g_new (guint, MAX (N, 1));
  n_todo = N;
  if (plan != NULL)
    {
      grid->known = g_new0 (guint8, MAX (N, 1));
      grid->scale = plan->scale;
      if (plan->n_reuse > 0)
        {
          /* the reused embeddings need the buffer now, from the same layer */
          for (guint r = 0; r < plan->n_reuse && embed == NULL && embed_node >= 0; r++)
            if (plan->reuse[r]->embed != NULL
                && g_strcmp0 (plan->reuse[r]->embed_layer, embed_name) == 0)
              {
                embed_dim = plan->reuse[r]->embed_dim;
                embed = g_new0 (float, (gsize) N * embed_dim);
                grid->embed = embed;
                grid->embed_dim = embed_dim;
                grid->embed_layer = g_strdup (embed_name);
              }
          /* each old grid lends the windows the ones before it did not;
           * without its embeddings, only when no embeddings are kept */
          for (guint r = 0; r < plan->n_reuse; r++)
            if (embed_node < 0
                || (embed != NULL && plan->reuse[r]->embed != NULL
                    && plan->reuse[r]->embed_dim == embed_dim
                    && g_strcmp0 (plan->reuse[r]->embed_layer, embed_name) == 0))
              mir_detect_grid_reuse (grid, plan->reuse[r]);
          grid->embed = NULL;
          grid->embed_dim = 0;
          g_clear_pointer (&grid->embed_layer, g_free);
        }
      n_todo = 0;
      n_groups = plan->coarse_first ? 3 : 1;
      for (guint g = 0; g < n_groups; g++)
        {
          /* group 0: rows and columns ≡ 0 mod 4; 1: mod 2; 2: the rest */
          const guint step = n_groups == 1 ? 1 : 4u >> g;

          for (guint n = 0; n < N; n++)
            {
              const guint row = n / (guint) geom->cols, col = n % (guint) geom->cols;

              if (grid->known[n] || row % step != 0 || col % step != 0
                  || (g > 0 && row % (step * 2) == 0 && col % (step * 2) == 0))
                continue;
              order[n_todo++] = n;
            }
        }
    }
  else
    for (guint n = 0; n < N; n++)
      order[n] = n;

  for (guint start = 0; start < n_todo; )
    {
      guint count;
      g_autoptr(MirTensor) batch = NULL;
      g_autoptr(MirTrace) trace = NULL;
      g_autoptr(MirTrace) head_trace = NULL;
      MirTensor *out;

      /* Batches run on across the groups: each batch size is a plan with its
       * own arena for the model runner, so few sizes (8, 32, the last) */
      count = MIN (batch_size, n_todo - start);
      /* the first boxes soon: a small first batch */
      if (plan != NULL && start == 0)
        count = MIN (count, FIRST_BATCH);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (!(batch = mir_tensor_new_4d (count, H, W, C, error)))
        return NULL;
      for (guint i = 0; i < count && features != NULL; i++)
        {
          int x, y, size;

          mir_detect_geometry_window_rect (geom, order[start + i], &x, &y, &size);
          crop_features (features, y / P, x / P, batch, i);
        }
      for (guint i = 0; i < count && features == NULL; i++)
        {
          g_autoptr(MirImage) crop = NULL;
          g_autoptr(MirImage) sized = NULL;
          int x, y, size;

          mir_detect_geometry_window_rect (geom, order[start + i], &x, &y, &size);
          if (!(crop = mir_image_crop (image, x, y, size, size, error)))
            return NULL;
          if (size == W && size == H)
            sized = mir_image_ref (crop);
          else if (!(sized = mir_image_resize (crop, (int) W, (int) H, model->meta.resize, error)))
            return NULL;
          if (!mir_image_to_tensor (sized, batch, i, model->meta.preprocess, error))
            return NULL;
        }
      if (!(trace = mir_model_run (runner, &batch, 1,
                                   keep_all ? MIR_RUN_KEEP_ALL : MIR_RUN_DEFAULT,
                                   keep_all ? -1 : embed_node, 0, cancellable, error)))
        return NULL;
      if (embed_node >= 0)
        {
          MirTensor *e = mir_trace_get (trace, (guint) embed_node);

          if (e == NULL || e->shape[0] != count || !mir_tensor_is_contiguous (e)
              || (embed != NULL && embed_dim_of (e) != embed_dim))
            {
              g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                           _("Layer '%s' did not give one embedding per window"), embed_name);
              return NULL;
            }
          if (embed == NULL)
            {
              gsize total;

              embed_dim = embed_dim_of (e);
              if (!g_size_checked_mul (&total, N, embed_dim)
                  || !(embed = g_try_new0 (float, total)))
                {
                  g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                               _("Out of memory for embeddings of %u windows × %u values"),
                               N, embed_dim);
                  return NULL;
                }
            }
          for (guint i = 0; i < count; i++)
            copy_embeddings (e, i, 1, embed + (gsize) order[start + i] * embed_dim);
          if (keep_all)
            out = mir_trace_get_output (trace, 0);
          else if (!(head_trace = mir_model_run (head_model, &e, 1, MIR_RUN_DEFAULT, -1, 0,
                                            cancellable, error)))
            return NULL;
          else
            out = mir_trace_get_output (head_trace, 0);
        }
      else
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
                             _("The model gave a non-finite output for window %u"),
                             order[start + i]);
                return NULL;
              }
          row_to_probs (row, k, head, grid->probs + (gsize) order[start + i] * n_classes);
          if (grid->known != NULL)
            grid->known[order[start + i]] = 1;
        }
      start += count;
      if (plan != NULL && plan->partial != NULL)
        {
          /* the embeddings so far go with the partial grid (unknown windows: 0) */
          if (embed != NULL)
            {
              grid->embed = embed;
              grid->embed_dim = embed_dim;
              grid->embed_layer = embed_name;
            }
          plan->partial (grid, start, n_todo, plan->partial_data);
          grid->embed = NULL;
          grid->embed_dim = 0;
          grid->embed_layer = NULL;
        }
      if (progress)
        progress (start, n_todo, progress_data);
    }
  g_clear_pointer (&grid->known, g_free);
  if (embed != NULL && !mir_detect_grid_set_embeddings (grid, embed_dim, embed, embed_name, error))
    return NULL;
  return g_steal_pointer (&grid);
}

/* ------------------------------------------------------------------ */
/* Several scales */

typedef struct
{
  MirDetectProgressFunc func;
  gpointer data;
  guint offset;  /* windows of the scales before this one */
  guint n;       /* windows of this scale */
  guint total;   /* windows of all scales */
} ScaleProgress;

/* A scale's progress as its share of all scales' windows, after the scales
 * before it; a classifier's own @total is honoured (a stand-in may count in
 * steps rather than windows). */
static void
scale_progress (guint done, guint total, gpointer user_data)
{
  ScaleProgress *sp = user_data;
  guint part = total > 0 ? (guint) ((guint64) sp->n * MIN (done, total) / total) : sp->n;

  if (sp->func)
    sp->func (sp->offset + part, sp->total, sp->data);
}

guint
mir_detect_scales_fit (MirDetectScales *scales,
                       int              image_width,
                       int              image_height,
                       int              stride,
                       gboolean         notebook_layout)
{
  g_return_val_if_fail (scales != NULL, 0);

  for (guint s = 1; s < scales->n_scales; s++)
    {
      MirDetectGeometry geom;
      int w, h;

      mir_detect_scales_image_size (scales, s, image_width, image_height, &w, &h);
      if (!mir_detect_geometry_init (&geom, w, h, scales->window[s], stride, notebook_layout,
                                     NULL))
        {
          scales->n_scales = s;
          break;
        }
    }
  return scales->n_scales;
}

MirImage *
mir_detect_level_image (MirModel                *model,
                        const MirImage          *image,
                        const MirDetectGeometry *geom,
                        GError                 **error)
{
  g_return_val_if_fail (model != NULL && image != NULL && geom != NULL, NULL);

  if (geom->image_width == image->width && geom->image_height == image->height)
    return mir_image_ref ((MirImage *) image);
  return mir_image_resize (image, geom->image_width, geom->image_height, model->meta.resize,
                           error);
}

/* The window geometry of each pyramid level of @image; their window
 * count added to *@total. */
static gboolean
scales_geometries (const MirImage *image, const MirDetectScales *scales, int stride,
                   gboolean notebook_layout, MirDetectGeometry *geoms, guint *total,
                   GError **error)
{
  for (guint s = 0; s < scales->n_scales; s++)
    {
      int w, h;

      mir_detect_scales_image_size (scales, s, image->width, image->height, &w, &h);
      if (!mir_detect_geometry_init (&geoms[s], w, h, scales->window[s], stride, notebook_layout,
                                     error))
        {
          if (scales->factor[s] != 1.0)
            g_prefix_error (error, _("Pyramid level %u (the image shrunk by %g to %d×%d): "),
                            s, scales->factor[s], w, h);
          return FALSE;
        }
      *total += mir_detect_geometry_n_windows (&geoms[s]);
    }
  return TRUE;
}

GPtrArray *
mir_detect_classify_scales (MirModel               *model,
                            const MirImage         *image,
                            const MirDetectScales  *scales,
                            int                     stride,
                            gboolean                notebook_layout,
                            guint                   batch_size,
                            MirDetectSharedMode     shared,
                            MirDetectProgressFunc   progress,
                            gpointer                progress_data,
                            GCancellable           *cancellable,
                            GError                **error)
{
  return mir_detect_classify_scales_with (model, image, scales, stride, notebook_layout,
                                          batch_size, shared, NULL, NULL, progress,
                                          progress_data, cancellable, error);
}

GPtrArray *
mir_detect_classify_scales_with (MirModel               *model,
                                 const MirImage         *image,
                                 const MirDetectScales  *scales,
                                 int                     stride,
                                 gboolean                notebook_layout,
                                 guint                   batch_size,
                                 MirDetectSharedMode     shared,
                                 MirDetectClassifyFunc   classify_func,
                                 gpointer                classify_data,
                                 MirDetectProgressFunc   progress,
                                 gpointer                progress_data,
                                 GCancellable           *cancellable,
                                 GError                **error)
{
  g_autoptr(GPtrArray) grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  MirDetectGeometry geoms[MIR_DETECT_MAX_SCALES];
  ScaleProgress sp = { progress, progress_data, 0, 0, 0 };

  g_return_val_if_fail (model != NULL && image != NULL && scales != NULL, NULL);
  g_return_val_if_fail (scales->n_scales >= 1 && scales->n_scales <= MIR_DETECT_MAX_SCALES, NULL);

  if (!scales_geometries (image, scales, stride, notebook_layout, geoms, &sp.total, error))
    return NULL;
  for (guint s = 0; s < scales->n_scales; s++)
    {
      g_autoptr(MirImage) level = NULL;
      MirDetectGrid *grid;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      if (!(level = mir_detect_level_image (model, image, &geoms[s], error)))
        return NULL;
      sp.n = mir_detect_geometry_n_windows (&geoms[s]);
      if (classify_func != NULL)
        grid = classify_func (model, level, &geoms[s], scale_progress, &sp, cancellable,
                         classify_data, error);
      else
        grid = mir_detect_classify_full (model, level, &geoms[s], batch_size, shared, NULL,
                                         scale_progress, &sp, cancellable, error);
      if (grid == NULL)
        return NULL;
      grid->scale = scales->factor[s];
      g_ptr_array_add (grids, grid);
      sp.offset += sp.n;
    }
  return g_steal_pointer (&grids);
}

/* ------------------------------------------------------------------ */
/* Progressive classification and reuse (issue 23, mir-detect.h) */

MirDetectGrid *
mir_detect_classify_progressive (MirModel                   *model,
                                 const MirImage             *image,
                                 const MirDetectGeometry    *geom,
                                 guint                       batch_size,
                                 MirDetectSharedMode         shared,
                                 const MirDetectProgressive *prog,
                                 MirDetectProgressFunc       progress,
                                 gpointer                    progress_data,
                                 GCancellable               *cancellable,
                                 GError                    **error)
{
  g_autoptr(GPtrArray) grids = NULL;
  MirDetectScales one = { .n_scales = 1, .window = { geom->window }, .factor = { 1.0 } };

  g_return_val_if_fail (model != NULL && image != NULL && geom != NULL, NULL);

  if (prog == NULL)
    return mir_detect_classify_full (model, image, geom, batch_size, shared, NULL, progress,
                                     progress_data, cancellable, error);
  if (geom->image_width != image->width || geom->image_height != image->height)
    return mir_detect_classify_full (model, image, geom, batch_size, shared, NULL, NULL, NULL,
                                     cancellable, error); /* its error */
  if (!(grids = mir_detect_classify_scales_progressive (model, image, &one, geom->stride,
                                                        geom->notebook_layout, batch_size, shared,
                                                        prog, progress, progress_data,
                                                        cancellable, error)))
    return NULL;
  return g_steal_pointer (&grids->pdata[0]);
}

typedef struct
{
  const MirDetectProgressive *prog;
  MirDetectGrid *grids[MIR_DETECT_MAX_SCALES]; /* what the callback hands out */
  guint n_grids;
  guint s;                                     /* the scale being classified */
  guint todo_before;                           /* windows to classify in the scales before */
  guint todo_total;                            /* windows to classify in all scales */
} ScalesPartial;

static void
scales_partial (MirDetectGrid *grid, guint done, guint total, gpointer data)
{
  ScalesPartial *p = data;
  MirDetectGrid *held = p->grids[p->s];

  p->grids[p->s] = grid;
  p->prog->partial (p->grids, p->n_grids, p->todo_before + done, p->todo_total,
                    p->prog->partial_data);
  p->grids[p->s] = held;
}

static void
unref_grids (MirDetectGrid **grids, guint n)
{
  for (guint i = 0; i < n; i++)
    g_clear_pointer (&grids[i], mir_detect_grid_unref);
}

/* The grids of @prog->reuse for scale @factor with windows of @geom's side
 * into @plan, in their order. */
static void
find_reuse (const MirDetectProgressive *prog, double factor, const MirDetectGeometry *geom,
            ClassifyPlan *plan)
{
  plan->n_reuse = 0;
  for (guint i = 0; prog->reuse != NULL && i < prog->n_reuse && plan->n_reuse < PLAN_MAX_REUSE;
       i++)
    {
      const MirDetectGrid *g = prog->reuse[i];

      if (g != NULL && g->scale == factor && g->geom.window == geom->window
          && g->geom.image_width == geom->image_width
          && g->geom.image_height == geom->image_height)
        plan->reuse[plan->n_reuse++] = g;
    }
}

GPtrArray *
mir_detect_classify_scales_progressive (MirModel                   *model,
                                        const MirImage             *image,
                                        const MirDetectScales      *scales,
                                        int                         stride,
                                        gboolean                    notebook_layout,
                                        guint                       batch_size,
                                        MirDetectSharedMode         shared,
                                        const MirDetectProgressive *prog,
                                        MirDetectProgressFunc       progress,
                                        gpointer                    progress_data,
                                        GCancellable               *cancellable,
                                        GError                    **error)
{
  g_autoptr(GPtrArray) out = NULL;
  g_auto(GStrv) names = NULL;
  MirDetectGeometry geoms[MIR_DETECT_MAX_SCALES];
  ScaleProgress sp = { progress, progress_data, 0, 0, 0 };
  ScalesPartial partial = { prog, { NULL }, 0, 0, 0, 0 };

  g_return_val_if_fail (model != NULL && image != NULL && scales != NULL, NULL);
  g_return_val_if_fail (scales->n_scales >= 1 && scales->n_scales <= MIR_DETECT_MAX_SCALES, NULL);

  if (prog == NULL)
    return mir_detect_classify_scales (model, image, scales, stride, notebook_layout, batch_size,
                                       shared, progress, progress_data, cancellable, error);
  if (!scales_geometries (image, scales, stride, notebook_layout, geoms, &sp.total, error))
    return NULL;
  /* The scales not classified yet: what the old grids give them, the rest unknown. */
  names = mir_detect_model_class_names (model);
  partial.n_grids = scales->n_scales;
  for (guint s = 0; s < scales->n_scales && names != NULL && prog->partial != NULL; s++)
    {
      ClassifyPlan olds = { 0 };
      MirDetectGrid *g = mir_detect_grid_new (&geoms[s], g_strv_length (names),
                                              (const char *const *) names,
                                              mir_model_get_head_kind (model), NULL, NULL);

      if (g == NULL)
        break;
      g->scale = scales->factor[s];
      g->known = g_new0 (guint8, MAX (mir_detect_geometry_n_windows (&geoms[s]), 1));
      find_reuse (prog, scales->factor[s], &geoms[s], &olds);
      for (guint r = 0; r < olds.n_reuse; r++)
        mir_detect_grid_reuse (g, olds.reuse[r]);
      partial.grids[s] = g;
      partial.todo_total += mir_detect_geometry_n_windows (&geoms[s]) - mir_detect_grid_count_known (g);
    }
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  for (guint s = 0; s < scales->n_scales; s++)
    {
      g_autoptr(MirImage) level = NULL;
      ClassifyPlan plan = { 0 };
      MirDetectGrid *grid;

      plan.coarse_first = prog->coarse_first;
      plan.partial_data = &partial;
      plan.scale = scales->factor[s];
      find_reuse (prog, scales->factor[s], &geoms[s], &plan);

      /* a partial callback only when every scale has a stand-in to hand out */
      if (prog->partial != NULL && partial.grids[scales->n_scales - 1] != NULL)
        plan.partial = scales_partial;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          unref_grids (partial.grids, partial.n_grids);
          return NULL;
        }
      if (!(level = mir_detect_level_image (model, image, &geoms[s], error)))
        {
          unref_grids (partial.grids, partial.n_grids);
          return NULL;
        }
      sp.n = mir_detect_geometry_n_windows (&geoms[s]);
      partial.s = s;
      grid = classify (model, level, &geoms[s], batch_size, shared, TRUE, NULL, scale_progress,
                       &sp, &plan, cancellable, error);
      if (grid == NULL)
        {
          unref_grids (partial.grids, partial.n_grids);
          return NULL;
        }
      grid->scale = scales->factor[s];
      g_ptr_array_add (out, grid);
      if (partial.grids[s] != NULL)
        {
          partial.todo_before += mir_detect_geometry_n_windows (&geoms[s])
                                 - mir_detect_grid_count_known (partial.grids[s]);
          mir_detect_grid_unref (partial.grids[s]);
          partial.grids[s] = mir_detect_grid_ref (grid);
        }
      sp.offset += sp.n;
    }
  unref_grids (partial.grids, partial.n_grids);
  return g_steal_pointer (&out);
}
