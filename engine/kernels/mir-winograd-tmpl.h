/* mir-winograd-tmpl.h: the F(4x4, 3x3) tile transforms, written once over a
 * vector type and included by mir-winograd.c for each instruction set.
 * Before including, define WT_SUFFIX, WT_ATTR (target attribute or empty),
 * WT_V (float vector type), WT_VI (int vector of the same width), WT_W
 * (lanes), WT_MR (tiles a GEMM micro-kernel call, 1 to 12) and WT_NC
 * (filters a call: NR or a divisor of it, a multiple of WT_W); this file
 * undefines them.  Channels are the vector lanes (NHWC
 * keeps them contiguous). */

#define WT_CAT2(a, b) a##_##b
#define WT_CAT(a, b) WT_CAT2 (a, b)
#define WT_FN(name) WT_CAT (name, WT_SUFFIX)

static inline WT_ATTR MIR_ALWAYS_INLINE WT_V
WT_FN (wt_load) (const float *p, gint64 n)
{
  WT_V v = { 0 };

  if (n >= WT_W)
    memcpy (&v, p, sizeof v);
  else
    memcpy (&v, p, (gsize) n * sizeof (float));
  return v;
}

static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (wt_store) (float *p, WT_V v, gint64 n)
{
  if (n >= WT_W)
    memcpy (p, &v, sizeof v);
  else
    memcpy (p, &v, (gsize) n * sizeof (float));
}

/* ReLU (NaN -> 0, as mir_activation_forward) and ReLU6 in registers. */
static inline WT_ATTR MIR_ALWAYS_INLINE WT_V
WT_FN (wt_act) (WT_V v, int kind)
{
  WT_V zero = { 0 }, six = zero + 6.0f;
  WT_VI m;

  if (kind == MIR_VEC_ACT_NONE)
    return v;
  m = v > zero;
  v = (WT_V) ((WT_VI) v & m);
  if (kind == MIR_VEC_ACT_RELU6)
    {
      m = v < six;
      v = (WT_V) (((WT_VI) v & m) | ((WT_VI) six & ~m));
    }
  return v;
}

/* B^T applied to a column (or row) of 6: d0..d5 -> r0..r5. */
static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (wt_bt6) (const WT_V *d, WT_V *r)
{
  WT_V a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];
  WT_V e = d[4] - d[2], h = 2.0f * (d[3] - d[1]);

  r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  r[1] = a + b;
  r[2] = a - b;
  r[3] = e + h;
  r[4] = e - h;
  r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* A^T applied to a column (or row) of 6: m0..m5 -> s0..s3. */
static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (wt_at6) (const WT_V *m, WT_V *s)
{
  WT_V p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], t = m[3] - m[4];

  s[0] = m[0] + p + r;
  s[1] = q + 2.0f * t;
  s[2] = p + 4.0f * r;
  s[3] = q + 8.0f * t + m[5];
}

/* One vector of channels k .. k + nk of a tile: V[p] = (B^T d B)[p] at
 * @vt + p * @vstride.  Inlined with a constant @full (nk >= WT_W). */
static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (input_vec) (const float *const *d, gint64 k, gint64 nk, float *vt, gsize vstride,
                   const gboolean full)
{
  WT_V tt[TI][TI];

  MIR_UNROLL for (int j = 0; j < TI; j++)
    {
      WT_V col[TI], r[TI];

      MIR_UNROLL for (int i = 0; i < TI; i++)
        col[i] = WT_FN (wt_load) (d[i * TI + j] + k, full ? WT_W : nk);
      WT_FN (wt_bt6) (col, r);
      MIR_UNROLL for (int i = 0; i < TI; i++)
        tt[i][j] = r[i];
    }
  MIR_UNROLL for (int i = 0; i < TI; i++)
    {
      WT_V r[TI];

      WT_FN (wt_bt6) (tt[i], r);
      MIR_UNROLL for (int j = 0; j < TI; j++)
        WT_FN (wt_store) (vt + (gsize) (i * TI + j) * vstride + (gsize) k, r[j],
                          full ? WT_W : nk);
    }
}

/* V[p][t][0..c) = (B^T d B)[p] for the tiles t0 .. t0 + nt. */
static WT_ATTR void
WT_FN (input_block) (const Ctx *c, gint64 t0, gint64 nt, float *v)
{
  gint64 cc = c->g->c;
  gsize vstride = plane_floats (nt, cc);

  for (gint64 t = 0; t < nt; t++)
    {
      const float *d[NP];
      float *vt = v + (gsize) (t * cc);
      gint64 k = 0;

      tile_pointers (c, t0 + t, d, NULL, 0);
      for (; k + WT_W <= cc; k += WT_W)
        WT_FN (input_vec) (d, k, WT_W, vt, vstride, TRUE);
      if (k < cc)
        WT_FN (input_vec) (d, k, cc - k, vt, vstride, FALSE);
    }
}

#define WT_NV (WT_NC / WT_W)

/* x in every lane (x - +0 is exactly x, so this compiles to a broadcast;
 * a lane-by-lane fill does not on every target). */
static inline WT_ATTR MIR_ALWAYS_INLINE WT_V
WT_FN (wt_splat) (float x)
{
  return x - (WT_V) { 0 };
}

/* M[0..mr)[0..nv WT_W) (+)= A[0..mr)[0..kc) U[0..kc)[0..nv WT_W), A's rows
 * @lda apart, U (part of) a packed panel (NR floats a row), M's rows @ldm
 * apart: mr x nv accumulators in registers, one U row loaded and mr A
 * values broadcast per step of k.  Inlined with constant @mr and @nv (nv
 * below WT_NV: the last panel's filters end early). */
static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (wt_micro) (const int mr, const int nv, gint64 kc, const float *a, gint64 lda,
                  const float *u, float *m, gint64 ldm, gboolean add)
{
  WT_V acc[WT_MR][WT_NV];

  _Pragma ("GCC unroll 12") for (int r = 0; r < mr; r++)
    _Pragma ("GCC unroll 4") for (int j = 0; j < nv; j++)
      acc[r][j] = (WT_V) { 0 };
  for (gint64 k = 0; k < kc; k++, u += NR)
    {
      WT_V b[WT_NV];

      /* the panel streams from memory for the first tiles */
      __builtin_prefetch (u + 16 * NR);
#if WT_NC > 16
      __builtin_prefetch (u + 16 * NR + 16);
#endif
      _Pragma ("GCC unroll 4") for (int j = 0; j < nv; j++)
        memcpy (&b[j], u + j * WT_W, sizeof b[j]);
      _Pragma ("GCC unroll 12") for (int r = 0; r < mr; r++)
        {
          WT_V av = WT_FN (wt_splat) (a[(gsize) r * (gsize) lda + (gsize) k]);

          _Pragma ("GCC unroll 4") for (int j = 0; j < nv; j++)
            acc[r][j] += av * b[j];
        }
    }
  _Pragma ("GCC unroll 12") for (int r = 0; r < mr; r++)
    _Pragma ("GCC unroll 4") for (int j = 0; j < nv; j++)
      {
        float *mo = m + (gsize) r * (gsize) ldm + (gsize) (j * WT_W);

        if (add)
          {
            WT_V old;

            memcpy (&old, mo, sizeof old);
            acc[r][j] += old;
          }
        memcpy (mo, &acc[r][j], sizeof acc[r][j]);
      }
}

/* wt_micro() for @mr rows (1 .. WT_MR) and all WT_NV vectors of columns
 * or (@half) the first, each count its own inlined copy. */
static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (wt_micro_rows) (int mr, gboolean half, gint64 kc, const float *a, gint64 lda,
                       const float *u, float *m, gint64 ldm, gboolean add)
{
  switch (mr * 2 + (half && WT_NV > 1))
    {
#define WT_CASE(n) \
  case 2 * n: \
    WT_FN (wt_micro) (n, WT_NV, kc, a, lda, u, m, ldm, add); \
    break; \
  case 2 * n + 1: \
    WT_FN (wt_micro) (n, 1, kc, a, lda, u, m, ldm, add); \
    break;
      WT_CASE (1)
#if WT_MR >= 2
      WT_CASE (2)
#endif
#if WT_MR >= 3
      WT_CASE (3)
#endif
#if WT_MR >= 4
      WT_CASE (4)
#endif
#if WT_MR >= 5
      WT_CASE (5)
#endif
#if WT_MR >= 6
      WT_CASE (6)
#endif
#if WT_MR >= 7
      WT_CASE (7)
#endif
#if WT_MR >= 8
      WT_CASE (8)
#endif
#if WT_MR >= 9
      WT_CASE (9)
#endif
#if WT_MR >= 10
      WT_CASE (10)
#endif
#if WT_MR >= 11
      WT_CASE (11)
#endif
#if WT_MR >= 12
      WT_CASE (12)
#endif
#undef WT_CASE
    default:
      break;
    }
}

/* The 36 products M[p] = V[p] U[p] of an item: V[p][0..nt)[0..c) from
 * input_block(), U the packed kernel's panels for filters f0 .. f0 + fc,
 * M[p][0..nt)[0..round_nr (fc)). */
static WT_ATTR void
WT_FN (gemm_block) (const Ctx *c, gint64 nt, gint64 f0, gint64 fc, const float *v, float *m)
{
  gint64 cc = c->g->c, mld = round_nr (fc);
  gsize panel = (gsize) cc * NR;

  for (guint p = 0; p < NP; p++)
    {
      const float *vp = v + p * plane_floats (nt, cc);
      float *mp = m + p * plane_floats (nt, mld);

      for (gint64 fb = 0; fb < mld / NR; fb++)
        for (gint64 k0 = 0; k0 < cc; k0 += KC)
        {
          const float *up = c->u + (p * (gsize) c->nfb + (gsize) (f0 / NR + fb)) * panel +
                            (gsize) k0 * NR;
          gint64 kc = MIN (KC, cc - k0);

          for (gint64 r0 = 0; r0 < nt; r0 += WT_MR)
            for (gint64 h = 0; h < NR; h += WT_NC)
            {
              const float *a = vp + (gsize) (r0 * cc + k0);
              float *mo = mp + (gsize) (r0 * mld + fb * NR + h);

              WT_FN (wt_micro_rows) (MIN (WT_MR, nt - r0), FALSE, kc, a, cc, up + h, mo, mld,
                                     k0 > 0);
            }
        }
    }
}

/* One vector of filters k .. k + nk of a tile's outputs @y (NULL past the
 * edge) from M[p] at @mt + p * @mstride (rows padded to NR: always whole
 * vectors).  Inlined with a constant activation @kind and @full. */
static inline WT_ATTR MIR_ALWAYS_INLINE void
WT_FN (output_vec) (const float *mt, gsize mstride, gint64 k, gint64 nk, WT_V b,
                    float *const *y, const int kind, const gboolean full)
{
  WT_V s[TO][TI];

  MIR_UNROLL for (int j = 0; j < TI; j++)
    {
      WT_V col[TI], r[TO];

      MIR_UNROLL for (int i = 0; i < TI; i++)
        col[i] = WT_FN (wt_load) (mt + (gsize) (i * TI + j) * mstride + (gsize) k, WT_W);
      WT_FN (wt_at6) (col, r);
      MIR_UNROLL for (int i = 0; i < TO; i++)
        s[i][j] = r[i];
    }
  MIR_UNROLL for (int i = 0; i < TO; i++)
    {
      WT_V r[TO];

      WT_FN (wt_at6) (s[i], r);
      MIR_UNROLL for (int j = 0; j < TO; j++)
        if (y[i * TO + j] != NULL)
          WT_FN (wt_store) (y[i * TO + j] + k, WT_FN (wt_act) (r[j] + b, kind), full ? WT_W : nk);
    }
}

/* The 4x4 outputs (A^T M A + bias, activated) of the tiles t0 .. t0 + nt,
 * filters f0 .. f0 + fc; M[p][t][0..round_nr (fc)). */
static WT_ATTR void
WT_FN (output_block) (const Ctx *c, gint64 t0, gint64 nt, gint64 f0, gint64 fc, const float *m)
{
  gint64 mld = round_nr (fc);
  gsize mstride = plane_floats (nt, mld);

  for (gint64 t = 0; t < nt; t++)
    {
      float *y[TO * TO];
      const float *mt = m + (gsize) (t * mld);
      gint64 k = 0;

      tile_pointers (c, t0 + t, NULL, y, f0);
      for (; k + WT_W <= fc; k += WT_W)
        {
          WT_V b = WT_FN (wt_load) (c->bias + f0 + k, WT_W);

          if (c->act == MIR_VEC_ACT_RELU)
            WT_FN (output_vec) (mt, mstride, k, WT_W, b, y, MIR_VEC_ACT_RELU, TRUE);
          else if (c->act == MIR_VEC_ACT_RELU6)
            WT_FN (output_vec) (mt, mstride, k, WT_W, b, y, MIR_VEC_ACT_RELU6, TRUE);
          else
            WT_FN (output_vec) (mt, mstride, k, WT_W, b, y, MIR_VEC_ACT_NONE, TRUE);
        }
      if (k < fc)
        WT_FN (output_vec) (mt, mstride, k, fc - k, WT_FN (wt_load) (c->bias + f0 + k, fc - k), y,
                            c->act, FALSE);
    }
}

/* A 1x1 convolution's item: Z[r0 .. r0 + nr)[f0 .. f0 + fc) = X U + bias,
 * ReLU/ReLU6 in registers, other activations over the block while it is in
 * the cache; X's rows (the pixels, c floats each) read where they are, U
 * packed by mir_pointwise_pack_kernel(); @m: scratch, nr x round_nr (fc). */
static WT_ATTR void
WT_FN (pw_item) (const PwCtx *c, gint64 r0, gint64 nr, gint64 f0, gint64 fc, float *m)
{
  gint64 cc = c->c, mld = round_nr (fc);
  gsize panel = (gsize) cc * NR;

  /* Only the columns of real filters: the last panel's end (16 of 32
   * filters there: 16, 80, 112, 144 filters) takes one vector a row instead
   * of WT_NV, and whole WT_NC steps past it are skipped; the columns of M
   * left unwritten are never read. */
  for (gint64 fb = 0; fb < mld / NR; fb++)
    for (gint64 k0 = 0; k0 < cc; k0 += KC)
      {
        const float *up = c->u + (gsize) (f0 / NR + fb) * panel + (gsize) k0 * NR;
        gint64 kc = MIN (KC, cc - k0), cols = MIN (NR, fc - fb * NR);

        for (gint64 r = 0; r < nr; r += WT_MR)
          for (gint64 h = 0; h < cols; h += WT_NC)
            {
              const float *a = c->x + (gsize) ((r0 + r) * cc + k0);
              float *mo = m + (gsize) (r * mld + fb * NR + h);

              WT_FN (wt_micro_rows) (MIN (WT_MR, nr - r), cols - h <= WT_W, kc, a, cc, up + h,
                                     mo, mld, k0 > 0);
            }
      }
  for (gint64 r = 0; r < nr; r++)
    {
      const float *mr = m + (gsize) (r * mld);
      float *zr = c->z + (gsize) ((r0 + r) * c->f + f0);

      for (gint64 j = 0; j < fc; j += WT_W)
        {
          gint64 n = MIN (WT_W, fc - j);
          WT_V v = WT_FN (wt_load) (mr + j, n) + WT_FN (wt_load) (c->bias + f0 + j, n);

          WT_FN (wt_store) (zr + j, WT_FN (wt_act) (v, c->act), n);
        }
      if (c->after != MIR_ACT_LINEAR && fc < c->f)
        mir_act_vec_forward (c->after, zr, zr, (gsize) fc);
    }
  if (c->after != MIR_ACT_LINEAR && fc == c->f)
    mir_act_vec_forward (c->after, c->z + (gsize) (r0 * c->f), c->z + (gsize) (r0 * c->f),
                         (gsize) (nr * fc));
}

#undef WT_NV
#undef WT_NC
#undef WT_MR
#undef WT_FN
#undef WT_CAT
#undef WT_CAT2

#undef WT_SUFFIX
#undef WT_ATTR
#undef WT_V
#undef WT_VI
#undef WT_W
