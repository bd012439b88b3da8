/* schedule/valid.c -- the matchers the scheduler runs that tinygrad 0.14.0 keeps outside schedule/:
**   codegen/simplify.py  pm_flatten_range, pm_reduce_unparented, pm_reduce_simplify
**   uop/symbolic.py      pm_simplify_valid (simplify_valid, uop_given_valid, gated_given_valid), pm_drop_and_clauses
** They live here until uop/symbolic.c and codegen/simplify.c grow them; the rules are data (valid.rules). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "schedule/internal.h"
#include "tgc_internal.h"
#include "uop/symbolic.h"

static tg_uop *fail_oom(tg_rw *rw) { return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory"), tg_rw_fail(rw); }

/* ================ codegen/simplify.py ================ */

/* flatten_range: END/REDUCE close exactly the RANGEs their range sources reach, in ranges order */
static tg_uop *flatten_range(tg_rw *rw, tg_uop *r) {
  if (r->nsrc < 2) return NULL;
  tgs_pool P = {0};
  tg_uop **real = malloc(r->nsrc * sizeof *real), **back = malloc(r->nsrc * sizeof *back), **src = NULL;
  size_t nreal = 0, nback = 0, nr = 0;
  tg_uop *ret = NULL;
  int err = !real || !back;
  for (size_t i = 1; i < r->nsrc && !err; i++) {
    tg_uop *x = r->src[i];
    if (x->dtype == TG_DT_VOID || x->dtype == TG_BOOL) back[nback++] = x;
    else real[nreal++] = x;
  }
  tg_uop *sink = err ? NULL : tgs_sink(&P, real, nreal, tg_arg_none());
  tg_uop *const *rs = sink ? tgs_ranges(sink, &nr) : NULL;
  if (!sink || (!rs && nr) || !(src = malloc((1 + nr + nback) * sizeof *src))) err = 1;
  if (!err) {
    src[0] = r->src[0];
    memcpy(src + 1, rs, nr * sizeof *rs);
    memcpy(src + 1 + nr, back, nback * sizeof *back);
    ret = tg_uop_replace(r, (tg_op)r->op, r->dtype, src, 1 + nr + nback, NULL, NULL);
    err = !ret;
  }
  free(real), free(back), free(src);
  tgs_pool_free(&P);
  if (err) return tg_rw_fail(rw);
  if (ret == r) return tg_uop_release(ret), NULL;
  return ret;
}

static tg_uop *reduce_unparented(tg_rw *rw, tg_uop *red) {
  tg_op op = (tg_op)red->arg.items[0].i;
  if (op != TG_OP_ADD && op != TG_OP_MAX && op != TG_OP_MUL) return NULL;
  tg_uop **par = malloc(red->nsrc * sizeof *par), **unpar = malloc(red->nsrc * sizeof *unpar);
  if (!par || !unpar) return free(par), free(unpar), fail_oom(rw);
  size_t np = 1, nu = 0;
  par[0] = red->src[0];
  for (size_t i = 1; i < red->nsrc; i++) {
    if (red->src[i]->op != TG_OP_RANGE) return free(par), free(unpar), tg_err(TG_ERR_INTERNAL, "some reduce srcs aren't ranges"), tg_rw_fail(rw);
    if (tgs_in_ranges(red->src[0], red->src[i])) par[np++] = red->src[i];
    else unpar[nu++] = red->src[i];
  }
  tg_uop *ret = NULL;
  tgs_pool P = {0};
  int err = 0;
  if (nu) {
    ret = np > 1 || red->dtype != red->src[0]->dtype ? tgs_replace_src(&P, red, par, np) : red->src[0];
    for (size_t i = 0; i < nu && ret; i++) {
      if (op == TG_OP_ADD) ret = tgs_bin(&P, TG_OP_MUL, ret, unpar[i]->src[0]);
      else if (op == TG_OP_MUL) ret = tgs_bin(&P, TG_OP_POW, ret, unpar[i]->src[0]);
    }
    err = !ret;
  }
  free(par), free(unpar);
  if (ret) tg_uop_retain(ret);
  tgs_pool_free(&P);
  return err ? tg_rw_fail(rw) : ret;
}

/* ================ codegen/simplify.py: reduce collapse (the arange / indexing optimization) ================ */

static int no_range(tg_uop *u) { /* -1 on failure */
  size_t n;
  tg_uop **t = tgs_toposort(u, NULL, NULL, 1, &n);
  if (!t) return -1;
  int none = 1;
  for (size_t i = 0; i < n && none; i++) none = t[i]->op != TG_OP_RANGE;
  free(t);
  return none;
}

/* x.reduce(*r.src[1:], arg=Ops.ADD) */
static tg_uop *reduce_like(tgs_pool *P, tg_uop *x, tg_uop *r) {
  tg_uop **src = malloc(r->nsrc * sizeof *src);
  if (!src) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory"), NULL;
  memcpy(src, r->src, r->nsrc * sizeof *src);
  src[0] = x;
  tg_uop *u = tgs_new(P, TG_OP_REDUCE, TG_DT_AUTO, src, r->nsrc, r->arg);
  free(src);
  return u;
}

#define RESULT(expr)                                  \
  do {                                                \
    tg_uop *res_ = (expr);                            \
    if (res_) tg_uop_retain(res_);                    \
    tgs_pool_free(&P);                                \
    return res_ ? res_ : tg_rw_fail(rw);              \
  } while (0)

static tg_uop *lift_add_lt(tg_rw *rw, tg_uop *x, tg_uop *y, tg_uop *c) {
  int a = no_range(y), b = a == 1 ? no_range(c) : a;
  if (a < 0 || b < 0) return tg_rw_fail(rw);
  if (!a || !b) return NULL;
  tgs_pool P = {0};
  RESULT(tgs_bin(&P, TG_OP_CMPLT, x, tgs_sub(&P, c, y)));
}

static tg_uop *lift_mul_lt(tg_rw *rw, tg_uop *x, tg_uop *y, tg_uop *c) {
  int a = no_range(y), b = a == 1 ? no_range(c) : a;
  if (a < 0 || b < 0) return tg_rw_fail(rw);
  if (!a || !b || !tg_dt_is_int((tg_dtype)y->dtype) || !(tg_num_as_f(tg_uop_vmin(y)) > 0)) return NULL;
  tgs_pool P = {0};
  tg_uop *t = tgs_bin_i(&P, TG_OP_ADD, tgs_bin(&P, TG_OP_ADD, c, y), -1); /* c+y-1 */
  tg_uop *q = t ? tgs_hold(&P, tg_um_floordiv(t, y)) : NULL;
  RESULT(tgs_bin(&P, TG_OP_CMPLT, x, q));
}

/* b: r, upper, val, lower (upper/lower NULL where the alternative has none) */
static tg_uop *sum_range_bound(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *r = b[0], *upper = b[1], *val = b[2], *lower = b[3];
  int nr = no_range(val);
  if (nr <= 0) return nr < 0 ? tg_rw_fail(rw) : NULL;
  tgs_pool P = {0};
  tg_uop *n = r->src[0];
  tg_uop *hi = upper ? tgs_hold(&P, tg_um_minimum(upper, n)) : n;
  tg_uop *lo = lower ? tgs_bin_i(&P, TG_OP_MAX, lower, 0) : tgs_hold(&P, tg_um_const_like(r, tg_num_i(0)));
  tg_uop *d = hi && lo ? tgs_bin_i(&P, TG_OP_MAX, tgs_sub(&P, hi, lo), 0) : NULL;
  tg_uop *m = d ? tgs_hold(&P, tg_um_minimum(d, n)) : NULL;
  RESULT(m ? tgs_bin(&P, TG_OP_MUL, m, val) : NULL);
}

/* b: r, cond, x, i */
static tg_uop *reduce_invalid_gate(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  int nr = no_range(b[1]);
  if (nr <= 0) return nr < 0 ? tg_rw_fail(rw) : NULL;
  tgs_pool P = {0};
  RESULT(tgs_where(&P, b[1], reduce_like(&P, b[2], b[0]), b[3]));
}

/* b: r, x, y */
static tg_uop *reduce_split_add(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tgs_pool P = {0};
  RESULT(tgs_bin(&P, TG_OP_ADD, reduce_like(&P, b[1], b[0]), reduce_like(&P, b[2], b[0])));
}

/* b: r, x, y, c */
static tg_uop *reduce_and_where(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tgs_pool P = {0};
  tg_uop *w = tgs_where(&P, b[2], b[3], tgs_hold(&P, tg_um_ufix(tg_num_i(0))));
  RESULT(w ? tgs_bin(&P, TG_OP_MUL, reduce_like(&P, w, b[0]), b[1]) : NULL);
}

static const tg_pm *pm_reduce_collapse(void);
static tg_uop *variable(tgs_pool *P, const char *name, tg_num lo, tg_num hi, int dtype);

typedef struct incl { tg_uop *r; } incl;
static int has_range(tg_uop *x, void *ctx) { return tgs_in_ranges(x, ((incl *)ctx)->r); }

/* reduce_collapse: a REDUCE(ADD) whose value, with everything outside the reduced range frozen into variables,
** rewrites to something without the range is replaced by that (arange, one_hot, gather without loads) */
/* b: red, u */
static tg_uop *reduce_collapse(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *red = b[0], *u = b[1];
  const tg_pm *pm = pm_reduce_collapse();
  if (!pm) return fail_oom(rw);
  tgs_pool P = {0};
  for (size_t ri = 1; ri < red->nsrc; ri++) {
    tg_uop *r = red->src[ri];
    incl ic = {r};
    size_t n;
    tg_uop **included = tgs_toposort(u, has_range, &ic, 1, &n);
    if (!included) RESULT(NULL);
    tg_ptrset inset;
    if (!tg_ptrset_init(&inset, n)) { free(included); RESULT(NULL); }
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
      stop |= included[i]->op == TG_OP_STORE || included[i]->op == TG_OP_REDUCE;
      tg_ptrset_put(&inset, included[i], 1);
    }
    tg_uop **keys = malloc((4 * n + 1) * sizeof *keys), **vals = malloc((4 * n + 1) * sizeof *vals);
    size_t nk = 0;
    int err = !keys || !vals;
    for (size_t i = 0; i < n && !stop && !err; i++) {
      for (size_t k = 0; k < included[i]->nsrc && !err; k++) {
        tg_uop *s = included[i]->src[k];
        if (tg_ptrset_get(&inset, s) || s->op == TG_OP_CONST || s->op == TG_OP_PARAM || s->op == TG_OP_BUFFER) continue;
        int seen = 0;
        for (size_t j = 0; j < nk && !seen; j++) seen = keys[j] == s;
        if (seen) continue;
        char name[32];
        snprintf(name, sizeof name, "in%zu", nk);
        keys[nk] = s;
        err = !(vals[nk++] = variable(&P, name, tg_uop_vmin(s), tg_uop_vmax(s), s->dtype));
      }
    }
    if (n) u = included[n - 1];
    free(included);
    tg_ptrset_free(&inset);
    tg_uop *sink = NULL;
    if (!stop && !err) {
      tg_uop *sub = tgs_substitute(&P, u, keys, vals, nk, NULL, 0);
      tg_arg ra[2] = {tg_arg_op(TG_OP_ADD), tg_arg_int(0)};
      tg_uop *cf = sub ? tgs_new(&P, TG_OP_REDUCE, TG_DT_AUTO, (tg_uop *[]){sub, r}, 2, tg_arg_tuple(ra, 2)) : NULL;
      sink = cf ? tgs_rewrite(&P, cf, pm, NULL, 0) : NULL;
      err = !sink;
    }
    int nr = err || stop ? 0 : no_range(sink);
    if (!err && !stop && nr == 1) u = tgs_substitute(&P, sink, vals, keys, nk, NULL, 0), err = !u;
    free(keys), free(vals);
    if (err || nr < 0) RESULT(NULL);
    if (stop || nr == 0) { tgs_pool_free(&P); return NULL; }
  }
  RESULT(u);
}

/* ================ uop/symbolic.py: valids ================ */

/* parse_valid: X <= c (upper) or X >= c (lower) from one clause of a valid */
static int parse_valid(tg_uop *v, tg_uop **expr, int *is_upper, int64_t *c) {
  if (v->op == TG_OP_CMPNE && v->src[1]->op == TG_OP_CONST && tg_num_equal(tg_uop_val(v->src[1]), tg_num_i(1)) &&
      v->src[0]->op == TG_OP_CMPLT && tg_dt_is_int((tg_dtype)v->src[0]->src[0]->dtype)) {
    tg_uop *s0 = v->src[0]; /* (X < c).ne(True) -> X >= c */
    return *expr = s0->src[0], *is_upper = 0, *c = (int64_t)tg_num_as_f(tg_uop_vmin(s0->src[1])), 1;
  }
  if (v->op == TG_OP_CMPLT && tg_dt_is_int((tg_dtype)v->src[0]->dtype)) {
    if (v->src[0]->op == TG_OP_CONST) /* c < X -> X >= c+1 */
      return *expr = v->src[1], *is_upper = 0, *c = (int64_t)tg_num_as_f(tg_uop_val(v->src[0])) + 1, 1;
    return *expr = v->src[0], *is_upper = 1, *c = (int64_t)tg_num_as_f(tg_uop_vmax(v->src[1])) - 1, 1; /* X < c -> X <= c-1 */
  }
  return 0;
}

/* UOp.variable(name, lo, hi, dtype, param=True): an ALU PARAM with a value range */
static tg_uop *variable(tgs_pool *P, const char *name, tg_num lo, tg_num hi, int dtype) {
  tg_arg it[TG_PARAMARG_COUNT], vv[2] = {tg_num_to_arg(lo), tg_num_to_arg(hi)};
  tgs_paramarg(it, -1, dtype, NULL, TGS_AS_ALU);
  it[TG_PARAMARG_VMIN_VMAX] = tg_arg_tuple(vv, 2);
  it[TG_PARAMARG_MULTIPLE_OF] = tg_arg_int(1);
  it[TG_PARAMARG_NAME] = tg_arg_str(name);
  tg_uop *shape = tgs_new(P, TG_OP_STACK, TG_DT_AUTO, NULL, 0, tg_arg_none());
  return shape ? tgs_new(P, TG_OP_PARAM, dtype, &shape, 1, tg_arg_tuple(it, TG_PARAMARG_COUNT)) : NULL;
}

static tg_uop *subst1(tgs_pool *P, tg_uop *u, tg_uop *k, tg_uop *v) { return u ? tgs_substitute(P, u, &k, &v, 1, NULL, 0) : NULL; }

/* uop_given_valid: uop simplified knowing valid is True (might be uop itself). NULL on failure. */
static tg_uop *uop_given_valid(tgs_pool *P, tg_uop *valid, tg_uop *uop, int try_simplex) {
  size_t nst;
  tg_uop **stmts = tg_uop_split(valid, TG_OP_AND, &nst);
  if (!stmts) return NULL;
  tg_uop **ex = malloc((nst + 1) * sizeof *ex);
  int64_t (*bd)[2] = malloc((nst + 1) * sizeof *bd);
  int (*has)[2] = calloc(nst + 1, sizeof *has);
  size_t ne = 0;
  int err = !ex || !bd || !has;
  for (size_t i = 0; i < nst && !err; i++) {
    tg_uop *e;
    int up;
    int64_t c;
    if (!parse_valid(stmts[i], &e, &up, &c)) continue;
    size_t k = 0;
    while (k < ne && ex[k] != e) k++;
    if (k == ne) ex[ne++] = e;
    bd[k][up] = c, has[k][up] = 1;
  }
  tg_uop **keys = malloc((ne + 1) * sizeof *keys), **vals = malloc((ne + 1) * sizeof *vals);
  err |= !keys || !vals;
  for (size_t i = 0; i < ne && !err && uop; i++) {
    tg_uop *e = ex[i];
    tg_num v0 = has[i][0] ? tg_num_i(bd[i][0]) : tg_uop_vmin(e), v1 = has[i][1] ? tg_num_i(bd[i][1]) : tg_uop_vmax(e);
    char name[32];
    snprintf(name, sizeof name, "fake%zu", i);
    keys[i] = e;
    if (!(vals[i] = variable(P, name, v0, v1, e->dtype))) { err = 1; break; }
    if (!try_simplex) continue;
    /* every candidate is a set of constrained UOps; if every one simplifies uop to the same output, rewrite uop */
    size_t nterms = 0;
    tg_uop **terms = NULL;
    int simplex = 0;
    if (e->op == TG_OP_ADD && tg_num_equal(v0, tg_num_i(1))) {
      if (!(terms = tg_uop_split(e, TG_OP_ADD, &nterms))) { err = 1; break; }
      simplex = 1;
      for (size_t k = 0; k < nterms; k++) simplex &= tg_opset_has(TG_GROUP_IRREDUCIBLE, (tg_op)terms[k]->op);
    }
    for (int cand = 0; cand < 1 + simplex && !err; cand++) {
      size_t nc = cand ? nterms : 1;
      tg_uop **X = cand ? terms : &keys[i], *newX[64], *newuops[64];
      if (nc > 64) break;
      int skip = 0;
      for (size_t k = 0; k < nc && !skip; k++) {
        int in = tgs_in_toposort(uop, X[k], 1);
        if (in < 0) err = 1;
        skip = in != 1;
      }
      if (skip || err) continue;
      for (size_t k = 0; k < nc && !err; k++) {
        newX[k] = cand ? variable(P, name, tg_num_i(1), tg_uop_vmax(X[k]), X[k]->dtype) : vals[i];
        tg_uop *nu = subst1(P, uop, X[k], newX[k]);
        nu = tgs_simplify(P, nu);
        nu = subst1(P, nu, newX[k], X[k]);
        err = !(newuops[k] = tgs_simplify(P, nu));
      }
      if (err) break;
      int same = 1;
      for (size_t k = 1; k < nc; k++) same &= newuops[k] == newuops[0];
      if (same) uop = newuops[0];
      else if (uop->op == TG_OP_STACK && uop->nsrc == 2) {
        int s0 = 1, s1 = 1;
        for (size_t k = 1; k < nc; k++) s0 &= newuops[k]->src[0] == newuops[0]->src[0], s1 &= newuops[k]->src[1] == newuops[0]->src[1];
        if (s0) uop = tgs_replace_src(P, uop, (tg_uop *[]){newuops[0]->src[0], uop->src[1]}, 2);
        if (s1 && uop) uop = tgs_replace_src(P, uop, (tg_uop *[]){uop->src[0], newuops[0]->src[1]}, 2);
        err = !uop;
      }
    }
    free(terms);
  }
  /* try all the valids together (but only the whole expressions) */
  if (!err && uop && ne) {
    tg_uop *s_uop = tgs_substitute(P, uop, keys, vals, ne, NULL, 0);
    if (!s_uop) err = 1;
    else if (s_uop != uop) {
      tg_uop *r = tgs_simplify(P, s_uop);
      r = r ? tgs_substitute(P, r, vals, keys, ne, NULL, 0) : NULL;
      uop = tgs_simplify(P, r);
    }
  }
  free(stmts), free(ex), free(bd), free(has), free(keys), free(vals);
  return err ? NULL : uop;
}

static int op_in_slice(tg_uop *u, tg_op op) { /* op_in_backward_slice_with_self; -1 on failure */
  size_t n;
  tg_uop **t = tgs_toposort(u, NULL, NULL, 1, &n);
  if (!t) return -1;
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) found = t[i]->op == op;
  free(t);
  return found;
}

static int valid_priority(tg_uop *v, tg_uop *const *valids, size_t n) {
  tg_uop *e;
  int up;
  int64_t c;
  if (!parse_valid(v, &e, &up, &c)) return 0;
  int p = 0;
  for (size_t i = 0; i < n; i++) p -= tgs_in_toposort(valids[i], e, 1) == 1;
  return p;
}

static tg_uop *simplify_valid(tg_rw *rw, tg_uop *valid) {
  int in = op_in_slice(valid, TG_OP_INDEX);
  if (in) return in < 0 ? tg_rw_fail(rw) : NULL; /* only for indexing: skip if there's an INDEX */
  size_t n;
  tg_uop **valids = tg_uop_split(valid, TG_OP_AND, &n);
  if (!valids) return tg_rw_fail(rw);
  int *prio = malloc((n + 1) * sizeof *prio);
  tg_uop **ret = malloc((n + 1) * sizeof *ret);
  if (!prio || !ret) return free(valids), free(prio), free(ret), fail_oom(rw);
  for (size_t i = 0; i < n; i++) prio[i] = valid_priority(valids[i], valids, n);
  for (size_t i = 1; i < n; i++) /* stable sort by priority */
    for (size_t j = i; j > 0 && prio[j] < prio[j - 1]; j--) {
      int tp = prio[j]; prio[j] = prio[j - 1]; prio[j - 1] = tp;
      tg_uop *tu = valids[j]; valids[j] = valids[j - 1]; valids[j - 1] = tu;
    }
  tgs_pool P = {0};
  size_t nr = 0;
  int err = 0;
  for (size_t i = 0; i < n && !err; i++) {
    int dup = 0;
    for (size_t k = 0; k < i && !dup; k++) dup = valids[k] == valids[i];
    if (dup) continue;
    tg_uop *stmt = valids[i];
    if (nr) {
      tg_uop *prod = tgs_uprod(&P, ret[0], ret + 1, nr - 1);
      stmt = prod ? uop_given_valid(&P, prod, stmt, 1) : NULL;
    }
    if (!(ret[nr++] = stmt)) err = 1;
  }
  int changed = nr != n;
  for (size_t i = 0; i < nr && !changed; i++) changed = ret[i] != valids[i];
  tg_uop *r = !err && changed ? tgs_uprod(&P, ret[0], ret + 1, nr - 1) : NULL;
  if (r) tg_uop_retain(r);
  err |= changed && !r;
  free(valids), free(prio), free(ret);
  tgs_pool_free(&P);
  return err ? tg_rw_fail(rw) : r;
}

static tg_uop *gated_given_valid(tg_rw *rw, tg_uop *cond, tg_uop *x, tg_uop *i) {
  /* pure index math only: a LOAD in x executes even where cond is false, so its INDEX valid must survive the assumption */
  if (x->dtype != TG_WEAKINT) return NULL;
  int in = op_in_slice(x, TG_OP_INDEX);
  if (in) return in < 0 ? tg_rw_fail(rw) : NULL;
  tgs_pool P = {0};
  tg_uop *u = uop_given_valid(&P, cond, x, 0);
  tg_uop *r = u ? tgs_hold(&P, tg_uop_alu(TG_OP_WHERE, 3, (tg_uop *[]){cond, u, i})) : NULL;
  if (r) tg_uop_retain(r);
  tgs_pool_free(&P);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *drop_and_clauses(tg_rw *rw, tg_uop *cond, tg_uop *x, tg_uop *i) {
  size_t n;
  tg_uop **cl = tg_uop_split(cond, TG_OP_AND, &n);
  if (!cl) return tg_rw_fail(rw);
  tg_uop **keep = malloc((n + 1) * sizeof *keep);
  if (!keep) return free(cl), fail_oom(rw);
  size_t nk = 0, nxr;
  tg_uop *const *xr = tgs_ranges(x, &nxr);
  for (size_t k = 0; k < n; k++) {
    size_t ncr;
    tg_uop *const *cr = tgs_ranges(cl[k], &ncr);
    int any = 0;
    for (size_t a = 0; a < ncr && !any; a++)
      for (size_t b = 0; b < nxr && !any; b++) any = cr[a] == xr[b];
    if (any) keep[nk++] = cl[k];
  }
  tg_uop *r = NULL;
  int err = 0;
  if (nk != n) {
    tgs_pool P = {0};
    tg_uop *c = tgs_uprod(&P, tgs_cb(&P, 1), keep, nk);
    r = c ? tgs_where(&P, c, x, i) : NULL;
    if (r) tg_uop_retain(r);
    err = !r;
    tgs_pool_free(&P);
  }
  free(cl), free(keep);
  return err ? tg_rw_fail(rw) : r;
}

#include "schedule/valid_rules.inc"

/* ---- the REDUCE(arg=Ops.ADD) rules as pattern tables (the rule language has no tuple args yet) ---- */

#define OP1(o) .ops = {{(o) < 64 ? 1ull << ((o) & 63) : 0, (o) >= 64 ? 1ull << ((o) & 63) : 0}}, .has_ops = 1
#define BOOL_DT .dtypes = 1ull << TG_BOOL, .has_dtypes = 1
#define SRC(...) .src = (const tg_upat *const[]){__VA_ARGS__}, .nsrc = sizeof((const tg_upat *const[]){__VA_ARGS__}) / sizeof(tg_upat *)
static const tg_arg add0_items[2] = {{.kind = TG_ARG_OP, .i = TG_OP_ADD}, {.kind = TG_ARG_INT, .i = 0}};
static const tg_arg add0 = {.kind = TG_ARG_TUPLE, .n = 2, .items = add0_items};
static const tg_arg zero = {.kind = TG_ARG_INT, .i = 0}, one = {.kind = TG_ARG_BOOL, .i = 1}, invalid = {.kind = TG_ARG_INVALID};
#define VAR(s) {.slot = (s)}
#define CONST_ARG(a) {OP1(TG_OP_CONST), .arg = &(a), .slot = -1}

/* (UPat(Ops.REDUCE, src=(UPat.var("u"),), allow_any_len=True, arg=(Ops.ADD, 0), name="red"), reduce_collapse): red 0, u 1 */
static const tg_upat rc_u = VAR(1);
static const tg_upat rc_pat = {OP1(TG_OP_REDUCE), .arg = &add0, .mode = TG_UPAT_SRC_TUPLE, .allow_any_len = 1, SRC(&rc_u), .slot = 0};

/* UPat.any((RANGE r < upper).where(val, 0), (RANGE r < lower).where(0, val),
**          ((r < lower).logical_not() & (RANGE r < upper)).where(val, 0)).reduce(UPat.var("r"), arg=Ops.ADD):
** r 0, upper 1, val 2, lower 3 */
static const tg_upat sr_r = {OP1(TG_OP_RANGE), .slot = 0}, sr_rv = VAR(0), sr_up = VAR(1), sr_val = VAR(2), sr_lo = VAR(3);
static const tg_upat sr_zero = CONST_ARG(zero), sr_true = CONST_ARG(one);
static const tg_upat sr_lt_up = {OP1(TG_OP_CMPLT), BOOL_DT, .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_r, &sr_up), .slot = -1};
static const tg_upat sr_lt_lo = {OP1(TG_OP_CMPLT), BOOL_DT, .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_r, &sr_lo), .slot = -1};
static const tg_upat sr_lt_lo_v = {OP1(TG_OP_CMPLT), BOOL_DT, .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_rv, &sr_lo), .slot = -1};
static const tg_upat sr_not_lo = {OP1(TG_OP_CMPNE), BOOL_DT, .mode = TG_UPAT_SRC_PERM, SRC(&sr_lt_lo_v, &sr_true), .slot = -1};
static const tg_upat sr_and = {OP1(TG_OP_AND), BOOL_DT, .mode = TG_UPAT_SRC_PERM, SRC(&sr_not_lo, &sr_lt_up), .slot = -1};
static const tg_upat sr_a = {OP1(TG_OP_WHERE), .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_lt_up, &sr_val, &sr_zero), .slot = -1};
static const tg_upat sr_b = {OP1(TG_OP_WHERE), .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_lt_lo, &sr_zero, &sr_val), .slot = -1};
static const tg_upat sr_c = {OP1(TG_OP_WHERE), .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_and, &sr_val, &sr_zero), .slot = -1};
static const tg_upat sr_any = {.mode = TG_UPAT_ANY, SRC(&sr_a, &sr_b, &sr_c), .slot = -1};
static const tg_upat sr_pat = {OP1(TG_OP_REDUCE), .arg = &add0, .mode = TG_UPAT_SRC_TUPLE, SRC(&sr_any, &sr_rv), .slot = -1};

/* (invalid_gate.reduce(arg=Ops.ADD, allow_any_len=True, name="r"), ...): r 0, cond 1, x 2, i 3 */
static const tg_upat ig_cond = VAR(1), ig_x = VAR(2), ig_i = {OP1(TG_OP_CONST), .arg = &invalid, .slot = 3};
static const tg_upat ig_where = {OP1(TG_OP_WHERE), .mode = TG_UPAT_SRC_TUPLE, SRC(&ig_cond, &ig_x, &ig_i), .slot = -1};
static const tg_upat ig_pat = {OP1(TG_OP_REDUCE), .arg = &add0, .mode = TG_UPAT_SRC_TUPLE, .allow_any_len = 1, SRC(&ig_where), .slot = 0};

/* ((UPat.var("x")+UPat.var("y")).reduce(arg=Ops.ADD, allow_any_len=True, name="r"), ...): r 0, x 1, y 2 */
static const tg_upat sa_x = VAR(1), sa_y = VAR(2);
static const tg_upat sa_add = {OP1(TG_OP_ADD), .mode = TG_UPAT_SRC_PERM, SRC(&sa_x, &sa_y), .slot = -1};
static const tg_upat sa_pat = {OP1(TG_OP_REDUCE), .arg = &add0, .mode = TG_UPAT_SRC_TUPLE, .allow_any_len = 1, SRC(&sa_add), .slot = 0};

/* ((UPat(Ops.PARAM, name="x") & UPat.var("y")).where(UPat.var("c"), 0).reduce(arg=Ops.ADD, allow_any_len=True, name="r"), ...):
** r 0, x 1, y 2, c 3 */
static const tg_upat aw_x = {OP1(TG_OP_PARAM), .slot = 1}, aw_y = VAR(2), aw_c = VAR(3), aw_zero = CONST_ARG(zero);
static const tg_upat aw_and = {OP1(TG_OP_AND), .mode = TG_UPAT_SRC_PERM, SRC(&aw_x, &aw_y), .slot = -1};
static const tg_upat aw_where = {OP1(TG_OP_WHERE), .mode = TG_UPAT_SRC_TUPLE, SRC(&aw_and, &aw_c, &aw_zero), .slot = -1};
static const tg_upat aw_pat = {OP1(TG_OP_REDUCE), .arg = &add0, .mode = TG_UPAT_SRC_TUPLE, .allow_any_len = 1, SRC(&aw_where), .slot = 0};

/* pm_reduce_simplify's own rule, and pm_reduce_collapse's REDUCE rules in tinygrad's order */
static const tg_rule reduce_simplify_rules[] = {{&rc_pat, reduce_collapse, "codegen/simplify.py reduce_collapse"}};
static const tg_rule reduce_collapse_rules[] = {
    {&sr_pat, sum_range_bound, "codegen/simplify.py sum over r of [lower<=r<upper]*val"},
    {&ig_pat, reduce_invalid_gate, "codegen/simplify.py invalid_gate.reduce"},
    {&sa_pat, reduce_split_add, "codegen/simplify.py (x+y).reduce"},
    {&aw_pat, reduce_and_where, "codegen/simplify.py AND on WHERE"},
};

const tg_pm *tgs_pm_flatten_range(void) { return tg_pm_val_flatten_range(); }

static tg_pm *pm_reduce_simplify, *pm_sv, *pm_svd, *pm_rc;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void build(void) {
  /* pm_reduce_collapse's own arg check: REDUCE(ADD, 0) only */
  tg_pm *rs = tg_pm_new(reduce_simplify_rules, 1), *rc = tg_pm_new(reduce_collapse_rules, 4);
  /* pm_reduce_simplify = pm_reduce_unparented + [reduce_collapse]; pm_reduce_collapse = pm_reduce_unparented + [...] + symbolic */
  pm_reduce_simplify = rs ? tg_pm_concat((const tg_pm *[]){tg_pm_val_reduce_unparented(), rs}, 2) : NULL;
  pm_rc = rc ? tg_pm_concat((const tg_pm *[]){tg_pm_val_reduce_unparented(), tg_pm_val_reduce_collapse_rules(), rc, tg_pm_symbolic()}, 4) : NULL;
  tg_pm_free(rs), tg_pm_free(rc);
  pm_sv = tg_pm_concat((const tg_pm *[]){tg_pm_symbolic(), tg_pm_val_simplify_valid()}, 2);
  pm_svd = tg_pm_concat((const tg_pm *[]){tg_pm_symbolic(), tg_pm_val_simplify_valid(), tg_pm_val_drop_and_clauses()}, 3);
}
static const tg_pm *pm_reduce_collapse(void) { return pthread_once(&once, build), pm_rc; }
const tg_pm *tgs_pm_reduce_simplify(void) { return pthread_once(&once, build), pm_reduce_simplify; }
const tg_pm *tgs_pm_symbolic_valid(void) { return pthread_once(&once, build), pm_sv; }
const tg_pm *tgs_pm_symbolic_valid_drop(void) { return pthread_once(&once, build), pm_svd; }
