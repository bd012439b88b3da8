/* renderer/wgsl.c -- tinygrad 0.14.0's renderer/wgsl.py: WGSLRenderer, the "wgsl" dialect (WebGPU).
**
** WGSLRenderer is a CStyleLanguage whose declarations are all `var`, whose buffers are arrays indexed with [] (no
** pointers), whose small ints (int8/uint8/int16/uint16/bool) live packed in atomic<u32> words of global and local
** memory, and whose kernel is bound as plugins/tgc-webgpu/README.md's ABI says (binding 0: the INFINITY uniform, then
** the buffers, then one i32 uniform per variable; @workgroup_size from the lidx SPECIALs). The printer below is
** CStyleLanguage._render with WGSLRenderer.string_rewrite in front of base_rewrite; the extra matcher (wgsl_matcher:
** packed loads/stores, shift amounts as u32, bool compares through int, the nan check) is wgsl.rules.
** WGSL has no 64-bit types: a kernel that needs int64/uint64/float64 (or bfloat16/fp8) stops here with
** TG_ERR_UNSUPPORTED naming the dtype (the core refuses such buffers before that: engine/realize.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "renderer/renderer.h"

/* ---------------- types ---------------- */

/* WGSLRenderer.type_map (NULL: WGSL has no such type) */
static const char *wgsl_type(int dt) {
  switch (dt) {
  case TG_FLOAT32: return "f32";
  case TG_FLOAT16: return "f16";
  case TG_UINT8: case TG_UINT16: case TG_UINT32: return "u32";
  case TG_INT8: case TG_INT16: case TG_INT32: return "i32";
  case TG_BOOL: return "bool";
  default: return NULL;
  }
}

/* UOp.buf_uop: the PARAM/BUFFER a memory op reaches through its first sources */
static tg_uop *buf_uop(tg_uop *u) {
  while (u->nsrc && u->op != TG_OP_BUFFER && u->op != TG_OP_PARAM && u->op != TG_OP_STAGE && u->op != TG_OP_MSTACK) u = u->src[0];
  return u;
}

/* is_packed: a value narrower than a word (not half) kept in global/local memory is packed into u32 words */
static int is_packed(tg_uop *x) {
  int dt = x->op == TG_OP_STORE ? x->src[1]->dtype : x->dtype;
  if (dt == TG_DT_VOID || dt >= TG_DTYPE_COUNT || dt == TG_FLOAT16) return 0;
  return tg_dt_itemsize((tg_dtype)dt) < 4 && cg_addrspace(buf_uop(x)) != CG_AS_REG;
}

/* ---------------- wgsl_matcher's helpers (wgsl.rules) ---------------- */

#define U32(v) K(tg_um_const(TG_UINT32, tg_num_i(v)))

/* packed_field: the word the element lives in, its bit offset in that word, and its mask */
static int packed_field(cg_pool *pp, tg_uop *bidx, int dt, tg_uop **idx, tg_uop **shift, int64_t *mask) {
#define pool (*pp)
  int isz = tg_dt_itemsize((tg_dtype)dt), elems = 4 / isz, width = 8 * isz;
  tg_uop *word = K(tg_um_floordiv(bidx->src[1], K(tg_um_ufix(tg_num_i(elems)))));
  *idx = K(cg_index1(bidx->src[0], word));
  tg_uop *lane = K(tg_um_mod(K(tg_um_cast(bidx->src[1], TG_UINT32)), K(tg_um_ufix(tg_num_i(elems)))));
  *shift = K(tg_um_binop(TG_OP_MUL, lane, K(tg_um_ufix(tg_num_i(width)))));
  *mask = ((int64_t)1 << width) - 1;
  return 0;
fail:
  return -1;
#undef pool
}

/* store for char: buf[idx/4] <- (buf[idx/4] & ~(mask << shift)) | ((v & mask) << shift); the printer turns it into
** atomicAnd + atomicAdd */
static tg_uop *packed_store(tg_rw *rw, tg_uop *s) {
  if (s->nsrc < 2 || !is_packed(s)) return NULL;
  cg_pool pool = {0};
  tg_uop *bidx = s->src[0], *var = s->src[1], *idx, *shift;
  int64_t mask;
  if (bidx->op != TG_OP_INDEX || bidx->nsrc != 2) goto none;
  if (packed_field(&pool, bidx, var->dtype, &idx, &shift, &mask)) goto fail;
  if (var->dtype == TG_BOOL) var = K(tg_um_cast(var, TG_INT32)); /* bool does its mask math at int32 */
  tg_uop *nv = K(tg_um_binop(TG_OP_SHL, K(tg_um_cast(K(tg_um_binop(TG_OP_AND, var, K(tg_um_ufix(tg_num_i(mask))))), TG_UINT32)), shift));
  tg_uop *wm = K(tg_um_cast(K(tg_um_binop(TG_OP_XOR, K(tg_um_binop(TG_OP_SHL, K(tg_um_ufix(tg_num_i(mask))), shift)), K(tg_um_ufix(tg_num_i(0xFFFFFFFFll))))), TG_UINT32));
  tg_uop *lsrc[3] = {idx, NULL, NULL};
  size_t nl = 1;
  if (s->nsrc > 2) lsrc[1] = U32(0), lsrc[2] = s->src[2], nl = 3;
  tg_uop *buf = K(cg_new(TG_OP_LOAD, TG_UINT32, lsrc, nl, tg_arg_none()));
  tg_uop *val = K(tg_um_binop(TG_OP_OR, K(tg_um_binop(TG_OP_AND, buf, wm)), nv));
  tg_uop *ssrc[3] = {idx, val, s->nsrc > 2 ? s->src[2] : NULL};
  tg_uop *r = cg_new(TG_OP_STORE, TG_DT_VOID, ssrc, s->nsrc > 2 ? 3 : 2, tg_arg_none());
  cg_pool_free(&pool);
  return cg_ok(rw, r);
none:
  cg_pool_free(&pool);
  return NULL;
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* load for char: sign_extend(buf[idx/4] >> ((idx%4)*8)) */
static tg_uop *packed_load(tg_rw *rw, tg_uop *l) {
  if (!l->nsrc || !is_packed(l)) return NULL;
  cg_pool pool = {0};
  tg_uop *bidx = l->src[0], *idx, *shift;
  int64_t mask;
  int dt = l->dtype;
  if (bidx->op != TG_OP_INDEX || bidx->nsrc != 2) goto none;
  if (packed_field(&pool, bidx, dt, &idx, &shift, &mask)) goto fail;
  tg_uop *lsrc[4] = {idx};
  for (size_t k = 1; k < l->nsrc && k < 4; k++) lsrc[k] = k == 1 ? K(tg_um_cast(l->src[1], TG_UINT32)) : l->src[k];
  tg_uop *ld = K(cg_new(TG_OP_LOAD, TG_UINT32, lsrc, l->nsrc < 4 ? l->nsrc : 4, l->arg));
  tg_uop *val = K(tg_um_binop(TG_OP_AND, K(tg_um_binop(TG_OP_SHR, ld, shift)), K(tg_um_ufix(tg_num_i(mask)))));
  tg_uop *r;
  if (dt == TG_INT8 || dt == TG_INT16) { /* sign_extend: shift the field up to the sign bit, then arithmetic shift back */
    int64_t sh = 32 - 8 * tg_dt_itemsize((tg_dtype)dt);
    tg_uop *up = K(tg_um_bitcast(K(tg_um_binop(TG_OP_SHL, val, K(tg_um_ufix(tg_num_i(sh))))), TG_INT32));
    r = tg_um_cast(K(tg_um_binop(TG_OP_SHR, up, K(tg_um_ufix(tg_num_i(sh))))), dt);
  } else r = tg_um_cast(val, dt);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
none:
  cg_pool_free(&pool);
  return NULL;
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* is_nan: the bits without the sign are above the exponent-all-ones pattern (renderer.h; glsl.c uses it too) */
tg_uop *tg_render_nan_check(tg_rw *rw, tg_uop *a, int negate) {
  int bits, exp, mant, udt;
  switch (a->dtype) {
  case TG_FLOAT16: bits = 16, exp = 5, mant = 10, udt = TG_UINT16; break;
  case TG_BFLOAT16: bits = 16, exp = 8, mant = 7, udt = TG_UINT16; break;
  case TG_FLOAT32: bits = 32, exp = 8, mant = 23, udt = TG_UINT32; break;
  case TG_FLOAT64: bits = 64, exp = 11, mant = 52, udt = TG_UINT64; break;
  default: return NULL;
  }
  cg_pool pool = {0};
  tg_uop *mag = K(tg_um_binop(TG_OP_AND, K(tg_um_bitcast(a, udt)), K(tg_um_ufix(tg_num_i((int64_t)((1ull << (bits - 1)) - 1))))));
  tg_uop *r = K(tg_um_binop(TG_OP_CMPLT, K(tg_um_ufix(tg_num_i((((int64_t)1 << exp) - 1) << mant))), mag));
  if (negate) r = K(tg_um_binop(TG_OP_CMPNE, r, K(tg_um_const(TG_BOOL, tg_num_b(1)))));
  tg_uop_retain(r);
  cg_pool_free(&pool);
  return r;
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}
static tg_uop *is_nan(tg_rw *rw, tg_uop *a) { return tg_render_nan_check(rw, a, 0); }
static tg_uop *is_not_nan(tg_rw *rw, tg_uop *a) { return tg_render_nan_check(rw, a, 1); }

#include "renderer/wgsl_rules.inc"

static const tg_pm *cg_pm_wgsl_extra(void) { return tg_pm_cg_wgsl_extra(); }

/* C's signed remainder (sign of the dividend) without WGSL's %: see render_alu */
#define TG_WGSL_REM "fn tg_rem(a: i32, b: i32) -> i32 { return a - (a / b) * b; }"

/* ---------------- the printer's state (CStyleLanguage._render's r dict) ---------------- */

typedef struct wstate {
  tg_ptrset idx; /* uop -> index + 1 into names */
  char **names;
  size_t nn, cap;
  int failed;
  int rem; /* a signed CMOD was rendered as tg_rem(): render_kernel declares it */
} wstate;

static const char *R(wstate *s, tg_uop *u) {
  uint64_t *i = tg_ptrset_get(&s->idx, u);
  if (!i) { s->failed = 1; tg_err(TG_ERR_INTERNAL, "render: %s used before it was rendered", tg_op_name((tg_op)u->op)); return "?"; }
  return s->names[*i - 1];
}
static void setname(wstate *s, tg_uop *u, char *str) { /* takes str */
  if (!str) { s->failed = 1; return; }
  uint64_t *i = tg_ptrset_get(&s->idx, u);
  if (i) { free(s->names[*i - 1]); s->names[*i - 1] = str; return; }
  if (s->nn == s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 256;
    char **n = realloc(s->names, nc * sizeof *n);
    if (!n) { free(str); s->failed = 1; return; }
    s->names = n, s->cap = nc;
  }
  s->names[s->nn++] = str;
  if (!tg_ptrset_put(&s->idx, u, s->nn)) s->failed = 1;
}
static tg_sb sb_new(void) { tg_sb b = {0}; b.grow = 1; return b; }
static char *sb_take(tg_sb *b) {
  if (b->failed) { free(b->buf); return NULL; }
  return b->buf ? b->buf : strdup("");
}

static const char *type_of(wstate *s, int dt) {
  const char *t = wgsl_type(dt);
  if (!t && !s->failed) {
    s->failed = 1;
    cg_err(TG_ERR_UNSUPPORTED, "render: WGSL has no %s (WebGPU: bool, int8, uint8, int16, uint16, int32, uint32, float16, float32)",
           tg_dt_name((tg_dtype)dt));
  }
  return t ? t : "?";
}
/* buf_map: what one array element of the buffer is */
static const char *buf_type(wstate *s, tg_uop *u) { return is_packed(u) ? "atomic<u32>" : type_of(s, u->dtype); }

/* ---------------- string_rewrite + base_rewrite, one UOp ---------------- */

static void put_strip_parens(tg_sb *b, const char *s) {
  size_t n = strlen(s);
  int d = 0, ok = n >= 2 && s[0] == '(' && s[n - 1] == ')';
  for (size_t i = 1; ok && i + 1 < n; i++) {
    if (s[i] == '(') d++;
    else if (s[i] == ')' && --d < 0) ok = 0;
  }
  if (ok && d == 0) tg_sb_putn(b, s + 1, n - 2);
  else tg_sb_puts(b, s);
}

static void render_const(tg_sb *b, wstate *s, tg_uop *x, tg_uop *c) {
  int dt = x->dtype;
  tg_num v = tg_uop_val(c);
  char num[64];
  tg_sb nb = tg_sb_fixed(num, sizeof num);
  if (v.kind == TG_NUM_FLOAT) tg_float_repr(v.f, &nb);
  else if (v.kind == TG_NUM_BOOL) tg_sb_puts(&nb, v.i ? "True" : "False");
  else tg_sb_printf(&nb, "%lld", (long long)v.i);
  switch (dt) {
  case TG_BOOL: tg_sb_puts(b, tg_num_truthy(v) ? "true" : "false"); return;
  case TG_UINT8: case TG_UINT16: case TG_UINT32: {
    int64_t i = v.kind == TG_NUM_FLOAT ? (int64_t)v.f : v.i;
    if (i < 0) tg_sb_printf(b, "bitcast<u32>(%lld)", (long long)i);
    else tg_sb_printf(b, "%lluu", (unsigned long long)((uint64_t)i & 0xFFFFFFFFull));
    return;
  }
  case TG_INT32: {
    tg_num t;
    if (tg_num_truncate(dt, v, &t)) t = v;
    tg_sb_printf(b, "%lld", (long long)(t.kind == TG_NUM_FLOAT ? (int64_t)t.f : t.i));
    return;
  }
  default: break;
  }
  if (tg_dt_is_float((tg_dtype)dt) && !isfinite(tg_num_as_f(v))) {
    double f = tg_num_as_f(v);
    tg_sb_printf(b, "(%s(%s))", type_of(s, dt), isnan(f) ? "nan()" : f > 0 ? "INFINITY" : "-INFINITY");
    return;
  }
  if (dt == TG_FLOAT32) tg_sb_printf(b, "%sf", num);
  else if (dt == TG_FLOAT16) tg_sb_printf(b, "(f16(%sf))", num);
  else if (dt == TG_INT8 || dt == TG_INT16) tg_sb_printf(b, "(i32(%s))", num);
  else { type_of(s, dt); tg_sb_puts(b, num); } /* 64-bit and other types: refused by type_of */
}

/* render_load: packed words are read atomically */
static void put_load(tg_sb *b, const char *x, tg_uop *u) {
  if (is_packed(u)) tg_sb_printf(b, "atomicLoad(&%s)", x);
  else tg_sb_puts(b, x);
}

/* the AND(LOAD(b), wmask) that packed_store builds, either operand order */
static tg_uop *rmw_mask(tg_uop *v, tg_uop *b) {
  if (v->op != TG_OP_AND || v->nsrc != 2) return NULL;
  for (int k = 0; k < 2; k++)
    if (v->src[k]->op == TG_OP_LOAD && v->src[k]->nsrc >= 1 && v->src[k]->src[0] == b) return v->src[1 - k];
  return NULL;
}

static void render_bitcast(tg_sb *b, wstate *s, tg_uop *x) {
  const char *v = R(s, x->src[0]);
  int from = x->src[0]->dtype;
  switch (x->dtype) {
  /* half <-> 16-bit ints: tinygrad bitcasts through vec2<f16>, which naga (wgpu-native 29) rejects ("Invalid access into
  ** expression" / "a value with elements of type u32 is required"); the f32 pack/unpack builtins carry the same 16 bits */
  case TG_FLOAT16:
    if (from == TG_INT16 || from == TG_UINT16 || from == TG_UINT32) { tg_sb_printf(b, "f16(unpack2x16float(bitcast<u32>(%s)).x)", v); return; }
    break;
  case TG_UINT8: tg_sb_printf(b, "bitcast<u32>(%s&0xFF)", v); return;
  case TG_INT8: tg_sb_printf(b, "((i32(%s&0xFF)<<24)>>24)", v); return;
  case TG_UINT16:
    if (from == TG_FLOAT16) tg_sb_printf(b, "pack2x16float(vec2<f32>(f32(%s),0.0))", v);
    else tg_sb_printf(b, "bitcast<u32>(%s&0xFFFF)", v);
    return;
  case TG_INT16:
    if (from == TG_FLOAT16) tg_sb_printf(b, "bitcast<i32>(pack2x16float(vec2<f32>(f32(%s),0.0)))", v);
    else tg_sb_printf(b, "((i32(%s&0xFFFF)<<16)>>16)", v);
    return;
  default: break;
  }
  tg_sb_printf(b, "bitcast<%s>(%s)", type_of(s, x->dtype), v);
}

/* code_for_op: CStyleLanguage's, WHERE as select */
static const char *alu_fmt(int op) {
  switch (op) {
  case TG_OP_SQRT: return "sqrt(%0)";
  case TG_OP_RECIPROCAL: return "(1/%0)";
  case TG_OP_NEG: return "-%0";
  case TG_OP_EXP2: return "exp2(%0)";
  case TG_OP_LOG2: return "log2(%0)";
  case TG_OP_SIN: return "sin(%0)";
  case TG_OP_TRUNC: return "trunc(%0)";
  case TG_OP_AND: return "(%0&%1)";
  case TG_OP_XOR: return "(%0^%1)";
  case TG_OP_OR: return "(%0|%1)";
  case TG_OP_ADD: return "(%0+%1)";
  case TG_OP_SUB: return "(%0-%1)";
  case TG_OP_MUL: return "(%0*%1)";
  case TG_OP_CMOD: return "(%0%%%1)";
  case TG_OP_CDIV: return "(%0/%1)";
  case TG_OP_CMPNE: return "(%0!=%1)";
  case TG_OP_SHR: return "(%0>>%1)";
  case TG_OP_SHL: return "(%0<<%1)";
  case TG_OP_CMPLT: return "(%0<%1)";
  case TG_OP_WHERE: return "select(%2,%1,%0)";
  case TG_OP_CMPEQ: return "(%0==%1)";
  default: return NULL;
  }
}

static int is_narrow(int dt);
static void put_wrapped(tg_sb *b, int dt, const char *v);
/* int8/int16/uint8/uint16 live in i32/u32 registers, so an ALU result of theirs (uint8 200+100) holds bits its dtype does
** not have until a cast wraps it (render_uop's CAST). The ops that read those bits (a compare, >>, /, %) read a narrow ALU
** operand wrapped to its width, as C's typed variables would hold it. */
static const char *operand(tg_sb *tmp, wstate *s, tg_uop *x, tg_uop *v) {
  int reads = x->op == TG_OP_CMPLT || x->op == TG_OP_CMPNE || x->op == TG_OP_CMPEQ || x->op == TG_OP_SHR || x->op == TG_OP_CDIV || x->op == TG_OP_CMOD;
  if (!reads || !is_narrow(v->dtype) || !tg_opset_has(TG_GROUP_ALU, (tg_op)v->op)) return R(s, v);
  put_wrapped(tmp, v->dtype, R(s, v)); /* tmp: fresh, freed by the caller */
  if (tmp->failed || !tmp->buf) { s->failed = 1; return "?"; }
  return tmp->buf;
}

static void render_alu(tg_sb *b, wstate *s, tg_uop *x) {
  if (x->op == TG_OP_NEG && (x->dtype == TG_UINT8 || x->dtype == TG_UINT16 || x->dtype == TG_UINT32 || x->dtype == TG_UINT64)) {
    tg_sb_printf(b, "(0-%s)", R(s, x->src[0]));
    return;
  }
  /* naga turns a float != into SPIR-V's ordered not-equal, false when an operand is NaN (IEEE's != is true there);
  ** !(a==b) is IEEE's != on every driver (tinygrad's own a != a -> is_nan fix covers only the self comparison) */
  if (x->op == TG_OP_CMPNE && tg_dt_is_float((tg_dtype)x->src[0]->dtype)) {
    tg_sb_printf(b, "(!(%s==%s))", R(s, x->src[0]), R(s, x->src[1]));
    return;
  }
  /* Signed % goes through tg_rem(a,b) = a-(a/b)*b (TG_WGSL_REM): on NVIDIA's Vulkan driver (580, H200) WGSL's i32 % came out
  ** as an unsigned remainder (-7 % 2 = 1, 7 % -2 = 7, -1 % 5 = 0) while i32 / was right. Why: naga's SPIR-V backend
  ** (naga/src/back/spv/writer.rs, write_wrapped_binary_op) wraps i32 % in a naga_mod function, OpSRem of the dividend and
  ** select(rhs == 0 || (lhs == MIN && rhs == -1), 1, rhs), and Vulkan's SPIR-V environment leaves OpSRem/OpSMod undefined for
  ** negative operands unless VK_KHR_maintenance8 is enabled, so NVIDIA may compute it unsigned; OpSDiv has no such rule.
  ** Later naga emits that wrapper as OpSDiv, OpIMul, OpISub for the same reason ("OpSRem produces a poison result for
  ** negative operands ... without the maintenance8 feature"); wgpu-native 29's does not. WGSL defines a/0 = a and MIN/-1 =
  ** MIN, so a-(a/b)*b is total and equals C's remainder wherever C defines it (a%0 = a, MIN%-1 = 0). int8/int16 are
  ** sign-extended i32 in registers. */
  if (x->op == TG_OP_CMOD && (x->dtype == TG_INT8 || x->dtype == TG_INT16 || x->dtype == TG_INT32)) {
    s->rem = 1;
    tg_sb t0 = sb_new(), t1 = sb_new();
    const char *a = operand(&t0, s, x, x->src[0]), *d = operand(&t1, s, x, x->src[1]);
    tg_sb_printf(b, "tg_rem(%s,%s)", a, d);
    free(t0.buf), free(t1.buf);
    return;
  }
  /* half's 1/x, sqrt, sin, exp2, log2 in f32, rounded once to f16: what the CPU device computes (half in float), and WGSL
  ** lets a native f16 version be loose (x/y 2.5 ULP; sin 2^-7 absolute in [-pi, pi] and unbounded outside): NVIDIA's f16
  ** 1/x was 1 ULP off in 82 of 192 elements, its f16 sin(15.88) 0.003 off. f32 keeps 24 bits, enough for one correct
  ** rounding to f16's 11 (a correctly rounded f32 op rounded again to f16 is the correctly rounded f16 op). */
  if (x->dtype == TG_FLOAT16 && (x->op == TG_OP_RECIPROCAL || x->op == TG_OP_SQRT || x->op == TG_OP_SIN || x->op == TG_OP_EXP2 || x->op == TG_OP_LOG2)) {
    const char *f = x->op == TG_OP_RECIPROCAL ? "1/" : x->op == TG_OP_SQRT ? "sqrt" : x->op == TG_OP_SIN ? "sin" : x->op == TG_OP_EXP2 ? "exp2" : "log2";
    tg_sb_printf(b, "f16(%s(f32(%s)))", f, R(s, x->src[0]));
    return;
  }
  const char *fmt = alu_fmt(x->op);
  if (!fmt) { s->failed = 1; cg_err(TG_ERR_UNSUPPORTED, "render: the wgsl dialect has no %s", tg_op_name((tg_op)x->op)); return; }
  int strip = x->op == TG_OP_ADD || x->op == TG_OP_MUL || x->op == TG_OP_XOR || x->op == TG_OP_OR || x->op == TG_OP_AND;
  for (const char *p = fmt; *p; p++) {
    if (*p == '%' && p[1] == '%') { tg_sb_putn(b, "%", 1); p++; continue; }
    if (*p == '%' && p[1] >= '0' && p[1] <= '2') {
      tg_uop *v = x->src[p[1] - '0'];
      if (strip && v->op == x->op) put_strip_parens(b, R(s, v));
      else {
        tg_sb t = sb_new();
        tg_sb_puts(b, operand(&t, s, x, v));
        free(t.buf);
      }
      p++;
      continue;
    }
    tg_sb_putn(b, p, 1);
  }
}

static int64_t int_of(tg_uop *u, int *ok) {
  if (u->op == TG_OP_CAST && u->nsrc == 1) u = u->src[0];
  tg_num v = tg_uop_val(u);
  *ok = v.kind == TG_NUM_INT || v.kind == TG_NUM_BOOL;
  return *ok ? v.i : 0;
}

/* AND with a constant mask of the value's width or less (packed_store's var & mask) */
static int is_bit_mask(tg_uop *x) {
  if (x->op != TG_OP_AND || x->nsrc != 2) return 0;
  for (int k = 0; k < 2; k++) {
    tg_uop *c = x->src[k]->op == TG_OP_CAST && x->src[k]->nsrc == 1 ? x->src[k]->src[0] : x->src[k];
    tg_num v = tg_uop_val(c);
    if ((v.kind == TG_NUM_INT) && v.i >= 0 && v.i <= 0xFFFF) return 1;
  }
  return 0;
}
static int is_narrow(int dt) { return dt == TG_INT8 || dt == TG_INT16 || dt == TG_UINT8 || dt == TG_UINT16; }
/* v wrapped to the width of narrow int dt (sign-extended for int8/int16); v itself for other dtypes */
static void put_wrapped(tg_sb *b, int dt, const char *v) {
  if (dt == TG_INT8 || dt == TG_INT16) tg_sb_printf(b, "((i32(%s)<<%du)>>%du)", v, dt == TG_INT8 ? 24 : 16, dt == TG_INT8 ? 24 : 16);
  else if (dt == TG_UINT8 || dt == TG_UINT16) tg_sb_printf(b, "(u32(%s)&%s)", v, dt == TG_UINT8 ? "0xFFu" : "0xFFFFu");
  else tg_sb_puts(b, v);
}

static char *render_uop(wstate *s, tg_uop *u) {
  tg_sb b = sb_new();
  switch ((tg_op)u->op) {
  case TG_OP_BUFFER: {
    int64_t n = cg_max_numel(u);
    if (is_packed(u)) n = (n + 4 / tg_dt_itemsize((tg_dtype)u->dtype) - 1) / (4 / tg_dt_itemsize((tg_dtype)u->dtype));
    tg_sb_printf(&b, "var%s %s: array<%s,%lld>;", cg_addrspace(u) == CG_AS_LOCAL ? "<workgroup>" : "", R(s, u), buf_type(s, u), (long long)n);
    break;
  }
  case TG_OP_RANGE:
    if (u->dtype == TG_DT_VOID) { tg_sb_puts(&b, "for (;;) {"); break; }
    tg_sb_printf(&b, "for (var %s = 0; %s < %s; %s++) {", R(s, u), R(s, u), R(s, u->src[0]), R(s, u));
    break;
  case TG_OP_END:
    if (u->nsrc == 3 && u->src[1]->op == TG_OP_RANGE && u->src[2]->dtype == TG_BOOL) tg_sb_printf(&b, "  if (!(%s)) { break; }\n}", R(s, u->src[2]));
    else tg_sb_puts(&b, "}");
    break;
  case TG_OP_ENDIF: tg_sb_puts(&b, "}"); break;
  case TG_OP_IF: tg_sb_printf(&b, "if (%s) {", R(s, u->src[0])); break;
  case TG_OP_BARRIER: tg_sb_puts(&b, "workgroupBarrier();"); break;
  case TG_OP_SPECIAL: {
    const char *nm = u->arg.kind == TG_ARG_STR ? u->arg.s : "";
    size_t ln = strlen(nm);
    if (!ln || (nm[0] != 'g' && nm[0] != 'l') || nm[ln - 1] < '0' || nm[ln - 1] > '2') {
      s->failed = 1;
      cg_err(TG_ERR_UNSUPPORTED, "render: the wgsl dialect has no launch index '%s'", nm);
      break;
    }
    int ok;
    int64_t end = int_of(u->src[0], &ok);
    tg_sb_printf(&b, "i32(%s.%c); /* ", nm[0] == 'g' ? "gindex" : "lindex", "xyz"[nm[ln - 1] - '0']);
    if (ok) tg_sb_printf(&b, "%lld", (long long)end);
    else tg_sb_puts(&b, R(s, u->src[0]));
    tg_sb_puts(&b, " */");
    break;
  }
  case TG_OP_CAST:
    if (u->src[0]->op == TG_OP_CONST) { render_const(&b, s, u, u->src[0]); break; }
    /* int8/int16/uint8/uint16 live in i32/u32 registers: a cast into one wraps the value to its width as C does (tinygrad's
    ** WGSLRenderer only converts, so a uint8 lerp's int8/uint16 steps would not wrap) */
    /* and a cast out of one reads the source wrapped to its width: uint8 250+10 is 4 */
    {
      tg_sb src = sb_new();
      /* x & 0xFF already holds just the bits: packed_store casts (var & mask) to u32 meaning them, not a sign-extension */
      if (is_bit_mask(u->src[0])) tg_sb_puts(&src, R(s, u->src[0]));
      else put_wrapped(&src, u->src[0]->dtype, R(s, u->src[0]));
      char *sv = sb_take(&src);
      if (!sv) { s->failed = 1; break; }
      if (is_narrow(u->dtype)) put_wrapped(&b, u->dtype, sv);
      else tg_sb_printf(&b, "(%s(%s))", type_of(s, u->dtype), sv);
      free(sv);
    }
    break;
  case TG_OP_BITCAST: render_bitcast(&b, s, u); break;
  case TG_OP_INDEX:
    if (u->nsrc != 2) { s->failed = 1; cg_err(TG_ERR_UNSUPPORTED, "render: INDEX with %u sources", u->nsrc); break; }
    if (cg_addrspace(u->src[0]) == CG_AS_ALU) { s->failed = 1; cg_err(TG_ERR_UNSUPPORTED, "render: the wgsl dialect has no vectors (a lane index)"); break; }
    tg_sb_printf(&b, "%s[%s]", R(s, u->src[0]), R(s, u->src[1]));
    break;
  case TG_OP_LOAD:
    if (u->nsrc == 3) {
      tg_sb_printf(&b, "select(%s, ", R(s, u->src[1]));
      put_load(&b, R(s, u->src[0]), u->src[0]->src[0]);
      tg_sb_printf(&b, ", %s)", R(s, u->src[2]));
    } else put_load(&b, R(s, u->src[0]), u->src[0]);
    break;
  case TG_OP_STORE: {
    tg_uop *bi = u->src[0], *v = u->src[1], *wm = rmw_mask(v, bi), *nv = NULL;
    if (!wm && v->op == TG_OP_OR && v->nsrc == 2)
      for (int k = 0; k < 2 && !wm; k++)
        if ((wm = rmw_mask(v->src[k], bi))) nv = v->src[1 - k];
    if (wm && is_packed(bi)) {
      tg_sb_printf(&b, "atomicAnd(&%s,%s);", R(s, bi), R(s, wm));
      if (nv) tg_sb_printf(&b, "\n  atomicAdd(&%s,%s);", R(s, bi), R(s, nv));
    } else tg_sb_printf(&b, "%s = %s;", R(s, bi), R(s, v));
    break;
  }
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
    cg_err(TG_ERR_UNSUPPORTED, "render: the wgsl dialect cannot render %s %s", tg_op_name((tg_op)u->op), tg_dt_name((tg_dtype)u->dtype));
  }
  if (s->failed) { free(b.buf); return NULL; }
  return sb_take(&b);
}

/* ---------------- _render + render_kernel ---------------- */

static void range_str(tg_sb *b, tg_uop *u) {
  for (uint32_t i = 0; i + 1 < u->arg.n; i++) {
    int64_t x = u->arg.items[i].i;
    tg_sb_printf(b, "%s%s%lld", i ? "_" : "", x >= 0 ? "" : "m", (long long)(x >= 0 ? x : -x));
  }
}

typedef struct cnt { const char *prefix; int n; } cnt;

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static char *wgsl_render(const tg_renderer *rd, tg_uop *const *uops, size_t n, const char *fname) {
  (void)rd;
  wstate s = {0};
  tg_ptrset cc = {0};
  cg_list bufs = {0};
  tg_sb kern = sb_new(), wg = sb_new(), out = sb_new();
  cnt counts[6] = {{"wmma", 0}, {"buf", 0}, {"cast", 0}, {"bidx", 0}, {"val", 0}, {"alu", 0}};
  const char *lnames[3];
  int64_t lsize[3];
  int nl = 0, half = 0;
  char *ret = NULL;
  if (!tg_ptrset_init(&s.idx, 2 * n + 16) || !tg_ptrset_init(&cc, 2 * n + 16)) goto out;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < uops[i]->nsrc; k++) {
      uint64_t *c = tg_ptrset_get(&cc, uops[i]->src[k]);
      if (c) (*c)++;
      else if (!tg_ptrset_put(&cc, uops[i]->src[k], 1)) goto out;
    }
  int depth = 1;
  for (size_t i = 0; i < n && !s.failed; i++) {
    tg_uop *u = uops[i];
    if (u->dtype == TG_FLOAT16) half = 1;
    if (u->op == TG_OP_NOOP || u->op == TG_OP_GROUP || u->op == TG_OP_CONST || u->op == TG_OP_SINK) continue;
    if (u->op == TG_OP_STACK && u->nsrc == 0) continue;
    if (u->op == TG_OP_AFTER) { setname(&s, u, strdup(R(&s, u->src[0]))); continue; }
    if (u->op == TG_OP_PARAM) {
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
    if (u->op == TG_OP_SPECIAL) {
      const char *nm = u->arg.kind == TG_ARG_STR ? u->arg.s : "?";
      setname(&s, u, strdup(nm));
      int ok;
      int64_t sz = int_of(u->src[0], &ok);
      if (nm[0] == 'l' && nl < 3) lnames[nl] = nm, lsize[nl++] = ok ? sz : 1;
    } else if (u->op == TG_OP_RANGE) {
      tg_sb nm = sb_new();
      tg_sb_printf(&nm, "%sidx", cg_axis_letter(cg_range_type(u)));
      range_str(&nm, u);
      setname(&s, u, sb_take(&nm));
    } else {
      const char *p = u->op == TG_OP_WMMA ? "wmma" : u->op == TG_OP_BUFFER ? "buf" : (u->op == TG_OP_CAST || u->op == TG_OP_BITCAST || u->op == TG_OP_STACK) ? "cast" : u->op == TG_OP_INDEX ? "bidx" : u->op == TG_OP_LOAD ? "val" : "alu";
      for (int k = 0; k < 6; k++)
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
    int as = cg_addrspace(u);
    int alu_not_where = tg_opset_has(TG_GROUP_ALU, (tg_op)u->op) && u->op != TG_OP_WHERE;
    int inl = (u->op != TG_OP_CAST || cg_max_numel(u) == 1) &&
              ((u->op == TG_OP_CAST && u->src[0]->op == TG_OP_CONST) || u->op == TG_OP_INDEX || u->op == TG_OP_SHRINK || u->op == TG_OP_CUSTOMI ||
               (u->op == TG_OP_LOAD && cg_addrspace(u->src[0]) == CG_AS_REG && children == 1) ||
               ((u->op == TG_OP_CAST || u->op == TG_OP_BITCAST) && (as == CG_AS_GLOBAL || as == CG_AS_LOCAL)) ||
               ((u->op == TG_OP_STACK || alu_not_where || u->op == TG_OP_CAST || u->op == TG_OP_BITCAST) && children == 1));
    if (inl) {
      setname(&s, u, l);
    } else {
      tg_sb line = sb_new();
      if (u->op != TG_OP_RANGE && u->op != TG_OP_STORE && u->op != TG_OP_BUFFER && u->dtype != TG_DT_VOID)
        tg_sb_printf(&line, "var %s = %s%s", R(&s, u), l, u->op == TG_OP_SPECIAL ? "" : ";");
      else tg_sb_puts(&line, l);
      free(l);
      char *text = sb_take(&line);
      if (!text) goto out;
      if (strstr(text, "var<workgroup>")) tg_sb_printf(&wg, "%s\n", text); /* render_kernel lifts these to module scope */
      else
        for (char *p = text, *e; p; p = e ? e + 1 : NULL) {
          e = strchr(p, '\n');
          for (int d = 0; d < depth; d++) tg_sb_puts(&kern, "  ");
          tg_sb_putn(&kern, p, e ? (size_t)(e - p) : strlen(p));
          tg_sb_puts(&kern, "\n");
        }
      free(text);
      if (pc) pc->n++;
    }
    if (u->op == TG_OP_IF || u->op == TG_OP_RANGE) depth++;
  }
  if (s.failed) goto out;
  /* the bindings in launch order: the global buffers by slot, then the variables by slot (tg_program_launch's bufs, vals) */
  size_t ng = 0;
  for (size_t i = 0; i < bufs.n; i++) ng += cg_addrspace(bufs.v[i]) != CG_AS_ALU;
  if (half) tg_sb_puts(&out, "enable f16;\n");
  tg_sb_puts(&out, "fn nan() -> f32 { let bits = 0xffffffffu; return bitcast<f32>(bits); }\n");
  if (s.rem) tg_sb_puts(&out, TG_WGSL_REM "\n");
  tg_sb_puts(&out, "@group(0) @binding(0)\nvar<uniform> INFINITY : f32;\n");
  if (wg.buf) tg_sb_puts(&out, wg.buf);
  for (size_t i = 0; i < bufs.n; i++) {
    tg_uop *u = bufs.v[i];
    int glob = cg_addrspace(u) != CG_AS_ALU;
    size_t before = 0;
    for (size_t k = 0; k < bufs.n; k++) {
      tg_uop *o = bufs.v[k];
      if ((cg_addrspace(o) != CG_AS_ALU) == glob && cg_param_slot(o) < cg_param_slot(u)) before++;
    }
    size_t binding = 1 + before + (glob ? 0 : ng);
    if (glob) tg_sb_printf(&out, "%s@group(0) @binding(%zu)var<storage,read_write>%s:array<%s>;", i ? "\n" : "", binding, R(&s, u), buf_type(&s, u));
    else tg_sb_printf(&out, "%s@group(0) @binding(%zu)var<uniform>%s:%s;", i ? "\n" : "", binding, R(&s, u), type_of(&s, u->dtype));
  }
  if (s.failed) goto out;
  /* local_size: the lidx SPECIALs sorted by name */
  qsort(lnames, (size_t)nl, sizeof lnames[0], cmp_str);
  tg_sb_puts(&out, "\n@compute @workgroup_size(");
  if (!nl) tg_sb_puts(&out, "1");
  for (int k = 0; k < nl; k++) {
    int64_t sz = 1;
    for (size_t i = 0; i < n; i++)
      if (uops[i]->op == TG_OP_SPECIAL && uops[i]->arg.kind == TG_ARG_STR && !strcmp(uops[i]->arg.s, lnames[k])) {
        int ok;
        sz = int_of(uops[i]->src[0], &ok);
        if (!ok) sz = cg_vmax_i(uops[i]) + 1;
        break;
      }
    tg_sb_printf(&out, "%s%lld", k ? "," : "", (long long)sz);
  }
  tg_sb_printf(&out, ") fn %s(@builtin(workgroup_id) gindex: vec3<u32>,@builtin(local_invocation_id) lindex: vec3<u32>) {\n", fname);
  if (kern.buf) tg_sb_putn(&out, kern.buf, kern.len ? kern.len - 1 : 0); /* "\n".join(kernel) */
  tg_sb_puts(&out, "\n}");
  if (out.failed) goto out;
  ret = out.buf;
  out.buf = NULL;
out:
  if (!ret && !s.failed) tg_err(TG_ERR_OUT_OF_MEMORY, "render: out of memory");
  for (size_t i = 0; i < s.nn; i++) free(s.names[i]);
  free(s.names);
  tg_ptrset_free(&s.idx), tg_ptrset_free(&cc);
  cg_list_free(&bufs);
  free(kern.buf), free(wg.buf), free(out.buf);
  (void)lsize;
  return ret;
}

const tg_renderer tg_renderer_wgsl = {.dialect = "wgsl", .render = wgsl_render, .extra_matcher = cg_pm_wgsl_extra, .data = NULL};
