/* uop/alu.h -- constant values with Python's number semantics, and tinygrad 0.14.0's python_alu / exec_alu.
**
** A tg_num is what tinygrad keeps in a CONST's arg or computes in a rule's lambda: a Python int, float, bool or the
** Invalid singleton. Arithmetic follows Python (bool is an int, int/int is a float, // and % floor, comparisons give
** bools, a float NaN equals itself the way tinygrad's ConstFloat does). Python ints are unbounded; ours are int64 and
** wrap (two's complement) where Python would grow -- the one documented difference.
** Errors (ZeroDivisionError, TypeError, ...) return -1 after tg_err() set a message; nothing here allocates. */
#ifndef TG_UOP_ALU_H
#define TG_UOP_ALU_H
#include <stdint.h>

#include "uop/ops.h"

typedef enum tg_num_kind { TG_NUM_NONE = 0, TG_NUM_INT = 1, TG_NUM_FLOAT = 2, TG_NUM_BOOL = 3, TG_NUM_INVALID = 4 } tg_num_kind;

typedef struct tg_num {
  uint8_t kind; /* tg_num_kind; NONE is Python's None (no value) */
  union {
    int64_t i; /* INT, BOOL (0/1) */
    double f;  /* FLOAT */
  };
} tg_num;

static inline tg_num tg_num_i(int64_t v) { tg_num n; n.kind = TG_NUM_INT; n.i = v; return n; }
static inline tg_num tg_num_f(double v) { tg_num n; n.kind = TG_NUM_FLOAT; n.f = v; return n; }
static inline tg_num tg_num_b(int v) { tg_num n; n.kind = TG_NUM_BOOL; n.i = v != 0; return n; }
static inline tg_num tg_num_invalid(void) { tg_num n; n.kind = TG_NUM_INVALID; n.i = 0; return n; }
static inline tg_num tg_num_none(void) { tg_num n; n.kind = TG_NUM_NONE; n.i = 0; return n; }
static inline int tg_num_is_int(tg_num n) { return n.kind == TG_NUM_INT || n.kind == TG_NUM_BOOL; }
static inline double tg_num_as_f(tg_num n) { return n.kind == TG_NUM_FLOAT ? n.f : (double)n.i; }

/* A CONST's arg as a number (INT/FLOAT/BOOL/INVALID); kind NONE for any other arg. */
tg_num tg_num_of_arg(const tg_arg *a);
/* The arg tinygrad stores for the number (the inverse of tg_num_of_arg). */
tg_arg tg_num_to_arg(tg_num n);
/* Python's bool(n); Invalid and None are false. */
int tg_num_truthy(tg_num n);
/* Python's ==, with ConstFloat's NaN == NaN (what the pattern matcher's arg compare uses). */
int tg_num_equal(tg_num a, tg_num b);
/* repr(n) as Python prints it: 3, 1.5, True, nan, inf, -0.0, Invalid. Returns the length it wanted. */
int tg_num_repr(tg_num n, char *buf, int cap);

/* Python's binary operator for op: ADD SUB MUL FDIV(/) FLOORDIV(//) FLOORMOD(%) POW(**) AND OR XOR SHL SHR
** CMPLT CMPNE CMPEQ MAX(max(a,b)). Raises (returns -1) as Python does: ZeroDivisionError, bitwise op on floats,
** negative shift count. */
int tg_num_binop(tg_op op, tg_num a, tg_num b, tg_num *out);
/* Python's unary operators: NEG (-x), and ~x as XOR with -1 through tg_num_binop. abs(x): */
tg_num tg_num_neg(tg_num a);
tg_num tg_num_abs(tg_num a);
/* Python's math.gcd on ints (|result|, gcd(0,0) == 0); -1 with an error for floats. */
int tg_num_gcd(tg_num a, tg_num b, tg_num *out);

/* tinygrad's exec_alu(op, dtype, operands, truncate_output): python_alu[op] over n operands (1..3), Invalid for a
** binary op over Invalid, then truncate[dtype] when truncate_output (ints wrap to their width, floats round, bool
** tests nonzero). -1 with an error for ops python_alu has no entry for (FDIV, THREEFRY, ...) or operand types
** Python would reject. */
int tg_exec_alu(tg_op op, int dtype, const tg_num *operands, int n, int truncate_output, tg_num *out);

/* truncate[dtype](v) (identity where tinygrad has no truncate function: weak dtypes, void). */
int tg_num_truncate(int dtype, tg_num v, tg_num *out);
/* dtype.const(v): what UOp.const stores -- float(v) rounded for float dtypes, bool(v), int(v) for ints (no wrap, like
** Python), Invalid kept. -1 with an error for int(nan)/int(inf). */
int tg_num_dtype_const(int dtype, tg_num v, tg_num *out);

/* DType.min / DType.max (hi=1) as Python numbers: exact ints for int dtypes (weakint's +-2**799 saturate to int64),
** False/True for bool, -inf/inf for floats. */
tg_num tg_num_dtype_bound(int dtype, int hi);

#endif
