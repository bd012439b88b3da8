/* codegen/simplify.c -- tinygrad 0.14.0's codegen/simplify.py: pm_flatten_range, pm_simplify_ranges (merge adjacent
** ranges, shrink gated ones), pm_split_ranges, pm_reduce_unparented. Rules are data in simplify.rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "codegen/upat_hand.h"
#include "uop/symbolic.h"

void cg_rmap_free(cg_rmap *m) {
  cg_list_free(&m->k), cg_list_free(&m->v), cg_pool_free(&m->keep);
}
static int rmap_get(cg_rmap *m, tg_uop *k, tg_uop **v) {
  long i = cg_list_find(&m->k, k);
  if (i >= 0 && v) *v = m->v.v[i];
  return i >= 0;
}
/* ctx[k] = v (dict semantics: an existing key keeps its place) */
static int rmap_set(cg_rmap *m, tg_uop *k, tg_uop *v) {
  long i = cg_list_find(&m->k, k);
  if (!cg_pool_add(&m->keep, tg_uop_retain(k)) || !cg_pool_add(&m->keep, tg_uop_retain(v))) return -1;
  if (i >= 0) { m->v.v[i] = v; return 0; }
  return cg_list_push(&m->k, k) || cg_list_push(&m->v, v) ? -1 : 0;
}
static void rmap_clear(cg_rmap *m) { m->k.n = m->v.n = 0; }

/* ---------------- flatten_range ---------------- */

static int range_start_of(tg_op op) {
  switch (op) {
  case TG_OP_STAGE: case TG_OP_REDUCE: case TG_OP_END: case TG_OP_CALL: case TG_OP_FUNCTION: return 1;
  case TG_OP_WMMA: return 3;
  default: return 0;
  }
}

tg_uop *cg_flatten_range_of(tg_uop *r) {
  size_t off = (size_t)range_start_of((tg_op)r->op);
  if (r->nsrc <= off) return NULL;
  cg_list real = {0}, back = {0}, rngs = {0};
  tg_uop *ret = NULL;
  int err = 0;
  for (size_t i = off; i < r->nsrc && !err; i++) {
    tg_uop *x = r->src[i];
    err = cg_list_push((x->dtype == TG_DT_VOID || x->dtype == TG_BOOL) ? &back : &real, x);
  }
  if (!err) err = cg_ranges_of(real.v, real.n, &rngs);
  if (!err) {
    size_t n = off + rngs.n + back.n;
    tg_uop **s = malloc((n ? n : 1) * sizeof *s);
    if (!s) err = 1;
    else {
      cg_memcpy(s, r->src, off * sizeof *s);
      cg_memcpy(s + off, rngs.v, rngs.n * sizeof *s);
      cg_memcpy(s + off + rngs.n, back.v, back.n * sizeof *s);
      ret = cg_with_src(r, s, n);
      free(s);
      err = !ret;
    }
  }
  cg_list_free(&real), cg_list_free(&back), cg_list_free(&rngs);
  if (err) tg_uop_release(ret), ret = NULL;
  return ret;
}

static tg_uop *flatten_range(tg_rw *rw, tg_uop *r) {
  size_t off = (size_t)range_start_of((tg_op)r->op);
  if (r->nsrc <= off) return NULL;
  return cg_ok(rw, cg_flatten_range_of(r));
}

/* ---------------- simplify_merge_adjacent ---------------- */

static size_t count_divmod(tg_uop *x, int *err) {
  cg_list t = {0};
  if (cg_toposort(x, &t)) return *err = 1, 0;
  size_t c = 0;
  for (size_t i = 0; i < t.n; i++)
    if (t.v[i] != x && (t.v[i]->op == TG_OP_FLOORDIV || t.v[i]->op == TG_OP_FLOORMOD)) c++;
  cg_list_free(&t);
  return c;
}

static tg_uop *subst_ctx_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *v;
  return rmap_get(rw->ctx, b[0], &v) ? tg_uop_retain(v) : NULL;
}
static const tg_upat any_named = {.ops = {{~0ull, ~0ull}}, .has_ops = 1, .slot = 0};
static const tg_rule subst_rule = {&any_named, subst_ctx_rule, "ops.py _substitute (ctx)"};
static tg_pm *g_merge_pm;
static pthread_once_t g_merge_once = PTHREAD_ONCE_INIT;
static void merge_init(void) {
  tg_pm *s = tg_pm_new(&subst_rule, 1);
  const tg_pm *parts[] = {s, tg_pm_symbolic(), cg_pm_flatten_range()};
  if (s) g_merge_pm = tg_pm_concat(parts, 3);
  tg_pm_free(s);
}

static tg_uop *merge_adjacent(tg_rw *rw, tg_uop *u) {
  cg_list ended = {0}, topo = {0};
  cg_pool pool = {0};
  tg_uop *cur = NULL;
  int err = cg_ended_ranges(u, &ended);
  for (size_t i = 0; i < ended.n && !err; i++)
    if (ended.v[i]->op != TG_OP_RANGE) goto none;
  pthread_once(&g_merge_once, merge_init);
  if (!err && !g_merge_pm) err = 1;
  if (!err) err = cg_toposort(u, &topo);
  if (err) goto fail;
  cg_list reds = {0};
  for (size_t i = 0; i < topo.n; i++)
    if (topo.v[i]->op == TG_OP_REDUCE && cg_list_push(&reds, topo.v[i])) { cg_list_free(&reds); goto fail; }
  cur = tg_uop_retain(u);
  size_t ne = ended.n;
  for (size_t a = 0; a < ne && !err; a++)
    for (size_t b = 0; b < ne && !err; b++) {
      if (u->op == TG_OP_END ? b != a + 1 : a == b) continue;
      tg_uop *r0 = ended.v[a], *r1 = ended.v[b];
      if (cg_range_type(r0) != cg_range_type(r1)) continue;
      int same = 1;
      for (size_t k = 0; k < reds.n && same && !err; k++) {
        const cg_list *rr = cg_ranges(reds.v[k]);
        if (!rr) { err = 1; break; }
        same = cg_list_has(rr, r0) == cg_list_has(rr, r1);
      }
      if (!same || err) continue;
      tg_uop *s0 = r0->src[0], *s1 = r1->src[0];
      tg_uop *prod = cg_pool_add(&pool, tg_um_binop(TG_OP_MUL, s0, s1));
      tg_uop *nr = prod ? cg_pool_add(&pool, cg_with_src(r0, &prod, 1)) : NULL;
      tg_uop *q = nr ? cg_pool_add(&pool, tg_um_floordiv(nr, s1)) : NULL;
      tg_uop *m = q ? cg_pool_add(&pool, tg_um_mod(nr, s1)) : NULL;
      if (!m) { err = 1; break; }
      cg_rmap ctx = {0};
      if (rmap_set(&ctx, r0, q) || rmap_set(&ctx, r1, m)) { cg_rmap_free(&ctx); err = 1; break; }
      tg_uop *nidx = tg_graph_rewrite(cur, g_merge_pm, &ctx, 0, NULL);
      cg_rmap_free(&ctx);
      if (!nidx) { err = 1; break; }
      size_t c1 = count_divmod(nidx, &err), c0 = count_divmod(cur, &err);
      if (!err && c1 <= c0) {
        tg_uop_release(cur);
        cur = nidx;
      } else tg_uop_release(nidx);
    }
  cg_list_free(&reds);
  if (err) goto fail;
  cg_list_free(&ended), cg_list_free(&topo), cg_pool_free(&pool);
  return cur;
none:
  cg_list_free(&ended), cg_list_free(&topo), cg_pool_free(&pool);
  return NULL;
fail:
  tg_uop_release(cur);
  cg_list_free(&ended), cg_list_free(&topo), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* ---------------- mark_gated / reduce / substitute ---------------- */

static tg_uop *mark_gated(tg_rw *rw, tg_uop *idx) {
  cg_rmap *ctx = rw->ctx;
  tg_uop *x = idx;
  cg_list gk = {0}, gv = {0};
  int err = 0;
  if (idx->nsrc > 1 && idx->src[1]->op == TG_OP_WHERE) {
    tg_uop *w = idx->src[1];
    int inv = cg_is_invalid(w->src[2]);
    x = inv ? w->src[1] : w;
    tg_uop *cond = inv ? w->src[0] : NULL;
    if (cond) {
      size_t n = 0;
      tg_uop **v = tg_uop_split(cond, TG_OP_AND, &n);
      if (!v) return tg_rw_fail(rw);
      for (size_t i = 0; i < n && !err; i++)
        if (v[i]->op == TG_OP_CMPLT && v[i]->src[0]->op == TG_OP_RANGE && v[i]->src[1]->op == TG_OP_CONST) {
          long at = cg_list_find(&gk, v[i]->src[0]);
          if (at >= 0) gv.v[at] = v[i]->src[1];
          else err = cg_list_push(&gk, v[i]->src[0]) || cg_list_push(&gv, v[i]->src[1]);
        }
      free(v);
    }
  }
  for (size_t i = 0; i < gk.n && !err; i++) {
    tg_uop *cur;
    if (!rmap_get(ctx, gk.v[i], &cur) || cg_cval(cur, 0) < cg_cval(gv.v[i], 0)) err = rmap_set(ctx, gk.v[i], gv.v[i]);
  }
  const cg_list *xr = err ? NULL : cg_ranges(x);
  if (!xr) err = 1;
  for (size_t i = 0; !err && i < xr->n; i++)
    if (!cg_list_has(&gk, xr->v[i])) err = rmap_set(ctx, xr->v[i], xr->v[i]->src[0]);
  cg_list_free(&gk), cg_list_free(&gv);
  return err ? tg_rw_fail(rw) : NULL;
}

static tg_uop *mark_reduce(tg_rw *rw, tg_uop *red) {
  for (size_t i = 1; i < red->nsrc; i++)
    if (rmap_set(rw->ctx, red->src[i], red->src[i]->src[0])) return tg_rw_fail(rw);
  return NULL;
}

/* do_substitute: x.substitute({k: f(k, v)}); ctx.clear(); the simplified result, None when nothing changed */
typedef tg_uop *(*sub_fn)(tg_uop *k, tg_uop *v);
static tg_uop *do_substitute(tg_rw *rw, tg_uop *x, sub_fn f) {
  cg_rmap *ctx = rw->ctx;
  cg_pool pool = {0};
  size_t n = ctx->k.n;
  tg_uop **vals = malloc((n ? n : 1) * sizeof *vals), *ret = NULL;
  if (!vals) return tg_rw_fail(rw);
  for (size_t i = 0; i < n; i++)
    if (!(vals[i] = cg_pool_add(&pool, f(ctx->k.v[i], ctx->v.v[i])))) goto fail;
  tg_uop *s = K(n ? tg_uop_substitute(x, ctx->k.v, vals, n) : tg_uop_retain(x));
  rmap_clear(ctx);
  if (s != x && !(ret = tg_uop_simplify(s))) goto fail;
  free(vals);
  cg_pool_free(&pool);
  return ret;
fail:
  free(vals);
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *replace_end(tg_uop *r, tg_uop *c) { return cg_with_src(r, &c, 1); }
static tg_uop *substitute_ranges(tg_rw *rw, tg_uop *x) { return do_substitute(rw, x, replace_end); }

/* ---------------- split ranges ---------------- */

static tg_uop *mark_range_mod(tg_rw *rw, tg_uop *r, tg_uop *c) {
  cg_rmap *ctx = rw->ctx;
  if (rmap_get(ctx, r, NULL)) return NULL;
  int t = cg_range_type(r);
  if (t == CG_AX_WARP || t == CG_AX_DEVICE || r->src[0]->op != TG_OP_CONST) return NULL;
  int err = 0;
  tg_num cv = tg_uop_val(c);
  if (cv.kind != TG_NUM_INT) return NULL;
  tg_uop *d = tg_uop_divides(r->src[0], cv.i, &err);
  if (err) return tg_rw_fail(rw);
  if (!d) return NULL;
  tg_uop_release(d);
  return rmap_set(ctx, r, c) ? tg_rw_fail(rw) : NULL;
}

static tg_uop *range_with(tg_uop *k, tg_uop *end, int64_t sub) {
  tg_arg items[10];
  uint32_t n = k->arg.n;
  if (n < 1 || n > 9) return tg_err(TG_ERR_INTERNAL, "split_ranges: bad RANGE arg"), NULL;
  for (uint32_t i = 0; i + 1 < n; i++) items[i] = k->arg.items[i];
  items[n - 1] = tg_arg_int(sub);
  items[n] = k->arg.items[n - 1];
  tg_arg a = tg_arg_tuple(items, n + 1);
  return tg_uop_replace(k, (tg_op)k->op, k->dtype, &end, 1, &a, NULL);
}

static tg_uop *split_one(tg_uop *k, tg_uop *v) {
  cg_pool pool = {0};
  tg_uop *q = K(tg_um_floordiv(k->src[0], v)), *outer = K(range_with(k, q, 0)), *inner = K(range_with(k, v, 1));
  tg_uop *m = K(tg_um_binop(TG_OP_MUL, outer, v));
  tg_uop *r = tg_um_binop(TG_OP_ADD, m, inner);
  cg_pool_free(&pool);
  return r;
fail:
  cg_pool_free(&pool);
  return NULL;
}
static tg_uop *split_ranges(tg_rw *rw, tg_uop *x) { return do_substitute(rw, x, split_one); }

/* ---------------- reduce_unparented ---------------- */

static tg_uop *reduce_unparented(tg_rw *rw, tg_uop *red) {
  const tg_arg *a = cg_tuple_item(&red->arg, 0);
  if (!a || (a->i != TG_OP_ADD && a->i != TG_OP_MAX && a->i != TG_OP_MUL)) return NULL;
  const cg_list *sr = cg_ranges(red->src[0]);
  if (!sr) return tg_rw_fail(rw);
  cg_list par = {0}, unpar = {0};
  cg_pool pool = {0};
  for (size_t i = 1; i < red->nsrc; i++)
    if (cg_list_push(cg_list_has(sr, red->src[i]) ? &par : &unpar, red->src[i])) goto fail;
  tg_uop *ret = NULL;
  if (unpar.n == 0) goto none;
  if (par.n || red->dtype != red->src[0]->dtype) {
    tg_uop **s = malloc((par.n + 1) * sizeof *s);
    if (!s) goto fail;
    s[0] = red->src[0];
    cg_memcpy(s + 1, par.v, par.n * sizeof *s);
    ret = cg_pool_add(&pool, cg_with_src(red, s, par.n + 1));
    free(s);
    if (!ret) goto fail;
  } else ret = red->src[0];
  for (size_t i = 0; i < unpar.n && (a->i == TG_OP_ADD || a->i == TG_OP_MUL); i++)
    ret = K(tg_um_binop(a->i == TG_OP_ADD ? TG_OP_MUL : TG_OP_POW, ret, unpar.v[i]->src[0]));
  ret = tg_uop_retain(ret);
  cg_list_free(&par), cg_list_free(&unpar), cg_pool_free(&pool);
  return ret;
none:
  cg_list_free(&par), cg_list_free(&unpar), cg_pool_free(&pool);
  return NULL;
fail:
  cg_list_free(&par), cg_list_free(&unpar), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}




/* ---------------- reduce collapse (arange / gather) ---------------- */

static int slice_has_op(tg_uop *u, tg_op op) {
  int r = cg_op_in_slice(u, op);
  return r < 0 ? 0 : r;
}
static int no_range(tg_rw *rw, tg_uop *u) { (void)rw; return !slice_has_op(u, TG_OP_RANGE); }
static int no_load(tg_rw *rw, tg_uop *u) { (void)rw; return !slice_has_op(u, TG_OP_INDEX); }

static int is_add_reduce(tg_uop *red) {
  const tg_arg *a = cg_tuple_item(&red->arg, 0), *n = cg_tuple_item(&red->arg, 1);
  return a && n && a->kind == TG_ARG_OP && a->i == TG_OP_ADD && n->i == 0;
}

/* x.reduce(*red.src[1:], arg=Ops.ADD) */
static tg_uop *reduce_like(tg_uop *red, tg_uop *x) {
  tg_uop **s = malloc(red->nsrc * sizeof *s);
  if (!s) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
  s[0] = x;
  cg_memcpy(s + 1, red->src + 1, (red->nsrc - 1) * sizeof *s);
  tg_arg items[2] = {tg_arg_op(TG_OP_ADD), tg_arg_int(0)};
  tg_uop *r = tg_uop_new(TG_OP_REDUCE, TG_DT_AUTO, s, red->nsrc, tg_arg_tuple(items, 2));
  free(s);
  return r;
}

static tg_uop *arange_sum(tg_rw *rw, tg_uop *red, tg_uop *r, tg_uop *val, tg_uop *lower, tg_uop *upper) {
  if (!is_add_reduce(red) || !no_range(rw, val)) return NULL;
  cg_pool pool = {0};
  tg_uop *n = r->src[0], *zero = K(cg_cint(0));
  tg_uop *hi = upper ? K(tg_um_minimum(upper, n)) : n;
  tg_uop *lo = lower ? K(tg_um_binop(TG_OP_MAX, lower, zero)) : K(tg_um_const(r->dtype, tg_num_i(0)));
  tg_uop *cnt = K(tg_um_minimum(K(tg_um_binop(TG_OP_MAX, K(tg_um_sub(hi, lo)), zero)), n));
  tg_uop *ret = tg_um_binop(TG_OP_MUL, cnt, val);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *invalid_reduce(tg_rw *rw, tg_uop *red, tg_uop *cond, tg_uop *x, tg_uop *i) {
  if (!is_add_reduce(red) || !no_range(rw, cond)) return NULL;
  tg_uop *rx = reduce_like(red, x), *r = rx ? tg_um_where(cond, rx, i) : NULL;
  tg_uop_release(rx);
  return cg_ok(rw, r);
}

static tg_uop *add_reduce(tg_rw *rw, tg_uop *red, tg_uop *x, tg_uop *y) {
  if (!is_add_reduce(red)) return NULL;
  tg_uop *a = reduce_like(red, x), *b = a ? reduce_like(red, y) : NULL, *r = b ? tg_um_binop(TG_OP_ADD, a, b) : NULL;
  tg_uop_release(a), tg_uop_release(b);
  return cg_ok(rw, r);
}

static tg_uop *param_and_reduce(tg_rw *rw, tg_uop *red, tg_uop *x, tg_uop *y, tg_uop *c) {
  if (!is_add_reduce(red)) return NULL;
  cg_pool pool = {0};
  tg_uop *w = K(tg_um_where(y, c, K(cg_cint(0)))), *rr = K(reduce_like(red, w));
  tg_uop *r = tg_um_binop(TG_OP_MUL, rr, x);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *load_reduce_sub(tg_rw *rw, tg_uop *red, tg_uop *r, tg_uop *idx, tg_uop *expr) {
  if (!is_add_reduce(red) || red->nsrc != 2) return NULL;
  cg_pool pool = {0};
  tg_uop *ic = K(tg_um_cast(idx, r->dtype));
  tg_uop *ge = K(tg_um_logical_not(K(tg_um_binop(TG_OP_CMPLT, ic, K(cg_cint(0))))));
  tg_uop *v = K(tg_um_binop(TG_OP_AND, ge, K(tg_um_binop(TG_OP_CMPLT, ic, r->src[0]))));
  tg_uop *sub = K(cg_substitute1(expr, r, K(cg_valid(ic, v))));
  tg_uop *ret = tg_um_where(v, sub, K(cg_cint(0)));
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

const tg_pm *tg_pm_cg_reduce_collapse_lt(void);
const tg_pm *tg_pm_cg_reduce_collapse_tail(void);
const tg_pm *tg_pm_cg_reduce_load_collapse_rules(void);
const tg_pm *tg_pm_cg_load_collapse_rules(void);
const tg_pm *tg_pm_cg_reduce_unparented(void);
static tg_pm *g_rc, *g_rlc, *g_lc;
static pthread_once_t g_rc_once = PTHREAD_ONCE_INIT;
static void rc_init(void);

static int gate_in_ranges(tg_uop *x, void *ctx) {
  const cg_list *r = cg_ranges(x);
  return r && cg_list_has(r, ctx);
}

/* reduce_collapse(red, u, pm): per reduce range, the part of u that depends on it is rewritten alone (everything else
** becomes a variable) and must lose the range */
static tg_uop *reduce_collapse(tg_rw *rw, tg_uop *red, tg_uop *u0, const tg_pm *pm) {
  cg_pool pool = {0};
  cg_list inc = {0}, keys = {0}, vals = {0};
  tg_uop *u = u0;
  for (size_t ri = 1; ri < red->nsrc; ri++) {
    tg_uop *r = red->src[ri];
    inc.n = keys.n = vals.n = 0;
    if (cg_toposort_gated(u, gate_in_ranges, r, &inc)) goto fail;
    for (size_t i = 0; i < inc.n; i++)
      if (inc.v[i]->op == TG_OP_STORE || inc.v[i]->op == TG_OP_REDUCE) goto none;
    for (size_t i = 0; i < inc.n; i++)
      for (size_t k = 0; k < inc.v[i]->nsrc; k++) {
        tg_uop *s = inc.v[i]->src[k];
        if (cg_list_has(&inc, s) || cg_list_has(&keys, s) || s->op == TG_OP_CONST || s->op == TG_OP_PARAM || s->op == TG_OP_BUFFER) continue;
        char nm[32];
        snprintf(nm, sizeof nm, "in%zu", keys.n);
        tg_uop *var = K(cg_variable_num(nm, tg_uop_vmin(s), tg_uop_vmax(s), s->dtype));
        if (cg_list_push(&keys, s) || cg_list_push(&vals, var)) goto fail;
      }
    if (inc.n) u = inc.v[inc.n - 1]; /* tinygrad's loop variable shadows u */
    tg_uop *sub = K(tg_uop_substitute(u, keys.v, vals.v, keys.n));
    tg_uop *cf = K(cg_new(TG_OP_REDUCE, TG_DT_AUTO, (tg_uop *[]){sub, r}, 2, tg_arg_tuple((tg_arg[]){tg_arg_op(TG_OP_ADD), tg_arg_int(0)}, 2)));
    tg_uop *sink = K(tg_graph_rewrite(cf, pm, NULL, 0, NULL));
    if (slice_has_op(sink, TG_OP_RANGE)) goto none;
    u = K(tg_uop_substitute(sink, vals.v, keys.v, keys.n));
  }
  tg_uop *ret = tg_uop_retain(u);
  cg_pool_free(&pool), cg_list_free(&inc), cg_list_free(&keys), cg_list_free(&vals);
  return ret;
none:
  cg_pool_free(&pool), cg_list_free(&inc), cg_list_free(&keys), cg_list_free(&vals);
  return NULL;
fail:
  cg_pool_free(&pool), cg_list_free(&inc), cg_list_free(&keys), cg_list_free(&vals);
  return tg_rw_fail(rw);
}

static tg_uop *reduce_load_collapse(tg_rw *rw, tg_uop *red, tg_uop *u) {
  if (!is_add_reduce(red)) return NULL;
  pthread_once(&g_rc_once, rc_init);
  if (!g_rlc) return tg_rw_fail(rw);
  return reduce_collapse(rw, red, u, g_rlc);
}

#include "codegen/simplify_rules.inc"

/* ---- the REDUCE(arg=(Ops.ADD, 0)) patterns of the collapse matchers, as tables ---- */

/* tinygrad: (UPat.any((UPat(Ops.RANGE, name="r") < UPat.var("upper")).where(UPat.var("val"), 0),
**   (UPat(Ops.RANGE, name="r") < UPat.var("lower")).where(0, UPat.var("val")),
**   ((UPat.var("r")<UPat.var("lower")).logical_not()&(UPat(Ops.RANGE, name="r")<UPat.var("upper"))).where(UPat.var("val"), 0),
**   ).reduce(UPat.var("r"), arg=Ops.ADD), lambda r,val,lower=None,upper=None: ...) */
static const tg_upat ar_rng = {HOP(TG_OP_RANGE), .slot = 0}, ar_r = {.slot = 0}, ar_upper = {.slot = 1}, ar_val = {.slot = 2}, ar_lower = {.slot = 3};
static const tg_upat ar_zero = {HOP(TG_OP_CONST), .arg = &H_ZERO, .slot = -1}, ar_true = {HOP(TG_OP_CONST), .arg = &H_TRUE, .slot = -1};
static const tg_upat ar_lt_up = {HOP(TG_OP_CMPLT), HBOOL, HSRC(TG_UPAT_SRC_TUPLE, &ar_rng, &ar_upper), .slot = -1};
static const tg_upat ar_lt_lo = {HOP(TG_OP_CMPLT), HBOOL, HSRC(TG_UPAT_SRC_TUPLE, &ar_rng, &ar_lower), .slot = -1};
static const tg_upat ar_a = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &ar_lt_up, &ar_val, &ar_zero), .slot = -1};
static const tg_upat ar_b = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &ar_lt_lo, &ar_zero, &ar_val), .slot = -1};
static const tg_upat ar_r_lo = {HOP(TG_OP_CMPLT), HBOOL, HSRC(TG_UPAT_SRC_TUPLE, &ar_r, &ar_lower), .slot = -1};
static const tg_upat ar_not = {HOP(TG_OP_CMPNE), HBOOL, HSRC(TG_UPAT_SRC_PERM, &ar_r_lo, &ar_true), .slot = -1};
static const tg_upat ar_and = {HOP(TG_OP_AND), HBOOL, HSRC(TG_UPAT_SRC_PERM, &ar_not, &ar_lt_up), .slot = -1};
static const tg_upat ar_c = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &ar_and, &ar_val, &ar_zero), .slot = -1};
static const tg_upat ar_any = {.mode = TG_UPAT_ANY, .src = (const tg_upat *const[]){&ar_a, &ar_b, &ar_c}, .nsrc = 3, .slot = -1};
static const tg_upat ar_red = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &ar_any, &ar_r), .slot = -1};
static tg_uop *arange_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { return arange_sum(rw, root, b[0], b[2], b[3], b[1]); }

/* tinygrad: (invalid_gate.reduce(arg=Ops.ADD, allow_any_len=True, name="r"),
**   lambda cond,x,i,r: cond.where(x.reduce(*r.src[1:], arg=Ops.ADD), i) if no_range(cond) else None) */
static const tg_upat iv_cond = {.slot = 1}, iv_x = {.slot = 2}, iv_i = {HOP(TG_OP_CONST), .arg = &H_INVALID, .slot = 3};
static const tg_upat iv_gate = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &iv_cond, &iv_x, &iv_i), .slot = -1};
static const tg_upat iv_red = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &iv_gate), .allow_any_len = 1, .slot = 0};
static tg_uop *invalid_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return invalid_reduce(rw, b[0], b[1], b[2], b[3]); }

/* tinygrad: ((UPat.var("x")+UPat.var("y")).reduce(arg=Ops.ADD, allow_any_len=True, name="r"),
**   lambda x,y,r: x.reduce(*r.src[1:], arg=Ops.ADD) + y.reduce(*r.src[1:],arg=Ops.ADD)) */
static const tg_upat ad_x = {.slot = 1}, ad_y = {.slot = 2};
static const tg_upat ad_add = {HOP(TG_OP_ADD), HSRC(TG_UPAT_SRC_PERM, &ad_x, &ad_y), .slot = -1};
static const tg_upat ad_red = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &ad_add), .allow_any_len = 1, .slot = 0};
static tg_uop *add_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return add_reduce(rw, b[0], b[1], b[2]); }

/* tinygrad: ((UPat(Ops.PARAM, name="x") & UPat.var("y")).where(UPat.var("c"), 0).reduce(arg=Ops.ADD, allow_any_len=True, name="r"),
**   lambda x,y,c,r: y.where(c, 0).reduce(*r.src[1:], arg=Ops.ADD)*x) */
static const tg_upat pa_x = {HOP(TG_OP_PARAM), .slot = 1}, pa_y = {.slot = 2}, pa_c = {.slot = 3};
static const tg_upat pa_and = {HOP(TG_OP_AND), HSRC(TG_UPAT_SRC_PERM, &pa_x, &pa_y), .slot = -1};
static const tg_upat pa_where = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &pa_and, &pa_c, &ar_zero), .slot = -1};
static const tg_upat pa_red = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &pa_where), .allow_any_len = 1, .slot = 0};
static tg_uop *param_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return param_and_reduce(rw, b[0], b[1], b[2], b[3]); }

/* tinygrad: ((UPat.var("idx")!=(UPat(Ops.RANGE, name="r").or_casted())).where(0, UPat.var("expr")).reduce(UPat.var("r"), arg=Ops.ADD),
**   lambda r,idx,expr: (v:=(idx.cast(r.dtype) >= 0) & (idx.cast(r.dtype) < r.src[0])).where(expr.substitute({r:idx.cast(r.dtype).valid(v)}),0)) */
static const tg_upat ls_idx = {.slot = 1}, ls_expr = {.slot = 2}, ls_rng = {HOP(TG_OP_RANGE), .slot = 0};
static const tg_upat ls_cast = {HOP(TG_OP_CAST), HSRC(TG_UPAT_SRC_TUPLE, &ls_rng), .slot = -1};
static const tg_upat ls_any = {.mode = TG_UPAT_ANY, .src = (const tg_upat *const[]){&ls_rng, &ls_cast}, .nsrc = 2, .slot = -1};
static const tg_upat ls_ne = {HOP(TG_OP_CMPNE), HBOOL, HSRC(TG_UPAT_SRC_PERM, &ls_idx, &ls_any), .slot = -1};
static const tg_upat ls_where = {HOP(TG_OP_WHERE), HSRC(TG_UPAT_SRC_TUPLE, &ls_ne, &ar_zero, &ls_expr), .slot = -1};
static const tg_upat ls_red = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &ls_where, &ar_r), .slot = -1};
static tg_uop *load_sub_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { return load_reduce_sub(rw, root, b[0], b[1], b[2]); }

/* tinygrad: (UPat(Ops.REDUCE, arg=(Ops.ADD, 0), src=(UPat.var("u"), UPat()), name="red"), reduce_load_collapse) */
static const tg_upat lc_u = {.slot = 1}, lc_any = {.slot = -1};
static const tg_upat lc_red = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &lc_u, &lc_any), .slot = 0};
static tg_uop *load_collapse_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return reduce_load_collapse(rw, b[0], b[1]); }

static const tg_rule collapse_rules[] = {{&ar_red, arange_rule, "simplify.py pm_reduce_collapse arange"},
                                         {&iv_red, invalid_rule, "simplify.py pm_reduce_collapse invalid_gate"},
                                         {&ad_red, add_rule, "simplify.py pm_reduce_collapse x+y"},
                                         {&pa_red, param_rule, "simplify.py pm_reduce_collapse PARAM&y"}};
static const tg_rule load_sub_rules[] = {{&ls_red, load_sub_rule, "simplify.py pm_reduce_load_collapse gated load"}};
static const tg_rule load_collapse_rules[] = {{&lc_red, load_collapse_rule, "simplify.py pm_load_collapse"}};

static void rc_init(void) {
  tg_pm *h1 = tg_pm_new(collapse_rules, 4), *h2 = tg_pm_new(load_sub_rules, 1), *h3 = tg_pm_new(load_collapse_rules, 1);
  if (h1 && h2 && h3) {
    const tg_pm *a[] = {tg_pm_cg_reduce_unparented(), tg_pm_cg_reduce_collapse_lt(), h1, tg_pm_cg_reduce_collapse_tail(), tg_pm_symbolic()};
    g_rc = tg_pm_concat(a, 5);
    const tg_pm *b[] = {g_rc, tg_pm_cg_reduce_load_collapse_rules(), h2};
    if (g_rc) g_rlc = tg_pm_concat(b, 3);
    const tg_pm *c[] = {h3, tg_pm_cg_load_collapse_rules()};
    g_lc = tg_pm_concat(c, 2);
  }
  tg_pm_free(h1), tg_pm_free(h2), tg_pm_free(h3);
}

const tg_pm *cg_pm_load_collapse(void) {
  pthread_once(&g_rc_once, rc_init);
  return g_lc;
}
const tg_pm *cg_pm_flatten_range(void) { return tg_pm_cg_flatten_range(); }
const tg_pm *cg_pm_simplify_ranges(void) { return tg_pm_cg_simplify_ranges(); }
const tg_pm *cg_pm_split_ranges(void) { return tg_pm_cg_split_ranges(); }
const tg_pm *cg_pm_reduce_unparented(void) { return tg_pm_cg_reduce_unparented(); }
