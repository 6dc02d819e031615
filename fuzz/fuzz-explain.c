/* fuzz-explain.c: explanation parameters.  The first bytes pick a method,
 * one of three tiny models (built once) and the options (class, complement,
 * layer, patch, stride, samples, noise, seed); the rest fills the input
 * image.  Every call must give a map or a GError: never a crash, a critical
 * or a hang (the models are tiny, so -timeout catches a runaway loop). */
#define G_LOG_DOMAIN "mir-fuzz"

#include <string.h>

#include "fuzz-util.h"
#include "mir-explain.h"
#include "mir-keras.h"

/* A softmax GAP head (CAM works), a binary sigmoid head behind Flatten (CAM
 * refuses; complement applies) and a model without any convolution. */
static const char *configs[] = {
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"gap\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv\", \"filters\": 3, "
  "\"kernel_size\": [3, 3], \"padding\": \"same\", \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 6, 6, 2]}},"
  "{\"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"pool\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 4, "
  "\"activation\": \"softmax\"}}]}}",
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"binary\", \"layers\": ["
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv\", \"filters\": 2, "
  "\"kernel_size\": [3, 3], \"activation\": \"relu\", "
  "\"batch_input_shape\": [null, 7, 5, 3]}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"pool\", \"pool_size\": [2, 2]}},"
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flat\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 1, "
  "\"activation\": \"sigmoid\"}}]}}",
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"dense\", \"layers\": ["
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flat\", "
  "\"batch_input_shape\": [null, 4, 4, 1]}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 3, "
  "\"activation\": \"softmax\"}}]}}",
};

static MirModel *models[G_N_ELEMENTS (configs)];

#define N_OPTION_BYTES 14

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  mir_fuzz_init ();
  for (guint i = 0; i < G_N_ELEMENTS (configs); i++)
    {
      g_autoptr(GError) error = NULL;

      models[i] = mir_keras_model_from_config (configs[i], -1, &error);
      if (models[i] == NULL || !mir_model_finish (models[i], TRUE, i + 1, &error))
        g_error ("tiny model %u: %s", i, error->message);
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint8_t b[N_OPTION_BYTES] = { 0 };
  g_autoptr(MirTensor) input = NULL;
  g_autoptr(MirExplanation) e = NULL;
  g_autoptr(GError) error = NULL;
  MirExplainOptions o = MIR_EXPLAIN_OPTIONS_DEFAULT;
  const MirShape *s;
  MirModel *model;
  gint64 n;

  memcpy (b, data, MIN (size, sizeof b));
  data += MIN (size, sizeof b);
  size -= MIN (size, sizeof b);

  model = models[b[1] % G_N_ELEMENTS (models)];
  o.class_index = (gint8) b[2];
  o.complement = b[3] & 1;
  o.layer = (gint8) b[4];
  o.patch = (gint16) (b[5] | b[6] << 8);
  o.stride = (gint8) b[7];
  o.samples = (gint8) b[8];
  o.noise = ((int) b[9] - 64) / 16.0;
  o.seed = (guint32) b[10] | (guint32) b[11] << 8 | (guint32) b[12] << 16;

  s = mir_model_get_input_shape (model, 0);
  input = mir_tensor_new_4d (1, s->dim[1], s->dim[2], s->dim[3], &error);
  g_assert_no_error (error);
  n = s->dim[1] * s->dim[2] * s->dim[3];
  if (b[13] & 1)  /* raw floats: NaN, infinities, huge values */
    memcpy (input->data, data, MIN (size, (size_t) n * sizeof (float)));
  else  /* pixel values, as the GUI passes them */
    for (gint64 i = 0; i < n && (size_t) i < size; i++)
      input->data[i] = data[i];

  {
    /* every method of the engine's table (mir-explain-methods.c) */
    guint n_methods;
    const MirExplainMethod *methods = mir_explain_get_methods (&n_methods);

    e = methods[b[0] % n_methods].func (model, input, &o, NULL, &error);
  }
  g_assert ((e == NULL) == (error != NULL));
  return 0;
}
