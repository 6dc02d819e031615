#define G_LOG_DOMAIN "mir-filter-pattern"

#include <math.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-filter-pattern.h"
#include "mir-error.h"
#include "mir-filter-param.h"
#include "mir-layers.h"

void
mir_filter_deprocess (float *x, gsize n, guint8 *out)
{
  double mean = 0, var = 0, std;

  for (gsize i = 0; i < n; i++)
    mean += x[i];
  mean /= (double) MAX (n, 1);
  for (gsize i = 0; i < n; i++)
    var += (x[i] - mean) * (x[i] - mean);
  std = sqrt (var / (double) MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      double y = (x[i] - mean) / (std + 1e-5);
      y = y * 0.1 + 0.5;
      y = CLAMP (y, 0.0, 1.0) * 255.0;
      x[i] = (float) y;
      out[i] = (guint8) CLAMP (y, 0.0, 255.0); /* astype('uint8') truncates */
    }
}

/* Per-channel affine map pixel → model input, from the model's preprocessing. */
static void
preprocess_affine (MirModel *model, int channels, float *a, float *b)
{
  static const float caffe_mean[3] = { 103.939f, 116.779f, 123.68f };
  static const float torch_mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float torch_std[3] = { 0.229f, 0.224f, 0.225f };

  for (int c = 0; c < channels; c++)
    {
      switch (model->meta.preprocess)
        {
        case MIR_PREPROCESS_SCALE:
          a[c] = 1.0f / 255.0f, b[c] = 0;
          break;
        case MIR_PREPROCESS_TF:
          a[c] = 1.0f / 127.5f, b[c] = -1.0f;
          break;
        case MIR_PREPROCESS_CAFFE:
          /* channel order is swapped too; the pattern is shown in the model's order */
          a[c] = 1.0f, b[c] = channels == 3 ? -caffe_mean[c] : 0;
          break;
        case MIR_PREPROCESS_TORCH:
          a[c] = channels == 3 ? 1.0f / (255.0f * torch_std[c]) : 1.0f / 255.0f;
          b[c] = channels == 3 ? -torch_mean[c] / torch_std[c] : 0;
          break;
        case MIR_PREPROCESS_NONE:
        default:
          a[c] = 1.0f, b[c] = 0;
          break;
        }
    }
}

typedef struct
{
  MirModel *model;
  gint layer;
  gint64 units;
  int h, w, ch;
  gsize per;              /* floats per image */
  float a[3], b[3];       /* preprocessing: model input = a · pixel + b */
  MirActivation act;      /* applied to the layer's values before the activation */
  MirRunFlags run_flags;  /* MIR_RUN_ANY_SIZE when the prefix runs at another size */
  MirLayer *head;         /* the layer as a Conv2D run one filter a sample, or NULL */
  guint head_in;          /* with @head: the node of its input */
  const MirFilterOptions *o;
  const gint *filters;
  MirFilterCache *cache;
  char **keys;            /* per filter, with a cache */
  MirFilterProgressFunc on_pattern;
  guint preview_every;
  MirFilterPatternFunc callback;
  gpointer user_data;
  GCancellable *cancellable;
} Job;

/* Each filter's own random numbers: its pattern does not depend on the batch. */
static GRand *
filter_rng (guint32 seed, gint filter)
{
  guint32 v[2] = { seed, (guint32) filter };
  return g_rand_new_with_seed_array (v, 2);
}

/* Mean activation of each sample's filter for the batch @y (pixel units);
 * with @grad, also d loss_s / d y_s (chain rule through the preprocessing).
 *
 * The layer runs without its own activation (MIR_RUN_LOGITS) and the
 * activation is applied here, so that with @revive a sample whose filter
 * is off everywhere (a ReLU unit on the flat grey start: no gradient at
 * all) can follow the gradient of its mean before the activation (Lucid's
 * "_pre_relu") until it turns on, in the same pass.  Class scores (a
 * softmax or sigmoid Dense layer) are the values before the activation. */
/* batch_objective() with job->head: the layers before it run as a
 * trace, and the head only computes each sample's own filter (VGG16
 * block3_conv1 at 64 px: a sixth of the multiply-adds of the forward and
 * backward passes were the other 255 filters). */
static gboolean
head_objective (Job *job, MirTensor *in, const guint *idx, guint n, gboolean revive,
                double *loss, MirTensor *grad, GError **error)
{
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) dx = NULL, zt = NULL;
  g_autofree gint *filters = g_new (gint, n);
  g_autofree float *post = NULL, *dy = NULL, *dz = NULL;
  const MirTensor *x = in, *g;
  const float *z;
  gsize sp;
  int ch = job->ch;

  for (guint s = 0; s < n; s++)
    filters[s] = job->filters[idx[s]];
  if (job->head_in != mir_model_get_input (job->model, 0))
    {
      trace = mir_model_run (job->model, &in, 1,
                             (grad ? MIR_RUN_FOR_BACKWARD : MIR_RUN_DEFAULT) | job->run_flags,
                             (gint) job->head_in, 0, job->cancellable, error);
      if (trace == NULL)
        return FALSE;
      x = mir_trace_get (trace, job->head_in);
    }
  if (!(zt = mir_conv2d_one_filter (job->head, x, filters, error)))
    return FALSE;
  z = zt->data;
  sp = zt->numel / n;
  post = g_new (float, sp * n);
  mir_activation_forward (job->act, z, post, sp * n, 1);
  for (guint s = 0; s < n; s++)
    {
      double l = 0;
      for (gsize p = 0; p < sp; p++)
        l += post[(gsize) s * sp + p];
      loss[s] = l / (double) sp;
    }
  if (grad == NULL)
    return TRUE;
  dy = g_new (float, sp * n);
  dz = g_new (float, sp * n);
  for (gsize i = 0; i < sp * n; i++)
    dy[i] = (float) (1.0 / (double) sp);
  mir_activation_backward (job->act, z, post, dy, dz, sp * n, 1);
  if (revive)
    for (guint s = 0; s < n; s++)
      {
        gboolean dead = TRUE;
        for (gsize i = 0; i < sp && dead; i++)
          dead = dz[(gsize) s * sp + i] == 0.0f;
        if (dead)
          memcpy (dz + (gsize) s * sp, dy + (gsize) s * sp, sizeof (float) * sp);
      }
  if (!(dx = mir_tensor_new_like (x, error)) ||
      !mir_conv2d_one_filter_backward (job->head, x, filters, dz, dx, error))
    return FALSE;
  if (trace == NULL)
    g = dx;
  else
    {
      if (!mir_trace_backward (trace, job->head_in, dx, -1, MIR_BACKWARD_DEFAULT, job->cancellable,
                               error))
        return FALSE;
      g = mir_trace_get_grad (trace, mir_model_get_input (job->model, 0));
      if (g == NULL)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Layer '%s' does not depend on the input"),
                       mir_model_get_node (job->model, (guint) job->layer)->name);
          return FALSE;
        }
    }
  for (gsize i = 0; i < g->numel; i++)
    grad->data[i] = g->data[i] * job->a[i % ch];
  return TRUE;
}

static gboolean
batch_objective (Job *job, const MirTensor *y, const guint *idx, guint n, gboolean revive,
                 double *loss, MirTensor *grad, GError **error)
{
  g_autoptr(MirTensor) in = mir_tensor_new_like (y, error);
  g_autoptr(MirTrace) trace = NULL;
  g_autoptr(MirTensor) post = NULL, dy = NULL, dz = NULL;
  MirTensor *z, *g;
  gsize sp, per_sample;
  int ch = job->ch;

  if (in == NULL)
    return FALSE;
  for (gsize i = 0; i < y->numel; i++)
    in->data[i] = job->a[i % ch] * y->data[i] + job->b[i % ch];
  if (job->head != NULL)
    return head_objective (job, in, idx, n, revive, loss, grad, error);
  trace = mir_model_run (job->model, &in, 1,
                         (grad ? MIR_RUN_FOR_BACKWARD : MIR_RUN_DEFAULT) | MIR_RUN_LOGITS |
                         job->run_flags, job->layer, 0, job->cancellable, error);
  if (trace == NULL)
    return FALSE;
  z = mir_trace_get (trace, (guint) job->layer);
  if (!(post = mir_tensor_dup (z, error)))
    return FALSE;
  mir_activation_forward (job->act, z->data, post->data, z->numel, (gsize) job->units);
  per_sample = z->numel / n;
  sp = per_sample / (gsize) job->units; /* spatial positions */
  if (grad && (!(dy = mir_tensor_new_like (z, error)) || !(dz = mir_tensor_new_like (z, error))))
    return FALSE;
  for (guint s = 0; s < n; s++)
    {
      double l = 0;
      gint f = job->filters[idx[s]];
      for (gsize p = 0; p < sp; p++)
        {
          gsize k = ((gsize) s * sp + p) * (gsize) job->units + (gsize) f;
          l += post->data[k];
          if (dy)
            dy->data[k] = (float) (1.0 / (double) sp);
        }
      loss[s] = l / (double) sp;
    }
  if (grad == NULL)
    return TRUE;
  mir_activation_backward (job->act, z->data, post->data, dy->data, dz->data, z->numel,
                           (gsize) job->units);
  if (revive)
    for (guint s = 0; s < n; s++)
      {
        gsize off = (gsize) s * per_sample;
        gboolean dead = TRUE;
        for (gsize i = 0; i < per_sample && dead; i++)
          dead = dz->data[off + i] == 0.0f;
        if (dead)
          memcpy (dz->data + off, dy->data + off, sizeof (float) * per_sample);
      }
  if (!mir_trace_backward (trace, (guint) job->layer, dz, -1, MIR_BACKWARD_DEFAULT,
                           job->cancellable, error))
    return FALSE;
  g = mir_trace_get_grad (trace, mir_model_get_input (job->model, 0));
  if (g == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("Layer '%s' does not depend on the input"),
                   mir_model_get_node (job->model, (guint) job->layer)->name);
      return FALSE;
    }
  for (gsize i = 0; i < g->numel; i++)
    grad->data[i] = g->data[i] * job->a[i % ch];
  return TRUE;
}

/* @x: the image as shown (0..255) when @deprocess is FALSE, else the seed
 * method's raw pixels (deprocessed on a copy). */
static void
emit_preview (Job *job, guint index, const float *x, gboolean deprocess)
{
  g_autoptr(MirTensor) t = mir_tensor_new_4d (1, job->h, job->w, job->ch, NULL);

  if (t == NULL)
    return;
  memcpy (t->data, x, sizeof (float) * job->per);
  if (deprocess)
    {
      g_autofree guint8 *bytes = g_malloc (job->per);
      mir_filter_deprocess (t->data, job->per, bytes);
    }
  job->on_pattern (index, t, job->user_data);
}

static gboolean
finish_pattern (Job *job, guint index, const float *x, gboolean deprocess, double l0, double l1,
                GError **error)
{
  g_autoptr(MirImage) img = mir_image_new (job->w, job->h, job->ch, error);
  g_autofree guint8 *bytes = g_malloc (job->per);
  g_autofree float *copy = g_memdup2 (x, sizeof (float) * job->per);
  gsize row = (gsize) job->w * job->ch;

  if (img == NULL)
    return FALSE;
  if (deprocess)
    mir_filter_deprocess (copy, job->per, bytes);
  else
    for (gsize i = 0; i < job->per; i++)
      bytes[i] = (guint8) CLAMP (lrintf (copy[i]), 0, 255);
  for (int y = 0; y < job->h; y++)
    memcpy (img->pixels + y * img->rowstride, bytes + (gsize) y * row, row);
  if (job->cache)
    mir_filter_cache_insert (job->cache, job->keys[index], img, l0, l1);
  if (job->callback)
    job->callback (index, job->filters[index], img, l0, l1, job->user_data);
  return TRUE;
}

static gboolean
run_seed_batch (Job *job, const guint *idx, guint n, GError **error)
{
  const MirFilterOptions *o = job->o;
  gsize per = job->per;
  g_autoptr(MirTensor) x = mir_tensor_new_4d (n, job->h, job->w, job->ch, error); /* pixels */
  g_autoptr(MirTensor) g = NULL;
  g_autofree double *loss0 = g_new0 (double, n);
  g_autofree double *loss = g_new0 (double, n);

  if (x == NULL || !(g = mir_tensor_new_like (x, error)))
    return FALSE;
  for (guint s = 0; s < n; s++)
    {
      g_autoptr(GRand) rng = filter_rng (o->seed, job->filters[idx[s]]);
      for (gsize i = 0; i < per; i++)
        x->data[s * per + i] = (float) (g_rand_double (rng) * 20.0 + 128.0);
    }
  for (int step = 0; step <= o->steps; step++)
    {
      if (!batch_objective (job, x, idx, n, FALSE, loss, step < o->steps ? g : NULL, error))
        return FALSE;
      if (step == 0)
        memcpy (loss0, loss, sizeof (double) * n);
      if (step == o->steps)
        break; /* the last run only measures the final loss */
      for (guint s = 0; s < n; s++)
        {
          float *gs = g->data + (gsize) s * per, *xs = x->data + (gsize) s * per;
          double ms = 0, norm;

          for (gsize i = 0; i < per; i++)
            ms += (double) gs[i] * gs[i];
          norm = sqrt (ms / (double) per) + 1e-5;
          for (gsize i = 0; i < per; i++)
            xs[i] += (float) (gs[i] / norm * o->step);
          if (job->on_pattern && job->preview_every && (step + 1) % job->preview_every == 0)
            emit_preview (job, idx[s], xs, TRUE);
        }
    }
  for (guint s = 0; s < n; s++)
    {
      if (job->on_pattern)
        emit_preview (job, idx[s], x->data + (gsize) s * per, TRUE);
      if (!finish_pattern (job, idx[s], x->data + (gsize) s * per, TRUE, loss0[s], loss[s], error))
        return FALSE;
    }
  return TRUE;
}

static float
effective_lr (const MirFilterOptions *o)
{
  if (o->lr > 0)
    return o->lr;
  return o->optimizer == MIR_FILTER_OPTIMIZER_ADAM ? 0.05f : 1.0f;
}

static gboolean
run_regularized_batch (Job *job, const guint *idx, guint n, GError **error)
{
  const MirFilterOptions *o = job->o;
  int h = job->h, w = job->w, ch = job->ch;
  gsize per = job->per, P;
  g_autoptr(MirImageParam) param =
    mir_image_param_new (h, w, ch, o->param == MIR_FILTER_PARAM_FOURIER, o->decorrelate);
  g_autoptr(MirTensor) x = mir_tensor_new_4d (n, h, w, ch, error); /* rendered, 0..255 */
  g_autoptr(MirTensor) y = NULL;                                    /* warped */
  g_autoptr(MirTensor) g = NULL;
  g_autofree double *loss0 = g_new0 (double, n);
  g_autofree double *loss = g_new0 (double, n);
  g_autofree float *theta = NULL, *m1 = NULL, *m2 = NULL, *gtheta = NULL;
  g_autofree float *gu = g_new (float, per), *u = g_new (float, per), *bl = NULL;
  g_autofree MirWarp *warps = g_new0 (MirWarp, n);
  GRand **rngs = g_new0 (GRand *, n);
  float lr = effective_lr (o);
  gboolean ok = FALSE;

  P = mir_image_param_get_size (param);
  theta = g_new (float, P * n);
  m1 = g_new0 (float, P * n);
  m2 = g_new0 (float, P * n);
  gtheta = g_new (float, P);
  if (o->blur > 0)
    bl = g_new (float, per);
  if (x == NULL || !(y = mir_tensor_new_like (x, error)) || !(g = mir_tensor_new_like (x, error)))
    goto out;
  for (guint s = 0; s < n; s++)
    {
      rngs[s] = filter_rng (o->seed, job->filters[idx[s]]);
      mir_image_param_init (param, theta + s * P, rngs[s]);
    }

  for (int step = 0; step <= o->steps; step++)
    {
      gboolean last = step == o->steps;

      for (guint s = 0; s < n; s++)
        {
          float *xs = x->data + s * per, *ys = y->data + s * per;
          MirWarp *wp = &warps[s];

          mir_image_param_render (param, theta + s * P, xs);
          if (last)
            {
              memcpy (ys, xs, sizeof (float) * per);
              continue;
            }
          wp->scale = o->scale_min + (o->scale_max - o->scale_min) * g_rand_double (rngs[s]);
          wp->angle = (g_rand_double (rngs[s]) * 2 - 1) * o->rotate * G_PI / 180.0;
          wp->dx = o->jitter > 0 ? g_rand_int_range (rngs[s], -o->jitter, o->jitter + 1) : 0;
          wp->dy = o->jitter > 0 ? g_rand_int_range (rngs[s], -o->jitter, o->jitter + 1) : 0;
          mir_warp_apply (xs, ys, h, w, ch, wp);
        }
      if (!batch_objective (job, y, idx, n, TRUE, loss, last ? NULL : g, error))
        goto out;
      if (step == 0)
        memcpy (loss0, loss, sizeof (double) * n);
      if (last)
        break;
      for (guint s = 0; s < n; s++)
        {
          float *xs = x->data + s * per, *th = theta + s * P;
          float *a1 = m1 + s * P, *a2 = m2 + s * P;
          double ms = 0, norm;

          mir_warp_adjoint (g->data + s * per, gu, h, w, ch, &warps[s]);
          for (gsize i = 0; i < per; i++)
            ms += (double) gu[i] * gu[i];
          norm = sqrt (ms / (double) per) + 1e-12;
          for (gsize i = 0; i < per; i++)
            {
              gu[i] = (float) (gu[i] / norm);
              u[i] = xs[i] / 255.0f;
            }
          if (o->tv > 0)
            mir_total_variation (u, h, w, ch, -o->tv, gu);
          if (bl)
            {
              mir_gaussian_blur (u, bl, h, w, ch, o->blur);
              for (gsize i = 0; i < per; i++)
                gu[i] -= o->blur_weight * (u[i] - bl[i]);
            }
          for (gsize i = 0; i < per; i++)
            gu[i] /= 255.0f; /* d/dx = d/du / 255 */
          mir_image_param_backward (param, th, gu, gtheta);
          if (o->optimizer == MIR_FILTER_OPTIMIZER_ADAM)
            {
              double c1 = 1 - pow (0.9, step + 1), c2 = 1 - pow (0.999, step + 1);
              for (gsize i = 0; i < P; i++)
                {
                  a1[i] = 0.9f * a1[i] + 0.1f * gtheta[i];
                  a2[i] = 0.999f * a2[i] + 0.001f * gtheta[i] * gtheta[i];
                  th[i] += (float) (lr * (a1[i] / c1) / (sqrt (a2[i] / c2) + 1e-8));
                }
            }
          else
            for (gsize i = 0; i < P; i++)
              th[i] += lr * gtheta[i];
          if (job->on_pattern && job->preview_every && (step + 1) % job->preview_every == 0)
            {
              mir_image_param_render (param, th, u);
              emit_preview (job, idx[s], u, FALSE);
            }
        }
    }
  for (guint s = 0; s < n; s++)
    {
      if (job->on_pattern)
        emit_preview (job, idx[s], x->data + s * per, FALSE);
      if (!finish_pattern (job, idx[s], x->data + s * per, FALSE, loss0[s], loss[s], error))
        goto out;
    }
  ok = TRUE;
out:
  for (guint s = 0; s < n; s++)
    if (rngs[s])
      g_rand_free (rngs[s]);
  g_free (rngs);
  return ok;
}

char *
mir_filter_pattern_key (const char *model_id, gint layer, gint filter, int size,
                        const MirFilterOptions *o)
{
  g_autoptr(GString) s = g_string_new ("mirada-filter-pattern v1");
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

#define ADD_D(v) g_string_append_printf (s, "|%s", g_ascii_dtostr (buf, sizeof buf, (double) (v)))
  g_string_append_printf (s, "|%s|%d|%d|%d|%d|%d|%u", model_id, layer, filter, (int) o->method,
                          size, o->steps, (guint) o->seed);
  if (o->method == MIR_FILTER_METHOD_SEED)
    ADD_D (o->step);
  else
    {
      g_string_append_printf (s, "|%d|%d|%d|%d", o->jitter, (int) o->param, o->decorrelate ? 1 : 0,
                              (int) o->optimizer);
      ADD_D (o->scale_min);
      ADD_D (o->scale_max);
      ADD_D (o->rotate);
      ADD_D (o->tv);
      ADD_D (o->blur);
      ADD_D (o->blur > 0 ? o->blur_weight : 0);
      ADD_D (effective_lr (o));
    }
#undef ADD_D
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, s->str, (gssize) s->len);
}

static gboolean
check_options (const MirFilterOptions *o, GError **error)
{
  if (o->steps < 0 || o->steps > 10000 || (o->size != 0 && (o->size < 8 || o->size > 1024)) ||
      !(o->step > 0 && o->step < 1e6))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Filter pattern settings out of range (size 0 (automatic) or 8..1024, "
                     "steps 0..10000, step > 0)"));
      return FALSE;
    }
  if (o->method != MIR_FILTER_METHOD_REGULARIZED)
    return TRUE;
  if (!(o->scale_min > 0.1f && o->scale_min <= o->scale_max && o->scale_max <= 4.0f) ||
      !(o->rotate >= 0 && o->rotate <= 180) || o->jitter < 0 || o->jitter > 256 ||
      !(o->tv >= 0 && o->tv <= 1e3) || !(o->blur >= 0 && o->blur <= 64) ||
      !(o->blur_weight >= 0 && o->blur_weight <= 1e3) || !(o->lr >= 0 && o->lr <= 1e3))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Regularised filter pattern settings out of range (scale 0.1..4 with "
                     "min ≤ max, rotation 0..180°, jitter 0..256 px, TV 0..1000, blur σ 0..64, "
                     "learning rate 0..1000)"));
      return FALSE;
    }
  return TRUE;
}

/* Whether @layer has an output for a @size × @size input (one forward of
 * a black image up to it). */
static gboolean
probe_size (MirModel *model, gint layer, int ch, int size, MirRunFlags flags, GError **error)
{
  g_autoptr(MirTensor) x = mir_tensor_new_4d (1, size, size, ch, error);
  g_autoptr(MirTrace) trace = NULL;

  if (x == NULL)
    return FALSE;
  trace = mir_model_run (model, &x, 1, flags, layer, 0, NULL, error);
  return trace != NULL;
}

/* The side the patterns are made at (job.h), and the run flags that allow
 * it.  A layer whose prefix is fully convolutional runs at any size ≥ its
 * receptive field, so an explicit @size is honoured; 0 (automatic) takes
 * the seed's 64 px (or the model's input if smaller), doubled until the
 * layer has an output.  A prefix with a Flatten or Dense layer runs at the
 * model's own input size only. */
static gboolean
choose_size (MirModel *model, gint layer, const MirShape *in_shape, int size, int *side,
             MirRunFlags *flags, GError **error)
{
  int ih = (int) in_shape->dim[1], iw = (int) in_shape->dim[2], ch = (int) in_shape->dim[3];
  gboolean fixed = ih > 0 || iw > 0;
  g_autoptr(GError) why = NULL;
  const char *name = mir_model_get_node (model, (guint) layer)->name;

  *flags = MIR_RUN_DEFAULT;
  if (fixed && !mir_model_prefix_any_size (model, layer, &why))
    {
      /* the model's own input only */
      if (ih != iw)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Filter patterns need a square input; this model takes %d×%d"), iw, ih);
          return FALSE;
        }
      if (size != 0 && size != ih)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                       _("Patterns of layer '%s' can only be made at the model's input size, "
                         "%d px, not %d px: %s"), name, ih, size, why->message);
          return FALSE;
        }
      *side = ih;
      return TRUE;
    }
  if (fixed)
    *flags = MIR_RUN_ANY_SIZE;
  if (size != 0)
    {
      if (!probe_size (model, layer, ch, size, *flags, &why))
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Layer '%s' has no output at %d px (a larger --size is needed): %s"),
                       name, size, why->message);
          return FALSE;
        }
      *side = size;
      return TRUE;
    }
  {
    int limit = fixed ? MAX (ih, iw) : 1024;

    size = MIN (64, limit);
    for (;;)
      {
        g_clear_error (&why);
        if (probe_size (model, layer, ch, size, *flags, &why))
          break;
        if (size >= limit)
          {
            g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                         _("Layer '%s' has no output at %d px: %s"), name, size, why->message);
            return FALSE;
          }
        size = MIN (2 * size, limit);
      }
  }
  *side = size;
  return TRUE;
}

gboolean
mir_filter_patterns (MirModel *model, gint layer, const gint *filters, guint n_filters,
                     const MirFilterOptions *options, MirFilterPatternFunc callback,
                     gpointer user_data, GCancellable *cancellable, GError **error)
{
  return mir_filter_patterns_full (model, layer, filters, n_filters, options, NULL, NULL, 0,
                                   callback, user_data, cancellable, error);
}

gboolean
mir_filter_patterns_full (MirModel *model, gint layer, const gint *filters, guint n_filters,
                          const MirFilterOptions *options, MirFilterCache *cache,
                          MirFilterProgressFunc on_pattern, guint preview_every,
                          MirFilterPatternFunc callback, gpointer user_data,
                          GCancellable *cancellable, GError **error)
{
  MirFilterOptions defaults = MIR_FILTER_OPTIONS_DEFAULT;
  const MirShape *in_shape;
  MirNode *node;
  g_autofree guint *todo = NULL;
  g_auto(GStrv) keys = NULL;
  guint n_todo = 0;
  int batch;
  Job job = { 0 };

  if (options == NULL)
    options = &defaults;
  if (layer < 0 || (guint) layer >= mir_model_get_n_nodes (model))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No layer with index %d"), layer);
      return FALSE;
    }
  node = mir_model_get_node (model, (guint) layer);
  if (node->shape.ndim != 4 && node->shape.ndim != 2)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Filter patterns need a convolutional (4-D) or dense (2-D) layer; '%s' is "
                     "neither"), node->name);
      return FALSE;
    }
  job.units = node->shape.dim[node->shape.ndim - 1];
  for (guint i = 0; i < n_filters; i++)
    if (filters[i] < 0 || filters[i] >= job.units)
      {
        g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("Layer '%s' has %" PRId64 " filters; %d does not exist"),
                     node->name, job.units, filters[i]);
        return FALSE;
      }
  if (!check_options (options, error))
    return FALSE;
  if (mir_model_get_n_nodes (model) == 0 || model->inputs->len != 1)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Filter patterns need a model with one image input"));
      return FALSE;
    }
  in_shape = mir_model_get_input_shape (model, 0);
  if (in_shape->ndim != 4 || (in_shape->dim[3] != 1 && in_shape->dim[3] != 3))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Filter patterns need an image input (H×W×1 or H×W×3)"));
      return FALSE;
    }
  if (!choose_size (model, layer, in_shape, options->size, &job.h, &job.run_flags, error))
    return FALSE;
  job.w = job.h;
  job.model = model;
  job.layer = layer;
  job.ch = (int) in_shape->dim[3];
  job.per = (gsize) job.h * job.w * job.ch;
  preprocess_affine (model, job.ch, job.a, job.b);
  /* class patterns: the score before the softmax / sigmoid */
  job.act = node->layer->activation;
  if (node->shape.ndim == 2 && (job.act == MIR_ACT_SOFTMAX || job.act == MIR_ACT_SIGMOID))
    job.act = MIR_ACT_LINEAR;
  /* a convolution's own filter per sample (MIRADA_FILTER_HEAD=0: the whole
   * layer, for tests comparing the two) */
  if (node->shape.ndim == 4 && node->n_inputs == 1 && mir_conv2d_one_filter_applies (node->layer) &&
      job.act != MIR_ACT_SOFTMAX /* over the channels: needs them all */ &&
      g_strcmp0 (g_getenv ("MIRADA_FILTER_HEAD"), "0") != 0)
    {
      job.head = node->layer;
      job.head_in = node->inputs[0];
    }
  job.o = options;
  job.filters = filters;
  job.cache = cache;
  job.on_pattern = on_pattern;
  job.preview_every = preview_every;
  job.callback = callback;
  job.user_data = user_data;
  job.cancellable = cancellable;
  /* at most 2^24 floats (64 MiB) per batch tensor, and about 2^22 input
   * floats per batch (the kept activations of a VGG-like prefix are some 40
   * times its input): large images go fewer at a time */
  batch = CLAMP (options->batch, 1,
                 (int) MIN (256, MAX ((1u << 22) / job.per, 1)));

  todo = g_new (guint, MAX (n_filters, 1));
  if (cache)
    {
      g_autofree char *model_id = mir_filter_cache_model_id (model);

      keys = g_new0 (char *, n_filters + 1);
      job.keys = keys;
      for (guint i = 0; i < n_filters; i++)
        {
          double l0, l1;
          g_autoptr(MirImage) hit = NULL;

          keys[i] = mir_filter_pattern_key (model_id, layer, filters[i], job.h, options);
          hit = mir_filter_cache_lookup (cache, keys[i], &l0, &l1);
          if (hit == NULL)
            {
              todo[n_todo++] = i;
              continue;
            }
          if (on_pattern)
            {
              g_autoptr(MirTensor) t = mir_tensor_new_4d (1, job.h, job.w, job.ch, error);
              if (t == NULL)
                return FALSE;
              for (gsize k = 0; k < job.per; k++)
                t->data[k] = hit->pixels[(k / ((gsize) job.w * job.ch)) * hit->rowstride +
                                         k % ((gsize) job.w * job.ch)];
              on_pattern (i, t, user_data);
            }
          if (callback)
            callback (i, filters[i], hit, l0, l1, user_data);
        }
    }
  else
    for (guint i = 0; i < n_filters; i++)
      todo[n_todo++] = i;

  for (guint first = 0; first < n_todo; first += (guint) batch)
    {
      guint n = MIN ((guint) batch, n_todo - first);
      gboolean ok;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (options->method == MIR_FILTER_METHOD_SEED)
        ok = run_seed_batch (&job, todo + first, n, error);
      else
        ok = run_regularized_batch (&job, todo + first, n, error);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* Copies @p (grey or RGB, at most @size square) into RGB @grid at (x0, y0). */
static void
blit (MirImage *grid, const MirImage *p, int x0, int y0, int size)
{
  for (int y = 0; y < size && y < p->height; y++)
    for (int x = 0; x < size && x < p->width; x++)
      {
        const guint8 *s = p->pixels + y * p->rowstride + p->channels * x;
        guint8 *d = grid->pixels + (y0 + y) * grid->rowstride + 3 * (x0 + x);
        d[0] = s[0];
        d[1] = p->channels == 3 ? s[1] : s[0];
        d[2] = p->channels == 3 ? s[2] : s[0];
      }
}

MirImage *
mir_filter_grid (MirImage *const *patterns, guint n, int per_side, int margin, GError **error)
{
  g_autoptr(MirImage) grid = NULL;
  gboolean column_major;
  int size, rows, cols;

  if (n == 0 || per_side < 1 || margin < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No filter patterns to lay out"));
      return NULL;
    }
  size = patterns[0]->width;
  /* The seed fills an 8×8 square column by column (filter i + 8 j at row i,
   * column j); more patterns than a square are laid out row by row. */
  column_major = n <= (guint) per_side * (guint) per_side;
  if (column_major)
    {
      rows = (int) MIN (n, (guint) per_side);
      cols = (int) ((n + per_side - 1) / per_side);
    }
  else
    {
      cols = per_side;
      rows = (int) ((n + per_side - 1) / per_side);
    }
  grid = mir_image_new (cols * (size + margin) - margin, rows * (size + margin) - margin, 3, error);
  if (grid == NULL)
    return NULL;
  memset (grid->pixels, 0, grid->rowstride * grid->height);
  for (guint k = 0; k < n; k++)
    {
      int row = column_major ? (int) (k % per_side) : (int) (k / per_side);
      int col = column_major ? (int) (k / per_side) : (int) (k % per_side);
      const MirImage *p = patterns[k];
      int y0 = row * (size + margin), x0 = col * (size + margin);

      blit (grid, p, x0, y0, size);
    }
  return g_steal_pointer (&grid);
}

MirImage *
mir_filter_compare_grid (MirImage *const *top, MirImage *const *bottom, guint n, int per_row,
                         int margin, GError **error)
{
  g_autoptr(MirImage) grid = NULL;
  int size, cols, bands, band_h;

  if (n == 0 || per_row < 1 || margin < 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("No filter patterns to lay out"));
      return NULL;
    }
  size = top[0]->width;
  cols = (int) MIN (n, (guint) per_row);
  bands = (int) ((n + per_row - 1) / per_row);
  band_h = 2 * size + margin;
  grid = mir_image_new (cols * (size + margin) - margin, bands * band_h + (bands - 1) * 3 * margin,
                        3, error);
  if (grid == NULL)
    return NULL;
  memset (grid->pixels, 0, grid->rowstride * grid->height);
  for (guint k = 0; k < 2 * n; k++)
    {
      const MirImage *p = k < n ? top[k] : bottom[k - n];
      guint i = k % n;
      int x0 = (int) (i % per_row) * (size + margin);
      int y0 = (int) (i / per_row) * (band_h + 3 * margin) + (k < n ? 0 : size + margin);

      blit (grid, p, x0, y0, size);
    }
  return g_steal_pointer (&grid);
}
