/* mir-detect-write.c: detections as CSV and JSON, the one schema `mirada
 * detect --csv/--json` prints and the window's Export writes (the two wrote
 * different columns and members before; issue 22). */
#define G_LOG_DOMAIN "mir-detect"

#include <math.h>
#include <string.h>

#include "mir-detect.h"

/* ------------------------------------------------------------------ */
/* CSV (RFC 4180, as app/common's MiradaCsv writes it) */

static void
csv_sep (GString *out, gboolean *first)
{
  if (!*first)
    g_string_append_c (out, ',');
  *first = FALSE;
}

static void
csv_string (GString *out, gboolean *first, const char *text)
{
  csv_sep (out, first);
  if (text == NULL)
    return;
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (out, text);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = text; *p; p++)
    {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
}

/* A number with a '.' whatever the locale; NaN as an empty field. */
static void
csv_double (GString *out, gboolean *first, double v, const char *format)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  csv_sep (out, first);
  if (!isnan (v))
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, format, v));
}

static void
csv_uint (GString *out, gboolean *first, guint v)
{
  csv_sep (out, first);
  g_string_append_printf (out, "%u", v);
}

static const char *
class_name (MirDetectGrid *const *grids, guint c)
{
  return c < grids[0]->n_classes ? grids[0]->class_names[c] : NULL;
}

void
mir_detect_result_write_csv (GString               *out,
                             const MirDetectResult *result,
                             MirDetectGrid *const  *grids,
                             guint                  n_grids)
{
  static const char *const heads[] = { "class", "class_index", "scale", "scale_window",
                                       "scale_factor", "window", "row", "col", "x", "y",
                                       "width", "height", "probability", "mean", "members" };
  gboolean first = TRUE;

  g_return_if_fail (out != NULL && result != NULL && grids != NULL && n_grids >= 1);

  for (guint h = 0; h < G_N_ELEMENTS (heads); h++)
    csv_string (out, &first, heads[h]);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *box = &g_array_index (result->boxes, MirDetectBox, i);
      const MirDetectGrid *g = grids[MIN (box->scale, n_grids - 1)];

      first = TRUE;
      csv_string (out, &first, class_name (grids, box->class_index));
      csv_uint (out, &first, box->class_index);
      csv_uint (out, &first, box->scale);
      csv_uint (out, &first, (guint) g->geom.window);
      csv_double (out, &first, g->scale, "%g");
      csv_uint (out, &first, box->window);
      csv_uint (out, &first, box->row);
      csv_uint (out, &first, box->col);
      csv_double (out, &first, box->x, "%.2f");
      csv_double (out, &first, box->y, "%.2f");
      csv_double (out, &first, box->width, "%.2f");
      csv_double (out, &first, box->height, "%.2f");
      csv_double (out, &first, box->prob, "%.6f");
      csv_double (out, &first, box->mean, "%.6f");
      csv_uint (out, &first, box->n_members);
      g_string_append_c (out, '\n');
    }
}

/* ------------------------------------------------------------------ */
/* JSON */

static void
json_double (JsonBuilder *b, const char *member, double v)
{
  json_builder_set_member_name (b, member);
  if (isnan (v))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}

static void
json_int (JsonBuilder *b, const char *member, gint64 v)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, v);
}

/* "grid": [rows, cols] */
static void
json_grid_shape (JsonBuilder *b, const MirDetectGrid *grid)
{
  json_builder_set_member_name (b, "grid");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, grid->geom.rows);
  json_builder_add_int_value (b, grid->geom.cols);
  json_builder_end_array (b);
}

static void
json_eval (JsonBuilder *b, const MirDetectEval *ev)
{
  json_builder_set_member_name (b, "evaluation");
  json_builder_begin_object (b);
  json_int (b, "truth", ev->n_truth);
  json_int (b, "detected", ev->n_detected);
  json_int (b, "true_positives", ev->true_positives);
  json_double (b, "precision", ev->precision);
  json_double (b, "recall", ev->recall);
  json_double (b, "f1", ev->f1);
  json_int (b, "count_error", ev->count_error);
  json_int (b, "abs_count_error", ev->abs_count_error);
  json_builder_end_object (b);
}

void
mir_detect_result_write_json (GString               *out,
                              const MirDetectResult *result,
                              MirDetectGrid *const  *grids,
                              guint                  n_grids,
                              const MirDetectParams *params,
                              const MirDetectEval   *eval,
                              const char            *image_name)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *text = NULL;
  const MirDetectGrid *grid;

  g_return_if_fail (out != NULL && result != NULL && grids != NULL && n_grids >= 1);
  g_return_if_fail (params != NULL && params->n_classes == result->n_classes);

  grid = grids[0];
  json_builder_begin_object (b);
  /* the ground-truth format first: an export reads back as ground truth */
  mir_detect_truth_json_add_header (b, image_name, grid->geom.image_width,
                                    grid->geom.image_height);
  json_int (b, "window", grid->geom.window);
  json_int (b, "stride", grid->geom.stride);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, mir_detect_method_to_string (params->method));
  json_grid_shape (b, grid);
  json_builder_set_member_name (b, "scales");
  json_builder_begin_array (b);
  for (guint q = 0; q < n_grids; q++)
    {
      const MirDetectGrid *g = grids[q];

      json_builder_begin_object (b);
      json_int (b, "window", g->geom.window);
      json_double (b, "factor", g->scale);
      json_grid_shape (b, g);
      json_builder_set_member_name (b, "mu");
      json_builder_begin_array (b);
      for (guint c = 0; c < result->n_classes; c++)
        {
          double mu = q < result->n_scales ? result->mu[q * result->n_classes + c] : NAN;

          if (isnan (mu))
            json_builder_add_null_value (b);
          else
            json_builder_add_double_value (b, mu);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; c < result->n_classes; c++)
    {
      if (!params->classes[c].enabled)
        continue;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, class_name (grids, c));
      json_double (b, "threshold", params->classes[c].threshold);
      json_double (b, "exception", params->classes[c].exception);
      json_double (b, "mu", result->mu[c]);
      json_int (b, "filter1", result->n_filter1[c]);
      json_int (b, "filter2", result->n_filter2[c]);
      json_int (b, "count", result->counts[c]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "objects");
  json_builder_begin_array (b);
  for (guint i = 0; i < result->boxes->len; i++)
    {
      const MirDetectBox *box = &g_array_index (result->boxes, MirDetectBox, i);
      const MirDetectGrid *g = grids[MIN (box->scale, n_grids - 1)];

      mir_detect_truth_json_begin_object (b, class_name (grids, box->class_index),
                                          box->class_index, box->x, box->y, box->width,
                                          box->height);
      json_double (b, "probability", box->prob);
      json_int (b, "scale", box->scale);
      json_int (b, "scale_window", g->geom.window);
      json_double (b, "scale_factor", g->scale);
      json_int (b, "window", box->window);
      json_int (b, "row", box->row);
      json_int (b, "col", box->col);
      json_double (b, "mean", box->mean);
      json_int (b, "members", box->n_members);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (eval != NULL)
    json_eval (b, eval);
  json_builder_end_object (b);
  text = mir_detect_json_to_text (b);
  g_string_append (out, text);
}
