/* codegen/opt/postrange.c -- tinygrad 0.14.0's codegen/opt/postrange.py: the Scheduler over a kernel AST's ranges
** (rngs sorted by axis type, shift_to for UPCAST/UNROLL/THREAD/LOCAL, the kernel's colored name) and apply_opts,
** which runs hand_coded_optimizations (opt/heuristic.c) unless NOOPT. */
#include "codegen/opt/opt.h"

#include <stdlib.h>
#include <string.h>

#include "uop/symbolic.h"

/* ---------------- ranges ---------------- */

static int rng_before(tg_uop *a, tg_uop *b) {
  int pa = cg_axis_pos(cg_range_type(a)), pb = cg_axis_pos(cg_range_type(b));
  if (pa != pb) return pa < pb;
  return cg_range_arg_cmp(a, b) < 0;
}

int cg_sched_rngs(cg_sched *k, cg_list *out) {
  cg_list t = {0};
  out->n = 0;
  if (cg_toposort(k->ast, &t)) return -1;
  for (size_t i = 0; i < t.n; i++) {
    tg_uop *u = t.v[i];
    if (u == k->ast || u->op != TG_OP_RANGE || u->dtype == TG_DT_VOID || cg_vmax_i(u) <= 0 || cg_range_type(u) == CG_AX_DEVICE) continue;
    if (cg_list_push(out, u)) { cg_list_free(&t); return -1; }
  }
  cg_list_free(&t);
  for (size_t i = 1; i < out->n; i++) /* stable sort */
    for (size_t j = i; j > 0 && rng_before(out->v[j], out->v[j - 1]); j--) {
      tg_uop *x = out->v[j]; out->v[j] = out->v[j - 1]; out->v[j - 1] = x;
    }
  return 0;
}

tg_uop *cg_sched_reduceop(cg_sched *k) {
  cg_list t = {0};
  if (cg_toposort(k->ast, &t)) return NULL;
  tg_uop *r = NULL;
  for (size_t i = 0; i < t.n && !r; i++)
    if (t.v[i] != k->ast && t.v[i]->op == TG_OP_REDUCE) r = t.v[i];
  cg_list_free(&t);
  return r;
}

int cg_sched_output_rngs(cg_sched *k, cg_list *out) {
  for (size_t i = 0; i < k->ast->nsrc; i++) {
    tg_uop *s = k->ast->src[i];
    if (s->op != TG_OP_END) continue;
    cg_list r = {0};
    if (cg_ranges_of(s->src + 1, s->nsrc - 1, &r)) { cg_list_free(&r); return -1; }
    for (size_t j = 0; j < r.n; j++)
      if (cg_range_type(r.v[j]) != CG_AX_REDUCE && cg_list_push(out, r.v[j])) { cg_list_free(&r); return -1; }
    cg_list_free(&r);
  }
  return 0;
}

int cg_sched_globalizable(cg_sched *k, cg_list *out) {
  cg_list o = {0}, t = {0};
  if (cg_sched_output_rngs(k, &o) || cg_toposort(k->ast, &t)) goto fail;
  for (size_t i = 0; i < o.n; i++)
    if (cg_range_type(o.v[i]) == CG_AX_WEAK && cg_list_push(out, o.v[i])) goto fail;
  for (size_t i = 0; i < t.n; i++) {
    if (t.v[i]->op != TG_OP_STAGE) continue;
    const cg_list *sr = cg_ranges(t.v[i]);
    if (!sr) goto fail;
    for (size_t j = out->n; j-- > 0;)
      if (!cg_list_has(sr, out->v[j])) cg_list_remove(out, out->v[j]);
  }
  cg_list_free(&o), cg_list_free(&t);
  return 0;
fail:
  cg_list_free(&o), cg_list_free(&t);
  return -1;
}

/* x.src[0].render() for a range end: an int, or a variable's name */
static int render_size(tg_uop *e, tg_sb *b) {
  tg_uop *s = tg_uop_simplify(e);
  if (!s) return -1;
  int ok = 0;
  if (s->op == TG_OP_CONST && s->arg.kind == TG_ARG_INT) tg_sb_printf(b, "%lld", (long long)s->arg.i), ok = 1;
  else if ((s->op == TG_OP_PARAM || s->op == TG_OP_BUFFER) && cg_param_name(s)) tg_sb_puts(b, cg_param_name(s)), ok = 1;
  else if (s->op == TG_OP_CAST && s->src[0]->op == TG_OP_PARAM && cg_param_name(s->src[0])) tg_sb_puts(b, cg_param_name(s->src[0])), ok = 1;
  tg_uop_release(s);
  if (!ok) cg_err(TG_ERR_UNSUPPORTED, "codegen: rendering a symbolic kernel size is not ported");
  return ok ? 0 : -1;
}

/* get_optimized_ast: the kernel's name, flatten ranges, KernelInfo(name, applied_opts, dont_use_locals), tag=1 */
tg_uop *cg_sched_optimized_ast(cg_sched *k) {
  cg_list rngs = {0}, outs = {0}, glob = {0};
  tg_sb name = {0};
  name.grow = 1;
  tg_uop *ret = NULL, *flat = NULL;
  tg_arg ki = tg_arg_none();
  if (cg_sched_rngs(k, &rngs) || cg_sched_output_rngs(k, &outs) || cg_sched_globalizable(k, &glob)) goto out;
  const char *override = cg_kernel_name(&k->ast->arg);
  if (strcmp(override, "test") != 0) tg_sb_puts(&name, override);
  else {
    tg_sb_puts(&name, cg_sched_reduceop(k) ? "r" : "E");
    for (size_t i = 0; i < rngs.n; i++) {
      tg_uop *r = rngs.v[i];
      int t = cg_range_type(r);
      const char *color = k->dont_use_locals && t == CG_AX_GLOBAL ? "BLUE"
                          : (!cg_list_has(&outs, r) && t == CG_AX_WEAK) ? "BLACK"
                          : (!cg_list_has(&glob, r) && t == CG_AX_WEAK) ? "white" : cg_axis_color(t);
      char buf[128];
      tg_sb sz = tg_sb_fixed(buf, sizeof buf);
      if (render_size(r->src[0], &sz)) goto out;
      cg_colored(&name, "_", "BLACK");
      cg_colored(&name, buf, color);
    }
  }
  if (name.failed) goto out;
  flat = tg_graph_rewrite(k->ast, cg_pm_flatten_range(), NULL, 0, NULL);
  if (!flat) goto out;
  tg_arg opts = tg_arg_tuple(k->opts, (uint32_t)k->nopts);
  if (cg_kernel_info(name.buf ? name.buf : "", k->dont_use_locals, &opts, &ki) != TG_OK) goto out;
  ret = tg_uop_replace(flat, (tg_op)flat->op, flat->dtype, flat->src, flat->nsrc, &ki, &(tg_arg){.kind = TG_ARG_INT, .i = 1});
out:
  tg_arg_free(&ki);
  tg_uop_release(flat);
  free(name.buf);
  cg_list_free(&rngs), cg_list_free(&outs), cg_list_free(&glob);
  return ret;
}

/* ---------------- Scheduler lifetime ---------------- */

int cg_sched_init(cg_sched *k, tg_uop *ast, const cg_ren *ren) {
  memset(k, 0, sizeof *k);
  k->ast = tg_uop_retain(ast);
  k->ren = ren;
  const tg_arg *dul = cg_is_kernel_info(&ast->arg) ? cg_tuple_item(&ast->arg, 3) : NULL;
  k->dont_use_locals = dul ? (int)dul->i : 0;
  cg_list r = {0};
  if (cg_sched_rngs(k, &r)) return -1;
  int64_t mx = 0;
  for (size_t i = 0; i < r.n; i++) mx = cg_range_axis(r.v[i]) > mx ? cg_range_axis(r.v[i]) : mx;
  k->next_range = mx + 1;
  cg_list_free(&r);
  return 0;
}

void cg_sched_free(cg_sched *k) {
  tg_uop_release(k->ast);
  for (size_t i = 0; i < k->nopts; i++) tg_arg_free(&k->opts[i]);
  memset(k, 0, sizeof *k);
}

int cg_sched_copy(const cg_sched *k, cg_sched *out) {
  *out = *k;
  tg_uop_retain(out->ast);
  for (size_t i = 0; i < k->nopts; i++)
    if (tg_arg_copy(&k->opts[i], &out->opts[i]) != TG_OK) {
      for (size_t j = 0; j < i; j++) tg_arg_free(&out->opts[j]);
      tg_uop_release(out->ast);
      return -1;
    }
  return 0;
}

void cg_sched_set_ast(cg_sched *k, tg_uop *ast) {
  tg_uop_release(k->ast);
  k->ast = ast;
}

/* convert_loop_to_global: on a device with locals the globalizable WEAK ranges become GLOBAL */
static int convert_loop_to_global(cg_sched *k) {
  if (!k->ren->has_local) return 0;
  cg_list rngs = {0}, glob = {0}, keys = {0}, vals = {0};
  int rc = -1;
  if (cg_sched_rngs(k, &rngs) || cg_sched_globalizable(k, &glob)) goto out;
  for (size_t i = 0; i < rngs.n; i++) {
    tg_uop *r = rngs.v[i];
    if (!cg_list_has(&glob, r)) continue;
    int64_t ax[8];
    uint32_t na = r->arg.n ? r->arg.n - 1 : 0;
    if (na > 7) { cg_err(TG_ERR_INTERNAL, "codegen: range arg too long"); goto out; }
    for (uint32_t q = 0; q < na; q++) ax[q] = r->arg.items[q].i;
    tg_uop *nr = cg_range(r->src[0], ax, na, CG_AX_GLOBAL, r->dtype);
    if (!nr || cg_list_push(&keys, r) || cg_list_push(&vals, nr)) { tg_uop_release(nr); goto out; }
  }
  if (keys.n) {
    tg_uop *na = tg_uop_substitute(k->ast, keys.v, vals.v, keys.n);
    if (!na) goto out;
    cg_sched_set_ast(k, na);
  }
  rc = 0;
out:
  for (size_t i = 0; i < vals.n; i++) tg_uop_release(vals.v[i]);
  cg_list_free(&rngs), cg_list_free(&glob), cg_list_free(&keys), cg_list_free(&vals);
  return rc;
}

tg_uop *cg_apply_opts(tg_uop *ast, const cg_ren *ren, int noopt) {
  if (ast->tag.kind != TG_ARG_NONE) return tg_uop_retain(ast);
  cg_sched k;
  if (cg_sched_init(&k, ast, ren) || convert_loop_to_global(&k)) { cg_sched_free(&k); return NULL; }
  int has_stage = cg_op_in_slice(ast, TG_OP_STAGE);
  const tg_arg *applied = cg_is_kernel_info(&ast->arg) ? cg_tuple_item(&ast->arg, 4) : NULL;
  int none_applied = !applied || applied->kind != TG_ARG_TUPLE || applied->n == 0;
  if (has_stage < 0) { cg_sched_free(&k); return NULL; }
  if (!noopt && none_applied && !has_stage && cg_hand_coded_optimizations(&k)) { cg_sched_free(&k); return NULL; }
  tg_uop *r = cg_sched_optimized_ast(&k);
  cg_sched_free(&k);
  return r;
}

/* ---------------- apply_opt / shift_to ---------------- */

static tg_arg opt_enum(int op) {
  static const char *const names[] = {NULL, "OptOps.TC", "OptOps.UPCAST", "OptOps.UNROLL", "OptOps.LOCAL", "OptOps.THREAD",
                                      "OptOps.GROUP", "OptOps.GROUPTOP", "OptOps.NOLOCALS", "OptOps.PADTO", "OptOps.SWAP"};
  tg_arg a = {0};
  a.kind = TG_ARG_ENUM, a.i = op, a.s = op >= 1 && op <= 10 ? names[op] : "OptOps.?";
  return a;
}

/* shift_to: rng -> replaced*amount + new (or new*old + replaced when top); the new range gets the next opt axis */
static int shift_to(cg_sched *k, tg_uop *rng, int64_t amount, int new_type, int top) {
  int err = 0;
  tg_uop *old_sz = tg_uop_divides(rng->src[0], amount, &err);
  if (err) return -1;
  if (!old_sz) return 1;
  cg_pool pool = {0};
  cg_pool_add(&pool, old_sz);
  int64_t ax = k->next_range;
  tg_uop *amt = K(tg_um_const(rng->dtype, tg_num_i(amount)));
  tg_uop *nr = K(cg_range(amt, &ax, 1, new_type, rng->dtype));
  tg_uop *rep = K(cg_with_src(rng, &old_sz, 1));
  tg_uop *sub = top ? K(tg_um_binop(TG_OP_ADD, K(tg_um_binop(TG_OP_MUL, nr, old_sz)), rep))
                    : K(tg_um_binop(TG_OP_ADD, K(tg_um_binop(TG_OP_MUL, rep, K(cg_cint(amount)))), nr));
  tg_uop *na = K(cg_substitute1(k->ast, rng, sub));
  cg_sched_set_ast(k, tg_uop_retain(na));
  k->next_range++;
  cg_pool_free(&pool);
  return 0;
fail:
  cg_pool_free(&pool);
  return -1;
}

static int axis_in(int t, const int *set, int n) {
  for (int i = 0; i < n; i++)
    if (set[i] == t) return 1;
  return 0;
}

/* the first REDUCE whose reduce ranges include rng: 1 when it sits inside another reduce (its outer ranges include a
** REDUCE, UNROLL or GROUP_REDUCE range), 0 when not, -1 on error */
static int group_inside_reduce(cg_sched *k, tg_uop *rng) {
  cg_list t = {0}, rr = {0};
  int ret = 0;
  if (cg_toposort(k->ast, &t)) return -1;
  for (size_t i = 0; i < t.n; i++) {
    tg_uop *u = t.v[i];
    if (u == k->ast || u->op != TG_OP_REDUCE) continue;
    rr.n = 0;
    if (cg_ranges_of(u->src + 1, u->nsrc - 1, &rr)) { ret = -1; break; }
    if (!cg_list_has(&rr, rng)) continue;
    const cg_list *outer = cg_ranges(u);
    if (!outer) { ret = -1; break; }
    for (size_t j = 0; j < outer->n && !ret; j++) {
      int ty = cg_range_type(outer->v[j]);
      ret = ty == CG_AX_REDUCE || ty == CG_AX_UNROLL || ty == CG_AX_GROUP_REDUCE;
    }
    break;
  }
  cg_list_free(&t), cg_list_free(&rr);
  return ret;
}

int cg_sched_apply_opt(cg_sched *k, int op, int axis, int64_t arg) {
  cg_list rngs = {0}, glob = {0};
  int rc = 1;
  if (op == CG_OPT_NOLOCALS) return 1;
  if ((op == CG_OPT_LOCAL || op == CG_OPT_GROUP || op == CG_OPT_GROUPTOP) && !k->ren->has_local) return 1;
  if (op != CG_OPT_UPCAST && op != CG_OPT_UNROLL && op != CG_OPT_THREAD && op != CG_OPT_LOCAL && op != CG_OPT_GROUP && op != CG_OPT_GROUPTOP)
    return 1; /* TC/PADTO/SWAP: not ported */
  if (cg_sched_rngs(k, &rngs)) return -1;
  int real = axis;
  if (op == CG_OPT_GROUP || op == CG_OPT_GROUPTOP) { /* axes_of(REDUCE)[axis] */
    int cnt = 0;
    real = -1;
    for (size_t i = 0; i < rngs.n && real < 0; i++)
      if (cg_range_type(rngs.v[i]) == CG_AX_REDUCE && cnt++ == axis) real = (int)i;
    if (real < 0) goto out;
  }
  if (op == CG_OPT_UNROLL) { /* unrollable_dims[axis] */
    int cnt = 0;
    real = -1;
    for (size_t i = 0; i < rngs.n && real < 0; i++) {
      int t = cg_range_type(rngs.v[i]);
      if ((t == CG_AX_GROUP_REDUCE || t == CG_AX_REDUCE) && rngs.v[i]->src[0]->op == TG_OP_CONST && cg_vmax_i(rngs.v[i]) + 1 > 1 && cnt++ == axis) real = (int)i;
    }
    if (real < 0) goto out;
  }
  if (real < 0 || (size_t)real >= rngs.n) goto out;
  tg_uop *rng = rngs.v[real];
  int t = cg_range_type(rng);
  int64_t amt = arg == 0 ? cg_vmax_i(rng) + 1 : arg;
  static const int red[] = {CG_AX_GROUP_REDUCE, CG_AX_REDUCE}, up[] = {CG_AX_GLOBAL, CG_AX_LOCAL, CG_AX_WEAK}, loc[] = {CG_AX_GLOBAL, CG_AX_WEAK};
  int new_type = 0, top = 0;
  tg_uop *redop = cg_sched_reduceop(k);
  int groups = 0;
  for (size_t i = 0; i < rngs.n; i++) groups += cg_range_type(rngs.v[i]) == CG_AX_GROUP_REDUCE;
  if (redop && (op == CG_OPT_GROUP || op == CG_OPT_GROUPTOP || groups)) { /* the shared memory a grouped reduce needs */
    int64_t sz = 1;
    for (size_t i = 0; i < rngs.n; i++) {
      int ti = cg_range_type(rngs.v[i]);
      if (ti == CG_AX_UPCAST || ti == CG_AX_WARP || ti == CG_AX_LOCAL || ti == CG_AX_GROUP_REDUCE) sz *= cg_vmax_i(rngs.v[i]) + 1;
    }
    if (amt * sz * tg_dt_itemsize((tg_dtype)redop->dtype) > k->ren->shared_max) goto out;
  }
  if (redop && (op == CG_OPT_GROUP || op == CG_OPT_GROUPTOP)) { /* no GROUP_REDUCE inside another reduce */
    int r = group_inside_reduce(k, rng);
    if (r < 0) { rc = -1; goto out; }
    if (r) goto out;
  }
  switch (op) {
  case CG_OPT_UNROLL:
    if (amt > 32 || !axis_in(t, red, 2)) goto out;
    new_type = CG_AX_UNROLL;
    break;
  case CG_OPT_UPCAST:
    if (amt > 16 || !axis_in(t, up, 3)) goto out;
    new_type = CG_AX_UPCAST;
    break;
  case CG_OPT_LOCAL:
    if (k->dont_use_locals || !axis_in(t, loc, 2)) goto out;
    new_type = CG_AX_LOCAL;
    break;
  case CG_OPT_GROUP: case CG_OPT_GROUPTOP:
    for (size_t i = 0; i < k->nopts; i++)
      if (cg_arg_int(cg_tuple_item(&k->opts[i], 1), 0) == CG_OPT_TC) goto out;
    if (k->dont_use_locals || t != CG_AX_REDUCE) goto out;
    new_type = CG_AX_GROUP_REDUCE, top = op == CG_OPT_GROUPTOP;
    break;
  case CG_OPT_THREAD:
    if (!k->ren->has_threads || amt > k->ren->global_max[0]) goto out;
    for (size_t i = 0; i < rngs.n; i++)
      if (cg_range_type(rngs.v[i]) == CG_AX_THREAD) goto out;
    if (cg_sched_globalizable(k, &glob)) { rc = -1; goto out; }
    if (!cg_list_has(&glob, rng)) goto out;
    new_type = CG_AX_THREAD, top = 1;
    break;
  }
  if (k->nopts >= CG_MAX_OPTS) goto out;
  rc = shift_to(k, rng, amt, new_type, top);
  if (rc == 0) {
    tg_arg items[4] = {tg_arg_str("Opt"), opt_enum(op), tg_arg_int(axis), tg_arg_int(arg)};
    tg_arg t4 = tg_arg_tuple(items, 4);
    if (tg_arg_copy(&t4, &k->opts[k->nopts]) != TG_OK) rc = -1;
    else k->nopts++;
  }
out:
  cg_list_free(&rngs), cg_list_free(&glob);
  return rc;
}
