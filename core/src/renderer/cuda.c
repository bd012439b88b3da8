/* renderer/cuda.c -- tinygrad 0.14.0's CUDARenderer (renderer/cstyle.py) as a cs_lang table: extern "C" kernels with
** __launch_bounds__, blockIdx/threadIdx, __shared__ and __syncthreads, make_float4-style vectors (struct types for
** half/bfloat16 4 and 8 lanes and fp8), the cuda_fp16/bf16/fp8 headers, the INFINITY/NAN/tg_bitcast prelude and the
** half intrinsics of code_for_op.
**
** One difference from tinygrad, the tgc launch ABI (plugins/tgc-cuda/README.md, "The CUDA dialect"): every parameter
** is 8 bytes, so a variable is `const long long dataN_` where tinygrad writes `const int dataN_`. Its values stay in
** the variable's declared range (the codegen chose the index dtype from vmin/vmax), so int arithmetic on it is
** unchanged. */
#include "renderer/cstyle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_util.h"
#include "codegen/passes.h"
#include "renderer/renderer.h"

static int is_fp8(int dt) { return dt == TG_FP8E4M3 || dt == TG_FP8E5M2 || dt == TG_FP8E4M3FNUZ || dt == TG_FP8E5M2FNUZ; }

static const char *const g_nms[] = {"x", "y", "z", "w", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
static const char *vec_nm(int i) {
  static const char *const hi[] = {"v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31"};
  return i < 16 ? g_nms[i] : hi[(i - 16) & 15];
}

/* render_vector_prefix: a struct with named lanes and its make_ function */
static void vector_prefix(tg_sb *o, const cs_lang *L, int dt, int64_t n) {
  tg_sb vec = {0};
  vec.grow = 1;
  cs_put_dtype(&vec, L, dt, n);
  const char *v = vec.buf ? vec.buf : "", *sc = cs_scalar_name(L, dt);
  tg_sb_printf(o, "struct __align__(%lld) %s { %s ", (long long)(tg_dt_itemsize((tg_dtype)dt) * n), v, sc);
  for (int64_t i = 0; i < n; i++) tg_sb_printf(o, "%s%s", i ? ", " : "", vec_nm((int)i));
  tg_sb_printf(o, "; }; __device__ %s make_%s(", v, v);
  for (int64_t i = 0; i < n; i++) tg_sb_printf(o, "%s%s %s", i ? ", " : "", sc, vec_nm((int)i));
  tg_sb_printf(o, ") { %s r={", v);
  for (int64_t i = 0; i < n; i++) tg_sb_printf(o, "%s%s", i ? ", " : "", vec_nm((int)i));
  tg_sb_puts(o, "}; return r; }\n");
  free(vec.buf);
}

static const char *dt_map_in(int dt) {
  switch (dt) {
  case TG_FLOAT32: return "tf32";
  case TG_FLOAT16: return "f16";
  case TG_BFLOAT16: return "bf16";
  case TG_FP8E4M3: return "e4m3";
  case TG_FP8E5M2: return "e5m2";
  default: return "?";
  }
}
static const char *dt_map_out(int dt) { return dt == TG_FLOAT32 ? "f32" : dt == TG_FLOAT16 ? "f16" : "?"; }

static void operands(tg_sb *o, int from, int n) {
  tg_sb_puts(o, "{");
  for (int i = 0; i < n; i++) tg_sb_printf(o, "%s%%%d", i ? ", " : "", from + i);
  tg_sb_puts(o, "}");
}

/* render_kernel's __WMMA_ functions: one per distinct WMMA (name, dims, dtypes, fragment sizes), the mma.sync PTX inline */
static void wmma_prefix(tg_sb *o, const cs_lang *L, const cs_uses *u) {
  tg_uop *seen[64];
  int nseen = 0;
  for (size_t i = 0; i < u->n; i++) {
    tg_uop *w = u->uops[i];
    if (w->op != TG_OP_WMMA) continue;
    int64_t sz[3];
    for (int k = 0; k < 3; k++) sz[k] = cg_shape_dim(w->src[k], cg_shape_ndim(w->src[k]) - 1);
    int dup = 0;
    for (int k = 0; k < nseen && !dup; k++) {
      tg_uop *v = seen[k];
      dup = tg_arg_eq(&v->arg, &w->arg) && v->dtype == w->dtype;
      for (int q = 0; q < 3 && dup; q++) dup = cg_shape_dim(v->src[q], cg_shape_ndim(v->src[q]) - 1) == sz[q];
    }
    if (dup || nseen >= 64) continue;
    seen[nseen++] = w;
    const tg_arg *dims = cg_tuple_item(&w->arg, 0), *din = cg_tuple_item(&w->arg, 1);
    if (!dims || dims->n != 3 || !din) continue;
    int dt_in = (int)din->i, dt_out = w->dtype, dts[3] = {dt_in, dt_in, dt_out};
    int nop[3];
    for (int k = 0; k < 3; k++) nop[k] = (int)(sz[k] * tg_dt_itemsize((tg_dtype)dts[k]) / 4); /* 4: a CUDA register's bytes */
    tg_sb ty[3];
    for (int k = 0; k < 3; k++) {
      ty[k] = (tg_sb){0};
      ty[k].grow = 1;
      cs_put_dtype(&ty[k], L, dts[k], sz[k]);
    }
    tg_sb nm = {0};
    nm.grow = 1;
    cs_wmma_name(&nm, w);
    int total = nop[0] + nop[1] + nop[2];
    tg_sb_printf(o, "__device__ %s __%s(%s a, %s b, %s c){\n", ty[2].buf, nm.buf, ty[0].buf, ty[1].buf, ty[2].buf);
    tg_sb_puts(o, "  int *a_pk = (int *)(&a), *b_pk = (int *)(&b), *c_pk = (int *)(&c);\n");
    tg_sb_printf(o, "  asm(\"mma.sync.aligned.m%lldn%lldk%lld.row.col.%s.%s.%s.%s\"\n      \"", (long long)dims->items[1].i,
                 (long long)dims->items[0].i, (long long)dims->items[2].i, dt_map_out(dt_out), dt_map_in(dt_in), dt_map_in(dt_in), dt_map_out(dt_out));
    operands(o, 0, nop[2]), tg_sb_puts(o, ", "), operands(o, nop[2], nop[0]);
    tg_sb_puts(o, ",\"\n      \"");
    operands(o, total - nop[1], nop[1]), tg_sb_puts(o, ", "), operands(o, 0, nop[2]);
    tg_sb_puts(o, ";\"\n    : ");
    for (int k = 0; k < nop[2]; k++) tg_sb_printf(o, "%s\"+r\"(c_pk[%d])", k ? ", " : "", k);
    tg_sb_puts(o, "\n    : ");
    for (int k = 0; k < nop[0]; k++) tg_sb_printf(o, "%s\"r\"(a_pk[%d])", k ? ", " : "", k);
    tg_sb_puts(o, ", ");
    for (int k = 0; k < nop[1]; k++) tg_sb_printf(o, "%s\"r\"(b_pk[%d])", k ? ", " : "", k);
    tg_sb_puts(o, ");\n  return c;\n}\n");
    for (int k = 0; k < 3; k++) free(ty[k].buf);
    free(nm.buf);
  }
}

static void cuda_prefix(tg_sb *o, const cs_lang *L, const cs_uses *u) {
  tg_sb_puts(o, "typedef unsigned int uint;\n#define INFINITY (__int_as_float(0x7f800000))\n#define NAN (__int_as_float(0x7fffffff))\n"
                "template <class T, class F> __device__ __forceinline__ T tg_bitcast(F v) { union U { F f; T t; }; U u; u.f = v; return u.t; }\n");
  int fp8 = 0;
  for (int i = 0; i < u->ndts; i++) fp8 |= is_fp8(u->dts[i].dt);
  if (fp8) tg_sb_puts(o, "#include <cuda_fp8.h>\n");
  if (cs_uses_dtype(u, TG_FLOAT16)) tg_sb_puts(o, "#include <cuda_fp16.h>\n");
  if (cs_uses_dtype(u, TG_BFLOAT16)) tg_sb_puts(o, "#include <cuda_bf16.h>\n");
  for (int i = 0; i < u->ndts; i++) {
    int dt = u->dts[i].dt;
    int64_t n = u->dts[i].n;
    if (((n == 4 || n == 8) && (dt == TG_FLOAT16 || dt == TG_BFLOAT16)) || ((n == 2 || n == 4 || n == 8 || n == 16) && is_fp8(dt)))
      vector_prefix(o, L, dt, n);
  }
  wmma_prefix(o, L, u);
}

#define HALF_OP(f, h) {f, NULL, h, h}
const cs_lang tg_cs_lang_cuda = {
  .name = "cuda",
  .kernel_typedef = "extern \"C\" __global__ void __launch_bounds__({launch_bounds})",
  .buffer_prefix = "", .buffer_suffix = "", .smem_prefix = "__shared__ __align__(16) ", .smem_align = "", .smem_prefix_for_cast = 0,
  .var_prefix = "const ", .var_suffix = "", .var_type = "long long",
  .barrier = "__syncthreads();", .infinity = "INFINITY", .nan = "NAN",
  .float4 = "make_float4", .float4_open = "(", .float4_close = ")", .gep_arr_threshold = 8,
  .type_names = {[TG_UINT32] = "uint", [TG_BFLOAT16] = "nv_bfloat16", [TG_FP8E4M3] = "__nv_fp8_e4m3", [TG_FP8E5M2] = "__nv_fp8_e5m2"},
  .alu = {
    [TG_OP_SQRT] = HALF_OP("sqrt(%0)", "hsqrt(%0)"), [TG_OP_RECIPROCAL] = HALF_OP("(1/%0)", "hrcp(%0)"),
    [TG_OP_EXP2] = HALF_OP("exp2(%0)", "hexp2(%0)"), [TG_OP_LOG2] = HALF_OP("log2(%0)", "hlog2(%0)"),
    [TG_OP_SIN] = HALF_OP("sin(%0)", "hsin(%0)"), [TG_OP_TRUNC] = HALF_OP("trunc(%0)", "htrunc(%0)"),
    [TG_OP_NEG] = {"-%0"}, [TG_OP_AND] = {"(%0&%1)"}, [TG_OP_XOR] = {"(%0^%1)"}, [TG_OP_OR] = {"(%0|%1)"},
    [TG_OP_ADD] = {"(%0+%1)"}, [TG_OP_SUB] = {"(%0-%1)"}, [TG_OP_MUL] = {"(%0*%1)"}, [TG_OP_CMOD] = {"(%0%%%1)"},
    [TG_OP_CDIV] = {"(%0/%1)"}, [TG_OP_CMPNE] = {"(%0!=%1)"}, [TG_OP_SHR] = {"(%0>>%1)"}, [TG_OP_SHL] = {"(%0<<%1)"},
    [TG_OP_CMPLT] = {"(%0<%1)"}, [TG_OP_WHERE] = {"(%0?%1:%2)"}, [TG_OP_CMPEQ] = {"(%0==%1)"},
    [TG_OP_FDIV] = {"(%0/%1)"}, /* not tinygrad's: emitted only where the caps declare FDIV, as plugins/tgc-cuda does */
  },
  .workitem = {"blockIdx.%c", "threadIdx.%c", "(blockIdx.%c*blockDim.%c+threadIdx.%c)"},
  .bitcast = CS_BITCAST_TEMPLATE, .prefix = cuda_prefix,
};

/* ---------------- CUDARenderer.extra_matcher ---------------- */

static tg_uop *alu_via_float(tg_rw *rw, tg_uop *x) { return cs_alu_via_float(rw, x); }
static tg_uop *cmp_via_float(tg_rw *rw, tg_uop *alu, tg_uop *x, tg_uop *y) { return cs_cmp_via_float(rw, alu, x, y); }

#include "renderer/cuda_rules.inc"

static const tg_pm *cuda_extra(void) { return tg_pm_cg_cuda_extra(); }
static char *render_cuda(const tg_renderer *r, tg_uop *const *uops, size_t n, const char *fname) { return cs_render(r->data, uops, n, fname); }
const tg_renderer tg_renderer_cuda = {.dialect = "cuda", .render = render_cuda, .extra_matcher = cuda_extra, .data = &tg_cs_lang_cuda};
