/* mir-imagenet.h: the 1000 ImageNet-1k class names, compiled into the engine
 * (imagenet/README.md has their provenance and licence).
 *
 * Output i of an ImageNet classifier (the Keras applications, torchvision,
 * ONNX model zoo) is the i-th WordNet id in sorted order; its name is the
 * first name of that id's synset ("tench", "goldfish", …). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MIR_IMAGENET_N_CLASSES 1000

/* The names, NULL-terminated, MIR_IMAGENET_N_CLASSES of them; owned by the
 * engine (read once, thread-safe). */
const char *const *mir_imagenet_class_names (void);
/* The WordNet ids ("n01440764", …) in the same order; owned by the engine. */
const char *const *mir_imagenet_wnids       (void);

G_END_DECLS
