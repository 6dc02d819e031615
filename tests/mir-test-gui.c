#include "mir-test-gui.h"
#include "mir-test-util.h"
#include "mirada-job.h"

char *
mir_test_gui_init (const char *prefix)
{
  char *root = mir_test_private_home (prefix);

  gtk_init ();
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  return root;
}

MiradaApplication *
mir_test_gui_app (void)
{
  g_autoptr(GError) error = NULL;
  MiradaApplication *app = mirada_application_new ();

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  return app;
}

void
mir_test_gui_finish (MiradaApplication **app, char *root)
{
  g_assert_true (mirada_jobs_wait_idle (30000));
  if (app != NULL)
    g_clear_object (app);
  if (root != NULL)
    {
      mir_test_remove_tree (root);
      g_free (root);
    }
}
