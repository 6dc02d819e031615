/* mirada-application.c: AdwApplication, app actions and accelerators. */
#define G_LOG_DOMAIN "mirada-application"

#include "config.h"

#include <glib/gi18n.h>

#include "mirada-application.h"
#include "mirada-job.h"
#include "mirada-settings.h"
#include "mirada-smoke.h"
#include "mirada-timing.h"
#include "mirada-window.h"

struct _MiradaApplication
{
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (MiradaApplication, mirada_application, ADW_TYPE_APPLICATION)

static MiradaWindow *
get_window (MiradaApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (window == NULL)
    window = GTK_WINDOW (mirada_window_new (GTK_APPLICATION (self)));
  return MIRADA_WINDOW (window);
}

static void
mirada_application_activate (GApplication *app)
{
  MiradaApplication *self = MIRADA_APPLICATION (app);
  gboolean new_window = gtk_application_get_active_window (GTK_APPLICATION (app)) == NULL;
  MiradaWindow *window = get_window (self);

  /* Started without files: the built-in model and demo scene, every time
   * (README: `mirada` opens the window on them), not only on the first start. */
  if (new_window)
    mirada_window_open_defaults (window);
  gtk_window_present (GTK_WINDOW (window));
  mirada_smoke_watch (app, GTK_WINDOW (window));
  mirada_timing_watch (app, GTK_WINDOW (window));
}

static void
mirada_application_open (GApplication  *app,
                         GFile        **files,
                         int            n_files,
                         const char    *hint)
{
  gboolean new_window = gtk_application_get_active_window (GTK_APPLICATION (app)) == NULL;
  MiradaWindow *window = get_window (MIRADA_APPLICATION (app));

  /* `mirada MODEL`: the model on the demo scene; `mirada PHOTO`: the
   * built-in model on the photo (a running window only opens the file) */
  if (new_window)
    mirada_window_open_files_or_defaults (window, files, n_files);
  else
    mirada_window_open_files (window, files, n_files);
  gtk_window_present (GTK_WINDOW (window));
  mirada_smoke_watch (app, GTK_WINDOW (window));
  mirada_timing_watch (app, GTK_WINDOW (window));
}

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  GtkApplication *app = user_data;
  GList *windows = gtk_application_get_windows (app);

  /* close (saves the window state) rather than quit abruptly */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
  g_application_quit (G_APPLICATION (app));
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  GtkApplication *app = user_data;
  const char *developers[] = { _("The Mirada authors"), NULL };
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (app),
                        "application-name", "Mirada",
                        "application-icon", APPLICATION_ID,
                        "version", PACKAGE_VERSION,
                        "developer-name", _("The Mirada authors"),
                        "developers", developers,
                        "comments", _("Look inside convolutional neural networks: sliding-window detections, activations, filters and Grad-CAM."),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "website", "https://github.com/mirada/mirada",
                        /* Translators: your names, one per line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
shortcuts_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  if (window != NULL)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL);
}

static const GActionEntry app_actions[] = {
  { "shortcuts", shortcuts_action, NULL, NULL, NULL, { 0 } },
  { "quit", quit_action, NULL, NULL, NULL, { 0 } },
  { "about", about_action, NULL, NULL, NULL, { 0 } },
};

static void
mirada_application_startup (GApplication *app)
{
  static const struct {
    const char *action;
    const char *accels[3];
  } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "win.show-help-overlay", { "<Control>question", NULL } },
    { "win.open-model", { "<Control>o", NULL } },
    { "win.open-image", { "<Control><Shift>o", NULL } },
    { "win.export", { "<Control>e", NULL } },
    { "win.zoom-in", { "<Control>plus", "<Control>equal", NULL } },
    { "win.zoom-out", { "<Control>minus", NULL } },
    { "win.zoom-fit", { "<Control>0", NULL } },
    { "win.cancel-job", { "Escape", NULL } },
    /* enabled only in presentation mode when no job runs: never both */
    { "win.leave-presentation", { "Escape", NULL } },
    { "win.presentation", { "F11", NULL } },
    { "win.toggle-sidebar", { "F9", NULL } },
    { "win.sweep", { "<Control><Shift>s", NULL } },
    { "win.paste", { "<Control>v", NULL } },
    { "win.model-properties", { "<Alt>Return", NULL } },
  };

  G_APPLICATION_CLASS (mirada_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions), app);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action, accels[i].accels);
  gtk_window_set_default_icon_name (APPLICATION_ID);
}

static void
mirada_application_shutdown (GApplication *app)
{
  GList *windows;

  /* a quit does not close the windows (GTK 4): close them, which cancels
   * their jobs (the window's dispose cancels its session), then let the
   * workers leave the engine before exit (OpenBLAS's exit handler deadlocks
   * otherwise).  A quit while a model was still loading and classifying
   * (MIRADA_SMOKE_TIMEOUT=0.01 under load) crashed once in 20 at exit. */
  while ((windows = gtk_application_get_windows (GTK_APPLICATION (app))) != NULL)
    gtk_window_destroy (GTK_WINDOW (windows->data));
  if (!mirada_jobs_wait_idle (10000))
    g_warning ("A worker job did not stop within 10 s");
  G_APPLICATION_CLASS (mirada_application_parent_class)->shutdown (app);
}

static void
mirada_application_class_init (MiradaApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->shutdown = mirada_application_shutdown;
  app_class->activate = mirada_application_activate;
  app_class->open = mirada_application_open;
  app_class->startup = mirada_application_startup;
}

static void
mirada_application_init (MiradaApplication *self)
{
}

MiradaApplication *
mirada_application_new (void)
{
  return g_object_new (MIRADA_TYPE_APPLICATION,
                       "application-id", APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE,
                       "resource-base-path", RESOURCE_BASE,
                       NULL);
}

int
mirada_gui_run (int    argc,
                char **argv)
{
  g_autoptr(MiradaApplication) app = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  if (!mirada_settings_ensure_schema (&error))
    {
      g_printerr ("mirada: %s\n", error->message);
      return 2;
    }
  app = mirada_application_new ();
  g_set_application_name ("Mirada");
  status = g_application_run (G_APPLICATION (app), argc, argv);
  /* MIRADA_SMOKE (mirada-smoke.c): 1 when the boxes never showed */
  if (status == 0)
    status = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (app), "mirada-smoke-status"));
  return status;
}
