/* mirada-compare.c: per-window agreement of two models (mirada-compare.h). */
#define G_LOG_DOMAIN "mirada-compare"

#include "config.h"

#include <glib/gi18n.h>

#include "mir-error.h"
#include "mirada-compare.h"

guint
mirada_compare_top1 (const MirDetectGrid *grid,
                     guint                n)
{
  const float *p = grid->probs + (gsize) n * grid->n_classes;
  guint best = 0;

  for (guint c = 1; c < grid->n_classes; c++)
    if (p[c] > p[best])
      best = c;
  return best;
}

static gboolean
same_name (const char *a,
           const char *b)
{
  g_autofree char *sa = g_strstrip (g_strdup (a));
  g_autofree char *sb = g_strstrip (g_strdup (b));
  g_autofree char *x = g_utf8_casefold (sa, -1);
  g_autofree char *y = g_utf8_casefold (sb, -1);

  return g_str_equal (x, y);
}

gboolean
mirada_compare_same_class (const MirDetectGrid *a,
                           guint                ca,
                           const MirDetectGrid *b,
                           guint                cb)
{
  if (a->class_names == NULL || b->class_names == NULL)
    return ca == cb;
  return same_name (a->class_names[ca], b->class_names[cb]);
}

MiradaCompare *
mirada_compare_grids (const MirDetectGrid *a,
                      const MirDetectGrid *b,
                      GError             **error)
{
  MiradaCompare *cmp;
  guint n;

  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  if (a->geom.rows != b->geom.rows || a->geom.cols != b->geom.cols ||
      a->geom.window != b->geom.window || a->geom.stride != b->geom.stride)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The two models’ window grids differ (%d×%d and %d×%d windows)"),
                   a->geom.rows, a->geom.cols, b->geom.rows, b->geom.cols);
      return NULL;
    }
  n = mir_detect_geometry_n_windows (&a->geom);
  cmp = g_new0 (MiradaCompare, 1);
  cmp->n_windows = n;
  cmp->top_a = g_new (guint, MAX (n, 1));
  cmp->top_b = g_new (guint, MAX (n, 1));
  cmp->agree = g_new (gboolean, MAX (n, 1));
  for (guint w = 0; w < n; w++)
    {
      cmp->top_a[w] = mirada_compare_top1 (a, w);
      cmp->top_b[w] = mirada_compare_top1 (b, w);
      cmp->agree[w] = mirada_compare_same_class (a, cmp->top_a[w], b, cmp->top_b[w]);
      cmp->n_agree += cmp->agree[w];
    }
  return cmp;
}

double
mirada_compare_rate (const MiradaCompare *cmp)
{
  return cmp->n_windows > 0 ? (double) cmp->n_agree / cmp->n_windows : 0.0;
}

void
mirada_compare_free (MiradaCompare *cmp)
{
  if (cmp == NULL)
    return;
  g_free (cmp->top_a);
  g_free (cmp->top_b);
  g_free (cmp->agree);
  g_free (cmp);
}

MirDetectParams *
mirada_compare_params_for (const MirDetectParams *params,
                           const char *const     *names_a,
                           const char *const     *names_b,
                           guint                  n_b)
{
  MirDetectParams *out = mir_detect_params_new (n_b, params->method);
  guint n_names_a = names_a != NULL ? g_strv_length ((char **) names_a) : 0;
  guint n_names_b = names_b != NULL ? g_strv_length ((char **) names_b) : 0;

  out->radius = params->radius;
  out->weighted_mean = params->weighted_mean;
  out->notebook_compat = params->notebook_compat;
  out->grouping = params->grouping;
  out->iou = params->iou;
  for (guint k = 0; k < n_b; k++)
    {
      gint from = -1;

      for (guint j = 0; k < n_names_b && j < MIN (n_names_a, params->n_classes) && from < 0; j++)
        if (same_name (names_a[j], names_b[k]))
          from = (gint) j;
      if (from < 0 && k < params->n_classes)
        from = (gint) k;
      if (from >= 0)
        out->classes[k] = params->classes[from];
    }
  return out;
}
