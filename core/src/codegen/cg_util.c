/* codegen/cg_util.c -- UOp properties, arg accessors and builders the codegen passes share (see cg_util.h). */
#include "codegen/cg_util.h"

#include <stdlib.h>
#include <string.h>

/* ---------------- enums ---------------- */

static const char *const axis_names[] = {NULL, "AxisType.DEVICE", "AxisType.GLOBAL", "AxisType.WARP", "AxisType.LOCAL",
  "AxisType.WEAK", "AxisType.GROUP_REDUCE", "AxisType.REDUCE", "AxisType.UPCAST", "AxisType.UNROLL", "AxisType.THREAD",
  "AxisType.PLACEHOLDER", "AxisType.LOOP"};
static const char *const as_names[] = {NULL, "AddrSpace.GLOBAL", "AddrSpace.LOCAL", "AddrSpace.REG", "AddrSpace.ALU"};

tg_arg cg_axis_arg(int t) {
  tg_arg a = {0};
  a.kind = TG_ARG_ENUM, a.i = t, a.s = (t >= 1 && t <= 12) ? axis_names[t] : "AxisType.?";
  return a;
}
tg_arg cg_addrspace_arg(int as) {
  tg_arg a = {0};
  a.kind = TG_ARG_ENUM, a.i = as, a.s = (as >= 1 && as <= 4) ? as_names[as] : "AddrSpace.?";
  return a;
}
const char *cg_axis_letter(int t) {
  static const char *const l[] = {"?", "d", "g", "w", "l", "L", "G", "R", "u", "r", "t", "?", "L"};
  return (t >= 0 && t <= 12) ? l[t] : "?";
}
const char *cg_axis_color(int t) {
  static const char *const c[] = {NULL, "green", "blue", "CYAN", "cyan", "WHITE", "RED", "red", "yellow", "magenta", "BLUE", NULL, "WHITE"};
  return (t >= 0 && t <= 12) ? c[t] : NULL;
}
int cg_axis_pos(int t) {
  static const int p[] = {0, -2, 0, 1, 2, -1, 2, 4, 3, 5, 0, 0, -1};
  return (t >= 0 && t <= 12) ? p[t] : 0;
}

/* ---------------- lists ---------------- */

int cg_list_push(cg_list *l, tg_uop *u) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    tg_uop **v = realloc(l->v, nc * sizeof *v);
    if (!v) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), -1;
    l->v = v, l->cap = nc;
  }
  l->v[l->n++] = u;
  return 0;
}
long cg_list_find(const cg_list *l, const tg_uop *u) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i] == u) return (long)i;
  return -1;
}
int cg_list_has(const cg_list *l, const tg_uop *u) { return cg_list_find(l, u) >= 0; }
int cg_list_add(cg_list *l, tg_uop *u) { return cg_list_has(l, u) ? 0 : cg_list_push(l, u); }
void cg_list_remove(cg_list *l, const tg_uop *u) {
  long i = cg_list_find(l, u);
  if (i < 0) return;
  memmove(&l->v[i], &l->v[i + 1], (l->n - (size_t)i - 1) * sizeof *l->v);
  l->n--;
}
void cg_list_free(cg_list *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* ---------------- pool ---------------- */

tg_uop *cg_pool_add(cg_pool *p, tg_uop *u) {
  if (!u) return p->failed = 1, NULL;
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 16;
    tg_uop **v = realloc(p->v, nc * sizeof *v);
    if (!v) {
      tg_uop_release(u);
      tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory");
      return p->failed = 1, NULL;
    }
    p->v = v, p->cap = nc;
  }
  return p->v[p->n++] = u;
}
void cg_pool_free(cg_pool *p) {
  for (size_t i = p->n; i-- > 0;) tg_uop_release(p->v[i]);
  free(p->v);
  memset(p, 0, sizeof *p);
}

/* ---------------- scope ---------------- */

typedef struct props {
  tg_uop *key; /* retained */
  cg_list ranges, rself; /* _ranges, and ranges of a RANGE (itself first) */
  int8_t addrspace;
  uint8_t have_ranges, have_as, have_self;
} props;

typedef struct scope {
  int depth;
  tg_ptrset map; /* uop -> index + 1 into p */
  props **p;     /* one allocation per entry: the lists handed out stay put while the table grows */
  size_t n, cap;
} scope;

static _Thread_local scope g_sc;

int cg_scope_begin(void) {
  if (g_sc.depth++ > 0) return 0;
  if (!tg_ptrset_init(&g_sc.map, 1024)) {
    g_sc.depth = 0;
    return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), -1;
  }
  return 0;
}

void cg_scope_end(void) {
  if (g_sc.depth <= 0 || --g_sc.depth > 0) return;
  for (size_t i = 0; i < g_sc.n; i++) {
    cg_list_free(&g_sc.p[i]->ranges);
    cg_list_free(&g_sc.p[i]->rself);
    tg_uop_release(g_sc.p[i]->key);
    free(g_sc.p[i]);
  }
  free(g_sc.p);
  tg_ptrset_free(&g_sc.map);
  memset(&g_sc, 0, sizeof g_sc);
}

static props *props_of(tg_uop *u, int create) {
  if (g_sc.depth <= 0) {
    tg_err(TG_ERR_INTERNAL, "codegen: property asked outside a codegen scope");
    return NULL;
  }
  uint64_t *i = tg_ptrset_get(&g_sc.map, u);
  if (i) return g_sc.p[*i - 1];
  if (!create) return NULL;
  if (g_sc.n == g_sc.cap) {
    size_t nc = g_sc.cap ? g_sc.cap * 2 : 1024;
    props **np = realloc(g_sc.p, nc * sizeof *np);
    if (!np) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
    g_sc.p = np, g_sc.cap = nc;
  }
  props *p = calloc(1, sizeof *p);
  if (!p || !tg_ptrset_put(&g_sc.map, u, g_sc.n + 1)) { free(p); return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL; }
  g_sc.p[g_sc.n++] = p;
  p->key = tg_uop_retain(u);
  return p;
}

static int range_start(tg_op op) {
  switch (op) {
  case TG_OP_STAGE: case TG_OP_REDUCE: case TG_OP_END: case TG_OP_CALL: case TG_OP_FUNCTION: return 1;
  case TG_OP_WMMA: return 3;
  case TG_OP_LINEAR: return 0;
  default: return -1;
  }
}

int cg_ended_ranges(tg_uop *u, cg_list *out) {
  int st = range_start((tg_op)u->op);
  if (st >= 0) {
    for (size_t i = (size_t)st; i < u->nsrc; i++)
      if (cg_list_push(out, u->src[i])) return -1;
    return 0;
  }
  if (u->op == TG_OP_AFTER) {
    for (size_t i = 1; i < u->nsrc; i++)
      if (cg_ended_ranges(u->src[i], out)) return -1;
    return 0;
  }
  if (u->op == TG_OP_UNSHARD)
    for (size_t i = 1; i < u->nsrc; i++)
      if (cg_list_push(out, u->src[i])) return -1;
  return 0;
}

static int not_have_ranges(tg_uop *u, void *ctx) {
  (void)ctx;
  uint64_t *i = tg_ptrset_get(&g_sc.map, u);
  return !i || !g_sc.p[*i - 1]->have_ranges;
}

static int compute_ranges(tg_uop *u) {
  props *p = props_of(u, 1);
  if (!p) return -1;
  cg_list r = {0}, ended = {0};
  int rc = 0;
  for (size_t i = 0; i < u->nsrc && !rc; i++) {
    const cg_list *s = cg_ranges(u->src[i]);
    if (!s) { rc = -1; break; }
    for (size_t k = 0; k < s->n && !rc; k++) rc = cg_list_add(&r, s->v[k]);
  }
  if (!rc) rc = cg_ended_ranges(u, &ended);
  for (size_t i = 0; i < ended.n && !rc; i++) {
    if (ended.v[i]->op == TG_OP_RANGE) cg_list_remove(&r, ended.v[i]);
    else {
      const cg_list *s = cg_ranges(ended.v[i]);
      if (!s) rc = -1;
      else
        for (size_t k = 0; k < s->n; k++) cg_list_remove(&r, s->v[k]);
    }
  }
  cg_list_free(&ended);
  if (rc) { cg_list_free(&r); return -1; }
  p = props_of(u, 0); /* the table may have moved */
  p->ranges = r, p->have_ranges = 1;
  return 0;
}

const cg_list *cg_ranges_excl(tg_uop *u) {
  props *p = props_of(u, 0);
  if (p && p->have_ranges) return &p->ranges;
  if (g_sc.depth <= 0) return props_of(u, 0), NULL;
  size_t n = 0;
  tg_uop **topo = tg_uop_toposort_gated(u, not_have_ranges, NULL, &n);
  if (!topo) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
  for (size_t i = 0; i < n; i++)
    if (compute_ranges(topo[i])) { free(topo); return NULL; }
  free(topo);
  p = props_of(u, 0);
  return p ? &p->ranges : NULL;
}

const cg_list *cg_ranges(tg_uop *u) {
  const cg_list *ex = cg_ranges_excl(u);
  if (!ex || u->op != TG_OP_RANGE) return ex;
  props *p = props_of(u, 0);
  if (p->have_self) return &p->rself;
  cg_list l = {0};
  if (cg_list_push(&l, u)) return NULL;
  for (size_t i = 0; i < ex->n; i++)
    if (cg_list_add(&l, ex->v[i])) { cg_list_free(&l); return NULL; }
  p->rself = l, p->have_self = 1;
  return &p->rself;
}

int cg_ranges_of(tg_uop *const *xs, size_t n, cg_list *out) {
  for (size_t i = 0; i < n; i++) {
    const cg_list *r = cg_ranges(xs[i]);
    if (!r) return -1;
    for (size_t k = 0; k < r->n; k++)
      if (cg_list_add(out, r->v[k])) return -1;
  }
  return 0;
}

static int as_direct(tg_uop *u, int *out) { /* the rule when it needs no source: 1 when decided */
  switch ((tg_op)u->op) {
  case TG_OP_PARAM: case TG_OP_BUFFER: *out = (int)cg_param_addrspace(u); return 1;
  case TG_OP_SPECIAL: case TG_OP_RANGE: case TG_OP_LOAD: *out = CG_AS_ALU; return 1;
  default: return 0;
  }
}

static int as_first_src(tg_op op) {
  switch (op) {
  case TG_OP_INDEX: case TG_OP_CAST: case TG_OP_AFTER: case TG_OP_REDUCE: case TG_OP_STORE: case TG_OP_MSTACK:
  case TG_OP_MSELECT: case TG_OP_END: case TG_OP_UNSHARD: return 1;
  default: return tg_opset_has(TG_GROUP_MOVEMENT, op);
  }
}

static int not_have_as(tg_uop *u, void *ctx) {
  (void)ctx;
  uint64_t *i = tg_ptrset_get(&g_sc.map, u);
  return !i || !g_sc.p[*i - 1]->have_as;
}

int cg_addrspace(tg_uop *u) {
  props *p = props_of(u, 0);
  if (p && p->have_as) return p->addrspace;
  if (g_sc.depth <= 0) return CG_AS_NONE;
  size_t n = 0;
  tg_uop **topo = tg_uop_toposort_gated(u, not_have_as, NULL, &n);
  if (!topo) return CG_AS_NONE;
  for (size_t i = 0; i < n; i++) {
    tg_uop *x = topo[i];
    int as = CG_AS_NONE;
    if (as_direct(x, &as)) {
    } else if (as_first_src((tg_op)x->op)) {
      as = x->nsrc ? cg_addrspace(x->src[0]) : CG_AS_NONE;
    } else if (x->op == TG_OP_STACK || x->op == TG_OP_WMMA || x->op == TG_OP_GROUP || tg_opset_has(TG_GROUP_ELEMENTWISE, (tg_op)x->op)) {
      int first = CG_AS_NONE, same = 1;
      for (size_t k = 0; k < x->nsrc; k++) {
        int a = cg_addrspace(x->src[k]);
        if (a == CG_AS_NONE) continue;
        if (first == CG_AS_NONE) first = a;
        else if (a != first) same = 0;
      }
      as = same ? first : CG_AS_NONE;
    }
    props *px = props_of(x, 1);
    if (!px) break;
    px->addrspace = (int8_t)as, px->have_as = 1;
  }
  free(topo);
  p = props_of(u, 0);
  return p && p->have_as ? p->addrspace : CG_AS_NONE;
}

/* ---------------- toposort ---------------- */

static int topo_into(tg_uop **v, size_t n, cg_list *out) {
  if (!v) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), -1;
  free(out->v);
  out->v = v, out->n = out->cap = n;
  if (n == 0) { free(v); out->v = NULL; out->cap = 0; }
  return 0;
}
int cg_toposort(tg_uop *u, cg_list *out) {
  size_t n = 0;
  tg_uop **v = tg_uop_toposort(u, &n);
  return topo_into(v, n, out);
}
int cg_toposort_gated(tg_uop *u, int (*gate)(tg_uop *, void *), void *ctx, cg_list *out) {
  size_t n = 0;
  tg_uop **v = tg_uop_toposort_gated(u, gate, ctx, &n);
  return topo_into(v, n, out);
}
int cg_in_backward_slice(tg_uop *root, tg_uop *x) {
  cg_list t = {0};
  if (cg_toposort(root, &t)) return -1;
  int r = cg_list_has(&t, x);
  cg_list_free(&t);
  return r;
}
int cg_op_in_slice(tg_uop *root, tg_op op) {
  cg_list t = {0};
  if (cg_toposort(root, &t)) return -1;
  int r = 0;
  for (size_t i = 0; i < t.n && !r; i++) r = t.v[i]->op == op;
  cg_list_free(&t);
  return r;
}

/* ---------------- shapes ---------------- */

int cg_has_shape(tg_uop *u) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(u, &st);
  return s != NULL && st == TG_OK;
}
static int64_t dim_max(tg_sint d) { return d.u ? cg_vmax_i(d.u) : d.v; }
int64_t cg_max_numel(tg_uop *u) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(u, &st);
  if (!s) {
    if (st == TG_OK) tg_err(TG_ERR_INTERNAL, "shape requested, but %s doesn't have a shape", tg_op_name((tg_op)u->op));
    return -1;
  }
  int64_t p = 1;
  for (uint32_t i = 0; i < s->ndim; i++) p *= dim_max(s->dims[i]);
  return p;
}
int cg_shape_ndim(tg_uop *u) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(u, &st);
  return s ? (int)s->ndim : -1;
}
int64_t cg_shape_dim(tg_uop *u, int i) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(u, &st);
  return s && i >= 0 && (uint32_t)i < s->ndim ? dim_max(s->dims[i]) : -1;
}
int cg_shape_eq(tg_uop *a, tg_uop *b) {
  tg_status st = TG_OK;
  const tg_shape *x = tg_uop_shape(a, &st), *y = tg_uop_shape(b, &st);
  if (!x || !y || x->ndim != y->ndim) return 0;
  for (uint32_t i = 0; i < x->ndim; i++) {
    if ((x->dims[i].u != NULL) != (y->dims[i].u != NULL)) return 0;
    if (x->dims[i].u ? x->dims[i].u != y->dims[i].u : x->dims[i].v != y->dims[i].v) return 0;
  }
  return 1;
}

static int as_shape_ints(tg_uop *s, int64_t *out, int cap) {
  if (s->op == TG_OP_CONST) {
    if (s->arg.kind != TG_ARG_INT) return -1;
    out[0] = s->arg.i;
    return 1;
  }
  if (s->op != TG_OP_STACK || (int)s->nsrc > cap) return -1;
  for (size_t i = 0; i < s->nsrc; i++) {
    if (s->src[i]->op != TG_OP_CONST || s->src[i]->arg.kind != TG_ARG_INT) return -1;
    out[i] = s->src[i]->arg.i;
  }
  return (int)s->nsrc;
}

int cg_marg(tg_uop *u, int64_t *out) {
  switch ((tg_op)u->op) {
  case TG_OP_RESHAPE: case TG_OP_EXPAND: return u->nsrc >= 2 ? as_shape_ints(u->src[1], out, 64) : -1;
  case TG_OP_PAD: case TG_OP_SHRINK: {
    int64_t a[32], b[32];
    if (u->nsrc < 3) return -1;
    int na = as_shape_ints(u->src[1], a, 32), nb = as_shape_ints(u->src[2], b, 32);
    if (na < 0 || na != nb) return -1;
    for (int i = 0; i < na; i++) out[2 * i] = a[i], out[2 * i + 1] = b[i];
    return 2 * na;
  }
  case TG_OP_PERMUTE: case TG_OP_FLIP:
    if (u->arg.kind != TG_ARG_TUPLE || u->arg.n > 64) return -1;
    for (uint32_t i = 0; i < u->arg.n; i++) out[i] = u->arg.items[i].i;
    return (int)u->arg.n;
  default: return -1;
  }
}

/* ---------------- args ---------------- */

const tg_arg *cg_tuple_item(const tg_arg *a, uint32_t i) {
  return a && a->kind == TG_ARG_TUPLE && i < a->n ? &a->items[i] : NULL;
}
int64_t cg_arg_int(const tg_arg *a, int64_t dflt) {
  if (!a) return dflt;
  return (a->kind == TG_ARG_INT || a->kind == TG_ARG_BOOL || a->kind == TG_ARG_ENUM) ? a->i : dflt;
}
int64_t cg_param_slot(tg_uop *u) { return cg_arg_int(cg_tuple_item(&u->arg, TG_PARAMARG_SLOT), -1); }
int cg_param_addrspace(tg_uop *u) {
  const tg_arg *a = cg_tuple_item(&u->arg, TG_PARAMARG_ADDRSPACE);
  if (!a) return CG_AS_GLOBAL;
  return a->kind == TG_ARG_NONE ? CG_AS_NONE : (int)cg_arg_int(a, CG_AS_GLOBAL);
}
const char *cg_param_name(tg_uop *u) {
  const tg_arg *a = cg_tuple_item(&u->arg, TG_PARAMARG_NAME);
  return a && a->kind == TG_ARG_STR ? a->s : NULL;
}
int cg_param_volatile(tg_uop *u) { return (int)cg_arg_int(cg_tuple_item(&u->arg, TG_PARAMARG_VOLATILE), 0); }

int cg_range_type(tg_uop *r) {
  if (r->arg.kind != TG_ARG_TUPLE || r->arg.n == 0) return 0;
  return (int)cg_arg_int(&r->arg.items[r->arg.n - 1], 0);
}
int64_t cg_range_axis(tg_uop *r) { return cg_arg_int(cg_tuple_item(&r->arg, 0), 0); }
int cg_range_arg_cmp(tg_uop *a, tg_uop *b) {
  uint32_t na = a->arg.n ? a->arg.n - 1 : 0, nb = b->arg.n ? b->arg.n - 1 : 0;
  for (uint32_t i = 0; i < na && i < nb; i++) {
    int64_t x = a->arg.items[i].i, y = b->arg.items[i].i;
    if (x != y) return x < y ? -1 : 1;
  }
  return na == nb ? 0 : na < nb ? -1 : 1;
}

int cg_is_kernel_info(const tg_arg *a) {
  return a->kind == TG_ARG_TUPLE && a->n >= 1 && a->items[0].kind == TG_ARG_STR && !strcmp(a->items[0].s, "KernelInfo");
}
const char *cg_kernel_name(const tg_arg *a) {
  const tg_arg *n = cg_is_kernel_info(a) ? cg_tuple_item(a, 1) : NULL;
  return n && n->kind == TG_ARG_STR ? n->s : "test";
}

tg_status cg_kernel_info(const char *name, int dont_use_locals, const tg_arg *applied_opts, tg_arg *out) {
  tg_arg items[8];
  items[0] = tg_arg_str("KernelInfo");
  items[1] = tg_arg_str(name);
  items[2] = tg_arg_tuple(NULL, 0);
  items[3] = tg_arg_bool(dont_use_locals);
  items[4] = applied_opts ? *applied_opts : tg_arg_tuple(NULL, 0);
  items[5] = tg_arg_none();
  items[6] = tg_arg_none();
  items[7] = tg_arg_int(0);
  tg_arg t = tg_arg_tuple(items, 8);
  return tg_arg_copy(&t, out);
}

tg_status cg_param_arg(int64_t slot, int dtype, int addrspace, const char *name, const tg_num *vmm, tg_arg *out) {
  tg_arg mm[2], items[TG_PARAMARG_COUNT];
  for (int i = 0; i < TG_PARAMARG_COUNT; i++) items[i] = tg_arg_none();
  items[0] = tg_arg_str("ParamArg");
  items[TG_PARAMARG_SLOT] = tg_arg_int(slot);
  items[TG_PARAMARG_DTYPE] = tg_arg_dtype(dtype);
  if (vmm) {
    mm[0] = tg_num_to_arg(vmm[0]), mm[1] = tg_num_to_arg(vmm[1]);
    items[TG_PARAMARG_VMIN_VMAX] = tg_arg_tuple(mm, 2);
    items[TG_PARAMARG_MULTIPLE_OF] = tg_arg_int(1);
  }
  if (name) items[TG_PARAMARG_NAME] = tg_arg_str(name);
  items[TG_PARAMARG_ADDRSPACE] = cg_addrspace_arg(addrspace);
  items[TG_PARAMARG_VOLATILE] = tg_arg_bool(0);
  tg_arg t = tg_arg_tuple(items, TG_PARAMARG_COUNT);
  return tg_arg_copy(&t, out);
}

/* ---------------- builders ---------------- */

tg_uop *cg_new(tg_op op, int dtype, tg_uop *const *src, size_t n, tg_arg arg) { return tg_uop_new(op, dtype, src, n, arg); }
tg_uop *cg_cint(int64_t v) { return tg_uop_new(TG_OP_CONST, TG_WEAKINT, NULL, 0, tg_arg_int(v)); }
tg_uop *cg_const(int dtype, tg_num v) { return tg_um_const(dtype, v); }

tg_uop *cg_index(tg_uop *buf, tg_uop *const *idx, size_t n) {
  if (n == 1 && idx[0]->op == TG_OP_CONST && buf->op == TG_OP_STACK && idx[0]->arg.kind == TG_ARG_INT) {
    int64_t i = idx[0]->arg.i;
    if (i >= 0 && (size_t)i < buf->nsrc) return tg_uop_retain(buf->src[i]);
  }
  tg_uop *s[17];
  if (n > 16) return tg_err(TG_ERR_INTERNAL, "index: too many indices"), NULL;
  s[0] = buf;
  for (size_t i = 0; i < n; i++) s[i + 1] = idx[i];
  return tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, s, n + 1, tg_arg_none());
}
tg_uop *cg_index1(tg_uop *buf, tg_uop *idx) { return cg_index(buf, &idx, 1); }
tg_uop *cg_index_i(tg_uop *buf, int64_t i) {
  tg_uop *c = cg_cint(i);
  if (!c) return NULL;
  tg_uop *r = cg_index(buf, &c, 1);
  tg_uop_release(c);
  return r;
}
tg_uop *cg_load(tg_uop *idx) { return tg_uop_new(TG_OP_LOAD, TG_DT_AUTO, &idx, 1, tg_arg_none()); }
tg_uop *cg_store(tg_uop *idx, tg_uop *val) {
  return tg_uop_new(TG_OP_STORE, TG_DT_AUTO, (tg_uop *[]){idx, val}, 2, tg_arg_none());
}
static tg_uop *with_first(tg_op op, tg_uop *x, tg_uop *const *s, size_t n) {
  if (n == 0) return tg_uop_retain(x);
  tg_uop **v = malloc((n + 1) * sizeof *v);
  if (!v) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
  v[0] = x;
  cg_memcpy(v + 1, s, n * sizeof *v);
  tg_uop *r = tg_uop_new(op, TG_DT_AUTO, v, n + 1, tg_arg_none());
  free(v);
  return r;
}
tg_uop *cg_end(tg_uop *x, tg_uop *const *r, size_t n) { return with_first(TG_OP_END, x, r, n); }
tg_uop *cg_after(tg_uop *x, tg_uop *const *s, size_t n) { return with_first(TG_OP_AFTER, x, s, n); }
tg_uop *cg_sink(tg_uop *const *s, size_t n, const tg_arg *arg) {
  return tg_uop_new(TG_OP_SINK, TG_DT_VOID, s, n, arg ? *arg : tg_arg_none());
}
tg_uop *cg_group(tg_uop *const *s, size_t n) {
  if (n == 1) return tg_uop_retain(s[0]);
  return tg_uop_new(TG_OP_GROUP, TG_DT_VOID, s, n, tg_arg_none());
}
tg_uop *cg_stack(tg_uop *const *s, size_t n) { return tg_uop_new(TG_OP_STACK, TG_DT_AUTO, s, n, tg_arg_none()); }
tg_uop *cg_valid(tg_uop *x, tg_uop *cond) {
  tg_uop *inv = tg_uop_const_invalid();
  if (!inv) return NULL;
  int nd = cg_shape_ndim(x); /* const_like: a shaped x gets an Invalid expanded to its shape */
  if (nd > 0 && nd <= 64) {
    int64_t sh[64];
    for (int i = 0; i < nd; i++) sh[i] = cg_shape_dim(x, i);
    tg_uop *e = cg_expand(inv, sh, (size_t)nd);
    tg_uop_release(inv);
    if (!(inv = e)) return NULL;
  }
  tg_uop *r = tg_um_where(cond, x, inv);
  tg_uop_release(inv);
  return r;
}

tg_uop *cg_range(tg_uop *end, const int64_t *axis, size_t naxis, int axis_type, int dtype) {
  tg_arg items[8];
  if (naxis > 7) return tg_err(TG_ERR_INTERNAL, "range: arg too long"), NULL;
  for (size_t i = 0; i < naxis; i++) items[i] = tg_arg_int(axis[i]);
  items[naxis] = cg_axis_arg(axis_type);
  tg_uop *e = end->dtype == dtype ? tg_uop_retain(end) : tg_um_cast(end, dtype);
  if (!e) return NULL;
  tg_uop *r = tg_uop_new(TG_OP_RANGE, dtype, &e, 1, tg_arg_tuple(items, (uint32_t)naxis + 1));
  tg_uop_release(e);
  return r;
}
tg_uop *cg_range_i(int64_t end, int64_t axis, int axis_type) {
  tg_uop *e = cg_cint(end);
  if (!e) return NULL;
  tg_uop *r = cg_range(e, &axis, 1, axis_type, TG_WEAKINT);
  tg_uop_release(e);
  return r;
}

tg_uop *cg_shape_arg(const int64_t *shape, size_t n) {
  if (n == 1) return cg_cint(shape[0]);
  tg_uop *c[64];
  if (n > 64) return tg_err(TG_ERR_INTERNAL, "shape too long"), NULL;
  for (size_t i = 0; i < n; i++)
    if (!(c[i] = cg_cint(shape[i]))) {
      for (size_t k = 0; k < i; k++) tg_uop_release(c[k]);
      return NULL;
    }
  tg_uop *r = n ? tg_uop_new(TG_OP_STACK, TG_DT_AUTO, c, n, tg_arg_none()) : tg_uop_new(TG_OP_STACK, TG_DT_VOID, NULL, 0, tg_arg_none());
  for (size_t k = 0; k < n; k++) tg_uop_release(c[k]);
  return r;
}

tg_uop *cg_variable(const char *name, int64_t vmin, int64_t vmax, int dtype) {
  return cg_variable_num(name, tg_num_i(vmin), tg_num_i(vmax), dtype);
}
tg_uop *cg_variable_num(const char *name, tg_num vmin, tg_num vmax, int dtype) {
  tg_arg a;
  tg_num mm[2] = {vmin, vmax};
  if (cg_param_arg(-1, dtype, CG_AS_ALU, name, mm, &a) != TG_OK) return NULL;
  tg_uop *s = cg_shape_arg(NULL, 0), *r = s ? tg_uop_new(TG_OP_PARAM, dtype, &s, 1, a) : NULL;
  tg_uop_release(s);
  tg_arg_free(&a);
  return r;
}

static tg_uop *mop(tg_op op, tg_uop *x, const int64_t *v, size_t n) {
  tg_uop *s = cg_shape_arg(v, n);
  if (!s) return NULL;
  tg_uop *r = tg_uop_new(op, TG_DT_AUTO, (tg_uop *[]){x, s}, 2, tg_arg_none());
  tg_uop_release(s);
  return r;
}
tg_uop *cg_reshape(tg_uop *x, const int64_t *shape, size_t n) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(x, &st);
  if (s && s->ndim == n) {
    int same = 1;
    for (size_t i = 0; i < n && same; i++) same = !s->dims[i].u && s->dims[i].v == shape[i];
    if (same) return tg_uop_retain(x);
  }
  return mop(TG_OP_RESHAPE, x, shape, n);
}
tg_uop *cg_expand(tg_uop *x, const int64_t *shape, size_t n) {
  /* UOp._mop(EXPAND, arg) prepends dims: arg is the added leading shape */
  if (n == 0) return tg_uop_retain(x);
  return mop(TG_OP_EXPAND, x, shape, n);
}
tg_uop *cg_permute(tg_uop *x, const int64_t *order, size_t n) {
  int ident = 1;
  for (size_t i = 0; i < n; i++) ident &= order[i] == (int64_t)i;
  if (ident) return tg_uop_retain(x);
  tg_arg a;
  if (tg_arg_ints(order, (uint32_t)n, 0, &a) != TG_OK) return NULL;
  tg_uop *r = tg_uop_new(TG_OP_PERMUTE, TG_DT_AUTO, &x, 1, a);
  tg_arg_free(&a);
  return r;
}

tg_uop *cg_placeholder(const int64_t *shape, size_t n, int dtype, int64_t slot, int addrspace) {
  int64_t p = 1;
  for (size_t i = 0; i < n; i++) p *= shape[i];
  dtype = (int)tg_dt_strong((tg_dtype)dtype);
  tg_arg a;
  if (cg_param_arg(slot, dtype, addrspace, NULL, NULL, &a) != TG_OK) return NULL;
  tg_uop *s = cg_shape_arg(&p, 1);
  tg_uop *b = s ? tg_uop_new(addrspace == CG_AS_GLOBAL ? TG_OP_PARAM : TG_OP_BUFFER, dtype, &s, 1, a) : NULL;
  tg_uop_release(s);
  tg_arg_free(&a);
  if (!b || n <= 1) return b;
  tg_uop *r = cg_reshape(b, shape, n);
  tg_uop_release(b);
  return r;
}

tg_uop *cg_uprod(tg_uop *const *u, size_t n) {
  if (n == 0) return tg_uop_const_bool(1);
  return tg_um_uprod(u, n);
}
tg_uop *cg_with_src(tg_uop *u, tg_uop *const *src, size_t n) {
  return tg_uop_replace(u, (tg_op)u->op, u->dtype, src, n, NULL, NULL);
}
tg_uop *cg_with_tag(tg_uop *u, tg_arg tag) { return tg_uop_replace(u, (tg_op)u->op, u->dtype, u->src, u->nsrc, NULL, &tag); }
tg_uop *cg_with_arg(tg_uop *u, tg_arg arg) { return tg_uop_replace(u, (tg_op)u->op, u->dtype, u->src, u->nsrc, &arg, NULL); }
tg_uop *cg_substitute1(tg_uop *u, tg_uop *k, tg_uop *v) { return tg_uop_substitute(u, &k, &v, 1); }

int cg_is_const(tg_uop *u) { return u->op == TG_OP_CONST; }
int cg_is_invalid(tg_uop *u) { return u->op == TG_OP_CONST && u->arg.kind == TG_ARG_INVALID; }
int64_t cg_cval(tg_uop *c, int64_t dflt) {
  if (c->op != TG_OP_CONST) return dflt;
  return (c->arg.kind == TG_ARG_INT || c->arg.kind == TG_ARG_BOOL) ? c->arg.i : dflt;
}
int64_t cg_vmax_i(tg_uop *u) {
  tg_num v = tg_uop_vmax(u);
  return v.kind == TG_NUM_FLOAT ? (int64_t)v.f : v.i;
}
int64_t cg_vmin_i(tg_uop *u) {
  tg_num v = tg_uop_vmin(u);
  return v.kind == TG_NUM_FLOAT ? (int64_t)v.f : v.i;
}

/* ---------------- status ---------------- */

static _Thread_local tg_status g_status;
void cg_note_status(tg_status code) { g_status = code; }
tg_status cg_last_status(void) {
  tg_status s = g_status;
  g_status = TG_OK;
  return s;
}

/* ---------------- names ---------------- */

void cg_colored(tg_sb *b, const char *text, const char *color) {
  static const char *const names[] = {"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"};
  if (!color) { tg_sb_puts(b, text); return; }
  int idx = 0, upper = color[0] >= 'A' && color[0] <= 'Z';
  for (int i = 0; i < 8; i++)
    if (!strcasecmp(names[i], color)) idx = i;
  tg_sb_printf(b, "\x1b[%dm%s\x1b[0m", 60 * upper + 30 + idx, text);
}

char *cg_function_name(const char *name) {
  size_t n = strlen(name);
  char *out = malloc(2 * n + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (name[i] == '\x1b' && i + 1 < n && name[i + 1] == '[') { /* ansistrip: \x1b[K or \x1b[...m */
      size_t j = i + 2;
      if (j < n && name[j] == 'K') { i = j; continue; }
      while (j < n && name[j] != 'm') j++;
      if (j < n) { i = j; continue; }
    }
    unsigned char c = (unsigned char)name[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') *o++ = (char)c;
    else o += sprintf(o, "%02X", c);
  }
  *o = 0;
  return out;
}
