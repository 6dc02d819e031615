/* detect-seed-cnn.h: the seed 002 cats/dogs CNN (conv32-64-128-128 with
 * 3×3 kernels and 2×2 max pooling, dense 512, one sigmoid output) as a
 * Keras config, for the detector's fast-path test and benchmark.
 * @padding1 / @padding2: "valid" (the seed) or "same" for the first two
 * convolutions; @side: input height and width (150 in the seed). */
#pragma once

#include <glib.h>

static inline char *
seed_cnn_config (const char *padding1, const char *padding2, int side)
{
  return g_strdup_printf (
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"seed002\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"name\": \"x\", "
    "\"batch_input_shape\": [null, %d, %d, 3]}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c1\", \"filters\": 32, "
    "\"kernel_size\": [3, 3], \"activation\": \"relu\", \"padding\": \"%s\"}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p1\", \"pool_size\": [2, 2]}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c2\", \"filters\": 64, "
    "\"kernel_size\": [3, 3], \"activation\": \"relu\", \"padding\": \"%s\"}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p2\", \"pool_size\": [2, 2]}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c3\", \"filters\": 128, "
    "\"kernel_size\": [3, 3], \"activation\": \"relu\"}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p3\", \"pool_size\": [2, 2]}},"
    "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"c4\", \"filters\": 128, "
    "\"kernel_size\": [3, 3], \"activation\": \"relu\"}},"
    "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"p4\", \"pool_size\": [2, 2]}},"
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d1\", \"units\": 512, "
    "\"activation\": \"relu\"}},"
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d2\", \"units\": 1, "
    "\"activation\": \"sigmoid\"}}]}}", side, side, padding1, padding2);
}

