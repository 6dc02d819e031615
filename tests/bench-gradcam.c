/* bench-gradcam MODEL [RUNS]: median time of a forward pass (batch 1,
 * nothing kept) and of Grad-CAM (one forward kept for backward + one
 * backward that stops at the last convolutional layer) on a fixed random
 * input, and their ratio.  build-aux/bench-gradcam runs it next to PyTorch. */
#include <stdio.h>
#include <stdlib.h>

#include "mir-keras.h"
#include "mir-model-load.h"
#include "mir-explain.h"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MirModel) model = NULL;
  g_autoptr(MirTensor) x = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  const MirShape *s;
  int runs = argc > 2 ? atoi (argv[2]) : 20;
  double *tf, *tg;

  if (argc < 2 || runs < 1)
    {
      fprintf (stderr, "usage: bench-gradcam MODEL [RUNS]\n");
      return 1;
    }
  model = mir_model_load (argv[1], &error);
  if (model == NULL)
    {
      fprintf (stderr, "bench-gradcam: %s\n", error->message);
      return 2;
    }
  s = mir_model_get_input_shape (model, 0);
  x = mir_tensor_new_4d (1, s->dim[1], s->dim[2], s->dim[3], &error);
  for (gsize i = 0; i < x->numel; i++)
    x->data[i] = (float) g_rand_double (rng);
  tf = g_new (double, runs);
  tg = g_new (double, runs);
  /* warm-up */
  g_clear_pointer (&error, g_error_free);
  mir_tensor_unref (mir_model_predict (model, x, NULL, &error));
  mir_explanation_free (mir_explain_gradcam (model, x, NULL, NULL, &error));
  if (error != NULL)
    {
      fprintf (stderr, "bench-gradcam: %s\n", error->message);
      return 2;
    }
  for (int r = 0; r < runs; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      mir_tensor_unref (mir_model_predict (model, x, NULL, NULL));
      gint64 t1 = g_get_monotonic_time ();
      mir_explanation_free (mir_explain_gradcam (model, x, NULL, NULL, NULL));
      gint64 t2 = g_get_monotonic_time ();
      tf[r] = (t1 - t0) / 1e3;
      tg[r] = (t2 - t1) / 1e3;
    }
  qsort (tf, (gsize) runs, sizeof (double), cmp_double);
  qsort (tg, (gsize) runs, sizeof (double), cmp_double);
  printf ("forward_ms %.3f\ngradcam_ms %.3f\nratio %.3f\n", tf[runs / 2], tg[runs / 2],
          tg[runs / 2] / tf[runs / 2]);
  g_free (tf);
  g_free (tg);
  return 0;
}
