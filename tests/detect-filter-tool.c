/* detect-filter-tool: test helper that runs Mirada's detector filter on a
 * probability grid file and prints the result as JSON, for comparison with
 * the independent Python reference (tests/detect_reference.py).
 *
 *   detect-filter-tool GRID.json [GRID2.json ...] [--method 1|2.1|2.2]
 *       [--threshold C=P]... [--exception C=F]... [--complement C]...
 *       [--no-complement C]... [--radius R] [--notebook-compat] [--weighted]
 *       [--group none|nms|merge] [--iou IOU]
 *
 * Several grids are the scales of one image (mir_detect_filter_scales).
 * "fields" holds, per class, the field of the first grid
 * (mir_detect_field_new): P, means with and without f_e, outside
 * neighbours, the filters' decisions and f_e's effect, per window. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/mir-detect.h"

static void
print_double (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    fputs ("null", stdout);
  else
    fputs (g_ascii_formatd (buf, sizeof buf, "%.17g", v), stdout);
}

static void
print_boxes (GArray *boxes)
{
  for (guint i = 0; i < boxes->len; i++)
    {
      const MirDetectBox *b = &g_array_index (boxes, MirDetectBox, i);

      printf ("%s{\"class\": %u, \"scale\": %u, \"window\": %u, \"members\": %u, "
              "\"passed\": %s, \"box\": [", i ? ", " : "", b->class_index, b->scale, b->window,
              b->n_members, b->passed ? "true" : "false");
      print_double (b->x);
      fputs (", ", stdout);
      print_double (b->y);
      fputs (", ", stdout);
      print_double (b->width);
      fputs (", ", stdout);
      print_double (b->height);
      printf ("], \"mean\": ");
      print_double (b->mean);
      printf (", \"prob\": ");
      print_double (b->prob);
      printf ("}");
    }
}

static int
fail (const char *msg)
{
  fprintf (stderr, "detect-filter-tool: %s\n", msg);
  return 2;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) grids = g_ptr_array_new_with_free_func ((GDestroyNotify) mir_detect_grid_unref);
  MirDetectGrid *grid;
  int first_opt = 1;
  g_autoptr(MirDetectParams) params = NULL;
  g_autoptr(MirDetectResult) result = NULL;
  MirDetectMethod method = MIR_DETECT_METHOD_2_2;

  if (argc < 2)
    return fail ("usage: detect-filter-tool GRID.json [options]");
  for (; first_opt < argc && strncmp (argv[first_opt], "--", 2) != 0; first_opt++)
    {
      if (!(grid = mir_detect_grid_load_json (argv[first_opt], &error)))
        return fail (error->message);
      g_ptr_array_add (grids, grid);
    }
  if (grids->len == 0)
    return fail ("no grid");
  grid = g_ptr_array_index (grids, 0);
  for (int i = first_opt; i + 1 < argc; i++)
    if (strcmp (argv[i], "--method") == 0
        && !mir_detect_method_from_string (argv[i + 1], &method, &error))
      return fail (error->message);
  params = mir_detect_params_new (grid->n_classes, method);

  for (int i = first_opt; i < argc; i++)
    {
      const char *opt = argv[i];
      const char *val = i + 1 < argc ? argv[i + 1] : NULL;

      if (strcmp (opt, "--notebook-compat") == 0)
        params->notebook_compat = TRUE;
      else if (strcmp (opt, "--weighted") == 0)
        params->weighted_mean = TRUE;
      else if (val == NULL)
        return fail ("missing value");
      else if (strcmp (opt, "--method") == 0)
        i++;
      else if (strcmp (opt, "--group") == 0)
        {
          if (!mir_detect_grouping_from_string (val, &params->grouping, &error))
            return fail (error->message);
          i++;
        }
      else if (strcmp (opt, "--iou") == 0)
        {
          params->iou = g_ascii_strtod (val, NULL);
          i++;
        }
      else if (strcmp (opt, "--radius") == 0)
        {
          params->radius = (guint) atoi (val);
          i++;
        }
      else if (strcmp (opt, "--complement") == 0 || strcmp (opt, "--no-complement") == 0)
        {
          gint c = mir_detect_grid_find_class (grid, val, &error);
          if (c < 0)
            return fail (error->message);
          params->classes[c].complement = strcmp (opt, "--complement") == 0;
          i++;
        }
      else if (strcmp (opt, "--threshold") == 0 || strcmp (opt, "--exception") == 0)
        {
          g_auto(GStrv) kv = g_strsplit (val, "=", 2);
          gint c;
          double v;

          if (g_strv_length (kv) != 2)
            return fail ("expected CLASS=VALUE");
          if ((c = mir_detect_grid_find_class (grid, kv[0], &error)) < 0)
            return fail (error->message);
          v = g_ascii_strtod (kv[1], NULL);
          if (opt[2] == 't')
            params->classes[c].threshold = v;
          else
            params->classes[c].exception = v;
          i++;
        }
      else
        return fail ("unknown option");
    }

  if (!(result = mir_detect_filter_scales ((MirDetectGrid *const *) grids->pdata, grids->len,
                                           params, &error)))
    return fail (error->message);
  printf ("{\"mu\": [");
  for (guint c = 0; c < result->n_classes; c++)
    {
      printf ("%s", c ? ", " : "");
      print_double (result->mu[c]);
    }
  printf ("],\n \"mu_scales\": [");
  for (guint q = 0; q < result->n_scales; q++)
    {
      printf ("%s[", q ? ", " : "");
      for (guint c = 0; c < result->n_classes; c++)
        {
          printf ("%s", c ? ", " : "");
          print_double (result->mu[q * result->n_classes + c]);
        }
      printf ("]");
    }
  printf ("],\n \"candidates\": [");
  print_boxes (result->candidates);
  printf ("],\n \"boxes\": [");
  print_boxes (result->boxes);
  printf ("],\n \"fields\": [");
  for (guint c = 0; c < grid->n_classes; c++)
    {
      g_autoptr(MirDetectField) field = mir_detect_field_new (grid, params, c, &error);
      const guint N = mir_detect_geometry_n_windows (&grid->geom);

      if (field == NULL)
        return fail (error->message);
      printf ("%s{\"mu\": ", c ? ", " : "");
      print_double (field->mu);
      printf (", \"prob\": [");
      for (guint n = 0; n < N; n++)
        {
          printf ("%s", n ? ", " : "");
          print_double (field->prob[n]);
        }
      printf ("], \"mean\": [");
      for (guint n = 0; n < N; n++)
        {
          printf ("%s", n ? ", " : "");
          print_double (field->mean[n]);
        }
      printf ("], \"mean_inside\": [");
      for (guint n = 0; n < N; n++)
        {
          printf ("%s", n ? ", " : "");
          print_double (field->mean_inside[n]);
        }
      printf ("], \"n_outside\": [");
      for (guint n = 0; n < N; n++)
        printf ("%s%u", n ? ", " : "", field->n_outside[n]);
      printf ("], \"filter1\": [");
      for (guint n = 0; n < N; n++)
        printf ("%s%u", n ? ", " : "", field->filter1[n]);
      printf ("], \"filter2\": [");
      for (guint n = 0; n < N; n++)
        printf ("%s%u", n ? ", " : "", field->filter2[n]);
      printf ("], \"edge\": [");
      for (guint n = 0; n < N; n++)
        printf ("%s%u", n ? ", " : "", field->edge[n]);
      printf ("]}");
    }
  printf ("]}\n");
  return 0;
}
