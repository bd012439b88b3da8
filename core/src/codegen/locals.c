/* codegen/locals.c -- tinygrad 0.14.0's codegen/__init__.py for LOCAL (shared) memory: pm_add_local_buffers (a STAGE
** becomes a LOCAL BUFFER that each work item stores its value into, read back through AFTER) and pm_implicit_barriers
** (a workgroup BARRIER where a load reads LOCAL memory another work item wrote: after the stores (read after write), and
** at the end of a loop whose body both stores and loads the same LOCAL buffer (write after read)). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"

/* UOp.buf_uop (borrowed) */
static tg_uop *buf_uop(tg_uop *u) {
  if (u->op == TG_OP_BUFFER || u->op == TG_OP_PARAM) return u;
  tg_uop *b = tg_uop_base(u);
  if (b->op == TG_OP_AFTER) return tg_uop_base(buf_uop(b->src[0]));
  while (u->nsrc && u->op != TG_OP_BUFFER && u->op != TG_OP_PARAM && u->op != TG_OP_STAGE && u->op != TG_OP_MSTACK) u = u->src[0];
  return u;
}

/* ---------------- pm_add_local_buffers ---------------- */

/* STAGE(x, *rngs) -> buf.after(buf.index(*rngs).store(x).end(*rngs)), buf a placeholder of STAGE's shape */
static tg_uop *add_local_buffer(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *x = b[0];
  int64_t *slot = rw->ctx, shape[64];
  int nd = cg_shape_ndim(x);
  if (nd < 0 || nd > 64) return tg_rw_fail(rw);
  for (int i = 0; i < nd; i++) shape[i] = cg_shape_dim(x, i);
  const tg_arg *as = cg_tuple_item(&x->arg, 2);
  cg_pool pool = {0};
  tg_uop *buf = K(cg_placeholder(shape, (size_t)nd, x->dtype, (*slot)++, as ? (int)as->i : CG_AS_LOCAL));
  tg_uop *idx = K(cg_index(buf, x->src + 1, x->nsrc - 1));
  tg_uop *st = K(cg_store(idx, x->src[0]));
  tg_uop *end = K(cg_end(st, x->src + 1, x->nsrc - 1));
  tg_uop *r = cg_after(buf, &end, 1);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* ---------------- pm_implicit_barriers ---------------- */

static int is_local_store(tg_uop *x) { return x->op == TG_OP_STORE && cg_addrspace(x) == CG_AS_LOCAL; }
static int not_barrier(tg_uop *x, void *ctx) { (void)ctx; return x->op != TG_OP_BARRIER; }

/* AFTER of LOCAL memory that depends on LOCAL stores: the dependency goes through a BARRIER */
static tg_uop *add_raw_barrier(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *after = b[0];
  if (cg_addrspace(after) != CG_AS_LOCAL) return NULL;
  cg_pool pool = {0};
  cg_list deps = {0};
  tg_uop *sk = K(cg_sink(after->src + 1, after->nsrc - 1, NULL)), *r = NULL;
  if (cg_toposort_gated(sk, not_barrier, NULL, &deps)) goto fail;
  int any = 0;
  for (size_t i = 0; i < deps.n && !any; i++) any = is_local_store(deps.v[i]);
  if (any) {
    tg_uop *bar = K(tg_uop_new(TG_OP_BARRIER, TG_DT_VOID, after->src + 1, after->nsrc - 1, tg_arg_none()));
    if (!(r = cg_after(after->src[0], &bar, 1))) goto fail;
  }
  cg_list_free(&deps), cg_pool_free(&pool);
  return r;
fail:
  cg_list_free(&deps), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* the END of a loop whose body stores to a LOCAL buffer and loads from it: a BARRIER before the next iteration */
static tg_uop *add_war_barrier(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *end = b[0];
  cg_list rngs = {0}, sl = {0}, bufs = {0}, loads = {0};
  tg_uop *r = NULL, **s = NULL;
  for (size_t i = 1; i < end->nsrc; i++) {
    tg_uop *x = end->src[i];
    int t = x->op == TG_OP_RANGE ? cg_range_type(x) : 0;
    if ((t == CG_AX_REDUCE || t == CG_AX_WEAK || t == CG_AX_LOOP) && cg_vmax_i(x) > 0 && cg_list_push(&rngs, x)) goto fail;
  }
  if (!rngs.n || end->src[0]->op == TG_OP_BARRIER) goto none;
  if (cg_toposort(end->src[0], &sl)) goto fail;
  for (size_t i = 0; i < sl.n; i++) {
    if (!is_local_store(sl.v[i])) continue;
    const cg_list *xr = cg_ranges(sl.v[i]);
    if (!xr) goto fail;
    int in = 0;
    for (size_t j = 0; j < rngs.n && !in; j++) in = cg_list_has(xr, rngs.v[j]);
    if (in && cg_list_add(&bufs, buf_uop(sl.v[i]))) goto fail;
  }
  if (!bufs.n) goto none;
  for (size_t i = 0; i < sl.n; i++)
    if (sl.v[i]->op == TG_OP_LOAD && cg_list_has(&bufs, buf_uop(sl.v[i]->src[0])) && cg_list_push(&loads, sl.v[i])) goto fail;
  if (!loads.n) goto none;
  if (!(s = malloc((loads.n + end->nsrc) * sizeof *s))) goto fail;
  s[0] = end->src[0];
  for (size_t i = 0; i < loads.n; i++) s[1 + i] = loads.v[i];
  tg_uop *bar = tg_uop_new(TG_OP_BARRIER, TG_DT_VOID, s, 1 + loads.n, tg_arg_none());
  if (!bar) goto fail;
  s[0] = bar;
  for (size_t i = 1; i < end->nsrc; i++) s[i] = end->src[i];
  r = cg_with_src(end, s, end->nsrc);
  tg_uop_release(bar);
  if (!r) goto fail;
none:
  free(s), cg_list_free(&rngs), cg_list_free(&sl), cg_list_free(&bufs), cg_list_free(&loads);
  return r;
fail:
  free(s), cg_list_free(&rngs), cg_list_free(&sl), cg_list_free(&bufs), cg_list_free(&loads);
  return tg_rw_fail(rw);
}

#define OPSET(op) {{(op) < 64 ? 1ull << ((op) & 63) : 0, (op) >= 64 ? 1ull << ((op) & 63) : 0}}
static const tg_upat stage_pat = {.ops = OPSET(TG_OP_STAGE), .has_ops = 1, .slot = 0};
static const tg_upat after_pat = {.ops = OPSET(TG_OP_AFTER), .has_ops = 1, .slot = 0};
static const tg_upat end_pat = {.ops = OPSET(TG_OP_END), .has_ops = 1, .slot = 0};
static const tg_rule local_rules[] = {{&stage_pat, add_local_buffer, "codegen pm_add_local_buffers"}};
static const tg_rule barrier_rules[] = {{&after_pat, add_raw_barrier, "codegen add_raw_barrier"}, {&end_pat, add_war_barrier, "codegen add_war_barrier"}};
static tg_pm *g_local, *g_barrier;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void init(void) {
  tg_pm *l = tg_pm_new(local_rules, 1);
  const tg_pm *p[] = {l, cg_pm_mops()};
  g_local = l ? tg_pm_concat(p, 2) : NULL;
  tg_pm_free(l);
  g_barrier = tg_pm_new(barrier_rules, 2);
}
const tg_pm *cg_pm_add_local_buffers(void) { pthread_once(&g_once, init); return g_local; }
const tg_pm *cg_pm_implicit_barriers(void) { pthread_once(&g_once, init); return g_barrier; }
