/* uop/bounds.c -- tinygrad 0.14.0's UOp._min_max (vmin/vmax).
**
** tinygrad's bounds are Python values: bool, int (unbounded) or float, and its rules lean on Python's arithmetic
** (True + True == 2, max() keeps the first of equals, `a or b` returns an operand). pyval mirrors that: ints are
** 128-bit and saturate, which stands in for weakint's +-2**799 and holds uint64's range exactly. Results are cached
** per UOp (computed for a whole untouched subgraph, sources first, so deep graphs never recurse). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tgc_internal.h"
#include "uop/ops.h"

typedef __int128 i128;
#define I128_MAX ((i128)(((unsigned __int128)1 << 127) - 1))
#define I128_MIN (-I128_MAX - 1)

enum { PV_BOOL, PV_INT, PV_FLOAT };
typedef struct pyval { int k; i128 i; double f; } pyval; /* i for BOOL/INT, f for FLOAT */
typedef struct mm { pyval lo, hi; } mm;

static pyval pbool(int b) { return (pyval){PV_BOOL, b != 0, 0}; }
static pyval pint(i128 i) { return (pyval){PV_INT, i, 0}; }
static pyval pflt(double f) { return (pyval){PV_FLOAT, 0, f}; }
static double as_f(pyval v) { return v.k == PV_FLOAT ? v.f : (double)v.i; }
static int is_intlike(pyval v) { return v.k != PV_FLOAT; } /* isinstance(v, int): bool counts */
static int truthy(pyval v) { return v.k == PV_FLOAT ? v.f != 0 : v.i != 0; }

static pyval add(pyval a, pyval b) {
  if (!is_intlike(a) || !is_intlike(b)) return pflt(as_f(a) + as_f(b));
  i128 r;
  if (__builtin_add_overflow(a.i, b.i, &r)) r = b.i > 0 ? I128_MAX : I128_MIN; /* saturate */
  return pint(r);
}
static pyval neg(pyval a) { return a.k == PV_FLOAT ? pflt(-a.f) : pint(a.i == I128_MIN ? I128_MAX : -a.i); }
static pyval sub(pyval a, pyval b) { return add(a, neg(b)); }
static pyval mul(pyval a, pyval b) {
  if (!is_intlike(a) || !is_intlike(b)) return pflt(as_f(a) * as_f(b));
  i128 r;
  if (__builtin_mul_overflow(a.i, b.i, &r)) r = (a.i < 0) == (b.i < 0) ? I128_MAX : I128_MIN;
  return pint(r);
}
static int lt(pyval a, pyval b) {
  if (is_intlike(a) && is_intlike(b)) return a.i < b.i;
  return as_f(a) < as_f(b);
}
static int eq(pyval a, pyval b) { return is_intlike(a) && is_intlike(b) ? a.i == b.i : as_f(a) == as_f(b); }
static pyval pmax(pyval a, pyval b) { return lt(a, b) ? b : a; } /* Python max(a, b): the first of equals */
static pyval pmin(pyval a, pyval b) { return lt(b, a) ? b : a; }
static pyval min4(const pyval *v) { return pmin(pmin(pmin(v[0], v[1]), v[2]), v[3]); }
static pyval max4(const pyval *v) { return pmax(pmax(pmax(v[0], v[1]), v[2]), v[3]); }

static i128 floordiv(i128 a, i128 b) { /* Python's //, b != 0 */
  if (b == -1) return a == I128_MIN ? I128_MAX : -a;
  i128 q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static i128 floormod(i128 a, i128 b) { return b == -1 ? 0 : a - floordiv(a, b) * b; }
static i128 iabs(i128 a) { return a < 0 ? (a == I128_MIN ? I128_MAX : -a) : a; }
static i128 cdiv(i128 a, i128 b) { /* helpers.cdiv: truncating division, 0 for b == 0 */
  if (b == 0) return 0;
  i128 q = iabs(a) / iabs(b);
  return (a < 0) != (b < 0) && a != 0 ? -q : q;
}

static mm range_of(pyval lo, pyval hi) { return (mm){lo, hi}; }

/* DType.min / DType.max: ints exact (weakint saturates), floats +-inf, bool and void False/True. */
static mm dtype_range(int dt) {
  if (dt == TG_WEAKINT) return range_of(pint(I128_MIN), pint(I128_MAX));
  if (tg_dt_is_int((tg_dtype)dt)) {
    int bits = tg_dt_bitsize((tg_dtype)dt);
    if (tg_dt_is_unsigned((tg_dtype)dt)) return range_of(pint(0), pint(((i128)1 << bits) - 1));
    return range_of(pint(-((i128)1 << (bits - 1))), pint(((i128)1 << (bits - 1)) - 1));
  }
  if (tg_dt_is_float((tg_dtype)dt)) return range_of(pflt(-INFINITY), pflt(INFINITY));
  return range_of(pbool(0), pbool(1));
}

static pyval from_arg(const tg_arg *a, int *ok) {
  *ok = 1;
  switch (a->kind) {
  case TG_ARG_BOOL: return pbool((int)a->i);
  case TG_ARG_INT: return pint(a->i);
  case TG_ARG_FLOAT: return pflt(a->f);
  }
  return *ok = 0, pint(0);
}

static const mm *cached(tg_uop *u) { return __atomic_load_n((mm **)&u->bounds_cache, __ATOMIC_ACQUIRE); }
static mm src_mm(tg_uop *u, int i) { return *cached(u->src[i]); }

/* ---------------- the int (non-float) binary rules, in tinygrad's order ---------------- */

static int cmod_rule(mm a, mm b, mm *r) {
  pyval c = b.lo, one = pint(1);
  if (eq(b.lo, b.hi) && lt(pint(0), c)) {
    pyval lo = lt(pint(0), a.lo) ? pint(0) : (!lt(pint(0), a.lo) && lt(neg(c), a.lo)) ? a.lo : neg(sub(b.hi, one));
    pyval hi = lt(a.hi, pint(0)) ? pint(0) : (!lt(a.hi, pint(0)) && lt(a.hi, c)) ? a.hi : sub(c, one);
    return *r = range_of(lo, hi), 1;
  }
  if (lt(pint(0), b.lo)) {
    pyval m = sub(b.hi, one);
    *r = !lt(a.lo, pint(0)) ? range_of(pint(0), m) : !lt(pint(0), a.hi) ? range_of(neg(m), pint(0)) : range_of(neg(m), m);
    return 1;
  }
  if (lt(b.hi, pint(0))) {
    pyval m = sub(neg(b.lo), one);
    *r = !lt(a.lo, pint(0)) ? range_of(pint(0), m) : !lt(pint(0), a.hi) ? range_of(neg(m), pint(0)) : range_of(neg(m), m);
    return 1;
  }
  return 0;
}

static int all_int(mm a, mm b) { return is_intlike(a.lo) && is_intlike(a.hi) && is_intlike(b.lo) && is_intlike(b.hi); }

static int div_rule(tg_op op, mm a, mm b, mm *r) {
  if (!all_int(a, b)) return 0; /* tinygrad asserts ints here */
  if (op != TG_OP_CDIV && a.lo.i > a.hi.i) return *r = range_of(pint(0), pint(0)), 1; /* empty numerator range */
  if (op == TG_OP_FLOORMOD) {
    i128 c = b.lo.i;
    if (c == b.hi.i && c != 0) {
      if (floordiv(a.lo.i, c) == floordiv(a.hi.i, c))
        return *r = range_of(pint(floormod(a.lo.i, c)), pint(floormod(a.hi.i, c))), 1;
      return *r = c > 0 ? range_of(pint(0), pint(c - 1)) : range_of(pint(c + 1), pint(0)), 1;
    }
    if (b.lo.i > 0) return *r = range_of(pint(0), pint(b.hi.i - 1)), 1;
    if (b.hi.i < 0) return *r = range_of(pint(b.lo.i + 1), pint(0)), 1;
    return 0;
  }
  if (!((b.lo.i > 0 && b.hi.i > 0) || (b.lo.i < 0 && b.hi.i < 0))) return 0; /* s1_vmin*s1_vmax > 0 */
  i128 (*f)(i128, i128) = op == TG_OP_CDIV ? cdiv : floordiv;
  pyval v[4] = {pint(f(a.lo.i, b.lo.i)), pint(f(a.lo.i, b.hi.i)), pint(f(a.hi.i, b.lo.i)), pint(f(a.hi.i, b.hi.i))};
  return *r = range_of(min4(v), max4(v)), 1;
}

static int shift_rule(tg_op op, mm a, mm b, mm *r) {
  if (!eq(b.lo, b.hi) || !is_intlike(a.lo) || !is_intlike(a.hi) || !is_intlike(b.lo)) return 0;
  i128 s = b.lo.i;
  if (s < 0) return 0; /* Python raises on a negative shift count */
  if (op == TG_OP_SHR) return *r = range_of(pint(s > 126 ? (a.lo.i < 0 ? -1 : 0) : a.lo.i >> s),
                                             pint(s > 126 ? (a.hi.i < 0 ? -1 : 0) : a.hi.i >> s)), 1;
  pyval p = pint(s > 126 ? I128_MAX : (i128)1 << s);
  return *r = range_of(mul(a.lo, p), mul(a.hi, p)), 1;
}

static int binary_rule(tg_uop *u, mm *r) {
  mm a = src_mm(u, 0), b = src_mm(u, 1);
  switch ((tg_op)u->op) {
  case TG_OP_ADD: return *r = range_of(add(a.lo, b.lo), add(a.hi, b.hi)), 1;
  case TG_OP_SUB: return *r = range_of(sub(a.lo, b.hi), sub(a.hi, b.lo)), 1;
  case TG_OP_AND:
    if (tg_dt_is_int((tg_dtype)u->dtype) && eq(b.lo, b.hi) && !lt(b.hi, pint(0)))
      return *r = range_of(pint(0), lt(a.lo, pint(0)) ? b.hi : pmin(a.hi, b.hi)), 1;
    if (u->dtype == TG_BOOL) return *r = range_of(truthy(a.lo) ? b.lo : a.lo, truthy(a.hi) ? b.hi : a.hi), 1;
    return 0;
  case TG_OP_MUL: {
    pyval v[4] = {mul(a.lo, b.lo), mul(a.lo, b.hi), mul(a.hi, b.lo), mul(a.hi, b.hi)};
    return *r = range_of(min4(v), max4(v)), 1;
  }
  case TG_OP_SHL: case TG_OP_SHR: return shift_rule((tg_op)u->op, a, b, r);
  case TG_OP_CMOD: return cmod_rule(a, b, r);
  case TG_OP_CDIV: case TG_OP_FLOORDIV: case TG_OP_FLOORMOD: return div_rule((tg_op)u->op, a, b, r);
  case TG_OP_XOR:
    if (eq(b.lo, b.hi) && eq(b.hi, pint(-1)) && is_intlike(a.lo) && is_intlike(a.hi))
      return *r = range_of(pint(~a.hi.i), pint(~a.lo.i)), 1;
    return 0;
  case TG_OP_MAX: return *r = range_of(pmax(a.lo, b.lo), pmax(a.hi, b.hi)), 1;
  case TG_OP_CMPLT: return *r = range_of(pbool(lt(a.hi, b.lo)), pbool(lt(a.lo, b.hi))), 1;
  case TG_OP_CMPNE: {
    int all_eq = eq(a.lo, a.hi) && eq(a.hi, b.lo) && eq(b.lo, b.hi);
    return *r = range_of(pbool(lt(a.hi, b.lo) || lt(b.hi, a.lo)), pbool(!all_eq)), 1;
  }
  case TG_OP_OR:
    if (u->dtype == TG_BOOL) return *r = range_of(truthy(a.lo) ? a.lo : b.lo, truthy(a.hi) ? a.hi : b.hi), 1;
    return 0;
  default: return 0;
  }
}

/* ---------------- the remaining rules ---------------- */

static mm cast_rule(tg_uop *u) {
  mm s = src_mm(u, 0);
  tg_dtype dt = (tg_dtype)u->dtype;
  int finite = isfinite(as_f(s.lo)) && isfinite(as_f(s.hi));
  if (finite && tg_dt_is_float(dt) && dt != TG_WEAKFLOAT) /* truncate[dt]: rounding onto the float grid */
    s = range_of(pflt(tg_dt_truncate_float(dt, as_f(s.lo))), pflt(tg_dt_truncate_float(dt, as_f(s.hi))));
  else if (finite && tg_dt_is_int(dt)) /* math.trunc */
    s = range_of(is_intlike(s.lo) ? pint(s.lo.i) : pint((i128)trunc(s.lo.f)),
                 is_intlike(s.hi) ? pint(s.hi.i) : pint((i128)trunc(s.hi.f)));
  mm d = dtype_range(dt);
  if (tg_dt_is_unsigned(dt) && !lt(s.lo, pint(0)) && !lt(d.hi, s.hi)) return s;
  if ((tg_dt_is_float(dt) && dt != TG_WEAKFLOAT) || (tg_dt_is_int(dt) && !tg_dt_is_unsigned(dt)))
    return range_of(pmax(d.lo, s.lo), pmin(s.hi, d.hi));
  return d;
}

static int paramarg_rule(tg_uop *u, mm *r) {
  const tg_arg *a = &u->arg;
  if (a->kind != TG_ARG_TUPLE || a->n <= TG_PARAMARG_VMIN_VMAX) return 0;
  const tg_arg *v = &a->items[TG_PARAMARG_VMIN_VMAX];
  int ok1, ok2;
  if (v->kind != TG_ARG_TUPLE || v->n != 2) return 0;
  *r = range_of(from_arg(&v->items[0], &ok1), from_arg(&v->items[1], &ok2));
  return ok1 && ok2;
}

/* RANGE/SPECIAL: (0, (src[0]-1).vmax); the SUB is float (unbounded) when the end is, else end.vmax - 1. */
static mm range_rule(tg_uop *u) {
  tg_uop *end = u->src[0];
  if (tg_dt_is_float((tg_dtype)end->dtype)) return range_of(pint(0), pflt(INFINITY));
  return range_of(pint(0), sub(cached(end)->hi, pint(1)));
}

static mm compute(tg_uop *u) {
  tg_op op = (tg_op)u->op;
  mm r;
  if (tg_opset_has(TG_GROUP_BINARY, op) && !tg_dt_is_float((tg_dtype)u->dtype) && u->nsrc >= 2 && binary_rule(u, &r))
    return r;
  if (op == TG_OP_WHERE && tg_dt_is_int((tg_dtype)u->dtype) && u->nsrc == 3)
    return range_of(pmin(src_mm(u, 1).lo, src_mm(u, 2).lo), pmax(src_mm(u, 1).hi, src_mm(u, 2).hi));
  if ((op == TG_OP_PARAM || op == TG_OP_BUFFER) && paramarg_rule(u, &r)) return r;
  if ((op == TG_OP_RANGE || op == TG_OP_SPECIAL) && u->dtype != TG_DT_VOID && u->nsrc) return range_rule(u);
  if ((op == TG_OP_AFTER || op == TG_OP_INDEX) && u->nsrc) return src_mm(u, 0);
  if (op == TG_OP_STACK && u->nsrc) {
    r = src_mm(u, 0);
    for (size_t i = 1; i < u->nsrc; i++) r = range_of(pmin(r.lo, src_mm(u, i).lo), pmax(r.hi, src_mm(u, i).hi));
    return r;
  }
  int ok;
  if (op == TG_OP_CONST && !tg_uop_is_invalid(u)) {
    pyval v = from_arg(&u->arg, &ok);
    /* a uint64 CONST holds its value's bits in the int64 arg: 2**64-1 is stored as -1, Python's int is 2**64-1 */
    if (ok && u->dtype == TG_UINT64 && v.k == PV_INT) v.i = (i128)(uint64_t)(int64_t)v.i;
    if (ok) return range_of(v, v);
  }
  if (op == TG_OP_CAST && u->nsrc) return cast_rule(u);
  return dtype_range(u->dtype);
}

static int not_cached(tg_uop *u, void *ctx) { return (void)ctx, cached(u) == NULL; }

static int64_t to_i64(pyval v) {
  if (v.k == PV_FLOAT) {
    if (isnan(v.f)) return 0;
    return v.f >= 9223372036854775807.0 ? INT64_MAX : v.f <= -9223372036854775808.0 ? INT64_MIN : (int64_t)v.f;
  }
  return v.i > INT64_MAX ? INT64_MAX : v.i < INT64_MIN ? INT64_MIN : (int64_t)v.i;
}

static int sat_of(pyval v) { return v.k == PV_FLOAT ? 0 : v.i > INT64_MAX ? 1 : v.i < INT64_MIN ? -1 : 0; }

static tg_bounds to_bounds(mm r) {
  tg_bounds b = {r.lo.k == PV_FLOAT || r.hi.k == PV_FLOAT, to_i64(r.lo), to_i64(r.hi), as_f(r.lo), as_f(r.hi), sat_of(r.lo), sat_of(r.hi)};
  return b;
}

/* Computes and caches u's range; NULL when out of memory. */
static const mm *bounds_of(tg_uop *u) {
  if (cached(u)) return cached(u);
  size_t n;
  tg_uop **order = tg_uop_toposort_gated(u, not_cached, NULL, &n);
  if (!order) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (cached(order[i])) continue;
    mm *m = malloc(sizeof *m);
    if (!m) return free(order), NULL;
    *m = compute(order[i]);
    void *expect = NULL;
    if (!__atomic_compare_exchange_n(&order[i]->bounds_cache, &expect, m, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) free(m);
  }
  free(order);
  return cached(u);
}

tg_bounds tg_uop_bounds(tg_uop *u) {
  const mm *m = u ? bounds_of(u) : NULL;
  return to_bounds(m ? *m : dtype_range(u ? u->dtype : TG_DT_VOID)); /* out of memory: the dtype's range is sound */
}

static void pyval_repr(tg_sb *b, pyval v) {
  if (v.k == PV_BOOL) return tg_sb_puts(b, v.i ? "True" : "False");
  if (v.k == PV_FLOAT) return tg_float_repr(v.f, b);
  char d[48], *p = d + sizeof d;
  unsigned __int128 x = v.i < 0 ? -(unsigned __int128)v.i : (unsigned __int128)v.i;
  *--p = 0;
  do *--p = (char)('0' + (int)(x % 10)); while (x /= 10);
  if (v.i < 0) *--p = '-';
  tg_sb_puts(b, p);
}

size_t tg_uop_bounds_repr(tg_uop *u, char *buf, size_t cap) {
  tg_sb b = tg_sb_fixed(buf, cap);
  const mm *m = u ? bounds_of(u) : NULL;
  mm r = m ? *m : dtype_range(u ? u->dtype : TG_DT_VOID);
  pyval_repr(&b, r.lo), tg_sb_puts(&b, " "), pyval_repr(&b, r.hi);
  return b.len;
}
