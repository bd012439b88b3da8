/* test_uop.c -- the UOp IR core (core/src/uop: ops.c, shape.c, bounds.c, print.c) against tinygrad 0.14.0's rules.
** `test_uop --dump` and `test_uop --bounds` are the C side of tests/uop_parity.py (see uop_dump.c). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "tgc_internal.h"
#include "uop/ops.h"
#include "uop_dump.c"

/* A NULL result with `code` and a message containing `needle`. */
#define CHECK_NULL_ERR(expr, code, needle) CHECK_ERR((expr) ? TG_OK : (code), code, needle)

static const char *shape_str(tg_uop *u, char *buf, size_t cap) {
  tg_status st;
  const tg_shape *s = tg_uop_shape(u, &st);
  if (st) return snprintf(buf, cap, "ERR"), buf;
  if (!s) return snprintf(buf, cap, "None"), buf;
  tg_sb b = tg_sb_fixed(buf, cap);
  tg_sb_puts(&b, "(");
  for (uint32_t i = 0; i < s->ndim; i++) tg_sb_printf(&b, i ? ", %lld" : "%lld", (long long)s->dims[i].v);
  tg_sb_puts(&b, s->ndim == 1 ? ",)" : ")");
  return buf;
}
#define CHECK_SHAPE(u, want)                                                                                          \
  do {                                                                                                                \
    char sb_[256];                                                                                                    \
    const char *got_ = shape_str((u), sb_, sizeof sb_);                                                               \
    CHECK(!strcmp(got_, (want)));                                                                                     \
    if (strcmp(got_, (want))) fprintf(stderr, "  shape %s, want %s\n", got_, (want));                                 \
  } while (0)
#define CHECK_SHAPE_ERR(u, needle)                                                                                    \
  do {                                                                                                                \
    tg_status st_;                                                                                                    \
    CHECK_ERR((tg_uop_shape((u), &st_), st_), TG_ERR_SHAPE, needle);                                                  \
  } while (0)

static void test_ops_and_groups(void) {
  CHECK(!strcmp(tg_op_name(TG_OP_ADD), "ADD") && !strcmp(tg_op_name(TG_OP_PYLITERAL), "PYLITERAL"));
  CHECK(!strcmp(tg_op_name((tg_op)0), "?") && !strcmp(tg_op_name((tg_op)99), "?"));
  CHECK(tg_opset_has(TG_GROUP_BINARY, TG_OP_FLOORMOD) && !tg_opset_has(TG_GROUP_BINARY, TG_OP_WHERE));
  CHECK(tg_opset_has(TG_GROUP_ALU, TG_OP_MULACC) && tg_opset_has(TG_GROUP_ELEMENTWISE, TG_OP_BITCAST));
  CHECK(tg_opset_has(TG_GROUP_MOVEMENT, TG_OP_SHRINK) && !tg_opset_has(TG_GROUP_MOVEMENT, TG_OP_UNSHARD));
  CHECK(tg_opset_has(TG_GROUP_ALL, TG_OP_SPECIAL) && tg_opset_has(TG_GROUP_ALL, TG_OP_PYLITERAL));
  CHECK(!tg_opset_has(TG_GROUP_ALL, TG_OP_NONE));
  int n = 0;
  for (int op = 0; op < 128; op++) n += op < TG_OP_COUNT && tg_opset_has(TG_GROUP_BINARY, (tg_op)op);
  CHECK(n == 19);
  tg_opset s = tg_opset_of((tg_op[]){TG_OP_ADD, TG_OP_REDUCE}, 2);
  CHECK(tg_opset_has(s, TG_OP_REDUCE) && tg_opset_has(s, TG_OP_ADD) && !tg_opset_has(s, TG_OP_MUL));
}

static void test_args(void) {
  char buf[256];
  tg_arg t3[3] = {tg_arg_int(0), tg_arg_float(1.5), tg_arg_str("a'b")}, t1[1] = {tg_arg_int(0)};
  struct { tg_arg a; const char *want; } cases[] = {
      {tg_arg_none(), "None"}, {tg_arg_int(-3), "-3"}, {tg_arg_bool(1), "True"}, {tg_arg_invalid(), "Invalid"},
      {tg_arg_float(1.0), "ConstFloat(1.0)"}, {tg_arg_float(-0.0), "ConstFloat(-0.0)"},
      {tg_arg_float(NAN), "ConstFloat(nan)"}, {tg_arg_float(-INFINITY), "ConstFloat(-inf)"},
      {tg_arg_float(1e-7), "ConstFloat(1e-07)"}, {tg_arg_float(0.1), "ConstFloat(0.1)"},
      {tg_arg_float(1e16), "ConstFloat(1e+16)"}, {tg_arg_float(1e15), "ConstFloat(1000000000000000.0)"},
      {tg_arg_float(0.0001), "ConstFloat(0.0001)"}, {tg_arg_float(123.456), "ConstFloat(123.456)"},
      {tg_arg_dtype(TG_FLOAT32), "dtypes.float"}, {tg_arg_dtype(TG_UINT8), "dtypes.uchar"},
      {tg_arg_op(TG_OP_ADD), "Ops.ADD"}, {tg_arg_str("gidx0"), "'gidx0'"},
      {tg_arg_tuple(t3, 3), "(0, ConstFloat(1.5), \"a'b\")"}, {tg_arg_tuple(t1, 1), "(0,)"}, {tg_arg_tuple(NULL, 0), "()"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = tg_arg_repr(&cases[i].a, buf, sizeof buf);
    CHECK(!strcmp(buf, cases[i].want) && n == strlen(cases[i].want));
    if (strcmp(buf, cases[i].want)) fprintf(stderr, "  repr %s, want %s\n", buf, cases[i].want);
  }
  CHECK(tg_arg_repr(&cases[18].a, buf, 4) == strlen(cases[18].want) && !strcmp(buf, "(0,")); /* truncates */
  tg_arg s = tg_arg_str("x");
  CHECK(tg_arg_pystr(&s, buf, sizeof buf) == 1 && !strcmp(buf, "x"));
  /* ConstFloat semantics */
  tg_arg pz = tg_arg_float(0.0), nz = tg_arg_float(-0.0), n1 = tg_arg_float(NAN), n2 = tg_arg_float(-NAN);
  CHECK(!tg_arg_eq(&pz, &nz) && tg_arg_hash(&pz) != tg_arg_hash(&nz));
  CHECK(tg_arg_eq(&n1, &n2) && tg_arg_hash(&n1) == tg_arg_hash(&n2));
  tg_arg i1 = tg_arg_int(1), b1 = tg_arg_bool(1);
  CHECK(!tg_arg_eq(&i1, &b1));
  /* deep copy and equality of nested tuples */
  tg_arg inner[2] = {tg_arg_str("ab"), tg_arg_dtype(TG_INT32)}, outer[2] = {tg_arg_tuple(inner, 2), tg_arg_int(7)};
  tg_arg src = tg_arg_tuple(outer, 2), copy;
  CHECK_OK(tg_arg_copy(&src, &copy));
  CHECK(tg_arg_eq(&src, &copy) && tg_arg_hash(&src) == tg_arg_hash(&copy) && copy.items != src.items);
  tg_arg_free(&copy);
  CHECK(copy.kind == TG_ARG_NONE);
  tg_arg ints;
  CHECK_OK(tg_arg_ints((int64_t[]){1, 0}, 2, 1, &ints));
  CHECK(tg_arg_repr(&ints, buf, sizeof buf) && !strcmp(buf, "(True, False)"));
  tg_arg_free(&ints);
}

static void test_interning(void) {
  size_t base = tg_uop_live_count();
  tg_uop *a = cf(TG_FLOAT32, 1.0), *b = cf(TG_FLOAT32, 1.0), *c = ci(TG_INT32, 1), *d = cf(TG_FLOAT16, 1.0);
  CHECK(a && a == b && a != c && a != d);
  CHECK(tg_uop_live_count() == base + 3);
  tg_uop *t1 = tg_uop_new_tagged(TG_OP_CONST, TG_FLOAT32, NULL, 0, tg_arg_float(1.0), tg_arg_int(1));
  tg_uop *t2 = tg_uop_new_tagged(TG_OP_CONST, TG_FLOAT32, NULL, 0, tg_arg_float(1.0), tg_arg_int(2));
  tg_uop *t1b = tg_uop_replace(t2, TG_OP_CONST, TG_FLOAT32, NULL, 0, NULL, &(tg_arg){.kind = TG_ARG_INT, .i = 1});
  CHECK(t1 != a && t1 != t2 && t1 == t1b);
  CHECK(tg_uop_replace(a, (tg_op)a->op, a->dtype, a->src, a->nsrc, NULL, NULL) == a); /* unchanged: self, retained */
  tg_uop *s1 = bin(TG_OP_ADD, a, c), *s2 = bin(TG_OP_ADD, a, c), *s3 = bin(TG_OP_ADD, c, a);
  CHECK(s1 && s1 == s2 && s1 != s3 && s1->src[0] == a && s1->nsrc == 2);
  /* strings and tuples are compared by value, not by pointer */
  char name1[] = "gidx0", name2[] = "gidx0";
  tg_uop *sp1 = with_arg(TG_OP_SPECIAL, TG_DT_AUTO, c, tg_arg_str(name1));
  tg_uop *sp2 = with_arg(TG_OP_SPECIAL, TG_DT_AUTO, c, tg_arg_str(name2));
  tg_uop *sp3 = with_arg(TG_OP_SPECIAL, TG_DT_AUTO, c, tg_arg_str("lidx0"));
  CHECK(sp1 == sp2 && sp1 != sp3 && sp1->arg.s != name1);
  /* -0.0 and 0.0 are different UOps; every NaN is the same one */
  tg_uop *z1 = cf(TG_FLOAT32, 0.0), *z2 = cf(TG_FLOAT32, -0.0), *n1 = cf(TG_FLOAT32, NAN), *n2 = cf(TG_FLOAT32, -NAN);
  tg_uop *n3 = tg_uop_new(TG_OP_CONST, TG_FLOAT32, NULL, 0, tg_arg_float(-NAN));
  CHECK(z1 != z2 && n1 == n2 && n1 == n3);
  CHECK(!signbit(n1->arg.f) && signbit(z2->arg.f));
  tg_uop *all[] = {a, b, c, d, t1, t2, t1b, a, s1, s2, s3, sp1, sp2, sp3, z1, z2, n1, n2, n3};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tg_uop_release(all[i]);
  CHECK(tg_uop_live_count() == base);
  tg_uop_release(NULL);
  CHECK(tg_uop_retain(NULL) == NULL);
}

static void test_errors(void) {
  size_t base = tg_uop_live_count();
  tg_uop *i = ci(TG_INT32, 1), *f = cf(TG_FLOAT32, 1.0), *bo = tg_uop_const_bool(1);
  CHECK_NULL_ERR(tg_uop_new((tg_op)0, TG_DT_AUTO, NULL, 0, tg_arg_none()), TG_ERR_INVALID_ARGUMENT, "invalid op 0");
  CHECK_NULL_ERR(tg_uop_new((tg_op)80, TG_DT_AUTO, NULL, 0, tg_arg_none()), TG_ERR_INVALID_ARGUMENT, "invalid op 80");
  CHECK_NULL_ERR(tg_uop_new(TG_OP_ADD, TG_DT_AUTO, (tg_uop *[]){i, NULL}, 2, tg_arg_none()), TG_ERR_NULL_POINTER,
                 "src[1] is NULL");
  CHECK_NULL_ERR(tg_uop_new(TG_OP_ADD, TG_DT_AUTO, NULL, 2, tg_arg_none()), TG_ERR_NULL_POINTER, "src is NULL");
  CHECK_NULL_ERR(tg_uop_new(TG_OP_CONST, 40, NULL, 0, tg_arg_int(1)), TG_ERR_INVALID_ARGUMENT, "invalid dtype id 40");
  CHECK_NULL_ERR(tern(TG_OP_WHERE, i, f, f), TG_ERR_DTYPE, "where cond must be bool, got dtypes.int");
  CHECK_NULL_ERR(bin(TG_OP_SHL, f, i), TG_ERR_DTYPE, "shift operands must be int, got [dtypes.float, dtypes.int]");
  CHECK_NULL_ERR(with_arg(TG_OP_CAST, TG_DT_AUTO, f, tg_arg_int(3)), TG_ERR_INVALID_ARGUMENT,
                 "CAST/BITCAST arg must be DType, got 3");
  CHECK_NULL_ERR(tg_uop_new(TG_OP_CONST, TG_DT_AUTO, NULL, 0, tg_arg_str("x")), TG_ERR_DTYPE,
                 "no dtype for CONST with arg 'x'");
  CHECK_NULL_ERR(tg_uop_new(TG_OP_PARAM, TG_DT_AUTO, (tg_uop *[]){i}, 1, tg_arg_int(0)), TG_ERR_INVALID_ARGUMENT,
                 "BUFFER/PARAM must have ParamArg");
  CHECK_NULL_ERR(un(TG_OP_NEG, NULL), TG_ERR_NULL_POINTER, "src[0] is NULL");
  CHECK_NULL_ERR(tg_uop_new(TG_OP_NEG, TG_DT_AUTO, NULL, 0, tg_arg_none()), TG_ERR_INVALID_ARGUMENT,
                 "Ops.NEG needs at least 1 sources, got 0");
  CHECK_NULL_ERR(tg_uop_const_float(TG_INT32, NAN), TG_ERR_INVALID_ARGUMENT, "cannot convert float NaN to integer");
  CHECK_NULL_ERR(tg_uop_const_float(TG_INT32, -INFINITY), TG_ERR_INVALID_ARGUMENT,
                 "cannot convert float infinity to integer");
  CHECK_NULL_ERR(tg_uop_const_int(TG_DT_VOID, 1), TG_ERR_DTYPE, "no const of dtype");
  tg_uop *v = tg_uop_new(TG_OP_SINK, TG_DT_AUTO, (tg_uop *[]){f}, 1, tg_arg_none());
  CHECK_NULL_ERR(bin(TG_OP_ADD, v, f), TG_ERR_DTYPE, "no least_upper_dtype for [dtypes.void, dtypes.float]");
  CHECK(tg_uop_infer_dtype(TG_OP_MUL, (tg_uop *[]){i, f}, 2, NULL) == TG_FLOAT32);
  CHECK(tg_uop_infer_dtype(TG_OP_CUSTOM, NULL, 0, NULL) == -1);
  CHECK(tg_uop_infer_dtype(TG_OP_SHL, (tg_uop *[]){f, i}, 2, NULL) == -2);
  tg_uop_release(i), tg_uop_release(f), tg_uop_release(bo), tg_uop_release(v);
  CHECK(tg_uop_live_count() == base);
}

static void test_dtype_inference(void) {
  size_t base = tg_uop_live_count();
  tg_uop *i32 = ci(TG_INT32, 3), *wi = ci(TG_WEAKINT, 2), *wf = cf(TG_WEAKFLOAT, 2.5), *u8 = ci(TG_UINT8, 1);
  tg_uop *f16 = cf(TG_FLOAT16, 1.0), *bo = tg_uop_const_bool(0), *inv = tg_uop_const_invalid();
  struct { tg_uop *u; int want; } cases[] = {
      {bin(TG_OP_ADD, i32, wi), TG_INT32},          {bin(TG_OP_ADD, wi, wf), TG_WEAKFLOAT},
      {bin(TG_OP_MUL, u8, i32), TG_INT32},          {bin(TG_OP_ADD, u8, f16), TG_FLOAT16},
      {bin(TG_OP_CMPLT, i32, wi), TG_BOOL},         {un(TG_OP_SIN, i32), TG_FLOAT32},
      {un(TG_OP_EXP2, wi), TG_WEAKFLOAT},          {un(TG_OP_LOG2, inv), TG_BOOL},
      {un(TG_OP_NEG, u8), TG_UINT8},               {tern(TG_OP_WHERE, bo, i32, u8), TG_INT32},
      {bin(TG_OP_SHL, u8, inv), TG_UINT8},
      {with_arg(TG_OP_CAST, TG_DT_AUTO, i32, tg_arg_dtype(TG_FLOAT64)), TG_FLOAT64},
      {tg_uop_new(TG_OP_GETADDR, TG_DT_AUTO, (tg_uop *[]){i32}, 1, tg_arg_none()), TG_UINT64},
      {tg_uop_new(TG_OP_NOOP, TG_DT_AUTO, NULL, 0, tg_arg_none()), TG_DT_VOID},
      {tg_uop_new(TG_OP_STACK, TG_DT_AUTO, NULL, 0, tg_arg_none()), TG_DT_VOID},
      {ci(TG_WEAKINT, 5), TG_WEAKINT},
  };
  int n = (int)(sizeof cases / sizeof cases[0]);
  for (int k = 0; k < n; k++) {
    CHECK(cases[k].u && cases[k].u->dtype == cases[k].want);
    if (cases[k].u && cases[k].u->dtype != cases[k].want)
      fprintf(stderr, "  case %d: dtype %s, want %s\n", k, tg_dtype_repr_name(cases[k].u->dtype),
              tg_dtype_repr_name(cases[k].want));
  }
  /* const values follow DType.const: floats rounded to the dtype, ints kept, bool as truth */
  tg_uop *h = cf(TG_FLOAT16, 0.1), *big = cf(TG_FLOAT32, 1e40), *trunc_i = cf(TG_INT16, -2.7), *wrap = ci(TG_UINT8, 300);
  tg_uop *b2 = ci(TG_BOOL, 2), *fi = ci(TG_FLOAT32, 16777217);
  CHECK(h->arg.kind == TG_ARG_FLOAT && h->arg.f == 0.0999755859375);
  CHECK(isinf(big->arg.f) && trunc_i->arg.kind == TG_ARG_INT && trunc_i->arg.i == -2 && wrap->arg.i == 300);
  CHECK(b2->arg.kind == TG_ARG_BOOL && b2->arg.i == 1 && fi->arg.f == 16777216.0);
  tg_uop *more[] = {i32, wi, wf, u8, f16, bo, inv, h, big, trunc_i, wrap, b2, fi};
  for (size_t k = 0; k < sizeof more / sizeof more[0]; k++) tg_uop_release(more[k]);
  for (int k = 0; k < n; k++) tg_uop_release(cases[k].u);
  CHECK(tg_uop_live_count() == base);
}

static void test_lifecycle(void) {
  size_t base = tg_uop_live_count();
  /* a 1e6-long chain, each link holding the previous one only through its source */
  tg_uop *x = ci(TG_INT32, 0), *one = ci(TG_INT32, 1);
  for (int k = 0; k < 1000000 && x; k++) {
    tg_uop *y = bin(k & 1 ? TG_OP_ADD : TG_OP_MUL, x, one);
    tg_uop_release(x);
    x = y;
  }
  CHECK(x && tg_uop_live_count() == base + 1000002);
  /* derived properties on the deep chain are computed without recursion */
  CHECK_SHAPE(x, "()");
  tg_bounds bd = tg_uop_bounds(x);
  CHECK(!bd.is_float && bd.imin == 500000 && bd.imax == 500000);
  size_t n = 0;
  tg_uop **order = tg_uop_toposort(x, &n);
  CHECK(order && n == 1000002 && order[n - 1] == x && order[0]->op == TG_OP_CONST);
  free(order);
  tg_uop_release(one);
  tg_uop_release(x);
  CHECK(tg_uop_live_count() == base);
  /* the table grows and shrinks back */
  tg_uop *many[50000];
  for (int k = 0; k < 50000; k++) many[k] = ci(TG_INT64, k);
  CHECK(tg_uop_live_count() == base + 50000 && many[123] == ci(TG_INT64, 123));
  tg_uop_release(many[123]);
  for (int k = 0; k < 50000; k++) tg_uop_release(many[k]);
  CHECK(tg_uop_live_count() == base);
}

static void *hammer(void *arg) {
  (void)arg;
  for (int k = 0; k < 20000; k++) {
    tg_uop *a = ci(TG_INT32, k % 97), *b = ci(TG_INT32, 1), *s = bin(TG_OP_ADD, a, b);
    tg_uop_release(a), tg_uop_release(b);
    tg_uop *again = ci(TG_INT32, k % 97);
    if (!s || s->src[0] != again) return (void *)1;
    tg_uop_release(again), tg_uop_release(s);
  }
  return NULL;
}

static void test_threads(void) {
  size_t base = tg_uop_live_count();
  pthread_t t[4];
  void *ret[4];
  for (int k = 0; k < 4; k++) pthread_create(&t[k], NULL, hammer, NULL);
  for (int k = 0; k < 4; k++) {
    pthread_join(t[k], &ret[k]);
    CHECK(ret[k] == NULL);
  }
  CHECK(tg_uop_live_count() == base);
}

static void test_shapes(void) {
  size_t base = tg_uop_live_count();
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3)), *p6 = param(1, TG_FLOAT32, SARG(6)), *c = cf(TG_FLOAT32, 1.0);
  CHECK_SHAPE(p, "(2, 3)");
  CHECK_SHAPE(p6, "(6,)");
  CHECK_SHAPE(c, "()");
  tg_uop *r = mop(TG_OP_RESHAPE, p6, SARG(3, 2), NULL), *e = mop(TG_OP_EXPAND, p, SARG(4, 1), NULL);
  tg_uop *pe = int_arg_op(TG_OP_PERMUTE, p, 2, (int64_t[]){1, 0}, 0);
  tg_uop *fl = int_arg_op(TG_OP_FLIP, p, 2, (int64_t[]){1, 0}, 1);
  tg_uop *pd = mop(TG_OP_PAD, p, SARG(1, 0), SARG(4, 5)), *sh = mop(TG_OP_SHRINK, p, SARG(1, 1), SARG(1, 2));
  tg_uop *rd = reduce(p, TG_OP_ADD, 1), *rd0 = reduce(p, TG_OP_ADD, 0);
  CHECK_SHAPE(r, "(3, 2)");
  CHECK_SHAPE(e, "(4, 1, 2, 3)");
  CHECK_SHAPE(pe, "(3, 2)");
  CHECK_SHAPE(fl, "(2, 3)");
  CHECK_SHAPE(pd, "(4, 5)");
  CHECK_SHAPE(sh, "(1, 2)");
  CHECK_SHAPE(rd, "(3,)");
  CHECK_SHAPE(rd0, "(2, 3)");
  /* errors, with tinygrad's messages */
  tg_uop *bad[] = {
      mop(TG_OP_RESHAPE, p, SARG(4), NULL),          mop(TG_OP_RESHAPE, p, SARG(-2, -3), NULL),
      int_arg_op(TG_OP_PERMUTE, p, 2, (int64_t[]){0, 0}, 0), int_arg_op(TG_OP_PERMUTE, p, 1, (int64_t[]){0}, 0),
      mop(TG_OP_PAD, p, SARG(0, 1), SARG(2, 3)),     mop(TG_OP_SHRINK, p, SARG(1, 0), SARG(2, 3)),
      int_arg_op(TG_OP_FLIP, p, 2, (int64_t[]){1, 0}, 0), reduce(p, TG_OP_ADD, 3),
      mop(TG_OP_PAD, p, SARG(0), SARG(2)),
  };
  CHECK_SHAPE_ERR(bad[0], "bad reshape: (2, 3) -> (4,)");
  CHECK_SHAPE_ERR(bad[1], "shape can't contain negative numbers (-2, -3)");
  CHECK_SHAPE_ERR(bad[2], "invalid permutation (0, 0) of len 2");
  CHECK_SHAPE_ERR(bad[3], "invalid permutation (0,) of len 2");
  CHECK_SHAPE_ERR(bad[4], "invalid pad ((0, 2), (1, 3)) for (2, 3)");
  CHECK_SHAPE_ERR(bad[5], "invalid shrink ((1, 2), (0, 3)) for (2, 3)");
  CHECK_SHAPE_ERR(bad[6], "bad flip on (2, 3), (1, 0)");
  CHECK_SHAPE_ERR(bad[7], "invalid type for axis: 3");
  CHECK_SHAPE_ERR(bad[8], "invalid pad ((0, 2),) for (2, 3)");
  tg_uop *sink = tg_uop_new(TG_OP_SINK, TG_DT_AUTO, (tg_uop *[]){p}, 1, tg_arg_none());
  tg_status st = TG_ERR_INTERNAL;
  CHECK(tg_uop_shape(sink, &st) == NULL && st == TG_OK);
  tg_uop *ns = mop(TG_OP_RESHAPE, sink, SARG(1), NULL);
  CHECK_SHAPE_ERR(ns, "movement op Ops.RESHAPE requires shape, Ops.SINK doesn't have one");
  /* broadcasting */
  tg_uop *p3 = param(2, TG_FLOAT32, SARG(3)), *p4 = param(3, TG_FLOAT32, SARG(4)), *p21 = param(4, TG_FLOAT32, SARG(2, 1));
  tg_uop *b1 = bin(TG_OP_ADD, p, p3), *b2 = bin(TG_OP_MUL, p, c), *b3 = bin(TG_OP_ADD, p21, p3), *b4 = bin(TG_OP_ADD, p, p4);
  tg_uop *b5 = bin(TG_OP_ADD, c, c);
  CHECK_SHAPE(b1, "(2, 3)");
  CHECK_SHAPE(b2, "(2, 3)");
  CHECK_SHAPE(b3, "(2, 3)");
  CHECK_SHAPE(b5, "()");
  CHECK_SHAPE_ERR(b4, "shape mismatch: objects cannot be broadcast to a single shape ((2, 3), (4,))");
  tg_uop *sk = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){p, p}, 2, tg_arg_none());
  tg_uop *bc = with_arg(TG_OP_BITCAST, TG_DT_AUTO, p, tg_arg_dtype(TG_UINT8));
  tg_uop *bc2 = with_arg(TG_OP_BITCAST, TG_DT_AUTO, p, tg_arg_dtype(TG_FLOAT64));
  CHECK_SHAPE(sk, "(2, 2, 3)");
  CHECK_SHAPE(bc, "(2, 12)");
  CHECK_SHAPE_ERR(bc2, "unsupported size in bitcast");
  /* a symbolic dim: a variable reshaped into */
  tg_uop *var = variable("n", 1, 8), *vs = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){var}, 1, tg_arg_none());
  tg_uop *pv = param(5, TG_FLOAT32, vs);
  const tg_shape *s = tg_uop_shape(pv, NULL);
  CHECK(s && s->ndim == 1 && s->dims[0].u == var);
  tg_uop *all[] = {p, p6, c, r, e, pe, fl, pd, sh, rd, rd0, sink, ns, p3, p4, p21, b1, b2, b3, b4, b5, sk, bc, bc2, var, pv};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) tg_uop_release(bad[k]);
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tg_uop_release(all[k]);
  CHECK(tg_uop_live_count() == base);
}

static void test_bounds(void) {
  size_t base = tg_uop_live_count();
  tg_uop *r = range(10, 0), *f4 = ci(TG_WEAKINT, 4), *m = bin(TG_OP_MUL, r, f4), *mod = bin(TG_OP_FLOORMOD, m, f4);
  tg_uop *neg = ci(TG_WEAKINT, -3), *dv = bin(TG_OP_FLOORDIV, r, neg), *cdv = bin(TG_OP_CDIV, r, neg);
  tg_uop *lt = bin(TG_OP_CMPLT, r, f4), *i32 = tg_uop_new(TG_OP_CUSTOM, TG_INT32, NULL, 0, tg_arg_str("x"));
  tg_uop *u64 = tg_uop_new(TG_OP_CUSTOM, TG_UINT64, NULL, 0, tg_arg_str("x")), *f = cf(TG_FLOAT32, 2.5);
  tg_uop *fl = tg_uop_new(TG_OP_CUSTOM, TG_FLOAT32, NULL, 0, tg_arg_str("x"));
  tg_uop *x = ci(TG_INT32, -1), *nt = bin(TG_OP_XOR, r, x), *sh = bin(TG_OP_SHR, m, ci(TG_WEAKINT, 1));
  tg_uop *and = bin(TG_OP_AND, i32, ci(TG_INT32, 7));
  struct { tg_uop *u; int64_t lo, hi; } ic[] = {
      {r, 0, 9}, {m, 0, 36}, {mod, 0, 3}, {dv, -3, 0}, {cdv, -3, 0}, {lt, 0, 1}, {i32, INT32_MIN, INT32_MAX},
      {u64, 0, INT64_MAX}, {nt, -10, -1}, {sh, 0, 18}, {and, 0, 7},
  };
  for (size_t k = 0; k < sizeof ic / sizeof ic[0]; k++) {
    tg_bounds b = tg_uop_bounds(ic[k].u);
    CHECK(!b.is_float && b.imin == ic[k].lo && b.imax == ic[k].hi);
    if (b.imin != ic[k].lo || b.imax != ic[k].hi)
      fprintf(stderr, "  bounds case %zu: %lld..%lld\n", k, (long long)b.imin, (long long)b.imax);
  }
  char rb[128];
  struct { tg_uop *u; const char *want; } rc[] = {
      {r, "0 9"}, {lt, "False True"}, {fl, "-inf inf"}, {f, "2.5 2.5"}, {u64, "0 18446744073709551615"},
      {ci(TG_WEAKINT, 0), "0 0"},
  };
  for (size_t k = 0; k < sizeof rc / sizeof rc[0]; k++) {
    CHECK(tg_uop_bounds_repr(rc[k].u, rb, sizeof rb) == strlen(rc[k].want) && !strcmp(rb, rc[k].want));
    if (strcmp(rb, rc[k].want)) fprintf(stderr, "  bounds repr %s, want %s\n", rb, rc[k].want);
  }
  tg_uop_release(rc[5].u);
  tg_uop *wi = tg_uop_new(TG_OP_CUSTOM, TG_WEAKINT, NULL, 0, tg_arg_str("x")); /* weakint's +-2**799 saturates */
  CHECK(tg_uop_bounds_repr(wi, rb, sizeof rb) && !strcmp(rb, "-170141183460469231731687303715884105728 "
                                                            "170141183460469231731687303715884105727"));
  tg_uop_release(wi);
  tg_bounds bf = tg_uop_bounds(f), bfl = tg_uop_bounds(fl);
  CHECK(bf.is_float && bf.fmin == 2.5 && bf.fmax == 2.5);
  CHECK(bfl.is_float && isinf(bfl.fmin) && bfl.fmin < 0 && isinf(bfl.fmax) && bfl.fmax > 0);
  tg_uop *all[] = {r, f4, m, mod, neg, dv, cdv, lt, i32, u64, f, fl, x, nt, sh->src[1], sh, and->src[1], and};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) tg_uop_release(all[k]);
  CHECK(tg_uop_live_count() == base);
}

/* ---- out of memory: every allocation of an operation made to fail in turn (glibc only; ASan owns malloc) ---- */
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#define HAVE_FAULTS 1
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long fail_at = -1; /* the allocation to fail, counting down; -1: none */
static long live_allocs;  /* allocations minus frees while counting */
static int counting;
static void *counted(void *p) { return (void)(p && counting ? live_allocs++ : 0), p; }
static int should_fail(void) { return fail_at >= 0 && fail_at-- == 0; }
void *malloc(size_t n) { return should_fail() ? NULL : counted(__libc_malloc(n)); }
void *calloc(size_t n, size_t m) { return should_fail() ? NULL : counted(__libc_calloc(n, m)); }
void *realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  void *q = __libc_realloc(p, n);
  return p ? q : counted(q);
}
void free(void *p) {
  if (p && counting) live_allocs--;
  __libc_free(p);
}

/* Runs op with its k-th allocation failing, for k = 0, 1, ... until op no longer meets a failure: each failing run
** must report TG_ERR_OUT_OF_MEMORY and leave no UOp and no allocation behind. */
static void fault_each(const char *name, int (*op)(void)) {
  size_t base = tg_uop_live_count();
  int k, bad = 0;
  for (k = 0; k < 1000; k++) {
    live_allocs = 0, counting = 1, fail_at = k;
    tg_err(TG_OK, "%s", "");
    int ok = op();
    int hit = fail_at < 0;
    counting = 0, fail_at = -1;
    if (!hit) break;
    if (ok || !strstr(tg_last_error(), "out of memory") || live_allocs != 0 || tg_uop_live_count() != base) {
      if (bad++ < 3) fprintf(stderr, "  %s, allocation %d failing: ok=%d err='%s' leaked %ld allocs, %zu uops\n", name, k,
                             ok, tg_last_error(), live_allocs, tg_uop_live_count() - base);
    }
  }
  if (getenv("TGC_TEST_VERBOSE")) fprintf(stderr, "  %s: %d allocations failed in turn\n", name, k);
  CHECK(bad == 0 && k > 0 && k < 1000);
}

static tg_uop *oom_keep; /* built before the faults: ops below use it */

static int op_new_str(void) { /* a tuple arg with strings, a tag, a new node */
  tg_arg items[3] = {tg_arg_str("abc"), tg_arg_int(1), tg_arg_str("de")};
  tg_uop *u = tg_uop_new_tagged(TG_OP_CUSTOM, TG_INT32, &oom_keep, 1, tg_arg_tuple(items, 3), tg_arg_str("tag"));
  tg_uop_release(u);
  return u != NULL;
}
static int op_str(void) {
  char *s = tg_uop_str(oom_keep);
  free(s);
  return s != NULL;
}
static int op_topo(void) {
  size_t n;
  tg_uop **o = tg_uop_toposort(oom_keep, &n);
  free(o);
  return o != NULL;
}
static int op_shape(void) { /* a fresh graph each time (built with faults paused), so shapes are computed under them */
  long at = fail_at;
  fail_at = -1;
  tg_uop *p = param(9, TG_FLOAT32, SARG(2, 3)), *r = mop(TG_OP_RESHAPE, p, SARG(3, 2), NULL);
  fail_at = at;
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(r, &st);
  int ok = s && s->ndim == 2;
  if (!s && st != TG_ERR_OUT_OF_MEMORY) tg_err(TG_ERR_INTERNAL, "wrong status %d", st);
  long after = fail_at; /* whether the fault was met, for fault_each */
  fail_at = -1;
  tg_uop_release(r), tg_uop_release(p);
  fail_at = after;
  return ok;
}
static int op_ints(void) {
  tg_arg a;
  if (tg_arg_ints((int64_t[]){1, 2, 3}, 3, 0, &a) != TG_OK) return 0;
  tg_arg_free(&a);
  return 1;
}
#endif

static void test_out_of_memory(void) {
#ifdef HAVE_FAULTS
  tg_uop *a = ci(TG_INT32, 5), *b = bin(TG_OP_ADD, a, a);
  oom_keep = bin(TG_OP_MUL, b, a);
  fault_each("tg_uop_new", op_new_str);
  fault_each("tg_uop_str", op_str);
  fault_each("tg_uop_toposort", op_topo);
  fault_each("tg_uop_shape", op_shape);
  fault_each("tg_arg_ints", op_ints);
  tg_uop_release(a), tg_uop_release(b), tg_uop_release(oom_keep);
#endif
}

static void test_toposort_and_print(void) {
  size_t base = tg_uop_live_count();
  tg_uop *a = cf(TG_FLOAT32, 1.0), *b = cf(TG_FLOAT32, 2.0), *x = bin(TG_OP_ADD, a, b), *y = bin(TG_OP_MUL, x, a);
  size_t n = 0;
  tg_uop **o = tg_uop_toposort(y, &n);
  CHECK(o && n == 4 && o[0] == a && o[1] == b && o[2] == x && o[3] == y);
  free(o);
  char *s = tg_uop_str(y);
  const char *want = "UOp(Ops.MUL, dtypes.float, arg=None, src=(\n"
                     "  UOp(Ops.ADD, dtypes.float, arg=None, src=(\n"
                     "    x1:=UOp(Ops.CONST, dtypes.float, arg=ConstFloat(1.0), src=()),\n"
                     "    UOp(Ops.CONST, dtypes.float, arg=ConstFloat(2.0), src=()),)),\n"
                     "  x1,))";
  CHECK(s && !strcmp(s, want));
  if (s && strcmp(s, want)) fprintf(stderr, "got:\n%s\n", s);
  free(s);
  tg_uop *rd = reduce(y, TG_OP_ADD, 0);
  s = tg_uop_str(rd);
  CHECK(s && strstr(s, "UOp(Ops.REDUCE, dtypes.float, arg=(Ops.ADD, 0), src=(\n"));
  free(s);
  tg_uop_release(a), tg_uop_release(b), tg_uop_release(x), tg_uop_release(y), tg_uop_release(rd);
  CHECK(tg_uop_live_count() == base);
}

/* Every parity case builds and releases cleanly (their text is checked against tinygrad by tests/uop_parity.py). */
static void test_parity_cases_build(void) {
  size_t base = tg_uop_live_count();
  for (size_t i = 0; i < sizeof uop_cases / sizeof uop_cases[0]; i++) {
    tg_uop *u = uop_cases[i].build();
    CHECK(u != NULL);
    if (!u) fprintf(stderr, "  case %s: %s\n", uop_cases[i].name, tg_last_error());
    if (i && strcmp(uop_cases[i - 1].name, uop_cases[i].name) >= 0) CHECK(!"cases sorted by name");
    tg_uop_release(u);
  }
  CHECK(tg_uop_live_count() == base);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--dump")) return uop_dump();
  if (argc > 1 && !strcmp(argv[1], "--bounds")) return bounds_dump();
  test_ops_and_groups();
  test_args();
  test_interning();
  test_errors();
  test_dtype_inference();
  test_lifecycle();
  test_threads();
  test_shapes();
  test_bounds();
  test_toposort_and_print();
  test_out_of_memory();
  test_parity_cases_build();
  CHECK_DONE();
}
