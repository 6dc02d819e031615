/* mirada-scale-banner.c: "how is this model's input scaled?" (issue 16).
 *
 * A model trained on x / 255 but fed 0..255 still answers, only worse (a
 * Fashion-MNIST model: 82% instead of 91% right), so an unknown scaling is
 * asked about instead of assumed in silence.  The bar is a GtkRevealer (no
 * AdwBanner in libadwaita 1.2) with a label and one button per usual
 * scaling; each button shows, as a hint, the model's top class for the
 * current image under that scaling.  Choosing goes through
 * mirada_window_apply_model_meta(), as Model Properties does: the sidecar
 * records it and the reloaded meta says SIDECAR, so the bar hides. */
#define G_LOG_DOMAIN "mirada-gui"

#include "config.h"

#include <math.h>
#include <glib/gi18n.h>

#include "mirada-job.h"
#include "mirada-scale-banner.h"
#include "mirada-window.h"

typedef struct
{
  MirPreprocessMode mode;
  const char *label;
  const char *tooltip;
} Choice;

static const Choice choices[] = {
  { MIR_PREPROCESS_NONE, N_("0–255 (none)"),
    N_("The model was trained on raw pixel values; remember that") },
  { MIR_PREPROCESS_SCALE, N_("0–1 (x / 255)"),
    N_("The model was trained on pixels divided by 255; use and remember that") },
  { MIR_PREPROCESS_TF, N_("−1–1 (tf)"),
    N_("The model was trained on x / 127.5 − 1 (MobileNet, Teachable Machine); use and "
       "remember that") },
};
#define N_CHOICES G_N_ELEMENTS (choices)

static const char *const question =
  N_("Nothing says how this model’s input is scaled, so 0–255 is assumed. Which scaling was "
     "it trained on? Under each choice: the model’s answer for this image. The choice is "
     "remembered beside the model.");

struct _MiradaScaleBanner
{
  GtkWidget parent_instance;

  GtkRevealer *revealer;
  GtkLabel *message;
  GtkButton *buttons[N_CHOICES];
  GtkLabel *hints[N_CHOICES];

  MirModel *model;
  MirImage *image;
  MiradaJobRunner *runner;
};

G_DEFINE_FINAL_TYPE (MiradaScaleBanner, mirada_scale_banner, GTK_TYPE_WIDGET)

static const char *css =
  "scalebanner > revealer > box {"
  "  background-color: alpha(@warning_bg_color, 0.25);"
  "  border-bottom: 1px solid alpha(currentColor, 0.15);"
  "  padding: 6px 12px;"
  "}";

/* ------------------------------------------------------------------ */
/* The hints, on a worker */

typedef struct
{
  MirModel *model;
  MirImage *image;
} HintJob;

typedef struct
{
  char *text[N_CHOICES];
} Hints;

static void
hint_job_free (HintJob *job)
{
  mir_model_unref (job->model);
  mir_image_unref (job->image);
  g_free (job);
}

static void
hints_free (Hints *hints)
{
  for (guint i = 0; i < N_CHOICES; i++)
    g_free (hints->text[i]);
  g_free (hints);
}

/* "97% Sneaker": the top class and, for probabilities, how sure. */
static char *
top_class_text (MirModel *model, const MirTensor *out)
{
  MirHeadKind head = mir_model_get_head_kind (model);
  g_autofree char *name = NULL;
  guint best = 0;
  double value;

  if (out->numel == 0)
    return g_strdup ("—");
  if (mir_model_is_binary_sigmoid (model))
    {
      best = out->data[0] >= 0.5f ? 1 : 0;
      value = best ? out->data[0] : 1.0 - out->data[0];
    }
  else
    {
      gsize n = MIN (out->numel, (gsize) MAX (mir_model_get_n_classes (model), 1));

      for (gsize i = 1; i < n; i++)
        if (out->data[i] > out->data[best])
          best = (guint) i;
      value = out->data[best];
    }
  name = mir_model_dup_class_name (model, best);
  if (!isfinite (value))
    return g_strdup ("—");
  if (head == MIR_HEAD_LINEAR)
    return g_steal_pointer (&name);
  /* TRANSLATORS: a hint under a scaling choice: how sure the model is (a
   * percentage) and of which class, e.g. "97% Sneaker". */
  return g_strdup_printf (_("%.0f%% %s"), 100.0 * value, name);
}

static gpointer
hints_worker (MiradaJob    *job,
              gpointer      data,
              GCancellable *cancellable,
              GError      **error)
{
  HintJob *hint_job = data;
  Hints *hints = g_new0 (Hints, 1);

  for (guint i = 0; i < N_CHOICES; i++)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(MirTensor) input = NULL;
      g_autoptr(MirTensor) out = NULL;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          hints_free (hints);
          return NULL;
        }
      input = mir_image_prepare_as (hint_job->image, hint_job->model, choices[i].mode, &local);
      if (input != NULL)
        out = mir_model_predict (hint_job->model, input, cancellable, &local);
      hints->text[i] = out != NULL ? top_class_text (hint_job->model, out) : g_strdup ("—");
      mirada_job_set_progress (job, (i + 1.0) / N_CHOICES);
    }
  return hints;
}

static void
hints_done (gpointer      result,
            const GError *error,
            gpointer      user_data)
{
  MiradaScaleBanner *self = MIRADA_SCALE_BANNER (user_data);
  Hints *hints = result;

  if (hints == NULL)
    return;
  for (guint i = 0; i < N_CHOICES; i++)
    gtk_label_set_text (self->hints[i], hints->text[i]);
  hints_free (hints);
}

/* ------------------------------------------------------------------ */

static void
choice_clicked_cb (GtkButton         *button,
                   MiradaScaleBanner *self)
{
  g_autoptr(GError) error = NULL;
  GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (self), MIRADA_TYPE_WINDOW);
  MirModelMeta meta = { 0 };
  guint i;

  if (window == NULL || self->model == NULL)
    return;
  for (i = 0; i < N_CHOICES && self->buttons[i] != button; i++)
    ;
  g_return_if_fail (i < N_CHOICES);

  meta.preprocess = choices[i].mode;
  meta.resize = self->model->meta.resize;
  meta.class_names = self->model->meta.class_names; /* borrowed: only read */
  /* On success the window gives us the new model, which hides the bar. */
  if (!mirada_window_apply_model_meta (MIRADA_WINDOW (window), &meta, &error))
    {
      /* TRANSLATORS: %s says why, e.g. that a file could not be written */
      g_autofree char *text = g_strdup_printf (_("The choice could not be applied: %s"),
                                               error->message);

      gtk_label_set_text (self->message, text);
    }
}

static void
mirada_scale_banner_dispose (GObject *object)
{
  MiradaScaleBanner *self = MIRADA_SCALE_BANNER (object);

  if (self->runner != NULL)
    mirada_job_runner_cancel (self->runner);
  g_clear_object (&self->runner);
  g_clear_pointer (&self->model, mir_model_unref);
  g_clear_pointer (&self->image, mir_image_unref);
  g_clear_pointer ((GtkWidget **) &self->revealer, gtk_widget_unparent);

  G_OBJECT_CLASS (mirada_scale_banner_parent_class)->dispose (object);
}

static void
mirada_scale_banner_class_init (MiradaScaleBannerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mirada_scale_banner_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "scalebanner");
}

static void
mirada_scale_banner_init (MiradaScaleBanner *self)
{
  static gsize css_added;
  GtkWidget *box, *choices_box, *icon;

  if (g_once_init_enter (&css_added))
    {
      GtkCssProvider *provider = gtk_css_provider_new ();

      gtk_css_provider_load_from_data (provider, css, -1);
      gtk_style_context_add_provider_for_display (gdk_display_get_default (),
                                                  GTK_STYLE_PROVIDER (provider),
                                                  GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
      g_object_unref (provider);
      g_once_init_leave (&css_added, 1);
    }

  self->runner = mirada_job_runner_new ();
  self->revealer = GTK_REVEALER (gtk_revealer_new ());
  gtk_revealer_set_transition_type (self->revealer, GTK_REVEALER_TRANSITION_TYPE_SLIDE_DOWN);
  gtk_widget_set_parent (GTK_WIDGET (self->revealer), GTK_WIDGET (self));

  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  icon = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
  gtk_widget_set_valign (icon, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), icon);

  self->message = GTK_LABEL (gtk_label_new (_(question)));
  gtk_label_set_wrap (self->message, TRUE);
  gtk_label_set_xalign (self->message, 0);
  gtk_widget_set_hexpand (GTK_WIDGET (self->message), TRUE);
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->message));

  choices_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_valign (choices_box, GTK_ALIGN_CENTER);
  for (guint i = 0; i < N_CHOICES; i++)
    {
      GtkWidget *content = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
      GtkWidget *title = gtk_label_new (_(choices[i].label));

      self->hints[i] = GTK_LABEL (gtk_label_new (""));
      gtk_widget_add_css_class (GTK_WIDGET (self->hints[i]), "caption");
      gtk_widget_add_css_class (GTK_WIDGET (self->hints[i]), "dim-label");
      gtk_label_set_ellipsize (self->hints[i], PANGO_ELLIPSIZE_END);
      gtk_label_set_max_width_chars (self->hints[i], 18);
      gtk_box_append (GTK_BOX (content), title);
      gtk_box_append (GTK_BOX (content), GTK_WIDGET (self->hints[i]));

      self->buttons[i] = GTK_BUTTON (gtk_button_new ());
      gtk_button_set_child (self->buttons[i], content);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->buttons[i]), _(choices[i].tooltip));
      g_signal_connect (self->buttons[i], "clicked", G_CALLBACK (choice_clicked_cb), self);
      gtk_box_append (GTK_BOX (choices_box), GTK_WIDGET (self->buttons[i]));
    }
  gtk_box_append (GTK_BOX (box), choices_box);
  gtk_revealer_set_child (self->revealer, box);
}

GtkWidget *
mirada_scale_banner_new (void)
{
  return g_object_new (MIRADA_TYPE_SCALE_BANNER, NULL);
}

void
mirada_scale_banner_update (MiradaScaleBanner *self,
                            MirModel          *model,
                            MirImage          *image)
{
  gboolean unknown;

  g_return_if_fail (MIRADA_IS_SCALE_BANNER (self));

  unknown = model != NULL && model->meta.preprocess_from == MIR_PREPROCESS_FROM_UNKNOWN;
  if (model != self->model)
    {
      g_clear_pointer (&self->model, mir_model_unref);
      self->model = model != NULL ? mir_model_ref (model) : NULL;
    }
  if (image != self->image)
    {
      g_clear_pointer (&self->image, mir_image_unref);
      self->image = image != NULL ? mir_image_ref (image) : NULL;
    }

  gtk_revealer_set_reveal_child (self->revealer, unknown);
  gtk_label_set_text (self->message, _(question));
  for (guint i = 0; i < N_CHOICES; i++)
    gtk_label_set_text (self->hints[i], "");
  if (unknown && image != NULL)
    {
      HintJob *job = g_new0 (HintJob, 1);

      job->model = mir_model_ref (model);
      job->image = mir_image_ref (image);
      mirada_job_runner_run (self->runner, _("Trying the scalings"), hints_worker, job,
                             (GDestroyNotify) hint_job_free, (GDestroyNotify) hints_free,
                             hints_done, self, NULL);
    }
  else
    mirada_job_runner_cancel (self->runner);
}

gboolean
mirada_scale_banner_get_revealed (MiradaScaleBanner *self)
{
  g_return_val_if_fail (MIRADA_IS_SCALE_BANNER (self), FALSE);
  return gtk_revealer_get_reveal_child (self->revealer);
}

GtkWidget *
mirada_scale_banner_get_choice (MiradaScaleBanner *self,
                                guint              index)
{
  g_return_val_if_fail (MIRADA_IS_SCALE_BANNER (self), NULL);
  g_return_val_if_fail (index < N_CHOICES, NULL);
  return GTK_WIDGET (self->buttons[index]);
}

const char *
mirada_scale_banner_get_hint (MiradaScaleBanner *self,
                              guint              index)
{
  g_return_val_if_fail (MIRADA_IS_SCALE_BANNER (self), NULL);
  g_return_val_if_fail (index < N_CHOICES, NULL);
  return gtk_label_get_text (self->hints[index]);
}
