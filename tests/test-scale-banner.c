/* test-scale-banner.c: issue 16 in the window, under Xvfb.  A model that
 * does not say how its input is scaled (a copy of the CIFAR-10 ResNet
 * fixture: no Rescaling layer, no sidecar) shows the scale banner with a hint
 * under each choice (the model's top class and probability for the image,
 * checked against the engine called directly); choosing x / 255 applies it,
 * hides the banner and writes the sidecar, and opening the model again does
 * not bring the banner back.  Writes the window with the banner to
 * scale-banner-screenshot.png in the build folder. */
#define G_LOG_DOMAIN "test-scale-banner"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include <adwaita.h>

#include "mir-test-gui.h"
#include "mir-test-util.h"
#include "mirada-application.h"
#include "mirada-image-io.h"
#include "mirada-job.h"
#include "mirada-model-open.h"
#include "mirada-scale-banner.h"
#include "mirada-window.h"
#include "io/mir-sidecar.h"

#define MODEL "mlcommons__pretrainedResnet.h5" /* CIFAR-10 ResNet, 32×32, no Rescaling */

static MiradaApplication *app;

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
wait_until (gboolean (*done) (gpointer), gpointer data, double timeout_s, const char *what)
{
  mir_test_wait_until (done, data, timeout_s, what);
}

static gboolean
widget_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
window_idle (gpointer data)
{
  return !mirada_window_get_busy (data) && mirada_window_get_grid (data) != NULL;
}

static gboolean
hints_ready (gpointer data)
{
  for (guint i = 0; i < 3; i++)
    if (*mirada_scale_banner_get_hint (data, i) == '\0')
      return FALSE;
  return TRUE;
}

static GtkWidget *
find_banner (GtkWidget *widget)
{
  if (MIRADA_IS_SCALE_BANNER (widget))
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_banner (c);
      if (found != NULL)
        return found;
    }
  return NULL;
}

static GdkTexture *
render_widget (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  gdk_paintable_snapshot (paintable, snapshot, w, h);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

/* Lets the revealer's transition finish so the screenshot shows it. */
static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint tick = g_timeout_add (20, wake_up, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

static void
test_scale_banner (void)
{
  g_autofree char *fixture = g_test_build_filename (G_TEST_DIST, "data", "models", MODEL, NULL);
  g_autofree char *photo = g_test_build_filename (G_TEST_DIST, "data", "cli", "photo.png", NULL);
  g_autofree char *dir = g_dir_make_tmp ("mirada-scale-banner-XXXXXX", NULL);
  g_autofree char *model_path = g_build_filename (dir, "resnet.h5", NULL);
  g_autofree char *sidecar = g_build_filename (dir, "resnet.mirada.json", NULL);
  g_autofree char *shot = g_test_build_filename (G_TEST_BUILT, "scale-banner-screenshot.png", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GFile) model_file = g_file_new_for_path (model_path);
  g_autoptr(GFile) image_file = g_file_new_for_path (photo);
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) direct = NULL;
  g_autoptr(MirImage) image = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  MiradaScaleBanner *banner;
  MiradaWindow *window;
  MirModel *model;
  gsize length;

  g_file_get_contents (fixture, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (model_path, contents, (gssize) length, &error);
  g_assert_no_error (error);

  window = mirada_window_new (GTK_APPLICATION (app));
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 860);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (widget_mapped, window, 20, "the window to map");
  banner = MIRADA_SCALE_BANNER (find_banner (GTK_WIDGET (window)));
  g_assert_nonnull (banner);
  g_assert_false (mirada_scale_banner_get_revealed (banner));

  /* unknown scaling: the banner, and a hint under each choice */
  mirada_window_open_model (window, model_file);
  mirada_window_open_image (window, image_file);
  wait_until (window_idle, window, 300, "the model, the image and the detection");
  model = mirada_window_get_model (window);
  g_assert_cmpint (model->meta.preprocess_from, ==, MIR_PREPROCESS_FROM_UNKNOWN);
  g_assert_true (mirada_scale_banner_get_revealed (banner));
  wait_until (hints_ready, banner, 120, "the hints");

  /* each hint is what the model says under that scaling, called directly */
  direct = mirada_model_open (model_path, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  image = mirada_image_load (photo, &error);
  g_assert_no_error (error);
  {
    const MirPreprocessMode modes[] = { MIR_PREPROCESS_NONE, MIR_PREPROCESS_SCALE,
                                        MIR_PREPROCESS_TF };

    for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
      {
        g_autoptr(MirTensor) input = mir_image_prepare_as (image, direct, modes[i], &error);
        g_autoptr(MirTensor) out = NULL;
        g_autofree char *want = NULL;
        guint best = 0;

        g_assert_no_error (error);
        out = mir_model_predict (direct, input, NULL, &error);
        g_assert_no_error (error);
        for (guint k = 1; k < 10; k++)
          if (out->data[k] > out->data[best])
            best = k;
        want = g_strdup_printf ("%.0f%% %s", 100.0 * out->data[best], "class ");
        g_test_message ("%s: hint “%s”, direct %.4f class %u",
                        mir_preprocess_mode_to_string (modes[i]),
                        mirada_scale_banner_get_hint (banner, i), out->data[best], best);
        g_assert_true (g_str_has_prefix (mirada_scale_banner_get_hint (banner, i), want));
        {
          g_autofree char *suffix = g_strdup_printf ("class %u", best);
          g_assert_true (g_str_has_suffix (mirada_scale_banner_get_hint (banner, i), suffix));
        }
      }
  }

  spin (600);
  texture = render_widget (GTK_WIDGET (window));
  g_assert_true (gdk_texture_save_to_png (texture, shot));
  g_test_message ("screenshot: %s", shot);

  /* choosing x / 255: applied, remembered, banner gone */
  g_assert_false (g_file_test (sidecar, G_FILE_TEST_EXISTS));
  g_signal_emit_by_name (mirada_scale_banner_get_choice (banner, 1), "clicked");
  g_assert_false (mirada_scale_banner_get_revealed (banner));
  model = mirada_window_get_model (window);
  g_assert_cmpint (model->meta.preprocess, ==, MIR_PREPROCESS_SCALE);
  g_assert_cmpint (model->meta.preprocess_from, ==, MIR_PREPROCESS_FROM_SIDECAR);
  g_clear_pointer (&contents, g_free);
  g_file_get_contents (sidecar, &contents, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (contents, "\"scale\""));
  wait_until (window_idle, window, 300, "the detection with the new scaling");

  /* known next time: opening it again shows no banner */
  mirada_window_open_model (window, model_file);
  wait_until (window_idle, window, 300, "the model again");
  model = mirada_window_get_model (window);
  g_assert_cmpint (model->meta.preprocess, ==, MIR_PREPROCESS_SCALE);
  g_assert_cmpint (model->meta.preprocess_from, ==, MIR_PREPROCESS_FROM_SIDECAR);
  g_assert_false (mirada_scale_banner_get_revealed (banner));

  mirada_window_cancel_jobs (window);
  gtk_window_destroy (GTK_WINDOW (window));
  g_remove (sidecar);
  g_remove (model_path);
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  g_autoptr(GSettings) settings = NULL;
  char *root;
  int status;

  g_test_init (&argc, &argv, NULL);
  root = mir_test_gui_init ("mirada-banner");

  settings = g_settings_new ("io.github.mirada.Mirada");
  g_settings_set_int (settings, "window-size", 32);
  g_settings_set_int (settings, "stride", 32);

  app = mir_test_gui_app ();

  g_test_add_func ("/scale-banner/ask-apply-remember", test_scale_banner);
  status = g_test_run ();
  mir_test_gui_finish (&app, root);
  return status;
}
