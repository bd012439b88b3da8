/* codegen/opt/postrange.c -- tinygrad 0.14.0's codegen/opt/postrange.py: the Scheduler over a kernel AST's ranges
** (rngs sorted by axis type, shift_to for UPCAST/UNROLL/THREAD/LOCAL/GROUP, PADTO, the tensor-core opt _apply_tc_opt
** that builds the warp and the WMMA, the kernel's colored name) and apply_opts, which runs hand_coded_optimizations
** (opt/heuristic.c) unless NOOPT. SWAP is not ported. */
#include "codegen/opt/opt.h"

#include <stdlib.h>
#include <string.h>

#include "codegen/opt/tc.h"
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

/* shift_to: rng -> replaced*amount + new (or new*old + replaced when top); the new range gets the next opt axis, unless
** input_new is given (the TC's warp lanes), which is used as the new "range". The replaced and new ranges come back
** borrowed (they live in k->ast) when rep_out/new_out are given. */
static int shift_to_ex(cg_sched *k, tg_uop *rng, int64_t amount, int new_type, int top, tg_uop *input_new, tg_uop **rep_out,
                       tg_uop **new_out) {
  int err = 0;
  tg_uop *old_sz = tg_uop_divides(rng->src[0], amount, &err);
  if (err) return -1;
  if (!old_sz) return 1;
  cg_pool pool = {0};
  cg_pool_add(&pool, old_sz);
  int64_t ax = k->next_range;
  tg_uop *nr = input_new;
  if (!nr) {
    tg_uop *amt = K(tg_um_const(rng->dtype, tg_num_i(amount)));
    nr = K(cg_range(amt, &ax, 1, new_type, rng->dtype));
  }
  tg_uop *rep = K(cg_with_src(rng, &old_sz, 1));
  tg_uop *sub = top ? K(tg_um_binop(TG_OP_ADD, K(tg_um_binop(TG_OP_MUL, nr, old_sz)), rep))
                    : K(tg_um_binop(TG_OP_ADD, K(tg_um_binop(TG_OP_MUL, rep, K(cg_cint(amount)))), nr));
  tg_uop *na = K(cg_substitute1(k->ast, rng, sub));
  cg_sched_set_ast(k, tg_uop_retain(na));
  if (!input_new) k->next_range++;
  if (rep_out) *rep_out = rep;
  if (new_out) *new_out = nr;
  cg_pool_free(&pool); /* rep and nr stay alive in k->ast */
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

static int apply_padto(cg_sched *k, int axis, int64_t arg, int append);

int cg_sched_apply_opt(cg_sched *k, int op, int axis, int64_t arg) {
  cg_list rngs = {0}, glob = {0};
  int rc = 1;
  if (op == CG_OPT_NOLOCALS) return 1;
  if (op == CG_OPT_PADTO) return apply_padto(k, axis, arg, 1);
  if ((op == CG_OPT_LOCAL || op == CG_OPT_GROUP || op == CG_OPT_GROUPTOP) && !k->ren->has_local) return 1;
  if (op != CG_OPT_UPCAST && op != CG_OPT_UNROLL && op != CG_OPT_THREAD && op != CG_OPT_LOCAL && op != CG_OPT_GROUP && op != CG_OPT_GROUPTOP)
    return 1; /* TC: cg_sched_apply_tc; PADTO/SWAP: not ported */
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
  rc = shift_to_ex(k, rng, amt, new_type, top, NULL, &k->last_rep, NULL);
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

/* ---------------- OptOps.PADTO ---------------- */

/* the range at rngs[axis] grows to a multiple of arg; every buffer indexed by it is gated by range < old size (loads
** read Invalid past it). 0 applied, 1 KernelOptError, -1 error. */
static int apply_padto(cg_sched *k, int axis, int64_t arg, int append) {
  cg_list rngs = {0}, topo = {0}, stores = {0}, keys = {0}, vals = {0};
  cg_pool pool = {0};
  int rc = -1;
  if (cg_sched_rngs(k, &rngs)) goto out;
  if (axis < 0 || (size_t)axis >= rngs.n || arg <= 0 || k->nopts >= CG_MAX_OPTS) { rc = 1; goto out; }
  tg_uop *rng = rngs.v[axis];
  int t = cg_range_type(rng);
  if (rng->src[0]->op != TG_OP_CONST || t == CG_AX_UPCAST || t == CG_AX_UNROLL || t == CG_AX_THREAD) { rc = 1; goto out; }
  int64_t sz = cg_vmax_i(rng) + 1, new_sz = (sz + arg - 1) / arg * arg;
  if (!(sz > new_sz / 4)) { rc = 1; goto out; } /* pad adds more than quadruple the work */
  tg_uop *nr = K(cg_with_src(rng, (tg_uop *[]){K(tg_um_const(rng->dtype, tg_num_i(new_sz)))}, 1));
  tg_uop *valid = K(tg_um_binop(TG_OP_CMPLT, nr, K(tg_um_const(rng->dtype, tg_num_i(sz)))));
  if (cg_list_push(&keys, rng) || cg_list_push(&vals, nr)) goto fail;
  if (cg_toposort(k->ast, &topo)) goto fail;
  for (size_t i = 0; i < topo.n; i++)
    if (topo.v[i]->op == TG_OP_STORE && cg_list_add(&stores, topo.v[i]->src[0])) goto fail;
  for (size_t i = topo.n; i-- > 0;) { /* self.bufs: the INDEXes, reversed toposort */
    tg_uop *b = topo.v[i];
    if (b->op != TG_OP_INDEX || b->nsrc < 2) continue;
    tg_uop *ix = b->src[1];
    int gated = ix->op == TG_OP_WHERE && cg_is_invalid(ix->src[2]);
    tg_uop *idx = gated ? ix->src[1] : ix;
    int in = cg_in_backward_slice(idx, rng);
    if (in < 0) goto fail;
    if (!in) continue;
    tg_uop *old_valid = gated ? ix->src[0] : K(tg_um_const(TG_BOOL, tg_num_b(1)));
    tg_uop *nidx = K(cg_valid(idx, K(tg_um_binop(TG_OP_AND, valid, old_valid))));
    tg_uop *bs[2] = {b->src[0], nidx};
    tg_uop *nb = K(cg_with_src(b, bs, 2));
    tg_uop *inv = K(tg_uop_const_invalid());
    tg_uop *rep = cg_list_has(&stores, b) ? nb : K(tg_um_where(valid, nb, inv));
    if (cg_list_push(&keys, b) || cg_list_push(&vals, rep)) goto fail;
  }
  tg_uop *na = tg_uop_substitute(k->ast, keys.v, vals.v, keys.n);
  if (!na) goto fail;
  cg_sched_set_ast(k, na);
  rc = 0;
  if (append) {
    tg_arg items[4] = {tg_arg_str("Opt"), opt_enum(CG_OPT_PADTO), tg_arg_int(axis), tg_arg_int(arg)};
    tg_arg t4 = tg_arg_tuple(items, 4);
    if (tg_arg_copy(&t4, &k->opts[k->nopts]) != TG_OK) rc = -1;
    else k->nopts++;
  }
  goto out;
fail:
  rc = -1;
out:
  cg_list_free(&rngs), cg_list_free(&topo), cg_list_free(&stores), cg_list_free(&keys), cg_list_free(&vals);
  cg_pool_free(&pool);
  return rc;
}

/* ---------------- OptOps.TC (_apply_tc_opt) ---------------- */

static int64_t rarg0(tg_uop *r) { return cg_range_axis(r); }

static void sort_by_axis_desc(cg_list *l) { /* sorted(key=arg[0], reverse=True), stable */
  for (size_t i = 1; i < l->n; i++)
    for (size_t j = i; j > 0 && rarg0(l->v[j]) > rarg0(l->v[j - 1]); j--) {
      tg_uop *x = l->v[j]; l->v[j] = l->v[j - 1]; l->v[j - 1] = x;
    }
}

/* shape_str(): "g0", "l0", "w0", "u1", "r0", ... for the current rngs */
static int shape_str(const cg_list *rngs, cg_tc_name *out) {
  int cnt[16] = {0};
  for (size_t i = 0; i < rngs->n && i < 64; i++) {
    int t = cg_range_type(rngs->v[i]);
    snprintf(out[i].c, sizeof out[i].c, "%c%d", cg_axis_letter(t)[0], cnt[t & 15]++ % 100);
  }
  return (int)rngs->n;
}
static int name_index(const cg_tc_name *ss, int n, const cg_tc_name *want) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ss[i].c, want->c)) return i;
  return -1;
}

/* Renderer.target.device, as tinygrad names the device a dialect runs on */
static const char *tc_device(const cg_ren *ren) { return !strcmp(ren->dialect, "cuda") ? "CUDA" : !strcmp(ren->dialect, "metal") ? "METAL" : !strcmp(ren->dialect, "hip") ? "AMD" : ren->dialect; }

static int allow_tf32(void) {
  const char *e = getenv("ALLOW_TF32");
  return e && atoi(e) != 0;
}

/* the tc opt proper, on a tensor core that matched the dtypes: 0 applied (axes out), 1 not applicable here (continue),
** 2 KernelOptError, -1 hard error */
static int tc_try(cg_sched *k, const cg_tc *tc, int use_tc, int opt_level, tg_uop *axes_in[3], tg_uop *axes_out[3]) {
  cg_pool pool = {0};
  cg_list rngs = {0}, topo = {0}, red_rngs = {0};
  int rc = -1;
  tg_uop *axes[3] = {axes_in[0], axes_in[1], axes_in[2]};
  for (int i = 0; i < 3; i++) cg_pool_add(&pool, tg_uop_retain(axes[i]));
  for (int i = 0; i < 3; i++) {
    if ((cg_vmax_i(axes[i]) + 1) % tc->dims[i] == 0) continue;
    if (opt_level < 2) { rc = 1; goto out; } /* tc padding requires opt_level >= 2 */
    if (cg_sched_rngs(k, &rngs)) goto out;
    long idx = cg_list_find(&rngs, axes[i]);
    if (idx < 0) { rc = 1; goto out; }
    int r = apply_padto(k, (int)idx, tc->dims[i], 0);
    if (r) { rc = r < 0 ? -1 : 1; goto out; } /* PADTO might fail: the next tensor core */
    if (cg_sched_rngs(k, &rngs)) goto out;
    axes[i] = K(tg_uop_retain(rngs.v[idx]));
    rngs.n = 0;
  }
  /* the warp is built whole, in case some of these ranges are moved/removed later */
  int64_t wax = -1;
  tg_uop *warp = K(cg_range(K(cg_cint(tc->threads)), &wax, 1, CG_AX_WARP, TG_WEAKINT));
  tg_uop *ne[CG_TC_MAX_AXES];
  int nne = 0, nopt = cg_tc_nopts(tc);
  for (int i = 0; i < nopt; i++) {
    char c = tc->opts[2 * i];
    int d = tc->opts[2 * i + 1] - '0';
    tg_uop *rep = NULL, *nr = NULL;
    tg_uop *lane = c == 'l' ? K(tg_um_mod(warp, K(cg_cint(2)))) : NULL;
    int r = shift_to_ex(k, axes[d], 2, c == 'l' ? CG_AX_LOCAL : CG_AX_UPCAST, 0, lane, &rep, &nr);
    if (r) { rc = r < 0 ? -1 : 2; goto out; }
    axes[d] = K(tg_uop_retain(rep));
    ne[nne++] = K(tg_uop_retain(nr));
    if (c == 'l') warp = K(tg_um_floordiv(warp, K(cg_cint(2))));
  }
  int nred = cg_tc_n_reduce(tc);
  for (int i = 0; i < nred; i++) {
    tg_uop *rep = NULL, *nr = NULL;
    int r = shift_to_ex(k, axes[2], 2, CG_AX_UNROLL, 0, NULL, &rep, &nr);
    if (r) { rc = r < 0 ? -1 : 2; goto out; }
    axes[2] = K(tg_uop_retain(rep));
    ne[nne++] = K(tg_uop_retain(nr));
  }
  if (use_tc != 2) {
    /* the REDUCE tagged "TC" */
    tg_uop *red = NULL;
    if (cg_toposort(k->ast, &topo)) goto out;
    for (size_t i = 0; i < topo.n; i++)
      if (topo.v[i]->op == TG_OP_REDUCE && topo.v[i]->tag.kind == TG_ARG_STR && !strcmp(topo.v[i]->tag.s, "TC")) red = topo.v[i];
    if (!red) { cg_err(TG_ERR_INTERNAL, "codegen: the TC reduce is gone"); goto out; }
    tg_uop *tne[CG_TC_MAX_AXES];
    for (int i = 0; i < nne; i++) tne[i] = K(cg_with_tag(ne[i], tg_arg_int(1)));
    tg_uop *ret = K(tg_uop_substitute(red, ne, tne, (size_t)nne));
    tg_uop *mul = ret->src[0]->op == TG_OP_CAST ? ret->src[0]->src[0] : ret->src[0];
    cg_tc_name bss[CG_TC_MAX_AXES];
    int nb = cg_tc_base_shape_str(tc, bss);
    int64_t perm[2][CG_TC_MAX_AXES];
    if (nb != nne || cg_tc_permutes(tc, bss, nb, perm)) { cg_err(TG_ERR_INTERNAL, "codegen: bad tensor core description"); goto out; }
    tg_uop *srcs[2];
    for (int s = 0; s < 2; s++) {
      tg_uop *vals[CG_TC_MAX_AXES];
      int64_t order[CG_TC_MAX_AXES];
      for (int i = 0; i < nb; i++) order[i] = i;
      for (int i = 1; i < nb; i++) /* argsort(p) */
        for (int j = i; j > 0 && perm[s][order[j]] < perm[s][order[j - 1]]; j--) { int64_t t = order[j]; order[j] = order[j - 1]; order[j - 1] = t; }
      for (int i = 0; i < nb; i++) vals[i] = ne[order[i]];
      srcs[s] = K(tg_uop_substitute(mul->src[s], tne, vals, (size_t)nb));
    }
    /* reduce / upcast axes for the tensor cores, as range numbers */
    if (cg_sched_rngs(k, &rngs)) goto out;
    cg_tc_name ss[64];
    int nss = shape_str(&rngs, ss);
    int64_t red_ax[CG_TC_MAX_AXES];
    for (int i = 0; i < nred; i++) {
      cg_tc_name w = {{'r', (char)('0' + i), 0}};
      int at = name_index(ss, nss, &w);
      if (at < 0) { rc = 2; goto out; }
      red_ax[i] = rarg0(rngs.v[at]);
    }
    cg_tc_name bua[CG_TC_MAX_AXES];
    int nbua = cg_tc_base_upcast_axes(tc, bua);
    int64_t up_rn[CG_TC_MAX_AXES];
    for (int i = 0; i < nbua; i++) {
      int at = name_index(ss, nss, &bua[i]);
      if (at < 0) { rc = 2; goto out; }
      up_rn[i] = rarg0(rngs.v[at]);
    }
    int ncnt[3];
    for (int i = 0; i < 3; i++) {
      ncnt[i] = 0;
      for (int e = tc->ept[i]; e > 1; e >>= 1) ncnt[i]++;
    }
    tg_arg pairs[3][2 * CG_TC_MAX_AXES][2], tup[3][2 * CG_TC_MAX_AXES], groups[3];
    for (int i = 0; i < 3; i++) {
      int n = 0;
      for (int j = 0; j < ncnt[i]; j++) pairs[i][n][0] = tg_arg_int(up_rn[j]), pairs[i][n][1] = tg_arg_int(2), n++;
      for (int o = 0; o < 2; o++) /* with_missing_tc_axes */
        for (int j = 0; j < ncnt[o]; j++) {
          int have = 0;
          for (int q = 0; q < n; q++) have |= pairs[i][q][0].i == up_rn[j];
          if (!have) pairs[i][n][0] = tg_arg_int(up_rn[j]), pairs[i][n][1] = tg_arg_int(1), n++;
        }
      for (int q = 0; q < n; q++) tup[i][q] = tg_arg_tuple(pairs[i][q], 2);
      groups[i] = tg_arg_tuple(tup[i], (uint32_t)n);
    }
    tg_arg dims[3] = {tg_arg_int(tc->dims[0]), tg_arg_int(tc->dims[1]), tg_arg_int(tc->dims[2])};
    tg_arg items[5] = {tg_arg_tuple(dims, 3), tg_arg_dtype(srcs[0]->dtype), tg_arg_str(tc_device(k->ren)), tg_arg_int(tc->threads),
                       tg_arg_tuple(groups, 3)};
    tg_uop *zeros[16];
    for (int i = 0; i < tc->ept[2] && i < 16; i++) zeros[i] = K(cg_const(tc->dtype_out, tg_num_f(0.0)));
    tg_uop *acc = K(cg_stack(zeros, (size_t)tc->ept[2]));
    tg_uop *wsrc[3] = {srcs[0], srcs[1], acc};
    tg_uop *tcu = K(tg_uop_new(TG_OP_WMMA, tc->dtype_out, wsrc, 3, tg_arg_tuple(items, 5)));
    /* preserve extra reduces */
    for (size_t i = 1; i < red->nsrc; i++) {
      cg_list t = {0};
      if (cg_toposort(red->src[i], &t)) goto out;
      for (size_t j = 0; j < t.n; j++) {
        tg_uop *x = t.v[j];
        int is_tc = 0;
        for (int q = 0; q < nred; q++) is_tc |= x->op == TG_OP_RANGE && rarg0(x) == red_ax[q];
        if (x->op == TG_OP_RANGE && !is_tc && cg_list_add(&red_rngs, x)) { cg_list_free(&t); goto out; }
      }
      cg_list_free(&t);
    }
    if (red_rngs.n) {
      tg_uop **rs = malloc((red_rngs.n + 1) * sizeof *rs);
      if (!rs) goto out;
      rs[0] = tcu;
      for (size_t i = 0; i < red_rngs.n; i++) rs[i + 1] = red_rngs.v[i];
      tg_arg ri[2] = {tg_arg_op(TG_OP_ADD), tg_arg_int(0)};
      tcu = cg_pool_add(&pool, tg_uop_new(TG_OP_REDUCE, TG_DT_AUTO, rs, red_rngs.n + 1, tg_arg_tuple(ri, 2)));
      free(rs);
      if (!tcu) goto out;
    }
    tg_uop *na = cg_substitute1(k->ast, red, tcu);
    if (!na) goto out;
    cg_sched_set_ast(k, na);
  }
  for (int i = 0; i < 3; i++) axes_out[i] = tg_uop_retain(axes[i]);
  rc = 0;
out:
fail:
  cg_list_free(&rngs), cg_list_free(&topo), cg_list_free(&red_rngs);
  cg_pool_free(&pool);
  return rc;
}

int cg_sched_apply_tc(cg_sched *k, int axis, int tc_select, int tc_opt, int use_tc, tg_uop *axes_out[3]) {
  if (k->nopts != 0 || k->nopts >= CG_MAX_OPTS) return 1;                    /* tensor core opts must be first */
  if (tc_select < -1 || tc_select >= k->ren->n_tcs || tc_opt < 0 || tc_opt > 2 || use_tc <= 0 || use_tc > 2) return 1;
  tg_uop *reduceop = cg_sched_reduceop(k);
  if (!reduceop) return 1;                                                    /* no reduce ops for TensorCore */
  const tg_arg *rop = cg_tuple_item(&reduceop->arg, 0);
  if (!rop || rop->i != TG_OP_ADD) return 1;
  tg_uop *mul = reduceop->src[0]->op == TG_OP_CAST ? reduceop->src[0]->src[0] : reduceop->src[0];
  if (mul->op != TG_OP_MUL) return 1;
  tg_uop *in0 = mul->src[0], *in1 = mul->src[1];
  cg_sched saved;
  if (cg_sched_copy(k, &saved)) return -1;
  int rc = 1, tagged = 0;
  for (int ti = tc_select == -1 ? 0 : tc_select; ti < (tc_select == -1 ? k->ren->n_tcs : tc_select + 1); ti++) {
    const cg_tc *tc = k->ren->tcs[ti];
    if (!strcmp(k->ren->dialect, "cuda") && tc->dtype_in == TG_FLOAT32 && !allow_tf32()) continue;
    if (!(tc->dtype_in == in0->dtype && tc->dtype_in == in1->dtype && tc->dtype_out == reduceop->dtype)) continue;
    const cg_list *r0 = cg_ranges(in0), *r1 = cg_ranges(in1);
    if (!r0 || !r1) { rc = -1; break; }
    cg_list l0 = {0}, l1 = {0}, lr = {0};
    int err = 0;
    for (size_t i = 0; i < r0->n && !err; i++) if (!cg_list_has(r1, r0->v[i])) err = cg_list_push(&l0, r0->v[i]);
    for (size_t i = 0; i < r1->n && !err; i++) if (!cg_list_has(r0, r1->v[i])) err = cg_list_push(&l1, r1->v[i]);
    for (size_t i = 1; i < reduceop->nsrc && !err; i++) err = cg_list_push(&lr, reduceop->src[i]);
    if (err) { cg_list_free(&l0), cg_list_free(&l1), cg_list_free(&lr); rc = -1; break; }
    sort_by_axis_desc(&l0), sort_by_axis_desc(&l1), sort_by_axis_desc(&lr);
    size_t nchoices = l0.n * l1.n * lr.n;
    if (!nchoices || (size_t)axis >= nchoices) { cg_list_free(&l0), cg_list_free(&l1), cg_list_free(&lr); continue; }
    /* itertools.product(in1_ranges, in0_ranges, red_ranges)[axis]; NOTE: in1 and in0 are switched as in tinygrad */
    size_t a = (size_t)axis;
    tg_uop *axes[3] = {l1.v[a / (l0.n * lr.n)], l0.v[(a / lr.n) % l0.n], lr.v[a % lr.n]};
    cg_list_free(&l0), cg_list_free(&l1), cg_list_free(&lr);
    if (cg_range_type(axes[0]) == CG_AX_REDUCE || cg_range_type(axes[1]) == CG_AX_REDUCE) { rc = 1; break; } /* X/Y can't be REDUCE */
    if (axes[2]->op != TG_OP_RANGE) { rc = 1; break; }
    if (!tagged) { /* tag the reduceop */
      tg_uop *t = cg_with_tag(reduceop, tg_arg_str("TC"));
      tg_uop *na = t ? cg_substitute1(k->ast, reduceop, t) : NULL;
      tg_uop_release(t);
      if (!na) { rc = -1; break; }
      cg_sched_set_ast(k, na);
      tagged = 1;
    }
    int r = tc_try(k, tc, use_tc, tc_opt, axes, axes_out);
    if (r == 1) continue;
    rc = r == 2 ? 1 : r;
    if (r == 0) {
      k->tensor_core = tc;
      tg_arg ai[3] = {tg_arg_int(tc_select), tg_arg_int(tc_opt), tg_arg_int(use_tc)};
      tg_arg items[4] = {tg_arg_str("Opt"), opt_enum(CG_OPT_TC), tg_arg_int(axis), tg_arg_tuple(ai, 3)};
      tg_arg t4 = tg_arg_tuple(items, 4);
      if (tg_arg_copy(&t4, &k->opts[k->nopts]) != TG_OK) rc = -1;
      else k->nopts++;
    }
    break;
  }
  if (rc != 0) { /* leave k as it was */
    cg_sched_free(k);
    *k = saved;
  } else cg_sched_free(&saved);
  return rc;
}
