/* tensor/linalg.c -- tinygrad 0.14.0's matrix ops (mixin/op.py "matrix ops"): qr (Householder reflections), svd (QR,
** then one-sided Jacobi rotations in round-robin order, 4*n rounds) and newton_schulz, unrolled into tensor graphs
** exactly as tinygrad unrolls them; their public tg_tensor_* calls are at the end. */
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

static tg_tv pyi(tgt_scope *S, int64_t v) { return tgt_const(S, tgt_pyint(v), TG_DT_AUTO); }
static tg_tv bin(tgt_scope *S, int op, tg_tv a, tg_tv b) { return tgt_binary(S, op, a, b); }
static tg_tv un(tgt_scope *S, int op, tg_tv x) { return tgt_unary(S, op, x); }
static tg_tv mm(tgt_scope *S, tg_tv a, tg_tv b) { return tgt_dot(S, a, b, TG_DTYPE_NONE); }
static tg_tv tT(tgt_scope *S, tg_tv x) { return tgt_transpose(S, x, -2, -1); }
static tg_tv wh_i(tgt_scope *S, tg_tv c, tg_tv x, int64_t v) { return tgt_where(S, c, x, pyi(S, v)); }  /* c.where(x, v) */
static tg_tv sum_k(tgt_scope *S, tg_tv x, int64_t axis, int keepdim) { return tgt_sum(S, x, &axis, 1, keepdim, TG_DTYPE_NONE); }
static tg_tv arange(tgt_scope *S, int64_t start, int64_t stop, int dtype) {
  tgt_py e = tgt_pyint(stop);
  return tgt_arange(S, tgt_pyint(start), &e, tgt_pyint(1), dtype);
}

/* eye(n, dtype).expand(b_shape + (n, n)) */
static tg_tv eye_b(tgt_scope *S, int64_t n, int dtype, const tgt_shape *b) {
  int64_t sh[TGT_MAXD];
  memcpy(sh, b->d, b->n * sizeof *sh);
  sh[b->n] = sh[b->n + 1] = n;
  return tgt_expand(S, tgt_eye(S, n, n, dtype), sh, b->n + 2);
}

/* x.reshape(b_shape + tail) */
static tg_tv reshape_b(tgt_scope *S, tg_tv x, const tgt_shape *b, const int64_t *tail, size_t nt) {
  int64_t sh[TGT_MAXD];
  memcpy(sh, b->d, b->n * sizeof *sh);
  memcpy(sh + b->n, tail, nt * sizeof *sh);
  return tgt_reshape(S, x, sh, b->n + nt);
}

/* x[..., a:b] (x[..., :b] when a is 0 and !has_a) or x[..., :a2, :b2] */
static tg_tv last_slice(tgt_scope *S, tg_tv x, int has_start, int64_t a, int64_t b) {
  tgt_index ix[2] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_STOP | (has_start ? TG_INDEX_HAS_START : 0), .start = a, .stop = b}};
  return tgt_getitem(S, x, ix, 2, TGT_NONE);
}

/* split(h, dim) of a dim of size 2h into its two halves; tinygrad's unpacking fails unless there are exactly two. */
static int halves(tgt_scope *S, tg_tv x, int64_t h, int64_t dim, tg_tv *a, tg_tv *b) {
  tgt_shape s;
  int64_t d;
  if (tgt_shape_of(S, x, &s) || tgt_resolve_dim(S, dim, s.n, 0, &d)) return -1;
  int64_t sz = s.d[d], step = h > 1 ? h : 1, chunks = 0;
  for (int64_t i = 0; i < (sz > 1 ? sz : 1); i += step) chunks++;
  if (chunks != 2) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "not enough values to unpack (expected 2, got %lld)", (long long)chunks), -1;
  *a = tgt_split_at(S, x, d, 0, h), *b = tgt_split_at(S, x, d, h, sz - h);
  return 0;
}

/* qr(): Householder QR of the last two dims; Q (..., m, m), R (..., m, n). */
int tgt_qr(tgt_scope *S, tg_tv self, tg_tv *Q_out, tg_tv *R_out) {
  tgt_shape s;
  if (tgt_shape_of(S, self, &s)) return -1;
  if (s.n < 2) return tgt_fail(S, TG_ERR_SHAPE, "expected two or more dimensions, got %u", s.n), -1;
  tgt_shape b = {s.n - 2, {0}};
  memcpy(b.d, s.d, b.n * sizeof *b.d);
  int64_t m = s.d[s.n - 2], n = s.d[s.n - 1];
  tg_tv R = self, Q = eye_b(S, m, self.u->dtype, &b), idx = arange(S, 0, m, TG_DT_AUTO);
  for (int64_t i = 0; i < (m < n ? m : n); i++) {
    tgt_index ix[3] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_SLICE}, {.kind = TG_INDEX_INT, .start = i}};
    tg_tv at_i = bin(S, TG_BINARY_EQ, idx, pyi(S, i));
    tg_tv x = wh_i(S, bin(S, TG_BINARY_GE, idx, pyi(S, i)), tgt_getitem(S, R, ix, 3, TGT_NONE), 0);
    tg_tv norm = un(S, TG_UNARY_SQRT, sum_k(S, un(S, TG_UNARY_SQUARE, x), -1, 1));
    tg_tv x0 = sum_k(S, wh_i(S, at_i, x, 0), -1, 1);
    tg_tv sgn = wh_i(S, bin(S, TG_BINARY_NE, x0, pyi(S, 0)), un(S, TG_UNARY_SIGN, x0), 1), active = bin(S, TG_BINARY_NE, norm, pyi(S, 0));
    tg_tv u0 = tgt_add(S, x0, tgt_mul(S, sgn, norm));
    tg_tv v = tgt_unsqueeze(S, tgt_div(S, tgt_where(S, at_i, u0, x), wh_i(S, active, u0, 1), 0, 0), -1);
    tg_tv w = tgt_mul(S, tgt_unsqueeze(S, wh_i(S, active, tgt_div(S, tgt_mul(S, sgn, u0), wh_i(S, active, norm, 1), 0, 0), 0), -1), v);
    R = tgt_sub(S, R, mm(S, w, mm(S, tT(S, v), R)));
    Q = tgt_sub(S, Q, mm(S, mm(S, Q, v), tT(S, w)));
  }
  *Q_out = Q, *R_out = R;
  return S->st ? -1 : 0;
}

/* svd(full_matrices): U, S (singular values, descending), V^T, as tinygrad's one-sided Jacobi computes them. */
int tgt_svd(tgt_scope *S, tg_tv self, int full_matrices, tg_tv *U_out, tg_tv *S_out, tg_tv *Vt_out) {
  tgt_shape s;
  if (tgt_shape_of(S, self, &s)) return -1;
  if (s.n < 2) return tgt_fail(S, TG_ERR_SHAPE, "expected two or more dimensions, got %u", s.n), -1;
  tgt_shape b = {s.n - 2, {0}};
  memcpy(b.d, s.d, b.n * sizeof *b.d);
  int64_t m = s.d[s.n - 2], n = s.d[s.n - 1], num = m < n ? m : n, q_num = m < n ? n : m, h = num / 2;
  int dt = self.u->dtype;
  tg_tv Q, R;
  if (tgt_qr(S, m >= n ? self : tT(S, self), &Q, &R)) return -1;
  tgt_index ix[3] = {{.kind = TG_INDEX_ELLIPSIS}, {.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_STOP, .stop = num},
                     {.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_STOP, .stop = num}};
  tg_tv U = tgt_contiguous(S, tgt_getitem(S, R, ix, 3, TGT_NONE));
  tg_tv V = tgt_contiguous(S, eye_b(S, num, dt, &b));
  tg_tv perm = tgt_cat(S, (tg_tv[]){arange(S, 0, h, TG_INT32), tgt_flip(S, arange(S, h, num, TG_INT32), (int64_t[]){0}, 1)}, 2, 0);
  tg_tv cols = arange(S, 0, num, TG_INT32), eye_num = eye_b(S, num, dt, &b);
  for (int64_t round = 0; round < 4 * num && !S->st; round++) {
    tg_tv P = tgt_cast(S, bin(S, TG_BINARY_EQ, tgt_unsqueeze(S, cols, 1), tgt_unsqueeze(S, perm, 0)), U.u ? U.u->dtype : dt);
    tg_tv P_pair = last_slice(S, P, 0, 0, 2 * h);
    tg_tv U_pair = mm(S, U, P_pair), U_left, U_right, alpha, beta, Mi, Mj;
    if (halves(S, U_pair, h, -1, &U_left, &U_right)) return -1;
    tg_tv gamma = reshape_b(S, sum_k(S, tgt_mul(S, U_left, U_right), -2, 0), &b, (int64_t[]){1, h}, 2);
    if (halves(S, tgt_unsqueeze(S, sum_k(S, un(S, TG_UNARY_SQUARE, U_pair), -2, 0), -2), h, -1, &alpha, &beta)) return -1;
    tg_tv rot = bin(S, TG_BINARY_NE, gamma, pyi(S, 0));
    tg_tv tau = tgt_div(S, tgt_sub(S, beta, alpha), tgt_mul_py(S, wh_i(S, rot, gamma, 1), tgt_pyint(2), 1), 0, 0);
    tg_tv t = tgt_div(S, wh_i(S, bin(S, TG_BINARY_NE, tau, pyi(S, 0)), un(S, TG_UNARY_SIGN, tau), 1),
                      tgt_add(S, un(S, TG_UNARY_ABS, tau), un(S, TG_UNARY_SQRT, tgt_add_py(S, un(S, TG_UNARY_SQUARE, tau), tgt_pyint(1), 1))), 0, 0);
    t = wh_i(S, rot, t, 0);
    tg_tv c = tgt_div(S, un(S, TG_UNARY_SQRT, tgt_add_py(S, un(S, TG_UNARY_SQUARE, t), tgt_pyint(1), 1)), pyi(S, 1), 1, 0);
    tg_tv sn = tgt_mul(S, c, t);
    if (halves(S, tT(S, P_pair), h, -2, &Mi, &Mj)) return -1;
    tg_tv Mi_a = tgt_unsqueeze(S, Mi, -1), Mi_b = tgt_unsqueeze(S, Mi, -2), Mj_a = tgt_unsqueeze(S, Mj, -1), Mj_b = tgt_unsqueeze(S, Mj, -2);
    tg_tv cc = reshape_b(S, tgt_sub(S, c, pyi(S, 1)), &b, (int64_t[]){h, 1, 1}, 3), ss = reshape_b(S, sn, &b, (int64_t[]){h, 1, 1}, 3);
    tg_tv d = tgt_add(S, tgt_mul(S, cc, tgt_add(S, tgt_mul(S, Mi_a, Mi_b), tgt_mul(S, Mj_a, Mj_b))),
                      tgt_mul(S, ss, tgt_sub(S, tgt_mul(S, Mi_a, Mj_b), tgt_mul(S, Mj_a, Mi_b))));
    tg_tv Rr = tgt_add(S, eye_num, sum_k(S, d, -3, 0));
    U = mm(S, U, Rr), V = mm(S, V, Rr);
    if (num % 2 == 1) perm = bin(S, TG_BINARY_MOD, tgt_sub(S, perm, pyi(S, 1)), pyi(S, num));
    else {
      tgt_index first = {.kind = TG_INDEX_INT, .start = 0}, rest = {.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_START | TG_INDEX_HAS_STOP, .start = 1, .stop = num};
      tg_tv p0 = tgt_reshape(S, tgt_getitem(S, perm, &first, 1, TGT_NONE), (int64_t[]){1}, 1);
      tg_tv pr = tgt_add_py(S, bin(S, TG_BINARY_MOD, tgt_sub(S, tgt_getitem(S, perm, &rest, 1, TGT_NONE), pyi(S, 2)), pyi(S, num - 1)), tgt_pyint(1), 0);
      perm = tgt_cat(S, (tg_tv[]){p0, pr}, 2, 0);
    }
  }
  tg_tv idx, Sv = tgt_sort(S, un(S, TG_UNARY_SQRT, sum_k(S, un(S, TG_UNARY_SQUARE, U), -2, 0)), -1, 1, &idx);
  int64_t full[TGT_MAXD];
  memcpy(full, b.d, b.n * sizeof *full);
  full[b.n] = full[b.n + 1] = num;
  tg_tv new_idx = tgt_expand(S, tgt_unsqueeze(S, idx, -2), full, b.n + 2);
  U = tgt_div(S, tgt_gather(S, U, -1, new_idx), tgt_unsqueeze(S, wh_i(S, bin(S, TG_BINARY_NE, Sv, pyi(S, 0)), Sv, 1), -2), 0, 0);
  V = tgt_gather(S, V, -1, new_idx);
  int64_t pads[TGT_MAXD][2] = {{0}};
  pads[b.n][1] = pads[b.n + 1][1] = q_num - num;
  int udt = U.u ? U.u->dtype : dt;
  tg_tv eye_q = eye_b(S, q_num, udt, &b), eye_n = tgt_pad_constant(S, eye_b(S, num, udt, &b), (const int64_t(*)[2])pads, b.n + 2, NULL);
  static const tgt_py zero = {TG_ARG_FLOAT, 0, 0.0};
  U = mm(S, Q, tgt_sub(S, tgt_add(S, tgt_pad_constant(S, U, (const int64_t(*)[2])pads, b.n + 2, &zero), eye_q), eye_n));
  if (!full_matrices) U = last_slice(S, U, 1, 0, num);
  if (m >= n) *U_out = U, *S_out = Sv, *Vt_out = tT(S, V);
  else *U_out = V, *S_out = Sv, *Vt_out = tT(S, U);
  return S->st ? -1 : 0;
}

/* newton_schulz(steps, params, eps): G = x / (|x|_F + eps); G <- sum_i params[i] * (G G^T)^i G, steps times. params:
** integral values act as Python ints. A tall x is done transposed. */
tg_tv tgt_newton_schulz(tgt_scope *S, tg_tv self, int64_t steps, const double *params, size_t np, double eps) {
  tgt_shape s;
  if (tgt_shape_of(S, self, &s)) return TGT_NONE;
  if (s.n < 2) return tgt_fail(S, TG_ERR_SHAPE, "NS only works for two or more dims");
  if (s.d[s.n - 2] > s.d[s.n - 1]) return tT(S, tgt_newton_schulz(S, tT(S, self), steps, params, np, eps));
  int64_t ax[2] = {-2, -1};
  tg_tv nrm = tgt_add_py(S, un(S, TG_UNARY_SQRT, tgt_sum(S, un(S, TG_UNARY_SQUARE, self), ax, 2, 1, TG_DTYPE_NONE)), tgt_pyfloat(eps), 0);
  tg_tv G = tgt_div(S, self, nrm, 0, 0);
  for (int64_t it = 0; it < steps && !S->st; it++) {
    tg_tv acc = TGT_NONE;
    for (size_t i = 0; i < np; i++) {
      tg_tv term = G;
      for (size_t j = 0; j < i; j++) term = mm(S, mm(S, G, tT(S, G)), term);
      double p = params[i];
      tgt_py pv = p == (double)(int64_t)p ? tgt_pyint((int64_t)p) : tgt_pyfloat(p);
      term = tgt_mul_py(S, term, pv, 1);
      acc = i ? tgt_add(S, acc, term) : term;
    }
    if (!np) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "reduce() of empty iterable with no initial value");
    G = acc;
  }
  return G;
}

/* ---------------- public calls ---------------- */

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

TG_API tg_status tg_tensor_qr(tg_tensor *x, tg_tensor **Q, tg_tensor **R) {
  if (!Q || !R) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_qr: Q or R is NULL");
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st) return st;
  tgt_scope S = {0};
  tg_tv r[2] = {TGT_NONE, TGT_NONE};
  tgt_qr(&S, a, &r[0], &r[1]);
  return finish_n(&S, r, (tg_tensor **const[]){Q, R}, 2);
}

TG_API tg_status tg_tensor_svd(tg_tensor *x, int full_matrices, tg_tensor **U, tg_tensor **S_, tg_tensor **Vt) {
  if (!U || !S_ || !Vt) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_svd: U, S or Vt is NULL");
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st) return st;
  tgt_scope S = {0};
  tg_tv r[3] = {TGT_NONE, TGT_NONE, TGT_NONE};
  tgt_svd(&S, a, full_matrices != 0, &r[0], &r[1], &r[2]);
  return finish_n(&S, r, (tg_tensor **const[]){U, S_, Vt}, 3);
}

TG_API tg_status tg_tensor_newton_schulz(tg_tensor *x, int64_t steps, const double *params, size_t n, double eps, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_newton_schulz: out is NULL");
  if (n && !params) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_newton_schulz: params is NULL with n=%zu", n);
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_newton_schulz(&S, a, steps, params, n, eps), out);
}
