/* dtype.c -- tinygrad 0.14.0's dtype.py: the DTypes table, the JAX-style promotion lattice (least_upper_dtype),
** can_lossless_cast, sum_acc_dtype, constant truncation (truncate[], float_to_fp16/bf16/fp8) and scalar bitcast;
** then the public tg_dtype_* calls of include/tg.h. */
#include "dtype.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tgc_internal.h"

/* ---------------- the table (tinygrad's DTypes class body) ---------------- */

#define FL TG_DTF_FLOAT
#define IN TG_DTF_INT
#define UN (TG_DTF_INT | TG_DTF_UNSIGNED)
#define F8 (TG_DTF_FLOAT | TG_DTF_FP8)
#define FZ (TG_DTF_FLOAT | TG_DTF_FP8 | TG_DTF_FNUZ)

/* name, C name, fmt, priority, bitsize, finfo (exponent, mantissa), flags */
static const tg_dt_desc table[TG_DT_IDS] = {
    [TG_DT_VOID] = {"void", "void", 0, -1, 0, 0, 0, 0},
    [TG_WEAKINT] = {"weakint", "weakint", 0, 0, 800, 0, 0, IN | TG_DTF_WEAK},
    [TG_BOOL] = {"bool", "bool", '?', 0, 1, 0, 0, TG_DTF_BOOL},
    [TG_INT8] = {"int8", "signed char", 'b', 1, 8, 0, 0, IN},
    [TG_UINT8] = {"uint8", "unsigned char", 'B', 2, 8, 0, 0, UN},
    [TG_INT16] = {"int16", "short", 'h', 3, 16, 0, 0, IN},
    [TG_UINT16] = {"uint16", "unsigned short", 'H', 4, 16, 0, 0, UN},
    [TG_INT32] = {"int32", "int", 'i', 5, 32, 0, 0, IN},
    [TG_UINT32] = {"uint32", "unsigned int", 'I', 6, 32, 0, 0, UN},
    [TG_INT64] = {"int64", "long", 'q', 7, 64, 0, 0, IN},
    [TG_UINT64] = {"uint64", "unsigned long", 'Q', 8, 64, 0, 0, UN},
    [TG_WEAKFLOAT] = {"weakfloat", "weakfloat", 0, 9, 800, 0, 0, FL | TG_DTF_WEAK},
    [TG_FP8E4M3] = {"fp8e4m3", "float8_e4m3", 0, 10, 8, 4, 3, F8},
    [TG_FP8E5M2] = {"fp8e5m2", "float8_e5m2", 0, 11, 8, 5, 2, F8},
    [TG_FP8E4M3FNUZ] = {"fp8e4m3fnuz", "float8_e4m3fnuz", 0, 10, 8, 4, 3, FZ},
    [TG_FP8E5M2FNUZ] = {"fp8e5m2fnuz", "float8_e5m2fnuz", 0, 11, 8, 5, 2, FZ},
    [TG_FLOAT16] = {"float16", "half", 'e', 12, 16, 5, 10, FL},
    [TG_BFLOAT16] = {"bfloat16", "__bf16", 0, 13, 16, 8, 7, FL},
    [TG_FLOAT32] = {"float32", "float", 'f', 14, 32, 8, 23, FL},
    [TG_FLOAT64] = {"float64", "double", 'd', 15, 64, 11, 52, FL},
};

static const struct { const char *name; tg_dtype dt; } aliases[] = {
    {"half", TG_FLOAT16}, {"float", TG_FLOAT32}, {"double", TG_FLOAT64}, {"uchar", TG_UINT8}, {"ushort", TG_UINT16},
    {"uint", TG_UINT32},  {"ulong", TG_UINT64},  {"char", TG_INT8},      {"short", TG_INT16},  {"int", TG_INT32},
    {"long", TG_INT64},
};

const tg_dt_desc *tg_dt_desc_of(tg_dtype dt) {
  return (unsigned)dt < TG_DT_IDS && table[dt].name ? &table[dt] : NULL;
}
bool tg_dt_valid(tg_dtype dt) { return tg_dt_desc_of(dt) != NULL; }
bool tg_dt_public(tg_dtype dt) { return tg_dt_valid(dt) && dt != TG_DT_VOID; }
const char *tg_dt_name(tg_dtype dt) { return tg_dt_valid(dt) ? table[dt].name : "?"; }

static unsigned flags(tg_dtype dt) { return tg_dt_valid(dt) ? table[dt].flags : 0; }
bool tg_dt_is_float(tg_dtype dt) { return flags(dt) & TG_DTF_FLOAT; }
bool tg_dt_is_int(tg_dtype dt) { return flags(dt) & TG_DTF_INT; }
bool tg_dt_is_unsigned(tg_dtype dt) { return flags(dt) & TG_DTF_UNSIGNED; }
bool tg_dt_is_bool(tg_dtype dt) { return flags(dt) & TG_DTF_BOOL; }
bool tg_dt_is_weak(tg_dtype dt) { return flags(dt) & TG_DTF_WEAK; }
bool tg_dt_is_fp8(tg_dtype dt) { return flags(dt) & TG_DTF_FP8; }
int tg_dt_bitsize(tg_dtype dt) { return tg_dt_valid(dt) ? table[dt].bitsize : 0; }
int tg_dt_itemsize(tg_dtype dt) { return (tg_dt_bitsize(dt) + 7) / 8; }

bool tg_dt_lt(tg_dtype a, tg_dtype b) {
  const tg_dt_desc *x = tg_dt_desc_of(a), *y = tg_dt_desc_of(b);
  if (!x || !y) return false;
  if (x->priority != y->priority) return x->priority < y->priority;
  if (x->bitsize != y->bitsize) return x->bitsize < y->bitsize;
  int c = strcmp(x->c_name, y->c_name);
  return c ? c < 0 : (unsigned char)x->fmt < (unsigned char)y->fmt; /* Python would compare None with str here */
}

double tg_dt_min(tg_dtype dt) {
  if (tg_dt_is_int(dt)) return tg_dt_is_unsigned(dt) ? 0.0 : -ldexp(1.0, tg_dt_bitsize(dt) - 1);
  return tg_dt_is_float(dt) ? -INFINITY : 0.0;
}
double tg_dt_max(tg_dtype dt) {
  if (tg_dt_is_int(dt)) return ldexp(1.0, tg_dt_bitsize(dt) - !tg_dt_is_unsigned(dt)) - 1.0;
  return tg_dt_is_float(dt) ? INFINITY : 1.0;
}

/* ---------------- names ---------------- */

/* Attribute names and aliases only (no default_*), so that $DEFAULT_FLOAT=default_float cannot recurse. */
static tg_dtype lookup(const char *name) {
  char low[32];
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof low) return TG_DT_NONE;
  for (size_t i = 0; i <= n; i++) low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
  for (int i = 0; i < TG_DT_IDS; i++)
    if (table[i].name && strcmp(low, table[i].name) == 0) return (tg_dtype)i;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(low, aliases[i].name) == 0) return aliases[i].dt;
  return TG_DT_NONE;
}

tg_dtype tg_dt_from_name(const char *name) {
  if (!name) return TG_DT_NONE;
  if (strcasecmp(name, "default_float") == 0) return tg_dt_default_float();
  if (strcasecmp(name, "default_int") == 0) return tg_dt_default_int();
  return lookup(name);
}

/* ---------------- the promotion lattice, precomputed once ---------------- */

/* https://jax.readthedocs.io/en/latest/jep/9407-type-promotion.html: each dtype and the dtypes it promotes to. */
static const struct { tg_dtype from, to; } promo_lattice[] = {
    {TG_BOOL, TG_WEAKINT},       {TG_WEAKINT, TG_INT8},         {TG_WEAKINT, TG_UINT8},        {TG_INT8, TG_INT16},
    {TG_INT16, TG_INT32},        {TG_INT32, TG_INT64},          {TG_INT64, TG_WEAKFLOAT},      {TG_UINT8, TG_INT16},
    {TG_UINT8, TG_UINT16},       {TG_UINT16, TG_INT32},         {TG_UINT16, TG_UINT32},        {TG_UINT32, TG_INT64},
    {TG_UINT32, TG_UINT64},      {TG_UINT64, TG_WEAKFLOAT},     {TG_WEAKFLOAT, TG_FP8E4M3},    {TG_WEAKFLOAT, TG_FP8E5M2},
    {TG_WEAKFLOAT, TG_FP8E4M3FNUZ}, {TG_WEAKFLOAT, TG_FP8E5M2FNUZ}, {TG_FP8E4M3, TG_FLOAT16}, {TG_FP8E4M3, TG_BFLOAT16},
    {TG_FP8E5M2, TG_FLOAT16},    {TG_FP8E5M2, TG_BFLOAT16},     {TG_FP8E4M3FNUZ, TG_FLOAT16},  {TG_FP8E4M3FNUZ, TG_BFLOAT16},
    {TG_FP8E5M2FNUZ, TG_FLOAT16}, {TG_FP8E5M2FNUZ, TG_BFLOAT16}, {TG_FLOAT16, TG_FLOAT32},    {TG_BFLOAT16, TG_FLOAT32},
    {TG_FLOAT32, TG_FLOAT64},
};

#define BIT(dt) (1ull << (dt))

static struct {
  uint64_t parents[TG_DT_IDS]; /* _get_recursive_parents(dt) as a bit set of ids; 0 outside the lattice */
  tg_dtype order[TG_DT_IDS];   /* lattice members sorted by DType.__lt__ */
  int norder;
  tg_dtype default_float, default_int, sum_dtype;
  char env_error[256], sum_error[128];
} L;
static pthread_once_t L_once = PTHREAD_ONCE_INIT;

static uint64_t recursive_parents(tg_dtype dt) {
  if (L.parents[dt]) return L.parents[dt];
  uint64_t set = BIT(dt);
  for (size_t i = 0; i < sizeof promo_lattice / sizeof promo_lattice[0]; i++)
    if (promo_lattice[i].from == dt) set |= recursive_parents(promo_lattice[i].to);
  return L.parents[dt] = set;
}

/* tinygrad's ContextVar/getenv: the variable read once; an invalid value is kept as TG_DT_NONE, the reason in err. */
static tg_dtype env_dtype(const char *var, const char *dflt, unsigned need, char *err, size_t errsz) {
  const char *v = getenv(var);
  if (!v) v = dflt;
  tg_dtype dt = need ? lookup(v) : tg_dt_from_name(v);
  const char *why = dt == TG_DT_NONE                              ? "is not a dtype name"
                    : need == TG_DTF_FLOAT && !tg_dt_is_float(dt) ? "is not a float dtype"
                    : need == TG_DTF_INT && !tg_dt_is_int(dt)     ? "is not an int dtype"
                                                                  : NULL;
  if (!why) return dt;
  size_t n = strlen(err);
  snprintf(err + n, errsz - n, "%s%s='%.40s' %s", n ? "; " : "", var, v, why);
  return TG_DT_NONE;
}

static void lattice_init(void) {
  for (int i = 0; i < TG_DT_IDS; i++) {
    bool member = i == TG_FLOAT64;
    for (size_t j = 0; j < sizeof promo_lattice / sizeof promo_lattice[0]; j++) member |= promo_lattice[j].from == (tg_dtype)i;
    if (!member) continue;
    recursive_parents((tg_dtype)i);
    int k = L.norder++; /* insertion sort: a handful of entries */
    for (; k > 0 && tg_dt_lt((tg_dtype)i, L.order[k - 1]); k--) L.order[k] = L.order[k - 1];
    L.order[k] = (tg_dtype)i;
  }
  L.default_float = env_dtype("DEFAULT_FLOAT", "float32", TG_DTF_FLOAT, L.env_error, sizeof L.env_error);
  L.default_int = env_dtype("DEFAULT_INT", "int32", TG_DTF_INT, L.env_error, sizeof L.env_error);
}

static void init(void) { pthread_once(&L_once, lattice_init); }

tg_dtype tg_dt_default_float(void) { return init(), L.default_float; }
tg_dtype tg_dt_default_int(void) { return init(), L.default_int; }
const char *tg_dt_env_error(void) { return init(), L.env_error; }

static uint64_t parents_of(tg_dtype dt) { return (unsigned)dt < TG_DT_IDS ? L.parents[dt] : 0; }

tg_dtype tg_dt_least_upper(const tg_dtype *dts, size_t n) {
  init();
  if (n == 0) return TG_DT_NONE;
  uint64_t common = ~0ull;
  for (size_t i = 0; i < n; i++) {
    uint64_t p = parents_of(dts[i]);
    if (!p) return TG_DT_NONE;
    common &= p;
  }
  for (int i = 0; i < L.norder; i++)
    if (common & BIT(L.order[i])) return L.order[i];
  return TG_DT_NONE; /* unreachable: float64 is above everything */
}

tg_dtype tg_dt_least_upper2(tg_dtype a, tg_dtype b) { return tg_dt_least_upper((tg_dtype[]){a, b}, 2); }

tg_dtype tg_dt_least_upper_float(tg_dtype dt) {
  if (dt == TG_WEAKINT) return TG_WEAKFLOAT;
  if (tg_dt_is_float(dt)) return dt;
  tg_dtype f = tg_dt_default_float();
  return f == TG_DT_NONE ? TG_DT_NONE : tg_dt_least_upper2(dt, f);
}

static pthread_once_t sum_once = PTHREAD_ONCE_INIT;
static void sum_init(void) { L.sum_dtype = env_dtype("SUM_DTYPE", "float32", 0, L.sum_error, sizeof L.sum_error); }

tg_dtype tg_dt_sum_acc(tg_dtype dt) {
  if (tg_dt_is_unsigned(dt)) return tg_dt_least_upper2(dt, TG_UINT32);
  if (tg_dt_is_int(dt) || dt == TG_BOOL) return tg_dt_least_upper2(dt, TG_INT32);
  init(); /* SUM_DTYPE may name default_float, so the defaults come first */
  pthread_once(&sum_once, sum_init);
  return L.sum_dtype == TG_DT_NONE ? TG_DT_NONE : tg_dt_least_upper2(dt, L.sum_dtype);
}

tg_dtype tg_dt_strong(tg_dtype dt) {
  return dt == TG_WEAKINT ? tg_dt_default_int() : dt == TG_WEAKFLOAT ? tg_dt_default_float() : dt;
}
tg_dtype tg_dt_weak(tg_dtype dt) { return tg_dt_is_float(dt) ? TG_WEAKFLOAT : tg_dt_is_int(dt) ? TG_WEAKINT : dt; }

/* ---------------- can_lossless_cast ---------------- */

#define FP8S (BIT(TG_FP8E4M3) | BIT(TG_FP8E5M2) | BIT(TG_FP8E4M3FNUZ) | BIT(TG_FP8E5M2FNUZ))
#define U8_16 (BIT(TG_UINT8) | BIT(TG_UINT16))
#define I8_16 (BIT(TG_INT8) | BIT(TG_INT16))
#define INTS (U8_16 | I8_16 | BIT(TG_UINT32) | BIT(TG_UINT64) | BIT(TG_INT32) | BIT(TG_INT64))

/* For each target, the sources it holds exactly (besides itself and bool). */
static const uint64_t lossless_from[TG_DT_IDS] = {
    [TG_WEAKINT] = INTS,
    [TG_FLOAT64] = BIT(TG_FLOAT32) | BIT(TG_FLOAT16) | BIT(TG_BFLOAT16) | FP8S | U8_16 | I8_16 | BIT(TG_UINT32) | BIT(TG_INT32),
    [TG_FLOAT32] = BIT(TG_FLOAT16) | BIT(TG_BFLOAT16) | FP8S | U8_16 | I8_16,
    [TG_FLOAT16] = FP8S | BIT(TG_UINT8) | BIT(TG_INT8),
    [TG_UINT64] = U8_16 | BIT(TG_UINT32),
    [TG_UINT32] = U8_16,
    [TG_UINT16] = BIT(TG_UINT8),
    [TG_INT64] = U8_16 | I8_16 | BIT(TG_UINT32) | BIT(TG_INT32),
    [TG_INT32] = U8_16 | I8_16,
    [TG_INT16] = BIT(TG_UINT8) | BIT(TG_INT8),
};

bool tg_dt_can_lossless_cast(tg_dtype from, tg_dtype to) {
  if (from == to || from == TG_BOOL) return true;
  return (unsigned)to < TG_DT_IDS && (unsigned)from < 64 && (lossless_from[to] & BIT(from));
}

/* ---------------- truncation ---------------- */

static uint64_t dbits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static double dfrom(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
static uint32_t fbits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static float ffrom(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* struct.pack('e') rounding: nearest-even to 11 significant bits, subnormals below 2**-14, >= 65520 overflows to inf. */
static double round_fp16(double x) {
  if (x == 0 || !isfinite(x)) return x;
  double a = fabs(x);
  int e;
  frexp(a, &e);
  int q = (e - 1 < -14 ? -14 : e - 1) - 10; /* exponent of one unit in the last place */
  double r = ldexp(a, -q), fl = floor(r), d = r - fl; /* exact: scaling by a power of two */
  if (d > 0.5 || (d == 0.5 && fmod(fl, 2.0) != 0)) fl += 1;
  double res = ldexp(fl, q);
  return copysign(res > 65504.0 ? INFINITY : res, x);
}

/* float_to_bf16: through float32, then round-to-nearest-even on the float32 bits (tinygrad's double rounding). */
static double round_bf16(double x) {
  if (!isfinite(x)) return x;
  uint32_t u = fbits((float)x);
  u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
  return ffrom(u);
}

/* (bias, sig_bits, mant_mask, min_denorm_half, ovf_threshold, max_norm, min_norm) from cuda_fp8.hpp, as tinygrad's _fp8_cfg */
typedef struct { int bias, sig_bits; uint64_t mant_mask, min_denorm_half, ovf_threshold, max_norm, min_norm; } fp8_cfg;
static const fp8_cfg *fp8_cfg_of(tg_dtype dt) {
  static const fp8_cfg e4m3 = {7, 4, 0x7, 0x3F50000000000000ull, 0x407D000000000000ull, 0x7E, 0x3F90000000000000ull};
  static const fp8_cfg e5m2 = {15, 3, 0x3, 0x3EE0000000000000ull, 0x40EE000000000000ull - 1, 0x7B, 0x3F10000000000000ull};
  static const fp8_cfg e4m3fnuz = {8, 4, 0x7, 0x3F40000000000000ull, 0x406F000000000000ull - 1, 0x7F, 0x3F80000000000000ull};
  static const fp8_cfg e5m2fnuz = {16, 3, 0x3, 0x3ED0000000000000ull, 0x40EE000000000000ull - 1, 0x7F, 0x3F00000000000000ull};
  switch (dt) {
  case TG_FP8E4M3: return &e4m3;
  case TG_FP8E5M2: return &e5m2;
  case TG_FP8E4M3FNUZ: return &e4m3fnuz;
  case TG_FP8E5M2FNUZ: return &e5m2fnuz;
  default: return NULL;
  }
}

uint8_t tg_dt_float_to_fp8(double x, tg_dtype dt) {
  const fp8_cfg *c = fp8_cfg_of(dt);
  if (!c) return 0;
  bool fnuz = flags(dt) & TG_DTF_FNUZ;
  if (fnuz && (!isfinite(x) || x == 0.0)) return isfinite(x) ? 0x00 : 0x80;
  if (dt == TG_FP8E4M3 && !isfinite(x)) return signbit(x) ? 0xff : 0x7f; /* no inf: NaN of x's sign, as jax */
  if (dt == TG_FP8E5M2 && !isfinite(x)) return (signbit(x) ? 0x80 : 0) | (isinf(x) ? 0x7c : 0x7f);
  uint64_t xbits = dbits(x), half_ulp = 1ull << (52 - c->sig_bits), absx = xbits & 0x7FFFFFFFFFFFFFFFull;
  uint64_t sign = ((xbits >> 63) & 1) << 7, mantissa = (xbits >> (53 - c->sig_bits)) & c->mant_mask, res;
  int64_t exp = (int64_t)((xbits >> 52) & 0x7FF) - 1023 + c->bias;
  if (absx <= c->min_denorm_half) res = 0;
  else if (absx > c->ovf_threshold) res = c->max_norm;
  else if (absx >= c->min_norm) {
    res = ((uint64_t)exp << (c->sig_bits - 1)) | mantissa;
    uint64_t round_bits = xbits & ((half_ulp << 1) - 1);
    if (round_bits > half_ulp || (round_bits == half_ulp && (mantissa & 1))) res += 1;
  } else { /* subnormal in fp8: here exp is in [1 - sig_bits, 0], so the shift stays small */
    int shift = (int)(1 - exp);
    mantissa |= 1ull << (c->sig_bits - 1);
    res = mantissa >> shift;
    uint64_t half = half_ulp << shift, round_bits = (xbits | (1ull << 52)) & ((half << 1) - 1);
    if (round_bits > half || (round_bits == half && (res & 1))) res += 1;
  }
  return fnuz && res == 0 ? 0 : (uint8_t)(res | sign); /* fnuz has no negative zero */
}

double tg_dt_fp8_to_float(uint8_t x, tg_dtype dt) {
  const fp8_cfg *c = fp8_cfg_of(dt);
  if (!c) return NAN;
  bool fnuz = flags(dt) & TG_DTF_FNUZ;
  if (fnuz && x == 0x80) return NAN;
  if ((x & 0x7F) == 0) return x & 0x80 ? -0.0 : 0.0;
  int mant_bits = c->sig_bits - 1, exp_bits = 8 - c->sig_bits;
  int exp_max = (1 << exp_bits) - 1, mant_max = (1 << mant_bits) - 1;
  int sign = (x >> 7) & 1, exp = (x >> mant_bits) & exp_max, mantissa = x & mant_max;
  if (!fnuz && exp == exp_max) {
    if (dt == TG_FP8E5M2) return copysign(mantissa ? NAN : INFINITY, sign ? -1.0 : 1.0);
    if (mantissa == mant_max) return NAN;
  }
  double frac = (double)mantissa / (mant_max + 1);
  double val = exp == 0 ? ldexp(frac, 1 - c->bias) : ldexp(1 + frac, exp - c->bias);
  return sign ? -val : val;
}

double tg_dt_truncate_float(tg_dtype dt, double x) {
  switch (dt) {
  case TG_FLOAT16: return round_fp16(x);
  case TG_BFLOAT16: return round_bf16(x);
  case TG_FLOAT32: return (float)x; /* ctypes.c_float: IEEE rounding, overflow to inf */
  case TG_FP8E4M3: case TG_FP8E5M2: case TG_FP8E4M3FNUZ: case TG_FP8E5M2FNUZ:
    return tg_dt_fp8_to_float(tg_dt_float_to_fp8(x, dt), dt);
  default: return x; /* float64, weakfloat: float(x) */
  }
}

int64_t tg_dt_wrap_int(tg_dtype dt, int64_t x) {
  if (dt == TG_BOOL) return x != 0;
  int bits = tg_dt_bitsize(dt);
  if (!tg_dt_is_int(dt) || tg_dt_is_weak(dt) || bits >= 64) return x;
  uint64_t mask = (1ull << bits) - 1, u = (uint64_t)x & mask;
  if (!tg_dt_is_unsigned(dt) && (u >> (bits - 1)) & 1) u |= ~mask;
  return (int64_t)u;
}

int64_t tg_dt_int_from_double(tg_dtype dt, double x) {
  if (!isfinite(x)) return 0;
  if (tg_dt_is_weak(dt)) return fabs(x) < 0x1p63 ? (int64_t)x : x < 0 ? INT64_MIN : INT64_MAX; /* int(): unbounded in Python */
  double m = fmod(trunc(x), 0x1p64); /* exact, |m| < 2**64 */
  uint64_t u = m >= 0 ? (uint64_t)m : 0 - (uint64_t)-m;
  return tg_dt_wrap_int(dt, (int64_t)u);
}

tg_dt_scalar tg_dt_truncate(tg_dtype dt, tg_dt_scalar v) {
  if (tg_dt_is_float(dt)) v.f = tg_dt_truncate_float(dt, v.f);
  else v.i = tg_dt_wrap_int(dt, v.i);
  return v;
}

/* ---------------- storage bits and bitcast ---------------- */

static uint16_t half_bits(double x) {
  x = round_fp16(x);
  uint16_t s = signbit(x) ? 0x8000 : 0;
  double a = fabs(x);
  if (isnan(x)) return s | 0x7e00; /* the quiet NaN struct.pack('e') writes */
  if (isinf(x)) return s | 0x7c00;
  if (a < 0x1p-14) return s | (uint16_t)ldexp(a, 24);
  int e;
  frexp(a, &e);
  return s | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)((ldexp(a, 1 - e) - 1.0) * 1024.0);
}

static double half_from_bits(uint16_t h) {
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v = e == 0x1f ? (m ? NAN : INFINITY) : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
  return h & 0x8000 ? -v : v;
}

uint64_t tg_dt_to_bits(tg_dtype dt, tg_dt_scalar v) {
  switch (dt) {
  case TG_FLOAT16: return half_bits(v.f);
  case TG_BFLOAT16: return fbits((float)round_bf16(v.f)) >> 16;
  case TG_FLOAT32: return fbits((float)v.f);
  case TG_FLOAT64: return dbits(v.f);
  case TG_FP8E4M3: case TG_FP8E5M2: case TG_FP8E4M3FNUZ: case TG_FP8E5M2FNUZ: return tg_dt_float_to_fp8(v.f, dt);
  case TG_BOOL: return v.i != 0;
  default: {
    int bits = tg_dt_bitsize(dt);
    return bits >= 64 || bits == 0 ? (uint64_t)v.i : (uint64_t)v.i & ((1ull << bits) - 1);
  }
  }
}

tg_dt_scalar tg_dt_from_bits(tg_dtype dt, uint64_t bits) {
  tg_dt_scalar r = {.i = 0};
  switch (dt) {
  case TG_FLOAT16: r.f = half_from_bits((uint16_t)bits); break;
  case TG_BFLOAT16: r.f = ffrom((uint32_t)(bits & 0xFFFF) << 16); break;
  case TG_FLOAT32: r.f = ffrom((uint32_t)bits); break;
  case TG_FLOAT64: r.f = dfrom(bits); break;
  case TG_FP8E4M3: case TG_FP8E5M2: case TG_FP8E4M3FNUZ: case TG_FP8E5M2FNUZ: r.f = tg_dt_fp8_to_float((uint8_t)bits, dt); break;
  case TG_BOOL: r.i = (bits & 0xFF) != 0; break;
  default: r.i = tg_dt_wrap_int(dt, (int64_t)bits); break;
  }
  return r;
}

bool tg_dt_bitcast(tg_dtype from, tg_dtype to, tg_dt_scalar v, tg_dt_scalar *out) {
  bool storable = (unsigned)from < TG_DTYPE_COUNT && (unsigned)to < TG_DTYPE_COUNT;
  if (!storable || tg_dt_itemsize(from) != tg_dt_itemsize(to)) return false;
  *out = tg_dt_from_bits(to, tg_dt_to_bits(from, v));
  return true;
}

/* ---------------- public API (include/tg.h, "Dtypes") ---------------- */

#define CHECK_DT(fn, dt)                                                                                                  \
  if (!tg_dt_public(dt))                                                                                                  \
    return tg_err(TG_ERR_INVALID_ARGUMENT, fn ": unknown dtype %d (storage dtypes are 0..%d, weak ones %d and %d)", (int)(dt), \
                  TG_DTYPE_COUNT - 1, TG_WEAKINT, TG_WEAKFLOAT)
#define CHECK_OUT(fn, p) \
  if (!(p)) return tg_err(TG_ERR_NULL_POINTER, fn ": " #p " is NULL")

TG_API tg_status tg_dtype_get_info(tg_dtype dtype, tg_dtype_info *out) {
  CHECK_OUT("tg_dtype_get_info", out);
  CHECK_DT("tg_dtype_get_info", dtype);
  if (out->struct_size < TG_STRUCT_SIZE(tg_dtype_info, max))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_get_info: out->struct_size %zu is smaller than %zu", out->struct_size,
                  (size_t)TG_STRUCT_SIZE(tg_dtype_info, max));
  const tg_dt_desc *d = &table[dtype];
  tg_dtype_info i = {.struct_size = out->struct_size < sizeof i ? out->struct_size : sizeof i};
  snprintf(i.name, sizeof i.name, "%s", d->name);
  snprintf(i.c_name, sizeof i.c_name, "%s", d->c_name);
  i.fmt = d->fmt;
  i.priority = d->priority;
  i.bitsize = d->bitsize;
  i.itemsize = (uint32_t)tg_dt_itemsize(dtype);
  i.is_float = tg_dt_is_float(dtype), i.is_int = tg_dt_is_int(dtype), i.is_unsigned = tg_dt_is_unsigned(dtype);
  i.is_bool = tg_dt_is_bool(dtype), i.is_weak = tg_dt_is_weak(dtype);
  i.min = tg_dt_min(dtype), i.max = tg_dt_max(dtype);
  memcpy(out, &i, i.struct_size);
  return TG_OK;
}

TG_API tg_status tg_dtype_from_name(const char *name, tg_dtype *out) {
  CHECK_OUT("tg_dtype_from_name", name);
  CHECK_OUT("tg_dtype_from_name", out);
  tg_dtype dt = tg_dt_from_name(name);
  if (dt == TG_DT_NONE && (strcasecmp(name, "default_float") == 0 || strcasecmp(name, "default_int") == 0))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_from_name: '%.100s': %s", name, tg_dt_env_error());
  if (!tg_dt_public(dt)) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_from_name: '%.100s' is not a dtype name", name);
  *out = dt;
  return TG_OK;
}

TG_API tg_status tg_dtype_promote(const tg_dtype *dtypes, size_t n, tg_dtype *out) {
  CHECK_OUT("tg_dtype_promote", out);
  CHECK_OUT("tg_dtype_promote", dtypes);
  if (n == 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_promote: n is 0 (least_upper_dtype needs at least one dtype)");
  for (size_t i = 0; i < n; i++)
    if (!tg_dt_public(dtypes[i]))
      return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_promote: unknown dtype %d at index %zu", (int)dtypes[i], i);
  tg_dtype r = tg_dt_least_upper(dtypes, n);
  if (r == TG_DT_NONE) return tg_err(TG_ERR_INTERNAL, "tg_dtype_promote: no common dtype (promotion lattice broken)");
  *out = r;
  return TG_OK;
}

TG_API tg_status tg_dtype_least_upper_float(tg_dtype dtype, tg_dtype *out) {
  CHECK_OUT("tg_dtype_least_upper_float", out);
  CHECK_DT("tg_dtype_least_upper_float", dtype);
  tg_dtype r = tg_dt_least_upper_float(dtype);
  if (r == TG_DT_NONE) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_least_upper_float: %s", tg_dt_env_error());
  *out = r;
  return TG_OK;
}

TG_API tg_status tg_dtype_sum_acc(tg_dtype dtype, tg_dtype *out) {
  CHECK_OUT("tg_dtype_sum_acc", out);
  CHECK_DT("tg_dtype_sum_acc", dtype);
  tg_dtype r = tg_dt_sum_acc(dtype);
  if (r == TG_DT_NONE)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_sum_acc: %s", L.sum_error[0] ? L.sum_error : "SUM_DTYPE names void, which does not promote");
  *out = r;
  return TG_OK;
}

TG_API tg_status tg_dtype_can_lossless_cast(tg_dtype from, tg_dtype to, int *out) {
  CHECK_OUT("tg_dtype_can_lossless_cast", out);
  CHECK_DT("tg_dtype_can_lossless_cast", from);
  CHECK_DT("tg_dtype_can_lossless_cast", to);
  *out = tg_dt_can_lossless_cast(from, to);
  return TG_OK;
}

TG_API tg_status tg_dtype_truncate(tg_dtype dtype, double value, double *out) {
  CHECK_OUT("tg_dtype_truncate", out);
  CHECK_DT("tg_dtype_truncate", dtype);
  if (tg_dt_is_float(dtype)) *out = tg_dt_truncate_float(dtype, value);
  else if (tg_dt_is_bool(dtype)) *out = value != 0; /* Python's bool(): nan is True */
  else if (!isfinite(value))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_dtype_truncate: cannot convert %g to %s", value, table[dtype].name);
  else if (tg_dt_is_weak(dtype)) *out = trunc(value);
  else {
    int64_t i = tg_dt_int_from_double(dtype, value);
    *out = tg_dt_is_unsigned(dtype) ? (double)(uint64_t)i : (double)i;
  }
  return TG_OK;
}
