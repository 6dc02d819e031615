/* mirada-cli-common.c: what the CLI commands share (mirada-cli.h,
 * mirada-cli-util.h): model and image loading, errors, option parsing. */
#define G_LOG_DOMAIN "mirada-cli"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "mirada-cli.h"
#include "mirada-cli-util.h"
#include "mir-model-load.h"
#include "mir-sidecar.h"

MirModel *
mirada_cli_load_model (const char *path, const char *labels_path, const char *preprocess,
                       const char *resize, GError **error)
{
  g_autoptr(MirModel) model = NULL;
  MirPreprocessMode mode;
  MirResizeMode resize_mode;

  g_return_val_if_fail (path != NULL, NULL);

  /* Check the overrides first: a typo should not cost a model load. */
  if (preprocess != NULL && !mir_preprocess_mode_from_string (preprocess, &mode, error))
    return NULL;
  if (resize != NULL && !mir_resize_mode_from_string (resize, &resize_mode, error))
    return NULL;

  model = mir_model_load (path, error);
  if (model == NULL)
    return NULL;

  if (labels_path != NULL)
    {
      char **names = mir_labels_load (labels_path, NULL, error);

      if (names == NULL)
        return NULL;
      g_strfreev (model->meta.class_names);
      model->meta.class_names = names;
    }
  if (preprocess != NULL)
    model->meta.preprocess = mode;
  if (resize != NULL)
    model->meta.resize = resize_mode;
  return g_steal_pointer (&model);
}

MirImage *
mirada_image_load (const char *path, GError **error)
{
  g_autofree char *display = NULL;
  g_autoptr(GdkPixbuf) raw = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(MirImage) image = NULL;
  const guint8 *pixels;
  int width, height, n_channels, rowstride;

  g_return_val_if_fail (path != NULL, NULL);

  display = g_filename_display_name (path);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot open image '%s': no such file"),
                   display);
      return NULL;
    }
  /* Refuse huge images before decoding them. */
  if (gdk_pixbuf_get_file_info (path, &width, &height) == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("'%s' is not an image Mirada can read (PNG, JPEG, BMP, GIF, TIFF, …)"),
                   display);
      return NULL;
    }
  if (width > MIR_IMAGE_MAX_SIDE || height > MIR_IMAGE_MAX_SIDE)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Image '%s' is %d×%d pixels; Mirada accepts at most %d pixels a side"),
                   display, width, height, MIR_IMAGE_MAX_SIDE);
      return NULL;
    }
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT,
                   _("Image '%s' claims a size of %d×%d pixels: it is damaged"), display, width,
                   height);
      return NULL;
    }
  if ((gint64) width * height > MIR_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Image '%s' is %d×%d pixels; Mirada accepts at most %d megapixels"),
                   display, width, height, (int) (MIR_IMAGE_MAX_PIXELS >> 20));
      return NULL;
    }

  raw = gdk_pixbuf_new_from_file (path, &local);
  if (raw == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FORMAT, _("Cannot read image '%s': %s"), display,
                   local->message);
      return NULL;
    }
  pixbuf = gdk_pixbuf_apply_embedded_orientation (raw);
  if (pixbuf == NULL)
    pixbuf = g_object_ref (raw);

  if (gdk_pixbuf_get_colorspace (pixbuf) != GDK_COLORSPACE_RGB ||
      gdk_pixbuf_get_bits_per_sample (pixbuf) != 8)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Image '%s' is not 8-bit RGB after decoding"), display);
      return NULL;
    }
  width = gdk_pixbuf_get_width (pixbuf);
  height = gdk_pixbuf_get_height (pixbuf);
  n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  if (n_channels < 3)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_UNSUPPORTED,
                   _("Image '%s' has %d channels after decoding"), display, n_channels);
      return NULL;
    }

  image = mir_image_new (width, height, 3, error);
  if (image == NULL)
    return NULL;
  /* Alpha is dropped, not composited, as PIL's convert("RGB") does. */
  for (int y = 0; y < height; y++)
    {
      const guint8 *in = pixels + (gsize) y * (gsize) rowstride;
      guint8 *out = image->pixels + (gsize) y * image->rowstride;

      for (int x = 0; x < width; x++)
        memcpy (out + 3 * x, in + n_channels * x, 3);
    }
  return g_steal_pointer (&image);
}

gboolean
mirada_image_save_png (const MirImage *image, const char *path, GError **error)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *buffer = NULL;
  g_autofree char *display = g_filename_display_name (path);
  gsize size;
  guint8 *pixels;
  int rowstride;

  g_return_val_if_fail (image != NULL && path != NULL, FALSE);

  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, image->width, image->height);
  if (pixbuf == NULL)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_LIMIT,
                   _("Not enough memory to save a %d×%d image"), image->width, image->height);
      return FALSE;
    }
  pixels = gdk_pixbuf_get_pixels (pixbuf);
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  for (int y = 0; y < image->height; y++)
    {
      const guint8 *in = image->pixels + (gsize) y * image->rowstride;
      guint8 *out = pixels + (gsize) y * (gsize) rowstride;

      if (image->channels == 3)
        memcpy (out, in, (gsize) image->width * 3);
      else
        for (int x = 0; x < image->width; x++)
          out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
    }
  if (!gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &size, "png", &local, NULL))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_FAILED, _("Cannot encode '%s' as PNG: %s"),
                   display, local->message);
      return FALSE;
    }
  /* Temporary file + rename: a reader never sees half a PNG. */
  if (!g_file_set_contents (path, buffer, (gssize) size, &local))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_IO, _("Cannot write '%s': %s"), display,
                   local->message);
      return FALSE;
    }
  return TRUE;
}

int
mirada_cli_fail (GError *error)
{
  g_autofree char *message = g_strdup (error ? error->message : _("Unknown error"));

  /* One line, whatever the message holds. */
  g_strdelimit (message, "\r\n", ' ');
  g_printerr ("mirada: %s\n", message);
  return 2;
}

int
mirada_cli_usage_error (const char *cmd, const char *message)
{
  if (cmd != NULL)
    {
      g_printerr ("mirada %s: %s\n", cmd, message);
      g_printerr (_("Try “mirada %s --help” for more information.\n"), cmd);
    }
  else
    {
      g_printerr ("mirada: %s\n", message);
      g_printerr (_("Try “mirada --help” for more information.\n"));
    }
  return 1;
}

char *
mirada_cli_class_name (MirModel *model, guint i)
{
  char **names = model->meta.class_names;

  if (names != NULL && i < g_strv_length (names))
    return g_strdup (names[i]);
  return g_strdup_printf (_("class %u"), i);
}

/* A single sigmoid unit P is two classes, as in `mirada predict` and Keras'
 * binary models: class 1 is P, class 0 is 1 − P (the complement). */
gboolean
mirada_cli_is_binary_sigmoid (MirModel *model)
{
  const MirShape *o = mir_model_get_output_shape (model, 0);

  return o->dim[o->ndim - 1] == 1 && mir_model_get_head_kind (model) == MIR_HEAD_SIGMOID;
}

/* The name of the explained class: for a binary sigmoid model with two class
 * names, names[1] for P and names[0] for 1 − P; with one name, "not …" for
 * the complement. */
char *
mirada_cli_explained_class_name (MirModel *model, const MirExplanation *e)
{
  char **names = model->meta.class_names;
  g_autofree char *name = NULL;

  if (mirada_cli_is_binary_sigmoid (model) && (names == NULL || g_strv_length (names) != 1))
    return mirada_cli_class_name (model, e->complement ? 0 : 1);
  name = mirada_cli_class_name (model, (guint) e->class_index);
  if (e->complement)
    return g_strdup_printf (_("not %s"), name);
  return g_steal_pointer (&name);
}

/* Sets @opts' class from class number @k as `mirada predict` numbers them:
 * for a binary sigmoid model class 1 is the unit's P and class 0 its
 * complement 1 − P; otherwise output unit @k. */
void
mirada_cli_explain_class (MirModel *model, gint k, MirExplainOptions *opts)
{
  opts->class_index = k;
  opts->complement = FALSE;
  if (k >= 0 && k <= 1 && mirada_cli_is_binary_sigmoid (model))
    {
      opts->class_index = 0;
      opts->complement = k == 0;
    }
}

/* A dataset image for the trainer and `mirada evaluate`: decoded with
 * GdkPixbuf (mirada_image_load), resized to @width × @height with @resize and
 * converted to @channels (PIL's "L" luma for grey), into @pixels (HWC). */
gboolean
mirada_cli_decode_dataset_image (const char    *path,
                                 gint64         height,
                                 gint64         width,
                                 gint64         channels,
                                 MirResizeMode  resize,
                                 guint8        *pixels,
                                 GError       **error)
{
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirImage) sized = NULL;

  if (!(image = mirada_image_load (path, error)))
    return FALSE;
  if (!(sized = mir_image_resize (image, (int) width, (int) height, resize, error)))
    return FALSE;
  for (gint64 y = 0; y < height; y++)
    for (gint64 x = 0; x < width; x++)
      {
        const guint8 *s = sized->pixels + (gsize) y * sized->rowstride + (gsize) x * sized->channels;
        guint8 *d = pixels + (y * width + x) * channels;
        for (gint64 c = 0; c < channels; c++)
          {
            if (sized->channels == 1)
              d[c] = s[0];
            else if (channels == 1)
              d[c] = (guint8) ((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
            else
              d[c] = s[MIN (c, sized->channels - 1)];
          }
      }
  return TRUE;
}

/* ------------------------------------------------------------------ */

void
mirada_cli_print_help (GOptionContext *context)
{
  g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

  g_print ("%s", help);
}

int
mirada_cli_parse (GOptionContext *context, const char *cmd, int *argc, char ***argv)
{
  gboolean help = FALSE;
  const GOptionEntry help_entries[] = {
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, N_("Show this help"), NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("mirada %s", cmd);

  g_set_prgname (prgname);
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, help_entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    return mirada_cli_usage_error (cmd, error->message);
  if (help)
    {
      mirada_cli_print_help (context);
      return 0;
    }
  return -1;
}

char *
mirada_cli_shape_string (const MirShape *shape)
{
  GString *s = g_string_new ("(");

  for (guint i = 0; i < shape->ndim; i++)
    {
      if (i > 0)
        g_string_append (s, ", ");
      if (shape->dim[i] < 0)
        g_string_append (s, "None");
      else
        g_string_append_printf (s, "%" G_GINT64_FORMAT, shape->dim[i]);
    }
  if (shape->ndim == 1)
    g_string_append_c (s, ',');
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

void
mirada_cli_json_add_shape (JsonBuilder *builder, const MirShape *shape)
{
  json_builder_begin_array (builder);
  for (guint i = 0; i < shape->ndim; i++)
    if (shape->dim[i] < 0)
      json_builder_add_null_value (builder);
    else
      json_builder_add_int_value (builder, shape->dim[i]);
  json_builder_end_array (builder);
}

void
mirada_cli_json_add_string (JsonBuilder *builder, const char *s)
{
  if (s == NULL)
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, s);
}

void
mirada_cli_json_print (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  text = json_generator_to_data (generator, NULL);
  g_print ("%s\n", text);
}

gint64
mirada_cli_output_units (MirModel *model)
{
  const MirShape *shape;

  if (model->outputs->len == 0)
    return -1;
  shape = mir_model_get_output_shape (model, 0);
  if (shape->ndim != 2)
    return -1;
  return shape->dim[1];
}
