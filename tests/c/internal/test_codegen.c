/* test_codegen.c -- the codegen's C API (codegen/codegen.h) on a kernel AST built in C: the program info, the "c"
** launch entry, error paths (codes and messages), and that a compile leaves no UOp alive. Values against tinygrad are
** checked by tests/test_codegen.py; this checks the contract a realize step relies on. */
#include "check.h"

#include "codegen/codegen.h"
#include "dtype.h"
#include "runtime/cpu.h"
#include "uop/ops.h"

static void host_err(void *ctx, tg_status code, const char *msg) { (void)ctx, (void)code, (void)msg; }
static void host_log(void *ctx, tg_log_level level, const char *msg) { (void)ctx, (void)level, (void)msg; }

static int cpu_caps(tg_device_caps *caps) {
  static tg_backend_host host;
  host.struct_size = sizeof host, host.abi_major = TG_BACKEND_ABI_MAJOR, host.abi_minor = TG_BACKEND_ABI_MINOR;
  host.set_error = host_err, host.log = host_log;
  const tg_backend_api *api = NULL;
  if (tg_cpu_backend_entry(&host, &api) != TG_OK || !api) return -1;
  memset(caps, 0, sizeof *caps);
  caps->struct_size = sizeof *caps;
  return api->device_caps(0, caps) == TG_OK ? 0 : -1;
}

/* ParamArg(slot, dtype, device='CPU') with every field written out, as tinygrad's scheduler hands it over */
static tg_arg param_arg(int64_t slot, int dt, tg_arg *items) {
  items[0] = tg_arg_str("ParamArg"), items[1] = tg_arg_int(slot), items[2] = tg_arg_dtype(dt);
  items[3] = tg_arg_none(), items[4] = tg_arg_none(), items[5] = tg_arg_none();
  items[6] = (tg_arg){.kind = TG_ARG_ENUM, .i = 1, .s = "AddrSpace.GLOBAL"};
  items[7] = tg_arg_none(), items[8] = tg_arg_str("CPU"), items[9] = tg_arg_bool(0);
  return tg_arg_tuple(items, 10);
}

/* (a*b + 1.5).sum over a 4x8 grid: SINK(KernelInfo) <- END(STORE(INDEX(out, r1), REDUCE(...)), r1) */
static tg_uop *build_ast(void) {
  tg_arg pa[3][10], ki_items[8], r0a[2], r1a[2];
  tg_uop *n4 = tg_uop_const_int(TG_WEAKINT, 4), *n8 = tg_uop_const_int(TG_WEAKINT, 8), *n32 = tg_uop_const_int(TG_WEAKINT, 32);
  tg_uop *out = tg_uop_new(TG_OP_PARAM, TG_DT_AUTO, &n4, 1, param_arg(0, TG_FLOAT32, pa[0]));
  tg_uop *a = tg_uop_new(TG_OP_PARAM, TG_DT_AUTO, &n32, 1, param_arg(1, TG_FLOAT32, pa[1]));
  tg_uop *b = tg_uop_new(TG_OP_PARAM, TG_DT_AUTO, &n32, 1, param_arg(2, TG_FLOAT32, pa[2]));
  r1a[0] = tg_arg_int(1), r1a[1] = (tg_arg){.kind = TG_ARG_ENUM, .i = 5, .s = "AxisType.WEAK"};
  r0a[0] = tg_arg_int(0), r0a[1] = (tg_arg){.kind = TG_ARG_ENUM, .i = 7, .s = "AxisType.REDUCE"};
  tg_uop *r1 = tg_uop_new(TG_OP_RANGE, TG_WEAKINT, &n4, 1, tg_arg_tuple(r1a, 2));
  tg_uop *r0 = tg_uop_new(TG_OP_RANGE, TG_WEAKINT, &n8, 1, tg_arg_tuple(r0a, 2));
  tg_uop *m = tg_uop_alu(TG_OP_MUL, 2, (tg_uop *[]){r1, n8});
  tg_uop *ix = tg_uop_alu(TG_OP_ADD, 2, (tg_uop *[]){m, r0});
  tg_uop *la = tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){a, ix}, 2, tg_arg_none());
  tg_uop *lb = tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){b, ix}, 2, tg_arg_none());
  tg_uop *prod = tg_uop_alu(TG_OP_MUL, 2, (tg_uop *[]){la, lb});
  tg_uop *c = tg_uop_const_float(TG_WEAKFLOAT, 1.5);
  tg_uop *sum = tg_uop_alu(TG_OP_ADD, 2, (tg_uop *[]){prod, c});
  tg_arg ra[2] = {tg_arg_op(TG_OP_ADD), tg_arg_int(0)};
  tg_uop *red = tg_uop_new(TG_OP_REDUCE, TG_DT_AUTO, (tg_uop *[]){sum, r0}, 2, tg_arg_tuple(ra, 2));
  tg_uop *io = tg_uop_new(TG_OP_INDEX, TG_DT_AUTO, (tg_uop *[]){out, r1}, 2, tg_arg_none());
  tg_uop *st = tg_uop_new(TG_OP_STORE, TG_DT_AUTO, (tg_uop *[]){io, red}, 2, tg_arg_none());
  tg_uop *end = tg_uop_new(TG_OP_END, TG_DT_AUTO, (tg_uop *[]){st, r1}, 2, tg_arg_none());
  ki_items[0] = tg_arg_str("KernelInfo"), ki_items[1] = tg_arg_str("test"), ki_items[2] = tg_arg_tuple(NULL, 0);
  ki_items[3] = tg_arg_bool(0), ki_items[4] = tg_arg_tuple(NULL, 0), ki_items[5] = tg_arg_none(), ki_items[6] = tg_arg_none();
  ki_items[7] = tg_arg_int(0);
  tg_uop *sink = tg_uop_new(TG_OP_SINK, TG_DT_VOID, &end, 1, tg_arg_tuple(ki_items, 8));
  tg_uop *all[] = {n4, n8, n32, out, a, b, r1, r0, m, ix, la, lb, prod, c, sum, red, io, st, end};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) tg_uop_release(all[i]);
  return sink;
}

int main(void) {
  tg_device_caps caps;
  CHECK(cpu_caps(&caps) == 0);
  size_t live0 = tg_uop_live_count();
  tg_uop *ast = build_ast();
  CHECK(ast != NULL);
  for (int noopt = 1; noopt >= 0 && ast; noopt--) {
    cg_program *p = NULL;
    tg_codegen_opts opts = {noopt, NULL, NULL};
    CHECK_OK(tg_codegen_kernel(ast, &caps, &opts, &p));
    if (!p) continue;
    CHECK(p->n_globals == 3 && p->globals[0] == 0 && p->globals[1] == 1 && p->globals[2] == 2);
    CHECK(p->n_outs == 1 && p->outs[0] == 0 && p->n_ins == 2);
    CHECK(p->n_vars == 0 && p->global_size[0] == 1);
    CHECK(strstr(p->source, "(void *const *bufs, const int64_t *vals, const uint32_t gid[3])") != NULL);
    CHECK(strstr(p->source, p->name) != NULL && !strncmp(p->name, "r_4", 3));
    CHECK(strstr(p->source, "ext_vector_type") == NULL && strstr(p->source, "__builtin_bit_cast") == NULL);
    CHECK(p->n_lin > 0 && p->sink != NULL);
    cg_program_free(p);
  }
  /* errors: a caller's mistake is a status and a message, never a crash */
  cg_program *p = (cg_program *)1;
  CHECK_ERR(tg_codegen_kernel(ast, &caps, NULL, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_codegen_kernel(NULL, &caps, NULL, &p), TG_ERR_NULL_POINTER, "ast is NULL");
  CHECK(p == NULL);
  CHECK_ERR(tg_codegen_kernel(ast, NULL, NULL, &p), TG_ERR_NULL_POINTER, "caps is NULL");
  tg_uop *notsink = ast ? ast->src[0] : NULL;
  if (notsink) CHECK_ERR(tg_codegen_kernel(notsink, &caps, NULL, &p), TG_ERR_INVALID_ARGUMENT, "requires a SINK with KernelInfo");
  tg_device_caps bad = caps;
  snprintf(bad.dialect, sizeof bad.dialect, "nosuch");
  CHECK_ERR(tg_codegen_kernel(ast, &bad, NULL, &p), TG_ERR_UNSUPPORTED, "no renderer for dialect 'nosuch'");
  bad = caps;
  bad.has_threads = 0, bad.has_local = 1, bad.local_max[0] = 64;
  tg_codegen_opts opt = {0, NULL, NULL};
  CHECK_ERR(tg_codegen_kernel(ast, &bad, &opt, &p), TG_ERR_UNSUPPORTED, "the c dialect has no launch indices (SPECIAL ");
  CHECK(p == NULL);
  tg_uop_release(ast);
  tg_codegen_mops_cache_clear(); /* codegen memoizes reshape index math across kernels, as tinygrad does */
  CHECK(tg_uop_live_count() == live0);
  CHECK_DONE();
}
