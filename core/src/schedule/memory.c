/* schedule/memory.c -- tinygrad 0.14.0's schedule/memory.py: memory_plan_rewrite.
**
** Every intermediate buffer of a LINEAR (not held by the caller, on a device that supports views) is given an offset in
** one int8 arena per (device, copy lane), from its first to its last use, by the TLSF allocator tinygrad uses
** (runtime/support/memory.py, ported here block for block so that offsets match); each buffer then becomes
** BITCAST(SHRINK(arena, offset, nbytes), dtype). */
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "helpers.h"
#include "schedule/internal.h"

/* ================ TLSF (Two-Level Segregated Fit) ================ */

typedef struct blk { int64_t start, size, next, prev; int is_free, used; } blk; /* next/prev: -1 for None */
typedef struct bucket { int64_t *v; size_t n, cap; } bucket;
typedef struct tlsf {
  int64_t size, block_size;
  int l2_cnt, nl1;
  bucket *storage;     /* [nl1][1 << l2_cnt] */
  int64_t *lv1_entries;
  blk *blocks; size_t nblocks, capblocks; /* a dict by start: linear search is fine for schedule-sized arenas */
  int err;
} tlsf;

static int bitlen(int64_t x) { int n = 0; while (x) n++, x >>= 1; return n; }
static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static blk *blk_get(tlsf *t, int64_t start) {
  for (size_t i = 0; i < t->nblocks; i++)
    if (t->blocks[i].used && t->blocks[i].start == start) return &t->blocks[i];
  return NULL;
}
static blk *blk_set(tlsf *t, int64_t start, int64_t size, int64_t next, int64_t prev, int is_free) {
  blk *b = blk_get(t, start);
  if (!b) {
    for (size_t i = 0; i < t->nblocks && !b; i++)
      if (!t->blocks[i].used) b = &t->blocks[i];
    if (!b) {
      if (t->nblocks == t->capblocks) {
        size_t nc = t->capblocks ? t->capblocks * 2 : 16;
        blk *nb = realloc(t->blocks, nc * sizeof *nb);
        if (!nb) return t->err = 1, NULL;
        t->blocks = nb, t->capblocks = nc;
      }
      b = &t->blocks[t->nblocks++];
    }
  }
  *b = (blk){start, size, next, prev, is_free, 1};
  return b;
}

static int lv1(int64_t size) { return bitlen(size); }
static int64_t lv2(tlsf *t, int64_t size) {
  int sh = bitlen(size) - t->l2_cnt;
  return (size - ((int64_t)1 << (bitlen(size) - 1))) / ((int64_t)1 << (sh > 0 ? sh : 0));
}
static bucket *bkt(tlsf *t, int64_t size) { return &t->storage[(size_t)lv1(size) * ((size_t)1 << t->l2_cnt) + (size_t)lv2(t, size)]; }

static void insert_block(tlsf *t, int64_t start, int64_t size, int has_prev, int64_t prev) {
  if (!has_prev) { blk *b = blk_get(t, start); prev = b ? b->prev : -1; }
  bucket *k = bkt(t, size);
  if (k->n == k->cap) {
    size_t nc = k->cap ? k->cap * 2 : 4;
    int64_t *nv = realloc(k->v, nc * sizeof *nv);
    if (!nv) { t->err = 1; return; }
    k->v = nv, k->cap = nc;
  }
  k->v[k->n++] = start;
  t->lv1_entries[lv1(size)]++;
  blk_set(t, start, size, start + size, prev, 1);
}

static void remove_block(tlsf *t, int64_t start, int64_t size, int has_prev, int64_t prev) {
  if (!has_prev) { blk *b = blk_get(t, start); prev = b ? b->prev : -1; }
  bucket *k = bkt(t, size);
  for (size_t i = 0; i < k->n; i++)
    if (k->v[i] == start) { memmove(k->v + i, k->v + i + 1, (k->n - i - 1) * sizeof *k->v); k->n--; break; }
  t->lv1_entries[lv1(size)]--;
  blk_set(t, start, size, start + size, prev, 0);
}

static void split_block(tlsf *t, int64_t start, int64_t size, int64_t new_size) {
  int64_t nxt = blk_get(t, start)->next;
  remove_block(t, start, size, 0, 0);
  insert_block(t, start, new_size, 0, 0);
  insert_block(t, start + new_size, size - new_size, 1, start);
  blk *n = blk_get(t, nxt);
  if (n) n->prev = start + new_size;
}

static void merge_right(tlsf *t, int64_t start) {
  blk *b = blk_get(t, start);
  int64_t size = b->size, nxt = b->next;
  blk *n;
  while ((n = blk_get(t, nxt)) && n->is_free) {
    int64_t nsize = n->size, nnext = n->next;
    remove_block(t, start, size, 0, 0);
    remove_block(t, nxt, nsize, 0, 0);
    size += nsize;
    insert_block(t, start, size, 0, 0);
    n = blk_get(t, nxt);
    n->used = 0; /* blocks.pop(nxt) */
    nxt = nnext;
  }
  if ((n = blk_get(t, nxt))) n->prev = start;
}

static void merge_block(tlsf *t, int64_t start) {
  blk *p;
  for (int64_t x; (x = blk_get(t, start)->prev) >= 0 && (p = blk_get(t, x)) && p->is_free;) start = x;
  merge_right(t, start);
}

static int tlsf_init(tlsf *t, int64_t size, int64_t block_size, int lv2_cnt) {
  memset(t, 0, sizeof *t);
  t->size = size, t->block_size = block_size, t->l2_cnt = bitlen(lv2_cnt), t->nl1 = bitlen(size) + 1;
  t->storage = calloc((size_t)t->nl1 << t->l2_cnt, sizeof *t->storage);
  t->lv1_entries = calloc((size_t)t->nl1, sizeof *t->lv1_entries);
  if (!t->storage || !t->lv1_entries) return -1;
  blk_set(t, 0, size, -1, -1, 1);
  if (size > 0) insert_block(t, 0, size, 0, 0);
  return t->err ? -1 : 0;
}

static void tlsf_free_all(tlsf *t) {
  for (size_t i = 0; t->storage && i < ((size_t)t->nl1 << t->l2_cnt); i++) free(t->storage[i].v);
  free(t->storage), free(t->lv1_entries), free(t->blocks);
}

static int64_t tlsf_alloc(tlsf *t, int64_t req) {
  if (req < t->block_size) req = t->block_size;
  int64_t size = req > t->block_size ? req : t->block_size;
  int sh = bitlen(size) - t->l2_cnt;
  size = round_up(size, (int64_t)1 << (sh > 0 ? sh : 0));
  for (int l1 = lv1(size); l1 < t->nl1; l1++) {
    if (t->lv1_entries[l1] == 0) continue;
    for (int64_t l2 = l1 == bitlen(size) ? lv2(t, size) : 0; l2 < ((int64_t)1 << t->l2_cnt); l2++) {
      bucket *k = &t->storage[(size_t)l1 * ((size_t)1 << t->l2_cnt) + (size_t)l2];
      if (!k->n) continue;
      int64_t start = k->v[0], nsize = blk_get(t, start)->size;
      if (nsize > req) split_block(t, start, nsize, req);
      remove_block(t, start, req, 0, 0);
      return t->err ? -1 : start;
    }
  }
  return tg_err(TG_ERR_OUT_OF_MEMORY, "Can't allocate %lld bytes", (long long)req), -1;
}

static void tlsf_release(tlsf *t, int64_t start) {
  insert_block(t, start, blk_get(t, start)->size, 0, 0);
  merge_block(t, start);
}

/* ================ memory_plan_rewrite ================ */

typedef struct pbuf { tg_uop *b; int64_t first, last, nbytes, offset; int copy; int lane; } pbuf;
typedef struct lane { const char *dev; int copy; int64_t peak; tlsf a; } lane;
typedef struct event { int64_t at; int open; size_t i, order; } event;

static int can_plan(tg_uop *b, tg_uop *const *held, size_t nheld) {
  for (size_t i = 0; i < nheld; i++)
    if (held[i] == b) return 0;
  const char *d = tgs_pa_device(b);
  return !(d && (!strncmp(d, "DISK", 4) || !strncmp(d, "TINYFS", 6) || !strncmp(d, "CL", 2) || !strncmp(d, "WEBGPU", 6)));
}

static int event_lt(const event *a, const event *b) {
  if (a->at != b->at) return a->at < b->at;
  if (a->open != b->open) return a->open < b->open;
  return a->order < b->order; /* Python's sort is stable */
}

tg_uop *tg_schedule_memory_plan(tg_uop *linear, tg_uop *const *held, size_t nheld) {
  if (tg_getenv_int("NO_MEMORY_PLANNER", 0)) return tg_uop_retain(linear);
  pbuf *bufs = NULL;
  size_t nb = 0, cap = 0;
  tg_ptrset idx;
  if (!tg_ptrset_init(&idx, 64)) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory planning memory"), NULL;
  int err = 0;
  for (size_t i = 0; i < linear->nsrc && !err; i++) {
    tg_uop *si = linear->src[i];
    int is_copy = si->nsrc && si->src[0]->op == TG_OP_COPY;
    for (size_t k = 1; k < si->nsrc && !err; k++) {
      tg_uop *b = si->src[k];
      if (b->op == TG_OP_MSELECT || b->op == TG_OP_MSTACK) { err = tg_err(TG_ERR_UNSUPPORTED, "scheduler: multi-device buffers"); break; }
      if (b->op != TG_OP_BUFFER || !can_plan(b, held, nheld)) continue;
      uint64_t *v = tg_ptrset_get(&idx, b);
      if (!v) {
        if (nb == cap) {
          size_t nc = cap ? cap * 2 : 16;
          pbuf *n = realloc(bufs, nc * sizeof *n);
          if (!n) { err = 1; break; }
          bufs = n, cap = nc;
        }
        tgs_shp s;
        if (tgs_shape(b, &s) != 1) { err = 1; break; }
        int64_t sz = tgs_prod(s.d, s.n) * tg_dt_itemsize((tg_dtype)b->dtype);
        bufs[nb] = (pbuf){b, (int64_t)i, (int64_t)i, sz, 0, 0, -1};
        if (!(v = tg_ptrset_put(&idx, b, nb++))) { err = 1; break; }
      }
      bufs[*v].last = (int64_t)i;
      if (is_copy) bufs[*v].copy = 1;
    }
  }
  tg_ptrset_free(&idx);
  if (err || !nb) {
    free(bufs);
    if (err) return tg_last_error()[0] ? NULL : (tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory planning memory"), NULL);
    return tg_uop_retain(linear);
  }
  /* separate copy and compute buffers into different lanes to avoid introducing dependencies (copy->compute->copy) */
  const int64_t block = 256;
  int64_t total = 0;
  for (size_t i = 0; i < nb; i++) total += round_up(bufs[i].nbytes, block);
  total *= 2;
  event *ev = malloc(2 * nb * sizeof *ev);
  lane *lanes = calloc(nb, sizeof *lanes);
  size_t nl = 0;
  if (!ev || !lanes) err = 1;
  for (size_t i = 0; i < nb && !err; i++) {
    int64_t hold = bufs[i].copy ? bufs[i].last - bufs[i].first + 1 : 0;
    ev[2 * i] = (event){bufs[i].first, 1, i, i};
    ev[2 * i + 1] = (event){bufs[i].last + 1 + hold, 0, i, nb + i};
  }
  for (size_t i = 1; i < 2 * nb && !err; i++) /* insertion sort: stable */
    for (size_t j = i; j > 0 && event_lt(&ev[j], &ev[j - 1]); j--) { event t = ev[j]; ev[j] = ev[j - 1]; ev[j - 1] = t; }
  for (size_t e = 0; e < 2 * nb && !err; e++) {
    pbuf *b = &bufs[ev[e].i];
    const char *dev = tgs_pa_device(b->b);
    if (b->lane < 0) {
      for (size_t l = 0; l < nl && b->lane < 0; l++)
        if (lanes[l].copy == b->copy && (lanes[l].dev == dev || (lanes[l].dev && dev && !strcmp(lanes[l].dev, dev)))) b->lane = (int)l;
      if (b->lane < 0) {
        lanes[nl] = (lane){dev, b->copy, 0, {0}};
        if (tlsf_init(&lanes[nl].a, total, block, 32)) { err = 1; nl++; break; }
        b->lane = (int)nl++;
      }
    }
    lane *L = &lanes[b->lane];
    if (ev[e].open) {
      if ((b->offset = tlsf_alloc(&L->a, round_up(b->nbytes, block))) < 0) { err = 1; break; }
    } else tlsf_release(&L->a, b->offset);
    if (L->a.err) { err = 1; break; }
    if (b->offset + b->nbytes > L->peak) L->peak = b->offset + b->nbytes;
  }
  /* each buffer becomes a SHRINK/BITCAST into its lane's arena */
  tgs_pool P = {0};
  tg_uop **keys = malloc((nb + 1) * sizeof *keys), **vals = malloc((nb + 1) * sizeof *vals), **arenas = calloc(nl + 1, sizeof *arenas);
  tg_uop *ret = NULL;
  if (!keys || !vals || !arenas) err = 1;
  for (size_t l = 0; l < nl && !err; l++) {
    tg_uop *n = tgs_ci(&P, round_up(lanes[l].peak, block));
    tg_arg it[TG_PARAMARG_COUNT];
    tg_arg pa = tgs_paramarg(it, tg_schedule_next_slot(), TG_INT8, lanes[l].dev, TGS_AS_GLOBAL);
    if (!n || !(arenas[l] = tgs_new(&P, TG_OP_BUFFER, TG_INT8, &n, 1, pa))) err = 1;
  }
  for (size_t i = 0; i < nb && !err; i++) {
    int64_t start = bufs[i].offset, end = bufs[i].offset + bufs[i].nbytes;
    tg_uop *v = tgs_shrink(&P, arenas[bufs[i].lane], &start, &end, 1);
    v = v ? tgs_hold(&P, tg_um_bitcast(v, bufs[i].b->dtype)) : NULL;
    keys[i] = bufs[i].b, vals[i] = v;
    if (!v) err = 1;
  }
  if (!err) ret = tgs_substitute(&P, linear, keys, vals, nb, NULL, 0);
  if (ret) tg_uop_retain(ret);
  else if (!tg_last_error()[0]) tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory planning memory");
  for (size_t l = 0; l < nl; l++) tlsf_free_all(&lanes[l].a);
  free(keys), free(vals), free(arenas), free(lanes), free(ev), free(bufs);
  tgs_pool_free(&P);
  return ret;
}
