/* codegentool -- runs tgc's codegen (core/src/codegen) on a kernel AST read as JSON from stdin (uop/serialize.c's form),
** for tests/test_codegen.py, which feeds it kernels built by tinygrad 0.14.0's scheduler and compares the results.
**   codegentool stages [noopt]     every pass of full_rewrite_to_sink: "=== NAME" then the graph (pretty_print)
**   codegentool pass NAME [noopt]  one pass applied alone to the graph on stdin; prints the result
**   codegentool lin [noopt]        the linearized program, one "OP dtype" per line
**   codegentool render [noopt]     the program as JSON: name, source, globals, outs, ins, vars, global_size, ops
** The caps are the built-in CPU backend's, or a GPU plugin's with CODEGENTOOL_GPU (gpu_caps below). "noopt" is NOOPT=1; otherwise the heuristic optimizations run.
** Exit status 0 on success; 1 with "error: <tg_last_error>" on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/opt/tc.h"
#include "runtime/cpu.h"
#include "uop/serialize.h"
#include "tool_io.h"


static int fail(void) {
  fprintf(stderr, "error: %s\n", tg_last_error());
  return 1;
}

static void host_err(void *ctx, tg_status code, const char *msg) { (void)ctx, (void)code, fprintf(stderr, "cpu: %s\n", msg); }
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

static void on_stage(const char *name, tg_uop *sink, void *user) {
  (void)user;
  char *s = tg_uop_str(sink);
  printf("=== %s\n%s\n", name, s ? s : "(out of memory)");
  free(s);
}

static void json_str(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p == '\n') printf("\\n");
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}
static void json_ints(const char *key, const int64_t *v, size_t n) {
  printf(", \"%s\": [", key);
  for (size_t i = 0; i < n; i++) printf("%s%lld", i ? ", " : "", (long long)v[i]);
  printf("]");
}

/* CODEGENTOOL_GPU=<dialect>: the caps a GPU plugin declares for that dialect, so the GPU passes (locals, shared memory,
** gpudims, decompositions) and the renderer can be compared with tinygrad's GPU renderers with no GPU at hand:
** "cuda" as plugins/tgc-cuda declares it (CODEGENTOOL_ARCH=sm_XX, default sm_90: half from sm_53, bfloat16 from sm_80,
** fp8 from sm_89); "hip" and "metal" with tinygrad's HIPRenderer/MetalRenderer dtypes; any other dialect (e.g. "c") gets
** the CUDA limits with the CPU's ops and dtypes. All: CStyleLanguage.code_for_op's 21 ops (FDIV too with CODEGENTOOL_FDIV=1),
** 4-wide vectors, CUDARenderer's global_max/local_max/shared_max (HIP: 65536 bytes of shared memory). Tensor cores: cuda's
** (CUDARenderer's get_cuda(arch): sm_75+), metal's with CODEGENTOOL_ARCH=AppleN (N >= 7), hip's with CODEGENTOOL_ARCH=gfxN
** (RDNA3's); none otherwise. */
static void gpu_caps(tg_device_caps *caps) {
  const char *d = getenv("CODEGENTOOL_GPU");
  if (!d || !*d) return;
  snprintf(caps->dialect, sizeof caps->dialect, "%s", d);
  caps->has_local = caps->has_shared = 1, caps->has_threads = 0, caps->vector_width = 4;
  const uint32_t gm[3] = {2147483647u, 65535, 65535}, lm[3] = {1024, 1024, 64};
  for (int i = 0; i < 3; i++) caps->global_max[i] = gm[i], caps->local_max[i] = lm[i];
  caps->local_prod_max = 1024, caps->shared_max = 49152;
  int cuda = !strcmp(d, "cuda"), hip = !strcmp(d, "hip"), metal = !strcmp(d, "metal"), wgsl = !strcmp(d, "wgsl");
  if (!cuda && !hip && !metal && !wgsl) return;
  static const tg_alu_op ops[] = {TG_ALU_EXP2, TG_ALU_LOG2, TG_ALU_SIN, TG_ALU_SQRT, TG_ALU_RECIPROCAL, TG_ALU_NEG, TG_ALU_TRUNC,
                                  TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL, TG_ALU_CDIV, TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT,
                                  TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR, TG_ALU_XOR, TG_ALU_WHERE};
  caps->alu_ops = 0;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) caps->alu_ops |= 1ull << ops[i];
  const char *fdiv = getenv("CODEGENTOOL_FDIV"); /* =1: FDIV native too, as plugins/tgc-cuda declares it (tinygrad's CUDARenderer has none) */
  if (fdiv && *fdiv == '1') caps->alu_ops |= 1ull << TG_ALU_FDIV;
  if (wgsl) { /* WGSLRenderer: no vectors, 16-bit limits, no 64-bit dtypes */
    caps->vector_width = 1, caps->local_prod_max = 256, caps->shared_max = 32768;
    const uint32_t wl[3] = {256, 256, 64};
    for (int i = 0; i < 3; i++) caps->global_max[i] = 65535, caps->local_max[i] = wl[i];
    caps->dtypes = (1ull << TG_BOOL) | (1ull << TG_INT8) | (1ull << TG_UINT8) | (1ull << TG_INT16) | (1ull << TG_UINT16) | (1ull << TG_INT32) |
                   (1ull << TG_UINT32) | (1ull << TG_FLOAT16) | (1ull << TG_FLOAT32);
    return;
  }
  uint64_t m = (1ull << (TG_FLOAT64 + 1)) - 1;
  const char *arch = getenv("CODEGENTOOL_ARCH");
  if (cuda) {
    int cc = arch && !strncmp(arch, "sm_", 3) ? atoi(arch + 3) : 90;
    if (cc < 53) m &= ~(1ull << TG_FLOAT16);
    if (cc < 80) m &= ~(1ull << TG_BFLOAT16);
    if (cc >= 89) m |= 1ull << TG_FP8E4M3 | 1ull << TG_FP8E5M2;
    snprintf(caps->arch, sizeof caps->arch, "sm_%d", cc);
    caps->tensor_cores = cg_tc_cuda_caps(caps->arch, &caps->n_tensor_cores); /* as plugins/tgc-cuda declares them */
  }
  if (hip) caps->shared_max = 65536;
  if (hip && arch && !strncmp(arch, "gfx", 3)) { /* CODEGENTOOL_ARCH=gfxN: HIPRenderer's tensor cores (RDNA3's) */
    snprintf(caps->arch, sizeof caps->arch, "%s", arch);
    caps->tensor_cores = cg_tc_amd_caps(caps->arch, &caps->n_tensor_cores);
  }
  if (metal) m &= ~(1ull << TG_FLOAT64);
  if (metal && arch && !strncmp(arch, "Apple", 5)) { /* CODEGENTOOL_ARCH=AppleN: MetalRenderer's tensor cores from Apple7 on */
    snprintf(caps->arch, sizeof caps->arch, "%s", arch);
    caps->tensor_cores = cg_tc_metal_caps(caps->arch, &caps->n_tensor_cores);
  }
  caps->dtypes = m;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: codegentool stages|lin|render [noopt] | codegentool pass NAME [noopt]  < ast.json\n");
    return 2;
  }
  const char *cmd = argv[1];
  int noopt = argc > 2 && !strcmp(argv[argc - 1], "noopt");
  size_t n;
  char *text = read_all(stdin, &n);
  if (!text) return fprintf(stderr, "error: out of memory\n"), 1;
  tg_uop *root = tg_uop_from_json(text, n);
  free(text);
  if (!root) return fail();
  tg_device_caps caps;
  if (cpu_caps(&caps)) return fprintf(stderr, "error: no CPU caps\n"), 1;
  gpu_caps(&caps);
  cg_ren ren;
  if (cg_ren_from_caps(&caps, &ren) != TG_OK) return fail();
  int rc = 0;
  tg_codegen_opts opts = {noopt, NULL, NULL};
  if (!strcmp(cmd, "stages")) {
    opts.on_stage = on_stage;
    tg_uop *r = tg_codegen_full_rewrite(root, &ren, &opts);
    if (!r) rc = fail();
    tg_uop_release(r);
  } else if (!strcmp(cmd, "pass") && argc >= 3) {
    tg_uop *r = tg_codegen_pass(argv[2], root, &ren, noopt);
    char *s = r ? tg_uop_str(r) : NULL;
    if (!s) rc = fail();
    else printf("%s\n", s);
    free(s);
    tg_uop_release(r);
  } else if (!strcmp(cmd, "lin") || !strcmp(cmd, "render")) {
    cg_program *p = NULL;
    if (tg_codegen_kernel(root, &caps, &opts, &p) != TG_OK) rc = fail();
    else if (cmd[0] == 'l') {
      for (size_t i = 0; i < p->n_lin; i++) printf("%s %s\n", tg_op_name((tg_op)p->lin[i]->op), tg_dtype_repr_name(p->lin[i]->dtype));
    } else {
      printf("{\"name\": ");
      json_str(p->name);
      printf(", \"display_name\": ");
      json_str(p->display_name);
      printf(", \"source\": ");
      json_str(p->source);
      json_ints("globals", p->globals, p->n_globals);
      json_ints("outs", p->outs, p->n_outs);
      json_ints("ins", p->ins, p->n_ins);
      json_ints("global_size", p->global_size, 3);
      json_ints("local_size", p->local_size, 3);
      printf(", \"vars\": [");
      for (size_t i = 0; i < p->n_vars; i++) {
        printf("%s{\"name\": ", i ? ", " : "");
        json_str(p->vars[i].name);
        printf(", \"vmin\": %lld, \"vmax\": %lld, \"core_id\": %d}", (long long)p->vars[i].vmin, (long long)p->vars[i].vmax, p->vars[i].is_core_id);
      }
      printf("], \"ops\": [");
      for (size_t i = 0; i < p->n_lin; i++) printf("%s\"%s\"", i ? ", " : "", tg_op_name((tg_op)p->lin[i]->op));
      printf("]}\n");
    }
    cg_program_free(p);
  } else {
    fprintf(stderr, "error: unknown command %s\n", cmd);
    rc = 2;
  }
  tg_uop_release(root);
  return rc;
}
