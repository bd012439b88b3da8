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
