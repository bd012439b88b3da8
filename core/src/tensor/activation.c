/* tensor/activation.c -- tinygrad 0.14.0's elementwise compositions beyond the ALU ops (mixin/elementwise.py): the
** activations with and without parameters, the inverse trig and hyperbolic functions, erf, logaddexp, copysign, lerp.
** Each follows tinygrad's definition operand for operand (a Python scalar on the left is a reversed op), so the graphs
** equal tinygrad's. */
#include <math.h>

#include "dtype.h"
#include "tensor/tensor.h"

static tg_tv pf(tgt_scope *S, double v) { return tgt_const(S, tgt_pyfloat(v), TG_DT_AUTO); }
static tg_tv pi_(tgt_scope *S, int64_t v) { return tgt_const(S, tgt_pyint(v), TG_DT_AUTO); }
static tg_tv un(tgt_scope *S, int op, tg_tv x) { return tgt_unary(S, op, x); }
/* x OP v and v OP x for a Python float v */
static tg_tv mulf(tgt_scope *S, tg_tv x, double v, int rev) { return tgt_mul_py(S, x, tgt_pyfloat(v), rev); }
static tg_tv addf(tgt_scope *S, tg_tv x, double v, int rev) { return tgt_add_py(S, x, tgt_pyfloat(v), rev); }
static tg_tv subf(tgt_scope *S, tg_tv x, double v, int rev) { return tgt_sub_rev(S, x, pf(S, v), rev); }
static tg_tv subi(tgt_scope *S, tg_tv x, int64_t v, int rev) { return tgt_sub_rev(S, x, pi_(S, v), rev); }
static tg_tv divf(tgt_scope *S, tg_tv x, double v) { return tgt_div(S, x, pf(S, v), 0, 0); }
static tg_tv relu(tgt_scope *S, tg_tv x) { return un(S, TG_UNARY_RELU, x); }
static tg_tv addi_(tgt_scope *S, tg_tv x, int64_t v, int rev) { return tgt_add_py(S, x, tgt_pyint(v), rev); }
static tg_tv divi_(tgt_scope *S, tg_tv x, int64_t v) { return tgt_div(S, x, pi_(S, v), 0, 0); }
/* a parameter as the Python scalar it most likely was: integral values as ints (tinygrad's defaults are), else floats */
static tg_tv pnum(tgt_scope *S, double v) { return v == (double)(int64_t)v ? pi_(S, (int64_t)v) : pf(S, v); }

/* polyN(x, p): acc = 0.0; acc = acc*x + c for each c (the first product is 0.0*x, a reversed multiply) */
static tg_tv poly(tgt_scope *S, tg_tv x, const double *p, int n) {
  tg_tv acc = addf(S, mulf(S, x, 0.0, 1), p[0], 0);
  for (int i = 1; i < n; i++) acc = addf(S, tgt_mul(S, acc, x), p[i], 0);
  return acc;
}

static tg_tv logaddexp(tgt_scope *S, tg_tv x, tg_tv y) {
  tg_tv a, b;
  if (tgt_broadcasted(S, x, y, 0, &a, &b)) return TGT_NONE;
  tg_tv m = tgt_binary(S, TG_BINARY_MAXIMUM, a, b);
  return tgt_add(S, un(S, TG_UNARY_LOG, tgt_add(S, un(S, TG_UNARY_EXP, tgt_sub(S, a, m)), un(S, TG_UNARY_EXP, tgt_sub(S, b, m)))), m);
}

static tg_tv softplus(tgt_scope *S, tg_tv x, double beta) { /* (1/beta) * (x*beta).logaddexp(0.0) */
  return mulf(S, logaddexp(S, mulf(S, x, beta, 0), pf(S, 0.0)), 1.0 / beta, 1);
}

static tg_tv asin_(tgt_scope *S, tg_tv x) {
  static const double c[] = {-0.0012624911, 0.0066700901, -0.0170881256, 0.0308918810, -0.0501743046, 0.0889789874, -0.2145988016, 1.5707963050};
  tg_tv ax = un(S, TG_UNARY_ABS, x);
  tg_tv r = subf(S, tgt_mul(S, un(S, TG_UNARY_SQRT, subf(S, un(S, TG_UNARY_ABS, x), 1.0, 1)), poly(S, ax, c, 8)), M_PI / 2, 1);
  return tgt_mul(S, un(S, TG_UNARY_SIGN, x), r);
}

static tg_tv erf_(tgt_scope *S, tg_tv x) {
  static const double c[] = {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592};
  tg_tv t = tgt_div(S, addf(S, mulf(S, un(S, TG_UNARY_ABS, x), 0.3275911, 1), 1.0, 1), pf(S, 1.0), 1, 0); /* 1.0 / (...) */
  tg_tv e = un(S, TG_UNARY_EXP, tgt_neg(S, un(S, TG_UNARY_SQUARE, x)));
  return tgt_mul(S, un(S, TG_UNARY_SIGN, x), subf(S, tgt_mul(S, tgt_mul(S, t, poly(S, t, c, 5)), e), 1.0, 1));
}

static tg_tv sigmoid(tgt_scope *S, tg_tv x) { return un(S, TG_UNARY_SIGMOID, x); }

tg_tv tgt_activation(tgt_scope *S, int op, tg_tv x, const double *p) {
  if (!x.u) return TGT_NONE;
  switch ((tg_activation)op) {
  case TG_ACT_RELU6: return tgt_sub(S, relu(S, x), relu(S, subi(S, x, 6, 0)));
  case TG_ACT_HARDSWISH: return mulf(S, tgt_mul(S, x, tgt_activation(S, TG_ACT_RELU6, addi_(S, x, 3, 0), p)), 1.0 / 6, 0);
  case TG_ACT_HARDSIGMOID: { /* (alpha*x + beta).relu() - (alpha*x + beta - 1).relu() */
    tg_tv a = addf(S, mulf(S, x, p[0], 1), p[1], 0), b = subi(S, addf(S, mulf(S, x, p[0], 1), p[1], 0), 1, 0);
    return tgt_sub(S, relu(S, a), relu(S, b));
  }
  case TG_ACT_HARDTANH: { /* clip(min, max): (x < min).where(min, x), then (r > max).where(max, r) */
    tg_tv lo = pnum(S, p[0]), hi = pnum(S, p[1]);
    tg_tv r = tgt_where(S, tgt_binary(S, TG_BINARY_LT, x, lo), lo, x);
    return tgt_where(S, tgt_binary(S, TG_BINARY_GT, r, hi), hi, r);
  }
  case TG_ACT_LEAKY_RELU: return tgt_where(S, tgt_binary(S, TG_BINARY_LT, x, pi_(S, 0)), mulf(S, x, p[0], 1), x);
  case TG_ACT_ELU: return tgt_sub(S, relu(S, x), mulf(S, relu(S, subi(S, un(S, TG_UNARY_EXP, x), 1, 1)), p[0], 1));
  case TG_ACT_CELU: { /* x.maximum(0) + (alpha * ((x / alpha).exp() - 1)).minimum(0) */
    tg_tv e = mulf(S, subi(S, un(S, TG_UNARY_EXP, divf(S, x, p[0])), 1, 0), p[0], 1);
    return tgt_add(S, tgt_binary(S, TG_BINARY_MAXIMUM, x, pi_(S, 0)), tgt_binary(S, TG_BINARY_MINIMUM, e, pi_(S, 0)));
  }
  case TG_ACT_SELU: { /* gamma * (x >= 0).where(x, alpha * (x.exp() - 1)) */
    tg_tv neg = mulf(S, subi(S, un(S, TG_UNARY_EXP, x), 1, 0), p[0], 1);
    return mulf(S, tgt_where(S, tgt_binary(S, TG_BINARY_GE, x, pi_(S, 0)), x, neg), p[1], 1);
  }
  case TG_ACT_SOFTPLUS: return softplus(S, x, p[0]);
  case TG_ACT_MISH: return tgt_mul(S, x, un(S, TG_UNARY_TANH, softplus(S, x, 1.0)));
  case TG_ACT_LOGSIGMOID: return tgt_neg(S, softplus(S, tgt_neg(S, x), 1.0));
  case TG_ACT_QUICK_GELU: return tgt_mul(S, x, sigmoid(S, mulf(S, x, 1.702, 0)));
  case TG_ACT_GELU: /* p[0] != 0: approximate="none" (erf) */
    if (p[0] != 0) return tgt_mul(S, mulf(S, x, 0.5, 0), addf(S, erf_(S, divf(S, x, sqrt(2.0))), 1.0, 1));
    return tgt_mul(S, mulf(S, x, 0.5, 1),
                   addi_(S, un(S, TG_UNARY_TANH, mulf(S, tgt_add(S, x, mulf(S, tgt_binary(S, TG_BINARY_POW, x, pi_(S, 3)), 0.044715, 1)),
                                                       sqrt(2 / M_PI), 1)), 1, 1));
  case TG_ACT_SOFTSIGN: return tgt_div(S, x, addi_(S, un(S, TG_UNARY_ABS, x), 1, 1), 0, 0);
  case TG_ACT_SINH: return divi_(S, tgt_sub(S, un(S, TG_UNARY_EXP, x), un(S, TG_UNARY_EXP, tgt_neg(S, x))), 2);
  case TG_ACT_COSH: return divi_(S, tgt_add(S, un(S, TG_UNARY_EXP, x), un(S, TG_UNARY_EXP, tgt_neg(S, x))), 2);
  case TG_ACT_ATANH: return divi_(S, un(S, TG_UNARY_LOG, tgt_div(S, addi_(S, x, 1, 1), subi(S, x, 1, 1), 0, 0)), 2);
  case TG_ACT_ASINH: return un(S, TG_UNARY_LOG, tgt_add(S, x, un(S, TG_UNARY_SQRT, addi_(S, un(S, TG_UNARY_SQUARE, x), 1, 0))));
  case TG_ACT_ACOSH: return un(S, TG_UNARY_LOG, tgt_add(S, x, un(S, TG_UNARY_SQRT, subi(S, un(S, TG_UNARY_SQUARE, x), 1, 0))));
  case TG_ACT_ASIN: return asin_(S, x);
  case TG_ACT_ACOS: return subf(S, asin_(S, x), M_PI / 2, 1);
  case TG_ACT_ATAN: return asin_(S, tgt_div(S, x, un(S, TG_UNARY_SQRT, addi_(S, tgt_mul(S, x, x), 1, 1)), 0, 0));
  case TG_ACT_ERF: return erf_(S, x);
  }
  return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "tg_tensor_activation: invalid op %d", op);
}

tg_tv tgt_logaddexp(tgt_scope *S, tg_tv x, tg_tv y) { return logaddexp(S, x, y); }

/* copysign: ((b < 0) | (b.reciprocal() < 0)).where(-(mag := a.abs()), mag) */
tg_tv tgt_copysign(tgt_scope *S, tg_tv x, tg_tv y) {
  tg_tv a, b;
  if (tgt_broadcasted(S, x, y, 0, &a, &b)) return TGT_NONE;
  tg_tv neg = tgt_binary(S, TG_BINARY_OR, tgt_binary(S, TG_BINARY_LT, b, pi_(S, 0)), tgt_binary(S, TG_BINARY_LT, un(S, TG_UNARY_RECIPROCAL, b), pi_(S, 0)));
  tg_tv mag = un(S, TG_UNARY_ABS, a);
  return tgt_where(S, neg, tgt_neg(S, mag), mag);
}
