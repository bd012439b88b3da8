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

static tg_uop *add_gpudims(tg_rw *rw, tg_uop *s) {
  const cg_ren *ren = rw->ctx;
  if (s->arg.kind == TG_ARG_NONE) return NULL;
  cg_list topo = {0}, g = {0}, l = {0}, keys = {0}, vals = {0};
  cg_pool pool = {0};
  tg_uop *ret = NULL;
  if (cg_toposort(s, &topo)) goto fail;
  for (size_t i = 0; i < topo.n; i++)
    if (topo.v[i]->op == TG_OP_SPECIAL) goto none;
  if (collect(&topo, is_global, &g) || collect(&topo, is_local, &l)) goto fail;
  if (!g.n && !l.n) goto none;
  if (!ren->has_threads || l.n) {
    cg_err(TG_ERR_UNSUPPORTED, "codegen: GPU launch dims (get_grouped_dims) are not ported yet; only has_threads devices");
    goto fail;
  }
  tg_uop *end = K(tg_uop_simplify(g.v[0]->src[0]));
  int64_t n = cg_cval(end, -1);
  if (n < 1) { cg_err(TG_ERR_UNSUPPORTED, "codegen: a symbolic THREAD range"); goto fail; }
  tg_uop *core = K(cg_variable("core_id", 0, n - 1, TG_INT32));
  tg_uop *idx0 = K(tg_um_cast(core, TG_WEAKINT));
  for (size_t i = 0; i < topo.n; i++) {
    tg_uop *r = topo.v[i];
    if (r->op != TG_OP_RANGE) continue;
    long ii = -1;
    for (size_t k = 0; k < g.n; k++)
      if (!cg_range_arg_cmp(g.v[k], r)) ii = (long)k;
    if (ii < 0) continue;
    const tg_arg *a1 = cg_tuple_item(&r->arg, 1);
    if (a1 && a1->kind == TG_ARG_ENUM && a1->i == CG_AX_REDUCE) continue;
    if (ii == 0 && (cg_list_push(&keys, r) || cg_list_push(&vals, idx0))) goto fail;
    if (ii > 0) { tg_err(TG_ERR_INTERNAL, "codegen: more than one THREAD range"); goto fail; }
  }
  ret = tg_uop_substitute(s, keys.v, vals.v, keys.n);
  if (!ret) goto fail;
none:
  cg_list_free(&topo), cg_list_free(&g), cg_list_free(&l), cg_list_free(&keys), cg_list_free(&vals), cg_pool_free(&pool);
  return ret;
fail:
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
