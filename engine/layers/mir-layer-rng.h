/* mir-layer-rng.h: a counter-based random source for the stochastic layers
 * (Dropout, GaussianNoise, ...).  Value i of stream @seed is a pure function
 * of (seed, i), so backward regenerates exactly the mask forward used without
 * keeping it, and runs with the same seed are reproducible. */
#pragma once

#include <math.h>
#include <glib.h>

/* SplitMix64's finaliser over seed and counter. */
static inline guint64
mir_rng_u64 (guint64 seed, guint64 i)
{
  guint64 z = seed + (i + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double
mir_rng_uniform (guint64 seed, guint64 i)
{
  return (double) (mir_rng_u64 (seed, i) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller over draws 2i and 2i+1). */
static inline double
mir_rng_normal (guint64 seed, guint64 i)
{
  double u1 = 1.0 - mir_rng_uniform (seed, 2 * i); /* (0, 1] */
  double u2 = mir_rng_uniform (seed, 2 * i + 1);

  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}
