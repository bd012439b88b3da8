/* uop/shape.c -- tinygrad 0.14.0's UOp._shape (uop/ops.py), with _broadcast_shape, as_shape and marg.
**
** Shapes are computed as tinygrad's recursive_property does: for every not-yet-shaped node below the one asked about,
** sources first (a gated toposort), so deep graphs never recurse on the C stack. Each result is published once with
** a compare-and-swap and freed with its UOp. Symbolic dims (tg_sint.u) point into the graph below the UOp, which
** keeps them alive; checks on them use vmin/vmax where tinygrad would simplify, and are taken as true when unknown
** (resolve's default). */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "tgc_internal.h"
#include "uop/ops.h"

enum { F_SHAPE_NONE = 1 }; /* tg_uop.flags bit, shared with ops.c: the shape was computed and is None */

typedef enum { S_ERR = 0, S_NONE, S_VOIDNONE, S_NOOP, S_GETTUPLE, S_INDEX, S_STACK, S_SCALAR, S_BINARY, S_BUFFER,
               S_CUSTOM, S_STAGE, S_PARAM, S_WMMA, S_PASS, S_BITCAST, S_UNSHARD, S_RESHAPE, S_EXPAND, S_PERMUTE, S_PAD,
               S_SHRINK, S_FLIP, S_REDUCE, S_UNARY, S_BROADCAST } shape_rule;

static const uint8_t shape_rules[TG_OP_COUNT] = {
    [TG_OP_IF] = S_NONE, [TG_OP_BARRIER] = S_NONE, [TG_OP_SINK] = S_NONE, [TG_OP_REWRITE_ERROR] = S_NONE,
    [TG_OP_ENDIF] = S_NONE, [TG_OP_GROUP] = S_NONE, [TG_OP_LINEAR] = S_NONE, [TG_OP_PROGRAM] = S_NONE,
    [TG_OP_SOURCE] = S_NONE, [TG_OP_TUPLE] = S_NONE, [TG_OP_FUNCTION] = S_NONE, [TG_OP_CUSTOM_FUNCTION] = S_NONE,
    [TG_OP_PYLITERAL] = S_NONE, [TG_OP_CALL] = S_VOIDNONE, [TG_OP_INS] = S_VOIDNONE, [TG_OP_NOOP] = S_NOOP,
    [TG_OP_GETTUPLE] = S_GETTUPLE, [TG_OP_INDEX] = S_INDEX, [TG_OP_STACK] = S_STACK, [TG_OP_CONST] = S_SCALAR,
    [TG_OP_GETADDR] = S_SCALAR, [TG_OP_RANGE] = S_SCALAR, [TG_OP_SPECIAL] = S_SCALAR, [TG_OP_BINARY] = S_BINARY,
    [TG_OP_BUFFER] = S_BUFFER, [TG_OP_CUSTOM] = S_CUSTOM, [TG_OP_CUSTOMI] = S_CUSTOM, [TG_OP_STAGE] = S_STAGE,
    [TG_OP_PARAM] = S_PARAM, [TG_OP_WMMA] = S_WMMA, [TG_OP_MSTACK] = S_PASS, [TG_OP_MSELECT] = S_PASS,
    [TG_OP_DETACH] = S_PASS, [TG_OP_CONTIGUOUS] = S_PASS, [TG_OP_CONTIGUOUS_BACKWARD] = S_PASS, [TG_OP_AFTER] = S_PASS,
    [TG_OP_LOAD] = S_PASS, [TG_OP_COPY] = S_PASS, [TG_OP_ALLREDUCE] = S_PASS, [TG_OP_STORE] = S_PASS,
    [TG_OP_END] = S_PASS, [TG_OP_BITCAST] = S_BITCAST, [TG_OP_UNSHARD] = S_UNSHARD, [TG_OP_RESHAPE] = S_RESHAPE,
    [TG_OP_EXPAND] = S_EXPAND, [TG_OP_PERMUTE] = S_PERMUTE, [TG_OP_PAD] = S_PAD, [TG_OP_SHRINK] = S_SHRINK,
    [TG_OP_FLIP] = S_FLIP, [TG_OP_REDUCE] = S_REDUCE, [TG_OP_CAST] = S_UNARY,
    [TG_OP_EXP2] = S_UNARY, [TG_OP_LOG2] = S_UNARY, [TG_OP_SIN] = S_UNARY, [TG_OP_SQRT] = S_UNARY,
    [TG_OP_RECIPROCAL] = S_UNARY, [TG_OP_NEG] = S_UNARY, [TG_OP_TRUNC] = S_UNARY,
    [TG_OP_ADD] = S_BROADCAST, [TG_OP_MUL] = S_BROADCAST, [TG_OP_CDIV] = S_BROADCAST, [TG_OP_MAX] = S_BROADCAST,
    [TG_OP_CMOD] = S_BROADCAST, [TG_OP_CMPLT] = S_BROADCAST, [TG_OP_CMPNE] = S_BROADCAST, [TG_OP_CMPEQ] = S_BROADCAST,
    [TG_OP_XOR] = S_BROADCAST, [TG_OP_SHL] = S_BROADCAST, [TG_OP_SHR] = S_BROADCAST, [TG_OP_OR] = S_BROADCAST,
    [TG_OP_AND] = S_BROADCAST, [TG_OP_THREEFRY] = S_BROADCAST, [TG_OP_SUB] = S_BROADCAST, [TG_OP_FDIV] = S_BROADCAST,
    [TG_OP_POW] = S_BROADCAST, [TG_OP_FLOORDIV] = S_BROADCAST, [TG_OP_FLOORMOD] = S_BROADCAST,
    [TG_OP_WHERE] = S_BROADCAST, [TG_OP_MULACC] = S_BROADCAST,
};

/* The fewest sources each rule reads (tinygrad would fail with an IndexError). */
static const uint8_t shape_min_src[] = {[S_INDEX] = 1, [S_PARAM] = 1, [S_WMMA] = 3, [S_PASS] = 1, [S_BITCAST] = 1,
                                        [S_UNSHARD] = 1, [S_RESHAPE] = 2, [S_EXPAND] = 2, [S_PERMUTE] = 1, [S_PAD] = 3,
                                        [S_SHRINK] = 3, [S_FLIP] = 1, [S_REDUCE] = 1, [S_GETTUPLE] = 1};

/* ---------------- building and printing shapes ---------------- */

/* Every () shape is this one object (most UOps are scalars): never freed, see shape_free and ops.c's node_free. */
static tg_shape scalar_shape = {0};

static void shape_free(const tg_shape *s) {
  if (s && s != &scalar_shape) free((void *)s);
}

static tg_shape *shape_new(size_t n) {
  if (!n) return &scalar_shape;
  tg_shape *s = malloc(sizeof *s + n * sizeof(tg_sint));
  if (!s) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory computing a shape"), NULL;
  s->ndim = (uint32_t)n;
  return s;
}

/* A new shape made of a[0..na) then b[0..nb). */
static tg_status shape_cat(const tg_sint *a, size_t na, const tg_sint *b, size_t nb, tg_shape **out) {
  if (!(*out = shape_new(na + nb))) return TG_ERR_OUT_OF_MEMORY;
  if (na) memcpy((*out)->dims, a, na * sizeof *a);
  if (nb) memcpy((*out)->dims + na, b, nb * sizeof *b);
  return TG_OK;
}

static tg_status shape_copy(const tg_shape *s, tg_shape **out) { return shape_cat(s->dims, s->ndim, NULL, 0, out); }

static void sint_fmt(tg_sb *b, tg_sint d) {
  if (!d.u) return tg_sb_printf(b, "%lld", (long long)d.v);
  char *s = tg_uop_str(d.u);
  tg_sb_puts(b, s ? s : "UOp(?)");
  free(s);
}

static void dims_fmt(tg_sb *b, const tg_sint *d, size_t n) { /* Python's tuple repr */
  tg_sb_puts(b, "(");
  for (size_t i = 0; i < n; i++) {
    if (i) tg_sb_puts(b, ", ");
    sint_fmt(b, d[i]);
  }
  tg_sb_puts(b, n == 1 ? ",)" : ")");
}

static void pairs_fmt(tg_sb *b, const tg_sint *o, const tg_sint *sz, size_t n) { /* marg of PAD/SHRINK */
  tg_sb_puts(b, "(");
  for (size_t i = 0; i < n; i++) {
    tg_sb_puts(b, i ? ", (" : "(");
    sint_fmt(b, o[i]), tg_sb_puts(b, ", "), sint_fmt(b, sz[i]), tg_sb_puts(b, ")");
  }
  tg_sb_puts(b, n == 1 ? ",)" : ")");
}

/* ---------------- sints: ints exactly, UOps through vmin/vmax ---------------- */

typedef struct { int64_t lo, hi; } ival;

static ival sint_range(tg_sint d) {
  if (!d.u) return (ival){d.v, d.v};
  tg_bounds b = tg_uop_bounds(d.u);
  return (ival){b.imin, b.imax};
}

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

/* resolve(a <= b) with tinygrad's default True when the ranges overlap. */
static int resolve_le(ival a, ival b) { return !(a.lo > b.hi); }
static ival iadd(ival a, ival b) { return (ival){sat_add(a.lo, b.lo), sat_add(a.hi, b.hi)}; }
static const ival ZERO = {0, 0};

/* prod(a) == prod(b): ints compare exactly; symbolic factors must be the same UOps, as a multiset (tinygrad would
** simplify the products; interning makes equal factors equal pointers). */
static int same_prod(const tg_sint *a, size_t na, const tg_sint *b, size_t nb) {
  unsigned __int128 pa = 1, pb = 1;
  size_t syma = 0, symb = 0;
  for (size_t i = 0; i < na; i++) a[i].u ? (void)syma++ : (void)(pa *= (unsigned __int128)a[i].v);
  for (size_t i = 0; i < nb; i++) b[i].u ? (void)symb++ : (void)(pb *= (unsigned __int128)b[i].v);
  if (syma != symb) return (pa == 0 && pb == 0);
  if (pa != pb) return 0;
  for (size_t i = 0; i < na; i++) {
    if (!a[i].u) continue;
    size_t ca = 0, cb = 0;
    for (size_t j = 0; j < na; j++) ca += a[j].u == a[i].u;
    for (size_t j = 0; j < nb; j++) cb += b[j].u == a[i].u;
    if (ca != cb) return 0;
  }
  return 1;
}

static const tg_shape *cached(tg_uop *u) { return __atomic_load_n(&u->shape_cache, __ATOMIC_ACQUIRE); }
static int computed(tg_uop *u) { return cached(u) || (__atomic_load_n(&u->flags, __ATOMIC_ACQUIRE) & F_SHAPE_NONE); }

/* UOp.shape: the shape, or an error when it is None. */
static tg_status need(tg_uop *u, const tg_shape **s) {
  if ((*s = cached(u))) return TG_OK;
  return tg_err(TG_ERR_SHAPE, "shape requested, but Ops.%s doesn't have a shape", tg_op_name((tg_op)u->op));
}

/* UOp.as_shape: CONST -> (val,), STACK -> its items, anything else -> (itself,) as a symbolic dim. */
static tg_status as_shape(tg_uop *u, tg_shape **out) {
  size_t n = u->op == TG_OP_STACK ? u->nsrc : 1;
  if (!(*out = shape_new(n))) return TG_ERR_OUT_OF_MEMORY;
  for (size_t i = 0; i < n; i++) {
    tg_uop *d = u->op == TG_OP_STACK ? u->src[i] : u;
    (*out)->dims[i] = (tg_sint){0, d};
    if (d->op != TG_OP_CONST) continue;
    if (d->arg.kind != TG_ARG_INT && d->arg.kind != TG_ARG_BOOL) {
      char a[64];
      tg_arg_repr(&d->arg, a, sizeof a);
      shape_free(*out), *out = NULL;
      return tg_err(TG_ERR_SHAPE, "shape must be int, got %s", a);
    }
    (*out)->dims[i] = (tg_sint){d->arg.i, NULL};
  }
  return TG_OK;
}

/* _broadcast_shape: per right-aligned dim, sizes of 1 broadcast to the others, which must all agree. */
static tg_status broadcast(const tg_shape *const *shapes, size_t n, tg_shape **out) {
  size_t nd = 0, same = 1;
  for (size_t i = 0; i < n; i++) nd = shapes[i]->ndim > nd ? shapes[i]->ndim : nd;
  for (size_t i = 1; i < n && same; i++)
    same = shapes[i]->ndim == shapes[0]->ndim &&
           !memcmp(shapes[i]->dims, shapes[0]->dims, shapes[0]->ndim * sizeof(tg_sint));
  if (same) return shape_copy(shapes[0], out);
  if (!(*out = shape_new(nd))) return TG_ERR_OUT_OF_MEMORY;
  for (size_t d = 0; d < nd; d++) {
    tg_sint r = {1, NULL};
    int have = 0;
    for (size_t i = 0; i < n; i++) {
      if (d + shapes[i]->ndim < nd) continue; /* aligned left with 1s */
      tg_sint s = shapes[i]->dims[d + shapes[i]->ndim - nd];
      if (!s.u && s.v == 1) continue;
      if (have && (s.u != r.u || (!s.u && s.v != r.v))) goto mismatch;
      r = s, have = 1;
    }
    (*out)->dims[d] = r;
  }
  return TG_OK;
mismatch:
  shape_free(*out), *out = NULL;
  char msg[1024];
  tg_sb b = tg_sb_fixed(msg, sizeof msg);
  tg_sb_puts(&b, "(");
  for (size_t i = 0; i < n; i++) tg_sb_puts(&b, i ? ", " : ""), dims_fmt(&b, shapes[i]->dims, shapes[i]->ndim);
  tg_sb_puts(&b, n == 1 ? ",)" : ")");
  return tg_err(TG_ERR_SHAPE, "shape mismatch: objects cannot be broadcast to a single shape %s", msg);
}

/* ---------------- the rules ---------------- */

static tg_status rule_index(tg_uop *u, tg_shape **out) {
  const tg_shape *s0, *si;
  size_t n = 0;
  tg_status st;
  for (size_t i = 1; i < u->nsrc; i++) {
    if ((st = need(u->src[i], &si))) return st;
    n += si->ndim;
  }
  if ((st = need(u->src[0], &s0))) return st;
  size_t nidx = (size_t)u->nsrc - 1, rest = s0->ndim > nidx ? s0->ndim - nidx : 0;
  if (!(*out = shape_new(n + rest))) return TG_ERR_OUT_OF_MEMORY;
  n = 0;
  for (size_t i = 1; i < u->nsrc; i++) {
    si = cached(u->src[i]);
    memcpy((*out)->dims + n, si->dims, si->ndim * sizeof(tg_sint)), n += si->ndim;
  }
  if (rest) memcpy((*out)->dims + n, s0->dims + (s0->ndim - rest), rest * sizeof(tg_sint));
  return TG_OK;
}

static tg_status rule_stack(tg_uop *u, tg_shape **out) {
  const tg_shape *s0;
  tg_status st;
  if (!u->nsrc) return (*out = shape_new(0)) ? TG_OK : TG_ERR_OUT_OF_MEMORY;
  if ((st = need(u->src[0], &s0))) return st;
  tg_sint n = {u->nsrc, NULL};
  return shape_cat(&n, 1, s0->dims, s0->ndim, out);
}

static tg_status rule_gettuple(tg_uop *u, tg_shape **out) {
  tg_uop *t = u->src[0]->op == TG_OP_FUNCTION && u->src[0]->nsrc ? u->src[0]->src[0] : u->src[0];
  if (t->op != TG_OP_TUPLE || u->arg.kind != TG_ARG_INT || u->arg.i < 0 || u->arg.i >= t->nsrc)
    return tg_err(TG_ERR_SHAPE, "GETTUPLE needs a TUPLE source and an index into it");
  const tg_shape *in = cached(t->src[u->arg.i]);
  if (!in) return TG_OK;
  for (uint32_t i = 0; i < in->ndim && u->src[0]->op == TG_OP_FUNCTION; i++)
    if (in->dims[i].u)
      return tg_err(TG_ERR_UNSUPPORTED, "GETTUPLE through a FUNCTION with a symbolic shape needs graph_rewrite");
  return shape_copy(in, out);
}

static tg_status rule_custom(tg_uop *u, tg_shape **out) {
  if (u->dtype == TG_DT_VOID) return TG_OK;
  const tg_shape *stack_shapes[16], **shapes = u->nsrc <= 16 ? stack_shapes : malloc(u->nsrc * sizeof *shapes);
  if (!shapes) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory computing a shape");
  size_t n = 0;
  for (size_t i = 0; i < u->nsrc; i++)
    if (cached(u->src[i])) shapes[n++] = cached(u->src[i]);
  tg_status st = n ? broadcast(shapes, n, out) : TG_OK;
  if (shapes != stack_shapes) free(shapes);
  return st;
}

static tg_status rule_stage(tg_uop *u, tg_shape **out) { /* STAGE puts the ranges' sizes in front */
  const tg_shape *s0;
  tg_status st;
  if ((st = need(u->src[0], &s0))) return st;
  if (!(*out = shape_new(u->nsrc - 1 + s0->ndim))) return TG_ERR_OUT_OF_MEMORY;
  for (size_t i = 1; i < u->nsrc; i++) (*out)->dims[i - 1] = (tg_sint){sat_add(tg_uop_bounds(u->src[i]).imax, 1), NULL};
  memcpy((*out)->dims + u->nsrc - 1, s0->dims, s0->ndim * sizeof(tg_sint));
  return TG_OK;
}

static tg_status rule_wmma(tg_uop *u, tg_shape **out) {
  const tg_shape *s[3];
  tg_status st;
  for (int i = 0; i < 3; i++) {
    if ((st = need(u->src[i], &s[i]))) return st;
    if (!s[i]->ndim) return tg_err(TG_ERR_SHAPE, "WMMA source %d has shape ()", i);
  }
  tg_shape *cut[3] = {0}, *b = NULL;
  for (int i = 0; i < 3; i++)
    if ((st = shape_cat(s[i]->dims, s[i]->ndim - 1, NULL, 0, &cut[i]))) goto done;
  if (!(st = broadcast((const tg_shape *const *)cut, 3, &b)))
    st = shape_cat(b->dims, b->ndim, &s[2]->dims[s[2]->ndim - 1], 1, out);
done:
  for (int i = 0; i < 3; i++) shape_free(cut[i]);
  shape_free(b);
  return st;
}

static tg_status rule_bitcast(tg_uop *u, tg_shape **out) {
  const tg_shape *ps = cached(u->src[0]);
  if (!ps) return TG_OK;
  int osz = tg_dt_itemsize((tg_dtype)u->dtype), isz = tg_dt_itemsize((tg_dtype)u->src[0]->dtype);
  if (osz == isz || !ps->ndim) return shape_copy(ps, out);
  tg_sint last = ps->dims[ps->ndim - 1];
  if (last.u) return tg_err(TG_ERR_UNSUPPORTED, "bitcast of a symbolic last dim needs the symbolic engine");
  int64_t bytes;
  if (!osz || __builtin_mul_overflow(last.v, (int64_t)isz, &bytes) || bytes % osz) return tg_err(TG_ERR_SHAPE, "unsupported size in bitcast");
  last.v = bytes / osz;
  return shape_cat(ps->dims, ps->ndim - 1, &last, 1, out);
}

static tg_status rule_reshape(tg_uop *u, const tg_shape *ps, tg_shape **out) {
  tg_status st;
  if ((st = as_shape(u->src[1], out))) return st;
  if (!ps) return TG_OK; /* RESHAPE of a NOOP: the new shape as is */
  char a[512], b[512];
  tg_sb sa = tg_sb_fixed(a, sizeof a), sb = tg_sb_fixed(b, sizeof b);
  dims_fmt(&sa, (*out)->dims, (*out)->ndim);
  for (uint32_t i = 0; i < (*out)->ndim; i++)
    if (sint_range((*out)->dims[i]).lo < 0)
      return shape_free(*out), *out = NULL, tg_err(TG_ERR_SHAPE, "shape can't contain negative numbers %s", a);
  if (same_prod(ps->dims, ps->ndim, (*out)->dims, (*out)->ndim)) return TG_OK;
  dims_fmt(&sb, ps->dims, ps->ndim);
  return shape_free(*out), *out = NULL, tg_err(TG_ERR_SHAPE, "bad reshape: %s -> %s", b, a);
}

static tg_status rule_expand(tg_uop *u, const tg_shape *ps, tg_shape **out) { /* EXPAND adds leading dims */
  tg_shape *m;
  tg_status st;
  if ((st = as_shape(u->src[1], &m))) return st;
  st = shape_cat(m->dims, m->ndim, ps->dims, ps->ndim, out);
  shape_free(m);
  return st;
}

static int arg_int_tuple(const tg_arg *a) {
  if (a->kind != TG_ARG_TUPLE) return 0;
  for (uint32_t i = 0; i < a->n; i++)
    if (a->items[i].kind != TG_ARG_INT && a->items[i].kind != TG_ARG_BOOL) return 0;
  return 1;
}

static tg_status rule_permute(tg_uop *u, const tg_shape *ps, tg_shape **out) {
  int ok = arg_int_tuple(&u->arg) && u->arg.n == ps->ndim;
  uint64_t seen = 0;
  for (uint32_t i = 0; ok && i < u->arg.n; i++) { /* sorted(marg) == range(len(ps)) */
    int64_t p = u->arg.items[i].i;
    ok = p >= 0 && p < (int64_t)ps->ndim && p < 64 && !(seen >> p & 1);
    seen |= ok ? 1ull << p : 0;
  }
  if (!ok) {
    char a[256];
    tg_arg_repr(&u->arg, a, sizeof a);
    return tg_err(TG_ERR_SHAPE, "invalid permutation %s of len %u", a, ps->ndim);
  }
  if (!(*out = shape_new(ps->ndim))) return TG_ERR_OUT_OF_MEMORY;
  for (uint32_t i = 0; i < ps->ndim; i++) (*out)->dims[i] = ps->dims[u->arg.items[i].i];
  return TG_OK;
}

/* PAD and SHRINK: marg is zip(src[1].as_shape, src[2].as_shape) = (offset, size) pairs; the result is the sizes. */
static tg_status rule_pad_shrink(tg_uop *u, const tg_shape *ps, tg_shape **out) {
  tg_shape *o = NULL, *sz = NULL;
  tg_status st;
  if ((st = as_shape(u->src[1], &o)) || (st = as_shape(u->src[2], &sz))) return shape_free(o), st;
  int pad = u->op == TG_OP_PAD, ok = o->ndim == ps->ndim && sz->ndim == ps->ndim;
  for (uint32_t i = 0; ok && i < ps->ndim; i++) {
    ival s = sint_range(ps->dims[i]), off = sint_range(o->dims[i]), size = sint_range(sz->dims[i]);
    /* pad: sz >= 0, 0 <= o, o + s <= sz; shrink: 0 <= o, sz >= 0, o + sz <= s */
    ok = resolve_le(ZERO, size) && resolve_le(ZERO, off) &&
         (pad ? resolve_le(iadd(off, s), size) : resolve_le(iadd(off, size), s));
  }
  if (ok) st = shape_copy(sz, out);
  else {
    char a[512], b[256];
    tg_sb sa = tg_sb_fixed(a, sizeof a), sb = tg_sb_fixed(b, sizeof b);
    uint32_t n = o->ndim < sz->ndim ? o->ndim : sz->ndim; /* zip stops at the shorter */
    pairs_fmt(&sa, o->dims, sz->dims, n);
    dims_fmt(&sb, ps->dims, ps->ndim);
    st = tg_err(TG_ERR_SHAPE, "invalid %s %s for %s", pad ? "pad" : "shrink", a, b);
  }
  shape_free(o), shape_free(sz);
  return st;
}

static tg_status rule_flip(tg_uop *u, const tg_shape *ps, tg_shape **out) {
  int ok = u->arg.kind == TG_ARG_TUPLE && u->arg.n == ps->ndim;
  for (uint32_t i = 0; ok && i < u->arg.n; i++) ok = u->arg.items[i].kind == TG_ARG_BOOL;
  if (ok) return shape_copy(ps, out);
  char a[256], b[256];
  tg_sb sb = tg_sb_fixed(b, sizeof b);
  tg_arg_repr(&u->arg, a, sizeof a);
  dims_fmt(&sb, ps->dims, ps->ndim);
  return tg_err(TG_ERR_SHAPE, "bad flip on %s, %s", b, a);
}

static tg_status rule_unshard(tg_uop *u, const tg_shape *ps, tg_shape **out) {
  if (!arg_int_tuple(&u->arg)) return tg_err(TG_ERR_SHAPE, "UNSHARD arg must be a tuple of axes");
  if (!(*out = shape_new(ps->ndim))) return TG_ERR_OUT_OF_MEMORY;
  for (uint32_t a = 0; a < ps->ndim; a++) {
    (*out)->dims[a] = ps->dims[a];
    for (uint32_t k = 0; k < u->arg.n; k++) { /* s * (range.vmax + 1) on a sharded axis (arg.index(a)) */
      if (u->arg.items[k].i != a) continue;
      if (ps->dims[a].u || k + 1 >= u->nsrc)
        return shape_free(*out), *out = NULL, tg_err(TG_ERR_UNSUPPORTED, "UNSHARD of a symbolic dim or without its range");
      (*out)->dims[a].v = ps->dims[a].v * sat_add(tg_uop_bounds(u->src[k + 1]).imax, 1);
      break;
    }
  }
  return TG_OK;
}

static tg_status rule_reduce(tg_uop *u, const tg_shape *ps, tg_shape **out) {
  const tg_arg *a = &u->arg;
  if (a->kind != TG_ARG_TUPLE || a->n < 2) return tg_err(TG_ERR_SHAPE, "tuple index out of range"); /* arg[1] */
  const tg_arg *n = &a->items[1];
  if (n->kind != TG_ARG_INT || n->i < 0 || n->i > ps->ndim) {
    char s[128];
    tg_arg_repr(n, s, sizeof s);
    return tg_err(TG_ERR_SHAPE, "invalid type for axis: %s", s);
  }
  return shape_cat(ps->dims + n->i, ps->ndim - (size_t)n->i, NULL, 0, out);
}

static tg_status rule_broadcast(tg_uop *u, tg_shape **out) {
  const tg_shape *stack_shapes[4], **shapes = u->nsrc <= 4 ? stack_shapes : malloc(u->nsrc * sizeof *shapes);
  if (!shapes) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory computing a shape");
  tg_status st = TG_OK;
  for (size_t i = 0; i < u->nsrc && !st; i++)
    if (!(shapes[i] = cached(u->src[i])))
      st = tg_err(TG_ERR_SHAPE, "None input shape not supported for Ops.%s", tg_op_name((tg_op)u->op));
  if (!st && !u->nsrc) st = tg_err(TG_ERR_SHAPE, "None input shape not supported for Ops.%s", tg_op_name((tg_op)u->op));
  if (!st) st = broadcast(shapes, u->nsrc, out);
  if (shapes != stack_shapes) free(shapes);
  return st;
}

typedef tg_status (*movement_fn)(tg_uop *, const tg_shape *, tg_shape **);
static const movement_fn movement_rules[] = {[S_UNSHARD] = rule_unshard, [S_RESHAPE] = rule_reshape,
                                             [S_EXPAND] = rule_expand,   [S_PERMUTE] = rule_permute,
                                             [S_PAD] = rule_pad_shrink,  [S_SHRINK] = rule_pad_shrink,
                                             [S_FLIP] = rule_flip,       [S_REDUCE] = rule_reduce};

static tg_status rule_movement(tg_uop *u, shape_rule r, tg_shape **out) {
  const tg_shape *ps = cached(u->src[0]);
  if (r == S_RESHAPE && u->src[0]->op == TG_OP_NOOP) return rule_reshape(u, NULL, out);
  if (!ps)
    return tg_err(TG_ERR_SHAPE, "movement op Ops.%s requires shape, Ops.%s doesn't have one", tg_op_name((tg_op)u->op),
                  tg_op_name((tg_op)u->src[0]->op));
  return movement_rules[r](u, ps, out);
}

/* One node, its sources already done. *out stays NULL for a None shape. */
static tg_status compute(tg_uop *u, tg_shape **out) {
  shape_rule r = (shape_rule)shape_rules[u->op];
  const tg_shape *s0 = u->nsrc ? cached(u->src[0]) : NULL;
  *out = NULL;
  if (u->op == TG_OP_UNSHARD && !u->nsrc) return TG_OK; /* the UNSHARD marker has no shape */
  if (r < sizeof shape_min_src && u->nsrc < shape_min_src[r])
    return tg_err(TG_ERR_SHAPE, "Ops.%s needs at least %d sources, got %u", tg_op_name((tg_op)u->op), shape_min_src[r],
                  u->nsrc);
  switch (r) {
  case S_NONE: return TG_OK;
  case S_VOIDNONE: return u->dtype == TG_DT_VOID ? TG_OK : shape_cat(NULL, 0, NULL, 0, out);
  case S_NOOP: case S_PASS: case S_UNARY:
    if (r == S_UNARY && u->nsrc != 1) return tg_err(TG_ERR_SHAPE, "unary ops must have 1 src");
    return s0 ? shape_copy(s0, out) : TG_OK;
  case S_GETTUPLE: return rule_gettuple(u, out);
  case S_INDEX: return rule_index(u, out);
  case S_STACK: return rule_stack(u, out);
  case S_SCALAR: return shape_cat(NULL, 0, NULL, 0, out);
  case S_BINARY: return shape_cat(&(tg_sint){u->arg.kind == TG_ARG_BYTES ? u->arg.n : 0, NULL}, 1, NULL, 0, out);
  case S_BUFFER: return u->nsrc ? as_shape(u->src[0], out) : shape_cat(NULL, 0, NULL, 0, out);
  case S_PARAM: return as_shape(u->src[0], out);
  case S_CUSTOM: return rule_custom(u, out);
  case S_STAGE: return rule_stage(u, out);
  case S_WMMA: return rule_wmma(u, out);
  case S_BITCAST: return rule_bitcast(u, out);
  case S_BROADCAST:
    if (tg_getenv_int("DISALLOW_BROADCAST", 0) && u->nsrc > 1) {
      for (size_t i = 1; i < u->nsrc; i++) {
        const tg_shape *a = cached(u->src[i]);
        if (s0 && a && (a->ndim != s0->ndim || memcmp(a->dims, s0->dims, a->ndim * sizeof(tg_sint))))
          return tg_err(TG_ERR_SHAPE, "shape mismatch at Ops.%s (DISALLOW_BROADCAST)", tg_op_name((tg_op)u->op));
      }
    }
    return rule_broadcast(u, out);
  case S_ERR: break;
  default: return rule_movement(u, r, out);
  }
  return tg_err(TG_ERR_SHAPE, "no shape handling for Ops.%s with dtypes.%s", tg_op_name((tg_op)u->op),
                tg_dtype_repr_name(u->dtype));
}

static tg_status publish(tg_uop *u, tg_shape *s) {
  if (!s) return __atomic_fetch_or(&u->flags, F_SHAPE_NONE, __ATOMIC_RELEASE), TG_OK;
  const tg_shape *expect = NULL;
  if (!__atomic_compare_exchange_n(&u->shape_cache, &expect, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) shape_free(s);
  return TG_OK;
}

static int not_computed(tg_uop *u, void *ctx) { return (void)ctx, !computed(u); }

const tg_shape *tg_uop_shape(tg_uop *u, tg_status *err) {
  tg_status st = TG_OK;
  if (err) *err = TG_OK;
  if (!u) return tg_err(TG_ERR_NULL_POINTER, "tg_uop_shape: u is NULL"), (err ? *err = TG_ERR_NULL_POINTER : 0), NULL;
  if (computed(u)) return cached(u);
  size_t n;
  tg_uop **order = tg_uop_toposort_gated(u, not_computed, NULL, &n);
  if (!order) st = TG_ERR_OUT_OF_MEMORY;
  for (size_t i = 0; i < n && !st; i++) {
    tg_shape *s;
    if (computed(order[i])) continue;
    if (!(st = compute(order[i], &s))) st = publish(order[i], s);
  }
  free(order);
  if (err) *err = st;
  return st ? NULL : cached(u);
}
