/* dtype.h -- tinygrad 0.14.0's dtype.py inside libtgc: the dtype table, promotion lattice, casts and constant
** truncation. Internal (never installed); the public surface is the "Dtypes" section of include/tg.h.
**
** Dtypes are the public tg_dtype values (0..TG_DTYPE_COUNT-1 storage dtypes, TG_WEAKINT, TG_WEAKFLOAT) plus the
** internal TG_DT_VOID that UOps without a value carry. Every function here is thread-safe. */
#ifndef TG_DTYPE_H
#define TG_DTYPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg.h"

#define TG_DT_VOID ((tg_dtype)31) /* tinygrad's dtypes.void: internal only, never crosses tg.h */
#define TG_DT_NONE ((tg_dtype)-1) /* "no dtype": unknown name, or a promotion outside the lattice */
#define TG_DT_IDS 34              /* every dtype id is below this */

enum { /* tg_dt_desc.flags */
  TG_DTF_FLOAT = 1, TG_DTF_INT = 2, TG_DTF_UNSIGNED = 4, TG_DTF_BOOL = 8, TG_DTF_WEAK = 16, TG_DTF_FP8 = 32, TG_DTF_FNUZ = 64
};

/* One row of tinygrad's DTypes class. */
typedef struct tg_dt_desc {
  const char *name;   /* attribute name: "float32", "weakint", "void" */
  const char *c_name; /* DType.name: "float", "__bf16", "unsigned char" */
  char fmt;           /* struct format character, 0 for None */
  int8_t priority;
  uint16_t bitsize;
  uint8_t exp_bits, mant_bits; /* DTypes.finfo for floats, 0 otherwise */
  uint8_t flags;
} tg_dt_desc;

/* The row of dt, NULL when dt is no dtype (void included as a dtype). */
const tg_dt_desc *tg_dt_desc_of(tg_dtype dt);
bool tg_dt_valid(tg_dtype dt);  /* a known id, void included */
bool tg_dt_public(tg_dtype dt); /* a storage dtype or a weak one: what tg.h accepts */
const char *tg_dt_name(tg_dtype dt); /* attribute name, "?" for unknown ids */

/* tinygrad's dtypes.is_float/is_int (weak ones count) / is_unsigned / is_bool; false for unknown ids. */
bool tg_dt_is_float(tg_dtype dt);
bool tg_dt_is_int(tg_dtype dt);
bool tg_dt_is_unsigned(tg_dtype dt);
bool tg_dt_is_bool(tg_dtype dt);
bool tg_dt_is_weak(tg_dtype dt);
bool tg_dt_is_fp8(tg_dtype dt);
int tg_dt_bitsize(tg_dtype dt);
int tg_dt_itemsize(tg_dtype dt); /* (bitsize + 7) / 8 */
/* DType.__lt__: (priority, bitsize, name, fmt) lexicographically. */
bool tg_dt_lt(tg_dtype a, tg_dtype b);
/* DType.min / DType.max as doubles (+-inf for floats, 0/1 for bool; 64-bit int bounds rounded to double). */
double tg_dt_min(tg_dtype dt);
double tg_dt_max(tg_dtype dt);

/* The dtype an attribute name (case-insensitive, aliases included) stands for, as getattr(dtypes, name.lower()):
** also "void", "weakint", "weakfloat", "default_float", "default_int". TG_DT_NONE when unknown. */
tg_dtype tg_dt_from_name(const char *name);

/* Promotion. TG_DT_NONE when any input is outside the lattice (void, unknown ids) or n == 0. */
tg_dtype tg_dt_least_upper(const tg_dtype *dts, size_t n);
tg_dtype tg_dt_least_upper2(tg_dtype a, tg_dtype b);
tg_dtype tg_dt_least_upper_float(tg_dtype dt);
tg_dtype tg_dt_sum_acc(tg_dtype dt); /* also TG_DT_NONE when $SUM_DTYPE is not a dtype name */
bool tg_dt_can_lossless_cast(tg_dtype from, tg_dtype to);

/* $DEFAULT_FLOAT / $DEFAULT_INT (read once; float32 / int32 when unset). TG_DT_NONE when set to something that is
** not a float / int dtype name; tg_dt_env_error() then says why. */
tg_dtype tg_dt_default_float(void);
tg_dtype tg_dt_default_int(void);
const char *tg_dt_env_error(void);
tg_dtype tg_dt_strong(tg_dtype dt); /* weakint -> default int, weakfloat -> default float, others unchanged */
tg_dtype tg_dt_weak(tg_dtype dt);   /* floats -> weakfloat, ints -> weakint, others unchanged */

/* A scalar as tinygrad's constants hold one: .f for float dtypes, .i for ints and bool (uint64 as its bit pattern). */
typedef union tg_dt_scalar {
  double f;
  int64_t i;
} tg_dt_scalar;

/* tinygrad's truncate[dt] / DType.const on a value already in dt's representation: floats rounded to dt (float16
** overflow -> inf, bfloat16 and fp8 as tinygrad rounds them), ints wrapped to their width, bool -> 0/1. */
tg_dt_scalar tg_dt_truncate(tg_dtype dt, tg_dt_scalar v);
/* A double rounded to float dtype dt (identity for non-float dt). */
double tg_dt_truncate_float(tg_dtype dt, double x);
/* An integer wrapped to int dtype dt like ctypes.c_<dt>(x).value; bool -> 0/1; identity for weakint and others. */
int64_t tg_dt_wrap_int(tg_dtype dt, int64_t x);
/* A finite double converted to int dtype dt: truncated toward zero (Python's int()), then wrapped exactly. */
int64_t tg_dt_int_from_double(tg_dtype dt, double x);

/* Storage bits of v in dt (tinygrad's to_storage_scalar + struct.pack) and back (struct.unpack + from_storage_scalar). */
uint64_t tg_dt_to_bits(tg_dtype dt, tg_dt_scalar v);
tg_dt_scalar tg_dt_from_bits(tg_dtype dt, uint64_t bits);
/* tinygrad's bitcast(x, from, to); false when the itemsizes differ or a dtype has no storage. */
bool tg_dt_bitcast(tg_dtype from, tg_dtype to, tg_dt_scalar v, tg_dt_scalar *out);

/* fp8 <-> float, bit-exact with tinygrad's float_to_fp8 / fp8_to_float. */
uint8_t tg_dt_float_to_fp8(double x, tg_dtype dt);
double tg_dt_fp8_to_float(uint8_t x, tg_dtype dt);
#endif
