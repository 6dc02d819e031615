/* test-train-window.c: the Train view (issue 21) under Xvfb.  A tiny class-
 * folder dataset made here (three colours, 20 images each) is trained for 4
 * epochs with the small CNN on the window's worker; meanwhile the main loop
 * keeps turning (the window never blocks).  Then:
 * - the history has 4 epochs, the loss of the last below the first's;
 * - the chart shows the curves (its pixels are not blank) and the first
 *   layer's filters are shown;
 * - the saved model, loaded again and evaluated by the engine on the same
 *   folder (mir_evaluate_dataset), classifies ≥ 90% of it (the colours are
 *   trivially separable: a model that did not train scores ~33%), and its
 *   sidecar names the three classes;
 * - Stop ends a second, long run early and keeps the finished epochs.
 * Writes train-window.png in the build folder. */
#define G_LOG_DOMAIN "test-train-window"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include <adwaita.h>

#include "mir-test-gui.h"
#include "mir-test-util.h"
#include "mirada-train-setup.h"
#include "mirada-train-window.h"
#include "io/mir-model-load.h"
#include "io/mir-sidecar.h"
#include "train/mir-trainer.h"

static double time_scale = 1.0;

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
not_running (gpointer data)
{
  return !mirada_train_window_get_running (data);
}

static gboolean
has_epochs (gpointer data)
{
  guint n;

  mirada_train_window_get_history (data, &n);
  return n >= 1;
}

static gboolean
mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static void make_dataset_seeded (const char *root, guint32 seed);

static void
make_dataset (const char *root)
{
  make_dataset_seeded (root, 7);
}

static void
make_dataset_seeded (const char *root, guint32 seed)
{
  const char *const names[] = { "rojo", "verde", "azul" };
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);

  for (int c = 0; c < 3; c++)
    {
      g_autofree char *dir = g_build_filename (root, names[c], NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      for (int k = 0; k < 20; k++)
        {
          g_autoptr(GdkPixbuf) pb = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 24, 24);
          g_autofree char *name = g_strdup_printf ("%02d.png", k);
          g_autofree char *path = g_build_filename (dir, name, NULL);
          guint8 *px = gdk_pixbuf_get_pixels (pb);
          int stride = gdk_pixbuf_get_rowstride (pb);
          g_autoptr(GError) error = NULL;

          for (int y = 0; y < 24; y++)
            for (int x = 0; x < 24; x++)
              for (int ch = 0; ch < 3; ch++)
                px[y * stride + x * 3 + ch] =
                  (guint8) (g_rand_int_range (rng, 0, 80) + (ch == c ? 150 : 0));
          g_assert_true (gdk_pixbuf_save (pb, path, "png", &error, NULL));
          g_assert_no_error (error);
        }
    }
}

static GdkTexture *
render (GtkWidget *widget)
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

/* The share of pixels in the lower half (the chart) that are not white. */
static double
inked_share (GdkTexture *texture)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  g_autofree guint8 *data = g_malloc ((gsize) w * h * 4);
  guint64 inked = 0, total = 0;

  gdk_texture_download (texture, data, (gsize) w * 4);
  for (int y = h / 2; y < h - 20; y++)
    for (int x = 20; x < w - 20; x++)
      {
        const guint8 *p = data + ((gsize) y * w + x) * 4;
        inked += p[0] < 200 || p[1] < 200 || p[2] < 200;
        total++;
      }
  return (double) inked / (double) MAX (total, 1);
}

static void
test_train_window (void)
{
  g_autofree char *root = g_dir_make_tmp ("mirada-train-XXXXXX", NULL);
  g_autofree char *data_dir = g_build_filename (root, "colores", NULL);
  g_autofree char *model_path = g_build_filename (root, "model.h5", NULL);
  g_autofree char *sidecar = NULL;
  g_autofree char *shot = g_test_build_filename (G_TEST_BUILT, "train-window.png", NULL);
  MiradaTrainWindow *win = mirada_train_window_new (NULL);
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirDataset) data = NULL;
  const MirEpochStats *h;
  double loss, accuracy, share;
  guint n;

  make_dataset (data_dir);
  gtk_window_set_default_size (GTK_WINDOW (win), 1100, 720);
  gtk_window_present (GTK_WINDOW (win));
  mir_test_wait_until (mapped, win, 30 * time_scale, "the Train view is mapped");
  g_assert_false (mirada_train_window_start (win));  /* no dataset yet */

  mirada_train_window_set_dataset (win, data_dir);
  mirada_train_window_set_settings (win, MIRADA_TRAIN_ARCH_SMALL_CNN, 4, 8, 0.003);
  g_assert_true (mirada_train_window_start (win));
  g_assert_false (mirada_train_window_start (win));  /* one run at a time */
  mir_test_wait_until (not_running, win, 300 * time_scale, "training ends");
  g_assert_null (mirada_train_window_get_error (win));

  h = mirada_train_window_get_history (win, &n);
  g_assert_cmpuint (n, ==, 4);
  for (guint i = 0; i < n; i++)
    {
      g_test_message ("epoch %u: loss %.4f accuracy %.3f val %.4f / %.3f", h[i].epoch, h[i].loss,
                      h[i].accuracy, h[i].val_loss, h[i].val_accuracy);
      g_assert_cmpuint (h[i].epoch, ==, i + 1);
      g_assert_true (h[i].has_validation);
    }
  g_assert_cmpfloat (h[n - 1].loss, <, h[0].loss);

  /* let the last epoch's update and the chart be drawn, then look at it */
  {
    gint64 end = g_get_monotonic_time () + 500 * 1000;
    guint tick = g_timeout_add (20, wake_up, NULL);

    while (g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, TRUE);
    g_source_remove (tick);
  }
  texture = render (adw_window_get_content (ADW_WINDOW (win)));
  g_assert_true (gdk_texture_save_to_png (texture, shot));
  g_test_message ("screenshot: %s", shot);
  share = inked_share (texture);
  g_test_message ("chart: %.1f%% of the lower half inked", 100 * share);
  g_assert_cmpfloat (share, >, 0.01);

  /* the saved model, evaluated by the engine on its own */
  g_assert_true (mirada_train_window_save (win, model_path, &error));
  g_assert_no_error (error);
  model = mir_model_load (model_path, &error);
  g_assert_no_error (error);
  sidecar = mir_sidecar_path_for_model (model_path);
  g_assert_true (g_file_test (sidecar, G_FILE_TEST_IS_REGULAR));
  {
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (sidecar, &text, NULL, NULL));
    g_assert_nonnull (strstr (text, "\"rojo\""));
    g_assert_nonnull (strstr (text, "\"azul\""));
  }
  data = mirada_train_load_dataset (data_dir, 64, 64, 3, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mir_evaluate_dataset (model, data, MIR_PREPROCESS_SCALE, 16, &loss, &accuracy,
                                       NULL, &error));
  g_assert_no_error (error);
  g_test_message ("saved model on the folder: loss %.4f, accuracy %.3f", loss, accuracy);
  g_assert_cmpfloat (accuracy, >=, 0.9);

  /* Seed 004's way: the CIFAR-10 binary files and the notebook's network */
  {
    g_autofree char *cifar = g_test_build_filename (G_TEST_DIST, "data", "datasets",
                                                    "cifar-10-batches-bin", NULL);

    mirada_train_window_set_dataset (win, cifar);
    mirada_train_window_set_settings (win, MIRADA_TRAIN_ARCH_CIFAR, 2, 2, 0.001);
    g_assert_true (mirada_train_window_start (win));
    mir_test_wait_until (not_running, win, 300 * time_scale, "the CIFAR run ends");
    g_assert_null (mirada_train_window_get_error (win));
    mirada_train_window_get_history (win, &n);
    g_assert_cmpuint (n, ==, 2);
    mirada_train_window_set_dataset (win, data_dir);
  }

  /* Stop: a long run ends early with its finished epochs */
  mirada_train_window_set_settings (win, MIRADA_TRAIN_ARCH_SMALL_CNN, 400, 8, 0.003);
  g_assert_true (mirada_train_window_start (win));
  mir_test_wait_until (has_epochs, win, 300 * time_scale, "a first epoch");
  mirada_train_window_cancel (win);
  mir_test_wait_until (not_running, win, 60 * time_scale, "the stop");
  mirada_train_window_get_history (win, &n);
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpuint (n, <, 400);

  /* Seed 002's way: a base with weights saved by Mirada, frozen, a new head,
   * and a separate validation folder. */
  {
    g_autofree char *val_dir = g_build_filename (root, "validacion", NULL);
    g_autofree char *base_path = g_build_filename (root, "base.h5", NULL);
    g_autofree char *tl_path = g_build_filename (root, "transfer.h5", NULL);
    g_autofree char *shot2 = g_test_build_filename (G_TEST_BUILT, "train-window-transfer.png", NULL);
    g_autoptr(MirModel) base = NULL, tl = NULL;
    g_autoptr(GdkTexture) tex2 = NULL;
    const char *const same[] = { "Conv1", "bn_Conv1", "block_16_project", NULL };
    gboolean head_moved = FALSE;

    make_dataset_seeded (val_dir, 11);
    mirada_train_window_set_settings (win, MIRADA_TRAIN_ARCH_TRANSFER, 1, 8, 0.003);
    mirada_train_window_set_transfer (win, NULL, FALSE);
    g_assert_true (mirada_train_window_start (win));
    mir_test_wait_until (not_running, win, 600 * time_scale, "the base's training ends");
    g_assert_null (mirada_train_window_get_error (win));
    g_assert_true (mirada_train_window_save (win, base_path, &error));
    g_assert_no_error (error);

    mirada_train_window_set_settings (win, MIRADA_TRAIN_ARCH_TRANSFER, 2, 8, 0.003);
    mirada_train_window_set_transfer (win, base_path, TRUE);
    mirada_train_window_set_validation (win, val_dir);
    g_assert_true (mirada_train_window_start (win));
    mir_test_wait_until (not_running, win, 600 * time_scale, "the transfer run ends");
    g_assert_null (mirada_train_window_get_error (win));
    h = mirada_train_window_get_history (win, &n);
    g_assert_cmpuint (n, ==, 2);
    g_assert_true (h[0].has_validation);
    g_assert_true (mirada_train_window_save (win, tl_path, &error));
    g_assert_no_error (error);
    {
      gint64 end = g_get_monotonic_time () + 500 * 1000;
      guint tick = g_timeout_add (20, wake_up, NULL);

      while (g_get_monotonic_time () < end)
        g_main_context_iteration (NULL, TRUE);
      g_source_remove (tick);
    }
    tex2 = render (adw_window_get_content (ADW_WINDOW (win)));
    g_assert_true (gdk_texture_save_to_png (tex2, shot2));

    base = mir_model_load (base_path, &error);
    g_assert_no_error (error);
    tl = mir_model_load (tl_path, &error);
    g_assert_no_error (error);
    /* frozen: the base's kernels and BatchNormalization statistics as saved */
    for (guint k = 0; same[k]; k++)
      {
        MirLayer *a = mir_model_get_node (base, (guint) mir_model_find_node (base, same[k]))->layer;
        MirLayer *b = mir_model_get_node (tl, (guint) mir_model_find_node (tl, same[k]))->layer;

        g_assert_cmpuint (a->n_weights, ==, b->n_weights);
        for (guint j = 0; j < a->n_weights; j++)
          g_assert_cmpmem (a->weights[j].value->data, a->weights[j].value->numel * sizeof (float),
                           b->weights[j].value->data, b->weights[j].value->numel * sizeof (float));
        g_assert_false (b->trainable);
      }
    {
      MirLayer *a = mir_model_get_node (base, (guint) mir_model_find_node (base, "head_predictions"))->layer;
      MirLayer *b = mir_model_get_node (tl, (guint) mir_model_find_node (tl, "head_predictions"))->layer;

      for (gsize q = 0; q < a->weights[0].value->numel; q++)
        head_moved |= a->weights[0].value->data[q] != b->weights[0].value->data[q];
      g_assert_true (head_moved);
      g_assert_true (b->trainable);
    }
  }

  gtk_window_destroy (GTK_WINDOW (win));
  mir_test_remove_tree (root);
}

int
main (int argc, char *argv[])
{
  char *root;
  int status;

  g_test_init (&argc, &argv, NULL);
  root = mir_test_gui_init ("mirada-train-window");
  time_scale = mir_test_time_scale ();
  g_test_add_func ("/train-window/train-watch-save-stop", test_train_window);
  status = g_test_run ();
  mir_test_gui_finish (NULL, root);
  return status;
}
