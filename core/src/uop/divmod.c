/* uop/divmod.c -- tinygrad 0.14.0's uop/divandmod.py: fold_divmod_general, the slow path of div_and_mod_symbolic
** (its fast rules are data in symbolic.rules).
**
** The expressions built here copy tinygrad's construction exactly (Python's sum() starts at int 0, so it builds
** 0 + t0 + t1; `k*v` with an int k builds MUL(k, v)), because the rewrite continues from them to a fixed point and the
** final form depends on what was built. */
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tgc_internal.h"
#include "uop/symbolic.h"

typedef struct dm {
  int err;
  tg_uop **tmp; /* every UOp built here, released at the end */
  size_t n, cap;
} dm;

/* keeps u (a new reference) until the end; NULL input marks failure */
static tg_uop *keep(dm *m, tg_uop *u) {
  if (!u) { m->err = 1; return NULL; }
  if (m->n == m->cap) {
    size_t ncap = m->cap ? m->cap * 2 : 32;
    tg_uop **t = realloc(m->tmp, ncap * sizeof *t);
    if (!t) { tg_uop_release(u); m->err = 1; tg_err(TG_ERR_OUT_OF_MEMORY, "fold_divmod_general: out of memory"); return NULL; }
    m->tmp = t;
    m->cap = ncap;
  }
  return m->tmp[m->n++] = u;
}

/* keeps u when it is a UOp; NULL is a legitimate "unknown" here (divides, divide_exact) */
static tg_uop *keep_opt(dm *m, tg_uop *u) { return u ? keep(m, u) : NULL; }

static int64_t fdiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }
static int64_t fmod_(int64_t a, int64_t b) { return a - fdiv(a, b) * b; }
static int64_t gcd64(int64_t a, int64_t b) {
  uint64_t x = a < 0 ? 0 - (uint64_t)a : (uint64_t)a, y = b < 0 ? 0 - (uint64_t)b : (uint64_t)b;
  while (y) { uint64_t t = x % y; x = y; y = t; }
  return (int64_t)x;
}
static int64_t vmin(tg_uop *u) { return tg_uop_vmin(u).i; }
static int64_t vmax(tg_uop *u) { return tg_uop_vmax(u).i; }
static int64_t cval(tg_uop *u) { return tg_uop_val(u).i; }

/* UOp <op> UOp / UOp <op> int / int <op> UOp, with the mixin's promotion; NULL propagates */
static tg_uop *uu(dm *m, tg_op op, tg_uop *a, tg_uop *b) {
  if (!a || !b) return m->err = 1, NULL;
  if (op == TG_OP_SUB) return keep(m, tg_um_sub(a, b));
  if (op == TG_OP_FLOORDIV) return keep(m, tg_um_floordiv(a, b));
  if (op == TG_OP_FLOORMOD) return keep(m, tg_um_mod(a, b));
  return keep(m, tg_um_binop(op, a, b));
}
static tg_uop *ci(dm *m, int64_t v) { return keep(m, tg_um_ufix(tg_num_i(v))); }
static tg_uop *ui(dm *m, tg_op op, tg_uop *a, int64_t v) { return uu(m, op, a, ci(m, v)); }
static tg_uop *iu(dm *m, tg_op op, int64_t v, tg_uop *b) { return uu(m, op, ci(m, v), b); }
static tg_uop *const_like(dm *m, tg_uop *u, int64_t v) { return keep(m, tg_um_const_like(u, tg_num_i(v))); }

/* Python's sum(items): 0 + items[0] + items[1] + ...; *is_int set (and NULL returned) for an empty sum, the int 0 */
static tg_uop *py_sum(dm *m, tg_uop *const *items, size_t n) {
  if (!n) return NULL;
  tg_uop *acc = iu(m, TG_OP_ADD, 0, items[0]);
  for (size_t i = 1; i < n && acc; i++) acc = uu(m, TG_OP_ADD, acc, items[i]);
  return acc;
}

static size_t slice_len(tg_uop *u, dm *m) { /* len(u.backward_slice) */
  size_t n;
  tg_uop **t = tg_uop_toposort(u, &n);
  if (!t) { m->err = 1; return 0; }
  free(t);
  return n - 1;
}

/* CPython's set probe (setobject.c): linear probes, then perturbation */
static size_t set_probe(const uint8_t *full, size_t mask, uint64_t h) {
  uint64_t perturb = h;
  size_t i = h & mask;
  for (;;) {
    if (!full[i]) return i;
    if (i + 9 <= mask)
      for (size_t j = 1; j <= 9; j++)
        if (!full[i + j]) return i + j;
    perturb >>= 5;
    i = (i * 5 + 1 + perturb) & mask;
  }
}

/* The order CPython iterates a set of small non-negative ints built by inserting vals in order (nest_by_factor's
** divisors): a table of 8, resized to the power of two above 4*used when 3/5 full. Rewrites vals; returns the count. */
static size_t py_set_order(int64_t *vals, size_t n) {
  enum { CAP = 256 };
  int64_t table[CAP];
  uint8_t full[CAP] = {0};
  size_t mask = 7, used = 0;
  for (size_t k = 0; k < n && used < CAP / 5; k++) {
    int dup = 0;
    for (size_t j = 0; j <= mask && !dup; j++) dup = full[j] && table[j] == vals[k];
    if (dup) continue;
    size_t i = set_probe(full, mask, (uint64_t)vals[k]);
    table[i] = vals[k], full[i] = 1, used++;
    if (used * 5 < mask * 3) continue;
    int64_t old[CAP];
    size_t no = 0, ns = 8;
    for (size_t j = 0; j <= mask; j++)
      if (full[j]) old[no++] = table[j];
    while (ns <= used * 4) ns <<= 1;
    mask = ns - 1;
    memset(full, 0, sizeof full);
    for (size_t j = 0; j < no; j++) {
      size_t t = set_probe(full, mask, (uint64_t)old[j]);
      table[t] = old[j], full[t] = 1;
    }
  }
  size_t out = 0;
  for (size_t j = 0; j <= mask; j++)
    if (full[j]) vals[out++] = table[j];
  return out;
}

/* bool(u) (UOp._eval): the simplified u must have a single value */
static int uop_bool(dm *m, tg_uop *u, int *out) {
  if (!u) return m->err = 1, -1;
  tg_uop *s = keep(m, tg_uop_simplify(u));
  if (!s) return -1;
  tg_num lo = tg_uop_vmin(s), hi = tg_uop_vmax(s);
  if (!tg_num_equal(lo, hi)) {
    m->err = 1;
    tg_err(TG_ERR_INVALID_ARGUMENT, "ValueError: eval failed to be a single number");
    return -1;
  }
  *out = tg_num_truthy(lo);
  return 0;
}

static tg_uop *fold(dm *m, tg_uop *d);

/* the rules for a constant denominator c > 0; NULL (with m->err clear) when none applies */
static tg_uop *const_denominator(dm *m, tg_uop *d, tg_uop *x_peeled, int64_t cnst, tg_uop **nc, size_t nn) {
  tg_uop *x = d->src[0], *y = d->src[1];
  int isdiv = d->op == TG_OP_FLOORDIV, err = 0;
  int64_t c = cval(y);
  /* nested_div: (x%(k*c))//c -> (x//c)%k, k > 0 */
  if (isdiv && x->op == TG_OP_FLOORMOD) {
    tg_uop *k = keep_opt(m, tg_uop_divides(x->src[1], c, &err)), *gt = NULL;
    if (err) return m->err = 1, NULL;
    int pos = 0;
    if (k && (gt = iu(m, TG_OP_CMPLT, 0, k)) && uop_bool(m, gt, &pos)) return NULL;
    if (k && pos) return uu(m, TG_OP_FLOORMOD, uu(m, TG_OP_FLOORDIV, x->src[0], y), k);
  }
  /* remove_nested_mod in a sum: (a%4 + b)%2 -> (a+b)%2 */
  if (!isdiv) {
    tg_uop **nx = malloc((nn + 1) * sizeof *nx);
    if (!nx) return m->err = 1, NULL;
    int changed = 0;
    for (size_t i = 0; i < nn; i++) {
      tg_uop *u = nc[i];
      if (u->op == TG_OP_FLOORMOD) {
        tg_uop *q = keep_opt(m, tg_uop_divides(u->src[1], c, &err));
        if (err) { free(nx); return m->err = 1, NULL; }
        if (q) { u = u->src[0]; changed = 1; }
      }
      nx[i] = u;
    }
    tg_uop *r = changed ? uu(m, TG_OP_FLOORMOD, ui(m, TG_OP_ADD, keep(m, tg_um_usum(nx, nn)), cnst), y) : NULL;
    free(nx);
    if (changed) return r;
  }
  /* the shared decomposition: each term as factor * term */
  tg_uop **terms = calloc(nn + 1, sizeof *terms), *res = NULL;
  int64_t *factors = calloc(nn + 1, sizeof *factors);
  if (!terms || !factors) { free(terms); free(factors); return m->err = 1, NULL; }
  for (size_t i = 0; i < nn && !m->err; i++) {
    factors[i] = tg_uop_const_factor(nc[i]);
    if (factors[i] == 0) { m->err = 1; tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: integer modulo by zero"); break; }
    terms[i] = keep_opt(m, tg_uop_divides(nc[i], factors[i], &err));
    if (!terms[i]) m->err = 1;
  }
  if (m->err) goto done;
  /* fold_divmod_congruence: a sum congruent to one whose range lies within a single period of c */
  {
    int64_t choice[64][2];
    int nchoice[64];
    size_t lim = nn < 64 ? nn : 64;
    size_t combos = 1;
    for (size_t i = 0; i < lim; i++) {
      int64_t r = fmod_(factors[i], c);
      if (r * 2 == c || nn == 1) { choice[i][0] = r, choice[i][1] = r - c, nchoice[i] = 2; }
      else { choice[i][0] = (r < 0 ? -r : r) <= ((r - c) < 0 ? c - r : r - c) ? r : r - c; nchoice[i] = 1; }
      if (combos < (1u << 20)) combos *= (size_t)nchoice[i];
    }
    for (size_t it = 0; it < combos && nn <= 64 && !res && !m->err; it++) {
      int64_t rems[64];
      size_t code = it;
      for (size_t i = lim; i-- > 0;) { /* itertools.product: the last position varies fastest */
        rems[i] = choice[i][code % (size_t)nchoice[i]];
        code /= (size_t)nchoice[i];
      }
      tg_uop **prods = malloc((nn + 1) * sizeof *prods);
      if (!prods) { m->err = 1; break; }
      for (size_t i = 0; i < nn; i++) prods[i] = iu(m, TG_OP_MUL, rems[i], terms[i]);
      tg_uop *rem = ui(m, TG_OP_ADD, py_sum(m, prods, nn), fmod_(cnst, c));
      if (rem && fdiv(vmin(rem), c) == fdiv(vmax(rem), c)) {
        if (!isdiv) res = ui(m, TG_OP_SUB, rem, fdiv(vmin(rem), c) * c);
        else {
          for (size_t i = 0; i < nn; i++) prods[i] = iu(m, TG_OP_MUL, fdiv(factors[i] - rems[i], c), terms[i]);
          res = ui(m, TG_OP_ADD, ui(m, TG_OP_ADD, py_sum(m, prods, nn), fdiv(cnst, c)), fdiv(vmin(rem), c));
        }
      }
      free(prods);
    }
    if (res || m->err) goto done;
  }
  /* gcd_with_remainder: factor a common gcd out of the numerator */
  {
    int64_t g = c;
    for (size_t i = 0; i < nn; i++) g = gcd64(g, factors[i]);
    if (g > 1) {
      tg_uop *q = keep_opt(m, tg_uop_divides(x_peeled, g, &err));
      if (!q) { m->err = 1; if (!err) tg_err(TG_ERR_INTERNAL, "fold_divmod_general: unwrap(None)"); goto done; }
      tg_uop *new_x = ui(m, TG_OP_ADD, keep(m, tg_uop_simplify(q)), fmod_(fdiv(cnst, g), c / g));
      if (new_x && vmin(new_x) >= 0) {
        if (!isdiv) res = ui(m, TG_OP_ADD, ui(m, TG_OP_MUL, ui(m, TG_OP_FLOORMOD, new_x, c / g), g), fmod_(cnst, g));
        else res = ui(m, TG_OP_ADD, ui(m, TG_OP_FLOORDIV, new_x, c / g), fdiv(cnst, c));
        goto done;
      }
      if (m->err) goto done;
    }
  }
  /* nest_by_factor: x//c -> (x//f)//(c//f), x%c -> (x//f%(c//f))*f + x%f; the smallest result wins */
  {
    int64_t divs[64];
    size_t nd = 0;
    for (size_t i = 0; i < nn && nd < 64; i++) {
      int64_t f = factors[i] < 0 ? -factors[i] : factors[i];
      if (nc[i]->op != TG_OP_CONST && 1 < f && f < c && fmod_(c, factors[i]) == 0) divs[nd++] = f;
    }
    nd = py_set_order(divs, nd);
    size_t best_len = 0;
    for (size_t k = 0; k < nd && !m->err; k++) {
      int64_t div = divs[k];
      tg_uop *xd = ui(m, TG_OP_FLOORDIV, x, div), *newxs = xd ? fold(m, xd) : NULL, *cand = NULL;
      if (!newxs) continue;
      if (isdiv) cand = ui(m, TG_OP_FLOORDIV, newxs, c / div);
      else if (vmin(x) >= 0 && vmin(newxs) >= 0) {
        tg_uop **bp = malloc((nn + 2) * sizeof *bp);
        if (!bp) { m->err = 1; break; }
        size_t nb = 0;
        for (size_t i = 0; i < nn; i++)
          if (fmod_(factors[i], div)) bp[nb++] = iu(m, TG_OP_MUL, fmod_(factors[i], div), terms[i]);
        if (fmod_(cnst, div)) bp[nb++] = const_like(m, x, fmod_(cnst, div));
        tg_uop *b = nb ? keep(m, tg_um_usum(bp, nb)) : const_like(m, x, 0);
        free(bp);
        if (b && 0 <= vmin(b) && vmax(b) < div) cand = uu(m, TG_OP_ADD, ui(m, TG_OP_MUL, uu(m, TG_OP_FLOORMOD, newxs, ci(m, c / div)), div), b);
      }
      if (cand) {
        size_t len = slice_len(cand, m);
        if (!res || len < best_len) res = cand, best_len = len;
      }
    }
  }
done:
  free(terms);
  free(factors);
  return res;
}

/* the body of fold_divmod_general; results and temporaries are owned by m */
static tg_uop *fold(dm *m, tg_uop *d) {
  tg_uop *x = d->src[0], *y = d->src[1];
  int isdiv = d->op == TG_OP_FLOORDIV, err = 0;
  if (vmin(y) == 0 && vmax(y) == 0) {
    m->err = 1;
    tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: %s by zero", isdiv ? "Division" : "Mod");
    return NULL;
  }
  /* x//y is constant */
  tg_uop *xdiv = uu(m, TG_OP_FLOORDIV, x, y);
  if (!xdiv) return NULL;
  if (vmin(xdiv) == vmax(xdiv)) return isdiv ? const_like(m, xdiv, vmin(xdiv)) : uu(m, TG_OP_SUB, x, iu(m, TG_OP_MUL, vmin(xdiv), y));
  /* PARAM // c is irreducible */
  if (x->op == TG_OP_PARAM && y->op == TG_OP_CONST) {
    const tg_arg *a = &x->arg;
    if (a->kind != TG_ARG_TUPLE || a->n <= TG_PARAMARG_MULTIPLE_OF || a->items[TG_PARAMARG_MULTIPLE_OF].kind != TG_ARG_INT) {
      m->err = 1;
      tg_err(TG_ERR_INVALID_ARGUMENT, "TypeError: PARAM's multiple_of is None in fold_divmod_general");
      return NULL;
    }
    int64_t mo = a->items[TG_PARAMARG_MULTIPLE_OF].i, yv = cval(y);
    if (yv == 0) return m->err = 1, tg_err(TG_ERR_INVALID_ARGUMENT, "ZeroDivisionError: integer modulo by zero"), NULL;
    if (fmod_(mo, yv) == 0) return isdiv ? NULL : const_like(m, d, 0);
  }
  tg_num cn;
  tg_uop *x_peeled = tg_uop_pop_const(x, TG_OP_ADD, &cn);
  int64_t cnst = cn.i;
  size_t nn;
  tg_uop **nc = tg_uop_split(x_peeled, TG_OP_ADD, &nn), *res = NULL;
  if (!nc) return m->err = 1, NULL;
  if (y->op == TG_OP_CONST && cval(y) > 0) res = const_denominator(m, d, x_peeled, cnst, nc, nn);
  free(nc);
  if (res || m->err) return res;
  /* ** variable denominator / fallback ** */
  size_t na;
  tg_uop **all = tg_uop_split(x, TG_OP_ADD, &na);
  tg_uop **gargs = all ? malloc((na + 2) * sizeof *gargs) : NULL;
  if (!gargs) { free(all); return m->err = 1, NULL; }
  memcpy(gargs, all, na * sizeof *gargs);
  gargs[na] = y;
  /* divide_by_gcd: x//y -> (x//gcd)//(y//gcd) */
  tg_uop *g = keep(m, tg_uop_gcd(gargs, na + 1)), *gs = g ? keep(m, tg_uop_simplify(g)) : NULL;
  free(gargs);
  if (!gs) { free(all); return NULL; }
  if (!(gs->op == TG_OP_CONST && cval(gs) == 1)) {
    tg_uop *xe = keep_opt(m, tg_uop_divide_exact(x, gs, &err)), *ye = xe ? keep_opt(m, tg_uop_divide_exact(y, gs, &err)) : NULL;
    free(all);
    if (!ye) {
      m->err = 1;
      if (!err) tg_err(TG_ERR_INTERNAL, "fold_divmod_general: unwrap(None) dividing by the gcd");
      return NULL;
    }
    tg_uop *ret = keep(m, tg_uop_alu((tg_op)d->op, 2, (tg_uop *[]){xe, ye}));
    return isdiv ? ret : uu(m, TG_OP_MUL, ret, gs);
  }
  /* factor_remainder: (d*x+y)//d -> x+y//d */
  if (vmin(y) < 0 || vmin(x) < 0) { free(all); return NULL; }
  tg_uop **quo = malloc((na + 1) * sizeof *quo), **rem = malloc((na + 1) * sizeof *rem);
  size_t nq = 0, nr = 0;
  if (!quo || !rem) { free(all), free(quo), free(rem); return m->err = 1, NULL; }
  for (size_t i = 0; i < na && !m->err; i++) {
    tg_uop *u = all[i], *q = keep_opt(m, tg_uop_divide_exact(u, y, &err));
    int64_t c = tg_uop_const_factor(u);
    if (err) m->err = 1;
    else if (q) quo[nq++] = q;
    else if (y->op == TG_OP_CONST && cval(y) != 0 && fmod_(c, cval(y)) != c) {
      tg_uop *ud = c ? keep_opt(m, tg_uop_divides(u, c, &err)) : NULL;
      if (!ud) { m->err = 1; if (!err) tg_err(TG_ERR_INVALID_ARGUMENT, "fold_divmod_general: divides(%lld)", (long long)c); break; }
      rem[nr++] = ui(m, TG_OP_MUL, ud, fmod_(c, cval(y)));
      quo[nq++] = isdiv ? ui(m, TG_OP_MUL, ud, fdiv(c, cval(y))) : const_like(m, u, 0);
    } else rem[nr++] = u;
  }
  free(all);
  if (!m->err && nq) {
    tg_uop *z = const_like(m, x, 0), *new_x = nr ? uu(m, TG_OP_ADD, py_sum(m, rem, nr), z) : iu(m, TG_OP_ADD, 0, z);
    if (new_x && vmin(new_x) >= 0) res = isdiv ? uu(m, TG_OP_ADD, uu(m, TG_OP_FLOORDIV, new_x, y), py_sum(m, quo, nq)) : uu(m, TG_OP_FLOORMOD, new_x, y);
  }
  free(quo);
  free(rem);
  return m->err ? NULL : res;
}

tg_uop *tg_fold_divmod_general(tg_uop *d, int *err) {
  dm m = {0};
  tg_uop *r = fold(&m, d);
  r = m.err ? NULL : tg_uop_retain(r);
  for (size_t i = 0; i < m.n; i++) tg_uop_release(m.tmp[i]);
  free(m.tmp);
  *err = m.err;
  return r;
}
