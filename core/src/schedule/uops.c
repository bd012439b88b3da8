/* schedule/uops.c -- the UOp methods of tinygrad 0.14.0 (uop/ops.py, mixin/movement.py, mixin/reduce.py) that the
** scheduler calls and uop/ does not provide yet: ranges/ended_ranges, device, addrspace, buf_uop, marg, the movement
** builders with their no-op early-outs, _rop, substitute with an extra matcher, and a reference pool.
**
** Derived properties tinygrad caches on the UOp (recursive_property) are cached here per schedule session, in
** thread-local maps that retain their keys (an address cannot be reused while it is a key). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "schedule/internal.h"
#include "tgc_internal.h"
#include "uop/symbolic.h"

/* ================ errors ================ */

#undef tg_err
static __thread tg_status last_code;
tg_status tgs_err(tg_status code, const char *fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (last_code == TG_OK) last_code = code;
  return tg_err(code, "%s", msg);
}
/* The first scheduler error since tgs_clear_status, else the status of an error the core raised meanwhile (a const
** fold's "cannot convert float infinity to integer" is the user's, not an internal error), else internal. */
tg_status tgs_last_status(void) { return last_code != TG_OK ? last_code : tg_err_code() != TG_OK ? tg_err_code() : TG_ERR_INTERNAL; }
void tgs_clear_status(void) { last_code = TG_OK, tg_err_code_clear(); }
#define tg_err tgs_err

/* ================ pool ================ */

tg_uop *tgs_hold(tgs_pool *P, tg_uop *u) {
  if (!u) return NULL;
  if (P->n == P->cap) {
    size_t nc = P->cap ? P->cap * 2 : 64;
    tg_uop **nv = realloc(P->v, nc * sizeof *nv);
    if (!nv) return tg_uop_release(u), tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in the scheduler"), NULL;
    P->v = nv, P->cap = nc;
  }
  return P->v[P->n++] = u;
}

void tgs_pool_free(tgs_pool *P) {
  for (size_t i = P->n; i-- > 0;) tg_uop_release(P->v[i]);
  free(P->v);
  P->v = NULL, P->n = P->cap = 0;
}

/* ================ session caches ================ */

typedef struct rlist { size_t n; tg_uop *r[]; } rlist;
typedef struct session {
  int depth;
  tg_ptrset ranges, device, addrspace; /* values: rlist*, const char* (or &none_dev), addrspace+1 */
  tgs_pool keys;                       /* every key of the three maps, retained */
} session;
static __thread session S;
static const char none_dev[] = "";
static const rlist empty_rlist = {0};

int tgs_session_begin(void) {
  if (S.depth++) return 0;
  if (!tg_ptrset_init(&S.ranges, 32) || !tg_ptrset_init(&S.device, 32) || !tg_ptrset_init(&S.addrspace, 32)) { /* they grow */
    tg_ptrset_free(&S.ranges), tg_ptrset_free(&S.device), tg_ptrset_free(&S.addrspace);
    S.depth = 0;
    return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory starting a schedule"), -1;
  }
  return 0;
}

void tgs_session_end(void) {
  if (S.depth <= 0 || --S.depth) return;
  for (size_t i = 0; i < S.ranges.cap; i++)
    if (S.ranges.keys[i] && (const rlist *)(uintptr_t)S.ranges.vals[i] != &empty_rlist) free((void *)(uintptr_t)S.ranges.vals[i]);
  tg_ptrset_free(&S.ranges), tg_ptrset_free(&S.device), tg_ptrset_free(&S.addrspace);
  tgs_pool_free(&S.keys);
}

/* caches a value for u, retaining u the first time it becomes a key of any map */
static int cache_put(tg_ptrset *m, tg_uop *u, uint64_t v) {
  int known = tg_ptrset_get(&S.ranges, u) || tg_ptrset_get(&S.device, u) || tg_ptrset_get(&S.addrspace, u);
  uint64_t *slot = tg_ptrset_put(m, u, v);
  if (!slot) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory caching a property"), -1;
  *slot = v;
  if (!known && !tgs_hold(&S.keys, tg_uop_retain(u))) return -1;
  return 0;
}

/* ================ args ================ */

static const char *const axis_names[] = {NULL, "AxisType.DEVICE", "AxisType.GLOBAL", "AxisType.WARP", "AxisType.LOCAL",
                                         "AxisType.WEAK", "AxisType.GROUP_REDUCE", "AxisType.REDUCE", "AxisType.UPCAST",
                                         "AxisType.UNROLL", "AxisType.THREAD", "AxisType.PLACEHOLDER", "AxisType.LOOP"};
static const char *const addrspace_names[] = {NULL, "AddrSpace.GLOBAL", "AddrSpace.LOCAL", "AddrSpace.REG", "AddrSpace.ALU"};

static tg_arg enum_arg(const char *s, int v) {
  tg_arg a = {0};
  a.kind = TG_ARG_ENUM, a.i = v, a.s = s;
  return a;
}
tg_arg tgs_axis_arg(int ax) { return enum_arg(axis_names[ax], ax); }
tg_arg tgs_addrspace_arg(int as) { return enum_arg(addrspace_names[as], as); }

tg_arg tgs_paramarg(tg_arg *it, int64_t slot, int dtype, const char *device, int addrspace) {
  for (int i = 0; i < TG_PARAMARG_COUNT; i++) it[i] = tg_arg_none();
  it[0] = tg_arg_str("ParamArg");
  it[TG_PARAMARG_SLOT] = tg_arg_int(slot);
  it[TG_PARAMARG_DTYPE] = tg_arg_dtype(dtype);
  it[TG_PARAMARG_ADDRSPACE] = addrspace ? tgs_addrspace_arg(addrspace) : tg_arg_none();
  it[TG_PARAMARG_DEVICE] = device ? tg_arg_str(device) : tg_arg_none();
  it[TG_PARAMARG_VOLATILE] = tg_arg_bool(0);
  return tg_arg_tuple(it, TG_PARAMARG_COUNT);
}

int tgs_is_dataclass(const tg_arg *a, const char *cls) {
  return a->kind == TG_ARG_TUPLE && a->n >= 1 && a->items[0].kind == TG_ARG_STR && a->items[0].s && !strcmp(a->items[0].s, cls);
}
int tgs_is_paramarg(const tg_arg *a) { return tgs_is_dataclass(a, "ParamArg") && a->n > TG_PARAMARG_DTYPE; }

static const tg_arg *pa_item(const tg_uop *u, int i) {
  return tgs_is_paramarg(&u->arg) && (uint32_t)i < u->arg.n ? &u->arg.items[i] : NULL;
}
int64_t tgs_pa_slot(const tg_uop *u) {
  const tg_arg *a = pa_item(u, TG_PARAMARG_SLOT);
  return a && a->kind == TG_ARG_INT ? a->i : -1;
}
const char *tgs_pa_device(const tg_uop *u) {
  const tg_arg *a = pa_item(u, TG_PARAMARG_DEVICE);
  return a && a->kind == TG_ARG_STR ? a->s : NULL;
}
int tgs_pa_addrspace(const tg_uop *u) {
  if (!tgs_is_paramarg(&u->arg)) return 0;
  const tg_arg *a = pa_item(u, TG_PARAMARG_ADDRSPACE);
  if (!a) return TGS_AS_GLOBAL; /* the dataclass default */
  return a->kind == TG_ARG_ENUM ? (int)a->i : 0;
}
int tgs_pa_has_name(const tg_uop *u) {
  const tg_arg *a = pa_item(u, TG_PARAMARG_NAME);
  return a && a->kind != TG_ARG_NONE;
}
int tgs_pa_has_vmin_vmax(const tg_uop *u) {
  const tg_arg *a = pa_item(u, TG_PARAMARG_VMIN_VMAX);
  return a && a->kind != TG_ARG_NONE;
}

int64_t tgs_range_id(const tg_uop *r) { return r->arg.kind == TG_ARG_TUPLE && r->arg.n ? r->arg.items[0].i : 0; }
int tgs_range_axistype(const tg_uop *r) {
  return r->arg.kind == TG_ARG_TUPLE && r->arg.n ? (int)r->arg.items[r->arg.n - 1].i : 0;
}

/* BufferizeOpts(device, addrspace=GLOBAL, removable=True) */
tg_uop *tgs_stage(tgs_pool *P, tg_uop *const *src, size_t n, const char *device, int addrspace, int removable) {
  tg_arg it[4] = {tg_arg_str("BufferizeOpts"), device ? tg_arg_str(device) : tg_arg_none(), tgs_addrspace_arg(addrspace),
                  tg_arg_bool(removable)};
  return tgs_new(P, TG_OP_STAGE, src[0]->dtype, src, n, tg_arg_tuple(it, 4));
}
const char *tgs_stage_device(const tg_uop *b) {
  return b->arg.kind == TG_ARG_TUPLE && b->arg.n > 1 && b->arg.items[1].kind == TG_ARG_STR ? b->arg.items[1].s : NULL;
}
int tgs_stage_addrspace(const tg_uop *b) { return b->arg.kind == TG_ARG_TUPLE && b->arg.n > 2 ? (int)b->arg.items[2].i : TGS_AS_GLOBAL; }
int tgs_stage_removable(const tg_uop *b) { return b->arg.kind == TG_ARG_TUPLE && b->arg.n > 3 ? (int)b->arg.items[3].i : 1; }

/* ================ shapes ================ */

int64_t tgs_prod(const int64_t *d, size_t n) {
  int64_t p = 1;
  for (size_t i = 0; i < n; i++) p *= d[i];
  return p;
}

int tgs_shape(tg_uop *u, tgs_shp *s) {
  tg_status st = TG_OK;
  const tg_shape *sh = tg_uop_shape(u, &st);
  if (st != TG_OK) return -1;
  if (!sh) return s->n = 0, 0;
  if (sh->ndim > TGS_MAXD) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: more than %d dims", TGS_MAXD), -1;
  s->n = sh->ndim;
  for (uint32_t i = 0; i < sh->ndim; i++) {
    if (sh->dims[i].u) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: symbolic shapes are not supported yet"), -1;
    s->d[i] = sh->dims[i].v;
  }
  return 1;
}

int tgs_as_shape(tg_uop *u, int64_t *d, size_t *n) {
  if (u->op == TG_OP_CONST && u->arg.kind == TG_ARG_INT) return d[0] = u->arg.i, *n = 1, 0;
  if (u->op != TG_OP_STACK || u->nsrc > TGS_MAXD) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: symbolic shape argument"), -1;
  for (size_t i = 0; i < u->nsrc; i++) {
    if (u->src[i]->op != TG_OP_CONST || u->src[i]->arg.kind != TG_ARG_INT)
      return tg_err(TG_ERR_UNSUPPORTED, "scheduler: symbolic shape argument"), -1;
    d[i] = u->src[i]->arg.i;
  }
  *n = u->nsrc;
  return 0;
}

int tgs_marg(tg_uop *u, int64_t *a, int64_t *b, size_t *n) {
  switch (u->op) {
  case TG_OP_RESHAPE: case TG_OP_EXPAND: return tgs_as_shape(u->src[1], a, n);
  case TG_OP_PAD: case TG_OP_SHRINK: {
    size_t n2;
    if (tgs_as_shape(u->src[1], a, n) || tgs_as_shape(u->src[2], b, &n2)) return -1;
    return n2 == *n ? 0 : (tg_err(TG_ERR_INTERNAL, "marg: pad/shrink args differ in length"), -1);
  }
  case TG_OP_PERMUTE: case TG_OP_FLIP:
    if (u->arg.kind != TG_ARG_TUPLE || u->arg.n > TGS_MAXD) return tg_err(TG_ERR_INTERNAL, "marg: bad %s arg", tg_op_name((tg_op)u->op)), -1;
    for (uint32_t i = 0; i < u->arg.n; i++) a[i] = u->arg.items[i].i;
    *n = u->arg.n;
    return 0;
  }
  return tg_err(TG_ERR_INTERNAL, "%s is not a MovementOp", tg_op_name((tg_op)u->op)), -1;
}

/* ================ toposort ================ */

typedef struct { tg_uop *u; int visited; } tstack;

tg_uop **tgs_toposort(tg_uop *root, int (*gate)(tg_uop *, void *), void *ctx, int enter_calls, size_t *n) {
  tg_ptrset done;
  if (!tg_ptrset_init(&done, 256)) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in toposort"), NULL;
  size_t sn = 0, scap = 256, on = 0, ocap = 256;
  tstack *st = malloc(scap * sizeof *st);
  tg_uop **out = malloc(ocap * sizeof *out);
  int err = !st || !out;
  if (!err) st[sn++] = (tstack){root, 0};
  while (!err && sn) {
    tstack e = st[--sn];
    if (tg_ptrset_get(&done, e.u)) continue;
    if (!e.visited) {
      if (gate && !gate(e.u, ctx)) continue;
      size_t first = (!enter_calls && (e.u->op == TG_OP_CALL || e.u->op == TG_OP_FUNCTION)) ? 1 : 0;
      if (sn + 1 + e.u->nsrc > scap) {
        while (sn + 1 + e.u->nsrc > scap) scap *= 2;
        tstack *ns = realloc(st, scap * sizeof *st);
        if (!ns) { err = 1; break; }
        st = ns;
      }
      st[sn++] = (tstack){e.u, 1};
      for (size_t i = e.u->nsrc; i-- > first;) st[sn++] = (tstack){e.u->src[i], 0};
    } else {
      if (!tg_ptrset_put(&done, e.u, 1)) { err = 1; break; }
      if (on == ocap) {
        tg_uop **no = realloc(out, (ocap *= 2) * sizeof *out);
        if (!no) { err = 1; break; }
        out = no;
      }
      out[on++] = e.u;
    }
  }
  free(st);
  tg_ptrset_free(&done);
  if (err) return free(out), tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in toposort"), NULL;
  *n = on;
  return out;
}

int tgs_in_toposort(tg_uop *root, tg_uop *x, int enter_calls) {
  size_t n;
  tg_uop **t = tgs_toposort(root, NULL, NULL, enter_calls, &n);
  if (!t) return -1;
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) found = t[i] == x;
  free(t);
  return found;
}

/* ================ ranges ================ */

static int range_start(tg_op op) {
  switch (op) {
  case TG_OP_STAGE: case TG_OP_REDUCE: case TG_OP_END: case TG_OP_CALL: case TG_OP_FUNCTION: return 1;
  case TG_OP_WMMA: return 3;
  case TG_OP_LINEAR: return 0;
  default: return -1;
  }
}

/* ended_ranges, appended to a growing array */
static int ended_into(tg_uop *u, tg_uop ***v, size_t *n, size_t *cap) {
  int rs = range_start((tg_op)u->op);
  tg_uop *const *src = NULL;
  size_t k = 0;
  if (rs >= 0 && (size_t)rs <= u->nsrc) src = u->src + rs, k = u->nsrc - rs;
  else if (u->op == TG_OP_UNSHARD && u->nsrc) src = u->src + 1, k = u->nsrc - 1;
  else if (u->op == TG_OP_AFTER) {
    for (size_t i = 1; i < u->nsrc; i++)
      if (ended_into(u->src[i], v, n, cap)) return -1;
    return 0;
  }
  for (size_t i = 0; i < k; i++) {
    if (*n == *cap) {
      size_t nc = *cap ? *cap * 2 : 8;
      tg_uop **nv = realloc(*v, nc * sizeof *nv);
      if (!nv) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in ended_ranges"), -1;
      *v = nv, *cap = nc;
    }
    (*v)[(*n)++] = src[i];
  }
  return 0;
}

int tgs_ended_ranges(tg_uop *u, tg_uop ***out, size_t *n) {
  size_t cap = 0;
  *out = NULL, *n = 0;
  if (ended_into(u, out, n, &cap)) return free(*out), *out = NULL, -1;
  return 0;
}

static const rlist *ranges_get(tg_uop *u) {
  uint64_t *v = tg_ptrset_get(&S.ranges, u);
  return v ? (const rlist *)(uintptr_t)*v : NULL;
}

static int not_cached_ranges(tg_uop *u, void *ctx) { return (void)ctx, ranges_get(u) == NULL; }

/* an ordered set of UOps in a growing array */
typedef struct oset { tg_uop **v; size_t n, cap; } oset;
static int oset_has(const oset *s, tg_uop *u) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == u) return 1;
  return 0;
}
static int oset_add(oset *s, tg_uop *u) {
  if (oset_has(s, u)) return 0;
  if (s->n == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 16;
    tg_uop **nv = realloc(s->v, nc * sizeof *nv);
    if (!nv) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in ranges"), -1;
    s->v = nv, s->cap = nc;
  }
  s->v[s->n++] = u;
  return 0;
}
static void oset_del(oset *s, tg_uop *u) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == u) {
      memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
      s->n--;
      return;
    }
}

static int compute_ranges(tg_uop *u) {
  oset s = {0};
  int err = 0;
  if (u->op == TG_OP_RANGE) err = oset_add(&s, u);
  for (size_t i = 0; i < u->nsrc && !err; i++) {
    const rlist *r = ranges_get(u->src[i]);
    for (size_t j = 0; r && j < r->n && !err; j++) err = oset_add(&s, r->r[j]);
  }
  tg_uop **ended = NULL;
  size_t ne = 0;
  if (!err) err = tgs_ended_ranges(u, &ended, &ne);
  for (size_t i = 0; i < ne && !err; i++) {
    if (ended[i]->op == TG_OP_RANGE) {
      oset_del(&s, ended[i]);
    } else {
      size_t k;
      tg_uop *const *er = tgs_ranges(ended[i], &k);
      if (!er && k) err = -1;
      for (size_t j = 0; j < k; j++) oset_del(&s, er[j]);
    }
  }
  free(ended);
  /* a RANGE's own entry comes first ({self:None} | self._ranges) and survives its own ended list */
  rlist *r = NULL;
  if (!err && s.n) {
    if (!(r = malloc(sizeof *r + s.n * sizeof(tg_uop *)))) err = tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in ranges");
    else r->n = s.n, memcpy(r->r, s.v, s.n * sizeof *s.v);
  }
  free(s.v);
  if (err) return -1;
  if (cache_put(&S.ranges, u, (uint64_t)(uintptr_t)(r ? r : &empty_rlist))) return free(r), -1;
  return 0;
}

tg_uop *const *tgs_ranges(tg_uop *u, size_t *n) {
  *n = 0;
  const rlist *r = ranges_get(u);
  if (!r) {
    if (S.depth <= 0) return tg_err(TG_ERR_INTERNAL, "tgs_ranges outside a schedule session"), NULL;
    size_t k;
    tg_uop **t = tgs_toposort(u, not_cached_ranges, NULL, 1, &k);
    if (!t) return NULL;
    for (size_t i = 0; i < k; i++)
      if (compute_ranges(t[i])) return free(t), NULL;
    free(t);
    r = ranges_get(u);
  }
  *n = r->n;
  return r->r;
}

int tgs_in_ranges(tg_uop *u, tg_uop *r) {
  size_t n;
  tg_uop *const *rs = tgs_ranges(u, &n);
  for (size_t i = 0; rs && i < n; i++)
    if (rs[i] == r) return 1;
  return 0;
}

/* ================ device, addrspace, buffer identity ================ */

static int not_cached_device(tg_uop *u, void *ctx) { return (void)ctx, tg_ptrset_get(&S.device, u) == NULL; }

static const char *device_of(tg_uop *u) {
  switch (u->op) {
  case TG_OP_PARAM: case TG_OP_BUFFER: return tgs_pa_device(u);
  case TG_OP_STAGE: return tgs_stage_device(u);
  case TG_OP_COPY: return u->arg.kind == TG_ARG_STR ? u->arg.s : NULL;
  case TG_OP_AFTER: return u->nsrc ? tgs_device(u->src[0]) : NULL;
  default:
    for (size_t i = 0; i < u->nsrc; i++) {
      const char *d = tgs_device(u->src[i]);
      if (d) return d;
    }
    return NULL;
  }
}

const char *tgs_device(tg_uop *u) {
  uint64_t *v = tg_ptrset_get(&S.device, u);
  if (!v) {
    if (S.depth <= 0) return device_of(u);
    size_t k;
    tg_uop **t = tgs_toposort(u, not_cached_device, NULL, 1, &k);
    if (!t) return NULL;
    for (size_t i = 0; i < k; i++) {
      const char *d = device_of(t[i]);
      if (cache_put(&S.device, t[i], (uint64_t)(uintptr_t)(d ? d : none_dev))) break;
    }
    free(t);
    if (!(v = tg_ptrset_get(&S.device, u))) return NULL;
  }
  const char *d = (const char *)(uintptr_t)*v;
  return d == none_dev ? NULL : d;
}

static int addrspace_of(tg_uop *u);
static int not_cached_addrspace(tg_uop *u, void *ctx) { return (void)ctx, tg_ptrset_get(&S.addrspace, u) == NULL; }

/* UOp.addrspace, a recursive property: computed sources first (no recursion on deep graphs) and cached */
int tgs_addrspace(tg_uop *u) {
  uint64_t *v = S.depth > 0 ? tg_ptrset_get(&S.addrspace, u) : NULL;
  if (v) return (int)*v - 1;
  if (S.depth <= 0) return addrspace_of(u);
  size_t k;
  tg_uop **t = tgs_toposort(u, not_cached_addrspace, NULL, 1, &k);
  for (size_t i = 0; t && i < k; i++)
    if (cache_put(&S.addrspace, t[i], (uint64_t)(addrspace_of(t[i]) + 1))) break;
  free(t);
  v = tg_ptrset_get(&S.addrspace, u);
  return v ? (int)*v - 1 : addrspace_of(u);
}

static int addrspace_of(tg_uop *u) {
  switch (u->op) {
  case TG_OP_PARAM: case TG_OP_BUFFER: return tgs_pa_addrspace(u);
  case TG_OP_SPECIAL: case TG_OP_RANGE: case TG_OP_LOAD: return TGS_AS_ALU;
  case TG_OP_INDEX: case TG_OP_CAST: case TG_OP_AFTER: case TG_OP_REDUCE: case TG_OP_STORE: case TG_OP_MSTACK:
  case TG_OP_MSELECT: case TG_OP_END: case TG_OP_UNSHARD:
    return u->nsrc ? tgs_addrspace(u->src[0]) : 0;
  default: break;
  }
  if (tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)u->op)) return tgs_addrspace(u->src[0]);
  if (u->op == TG_OP_STACK || u->op == TG_OP_WMMA || u->op == TG_OP_GROUP || tg_opset_has(TG_GROUP_ELEMENTWISE, (tg_op)u->op)) {
    int first = 0;
    for (size_t i = 0; i < u->nsrc; i++) {
      int a = tgs_addrspace(u->src[i]);
      if (!a) continue;
      if (first && a != first) return 0;
      first = a;
    }
    return first;
  }
  return 0;
}

tg_uop *tgs_base(tg_uop *u) {
  while ((tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)u->op) || u->op == TG_OP_DETACH) && u->nsrc) u = u->src[0];
  return u;
}

tg_uop *tgs_buf_uop(tg_uop *u) {
  if (u->op == TG_OP_BUFFER || u->op == TG_OP_PARAM) return u;
  tg_uop *b = tgs_base(u);
  if (b->op == TG_OP_AFTER) return tgs_base(tgs_buf_uop(b->src[0]));
  while (u->nsrc && u->op != TG_OP_BUFFER && u->op != TG_OP_PARAM && u->op != TG_OP_STAGE && u->op != TG_OP_MSTACK) u = u->src[0];
  return u;
}

int tgs_has_buffer_identity(tg_uop *u, int after_ok) {
  while (u->op == TG_OP_RESHAPE || u->op == TG_OP_UNSHARD || u->op == TG_OP_MSELECT || (after_ok && u->op == TG_OP_AFTER)) u = u->src[0];
  return u->op == TG_OP_BUFFER || u->op == TG_OP_PARAM;
}

int tgs_is_variable(tg_uop *u) {
  if (u->op != TG_OP_BUFFER || !tgs_is_paramarg(&u->arg) || !tgs_pa_has_vmin_vmax(u) || tgs_pa_addrspace(u) != TGS_AS_ALU) return 0;
  tgs_shp s;
  return tgs_shape(u, &s) == 1 && s.n == 0;
}

int tgs_is_bound_var(tg_uop *u) {
  return u->op == TG_OP_AFTER && u->nsrc == 2 && tgs_is_variable(u->src[0]) && u->src[1]->op == TG_OP_STORE &&
         u->src[1]->src[0] == u->src[0] && u->src[1]->src[1]->op == TG_OP_CONST;
}

/* ================ builders ================ */

tg_uop *tgs_new(tgs_pool *P, tg_op op, int dtype, tg_uop *const *src, size_t n, tg_arg arg) {
  return tgs_hold(P, tg_uop_new(op, dtype, src, n, arg));
}
tg_uop *tgs_ci(tgs_pool *P, int64_t v) { return tgs_hold(P, tg_uop_const_int(TG_WEAKINT, v)); }
tg_uop *tgs_cb(tgs_pool *P, int v) { return tgs_hold(P, tg_uop_const_bool(v)); }
tg_uop *tgs_cinvalid(tgs_pool *P) { return tgs_hold(P, tg_uop_const_invalid()); }
tg_uop *tgs_bin(tgs_pool *P, tg_op op, tg_uop *a, tg_uop *b) {
  if (!a || !b) return NULL;
  if (op == TG_OP_SUB) return tgs_hold(P, tg_um_sub(a, b));
  return tgs_hold(P, tg_um_binop(op, a, b));
}
tg_uop *tgs_bin_i(tgs_pool *P, tg_op op, tg_uop *a, int64_t b) { return a ? tgs_bin(P, op, a, tgs_hold(P, tg_um_ufix(tg_num_i(b)))) : NULL; }
tg_uop *tgs_sub(tgs_pool *P, tg_uop *a, tg_uop *b) { return a && b ? tgs_hold(P, tg_um_sub(a, b)) : NULL; }
tg_uop *tgs_floordiv_i(tgs_pool *P, tg_uop *a, int64_t b) {
  tg_uop *c = a ? tgs_hold(P, tg_um_ufix(tg_num_i(b))) : NULL;
  return c ? tgs_hold(P, tg_um_floordiv(a, c)) : NULL;
}
tg_uop *tgs_mod_i(tgs_pool *P, tg_uop *a, int64_t b) {
  tg_uop *c = a ? tgs_hold(P, tg_um_ufix(tg_num_i(b))) : NULL;
  return c ? tgs_hold(P, tg_um_mod(a, c)) : NULL;
}
tg_uop *tgs_where(tgs_pool *P, tg_uop *c, tg_uop *x, tg_uop *y) { return c && x && y ? tgs_hold(P, tg_um_where(c, x, y)) : NULL; }
tg_uop *tgs_not(tgs_pool *P, tg_uop *x) { return x ? tgs_hold(P, tg_um_logical_not(x)) : NULL; }
tg_uop *tgs_usum(tgs_pool *P, tg_uop *start, tg_uop *const *u, size_t n) {
  tg_uop *acc = start;
  for (size_t i = 0; i < n && acc; i++) acc = tgs_bin(P, start->dtype == TG_BOOL ? TG_OP_OR : TG_OP_ADD, acc, u[i]);
  return acc;
}
tg_uop *tgs_uprod(tgs_pool *P, tg_uop *start, tg_uop *const *u, size_t n) {
  tg_uop *acc = start;
  for (size_t i = 0; i < n && acc; i++) acc = tgs_bin(P, start->dtype == TG_BOOL ? TG_OP_AND : TG_OP_MUL, acc, u[i]);
  return acc;
}
tg_uop *tgs_valid(tgs_pool *P, tg_uop *x, tg_uop *cond) { return tgs_where(P, cond, x, tgs_cinvalid(P)); }
tg_uop *tgs_get_idx(tg_uop *x) {
  return x->op == TG_OP_WHERE && tg_uop_is_invalid(x->src[2]) ? x->src[1] : x;
}
tg_uop *tgs_get_valid(tgs_pool *P, tg_uop *x) {
  if (x->op == TG_OP_WHERE && tg_uop_is_invalid(x->src[2])) return x->src[0];
  return tgs_cb(P, !tg_uop_is_invalid(x));
}
tg_uop *tgs_cast(tgs_pool *P, tg_uop *x, int dtype) { return x ? tgs_hold(P, tg_um_cast(x, dtype)) : NULL; }

tg_uop *tgs_const_like(tgs_pool *P, tg_uop *x, tg_num v) {
  tg_uop *c = tgs_hold(P, tg_um_const(x->dtype, v));
  tgs_shp s;
  int r = tgs_shape(x, &s);
  if (!c || r < 0) return NULL;
  if (r == 0 || s.n == 0) return c;
  return tgs_mop(P, c, TG_OP_EXPAND, s.d, NULL, s.n);
}

tg_uop *tgs_index(tgs_pool *P, tg_uop *buf, tg_uop *const *idx, size_t n, const tg_arg *arg) {
  tg_uop *src[TGS_MAXD + 1];
  if (n > TGS_MAXD) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: INDEX with %zu indices", n), NULL;
  src[0] = buf;
  for (size_t i = 0; i < n; i++) src[i + 1] = idx[i];
  return tgs_new(P, TG_OP_INDEX, TG_DT_AUTO, src, n + 1, arg ? *arg : tg_arg_none());
}
tg_uop *tgs_store(tgs_pool *P, tg_uop *dst, tg_uop *val) { return tgs_new(P, TG_OP_STORE, TG_DT_VOID, (tg_uop *[]){dst, val}, 2, tg_arg_none()); }

static tg_uop *with_tail(tgs_pool *P, tg_op op, int dtype, tg_uop *x, tg_uop *const *r, size_t n, tg_arg arg) {
  tg_uop **src = malloc((n + 1) * sizeof *src);
  if (!src) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory"), NULL;
  src[0] = x;
  memcpy(src + 1, r, n * sizeof *r);
  tg_uop *u = tgs_new(P, op, dtype, src, n + 1, arg);
  free(src);
  return u;
}
tg_uop *tgs_end(tgs_pool *P, tg_uop *x, tg_uop *const *r, size_t n) { return n ? with_tail(P, TG_OP_END, TG_DT_VOID, x, r, n, tg_arg_none()) : x; }
tg_uop *tgs_after(tgs_pool *P, tg_uop *x, tg_uop *const *d, size_t n) { return n ? with_tail(P, TG_OP_AFTER, x->dtype, x, d, n, tg_arg_none()) : x; }
tg_uop *tgs_sink(tgs_pool *P, tg_uop *const *src, size_t n, tg_arg arg) { return tgs_new(P, TG_OP_SINK, TG_DT_VOID, src, n, arg); }

tg_uop *tgs_range(tgs_pool *P, int64_t size, int64_t id, int axistype) {
  tg_uop *s = tgs_ci(P, size);
  tg_arg it[2] = {tg_arg_int(id), tgs_axis_arg(axistype)};
  return s ? tgs_new(P, TG_OP_RANGE, TG_WEAKINT, &s, 1, tg_arg_tuple(it, 2)) : NULL;
}

tg_uop *tgs_contiguous(tgs_pool *P, tg_uop *x) {
  if (tg_dt_is_weak((tg_dtype)x->dtype)) return x;
  if (x->op == TG_OP_CONTIGUOUS || !tgs_device(x) || tgs_has_buffer_identity(x, 0)) return x;
  return tgs_new(P, TG_OP_CONTIGUOUS, TG_DT_AUTO, &x, 1, tg_arg_none());
}

tg_uop *tgs_replace_src(tgs_pool *P, tg_uop *x, tg_uop *const *src, size_t n) {
  return tgs_hold(P, tg_uop_replace(x, (tg_op)x->op, x->dtype, src, n, NULL, NULL));
}

tg_uop *tgs_shape_arg(tgs_pool *P, const int64_t *d, size_t n) {
  if (n == 1) return tgs_ci(P, d[0]);
  tg_uop *src[TGS_MAXD];
  for (size_t i = 0; i < n; i++)
    if (!(src[i] = tgs_ci(P, d[i]))) return NULL;
  return tgs_new(P, TG_OP_STACK, TG_DT_AUTO, src, n, tg_arg_none());
}

tg_uop *tgs_mop(tgs_pool *P, tg_uop *x, tg_op op, const int64_t *a, const int64_t *b, size_t n) {
  if (!x) return NULL;
  if ((op == TG_OP_EXPAND || op == TG_OP_SHRINK || op == TG_OP_PAD) && n == 0) return x;
  if (op == TG_OP_PERMUTE || op == TG_OP_FLIP) {
    tg_arg t;
    if (tg_arg_ints(a, (uint32_t)n, op == TG_OP_FLIP, &t)) return NULL;
    tg_uop *u = tgs_new(P, op, TG_DT_AUTO, &x, 1, t);
    tg_arg_free(&t);
    return u;
  }
  tg_uop *src[3] = {x, tgs_shape_arg(P, a, n), NULL};
  size_t ns = 2;
  if (op == TG_OP_PAD || op == TG_OP_SHRINK) src[ns++] = tgs_shape_arg(P, b, n);
  for (size_t i = 1; i < ns; i++)
    if (!src[i]) return NULL;
  return tgs_new(P, op, TG_DT_AUTO, src, ns, tg_arg_none());
}

static int same_shape(tg_uop *a, const tgs_shp *s) {
  tgs_shp t;
  if (tgs_shape(a, &t) != 1 || t.n != s->n) return 0;
  return !memcmp(t.d, s->d, s->n * sizeof *s->d);
}

tg_uop *tgs_reshape(tgs_pool *P, tg_uop *x, const int64_t *shape, size_t n) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1) return x ? (tg_err(TG_ERR_INTERNAL, "reshape of a shapeless UOp"), NULL) : NULL;
  if (tgs_prod(s.d, s.n) != tgs_prod(shape, n)) return tg_err(TG_ERR_SHAPE, "size mismatch, can't reshape"), NULL;
  tg_uop *r = tgs_mop(P, x, TG_OP_RESHAPE, shape, NULL, n);
  if (!r) return NULL;
  return same_shape(r, &s) ? x : r;
}

tg_uop *tgs_permute(tgs_pool *P, tg_uop *x, const int64_t *order, size_t n) {
  int ident = 1;
  for (size_t i = 0; i < n; i++) ident &= order[i] == (int64_t)i;
  return ident ? x : tgs_mop(P, x, TG_OP_PERMUTE, order, NULL, n);
}

/* MovementMixin._broadcast_to: EXPAND only prepends dims, so squeeze the 1s that grow, expand on the left, permute back */
tg_uop *tgs_expand(tgs_pool *P, tg_uop *x, const int64_t *ns, size_t n) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1) return x ? (tg_err(TG_ERR_INTERNAL, "expand of a shapeless UOp"), NULL) : NULL;
  if (s.n == n && !memcmp(s.d, ns, n * sizeof *ns)) return x;
  if (s.n > n) return tg_err(TG_ERR_SHAPE, "cannot broadcast tensor to fewer dimensions"), NULL;
  size_t nleft = n - s.n;
  int64_t expand_at[TGS_MAXD] = {0}, kept[TGS_MAXD] = {0}, sq[TGS_MAXD] = {0}, earg[TGS_MAXD] = {0}, perm[TGS_MAXD] = {0};
  size_t ne = 0, nk = 0, na = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.d[i] != ns[nleft + i] && s.d[i] != 1) return tg_err(TG_ERR_SHAPE, "cannot broadcast"), NULL;
    if (s.d[i] == 1 && ns[nleft + i] != 1) expand_at[ne++] = (int64_t)i;
    else kept[nk] = (int64_t)i, sq[nk++] = s.d[i];
  }
  tg_uop *squeezed = tgs_reshape(P, x, sq, nk);
  for (size_t i = 0; i < nleft; i++) earg[na++] = ns[i];
  for (size_t i = 0; i < ne; i++) earg[na++] = ns[nleft + expand_at[i]];
  tg_uop *expanded = tgs_mop(P, squeezed, TG_OP_EXPAND, earg, NULL, na);
  for (size_t i = 0; i < nleft; i++) perm[i] = (int64_t)i;
  for (size_t i = 0; i < s.n; i++) {
    int64_t pos = -1;
    for (size_t j = 0; j < ne; j++)
      if (expand_at[j] == (int64_t)i) pos = (int64_t)j;
    if (pos < 0)
      for (size_t j = 0; j < nk; j++)
        if (kept[j] == (int64_t)i) pos = (int64_t)(ne + j);
    perm[nleft + i] = (int64_t)nleft + pos;
  }
  return expanded ? tgs_permute(P, expanded, perm, n) : NULL;
}

tg_uop *tgs_shrink(tgs_pool *P, tg_uop *x, const int64_t *start, const int64_t *end, size_t n) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1) return x ? (tg_err(TG_ERR_INTERNAL, "shrink of a shapeless UOp"), NULL) : NULL;
  int64_t sz[TGS_MAXD];
  for (size_t i = 0; i < n; i++) sz[i] = end[i] - start[i];
  tg_uop *r = tgs_mop(P, x, TG_OP_SHRINK, start, sz, n);
  if (!r) return NULL;
  return same_shape(r, &s) ? x : r;
}

tg_uop *tgs_flatten(tgs_pool *P, tg_uop *x) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1) return x ? (tg_err(TG_ERR_INTERNAL, "flatten of a shapeless UOp"), NULL) : NULL;
  int64_t p = tgs_prod(s.d, s.n);
  return tgs_reshape(P, x, &p, 1);
}

tg_uop *tgs_rop(tgs_pool *P, tg_uop *x, tg_op op, const int64_t *axis_in, size_t n) {
  tgs_shp s;
  if (!x || tgs_shape(x, &s) != 1) return x ? (tg_err(TG_ERR_INTERNAL, "reduce of a shapeless UOp"), NULL) : NULL;
  int64_t axis[TGS_MAXD], red[TGS_MAXD], perm[TGS_MAXD], out[TGS_MAXD];
  memcpy(axis, axis_in, n * sizeof *axis);
  for (size_t i = 1; i < n; i++) /* sorted(axis) */
    for (size_t j = i; j > 0 && axis[j - 1] > axis[j]; j--) { int64_t t = axis[j]; axis[j] = axis[j - 1]; axis[j - 1] = t; }
  size_t nr = 0, np = 0, no = 0;
  for (size_t i = 0; i < n; i++)
    if (s.d[axis[i]] != 1) red[nr++] = axis[i];
  for (size_t i = 0; i < s.n; i++) {
    int in_axis = 0;
    for (size_t j = 0; j < n; j++) in_axis |= axis[j] == (int64_t)i;
    if (!in_axis) out[no++] = s.d[i];
  }
  if (!nr) return tgs_reshape(P, x, out, no);
  for (size_t i = 0; i < nr; i++) perm[np++] = red[i];
  for (size_t i = 0; i < s.n; i++) {
    int in_red = 0;
    for (size_t j = 0; j < nr; j++) in_red |= red[j] == (int64_t)i;
    if (!in_red) perm[np++] = (int64_t)i;
  }
  tg_uop *p = tgs_permute(P, x, perm, np);
  tg_arg it[2] = {tg_arg_op(op), tg_arg_int((int64_t)nr)};
  tg_uop *ret = p ? tgs_new(P, TG_OP_REDUCE, TG_DT_AUTO, &p, 1, tg_arg_tuple(it, 2)) : NULL;
  if (!ret) return NULL;
  return nr != n ? tgs_reshape(P, ret, out, no) : ret;
}

/* ================ substitute / rewrite ================ */

typedef struct subst_ctx { tg_ptrset map; tg_uop *const *keys; size_t n; } subst_ctx;

static tg_uop *subst_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)b;
  subst_ctx *c = rw->ctx;
  uint64_t *v = tg_ptrset_get(&c->map, root);
  return v && *v ? tg_uop_retain((tg_uop *)(uintptr_t)*v) : NULL;
}

/* pm_gate_substitute: do not descend into what no substituted RANGE reaches */
static tg_uop *gate_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)b;
  subst_ctx *c = rw->ctx;
  for (size_t i = 0; i < c->n; i++)
    if (tgs_in_ranges(root, c->keys[i])) return NULL;
  rw->gate = 1;
  return NULL;
}

static const tg_upat any_pat = {.ops = {{~0ull, ~0ull}}, .has_ops = 1, .slot = -1};
static const tg_rule subst_rules[] = {{&any_pat, subst_rule, "ops.py _substitute"}};
static const tg_rule gate_rules[] = {{&any_pat, gate_rule, "rangeify.py pm_gate_substitute"}};

static struct { const tg_pm *extra; int gate; tg_pm *pm; } subst_cache[8];
static pthread_mutex_t subst_mu = PTHREAD_MUTEX_INITIALIZER;

static const tg_pm *subst_pm(const tg_pm *extra, int gate) {
  pthread_mutex_lock(&subst_mu);
  const tg_pm *r = NULL;
  size_t i = 0;
  for (; i < 8 && subst_cache[i].pm; i++)
    if (subst_cache[i].extra == extra && subst_cache[i].gate == gate) { r = subst_cache[i].pm; break; }
  if (!r && i < 8) {
    tg_pm *s = tg_pm_new(subst_rules, 1), *g = gate ? tg_pm_new(gate_rules, 1) : NULL;
    const tg_pm *parts[3];
    size_t np = 0;
    if (extra) parts[np++] = extra;
    if (g) parts[np++] = g;
    parts[np++] = s;
    tg_pm *pm = s && (g || !gate) ? tg_pm_concat(parts, np) : NULL;
    tg_pm_free(s), tg_pm_free(g);
    if (pm) subst_cache[i].extra = extra, subst_cache[i].gate = gate, subst_cache[i].pm = pm, r = pm;
  }
  pthread_mutex_unlock(&subst_mu);
  if (!r) tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory building a substitute matcher");
  return r;
}

tg_uop *tgs_substitute(tgs_pool *P, tg_uop *u, tg_uop *const *keys, tg_uop *const *vals, size_t n, const tg_pm *extra,
                       int gate) {
  subst_ctx c = {.keys = keys, .n = 0};
  if (!tg_ptrset_init(&c.map, n + 8)) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in substitute"), NULL;
  tg_uop **k = malloc((n + 1) * sizeof *k);
  if (!k) return tg_ptrset_free(&c.map), tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in substitute"), NULL;
  for (size_t i = 0; i < n; i++) { /* a dict: the last value of a key wins, then k is not v filters */
    uint64_t *slot = tg_ptrset_get(&c.map, keys[i]);
    if (!slot && !(slot = tg_ptrset_put(&c.map, keys[i], 0))) {
      free(k), tg_ptrset_free(&c.map);
      return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in substitute"), NULL;
    }
    *slot = (uint64_t)(uintptr_t)vals[i];
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t *slot = tg_ptrset_get(&c.map, keys[i]);
    int seen = 0;
    for (size_t j = 0; j < c.n && !seen; j++) seen = k[j] == keys[i];
    if (seen) continue;
    if ((tg_uop *)(uintptr_t)*slot == keys[i]) *slot = 0; /* k is v: not substituted */
    else k[c.n++] = keys[i];
  }
  c.keys = k;
  tg_uop *r = u;
  if (c.n) {
    const tg_pm *pm = subst_pm(extra, gate);
    r = pm ? tgs_hold(P, tg_graph_rewrite(u, pm, &c, TG_RW_BOTTOM_UP, NULL)) : NULL;
  }
  free(k);
  tg_ptrset_free(&c.map);
  return r;
}

tg_uop *tgs_simplify(tgs_pool *P, tg_uop *u) { return u ? tgs_hold(P, tg_uop_simplify(u)) : NULL; }

tg_uop *tgs_rewrite(tgs_pool *P, tg_uop *u, const tg_pm *pm, void *ctx, unsigned flags) {
  if (!u) return NULL;
  if (!pm) return tg_err(TG_ERR_OUT_OF_MEMORY, "a pattern matcher could not be built"), NULL;
  return tgs_hold(P, tg_graph_rewrite(u, pm, ctx, flags, NULL));
}
