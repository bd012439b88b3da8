/* tensor/reduce.c -- tinygrad 0.14.0's reductions (mixin/reduce.py over UOp._rop), the OpMixin compositions on them
** (min, mean, dot/matmul) and _cumalu, which arange is built from. */
#include <math.h>
#include <string.h>

#include "tensor/tensor.h"

static int has(const int64_t *v, size_t n, int64_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x) return 1;
  return 0;
}

/* UOp._rop: reduced axes of size 1 are reshaped away; the others are permuted to the front and REDUCEd. */
static tg_tv rop(tgt_scope *S, tg_tv x, tg_op op, const int64_t *axes_in, size_t n) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t axes[TGT_MAXD], red[TGT_MAXD], rest[TGT_MAXD], perm[TGT_MAXD];
  size_t nred = 0, nrest = 0, np = 0;
  memcpy(axes, axes_in, n * sizeof *axes);
  for (size_t i = 1; i < n; i++) /* sorted(axis) */
    for (size_t j = i; j > 0 && axes[j - 1] > axes[j]; j--) {
      int64_t t = axes[j];
      axes[j] = axes[j - 1], axes[j - 1] = t;
    }
  for (size_t i = 0; i < n; i++)
    if (s.d[axes[i]] != 1) red[nred++] = axes[i];
  for (uint32_t i = 0; i < s.n; i++)
    if (!has(axes, n, i)) rest[nrest++] = s.d[i];
  if (!nred) return tgt_reshape(S, x, rest, nrest);
  for (size_t i = 0; i < nred; i++) perm[np++] = red[i];
  for (uint32_t i = 0; i < s.n; i++)
    if (!has(red, nred, i)) perm[np++] = i;
  tg_tv p = tgt_permute(S, x, perm, np);
  tg_arg items[2] = {tg_arg_op(op), tg_arg_int((int64_t)nred)};
  tg_tv r = tgt_mk(S, TG_OP_REDUCE, TG_DT_AUTO, &p, 1, tg_arg_tuple(items, 2), NULL);
  int same = nred == n && (n == 0 || !memcmp(axes, red, n * sizeof *axes));
  return same ? r : tgt_reshape(S, r, rest, nrest);
}

/* ReduceMixin._reduce: strong dtype, resolved axes (None: all; none for a 0-d value), keepdim by reshape. */
static tg_tv reduce_(tgt_scope *S, tg_tv x, tg_op op, const int64_t *axes, size_t n, int keepdim) {
  if (!x.u) return TGT_NONE;
  x = tgt_cast(S, x, tg_dt_strong((tg_dtype)x.u->dtype));
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t ax[TGT_MAXD], kd[TGT_MAXD];
  size_t na = axes ? n : s.n;
  for (size_t i = 0; i < na; i++)
    if (tgt_resolve_dim(S, axes ? axes[i] : (int64_t)i, s.n, 0, &ax[i])) return TGT_NONE;
  if (s.n == 0) na = 0;
  tg_tv r = rop(S, x, op, ax, na);
  if (!keepdim) return r;
  for (uint32_t i = 0; i < s.n; i++) kd[i] = has(ax, na, i) ? 1 : s.d[i];
  return tgt_reshape(S, r, kd, s.n);
}

static int low_float(int dt) { return dt == TG_FLOAT16 || dt == TG_BFLOAT16 || tg_dt_is_fp8((tg_dtype)dt); }

tg_tv tgt_sum(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim, int acc) {
  if (!x.u) return TGT_NONE;
  int dt = x.u->dtype, adt = acc == TG_DTYPE_NONE ? (int)tg_dt_sum_acc((tg_dtype)dt) : acc;
  if (adt == (int)TG_DT_NONE) return tgt_fail(S, TG_ERR_DTYPE, "sum: no accumulation dtype for dtypes.%s ($SUM_DTYPE?)", tg_dtype_repr_name(dt));
  tg_tv r = reduce_(S, tgt_cast(S, x, adt), TG_OP_ADD, axes, n, keepdim);
  return acc == TG_DTYPE_NONE && low_float(dt) ? tgt_cast(S, r, dt) : r;
}

static tg_tv max_(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim) {
  return reduce_(S, x, TG_OP_MAX, axes, n, keepdim);
}

static tg_tv prod_(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim, int acc) {
  if (!x.u) return TGT_NONE;
  return reduce_(S, tgt_cast(S, x, acc == TG_DTYPE_NONE ? x.u->dtype : acc), TG_OP_MUL, axes, n, keepdim);
}

static tg_tv inverse(tgt_scope *S, tg_tv x) { /* -x for floats, ~x otherwise */
  if (!x.u) return TGT_NONE;
  return tg_dt_is_float((tg_dtype)x.u->dtype) ? tgt_neg(S, x) : tgt_bitwise_not(S, x);
}

static tg_tv mean_(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim) {
  if (!x.u) return TGT_NONE;
  int dt = x.u->dtype, out = tg_dt_is_float((tg_dtype)dt) ? dt : TG_FLOAT32;
  tg_tv num = tgt_sum(S, tgt_cast(S, x, tg_dt_sum_acc((tg_dtype)dt)), axes, n, keepdim, TG_DTYPE_NONE);
  tgt_shape s;
  if (!num.u || tgt_shape_of(S, x, &s)) return TGT_NONE;
  /* prod of the dims that self.sum(axis, keepdim=True) changes: reduced dims other than 1 */
  int64_t den = 1, ax;
  size_t na = axes ? n : s.n;
  uint64_t done[TGT_MAXD / 64 + 1] = {0};
  for (size_t i = 0; i < na && s.n; i++) {
    if (tgt_resolve_dim(S, axes ? axes[i] : (int64_t)i, s.n, 0, &ax)) return TGT_NONE;
    if (done[ax / 64] >> (ax % 64) & 1) continue;
    done[ax / 64] |= 1ull << (ax % 64);
    if (s.d[ax] != 1 && __builtin_mul_overflow(den, s.d[ax], &den))
      return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "mean: the number of reduced elements overflows int64");
  }
  return tgt_cast(S, tgt_div(S, num, tgt_const(S, tgt_pyint(den), TG_DT_AUTO), 0, 0), out);
}

tg_tv tgt_reduce(tgt_scope *S, int op, tg_tv x, const int64_t *axes, size_t n, int keepdim, int acc) {
  switch ((tg_reduce_op)op) {
  case TG_REDUCE_SUM: return tgt_sum(S, x, axes, n, keepdim, acc);
  case TG_REDUCE_PROD: return prod_(S, x, axes, n, keepdim, acc);
  case TG_REDUCE_MAX: return max_(S, x, axes, n, keepdim);
  case TG_REDUCE_MIN: return inverse(S, max_(S, inverse(S, x), axes, n, keepdim));
  case TG_REDUCE_MEAN: return mean_(S, x, axes, n, keepdim);
  case TG_REDUCE_ANY: return max_(S, tgt_cast(S, x, TG_BOOL), axes, n, keepdim);
  case TG_REDUCE_ALL: return prod_(S, tgt_cast(S, x, TG_BOOL), axes, n, keepdim, TG_DTYPE_NONE);
  }
  return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid reduce op %d", op);
}

/* OpMixin.dot: x (..., 1?, k) * w (..., 1?, k, n) transposed, summed over the last axis. */
tg_tv tgt_dot(tgt_scope *S, tg_tv x, tg_tv w, int acc) {
  tgt_shape xs, ws;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, w, &ws)) return TGT_NONE;
  int64_t dx = xs.n, dw = ws.n;
  char a[1024], b[1024];
  if (!(dx > 0 && dw > 0))
    return tgt_fail(S, TG_ERR_SHAPE, "both tensors need to be at least 1D, got %lldD and %lldD", (long long)dx, (long long)dw);
  int64_t axis_w = -(dw < 2 ? dw : 2), k = dx - 1 < dw - 1 ? dx - 1 : dw - 1;
  if (k > 1) k = 1;
  if (xs.d[dx - 1] != ws.d[dw + axis_w])
    return tgt_fail(S, TG_ERR_SHAPE, "cannot dot %s and %s", tgt_tuple_str(xs.d, xs.n, a, sizeof a), tgt_tuple_str(ws.d, ws.n, b, sizeof b));
  if (dx + 1 > TGT_MAXD || dw + 1 > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  int64_t nx[TGT_MAXD], nw[TGT_MAXD];
  size_t nnx = 0, nnw = 0;
  for (int64_t i = 0; i < dx - 1; i++) nx[nnx++] = xs.d[i];
  for (int64_t i = 0; i < k; i++) nx[nnx++] = 1;
  nx[nnx++] = xs.d[dx - 1];
  for (int64_t i = 0; i < dw - 2; i++) nw[nnw++] = ws.d[i];
  for (int64_t i = 0; i < k; i++) nw[nnw++] = 1;
  for (int64_t i = dw + axis_w; i < dw; i++) nw[nnw++] = ws.d[i];
  x = tgt_reshape(S, x, nx, nnx);
  w = tgt_transpose(S, tgt_reshape(S, w, nw, nnw), -1, axis_w);
  if (!x.u || !w.u) return TGT_NONE;
  int out = acc == TG_DTYPE_NONE ? (int)tg_dt_least_upper2((tg_dtype)x.u->dtype, (tg_dtype)w.u->dtype) : acc;
  int64_t last = -1;
  return tgt_cast(S, tgt_sum(S, tgt_mul(S, x, w), &last, 1, 0, acc), out);
}

/* identity_element(op, dtype) as the Python value dtype.const() gives. */
static tgt_py identity(tg_op op, int dt) {
  int is_f = tg_dt_is_float((tg_dtype)dt), is_b = dt == TG_BOOL;
  if (op == TG_OP_MAX) {
    if (is_f) return tgt_pyfloat(-INFINITY);
    if (is_b) return tgt_pybool(0);
    if (tg_dt_is_unsigned((tg_dtype)dt)) return tgt_pyint(0);
    int bits = tg_dt_bitsize((tg_dtype)dt);
    return tgt_pyint(bits >= 64 || dt == TG_WEAKINT ? INT64_MIN : -(int64_t)(1ull << (bits - 1)));
  }
  int v = op == TG_OP_MUL;
  return is_f ? tgt_pyfloat(v) : is_b ? tgt_pybool(v) : tgt_pyint(v);
}

/* OpMixin._cumalu: pad the axis with op's identity on the left, pool windows of its length, reduce them. */
tg_tv tgt_cumalu(tgt_scope *S, tg_tv x, int64_t axis, tg_op op) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t ax;
  if (tgt_resolve_dim(S, axis, s.n, 0, &ax)) return TGT_NONE;
  if (s.d[ax] == 0) return tgt_fail(S, TG_ERR_SHAPE, "cumulative op over an empty axis");
  int64_t pads[TGT_MAXD][2] = {{0}}, len = s.d[ax], last = -1;
  pads[s.n - 1][0] = len - 1;
  tgt_py id = identity(op, x.u->dtype);
  tg_tv p = tgt_pad_constant(S, tgt_transpose(S, x, axis, -1), (const int64_t(*)[2])pads, s.n, &id);
  tg_tv pooled = tgt_pool(S, p, &len, 1, 1, 1);
  tg_tv r = op == TG_OP_ADD ? tgt_sum(S, pooled, &last, 1, 0, TG_DTYPE_NONE)
          : op == TG_OP_MAX ? max_(S, pooled, &last, 1, 0) : prod_(S, pooled, &last, 1, 0, TG_DTYPE_NONE);
  return tgt_transpose(S, r, axis, -1);
}

/* UOp._rop, for the gradient rules. */
tg_tv tgt_rop(tgt_scope *S, tg_tv x, tg_op op, const int64_t *axes, size_t n) { return rop(S, x, op, axes, n); }
