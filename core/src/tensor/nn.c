/* tensor/nn.c -- tinygrad 0.14.0's OpMixin compositions used by neural networks, as it builds them: _softmax, softmax,
** log_softmax, logsumexp, argmax/argmin, var/std and layernorm (mixin/op.py). Each is tinygrad's definition over the
** frontend's ops, so the graphs (and the kernels) equal tinygrad's. */
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

static tg_tv detach(tgt_scope *S, tg_tv x) { return tgt_unary(S, TG_UNARY_DETACH, x); }

/* _softmax(axis, dtype): m = x - x.max(axis, keepdim=True).detach() (cast to dtype when given), e = m.exp(), ss = e.sum(axis, keepdim=True) */
static void softmax_parts(tgt_scope *S, tg_tv x, int64_t axis, int dtype, tg_tv *m, tg_tv *e, tg_tv *ss) {
  tg_tv mx = detach(S, tgt_reduce(S, TG_REDUCE_MAX, x, &axis, 1, 1, TG_DTYPE_NONE));
  *m = tgt_sub(S, x, mx);
  if (dtype != TG_DTYPE_NONE) *m = tgt_cast(S, *m, dtype);
  *e = tgt_unary(S, TG_UNARY_EXP, *m);
  *ss = tgt_sum(S, *e, &axis, 1, 1, TG_DTYPE_NONE);
}

tg_tv tgt_softmax(tgt_scope *S, tg_tv x, int64_t axis, int dtype, int log) {
  tg_tv m, e, ss;
  softmax_parts(S, x, axis, dtype, &m, &e, &ss);
  return log ? tgt_sub(S, m, tgt_unary(S, TG_UNARY_LOG, ss)) : tgt_mul(S, e, tgt_unary(S, TG_UNARY_RECIPROCAL, ss));
}

/* logsumexp(axis, keepdim): m = x.max(axis, keepdim=True).detach(); (x - m).exp().sum(axis, keepdim).log() + (m or m.squeeze(axis)) */
tg_tv tgt_logsumexp(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim) {
  tg_tv m = detach(S, tgt_reduce(S, TG_REDUCE_MAX, x, axes, n, 1, TG_DTYPE_NONE));
  tg_tv r = tgt_unary(S, TG_UNARY_LOG, tgt_sum(S, tgt_unary(S, TG_UNARY_EXP, tgt_sub(S, x, m)), axes, n, keepdim, TG_DTYPE_NONE));
  if (keepdim) return tgt_add(S, r, m);
  tgt_shape ms; /* m.squeeze(axis): the reduced dims (all of them for axis=None, when size 1) go */
  if (tgt_shape_of(S, m, &ms)) return TGT_NONE;
  int64_t sq[TGT_MAXD], ax[TGT_MAXD];
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (tgt_resolve_dim(S, axes[i], ms.n, 0, &ax[i])) return TGT_NONE;
  for (uint32_t i = 0; i < ms.n; i++) {
    int drop = 0;
    for (size_t j = 0; j < n && !drop; j++) drop = ax[j] == (int64_t)i;
    if (!axes) drop = ms.d[i] == 1;
    if (!drop || ms.d[i] != 1) sq[k++] = ms.d[i];
  }
  return tgt_add(S, r, tgt_reshape(S, m, sq, k));
}

/* argmax(axis, keepdim); axis NULL: x.flatten().argmax(0). argmin is argmax of x._inverse(). */
tg_tv tgt_argmax(tgt_scope *S, tg_tv x, const int64_t *axis, int keepdim, int is_min) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (is_min) x = tg_dt_is_float((tg_dtype)x.u->dtype) ? tgt_neg(S, x)
                  : tg_dt_is_int((tg_dtype)x.u->dtype) ? tgt_bitwise_not(S, x) : tgt_logical_not(S, x);
  if (!axis) {
    int64_t total = 1, zero = 0;
    for (uint32_t i = 0; i < s.n; i++) total *= s.d[i];
    return tgt_argmax(S, tgt_reshape(S, x, &total, 1), &zero, 0, 0);
  }
  int64_t a;
  if (tgt_resolve_dim(S, *axis, s.n, 0, &a)) return TGT_NONE;
  tg_tv m = tgt_binary(S, TG_BINARY_EQ, x, tgt_reduce(S, TG_REDUCE_MAX, x, &a, 1, 1, TG_DTYPE_NONE));
  tgt_py step = tgt_pyint(-1), stop = tgt_pyint(0);
  tg_tv ar = tgt_arange(S, tgt_pyint(s.d[a]), &stop, step, TG_DT_AUTO);
  int64_t rs[TGT_MAXD];
  size_t k = 0;
  rs[k++] = s.d[a];
  for (uint32_t i = (uint32_t)a + 1; i < s.n; i++) rs[k++] = 1;
  tg_tv idx = tgt_mul(S, m, tgt_reshape(S, ar, rs, k));
  tg_tv mx = tgt_reduce(S, TG_REDUCE_MAX, idx, &a, 1, keepdim, TG_DTYPE_NONE);
  return tgt_cast(S, tgt_sub_rev(S, mx, tgt_const(S, tgt_pyint(s.d[a]), TG_DT_AUTO), 1), TG_INT32); /* shape[axis] - idx.max() */
}

/* var(axis, keepdim, correction) (std = var.sqrt()): squares of the deviation from the mean, summed in the sum dtype,
** divided by max(n - correction, 0) with n the number of reduced elements, cast to the float output dtype. */
tg_tv tgt_var(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim, double correction, int std) {
  if (!x.u) return TGT_NONE;
  int out_dt = tg_dt_is_float((tg_dtype)x.u->dtype) ? (int)x.u->dtype : TG_FLOAT32;
  tg_tv sq = tgt_unary(S, TG_UNARY_SQUARE, tgt_sub(S, x, tgt_reduce(S, TG_REDUCE_MEAN, x, axes, n, 1, TG_DTYPE_NONE)));
  tgt_shape xs, ks;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, tgt_sum(S, sq, axes, n, 1, TG_DTYPE_NONE), &ks)) return TGT_NONE;
  int64_t cnt = 1;
  for (uint32_t i = 0; i < xs.n; i++)
    if (xs.d[i] != ks.d[i]) cnt *= xs.d[i];
  tg_tv num = tgt_sum(S, tgt_cast(S, sq, tg_dt_sum_acc((tg_dtype)x.u->dtype)), axes, n, keepdim, TG_DTYPE_NONE);
  double den = (double)cnt - correction;
  tgt_py d = correction == (double)(int64_t)correction ? tgt_pyint(den > 0 ? (int64_t)den : 0) : tgt_pyfloat(den > 0 ? den : 0);
  tg_tv r = tgt_cast(S, tgt_div(S, num, tgt_const(S, d, TG_DT_AUTO), 0, 0), out_dt);
  return std ? tgt_unary(S, TG_UNARY_SQRT, r) : r;
}

/* layernorm(axis, eps): y = x - x.mean(axis, keepdim=True); y * (y*y).mean(axis, keepdim=True).add(eps).rsqrt() */
tg_tv tgt_layernorm(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, double eps) {
  tg_tv y = tgt_sub(S, x, tgt_reduce(S, TG_REDUCE_MEAN, x, axes, n, 1, TG_DTYPE_NONE));
  tg_tv v = tgt_reduce(S, TG_REDUCE_MEAN, tgt_mul(S, y, y), axes, n, 1, TG_DTYPE_NONE);
  return tgt_mul(S, y, tgt_unary(S, TG_UNARY_RSQRT, tgt_add_py(S, v, tgt_pyfloat(eps), 0)));
}

/* ---------------- losses (mixin/op.py) ---------------- */

/* _do_reduction: "none" (0), "mean" (1), "sum" (2) */
tg_tv tgt_do_reduction(tgt_scope *S, tg_tv x, int reduction) {
  if (reduction == TG_REDUCTION_NONE) return x;
  return tgt_reduce(S, reduction == TG_REDUCTION_SUM ? TG_REDUCE_SUM : TG_REDUCE_MEAN, x, NULL, 0, 0, TG_DTYPE_NONE);
}

int tgt_check_reduction(tgt_scope *S, int reduction) {
  if (reduction == TG_REDUCTION_NONE || reduction == TG_REDUCTION_MEAN || reduction == TG_REDUCTION_SUM) return 0;
  tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "reduction=%d must be one of ('none', 'mean', 'sum')", reduction);
  return -1;
}

/* sparse_categorical_crossentropy(Y, ignore_index, label_smoothing, reduction) */
tg_tv tgt_sparse_ce(tgt_scope *S, tg_tv x, tg_tv Y, int64_t ignore_index, double label_smoothing, int reduction) {
  if (!x.u || !Y.u || tgt_check_reduction(S, reduction)) return TGT_NONE;
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "label_smoothing must be in [0.0, 1.0]");
  if (Y.dev && x.dev && Y.dev != x.dev)
    return tgt_fail(S, TG_ERR_DTYPE, "expected Y and self on the same device, Y.device='%s', self.device='%s'", Y.dev, x.dev);
  tgt_shape xs;
  if (tgt_shape_of(S, x, &xs)) return TGT_NONE;
  if (!xs.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
  tg_tv log_probs = tgt_softmax(S, x, -1, TG_DTYPE_NONE, 1);
  tg_tv loss_mask = ignore_index != -1 ? tgt_binary(S, TG_BINARY_NE, Y, tgt_const(S, tgt_pyint(ignore_index), TG_DT_AUTO))
                                       : tgt_const_like(S, Y, tgt_pybool(1), TG_BOOL);
  tg_tv y = tgt_mul(S, tgt_one_hot_along_dim(S, tgt_unsqueeze(S, Y, -1), xs.d[xs.n - 1], -1), tgt_unsqueeze(S, loss_mask, -1));
  int64_t last = -1;
  tg_tv smoothing = tgt_mul_py(S, tgt_mul(S, tgt_reduce(S, TG_REDUCE_MEAN, log_probs, &last, 1, 0, TG_DTYPE_NONE), loss_mask), tgt_pyfloat(label_smoothing), 1);
  tg_tv unreduced = tgt_add(S, tgt_mul_py(S, tgt_sum(S, tgt_mul(S, log_probs, y), &last, 1, 0, TG_DTYPE_NONE), tgt_pyfloat(1 - label_smoothing), 1), smoothing);
  if (reduction == TG_REDUCTION_MEAN) return tgt_div(S, tgt_neg(S, tgt_sum(S, unreduced, NULL, 0, 0, TG_DTYPE_NONE)), tgt_sum(S, loss_mask, NULL, 0, 0, TG_DTYPE_NONE), 0, 0);
  return tgt_neg(S, tgt_do_reduction(S, unreduced, reduction));
}

/* cross_entropy(Y, reduction, label_smoothing): Y class probabilities, or class indices (one-hot along the class dim) */
tg_tv tgt_cross_entropy(tgt_scope *S, tg_tv x, tg_tv Y, int reduction, double label_smoothing) {
  if (!x.u || !Y.u || tgt_check_reduction(S, reduction)) return TGT_NONE;
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "label_smoothing must be in [0.0, 1.0]");
  tgt_shape xs, ys, ms;
  if (tgt_shape_of(S, x, &xs) || tgt_shape_of(S, Y, &ys)) return TGT_NONE;
  int64_t cd = xs.n == 1 ? 0 : 1;
  if (xs.n != ys.n || memcmp(xs.d, ys.d, xs.n * sizeof *xs.d)) {
    if (tgt_shape_of(S, tgt_reduce(S, TG_REDUCE_MAX, x, &cd, 1, 0, TG_DTYPE_NONE), &ms)) return TGT_NONE;
    if (ms.n != ys.n || memcmp(ms.d, ys.d, ms.n * sizeof *ms.d)) {
      char a[256], b[256];
      return tgt_fail(S, TG_ERR_SHAPE, "shape mismatch: self.shape=%s, Y.shape=%s", tgt_tuple_str(xs.d, xs.n, a, sizeof a), tgt_tuple_str(ys.d, ys.n, b, sizeof b));
    }
    Y = tgt_one_hot_along_dim(S, tgt_unsqueeze(S, Y, cd), xs.d[cd], cd);
    if (tgt_shape_of(S, Y, &ys)) return TGT_NONE;
  }
  /* Y = (1 - label_smoothing)*Y + label_smoothing / int(Y.shape[classes_dim]) */
  Y = tgt_add_py(S, tgt_mul_py(S, Y, tgt_pyfloat(1 - label_smoothing), 1), tgt_pyfloat(label_smoothing / (double)ys.d[cd]), 0);
  tg_tv r = tgt_sum(S, tgt_mul(S, tgt_softmax(S, x, cd, TG_DTYPE_NONE, 1), Y), &cd, 1, 0, TG_DTYPE_NONE);
  return tgt_neg(S, tgt_do_reduction(S, r, reduction)); /* -(...)._do_reduction(): the minus applies last */
}
