/* tensor/gradient.c -- tinygrad 0.14.0's autograd (mixin/gradient.py: pm_gradient, reduce_gradient, compute_gradient)
** and OpMixin.gradient, over the frontend's UOp builders, so the backward graph is the one tinygrad builds.
**
** compute_gradient walks the forward graph from the root in reverse topological order, restricted to the nodes on a
** path to a target (DETACH stops the flow), and for each node asks the rule of its op for the gradients of its
** sources; a gradient whose shape differs from its source's (a broadcast) is summed back to the source's shape.
** FUNCTION/CALL gradients (tinygrad's custom kernels and @function) are not supported: the frontend never builds them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tensor/tensor.h"

#define MAXSRC 4096 /* the most sources an op with a gradient rule has (STACK: as many as tgt_stack takes) */

typedef struct gctx {
  tgt_scope *S;
  tg_ptrset dev;   /* uop -> index+1 into devs */
  const char **devs;
  size_t ndevs;
} gctx;

/* UOp.device: BUFFER/PARAM carry theirs in the ParamArg, COPY in its arg, AFTER takes src[0]'s, others their first
** source's that has one. Filled in topological order, so sources are known first. */
static const char *dev_of(gctx *g, tg_uop *u) {
  uint64_t *v = tg_ptrset_get(&g->dev, u);
  return v && *v ? g->devs[*v - 1] : NULL;
}

static const char *paramarg_device(const tg_uop *u) {
  if (u->arg.kind != TG_ARG_TUPLE || u->arg.n <= TG_PARAMARG_DEVICE) return NULL;
  const tg_arg *d = &u->arg.items[TG_PARAMARG_DEVICE];
  return d->kind == TG_ARG_STR ? d->s : NULL;
}

static int fill_devices(gctx *g, tg_uop *const *topo, size_t n) {
  if (!tg_ptrset_init(&g->dev, n) || !(g->devs = calloc(n ? n : 1, sizeof *g->devs))) return -1;
  for (size_t i = 0; i < n; i++) {
    tg_uop *u = topo[i];
    const char *d = NULL;
    if (u->op == TG_OP_BUFFER || u->op == TG_OP_PARAM) d = tgt_dev_intern(paramarg_device(u));
    else if (u->op == TG_OP_COPY) d = u->arg.kind == TG_ARG_STR ? tgt_dev_intern(u->arg.s) : NULL;
    else if (u->op == TG_OP_AFTER) d = u->nsrc ? dev_of(g, u->src[0]) : NULL;
    else
      for (uint32_t k = 0; k < u->nsrc && !d; k++) d = dev_of(g, u->src[k]);
    uint64_t idx = 0;
    if (d) g->devs[g->ndevs] = d, idx = ++g->ndevs;
    if (!tg_ptrset_put(&g->dev, u, idx)) return -1;
  }
  return 0;
}

static tg_tv tv(gctx *g, tg_uop *u) { return (tg_tv){u, dev_of(g, u)}; }

static tg_tv pyf(tgt_scope *S, double v) { return tgt_const(S, tgt_pyfloat(v), TG_DT_AUTO); }
static tg_tv pyi(tgt_scope *S, int64_t v) { return tgt_const(S, tgt_pyint(v), TG_DT_AUTO); }
static tg_tv eq(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_logical_not(S, tgt_binop(S, TG_OP_CMPNE, x, y, 0)); }
static tg_tv lt(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_binop(S, TG_OP_CMPLT, x, y, 0); }
static tg_tv div_(tgt_scope *S, tg_tv x, tg_tv y) { return tgt_div(S, x, y, 0, 0); }
static tg_tv zero_like(tgt_scope *S, tg_tv x) { return tgt_const_like(S, x, tgt_pyint(0), TG_DT_AUTO); }

/* The ints of a shape STACK (RESHAPE/EXPAND/PAD/SHRINK sources); -1 when one is symbolic. */
static int stack_ints(const tg_uop *s, int64_t *out) {
  if (s->op == TG_OP_CONST && s->arg.kind == TG_ARG_INT) return out[0] = s->arg.i, 1;
  if (s->op != TG_OP_STACK || s->nsrc > TGT_MAXD) return -1;
  for (uint32_t i = 0; i < s->nsrc; i++) {
    if (s->src[i]->op != TG_OP_CONST || s->src[i]->arg.kind != TG_ARG_INT) return -1;
    out[i] = s->src[i]->arg.i;
  }
  return (int)s->nsrc;
}

static int arg_ints(const tg_uop *u, int64_t *out) {
  if (u->arg.kind != TG_ARG_TUPLE || u->arg.n > TGT_MAXD) return -1;
  for (uint32_t i = 0; i < u->arg.n; i++) out[i] = u->arg.items[i].i;
  return (int)u->arg.n;
}

/* reduce_gradient(ctx, ret, op) */
static int reduce_grad(gctx *g, tg_tv ctx, tg_uop *ret, tg_tv *out) {
  tgt_scope *S = g->S;
  if (ret->arg.kind != TG_ARG_TUPLE || ret->arg.n != 2) return -1;
  tg_op op = (tg_op)ret->arg.items[0].i;
  int64_t axes[TGT_MAXD];
  size_t na = (size_t)ret->arg.items[1].i;
  for (size_t i = 0; i < na && i < TGT_MAXD; i++) axes[i] = (int64_t)i;
  tg_tv x = tv(g, ret->src[0]), r = tv(g, ret);
  tgt_shape xs;
  if (tgt_shape_of(S, x, &xs)) return -1;
  if (op == TG_OP_ADD) return out[0] = tgt_broadcast_to(S, ctx, xs.d, xs.n), 0;
  if (op == TG_OP_MAX) {
    tg_tv mask = tgt_cast(S, eq(S, x, r), ctx.u ? ctx.u->dtype : TG_DT_AUTO);
    out[0] = tgt_mul(S, div_(S, mask, tgt_rop(S, mask, TG_OP_ADD, axes, na)), ctx);
    return 0;
  }
  if (op == TG_OP_MUL) {
    /* d(prod x)/dx_j: ret/x_j when x_j != 0, else the product of the others when x_j is the only zero, else 0 */
    tg_tv is_zero = eq(S, x, pyi(S, 0)), safe_x = tgt_where(S, is_zero, pyi(S, 1), x);
    tg_tv zc = tgt_rop(S, tgt_cast(S, is_zero, tg_dt_sum_acc(TG_BOOL)), TG_OP_ADD, axes, na);
    tg_tv inner = tgt_where(S, eq(S, zc, pyi(S, 1)), tgt_rop(S, safe_x, TG_OP_MUL, axes, na), pyi(S, 0));
    out[0] = tgt_mul(S, ctx, tgt_where(S, is_zero, inner, div_(S, r, safe_x)));
    return 0;
  }
  return -1;
}

/* pm_gradient: the gradients of ret's sources given ctx, ret's gradient. out[i].u == NULL: no gradient (None).
** 1 when the op has no rule. */
static int op_grad(gctx *g, tg_tv ctx, tg_uop *ret, tg_tv *out) {
  tgt_scope *S = g->S;
  tg_tv r = tv(g, ret), s0 = ret->nsrc ? tv(g, ret->src[0]) : TGT_NONE, s1 = ret->nsrc > 1 ? tv(g, ret->src[1]) : TGT_NONE;
  int64_t a[TGT_MAXD], b[TGT_MAXD], pads[TGT_MAXD][2];
  tgt_shape sh;
  int n;
  switch ((tg_op)ret->op) {
  case TG_OP_CAST: out[0] = tgt_cast(S, ctx, ret->src[0]->dtype); return 0;
  case TG_OP_RECIPROCAL: out[0] = tgt_mul(S, tgt_mul(S, tgt_neg(S, ctx), r), r); return 0;
  case TG_OP_SIN: out[0] = tgt_mul(S, tgt_unary_alu(S, TG_OP_SIN, tgt_sub_rev(S, s0, pyf(S, M_PI / 2), 1)), ctx); return 0;
  case TG_OP_LOG2: out[0] = div_(S, ctx, tgt_mul_py(S, s0, tgt_pyfloat(M_LN2), 0)); return 0;
  case TG_OP_EXP2: out[0] = tgt_mul_py(S, tgt_mul(S, r, ctx), tgt_pyfloat(M_LN2), 0); return 0;
  case TG_OP_SQRT: out[0] = div_(S, ctx, tgt_mul_py(S, r, tgt_pyint(2), 0)); return 0;
  case TG_OP_TRUNC: out[0] = zero_like(S, ctx); return 0;
  case TG_OP_CMPLT: case TG_OP_CMPNE: return 0;
  case TG_OP_ADD: out[0] = out[1] = ctx; return 0;
  case TG_OP_POW: {
    tg_tv e_1 = tgt_sub_rev(S, s1, pyi(S, 1), 0); /* e-1 */
    tg_tv db = tgt_where(S, eq(S, s1, pyi(S, 0)), s1, tgt_mul(S, s1, tgt_alu(S, TG_OP_POW, (tg_tv[]){s0, e_1}, 2)));
    tg_tv zero_b = tgt_where(S, lt(S, s1, pyi(S, 0)), tgt_const_like(S, r, tgt_pyfloat(-INFINITY), TG_DT_AUTO), pyi(S, 0));
    tg_tv de = tgt_where(S, eq(S, s0, pyi(S, 0)), zero_b, tgt_mul_py(S, tgt_mul(S, r, tgt_unary_alu(S, TG_OP_LOG2, s0)), tgt_pyfloat(M_LN2), 0));
    out[0] = tgt_mul(S, ctx, db), out[1] = tgt_mul(S, ctx, de);
    return 0;
  }
  case TG_OP_MAX: {
    tg_tv half = tgt_mul_py(S, ctx, tgt_pyfloat(0.5), 0);
    tg_tv tie = tgt_where(S, eq(S, s0, s1), half, pyi(S, 0));
    out[0] = tgt_where(S, tgt_binop(S, TG_OP_CMPLT, s0, s1, 1), ctx, tie); /* x > y */
    tie = tgt_where(S, eq(S, s0, s1), half, pyi(S, 0));
    out[1] = tgt_where(S, lt(S, s0, s1), ctx, tie);
    return 0;
  }
  case TG_OP_MUL: out[0] = tgt_mul(S, s1, ctx), out[1] = tgt_mul(S, s0, ctx); return 0;
  case TG_OP_WHERE:
    out[1] = tgt_where(S, s0, ctx, zero_like(S, ctx));
    out[2] = tgt_where(S, s0, zero_like(S, ctx), ctx);
    return 0;
  case TG_OP_REDUCE: return reduce_grad(g, ctx, ret, out) ? 1 : 0;
  case TG_OP_CONTIGUOUS: out[0] = ctx; return 0;
  case TG_OP_CONTIGUOUS_BACKWARD: out[0] = tgt_contiguous(S, ctx); return 0;
  case TG_OP_RESHAPE:
    if (tgt_shape_of(S, s0, &sh)) return 1;
    out[0] = tgt_reshape(S, ctx, sh.d, sh.n);
    return 0;
  case TG_OP_EXPAND: out[0] = ctx; return 0;
  case TG_OP_STACK: /* ctx[i] for each source */
    for (uint32_t i = 0; i < ret->nsrc; i++) out[i] = tgt_getitem(S, ctx, &(tgt_index){.kind = TG_INDEX_INT, .start = i}, 1, TGT_NONE);
    return 0;
  case TG_OP_PAD: case TG_OP_SHRINK:
    if (ret->nsrc < 3 || tgt_shape_of(S, s0, &sh) || (n = stack_ints(ret->src[1], a)) < 0 || stack_ints(ret->src[2], b) != n || (uint32_t)n != sh.n) return 1;
    for (int i = 0; i < n; i++) {
      if (ret->op == TG_OP_PAD) pads[i][0] = a[i], pads[i][1] = sh.d[i] + a[i];  /* shrink back to the source */
      else pads[i][0] = a[i], pads[i][1] = sh.d[i] - a[i] - b[i];                /* pad back to the source */
    }
    out[0] = ret->op == TG_OP_PAD ? tgt_shrink(S, ctx, pads, (size_t)n) : tgt_pad_mm(S, ctx, pads, (size_t)n);
    return 0;
  case TG_OP_PERMUTE: {
    if ((n = arg_ints(ret, a)) < 0) return 1;
    for (int i = 0; i < n; i++) b[a[i]] = i; /* argsort of a permutation */
    out[0] = tgt_permute(S, ctx, b, (size_t)n);
    return 0;
  }
  case TG_OP_FLIP: {
    if ((n = arg_ints(ret, a)) < 0) return 1;
    size_t k = 0;
    for (int i = 0; i < n; i++)
      if (a[i]) b[k++] = i;
    out[0] = tgt_flip(S, ctx, b, k);
    return 0;
  }
  case TG_OP_COPY: out[0] = tgt_copy_to_device(S, ctx, s0.dev); return 0;
  case TG_OP_AFTER: /* clone/assign: the gradient passes through to the stored value */
    if (ret->nsrc == 2 && ret->src[1]->op == TG_OP_STORE) return out[1] = ctx, 0;
    return 1;
  case TG_OP_STORE: if (ret->nsrc == 2) return out[1] = ctx, 0; return 1;
  case TG_OP_BITCAST: return 0;
  default: return 1;
  }
}

/* broadcast_axes(src_shape, out_shape): the out axes that were added or expanded */
static size_t broadcast_axes(const tgt_shape *k, const tgt_shape *v, int64_t *axes) {
  size_t n = 0, nleft = v->n - k->n;
  for (size_t i = 0; i < nleft; i++) axes[n++] = (int64_t)i;
  for (uint32_t i = 0; i < k->n; i++)
    if (k->d[i] == 1 && v->d[nleft + i] != 1) axes[n++] = (int64_t)(nleft + i);
  return n;
}

typedef struct gmap { tg_ptrset idx; tg_tv *v; size_t n; } gmap; /* uop -> gradient */

static tg_tv *gget(gmap *m, tg_uop *u) {
  uint64_t *p = tg_ptrset_get(&m->idx, u);
  return p ? &m->v[*p] : NULL;
}

/* compute_gradient(root, root_grad, targets): fills grads[i] for each target (NULL .u when none reached it). */
tg_status tgt_compute_gradient(tgt_scope *S, tg_tv root, tg_tv root_grad, const tg_tv *targets, size_t nt, tg_tv *grads) {
  size_t n = 0;
  tg_uop **topo = tg_uop_toposort(root.u, &n);
  if (!topo) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "gradient: out of memory"), S->st;
  gctx g = {S, {0}, NULL, 0};
  gmap m = {{0}, calloc(n + 1, sizeof(tg_tv)), 0};
  char *on_path = calloc(n + 1, 1);
  tg_ptrset pos = {0}, tset = {0};
  int ok = m.v && on_path && tg_ptrset_init(&pos, n) && tg_ptrset_init(&tset, nt + 1) && tg_ptrset_init(&m.idx, n) && !fill_devices(&g, topo, n);
  for (size_t i = 0; ok && i < n; i++) ok = tg_ptrset_put(&pos, topo[i], i) != NULL;
  for (size_t i = 0; ok && i < nt; i++) ok = tg_ptrset_put(&tset, targets[i].u, 1) != NULL;
  if (!ok) tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "gradient: out of memory");
  /* _deepwalk: a node is on the path when one of its sources is a target or on the path */
  for (size_t i = 0; ok && i < n; i++)
    for (uint32_t k = 0; k < topo[i]->nsrc && !on_path[i]; k++) {
      tg_uop *s = topo[i]->src[k];
      on_path[i] = tg_ptrset_get(&tset, s) != NULL || on_path[*tg_ptrset_get(&pos, s)];
    }
  for (size_t i = 0; ok && i < n; i++) m.v[i] = TGT_NONE;
  if (ok) {
    m.v[0] = root_grad;
    tg_ptrset_put(&m.idx, root.u, 0), m.n = 1;
  }
  for (size_t ii = n; ok && !S->st && ii-- > 0;) {
    tg_uop *t0 = topo[ii];
    if (!on_path[ii] || t0->op == TG_OP_DETACH) continue;
    tg_tv *gp = gget(&m, t0);
    if (!gp || !gp->u) continue;
    tg_tv lgs[MAXSRC] = {{0}}, *lg = t0->nsrc > MAXSRC ? calloc(t0->nsrc, sizeof *lg) : lgs; /* STACKs can be wide */
    if (!lg) {
      tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "gradient: out of memory");
      break;
    }
    if (op_grad(&g, *gp, t0, lg)) {
      tgt_fail(S, TG_ERR_UNSUPPORTED, "failed to compute gradient for Ops.%s", tg_op_name((tg_op)t0->op));
      if (lg != lgs) free(lg);
      break;
    }
    for (uint32_t k = 0; k < t0->nsrc && !S->st; k++) {
      tg_tv v = lg[k];
      if (!v.u) continue;
      tg_uop *src = t0->src[k];
      tg_status st;
      const tg_shape *ks = tg_uop_shape(src, &st), *vs = tg_uop_shape(v.u, &st);
      if (ks && vs) { /* a shaped edge's gradient is summed to its source's shape */
        tgt_shape a, b;
        tgt_shape_of(S, tv(&g, src), &a), tgt_shape_of(S, v, &b);
        if (a.n != b.n || memcmp(a.d, b.d, a.n * sizeof *a.d)) {
          int64_t axes[TGT_MAXD];
          size_t na = broadcast_axes(&a, &b, axes);
          int dt = v.u->dtype;
          v = tgt_cast(S, tgt_reshape(S, tgt_rop(S, tgt_cast(S, v, tg_dt_sum_acc((tg_dtype)dt)), TG_OP_ADD, axes, na), a.d, a.n), dt);
        }
      }
      tg_tv *have = gget(&m, src);
      if (have && have->u) *have = tgt_add(S, *have, v);
      else if (have) *have = v;
      else if (!tg_ptrset_put(&m.idx, src, m.n)) tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "gradient: out of memory");
      else m.v[m.n++] = v;
    }
    if (lg != lgs) free(lg);
  }
  for (size_t i = 0; i < nt; i++) {
    tg_tv *gp = S->st ? NULL : gget(&m, targets[i].u);
    grads[i] = gp ? *gp : TGT_NONE;
  }
  tg_ptrset_free(&g.dev), tg_ptrset_free(&m.idx), tg_ptrset_free(&pos), tg_ptrset_free(&tset);
  free(g.devs);
  free(m.v), free(on_path), free(topo);
  return S->st;
}
