/* renderer/cstyle.c -- tinygrad 0.14.0's renderer/cstyle.py: CStyleLanguage._render (one line per UOp that needs a
** name, everything used once inlined) over a dialect table, and the "c" dialect (ClangRenderer) with the tgc launch
** entry. The printer is one function per op class; what differs per language is data in cs_lang. */
#include "renderer/cstyle.h"
#include "codegen/opt/tc.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/passes.h"
#include "renderer/renderer.h"

static void c_prefix(tg_sb *out, const cs_lang *L, const cs_uses *u);

static const cs_lang lang_c = {
  .name = "c",
  .kernel_typedef = "void", .buffer_prefix = "", .buffer_suffix = " restrict", .smem_prefix = "", .smem_align = "",
  .smem_prefix_for_cast = 1, .var_prefix = "const ", .var_suffix = "", .barrier = "__atomic_thread_fence(__ATOMIC_SEQ_CST);",
  .infinity = "__builtin_inff()", .nan = "__builtin_nanf(\"\")",
  .float4 = "(float4)", .float4_open = "{", .float4_close = "}", .gep_arr_threshold = 0,
  .type_names = {[TG_BOOL] = "_Bool", [TG_FLOAT16] = "_Float16", [TG_BFLOAT16] = "tg_bf16"},
  .alu = {
    [TG_OP_SQRT] = {"__builtin_sqrtf(%0)", "__builtin_sqrt(%0)"}, [TG_OP_TRUNC] = {"__builtin_truncf(%0)", "__builtin_trunc(%0)"},
    [TG_OP_NEG] = {"-%0"}, [TG_OP_AND] = {"(%0&%1)"}, [TG_OP_XOR] = {"(%0^%1)"}, [TG_OP_OR] = {"(%0|%1)"},
    [TG_OP_ADD] = {"(%0+%1)"}, [TG_OP_SUB] = {"(%0-%1)"}, [TG_OP_MUL] = {"(%0*%1)"}, [TG_OP_CMOD] = {"(%0%%%1)"},
    [TG_OP_CDIV] = {"(%0/%1)"}, [TG_OP_CMPNE] = {"(%0!=%1)"}, [TG_OP_SHR] = {"(%0>>%1)"}, [TG_OP_SHL] = {"(%0<<%1)"},
    [TG_OP_CMPLT] = {"(%0<%1)"}, [TG_OP_WHERE] = {"(%0?%1:%2)"}, [TG_OP_CMPEQ] = {"(%0==%1)"}, [TG_OP_FDIV] = {"(%0/%1)"},
  },
  .bitcast = CS_BITCAST_MEMCPY, .bf16_bits = 1, .prefix = c_prefix, .c_entry = 1,
};

extern const cs_lang tg_cs_lang_cuda, tg_cs_lang_hip, tg_cs_lang_metal;

const cs_lang *cs_lang_named(const char *d) {
  static const cs_lang *const all[] = {&lang_c, &tg_cs_lang_cuda, &tg_cs_lang_hip, &tg_cs_lang_metal};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (!strcmp(all[i]->name, d)) return all[i];
  return NULL;
}

int cs_uses_dtype(const cs_uses *u, int dt) {
  for (int i = 0; i < u->ndts; i++)
    if (u->dts[i].dt == dt) return 1;
  return 0;
}

/* ---------------- the printer's state ---------------- */

typedef struct rstate {
  const cs_lang *L;
  tg_ptrset idx;  /* uop -> index + 1 into names */
  char **names;
  size_t nn, cap;
  int failed;
} rstate;

static const char *R(rstate *s, tg_uop *u) {
  uint64_t *i = tg_ptrset_get(&s->idx, u);
  if (!i) { s->failed = 1; tg_err(TG_ERR_INTERNAL, "render: %s used before it was rendered", tg_op_name((tg_op)u->op)); return "?"; }
  return s->names[*i - 1];
}
static void setname(rstate *s, tg_uop *u, char *str) { /* takes str */
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

static char *sb_take(tg_sb *b) {
  if (b->failed) { free(b->buf); return NULL; }
  if (!b->buf) return strdup("");
  return b->buf;
}
static tg_sb sb_new(void) { tg_sb b = {0}; b.grow = 1; return b; }

/* ---------------- types ---------------- */

const char *cs_scalar_name(const cs_lang *L, int dt) {
  if (dt >= 0 && dt < TG_DT_IDS && L->type_names[dt]) return L->type_names[dt];
  const tg_dt_desc *d = tg_dt_desc_of((tg_dtype)dt);
  return d ? d->c_name : "void";
}

/* _render_dtype(dtype, sz, addrspace, override_ptr) */
static void put_dtype(tg_sb *b, const cs_lang *L, int dt, int64_t sz, int as, int override_ptr) {
  const char *prefix = as == CG_AS_GLOBAL ? L->buffer_prefix : as == CG_AS_LOCAL && L->smem_prefix_for_cast ? L->smem_prefix : "";
  tg_sb_puts(b, prefix);
  if (sz > 1) {
    for (const char *p = cs_scalar_name(L, dt); *p; p++) tg_sb_putn(b, *p == ' ' ? "_" : p, 1);
    tg_sb_printf(b, "%lld", (long long)sz);
  } else tg_sb_puts(b, cs_scalar_name(L, dt));
  if (as == CG_AS_GLOBAL || as == CG_AS_LOCAL || override_ptr) tg_sb_puts(b, "*");
}
/* _wmma_name: WMMA_{N}_{M}_{K}_{dtype_in.name}_{dtype_out.name}, spaces as '_' */
void cs_wmma_name(tg_sb *b, tg_uop *u) {
  const tg_arg *dims = cg_tuple_item(&u->arg, 0), *din = cg_tuple_item(&u->arg, 1);
  tg_sb_puts(b, "WMMA");
  for (uint32_t i = 0; dims && i < dims->n; i++) tg_sb_printf(b, "_%lld", (long long)dims->items[i].i);
  const char *names[2] = {din ? cg_tc_dtype_name((int)din->i) : "?", cg_tc_dtype_name(u->dtype)}; /* DType.name */
  for (int k = 0; k < 2; k++) {
    tg_sb_puts(b, "_");
    for (const char *p = names[k]; *p; p++) tg_sb_putn(b, *p == ' ' ? "_" : p, 1);
  }
}
void cs_put_dtype(tg_sb *b, const cs_lang *L, int dt, int64_t sz) { put_dtype(b, L, dt, sz, CG_AS_REG, 0); }
static void put_type(tg_sb *b, const cs_lang *L, tg_uop *u) { put_dtype(b, L, u->dtype, cg_max_numel(u), cg_addrspace(u), 0); }

static int is_balanced(const char *s, size_t n) {
  int d = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '(') d++;
    else if (s[i] == ')' && --d < 0) return 0;
  }
  return d == 0;
}
static void put_strip_parens(tg_sb *b, const char *s) {
  size_t n = strlen(s);
  if (n >= 2 && s[0] == '(' && s[n - 1] == ')' && is_balanced(s + 1, n - 2)) tg_sb_putn(b, s + 1, n - 2);
  else tg_sb_puts(b, s);
}

/* ---------------- constants ---------------- */

static uint16_t float_to_bf16_bits(double v) {
  float f = (float)v;
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((~x & 0x7f800000u) == 0) { /* inf or nan: truncate, keep nan quiet */
    if (x & 0xffffu) x |= 0x10000u;
  } else x += ((x >> 16) & 1) + 0x7fff;
  return (uint16_t)(x >> 16);
}

static void put_cast_of(tg_sb *b, rstate *s, tg_uop *x, const char *val) {
  tg_sb_puts(b, "(");
  put_type(b, s->L, x);
  tg_sb_printf(b, ")(%s)", val);
}

/* CAST(CONST) -> a literal */
static void render_const(tg_sb *b, rstate *s, tg_uop *x, tg_uop *c) {
  int dt = x->dtype;
  tg_num v = tg_uop_val(c);
  char num[64];
  tg_sb nb = tg_sb_fixed(num, sizeof num);
  if (dt == TG_BFLOAT16 && s->L->bf16_bits) { /* stored as bits: the literal is the bit pattern */
    tg_sb_printf(b, "((%s)%uu)", cs_scalar_name(s->L, dt), (unsigned)float_to_bf16_bits(tg_num_as_f(v)));
    return;
  }
  if (tg_dt_is_float((tg_dtype)dt) && !isfinite(tg_num_as_f(v))) {
    double f = tg_num_as_f(v);
    char lit[64];
    snprintf(lit, sizeof lit, "%s%s", isnan(f) ? "" : f < 0 ? "-" : "", isnan(f) ? s->L->nan : s->L->infinity);
    tg_sb_puts(b, "(");
    put_cast_of(b, s, x, lit);
    tg_sb_puts(b, ")");
    return;
  }
  tg_num t;
  if (tg_num_truncate(dt, v, &t)) t = v;
  if (v.kind == TG_NUM_FLOAT) tg_float_repr(v.f, &nb);
  else if (v.kind == TG_NUM_BOOL) tg_sb_puts(&nb, v.i ? "True" : "False");
  else tg_sb_printf(&nb, "%lld", (long long)v.i);
  switch (dt) {
  case TG_FLOAT32: tg_sb_printf(b, "%sf", num); return;
  case TG_INT64: tg_sb_printf(b, "%sl", num); return;
  case TG_UINT64: tg_sb_printf(b, "%lluul", (unsigned long long)t.i); return;
  case TG_UINT32: tg_sb_printf(b, "%lluu", (unsigned long long)(uint32_t)t.i); return;
  case TG_BOOL: tg_sb_puts(b, tg_num_truthy(v) ? "1" : "0"); return;
  case TG_FLOAT16: case TG_BFLOAT16: case TG_FP8E4M3: case TG_FP8E5M2: case TG_FP8E4M3FNUZ: case TG_FP8E5M2FNUZ: {
    char lit[80];
    snprintf(lit, sizeof lit, "%sf", num);
    tg_sb_puts(b, "(");
    put_cast_of(b, s, x, lit);
    tg_sb_puts(b, ")");
    return;
  }
  case TG_UINT8: case TG_UINT16: {
    char lit[80];
    snprintf(lit, sizeof lit, "%lluu", (unsigned long long)(uint64_t)t.i);
    tg_sb_puts(b, "(");
    put_cast_of(b, s, x, lit);
    tg_sb_puts(b, ")");
    return;
  }
  case TG_INT8: case TG_INT16:
    tg_sb_puts(b, "(");
    put_cast_of(b, s, x, num);
    tg_sb_puts(b, ")");
    return;
  default: tg_sb_puts(b, num); return;
  }
}

/* ---------------- access ---------------- */

static void put_access(tg_sb *b, rstate *s, tg_uop *u) {
  if (cg_max_numel(u) > 1 || u->dtype != u->src[0]->dtype) {
    tg_sb_puts(b, "*((");
    put_dtype(b, s->L, u->dtype, cg_max_numel(u), cg_addrspace(u), 1);
    tg_sb_printf(b, ")(%s))", R(s, u));
  } else tg_sb_printf(b, "*%s", R(s, u));
}

static void render_index(tg_sb *b, rstate *s, tg_uop *buf, tg_uop *idx) {
  if (cg_addrspace(buf) == CG_AS_ALU) { /* a lane of a vector */
    if (!(idx->op == TG_OP_CAST && idx->src[0]->op == TG_OP_CONST)) { tg_sb_printf(b, "(%s)[%s]", R(s, buf), R(s, idx)); return; }
    int64_t i = cg_cval(idx->src[0], 0);
    if (cg_max_numel(buf) > s->L->gep_arr_threshold) tg_sb_printf(b, "%s[%lld]", R(s, buf), (long long)i);
    else tg_sb_printf(b, "%s.%c", R(s, buf), "xyzwabcd"[i & 7]);
    return;
  }
  tg_sb_printf(b, "(%s+%s)", R(s, buf), R(s, idx));
}

static void render_alu(tg_sb *b, rstate *s, tg_uop *x) {
  int var = x->dtype == TG_FLOAT64 ? CS_ALU_F64 : x->dtype == TG_FLOAT16 ? CS_ALU_F16 : x->dtype == TG_BFLOAT16 ? CS_ALU_BF16 : CS_ALU_DEFAULT;
  const char *fmt = s->L->alu[x->op][var] ? s->L->alu[x->op][var] : s->L->alu[x->op][CS_ALU_DEFAULT];
  if (!fmt) { s->failed = 1; cg_err(TG_ERR_UNSUPPORTED, "render: the %s dialect has no %s", s->L->name, tg_op_name((tg_op)x->op)); return; }
  int strip = x->op == TG_OP_ADD || x->op == TG_OP_MUL || x->op == TG_OP_XOR || x->op == TG_OP_OR || x->op == TG_OP_AND;
  for (const char *p = fmt; *p; p++) {
    if (*p == '%' && p[1] == '%') { tg_sb_putn(b, "%", 1); p++; continue; }
    if (*p == '%' && p[1] >= '0' && p[1] <= '2') {
      tg_uop *v = x->src[p[1] - '0'];
      if (strip && v->op == x->op) put_strip_parens(b, R(s, v));
      else tg_sb_puts(b, R(s, v));
      p++;
      continue;
    }
    tg_sb_putn(b, p, 1);
  }
}

/* C promotes char and short operands to int, so these ops' result can leave a narrow dtype (200+100 is 300, -(-128) and
** -128/-1 are 128) and a widening CAST or a compare of it would see bits the dtype does not have. A typed variable wraps
** it on assignment; an inlined one is cast back: `((unsigned char)(a+b))`. Vector ALUs (gcc's vector_size) do not
** promote, and GPU dialects have none. A departure from tinygrad 0.14.0, which prints the bare expression. */
static int wraps_inline(tg_uop *u) {
  int sgn = u->dtype == TG_INT8 || u->dtype == TG_INT16, uns = u->dtype == TG_UINT8 || u->dtype == TG_UINT16;
  if (!(sgn || uns) || cg_max_numel(u) != 1) return 0;
  switch ((tg_op)u->op) {
  case TG_OP_ADD: case TG_OP_SUB: case TG_OP_MUL: case TG_OP_SHL: case TG_OP_NEG: return 1;
  case TG_OP_CDIV: return sgn;
  default: return 0;
  }
}
static char *wrap_inline(const cs_lang *L, tg_uop *u, char *l) { /* takes l; every format above is "(...)" or "-x" */
  tg_sb b = sb_new();
  tg_sb_printf(&b, "((%s)%s)", cs_scalar_name(L, u->dtype), l);
  free(l);
  return sb_take(&b);
}

/* the line (or inline expression) of one UOp; NULL when it cannot be rendered */
static char *render_uop(rstate *s, tg_uop *u) {
  const cs_lang *L = s->L;
  tg_sb b = sb_new();
  switch ((tg_op)u->op) {
  case TG_OP_BUFFER:
    if (cg_addrspace(u) == CG_AS_LOCAL) tg_sb_printf(&b, "%s%s", L->smem_align, L->smem_prefix);
    put_dtype(&b, L, u->dtype, 1, CG_AS_ALU, 0);
    tg_sb_printf(&b, " %s[%lld];", R(s, u), (long long)cg_max_numel(u));
    break;
  case TG_OP_RANGE:
    if (u->dtype == TG_DT_VOID) { tg_sb_puts(&b, "for (;;) {"); break; }
    tg_sb_puts(&b, "for (");
    put_dtype(&b, L, u->dtype, 1, CG_AS_REG, 0);
    tg_sb_printf(&b, " %s = 0; %s < %s; %s++) {", R(s, u), R(s, u), R(s, u->src[0]), R(s, u));
    break;
  case TG_OP_END:
    if (u->nsrc == 3 && u->src[1]->op == TG_OP_RANGE && u->src[2]->dtype == TG_BOOL) tg_sb_printf(&b, "  if (!(%s)) { break; }\n}", R(s, u->src[2]));
    else tg_sb_puts(&b, "}");
    break;
  case TG_OP_ENDIF: tg_sb_puts(&b, "}"); break;
  case TG_OP_SPECIAL: { /* code_for_workitem[arg[0]](arg[-1]); the "c" dialect has none (its kernels run per grid point) */
    const char *nm = u->arg.kind == TG_ARG_STR ? u->arg.s : "?";
    const char *w = nm[0] == 'g' ? L->workitem[0] : nm[0] == 'l' ? L->workitem[1] : nm[0] == 'i' ? L->workitem[2] : NULL;
    if (!w) {
      s->failed = 1;
      cg_err(TG_ERR_UNSUPPORTED, "render: the %s dialect has no launch indices (SPECIAL %s): a device with locals needs a GPU dialect", L->name, nm);
      break;
    }
    char dim = (char)('x' + (nm[strlen(nm) - 1] - '0'));
    for (const char *p = w; *p; p++) {
      if (p[0] == '%' && p[1] == 'c') tg_sb_putn(&b, &dim, 1), p++;
      else if (p[0] == '%' && p[1] == 'd') tg_sb_putn(&b, nm + strlen(nm) - 1, 1), p++;
      else tg_sb_putn(&b, p, 1);
    }
    tg_sb_printf(&b, "; /* %lld */", (long long)cg_vmax_i(u->src[0]));
    break;
  }
  case TG_OP_IF: tg_sb_printf(&b, "if (%s) {", R(s, u->src[0])); break;
  case TG_OP_BARRIER: tg_sb_puts(&b, L->barrier); break;
  case TG_OP_CAST:
    if (u->src[0]->op == TG_OP_CONST) { render_const(&b, s, u, u->src[0]); break; }
    /* a vector value: REG, or no addrspace at all (a STACK of CONSTs, e.g. the identity of an empty reduce, which
    ** tinygrad renders as a C cast between vector types of different sizes, which neither gcc nor clang accept) */
    if (cg_max_numel(u) > 1 && (cg_addrspace(u) == CG_AS_REG || cg_addrspace(u) == CG_AS_NONE) && strcmp(L->name, "c") != 0) {
      /* GPU dialects have no conversion between vector types (tinygrad's "(uint4)(long4)" does not compile with NVRTC):
      ** the vector constructor over a cast of each lane */
      tg_uop *x = u->src[0];
      int64_t n = cg_max_numel(u);
      const char *f4 = strstr(L->float4, "float4");
      tg_sb_putn(&b, L->float4, (size_t)(f4 - L->float4));
      put_type(&b, L, u);
      tg_sb_printf(&b, "%s%s", f4 + 6, L->float4_open);
      for (int64_t i = 0; i < n; i++) {
        tg_sb_printf(&b, "%s(", i ? "," : "");
        put_dtype(&b, L, u->dtype, 1, CG_AS_REG, 0);
        if (x->op == TG_OP_STACK && (int64_t)x->nsrc == n) tg_sb_printf(&b, ")(%s)", R(s, x->src[i]));
        else if (n > L->gep_arr_threshold) tg_sb_printf(&b, ")(%s[%lld])", R(s, x), (long long)i);
        else tg_sb_printf(&b, ")(%s.%c)", R(s, x), "xyzwabcd"[i & 7]);
      }
      tg_sb_puts(&b, L->float4_close);
      break;
    }
    if (cg_max_numel(u) > 1 && (cg_addrspace(u) == CG_AS_REG || cg_addrspace(u) == CG_AS_NONE)) {
      tg_sb_printf(&b, "__builtin_convertvector(%s, ", R(s, u->src[0]));
      put_type(&b, L, u);
      tg_sb_puts(&b, ")");
      break;
    }
    tg_sb_puts(&b, "(");
    put_cast_of(&b, s, u, R(s, u->src[0]));
    tg_sb_puts(&b, ")");
    break;
  case TG_OP_BITCAST: {
    int as = cg_addrspace(u);
    if (as == CG_AS_GLOBAL || as == CG_AS_LOCAL) {
      tg_sb_puts(&b, "((");
      put_dtype(&b, L, u->dtype, 1, as, 0);
      tg_sb_printf(&b, ")(%s))", R(s, u->src[0]));
      break;
    }
    if (L->bitcast != CS_BITCAST_MEMCPY) { /* tg_bitcast<T>((S)(x)), as_type<T>((S)(x)), __builtin_bit_cast(T, (S)(x)) */
      int builtin = L->bitcast == CS_BITCAST_BUILTIN;
      tg_sb_puts(&b, L->bitcast == CS_BITCAST_TEMPLATE ? "tg_bitcast<" : L->bitcast == CS_BITCAST_AS_TYPE ? "as_type<" : "__builtin_bit_cast(");
      if (builtin) put_type(&b, L, u);
      else put_dtype(&b, L, u->dtype, 1, CG_AS_REG, 0);
      tg_sb_puts(&b, builtin ? ", (" : ">((");
      if (builtin) put_type(&b, L, u->src[0]);
      else put_dtype(&b, L, u->src[0]->dtype, 1, CG_AS_REG, 0);
      tg_sb_printf(&b, ")(%s))", R(s, u->src[0]));
      break;
    }
    /* gcc and clang: a bit cast through memcpy in a statement expression */
    tg_sb_puts(&b, "({ ");
    put_type(&b, L, u->src[0]);
    tg_sb_printf(&b, " bs_ = (%s); ", R(s, u->src[0]));
    put_type(&b, L, u);
    tg_sb_puts(&b, " bd_; __builtin_memcpy(&bd_, &bs_, sizeof(bd_)); bd_; })");
    break;
  }
  case TG_OP_INDEX:
    if (u->nsrc != 2) { s->failed = 1; cg_err(TG_ERR_UNSUPPORTED, "render: INDEX with %u sources", u->nsrc); break; }
    render_index(&b, s, u->src[0], u->src[1]);
    break;
  case TG_OP_SHRINK: render_index(&b, s, u->src[0], u->src[1]); break;
  case TG_OP_STACK: {
    const char *f4 = strstr(L->float4, "float4");
    tg_sb_putn(&b, L->float4, (size_t)(f4 - L->float4));
    put_type(&b, L, u);
    tg_sb_printf(&b, "%s%s", f4 + 6, L->float4_open);
    for (size_t i = 0; i < u->nsrc; i++) tg_sb_printf(&b, "%s%s", i ? "," : "", R(s, u->src[i]));
    tg_sb_puts(&b, L->float4_close);
    break;
  }
  case TG_OP_LOAD:
    tg_sb_puts(&b, "(");
    if (u->nsrc == 3) tg_sb_printf(&b, "%s?", R(s, u->src[2]));
    put_access(&b, s, u->src[0]);
    if (u->nsrc == 3) tg_sb_printf(&b, ":%s", R(s, u->src[1]));
    tg_sb_puts(&b, ")");
    break;
  case TG_OP_STORE:
    put_access(&b, s, u->src[0]);
    tg_sb_printf(&b, " = %s;", R(s, u->src[1]));
    break;
  case TG_OP_WMMA: /* base_rewrite: __WMMA_...(a, b, c) */
    tg_sb_puts(&b, "__");
    cs_wmma_name(&b, u);
    tg_sb_printf(&b, "(%s, %s, %s)", R(s, u->src[0]), R(s, u->src[1]), R(s, u->src[2]));
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
    cg_err(TG_ERR_UNSUPPORTED, "failed to render %s %s", tg_op_name((tg_op)u->op), tg_dt_name((tg_dtype)u->dtype));
  }
  if (s->failed) { free(b.buf); return NULL; }
  return sb_take(&b);
}

/* ---------------- _render ---------------- */

static int gate_not_end(tg_uop *u, void *ctx) { (void)ctx; return u->op != TG_OP_END; }

typedef struct cnt { const char *prefix; int n; } cnt;

static void range_str(tg_sb *b, tg_uop *u) {
  for (uint32_t i = 0; i + 1 < u->arg.n; i++) {
    int64_t x = u->arg.items[i].i;
    tg_sb_printf(b, "%s%s%lld", i ? "_" : "", x >= 0 ? "" : "m", (long long)(x >= 0 ? x : -x));
  }
}

char *cs_render(const cs_lang *L, tg_uop *const *uops, size_t n, const char *fname) {
  rstate s = {0};
  s.L = L;
  tg_ptrset cc = {0};
  cg_list stores = {0}, writable = {0}, bufs = {0};
  tg_sb kern = sb_new(), out = sb_new();
  cs_uses uses = {.uops = uops, .n = n};
  cnt counts[8] = {{"wmma", 0}, {"buf", 0}, {"cast", 0}, {"bidx", 0}, {"val", 0}, {"alu", 0}};
  char *ret = NULL;
  if (!tg_ptrset_init(&s.idx, 2 * n + 16) || !tg_ptrset_init(&cc, 2 * n + 16)) goto out;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < uops[i]->nsrc; k++) {
      uint64_t *c = tg_ptrset_get(&cc, uops[i]->src[k]);
      if (c) (*c)++;
      else if (!tg_ptrset_put(&cc, uops[i]->src[k], 1)) goto out;
    }
  for (size_t i = 0; i < n; i++)
    if (uops[i]->op == TG_OP_STORE && cg_list_push(&stores, uops[i]->src[0])) goto out;
  {
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
  /* uops_to_dtypes: (dtype, max_numel) of every ALU-side value, deduped in order */
  for (size_t i = 0; i < n; i++) {
    tg_uop *u = uops[i];
    int as = cg_addrspace(u);
    if ((as != CG_AS_ALU && as != CG_AS_NONE) || u->dtype == TG_DT_VOID || !cg_has_shape(u)) continue;
    int64_t m = cg_max_numel(u);
    int seen = 0;
    for (int k = 0; k < uses.ndts; k++) seen |= uses.dts[k].dt == u->dtype && uses.dts[k].n == m;
    if (!seen && uses.ndts < 64) uses.dts[uses.ndts].dt = u->dtype, uses.dts[uses.ndts++].n = m;
  }
  int depth = 1;
  for (size_t i = 0; i < n && !s.failed; i++) {
    tg_uop *u = uops[i];
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
    if (u->op == TG_OP_SPECIAL) setname(&s, u, strdup(u->arg.kind == TG_ARG_STR ? u->arg.s : "?"));
    else if (u->op == TG_OP_RANGE) {
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
      if (wraps_inline(u) && !(l = wrap_inline(L, u, l))) goto out;
      setname(&s, u, l);
    } else {
      tg_sb line = sb_new();
      if (u->op != TG_OP_RANGE && u->op != TG_OP_STORE && u->op != TG_OP_BUFFER && u->dtype != TG_DT_VOID) {
        put_type(&line, L, u);
        tg_sb_printf(&line, " %s = %s%s", R(&s, u), l, u->op == TG_OP_SPECIAL ? "" : ";");
      } else tg_sb_puts(&line, l);
      free(l);
      char *text = sb_take(&line);
      if (!text) goto out;
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
  /* the prefix, the function, the entry */
  if (L->prefix) L->prefix(&out, L, &uses);
  if (L->prefix && !L->c_entry && !out.len) tg_sb_puts(&out, "\n"); /* "\n".join([]) + "\n" + kernel */
  int64_t launch_bounds = 1;
  for (size_t i = 0; i < n; i++)
    if (uops[i]->op == TG_OP_SPECIAL && uops[i]->arg.kind == TG_ARG_STR && uops[i]->arg.s[0] == 'l') launch_bounds *= cg_vmax_i(uops[i]->src[0]);
  if (L->c_entry) tg_sb_puts(&out, "static ");
  for (const char *p = L->kernel_typedef; *p; p++) {
    if (!strncmp(p, "{launch_bounds}", 15)) tg_sb_printf(&out, "%lld", (long long)launch_bounds), p += 14;
    else tg_sb_putn(&out, p, 1);
  }
  tg_sb_printf(&out, " %s%s(", fname, L->c_entry ? "_" : "");
  for (size_t i = 0; i < bufs.n; i++) {
    tg_uop *u = bufs.v[i];
    int as = cg_addrspace(u);
    if (i) tg_sb_puts(&out, ", ");
    if (cg_param_volatile(u)) tg_sb_puts(&out, "volatile ");
    if (as == CG_AS_ALU) tg_sb_puts(&out, L->var_prefix);
    if (as == CG_AS_ALU && L->var_type) tg_sb_puts(&out, L->var_type);
    else put_dtype(&out, L, u->dtype, 1, as, 0);
    tg_sb_printf(&out, "%s %s", as == CG_AS_ALU ? L->var_suffix : L->buffer_suffix, R(&s, u));
  }
  if (L->extra_args) tg_sb_printf(&out, "%s%s", bufs.n ? ", " : "", L->extra_args);
  tg_sb_puts(&out, ") {\n");
  if (kern.buf) tg_sb_puts(&out, kern.buf);
  tg_sb_puts(&out, L->c_entry ? "}\n" : "}");
  if (L->c_entry) {
    tg_sb_printf(&out, "void %s(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n  (void)bufs, (void)vals, (void)gid;\n  %s_(", fname, fname);
    size_t gi = 0, vi = 0;
    for (size_t i = 0; i < bufs.n; i++) {
      tg_uop *u = bufs.v[i];
      if (i) tg_sb_puts(&out, ", ");
      tg_sb_puts(&out, "(");
      put_dtype(&out, L, u->dtype, 1, cg_addrspace(u), 0);
      if (cg_addrspace(u) != CG_AS_ALU) tg_sb_printf(&out, ")bufs[%zu]", gi++);
      else {
        const char *nm = cg_param_name(u);
        if (nm && !strcmp(nm, "core_id")) tg_sb_puts(&out, ")gid[0]");
        else tg_sb_printf(&out, ")vals[%zu]", vi);
        vi++;
      }
    }
    tg_sb_puts(&out, ");\n}\n");
  }
  if (out.failed) goto out;
  if (L->c_entry) { /* the entry's fixed-width types without any header: stdint.h's own definitions, so a source that
                       also includes stdint.h redeclares them compatibly */
    tg_sb full = sb_new();
    tg_sb_puts(&full, "typedef __INT64_TYPE__ int64_t;\ntypedef __UINT32_TYPE__ uint32_t;\n");
    tg_sb_puts(&full, out.buf);
    ret = sb_take(&full);
  } else {
    ret = out.buf;
    out.buf = NULL;
  }
out:
  if (!ret && !s.failed) tg_err(TG_ERR_OUT_OF_MEMORY, "render: out of memory");
  for (size_t i = 0; i < s.nn; i++) free(s.names[i]);
  free(s.names);
  tg_ptrset_free(&s.idx), tg_ptrset_free(&cc);
  cg_list_free(&stores), cg_list_free(&writable), cg_list_free(&bufs);
  free(kern.buf), free(out.buf);
  return ret;
}

/* ---------------- ClangRenderer.render_kernel's defines ---------------- */

static void c_prefix(tg_sb *out, const cs_lang *L, const cs_uses *u) {
  if (cs_uses_dtype(u, TG_BFLOAT16)) tg_sb_printf(out, "typedef unsigned short %s;\n", cs_scalar_name(L, TG_BFLOAT16));
  for (int k = 0; k < u->ndts; k++) { /* render_vector_prefix, with vector_size for gcc */
    if (u->dts[k].n <= 1) continue;
    int64_t bytes = tg_dt_itemsize((tg_dtype)u->dts[k].dt) * u->dts[k].n, al = 1;
    while (al * 2 <= bytes) al *= 2;
    if (u->dts[k].dt == TG_BOOL) al = 1;
    tg_sb_printf(out, "typedef %s ", cs_scalar_name(L, u->dts[k].dt));
    put_dtype(out, L, u->dts[k].dt, u->dts[k].n, CG_AS_REG, 0);
    tg_sb_printf(out, " __attribute__((aligned(%lld),vector_size(%lld)));\n", (long long)al, (long long)bytes);
  }
}

/* ---------------- ClangRenderer.extra_matcher ---------------- */

tg_uop *cs_alu_via_float(tg_rw *rw, tg_uop *x) {
  tg_uop *s[4];
  cg_pool pool = {0};
  if (x->nsrc > 4) return NULL;
  for (size_t i = 0; i < x->nsrc; i++) s[i] = K(tg_um_cast(x->src[i], TG_FLOAT32));
  tg_uop *a = K(tg_uop_new((tg_op)x->op, TG_DT_AUTO, s, x->nsrc, x->arg));
  tg_uop *r = tg_um_cast(a, x->dtype);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

tg_uop *cs_cmp_via_float(tg_rw *rw, tg_uop *alu, tg_uop *x, tg_uop *y) {
  cg_pool pool = {0};
  tg_uop *a = K(tg_um_cast(x, TG_FLOAT32)), *b = K(tg_um_cast(y, TG_FLOAT32));
  tg_uop *r = tg_uop_new((tg_op)alu->op, TG_DT_AUTO, (tg_uop *[]){a, b}, 2, alu->arg);
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

/* round-to-nearest-even float -> bf16 through the bits, keeping nan a nan */
tg_uop *cs_cast_float_to_bf16(tg_rw *rw, tg_uop *x) {
  cg_pool pool = {0};
#define N(v) K(tg_um_ufix(tg_num_i(v)))
  tg_uop *u = K(tg_um_bitcast(x, TG_UINT32));
  tg_uop *nm = K(tg_um_binop(TG_OP_AND, K(tg_um_neg(u)), N(0x7f800000)));
  tg_uop *isn = K(tg_um_binop(TG_OP_CMPNE, nm, N(0)));
  tg_uop *rnd = K(tg_um_binop(TG_OP_ADD, K(tg_um_binop(TG_OP_ADD, u, K(tg_um_binop(TG_OP_AND, K(tg_um_binop(TG_OP_SHR, u, N(16))), N(1))))), N(0x7fff)));
  tg_uop *low = K(tg_um_binop(TG_OP_CMPNE, K(tg_um_binop(TG_OP_AND, u, N(0xffff))), N(0)));
  tg_uop *q = K(tg_um_where(low, K(tg_um_binop(TG_OP_OR, u, N(0x10000))), u));
  tg_uop *v = K(tg_um_where(isn, rnd, q));
  tg_uop *r = tg_um_bitcast(K(tg_um_cast(K(tg_um_binop(TG_OP_SHR, v, N(16))), TG_UINT16)), TG_BFLOAT16);
#undef N
  cg_pool_free(&pool);
  return cg_ok(rw, r);
fail:
  cg_pool_free(&pool);
  return tg_rw_fail(rw);
}

static tg_uop *alu_via_float(tg_rw *rw, tg_uop *x) { return cs_alu_via_float(rw, x); }
static tg_uop *cmp_via_float(tg_rw *rw, tg_uop *alu, tg_uop *x, tg_uop *y) { return cs_cmp_via_float(rw, alu, x, y); }
static tg_uop *cast_float_to_bf16(tg_rw *rw, tg_uop *x) { return cs_cast_float_to_bf16(rw, x); }

#include "renderer/cstyle_rules.inc"

const tg_pm *cg_pm_clang_extra(void) { return tg_pm_cg_clang_extra(); }

static char *render_c(const tg_renderer *r, tg_uop *const *uops, size_t n, const char *fname) { return cs_render(r->data, uops, n, fname); }
const tg_renderer tg_renderer_c = {.dialect = "c", .render = render_c, .extra_matcher = cg_pm_clang_extra, .data = &lang_c};
