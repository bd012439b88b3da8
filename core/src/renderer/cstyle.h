/* renderer/cstyle.h -- tinygrad 0.14.0's renderer/cstyle.py: the C-family printer (CStyleLanguage._render and
** render_kernel) driven by a per-dialect table, cs_lang, which holds what tinygrad's CStyleLanguage subclasses override:
** language strings (kernel_typedef, smem_prefix, barrier, float4, type_map, ...), code_for_op and code_for_workitem as
** templates, the bit cast spelling, and one hook for render_kernel's prefix (headers, macros, vector types).
**
** Dialects: "c" (ClangRenderer, cstyle.c), "cuda" (CUDARenderer, cuda.c), "hip" (HIPRenderer, hip.c), "metal"
** (MetalRenderer, metal.c). Each file defines its table, its extra_matcher and one tg_renderer (renderer/renderer.h).
**
** The "c" dialect compiles with gcc and clang alike: vectors are __attribute__((vector_size(N))) typedefs, bit casts
** go through __builtin_memcpy, half is _Float16 and bfloat16 is stored as its 16 bits (every bf16 value is widened
** to float before arithmetic by the extra matcher, as tinygrad does for CPUs without native bf16).
** Its kernel shape: tinygrad's function rendered `static`, named NAME_, plus the exported entry
**   void NAME(void *const *bufs, const int64_t *vals, const uint32_t gid[3])
** that passes bufs[i] (globals in slot order), vals[j] (variables in slot order) and gid[0] as core_id. */
#ifndef TG_RENDERER_CSTYLE_H
#define TG_RENDERER_CSTYLE_H
#include <stddef.h>
#include <stdint.h>

#include "helpers.h"
#include "uop/ops.h"
#include "uop/rewrite.h"

/* how a dialect spells a value bit cast (BITCAST outside GLOBAL/LOCAL pointers) */
enum { CS_BITCAST_MEMCPY,   /* "c": ({ S bs_ = (x); T bd_; __builtin_memcpy(&bd_, &bs_, sizeof(bd_)); bd_; }) */
       CS_BITCAST_TEMPLATE, /* CUDA: tg_bitcast<T>((S)(x)) */
       CS_BITCAST_AS_TYPE,  /* Metal: as_type<T>((S)(x)) */
       CS_BITCAST_BUILTIN   /* base_rewrite (HIP): __builtin_bit_cast(T, (S)(x)) */ };

/* ALU template variants: code_for_op's lambdas look at the dtype */
enum { CS_ALU_DEFAULT, CS_ALU_F64, CS_ALU_F16, CS_ALU_BF16, CS_ALU_VARIANTS };

/* uops_to_dtypes: (dtype, max_numel) of every ALU-side value, in first-use order; and the program itself */
typedef struct cs_uses {
  struct { int dt; int64_t n; } dts[64];
  int ndts;
  tg_uop *const *uops;
  size_t n;
} cs_uses;
int cs_uses_dtype(const cs_uses *u, int dt);   /* any (dt, *) in dts */

typedef struct cs_lang cs_lang;
struct cs_lang {
  const char *name;
  const char *kernel_typedef;   /* "{launch_bounds}" is replaced by the product of the local sizes */
  const char *buffer_prefix, *buffer_suffix, *smem_prefix, *smem_align;
  int smem_prefix_for_cast;     /* LOCAL pointer casts carry smem_prefix (tinygrad's default True) */
  const char *var_prefix, *var_suffix;
  const char *var_type;         /* a variable parameter's type in the signature (NULL: its dtype); CUDA: "long long" */
  const char *barrier, *infinity, *nan;
  const char *float4;           /* STACK: "float4" inside it is replaced by the vector type ("make_float4", "(float4)") */
  const char *float4_open, *float4_close;
  int gep_arr_threshold;
  const char *type_names[TG_DT_IDS]; /* type_map (NULL: DType.name) */
  /* code_for_op: "%0 + %1" templates ("%%" is a percent sign); a NULL variant falls back to CS_ALU_DEFAULT */
  const char *alu[TG_OP_COUNT][CS_ALU_VARIANTS];
  /* code_for_workitem for "g", "l", "i": "%c" is the dimension letter ('x' + dim), "%d" its digit */
  const char *workitem[3];
  const char *extra_args;       /* appended to the parameters (Metal's gid/lid), NULL none */
  int bitcast;                  /* CS_BITCAST_* */
  int bf16_bits;                /* bfloat16 literals are their bit pattern (the "c" dialect stores bf16 as ushort) */
  /* render_kernel's prefix: lines written before the kernel, each ending in '\n' (NULL: none) */
  void (*prefix)(tg_sb *out, const cs_lang *L, const cs_uses *u);
  int c_entry;                  /* the "c" dialect's static function + tgc launch entry */
};

/* The table of a dialect by name ("c", "cuda", "hip", "metal"), NULL when there is none. */
const cs_lang *cs_lang_named(const char *dialect);

/* CStyleLanguage.render over a linearized program (uops borrowed). Returns malloc'd source, or NULL with an error.
** fname: the function name (tinygrad's function_name). */
char *cs_render(const cs_lang *L, tg_uop *const *uops, size_t n, const char *fname);

/* _render_dtype(dt, sz, REG) into b, as the dialect names it (vectors: the scalar name with '_' for ' ', then sz) */
void cs_put_dtype(tg_sb *b, const cs_lang *L, int dt, int64_t sz);
const char *cs_scalar_name(const cs_lang *L, int dt);
void cs_wmma_name(tg_sb *b, tg_uop *u);   /* _wmma_name(u): "WMMA_8_16_16_half_float" */

/* rewrite helpers the dialects' extra matchers share (create_non_native_float_pats, cast_float_to_bf16) */
tg_uop *cs_alu_via_float(tg_rw *rw, tg_uop *x);
tg_uop *cs_cmp_via_float(tg_rw *rw, tg_uop *alu, tg_uop *x, tg_uop *y);
tg_uop *cs_cast_float_to_bf16(tg_rw *rw, tg_uop *x);

#endif
