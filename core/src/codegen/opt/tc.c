/* codegen/opt/tc.c -- tinygrad 0.14.0's codegen/opt/tc.py: the NVIDIA tensor cores and the TensorCore helpers
** (base_shape_str, base_upcast_axes, permutes_for_shape_str). */
#include "codegen/opt/tc.h"

#include <stdlib.h>
#include <string.h>

#define CUDA_OPTS "u0l0l0l1l1l1u1" /* cuda_tc_opts, shared by all shapes with M=16 N=8 */

/* https://docs.nvidia.com/cuda/parallel-thread-execution/#warp-level-matrix-multiply-accumulate-instructions */
#define SWZ_81616 {{"r1 r2 l2 l3 l4", "u1 r3", "l0 l1 u0 r0"}, {"r1 r2 u0 l0 l1", "r0 r3", "l2 l3 l4 u1"}}
#define SWZ_81632 {{"r2 r3 l2 l3 l4", "u1 r4", "l0 l1 u0 r0 r1"}, {"r2 r3 u0 l0 l1", "r1 r4", "l2 l3 l4 u1 r0"}}
#define SWZ_8168 {{"r1 r2 l2 l3 l4", "r0 u1", "l0 l1 u0"}, {"r1 r2 u0 l0 l1", "u1 r0", "l2 l3 l4"}}
#define SWZ_TF32 {{"r0 r1 l2 l3 l4", "u1 r2", "l0 l1 u0"}, {"r0 r1 u0 l0 l1", "u1 r2", "l2 l3 l4"}}

static const cg_tc cuda_tcs[] = {
  /* cuda_81616 */
  {{8, 16, 16}, 32, {8, 4, 4}, TG_FLOAT16, TG_FLOAT32, CUDA_OPTS, SWZ_81616},
  {{8, 16, 16}, 32, {8, 4, 4}, TG_BFLOAT16, TG_FLOAT32, CUDA_OPTS, SWZ_81616},
  {{8, 16, 16}, 32, {8, 4, 4}, TG_FLOAT16, TG_FLOAT16, CUDA_OPTS, SWZ_81616},
  /* cuda_8168_f16 */
  {{8, 16, 8}, 32, {4, 2, 4}, TG_FLOAT16, TG_FLOAT32, CUDA_OPTS, SWZ_8168},
  {{8, 16, 8}, 32, {4, 2, 4}, TG_FLOAT16, TG_FLOAT16, CUDA_OPTS, SWZ_8168},
  /* cuda_8168_tf32 */
  {{8, 16, 8}, 32, {4, 2, 4}, TG_FLOAT32, TG_FLOAT32, CUDA_OPTS, SWZ_TF32},
  /* cuda_81632_f8 */
  {{8, 16, 32}, 32, {16, 8, 4}, TG_FP8E4M3, TG_FLOAT32, CUDA_OPTS, SWZ_81632},
  {{8, 16, 32}, 32, {16, 8, 4}, TG_FP8E5M2, TG_FLOAT32, CUDA_OPTS, SWZ_81632},
};

/* ***** AMD RDNA3 (gfx11): https://gpuopen.com/learn/wmma_on_rdna3/ ***** */
#define RDNA3_OPTS "l0l0l0l0l1u1u1u1"
#define SWZ_RDNA3 {{"l4 u0 u1 u2 l0", "r1 r2 r3", "l1 l2 l3 r0"}, {"l0 l1 l2 l3 l4", "r1 r2 r3", "u0 u1 u2 r0"}}
static const cg_tc amd_rdna3_tcs[] = {
  {{16, 16, 16}, 32, {16, 16, 8}, TG_FLOAT16, TG_FLOAT32, RDNA3_OPTS, SWZ_RDNA3},
  {{16, 16, 16}, 32, {16, 16, 8}, TG_FLOAT16, TG_FLOAT16, RDNA3_OPTS, SWZ_RDNA3},
  {{16, 16, 16}, 32, {16, 16, 8}, TG_BFLOAT16, TG_FLOAT32, RDNA3_OPTS, SWZ_RDNA3},
  {{16, 16, 16}, 32, {16, 16, 8}, TG_INT8, TG_INT32, RDNA3_OPTS, SWZ_RDNA3},
};

/* ***** Apple Metal: simdgroup 8x8 matrices ***** */
#define METAL_OPTS "u0l0l1l1l0l1"
#define SWZ_METAL {{"r1 l1 l2 r2 l4", "r0", "u0 l0 l3"}, {"l0 r0 r1 l3 r2", "u0", "l1 l2 l4"}}
static const cg_tc metal_tcs[] = {
  {{8, 8, 8}, 32, {2, 2, 2}, TG_FLOAT32, TG_FLOAT32, METAL_OPTS, SWZ_METAL},
  {{8, 8, 8}, 32, {2, 2, 2}, TG_FLOAT16, TG_FLOAT32, METAL_OPTS, SWZ_METAL},
  {{8, 8, 8}, 32, {2, 2, 2}, TG_FLOAT16, TG_FLOAT16, METAL_OPTS, SWZ_METAL},
  {{8, 8, 8}, 32, {2, 2, 2}, TG_BFLOAT16, TG_FLOAT32, METAL_OPTS, SWZ_METAL},
  {{8, 8, 8}, 32, {2, 2, 2}, TG_BFLOAT16, TG_BFLOAT16, METAL_OPTS, SWZ_METAL},
};

#define D(n, m, k, a, b, c, di, do_) {sizeof(tg_tensor_core), {n, m, k}, 32, {a, b, c}, di, do_}
#define D81616(di, do_) D(8, 16, 16, 8, 4, 4, di, do_)
#define D8168(di, do_) D(8, 16, 8, 4, 2, 4, di, do_)
#define D81632(di, do_) D(8, 16, 32, 16, 8, 4, di, do_)
/* CUDARenderer.tensor_cores = get_cuda(arch): cuda_sm75 = 8168_f16; cuda_sm80 = 81616 + 8168_f16 + 8168_tf32;
** cuda_sm89 = cuda_sm80 + 81632_f8 */
static const tg_tensor_core sm75[] = {D8168(TG_FLOAT16, TG_FLOAT32), D8168(TG_FLOAT16, TG_FLOAT16)};
static const tg_tensor_core sm89[] = {
  D81616(TG_FLOAT16, TG_FLOAT32), D81616(TG_BFLOAT16, TG_FLOAT32), D81616(TG_FLOAT16, TG_FLOAT16),
  D8168(TG_FLOAT16, TG_FLOAT32), D8168(TG_FLOAT16, TG_FLOAT16), D8168(TG_FLOAT32, TG_FLOAT32),
  D81632(TG_FP8E4M3, TG_FLOAT32), D81632(TG_FP8E5M2, TG_FLOAT32)};

const tg_tensor_core *cg_tc_cuda_caps(const char *arch, uint32_t *n) {
  int ver = arch && !strncmp(arch, "sm_", 3) ? atoi(arch + 3) : 0;
  *n = ver >= 89 ? 8 : ver >= 80 ? 6 : ver >= 75 ? 2 : 0;
  return ver >= 80 ? sm89 : ver >= 75 ? sm75 : NULL;
}

#define DM(di, do_) {sizeof(tg_tensor_core), {8, 8, 8}, 32, {2, 2, 2}, di, do_}
static const tg_tensor_core metal_decl[] = {DM(TG_FLOAT32, TG_FLOAT32), DM(TG_FLOAT16, TG_FLOAT32), DM(TG_FLOAT16, TG_FLOAT16),
                                            DM(TG_BFLOAT16, TG_FLOAT32), DM(TG_BFLOAT16, TG_BFLOAT16)};

#define DA(di, do_) {sizeof(tg_tensor_core), {16, 16, 16}, 32, {16, 16, 8}, di, do_}
static const tg_tensor_core rdna3_decl[] = {DA(TG_FLOAT16, TG_FLOAT32), DA(TG_FLOAT16, TG_FLOAT16), DA(TG_BFLOAT16, TG_FLOAT32),
                                            DA(TG_INT8, TG_INT32)};

/* HIPRenderer.tensor_cores = get_amd(arch), of which the core has RDNA3's (every arch but gfx942/gfx950/gfx1200/gfx1201) */
const tg_tensor_core *cg_tc_amd_caps(const char *arch, uint32_t *n) {
  static const char *const other[] = {"gfx942", "gfx950", "gfx1200", "gfx1201"};
  int ok = arch && *arch;
  for (int i = 0; i < 4 && ok; i++) ok = strcmp(arch, other[i]) != 0; /* get_amd looks the whole arch string up */
  *n = ok ? 4 : 0;
  return ok ? rdna3_decl : NULL;
}

/* MetalRenderer.tensor_cores: tc.metal on AppleN with N >= 7 */
const tg_tensor_core *cg_tc_metal_caps(const char *arch, uint32_t *n) {
  int ok = arch && !strncmp(arch, "Apple", 5) && atoi(arch + 5) >= 7;
  *n = ok ? 5 : 0;
  return ok ? metal_decl : NULL;
}

const cg_tc *cg_tc_lookup(const char *dialect, const tg_tensor_core *d) {
  int cuda = !strcmp(dialect, "cuda"), metal = !strcmp(dialect, "metal"), hip = !strcmp(dialect, "hip");
  if ((!cuda && !metal && !hip) || d->struct_size < sizeof *d) return NULL;
  const cg_tc *tab = cuda ? cuda_tcs : metal ? metal_tcs : amd_rdna3_tcs;
  size_t n = cuda ? sizeof cuda_tcs / sizeof cuda_tcs[0] : metal ? sizeof metal_tcs / sizeof metal_tcs[0] : sizeof amd_rdna3_tcs / sizeof amd_rdna3_tcs[0];
  for (size_t i = 0; i < n; i++) {
    const cg_tc *t = &tab[i];
    int ok = t->threads == (int)d->threads && t->dtype_in == (int)d->dtype_in && t->dtype_out == (int)d->dtype_out;
    for (int k = 0; k < 3; k++) ok &= t->dims[k] == (int)d->dims[k] && t->ept[k] == (int)d->elements_per_thread[k];
    if (ok) return t;
  }
  return NULL;
}

/* ---------------- TensorCore's helper methods ---------------- */

int cg_tc_nopts(const cg_tc *tc) { return (int)strlen(tc->opts) / 2; }
int cg_tc_n_reduce(const cg_tc *tc) {
  int n = 0;
  for (int k = tc->dims[2]; k > 1; k >>= 1) n++;
  return n;
}
static cg_tc_name nm(char c, int i) { cg_tc_name r = {{c, (char)('0' + i), 0}}; return r; }

int cg_tc_base_shape_str(const cg_tc *tc, cg_tc_name *out) {
  int cnt_u = 0, cnt_l = 0, n = 0;
  for (int i = 0; i < cg_tc_nopts(tc); i++) {
    char c = tc->opts[2 * i];
    out[n++] = nm(c, c == 'u' ? cnt_u++ : cnt_l++);
  }
  for (int i = 0; i < cg_tc_n_reduce(tc); i++) out[n++] = nm('r', i);
  return n;
}

int cg_tc_base_upcast_axes(const cg_tc *tc, cg_tc_name *out) { /* (r0.. + u0..)[::-1] */
  cg_tc_name t[CG_TC_MAX_AXES];
  int n = 0, nu = 0;
  for (int i = 0; i < cg_tc_nopts(tc); i++) nu += tc->opts[2 * i] == 'u';
  for (int i = 0; i < cg_tc_n_reduce(tc); i++) t[n++] = nm('r', i);
  for (int i = 0; i < nu; i++) t[n++] = nm('u', i);
  for (int i = 0; i < n; i++) out[i] = t[n - 1 - i];
  return n;
}

static int split_names(const char *s, cg_tc_name *out, int n) {
  for (; *s; s++) {
    if (*s == ' ') continue;
    out[n++] = nm(s[0], s[1] - '0');
    s++;
  }
  return n;
}

int cg_tc_permutes(const cg_tc *tc, const cg_tc_name *shape_str, int n, int64_t perm[2][CG_TC_MAX_AXES]) {
  int nl = 0, nu = 0, nr = cg_tc_n_reduce(tc);
  for (int i = 0; i < cg_tc_nopts(tc); i++) {
    if (tc->opts[2 * i] == 'l') nl++;
    else nu++;
  }
  cg_tc_name fwd[CG_TC_MAX_AXES];
  int nf = 0;
  for (int i = 0; i < nl; i++) fwd[nf++] = nm('l', i);
  for (int i = 0; i < nu; i++) fwd[nf++] = nm('u', i);
  for (int i = 0; i < nr; i++) fwd[nf++] = nm('r', i);
  for (int s = 0; s < 2; s++) {
    cg_tc_name to[CG_TC_MAX_AXES];
    int nt = 0;
    for (int p = 0; p < 3; p++) nt = split_names(tc->swizzle[s][p], to, nt);
    if (nt != nf) return -1;
    for (int i = 0; i < n; i++) {
      perm[s][i] = i;
      for (int f = 0; f < nf; f++) {
        if (strcmp(fwd[f].c, shape_str[i].c) != 0) continue;
        for (int j = 0; j < n; j++)
          if (!strcmp(shape_str[j].c, to[f].c)) { perm[s][i] = j; break; }
        break;
      }
    }
  }
  return 0;
}

const char *cg_tc_dtype_name(int dt) {
  switch (dt) {
  case TG_FLOAT16: return "half";
  case TG_BFLOAT16: return "__bf16";
  case TG_FLOAT32: return "float";
  case TG_FP8E4M3: return "float8_e4m3";
  case TG_FP8E5M2: return "float8_e5m2";
  case TG_INT8: return "signed char";
  case TG_INT32: return "int";
  default: return "?";
  }
}
