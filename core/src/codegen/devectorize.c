/* codegen/devectorize.c -- tinygrad 0.14.0's late lowering of shaped values: expand_broadcast, pm_add_loads, the
** devectorizer (a shaped op becomes a STACK of per-lane ops over INDEXed sources), and late/coalesce.py
** (indexing_simplify, memory_coalescing: adjacent loads/stores grouped into vector SHRINKs). Rules in devectorize.rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "codegen/upat_hand.h"
#include "uop/symbolic.h"

typedef struct ishape { int n; int64_t d[64]; } ishape;

static int get_shape(tg_uop *u, ishape *s) {
  tg_status st = TG_OK;
  const tg_shape *sh = tg_uop_shape(u, &st);
  if (!sh || sh->ndim > 64) return -1;
  s->n = (int)sh->ndim;
  for (uint32_t i = 0; i < sh->ndim; i++) s->d[i] = sh->dims[i].u ? cg_vmax_i(sh->dims[i].u) : sh->dims[i].v;
  return 0;
}
static int shape_eq(const ishape *a, const ishape *b) {
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n; i++)
    if (a->d[i] != b->d[i]) return 0;
  return 1;
}

/* _broadcast_to: EXPAND only adds dims on the left; squeeze the 1s that expand, EXPAND, permute back */
tg_uop *cg_broadcast_to(tg_uop *x, const ishape *ns) {
  ishape s;
  if (get_shape(x, &s)) return tg_err(TG_ERR_SHAPE, "broadcast: no shape"), NULL;
  if (shape_eq(&s, ns)) return tg_uop_retain(x);
  if (s.n > ns->n) return tg_err(TG_ERR_SHAPE, "cannot broadcast tensor to fewer dimensions"), NULL;
  int nl = ns->n - s.n;
  int64_t exp_at[64], kept[64], sq[64], earg[64], perm[64];
  int ne = 0, nk = 0, na = 0;
  for (int i = 0; i < s.n; i++) {
    if (s.d[i] != ns->d[nl + i] && s.d[i] != 1) return tg_err(TG_ERR_SHAPE, "cannot broadcast"), NULL;
    if (s.d[i] == 1 && ns->d[nl + i] != 1) exp_at[ne++] = i;
    else kept[nk] = i, sq[nk++] = s.d[i];
  }
  for (int i = 0; i < nl; i++) earg[na++] = ns->d[i];
  for (int i = 0; i < ne; i++) earg[na++] = ns->d[nl + exp_at[i]];
  cg_pool pool = {0};
  tg_uop *squeezed = K(cg_reshape(x, sq, (size_t)nk)), *expanded = K(cg_expand(squeezed, earg, (size_t)na));
  for (int i = 0; i < nl; i++) perm[i] = i;
  for (int i = 0; i < s.n; i++) {
    int at = -1, kat = -1;
    for (int k = 0; k < ne; k++) if (exp_at[k] == i) at = k;
    for (int k = 0; k < nk; k++) if (kept[k] == i) kat = k;
    perm[nl + i] = nl + (at >= 0 ? at : ne + kat);
  }
  tg_uop *r = cg_permute(expanded, perm, (size_t)ns->n);
  cg_pool_free(&pool);
  return r;
fail:
  cg_pool_free(&pool);
  return NULL;
}

static int broadcast_shape(const ishape *sh, int n, ishape *out) {
  int nd = 0;
  for (int i = 0; i < n; i++) nd = sh[i].n > nd ? sh[i].n : nd;
  out->n = nd;
  for (int d = 0; d < nd; d++) {
    int64_t v = 1;
    for (int i = 0; i < n; i++) {
      int k = d - (nd - sh[i].n);
      int64_t s = k >= 0 ? sh[i].d[k] : 1;
      if (s == 1) continue;
      if (v != 1 && v != s) return tg_err(TG_ERR_SHAPE, "shape mismatch: objects cannot be broadcast to a single shape"), -1;
      v = s;
    }
    out->d[d] = v;
  }
  return 0;
}

static tg_uop *expand_broadcast(tg_rw *rw, tg_uop *x) {
  ishape sh[8], out;
  if (x->nsrc > 8) return NULL;
  int same = 1;
  for (size_t i = 0; i < x->nsrc; i++) {
    if (get_shape(x->src[i], &sh[i])) return NULL;
    if (i && !shape_eq(&sh[i], &sh[0])) same = 0;
  }
  if (same) return NULL;
  if (broadcast_shape(sh, (int)x->nsrc, &out)) return tg_rw_fail(rw);
  cg_pool pool = {0};
  tg_uop *s[8];
  for (size_t i = 0; i < x->nsrc; i++) s[i] = K(cg_broadcast_to(x->src[i], &out));
  tg_uop *r = cg_with_src(x, s, x->nsrc);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* broadcast_and_devec_wmma: WMMA sources of different leading shapes are broadcast, and the WMMA becomes one per
** leading index (its last axis is the fragment) */
static tg_uop *devec_wmma(tg_rw *rw, tg_uop *b) {
  ishape sh[3], lead[3], out, bs;
  for (int i = 0; i < 3; i++) {
    if (get_shape(b->src[i], &sh[i]) || sh[i].n < 1) return NULL;
    lead[i] = sh[i], lead[i].n--;
  }
  if (shape_eq(&lead[0], &lead[1]) && shape_eq(&lead[1], &lead[2])) return NULL;
  if (broadcast_shape(lead, 3, &out) || get_shape(b, &bs)) return tg_rw_fail(rw);
  cg_pool pool = {0};
  tg_uop *ex[3];
  for (int i = 0; i < 3; i++) {
    ishape t = out;
    t.d[t.n++] = sh[i].d[sh[i].n - 1];
    ex[i] = K(cg_broadcast_to(b->src[i], &t));
  }
  int64_t total = 1, idx[64] = {0};
  int nl = bs.n - 1;
  for (int i = 0; i < nl; i++) total *= bs.d[i];
  tg_uop **lanes = malloc((size_t)(total ? total : 1) * sizeof *lanes);
  if (!lanes) goto fail;
  for (int64_t t = 0; t < total; t++) {
    tg_uop *ic[64], *s3[3];
    for (int i = 0; i < nl; i++) ic[i] = cg_pool_add(&pool, cg_cint(idx[i]));
    for (int i = 0; i < 3; i++) s3[i] = cg_pool_add(&pool, cg_index(ex[i], ic, (size_t)nl));
    lanes[t] = cg_pool_add(&pool, s3[0] && s3[1] && s3[2] ? cg_with_src(b, s3, 3) : NULL);
    if (!lanes[t]) { free(lanes); goto fail; }
    for (int i = nl - 1; i >= 0; i--) {
      if (++idx[i] < bs.d[i]) break;
      idx[i] = 0;
    }
  }
  tg_uop *st = cg_pool_add(&pool, cg_stack(lanes, (size_t)total));
  free(lanes);
  if (!st) goto fail;
  tg_uop *r = cg_reshape(st, bs.d, (size_t)bs.n);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* do_stack_wmma: a WMMA's sources become STACKs of their lanes */
static tg_uop *stack_wmma(tg_rw *rw, tg_uop *u) {
  int all = 1;
  for (size_t i = 0; i < u->nsrc; i++) all &= u->src[i]->op == TG_OP_STACK || u->src[i]->op == TG_OP_WMMA;
  if (all || u->nsrc > 8) return NULL;
  cg_pool pool = {0};
  tg_uop *s[8];
  for (size_t i = 0; i < u->nsrc; i++) {
    tg_uop *x = u->src[i];
    if (x->op == TG_OP_STACK) { s[i] = x; continue; }
    int64_t n = cg_max_numel(x);
    if (n < 0 || n > 256) goto fail;
    tg_uop *l[256];
    for (int64_t j = 0; j < n; j++) l[j] = K(cg_index_i(x, j));
    s[i] = K(cg_stack(l, (size_t)n));
  }
  tg_uop *r = cg_with_src(u, s, u->nsrc);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static int needs_load(tg_uop *u) {
  int as = cg_addrspace(u);
  return as == CG_AS_GLOBAL || as == CG_AS_LOCAL || as == CG_AS_REG;
}

static tg_uop *add_loads(tg_rw *rw, tg_uop *x) {
  if (x->op == TG_OP_BITCAST) {
    ishape a, b;
    if (!get_shape(x, &a) && !get_shape(x->src[0], &b) && !shape_eq(&a, &b)) return NULL;
  }
  tg_uop *s[8];
  cg_pool pool = {0};
  if (x->nsrc > 8) return NULL;
  int changed = 0;
  for (size_t i = 0; i < x->nsrc; i++) {
    s[i] = needs_load(x->src[i]) ? K(cg_load(x->src[i])) : x->src[i];
    changed |= s[i] != x->src[i];
  }
  tg_uop *r = changed ? cg_with_src(x, s, x->nsrc) : NULL;
  cg_pool_free(&pool);
  return changed ? cg_ok(rw, r) : NULL;
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *add_store_load(tg_rw *rw, tg_uop *x) {
  if (x->nsrc < 2 || !needs_load(x->src[1])) return NULL;
  tg_uop *s[8];
  if (x->nsrc > 8) return NULL;
  cg_memcpy(s, x->src, x->nsrc * sizeof *s);
  tg_uop *l = cg_load(x->src[1]);
  if (!l) return tg_rw_fail(rw);
  s[1] = l;
  tg_uop *r = cg_with_src(x, s, x->nsrc);
  tg_uop_release(l);
  return cg_ok(rw, r);
}

/* ---------------- devectorizer ---------------- */

static tg_uop *do_devectorize(tg_rw *rw, tg_uop *b) {
  ishape bs, xs;
  if (get_shape(b, &bs) || bs.n == 0) return NULL;
  if (b->nsrc > 8) return NULL;
  for (size_t i = 0; i < b->nsrc; i++) {
    if (cg_is_invalid(tg_uop_base(b->src[i]))) continue;
    if (get_shape(b->src[i], &xs) || !shape_eq(&xs, &bs)) return NULL;
  }
  int64_t total = 1, idx[64] = {0};
  for (int i = 0; i < bs.n; i++) total *= bs.d[i];
  cg_pool pool = {0};
  tg_uop **lanes = malloc((size_t)(total ? total : 1) * sizeof *lanes);
  if (!lanes) return tg_rw_fail(rw);
  for (int64_t t = 0; t < total; t++) {
    tg_uop *ic[64], *s[8];
    for (int i = 0; i < bs.n; i++) ic[i] = K(cg_cint(idx[i]));
    for (size_t i = 0; i < b->nsrc; i++) {
      tg_uop *base = tg_uop_base(b->src[i]);
      s[i] = cg_is_invalid(base) ? base : K(cg_index(b->src[i], ic, (size_t)bs.n));
    }
    lanes[t] = K(tg_uop_new_tagged((tg_op)b->op, b->op == TG_OP_CAST || b->op == TG_OP_BITCAST ? b->dtype : TG_DT_AUTO, s, b->nsrc, b->arg, b->tag));
    for (int i = bs.n - 1; i >= 0; i--) {
      if (++idx[i] < bs.d[i]) break;
      idx[i] = 0;
    }
  }
  tg_uop *r;
  if (b->op == TG_OP_STORE) r = cg_group(lanes, (size_t)total);
  else {
    tg_uop *st = K(cg_stack(lanes, (size_t)total));
    r = cg_reshape(st, bs.d, (size_t)bs.n);
  }
  free(lanes);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  free(lanes);
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *stack_index(tg_rw *rw, tg_uop *b, tg_uop *s, tg_uop *x) {
  cg_pool pool = {0};
  tg_uop **v = malloc((s->nsrc ? s->nsrc : 1) * sizeof *v);
  if (!v) return tg_rw_fail(rw);
  for (size_t i = 0; i < s->nsrc; i++) v[i] = K(cg_with_src(x, (tg_uop *[]){b, s->src[i]}, 2));
  tg_uop *r = cg_stack(v, s->nsrc);
  free(v);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  free(v);
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *index_reshape(tg_rw *rw, tg_uop *b, tg_uop *s) {
  ishape sh;
  if (get_shape(s, &sh)) return NULL;
  tg_uop *i = cg_index1(b, s->src[0]), *r = i ? cg_reshape(i, sh.d, (size_t)sh.n) : NULL;
  tg_uop_release(i);
  return cg_ok(rw, r);
}

static tg_uop *reshape_scalar(tg_rw *rw, tg_uop *x) {
  ishape m, s;
  if (get_shape(x, &m) || m.n != 0 || get_shape(x->src[0], &s) || s.n != 1 || s.d[0] != 1) return NULL;
  return cg_ok(rw, cg_index_i(x->src[0], 0));
}

static tg_uop *expand_scalar(tg_rw *rw, tg_uop *x, tg_uop *out) {
  ishape xs, os;
  if (get_shape(x, &xs) || xs.n != 0 || get_shape(out, &os) || os.n != 1) return NULL;
  int64_t n = os.d[0];
  tg_uop **v = malloc((size_t)(n ? n : 1) * sizeof *v);
  if (!v) return tg_rw_fail(rw);
  for (int64_t i = 0; i < n; i++) v[i] = x;
  tg_uop *r = cg_stack(v, (size_t)n);
  free(v);
  return cg_ok(rw, r);
}

static tg_uop *simplify_valid_load(tg_rw *rw, tg_uop *buf, tg_uop *x, tg_uop *cond) {
  tg_uop *idx = cg_uop_given_valid(cond, x, 1);
  if (!idx) return tg_rw_fail(rw);
  if (idx == x) { tg_uop_release(idx); return NULL; }
  tg_uop *xs = tg_uop_simplify(x);
  if (!xs) { tg_uop_release(idx); return tg_rw_fail(rw); }
  int same = xs == idx;
  tg_uop_release(xs);
  if (same) { tg_uop_release(idx); return NULL; }
  tg_uop *v = cg_valid(idx, cond), *r = v ? cg_index1(buf, v) : NULL;
  tg_uop_release(v), tg_uop_release(idx);
  return cg_ok(rw, r);
}

#include "codegen/devectorize_rules.inc"

/* tinygrad: (UPat(Ops.EXPAND, src=(UPat.var("x"), UPat()), name="out"),
**            lambda x,out: UOp.stack(*([x]*out.max_numel())) if x.shape == () and out.shape == (out.max_numel(),) else None) */
static const tg_upat ex_x = {.slot = 1}, ex_any = {.slot = -1};
static const tg_upat ex_out = {HOP(TG_OP_EXPAND), HSRC(TG_UPAT_SRC_TUPLE, &ex_x, &ex_any), .slot = 0};
static tg_uop *expand_scalar_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return expand_scalar(rw, b[1], b[0]); }
static const tg_rule expand_rules[] = {{&ex_out, expand_scalar_rule, "codegen devectorizer2 EXPAND on scalar"}};

static tg_pm *g_ebl, *g_dev2, *g_ew, *g_expand;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void init(void) {
  g_expand = tg_pm_new(expand_rules, 1);
  const tg_pm *a[] = {tg_pm_symbolic_simple(), tg_pm_cg_wmma_add(), tg_pm_cg_expand_broadcast(), tg_pm_cg_add_loads()};
  g_ebl = tg_pm_concat(a, 4);
  const tg_pm *b[] = {tg_pm_symbolic_simple(), tg_pm_mop_cleanup(), cg_pm_mops(), tg_pm_cg_devectorizer_rules(), g_expand, tg_pm_cg_indexing_simplify()};
  if (g_expand) g_dev2 = tg_pm_concat(b, 6);
  const tg_pm *c[] = {tg_pm_symbolic_simple(), tg_pm_cg_ew_devectorizer()};
  g_ew = tg_pm_concat(c, 2);
}
const tg_pm *cg_pm_expand_broadcast_loads(void) { pthread_once(&g_once, init); return g_ebl; }
const tg_pm *cg_pm_devectorize2(void) { pthread_once(&g_once, init); return g_dev2; }
const tg_pm *cg_pm_ew_devectorize(void) { pthread_once(&g_once, init); return g_ew; }
const tg_pm *cg_pm_indexing_simplify(void) { return tg_pm_cg_indexing_simplify(); }

/* ---------------- memory coalescing ---------------- */

typedef struct mgroup {
  tg_op op;
  tg_uop *buf, *root, *valid; /* root: the index base, or NULL with kind */
  int kind;                   /* 0: UOp base, 1: "INVALID", 2: "CONST" */
  int64_t *off;               /* offsets, with the uops at each */
  cg_list *at;
  size_t n, cap;
} mgroup;

static int group_add(mgroup *g, int64_t off, tg_uop *u) {
  for (size_t i = 0; i < g->n; i++)
    if (g->off[i] == off) return cg_list_push(&g->at[i], u);
  if (g->n == g->cap) {
    size_t nc = g->cap ? g->cap * 2 : 8;
    int64_t *no = realloc(g->off, nc * sizeof *no);
    if (!no) return -1;
    g->off = no;
    cg_list *na = realloc(g->at, nc * sizeof *na);
    if (!na) return -1;
    g->at = na, g->cap = nc;
  }
  g->off[g->n] = off;
  memset(&g->at[g->n], 0, sizeof(cg_list));
  return cg_list_push(&g->at[g->n++], u);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static cg_list *group_at(mgroup *g, int64_t off) {
  for (size_t i = 0; i < g->n; i++)
    if (g->off[i] == off) return &g->at[i];
  return NULL;
}

tg_uop *cg_memory_coalescing(tg_uop *sink, const cg_ren *ren) {
  cg_list topo = {0}, keys = {0}, vals = {0};
  cg_pool pool = {0};
  mgroup *gs = NULL;
  int64_t *sorted = NULL;
  size_t ng = 0, gcap = 0;
  tg_uop *ret = NULL;
  if (cg_toposort(sink, &topo)) return NULL;
  for (size_t t = 0; t < topo.n; t++) {
    tg_uop *u = topo.v[t];
    if (u->op != TG_OP_LOAD && u->op != TG_OP_STORE) continue;
    if (u->nsrc != (u->op == TG_OP_STORE ? 2u : 1u) || u->src[0]->op != TG_OP_INDEX || u->src[0]->nsrc != 2) {
      tg_err(TG_ERR_INTERNAL, "memory coalescing does not support gated loads/stores");
      goto fail;
    }
    tg_uop *buf = u->src[0]->src[0], *iu = u->src[0]->src[1];
    if (cg_addrspace(buf) == CG_AS_REG) continue;
    int gated = iu->op == TG_OP_WHERE && cg_is_invalid(iu->src[2]);
    tg_uop *idx = gated ? iu->src[1] : iu;
    tg_uop *valid = gated ? iu->src[0] : K(tg_uop_const_bool(!cg_is_invalid(iu)));
    tg_uop *root = NULL;
    int kind = 0;
    int64_t off = 0;
    if (idx->op == TG_OP_ADD && idx->src[1]->op == TG_OP_CONST) root = idx->src[0], off = cg_cval(idx->src[1], 0);
    else if (idx->op == TG_OP_ADD && idx->src[0]->op == TG_OP_CONST) root = idx->src[1], off = cg_cval(idx->src[0], 0);
    else if (cg_is_invalid(idx)) kind = 1;
    else if (idx->op == TG_OP_CONST) kind = 2, off = cg_cval(idx, 0);
    else root = idx;
    size_t gi = 0;
    while (gi < ng && !(gs[gi].op == u->op && gs[gi].buf == buf && gs[gi].root == root && gs[gi].kind == kind && gs[gi].valid == valid)) gi++;
    if (gi == ng) {
      if (ng == gcap) {
        size_t nc = gcap ? gcap * 2 : 16;
        mgroup *n2 = realloc(gs, nc * sizeof *n2);
        if (!n2) goto fail;
        gs = n2, gcap = nc;
      }
      memset(&gs[ng], 0, sizeof *gs);
      gs[ng].op = (tg_op)u->op, gs[ng].buf = buf, gs[ng].root = root, gs[ng].kind = kind, gs[ng].valid = valid;
      ng++;
    }
    if (group_add(&gs[gi], off, u)) goto fail;
  }
  for (size_t gi = 0; gi < ng; gi++) {
    mgroup *g = &gs[gi];
    int bdt = g->buf->dtype, lengths[4], nl = 0;
    int ok_dt = bdt == TG_FLOAT32 || bdt == TG_FLOAT16 || bdt == TG_INT32 || bdt == TG_UINT32 || tg_dt_is_fp8((tg_dtype)bdt);
    if (ok_dt && cg_addrspace(g->buf) != CG_AS_REG && ren->supports_float4) lengths[nl++] = 4, lengths[nl++] = 2;
    lengths[nl++] = 1;
    sorted = malloc(g->n * sizeof *sorted);
    if (!sorted) goto fail;
    cg_memcpy(sorted, g->off, g->n * sizeof *sorted);
    qsort(sorted, g->n, sizeof *sorted, cmp_i64);
    size_t s = 0;
    while (s < g->n) { /* a run of consecutive offsets */
      size_t e = s + 1;
      while (e < g->n && sorted[e] == sorted[s] + (int64_t)(e - s)) e++;
      size_t p = s;
      while (p < e) {
        tg_uop *offset = g->root ? cg_pool_add(&pool, tg_um_binop(TG_OP_ADD, g->root, K(cg_cint(sorted[p])))) : K(cg_cint(sorted[p]));
        if (!offset) goto fail;
        int len = 1;
        for (int li = 0; li < nl; li++) {
          if ((size_t)lengths[li] > e - p) continue;
          int err = 0;
          tg_uop *d = tg_uop_divides(offset, lengths[li], &err);
          if (err) goto fail;
          if (d) { tg_uop_release(d); len = lengths[li]; break; }
        }
        tg_uop *voff = cg_pool_add(&pool, cg_valid(offset, g->valid));
        tg_uop *ix = NULL;
        if (!voff) goto fail;
        if (len > 1) {
          tg_uop *n = cg_pool_add(&pool, cg_cint(len));
          ix = n ? cg_pool_add(&pool, tg_uop_new(TG_OP_SHRINK, TG_DT_AUTO, (tg_uop *[]){g->buf, voff, n}, 3, tg_arg_none())) : NULL;
        } else ix = cg_pool_add(&pool, cg_index1(g->buf, voff));
        if (!ix) goto fail;
        if (g->op == TG_OP_STORE) {
          tg_uop *datas[4];
          for (int i = 0; i < len; i++) {
            cg_list *at = group_at(g, sorted[p + (size_t)i]);
            if (at->n != 1) { tg_err(TG_ERR_INTERNAL, "attempting multiple stores: %zu", at->n); goto fail; }
            datas[i] = at->v[0]->src[1];
          }
          tg_uop *val = len > 1 ? cg_pool_add(&pool, cg_stack(datas, (size_t)len)) : datas[0];
          tg_uop *st = val ? cg_pool_add(&pool, cg_store(ix, val)) : NULL;
          if (!st) goto fail;
          for (int i = 0; i < len; i++)
            if (cg_list_push(&keys, group_at(g, sorted[p + (size_t)i])->v[0]) || cg_list_push(&vals, st)) goto fail;
        } else {
          tg_uop *ld = cg_pool_add(&pool, cg_load(ix));
          if (!ld) goto fail;
          for (int i = 0; i < len; i++) {
            cg_list *at = group_at(g, sorted[p + (size_t)i]);
            tg_uop *v = len > 1 ? cg_pool_add(&pool, cg_index_i(ld, i)) : ld;
            if (!v) goto fail;
            for (size_t k = 0; k < at->n; k++)
              if (cg_list_push(&keys, at->v[k]) || cg_list_push(&vals, v)) goto fail;
          }
        }
        p += (size_t)len;
      }
      s = e;
    }
    free(sorted);
    sorted = NULL;
  }
  ret = keys.n ? tg_uop_substitute(sink, keys.v, vals.v, keys.n) : tg_uop_retain(sink);
fail:
  free(sorted);
  for (size_t gi = 0; gi < ng; gi++) {
    for (size_t i = 0; i < gs[gi].n; i++) cg_list_free(&gs[gi].at[i]);
    free(gs[gi].off), free(gs[gi].at);
  }
  free(gs);
  cg_list_free(&topo), cg_list_free(&keys), cg_list_free(&vals), cg_pool_free(&pool);
  return ret;
}
