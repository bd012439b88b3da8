/* codegen/gpudims.c -- tinygrad 0.14.0's codegen/gpudims.py: GLOBAL/THREAD/LOCAL ranges become launch indices. On a
** has_threads device (the CPU) the one THREAD range becomes the `core_id` variable the kernel reads from gid[0]; on a
** GPU the ranges become SPECIALs (gidx/lidx), grouped or split to fit global_max/local_max. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "uop/symbolic.h"

static int is_global(int t) { return t == CG_AX_GLOBAL || t == CG_AX_THREAD; }
static int is_local(int t) { return t == CG_AX_WARP || t == CG_AX_LOCAL || t == CG_AX_GROUP_REDUCE; }

/* sorted range keys (arg[0:-1]) of one class, deduped by key; the last RANGE with a key wins (a dict) */
static int collect(cg_list *topo, int (*cls)(int), cg_list *out) {
  for (size_t i = 0; i < topo->n; i++) {
    tg_uop *x = topo->v[i];
    if (x->op != TG_OP_RANGE) continue;
    long at = -1;
    for (size_t k = 0; k < out->n; k++)
      if (!cg_range_arg_cmp(out->v[k], x)) at = (long)k;
    if (at >= 0) { out->v[at] = x; continue; }
    if (cls(cg_range_type(x)) && cg_list_push(out, x)) return -1;
  }
  for (size_t i = 1; i < out->n; i++)
    for (size_t j = i; j > 0 && cg_range_arg_cmp(out->v[j], out->v[j - 1]) < 0; j--) {
      tg_uop *t = out->v[j]; out->v[j] = out->v[j - 1]; out->v[j - 1] = t;
    }
  return 0;
}

/* _group_dims: merge neighbours until the dims fit max_sizes; 0 when they cannot */
static int group_dims(int64_t *d, int *n, const int64_t *mx, int nmax) {
  for (;;) {
    int fits = *n <= nmax;
    for (int i = 0; i < *n && i < nmax && fits; i++) fits = d[i] <= mx[i];
    if (fits) return 1;
    int done = 0;
    for (int i = 0; i < nmax && !done; i++)
      if (i < *n - 1 && d[i] * d[i + 1] <= mx[i]) {
        d[i] *= d[i + 1];
        for (int k = i + 1; k + 1 < *n; k++) d[k] = d[k + 1];
        (*n)--, done = 1;
      }
    if (!done) return 0;
  }
}

/* _split_dims: move factors of a dim that is too large into the next one */
static int split_dims(int64_t *d, int *n, const int64_t *mx) {
  int fits = 1;
  for (int i = 0; i < *n && i < 3; i++) fits &= d[i] <= mx[i];
  if (fits) return 1;
  for (int i = *n; i < 3; i++) d[i] = 1;
  for (int i = 0; i < 3; i++)
    while (d[i] > mx[i]) {
      int64_t div = 1;
      for (int64_t q = 2; q * q <= d[i] || q == 2; q++)
        if (d[i] % q == 0) { div = q; break; }
      if (div == 1 || d[i] < 2) return 0;
      d[i] /= div, d[(i + 1) % 3] *= div;
    }
  *n = d[2] == 1 ? 2 : 3;
  return 1;
}

/* get_grouped_dims(prefix, dims, max_sizes, reverse): the index expressions (new references) for each of n dims */
static int grouped_dims(const char *prefix, const int64_t *dims_in, int n, const int64_t *mx, int reverse, tg_uop **out) {
  int64_t dims[8], lim[8];
  for (int i = 0; i < n; i++) dims[i] = dims_in[reverse ? n - 1 - i : i];
  int nl = n;
  memcpy(lim, dims, sizeof(int64_t) * (size_t)n);
  if (mx) {
    int same = 1;
    if (group_dims(lim, &nl, mx, 3)) same = nl == n && !memcmp(lim, dims, sizeof(int64_t) * (size_t)n);
    else nl = n, memcpy(lim, dims, sizeof(int64_t) * (size_t)n);
    if (nl > 3) { cg_err(TG_ERR_UNSUPPORTED, "codegen: cannot limit %d launch dims to 3", n); return -1; }
    if (same && !split_dims(lim, &nl, mx)) {
      cg_err(TG_ERR_UNSUPPORTED, "codegen: cannot limit launch dims (%lld, ...) to the device's (%lld, %lld, %lld)", (long long)dims[0],
             (long long)mx[0], (long long)mx[1], (long long)mx[2]);
      return -1;
    }
  }
  cg_pool pool = {0};
  tg_uop *raw[3], *flat = NULL;
  for (int i = 0; i < nl; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "%s%d", prefix, i);
    tg_uop *end = K(tg_um_const(TG_WEAKINT, tg_num_i(lim[i])));
    raw[i] = K(tg_uop_new(TG_OP_SPECIAL, TG_DT_AUTO, &end, 1, tg_arg_str(nm)));
    int64_t p = 1;
    for (int k = i + 1; k < nl; k++) p *= lim[k];
    tg_uop *t = p == 1 ? raw[i] : K(tg_um_binop(TG_OP_MUL, raw[i], K(tg_um_const(TG_WEAKINT, tg_num_i(p)))));
    flat = flat ? K(tg_um_binop(TG_OP_ADD, flat, t)) : t;
  }
  for (int i = 0; i < n; i++) {
    int64_t p = 1;
    for (int k = i + 1; k < n; k++) p *= dims[k];
    tg_uop *e = p == 1 ? flat : K(tg_um_floordiv(flat, K(tg_um_const(TG_WEAKINT, tg_num_i(p)))));
    if (i) e = K(tg_um_mod(e, K(tg_um_const(TG_WEAKINT, tg_num_i(dims[i])))));
    tg_uop *r = tg_uop_simplify(e);
    if (!r) goto fail;
    out[reverse ? n - 1 - i : i] = r;
  }
  cg_pool_free(&pool);
  return 0;
fail:
  cg_pool_free(&pool);
  return -1;
}

static int const_sizes(cg_list *rs, int64_t *out) {
  for (size_t i = 0; i < rs->n; i++) {
    tg_uop *e = tg_uop_simplify(rs->v[i]->src[0]);
    if (!e) return -1;
    out[i] = cg_cval(e, -1);
    tg_uop_release(e);
    if (out[i] < 1) { cg_err(TG_ERR_UNSUPPORTED, "codegen: a symbolic launch dimension"); return -1; }
  }
  return 0;
}

static int has_range(tg_uop *x, tg_uop *r) {
  const cg_list *rs = cg_ranges(x);
  return rs ? cg_list_has((cg_list *)rs, r) : -1;
}

static tg_uop *add_gpudims(tg_rw *rw, tg_uop *s) {
  const cg_ren *ren = rw->ctx;
  if (s->arg.kind == TG_ARG_NONE) return NULL;
  cg_list topo = {0}, g = {0}, l = {0}, keys = {0}, vals = {0};
  cg_pool pool = {0};
  tg_uop *ret = NULL, *idxs[16] = {0};
  int nidx = 0;
  if (cg_toposort(s, &topo)) goto fail;
  for (size_t i = 0; i < topo.n; i++)
    if (topo.v[i]->op == TG_OP_SPECIAL) goto none;
  if (collect(&topo, is_global, &g) || collect(&topo, is_local, &l)) goto fail;
  if (!g.n && !l.n) goto none;
  if (g.n > 8 || l.n > 8) { cg_err(TG_ERR_UNSUPPORTED, "codegen: more than 8 global or local dims"); goto fail; }
  if (ren->has_threads) {
    tg_uop *end = K(tg_uop_simplify(g.v[0]->src[0]));
    int64_t n = cg_cval(end, -1);
    if (n < 1) { cg_err(TG_ERR_UNSUPPORTED, "codegen: a symbolic THREAD range"); goto fail; }
    tg_uop *core = K(cg_variable("core_id", 0, n - 1, TG_INT32));
    idxs[nidx++] = tg_uop_retain(K(tg_um_cast(core, TG_WEAKINT)));
  } else {
    int64_t gs[8], ls[8], gmax[3], lmax[3];
    if (const_sizes(&g, gs) || const_sizes(&l, ls)) goto fail;
    for (int d = 0; d < 3; d++) gmax[d] = ren->global_max[d], lmax[d] = ren->local_max[d];
    const tg_arg *dul = cg_is_kernel_info(&s->arg) ? cg_tuple_item(&s->arg, 3) : NULL; /* KernelInfo.dont_use_locals */
    if (dul && (dul->kind == TG_ARG_BOOL || dul->kind == TG_ARG_INT) && dul->i) {
      if (l.n) { cg_err(TG_ERR_INTERNAL, "codegen: can't use locals if there's no local dims"); goto fail; }
      if (grouped_dims("idx", gs, (int)g.n, gmax, 1, idxs)) goto fail;
      nidx = (int)g.n;
    } else {
      if (grouped_dims("gidx", gs, (int)g.n, gmax, 1, idxs)) goto fail;
      if (l.n && grouped_dims("lidx", ls, (int)l.n, lmax, 0, idxs + g.n)) goto fail;
      nidx = (int)(g.n + l.n);
    }
  }
  for (size_t i = 0; i < topo.n; i++) {
    tg_uop *r = topo.v[i];
    /* local ranges the global STORE does not index: store only from local index 0 */
    if (r->op == TG_OP_STORE && r->src[0]->op == TG_OP_INDEX && l.n && cg_addrspace(r->src[0]->src[0]) == CG_AS_GLOBAL) {
      tg_uop *idx = r->src[0], *mask = NULL;
      for (size_t k = 0; k < l.n; k++) {
        int h = has_range(idx, l.v[k]);
        if (h < 0) goto fail;
        if (h) continue;
        tg_uop *z = K(tg_um_eq(l.v[k], K(tg_um_const(l.v[k]->dtype, tg_num_i(0)))));
        mask = mask ? K(tg_um_binop(TG_OP_AND, mask, z)) : z;
      }
      if (mask) {
        if (idx->nsrc != 2) { cg_err(TG_ERR_INTERNAL, "codegen: index has %u sources, not 2", idx->nsrc); goto fail; }
        tg_uop *ns[2] = {idx->src[0], K(cg_valid(idx->src[1], mask))};
        if (cg_list_push(&keys, idx) || cg_list_push(&vals, K(cg_with_src(idx, ns, 2)))) goto fail;
      }
    }
    if (r->op != TG_OP_RANGE) continue;
    long ii = -1;
    for (size_t k = 0; k < g.n + l.n && ii < 0; k++)
      if (!cg_range_arg_cmp(k < g.n ? g.v[k] : l.v[k - g.n], r)) ii = (long)k;
    if (ii < 0 || ii >= nidx) continue;
    const tg_arg *a1 = cg_tuple_item(&r->arg, 1);
    if (a1 && a1->kind == TG_ARG_ENUM && a1->i == CG_AX_REDUCE) continue;
    if (cg_list_push(&keys, r) || cg_list_push(&vals, idxs[ii])) goto fail;
  }
  ret = tg_uop_substitute(s, keys.v, vals.v, keys.n);
  if (!ret) goto fail;
none:
  for (int i = 0; i < nidx; i++) tg_uop_release(idxs[i]);
  cg_list_free(&topo), cg_list_free(&g), cg_list_free(&l), cg_list_free(&keys), cg_list_free(&vals), cg_pool_free(&pool);
  return ret;
fail:
  for (int i = 0; i < nidx; i++) tg_uop_release(idxs[i]);
  cg_list_free(&topo), cg_list_free(&g), cg_list_free(&l), cg_list_free(&keys), cg_list_free(&vals), cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *gpudims_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) { (void)root; return add_gpudims(rw, b[0]); }
static tg_uop *device_range(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  if (cg_range_type(b[0]) != CG_AX_DEVICE) return NULL;
  cg_err(TG_ERR_UNSUPPORTED, "codegen: DEVICE ranges (multi-device kernels) are not ported");
  return tg_rw_fail(rw);
}
static const tg_upat sink_pat = {.ops = {{1ull << TG_OP_SINK, 0}}, .has_ops = 1, .slot = 0};
static const tg_upat range_pat = {.ops = {{1ull << TG_OP_RANGE, 0}}, .has_ops = 1, .slot = 0};
static const tg_rule rules[] = {{&sink_pat, gpudims_rule, "gpudims.py add_gpudims"}, {&range_pat, device_range, "gpudims.py pm_device_to_var"}};
static tg_pm *g_pm;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void init(void) { g_pm = tg_pm_new(rules, 2); }
const tg_pm *cg_pm_add_gpudims(void) {
  pthread_once(&g_once, init);
  return g_pm;
}
