/* renderer/metal.c -- tinygrad 0.14.0's MetalRenderer (renderer/cstyle.py) as a cs_lang table: `kernel void` with
** device/constant/threadgroup address spaces, gid/lid from the two extra arguments, precise::sin, as_type bit casts and
** metal_stdlib's own vector types. Variables are `constant int& dataN_` as in tinygrad. Tensor cores are simdgroup 8x8
** matrices (the __WMMA_ prefix functions). */
#include "renderer/cstyle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_util.h"
#include "codegen/passes.h"
#include "renderer/renderer.h"

/* render_kernel's prefix: the headers, then one __WMMA_ function per distinct (name, dtype_in, dtype_out) over simdgroup
** 8x8 matrices, each thread holding two elements of a, b and c */
static void metal_prefix(tg_sb *o, const cs_lang *L, const cs_uses *u) {
  tg_sb_puts(o, "#include <metal_stdlib>\nusing namespace metal;\n");
  tg_sb seen = {0};
  seen.grow = 1;
  tg_sb_puts(&seen, "|");
  for (size_t i = 0; i < u->n; i++) {
    tg_uop *w = u->uops[i];
    const tg_arg *din = w->op == TG_OP_WMMA ? cg_tuple_item(&w->arg, 1) : NULL;
    if (!din) continue;
    tg_sb nm = {0};
    nm.grow = 1;
    cs_wmma_name(&nm, w);
    tg_sb key = {0};
    key.grow = 1;
    tg_sb_printf(&key, "|%s,%d,%d|", nm.buf ? nm.buf : "", (int)din->i, w->dtype);
    if (seen.buf && key.buf && strstr(seen.buf, key.buf)) { free(nm.buf), free(key.buf); continue; }
    tg_sb_puts(&seen, key.buf ? key.buf + 1 : "");
    tg_sb dout = {0}, dinv = {0};
    dout.grow = dinv.grow = 1;
    cs_put_dtype(&dout, L, w->dtype, 2), cs_put_dtype(&dinv, L, (int)din->i, 2);
    const char *sin = cs_scalar_name(L, (int)din->i), *sout = cs_scalar_name(L, w->dtype);
    tg_sb_printf(o, "%s __%s(%s a, %s b, %s c){\n", dout.buf, nm.buf, dinv.buf, dinv.buf, dout.buf);
    tg_sb_printf(o, "  simdgroup_%s8x8 mat_a, mat_b; simdgroup_%s8x8 mat_c;\n", sin, sout);
    tg_sb_puts(o, "  mat_a.thread_elements()[0] = a[0]; mat_b.thread_elements()[0] = b[0]; mat_c.thread_elements()[0] = c[0];\n");
    tg_sb_puts(o, "  mat_a.thread_elements()[1] = a[1]; mat_b.thread_elements()[1] = b[1]; mat_c.thread_elements()[1] = c[1];\n");
    tg_sb_printf(o, "  simdgroup_multiply_accumulate(mat_c, mat_a, mat_b, mat_c);\n  return %s(mat_c.thread_elements()[0], mat_c.thread_elements()[1]);\n}\n", dout.buf);
    free(nm.buf), free(key.buf), free(dout.buf), free(dinv.buf);
  }
  free(seen.buf);
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
