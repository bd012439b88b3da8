/* renderer/metal.c -- tinygrad 0.14.0's MetalRenderer (renderer/cstyle.py) as a cs_lang table: `kernel void` with
** device/constant/threadgroup address spaces, gid/lid from the two extra arguments, precise::sin, as_type bit casts and
** metal_stdlib's own vector types. Variables are `constant int& dataN_` as in tinygrad. Simdgroup matrices (tensor
** cores) wait for the engine's TC opt. */
#include "renderer/cstyle.h"

#include <pthread.h>
#include <string.h>

#include "codegen/passes.h"
#include "renderer/renderer.h"

static void metal_prefix(tg_sb *o, const cs_lang *L, const cs_uses *u) {
  (void)L, (void)u;
  tg_sb_puts(o, "#include <metal_stdlib>\nusing namespace metal;\n");
}

const cs_lang tg_cs_lang_metal = {
  .name = "metal",
  .kernel_typedef = "kernel void", .buffer_prefix = "device ", .buffer_suffix = "",
  .smem_prefix = "threadgroup __attribute__((aligned(16))) ", .smem_align = "", .smem_prefix_for_cast = 1,
  .var_prefix = "constant ", .var_suffix = "&",
  .barrier = "threadgroup_barrier(mem_flags::mem_threadgroup);", .infinity = "INFINITY", .nan = "NAN",
  .float4 = "float4", .float4_open = "(", .float4_close = ")", .gep_arr_threshold = 4,
  .type_names = {[TG_UINT32] = "uint", [TG_BFLOAT16] = "bfloat"},
  .alu = {
    [TG_OP_SQRT] = {"sqrt(%0)"}, [TG_OP_RECIPROCAL] = {"(1/%0)"}, [TG_OP_EXP2] = {"exp2(%0)"}, [TG_OP_LOG2] = {"log2(%0)"},
    [TG_OP_SIN] = {"precise::sin(%0)"}, [TG_OP_TRUNC] = {"trunc(%0)"},
    [TG_OP_NEG] = {"-%0"}, [TG_OP_AND] = {"(%0&%1)"}, [TG_OP_XOR] = {"(%0^%1)"}, [TG_OP_OR] = {"(%0|%1)"},
    [TG_OP_ADD] = {"(%0+%1)"}, [TG_OP_SUB] = {"(%0-%1)"}, [TG_OP_MUL] = {"(%0*%1)"}, [TG_OP_CMOD] = {"(%0%%%1)"},
    [TG_OP_CDIV] = {"(%0/%1)"}, [TG_OP_CMPNE] = {"(%0!=%1)"}, [TG_OP_SHR] = {"(%0>>%1)"}, [TG_OP_SHL] = {"(%0<<%1)"},
    [TG_OP_CMPLT] = {"(%0<%1)"}, [TG_OP_WHERE] = {"(%0?%1:%2)"}, [TG_OP_CMPEQ] = {"(%0==%1)"},
  },
  .workitem = {"gid.%c", "lid.%c", NULL},
  .extra_args = "uint3 gid [[threadgroup_position_in_grid]], uint3 lid [[thread_position_in_threadgroup]]",
  .bitcast = CS_BITCAST_AS_TYPE, .prefix = metal_prefix,
};

/* ---------------- MetalRenderer.extra_matcher ---------------- */

static tg_uop *alu_via_float(tg_rw *rw, tg_uop *x) { return cs_alu_via_float(rw, x); }
static tg_uop *cast_float_to_bf16(tg_rw *rw, tg_uop *x) { return cs_cast_float_to_bf16(rw, x); }

#include "renderer/metal_rules.inc"

static const tg_pm *metal_extra(void) { return tg_pm_cg_metal_extra(); }
static char *render_metal(const tg_renderer *r, tg_uop *const *uops, size_t n, const char *fname) { return cs_render(r->data, uops, n, fname); }
const tg_renderer tg_renderer_metal = {.dialect = "metal", .render = render_metal, .extra_matcher = metal_extra, .data = &tg_cs_lang_metal};
