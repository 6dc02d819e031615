/* test-cancel.c: cancelling runs from another thread, at random moments.
 *
 * A worker thread runs mir_model_run (then mir_detect_classify) while the
 * main thread cancels its GCancellable after a random delay.  Every run must
 * end either with the exact result of an uncancelled reference run or with
 * G_IO_ERROR_CANCELLED, and nothing may leak or race: the suite is meant to
 * run under ThreadSanitizer too (build-aux/tsan).  MIRADA_CANCEL_ROUNDS sets
 * the number of rounds (default 200). */
#define G_LOG_DOMAIN "test-cancel"

#include <string.h>

#include "mir-test-util.h"
#include "mir-keras.h"
#include "detect/mir-detect.h"

static const char *const config =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
  "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"x\", "
  "\"batch_input_shape\": [null, 24, 24, 3]}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 8, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\", \"padding\": \"same\"}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p\", \"pool_size\": [2, 2]}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 8, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\"}},"
  "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"g\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 3, "
  "\"activation\": \"softmax\"}}]}}";

typedef struct
{
  MirModel *model;
  MirTensor *input;
  MirImage *image;
  MirDetectGeometry geom;
  GCancellable *cancellable;
  MirTensor *output;   /* run result */
  MirDetectGrid *grid; /* classify result */
  GError *error;
} Job;

static gpointer
run_model (gpointer data)
{
  Job *job = data;
  MirTrace *trace = mir_model_run (job->model, &job->input, 1, MIR_RUN_DEFAULT, -1, 0,
                                   job->cancellable, &job->error);

  if (trace != NULL)
    {
      job->output = mir_tensor_dup (mir_trace_get_output (trace, 0), NULL);
      mir_trace_free (trace);
    }
  return NULL;
}

static gpointer
run_classify (gpointer data)
{
  Job *job = data;

  job->grid = mir_detect_classify (job->model, job->image, &job->geom, 4, NULL, NULL,
                                   job->cancellable, &job->error);
  return NULL;
}

static guint
rounds (void)
{
  const char *s = g_getenv ("MIRADA_CANCEL_ROUNDS");

  return s ? (guint) g_ascii_strtoull (s, NULL, 10) : 200;
}

static MirModel *
make_model (void)
{
  g_autoptr(GError) error = NULL;
  MirModel *model = mir_keras_model_from_config (config, -1, &error);

  g_assert_no_error (error);
  mir_model_finish (model, TRUE, 3, &error);
  g_assert_no_error (error);
  return model;
}

static void
test_cancel_run (void)
{
  g_autoptr(MirModel) model = make_model ();
  g_autoptr(GRand) rng = g_rand_new_with_seed (11);
  gint64 shape[4] = { 8, 24, 24, 3 };
  g_autoptr(MirTensor) input = mir_test_random_tensor (4, shape, 0.f, 1.f, rng);
  g_autoptr(MirTensor) reference = NULL;
  g_autoptr(GError) error = NULL;
  guint n = rounds (), n_cancelled = 0, n_done = 0;
  Job job = { model, input };

  reference = mir_model_predict (model, input, NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < n; i++)
    {
      GThread *thread;

      job.cancellable = g_cancellable_new ();
      thread = g_thread_new ("run", run_model, &job);
      g_usleep (g_rand_int_range (rng, 0, 1500));
      g_cancellable_cancel (job.cancellable);
      g_thread_join (thread);
      if (job.output != NULL)
        {
          g_assert_no_error (job.error);
          g_assert_cmpuint (job.output->numel, ==, reference->numel);
          g_assert_cmpmem (job.output->data, job.output->numel * sizeof (float),
                           reference->data, reference->numel * sizeof (float));
          n_done++;
        }
      else
        {
          g_assert_error (job.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          n_cancelled++;
        }
      g_clear_pointer (&job.output, mir_tensor_unref);
      g_clear_error (&job.error);
      g_clear_object (&job.cancellable);
    }
  g_test_message ("%u runs finished, %u cancelled", n_done, n_cancelled);
  g_assert_cmpuint (n_done + n_cancelled, ==, n);
}

static void
test_cancel_classify (void)
{
  g_autoptr(MirModel) model = make_model ();
  g_autoptr(GRand) rng = g_rand_new_with_seed (12);
  g_autoptr(MirImage) image = NULL;
  g_autoptr(MirDetectGrid) reference = NULL;
  g_autoptr(GError) error = NULL;
  guint n = MAX (rounds () / 4, 1), n_cancelled = 0, n_done = 0;
  Job job = { model };

  image = mir_image_new (64, 48, 3, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < image->rowstride * (gsize) image->height; i++)
    image->pixels[i] = (guint8) g_rand_int (rng);
  mir_detect_geometry_init (&job.geom, 64, 48, 24, 8, FALSE, &error);
  g_assert_no_error (error);
  job.image = image;
  reference = mir_detect_classify (model, image, &job.geom, 4, NULL, NULL, NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < n; i++)
    {
      GThread *thread;
      gsize nprobs = (gsize) mir_detect_geometry_n_windows (&job.geom) * reference->n_classes;

      job.cancellable = g_cancellable_new ();
      thread = g_thread_new ("classify", run_classify, &job);
      g_usleep (g_rand_int_range (rng, 0, 4000));
      g_cancellable_cancel (job.cancellable);
      g_thread_join (thread);
      if (job.grid != NULL)
        {
          g_assert_no_error (job.error);
          g_assert_cmpmem (job.grid->probs, nprobs * sizeof (float),
                           reference->probs, nprobs * sizeof (float));
          n_done++;
        }
      else
        {
          g_assert_error (job.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
          n_cancelled++;
        }
      g_clear_pointer (&job.grid, mir_detect_grid_unref);
      g_clear_error (&job.error);
      g_clear_object (&job.cancellable);
    }
  g_test_message ("%u classifications finished, %u cancelled", n_done, n_cancelled);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cancel/run", test_cancel_run);
  g_test_add_func ("/cancel/classify", test_cancel_classify);
  return g_test_run ();
}
