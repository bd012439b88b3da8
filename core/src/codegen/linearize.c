/* codegen/linearize.c -- tinygrad 0.14.0's codegen/late/linearizer.py: pm_split_ends (one END per range, innermost
** first), CFGContext + pm_add_control_flow (sibling loops ordered by an extra RANGE source), linearize (a toposort
** by priority: run count, op class, then the UOp's tuplize), and to_program's IF/ENDIF line rewrite for gated stores. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"

/* ---------------- pm_split_ends ---------------- */

static int arg_lt(tg_uop *a, tg_uop *b) { /* x.arg < y.arg for RANGE args (ints..., AxisType) */
  int c = cg_range_arg_cmp(a, b);
  if (c) return c < 0;
  return cg_range_type(a) < cg_range_type(b);
}

static tg_uop *split_ends(tg_rw *rw, tg_uop *e) {
  cg_list real = {0}, back = {0}, rngs = {0};
  cg_pool pool = {0};
  for (size_t i = 1; i < e->nsrc; i++) {
    tg_uop *x = e->src[i];
    if (cg_list_push((x->dtype == TG_DT_VOID || x->dtype == TG_BOOL) ? &back : &real, x)) goto fail;
  }
  if (cg_ranges_of(real.v, real.n, &rngs)) goto fail;
  for (size_t i = 1; i < rngs.n; i++) /* stable sort by arg, descending */
    for (size_t j = i; j > 0 && arg_lt(rngs.v[j - 1], rngs.v[j]); j--) {
      tg_uop *t = rngs.v[j]; rngs.v[j] = rngs.v[j - 1]; rngs.v[j - 1] = t;
    }
  tg_uop *ret = e->src[0];
  for (size_t i = 0; i < rngs.n; i++) ret = K(cg_end(ret, &rngs.v[i], 1));
  if (back.n) ret = K(cg_end(ret, back.v, back.n));
  ret = tg_uop_retain(ret);
  cg_list_free(&real), cg_list_free(&back), cg_list_free(&rngs), cg_pool_free(&pool);
  return ret;
fail:
  cg_list_free(&real), cg_list_free(&back), cg_list_free(&rngs), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static const tg_upat end_pat = {.ops = {{1ull << TG_OP_END, 0}}, .has_ops = 1, .slot = 0};
static tg_uop *split_ends_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return split_ends(rw, b[0]); }
static const tg_rule split_rules[] = {{&end_pat, split_ends_rule, "linearizer.py pm_split_ends"}};
static tg_pm *g_split;
static pthread_once_t g_split_once = PTHREAD_ONCE_INIT;
static void split_init(void) { g_split = tg_pm_new(split_rules, 1); }
const tg_pm *cg_pm_split_ends(void) {
  pthread_once(&g_split_once, split_init);
  return g_split;
}

/* ---------------- CFGContext / pm_add_control_flow ---------------- */

typedef struct cfg { cg_list keys, vals; } cfg;

static tg_uop *control_flow_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  cfg *c = rw->ctx;
  tg_uop *x = b[0];
  long i = cg_list_find(&c->keys, x);
  if (i < 0) return NULL;
  tg_uop **s = malloc((x->nsrc + 1) * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  cg_memcpy(s, x->src, x->nsrc * sizeof *s);
  s[x->nsrc] = c->vals.v[i];
  tg_uop *r = cg_with_src(x, s, x->nsrc + 1);
  free(s);
  return cg_ok(rw, r);
}
static const tg_upat range_pat = {.ops = {{1ull << TG_OP_RANGE, 0}}, .has_ops = 1, .slot = 0};
static const tg_rule cf_rules[] = {{&range_pat, control_flow_rule, "linearizer.py pm_add_control_flow"}};

tg_uop *cg_add_control_flow(tg_uop *sink) {
  cg_list topo = {0};
  cfg ctx = {0};
  cg_list nest_k = {0}, nest_v = {0};
  cg_list *deps = NULL;
  tg_ptrset at = {0};
  tg_uop *ret = NULL;
  tg_pm *pm = NULL;
  if (cg_toposort(sink, &topo) || !tg_ptrset_init(&at, topo.n * 2 + 16)) goto out;
  deps = calloc(topo.n ? topo.n : 1, sizeof *deps);
  if (!deps) goto out;
  for (size_t i = 0; i < topo.n; i++) {
    tg_uop *u = topo.v[i];
    if (!tg_ptrset_put(&at, u, i)) goto out;
    for (size_t k = 0; k < u->nsrc; k++) {
      cg_list *d = &deps[*tg_ptrset_get(&at, u->src[k])];
      for (size_t j = 0; j < d->n; j++)
        if (cg_list_add(&deps[i], d->v[j])) goto out;
    }
    if (u->op == TG_OP_END || u->op == TG_OP_SINK)
      for (size_t j = 0; j < deps[i].n; j++) {
        tg_uop *x = deps[i].v[j];
        if (x->op != TG_OP_END || cg_list_has(&nest_k, x)) continue;
        int ok = u->op == TG_OP_SINK || cg_list_has(&deps[*tg_ptrset_get(&at, x)], u->src[1]);
        if (ok && (cg_list_push(&nest_k, x) || cg_list_push(&nest_v, u))) goto out;
      }
    if ((u->op == TG_OP_RANGE || u->op == TG_OP_END) && cg_list_add(&deps[i], u)) goto out;
  }
  /* siblings: nesting grouped by parent, in first-seen order */
  cg_list parents = {0};
  for (size_t i = 0; i < nest_v.n; i++)
    if (cg_list_add(&parents, nest_v.v[i])) { cg_list_free(&parents); goto out; }
  for (size_t p = 0; p < parents.n; p++) {
    tg_uop *k = parents.v[p];
    cg_list v = {0};
    size_t *cnt = NULL;
    for (size_t i = 0; i < nest_k.n; i++)
      if (nest_v.v[i] == k && cg_list_push(&v, nest_k.v[i])) { cg_list_free(&v); cg_list_free(&parents); goto out; }
    cnt = calloc(v.n ? v.n : 1, sizeof *cnt);
    if (!cnt) { cg_list_free(&v); cg_list_free(&parents); goto out; }
    for (size_t i = 0; i < v.n; i++) {
      cg_list *d = &deps[*tg_ptrset_get(&at, v.v[i])];
      for (size_t j = 0; j < v.n; j++) cnt[i] += cg_list_has(d, v.v[j]);
    }
    for (size_t i = 1; i < v.n; i++) /* stable sort by count */
      for (size_t j = i; j > 0 && cnt[j] < cnt[j - 1]; j--) {
        size_t t = cnt[j]; cnt[j] = cnt[j - 1]; cnt[j - 1] = t;
        tg_uop *u = v.v[j]; v.v[j] = v.v[j - 1]; v.v[j - 1] = u;
      }
    int err = 0;
    int sinkp = k->op == TG_OP_SINK;
    for (size_t i = sinkp ? 1 : 0; i < v.n && !err; i++) {
      tg_uop *x = i == 0 ? k->src[1] : v.v[i - 1], *y = v.v[i];
      long at_k = cg_list_find(&ctx.keys, y->src[1]);
      if (at_k >= 0) ctx.vals.v[at_k] = x;
      else err = cg_list_push(&ctx.keys, y->src[1]) || cg_list_push(&ctx.vals, x);
    }
    free(cnt);
    cg_list_free(&v);
    if (err) { cg_list_free(&parents); goto out; }
  }
  cg_list_free(&parents);
  pm = tg_pm_new(cf_rules, 1);
  if (pm) ret = tg_graph_rewrite(sink, pm, &ctx, TG_RW_BOTTOM_UP, NULL);
out:
  if (!ret && !pm) tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory in add control flow");
  tg_pm_free(pm);
  if (deps)
    for (size_t i = 0; i < topo.n; i++) cg_list_free(&deps[i]);
  free(deps);
  tg_ptrset_free(&at);
  cg_list_free(&topo), cg_list_free(&ctx.keys), cg_list_free(&ctx.vals), cg_list_free(&nest_k), cg_list_free(&nest_v);
  return ret;
}

/* ---------------- linearize ---------------- */

typedef struct prio { int64_t run, pri, extra; int has_extra; tg_uop *u; } prio;

static int prio_cmp(const prio *a, const prio *b) {
  if (a->run != b->run) return a->run < b->run ? -1 : 1;
  if (a->pri != b->pri) return a->pri < b->pri ? -1 : 1;
  if (a->has_extra && b->has_extra && a->extra != b->extra) return a->extra < b->extra ? -1 : 1;
  if (a->u == b->u) return 0;
  if (tg_uop_tuplize_lt(a->u, b->u) == 1) return -1;
  if (tg_uop_tuplize_lt(b->u, a->u) == 1) return 1;
  return 0;
}

static void merge_sort(prio *v, prio *tmp, size_t n) {
  if (n < 2) return;
  size_t h = n / 2;
  merge_sort(v, tmp, h);
  merge_sort(v + h, tmp, n - h);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = prio_cmp(&v[j], &v[i]) < 0 ? v[j++] : v[i++];
  while (i < h) tmp[k++] = v[i++];
  while (j < n) tmp[k++] = v[j++];
  cg_memcpy(v, tmp, n * sizeof *v);
}

typedef struct hent { int64_t key; tg_uop *u; } hent;
static void heap_push(hent *h, size_t *n, hent e) { /* min-heap on key */
  size_t i = (*n)++;
  h[i] = e;
  while (i && h[(i - 1) / 2].key > h[i].key) {
    hent t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}
static hent heap_pop(hent *h, size_t *n) {
  hent top = h[0];
  h[0] = h[--(*n)];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < *n && h[l].key < h[m].key) m = l;
    if (r < *n && h[r].key < h[m].key) m = r;
    if (m == i) break;
    hent t = h[i]; h[i] = h[m]; h[m] = t;
    i = m;
  }
  return top;
}

tg_uop **cg_linearize(tg_uop *sink, size_t *nout) {
  cg_list lst = {0};
  tg_ptrset at = {0};
  prio *p = NULL, *tmp = NULL;
  int64_t *outdeg = NULL, *nkey = NULL;
  hent *heap = NULL;
  tg_uop **res = NULL;
  size_t nres = 0;
  if (cg_toposort(sink, &lst)) return NULL;
  size_t n = lst.n;
  if (!tg_ptrset_init(&at, 2 * n + 16)) goto out;
  p = calloc(n, sizeof *p), tmp = calloc(n, sizeof *tmp), outdeg = calloc(n, sizeof *outdeg), nkey = calloc(n, sizeof *nkey);
  heap = calloc(n + 1, sizeof *heap), res = calloc(n + 1, sizeof *res);
  if (!p || !tmp || !outdeg || !nkey || !heap || !res) goto out;
  for (size_t i = 0; i < n; i++)
    if (!tg_ptrset_put(&at, lst.v[i], i)) goto out;
  for (size_t ii = n; ii-- > 0;) {
    tg_uop *u = lst.v[ii];
    for (size_t k = 0; k < u->nsrc; k++) outdeg[*tg_ptrset_get(&at, u->src[k])]++;
    const cg_list *r = cg_ranges(u);
    if (!r) goto out;
    int64_t run = 1;
    for (size_t k = 0; k < r->n; k++) run *= cg_vmax_i(r->v[k]) + 1;
    prio q = {run, 0, 0, 0, u};
    switch ((tg_op)u->op) {
    case TG_OP_PARAM: q.pri = -20, q.extra = cg_param_slot(u), q.has_extra = 1; break;
    case TG_OP_BUFFER: q.pri = cg_addrspace(u) == CG_AS_LOCAL ? -17 : -18; break;
    case TG_OP_LOAD: q.pri = -1; break;
    case TG_OP_STORE: q.pri = 1; break;
    case TG_OP_RANGE: q.pri = 5; break;
    case TG_OP_END: q.pri = -5; break;
    default: break;
    }
    p[ii] = q;
  }
  merge_sort(p, tmp, n);
  for (size_t i = 0; i < n; i++) nkey[*tg_ptrset_get(&at, p[i].u)] = (int64_t)i;
  size_t hn = 0;
  heap_push(heap, &hn, (hent){-nkey[*tg_ptrset_get(&at, sink)], sink});
  while (hn) {
    tg_uop *u = heap_pop(heap, &hn).u;
    res[nres++] = u;
    for (size_t k = 0; k < u->nsrc; k++) {
      size_t v = *tg_ptrset_get(&at, u->src[k]);
      if (--outdeg[v] == 0) heap_push(heap, &hn, (hent){-nkey[v], u->src[k]});
    }
  }
  for (size_t i = 0; i < nres / 2; i++) {
    tg_uop *t = res[i]; res[i] = res[nres - 1 - i]; res[nres - 1 - i] = t;
  }
  for (size_t i = 0; i < nres; i++) tg_uop_retain(res[i]);
  *nout = nres;
  free(p), free(tmp), free(outdeg), free(nkey), free(heap), tg_ptrset_free(&at), cg_list_free(&lst);
  return res;
out:
  tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory in linearize");
  free(p), free(tmp), free(outdeg), free(nkey), free(heap), free(res), tg_ptrset_free(&at), cg_list_free(&lst);
  return NULL;
}

/* do_linearize's line_rewrite with pm_linearize_cleanups: a gated STORE becomes IF, STORE, ENDIF */
tg_uop **tg_codegen_linearize(tg_uop *sink, size_t *nout) {
  size_t n = 0;
  tg_uop **lst = cg_linearize(sink, &n);
  if (!lst) return NULL;
  tg_uop **out = calloc(3 * n + 1, sizeof *out);
  tg_ptrset rep = {0};
  size_t no = 0;
  int err = !out || !tg_ptrset_init(&rep, 2 * n + 16);
  for (size_t i = 0; i < n && !err; i++) {
    tg_uop *u = lst[i];
    if (u->op == TG_OP_IF || u->op == TG_OP_ENDIF) { tg_err(TG_ERR_INTERNAL, "if not allowed in graph"); err = 1; break; }
    tg_uop *s16[16], **s = u->nsrc <= 16 ? s16 : malloc(u->nsrc * sizeof *s), *nu; /* a SINK or GROUP may have many */
    if (!s) { tg_err(TG_ERR_OUT_OF_MEMORY, "linearize: out of memory"); err = 1; break; }
    int changed = 0;
    for (size_t k = 0; k < u->nsrc; k++) {
      uint64_t *r = tg_ptrset_get(&rep, u->src[k]);
      s[k] = r ? (tg_uop *)(uintptr_t)*r : u->src[k];
      changed |= s[k] != u->src[k];
    }
    nu = changed ? cg_with_src(u, s, u->nsrc) : tg_uop_retain(u);
    if (s != s16) free(s);
    if (!nu) { err = 1; break; }
    tg_uop *idx = nu->nsrc == 3 ? nu->src[0] : NULL;
    if (idx && idx->op == TG_OP_CAST) idx = idx->src[0];
    if (nu->op == TG_OP_STORE && idx && (idx->op == TG_OP_INDEX || idx->op == TG_OP_SHRINK) && nu->src[2]->dtype == TG_BOOL) {
      tg_uop *st = cg_with_src(nu, nu->src, 2);
      tg_uop *mif = st ? tg_uop_new(TG_OP_IF, TG_DT_VOID, (tg_uop *[]){nu->src[2], nu->src[0]}, 2, tg_arg_none()) : NULL;
      tg_uop *mend = mif ? tg_uop_new(TG_OP_ENDIF, TG_DT_VOID, &mif, 1, tg_arg_none()) : NULL;
      tg_uop_release(nu);
      if (!mend) { tg_uop_release(st), tg_uop_release(mif); err = 1; break; }
      out[no++] = mif, out[no++] = st, out[no++] = mend;
      nu = st;
    } else out[no++] = nu;
    if (!tg_ptrset_put(&rep, u, (uint64_t)(uintptr_t)nu)) { err = 1; break; }
  }
  for (size_t i = 0; i < n; i++) tg_uop_release(lst[i]);
  free(lst);
  tg_ptrset_free(&rep);
  if (err) {
    for (size_t i = 0; i < no; i++) tg_uop_release(out[i]);
    free(out);
    return NULL;
  }
  *nout = no;
  return out;
}
