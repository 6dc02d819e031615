/* mir-applications.c: Keras applications architectures built in.
 *
 * VGG16, ResNet50, MobileNetV2 (any alpha), Xception and EfficientNetB0 are
 * written out here as Keras 2 Functional configs with exactly the layer names
 * keras.applications gives them (block5_conv3, conv4_block6_out,
 * block_16_project_BN, block14_sepconv2_act, top_activation, ...), built by
 * the same config parser as a loaded .h5 file, so a weights file written by
 * Keras (the official `*_weights_tf_dim_ordering_tf_kernels*.h5`, or any
 * save_weights() of the same architecture) loads onto them by layer name.
 * Layers keras.applications leaves unnamed get Keras' automatic names
 * (Xception's shortcut convolutions conv2d_1 .. conv2d_4 as in the official
 * weights file, "add", "global_average_pooling2d").
 */
#define G_LOG_DOMAIN "mir-applications"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <inttypes.h>
#include <glib/gi18n-lib.h>

#include "mir-applications.h"
#include "mir-keras.h"

typedef struct
{
  GString *s;
  guint n;
  GStringChunk *names; /* generated layer names live here */
} Builder;

/* Appends one layer.  @cfg_fmt: JSON members (without braces) of its config
 * besides "name"; @in2 a second input or NULL. */
static const char *layer (Builder *b, const char *klass, const char *name, const char *in1,
                          const char *in2, const char *cfg_fmt, ...) G_GNUC_PRINTF (6, 7);

static const char *
layer (Builder *b, const char *klass, const char *name, const char *in1, const char *in2,
       const char *cfg_fmt, ...)
{
  va_list ap;

  if (b->n++ > 0)
    g_string_append_c (b->s, ',');
  g_string_append_printf (b->s, "{\"class_name\":\"%s\",\"name\":\"%s\",\"config\":{\"name\":\"%s\"",
                          klass, name, name);
  if (cfg_fmt != NULL && cfg_fmt[0] != '\0')
    {
      g_string_append_c (b->s, ',');
      va_start (ap, cfg_fmt);
      g_string_append_vprintf (b->s, cfg_fmt, ap);
      va_end (ap);
    }
  g_string_append (b->s, "},\"inbound_nodes\":[");
  if (in1 != NULL)
    {
      g_string_append_printf (b->s, "[[\"%s\",0,0,{}]", in1);
      if (in2 != NULL)
        g_string_append_printf (b->s, ",[\"%s\",0,0,{}]", in2);
      g_string_append (b->s, "]");
    }
  g_string_append (b->s, "]}");
  return name;
}

static const char *
nm (Builder *b, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static const char *
nm (Builder *b, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *s = NULL;

  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return g_string_chunk_insert_const (b->names, s);
}

static const char *
conv (Builder *b, const char *name, const char *in, gint64 filters, gint64 k, gint64 stride,
      const char *padding, gboolean bias, const char *act)
{
  return layer (b, "Conv2D", name, in, NULL,
                "\"filters\":%" G_GINT64_FORMAT ",\"kernel_size\":[%" G_GINT64_FORMAT ",%"
                G_GINT64_FORMAT "],\"strides\":[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],"
                "\"padding\":\"%s\",\"use_bias\":%s,\"activation\":\"%s\"",
                filters, k, k, stride, stride, padding, bias ? "true" : "false", act);
}

static const char *
bn (Builder *b, const char *name, const char *in, double eps, double momentum)
{
  return layer (b, "BatchNormalization", name, in, NULL,
                "\"axis\":-1,\"epsilon\":%.17g,\"momentum\":%.17g", eps, momentum);
}

static const char *
act (Builder *b, const char *name, const char *in, const char *a)
{
  return layer (b, "Activation", name, in, NULL, "\"activation\":\"%s\"", a);
}

static const char *
relu6 (Builder *b, const char *name, const char *in)
{
  return layer (b, "ReLU", name, in, NULL, "\"max_value\":6.0");
}

static const char *
pad (Builder *b, const char *name, const char *in, gint64 t, gint64 bo, gint64 l, gint64 r)
{
  return layer (b, "ZeroPadding2D", name, in, NULL,
                "\"padding\":[[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],[%" G_GINT64_FORMAT
                ",%" G_GINT64_FORMAT "]]",
                t, bo, l, r);
}

static const char *
dwconv (Builder *b, const char *name, const char *in, gint64 k, gint64 stride,
        const char *padding)
{
  return layer (b, "DepthwiseConv2D", name, in, NULL,
                "\"kernel_size\":[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],\"strides\":[%"
                G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],\"padding\":\"%s\",\"use_bias\":false,"
                "\"depth_multiplier\":1,\"activation\":\"linear\"",
                k, k, stride, stride, padding);
}

static const char *
sepconv (Builder *b, const char *name, const char *in, gint64 filters)
{
  return layer (b, "SeparableConv2D", name, in, NULL,
                "\"filters\":%" G_GINT64_FORMAT ",\"kernel_size\":[3,3],\"strides\":[1,1],"
                "\"padding\":\"same\",\"use_bias\":false,\"depth_multiplier\":1,"
                "\"activation\":\"linear\"",
                filters);
}

static const char *
maxpool (Builder *b, const char *name, const char *in, gint64 k, gint64 s, const char *padding)
{
  return layer (b, "MaxPooling2D", name, in, NULL,
                "\"pool_size\":[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],\"strides\":[%"
                G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],\"padding\":\"%s\"",
                k, k, s, s, padding);
}

static const char *
add2 (Builder *b, const char *name, const char *a, const char *c)
{
  return layer (b, "Add", name, a, c, NULL);
}

static const char *
dense (Builder *b, const char *name, const char *in, gint64 units, const char *a)
{
  return layer (b, "Dense", name, in, NULL,
                "\"units\":%" G_GINT64_FORMAT ",\"activation\":\"%s\",\"use_bias\":true",
                units, a);
}

/* keras.applications' imagenet_utils.correct_pad for a kernel @k on size @h x @w. */
static void
correct_pad (gint64 h, gint64 w, gint64 k, gint64 p[4])
{
  gint64 c = k / 2;

  p[0] = c - (1 - h % 2);
  p[1] = c;
  p[2] = c - (1 - w % 2);
  p[3] = c;
}

static gint64
make_divisible (double v, gint64 divisor)
{
  gint64 nv = MAX (divisor, (gint64) (v + divisor / 2.0) / divisor * divisor);

  if (nv < 0.9 * v)
    nv += divisor;
  return nv;
}

/* ------------------------------------------------------------------ */

static const char *
build_vgg16 (Builder *b, const char *x, const MirApplicationOptions *o)
{
  static const gint64 filters[5] = { 64, 128, 256, 512, 512 };
  static const int convs[5] = { 2, 2, 3, 3, 3 };

  for (int blk = 0; blk < 5; blk++)
    {
      for (int c = 0; c < convs[blk]; c++)
        x = conv (b, nm (b, "block%d_conv%d", blk + 1, c + 1), x, filters[blk], 3, 1, "same", TRUE,
                  "relu");
      x = maxpool (b, nm (b, "block%d_pool", blk + 1), x, 2, 2, "valid");
    }
  if (o->include_top)
    {
      x = layer (b, "Flatten", "flatten", x, NULL, NULL);
      x = dense (b, "fc1", x, 4096, "relu");
      x = dense (b, "fc2", x, 4096, "relu");
      x = dense (b, "predictions", x, o->classes, "softmax");
    }
  return x;
}

static const char *
resnet_block (Builder *b, const char *x, gint64 filters, gint64 stride, gboolean conv_shortcut,
              const char *name)
{
  const char *shortcut = x;
  const double eps = 1.001e-5;

  if (conv_shortcut)
    {
      shortcut = conv (b, nm (b, "%s_0_conv", name), x, 4 * filters, 1, stride, "valid", TRUE, "linear");
      shortcut = bn (b, nm (b, "%s_0_bn", name), shortcut, eps, 0.99);
    }
  x = conv (b, nm (b, "%s_1_conv", name), x, filters, 1, stride, "valid", TRUE, "linear");
  x = bn (b, nm (b, "%s_1_bn", name), x, eps, 0.99);
  x = act (b, nm (b, "%s_1_relu", name), x, "relu");
  x = conv (b, nm (b, "%s_2_conv", name), x, filters, 3, 1, "same", TRUE, "linear");
  x = bn (b, nm (b, "%s_2_bn", name), x, eps, 0.99);
  x = act (b, nm (b, "%s_2_relu", name), x, "relu");
  x = conv (b, nm (b, "%s_3_conv", name), x, 4 * filters, 1, 1, "valid", TRUE, "linear");
  x = bn (b, nm (b, "%s_3_bn", name), x, eps, 0.99);
  x = add2 (b, nm (b, "%s_add", name), shortcut, x);
  return act (b, nm (b, "%s_out", name), x, "relu");
}

static const char *
build_resnet50 (Builder *b, const char *x, const MirApplicationOptions *o)
{
  static const gint64 filters[4] = { 64, 128, 256, 512 };
  static const int blocks[4] = { 3, 4, 6, 3 };

  x = pad (b, "conv1_pad", x, 3, 3, 3, 3);
  x = conv (b, "conv1_conv", x, 64, 7, 2, "valid", TRUE, "linear");
  x = bn (b, "conv1_bn", x, 1.001e-5, 0.99);
  x = act (b, "conv1_relu", x, "relu");
  x = pad (b, "pool1_pad", x, 1, 1, 1, 1);
  x = maxpool (b, "pool1_pool", x, 3, 2, "valid");
  for (int s = 0; s < 4; s++)
    for (int i = 1; i <= blocks[s]; i++)
      x = resnet_block (b, x, filters[s], i == 1 ? (s == 0 ? 1 : 2) : 1, i == 1,
                        nm (b, "conv%d_block%d", s + 2, i));
  if (o->include_top)
    {
      x = layer (b, "GlobalAveragePooling2D", "avg_pool", x, NULL, NULL);
      x = dense (b, "predictions", x, o->classes, "softmax");
    }
  return x;
}

static const char *
build_mobilenet_v2 (Builder *b, const char *x, const MirApplicationOptions *o)
{
  static const struct { gint64 filters, stride, expansion; } blocks[17] = {
    { 16, 1, 1 }, { 24, 2, 6 }, { 24, 1, 6 }, { 32, 2, 6 }, { 32, 1, 6 }, { 32, 1, 6 },
    { 64, 2, 6 }, { 64, 1, 6 }, { 64, 1, 6 }, { 64, 1, 6 }, { 96, 1, 6 }, { 96, 1, 6 },
    { 96, 1, 6 }, { 160, 2, 6 }, { 160, 1, 6 }, { 160, 1, 6 }, { 320, 1, 6 },
  };
  double alpha = o->alpha;
  gint64 h = o->size, w = o->size;
  gint64 c = make_divisible (32 * alpha, 8);
  gint64 last = alpha > 1.0 ? make_divisible (1280 * alpha, 8) : 1280;

  x = conv (b, "Conv1", x, c, 3, 2, "same", FALSE, "linear");
  h = (h + 1) / 2;
  w = (w + 1) / 2;
  x = bn (b, "bn_Conv1", x, 1e-3, 0.999);
  x = relu6 (b, "Conv1_relu", x);
  for (int id = 0; id < 17; id++)
    {
      const char *in = x;
      gint64 pw = make_divisible ((gint64) (blocks[id].filters * alpha), 8);
      const char *prefix = id ? nm (b, "block_%d_", id) : "expanded_conv_";

      if (id)
        {
          x = conv (b, nm (b, "%sexpand", prefix), x, blocks[id].expansion * c, 1, 1, "same", FALSE,
                    "linear");
          x = bn (b, nm (b, "%sexpand_BN", prefix), x, 1e-3, 0.999);
          x = relu6 (b, nm (b, "%sexpand_relu", prefix), x);
        }
      if (blocks[id].stride == 2)
        {
          gint64 p[4];
          correct_pad (h, w, 3, p);
          x = pad (b, nm (b, "%spad", prefix), x, p[0], p[1], p[2], p[3]);
          h = (h + p[0] + p[1] - 3) / 2 + 1;
          w = (w + p[2] + p[3] - 3) / 2 + 1;
        }
      x = dwconv (b, nm (b, "%sdepthwise", prefix), x, 3, blocks[id].stride,
                  blocks[id].stride == 1 ? "same" : "valid");
      x = bn (b, nm (b, "%sdepthwise_BN", prefix), x, 1e-3, 0.999);
      x = relu6 (b, nm (b, "%sdepthwise_relu", prefix), x);
      x = conv (b, nm (b, "%sproject", prefix), x, pw, 1, 1, "same", FALSE, "linear");
      x = bn (b, nm (b, "%sproject_BN", prefix), x, 1e-3, 0.999);
      if (c == pw && blocks[id].stride == 1)
        x = add2 (b, nm (b, "%sadd", prefix), in, x);
      c = pw;
    }
  x = conv (b, "Conv_1", x, last, 1, 1, "valid", FALSE, "linear");
  x = bn (b, "Conv_1_bn", x, 1e-3, 0.999);
  x = relu6 (b, "out_relu", x);
  if (o->include_top)
    {
      x = layer (b, "GlobalAveragePooling2D", "global_average_pooling2d", x, NULL, NULL);
      x = dense (b, "predictions", x, o->classes, "softmax");
    }
  return x;
}

static const char *
build_xception (Builder *b, const char *x, const MirApplicationOptions *o)
{
  static const gint64 entry[3] = { 128, 256, 728 };
  const char *res;
  guint n_short = 0, n_add = 0;

  x = conv (b, "block1_conv1", x, 32, 3, 2, "valid", FALSE, "linear");
  x = bn (b, "block1_conv1_bn", x, 1e-3, 0.99);
  x = act (b, "block1_conv1_act", x, "relu");
  x = conv (b, "block1_conv2", x, 64, 3, 1, "valid", FALSE, "linear");
  x = bn (b, "block1_conv2_bn", x, 1e-3, 0.99);
  x = act (b, "block1_conv2_act", x, "relu");

  for (int i = 0; i < 3; i++)
    {
      int blk = i + 2;

      n_short++;
      res = conv (b, nm (b, "conv2d_%u", n_short), x, entry[i], 1, 2, "same", FALSE, "linear");
      res = bn (b, nm (b, "batch_normalization_%u", n_short), res, 1e-3, 0.99);
      if (blk > 2)
        x = act (b, nm (b, "block%d_sepconv1_act", blk), x, "relu");
      x = sepconv (b, nm (b, "block%d_sepconv1", blk), x, entry[i]);
      x = bn (b, nm (b, "block%d_sepconv1_bn", blk), x, 1e-3, 0.99);
      x = act (b, nm (b, "block%d_sepconv2_act", blk), x, "relu");
      x = sepconv (b, nm (b, "block%d_sepconv2", blk), x, entry[i]);
      x = bn (b, nm (b, "block%d_sepconv2_bn", blk), x, 1e-3, 0.99);
      x = maxpool (b, nm (b, "block%d_pool", blk), x, 3, 2, "same");
      x = add2 (b, n_add++ ? nm (b, "add_%u", n_add - 1) : "add", x, res);
    }
  for (int i = 0; i < 8; i++)
    {
      int blk = i + 5;
      res = x;
      for (int j = 1; j <= 3; j++)
        {
          x = act (b, nm (b, "block%d_sepconv%d_act", blk, j), x, "relu");
          x = sepconv (b, nm (b, "block%d_sepconv%d", blk, j), x, 728);
          x = bn (b, nm (b, "block%d_sepconv%d_bn", blk, j), x, 1e-3, 0.99);
        }
      x = add2 (b, nm (b, "add_%u", n_add++), x, res);
    }
  n_short++;
  res = conv (b, nm (b, "conv2d_%u", n_short), x, 1024, 1, 2, "same", FALSE, "linear");
  res = bn (b, nm (b, "batch_normalization_%u", n_short), res, 1e-3, 0.99);
  x = act (b, "block13_sepconv1_act", x, "relu");
  x = sepconv (b, "block13_sepconv1", x, 728);
  x = bn (b, "block13_sepconv1_bn", x, 1e-3, 0.99);
  x = act (b, "block13_sepconv2_act", x, "relu");
  x = sepconv (b, "block13_sepconv2", x, 1024);
  x = bn (b, "block13_sepconv2_bn", x, 1e-3, 0.99);
  x = maxpool (b, "block13_pool", x, 3, 2, "same");
  x = add2 (b, nm (b, "add_%u", n_add++), x, res);

  x = sepconv (b, "block14_sepconv1", x, 1536);
  x = bn (b, "block14_sepconv1_bn", x, 1e-3, 0.99);
  x = act (b, "block14_sepconv1_act", x, "relu");
  x = sepconv (b, "block14_sepconv2", x, 2048);
  x = bn (b, "block14_sepconv2_bn", x, 1e-3, 0.99);
  x = act (b, "block14_sepconv2_act", x, "relu");
  if (o->include_top)
    {
      x = layer (b, "GlobalAveragePooling2D", "avg_pool", x, NULL, NULL);
      x = dense (b, "predictions", x, o->classes, "softmax");
    }
  return x;
}

static const char *
build_efficientnet_b0 (Builder *b, const char *x, const MirApplicationOptions *o)
{
  static const struct { gint64 k, repeats, fin, fout, expand, stride; } args[7] = {
    { 3, 1, 32, 16, 1, 1 }, { 3, 2, 16, 24, 6, 2 }, { 5, 2, 24, 40, 6, 2 },
    { 3, 3, 40, 80, 6, 2 }, { 5, 3, 80, 112, 6, 1 }, { 5, 4, 112, 192, 6, 2 },
    { 3, 1, 192, 320, 6, 1 },
  };
  /* ImageNet statistics Keras' EfficientNet normalises with. */
  const double stddev[3] = { 0.229 * 0.229, 0.224 * 0.224, 0.225 * 0.225 };
  gint64 h = o->size, w = o->size, p[4];
  double total = 16, drop_connect = 0.2;
  int bidx = 0;

  x = layer (b, "Rescaling", "rescaling", x, NULL, "\"scale\":%.17g,\"offset\":0.0", 1.0 / 255.0);
  x = layer (b, "Normalization", "normalization", x, NULL, "\"axis\":-1");
  if (o->weights != NULL)
    x = layer (b, "Rescaling", "rescaling_1", x, NULL,
               "\"scale\":[%.17g,%.17g,%.17g],\"offset\":0.0", 1 / sqrt (stddev[0]),
               1 / sqrt (stddev[1]), 1 / sqrt (stddev[2]));
  correct_pad (h, w, 3, p);
  x = pad (b, "stem_conv_pad", x, p[0], p[1], p[2], p[3]);
  h = (h + p[0] + p[1] - 3) / 2 + 1;
  w = (w + p[2] + p[3] - 3) / 2 + 1;
  x = conv (b, "stem_conv", x, 32, 3, 2, "valid", FALSE, "linear");
  x = bn (b, "stem_bn", x, 1e-3, 0.99);
  x = act (b, "stem_activation", x, "swish");

  for (int i = 0; i < 7; i++)
    for (int j = 0; j < args[i].repeats; j++, bidx++)
      {
        const char *in = x, *se;
        const char *name = nm (b, "block%d%c_", i + 1, 'a' + j);
        gint64 fin = j > 0 ? args[i].fout : args[i].fin;
        gint64 stride = j > 0 ? 1 : args[i].stride;
        gint64 filters = fin * args[i].expand;
        gint64 k = args[i].k;
        gint64 fse = MAX (1, (gint64) (fin * 0.25));
        double rate = drop_connect * bidx / total;

        if (args[i].expand != 1)
          {
            x = conv (b, nm (b, "%sexpand_conv", name), x, filters, 1, 1, "same", FALSE, "linear");
            x = bn (b, nm (b, "%sexpand_bn", name), x, 1e-3, 0.99);
            x = act (b, nm (b, "%sexpand_activation", name), x, "swish");
          }
        if (stride == 2)
          {
            correct_pad (h, w, k, p);
            x = pad (b, nm (b, "%sdwconv_pad", name), x, p[0], p[1], p[2], p[3]);
            h = (h + p[0] + p[1] - k) / 2 + 1;
            w = (w + p[2] + p[3] - k) / 2 + 1;
          }
        x = dwconv (b, nm (b, "%sdwconv", name), x, k, stride, stride == 2 ? "valid" : "same");
        x = bn (b, nm (b, "%sbn", name), x, 1e-3, 0.99);
        x = act (b, nm (b, "%sactivation", name), x, "swish");
        se = layer (b, "GlobalAveragePooling2D", nm (b, "%sse_squeeze", name), x, NULL, NULL);
        se = layer (b, "Reshape", nm (b, "%sse_reshape", name), se, NULL,
                    "\"target_shape\":[1,1,%" G_GINT64_FORMAT "]", filters);
        se = conv (b, nm (b, "%sse_reduce", name), se, fse, 1, 1, "same", TRUE, "swish");
        se = conv (b, nm (b, "%sse_expand", name), se, filters, 1, 1, "same", TRUE, "sigmoid");
        x = layer (b, "Multiply", nm (b, "%sse_excite", name), x, se, NULL);
        x = conv (b, nm (b, "%sproject_conv", name), x, args[i].fout, 1, 1, "same", FALSE, "linear");
        x = bn (b, nm (b, "%sproject_bn", name), x, 1e-3, 0.99);
        if (stride == 1 && fin == args[i].fout)
          {
            if (rate > 0)
              x = layer (b, "Dropout", nm (b, "%sdrop", name), x, NULL, "\"rate\":%.17g", rate);
            x = add2 (b, nm (b, "%sadd", name), x, in);
          }
      }
  x = conv (b, "top_conv", x, 1280, 1, 1, "same", FALSE, "linear");
  x = bn (b, "top_bn", x, 1e-3, 0.99);
  x = act (b, "top_activation", x, "swish");
  if (o->include_top)
    {
      x = layer (b, "GlobalAveragePooling2D", "avg_pool", x, NULL, NULL);
      x = layer (b, "Dropout", "top_dropout", x, NULL, "\"rate\":0.2");
      x = dense (b, "predictions", x, o->classes, "softmax");
    }
  return x;
}

typedef const char *(*BuildFunc) (Builder *b, const char *x, const MirApplicationOptions *o);

static const struct
{
  const char *name;
  const char *keras_name;
  BuildFunc build;
  gint64 default_size;
  gint64 min_size;
  MirPreprocessMode preprocess;
} archs[] = {
  { "vgg16", "vgg16", build_vgg16, 224, 32, MIR_PREPROCESS_CAFFE },
  { "resnet50", "resnet50", build_resnet50, 224, 32, MIR_PREPROCESS_CAFFE },
  { "mobilenetv2", "mobilenetv2_1.00_224", build_mobilenet_v2, 224, 32, MIR_PREPROCESS_TF },
  { "xception", "xception", build_xception, 299, 71, MIR_PREPROCESS_TF },
  { "efficientnetb0", "efficientnetb0", build_efficientnet_b0, 224, 32, MIR_PREPROCESS_NONE },
};

/* "MobileNet_V2" -> "mobilenetv2" */
static char *
normalise (const char *arch)
{
  GString *k = g_string_new (NULL);

  for (const char *p = arch; *p; p++)
    if (*p != '_' && *p != '-')
      g_string_append_c (k, g_ascii_tolower (*p));
  return g_string_free (k, FALSE);
}

const char *const *
mir_application_list (void)
{
  static const char *const list[] = { "vgg16", "resnet50", "mobilenetv2", "xception",
                                      "efficientnetb0", NULL };
  return list;
}

void
mir_application_options_init (MirApplicationOptions *o)
{
  memset (o, 0, sizeof *o);
  o->include_top = TRUE;
  o->alpha = 1.0;
  o->classes = 1000;
}

char *
mir_application_config (const char *arch, const MirApplicationOptions *options, GError **error)
{
  MirApplicationOptions o = *options;
  g_autofree char *key = normalise (arch);
  g_autoptr(GString) s = NULL;
  Builder b;
  const char *out;
  int idx = -1;

  for (gsize i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_strcmp0 (key, archs[i].name) == 0)
      idx = (int) i;
  if (idx < 0)
    {
      g_autofree char *known = g_strjoinv (", ", (char **) mir_application_list ());
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Unknown architecture '%s'; Mirada builds %s"), arch, known);
      return NULL;
    }
  if (o.size == 0)
    o.size = archs[idx].default_size;
  if (o.size < archs[idx].min_size || o.size > 4096)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Input size %" PRId64 " is out of range for %s (%" PRId64
                     " to 4096)"),
                   o.size, archs[idx].name, archs[idx].min_size);
      return NULL;
    }
  if (o.alpha <= 0 || o.alpha > 4 || (o.alpha != 1.0 && idx != 2))
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("The width multiplier alpha (%g) applies to MobileNetV2 only, between 0 "
                     "and 4"),
                   o.alpha);
      return NULL;
    }
  if (o.classes < 1 || o.classes > 1000000)
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID, _("The number of classes must be positive"));
      return NULL;
    }
  if (o.include_top && idx == 0 && o.size != archs[idx].default_size)
    {
      /* VGG16's Flatten + fc1 fixes the input size. */
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("%s with its classifier top takes %" PRId64 "x%" PRId64
                     " images; use --no-top for another size"),
                   archs[idx].name, archs[idx].default_size, archs[idx].default_size);
      return NULL;
    }

  s = g_string_new (NULL);
  b.s = s;
  b.n = 0;
  b.names = g_string_chunk_new (4096);
  {
    g_autofree char *mname = NULL;

    if (idx == 2)
      mname = g_strdup_printf ("mobilenetv2_%.2f_%" G_GINT64_FORMAT, o.alpha, o.size);
    else
      mname = g_strdup (archs[idx].keras_name);
    g_string_append_printf (s, "{\"class_name\":\"Functional\",\"config\":{\"name\":\"%s\","
                            "\"layers\":[", mname);
  }
  layer (&b, "InputLayer", "input_1", NULL, NULL,
         "\"batch_input_shape\":[null,%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",3],"
         "\"dtype\":\"float32\"",
         o.size, o.size);
  out = archs[idx].build (&b, "input_1", &o);
  g_string_append_printf (s, "],\"input_layers\":[[\"input_1\",0,0]],"
                          "\"output_layers\":[[\"%s\",0,0]]}}", out);
  g_string_chunk_free (b.names);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

MirModel *
mir_application_new (const char *arch, const MirApplicationOptions *options, GError **error)
{
  g_autofree char *json = mir_application_config (arch, options, error);
  g_autoptr(MirModel) model = NULL;
  g_autofree char *key = normalise (arch);

  if (json == NULL)
    return NULL;
  model = mir_keras_model_from_config (json, -1, error);
  if (model == NULL)
    return NULL;
  model->format = g_strdup_printf (_("Keras application %s (built in)"), key);
  if (options->weights != NULL && !mir_keras_load_weights_h5 (model, options->weights, error))
    return NULL;
  if (!mir_model_finish (model, options->weights == NULL, options->seed, error))
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_strcmp0 (key, archs[i].name) == 0)
      {
        model->meta.preprocess = archs[i].preprocess;
        model->meta.preprocess_from = MIR_PREPROCESS_FROM_FORMAT;
      }
  model->meta.resize = MIR_RESIZE_BILINEAR;
  return g_steal_pointer (&model);
}

/* "arch:vgg16", "arch:mobilenetv2,alpha=0.5,size=160,notop,weights=/x.h5" */
MirModel *
mir_application_new_from_spec (const char *spec, GError **error)
{
  MirApplicationOptions o;
  g_auto(GStrv) parts = NULL;
  g_autofree char *weights = NULL;

  mir_application_options_init (&o);
  if (g_str_has_prefix (spec, "arch:"))
    spec += 5;
  parts = g_strsplit (spec, ",", -1);
  if (parts[0] == NULL || parts[0][0] == '\0')
    {
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("'arch:' needs an architecture name, for example arch:vgg16"));
      return NULL;
    }
  for (guint i = 1; parts[i] != NULL; i++)
    {
      const char *p = parts[i];
      char *end = NULL;

      if (g_strcmp0 (p, "notop") == 0 || g_strcmp0 (p, "no-top") == 0)
        o.include_top = FALSE;
      else if (g_str_has_prefix (p, "size="))
        {
          o.size = g_ascii_strtoll (p + 5, &end, 10);
          if (end == p + 5 || *end != '\0')
            goto bad;
        }
      else if (g_str_has_prefix (p, "alpha="))
        {
          o.alpha = g_ascii_strtod (p + 6, &end);
          if (end == p + 6 || *end != '\0')
            goto bad;
        }
      else if (g_str_has_prefix (p, "classes="))
        {
          o.classes = g_ascii_strtoll (p + 8, &end, 10);
          if (end == p + 8 || *end != '\0')
            goto bad;
        }
      else if (g_str_has_prefix (p, "weights="))
        {
          g_free (weights);
          weights = g_strdup (p + 8);
        }
      else
        goto bad;
      continue;
bad:
      g_set_error (error, MIR_ERROR, MIR_ERROR_INVALID,
                   _("Cannot read the architecture option '%s' (expected notop, size=N, "
                     "alpha=A, classes=N or weights=FILE)"),
                   p);
      return NULL;
    }
  o.weights = weights;
  return mir_application_new (parts[0], &o, error);
}
