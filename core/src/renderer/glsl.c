/* renderer/glsl.c -- the "glsl" dialect: GLSL 4.50 compute shaders for Vulkan, in the form tgc-vulkan's README defines
** (std430 storage buffer `binding = i` per launch buffer, the vals as one push-constant block of int64_t, entry `main`,
** the workgroup size from specialization constants 0..2). tinygrad 0.14.0 has no GLSL renderer; this is its
** CStyleLanguage._render (one line per UOp that needs a name, single-use values inlined) with a GLSL table, written the
** way WGSLRenderer (renderer/wgsl.py) adapts it to a language without pointers:
**   - buffers are arrays indexed as data0[i] (INDEX), never pointers; bool is stored as uint8_t (std430 has no 1-byte
**     bool), converted on load and store;
**   - types are GLSL's: int/uint/float/double, and int8_t..uint64_t, float16_t behind GL_EXT_shader_explicit_arithmetic_types
**     and the 8/16-bit storage extensions where a buffer holds them; casts are constructors T(x); bit casts are
**     floatBitsToUint-style built-ins;
**   - SPECIAL gidx/lidx read gl_WorkGroupID/gl_LocalInvocationID (idx: gl_GlobalInvocationID);
**   - shared buffers are declared at global scope (GLSL has no function-local shared arrays), barrier() syncs them;
**   - signed CMOD goes through tg_rem(), since GLSL's % is OpSMod (sign of the divisor) where tinygrad's CMOD is C's
**     remainder (sign of the dividend); and Vulkan leaves OpSMod/OpSRem undefined for negative operands without
**     VK_KHR_maintenance8 (NVIDIA computes them unsigned: see wgsl.c's tg_rem), where tg_rem's OpSDiv is defined;
**   - float `a < b ? b : a` selects (MAX) get an integer NaN test on the bits (glsl.rules: NVIDIA fuses the bare select into
**     fmax, which drops NaN).
** Vectors are not rendered: the devices declare vector_width 1, so the codegen devectorizes everything. bfloat16 and the
** fp8s have no GLSL type and are refused with the dtype named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "renderer/renderer.h"

static const char *const g_type[TG_DTYPE_COUNT] = {
  [TG_BOOL] = "bool", [TG_INT8] = "int8_t", [TG_UINT8] = "uint8_t", [TG_INT16] = "int16_t", [TG_UINT16] = "uint16_t",
  [TG_INT32] = "int", [TG_UINT32] = "uint", [TG_INT64] = "int64_t", [TG_UINT64] = "uint64_t", [TG_FLOAT16] = "float16_t",
  [TG_FLOAT32] = "float", [TG_FLOAT64] = "double",
};

/* ---------------- the printer's state ---------------- */

typedef struct gstate {
  tg_ptrset idx;   /* uop -> index + 1 into names */
  char **names;
  size_t nn, cap;
  int failed;
  uint32_t used;   /* bit per dtype that appears in a value or buffer */
  uint32_t stored; /* bit per element dtype of a storage buffer (bool counted as uint8) */
  uint32_t rem;    /* bit per signed dtype whose CMOD needs tg_rem */
  tg_sb shared;    /* the shared-memory declarations, at global scope */
} gstate;

static const char *R(gstate *s, tg_uop *u) {
  uint64_t *i = tg_ptrset_get(&s->idx, u);
  if (!i) { s->failed = 1; tg_err(TG_ERR_INTERNAL, "render glsl: %s used before it was rendered", tg_op_name((tg_op)u->op)); return "?"; }
  return s->names[*i - 1];
}
static void oom(gstate *s) {
  if (!s->failed) tg_err(TG_ERR_OUT_OF_MEMORY, "render glsl: out of memory");
  s->failed = 1;
}
static void setname(gstate *s, tg_uop *u, char *str) { /* takes str */
  if (!str) { oom(s); return; }
  uint64_t *i = tg_ptrset_get(&s->idx, u);
  if (i) { free(s->names[*i - 1]); s->names[*i - 1] = str; return; }
  if (s->nn == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 256;
    char **n = realloc(s->names, nc * sizeof *n);
    if (!n) { free(str); oom(s); return; }
    s->names = n, s->cap = nc;
  }
  s->names[s->nn++] = str;
  if (!tg_ptrset_put(&s->idx, u, s->nn)) oom(s);
}
static char *sb_take(tg_sb *b) {
  if (b->failed) { free(b->buf); return NULL; }
  return b->buf ? b->buf : strdup("");
}
static tg_sb sb_new(void) { tg_sb b = {0}; b.grow = 1; return b; }

static int64_t numel(tg_uop *u) { return cg_has_shape(u) ? cg_max_numel(u) : 1; }

/* the GLSL name of a scalar dtype; NULL (error set) for the ones GLSL lacks */
static const char *tname(gstate *s, int dt) {
  if (dt >= 0 && dt < TG_DTYPE_COUNT && g_type[dt]) {
    s->used |= 1u << dt;
    return g_type[dt];
  }
  if (!s->failed)
    cg_err(TG_ERR_UNSUPPORTED, "render glsl: GLSL has no %s type (glslang has no bfloat16 or fp8); the device cannot run this kernel",
           tg_dt_name((tg_dtype)dt));
  s->failed = 1;
  return "?";
}
/* Every float value and buffer is `precise` (SPIR-V NoContraction): a driver may otherwise fuse a*b+c into an fma, which
** breaks the exact products of tinygrad's range reductions (sin near 5*pi was 4096 ULP off on lavapipe) and makes
** results differ from the CPU's. glslang carries precise back to every operation that contributes to the value. */
static const char *precise(int dt) { return tg_dt_is_float((tg_dtype)dt) ? "precise " : ""; }
static int is_signed_int(int dt) { return tg_dt_is_int((tg_dtype)dt) && !tg_dt_is_unsigned((tg_dtype)dt); }
static int is_global_bool(tg_uop *index) { return index->dtype == TG_BOOL && cg_addrspace(index->src[0]) == CG_AS_GLOBAL; }

/* ---------------- constants ---------------- */

static void put_float_lit(tg_sb *b, gstate *s, int dt, double f) {
  if (!isfinite(f)) { /* inf and nan as bit patterns: GLSL has no literal for them */
    const char *bits = isnan(f) ? "0x7fc00000u" : f < 0 ? "0xff800000u" : "0x7f800000u";
    if (dt == TG_FLOAT32) tg_sb_printf(b, "uintBitsToFloat(%s)", bits);
    else tg_sb_printf(b, "%s(uintBitsToFloat(%s))", tname(s, dt), bits);
    return;
  }
  char num[64];
  tg_sb nb = tg_sb_fixed(num, sizeof num);
  tg_float_repr(f, &nb);
  const char *open = num[0] == '-' ? "(" : "", *close = num[0] == '-' ? ")" : "";
  if (dt == TG_FLOAT64) tg_sb_printf(b, "%s%slf%s", open, num, close);
  else if (dt == TG_FLOAT16) tg_sb_printf(b, "%s(%s)", tname(s, dt), num);
  else tg_sb_printf(b, "%s%s%s", open, num, close);
}

static void render_const(tg_sb *b, gstate *s, int dt, tg_num v) {
  if (tg_dt_is_float((tg_dtype)dt)) {
    if (dt == TG_FLOAT16 || dt == TG_FLOAT32 || dt == TG_FLOAT64) put_float_lit(b, s, dt, tg_num_as_f(v));
    else tname(s, dt); /* bfloat16, fp8: refused */
    return;
  }
  if (dt == TG_BOOL) { tg_sb_puts(b, tg_num_truthy(v) ? "true" : "false"); return; }
  tg_num t;
  if (v.kind == TG_NUM_FLOAT) v = tg_num_i((int64_t)v.f);
  if (tg_num_truncate(dt, v, &t)) t = v;
  long long i = (long long)t.i;
  unsigned long long u = (unsigned long long)t.i;
  switch (dt) {
  case TG_INT32:
    if (i == INT32_MIN) tg_sb_puts(b, "(-2147483647-1)");
    else tg_sb_printf(b, i < 0 ? "(%lld)" : "%lld", i);
    return;
  case TG_UINT32: tg_sb_printf(b, "%lluu", u & 0xffffffffull); return;
  case TG_INT64:
    if (i == INT64_MIN) tg_sb_puts(b, "(-9223372036854775807l-1l)");
    else tg_sb_printf(b, i < 0 ? "(%lldl)" : "%lldl", i);
    return;
  case TG_UINT64: tg_sb_printf(b, "%lluul", u); return;
  case TG_INT8: case TG_INT16: tg_sb_printf(b, "%s(%lld)", tname(s, dt), i); return;
  case TG_UINT8: case TG_UINT16: tg_sb_printf(b, "%s(%lluu)", tname(s, dt), u); return;
  default: tname(s, dt); return;
  }
}

/* ---------------- casts ---------------- */

/* BITCAST between dtypes of one size: integers convert bit for bit; floats go through the built-ins */
static void put_bitcast(tg_sb *b, gstate *s, tg_uop *u) {
  int to = u->dtype, from = u->src[0]->dtype, bits = tg_dt_bitsize((tg_dtype)to);
  const char *x = R(s, u->src[0]), *tt = tname(s, to), *ft = tname(s, from);
  if (s->failed) return;
  int tf = tg_dt_is_float((tg_dtype)to), ff = tg_dt_is_float((tg_dtype)from);
  if (bits != tg_dt_bitsize((tg_dtype)from) || to == TG_BOOL || from == TG_BOOL || (tf && ff && to != from)) {
    s->failed = 1;
    cg_err(TG_ERR_UNSUPPORTED, "render glsl: no bit cast from %s to %s", tg_dt_name((tg_dtype)from), tg_dt_name((tg_dtype)to));
    return;
  }
  const char *f2u = bits == 16 ? "float16BitsToUint16" : bits == 32 ? "floatBitsToUint" : "doubleBitsToUint64";
  const char *u2f = bits == 16 ? "uint16BitsToFloat16" : bits == 32 ? "uintBitsToFloat" : "uint64BitsToDouble";
  const char *ut = bits == 8 ? "uint8_t" : bits == 16 ? "uint16_t" : bits == 32 ? "uint" : "uint64_t";
  if (tf == ff) tg_sb_printf(b, "%s(%s)", tt, x);                  /* int <-> int of one size (or a no-op) */
  else if (ff) tg_sb_printf(b, "%s(%s(%s))", tt, f2u, x);          /* float -> int */
  else tg_sb_printf(b, "%s(%s(%s))", u2f, ut, x);                  /* int -> float */
  (void)ft;
}

/* ---------------- ALU ---------------- */

static void put_operand(tg_sb *b, gstate *s, tg_uop *x, tg_uop *v) {
  const char *r = R(s, v);
  size_t n = strlen(r);
  int strip = v->op == x->op && (x->op == TG_OP_ADD || x->op == TG_OP_MUL || x->op == TG_OP_XOR || x->op == TG_OP_OR || x->op == TG_OP_AND) &&
              x->dtype != TG_BOOL && n >= 2 && r[0] == '(' && r[n - 1] == ')';
  if (strip) { /* (a+b)+c -> a+b+c, only when the outer parentheses enclose the whole */
    int d = 0;
    for (size_t i = 1; i + 1 < n && strip; i++) d += r[i] == '(' ? 1 : r[i] == ')' ? -1 : 0, strip = d >= 0;
    strip = strip && d == 0;
  }
  if (strip) tg_sb_putn(b, r + 1, n - 2);
  else tg_sb_puts(b, r);
}

static void render_alu(tg_sb *b, gstate *s, tg_uop *x) {
  int dt = x->dtype, sdt = x->src[0]->dtype, lb = sdt == TG_BOOL;
  const char *fmt = NULL;
  switch ((tg_op)x->op) {
  case TG_OP_NEG: fmt = lb ? "(!%0)" : "(-%0)"; break;
  case TG_OP_SQRT: fmt = "sqrt(%0)"; break;
  case TG_OP_TRUNC: fmt = "trunc(%0)"; break;
  case TG_OP_EXP2: fmt = "exp2(%0)"; break;
  case TG_OP_LOG2: fmt = "log2(%0)"; break;
  case TG_OP_SIN: fmt = "sin(%0)"; break;
  case TG_OP_RECIPROCAL:
    tg_sb_puts(b, "(");
    put_float_lit(b, s, dt, 1.0);
    tg_sb_printf(b, "/%s)", R(s, x->src[0]));
    return;
  case TG_OP_ADD: fmt = lb ? "(%0||%1)" : "(%0+%1)"; break;
  case TG_OP_SUB: fmt = lb ? "(%0!=%1)" : "(%0-%1)"; break;
  case TG_OP_MUL: fmt = lb ? "(%0&&%1)" : "(%0*%1)"; break;
  case TG_OP_FDIV: case TG_OP_CDIV: fmt = "(%0/%1)"; break;
  case TG_OP_CMOD:
    if (tg_dt_is_float((tg_dtype)dt) || lb) break;
    if (is_signed_int(dt)) s->rem |= 1u << dt, fmt = "tg_rem(%0,%1)";
    else fmt = "(%0%%%1)";
    break;
  case TG_OP_MAX: fmt = lb ? "(%0||%1)" : "max(%0,%1)"; break;
  case TG_OP_SHL: fmt = "(%0<<%1)"; break;
  case TG_OP_SHR: fmt = "(%0>>%1)"; break;
  case TG_OP_CMPLT: fmt = lb ? "(!%0&&%1)" : "(%0<%1)"; break;
  case TG_OP_CMPNE: fmt = "(%0!=%1)"; break;
  case TG_OP_CMPEQ: fmt = "(%0==%1)"; break;
  case TG_OP_AND: fmt = lb ? "(%0&&%1)" : "(%0&%1)"; break;
  case TG_OP_OR: fmt = lb ? "(%0||%1)" : "(%0|%1)"; break;
  case TG_OP_XOR: fmt = lb ? "(%0^^%1)" : "(%0^%1)"; break;
  case TG_OP_WHERE: fmt = "(%0?%1:%2)"; break;
  default: break;
  }
  if (!fmt) {
    s->failed = 1;
    cg_err(TG_ERR_UNSUPPORTED, "render glsl: no %s for %s", tg_op_name((tg_op)x->op), tg_dt_name((tg_dtype)dt));
    return;
  }
  for (const char *p = fmt; *p; p++) {
    if (*p == '%' && p[1] == '%') { tg_sb_putn(b, "%", 1); p++; continue; }
    if (*p == '%' && p[1] >= '0' && p[1] <= '2' && (uint32_t)(p[1] - '0') < x->nsrc) { put_operand(b, s, x, x->src[p[1] - '0']); p++; continue; }
    tg_sb_putn(b, p, 1);
  }
}

/* ---------------- one UOp ---------------- */

static void put_index(tg_sb *b, gstate *s, tg_uop *buf, tg_uop *idx) {
  int wide = tg_dt_bitsize((tg_dtype)idx->dtype) > 32; /* GLSL indexes with 32-bit integers; buffers hold < 2^32 items */
  tg_sb_printf(b, "%s[%s%s%s]", R(s, buf), wide ? "uint(" : "", R(s, idx), wide ? ")" : "");
}

/* the line (or inline expression) of one UOp; NULL when it cannot be rendered */
static char *render_uop(gstate *s, tg_uop *u) {
  tg_sb b = sb_new();
  switch ((tg_op)u->op) {
  case TG_OP_BUFFER: {
    int as = cg_addrspace(u);
    tg_sb *d = as == CG_AS_LOCAL ? &s->shared : &b;
    tg_sb_printf(d, "%s%s%s %s[%lld];%s", precise(u->dtype), as == CG_AS_LOCAL ? "shared " : "", tname(s, u->dtype), R(s, u),
                 (long long)numel(u), as == CG_AS_LOCAL ? "\n" : "");
    break;
  }
  case TG_OP_RANGE:
    if (u->dtype == TG_DT_VOID) { tg_sb_puts(&b, "for (;;) {"); break; }
    tg_sb_printf(&b, "for (%s %s = ", tname(s, u->dtype), R(s, u));
    render_const(&b, s, u->dtype, tg_num_i(0));
    tg_sb_printf(&b, "; %s < %s; %s++) {", R(s, u), R(s, u->src[0]), R(s, u));
    break;
  case TG_OP_END:
    if (u->nsrc == 3 && u->src[1]->op == TG_OP_RANGE && u->src[2]->dtype == TG_BOOL) tg_sb_printf(&b, "  if (!(%s)) { break; }\n}", R(s, u->src[2]));
    else tg_sb_puts(&b, "}");
    break;
  case TG_OP_ENDIF: tg_sb_puts(&b, "}"); break;
  case TG_OP_IF: tg_sb_printf(&b, "if (%s) {", R(s, u->src[0])); break;
  case TG_OP_BARRIER: tg_sb_puts(&b, "barrier();"); break;
  case TG_OP_SPECIAL: {
    const char *a = u->arg.kind == TG_ARG_STR ? u->arg.s : "";
    size_t n = strlen(a);
    int dim = n ? a[n - 1] - '0' : -1;
    const char *v = !strncmp(a, "gidx", 4) ? "gl_WorkGroupID" : !strncmp(a, "lidx", 4) ? "gl_LocalInvocationID"
                    : !strncmp(a, "idx", 3) ? "gl_GlobalInvocationID" : NULL;
    if (!v || dim < 0 || dim > 2) {
      s->failed = 1;
      cg_err(TG_ERR_UNSUPPORTED, "render glsl: unknown launch index SPECIAL %s", a);
      break;
    }
    tg_sb_printf(&b, "%s(%s.%c)", tname(s, u->dtype), v, "xyz"[dim]);
    break;
  }
  case TG_OP_CAST:
    if (u->src[0]->op == TG_OP_CONST) { render_const(&b, s, u->dtype, tg_uop_val(u->src[0])); break; }
    { const char *st = tname(s, u->src[0]->dtype); (void)st; } /* refuses a source GLSL has no type for */
    tg_sb_printf(&b, "%s(%s)", tname(s, u->dtype), R(s, u->src[0]));
    break;
  case TG_OP_BITCAST: put_bitcast(&b, s, u); break;
  case TG_OP_INDEX: case TG_OP_SHRINK:
    if (u->nsrc != 2) { s->failed = 1; cg_err(TG_ERR_UNSUPPORTED, "render glsl: INDEX with %u sources", u->nsrc); break; }
    if (u->dtype != u->src[0]->dtype) {
      s->failed = 1;
      cg_err(TG_ERR_UNSUPPORTED, "render glsl: a %s view of a %s buffer (GLSL buffers have one element type)", tg_dt_name((tg_dtype)u->dtype),
             tg_dt_name((tg_dtype)u->src[0]->dtype));
      break;
    }
    put_index(&b, s, u->src[0], u->src[1]);
    break;
  case TG_OP_LOAD: {
    int gb = is_global_bool(u->src[0]);
    if (u->nsrc == 3) tg_sb_printf(&b, "(%s?", R(s, u->src[2]));
    tg_sb_printf(&b, gb ? "bool(%s)" : "%s", R(s, u->src[0]));
    if (u->nsrc == 3) tg_sb_printf(&b, ":%s)", R(s, u->src[1]));
    break;
  }
  case TG_OP_STORE:
    tg_sb_printf(&b, is_global_bool(u->src[0]) ? "%s = uint8_t(%s);" : "%s = %s;", R(s, u->src[0]), R(s, u->src[1]));
    break;
  case TG_OP_STACK:
    s->failed = 1;
    cg_err(TG_ERR_UNSUPPORTED, "render glsl: a vector of %u %s (the glsl dialect renders scalars only: vector_width 1)", u->nsrc,
           tg_dt_name((tg_dtype)u->dtype));
    break;
  case TG_OP_CUSTOM: case TG_OP_CUSTOMI: {
    const char *f = u->arg.kind == TG_ARG_STR ? u->arg.s : "";
    size_t k = 0;
    for (const char *p = f; *p; p++) {
      if (p[0] == '{' && p[1] == '}') { tg_sb_puts(&b, k < u->nsrc ? R(s, u->src[k]) : ""); k++, p++; }
      else tg_sb_putn(&b, p, 1);
    }
    break;
  }
  default:
    if (tg_opset_has(TG_GROUP_ALU, (tg_op)u->op)) { render_alu(&b, s, u); break; }
    s->failed = 1;
    cg_err(TG_ERR_UNSUPPORTED, "render glsl: cannot render %s %s", tg_op_name((tg_op)u->op), tg_dt_name((tg_dtype)u->dtype));
  }
  if (s->failed) { free(b.buf); return NULL; }
  char *r = sb_take(&b);
  if (!r) oom(s);
  return r;
}

/* ---------------- the extra matcher (glsl.rules) ---------------- */

/* !is_nan(a) on the float32 bits: float16/float64 are converted first (NaN stays NaN, inf stays inf, a finite double too large
** for float becomes inf), so the test needs no 16- or 64-bit integers */
static tg_uop *not_nan_bits(tg_rw *rw, tg_uop *a) {
  if (a->dtype == TG_FLOAT32) return tg_render_nan_check(rw, a, 1);
  tg_uop *f = tg_um_cast(a, TG_FLOAT32);
  if (!f) return tg_rw_fail(rw);
  tg_uop *r = tg_render_nan_check(rw, f, 1);
  tg_uop_release(f);
  return r;
}

#include "renderer/glsl_rules.inc"

static const tg_pm *glsl_extra(void) { return tg_pm_cg_glsl_extra(); }

/* ---------------- the kernel ---------------- */

static int gate_not_end(tg_uop *u, void *ctx) { (void)ctx; return u->op != TG_OP_END; }

static void range_str(tg_sb *b, tg_uop *u) {
  for (uint32_t i = 0; i + 1 < u->arg.n; i++) {
    int64_t x = u->arg.items[i].i;
    tg_sb_printf(b, "%s%s%lld", i ? "_" : "", x >= 0 ? "" : "m", (long long)(x >= 0 ? x : -x));
  }
}

/* a variable's name as a GLSL identifier (its own name where it is one), else var<slot> */
static char *var_name(tg_uop *u) {
  const char *n = cg_param_name(u);
  int ok = n && ((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z')) && strncmp(n, "gl_", 3);
  for (const char *p = n; ok && *p; p++) ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
  if (ok && !strstr(n, "__")) return strdup(n);
  tg_sb b = sb_new();
  tg_sb_printf(&b, "var%lld", (long long)cg_param_slot(u));
  return sb_take(&b);
}

typedef struct cnt { const char *prefix; int n; } cnt;

static char *glsl_render(const tg_renderer *r, tg_uop *const *uops, size_t n, const char *fname) {
  (void)r;
  gstate s = {0};
  s.shared = sb_new();
  tg_ptrset cc = {0};
  cg_list stores = {0}, writable = {0}, bufs = {0}, vars = {0};
  tg_sb kern = sb_new(), out = sb_new();
  cnt counts[] = {{"buf", 0}, {"cast", 0}, {"bidx", 0}, {"val", 0}, {"alu", 0}};
  char *ret = NULL;
  if (!tg_ptrset_init(&s.idx, 2 * n + 16) || !tg_ptrset_init(&cc, 2 * n + 16)) goto oom;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < uops[i]->nsrc; k++) {
      uint64_t *c = tg_ptrset_get(&cc, uops[i]->src[k]);
      if (c) (*c)++;
      else if (!tg_ptrset_put(&cc, uops[i]->src[k], 1)) goto oom;
    }
  for (size_t i = 0; i < n; i++)
    if (uops[i]->op == TG_OP_STORE && cg_list_push(&stores, uops[i]->src[0])) goto out;
  if (stores.n) { /* the buffers stores reach: the others are readonly */
    tg_uop *sk = cg_sink(stores.v, stores.n, NULL);
    if (!sk) goto out;
    cg_list t = {0};
    int e = cg_toposort_gated(sk, gate_not_end, NULL, &t);
    for (size_t i = 0; i < t.n && !e; i++)
      if (t.v[i]->op == TG_OP_PARAM) e = cg_list_push(&writable, t.v[i]);
    cg_list_free(&t);
    tg_uop_release(sk);
    if (e) goto out;
  }
  int depth = 1;
  for (size_t i = 0; i < n && !s.failed; i++) {
    tg_uop *u = uops[i];
    if (u->op == TG_OP_NOOP || u->op == TG_OP_GROUP || u->op == TG_OP_CONST || u->op == TG_OP_SINK) continue;
    if (u->op == TG_OP_STACK && u->nsrc == 0) continue;
    if (u->op == TG_OP_AFTER) { setname(&s, u, strdup(R(&s, u->src[0]))); continue; }
    if (u->op != TG_OP_PARAM && u->dtype != TG_DT_VOID && numel(u) > 1 && cg_addrspace(u) != CG_AS_LOCAL && cg_addrspace(u) != CG_AS_REG &&
        cg_addrspace(u) != CG_AS_GLOBAL) {
      s.failed = 1;
      cg_err(TG_ERR_UNSUPPORTED, "render glsl: %s is a vector of %lld %s (the glsl dialect renders scalars only: vector_width 1)",
             tg_op_name((tg_op)u->op), (long long)numel(u), tg_dt_name((tg_dtype)u->dtype));
      break;
    }
    if (u->op == TG_OP_PARAM) {
      if (cg_addrspace(u) == CG_AS_ALU) {
        setname(&s, u, var_name(u));
        if (cg_list_push(&vars, u)) goto out;
        continue;
      }
      tg_sb nm = sb_new();
      tg_sb_printf(&nm, "data%lld_", (long long)cg_param_slot(u));
      tg_status st = TG_OK;
      const tg_shape *sh = tg_uop_shape(u, &st);
      for (uint32_t k = 0; sh && k < sh->ndim; k++) tg_sb_printf(&nm, "%s%lld", k ? "_" : "", (long long)(sh->dims[k].u ? cg_vmax_i(sh->dims[k].u) : sh->dims[k].v));
      setname(&s, u, sb_take(&nm));
      if (cg_list_push(&bufs, u)) goto out;
      continue;
    }
    cnt *pc = NULL;
    if (u->op == TG_OP_SPECIAL) setname(&s, u, strdup(u->arg.kind == TG_ARG_STR ? u->arg.s : "?"));
    else if (u->op == TG_OP_RANGE) {
      tg_sb nm = sb_new();
      tg_sb_printf(&nm, "%sidx", cg_axis_letter(cg_range_type(u)));
      range_str(&nm, u);
      setname(&s, u, sb_take(&nm));
    } else {
      const char *p = u->op == TG_OP_BUFFER ? "buf" : (u->op == TG_OP_CAST || u->op == TG_OP_BITCAST) ? "cast" : u->op == TG_OP_INDEX ? "bidx"
                      : u->op == TG_OP_LOAD ? "val" : "alu";
      for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        if (!strcmp(counts[k].prefix, p)) pc = &counts[k];
      tg_sb nm = sb_new();
      tg_sb_printf(&nm, "%s%d", pc->prefix, pc->n);
      setname(&s, u, sb_take(&nm));
    }
    char *l = render_uop(&s, u);
    if (!l) goto out;
    if (u->op == TG_OP_ENDIF || u->op == TG_OP_END) depth--;
    uint64_t *ccu = tg_ptrset_get(&cc, u);
    uint64_t children = ccu ? *ccu : 0;
    int alu_not_where = tg_opset_has(TG_GROUP_ALU, (tg_op)u->op) && u->op != TG_OP_WHERE;
    int inl = (u->op == TG_OP_CAST && u->src[0]->op == TG_OP_CONST) || u->op == TG_OP_INDEX || u->op == TG_OP_SHRINK || u->op == TG_OP_CUSTOMI ||
              (u->op == TG_OP_LOAD && cg_addrspace(u->src[0]) == CG_AS_REG && children == 1) ||
              ((alu_not_where || u->op == TG_OP_CAST || u->op == TG_OP_BITCAST) && children == 1);
    if (inl) {
      setname(&s, u, l);
      continue;
    }
    tg_sb line = sb_new();
    if (u->op == TG_OP_BUFFER && cg_addrspace(u) == CG_AS_LOCAL) { free(l); goto next; } /* declared at global scope */
    if (u->op != TG_OP_RANGE && u->op != TG_OP_STORE && u->op != TG_OP_BUFFER && u->dtype != TG_DT_VOID)
      tg_sb_printf(&line, "%s%s %s = %s;", precise(u->dtype), tname(&s, u->dtype), R(&s, u), l);
    else tg_sb_puts(&line, l);
    if (u->op == TG_OP_SPECIAL) tg_sb_printf(&line, " /* %s */", R(&s, u->src[0]));
    free(l);
    char *text = sb_take(&line);
    if (!text) goto oom;
    for (char *p = text, *e; p; p = e ? e + 1 : NULL) {
      e = strchr(p, '\n');
      for (int d = 0; d < depth; d++) tg_sb_puts(&kern, "  ");
      tg_sb_putn(&kern, p, e ? (size_t)(e - p) : strlen(p));
      tg_sb_puts(&kern, "\n");
    }
    free(text);
    if (pc) pc->n++;
  next:
    if (u->op == TG_OP_IF || u->op == TG_OP_RANGE) depth++;
  }
  if (s.failed) goto out;
  /* the buffers' element types (bool is a byte in memory) */
  for (size_t i = 0; i < bufs.n; i++) {
    int dt = bufs.v[i]->dtype == TG_BOOL ? TG_UINT8 : bufs.v[i]->dtype;
    tname(&s, dt);
    s.stored |= 1u << dt;
  }
  if (s.failed) goto out;
  uint32_t explicit = 1u << TG_INT8 | 1u << TG_UINT8 | 1u << TG_INT16 | 1u << TG_UINT16 | 1u << TG_INT64 | 1u << TG_UINT64 | 1u << TG_FLOAT16;
  tg_sb_printf(&out, "#version 450\n// %s\n", fname);
  if ((s.used & explicit) || vars.n) tg_sb_puts(&out, "#extension GL_EXT_shader_explicit_arithmetic_types : require\n");
  if (s.stored & (1u << TG_INT8 | 1u << TG_UINT8)) tg_sb_puts(&out, "#extension GL_EXT_shader_8bit_storage : require\n");
  if (s.stored & (1u << TG_INT16 | 1u << TG_UINT16 | 1u << TG_FLOAT16)) tg_sb_puts(&out, "#extension GL_EXT_shader_16bit_storage : require\n");
  tg_sb_puts(&out, "layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;\n");
  for (size_t i = 0; i < bufs.n; i++) {
    tg_uop *u = bufs.v[i];
    tg_sb_printf(&out, "layout(std430, binding = %zu) %sbuffer B%zu { %s%s%s %s[]; };\n", i, cg_list_has(&writable, u) ? "" : "readonly ", i,
                 cg_param_volatile(u) ? "volatile " : "", precise(u->dtype), g_type[u->dtype == TG_BOOL ? TG_UINT8 : u->dtype], R(&s, u));
  }
  if (vars.n) {
    tg_sb_puts(&out, "layout(push_constant) uniform Vals {");
    for (size_t i = 0; i < vars.n; i++) tg_sb_printf(&out, " int64_t val%zu;", i);
    tg_sb_puts(&out, " };\n");
  }
  if (s.shared.buf) tg_sb_puts(&out, s.shared.buf);
  for (int dt = 0; dt < TG_DTYPE_COUNT; dt++)
    if ((s.rem >> dt & 1) && g_type[dt]) tg_sb_printf(&out, "%s tg_rem(%s a, %s b) { return a - b * (a / b); }\n", g_type[dt], g_type[dt], g_type[dt]);
  tg_sb_puts(&out, "void main() {\n");
  for (size_t i = 0; i < vars.n; i++) tg_sb_printf(&out, "  %s %s = %s(val%zu);\n", g_type[vars.v[i]->dtype] ? g_type[vars.v[i]->dtype] : "int",
                                                  R(&s, vars.v[i]), g_type[vars.v[i]->dtype] ? g_type[vars.v[i]->dtype] : "int", i);
  if (kern.buf) tg_sb_puts(&out, kern.buf);
  tg_sb_puts(&out, "}\n");
  if (out.failed || kern.failed || s.shared.failed) goto oom;
  ret = out.buf;
  out.buf = NULL;
  goto out;
oom:
  oom(&s);
out:
  for (size_t i = 0; i < s.nn; i++) free(s.names[i]);
  free(s.names);
  tg_ptrset_free(&s.idx), tg_ptrset_free(&cc);
  cg_list_free(&stores), cg_list_free(&writable), cg_list_free(&bufs), cg_list_free(&vars);
  free(kern.buf), free(out.buf), free(s.shared.buf);
  return ret;
}

const tg_renderer tg_renderer_glsl = {.dialect = "glsl", .render = glsl_render, .extra_matcher = glsl_extra, .data = NULL};
