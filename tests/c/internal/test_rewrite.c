/* test_rewrite.c -- uop/rewrite.c (UPat matching, PatternMatcher, graph_rewrite), uop/alu.c (python_alu) and the
** symbolic rules (uop/symbolic.rules): specific rewrites, tinygrad's traversal orders, and a randomized semantic check
** that simplification never changes what an integer expression evaluates to. Every case ends with the live UOp count
** back at its baseline. tests/symbolic_parity.py compares the same machinery with tinygrad 0.14.0 itself. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dtype.h"
#include "uop/alu.h"
#include "uop/rewrite.h"
#include "uop/symbolic.h"

#define OPSET1(op) {{(op) < 64 ? 1ull << ((op) & 63) : 0, (op) >= 64 ? 1ull << ((op) & 63) : 0}}

/* ---------------- building blocks ---------------- */

static tg_uop *ci(int64_t v) { return tg_uop_const_int(TG_WEAKINT, v); }
static tg_uop *ct(int dt, int64_t v) { return tg_uop_const_int(dt, v); }
static tg_uop *rng(int64_t axis, int64_t end) {
  tg_arg items[2] = {tg_arg_int(axis), {.kind = TG_ARG_ENUM, .i = 5, .s = "AxisType.WEAK"}};
  tg_uop *e = ci(end), *r = tg_uop_new(TG_OP_RANGE, TG_DT_AUTO, &e, 1, tg_arg_tuple(items, 2));
  tg_uop_release(e);
  return r;
}
/* binary op with promotion; consumes both references (so expressions nest without temporaries) */
static tg_uop *bin(tg_op op, tg_uop *a, tg_uop *b) {
  tg_uop *r = NULL;
  if (a && b) {
    if (op == TG_OP_SUB) r = tg_um_sub(a, b);
    else if (op == TG_OP_FLOORDIV) r = tg_um_floordiv(a, b);
    else if (op == TG_OP_FLOORMOD) r = tg_um_mod(a, b);
    else r = tg_um_binop(op, a, b);
  }
  tg_uop_release(a);
  tg_uop_release(b);
  return r;
}
static tg_uop *alu2(tg_op op, tg_uop *a, tg_uop *b) { /* raw alu, no promotion; consumes */
  tg_uop *r = a && b ? tg_uop_alu(op, 2, (tg_uop *[]){a, b}) : NULL;
  tg_uop_release(a);
  tg_uop_release(b);
  return r;
}
static tg_uop *where(tg_uop *c, tg_uop *x, tg_uop *y) {
  tg_uop *r = c && x && y ? tg_um_where(c, x, y) : NULL;
  tg_uop_release(c);
  tg_uop_release(x);
  tg_uop_release(y);
  return r;
}
static tg_uop *R(tg_uop *u) { return tg_uop_retain(u); }

static size_t node_count(tg_uop *u) {
  size_t n = 0;
  tg_uop **t = tg_uop_toposort(u, &n);
  free(t);
  return n;
}

/* ---------------- matcher modes ---------------- */

static const tg_upat p_x = {.slot = 0}, p_x1 = {.slot = 1};
static const tg_upat p_c1 = {.ops = OPSET1(TG_OP_CONST), .has_ops = 1, .slot = 1};
static const tg_upat *const p_xc[] = {&p_x, &p_c1}, *const p_xx[] = {&p_x, &p_x}, *const p_xy[] = {&p_x, &p_x1};
static const tg_upat p_add_perm = {.ops = OPSET1(TG_OP_ADD), .has_ops = 1, .mode = TG_UPAT_SRC_PERM, .src = p_xc, .nsrc = 2, .slot = -1};
static const tg_upat p_add_tuple = {.ops = OPSET1(TG_OP_ADD), .has_ops = 1, .mode = TG_UPAT_SRC_TUPLE, .src = p_xc, .nsrc = 2, .slot = -1};
static const tg_upat p_add_xx = {.ops = OPSET1(TG_OP_ADD), .has_ops = 1, .mode = TG_UPAT_SRC_TUPLE, .src = p_xx, .nsrc = 2, .slot = -1};
static const tg_upat p_const_any = {.ops = OPSET1(TG_OP_CONST), .has_ops = 1, .slot = -1};
static const tg_upat *const p_rep[] = {&p_const_any};
static const tg_upat p_stack_rep = {.ops = OPSET1(TG_OP_STACK), .has_ops = 1, .mode = TG_UPAT_SRC_REPEAT, .src = p_rep, .nsrc = 1, .slot = -1};
static const tg_upat p_idx_any = {.ops = OPSET1(TG_OP_INDEX), .has_ops = 1, .mode = TG_UPAT_SRC_TUPLE, .src = p_xy, .nsrc = 2, .allow_any_len = 1, .slot = -1};
static const tg_upat p_idx_exact = {.ops = OPSET1(TG_OP_INDEX), .has_ops = 1, .mode = TG_UPAT_SRC_TUPLE, .src = p_xy, .nsrc = 2, .slot = -1};
static const tg_arg a_zero = {.kind = TG_ARG_INT, .i = 0}, a_one = {.kind = TG_ARG_INT, .i = 1};
static const tg_upat p_zero = {.ops = OPSET1(TG_OP_CONST), .has_ops = 1, .arg = &a_zero, .slot = 0};
static const tg_upat p_one = {.ops = OPSET1(TG_OP_CONST), .has_ops = 1, .arg = &a_one, .slot = 0};
static const tg_upat p_range = {.ops = OPSET1(TG_OP_RANGE), .has_ops = 1, .slot = 0};
static const tg_upat p_const0 = {.ops = OPSET1(TG_OP_CONST), .has_ops = 1, .slot = 0};
static const tg_upat *const p_alts[] = {&p_range, &p_const0};
static const tg_upat p_any = {.mode = TG_UPAT_ANY, .src = p_alts, .nsrc = 2};
static const tg_upat p_int32 = {.dtypes = 1ull << TG_INT32, .has_dtypes = 1, .slot = 0};

typedef struct seen { tg_uop *b[4][2]; size_t n; } seen;
static int record(tg_uop *const *b, void *user) {
  seen *s = user;
  if (s->n < 4) s->b[s->n][0] = b[0], s->b[s->n][1] = b[1];
  s->n++;
  return 0;
}

static void test_matcher(void) {
  tg_uop *r = rng(0, 10), *r2 = rng(1, 5), *c3 = ci(3), *c4 = ci(4);
  tg_uop *rc = alu2(TG_OP_ADD, R(r), R(c3)), *cr = alu2(TG_OP_ADD, R(c3), R(r)), *cc = alu2(TG_OP_ADD, R(c3), R(c4));
  seen s = {0};
  /* a source list tries every permutation, in itertools order */
  CHECK(tg_upat_each_match(&p_add_perm, rc, record, &s) == 1 && s.b[0][0] == r && s.b[0][1] == c3);
  s.n = 0;
  CHECK(tg_upat_each_match(&p_add_perm, cr, record, &s) == 1 && s.b[0][0] == r && s.b[0][1] == c3);
  s.n = 0;
  CHECK(tg_upat_each_match(&p_add_perm, cc, record, &s) == 2 && s.b[0][0] == c3 && s.b[0][1] == c4 && s.b[1][0] == c4 && s.b[1][1] == c3);
  s.n = 0;
  CHECK(tg_upat_each_match(&p_add_tuple, cr, record, &s) == 0); /* a tuple does not */
  /* a name bound twice must bind the same UOp */
  tg_uop *rr = alu2(TG_OP_ADD, R(r), R(r)), *rr2 = alu2(TG_OP_ADD, R(r), R(r2));
  CHECK(tg_upat_each_match(&p_add_xx, rr, record, &s) == 1);
  CHECK(tg_upat_each_match(&p_add_xx, rr2, record, &s) == 0);
  /* a repeated source pattern applies to every source */
  tg_uop *st = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){c3, c4, c3}, 3, tg_arg_none());
  tg_uop *st_bad = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, (tg_uop *[]){c3, r}, 2, tg_arg_none());
  CHECK(tg_upat_each_match(&p_stack_rep, st, record, &s) == 1);
  CHECK(tg_upat_each_match(&p_stack_rep, st_bad, record, &s) == 0);
  /* allow_any_len: extra sources are fine, a strict length is not */
  tg_uop *idx3 = tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){r, r2, c3}, 3, tg_arg_none());
  CHECK(idx3 && tg_upat_each_match(&p_idx_any, idx3, record, &s) == 1);
  CHECK(idx3 && tg_upat_each_match(&p_idx_exact, idx3, record, &s) == 0);
  /* args compare like Python: 0 == 0.0 == False, 1 == True */
  tg_uop *f0 = tg_uop_const_float(TG_FLOAT32, 0.0), *fm0 = tg_uop_const_float(TG_FLOAT32, -0.0), *bf = tg_uop_const_bool(0), *bt = tg_uop_const_bool(1);
  CHECK(tg_upat_each_match(&p_zero, f0, record, &s) == 1 && tg_upat_each_match(&p_zero, fm0, record, &s) == 1);
  CHECK(tg_upat_each_match(&p_zero, bf, record, &s) == 1 && tg_upat_each_match(&p_zero, bt, record, &s) == 0);
  CHECK(tg_upat_each_match(&p_one, bt, record, &s) == 1 && tg_upat_each_match(&p_one, c3, record, &s) == 0);
  /* UPat.any: alternatives in order; dtype sets */
  CHECK(tg_upat_each_match(&p_any, r, record, &s) == 1 && tg_upat_each_match(&p_any, c3, record, &s) == 1);
  CHECK(tg_upat_each_match(&p_any, rc, record, &s) == 0);
  tg_uop *i32 = ct(TG_INT32, 7);
  CHECK(tg_upat_each_match(&p_int32, i32, record, &s) == 1 && tg_upat_each_match(&p_int32, c3, record, &s) == 0);
  tg_uop *all[] = {r, r2, c3, c4, rc, cr, cc, rr, rr2, st, st_bad, idx3, f0, fm0, bf, bt, i32};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tg_uop_release(all[i]);
}

/* ---------------- PatternMatcher ---------------- */

static int calls;
static tg_uop *second_match_only(tg_rw *rw, tg_uop *const *b, tg_uop *root) { /* declines the first match */
  (void)rw, (void)root;
  return ++calls == 2 ? tg_uop_retain(b[0]) : NULL;
}
static tg_uop *return_root(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)rw, (void)b; calls++; return tg_uop_retain(root); }
static tg_uop *return_42(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)rw, (void)b, (void)root; return ci(42); }

static void test_pattern_matcher(void) {
  tg_uop *c3 = ci(3), *c4 = ci(4), *cc = alu2(TG_OP_ADD, R(c3), R(c4)), *empty = tg_uop_new(TG_OP_STACK, TG_DT_VOID, NULL, 0, tg_arg_none());
  tg_rw rw = {0};
  /* universal_match: the rule function is tried on every match until one answers */
  calls = 0;
  tg_uop *r = tg_upat_apply(&p_add_perm, cc, second_match_only, &rw);
  CHECK(calls == 2 && r == c4);
  tg_uop_release(r);
  /* a rule answering with the node itself is no rewrite: the next rule runs */
  const tg_rule rules[] = {{&p_add_perm, return_root, "self"}, {&p_add_tuple, return_42, "42"}};
  tg_pm *pm = tg_pm_new(rules, 2);
  calls = 0;
  r = tg_pm_rewrite(pm, cc, &rw);
  CHECK(pm && calls == 1 && r && r->op == TG_OP_CONST && r->arg.i == 42);
  tg_uop_release(r);
  /* early reject: STACK(*CONST) matches an empty STACK, but tinygrad's pdict rejects it first */
  const tg_rule srule = {&p_stack_rep, return_42, "stack"};
  tg_pm *spm = tg_pm_new(&srule, 1);
  CHECK(tg_upat_each_match(&p_stack_rep, empty, record, &(seen){0}) == 1);
  CHECK(spm && tg_pm_rewrite(spm, empty, &rw) == NULL);
  /* concatenation keeps order */
  tg_pm *cat = tg_pm_cat(spm, pm);
  CHECK(cat && tg_pm_size(cat) == 3);
  /* a pattern with no op cannot head a rule */
  const tg_rule bad = {&p_x, return_42, "bad"};
  CHECK(tg_pm_new(&bad, 1) == NULL && strstr(tg_last_error(), "names no op"));
  tg_pm_free(pm);
  tg_pm_free(spm);
  tg_pm_free(cat);
  tg_uop_release(c3), tg_uop_release(c4), tg_uop_release(cc), tg_uop_release(empty);
}

/* ---------------- graph_rewrite semantics ---------------- */

typedef struct visits { tg_uop *v[16]; size_t n; } visits;
static tg_uop *visit_all(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)b;
  visits *v = rw->ctx;
  if (v->n < 16) v->v[v->n] = root;
  v->n++;
  return NULL;
}
static const tg_upat p_all = {.ops = {{~0ull, ~0ull}}, .has_ops = 1, .slot = -1};

static const tg_arg a_1 = {.kind = TG_ARG_INT, .i = 1};
static const tg_upat p_c_is_1 = {.ops = OPSET1(TG_OP_CONST), .has_ops = 1, .arg = &a_1, .slot = 0};
static const tg_upat *const p_neg_src[] = {&p_c_is_1};
static const tg_upat p_neg1 = {.ops = OPSET1(TG_OP_NEG), .has_ops = 1, .mode = TG_UPAT_SRC_TUPLE, .src = p_neg_src, .nsrc = 1, .slot = -1};
static tg_uop *to_100(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)rw, (void)root; return tg_um_const_like(b[0], tg_num_i(100)); }
static tg_uop *to_2(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)rw, (void)root; return tg_um_const_like(b[0], tg_num_i(2)); }
static tg_uop *count_to_10(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)rw, (void)root;
  int64_t v = b[0]->arg.i;
  return v < 10 ? tg_um_const_like(b[0], tg_num_i(v + 1)) : NULL;
}
static tg_uop *count_forever(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)rw, (void)root; return tg_um_const_like(b[0], tg_num_i(b[0]->arg.i + 1)); }
static tg_uop *ping_pong(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)rw, (void)root; return tg_um_const_like(b[0], tg_num_i(b[0]->arg.i ? 0 : 1)); }
static tg_uop *gate_adds(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)b, (void)root; rw->gate = 1; return NULL; }
static const tg_upat p_addany = {.ops = OPSET1(TG_OP_ADD), .has_ops = 1, .slot = 0};
static tg_uop *count_adds(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)b, (void)root; (*(int *)rw->ctx)++; return NULL; }

static void test_graph_rewrite(void) {
  tg_uop *a = ct(TG_INT32, 1), *b = ct(TG_INT32, 2), *c = ct(TG_INT32, 3);
  tg_uop *ab = alu2(TG_OP_ADD, R(a), R(b)), *bc = alu2(TG_OP_ADD, R(b), R(c)), *e = alu2(TG_OP_MUL, R(ab), R(bc));
  /* visiting order: tinygrad's graph_rewrite(e, pm) and graph_rewrite(e, pm, bottom_up=True) */
  const tg_rule vr = {&p_all, visit_all, "visit"};
  tg_pm *vpm = tg_pm_new(&vr, 1);
  visits v = {0};
  tg_uop *out = tg_graph_rewrite(e, vpm, &v, 0, NULL);
  CHECK(out == e && v.n == 6 && v.v[0] == a && v.v[1] == b && v.v[2] == ab && v.v[3] == c && v.v[4] == bc && v.v[5] == e);
  tg_uop_release(out);
  memset(&v, 0, sizeof v);
  out = tg_graph_rewrite(e, vpm, &v, TG_RW_BOTTOM_UP, NULL);
  CHECK(out == e && v.n == 6 && v.v[0] == e && v.v[1] == ab && v.v[2] == a && v.v[3] == b && v.v[4] == bc && v.v[5] == c);
  tg_uop_release(out);
  /* top down sees rewritten sources, bottom up the original node: NEG(1) -> NEG(2) vs 100 */
  const tg_rule nr[] = {{&p_neg1, to_100, "neg1"}, {&p_c_is_1, to_2, "one"}};
  tg_pm *npm = tg_pm_new(nr, 2);
  tg_uop *neg = tg_uop_alu(TG_OP_NEG, 1, &a), *two = ct(TG_INT32, 2), *neg2 = tg_uop_alu(TG_OP_NEG, 1, &two);
  out = tg_graph_rewrite(neg, npm, NULL, 0, NULL);
  CHECK(out == neg2);
  tg_uop_release(out);
  out = tg_graph_rewrite(neg, npm, NULL, TG_RW_BOTTOM_UP, NULL);
  CHECK(out && out->op == TG_OP_CONST && out->arg.i == 100);
  tg_uop_release(out);
  /* fixed point in both directions */
  const tg_rule cr = {&p_const0, count_to_10, "count"};
  tg_pm *cpm = tg_pm_new(&cr, 1);
  tg_uop *z = ct(TG_INT32, 0);
  for (unsigned f = 0; f <= TG_RW_BOTTOM_UP; f += TG_RW_BOTTOM_UP) {
    out = tg_graph_rewrite(z, cpm, NULL, f, NULL);
    CHECK(out && out->arg.i == 10);
    tg_uop_release(out);
  }
  /* loops are errors, not hangs */
  const tg_rule pr = {&p_const0, ping_pong, "pingpong"}, fr = {&p_const0, count_forever, "forever"};
  tg_pm *ppm = tg_pm_new(&pr, 1), *fpm = tg_pm_new(&fr, 1);
  CHECK(tg_graph_rewrite(z, ppm, NULL, TG_RW_BOTTOM_UP, NULL) == NULL && strstr(tg_last_error(), "infinite loop in fixed_point_rewrite"));
  CHECK(tg_graph_rewrite(z, fpm, NULL, 0, NULL) == NULL && strstr(tg_last_error(), "stack too big"));
  /* BottomUpGate: the gated node keeps its sources unvisited */
  const tg_rule gr[] = {{&p_addany, gate_adds, "gate"}, {&p_c_is_1, to_2, "one"}};
  tg_pm *gpm = tg_pm_new(gr, 2);
  out = tg_graph_rewrite(e, gpm, NULL, TG_RW_BOTTOM_UP, NULL);
  CHECK(out == e);
  tg_uop_release(out);
  /* memoised: a shared node is rewritten once */
  tg_uop *sq = alu2(TG_OP_MUL, R(ab), R(ab));
  const tg_rule ar = {&p_addany, count_adds, "count adds"};
  tg_pm *apm = tg_pm_new(&ar, 1);
  int nadd = 0;
  out = tg_graph_rewrite(sq, apm, &nadd, 0, NULL);
  CHECK(out == sq && nadd == 1);
  tg_uop_release(out);
  /* walk: one pass, the bpm result is not entered again */
  out = tg_graph_rewrite(neg, npm, NULL, TG_RW_WALK | TG_RW_BOTTOM_UP, NULL);
  CHECK(out && out->op == TG_OP_CONST && out->arg.i == 100);
  tg_uop_release(out);
  out = tg_graph_rewrite(z, cpm, NULL, TG_RW_WALK, NULL);
  CHECK(out && out->arg.i == 1); /* no fixed point in a walk */
  tg_uop_release(out);
  /* substitute */
  tg_uop *r = rng(0, 8), *f = ci(5);
  tg_uop *x = bin(TG_OP_ADD, bin(TG_OP_MUL, R(r), ci(2)), R(r)), *want = bin(TG_OP_ADD, bin(TG_OP_MUL, R(f), ci(2)), R(f));
  out = tg_uop_substitute(x, &r, &f, 1);
  CHECK(out && out == want);
  tg_uop_release(out);
  tg_pm *pms[] = {vpm, npm, cpm, ppm, fpm, gpm, apm};
  for (size_t i = 0; i < sizeof pms / sizeof pms[0]; i++) tg_pm_free(pms[i]);
  tg_uop *all[] = {a, b, c, ab, bc, e, neg, two, neg2, z, sq, r, f, x, want};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tg_uop_release(all[i]);
}

static void test_deep_graph(void) {
  /* ((r+0)+0)+... 100000 deep: no recursion anywhere (rewrite, toposort, release) */
  tg_uop *r = rng(0, 16), *zero = ci(0), *e = R(r);
  for (int i = 0; i < 100000 && e; i++) e = alu2(TG_OP_ADD, e, R(zero));
  tg_uop *out = e ? tg_graph_rewrite(e, tg_pm_symbolic_simple(), NULL, 0, NULL) : NULL;
  CHECK(out == r);
  tg_uop_release(out);
  out = e ? tg_graph_rewrite(e, tg_pm_symbolic_simple(), NULL, TG_RW_BOTTOM_UP, NULL) : NULL;
  CHECK(out == r);
  tg_uop_release(out);
  tg_uop_release(e);
  tg_uop_release(zero);
  tg_uop_release(r);
}

/* ---------------- exec_alu ---------------- */

static int alu_i(tg_op op, int dt, int64_t a, int64_t b, int64_t want) {
  tg_num v[2] = {tg_num_i(a), tg_num_i(b)}, r;
  return tg_exec_alu(op, dt, v, 2, 1, &r) == 0 && r.kind == TG_NUM_INT && r.i == want;
}
static int alu_f(tg_op op, double a, double want) {
  tg_num v = tg_num_f(a), r;
  if (tg_exec_alu(op, TG_FLOAT32, &v, 1, 0, &r) || r.kind != TG_NUM_FLOAT) return 0;
  return isnan(want) ? isnan(r.f) : (r.f == want && signbit(r.f) == signbit(want));
}

static void test_exec_alu(void) {
  CHECK(alu_i(TG_OP_CDIV, TG_INT32, -7, 2, -3) && alu_i(TG_OP_CMOD, TG_INT32, -7, 2, -1));
  CHECK(alu_i(TG_OP_FLOORDIV, TG_INT32, -7, 2, -4) && alu_i(TG_OP_FLOORMOD, TG_INT32, -7, 2, 1));
  CHECK(alu_i(TG_OP_FLOORDIV, TG_INT32, 7, 0, 0) && alu_i(TG_OP_CMOD, TG_INT32, 7, 0, 7)); /* helpers.cdiv: /0 is 0 */
  CHECK(alu_i(TG_OP_ADD, TG_INT8, 127, 1, -128) && alu_i(TG_OP_MUL, TG_UINT8, 200, 2, 144)); /* truncate wraps */
  CHECK(alu_i(TG_OP_ADD, TG_WEAKINT, 1ll << 40, 1ll << 40, 1ll << 41));
  CHECK(alu_i(TG_OP_SHR, TG_INT32, -8, 1, -4) && alu_i(TG_OP_SHL, TG_INT32, 3, 4, 48));
  CHECK(alu_f(TG_OP_LOG2, 0.0, -INFINITY) && alu_f(TG_OP_LOG2, -1.0, NAN) && alu_f(TG_OP_SQRT, -1.0, NAN));
  CHECK(alu_f(TG_OP_RECIPROCAL, 0.0, INFINITY) && alu_f(TG_OP_RECIPROCAL, -0.0, -INFINITY) && alu_f(TG_OP_SIN, INFINITY, NAN));
  CHECK(alu_f(TG_OP_EXP2, 2000.0, INFINITY));
  CHECK(alu_i(TG_OP_CDIV, TG_WEAKINT, 9, 3, 3));
  tg_num m05 = tg_num_f(-0.5), tr;
  CHECK(tg_exec_alu(TG_OP_TRUNC, TG_FLOAT32, &m05, 1, 0, &tr) == 0 && tr.kind == TG_NUM_INT && tr.i == 0); /* math.trunc: an int */
  tg_num big[2] = {tg_num_f(1.5), tg_num_f(1e30)};
  CHECK(tg_exec_alu(TG_OP_POW, TG_FLOAT32, big, 2, 0, &tr) == -1 && strstr(tg_last_error(), "OverflowError"));
  tg_num nan2[2] = {tg_num_f(NAN), tg_num_f(NAN)}, r;
  CHECK(tg_exec_alu(TG_OP_CMPNE, TG_BOOL, nan2, 2, 1, &r) == 0 && r.kind == TG_NUM_BOOL && r.i == 0); /* ConstFloat: nan == nan */
  tg_num mx[2] = {tg_num_f(NAN), tg_num_f(1.0)};
  CHECK(tg_exec_alu(TG_OP_MAX, TG_FLOAT32, mx, 2, 1, &r) == 0 && isnan(r.f)); /* max(nan, 1) keeps the first */
  tg_num inv[2] = {tg_num_invalid(), tg_num_i(1)};
  CHECK(tg_exec_alu(TG_OP_ADD, TG_WEAKINT, inv, 2, 1, &r) == 0 && r.kind == TG_NUM_INVALID);
  CHECK(tg_exec_alu(TG_OP_FDIV, TG_FLOAT32, mx, 2, 1, &r) == -1 && strstr(tg_last_error(), "python_alu has no entry for FDIV"));
  char buf[32];
  tg_num_repr(tg_num_f(1e16), buf, sizeof buf);
  CHECK(!strcmp(buf, "1e+16"));
  tg_num_repr(tg_num_f(0.1), buf, sizeof buf);
  CHECK(!strcmp(buf, "0.1"));
  tg_num_repr(tg_num_f(-0.0), buf, sizeof buf);
  CHECK(!strcmp(buf, "-0.0"));
}

/* ---------------- symbolic: specific rewrites ---------------- */

/* simplify with pm and check the result is the UOp `want` (interning makes that pointer equality); consumes both */
static int rewrites_to(const tg_pm *pm, tg_uop *e, tg_uop *want, int line) {
  tg_uop *out = e && want ? tg_graph_rewrite(e, pm, NULL, 0, NULL) : NULL;
  int ok = out && out == want;
  if (!ok) {
    char *a = e ? tg_uop_str(e) : NULL, *b = out ? tg_uop_str(out) : NULL, *w = want ? tg_uop_str(want) : NULL;
    fprintf(stderr, "line %d: %s\n  became %s\n  wanted %s\n", line, a ? a : "NULL", b ? b : tg_last_error(), w ? w : "NULL");
    free(a), free(b), free(w);
  }
  tg_uop_release(out);
  tg_uop_release(e);
  tg_uop_release(want);
  return ok;
}
#define REWRITES(pm, e, want) CHECK(rewrites_to((pm), (e), (want), __LINE__))

static void test_symbolic_simple(void) {
  const tg_pm *ss = tg_pm_symbolic_simple();
  CHECK(ss != NULL);
  if (!ss) return;
  tg_uop *r = rng(0, 10), *s = rng(1, 7);
  REWRITES(ss, bin(TG_OP_ADD, R(r), ci(0)), R(r));
  REWRITES(ss, bin(TG_OP_ADD, ci(0), R(r)), R(r));
  REWRITES(ss, bin(TG_OP_MUL, R(r), ci(1)), R(r));
  REWRITES(ss, bin(TG_OP_FLOORDIV, R(r), ci(1)), R(r));
  REWRITES(ss, bin(TG_OP_FLOORDIV, R(r), R(r)), ci(1));
  REWRITES(ss, bin(TG_OP_FLOORDIV, R(r), ci(-1)), tg_um_neg(r));
  REWRITES(ss, bin(TG_OP_XOR, bin(TG_OP_XOR, R(r), R(s)), R(s)), R(r));
  REWRITES(ss, bin(TG_OP_FLOORMOD, bin(TG_OP_FLOORMOD, R(r), R(s)), R(s)), bin(TG_OP_FLOORMOD, R(r), R(s)));
  REWRITES(ss, bin(TG_OP_FLOORMOD, R(r), R(r)), ci(0));
  REWRITES(ss, bin(TG_OP_MUL, R(r), ci(0)), ci(0));
  REWRITES(ss, bin(TG_OP_CMPLT, R(r), R(r)), tg_uop_const_bool(0));
  REWRITES(ss, bin(TG_OP_CMPNE, R(r), R(r)), tg_uop_const_bool(0));
  /* constant folding through exec_alu, with tinygrad's (non-wrapping) int consts */
  REWRITES(ss, bin(TG_OP_ADD, ci(3), ci(4)), ci(7));
  REWRITES(ss, alu2(TG_OP_ADD, ct(TG_INT32, 2147483647), ct(TG_INT32, 1)), ct(TG_INT32, 2147483648ll));
  REWRITES(ss, alu2(TG_OP_CDIV, ct(TG_INT32, -7), ct(TG_INT32, 2)), ct(TG_INT32, -3));
  REWRITES(ss, alu2(TG_OP_FLOORMOD, ct(TG_INT32, -7), ct(TG_INT32, 2)), ct(TG_INT32, 1));
  REWRITES(ss, alu2(TG_OP_ADD, bin(TG_OP_MUL, ci(2), ci(3)), bin(TG_OP_FLOORDIV, ci(9), ci(2))), ci(10));
  tg_uop *f4 = tg_uop_const_float(TG_FLOAT32, 4.0), *i3 = ct(TG_INT32, 3);
  REWRITES(ss, tg_um_unary(TG_OP_SQRT, f4), tg_uop_const_float(TG_FLOAT32, 2.0));
  REWRITES(ss, tg_um_cast(i3, TG_FLOAT32), tg_uop_const_float(TG_FLOAT32, 3.0));
  tg_uop_release(f4);
  tg_uop_release(i3);
  /* bool algebra and where folding */
  tg_uop *lt = bin(TG_OP_CMPLT, R(r), ci(5));
  REWRITES(ss, bin(TG_OP_AND, R(lt), tg_uop_const_bool(1)), R(lt));
  REWRITES(ss, bin(TG_OP_OR, R(lt), tg_uop_const_bool(1)), tg_uop_const_bool(1));
  REWRITES(ss, where(tg_uop_const_bool(1), R(r), R(s)), R(r));
  REWRITES(ss, where(R(lt), R(s), R(s)), R(s));
  REWRITES(ss, where(R(lt), tg_uop_const_bool(0), tg_uop_const_bool(1)), tg_um_logical_not(lt));
  REWRITES(ss, where(tg_um_logical_not(lt), tg_uop_const_bool(0), tg_uop_const_bool(1)), R(lt)); /* not not x -> x */
  REWRITES(ss, alu2(TG_OP_MUL, R(lt), R(lt)), R(lt));
  /* x*0 on a float nan const keeps the nan */
  tg_uop *fnan = tg_uop_const_float(TG_FLOAT32, NAN);
  REWRITES(ss, alu2(TG_OP_MUL, R(fnan), tg_uop_const_float(TG_FLOAT32, 0.0)), R(fnan));
  /* Invalid moves out through ALUs: (cond ? r : Invalid) + 1 -> cond ? r+1 : Invalid */
  tg_uop *inv = tg_uop_const_invalid(), *gated = where(R(lt), R(r), R(inv));
  REWRITES(ss, bin(TG_OP_ADD, R(gated), ci(1)), where(R(lt), bin(TG_OP_ADD, R(r), ci(1)), R(inv)));
  tg_uop_release(gated);
  tg_uop_release(inv);
  tg_uop_release(fnan);
  tg_uop_release(lt);
  tg_uop_release(r);
  tg_uop_release(s);
}

static void test_symbolic(void) {
  const tg_pm *sym = tg_pm_symbolic();
  CHECK(sym != NULL);
  if (!sym) return;
  tg_uop *r = rng(0, 10), *s = rng(1, 7);
  /* (x%c)+(x//c)*c = x (fold_add_divmod_recombine) */
  REWRITES(sym, bin(TG_OP_ADD, bin(TG_OP_FLOORMOD, R(r), ci(4)), bin(TG_OP_MUL, bin(TG_OP_FLOORDIV, R(r), ci(4)), ci(4))), R(r));
  tg_uop_release(r);
  tg_uop_release(s);
}

/* ---------------- symbolic: randomized semantics ---------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state % n);
}

static tg_uop *vars[3];
static const int64_t var_end[3] = {5, 8, 13};

static tg_uop *random_expr(int depth) {
  if (depth == 0 || rnd(5) == 0) {
    if (rnd(3)) return R(vars[rnd(3)]);
    return ci((int64_t)rnd(17) - 8);
  }
  static const int64_t divs[] = {1, 2, 3, 4, 5, 6, 8, -1, -2, -3};
  switch (rnd(9)) {
  case 0: case 1: return bin(TG_OP_ADD, random_expr(depth - 1), random_expr(depth - 1));
  case 2: return bin(TG_OP_SUB, random_expr(depth - 1), random_expr(depth - 1));
  case 3: return bin(TG_OP_MUL, random_expr(depth - 1), rnd(2) ? ci((int64_t)rnd(9) - 4) : random_expr(depth - 1));
  case 4: return bin(TG_OP_FLOORDIV, random_expr(depth - 1), ci(divs[rnd(10)]));
  case 5: return bin(TG_OP_FLOORMOD, random_expr(depth - 1), ci(divs[rnd(10)]));
  case 6: return bin(TG_OP_MAX, random_expr(depth - 1), random_expr(depth - 1));
  case 7: return where(bin(TG_OP_CMPLT, random_expr(depth - 1), random_expr(depth - 1)), random_expr(depth - 1), random_expr(depth - 1));
  default: return where(bin(TG_OP_CMPNE, random_expr(depth - 1), random_expr(depth - 1)), random_expr(depth - 1), random_expr(depth - 1));
  }
}

static int64_t fdiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }

/* Evaluates an int/bool expression over RANGE values env[axis], with Python's semantics. 0 on success. */
static int eval_uop(tg_uop *root, const int64_t *env, int64_t *out) {
  size_t n;
  tg_uop **order = tg_uop_toposort(root, &n);
  int64_t *val = malloc((n + 1) * sizeof *val);
  int ok = order && val;
  for (size_t i = 0; ok && i < n; i++) {
    tg_uop *u = order[i];
    int64_t s[3] = {0};
    for (size_t k = 0; k < u->nsrc && k < 3; k++) {
      size_t j = 0;
      while (order[j] != u->src[k]) j++;
      s[k] = val[j];
    }
    switch (u->op) {
    case TG_OP_CONST: val[i] = u->arg.i; break;
    case TG_OP_RANGE: val[i] = env[u->arg.items[0].i]; break;
    case TG_OP_ADD: val[i] = u->dtype == TG_BOOL ? (s[0] | s[1]) : s[0] + s[1]; break;
    case TG_OP_MUL: val[i] = u->dtype == TG_BOOL ? (s[0] & s[1]) : s[0] * s[1]; break;
    case TG_OP_FLOORDIV: val[i] = s[1] ? fdiv(s[0], s[1]) : 0; break;
    case TG_OP_FLOORMOD: val[i] = s[1] ? s[0] - fdiv(s[0], s[1]) * s[1] : s[0]; break;
    case TG_OP_MAX: val[i] = s[0] > s[1] ? s[0] : s[1]; break;
    case TG_OP_CMPLT: val[i] = s[0] < s[1]; break;
    case TG_OP_CMPNE: val[i] = s[0] != s[1]; break;
    case TG_OP_CMPEQ: val[i] = s[0] == s[1]; break;
    case TG_OP_AND: val[i] = s[0] & s[1]; break;
    case TG_OP_OR: val[i] = s[0] | s[1]; break;
    case TG_OP_XOR: val[i] = s[0] ^ s[1]; break;
    case TG_OP_WHERE: val[i] = s[0] ? s[1] : s[2]; break;
    case TG_OP_CAST: val[i] = u->dtype == TG_BOOL ? s[0] != 0 : s[0]; break;
    default: ok = 0; fprintf(stderr, "eval: no rule for %s\n", tg_op_name((tg_op)u->op));
    }
  }
  if (ok) *out = val[n - 1];
  free(order);
  free(val);
  return ok ? 0 : -1;
}

static void random_semantics(const tg_pm *pm, const char *name, int ntrees, int check_count) {
  int bad_value = 0, bad_count = 0, failed = 0;
  for (int t = 0; t < ntrees; t++) {
    tg_uop *e = random_expr(4);
    tg_uop *s = e ? tg_graph_rewrite(e, pm, NULL, 0, NULL) : NULL;
    if (!s) {
      if (failed++ < 3) {
        char *a = tg_uop_str(e);
        fprintf(stderr, "%s: rewrite failed: %s\n%s\n", name, tg_last_error(), a);
        free(a);
      }
      tg_uop_release(e);
      continue;
    }
    if (check_count && node_count(s) > node_count(e) && bad_count++ < 3) {
      char *a = tg_uop_str(e), *b = tg_uop_str(s);
      fprintf(stderr, "%s grew the graph (%zu -> %zu nodes):\n%s\n->\n%s\n", name, node_count(e), node_count(s), a, b);
      free(a), free(b);
    }
    for (int k = 0; k < 24; k++) {
      int64_t env[3] = {rnd((uint32_t)var_end[0]), rnd((uint32_t)var_end[1]), rnd((uint32_t)var_end[2])}, x = 0, y = 0;
      if (eval_uop(e, env, &x) || eval_uop(s, env, &y) || x != y) {
        if (bad_value++ < 3) {
          char *a = tg_uop_str(e), *b = tg_uop_str(s);
          fprintf(stderr, "%s changed the value at (%lld,%lld,%lld): %lld -> %lld\n%s\n->\n%s\n", name, (long long)env[0], (long long)env[1],
                  (long long)env[2], (long long)x, (long long)y, a, b);
          free(a), free(b);
        }
        break;
      }
    }
    tg_uop_release(s);
    tg_uop_release(e);
  }
  printf("%s: %d random trees, %d value mismatches, %d grew, %d failed\n", name, ntrees, bad_value, bad_count, failed);
  CHECK(bad_value == 0 && failed == 0 && bad_count == 0);
}

static void test_random(void) {
  for (int i = 0; i < 3; i++) vars[i] = rng(i, var_end[i]);
  if (tg_pm_symbolic_simple()) random_semantics(tg_pm_symbolic_simple(), "symbolic_simple", 3000, 1);
  if (tg_pm_symbolic()) random_semantics(tg_pm_symbolic(), "symbolic", 3000, 0);
  for (int i = 0; i < 3; i++) tg_uop_release(vars[i]);
}

int main(void) {
  /* build the static matchers before the baseline: they live for the process */
  CHECK(tg_pm_symbolic_simple() && tg_pm_symbolic());
  size_t base = tg_uop_live_count();
  test_matcher();
  CHECK(tg_uop_live_count() == base);
  test_pattern_matcher();
  test_graph_rewrite();
  CHECK(tg_uop_live_count() == base);
  test_deep_graph();
  CHECK(tg_uop_live_count() == base);
  test_exec_alu();
  CHECK(tg_uop_live_count() == base);
  test_symbolic_simple();
  CHECK(tg_uop_live_count() == base);
  test_symbolic();
  CHECK(tg_uop_live_count() == base);
  test_random();
  size_t live = tg_uop_live_count();
  if (live != base) fprintf(stderr, "leak: %zu live UOps, baseline %zu\n", live, base);
  CHECK(live == base);
  CHECK_DONE();
}
