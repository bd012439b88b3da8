/* tensor/elementwise.c -- tinygrad 0.14.0's mixin/dtype.py and mixin/elementwise.py: casts, broadcasting with dtype
** promotion (_broadcasted: shapes broadcast inside the UOp itself), and every elementwise op as tinygrad decomposes it,
** op by op, so that the graphs are the same UOp for UOp. */
#include "tensor/tensor.h"

/* Python constants as tinygrad writes them: math.log(2), 1/math.log(2), math.log10(2), math.pi/2. */
static const double LN2 = 0.6931471805599453, INV_LN2 = 1.4426950408889634, LOG10_2 = 0.3010299956639812,
                    HALF_PI = 1.5707963267948966;

/* ---------------- dtype ---------------- */

tg_tv tgt_cast(tgt_scope *S, tg_tv x, int dtype) {
  if (!x.u || x.u->dtype == dtype) return x;
  if (!tg_dt_public((tg_dtype)dtype)) /* a promotion with a bad $DEFAULT_FLOAT/$SUM_DTYPE */
    return tgt_fail(S, TG_ERR_DTYPE, "cast to an invalid dtype %d: %s", dtype, tg_dt_env_error());
  return tgt_mk(S, TG_OP_CAST, TG_DT_AUTO, &x, 1, tg_arg_dtype(dtype), NULL);
}

tg_tv tgt_bitcast(tgt_scope *S, tg_tv x, int dtype) {
  if (!x.u) return TGT_NONE;
  if (tg_dt_is_weak((tg_dtype)x.u->dtype) || tg_dt_is_weak((tg_dtype)dtype))
    return tgt_fail(S, TG_ERR_DTYPE, "bitcast requires concrete dtypes, got dtypes.%s -> dtypes.%s",
                    tg_dtype_repr_name(x.u->dtype), tg_dtype_repr_name(dtype));
  if (x.u->dtype == dtype) return x;
  /* tinygrad keeps shape () for a 0-d bitcast to another itemsize, a value no buffer can hold: refuse it here */
  tgt_shape s;
  if (tg_dt_itemsize((tg_dtype)x.u->dtype) != tg_dt_itemsize((tg_dtype)dtype) && !tgt_shape_of(S, x, &s) && s.n == 0)
    return tgt_fail(S, TG_ERR_SHAPE, "unsupported size in bitcast: a 0-d dtypes.%s has no last dim to rescale for dtypes.%s",
                    tg_dtype_repr_name(x.u->dtype), tg_dtype_repr_name(dtype));
  return tgt_mk(S, TG_OP_BITCAST, TG_DT_AUTO, &x, 1, tg_arg_dtype(dtype), NULL);
}

tg_tv tgt_alu(tgt_scope *S, tg_op op, const tg_tv *src, size_t n) {
  return tgt_mk(S, op, TG_DT_AUTO, src, n, tg_arg_none(), NULL);
}

tg_tv tgt_unary_alu(tgt_scope *S, tg_op op, tg_tv x) { return tgt_alu(S, op, &x, 1); }

tg_tv tgt_contiguous(tgt_scope *S, tg_tv x) {
  if (!x.u || tg_dt_is_weak((tg_dtype)x.u->dtype)) return x;
  if (x.u->op == TG_OP_CONTIGUOUS || !x.dev || tgt_has_buffer_identity(x.u, 0)) return x;
  return tgt_unary_alu(S, TG_OP_CONTIGUOUS, x);
}

/* ---------------- broadcasting ---------------- */

/* _broadcasted's promote: a weak CONST stays weak (maybe lifted weakint -> weakfloat), anything else is cast. */
static tg_tv promote(tgt_scope *S, tg_tv t, int out) {
  tg_uop *b = tg_uop_base(t.u);
  if (tg_uop_is_invalid(b)) return t;
  tgt_py v;
  if (tg_dt_is_weak((tg_dtype)t.u->dtype) && b->op == TG_OP_CONST && tgt_as_py((tg_tv){b, NULL}, &v))
    return tgt_const_like(S, t, v, tg_dt_weak((tg_dtype)out));
  return tgt_cast(S, t, out);
}

int tgt_broadcasted(tgt_scope *S, tg_tv x, tg_tv y, int reverse, tg_tv *ox, tg_tv *oy) {
  *ox = *oy = TGT_NONE;
  if (!x.u || !y.u) return -1;
  if (reverse) {
    tg_tv t = x;
    x = y, y = t;
  }
  tg_dtype out = tg_dt_least_upper2((tg_dtype)x.u->dtype, (tg_dtype)y.u->dtype);
  if (out == TG_DT_NONE)
    return tgt_fail(S, TG_ERR_DTYPE, "no least_upper_dtype for dtypes.%s and dtypes.%s", tg_dtype_repr_name(x.u->dtype),
                    tg_dtype_repr_name(y.u->dtype)), -1;
  *ox = promote(S, x, out), *oy = promote(S, y, out);
  return ox->u && oy->u ? 0 : -1;
}

tg_tv tgt_binop(tgt_scope *S, tg_op op, tg_tv x, tg_tv y, int reverse) {
  tg_tv src[2];
  if (tgt_broadcasted(S, x, y, reverse, &src[0], &src[1])) return TGT_NONE;
  return tgt_alu(S, op, src, 2);
}

tg_tv tgt_binop_py(tgt_scope *S, tg_op op, tg_tv x, tgt_py v, int reverse) {
  return tgt_binop(S, op, x, tgt_const(S, v, TG_DT_AUTO), reverse);
}
tg_tv tgt_add_py(tgt_scope *S, tg_tv x, tgt_py v, int reverse) { return tgt_binop_py(S, TG_OP_ADD, x, v, reverse); }
tg_tv tgt_mul_py(tgt_scope *S, tg_tv x, tgt_py v, int reverse) { return tgt_binop_py(S, TG_OP_MUL, x, v, reverse); }

/* ---------------- arithmetic ---------------- */

tg_tv tgt_add(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_binop(S, TG_OP_ADD, x, y, 0); }
tg_tv tgt_mul(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_binop(S, TG_OP_MUL, x, y, 0); }

tg_tv tgt_logical_not(tgt_scope *S, tg_tv x) {
  return tgt_binop_py(S, TG_OP_CMPNE, tgt_cast(S, x, TG_BOOL), tgt_pybool(1), 0);
}

tg_tv tgt_neg(tgt_scope *S, tg_tv x) {
  if (!x.u) return TGT_NONE;
  return x.u->dtype == TG_BOOL ? tgt_logical_not(S, x) : tgt_mul_py(S, x, tgt_pyint(-1), 0);
}

/* sub: the promoted pair, then a.alu(ADD, -b) (alu: a second promotion would cast -b). */
static tg_tv sub_rev(tgt_scope *S, tg_tv x, tg_tv y, int reverse) {
  tg_tv a, b;
  if (tgt_broadcasted(S, x, y, reverse, &a, &b)) return TGT_NONE;
  tg_tv src[2] = {a, tgt_neg(S, b)};
  return tgt_alu(S, TG_OP_ADD, src, 2);
}
tg_tv tgt_sub(tgt_scope *S, tg_tv x, tg_tv y) { return sub_rev(S, x, y, 0); }
static tg_tv sub_py(tgt_scope *S, tg_tv x, tgt_py v, int reverse) { return sub_rev(S, x, tgt_const(S, v, TG_DT_AUTO), reverse); }

static tg_tv ne(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_binop(S, TG_OP_CMPNE, x, y, 0); }
static tg_tv eq(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_logical_not(S, ne(S, x, y)); }
static tg_tv lt(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_binop(S, TG_OP_CMPLT, x, y, 0); }
static tg_tv gt(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_binop(S, TG_OP_CMPLT, x, y, 1); }
static tg_tv pyc(tgt_scope *S, tgt_py v) { return tgt_const(S, v, TG_DT_AUTO); }

tg_tv tgt_where(tgt_scope *S, tg_tv cond, tg_tv x, tg_tv y) {
  tg_tv src[3] = {cond};
  if (!cond.u || tgt_broadcasted(S, x, y, 0, &src[1], &src[2])) return TGT_NONE;
  return tgt_alu(S, TG_OP_WHERE, src, 3);
}

static tg_tv trunc_(tgt_scope *S, tg_tv x) { return tgt_unary_alu(S, TG_OP_TRUNC, x); }
static tg_tv floor_(tgt_scope *S, tg_tv x) { /* (x < (b := x.trunc())).where(b-1, b) */
  tg_tv b = trunc_(S, x);
  return tgt_where(S, lt(S, x, b), sub_py(S, b, tgt_pyint(1), 0), b);
}
static tg_tv ceil_(tgt_scope *S, tg_tv x) { /* (x > (b := x.trunc())).where(b+1, b) */
  tg_tv b = trunc_(S, x);
  return tgt_where(S, gt(S, x, b), tgt_add_py(S, b, tgt_pyint(1), 0), b);
}

tg_tv tgt_div(tgt_scope *S, tg_tv x, tg_tv y, int reverse, int rounding) {
  tg_tv a, b;
  if (tgt_broadcasted(S, x, y, reverse, &a, &b)) return TGT_NONE;
  int ai = tg_dt_is_int((tg_dtype)a.u->dtype), bi = tg_dt_is_int((tg_dtype)b.u->dtype);
  if (ai && bi && rounding) return tgt_alu(S, rounding == 't' ? TG_OP_CDIV : TG_OP_FLOORDIV, (tg_tv[]){a, b}, 2);
  if (ai || a.u->dtype == TG_BOOL) {
    int df = tgt_default_dtype(S, 1);
    if (df < 0) return TGT_NONE;
    a = tgt_cast(S, a, df);
  }
  tg_tv d = tgt_alu(S, TG_OP_MUL, (tg_tv[]){a, tgt_unary_alu(S, TG_OP_RECIPROCAL, b)}, 2);
  return rounding == 't' ? trunc_(S, d) : rounding == 'f' ? floor_(S, d) : d;
}

static tg_tv mod_(tgt_scope *S, tg_tv x, tg_tv y, int cmod) { /* mod (floor) and fmod (trunc) */
  tg_tv a, b;
  if (tgt_broadcasted(S, x, y, 0, &a, &b)) return TGT_NONE;
  if (tg_dt_is_int((tg_dtype)a.u->dtype) && tg_dt_is_int((tg_dtype)b.u->dtype))
    return tgt_alu(S, cmod ? TG_OP_CMOD : TG_OP_FLOORMOD, (tg_tv[]){a, b}, 2);
  return tgt_sub(S, a, tgt_mul(S, tgt_div(S, a, b, 0, cmod ? 't' : 'f'), b));
}

/* pow: an integer result with a negative Python-int exponent is refused. `scalar` is the Python-scalar argument. */
static tg_tv pow_(tgt_scope *S, tg_tv x, tg_tv y) {
  tgt_py v;
  int have = tgt_as_py(y, &v) || tgt_as_py(x, &v); /* x.pow(scalar), or scalar ** x (tinygrad's __rpow__) */
  tg_tv a, b;
  if (tgt_broadcasted(S, x, y, 0, &a, &b)) return TGT_NONE;
  tg_dtype out = tg_dt_least_upper2((tg_dtype)a.u->dtype, (tg_dtype)b.u->dtype);
  if (have && !tg_dt_is_float(out) && !(v.kind != TG_ARG_FLOAT && v.i >= 0))
    return tgt_fail(S, TG_ERR_DTYPE, "base needs to be float");
  return tgt_alu(S, TG_OP_POW, (tg_tv[]){a, b}, 2);
}

/* uint64's dtype.max (2**64-1) as a uint64 CONST shaped like x. tinygrad makes it a weakint CONST, but a weakint arg is
** an int64 here, where 2**64-1 would read as -1: the range rules (uop/bounds.c) would then see ~x as negative and fold
** MAX(acc, ~x) away, and constants folded from it (3 ^ k) would compare as negatives. The uint64 CONST keeps its bits and
** reads as 2**64-1. */
static tg_tv uint64_max(tgt_scope *S, tg_tv x) { return tgt_const_like(S, x, tgt_pyint(-1), TG_UINT64); }

tg_tv tgt_bitwise_not(tgt_scope *S, tg_tv x) {
  if (!x.u) return TGT_NONE;
  if (x.u->dtype == TG_BOOL) return tgt_logical_not(S, x);
  if (!tg_dt_is_unsigned((tg_dtype)x.u->dtype)) return tgt_binop_py(S, TG_OP_XOR, x, tgt_pyint(-1), 0);
  int bits = tg_dt_bitsize((tg_dtype)x.u->dtype); /* dtype.max */
  if (bits >= 64) return tgt_binop(S, TG_OP_XOR, x, uint64_max(S, x), 0);
  return tgt_binop_py(S, TG_OP_XOR, x, tgt_pyint((int64_t)((1ull << bits) - 1)), 0);
}

static tg_tv minimum(tgt_scope *S, tg_tv x, tg_tv y) {
  tg_tv t, u;
  if (tgt_broadcasted(S, x, y, 0, &t, &u)) return TGT_NONE;
  tg_dtype dt = tg_dt_least_upper2((tg_dtype)t.u->dtype, (tg_dtype)u.u->dtype);
  if (tg_dt_is_float(dt)) return tgt_neg(S, tgt_alu(S, TG_OP_MAX, (tg_tv[]){tgt_neg(S, t), tgt_neg(S, u)}, 2));
  /* k = dt.const(dt.min + dt.max): True for bool, -1 for signed ints, dt.max for unsigned ones */
  if (dt == TG_UINT64) { /* k = 2**64-1: see uint64_max */
    tg_tv kt = uint64_max(S, t);
    tg_tv m = tgt_alu(S, TG_OP_MAX, (tg_tv[]){tgt_binop(S, TG_OP_XOR, t, kt, 0), tgt_binop(S, TG_OP_XOR, u, kt, 0)}, 2);
    return tgt_binop(S, TG_OP_XOR, m, kt, 0);
  }
  tgt_py k = dt == TG_BOOL ? tgt_pybool(1) : tg_dt_is_unsigned(dt) ? tgt_pyint((int64_t)((1ull << tg_dt_bitsize(dt)) - 1)) : tgt_pyint(-1);
  tg_tv m = tgt_alu(S, TG_OP_MAX, (tg_tv[]){tgt_binop_py(S, TG_OP_XOR, t, k, 0), tgt_binop_py(S, TG_OP_XOR, u, k, 0)}, 2);
  return tgt_binop_py(S, TG_OP_XOR, m, k, 0);
}

/* ---------------- the unary family ---------------- */

static tg_tv sign_(tgt_scope *S, tg_tv x) {
  tg_tv inner = tgt_where(S, lt(S, x, pyc(S, tgt_pyint(0))), tgt_const_like(S, x, tgt_pyint(-1), TG_DT_AUTO),
                          tgt_const_like(S, x, tgt_pyint(1), TG_DT_AUTO));
  return tgt_where(S, ne(S, x, pyc(S, tgt_pyint(0))), inner, tgt_const_like(S, x, tgt_pyint(0), TG_DT_AUTO));
}
static tg_tv sigmoid_(tgt_scope *S, tg_tv x) { /* (1 + (x * (-1/log(2))).exp2()).reciprocal() */
  tg_tv e = tgt_unary_alu(S, TG_OP_EXP2, tgt_mul_py(S, x, tgt_pyfloat(-INV_LN2), 0));
  return tgt_unary_alu(S, TG_OP_RECIPROCAL, tgt_add_py(S, e, tgt_pyint(1), 1));
}
static tg_tv exp_(tgt_scope *S, tg_tv x) {
  if (!x.u) return TGT_NONE;
  x = tgt_cast(S, x, tg_dt_least_upper_float((tg_dtype)x.u->dtype));
  if (!x.u) return TGT_NONE;
  tg_tv y = tgt_cast(S, x, tg_dt_least_upper2((tg_dtype)x.u->dtype, TG_FLOAT32));
  return tgt_cast(S, tgt_unary_alu(S, TG_OP_EXP2, tgt_mul_py(S, y, tgt_pyfloat(INV_LN2), 0)), x.u->dtype);
}
static tg_tv cos_(tgt_scope *S, tg_tv x) {
  if (!x.u) return TGT_NONE;
  x = tgt_cast(S, x, tg_dt_least_upper_float((tg_dtype)x.u->dtype));
  if (!x.u) return TGT_NONE;
  tg_tv y = tgt_cast(S, x, tg_dt_least_upper2((tg_dtype)x.u->dtype, TG_FLOAT32));
  return tgt_cast(S, tgt_unary_alu(S, TG_OP_SIN, sub_py(S, y, tgt_pyfloat(HALF_PI), 1)), x.u->dtype);
}
static tg_tv round_(tgt_scope *S, tg_tv x) {
  /* ((x > 0).eq((b := x.trunc() / 2.0).trunc().eq(b))).where((x - 0.5).ceil(), (x + 0.5).floor()) */
  tg_tv b = tgt_div(S, trunc_(S, x), pyc(S, tgt_pyfloat(2.0)), 0, 0);
  tg_tv cond = eq(S, gt(S, x, pyc(S, tgt_pyint(0))), eq(S, trunc_(S, b), b));
  return tgt_where(S, cond, ceil_(S, sub_py(S, x, tgt_pyfloat(0.5), 0)), floor_(S, tgt_add_py(S, x, tgt_pyfloat(0.5), 0)));
}
static tg_tv isinf_(tgt_scope *S, tg_tv x) { /* x.eq(inf) * True + x.eq(-inf) * True */
  tg_tv p = tgt_mul_py(S, eq(S, x, pyc(S, tgt_pyfloat(INFINITY))), tgt_pybool(1), 0);
  return tgt_add(S, p, tgt_mul_py(S, eq(S, x, pyc(S, tgt_pyfloat(-INFINITY))), tgt_pybool(1), 0));
}
static tg_tv isnan_(tgt_scope *S, tg_tv x) { return ne(S, x, x); }
static tg_tv tanh_(tgt_scope *S, tg_tv x) { /* 2.0 * ((2.0 * x).sigmoid()) - 1.0 */
  tg_tv s = sigmoid_(S, tgt_mul_py(S, x, tgt_pyfloat(2.0), 1));
  return sub_py(S, tgt_mul_py(S, s, tgt_pyfloat(2.0), 1), tgt_pyfloat(1.0), 0);
}

tg_tv tgt_unary(tgt_scope *S, int op, tg_tv x) {
  switch ((tg_unary_op)op) {
  case TG_UNARY_NEG: return tgt_neg(S, x);
  case TG_UNARY_RECIPROCAL: return tgt_unary_alu(S, TG_OP_RECIPROCAL, x);
  case TG_UNARY_SQRT: return tgt_unary_alu(S, TG_OP_SQRT, x);
  case TG_UNARY_RSQRT: return tgt_unary_alu(S, TG_OP_RECIPROCAL, tgt_unary_alu(S, TG_OP_SQRT, x));
  case TG_UNARY_EXP2: return tgt_unary_alu(S, TG_OP_EXP2, x);
  case TG_UNARY_LOG2: return tgt_unary_alu(S, TG_OP_LOG2, x);
  case TG_UNARY_EXP: return exp_(S, x);
  case TG_UNARY_LOG: return tgt_mul_py(S, tgt_unary_alu(S, TG_OP_LOG2, x), tgt_pyfloat(LN2), 0);
  case TG_UNARY_LOG10: return tgt_mul_py(S, tgt_unary_alu(S, TG_OP_LOG2, x), tgt_pyfloat(LOG10_2), 0);
  case TG_UNARY_SIN: return tgt_unary_alu(S, TG_OP_SIN, x);
  case TG_UNARY_COS: return cos_(S, x);
  case TG_UNARY_TAN: return tgt_div(S, tgt_unary_alu(S, TG_OP_SIN, x), cos_(S, x), 0, 0);
  case TG_UNARY_TRUNC: return trunc_(S, x);
  case TG_UNARY_FLOOR: return floor_(S, x);
  case TG_UNARY_CEIL: return ceil_(S, x);
  case TG_UNARY_ROUND: return round_(S, x);
  case TG_UNARY_ABS: return tgt_mul(S, x, sign_(S, x));
  case TG_UNARY_SIGN: return sign_(S, x);
  case TG_UNARY_RELU: return tgt_where(S, gt(S, x, pyc(S, tgt_pyint(0))), x, pyc(S, tgt_pyint(0)));
  case TG_UNARY_SIGMOID: return sigmoid_(S, x);
  case TG_UNARY_TANH: return tanh_(S, x);
  case TG_UNARY_SILU: return tgt_mul(S, x, sigmoid_(S, x));
  case TG_UNARY_SQUARE: return tgt_mul(S, x, x);
  case TG_UNARY_LOGICAL_NOT: return tgt_logical_not(S, x);
  case TG_UNARY_BITWISE_NOT: return tgt_bitwise_not(S, x);
  case TG_UNARY_ISNAN: return isnan_(S, x);
  case TG_UNARY_ISINF: return isinf_(S, x);
  case TG_UNARY_ISFINITE: return tgt_logical_not(S, tgt_binop(S, TG_OP_OR, isinf_(S, x), isnan_(S, x), 0));
  case TG_UNARY_DETACH: return tgt_mk(S, TG_OP_DETACH, TG_DT_AUTO, &x, 1, tg_arg_none(), NULL);
  case TG_UNARY_CONTIGUOUS_BACKWARD: return tgt_mk(S, TG_OP_CONTIGUOUS_BACKWARD, TG_DT_AUTO, &x, 1, tg_arg_none(), NULL);
  }
  return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid unary op %d", op);
}

tg_tv tgt_binary(tgt_scope *S, int op, tg_tv x, tg_tv y) {
  switch ((tg_binary_op)op) {
  case TG_BINARY_ADD: return tgt_add(S, x, y);
  case TG_BINARY_SUB: return tgt_sub(S, x, y);
  case TG_BINARY_MUL: return tgt_mul(S, x, y);
  case TG_BINARY_DIV: return tgt_div(S, x, y, 0, 0);
  case TG_BINARY_FLOORDIV: return tgt_div(S, x, y, 0, 'f');
  case TG_BINARY_TRUNCDIV: return tgt_div(S, x, y, 0, 't');
  case TG_BINARY_MOD: return mod_(S, x, y, 0);
  case TG_BINARY_FMOD: return mod_(S, x, y, 1);
  case TG_BINARY_POW: return pow_(S, x, y);
  case TG_BINARY_MAXIMUM: return tgt_binop(S, TG_OP_MAX, x, y, 0);
  case TG_BINARY_MINIMUM: return minimum(S, x, y);
  case TG_BINARY_LT: return lt(S, x, y);
  case TG_BINARY_GT: return gt(S, x, y);
  case TG_BINARY_LE: return tgt_logical_not(S, gt(S, x, y));
  case TG_BINARY_GE: return tgt_logical_not(S, lt(S, x, y));
  case TG_BINARY_EQ: return eq(S, x, y);
  case TG_BINARY_NE: return ne(S, x, y);
  case TG_BINARY_AND: return tgt_binop(S, TG_OP_AND, x, y, 0);
  case TG_BINARY_OR: return tgt_binop(S, TG_OP_OR, x, y, 0);
  case TG_BINARY_XOR: return tgt_binop(S, TG_OP_XOR, x, y, 0);
  case TG_BINARY_SHL: return tgt_binop(S, TG_OP_SHL, x, y, 0);
  case TG_BINARY_SHR: return tgt_binop(S, TG_OP_SHR, x, y, 0);
  case TG_BINARY_LOGADDEXP: return tgt_logaddexp(S, x, y);
  case TG_BINARY_COPYSIGN: return tgt_copysign(S, x, y);
  case TG_BINARY_THREEFRY:
    if (x.u && y.u && (x.u->dtype != TG_UINT64 || y.u->dtype != TG_UINT64))
      return tgt_fail(S, TG_ERR_DTYPE, "threefry needs uint64 operands, got dtypes.%s and dtypes.%s", tg_dtype_repr_name(x.u->dtype), tg_dtype_repr_name(y.u->dtype));
    return tgt_alu(S, TG_OP_THREEFRY, (tg_tv[]){x, y}, 2);
  }
  return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid binary op %d", op);
}

/* x - y (reverse: y - x) as ElementwiseMixin.sub builds it, for the gradient rules. */
tg_tv tgt_sub_rev(tgt_scope *S, tg_tv x, tg_tv y, int reverse) { return sub_rev(S, x, y, reverse); }
