/* codegen/expander.c -- tinygrad 0.14.0's codegen/__init__.py expander2 (upcast/unroll ranges become shaped constants
** the devectorizer unpacks) and pm_reduce_local (REDUCE becomes an accumulator: a REG BUFFER initialised with the
** identity, updated in the reduce loop, read after it). Rules are data in expander.rules. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "uop/symbolic.h"

static const tg_arg *reduce_op(tg_uop *r) { return cg_tuple_item(&r->arg, 0); }
static int64_t reduce_axes(tg_uop *r) { return cg_arg_int(cg_tuple_item(&r->arg, 1), 0); }

static tg_uop *reduce_new(tg_uop *src0, tg_uop *const *rest, size_t n, int64_t op, int64_t nax) {
  tg_arg items[2] = {tg_arg_op((tg_op)op), tg_arg_int(nax)};
  tg_uop **s = malloc((n + 1) * sizeof *s);
  if (!s) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
  s[0] = src0;
  cg_memcpy(s + 1, rest, n * sizeof *s);
  tg_uop *r = tg_uop_new(TG_OP_REDUCE, TG_DT_AUTO, s, n + 1, tg_arg_tuple(items, 2));
  free(s);
  return r;
}

/* ---------------- expander2 ---------------- */

int cg_build_range_map(tg_uop *sink, cg_range_map *m) {
  cg_list t = {0};
  m->n = 0;
  if (cg_toposort(sink, &t)) return -1;
  for (size_t i = 0; i < t.n; i++) {
    tg_uop *x = t.v[i];
    int ty = x->op == TG_OP_RANGE ? cg_range_type(x) : 0;
    if (ty != CG_AX_UNROLL && ty != CG_AX_UPCAST) continue;
    int64_t ax = cg_range_axis(x);
    int seen = 0;
    for (int k = 0; k < m->n; k++) seen |= m->axis[k] == ax;
    if (!seen && m->n < 64) m->axis[m->n++] = ax;
  }
  cg_list_free(&t);
  return 0;
}

static tg_uop *expand_reduce(tg_rw *rw, tg_uop *r) {
  cg_list rs = {0};
  int64_t axes[64];
  int na = 0;
  for (size_t i = 1; i < r->nsrc; i++) {
    tg_uop *u = r->src[i];
    if (u->op == TG_OP_RANGE) {
      if (cg_list_push(&rs, u)) return tg_rw_fail(rw);
      continue;
    }
    int nd = cg_shape_ndim(u);
    for (int k = 0; k < nd; k++)
      if (cg_shape_dim(u, k) > 1 && na < 64) axes[na++] = k; /* a list, as tinygrad's new_axes */
  }
  if (na == 0) { cg_list_free(&rs); return NULL; }
  int nd = cg_shape_ndim(r->src[0]);
  int64_t perm[64], out[64];
  int np = 0;
  for (int j = 0; j < na; j++) perm[np++] = axes[j];
  for (int k = 0; k < nd; k++) {
    int in = 0;
    for (int j = 0; j < na; j++) in |= axes[j] == k;
    if (!in) perm[np++] = k;
    out[k] = in ? 1 : cg_shape_dim(r->src[0], k);
  }
  cg_pool pool = {0};
  tg_uop *p = K(cg_permute(r->src[0], perm, (size_t)np));
  tg_uop *red = K(reduce_new(p, rs.v, rs.n, reduce_op(r)->i, na));
  tg_uop *ret = cg_reshape(red, out, (size_t)nd);
  cg_pool_free(&pool), cg_list_free(&rs);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool), cg_list_free(&rs);
  return tg_rw_fail(rw);
}

static tg_uop *expand_range(tg_rw *rw, tg_uop *r) {
  cg_range_map *m = rw->ctx;
  int64_t ax = cg_range_axis(r);
  int at = -1;
  for (int k = 0; k < m->n; k++)
    if (m->axis[k] == ax) at = k;
  if (at < 0) return NULL;
  int64_t n = cg_vmax_i(r) + 1;
  cg_pool pool = {0};
  tg_uop **c = malloc((size_t)n * sizeof *c);
  if (!c) return tg_rw_fail(rw);
  for (int64_t i = 0; i < n; i++)
    if (!(c[i] = cg_pool_add(&pool, tg_um_const(r->dtype, tg_num_i(i))))) goto fail;
  tg_uop *st = K(cg_stack(c, (size_t)n));
  int64_t shape[64];
  for (int k = 0; k < m->n; k++) shape[k] = k == at ? n : 1;
  tg_uop *ret = cg_reshape(st, shape, (size_t)m->n);
  free(c);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  free(c);
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* ---------------- WMMA: contract the operands' upcast axes, unroll the result's ---------------- */

static int map_pos(const cg_range_map *m, int64_t rn) {
  for (int k = 0; k < m->n; k++)
    if (m->axis[k] == rn) return k;
  return -1;
}

/* contract_axis: the axes named in arg (range number, size) move to the back and merge into one */
static tg_uop *contract_axis(const cg_range_map *m, tg_uop *u, const tg_arg *arg) {
  int nd = cg_shape_ndim(u);
  if (nd < 0 || nd > 64) return cg_err(TG_ERR_INTERNAL, "codegen: WMMA source without a shape"), NULL;
  int64_t perm[64], shape[64];
  int np = 0, nhead = 0;
  for (int i = 0; i < nd; i++) {
    int in = 0;
    for (uint32_t j = 0; j < arg->n; j++) in |= map_pos(m, arg->items[j].items[0].i) == i;
    if (!in) perm[np++] = i, nhead++;
  }
  for (uint32_t j = 0; j < arg->n; j++) perm[np++] = map_pos(m, arg->items[j].items[0].i);
  if (np != nd) return cg_err(TG_ERR_INTERNAL, "codegen: WMMA axis not in the range map"), NULL;
  int64_t rest = 1;
  for (int i = 0; i < nd; i++) {
    if (i < nhead) shape[i] = cg_shape_dim(u, (int)perm[i]);
    else rest *= cg_shape_dim(u, (int)perm[i]);
  }
  shape[nhead] = rest;
  tg_uop *p = cg_permute(u, perm, (size_t)nd);
  tg_uop *r = p ? cg_reshape(p, shape, (size_t)nhead + 1) : NULL;
  tg_uop_release(p);
  return r;
}

/* unroll_axis: the last axis splits into the sizes in arg, which move to the places of their ranges */
static tg_uop *unroll_axis(const cg_range_map *m, tg_uop *u, const tg_arg *arg) {
  int nd = cg_shape_ndim(u);
  if (nd < 1 || nd + (int)arg->n > 64) return cg_err(TG_ERR_INTERNAL, "codegen: WMMA without a shape"), NULL;
  int64_t shape[64], tail[64], order[64], perm[64];
  int n = 0;
  for (int i = 0; i < nd - 1; i++) shape[n++] = cg_shape_dim(u, i);
  for (uint32_t j = 0; j < arg->n; j++) shape[n++] = arg->items[j].items[1].i, tail[j] = map_pos(m, arg->items[j].items[0].i);
  int no = 0;
  for (int i = 0; i < n; i++) {
    int in = 0;
    for (uint32_t j = 0; j < arg->n; j++) in |= tail[j] == i;
    if (!in) order[no++] = i;
  }
  for (uint32_t j = 0; j < arg->n; j++) order[no++] = tail[j];
  if (no != n) return cg_err(TG_ERR_INTERNAL, "codegen: WMMA axis not in the range map"), NULL;
  for (int i = 0; i < n; i++) /* argsort(order) */
    for (int j = 0; j < n; j++)
      if (order[j] == i) perm[i] = j;
  tg_uop *r0 = cg_reshape(u, shape, (size_t)n);
  tg_uop *r = r0 ? cg_permute(r0, perm, (size_t)n) : NULL;
  tg_uop_release(r0);
  return r;
}

static tg_uop *expand_wmma(tg_rw *rw, tg_uop *u) {
  const tg_arg *ax = cg_tuple_item(&u->arg, 4);
  if (!ax || ax->kind != TG_ARG_TUPLE || ax->n != 3) return NULL;
  cg_range_map *m = rw->ctx;
  cg_pool pool = {0};
  tg_uop *src[3] = {K(contract_axis(m, u->src[0], &ax->items[0])), K(contract_axis(m, u->src[1], &ax->items[1])), u->src[2]};
  tg_arg items[5];
  for (int i = 0; i < 4; i++) items[i] = u->arg.items[i];
  items[4] = tg_arg_none();
  tg_uop *w = K(tg_uop_replace(u, (tg_op)u->op, u->dtype, src, 3, &(tg_arg){.kind = TG_ARG_TUPLE, .items = items, .n = 5}, NULL));
  tg_uop *ret = unroll_axis(m, w, &ax->items[2]);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* ---------------- pm_wmma_add: an ADD into a WMMA's result is an ADD into its accumulator ---------------- */

static tg_uop *wmma_add(tg_rw *rw, tg_uop *wmma, tg_uop *add) {
  cg_pool pool = {0};
  tg_uop *src[3] = {wmma->src[0], wmma->src[1], K(tg_um_binop(TG_OP_ADD, wmma->src[2], add))};
  tg_uop *ret = tg_uop_new((tg_op)wmma->op, TG_DT_AUTO, src, 3, wmma->arg);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static int permute_arg(tg_uop *p, int64_t *perm, int64_t *inv) {
  int n = cg_marg(p, perm);
  if (n < 0) return -1;
  for (int i = 0; i < n; i++) inv[perm[i]] = i; /* argsort of a permutation */
  return n;
}

/* (wmma + add.permute(argsort(permute.arg))).permute(permute.arg) */
static tg_uop *wmma_permute_add(tg_rw *rw, tg_uop *wmma, tg_uop *permute, tg_uop *add) {
  int64_t perm[64], inv[64];
  int n = permute_arg(permute, perm, inv);
  if (n < 0) return NULL;
  cg_pool pool = {0};
  tg_uop *a = K(cg_permute(add, inv, (size_t)n));
  tg_uop *s = K(tg_um_binop(TG_OP_ADD, wmma, a));
  tg_uop *ret = cg_permute(s, perm, (size_t)n);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* (wmma + add.permute(argsort(permute.arg)).reshape(wmma.shape)).reshape(reshape.shape).permute(permute.arg) */
static tg_uop *wmma_reshape_permute_add(tg_rw *rw, tg_uop *wmma, tg_uop *reshape, tg_uop *permute, tg_uop *add) {
  int64_t perm[64], inv[64], ws[64], rs[64];
  int n = permute_arg(permute, perm, inv);
  int nw = cg_shape_ndim(wmma), nr = cg_shape_ndim(reshape);
  if (n < 0 || nw < 0 || nr < 0) return NULL;
  for (int i = 0; i < nw; i++) ws[i] = cg_shape_dim(wmma, i);
  for (int i = 0; i < nr; i++) rs[i] = cg_shape_dim(reshape, i);
  cg_pool pool = {0};
  tg_uop *a = K(cg_reshape(K(cg_permute(add, inv, (size_t)n)), ws, (size_t)nw));
  tg_uop *s = K(tg_um_binop(TG_OP_ADD, wmma, a));
  tg_uop *ret = cg_permute(K(cg_reshape(s, rs, (size_t)nr)), perm, (size_t)n);
  cg_pool_free(&pool);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* ---------------- pm_reduce_local ---------------- */

/* a GROUP_REDUCE splits a reduce over the work items of a group: each reduces its own part (the non-grouped ranges), the
** partial results go to a LOCAL buffer (a STAGE over the group's locals), and a second REDUCE over new REDUCE ranges
** (axis + 100) of the same sizes reads them back; the barrier and the store gate come later (implicit barriers, gpudims) */
static tg_uop *fix_group_for_reduce(tg_rw *rw, tg_uop *x) {
  cg_list gfr = {0}, rest = {0}, locals = {0}, topo = {0}, loops = {0};
  cg_pool pool = {0};
  tg_uop *ret = NULL;
  for (size_t i = 1; i < x->nsrc; i++) {
    tg_uop *u = x->src[i];
    if (cg_list_push(u->op == TG_OP_RANGE && cg_range_type(u) == CG_AX_GROUP_REDUCE ? &gfr : &rest, u)) goto fail;
  }
  if (!gfr.n) goto none;
  if (cg_toposort(x, &topo)) goto fail;
  for (size_t i = 0; i < topo.n; i++)
    if (topo.v[i]->op == TG_OP_RANGE && cg_range_type(topo.v[i]) == CG_AX_LOCAL && cg_list_push(&locals, topo.v[i])) goto fail;
  tg_uop **s = malloc((x->nsrc + locals.n + gfr.n + 1) * sizeof *s);
  if (!s) goto fail;
  s[0] = x->src[0];
  for (size_t i = 0; i < rest.n; i++) s[1 + i] = rest.v[i];
  tg_uop *inner = cg_pool_add(&pool, cg_with_src(x, s, 1 + rest.n));
  for (size_t i = 0; i < gfr.n && inner; i++) {
    int64_t ax = cg_range_axis(gfr.v[i]) + 100;
    tg_uop *l = cg_pool_add(&pool, cg_range(gfr.v[i]->src[0], &ax, 1, CG_AX_REDUCE, gfr.v[i]->dtype));
    if (!l || cg_list_push(&loops, l)) { inner = NULL; break; }
  }
  if (!inner) { free(s); goto fail; }
  /* ret.bufferize(*locals, *gfr, arg=BufferizeOpts(gfr[0].arg[0], AddrSpace.LOCAL)).index(*locals, *loops) */
  s[0] = inner;
  size_t n = 1;
  for (size_t i = 0; i < locals.n; i++) s[n++] = locals.v[i];
  for (size_t i = 0; i < gfr.n; i++) s[n++] = gfr.v[i];
  tg_arg it[4] = {tg_arg_str("BufferizeOpts"), tg_arg_int(cg_range_axis(gfr.v[0])), cg_addrspace_arg(CG_AS_LOCAL), tg_arg_bool(1)};
  tg_uop *stage = cg_pool_add(&pool, tg_uop_new(TG_OP_STAGE, inner->dtype, s, n, tg_arg_tuple(it, 4)));
  n = 0;
  for (size_t i = 0; i < locals.n; i++) s[n++] = locals.v[i];
  for (size_t i = 0; i < loops.n; i++) s[n++] = loops.v[i];
  tg_uop *buf = stage ? cg_pool_add(&pool, cg_index(stage, s, n)) : NULL;
  free(s);
  if (!buf) goto fail;
  ret = reduce_new(buf, loops.v, loops.n, reduce_op(x)->i, 0);
  if (!ret) goto fail;
none:
  cg_list_free(&gfr), cg_list_free(&rest), cg_list_free(&locals), cg_list_free(&topo), cg_list_free(&loops), cg_pool_free(&pool);
  return ret;
fail:
  cg_list_free(&gfr), cg_list_free(&rest), cg_list_free(&locals), cg_list_free(&topo), cg_list_free(&loops), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *identity_const(int64_t op, int dt) {
  tg_num v = op == TG_OP_ADD ? tg_num_i(0) : op == TG_OP_MUL ? tg_num_i(1) : tg_num_dtype_bound(dt, 0), c;
  if (tg_num_dtype_const(dt, v, &c)) return NULL;
  return tg_um_const(TG_DT_AUTO, c);
}

static tg_uop *reduce_to_acc(tg_rw *rw, tg_uop *r) {
  int *acc_num = rw->ctx;
  cg_pool pool = {0};
  cg_list topo = {0}, ended = {0}, inputs = {0};
  tg_status st = TG_OK;
  const tg_shape *sh = tg_uop_shape(r, &st);
  if (!sh) goto fail;
  int64_t shape[64];
  for (uint32_t i = 0; i < sh->ndim && i < 64; i++) shape[i] = sh->dims[i].u ? cg_vmax_i(sh->dims[i].u) : sh->dims[i].v;
  tg_uop *acc = K(cg_placeholder(shape, sh->ndim, r->dtype, (*acc_num)++, CG_AS_REG));
  if (cg_toposort(r->src[0], &topo)) goto fail;
  for (size_t i = 0; i < topo.n; i++)
    if (topo.v[i]->op == TG_OP_END && cg_ended_ranges(topo.v[i], &ended)) goto fail;
  for (size_t i = 0; i < topo.n; i++) {
    tg_uop *x = topo.v[i];
    if (x->op != TG_OP_RANGE || cg_list_has(&ended, x)) continue;
    int in_red = 0;
    for (size_t k = 1; k < r->nsrc; k++) in_red |= r->src[k] == x;
    if (!in_red && cg_list_push(&inputs, x)) goto fail;
  }
  const tg_arg *op = reduce_op(r);
  tg_uop *ident = K(identity_const(op->i, r->dtype));
  tg_uop *init_at = K(cg_after(acc, inputs.v, inputs.n));
  tg_uop *acc_init = K(cg_store(init_at, ident));
  tg_uop **s = malloc(r->nsrc * sizeof *s);
  if (!s) goto fail;
  s[0] = acc_init;
  for (size_t k = 1; k < r->nsrc; k++) s[k] = r->src[k];
  tg_uop *acc_initted = cg_pool_add(&pool, cg_after(acc, s, r->nsrc));
  free(s);
  if (!acc_initted) goto fail;
  tg_uop *inp = reduce_axes(r) ? K(reduce_new(r->src[0], NULL, 0, op->i, reduce_axes(r))) : r->src[0];
  tg_uop *upd = K(tg_um_alu((tg_op)op->i, (tg_uop *[]){acc_initted, inp}, 2));
  tg_uop *stv = K(cg_store(acc_initted, upd));
  tg_uop *end = K(cg_end(stv, r->src + 1, r->nsrc - 1));
  tg_uop *tagged = K(cg_with_tag(end, tg_arg_str("mergeable")));
  tg_uop *ret = cg_after(acc, &tagged, 1);
  cg_pool_free(&pool), cg_list_free(&topo), cg_list_free(&ended), cg_list_free(&inputs);
  return cg_ok(rw, ret);
fail:
  cg_pool_free(&pool), cg_list_free(&topo), cg_list_free(&ended), cg_list_free(&inputs);
  return tg_rw_fail(rw);
}

static tg_uop *horizontal_reduce(tg_rw *rw, tg_uop *r) {
  tg_uop *inp = r->src[0];
  int64_t nax = reduce_axes(r), dims[64], idx[64], total = 1;
  for (int64_t a = 0; a < nax; a++) total *= (dims[a] = cg_shape_dim(inp, (int)a)), idx[a] = 0;
  cg_pool pool = {0};
  tg_uop *acc = NULL;
  for (int64_t t = 0; t < total; t++) {
    tg_uop *ix[64];
    for (int64_t a = 0; a < nax; a++) ix[a] = K(cg_cint(idx[a]));
    tg_uop *v = K(cg_index(inp, ix, (size_t)nax));
    acc = acc ? K(tg_um_alu((tg_op)reduce_op(r)->i, (tg_uop *[]){acc, v}, 2)) : v;
    for (int64_t a = nax - 1; a >= 0; a--) { /* itertools.product: last index fastest */
      if (++idx[a] < dims[a]) break;
      idx[a] = 0;
    }
  }
  if (!acc) goto fail;
  tg_uop *ret = tg_uop_retain(acc);
  cg_pool_free(&pool);
  return ret;
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static int is_mergeable(tg_uop *u) { return u->op == TG_OP_END && u->tag.kind == TG_ARG_STR && !strcmp(u->tag.s, "mergeable"); }

static int same_srcs_tail(tg_uop *a, tg_uop *b) {
  if (a->nsrc != b->nsrc) return 0;
  for (size_t i = 1; i < a->nsrc; i++)
    if (a->src[i] != b->src[i]) return 0;
  return 1;
}
static int same_set(const cg_list *a, const cg_list *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (!cg_list_has(b, a->v[i])) return 0;
  return 1;
}

static tg_uop *merge_reduce_ends(tg_rw *rw, tg_uop *sink) {
  cg_list topo = {0}, ends = {0}, keys = {0}, vals = {0}, done = {0};
  cg_pool pool = {0};
  tg_uop *ret = NULL;
  if (cg_toposort(sink, &topo)) goto fail;
  int64_t next_axis = 0;
  for (size_t i = 0; i < topo.n; i++) {
    tg_uop *u = topo.v[i];
    if (u == sink) continue;
    if (u->op == TG_OP_RANGE && cg_range_axis(u) + 1 > next_axis) next_axis = cg_range_axis(u) + 1;
    if (is_mergeable(u) && cg_list_push(&ends, u)) goto fail;
  }
  for (size_t i = 0; i < ends.n; i++) {
    tg_uop *e0 = ends.v[i];
    if (cg_list_has(&done, e0)) continue;
    cg_list grp = {0};
    for (size_t k = i; k < ends.n; k++)
      if (same_srcs_tail(ends.v[k], e0) && (cg_list_push(&grp, ends.v[k]) || cg_list_push(&done, ends.v[k]))) { cg_list_free(&grp); goto fail; }
    if (grp.n <= 1) { cg_list_free(&grp); continue; }
    /* by the set of ranges each END is in */
    cg_list seen = {0};
    int ctx_i = 0;
    for (size_t a = 0; a < grp.n; a++) {
      if (cg_list_has(&seen, grp.v[a])) continue;
      const cg_list *ra = cg_ranges(grp.v[a]);
      cg_list sub = {0};
      int err = !ra;
      for (size_t b = a; b < grp.n && !err; b++) {
        const cg_list *rb = cg_ranges(grp.v[b]);
        if (!rb) { err = 1; break; }
        if (same_set(ra, rb)) err = cg_list_push(&sub, grp.v[b]) || cg_list_push(&seen, grp.v[b]);
      }
      size_t nr = e0->nsrc - 1;
      tg_uop *tr[64];
      for (size_t j = 0; j < nr && !err; j++) {
        tg_uop *rr = e0->src[j + 1];
        if (ctx_i == 0) { tr[j] = rr; continue; }
        tg_arg items[10];
        uint32_t n = rr->arg.n;
        for (uint32_t q = 0; q < n && q < 10; q++) items[q] = rr->arg.items[q];
        items[0] = tg_arg_int(next_axis + (int64_t)j);
        tg_arg na = tg_arg_tuple(items, n);
        if (!(tr[j] = cg_pool_add(&pool, tg_uop_replace(rr, (tg_op)rr->op, rr->dtype, rr->src, rr->nsrc, &na, NULL)))) err = 1;
      }
      if (ctx_i > 0) next_axis += (int64_t)nr;
      tg_uop *merged = NULL;
      tg_uop **mapped = err ? NULL : malloc(sub.n * sizeof *mapped);
      if (!err && !mapped) err = 1;
      for (size_t b = 0; b < sub.n && !err; b++) {
        mapped[b] = ctx_i > 0 ? cg_pool_add(&pool, tg_uop_substitute(sub.v[b], e0->src + 1, tr, nr)) : sub.v[b];
        err = !mapped[b];
      }
      if (!err) {
        if (sub.n == 1) merged = mapped[0];
        else {
          tg_uop **s0 = malloc(sub.n * sizeof *s0);
          if (!s0) err = 1;
          else {
            for (size_t b = 0; b < sub.n; b++) s0[b] = mapped[b]->src[0];
            tg_uop *g = cg_pool_add(&pool, cg_group(s0, sub.n));
            merged = g ? cg_pool_add(&pool, cg_end(g, tr, nr)) : NULL;
            err = !merged;
            free(s0);
          }
        }
      }
      for (size_t b = 0; b < sub.n && !err; b++) err = cg_list_push(&keys, sub.v[b]) || cg_list_push(&vals, merged);
      free(mapped);
      cg_list_free(&sub);
      ctx_i++;
      if (err) { cg_list_free(&seen); cg_list_free(&grp); goto fail; }
    }
    cg_list_free(&seen);
    cg_list_free(&grp);
  }
  if (keys.n) {
    int any = 0;
    for (size_t i = 0; i < keys.n; i++) any |= keys.v[i] != vals.v[i];
    if (any && !(ret = tg_uop_substitute(sink, keys.v, vals.v, keys.n))) goto fail;
  }
  cg_list_free(&topo), cg_list_free(&ends), cg_list_free(&keys), cg_list_free(&vals), cg_list_free(&done), cg_pool_free(&pool);
  return ret;
fail:
  cg_list_free(&topo), cg_list_free(&ends), cg_list_free(&keys), cg_list_free(&vals), cg_list_free(&done), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

#include "codegen/expander_rules.inc"

static tg_pm *g_exp, *g_red;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void init(void) {
  const tg_pm *e[] = {tg_pm_cg_expander_rules(), cg_pm_flatten_range(), tg_pm_mop_cleanup()};
  g_exp = tg_pm_concat(e, 3);
  const tg_pm *r[] = {tg_pm_mop_cleanup(), tg_pm_cg_wmma_add(), tg_pm_cg_reduce_local_rules(), tg_pm_cg_clean_up_group_sink()};
  g_red = tg_pm_concat(r, 4);
}
const tg_pm *cg_pm_expander(void) {
  pthread_once(&g_once, init);
  return g_exp;
}
/* mop_cleanup + pm_reduce_local (pm_wmma_add + its rules + pm_clean_up_group_sink) */
const tg_pm *cg_pm_reduce_local(void) {
  pthread_once(&g_once, init);
  return g_red;
}
