/* uop_dump.c -- the C half of tests/uop_parity.py, included by test_uop.c and run as `test_uop --dump`.
**
** Builds the same graphs tests/uop_parity.py builds with tinygrad 0.14.0 and prints, for each, in case-name order:
**   === <name>
**   <tg_uop_str>
**   --- dtype <dtypes.x>
**   --- shape <(2, 3) | None | ERR message>
**   --- toposort <the ops in toposort order>
**   --- bounds <vmin> <vmax>          (only for cases named bounds_*)
** The Python side prints the same from repr(), .dtype, ._shape and vmin/vmax, then diffs. Any change here needs the
** same change there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uop/ops.h"

/* ---------------- builders (each returns a new reference and releases nothing it was given) ---------------- */

static tg_uop *cf(int dt, double v) { return tg_uop_const_float(dt, v); }
static tg_uop *ci(int dt, int64_t v) { return tg_uop_const_int(dt, v); }
static tg_uop *un(tg_op op, tg_uop *a) { return tg_uop_alu(op, 1, (tg_uop *[]){a}); }
static tg_uop *bin(tg_op op, tg_uop *a, tg_uop *b) { return tg_uop_alu(op, 2, (tg_uop *[]){a, b}); }
static tg_uop *tern(tg_op op, tg_uop *a, tg_uop *b, tg_uop *c) { return tg_uop_alu(op, 3, (tg_uop *[]){a, b, c}); }
static tg_uop *with_arg(tg_op op, int dt, tg_uop *a, tg_arg arg) { return tg_uop_new(op, dt, (tg_uop *[]){a}, 1, arg); }

/* shape_to_shape_arg: one weakint CONST for one dim, else a STACK of them. */
static tg_uop *sarg(size_t n, const int64_t *d) {
  if (n == 1) return ci(TG_WEAKINT, d[0]);
  tg_uop *c[8] = {0};
  for (size_t i = 0; i < n && i < 8; i++) c[i] = ci(TG_WEAKINT, d[i]);
  tg_uop *r = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, c, n, tg_arg_none());
  for (size_t i = 0; i < n; i++) tg_uop_release(c[i]);
  return r;
}
#define SARG(...) sarg(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), (int64_t[]){__VA_ARGS__})

/* A movement op with one or two shape-arg sources (RESHAPE/EXPAND take one, PAD/SHRINK two). Consumes s1, s2. */
static tg_uop *mop(tg_op op, tg_uop *x, tg_uop *s1, tg_uop *s2) {
  tg_uop *r = tg_uop_new(op, TG_DT_AUTO, (tg_uop *[]){x, s1, s2}, s2 ? 3 : 2, tg_arg_none());
  tg_uop_release(s1), tg_uop_release(s2);
  return r;
}

/* PERMUTE / FLIP: the arg is a tuple of ints or of bools. */
static tg_uop *int_arg_op(tg_op op, tg_uop *x, size_t n, const int64_t *v, int as_bool) {
  tg_arg a;
  if (tg_arg_ints(v, (uint32_t)n, as_bool, &a) != TG_OK) return NULL;
  tg_uop *r = with_arg(op, TG_DT_AUTO, x, a);
  tg_arg_free(&a);
  return r;
}

/* UOp.param(slot, dtype, shape): PARAM(shape_arg, ParamArg(slot, dtype)). */
static tg_uop *param(int64_t slot, int dt, tg_uop *shape) {
  tg_arg items[3] = {tg_arg_str("ParamArg"), tg_arg_int(slot), tg_arg_dtype(dt)};
  tg_uop *r = tg_uop_new(TG_OP_PARAM, TG_DT_AUTO, (tg_uop *[]){shape}, 1, tg_arg_tuple(items, 3));
  tg_uop_release(shape);
  return r;
}

/* UOp.variable(name, lo, hi): BUFFER(STACK(), ParamArg(-1, weakint, vmin_vmax=(lo, hi), multiple_of=1, name=name,
** addrspace=AddrSpace.ALU)). */
static tg_uop *variable(const char *name, int64_t lo, int64_t hi) {
  tg_arg vv[2] = {tg_arg_int(lo), tg_arg_int(hi)}, alu = {0};
  alu.kind = TG_ARG_ENUM, alu.i = 4, alu.s = "AddrSpace.ALU";
  tg_arg items[7] = {tg_arg_str("ParamArg"), tg_arg_int(-1), tg_arg_dtype(TG_WEAKINT), tg_arg_tuple(vv, 2),
                     tg_arg_int(1), tg_arg_str(name), alu};
  tg_uop *empty = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, NULL, 0, tg_arg_none());
  tg_uop *r = tg_uop_new(TG_OP_BUFFER, TG_DT_AUTO, (tg_uop *[]){empty}, 1, tg_arg_tuple(items, 7));
  tg_uop_release(empty);
  return r;
}

/* UOp.range(end, axis_id, axis_type): RANGE(CONST end, arg=(axis_id, axis_type)). */
static tg_uop *range_t(int64_t end, int64_t axis, const char *type, int64_t type_value) {
  tg_arg at = {0};
  at.kind = TG_ARG_ENUM, at.i = type_value, at.s = type;
  tg_arg items[2] = {tg_arg_int(axis), at};
  tg_uop *e = ci(TG_WEAKINT, end);
  tg_uop *r = tg_uop_new(TG_OP_RANGE, TG_DT_AUTO, (tg_uop *[]){e}, 1, tg_arg_tuple(items, 2));
  tg_uop_release(e);
  return r;
}
static tg_uop *range(int64_t end, int64_t axis) { return range_t(end, axis, "AxisType.WEAK", 5); }

static tg_uop *reduce(tg_uop *x, tg_op op, int64_t n) {
  tg_arg items[2] = {tg_arg_op(op), tg_arg_int(n)};
  return with_arg(TG_OP_REDUCE, TG_DT_AUTO, x, tg_arg_tuple(items, 2));
}

/* Releases a NULL-terminated list, then returns r: lets a case build, keep the result and drop its parts. */
static tg_uop *keep(tg_uop *r, tg_uop **parts) {
  for (; *parts; parts++) tg_uop_release(*parts);
  return r;
}
#define KEEP(r, ...) keep((r), (tg_uop *[]){__VA_ARGS__, NULL})

/* ---------------- the cases (same names and graphs as tests/uop_parity.py) ---------------- */

static tg_uop *c_alu_shared(void) {
  tg_uop *a = cf(TG_FLOAT32, 1.0), *s = bin(TG_OP_ADD, a, a);
  return KEEP(bin(TG_OP_MUL, s, s), a, s);
}
static tg_uop *c_alu_tree(void) {
  tg_uop *a = cf(TG_FLOAT32, 1.0), *b = cf(TG_FLOAT32, 2.0), *s = bin(TG_OP_ADD, a, b), *t = bin(TG_OP_MUL, s, b);
  tg_uop *u = bin(TG_OP_SUB, t, s);
  return KEEP(bin(TG_OP_MAX, u, t), a, b, s, t, u);
}
static tg_uop *c_alu_promote(void) { /* int32 + weakint stays int32; float16 * weakfloat stays half */
  tg_uop *a = ci(TG_INT32, 3), *w = ci(TG_WEAKINT, 4), *h = cf(TG_FLOAT16, 1.5), *wf = cf(TG_WEAKFLOAT, 2.0);
  tg_uop *s = bin(TG_OP_ADD, a, w), *m = bin(TG_OP_MUL, h, wf);
  tg_uop *c = with_arg(TG_OP_CAST, TG_DT_AUTO, s, tg_arg_dtype(TG_FLOAT16));
  return KEEP(bin(TG_OP_ADD, c, m), a, w, h, wf, s, m, c);
}
static tg_uop *c_where(void) {
  tg_uop *a = ci(TG_INT32, 1), *b = ci(TG_INT32, 2), *lt = bin(TG_OP_CMPLT, a, b);
  return KEEP(tern(TG_OP_WHERE, lt, a, b), a, b, lt);
}
static tg_uop *c_unary_float(void) { /* least_upper_float: sqrt of an int is the default float */
  tg_uop *a = ci(TG_INT32, 4), *s = un(TG_OP_SQRT, a);
  return KEEP(un(TG_OP_NEG, s), a, s);
}
static tg_uop *c_cast_bitcast(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(4)), *c = with_arg(TG_OP_CAST, TG_DT_AUTO, p, tg_arg_dtype(TG_INT32));
  return KEEP(with_arg(TG_OP_BITCAST, TG_DT_AUTO, c, tg_arg_dtype(TG_UINT8)), p, c);
}
static tg_uop *c_bitcast_half(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 4));
  return KEEP(with_arg(TG_OP_BITCAST, TG_DT_AUTO, p, tg_arg_dtype(TG_FLOAT16)), p);
}
static tg_uop *c_mov_chain(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(6)), *r = mop(TG_OP_RESHAPE, p, SARG(2, 3), NULL);
  tg_uop *pe = int_arg_op(TG_OP_PERMUTE, r, 2, (int64_t[]){1, 0}, 0), *pd = mop(TG_OP_PAD, pe, SARG(1, 0), SARG(5, 2));
  tg_uop *sh = mop(TG_OP_SHRINK, pd, SARG(1, 0), SARG(3, 1)), *fl = int_arg_op(TG_OP_FLIP, sh, 2, (int64_t[]){1, 0}, 1);
  return KEEP(mop(TG_OP_EXPAND, fl, SARG(4), NULL), p, r, pe, pd, sh, fl);
}
static tg_uop *c_mov_bad_reshape(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(mop(TG_OP_RESHAPE, p, SARG(4), NULL), p);
}
static tg_uop *c_mov_neg_reshape(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(mop(TG_OP_RESHAPE, p, SARG(-1, -6), NULL), p);
}
static tg_uop *c_mov_bad_permute(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(int_arg_op(TG_OP_PERMUTE, p, 2, (int64_t[]){0, 0}, 0), p);
}
static tg_uop *c_mov_bad_pad(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(mop(TG_OP_PAD, p, SARG(0, 1), SARG(2, 3)), p);
}
static tg_uop *c_mov_bad_shrink(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(4));
  return KEEP(mop(TG_OP_SHRINK, p, SARG(2), SARG(3)), p);
}
static tg_uop *c_mov_bad_flip(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(int_arg_op(TG_OP_FLIP, p, 2, (int64_t[]){1, 0}, 0 /* ints, not bools */), p);
}
static tg_uop *c_mov_no_shape(void) {
  tg_uop *a = cf(TG_FLOAT32, 1.0), *s = tg_uop_new(TG_OP_SINK, TG_DT_AUTO, (tg_uop *[]){a}, 1, tg_arg_none());
  return KEEP(mop(TG_OP_RESHAPE, s, SARG(1), NULL), a, s);
}
static tg_uop *c_reduce(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3, 4)), *r = reduce(p, TG_OP_ADD, 2);
  return KEEP(reduce(r, TG_OP_MAX, 0), p, r);
}
static tg_uop *c_reduce_bad(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(reduce(p, TG_OP_ADD, 3), p);
}
static tg_uop *c_broadcast(void) {
  tg_uop *a = param(0, TG_FLOAT32, SARG(2, 3)), *b = param(1, TG_FLOAT32, SARG(3)), *c = cf(TG_FLOAT32, 2.0);
  tg_uop *s = bin(TG_OP_ADD, a, b);
  return KEEP(bin(TG_OP_MUL, s, c), a, b, c, s);
}
static tg_uop *c_broadcast_bad(void) {
  tg_uop *a = param(0, TG_FLOAT32, SARG(2, 3)), *b = param(1, TG_FLOAT32, SARG(4));
  return KEEP(bin(TG_OP_ADD, a, b), a, b);
}
static tg_uop *c_index(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3)), *r = range(2, 0);
  return KEEP(tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){p, r}, 2, tg_arg_none()), p, r);
}
static tg_uop *c_stack(void) {
  tg_uop *a = ci(TG_INT32, 1), *b = ci(TG_WEAKINT, 2), *c = ci(TG_INT32, 3);
  return KEEP(tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){a, b, c, a}, 4, tg_arg_none()), a, b, c);
}
static tg_uop *c_sink(void) {
  tg_uop *a = cf(TG_FLOAT32, 1.0), *b = ci(TG_INT32, 1);
  return KEEP(tg_uop_new(TG_OP_SINK, TG_DT_AUTO, (tg_uop *[]){a, b}, 2, tg_arg_none()), a, b);
}
static tg_uop *c_tags(void) {
  tg_uop *a = tg_uop_new_tagged(TG_OP_CONST, TG_FLOAT32, NULL, 0, tg_arg_float(1.0), tg_arg_int(1));
  tg_uop *b = tg_uop_new_tagged(TG_OP_CONST, TG_FLOAT32, NULL, 0, tg_arg_float(2.0), tg_arg_str("hello"));
  tg_arg t[2] = {tg_arg_int(1), tg_arg_str("x")};
  return KEEP(tg_uop_new_tagged(TG_OP_ADD, TG_DT_AUTO, (tg_uop *[]){a, b}, 2, tg_arg_none(), tg_arg_tuple(t, 2)), a, b);
}
static tg_uop *c_custom_str(void) {
  tg_uop *a = ci(TG_INT32, 1);
  return KEEP(with_arg(TG_OP_CUSTOM, TG_INT32, a, tg_arg_str("it's {0}\n")), a);
}
static tg_uop *c_binary_bytes(void) {
  tg_arg b = {0};
  b.kind = TG_ARG_BYTES, b.s = "\x00" "ab'\"\xff", b.n = 6;
  return tg_uop_new(TG_OP_BINARY, TG_DT_AUTO, NULL, 0, b);
}
static tg_uop *c_variable(void) { return variable("x", 0, 10); }
static tg_uop *c_consts_float(void) {
  static const double v[] = {1.0, -0.0, 0.0, NAN, INFINITY, -INFINITY, 0.1, 1e-7, 1e16, 1e15, 123456.789, 1e-5, 0.0001,
                             1.0 / 3, 5e-324, 1.7976931348623157e308};
  tg_uop *c[16];
  for (int i = 0; i < 16; i++) c[i] = cf(TG_FLOAT64, v[i]);
  tg_uop *r = tg_uop_new(TG_OP_SINK, TG_DT_AUTO, c, 16, tg_arg_none());
  for (int i = 0; i < 16; i++) tg_uop_release(c[i]);
  return r;
}
static tg_uop *c_consts_dtypes(void) { /* DType.const truncation for every float dtype, ints kept as given */
  static const int fd[] = {TG_FLOAT16, TG_BFLOAT16, TG_FLOAT32, TG_FP8E4M3, TG_FP8E5M2, TG_FP8E4M3FNUZ, TG_FP8E5M2FNUZ,
                           TG_WEAKFLOAT};
  tg_uop *c[32];
  size_t n = 0;
  for (int i = 0; i < 8; i++) c[n++] = cf(fd[i], 0.1), c[n++] = cf(fd[i], 1e20), c[n++] = cf(fd[i], -0.0);
  c[n++] = ci(TG_INT8, -5), c[n++] = ci(TG_UINT8, 300), c[n++] = ci(TG_INT64, INT64_MIN), c[n++] = ci(TG_UINT32, 7);
  c[n++] = cf(TG_INT16, -2.7), c[n++] = ci(TG_BOOL, 2), c[n++] = tg_uop_const_invalid(), c[n++] = ci(TG_WEAKINT, 3);
  tg_uop *r = tg_uop_new(TG_OP_SINK, TG_DT_AUTO, c, n, tg_arg_none());
  for (size_t i = 0; i < n; i++) tg_uop_release(c[i]);
  return r;
}
static tg_uop *c_negzero_distinct(void) {
  tg_uop *a = cf(TG_FLOAT32, -0.0), *b = cf(TG_FLOAT32, 0.0), *n1 = cf(TG_FLOAT32, NAN), *n2 = cf(TG_FLOAT32, -NAN);
  tg_uop *s = bin(TG_OP_ADD, a, b), *t = bin(TG_OP_ADD, n1, n2);
  return KEEP(bin(TG_OP_MUL, s, t), a, b, n1, n2, s, t);
}
static tg_uop *c_bounds_range(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, 4), *t = ci(TG_WEAKINT, 3), *m = bin(TG_OP_MUL, r, f);
  return KEEP(bin(TG_OP_ADD, m, t), r, f, t, m);
}
static tg_uop *c_bounds_mod(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, 4);
  return KEEP(bin(TG_OP_FLOORMOD, r, f), r, f);
}
static tg_uop *c_bounds_div(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, -3);
  return KEEP(bin(TG_OP_FLOORDIV, r, f), r, f);
}
static tg_uop *c_bounds_cmod(void) {
  tg_uop *r = range(10, 0), *o = ci(TG_WEAKINT, -5), *s = bin(TG_OP_ADD, r, o), *f = ci(TG_WEAKINT, 3);
  return KEEP(bin(TG_OP_CMOD, s, f), r, o, s, f);
}
static tg_uop *c_bounds_cmplt(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, 20);
  return KEEP(bin(TG_OP_CMPLT, r, f), r, f);
}
static tg_uop *c_bounds_cmpne(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, 3);
  return KEEP(bin(TG_OP_CMPNE, r, f), r, f);
}
static tg_uop *c_bounds_cast(void) {
  tg_uop *r = range(300, 0), *c = with_arg(TG_OP_CAST, TG_DT_AUTO, r, tg_arg_dtype(TG_INT8));
  return KEEP(with_arg(TG_OP_CAST, TG_DT_AUTO, c, tg_arg_dtype(TG_UINT8)), r, c);
}
static tg_uop *c_bounds_cast_float(void) {
  tg_uop *r = range(7, 0);
  return KEEP(with_arg(TG_OP_CAST, TG_DT_AUTO, r, tg_arg_dtype(TG_FLOAT16)), r);
}
static tg_uop *c_bounds_variable(void) {
  tg_uop *v = variable("n", 1, 8), *f = ci(TG_WEAKINT, 2), *s = bin(TG_OP_SHL, v, f), *m = ci(TG_WEAKINT, 5);
  return KEEP(bin(TG_OP_MAX, s, m), v, f, s, m);
}
static tg_uop *c_bounds_where(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, 5), *lt = bin(TG_OP_CMPLT, r, f), *n = ci(TG_WEAKINT, -1);
  return KEEP(tern(TG_OP_WHERE, lt, r, n), r, f, lt, n);
}
static tg_uop *c_bounds_int32(void) { /* no rule: the dtype's range */
  tg_uop *a = ci(TG_INT32, 3), *b = un(TG_OP_TRUNC, a);
  return KEEP(with_arg(TG_OP_CAST, TG_DT_AUTO, b, tg_arg_dtype(TG_INT32)), a, b);
}
/* A (n, 3) PARAM, n a variable in [1, 8]: symbolic dims print as the UOp they are. */
static tg_uop *sym_param(int64_t slot) {
  tg_uop *v = variable("n", 1, 8), *three = ci(TG_WEAKINT, 3);
  tg_uop *st = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){v, three}, 2, tg_arg_none());
  return KEEP(param(slot, TG_FLOAT32, st), v, three);
}
static tg_uop *c_sym_param(void) { return sym_param(0); }
static tg_uop *c_sym_reshape(void) {
  tg_uop *p = sym_param(0), *v = variable("n", 1, 8), *three = ci(TG_WEAKINT, 3);
  tg_uop *st = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){three, v}, 2, tg_arg_none());
  return KEEP(mop(TG_OP_RESHAPE, p, st, NULL), p, v, three);
}
static tg_uop *c_sym_broadcast(void) {
  tg_uop *p = sym_param(0), *q = param(1, TG_FLOAT32, SARG(3));
  return KEEP(bin(TG_OP_ADD, p, q), p, q);
}
static tg_uop *c_sym_shrink(void) {
  tg_uop *p = sym_param(0), *v = variable("n", 1, 8), *two = ci(TG_WEAKINT, 2);
  tg_uop *st = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){v, two}, 2, tg_arg_none());
  return KEEP(mop(TG_OP_SHRINK, p, SARG(0, 1), st), p, v, two);
}
static tg_uop *c_bounds_and_bool(void) {
  tg_uop *r = range(10, 0), *f = ci(TG_WEAKINT, 5), *a = bin(TG_OP_CMPLT, r, f), *t = tg_uop_const_bool(1);
  return KEEP(bin(TG_OP_AND, a, t), r, f, a, t);
}

static tg_uop *c_misc_stage(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(3)), *r0 = range(4, 0), *r1 = range(5, 1);
  return KEEP(tg_uop_new(TG_OP_STAGE, TG_DT_AUTO, (tg_uop *[]){p, r0, r1}, 3, tg_arg_none()), p, r0, r1);
}
static tg_uop *c_misc_wmma(void) {
  tg_uop *a = param(0, TG_FLOAT16, SARG(2, 8)), *b = param(1, TG_FLOAT16, SARG(1, 8)), *c = param(2, TG_FLOAT32, SARG(2, 4));
  tg_arg dims[3] = {tg_arg_int(8), tg_arg_int(16), tg_arg_int(16)};
  tg_arg arg[5] = {tg_arg_tuple(dims, 3), tg_arg_dtype(TG_FLOAT16), tg_arg_str("CUDA"), tg_arg_int(32), tg_arg_none()};
  return KEEP(tg_uop_new(TG_OP_WMMA, TG_DT_AUTO, (tg_uop *[]){a, b, c}, 3, tg_arg_tuple(arg, 5)), a, b, c);
}
static tg_uop *c_misc_unshard(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3)), *r = range_t(4, -1, "AxisType.DEVICE", 1);
  tg_arg axes[1] = {tg_arg_int(0)};
  return KEEP(tg_uop_new(TG_OP_UNSHARD, TG_DT_AUTO, (tg_uop *[]){p, r}, 2, tg_arg_tuple(axes, 1)), p, r);
}
static tg_uop *c_misc_gettuple(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3)), *c = ci(TG_INT32, 1);
  tg_uop *t = tg_uop_new(TG_OP_TUPLE, TG_DT_AUTO, (tg_uop *[]){p, c}, 2, tg_arg_none());
  return KEEP(with_arg(TG_OP_GETTUPLE, TG_DT_AUTO, t, tg_arg_int(1)), p, c, t);
}
static tg_uop *c_misc_custom(void) {
  tg_uop *a = param(0, TG_FLOAT32, SARG(2, 3)), *b = param(1, TG_FLOAT32, SARG(3));
  return KEEP(tg_uop_new(TG_OP_CUSTOMI, TG_INT32, (tg_uop *[]){a, b}, 2, tg_arg_str("{0}+{1}")), a, b);
}
static tg_uop *c_misc_custom_void(void) {
  tg_uop *a = param(0, TG_FLOAT32, SARG(2, 3));
  return KEEP(with_arg(TG_OP_CUSTOM, TG_DT_AUTO, a, tg_arg_str("x")), a);
}
static tg_uop *c_misc_index2(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3)), *r0 = range(2, 0), *r1 = range(3, 1);
  return KEEP(tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){p, r0, r1}, 3, tg_arg_none()), p, r0, r1);
}
static tg_uop *c_misc_bitcast_grow(void) {
  tg_uop *p = param(0, TG_FLOAT16, SARG(2, 4));
  return KEEP(with_arg(TG_OP_BITCAST, TG_DT_AUTO, p, tg_arg_dtype(TG_INT32)), p);
}
static tg_uop *c_misc_stack_shaped(void) {
  tg_uop *a = param(0, TG_FLOAT32, SARG(3)), *b = param(1, TG_FLOAT32, SARG(3));
  return KEEP(tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){a, b}, 2, tg_arg_none()), a, b);
}
static tg_uop *c_misc_copy(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2, 3)), *c = with_arg(TG_OP_CONTIGUOUS, TG_DT_AUTO, p, tg_arg_none());
  return KEEP(with_arg(TG_OP_COPY, TG_DT_AUTO, c, tg_arg_str("CPU")), p, c);
}
static tg_uop *c_misc_call(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2)), *s = with_arg(TG_OP_SINK, TG_DT_AUTO, p, tg_arg_none());
  return KEEP(with_arg(TG_OP_CALL, TG_DT_AUTO, s, tg_arg_none()), p, s);
}
static tg_uop *c_misc_reduce_tuple1(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2));
  tg_arg a[1] = {tg_arg_op(TG_OP_MAX)};
  return KEEP(with_arg(TG_OP_REDUCE, TG_DT_AUTO, p, tg_arg_tuple(a, 1)), p);
}
static tg_uop *c_misc_detach_load(void) {
  tg_uop *p = param(0, TG_FLOAT32, SARG(2)), *d = with_arg(TG_OP_DETACH, TG_DT_AUTO, p, tg_arg_none());
  return KEEP(with_arg(TG_OP_LOAD, TG_DT_AUTO, d, tg_arg_none()), p, d);
}
static tg_uop *c_misc_image_index(void) { /* an INDEX into a (h, w, 4) PARAM is float whatever it stores */
  tg_uop *p = param(0, TG_FLOAT16, SARG(2, 3, 4)), *r = range(2, 0);
  return KEEP(tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){p, r}, 2, tg_arg_none()), p, r);
}

typedef struct uop_case { const char *name; tg_uop *(*build)(void); } uop_case;

/* Sorted by name: the order both sides print in. */
static const uop_case uop_cases[] = {
    {"alu_promote", c_alu_promote},
    {"alu_shared", c_alu_shared},
    {"alu_tree", c_alu_tree},
    {"binary_bytes", c_binary_bytes},
    {"bitcast_half", c_bitcast_half},
    {"bounds_and_bool", c_bounds_and_bool},
    {"bounds_cast", c_bounds_cast},
    {"bounds_cast_float", c_bounds_cast_float},
    {"bounds_cmod", c_bounds_cmod},
    {"bounds_cmplt", c_bounds_cmplt},
    {"bounds_cmpne", c_bounds_cmpne},
    {"bounds_div", c_bounds_div},
    {"bounds_int32", c_bounds_int32},
    {"bounds_mod", c_bounds_mod},
    {"bounds_range", c_bounds_range},
    {"bounds_variable", c_bounds_variable},
    {"bounds_where", c_bounds_where},
    {"broadcast", c_broadcast},
    {"broadcast_bad", c_broadcast_bad},
    {"cast_bitcast", c_cast_bitcast},
    {"consts_dtypes", c_consts_dtypes},
    {"consts_float", c_consts_float},
    {"custom_str", c_custom_str},
    {"index", c_index},
    {"misc_bitcast_grow", c_misc_bitcast_grow},
    {"misc_call", c_misc_call},
    {"misc_copy", c_misc_copy},
    {"misc_custom", c_misc_custom},
    {"misc_custom_void", c_misc_custom_void},
    {"misc_detach_load", c_misc_detach_load},
    {"misc_gettuple", c_misc_gettuple},
    {"misc_image_index", c_misc_image_index},
    {"misc_index2", c_misc_index2},
    {"misc_reduce_tuple1", c_misc_reduce_tuple1},
    {"misc_stack_shaped", c_misc_stack_shaped},
    {"misc_stage", c_misc_stage},
    {"misc_unshard", c_misc_unshard},
    {"misc_wmma", c_misc_wmma},
    {"mov_bad_flip", c_mov_bad_flip},
    {"mov_bad_pad", c_mov_bad_pad},
    {"mov_bad_permute", c_mov_bad_permute},
    {"mov_bad_reshape", c_mov_bad_reshape},
    {"mov_bad_shrink", c_mov_bad_shrink},
    {"mov_chain", c_mov_chain},
    {"mov_neg_reshape", c_mov_neg_reshape},
    {"mov_no_shape", c_mov_no_shape},
    {"negzero_distinct", c_negzero_distinct},
    {"reduce", c_reduce},
    {"reduce_bad", c_reduce_bad},
    {"sink", c_sink},
    {"stack", c_stack},
    {"sym_broadcast", c_sym_broadcast},
    {"sym_param", c_sym_param},
    {"sym_reshape", c_sym_reshape},
    {"sym_shrink", c_sym_shrink},
    {"tags", c_tags},
    {"unary_float", c_unary_float},
    {"variable", c_variable},
    {"where", c_where},
};

/* ---------------- printing ---------------- */

static void print_shape(tg_uop *u) {
  tg_status st;
  const tg_shape *s = tg_uop_shape(u, &st);
  if (st != TG_OK) return (void)printf("--- shape ERR %s\n", tg_last_error());
  if (!s) return (void)printf("--- shape None\n");
  printf("--- shape (");
  for (uint32_t i = 0; i < s->ndim; i++) {
    if (s->dims[i].u) {
      char *t = tg_uop_str(s->dims[i].u);
      printf("%s%s", i ? ", " : "", t);
      free(t);
    } else {
      printf("%s%lld", i ? ", " : "", (long long)s->dims[i].v);
    }
  }
  printf("%s\n", s->ndim == 1 ? ",)" : ")");
}

static int uop_dump(void) {
  int failed = 0;
  for (size_t i = 0; i < sizeof uop_cases / sizeof uop_cases[0]; i++) {
    printf("=== %s\n", uop_cases[i].name);
    tg_uop *u = uop_cases[i].build();
    if (!u) {
      printf("BUILD ERR %s\n", tg_last_error());
      failed = 1;
      continue;
    }
    char *s = tg_uop_str(u);
    printf("%s\n--- dtype dtypes.%s\n", s, tg_dtype_repr_name(u->dtype));
    free(s);
    print_shape(u);
    size_t n = 0;
    tg_uop **order = tg_uop_toposort(u, &n);
    printf("--- toposort");
    for (size_t k = 0; k < n; k++) printf(" %s", tg_op_name((tg_op)order[k]->op));
    printf("\n");
    free(order);
    if (!strncmp(uop_cases[i].name, "bounds_", 7)) {
      char b[256];
      tg_uop_bounds_repr(u, b, sizeof b);
      printf("--- bounds %s\n", b);
    }
    tg_uop_release(u);
  }
  return failed;
}

/* ---------------- `--bounds`: graphs from stdin, vmin/vmax of every node out ----------------
** One node a line, sources before users, a blank line ending a graph:
**   <OP> <dtype name as repr'd> <arg> <source indices...>
** arg: "-" None, "i<int>", "b<0|1>", "d<dtype>" a DType, "r<axis>" (axis, AxisType.WEAK),
**      "v<lo>,<hi>" a Variable's ParamArg(-1, dtype, vmin_vmax=(lo, hi), multiple_of=1, name='v', addrspace=ALU).
** Prints "vmin vmax" for each node, a blank line after each graph. */

static int lookup_name(const char *s, int is_op) {
  for (int i = 0; i < (is_op ? TG_OP_COUNT : TG_DT_IDS); i++)
    if (!strcmp(s, is_op ? tg_op_name((tg_op)i) : tg_dtype_repr_name(i))) return i;
  return -1;
}

static tg_uop *parse_node(char *line, tg_uop **nodes, size_t n) {
  char *op_s = strtok(line, " \n"), *dt_s = strtok(NULL, " \n"), *arg_s = strtok(NULL, " \n");
  if (!op_s || !dt_s || !arg_s) return NULL;
  int op = lookup_name(op_s, 1), dt = lookup_name(dt_s, 0);
  tg_uop *src[8];
  size_t ns = 0;
  for (char *t; (t = strtok(NULL, " \n")) && ns < 8;) {
    size_t k = strtoul(t, NULL, 10);
    if (k >= n) return NULL;
    src[ns++] = nodes[k];
  }
  if (op < 0 || dt < 0) return NULL;
  tg_arg arg = tg_arg_none(), at = {0}, items[7], vv[2];
  switch (arg_s[0]) {
  case 'i': arg = tg_arg_int(strtoll(arg_s + 1, NULL, 10)); break;
  case 'b': arg = tg_arg_bool(arg_s[1] == '1'); break;
  case 'd': arg = tg_arg_dtype(lookup_name(arg_s + 1, 0)); break;
  case 'r':
    at.kind = TG_ARG_ENUM, at.i = 5, at.s = "AxisType.WEAK";
    items[0] = tg_arg_int(strtoll(arg_s + 1, NULL, 10)), items[1] = at;
    arg = tg_arg_tuple(items, 2);
    break;
  case 'v':
    at.kind = TG_ARG_ENUM, at.i = 4, at.s = "AddrSpace.ALU";
    vv[0] = tg_arg_int(strtoll(arg_s + 1, NULL, 10)), vv[1] = tg_arg_int(strtoll(strchr(arg_s, ',') + 1, NULL, 10));
    items[0] = tg_arg_str("ParamArg"), items[1] = tg_arg_int(-1), items[2] = tg_arg_dtype(dt);
    items[3] = tg_arg_tuple(vv, 2);
    items[4] = tg_arg_int(1), items[5] = tg_arg_str("v"), items[6] = at;
    arg = tg_arg_tuple(items, 7);
    break;
  }
  return tg_uop_new((tg_op)op, dt, src, ns, arg);
}

static int bounds_dump(void) {
  static char line[512];
  tg_uop *nodes[256];
  size_t n = 0;
  int failed = 0;
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == '\n') {
      for (size_t i = 0; i < n; i++) {
        char b[256];
        tg_uop_bounds_repr(nodes[i], b, sizeof b);
        puts(b);
        tg_uop_release(nodes[i]);
      }
      puts("");
      n = 0;
      continue;
    }
    tg_uop *u = n < 256 ? parse_node(line, nodes, n) : NULL;
    if (!u) {
      fprintf(stderr, "bad node line (%s): %s", tg_last_error(), line);
      failed = 1;
      continue;
    }
    nodes[n++] = u;
  }
  for (size_t i = 0; i < n; i++) tg_uop_release(nodes[i]);
  return failed;
}
