/* codegen/decomp_op.c -- tinygrad 0.14.0's codegen/decomp/op.py and late/gater.py: ops the device lacks rewritten
** into ones it has, chosen from cg_ren.alu (tinygrad's code_for_op keys) exactly as get_simplifying_rewrite_patterns,
** get_late_rewrite_patterns and get_transcendental_patterns choose them. Rules are data in decomp.rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "codegen/upat_hand.h"
#include "uop/symbolic.h"

tg_uop *cg_threefry2x32(tg_uop *x, tg_uop *key);
int cg_is_transcendental_dtype(int dt);

static int64_t log2_exact(tg_num v) { /* powers_of_two.get(v, 0) */
  if (v.kind != TG_NUM_INT || v.i <= 0 || (v.i & (v.i - 1))) return 0;
  int64_t k = 0;
  while ((1ll << k) != v.i) k++;
  return k;
}
static tg_num pow2(tg_rw *rw, tg_uop *c) { (void)rw; return tg_num_i(log2_exact(tg_uop_val(c))); }

static int nonneg_pos(tg_uop *a, tg_uop *b) { /* (a.vmin >= 0 and b.vmin > 0) or (a.vmax <= 0 and b.vmax < 0) */
  double amin = tg_num_as_f(tg_uop_vmin(a)), amax = tg_num_as_f(tg_uop_vmax(a));
  double bmin = tg_num_as_f(tg_uop_vmin(b)), bmax = tg_num_as_f(tg_uop_vmax(b));
  return (amin >= 0 && bmin > 0) || (amax <= 0 && bmax < 0);
}

/* (a.alu(CMOD, b).ne(0) & (a<0).ne(b<0)) */
static tg_uop *sign_fix(tg_uop *r, tg_uop *a, tg_uop *b) {
  cg_pool pool = {0};
  tg_uop *z = K(cg_cint(0));
  tg_uop *rn = K(tg_um_binop(TG_OP_CMPNE, r, z)), *al = K(tg_um_binop(TG_OP_CMPLT, a, z)), *bl = K(tg_um_binop(TG_OP_CMPLT, b, z));
  tg_uop *ret = tg_um_binop(TG_OP_AND, rn, K(tg_um_binop(TG_OP_CMPNE, al, bl)));
  cg_pool_free(&pool);
  return ret;
fail:
  cg_pool_free(&pool);
  return NULL;
}

static tg_uop *floordiv_to_idiv(tg_rw *rw, tg_uop *a, tg_uop *b) {
  cg_pool pool = {0};
  tg_uop *q = K(tg_um_alu(TG_OP_CDIV, (tg_uop *[]){a, b}, 2));
  if (nonneg_pos(a, b)) { tg_uop_retain(q); cg_pool_free(&pool); return q; }
  tg_uop *m = K(tg_um_alu(TG_OP_CMOD, (tg_uop *[]){a, b}, 2)), *fix = K(sign_fix(m, a, b));
  tg_uop *r = tg_um_sub(q, fix);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *floormod_to_mod(tg_rw *rw, tg_uop *a, tg_uop *b) {
  cg_pool pool = {0};
  tg_uop *r = K(tg_um_alu(TG_OP_CMOD, (tg_uop *[]){a, b}, 2));
  if (nonneg_pos(a, b)) { tg_uop_retain(r); cg_pool_free(&pool); return r; }
  tg_uop *fix = K(sign_fix(r, a, b)), *w = K(tg_um_where(fix, b, K(tg_um_const(b->dtype, tg_num_i(0)))));
  tg_uop *ret = tg_um_binop(TG_OP_ADD, r, w);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *threefry(tg_rw *rw, tg_uop *x, tg_uop *key) { return cg_ok(rw, cg_threefry2x32(x, key)); }

static tg_uop *cdiv_pow2_signed(tg_rw *rw, tg_uop *x, tg_uop *c) {
  int64_t v = log2_exact(tg_uop_val(c));
  if (!v) return NULL;
  cg_pool pool = {0};
  tg_uop *l = K(tg_um_binop(TG_OP_CMPLT, x, K(cg_cint(0))));
  tg_num lo = tg_uop_vmin(l), hi = tg_uop_vmax(l);
  if (tg_num_equal(lo, hi)) l = K(tg_um_const(l->dtype, lo));
  tg_uop *w = K(tg_um_where(l, K(tg_um_sub(c, K(cg_cint(1)))), K(cg_cint(0))));
  tg_uop *r = tg_um_binop(TG_OP_SHR, K(tg_um_binop(TG_OP_ADD, x, w)), K(cg_cint(v)));
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *fdiv_recip(tg_rw *rw, tg_uop *x) {
  tg_uop *one = tg_um_ufix(tg_num_f(1.0)), *r = one ? tg_um_alu(TG_OP_FDIV, (tg_uop *[]){one, x}, 2) : NULL;
  tg_uop_release(one);
  return cg_ok(rw, r);
}

static tg_uop *xexp2_of(tg_rw *rw, tg_uop *d) { return cg_ok(rw, cg_xexp2(d)); }
static tg_uop *xlog2_of(tg_rw *rw, tg_uop *d) { return cg_ok(rw, cg_xlog2(d)); }
static tg_uop *xsin_of(tg_rw *rw, tg_uop *d) { return cg_ok(rw, cg_xsin(d)); }

static tg_uop *sqrt_pow(tg_rw *rw, tg_uop *d) {
  tg_uop *h = tg_um_const(d->dtype, tg_num_f(0.5)), *r = h ? cg_xpow(d, h) : NULL;
  tg_uop_release(h);
  return cg_ok(rw, r);
}

/* l.vconst_like(0): the zero, broadcast to the lanes of l */
static tg_uop *vconst0(tg_uop *l) {
  tg_uop *z = tg_um_const(l->dtype, tg_num_i(0));
  int64_t n = cg_max_numel(l);
  if (!z || n <= 1) return z;
  tg_uop **v = malloc((size_t)n * sizeof *v);
  if (!v) { tg_uop_release(z); return NULL; }
  for (int64_t i = 0; i < n; i++) v[i] = z;
  tg_uop *r = cg_stack(v, (size_t)n);
  free(v);
  tg_uop_release(z);
  return r;
}

static tg_uop *move_where_load(tg_rw *rw, tg_uop *gate, tg_uop *l, tg_uop *a, tg_uop *w) {
  (void)gate;
  cg_pool pool = {0};
  tg_uop *alt;
  if (cg_is_invalid(a)) alt = K(vconst0(l));
  else if (a->op == TG_OP_CONST) alt = K(tg_um_const(l->dtype, tg_uop_val(a)));
  else if (a->op == TG_OP_CAST && a->src[0]->dtype == l->dtype) alt = a->src[0];
  else alt = K(tg_um_cast(a, l->dtype));
  tg_uop *nl = K(cg_with_src(l, (tg_uop *[]){l->src[0], alt, l->src[2]}, 3));
  tg_uop *r = tg_um_cast(nl, w->dtype);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *mop_ungated(tg_uop *mop, tg_uop *idx) {
  tg_uop *s[8];
  if (mop->nsrc > 8) return tg_err(TG_ERR_INTERNAL, "gater: too many sources"), NULL;
  cg_memcpy(s, mop->src, mop->nsrc * sizeof *s);
  s[1] = idx;
  return cg_with_src(mop, s, mop->nsrc);
}

static tg_uop *gate_load(tg_rw *rw, tg_uop *mop, tg_uop *gate, tg_uop *idx, tg_uop *l) {
  cg_pool pool = {0};
  tg_uop *m = K(mop_ungated(mop, idx)), *z = K(vconst0(l));
  tg_uop *r = tg_uop_new(TG_OP_LOAD, TG_DT_AUTO, (tg_uop *[]){m, z, gate}, 3, tg_arg_none());
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *gate_store(tg_rw *rw, tg_uop *mop, tg_uop *gate, tg_uop *idx, tg_uop *data) {
  cg_pool pool = {0};
  tg_uop *m = K(mop_ungated(mop, idx));
  tg_uop *r = tg_uop_new(TG_OP_STORE, TG_DT_VOID, (tg_uop *[]){m, data, gate}, 3, tg_arg_none());
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *cast_float_operand(tg_rw *rw, tg_uop *u, tg_uop *x) {
  if (x->dtype == u->dtype) return NULL;
  tg_uop *c = tg_um_cast(x, u->dtype), *r = c ? cg_with_src(u, &c, 1) : NULL;
  tg_uop_release(c);
  return cg_ok(rw, r);
}

#include "codegen/decomp_rules.inc"

/* tinygrad: (UPat((Ops.INDEX, Ops.SHRINK), src=(UPat(), UPat.var("gate").where(UPat.var("idx"), UPat(arg=Invalid)),), name="mop",
**                 allow_any_len=True).load(name="l"), lambda mop,gate,idx,l: mop.replace(src=(mop.src[0],idx)+mop.src[2:]).load(l.vconst_like(0), gate))
** tinygrad: (... same INDEX/SHRINK ...).store(UPat.var("data")), lambda mop,gate,idx,data: mop.replace(...).store(data, gate)) */
static const tg_upat gt_any = {.slot = -1}, gt_gate = {.slot = 2}, gt_idx = {.slot = 3}, gt_inv = {.arg = &H_INVALID, .slot = -1};
static const tg_upat gt_where = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &gt_gate, &gt_idx, &gt_inv), .slot = -1};
static const tg_upat gt_mop = {HOP2(TG_OP_INDEX, TG_OP_SHRINK), HSRC(TG_UPAT_SRC_TUPLE, &gt_any, &gt_where), .allow_any_len = 1, .slot = 1};
static const tg_upat gt_load = {HOP(TG_OP_LOAD), HSRC(TG_UPAT_SRC_TUPLE, &gt_mop), .slot = 0};
static const tg_upat gt_data = {.slot = 0};
static const tg_upat gt_store = {HOP(TG_OP_STORE), HSRC(TG_UPAT_SRC_TUPLE, &gt_mop, &gt_data), .slot = -1};
static tg_uop *gate_load_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return gate_load(rw, b[1], b[2], b[3], b[0]); }
static tg_uop *gate_store_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return gate_store(rw, b[1], b[2], b[3], b[0]); }
static const tg_rule gate_rules[] = {{&gt_load, gate_load_rule, "late/gater.py gated LOAD"}, {&gt_store, gate_store_rule, "late/gater.py gated STORE"}};

/* ---------------- matchers per op set (tinygrad caches them by the code_for_op keys) ---------------- */

typedef struct dcache { tg_opset ops; const tg_pm *extra; tg_pm *simp, *late, *final; } dcache;
static dcache g_cache[16];
static int g_ncache;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

#include "renderer/renderer.h"

static int has(const cg_ren *r, tg_op op) { return tg_opset_has(r->alu, op); }

static tg_pm *build_simp(const cg_ren *r) {
  const tg_pm *p[8];
  int n = 0;
  p[n++] = tg_pm_symbolic_simple();
  if (has(r, TG_OP_SHR)) p[n++] = tg_pm_cg_dec_shr_floordiv();
  p[n++] = tg_pm_cg_dec_floordiv();
  if (has(r, TG_OP_AND)) p[n++] = tg_pm_cg_dec_and_mod();
  p[n++] = tg_pm_cg_dec_floormod();
  if (!has(r, TG_OP_THREEFRY)) p[n++] = tg_pm_cg_dec_threefry();
  if (!has(r, TG_OP_MAX) && has(r, TG_OP_CMPLT)) p[n++] = tg_pm_cg_dec_max();
  return tg_pm_concat(p, (size_t)n);
}

static tg_pm *build_late(const cg_ren *r, tg_pm *simp) {
  const tg_pm *p[20];
  int n = 0;
  p[n++] = simp;
  if (has(r, TG_OP_OR)) p[n++] = tg_pm_cg_late_or();
  if (has(r, TG_OP_SHL)) p[n++] = tg_pm_cg_late_shl();
  if (has(r, TG_OP_SHR)) p[n++] = tg_pm_cg_late_shr();
  if (has(r, TG_OP_NEG)) {
    p[n++] = tg_pm_cg_late_neg();
    if (has(r, TG_OP_SUB)) p[n++] = tg_pm_cg_late_sub();
  }
  if (has(r, TG_OP_CMPLT)) p[n++] = tg_pm_cg_late_cmplt();
  if (has(r, TG_OP_CMPEQ)) p[n++] = tg_pm_cg_late_cmpeq();
  if (has(r, TG_OP_MULACC)) {
    p[n++] = tg_pm_cg_late_mulacc();
    if (has(r, TG_OP_SHL)) p[n++] = tg_pm_cg_late_mulacc_shl();
  }
  if (has(r, TG_OP_FDIV)) p[n++] = tg_pm_cg_late_fdiv();
  if (!has(r, TG_OP_EXP2)) p[n++] = tg_pm_cg_tr_exp2();
  if (!has(r, TG_OP_LOG2)) p[n++] = tg_pm_cg_tr_log2();
  if (!has(r, TG_OP_SIN)) p[n++] = tg_pm_cg_tr_sin();
  if (!has(r, TG_OP_SQRT)) p[n++] = tg_pm_cg_tr_sqrt();
  return tg_pm_concat(p, (size_t)n);
}

static tg_pm *build_final(tg_pm *late, const tg_pm *extra) {
  const tg_pm *p[6];
  size_t n = 0;
  p[n++] = cg_pm_commit_weak(), p[n++] = cg_pm_cast_weak(), p[n++] = late;
  if (extra) p[n++] = extra;
  p[n++] = cg_pm_split_ends(), p[n++] = tg_pm_cg_remove_invalid();
  return tg_pm_concat(p, n);
}

static dcache *lookup(const cg_ren *r) {
  pthread_mutex_lock(&g_mu);
  dcache *c = NULL;
  const tg_pm *extra = r->rd && r->rd->extra_matcher ? r->rd->extra_matcher() : NULL;
  for (int i = 0; i < g_ncache && !c; i++)
    if (!memcmp(&g_cache[i].ops, &r->alu, sizeof r->alu) && g_cache[i].extra == extra) c = &g_cache[i];
  if (!c && g_ncache < 16) {
    dcache n = {r->alu, extra, NULL, NULL, NULL};
    n.simp = build_simp(r);
    n.late = n.simp ? build_late(r, n.simp) : NULL;
    n.final = n.late ? build_final(n.late, extra) : NULL;
    if (n.final) g_cache[g_ncache] = n, c = &g_cache[g_ncache++];
    else tg_pm_free(n.simp), tg_pm_free(n.late), tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory");
  }
  pthread_mutex_unlock(&g_mu);
  if (!c && g_ncache >= 16) tg_err(TG_ERR_INTERNAL, "codegen: too many distinct ALU op sets and dialects");
  return c;
}

const tg_pm *cg_pm_simplifying_decomp(const cg_ren *r) { dcache *c = lookup(r); return c ? c->simp : NULL; }
const tg_pm *cg_pm_late_decomp(const cg_ren *r) { dcache *c = lookup(r); return c ? c->late : NULL; }
const tg_pm *cg_pm_final_rewrite(const cg_ren *r) { dcache *c = lookup(r); return c ? c->final : NULL; }
static tg_pm *g_gates;
static pthread_once_t g_gates_once = PTHREAD_ONCE_INIT;
static void gates_init(void) {
  tg_pm *h = tg_pm_new(gate_rules, 2);
  const tg_pm *p[] = {h, tg_pm_cg_move_gates()};
  if (h) g_gates = tg_pm_concat(p, 2);
  tg_pm_free(h);
}
const tg_pm *cg_pm_move_gates_from_index(void) {
  pthread_once(&g_gates_once, gates_init);
  return g_gates;
}
const tg_pm *cg_pm_cast_float_alu(void) { return tg_pm_cg_cast_float_alu(); }
