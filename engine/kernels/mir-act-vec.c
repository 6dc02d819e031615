/* Vectorised sigmoid and swish (x · sigmoid(x)), the activations of
 * EfficientNet and the squeeze-and-excitation gates: Cephes' expf
 * polynomial in 8-float vectors (portable and AVX2), a 32-entry table of
 * 2^(j/32) and a cubic in 16-float ones (AVX-512VL; mir-vec-simd.h),
 * picked at run time.  Within a few ulp of the libm versions
 * (tests/test-kernels-fast.c holds the bound on every path). */
#define G_LOG_DOMAIN "mir-act-vec"

#include <string.h>

#include "mir-act-vec.h"
#include "mir-parallel.h"
#include "mir-vec-simd.h"

typedef void (*ActFunc) (MirActivation act, const float *x, float *y, gsize n);

/* 8-float vectors for the portable and AVX2 code, 16 for AVX-512.
 * Measured on the AVX-512 machine, 2^20 values of swish: 0.52 ns/value
 * (AVX-512), 3.1 with 16-float vectors on AVX2 (spilled), so AVX2 keeps 8.
 * The 8-float bodies carry no target attribute (see mir-vec-simd.h), the
 * 16-float ones carry AVX-512's (MIR_V16_FN); the wrappers below pick. */
/* A case of act_body##W's switch: the loop with @kind a constant. */
#define ACT_CASE(W, kind)                                                        \
  case kind:                                                                     \
    act_loop##W (kind, x, y, n);                                                 \
    break;

#define DEFINE_ACT_BODY(FN, W)                                                   \
  FN void                                                                        \
  act_loop##W (int kind, const float *x, float *y, gsize n)                      \
  {                                                                              \
    gsize i = 0;                                                                 \
    MirV##W v;                                                                   \
                                                                                 \
    for (; i + W <= n; i += W)                                                   \
      {                                                                          \
        memcpy (&v, x + i, sizeof v);                                            \
        v = mir_v##W##_act (v, kind);                                            \
        memcpy (y + i, &v, sizeof v);                                            \
      }                                                                          \
    if (i < n) /* the tail through the same vector code */                      \
      {                                                                          \
        float t[W] = { 0 };                                                      \
                                                                                 \
        memcpy (t, x + i, (n - i) * sizeof (float));                             \
        memcpy (&v, t, sizeof v);                                                \
        v = mir_v##W##_act (v, kind);                                            \
        memcpy (t, &v, sizeof v);                                                \
        memcpy (y + i, t, (n - i) * sizeof (float));                             \
      }                                                                          \
  }                                                                              \
                                                                                 \
  /* One loop per kind, the kind a constant inside it: with the kind read   \
   * in the loop, GCC kept every branch and reloaded the constants each     \
   * vector (swish 0.43-0.54 ns a value, ReLU6 0.18-0.28). */                  \
  FN void                                                                        \
  act_body##W (MirActivation act, const float *x, float *y, gsize n)             \
  {                                                                              \
    switch (mir_vec_act_kind_all (act))                                          \
      {                                                                          \
      ACT_CASE (W, MIR_VEC_ACT_RELU)                                             \
      ACT_CASE (W, MIR_VEC_ACT_RELU6)                                            \
      ACT_CASE (W, MIR_VEC_ACT_SIGMOID)                                          \
      ACT_CASE (W, MIR_VEC_ACT_SWISH)                                            \
      ACT_CASE (W, MIR_VEC_ACT_SIGMOID_NEWTON)                                   \
      ACT_CASE (W, MIR_VEC_ACT_SWISH_NEWTON)                                     \
      default:                                                                   \
        act_loop##W (MIR_VEC_ACT_NONE, x, y, n);                                 \
        break;                                                                   \
      }                                                                          \
  }

DEFINE_ACT_BODY (static inline MIR_ALWAYS_INLINE, 8)
DEFINE_ACT_BODY (MIR_V16_FN, 16)

static void
act_portable (MirActivation act, const float *x, float *y, gsize n)
{
  act_body8 (act, x, y, n);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
act_avx2 (MirActivation act, const float *x, float *y, gsize n)
{
  act_body8 (act, x, y, n);
}

MIR_TARGET_AVX512 static void
act_avx512 (MirActivation act, const float *x, float *y, gsize n)
{
  act_body16 (act, x, y, n);
}
#endif

static ActFunc
pick (void)
{
#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    return act_avx512;
  if (mir_cpu_has_avx2 ())
    return act_avx2;
#endif
  return act_portable;
}

gboolean
mir_act_vec_supported (MirActivation act)
{
  return act == MIR_ACT_SIGMOID || act == MIR_ACT_SWISH || act == MIR_ACT_RELU ||
         act == MIR_ACT_RELU6;
}

void
mir_act_vec_forward (MirActivation act, const float *x, float *y, gsize n)
{
  g_return_if_fail (mir_act_vec_supported (act));
  pick () (act, x, y, n);
}

typedef struct
{
  MirActivation act;
  ActFunc fn;
  const float *x;
  float *y;
} Ctx;

#define BLOCK 4096

static void
blocks (gint64 begin, gint64 end, gpointer data)
{
  const Ctx *c = data;
  gsize lo = (gsize) begin * BLOCK, hi = (gsize) end * BLOCK;

  c->fn (c->act, c->x + lo, c->y + lo, hi - lo);
}

void
mir_act_vec_forward_parallel (MirActivation act, const float *x, float *y, gsize n)
{
  Ctx c = { act, pick (), x, y };
  gsize whole = n / BLOCK;

  g_return_if_fail (mir_act_vec_supported (act));
  /* 4096-value blocks (16 KiB: L1-sized), 8 of them a chunk at least */
  mir_parallel_for ((gint64) whole, 8, blocks, &c);
  if (whole * BLOCK < n)
    c.fn (act, x + whole * BLOCK, y + whole * BLOCK, n - whole * BLOCK);
}

/* ReLU / ReLU6 backward: dx = dy where the output y is in (0, 6) (ReLU6) or
 * above 0 (ReLU), else 0, the same rule as mir_activation_backward.  GCC 12
 * at -O2 leaves the plain loop scalar: 14 % of a VGG16 filter-pattern run. */
#define DEFINE_RELU_BACK(FN, W)                                                             \
  FN void                                                                                   \
  relu_back##W (gboolean six, const float *y, const float *dy, float *dx, gsize n)          \
  {                                                                                         \
    const MirV##W zero = { 0 }, cap = zero + 6.0f;                                          \
    gsize i = 0;                                                                            \
                                                                                            \
    for (; i + W <= n; i += W)                                                              \
      {                                                                                     \
        MirV##W yv, g, r;                                                                   \
        MirV##W##i keep;                                                                    \
                                                                                            \
        memcpy (&yv, y + i, sizeof yv);                                                     \
        memcpy (&g, dy + i, sizeof g);                                                      \
        keep = yv > 0.0f;                                                                   \
        if (six)                                                                            \
          keep &= yv < cap;                                                                 \
        r = mir_v##W##_select (keep, g, zero);                                              \
        memcpy (dx + i, &r, sizeof r);                                                      \
      }                                                                                     \
    for (; i < n; i++)                                                                      \
      dx[i] = (y[i] > 0 && (!six || y[i] < 6)) ? dy[i] : 0;                                 \
  }

DEFINE_RELU_BACK (static inline MIR_ALWAYS_INLINE, 8)
DEFINE_RELU_BACK (MIR_V16_FN, 16)

typedef void (*ReluBackFunc) (gboolean six, const float *y, const float *dy, float *dx, gsize n);

static void
relu_back_portable (gboolean six, const float *y, const float *dy, float *dx, gsize n)
{
  relu_back8 (six, y, dy, dx, n);
}

#if MIR_HAVE_AVX2_CLONES
MIR_TARGET_AVX2 static void
relu_back_avx2 (gboolean six, const float *y, const float *dy, float *dx, gsize n)
{
  relu_back8 (six, y, dy, dx, n);
}

MIR_TARGET_AVX512 static void
relu_back_avx512 (gboolean six, const float *y, const float *dy, float *dx, gsize n)
{
  relu_back16 (six, y, dy, dx, n);
}
#endif

typedef struct
{
  ReluBackFunc fn;
  gboolean six;
  const float *y, *dy;
  float *dx;
  gsize n;
} BackCtx;

static void
back_blocks (gint64 begin, gint64 end, gpointer data)
{
  const BackCtx *c = data;
  gsize lo = (gsize) begin * BLOCK, hi = MIN ((gsize) end * BLOCK, c->n);

  c->fn (c->six, c->y + lo, c->dy + lo, c->dx + lo, hi - lo);
}

void
mir_act_vec_relu_backward (gboolean six, const float *y, const float *dy, float *dx, gsize n)
{
  BackCtx c = { relu_back_portable, six, y, dy, dx, n };

#if MIR_HAVE_AVX2_CLONES
  if (mir_cpu_has_avx512 ())
    c.fn = relu_back_avx512;
  else if (mir_cpu_has_avx2 ())
    c.fn = relu_back_avx2;
#endif
  mir_parallel_for ((gint64) ((n + BLOCK - 1) / BLOCK), 16, back_blocks, &c);
}
