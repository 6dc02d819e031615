/* mirada-train-setup.c: what `mirada train` and the window's Train view
 * share to set a training run up. */
#include "config.h"

#include <glib/gi18n.h>

#include <string.h>
#include "mir-applications.h"
#include "mir-keras.h"
#include "mir-model-load.h"
#include <json-glib/json-glib.h>
#include "mirada-image-io.h"
#include "mirada-train-setup.h"

/* The default architecture: a small CNN in the spirit of the course notebook
 * (seed 002: Conv-ReLU-MaxPool blocks, then Dense), a printf template for
 * the input's height, width and channels and the number of outputs.  For
 * 28×28 grey images (Fashion-MNIST) it has 11 outputs: the 10 classes and
 * "background" (see add_background_samples()); about 12 MFLOPs per image.
 * For another dataset in a fixed format (CIFAR, IDX) it takes the dataset's
 * image size and has one output per class. */
static const char default_arch_template[] =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"mirada_fashion\", \"layers\": ["
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %d, %d, %d],"
  " \"dtype\": \"float32\", \"sparse\": false, \"ragged\": false, \"name\": \"input_1\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"filters\": 32, \"kernel_size\": [3, 3], \"strides\": [1, 1],"
  " \"padding\": \"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1],"
  " \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"max_pooling2d\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2],"
  " \"data_format\": \"channels_last\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"filters\": 64, \"kernel_size\": [3, 3], \"strides\": [1, 1],"
  " \"padding\": \"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1],"
  " \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"max_pooling2d_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2],"
  " \"data_format\": \"channels_last\"}},"
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d_2\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"filters\": 64, \"kernel_size\": [3, 3], \"strides\": [1, 1],"
  " \"padding\": \"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1],"
  " \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"data_format\": \"channels_last\"}},"
  "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"rate\": 0.3}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"units\": 128, \"activation\": \"relu\", \"use_bias\": true}},"
  "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"rate\": 0.3}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"trainable\": true,"
  " \"dtype\": \"float32\", \"units\": %u, \"activation\": \"softmax\", \"use_bias\": true}}"
  "]}, \"keras_version\": \"2.15.0\", \"backend\": \"tensorflow\"}";

/* The CIFAR-10 notebook's CNN (seed 004): three blocks of Conv2D > Conv2D >
 * MaxPooling2D with 32, 64 and 128 filters of 3×3 ("same", ReLU), Flatten,
 * Dense softmax.  For 32×32×3 and 10 classes: 307,498 parameters, as the
 * notebook's model.summary() prints. */
static const char cifar_arch_template[] =
  "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"cifar_cnn\", \"layers\": ["
  "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, %d, %d, %d],"
  " \"dtype\": \"float32\", \"name\": \"input_1\"}},"
#define CONV(name, filters) \
  "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"" name "\", \"filters\": " #filters "," \
  " \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", \"activation\": \"relu\"," \
  " \"use_bias\": true, \"dilation_rate\": [1, 1], \"groups\": 1}},"
#define POOL(name) \
  "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"" name "\", \"pool_size\": [2, 2]," \
  " \"strides\": [2, 2], \"padding\": \"valid\"}},"
  CONV ("conv2d", 32) CONV ("conv2d_1", 32) POOL ("max_pooling2d")
  CONV ("conv2d_2", 64) CONV ("conv2d_3", 64) POOL ("max_pooling2d_1")
  CONV ("conv2d_4", 128) CONV ("conv2d_5", 128) POOL ("max_pooling2d_2")
#undef CONV
#undef POOL
  "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"flatten\"}},"
  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": %u,"
  " \"activation\": \"softmax\", \"use_bias\": true}}"
  "]}, \"keras_version\": \"2.15.0\", \"backend\": \"tensorflow\"}";

char *
mirada_cifar_arch_config (int height, int width, int channels, guint n_outputs)
{
  return g_strdup_printf (cifar_arch_template, height, width, channels, n_outputs);
}

char *
mirada_default_arch_config (int height, int width, int channels, guint n_outputs)
{
  return g_strdup_printf (default_arch_template, height, width, channels, n_outputs);
}

static gboolean
decode_nearest (const char *path, gint64 height, gint64 width, gint64 channels, guint8 *pixels,
                gpointer user_data, GError **error)
{
  return mirada_dataset_image_decode (path, height, width, channels, MIR_RESIZE_NEAREST, pixels,
                                      error);
}

MirDataset *
mirada_train_load_dataset (const char *arg, gint64 height, gint64 width, gint64 channels,
                           guint *skipped, GCancellable *cancellable, GError **error)
{
  MirDatasetFormat format;

  if (skipped)
    *skipped = 0;
  if (g_strcmp0 (arg, "fashion-mnist") == 0)
    return mir_dataset_load_fashion_mnist (NULL, TRUE, error);
  format = mir_dataset_detect_format (arg);
  if (format == MIR_DATASET_FORMAT_CIFAR)
    return mir_dataset_load_cifar (arg, TRUE, error);
  if (format == MIR_DATASET_FORMAT_IDX)
    return mir_dataset_load_idx_folder (arg, TRUE, error);
  return mir_dataset_load_directory_skipping (arg, height, width, channels, decode_nearest, NULL,
                                              NULL, NULL, skipped, cancellable, error);
}

/* ------------------------------------------------------------------ */
/* Transfer learning: --base arch:NAME[,size=N][,alpha=A][,weights=FILE]
 * builds keras.applications.NAME(include_top=False) with a new head
 * (GlobalAveragePooling2D + Dense softmax, as the course notebooks add one)
 * and takes the base's weights from FILE; --freeze-base trains the head only. */


void
mirada_base_spec_clear (MiradaBaseSpec *b)
{
  g_clear_pointer (&b->name, g_free);
  g_clear_pointer (&b->weights, g_free);
}

gboolean
mirada_base_spec_parse (const char *spec, MiradaBaseSpec *out, GError **error)
{
  g_auto(GStrv) parts = NULL;
  gboolean known = FALSE;

  memset (out, 0, sizeof *out);
  out->alpha = 1.0;
  if (!g_str_has_prefix (spec, "arch:") || spec[5] == '\0')
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("--base takes arch:NAME[,size=N][,alpha=A][,weights=FILE], not “%s”"), spec);
      return FALSE;
    }
  parts = g_strsplit (spec + 5, ",", -1);
  for (const char *const *n = mir_application_list (); *n; n++)
    known |= g_strcmp0 (*n, parts[0]) == 0;
  if (!known)
    {
      g_autofree char *list = g_strjoinv (", ", (char **) mir_application_list ());
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("--base: unknown architecture “%s” (known: %s)"), parts[0], list);
      return FALSE;
    }
  out->name = g_strdup (parts[0]);
  for (guint i = 1; parts[i]; i++)
    {
      char *end = NULL;

      if (g_str_has_prefix (parts[i], "size="))
        {
          out->size = g_ascii_strtoll (parts[i] + 5, &end, 10);
          if (*end || out->size < 16 || out->size > 1024)
            goto bad;
        }
      else if (g_str_has_prefix (parts[i], "alpha="))
        {
          out->alpha = g_ascii_strtod (parts[i] + 6, &end);
          if (*end || !(out->alpha > 0 && out->alpha <= 4))
            goto bad;
        }
      else if (g_str_has_prefix (parts[i], "weights=") && parts[i][8] != '\0')
        {
          g_free (out->weights);
          out->weights = g_strdup (parts[i] + 8);
        }
      else
        goto bad;
      continue;
bad:
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("--base: “%s” is not size=16..1024, alpha=A (0 < A ≤ 4) or weights=FILE"),
                   parts[i]);
      mirada_base_spec_clear (out);
      return FALSE;
    }
  return TRUE;
}

static JsonObject *
inbound_to (const char *name)
{
  /* [[[name, 0, 0, {}]]] */
  JsonArray *outer = json_array_new (), *mid = json_array_new (), *ref = json_array_new ();
  JsonObject *layer = json_object_new ();

  json_array_add_string_element (ref, name);
  json_array_add_int_element (ref, 0);
  json_array_add_int_element (ref, 0);
  json_array_add_object_element (ref, json_object_new ());
  json_array_add_array_element (mid, ref);
  json_array_add_array_element (outer, mid);
  json_object_set_array_member (layer, "inbound_nodes", outer);
  return layer;
}

/* The base's Keras config with the head appended: GlobalAveragePooling2D
 * ("head_pool") and Dense(@n_classes, softmax) ("head_predictions"). */
static char *
transfer_config (const MiradaBaseSpec *b, gint64 size, guint n_classes, GError **error)
{
  MirApplicationOptions o;
  g_autofree char *base_json = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  JsonObject *root, *cfg, *pool, *pool_cfg, *dense, *dense_cfg, *init, *zeros;
  JsonArray *layers, *outputs, *out_ref, *out_list;
  const char *last;

  mir_application_options_init (&o);
  o.include_top = FALSE;
  o.size = size;
  o.alpha = b->alpha;
  if (!(base_json = mir_application_config (b->name, &o, error)) ||
      !json_parser_load_from_data (parser, base_json, -1, error))
    return NULL;
  root = json_node_get_object (json_parser_get_root (parser));
  cfg = json_object_get_object_member (root, "config");
  layers = json_object_get_array_member (cfg, "layers");
  outputs = json_object_get_array_member (cfg, "output_layers");
  last = json_array_get_string_element (json_array_get_array_element (outputs, 0), 0);

  pool = inbound_to (last);
  pool_cfg = json_object_new ();
  json_object_set_string_member (pool_cfg, "name", "head_pool");
  json_object_set_boolean_member (pool_cfg, "trainable", TRUE);
  json_object_set_string_member (pool_cfg, "dtype", "float32");
  json_object_set_string_member (pool_cfg, "data_format", "channels_last");
  json_object_set_string_member (pool, "class_name", "GlobalAveragePooling2D");
  json_object_set_string_member (pool, "name", "head_pool");
  json_object_set_object_member (pool, "config", pool_cfg);
  json_array_add_object_element (layers, pool);

  dense = inbound_to ("head_pool");
  dense_cfg = json_object_new ();
  json_object_set_string_member (dense_cfg, "name", "head_predictions");
  json_object_set_boolean_member (dense_cfg, "trainable", TRUE);
  json_object_set_string_member (dense_cfg, "dtype", "float32");
  json_object_set_int_member (dense_cfg, "units", n_classes);
  json_object_set_string_member (dense_cfg, "activation", "softmax");
  json_object_set_boolean_member (dense_cfg, "use_bias", TRUE);
  init = json_object_new ();
  json_object_set_string_member (init, "class_name", "GlorotUniform");
  json_object_set_object_member (init, "config", json_object_new ());
  json_object_set_object_member (dense_cfg, "kernel_initializer", init);
  zeros = json_object_new ();
  json_object_set_string_member (zeros, "class_name", "Zeros");
  json_object_set_object_member (zeros, "config", json_object_new ());
  json_object_set_object_member (dense_cfg, "bias_initializer", zeros);
  json_object_set_string_member (dense, "class_name", "Dense");
  json_object_set_string_member (dense, "name", "head_predictions");
  json_object_set_object_member (dense, "config", dense_cfg);
  json_array_add_object_element (layers, dense);

  out_list = json_array_new ();
  out_ref = json_array_new ();
  json_array_add_string_element (out_ref, "head_predictions");
  json_array_add_int_element (out_ref, 0);
  json_array_add_int_element (out_ref, 0);
  json_array_add_array_element (out_list, out_ref);
  json_object_set_array_member (cfg, "output_layers", out_list);
  json_generator_set_root (gen, json_parser_get_root (parser));
  return json_generator_to_data (gen, NULL);
}

/* The weights of every layer of @dst named like one of @src (the base),
 * copied from @src; a base layer @src lacks, or of another shape, is an error. */
static gboolean
copy_base_weights (MirModel *dst, MirModel *src, const char *what, GError **error)
{
  guint copied = 0;

  for (guint i = 0; i < dst->nodes->len; i++)
    {
      MirNode *node = mir_model_get_node (dst, i);
      MirLayer *to = node->layer, *from;
      gint k;

      if (to->n_weights == 0 || g_str_has_prefix (node->name, "head_"))
        continue;
      if ((k = mir_model_find_node (src, node->name)) < 0 ||
          (from = mir_model_get_node (src, (guint) k)->layer)->n_weights != to->n_weights)
        {
          g_set_error (error, MIR_ERROR, MIR_ERROR_SHAPE,
                       _("%s has no weights for the base's layer “%s” (is it the same "
                         "architecture, size and alpha?)"), what, node->name);
          return FALSE;
        }
      for (guint j = 0; j < to->n_weights; j++)
        {
          g_autoptr(MirTensor) t = mir_tensor_dup (from->weights[j].value, error);

          if (t == NULL || !mir_layer_set_weight (to, j, t, error))
            {
              g_prefix_error (error, _("%s, layer “%s”: "), what, node->name);
              return FALSE;
            }
        }
      copied++;
    }
  return copied > 0;
}

MirModel *
mirada_transfer_model_new (const MiradaBaseSpec *b, gint64 size, guint n_classes, gboolean freeze,
                           guint32 seed, guint *n_frozen, GError **error)
{
  g_autofree char *json = transfer_config (b, size, n_classes, error);
  g_autoptr(MirModel) model = NULL;
  guint frozen = 0;

  if (json == NULL || !(model = mir_keras_model_from_config (json, -1, error)) ||
      !mir_model_finish (model, TRUE, seed, error))
    return NULL;
  if (b->weights != NULL)
    {
      g_autoptr(MirModel) src = NULL;
      g_autoptr(GError) local = NULL;
      g_autofree char *what = g_strdup_printf ("“%s”", b->weights);

      /* a whole model saved by Mirada or Keras (its head is ignored), or a
       * weights-only file of the base (Keras' *_notop.h5) */
      src = mir_model_load (b->weights, &local);
      if (src == NULL)
        {
          MirApplicationOptions o;

          mir_application_options_init (&o);
          o.include_top = FALSE;
          o.size = size;
          o.alpha = b->alpha;
          o.weights = b->weights;
          if (!(src = mir_application_new (b->name, &o, error)))
            return NULL;
        }
      if (!copy_base_weights (model, src, what, error))
        return NULL;
    }
  if (freeze)
    for (guint i = 0; i < model->nodes->len; i++)
      {
        MirNode *node = mir_model_get_node (model, i);

        if (g_str_has_prefix (node->name, "head_") || node->layer->n_weights == 0)
          continue;
        node->layer->trainable = FALSE;
        if (node->layer->config != NULL)
          json_object_set_boolean_member (node->layer->config, "trainable", FALSE);
        frozen++;
      }
  if (n_frozen)
    *n_frozen = frozen;
  return g_steal_pointer (&model);
}

