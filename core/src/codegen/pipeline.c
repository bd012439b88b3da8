/* codegen/pipeline.c -- tinygrad 0.14.0's codegen/__init__.py: full_rewrite_to_sink (the ordered passes, named as
** tinygrad names them), ProgramInfo.from_sink, and to_program (linearize, render). */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/opt/tc.h"
#include "codegen/passes.h"
#include "renderer/renderer.h"
#include "uop/symbolic.h"

tg_status cg_ren_from_caps(const tg_device_caps *caps, cg_ren *r) {
  memset(r, 0, sizeof *r);
  if (!caps) return tg_err(TG_ERR_NULL_POINTER, "codegen: caps is NULL");
  snprintf(r->dialect, sizeof r->dialect, "%s", caps->dialect);
  if (!(r->rd = tg_renderer_named(r->dialect))) return cg_err(TG_ERR_UNSUPPORTED, "codegen: no renderer for dialect '%s'", r->dialect);
  static const tg_op alu_of[TG_ALU_COUNT] = {TG_OP_EXP2, TG_OP_LOG2, TG_OP_SIN, TG_OP_SQRT, TG_OP_RECIPROCAL, TG_OP_NEG,
    TG_OP_TRUNC, TG_OP_ADD, TG_OP_MUL, TG_OP_SHL, TG_OP_SHR, TG_OP_CDIV, TG_OP_MAX, TG_OP_CMOD, TG_OP_CMPLT, TG_OP_CMPNE,
    TG_OP_CMPEQ, TG_OP_XOR, TG_OP_OR, TG_OP_AND, TG_OP_THREEFRY, TG_OP_SUB, TG_OP_FDIV, TG_OP_POW, TG_OP_FLOORDIV,
    TG_OP_FLOORMOD, TG_OP_WHERE, TG_OP_MULACC};
  for (int i = 0; i < TG_ALU_COUNT; i++)
    if (caps->alu_ops & (1ull << i)) r->alu.w[alu_of[i] >> 6] |= 1ull << (alu_of[i] & 63);
  r->dtypes = caps->dtypes;
  r->has_local = caps->has_local != 0, r->has_shared = caps->has_shared != 0, r->has_threads = caps->has_threads != 0;
  r->vector_width = caps->vector_width ? (int)caps->vector_width : 1;
  r->supports_float4 = r->vector_width > 1;
  for (int i = 0; i < 3; i++) r->global_max[i] = caps->global_max[i], r->local_max[i] = caps->local_max[i];
  r->shared_max = (int64_t)caps->shared_max;
  snprintf(r->arch, sizeof r->arch, "%s", caps->arch);
  if (caps->struct_size >= offsetof(tg_device_caps, tensor_cores) + sizeof caps->tensor_cores && caps->tensor_cores)
    for (uint32_t i = 0; i < caps->n_tensor_cores && r->n_tcs < 16; i++) {
      const cg_tc *tc = cg_tc_lookup(r->dialect, &caps->tensor_cores[i]);
      if (tc) r->tcs[r->n_tcs++] = tc;
    }
  return TG_OK;
}

/* ---------------- small passes of codegen/__init__.py ---------------- */

static tg_uop *casted_const(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *c = b[0];
  if (c->dtype >= TG_DTYPE_COUNT) return NULL; /* dtypes.all: storage dtypes only */
  tg_uop *w = tg_um_ufix(tg_uop_val(c));
  tg_uop *r = w ? tg_uop_new(TG_OP_CAST, c->dtype, &w, 1, tg_arg_dtype(c->dtype)) : NULL;
  tg_uop_release(w);
  return cg_ok(rw, r);
}
static tg_uop *number_param(tg_rw *rw, tg_uop *const *b, tg_uop *root) {
  (void)root;
  tg_uop *x = b[0];
  if (cg_param_slot(x) != -1) return NULL;
  int64_t *ctr = rw->ctx;
  tg_arg a;
  if (tg_arg_copy(&x->arg, &a) != TG_OK) return tg_rw_fail(rw);
  ((tg_arg *)a.items)[TG_PARAMARG_SLOT] = tg_arg_int((*ctr)++);
  tg_uop *r = tg_uop_replace(x, (tg_op)x->op, x->dtype, x->src, x->nsrc, &a, NULL);
  tg_arg_free(&a);
  return cg_ok(rw, r);
}
static const tg_upat const_pat = {.ops = {{1ull << TG_OP_CONST, 0}}, .has_ops = 1, .slot = 0};
static const tg_upat param_pat = {.ops = {{1ull << TG_OP_PARAM, 0}}, .has_ops = 1, .slot = 0};
static const tg_rule casted_rules[] = {{&const_pat, casted_const, "codegen pm_casted_consts"}};
static const tg_rule number_rules[] = {{&param_pat, number_param, "codegen pm_number_params"}};
static tg_pm *g_casted, *g_number, *g_postopt, *g_extra_sym, *g_lower;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void init(void) {
  g_casted = tg_pm_new(casted_rules, 1);
  g_number = tg_pm_new(number_rules, 1);
  const tg_pm *a[] = {cg_pm_sym(), tg_pm_cg_move_where_on_load(), cg_pm_flatten_range(), cg_pm_reduce_unparented()};
  g_postopt = tg_pm_concat(a, 4);
  const tg_pm *b[] = {cg_pm_sym(), cg_pm_indexing_simplify()};
  g_extra_sym = tg_pm_concat(b, 2);
  const tg_pm *c[] = {tg_pm_symbolic_simple(), cg_pm_lower_index_dtype(), cg_pm_indexing_simplify()};
  g_lower = tg_pm_concat(c, 3);
}

static tg_pm *cat2(const tg_pm *a, const tg_pm *b) {
  const tg_pm *p[] = {a, b};
  return tg_pm_concat(p, 2);
}

/* ---------------- the passes by name ---------------- */

typedef struct pctx { const cg_ren *ren; int noopt; } pctx;

static tg_uop *rewrite_owned(tg_uop *s, tg_pm *pm, void *ctx, unsigned flags) {
  tg_uop *r = pm ? tg_graph_rewrite(s, pm, ctx, flags, NULL) : NULL;
  tg_pm_free(pm);
  return r;
}

static tg_uop *run_pass(const char *name, tg_uop *s, pctx *p) {
  pthread_once(&g_once, init);
#define IS(n) (!strcmp(name, n))
  if (IS("multi_pm")) return tg_uop_retain(s); /* single-device kernels: UNSHARD never appears here */
  if (IS("early movement ops")) return tg_graph_rewrite(s, cg_pm_mops(), NULL, TG_RW_BOTTOM_UP, NULL);
  if (IS("load collapse")) return tg_graph_rewrite(s, cg_pm_load_collapse(), NULL, 0, NULL);
  if (IS("split ranges")) {
    cg_rmap m = {0};
    tg_uop *r = rewrite_owned(s, cat2(cg_pm_split_ranges(), cg_pm_flatten_range()), &m, 0);
    cg_rmap_free(&m);
    return r;
  }
  if (IS("initial symbolic")) return rewrite_owned(s, cat2(cg_pm_sym(), cg_pm_flatten_range()), NULL, 0);
  if (IS("simplify ranges")) {
    cg_rmap m = {0};
    tg_uop *r = rewrite_owned(s, cat2(cg_pm_flatten_range(), cg_pm_simplify_ranges()), &m, 0);
    cg_rmap_free(&m);
    return r;
  }
  if (IS("apply opts")) return cg_apply_opts(s, p->ren, p->noopt);
  if (IS("postopt symbolic")) return tg_graph_rewrite(s, g_postopt, NULL, 0, NULL);
  if (IS("expander")) {
    cg_range_map m;
    if (cg_build_range_map(s, &m)) return NULL;
    return tg_graph_rewrite(s, cg_pm_expander(), &m, 0, NULL);
  }
  if (IS("remove reduces")) {
    int acc = 0;
    return tg_graph_rewrite(s, cg_pm_reduce_local(), &acc, 0, NULL);
  }
  if (IS("add local buffers")) {
    int64_t slot = 0;
    return tg_graph_rewrite(s, cg_pm_add_local_buffers(), &slot, 0, NULL);
  }
  if (IS("add gpudims")) return tg_graph_rewrite(s, cg_pm_add_gpudims(), (void *)p->ren, 0, NULL);
  if (IS("*** expand broadcast / add loads")) return tg_graph_rewrite(s, cg_pm_expand_broadcast_loads(), NULL, 0, NULL);
  if (IS("devectorize2")) return tg_graph_rewrite(s, cg_pm_devectorize2(), (void *)p->ren, 0, NULL);
  if (IS("early symbolic")) return tg_graph_rewrite(s, cg_pm_sym(), NULL, 0, NULL);
  if (IS("memory coalescing")) return cg_memory_coalescing(s, p->ren);
  if (IS("add images")) return tg_graph_rewrite(s, cg_pm_ew_devectorize(), NULL, TG_RW_BOTTOM_UP, NULL);
  if (IS("extra symbolic")) return tg_graph_rewrite(s, g_extra_sym, NULL, 0, NULL);
  if (IS("lower all index dtypes")) {
    cg_weak_ctx w = {0};
    if (!tg_ptrset_init(&w.memo, 256)) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), NULL;
    tg_uop *r = tg_graph_rewrite(s, g_lower, &w, 0, NULL);
    tg_ptrset_free(&w.memo), cg_pool_free(&w.keep);
    return r;
  }
  if (IS("final symbolic")) return tg_graph_rewrite(s, tg_pm_symbolic(), NULL, 0, NULL);
  if (IS("cast float alu operands")) return tg_graph_rewrite(s, cg_pm_cast_float_alu(), NULL, 0, NULL);
  if (IS("early decompositions")) return tg_graph_rewrite(s, cg_pm_simplifying_decomp(p->ren), NULL, 0, NULL);
  if (IS("decomp dtypes")) return cg_dtype_decomps(s, p->ren);
  if (IS("late decompositions")) return tg_graph_rewrite(s, cg_pm_late_decomp(p->ren), (void *)p->ren, 0, NULL);
  if (IS("move gates from index")) return tg_graph_rewrite(s, cg_pm_move_gates_from_index(), NULL, 0, NULL);
  if (IS("final rewrite")) return tg_graph_rewrite(s, cg_pm_final_rewrite(p->ren), (void *)p->ren, 0, NULL);
  if (IS("casted consts")) return tg_graph_rewrite(s, g_casted, NULL, TG_RW_WALK, NULL);
  if (IS("add implicit barriers")) return tg_graph_rewrite(s, cg_pm_implicit_barriers(), NULL, 0, NULL);
  if (IS("add control flow")) return cg_add_control_flow(s);
  if (IS("number params with -1")) {
    cg_list t = {0};
    if (cg_toposort(s, &t)) return NULL;
    int64_t n = 0;
    for (size_t i = 0; i < t.n; i++) n += t.v[i]->op == TG_OP_PARAM && cg_param_slot(t.v[i]) != -1;
    cg_list_free(&t);
    return tg_graph_rewrite(s, g_number, &n, TG_RW_WALK, NULL);
  }
#undef IS
  return cg_err(TG_ERR_INVALID_ARGUMENT, "codegen: no pass named '%s'", name), NULL;
}

static const char *const g_passes[] = {"multi_pm", "early movement ops", "load collapse", "split ranges", "initial symbolic",
  "simplify ranges", "apply opts", "postopt symbolic", "expander", "remove reduces", "add local buffers", "add gpudims",
  "*** expand broadcast / add loads", "devectorize2", "early symbolic", "memory coalescing", "add images", "extra symbolic",
  "lower all index dtypes", "final symbolic", "cast float alu operands", "early decompositions", "decomp dtypes",
  "late decompositions", "move gates from index", "final rewrite", "casted consts", "add implicit barriers",
  "add control flow", "number params with -1"};

static int env_noopt(void) {
  const char *e = getenv("NOOPT");
  return e && atoi(e) != 0;
}

tg_uop *tg_codegen_full_rewrite(tg_uop *ast, const cg_ren *ren, const tg_codegen_opts *opts) {
  if (cg_scope_begin()) return NULL;
  pctx p = {ren, opts && opts->noopt >= 0 ? opts->noopt : env_noopt()};
  int optimize = ast->tag.kind == TG_ARG_NONE;
  tg_uop *s = tg_uop_retain(ast);
  for (size_t i = 0; i < sizeof g_passes / sizeof g_passes[0] && s; i++) {
    const char *nm = g_passes[i];
    if (!optimize && (!strcmp(nm, "load collapse") || !strcmp(nm, "split ranges") || !strcmp(nm, "initial symbolic") ||
                      !strcmp(nm, "simplify ranges") || !strcmp(nm, "apply opts")))
      continue;
    tg_uop *n = run_pass(nm, s, &p);
    tg_uop_release(s);
    s = n;
    if (s && opts && opts->on_stage) opts->on_stage(nm, s, opts->user);
  }
  cg_scope_end();
  return s;
}

tg_uop *tg_codegen_pass(const char *name, tg_uop *sink, const cg_ren *ren, int noopt) {
  if (cg_scope_begin()) return NULL;
  pctx p = {ren, noopt};
  tg_uop *r = run_pass(name, sink, &p);
  cg_scope_end();
  return r;
}

/* ---------------- ProgramInfo + render ---------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}
static size_t dedup_sorted(int64_t *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_i64);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!k || v[k - 1] != v[i]) v[k++] = v[i];
  return k;
}

static tg_uop *buf_uop(tg_uop *u) {
  if (u->op == TG_OP_BUFFER || u->op == TG_OP_PARAM) return u;
  tg_uop *b = tg_uop_base(u);
  if (b->op == TG_OP_AFTER) return tg_uop_base(buf_uop(b->src[0]));
  while (u->nsrc && u->op != TG_OP_BUFFER && u->op != TG_OP_PARAM && u->op != TG_OP_STAGE && u->op != TG_OP_MSTACK) u = u->src[0];
  return u;
}

static int program_info(cg_program *p, tg_uop *sink) {
  cg_list t = {0}, vars = {0};
  if (cg_toposort(sink, &t)) return -1;
  int64_t *g = calloc(t.n + 1, sizeof *g), *o = calloc(t.n + 1, sizeof *o), *in = calloc(t.n + 1, sizeof *in);
  size_t ng = 0, no = 0, ni = 0;
  int err = !g || !o || !in;
  p->global_size[0] = p->global_size[1] = p->global_size[2] = 1;
  p->local_size[0] = p->local_size[1] = p->local_size[2] = 1;
  p->has_local_size = 1;
  for (size_t i = 0; i < t.n && !err; i++) {
    tg_uop *u = t.v[i];
    if (u->op == TG_OP_PARAM && cg_addrspace(u) == CG_AS_ALU) err = cg_list_add(&vars, u);
    if (u->op == TG_OP_PARAM && cg_addrspace(u) != CG_AS_ALU) g[ng++] = cg_param_slot(u);
    if (u->op == TG_OP_STORE || u->op == TG_OP_LOAD) {
      tg_uop *idx = u->src[0];
      if (idx->op == TG_OP_CAST && idx->src[0]->op == TG_OP_INDEX) idx = idx->src[0];
      if (idx->op == TG_OP_INDEX || idx->op == TG_OP_SHRINK) {
        tg_uop *b = buf_uop(idx->src[0]);
        if (b->op == TG_OP_PARAM) (u->op == TG_OP_STORE ? o : in)[u->op == TG_OP_STORE ? no++ : ni++] = cg_param_slot(b);
      }
    }
    if (u->op == TG_OP_SPECIAL && u->arg.kind == TG_ARG_STR) {
      const char *nm = u->arg.s;
      if (nm[0] == 'i') p->has_local_size = 0;
      int d = nm[strlen(nm) - 1] - '0';
      int64_t sz = cg_vmax_i(u) + 1;
      if (d >= 0 && d < 3) {
        if (nm[0] == 'l' && p->has_local_size) p->local_size[d] = sz;
        else if (nm[0] != 'l') p->global_size[d] = sz;
      }
    }
  }
  for (size_t i = 0; i < vars.n && !err; i++) {
    const char *nm = cg_param_name(vars.v[i]);
    if (nm && !strcmp(nm, "core_id")) p->global_size[0] = cg_vmax_i(vars.v[i]) + 1;
  }
  if (!err) {
    for (size_t i = 1; i < vars.n; i++) /* sorted by slot */
      for (size_t j = i; j > 0 && cg_param_slot(vars.v[j]) < cg_param_slot(vars.v[j - 1]); j--) {
        tg_uop *x = vars.v[j]; vars.v[j] = vars.v[j - 1]; vars.v[j - 1] = x;
      }
    p->n_vars = vars.n;
    p->vars = calloc(vars.n + 1, sizeof *p->vars);
    err = !p->vars;
    for (size_t i = 0; i < vars.n && !err; i++) {
      const char *nm = cg_param_name(vars.v[i]);
      p->vars[i].name = strdup(nm ? nm : "");
      p->vars[i].vmin = cg_vmin_i(vars.v[i]), p->vars[i].vmax = cg_vmax_i(vars.v[i]);
      p->vars[i].is_core_id = nm && !strcmp(nm, "core_id");
      err = !p->vars[i].name;
    }
  }
  if (!err) {
    p->globals = g, p->n_globals = dedup_sorted(g, ng);
    p->outs = o, p->n_outs = dedup_sorted(o, no);
    p->ins = in, p->n_ins = dedup_sorted(in, ni);
    g = o = in = NULL;
  }
  free(g), free(o), free(in);
  cg_list_free(&t), cg_list_free(&vars);
  return err ? (tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory"), -1) : 0;
}

void cg_program_free(cg_program *p) {
  if (!p) return;
  free(p->name), free(p->display_name), free(p->source);
  free(p->globals), free(p->outs), free(p->ins);
  for (size_t i = 0; i < p->n_vars; i++) free(p->vars[i].name);
  free(p->vars);
  for (size_t i = 0; i < p->n_lin; i++) tg_uop_release(p->lin[i]);
  free(p->lin);
  tg_uop_release(p->sink);
  free(p);
}

/* An integer x/0 or x%0 with a constant 0 left after simplification is undefined in C, and gcc compiles it to a trap
** (SIGILL) that would kill the caller's process; refuse the kernel as Python refuses 1 // 0. A divisor that is 0 only at
** run time is the caller's to avoid, as in tinygrad. */
static int is_zero(tg_uop *y) {
  while (y->op == TG_OP_CAST && y->nsrc == 1) y = y->src[0];
  if (y->op == TG_OP_STACK) {
    for (size_t j = 0; j < y->nsrc; j++)
      if (is_zero(y->src[j])) return 1;
    return 0;
  }
  return y->op == TG_OP_CONST && (((y->arg.kind == TG_ARG_INT || y->arg.kind == TG_ARG_BOOL) && y->arg.i == 0) ||
                                   (y->arg.kind == TG_ARG_FLOAT && y->arg.f == 0.0));
}
static tg_status check_const_int_div(tg_uop *const *lin, size_t n) {
  for (size_t i = 0; i < n; i++) {
    tg_uop *u = lin[i];
    if ((u->op == TG_OP_CDIV || u->op == TG_OP_CMOD || u->op == TG_OP_FLOORDIV || u->op == TG_OP_FLOORMOD) && u->nsrc == 2 &&
        !tg_dt_is_float((tg_dtype)u->dtype) && is_zero(u->src[1]))
      return tg_err(TG_ERR_INVALID_ARGUMENT, "integer division or modulo by zero (Ops.%s in a kernel)", tg_op_name((tg_op)u->op));
  }
  return TG_OK;
}

tg_status tg_codegen_kernel(tg_uop *ast, const tg_device_caps *caps, const tg_codegen_opts *opts, cg_program **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "codegen: out is NULL");
  *out = NULL;
  if (!ast) return tg_err(TG_ERR_NULL_POINTER, "codegen: ast is NULL");
  if (ast->op != TG_OP_SINK || !cg_is_kernel_info(&ast->arg))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "codegen: requires a SINK with KernelInfo, got %s", tg_op_name((tg_op)ast->op));
  cg_ren ren;
  tg_status st = cg_ren_from_caps(caps, &ren);
  if (st != TG_OK) return st;
  cg_program *p = calloc(1, sizeof *p);
  if (!p) return tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory");
  if (cg_scope_begin()) { free(p); return TG_ERR_OUT_OF_MEMORY; }
  (void)cg_last_status();
  if (!(p->sink = tg_codegen_full_rewrite(ast, &ren, opts))) goto fail;
  if (program_info(p, p->sink)) goto fail;
  const char *dn = cg_kernel_name(&p->sink->arg);
  if (!(p->display_name = strdup(dn)) || !(p->name = cg_function_name(dn))) goto oom;
  if (!(p->lin = tg_codegen_linearize(p->sink, &p->n_lin))) goto fail;
  if ((st = check_const_int_div(p->lin, p->n_lin))) return cg_scope_end(), cg_program_free(p), st;
  if (!(p->source = ren.rd->render(ren.rd, p->lin, p->n_lin, p->name))) goto fail;
  cg_scope_end();
  *out = p;
  return TG_OK;
oom:
  tg_err(TG_ERR_OUT_OF_MEMORY, "codegen: out of memory");
fail:
  cg_scope_end();
  cg_program_free(p);
  st = cg_last_status();
  if (st == TG_OK) st = strstr(tg_last_error(), "out of memory") ? TG_ERR_OUT_OF_MEMORY : TG_ERR_INTERNAL;
  return st;
}
