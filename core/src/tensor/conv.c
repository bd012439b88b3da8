/* tensor/conv.c -- tinygrad 0.14.0's processing ops built on _pool (mixin/op.py): conv2d, conv_transpose2d,
** avg_pool2d and max_pool2d, with helpers.py's resolve_pool_pads/flat_to_grouped and OpMixin._apply_ceil_mode. Each
** builds the graph tinygrad builds, for any number of spatial dims. The keyword arguments arrive as a tg_conv_params
** (include/tg.h) and are resolved here into per-dim arrays, the form tinygrad's make_tuple gives them. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "tensor/tensor.h"

#define STR(v, n) tgt_tuple_str((v), (n), (char[1024]){0}, 1024)

TG_API void tg_conv_params_init(tg_conv_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->struct_size = sizeof *p;
  p->groups = 1;
  p->count_include_pad = 1;
  p->dtype = TG_DTYPE_NONE;
}

/* The caller's struct, fields past its struct_size left at their defaults (an older caller's smaller struct). */
static tg_conv_params params_of(const tg_conv_params *p) {
  tg_conv_params q;
  tg_conv_params_init(&q);
  if (!p) return q;
#define TAKE(f)                                                                                                        \
  if (p->struct_size >= offsetof(tg_conv_params, f) + sizeof p->f) q.f = p->f
  TAKE(groups);
  TAKE(stride);
  TAKE(nstride);
  TAKE(dilation);
  TAKE(ndilation);
  TAKE(padding);
  TAKE(npadding);
  TAKE(output_padding);
  TAKE(noutput_padding);
  TAKE(ceil_mode);
  TAKE(count_include_pad);
  TAKE(dtype);
#undef TAKE
  return q;
}

/* resolve_pool_pads: padding as n values (one per dim) or 2n (flat) -> 2n flat values in PyTorch's order. */
static int resolve_pads(tgt_scope *S, const tg_conv_params *p, size_t n, int64_t *flat) {
  if (!p->padding) {
    memset(flat, 0, 2 * n * sizeof *flat);
    return 0;
  }
  if (p->npadding == 2 * n) {
    memcpy(flat, p->padding, 2 * n * sizeof *flat);
    return 0;
  }
  if (p->npadding != n || p->npadding > TGT_MAXD) {
    size_t np = p->npadding > TGT_MAXD ? TGT_MAXD : p->npadding;
    tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "Padding must be an int or a sequence of length %zu or %zu, but got padding=%s with dims=%zu.",
             n, 2 * n, STR(p->padding, np), n);
    return -1;
  }
  for (size_t i = 0; i < n; i++) flat[2 * i] = flat[2 * i + 1] = p->padding[n - 1 - i]; /* each twice, reversed */
  return 0;
}

/* make_tuple(stride), make_tuple(dilation) for a kernel k of n dims, with _pool's length assertion. dflt_stride: the
** pools' default (the kernel), NULL for 1. */
static int resolve_sd(tgt_scope *S, const tg_conv_params *p, const int64_t *k, size_t n, const int64_t *dflt_stride, int64_t *st,
                      int64_t *dl) {
  size_t ns = p->stride ? p->nstride : n, nd = p->dilation ? p->ndilation : n;
  for (size_t i = 0; i < n; i++) {
    st[i] = p->stride ? (i < ns ? p->stride[i] : 0) : dflt_stride ? dflt_stride[i] : 1;
    dl[i] = p->dilation ? (i < nd ? p->dilation[i] : 0) : 1;
  }
  if (ns != n || nd != n) {
    const int64_t *sv = p->stride ? p->stride : st, *dv = p->dilation ? p->dilation : dl;
    tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "stride/dilation mismatch kernel:%s stride:%s dilation:%s", STR(k, n),
             STR(sv, ns > TGT_MAXD ? TGT_MAXD : ns), STR(dv, nd > TGT_MAXD ? TGT_MAXD : nd));
    return -1;
  }
  return 0;
}

/* ((0,0),)*(ndim-n) + flat_to_grouped(flat): pairs (before, after) for every dim of an ndim tensor. */
static void grouped(const int64_t *flat, size_t n, size_t ndim, int64_t (*g)[2]) {
  size_t lead = ndim - n;
  for (size_t i = 0; i < lead; i++) g[i][0] = g[i][1] = 0;
  for (size_t j = 0; j < n; j++) g[lead + j][0] = flat[2 * (n - 1 - j)], g[lead + j][1] = flat[2 * (n - 1 - j) + 1];
}

/* x._pad_constant(grouped pads, value)._pool(k, stride, dilation) */
static tg_tv pad_pool(tgt_scope *S, tg_tv x, const int64_t *flat, const int64_t *k, size_t n, const int64_t *st, const int64_t *dl,
                      tgt_py value) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n < n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", s.n, n);
  int64_t g[TGT_MAXD][2];
  grouped(flat, n, s.n, g);
  return tgt_pool_sd(S, tgt_pad_constant(S, x, (const int64_t(*)[2])g, s.n, &value), k, n, st, dl);
}

/* OpMixin._apply_ceil_mode: extra padding after each dim so that _pool's floor gives the ceil-mode output size, less
** where the last window would start inside the padding. flat: updated in place. */
static void apply_ceil_mode(int64_t *flat, const int64_t *i_, const int64_t *k, const int64_t *st, const int64_t *dl, size_t n) {
  for (size_t j = 0; j < n; j++) {
    int64_t *pB = &flat[2 * (n - 1 - j)], *pA = pB + 1, span = dl[j] * (k[j] - 1) + 1, i = i_[j], s = st[j];
    int64_t o = tgt_ceildiv(i + *pB + *pA - span, s) + 1, late = s * (o - 1) - (*pB + i - 1);
    *pA = *pA + s * (o - 1) + span - (i + *pB + *pA) - (late > 0 ? late : 0);
  }
}

/* dtype.min as the Python value tinygrad pads max_pool2d with */
static tgt_py dtype_min(int dt) {
  if (tg_dt_is_float((tg_dtype)dt)) return tgt_pyfloat(-INFINITY);
  if (dt == TG_BOOL) return tgt_pybool(0);
  if (tg_dt_is_unsigned((tg_dtype)dt)) return tgt_pyint(0);
  int bits = tg_dt_bitsize((tg_dtype)dt);
  return tgt_pyint(bits >= 64 ? INT64_MIN : -(int64_t)(1ull << (bits - 1)));
}

static int too_many_dims(tgt_scope *S, size_t need) {
  if (need <= TGT_MAXD) return 0;
  tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  return 1;
}

/* ---------------- convolutions ---------------- */

tg_tv tgt_conv2d(tgt_scope *S, tg_tv x, tg_tv w, tg_tv bias, const tg_conv_params *params) {
  tgt_shape xs, ws;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, w, &ws)) return TGT_NONE;
  if (xs.n < 2 || ws.n < 2)
    return tgt_fail(S, TG_ERR_SHAPE, "not enough values to unpack (expected 2, got %u)", xs.n < 2 ? xs.n : ws.n);
  tg_conv_params p = params_of(params);
  size_t n = ws.n - 2;
  int64_t bs = xs.d[0], cin_ = xs.d[1], cout = ws.d[0], cin = ws.d[1], g = p.groups, gc, *HW = ws.d + 2;
  int64_t flat[2 * TGT_MAXD], st[TGT_MAXD], dl[TGT_MAXD];
  if (resolve_pads(S, &p, n, flat)) return TGT_NONE;
  if (__builtin_mul_overflow(g, cin, &gc) || gc != cin_ || xs.n != ws.n)
    return tgt_fail(S, TG_ERR_SHAPE, "Input Tensor shape %s does not match the shape of the weights %s. (%lld vs. %lld)", STR(xs.d, xs.n),
                    STR(ws.d, ws.n), (long long)gc, (long long)cin_);
  if (g < 1) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "conv2d: groups must be positive, got %lld", (long long)g);
  if (resolve_sd(S, &p, HW, n, NULL, st, dl) || too_many_dims(S, 4 + 2 * n)) return TGT_NONE;
  tg_tv xp = pad_pool(S, x, flat, HW, n, st, dl, tgt_pyfloat(0.0));
  tgt_shape ps;
  if (tgt_shape_of(S, xp, &ps)) return TGT_NONE;
  const int64_t *oyx = ps.d + 2; /* x.shape[2:-len(HW)]: n output sizes */
  int64_t rcout = cout / g, sh[TGT_MAXD], perm[TGT_MAXD], axes[TGT_MAXD];
  size_t m = 0;
  sh[m++] = bs, sh[m++] = g, sh[m++] = cin, sh[m++] = 1;
  for (size_t i = 0; i < n; i++) sh[m++] = oyx[i];
  for (size_t i = 0; i < n; i++) sh[m++] = HW[i];
  xp = tgt_reshape(S, xp, sh, m);
  sh[3] = rcout;
  xp = tgt_expand(S, xp, sh, m);
  m = 0;
  perm[m++] = 0, perm[m++] = 1, perm[m++] = 3;
  for (size_t i = 0; i < n; i++) perm[m++] = 4 + (int64_t)i;
  perm[m++] = 2;
  for (size_t i = 0; i < n; i++) perm[m++] = 4 + (int64_t)(n + i);
  xp = tgt_permute(S, xp, perm, m);
  m = 0; /* weight.reshape(1, groups, rcout, *[1]*len(oyx), cin, *HW) */
  sh[m++] = 1, sh[m++] = g, sh[m++] = rcout;
  for (size_t i = 0; i < n; i++) sh[m++] = 1;
  sh[m++] = cin;
  for (size_t i = 0; i < n; i++) sh[m++] = HW[i];
  for (size_t i = 0; i <= n; i++) axes[i] = -1 - (int64_t)i;
  tg_tv ret = tgt_sum(S, tgt_mul(S, xp, tgt_reshape(S, w, sh, m)), axes, n + 1, 1, p.dtype);
  m = 0;
  sh[m++] = bs, sh[m++] = cout;
  for (size_t i = 0; i < n; i++) sh[m++] = oyx[i];
  ret = tgt_reshape(S, ret, sh, m);
  if (!bias.u) return ret;
  sh[0] = 1, sh[1] = -1;
  for (size_t i = 0; i < n; i++) sh[2 + i] = 1;
  return tgt_add(S, ret, tgt_reshape(S, bias, sh, 2 + n));
}

tg_tv tgt_conv_transpose2d(tgt_scope *S, tg_tv x, tg_tv w, tg_tv bias, const tg_conv_params *params) {
  tgt_shape xs, ws;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, w, &ws)) return TGT_NONE;
  if (ws.n < 2) return tgt_fail(S, TG_ERR_SHAPE, "conv_transpose2d: weight needs at least 2 dims, got %s", STR(ws.d, ws.n));
  tg_conv_params p = params_of(params);
  size_t n = ws.n - 2;
  int64_t g = p.groups, *HW = ws.d + 2, flat[2 * TGT_MAXD], st[TGT_MAXD], dl[TGT_MAXD], op[TGT_MAXD] = {0};
  if (g < 1) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "conv_transpose2d: groups must be positive, got %lld", (long long)g);
  if (too_many_dims(S, 4 + 2 * n) || resolve_pads(S, &p, n, flat) || resolve_sd(S, &p, HW, n, NULL, st, dl)) return TGT_NONE;
  if (p.output_padding) {
    if (p.noutput_padding != n)
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "conv_transpose2d: output_padding needs %zu values, got %zu", n, p.noutput_padding);
    memcpy(op, p.output_padding, n * sizeof *op);
  }
  /* w = weight.unflatten(0, (groups, -1)).transpose(1, 2).flip(*range(3, len(weight.shape)+1)) */
  int64_t sh[TGT_MAXD], ax[TGT_MAXD];
  sh[0] = g, sh[1] = -1;
  for (uint32_t i = 1; i < ws.n; i++) sh[1 + i] = ws.d[i];
  tg_tv wt = tgt_transpose(S, tgt_reshape(S, w, sh, ws.n + 1), 1, 2);
  for (size_t i = 0; i < n; i++) ax[i] = 3 + (int64_t)i;
  wt = tgt_flip(S, wt, ax, n);
  int strided = 0;
  for (size_t i = 0; i < n; i++) strided |= st[i] > 1;
  if (strided) { /* (k) -> reshape -> (k,1) -> pad -> (k,s) -> reshape -> (k*s) -> shrink (k-(s-1)) */
    if (xs.n != 2 + n)
      return tgt_fail(S, TG_ERR_SHAPE, "conv_transpose2d: input %s has %u dims, the weight %s needs %zu", STR(xs.d, xs.n), xs.n,
                      STR(ws.d, ws.n), 2 + n);
    int64_t pads[TGT_MAXD][2] = {{0}};
    size_t m = 2;
    sh[0] = xs.d[0], sh[1] = xs.d[1];
    for (size_t i = 0; i < n; i++) sh[m++] = xs.d[2 + i], sh[m++] = 1;
    x = tgt_reshape(S, x, sh, m);
    for (size_t i = 0; i < n; i++) pads[3 + 2 * i][1] = st[i] - 1;
    tgt_py zero = tgt_pyfloat(0.0);
    x = tgt_pad_constant(S, x, (const int64_t(*)[2])pads, m, &zero);
    for (size_t i = 0; i < n; i++) sh[2 + i] = xs.d[2 + i] * st[i];
    x = tgt_reshape(S, x, sh, 2 + n);
    sh[0] = sh[1] = TGT_NONE_DIM;
    for (size_t i = 0; i < n; i++) sh[2 + i] = xs.d[2 + i] * st[i] - (st[i] - 1);
    x = tgt_shrink_to(S, x, sh, 2 + n);
  }
  /* the conv2d padding: per dim ((k-1)*d - pB, (k-1)*d - pA + output_padding), flat (last dim first) */
  int64_t cp[2 * TGT_MAXD];
  for (size_t m = 0; m < n; m++) {
    size_t j = n - 1 - m;
    int64_t e = (HW[j] - 1) * dl[j];
    cp[2 * m] = e - flat[2 * m], cp[2 * m + 1] = e - flat[2 * m + 1] + op[j];
  }
  tgt_shape fs; /* w.flatten(end_dim=1) */
  if (tgt_shape_of(S, wt, &fs)) return TGT_NONE;
  sh[0] = fs.d[0] * fs.d[1];
  for (uint32_t i = 2; i < fs.n; i++) sh[i - 1] = fs.d[i];
  wt = tgt_reshape(S, wt, sh, fs.n - 1);
  tg_conv_params c;
  tg_conv_params_init(&c);
  c.groups = g, c.dilation = dl, c.ndilation = n, c.padding = cp, c.npadding = 2 * n;
  return tgt_conv2d(S, x, wt, bias, &c);
}

/* ---------------- pools ---------------- */

/* What both pools share: kernel n dims over x's last dims, pads resolved (regular and, with ceil_mode, adjusted). */
typedef struct pool_args {
  tgt_shape xs;
  int64_t st[TGT_MAXD], dl[TGT_MAXD], reg[2 * TGT_MAXD], pads[2 * TGT_MAXD], axes[TGT_MAXD];
} pool_args;

static int pool_setup(tgt_scope *S, tg_tv x, const int64_t *k, size_t n, const tg_conv_params *p, pool_args *a) {
  if (tgt_shape_of(S, x, &a->xs)) return -1;
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD), -1;
  if (resolve_pads(S, p, n, a->reg) || resolve_sd(S, p, k, n, k, a->st, a->dl)) return -1;
  if (a->xs.n < n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", a->xs.n, n), -1;
  for (size_t i = 0; i < n; i++)
    if (a->st[i] <= 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "pool: stride must be positive, got %s", STR(a->st, n)), -1;
  memcpy(a->pads, a->reg, 2 * n * sizeof *a->pads);
  if (p->ceil_mode) apply_ceil_mode(a->pads, a->xs.d + a->xs.n - n, k, a->st, a->dl, n);
  for (size_t i = 0; i < n; i++) a->axes[i] = (int64_t)i - (int64_t)n; /* range(-len(k_), 0) */
  return 0;
}

tg_tv tgt_avg_pool2d(tgt_scope *S, tg_tv x, const int64_t *k, size_t n, const tg_conv_params *params) {
  tg_conv_params p = params_of(params);
  pool_args a;
  if (pool_setup(S, x, k, n, &p, &a)) return TGT_NONE;
  tgt_py zero = tgt_pyfloat(0.0);
#define POOL(v, pads) pad_pool(S, (v), (pads), k, n, a.st, a.dl, zero)
#define SUM(v) tgt_sum(S, (v), a.axes, n, 0, TG_DTYPE_NONE)
  if (!p.count_include_pad) return tgt_div(S, SUM(POOL(x, a.pads)), SUM(POOL(tgt_const_like(S, x, tgt_pyint(1), TG_DT_AUTO), a.pads)), 0, 0);
  if (!p.ceil_mode) return tgt_reduce(S, TG_REDUCE_MEAN, POOL(x, a.pads), a.axes, n, 0, TG_DTYPE_NONE);
  /* ceil_mode: divide by the window's size inside the regular padding only */
  int64_t g[TGT_MAXD][2], diff[2 * TGT_MAXD];
  grouped(a.reg, n, a.xs.n, g);
  for (size_t i = 0; i < 2 * n; i++) diff[i] = a.pads[i] - a.reg[i];
  tg_tv ones = tgt_const_like(S, tgt_pad_constant(S, x, (const int64_t(*)[2])g, a.xs.n, &zero), tgt_pyint(1), TG_DT_AUTO);
  return tgt_div(S, SUM(POOL(x, a.pads)), SUM(POOL(ones, diff)), 0, 0);
#undef POOL
#undef SUM
}

tg_tv tgt_max_pool2d(tgt_scope *S, tg_tv x, const int64_t *k, size_t n, const tg_conv_params *params, tg_tv *indices) {
  tg_conv_params p = params_of(params);
  pool_args a;
  if (pool_setup(S, x, k, n, &p, &a)) return TGT_NONE;
  tg_tv pooled = pad_pool(S, x, a.pads, k, n, a.st, a.dl, dtype_min(x.u->dtype));
  tg_tv out = tgt_reduce(S, TG_REDUCE_MAX, pooled, a.axes, n, 0, TG_DTYPE_NONE);
  if (!indices) return out;
  /* argmax: count down from spatial_sz so that max() picks the first maximum; spatial_sz - that is its index */
  int64_t sz = 1;
  const int64_t *sp = a.xs.d + a.xs.n - n;
  for (size_t i = 0; i < n; i++)
    if (__builtin_mul_overflow(sz, sp[i], &sz)) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "max_pool2d: spatial size overflows int64");
  tgt_py stop = tgt_pyint(0);
  tg_tv idx = tgt_reshape(S, tgt_arange(S, tgt_pyint(sz), &stop, tgt_pyint(-1), TG_DT_AUTO), sp, n);
  tg_tv m = tgt_binary(S, TG_BINARY_EQ, pooled, tgt_reduce(S, TG_REDUCE_MAX, pooled, a.axes, n, 1, TG_DTYPE_NONE));
  if (!idx.u) return TGT_NONE;
  idx = tgt_mul(S, m, pad_pool(S, idx, a.pads, k, n, a.st, a.dl, dtype_min(idx.u->dtype)));
  *indices = tgt_sub_rev(S, tgt_reduce(S, TG_REDUCE_MAX, idx, a.axes, n, 0, TG_DTYPE_NONE), tgt_const(S, tgt_pyint(sz), TG_DT_AUTO), 1);
  return out;
}
