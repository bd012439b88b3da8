/* tensor/combine.c -- tinygrad 0.14.0's stack and cat (mixin/movement.py, mixin/op.py) and basic indexing
** (OpMixin._getitem with int, slice, None and Ellipsis indices: _normalize_indices, _parse_view_index, _apply_view_ops).
** Tensor indices (advanced indexing) are refused with TG_ERR_UNSUPPORTED for now. */
#include <stdio.h>
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

static int same_shape(const tgt_shape *a, const tgt_shape *b) { return a->n == b->n && !memcmp(a->d, b->d, a->n * sizeof *a->d); }

/* MovementMixin.stack: one STACK of all the tensors (each cast to their common dtype) in front, then permuted to dim. */
tg_tv tgt_stack(tgt_scope *S, const tg_tv *ts, size_t n, int64_t dim) {
  if (S->st) return TGT_NONE;
  if (!n) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "stack: no tensors");
  if (n > 4096) return tgt_fail(S, TG_ERR_UNSUPPORTED, "stack: %zu tensors (at most 4096)", n);
  tgt_shape s0, si;
  if (tgt_shape_of(S, ts[0], &s0)) return TGT_NONE;
  int64_t d;
  if (tgt_resolve_dim(S, dim, s0.n, 1, &d)) return TGT_NONE;
  for (size_t i = 1; i < n; i++) {
    if (tgt_shape_of(S, ts[i], &si)) return TGT_NONE;
    if (!same_shape(&s0, &si)) {
      char a[256], b[256];
      return tgt_fail(S, TG_ERR_SHAPE, "all shapes must match for stack, got %s and %s", tgt_tuple_str(s0.d, s0.n, a, sizeof a),
                      tgt_tuple_str(si.d, si.n, b, sizeof b));
    }
  }
  tg_dtype dt = (tg_dtype)ts[0].u->dtype;
  for (size_t i = 1; i < n; i++) dt = tg_dt_least_upper2(dt, (tg_dtype)ts[i].u->dtype);
  tg_tv src[4096];
  for (size_t i = 0; i < n; i++) {
    tgt_py v;
    src[i] = ts[i].u->op == TG_OP_CONST && tgt_as_py(ts[i], &v) ? tgt_const(S, v, dt) : tgt_cast(S, ts[i], dt);
  }
  tg_tv r = tgt_mk(S, TG_OP_STACK, (int)dt, src, n, tg_arg_none(), NULL);
  if (d == 0 || !r.u) return r;
  int64_t perm[TGT_MAXD + 1];
  size_t k = 0;
  for (int64_t i = 1; i <= d; i++) perm[k++] = i;
  perm[k++] = 0;
  for (uint32_t i = (uint32_t)d + 1; i <= s0.n; i++) perm[k++] = i;
  return tgt_permute(S, r, perm, k);
}

/* OpMixin.cat: equal sizes along dim stack and flatten; otherwise each is padded into place and the pads summed. */
tg_tv tgt_cat(tgt_scope *S, const tg_tv *ts, size_t n, int64_t dim) {
  if (S->st) return TGT_NONE;
  if (!n) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "cat: no tensors");
  tgt_shape s0, si;
  if (tgt_shape_of(S, ts[0], &s0)) return TGT_NONE;
  int64_t d;
  if (tgt_resolve_dim(S, dim, s0.n, 0, &d)) return TGT_NONE;
  int equal = 1;
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (tgt_shape_of(S, ts[i], &si)) return TGT_NONE;
    int ok = si.n == s0.n;
    for (uint32_t j = 0; ok && j < s0.n; j++) ok = j == (uint32_t)d || si.d[j] == s0.d[j];
    if (!ok) {
      char a[256], b[256];
      return tgt_fail(S, TG_ERR_SHAPE, "cat: shapes %s and %s differ outside dim %lld", tgt_tuple_str(s0.d, s0.n, a, sizeof a),
                      tgt_tuple_str(si.d, si.n, b, sizeof b), (long long)d);
    }
    equal &= si.d[d] == s0.d[d];
    total += si.d[d];
  }
  if (equal) { /* self.stack(*args, dim=dim).flatten(dim, dim+1) */
    tg_tv st = tgt_stack(S, ts, n, d);
    int64_t sh[TGT_MAXD];
    size_t k = 0;
    for (uint32_t j = 0; j < s0.n; j++) sh[k++] = j == (uint32_t)d ? (int64_t)n * s0.d[j] : s0.d[j];
    return tgt_reshape(S, st, sh, k);
  }
  tg_tv acc = TGT_NONE;
  int64_t before = 0;
  for (size_t i = 0; i < n; i++) {
    tgt_shape_of(S, ts[i], &si);
    int64_t pads[TGT_MAXD][2] = {{0}};
    pads[d][0] = before, pads[d][1] = total - before - si.d[d];
    before += si.d[d];
    tg_tv p = tgt_pad_mm(S, ts[i], (const int64_t(*)[2])pads, s0.n);
    acc = i == 0 ? p : tgt_add(S, acc, p); /* padded[0].usum(*padded[1:]) */
  }
  return acc;
}

/* ---------------- basic indexing ---------------- */

typedef struct view_index { int64_t size, b0, b1, stride; int collapse, is_none; } view_index;

/* Python's slice.indices(size): clamped start, stop for the given step. */
static void slice_indices(const tg_index *ix, int64_t size, int64_t *start, int64_t *stop, int64_t *step) {
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

tg_tv tgt_getitem(tgt_scope *S, tg_tv x, const tg_index *idx, size_t n) {
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
    else if (idx[i].kind == TG_INDEX_TENSOR) return tgt_fail(S, TG_ERR_UNSUPPORTED, "indexing with a tensor is not supported yet");
    else if (idx[i].kind != TG_INDEX_INT && idx[i].kind != TG_INDEX_SLICE) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "indexing: unknown index kind %d", (int)idx[i].kind);
  }
  size_t nreal = n - (ell != n) - nnone;
  if (nreal > s.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "too many indices (%zu) for %uD", nreal, s.n);
  tg_index full[TGT_MAXD * 2];
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == ell) {
      for (size_t k = 0; k < s.n - nreal; k++) full[m++] = (tg_index){.kind = TG_INDEX_SLICE};
    } else full[m++] = idx[i];
  }
  if (ell == n)
    for (size_t k = 0; k < s.n - nreal; k++) full[m++] = (tg_index){.kind = TG_INDEX_SLICE};
  /* _parse_view_index for each */
  view_index p[TGT_MAXD * 2];
  uint32_t dim = 0;
  for (size_t i = 0; i < m; i++) {
    int64_t size = full[i].kind == TG_INDEX_NONE ? 1 : s.d[dim];
    if (full[i].kind == TG_INDEX_NONE) p[i] = (view_index){1, 0, 1, 1, 0, 1};
    else if (full[i].kind == TG_INDEX_INT) {
      int64_t v = full[i].start;
      if (v >= size || v < -size) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "index=%lld is out of bounds with size=%lld", (long long)v, (long long)size);
      int64_t b = v >= 0 ? v : v + size;
      p[i] = (view_index){size, b, b + 1, 1, 1, 0};
    } else {
      if ((full[i].has & TG_INDEX_HAS_STEP) && full[i].step == 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "slice cannot have 0 as step");
      int64_t a, b, st;
      slice_indices(&full[i], size, &a, &b, &st);
      int64_t b0, b1;
      if (st * (b - a) < 0) b0 = b1 = 0;
      else if (st < 0) b0 = b + 1, b1 = a + 1;
      else b0 = a, b1 = b;
      int64_t ast = st < 0 ? -st : st, len = b1 - b0;
      p[i] = (view_index){(len + ast - 1) / ast, b0, b1, st, 0, 0};
    }
    if (full[i].kind != TG_INDEX_NONE) dim++;
  }
  /* _apply_view_ops over the indices that are not None: shrink, flip the negative strides, then stride */
  int64_t bounds[TGT_MAXD][2], flips[TGT_MAXD], strides[TGT_MAXD];
  size_t nm = 0, nf = 0;
  int any_stride = 0;
  for (size_t i = 0; i < m; i++) {
    if (p[i].is_none) continue;
    bounds[nm][0] = p[i].b0, bounds[nm][1] = p[i].b1;
    if (p[i].stride < 0) flips[nf++] = (int64_t)nm;
    strides[nm] = p[i].stride < 0 ? -p[i].stride : p[i].stride;
    any_stride |= strides[nm] != 1;
    nm++;
  }
  tg_tv r = tgt_flip(S, tgt_shrink(S, x, (const int64_t(*)[2])bounds, nm), flips, nf);
  if (any_stride) {
    tgt_shape xs;
    if (tgt_shape_of(S, r, &xs)) return TGT_NONE;
    int64_t up[TGT_MAXD], two[TGT_MAXD * 2], keep[TGT_MAXD * 2], fin[TGT_MAXD];
    for (size_t i = 0; i < nm; i++) up[i] = (xs.d[i] + strides[i] - 1) / strides[i] * strides[i]; /* round_up */
    r = tgt_pad_to(S, r, up, nm);
    for (size_t i = 0; i < nm; i++) two[2 * i] = up[i] / strides[i], two[2 * i + 1] = strides[i];
    r = tgt_reshape(S, r, two, 2 * nm);
    for (size_t i = 0; i < nm; i++) keep[2 * i] = two[2 * i], keep[2 * i + 1] = 1, fin[i] = two[2 * i];
    r = tgt_reshape(S, tgt_shrink_to(S, r, keep, 2 * nm), fin, nm);
  }
  /* then dim injection (None) and collapse (int) by one reshape */
  int64_t out[TGT_MAXD * 2];
  size_t no = 0;
  for (size_t i = 0; i < m; i++)
    if (!p[i].collapse) out[no++] = p[i].size;
  if (no > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "indexing: a result of %zu dims (at most %d)", no, TGT_MAXD);
  return tgt_reshape(S, r, out, no);
}
