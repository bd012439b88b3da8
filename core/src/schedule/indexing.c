/* schedule/indexing.c -- tinygrad 0.14.0's schedule/indexing.py: run_rangeify, which replaced the ShapeTracker.
**
** Every value that must be materialised (CONTIGUOUS, STORE, a value whose consumers disagree on its ranges, an
** elementwise op or REDUCE that a later broadcast ends ranges for) gets fresh RANGEs at its output and is wrapped in a
** STAGE closing them; everything else inherits its consumers' ranges. Movement ops stop being ops: apply_movement_op
** turns them into index arithmetic on the ranges (the definition of the movement ops), and the graph becomes one of
** INDEX(buffer, index expressions), REDUCE(value, ranges) and STAGE(value, ranges).
**
** The pattern matchers are data (indexing.rules -> indexing_rules.inc); this file holds the functions they call, the
** IndexingContext and the range propagation loop. */
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "helpers.h"
#include "schedule/internal.h"
#include "tgc_internal.h"
#include "uop/symbolic.h"

/* ================ IndexingContext ================ */

typedef struct rz { int none; size_t n; int64_t ax[TGS_MAXD]; } rz;          /* realize_map value: None or axes */
typedef struct rmap { size_t nin, nout; tg_uop **in, **out; } rmap;        /* range_map value: (rngs, out_rngs) */

typedef struct ictx {
  tg_ptrset realize;   /* UOp -> rz* (0 once deleted) */
  tg_ptrset nonremov;  /* UOp -> 1 */
  tg_ptrset range;     /* UOp -> rmap* */
  int64_t range_idx;
  const char *sink_device;
  tgs_pool P;          /* every UOp the context refers to */
  int err;
} ictx;

static int oom(void) { return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in run_rangeify"), -1; }

static rz *rz_get(ictx *c, tg_uop *u) {
  uint64_t *v = tg_ptrset_get(&c->realize, u);
  return v ? (rz *)(uintptr_t)*v : NULL;
}
static rz *rz_put(ictx *c, tg_uop *u) { /* realize_map[u] = None (the entry is reused when present) */
  uint64_t *v = tg_ptrset_get(&c->realize, u);
  rz *r = v ? (rz *)(uintptr_t)*v : NULL;
  if (!r) {
    if (!(r = calloc(1, sizeof *r))) return oom(), NULL;
    if (!v && !(v = tg_ptrset_put(&c->realize, u, 0))) return free(r), oom(), NULL;
    *v = (uint64_t)(uintptr_t)r;
  }
  r->none = 1, r->n = 0;
  return r;
}
static int rz_has(const rz *r, int64_t i) {
  for (size_t k = 0; k < r->n; k++)
    if (r->ax[k] == i) return 1;
  return 0;
}
static rmap *rm_get(ictx *c, tg_uop *u) {
  uint64_t *v = tg_ptrset_get(&c->range, u);
  return v ? (rmap *)(uintptr_t)*v : NULL;
}

static tg_uop *new_range(ictx *c, int64_t s, int axistype) {
  return s != 1 ? tgs_range(&c->P, s, c->range_idx++, axistype) : tgs_ci(&c->P, 0);
}

static int always_contiguous(tg_op op) {
  switch (op) {
  case TG_OP_CONTIGUOUS: case TG_OP_AFTER: case TG_OP_BUFFER: case TG_OP_CONST: case TG_OP_MSELECT: case TG_OP_MSTACK:
  case TG_OP_PARAM: case TG_OP_LOAD: case TG_OP_CALL: case TG_OP_FUNCTION: return 1;
  default: return 0;
  }
}

/* data_srcs: the number of leading sources that carry data (shape/bound/index args are not indexed) */
static size_t data_src_count(tg_uop *x) {
  switch (x->op) {
  case TG_OP_PARAM: case TG_OP_BUFFER: case TG_OP_RANGE: case TG_OP_SPECIAL: return 0;
  case TG_OP_STORE: if (tgs_is_variable(x->src[0])) return 0; return x->nsrc;
  case TG_OP_INDEX: case TG_OP_STAGE: case TG_OP_REDUCE: case TG_OP_AFTER: case TG_OP_END: return x->nsrc ? 1 : 0;
  default: return tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)x->op) ? (x->nsrc ? 1 : 0) : x->nsrc;
  }
}

/* broadcast_axes(src_shape, out_shape): out axes that are added or expanded */
static size_t broadcast_axes(const tgs_shp *src, const tgs_shp *out, int64_t *ax) {
  size_t n = 0, nleft = out->n - src->n;
  for (size_t i = 0; i < nleft; i++) ax[n++] = (int64_t)i;
  for (size_t i = 0; i < src->n; i++)
    if (src->d[i] == 1 && out->d[nleft + i] != 1) ax[n++] = (int64_t)(nleft + i);
  return n;
}

/* broadcast_rngs(x, src, rngs) into out; returns the count or -1 */
static long broadcast_rngs(ictx *c, tg_uop *x, tg_uop *src, tg_uop *const *rngs, size_t nr, tg_uop **out) {
  if (!tg_opset_has(TG_GROUP_BROADCASTABLE, (tg_op)x->op)) {
    memcpy(out, rngs, nr * sizeof *rngs);
    return (long)nr;
  }
  tgs_shp ss, xs;
  if (tgs_shape(src, &ss) != 1 || tgs_shape(x, &xs) != 1 || xs.n < ss.n)
    return tg_err(TG_ERR_INTERNAL, "broadcast_rngs: bad shapes under %s", tg_op_name((tg_op)x->op)), -1;
  int64_t ax[TGS_MAXD];
  size_t na = broadcast_axes(&ss, &xs, ax), nleft = xs.n - ss.n, n = 0;
  for (size_t j = nleft; j < nr; j++) {
    int b = 0;
    for (size_t k = 0; k < na; k++) b |= ax[k] == (int64_t)j;
    if (!b) out[n] = rngs[j];
    else if (!(out[n] = tgs_hold(&c->P, tg_um_const_like(rngs[j], tg_num_i(0))))) return -1;
    n++;
  }
  return (long)n;
}

/* ================ apply_movement_op: the definition of the movement ops ================ */

static tg_uop *sink_of(tgs_pool *P, tg_uop *const *u, size_t n) { return tgs_sink(P, u, n, tg_arg_none()); }

/* _apply_reshape: the output index as one flat number, then split by the input shape */
static tg_uop *apply_reshape(tgs_pool *P, const tgs_shp *in, const int64_t *out_shape, size_t nout, tg_uop *urngs) {
  tg_uop *axes_in[TGS_MAXD];
  int64_t acc = 1;
  size_t na = 0;
  for (size_t k = nout; k-- > 0;) {
    tg_uop *a = tgs_hold(P, tg_um_ufix(tg_num_i(acc)));
    if (!(axes_in[na++] = tgs_bin(P, TG_OP_MUL, a, urngs->src[k]))) return NULL;
    acc *= out_shape[k];
  }
  tg_uop *combined = tgs_usum(P, tgs_ci(P, 0), axes_in, na);
  tg_uop *axes_out[TGS_MAXD];
  for (size_t k = in->n; k-- > 0 && combined;) {
    axes_out[k] = tgs_mod_i(P, combined, in->d[k]);
    combined = tgs_floordiv_i(P, combined, in->d[k]);
  }
  if (!combined) return NULL;
  return tgs_rewrite(P, sink_of(P, axes_out, in->n), tgs_pm_symbolic_valid_drop(), NULL, 0);
}

int tgs_apply_movement_op(tgs_pool *P, tg_op op, const tgs_shp *in, const int64_t *a, const int64_t *b, size_t na,
                          tg_uop *const *rngs, size_t nr, tg_uop **out, size_t *nout) {
  switch (op) {
  case TG_OP_SHRINK:
    for (size_t i = 0; i < nr; i++)
      if (!(out[i] = a[i] == 0 ? rngs[i] : tgs_bin_i(P, TG_OP_ADD, rngs[i], a[i]))) return -1;
    *nout = nr;
    return 0;
  case TG_OP_PERMUTE: /* rngs[p] for p in argsort(arg) */
    for (size_t i = 0; i < na; i++) out[a[i]] = rngs[i];
    *nout = na;
    return 0;
  case TG_OP_FLIP:
    for (size_t i = 0; i < nr; i++) {
      tg_uop *s1 = a[i] ? tgs_hold(P, tg_um_ufix(tg_num_i(in->d[i] - 1))) : NULL;
      if (!(out[i] = a[i] ? tgs_sub(P, s1, rngs[i]) : rngs[i])) return -1;
    }
    *nout = nr;
    return 0;
  case TG_OP_EXPAND:
    for (size_t i = na; i < nr; i++) out[i - na] = rngs[i];
    *nout = nr - na;
    return 0;
  case TG_OP_PAD: /* the valid is simplified on its own so that convert_pad_to_where wraps only the new one */
    for (size_t i = 0; i < nr; i++) {
      int64_t off = a[i], sz = b[i], sh = in->d[i];
      if (sz == sh && off == 0) { out[i] = rngs[i]; continue; }
      tg_uop *lo = tgs_not(P, tgs_bin_i(P, TG_OP_CMPLT, rngs[i], off));
      tg_uop *hi = tgs_bin_i(P, TG_OP_CMPLT, rngs[i], sh + off);
      tg_uop *cond = tgs_rewrite(P, tgs_bin(P, TG_OP_AND, lo, hi), tgs_pm_symbolic_valid(), NULL, 0);
      tg_uop *off_u = tgs_hold(P, tg_um_ufix(tg_num_i(off)));
      if (!cond || !off_u || !(out[i] = tgs_valid(P, tgs_sub(P, rngs[i], off_u), cond))) return -1;
    }
    *nout = nr;
    return 0;
  case TG_OP_RESHAPE: {
    tg_uop *sink = sink_of(P, rngs, nr);
    int all_const = 1;
    for (size_t i = 0; i < nr; i++) all_const &= rngs[i]->op == TG_OP_CONST;
    if (sink && !all_const) sink = tgs_simplify(P, sink); /* applies any commutative flips to the rngs early */
    if (!sink) return -1;
    size_t nrg;
    tg_uop *const *rg = tgs_ranges(sink, &nrg);
    if (!rg && nrg) return -1;
    tg_uop **keys = malloc((nrg + 1) * sizeof *keys), **vals = malloc((nrg + 1) * sizeof *vals);
    int err = !keys || !vals;
    for (size_t i = 0; i < nrg && !err; i++) { /* r.replace(src=r.src[:1], arg=(i, AxisType.PLACEHOLDER)) */
      tg_arg it[2] = {tg_arg_int((int64_t)i), tgs_axis_arg(TGS_AX_PLACEHOLDER)};
      keys[i] = rg[i];
      err = !(vals[i] = tgs_hold(P, tg_uop_new_tagged(TG_OP_RANGE, rg[i]->dtype, rg[i]->src, 1, tg_arg_tuple(it, 2), rg[i]->tag)));
    }
    tg_uop *sub = err ? NULL : tgs_substitute(P, sink, keys, vals, nrg, NULL, 0);
    tg_uop *res = sub ? apply_reshape(P, in, a, na, sub) : NULL;
    res = res ? tgs_substitute(P, res, vals, keys, nrg, NULL, 0) : NULL;
    free(keys), free(vals);
    if (!res) return err ? (oom(), -1) : -1;
    for (size_t i = 0; i < res->nsrc; i++) out[i] = res->src[i];
    *nout = res->nsrc;
    return 0;
  }
  default: return tg_err(TG_ERR_INTERNAL, "%s is not a MovementOp", tg_op_name(op)), -1;
  }
}

/* ================ the functions the rules call ================ */

static tg_uop *realize_tr(tg_rw *rw, tg_uop *tr) {
  ictx *c = rw->ctx;
  return rz_put(c, tr) ? NULL : tg_rw_fail(rw);
}

static tg_uop *realize_custom_kernel_srcs(tg_rw *rw, tg_uop *call) {
  ictx *c = rw->ctx;
  for (size_t i = 1; i < call->nsrc; i++) {
    tg_uop *s = call->src[i];
    while (s->op == TG_OP_RESHAPE) s = s->src[0];
    if (always_contiguous((tg_op)s->op)) continue;
    if (!rz_put(c, s) || !tg_ptrset_put(&c->nonremov, s, 1)) return tg_rw_fail(rw);
  }
  return NULL;
}

static tg_uop *realize_store_after_src(tg_rw *rw, tg_uop *dest, tg_uop *src) {
  ictx *c = rw->ctx;
  int r = tgs_in_toposort(src, tgs_base(dest), 0);
  if (r < 0 || (r && !rz_put(c, src))) return tg_rw_fail(rw);
  return NULL;
}

/* create_bufferize_and_index_srcs: the sources of x with realized ones wrapped in STAGE and buffers INDEXed.
** Returns the number of sources, or -1. *changed tells whether any differs. */
static long bufferize_and_index_srcs(ictx *c, tg_uop *x, tg_uop **out, int *changed) {
  size_t ndata = data_src_count(x);
  rmap *xr = rm_get(c, x);
  *changed = 0;
  for (size_t i = 0; i < x->nsrc; i++) {
    tg_uop *s = x->src[i], *ns = s;
    tg_uop *srng[TGS_MAXD * 2];
    long nsr = 0;
    if (xr && (nsr = broadcast_rngs(c, x, s, xr->in, xr->nin, srng)) < 0) return -1;
    rz *r;
    if (s->op == TG_OP_PARAM || s->op == TG_OP_BUFFER || s->op == TG_OP_MSTACK || s->op == TG_OP_MSELECT || s->op == TG_OP_AFTER) {
      if (xr && i < ndata && !(ns = tgs_index(&c->P, s, srng, (size_t)nsr, NULL))) return -1;
    } else if ((r = rz_get(c, s))) {
      rmap *sr = rm_get(c, s);
      if (r->none || !sr) return tg_err(TG_ERR_INTERNAL, "realize map must contain range list"), -1;
      tg_uop *closed[TGS_MAXD];
      size_t nc = 0;
      for (size_t k = 0; k < sr->nout; k++)
        if (rz_has(r, (int64_t)k)) closed[nc++] = sr->out[k];
      if (s->op == TG_OP_STORE) { /* add the ENDs if this is a store */
        tg_uop *er[TGS_MAXD];
        size_t ne = 0;
        for (size_t k = 0; k < nc; k++)
          if (closed[k]->op == TG_OP_RANGE) er[ne++] = closed[k];
        if (!(ns = tgs_end(&c->P, s, er, ne))) return -1;
        *tg_ptrset_get(&c->realize, s) = 0;
        free(r);
      } else {
        int removable = !always_contiguous((tg_op)s->op) && !tg_ptrset_get(&c->nonremov, s);
        tg_uop *src[TGS_MAXD + 1];
        src[0] = s;
        memcpy(src + 1, closed, nc * sizeof *closed);
        ns = tgs_stage(&c->P, src, nc + 1, tgs_device(s), sr->nout == r->n ? TGS_AS_GLOBAL : TGS_AS_LOCAL, removable);
        if (!ns) return -1;
        if (xr) {
          tg_uop *ir[TGS_MAXD];
          size_t ni = 0;
          for (long k = 0; k < nsr; k++)
            if (rz_has(r, k)) ir[ni++] = srng[k];
          if (!(ns = tgs_index(&c->P, ns, ir, ni, NULL))) return -1;
        }
      }
    }
    out[i] = ns;
    *changed |= ns != s;
  }
  return (long)x->nsrc;
}

static tg_uop *create_bufferize_and_index(tg_rw *rw, tg_uop *x) {
  if (x->op == TG_OP_STAGE || x->op == TG_OP_INDEX) return NULL;
  ictx *c = rw->ctx;
  tg_uop **src = malloc((x->nsrc + 1) * sizeof *src);
  if (!src) return oom(), tg_rw_fail(rw);
  int changed;
  long n = bufferize_and_index_srcs(c, x, src, &changed);
  tg_uop *r = n < 0 ? NULL : changed ? tg_uop_replace(x, (tg_op)x->op, x->dtype, src, (size_t)n, NULL, NULL) : NULL;
  free(src);
  if (n < 0 || (changed && !r)) return tg_rw_fail(rw);
  return r;
}

static tg_uop *convert_reduce_to_reduce_with_ranges(tg_rw *rw, tg_uop *x) {
  ictx *c = rw->ctx;
  if (x->arg.kind != TG_ARG_TUPLE || x->arg.n != 2 || x->arg.items[1].i == 0) return NULL;
  rmap *xr = rm_get(c, x);
  if (!xr) return tg_err(TG_ERR_INTERNAL, "REDUCE has no ranges in rangeify, UOp verification failed"), tg_rw_fail(rw);
  tg_uop *src[TGS_MAXD + 2];
  int changed;
  if (bufferize_and_index_srcs(c, x, src, &changed) < 0) return tg_rw_fail(rw);
  size_t nred = (size_t)x->arg.items[1].i;
  memcpy(src + 1, xr->in, nred * sizeof *src);
  tg_arg it[2] = {x->arg.items[0], tg_arg_int(0)};
  tg_uop *r = tg_uop_new(TG_OP_REDUCE, TG_DT_AUTO, src, nred + 1, tg_arg_tuple(it, 2));
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *convert_pad_to_where(tg_rw *rw, tg_uop *x) {
  ictx *c = rw->ctx;
  rmap *xr = rm_get(c, x);
  if (!xr) return NULL;
  tg_uop *src[3];
  int changed;
  if (bufferize_and_index_srcs(c, x, src, &changed) < 0) return tg_rw_fail(rw);
  tg_uop *valids[TGS_MAXD];
  for (size_t i = 0; i < xr->nin; i++)
    if (!(valids[i] = tgs_get_valid(&c->P, xr->in[i]))) return tg_rw_fail(rw);
  tg_uop *valid = tgs_uprod(&c->P, tgs_cb(&c->P, 1), valids, xr->nin);
  tg_num zero = tg_dt_is_float((tg_dtype)x->dtype) ? tg_num_f(0.0) : x->dtype == TG_BOOL ? tg_num_b(0) : tg_num_i(0);
  tg_uop *z = tgs_hold(&c->P, tg_um_const(TG_DT_AUTO, zero));
  tg_uop *r = valid && z ? tg_um_where(valid, src[0], z) : NULL;
  return r ? r : tg_rw_fail(rw);
}

/* STACK -> WHERE select on the leading range; the srcs get the trailing ranges */
static tg_uop *convert_stack_to_where(tg_rw *rw, tg_uop *x) {
  ictx *c = rw->ctx;
  rmap *xr = rm_get(c, x);
  if (!xr || x->dtype == TG_DT_VOID) return NULL;
  if (!xr->nout) return tg_err(TG_ERR_INTERNAL, "convert_stack_to_where: no output range"), tg_rw_fail(rw);
  tg_uop **src = malloc((x->nsrc + 1) * sizeof *src);
  int changed;
  if (!src) return oom(), tg_rw_fail(rw);
  if (bufferize_and_index_srcs(c, x, src, &changed) < 0) return free(src), tg_rw_fail(rw);
  tg_uop *r0 = xr->out[0], *ret = src[x->nsrc - 1];
  for (size_t k = x->nsrc - 1; k-- > 0 && ret;) {
    tg_uop *eq = tgs_hold(&c->P, tg_um_ufix(tg_num_i((int64_t)k)));
    eq = eq ? tgs_hold(&c->P, tg_um_eq(r0, eq)) : NULL;
    ret = eq ? tgs_where(&c->P, eq, src[k], ret) : NULL;
  }
  free(src);
  return ret ? tg_uop_retain(ret) : tg_rw_fail(rw);
}

static tg_uop *remove_movement_op_after_rangeify(tg_rw *rw, tg_uop *x) {
  ictx *c = rw->ctx;
  if (rm_get(c, x) || x->src[0]->op == TG_OP_INDEX) return tg_uop_retain(x->src[0]);
  return NULL;
}

static tg_uop *fix_deviceless(tg_rw *rw, tg_uop *b) {
  ictx *c = rw->ctx;
  if (tgs_stage_addrspace(b) != TGS_AS_GLOBAL || tgs_stage_device(b)) return NULL;
  tg_arg it[4] = {b->arg.items[0], c->sink_device ? tg_arg_str(c->sink_device) : tg_arg_none(), b->arg.items[2], b->arg.items[3]};
  tg_arg a = tg_arg_tuple(it, 4);
  tg_uop *r = tg_uop_replace(b, (tg_op)b->op, b->dtype, b->src, b->nsrc, &a, NULL);
  return r ? r : tg_rw_fail(rw);
}

#include "schedule/indexing_rules.inc"

/* ================ run_rangeify ================ */

static int gate_kernel_sink(tg_uop *x, void *ctx) {
  (void)ctx;
  if (x->op == TG_OP_LINEAR) return 0;
  if (x->op == TG_OP_SINK && tgs_is_dataclass(&x->arg, "KernelInfo")) return 0;
  return 1;
}

typedef struct ulist { size_t n, cap; tg_uop **v; } ulist;
static int ulist_add(ulist *l, tg_uop *u) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i] == u) return 0;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 4;
    tg_uop **nv = realloc(l->v, nc * sizeof *nv);
    if (!nv) return oom();
    l->v = nv, l->cap = nc;
  }
  l->v[l->n++] = u;
  return 0;
}

/* the number of RANGEs in UOp.sink(*u).ranges */
static long count_ranges(ictx *c, tg_uop *const *u, size_t n) {
  if (!n) return 0;
  tg_uop *s = sink_of(&c->P, u, n);
  size_t k;
  if (!s || (!tgs_ranges(s, &k) && k)) return -1;
  return (long)k;
}

static int set_range_map(ictx *c, tg_uop *x, tg_uop *const *in, size_t nin, tg_uop *const *out, size_t nout) {
  rmap *m = calloc(1, sizeof *m);
  if (!m) return oom();
  m->in = malloc((nin + 1) * sizeof *m->in), m->out = malloc((nout + 1) * sizeof *m->out);
  if (!m->in || !m->out || !tg_ptrset_put(&c->range, x, (uint64_t)(uintptr_t)m)) return free(m->in), free(m->out), free(m), oom();
  memcpy(m->in, in, nin * sizeof *in), memcpy(m->out, out, nout * sizeof *out);
  m->nin = nin, m->nout = nout;
  return 0;
}

static int propagate(ictx *c, tg_uop **topo, size_t nt, ulist *cons, tg_ptrset *index) {
  long *ending = calloc(nt + 1, sizeof *ending); /* len(ending_ranges[x]): with PCONTIG <= 1 only its size matters */
  if (!ending) return oom();
  int err = 0;
  for (size_t ti = nt; ti-- > 0 && !err;) {
    tg_uop *x = topo[ti];
    tg_op op = (tg_op)x->op;
    if (op == TG_OP_CALL || op == TG_OP_FUNCTION || op == TG_OP_LINEAR || op == TG_OP_AFTER || op == TG_OP_MSTACK || op == TG_OP_MSELECT) continue;
    ulist *cl = &cons[ti];
    long er = 0;
    for (size_t k = 0; k < cl->n; k++) er += ending[*tg_ptrset_get(index, cl->v[k])];
    /* ranges the consumers iterate that this node broadcasts over */
    tgs_shp xs;
    int xshaped = tgs_shape(x, &xs);
    if (xshaped < 0) { err = -1; break; }
    size_t ncl = cl->n ? cl->n : 1;
    tg_uop **ended = malloc(ncl * (TGS_MAXD + 1) * sizeof *ended), **crbuf = malloc(ncl * (TGS_MAXD + 1) * sizeof *crbuf);
    tg_uop **local = malloc(ncl * (TGS_MAXD + 1) * sizeof *local), **valids = malloc(ncl * (TGS_MAXD + 1) * sizeof *valids);
    size_t nended = 0, ncr = 0, crlen = 0;
    if (!ended || !crbuf || !local || !valids) err = oom();
    for (size_t k = 0; k < cl->n && !err; k++) {
      tg_uop *u = cl->v[k];
      rmap *ur = rm_get(c, u);
      if (!ur || !tg_opset_has(TG_GROUP_BROADCASTABLE, (tg_op)u->op)) continue;
      tgs_shp us;
      int64_t ax[TGS_MAXD];
      if (tgs_shape(u, &us) != 1 || xshaped != 1) { err = tg_err(TG_ERR_INTERNAL, "rangeify: shapeless broadcast"); break; }
      size_t na = broadcast_axes(&xs, &us, ax);
      for (size_t j = 0; j < na; j++) ended[nended++] = ur->in[ax[j]];
    }
    long nbe = err ? -1 : count_ranges(c, ended, nended);
    if (nbe < 0) err = -1;
    if (op == TG_OP_REDUCE) er += nbe;
    /* the consumers' ranges, as this node sees them: crbuf[k * (TGS_MAXD + 1) + i] */
    for (size_t k = 0; k < cl->n && !err; k++) {
      rmap *ur = rm_get(c, cl->v[k]);
      if (!ur) continue;
      long nb = ur->nin > TGS_MAXD ? -1 : broadcast_rngs(c, cl->v[k], x, ur->in, ur->nin, crbuf + ncr * (TGS_MAXD + 1));
      if (nb < 0) { err = ur->nin > TGS_MAXD ? (int)tg_err(TG_ERR_UNSUPPORTED, "scheduler: more than %d ranges", TGS_MAXD) : -1; break; }
      crlen = (size_t)nb;
      ncr++;
    }
    tg_uop *out[TGS_MAXD];
    size_t nout = 0;
    rz *r = err ? NULL : rz_get(c, x);
    if (err) {
    } else if (r) { /* realized: new ranges at the output, all ranges are ended now */
      if (xshaped != 1) err = tg_err(TG_ERR_INTERNAL, "rangeify: realizing a shapeless %s", tg_op_name(op));
      else if (!r->none) err = tg_err(TG_ERR_INTERNAL, "rangeify: realize map entry already set");
      for (size_t i = 0; i < xs.n && !err; i++) err = !(out[nout++] = new_range(c, xs.d[i], TGS_AX_WEAK));
      er = 0;
      if (!err) {
        r->none = 0, r->n = xs.n;
        for (size_t i = 0; i < xs.n; i++) r->ax[i] = (int64_t)i;
      }
    } else if (ncr == 1) {
      memcpy(out, crbuf, crlen * sizeof *out);
      nout = crlen;
    } else if (ncr > 1) { /* merge the consumers' ranges, new ones where they differ */
      int all_all_same = 1;
      for (size_t i = 0; i < crlen && !err; i++) {
        for (size_t k = 0; k < ncr && !err; k++) {
          tg_uop *cr = crbuf[k * (TGS_MAXD + 1) + i];
          local[i * ncl + k] = tgs_get_idx(cr);
          err = !(valids[i * ncl + k] = tgs_get_valid(&c->P, cr));
          if (k && local[i * ncl + k] != local[i * ncl]) all_all_same = 0;
        }
      }
      rz *part = NULL;
      for (size_t i = 0; i < crlen && !err; i++) {
        if (all_all_same) { /* the new valid is the OR of all the children valids */
          tg_uop *mv = tgs_usum(&c->P, tgs_cb(&c->P, 0), valids + i * ncl, ncr);
          tg_uop *v = tgs_rewrite(&c->P, tgs_valid(&c->P, local[i * ncl], mv), tg_pm_symbolic(), NULL, 0);
          err = !(out[nout++] = v);
        } else {
          err = !(out[nout++] = new_range(c, xs.d[i], TGS_AX_WEAK));
          if (!err && !part && !(part = rz_put(c, x))) err = -1;
          if (!err) part->none = 0, part->ax[part->n++] = (int64_t)i;
        }
      }
    }
    free(ended), free(crbuf), free(local), free(valids);
    if (err) break;
    if (!r && ncr == 0) {
      ending[ti] = er;
      continue; /* no consumer has ranges: neither does this */
    }
    /* an elementwise op or REDUCE under ended ranges is realized (PCONTIG <= 1: all its axes) */
    if (er && (tg_opset_has(TG_GROUP_ELEMENTWISE, op) || op == TG_OP_REDUCE)) {
      rz *ra = rz_get(c, x);
      rz tmp = {0};
      rz *axes = ra && !ra->none ? ra : &tmp;
      for (size_t i = 0; i < nout; i++)
        if (!rz_has(axes, (int64_t)i)) axes->ax[axes->n++] = (int64_t)i;
      er = 0;
      if (axes->n) {
        if (axes == &tmp) {
          if (!(ra = rz_put(c, x))) { err = -1; break; }
          *ra = tmp;
        }
        ra->none = 0;
        for (size_t i = 0; i < nout && !err; i++)
          if (rz_has(ra, (int64_t)i)) err = !(out[i] = new_range(c, xs.d[i], TGS_AX_WEAK));
        if (err) break;
      }
    }
    er += nbe;
    /* the ranges on the inputs */
    tg_uop *in[TGS_MAXD * 2];
    size_t nin = nout;
    memcpy(in, out, nout * sizeof *out);
    if (tg_opset_has(TG_GROUP_MOVEMENT, op)) {
      int64_t a[TGS_MAXD], b[TGS_MAXD];
      size_t na;
      tgs_shp ss;
      if (tgs_marg(x, a, b, &na) || tgs_shape(x->src[0], &ss) != 1 ||
          tgs_apply_movement_op(&c->P, op, &ss, a, b, na, out, nout, in, &nin)) { err = -1; break; }
      if (op == TG_OP_EXPAND) { /* an EXPAND that doesn't inject a range ends the ranges it adds */
        long ne = count_ranges(c, out, na < nout ? na : nout);
        if (ne < 0) { err = -1; break; }
        er += ne;
      }
    }
    if (op == TG_OP_STACK) nin = nout ? nout - 1 : 0, memmove(in, out + 1, nin * sizeof *in);
    if (op == TG_OP_REDUCE && x->arg.kind == TG_ARG_TUPLE && x->arg.n == 2 && x->arg.items[1].i) {
      tgs_shp ss;
      size_t nred = (size_t)x->arg.items[1].i;
      if (tgs_shape(x->src[0], &ss) != 1) { err = -1; break; }
      for (size_t i = 0; i < nred && !err; i++) err = !(in[i] = new_range(c, ss.d[i], TGS_AX_REDUCE));
      memcpy(in + nred, out, nout * sizeof *out);
      nin = nred + nout;
      if (err) break;
    }
    ending[ti] = er;
    err = set_range_map(c, x, in, nin, out, nout);
  }
  free(ending);
  return err ? -1 : 0;
}

static void ictx_free(ictx *c) {
  for (size_t i = 0; i < c->realize.cap; i++)
    if (c->realize.keys && c->realize.keys[i]) free((void *)(uintptr_t)c->realize.vals[i]);
  for (size_t i = 0; i < c->range.cap; i++)
    if (c->range.keys && c->range.keys[i]) {
      rmap *m = (rmap *)(uintptr_t)c->range.vals[i];
      free(m->in), free(m->out), free(m);
    }
  tg_ptrset_free(&c->realize), tg_ptrset_free(&c->nonremov), tg_ptrset_free(&c->range);
  tgs_pool_free(&c->P);
}

tg_uop *tgs_run_rangeify(tg_uop *tsink) {
  ictx c;
  memset(&c, 0, sizeof c);
  if (!tg_ptrset_init(&c.realize, 256) || !tg_ptrset_init(&c.nonremov, 16) || !tg_ptrset_init(&c.range, 1024))
    return ictx_free(&c), oom(), NULL;
  tg_uop *ret = NULL, **topo = NULL;
  ulist *cons = NULL;
  tg_ptrset index = {0};
  size_t nt = 0;
  /* get ops to realize */
  if (!tgs_rewrite(&c.P, tsink, tg_pm_idx_generate_realize_map(), &c, 0)) goto done;
  /* the consumer map */
  if (!(topo = tgs_toposort(tsink, gate_kernel_sink, NULL, 1, &nt))) goto done;
  if (!(cons = calloc(nt + 1, sizeof *cons)) || !tg_ptrset_init(&index, nt)) { oom(); goto done; }
  for (size_t i = 0; i < nt; i++)
    if (!tg_ptrset_put(&index, topo[i], i)) { oom(); goto done; }
  for (size_t i = 0; i < nt; i++) {
    size_t nd = data_src_count(topo[i]);
    for (size_t k = 0; k < nd; k++) {
      uint64_t *xi = tg_ptrset_get(&index, topo[i]->src[k]);
      if (xi && ulist_add(&cons[*xi], topo[i])) goto done;
    }
  }
  /* explicit rangeify */
  if (propagate(&c, topo, nt, cons, &index)) goto done;
  tg_uop *t = tgs_rewrite(&c.P, tsink, tg_pm_idx_apply_rangeify(), &c, TG_RW_BOTTOM_UP);
  if (!t) goto done;
  /* if a deviceless value must materialize, place it on the sink device */
  c.sink_device = tgs_device(t);
  ret = tg_graph_rewrite(t, tg_pm_idx_fix_deviceless(), &c, 0, NULL);
done:
  for (size_t i = 0; cons && i < nt; i++) free(cons[i].v);
  free(cons);
  free(topo);
  tg_ptrset_free(&index);
  ictx_free(&c);
  return ret;
}
