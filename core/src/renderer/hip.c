/* renderer/hip.c -- tinygrad 0.14.0's HIPRenderer (renderer/cstyle.py) as a cs_lang table, for RDNA and CDNA before
** gfx950 (bfloat16 stored as unsigned short, no fp8): amdgpu_flat_work_group_size launch bounds, __ockl_get_* launch
** indices and __ocml_* math declared in the prefix, ext_vector_type vectors with make_ functions, the three-part
** workgroup barrier.
**
** As in the CUDA dialect, a variable parameter is `const long long dataN_` (tgc's vals are int64; tinygrad writes
** `const int`): one 8-byte slot per val for hipModuleLaunchKernel. */
#include "renderer/cstyle.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/cg_util.h"
#include "codegen/passes.h"
#include "renderer/renderer.h"

static const char *const g_nms[] = {"x", "y", "z", "w", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};

static int has_nonfinite_const(const cs_uses *u) {
  for (size_t i = 0; i < u->n; i++) {
    tg_uop *x = u->uops[i];
    if (x->op == TG_OP_CAST && x->src[0]->op == TG_OP_CONST && x->src[0]->arg.kind == TG_ARG_FLOAT && !isfinite(x->src[0]->arg.f)) return 1;
  }
  return 0;
}

static void hip_prefix(tg_sb *o, const cs_lang *L, const cs_uses *u) {
  int special = 0;
  for (size_t i = 0; i < u->n; i++) special |= u->uops[i]->op == TG_OP_SPECIAL;
  if (has_nonfinite_const(u)) tg_sb_puts(o, "#define INFINITY (__builtin_inff())\n#define NAN (__builtin_nanf(\"\"))\n");
  if (special) tg_sb_puts(o, "typedef long unsigned int size_t;\n");
  if (cs_uses_dtype(u, TG_BFLOAT16)) tg_sb_puts(o, "typedef unsigned short hip_bfloat16;\n");
  if (cs_uses_dtype(u, TG_FLOAT16)) tg_sb_puts(o, "#define half _Float16\n");
  if (special) {
    static const char *const ockl[] = {"local_id", "group_id", "local_size"};
    for (int i = 0; i < 3; i++) tg_sb_printf(o, "extern \"C\" __attribute__((device, const)) size_t __ockl_get_%s(unsigned int);\n", ockl[i]);
  }
  /* __ocml_* for each (op, dtype) the program computes, in first-use order */
  static const struct { int op; const char *name, *attr; } ocml[] = {
    {TG_OP_EXP2, "exp2", "pure"}, {TG_OP_LOG2, "log2", "pure"}, {TG_OP_SQRT, "sqrt", "const"}, {TG_OP_SIN, "sin", ""}, {TG_OP_TRUNC, "trunc", ""}};
  for (size_t i = 0; i < u->n; i++) {
    tg_uop *x = u->uops[i];
    int dt = x->dtype, k = -1, seen = 0;
    for (int q = 0; q < 5; q++)
      if (ocml[q].op == x->op) k = q;
    if (k < 0 || (dt != TG_FLOAT16 && dt != TG_FLOAT32 && dt != TG_FLOAT64)) continue;
    for (size_t j = 0; j < i && !seen; j++) seen = u->uops[j]->op == x->op && u->uops[j]->dtype == dt;
    if (seen) continue;
    const char *tn = cs_scalar_name(L, dt);
    tg_sb_printf(o, "extern \"C\" __attribute__((device%s%s)) %s __ocml_%s_f%d(%s);\n", ocml[k].attr[0] ? ", " : "", ocml[k].attr, tn, ocml[k].name,
                 tg_dt_itemsize((tg_dtype)dt) * 8, tn);
  }
  for (int i = 0; i < u->ndts; i++) { /* render_vector_prefix */
    if (u->dts[i].n <= 1) continue;
    int64_t n = u->dts[i].n;
    tg_sb vec = {0};
    vec.grow = 1;
    cs_put_dtype(&vec, L, u->dts[i].dt, n);
    const char *v = vec.buf ? vec.buf : "", *sc = cs_scalar_name(L, u->dts[i].dt);
    tg_sb_printf(o, "typedef %s %s __attribute__((ext_vector_type(%lld)));\nstatic inline __attribute__((device)) %s make_%s(", sc, v, (long long)n, v, v);
    for (int64_t q = 0; q < n; q++) tg_sb_printf(o, "%s%s %s", q ? ", " : "", sc, q < 16 ? g_nms[q] : "v");
    tg_sb_puts(o, ") { return { ");
    for (int64_t q = 0; q < n; q++) tg_sb_printf(o, "%s%s", q ? ", " : "", q < 16 ? g_nms[q] : "v");
    tg_sb_puts(o, " }; }\n");
    free(vec.buf);
  }
  /* the WMMA builtins (RDNA3): a #define for a float accumulator, wrappers for half (which lives in the even lanes of a
  ** half16) and int8 */
  tg_sb seen = {0};
  seen.grow = 1;
  tg_sb_puts(&seen, "|");
  for (size_t i = 0; i < u->n; i++) {
    tg_uop *w = u->uops[i];
    const tg_arg *din = w->op == TG_OP_WMMA ? cg_tuple_item(&w->arg, 1) : NULL;
    if (!din) continue;
    tg_sb nm = {0}, key = {0};
    nm.grow = key.grow = 1;
    cs_wmma_name(&nm, w);
    tg_sb_printf(&key, "|%s|", nm.buf ? nm.buf : "");
    if (seen.buf && key.buf && strstr(seen.buf, key.buf)) { free(nm.buf), free(key.buf); continue; }
    tg_sb_puts(&seen, key.buf ? key.buf + 1 : "");
    if (w->dtype == TG_INT32)
      tg_sb_printf(o, "typedef int wmma_int4 __attribute__((ext_vector_type(4)));\nstatic inline __attribute__((device)) int8 __%s(signed_char16 a, "
                      "signed_char16 b, int8 c) {\n  return __builtin_amdgcn_wmma_i32_16x16x16_iu8_w32(true, __builtin_bit_cast(wmma_int4, a),\n"
                      "    true, __builtin_bit_cast(wmma_int4, b), c, false);\n}\n", nm.buf);
    else if (w->dtype == TG_FLOAT32)
      tg_sb_printf(o, "#define __%s __builtin_amdgcn_wmma_f32_16x16x16_%s_w32\n", nm.buf, din->i == TG_FLOAT16 ? "f16" : "bf16");
    else
      tg_sb_printf(o, "static inline __attribute__((device)) half8 __%s(half16 a, half16 b, half8 c) {\n"
                      "  half16 c_frag = {}; half8 d; for (int n = 0; n < 8; n++) { c_frag[n*2] = c[n]; }\n"
                      "  c_frag = __builtin_amdgcn_wmma_f16_16x16x16_f16_w32(a, b, c_frag, false);\n"
                      "  for (int n = 0; n < 8; n++) { d[n] = c_frag[n*2]; } return d;\n}\n", nm.buf);
    free(nm.buf), free(key.buf);
  }
  free(seen.buf);
}

#define OCML(nm) {"__ocml_" nm "_f32(%0)", "__ocml_" nm "_f64(%0)", "__ocml_" nm "_f16(%0)", "__ocml_" nm "_f32(%0)"}
const cs_lang tg_cs_lang_hip = {
  .name = "hip",
  .kernel_typedef = "extern \"C\" __attribute__((global)) void __attribute__((amdgpu_flat_work_group_size(1, {launch_bounds})))",
  .buffer_prefix = "", .buffer_suffix = "", .smem_prefix = "__attribute__((shared, aligned(16)))", .smem_align = "", .smem_prefix_for_cast = 0,
  .var_prefix = "const ", .var_suffix = "", .var_type = "long long",
  .barrier = "__builtin_amdgcn_fence(__ATOMIC_RELEASE, \"workgroup\");__builtin_amdgcn_s_barrier();__builtin_amdgcn_fence(__ATOMIC_ACQUIRE, \"workgroup\");",
  .infinity = "INFINITY", .nan = "NAN",
  .float4 = "make_float4", .float4_open = "(", .float4_close = ")", .gep_arr_threshold = 4,
  .type_names = {[TG_BFLOAT16] = "hip_bfloat16", [TG_FP8E4M3] = "hip_fp8", [TG_FP8E5M2] = "hip_bf8"},
  .alu = {
    [TG_OP_SQRT] = OCML("sqrt"), [TG_OP_RECIPROCAL] = {"(1/%0)"}, [TG_OP_EXP2] = OCML("exp2"), [TG_OP_LOG2] = OCML("log2"),
    [TG_OP_SIN] = OCML("sin"), [TG_OP_TRUNC] = OCML("trunc"),
    [TG_OP_NEG] = {"-%0"}, [TG_OP_AND] = {"(%0&%1)"}, [TG_OP_XOR] = {"(%0^%1)"}, [TG_OP_OR] = {"(%0|%1)"},
    [TG_OP_ADD] = {"(%0+%1)"}, [TG_OP_SUB] = {"(%0-%1)"}, [TG_OP_MUL] = {"(%0*%1)"}, [TG_OP_CMOD] = {"(%0%%%1)"},
    [TG_OP_CDIV] = {"(%0/%1)"}, [TG_OP_CMPNE] = {"(%0!=%1)"}, [TG_OP_SHR] = {"(%0>>%1)"}, [TG_OP_SHL] = {"(%0<<%1)"},
    [TG_OP_CMPLT] = {"(%0<%1)"}, [TG_OP_WHERE] = {"(%0?%1:%2)"}, [TG_OP_CMPEQ] = {"(%0==%1)"},
  },
  .workitem = {"__ockl_get_group_id(%d)", "__ockl_get_local_id(%d)", "(__ockl_get_group_id(%d)*__ockl_get_local_size(%d)+__ockl_get_local_id(%d))"},
  .bitcast = CS_BITCAST_BUILTIN, .prefix = hip_prefix,
};

/* ---------------- HIPRenderer.extra_matcher ---------------- */

static tg_uop *alu_via_float(tg_rw *rw, tg_uop *x) { return cs_alu_via_float(rw, x); }
static tg_uop *cmp_via_float(tg_rw *rw, tg_uop *alu, tg_uop *x, tg_uop *y) { return cs_cmp_via_float(rw, alu, x, y); }
static tg_uop *cast_float_to_bf16(tg_rw *rw, tg_uop *x) { return cs_cast_float_to_bf16(rw, x); }
/* a bfloat16 constant: cast_float_to_bf16 of the same value as a float32 constant */
static tg_uop *bf16_const(tg_rw *rw, tg_uop *x) {
  tg_uop *f = tg_um_const(TG_FLOAT32, tg_uop_val(x));
  if (!f) return tg_rw_fail(rw);
  tg_uop *r = cs_cast_float_to_bf16(rw, f);
  tg_uop_release(f);
  return r;
}

#include "renderer/hip_rules.inc"

static const tg_pm *hip_extra(void) { return tg_pm_cg_hip_extra(); }
static char *render_hip(const tg_renderer *r, tg_uop *const *uops, size_t n, const char *fname) { return cs_render(r->data, uops, n, fname); }
const tg_renderer tg_renderer_hip = {.dialect = "hip", .render = render_hip, .extra_matcher = hip_extra, .data = &tg_cs_lang_hip};
