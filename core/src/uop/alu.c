/* uop/alu.c -- Python number semantics and tinygrad's python_alu / exec_alu (uop/ops.py) for constant folding. */
#include "uop/alu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tgc_internal.h"

/* ---------------- numbers ---------------- */

tg_num tg_num_of_arg(const tg_arg *a) {
  switch (a->kind) {
  case TG_ARG_INT: return tg_num_i(a->i);
  case TG_ARG_BOOL: return tg_num_b((int)a->i);
  case TG_ARG_FLOAT: return tg_num_f(a->f);
  case TG_ARG_INVALID: return tg_num_invalid();
  default: return tg_num_none();
  }
}

tg_arg tg_num_to_arg(tg_num n) {
  switch (n.kind) {
  case TG_NUM_INT: return tg_arg_int(n.i);
  case TG_NUM_BOOL: return tg_arg_bool((int)n.i);
  case TG_NUM_FLOAT: return tg_arg_float(n.f);
  case TG_NUM_INVALID: return tg_arg_invalid();
  default: return tg_arg_none();
  }
}

int tg_num_truthy(tg_num n) {
  if (n.kind == TG_NUM_FLOAT) return n.f != 0.0; /* NaN is truthy in Python */
  if (n.kind == TG_NUM_INT || n.kind == TG_NUM_BOOL) return n.i != 0;
  return 0;
}

int tg_num_equal(tg_num a, tg_num b) {
  if (a.kind == TG_NUM_NONE || b.kind == TG_NUM_NONE) return a.kind == b.kind;
  if (a.kind == TG_NUM_INVALID || b.kind == TG_NUM_INVALID) return a.kind == b.kind;
  if (a.kind == TG_NUM_FLOAT || b.kind == TG_NUM_FLOAT) {
    double x = tg_num_as_f(a), y = tg_num_as_f(b);
    if (isnan(x) && isnan(y)) return a.kind == TG_NUM_FLOAT && b.kind == TG_NUM_FLOAT;
    return x == y;
  }
  return a.i == b.i;
}

int tg_num_repr(tg_num n, char *buf, int cap) {
  switch (n.kind) {
  case TG_NUM_INT: return snprintf(buf, (size_t)cap, "%lld", (long long)n.i);
  case TG_NUM_BOOL: return snprintf(buf, (size_t)cap, "%s", n.i ? "True" : "False");
  case TG_NUM_INVALID: return snprintf(buf, (size_t)cap, "Invalid");
  case TG_NUM_NONE: return snprintf(buf, (size_t)cap, "None");
  default: break;
  }
  double f = n.f;
  if (isnan(f)) return snprintf(buf, (size_t)cap, "nan");
  if (isinf(f)) return snprintf(buf, (size_t)cap, f < 0 ? "-inf" : "inf");
  /* Python's repr: the shortest digits that round-trip; fixed notation for exponents in [-4, 16), else 1.5e+20 */
  char dig[40];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(dig, sizeof dig, "%.*e", prec - 1, f);
    if (strtod(dig, NULL) == f) break;
  }
  char *e = strchr(dig, 'e');
  int exp10 = atoi(e + 1);
  *e = 0;
  char digits[24];
  int nd = 0;
  for (char *p = dig; *p; p++)
    if (*p >= '0' && *p <= '9') digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  const char *sign = f < 0 || (f == 0 && signbit(f)) ? "-" : "";
  if (exp10 < -4 || exp10 >= 16) {
    if (nd == 1) return snprintf(buf, (size_t)cap, "%s%ce%c%02d", sign, digits[0], exp10 < 0 ? '-' : '+', abs(exp10));
    return snprintf(buf, (size_t)cap, "%s%c.%se%c%02d", sign, digits[0], digits + 1, exp10 < 0 ? '-' : '+', abs(exp10));
  }
  char out[64];
  int k = 0;
  if (exp10 < 0) {
    k += snprintf(out + k, sizeof out - (size_t)k, "0.");
    for (int z = 0; z < -exp10 - 1; z++) out[k++] = '0';
    k += snprintf(out + k, sizeof out - (size_t)k, "%s", digits);
  } else {
    for (int d = 0; d <= exp10; d++) out[k++] = d < nd ? digits[d] : '0';
    out[k++] = '.';
    if (nd > exp10 + 1) k += snprintf(out + k, sizeof out - (size_t)k, "%s", digits + exp10 + 1);
    else out[k++] = '0';
  }
  out[k] = 0;
  return snprintf(buf, (size_t)cap, "%s%s", sign, out);
}

/* int64 arithmetic that wraps instead of overflowing (Python's bigints, reduced mod 2**64) */
static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static int64_t int_floordiv(int64_t a, int64_t b) {
  if (b == -1) return wrap_sub(0, a);
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}
static int64_t int_floormod(int64_t a, int64_t b) { return b == -1 ? 0 : wrap_sub(a, wrap_mul(int_floordiv(a, b), b)); }
static int64_t int_pow(int64_t base, int64_t e) {
  int64_t r = 1;
  while (e > 0) {
    if (e & 1) r = wrap_mul(r, base);
    base = wrap_mul(base, base);
    e >>= 1;
  }
  return r;
}

/* CPython's float floor division and modulo (float_divmod) */
static void float_divmod(double vx, double wx, double *fdiv, double *fmodv) {
  double mod = fmod(vx, wx), div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) { mod += wx; div -= 1.0; }
  } else mod = copysign(0.0, wx);
  double floordiv;
  if (div != 0.0) {
    floordiv = floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else floordiv = copysign(0.0, vx / wx);
  *fdiv = floordiv;
  *fmodv = mod;
}

static int type_error(const char *opname, tg_num a, tg_num b) {
  char x[40], y[40];
  tg_num_repr(a, x, sizeof x);
  tg_num_repr(b, y, sizeof y);
  tg_err(TG_ERR_INVALID_ARGUMENT, "unsupported operand for %s: %s, %s", opname, x, y);
  return -1;
}

static tg_num num_cmp(tg_op op, tg_num a, tg_num b) {
  if (op == TG_OP_CMPEQ) return tg_num_b(tg_num_equal(a, b));
  if (op == TG_OP_CMPNE) return tg_num_b(!tg_num_equal(a, b));
  if (a.kind == TG_NUM_FLOAT || b.kind == TG_NUM_FLOAT) return tg_num_b(tg_num_as_f(a) < tg_num_as_f(b));
  return tg_num_b(a.i < b.i);
}

int tg_num_binop(tg_op op, tg_num a, tg_num b, tg_num *out) {
  const char *name = tg_op_name(op);
  if (a.kind == TG_NUM_NONE || b.kind == TG_NUM_NONE || a.kind == TG_NUM_INVALID || b.kind == TG_NUM_INVALID) {
    if (op == TG_OP_CMPEQ || op == TG_OP_CMPNE) { *out = num_cmp(op, a, b); return 0; }
    return type_error(name, a, b);
  }
  int fl = a.kind == TG_NUM_FLOAT || b.kind == TG_NUM_FLOAT;
  int both_bool = a.kind == TG_NUM_BOOL && b.kind == TG_NUM_BOOL;
  double x = tg_num_as_f(a), y = tg_num_as_f(b);
  switch (op) {
  case TG_OP_ADD: *out = fl ? tg_num_f(x + y) : tg_num_i(wrap_add(a.i, b.i)); return 0;
  case TG_OP_SUB: *out = fl ? tg_num_f(x - y) : tg_num_i(wrap_sub(a.i, b.i)); return 0;
  case TG_OP_MUL: *out = fl ? tg_num_f(x * y) : tg_num_i(wrap_mul(a.i, b.i)); return 0;
  case TG_OP_FDIV:
    if (y == 0.0) return tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: division by zero"), -1;
    *out = tg_num_f(x / y);
    return 0;
  case TG_OP_FLOORDIV:
  case TG_OP_FLOORMOD:
    if (fl ? y == 0.0 : b.i == 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: integer division or modulo by zero"), -1;
    if (fl) {
      double d, m;
      float_divmod(x, y, &d, &m);
      *out = tg_num_f(op == TG_OP_FLOORDIV ? d : m);
    } else *out = tg_num_i(op == TG_OP_FLOORDIV ? int_floordiv(a.i, b.i) : int_floormod(a.i, b.i));
    return 0;
  case TG_OP_POW:
    if (!fl && b.i >= 0) { *out = tg_num_i(int_pow(a.i, b.i)); return 0; }
    if (x == 0.0 && y < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: 0.0 cannot be raised to a negative power"), -1;
    *out = tg_num_f(pow(x, y));
    return 0;
  case TG_OP_AND: case TG_OP_OR: case TG_OP_XOR: {
    if (fl) return type_error(name, a, b);
    int64_t r = op == TG_OP_AND ? (a.i & b.i) : op == TG_OP_OR ? (a.i | b.i) : (a.i ^ b.i);
    *out = both_bool ? tg_num_b((int)r) : tg_num_i(r);
    return 0;
  }
  case TG_OP_SHL: case TG_OP_SHR:
    if (fl) return type_error(name, a, b);
    if (b.i < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "ValueError: negative shift count"), -1;
    if (op == TG_OP_SHL) *out = tg_num_i(b.i >= 64 ? 0 : (int64_t)((uint64_t)a.i << b.i));
    else *out = tg_num_i(b.i >= 64 ? (a.i < 0 ? -1 : 0) : (a.i >> b.i)); /* arithmetic shift, like Python */
    return 0;
  case TG_OP_CMPLT: case TG_OP_CMPNE: case TG_OP_CMPEQ: *out = num_cmp(op, a, b); return 0;
  case TG_OP_MAX: *out = tg_num_truthy(num_cmp(TG_OP_CMPLT, a, b)) ? b : a; return 0; /* max(a,b): b only if b > a */
  default: return tg_err(TG_ERR_INTERNAL, "no Python operator for %s", name), -1;
  }
}

tg_num tg_num_neg(tg_num a) {
  if (a.kind == TG_NUM_FLOAT) return tg_num_f(-a.f);
  return tg_num_i(wrap_sub(0, a.i));
}

tg_num tg_num_abs(tg_num a) {
  if (a.kind == TG_NUM_FLOAT) return tg_num_f(fabs(a.f));
  return tg_num_i(a.i < 0 ? wrap_sub(0, a.i) : a.i);
}

int tg_num_gcd(tg_num a, tg_num b, tg_num *out) {
  if (!tg_num_is_int(a) || !tg_num_is_int(b)) return type_error("gcd", a, b);
  uint64_t x = a.i < 0 ? 0 - (uint64_t)a.i : (uint64_t)a.i, y = b.i < 0 ? 0 - (uint64_t)b.i : (uint64_t)b.i;
  while (y) { uint64_t t = x % y; x = y; y = t; }
  *out = tg_num_i((int64_t)x);
  return 0;
}

/* ---------------- python_alu ---------------- */

/* tinygrad's helpers.cdiv/floordiv: division by zero gives 0 instead of raising */
static tg_num alu_cdiv(tg_num x, tg_num y) {
  if (tg_num_as_f(y) == 0.0) return tg_num_i(0);
  tg_num q;
  tg_num_binop(TG_OP_FLOORDIV, tg_num_abs(x), tg_num_abs(y), &q);
  int neg = x.kind == TG_NUM_FLOAT || y.kind == TG_NUM_FLOAT ? tg_num_as_f(x) * tg_num_as_f(y) < 0 : ((x.i < 0) != (y.i < 0) && x.i && y.i);
  return neg ? tg_num_neg(q) : q;
}
static tg_num alu_floordiv(tg_num x, tg_num y) {
  if (tg_num_as_f(y) == 0.0) return tg_num_i(0);
  tg_num q;
  tg_num_binop(TG_OP_FLOORDIV, x, y, &q);
  return q;
}
static tg_num alu_sub_mul(tg_num x, tg_num q, tg_num y) { /* x - q*y */
  tg_num p, r;
  tg_num_binop(TG_OP_MUL, q, y, &p);
  tg_num_binop(TG_OP_SUB, x, p, &r);
  return r;
}

static int alu_unary(tg_op op, tg_num a, tg_num *out) {
  if (a.kind != TG_NUM_INT && a.kind != TG_NUM_BOOL && a.kind != TG_NUM_FLOAT)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "python_alu %s: operand is not a number", tg_op_name(op)), -1;
  double x = tg_num_as_f(a);
  switch (op) {
  case TG_OP_LOG2: *out = tg_num_f(x > 0 ? log2(x) : x == 0 ? -INFINITY : NAN); return 0;
  case TG_OP_EXP2: *out = tg_num_f(exp2(x)); return 0; /* 2**x, OverflowError -> inf */
  case TG_OP_SQRT: *out = tg_num_f(x >= 0 ? sqrt(x) : NAN); return 0;
  case TG_OP_RECIPROCAL: *out = tg_num_f(x != 0 ? 1.0 / x : copysign(INFINITY, x)); return 0;
  case TG_OP_SIN: *out = tg_num_f(isinf(x) ? NAN : sin(x)); return 0;
  case TG_OP_TRUNC: /* math.trunc gives an int: trunc(-0.5) is 0, not -0.0 (huge values stay floats, Python's bigints) */
    if (a.kind != TG_NUM_FLOAT) *out = tg_num_i(a.i);
    else if (isfinite(x) && fabs(x) < 9.2e18) *out = tg_num_i((int64_t)trunc(x));
    else *out = tg_num_f(isfinite(x) ? trunc(x) : x);
    return 0;
  case TG_OP_NEG: *out = tg_num_neg(a); return 0;
  default: return tg_err(TG_ERR_INVALID_ARGUMENT, "python_alu has no entry for %s", tg_op_name(op)), -1;
  }
}

static int alu_binary(tg_op op, tg_num a, tg_num b, tg_num *out) {
  switch (op) {
  case TG_OP_ADD: case TG_OP_SUB: case TG_OP_MUL: case TG_OP_CMPNE: case TG_OP_CMPLT: case TG_OP_CMPEQ:
  case TG_OP_XOR: case TG_OP_OR: case TG_OP_AND: case TG_OP_SHR: case TG_OP_SHL: case TG_OP_MAX:
    return tg_num_binop(op, a, b, out);
  case TG_OP_POW: { /* safe_pow */
    double x = tg_num_as_f(a), y = tg_num_as_f(b);
    if (x == 0.0 && y < 0) { *out = tg_num_f(INFINITY); return 0; } /* ZeroDivisionError -> inf */
    if (x < 0 && a.kind != TG_NUM_FLOAT && !tg_num_is_int(b) && y != floor(y)) { *out = tg_num_f(NAN); return 0; }
    if (tg_num_binop(TG_OP_POW, a, b, out)) return -1; /* a complex result is NaN in C's pow too */
    if (out->kind == TG_NUM_FLOAT && isinf(out->f) && isfinite(x) && isfinite(y)) /* safe_pow does not catch this one */
      return tg_err(TG_ERR_INVALID_ARGUMENT, "OverflowError: (34, 'Numerical result out of range')"), -1;
    return 0;
  }
  case TG_OP_CDIV: case TG_OP_CMOD: case TG_OP_FLOORDIV: case TG_OP_FLOORMOD: {
    if (a.kind == TG_NUM_INVALID || b.kind == TG_NUM_INVALID || a.kind == TG_NUM_NONE || b.kind == TG_NUM_NONE)
      return type_error(tg_op_name(op), a, b);
    tg_num q = (op == TG_OP_CDIV || op == TG_OP_CMOD) ? alu_cdiv(a, b) : alu_floordiv(a, b);
    *out = (op == TG_OP_CDIV || op == TG_OP_FLOORDIV) ? q : alu_sub_mul(a, q, b);
    return 0;
  }
  default: return tg_err(TG_ERR_INVALID_ARGUMENT, "python_alu has no entry for %s", tg_op_name(op)), -1;
  }
}

int tg_exec_alu(tg_op op, int dtype, const tg_num *v, int n, int truncate_output, tg_num *out) {
  tg_num r;
  if (n == 2 && tg_opset_has(TG_GROUP_BINARY, op) && (v[0].kind == TG_NUM_INVALID || v[1].kind == TG_NUM_INVALID)) {
    *out = tg_num_invalid();
    return 0;
  }
  if (n == 1) {
    if (alu_unary(op, v[0], &r)) return -1;
  } else if (n == 2) {
    if (alu_binary(op, v[0], v[1], &r)) return -1;
  } else if (n == 3 && op == TG_OP_WHERE) {
    r = tg_num_truthy(v[0]) ? v[1] : v[2];
  } else if (n == 3 && op == TG_OP_MULACC) {
    tg_num p;
    if (tg_num_binop(TG_OP_MUL, v[0], v[1], &p) || tg_num_binop(TG_OP_ADD, p, v[2], &r)) return -1;
  } else {
    return tg_err(TG_ERR_INVALID_ARGUMENT, "python_alu has no %d-operand entry for %s", n, tg_op_name(op)), -1;
  }
  if (!truncate_output) { *out = r; return 0; }
  return tg_num_truncate(dtype, r, out);
}

int tg_num_truncate(int dtype, tg_num v, tg_num *out) {
  tg_dtype dt = (tg_dtype)dtype;
  if (v.kind == TG_NUM_INVALID || v.kind == TG_NUM_NONE || tg_dt_is_weak(dt) || !tg_dt_public(dt)) { *out = v; return 0; }
  if (tg_dt_is_bool(dt)) { *out = tg_num_b(tg_num_truthy(v)); return 0; }
  if (tg_dt_is_float(dt)) { *out = tg_num_f(tg_dt_truncate_float(dt, tg_num_as_f(v))); return 0; }
  if (v.kind == TG_NUM_FLOAT) /* ctypes.c_int(2.5) raises TypeError */
    return tg_err(TG_ERR_INVALID_ARGUMENT, "TypeError: int expected instead of float for %s", tg_dt_name(dt)), -1;
  *out = tg_num_i(tg_dt_wrap_int(dt, v.i));
  return 0;
}

int tg_num_dtype_const(int dtype, tg_num v, tg_num *out) {
  tg_dtype dt = (tg_dtype)dtype;
  if (v.kind == TG_NUM_INVALID || v.kind == TG_NUM_NONE) { *out = v; return 0; }
  if (tg_dt_is_float(dt)) {
    double f = tg_num_as_f(v);
    *out = tg_num_f(tg_dt_is_weak(dt) ? f : tg_dt_truncate_float(dt, f));
    return 0;
  }
  if (tg_dt_is_bool(dt)) { *out = tg_num_b(tg_num_truthy(v)); return 0; }
  if (v.kind == TG_NUM_FLOAT) {
    if (!isfinite(v.f)) return tg_err(TG_ERR_INVALID_ARGUMENT, "cannot convert float %s to integer", isnan(v.f) ? "NaN" : "infinity"), -1;
    double t = trunc(v.f); /* int() truncates toward zero; beyond int64 we saturate where Python grows */
    *out = tg_num_i(t >= 9223372036854775807.0 ? INT64_MAX : t <= -9223372036854775808.0 ? INT64_MIN : (int64_t)t);
    return 0;
  }
  *out = tg_num_i(v.i);
  return 0;
}

tg_num tg_num_dtype_bound(int dtype, int hi) {
  tg_dtype dt = (tg_dtype)dtype;
  if (tg_dt_is_bool(dt)) return tg_num_b(hi);
  if (tg_dt_is_float(dt)) return tg_num_f(hi ? INFINITY : -INFINITY);
  if (!tg_dt_is_int(dt)) return tg_num_none();
  int bits = tg_dt_bitsize(dt);
  if (tg_dt_is_weak(dt) || bits >= 64) {
    if (tg_dt_is_unsigned(dt)) return tg_num_i(hi ? -1 : 0); /* uint64's max as its int64 bit pattern */
    return tg_num_i(hi ? INT64_MAX : INT64_MIN);
  }
  if (tg_dt_is_unsigned(dt)) return tg_num_i(hi ? (int64_t)((1ull << bits) - 1) : 0);
  return tg_num_i(hi ? (int64_t)((1ull << (bits - 1)) - 1) : -(int64_t)(1ull << (bits - 1)));
}
