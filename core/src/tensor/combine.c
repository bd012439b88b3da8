/* tensor/combine.c -- tinygrad 0.14.0's stack and cat (mixin/movement.py, mixin/op.py). Indexing is in indexing.c. */
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
