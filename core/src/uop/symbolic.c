/* uop/symbolic.c -- tinygrad 0.14.0's uop/symbolic.py and divandmod.py.
**
** The rules are data (symbolic.rules -> symbolic_rules.inc, included at the end); this file holds what tinygrad writes
** as named Python functions: the helpers the rules call with @name(...), and the UOp utilities from ops.py's
** "uop symbolic stuff" they build on. Each helper says which tinygrad function it ports. */
#include "uop/symbolic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tgc_internal.h"

static void release_all(tg_uop **u, size_t n) {
  for (size_t i = 0; i < n; i++) tg_uop_release(u[i]);
}

/* Python's // and % on ints (divisor nonzero) */
static int64_t py_floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t py_mod(int64_t a, int64_t b) { return a - py_floordiv(a, b) * b; }
static int64_t gcd64(int64_t a, int64_t b) {
  uint64_t x = a < 0 ? 0 - (uint64_t)a : (uint64_t)a, y = b < 0 ? 0 - (uint64_t)b : (uint64_t)b;
  while (y) { uint64_t t = x % y; x = y; y = t; }
  return (int64_t)x;
}
static int is_const(const tg_uop *u) { return u->op == TG_OP_CONST; }
static int64_t ival(const tg_uop *u) { tg_num v = tg_uop_val(u); return v.kind == TG_NUM_FLOAT ? (int64_t)v.f : v.i; }

static tg_uop *mul_i(tg_uop *u, int64_t v) {
  tg_uop *c = tg_um_ufix(tg_num_i(v));
  tg_uop *r = c ? tg_um_binop(TG_OP_MUL, u, c) : NULL;
  tg_uop_release(c);
  return r;
}
static tg_uop *binop_i(tg_op op, tg_uop *u, int64_t v) {
  tg_uop *c = tg_um_ufix(tg_num_i(v)), *r = NULL;
  if (!c) return NULL;
  if (op == TG_OP_FLOORDIV) r = tg_um_floordiv(u, c);
  else if (op == TG_OP_FLOORMOD) r = tg_um_mod(u, c);
  else if (op == TG_OP_SUB) r = tg_um_sub(u, c);
  else r = tg_um_binop(op, u, c);
  tg_uop_release(c);
  return r;
}

/* ================= ops.py: uop symbolic stuff ================= */

tg_uop **tg_uop_split(tg_uop *u, tg_op sep, size_t *n) {
  size_t cap = 8, sn = 0, cnt = 0, scap = 8;
  tg_uop **out = malloc(cap * sizeof *out), **st = malloc(scap * sizeof *st);
  if (!out || !st) goto oom;
  st[sn++] = u;
  while (sn) { /* depth first, left to right: the order of the recursive generator */
    tg_uop *x = st[--sn];
    if (x->op == sep) {
      if (sn + x->nsrc > scap) {
        scap = (sn + x->nsrc) * 2;
        tg_uop **ns = realloc(st, scap * sizeof *ns);
        if (!ns) goto oom;
        st = ns;
      }
      for (size_t i = x->nsrc; i-- > 0;) st[sn++] = x->src[i];
      continue;
    }
    if (cnt == cap) {
      tg_uop **no = realloc(out, (cap *= 2) * sizeof *no);
      if (!no) goto oom;
      out = no;
    }
    out[cnt++] = x;
  }
  free(st);
  *n = cnt;
  return out;
oom:
  free(out);
  free(st);
  tg_err(TG_ERR_OUT_OF_MEMORY, "split_uop: out of memory");
  return NULL;
}

/* identity_element(op, dt) = dt.const({ADD: 0, MUL: 1, MAX: dt.min}[op]) */
static tg_num identity_element(tg_op op, int dt) {
  tg_num v = op == TG_OP_ADD ? tg_num_i(0) : op == TG_OP_MUL ? tg_num_i(1) : tg_num_dtype_bound(dt, 0), out = v;
  tg_num_dtype_const(dt, v, &out);
  return out;
}

tg_uop *tg_uop_pop_const(tg_uop *u, tg_op op, tg_num *c) {
  if (u->op == op && u->nsrc == 2 && is_const(u->src[1])) { *c = tg_uop_val(u->src[1]); return u->src[0]; }
  *c = identity_element(op, u->dtype);
  return u;
}

/* ParamArg is ("ParamArg", slot, dtype, vmin_vmax, multiple_of, name, addrspace) */
static int param_multiple_of(const tg_uop *u, int64_t *m) {
  if (u->op != TG_OP_PARAM && u->op != TG_OP_BUFFER) return 0;
  const tg_arg *a = &u->arg;
  if (a->kind != TG_ARG_TUPLE || a->n < 5 || a->items[0].kind != TG_ARG_STR || strcmp(a->items[0].s, "ParamArg") != 0) return 0;
  if (a->items[4].kind != TG_ARG_INT) return 0;
  *m = a->items[4].i;
  return 1;
}

int64_t tg_uop_const_factor(tg_uop *u) {
  int64_t m;
  switch (u->op) {
  case TG_OP_CONST: return ival(u);
  case TG_OP_STACK: {
    int64_t g = 0;
    for (size_t i = 0; i < u->nsrc; i++) g = gcd64(g, tg_uop_const_factor(u->src[i]));
    return g;
  }
  case TG_OP_ADD: return gcd64(tg_uop_const_factor(u->src[0]), tg_uop_const_factor(u->src[1]));
  case TG_OP_MUL: return is_const(u->src[0]) ? ival(u->src[0]) : is_const(u->src[1]) ? ival(u->src[1]) : 1;
  default: return param_multiple_of(u, &m) ? m : 1;
  }
}

tg_uop *tg_uop_divides(tg_uop *u, int64_t v, int *err) {
  *err = 0;
  if (v == 1) return tg_uop_retain(u);
  if (v == 0 && (u->op == TG_OP_CONST || u->op == TG_OP_PARAM || u->op == TG_OP_BUFFER)) {
    *err = 1;
    return tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: divides(0)"), NULL;
  }
  int64_t m;
  if (u->op == TG_OP_CONST) {
    int64_t c = ival(u);
    if (py_mod(c, v) != 0) return NULL;
    tg_uop *r = tg_um_const_like(u, tg_num_i(py_floordiv(c, v)));
    *err = !r;
    return r;
  }
  if (u->op == TG_OP_STACK) {
    tg_uop **d = calloc(u->nsrc + 1, sizeof *d);
    if (!d) return *err = 1, tg_err(TG_ERR_OUT_OF_MEMORY, "divides: out of memory"), NULL;
    size_t i = 0;
    for (; i < u->nsrc; i++)
      if (!(d[i] = tg_uop_divides(u->src[i], v, err))) break;
    tg_uop *r = i == u->nsrc ? tg_uop_new(TG_OP_STACK, TG_DT_AUTO, d, u->nsrc, tg_arg_none()) : NULL;
    if (i == u->nsrc && !r) *err = 1;
    release_all(d, u->nsrc);
    free(d);
    return r;
  }
  if (u->op == TG_OP_ADD) {
    tg_uop *d0 = tg_uop_divides(u->src[0], v, err), *d1 = d0 ? tg_uop_divides(u->src[1], v, err) : NULL;
    tg_uop *r = d1 ? tg_um_binop(TG_OP_ADD, d0, d1) : NULL;
    if (d1 && !r) *err = 1;
    tg_uop_release(d0);
    tg_uop_release(d1);
    return r;
  }
  if (u->op == TG_OP_MUL) {
    tg_uop *d = tg_uop_divides(u->src[0], v, err), *r = NULL;
    if (*err) return NULL;
    if (d) r = tg_um_binop(TG_OP_MUL, d, u->src[1]);
    else if ((d = tg_uop_divides(u->src[1], v, err))) r = tg_um_binop(TG_OP_MUL, u->src[0], d);
    if (d && !r) *err = 1;
    tg_uop_release(d);
    return r;
  }
  if (param_multiple_of(u, &m)) {
    if (py_mod(m, v) != 0) return NULL;
    tg_uop *r = binop_i(TG_OP_FLOORDIV, u, v);
    *err = !r;
    return r;
  }
  return NULL;
}

/* math.prod(items, start=start): start * items[0] * ... (start NULL: Python's int 1, so 1 * items[0] first) */
static tg_uop *uprod_from(tg_uop *start, tg_uop *const *items, size_t n) {
  tg_uop *acc = start ? tg_uop_retain(start) : NULL;
  if (!start && n == 0) return tg_um_ufix(tg_num_i(1));
  for (size_t i = 0; i < n; i++) {
    tg_uop *next;
    if (!acc) {
      tg_uop *one = tg_um_ufix(tg_num_i(1));
      next = one ? tg_um_binop(TG_OP_MUL, one, items[i]) : NULL; /* int.__mul__ defers to UOp.__rmul__ */
      tg_uop_release(one);
    } else next = tg_um_binop(TG_OP_MUL, acc, items[i]);
    tg_uop_release(acc);
    if (!(acc = next)) return NULL;
  }
  return acc;
}

/* A multiset of UOps in insertion order (collections.Counter over split_uop terms). */
typedef struct counter { tg_uop **k; int64_t *c; size_t n; } counter;
static int counter_add(counter *m, tg_uop *u, int64_t d) {
  for (size_t i = 0; i < m->n; i++)
    if (m->k[i] == u) { m->c[i] += d; return 0; }
  tg_uop **nk = realloc(m->k, (m->n + 1) * sizeof *nk);
  if (!nk) return -1;
  m->k = nk;
  int64_t *nc = realloc(m->c, (m->n + 1) * sizeof *nc);
  if (!nc) return -1;
  m->c = nc;
  m->k[m->n] = u;
  m->c[m->n++] = d;
  return 0;
}
static void counter_free(counter *m) { free(m->k); free(m->c); }
/* Counter.elements(): each key count times, in insertion order (non-positive counts skipped). malloc'd. */
static tg_uop **counter_elements(const counter *m, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < m->n; i++) total += m->c[i] > 0 ? (size_t)m->c[i] : 0;
  tg_uop **e = malloc((total + 1) * sizeof *e);
  if (!e) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < m->n; i++)
    for (int64_t j = 0; j < m->c[i]; j++) e[k++] = m->k[i];
  *n = k;
  return e;
}

tg_uop *tg_uop_divide_exact(tg_uop *u, tg_uop *v, int *err) {
  *err = 0;
  if (u == v) { tg_uop *r = tg_um_const_like(u, tg_num_i(1)); *err = !r; return r; }
  if (is_const(v)) return tg_uop_divides(u, ival(v), err);
  if (u->op == TG_OP_ADD) {
    tg_uop *s0 = tg_uop_divide_exact(u->src[0], v, err), *s1 = s0 ? tg_uop_divide_exact(u->src[1], v, err) : NULL;
    tg_uop *r = s1 ? tg_um_binop(TG_OP_ADD, s0, s1) : NULL;
    if (s1 && !r) *err = 1;
    tg_uop_release(s0);
    tg_uop_release(s1);
    return r;
  }
  if (u->op != TG_OP_MUL) return NULL;
  tg_num c, dc;
  tg_uop *fac = tg_uop_pop_const(u, TG_OP_MUL, &c), *dfac = tg_uop_pop_const(v, TG_OP_MUL, &dc);
  int64_t ci = c.kind == TG_NUM_FLOAT ? (int64_t)c.f : c.i, di = dc.kind == TG_NUM_FLOAT ? (int64_t)dc.f : dc.i;
  if (di == 0) return *err = 1, tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: divide_exact by 0"), NULL;
  counter cnt = {0};
  size_t nf, nd;
  tg_uop **f = tg_uop_split(fac, TG_OP_MUL, &nf), **d = f ? tg_uop_split(dfac, TG_OP_MUL, &nd) : NULL, *r = NULL;
  int ok = d != NULL;
  for (size_t i = 0; ok && i < nf; i++) ok = counter_add(&cnt, f[i], 1) == 0;
  for (size_t i = 0; ok && i < nd; i++) ok = counter_add(&cnt, d[i], -1) == 0;
  if (!ok) *err = 1;
  int nonneg = 1;
  for (size_t i = 0; i < cnt.n; i++) nonneg &= cnt.c[i] >= 0;
  if (ok && py_mod(ci, di) == 0 && nonneg) {
    size_t ne;
    tg_uop **e = counter_elements(&cnt, &ne), *start = e ? tg_um_const_like(u, tg_num_i(py_floordiv(ci, di))) : NULL;
    r = start ? uprod_from(start, e, ne) : NULL;
    *err = !r;
    tg_uop_release(start);
    free(e);
  }
  counter_free(&cnt);
  free(f);
  free(d);
  return r;
}

tg_uop *tg_uop_gcd(tg_uop *const *u, size_t n) {
  tg_uop **terms = calloc(n + 1, sizeof *terms), *r = NULL, **elems = NULL;
  counter acc = {0};
  int err = 0;
  int64_t g = 0;
  if (!terms) return tg_err(TG_ERR_OUT_OF_MEMORY, "gcd: out of memory"), NULL;
  for (size_t i = 0; i < n && !err; i++) {
    int64_t f = tg_uop_const_factor(u[i]);
    g = gcd64(g, f);
    terms[i] = tg_uop_divides(u[i], f, &err);
    if (!terms[i] && !err) err = 1, tg_err(TG_ERR_INTERNAL, "gcd: a term is not divisible by its const factor");
  }
  for (size_t i = 0; i < n && !err; i++) { /* Counter intersection: min counts, the first term's order */
    size_t nt;
    tg_uop **t = tg_uop_split(terms[i], TG_OP_MUL, &nt);
    counter c = {0};
    for (size_t j = 0; t && j < nt && !err; j++) err = counter_add(&c, t[j], 1);
    if (!t) err = 1;
    free(t);
    if (i == 0) { acc = c; continue; }
    for (size_t j = 0; j < acc.n; j++) {
      int64_t o = 0;
      for (size_t k = 0; k < c.n; k++)
        if (c.k[k] == acc.k[j]) o = c.c[k];
      if (o < acc.c[j]) acc.c[j] = o;
    }
    counter_free(&c);
  }
  size_t ne = 0;
  if (!err && (elems = counter_elements(&acc, &ne))) {
    tg_uop *gc = tg_um_const_like(terms[0], tg_num_i(g));
    if (gc) {
      elems[ne++] = gc; /* math.prod([*elements, const]): the const last */
      r = uprod_from(NULL, elems, ne);
      tg_uop_release(gc);
    }
  }
  free(elems);
  counter_free(&acc);
  release_all(terms, n);
  free(terms);
  return r;
}

/* UOp.index(*srcs): a single CONST index into a STACK is that element */
static tg_uop *uop_index(tg_uop *self, tg_uop *const *srcs, size_t n) {
  if (n == 1 && is_const(srcs[0]) && self->op == TG_OP_STACK) {
    int64_t i = ival(srcs[0]);
    if (i < 0 || (size_t)i >= self->nsrc) return tg_err(TG_ERR_OUT_OF_RANGE, "IndexError: STACK index %lld", (long long)i), NULL;
    return tg_uop_retain(self->src[i]);
  }
  tg_uop **all = malloc((n + 1) * sizeof *all);
  if (!all) return tg_err(TG_ERR_OUT_OF_MEMORY, "index: out of memory"), NULL;
  all[0] = self;
  memcpy(all + 1, srcs, n * sizeof *srcs);
  tg_uop *r = tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, all, n + 1, tg_arg_none());
  free(all);
  return r;
}

/* ================= helpers of symbolic_simple ================= */

/* const_arg: a CONST's value, a CAST of a CONST at the CAST's width, nothing else (STACKs handled by the caller) */
static int const_arg(tg_uop *u, tg_num *out) {
  if (u->op == TG_OP_CONST) { *out = tg_uop_val(u); return 1; }
  if (u->op == TG_OP_CAST && u->nsrc == 1 && is_const(u->src[0])) return tg_num_dtype_const(u->dtype, tg_uop_val(u->src[0]), out) == 0;
  return 0;
}

/* tinygrad's fold_const_alu: exec_alu over the constant sources (STACKs lane by lane, truncated per lane as
** exec_alu's tuple path does), then a.const_like(result). */
static tg_uop *fold_const_alu(tg_rw *rw, tg_uop *a) {
  size_t lanes = 0;
  for (size_t i = 0; i < a->nsrc; i++) {
    tg_uop *s = a->src[i];
    if (s->op == TG_OP_STACK) {
      for (size_t j = 0; j < s->nsrc; j++)
        if (!is_const(s->src[j])) return NULL;
      if (s->nsrc > lanes) lanes = s->nsrc;
    } else {
      tg_num v;
      if (!const_arg(s, &v)) return NULL;
    }
  }
  tg_num ops[3], r;
  if (a->nsrc > 3) return NULL;
  if (!lanes) {
    for (size_t i = 0; i < a->nsrc; i++) const_arg(a->src[i], &ops[i]);
    if (tg_exec_alu((tg_op)a->op, a->dtype, ops, (int)a->nsrc, 0, &r)) return tg_rw_fail(rw);
    tg_uop *c = tg_um_const_like(a, r);
    return c ? c : tg_rw_fail(rw);
  }
  tg_uop **el = calloc(lanes, sizeof *el);
  if (!el) return tg_rw_fail(rw);
  size_t k = 0;
  for (; k < lanes; k++) {
    for (size_t i = 0; i < a->nsrc; i++) {
      tg_uop *s = a->src[i];
      if (s->op == TG_OP_STACK) {
        if (k >= s->nsrc) { tg_err(TG_ERR_SHAPE, "IndexError: STACK lane %zu of %zu", k, (size_t)s->nsrc); goto fail; }
        ops[i] = tg_uop_val(s->src[k]);
      } else const_arg(s, &ops[i]);
    }
    if (tg_exec_alu((tg_op)a->op, a->dtype, ops, (int)a->nsrc, 1, &r) || !(el[k] = tg_um_const(a->dtype, r))) goto fail;
  }
  tg_uop *st = tg_uop_new(TG_OP_STACK, TG_DT_AUTO, el, lanes, tg_arg_none());
  release_all(el, lanes);
  free(el);
  return st ? st : tg_rw_fail(rw);
fail:
  release_all(el, lanes);
  free(el);
  return tg_rw_fail(rw);
}

/* tinygrad's fold_bitcast: a BITCAST of a CONST between dtypes with a struct format and the same itemsize */
static tg_uop *fold_bitcast(tg_rw *rw, tg_uop *root, tg_uop *c) {
  const tg_dt_desc *dc = tg_dt_desc_of((tg_dtype)c->dtype), *dr = tg_dt_desc_of((tg_dtype)root->dtype);
  if (!dc || !dr || !dc->fmt || !dr->fmt || tg_dt_itemsize((tg_dtype)c->dtype) != tg_dt_itemsize((tg_dtype)root->dtype)) return NULL;
  tg_num v;
  if (tg_num_truncate(c->dtype, tg_uop_val(c), &v)) return tg_rw_fail(rw);
  tg_dt_scalar in, out;
  if (tg_dt_is_float((tg_dtype)c->dtype)) in.f = tg_num_as_f(v);
  else in.i = v.kind == TG_NUM_FLOAT ? (int64_t)v.f : v.i;
  if (!tg_dt_bitcast((tg_dtype)c->dtype, (tg_dtype)root->dtype, in, &out)) return NULL;
  tg_num n = tg_dt_is_float((tg_dtype)root->dtype) ? tg_num_f(out.f) : tg_dt_is_bool((tg_dtype)root->dtype) ? tg_num_b((int)out.i) : tg_num_i(out.i);
  tg_uop *r = tg_um_const_like(root, n);
  return r ? r : tg_rw_fail(rw);
}

/* tinygrad's _quotient_base: the B with q == B//div and B%div == base%div, or NULL */
static tg_uop *quotient_base(tg_uop *q, tg_uop *base, int64_t div, int *err) {
  tg_num sn, an;
  q = tg_uop_pop_const(q, TG_OP_ADD, &sn);
  tg_uop *num = tg_uop_pop_const(base, TG_OP_ADD, &an);
  int64_t s = sn.i, a = an.i, D;
  if (q->op != TG_OP_FLOORDIV || !is_const(q->src[1])) return NULL;
  int64_t qd = ival(q->src[1]);
  if (div > 0 && num->op == TG_OP_FLOORDIV && is_const(num->src[1]) && qd == ival(num->src[1]) * div) {
    int64_t c = ival(num->src[1]);
    num = num->src[0], a = a * c, D = c * div;
  } else if (qd == div) D = div;
  else return NULL;
  tg_num xa, pa;
  tg_uop *x = tg_uop_pop_const(num, TG_OP_ADD, &xa), *p = tg_uop_pop_const(q->src[0], TG_OP_ADD, &pa);
  if (D == 0) return *err = 1, tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: integer modulo by zero"), NULL;
  int64_t t = xa.i + a - pa.i;
  if (p != x || py_mod(t, D)) return NULL;
  int64_t k = py_floordiv(t, D) - s;
  tg_uop *r = k ? binop_i(TG_OP_SUB, base, k * div) : tg_uop_retain(base);
  if (!r) *err = 1;
  return r;
}

/* (b*mul).usum(*rest) */
static tg_uop *scaled_sum(tg_uop *b, int64_t mul, tg_uop *const *terms, size_t n, size_t skip_i, size_t skip_j) {
  tg_uop **all = malloc((n + 1) * sizeof *all), *r = NULL;
  if (!all) return NULL;
  size_t k = 0;
  if ((all[k++] = mul_i(b, mul))) {
    for (size_t t = 0; t < n; t++)
      if (t != skip_i && t != skip_j) all[k++] = terms[t];
    r = tg_um_usum(all, k);
  }
  tg_uop_release(all[0]);
  free(all);
  return r;
}

/* tinygrad's fold_add_divmod_recombine: a scaled mod (base%div)*mul recombines with a partner q*(div*mul) that carries
** the quotient of a b == base (mod div): q == b//div -> b*mul; q == (b//div)%d -> (b%(div*d))*mul. */
static tg_uop *fold_add_divmod_recombine(tg_rw *rw, tg_uop *x) {
  size_t n;
  tg_uop **terms = tg_uop_split(x, TG_OP_ADD, &n), *r = NULL;
  if (!terms) return tg_rw_fail(rw);
  int err = 0;
  for (size_t i = 0; i < n && !r && !err; i++) {
    tg_num muln;
    tg_uop *mod = tg_uop_pop_const(terms[i], TG_OP_MUL, &muln);
    if (mod->op != TG_OP_FLOORMOD || !is_const(mod->src[1])) continue;
    tg_uop *base = mod->src[0];
    int64_t div = ival(mod->src[1]), mul = muln.i;
    for (size_t j = 0; j < n && !r && !err; j++) {
      tg_num scale;
      tg_uop *q = tg_uop_pop_const(terms[j], TG_OP_MUL, &scale);
      if (i == j || scale.i != div * mul) continue;
      tg_uop *b = quotient_base(q, base, div, &err);
      if (b) {
        r = scaled_sum(b, mul, terms, n, i, j);
        err |= !r;
        tg_uop_release(b);
        break;
      }
      if (err || q->op != TG_OP_FLOORMOD || !is_const(q->src[1]) || ival(q->src[1]) <= 0) continue;
      int64_t d = ival(q->src[1]);
      if ((b = quotient_base(q->src[0], base, div, &err))) {
        tg_uop *m = binop_i(TG_OP_FLOORMOD, b, div * d);
        r = m ? scaled_sum(m, mul, terms, n, i, j) : NULL;
        err |= !r;
        tg_uop_release(m);
        tg_uop_release(b);
      }
    }
  }
  free(terms);
  return err ? tg_rw_fail(rw) : r;
}

/* UOp.pow via ElementwiseMixin.pow: base.alu(POW, exponent) after promotion */
static tg_uop *upow(tg_uop *x, tg_num e) {
  tg_uop *c = tg_um_ufix(e);
  if (!c) return NULL;
  tg_dtype out = tg_dt_least_upper2((tg_dtype)x->dtype, (tg_dtype)c->dtype);
  tg_uop *r = tg_dt_is_float(out) || (e.kind == TG_NUM_INT && e.i >= 0) ? tg_um_binop(TG_OP_POW, x, c)
                                                                         : (tg_err(TG_ERR_DTYPE, "base needs to be float"), NULL);
  tg_uop_release(c);
  return r;
}

/* tinygrad's simplify_pow: x ** c for a constant c, in terms of reciprocal, sqrt and smaller powers */
static tg_uop *simplify_pow(tg_rw *rw, tg_uop *x, tg_uop *c) {
  tg_num v = tg_uop_val(c);
  double f = tg_num_as_f(v);
  tg_uop *r = NULL, *t = NULL, *y = NULL;
  if (f < 0) {
    t = tg_um_unary(TG_OP_RECIPROCAL, x);
    r = t ? upow(t, tg_num_neg(v)) : NULL;
  } else if (f == 0) {
    r = tg_um_const_like(x, tg_num_i(1));
  } else if (isfinite(f) && trunc(f - 0.5) + 0.5 == f) { /* int(c-0.5)+0.5 == c */
    tg_num h;
    tg_num_binop(TG_OP_SUB, v, tg_num_f(0.5), &h);
    t = upow(x, h);
    y = t ? tg_um_unary(TG_OP_SQRT, x) : NULL;
    r = y ? tg_um_binop(TG_OP_MUL, t, y) : NULL;
  } else if (isfinite(f) && trunc(f) == f) { /* (y := x.pow(c//2)) * y * (x if c%2 == 1 else 1) */
    tg_num h, m;
    tg_num_binop(TG_OP_FLOORDIV, v, tg_num_i(2), &h);
    tg_num_binop(TG_OP_FLOORMOD, v, tg_num_i(2), &m);
    y = upow(x, h);
    t = y ? tg_um_binop(TG_OP_MUL, y, y) : NULL;
    if (t && tg_num_equal(m, tg_num_i(1))) r = tg_um_binop(TG_OP_MUL, t, x);
    else if (t) {
      tg_uop *one = tg_um_ufix(tg_num_i(1));
      r = one ? tg_um_binop(TG_OP_MUL, t, one) : NULL;
      tg_uop_release(one);
    }
  } else return NULL;
  tg_uop_release(t);
  tg_uop_release(y);
  return r ? r : tg_rw_fail(rw);
}

/* tinygrad's fold_const_where: a strong WHERE folding to a weak CONST branch keeps the strong dtype (commit_weak) */
static tg_uop *fold_const_where(tg_rw *rw, tg_uop *gate, tg_uop *c0, tg_uop *c1, tg_uop *w) {
  tg_uop *ret = tg_num_truthy(tg_uop_val(gate)) ? c0 : c1, *r;
  if (is_const(ret) && tg_dt_is_weak((tg_dtype)ret->dtype) && !tg_dt_is_weak((tg_dtype)w->dtype)) r = tg_um_const(w->dtype, tg_uop_val(ret));
  else r = tg_uop_retain(ret);
  return r ? r : tg_rw_fail(rw);
}

/* ================= helpers of mop_cleanup ================= */

static int shape_eq(const tg_shape *a, const tg_shape *b) {
  if (a->ndim != b->ndim) return 0;
  for (uint32_t i = 0; i < a->ndim; i++) {
    if ((a->dims[i].u != NULL) != (b->dims[i].u != NULL)) return 0;
    if (a->dims[i].u ? a->dims[i].u != b->dims[i].u : a->dims[i].v != b->dims[i].v) return 0;
  }
  return 1;
}

/* UOp.shape, raising like tinygrad when there is none */
static const tg_shape *shape_of(tg_rw *rw, tg_uop *u) {
  tg_status st = TG_OK;
  const tg_shape *s = tg_uop_shape(u, &st);
  if (!s) {
    if (st == TG_OK) tg_err(TG_ERR_SHAPE, "%s has no shape", tg_op_name((tg_op)u->op));
    rw->failed = 1;
  }
  return s;
}

/* x2._shape is not None and x2.shape == x.shape */
static int same_shape(tg_rw *rw, tg_uop *a, tg_uop *b) {
  tg_status st = TG_OK;
  const tg_shape *sa = tg_uop_shape(a, &st);
  if (!sa) { if (st != TG_OK) rw->failed = 1; return 0; }
  const tg_shape *sb = shape_of(rw, b);
  return sb && shape_eq(sa, sb);
}

/* x2.replace(arg=tuple(x2.arg[i] for i in x.arg)) */
static tg_uop *merge_permutes(tg_rw *rw, tg_uop *x, tg_uop *x2) {
  if (x->arg.kind != TG_ARG_TUPLE || x2->arg.kind != TG_ARG_TUPLE) return NULL;
  tg_arg *items = malloc((x->arg.n + 1) * sizeof *items);
  if (!items) return tg_rw_fail(rw);
  for (uint32_t k = 0; k < x->arg.n; k++) {
    int64_t i = x->arg.items[k].i;
    if (i < 0 || (uint32_t)i >= x2->arg.n) { free(items); tg_err(TG_ERR_OUT_OF_RANGE, "IndexError: permute %lld", (long long)i); return tg_rw_fail(rw); }
    items[k] = x2->arg.items[i];
  }
  tg_arg a = tg_arg_tuple(items, x->arg.n);
  tg_uop *r = tg_uop_replace(x2, (tg_op)x2->op, x2->dtype, x2->src, x2->nsrc, &a, NULL);
  free(items);
  return r ? r : tg_rw_fail(rw);
}

/* list(x.arg) == list(range(len(x.arg))) */
static int is_identity_permute(tg_rw *rw, tg_uop *x) {
  (void)rw;
  if (x->arg.kind != TG_ARG_TUPLE) return 0;
  for (uint32_t k = 0; k < x->arg.n; k++)
    if (x->arg.items[k].i != (int64_t)k) return 0;
  return 1;
}

/* stk.shape == src.shape and list(range(len(stk.src))) == [x.src[1].val for x in stk.src] */
static int stack_of_index(tg_rw *rw, tg_uop *stk, tg_uop *src) {
  const tg_shape *a = shape_of(rw, stk), *b = a ? shape_of(rw, src) : NULL;
  if (!b || !shape_eq(a, b)) return 0;
  for (size_t k = 0; k < stk->nsrc; k++)
    if (ival(stk->src[k]->src[1]) != (int64_t)k) return 0;
  return 1;
}

/* a.src[i.val] if len(idx.src) <= 2 else a.src[i.val].index(*idx.src[2:]) */
static tg_uop *index_into_stack(tg_rw *rw, tg_uop *a, tg_uop *i, tg_uop *idx) {
  int64_t k = ival(i);
  if (k < 0) k += (int64_t)a->nsrc; /* Python's negative index */
  if (k < 0 || (size_t)k >= a->nsrc) { tg_err(TG_ERR_OUT_OF_RANGE, "IndexError: tuple index %lld out of range", (long long)ival(i)); return tg_rw_fail(rw); }
  tg_uop *r = idx->nsrc <= 2 ? tg_uop_retain(a->src[k]) : uop_index(a->src[k], idx->src + 2, idx->nsrc - 2);
  return r ? r : tg_rw_fail(rw);
}

static int all_scalar(tg_rw *rw, tg_uop *const *u, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const tg_shape *s = shape_of(rw, u[k]);
    if (!s || s->ndim) return 0;
  }
  return 1;
}

/* idx1.src[0].index(*idx1.src[1:], *idx2.src[1:]) if every index is a scalar */
static tg_uop *index_on_index(tg_rw *rw, tg_uop *idx1, tg_uop *idx2) {
  if (!all_scalar(rw, idx1->src + 1, idx1->nsrc - 1) || !all_scalar(rw, idx2->src + 1, idx2->nsrc - 1)) return NULL;
  size_t n = idx1->nsrc - 1 + idx2->nsrc - 1;
  tg_uop **s = malloc((n + 1) * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  memcpy(s, idx1->src + 1, (idx1->nsrc - 1) * sizeof *s);
  memcpy(s + idx1->nsrc - 1, idx2->src + 1, (idx2->nsrc - 1) * sizeof *s);
  tg_uop *r = uop_index(idx1->src[0], s, n);
  free(s);
  return r ? r : tg_rw_fail(rw);
}

/* buf.index(idx1_arg.index(*idx2.src[1:])) if len(idx1_arg.shape) == len(idx2.src[1:]) */
static tg_uop *index_on_shaped_index(tg_rw *rw, tg_uop *buf, tg_uop *idx1_arg, tg_uop *idx2) {
  const tg_shape *s = shape_of(rw, idx1_arg);
  if (!s || (size_t)s->ndim != (size_t)idx2->nsrc - 1) return NULL;
  tg_uop *inner = uop_index(idx1_arg, idx2->src + 1, idx2->nsrc - 1), *r = inner ? uop_index(buf, &inner, 1) : NULL;
  tg_uop_release(inner);
  return r ? r : tg_rw_fail(rw);
}

/* ================= helpers of symbolic (phase 2) ================= */

static int tuplize_lt(tg_rw *rw, tg_uop *a, tg_uop *b) {
  int r = tg_uop_tuplize_lt(a, b);
  if (r < 0) rw->failed = 1;
  return r > 0;
}

static int in_toposort(tg_uop *root, tg_uop *x, int *err) {
  size_t n;
  tg_uop **t = tg_uop_toposort(root, &n);
  if (!t) return *err = 1, 0;
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) found = t[i] == x;
  free(t);
  return found;
}

static int op_in_slice(tg_uop *root, tg_op op, int *err) { /* op_in_backward_slice_with_self */
  size_t n;
  tg_uop **t = tg_uop_toposort(root, &n);
  if (!t) return *err = 1, 0;
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) found = t[i]->op == op;
  free(t);
  return found;
}

/* tinygrad's fold_where_closure: in cond.where(t, f), cond is True within t and False within f */
static tg_uop *fold_where_closure(tg_rw *rw, tg_uop *cond, tg_uop *t, tg_uop *f) {
  int err = 0;
  /* cond in t.bool_slice: cond is a bool, so that is "cond is in t's backward slice" */
  if (!in_toposort(t, cond, &err) && !err && !in_toposort(f, cond, &err) && !err) return NULL;
  if (err) return tg_rw_fail(rw);
  /* INDEX gates are owned by the valid/store-coalescing machinery */
  tg_uop *three[3] = {cond, t, f};
  for (int i = 0; i < 3; i++) {
    if (op_in_slice(three[i], TG_OP_INDEX, &err)) return NULL;
    if (err) return tg_rw_fail(rw);
  }
  tg_uop *tr = tg_uop_const_bool(1), *fa = tg_uop_const_bool(0);
  tg_uop *nt = tr && fa ? tg_uop_substitute(t, &cond, &tr, 1) : NULL, *nf = nt ? tg_uop_substitute(f, &cond, &fa, 1) : NULL;
  tg_uop *r = nf ? tg_um_where(cond, nt, nf) : NULL;
  tg_uop_release(tr), tg_uop_release(fa), tg_uop_release(nt), tg_uop_release(nf);
  return r ? r : tg_rw_fail(rw);
}

/* tinygrad's lt_folding: x < c with x = p + np, where the p terms (const factor 1) stay below the gcd d of the np
** terms and c: (np/d) < c//d */
static tg_uop *lt_folding(tg_rw *rw, tg_uop *x, tg_num cn) {
  size_t n;
  tg_uop **terms = tg_uop_split(x, TG_OP_ADD, &n), **np = terms ? malloc((n + 1) * sizeof *np) : NULL, *r = NULL;
  if (!np) { free(terms); return tg_rw_fail(rw); }
  int64_t c = cn.i, d = c, pmin = 0, pmax = 0;
  size_t nn = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t f = tg_uop_const_factor(terms[i]);
    if (f == 1) {
      pmin += tg_uop_vmin(terms[i]).i;
      pmax += tg_uop_vmax(terms[i]).i;
    } else {
      np[nn++] = terms[i];
      d = gcd64(d, f);
    }
  }
  int err = 0;
  if (nn && d > 1 && 0 <= pmin && pmax < d) {
    tg_uop *sum = tg_um_usum(np, nn), *q = sum ? tg_uop_divides(sum, d, &err) : NULL;
    if (sum && !q && !err) tg_err(TG_ERR_INTERNAL, "lt_folding: unwrap(None)");
    tg_uop *cq = q ? tg_um_ufix(tg_num_i(py_floordiv(c, d))) : NULL;
    r = cq ? tg_um_binop(TG_OP_CMPLT, q, cq) : NULL;
    err = !r;
    tg_uop_release(sum), tg_uop_release(q), tg_uop_release(cq);
  }
  free(terms);
  free(np);
  return err ? tg_rw_fail(rw) : r;
}

/* tinygrad's canonicalize_simplex: a0*x0 + a1*x1 + ... > 0 (ai > 0, xi >= 0 irreducible) is x0 + x1 + ... > 0 */
static tg_uop *canonicalize_simplex(tg_rw *rw, tg_uop *x) {
  size_t n;
  tg_uop **terms = tg_uop_split(x, TG_OP_ADD, &n), *r = NULL;
  if (!terms) return tg_rw_fail(rw);
  int changed = 0, ok = 1;
  for (size_t i = 0; i < n && ok; i++) {
    tg_uop *u = terms[i];
    if (u->op == TG_OP_MUL && is_const(u->src[1]) && tg_num_as_f(tg_uop_val(u->src[1])) > 0) { /* the const is the last src */
      changed = 1;
      u = u->src[0];
    }
    ok = tg_opset_has(TG_GROUP_IRREDUCIBLE, (tg_op)u->op) && tg_num_as_f(tg_uop_vmin(u)) >= 0;
    terms[i] = u;
  }
  if (ok && changed && !(r = tg_um_usum(terms, n))) ok = -1;
  free(terms);
  return ok < 0 ? tg_rw_fail(rw) : r;
}

static int overflows_int32(tg_uop *u) {
  return tg_num_as_f(tg_uop_vmin(u)) < -2147483648.0 || tg_num_as_f(tg_uop_vmax(u)) > 2147483647.0;
}

/* try to do math in int instead of long, keeping a weak const weak */
static tg_uop *cast_long_to_int(tg_rw *rw, tg_uop *u, tg_uop *x, tg_uop *y) {
  if (x->dtype != TG_INT64 && y->dtype != TG_INT64) return NULL;
  if (overflows_int32(u) || overflows_int32(x) || overflows_int32(y)) return NULL;
  tg_uop *a = is_const(x) ? tg_um_ufix(tg_uop_val(x)) : tg_um_cast(x, TG_INT32);
  tg_uop *b = a ? (is_const(y) ? tg_um_ufix(tg_uop_val(y)) : tg_um_cast(y, TG_INT32)) : NULL;
  tg_uop *v = b ? tg_uop_alu((tg_op)u->op, 2, (tg_uop *[]){a, b}) : NULL, *r = v ? tg_um_cast(v, u->dtype) : NULL;
  tg_uop_release(a), tg_uop_release(b), tg_uop_release(v);
  return r ? r : tg_rw_fail(rw);
}

/* AFTER keeps only sources with side effects (RANGE/STORE/CALL/...), others are replaced by their sources, deduped */
static tg_uop *after_dedup(tg_rw *rw, tg_uop *x) {
  size_t cap = 1;
  for (size_t i = 1; i < x->nsrc; i++) cap += x->src[i]->nsrc + 1;
  tg_uop **s = malloc(cap * sizeof *s);
  if (!s) return tg_rw_fail(rw);
  size_t n = 0;
  s[n++] = x->src[0];
  for (size_t i = 1; i < x->nsrc; i++) {
    tg_uop *y = x->src[i];
    int keep = y->op == TG_OP_RANGE || y->op == TG_OP_STORE || y->op == TG_OP_CALL || y->op == TG_OP_FUNCTION || y->op == TG_OP_BARRIER ||
               y->op == TG_OP_END || y->op == TG_OP_LINEAR || y->op == TG_OP_STAGE;
    tg_uop *const *add = keep ? &x->src[i] : y->src;
    size_t na = keep ? 1 : y->nsrc;
    for (size_t k = 0; k < na; k++) {
      int dup = 0;
      for (size_t j = 1; j < n && !dup; j++) dup = s[j] == add[k];
      if (!dup) s[n++] = add[k];
    }
  }
  tg_uop *r = tg_uop_replace(x, (tg_op)x->op, x->dtype, s, n, NULL, NULL);
  free(s);
  return r ? r : tg_rw_fail(rw);
}

static tg_uop *fold_divmod_general(tg_rw *rw, tg_uop *d) {
  int err = 0;
  tg_uop *r = tg_fold_divmod_general(d, &err);
  return err ? tg_rw_fail(rw) : r;
}

#include "uop/symbolic_rules.inc"

tg_uop *tg_uop_simplify(tg_uop *u) {
  if (u->op == TG_OP_CONST) return tg_uop_retain(u);
  const tg_pm *pm = tg_pm_symbolic();
  if (!pm) return tg_err(TG_ERR_OUT_OF_MEMORY, "simplify: the symbolic matcher could not be built"), NULL;
  return tg_graph_rewrite(u, pm, NULL, 0, NULL);
}
