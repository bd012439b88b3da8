/* codegen/weak.c -- tinygrad 0.14.0's uop/weak.py: weak (Python-number) dtypes committed to concrete ones, and
** weakint index math lowered to int (or long where the bounds need it). Rules are data in weak.rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"

const tg_pm *tg_pm_cg_lower_weak(void);

static int is_weak(int dt) { return dt == TG_WEAKINT || dt == TG_WEAKFLOAT; }

/* default_dtype(u): the float default for weakfloat; long when the bounds overflow int32, else int */
static int default_dtype(tg_uop *u) {
  if (u->dtype == TG_WEAKFLOAT) return (int)tg_dt_default_float();
  tg_num lo = tg_uop_vmin(u), hi = tg_uop_vmax(u);
  double l = tg_num_as_f(lo), h = tg_num_as_f(hi);
  int over = l < -2147483648.0 || h > 2147483647.0;
  if (lo.kind == TG_NUM_INT && hi.kind == TG_NUM_INT) over = lo.i < INT32_MIN || hi.i > INT32_MAX;
  return over ? TG_INT64 : TG_INT32;
}

static tg_uop *commit_srcs_at(tg_uop *u, int dt) {
  tg_uop *s[8];
  cg_pool pool = {0};
  if (u->nsrc > 8) return tg_err(TG_ERR_INTERNAL, "commit_weak: too many sources"), NULL;
  for (size_t i = 0; i < u->nsrc; i++) s[i] = is_weak(u->src[i]->dtype) ? K(cg_commit_weak(u->src[i], dt)) : u->src[i];
  tg_uop *r = tg_uop_new_tagged((tg_op)u->op, TG_DT_AUTO, s, u->nsrc, u->arg, u->tag);
  cg_pool_free(&pool);
  return r;
fail:
  cg_pool_free(&pool);
  return NULL;
}

static tg_uop *commit_weak_srcs(tg_rw *rw, tg_uop *u) {
  int any = 0;
  tg_dtype dts[8];
  if (u->nsrc > 8) return NULL;
  for (size_t i = 0; i < u->nsrc; i++) any |= is_weak(u->src[i]->dtype), dts[i] = (tg_dtype)u->src[i]->dtype;
  if (!any) return NULL;
  tg_dtype dt = tg_dt_least_upper(dts, u->nsrc);
  if (dt == TG_DT_NONE || is_weak(dt)) return NULL;
  return cg_ok(rw, commit_srcs_at(u, dt));
}

static tg_uop *commit_store(tg_rw *rw, tg_uop *u) {
  tg_uop *s[8];
  if (u->nsrc > 8) return NULL;
  cg_memcpy(s, u->src, u->nsrc * sizeof *s);
  tg_uop *c = cg_commit_weak(u->src[1], u->src[0]->dtype);
  if (!c) return tg_rw_fail(rw);
  s[1] = c;
  tg_uop *r = cg_with_src(u, s, u->nsrc);
  tg_uop_release(c);
  return cg_ok(rw, r);
}

static tg_uop *cast_weak_srcs(tg_rw *rw, tg_uop *c, tg_uop *u) {
  if (is_weak(c->dtype) || (int)tg_dt_weak((tg_dtype)c->dtype) != u->dtype) return NULL;
  tg_dtype dt = tg_dt_least_upper2((tg_dtype)c->dtype, (tg_dtype)default_dtype(u));
  tg_uop *m = commit_srcs_at(u, dt), *r = m ? tg_um_cast(m, c->dtype) : NULL;
  tg_uop_release(m);
  return cg_ok(rw, r);
}

static tg_uop *commit_const_cast(tg_rw *rw, tg_uop *c, tg_uop *u) { return cg_ok(rw, cg_commit_weak(u, c->dtype)); }

/* ---------------- pm_lower_weak ---------------- */

static tg_uop *lower_weak_const(tg_rw *rw, tg_uop *u) {
  tg_uop *k = tg_um_const(default_dtype(u), tg_uop_val(u)), *r = k ? tg_um_cast(k, u->dtype) : NULL;
  tg_uop_release(k);
  return cg_ok(rw, r);
}

static tg_uop *lower_weak_double_cast(tg_rw *rw, tg_uop *u, tg_uop *x) {
  if (is_weak(x->dtype)) return NULL;
  cg_pool pool = {0};
  tg_uop *a = K(tg_um_cast(x, default_dtype(u->src[0]))), *b = K(tg_um_cast(a, default_dtype(u)));
  tg_uop *r = tg_um_cast(b, u->dtype);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *lower_weak_param(tg_rw *rw, tg_uop *u) {
  if (cg_param_addrspace(u) != CG_AS_ALU) return NULL;
  int dt = default_dtype(u);
  tg_arg a;
  if (tg_arg_copy(&u->arg, &a) != TG_OK) return tg_rw_fail(rw);
  if (a.kind == TG_ARG_TUPLE && a.n > TG_PARAMARG_DTYPE) ((tg_arg *)a.items)[TG_PARAMARG_DTYPE] = tg_arg_dtype(dt);
  tg_uop *p = tg_uop_new_tagged((tg_op)u->op, dt, u->src, u->nsrc, a, u->tag);
  tg_arg_free(&a);
  tg_uop *r = p ? tg_um_cast(p, TG_WEAKINT) : NULL;
  tg_uop_release(p);
  return cg_ok(rw, r);
}

static tg_uop *lower_weak_node(tg_rw *rw, tg_uop *u) {
  tg_uop *src[8];
  if (u->nsrc > 8) return NULL;
  int changed = 0;
  for (size_t i = 0; i < u->nsrc; i++) {
    tg_uop *s = u->src[i];
    src[i] = (s->op == TG_OP_CAST && is_weak(s->dtype)) ? s->src[0] : s;
    changed |= src[i] != s;
  }
  size_t start = u->op == TG_OP_WHERE ? 1 : 0;
  if (!changed) return NULL;
  for (size_t i = start; i < u->nsrc; i++)
    if (is_weak(src[i]->dtype)) return NULL;
  int dt;
  if (tg_opset_has(TG_GROUP_BINARY, (tg_op)u->op)) {
    tg_dtype dts[9];
    dts[0] = (tg_dtype)default_dtype(u);
    for (size_t i = 0; i < u->nsrc; i++) dts[i + 1] = (tg_dtype)src[i]->dtype;
    dt = (int)tg_dt_strong(tg_dt_least_upper(dts, u->nsrc + 1));
  } else {
    dt = tg_uop_infer_dtype((tg_op)u->op, src, u->nsrc, &u->arg);
    if (dt < 0) return tg_rw_fail(rw);
    dt = (int)tg_dt_strong((tg_dtype)dt);
  }
  cg_pool pool = {0};
  tg_uop *ns[8];
  for (size_t i = 0; i < u->nsrc; i++)
    ns[i] = (i < start || cg_is_invalid(tg_uop_base(src[i]))) ? src[i] : K(cg_commit_weak(src[i], dt));
  tg_uop *n = K(tg_uop_new_tagged((tg_op)u->op, TG_DT_AUTO, ns, u->nsrc, u->arg, u->tag));
  tg_uop *r = tg_um_cast(n, u->dtype);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* ---------------- pm_lower_index_dtype ---------------- */

static tg_uop *lower_one(cg_weak_ctx *ctx, tg_uop *s) {
  uint64_t *hit = tg_ptrset_get(&ctx->memo, s);
  if (hit) return (tg_uop *)(uintptr_t)*hit;
  tg_uop *r = tg_graph_rewrite(s, tg_pm_cg_lower_weak(), NULL, 0, NULL);
  if (!r) return NULL;
  tg_uop *res = (r->op == TG_OP_CAST && is_weak(r->dtype)) ? r->src[0] : r;
  if (!cg_pool_add(&ctx->keep, tg_uop_retain(res)) || !cg_pool_add(&ctx->keep, tg_uop_retain(s))) { tg_uop_release(r); return NULL; }
  tg_uop_release(r);
  if (!tg_ptrset_put(&ctx->memo, s, (uint64_t)(uintptr_t)res)) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
  return res;
}

static tg_uop *lower_weak_srcs(tg_rw *rw, tg_uop *u) {
  if (is_weak(u->dtype)) return NULL;
  int any = 0;
  for (size_t i = 0; i < u->nsrc; i++) any |= is_weak(u->src[i]->dtype);
  if (!any) return NULL;
  cg_weak_ctx *ctx = rw->ctx;
  tg_uop *ret;
  if (tg_opset_has(TG_GROUP_COMPARISON, (tg_op)u->op)) {
    tg_uop *l = lower_one(ctx, u);
    if (!l) return tg_rw_fail(rw);
    ret = tg_uop_retain(l);
  } else {
    tg_uop **s = malloc(u->nsrc * sizeof *s);
    if (!s) return tg_rw_fail(rw);
    for (size_t i = 0; i < u->nsrc; i++) {
      s[i] = is_weak(u->src[i]->dtype) ? lower_one(ctx, u->src[i]) : u->src[i];
      if (!s[i]) { free(s); return tg_rw_fail(rw); }
    }
    ret = cg_with_src(u, s, u->nsrc);
    free(s);
    if (!ret) return tg_rw_fail(rw);
  }
  if (ret == u) { tg_uop_release(ret); return NULL; }
  return ret;
}

static tg_uop *narrow_long_index(tg_rw *rw, tg_uop *u, tg_uop *buf, tg_uop *gate, tg_uop *idx) {
  int64_t n = cg_max_numel(buf);
  if (n < 0) return tg_rw_fail(rw);
  if (n - 1 > INT32_MAX) return NULL;
  cg_pool pool = {0};
  tg_uop *c = K(tg_um_cast(idx, TG_INT32)), *v = K(cg_valid(c, gate));
  tg_uop *s[8];
  if (u->nsrc > 8) goto fail;
  cg_memcpy(s, u->src, u->nsrc * sizeof *s);
  s[0] = buf, s[1] = v;
  tg_uop *r = cg_with_src(u, s, u->nsrc);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

#include "codegen/weak_rules.inc"

const tg_pm *cg_pm_commit_weak(void) { return tg_pm_cg_commit_weak(); }
const tg_pm *cg_pm_cast_weak(void) { return tg_pm_cg_cast_weak(); }

static tg_pm *g_lower;
static pthread_once_t g_lower_once = PTHREAD_ONCE_INIT;
static void lower_init(void) {
  const tg_pm *parts[] = {tg_pm_cg_commit_weak(), tg_pm_cg_cast_weak(), tg_pm_cg_lower_index_rules()};
  g_lower = tg_pm_concat(parts, 3);
}
const tg_pm *cg_pm_lower_index_dtype(void) {
  pthread_once(&g_lower_once, lower_init);
  return g_lower;
}
