/* mirada-detect-examples.c: `mirada detect`'s background and classes by
 * example (issue 18; README, "Background and classes by example").  The
 * engine does the work (engine/detect/mir-detect-examples.c); this gathers
 * the examples from the options, the files and the model's sidecar. */
#define G_LOG_DOMAIN "mirada-detect"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "mirada-cli-util.h"
#include "mirada-detect-examples.h"
#include "mirada-export.h"
#include "io/mir-sidecar.h"

#define SIDECAR_MEMBER "detector_examples"

void
mirada_example_options_clear (MiradaExampleOptions *o)
{
  g_clear_pointer (&o->files, g_strfreev);
  g_clear_pointer (&o->backgrounds, g_strfreev);
  g_clear_pointer (&o->adds, g_strfreev);
  g_clear_pointer (&o->save, g_free);
  g_clear_pointer (&o->rule, g_free);
  g_clear_pointer (&o->layer, g_free);
}

/* "X,Y" in image pixels. */
static gboolean
parse_point (const char *s, double *x, double *y)
{
  g_auto(GStrv) parts = g_strsplit (s, ",", -1);
  char *end = NULL;

  if (g_strv_length (parts) != 2)
    return FALSE;
  *x = g_ascii_strtod (g_strstrip (parts[0]), &end);
  if (parts[0][0] == '\0' || *end != '\0')
    return FALSE;
  *y = g_ascii_strtod (g_strstrip (parts[1]), &end);
  return parts[1][0] != '\0' && *end == '\0';
}

static int
add_point (MirDetectExamples *examples, const MirDetectGrid *grid, const char *label,
           const char *point, const char *option)
{
  g_autoptr(GError) error = NULL;
  double x, y;
  gint n;

  if (!parse_point (point, &x, &y))
    {
      g_autofree char *msg = g_strdup_printf (_("%s wants a point X,Y in image pixels, not “%s”"),
                                              option, point);
      return mirada_cli_usage_error ("detect", msg);
    }
  if ((n = mir_detect_grid_window_at (grid, x, y)) < 0)
    {
      g_autofree char *msg = g_strdup_printf (_("%s: no window covers the point (%g, %g)"),
                                              option, x, y);
      return mirada_cli_usage_error ("detect", msg);
    }
  if (!mir_detect_examples_add_window (examples, grid, (guint) n, label, &error))
    return mirada_cli_fail (g_steal_pointer (&error));
  return -1;
}

/* The sidecar the model's metadata came from, else the one Mirada writes. */
static char *
sidecar_path (const char *model_path, MirModel *model)
{
  if (model != NULL && model->meta.source != NULL
      && g_str_has_suffix (model->meta.source, ".mirada.json"))
    return g_strdup (model->meta.source);
  return mir_sidecar_path_for_model (model_path);
}

int
mirada_detect_examples_pick_layer (MiradaExampleOptions *o,
                                   const char           *model_path,
                                   MirModel             *model)
{
  g_autofree char *saved_layer = NULL;
  const char *layer = o->layer;

  if (layer == NULL && !o->no_sidecar)
    {
      g_autofree char *sidecar = sidecar_path (model_path, model);
      g_autofree char *text = mir_sidecar_load_member (sidecar, SIDECAR_MEMBER, NULL);
      g_autoptr(MirDetectExamples) saved = NULL;

      if (text != NULL
          && (saved = mir_detect_examples_from_json (text, strlen (text), sidecar, NULL, NULL))
          && saved->layer != NULL && mir_model_find_node (model, saved->layer) >= 0)
        layer = saved_layer = g_strdup (saved->layer);
    }
  if (layer == NULL)
    return -1;
  if (mir_model_find_node (model, layer) < 0)
    {
      g_autofree char *msg = g_strdup_printf (_("--embedding-layer: the model has no layer "
                                                "named “%s” (mirada info lists them)"), layer);
      return mirada_cli_usage_error ("detect", msg);
    }
  g_free (model->meta.embedding_layer);
  model->meta.embedding_layer = g_strdup (layer);
  return -1;
}

int
mirada_detect_examples_apply (MiradaExampleOptions *o,
                              const char           *model_path,
                              MirModel             *model,
                              GPtrArray            *grids,
                              guint                *n_model_classes)
{
  g_autoptr(MirDetectExamples) examples = mir_detect_examples_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *sidecar = NULL;
  MirDetectProtoRule rule = MIR_DETECT_PROTO_NEAREST;
  MirDetectGrid *grid = g_ptr_array_index (grids, 0);
  int ret;

  *n_model_classes = grid->n_classes;
  if (o->rule != NULL)
    {
      if (g_ascii_strcasecmp (o->rule, "nearest") == 0)
        rule = MIR_DETECT_PROTO_NEAREST;
      else if (g_ascii_strcasecmp (o->rule, "mean") == 0)
        rule = MIR_DETECT_PROTO_MEAN;
      else
        return mirada_cli_usage_error ("detect", _("--example-rule must be nearest or mean"));
    }
  if (o->to_sidecar && model_path == NULL)
    return mirada_cli_usage_error ("detect", _("--save-examples-to-sidecar needs a model file"));

  /* what the last session (or the window) saved beside the model */
  if (model_path != NULL)
    sidecar = sidecar_path (model_path, model);
  if (sidecar != NULL && !o->no_sidecar)
    {
      g_autofree char *text = mir_sidecar_load_member (sidecar, SIDECAR_MEMBER, &error);
      g_autoptr(MirDetectExamples) saved = NULL;

      if (error != NULL)
        return mirada_cli_fail (g_steal_pointer (&error));
      if (text != NULL)
        {
          g_autofree char *name = g_strdup_printf ("'%s' (%s)", sidecar, SIDECAR_MEMBER);

          if (!(saved = mir_detect_examples_from_json (text, strlen (text), name, NULL, &error))
              || !mir_detect_examples_append (examples, saved, &error))
            return mirada_cli_fail (g_steal_pointer (&error));
          if (saved->items->len > 0)
            g_printerr (ngettext ("Using %u example saved in %s (--no-sidecar-examples: not)\n",
                                  "Using %u examples saved in %s (--no-sidecar-examples: not)\n",
                                  saved->items->len),
                        saved->items->len, sidecar);
        }
    }
  for (guint q = 0; o->files && o->files[q]; q++)
    {
      g_autoptr(MirDetectExamples) loaded = mir_detect_examples_load (o->files[q], grid, &error);

      if (loaded == NULL || !mir_detect_examples_append (examples, loaded, &error))
        return mirada_cli_fail (g_steal_pointer (&error));
    }
  for (guint q = 0; o->backgrounds && o->backgrounds[q]; q++)
    if ((ret = add_point (examples, grid, "background", o->backgrounds[q],
                          "--add-background")) >= 0)
      return ret;
  for (guint q = 0; o->adds && o->adds[q]; q++)
    {
      const char *eq = strrchr (o->adds[q], '=');
      g_autofree char *label = eq ? g_strstrip (g_strndup (o->adds[q], eq - o->adds[q])) : NULL;

      if (label == NULL || *label == '\0')
        return mirada_cli_usage_error ("detect", _("--add-example wants LABEL=X,Y (for example "
                                                   "toy=120,200)"));
      if ((ret = add_point (examples, grid, label, eq + 1, "--add-example")) >= 0)
        return ret;
    }

  if (o->save != NULL || o->to_sidecar)
    {
      g_autofree char *text = mir_detect_examples_to_json (examples);

      if (o->save != NULL && !mirada_output_write (o->save, text, strlen (text), &error))
        return mirada_cli_fail (g_steal_pointer (&error));
      if (o->to_sidecar
          && !mir_sidecar_save_member (sidecar, SIDECAR_MEMBER,
                                       examples->items->len > 0 ? text : NULL, &error))
        return mirada_cli_fail (g_steal_pointer (&error));
    }
  if (examples->items->len == 0)
    return -1;
  for (guint s = 0; s < grids->len; s++)
    {
      MirDetectGrid *applied = mir_detect_grid_apply_examples (g_ptr_array_index (grids, s),
                                                               examples, rule, NULL, &error);

      if (applied == NULL)
        return mirada_cli_fail (g_steal_pointer (&error));
      mir_detect_grid_unref (g_ptr_array_index (grids, s));
      grids->pdata[s] = applied;
    }
  return -1;
}

void
mirada_detect_examples_defaults (MirDetectParams     *params,
                                 const MirDetectGrid *grid,
                                 guint                n_model_classes)
{
  for (guint c = n_model_classes; c < params->n_classes && c < grid->n_classes; c++)
    {
      if (mir_detect_label_is_background (grid->class_names[c]))
        params->classes[c].enabled = FALSE;
      else
        params->classes[c].threshold = 0.5;
    }
}
