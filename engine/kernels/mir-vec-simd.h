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
#include <immintrin.h>
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
  MIR_VEC_ACT_SIGMOID, /* only from mir_vec_act_kind_all() */
  MIR_VEC_ACT_SWISH,
  /* the same two with the Newton reciprocal in 16-float vectors (where a
   * 512-bit division is slow: Intel's AVX-512 cores); 8-float vectors
   * divide either way */
  MIR_VEC_ACT_SIGMOID_NEWTON,
  MIR_VEC_ACT_SWISH_NEWTON,
};

/* 1 / d for 16-float vectors: seven FMAs (mir_v16_recip12) or a division.
 * Measured, 2^12 values of swish (L1) repeated, AVX-512 code:
 * Intel Xeon: Newton 0.58 ns/value, division 0.77;
 * AMD Zen 4 (512-bit operations on 256-bit units, a separate divider):
 * Newton 0.53-0.59, division 0.36-0.41 (the swish below).
 * So Intel CPUs take Newton, the others divide. */
static inline gboolean
mir_vec_prefer_newton (void)
{
  /* MIRADA_RECIP=newton or =divide: that one on any CPU (the tests run both) */
  const char *force = g_getenv ("MIRADA_RECIP");

  if (force != NULL)
    return strcmp (force, "newton") == 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_cpu_is ("intel");
#else
  return FALSE;
#endif
}

/* The ReLU kinds (kernels whose epilogues only know those). */
static inline int
mir_vec_act_kind (MirActivation act)
{
  return act == MIR_ACT_RELU ? MIR_VEC_ACT_RELU
                             : act == MIR_ACT_RELU6 ? MIR_VEC_ACT_RELU6 : MIR_VEC_ACT_NONE;
}

/* Every kind mir_v8_act() computes. */
static inline int
mir_vec_act_kind_all (MirActivation act)
{
  gboolean newton = (act == MIR_ACT_SIGMOID || act == MIR_ACT_SWISH) && mir_vec_prefer_newton ();

  if (act == MIR_ACT_SIGMOID)
    return newton ? MIR_VEC_ACT_SIGMOID_NEWTON : MIR_VEC_ACT_SIGMOID;
  if (act == MIR_ACT_SWISH)
    return newton ? MIR_VEC_ACT_SWISH_NEWTON : MIR_VEC_ACT_SWISH;
  return mir_vec_act_kind (act);
}

/* Kinds computed through e^x (not in the ReLU-only epilogues). */
static inline gboolean
mir_vec_act_is_exp (int kind)
{
  return kind >= MIR_VEC_ACT_SIGMOID;
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

/* 16-float vectors: one AVX-512 register, used only in the AVX-512 clones
 * (MIR_V16_FN below).  For streaming elementwise kernels and the AVX-512
 * tiles. */
typedef float MirV16 __attribute__ ((vector_size (64)));
typedef gint32 MirV16i __attribute__ ((vector_size (64)));

/* The logistic sigmoid and swish for a vector type (VT, its int vector VIT):
 *
 * e^-|x|: the argument clamped to -87.34 (so 2^n stays a normal float),
 * Cephes' expf reduction and polynomial, a = n ln 2 + r with |r| <= ln 2 / 2;
 * within 2 ulp of expf in that range.  n is rounded with the 1.5 * 2^23
 * trick, so the code is plain vector arithmetic on every target.
 *
 * sigmoid: 1 / (1 + e^-x) from e^-|x| (no overflow); swish divides x (or
 * x e^-|x|) by the same 1 + e^-|x|, one division for both factors.
 *
 * FN gives the functions' attributes: always-inline without a target for
 * 8-float vectors (compiled into each clone through its callers: clang
 * rejects vector arguments across a target mismatch), MIR_V16_FN for
 * 16-float ones. */
#define MIR_DEFINE_VEC_SELECT(FN, SFX, VT, VIT)                                        \
  FN VT                                                                        \
  mir_##SFX##_select (VIT mask, VT b, VT a)                                    \
  {                                                                            \
    return (VT) (((VIT) b & mask) | ((VIT) a & ~mask));                        \
  }                                                                            \
                                                                               \
  /* 1 / d for d in [1, 2]: a linear first guess (relative error <= 1/17)  \
   * and three Newton steps (error 1.5e-10 before rounding): seven FMAs,     \
   * where a division is slower (mir_vec_prefer_newton).  */                \
  FN VT                                                                        \
  mir_##SFX##_recip12 (VT d)                                                   \
  {                                                                            \
    VT r = 1.4117647f - 0.47058824f * d;                                      \
                                                                               \
    MIR_UNROLL for (int i = 0; i < 3; i++)                                     \
      r = r + r * (1.0f - d * r);                                              \
    return r;                                                                  \
  }

#define MIR_DEFINE_VEC_EXP(FN, SFX, VT, VIT)                                           \
  /* e^-|x| for the logistic: x <= 0, so only the lower clamp */            \
  FN VT                                                                        \
  mir_##SFX##_exp_neg_abs (VT x)                                               \
  {                                                                            \
    const VT zero = { 0 };                                                     \
    VT a = zero - (VT) ((VIT) x & 0x7fffffff), t, n, r, p;                     \
    VIT e;                                                                     \
                                                                               \
    a = mir_##SFX##_select (a < -87.33654f, zero - 87.33654f, a);              \
    t = a * 1.44269504088896341f + 12582912.0f;                                \
    n = t - 12582912.0f;                                                       \
    e = ((VIT) t - (0x4B400000 - 127)) << 23;                                  \
    r = a - n * 0.693359375f;                                                  \
    r = r - n * -2.12194440e-4f;                                               \
    p = zero + 1.9875691500e-4f;                                               \
    p = p * r + 1.3981999507e-3f;                                              \
    p = p * r + 8.3334519073e-3f;                                              \
    p = p * r + 4.1665795894e-2f;                                              \
    p = p * r + 1.6666665459e-1f;                                              \
    p = p * r + 5.0000001201e-1f;                                              \
    p = p * (r * r) + r + 1.0f;                                                \
    return p * (VT) e;                                                         \
  }                                                                            \
                                                                               \
  /* sigmoid (swish FALSE) or x sigmoid (x) from e = e^-|x|: num / (1 + e), \
   * num = 1 or e (sigmoid), x or x e (swish) for x >= 0 or < 0; the   \
   * reciprocal by Newton steps where @newton; NaN stays NaN. */             \
  FN VT                                                                        \
  mir_##SFX##_logistic (VT x, gboolean swish, gboolean newton)                 \
  {                                                                            \
    const VT zero = { 0 };                                                     \
    VT e = mir_##SFX##_exp_neg_abs (x);                                        \
    VT one = zero + 1.0f;                                                      \
    VT num = swish ? mir_##SFX##_select (x >= 0.0f, x, x * e)                  \
                   : mir_##SFX##_select (x >= 0.0f, one, e);                   \
    VT s = newton ? num * mir_##SFX##_recip12 (e + one) : num / (e + one);     \
                                                                               \
    return mir_##SFX##_select (x == x, s, x);                                  \
  }

MIR_DEFINE_VEC_SELECT (static inline MIR_ALWAYS_INLINE, v8, MirV8, MirV8i)
MIR_DEFINE_VEC_EXP (static inline MIR_ALWAYS_INLINE, v8, MirV8, MirV8i)

/* Every function taking or returning a MirV16 (these helpers, and the
 * AVX-512 tiles and loops built on them) carries the AVX-512 target: the
 * 16-float code only runs in the AVX-512 clones, and there it can use
 * AVX-512 instructions the vector extensions do not name (vscalefps,
 * masked operations).  A MirV16 never crosses into a function without
 * the target (clang rejects that). */
#if MIR_HAVE_AVX2_CLONES
#define MIR_V16_FN static inline MIR_ALWAYS_INLINE MIR_TARGET_AVX512
#else
#define MIR_V16_FN static inline MIR_ALWAYS_INLINE
#endif

MIR_DEFINE_VEC_SELECT (MIR_V16_FN, v16, MirV16, MirV16i)

#if MIR_HAVE_AVX2_CLONES
/* 2^(j/32), j = 0..31, rounded to float: mir_v16_exp_neg_abs()'s table. */
static const float mir_v16_exp2_table[32] __attribute__ ((aligned (64))) = {
  0x1.000000p+0f, 0x1.059b0ep+0f, 0x1.0b5586p+0f, 0x1.11301ep+0f, 0x1.172b84p+0f, 0x1.1d4874p+0f,
  0x1.2387a6p+0f, 0x1.29e9e0p+0f, 0x1.306fe0p+0f, 0x1.371a74p+0f, 0x1.3dea64p+0f, 0x1.44e086p+0f,
  0x1.4bfdaep+0f, 0x1.5342b6p+0f, 0x1.5ab07ep+0f, 0x1.6247ecp+0f, 0x1.6a09e6p+0f, 0x1.71f75ep+0f,
  0x1.7a1148p+0f, 0x1.82589ap+0f, 0x1.8ace54p+0f, 0x1.93737cp+0f, 0x1.9c4918p+0f, 0x1.a5503cp+0f,
  0x1.ae89fap+0f, 0x1.b7f770p+0f, 0x1.c199bep+0f, 0x1.cb720ep+0f, 0x1.d5818ep+0f, 0x1.dfc974p+0f,
  0x1.ea4afap+0f, 0x1.f50766p+0f,
};

/* e^-|x| for the 16-float logistic, with a table instead of a long
 * polynomial: a = -|x| clamped to -87.34 (one max; max (c, a) gives a
 * when a is NaN, so NaN goes through), n = round (32 a / ln 2) by the
 * 1.5 * 2^23 trick, r = a - n ln 2 / 32 in two steps (|r| <= ln 2 / 64),
 * e^a = 2^floor(n/32) * 2^((n mod 32)/32) * e^r: the table entry picked by
 * vpermt2ps from the low bits of t (which hold n), e^r by a cubic (error
 * r^4/24 <= 6e-10), 2^floor(n/32) by vscalefps.  Within 2 ulp of expf,
 * like the Cephes polynomial of mir_v8_exp_neg_abs(), with 3 fewer
 * instructions on the multiply-add pipes, which bound this loop on Zen 4:
 * swish 4.48 -> 3.8 ns a vector of 16 (Cephes with vscalefps; the 8-float
 * version's exponent-bit 2^n and selects took 5.69). */
MIR_V16_FN MirV16
mir_v16_exp_neg_abs (MirV16 xv)
{
  __m512 a, t, n, r, p, tab;

  a = _mm512_castsi512_ps (
    _mm512_or_si512 (_mm512_castps_si512 ((__m512) xv), _mm512_set1_epi32 ((int) 0x80000000)));
  a = _mm512_maskz_max_ps ((__mmask16) -1, _mm512_set1_ps (-87.33654f), a);
  t = _mm512_fmadd_ps (a, _mm512_set1_ps (0x1.715476p+5f), _mm512_set1_ps (12582912.0f));
  n = _mm512_sub_ps (t, _mm512_set1_ps (12582912.0f));
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (0x1.62e430p-6f), a);
  r = _mm512_fnmadd_ps (n, _mm512_set1_ps (-0x1.05c610p-34f), r);
  p = _mm512_fmadd_ps (_mm512_set1_ps (1.0f / 6.0f), r, _mm512_set1_ps (0.5f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f));
  p = _mm512_fmadd_ps (p, r, _mm512_set1_ps (1.0f));
  tab = _mm512_permutex2var_ps (_mm512_load_ps (mir_v16_exp2_table), _mm512_castps_si512 (t),
                                _mm512_load_ps (mir_v16_exp2_table + 16));
  return (MirV16) _mm512_maskz_scalef_ps ((__mmask16) -1, _mm512_mul_ps (p, tab),
                                          _mm512_mul_ps (n, _mm512_set1_ps (0.03125f)));
}

/* mir_v8_logistic() in 16 floats: x e only in the negative lanes (a
 * masked multiply), no final NaN select (a NaN x makes e NaN). */
MIR_V16_FN MirV16
mir_v16_logistic (MirV16 xv, gboolean swish, gboolean newton)
{
  __m512 x = (__m512) xv, e = (__m512) mir_v16_exp_neg_abs (xv), one = _mm512_set1_ps (1.0f);
  __mmask16 neg = _mm512_cmp_ps_mask (x, _mm512_setzero_ps (), _CMP_LT_OQ);
  __m512 num = swish ? _mm512_mask_mul_ps (x, neg, x, e) : _mm512_mask_blend_ps (neg, one, e);
  __m512 d = _mm512_add_ps (e, one);

  if (newton)
    return (MirV16) num * mir_v16_recip12 ((MirV16) d);
  return (MirV16) _mm512_div_ps (num, d);
}
#else
MIR_DEFINE_VEC_EXP (MIR_V16_FN, v16, MirV16, MirV16i)
#endif

/* ReLU: x > 0 ? x : 0 (NaN -> 0, as mir_activation_forward); ReLU6 also
 * caps at 6; sigmoid and swish as mir-act-vec.c. */
static inline MIR_ALWAYS_INLINE MirV8
mir_v8_act (MirV8 v, int kind)
{
  if (kind == MIR_VEC_ACT_SIGMOID || kind == MIR_VEC_ACT_SIGMOID_NEWTON)
    return mir_v8_logistic (v, FALSE, FALSE);
  if (kind == MIR_VEC_ACT_SWISH || kind == MIR_VEC_ACT_SWISH_NEWTON)
    return mir_v8_logistic (v, TRUE, FALSE);
  if (kind != MIR_VEC_ACT_NONE)
    v = mir_v8_max (v, mir_v8_splat (0.0f));
  if (kind == MIR_VEC_ACT_RELU6)
    v = mir_v8_min (v, mir_v8_splat (6.0f));
  return v;
}

MIR_V16_FN MirV16
mir_v16_load (const float *p)
{
  MirV16 v;

  memcpy (&v, p, sizeof v);
  return v;
}

/* Stores the first MIN (n, 16) lanes. */
MIR_V16_FN void
mir_v16_store_n (float *p, MirV16 v, gint64 n)
{
  if (n >= 16)
    memcpy (p, &v, sizeof v);
  else if (n > 0)
    {
#if MIR_HAVE_AVX2_CLONES
      _mm512_mask_storeu_ps (p, (__mmask16) ((1u << n) - 1), (__m512) v);
#else
      float t[16];

      memcpy (t, &v, sizeof v);
      memcpy (p, t, (gsize) n * sizeof (float));
#endif
    }
}

/* mir_v8_act () on the whole vector: sigmoid and swish with the
 * reciprocal as mir_vec_prefer_newton() says; ReLU x > 0 ? x : 0 (NaN ->
 * 0), ReLU6 then x < 6 ? x : 6.  (The ReLUs went through two 8-float halves
 * on the stack: 0.15-0.26 ns a value in mir_act_vec_forward().) */
MIR_V16_FN MirV16
mir_v16_act (MirV16 v, int kind)
{
  const MirV16 zero = { 0 };

  if (mir_vec_act_is_exp (kind))
    return mir_v16_logistic (v, kind == MIR_VEC_ACT_SWISH || kind == MIR_VEC_ACT_SWISH_NEWTON,
                             kind >= MIR_VEC_ACT_SIGMOID_NEWTON);
  if (kind == MIR_VEC_ACT_NONE)
    return v;
  v = mir_v16_select (v > zero, v, zero);
  if (kind == MIR_VEC_ACT_RELU6)
    v = mir_v16_select (v < zero + 6.0f, v, zero + 6.0f);
  return v;
}

G_END_DECLS
