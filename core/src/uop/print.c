/* uop/print.c -- tinygrad 0.14.0's pretty_print (uop/render.py), the text of repr(UOp).
**
** Two passes, as tinygrad's: the first numbers every source in the order the depth-first walk meets it and counts its
** users; the second prints, naming a node used more than once "xN:=" the first time and "xN" after. Both walk with an
** explicit stack, so deep graphs cannot overflow the C stack. */
#include <stdlib.h>
#include <string.h>

#include "tgc_internal.h"
#include "uop/ops.h"

/* Per node: index (bits 0..39), user count up to 2 (bits 40..62), printed (bit 63). */
#define IDX(v) ((v) & 0xFFFFFFFFFFull)
#define CNT(v) (((v) >> 40) & 0x7FFFFF)
#define PRINTED (1ull << 63)
#define ONE_USE (1ull << 40)

typedef struct frame { tg_uop *u; size_t i; size_t depth; } frame;
typedef struct fstack { frame *v; size_t n, cap; } fstack;

static int push(fstack *s, frame f) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    frame *v = realloc(s->v, cap * sizeof *v);
    if (!v) return 0;
    s->v = v, s->cap = cap;
  }
  s->v[s->n++] = f;
  return 1;
}

/* dfs(): a source gets the next index when first met and is expanded right away, before its siblings. */
static int number(tg_uop *root, tg_ptrset *cache, fstack *st) {
  if (!push(st, (frame){root, 0, 0})) return 0;
  while (st->n) {
    frame *f = &st->v[st->n - 1];
    if (f->i == f->u->nsrc) {
      st->n--;
      continue;
    }
    tg_uop *s = f->u->src[f->i++];
    uint64_t *v = tg_ptrset_get(cache, s);
    if (v) {
      if (CNT(*v) < 2) *v += ONE_USE; /* only "more than one user" matters; saturating keeps the bits apart */
      continue;
    }
    if (!tg_ptrset_put(cache, s, cache->n | ONE_USE) || !push(st, (frame){s, 0, 0})) return 0;
  }
  return tg_ptrset_put(cache, root, 0) != NULL; /* cache.setdefault(x, [0, 0, False]) */
}

static void indent(tg_sb *b, size_t d) {
  static const char spaces[] = "                                ";
  for (; d > 32; d -= 32) tg_sb_putn(b, spaces, 32);
  tg_sb_putn(b, spaces, d);
}

/* UOp.argstr: REDUCE prints its tuple with str() of each item and no 1-tuple comma; everything else is repr(). */
static void argstr(tg_sb *b, tg_uop *u) {
  if (u->op != TG_OP_REDUCE || u->arg.kind != TG_ARG_TUPLE) return tg_sb_arg(b, &u->arg, 0);
  tg_sb_puts(b, "(");
  for (uint32_t i = 0; i < u->arg.n; i++) {
    if (i) tg_sb_puts(b, ", ");
    tg_sb_arg(b, &u->arg.items[i], 1);
  }
  tg_sb_puts(b, ")");
}

/* Opens a node: either a back-reference "xN" (returns 0) or the header up to "src=(" (returns 1: push it). */
static int open_node(tg_sb *b, tg_uop *u, uint64_t *v, size_t d) {
  indent(b, d);
  if (*v & PRINTED) return tg_sb_printf(b, "x%llu", (unsigned long long)IDX(*v)), 0;
  *v |= PRINTED;
  if (CNT(*v) > 1) tg_sb_printf(b, "x%llu:=", (unsigned long long)IDX(*v));
  tg_sb_printf(b, "UOp(Ops.%s, dtypes.%s, arg=", tg_op_name((tg_op)u->op), tg_dtype_repr_name(u->dtype));
  argstr(b, u);
  if (u->tag.kind != TG_ARG_NONE) tg_sb_puts(b, ", tag="), tg_sb_arg(b, &u->tag, 1);
  tg_sb_puts(b, ", src=(");
  return 1;
}

static int print_all(tg_uop *root, tg_ptrset *cache, fstack *st, tg_sb *b) {
  if (open_node(b, root, tg_ptrset_get(cache, root), 0) && !push(st, (frame){root, 0, 0})) return 0;
  while (st->n && !b->failed) {
    frame *f = &st->v[st->n - 1];
    if (f->i == f->u->nsrc) { /* a node's text ends with "))", and a source's with a "," after it */
      tg_sb_puts(b, "))");
      if (--st->n) tg_sb_puts(b, ",");
      continue;
    }
    tg_uop *s = f->u->src[f->i++];
    size_t d = f->depth + 2;
    tg_sb_puts(b, "\n");
    if (!open_node(b, s, tg_ptrset_get(cache, s), d)) tg_sb_puts(b, ",");
    else if (!push(st, (frame){s, 0, d})) return 0;
  }
  return !b->failed;
}

char *tg_uop_str(tg_uop *u) {
  if (!u) return tg_err(TG_ERR_NULL_POINTER, "tg_uop_str: u is NULL"), NULL;
  tg_ptrset cache;
  fstack st = {0};
  tg_sb b = {0};
  b.grow = 1;
  if (!tg_ptrset_init(&cache, 64)) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory printing a UOp"), NULL;
  int ok = number(u, &cache, &st);
  st.n = 0;
  ok = ok && print_all(u, &cache, &st, &b) && b.buf;
  free(st.v);
  tg_ptrset_free(&cache);
  if (!ok) return free(b.buf), tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory printing a UOp"), NULL;
  return b.buf;
}
