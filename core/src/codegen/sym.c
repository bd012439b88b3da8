/* codegen/sym.c -- tinygrad 0.14.0's uop/symbolic.py pieces that only codegen uses: uop_given_valid / simplify_valid,
** `sym`, pm_move_where_on_load, pm_clean_up_group_sink, pm_remove_invalid. The rules are data in sym.rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_util.h"
#include "codegen/passes.h"
#include "codegen/upat_hand.h"
#include "uop/symbolic.h"

/* ---------------- parse_valid / uop_given_valid ---------------- */

/* X <= c (upper = 1) or X >= c (upper = 0); 0 when stmt is no bound */
int cg_parse_valid(tg_uop *v, tg_uop **X, int *upper, int64_t *c) {
  if (v->op == TG_OP_CMPNE && v->src[1]->op == TG_OP_CONST && tg_num_equal(tg_uop_val(v->src[1]), tg_num_i(1)) &&
      v->src[0]->op == TG_OP_CMPLT && tg_dt_is_int((tg_dtype)v->src[0]->src[0]->dtype)) {
    *X = v->src[0]->src[0], *upper = 0, *c = cg_vmin_i(v->src[0]->src[1]);
    return 1;
  }
  if (v->op == TG_OP_CMPLT && tg_dt_is_int((tg_dtype)v->src[0]->dtype)) {
    if (v->src[0]->op == TG_OP_CONST) {
      *X = v->src[1], *upper = 0, *c = cg_cval(v->src[0], 0) + 1;
      return 1;
    }
    *X = v->src[0], *upper = 1, *c = cg_vmax_i(v->src[1]) - 1;
    return 1;
  }
  return 0;
}

static tg_uop *simplify(tg_uop *u) { return tg_uop_simplify(u); }

/* uop.substitute({X:newX}).simplify().substitute({newX:X}).simplify() */
static tg_uop *sub_simplify(tg_uop *uop, tg_uop *const *X, tg_uop *const *nX, size_t n) {
  cg_pool pool = {0};
  tg_uop *a = K(tg_uop_substitute(uop, X, nX, n)), *b = K(simplify(a)), *c = K(tg_uop_substitute(b, nX, X, n));
  tg_uop *r = tg_uop_retain(K(simplify(c)));
  cg_pool_free(&pool);
  return r;
fail:
  cg_pool_free(&pool);
  return NULL;
}

typedef struct bound { tg_uop *expr; int has[2]; int64_t v[2]; } bound;

tg_uop *cg_uop_given_valid(tg_uop *valid, tg_uop *uop, int try_simplex) {
  cg_pool pool = {0};
  size_t nst = 0;
  tg_uop **stmts = tg_uop_split(valid, TG_OP_AND, &nst);
  if (!stmts) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
  bound *b = calloc(nst ? nst : 1, sizeof *b);
  tg_uop **ckX = calloc(nst ? nst : 1, sizeof *ckX), **ckN = calloc(nst ? nst : 1, sizeof *ckN);
  size_t nb = 0;
  tg_uop *cur = tg_uop_retain(uop);
  if (!b || !ckX || !ckN) goto fail;
  for (size_t i = 0; i < nst; i++) {
    tg_uop *X;
    int up;
    int64_t c;
    if (!cg_parse_valid(stmts[i], &X, &up, &c)) continue;
    size_t k = 0;
    while (k < nb && b[k].expr != X) k++;
    if (k == nb) b[nb++].expr = X;
    b[k].has[up] = 1, b[k].v[up] = c;
  }
  for (size_t i = 0; i < nb; i++) {
    tg_uop *expr = b[i].expr;
    int64_t v0 = b[i].has[0] ? b[i].v[0] : cg_vmin_i(expr), v1 = b[i].has[1] ? b[i].v[1] : cg_vmax_i(expr);
    char nm[32];
    snprintf(nm, sizeof nm, "fake%zu", i);
    ckX[i] = expr;
    ckN[i] = K(cg_variable(nm, v0, v1, expr->dtype));
    if (!try_simplex) continue;
    /* candidates: the whole clause; and for a simplex X0 + X1 + ... >= 1, every Xi >= 1 */
    for (int cand = 0; cand < 2; cand++) {
      tg_uop *Xs[64], *Ns[64];
      size_t nx = 0;
      if (cand == 0) Xs[0] = expr, Ns[0] = ckN[i], nx = 1;
      else {
        if (expr->op != TG_OP_ADD || v0 != 1) break;
        size_t nt = 0;
        tg_uop **terms = tg_uop_split(expr, TG_OP_ADD, &nt);
        if (!terms) goto fail;
        int ok = nt <= 64;
        for (size_t k = 0; k < nt && ok; k++) ok = tg_opset_has(TG_GROUP_IRREDUCIBLE, (tg_op)terms[k]->op);
        for (size_t k = 0; k < nt && ok; k++) {
          Xs[k] = terms[k];
          if (!(Ns[k] = cg_pool_add(&pool, cg_variable(nm, 1, cg_vmax_i(terms[k]), terms[k]->dtype)))) { free(terms); goto fail; }
        }
        nx = ok ? nt : 0;
        free(terms);
        if (!ok) break;
      }
      int skip = 0;
      for (size_t k = 0; k < nx && !skip; k++) {
        int in = cg_in_backward_slice(cur, Xs[k]);
        if (in < 0) goto fail;
        skip = !in;
      }
      if (skip) continue;
      tg_uop *nu[64];
      size_t nn = 0;
      for (size_t k = 0; k < nx; k++) {
        tg_uop *r = sub_simplify(cur, &Xs[k], &Ns[k], 1);
        if (!r || !cg_pool_add(&pool, r)) goto fail;
        nu[nn++] = r;
      }
      int same = 1;
      for (size_t k = 1; k < nn; k++) same &= nu[k] == nu[0];
      if (same && nn) {
        tg_uop_release(cur);
        cur = tg_uop_retain(nu[0]);
      } else if (nn && cur->op == TG_OP_STACK && cur->nsrc == 2) {
        int s0 = 1, s1 = 1;
        for (size_t k = 1; k < nn; k++) s0 &= nu[k]->src[0] == nu[0]->src[0], s1 &= nu[k]->src[1] == nu[0]->src[1];
        if (s0) {
          tg_uop *r = K(cg_with_src(cur, (tg_uop *[]){nu[0]->src[0], cur->src[1]}, 2));
          tg_uop_release(cur);
          cur = tg_uop_retain(r);
        }
        if (s1) {
          tg_uop *r = K(cg_with_src(cur, (tg_uop *[]){cur->src[0], nu[0]->src[1]}, 2));
          tg_uop_release(cur);
          cur = tg_uop_retain(r);
        }
      }
    }
  }
  /* all the valids together (whole expressions only) */
  if (nb) {
    tg_uop *s = K(tg_uop_substitute(cur, ckX, ckN, nb));
    if (s != cur) {
      tg_uop *a = K(simplify(s)), *c = K(tg_uop_substitute(a, ckN, ckX, nb)), *d = K(simplify(c));
      tg_uop_release(cur);
      cur = tg_uop_retain(d);
    }
  }
  cg_pool_free(&pool);
  free(stmts), free(b), free(ckX), free(ckN);
  return cur;
fail:
  cg_pool_free(&pool);
  free(stmts), free(b), free(ckX), free(ckN);
  tg_uop_release(cur);
  return NULL;
}

/* ---------------- helpers of the rules ---------------- */

static int valid_priority(tg_uop *v, tg_uop **valids, size_t n) {
  tg_uop *X;
  int up;
  int64_t c;
  if (!cg_parse_valid(v, &X, &up, &c)) return 0;
  int p = 0;
  for (size_t i = 0; i < n; i++) p -= cg_in_backward_slice(valids[i], X) > 0;
  return p;
}

static tg_uop *simplify_valid(tg_rw *rw, tg_uop *valid) {
  int has = cg_op_in_slice(valid, TG_OP_INDEX);
  if (has) return has < 0 ? tg_rw_fail(rw) : NULL;
  size_t n = 0;
  tg_uop **v = tg_uop_split(valid, TG_OP_AND, &n);
  if (!v) return tg_rw_fail(rw);
  int *pr = malloc((n ? n : 1) * sizeof *pr);
  tg_uop **sorted = malloc((n ? n : 1) * sizeof *sorted), **ret = calloc(n ? n : 1, sizeof *ret);
  size_t nr = 0;
  tg_uop *out = NULL;
  int err = !pr || !sorted || !ret;
  for (size_t i = 0; i < n && !err; i++) pr[i] = valid_priority(v[i], v, n), sorted[i] = v[i];
  for (size_t i = 1; i < n && !err; i++) /* stable insertion sort by priority */
    for (size_t j = i; j > 0 && pr[j] < pr[j - 1]; j--) {
      int t = pr[j]; pr[j] = pr[j - 1]; pr[j - 1] = t;
      tg_uop *u = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = u;
    }
  for (size_t i = 0; i < n && !err; i++) {
    int dup = 0;
    for (size_t k = 0; k < i; k++) dup |= sorted[k] == sorted[i];
    if (dup) continue;
    tg_uop *stmt = tg_uop_retain(sorted[i]);
    if (nr) {
      tg_uop *p = cg_uprod(ret, nr), *s = p ? cg_uop_given_valid(p, stmt, 1) : NULL;
      tg_uop_release(p), tg_uop_release(stmt);
      if (!(stmt = s)) { err = 1; break; }
    }
    ret[nr++] = stmt;
  }
  if (!err) {
    int same = nr == n;
    for (size_t i = 0; i < nr && same; i++) same = ret[i] == sorted[i];
    if (!same && !(out = cg_uprod(ret, nr))) err = 1;
  }
  for (size_t i = 0; i < nr; i++) tg_uop_release(ret[i]);
  free(v), free(pr), free(sorted), free(ret);
  return err ? tg_rw_fail(rw) : out;
}

static tg_uop *gated_given_valid(tg_rw *rw, tg_uop *cond, tg_uop *x, tg_uop *i) {
  if (x->dtype != TG_WEAKINT) return NULL;
  int has = cg_op_in_slice(x, TG_OP_INDEX);
  if (has) return has < 0 ? tg_rw_fail(rw) : NULL;
  tg_uop *g = cg_uop_given_valid(cond, x, 0);
  tg_uop *r = g ? tg_um_where(cond, g, i) : NULL;
  tg_uop_release(g);
  return cg_ok(rw, r);
}

tg_uop *cg_commit_weak(tg_uop *s, int dt) {
  if (s->op == TG_OP_CONST) return tg_um_const(dt, tg_uop_val(s));
  return tg_um_cast(s, dt);
}
static tg_uop *commit_weak_to(tg_rw *rw, tg_uop *x, tg_uop *c) { return cg_ok(rw, cg_commit_weak(x, c->dtype)); }

static tg_uop *xpow_of(tg_rw *rw, tg_uop *p) { return cg_ok(rw, cg_xpow(p->src[0], p->src[1])); }

static tg_uop *store_valid(tg_rw *rw, tg_uop *index, tg_uop *cond, tg_uop *val) {
  if (index->nsrc < 2) return NULL;
  cg_pool pool = {0};
  tg_uop *v = K(cg_valid(index->src[1], cond)), *ix = K(cg_index1(index->src[0], v));
  tg_uop *r = cg_store(ix, val);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *reduce_const_mul(tg_rw *rw, tg_uop *r, tg_uop *x, tg_uop *c) {
  cg_pool pool = {0};
  tg_uop **s = malloc(r->nsrc * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  s[0] = x;
  for (size_t i = 1; i < r->nsrc; i++) s[i] = r->src[i];
  tg_uop *nr = K(cg_with_src(r, s, r->nsrc)), *cv = K(tg_um_ufix(tg_uop_val(c)));
  tg_uop *out = tg_um_binop(TG_OP_MUL, nr, cv);
  free(s);
  cg_pool_free(&pool);
  return cg_ok(rw, out);
fail:
  free(s);
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *prod_list(tg_uop **v, size_t n) { /* math.prod: 1 * v0 * v1 ... (python int 1 folds away first) */
  tg_uop *acc = tg_uop_retain(v[0]);
  for (size_t i = 1; i < n && acc; i++) {
    tg_uop *t = tg_um_binop(TG_OP_MUL, acc, v[i]);
    tg_uop_release(acc);
    acc = t;
  }
  return acc;
}

static tg_uop *reduce_mul_chain(tg_rw *rw, tg_uop *r) {
  const tg_arg *a = cg_tuple_item(&r->arg, 0);
  if (!a || (a->i != TG_OP_ADD && a->i != TG_OP_MAX)) return NULL;
  if (r->dtype != r->src[0]->dtype) return NULL;
  size_t n = 0;
  tg_uop **m = tg_uop_split(r->src[0], TG_OP_MUL, &n);
  if (!m) return tg_rw_fail(rw);
  tg_uop **in = malloc(n * sizeof *in), **out = malloc(n * sizeof *out);
  size_t ni = 0, no = 0;
  tg_uop *ret = NULL;
  int err = !in || !out;
  for (size_t i = 0; i < n && !err; i++) {
    int outside = 1;
    for (size_t k = 1; k < r->nsrc && outside; k++) {
      if (m[i] == r->src[k]) { outside = 0; break; }
      int in_slice = cg_in_backward_slice(m[i], r->src[k]);
      if (in_slice < 0) { err = 1; break; }
      if (in_slice && m[i] != r->src[k]) outside = 0;
    }
    if (outside && a->i == TG_OP_MAX && tg_num_as_f(tg_uop_vmin(m[i])) < 0) outside = 0;
    if (outside) out[no++] = m[i];
    else in[ni++] = m[i];
  }
  if (!err && no) {
    cg_pool pool = {0};
    tg_uop *inside = ni ? K(prod_list(in, ni)) : K(tg_um_const_like(r->src[0], tg_num_i(1)));
    tg_uop **s = malloc(r->nsrc * sizeof *s);
    if (!s) goto fail;
    s[0] = inside;
    for (size_t k = 1; k < r->nsrc; k++) s[k] = r->src[k];
    tg_uop *nr = cg_pool_add(&pool, cg_with_src(r, s, r->nsrc));
    free(s);
    if (!nr) goto fail;
    tg_uop *po = K(prod_list(out, no));
    ret = tg_um_binop(TG_OP_MUL, nr, po);
    if (!ret) goto fail;
    cg_pool_free(&pool);
    goto done;
  fail:
    cg_pool_free(&pool);
    err = 1;
  }
done:
  free(m), free(in), free(out);
  return err ? tg_rw_fail(rw) : ret;
}

static int remove_from_sink_like(tg_op op) { return op == TG_OP_NOOP || op == TG_OP_STACK || op == TG_OP_SINK || op == TG_OP_GROUP; }

static tg_uop *clean_sink(tg_rw *rw, tg_uop *root) {
  size_t n = 0, any = 0;
  for (size_t i = 0; i < root->nsrc; i++) {
    any |= remove_from_sink_like((tg_op)root->src[i]->op);
    n += remove_from_sink_like((tg_op)root->src[i]->op) ? root->src[i]->nsrc : 1;
  }
  if (!any) return NULL;
  tg_uop **s = malloc((n ? n : 1) * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  size_t k = 0;
  for (size_t i = 0; i < root->nsrc; i++) {
    tg_uop *x = root->src[i];
    if (remove_from_sink_like((tg_op)x->op)) for (size_t j = 0; j < x->nsrc; j++) s[k++] = x->src[j];
    else s[k++] = x;
  }
  tg_uop *r = tg_uop_new((tg_op)root->op, TG_DT_AUTO, s, k, root->arg);
  free(s);
  return cg_ok(rw, r);
}

/* move conditions from a where to the load's valid, dropping clauses the load already has */
static tg_uop *where_on_load_impl(tg_rw *rw, tg_uop *cond, tg_uop *buf, tg_uop *idx, tg_uop *or_cast) {
  cg_pool pool = {0};
  cg_list idx_index = {0}, slice = {0}, moved = {0}, keep = {0};
  size_t nw = 0, nl = 0;
  tg_uop **wc = tg_uop_split(cond, TG_OP_AND, &nw), *valid = NULL, **lv = NULL, *ret = NULL;
  int err = !wc;
  if (!err) {
    valid = idx->op == TG_OP_WHERE && cg_is_invalid(idx->src[2]) ? tg_uop_retain(idx->src[0]) : tg_uop_const_bool(!cg_is_invalid(idx));
    err = !valid || !(lv = tg_uop_split(valid, TG_OP_AND, &nl));
  }
  if (!err) err = cg_toposort(idx, &slice);
  for (size_t i = 0; i < slice.n && !err; i++)
    if (slice.v[i]->op == TG_OP_INDEX) err = cg_list_push(&idx_index, slice.v[i]);
  const cg_list *ir = err ? NULL : cg_ranges(idx);
  if (!ir) err = 1;
  for (size_t i = 0; i < nw && !err; i++) {
    tg_uop *c = wc[i];
    int inload = 0;
    for (size_t k = 0; k < nl; k++) inload |= lv[k] == c;
    if (inload) continue;
    const cg_list *cr = cg_ranges(c);
    if (!cr) { err = 1; break; }
    int can = 1;
    for (size_t k = 0; k < cr->n && can; k++) can = cg_list_has(ir, cr->v[k]);
    if (can) {
      cg_list cs = {0};
      if (cg_toposort(c, &cs)) { err = 1; break; }
      for (size_t k = 0; k < cs.n && can; k++) can = cs.v[k]->op != TG_OP_INDEX || cg_list_has(&idx_index, cs.v[k]);
      cg_list_free(&cs);
    }
    err = cg_list_push(can ? &moved : &keep, c);
  }
  if (!err && keep.n != nw) {
    tg_uop **all = malloc((nl + moved.n + 1) * sizeof *all);
    if (!all) goto fail;
    all[0] = valid;
    for (size_t k = 0; k < moved.n; k++) all[k + 1] = moved.v[k];
    tg_uop *nv = cg_pool_add(&pool, cg_uprod(all, moved.n + 1));
    free(all);
    if (!nv) goto fail;
    tg_uop *gi = idx->op == TG_OP_WHERE && cg_is_invalid(idx->src[2]) ? idx->src[1] : idx;
    tg_uop *vi = K(cg_valid(gi, nv)), *ni = K(cg_index1(buf, vi));
    tg_uop *ri = or_cast->op == TG_OP_CAST ? K(tg_um_cast(ni, or_cast->dtype)) : ni;
    tg_uop **kp = malloc((keep.n + 1) * sizeof *kp);
    if (!kp) goto fail;
    kp[0] = K(tg_uop_const_bool(1));
    for (size_t k = 0; k < keep.n; k++) kp[k + 1] = keep.v[k];
    tg_uop *kc = cg_pool_add(&pool, cg_uprod(kp, keep.n + 1));
    free(kp);
    if (!kc) goto fail;
    tg_uop *zero = K(tg_um_const_like(ri, tg_num_i(0)));
    ret = tg_um_where(kc, ri, zero);
    if (!ret) goto fail;
  }
  goto out;
fail:
  err = 1;
out:
  cg_pool_free(&pool);
  cg_list_free(&idx_index), cg_list_free(&slice), cg_list_free(&moved), cg_list_free(&keep);
  free(wc), free(lv);
  tg_uop_release(valid);
  return err ? tg_rw_fail(rw) : ret;
}
static tg_uop *where_on_load(tg_rw *rw, tg_uop *cond, tg_uop *buf, tg_uop *idx, tg_uop *or_cast) {
  return where_on_load_impl(rw, cond, buf, idx, or_cast);
}
static tg_uop *where_on_load_not(tg_rw *rw, tg_uop *cond, tg_uop *buf, tg_uop *idx, tg_uop *or_cast) {
  tg_uop *nc = tg_um_logical_not(cond);
  if (!nc) return tg_rw_fail(rw);
  tg_uop *r = where_on_load_impl(rw, nc, buf, idx, or_cast);
  tg_uop_release(nc);
  return r;
}

static tg_uop *remove_invalid_where(tg_rw *rw, tg_uop *w, tg_uop *cond, tg_uop *x) {
  tg_uop *z = tg_um_const_like(w, tg_num_i(0));
  tg_uop *r = z ? cg_with_src(w, (tg_uop *[]){cond, x, z}, 3) : NULL;
  tg_uop_release(z);
  return cg_ok(rw, r);
}

static tg_uop *remove_invalid_stack(tg_rw *rw, tg_uop *s) {
  int any = 0;
  for (size_t i = 0; i < s->nsrc; i++) any |= cg_is_invalid(s->src[i]);
  if (!any) return NULL;
  cg_pool pool = {0};
  tg_uop **v = malloc(s->nsrc * sizeof *v);
  if (!v) return tg_rw_fail(rw);
  for (size_t i = 0; i < s->nsrc; i++) {
    v[i] = s->src[i];
    if (cg_is_invalid(s->src[i]) && !(v[i] = cg_pool_add(&pool, tg_um_const(s->dtype, tg_num_i(0))))) {
      free(v);
      cg_pool_free(&pool);
      return tg_rw_fail(rw);
    }
  }
  tg_uop *r = cg_with_src(s, v, s->nsrc);
  free(v);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
}

static tg_uop *drop_and_clauses(tg_rw *rw, tg_uop *cond, tg_uop *x, tg_uop *i) {
  const cg_list *xr = cg_ranges(x);
  size_t n = 0;
  tg_uop **c = xr ? tg_uop_split(cond, TG_OP_AND, &n) : NULL;
  if (!c) return tg_rw_fail(rw);
  tg_uop **keep = malloc((n + 1) * sizeof *keep), *r = NULL;
  size_t nk = 0, nd = 0;
  int err = !keep;
  for (size_t k = 0; k < n && !err; k++) {
    const cg_list *cr = cg_ranges(c[k]);
    if (!cr) { err = 1; break; }
    int any = 0;
    for (size_t j = 0; j < cr->n && !any; j++) any = cg_list_has(xr, cr->v[j]);
    if (any) keep[1 + nk++] = c[k];
    else nd++;
  }
  if (!err && nd) {
    tg_uop *t = tg_uop_const_bool(1);
    keep[0] = t;
    tg_uop *p = t ? tg_um_uprod(keep, nk + 1) : NULL;
    r = p ? tg_um_where(p, x, i) : NULL;
    tg_uop_release(t), tg_uop_release(p);
    err = !r;
  }
  free(c), free(keep);
  return err ? tg_rw_fail(rw) : r;
}

#include "codegen/sym_rules.inc"

/* tinygrad: ((UPat.var("x")*UPat.cvar("c")).reduce(arg=Ops.ADD, name="r", allow_any_len=True), lambda x,c,r: r.replace(src=(x,)+r.src[1:])*c.val) */
static const tg_upat rcm_x = {.slot = 1}, rcm_c = {HOP(TG_OP_CONST), .slot = 2};
static const tg_upat rcm_mul = {HOP(TG_OP_MUL), HSRC(TG_UPAT_SRC_PERM, &rcm_x, &rcm_c), .slot = -1};
static const tg_upat rcm = {HOP(TG_OP_REDUCE), .arg = &H_ADD0, HSRC(TG_UPAT_SRC_TUPLE, &rcm_mul), .allow_any_len = 1, .slot = 0};
static tg_uop *reduce_const_mul_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return reduce_const_mul(rw, b[0], b[1], b[2]); }
static const tg_rule rcm_rules[] = {{&rcm, reduce_const_mul_rule, "symbolic.py sym: const multiply after REDUCE"}};

/* sym = symbolic + pm_simplify_valid + (sym's own rules) + pm_clean_up_group_sink */
static tg_pm *g_sym;
static pthread_once_t g_sym_once = PTHREAD_ONCE_INIT;
static void sym_init(void) {
  tg_pm *h = tg_pm_new(rcm_rules, 1);
  const tg_pm *parts[] = {tg_pm_symbolic(), tg_pm_cg_simplify_valid(), tg_pm_cg_sym_rules(), h, tg_pm_cg_sym_rules2(), tg_pm_cg_clean_up_group_sink()};
  if (h) g_sym = tg_pm_concat(parts, 6);
  tg_pm_free(h);
}
const tg_pm *cg_pm_sym(void) {
  pthread_once(&g_sym_once, sym_init);
  return g_sym;
}
