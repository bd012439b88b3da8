/* tensor/movement.c -- tinygrad 0.14.0's mixin/movement.py over UOp._mop: the six movement ops with their argument
** checks and messages, broadcasting by reshape + left EXPAND + permute (_broadcast_to), OpMixin's constant pad, and
** the shape plumbing _pool is built from (repeat, shrink_to, pad_to). Shapes are concrete here: a dim value of
** TGT_NONE_DIM stands for Python's None in shrink_to/reshape arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

#define SHAPE_STR(v, n) tgt_tuple_str((v), (n), (char[1024]){0}, 1024)

static int same_shape(const tgt_shape *a, const int64_t *b, size_t n) {
  return a->n == n && (n == 0 || !memcmp(a->d, b, n * sizeof *b));
}

static int prod(tgt_scope *S, const int64_t *v, size_t n, int64_t *out) {
  int64_t p = 1;
  for (size_t i = 0; i < n; i++)
    if (__builtin_mul_overflow(p, v[i], &p)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "shape product overflows int64"), -1;
  return *out = p, 0;
}

/* shape_to_shape_arg: one dim is its CONST, more (or none) a STACK of them. */
tg_tv tgt_shape_arg(tgt_scope *S, const int64_t *v, size_t n) {
  tg_tv c[TGT_MAXD];
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  for (size_t i = 0; i < n; i++) c[i] = tgt_const(S, tgt_pyint(v[i]), TG_DT_AUTO);
  return n == 1 ? c[0] : tgt_mk(S, TG_OP_STACK, TG_DT_AUTO, c, n, tg_arg_none(), NULL);
}

/* UOp._mop for RESHAPE and EXPAND (an empty EXPAND is a no-op). */
tg_tv tgt_mop_shape(tgt_scope *S, tg_tv x, tg_op op, const int64_t *arg, size_t n) {
  if (!x.u) return TGT_NONE;
  if (op == TG_OP_EXPAND && n == 0) return x;
  tg_tv src[2] = {x, tgt_shape_arg(S, arg, n)};
  return tgt_mk(S, op, TG_DT_AUTO, src, 2, tg_arg_none(), NULL);
}

/* UOp._mop for PAD and SHRINK: (offset, size) pairs as two shape args; an empty arg is a no-op on a 0-d value. */
static tg_tv mop_pairs(tgt_scope *S, tg_tv x, tg_op op, const int64_t *off, const int64_t *sz, size_t n) {
  if (!x.u) return TGT_NONE;
  if (n == 0) return x;
  tg_tv src[3] = {x, tgt_shape_arg(S, off, n), tgt_shape_arg(S, sz, n)};
  return tgt_mk(S, op, TG_DT_AUTO, src, 3, tg_arg_none(), NULL);
}

/* UOp._mop for PERMUTE and FLIP: the tuple is the arg. */
static tg_tv mop_tuple(tgt_scope *S, tg_tv x, tg_op op, const int64_t *v, size_t n, int as_bool) {
  tg_arg a;
  if (!x.u) return TGT_NONE;
  if (tg_arg_ints(v, (uint32_t)n, as_bool, &a) != TG_OK) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "out of memory building Ops.%s", tg_op_name(op));
  tg_tv r = tgt_mk(S, op, TG_DT_AUTO, &x, 1, a, NULL);
  tg_arg_free(&a);
  return r;
}

/* `ret if ret.shape != self.shape else self`, which also checks ret's shape. */
static tg_tv unless_same(tgt_scope *S, tg_tv x, tg_tv ret) {
  tgt_shape a, b;
  if (tgt_shape_of(S, ret, &b) || tgt_shape_of(S, x, &a)) return TGT_NONE;
  return same_shape(&a, b.d, b.n) ? x : ret;
}

int tgt_resolve_dim(tgt_scope *S, int64_t dim, uint32_t ndim, int extra, int64_t *out) {
  int64_t total = (int64_t)ndim + (extra ? 1 : 0), m = total > 1 ? total : 1;
  if (dim < -m || dim > m - 1)
    return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "dim=%lld out of range [%lld, %lld]", (long long)dim, (long long)-m, (long long)(m - 1)), -1;
  return *out = dim < 0 ? dim + total : dim, 0;
}

/* ---------------- reshape ---------------- */

tg_tv tgt_reshape(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  int64_t ns[TGT_MAXD], ps, pn;
  size_t minus = 0;
  for (size_t i = 0; i < n; i++) { /* None keeps the dim */
    ns[i] = shape[i] == TGT_NONE_DIM ? (i < s.n ? s.d[i] : 0) : shape[i];
    minus += ns[i] == -1;
  }
  if (minus > 1) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "only one dimension can be inferred using -1, getting %s", SHAPE_STR(ns, n));
  if (prod(S, s.d, s.n, &ps) || prod(S, ns, n, &pn)) return TGT_NONE;
  if (minus) { /* -prod(self.shape) // prod(new_shape), the -1 included */
    if (pn == 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
    for (size_t i = 0; i < n; i++)
      if (ns[i] == -1) ns[i] = tgt_floordiv(-ps, pn);
    if (prod(S, ns, n, &pn)) return TGT_NONE;
  }
  if (ps != pn)
    return tgt_fail(S, TG_ERR_SHAPE, "size mismatch, can't reshape (%s) -> (%s)", SHAPE_STR(s.d, s.n), SHAPE_STR(ns, n));
  return unless_same(S, x, tgt_mop_shape(S, x, TG_OP_RESHAPE, ns, n));
}

/* ---------------- permute, transpose ---------------- */

tg_tv tgt_permute(tgt_scope *S, tg_tv x, const int64_t *order, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  int64_t o[TGT_MAXD];
  uint64_t seen = 0;
  int ok = n == s.n, ident = 1;
  for (size_t i = 0; i < n; i++) {
    if (tgt_resolve_dim(S, order[i], s.n, 0, &o[i])) return TGT_NONE;
    ok = ok && o[i] >= 0 && o[i] < (int64_t)s.n && !(seen >> o[i] & 1);
    if (o[i] >= 0 && o[i] < 64) seen |= 1ull << o[i];
    ident = ident && o[i] == (int64_t)i;
  }
  if (!ok) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "order is not a valid permutation, getting %s", SHAPE_STR(o, n));
  return ident ? x : mop_tuple(S, x, TG_OP_PERMUTE, o, n, 0);
}

/* transpose(dim0, dim1): swaps two entries of list(range(ndim)) (Python list indexing, negatives included). */
tg_tv tgt_transpose(tgt_scope *S, tg_tv x, int64_t d0, int64_t d1) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t order[TGT_MAXD], n = s.n;
  for (int64_t i = 0; i < n; i++) order[i] = i;
  if (d0 < -n || d0 >= n || d1 < -n || d1 >= n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "list index out of range");
  if (d0 < 0) d0 += n;
  if (d1 < 0) d1 += n;
  int64_t t = order[d0];
  order[d0] = order[d1], order[d1] = t;
  return tgt_permute(S, x, order, (size_t)n);
}

/* ---------------- expand ---------------- */

tg_tv tgt_broadcast_to(tgt_scope *S, tg_tv x, const int64_t *ns, size_t nn) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  /* tinygrad builds an EXPAND to a negative size and raises this only when it realizes one; refusing it here keeps
  ** every built graph realizable */
  for (size_t i = 0; i < nn; i++)
    if (ns[i] < 0) return tgt_fail(S, TG_ERR_SHAPE, "shape can't contain negative numbers %s", SHAPE_STR(ns, nn));
  if (same_shape(&s, ns, nn)) return x;
  if (s.n > nn)
    return tgt_fail(S, TG_ERR_SHAPE, "cannot broadcast tensor to fewer dimensions. shape=%s to new_shape=%s", SHAPE_STR(s.d, s.n),
                    SHAPE_STR(ns, nn));
  size_t nl = nn - s.n;
  for (size_t i = 0; i < s.n; i++)
    if (s.d[i] != ns[nl + i] && s.d[i] != 1)
      return tgt_fail(S, TG_ERR_SHAPE, "cannot broadcast %s to new_shape=%s", SHAPE_STR(s.d, s.n), SHAPE_STR(ns, nn));
  /* EXPAND only adds dims on the left: squeeze the 1s that expand, EXPAND on the left, permute back */
  int64_t at[TGT_MAXD], kshape[TGT_MAXD] = {0}, eshape[TGT_MAXD] = {0}, perm[TGT_MAXD], pos[TGT_MAXD];
  size_t nat = 0, nkept = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.d[i] == 1 && ns[nl + i] != 1) pos[i] = (int64_t)nat, at[nat++] = (int64_t)i;
    else pos[i] = -1 - (int64_t)nkept, kshape[nkept++] = s.d[i];
  }
  tg_tv sq = tgt_reshape(S, x, kshape, nkept);
  for (size_t i = 0; i < nl; i++) eshape[i] = ns[i];
  for (size_t i = 0; i < nat; i++) eshape[nl + i] = ns[nl + (size_t)at[i]];
  tg_tv ex = tgt_mop_shape(S, sq, TG_OP_EXPAND, eshape, nl + nat);
  for (size_t i = 0; i < nl; i++) perm[i] = (int64_t)i;
  for (size_t i = 0; i < s.n; i++) perm[nl + i] = (int64_t)nl + (pos[i] >= 0 ? pos[i] : (int64_t)nat + (-1 - pos[i]));
  return tgt_permute(S, ex, perm, nn);
}

tg_tv tgt_expand(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  /* zip(*_align_left(self.shape, shape)): both padded on the left with 1s; -1 (or None) keeps the old dim */
  size_t m = s.n > n ? s.n : n;
  int64_t ns[TGT_MAXD];
  for (size_t i = 0; i < m; i++) {
    int64_t from = i + s.n >= m ? s.d[i + s.n - m] : 1, to = i + n >= m ? shape[i + n - m] : 1;
    ns[i] = to == -1 || to == TGT_NONE_DIM ? from : to;
  }
  return tgt_broadcast_to(S, x, ns, m);
}

/* ---------------- pad, shrink ---------------- */

tg_tv tgt_pad_mm(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", s.n, n);
  int64_t off[TGT_MAXD], sz[TGT_MAXD];
  for (size_t i = 0; i < n; i++) {
    off[i] = pads[i][0];
    if (__builtin_add_overflow(s.d[i], pads[i][0], &sz[i]) || __builtin_add_overflow(sz[i], pads[i][1], &sz[i]))
      return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "pad (%lld, %lld) of a dim of %lld overflows int64", (long long)pads[i][0],
                      (long long)pads[i][1], (long long)s.d[i]);
  }
  return unless_same(S, x, mop_pairs(S, x, TG_OP_PAD, off, sz, n));
}

static int py_is_zero(const tgt_py *v) { return !v || (v->kind == TG_ARG_FLOAT ? v->f == 0.0 : v->i == 0); }

tg_tv tgt_pad_constant(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n, const tgt_py *value) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", s.n, n);
  int has_neg = 0;
  for (size_t i = 0; i < n; i++) has_neg |= pads[i][0] < 0 || pads[i][1] < 0;
  int64_t bounds[TGT_MAXD][2], pos[TGT_MAXD][2];
  tg_tv X = x;
  if (has_neg) { /* shrink first for negative pads, then pad with the non-negative ones */
    for (size_t i = 0; i < n; i++) {
      int64_t b = pads[i][0], a = pads[i][1];
      if (b == INT64_MIN || a == INT64_MIN || (a > 0 && s.d[i] > INT64_MAX - a))
        return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "pad (%lld, %lld) of a dim of %lld overflows int64", (long long)b, (long long)a, (long long)s.d[i]);
      bounds[i][0] = -(b < 0 ? b : 0), bounds[i][1] = a + s.d[i] < s.d[i] ? a + s.d[i] : s.d[i];
      pos[i][0] = b > 0 ? b : 0, pos[i][1] = a > 0 ? a : 0;
    }
    X = tgt_shrink(S, x, (const int64_t(*)[2])bounds, n);
    pads = (const int64_t(*)[2])pos;
  }
  tg_tv base = tgt_pad_mm(S, X, pads, n);
  if (py_is_zero(value)) return base;
  tg_tv mask = tgt_pad_mm(S, tgt_const_like(S, X, tgt_pybool(1), TG_BOOL), pads, n);
  return tgt_where(S, mask, base, tgt_const(S, *value, TG_DT_AUTO));
}

tg_tv tgt_shrink(tgt_scope *S, tg_tv x, const int64_t (*bounds)[2], size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", s.n, n);
  int64_t off[TGT_MAXD], sz[TGT_MAXD];
  for (size_t i = 0; i < n; i++) {
    off[i] = bounds[i][0];
    if (__builtin_sub_overflow(bounds[i][1], bounds[i][0], &sz[i]))
      return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "shrink (%lld, %lld) overflows int64", (long long)bounds[i][0], (long long)bounds[i][1]);
  }
  return unless_same(S, x, mop_pairs(S, x, TG_OP_SHRINK, off, sz, n));
}

tg_tv tgt_shrink_to(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t b[TGT_MAXD][2];
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  for (size_t i = 0; i < n; i++) b[i][0] = 0, b[i][1] = shape[i] == TGT_NONE_DIM ? (i < s.n ? s.d[i] : 0) : shape[i];
  return tgt_shrink(S, x, (const int64_t(*)[2])b, n);
}

tg_tv tgt_pad_to(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != n) /* zip(self.shape, shape, strict=True) */
    return tgt_fail(S, TG_ERR_SHAPE, "zip() argument 2 is %s than argument 1", n < s.n ? "shorter" : "longer");
  int64_t off[TGT_MAXD] = {0}, sz[TGT_MAXD];
  for (size_t i = 0; i < n; i++) sz[i] = shape[i] == TGT_NONE_DIM ? s.d[i] : shape[i];
  return unless_same(S, x, mop_pairs(S, x, TG_OP_PAD, off, sz, n));
}

/* ---------------- flip ---------------- */

tg_tv tgt_flip(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  int64_t a[TGT_MAXD], flags[TGT_MAXD] = {0};
  int dup = 0, any = 0;
  for (size_t i = 0; i < n; i++) {
    if (tgt_resolve_dim(S, axes[i], s.n, 0, &a[i])) return TGT_NONE;
    for (size_t j = 0; j < i; j++) dup |= a[j] == a[i];
  }
  /* _resolve_dim lets axis 0 and -1 through on a 0-d tensor; tinygrad's assert then refuses them */
  for (size_t i = 0; i < n; i++)
    if (a[i] < 0 || a[i] >= (int64_t)s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "flip args must be axis ints %s", SHAPE_STR(a, n));
  if (dup) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "dim can appear at most once, getting %s", SHAPE_STR(a, n));
  for (size_t i = 0; i < n; i++) flags[a[i]] = 1, any = 1;
  return any ? mop_tuple(S, x, TG_OP_FLIP, flags, s.n, 1) : x;
}

/* ---------------- repeat, _pool ---------------- */

tg_tv tgt_repeat(tgt_scope *S, tg_tv x, const int64_t *repeats, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (2 * n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  /* base_shape = _align_left(self.shape, repeats)[0], zipped with repeats (so cut to len(repeats)) */
  size_t m = s.n > n ? s.n : n;
  int64_t unsq[TGT_MAXD], exp[TGT_MAXD], fin[TGT_MAXD];
  size_t nu = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t b = i + s.n >= m ? s.d[i + s.n - m] : 1, r = repeats[i];
    if (r != 1) unsq[nu] = 1, exp[nu++] = r;
    unsq[nu] = b, exp[nu++] = b;
    if (__builtin_mul_overflow(r, b, &fin[i]))
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "repeat: %lld * %lld overflows int64", (long long)r, (long long)b);
  }
  return tgt_reshape(S, tgt_expand(S, tgt_reshape(S, x, unsq, nu), exp, nu), fin, n);
}

tg_tv tgt_pool(tgt_scope *S, tg_tv x, const int64_t *k, size_t nk, int64_t stride, int64_t dilation) {
  int64_t s_[TGT_MAXD], d_[TGT_MAXD];
  for (size_t j = 0; j < nk && j < TGT_MAXD; j++) s_[j] = stride, d_[j] = dilation;
  return tgt_pool_sd(S, x, k, nk, s_, d_);
}

tg_tv tgt_pool_sd(tgt_scope *S, tg_tv x, const int64_t *k, size_t nk, const int64_t *stride, const int64_t *dilation) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n < nk) return tgt_fail(S, TG_ERR_SHAPE, "can't pool %s with %s", SHAPE_STR(s.d, s.n), SHAPE_STR(k, nk));
  if (s.n + 2 * nk > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  size_t nn = s.n - nk;
  const int64_t *i_ = s.d + nn;
  int64_t o[TGT_MAXD], f[TGT_MAXD], a[TGT_MAXD] = {0}, b[TGT_MAXD] = {0};
  const int64_t *st = stride, *d = dilation;
  for (size_t j = 0; j < nk; j++)
    if (st[j] <= 0 || d[j] < 0) /* tinygrad would divide by zero or build a negative shape */
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "pool: stride must be positive and dilation non-negative, got stride %s dilation %s",
                      SHAPE_STR(st, nk), SHAPE_STR(d, nk));
  for (size_t j = 0; j < nk; j++) {
    int64_t t;
    if (k[j] < 0 || __builtin_sub_overflow(k[j], 1, &t) || __builtin_mul_overflow(d[j], t, &t) || t + 1 > i_[j])
      return tgt_fail(S, TG_ERR_SHAPE, "kernel size cannot be greater than actual input size");
  }
  for (size_t j = 0; j < nk; j++) {
    o[j] = tgt_ceildiv(i_[j] - d[j] * (k[j] - 1), st[j]);
    f[j] = i_[j] ? tgt_ceildiv(o[j] * st[j] - d[j], i_[j]) : 1;
    if (f[j] < 1) f[j] = 1;
  }
  for (size_t j = 0; j < nk; j++) {
    int64_t t;
    if (__builtin_mul_overflow(i_[j], f[j], &t) || __builtin_add_overflow(t, d[j], &t) || __builtin_mul_overflow(k[j], t, &t) ||
        __builtin_mul_overflow(o[j], st[j], &t))
      return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "pool: sizes of %s with kernel %s overflow int64", SHAPE_STR(s.d, s.n), SHAPE_STR(k, nk));
  }
  for (size_t j = 0; j < nn; j++) a[j] = 1, b[j] = TGT_NONE_DIM;
  /* repeats such that no padding is needed, then dilation */
  for (size_t j = 0; j < nk; j++) {
    int64_t w = k[j] * (i_[j] * f[j] + d[j]);
    a[nn + j] = i_[j] ? tgt_ceildiv(w, i_[j]) : 1, b[nn + j] = w; /* an empty dim: tinygrad divides by zero */
  }
  x = tgt_shrink_to(S, tgt_repeat(S, x, a, s.n), b, s.n);
  for (size_t j = 0; j < nk; j++) b[nn + 2 * j] = k[j], b[nn + 2 * j + 1] = i_[j] * f[j] + d[j];
  x = tgt_reshape(S, x, b, nn + 2 * nk);
  /* stride */
  for (size_t j = 0; j < nk; j++) b[nn + 2 * j] = k[j], b[nn + 2 * j + 1] = o[j] * st[j];
  x = tgt_shrink_to(S, x, b, nn + 2 * nk);
  for (size_t j = 0; j < nk; j++) b[nn + 3 * j] = k[j], b[nn + 3 * j + 1] = o[j], b[nn + 3 * j + 2] = st[j];
  x = tgt_reshape(S, x, b, nn + 3 * nk);
  for (size_t j = 0; j < nk; j++) b[nn + 3 * j] = k[j], b[nn + 3 * j + 1] = o[j], b[nn + 3 * j + 2] = 1;
  x = tgt_shrink_to(S, x, b, nn + 3 * nk);
  for (size_t j = 0; j < nk; j++) b[nn + 2 * j] = k[j], b[nn + 2 * j + 1] = o[j];
  x = tgt_reshape(S, x, b, nn + 2 * nk);
  /* permute the kernel dims to the end */
  for (size_t j = 0; j < nn; j++) a[j] = (int64_t)j;
  for (size_t j = 0; j < nk; j++) a[nn + j] = (int64_t)(nn + 2 * j + 1), a[nn + nk + j] = (int64_t)(nn + 2 * j);
  return tgt_permute(S, x, a, nn + 2 * nk);
}

/* ---------------- pad_to with a value; circular, reflect and replicate padding (OpMixin) ---------------- */

tg_tv tgt_pad_to_value(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n, const tgt_py *value) {
  tg_tv ret = tgt_pad_to(S, x, shape, n);
  if (py_is_zero(value) || ret.u == x.u) return ret;
  /* the mask trick of _pad_constant, so that the fill survives backends that realize PAD as a 0-fill */
  tg_tv mask = tgt_pad_to(S, tgt_const_like(S, x, tgt_pybool(1), TG_BOOL), shape, n);
  return tgt_where(S, mask, ret, tgt_const(S, *value, TG_DT_AUTO));
}

/* The (-min(pB, 0), min(pA + s, s)) shrink that takes the negative pads off first (or last, for reflect/replicate). */
static tg_tv shrink_negative(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", s.n, n);
  int64_t b[TGT_MAXD][2];
  for (size_t i = 0; i < n; i++) {
    int64_t pb = pads[i][0], pa = pads[i][1];
    if (pb == INT64_MIN || (pa > 0 && s.d[i] > INT64_MAX - pa))
      return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "pad (%lld, %lld) of a dim of %lld overflows int64", (long long)pb, (long long)pa, (long long)s.d[i]);
    b[i][0] = pb < 0 ? -pb : 0, b[i][1] = pa + s.d[i] < s.d[i] ? pa + s.d[i] : s.d[i];
  }
  return tgt_shrink(S, x, (const int64_t(*)[2])b, n);
}

tg_tv tgt_pad_circular(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n) {
  tg_tv X = shrink_negative(S, x, pads, n);
  tgt_shape o, r;
  if (tgt_shape_of(S, X, &o)) return TGT_NONE;
  int64_t p[TGT_MAXD][2], rep[TGT_MAXD] = {0}, b[TGT_MAXD][2];
  for (size_t i = 0; i < n; i++) {
    p[i][0] = pads[i][0] > 0 ? pads[i][0] : 0, p[i][1] = pads[i][1] > 0 ? pads[i][1] : 0;
    if (p[i][0] > o.d[i] || p[i][1] > o.d[i]) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "Padding value causes wrapping around more than once.");
    rep[i] = 1 + (p[i][0] != 0) + (p[i][1] != 0);
  }
  X = tgt_repeat(S, X, rep, n);
  if (tgt_shape_of(S, X, &r)) return TGT_NONE;
  for (size_t i = 0; i < n; i++)
    b[i][0] = p[i][0] == 0 ? 0 : o.d[i] - p[i][0], b[i][1] = p[i][1] == 0 ? r.d[i] : r.d[i] - o.d[i] + p[i][1];
  return tgt_shrink(S, X, (const int64_t(*)[2])b, n);
}

tg_tv tgt_pad_reflect_replicate(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n, int reflect) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != n) return tgt_fail(S, TG_ERR_SHAPE, "self.ndim=%u != len(arg)=%zu", s.n, n);
  tg_tv X = x;
  for (size_t d = 0; d < n; d++) {
    int64_t pb = pads[d][0] > 0 ? pads[d][0] : 0, pa = pads[d][1] > 0 ? pads[d][1] : 0;
    if (tgt_shape_of(S, X, &s)) return TGT_NONE;
    int64_t sz = s.d[d];
    tg_tv pieces[3];
    size_t np = 0;
    if (reflect) {
      if (pb >= sz || pa >= sz)
        return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "Padding (%lld, %lld) should be less than the input size=%lld for dim=%zu.", (long long)pb,
                        (long long)pa, (long long)sz, d);
      /* X[..., pB:0:-1, ...] and X[..., s-2:s-2-pA:-1, ...] (stop None when s-2-pA < 0) */
      tgt_index ix[TGT_MAXD];
      for (size_t i = 0; i < n; i++) ix[i] = (tgt_index){.kind = TG_INDEX_SLICE};
      if (pb > 0) {
        ix[d] = (tgt_index){.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_START | TG_INDEX_HAS_STOP | TG_INDEX_HAS_STEP, .start = pb, .stop = 0, .step = -1};
        pieces[np++] = tgt_getitem(S, X, ix, n, TGT_NONE);
      }
      pieces[np++] = X;
      if (pa > 0) {
        int64_t stop = sz - 2 - pa;
        ix[d] = (tgt_index){.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_START | TG_INDEX_HAS_STEP | (stop >= 0 ? TG_INDEX_HAS_STOP : 0),
                            .start = sz - 2, .stop = stop, .step = -1};
        pieces[np++] = tgt_getitem(S, X, ix, n, TGT_NONE);
      }
    } else {
      /* X.shrink((0, 1) at d).expand(pB at d), X.shrink((s-1, s) at d).expand(pA at d) */
      int64_t b[TGT_MAXD][2], e[TGT_MAXD];
      for (size_t i = 0; i < n; i++) b[i][0] = 0, b[i][1] = s.d[i], e[i] = TGT_NONE_DIM;
      if (pb > 0) {
        b[d][0] = 0, b[d][1] = 1, e[d] = pb;
        pieces[np++] = tgt_expand(S, tgt_shrink(S, X, (const int64_t(*)[2])b, n), e, n);
      }
      pieces[np++] = X;
      if (pa > 0) {
        b[d][0] = sz - 1, b[d][1] = sz, e[d] = pa;
        pieces[np++] = tgt_expand(S, tgt_shrink(S, X, (const int64_t(*)[2])b, n), e, n);
      }
    }
    X = tgt_cat(S, pieces, np, (int64_t)d);
  }
  /* negative pads shrink after: reflection and replication must see the full data first */
  return shrink_negative(S, X, pads, n);
}

TG_API tg_status tg_tensor_pad_mode(tg_tensor *x, const int64_t *pads, size_t ndim, tg_pad_mode mode, tg_tensor *value, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_pad: out is NULL");
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st || (st = tgt_check_vals(pads, ndim, 2, "tg_tensor_pad", "pads"))) return st;
  if ((unsigned)mode > TG_PAD_CIRCULAR) return tg_err(TG_ERR_UNSUPPORTED, "mode=%d is not supported", (int)mode);
  tgt_py v, *pv = NULL;
  if (value && mode == TG_PAD_CONSTANT) {
    if ((st = tgt_py_operand(value, "pad", "value", &v))) return st;
    pv = &v;
  }
  tgt_scope S = {0};
  tgt_shape sh;
  if (tgt_shape_of(&S, a, &sh)) return tgt_scope_end(&S), S.st;
  if (ndim != sh.n) {
    char b[1024];
    tg_sb sb = tg_sb_fixed(b, sizeof b);
    tg_sb_puts(&sb, "(");
    for (size_t i = 0; i < ndim; i++) tg_sb_printf(&sb, "%s(%lld, %lld)", i ? ", " : "", (long long)pads[2 * i], (long long)pads[2 * i + 1]);
    tg_sb_puts(&sb, ndim == 1 ? ",)" : ")");
    tgt_scope_end(&S);
    return tg_err(TG_ERR_SHAPE, "padding length is improper, padding=%s self.ndim=%u", b, sh.n);
  }
  const int64_t(*p)[2] = (const int64_t(*)[2])pads;
  tg_tv r = mode == TG_PAD_CONSTANT   ? tgt_pad_constant(&S, a, p, ndim, pv)
            : mode == TG_PAD_CIRCULAR ? tgt_pad_circular(&S, a, p, ndim)
                                      : tgt_pad_reflect_replicate(&S, a, p, ndim, mode == TG_PAD_REFLECT);
  return tgt_finish_public(&S, r, out);
}

/* ---------------- flatten, unflatten ---------------- */

/* Python's index a into a tuple of n for a slice bound: negative counts from the end; clamped to [0, n]. */
static size_t py_bound(int64_t a, size_t n) {
  if (a < 0) a += (int64_t)n;
  return a < 0 ? 0 : (uint64_t)a > n ? n : (size_t)a;
}

tg_tv tgt_flatten(tgt_scope *S, tg_tv x, int64_t start_dim, int64_t end_dim) {
  tgt_shape s;
  int64_t a, b, ns[TGT_MAXD], p = 1;
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, start_dim, s.n, 0, &a) || tgt_resolve_dim(S, end_dim, s.n, 0, &b)) return TGT_NONE;
  if (s.n + 1 > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  /* shape[:start] + (prod(shape[start:end+1]),) + shape[end+1:] */
  size_t lo = py_bound(a, s.n), hi = py_bound(b + 1, s.n), k = 0;
  for (size_t i = 0; i < lo; i++) ns[k++] = s.d[i];
  for (size_t i = lo; i < hi; i++)
    if (__builtin_mul_overflow(p, s.d[i], &p)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "shape product overflows int64");
  ns[k++] = p;
  for (size_t i = hi; i < s.n; i++) ns[k++] = s.d[i];
  return tgt_reshape(S, x, ns, k);
}

tg_tv tgt_unflatten(tgt_scope *S, tg_tv x, int64_t dim, const int64_t *sizes, size_t n) {
  tgt_shape s;
  int64_t d, ns[TGT_MAXD];
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, dim, s.n, 0, &d)) return TGT_NONE;
  if (s.n + n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  size_t k = 0;
  for (int64_t i = 0; i < d && i < (int64_t)s.n; i++) ns[k++] = s.d[i];
  for (size_t i = 0; i < n; i++) ns[k++] = sizes[i];
  for (size_t i = (size_t)d + 1; i < s.n; i++) ns[k++] = s.d[i];
  return tgt_reshape(S, x, ns, k);
}

/* ---------------- split, chunk ---------------- */

int64_t *tgt_split_sizes(tgt_scope *S, tg_tv x, int64_t size, const int64_t *sizes, size_t nsizes, int64_t *dim, size_t *n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, *dim, s.n, 0, dim)) return NULL;
  if (!s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"), NULL; /* self.shape[dim] of a 0-d self */
  int64_t dsz = s.d[*dim], step = size > 1 ? size : 1, span = dsz > 1 ? dsz : 1;
  /* [min(size, dim_sz - i) for i in range(0, max(1, dim_sz), max(1, size))] */
  size_t cnt = sizes ? nsizes : (size_t)tgt_ceildiv(span, step);
  if (cnt > ((size_t)1 << 24)) return tgt_fail(S, TG_ERR_UNSUPPORTED, "split: %zu pieces (at most 2**24)", cnt), NULL;
  int64_t *v = malloc((cnt ? cnt : 1) * sizeof *v);
  if (!v) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "split: out of memory"), NULL;
  __int128 sum = 0;
  for (size_t i = 0; i < cnt; i++) {
    int64_t rest = sizes ? 0 : dsz - (int64_t)i * step; /* i * step < max(1, dim_sz) in the int form */
    v[i] = sizes ? sizes[i] : size < rest ? size : rest;
    sum += v[i];
  }
  if (sum != dsz) {
    free(v);
    if (sum > INT64_MAX || sum < INT64_MIN) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "expect sizes to sum exactly to %lld, but got more than 2**63", (long long)dsz), NULL;
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "expect sizes to sum exactly to %lld, but got %lld", (long long)dsz, (long long)sum), NULL;
  }
  *n = cnt;
  return v;
}

/* The pieces of x.split(...) (see tg_tensor_split): all built into a malloc'd array when cap allows. */
static tg_status split_public(tg_tensor *x, int64_t size, const int64_t *sizes, size_t nsizes, int64_t dim, tg_tensor **outs, size_t cap,
                              size_t *nout, const char *fn) {
  if (!nout) return tg_err(TG_ERR_NULL_POINTER, "%s: nout is NULL", fn);
  if (cap && !outs) return tg_err(TG_ERR_NULL_POINTER, "%s: outs is NULL with cap=%zu", fn, cap);
  if (nsizes && !sizes) return tg_err(TG_ERR_NULL_POINTER, "%s: sizes is NULL with nsizes=%zu", fn, nsizes);
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st) return st;
  tgt_scope S = {0};
  size_t n = 0;
  int64_t *v = tgt_split_sizes(&S, a, size, sizes, nsizes, &dim, &n);
  if (!v) return tgt_scope_end(&S), S.st;
  *nout = n;
  if (cap < n) return free(v), tgt_scope_end(&S), TG_OK;
  tg_tv *r = malloc((n ? n : 1) * sizeof *r);
  if (!r) return free(v), tgt_scope_end(&S), tg_err(TG_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  int64_t off = 0;
  for (size_t i = 0; i < n && !S.st; i++) {
    int64_t end;
    if (__builtin_add_overflow(off, v[i], &end)) {
      tgt_fail(&S, TG_ERR_OUT_OF_RANGE, "split: the sizes' running sum overflows int64");
      break;
    }
    r[i] = tgt_split_at(&S, a, dim, off, v[i]);
    off = end;
  }
  st = tgt_finish_many(&S, r, n, outs);
  free(r), free(v);
  return st;
}

TG_API tg_status tg_tensor_split(tg_tensor *x, int64_t size, const int64_t *sizes, size_t nsizes, int64_t dim, tg_tensor **outs, size_t cap,
                                 size_t *nout) {
  return split_public(x, size, sizes, sizes ? nsizes : 0, dim, outs, cap, nout, "tg_tensor_split");
}

TG_API tg_status tg_tensor_chunk(tg_tensor *x, int64_t chunks, int64_t dim, tg_tensor **outs, size_t cap, size_t *nout) {
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st) return st;
  tgt_scope S = {0};
  tgt_shape s;
  int64_t d;
  if (tgt_shape_of(&S, a, &s) || tgt_resolve_dim(&S, dim, s.n, 0, &d)) return tgt_scope_end(&S), S.st;
  tgt_scope_end(&S);
  if (!s.n) return tg_err(TG_ERR_OUT_OF_RANGE, "tuple index out of range");
  if (chunks <= 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "expect chunks to be greater than 0, got: %lld", (long long)chunks);
  int64_t dsz = s.d[d];
  if (dsz) return split_public(x, tgt_ceildiv(dsz, chunks), NULL, 0, d, outs, cap, nout, "tg_tensor_chunk");
  if ((uint64_t)chunks > (1u << 20)) return tg_err(TG_ERR_UNSUPPORTED, "chunk: %lld chunks of an empty dim (at most 2**20)", (long long)chunks);
  int64_t *zeros = calloc((size_t)chunks, sizeof *zeros); /* [0] * chunks */
  if (!zeros) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_tensor_chunk: out of memory");
  st = split_public(x, 0, zeros, (size_t)chunks, d, outs, cap, nout, "tg_tensor_chunk");
  free(zeros);
  return st;
}

/* ---------------- diag, diagonal, roll, repeat_interleave, meshgrid ---------------- */

tg_tv tgt_diag(tgt_scope *S, tg_tv x) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n != 1) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "expect input to be 1-D, getting %u-D", s.n);
  int64_t n = s.d[0], nn, to[2] = {TGT_NONE_DIM, n < INT64_MAX ? 1 + n : n};
  if (__builtin_mul_overflow(n, n, &nn)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "diag: %lld squared overflows int64", (long long)n);
  /* unsqueeze(-1).pad_to((None, 1+n)).flatten().shrink_to((n*n,)).reshape(n, n) */
  tg_tv r = tgt_flatten(S, tgt_pad_to(S, tgt_unsqueeze(S, x, -1), to, 2), 0, -1);
  return tgt_reshape(S, tgt_shrink_to(S, r, &nn, 1), (int64_t[]){n, n}, 2);
}

tg_tv tgt_diagonal(tgt_scope *S, tg_tv x, int64_t offset, int64_t dim1, int64_t dim2) {
  tgt_shape s;
  int64_t d1, d2, perm[TGT_MAXD], b[TGT_MAXD][2], sh[TGT_MAXD];
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, dim1, s.n, 0, &d1) || tgt_resolve_dim(S, dim2, s.n, 0, &d2)) return TGT_NONE;
  if (d1 == d2) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "dim1 and dim2 cannot be the same dimension");
  size_t k = 0;
  for (int64_t i = 0; i < (int64_t)s.n; i++)
    if (i != d1 && i != d2) perm[k++] = i;
  perm[k++] = d1, perm[k++] = d2;
  if (k != s.n) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "order is not a valid permutation"); /* dims 0 and 1 of a 0-d x */
  x = tgt_permute(S, x, perm, k);
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  size_t n = s.n, m = n - 2;
  for (size_t i = 0; i < n; i++) b[i][0] = 0, b[i][1] = s.d[i];
  if (offset >= 0) b[n - 1][0] = offset;
  else b[n - 2][0] = offset == INT64_MIN ? INT64_MAX : -offset;
  x = tgt_shrink(S, x, (const int64_t(*)[2])b, n);
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t d = s.d[n - 2] < s.d[n - 1] ? s.d[n - 2] : s.d[n - 1];
  for (size_t i = 0; i < m; i++) sh[i] = s.d[i];
  if (d <= 0) return sh[m] = 0, tgt_reshape(S, x, sh, m + 1);
  int64_t dd;
  if (__builtin_mul_overflow(d, d + 1, &dd)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "diagonal: %lld * %lld overflows int64", (long long)d, (long long)d + 1);
  for (size_t i = 0; i < m; i++) sh[i] = TGT_NONE_DIM;
  sh[m] = d, sh[m + 1] = d;
  x = tgt_flatten(S, tgt_shrink_to(S, x, sh, m + 2), -2, -1);
  sh[m] = dd;
  x = tgt_unflatten(S, tgt_pad_to(S, x, sh, m + 1), -1, (int64_t[]){d, d + 1}, 2);
  sh[m] = TGT_NONE_DIM, sh[m + 1] = 1;
  return tgt_squeeze(S, tgt_shrink_to(S, x, sh, m + 2), -1);
}

tg_tv tgt_roll(tgt_scope *S, tg_tv x, const int64_t *shifts, size_t ns, const int64_t *dims, size_t nd) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (!dims) return tgt_reshape(S, tgt_roll(S, tgt_flatten(S, x, 0, -1), shifts, ns, (int64_t[]){0}, 1), s.d, s.n);
  int64_t d[TGT_MAXD], rep[TGT_MAXD], b[TGT_MAXD][2];
  if (nd > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "roll: %zu dims (at most %d)", nd, TGT_MAXD);
  for (size_t i = 0; i < nd; i++)
    if (tgt_resolve_dim(S, dims[i], s.n, 0, &d[i])) return TGT_NONE;
  if (nd != ns) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "len(dims)=%zu != len(shifts)=%zu", nd, ns);
  for (size_t i = 0; i < s.n; i++)
    if (s.d[i] == 0) return x;
  for (size_t i = 0; i < s.n; i++) rep[i] = 1, b[i][0] = 0, b[i][1] = s.d[i];
  for (size_t i = 0; i < nd; i++) {
    if (d[i] < 0 || d[i] >= (int64_t)s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"); /* self.shape[d] of a 0-d x */
    int64_t n = s.d[d[i]], delta = n - (shifts[i] - tgt_floordiv(shifts[i], n) * n); /* shape[d] - shift % shape[d] */
    if (n > INT64_MAX / 2) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "roll: a dim of %lld is too large to repeat", (long long)n);
    rep[d[i]] = 2, b[d[i]][0] = delta, b[d[i]][1] = delta + n;
  }
  return tgt_shrink(S, tgt_repeat(S, x, rep, s.n), (const int64_t(*)[2])b, s.n);
}

tg_tv tgt_repeat_interleave(tgt_scope *S, tg_tv x, int64_t repeats, const int64_t *dim) {
  tgt_shape s;
  int64_t d = 0, a[TGT_MAXD], b[TGT_MAXD], c[TGT_MAXD];
  if (!dim) x = tgt_flatten(S, x, 0, -1);
  if (tgt_shape_of(S, x, &s) || (dim && tgt_resolve_dim(S, *dim, s.n, 0, &d))) return TGT_NONE;
  if (d < 0 || d >= (int64_t)s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"); /* shp[dim] of a 0-d x */
  if (s.n + 1 > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  /* reshape(*shp[:dim+1], 1, *shp[dim+1:]).expand(*shp[:dim+1], repeats, *shp[dim+1:]).reshape(.., shp[dim]*repeats, ..) */
  size_t k = 0;
  for (size_t i = 0; i < s.n; i++) {
    a[k] = b[k] = s.d[i], k++;
    if ((int64_t)i == d) a[k] = 1, b[k] = repeats, k++;
    if (__builtin_mul_overflow(s.d[i], (int64_t)i == d ? repeats : 1, &c[i]))
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "repeat_interleave: %lld * %lld overflows int64", (long long)s.d[i], (long long)repeats);
  }
  return tgt_reshape(S, tgt_expand(S, tgt_reshape(S, x, a, k), b, k), c, s.n);
}

int tgt_meshgrid(tgt_scope *S, const tg_tv *ts, size_t n, int xy, tg_tv *out) {
  if (S->st) return -1;
  if (n == 1) return out[0] = ts[0], 0;
  if (n + 1 > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "meshgrid: %zu tensors (at most %d)", n, TGT_MAXD - 1), -1;
  /* t.reshape((-1,) + (1,) * (len(args) - i)) with i from the basis (1, 0, 2, ... for "xy") */
  int64_t sh[TGT_MAXD], full[TGT_MAXD];
  size_t nmax = 0;
  tgt_shape s[TGT_MAXD];
  for (size_t k = 0; k < n; k++) {
    size_t i = xy && k < 2 ? 1 - k : k, nd = 1 + (n - 1 - i);
    sh[0] = -1;
    for (size_t j = 1; j < nd; j++) sh[j] = 1;
    out[k] = tgt_reshape(S, ts[k], sh, nd);
    if (tgt_shape_of(S, out[k], &s[k])) return -1;
    if (s[k].n > nmax) nmax = s[k].n;
  }
  /* _broadcast_shape: per right-aligned dim, the one size that is not 1 */
  for (size_t j = 0; j < nmax; j++) {
    int64_t v = 1;
    for (size_t k = 0; k < n; k++) {
      size_t pad = nmax - s[k].n;
      int64_t d = j < pad ? 1 : s[k].d[j - pad];
      if (d == 1) continue;
      if (v != 1 && v != d) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "shape mismatch: objects cannot be broadcast to a single shape"), -1;
      v = d;
    }
    full[j] = v;
  }
  for (size_t k = 0; k < n; k++) out[k] = tgt_broadcast_to(S, out[k], full, nmax);
  return S->st ? -1 : 0;
}

/* ---------------- unfold ---------------- */

tg_tv tgt_unfold(tgt_scope *S, tg_tv x, int64_t dim, int64_t size, int64_t step) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (size < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "size must be >= 0 but got size=%lld", (long long)size);
  if (step <= 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "step must be > 0 but got step=%lld", (long long)step);
  if (dim < -(int64_t)s.n || dim >= (int64_t)s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"); /* self.shape[dim] */
  int64_t dsz = s.d[dim < 0 ? dim + s.n : dim], d, perm[TGT_MAXD], inv[TGT_MAXD];
  if (size > dsz)
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "maximum size for tensor at dimension %lld is %lld but size is %lld", (long long)dim, (long long)dsz,
                    (long long)size);
  if (tgt_resolve_dim(S, dim, s.n, 0, &d)) return TGT_NONE;
  if (dsz == 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "integer division or modulo by zero"); /* _pool's ceildiv(o*s - d, i) */
  size_t k = 0;
  for (int64_t i = 0; i < (int64_t)s.n; i++)
    if (i != d) perm[k++] = i;
  perm[k++] = d;
  for (size_t i = 0; i < k; i++) inv[perm[i]] = (int64_t)i; /* argsort(perm_to_last) */
  inv[k] = (int64_t)s.n;
  return tgt_permute(S, tgt_pool(S, tgt_permute(S, x, perm, k), &size, 1, step, 1), inv, k + 1);
}

/* ---------------- rearrange: einops' formula, parsed as tinygrad's parse_side does ---------------- */

/* Python's s.replace(from, to): non-overlapping, left to right. A malloc'd string, NULL when out of memory. */
static char *str_replace(const char *s, const char *from, const char *to) {
  size_t nf = strlen(from), nt = strlen(to), cnt = 0;
  for (const char *p = s; (p = strstr(p, from)); p += nf) cnt++;
  char *r = malloc(strlen(s) + cnt * (nt > nf ? nt - nf : 0) + 1), *w = r;
  if (!r) return NULL;
  for (const char *p = s, *q; ; p = q + nf) {
    if (!(q = strstr(p, from))) { strcpy(w, p); break; }
    memcpy(w, p, (size_t)(q - p)), w += q - p;
    memcpy(w, to, nt), w += nt;
  }
  return r;
}

/* Python's str.split() separators (the ASCII part of Unicode's whitespace). */
static int py_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

typedef struct rr_side {
  char *buf;     /* the tokens, NUL-separated */
  char **names;  /* the axis names: tokens other than "(" and ")" */
  size_t n;
  int64_t (*groups)[2]; /* (start, end) in names of each parenthesised group */
  size_t ngroups;
} rr_side;

static void rr_free(rr_side *s) { free(s->buf), free(s->names), free(s->groups), *s = (rr_side){0}; }

/* parse_side: " {s} " with "…" as "...", spaces around parens, doubled spaces, a lone "1" as "( )", split. */
static int rr_parse(tgt_scope *S, const char *side, size_t len, rr_side *out) {
  char *t0 = malloc(len + 3);
  if (!t0) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rearrange: out of memory"), -1;
  t0[0] = ' ', memcpy(t0 + 1, side, len), t0[len + 1] = ' ', t0[len + 2] = 0;
  static const char *const rep[][2] = {{"\xe2\x80\xa6", "..."}, {"(", " ( "}, {")", " ) "}, {" ", "  "}, {" 1 ", " ( ) "}};
  for (size_t i = 0; i < sizeof rep / sizeof rep[0] && t0; i++) {
    char *t1 = str_replace(t0, rep[i][0], rep[i][1]);
    free(t0), t0 = t1;
  }
  if (!t0) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rearrange: out of memory"), -1;
  size_t cap = strlen(t0) / 2 + 1, ntok = 0, nl = 0, nr = 0;
  char **tok = malloc(cap * sizeof *tok);
  size_t *lp = malloc(cap * sizeof *lp), *rp = malloc(cap * sizeof *rp);
  *out = (rr_side){t0, malloc(cap * sizeof(char *)), 0, malloc(cap * sizeof(int64_t[2])), 0};
  int ok = tok && lp && rp && out->names && out->groups;
  for (char *p = t0; ok && *p;) {
    while (*p && py_space((unsigned char)*p)) *p++ = 0;
    if (!*p) break;
    tok[ntok++] = p;
    while (*p && !py_space((unsigned char)*p)) p++;
  }
  for (size_t i = 0; ok && i < ntok; i++) {
    if (!strcmp(tok[i], "(")) lp[nl++] = i;
    else if (!strcmp(tok[i], ")")) rp[nr++] = i;
    else out->names[out->n++] = tok[i];
  }
  /* len(lparens) == len(rparens) and the pairs in order: l0 < r0 < l1 < r1 < ... */
  int bad = nl != nr;
  for (size_t i = 0; ok && !bad && i < nl; i++) bad = lp[i] > rp[i] || (i + 1 < nl && rp[i] > lp[i + 1]);
  for (size_t i = 0; ok && !bad && i < nl; i++) out->groups[i][0] = (int64_t)(lp[i] - 2 * i), out->groups[i][1] = (int64_t)(rp[i] - 1 - 2 * i);
  out->ngroups = nl;
  free(tok), free(lp), free(rp);
  if (!ok) return rr_free(out), tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rearrange: out of memory"), -1;
  if (bad) return rr_free(out), tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "bracket mismatch"), -1;
  return 0;
}

static long rr_find(char *const *v, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], name)) return (long)i;
  return -1;
}

static int rr_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* name.isidentifier() and "_" not in (name[0], name[-1]); bytes past ASCII count as identifier characters. */
static int rr_valid_name(const char *s) {
  size_t n = strlen(s);
  if (!strcmp(s, "...")) return 1;
  if (!n || s[0] == '_' || s[n - 1] == '_' || (s[0] >= '0' && s[0] <= '9')) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(c >= 0x80 || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) return 0;
  }
  return 1;
}

/* Replaces "..." in a side's names by "...0" .. "...{ell-1}" (strings in *store) and shifts the groups after it. */
static int rr_expand_ellipsis(tgt_scope *S, rr_side *sd, int64_t ell, char (*store)[24]) {
  long at = rr_find(sd->names, sd->n, "...");
  if (at < 0) return 0;
  size_t add = ell > 0 ? (size_t)ell : 0, nn = sd->n - 1 + add;
  char **names = malloc((nn ? nn : 1) * sizeof *names);
  if (!names) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rearrange: out of memory"), -1;
  size_t k = 0;
  for (long i = 0; i < at; i++) names[k++] = sd->names[i];
  for (size_t j = 0; j < add; j++) names[k++] = store[j];
  for (size_t i = (size_t)at + 1; i < sd->n; i++) names[k++] = sd->names[i];
  free(sd->names), sd->names = names, sd->n = nn;
  /* newdims: s and e move by ell - 1 when "...0" is among the names before them */
  for (size_t g = 0; g < sd->ngroups; g++)
    for (int j = 0; j < 2; j++)
      if (add && at < sd->groups[g][j]) sd->groups[g][j] += ell - 1;
  return 0;
}

tg_tv tgt_rearrange(tgt_scope *S, tg_tv x, const char *formula, const char *const *names, const int64_t *sizes, size_t nsz) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  const char *arrow = strstr(formula, "->");
  if (!arrow || strstr(arrow + 2, "->")) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "need exactly one \"->\" in formula");
  rr_side L = {0}, R = {0};
  char(*store)[24] = NULL;
  tg_tv t = TGT_NONE;
  if (rr_parse(S, formula, (size_t)(arrow - formula), &L) || rr_parse(S, arrow + 2, strlen(arrow + 2), &R)) goto done;
  for (size_t i = 0; i < nsz; i++)
    if (rr_find(L.names, L.n, names[i]) < 0) { tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "axis %s is not used in transform", names[i]); goto done; }
  int same = L.n == R.n;
  if (same) { /* sorted(lhs) == sorted(rhs) and len(lhs) == len(set(lhs)) */
    char **a = malloc((L.n + 1) * sizeof *a), **b = malloc((L.n + 1) * sizeof *b);
    if (!a || !b) { free(a), free(b), tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rearrange: out of memory"); goto done; }
    memcpy(a, L.names, L.n * sizeof *a), memcpy(b, R.names, L.n * sizeof *b);
    qsort(a, L.n, sizeof *a, rr_cmp), qsort(b, L.n, sizeof *b, rr_cmp);
    for (size_t i = 0; same && i < L.n; i++) same = !strcmp(a[i], b[i]) && (i == 0 || strcmp(a[i], a[i - 1]));
    free(a), free(b);
  }
  if (!same) { tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "name mismatch in %s", formula); goto done; }
  for (size_t i = 0; i < L.n + R.n; i++) {
    const char *nm = i < L.n ? L.names[i] : R.names[i - L.n];
    if (!rr_valid_name(nm)) { tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid axis name %s", nm); goto done; }
  }
  for (size_t g = 0; g < L.ngroups; g++)
    for (int64_t i = L.groups[g][0]; i < L.groups[g][1]; i++)
      if (i >= 0 && i < (int64_t)L.n && !strcmp(L.names[i], "...")) {
        tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "cannot have collapsed ellipsis (...) in lhs of %s", formula);
        goto done;
      }
  if (rr_find(L.names, L.n, "...") >= 0) {
    int64_t ell = (int64_t)s.n - (int64_t)L.n + 1;
    for (size_t g = 0; g < L.ngroups; g++) ell += L.groups[g][1] - L.groups[g][0] - 1;
    if (ell > TGT_MAXD) { tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD); goto done; }
    if (!(store = malloc((ell > 0 ? (size_t)ell : 1) * sizeof *store))) { tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rearrange: out of memory"); goto done; }
    for (int64_t j = 0; j < ell; j++) snprintf(store[j], sizeof store[j], "...%lld", (long long)j);
    if (rr_expand_ellipsis(S, &L, ell, store) || rr_expand_ellipsis(S, &R, ell, store)) goto done;
  }
  /* unflatten -> permute -> flatten */
  t = x;
  for (size_t g = 0; g < L.ngroups && t.u; g++) {
    int64_t st = L.groups[g][0], en = L.groups[g][1], us[TGT_MAXD];
    if (en - st > TGT_MAXD) { t = tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD); break; }
    for (int64_t i = st; i < en; i++) {
      long k = i >= 0 && i < (int64_t)L.n ? rr_find((char *const *)names, nsz, L.names[i]) : -1;
      us[i - st] = k >= 0 ? sizes[k] : -1;
    }
    t = tgt_unflatten(S, t, st, us, (size_t)(en > st ? en - st : 0));
  }
  if (!t.u || tgt_shape_of(S, t, &s)) { t = TGT_NONE; goto done; }
  for (size_t i = 0; i < L.n; i++) {
    long k = rr_find((char *const *)names, nsz, L.names[i]);
    if (k < 0) continue;
    if (i >= s.n) { t = tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"); goto done; }
    if (sizes[k] != s.d[i]) { t = tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "size provided for dimension %s incorrect", L.names[i]); goto done; }
  }
  int64_t perm[TGT_MAXD];
  if (R.n > TGT_MAXD) { t = tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD); goto done; }
  for (size_t i = 0; i < R.n; i++) perm[i] = rr_find(L.names, L.n, R.names[i]);
  t = tgt_permute(S, t, perm, R.n);
  for (size_t g = R.ngroups; g-- > 0 && t.u;) {
    int64_t st = R.groups[g][0], en = R.groups[g][1];
    t = st < en ? tgt_flatten(S, t, st, en - 1) : tgt_unsqueeze(S, t, st);
  }
done:
  rr_free(&L), rr_free(&R), free(store);
  return S->st ? TGT_NONE : t;
}

/* ---------------- public wrappers ---------------- */

#define ONE_X(fn)                                                                                                      \
  if (!out) return tg_err(TG_ERR_NULL_POINTER, fn ": out is NULL");                                                   \
  tg_tv a;                                                                                                             \
  tg_status st_ = tgt_tensor_get(x, "x", &a);                                                                          \
  if (st_) return st_;                                                                                                 \
  tgt_scope S = {0}

TG_API tg_status tg_tensor_flatten(tg_tensor *x, int64_t start_dim, int64_t end_dim, tg_tensor **out) {
  ONE_X("tg_tensor_flatten");
  return tgt_finish_public(&S, tgt_flatten(&S, a, start_dim, end_dim), out);
}

TG_API tg_status tg_tensor_unflatten(tg_tensor *x, int64_t dim, const int64_t *sizes, size_t n, tg_tensor **out) {
  ONE_X("tg_tensor_unflatten");
  if ((st_ = tgt_check_vals(sizes, n, 1, "tg_tensor_unflatten", "sizes"))) return st_;
  return tgt_finish_public(&S, tgt_unflatten(&S, a, dim, sizes, n), out);
}

TG_API tg_status tg_tensor_squeeze(tg_tensor *x, const int64_t *dim, tg_tensor **out) {
  ONE_X("tg_tensor_squeeze");
  if (dim) return tgt_finish_public(&S, tgt_squeeze(&S, a, *dim), out);
  tgt_shape s; /* every size-1 dim */
  int64_t ns[TGT_MAXD];
  size_t k = 0;
  if (tgt_shape_of(&S, a, &s)) return tgt_scope_end(&S), S.st;
  for (size_t i = 0; i < s.n; i++)
    if (s.d[i] != 1) ns[k++] = s.d[i];
  return tgt_finish_public(&S, tgt_reshape(&S, a, ns, k), out);
}

TG_API tg_status tg_tensor_unsqueeze(tg_tensor *x, int64_t dim, tg_tensor **out) {
  ONE_X("tg_tensor_unsqueeze");
  return tgt_finish_public(&S, tgt_unsqueeze(&S, a, dim), out);
}

TG_API tg_status tg_tensor_transpose(tg_tensor *x, int64_t dim0, int64_t dim1, tg_tensor **out) {
  ONE_X("tg_tensor_transpose");
  return tgt_finish_public(&S, tgt_transpose(&S, a, dim0, dim1), out);
}

TG_API tg_status tg_tensor_shrink_to(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor **out) {
  ONE_X("tg_tensor_shrink_to");
  if ((st_ = tgt_check_vals(shape, ndim, 1, "tg_tensor_shrink_to", "shape"))) return st_;
  return tgt_finish_public(&S, tgt_shrink_to(&S, a, shape, ndim), out);
}

TG_API tg_status tg_tensor_pad_to(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor *value, tg_tensor **out) {
  ONE_X("tg_tensor_pad_to");
  tgt_py v;
  if ((st_ = tgt_check_vals(shape, ndim, 1, "tg_tensor_pad_to", "shape")) || (value && (st_ = tgt_py_operand(value, "tg_tensor_pad_to", "value", &v))))
    return st_;
  return tgt_finish_public(&S, tgt_pad_to_value(&S, a, shape, ndim, value ? &v : NULL), out);
}

TG_API tg_status tg_tensor_repeat(tg_tensor *x, const int64_t *repeats, size_t n, tg_tensor **out) {
  ONE_X("tg_tensor_repeat");
  if ((st_ = tgt_check_vals(repeats, n, 1, "tg_tensor_repeat", "repeats"))) return st_;
  return tgt_finish_public(&S, tgt_repeat(&S, a, repeats, n), out);
}

TG_API tg_status tg_tensor_repeat_interleave(tg_tensor *x, int64_t repeats, const int64_t *dim, tg_tensor **out) {
  ONE_X("tg_tensor_repeat_interleave");
  return tgt_finish_public(&S, tgt_repeat_interleave(&S, a, repeats, dim), out);
}

TG_API tg_status tg_tensor_roll(tg_tensor *x, const int64_t *shifts, size_t nshifts, const int64_t *dims, size_t ndims, tg_tensor **out) {
  ONE_X("tg_tensor_roll");
  if ((st_ = tgt_check_vals(shifts, nshifts, 1, "tg_tensor_roll", "shifts")) || (dims && (st_ = tgt_check_vals(dims, ndims, 1, "tg_tensor_roll", "dims"))))
    return st_;
  return tgt_finish_public(&S, tgt_roll(&S, a, shifts, nshifts, dims, dims ? ndims : 0), out);
}

TG_API tg_status tg_tensor_diag(tg_tensor *x, tg_tensor **out) {
  ONE_X("tg_tensor_diag");
  return tgt_finish_public(&S, tgt_diag(&S, a), out);
}

TG_API tg_status tg_tensor_diagonal(tg_tensor *x, int64_t offset, int64_t dim1, int64_t dim2, tg_tensor **out) {
  ONE_X("tg_tensor_diagonal");
  return tgt_finish_public(&S, tgt_diagonal(&S, a, offset, dim1, dim2), out);
}

TG_API tg_status tg_tensor_unfold(tg_tensor *x, int64_t dim, int64_t size, int64_t step, tg_tensor **out) {
  ONE_X("tg_tensor_unfold");
  return tgt_finish_public(&S, tgt_unfold(&S, a, dim, size, step), out);
}

TG_API tg_status tg_tensor_rearrange(tg_tensor *x, const char *formula, const char *const *names, const int64_t *sizes, size_t n, tg_tensor **out) {
  ONE_X("tg_tensor_rearrange");
  if (!formula) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_rearrange: formula is NULL");
  if (n && (!names || !sizes)) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_rearrange: names or sizes is NULL with n=%zu", n);
  for (size_t i = 0; i < n; i++)
    if (!names[i]) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_rearrange: names[%zu] is NULL", i);
  return tgt_finish_public(&S, tgt_rearrange(&S, a, formula, names, sizes, n), out);
}

TG_API tg_status tg_tensor_meshgrid(tg_tensor *const *tensors, size_t n, int xy, tg_tensor **outs) {
  if (!outs || !tensors) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_meshgrid: tensors or outs is NULL");
  if (!n) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_meshgrid: no tensors");
  if (n >= TGT_MAXD) return tg_err(TG_ERR_UNSUPPORTED, "tg_tensor_meshgrid: %zu tensors (at most %d)", n, TGT_MAXD - 1);
  tg_tv v[TGT_MAXD], r[TGT_MAXD];
  for (size_t i = 0; i < n; i++) {
    char what[32];
    snprintf(what, sizeof what, "tensors[%zu]", i);
    tg_status st = tgt_tensor_get(tensors[i], what, &v[i]);
    if (st) return st;
  }
  tgt_scope S = {0};
  tgt_meshgrid(&S, v, n, xy, r);
  return tgt_finish_many(&S, r, n, outs);
}
