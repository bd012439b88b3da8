/* schedule/rangeify.c -- tinygrad 0.14.0's schedule/rangeify.py: get_kernel_graph.
**
** The passes, in tinygrad's order: earliest rewrites (movement-op cleanup, split_reduceop, copy and store rules, size
** 0), COPY -> STORE, run_rangeify (indexing.c), the remove_bufferize cost model with symbolic and constant folding --
** this is where fusion is decided --, the buffer limit, STAGE -> BUFFER + STORE, and split_kernels, which turns every
** closed STORE/END into CALL(SINK(...) with a KernelInfo, *buffers).
**
** The pattern matchers are data (rangeify.rules -> rangeify_rules.inc); this file holds the functions they call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "helpers.h"
#include "schedule/internal.h"
#include "tgc_internal.h"
#include "uop/symbolic.h"

static tg_uop *fail_oom(tg_rw *rw) { return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in get_kernel_graph"), tg_rw_fail(rw); }

/* the result of a helper that built r in pool P: a new reference to r (NULL when r is NULL and no error), P freed */
static tg_uop *done(tg_rw *rw, tgs_pool *P, tg_uop *r, int err) {
  if (r && !err) tg_uop_retain(r);
  tgs_pool_free(P);
  if (err) return tg_rw_fail(rw);
  return r;
}
#define DONE(r) return done(rw, &P, (r), (r) == NULL)
#define DONE_OPT(r, err) return done(rw, &P, (r), (err))

static int shape_eq(const tgs_shp *a, const tgs_shp *b) { return a->n == b->n && !memcmp(a->d, b->d, a->n * sizeof *a->d); }

/* ================ pm_mops ================ */

static tg_uop *mop_index(tg_rw *rw, tg_uop *r, tg_uop *idx) {
  tgs_pool P = {0};
  tgs_shp rs, ss;
  if (tgs_shape(r, &rs) != 1 || tgs_shape(r->src[0], &ss) != 1) return tg_rw_fail(rw);
  size_t nidx = idx->nsrc - 1;
  tg_uop *out[TGS_MAXD * 2];
  size_t nout;
  if (nidx == rs.n) {
    int64_t a[TGS_MAXD], b[TGS_MAXD];
    size_t na;
    if (tgs_marg(r, a, b, &na) || tgs_apply_movement_op(&P, (tg_op)r->op, &ss, a, b, na, idx->src + 1, nidx, out, &nout)) DONE(NULL);
    DONE(tgs_index(&P, r->src[0], out, nout, &idx->arg));
  }
  if (r->op != TG_OP_RESHAPE) return NULL;
  long prefix = (long)ss.n - (long)(rs.n - nidx);
  if (nidx > rs.n || prefix < 0) return NULL;
  if (memcmp(ss.d + prefix, rs.d + nidx, (rs.n - nidx) * sizeof *ss.d)) return NULL;
  if (prefix == 0) return r->src[0]->dtype == idx->dtype ? tg_uop_retain(r->src[0]) : NULL;
  tgs_shp pre = {.n = (uint32_t)prefix};
  memcpy(pre.d, ss.d, (size_t)prefix * sizeof *ss.d);
  if (tgs_apply_movement_op(&P, TG_OP_RESHAPE, &pre, rs.d, NULL, nidx, idx->src + 1, nidx, out, &nout)) DONE(NULL);
  tg_uop *ret = tgs_index(&P, r->src[0], out, nout, &idx->arg);
  tgs_shp a, b;
  if (!ret || tgs_shape(ret, &a) < 0 || tgs_shape(idx, &b) < 0) DONE(NULL);
  DONE_OPT(shape_eq(&a, &b) ? ret : NULL, 0);
}

static tg_uop *mop_after(tg_rw *rw, tg_uop *r, tg_uop *a) {
  tgs_pool P = {0};
  tg_uop **src = malloc((a->nsrc + r->nsrc + 1) * sizeof *src);
  if (!src) return fail_oom(rw);
  memcpy(src, a->src, a->nsrc * sizeof *src);
  src[0] = r->src[0];
  tg_uop *na = tgs_replace_src(&P, a, src, a->nsrc);
  tg_uop *ret = NULL;
  if (na) {
    memcpy(src, r->src, r->nsrc * sizeof *src);
    src[0] = na;
    ret = tgs_new(&P, (tg_op)r->op, TG_DT_AUTO, src, r->nsrc, r->arg);
  }
  free(src);
  DONE(ret);
}

static tg_uop *mop_end(tg_rw *rw, tg_uop *r, tg_uop *a) {
  tgs_pool P = {0};
  tg_uop **src = malloc(a->nsrc * sizeof *src);
  if (!src) return fail_oom(rw);
  memcpy(src, a->src, a->nsrc * sizeof *src);
  src[0] = r->src[0];
  tg_uop *ret = tgs_replace_src(&P, a, src, a->nsrc);
  free(src);
  DONE(ret);
}

const tg_pm *tgs_pm_mops(void);

/* ================ earliest rewrites ================ */

static tg_uop *resolve_function(tg_rw *rw, tg_uop *c) {
  (void)c;
  return tg_err(TG_ERR_UNSUPPORTED, "scheduler: FUNCTION calls are not supported yet"), tg_rw_fail(rw);
}

static tg_uop *gettuple(tg_rw *rw, tg_uop *g, tg_uop *t) {
  if (g->arg.kind != TG_ARG_INT || g->arg.i < 0 || g->arg.i >= t->nsrc) return tg_err(TG_ERR_INTERNAL, "GETTUPLE out of range"), tg_rw_fail(rw);
  return tg_uop_retain(t->src[g->arg.i]);
}

static tg_uop *allreduce(tg_rw *rw, tg_uop *red) {
  (void)red;
  return tg_err(TG_ERR_UNSUPPORTED, "scheduler: ALLREDUCE (multi-device) is not supported"), tg_rw_fail(rw);
}

/* split_reduceop: a big reduce with few outputs becomes two kernels, the split moved last for locality */
static tg_uop *split_reduceop(tg_rw *rw, tg_uop *reduce, tg_uop *x) {
  tgs_shp rs, xs;
  if (tgs_shape(reduce, &rs) != 1 || tgs_shape(x, &xs) != 1) return tg_rw_fail(rw);
  int64_t rp = tgs_prod(rs.d, rs.n), xp = tgs_prod(xs.d, xs.n);
  if (rp == 0) return NULL;
  if (!tg_getenv_int("SPLIT_REDUCEOP", 1) || xp / rp < tg_getenv_int("REDUCEOP_SPLIT_THRESHOLD", 32768)) return NULL;
  tgs_pool P = {0};
  /* which axes of x are expanded: index x with one range per axis and see which ranges reach the buffer */
  tg_uop *idx[TGS_MAXD];
  for (size_t i = 0; i < xs.n; i++)
    if (!(idx[i] = xs.d[i] > 1 ? tgs_range(&P, xs.d[i], (int64_t)i, TGS_AX_WEAK) : tgs_ci(&P, 0))) DONE(NULL);
  tg_uop *indexed = tgs_index(&P, x, idx, xs.n, NULL);
  tg_uop *noop = tgs_new(&P, TG_OP_NOOP, TG_DT_VOID, NULL, 0, tg_arg_none());
  tg_uop *base = tgs_base(x);
  tg_uop *sub = indexed && noop ? tgs_substitute(&P, indexed, &base, &noop, 1, tgs_pm_mops(), 0) : NULL;
  size_t nr;
  tg_uop *const *rngs = sub ? tgs_ranges(sub, &nr) : NULL;
  if (!rngs && (!sub || nr)) DONE(NULL);
  int expanded[TGS_MAXD];
  for (size_t i = 0; i < xs.n; i++) {
    expanded[i] = 1;
    for (size_t k = 0; k < nr; k++) expanded[i] &= tgs_range_id(rngs[k]) != (int64_t)i;
  }
  size_t nred = (size_t)reduce->arg.items[1].i;
  int64_t hi = ((int64_t)1 << tg_getenv_int("REDUCEOP_SPLIT_SIZE", 22)) / rp;
  if (hi > 256) hi = 256;
  int64_t dim = -1, divisor = 0;
  for (size_t i = 0; i < nred && dim < 0; i++)
    for (int64_t d = hi; d >= 8 && dim < 0; d--)
      if (xs.d[i] % d == 0 && !expanded[i]) dim = (int64_t)i, divisor = d;
  if (dim < 0) return done(rw, &P, NULL, 0);
  int64_t split[TGS_MAXD + 1], perm[TGS_MAXD + 1];
  size_t ns = 0, np = 0;
  for (size_t i = 0; i < xs.n; i++) {
    if ((int64_t)i == dim) split[ns++] = divisor, split[ns++] = xs.d[i] / divisor;
    else split[ns++] = xs.d[i];
  }
  for (size_t d = 0; d < ns; d++)
    if ((int64_t)d != dim) perm[np++] = (int64_t)d;
  perm[np++] = dim;
  tg_uop *splitted = tgs_permute(&P, tgs_reshape(&P, x, split, ns), perm, np);
  tg_op op = (tg_op)reduce->arg.items[0].i;
  int64_t axes[TGS_MAXD], last = (int64_t)rs.n;
  for (size_t i = 0; i < nred; i++) axes[i] = (int64_t)i;
  tg_uop *r1 = splitted ? tgs_rop(&P, splitted, op, axes, nred) : NULL;
  tg_uop *r2 = r1 ? tgs_rop(&P, tgs_contiguous(&P, r1), op, &last, 1) : NULL;
  DONE(r2 ? tgs_reshape(&P, r2, rs.d, rs.n) : NULL);
}

static tg_uop *unsharded_base(tg_uop *u) {
  if (tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)u->op) || u->op == TG_OP_DETACH || u->op == TG_OP_UNSHARD) return tgs_base(u->src[0]);
  return u;
}

static tg_uop *sink_unsharded_base(tg_rw *rw, tg_uop *x) {
  tg_uop **src = malloc((x->nsrc + 1) * sizeof *src);
  if (!src) return fail_oom(rw);
  for (size_t i = 0; i < x->nsrc; i++) src[i] = unsharded_base(x->src[i]);
  tg_uop *r = tg_uop_replace(x, (tg_op)x->op, x->dtype, src, x->nsrc, NULL, NULL);
  free(src);
  if (!r) return tg_rw_fail(rw);
  if (r == x) return tg_uop_release(r), NULL;
  return r;
}

/* COPY moves a contiguous range: materialize a source that is resized or reordered */
static tg_uop *copy_movement(tg_rw *rw, tg_uop *c, tg_uop *r) {
  tgs_shp rs, bs;
  if (tgs_shape(r, &rs) != 1 || tgs_shape(tgs_base(r), &bs) != 1) return tg_rw_fail(rw);
  tgs_pool P = {0};
  if (tgs_prod(rs.d, rs.n) == tgs_prod(bs.d, bs.n)) {
    tg_uop *b;
    int64_t off;
    int v = tgs_contiguous_view(&P, r, &b, &off);
    if (v < 0) DONE(NULL);
    if (v) return done(rw, &P, NULL, 0);
  }
  tg_uop *cont = tgs_contiguous(&P, r);
  DONE(cont ? tgs_replace_src(&P, c, &cont, 1) : NULL);
}

static int streq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static tg_uop *copy_same_device(tg_rw *rw, tg_uop *x, tg_uop *copy) {
  (void)rw;
  return streq(tgs_device(x), tgs_device(copy)) ? tg_uop_retain(x) : NULL;
}

static tg_uop *copy_on_reshape(tg_rw *rw, tg_uop *shp, tg_uop *cpy) {
  tgs_pool P = {0};
  tgs_shp s;
  if (tgs_shape(shp, &s) != 1) return tg_rw_fail(rw);
  tg_uop *src = shp->src[0];
  if (tg_dt_is_weak((tg_dtype)src->dtype))
    return tg_err(TG_ERR_DTYPE, "cannot create storage for weak dtype dtypes.%s", tg_dtype_repr_name(src->dtype)), tg_rw_fail(rw);
  tg_uop *c = tgs_new(&P, TG_OP_COPY, src->dtype, &src, 1, cpy->arg);
  DONE(c ? tgs_reshape(&P, c, s.d, s.n) : NULL);
}

static tg_uop *store_reshape(tg_rw *rw, tg_uop *dst, tg_uop *src) {
  tgs_shp a, b;
  int ra = tgs_shape(dst, &a), rb = tgs_shape(src, &b);
  if (ra < 0 || rb < 0) return tg_rw_fail(rw);
  if (!(ra == rb && (!ra || shape_eq(&a, &b)))) return NULL;
  tg_uop *r = tg_uop_new(TG_OP_STORE, TG_DT_VOID, (tg_uop *[]){dst, src}, 2, tg_arg_none());
  return r ? r : tg_rw_fail(rw);
}

static int not_contiguous(tg_uop *s, void *ctx) { return (void)ctx, s->op != TG_OP_CONTIGUOUS; }

/* fix_store_hazard: the destination is read by the value through a reordering view: materialize the value first */
static tg_uop *fix_store_hazard(tg_rw *rw, tg_uop *target, tg_uop *src) {
  tg_uop *base = tgs_base(target);
  int in = tgs_in_toposort(src, base, 0);
  if (in <= 0) return in < 0 ? tg_rw_fail(rw) : NULL;
  size_t n;
  tg_uop **t = tgs_toposort(target, NULL, NULL, 1, &n); /* target.op_in_backward_slice_with_self(SHRINK) */
  if (!t) return tg_rw_fail(rw);
  int shrink_unsafe = 0;
  for (size_t i = 0; i < n; i++) shrink_unsafe |= t[i]->op == TG_OP_SHRINK;
  free(t);
  t = tgs_toposort(src, not_contiguous, NULL, 1, &n);
  tg_ptrset reach;
  if (!t || !tg_ptrset_init(&reach, n)) return free(t), fail_oom(rw);
  tg_uop *ret = NULL;
  int err = 0, hit = 0;
  for (size_t i = 0; i < n && !hit && !err; i++) {
    tg_uop *s = t[i];
    int r = s == base;
    for (size_t k = 0; k < s->nsrc && !r; k++) {
      uint64_t *v = tg_ptrset_get(&reach, s->src[k]);
      r = v && *v;
    }
    if (!tg_ptrset_put(&reach, s, (uint64_t)r)) { err = 1; break; }
    int unsafe = s->op == TG_OP_PERMUTE || s->op == TG_OP_FLIP || (shrink_unsafe && s->op == TG_OP_SHRINK);
    if (r && unsafe && !(s == target && s->op == TG_OP_SHRINK)) hit = 1;
  }
  free(t);
  tg_ptrset_free(&reach);
  if (err) return fail_oom(rw);
  if (!hit) return NULL;
  tgs_pool P = {0};
  ret = tgs_store(&P, target, tgs_contiguous(&P, src));
  DONE(ret);
}

static tg_uop *store_bitcast(tg_rw *rw, tg_uop *target, tg_uop *src) {
  tgs_pool P = {0};
  tg_uop *bc = tgs_hold(&P, tg_um_bitcast(src, target->dtype));
  DONE(bc ? tgs_store(&P, target, bc) : NULL);
}

static int uint_of_size(int bytes) {
  char name[16];
  snprintf(name, sizeof name, "uint%d", 8 * bytes);
  return tg_dt_from_name(name);
}

/* x.squeeze(-1) / x.flatten(-2): the last dim dropped when it is 1 / the last two merged */
static tg_uop *squeeze_last(tgs_pool *P, tg_uop *x) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1) return NULL;
  if (!s.n || s.d[s.n - 1] != 1) return x;
  return tgs_reshape(P, x, s.d, s.n - 1);
}
static tg_uop *flatten_last2(tgs_pool *P, tg_uop *x) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1 || s.n < 2) return NULL;
  s.d[s.n - 2] *= s.d[s.n - 1];
  return tgs_reshape(P, x, s.d, s.n - 1);
}

/* shape-changing bitcast: through unsigned ints of both widths, shifting the parts together or apart */
static tg_uop *expand_bitcast(tg_rw *rw, tg_uop *bc) {
  tg_uop *x = bc->src[0];
  int ns = tg_dt_itemsize((tg_dtype)bc->dtype), os = tg_dt_itemsize((tg_dtype)x->dtype);
  if (ns == os) return NULL;
  const char *d = tgs_device(x);
  if (d && (!strncmp(d, "DISK", 4) || !strncmp(d, "TINYFS", 6))) return NULL;
  tgs_shp xs;
  if (tgs_shape(x, &xs) != 1 || !xs.n) return tg_err(TG_ERR_SHAPE, "unsupported size in bitcast"), tg_rw_fail(rw);
  int new_uint = uint_of_size(ns), old_uint = uint_of_size(os);
  tgs_pool P = {0};
  tg_uop *tmp = tgs_hold(&P, tg_um_bitcast(x, old_uint)), *parts[16];
  if (ns > os) {
    int rate = ns / os;
    tgs_shp t = xs;
    t.d[t.n - 1] = xs.d[xs.n - 1] / rate;
    t.d[t.n++] = rate;
    tmp = tmp ? tgs_reshape(&P, tmp, t.d, t.n) : NULL;
    int64_t st[TGS_MAXD] = {0};
    for (int i = 0; i < rate && tmp; i++) {
      int64_t en[TGS_MAXD];
      memcpy(en, t.d, t.n * sizeof *en);
      st[t.n - 1] = i, en[t.n - 1] = i + 1;
      tg_uop *p = tgs_cast(&P, tgs_shrink(&P, tmp, st, en, t.n), new_uint);
      if (!(parts[i] = tgs_bin_i(&P, TG_OP_SHL, p, 8 * i * os))) tmp = NULL;
    }
    tg_uop *sum = tmp ? tgs_usum(&P, parts[0], parts + 1, (size_t)rate - 1) : NULL;
    sum = squeeze_last(&P, sum);
    DONE(sum ? tgs_hold(&P, tg_um_bitcast(sum, bc->dtype)) : NULL);
  }
  int n = os / ns;
  for (int i = 0; i < n && tmp; i++)
    if (!(parts[i] = tgs_bin_i(&P, TG_OP_SHR, tmp, 8 * i * ns))) tmp = NULL;
  if (!tmp) DONE(NULL);
  /* parts[0].stack(*parts[1:], dim=-1): STACK of the parts in front, then permuted to the back */
  tg_uop *stk = tgs_new(&P, TG_OP_STACK, TG_DT_AUTO, parts, (size_t)n, tg_arg_none());
  int64_t perm[TGS_MAXD + 1];
  for (size_t i = 0; i < xs.n; i++) perm[i] = (int64_t)i + 1;
  perm[xs.n] = 0;
  stk = stk ? tgs_permute(&P, stk, perm, xs.n + 1) : NULL;
  tg_uop *r = tgs_cast(&P, flatten_last2(&P, stk), new_uint);
  DONE(r ? tgs_hold(&P, tg_um_bitcast(r, bc->dtype)) : NULL);
}

static int has_zero(const tgs_shp *s) {
  for (size_t i = 0; i < s->n; i++)
    if (s->d[i] == 0) return 1;
  return 0;
}

static tg_uop *reduce_size0(tg_rw *rw, tg_uop *reduce, tg_uop *x) {
  tgs_shp xs, rs;
  if (tgs_shape(x, &xs) != 1 || tgs_shape(reduce, &rs) != 1) return tg_rw_fail(rw);
  if (!has_zero(&xs) || has_zero(&rs)) return NULL;
  tg_op op = (tg_op)reduce->arg.items[0].i;
  tg_num v = op == TG_OP_ADD ? tg_num_i(0) : op == TG_OP_MUL ? tg_num_i(1) : tg_num_dtype_bound(reduce->dtype, 0);
  tgs_pool P = {0};
  DONE(tgs_const_like(&P, reduce, v));
}

static tg_uop *size0(tg_rw *rw, tg_uop *x) {
  tgs_shp s;
  int r = tgs_shape(x, &s);
  if (r < 0) return tg_rw_fail(rw);
  if (r == 0 || !has_zero(&s)) return NULL;
  tgs_pool P = {0};
  tg_uop *c = tgs_const_like(&P, x, tg_num_i(0));
  DONE(c ? tgs_hold(&P, tg_uop_replace(c, (tg_op)c->op, c->dtype, c->src, c->nsrc, NULL, &x->tag)) : NULL);
}

/* ================ pm_copy_to_store ================ */

static tg_uop *copy_to_store(tg_rw *rw, tg_uop *copy, tg_uop *existing) {
  tgs_pool P = {0};
  tg_uop *in = copy->src[0];
  if (!tgs_has_buffer_identity(in, 1)) in = tgs_contiguous(&P, in);
  in = tgs_flatten(&P, in);
  if (!in) DONE(NULL);
  if (existing) {
    if (!tgs_has_buffer_identity(existing, 1)) return done(rw, &P, NULL, 0);
    DONE(tgs_store(&P, tgs_flatten(&P, existing), in));
  }
  tgs_shp s, cs;
  if (tgs_shape(in, &s) != 1 || tgs_shape(copy, &cs) != 1) DONE(NULL);
  int64_t *counter = rw->ctx;
  tg_arg it[TG_PARAMARG_COUNT];
  const char *dev = copy->arg.kind == TG_ARG_STR ? copy->arg.s : NULL;
  tg_arg pa = tgs_paramarg(it, (*counter)++, copy->dtype, dev, TGS_AS_GLOBAL);
  tg_uop *sz = tgs_shape_arg(&P, s.d, s.n);
  tg_uop *buf = sz ? tgs_new(&P, TG_OP_BUFFER, copy->dtype, &sz, 1, pa) : NULL;
  tg_uop *st = buf ? tgs_store(&P, buf, in) : NULL;
  tg_uop *after = st ? tgs_after(&P, buf, &st, 1) : NULL;
  DONE(after ? tgs_reshape(&P, after, cs.d, cs.n) : NULL);
}
static tg_uop *convert_copy_to_store_into(tg_rw *rw, tg_uop *copy, tg_uop *existing) { return copy_to_store(rw, copy, existing); }
static tg_uop *convert_copy_to_store(tg_rw *rw, tg_uop *copy) { return copy_to_store(rw, copy, NULL); }

/* ================ 3.5 cleanups: const buffer folding, remove_bufferize (fusion) ================ */

static int always_run(tg_op op) { return op == TG_OP_CONTIGUOUS || op == TG_OP_NOOP; }

/* cleanup_dead_axes: a buffered axis its value never reads (an EXPAND to the left) is stored once and expanded */
static tg_uop *cleanup_dead_axes(tg_rw *rw, tg_uop *b) {
  if (!tgs_stage_removable(b)) return NULL;
  if (always_run((tg_op)b->src[0]->op) || b->src[0]->op == TG_OP_AFTER) return NULL;
  tgs_shp s;
  if (tgs_shape(b, &s) != 1) return tg_rw_fail(rw);
  tg_uop *keep[TGS_MAXD + 1];
  int64_t reshape[TGS_MAXD];
  size_t nk = 1, n = (size_t)b->nsrc - 1 < s.n ? (size_t)b->nsrc - 1 : s.n;
  int hit = 0;
  keep[0] = b->src[0];
  for (size_t i = 0; i < n; i++) {
    tg_uop *rng = b->src[i + 1];
    if (rng->op == TG_OP_RANGE && rng->src[0]->op != TG_OP_CONST) return NULL;
    if (rng->op == TG_OP_CONST || (rng->op == TG_OP_RANGE && !tgs_in_ranges(b->src[0], rng))) reshape[i] = 1, hit = 1;
    else reshape[i] = s.d[i], keep[nk++] = rng;
  }
  if (!hit) return NULL;
  tgs_pool P = {0};
  tg_uop *nb = tgs_replace_src(&P, b, keep, nk);
  DONE(nb ? tgs_expand(&P, tgs_reshape(&P, nb, reshape, n), s.d, s.n) : NULL);
}

static tg_uop *remove_noop_bufferize(tg_rw *rw, tg_uop *idx, tg_uop *b2) {
  if (idx->nsrc != b2->nsrc) return NULL;
  for (size_t i = 1; i < idx->nsrc; i++)
    if (idx->src[i] != b2->src[i]) return NULL;
  tgs_shp s;
  if (tgs_shape(b2, &s) != 1) return tg_rw_fail(rw);
  if (!s.n) return tg_uop_retain(idx->src[0]);
  tgs_pool P = {0};
  int64_t z[TGS_MAXD] = {0};
  DONE(tgs_shrink(&P, idx->src[0], z, s.d, s.n));
}

static tg_uop *const_stage(tg_rw *rw, tg_uop *c, tg_uop *b) {
  tgs_pool P = {0};
  DONE(tgs_const_like(&P, b, tg_uop_val(c)));
}

static tg_uop *index_after_invalid(tg_rw *rw, tg_uop *idx, tg_uop *after) {
  tg_uop *buf = tgs_buf_uop(after->src[0]);
  tgs_shp bs;
  if (tgs_shape(buf, &bs) != 1) return tg_rw_fail(rw);
  int64_t numel = tgs_prod(bs.d, bs.n);
  for (size_t i = 1; i < after->nsrc; i++) {
    tg_uop *s = after->src[i], *st;
    if (s->op != TG_OP_END || (st = s->src[0])->op != TG_OP_STORE || !tg_uop_is_invalid(tgs_base(st->src[1])) ||
        tgs_buf_uop(st->src[0]) != buf)
      return NULL;
    int64_t p = 1;
    for (size_t k = 1; k < s->nsrc; k++) {
      if (!tgs_in_ranges(st->src[0], s->src[k]) || s->src[k]->src[0]->op != TG_OP_CONST) return NULL;
      p *= s->src[k]->src[0]->arg.i;
    }
    if (p != numel) return NULL;
  }
  tgs_pool P = {0};
  tg_uop *c = tgs_cinvalid(&P);
  tgs_shp s;
  int r = c ? tgs_shape(idx, &s) : -1;
  if (r < 0) DONE(NULL);
  DONE(r == 1 && s.n ? tgs_mop(&P, c, TG_OP_EXPAND, s.d, NULL, s.n) : c);
}

typedef struct costctx { tg_ptrset bufs; size_t nbufs; tg_uop **reduces; size_t nred, capred; int err; } costctx;

static int red_gate(tg_uop *x, void *ctx) {
  costctx *c = ctx;
  tg_uop *acc = NULL;
  int ret = 1;
  if (x->op == TG_OP_AFTER) acc = tgs_buf_uop(x), ret = 0;
  else if ((x->op == TG_OP_STAGE && tgs_stage_addrspace(x) == TGS_AS_GLOBAL) || x->op == TG_OP_MSTACK) acc = x, ret = 0;
  else if (x->op == TG_OP_STORE) ret = 0;
  else if (x->op == TG_OP_PARAM) acc = x;
  if (acc && !tg_ptrset_get(&c->bufs, acc)) {
    if (!tg_ptrset_put(&c->bufs, acc, 1)) c->err = 1;
    c->nbufs++;
  }
  if (x->op == TG_OP_REDUCE) {
    if (c->nred == c->capred) {
      size_t nc = c->capred ? c->capred * 2 : 8;
      tg_uop **nv = realloc(c->reduces, nc * sizeof *nv);
      if (!nv) return c->err = 1, 0;
      c->reduces = nv, c->capred = nc;
    }
    c->reduces[c->nred++] = x;
  }
  return ret;
}

/* does a PARAM, STAGE or AFTER feed any of the reduces? */
static int buffer_in_reduce(tg_uop *const *reduces, size_t n) {
  tg_ptrset seen;
  if (!tg_ptrset_init(&seen, 64)) return -1;
  size_t sn = 0, scap = 64;
  tg_uop **st = malloc(scap * sizeof *st);
  int found = 0, err = !st;
  for (size_t i = 0; i < n && !err; i++) st[sn++] = reduces[i]->src[0];
  while (sn && !found && !err) {
    tg_uop *u = st[--sn];
    if (tg_ptrset_get(&seen, u)) continue;
    if (!tg_ptrset_put(&seen, u, 1)) { err = 1; break; }
    if (u->op == TG_OP_PARAM || u->op == TG_OP_STAGE || u->op == TG_OP_AFTER) { found = 1; break; }
    if (sn + u->nsrc > scap) {
      while (sn + u->nsrc > scap) scap *= 2;
      tg_uop **ns = realloc(st, scap * sizeof *st);
      if (!ns) { err = 1; break; }
      st = ns;
    }
    for (size_t k = 0; k < u->nsrc; k++) st[sn++] = u->src[k];
  }
  free(st);
  tg_ptrset_free(&seen);
  return err ? -1 : found;
}

/* remove_bufferize: the fusion decision. The buffer is removed (its value recomputed at the reader's index) unless it
** is user-requested (CONTIGUOUS), not removable, reads more than 3 buffers, or has a REDUCE that reads a buffer. */
static tg_uop *remove_bufferize(tg_rw *rw, tg_uop *src, tg_uop *buf, tg_uop *idx) {
  if (buf->nsrc != idx->nsrc) return tg_err(TG_ERR_INTERNAL, "index on wrong bufferize, %u != %u", buf->nsrc, idx->nsrc), tg_rw_fail(rw);
  for (size_t i = 1; i < buf->nsrc; i++)
    if (buf->src[i]->op != TG_OP_RANGE && buf->src[i]->op != TG_OP_CONST) return tg_err(TG_ERR_INTERNAL, "remove_bufferize: bad STAGE"), tg_rw_fail(rw);
  if (always_run((tg_op)src->op) || !tgs_stage_removable(buf)) return NULL;
  long pcontig = tg_getenv_int("PCONTIG", 0);
  costctx c = {0};
  if (!tg_ptrset_init(&c.bufs, 16)) return fail_oom(rw);
  size_t n;
  tg_uop **t = tgs_toposort(src, red_gate, &c, 1, &n);
  free(t);
  int keep = !t || c.err;
  if (!keep && c.nbufs > 3 && !(pcontig > 2)) keep = 2;
  if (!keep) {
    int bir = buffer_in_reduce(c.reduces, c.nred);
    if (bir < 0) keep = 1;
    else if (bir) {
      if (pcontig > 2) keep = 1, tg_err(TG_ERR_UNSUPPORTED, "scheduler: PCONTIG > 2 (partial contiguous) is not ported");
      else keep = 2;
    }
  }
  tg_ptrset_free(&c.bufs);
  free(c.reduces);
  if (keep == 1) return tg_rw_fail(rw);
  if (keep == 2) return NULL;
  /* removed: the STAGE's ranges are replaced by the reader's indices (not a CONST axis, not an Invalid index) */
  tg_uop *keys[TGS_MAXD], *vals[TGS_MAXD];
  size_t nk = 0;
  for (size_t i = 1; i < buf->nsrc && nk < TGS_MAXD; i++) {
    if (buf->src[i]->op == TG_OP_CONST || tg_uop_is_invalid(idx->src[i])) continue;
    keys[nk] = buf->src[i], vals[nk++] = idx->src[i];
  }
  tgs_pool P = {0};
  DONE(tgs_substitute(&P, src, keys, vals, nk, NULL, 1));
}

/* ================ pm_limit_bufs ================ */

/* LimitBufsContext: the buffers each UOp reads, memoized over the rewrite (tinygrad's buf_cache and topovisit) */
typedef struct bset { size_t n; tg_uop *v[]; } bset; /* sorted by address */
typedef struct limctx { int64_t range_idx; tg_ptrset cache; bset **owned; size_t nowned, capowned; } limctx;

static bset *bset_own(limctx *c, bset *s) {
  if (!s) return NULL;
  if (c->nowned == c->capowned) {
    size_t nc = c->capowned ? c->capowned * 2 : 64;
    bset **no = realloc(c->owned, nc * sizeof *no);
    if (!no) return free(s), NULL;
    c->owned = no, c->capowned = nc;
  }
  return c->owned[c->nowned++] = s;
}

static bset *bset_union(limctx *c, bset *const *sets, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += sets[i]->n;
  bset *r = malloc(sizeof *r + (total + 1) * sizeof(tg_uop *));
  if (!r) return NULL;
  r->n = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < sets[i]->n; k++) {
      tg_uop *u = sets[i]->v[k];
      size_t lo = 0, hi = r->n;
      while (lo < hi) { size_t m = (lo + hi) / 2; if ((uintptr_t)r->v[m] < (uintptr_t)u) lo = m + 1; else hi = m; }
      if (lo < r->n && r->v[lo] == u) continue;
      memmove(r->v + lo + 1, r->v + lo, (r->n - lo) * sizeof *r->v);
      r->v[lo] = u, r->n++;
    }
  return bset_own(c, r);
}

static int is_buf_like(tg_uop *u) {
  return u->op == TG_OP_STAGE || u->op == TG_OP_AFTER || u->op == TG_OP_PARAM || u->op == TG_OP_MSELECT || u->op == TG_OP_MSTACK;
}
static int not_cached_bufs(tg_uop *u, void *ctx) { return !tg_ptrset_get(&((limctx *)ctx)->cache, u); }

/* root.topovisit(visitor, ctx.buf_cache): the buffers root reads */
static bset *bufs_of(limctx *c, tg_uop *root) {
  size_t n;
  tg_uop **t = tgs_toposort(root, not_cached_bufs, c, 1, &n);
  if (!t) return NULL;
  int err = 0;
  for (size_t i = 0; i < n && !err; i++) {
    tg_uop *u = t[i];
    bset *s = NULL;
    if (is_buf_like(u)) {
      if ((s = malloc(sizeof *s + sizeof(tg_uop *)))) s->n = 1, s->v[0] = u;
      s = bset_own(c, s);
    } else if (u->nsrc == 1) {
      s = (bset *)(uintptr_t)*tg_ptrset_get(&c->cache, u->src[0]);
    } else {
      bset *small[8], **sets = u->nsrc <= 8 ? small : malloc(u->nsrc * sizeof *sets);
      if (sets) {
        for (size_t k = 0; k < u->nsrc; k++) sets[k] = (bset *)(uintptr_t)*tg_ptrset_get(&c->cache, u->src[k]);
        s = bset_union(c, sets, u->nsrc);
        if (sets != small) free(sets);
      }
    }
    err = !s || !tg_ptrset_put(&c->cache, u, (uint64_t)(uintptr_t)s);
  }
  free(t);
  if (err) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in limit_bufs"), NULL;
  return (bset *)(uintptr_t)*tg_ptrset_get(&c->cache, root);
}

/* _limit_bufs: a kernel reading more buffers than the device takes gets its elementwise inputs buffered */
static tg_uop *limit_bufs(tg_rw *rw, tg_uop *root) {
  const char *dev = tgs_device(root);
  if (!dev) return NULL;
  long max_bufs = tg_getenv_int("MAX_KERNEL_BUFFERS", 0);
  if (!max_bufs) {
    size_t dl = strcspn(dev, ":");
    if (dl == 5 && !strncmp(dev, "METAL", 5)) max_bufs = 31;
    else if (dl == 6 && !strncmp(dev, "WEBGPU", 6)) max_bufs = 8;
    else if (dl == 3 && !strncmp(dev, "CPU", 3)) max_bufs = 31;
  }
  if (!max_bufs) return NULL;
  limctx *c = rw->ctx;
  bset *bufs = bufs_of(c, root);
  if (!bufs) return tg_rw_fail(rw);
  if ((long)bufs->n <= max_bufs - 1) return NULL;
  tgs_pool P = {0};
  tg_uop *srcs[3];
  for (size_t i = 0; i < root->nsrc; i++) {
    tg_uop *s = root->src[i];
    srcs[i] = s;
    if (!tg_opset_has(TG_GROUP_ELEMENTWISE, (tg_op)s->op) || !tgs_device(s)) continue;
    size_t nr;
    tg_uop *const *orig = tgs_ranges(s, &nr);
    if (!orig && nr) DONE(NULL);
    tg_uop *endr[TGS_MAXD * 2], *origc[TGS_MAXD * 2];
    if (nr > TGS_MAXD * 2) DONE(NULL);
    memcpy(origc, orig, nr * sizeof *orig);
    for (size_t k = 0; k < nr; k++) {
      tg_uop *x = origc[k];
      endr[k] = x;
      if (x->op == TG_OP_RANGE && tgs_range_axistype(x) != TGS_AX_DEVICE) {
        tg_arg it[2] = {tg_arg_int(c->range_idx++), tgs_axis_arg(TGS_AX_WEAK)};
        tg_arg a = tg_arg_tuple(it, 2);
        if (!(endr[k] = tgs_hold(&P, tg_uop_replace(x, (tg_op)x->op, x->dtype, x->src, x->nsrc, &a, NULL)))) DONE(NULL);
      }
    }
    tg_uop *sub = tgs_substitute(&P, s, origc, endr, nr, NULL, 0);
    tg_uop *st[TGS_MAXD * 2 + 1];
    st[0] = sub;
    memcpy(st + 1, endr, nr * sizeof *endr);
    tg_uop *b = sub ? tgs_stage(&P, st, nr + 1, tgs_device(s), TGS_AS_GLOBAL, 1) : NULL;
    if (!b || !(srcs[i] = tgs_index(&P, b, origc, nr, NULL))) DONE(NULL);
  }
  DONE(tgs_replace_src(&P, root, srcs, root->nsrc));
}

/* ================ 4. put in buffers for bufferize ================ */

static tg_uop *flatten_bufferize(tg_rw *rw, tg_uop *x) {
  if (x->nsrc == 2) return NULL;
  tgs_shp s;
  if (tgs_shape(x, &s) != 1) return tg_rw_fail(rw);
  tgs_pool P = {0};
  int64_t total = tgs_prod(s.d, s.n);
  tgs_shp flat = {.n = 1, .d = {total}};
  tg_uop *out[TGS_MAXD * 2];
  size_t nout;
  if (tgs_apply_movement_op(&P, TG_OP_RESHAPE, &flat, s.d, NULL, s.n, x->src + 1, x->nsrc - 1, out, &nout)) DONE(NULL);
  if (nout != 1) DONE((tg_err(TG_ERR_INTERNAL, "flatten_bufferize: %zu indices", nout), NULL));
  for (size_t i = 1; i < x->nsrc; i++)
    if (x->src[i]->op == TG_OP_RANGE && x->src[i]->src[0]->op != TG_OP_CONST)
      DONE((tg_err(TG_ERR_UNSUPPORTED, "scheduler: symbolic STAGE ranges"), NULL));
  tg_uop *ret = tgs_replace_src(&P, x, (tg_uop *[]){x->src[0], out[0]}, 2);
  DONE(ret ? tgs_reshape(&P, ret, s.d, s.n) : NULL);
}

static int range_arg_lt(const tg_uop *a, const tg_uop *b) { /* RANGE args compared as Python tuples */
  uint32_t n = a->arg.n < b->arg.n ? a->arg.n : b->arg.n;
  for (uint32_t i = 0; i < n; i++)
    if (a->arg.items[i].i != b->arg.items[i].i) return a->arg.items[i].i < b->arg.items[i].i;
  return a->arg.n < b->arg.n;
}
static void sort_ranges(tg_uop **r, size_t n) {
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && range_arg_lt(r[j], r[j - 1]); j--) { tg_uop *t = r[j]; r[j] = r[j - 1]; r[j - 1] = t; }
}

static tg_uop *bufferize_to_store(tg_rw *rw, tg_uop *x, tg_uop *idx) {
  tgs_shp s;
  if (tgs_shape(x, &s) != 1) return tg_rw_fail(rw);
  int64_t size = tgs_prod(s.d, s.n);
  int dtype = tg_dt_strong((tg_dtype)x->dtype);
  size_t nr;
  tg_uop *const *ir = tgs_ranges(idx, &nr);
  if (!ir && nr) return tg_rw_fail(rw);
  tg_uop *rngs[TGS_MAXD * 2];
  if (nr > TGS_MAXD * 2) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: too many ranges"), tg_rw_fail(rw);
  memcpy(rngs, ir, nr * sizeof *ir);
  sort_ranges(rngs, nr);
  if (size <= 0) return tg_err(TG_ERR_INTERNAL, "no zero sized or symbolic sized buffers %lld", (long long)size), tg_rw_fail(rw);
  tgs_pool P = {0};
  tg_uop *after = x->src[0];
  if (after->op == TG_OP_AFTER) { /* add END to the existing STOREs, return the buffer with the kernel dependency */
    tg_uop *buf = tgs_base(tgs_buf_uop(after->src[0]));
    tg_uop *ended[64];
    size_t ne = 0, nstores = 0;
    for (size_t i = 1; i < after->nsrc; i++) {
      tg_uop *store = after->src[i];
      if (store->op != TG_OP_STORE || store->src[0]->op != TG_OP_INDEX) continue;
      nstores++;
      tg_uop *target = store->src[0];
      if (target->src[0]->op == TG_OP_STAGE && target->src[0]->src[0]->op == TG_OP_INDEX) target = target->src[0]->src[0];
      if (store->src[1] == target) continue;
      size_t nt;
      tg_uop *const *tr = tgs_ranges(target, &nt);
      tg_uop *er[TGS_MAXD * 4];
      size_t nerr = 0;
      for (size_t k = 0; k < nt + nr && nerr < TGS_MAXD * 4; k++) {
        tg_uop *r = k < nt ? tr[k] : rngs[k - nt];
        int dup = 0;
        for (size_t j = 0; j < nerr && !dup; j++) dup = er[j] == r;
        if (!dup) er[nerr++] = r;
      }
      sort_ranges(er, nerr);
      if (ne == 64 || !(ended[ne++] = tgs_end(&P, tgs_store(&P, target, store->src[1]), er, nerr))) DONE(NULL);
    }
    if (!nstores) DONE_OPT(buf, 0);
    DONE(tgs_after(&P, buf, ended, ne));
  }
  if (tgs_stage_addrspace(x) != TGS_AS_GLOBAL) return NULL; /* allow_locals=False */
  tg_arg it[TG_PARAMARG_COUNT];
  tg_arg pa = tgs_paramarg(it, (*(int64_t *)rw->ctx)++, dtype, tgs_stage_device(x), TGS_AS_GLOBAL);
  tg_uop *sz = tgs_ci(&P, size);
  tg_uop *buf = sz ? tgs_new(&P, TG_OP_BUFFER, dtype, &sz, 1, pa) : NULL;
  tg_uop *st = buf ? tgs_store(&P, tgs_index(&P, buf, &idx, 1, NULL), tgs_cast(&P, x->src[0], dtype)) : NULL;
  tg_uop *e = st ? tgs_end(&P, st, rngs, nr) : NULL;
  tg_uop *a = e ? tgs_after(&P, buf, &e, 1) : NULL;
  DONE(a ? tgs_cast(&P, a, x->dtype) : NULL);
}

static tg_uop *index_weak_cast(tg_rw *rw, tg_uop *u, tg_uop *buf) {
  tgs_pool P = {0};
  tg_uop **src = malloc(u->nsrc * sizeof *src);
  if (!src) return fail_oom(rw);
  memcpy(src, u->src, u->nsrc * sizeof *src);
  src[0] = buf;
  tg_uop *i = tgs_new(&P, TG_OP_INDEX, TG_DT_AUTO, src, u->nsrc, u->arg);
  free(src);
  DONE(tgs_cast(&P, i, u->dtype));
}

static tg_uop *mstack_reshape(tg_rw *rw, tg_uop *m) {
  (void)m;
  return tg_err(TG_ERR_UNSUPPORTED, "scheduler: MSELECT/MSTACK (multi-device) is not supported"), tg_rw_fail(rw);
}

static tg_uop *call_remove_reshape(tg_rw *rw, tg_uop *k) {
  tg_uop **src = malloc(k->nsrc * sizeof *src);
  if (!src) return fail_oom(rw);
  int changed = 0;
  for (size_t i = 0; i < k->nsrc; i++) src[i] = k->src[i]->op == TG_OP_RESHAPE ? (changed = 1, k->src[i]->src[0]) : k->src[i];
  tg_uop *r = changed ? tg_uop_replace(k, (tg_op)k->op, k->dtype, src, k->nsrc, NULL, NULL) : NULL;
  free(src);
  if (changed && !r) return tg_rw_fail(rw);
  return r;
}

static int is_noop_after_dep(tg_uop *x) {
  return (x->op == TG_OP_NOOP && x->nsrc == 0) || (x->op == TG_OP_END && is_noop_after_dep(x->src[0]));
}

static tg_uop *remove_noop_afters(tg_rw *rw, tg_uop *x) {
  tg_uop **src = malloc(x->nsrc * sizeof *src);
  if (!src) return fail_oom(rw);
  size_t n = 0;
  src[n++] = x->src[0];
  for (size_t i = 1; i < x->nsrc; i++)
    if (!is_noop_after_dep(x->src[i])) src[n++] = x->src[i];
  tg_uop *r = NULL;
  if (n != x->nsrc) r = n == 1 ? tg_uop_retain(src[0]) : tg_uop_replace(x, (tg_op)x->op, x->dtype, src, n, NULL, NULL);
  free(src);
  if (n != x->nsrc && !r) return tg_rw_fail(rw);
  return r;
}

static tg_uop *rtag_empty(tg_rw *rw, tg_uop *x) {
  tg_arg t = tg_arg_tuple(NULL, 0);
  tg_uop *r = tg_uop_replace(x, (tg_op)x->op, x->dtype, x->src, x->nsrc, NULL, &t);
  if (!r) return tg_rw_fail(rw);
  if (r == x) return tg_uop_release(r), NULL;
  return r;
}

/* ================ 5. split into kernels ================ */

typedef struct lctx { int64_t dg, range; tg_ptrset map; tg_uop **keys, **vals; size_t n, cap; tgs_pool P; } lctx;

static int map_put(lctx *c, tg_uop *k, tg_uop *v) { /* ctx.map[k] = v if k not in ctx.map (ordered) */
  if (tg_ptrset_get(&c->map, k)) return 0;
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 8;
    tg_uop **nk = realloc(c->keys, nc * sizeof *nk), **nv = nk ? realloc(c->vals, nc * sizeof *nv) : NULL;
    if (nk) c->keys = nk;
    if (!nv) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory splitting kernels"), -1;
    c->vals = nv, c->cap = nc;
  }
  if (!tg_ptrset_put(&c->map, k, c->n)) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory splitting kernels"), -1;
  c->keys[c->n] = tgs_hold(&c->P, tg_uop_retain(k)), c->vals[c->n++] = tgs_hold(&c->P, tg_uop_retain(v));
  return 0;
}

static const tg_pm *split_pm(void);

static tg_uop *split_store(tg_rw *rw, tg_uop *x) {
  size_t nr;
  tg_uop *const *rs = tgs_ranges(x, &nr);
  if (!rs && nr) return tg_rw_fail(rw);
  for (size_t i = 0; i < nr; i++)
    if (tgs_range_axistype(rs[i]) != TGS_AX_DEVICE) return NULL;
  tg_uop *st = x->op == TG_OP_END ? x->src[0] : x;
  if (st->op == TG_OP_STORE && tgs_is_variable(st->src[0])) return NULL;
  lctx c = {0};
  if (!tg_ptrset_init(&c.map, 16)) return fail_oom(rw);
  tg_uop *ret = NULL;
  const tg_pm *pm = split_pm();
  tg_uop *body = pm ? tgs_rewrite(&c.P, x, pm, &c, TG_RW_BOTTOM_UP) : NULL;
  if (body) {
    /* KernelInfo(name='test', axis_types=(), dont_use_locals=False, applied_opts=(), opts_to_apply=None, estimates=None, beam=0) */
    tg_arg ki[8] = {tg_arg_str("KernelInfo"), tg_arg_str("test"), tg_arg_tuple(NULL, 0), tg_arg_bool(0), tg_arg_tuple(NULL, 0),
                    tg_arg_none(), tg_arg_none(), tg_arg_int(0)};
    tg_uop *sink = tgs_sink(&c.P, &body, 1, tg_arg_tuple(ki, 8));
    tg_uop **src = malloc((c.n + 1) * sizeof *src);
    if (sink && src) {
      src[0] = sink;
      if (c.n) memcpy(src + 1, c.vals, c.n * sizeof *src);
      tg_arg ci[6] = {tg_arg_str("CallInfo"), tg_arg_none(), tg_arg_none(), tg_arg_bool(0), tg_arg_bool(0), tg_arg_none()};
      ret = tg_uop_new(TG_OP_CALL, TG_DT_VOID, src, c.n + 1, tg_arg_tuple(ci, 6));
    } else if (!src) tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory splitting kernels");
    free(src);
  }
  free(c.keys), free(c.vals);
  tg_ptrset_free(&c.map);
  tgs_pool_free(&c.P);
  return ret ? ret : tg_rw_fail(rw);
}

static int not_after(tg_uop *x, void *ctx) { return (void)ctx, x->op != TG_OP_AFTER; }

static tg_uop *find_bufs(tg_rw *rw, tg_uop *x) {
  size_t n;
  tg_uop **t = tgs_toposort(x, not_after, NULL, 1, &n);
  if (!t) return tg_rw_fail(rw);
  tg_ptrset read_from;
  if (!tg_ptrset_init(&read_from, 16)) return free(t), fail_oom(rw);
  int cycle = 0;
  for (size_t i = 0; i < n && !cycle; i++) {
    if (t[i]->op != TG_OP_INDEX) continue;
    tg_uop *buf = tgs_buf_uop(t[i]);
    if (buf->op != TG_OP_BUFFER && buf->op != TG_OP_PARAM) continue;
    uint64_t *v = tg_ptrset_get(&read_from, buf);
    if (!v) tg_ptrset_put(&read_from, buf, t[i]->src[0]->op);
    else cycle = *v != t[i]->src[0]->op;
  }
  free(t);
  tg_ptrset_free(&read_from);
  if (cycle) return tg_err(TG_ERR_INTERNAL, "cycle detected while indexing a buffer"), tg_rw_fail(rw);
  return NULL;
}

static tg_uop *debuf(tg_rw *rw, tg_uop *buf) {
  lctx *c = rw->ctx;
  if (tgs_is_variable(buf)) {
    tg_uop *r = tg_uop_replace(buf, TG_OP_PARAM, buf->dtype, buf->src, buf->nsrc, NULL, NULL);
    return r ? r : tg_rw_fail(rw);
  }
  if (buf->op != TG_OP_BUFFER && buf->op != TG_OP_PARAM) return mstack_reshape(rw, buf);
  tgs_shp s;
  if (tgs_shape(buf, &s) != 1) return tg_rw_fail(rw);
  tgs_pool P = {0};
  tg_uop *n = tgs_ci(&P, tgs_prod(s.d, s.n));
  tg_arg it[TG_PARAMARG_COUNT];
  tg_arg pa = tgs_paramarg(it, c->dg, buf->dtype, tgs_device(buf), tgs_addrspace(buf));
  tg_uop *param = n ? tgs_new(&P, TG_OP_PARAM, buf->dtype, &n, 1, pa) : NULL;
  tg_uop *ret = param ? tgs_reshape(&P, param, s.d, s.n) : NULL;
  if (ret && map_put(c, buf, buf)) ret = NULL;
  c->dg++;
  DONE(ret);
}

static tg_uop *param_var_slot(tg_rw *rw, tg_uop *v) {
  if (!tgs_pa_has_name(v) || !tgs_pa_has_vmin_vmax(v) || tgs_pa_slot(v) == -1) return NULL;
  tg_arg *items = malloc(v->arg.n * sizeof *items);
  if (!items) return fail_oom(rw);
  memcpy(items, v->arg.items, v->arg.n * sizeof *items);
  items[TG_PARAMARG_SLOT] = tg_arg_int(-1);
  tg_arg a = tg_arg_tuple(items, v->arg.n);
  tg_uop *r = tg_uop_replace(v, (tg_op)v->op, v->dtype, v->src, v->nsrc, &a, NULL);
  free(items);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *param_renumber(tg_rw *rw, tg_uop *buf) {
  if (buf->tag.kind != TG_ARG_TUPLE || buf->tag.n != 0 || tgs_pa_has_name(buf)) return NULL;
  tgs_shp s;
  int r = tgs_shape(buf, &s);
  if (r < 0) return tg_rw_fail(rw);
  if (r == 0) return NULL;
  return debuf(rw, buf);
}

static tg_uop *index_alu_param(tg_rw *rw, tg_uop *v) {
  (void)rw;
  return tgs_addrspace(v) == TGS_AS_ALU ? tg_uop_retain(v) : NULL;
}

static tg_uop *after_bound_var(tg_rw *rw, tg_uop *b) {
  (void)rw;
  return tgs_is_bound_var(b) ? tg_uop_retain(b->src[0]) : NULL;
}

static tg_uop *handle_after(tg_rw *rw, tg_uop *after) {
  lctx *c = rw->ctx;
  if (tgs_addrspace(after) == TGS_AS_LOCAL) return NULL;
  tg_uop *buf = tgs_buf_uop(after);
  if (map_put(c, buf, after)) return tg_rw_fail(rw);
  return tg_uop_retain(buf);
}

static tg_uop *stage_remove_device(tg_rw *rw, tg_uop *b) {
  if (!tgs_stage_device(b)) return NULL;
  tg_arg it[4] = {b->arg.items[0], tg_arg_none(), b->arg.items[2], b->arg.items[3]};
  tg_arg a = tg_arg_tuple(it, 4);
  tg_uop *r = tg_uop_replace(b, (tg_op)b->op, b->dtype, b->src, b->nsrc, &a, NULL);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *renumber_range(tg_rw *rw, tg_uop *r) {
  lctx *c = rw->ctx;
  if (r->tag.kind != TG_ARG_TUPLE || r->tag.n != 0) return NULL;
  tg_arg *items = malloc(r->arg.n * sizeof *items);
  if (!items) return fail_oom(rw);
  memcpy(items, r->arg.items, r->arg.n * sizeof *items);
  items[0] = tg_arg_int(c->range++);
  tg_arg a = tg_arg_tuple(items, r->arg.n), none = tg_arg_none();
  tg_uop *ret = tg_uop_replace(r, (tg_op)r->op, r->dtype, r->src, r->nsrc, &a, &none);
  free(items);
  return ret ? ret : tg_rw_fail(rw);
}

static tg_uop *get_contiguous(tg_rw *rw, tg_uop *x) {
  (void)rw;
  if (x->arg.kind == TG_ARG_TUPLE && x->arg.n)
    return tg_err(TG_ERR_UNSUPPORTED, "scheduler: CONTIGUOUS with opts (Opt) is not supported yet"), tg_rw_fail(rw);
  return tg_uop_retain(x->src[0]);
}

static tg_uop *noop_src(tg_rw *rw, tg_uop *x) {
  (void)rw;
  return x->nsrc ? tg_uop_retain(x->src[0]) : NULL;
}

static tg_uop *strip_zero_offset_shrink(tg_uop *x) {
  if (x->op != TG_OP_SHRINK) return x;
  int64_t a[TGS_MAXD], b[TGS_MAXD];
  size_t n;
  if (tgs_marg(x, a, b, &n)) return x;
  for (size_t i = 0; i < n; i++)
    if (a[i] != 0) return x;
  return x->src[0];
}

static tg_uop *no_indexing_calls(tg_rw *rw, tg_uop *u) {
  tg_uop **src = malloc(u->nsrc * sizeof *src);
  if (!src) return fail_oom(rw);
  for (size_t i = 0; i < u->nsrc; i++) {
    tg_uop *x = u->src[i];
    if (x->op == TG_OP_MSTACK) { free(src); return mstack_reshape(rw, x); }
    src[i] = x->op == TG_OP_INDEX ? x->src[0] : strip_zero_offset_shrink(x);
  }
  tg_uop *r = tg_uop_replace(u, (tg_op)u->op, u->dtype, src, u->nsrc, NULL, NULL);
  free(src);
  if (!r) return tg_rw_fail(rw);
  if (r == u) return tg_uop_release(r), NULL;
  return r;
}

#include "schedule/rangeify_rules.inc"

const tg_pm *tgs_pm_mops(void) { return tg_pm_rfy_mops(); }

/* ================ composed matchers ================ */

static tg_pm *pm_earliest, *pm_cleanups, *pm_add_buffers, *pm_split;
static pthread_once_t composed_once = PTHREAD_ONCE_INIT;
static void compose(void) {
  /* pm_mops+earliest_rewrites, earliest_rewrites = mop_cleanup+[...] */
  pm_earliest = tg_pm_concat((const tg_pm *[]){tg_pm_rfy_mops(), tg_pm_mop_cleanup(), tg_pm_rfy_earliest_rules()}, 3);
  /* symbolic+pm_reduce_simplify+pm_const_buffer_folding+pm_remove_bufferize, pm_const_buffer_folding = pm_mops+[...] */
  pm_cleanups = tg_pm_concat((const tg_pm *[]){tg_pm_symbolic(), tgs_pm_reduce_simplify(), tg_pm_rfy_mops(),
                                               tg_pm_rfy_const_buffer_folding_rules(), tg_pm_rfy_remove_bufferize()}, 5);
  /* pm_add_buffers+pm_add_param_range_tags, pm_add_buffers = pm_mops+pm_flatten_bufferize+[...] */
  pm_add_buffers = tg_pm_concat((const tg_pm *[]){tg_pm_rfy_mops(), tg_pm_rfy_flatten_bufferize(), tg_pm_rfy_add_buffers_rules(),
                                                  tg_pm_rfy_add_param_range_tags()}, 4);
  /* to_define_global+pm_flatten_range+rangeify_codegen */
  pm_split = tg_pm_concat((const tg_pm *[]){tg_pm_rfy_to_define_global(), tgs_pm_flatten_range(), tg_pm_rfy_rangeify_codegen()}, 3);
}
static const tg_pm *split_pm(void) {
  pthread_once(&composed_once, compose);
  return pm_split;
}

/* ================ get_kernel_graph ================ */

static int max_range_id(tg_uop *sink, int64_t *out) {
  size_t n;
  tg_uop **t = tgs_toposort(sink, NULL, NULL, 1, &n);
  if (!t) return -1;
  *out = -1;
  for (size_t i = 0; i < n; i++)
    if (t[i]->op == TG_OP_RANGE && tgs_range_id(t[i]) > *out) *out = tgs_range_id(t[i]);
  free(t);
  return 0;
}

static int max_buffer_slot(tg_uop *sink, int64_t *out) {
  size_t n;
  tg_uop **t = tgs_toposort(sink, NULL, NULL, 1, &n);
  if (!t) return -1;
  *out = -1;
  for (size_t i = 0; i < n; i++)
    if (t[i]->op == TG_OP_BUFFER && tgs_is_paramarg(&t[i]->arg) && tgs_pa_addrspace(t[i]) == TGS_AS_GLOBAL && tgs_pa_slot(t[i]) > *out)
      *out = tgs_pa_slot(t[i]);
  free(t);
  return 0;
}

tg_uop *tg_schedule_kernel_graph(tg_uop *sink) {
  pthread_once(&composed_once, compose);
  if (!pm_earliest || !pm_cleanups || !pm_add_buffers || !pm_split)
    return tg_err(TG_ERR_OUT_OF_MEMORY, "get_kernel_graph: the matchers could not be built"), NULL;
  if (tgs_session_begin()) return NULL;
  tgs_pool P = {0};
  tg_uop *ret = NULL;
  /* multi_pm is a no-op on single-device graphs: multi-device ops fail where they are met */
  tg_uop *t = tgs_rewrite(&P, sink, pm_earliest, NULL, TG_RW_BOTTOM_UP);
  int64_t copy_ctr = 0;
  t = tgs_rewrite(&P, t, tg_pm_rfy_copy_to_store(), &copy_ctr, TG_RW_BOTTOM_UP);
  /* convert movement ops to ranges */
  t = t ? tgs_hold(&P, tgs_run_rangeify(t)) : NULL;
  /* cleanups for speed and runability */
  t = tgs_rewrite(&P, t, pm_cleanups, NULL, 0);
  int64_t next_range;
  if (t && !max_range_id(t, &next_range)) {
    limctx lc = {.range_idx = next_range + 1};
    if (!tg_ptrset_init(&lc.cache, 1024)) t = NULL, tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in limit_bufs");
    else t = tgs_rewrite(&P, t, tg_pm_rfy_limit_bufs(), &lc, 0);
    for (size_t i = 0; i < lc.nowned; i++) free(lc.owned[i]);
    free(lc.owned);
    tg_ptrset_free(&lc.cache);
  } else t = NULL;
  /* bufferize -> store */
  int64_t slot;
  if (t && !max_buffer_slot(t, &slot)) {
    int64_t ctr = slot + 1;
    t = tgs_rewrite(&P, t, pm_add_buffers, &ctr, TG_RW_BOTTOM_UP);
  } else t = NULL;
  t = tgs_rewrite(&P, t, tg_pm_rfy_split_kernels(), NULL, TG_RW_BOTTOM_UP);
  t = tgs_rewrite(&P, t, tg_pm_rfy_no_indexing_calls(), NULL, 0);
  if (t) ret = tg_uop_retain(t);
  tgs_pool_free(&P);
  tgs_session_end();
  return ret;
}
