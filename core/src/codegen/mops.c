/* codegen/mops.c -- movement ops on INDEX, as codegen meets them after the expander: tinygrad 0.14.0's pm_mops
** (schedule/rangeify.py) and apply_movement_op / _apply_reshape (schedule/indexing.py). The scheduler has its own
** copy of these for the tensor graph; this one only handles int shapes (codegen shapes are never symbolic here). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "uop/symbolic.h"

static tg_pm *g_reshape_pm;
static pthread_once_t g_reshape_once = PTHREAD_ONCE_INIT;
static void reshape_init(void) {
  const tg_pm *parts[] = {tg_pm_symbolic(), tg_pm_cg_simplify_valid(), tg_pm_cg_drop_and_clauses()};
  g_reshape_pm = tg_pm_concat(parts, 3);
}

static int shape_ints(tg_uop *u, int64_t *out) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(u, &st);
  if (!s || s->ndim > 64) return -1;
  for (uint32_t i = 0; i < s->ndim; i++) {
    if (s->dims[i].u) return -1;
    out[i] = s->dims[i].v;
  }
  return (int)s->ndim;
}

/* _apply_reshape(in_shape, out_shape, urngs): the flat index of the output ranges, split by the input shape */
static tg_uop *apply_reshape_uncached(const int64_t *in, int nin, const int64_t *outs, tg_uop *const *rngs, int nout);

/* tinygrad memoizes _apply_reshape (functools.cache): the ranges arrive as PLACEHOLDERs, so kernels of the same shapes
** share the simplified index. Same here: keyed by both shapes and the (interned, retained) range UOps. */
#define RS_CAP 4096
typedef struct rs_entry {
  uint64_t h;
  int nin, nout;
  int64_t *dims;        /* in[nin] then outs[nout] */
  tg_uop **rngs;        /* nout, retained */
  tg_uop *res;          /* retained */
} rs_entry;
static rs_entry g_rs[RS_CAP];
static size_t g_rs_n;
static pthread_mutex_t g_rs_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rs_hash(const int64_t *in, int nin, const int64_t *outs, tg_uop *const *rngs, int nout) {
  uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
  MIX(nin), MIX(nout);
  for (int i = 0; i < nin; i++) MIX(in[i]);
  for (int i = 0; i < nout; i++) MIX(outs[i]), MIX((uintptr_t)rngs[i]);
#undef MIX
  return h;
}

static void rs_clear(void) {
  for (size_t i = 0; i < RS_CAP; i++) {
    rs_entry *e = &g_rs[i];
    if (!e->res) continue;
    for (int k = 0; k < e->nout; k++) tg_uop_release(e->rngs[k]);
    tg_uop_release(e->res);
    free(e->dims), free(e->rngs);
    *e = (rs_entry){0};
  }
  g_rs_n = 0;
}

static int rs_match(const rs_entry *e, uint64_t h, const int64_t *in, int nin, const int64_t *outs, tg_uop *const *rngs, int nout) {
  if (!e->res || e->h != h || e->nin != nin || e->nout != nout) return 0;
  if (memcmp(e->dims, in, (size_t)nin * sizeof *in) || memcmp(e->dims + nin, outs, (size_t)nout * sizeof *outs)) return 0;
  for (int i = 0; i < nout; i++)
    if (e->rngs[i] != rngs[i]) return 0;
  return 1;
}

static tg_uop *apply_reshape(const int64_t *in, int nin, const int64_t *outs, tg_uop *const *rngs, int nout) {
  uint64_t h = rs_hash(in, nin, outs, rngs, nout);
  pthread_mutex_lock(&g_rs_mu);
  for (size_t i = h % RS_CAP, k = 0; k < RS_CAP && g_rs[i].res; i = (i + 1) % RS_CAP, k++)
    if (rs_match(&g_rs[i], h, in, nin, outs, rngs, nout)) {
      tg_uop *r = tg_uop_retain(g_rs[i].res);
      pthread_mutex_unlock(&g_rs_mu);
      return r;
    }
  pthread_mutex_unlock(&g_rs_mu);
  tg_uop *r = apply_reshape_uncached(in, nin, outs, rngs, nout);
  if (!r) return NULL;
  int64_t *dims = malloc((size_t)(nin + nout) * sizeof *dims + 1);
  tg_uop **rs = malloc((size_t)nout * sizeof *rs + 1);
  if (!dims || !rs) return free(dims), free(rs), r; /* no room to remember it: still a correct answer */
  memcpy(dims, in, (size_t)nin * sizeof *in);
  memcpy(dims + nin, outs, (size_t)nout * sizeof *outs);
  for (int i = 0; i < nout; i++) rs[i] = tg_uop_retain(rngs[i]);
  pthread_mutex_lock(&g_rs_mu);
  if (g_rs_n >= RS_CAP / 2) rs_clear(); /* bounded: start over rather than probe a full table */
  size_t i = h % RS_CAP;
  while (g_rs[i].res) i = (i + 1) % RS_CAP;
  g_rs[i] = (rs_entry){h, nin, nout, dims, rs, tg_uop_retain(r)};
  g_rs_n++;
  pthread_mutex_unlock(&g_rs_mu);
  return r;
}

/* Drops the memo (its UOps stay alive otherwise): for leak checks that count live UOps. */
void tg_codegen_mops_cache_clear(void) {
  pthread_mutex_lock(&g_rs_mu);
  rs_clear();
  pthread_mutex_unlock(&g_rs_mu);
}

static tg_uop *apply_reshape_uncached(const int64_t *in, int nin, const int64_t *outs, tg_uop *const *rngs, int nout) {
  cg_pool pool = {0};
  tg_uop *axes_in[64];
  int64_t acc = 1;
  int na = 0;
  for (int i = nout - 1; i >= 0; i--) {
    tg_uop *a = K(cg_cint(acc));
    axes_in[na++] = K(tg_um_binop(TG_OP_MUL, a, rngs[i]));
    acc *= outs[i];
  }
  tg_uop *comb = K(cg_cint(0));
  for (int i = 0; i < na; i++) comb = K(tg_um_binop(TG_OP_ADD, comb, axes_in[i]));
  tg_uop *axes_out[64];
  for (int i = nin - 1; i >= 0; i--) {
    tg_uop *s = K(cg_cint(in[i]));
    axes_out[nin - 1 - i] = K(tg_um_mod(comb, s));
    comb = K(tg_um_floordiv(comb, s));
  }
  tg_uop *rev[64];
  for (int i = 0; i < nin; i++) rev[i] = axes_out[nin - 1 - i];
  tg_uop *sink = K(cg_sink(rev, (size_t)nin, NULL));
  pthread_once(&g_reshape_once, reshape_init);
  if (!g_reshape_pm) goto fail;
  tg_uop *r = tg_graph_rewrite(sink, g_reshape_pm, NULL, 0, NULL);
  cg_pool_free(&pool);
  return r;
fail:
  cg_pool_free(&pool);
  return NULL;
}

/* apply_movement_op(op, in_shape, arg, rngs) -> new rngs (new references into out); count or -1 */
static int apply_mop(tg_uop *r, const int64_t *in, int nin, tg_uop *const *rngs, int nr, tg_uop **out) {
  int64_t marg[128];
  int nm = cg_marg(r, marg);
  cg_pool pool = {0};
  int n = 0;
  if (nm < 0) return cg_err(TG_ERR_UNSUPPORTED, "codegen: symbolic movement arg"), -1;
  switch ((tg_op)r->op) {
  case TG_OP_SHRINK:
    for (int i = 0; i < nr; i++) {
      tg_uop *o = K(cg_cint(marg[2 * i]));
      out[n++] = marg[2 * i] == 0 ? tg_uop_retain(rngs[i]) : tg_um_binop(TG_OP_ADD, rngs[i], o);
    }
    break;
  case TG_OP_PERMUTE: /* rngs[p] for p in argsort(arg) */
    for (int i = 0; i < nr; i++)
      for (int k = 0; k < nm; k++)
        if (marg[k] == i) out[n++] = tg_uop_retain(rngs[k]);
    break;
  case TG_OP_FLIP:
    for (int i = 0; i < nr; i++) {
      if (!marg[i]) { out[n++] = tg_uop_retain(rngs[i]); continue; }
      tg_uop *s = K(cg_cint(in[i] - 1));
      out[n++] = tg_um_sub(s, rngs[i]);
    }
    break;
  case TG_OP_EXPAND:
    for (int i = nm; i < nr; i++) out[n++] = tg_uop_retain(rngs[i]);
    break;
  case TG_OP_PAD:
    for (int i = 0; i < nr; i++) {
      int64_t off = marg[2 * i], sz = marg[2 * i + 1];
      if (sz == in[i] && off == 0) { out[n++] = tg_uop_retain(rngs[i]); continue; }
      tg_uop *co = K(cg_cint(off)), *ce = K(cg_cint(in[i] + off));
      tg_uop *lt = K(tg_um_binop(TG_OP_CMPLT, rngs[i], co)), *ge = K(tg_um_logical_not(lt));
      tg_uop *hi = K(tg_um_binop(TG_OP_CMPLT, rngs[i], ce)), *both = K(tg_um_binop(TG_OP_AND, ge, hi));
      pthread_once(&g_reshape_once, reshape_init);
      const tg_pm *parts[] = {tg_pm_symbolic(), tg_pm_cg_simplify_valid()};
      tg_pm *pm = tg_pm_concat(parts, 2);
      tg_uop *cond = pm ? tg_graph_rewrite(both, pm, NULL, 0, NULL) : NULL;
      tg_pm_free(pm);
      if (!cg_pool_add(&pool, cond)) goto fail;
      tg_uop *sub = K(tg_um_sub(rngs[i], co));
      out[n++] = cg_valid(sub, cond);
    }
    break;
  case TG_OP_RESHAPE: {
    tg_uop *sink = K(cg_sink(rngs, (size_t)nr, NULL)), *ss = K(tg_uop_simplify(sink));
    const cg_list *rl = cg_ranges(ss);
    if (!rl) goto fail;
    tg_uop *keys[64], *vals[64];
    size_t nk = 0;
    for (size_t i = 0; i < rl->n && nk < 64; i++) {
      tg_uop *x = rl->v[i];
      tg_arg items[2] = {tg_arg_int((int64_t)i), cg_axis_arg(CG_AX_PLACEHOLDER)};
      tg_arg a = tg_arg_tuple(items, 2);
      keys[nk] = x;
      vals[nk] = K(tg_uop_replace(x, (tg_op)x->op, x->dtype, x->src, x->nsrc ? 1 : 0, &a, NULL));
      nk++;
    }
    tg_uop *subbed = K(tg_uop_substitute(ss, keys, vals, nk));
    tg_uop *res = K(apply_reshape(in, nin, marg, subbed->src, (int)subbed->nsrc));
    tg_uop *back = K(tg_uop_substitute(res, vals, keys, nk));
    for (size_t i = 0; i < back->nsrc; i++) out[n++] = tg_uop_retain(back->src[i]);
    break;
  }
  default: tg_err(TG_ERR_INTERNAL, "%s is not a MovementOp", tg_op_name((tg_op)r->op)); goto fail;
  }
  for (int i = 0; i < n; i++)
    if (!out[i]) goto fail_out;
  cg_pool_free(&pool);
  return n;
fail_out:
  for (int i = 0; i < n; i++) tg_uop_release(out[i]);
fail:
  cg_pool_free(&pool);
  return -1;
}

static tg_uop *index_with(tg_uop *buf, tg_uop *const *idx, int n, const tg_arg *arg) {
  if (n == 1 && idx[0]->op == TG_OP_CONST && buf->op == TG_OP_STACK) return cg_index(buf, idx, 1);
  tg_uop *s[65];
  s[0] = buf;
  for (int i = 0; i < n; i++) s[i + 1] = idx[i];
  return tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, s, (size_t)n + 1, *arg);
}

static tg_uop *mop_index(tg_rw *rw, tg_uop *r, tg_uop *idx) {
  int64_t rs[64], ss[64];
  int nr = shape_ints(r, rs), ns = shape_ints(r->src[0], ss), ni = (int)idx->nsrc - 1;
  if (nr < 0 || ns < 0) return NULL;
  tg_uop *out[64];
  if (ni == nr) {
    int n = apply_mop(r, ss, ns, idx->src + 1, ni, out);
    if (n < 0) return tg_rw_fail(rw);
    tg_uop *ret = index_with(r->src[0], out, n, &idx->arg);
    for (int i = 0; i < n; i++) tg_uop_release(out[i]);
    return cg_ok(rw, ret);
  }
  if (r->op != TG_OP_RESHAPE) return NULL;
  int tail = nr - ni, prefix = ns - tail;
  if (tail < 0 || prefix < 0) return NULL;
  for (int i = 0; i < tail; i++)
    if (ss[prefix + i] != rs[ni + i]) return NULL;
  if (prefix == 0) return r->src[0]->dtype == idx->dtype ? tg_uop_retain(r->src[0]) : NULL;
  /* apply the reshape from src.shape[:prefix] to r.shape[:ni] */
  cg_pool pool = {0};
  int n;
  {
    /* apply_mop reads the marg from the op: build a RESHAPE view whose marg is r.shape[:ni] over src.shape[:prefix] */
    int64_t in[64];
    cg_memcpy(in, ss, (size_t)prefix * sizeof *in);
    tg_uop *outs[64];
    tg_uop *sink = K(cg_sink(idx->src + 1, (size_t)ni, NULL)), *sv = K(tg_uop_simplify(sink));
    const cg_list *rl = cg_ranges(sv);
    if (!rl) goto fail;
    tg_uop *keys[64], *vals[64];
    size_t nk = 0;
    for (size_t i = 0; i < rl->n && nk < 64; i++) {
      tg_uop *x = rl->v[i];
      tg_arg items[2] = {tg_arg_int((int64_t)i), cg_axis_arg(CG_AX_PLACEHOLDER)};
      tg_arg a = tg_arg_tuple(items, 2);
      keys[nk] = x;
      vals[nk++] = K(tg_uop_replace(x, (tg_op)x->op, x->dtype, x->src, x->nsrc ? 1 : 0, &a, NULL));
    }
    tg_uop *subbed = K(tg_uop_substitute(sv, keys, vals, nk));
    tg_uop *res = K(apply_reshape(in, prefix, rs, subbed->src, (int)subbed->nsrc));
    tg_uop *back = K(tg_uop_substitute(res, vals, keys, nk));
    n = (int)back->nsrc;
    for (int i = 0; i < n; i++) outs[i] = back->src[i];
    tg_uop *ret = K(index_with(r->src[0], outs, n, &idx->arg));
    tg_uop *out_ret = cg_shape_eq(ret, idx) ? tg_uop_retain(ret) : NULL;
    cg_pool_free(&pool);
    return out_ret;
  }
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *mop_after(tg_rw *rw, tg_uop *r, tg_uop *a) {
  cg_pool pool = {0};
  tg_uop **s = malloc(a->nsrc * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  cg_memcpy(s, a->src, a->nsrc * sizeof *s);
  s[0] = r->src[0];
  tg_uop *na = cg_pool_add(&pool, cg_with_src(a, s, a->nsrc));
  free(s);
  if (!na) goto fail;
  tg_uop **rs = malloc(r->nsrc * sizeof *rs);
  if (!rs) goto fail;
  cg_memcpy(rs, r->src, r->nsrc * sizeof *rs);
  rs[0] = na;
  tg_uop *ret = tg_uop_new((tg_op)r->op, TG_DT_AUTO, rs, r->nsrc, r->arg);
  free(rs);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *mop_end(tg_rw *rw, tg_uop *r, tg_uop *a) {
  tg_uop **s = malloc(a->nsrc * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  cg_memcpy(s, a->src, a->nsrc * sizeof *s);
  s[0] = r->src[0];
  tg_uop *ret = cg_with_src(a, s, a->nsrc);
  free(s);
  return cg_ok(rw, ret);
}

#include "codegen/mops_rules.inc"

const tg_pm *cg_pm_mops(void) { return tg_pm_cg_mops(); }
