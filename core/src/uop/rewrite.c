/* uop/rewrite.c -- tinygrad 0.14.0's UPat.match, PatternMatcher and graph_rewrite (uop/ops.py, "class UPat" on). */
#include "uop/rewrite.h"

#include <pthread.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tgc_internal.h"

#define REWRITE_STACK_LIMIT 250000 /* tinygrad's REWRITE_STACK_LIMIT default */

static int oom(void) { tg_err(TG_ERR_OUT_OF_MEMORY, "graph_rewrite: out of memory"); return -1; }

/* ================= UPat.match ================= */

/* Python's == between two args: numbers compare by value (0 == 0.0 == False), everything else structurally. */
static int arg_py_eq(const tg_arg *a, const tg_arg *b) {
  tg_num x = tg_num_of_arg(a), y = tg_num_of_arg(b);
  if (x.kind != TG_NUM_NONE && x.kind != TG_NUM_INVALID && y.kind != TG_NUM_NONE && y.kind != TG_NUM_INVALID)
    return tg_num_equal(x, y);
  return tg_arg_eq(a, b);
}

/* A list of (pattern, uop) pairs still to match, innermost first: the continuation of the depth-first search. */
typedef struct goal {
  const tg_upat *p;
  tg_uop *u;
  const struct goal *next;
} goal;

typedef struct mstate {
  tg_uop *b[TG_UPAT_MAX_SLOTS];
  uint32_t bound; /* bit per slot */
  /* what a complete match does: call the rule, or a test visitor */
  tg_rule_fn fn;
  tg_rw *rw;
  tg_uop *root, *result;
  int (*visit)(tg_uop *const *b, void *user);
  void *user;
  size_t nmatch;
} mstate;

static int solve(mstate *m, const goal *g);

static int complete(mstate *m) {
  m->nmatch++;
  tg_uop *b[TG_UPAT_MAX_SLOTS];
  for (int i = 0; i < TG_UPAT_MAX_SLOTS; i++) b[i] = (m->bound >> i) & 1 ? m->b[i] : NULL;
  if (m->visit) return m->visit(b, m->user);
  m->result = m->fn(m->rw, b, m->root);
  return m->result != NULL || (m->rw && (m->rw->failed || m->rw->gate));
}

/* Next permutation of idx[0..n) in lexicographic order (itertools.permutations order); 0 after the last. */
static int next_perm(uint8_t *idx, int n) {
  int i = n - 2;
  while (i >= 0 && idx[i] >= idx[i + 1]) i--;
  if (i < 0) return 0;
  int j = n - 1;
  while (idx[j] <= idx[i]) j--;
  uint8_t t = idx[i]; idx[i] = idx[j]; idx[j] = t;
  for (int a = i + 1, z = n - 1; a < z; a++, z--) { t = idx[a]; idx[a] = idx[z]; idx[z] = t; }
  return 1;
}

/* Matches sources of u against the patterns p->src[order[i]] (or the repeated one), then continues with next. */
static int solve_srcs(mstate *m, const tg_upat *p, tg_uop *u, const uint8_t *order, const goal *next) {
  size_t n = p->mode == TG_UPAT_SRC_REPEAT ? u->nsrc : (p->nsrc < u->nsrc ? p->nsrc : u->nsrc);
  if (n == 0) return solve(m, next);
  goal stackbuf[8], *gs = n <= 8 ? stackbuf : malloc(n * sizeof *gs);
  if (!gs) { oom(); if (m->rw) m->rw->failed = 1; return 1; }
  for (size_t i = 0; i < n; i++) {
    gs[i].p = p->mode == TG_UPAT_SRC_REPEAT ? p->src[0] : p->src[order ? order[i] : i];
    gs[i].u = u->src[i];
    gs[i].next = i + 1 < n ? &gs[i + 1] : next;
  }
  int r = solve(m, &gs[0]);
  if (gs != stackbuf) free(gs);
  return r;
}

static int solve(mstate *m, const goal *g) {
  if (!g) return complete(m);
  const tg_upat *p = g->p;
  tg_uop *u = g->u;
  uint32_t saved = m->bound;
  if (p->mode == TG_UPAT_ANY) {
    for (int i = 0; i < p->nsrc; i++) {
      goal alt = {p->src[i], u, g->next};
      if (solve(m, &alt)) return 1;
      m->bound = saved;
    }
    return 0;
  }
  if (p->has_ops && !tg_opset_has(p->ops, (tg_op)u->op)) return 0;
  if (p->slot >= 0) {
    if ((m->bound >> p->slot) & 1) {
      if (m->b[p->slot] != u) return 0;
    } else {
      m->b[p->slot] = u;
      m->bound |= 1u << p->slot;
    }
  }
  int ok = (!p->has_dtypes || (u->dtype < 64 && ((p->dtypes >> u->dtype) & 1))) && (!p->arg || arg_py_eq(p->arg, &u->arg));
  if (ok && p->tags) {
    ok = 0;
    for (int i = 0; i < p->ntags && !ok; i++) ok = arg_py_eq(&p->tags[i], &u->tag);
  }
  int required = p->mode == TG_UPAT_SRC_TUPLE || p->mode == TG_UPAT_SRC_PERM ? p->nsrc : 0;
  int strict = (p->mode == TG_UPAT_SRC_TUPLE || p->mode == TG_UPAT_SRC_PERM) && !p->allow_any_len;
  if (ok && (u->nsrc < required || (strict && u->nsrc != required))) ok = 0;
  int r = 0;
  if (!ok) r = 0;
  else if (p->mode == TG_UPAT_SRC_NONE) r = solve(m, g->next);
  else if (p->mode == TG_UPAT_SRC_PERM) {
    uint8_t order[16];
    int n = p->nsrc > 16 ? 16 : p->nsrc;
    for (int i = 0; i < n; i++) order[i] = (uint8_t)i;
    do {
      if ((r = solve_srcs(m, p, u, order, g->next))) break;
      m->bound = saved | (p->slot >= 0 ? 1u << p->slot : 0);
    } while (next_perm(order, n));
  } else r = solve_srcs(m, p, u, NULL, g->next);
  if (!r) m->bound = saved;
  return r;
}

tg_uop *tg_upat_apply(const tg_upat *p, tg_uop *u, tg_rule_fn fn, tg_rw *rw) {
  mstate m;
  m.bound = 0;
  m.fn = fn;
  m.rw = rw;
  m.root = u;
  m.result = NULL;
  m.visit = NULL;
  goal g = {p, u, NULL};
  solve(&m, &g);
  return m.result;
}

size_t tg_upat_each_match(const tg_upat *p, tg_uop *u, int (*visit)(tg_uop *const *b, void *user), void *user) {
  mstate m;
  m.bound = 0;
  m.fn = NULL;
  m.rw = NULL;
  m.root = u;
  m.result = NULL;
  m.visit = visit;
  m.user = user;
  m.nmatch = 0;
  goal g = {p, u, NULL};
  solve(&m, &g);
  return m.nmatch;
}

/* ================= PatternMatcher ================= */

struct tg_pm {
  size_t n;
  const tg_rule **rules;
  tg_opset *early_reject;         /* per rule: ops that must appear among the matched UOp's sources */
  uint32_t start[TG_OP_COUNT + 1]; /* pdict: rules for op k are byop[start[k]..start[k+1]) */
  uint32_t *byop;
};

static int popcount_opset(tg_opset s) { return __builtin_popcountll(s.w[0]) + __builtin_popcountll(s.w[1]); }

/* tinygrad's early_reject: the single ops of the first source tuple (or of the repeated source) */
static tg_opset early_reject_of(const tg_upat *p) {
  tg_opset e = {{0, 0}};
  size_t n = p->mode == TG_UPAT_SRC_REPEAT ? 1 : (p->mode == TG_UPAT_SRC_TUPLE || p->mode == TG_UPAT_SRC_PERM) ? p->nsrc : 0;
  for (size_t i = 0; i < n; i++) {
    const tg_upat *s = p->src[i];
    if (s->mode == TG_UPAT_ANY || !s->has_ops || popcount_opset(s->ops) != 1) continue;
    e.w[0] |= s->ops.w[0];
    e.w[1] |= s->ops.w[1];
  }
  return e;
}

static tg_pm *pm_build(const tg_rule **rules, size_t n) {
  tg_pm *pm = calloc(1, sizeof *pm);
  if (!pm) return oom(), NULL;
  pm->n = n;
  pm->rules = malloc((n ? n : 1) * sizeof *pm->rules);
  pm->early_reject = malloc((n ? n : 1) * sizeof *pm->early_reject);
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += (size_t)popcount_opset(rules[i]->pat->ops);
  pm->byop = malloc((total ? total : 1) * sizeof *pm->byop);
  if (!pm->rules || !pm->early_reject || !pm->byop) { tg_pm_free(pm); return oom(), NULL; }
  for (size_t i = 0; i < n; i++) {
    if (!rules[i]->pat->has_ops || rules[i]->pat->mode == TG_UPAT_ANY) {
      tg_err(TG_ERR_INVALID_ARGUMENT, "PatternMatcher: the pattern of rule %zu (%s) names no op", i, rules[i]->loc ? rules[i]->loc : "?");
      tg_pm_free(pm);
      return NULL;
    }
    pm->rules[i] = rules[i];
    pm->early_reject[i] = early_reject_of(rules[i]->pat);
  }
  uint32_t k = 0;
  for (int op = 0; op < TG_OP_COUNT; op++) {
    pm->start[op] = k;
    for (size_t i = 0; i < n; i++)
      if (tg_opset_has(rules[i]->pat->ops, (tg_op)op)) pm->byop[k++] = (uint32_t)i;
  }
  pm->start[TG_OP_COUNT] = k;
  return pm;
}

tg_pm *tg_pm_new(const tg_rule *rules, size_t n) {
  const tg_rule **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
  if (!ptrs) return oom(), NULL;
  for (size_t i = 0; i < n; i++) ptrs[i] = &rules[i];
  tg_pm *pm = pm_build(ptrs, n);
  free(ptrs);
  return pm;
}

tg_pm *tg_pm_concat(const tg_pm *const *parts, size_t n) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (!parts[i]) return tg_err(TG_ERR_NULL_POINTER, "PatternMatcher +: part %zu is NULL", i), NULL;
    total += parts[i]->n;
  }
  const tg_rule **ptrs = malloc((total + 1) * sizeof *ptrs), **at = ptrs;
  if (!ptrs) return oom(), NULL;
  for (size_t i = 0; i < n; i++) {
    memcpy(at, parts[i]->rules, parts[i]->n * sizeof *ptrs);
    at += parts[i]->n;
  }
  tg_pm *pm = pm_build(ptrs, total);
  free(ptrs);
  return pm;
}

tg_pm *tg_pm_cat(const tg_pm *a, const tg_pm *b) { return tg_pm_concat((const tg_pm *[]){a, b}, 2); }

void tg_pm_free(tg_pm *pm) {
  if (!pm) return;
  free(pm->rules);
  free(pm->early_reject);
  free(pm->byop);
  free(pm);
}

size_t tg_pm_size(const tg_pm *pm) { return pm ? pm->n : 0; }

tg_uop *tg_pm_rewrite(const tg_pm *pm, tg_uop *u, tg_rw *rw) {
  if (u->op >= TG_OP_COUNT) return NULL;
  uint32_t lo = pm->start[u->op], hi = pm->start[u->op + 1];
  if (lo == hi) return NULL;
  tg_opset ler = {{0, 0}};
  for (size_t i = 0; i < u->nsrc; i++) ler.w[u->src[i]->op >> 6] |= 1ull << (u->src[i]->op & 63);
  for (uint32_t k = lo; k < hi; k++) {
    uint32_t i = pm->byop[k];
    tg_opset e = pm->early_reject[i];
    if ((e.w[0] & ~ler.w[0]) || (e.w[1] & ~ler.w[1])) continue;
    tg_uop *r = tg_upat_apply(pm->rules[i]->pat, u, pm->rules[i]->fn, rw);
    if (rw->failed || rw->gate) {
      if (rw->failed && getenv("TG_RW_DEBUG")) fprintf(stderr, "graph_rewrite: rule %s failed: %s\n", pm->rules[i]->loc, tg_last_error());
      tg_uop_release(r);
      return NULL;
    }
    if (r == u) { tg_uop_release(r); continue; } /* a rule answering with the node itself is no rewrite */
    if (r) return r;
  }
  return NULL;
}

/* ================= pointer-keyed hash map ================= */

typedef struct pmap {
  tg_uop **keys;
  uintptr_t *vals;
  size_t cap, n;
} pmap;

static size_t ptr_hash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
  return (size_t)x;
}

static int pmap_find(const pmap *m, const tg_uop *k, size_t *slot) {
  if (!m->cap) return 0;
  size_t mask = m->cap - 1, i = ptr_hash(k) & mask;
  while (m->keys[i]) {
    if (m->keys[i] == k) { *slot = i; return 1; }
    i = (i + 1) & mask;
  }
  *slot = i;
  return 0;
}

static int pmap_get(const pmap *m, const tg_uop *k, uintptr_t *v) {
  size_t s;
  if (!pmap_find(m, k, &s)) return 0;
  if (v) *v = m->vals[s];
  return 1;
}

static int pmap_grow(pmap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 64;
  tg_uop **nk = calloc(ncap, sizeof *nk);
  uintptr_t *nv = calloc(ncap, sizeof *nv);
  if (!nk || !nv) { free(nk); free(nv); return oom(); }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = ptr_hash(m->keys[i]) & (ncap - 1);
    while (nk[j]) j = (j + 1) & (ncap - 1);
    nk[j] = m->keys[i];
    nv[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->cap = ncap;
  return 0;
}

/* Inserts or overwrites; 1 when the key was new, 0 when it existed, -1 out of memory. */
static int pmap_put(pmap *m, tg_uop *k, uintptr_t v) {
  if ((m->n + 1) * 2 > m->cap && pmap_grow(m)) return -1; /* load <= 1/2: short linear probes */
  size_t s = 0;
  if (pmap_find(m, k, &s)) { m->vals[s] = v; return 0; }
  m->keys[s] = k;
  m->vals[s] = v;
  m->n++;
  return 1;
}

static void pmap_free(pmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

/* ================= graph_rewrite ================= */

typedef struct entry {
  tg_uop *n, *nn; /* the node, and what it is being rebuilt as (tinygrad's new_n) */
  int stage;
} entry;

typedef struct wnode { entry e; int next; } wnode;
typedef struct wlist { int head, tail; } wlist;

typedef struct rctx {
  const tg_pm *pm, *bpm;
  tg_rw rw;
  int enter_calls;
  pmap pool;      /* every UOp this rewrite owns a reference to: released at the end */
  pmap replace;   /* node -> its final rewrite */
  pmap bpm_cache; /* node -> bpm result (0 for none) */
  pmap on_stack;
  pmap waitlist;  /* node -> index into wl */
  entry *stack;
  size_t sn, scap;
  wnode *wn;
  size_t wnn, wncap;
  wlist *wl;
  size_t wln, wlcap;
} rctx;

/* Takes ownership of a new reference (the pool already holding u releases the duplicate). */
static int adopt(rctx *c, tg_uop *u) {
  int r = pmap_put(&c->pool, u, 0);
  if (r <= 0) tg_uop_release(u);
  return r < 0 ? -1 : 0;
}

static int push(rctx *c, tg_uop *n, int stage, tg_uop *nn) {
  if (c->sn == c->scap) {
    size_t ncap = c->scap ? c->scap * 2 : 256;
    entry *s = realloc(c->stack, ncap * sizeof *s);
    if (!s) return oom();
    c->stack = s;
    c->scap = ncap;
  }
  c->stack[c->sn++] = (entry){n, nn, stage};
  return 0;
}

static int wait_on(rctx *c, tg_uop *dep, entry e) {
  uintptr_t li;
  if (!pmap_get(&c->waitlist, dep, &li)) {
    if (c->wln == c->wlcap) {
      size_t ncap = c->wlcap ? c->wlcap * 2 : 64;
      wlist *w = realloc(c->wl, ncap * sizeof *w);
      if (!w) return oom();
      c->wl = w;
      c->wlcap = ncap;
    }
    li = c->wln++;
    c->wl[li] = (wlist){-1, -1};
    if (pmap_put(&c->waitlist, dep, li) < 0) return -1;
  }
  if (c->wnn == c->wncap) {
    size_t ncap = c->wncap ? c->wncap * 2 : 64;
    wnode *w = realloc(c->wn, ncap * sizeof *w);
    if (!w) return oom();
    c->wn = w;
    c->wncap = ncap;
  }
  int idx = (int)c->wnn++;
  c->wn[idx] = (wnode){e, -1};
  wlist *l = &c->wl[li];
  if (l->tail >= 0) c->wn[l->tail].next = idx;
  else l->head = idx;
  l->tail = idx;
  return 0;
}

/* replace[n] = v, then everything waiting on n goes back on the stack (waitlist.pop(n)) */
static int set_replace(rctx *c, tg_uop *n, tg_uop *v) {
  if (pmap_put(&c->replace, n, (uintptr_t)v) < 0) return -1;
  uintptr_t li;
  if (!pmap_get(&c->waitlist, n, &li)) return 0;
  wlist *l = &c->wl[li];
  for (int i = l->head; i >= 0; i = c->wn[i].next)
    if (push(c, c->wn[i].e.n, c->wn[i].e.stage, c->wn[i].e.nn)) return -1;
  l->head = l->tail = -1;
  return 0;
}

static tg_uop *get_replace(rctx *c, tg_uop *n) {
  uintptr_t v;
  return pmap_get(&c->replace, n, &v) ? (tg_uop *)v : NULL;
}

/* RewriteContext.cached_bpm_rewrite. Returns 0 with *out (NULL for no rewrite), 1 when the rule raised the gate,
** -1 on failure. */
static int cached_bpm(rctx *c, tg_uop *x, tg_uop **out) {
  uintptr_t v;
  if (pmap_get(&c->bpm_cache, x, &v)) { *out = (tg_uop *)v; return 0; }
  tg_uop *r = tg_pm_rewrite(c->bpm, x, &c->rw);
  if (c->rw.failed) return -1;
  if (c->rw.gate) { c->rw.gate = 0; return 1; }
  if (r && adopt(c, r)) return -1;
  if (pmap_put(&c->bpm_cache, x, (uintptr_t)r) < 0) return -1;
  *out = r;
  return 0;
}

static int pm_rewrite(rctx *c, tg_uop *x, tg_uop **out) {
  tg_uop *r = tg_pm_rewrite(c->pm, x, &c->rw);
  if (c->rw.failed) return -1;
  if (c->rw.gate) { c->rw.gate = 0; return tg_err(TG_ERR_INTERNAL, "graph_rewrite: BottomUpGate raised by a top-down rule"), -1; }
  if (r && adopt(c, r)) return -1;
  *out = r;
  return 0;
}

/* FUNCTION bodies and opaque CALL bodies are not entered unless enter_calls */
static int is_opaque_call(tg_uop *n) {
  if (n->op == TG_OP_FUNCTION) return n->nsrc > 0;
  if (n->op != TG_OP_CALL || n->nsrc == 0) return 0;
  int b = n->src[0]->op;
  return b == TG_OP_SINK || b == TG_OP_PROGRAM || b == TG_OP_LINEAR || b == TG_OP_COPY || b == TG_OP_CUSTOM_FUNCTION;
}

/* UOp(n.op, _rebuild_dtype(n, new_src), new_src, n.arg, n.tag), adopted by the pool */
static tg_uop *rebuild(rctx *c, tg_uop *n, tg_uop *const *src) {
  int dt = n->dtype, same = 1;
  for (size_t i = 0; i < n->nsrc; i++) same &= src[i]->dtype == n->src[i]->dtype;
  if (!same) {
    int d = tg_uop_infer_dtype((tg_op)n->op, src, n->nsrc, &n->arg);
    if (d == -2) return NULL;
    if (d >= 0) dt = d;
  }
  tg_uop *r = tg_uop_new_tagged((tg_op)n->op, dt, src, n->nsrc, n->arg, n->tag);
  if (!r || adopt(c, r)) return NULL;
  return r;
}

static tg_uop **src_buf(size_t n, tg_uop **small, size_t nsmall) { return n <= nsmall ? small : malloc(n * sizeof(tg_uop *)); }

/* RewriteContext.unified_rewrite */
static int unified_rewrite(rctx *c, tg_uop *root) {
  if (push(c, root, 0, root) || pmap_put(&c->on_stack, root, 1) < 0) return -1;
  tg_uop *small[8];
  while (c->sn) {
    if (c->sn > REWRITE_STACK_LIMIT) return tg_err(TG_ERR_INTERNAL, "infinite loop in graph_rewrite (stack too big)"), -1;
    entry e = c->stack[--c->sn];
    tg_uop *n = e.n, *nn = e.nn;
    if (pmap_get(&c->replace, n, NULL)) continue;
    if (e.stage == 0) {
      if (c->bpm) {
        /* apply the bottom-up rules to a fixed point */
        tg_uop *test = n, *seen_small[16], **seen = seen_small;
        size_t nseen = 0, seencap = 16;
        int gated = 0, err = 0;
        while (test) {
          for (size_t i = 0; i < nseen && !err; i++)
            if (seen[i] == test) err = tg_err(TG_ERR_INTERNAL, "infinite loop in fixed_point_rewrite");
          if (err) break;
          if (nseen == seencap) {
            tg_uop **ns = malloc(seencap * 2 * sizeof *ns);
            if (!ns) { err = oom(); break; }
            memcpy(ns, seen, nseen * sizeof *ns);
            if (seen != seen_small) free(seen);
            seen = ns;
            seencap *= 2;
          }
          seen[nseen++] = test;
          tg_uop *next;
          int g = cached_bpm(c, test, &next);
          if (g < 0) { err = -1; break; }
          if (g == 1) { gated = 1; break; }
          nn = test;
          test = next;
        }
        if (seen != seen_small) free(seen);
        if (err) return -1;
        if (gated) { /* BottomUpGate: done with this node, its sources are not visited */
          if (set_replace(c, n, test)) return -1;
          continue;
        }
      }
      if (push(c, n, 1, nn)) return -1;
      if (!c->enter_calls && is_opaque_call(nn) && pmap_put(&c->replace, nn->src[0], (uintptr_t)nn->src[0]) < 0) return -1;
      for (size_t i = nn->nsrc; i-- > 0;) {
        tg_uop *x = nn->src[i];
        int r = pmap_put(&c->on_stack, x, 1);
        if (r < 0) return -1;
        if (r == 0) continue;
        if (push(c, x, 0, x)) return -1;
      }
    } else if (e.stage == 1) {
      tg_uop **tmp = src_buf(nn->nsrc, small, 8);
      if (!tmp) return oom();
      size_t i = 0;
      int changed = 0;
      for (; i < nn->nsrc; i++) {
        tg_uop *rx = get_replace(c, nn->src[i]);
        if (!rx) break;
        tmp[i] = rx;
        changed |= rx != nn->src[i];
      }
      if (i < nn->nsrc) { /* a source is not ready: wait for it instead of spinning */
        int r = wait_on(c, nn->src[i], e);
        if (tmp != small) free(tmp);
        if (r) return -1;
        continue;
      }
      tg_uop *nsn = NULL;
      if (!changed) {
        if (c->pm && pm_rewrite(c, nn, &nsn)) { if (tmp != small) free(tmp); return -1; }
        if (!nsn) {
          if (tmp != small) free(tmp);
          if (set_replace(c, n, nn)) return -1;
          continue;
        }
      } else if (!(nsn = rebuild(c, nn, tmp))) {
        if (tmp != small) free(tmp);
        return -1;
      }
      if (tmp != small) free(tmp);
      /* rewrite the new node, then link its result back to n */
      if (push(c, n, 2, nsn) || push(c, nsn, 0, nsn)) return -1;
    } else {
      tg_uop *r = get_replace(c, nn);
      if (!r) {
        if (wait_on(c, nn, e)) return -1;
      } else if (set_replace(c, n, r)) return -1;
    }
  }
  return 0;
}

/* RewriteContext.walk_rewrite: one pass, no re-traversal into rewritten subtrees */
static int walk_rewrite(rctx *c, tg_uop *root) {
  if (push(c, root, 0, NULL)) return -1;
  tg_uop *small[8];
  while (c->sn) {
    entry e = c->stack[--c->sn];
    tg_uop *n = e.n;
    if (pmap_get(&c->replace, n, NULL)) continue;
    if (e.stage == 0) {
      if (c->bpm) {
        tg_uop *r;
        int g = cached_bpm(c, n, &r);
        if (g < 0) return -1;
        if (g == 1) return tg_err(TG_ERR_INTERNAL, "graph_rewrite: BottomUpGate raised in a walk rewrite"), -1;
        if (r) {
          if (set_replace(c, n, r)) return -1;
          continue;
        }
      }
      if (push(c, n, 1, NULL)) return -1;
      if (!c->enter_calls && is_opaque_call(n) && pmap_put(&c->replace, n->src[0], (uintptr_t)n->src[0]) < 0) return -1;
      for (size_t i = n->nsrc; i-- > 0;)
        if (!pmap_get(&c->replace, n->src[i], NULL) && push(c, n->src[i], 0, NULL)) return -1;
    } else {
      tg_uop **tmp = src_buf(n->nsrc, small, 8);
      if (!tmp) return oom();
      int changed = 0;
      for (size_t i = 0; i < n->nsrc; i++) {
        tg_uop *r = get_replace(c, n->src[i]);
        tmp[i] = r ? r : n->src[i];
        changed |= tmp[i] != n->src[i];
      }
      tg_uop *nn = changed ? rebuild(c, n, tmp) : n;
      if (tmp != small) free(tmp);
      if (!nn) return -1;
      tg_uop *r = NULL;
      if (c->pm && pm_rewrite(c, nn, &r)) return -1;
      if (set_replace(c, n, r ? r : nn)) return -1;
    }
  }
  return 0;
}

tg_uop *tg_graph_rewrite(tg_uop *sink, const tg_pm *pm, void *ctx, unsigned flags, const tg_pm *bpm) {
  if (!sink) return tg_err(TG_ERR_NULL_POINTER, "graph_rewrite: sink is NULL"), NULL;
  rctx c;
  memset(&c, 0, sizeof c);
  c.pm = (flags & TG_RW_BOTTOM_UP) ? NULL : pm;
  c.bpm = (flags & TG_RW_BOTTOM_UP) ? pm : bpm;
  c.rw.ctx = ctx;
  c.enter_calls = (flags & TG_RW_ENTER_CALLS) != 0;
  tg_uop *ret = NULL;
  if (pmap_put(&c.pool, tg_uop_retain(sink), 0) < 0) tg_uop_release(sink);
  else if ((flags & TG_RW_WALK) ? walk_rewrite(&c, sink) == 0 : unified_rewrite(&c, sink) == 0) {
    ret = get_replace(&c, sink);
    ret = tg_uop_retain(ret ? ret : sink);
  }
  for (size_t i = 0; i < c.pool.cap; i++)
    if (c.pool.keys[i]) tg_uop_release(c.pool.keys[i]);
  pmap_free(&c.pool);
  pmap_free(&c.replace);
  pmap_free(&c.bpm_cache);
  pmap_free(&c.on_stack);
  pmap_free(&c.waitlist);
  free(c.stack);
  free(c.wn);
  free(c.wl);
  return ret;
}

/* ---------------- substitute ---------------- */

typedef struct subst { tg_uop *const *keys, *const *vals; size_t n; } subst;

static tg_uop *substitute_rule(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  const subst *s = rw->ctx;
  for (size_t i = 0; i < s->n; i++)
    if (s->keys[i] == b[0]) return tg_uop_retain(s->vals[i]);
  return NULL;
}

/* _substitute = PatternMatcher([(UPat(tuple(Ops), name="x"), lambda ctx,x: ctx.get(x,None))]), built once */
static const tg_upat any_named = {.ops = {{~0ull, ~0ull}}, .has_ops = 1, .slot = 0};
static const tg_rule substitute_rules[] = {{&any_named, substitute_rule, "ops.py _substitute"}};
static tg_pm *substitute_pm;
static pthread_once_t substitute_once = PTHREAD_ONCE_INIT;
static void substitute_init(void) { substitute_pm = tg_pm_new(substitute_rules, 1); }

tg_uop *tg_uop_substitute(tg_uop *u, tg_uop *const *keys, tg_uop *const *vals, size_t n) {
  return tg_uop_substitute_ex(u, keys, vals, n, 0);
}

tg_uop *tg_uop_substitute_ex(tg_uop *u, tg_uop *const *keys, tg_uop *const *vals, size_t n, int walk) {
  int any = 0;
  for (size_t i = 0; i < n; i++) any |= keys[i] != vals[i];
  if (!any) return tg_uop_retain(u);
  pthread_once(&substitute_once, substitute_init);
  if (!substitute_pm) return tg_err(TG_ERR_OUT_OF_MEMORY, "substitute: out of memory"), NULL;
  subst s = {keys, vals, n};
  return tg_graph_rewrite(u, substitute_pm, &s, TG_RW_BOTTOM_UP | (walk ? TG_RW_WALK : 0), NULL);
}

/* ================= UOp arithmetic (ElementwiseMixin) ================= */

static int is_movement(int op) {
  return op == TG_OP_RESHAPE || op == TG_OP_EXPAND || op == TG_OP_PERMUTE || op == TG_OP_PAD || op == TG_OP_SHRINK || op == TG_OP_FLIP;
}
static tg_uop *base_of(tg_uop *u) {
  while ((is_movement(u->op) || u->op == TG_OP_DETACH) && u->nsrc) u = u->src[0];
  return u;
}
static int is_invalid(tg_uop *u) { return u->op == TG_OP_CONST && u->arg.kind == TG_ARG_INVALID; }

tg_uop *tg_um_const(int dtype, tg_num v) {
  if (v.kind == TG_NUM_INVALID) return tg_uop_const_invalid();
  if (dtype == TG_DT_AUTO) dtype = v.kind == TG_NUM_FLOAT ? TG_WEAKFLOAT : v.kind == TG_NUM_BOOL ? TG_BOOL : TG_WEAKINT;
  tg_num c;
  if (tg_num_dtype_const(dtype, v, &c)) return NULL;
  if (c.kind == TG_NUM_FLOAT) return tg_uop_const_float(dtype, c.f);
  if (c.kind == TG_NUM_BOOL) return tg_uop_const_bool((int)c.i);
  if (c.kind == TG_NUM_INT) return tg_uop_const_int(dtype, c.i);
  return tg_err(TG_ERR_INVALID_ARGUMENT, "UOp.const: no value"), NULL;
}

tg_uop *tg_um_const_like(tg_uop *u, tg_num v) { return tg_um_const(u->dtype, v); }
tg_uop *tg_um_ufix(tg_num v) { return tg_um_const(TG_DT_AUTO, v); }

tg_uop *tg_um_cast(tg_uop *u, int dtype) {
  if (u->dtype == dtype) return tg_uop_retain(u);
  return tg_uop_new(TG_OP_CAST, dtype, &u, 1, tg_arg_dtype(dtype));
}

tg_uop *tg_um_bitcast(tg_uop *u, int dtype) {
  if (tg_dt_is_weak((tg_dtype)u->dtype) || tg_dt_is_weak((tg_dtype)dtype))
    return tg_err(TG_ERR_DTYPE, "bitcast requires concrete dtypes, got %s -> %s", tg_dt_name((tg_dtype)u->dtype), tg_dt_name((tg_dtype)dtype)), NULL;
  if (u->dtype == dtype) return tg_uop_retain(u);
  return tg_uop_new(TG_OP_BITCAST, dtype, &u, 1, tg_arg_dtype(dtype));
}

/* _broadcasted's promote(t) */
static tg_uop *promote(tg_uop *t, int out) {
  tg_uop *b = base_of(t);
  if (is_invalid(b)) return tg_uop_retain(t);
  if (tg_dt_is_weak((tg_dtype)t->dtype) && b->op == TG_OP_CONST) return tg_um_const(tg_dt_weak((tg_dtype)out), tg_uop_val(b));
  return tg_um_cast(t, out);
}

static int broadcasted(tg_uop *x, tg_uop *y, tg_uop **px, tg_uop **py) {
  tg_dtype out = tg_dt_least_upper2((tg_dtype)x->dtype, (tg_dtype)y->dtype);
  if (out == TG_DT_NONE)
    return tg_err(TG_ERR_DTYPE, "no common dtype for %s and %s", tg_dt_name((tg_dtype)x->dtype), tg_dt_name((tg_dtype)y->dtype)), -1;
  *px = promote(x, out);
  *py = *px ? promote(y, out) : NULL;
  if (!*py) { tg_uop_release(*px); return -1; }
  return 0;
}

tg_uop *tg_um_alu(tg_op op, tg_uop *const *src, size_t n) { return tg_uop_alu(op, n, src); }

static tg_uop *alu2(tg_op op, tg_uop *a, tg_uop *b) { return tg_uop_alu(op, 2, (tg_uop *[]){a, b}); }

tg_uop *tg_um_binop(tg_op op, tg_uop *a, tg_uop *b) {
  tg_uop *x, *y;
  if (broadcasted(a, b, &x, &y)) return NULL;
  tg_uop *r = alu2(op, x, y);
  tg_uop_release(x);
  tg_uop_release(y);
  return r;
}

static tg_uop *num_binop(tg_op op, tg_uop *a, tg_num v) {
  tg_uop *c = tg_um_ufix(v);
  if (!c) return NULL;
  tg_uop *r = tg_um_binop(op, a, c);
  tg_uop_release(c);
  return r;
}

tg_uop *tg_um_logical_not(tg_uop *a) {
  tg_uop *b = tg_um_cast(a, TG_BOOL);
  if (!b) return NULL;
  tg_uop *r = num_binop(TG_OP_CMPNE, b, tg_num_b(1));
  tg_uop_release(b);
  return r;
}

tg_uop *tg_um_neg(tg_uop *a) { return a->dtype == TG_BOOL ? tg_um_logical_not(a) : num_binop(TG_OP_MUL, a, tg_num_i(-1)); }

tg_uop *tg_um_invert(tg_uop *a) { /* bitwise_not: x ^ -1 (logical_not for bool) */
  if (a->dtype == TG_BOOL) return tg_um_logical_not(a);
  if (!tg_dt_is_int((tg_dtype)a->dtype)) return tg_err(TG_ERR_DTYPE, "%s is not supported", tg_dt_name((tg_dtype)a->dtype)), NULL;
  return num_binop(TG_OP_XOR, a, tg_num_i(-1));
}

tg_uop *tg_um_sub(tg_uop *a, tg_uop *b) {
  tg_uop *x, *y;
  if (broadcasted(a, b, &x, &y)) return NULL;
  tg_uop *ny = tg_um_neg(y), *r = ny ? alu2(TG_OP_ADD, x, ny) : NULL;
  tg_uop_release(ny);
  tg_uop_release(x);
  tg_uop_release(y);
  return r;
}

/* div(x, rounding_mode): None -> true division, 1 -> "floor" */
static tg_uop *div_mode(tg_uop *a, tg_uop *b, int floor_mode) {
  tg_uop *x, *y, *r = NULL;
  if (broadcasted(a, b, &x, &y)) return NULL;
  if (tg_dt_is_int((tg_dtype)x->dtype) && tg_dt_is_int((tg_dtype)y->dtype) && floor_mode) {
    r = alu2(TG_OP_FLOORDIV, x, y);
  } else if (floor_mode) {
    tg_err(TG_ERR_UNSUPPORTED, "floor division of %s by %s is not ported", tg_dt_name((tg_dtype)x->dtype), tg_dt_name((tg_dtype)y->dtype));
  } else {
    tg_uop *xf = (tg_dt_is_int((tg_dtype)x->dtype) || x->dtype == TG_BOOL) ? tg_um_cast(x, tg_dt_default_float()) : tg_uop_retain(x);
    tg_uop *rc = xf ? tg_um_unary(TG_OP_RECIPROCAL, y) : NULL;
    r = rc ? alu2(TG_OP_MUL, xf, rc) : NULL;
    tg_uop_release(xf);
    tg_uop_release(rc);
  }
  tg_uop_release(x);
  tg_uop_release(y);
  return r;
}

tg_uop *tg_um_div(tg_uop *a, tg_uop *b) { return div_mode(a, b, 0); }
tg_uop *tg_um_floordiv(tg_uop *a, tg_uop *b) { return div_mode(a, b, 1); }

tg_uop *tg_um_mod(tg_uop *a, tg_uop *b) {
  tg_uop *x, *y, *r = NULL;
  if (broadcasted(a, b, &x, &y)) return NULL;
  if (tg_dt_is_int((tg_dtype)x->dtype) && tg_dt_is_int((tg_dtype)y->dtype)) r = alu2(TG_OP_FLOORMOD, x, y);
  else tg_err(TG_ERR_UNSUPPORTED, "float modulo is not ported");
  tg_uop_release(x);
  tg_uop_release(y);
  return r;
}

tg_uop *tg_um_eq(tg_uop *a, tg_uop *b) {
  tg_uop *ne = tg_um_binop(TG_OP_CMPNE, a, b);
  if (!ne) return NULL;
  tg_uop *r = tg_um_logical_not(ne);
  tg_uop_release(ne);
  return r;
}

tg_uop *tg_um_where(tg_uop *c, tg_uop *x, tg_uop *y) {
  tg_uop *px, *py;
  if (broadcasted(x, y, &px, &py)) return NULL;
  tg_uop *r = tg_uop_alu(TG_OP_WHERE, 3, (tg_uop *[]){c, px, py});
  tg_uop_release(px);
  tg_uop_release(py);
  return r;
}

tg_uop *tg_um_unary(tg_op op, tg_uop *u) { return tg_uop_alu(op, 1, &u); }

tg_uop *tg_um_minimum(tg_uop *a, tg_uop *b) {
  tg_uop *t, *x, *r = NULL;
  if (broadcasted(a, b, &t, &x)) return NULL;
  tg_dtype dt = tg_dt_least_upper2((tg_dtype)t->dtype, (tg_dtype)x->dtype);
  if (tg_dt_is_float(dt)) { /* -(-t).alu(MAX, -x) */
    tg_uop *nt = tg_um_neg(t), *nx = nt ? tg_um_neg(x) : NULL, *m = nx ? alu2(TG_OP_MAX, nt, nx) : NULL;
    r = m ? tg_um_neg(m) : NULL;
    tg_uop_release(nt); tg_uop_release(nx); tg_uop_release(m);
  } else { /* (t ^ k).alu(MAX, x ^ k) ^ k with k = dt.min + dt.max */
    tg_num k; /* signed: -1; unsigned: the all-ones max (uint64's wraps to -1 in int64); bool: True */
    if (dt == TG_BOOL) k = tg_num_b(1);
    else if (!tg_dt_is_unsigned(dt) || tg_dt_bitsize(dt) >= 64) k = tg_num_i(-1);
    else k = tg_num_i((int64_t)((1ull << tg_dt_bitsize(dt)) - 1));
    tg_uop *tk = num_binop(TG_OP_XOR, t, k), *xk = tk ? num_binop(TG_OP_XOR, x, k) : NULL, *m = xk ? alu2(TG_OP_MAX, tk, xk) : NULL;
    r = m ? num_binop(TG_OP_XOR, m, k) : NULL;
    tg_uop_release(tk); tg_uop_release(xk); tg_uop_release(m);
  }
  tg_uop_release(t);
  tg_uop_release(x);
  return r;
}

static tg_uop *fold_list(tg_uop *const *u, size_t n, tg_op intop, tg_op boolop) {
  tg_uop *acc = tg_uop_retain(u[0]);
  for (size_t i = 1; i < n && acc; i++) {
    tg_uop *next = tg_um_binop(u[0]->dtype == TG_BOOL ? boolop : intop, acc, u[i]);
    tg_uop_release(acc);
    acc = next;
  }
  return acc;
}
tg_uop *tg_um_usum(tg_uop *const *u, size_t n) { return fold_list(u, n, TG_OP_ADD, TG_OP_OR); }
tg_uop *tg_um_uprod(tg_uop *const *u, size_t n) { return fold_list(u, n, TG_OP_MUL, TG_OP_AND); }

/* ================= properties ================= */

static tg_num bound_num(tg_uop *u, int hi) {
  tg_bounds b = tg_uop_bounds(u);
  if (b.is_float) return tg_num_f(hi ? b.fmax : b.fmin);
  if (u->dtype == TG_BOOL) return tg_num_b((int)(hi ? b.imax : b.imin));
  /* a bound past int64 (uint64 above 2**63) cannot be an int64: clamping it inward would let the rules fold on a range
  ** narrower than the truth (2**64-1 and 2**64-4 would both read INT64_MAX), so such a vmax reads +inf, a vmin -inf */
  if (hi && b.sat_hi > 0) return tg_num_f(INFINITY);
  if (!hi && b.sat_lo < 0) return tg_num_f(-INFINITY);
  return tg_num_i(hi ? b.imax : b.imin);
}
tg_num tg_uop_vmin(tg_uop *u) { return bound_num(u, 0); }
tg_num tg_uop_vmax(tg_uop *u) { return bound_num(u, 1); }

/* Python's three-way compare of two args inside a tuple compare: 0 equal, -1/1 ordered, 2 unorderable (TypeError) */
static int arg_cmp(const tg_arg *a, const tg_arg *b) {
  if (arg_py_eq(a, b)) return 0;
  tg_num x = tg_num_of_arg(a), y = tg_num_of_arg(b);
  int xn = x.kind >= TG_NUM_INT && x.kind <= TG_NUM_BOOL, yn = y.kind >= TG_NUM_INT && y.kind <= TG_NUM_BOOL;
  if (a->kind == TG_ARG_OP) { x = tg_num_i(a->i); xn = 1; } /* Ops is an IntEnum */
  if (b->kind == TG_ARG_OP) { y = tg_num_i(b->i); yn = 1; }
  if (xn && yn) {
    tg_num lt;
    tg_num_binop(TG_OP_CMPLT, x, y, &lt);
    if (lt.i) return -1;
    tg_num_binop(TG_OP_CMPLT, y, x, &lt);
    return lt.i ? 1 : 2; /* NaN: neither */
  }
  if (a->kind != b->kind) return 2;
  switch (a->kind) {
  case TG_ARG_STR: {
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n);
    return c < 0 ? -1 : c > 0 ? 1 : a->n < b->n ? -1 : 1;
  }
  case TG_ARG_DTYPE: return tg_dt_lt((tg_dtype)a->i, (tg_dtype)b->i) ? -1 : tg_dt_lt((tg_dtype)b->i, (tg_dtype)a->i) ? 1 : 2;
  case TG_ARG_TUPLE:
    for (uint32_t i = 0; i < a->n && i < b->n; i++) {
      int c = arg_cmp(&a->items[i], &b->items[i]);
      if (c) return c;
    }
    return a->n < b->n ? -1 : 1;
  default: return 2; /* None, enums (not IntEnum), bytes: Python refuses '<' */
  }
}

typedef struct tframe { tg_uop *a, *b; size_t i; } tframe;

/* three-way compare of a.tuplize and b.tuplize, iterative; 2 when Python would raise */
static int tuplize_cmp(tg_uop *a0, tg_uop *b0) {
  tframe small[64], *st = small;
  size_t n = 0, cap = 64;
  int result = 0;
  st[n++] = (tframe){a0, b0, (size_t)-1};
  while (n) {
    tframe *f = &st[n - 1];
    if (f->i == (size_t)-1) { /* the head: (op.value, arg, dtype) */
      tg_uop *a = f->a, *b = f->b;
      int c = a->op != b->op ? (a->op < b->op ? -1 : 1) : arg_cmp(&a->arg, &b->arg);
      if (!c && a->dtype != b->dtype) c = tg_dt_lt((tg_dtype)a->dtype, (tg_dtype)b->dtype) ? -1 : 1;
      if (c) { result = c; break; }
      f->i = 0;
      continue;
    }
    if (f->i >= f->a->nsrc || f->i >= f->b->nsrc) {
      if (f->a->nsrc != f->b->nsrc) { result = f->a->nsrc < f->b->nsrc ? -1 : 1; break; }
      n--;
      continue;
    }
    tg_uop *x = f->a->src[f->i], *y = f->b->src[f->i];
    f->i++;
    if (x == y) continue;
    if (n == cap) {
      tframe *ns = malloc(cap * 2 * sizeof *ns);
      if (!ns) { result = 3; break; }
      memcpy(ns, st, n * sizeof *ns);
      if (st != small) free(st);
      st = ns;
      cap *= 2;
    }
    st[n++] = (tframe){x, y, (size_t)-1};
  }
  if (st != small) free(st);
  return result;
}

int tg_uop_tuplize_lt(tg_uop *a, tg_uop *b) {
  int c = tuplize_cmp(a, b);
  if (c == 3) return oom();
  if (c == 2) return tg_err(TG_ERR_INVALID_ARGUMENT, "TypeError: '<' not supported between the args of two %s", tg_op_name((tg_op)a->op)), -1;
  return c < 0;
}
