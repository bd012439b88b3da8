/* uop/ops.c -- tinygrad 0.14.0's uop/__init__.py (Ops, GroupOp) and the core of uop/ops.py: args, the interned UOp
** (UOpMetaClass's weak ucache), dtype_from_uop, UOp.const, replace and toposort. _shape lives in shape.c, _min_max
** in bounds.c, pretty_print in print.c. */
#include "uop/ops.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgc_internal.h"

/* ---------------- Ops and GroupOp ---------------- */

static const char *const op_names[TG_OP_COUNT] = {
#define OP_NAME(name, v) [v] = #name,
    TG_OPS(OP_NAME)
#undef OP_NAME
};

const char *tg_op_name(tg_op op) { return op > 0 && op < TG_OP_COUNT && op_names[op] ? op_names[op] : "?"; }

/* A set is spelled once as a list macro and expanded twice, once per 64-bit word, so each is a constant. */
#define W0(op) ((TG_OP_##op) < 64 ? 1ull << ((TG_OP_##op) & 63) : 0ull)
#define W1(op) ((TG_OP_##op) >= 64 ? 1ull << ((TG_OP_##op) & 63) : 0ull)
#define OPSET(LIST) {{LIST(W0), LIST(W1)}}

#define UNARY(F) (F(EXP2) | F(LOG2) | F(SIN) | F(SQRT) | F(RECIPROCAL) | F(NEG) | F(TRUNC))
#define BINARY(F)                                                                                                      \
  (F(ADD) | F(MUL) | F(CDIV) | F(MAX) | F(CMOD) | F(CMPLT) | F(CMPNE) | F(CMPEQ) | F(XOR) | F(SHL) | F(SHR) | F(OR) |  \
   F(AND) | F(THREEFRY) | F(SUB) | F(FDIV) | F(POW) | F(FLOORDIV) | F(FLOORMOD))
#define TERNARY(F) (F(WHERE) | F(MULACC))
#define ALU(F) (UNARY(F) | BINARY(F) | TERNARY(F))
#define BROADCASTABLE(F) (BINARY(F) | TERNARY(F))
#define ELEMENTWISE(F) (ALU(F) | F(CAST) | F(BITCAST))
#define DEFINES(F) (F(PARAM) | F(BUFFER))
#define IRREDUCIBLE(F) (F(CONST) | F(SPECIAL) | F(RANGE) | F(PARAM) | F(GETADDR))
#define MOVEMENT(F) (F(RESHAPE) | F(EXPAND) | F(PERMUTE) | F(PAD) | F(SHRINK) | F(FLIP))
#define COMMUTATIVE(F) (F(ADD) | F(MUL) | F(MAX) | F(CMPNE) | F(CMPEQ) | F(XOR) | F(AND) | F(OR))
#define ASSOCIATIVE(F) (F(ADD) | F(MUL) | F(AND) | F(OR) | F(MAX))
#define IDEMPOTENT(F) (F(OR) | F(AND) | F(MAX))
#define REDUCE(F) (F(ADD) | F(MUL) | F(MAX))
#define COMPARISON(F) (F(CMPLT) | F(CMPNE) | F(CMPEQ))
#define ALL_W(name, v) | W0(name)
#define ALL_W1(name, v) | W1(name)

const tg_opset TG_GROUP_UNARY = OPSET(UNARY), TG_GROUP_BINARY = OPSET(BINARY), TG_GROUP_TERNARY = OPSET(TERNARY),
               TG_GROUP_ALU = OPSET(ALU), TG_GROUP_BROADCASTABLE = OPSET(BROADCASTABLE),
               TG_GROUP_ELEMENTWISE = OPSET(ELEMENTWISE), TG_GROUP_DEFINES = OPSET(DEFINES),
               TG_GROUP_IRREDUCIBLE = OPSET(IRREDUCIBLE), TG_GROUP_MOVEMENT = OPSET(MOVEMENT),
               TG_GROUP_COMMUTATIVE = OPSET(COMMUTATIVE), TG_GROUP_ASSOCIATIVE = OPSET(ASSOCIATIVE),
               TG_GROUP_IDEMPOTENT = OPSET(IDEMPOTENT), TG_GROUP_REDUCE = OPSET(REDUCE),
               TG_GROUP_COMPARISON = OPSET(COMPARISON), TG_GROUP_ALL = {{0 TG_OPS(ALL_W), 0 TG_OPS(ALL_W1)}};

tg_opset tg_opset_of(const tg_op *ops, size_t n) {
  tg_opset s = {{0, 0}};
  for (size_t i = 0; i < n; i++)
    if (ops[i] > 0 && ops[i] < TG_OP_COUNT) s.w[ops[i] >> 6] |= 1ull << (ops[i] & 63);
  return s;
}

/* ---------------- args ---------------- */

static uint64_t mix(uint64_t h, uint64_t v) { /* splitmix64's finalizer over the running value */
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27, h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
  return mix(h, n);
}

static uint64_t float_key(double f) { /* ConstFloat: hash of the bits, with every NaN one value */
  uint64_t b;
  if (isnan(f)) return 0x7ff8000000000000ull;
  memcpy(&b, &f, sizeof b);
  return b;
}

static size_t str_len(const tg_arg *a) { return a->n == 0xFFFFFFFFu ? (a->s ? strlen(a->s) : 0) : a->n; }

uint64_t tg_arg_hash(const tg_arg *a) {
  uint64_t h = mix(0x51ed270b27cbull, a->kind);
  switch ((tg_arg_kind)a->kind) {
  case TG_ARG_NONE: case TG_ARG_INVALID: return h;
  case TG_ARG_INT: case TG_ARG_BOOL: case TG_ARG_DTYPE: case TG_ARG_OP: return mix(h, (uint64_t)a->i);
  case TG_ARG_FLOAT: return mix(h, float_key(a->f));
  case TG_ARG_STR: case TG_ARG_BYTES: return hash_bytes(h, a->s, str_len(a));
  case TG_ARG_ENUM: return hash_bytes(mix(h, (uint64_t)a->i), a->s, a->s ? strlen(a->s) : 0);
  case TG_ARG_TUPLE:
    for (uint32_t i = 0; i < a->n; i++) h = mix(h, tg_arg_hash(&a->items[i]));
    return mix(h, a->n);
  }
  return h;
}

int tg_arg_eq(const tg_arg *a, const tg_arg *b) {
  if (a->kind != b->kind) return 0;
  switch ((tg_arg_kind)a->kind) {
  case TG_ARG_NONE: case TG_ARG_INVALID: return 1;
  case TG_ARG_INT: case TG_ARG_BOOL: case TG_ARG_DTYPE: case TG_ARG_OP: return a->i == b->i;
  case TG_ARG_FLOAT: return float_key(a->f) == float_key(b->f);
  case TG_ARG_STR: case TG_ARG_BYTES: {
    size_t n = str_len(a);
    return n == str_len(b) && (n == 0 || memcmp(a->s, b->s, n) == 0);
  }
  case TG_ARG_ENUM: return a->i == b->i && strcmp(a->s ? a->s : "", b->s ? b->s : "") == 0;
  case TG_ARG_TUPLE:
    if (a->n != b->n) return 0;
    for (uint32_t i = 0; i < a->n; i++)
      if (!tg_arg_eq(&a->items[i], &b->items[i])) return 0;
    return 1;
  }
  return 0;
}

void tg_arg_free(tg_arg *a) {
  if (!a) return;
  if (a->kind == TG_ARG_TUPLE && a->items) {
    for (uint32_t i = 0; i < a->n; i++) tg_arg_free((tg_arg *)&a->items[i]);
    free((void *)a->items);
  }
  if (a->kind == TG_ARG_STR || a->kind == TG_ARG_BYTES || a->kind == TG_ARG_ENUM) free((void *)a->s);
  *a = tg_arg_none();
}

static tg_status oom(const char *what) { return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory copying %s", what); }

/* Deep copy; on failure *dst is None and nothing leaks. STR lengths left to compute (n == ~0) are filled in. */
tg_status tg_arg_copy(const tg_arg *src, tg_arg *dst) {
  *dst = *src;
  if (src->kind == TG_ARG_STR || src->kind == TG_ARG_BYTES || src->kind == TG_ARG_ENUM) {
    size_t n = src->kind == TG_ARG_ENUM ? (src->s ? strlen(src->s) : 0) : str_len(src);
    char *s = malloc(n + 1);
    if (!s) return *dst = tg_arg_none(), oom("a string arg");
    if (n) memcpy(s, src->s, n);
    s[n] = 0;
    dst->s = s;
    if (src->kind != TG_ARG_ENUM) dst->n = (uint32_t)n;
  } else if (src->kind == TG_ARG_TUPLE) {
    dst->items = NULL;
    if (src->n == 0) return TG_OK;
    tg_arg *items = calloc(src->n, sizeof *items);
    if (!items) return *dst = tg_arg_none(), oom("a tuple arg");
    for (uint32_t i = 0; i < src->n; i++) {
      if (tg_arg_copy(&src->items[i], &items[i]) != TG_OK) {
        for (uint32_t j = 0; j < i; j++) tg_arg_free(&items[j]);
        free(items);
        return *dst = tg_arg_none(), TG_ERR_OUT_OF_MEMORY;
      }
    }
    dst->items = items;
  }
  return TG_OK;
}

int tg_arg_ints(const int64_t *v, uint32_t n, int as_bool, tg_arg *out) {
  *out = tg_arg_tuple(NULL, 0);
  if (n == 0) return TG_OK;
  tg_arg *items = calloc(n, sizeof *items);
  if (!items) return oom("an int tuple");
  for (uint32_t i = 0; i < n; i++) items[i] = as_bool ? tg_arg_bool(v[i] != 0) : tg_arg_int(v[i]);
  out->items = items;
  out->n = n;
  return TG_OK;
}

/* ---------------- Python repr / str of args ---------------- */

void tg_sb_putn(tg_sb *b, const char *s, size_t n) {
  if (b->failed) return;
  if (b->grow && b->len + n + 1 > b->cap) {
    size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 256;
    char *nb = realloc(b->buf, cap);
    if (!nb) return (void)(b->failed = 1);
    b->buf = nb, b->cap = cap;
  }
  if (b->len < b->cap) {
    size_t room = b->cap - b->len - 1, k = n < room ? n : room;
    memcpy(b->buf + b->len, s, k);
    b->buf[b->len + k] = 0;
  }
  b->len += n;
}
void tg_sb_puts(tg_sb *b, const char *s) { tg_sb_putn(b, s, strlen(s)); }
void tg_sb_printf(tg_sb *b, const char *fmt, ...) {
  char tmp[256], *p = tmp;
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  if (n >= (int)sizeof tmp && (p = malloc((size_t)n + 1))) vsnprintf(p, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  va_end(ap);
  if (!p) return (void)(b->failed = b->grow);
  if (n > 0) tg_sb_putn(b, p, (size_t)n);
  if (p != tmp) free(p);
}

/* Python's repr(float): the shortest digits that read back as the same double, written fixed when the decimal point
** falls within -4 < exp <= 16 and in exponent form otherwise (CPython's float_repr_style 'short'). */
void tg_float_repr(double f, tg_sb *b) {
  if (isnan(f)) return tg_sb_puts(b, "nan");
  if (isinf(f)) return tg_sb_puts(b, f < 0 ? "-inf" : "inf");
  if (signbit(f)) tg_sb_puts(b, "-"), f = -f;
  if (f == 0) return tg_sb_puts(b, "0.0");
  char e[40], digits[24];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec - 1, f);
    if (strtod(e, NULL) == f) break;
  }
  int nd = 0, exp10 = atoi(strchr(e, 'e') + 1);
  for (const char *p = e; *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int decpt = exp10 + 1; /* value = 0.digits * 10^decpt */
  if (decpt <= -4 || decpt > 16) {
    tg_sb_putn(b, digits, 1);
    if (nd > 1) tg_sb_puts(b, "."), tg_sb_putn(b, digits + 1, (size_t)nd - 1);
    return tg_sb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  }
  if (decpt <= 0) {
    tg_sb_puts(b, "0.");
    for (int i = 0; i < -decpt; i++) tg_sb_puts(b, "0");
    return tg_sb_puts(b, digits);
  }
  if (decpt < nd) return tg_sb_putn(b, digits, (size_t)decpt), tg_sb_puts(b, "."), tg_sb_puts(b, digits + decpt);
  tg_sb_puts(b, digits);
  for (int i = nd; i < decpt; i++) tg_sb_puts(b, "0");
  tg_sb_puts(b, ".0");
}

/* Python's repr of str / bytes: single quotes unless the text holds ' and no ". Bytes >= 0x80 of a str are passed
** through (UTF-8 text Python would print as is). */
static void quoted(tg_sb *b, const char *s, size_t n, int is_bytes) {
  int sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
  char q = sq && !dq ? '"' : '\'';
  if (is_bytes) tg_sb_puts(b, "b");
  tg_sb_putn(b, &q, 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\' || c == (unsigned char)q) tg_sb_printf(b, "\\%c", c);
    else if (c == '\n') tg_sb_puts(b, "\\n");
    else if (c == '\r') tg_sb_puts(b, "\\r");
    else if (c == '\t') tg_sb_puts(b, "\\t");
    else if (c < 0x20 || c == 0x7f || (is_bytes && c >= 0x80)) tg_sb_printf(b, "\\x%02x", c);
    else tg_sb_putn(b, (const char *)&c, 1);
  }
  tg_sb_putn(b, &q, 1);
}

/* INVERSE_DTYPES_DICT: the name DType.__repr__ prints after "dtypes." (the last alias wins, so float32 is "float"). */
static const char *const dtype_repr_names[TG_DT_IDS] = {
    [TG_BOOL] = "bool", [TG_INT8] = "char", [TG_UINT8] = "uchar", [TG_INT16] = "short", [TG_UINT16] = "ushort",
    [TG_INT32] = "int", [TG_UINT32] = "uint", [TG_INT64] = "long", [TG_UINT64] = "ulong", [TG_FLOAT16] = "half",
    [TG_BFLOAT16] = "bfloat16", [TG_FLOAT32] = "float", [TG_FLOAT64] = "double", [TG_FP8E4M3] = "fp8e4m3",
    [TG_FP8E5M2] = "fp8e5m2", [TG_FP8E4M3FNUZ] = "fp8e4m3fnuz", [TG_FP8E5M2FNUZ] = "fp8e5m2fnuz",
    [TG_DT_VOID] = "void", [TG_WEAKINT] = "weakint", [TG_WEAKFLOAT] = "weakfloat",
};

const char *tg_dtype_repr_name(int dt) {
  return dt >= 0 && dt < TG_DT_IDS && dtype_repr_names[dt] ? dtype_repr_names[dt] : "?";
}

static void arg_fmt(tg_sb *b, const tg_arg *a, int as_str, int plain_float);

/* ParamArg.__repr__: slot and dtype, then the fields that differ from their defaults. Items after [0] follow the
** dataclass field order (TG_PARAMARG_*); missing trailing items are the defaults. */
static void paramarg_fmt(tg_sb *b, const tg_arg *a) {
  static const char *const names[] = {[TG_PARAMARG_VMIN_VMAX] = "vmin_vmax", [TG_PARAMARG_MULTIPLE_OF] = "multiple_of",
                                      [TG_PARAMARG_NAME] = "name", [TG_PARAMARG_ADDRSPACE] = "addrspace",
                                      [TG_PARAMARG_AXIS] = "axis", [TG_PARAMARG_DEVICE] = "device",
                                      [TG_PARAMARG_VOLATILE] = "volatile"};
  tg_sb_puts(b, "ParamArg(");
  for (uint32_t i = 1; i < a->n && i <= TG_PARAMARG_DTYPE; i++) {
    if (i > 1) tg_sb_puts(b, ", ");
    arg_fmt(b, &a->items[i], 0, 0);
  }
  for (uint32_t i = TG_PARAMARG_VMIN_VMAX; i < a->n && i < TG_PARAMARG_COUNT; i++) {
    const tg_arg *v = &a->items[i];
    int dflt = i == TG_PARAMARG_ADDRSPACE ? v->kind == TG_ARG_ENUM && v->s && !strcmp(v->s, "AddrSpace.GLOBAL")
               : i == TG_PARAMARG_VOLATILE ? v->kind == TG_ARG_BOOL && v->i == 0
                                            : v->kind == TG_ARG_NONE;
    if (dflt) continue;
    tg_sb_printf(b, ", %s=", names[i]);
    arg_fmt(b, v, 0, 1); /* vmin_vmax holds Python floats, not ConstFloats */
  }
  tg_sb_puts(b, ")");
}

/* Dataclass args other than ParamArg print like Python's generated __repr__ ("KernelInfo(name='test', beam=0)") or, for
** CallInfo, its own __repr__. A tuple whose first item names one of these classes is that dataclass (see ops.h). */
static const struct dc_desc {
  const char *cls;
  const char *fields[9];
} dataclasses[] = {
    {"KernelInfo", {"name", "axis_types", "dont_use_locals", "applied_opts", "opts_to_apply", "estimates", "beam"}},
    {"ProgramInfo", {"name", "global_size", "local_size", "vars", "globals", "outs", "ins", "target"}},
    {"Estimates", {"ops", "lds", "mem"}},
    {"BufferizeOpts", {"device", "addrspace", "removable"}},
    {"Opt", {"op", "axis", "arg"}},
    {"CallInfo", {NULL}}, /* positional: CallInfo(grad_fxn id, name, precompile, precompile_backward) */
};

static const struct dc_desc *dataclass_of(const tg_arg *a) {
  if (a->kind != TG_ARG_TUPLE || a->n == 0 || a->items[0].kind != TG_ARG_STR || !a->items[0].s) return NULL;
  for (size_t i = 0; i < sizeof dataclasses / sizeof *dataclasses; i++)
    if (!strcmp(a->items[0].s, dataclasses[i].cls)) return &dataclasses[i];
  return NULL;
}

static void dataclass_fmt(tg_sb *b, const tg_arg *a, const struct dc_desc *d, int plain_float) {
  tg_sb_printf(b, "%s(", d->cls);
  uint32_t nfields = d->fields[0] ? 0 : 4;
  while (d->fields[0] && nfields < 9 && d->fields[nfields]) nfields++;
  for (uint32_t i = 1; i < a->n && i <= nfields; i++) {
    if (i > 1) tg_sb_puts(b, ", ");
    if (d->fields[0]) tg_sb_printf(b, "%s=", d->fields[i - 1]);
    arg_fmt(b, &a->items[i], 0, plain_float);
  }
  tg_sb_puts(b, ")");
}

static int is_paramarg(const tg_arg *a) {
  return a->kind == TG_ARG_TUPLE && a->n > TG_PARAMARG_DTYPE && a->items[0].kind == TG_ARG_STR &&
         str_len(&a->items[0]) == 8 && !memcmp(a->items[0].s, "ParamArg", 8);
}

/* as_str: Python str() at the top level (a str prints bare, a float without the ConstFloat wrapper); items of a tuple
** are always repr'd, as tuple.__str__ does. */
static void arg_fmt(tg_sb *b, const tg_arg *a, int as_str, int plain_float) {
  switch ((tg_arg_kind)a->kind) {
  case TG_ARG_NONE: return tg_sb_puts(b, "None");
  case TG_ARG_INT: return tg_sb_printf(b, "%lld", (long long)a->i);
  case TG_ARG_BOOL: return tg_sb_puts(b, a->i ? "True" : "False");
  case TG_ARG_INVALID: return tg_sb_puts(b, "Invalid");
  case TG_ARG_DTYPE: return tg_sb_puts(b, "dtypes."), tg_sb_puts(b, tg_dtype_repr_name((int)a->i));
  case TG_ARG_OP: return tg_sb_puts(b, "Ops."), tg_sb_puts(b, tg_op_name((tg_op)a->i));
  case TG_ARG_ENUM: return tg_sb_puts(b, a->s ? a->s : "?");
  case TG_ARG_FLOAT:
    if (as_str || plain_float) return tg_float_repr(a->f, b);
    return tg_sb_puts(b, "ConstFloat("), tg_float_repr(a->f, b), tg_sb_puts(b, ")");
  case TG_ARG_STR:
    if (as_str) return tg_sb_putn(b, a->s, str_len(a));
    return quoted(b, a->s, str_len(a), 0);
  case TG_ARG_BYTES: return quoted(b, a->s, str_len(a), 1);
  case TG_ARG_TUPLE:
    if (is_paramarg(a)) return paramarg_fmt(b, a);
    const struct dc_desc *dc = dataclass_of(a);
    if (dc) return dataclass_fmt(b, a, dc, plain_float);
    tg_sb_puts(b, "(");
    for (uint32_t i = 0; i < a->n; i++) {
      if (i) tg_sb_puts(b, ", ");
      arg_fmt(b, &a->items[i], 0, plain_float);
    }
    return tg_sb_puts(b, a->n == 1 ? ",)" : ")");
  }
  tg_sb_puts(b, "?");
}

size_t tg_arg_repr(const tg_arg *a, char *buf, size_t cap) {
  tg_sb b = tg_sb_fixed(buf, cap);
  arg_fmt(&b, a, 0, 0);
  return b.len;
}

size_t tg_arg_pystr(const tg_arg *a, char *buf, size_t cap) {
  tg_sb b = tg_sb_fixed(buf, cap);
  arg_fmt(&b, a, 1, 0);
  return b.len;
}

void tg_sb_arg(tg_sb *b, const tg_arg *a, int as_str) { arg_fmt(b, a, as_str, 0); }

/* ---------------- the intern table (UOpMetaClass.ucache) ----------------
** Buckets of chains through tg_uop.next. The table's entries are weak: a UOp is unlinked when its count reaches zero.
** The drop to zero happens only under the table lock, so a lookup never resurrects a dying UOp; counts above one
** move with atomics and no lock. */

#define MIN_BUCKETS 1024

static struct {
  pthread_mutex_t mu;
  tg_uop **b;
  size_t nb, count;
} T = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static void rehash(size_t nb) { /* best effort: keeps the old table when out of memory */
  tg_uop **nbk = calloc(nb, sizeof *nbk);
  if (!nbk) return;
  for (size_t i = 0; i < T.nb; i++) {
    for (tg_uop *u = T.b[i], *nx; u; u = nx) {
      nx = u->next;
      u->next = nbk[u->hash & (nb - 1)];
      nbk[u->hash & (nb - 1)] = u;
    }
  }
  free(T.b);
  T.b = nbk;
  T.nb = nb;
}

static void table_unlink(tg_uop *u) {
  tg_uop **p = &T.b[u->hash & (T.nb - 1)];
  while (*p != u) p = &(*p)->next;
  *p = u->next;
  T.count--;
}

static void node_free(tg_uop *u) {
  tg_arg_free(&u->arg);
  tg_arg_free(&u->tag);
  if (u->shape_cache && u->shape_cache->ndim) free((void *)u->shape_cache); /* () is one shared object */
  free(u->bounds_cache);
  free(u);
}

static uint32_t node_hash(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, const tg_arg *arg, const tg_arg *tag) {
  /* Sources enter by address: interning makes that structural, and unlike their 32-bit hashes, addresses never
  ** repeat down a long chain (iterating a 32-bit hash over a chain cycles within ~2^16 links). */
  uint64_t h = mix(mix(op, (uint64_t)dtype), nsrc);
  for (size_t i = 0; i < nsrc; i++) h = mix(h, (uintptr_t)src[i]);
  h = mix(mix(h, tg_arg_hash(arg)), tg_arg_hash(tag));
  return (uint32_t)(h ^ (h >> 32));
}

static tg_uop *table_find(uint32_t h, tg_op op, int dtype, tg_uop *const *src, size_t nsrc, const tg_arg *arg,
                          const tg_arg *tag) {
  if (!T.nb) return NULL;
  for (tg_uop *u = T.b[h & (T.nb - 1)]; u; u = u->next) {
    if (u->hash != h || u->op != op || u->dtype != dtype || u->nsrc != nsrc) continue;
    if (nsrc && memcmp(u->src, src, nsrc * sizeof *src)) continue;
    if (tg_arg_eq(&u->arg, arg) && tg_arg_eq(&u->tag, tag)) return u;
  }
  return NULL;
}

/* Takes ownership of *arg and *tag (already deep copies). Called under the lock. */
static tg_uop *intern(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg *arg, tg_arg *tag) {
  uint32_t h = node_hash(op, dtype, src, nsrc, arg, tag);
  tg_uop *u = table_find(h, op, dtype, src, nsrc, arg, tag);
  if (u) {
    __atomic_add_fetch(&u->refs, 1, __ATOMIC_RELAXED);
    tg_arg_free(arg), tg_arg_free(tag);
    return u;
  }
  if (!T.nb) {
    if (!(T.b = calloc(MIN_BUCKETS, sizeof *T.b))) return tg_arg_free(arg), tg_arg_free(tag), oom("a UOp"), NULL;
    T.nb = MIN_BUCKETS;
  }
  u = calloc(1, sizeof *u + nsrc * sizeof(tg_uop *));
  if (!u) return tg_arg_free(arg), tg_arg_free(tag), oom("a UOp"), NULL;
  tg_uop **s = (tg_uop **)(u + 1);
  for (size_t i = 0; i < nsrc; i++) s[i] = src[i], __atomic_add_fetch(&src[i]->refs, 1, __ATOMIC_RELAXED);
  u->op = (uint8_t)op, u->dtype = (uint8_t)dtype, u->nsrc = (uint16_t)nsrc, u->hash = h, u->src = s;
  u->arg = *arg, u->tag = *tag, u->refs = 1;
  u->next = T.b[h & (T.nb - 1)];
  T.b[h & (T.nb - 1)] = u;
  if (++T.count > T.nb) rehash(T.nb * 2);
  return u;
}

tg_uop *tg_uop_retain(tg_uop *u) {
  if (u) __atomic_add_fetch(&u->refs, 1, __ATOMIC_RELAXED);
  return u;
}

void tg_uop_release(tg_uop *u) {
  if (!u) return;
  uint32_t r = __atomic_load_n(&u->refs, __ATOMIC_RELAXED);
  while (r > 1)
    if (__atomic_compare_exchange_n(&u->refs, &r, r - 1, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&T.mu);
  if (__atomic_sub_fetch(&u->refs, 1, __ATOMIC_ACQ_REL) != 0) return (void)pthread_mutex_unlock(&T.mu);
  /* A stack of dead UOps threaded through their (no longer needed) chain links: no allocation, no recursion. */
  table_unlink(u);
  u->next = NULL;
  for (tg_uop *dead = u; dead;) {
    tg_uop *n = dead;
    dead = n->next;
    for (size_t i = 0; i < n->nsrc; i++) {
      tg_uop *s = n->src[i];
      if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) table_unlink(s), s->next = dead, dead = s;
    }
    node_free(n);
  }
  if (T.nb > MIN_BUCKETS && T.count < T.nb / 8) rehash(T.nb / 4);
  pthread_mutex_unlock(&T.mu);
}

uint32_t tg_uop_refcount(const tg_uop *u) { return u ? __atomic_load_n(&u->refs, __ATOMIC_ACQUIRE) : 0; }

size_t tg_uop_live_count(void) {
  pthread_mutex_lock(&T.mu);
  size_t n = T.count;
  pthread_mutex_unlock(&T.mu);
  return n;
}

/* ---------------- dtype_from_uop ---------------- */

typedef enum { R_ERR = 0, R_VOID, R_NONE, R_CALL, R_INDEX, R_SRC0, R_BOOL, R_FLOAT1, R_WHERE, R_STACK, R_WMMA,
               R_GETTUPLE, R_UINT64, R_SHIFT, R_PARAM, R_UINT8, R_ARGDT, R_CONST, R_PROMO } dt_rule;

static const uint8_t dt_rules[TG_OP_COUNT] = {
    [TG_OP_STORE] = R_VOID, [TG_OP_LINEAR] = R_VOID, [TG_OP_SINK] = R_VOID, [TG_OP_PROGRAM] = R_VOID,
    [TG_OP_SOURCE] = R_VOID, [TG_OP_END] = R_VOID, [TG_OP_BARRIER] = R_VOID, [TG_OP_GROUP] = R_VOID,
    [TG_OP_IF] = R_VOID, [TG_OP_ENDIF] = R_VOID, [TG_OP_TUPLE] = R_VOID, [TG_OP_FUNCTION] = R_VOID,
    [TG_OP_CUSTOM_FUNCTION] = R_VOID, [TG_OP_REWRITE_ERROR] = R_VOID, [TG_OP_PYLITERAL] = R_VOID,
    [TG_OP_CALL] = R_CALL, [TG_OP_CUSTOM] = R_NONE, [TG_OP_CUSTOMI] = R_NONE, [TG_OP_INS] = R_NONE,
    [TG_OP_NOOP] = R_NONE, [TG_OP_INDEX] = R_INDEX,
    [TG_OP_LOAD] = R_SRC0, [TG_OP_UNSHARD] = R_SRC0, [TG_OP_REDUCE] = R_SRC0, [TG_OP_AFTER] = R_SRC0,
    [TG_OP_RANGE] = R_SRC0, [TG_OP_CONTIGUOUS] = R_SRC0, [TG_OP_CONTIGUOUS_BACKWARD] = R_SRC0, [TG_OP_COPY] = R_SRC0,
    [TG_OP_STAGE] = R_SRC0, [TG_OP_DETACH] = R_SRC0, [TG_OP_MSTACK] = R_SRC0, [TG_OP_MSELECT] = R_SRC0,
    [TG_OP_ALLREDUCE] = R_SRC0, [TG_OP_SPECIAL] = R_SRC0,
    [TG_OP_CMPLT] = R_BOOL, [TG_OP_CMPNE] = R_BOOL, [TG_OP_CMPEQ] = R_BOOL,
    [TG_OP_SIN] = R_FLOAT1, [TG_OP_LOG2] = R_FLOAT1, [TG_OP_EXP2] = R_FLOAT1, [TG_OP_SQRT] = R_FLOAT1,
    [TG_OP_RECIPROCAL] = R_FLOAT1, [TG_OP_WHERE] = R_WHERE, [TG_OP_STACK] = R_STACK, [TG_OP_WMMA] = R_WMMA,
    [TG_OP_GETTUPLE] = R_GETTUPLE, [TG_OP_GETADDR] = R_UINT64, [TG_OP_SHL] = R_SHIFT, [TG_OP_SHR] = R_SHIFT,
    [TG_OP_BUFFER] = R_PARAM, [TG_OP_PARAM] = R_PARAM, [TG_OP_BINARY] = R_UINT8, [TG_OP_CAST] = R_ARGDT,
    [TG_OP_BITCAST] = R_ARGDT, [TG_OP_CONST] = R_CONST,
    /* what the match statement leaves to the GroupOp checks after it */
    [TG_OP_NEG] = R_SRC0, [TG_OP_TRUNC] = R_SRC0, [TG_OP_ADD] = R_PROMO, [TG_OP_MUL] = R_PROMO,
    [TG_OP_CDIV] = R_PROMO, [TG_OP_MAX] = R_PROMO, [TG_OP_CMOD] = R_PROMO, [TG_OP_XOR] = R_PROMO,
    [TG_OP_OR] = R_PROMO, [TG_OP_AND] = R_PROMO, [TG_OP_THREEFRY] = R_PROMO, [TG_OP_SUB] = R_PROMO,
    [TG_OP_FDIV] = R_PROMO, [TG_OP_POW] = R_PROMO, [TG_OP_FLOORDIV] = R_PROMO, [TG_OP_FLOORMOD] = R_PROMO,
    [TG_OP_MULACC] = R_PROMO, [TG_OP_RESHAPE] = R_SRC0, [TG_OP_EXPAND] = R_SRC0, [TG_OP_PERMUTE] = R_SRC0,
    [TG_OP_PAD] = R_SRC0, [TG_OP_SHRINK] = R_SRC0, [TG_OP_FLIP] = R_SRC0,
};

/* The fewest sources each rule reads. */
static const uint8_t dt_rule_min_src[] = {[R_CALL] = 1, [R_INDEX] = 1, [R_SRC0] = 1, [R_FLOAT1] = 1, [R_WHERE] = 1,
                                          [R_WMMA] = 3, [R_GETTUPLE] = 1, [R_SHIFT] = 1, [R_PROMO] = 1};

tg_uop *tg_uop_base(tg_uop *u) {
  while ((tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)u->op) || u->op == TG_OP_DETACH) && u->nsrc) u = u->src[0];
  return u;
}

int tg_uop_is_invalid(const tg_uop *u) { return u->op == TG_OP_CONST && u->arg.kind == TG_ARG_INVALID; }

/* Python's list/tuple repr of dtypes, for error messages. */
static void dtype_list(tg_sb *b, tg_uop *const *src, size_t n) {
  tg_sb_puts(b, "[");
  for (size_t i = 0; i < n; i++) tg_sb_printf(b, "%sdtypes.%s", i ? ", " : "", tg_dtype_repr_name(src[i]->dtype));
  tg_sb_puts(b, "]");
}

/* promo_dtype: the common dtype when all agree, else least_upper_dtype (KeyError outside the lattice). */
static int promo(tg_uop *const *src, size_t n) {
  tg_dtype dts[64], first = (tg_dtype)src[0]->dtype;
  size_t same = 1;
  for (size_t i = 1; i < n; i++) same &= src[i]->dtype == first;
  if (same) return first;
  tg_dtype r = first;
  for (size_t i = 0; i < n; i += 63) { /* least_upper is associative: fold in chunks */
    size_t k = n - i < 63 ? n - i : 63;
    dts[0] = r;
    for (size_t j = 0; j < k; j++) dts[j + 1] = (tg_dtype)src[i + j]->dtype;
    if ((r = tg_dt_least_upper(dts, k + 1)) == TG_DT_NONE) break;
  }
  if (r != TG_DT_NONE) return r;
  char msg[256];
  tg_sb b = tg_sb_fixed(msg, sizeof msg);
  dtype_list(&b, src, n);
  return tg_err(TG_ERR_DTYPE, "no least_upper_dtype for %s", msg), -2;
}

static int dt_error(tg_op op, const tg_arg *arg, const char *fmt) {
  char a[200];
  tg_arg_repr(arg, a, sizeof a);
  tg_err(TG_ERR_DTYPE, fmt, tg_op_name(op), a);
  return -2;
}

static int index_dtype(tg_uop *b) { /* an image access is always float */
  if (b->op == TG_OP_PARAM) {
    tg_status st;
    const tg_shape *s = tg_uop_shape(b, &st);
    if (s && s->ndim == 3 && !s->dims[2].u && s->dims[2].v == 4) return TG_FLOAT32;
  }
  return b->dtype;
}

static int gettuple_dtype(tg_uop *const *src, const tg_arg *arg) {
  tg_uop *t = src[0]->op == TG_OP_FUNCTION && src[0]->nsrc ? src[0]->src[0] : src[0];
  if (arg->kind != TG_ARG_INT || arg->i < 0 || arg->i >= t->nsrc)
    return dt_error(TG_OP_GETTUPLE, arg, "no dtype for Ops.%s: tuple index %s out of range");
  return t->src[arg->i]->dtype;
}

static int shift_dtype(tg_uop *const *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (tg_dt_is_int((tg_dtype)src[i]->dtype) || tg_uop_is_invalid(tg_uop_base(src[i]))) continue;
    char msg[256];
    tg_sb b = tg_sb_fixed(msg, sizeof msg);
    dtype_list(&b, src, n);
    return tg_err(TG_ERR_DTYPE, "shift operands must be int, got %s", msg), -2;
  }
  return src[0]->dtype;
}

static int float_unary_dtype(tg_uop *x) { /* SIN/LOG2/EXP2/SQRT/RECIPROCAL: least_upper_float, Invalid stays bool */
  if (tg_uop_is_invalid(tg_uop_base(x))) return TG_BOOL;
  tg_dtype r = tg_dt_least_upper_float((tg_dtype)x->dtype);
  if (r != TG_DT_NONE) return r;
  return tg_err(TG_ERR_DTYPE, "no least_upper_float for dtypes.%s", tg_dtype_repr_name(x->dtype)), -2;
}

static int const_dtype(const tg_arg *arg) {
  switch (arg->kind) {
  case TG_ARG_INVALID: case TG_ARG_BOOL: return TG_BOOL;
  case TG_ARG_INT: return TG_WEAKINT;
  case TG_ARG_FLOAT: return TG_WEAKFLOAT;
  }
  return dt_error(TG_OP_CONST, arg, "no dtype for %s with arg %s");
}

int tg_uop_infer_dtype(tg_op op, tg_uop *const *src, size_t nsrc, const tg_arg *arg) {
  static const tg_arg none = {0};
  if (!arg) arg = &none;
  if (op <= 0 || op >= TG_OP_COUNT) return tg_err(TG_ERR_INVALID_ARGUMENT, "invalid op %d", (int)op), -2;
  dt_rule r = (dt_rule)dt_rules[op];
  if (r < sizeof dt_rule_min_src && nsrc < dt_rule_min_src[r])
    return tg_err(TG_ERR_INVALID_ARGUMENT, "Ops.%s needs at least %d sources, got %zu", tg_op_name(op),
                  dt_rule_min_src[r], nsrc), -2;
  switch (r) {
  case R_VOID: return TG_DT_VOID;
  case R_NONE: return -1;
  case R_CALL: return src[0]->dtype == TG_DT_VOID ? (int)TG_DT_VOID : -1;
  case R_INDEX: return index_dtype(src[0]);
  case R_SRC0: return src[0]->dtype;
  case R_BOOL: return TG_BOOL;
  case R_FLOAT1: return float_unary_dtype(src[0]);
  case R_WHERE:
    if (src[0]->dtype != TG_BOOL)
      return tg_err(TG_ERR_DTYPE, "where cond must be bool, got dtypes.%s", tg_dtype_repr_name(src[0]->dtype)), -2;
    if (nsrc < 2) return tg_err(TG_ERR_INVALID_ARGUMENT, "Ops.WHERE needs 3 sources, got %zu", nsrc), -2;
    return promo(src + 1, nsrc - 1);
  case R_STACK: return nsrc ? promo(src, nsrc) : (int)TG_DT_VOID;
  case R_WMMA: return src[2]->dtype;
  case R_GETTUPLE: return gettuple_dtype(src, arg);
  case R_UINT64: return TG_UINT64;
  case R_SHIFT: return shift_dtype(src, nsrc);
  case R_PARAM:
    if (arg->kind != TG_ARG_TUPLE || !is_paramarg(arg) || arg->items[TG_PARAMARG_DTYPE].kind != TG_ARG_DTYPE)
      return tg_err(TG_ERR_INVALID_ARGUMENT, "BUFFER/PARAM must have ParamArg"), -2;
    return (int)arg->items[TG_PARAMARG_DTYPE].i;
  case R_UINT8: return TG_UINT8;
  case R_ARGDT:
    if (arg->kind != TG_ARG_DTYPE) {
      char a[200];
      tg_arg_repr(arg, a, sizeof a);
      return tg_err(TG_ERR_INVALID_ARGUMENT, "CAST/BITCAST arg must be DType, got %s", a), -2;
    }
    return (int)arg->i;
  case R_CONST: return const_dtype(arg);
  case R_PROMO: return promo(src, nsrc);
  case R_ERR: break;
  }
  return dt_error(op, arg, "no dtype for Ops.%s with arg %s");
}

/* ---------------- construction ---------------- */

tg_uop *tg_uop_new_tagged(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg arg, tg_arg tag) {
  if (op <= 0 || op >= TG_OP_COUNT) return tg_err(TG_ERR_INVALID_ARGUMENT, "invalid op %d", (int)op), NULL;
  if (nsrc > UINT16_MAX) return tg_err(TG_ERR_INVALID_ARGUMENT, "Ops.%s: %zu sources", tg_op_name(op), nsrc), NULL;
  if (nsrc && !src) return tg_err(TG_ERR_NULL_POINTER, "Ops.%s: src is NULL", tg_op_name(op)), NULL;
  for (size_t i = 0; i < nsrc; i++)
    if (!src[i]) return tg_err(TG_ERR_NULL_POINTER, "Ops.%s: src[%zu] is NULL", tg_op_name(op), i), NULL;
  if (dtype == TG_DT_AUTO) {
    if ((dtype = tg_uop_infer_dtype(op, src, nsrc, &arg)) == -2) return NULL;
    if (dtype == -1) dtype = TG_DT_VOID; /* dtype_from_uop(...) or dtypes.void */
  } else if (!tg_dt_valid((tg_dtype)dtype)) {
    return tg_err(TG_ERR_INVALID_ARGUMENT, "Ops.%s: invalid dtype id %d", tg_op_name(op), dtype), NULL;
  }
  tg_arg a, t;
  if (tg_arg_copy(&arg, &a) != TG_OK) return NULL;
  if (tg_arg_copy(&tag, &t) != TG_OK) return tg_arg_free(&a), NULL;
  pthread_mutex_lock(&T.mu);
  tg_uop *u = intern(op, dtype, src, nsrc, &a, &t);
  pthread_mutex_unlock(&T.mu);
  return u;
}

tg_uop *tg_uop_new(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg arg) {
  return tg_uop_new_tagged(op, dtype, src, nsrc, arg, tg_arg_none());
}

tg_uop *tg_uop_replace(tg_uop *u, tg_op op, int dtype, tg_uop *const *src, size_t nsrc, const tg_arg *arg,
                       const tg_arg *tag) {
  if (!u) return tg_err(TG_ERR_NULL_POINTER, "replace: u is NULL"), NULL;
  if (!arg) arg = &u->arg;
  if (!tag) tag = &u->tag;
  int same = op == u->op && dtype == u->dtype && nsrc == u->nsrc;
  same = same && (!nsrc || (src && !memcmp(src, u->src, nsrc * sizeof *src)));
  if (same && tg_arg_eq(arg, &u->arg) && tg_arg_eq(tag, &u->tag)) return tg_uop_retain(u);
  return tg_uop_new_tagged(op, dtype, src, nsrc, *arg, *tag);
}

tg_uop *tg_uop_alu(tg_op op, size_t n, tg_uop *const *src) { return tg_uop_new(op, TG_DT_AUTO, src, n, tg_arg_none()); }

/* ---------------- UOp.const (DType.const) ---------------- */

static int const_dtype_ok(int dt) {
  if (tg_dt_valid((tg_dtype)dt) && dt != TG_DT_VOID) return 1;
  tg_err(TG_ERR_DTYPE, "no const of dtype %d (%s)", dt, tg_dtype_repr_name(dt));
  return 0;
}

static tg_uop *const_float_arg(int dt, double v) {
  v = isnan(v) ? NAN : tg_dt_truncate_float((tg_dtype)dt, v); /* tinygrad canonicalizes NaN before truncating */
  if (isnan(v)) v = NAN;
  return tg_uop_new(TG_OP_CONST, dt, NULL, 0, tg_arg_float(v));
}

/* DType.const keeps an int as Python int(val): no wrap-around to the dtype's width (truncation is for floats). */
tg_uop *tg_uop_const_int(int dt, int64_t v) {
  if (!const_dtype_ok(dt)) return NULL;
  if (tg_dt_is_float((tg_dtype)dt)) return const_float_arg(dt, (double)v);
  if (dt == TG_BOOL) return tg_uop_const_bool(v != 0);
  return tg_uop_new(TG_OP_CONST, dt, NULL, 0, tg_arg_int(v));
}

tg_uop *tg_uop_const_float(int dt, double v) {
  if (!const_dtype_ok(dt)) return NULL;
  if (tg_dt_is_float((tg_dtype)dt)) return const_float_arg(dt, v);
  if (dt == TG_BOOL) return tg_uop_const_bool(v != 0); /* bool(nan) is True */
  if (isnan(v)) return tg_err(TG_ERR_INVALID_ARGUMENT, "cannot convert float NaN to integer"), NULL;
  if (isinf(v)) return tg_err(TG_ERR_INVALID_ARGUMENT, "cannot convert float infinity to integer"), NULL;
  double t = trunc(v);
  if (t < -9223372036854775808.0 || t >= 9223372036854775808.0)
    return tg_err(TG_ERR_OUT_OF_RANGE, "int(%g) does not fit in 64 bits", v), NULL;
  return tg_uop_new(TG_OP_CONST, dt, NULL, 0, tg_arg_int((int64_t)t));
}

tg_uop *tg_uop_const_bool(int v) { return tg_uop_new(TG_OP_CONST, TG_BOOL, NULL, 0, tg_arg_bool(v)); }
tg_uop *tg_uop_const_invalid(void) { return tg_uop_new(TG_OP_CONST, TG_BOOL, NULL, 0, tg_arg_invalid()); }

/* ---------------- toposort ---------------- */

/* Open-addressing set of pointers. */
int tg_ptrset_init(tg_ptrset *s, size_t hint) {
  size_t n = 64;
  while (n < hint * 2) n *= 2;
  s->n = 0, s->cap = n;
  s->keys = calloc(n, sizeof *s->keys);
  s->vals = calloc(n, sizeof *s->vals);
  if (!s->keys || !s->vals) return free(s->keys), free(s->vals), s->keys = NULL, s->vals = NULL, 0;
  return 1;
}
void tg_ptrset_free(tg_ptrset *s) { free(s->keys), free(s->vals), s->keys = NULL, s->vals = NULL; }

static size_t ptr_slot(const tg_ptrset *s, const void *p) {
  size_t i = (size_t)(mix(0, (uintptr_t)p) & (s->cap - 1));
  while (s->keys[i] && s->keys[i] != p) i = (i + 1) & (s->cap - 1);
  return i;
}

uint64_t *tg_ptrset_get(const tg_ptrset *s, const void *p) {
  size_t i = ptr_slot(s, p);
  return s->keys[i] ? &s->vals[i] : NULL;
}

uint64_t *tg_ptrset_put(tg_ptrset *s, const void *p, uint64_t v) {
  if ((s->n + 1) * 2 > s->cap) {
    tg_ptrset g;
    if (!tg_ptrset_init(&g, s->cap)) return NULL;
    for (size_t i = 0; i < s->cap; i++)
      if (s->keys[i]) {
        size_t j = ptr_slot(&g, s->keys[i]);
        g.keys[j] = s->keys[i], g.vals[j] = s->vals[i];
      }
    g.n = s->n;
    tg_ptrset_free(s);
    *s = g;
  }
  size_t i = ptr_slot(s, p);
  if (!s->keys[i]) s->keys[i] = p, s->vals[i] = v, s->n++;
  return &s->vals[i];
}

typedef struct { uintptr_t *v; size_t n, cap; } ustack;

static int ustack_push(ustack *s, uintptr_t x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    uintptr_t *v = realloc(s->v, cap * sizeof *v);
    if (!v) return 0;
    s->v = v, s->cap = cap;
  }
  s->v[s->n++] = x;
  return 1;
}

/* UOp.toposort(gate): a stack of (node, visited) entries, the visited bit in the pointer's low bit. A node's sources
** are pushed in reverse so src[0] is emitted first; a node is emitted after its sources. */
tg_uop **tg_uop_toposort_gated(tg_uop *root, int (*gate)(tg_uop *, void *), void *ctx, size_t *n) {
  ustack st = {0};
  tg_ptrset seen;
  tg_uop **out = NULL;
  size_t nout = 0, cap = 0;
  *n = 0;
  if (!tg_ptrset_init(&seen, 64)) return oom("a toposort"), NULL;
  if (!ustack_push(&st, (uintptr_t)root)) goto fail;
  while (st.n) {
    uintptr_t e = st.v[--st.n];
    tg_uop *node = (tg_uop *)(e & ~(uintptr_t)1);
    if (tg_ptrset_get(&seen, node)) continue;
    if (!(e & 1)) {
      if (gate && !gate(node, ctx)) continue;
      if (!ustack_push(&st, e | 1)) goto fail;
      for (size_t i = node->nsrc; i-- > 0;)
        if (!ustack_push(&st, (uintptr_t)node->src[i])) goto fail;
      continue;
    }
    if (!tg_ptrset_put(&seen, node, nout)) goto fail;
    if (nout == cap) {
      cap = cap ? cap * 2 : 64;
      tg_uop **o = realloc(out, cap * sizeof *o);
      if (!o) goto fail;
      out = o;
    }
    out[nout++] = node;
  }
  free(st.v);
  tg_ptrset_free(&seen);
  if (!out && !(out = malloc(sizeof *out))) return oom("a toposort"), NULL; /* gated away entirely: empty, not NULL */
  *n = nout;
  return out;
fail:
  free(st.v), free(out);
  tg_ptrset_free(&seen);
  return oom("a toposort"), NULL;
}

tg_uop **tg_uop_toposort(tg_uop *root, size_t *n) { return tg_uop_toposort_gated(root, NULL, NULL, n); }
