/* tensor/functional.c -- tinygrad 0.14.0's functional nn and processing compositions: normalize, isclose, lerp, linear,
** batchnorm, the binary cross-entropies and nll_loss, logcumsumexp, masked_select, nonzero, (dropout lives in random.c),
** scaled_dot_product_attention, interpolate, max_unpool2d, diagonal, einsum and nn.Embedding's lookup (mixin/op.py,
** mixin/elementwise.py, mixin/rand.py, nn/__init__.py), with isinf's detect flags and softmin. Each is tinygrad's definition op for op over the frontend's
** builders, so the graphs equal tinygrad's; the public tg_tensor_* calls are at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

#define SHAPE_STR(v, n) tgt_tuple_str((v), (n), (char[1024]){0}, 1024)

static tg_tv pyc(tgt_scope *S, tgt_py v) { return tgt_const(S, v, TG_DT_AUTO); }
static tg_tv pyi(tgt_scope *S, int64_t v) { return pyc(S, tgt_pyint(v)); }
static tg_tv pyf(tgt_scope *S, double v) { return pyc(S, tgt_pyfloat(v)); }
static tg_tv bin(tgt_scope *S, int op, tg_tv a, tg_tv b) { return tgt_binary(S, op, a, b); }
static tg_tv un(tgt_scope *S, int op, tg_tv x) { return tgt_unary(S, op, x); }
static tg_tv sub_i(tgt_scope *S, tg_tv x, int64_t v) { return tgt_sub(S, x, pyi(S, v)); }
static tg_tv rsub_i(tgt_scope *S, int64_t v, tg_tv x) { return tgt_sub_rev(S, x, pyi(S, v), 1); } /* v - x */
static tg_tv sum1(tgt_scope *S, tg_tv x, int64_t axis, int keepdim) { return tgt_sum(S, x, &axis, 1, keepdim, TG_DTYPE_NONE); }
static tg_tv sum_all(tgt_scope *S, tg_tv x) { return tgt_sum(S, x, NULL, 0, 0, TG_DTYPE_NONE); }
static tg_tv arange(tgt_scope *S, int64_t start, int64_t stop, int dtype) {
  tgt_py e = tgt_pyint(stop);
  return tgt_arange(S, tgt_pyint(start), &e, tgt_pyint(1), dtype);
}
static tg_tv idx_int(tgt_scope *S, tg_tv x, int64_t i) {
  tgt_index ix = {.kind = TG_INDEX_INT, .start = i};
  return tgt_getitem(S, x, &ix, 1, TGT_NONE);
}

/* x.flatten(): one dim of all elements ((1,) for a 0-d x). */
static tg_tv flatten(tgt_scope *S, tg_tv x) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  int64_t n = 1;
  for (uint32_t i = 0; i < s.n; i++) n *= s.d[i];
  return tgt_reshape(S, x, &n, 1);
}

/* Realizes v (a 0-d or one-element value) and reads it as an int: tinygrad's int(t.item()). */
static int item_int(tgt_scope *S, tg_tv v, int64_t *out) {
  if (!v.u || S->st) return -1;
  int dt = v.u->dtype, isz = tg_dt_itemsize((tg_dtype)dt);
  if (tg_dt_is_float((tg_dtype)dt) || isz > 8) return tgt_fail(S, TG_ERR_INTERNAL, "item_int: a dtypes.%s value", tg_dtype_repr_name(dt)), -1;
  tg_tensor *h = NULL;
  tgt_scope R = {0};
  tg_status st = tgt_finish_public(&R, v, &h);
  unsigned char b[8] = {0};
  if (!st) st = tg_tensor_data(h, b, (size_t)isz);
  tg_tensor_release(h);
  if (st) return S->st = S->st ? S->st : st, -1;
  uint64_t u = 0;
  memcpy(&u, b, (size_t)isz); /* little-endian hosts */
  if (!tg_dt_is_unsigned((tg_dtype)dt) && dt != TG_BOOL && isz < 8 && (u >> (isz * 8 - 1)) & 1) u |= ~0ull << (isz * 8);
  *out = (int64_t)u;
  return 0;
}

/* ---------------- elementwise compositions ---------------- */

/* normalize(p, dim, eps): self / (p == 0 ? self.ne(0).sum(dim, keepdim) : self.abs().pow(p).sum(dim, keepdim).pow(1/p)).maximum(eps) */
tg_tv tgt_normalize(tgt_scope *S, tg_tv x, tgt_py p, int64_t dim, double eps) {
  int zero = p.kind == TG_ARG_FLOAT ? p.f == 0.0 : p.i == 0;
  tg_tv den;
  if (zero) den = sum1(S, bin(S, TG_BINARY_NE, x, pyi(S, 0)), dim, 1);
  else {
    double inv = 1.0 / (p.kind == TG_ARG_FLOAT ? p.f : (double)p.i);
    den = bin(S, TG_BINARY_POW, sum1(S, bin(S, TG_BINARY_POW, un(S, TG_UNARY_ABS, x), pyc(S, p)), dim, 1), pyf(S, inv));
  }
  return tgt_div(S, x, bin(S, TG_BINARY_MAXIMUM, den, pyf(S, eps)), 0, 0);
}

/* isclose(other, rtol, atol, equal_nan): finite and |x - o| <= atol + rtol*|o|, or equal infinities, or (equal_nan) both NaN */
tg_tv tgt_isclose(tgt_scope *S, tg_tv x, tg_tv o, double rtol, double atol, int equal_nan) {
  tg_tv tol = tgt_add_py(S, tgt_mul_py(S, un(S, TG_UNARY_ABS, o), tgt_pyfloat(rtol), 1), tgt_pyfloat(atol), 1);
  tg_tv close = bin(S, TG_BINARY_LE, un(S, TG_UNARY_ABS, tgt_sub(S, x, o)), tol);
  tg_tv fin = bin(S, TG_BINARY_AND, bin(S, TG_BINARY_AND, un(S, TG_UNARY_ISFINITE, x), un(S, TG_UNARY_ISFINITE, o)), close);
  tg_tv inf = bin(S, TG_BINARY_AND, bin(S, TG_BINARY_OR, un(S, TG_UNARY_ISINF, x), un(S, TG_UNARY_ISINF, o)), bin(S, TG_BINARY_EQ, x, o));
  tg_tv nan = bin(S, TG_BINARY_AND, bin(S, TG_BINARY_AND, un(S, TG_UNARY_ISNAN, x), un(S, TG_UNARY_ISNAN, o)), pyc(S, tgt_pybool(equal_nan)));
  return bin(S, TG_BINARY_OR, bin(S, TG_BINARY_OR, fin, inf), nan);
}

/* lerp(end, weight): self + (end - self) * weight; uint8 with a tensor weight in 7-bit fixed point, as tinygrad does. */
tg_tv tgt_lerp(tgt_scope *S, tg_tv x, tg_tv end, tg_tv w) {
  if (!x.u || !end.u || !w.u) return TGT_NONE;
  tgt_py wv;
  if (x.u->dtype == TG_UINT8 && !tgt_as_py(w, &wv)) {
    tg_tv wi = tgt_cast(S, tgt_add_py(S, tgt_mul_py(S, w, tgt_pyint(1 << 7), 0), tgt_pyfloat(0.5), 0), TG_INT16);
    tg_tv d = tgt_add_py(S, tgt_mul(S, tgt_cast(S, tgt_sub(S, end, x), TG_INT8), wi), tgt_pyint(1 << 6), 0);
    return tgt_cast(S, tgt_add(S, x, bin(S, TG_BINARY_SHR, tgt_cast(S, d, TG_UINT16), pyi(S, 7))), TG_UINT8);
  }
  return tgt_add(S, x, tgt_mul(S, tgt_sub(S, end, x), w));
}

/* clamp(min_, max_): (self < min_).where(min_, self), then (ret > max_).where(max_, ret); .u NULL for None. */
tg_tv tgt_clamp(tgt_scope *S, tg_tv x, tg_tv lo, tg_tv hi) {
  if (!lo.u && !hi.u) return tgt_fail(S, TG_ERR_DTYPE, "at least one of 'min_' or 'max_' must not be None");
  tg_tv r = lo.u ? tgt_where(S, bin(S, TG_BINARY_LT, x, lo), lo, x) : x;
  return hi.u ? tgt_where(S, bin(S, TG_BINARY_GT, r, hi), hi, r) : r;
}

/* isinf(detect_positive, detect_negative): x.eq(inf) * detect_positive + x.eq(-inf) * detect_negative */
tg_tv tgt_isinf(tgt_scope *S, tg_tv x, int pos, int neg) {
  tg_tv p = tgt_mul_py(S, bin(S, TG_BINARY_EQ, x, pyf(S, INFINITY)), tgt_pybool(pos), 0);
  return tgt_add(S, p, tgt_mul_py(S, bin(S, TG_BINARY_EQ, x, pyf(S, -INFINITY)), tgt_pybool(neg), 0));
}

/* ---------------- nn ---------------- */

/* linear(weight, bias, dtype): x * weight (1-d weight) or x.dot(weight), plus bias; dtype casts all three first. */
tg_tv tgt_linear(tgt_scope *S, tg_tv x, tg_tv w, tg_tv b, int dtype) {
  if (dtype != TG_DTYPE_NONE) {
    x = tgt_cast(S, x, dtype), w = tgt_cast(S, w, dtype);
    if (b.u) b = tgt_cast(S, b, dtype);
  }
  tgt_shape ws;
  if (tgt_shape_of(S, w, &ws)) return TGT_NONE;
  tg_tv r = ws.n == 1 ? tgt_mul(S, x, w) : tgt_dot(S, x, w, TG_DTYPE_NONE);
  return b.u ? tgt_add(S, r, b) : r;
}

/* batchnorm(weight, bias, mean, invstd, axis): parameters reshaped to 1s except at the axes (compared as given). */
tg_tv tgt_batchnorm(tgt_scope *S, tg_tv x, tg_tv w, tg_tv b, tg_tv mean, tg_tv invstd, const int64_t *axes, size_t na) {
  tgt_shape s, is;
  if (tgt_shape_of(S, x, &s) || tgt_shape_of(S, invstd, &is)) return TGT_NONE;
  int64_t sh[TGT_MAXD];
  for (uint32_t i = 0; i < s.n; i++) {
    sh[i] = 1;
    for (size_t j = 0; j < na; j++)
      if (axes[j] == (int64_t)i) sh[i] = s.d[i];
  }
  tg_tv r = tgt_sub(S, x, tgt_reshape(S, mean, sh, s.n));
  if (w.u) r = tgt_mul(S, r, tgt_reshape(S, w, sh, s.n));
  r = tgt_mul(S, r, is.n == na ? tgt_reshape(S, invstd, sh, s.n) : invstd);
  return b.u ? tgt_add(S, r, tgt_reshape(S, b, sh, s.n)) : r;
}

/* scaled_dot_product_attention(key, value, attn_mask, dropout_p, is_causal, enable_gqa) */
tg_tv tgt_sdpa(tgt_scope *S, tg_tv q, tg_tv k, tg_tv v, tg_tv mask, double dropout_p, int is_causal, int enable_gqa, int training) {
  tgt_shape qs, ks, vs;
  if (tgt_shape_of(S, q, &qs) || tgt_shape_of(S, k, &ks) || tgt_shape_of(S, v, &vs)) return TGT_NONE;
  if (enable_gqa) {
    if (qs.n < 3 || ks.n < 3 || vs.n < 3) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
    if (!ks.d[ks.n - 3] || !vs.d[vs.n - 3]) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
    const int64_t dim = -3;
    k = tgt_repeat_interleave(S, k, tgt_floordiv(qs.d[qs.n - 3], ks.d[ks.n - 3]), &dim);
    v = tgt_repeat_interleave(S, v, tgt_floordiv(qs.d[qs.n - 3], vs.d[vs.n - 3]), &dim);
  }
  if (!qs.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
  if (!k.u) return TGT_NONE;
  int acc = (int)tg_dt_least_upper2(tg_dt_least_upper2((tg_dtype)q.u->dtype, (tg_dtype)k.u->dtype), TG_FLOAT32);
  tg_tv qk = tgt_div(S, tgt_dot(S, q, tgt_transpose(S, k, -2, -1), acc), pyf(S, sqrt((double)qs.d[qs.n - 1])), 0, 0);
  if (is_causal) {
    if (mask.u) return tgt_fail(S, TG_ERR_DTYPE, "cannot set attn_mask when is_causal=True");
    mask = tgt_triu(S, tgt_const_like(S, qk, tgt_pybool(1), TG_BOOL), 0, 1);
  }
  if (mask.u) {
    if (mask.u->dtype == TG_BOOL) mask = tgt_where(S, mask, pyi(S, 0), pyf(S, -INFINITY));
    qk = tgt_add(S, qk, mask);
  }
  tg_tv sm = tgt_softmax(S, tgt_cast(S, qk, q.u->dtype), -1, TG_DTYPE_NONE, 0);
  return tgt_dot(S, tgt_dropout(S, sm, dropout_p, training), v, TG_DTYPE_NONE);
}

/* interpolate(size, mode, align_corners) over the last n dims, the last one first. */
tg_tv tgt_interpolate(tgt_scope *S, tg_tv x0, const int64_t *size, size_t n, int mode, int align_corners) {
  tgt_shape s;
  if (tgt_shape_of(S, x0, &s)) return TGT_NONE;
  if (!n || n > s.n) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid size=%s", SHAPE_STR(size, n));
  if (mode < TG_INTERPOLATE_LINEAR || mode > TG_INTERPOLATE_NEAREST_EXACT)
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "only supports linear, nearest or nearest-exact interpolate");
  if (align_corners && mode != TG_INTERPOLATE_LINEAR)
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "align_corners option can only be set with the interpolating mode linear");
  tg_tv x = x0;
  int64_t expand[TGT_MAXD], reshape[TGT_MAXD];
  memcpy(expand, s.d, s.n * sizeof *expand);
  for (size_t j = 1; j <= n; j++) {
    int64_t ax = (int64_t)s.n - (int64_t)j, in_sz = s.d[ax], out = size[n - j];
    for (uint32_t i = 0; i < s.n; i++) reshape[i] = 1;
    reshape[ax] = expand[ax] = out;
    if (mode == TG_INTERPOLATE_LINEAR) {
      tg_tv arr = arange(S, 0, out, TG_DT_AUTO), num;
      int64_t den;
      if (align_corners) num = tgt_mul_py(S, arr, tgt_pyint(in_sz - 1), 0), den = out - 1;
      else num = sub_i(S, tgt_mul_py(S, tgt_add_py(S, tgt_mul_py(S, arr, tgt_pyint(2), 0), tgt_pyint(1), 0), tgt_pyint(in_sz), 0), out), den = out * 2;
      num = tgt_clamp(S, num, pyi(S, 0), pyi(S, (in_sz - 1) * den));
      tg_tv low = tgt_div(S, num, pyi(S, den), 0, 'f');
      tg_tv high = tgt_div(S, sub_i(S, tgt_add_py(S, num, tgt_pyint(den), 0), 1), pyi(S, den), 0, 'f');
      tg_tv perc = tgt_div(S, tgt_cast(S, bin(S, TG_BINARY_MOD, num, pyi(S, den)), TG_FLOAT32), pyi(S, den), 0, 0);
      low = tgt_expand(S, tgt_reshape(S, low, reshape, s.n), expand, s.n);
      high = tgt_expand(S, tgt_reshape(S, high, reshape, s.n), expand, s.n);
      perc = tgt_expand(S, tgt_reshape(S, perc, reshape, s.n), expand, s.n);
      x = tgt_lerp(S, tgt_gather(S, x, -(int64_t)j, low), tgt_gather(S, x, -(int64_t)j, high), perc);
    } else {
      double scale = (double)in_sz / (double)out;
      tg_tv arr = arange(S, 0, out, TG_FLOAT32);
      tg_tv idx = tgt_mul_py(S, mode == TG_INTERPOLATE_NEAREST_EXACT ? tgt_add_py(S, arr, tgt_pyfloat(0.5), 0) : arr, tgt_pyfloat(scale), 1);
      idx = tgt_expand(S, tgt_reshape(S, tgt_cast(S, idx, TG_INT32), reshape, s.n), expand, s.n);
      x = tgt_gather(S, x, -(int64_t)j, idx);
    }
  }
  return tgt_cast(S, x, x0.u->dtype);
}

/* max_unpool2d(indices, kernel_size, stride, dilation, padding, output_size): each value scattered to its index with a
** one-hot mask summed away. out_size NULL: the size max_pool2d came from (the inverse of its output size formula). */
tg_tv tgt_max_unpool2d(tgt_scope *S, tg_tv x, tg_tv indices, const int64_t *k, size_t nk, const tg_conv_params *p,
                       const int64_t *out_size, size_t nout) {
  tgt_shape s;
  if (tgt_shape_of(S, x, &s)) return TGT_NONE;
  if (s.n < 2) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "not enough values to unpack (expected at least 2, got %u)", s.n);
  size_t ns = s.n - 2;
  int64_t osz[TGT_MAXD], total = 1;
  size_t no;
  if (!out_size) {
    /* zip(spatial_shape, k_, d_, s_, p_) stops at the shortest */
    const int64_t *st = p && p->stride ? p->stride : k, *dl = p ? p->dilation : NULL, *pd = p ? p->padding : NULL;
    size_t nst = p && p->stride ? p->nstride : nk, ndl = dl ? p->ndilation : ns, npd = pd ? p->npadding : 2 * ns;
    if (pd && npd != ns && npd != 2 * ns) {
      char b[256];
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "Padding must be an int or a sequence of length %zu or %zu, but got padding=%s with dims=%zu.",
                      ns, 2 * ns, tgt_tuple_str(pd, npd, b, sizeof b), ns);
    }
    int64_t flat[2 * TGT_MAXD]; /* resolve_pool_pads: PyTorch's flat order, last dim first */
    for (size_t i = 0; i < 2 * ns; i++) flat[i] = !pd ? 0 : npd == 2 * ns ? pd[i] : pd[ns - 1 - i / 2];
    no = ns < nk ? ns : nk;
    if (nst < no) no = nst;
    if (ndl < no) no = ndl;
    for (size_t i = 0; i < no; i++) {
      /* flat_to_grouped: dim i's pair is (flat[2(ns-1-i)], flat[2(ns-1-i)+1]); the formula subtracts both */
      int64_t pa = flat[2 * (ns - 1 - i)], pb = flat[2 * (ns - 1 - i) + 1], d = dl ? dl[i] : 1;
      osz[i] = (s.d[2 + i] - 1) * st[i] - (pb + pa) + (d * (k[i] - 1) + 1);
    }
  } else {
    no = nout < ns ? nout : ns; /* output_size[-len(spatial_shape):] */
    if (!ns) no = nout;
    memcpy(osz, out_size + (nout - no), no * sizeof *osz);
  }
  for (size_t i = 0; i < no; i++) total *= osz[i];
  int64_t r4[4] = {s.d[0], s.d[1], 1, -1}, fin[TGT_MAXD + 2] = {s.d[0], s.d[1]};
  tg_tv oh = tgt_one_hot_along_dim(S, tgt_reshape(S, indices, r4, 4), total, 2);
  tg_tv r = sum1(S, tgt_where(S, oh, tgt_reshape(S, x, r4, 4), pyi(S, 0)), 3, 0);
  memcpy(fin + 2, osz, no * sizeof *osz);
  return tgt_reshape(S, r, fin, no + 2);
}

/* Embedding.__call__ (USE_ATOMICS=0): (arange(vocab) == idx.unsqueeze(-1)).unsqueeze(-1).where(weight, 0).sum(-2, dtype=weight.dtype) */
tg_tv tgt_embedding(tgt_scope *S, tg_tv weight, tg_tv idx) {
  tgt_shape ws;
  if (!idx.u || tgt_shape_of(S, weight, &ws)) return TGT_NONE;
  if (!tg_dt_is_int((tg_dtype)idx.u->dtype))
    return tgt_fail(S, TG_ERR_DTYPE, "Expected integer dtype for index in embedding, got dtypes.%s", tg_dtype_repr_name(idx.u->dtype));
  if (!ws.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
  tg_tv m = tgt_unsqueeze(S, bin(S, TG_BINARY_EQ, arange(S, 0, ws.d[0], TG_DT_AUTO), tgt_unsqueeze(S, idx, -1)), -1);
  int64_t ax = -2;
  return tgt_sum(S, tgt_where(S, m, weight, pyi(S, 0)), &ax, 1, 0, weight.u->dtype);
}

/* ---------------- losses ---------------- */

/* binary_crossentropy(Y): -Y*self.log() - (1-Y)*(1-self).log() */
tg_tv tgt_bce(tgt_scope *S, tg_tv x, tg_tv Y, int reduction) {
  tg_tv a = tgt_mul(S, tgt_neg(S, Y), un(S, TG_UNARY_LOG, x));
  tg_tv b = tgt_mul(S, rsub_i(S, 1, Y), un(S, TG_UNARY_LOG, rsub_i(S, 1, x)));
  return tgt_do_reduction(S, tgt_sub(S, a, b), reduction);
}

/* binary_crossentropy_logits(Y, pos_weight): -((pos_weight or 1) * Y * logsigmoid(x) + (1-Y) * logsigmoid(-x)) */
tg_tv tgt_bce_logits(tgt_scope *S, tg_tv x, tg_tv Y, int reduction, tg_tv pos_weight) {
  static const double none[2] = {0, 0};
  tg_tv log_p = tgt_activation(S, TG_ACT_LOGSIGMOID, x, none), log_1mp = tgt_activation(S, TG_ACT_LOGSIGMOID, tgt_neg(S, x), none);
  tg_tv wy = pos_weight.u ? tgt_mul(S, pos_weight, Y) : tgt_mul_py(S, Y, tgt_pyint(1), 1);
  tg_tv r = tgt_add(S, tgt_mul(S, wy, log_p), tgt_mul(S, rsub_i(S, 1, Y), log_1mp));
  return tgt_do_reduction(S, tgt_neg(S, r), reduction);
}

/* nll_loss(Y, weight, ignore_index, reduction): -self.gather(1, Y.unsqueeze(1)).squeeze(1) * the (masked) class weights */
tg_tv tgt_nll_loss(tgt_scope *S, tg_tv x, tg_tv Y, tg_tv weight, const int64_t *ignore_index, int reduction) {
  tgt_shape ys;
  if (tgt_check_reduction(S, reduction) || tgt_shape_of(S, Y, &ys)) return TGT_NONE;
  tg_tv w = weight.u ? tgt_reshape(S, tgt_gather(S, weight, 0, flatten(S, Y)), ys.d, ys.n) : tgt_const_like(S, Y, tgt_pyint(1), TG_DT_AUTO);
  if (ignore_index) w = tgt_mul(S, w, bin(S, TG_BINARY_NE, Y, pyi(S, *ignore_index)));
  tg_tv nll = tgt_mul(S, tgt_neg(S, tgt_squeeze(S, tgt_gather(S, x, 1, tgt_unsqueeze(S, Y, 1)), 1)), w);
  return reduction == TG_REDUCTION_MEAN ? tgt_div(S, sum_all(S, nll), sum_all(S, w), 0, 0) : tgt_do_reduction(S, nll, reduction);
}

/* ---------------- cumulative, selection ---------------- */

/* logcumsumexp(axis): log of the masked sum of exp(x_j - cummax_i) for j <= i, plus the (detached) running max */
tg_tv tgt_logcumsumexp(tgt_scope *S, tg_tv self, int64_t axis) {
  tgt_shape s;
  if (tgt_shape_of(S, self, &s)) return TGT_NONE;
  if (!s.n) return self;
  tg_tv x = tgt_transpose(S, self, axis, -1);
  tgt_shape xs;
  if (tgt_shape_of(S, x, &xs)) return TGT_NONE;
  int64_t n = xs.d[xs.n - 1];
  tg_tv cm = un(S, TG_UNARY_DETACH, tgt_split_cumalu(S, x, -1, TG_OP_MAX));
  int64_t nn[2] = {n, n};
  tg_tv mask = tgt_triu(S, tgt_full_py(S, nn, 2, tgt_pyfloat(1.0), TG_BOOL), 0, 1);
  tg_tv d = tgt_sub(S, tgt_unsqueeze(S, x, -2), tgt_unsqueeze(S, cm, -1));
  tg_tv e = un(S, TG_UNARY_EXP, tgt_where(S, mask, d, pyc(S, tgt_dtype_bound(self.u->dtype, 0))));
  tg_tv r = tgt_add(S, un(S, TG_UNARY_LOG, sum1(S, e, -1, 0)), cm);
  return tgt_transpose(S, r, -1, axis);
}

/* masked_select(mask, size, fill_value): the elements where mask is True, in order. size NULL: as many as there are (the
** count is realized, tinygrad's .item()); else exactly *size, padded with fill_value. */
tg_tv tgt_masked_select(tgt_scope *S, tg_tv self, tg_tv mask, const int64_t *size, tgt_py fill) {
  tgt_shape s;
  if (!mask.u || tgt_shape_of(S, self, &s)) return TGT_NONE;
  if (!tg_dt_is_bool((tg_dtype)mask.u->dtype))
    return tgt_fail(S, TG_ERR_DTYPE, "masked_select expects bool mask tensor, got dtypes.%s", tg_dtype_repr_name(mask.u->dtype));
  tg_tv x = flatten(S, self), m = flatten(S, tgt_broadcast_to(S, mask, s.d, s.n));
  tg_tv mc = tgt_split_cumalu(S, m, 0, TG_OP_ADD);
  if (S->st) return TGT_NONE;
  int64_t numel = 1, cnt = 0;
  for (uint32_t i = 0; i < s.n; i++) numel *= s.d[i];
  if (size && *size < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "masked_select: size=%lld is negative", (long long)*size);
  if (!size && numel && item_int(S, idx_int(S, mc, -1), &cnt)) return TGT_NONE;
  int64_t n = size ? *size : cnt;
  tg_tv counts = tgt_scatter(S, tgt_full_py(S, &n, 1, tgt_pyfloat(0.0), TG_INT32), 0, mc, pyi(S, 1), TG_SCATTER_SUM);
  tgt_index ix = {.kind = TG_INDEX_TENSOR, .t = tgt_split_cumalu(S, counts, 0, TG_OP_ADD)};
  tg_tv sel = tgt_getitem(S, x, &ix, 1, TGT_NONE);
  if (!size) return sel;
  tg_tv keep = bin(S, TG_BINARY_LT, arange(S, 0, n, TG_DT_AUTO), sum_all(S, m));
  return tgt_cast(S, tgt_where(S, keep, sel, pyc(S, fill)), self.u->dtype);
}

/* nonzero(size, fill_value): (n, ndim) int indices of the nonzero elements, through masked_select. */
tg_tv tgt_nonzero(tgt_scope *S, tg_tv self, const int64_t *size, tgt_py fill) {
  tgt_shape s;
  if (tgt_shape_of(S, self, &s)) return TGT_NONE;
  if (!s.n) {
    int64_t n = 0;
    if (size) n = *size;
    else if (item_int(S, bin(S, TG_BINARY_NE, self, pyi(S, 0)), &n)) return TGT_NONE;
    int64_t sh[2] = {n, 0};
    return tgt_full(S, sh, 2, pyf(S, 0.0), TG_INT32, self.dev ? self.dev : tgt_dev_canonical(NULL), 1);
  }
  tg_tv m = flatten(S, bin(S, TG_BINARY_NE, self, pyi(S, 0)));
  tg_tv cols[TGT_MAXD];
  for (uint32_t i = 0; i < s.n; i++) {
    int64_t r[TGT_MAXD];
    for (uint32_t j = 0; j < s.n; j++) r[j] = j == i ? s.d[i] : 1;
    cols[i] = flatten(S, tgt_expand(S, tgt_reshape(S, arange(S, 0, s.d[i], TG_DT_AUTO), r, s.n), s.d, s.n));
  }
  tg_tv indices = tgt_stack(S, cols, s.n, -1);
  tgt_shape ms;
  if (tgt_shape_of(S, m, &ms)) return TGT_NONE;
  int64_t me[2] = {ms.d[0], s.n}, sz = size ? *size * (int64_t)s.n : 0, out[2] = {-1, s.n};
  tg_tv sel = tgt_masked_select(S, indices, tgt_expand(S, tgt_unsqueeze(S, m, -1), me, 2), size ? &sz : NULL, fill);
  return tgt_reshape(S, sel, out, 2);
}

/* ---------------- diagonal, einsum ---------------- */

#define EIN_MAXOP 64
#define EIN_MAXS 128

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static size_t count_c(const char *s, char c) {
  size_t n = 0;
  for (; *s; s++) n += *s == c;
  return n;
}
static int cmp_char(const void *a, const void *b) { return *(const unsigned char *)a - *(const unsigned char *)b; }

/* The letters of s that occur once in s (and not in `skip`), sorted. */
static void once_sorted(const char *s, const char *skip, char *out) {
  size_t k = 0;
  for (const char *p = s; *p; p++)
    if (is_alpha(*p) && count_c(s, *p) == 1 && !(skip && strchr(skip, *p))) out[k++] = *p;
  out[k] = 0;
  qsort(out, k, 1, cmp_char);
}

/* Splits s at commas into parts (each at most EIN_MAXS - 1 chars). Returns the count, -1 when too long/many. */
static int split_commas(const char *s, char parts[][EIN_MAXS], int max) {
  int n = 0;
  for (;;) {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (n >= max || len >= EIN_MAXS) return -1;
    memcpy(parts[n], s, len), parts[n][len] = 0, n++;
    if (!e) return n;
    s = e + 1;
  }
}

/* dst = a + b + c, or -1 when that does not fit in cap bytes with its NUL. */
static int join3(char *dst, size_t cap, const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  if (la + lb + lc >= cap) return -1;
  memmove(dst, a, la), memmove(dst + la, b, lb), memmove(dst + la + lb, c, lc), dst[la + lb + lc] = 0;
  return 0;
}

/* Replaces every "..." of s (in place, cap EIN_MAXS) with rep, as Python's str.replace. */
static int replace_ell(char *s, const char *rep) {
  char buf[EIN_MAXS * 2];
  size_t k = 0;
  for (const char *p = s; *p;) {
    if (!strncmp(p, "...", 3)) {
      size_t r = strlen(rep);
      if (k + r >= sizeof buf) return -1;
      memcpy(buf + k, rep, r), k += r, p += 3;
    } else {
      if (k + 1 >= sizeof buf) return -1;
      buf[k++] = *p++;
    }
  }
  if (k >= EIN_MAXS) return -1;
  memcpy(s, buf, k), s[k] = 0;
  return 0;
}

/* Tensor.einsum(formula, *operands, dtype): ellipses become unused letters, repeated letters take diagonals, every
** operand is permuted to the sorted alphabet and broadcast, the product is summed over the letters not in the output. */
tg_tv tgt_einsum(tgt_scope *S, const char *formula_in, const tg_tv *ops, size_t nops, int dtype) {
  char f[EIN_MAXS * 4], lhs[EIN_MAXS * 2], rhs[EIN_MAXS], inputs[EIN_MAXOP][EIN_MAXS];
  size_t k = 0;
  for (const char *p = formula_in; *p; p++)
    if (*p != ' ') {
      if (k + 1 >= sizeof f) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
      f[k++] = *p;
    }
  f[k] = 0;
  if (nops > EIN_MAXOP) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: at most %d operands", EIN_MAXOP);
  tg_tv xs[EIN_MAXOP];
  for (size_t i = 0; i < nops; i++)
    if (!(xs[i] = ops[i]).u) return TGT_NONE;
  char *arrow = strstr(f, "->");
  if (arrow && strstr(arrow + 2, "->")) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "too many values to unpack (expected 2)");
  if (strstr(f, "...")) {
    char ell[53], l0[EIN_MAXS * 2];
    size_t ne = 0;
    for (const char *a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"; *a; a++)
      if (!strchr(f, *a)) ell[ne++] = *a;
    ell[ne] = 0;
    size_t ll = arrow ? (size_t)(arrow - f) : strlen(f);
    if (ll >= sizeof l0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    memcpy(l0, f, ll), l0[ll] = 0;
    int np = split_commas(l0, inputs, EIN_MAXOP);
    if (np < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    int64_t ell_n[EIN_MAXOP], mx = 0;
    size_t nz = (size_t)np < nops ? (size_t)np : nops; /* zip stops at the shorter */
    for (size_t i = 0; i < nz; i++) {
      tgt_shape xsh;
      if (tgt_shape_of(S, xs[i], &xsh)) return TGT_NONE;
      int64_t e = (int64_t)xsh.n - (int64_t)strlen(inputs[i]) + 3;
      ell_n[i] = strstr(inputs[i], "...") ? (e > 0 ? e : 0) : 0;
      if (ell_n[i] > mx) mx = ell_n[i];
    }
    if (mx > (int64_t)ne) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: not enough unused letters for the ellipsis");
    l0[0] = 0;
    for (size_t i = 0; i < (size_t)np; i++) {
      if (i < nz) {
        char rep[53];
        size_t a = (size_t)(mx - ell_n[i]), len = (size_t)ell_n[i];
        memcpy(rep, ell + a, len), rep[len] = 0;
        if (replace_ell(inputs[i], rep)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
      }
      if (strlen(l0) + strlen(inputs[i]) + 2 >= sizeof l0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
      if (i) strcat(l0, ",");
      strcat(l0, inputs[i]);
    }
    char ellp[53], autos[EIN_MAXS * 2], out[EIN_MAXS * 2];
    memcpy(ellp, ell, (size_t)mx), ellp[mx] = 0;
    if (arrow) {
      if (strlen(arrow + 2) >= EIN_MAXS) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
      strcpy(out, arrow + 2);
      if (replace_ell(out, ellp)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    } else {
      once_sorted(l0, ell, autos);
      if (join3(out, sizeof out, ellp, autos, "")) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    }
    if (join3(f, sizeof f, l0, "->", out)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    arrow = strstr(f, "->");
  }
  if (arrow) {
    size_t ll = (size_t)(arrow - f);
    if (ll >= sizeof lhs || strlen(arrow + 2) >= sizeof rhs) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    memcpy(lhs, f, ll), lhs[ll] = 0;
    strcpy(rhs, arrow + 2);
  } else {
    if (strlen(f) >= sizeof lhs) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    strcpy(lhs, f);
    char tmp[EIN_MAXS * 4];
    once_sorted(f, NULL, tmp);
    if (strlen(tmp) >= sizeof rhs) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
    strcpy(rhs, tmp);
  }
  int np = split_commas(lhs, inputs, EIN_MAXOP);
  if (np < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "einsum: formula too long");
  if ((size_t)np != nops)
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "number of operands doesn't match, expected %d, got %zu", np, nops);
  /* traces: a letter repeated within one input takes the diagonal (letters in order of first appearance) */
  for (size_t i = 0; i < nops; i++) {
    char *s = inputs[i];
    for (size_t ci = 0; s[ci]; ci++) {
      char c = s[ci];
      if (strchr(s, c) != s + ci) continue;
      while (count_c(s, c) > 1) {
        tgt_shape xsh;
        if (tgt_shape_of(S, xs[i], &xsh)) return TGT_NONE;
        int64_t j = strchr(s, c) - s, kk = strchr(s + j + 1, c) - s;
        if (j >= (int64_t)xsh.n) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "tuple index out of range");
        int64_t n = xsh.d[j];
        if (xsh.n > 2) {
          int64_t perm[TGT_MAXD], pads[TGT_MAXD][2], sh[TGT_MAXD];
          size_t m = 0;
          for (uint32_t d = 0; d < xsh.n; d++)
            if (d != (uint32_t)j && d != (uint32_t)kk) perm[m++] = d;
          perm[m++] = j, perm[m++] = kk;
          tg_tv x = tgt_permute(S, xs[i], perm, m);
          tgt_shape ps;
          if (tgt_shape_of(S, x, &ps)) return TGT_NONE;
          memcpy(sh, ps.d, (ps.n - 2) * sizeof *sh);
          sh[ps.n - 2] = ps.d[ps.n - 2] * ps.d[ps.n - 1];
          x = tgt_reshape(S, x, sh, ps.n - 1); /* flatten(-2) */
          for (uint32_t d = 0; d + 1 < ps.n; d++) pads[d][0] = pads[d][1] = 0;
          pads[ps.n - 2][1] = n;
          static const tgt_py zero = {TG_ARG_FLOAT, 0, 0.0};
          x = tgt_pad_constant(S, x, (const int64_t(*)[2])pads, ps.n - 1, &zero);
          sh[ps.n - 2] = n, sh[ps.n - 1] = n + 1;
          x = tgt_reshape(S, x, sh, ps.n); /* unflatten(-1, (n, n+1)) */
          tgt_index ix[2] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_INT, .start = 0}};
          xs[i] = tgt_getitem(S, x, ix, 2, TGT_NONE);
        } else xs[i] = tgt_diagonal(S, xs[i], 0, 0, 1);
        memmove(s + kk, s + kk + 1, strlen(s + kk + 1) + 1);
      }
    }
  }
  /* sizes per letter (merge_dicts), the sorted alphabet */
  int64_t sz[256];
  int seen[256] = {0};
  for (size_t i = 0; i < nops; i++) {
    tgt_shape xsh;
    if (tgt_shape_of(S, xs[i], &xsh)) return TGT_NONE;
    for (size_t c = 0; inputs[i][c] && c < xsh.n; c++) {
      unsigned char ch = (unsigned char)inputs[i][c];
      if (seen[ch] && sz[ch] != xsh.d[c])
        return tgt_fail(S, TG_ERR_DTYPE, "{('%c', %lld), ('%c', %lld)} contains different values for the same key", ch, (long long)sz[ch], ch,
                        (long long)xsh.d[c]);
      seen[ch] = 1, sz[ch] = xsh.d[c];
    }
  }
  char alpha[256];
  size_t na = 0;
  for (int c = 0; c < 256; c++)
    if (seen[c]) alpha[na++] = (char)c;
  if (na > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "einsum: %zu letters, a tensor has at most %d dims", na, TGT_MAXD);
  tg_tv prod = TGT_NONE;
  for (size_t i = 0; i < nops; i++) {
    const char *s = inputs[i];
    tg_tv x = xs[i];
    size_t ls = strlen(s);
    if (ls) {
      char sorted[EIN_MAXS];
      strcpy(sorted, s), qsort(sorted, ls, 1, cmp_char);
      int64_t perm[EIN_MAXS], sh[TGT_MAXD];
      for (size_t c = 0; c < ls; c++) perm[c] = strchr(s, sorted[c]) - s;
      if (ls > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "einsum: an operand of %zu letters", ls);
      x = tgt_permute(S, x, perm, ls);
      for (size_t c = 0; c < na; c++) sh[c] = strchr(s, alpha[c]) ? sz[(unsigned char)alpha[c]] : 1;
      x = tgt_reshape(S, x, sh, na);
    }
    /* uprod: & for a bool first operand, * otherwise */
    if (!i) prod = x;
    else prod = prod.u && xs[0].u && xs[0].u->dtype == TG_BOOL ? bin(S, TG_BINARY_AND, prod, x) : tgt_mul(S, prod, x);
  }
  int64_t axes[TGT_MAXD], perm[EIN_MAXS];
  size_t nax = 0, nr = strlen(rhs);
  for (size_t c = 0; c < na; c++)
    if (!strchr(rhs, alpha[c])) axes[nax++] = (int64_t)c;
  tg_tv r = tgt_sum(S, prod, axes, nax, 0, dtype);
  /* permute(argsort(argsort(rhs))): each output letter's rank */
  for (size_t i = 0; i < nr; i++) {
    int64_t rank = 0;
    for (size_t j = 0; j < nr; j++) rank += (unsigned char)rhs[j] < (unsigned char)rhs[i] || (rhs[j] == rhs[i] && j < i);
    perm[i] = rank;
  }
  if (nr > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "einsum: %zu output letters", nr);
  return tgt_permute(S, r, perm, nr);
}

/* ---------------- public calls ---------------- */

#define NEED_OUT(fn)                                                                                                   \
  do {                                                                                                                 \
    if (!out) return tg_err(TG_ERR_NULL_POINTER, fn ": out is NULL");                                                  \
  } while (0)
#define GET(t, name, var)                                                                                              \
  tg_tv var;                                                                                                           \
  do {                                                                                                                 \
    tg_status st_ = tgt_tensor_get((t), (name), &var);                                                                 \
    if (st_) return st_;                                                                                               \
  } while (0)
/* an optional operand: NULL is TGT_NONE */
#define GET_OPT(t, name, var)                                                                                          \
  tg_tv var = TGT_NONE;                                                                                                \
  do {                                                                                                                 \
    tg_status st_ = (t) ? tgt_tensor_get((t), (name), &var) : TG_OK;                                                   \
    if (st_) return st_;                                                                                               \
  } while (0)

/* A Python-scalar argument (a bare weakint/weakfloat/bool CONST); NULL gives dflt. */
static tg_status py_arg(tg_tensor *t, const char *fn, const char *what, tgt_py dflt, tgt_py *out) {
  if (!t) return *out = dflt, TG_OK;
  tg_tv x;
  tg_status st = tgt_tensor_get(t, what, &x);
  if (st) return st;
  if (tgt_as_py(x, out)) return TG_OK;
  return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: %s must be a Python scalar (a 0-d weakint/weakfloat/bool constant), got a dtypes.%s Ops.%s", fn,
                what, tg_dtype_repr_name(x.u->dtype), tg_op_name((tg_op)x.u->op));
}

static tg_status check_axes(const int64_t *v, size_t n, const char *fn, const char *what) {
  if (n && !v) return tg_err(TG_ERR_NULL_POINTER, "%s: %s is NULL with n=%zu", fn, what, n);
  if (n > TGT_MAXD) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: %zu %s, at most %d", fn, n, what, TGT_MAXD);
  return TG_OK;
}

static tg_status check_reduction(tg_reduction r) {
  if (r == TG_REDUCTION_NONE || r == TG_REDUCTION_MEAN || r == TG_REDUCTION_SUM) return TG_OK;
  return tg_err(TG_ERR_INVALID_ARGUMENT, "reduction=%d must be one of ('none', 'mean', 'sum')", (int)r);
}

/* Ends S with n results: every handle or none. */
static tg_status finish_n(tgt_scope *S, const tg_tv *r, tg_tensor **const *outs, size_t n) {
  tg_status st = S->st;
  size_t done = 0;
  for (; !st && done < n; done++) {
    tgt_scope R = {0};
    st = tgt_finish_public(&R, r[done], outs[done]);
  }
  if (st)
    for (size_t i = 0; i + 1 < done; i++) tg_tensor_release(*outs[i]), *outs[i] = NULL;
  tgt_scope_end(S);
  return st;
}

TG_API tg_status tg_tensor_normalize(tg_tensor *x, tg_tensor *p, int64_t dim, double eps, tg_tensor **out) {
  NEED_OUT("tg_tensor_normalize");
  GET(x, "x", a);
  tgt_py pv;
  tg_status st = py_arg(p, "tg_tensor_normalize", "p", tgt_pyfloat(2.0), &pv);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_normalize(&S, a, pv, dim, eps), out);
}

static tg_status isclose_call(tg_tensor *x, tg_tensor *other, double rtol, double atol, int equal_nan, int all, tg_tensor **out) {
  GET(x, "x", a);
  GET(other, "other", o);
  tgt_scope S = {0};
  tg_tv r = tgt_isclose(&S, a, o, rtol, atol, equal_nan != 0);
  return tgt_finish_public(&S, all ? tgt_reduce(&S, TG_REDUCE_ALL, r, NULL, 0, 0, TG_DTYPE_NONE) : r, out);
}

TG_API tg_status tg_tensor_isclose(tg_tensor *x, tg_tensor *other, double rtol, double atol, int equal_nan, tg_tensor **out) {
  NEED_OUT("tg_tensor_isclose");
  return isclose_call(x, other, rtol, atol, equal_nan, 0, out);
}

TG_API tg_status tg_tensor_allclose(tg_tensor *x, tg_tensor *other, double rtol, double atol, int equal_nan, tg_tensor **out) {
  NEED_OUT("tg_tensor_allclose");
  return isclose_call(x, other, rtol, atol, equal_nan, 1, out);
}

TG_API tg_status tg_tensor_lerp(tg_tensor *x, tg_tensor *end, tg_tensor *weight, tg_tensor **out) {
  NEED_OUT("tg_tensor_lerp");
  GET(x, "x", a);
  GET(end, "end", e);
  GET(weight, "weight", w);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_lerp(&S, a, e, w), out);
}

TG_API tg_status tg_tensor_clamp(tg_tensor *x, tg_tensor *min, tg_tensor *max, tg_tensor **out) {
  NEED_OUT("tg_tensor_clamp");
  GET(x, "x", a);
  GET_OPT(min, "min", lo);
  GET_OPT(max, "max", hi);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_clamp(&S, a, lo, hi), out);
}

TG_API tg_status tg_tensor_isinf(tg_tensor *x, int detect_positive, int detect_negative, tg_tensor **out) {
  NEED_OUT("tg_tensor_isinf");
  GET(x, "x", a);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_isinf(&S, a, detect_positive != 0, detect_negative != 0), out);
}

TG_API tg_status tg_tensor_softmin(tg_tensor *x, int64_t axis, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_softmin");
  GET(x, "x", a);
  if (dtype != TG_DTYPE_NONE && !tg_dt_public((tg_dtype)dtype)) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_softmin: invalid dtype %d", dtype);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_softmax(&S, tgt_neg(&S, a), axis, dtype, 0), out); /* (-x).softmax(axis, dtype) */
}

TG_API tg_status tg_tensor_var_mean(tg_tensor *x, const int64_t *axes, size_t n, int keepdim, double correction, int std,
                                    tg_tensor **var, tg_tensor **mean) {
  if (!var || !mean) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_var_mean: var or mean is NULL");
  GET(x, "x", a);
  if (axes) {
    tg_status st = check_axes(axes, n, "tg_tensor_var_mean", "axes");
    if (st) return st;
  }
  size_t na = axes ? n : 0;
  tgt_scope S = {0};
  tg_tv r[2] = {tgt_var(&S, a, axes, na, keepdim != 0, correction, std != 0), tgt_reduce(&S, TG_REDUCE_MEAN, a, axes, na, keepdim != 0, TG_DTYPE_NONE)};
  return finish_n(&S, r, (tg_tensor **const[]){var, mean}, 2);
}

TG_API tg_status tg_tensor_linear(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_linear");
  GET(x, "x", a);
  GET(weight, "weight", w);
  GET_OPT(bias, "bias", b);
  if (dtype != TG_DTYPE_NONE && !tg_dt_public((tg_dtype)dtype)) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_linear: invalid dtype %d", dtype);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_linear(&S, a, w, b, dtype), out);
}

TG_API tg_status tg_tensor_batchnorm(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_tensor *mean, tg_tensor *invstd,
                                     const int64_t *axes, size_t n, tg_tensor **out) {
  NEED_OUT("tg_tensor_batchnorm");
  GET(x, "x", a);
  GET_OPT(weight, "weight", w);
  GET_OPT(bias, "bias", b);
  GET(mean, "mean", m);
  GET(invstd, "invstd", iv);
  tg_status st = check_axes(axes, n, "tg_tensor_batchnorm", "axes");
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_batchnorm(&S, a, w, b, m, iv, axes, n), out);
}

TG_API tg_status tg_tensor_binary_crossentropy(tg_tensor *x, tg_tensor *Y, tg_reduction reduction, tg_tensor **out) {
  NEED_OUT("tg_tensor_binary_crossentropy");
  GET(x, "x", a);
  GET(Y, "Y", y);
  tg_status st = check_reduction(reduction);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_bce(&S, a, y, (int)reduction), out);
}

TG_API tg_status tg_tensor_binary_crossentropy_logits(tg_tensor *x, tg_tensor *Y, tg_reduction reduction, tg_tensor *pos_weight,
                                                      tg_tensor **out) {
  NEED_OUT("tg_tensor_binary_crossentropy_logits");
  GET(x, "x", a);
  GET(Y, "Y", y);
  GET_OPT(pos_weight, "pos_weight", pw);
  tg_status st = check_reduction(reduction);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_bce_logits(&S, a, y, (int)reduction, pw), out);
}

TG_API tg_status tg_tensor_nll_loss(tg_tensor *x, tg_tensor *Y, tg_tensor *weight, const int64_t *ignore_index, tg_reduction reduction,
                                    tg_tensor **out) {
  NEED_OUT("tg_tensor_nll_loss");
  GET(x, "x", a);
  GET(Y, "Y", y);
  GET_OPT(weight, "weight", w);
  tg_status st = check_reduction(reduction);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_nll_loss(&S, a, y, w, ignore_index, (int)reduction), out);
}

TG_API tg_status tg_tensor_logcumsumexp(tg_tensor *x, int64_t axis, tg_tensor **out) {
  NEED_OUT("tg_tensor_logcumsumexp");
  GET(x, "x", a);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_logcumsumexp(&S, a, axis), out);
}

TG_API tg_status tg_tensor_masked_select(tg_tensor *x, tg_tensor *mask, const int64_t *size, tg_tensor *fill_value, tg_tensor **out) {
  NEED_OUT("tg_tensor_masked_select");
  GET(x, "x", a);
  GET(mask, "mask", m);
  tgt_py fill;
  tg_status st = py_arg(fill_value, "tg_tensor_masked_select", "fill_value", tgt_pyint(0), &fill);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_masked_select(&S, a, m, size, fill), out);
}

TG_API tg_status tg_tensor_nonzero(tg_tensor *x, const int64_t *size, tg_tensor *fill_value, tg_tensor **out) {
  NEED_OUT("tg_tensor_nonzero");
  GET(x, "x", a);
  tgt_py fill;
  tg_status st = py_arg(fill_value, "tg_tensor_nonzero", "fill_value", tgt_pyint(0), &fill);
  if (st) return st;
  if (size && *size < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "nonzero: size=%lld is negative", (long long)*size);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_nonzero(&S, a, size, fill), out);
}

TG_API tg_status tg_tensor_scaled_dot_product_attention(tg_tensor *q, tg_tensor *k, tg_tensor *v, tg_tensor *attn_mask, double dropout_p,
                                                        int is_causal, int enable_gqa, int training, tg_tensor **out) {
  NEED_OUT("tg_tensor_scaled_dot_product_attention");
  GET(q, "query", a);
  GET(k, "key", b);
  GET(v, "value", c);
  GET_OPT(attn_mask, "attn_mask", m);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_sdpa(&S, a, b, c, m, dropout_p, is_causal != 0, enable_gqa != 0, training != 0), out);
}

TG_API tg_status tg_tensor_interpolate(tg_tensor *x, const int64_t *size, size_t n, tg_interpolate_mode mode, int align_corners,
                                       tg_tensor **out) {
  NEED_OUT("tg_tensor_interpolate");
  GET(x, "x", a);
  tg_status st = check_axes(size, n, "tg_tensor_interpolate", "size");
  if (st) return st;
  for (size_t i = 0; i < n; i++)
    if (size[i] < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "invalid size=%s", SHAPE_STR(size, n));
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_interpolate(&S, a, size, n, (int)mode, align_corners != 0), out);
}

TG_API tg_status tg_tensor_max_unpool2d(tg_tensor *x, tg_tensor *indices, const int64_t *kernel, size_t n, const tg_conv_params *params,
                                        const int64_t *output_size, size_t noutput, tg_tensor **out) {
  NEED_OUT("tg_tensor_max_unpool2d");
  GET(x, "x", a);
  GET(indices, "indices", i);
  tg_status st = check_axes(kernel, n, "tg_tensor_max_unpool2d", "kernel");
  if (!st && output_size) st = check_axes(output_size, noutput, "tg_tensor_max_unpool2d", "output_size");
  if (st) return st;
  if (!kernel && !output_size) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_max_unpool2d: kernel is NULL");
  tg_conv_params p;
  tg_conv_params_init(&p);
  if (params) {
    if (params->struct_size < offsetof(tg_conv_params, groups) + sizeof p.groups)
      return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_max_unpool2d: params->struct_size=%zu is too small", params->struct_size);
    memcpy(&p, params, params->struct_size < sizeof p ? params->struct_size : sizeof p);
    if ((p.stride && p.nstride > TGT_MAXD) || (p.dilation && p.ndilation > TGT_MAXD) || (p.padding && p.npadding > 2 * TGT_MAXD))
      return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_max_unpool2d: too many stride/dilation/padding values");
  }
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_max_unpool2d(&S, a, i, kernel, n, &p, output_size, noutput), out);
}

TG_API tg_status tg_tensor_einsum(const char *formula, tg_tensor *const *operands, size_t n, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_einsum");
  if (!formula) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_einsum: formula is NULL");
  if (n && !operands) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_einsum: operands is NULL with n=%zu", n);
  if (n > EIN_MAXOP) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_einsum: %zu operands, at most %d", n, EIN_MAXOP);
  if (dtype != TG_DTYPE_NONE && !tg_dt_public((tg_dtype)dtype)) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_einsum: invalid dtype %d", dtype);
  tg_tv xs[EIN_MAXOP];
  for (size_t i = 0; i < n; i++) {
    tg_status st = tgt_tensor_get(operands[i], "operand", &xs[i]);
    if (st) return st;
  }
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_einsum(&S, formula, xs, n, dtype), out);
}

TG_API tg_status tg_tensor_embedding(tg_tensor *weight, tg_tensor *idx, tg_tensor **out) {
  NEED_OUT("tg_tensor_embedding");
  GET(weight, "weight", w);
  GET(idx, "idx", i);
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_embedding(&S, w, i), out);
}
