/* tensor/movement.c -- tinygrad 0.14.0's mixin/movement.py over UOp._mop: the six movement ops with their argument
** checks and messages, broadcasting by reshape + left EXPAND + permute (_broadcast_to), OpMixin's constant pad, and
** the shape plumbing _pool is built from (repeat, shrink_to, pad_to). Shapes are concrete here: a dim value of
** TGT_NONE_DIM stands for Python's None in shrink_to/reshape arguments. */
#include <stdint.h>
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
  if (same_shape(&s, ns, nn)) return x;
  if (s.n > nn)
    return tgt_fail(S, TG_ERR_SHAPE, "cannot broadcast tensor to fewer dimensions. shape=%s to new_shape=%s", SHAPE_STR(s.d, s.n),
                    SHAPE_STR(ns, nn));
  size_t nl = nn - s.n;
  for (size_t i = 0; i < s.n; i++)
    if (s.d[i] != ns[nl + i] && s.d[i] != 1)
      return tgt_fail(S, TG_ERR_SHAPE, "cannot broadcast %s to new_shape=%s", SHAPE_STR(s.d, s.n), SHAPE_STR(ns, nn));
  /* EXPAND only adds dims on the left: squeeze the 1s that expand, EXPAND on the left, permute back */
  int64_t at[TGT_MAXD], kshape[TGT_MAXD], eshape[TGT_MAXD] = {0}, perm[TGT_MAXD], pos[TGT_MAXD];
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
  if (s.n != n) return tgt_fail(S, TG_ERR_SHAPE, "pad_to: %zu dims for a shape of %u", n, s.n);
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
    fin[i] = r * b;
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
