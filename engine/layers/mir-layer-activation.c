/* Activation: applies one of the activations of mir-activations.h.
 *
 * layer->activation is the activation itself, so a graph asking for logits
 * (args->linear_output) gets the identity: for a final Activation("softmax")
 * that is the pre-softmax scores. */
#define G_LOG_DOMAIN "mir-layer-activation"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "mir-layers.h"

static gboolean
activation_configure (MirLayer *self, JsonObject *config, GError **error)
{
  const char *name = mir_config_get_string (config, "activation", NULL);

  /* Keras 3 may write {"class_name": ..., "config": {"name": ...}} for a
   * serialised function; the registered name is what we need. */
  if (name == NULL && config != NULL && json_object_has_member (config, "activation"))
    {
      JsonNode *node = json_object_get_member (config, "activation");
      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *obj = json_node_get_object (node);
          JsonObject *inner = NULL;
          if (json_object_has_member (obj, "config") &&
              JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "config")))
            inner = json_object_get_object_member (obj, "config");
          name = mir_config_get_string (inner, "name", NULL);
          if (name == NULL)
            name = mir_config_get_string (obj, "class_name", NULL);
        }
    }
  if (name == NULL)
    name = "linear";
  return mir_activation_from_name (name, self->name, &self->activation, error);
}

static gboolean
activation_infer (MirLayer *self, const MirShape *in, guint n_in, MirShape *out, GError **error)
{
  *out = in[0];
  return TRUE;
}

static gsize
last_dim (const MirTensor *t)
{
  return t->ndim > 0 ? (gsize) t->shape[t->ndim - 1] : 1;
}

static gboolean
activation_forward (MirLayer *self, MirTensor *const *in, guint n_in, MirTensor *out,
                    const MirRunArgs *args, GError **error)
{
  MirActivation act = args->linear_output ? MIR_ACT_LINEAR : self->activation;

  mir_activation_forward (act, in[0]->data, out->data, out->numel, last_dim (out));
  return TRUE;
}

static gboolean
activation_backward (MirLayer *self, MirTensor *const *in, guint n_in, const MirTensor *out,
                     const MirTensor *grad_out, MirTensor **grad_in, MirTensor **grad_w,
                     const MirRunArgs *args, GError **error)
{
  MirActivation act = args->linear_output ? MIR_ACT_LINEAR : self->activation;

  if (grad_in[0] == NULL)
    return TRUE;
  mir_activation_backward (act, in[0]->data, out->data, grad_out->data, grad_in[0]->data,
                           grad_out->numel, last_dim (grad_out));
  if (args->guided_relu)
    mir_activation_guide (act, grad_out->data, grad_in[0]->data, grad_out->numel);
  return TRUE;
}

const MirLayerClass mir_layer_activation_class = {
  .name = "Activation",
  .instance_size = sizeof (MirLayer),
  .flags = MIR_LAYER_FLAG_WRITES_ALL | MIR_LAYER_FLAG_POINTWISE,
  .configure = activation_configure,
  .infer = activation_infer,
  .forward = activation_forward,
  .backward = activation_backward,
};
