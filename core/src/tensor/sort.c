/* tensor/sort.c -- tinygrad 0.14.0's order-dependent ops (mixin/op.py): the cumulative family (_split_cumalu behind
** cumsum/cumprod/cummax, cummax's indices), triangles (_tri, triu, tril, eye) and the bitonic sort network behind
** sort, argsort and topk. Every function builds tinygrad's graph op for op. */
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

static tg_tv arange(tgt_scope *S, int64_t n) { return tgt_arange(S, tgt_pyint(n), NULL, tgt_pyint(1), TG_DT_AUTO); }

/* ---------------- cumulative ---------------- */

static tgt_py identity(tg_op op, int dt) {
  if (op == TG_OP_MAX) return tgt_dtype_bound(dt, 0);
  int v = op == TG_OP_MUL;
  return tg_dt_is_float((tg_dtype)dt) ? tgt_pyfloat(v) : dt == TG_BOOL ? tgt_pybool(v) : tgt_pyint(v);
}

/* OpMixin._split_cumalu: one _cumalu up to 512 elements; beyond, chunks of 256 scanned, then their totals. */
tg_tv tgt_split_cumalu(tgt_scope *S, tg_tv x, int64_t axis, tg_op op) {
  tgt_shape s;
  int64_t ax;
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, axis, s.n, 0, &ax)) return TGT_NONE;
  int empty = s.n == 0;
  for (uint32_t i = 0; i < s.n; i++) empty |= s.d[i] == 0;
  if (empty) {
    if (op != TG_OP_ADD) return x;
    tg_tv sum = tgt_sum(S, x, NULL, 0, 0, TG_DTYPE_NONE);
    return sum.u ? tgt_cast(S, x, sum.u->dtype) : TGT_NONE;
  }
  const int64_t SPLIT = 256;
  int64_t n = s.d[ax];
  if (n <= SPLIT * 2) return tgt_cumalu(S, x, ax, op);
  tgt_py id = identity(op, x.u->dtype);
  int64_t pads[TGT_MAXD][2] = {{0}}, sh[TGT_MAXD + 1];
  pads[s.n - 1][0] = (SPLIT - n % SPLIT) % SPLIT; /* round_up(n, SPLIT) - n */
  tg_tv t = tgt_pad_constant(S, tgt_transpose(S, x, ax, -1), (const int64_t(*)[2])pads, s.n, &id);
  tgt_shape ts;
  if (tgt_shape_of(S, t, &ts)) return TGT_NONE;
  for (uint32_t i = 0; i + 1 < ts.n; i++) sh[i] = ts.d[i];
  sh[ts.n - 1] = ts.d[ts.n - 1] / SPLIT, sh[ts.n] = SPLIT;
  tg_tv chunks = tgt_cumalu(S, tgt_reshape(S, t, sh, ts.n + 1), -1, op);
  tgt_index last[2] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_INT, .start = -1}};
  tg_tv base = tgt_cumalu(S, tgt_getitem(S, chunks, last, 2, TGT_NONE), -1, op);
  int64_t bp[TGT_MAXD][2] = {{0}};
  bp[ts.n - 1][0] = 1, bp[ts.n - 1][1] = -1;
  base = tgt_pad_constant(S, base, (const int64_t(*)[2])bp, ts.n, &id);
  tg_tv src[2] = {chunks, tgt_unsqueeze(S, base, -1)};
  tg_tv r = tgt_alu(S, op, src, 2);
  for (uint32_t i = 0; i + 1 < ts.n; i++) sh[i] = ts.d[i];
  sh[ts.n - 1] = ts.d[ts.n - 1];
  r = tgt_reshape(S, r, sh, ts.n); /* flatten(start_dim=-2) */
  tgt_index tail[2] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_START, .start = -n}};
  return tgt_transpose(S, tgt_getitem(S, r, tail, 2, TGT_NONE), ax, -1);
}

/* OpMixin.cummax: the running max, and (*idx) where along axis each one was first reached. */
tg_tv tgt_cummax(tgt_scope *S, tg_tv x, int64_t axis, tg_tv *idx) {
  tgt_shape s;
  *idx = TGT_NONE;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  tg_tv values = tgt_split_cumalu(S, x, axis, TG_OP_MAX);
  if (s.n == 0) {
    *idx = tgt_full_py(S, NULL, 0, tgt_pyfloat(0.0), TG_INT32);
    return values;
  }
  int64_t ax;
  if (tgt_resolve_dim(S, axis, s.n, 0, &ax)) return TGT_NONE; /* split_cumalu resolved it already */
  int64_t n = s.d[ax], nn[2] = {n, n}, m2 = -2;
  tg_tv xt = tgt_transpose(S, x, axis, -1), vt = tgt_transpose(S, values, axis, -1);
  tg_tv ones = tgt_triu(S, tgt_full_py(S, nn, 2, tgt_pyfloat(1.0), TG_BOOL), 0, 0);
  tg_tv match = tgt_mul(S, tgt_binary(S, TG_BINARY_EQ, tgt_unsqueeze(S, xt, -1), tgt_unsqueeze(S, vt, -2)), ones);
  int64_t n1[2] = {n, 1};
  tg_tv ar = tgt_reshape(S, tgt_arange(S, tgt_pyint(n), &(tgt_py){TG_ARG_INT, 0, 0}, tgt_pyint(-1), TG_DT_AUTO), n1, 2);
  tg_tv mx = tgt_reduce(S, TG_REDUCE_MAX, tgt_mul(S, match, ar), &m2, 1, 0, TG_DTYPE_NONE);
  *idx = tgt_transpose(S, tgt_cast(S, tgt_add_py(S, tgt_neg(S, mx), tgt_pyint(n), 0), TG_INT32), -1, axis);
  return values;
}

/* ---------------- triangles ---------------- */

/* OpMixin._tri: arange(r).unsqueeze(-1) + diagonal <= arange(c). */
static tg_tv tri(tgt_scope *S, int64_t r, int64_t c, int64_t diagonal) {
  tg_tv a = tgt_add_py(S, tgt_unsqueeze(S, arange(S, r), -1), tgt_pyint(diagonal), 0);
  return tgt_binary(S, TG_BINARY_LE, a, arange(S, c));
}

/* OpMixin.triu (lower 0) / tril (lower 1). */
tg_tv tgt_triu(tgt_scope *S, tg_tv x, int64_t diagonal, int lower) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n < 2) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
  tg_tv t = tri(S, s.d[s.n - 2], s.d[s.n - 1], lower ? diagonal + 1 : diagonal), z = tgt_const_like(S, x, tgt_pyint(0), TG_DT_AUTO);
  return lower ? tgt_where(S, t, z, x) : tgt_where(S, t, x, z);
}

/* OpMixin.eye: arange(n).unsqueeze(-1) == arange(m), cast. */
tg_tv tgt_eye(tgt_scope *S, int64_t n, int64_t m, int dtype) {
  if (S->st) return TGT_NONE;
  if (n < 0 || m < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "cannot have negative n=%lld, m_=%lld", (long long)n, (long long)m);
  if (dtype == TG_DT_AUTO && (dtype = tgt_default_dtype(S, 1)) < 0) return TGT_NONE;
  return tgt_cast(S, tgt_binary(S, TG_BINARY_EQ, tgt_unsqueeze(S, arange(S, n), -1), arange(S, m)), dtype);
}

/* ---------------- sort ---------------- */

/* x.split(1, d) of a size-2 dim. */
static void halves(tgt_scope *S, tg_tv x, int64_t d, tg_tv *a, tg_tv *b) {
  *a = tgt_split_at(S, x, d, 0, 1), *b = tgt_split_at(S, x, d, 1, 1);
}

static tg_tv cat2(tgt_scope *S, tg_tv a, tg_tv b, int64_t d) {
  tg_tv v[2] = {a, b};
  return tgt_cat(S, v, 2, d);
}

/* (mask & t.unsqueeze(dim).eq(t.unsqueeze(dim+1))).sum(dim+1): how many earlier positions hold an equal value. */
static tg_tv counts(tgt_scope *S, tg_tv mask, tg_tv t, int64_t dim) {
  tg_tv eq = tgt_binary(S, TG_BINARY_EQ, tgt_unsqueeze(S, t, dim), tgt_unsqueeze(S, t, dim + 1));
  int64_t ax = dim + 1;
  return tgt_sum(S, tgt_binary(S, TG_BINARY_AND, mask, eq), &ax, 1, 0, TG_DTYPE_NONE);
}

/* OpMixin.sort: a bitonic network of movement ops over the dim padded to a power of two; indices by matching each
** sorted value (and its rank among equals) back to the input. */
tg_tv tgt_sort(tgt_scope *S, tg_tv self, int64_t dim_in, int descending, tg_tv *idx_out) {
  tgt_shape s;
  int64_t dim;
  *idx_out = TGT_NONE;
  if (tgt_shape_of(S, self, &s) || tgt_resolve_dim(S, dim_in, s.n, 0, &dim)) return TGT_NONE;
  if (!s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"); /* x.shape[dim] of a 0-d x */
  int64_t orig = s.d[dim];
  if (orig <= 1) {
    int dt = tgt_default_dtype(S, 0);
    if (dt < 0) return TGT_NONE;
    *idx_out = tgt_const_like(S, self, tgt_pyint(0), dt);
    return self;
  }
  if (orig > ((int64_t)1 << 40)) return tgt_fail(S, TG_ERR_UNSUPPORTED, "sort: a dim of %lld (at most 2**40)", (long long)orig);
  int stages = 0;
  while ((1ll << stages) < orig) stages++; /* (orig_len-1).bit_length() */
  if (s.n + stages > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "sort: %lld dims after unflattening (at most %d)", (long long)(s.n + stages), TGT_MAXD);
  int64_t pads[TGT_MAXD][2] = {{0}}, sh[TGT_MAXD];
  pads[dim][1] = (1ll << stages) - orig;
  tgt_py fill = tgt_dtype_bound(self.u->dtype, !descending);
  tg_tv x = tgt_pad_constant(S, self, (const int64_t(*)[2])pads, s.n, &fill);
  size_t k = 0;
  for (int64_t i = 0; i < dim; i++) sh[k++] = s.d[i];
  for (int i = 0; i < stages; i++) sh[k++] = 2;
  for (uint32_t i = (uint32_t)dim + 1; i < s.n; i++) sh[k++] = s.d[i];
  x = tgt_reshape(S, x, sh, k);
  int64_t flips[TGT_MAXD];
  for (int stage = 1; stage <= stages && !S->st; stage++) {
    int64_t cross = dim + stages - stage - 1;
    size_t nf = (size_t)stage + (s.n - (size_t)dim);
    for (size_t i = 0; i < nf; i++) flips[i] = -(int64_t)(i + 1);
    tg_tv a, b;
    if (stage != stages) { /* flip so the green boxes' arrows point as the blue boxes' do */
      halves(S, x, cross, &a, &b);
      x = tgt_contiguous(S, cat2(S, a, tgt_flip(S, b, flips, nf), cross));
    }
    for (int sub = stage - 1; sub >= 0; sub--) {
      int64_t partner = dim + stages - sub - 1;
      halves(S, x, partner, &a, &b);
      tg_tv larger = tgt_binary(S, TG_BINARY_MAXIMUM, a, b), smaller = tgt_binary(S, TG_BINARY_MINIMUM, a, b);
      x = tgt_contiguous(S, descending ? cat2(S, larger, smaller, partner) : cat2(S, smaller, larger, partner));
    }
    if (stage != stages) { /* flip the wires back */
      halves(S, x, cross, &a, &b);
      x = cat2(S, a, tgt_flip(S, b, flips, nf), cross);
    }
  }
  memcpy(sh, s.d, s.n * sizeof *sh);
  sh[dim] = 1ll << stages;
  x = tgt_shrink_to(S, tgt_reshape(S, x, sh, s.n), s.d, s.n); /* flatten(dim, dim+n_stages-1).shrink_to(self.shape) */
  if (S->st) return TGT_NONE;
  int64_t nn[2] = {orig, orig}, ms[TGT_MAXD];
  tg_tv mask = tgt_triu(S, tgt_full_py(S, nn, 2, tgt_pyfloat(1.0), TG_BOOL), 0, 1);
  ms[0] = orig, ms[1] = orig;
  for (uint32_t i = 0; i + 1 < s.n - (uint32_t)dim; i++) ms[2 + i] = 1;
  mask = tgt_reshape(S, mask, ms, 2 + s.n - (size_t)dim - 1);
  tg_tv co = counts(S, mask, self, dim), cs = counts(S, mask, x, dim);
  tg_tv cond = tgt_binary(S, TG_BINARY_AND, tgt_binary(S, TG_BINARY_EQ, tgt_unsqueeze(S, self, dim + 1), tgt_unsqueeze(S, x, dim)),
                          tgt_binary(S, TG_BINARY_EQ, tgt_unsqueeze(S, co, dim + 1), tgt_unsqueeze(S, cs, dim)));
  for (uint32_t i = 0; i < s.n; i++) sh[i] = i == (uint64_t)dim ? orig : 1;
  tg_tv ar = tgt_reshape(S, arange(S, orig), sh, s.n);
  *idx_out = tgt_sum(S, tgt_mul(S, cond, tgt_unsqueeze(S, ar, dim + 1)), &dim, 1, 0, TG_DTYPE_NONE);
  return x;
}

/* OpMixin.topk (sorted): the first k of sort(dim, descending=largest). */
tg_tv tgt_topk(tgt_scope *S, tg_tv x, int64_t k, int64_t dim_in, int largest, tg_tv *idx_out) {
  tgt_shape s;
  int64_t dim;
  *idx_out = TGT_NONE;
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, dim_in, s.n, 0, &dim)) return TGT_NONE;
  if (!s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
  if (k > s.d[dim]) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "selected index k=%lld is out of range", (long long)k);
  tg_tv idx, v = tgt_sort(S, x, dim, largest, &idx);
  int64_t sh[TGT_MAXD];
  for (uint32_t i = 0; i < s.n; i++) sh[i] = i == (uint64_t)dim ? k : TGT_NONE_DIM;
  *idx_out = tgt_shrink_to(S, idx, sh, s.n);
  return tgt_shrink_to(S, v, sh, s.n);
}
