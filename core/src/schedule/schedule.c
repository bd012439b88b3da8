/* schedule/schedule.c -- tinygrad 0.14.0's schedule/__init__.py: create_schedule (the kernel DAG and its toposort) and
** create_linear_with_vars (function body -> kernel graph -> LINEAR, call arguments resolved to buffers, cross-device
** copy kernels turned into COPYs, memory planning).
**
** The pattern matchers are data (schedule.rules -> schedule_rules.inc). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "helpers.h"
#include "schedule/internal.h"
#include "tgc_internal.h"

static int64_t next_slot = (int64_t)1 << 40;
int64_t tg_schedule_next_slot(void) { return __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED); }

static int oom(void) { return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory in the scheduler"), -1; }

/* ================ create_schedule ================ */

/* unwrap VIEW/CAST/etc to find the actual data source (kernel output, buffer, or multi-device op) */
static tg_uop *unwrap_src(tg_uop *s) {
  while (s->nsrc && s->op != TG_OP_AFTER && s->op != TG_OP_BUFFER && s->op != TG_OP_PARAM && s->op != TG_OP_MSELECT && s->op != TG_OP_MSTACK)
    s = s->src[0];
  return s;
}

/* a buffer state is AFTER | BUFFER | PARAM */
static int state_of(tg_uop *s, tg_uop **out) {
  s = unwrap_src(s);
  if (s->op == TG_OP_MSELECT || s->op == TG_OP_MSTACK) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: multi-device buffer states"), -1;
  if (s->op != TG_OP_AFTER && s->op != TG_OP_BUFFER && s->op != TG_OP_PARAM)
    return tg_err(TG_ERR_INTERNAL, "input to kernel must resolve to a buffer state, not %s", tg_op_name((tg_op)s->op)), -1;
  *out = s;
  return 0;
}

/* _split_after: the kernels (CALL/END) and the AFTER deps of an AFTER's sources */
static int split_after(tg_uop *after, tg_uop **kernels, size_t *nk, tg_uop **deps, size_t *nd) {
  *nk = 0;
  if (nd) *nd = 0;
  for (size_t i = 1; i < after->nsrc; i++) {
    tg_uop *s = after->src[i];
    if (s->op == TG_OP_CALL || s->op == TG_OP_END) kernels[(*nk)++] = s;
    else if (s->op == TG_OP_AFTER) { if (deps) deps[(*nd)++] = s; }
    else if (s->op != TG_OP_STORE)
      return tg_err(TG_ERR_INTERNAL, "AFTER source should be CALL, END, STORE, or AFTER, not %s", tg_op_name((tg_op)s->op)), -1;
  }
  return 0;
}

typedef struct ulist { size_t n, cap; tg_uop **v; } ulist;
static int ul_add(ulist *l, tg_uop *u) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 4;
    tg_uop **nv = realloc(l->v, nc * sizeof *nv);
    if (!nv) return oom();
    l->v = nv, l->cap = nc;
  }
  l->v[l->n++] = u;
  return 0;
}

typedef struct kinfo { tg_uop *k; long indeg; ulist children; } kinfo;
typedef struct wrec { tg_uop *after, *prev, *buf; ulist kernels; } wrec;
typedef struct rrec { tg_uop *after, *k, *state; } rrec;

static int gate_kernel_sink(tg_uop *x, void *ctx) {
  (void)ctx;
  if (x->op == TG_OP_LINEAR) return 0;
  if (x->op == TG_OP_SINK && tgs_is_dataclass(&x->arg, "KernelInfo")) return 0;
  return 1;
}

typedef struct dag {
  kinfo *ks; size_t nk, capk; tg_ptrset kidx;
  wrec *ws; size_t nw, capw;
  rrec *rs; size_t nr, capr;
} dag;

static kinfo *kernel(dag *d, tg_uop *k, int create) {
  uint64_t *v = tg_ptrset_get(&d->kidx, k);
  if (v) return &d->ks[*v];
  if (!create) return NULL;
  if (d->nk == d->capk) {
    size_t nc = d->capk ? d->capk * 2 : 16;
    kinfo *nk = realloc(d->ks, nc * sizeof *nk);
    if (!nk) return oom(), NULL;
    d->ks = nk, d->capk = nc;
  }
  if (!tg_ptrset_put(&d->kidx, k, d->nk)) return oom(), NULL;
  d->ks[d->nk] = (kinfo){k, 0, {0}};
  return &d->ks[d->nk++];
}

static int add_edge(dag *d, tg_uop *from, tg_uop *to) {
  kinfo *f = kernel(d, from, 1), *t;
  if (!f || ul_add(&f->children, to)) return -1;
  if (!(t = kernel(d, to, 1))) return -1;
  t->indeg++;
  return 0;
}

static int states_of_list(tg_uop *const *src, size_t n, ulist *out) {
  for (size_t i = 0; i < n; i++) {
    tg_uop *st;
    if (state_of(src[i], &st) || ul_add(out, st)) return -1;
  }
  return 0;
}

static void dag_free(dag *d) {
  for (size_t i = 0; i < d->nk; i++) free(d->ks[i].children.v);
  for (size_t i = 0; i < d->nw; i++) free(d->ws[i].kernels.v);
  free(d->ks), free(d->ws), free(d->rs);
  tg_ptrset_free(&d->kidx);
}

tg_uop *tg_schedule_create(tg_uop *sched_sink) {
  dag d = {0};
  tgs_pool P = {0};
  if (!tg_ptrset_init(&d.kidx, 64)) return oom(), NULL;
  size_t nt;
  tg_uop **topo = tgs_toposort(sched_sink, gate_kernel_sink, NULL, 1, &nt), *ret = NULL;
  int err = !topo;
  tg_uop **ks = NULL, **deps = NULL, **pk = NULL;
  for (size_t ti = 0; ti < nt && !err; ti++) {
    tg_uop *u = topo[ti];
    if (u->op != TG_OP_AFTER) continue;
    free(ks), free(deps), free(pk);
    ks = malloc(u->nsrc * sizeof *ks), deps = malloc(u->nsrc * sizeof *deps), pk = NULL;
    size_t nk, nd, npk = 0;
    if (!ks || !deps) { err = oom(); break; }
    if ((err = split_after(u, ks, &nk, deps, &nd))) break;
    tg_uop *prev = unwrap_src(u->src[0]);
    if (prev->op == TG_OP_AFTER) {
      if (!(pk = malloc(prev->nsrc * sizeof *pk)) || split_after(prev, pk, &npk, NULL, NULL)) { err = pk ? -1 : oom(); break; }
    }
    if (d.nw == d.capw) {
      size_t nc = d.capw ? d.capw * 2 : 16;
      wrec *nw = realloc(d.ws, nc * sizeof *nw);
      if (!nw) { err = oom(); break; }
      d.ws = nw, d.capw = nc;
    }
    wrec *w = &d.ws[d.nw++];
    *w = (wrec){u, prev, tgs_buf_uop(u), {0}};
    for (size_t i = 0; i < nk && !err; i++) {
      int in_prev = 0;
      for (size_t j = 0; j < npk; j++) in_prev |= pk[j] == ks[i];
      if (!in_prev) err = ul_add(&w->kernels, ks[i]);
    }
    for (size_t i = 0; i < nk && !err; i++) {
      tg_uop *k = ks[i];
      if (!kernel(&d, k, 1)) { err = -1; break; }
      if (k->op == TG_OP_END && k->src[0]->op != TG_OP_CALL) { err = tg_err(TG_ERR_INTERNAL, "END src[0] should be KERNEL"); break; }
      tg_uop *call = k->op == TG_OP_END ? k->src[0] : k;
      ulist rd = {0};
      if (states_of_list(call->src + 1, call->nsrc - 1, &rd)) { free(rd.v); err = -1; break; }
      for (size_t j = 0; j < rd.n && !err; j++) {
        if (d.nr == d.capr) {
          size_t nc = d.capr ? d.capr * 2 : 32;
          rrec *nr = realloc(d.rs, nc * sizeof *nr);
          if (!nr) { err = oom(); break; }
          d.rs = nr, d.capr = nc;
        }
        d.rs[d.nr++] = (rrec){u, k, rd.v[j]};
      }
      /* RAW deps: a kernel runs after the kernels that produced the states it reads or joins */
      if (!err && states_of_list(deps, nd, &rd)) err = -1;
      for (size_t j = 0; j < rd.n && !err; j++) {
        tg_uop *st = rd.v[j];
        if (st->op != TG_OP_AFTER) continue;
        tg_uop **sk = malloc(st->nsrc * sizeof *sk);
        size_t nsk;
        if (!sk || split_after(st, sk, &nsk, NULL, NULL)) { free(sk); err = sk ? -1 : oom(); break; }
        for (size_t q = 0; q < nsk && !err; q++) err = add_edge(&d, sk[q], k);
        free(sk);
      }
      free(rd.v);
    }
  }
  free(ks), free(deps), free(pk);
  /* WAR deps: a kernel reading buffer state S runs before another write that supersedes S */
  for (size_t i = 0; i < d.nr && !err; i++) {
    rrec *r = &d.rs[i];
    tg_uop *sb = tgs_buf_uop(r->state);
    for (size_t j = 0; j < d.nw && !err; j++) {
      wrec *w = &d.ws[j];
      if (w->buf != sb || w->after == r->after || w->prev != r->state) continue;
      for (size_t q = 0; q < w->kernels.n && !err; q++) {
        tg_uop *t = w->kernels.v[q];
        if (t == r->k) continue;
        int in = tgs_in_toposort(r->k, t, 1);
        if (in < 0) err = -1;
        else if (!in) err = add_edge(&d, r->k, t);
      }
    }
  }
  free(topo);
  /* linearize: Kahn's algorithm in first-seen order */
  if (!err) {
    tg_uop **queue = malloc((d.nk + 1) * sizeof *queue);
    ulist lin = {0};
    size_t qh = 0, qt = 0;
    if (!queue) err = oom();
    for (size_t i = 0; i < d.nk && !err; i++)
      if (d.ks[i].indeg == 0) queue[qt++] = d.ks[i].k;
    while (qh < qt && !err) {
      tg_uop *rk = queue[qh++];
      if (rk->op == TG_OP_LINEAR) {
        for (size_t i = 0; i < rk->nsrc && !err; i++) err = ul_add(&lin, rk->src[i]);
      } else {
        tg_uop *k = rk->op == TG_OP_END ? rk->src[0] : rk;
        if (k->op != TG_OP_CALL) { err = tg_err(TG_ERR_INTERNAL, "unexpected op in queue: %s", tg_op_name((tg_op)k->op)); break; }
        tg_uop **src = malloc(k->nsrc * sizeof *src);
        size_t n = 0;
        if (!src) { err = oom(); break; }
        src[n++] = k->src[0];
        for (size_t i = 1; i < k->nsrc; i++)
          if (!tgs_is_bound_var(k->src[i])) src[n++] = tgs_buf_uop(unwrap_src(k->src[i]));
        tg_arg ci[6] = {tg_arg_str("CallInfo"), tg_arg_none(), tg_arg_none(), tg_arg_bool(0), tg_arg_bool(0), tg_arg_none()};
        tg_uop *c = tgs_new(&P, TG_OP_CALL, TG_DT_VOID, src, n, tg_arg_tuple(ci, 6));
        free(src);
        if (!c || ul_add(&lin, c)) { err = -1; break; }
      }
      kinfo *ki = kernel(&d, rk, 0);
      for (size_t i = 0; ki && i < ki->children.n; i++) {
        kinfo *x = kernel(&d, ki->children.v[i], 0);
        if (--x->indeg == 0) queue[qt++] = x->k;
      }
    }
    for (size_t i = 0; i < d.nk && !err; i++)
      if (d.ks[i].indeg) err = tg_err(TG_ERR_INTERNAL, "cycle detected in assign graph");
    if (!err) ret = tg_uop_new(TG_OP_LINEAR, TG_DT_VOID, lin.v, lin.n, tg_arg_none());
    free(queue), free(lin.v);
  }
  dag_free(&d);
  tgs_pool_free(&P);
  return ret;
}

/* ================ create_linear_with_vars ================ */

typedef struct resolve_ctx { tg_uop *call; tg_ptrset created; tgs_pool P; } resolve_ctx;

static tg_uop *resolve_param(tg_rw *rw, tg_uop *x) {
  resolve_ctx *c = rw->ctx;
  int64_t slot = tgs_pa_slot(x);
  if (slot < 0) return NULL;
  if (slot + 1 >= (int64_t)c->call->nsrc) return tg_err(TG_ERR_INTERNAL, "PARAM slot %lld has no call argument", (long long)slot), tg_rw_fail(rw);
  return tg_uop_retain(c->call->src[slot + 1]);
}

static tg_uop *create_new_buffer(tg_rw *rw, tg_uop *b) {
  resolve_ctx *c = rw->ctx;
  if (!tgs_is_paramarg(&b->arg) || tgs_pa_addrspace(b) != TGS_AS_GLOBAL) return NULL;
  uint64_t *v = tg_ptrset_get(&c->created, b);
  if (v) return tg_uop_retain((tg_uop *)(uintptr_t)*v);
  tgs_shp s;
  if (tgs_shape(b, &s) != 1) return tg_rw_fail(rw);
  if (tg_dt_is_weak((tg_dtype)b->dtype)) return tg_err(TG_ERR_DTYPE, "cannot create storage for weak dtype"), tg_rw_fail(rw);
  tgs_pool P = {0};
  tg_uop *n = tgs_ci(&P, tgs_prod(s.d, s.n));
  tg_arg it[TG_PARAMARG_COUNT];
  tg_arg pa = tgs_paramarg(it, tg_schedule_next_slot(), b->dtype, tgs_pa_device(b), TGS_AS_GLOBAL);
  tg_uop *nb = n ? tg_uop_new(TG_OP_BUFFER, b->dtype, &n, 1, pa) : NULL;
  tgs_pool_free(&P);
  if (!nb || !tgs_hold(&c->P, tg_uop_retain(nb)) || !tg_ptrset_put(&c->created, b, (uint64_t)(uintptr_t)nb)) {
    tg_uop_release(nb);
    return tg_rw_fail(rw);
  }
  return nb;
}

static int streq(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }
static int is_disk(const char *d) { return d && !strncmp(d, "DISK", 4); }

/* NOTE: tinygrad runs sym+pm_mops+pm_flatten_range+pm_simplify_ranges over a cross-device copy kernel here (a codegen for
** SDMA devices); the copy kernels get_kernel_graph makes are already flat (pm_copy_to_store flattens both sides), so
** the pass leaves them as they are and is not run. */
static tg_uop *simplify_copy_kernel(tg_rw *rw, tg_uop *call, tg_uop *ast, tg_uop *dst, tg_uop *src) {
  (void)rw, (void)call, (void)ast, (void)dst, (void)src;
  return NULL;
}

static tg_uop *copy_kernel_to_copy_uop(tg_rw *rw, tg_uop *call, tg_uop *dst, tg_uop *src) {
  const char *dd = tgs_device(dst), *sd = tgs_device(src);
  if (streq(dd, sd) && !is_disk(dd)) return NULL;
  tg_uop *cp = tg_uop_new(TG_OP_COPY, src->dtype, &src, 1, dd ? tg_arg_str(dd) : tg_arg_none());
  if (!cp) return tg_rw_fail(rw);
  tg_uop **s = malloc(call->nsrc * sizeof *s);
  if (!s) return tg_uop_release(cp), oom(), tg_rw_fail(rw);
  memcpy(s, call->src, call->nsrc * sizeof *s);
  s[0] = cp;
  tg_uop *r = tg_uop_replace(call, (tg_op)call->op, call->dtype, s, call->nsrc, NULL, NULL);
  free(s);
  tg_uop_release(cp);
  return r ? r : tg_rw_fail(rw);
}

static int gate_all(tg_uop *x, void *ctx) { return (void)x, (void)ctx, 1; }

static tg_uop *assert_all_same_devices(tg_rw *rw, tg_uop *ast) {
  size_t n;
  tg_uop **t = tgs_toposort(ast, gate_all, NULL, 1, &n);
  if (!t) return tg_rw_fail(rw);
  const char *first = NULL;
  int bad = 0;
  for (size_t i = 0; i < n && !bad; i++) {
    if (t[i]->op != TG_OP_PARAM) continue;
    const char *d = tgs_pa_device(t[i]);
    if (!d) continue;
    if (!first) first = d;
    else bad = strcmp(first, d) != 0;
  }
  free(t);
  if (bad) return tg_err(TG_ERR_INVALID_ARGUMENT, "all buffers must be on the same device"), tg_rw_fail(rw);
  return NULL;
}

#include "schedule/schedule_rules.inc"

/* The function body must be a plain tensor graph on one device with no Variables. */
static int check_supported(tg_uop *call) {
  if (call->op != TG_OP_CALL || call->nsrc < 1 || call->src[0]->op != TG_OP_SINK)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_schedule_linear: expected CALL(SINK(...), *buffers), got %s", tg_op_name((tg_op)call->op)), -1;
  for (size_t i = 1; i < call->nsrc; i++) {
    tg_uop *a = call->src[i];
    if (tgs_is_bound_var(a) || tgs_is_variable(a)) return tg_err(TG_ERR_UNSUPPORTED, "scheduler: Variables are not supported yet"), -1;
    if (a->op == TG_OP_BUFFER && tgs_is_paramarg(&a->arg) && a->arg.items[TG_PARAMARG_DEVICE].kind == TG_ARG_TUPLE)
      return tg_err(TG_ERR_UNSUPPORTED, "scheduler: multi-device buffers are not supported"), -1;
  }
  return 0;
}

/* tinygrad's schedule_cache (SCACHE=0 turns it off): function body -> its LINEAR before the call's arguments are bound.
** The body names its buffers by PARAM slot, so every eager (a+b).realize() has the same body and skips the kernel graph
** and create_schedule. Keys are retained: an interned UOp that stays alive keeps its address, so pointer equality is
** structural equality for as long as the entry exists. */
static pthread_mutex_t scache_mu = PTHREAD_MUTEX_INITIALIZER;
static tg_ptrset scache; /* body -> linear, both retained */

static tg_uop *scache_get(tg_uop *body) {
  pthread_mutex_lock(&scache_mu);
  uint64_t *v = scache.cap ? tg_ptrset_get(&scache, body) : NULL;
  tg_uop *r = v ? tg_uop_retain((tg_uop *)(uintptr_t)*v) : NULL;
  pthread_mutex_unlock(&scache_mu);
  return r;
}

static void scache_put(tg_uop *body, tg_uop *linear) {
  pthread_mutex_lock(&scache_mu);
  if ((scache.cap || tg_ptrset_init(&scache, 64)) && !tg_ptrset_get(&scache, body) &&
      tg_ptrset_put(&scache, body, (uint64_t)(uintptr_t)linear)) /* out of memory: simply not cached */
    tg_uop_retain(body), tg_uop_retain(linear);
  pthread_mutex_unlock(&scache_mu);
}

void tg_schedule_cache_clear(void) {
  pthread_mutex_lock(&scache_mu);
  for (size_t i = 0; i < scache.cap; i++)
    if (scache.keys[i]) tg_uop_release((tg_uop *)(uintptr_t)scache.vals[i]), tg_uop_release((tg_uop *)scache.keys[i]);
  tg_ptrset_free(&scache);
  scache.n = scache.cap = 0;
  pthread_mutex_unlock(&scache_mu);
}

/* lower_sink_to_linear: the body's kernel graph, scheduled; a new reference or NULL with the error set. */
static tg_uop *lower_sink_to_linear(tg_uop *body) {
  int use_cache = tg_getenv_int("SCACHE", 1) != 0;
  tg_uop *linear = use_cache ? scache_get(body) : NULL;
  if (linear) return linear;
  tgs_pool P = {0};
  tg_uop *kg = tgs_hold(&P, tg_schedule_kernel_graph(body));
  if (kg && (linear = tg_schedule_create(kg)) && use_cache) scache_put(body, linear);
  tgs_pool_free(&P);
  return linear;
}

tg_status tg_schedule_linear(tg_uop *call, tg_uop **out_linear) {
  if (!call || !out_linear) return tg_err(TG_ERR_NULL_POINTER, "tg_schedule_linear: NULL argument");
  *out_linear = NULL;
  tgs_clear_status();
  if (check_supported(call)) return tgs_last_status();
  if (tgs_session_begin()) return tgs_last_status();
  tgs_pool P = {0};
  /* lower_sink_to_linear on the function body */
  tg_uop *linear = tgs_hold(&P, lower_sink_to_linear(call->src[0]));
  /* resolve_linear_call: PARAMs become the call's arguments, the body's BUFFERs become new buffers */
  resolve_ctx rc = {.call = call};
  if (linear && !tg_ptrset_init(&rc.created, 16)) linear = NULL, oom();
  if (linear) linear = tgs_hold(&P, tg_graph_rewrite(linear, tg_pm_sch_post_sched_cache(), &rc, TG_RW_WALK, NULL));
  /* create COPY kernels */
  if (linear) linear = tgs_rewrite(&P, linear, tg_pm_sch_copy_from_store(), NULL, 0);
  /* memory planning: the call's own buffers are held by the caller */
  if (linear) {
    tg_uop **held = malloc(call->nsrc * sizeof *held);
    size_t nh = 0;
    if (!held) linear = NULL, oom();
    for (size_t i = 1; held && i < call->nsrc; i++)
      if (call->src[i]->op == TG_OP_BUFFER) held[nh++] = call->src[i];
    if (held) linear = tgs_hold(&P, tg_schedule_memory_plan(linear, held, nh));
    free(held);
  }
  if (linear) *out_linear = tg_uop_retain(linear);
  tg_ptrset_free(&rc.created);
  tgs_pool_free(&rc.P);
  tgs_pool_free(&P);
  tgs_session_end();
  return *out_linear ? TG_OK : tgs_last_status();
}
