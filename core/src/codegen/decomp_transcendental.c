/* codegen/decomp_transcendental.c -- tinygrad 0.14.0's codegen/decomp/transcendental.py: EXP2, LOG2, SIN and POW as
** float polynomials and bit manipulation (SLEEF-style, 1 ULP), for dialects without those ops (the CPU's "c" has
** none: kernels need no libm). Every step builds the same UOps tinygrad's Python builds, in the same order, through
** the ElementwiseMixin arithmetic of uop/rewrite.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"

/* Python-number operands: F(1.5) is a weakfloat CONST, I(3) a weakint CONST (tinygrad's ufix) */
#define F(v) K(tg_um_ufix(tg_num_f(v)))
#define I(v) K(tg_um_ufix(tg_num_i(v)))
#define ADD(a, b) K(tg_um_binop(TG_OP_ADD, (a), (b)))
#define MUL(a, b) K(tg_um_binop(TG_OP_MUL, (a), (b)))
#define SUB(a, b) K(tg_um_sub((a), (b)))
#define DIV(a, b) K(tg_um_div((a), (b)))
#define LT(a, b) K(tg_um_binop(TG_OP_CMPLT, (a), (b)))
#define NE(a, b) K(tg_um_binop(TG_OP_CMPNE, (a), (b)))
#define AND(a, b) K(tg_um_binop(TG_OP_AND, (a), (b)))
#define OR(a, b) K(tg_um_binop(TG_OP_OR, (a), (b)))
#define WHERE(c, a, b) K(tg_um_where((c), (a), (b)))
#define CAST(a, dt) K(tg_um_cast((a), (dt)))
#define BITCAST(a, dt) K(tg_um_bitcast((a), (dt)))
#define NEG(a) K(tg_um_neg(a))
#define CL(x, v) K(tg_um_const((x)->dtype, tg_num_f(v)))       /* x.const_like(float) */
#define CLI(x, v) K(tg_um_const((x)->dtype, tg_num_i(v)))      /* x.const_like(int) */
#define RETURN(x) do { tg_uop *r_ = tg_uop_retain(x); cg_pool_free(&pool); return r_; } while (0)
#define FAIL fail: cg_pool_free(&pool); return NULL

static int mantissa_bits(int dt) { return tg_dt_desc_of((tg_dtype)dt)->mant_bits; }
static int exp_bits(int dt) { return tg_dt_desc_of((tg_dtype)dt)->exp_bits; }
static int64_t exponent_bias(int dt) { return (1ll << (exp_bits(dt) - 1)) - ((tg_dt_desc_of((tg_dtype)dt)->flags & TG_DTF_FNUZ) ? 0 : 1); }
static int64_t exponent_mask(int dt) { return (1ll << exp_bits(dt)) - 1; }
static int int_of(int dt) { return dt == TG_FLOAT64 ? TG_INT64 : dt == TG_FLOAT32 ? TG_INT32 : TG_INT16; }
static int uint_of(int dt) { return dt == TG_FLOAT64 ? TG_UINT64 : dt == TG_FLOAT32 ? TG_UINT32 : TG_UINT16; }
static int transcendental(int dt) { return dt == TG_FLOAT16 || dt == TG_FLOAT32 || dt == TG_FLOAT64; }

/* shr(x, y) = x // 2**y, shl(x, y) = x * 2**y with y a Python int */
static tg_uop *shr(tg_uop *x, int y) {
  cg_pool pool = {0};
  RETURN(K(tg_um_floordiv(x, I(1ll << y))));
  FAIL;
}
static tg_uop *shl(tg_uop *x, int y) {
  cg_pool pool = {0};
  RETURN(MUL(x, I(1ll << y)));
  FAIL;
}
#define SHR(x, y) K(shr((x), (y)))
#define SHL(x, y) K(shl((x), (y)))

/* x.ne(inf).where(x.ne(x).where(nan, x.ne(-inf).where(ratio, _inf)), inf) */
static tg_uop *lazy_map_numbers(tg_uop *x, tg_uop *inf, tg_uop *ninf, tg_uop *nan_, tg_uop *ratio) {
  cg_pool pool = {0};
  tg_uop *a = WHERE(NE(x, F(-INFINITY)), ratio, ninf);
  tg_uop *b = WHERE(NE(x, x), nan_, a);
  RETURN(WHERE(NE(x, F(INFINITY)), b, inf));
  FAIL;
}

/* round d to int away from 0 */
static tg_uop *rintk(tg_uop *d) {
  cg_pool pool = {0};
  tg_uop *h = WHERE(LT(d, F(0.0)), CL(d, -0.5), CL(d, 0.5));
  RETURN(CAST(ADD(d, h), int_of(d->dtype)));
  FAIL;
}

/* cast(2^q, float_dtype) */
static tg_uop *pow2if(tg_uop *q, int float_dtype) {
  int out = q->dtype == TG_INT64 ? TG_FLOAT64 : q->dtype == TG_INT32 ? TG_FLOAT32 : float_dtype;
  cg_pool pool = {0};
  RETURN(BITCAST(SHL(ADD(q, I(exponent_bias(out))), mantissa_bits(out)), out));
  FAIL;
}

static tg_uop *ilogb2k(tg_uop *d) {
  cg_pool pool = {0};
  tg_uop *dint = BITCAST(d, int_of(d->dtype));
  RETURN(SUB(AND(SHR(dint, mantissa_bits(d->dtype)), I(exponent_mask(d->dtype))), I(exponent_bias(d->dtype))));
  FAIL;
}

static tg_uop *ldexp3k(tg_uop *d, tg_uop *e) {
  cg_pool pool = {0};
  int it = int_of(d->dtype);
  tg_uop *m1 = BITCAST(d, it), *m2 = SHL(CAST(e, it), mantissa_bits(d->dtype));
  RETURN(BITCAST(ADD(m1, m2), d->dtype));
  FAIL;
}

static tg_uop *ldexp2k(tg_uop *d, tg_uop *e) {
  cg_pool pool = {0};
  tg_uop *a = MUL(d, K(pow2if(SHR(e, 1), d->dtype)));
  RETURN(MUL(a, K(pow2if(SUB(e, SHR(e, 1)), d->dtype))));
  FAIL;
}

/* polyN(x, p) = reduce(lambda acc, c: acc*x + c, p, 0.0) */
static tg_uop *polyN(tg_uop *x, const double *p, int n) {
  cg_pool pool = {0};
  tg_uop *acc = F(0.0);
  for (int i = 0; i < n; i++) acc = ADD(MUL(acc, x), F(p[i]));
  RETURN(acc);
  FAIL;
}

/* frexp(v) -> (mantissa, exponent) assuming v != 0 */
static int frexp_(tg_uop *v, tg_uop **mant, tg_uop **ex) {
  cg_pool pool = {0};
  int dt = v->dtype;
  int64_t m1 = dt == TG_FLOAT64 ? 0x000FFFFFFFFFFFFFll : dt == TG_FLOAT32 ? 0x807FFFFF : 0x83FF;
  int64_t m2 = dt == TG_FLOAT64 ? 0x3FE0000000000000ll : dt == TG_FLOAT32 ? 0x3F000000 : 0x3800;
  tg_uop *bits = BITCAST(v, uint_of(dt));
  tg_uop *exponent = AND(SHR(bits, mantissa_bits(dt)), I(exponent_mask(dt)));
  *mant = tg_uop_retain(BITCAST(OR(AND(bits, I(m1)), I(m2)), dt));
  *ex = tg_uop_retain(ADD(SUB(exponent, I(exponent_bias(dt))), I(1)));
  cg_pool_free(&pool);
  return 0;
fail:
  cg_pool_free(&pool);
  return -1;
}

static tg_uop *take(tg_uop *an, tg_uop *i, int offset, int count) {
  static const int64_t two_over_pi_f[] = {0x00000000, 0x28be60db, 0x9391054a, 0x7f09d5f4, 0x7d4d3770, 0x36d8a566, 0x4f10e410};
  cg_pool pool = {0};
  if (count + offset < 7 - 1)
    an = WHERE(NE(i, I(count)), K(take(an, i, offset, count + 1)), CLI(an, two_over_pi_f[count + offset]));
  RETURN(an);
  FAIL;
}

static tg_uop *payne_hanek(tg_uop *d, tg_uop **q_out) {
  cg_pool pool = {0};
  int idt = d->dtype == TG_FLOAT16 ? TG_FLOAT32 : d->dtype;
  tg_uop *f, *e;
  if (frexp_(d, &f, &e)) goto fail;
  cg_pool_add(&pool, f), cg_pool_add(&pool, e);
  tg_uop *ia = CAST(MUL(CAST(f, idt), F(4.294967296e9)), TG_UINT64);
  tg_uop *i = SHR(CAST(e, TG_UINT64), 5);
  e = AND(CAST(e, TG_INT32), I(31));
  tg_uop *offset = SUB(I(32), e);
  tg_uop *zero = K(tg_um_const(TG_UINT32, tg_num_i(0))), *a[4];
  for (int k = 0; k < 4; k++) a[k] = K(take(zero, i, k, 0));
#define SHL_LAZY(x, y) CAST(MUL(CAST(x, TG_UINT64), CAST(K(pow2if(y, d->dtype)), TG_UINT64)), TG_UINT32)
#define SHR_LAZY(x, y) CAST(K(tg_um_floordiv(CAST(x, TG_UINT64), CAST(K(pow2if(y, d->dtype)), TG_UINT64))), TG_UINT32)
  tg_uop *hi = OR(SHL_LAZY(a[0], e), SHR_LAZY(a[1], offset));
  tg_uop *mi = OR(SHL_LAZY(a[1], e), SHR_LAZY(a[2], offset));
  tg_uop *lo = OR(SHL_LAZY(a[2], e), SHR_LAZY(a[3], offset));
#define HP_MUL(x, y) MUL(CAST(x, TG_UINT64), CAST(y, TG_UINT64))
  tg_uop *p = ADD(ADD(SHL(HP_MUL(ia, hi), 32), HP_MUL(ia, mi)), SHR(HP_MUL(ia, lo), 32));
  tg_uop *q = CAST(SHR(p, 62), TG_INT32);
  p = AND(p, I(0x3fffffffffffffffll));
  tg_uop *r = CAST(MUL(CAST(p, idt), F(3.4061215800865545e-19)), d->dtype);
  tg_uop *half = LT(f, F(0.5));
  *q_out = tg_uop_retain(WHERE(half, q, ADD(q, I(1))));
  RETURN(WHERE(half, r, SUB(r, F(M_PI / 2))));
  FAIL;
#undef SHL_LAZY
#undef SHR_LAZY
#undef HP_MUL
}

static tg_uop *reduce_d(tg_uop *x, tg_uop *q, tg_uop *qdh) {
  cg_pool pool = {0};
  tg_uop *d;
  if (x->dtype == TG_FLOAT64) {
    const double PI_A = 3.1415926218032836914, PI_B = 3.1786509424591713469e-08, PI_C = 1.2246467864107188502e-16,
                 PI_D = 1.2736634327021899816e-24;
    d = ADD(MUL(qdh, F(-PI_A)), x);
    d = ADD(MUL(q, F(-PI_A)), d);
    d = ADD(MUL(qdh, F(-PI_B)), d);
    d = ADD(MUL(q, F(-PI_B)), d);
    d = ADD(MUL(qdh, F(-PI_C)), d);
    d = ADD(MUL(q, F(-PI_C)), d);
    d = ADD(MUL(ADD(qdh, q), F(-PI_D)), d);
  } else if (x->dtype == TG_FLOAT16) {
    d = CAST(K(reduce_d(CAST(x, TG_FLOAT32), CAST(q, TG_FLOAT32), qdh)), TG_FLOAT16);
  } else {
    d = ADD(MUL(q, F(-3.1414794921875)), x);
    d = ADD(MUL(q, F(-0.00011315941810607910156)), d);
    d = ADD(MUL(q, F(-1.9841872589410058936e-09)), d);
    d = ADD(MUL(q, F(-1.2154201256553420762e-10)), d);
  }
  RETURN(d);
  FAIL;
}

static tg_uop *cody_waite(tg_uop *d, tg_uop **q_out) {
  cg_pool pool = {0};
  const double m_1_pi = 0.318309886183790671537767526745028724;
  tg_uop *qdh = MUL(CAST(CAST(MUL(d, F(m_1_pi / 16777216.0)), TG_INT64), d->dtype), F(16777216.0));
  tg_uop *quadrant = d->dtype == TG_FLOAT64 ? K(rintk(SUB(MUL(d, F(m_1_pi)), qdh))) : K(rintk(MUL(d, F(m_1_pi))));
  *q_out = tg_uop_retain(CAST(quadrant, TG_INT32));
  RETURN(K(reduce_d(d, CAST(quadrant, d->dtype), qdh)));
  FAIL;
}

static tg_uop *sin_poly(tg_uop *d) {
  static const double c32[] = {2.6083159809786593541503e-06, -0.0001981069071916863322258, 0.00833307858556509017944336,
                               -0.166666597127914428710938, 1.0};
  static const double c64[] = {-7.97255955009037868891952e-18, 2.81009972710863200091251e-15, -7.64712219118158833288484e-13,
                               1.60590430605664501629054e-10, -2.50521083763502045810755e-08, 2.75573192239198747630416e-06,
                               -0.000198412698412696162806809, 0.00833333333333332974823815, -0.166666666666666657414808, 1.0};
  cg_pool pool = {0};
  tg_uop *dd = MUL(d, d);
  RETURN(MUL(d, d->dtype == TG_FLOAT64 ? K(polyN(dd, c64, 10)) : K(polyN(dd, c32, 5))));
  FAIL;
}

static tg_uop *ifand(tg_uop *q, int n) {
  cg_pool pool = {0};
  RETURN(NE(AND(q, I(n)), I(0)));
  FAIL;
}

static tg_uop *sin_poly_small(tg_uop *d, tg_uop *q) {
  cg_pool pool = {0};
  tg_uop *r = K(sin_poly(d));
  RETURN(MUL(r, WHERE(K(ifand(q, 1)), CLI(r, -1), CLI(r, 1))));
  FAIL;
}

static tg_uop *sin_poly_large(tg_uop *d, tg_uop *q) {
  cg_pool pool = {0};
  tg_uop *r = K(sin_poly(ADD(d, WHERE(K(ifand(q, 1)), CL(d, M_PI / 2), CLI(d, 0)))));
  RETURN(MUL(r, WHERE(K(ifand(q, 2)), CLI(r, -1), CLI(r, 1))));
  FAIL;
}

tg_uop *cg_xsin(tg_uop *d) {
  cg_pool pool = {0};
  tg_uop *z = CL(d, 0.0);
  tg_uop *x = K(lazy_map_numbers(d, z, z, z, d));
  tg_uop *x_sign = WHERE(NE(x, I(0)), WHERE(LT(x, I(0)), CLI(x, -1), CLI(x, 1)), CLI(x, 0));
  tg_uop *x_abs = MUL(x, x_sign);
  tg_uop *q = NULL, *qs = NULL;
  tg_uop *r = K(payne_hanek(x_abs, &q));
  cg_pool_add(&pool, q);
  tg_uop *rs = K(cody_waite(x_abs, &qs));
  cg_pool_add(&pool, qs);
  tg_uop *result = WHERE(LT(x_abs, F(30.0)), K(sin_poly_small(rs, qs)), K(sin_poly_large(r, q)));
  result = MUL(result, x_sign);
  tg_uop *n = CL(d, NAN);
  RETURN(K(lazy_map_numbers(d, n, n, n, result)));
  FAIL;
}

tg_uop *cg_xexp2(tg_uop *d) {
  static const double p64[] = {0.4434359082926529454e-9, 0.7073164598085707425e-8, 0.1017819260921760451e-6, 0.1321543872511327615e-5,
                               0.1525273353517584730e-4, 0.1540353045101147808e-3, 0.1333355814670499073e-2, 0.9618129107597600536e-2,
                               0.5550410866482046596e-1, 0.2402265069591012214e+0, 0.6931471805599452862e+0, 0.1000000000000000000e+1};
  static const double p32[] = {0.1535920892e-3, 0.1339262701e-2, 0.9618384764e-2, 0.5550347269e-1, 0.2402264476e+0, 0.6931471825e+0, 1.0};
  cg_pool pool = {0};
  tg_uop *z = CL(d, 0.0);
  tg_uop *x = K(lazy_map_numbers(d, z, z, z, d));
  tg_uop *q = K(rintk(x));
  tg_uop *s = SUB(x, q);
  tg_uop *u = d->dtype == TG_FLOAT64 ? K(polyN(s, p64, 12)) : K(polyN(s, p32, 7));
  u = K(ldexp2k(u, q));
  int64_t upper = d->dtype == TG_FLOAT64 ? 1024 : d->dtype == TG_FLOAT32 ? 128 : 23;
  int64_t lower = d->dtype == TG_FLOAT64 ? -2000 : d->dtype == TG_FLOAT32 ? -150 : -22;
  u = WHERE(K(tg_um_logical_not(LT(d, I(upper)))), CL(d, INFINITY), u);
  u = WHERE(LT(d, I(lower)), CL(d, 0.0), u);
  RETURN(WHERE(NE(d, d), CL(d, NAN), u));
  FAIL;
}

tg_uop *cg_xlog2(tg_uop *d) {
  static const double p64[] = {0.2211941750456081490e+0, 0.2200768693152277689e+0, 0.2623708057488514656e+0, 0.3205977477944495502e+0,
                               0.4121985945485324709e+0, 0.5770780162997058982e+0, 0.96179669392608091449};
  static const double p32[] = {0.4374550283e+0, 0.5764790177e+0, 0.9618012905120};
  cg_pool pool = {0};
  int denormal_exp = d->dtype == TG_FLOAT16 ? 10 : 64;
  tg_uop *flt_min = CL(d, d->dtype == TG_FLOAT16 ? 6.1e-5 : 1e-4);
  tg_uop *is_denormal = LT(d, flt_min);
  tg_uop *a = WHERE(is_denormal, MUL(d, F(ldexp(1.0, denormal_exp))), d);
  tg_uop *e = CAST(K(ilogb2k(MUL(a, F(1.0 / 0.75)))), a->dtype);
  tg_uop *m = K(ldexp3k(a, NEG(e)));
  e = WHERE(is_denormal, SUB(e, I(denormal_exp)), e);
  tg_uop *x = DIV(SUB(m, F(1.0)), ADD(m, F(1.0)));
  tg_uop *x2 = MUL(x, x), *r;
  if (d->dtype == TG_FLOAT64) {
    tg_uop *t = K(polyN(x2, p64, 7));
    r = ADD(ADD(MUL(t, MUL(x, x2)), e), MUL(x, F(2.885390081777926774)));
  } else {
    tg_uop *t = K(polyN(x2, p32, 3));
    r = ADD(ADD(MUL(t, MUL(x, x2)), e), MUL(x, F(2.8853900432586669922)));
    r = ADD(r, d->dtype == TG_FLOAT32 ? MUL(x, F(3.2734474483568488616e-08)) : I(0));
  }
  r = WHERE(NE(d, F(INFINITY)), r, CL(r, INFINITY));
  r = WHERE(NE(d, F(0.0)), r, CL(r, -INFINITY));
  r = WHERE(LT(d, F(-0.0)), CL(r, NAN), r);
  r = WHERE(NE(d, d), CL(r, NAN), r);
  RETURN(WHERE(NE(K(tg_um_unary(TG_OP_RECIPROCAL, d)), F(-INFINITY)), r, CL(r, -INFINITY)));
  FAIL;
}

tg_uop *cg_xpow(tg_uop *base, tg_uop *exponent) {
  cg_pool pool = {0};
  tg_uop *neg = LT(base, I(0));
  tg_uop *ab = WHERE(neg, NEG(base), base);
  tg_uop *ret = K(tg_um_unary(TG_OP_EXP2, MUL(K(tg_um_unary(TG_OP_LOG2, ab)), exponent)));
  tg_uop *non_int = NE(exponent, CAST(CAST(exponent, TG_INT32), exponent->dtype));
  tg_uop *ae = WHERE(LT(exponent, I(0)), NEG(exponent), exponent);
  tg_uop *is_odd = CAST(K(tg_um_mod(CAST(ae, TG_INT32), I(2))), TG_BOOL);
  tg_uop *nb = WHERE(non_int, WHERE(NE(base, F(-INFINITY)), CL(ret, NAN), ret), WHERE(is_odd, NEG(ret), ret));
  RETURN(WHERE(K(tg_um_eq(exponent, I(0))), CLI(ret, 1), WHERE(LT(base, I(0)), nb, ret)));
  FAIL;
}

/* ---------------- threefry2x32 (decomp/op.py) ---------------- */

tg_uop *cg_threefry2x32(tg_uop *x, tg_uop *key);
tg_uop *cg_threefry2x32(tg_uop *x, tg_uop *key) {
  static const int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  cg_pool pool = {0};
  tg_uop *x0 = CAST(x, TG_UINT32), *x1 = CAST(K(tg_um_binop(TG_OP_SHR, x, I(32))), TG_UINT32);
  tg_uop *k0 = CAST(key, TG_UINT32), *k1 = CAST(K(tg_um_binop(TG_OP_SHR, key, I(32))), TG_UINT32);
  tg_uop *ks[3] = {k1, K(tg_um_binop(TG_OP_XOR, K(tg_um_binop(TG_OP_XOR, k0, k1)), I(0x1BD11BDA))), k0};
  tg_uop *xr[2] = {ADD(x0, ks[2]), ADD(x1, ks[0])};
  for (int i = 0; i < 5; i++) {
    for (int j = 0; j < 4; j++) {
      int r = rot[i % 2][j];
      tg_uop *nx0 = ADD(xr[0], xr[1]);
      tg_uop *rotl = ADD(K(tg_um_binop(TG_OP_SHL, xr[1], I(r))), K(tg_um_binop(TG_OP_SHR, xr[1], I(32 - r))));
      xr[0] = nx0, xr[1] = K(tg_um_binop(TG_OP_XOR, nx0, rotl));
    }
    xr[0] = ADD(xr[0], ks[i % 3]);
    xr[1] = ADD(ADD(ADD(xr[1], ks[(i + 1) % 3]), I(i)), I(1));
  }
  RETURN(K(tg_um_binop(TG_OP_OR, K(tg_um_binop(TG_OP_SHL, CAST(xr[1], TG_UINT64), I(32))), CAST(xr[0], TG_UINT64))));
  FAIL;
}

int cg_is_transcendental_dtype(int dt);
int cg_is_transcendental_dtype(int dt) { return transcendental(dt); }
