/* mir-vec-simd.h: 8-float vectors (GCC/clang vector extensions) for the
 * hand-blocked kernels (direct and depthwise convolution, pooling), and the
 * AVX2 clones they are compiled into besides the portable version.
 *
 * The kernels are written once as always-inline bodies; a wrapper compiled
 * with MIR_TARGET_AVX2 and a plain one are chosen at run time with
 * mir_cpu_has_avx2(). */
#pragma once

#include <string.h>
#include <glib.h>

#include "mir-activations.h"

G_BEGIN_DECLS

/* The vector helpers are always inlined, so no vector ever crosses a call
 * and the compilers' note that the ABI of 32-byte vector arguments depends on -mavx
 * does not apply (the files including this header compile both ways). */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float MirV8 __attribute__ ((vector_size (32)));
typedef gint32 MirV8i __attribute__ ((vector_size (32)));

#define MIR_ALWAYS_INLINE __attribute__ ((always_inline))
/* Fully unroll the following small constant loop (register blocking). */
#define MIR_UNROLL _Pragma ("GCC unroll 8")

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MIR_HAVE_AVX2_CLONES 1
#define MIR_TARGET_AVX2 __attribute__ ((target ("avx2,fma")))
/* AVX-512VL: the same 8-float vectors with 32 registers instead of 16. */
#define MIR_TARGET_AVX512 __attribute__ ((target ("avx512f,avx512vl,avx2,fma")))
/* MIRADA_PORTABLE_KERNELS set: the portable code even on AVX2 CPUs (the
 * tests run both). */
static inline gboolean
mir_cpu_has_avx2 (void)
{
  return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") &&
         g_getenv ("MIRADA_PORTABLE_KERNELS") == NULL;
}

/* MIRADA_NO_AVX512 set: the AVX2 clones on AVX-512 CPUs too (the tests run
 * all three). */
static inline gboolean
mir_cpu_has_avx512 (void)
{
  return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512vl") &&
         mir_cpu_has_avx2 () && g_getenv ("MIRADA_NO_AVX512") == NULL;
}
#else
#define MIR_HAVE_AVX2_CLONES 0
#endif

/* Activations done in registers. */
enum
{
  MIR_VEC_ACT_NONE,  /* linear, or applied afterwards */
  MIR_VEC_ACT_RELU,
  MIR_VEC_ACT_RELU6,
};

static inline int
mir_vec_act_kind (MirActivation act)
{
  return act == MIR_ACT_RELU ? MIR_VEC_ACT_RELU
                             : act == MIR_ACT_RELU6 ? MIR_VEC_ACT_RELU6 : MIR_VEC_ACT_NONE;
}

static inline MIR_ALWAYS_INLINE MirV8
mir_v8_load (const float *p)
{
  MirV8 v;

  memcpy (&v, p, sizeof v);
  return v;
}

static inline MIR_ALWAYS_INLINE MirV8
mir_v8_splat (float s)
{
  MirV8 v = { s, s, s, s, s, s, s, s };

  return v;
}

static inline MIR_ALWAYS_INLINE void
mir_v8_store (float *p, MirV8 v)
{
  memcpy (p, &v, sizeof v);
}

/* Stores the first MIN (n, 8) lanes. */
static inline MIR_ALWAYS_INLINE void
mir_v8_store_n (float *p, MirV8 v, gint64 n)
{
  if (n >= 8)
    memcpy (p, &v, sizeof v);
  else if (n > 0)
    {
      float t[8];
      memcpy (t, &v, sizeof v);
      memcpy (p, t, (gsize) n * sizeof (float));
    }
}

static inline MIR_ALWAYS_INLINE MirV8
mir_v8_max (MirV8 a, MirV8 b)
{
  MirV8i m = a > b;

  return (MirV8) (((MirV8i) a & m) | ((MirV8i) b & ~m));
}

static inline MIR_ALWAYS_INLINE MirV8
mir_v8_min (MirV8 a, MirV8 b)
{
  MirV8i m = a < b;

  return (MirV8) (((MirV8i) a & m) | ((MirV8i) b & ~m));
}

/* ReLU: x > 0 ? x : 0 (NaN -> 0, as mir_activation_forward); ReLU6 also
 * caps at 6. */
static inline MIR_ALWAYS_INLINE MirV8
mir_v8_act (MirV8 v, int kind)
{
  if (kind != MIR_VEC_ACT_NONE)
    v = mir_v8_max (v, mir_v8_splat (0.0f));
  if (kind == MIR_VEC_ACT_RELU6)
    v = mir_v8_min (v, mir_v8_splat (6.0f));
  return v;
}

G_END_DECLS
