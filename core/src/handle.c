/* handle.c -- the handle table behind every public handle.
** A handle value is ((generation << 32) | (slot << 3) | kind): nonzero, never dereferenced by callers, and a
** released slot bumps its generation, so stale handles (use after release, double release) are caught. */
#include <pthread.h>
#include <stdlib.h>

#include "tgc_internal.h"

typedef struct slot {
  void *obj;
  uint32_t gen;
  uint32_t refs; /* 0 = free */
  uint32_t kind;
  uint32_t next_free;
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;
static uint32_t nslots, capslots, free_head = UINT32_MAX;
static size_t live[TG_H_KINDS];

static const char *const kind_name[TG_H_KINDS] = {"?", "tg_backend", "tg_device", "tg_buffer", "tg_program", "tg_tensor", "tg_safetensors", "tg_jit"};

static uintptr_t encode(uint32_t idx, uint32_t gen, uint32_t kind) {
  return ((uintptr_t)gen << 32) | ((uintptr_t)idx << 3) | kind;
}

void *tg_handle_new(tg_hkind kind, void *obj) {
  pthread_mutex_lock(&mu);
  uint32_t idx;
  if (free_head != UINT32_MAX) {
    idx = free_head;
    free_head = slots[idx].next_free;
  } else {
    if (nslots == capslots) {
      uint32_t ncap = capslots ? capslots * 2 : 256;
      slot *ns = ncap < (1u << 28) ? realloc(slots, (size_t)ncap * sizeof *ns) : NULL;
      if (!ns) {
        pthread_mutex_unlock(&mu);
        return NULL;
      }
      slots = ns;
      capslots = ncap;
    }
    idx = nslots++;
    slots[idx].gen = 1;
  }
  slots[idx].obj = obj;
  slots[idx].refs = 1;
  slots[idx].kind = kind;
  live[kind]++;
  void *h = (void *)encode(idx, slots[idx].gen, kind);
  pthread_mutex_unlock(&mu);
  return h;
}

/* Caller holds mu. Returns the slot or NULL after setting the error. */
static slot *lookup(const void *h, tg_hkind kind, const char *what, tg_status *st) {
  uintptr_t v = (uintptr_t)h;
  if (!h) {
    *st = tg_err(TG_ERR_NULL_POINTER, "%s is NULL", what);
    return NULL;
  }
  uint32_t k = (uint32_t)(v & 7), idx = (uint32_t)((v >> 3) & 0x1FFFFFFF), gen = (uint32_t)(v >> 32);
  if (k != (uint32_t)kind || idx >= nslots) {
    *st = tg_err(TG_ERR_INVALID_HANDLE, "%s %p is not a %s handle", what, h, kind_name[kind]);
    return NULL;
  }
  slot *s = &slots[idx];
  if (s->refs == 0 || s->gen != gen) {
    *st = tg_err(TG_ERR_INVALID_HANDLE, "%s %p is a released %s handle", what, h, kind_name[kind]);
    return NULL;
  }
  return s;
}

tg_status tg_handle_get(const void *h, tg_hkind kind, const char *what, void **obj) {
  tg_status st = TG_OK;
  pthread_mutex_lock(&mu);
  slot *s = lookup(h, kind, what, &st);
  if (s) *obj = s->obj;
  pthread_mutex_unlock(&mu);
  return st;
}

tg_status tg_handle_retain(const void *h, tg_hkind kind, const char *what) {
  tg_status st = TG_OK;
  pthread_mutex_lock(&mu);
  slot *s = lookup(h, kind, what, &st);
  if (s && s->refs == UINT32_MAX) st = tg_err(TG_ERR_OUT_OF_RANGE, "%s: too many references", what);
  else if (s) s->refs++;
  pthread_mutex_unlock(&mu);
  return st;
}

tg_status tg_handle_release(const void *h, tg_hkind kind, const char *what, void **dead) {
  tg_status st = TG_OK;
  *dead = NULL;
  pthread_mutex_lock(&mu);
  slot *s = lookup(h, kind, what, &st);
  if (s && --s->refs == 0) {
    *dead = s->obj;
    s->obj = NULL;
    s->gen = s->gen == UINT32_MAX ? 1 : s->gen + 1;
    s->next_free = free_head;
    free_head = (uint32_t)(s - slots);
    live[kind]--;
  }
  pthread_mutex_unlock(&mu);
  return st;
}

size_t tg_handle_live(tg_hkind kind) {
  pthread_mutex_lock(&mu);
  size_t n = live[kind];
  pthread_mutex_unlock(&mu);
  return n;
}

void tg_handle_foreach(tg_hkind kind, void (*fn)(void *obj, void *user), void *user) {
  pthread_mutex_lock(&mu);
  for (uint32_t i = 0; i < nslots; i++)
    if (slots[i].refs && slots[i].kind == (uint32_t)kind) fn(slots[i].obj, user);
  pthread_mutex_unlock(&mu);
}
