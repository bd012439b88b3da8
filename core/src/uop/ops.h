/* uop/ops.h -- the UOp IR (tinygrad 0.14.0 uop/__init__.py + uop/ops.py).
**
** A UOp is (op, dtype, src, arg, tag). UOps are interned: building the same five values twice returns the same
** pointer, so structural equality is pointer equality. The intern table holds weak entries (tinygrad's weakref
** ucache): a UOp lives while someone holds a reference and dies with its last one, releasing its sources.
**
** Ownership: every function that returns `tg_uop *` returns a NEW reference, released with tg_uop_release(),
** unless its comment says "borrowed". Sources passed in are borrowed (the new UOp takes its own references).
** Threading: creation, retain and release are thread-safe (one lock on the intern table, atomic counts);
** derived properties are computed once and cached (guarded by the same lock).
** Errors: functions that can fail return NULL (or a status) after tg_err() set the message. */
#ifndef TG_UOP_OPS_H
#define TG_UOP_OPS_H
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "tg.h"

/* ---------------- Ops: same names, order and values as tinygrad 0.14.0 (order = toposort priority) ------- */
#define TG_OPS(X)                                                                                                     \
  X(SPECIAL, 1) X(BUFFER, 2) X(NOOP, 3) X(REWRITE_ERROR, 4) X(PARAM, 5) X(FUNCTION, 6) X(CALL, 7) X(PROGRAM, 8)          \
  X(LINEAR, 9) X(SOURCE, 10) X(BINARY, 11) X(SINK, 12) X(AFTER, 13) X(GROUP, 14) X(STACK, 15) X(TUPLE, 16)              \
  X(GETTUPLE, 17) X(GETADDR, 18) X(INDEX, 19) X(SHRINK, 20) X(LOAD, 21) X(STORE, 22) X(WMMA, 23) X(CAST, 24)             \
  X(BITCAST, 25) X(EXP2, 26) X(LOG2, 27) X(SIN, 28) X(SQRT, 29) X(RECIPROCAL, 30) X(NEG, 31) X(TRUNC, 32) X(ADD, 33)     \
  X(MUL, 34) X(SHL, 35) X(SHR, 36) X(CDIV, 37) X(MAX, 38) X(CMOD, 39) X(CMPLT, 40) X(CMPNE, 41) X(CMPEQ, 42) X(XOR, 43)  \
  X(OR, 44) X(AND, 45) X(THREEFRY, 46) X(SUB, 47) X(FDIV, 48) X(POW, 49) X(FLOORDIV, 50) X(FLOORMOD, 51) X(WHERE, 52)   \
  X(MULACC, 53) X(BARRIER, 54) X(RANGE, 55) X(IF, 56) X(END, 57) X(ENDIF, 58) X(CONST, 59) X(CUSTOM, 60) X(CUSTOMI, 61) \
  X(INS, 62) X(CONTIGUOUS, 63) X(CONTIGUOUS_BACKWARD, 64) X(DETACH, 65) X(STAGE, 66) X(COPY, 67) X(MSELECT, 68)         \
  X(MSTACK, 69) X(CUSTOM_FUNCTION, 70) X(RESHAPE, 71) X(PERMUTE, 72) X(EXPAND, 73) X(PAD, 74) X(FLIP, 75)               \
  X(UNSHARD, 76) X(REDUCE, 77) X(ALLREDUCE, 78) X(PYLITERAL, 79)

typedef enum tg_op {
  TG_OP_NONE = 0,
#define TG_OP_ENUM(name, v) TG_OP_##name = v,
  TG_OPS(TG_OP_ENUM)
#undef TG_OP_ENUM
  TG_OP_COUNT = 80
} tg_op;

/* "ADD", "RESHAPE", ...; "?" for out-of-range values. Static storage. */
const char *tg_op_name(tg_op op);

/* Sets of ops (tinygrad's GroupOp): a 128-bit mask indexed by op value. */
typedef struct tg_opset { uint64_t w[2]; } tg_opset;
static inline int tg_opset_has(tg_opset s, tg_op op) { return (int)((s.w[op >> 6] >> (op & 63)) & 1); }
tg_opset tg_opset_of(const tg_op *ops, size_t n);
extern const tg_opset TG_GROUP_UNARY, TG_GROUP_BINARY, TG_GROUP_TERNARY, TG_GROUP_ALU, TG_GROUP_BROADCASTABLE,
    TG_GROUP_ELEMENTWISE, TG_GROUP_DEFINES, TG_GROUP_IRREDUCIBLE, TG_GROUP_MOVEMENT, TG_GROUP_COMMUTATIVE,
    TG_GROUP_ASSOCIATIVE, TG_GROUP_IDEMPOTENT, TG_GROUP_REDUCE, TG_GROUP_COMPARISON, TG_GROUP_ALL;

/* ---------------- args: tinygrad's `arg: Any` as a tagged value ---------------- */

typedef enum tg_arg_kind {
  TG_ARG_NONE = 0,    /* Python None */
  TG_ARG_INT = 1,     /* Python int (i) */
  TG_ARG_FLOAT = 2,   /* tinygrad ConstFloat (f): -0.0 != 0.0 and nan == nan when hashing/comparing */
  TG_ARG_BOOL = 3,    /* Python bool (i = 0/1) */
  TG_ARG_INVALID = 4, /* tinygrad's Invalid singleton */
  TG_ARG_DTYPE = 5,   /* a DType (i = dtype id, see dtype.h) */
  TG_ARG_OP = 6,      /* an Ops member (i = tg_op) */
  TG_ARG_STR = 7,     /* str (s, n bytes, NUL-terminated copy) */
  TG_ARG_BYTES = 8,   /* bytes (s, n bytes) */
  TG_ARG_TUPLE = 9,   /* tuple of args (items, n); dataclasses (ParamArg, KernelInfo, ...) are tuples whose first item
                         is a TG_ARG_STR naming the class */
  TG_ARG_ENUM = 10    /* another enum member (AxisType, AddrSpace, ...): i = value, s = "AxisType.REDUCE" */
} tg_arg_kind;

typedef struct tg_arg {
  uint8_t kind;
  uint32_t n;              /* STR/BYTES: length; TUPLE: item count */
  union {
    int64_t i;
    double f;
  };
  const char *s;           /* STR/BYTES/ENUM payload, owned by the arg */
  const struct tg_arg *items; /* TUPLE payload, owned by the arg */
} tg_arg;

/* ParamArg (BUFFER/PARAM's arg) as a tuple: items[0] is the string "ParamArg", then the dataclass fields in order.
** Trailing items may be left out; they take the dataclass defaults (None, addrspace AddrSpace.GLOBAL, volatile False).
** addrspace is a TG_ARG_ENUM ("AddrSpace.ALU", i = its value); vmin_vmax a 2-tuple; device a str or tuple of str. */
enum {
  TG_PARAMARG_SLOT = 1, TG_PARAMARG_DTYPE = 2, TG_PARAMARG_VMIN_VMAX = 3, TG_PARAMARG_MULTIPLE_OF = 4, TG_PARAMARG_NAME = 5,
  TG_PARAMARG_ADDRSPACE = 6, TG_PARAMARG_AXIS = 7, TG_PARAMARG_DEVICE = 8, TG_PARAMARG_VOLATILE = 9, TG_PARAMARG_COUNT = 10
};

/* Constructors of arg values (stack values; tg_uop_new deep-copies what it keeps). */
static inline tg_arg tg_arg_none(void) { tg_arg a = {0}; return a; }
static inline tg_arg tg_arg_int(int64_t v) { tg_arg a = {0}; a.kind = TG_ARG_INT; a.i = v; return a; }
static inline tg_arg tg_arg_float(double v) { tg_arg a = {0}; a.kind = TG_ARG_FLOAT; a.f = v; return a; }
static inline tg_arg tg_arg_bool(int v) { tg_arg a = {0}; a.kind = TG_ARG_BOOL; a.i = v != 0; return a; }
static inline tg_arg tg_arg_invalid(void) { tg_arg a = {0}; a.kind = TG_ARG_INVALID; return a; }
static inline tg_arg tg_arg_dtype(int dt) { tg_arg a = {0}; a.kind = TG_ARG_DTYPE; a.i = dt; return a; }
static inline tg_arg tg_arg_op(tg_op op) { tg_arg a = {0}; a.kind = TG_ARG_OP; a.i = op; return a; }
static inline tg_arg tg_arg_str(const char *s) { tg_arg a = {0}; a.kind = TG_ARG_STR; a.s = s; a.n = 0xFFFFFFFFu; return a; } /* n computed on copy */
static inline tg_arg tg_arg_tuple(const tg_arg *items, uint32_t n) { tg_arg a = {0}; a.kind = TG_ARG_TUPLE; a.items = items; a.n = n; return a; }
/* A tuple of n ints (PERMUTE's order, FLIP's flags as 0/1 with kind BOOL when `as_bool`): items copied. */
int tg_arg_ints(const int64_t *v, uint32_t n, int as_bool, tg_arg *out); /* heap-backed; free with tg_arg_free */
void tg_arg_free(tg_arg *a);
/* Deep copy into *dst (free with tg_arg_free). TG_ERR_OUT_OF_MEMORY leaves *dst None and nothing allocated. */
tg_status tg_arg_copy(const tg_arg *src, tg_arg *dst);
uint64_t tg_arg_hash(const tg_arg *a);
int tg_arg_eq(const tg_arg *a, const tg_arg *b);
/* Python repr of the arg as tinygrad prints it: None, 3, ConstFloat(1.5), True, Invalid, dtypes.float, Ops.ADD, (0, 1),
** 'gidx0', ParamArg(0, dtypes.float). Floats are ConstFloats (tinygrad's CONST args), except a ParamArg's vmin_vmax.
** Appends to buf (cap bytes, always NUL-terminated); returns the length it wanted. */
size_t tg_arg_repr(const tg_arg *a, char *buf, size_t cap);
/* Python str() of the arg (what tagstr and REDUCE's argstr print): a str bare, a float without "ConstFloat(...)". */
size_t tg_arg_pystr(const tg_arg *a, char *buf, size_t cap);
/* "float" for float32, "uchar" for uint8, ...: the name DType.__repr__ prints after "dtypes.". Static storage. */
const char *tg_dtype_repr_name(int dt);

/* ---------------- the UOp ---------------- */

typedef struct tg_uop tg_uop;

/* A shape dimension: an int, or a symbolic UOp (borrowed from the shape's owner) when u != NULL. */
typedef struct tg_sint { int64_t v; tg_uop *u; } tg_sint;
typedef struct tg_shape { uint32_t ndim; tg_sint dims[]; } tg_shape;

struct tg_uop {
  uint8_t op;             /* tg_op */
  uint8_t dtype;          /* dtype id (dtype.h) */
  uint16_t nsrc;
  uint32_t hash;          /* structural hash of (op, dtype, src pointers, arg, tag) */
  tg_uop *const *src;     /* nsrc references owned by this UOp */
  tg_arg arg;             /* owned deep copy */
  tg_arg tag;             /* tinygrad's tag; TG_ARG_NONE when None */
  /* --- private to ops.c --- */
  uint32_t refs;
  uint32_t flags;
  tg_uop *next;           /* intern-table chain */
  const tg_shape *shape_cache;
  void *bounds_cache;     /* vmin/vmax, computed once (bounds.c) */
};

/* A dtype id meaning "derive it" (tinygrad's dtype=None: dtype_from_uop). */
#define TG_DT_AUTO 0xFF

/* Interned UOp (new reference). dtype TG_DT_AUTO derives it from op/src/arg as tinygrad's dtype_from_uop does.
** Returns NULL with an error for an op out of range, NULL sources, or a dtype rule violated (where cond not bool,
** shift of non-ints), and on out of memory. */
tg_uop *tg_uop_new(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg arg);
/* Same with a tag. */
tg_uop *tg_uop_new_tagged(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg arg, tg_arg tag);
/* tinygrad's UOp.replace: any of op/dtype/src/arg/tag changed (pass the old value to keep; a NULL arg or tag keeps
** it too). u itself, retained, when nothing changes. New reference. */
tg_uop *tg_uop_replace(tg_uop *u, tg_op op, int dtype, tg_uop *const *src, size_t nsrc, const tg_arg *arg, const tg_arg *tag);

tg_uop *tg_uop_retain(tg_uop *u);   /* returns u; NULL-safe */
void tg_uop_release(tg_uop *u);     /* NULL-safe; frees iteratively (no recursion on deep graphs) */

/* Number of live UOps in the process (for leak tests). */
size_t tg_uop_live_count(void);

/* The current reference count (for side tables keyed by a UOp they retain: an entry whose UOp has count 1 is held by
** nobody else, tinygrad's WeakKeyDictionary dropping it). */
uint32_t tg_uop_refcount(const tg_uop *u);

/* CONST helpers (tinygrad's UOp.const(dtype, b)): the value is truncated to the dtype as dtype.const() does.
** dtype may be a weak pseudo-dtype. */
tg_uop *tg_uop_const_int(int dtype, int64_t v);
tg_uop *tg_uop_const_float(int dtype, double v);
tg_uop *tg_uop_const_bool(int v);
tg_uop *tg_uop_const_invalid(void);

/* Shorthands that derive the dtype: tg_uop_alu(TG_OP_ADD, 2, (tg_uop*[]){a, b}). */
tg_uop *tg_uop_alu(tg_op op, size_t n, tg_uop *const *src);

/* The derived dtype rule alone (dtype_from_uop): a dtype id, or -1 when the op takes any dtype (CUSTOM, NOOP, ...),
** or -2 with an error when the sources break the rule. */
int tg_uop_infer_dtype(tg_op op, tg_uop *const *src, size_t nsrc, const tg_arg *arg);

/* Derived shape (tinygrad's UOp._shape), cached. Borrowed pointer valid while u lives. Returns NULL when the op has no
** shape (SINK, ...) and sets *err to TG_OK, or NULL with *err set (and tg_err message) when the shape is invalid
** ("bad reshape: (2, 3) -> (4,)"). err may be NULL. */
const tg_shape *tg_uop_shape(tg_uop *u, tg_status *err);

/* Value range (tinygrad's vmin/vmax), cached. Both views are always filled: imin/imax (ints and bools exactly, floats
** truncated; saturated to int64, so uint64's max and weakint's +-2**799 read INT64_MAX/INT64_MIN) and fmin/fmax.
** is_float: tinygrad's values are Python floats (a float dtype's default range, a float CONST, a CAST to float). */
/* sat_lo/sat_hi: -1/+1 when imin/imax were clamped into int64 (uint64's 2**63.., weakint's big values), else 0. */
typedef struct tg_bounds { int is_float; int64_t imin, imax; double fmin, fmax; int sat_lo, sat_hi; } tg_bounds;
tg_bounds tg_uop_bounds(tg_uop *u);
/* "vmin vmax" as Python's repr prints them ("0 9", "False True", "-inf inf"): ints exact to 127 bits (weakint's
** +-2**799 saturates there), bools and floats as Python writes them. Same buffer contract as tg_arg_repr. */
size_t tg_uop_bounds_repr(tg_uop *u, char *buf, size_t cap);

/* Toposort (tinygrad's UOp.toposort without gate): sources before users, deterministic. Returns a malloc'd array of
** borrowed pointers (free() it), n in *n; NULL on out of memory. */
tg_uop **tg_uop_toposort(tg_uop *root, size_t *n);

/* Same with tinygrad's gate: a node for which gate(node, ctx) returns 0 is neither entered nor listed. */
tg_uop **tg_uop_toposort_gated(tg_uop *root, int (*gate)(tg_uop *, void *), void *ctx, size_t *n);

/* tinygrad's pretty_print / repr of a UOp graph, e.g.
**   UOp(Ops.ADD, dtypes.float, arg=None, src=(
**     UOp(Ops.CONST, dtypes.float, arg=ConstFloat(1.0), src=()),
**     x1:=UOp(...),)) -- exact text of tinygrad's uop/render.py pretty_print.
** malloc'd string, free() it. */
char *tg_uop_str(tg_uop *u);

/* ---------------- small helpers shared by the uop files ---------------- */

/* UOp.base (through movement ops and DETACH; borrowed) and UOp.is_invalid. */
tg_uop *tg_uop_base(tg_uop *u);
int tg_uop_is_invalid(const tg_uop *u);

/* A string builder: fixed (grow = 0: truncates, always NUL-terminated, len counts what was wanted) or growing
** (grow = 1: buf is malloc'd; failed is set when out of memory). */
typedef struct tg_sb { char *buf; size_t cap, len; int grow, failed; } tg_sb;
static inline tg_sb tg_sb_fixed(char *buf, size_t cap) {
  tg_sb b = {0};
  b.buf = buf, b.cap = cap;
  if (cap) buf[0] = 0;
  return b;
}
void tg_sb_putn(tg_sb *b, const char *s, size_t n);
void tg_sb_puts(tg_sb *b, const char *s);
void tg_sb_printf(tg_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tg_sb_arg(tg_sb *b, const tg_arg *a, int as_str); /* tg_arg_repr / tg_arg_pystr into a builder */
void tg_float_repr(double f, tg_sb *b);                /* Python's repr(float) */

/* A hash map from pointers to uint64 (open addressing; no removal). */
typedef struct tg_ptrset { const void **keys; uint64_t *vals; size_t n, cap; } tg_ptrset;
int tg_ptrset_init(tg_ptrset *s, size_t hint); /* 0 when out of memory */
void tg_ptrset_free(tg_ptrset *s);
uint64_t *tg_ptrset_get(const tg_ptrset *s, const void *p);        /* NULL when absent */
uint64_t *tg_ptrset_put(tg_ptrset *s, const void *p, uint64_t v);  /* inserts v if absent; NULL when out of memory */

#endif
