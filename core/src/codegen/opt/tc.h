/* codegen/opt/tc.h -- tinygrad 0.14.0's codegen/opt/tc.py: TensorCore descriptions (dims, threads, elements per thread,
** dtypes, the opts that build the warp, the swizzles) and their helper methods, for CUDA (mma.sync), AMD RDNA3 (WMMA) and
** Metal (simdgroup matrices). A backend declares the tensor cores it
** has in tg_device_caps (dims, threads, elements_per_thread, dtypes); the core keeps the full descriptions, per dialect,
** and picks the one that matches each declared entry. */
#ifndef TG_CODEGEN_OPT_TC_H
#define TG_CODEGEN_OPT_TC_H
#include <stdint.h>

#include "tg_backend.h"

#define CG_TC_MAX_AXES 16
typedef struct cg_tc {
  int dims[3];                 /* N, M, K */
  int threads;
  int ept[3];                  /* elements_per_thread of A, B, C */
  int dtype_in, dtype_out;     /* tg_dtype */
  const char *opts;            /* "u0l0l0l1l1l1u1": pairs of (u|l, dim) */
  const char *swizzle[2][3];   /* (local, upcast, reduce) per operand: space separated names ("r1 r2 l2 l3 l4") */
} cg_tc;

/* axis names are two chars: a letter (l, u, r) and a digit */
typedef struct cg_tc_name { char c[8]; } cg_tc_name;

int cg_tc_nopts(const cg_tc *tc);
int cg_tc_n_reduce(const cg_tc *tc);                              /* len(get_reduce_axes()): log2(K) */
int cg_tc_base_shape_str(const cg_tc *tc, cg_tc_name *out);       /* returns the count */
int cg_tc_base_upcast_axes(const cg_tc *tc, cg_tc_name *out);     /* returns the count */
/* permutes_for_shape_str(shape_str) -> two permutations of n entries each */
int cg_tc_permutes(const cg_tc *tc, const cg_tc_name *shape_str, int n, int64_t perm[2][CG_TC_MAX_AXES]);
const char *cg_tc_dtype_name(int dt);                              /* DType.name: "half", "float", "__bf16", ... */

/* The full descriptions for a declared entry on a dialect ("cuda"), or NULL when the core has none that matches. */
const cg_tc *cg_tc_lookup(const char *dialect, const tg_tensor_core *decl);
/* tinygrad's CUDARenderer.tensor_cores for an arch ("sm_90"): the entries a CUDA backend declares (a static array;
** *n = 0 below sm_75). For the CUDA plugin's caps and the test tools. */
const tg_tensor_core *cg_tc_cuda_caps(const char *arch, uint32_t *n);
/* HIPRenderer.tensor_cores for an arch ("gfx1100"): RDNA3's WMMA; none for the CDNA/RDNA4 archs (not ported) */
const tg_tensor_core *cg_tc_amd_caps(const char *arch, uint32_t *n);
/* MetalRenderer.tensor_cores for an arch ("Apple9"): tc.metal from Apple7 on */
const tg_tensor_core *cg_tc_metal_caps(const char *arch, uint32_t *n);

#endif
