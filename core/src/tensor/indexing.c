/* tensor/indexing.c -- tinygrad 0.14.0's indexing family (mixin/op.py, mixin/movement.py): OpMixin._getitem (basic and
** advanced indexing, and the value of an advanced or basic setitem), _one_hot_along_dim, one_hot, gather, scatter,
** scatter_reduce, _masked_merge and masked_fill. Every function builds tinygrad's graph op for op. */
#include <stdio.h>
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

#define SHAPE_STR(v, n) tgt_tuple_str((v), (n), (char[1024]){0}, 1024)

static tg_tv pyi(tgt_scope *S, int64_t v) { return tgt_const(S, tgt_pyint(v), TG_DT_AUTO); }
static tg_tv bin(tgt_scope *S, int op, tg_tv a, tg_tv b) { return tgt_binary(S, op, a, b); }
static tg_tv bin_i(tgt_scope *S, int op, tg_tv a, int64_t v) { return tgt_binary(S, op, a, pyi(S, v)); }

/* MovementMixin.unsqueeze / squeeze(dim). */
tg_tv tgt_unsqueeze(tgt_scope *S, tg_tv x, int64_t dim) {
  tgt_shape s;
  int64_t d, ns[TGT_MAXD];
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, dim, s.n, 1, &d)) return TGT_NONE;
  if (s.n + 1 > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  for (uint32_t i = 0, k = 0; i <= s.n; i++) ns[i] = i == (uint32_t)d ? 1 : s.d[k++];
  return tgt_reshape(S, x, ns, s.n + 1);
}

tg_tv tgt_squeeze(tgt_scope *S, tg_tv x, int64_t dim) {
  tgt_shape s;
  int64_t d, ns[TGT_MAXD];
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, dim, s.n, 0, &d)) return TGT_NONE;
  if (!s.n || s.d[d] != 1) return x;
  for (uint32_t i = 0, k = 0; i < s.n; i++)
    if (i != (uint32_t)d) ns[k++] = s.d[i];
  return tgt_reshape(S, x, ns, s.n - 1);
}

/* x.split(1, dim)[i]: the size-1 slice i along dim. */
static tg_tv slice1(tgt_scope *S, tg_tv x, int64_t dim, int64_t i) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t b[TGT_MAXD][2];
  for (uint32_t j = 0; j < s.n; j++) b[j][0] = j == (uint64_t)dim ? i : 0, b[j][1] = j == (uint64_t)dim ? i + 1 : s.d[j];
  return tgt_shrink(S, x, (const int64_t(*)[2])b, s.n);
}

/* MovementMixin.split(sz, dim)[k] for an int size: the chunk starting at k*sz. */
tg_tv tgt_split_at(tgt_scope *S, tg_tv x, int64_t dim, int64_t start, int64_t len) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t b[TGT_MAXD][2];
  for (uint32_t j = 0; j < s.n; j++) b[j][0] = j == (uint64_t)dim ? start : 0, b[j][1] = j == (uint64_t)dim ? start + len : s.d[j];
  return tgt_shrink(S, x, (const int64_t(*)[2])b, s.n);
}

static int same_device(tgt_scope *S, tg_tv a, tg_tv self, const char *what) {
  if (!a.dev || !self.dev || a.dev == self.dev) return 0;
  tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "expected %s and self on the same device, %s.device='%s', self.device='%s'", what, what, a.dev, self.dev);
  return -1;
}

/* ---------------- one_hot ---------------- */

/* OpMixin._one_hot_along_dim: x == arange(num_classes) laid along dim. */
tg_tv tgt_one_hot_along_dim(tgt_scope *S, tg_tv x, int64_t num_classes, int64_t dim) {
  tgt_shape s;
  int64_t d, ns[TGT_MAXD];
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (!tg_dt_is_int((tg_dtype)x.u->dtype))
    return tgt_fail(S, TG_ERR_DTYPE, "_one_hot_along_dim expects int index tensor, getting dtypes.%s", tg_dtype_repr_name(x.u->dtype));
  if (tgt_resolve_dim(S, dim, s.n, 0, &d)) return TGT_NONE;
  int64_t off = (int64_t)s.n - d - 1; /* -1 for a 0-d x: (1,)*-1 is () */
  ns[0] = num_classes;
  for (int64_t i = 0; i < off; i++) ns[1 + i] = 1;
  tg_tv ar = tgt_arange(S, tgt_pyint(num_classes), NULL, tgt_pyint(1), TG_DT_AUTO);
  return bin(S, TG_BINARY_EQ, x, tgt_reshape(S, ar, ns, off > 0 ? (size_t)off + 1 : 1));
}

/* OpMixin.one_hot: self[..., None]._one_hot_along_dim(num_classes).where(1, 0). */
tg_tv tgt_one_hot(tgt_scope *S, tg_tv x, int64_t num_classes) {
  if (S->st || !x.u) return TGT_NONE;
  if (!tg_dt_is_int((tg_dtype)x.u->dtype))
    return tgt_fail(S, TG_ERR_DTYPE, "expect integer dtype, getting self.dtype=dtypes.%s", tg_dtype_repr_name(x.u->dtype));
  if (num_classes < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "num_classes must be non-negative, got %lld", (long long)num_classes);
  tgt_index ix[2] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_NONE}};
  tg_tv oh = tgt_one_hot_along_dim(S, tgt_getitem(S, x, ix, 2, TGT_NONE), num_classes, -1);
  return tgt_where(S, oh, pyi(S, 1), pyi(S, 0));
}

/* ---------------- _getitem ---------------- */

typedef struct parsed {
  int64_t size, b0, b1, stride;
  int collapse, is_none;
  tg_tv t; /* a tensor index (advanced indexing) */
} parsed;

/* Python's slice.indices(size): clamped start, stop for the given step. */
static void slice_indices(const tgt_index *ix, int64_t size, int64_t *start, int64_t *stop, int64_t *step) {
  int64_t st = (ix->has & TG_INDEX_HAS_STEP) ? ix->step : 1;
  int64_t lo = st < 0 ? -1 : 0, hi = st < 0 ? size - 1 : size;
  int64_t a, b;
  if (!(ix->has & TG_INDEX_HAS_START)) a = st < 0 ? hi : lo;
  else {
    a = ix->start;
    if (a < 0) a += size, a = a < lo ? lo : a;
    else a = a > hi ? hi : a;
  }
  if (!(ix->has & TG_INDEX_HAS_STOP)) b = st < 0 ? lo : hi;
  else {
    b = ix->stop;
    if (b < 0) b += size, b = b < lo ? lo : b;
    else b = b > hi ? hi : b;
  }
  *start = a, *stop = b, *step = st;
}

/* MovementMixin._parse_view_index for an int, slice or None. */
static int parse_view(tgt_scope *S, const tgt_index *ix, int64_t size, parsed *p) {
  if (ix->kind == TG_INDEX_NONE) return *p = (parsed){1, 0, 1, 1, 0, 1, TGT_NONE}, 0;
  if (ix->kind == TG_INDEX_INT) {
    int64_t v = ix->start;
    if (v >= size || v < -size) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "index=%lld is out of bounds with size=%lld", (long long)v, (long long)size), -1;
    int64_t b = v >= 0 ? v : v + size;
    return *p = (parsed){size, b, b + 1, 1, 1, 0, TGT_NONE}, 0;
  }
  if ((ix->has & TG_INDEX_HAS_STEP) && ix->step == 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "slice cannot have 0 as step"), -1;
  if ((ix->has & TG_INDEX_HAS_STEP) && (ix->step > INT64_MAX / 4 || ix->step < -(INT64_MAX / 4))) /* round_up would overflow */
    return tgt_fail(S, TG_ERR_UNSUPPORTED, "slice step %lld is too large", (long long)ix->step), -1;
  int64_t a, b, st, b0, b1;
  slice_indices(ix, size, &a, &b, &st);
  if (b != a && (st > 0) != (b > a)) b0 = b1 = 0; /* st * (b - a) < 0 */
  else if (st < 0) b0 = b + 1, b1 = a + 1;
  else b0 = a, b1 = b;
  int64_t ast = st < 0 ? -st : st, len = b1 - b0;
  return *p = (parsed){len ? (len - 1) / ast + 1 : 0, b0, b1, st, 0, 0, TGT_NONE}, 0;
}

/* An index tensor: int dtype, self's device, negative values wrapped (lists arrive wrapped: TG_INDEX_WRAPPED). */
static int parse_tensor(tgt_scope *S, tg_tv x, const tgt_index *ix, int64_t size, parsed *p) {
  tg_tv t = ix->t;
  if (!t.u) return tgt_fail(S, TG_ERR_NULL_POINTER, "indexing: a tensor index without a tensor"), -1;
  if (!tg_dt_is_int((tg_dtype)t.u->dtype))
    return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "index dtype dtypes.%s is not supported", tg_dtype_repr_name(t.u->dtype)), -1;
  if (same_device(S, t, x, "index")) return -1;
  if (!(ix->has & TG_INDEX_WRAPPED)) t = tgt_where(S, bin_i(S, TG_BINARY_LT, t, 0), tgt_add_py(S, t, tgt_pyint(size), 0), t);
  *p = (parsed){size, 0, size, 1, 0, 0, t};
  return S->st ? -1 : 0;
}

/* MovementMixin._apply_view_ops: shrink, flip the negative strides, then stride by pad + reshape + shrink. */
static tg_tv apply_view_ops(tgt_scope *S, tg_tv x, const parsed *const *m, size_t nm) {
  int64_t bounds[TGT_MAXD][2], flips[TGT_MAXD], strides[TGT_MAXD];
  size_t nf = 0;
  int any_stride = 0;
  for (size_t i = 0; i < nm; i++) {
    bounds[i][0] = m[i]->b0, bounds[i][1] = m[i]->b1;
    if (m[i]->stride < 0) flips[nf++] = (int64_t)i;
    strides[i] = m[i]->stride < 0 ? -m[i]->stride : m[i]->stride;
    any_stride |= strides[i] != 1;
  }
  tg_tv r = tgt_flip(S, tgt_shrink(S, x, (const int64_t(*)[2])bounds, nm), flips, nf);
  if (!any_stride) return r;
  tgt_shape xs;
  if (tgt_shape_of(S, r, &xs)) return TGT_NONE;
  int64_t up[TGT_MAXD], two[TGT_MAXD * 2], keep[TGT_MAXD * 2], fin[TGT_MAXD];
  if (2 * nm > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "indexing: strided view of %zu dims (at most %d)", nm, TGT_MAXD / 2);
  for (size_t i = 0; i < nm; i++) { /* round_up */
    if (__builtin_add_overflow(xs.d[i], strides[i] - 1, &up[i])) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "indexing: a strided dim overflows int64");
    up[i] = up[i] / strides[i] * strides[i];
  }
  r = tgt_pad_to(S, r, up, nm);
  for (size_t i = 0; i < nm; i++) two[2 * i] = up[i] / strides[i], two[2 * i + 1] = strides[i];
  r = tgt_reshape(S, r, two, 2 * nm);
  for (size_t i = 0; i < nm; i++) keep[2 * i] = two[2 * i], keep[2 * i + 1] = 1, fin[i] = two[2 * i];
  return tgt_reshape(S, tgt_shrink_to(S, r, keep, 2 * nm), fin, nm);
}

/* _broadcast_shape of n shapes (IndexError text of tinygrad's). */
static int broadcast_shape(tgt_scope *S, const tgt_shape *sh, size_t n, tgt_shape *out) {
  uint32_t nd = 0;
  for (size_t i = 0; i < n; i++) nd = sh[i].n > nd ? sh[i].n : nd;
  out->n = nd;
  for (uint32_t d = 0; d < nd; d++) {
    int64_t r = 1;
    for (size_t i = 0; i < n; i++) {
      if (d + sh[i].n < nd) continue;
      int64_t s = sh[i].d[d + sh[i].n - nd];
      if (s == 1) continue;
      if (r != 1 && s != r) {
        char b[2048];
        size_t k = 0;
        k += (size_t)snprintf(b, sizeof b, "(");
        for (size_t j = 0; j < n && k < sizeof b; j++) k += (size_t)snprintf(b + k, sizeof b - k, "%s%s", j ? ", " : "", SHAPE_STR(sh[j].d, sh[j].n));
        if (k < sizeof b) snprintf(b + k, sizeof b - k, "%s)", n == 1 ? "," : "");
        return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "shape mismatch: objects cannot be broadcast to a single shape %s", b), -1;
      }
      r = s;
    }
    out->d[d] = r;
  }
  return 0;
}

/* functools.reduce of & (bool) or * over a list, as ElementwiseMixin.uprod; usum with | or +. */
static tg_tv ufold(tgt_scope *S, const tg_tv *v, size_t n, int prod) {
  tg_tv r = v[0];
  for (size_t i = 1; i < n && r.u; i++) {
    int is_b = r.u->dtype == TG_BOOL;
    r = bin(S, prod ? (is_b ? TG_BINARY_AND : TG_BINARY_MUL) : (is_b ? TG_BINARY_OR : TG_BINARY_ADD), r, v[i]);
  }
  return r;
}

/* OpMixin._masked_merge: along each axis (last first) the last True of mask wins; then mask.where(values, self). */
tg_tv tgt_masked_merge(tgt_scope *S, tg_tv self, tg_tv values, tg_tv mask, const int64_t *axes, size_t na) {
  for (size_t k = na; k-- > 0;) {
    tgt_shape ms;
    int64_t d;
    if (tgt_shape_of(S, mask, &ms) || tgt_resolve_dim(S, axes[k], ms.n, 0, &d)) return TGT_NONE;
    tg_tv m = slice1(S, mask, d, 0), v = slice1(S, values, d, 0);
    for (int64_t i = 1; i < ms.d[d]; i++) {
      tg_tv mi = slice1(S, mask, d, i), vi = slice1(S, values, d, i);
      v = tgt_where(S, mi, vi, v);
      m = bin(S, TG_BINARY_OR, m, mi);
    }
    mask = m, values = v;
  }
  for (size_t k = na; k-- > 0;) mask = tgt_squeeze(S, mask, axes[k]), values = tgt_squeeze(S, values, axes[k]);
  return tgt_where(S, mask, values, self);
}

/* The advanced part of _getitem over x (already viewed and reshaped to the kept dims). Returns the result, or with v
** the broadcast value merged into x's collapsed space (*vb_out). */
static tg_tv advanced(tgt_scope *S, tg_tv x, const int64_t *dims, const tg_tv *tensors, size_t nt, tg_tv v, tg_tv *vb_out) {
  tgt_shape xs, ts[TGT_MAXD], big;
  if (tgt_shape_of(S, x, &xs)) return TGT_NONE;
  for (size_t i = 0; i < nt; i++)
    if (tgt_shape_of(S, tensors[i], &ts[i])) return TGT_NONE;
  if (broadcast_shape(S, ts, nt, &big)) return TGT_NONE;
  int consecutive = 1;
  for (size_t i = 0; i < nt; i++) consecutive &= dims[i] == dims[0] + (int64_t)i;
  int64_t d0 = dims[0], nb = big.n;
  if (xs.n + nb > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "indexing: a result of %lld dims (at most %d)", (long long)(xs.n + nb), TGT_MAXD);
  if (!v.u && nt > 1 && consecutive) { /* linear indexing instead of one-hot masks */
    tg_tv terms[TGT_MAXD], valid[TGT_MAXD];
    int64_t stride = 1, flat = 1, sh[TGT_MAXD];
    for (size_t i = nt; i-- > 0;) {
      int64_t s = xs.d[dims[i]];
      terms[i] = tgt_mul_py(S, tensors[i], tgt_pyint(stride), 0);
      valid[i] = bin(S, TG_BINARY_AND, bin_i(S, TG_BINARY_GE, tensors[i], 0), bin_i(S, TG_BINARY_LT, tensors[i], s));
      stride *= s, flat *= s;
    }
    tg_tv lin = ufold(S, terms, nt, 0), ok = ufold(S, valid, nt, 1);
    size_t k = 0, npost = xs.n - (size_t)dims[nt - 1] - 1;
    for (int64_t i = 0; i < d0; i++) sh[k++] = xs.d[i];
    sh[k++] = flat;
    for (uint32_t i = (uint32_t)dims[nt - 1] + 1; i < xs.n; i++) sh[k++] = xs.d[i];
    tgt_index ix[TGT_MAXD];
    for (int64_t i = 0; i < d0; i++) ix[i] = (tgt_index){.kind = TG_INDEX_SLICE};
    ix[d0] = (tgt_index){.kind = TG_INDEX_TENSOR, .t = tgt_where(S, ok, lin, pyi(S, 0))};
    tg_tv r = tgt_getitem(S, tgt_reshape(S, x, sh, k), ix, (size_t)d0 + 1, TGT_NONE);
    k = 0;
    for (int64_t i = 0; i < d0; i++) sh[k++] = 1;
    for (int64_t i = 0; i < nb; i++) sh[k++] = big.d[i];
    for (size_t i = 0; i < npost; i++) sh[k++] = 1;
    return tgt_where(S, tgt_reshape(S, ok, sh, k), r, pyi(S, 0));
  }
  int64_t pre[TGT_MAXD], rs[TGT_MAXD], sum_axis[TGT_MAXD];
  size_t np = 0;
  for (int64_t i = 0; i < d0; i++) pre[np++] = xs.d[i];
  for (int64_t i = 0; i < nb; i++) pre[np++] = big.d[i];
  for (uint32_t i = (uint32_t)d0; i < xs.n; i++) pre[np++] = xs.d[i];
  tg_tv masks[TGT_MAXD];
  for (size_t i = 0; i < nt; i++) {
    for (uint32_t j = 0; j < ts[i].n; j++) rs[j] = ts[i].d[j];
    for (uint32_t j = 0; j < xs.n - (uint32_t)d0; j++) rs[ts[i].n + j] = 1;
    tg_tv e = tgt_expand(S, tgt_reshape(S, tensors[i], rs, ts[i].n + xs.n - (size_t)d0), pre, np);
    masks[i] = tgt_one_hot_along_dim(S, e, xs.d[dims[i]], dims[i] - (int64_t)xs.n);
  }
  tg_tv mask = ufold(S, masks, nt, 1);
  size_t nr = 0;
  for (int64_t i = 0; i < d0; i++) rs[nr++] = xs.d[i];
  for (int64_t i = 0; i < nb; i++) rs[nr++] = 1;
  for (uint32_t i = (uint32_t)d0; i < xs.n; i++) rs[nr++] = xs.d[i];
  for (size_t i = 0; i < nt; i++) sum_axis[i] = dims[i] + nb;
  tg_tv r = tgt_sum(S, tgt_where(S, mask, tgt_reshape(S, x, rs, nr), pyi(S, 0)), sum_axis, nt, 0, x.u->dtype);
  int contiguous_range = 1; /* tuple(dims) == tuple(range(dims[0], dims[-1]+1)) */
  for (size_t i = 0; i < nt; i++) contiguous_range &= dims[i] == d0 + (int64_t)i;
  int permuted = d0 != 0 && nt != 1 && !contiguous_range;
  if (permuted) {
    tg_tv *ys[2] = {&mask, &r};
    for (int k = 0; k < 2; k++) {
      tgt_shape ysh;
      if (tgt_shape_of(S, *ys[k], &ysh)) return TGT_NONE;
      int64_t perm[TGT_MAXD];
      size_t q = 0;
      for (int64_t i = d0; i < d0 + nb; i++) perm[q++] = i;
      for (int64_t i = 0; i < d0; i++) perm[q++] = i;
      for (int64_t i = d0 + nb; i < (int64_t)ysh.n; i++) perm[q++] = i;
      *ys[k] = tgt_permute(S, *ys[k], perm, q);
    }
  }
  if (!v.u) return r;
  /* advanced setitem: resolve the tensor dims in collapsed space */
  tgt_shape rsh, vsh, both[2], bs;
  if (tgt_shape_of(S, r, &rsh) || tgt_shape_of(S, v, &vsh)) return TGT_NONE;
  both[0] = rsh, both[1] = vsh;
  if (broadcast_shape(S, both, 2, &bs)) return TGT_NONE;
  tg_tv vb = tgt_broadcast_to(S, v, bs.d, bs.n);
  for (size_t i = 0; i < nt; i++) vb = tgt_unsqueeze(S, vb, sum_axis[i]);
  int64_t start = permuted ? 0 : d0, axes[TGT_MAXD];
  for (int64_t i = 0; i < nb; i++) axes[i] = start + i;
  *vb_out = tgt_masked_merge(S, x, vb, mask, axes, (size_t)nb);
  return r;
}

/* The basic-setitem tail of _getitem: vb placed into self's shape by un-striding, flipping and padding, selected by
** per-dim masks of the viewed positions. */
static tg_tv place(tgt_scope *S, tg_tv self, tg_tv vb, const parsed *const *m, size_t nm, const parsed *all, size_t na) {
  tgt_shape ss, vs;
  if (tgt_shape_of(S, self, &ss)) return TGT_NONE;
  int64_t sh[TGT_MAXD * 2];
  size_t k = 0;
  for (size_t i = 0; i < na; i++)
    if (!all[i].is_none) sh[k++] = all[i].collapse ? 1 : all[i].size;
  vb = tgt_reshape(S, vb, sh, k);
  tg_tv per_dim[TGT_MAXD];
  int64_t flips[TGT_MAXD], pads[TGT_MAXD][2];
  size_t nf = 0;
  for (size_t d = 0; d < nm; d++) {
    int64_t s = m[d]->b0, e = m[d]->b1, st = m[d]->stride < 0 ? -m[d]->stride : m[d]->stride;
    if (tgt_shape_of(S, vb, &vs)) return TGT_NONE;
    if (st != 1 && vs.d[d] > 1) { /* un-stride: interleave with zeros */
      vb = tgt_unsqueeze(S, vb, (int64_t)d + 1);
      int64_t pt[TGT_MAXD];
      for (uint32_t j = 0; j <= vs.n; j++) pt[j] = j == d + 1 ? st : TGT_NONE_DIM;
      vb = tgt_pad_to(S, vb, pt, vs.n + 1);
      int64_t rs[TGT_MAXD];
      size_t q = 0;
      for (uint32_t j = 0; j < vs.n; j++) rs[q++] = j == d ? vs.d[d] * st : vs.d[j];
      vb = tgt_reshape(S, vb, rs, q);
      for (uint32_t j = 0; j < ss.n; j++) rs[j] = j == d ? e - s : TGT_NONE_DIM;
      vb = tgt_shrink_to(S, vb, rs, ss.n);
    }
    int64_t ar[TGT_MAXD];
    for (uint32_t j = 0; j < ss.n; j++) ar[j] = j == d ? ss.d[d] : 1;
    tg_tv idx = tgt_reshape(S, tgt_arange(S, tgt_pyint(ss.d[d]), NULL, tgt_pyint(1), TG_DT_AUTO), ar, ss.n);
    tg_tv off = m[d]->stride < 0 ? tgt_sub_rev(S, idx, pyi(S, e - 1), 1) : tgt_sub_rev(S, idx, pyi(S, s), 0);
    tg_tv c = bin(S, TG_BINARY_AND, bin_i(S, TG_BINARY_GE, idx, s), bin_i(S, TG_BINARY_LT, idx, e));
    per_dim[d] = bin(S, TG_BINARY_AND, c, bin_i(S, TG_BINARY_EQ, bin_i(S, TG_BINARY_MOD, off, st), 0));
    if (m[d]->stride < 0) flips[nf++] = (int64_t)d;
    pads[d][0] = s, pads[d][1] = ss.d[d] - e;
  }
  vb = tgt_pad_constant(S, tgt_flip(S, vb, flips, nf), (const int64_t(*)[2])pads, nm, NULL);
  tg_tv cond = nm ? ufold(S, per_dim, nm, 1) : tgt_const(S, tgt_pybool(1), TG_DT_AUTO);
  return tgt_where(S, cond, vb, self);
}

/* OpMixin._getitem(indices, v): x[indices], or (v given) the whole new value of x after x[indices] = v. */
tg_tv tgt_getitem(tgt_scope *S, tg_tv x, const tgt_index *idx, size_t n, tg_tv v) {
  tgt_shape s;
  if (S->st || tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (n > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "indexing: %zu indices (at most %d)", n, TGT_MAXD);
  /* _normalize_indices: one Ellipsis at most; it (or the end) takes the unindexed dims as full slices */
  size_t ell = n, nnone = 0;
  for (size_t i = 0; i < n; i++) {
    if (idx[i].kind == TG_INDEX_ELLIPSIS) {
      if (ell != n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "indices can only have a single ellipsis");
      ell = i;
    } else if (idx[i].kind == TG_INDEX_NONE) nnone++;
    else if (idx[i].kind != TG_INDEX_INT && idx[i].kind != TG_INDEX_SLICE && idx[i].kind != TG_INDEX_TENSOR)
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "indexing: unknown index kind %d", (int)idx[i].kind);
  }
  size_t nreal = n - (ell != n) - nnone;
  if (nreal > s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "too many indices (%zu) for %uD", nreal, s.n);
  tgt_index full[TGT_MAXD * 2];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == ell) {
      for (size_t k = 0; k < s.n - nreal; k++) full[m++] = (tgt_index){.kind = TG_INDEX_SLICE};
    } else full[m++] = idx[i];
  }
  if (ell == n)
    for (size_t k = 0; k < s.n - nreal; k++) full[m++] = (tgt_index){.kind = TG_INDEX_SLICE};
  parsed p[TGT_MAXD * 2];
  const parsed *mops[TGT_MAXD];
  size_t nm = 0;
  uint32_t dim = 0;
  for (size_t i = 0; i < m; i++) {
    int64_t size = full[i].kind == TG_INDEX_NONE ? 1 : s.d[dim];
    int bad = full[i].kind == TG_INDEX_TENSOR ? parse_tensor(S, x, &full[i], size, &p[i]) : parse_view(S, &full[i], size, &p[i]);
    if (bad) return TGT_NONE;
    if (!p[i].is_none) mops[nm++] = &p[i], dim++;
  }
  /* apply view ops, then dim injection (None) and collapse (int) by one reshape */
  tg_tv r = apply_view_ops(S, x, mops, nm);
  int64_t out[TGT_MAXD * 2], dims[TGT_MAXD];
  tg_tv tensors[TGT_MAXD];
  size_t no = 0, nt = 0;
  for (size_t i = 0; i < m; i++) {
    if (p[i].collapse) continue;
    if (p[i].t.u) dims[nt] = (int64_t)no, tensors[nt++] = p[i].t;
    out[no++] = p[i].size;
  }
  if (no > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "indexing: a result of %zu dims (at most %d)", no, TGT_MAXD);
  r = tgt_reshape(S, r, out, no);
  tg_tv vb = TGT_NONE;
  if (nt) {
    r = advanced(S, r, dims, tensors, nt, v, &vb);
    if (!v.u) return r;
  } else {
    if (!v.u) return r;
    vb = tgt_broadcast_to(S, v, out, no);
  }
  if (S->st) return TGT_NONE;
  return place(S, x, vb, mops, nm, p, m);
}

/* ---------------- gather, scatter ---------------- */

/* OpMixin.gather: self shrunk to index's shape (but dim), one-hot selected along dim and summed. */
tg_tv tgt_gather(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index) {
  tgt_shape xs, is;
  int64_t d;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, index, &is) || same_device(S, index, x, "index")) return TGT_NONE;
  if (is.n != xs.n) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "self.ndim must equal index.ndim, self.ndim=%u, index.ndim=%u", xs.n, is.n);
  if (tgt_resolve_dim(S, dim, xs.n, 0, &d)) return TGT_NONE;
  if (!xs.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"); /* self.shape[dim] of a 0-d self */
  int64_t sh[TGT_MAXD], last = -1;
  for (uint32_t i = 0; i < xs.n; i++) {
    if (i != (uint64_t)d && xs.d[i] < is.d[i])
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "requires self.shape[d] >= index.shape[d] for all d != dim");
    sh[i] = i == (uint64_t)d ? TGT_NONE_DIM : is.d[i];
  }
  tg_tv xv = tgt_transpose(S, tgt_unsqueeze(S, tgt_shrink_to(S, x, sh, xs.n), -1), -1, d);
  tg_tv oh = tgt_one_hot_along_dim(S, tgt_unsqueeze(S, index, -1), xs.d[d], -1);
  return tgt_sum(S, tgt_where(S, oh, xv, pyi(S, 0)), &last, 1, 0, x.u->dtype);
}

/* OpMixin._pre_scatter: src and the one-hot mask laid along dim, padded to self's shape (plus the trailing index dim). */
static int pre_scatter(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index, tg_tv src, tg_tv *src_out, tg_tv *mask_out) {
  tgt_shape xs, is, ss;
  int64_t d;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, index, &is) || tgt_shape_of(S, src, &ss)) return -1;
  if (same_device(S, index, x, "index") || same_device(S, src, x, "src")) return -1;
  if (tgt_resolve_dim(S, dim, xs.n, 0, &d)) return -1;
  if (!xs.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range"), -1;
  if (is.n != xs.n || ss.n != xs.n)
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "self.ndim, index.ndim and src.ndim must all equal, self.ndim=%u index.ndim=%u src.ndim=%u", xs.n, is.n, ss.n), -1;
  for (uint32_t i = 0; i < xs.n; i++)
    if (!((i == (uint64_t)d || xs.d[i] >= is.d[i]) && ss.d[i] >= is.d[i]))
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "All dimensions of index.shape=%s should be <= to all dimensions of src.shape=%s and all dimensions except dimension %lld of self.shape=%s",
                      SHAPE_STR(is.d, is.n), SHAPE_STR(ss.d, ss.n), (long long)d, SHAPE_STR(xs.d, xs.n)), -1;
  if (src.u->dtype != x.u->dtype)
    return tgt_fail(S, TG_ERR_DTYPE, "expect self.dtype=dtypes.%s to be equal to src.dtype=dtypes.%s", tg_dtype_repr_name(x.u->dtype), tg_dtype_repr_name(src.u->dtype)), -1;
  int64_t sh[TGT_MAXD + 1];
  src = tgt_shrink_to(S, src, is.d, is.n);
  for (uint32_t i = 0; i < is.n; i++) sh[i] = is.d[i];
  sh[is.n] = xs.d[d];
  src = tgt_transpose(S, tgt_expand(S, tgt_unsqueeze(S, src, -1), sh, is.n + 1), -1, d);
  tg_tv mask = tgt_transpose(S, tgt_one_hot_along_dim(S, tgt_unsqueeze(S, index, -1), xs.d[d], -1), -1, d);
  for (uint32_t i = 0; i < xs.n; i++) sh[i] = xs.d[i];
  sh[xs.n] = TGT_NONE_DIM;
  *src_out = tgt_pad_to(S, src, sh, xs.n + 1), *mask_out = tgt_pad_to(S, mask, sh, xs.n + 1);
  return S->st ? -1 : 0;
}

/* dtype.min / dtype.max as the Python value tinygrad pads and fills with. */
tgt_py tgt_dtype_bound(int dt, int is_max) {
  if (tg_dt_is_float((tg_dtype)dt)) return tgt_pyfloat(is_max ? INFINITY : -INFINITY);
  if (dt == TG_BOOL) return tgt_pybool(is_max);
  int bits = tg_dt_bitsize((tg_dtype)dt);
  if (dt == TG_WEAKINT || bits >= 64) return tgt_pyint(tg_dt_is_unsigned((tg_dtype)dt) ? (is_max ? (int64_t)UINT64_MAX : 0) : is_max ? INT64_MAX : INT64_MIN);
  if (tg_dt_is_unsigned((tg_dtype)dt)) return tgt_pyint(is_max ? (int64_t)((1ull << bits) - 1) : 0);
  return tgt_pyint(is_max ? (int64_t)((1ull << (bits - 1)) - 1) : -(int64_t)(1ull << (bits - 1)));
}

/* OpMixin.scatter_reduce. */
tg_tv tgt_scatter_reduce(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index, tg_tv src, int op, int include_self) {
  tg_tv s, mask;
  if (S->st || pre_scatter(S, x, dim, index, src, &s, &mask)) return TGT_NONE;
  int64_t last = -1;
  tg_tv inv = include_self ? TGT_NONE : tgt_logical_not(S, tgt_reduce(S, TG_REDUCE_ANY, mask, &last, 1, 0, TG_DTYPE_NONE));
#define INV(a, b) (include_self ? (a) : tgt_where(S, inv, (a), (b)))
  switch (op) {
  case TG_SCATTER_SUM: return tgt_add(S, tgt_sum(S, tgt_where(S, mask, s, pyi(S, 0)), &last, 1, 0, TG_DTYPE_NONE), INV(x, pyi(S, 0)));
  case TG_SCATTER_PROD:
    return tgt_mul(S, tgt_reduce(S, TG_REDUCE_PROD, tgt_where(S, mask, s, pyi(S, 1)), &last, 1, 0, TG_DTYPE_NONE), INV(x, pyi(S, 1)));
  case TG_SCATTER_AMAX: case TG_SCATTER_AMIN: {
    int mx = op == TG_SCATTER_AMAX;
    tg_tv b = tgt_const(S, tgt_dtype_bound(s.u->dtype, !mx), TG_DT_AUTO);
    tg_tv r = tgt_reduce(S, mx ? TG_REDUCE_MAX : TG_REDUCE_MIN, tgt_where(S, mask, s, b), &last, 1, 0, TG_DTYPE_NONE);
    return bin(S, mx ? TG_BINARY_MAXIMUM : TG_BINARY_MINIMUM, r, INV(x, tgt_const(S, tgt_dtype_bound(s.u->dtype, !mx), TG_DT_AUTO)));
  }
  case TG_SCATTER_MEAN: {
    tg_tv cnt = tgt_sum(S, tgt_where(S, mask, pyi(S, 1), pyi(S, 0)), &last, 1, 0, TG_DTYPE_NONE);
    cnt = tgt_add(S, cnt, include_self ? pyi(S, 1) : tgt_where(S, inv, pyi(S, 1), pyi(S, 0)));
    tg_tv sum = tgt_add(S, tgt_sum(S, tgt_where(S, mask, s, pyi(S, 0)), &last, 1, 0, TG_DTYPE_NONE), INV(x, pyi(S, 0)));
    return tgt_div(S, sum, cnt, 0, 0);
  }
  }
#undef INV
  return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "reduce=%d must be one of 'sum', 'prod', 'mean', 'amax', 'amin'", op);
}

/* OpMixin.scatter: a Python-scalar src is filled to index's shape; reduce SUM/PROD go through scatter_reduce. */
tg_tv tgt_scatter(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index, tg_tv src, int reduce) {
  if (S->st || !x.u || !src.u) return TGT_NONE;
  if (reduce != TG_SCATTER_NONE && reduce != TG_SCATTER_SUM && reduce != TG_SCATTER_PROD)
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "reduce=%d must be one of None, 'multiply', or 'add'", reduce);
  tgt_py pv;
  if (src.u->op == TG_OP_CONST && tgt_as_py(src, &pv)) {
    tgt_shape is;
    if (tgt_shape_of(S, index, &is)) return TGT_NONE;
    src = tgt_full_py(S, is.d, is.n, pv, x.u->dtype);
  } else if (reduce != TG_SCATTER_NONE) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "non-scalar src is not supported with reduce arg. use scatter_reduce");
  if (reduce != TG_SCATTER_NONE) return tgt_scatter_reduce(S, x, dim, index, src, reduce, 1);
  tg_tv s, mask;
  if (pre_scatter(S, x, dim, index, src, &s, &mask)) return TGT_NONE;
  int64_t last = -1;
  return tgt_masked_merge(S, x, s, mask, &last, 1);
}

/* ElementwiseMixin.masked_fill: mask.where(value, self). */
tg_tv tgt_masked_fill(tgt_scope *S, tg_tv x, tg_tv mask, tg_tv value) { return tgt_where(S, mask, value, x); }
