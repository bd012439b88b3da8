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
uint64_t tg_arg_hash(const tg_arg *a);
int tg_arg_eq(const tg_arg *a, const tg_arg *b);
/* Python repr of the arg as tinygrad prints it: None, 3, 1.5, True, Invalid, dtypes.float, Ops.ADD, (0, 1), 'gidx0'.
** Appends to buf (cap bytes, always NUL-terminated); returns the length it wanted. */
size_t tg_arg_repr(const tg_arg *a, char *buf, size_t cap);

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
};

/* A dtype id meaning "derive it" (tinygrad's dtype=None: dtype_from_uop). */
#define TG_DT_AUTO 0xFF

/* Interned UOp (new reference). dtype TG_DT_AUTO derives it from op/src/arg as tinygrad's dtype_from_uop does.
** Returns NULL with an error for an op out of range, NULL sources, or a dtype rule violated (where cond not bool,
** shift of non-ints), and on out of memory. */
tg_uop *tg_uop_new(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg arg);
/* Same with a tag. */
tg_uop *tg_uop_new_tagged(tg_op op, int dtype, tg_uop *const *src, size_t nsrc, tg_arg arg, tg_arg tag);
/* tinygrad's UOp.replace: any of op/dtype/src/arg/tag changed (pass the old value to keep). New reference. */
tg_uop *tg_uop_replace(tg_uop *u, tg_op op, int dtype, tg_uop *const *src, size_t nsrc, const tg_arg *arg, const tg_arg *tag);

tg_uop *tg_uop_retain(tg_uop *u);   /* returns u; NULL-safe */
void tg_uop_release(tg_uop *u);     /* NULL-safe; frees iteratively (no recursion on deep graphs) */

/* Number of live UOps in the process (for leak tests). */
size_t tg_uop_live_count(void);

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

/* Value range (tinygrad's vmin/vmax) as doubles for floats/bools and exact int64 for ints. */
typedef struct tg_bounds { int is_float; int64_t imin, imax; double fmin, fmax; } tg_bounds;
tg_bounds tg_uop_bounds(tg_uop *u);

/* Toposort (tinygrad's UOp.toposort without gate): sources before users, deterministic. Returns a malloc'd array of
** borrowed pointers (free() it), n in *n; NULL on out of memory. */
tg_uop **tg_uop_toposort(tg_uop *root, size_t *n);

/* tinygrad's pretty_print / repr of a UOp graph, e.g.
**   UOp(Ops.ADD, dtypes.float, arg=None, src=(
**     UOp(Ops.CONST, dtypes.float, arg=1.0, src=()),
**     x1:=UOp(...),)) -- exact text of tinygrad's uop/render.py pretty_print.
** malloc'd string, free() it. */
char *tg_uop_str(tg_uop *u);

#endif
