/* schedule/callify.c -- tinygrad 0.14.0's tensor.py transform_to_call, and ops.py's UOp.contiguous_view.
**
** The step before the scheduler: the tensors to realize (UOp.sink of their UOps) become CALL(SINK(AFTER(PARAM,
** STORE(PARAM, value))...), *buffers). Every CONTIGUOUS becomes a store into a new buffer (empty_like), assigns stay
** stores, input BUFFERs become PARAMs numbered in order of use, and a contiguous view of a buffer (a slice) becomes a
** view argument instead of a copy. The becomes map says, for every tensor-level UOp that now lives in a buffer, the
** buffer view that replaces it: the frontend applies it to its tensors (tinygrad's _apply_map_to_tensors).
**
** The pattern matchers are data (callify.rules -> callify_rules.inc). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "schedule/internal.h"
#include "uop/symbolic.h"

/* ================ context (tinygrad's AllocCtx) ================ */

typedef struct ulist { size_t n, cap; tg_uop **v; } ulist;
typedef struct cctx {
  tgs_pool P;
  ulist uop_list, map_keys, map_vals, assigns, replacements;
  tg_ptrset map_index, bases, views;
} cctx;

static int ul_add(tgs_pool *P, ulist *l, tg_uop *u) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 16;
    tg_uop **nv = realloc(l->v, nc * sizeof *nv);
    if (!nv) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in transform_to_call"), -1;
    l->v = nv, l->cap = nc;
  }
  l->v[l->n++] = tgs_hold(P, tg_uop_retain(u));
  return l->v[l->n - 1] ? 0 : -1;
}

static int starts(const char *d, const char *p) { return d && !strncmp(d, p, strlen(p)); }
static int disk_like(tg_uop *u) { const char *d = tgs_device(u); return starts(d, "DISK") || starts(d, "TINYFS"); }

/* tags are tuples of ints (indices into uop_list); () is a tag too (falsy, but not None) */
static int tag_truthy(const tg_uop *u) { return u->tag.kind == TG_ARG_TUPLE ? u->tag.n > 0 : u->tag.kind != TG_ARG_NONE; }
static tg_uop *with_tag(tg_uop *u, const tg_arg *tag) {
  tg_arg none = tg_arg_none();
  return tg_uop_replace(u, (tg_op)u->op, u->dtype, u->src, u->nsrc, NULL, tag ? tag : &none);
}
static tg_uop *with_tag_concat(tg_uop *u, const tg_arg *a, const tg_arg *b) { /* (a or ()) + (b or ()) */
  size_t na = a->kind == TG_ARG_TUPLE ? a->n : 0, nb = b->kind == TG_ARG_TUPLE ? b->n : 0;
  tg_arg *items = malloc((na + nb + 1) * sizeof *items);
  if (!items) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory"), NULL;
  if (na) memcpy(items, a->items, na * sizeof *items);
  if (nb) memcpy(items + na, b->items, nb * sizeof *items);
  tg_arg t = tg_arg_tuple(items, (uint32_t)(na + nb));
  tg_uop *r = with_tag(u, &t);
  free(items);
  return r;
}

/* ================ contiguous_view ================ */

static tg_uop *flatten_bitcast(tg_rw *rw, tg_uop *b) {
  tgs_shp s;
  if (tgs_shape(b, &s) != 1) return tg_rw_fail(rw);
  if (s.n == 1) return NULL;
  tgs_pool P = {0};
  tg_uop *f = tgs_flatten(&P, b->src[0]);
  f = f ? tgs_hold(&P, tg_um_bitcast(f, b->dtype)) : NULL;
  f = f ? tgs_reshape(&P, f, s.d, s.n) : NULL;
  if (f) tg_uop_retain(f);
  tgs_pool_free(&P);
  return f ? f : tg_rw_fail(rw);
}

static int64_t numel_of(tg_uop *u) {
  tgs_shp s;
  return tgs_shape(u, &s) == 1 ? tgs_prod(s.d, s.n) : -1;
}

static tg_uop *view_of_bitcast(tg_rw *rw, tg_uop *b, tg_uop *c) {
  if (!tag_truthy(b)) return NULL;
  tg_uop *self = rw->ctx;
  int osz = tg_dt_itemsize((tg_dtype)b->dtype), isz = tg_dt_itemsize((tg_dtype)b->src[0]->dtype);
  tgs_pool P = {0};
  tg_uop *r = tgs_range(&P, numel_of(self) * osz / isz, 0, TGS_AX_WEAK);
  tg_uop *off = tgs_floordiv_i(&P, tgs_bin_i(&P, TG_OP_MUL, c, osz), isz);
  tg_uop *idx = r && off ? tgs_bin(&P, TG_OP_ADD, r, off) : NULL;
  tg_uop *f = idx ? tgs_flatten(&P, b->src[0]) : NULL;
  tg_uop *ret = f ? tgs_index(&P, f, &idx, 1, NULL) : NULL;
  if (ret) tg_uop_retain(ret);
  tgs_pool_free(&P);
  return ret ? ret : tg_rw_fail(rw);
}

static tg_uop *tagged_index(tg_rw *rw, tg_uop *b, tg_uop *c) { /* b.rtag().index(c) */
  tg_arg t = tg_arg_bool(1);
  tg_uop *bt = with_tag(b, &t), *ci = c ? tg_uop_retain(c) : tg_uop_const_int(TG_WEAKINT, 0);
  tg_uop *r = bt && ci ? tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){bt, ci}, 2, tg_arg_none()) : NULL;
  tg_uop_release(bt), tg_uop_release(ci);
  return r ? r : tg_rw_fail(rw);
}
static tg_uop *view_at0(tg_rw *rw, tg_uop *b) { return tagged_index(rw, b, NULL); }
static tg_uop *view_at(tg_rw *rw, tg_uop *b, tg_uop *c) { return tagged_index(rw, b, c); }
static tg_uop *view_at_if_single(tg_rw *rw, tg_uop *b, tg_uop *c) {
  return numel_of(rw->ctx) == 1 ? tagged_index(rw, b, c) : NULL;
}

/* ================ add_tags ================ */

static tg_uop *tag_uop(tg_rw *rw, tg_uop *x) {
  cctx *c = rw->ctx;
  if (x->tag.kind != TG_ARG_NONE) return NULL;
  if (ul_add(&c->P, &c->uop_list, x)) return tg_rw_fail(rw);
  tg_arg it = tg_arg_int((int64_t)c->uop_list.n - 1), t = tg_arg_tuple(&it, 1);
  tg_uop *r = with_tag(x, &t);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *disk_copy_is_buffer(tg_rw *rw, tg_uop *u) {
  if (disk_like(u)) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: copies to DISK/TINYFS are not supported"), tg_rw_fail(rw);
  const char *d = tgs_device(u->src[0]);
  if (starts(d, "NPY") || starts(d, "DISK") || starts(d, "PYTHON") || starts(d, "TINYFS")) return tag_uop(rw, u);
  return NULL;
}

static tg_uop *merge_copy_tag(tg_rw *rw, tg_uop *a, tg_uop *cp, tg_uop *dest) {
  if (!tag_truthy(a) || !tag_truthy(cp)) return NULL;
  tg_arg empty = tg_arg_tuple(NULL, 0);
  tg_uop *c0 = with_tag(cp, &empty);
  tg_uop *st = c0 ? tg_uop_replace(a->src[1], TG_OP_STORE, a->src[1]->dtype, (tg_uop *[]){dest, c0}, 2, NULL, NULL) : NULL;
  tg_uop *a2 = st ? tg_uop_replace(a, (tg_op)a->op, a->dtype, (tg_uop *[]){a->src[0], st}, 2, NULL, NULL) : NULL;
  tg_uop *r = a2 ? with_tag_concat(a2, &a->tag, &cp->tag) : NULL;
  tg_uop_release(c0), tg_uop_release(st), tg_uop_release(a2);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *tag_base(tg_rw *rw, tg_uop *x) {
  cctx *c = rw->ctx;
  return tg_ptrset_get(&c->bases, x) ? tag_uop(rw, x) : NULL;
}

/* ================ pm_early_transform_tensor_graph ================ */

static tg_uop *transform_precompiled_call(tg_rw *rw, tg_uop *c) {
  int precompile = c->arg.kind == TG_ARG_TUPLE && c->arg.n > 3 && c->arg.items[3].i;
  if (!precompile) return NULL;
  return tg_err(TG_ERR_UNSUPPORTED, "scheduler: precompiled FUNCTIONs are not supported yet"), tg_rw_fail(rw);
}

static tg_uop *gettuple(tg_rw *rw, tg_uop *g, tg_uop *t) {
  if (g->arg.kind != TG_ARG_INT || g->arg.i < 0 || g->arg.i >= t->nsrc) return tg_err(TG_ERR_INTERNAL, "GETTUPLE out of range"), tg_rw_fail(rw);
  return tg_uop_retain(t->src[g->arg.i]);
}

static const tg_pm *view_pm(void);

int tgs_contiguous_view(tgs_pool *P, tg_uop *self, tg_uop **buf, int64_t *offset) {
  *buf = NULL;
  const char *d = tgs_device(self);
  if (starts(d, "WEBGPU") || starts(d, "CL")) return 0;
  int64_t n = numel_of(self);
  if (n < 0) return -1;
  tg_uop *r = tgs_range(P, n, 0, TGS_AX_WEAK), *f = tgs_flatten(P, self);
  tg_uop *idx = r && f ? tgs_index(P, f, &r, 1, NULL) : NULL;
  const tg_pm *pm = view_pm();
  tg_uop *out = idx && pm ? tgs_rewrite(P, idx, pm, self, 0) : NULL;
  if (!out) return -1;
  if (out->op != TG_OP_INDEX || out->nsrc < 2 || !tag_truthy(out->src[0]) || out->src[1]->op != TG_OP_CONST ||
      (out->src[1]->arg.kind != TG_ARG_INT && out->src[1]->arg.kind != TG_ARG_BOOL))
    return 0;
  *buf = tgs_hold(P, with_tag(out->src[0], NULL));
  *offset = out->src[1]->arg.i;
  return *buf ? 1 : -1;
}

/* _make_buffer_view: the BUFFER range src covers, as buf[offset:offset+size].bitcast(src.dtype); NULL when none */
static tg_uop *make_buffer_view(tgs_pool *P, tg_uop *src, int *err) {
  tg_uop *b;
  int64_t off;
  int r = tgs_contiguous_view(P, src, &b, &off);
  if (r <= 0) return *err = r < 0, NULL;
  if (b->op != TG_OP_BUFFER) return NULL;
  int64_t size = numel_of(src) * tg_dt_itemsize((tg_dtype)src->dtype) / tg_dt_itemsize((tg_dtype)b->dtype), end = off + size;
  tg_uop *v = tgs_shrink(P, b, &off, &end, 1);
  v = v ? tgs_hold(P, tg_um_bitcast(v, src->dtype)) : NULL;
  return v ? v : (*err = 1, NULL);
}

static tg_uop *contiguous_mops_to_view(tg_rw *rw, tg_uop *cu, tg_uop *src) {
  cctx *c = rw->ctx;
  tg_uop *buf = tgs_base(src);
  while (buf->op == TG_OP_BITCAST) buf = tgs_base(buf->src[0]);
  if (buf->op != TG_OP_BUFFER) {
    if (buf->op == TG_OP_UNSHARD) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: multi-device views"), tg_rw_fail(rw);
    return NULL;
  }
  tgs_shp s;
  if (tgs_shape(cu, &s) != 1) return tg_rw_fail(rw);
  tgs_pool P = {0};
  int err = 0;
  tg_uop *view = make_buffer_view(&P, src, &err), *ret = NULL;
  if (view) {
    if (!tg_ptrset_put(&c->views, view, 1) || !tgs_hold(&c->P, tg_uop_retain(view))) err = 1;
    view = err ? NULL : tgs_reshape(&P, view, s.d, s.n);
    if (view && (cu->op == TG_OP_COPY || cu->op == TG_OP_STORE)) {
      tg_uop **srcs = malloc(cu->nsrc * sizeof *srcs);
      if (srcs) {
        memcpy(srcs, cu->src, cu->nsrc * sizeof *srcs);
        srcs[0] = view;
        ret = tgs_replace_src(&P, cu, srcs, cu->nsrc);
      }
      free(srcs);
    } else ret = view;
    err = !ret;
  }
  if (ret) tg_uop_retain(ret);
  tgs_pool_free(&P);
  return err ? tg_rw_fail(rw) : ret;
}

static tg_uop *disk_only(tg_rw *rw, tg_uop *x, tg_uop *copy) {
  (void)copy;
  if (starts(tgs_device(x), "DISK")) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: DISK tensors are not supported"), tg_rw_fail(rw);
  return NULL;
}

/* ElementwiseMixin.contiguous(tag=tag): x itself when it needs none (then without the tag) */
static tg_uop *contiguous_with_tag(tg_uop *x, const tg_arg *tag) {
  if (tg_dt_is_weak((tg_dtype)x->dtype) || x->op == TG_OP_CONTIGUOUS || !tgs_device(x) || tgs_has_buffer_identity(x, 0))
    return tg_uop_retain(x);
  return tg_uop_new_tagged(TG_OP_CONTIGUOUS, x->dtype, &x, 1, tg_arg_none(), *tag);
}

static tg_uop *contiguous_tagged(tg_rw *rw, tg_uop *x) {
  if (x->tag.kind == TG_ARG_NONE) return NULL;
  tg_uop *r, *u = with_tag(x, NULL);
  if (!tag_truthy(x) || !u) r = u;
  else r = contiguous_with_tag(u, &x->tag), tg_uop_release(u);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *contiguous_on_after(tg_rw *rw, tg_uop *a, tg_uop *cu) {
  if (!tgs_has_buffer_identity(a->src[0], 0)) return NULL;
  tg_uop *r = with_tag_concat(a, &a->tag, &cu->tag);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *replace_store_after_with_contig(tg_rw *rw, tg_uop *u, tg_uop *src) {
  tg_uop *t = u;
  while (t->op == TG_OP_BITCAST || t->op == TG_OP_AFTER || t->op == TG_OP_UNSHARD) t = tgs_base(t->src[0]);
  if (t->op == TG_OP_BUFFER) return NULL;
  tg_uop *r = contiguous_with_tag(src, &u->tag);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *replace_contig_with_store_after(tg_rw *rw, tg_uop *u) {
  const char *dev = tgs_device(u);
  if (!dev || tg_dt_is_weak((tg_dtype)u->dtype)) return NULL; /* can't allocate a buffer for a virtual value */
  tgs_shp s;
  if (tgs_shape(u, &s) != 1) return tg_rw_fail(rw);
  for (size_t i = 0; i < s.n; i++)
    if (!s.d[i]) return tg_uop_retain(u->src[0]); /* size 0: no contig */
  if (disk_like(u)) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: DISK tensors are not supported"), tg_rw_fail(rw);
  /* u.empty_like(): UOp.new_buffer(device, prod(shape), strong dtype).reshape(shape).shrink_to(shape) */
  tgs_pool P = {0};
  int dt = tg_dt_strong((tg_dtype)u->dtype);
  tg_uop *n = tgs_ci(&P, tgs_prod(s.d, s.n));
  tg_arg it[TG_PARAMARG_COUNT];
  tg_arg pa = tgs_paramarg(it, tg_schedule_next_slot(), dt, dev, TGS_AS_GLOBAL);
  tg_uop *buf = n ? tgs_new(&P, TG_OP_BUFFER, dt, &n, 1, pa) : NULL;
  buf = buf ? tgs_reshape(&P, buf, s.d, s.n) : NULL;
  tg_uop *st = buf ? tgs_store(&P, buf, u->src[0]) : NULL;
  tg_uop *a = st ? tgs_after(&P, buf, &st, 1) : NULL;
  tg_uop *r = a ? with_tag(a, &u->tag) : NULL;
  tgs_pool_free(&P);
  return r ? r : tg_rw_fail(rw);
}

/* ================ pm_finalize_call ================ */

static int map_set(cctx *c, tg_uop *k, tg_uop *v) { /* buffer_map[k] = v (a dict: the first insertion keeps its place) */
  uint64_t *i = tg_ptrset_get(&c->map_index, k);
  if (i) {
    c->map_vals.v[*i] = tgs_hold(&c->P, tg_uop_retain(v));
    return c->map_vals.v[*i] ? 0 : -1;
  }
  if (!tg_ptrset_put(&c->map_index, k, c->map_keys.n)) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory"), -1;
  return ul_add(&c->P, &c->map_keys, k) || ul_add(&c->P, &c->map_vals, v) ? -1 : 0;
}

static tg_uop *finalize_after(tg_rw *rw, tg_uop *x) {
  cctx *c = rw->ctx;
  if (tgs_is_bound_var(x)) return NULL;
  if (x->tag.kind == TG_ARG_NONE) return ul_add(&c->P, &c->assigns, x) ? tg_rw_fail(rw) : NULL; /* an assign for the call body */
  /* tagged: map each original UOp to the buffer, with the views put back */
  tgs_pool P = {0};
  tg_uop *ret = tgs_hold(&P, with_tag(x, NULL)), *ru = ret, *views[64];
  size_t nv = 0;
  int err = !ret;
  while (!err && (tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)ru->op) || ru->op == TG_OP_UNSHARD || ru->op == TG_OP_BITCAST || ru->op == TG_OP_AFTER)) {
    if (ru->op != TG_OP_AFTER) {
      if (nv == 64) { err = tg_err(TG_ERR_UNSUPPORTED, "scheduler: more than 64 views on a realized value"); break; }
      views[nv++] = ru;
    }
    ru = ru->src[0];
  }
  while (!err && nv) {
    tg_uop *v = views[--nv], **src = malloc(v->nsrc * sizeof *src);
    if (!src) { err = 1; break; }
    memcpy(src, v->src, v->nsrc * sizeof *src);
    src[0] = ru;
    err = !(ru = tgs_replace_src(&P, v, src, v->nsrc));
    free(src);
  }
  for (uint32_t i = 0; !err && x->tag.kind == TG_ARG_TUPLE && i < x->tag.n; i++) {
    int64_t t = x->tag.items[i].i;
    if (t < 0 || (size_t)t >= c->uop_list.n) { err = tg_err(TG_ERR_INTERNAL, "transform_to_call: bad tag %lld", (long long)t); break; }
    tg_uop *orig = c->uop_list.v[t];
    tgs_shp s;
    int64_t z[TGS_MAXD] = {0};
    tg_uop *v = tgs_shape(orig, &s) == 1 ? tgs_shrink(&P, ru, z, s.d, s.n) : NULL; /* shrink_to(original.shape) */
    err = !v || map_set(c, orig, v);
  }
  if (!err) tg_uop_retain(ret);
  tgs_pool_free(&P);
  return err ? tg_rw_fail(rw) : ret;
}

static tg_uop *finalize_copy(tg_rw *rw, tg_uop *x) {
  if (disk_like(x)) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: copies to DISK/TINYFS are not supported"), tg_rw_fail(rw);
  return NULL;
}

/* ================ pm_replace_buf ================ */

static tg_uop *input_param(tg_rw *rw, tg_uop *b) {
  cctx *c = rw->ctx;
  if (ul_add(&c->P, &c->replacements, b)) return tg_rw_fail(rw);
  if (tgs_is_bound_var(b) || tgs_is_variable(b)) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: Variables are not supported yet"), tg_rw_fail(rw);
  if (tg_dt_is_weak((tg_dtype)b->dtype)) return tg_err(TG_ERR_DTYPE, "cannot create param for weak dtype"), tg_rw_fail(rw);
  tgs_shp s;
  int sr = tgs_shape(b, &s);
  if (sr < 0) return tg_rw_fail(rw);
  /* UOp.param(slot, dtype, shape, device, addrspace=...) */
  tgs_pool P = {0};
  tg_uop *shape = sr ? tgs_shape_arg(&P, s.d, s.n) : tgs_new(&P, TG_OP_NOOP, TG_DT_VOID, NULL, 0, tg_arg_none());
  int as = tgs_addrspace(b);
  tg_arg it[TG_PARAMARG_COUNT];
  tg_arg pa = tgs_paramarg(it, (int64_t)c->replacements.n - 1, b->dtype, tgs_device(b), as ? as : TGS_AS_GLOBAL);
  tg_uop *p = shape ? tg_uop_new(TG_OP_PARAM, b->dtype, &shape, 1, pa) : NULL;
  tgs_pool_free(&P);
  return p ? p : tg_rw_fail(rw);
}

static tg_uop *replace_input_buffer(tg_rw *rw, tg_uop *b) {
  if (!tgs_is_paramarg(&b->arg) || tgs_pa_addrspace(b) != TGS_AS_GLOBAL) return NULL;
  return input_param(rw, b);
}

static tg_uop *replace_input_view(tg_rw *rw, tg_uop *b) {
  cctx *c = rw->ctx;
  return tg_ptrset_get(&c->views, b) ? input_param(rw, b) : NULL;
}

static tg_uop *replace_bound_var(tg_rw *rw, tg_uop *b) {
  if (!tgs_is_bound_var(b)) return NULL;
  return tg_err(TG_ERR_UNSUPPORTED, "scheduler: Variables are not supported yet"), tg_rw_fail(rw);
}

#include "schedule/callify_rules.inc"

static tg_pm *pm_view;
static pthread_once_t view_once = PTHREAD_ONCE_INIT;
static void build_view(void) {
  pm_view = tg_pm_concat((const tg_pm *[]){tgs_pm_mops(), tg_pm_symbolic(), tg_pm_cfy_contiguous_view_offset()}, 3);
}
static const tg_pm *view_pm(void) { return pthread_once(&view_once, build_view), pm_view; }

/* ================ transform_to_call ================ */

void tg_schedule_map_free(tg_schedule_map *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) tg_uop_release(m->from[i]), tg_uop_release(m->to[i]);
  free(m->from), free(m->to);
  m->from = m->to = NULL, m->n = 0;
}

/* The part of tinygrad's tensor-graph spec (checked on the big graph it schedules) that the frontend lets through:
** bitwise AND/OR/XOR exist only for ints and bool, so `float_tensor & x` builds but is refused here. */
static tg_status verify_bitwise(tg_uop *big_sink) {
  size_t n = 0;
  tg_uop **order = tg_uop_toposort(big_sink, &n);
  if (!order) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in transform_to_call");
  tg_status st = TG_OK;
  for (size_t i = 0; i < n && !st; i++) {
    tg_uop *u = order[i];
    tgs_shp sh;
    /* size-0 values never reach tinygrad's check: they become constants first */
    if ((u->op == TG_OP_AND || u->op == TG_OP_OR || u->op == TG_OP_XOR) && tg_dt_is_float((tg_dtype)u->dtype) &&
        !(tgs_shape(u, &sh) == 1 && tgs_prod(sh.d, sh.n) == 0))
      st = tg_err(TG_ERR_DTYPE, "UOp verification failed at %zu on Ops.%s dtypes.%s: bitwise ops need int or bool operands", i,
                  tg_op_name((tg_op)u->op), tg_dt_name((tg_dtype)u->dtype));
  }
  free(order);
  return st;
}

tg_status tg_schedule_callify(tg_uop *big_sink, tg_uop **out_call, tg_schedule_map *becomes) {
  if (!big_sink || !out_call || !becomes) return tg_err(TG_ERR_NULL_POINTER, "tg_schedule_callify: NULL argument");
  *out_call = NULL;
  memset(becomes, 0, sizeof *becomes);
  tgs_clear_status();
  if (big_sink->op != TG_OP_SINK) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_schedule_callify: expected a SINK, got %s", tg_op_name((tg_op)big_sink->op));
  tg_status vst = verify_bitwise(big_sink);
  if (vst) return vst;
  if (tgs_session_begin()) return tgs_last_status();
  cctx c;
  memset(&c, 0, sizeof c);
  tg_uop *ret = NULL;
  int err = !tg_ptrset_init(&c.map_index, 64) || !tg_ptrset_init(&c.bases, 64) || !tg_ptrset_init(&c.views, 16);
  if (err) tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in transform_to_call");
  /* the bases that need a buffer: not virtual, not already a buffer, not an assign, not a Variable */
  for (size_t i = 0; i < big_sink->nsrc && !err; i++) {
    tg_uop *b = tgs_base(big_sink->src[i]);
    if (!tgs_device(b) || tg_dt_is_weak((tg_dtype)b->dtype) || tgs_has_buffer_identity(b, 0) || b->op == TG_OP_AFTER ||
        tgs_addrspace(b) == TGS_AS_ALU)
      continue;
    if (!tg_ptrset_put(&c.bases, b, 1) || !tgs_hold(&c.P, tg_uop_retain(b))) err = 1;
  }
  tg_uop *t = err ? NULL : tgs_rewrite(&c.P, big_sink, tg_pm_cfy_add_tags(), &c, TG_RW_BOTTOM_UP);
  t = tgs_rewrite(&c.P, t, tg_pm_cfy_early_transform(), &c, 0);
  if (t && !tgs_rewrite(&c.P, t, tg_pm_cfy_finalize_call(), &c, 0)) t = NULL;
  tg_uop *sink = t ? tgs_sink(&c.P, c.assigns.v, c.assigns.n, tg_arg_none()) : NULL;
  sink = tgs_rewrite(&c.P, sink, tg_pm_cfy_replace_buf(), &c, TG_RW_BOTTOM_UP);
  if (sink) {
    tg_uop **src = malloc((c.replacements.n + 1) * sizeof *src);
    if (src) {
      src[0] = sink;
      if (c.replacements.n) memcpy(src + 1, c.replacements.v, c.replacements.n * sizeof *src);
      tg_arg ci[6] = {tg_arg_str("CallInfo"), tg_arg_none(), tg_arg_none(), tg_arg_bool(0), tg_arg_bool(0), tg_arg_none()};
      ret = tg_uop_new(TG_OP_CALL, TG_DT_VOID, src, c.replacements.n + 1, tg_arg_tuple(ci, 6));
      free(src);
    } else tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in transform_to_call");
  }
  if (ret && c.map_keys.n) {
    becomes->from = malloc(c.map_keys.n * sizeof *becomes->from), becomes->to = malloc(c.map_keys.n * sizeof *becomes->to);
    if (!becomes->from || !becomes->to) {
      free(becomes->from), free(becomes->to), becomes->from = becomes->to = NULL;
      tg_uop_release(ret), ret = NULL;
      tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in transform_to_call");
    } else {
      for (size_t i = 0; i < c.map_keys.n; i++) becomes->from[i] = tg_uop_retain(c.map_keys.v[i]), becomes->to[i] = tg_uop_retain(c.map_vals.v[i]);
      becomes->n = c.map_keys.n;
    }
  }
  free(c.uop_list.v), free(c.map_keys.v), free(c.map_vals.v), free(c.assigns.v), free(c.replacements.v);
  tg_ptrset_free(&c.map_index), tg_ptrset_free(&c.bases), tg_ptrset_free(&c.views);
  tgs_pool_free(&c.P);
  tgs_session_end();
  *out_call = ret;
  return ret ? TG_OK : tgs_last_status();
}
