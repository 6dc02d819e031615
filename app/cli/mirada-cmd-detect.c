/* mirada-cmd-detect.c: `mirada detect MODEL IMAGE`: the sliding-window
 * detector of the seed report (methods 1, 2.1, 2.2), with grouping,
 * evaluation against ground truth and parameter sweeps (docs/detector.md). */
#define G_LOG_DOMAIN "mirada-detect"

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "mirada-cli-util.h"
#include "mirada-detect-export.h"
#include "detect/mir-detect.h"
#include "mirada-figure.h"
#include "mirada-detect-examples.h"

typedef enum
{
  FORMAT_TEXT,
  FORMAT_JSON,
  FORMAT_CSV,
  FORMAT_MARKDOWN,  /* --sweep only: the table for a report (the seed's Tables 2–4) */
  FORMAT_LATEX,
} Format;

/* One --sweep axis: KEY=v1,v2,... */
typedef struct
{
  char *key;       /* "threshold", "fe", "radius", "method", "iou" */
  gint klass;      /* -1 = every class, else one class (KEY:CLASS=...) */
  GPtrArray *values; /* char* */
} SweepAxis;

static void
sweep_axis_free (SweepAxis *axis)
{
  g_free (axis->key);
  g_ptr_array_unref (axis->values);
  g_free (axis);
}

static gboolean
parse_unit (const char *s, const char *what, double *out, GError **error)
{
  char *end = NULL;
  double v = g_ascii_strtod (s, &end);

  if (s[0] == '\0' || end == NULL || *end != '\0')
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("%s “%s” is not a number"), what, s);
      return FALSE;
    }
  if (!(v >= 0.0 && v <= 1.0))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("%s %s is outside [0, 1]"), what, s);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

/* Applies "CLASS=V" (or "V" for every class) to the threshold or exception
 * factor of @params. */
static gboolean
apply_class_value (MirDetectParams *params, const MirDetectGrid *grid, const char *spec,
                   gboolean threshold, GError **error)
{
  const char *eq = strrchr (spec, '=');
  const char *what = threshold ? _("Threshold") : _("Exception factor");
  double v;
  gint c = -1;

  if (eq != NULL)
    {
      g_autofree char *name = g_strndup (spec, eq - spec);
      if ((c = mir_detect_grid_find_class (grid, name, error)) < 0)
        return FALSE;
      spec = eq + 1;
    }
  if (!parse_unit (spec, what, &v, error))
    return FALSE;
  for (guint k = 0; k < params->n_classes; k++)
    if (c < 0 || (guint) c == k)
      {
        if (threshold)
          params->classes[k].threshold = v;
        else
          params->classes[k].exception = v;
      }
  return TRUE;
}

static gboolean
apply_sweep_value (MirDetectParams *params, const MirDetectGrid *grid, const SweepAxis *axis,
                   const char *value, GError **error)
{
  if (strcmp (axis->key, "threshold") == 0 || strcmp (axis->key, "fe") == 0)
    {
      g_autofree char *spec = axis->klass < 0 ? g_strdup (value)
        : g_strdup_printf ("%d=%s", axis->klass, value);
      return apply_class_value (params, grid, spec, axis->key[0] == 't', error);
    }
  if (strcmp (axis->key, "radius") == 0)
    {
      char *end = NULL;
      guint64 r = g_ascii_strtoull (value, &end, 10);
      if (*value == '\0' || *end != '\0' || r < 1 || r > 64)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                       _("Radius “%s” must be a whole number from 1 to 64"), value);
          return FALSE;
        }
      params->radius = (guint) r;
      return TRUE;
    }
  if (strcmp (axis->key, "iou") == 0)
    return parse_unit (value, _("IoU"), &params->iou, error);
  if (strcmp (axis->key, "method") == 0)
    {
      MirDetectMethod m;
      if (!mir_detect_method_from_string (value, &m, error))
        return FALSE;
      /* keep the complement flags the user chose; 2.1 defaults flag class 1 */
      params->method = m;
      return TRUE;
    }
  g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
               _("Unknown sweep key “%s” (use threshold, fe, radius, iou or method)"),
               axis->key);
  return FALSE;
}

static SweepAxis *
parse_sweep (const char *spec, const MirDetectGrid *grid, GError **error)
{
  const char *eq = strchr (spec, '=');
  g_autofree char *key = NULL;
  g_auto(GStrv) values = NULL;
  SweepAxis *axis;
  char *colon;

  if (eq == NULL || eq[1] == '\0')
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("--sweep wants KEY=V1,V2,… (for example threshold=0.9,0.95), not “%s”"),
                   spec);
      return NULL;
    }
  key = g_strndup (spec, eq - spec);
  axis = g_new0 (SweepAxis, 1);
  axis->klass = -1;
  if ((colon = strchr (key, ':')) != NULL)
    {
      *colon = '\0';
      if ((axis->klass = mir_detect_grid_find_class (grid, colon + 1, error)) < 0)
        {
          g_free (axis);
          return NULL;
        }
    }
  axis->key = g_strdup (key);
  axis->values = g_ptr_array_new_with_free_func (g_free);
  values = g_strsplit (eq + 1, ",", -1);
  for (guint i = 0; values[i]; i++)
    g_ptr_array_add (axis->values, g_strdup (g_strstrip (values[i])));
  return axis;
}

/* ------------------------------------------------------------------ */
/* Output */

static char *
fmt (double v, const char *format)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    return g_strdup ("-");
  return g_strdup (g_ascii_formatd (buf, sizeof buf, format, v));
}

static void
json_add_double (JsonBuilder *b, const char *member, double v)
{
  json_builder_set_member_name (b, member);
  if (isnan (v))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}

static void
json_add_eval (JsonBuilder *b, const MirDetectEval *ev)
{
  json_builder_set_member_name (b, "evaluation");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "truth");
  json_builder_add_int_value (b, ev->n_truth);
  json_builder_set_member_name (b, "detected");
  json_builder_add_int_value (b, ev->n_detected);
  json_builder_set_member_name (b, "true_positives");
  json_builder_add_int_value (b, ev->true_positives);
  json_add_double (b, "precision", ev->precision);
  json_add_double (b, "recall", ev->recall);
  json_add_double (b, "f1", ev->f1);
  json_builder_set_member_name (b, "count_error");
  json_builder_add_int_value (b, ev->count_error);
  json_builder_set_member_name (b, "abs_count_error");
  json_builder_add_int_value (b, ev->abs_count_error);
  json_builder_end_object (b);
}

static void
print_result (GPtrArray *grids, const MirDetectParams *params,
              const MirDetectResult *r, const MirDetectEval *ev, Format format,
              const MirDetectTruth *truth, const char *image_name)
{
  const MirDetectGrid *grid = g_ptr_array_index (grids, 0);

  if (format == FORMAT_JSON || format == FORMAT_CSV)
    {
      /* the one schema, written as the window's Export writes it */
      const MiradaDetections d = { NULL, image_name, (MirDetectGrid *const *) grids->pdata,
                                   grids->len, params, r, truth };
      g_autoptr(GError) error = NULL;

      if (!mirada_detections_export (&d, format == FORMAT_JSON ? MIRADA_DETECTIONS_JSON
                                                               : MIRADA_DETECTIONS_CSV,
                                     "-", &error))
        mirada_cli_fail (error);
      return;
    }
  for (guint q = 0; q < grids->len; q++)
    {
      const MirDetectGrid *g = g_ptr_array_index (grids, q);

      if (grids->len > 1 && g->scale != 1.0)
        g_print (_("Scale %u: image shrunk by %g, "), q, g->scale);
      else if (grids->len > 1)
        g_print (_("Scale %u: "), q);
      g_print (_("Grid %d×%d windows (window %d px, stride %d px), method %s\n"),
               g->geom.rows, g->geom.cols, g->geom.window, g->geom.stride,
               mir_detect_method_to_string (params->method));
    }
  for (guint c = 0; c < r->n_classes; c++)
    {
      g_autoptr(GString) mu = g_string_new (NULL);
      g_autofree char *shown = NULL;

      /* several scales: one μ per grid, "a/b/c" */
      for (guint q = 0; q < r->n_scales; q++)
        {
          g_autofree char *v = fmt (r->mu[q * r->n_classes + c], "%.4f");
          g_string_append_printf (mu, "%s%s", q ? "/" : "", v);
        }
      if (!params->classes[c].enabled)
        continue;
      shown = mirada_cli_printable_padded (grid->class_names[c], 12);
      g_print (_("  %s P=%g  f_e=%g  μ=%s  filter 1: %u  filter 2: %u  boxes: %u\n"),
               shown, params->classes[c].threshold,
               params->classes[c].exception, mu->str, r->n_filter1[c], r->n_filter2[c],
               r->counts[c]);
    }
  for (guint i = 0; i < r->boxes->len; i++)
    {
      const MirDetectBox *box = &g_array_index (r->boxes, MirDetectBox, i);
      g_autofree char *m = fmt (box->mean, "%.4f");
      g_autofree char *members = box->n_members > 1
        ? g_strdup_printf (_("  (%u windows)"), box->n_members) : g_strdup ("");

      g_autofree char *scale = grids->len > 1 ? g_strdup_printf (_("scale %u "), box->scale)
                                              : g_strdup ("");
      g_autofree char *shown = mirada_cli_printable_padded (grid->class_names[box->class_index], 12);

      /* TRANSLATORS: a detected box: class, probability, [x, y, width, height], "scale N "
       * when there are several scales, the window's index (row, column), its
       * neighbourhood mean and "  (N windows)". */
      g_print (_("  %s %.4f  [%.0f, %.0f, %.0f, %.0f]  %swindow %u (%u, %u)  mean %s%s\n"),
               shown, box->prob, box->x, box->y, box->width,
               box->height, scale, box->window, box->row, box->col, m, members);
    }
  if (ev)
    g_print (_("Against ground truth (IoU ≥ 0.5): %u of %u found, %u detections; "
               "precision %.3f, recall %.3f, F1 %.3f, count error %+d\n"),
             ev->true_positives, ev->n_truth, ev->n_detected, ev->precision, ev->recall,
             ev->f1, ev->count_error);
}

/* Sweep table, like the seed's Tables 2-4. */
/* The sweep's tab-separated table as Markdown (a pipe table) or LaTeX (a
 * tabular with booktabs rules), cells escaped; numbers right-aligned. */
static void
print_report_table (const char *tsv, gboolean latex)
{
  g_auto(GStrv) lines = g_strsplit (tsv, "\n", -1);
  g_autoptr(GString) out = g_string_new (NULL);
  guint n_cols = 0;

  for (guint r = 0; lines[r] && lines[r][0]; r++)
    {
      g_auto(GStrv) cells = g_strsplit (lines[r], "\t", -1);
      guint n = g_strv_length (cells);

      if (r == 0)
        {
          n_cols = n;
          if (latex)
            {
              g_string_append (out, "\\begin{tabular}{");
              for (guint c = 0; c < n; c++)
                g_string_append_c (out, c < 2 ? 'l' : 'r');
              g_string_append (out, "}\n\\toprule\n");
            }
        }
      for (guint c = 0; c < n_cols; c++)
        {
          const char *cell = c < n ? cells[c] : "";

          if (latex)
            {
              if (c > 0)
                g_string_append (out, " & ");
              for (const char *p = cell; *p; p++)
                switch (*p)
                  {
                  case '&': case '%': case '$': case '#': case '_': case '{': case '}':
                    g_string_append_c (out, '\\');
                    g_string_append_c (out, *p);
                    break;
                  case '~':
                    g_string_append (out, "\\textasciitilde{}");
                    break;
                  case '^':
                    g_string_append (out, "\\textasciicircum{}");
                    break;
                  case '\\':
                    g_string_append (out, "\\textbackslash{}");
                    break;
                  default:
                    g_string_append_c (out, *p);
                  }
            }
          else
            {
              g_autofree char *escaped = NULL;
              g_auto(GStrv) parts = g_strsplit (cell, "|", -1);

              escaped = g_strjoinv ("\\|", parts);
              g_string_append_printf (out, "| %s ", escaped);
            }
        }
      if (latex)
        g_string_append (out, r == 0 ? " \\\\\n\\midrule\n" : " \\\\\n");
      else
        {
          g_string_append (out, "|\n");
          if (r == 0)
            {
              for (guint c = 0; c < n_cols; c++)
                g_string_append (out, c < 2 ? "|---" : "|---:");
              g_string_append (out, "|\n");
            }
        }
    }
  if (latex)
    g_string_append (out, "\\bottomrule\n\\end{tabular}\n");
  g_print ("%s", out->str);
}

static int
run_sweep (GPtrArray *grids, const MirDetectParams *base, GPtrArray *axes,
           const MirDetectTruth *truth, Format format)
{
  const MirDetectGrid *grid = g_ptr_array_index (grids, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(MiradaCsv) csv = mirada_csv_new ();
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree guint *idx = g_new0 (guint, axes->len);
  g_autoptr(GArray) enabled = g_array_new (FALSE, FALSE, sizeof (guint));
  const char *sep = "\t";
  guint test = 0;

  for (guint c = 0; c < base->n_classes; c++)
    if (base->classes[c].enabled)
      g_array_append_val (enabled, c);

  /* header: the text table in @out (tab-separated), the CSV in @csv */
  g_string_append_printf (out, "test%smethod", sep);
  mirada_csv_add_string (csv, "test");
  mirada_csv_add_string (csv, "method");
  for (guint pass = 0; pass < 5; pass++)
    for (guint i = 0; i < enabled->len; i++)
      {
        static const char *const heads[] = { "P", "fe", "mu", "filter1", "count" };
        g_autofree char *head = g_strdup_printf ("%s(%s)", heads[pass],
                                                 grid->class_names[g_array_index (enabled, guint, i)]);
        g_string_append_printf (out, "%s%s", sep, head);
        mirada_csv_add_string (csv, head);
      }
  g_string_append_printf (out, "%sradius", sep);
  mirada_csv_add_string (csv, "radius");
  if (truth)
    {
      g_string_append_printf (out, "%sprecision%srecall%sF1%scount_error", sep, sep, sep, sep);
      mirada_csv_add_string (csv, "precision");
      mirada_csv_add_string (csv, "recall");
      mirada_csv_add_string (csv, "F1");
      mirada_csv_add_string (csv, "count_error");
    }
  g_string_append_c (out, '\n');
  mirada_csv_end_row (csv);
  json_builder_begin_array (b);

  for (;;)
    {
      g_autoptr(MirDetectParams) p = mir_detect_params_copy (base);
      g_autoptr(MirDetectResult) r = NULL;
      MirDetectEval ev = { 0 };

      for (guint a = 0; a < axes->len; a++)
        {
          SweepAxis *axis = g_ptr_array_index (axes, a);
          if (!apply_sweep_value (p, grid, axis, g_ptr_array_index (axis->values, idx[a]),
                                  &error))
            return mirada_cli_fail (error);
        }
      if (!(r = mir_detect_filter_scales ((MirDetectGrid *const *) grids->pdata, grids->len, p,
                                          &error)))
        return mirada_cli_fail (error);
      if (truth)
        mir_detect_evaluate (r, (const MirDetectTruthBox *) (void *) truth->boxes->data,
                             truth->boxes->len, 0.5, &ev);
      test++;

      g_string_append_printf (out, "%u%s%s", test, sep, mir_detect_method_to_string (p->method));
      mirada_csv_add_int (csv, test);
      mirada_csv_add_string (csv, mir_detect_method_to_string (p->method));
      for (guint pass = 0; pass < 5; pass++)
        for (guint i = 0; i < enabled->len; i++)
          {
            guint c = g_array_index (enabled, guint, i);
            g_autofree char *v = NULL;

            switch (pass)
              {
              case 0:
                v = fmt (p->classes[c].threshold, "%g");
                mirada_csv_add_double (csv, p->classes[c].threshold, "%g");
                break;
              case 1:
                v = fmt (p->classes[c].exception, "%g");
                mirada_csv_add_double (csv, p->classes[c].exception, "%g");
                break;
              case 2:
                v = fmt (r->mu[c], "%.4f");
                mirada_csv_add_double (csv, r->mu[c], "%.4f");
                break;
              case 3:
                v = g_strdup_printf ("%u", r->n_filter1[c]);
                mirada_csv_add_int (csv, r->n_filter1[c]);
                break;
              default:
                v = g_strdup_printf ("%u", r->counts[c]);
                mirada_csv_add_int (csv, r->counts[c]);
                break;
              }
            g_string_append_printf (out, "%s%s", sep, v);
          }
      g_string_append_printf (out, "%s%u", sep, p->radius);
      mirada_csv_add_int (csv, p->radius);
      if (truth)
        {
          g_string_append_printf (out, "%s%.4f%s%.4f%s%.4f%s%+d", sep, ev.precision, sep,
                                  ev.recall, sep, ev.f1, sep, ev.count_error);
          mirada_csv_add_double (csv, ev.precision, "%.4f");
          mirada_csv_add_double (csv, ev.recall, "%.4f");
          mirada_csv_add_double (csv, ev.f1, "%.4f");
          mirada_csv_add_int (csv, ev.count_error);
        }
      g_string_append_c (out, '\n');
      mirada_csv_end_row (csv);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "test");
      json_builder_add_int_value (b, test);
      json_builder_set_member_name (b, "method");
      json_builder_add_string_value (b, mir_detect_method_to_string (p->method));
      json_builder_set_member_name (b, "radius");
      json_builder_add_int_value (b, p->radius);
      json_builder_set_member_name (b, "classes");
      json_builder_begin_array (b);
      for (guint i = 0; i < enabled->len; i++)
        {
          guint c = g_array_index (enabled, guint, i);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, grid->class_names[c]);
          json_add_double (b, "threshold", p->classes[c].threshold);
          json_add_double (b, "exception", p->classes[c].exception);
          json_add_double (b, "mu", r->mu[c]);
          json_builder_set_member_name (b, "filter1");
          json_builder_add_int_value (b, r->n_filter1[c]);
          json_builder_set_member_name (b, "count");
          json_builder_add_int_value (b, r->counts[c]);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      if (truth)
        json_add_eval (b, &ev);
      json_builder_end_object (b);
      mir_detect_eval_clear (&ev);

      /* next combination, last axis fastest */
      {
        gint a = (gint) axes->len - 1;
        for (; a >= 0; a--)
          {
            SweepAxis *axis = g_ptr_array_index (axes, a);
            if (++idx[a] < axis->values->len)
              break;
            idx[a] = 0;
          }
        if (a < 0)
          break;
      }
    }
  json_builder_end_array (b);
  if (format == FORMAT_JSON)
    mirada_cli_json_print (b);
  else if (format == FORMAT_CSV)
    {
      if (!mirada_csv_save (csv, "-", &error))
        return mirada_cli_fail (error);
    }
  else if (format == FORMAT_MARKDOWN || format == FORMAT_LATEX)
    print_report_table (out->str, format == FORMAT_LATEX);
  else
    g_print ("%s", out->str);
  return 0;
}

/* ------------------------------------------------------------------ */

static void
progress_cb (guint done, guint total, gpointer user_data)
{
  if (GPOINTER_TO_INT (user_data))
    g_printerr ("\r%s %u/%u", _("Classifying windows:"), done, total);
  if (done == total && GPOINTER_TO_INT (user_data))
    g_printerr ("\n");
}

int
mirada_cmd_detect (int argc, char **argv)
{
  int window = 150, stride = 40, radius = 1, batch = 32, levels = 0;
  double iou = 0.3, scale_factor = 0;
  gboolean markdown = FALSE, latex = FALSE;
  gboolean notebook = FALSE, json = FALSE, csv = FALSE, weighted = FALSE, per_window = FALSE;
  /* filled in by GOption; freed on return */
  g_autofree char *method_s = NULL, *group_s = NULL, *truth_path = NULL, *draw_path = NULL;
  g_autofree char *save_grid = NULL, *classes_s = NULL, *windows_s = NULL;
  g_autofree char *field_path = NULL, *field_class = NULL;
  double field_opacity = 0.5;
  g_auto(GStrv) grid_paths = NULL;
  g_autofree char *labels = NULL, *preprocess = NULL, *resize = NULL;
  g_auto(GStrv) thresholds = NULL, exceptions = NULL, sweeps = NULL, complements = NULL;
  g_auto(MiradaExampleOptions) ex = { 0 };
  guint n_model_classes = 0;
  const GOptionEntry entries[] = {
    { "window", 'w', 0, G_OPTION_ARG_INT, &window, N_("Window side in pixels (default 150)"),
      N_("PX") },
    { "stride", 's', 0, G_OPTION_ARG_INT, &stride, N_("Step between windows (default 40)"),
      N_("PX") },
    { "windows", 0, 0, G_OPTION_ARG_STRING, &windows_s,
      N_("Several window sides, one grid each, boxes pooled (for example 100,150,200)"),
      N_("PX,…") },
    { "scale-factor", 0, 0, G_OPTION_ARG_DOUBLE, &scale_factor,
      N_("Image pyramid: shrink the image by this factor per level (with --levels)"), N_("F") },
    { "levels", 0, 0, G_OPTION_ARG_INT, &levels,
      N_("Image pyramid: number of levels, the image itself included (default: as many as "
         "the window fits in)"), N_("N") },
    { "per-window", 0, 0, G_OPTION_ARG_NONE, &per_window,
      N_("Classify every window on its own (no shared convolutions over the image)"), NULL },
    { "method", 'm', 0, G_OPTION_ARG_STRING, &method_s,
      N_("1 (threshold), 2.1 (neighbour means, complement) or 2.2 (default)"), N_("METHOD") },
    { "threshold", 't', 0, G_OPTION_ARG_STRING_ARRAY, &thresholds,
      N_("Threshold P(x) of a class (name or index), or of all (default 0.99)"),
      N_("[CLASS=]P") },
    { "exception", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &exceptions,
      N_("Exception factor f_e(x): value of a neighbour outside the grid (default 0.5)"),
      N_("[CLASS=]F") },
    { "complement", 0, 0, G_OPTION_ARG_STRING_ARRAY, &complements,
      N_("Method 2.1: average 1 − P for these classes (default: class 1)"), N_("CLASS") },
    { "classes", 'c', 0, G_OPTION_ARG_STRING, &classes_s,
      N_("Comma-separated classes to look for (default: all)"), N_("LIST") },
    { "radius", 0, 0, G_OPTION_ARG_INT, &radius, N_("Neighbourhood radius (1 = 3×3)"), N_("R") },
    { "weighted", 0, 0, G_OPTION_ARG_NONE, &weighted,
      N_("Gaussian-weighted neighbourhood mean"), NULL },
    { "group", 'g', 0, G_OPTION_ARG_STRING, &group_s, N_("Box grouping: none, nms or merge"),
      N_("MODE") },
    { "iou", 0, 0, G_OPTION_ARG_DOUBLE, &iou, N_("IoU threshold of the grouping (default 0.3)"),
      N_("IOU") },
    { "truth", 0, 0, G_OPTION_ARG_FILENAME, &truth_path,
      N_("Ground-truth JSON: report precision, recall, F1 at IoU 0.5"), N_("FILE") },
    { "notebook-compat", 0, 0, G_OPTION_ARG_NONE, &notebook,
      N_("Reproduce the original detector notebook exactly (7×16 layout, its neighbour quirks)"), NULL },
    { "sweep", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sweeps,
      N_("Table over values: threshold, fe, radius, iou, method (KEY[:CLASS]=V1,V2…)"),
      N_("KEY=V,…") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, N_("Print CSV"), NULL },
    { "markdown", 0, 0, G_OPTION_ARG_NONE, &markdown,
      N_("With --sweep: print the table as Markdown, for a report"), NULL },
    { "latex", 0, 0, G_OPTION_ARG_NONE, &latex,
      N_("With --sweep: print the table as a LaTeX tabular (booktabs rules), for a report"), NULL },
    { "draw", 0, 0, G_OPTION_ARG_FILENAME, &draw_path,
      N_("Write the image with the boxes and their labels drawn (PNG, or SVG/PDF by the extension)"), N_("FILE") },
    { "field-png", 0, 0, G_OPTION_ARG_FILENAME, &field_path,
      N_("Write the image with the probability field drawn (PNG, or SVG/PDF by the extension): P as a heat map, "
         "the threshold as a contour, what filter 2 and f_e did (the first scale)"),
      N_("FILE") },
    { "class", 0, 0, G_OPTION_ARG_STRING, &field_class,
      N_("The class whose field --field-png draws (default: every class looked for)"),
      N_("CLASS") },
    { "field-opacity", 0, 0, G_OPTION_ARG_DOUBLE, &field_opacity,
      N_("Opacity of the heat map where P = 1 (default 0.5)"), N_("A") },
    { "examples", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &ex.files,
      N_("Background and classes by example: a JSON file of windows (or embeddings) labelled "
         "“background” or a class name; windows are then classified by their nearest example "
         "on the network’s features (README)"), N_("FILE") },
    { "add-background", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ex.backgrounds,
      N_("The window under this image point is background (repeat for several)"), N_("X,Y") },
    { "add-example", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ex.adds,
      N_("The window under this image point is an example of LABEL, a class of the model or a "
         "new one (repeat)"), N_("LABEL=X,Y") },
    { "save-examples", 0, 0, G_OPTION_ARG_FILENAME, &ex.save,
      N_("Write every example with its embedding to a JSON file (for --examples)"), N_("FILE") },
    { "save-examples-to-sidecar", 0, 0, G_OPTION_ARG_NONE, &ex.to_sidecar,
      N_("Keep the examples in the model’s sidecar, for the next session and the window"), NULL },
    { "no-sidecar-examples", 0, 0, G_OPTION_ARG_NONE, &ex.no_sidecar,
      N_("Ignore the examples saved in the model’s sidecar"), NULL },
    { "embedding-layer", 0, 0, G_OPTION_ARG_STRING, &ex.layer,
      N_("The layer whose output is each window’s embedding for the examples (default: the "
         "input of the classifier’s head; a 4-D output is averaged over height and width)"),
      N_("NAME") },
    { "example-rule", 0, 0, G_OPTION_ARG_STRING, &ex.rule,
      N_("Distance to a label: nearest (its nearest example, default) or mean (its examples’ "
         "mean)"), N_("RULE") },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Windows per forward pass (default 32)"),
      N_("N") },
    { "save-grid", 0, 0, G_OPTION_ARG_FILENAME, &save_grid,
      N_("Save the window probabilities as JSON (reuse with --grid; several scales: "
         "FILE.0.json, FILE.1.json, …)"), N_("FILE") },
    { "grid", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME_ARRAY, &grid_paths,
      N_("Filter a saved probability grid instead of running a model (repeat: scales)"),
      N_("FILE") },
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &labels,
      N_("Class names, one per line (overrides the sidecar)"), N_("FILE") },
    { "preprocess", 'p', 0, G_OPTION_ARG_STRING, &preprocess,
      N_("How pixels become inputs: none, scale, tf, caffe or torch"), N_("MODE") },
    { "resize", 'r', 0, G_OPTION_ARG_STRING, &resize,
      N_("How windows are resized to the model's input: nearest or bilinear"), N_("MODE") },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new (_("MODEL IMAGE"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GPtrArray) grids = NULL;
  MirDetectGrid *grid = NULL; /* grids[0]: the classes */
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(MirDetectResult) result = NULL;
  g_autoptr(MirDetectTruth) truth = NULL;
  g_autoptr(GPtrArray) axes = g_ptr_array_new_with_free_func ((GDestroyNotify) sweep_axis_free);
  MirDetectMethod method = MIR_DETECT_METHOD_2_2;
  MirDetectGrouping grouping = MIR_DETECT_GROUP_NONE;
  Format format;
  const char *image_path = NULL;
  int ret;

  g_option_context_set_summary (context,
    _("Slide a window over the image, classify every window, and keep those that pass the "
      "detector's two filters: method 1 keeps windows with P(x) ≥ threshold; methods 2.1 and 2.2 "
      "then keep those whose neighbourhood mean is at least μ = (max + min) / 2."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  ret = mirada_cli_parse (context, "detect", &argc, &argv);
  {
    if (ret >= 0)
      return ret;
    if ((ret = mirada_cli_check_range ("detect", "--window", window, 1, MIR_IMAGE_MAX_SIDE)) >= 0 ||
          (ret = mirada_cli_check_range ("detect", "--stride", stride, 1, MIR_IMAGE_MAX_SIDE)) >= 0 ||
          (ret = mirada_cli_check_range ("detect", "--levels", levels, 0, MIR_DETECT_MAX_SCALES)) >= 0 ||
          (ret = mirada_cli_check_range ("detect", "--batch", batch, 1, 4096)) >= 0)
      return ret;
    if (json + csv + markdown + latex > 1)
      return mirada_cli_usage_error ("detect", _("Choose one of --json, --csv, --markdown and --latex"));
    if ((markdown || latex) && sweeps == NULL)
      return mirada_cli_usage_error ("detect", _("--markdown and --latex format the --sweep table"));
    format = json ? FORMAT_JSON : csv ? FORMAT_CSV : markdown ? FORMAT_MARKDOWN
           : latex ? FORMAT_LATEX : FORMAT_TEXT;
    {
      const char *const outputs[] = { draw_path, save_grid, field_path };
      int out_ret = mirada_cli_check_outputs ("detect", format != FORMAT_TEXT, outputs,
                                              G_N_ELEMENTS (outputs));
      if (out_ret >= 0)
        return out_ret;
    }
    if (method_s && !mir_detect_method_from_string (method_s, &method, &error))
      return mirada_cli_usage_error ("detect", error->message);
    if (field_class && !field_path)
      return mirada_cli_usage_error ("detect", _("--class chooses the field of --field-png; "
                                                 "give --field-png FILE too"));
    if (!(field_opacity >= 0.0 && field_opacity <= 1.0))
      return mirada_cli_usage_error ("detect", _("--field-opacity must lie in [0, 1]"));
    if (group_s && !mir_detect_grouping_from_string (group_s, &grouping, &error))
      return mirada_cli_usage_error ("detect", error->message);
    if (resize && g_ascii_strcasecmp (resize, "nearest") != 0
        && g_ascii_strcasecmp (resize, "bilinear") != 0)
      return mirada_cli_usage_error ("detect", _("--resize must be nearest or bilinear"));
    if (batch < 1)
      return mirada_cli_usage_error ("detect", _("--batch must be at least 1"));

    /* The expensive part: the probability grid(s). */
    if (grid_paths)
      {
        if (argc > 2)
          return mirada_cli_usage_error ("detect", _("With --grid, give at most an image"));
        if (ex.layer != NULL)
          return mirada_cli_usage_error ("detect", _("--embedding-layer needs the model: a "
                                                     "saved grid keeps the embeddings it was "
                                                     "saved with"));
        grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
        for (guint q = 0; grid_paths[q]; q++)
          {
            MirDetectGrid *g = mir_detect_grid_load_json (grid_paths[q], &error);
            if (g == NULL)
              return mirada_cli_fail (error);
            g_ptr_array_add (grids, g);
          }
        if (argc == 2)
          image_path = argv[1];
        if (truth_path)
          {
            MirDetectGrid *first = g_ptr_array_index (grids, 0);

            if (!(truth = mir_detect_truth_load (truth_path,
                                                 (const char *const *) first->class_names,
                                                 &error)))
              return mirada_cli_fail (error);
          }
      }
    else
      {
        MirDetectScales scales;

        if (argc != 3)
          return mirada_cli_usage_error ("detect", _("Give a model file and an image"));
        if (windows_s && (scale_factor != 0 || levels != 0))
          return mirada_cli_usage_error ("detect", _("Choose one of --windows and an image "
                                                     "pyramid (--scale-factor, --levels)"));
        if (windows_s)
          {
            g_auto(GStrv) parts = g_strsplit (windows_s, ",", -1);
            int sides[MIR_DETECT_MAX_SCALES];
            guint n = g_strv_length (parts);

            for (guint q = 0; q < n && q < MIR_DETECT_MAX_SCALES; q++)
              {
                char *end = NULL;
                gint64 v = g_ascii_strtoll (g_strstrip (parts[q]), &end, 10);

                if (parts[q][0] == '\0' || *end != '\0' || v < 1 || v > G_MAXINT)
                  return mirada_cli_usage_error ("detect", _("--windows wants whole numbers of "
                                                             "pixels, for example 100,150,200"));
                sides[q] = (int) v;
              }
            if (!mir_detect_scales_windows (&scales, sides, n, &error))
              return mirada_cli_usage_error ("detect", error->message);
          }
        else if (levels != 0 || scale_factor != 0)
          {
            if (scale_factor == 0)
              scale_factor = 1.25;
            if (levels < 0)
              return mirada_cli_usage_error ("detect", _("--levels must be at least 1"));
            if (!mir_detect_scales_pyramid (&scales, window, scale_factor,
                                            levels > 0 ? (guint) levels : MIR_DETECT_MAX_SCALES,
                                            &error))
              return mirada_cli_usage_error ("detect", error->message);
          }
        else if (!mir_detect_scales_windows (&scales, &window, 1, &error))
          return mirada_cli_usage_error ("detect", error->message);

        image_path = argv[2];
        if (!(model = mirada_model_open (argv[1], labels, preprocess, resize, &error)))
          return mirada_cli_fail (error);
        /* A bad ground-truth file fails now, not after every window is
         * classified.  (No names: not a classifier, which classifying
         * refuses before any window.) */
        if (truth_path)
          {
            g_auto(GStrv) names = mir_detect_model_class_names (model);

            if (names != NULL &&
                !(truth = mir_detect_truth_load (truth_path, (const char *const *) names,
                                                 &error)))
              return mirada_cli_fail (error);
          }
        mirada_cli_note_preprocess (model, argv[1]);
        if ((ret = mirada_detect_examples_pick_layer (&ex, argv[1], model)) >= 0)
          return ret;
        if (!(image = mirada_image_load (image_path, &error)))
          return mirada_cli_fail (error);
        if (levels == 0 && scale_factor != 0)
          /* OpenCV's way: every level the window still fits in (the window's rule) */
          mir_detect_scales_fit (&scales, image->width, image->height, stride, notebook);
        grids = mir_detect_classify_scales (model, image, &scales, stride, notebook,
                                            (guint) batch,
                                            per_window ? MIR_DETECT_SHARED_NEVER
                                                       : MIR_DETECT_SHARED_AUTO,
                                            progress_cb,
                                            GINT_TO_POINTER (isatty (2) && format == FORMAT_TEXT),
                                            NULL, &error);
        if (grids == NULL)
          return mirada_cli_fail (error);
      }
    grid = g_ptr_array_index (grids, 0);
    if (save_grid && grids->len > 1 && mirada_output_is_stdout (save_grid))
      return mirada_cli_usage_error ("detect", _("--save-grid - writes one grid; with "
                                                 "several scales give a file name"));
    for (guint q = 0; save_grid && q < grids->len; q++)
      {
        g_autofree char *path = NULL;
        g_autofree char *text = NULL;

        if (grids->len == 1)
          path = g_strdup (save_grid);
        else
          {
            const char *dot = strrchr (save_grid, '.');
            const char *slash = strrchr (save_grid, G_DIR_SEPARATOR);
            gsize stem = dot && (!slash || dot > slash) ? (gsize) (dot - save_grid)
                                                        : strlen (save_grid);

            path = g_strdup_printf ("%.*s.%u%s", (int) stem, save_grid, q, save_grid + stem);
          }
        text = mir_detect_grid_to_json (g_ptr_array_index (grids, q));
        if (!mirada_output_write (path, text, strlen (text), &error))
          return mirada_cli_fail (error);
      }
    /* Background and classes by example: the grids the examples give. */
    {
      int ex_ret = mirada_detect_examples_apply (&ex, grid_paths ? NULL : argv[1], model, grids,
                                                 &n_model_classes);

      if (ex_ret >= 0)
        return ex_ret;
      grid = g_ptr_array_index (grids, 0);
    }

    /* The cheap part: filters. */
    params = mir_detect_params_new (grid->n_classes, method);
    /* a "background" class is not looked for unless --classes names it */
    for (guint k = 0; k < grid->n_classes && model != NULL && model->meta.class_names != NULL; k++)
      if (k < g_strv_length (model->meta.class_names) &&
          g_ascii_strcasecmp (model->meta.class_names[k], "background") == 0)
        params->classes[k].enabled = FALSE;
    mirada_detect_examples_defaults (params, grid, n_model_classes);
    params->radius = radius > 0 ? (guint) radius : 0;
    params->weighted_mean = weighted;
    params->notebook_compat = notebook;
    params->grouping = grouping;
    params->iou = iou;
    if (radius < 1)
      {
        g_set_error (&error, MIR_ERROR, MIR_ERROR_INVALID,
                     _("Neighbourhood radius must be at least 1, not %d"), radius);
        return mirada_cli_usage_error ("detect", error->message);
      }
    if (classes_s)
      {
        g_auto(GStrv) names = g_strsplit (classes_s, ",", -1);

        for (guint c = 0; c < params->n_classes; c++)
          params->classes[c].enabled = FALSE;
        for (guint q = 0; names[q]; q++)
          {
            gint c = mir_detect_grid_find_class (grid, g_strstrip (names[q]), &error);
            if (c < 0)
              return mirada_cli_usage_error ("detect", error->message);
            params->classes[c].enabled = TRUE;
          }
      }
    if (complements)
      {
        for (guint c = 0; c < params->n_classes; c++)
          params->classes[c].complement = FALSE;
        for (guint q = 0; complements[q]; q++)
          {
            gint c = mir_detect_grid_find_class (grid, complements[q], &error);
            if (c < 0)
              return mirada_cli_usage_error ("detect", error->message);
            params->classes[c].complement = TRUE;
          }
      }
    for (guint q = 0; thresholds && thresholds[q]; q++)
      if (!apply_class_value (params, grid, thresholds[q], TRUE, &error))
        return mirada_cli_usage_error ("detect", error->message);
    for (guint q = 0; exceptions && exceptions[q]; q++)
      if (!apply_class_value (params, grid, exceptions[q], FALSE, &error))
        return mirada_cli_usage_error ("detect", error->message);
    /* Out-of-range option values are usage errors (exit 1), as everywhere. */
    if (!mir_detect_params_check (params, grid, &error))
      return mirada_cli_usage_error ("detect", error->message);

    for (guint q = 0; sweeps && sweeps[q]; q++)
      {
        SweepAxis *axis = parse_sweep (sweeps[q], grid, &error);
        if (axis == NULL)
          return mirada_cli_usage_error ("detect", error->message);
        g_ptr_array_add (axes, axis);
      }
    if (axes->len > 0)
      return run_sweep (grids, params, axes, truth, format);

    if (!(result = mir_detect_filter_scales ((MirDetectGrid *const *) grids->pdata, grids->len,
                                             params, &error)))
      return mirada_cli_fail (error);
    {
      g_autofree char *image_name = image_path != NULL ? g_path_get_basename (image_path) : NULL;
      MirDetectEval ev = { 0 };

      if (truth)
        mir_detect_evaluate (result, (const MirDetectTruthBox *) (void *) truth->boxes->data,
                             truth->boxes->len, 0.5, &ev);
      print_result (grids, params, result, truth ? &ev : NULL, format, truth, image_name);
      mir_detect_eval_clear (&ev);
    }

    if (draw_path || field_path)
      {
        if (image == NULL)
          {
            if (image_path == NULL)
              return mirada_cli_usage_error ("detect", draw_path
                                             ? _("--draw with --grid needs the image")
                                             : _("--field-png with --grid needs the image"));
            if (!(image = mirada_image_load (image_path, &error)))
              return mirada_cli_fail (error);
          }
        if (image->width != grid->geom.image_width || image->height != grid->geom.image_height)
          {
            g_set_error (&error, MIR_ERROR, MIR_ERROR_INVALID,
                         _("The image is %d×%d but the grid was made for %d×%d"),
                         image->width, image->height, grid->geom.image_width,
                         grid->geom.image_height);
            return mirada_cli_fail (error);
          }
      }
    if (draw_path)
      {
        /* Pango labels (any name, accents too); PNG, SVG or PDF by the extension */
        if (!mirada_figure_detections (draw_path, image, result,
                                       (const char *const *) grid->class_names, &error))
          return mirada_cli_fail (error);
      }
    if (field_path)
      {
        g_autoptr(MirImage) canvas = NULL;
        gint only = -1;

        if (field_class && (only = mir_detect_grid_find_class (grid, field_class, &error)) < 0)
          return mirada_cli_fail (error);
        if (!(canvas = mir_image_crop (image, 0, 0, image->width, image->height, &error)))
          return mirada_cli_fail (error);
        /* the same code as the filters: the field of each class drawn in its colour */
        for (guint c = 0; c < grid->n_classes; c++)
          {
            g_autoptr(MirDetectField) field = NULL;
            guint8 rgb[3];

            if (only >= 0 ? (guint) only != c : !params->classes[c].enabled)
              continue;
            if (!(field = mir_detect_field_new (grid, params, c, &error)))
              return mirada_cli_fail (error);
            mir_detect_class_color (c, rgb);
            mir_detect_field_draw (canvas, field, rgb, field_opacity,
                                   (int) mirada_figure_box_line (image->width));
          }
        if (!mirada_figure_save_image (field_path, canvas, &error))
          return mirada_cli_fail (error);
      }
    return 0;
  }
}
