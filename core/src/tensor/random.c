/* tensor/random.c -- tinygrad 0.14.0's counter-based random numbers (Tensor.manual_seed, _next_counter; mixin/rand.py's
** _threefry_random_bits, random_bits, _bits_to_rand, rand): the same per-device key and counter tensors, advanced
** with an assign at every draw, and the same graphs, so a seed gives tinygrad's streams bit for bit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "helpers.h"
#include "tensor/tensor.h"
#include <math.h>

typedef struct rng_dev { const char *dev; tg_tensor *seed, *counter; } rng_dev;
static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rng_seed;
static rng_dev *rngs;
static size_t nrngs, caprngs;

TG_API tg_status tg_tensor_manual_seed(uint64_t seed) {
  pthread_mutex_lock(&rng_mu);
  for (size_t i = 0; i < nrngs; i++) tg_tensor_release(rngs[i].seed), tg_tensor_release(rngs[i].counter);
  nrngs = 0, rng_seed = seed;
  pthread_mutex_unlock(&rng_mu);
  return TG_OK;
}

static tg_tv idx_int(tgt_scope *S, tg_tv x, int64_t i) {
  tgt_index ix = {.kind = TG_INDEX_INT, .start = i};
  return tgt_getitem(S, x, &ix, 1, TGT_NONE);
}
static tg_tv idx_slice(tgt_scope *S, tg_tv x, int64_t a, int64_t b) {
  tgt_index ix = {.kind = TG_INDEX_SLICE, .has = TG_INDEX_HAS_START | TG_INDEX_HAS_STOP, .start = a, .stop = b};
  return tgt_getitem(S, x, &ix, 1, TGT_NONE);
}
static tg_tv addi(tgt_scope *S, tg_tv x, int64_t v) { return tgt_add_py(S, x, tgt_pyint(v), 0); }
static tg_tv subi(tgt_scope *S, tg_tv x, int64_t v) { return tgt_sub_rev(S, x, tgt_const(S, tgt_pyint(v), TG_DT_AUTO), 0); }
static tg_tv lt(tgt_scope *S, tg_tv a, tg_tv b) { return tgt_binary(S, TG_BINARY_LT, a, b); }
static tg_tv cat2(tgt_scope *S, tg_tv a, tg_tv b) { tg_tv t[2] = {a, b}; return tgt_cat(S, t, 2, 0); }

/* Tensor._next_counter(device, num) -> (key, counter before this draw). Caller holds rng_mu. */
static tg_status next_counter(tgt_scope *S, const char *dev, uint64_t num, tg_tv *key, tg_tv *ctr) {
  rng_dev *r = NULL;
  for (size_t i = 0; i < nrngs && !r; i++)
    if (rngs[i].dev == dev) r = &rngs[i];
  tg_status st = TG_OK;
  if (!r) { /* seed = [int.from_bytes(sha256(len(seeds).to_bytes(4, "big")).digest(), "big"), Tensor._seed] as uint32 */
    if (nrngs == caprngs) {
      size_t nc = caprngs ? 2 * caprngs : 4;
      rng_dev *n = realloc(rngs, nc * sizeof *n);
      if (!n) return tg_err(TG_ERR_OUT_OF_MEMORY, "rand: out of memory");
      rngs = n, caprngs = nc;
    }
    uint8_t be[4] = {(uint8_t)(nrngs >> 24), (uint8_t)(nrngs >> 16), (uint8_t)(nrngs >> 8), (uint8_t)nrngs}, d[32];
    tg_sha256(be, 4, d);
    uint32_t seed[2] = {(uint32_t)d[28] << 24 | (uint32_t)d[29] << 16 | (uint32_t)d[30] << 8 | d[31], (uint32_t)rng_seed}, zero[2] = {0, 0};
    rng_dev nr = {dev, NULL, NULL};
    int64_t two = 2;
    if ((st = tg_tensor_from_host(TG_HOST_LIST, TG_UINT32, &two, 1, seed, sizeof seed, dev, &nr.seed)) ||
        (st = tg_tensor_from_host(TG_HOST_LIST, TG_UINT32, &two, 1, zero, sizeof zero, dev, &nr.counter)))
      return tg_tensor_release(nr.seed), st;
    rngs[nrngs] = nr;
    r = &rngs[nrngs++];
  }
  tg_tv c, k;
  if ((st = tgt_tensor_get(r->counter, "rand: counter", &c)) || (st = tgt_tensor_get(r->seed, "rand: seed", &k))) return st;
  int64_t lo = (int64_t)(num & 0xffffffffu), hi = (int64_t)(num >> 32);
  tg_tv new_low = addi(S, idx_slice(S, c, 0, 1), lo);
  tg_tv new_high = tgt_add(S, addi(S, idx_slice(S, c, 1, 2), hi), lt(S, new_low, idx_int(S, c, 0)));
  tg_tensor *nv = NULL;
  tgt_scope T = {0};
  tg_tv both = cat2(&T, new_low, new_high);
  if (S->st) return tgt_scope_end(&T), S->st;
  if (T.st) return tgt_scope_end(&T), T.st;
  /* counter.assign(new_low.cat(new_high)) */
  if ((st = tgt_finish_public(&T, both, &nv))) return st;
  st = tg_tensor_assign(r->counter, nv);
  tg_tensor_release(nv);
  if (st || (st = tgt_tensor_get(r->counter, "rand: counter", &c))) return st;
  tg_tv low = subi(S, idx_slice(S, c, 0, 1), lo);
  tg_tv high = tgt_sub(S, subi(S, idx_slice(S, c, 1, 2), hi), lt(S, idx_int(S, c, 0), tgt_const(S, tgt_pyint(lo), TG_DT_AUTO)));
  *key = k, *ctr = cat2(S, low, high);
  return S->st;
}

static tg_tv u64(tgt_scope *S, tg_tv x) { return tgt_cast(S, x, TG_UINT64); }
static tg_tv shl32(tgt_scope *S, tg_tv x) { return tgt_binary(S, TG_BINARY_SHL, x, tgt_const(S, tgt_pyint(32), TG_DT_AUTO)); }

/* _threefry_random_bits(key, counts0, counts1) */
static tg_tv threefry_bits(tgt_scope *S, tg_tv key, tg_tv c0, tg_tv c1) {
  tg_tv x = tgt_binary(S, TG_BINARY_OR, shl32(S, u64(S, c1)), u64(S, c0));
  tg_tv k = tgt_binary(S, TG_BINARY_OR, shl32(S, u64(S, idx_int(S, key, 1))), u64(S, idx_int(S, key, 0)));
  x = tgt_binary(S, TG_BINARY_THREEFRY, x, k);
  tg_tv hi = tgt_binary(S, TG_BINARY_SHR, x, tgt_const(S, tgt_pyint(32), TG_DT_AUTO));
  return cat2(S, tgt_cast(S, x, TG_UINT32), tgt_cast(S, hi, TG_UINT32));
}

/* random_bits(key, counter, num): num uint32 words (one chunk: num < 2^32 - 1 here) */
static tg_tv random_bits(tgt_scope *S, tg_tv key, tg_tv counter, int64_t num) {
  if (num == 0) return idx_slice(S, counter, 0, 0);
  if (num >= 0xffffffffll) return tgt_fail(S, TG_ERR_UNSUPPORTED, "rand: %lld words of random bits in one draw (at most 2^32 - 2)", (long long)num);
  tg_tv low = idx_slice(S, counter, 0, 1), high = idx_slice(S, counter, 1, 2);
  tg_tv c_low = addi(S, low, 0), c_high = tgt_add(S, addi(S, high, 0), lt(S, c_low, low));
  tg_tv new_key = threefry_bits(S, key, c_low, c_high);
  int64_t half = (num + 1) / 2;
  tgt_py stop = tgt_pyint(half);
  tg_tv counts0 = tgt_arange(S, tgt_pyint(0), &stop, tgt_pyint(1), TG_UINT32);
  tg_tv counts1 = addi(S, counts0, half);
  tg_tv chunk = idx_slice(S, threefry_bits(S, new_key, counts0, counts1), 0, num);
  return tgt_cat(S, &chunk, 1, 0); /* bits[0].cat(*bits[1:]): a cat of one chunk is still a STACK + reshape */
}

/* Tensor.rand(*shape, device, dtype, contiguous) inside a scope: the device's next draw. dev is interned. */
static tg_tv rand_draw(tgt_scope *S, const int64_t *shape, size_t ndim, int dtype, const char *dev, int contiguous) {
  if (S->st) return TGT_NONE;
  int nmant = dtype == TG_FLOAT16 ? 10 : dtype == TG_BFLOAT16 ? 7 : dtype == TG_FLOAT32 ? 23 : dtype == TG_FLOAT64 ? 52 : -1;
  if (nmant < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "rand only supports concrete float dtypes, got dtypes.%s", tg_dtype_repr_name(dtype));
  int64_t numel = 1;
  for (size_t i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char b[512];
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid input shape=%s", tgt_tuple_str(shape, ndim, b, sizeof b));
    }
    if (__builtin_mul_overflow(numel, shape[i], &numel)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "rand: shape too large");
  }
  if (!dev) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "rand: out of memory");
  int isz = tg_dt_itemsize((tg_dtype)dtype);
  int64_t bytes;
  if (__builtin_mul_overflow(numel, (int64_t)isz, &bytes) || bytes > INT64_MAX - 3)
    return tgt_fail(S, TG_ERR_UNSUPPORTED, "rand: %lld elements of %d bytes in one draw", (long long)numel, isz);
  int64_t words = (bytes + 3) / 4;
  pthread_mutex_lock(&rng_mu);
  tg_tv key = TGT_NONE, ctr = TGT_NONE;
  tg_status st = next_counter(S, dev, (uint64_t)words, &key, &ctr);
  pthread_mutex_unlock(&rng_mu);
  if (st) return S->st = S->st ? S->st : st, TGT_NONE;
  /* _bits_to_rand: keep the top nmant bits under the exponent of 1.0, minus 1 */
  tg_dtype udt = isz == 2 ? TG_UINT16 : isz == 4 ? TG_UINT32 : TG_UINT64;
  uint64_t one = isz == 2 ? (dtype == TG_FLOAT16 ? 0x3C00u : 0x3F80u) : isz == 4 ? 0x3F800000u : 0x3FF0000000000000ull;
  tg_tv bits = tgt_bitcast(S, random_bits(S, key, ctr, words), udt);
  bits = tgt_binary(S, TG_BINARY_SHR, bits, tgt_const(S, tgt_pyint(isz * 8 - nmant), TG_DT_AUTO));
  bits = tgt_binary(S, TG_BINARY_OR, bits, tgt_const(S, tgt_pyint((int64_t)one), TG_DT_AUTO));
  tg_tv r = tgt_reshape(S, subi(S, idx_slice(S, tgt_bitcast(S, bits, dtype), 0, numel), 1), shape, ndim);
  return contiguous ? tgt_contiguous(S, r) : r;
}

/* A device argument: NULL is the default device. */
static const char *dev_arg(const char *device) { return tgt_dev_canonical(device); }

static tg_status shape_args(const int64_t *shape, size_t ndim, tg_tensor **out, const char *fn) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "%s: out is NULL", fn);
  if (ndim && !shape) return tg_err(TG_ERR_NULL_POINTER, "%s: shape is NULL with ndim=%zu", fn, ndim);
  if (ndim > TGT_MAXD) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: %zu dims, at most %d", fn, ndim, TGT_MAXD);
  return TG_OK;
}

TG_API tg_status tg_tensor_rand(const int64_t *shape, size_t ndim, tg_dtype dtype, const char *device, int contiguous, tg_tensor **out) {
  tg_status st = shape_args(shape, ndim, out, "tg_tensor_rand");
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, rand_draw(&S, shape, ndim, dtype, dev_arg(device), contiguous), out);
}

/* ---------------- normal draws (Box-Muller), uniform ranges, initializers ---------------- */

static int default_float(tgt_scope *S) { return tgt_default_dtype(S, 1); }

/* randn_like's body: Box-Muller over rand(2, *shape) of float32, cast to dt. */
static tg_tv box_muller(tgt_scope *S, const int64_t *shape, size_t ndim, int dt, const char *dev, int contiguous) {
  int64_t sh[TGT_MAXD + 1];
  if (ndim + 1 > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims", TGT_MAXD);
  sh[0] = 2;
  for (size_t i = 0; i < ndim; i++) sh[i + 1] = shape[i];
  tg_tv src = rand_draw(S, sh, ndim + 1, TG_FLOAT32, dev, contiguous);
  /* src[0].mul(2*math.pi).cos().mul((1 - src[1]).log().mul(-2).sqrt()).cast(dt) */
  tg_tv a = tgt_unary(S, TG_UNARY_COS, tgt_mul_py(S, idx_int(S, src, 0), tgt_pyfloat(2 * 3.141592653589793), 0));
  tg_tv b = tgt_sub_rev(S, idx_int(S, src, 1), tgt_const(S, tgt_pyint(1), TG_DT_AUTO), 1);
  b = tgt_unary(S, TG_UNARY_SQRT, tgt_mul_py(S, tgt_unary(S, TG_UNARY_LOG, b), tgt_pyint(-2), 0));
  return tgt_cast(S, tgt_mul(S, a, b), dt);
}

static tg_tv randn(tgt_scope *S, const int64_t *shape, size_t ndim, int dtype, const char *dev) {
  /* Tensor.empty(*shape, device).randn_like(dtype): the empty only lends its shape, device and default float dtype */
  int dft = default_float(S);
  if (dft < 0) return TGT_NONE;
  tg_tv e = tgt_empty(S, shape, ndim, dft, dev);
  if (!e.u) return TGT_NONE;
  return box_muller(S, shape, ndim, dtype == TG_DT_AUTO ? dft : dtype, dev, 1);
}

static int check_shape(tgt_scope *S, const int64_t *shape, size_t ndim) {
  for (size_t i = 0; i < ndim; i++)
    if (shape[i] < 0) {
      char b[512];
      return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "invalid input shape=%s", tgt_tuple_str(shape, ndim, b, sizeof b)), -1;
    }
  return 0;
}

/* Tensor.uniform: ((high - low) * rand(*shape)).cast(dtype or default_float) + low. */
static tg_tv uniform(tgt_scope *S, const int64_t *shape, size_t ndim, tgt_py low, tgt_py high, int dtype, const char *dev, int contiguous) {
  if (S->st || check_shape(S, shape, ndim)) return TGT_NONE;
  if (tgt_py_ld(low) >= tgt_py_ld(high)) {
    char b[256];
    tg_sb sb = tg_sb_fixed(b, sizeof b);
    tg_sb_puts(&sb, "low="), tgt_py_str(&sb, low), tg_sb_puts(&sb, ", high="), tgt_py_str(&sb, high);
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "Tensor.uniform requires low < high, got %s", b);
  }
  tgt_py span;
  if (!tgt_py_sub(high, low, &span)) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "uniform: integer overflow in high - low");
  int dft = default_float(S);
  if (dft < 0) return TGT_NONE;
  tg_tv r = tgt_mul_py(S, rand_draw(S, shape, ndim, dft, dev, contiguous), span, 1);
  return tgt_add_py(S, tgt_cast(S, r, dtype == TG_DT_AUTO ? dft : dtype), low, 0);
}

/* Tensor.normal: std * randn(*shape, dtype, device) + mean. */
static tg_tv normal(tgt_scope *S, const int64_t *shape, size_t ndim, tgt_py mean, tgt_py std, int dtype, const char *dev) {
  if (S->st) return TGT_NONE;
  if (tgt_py_ld(std) < 0) {
    char b[128];
    tg_sb sb = tg_sb_fixed(b, sizeof b);
    tgt_py_str(&sb, std);
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "Tensor.normal requires std >= 0, got std=%s", b);
  }
  return tgt_add_py(S, tgt_mul_py(S, randn(S, shape, ndim, dtype, dev), std, 1), mean, 0);
}

static double prod_from(const int64_t *shape, size_t ndim, size_t from) {
  double p = 1;
  for (size_t i = from; i < ndim; i++) p *= (double)shape[i];
  return p;
}

#define RAND_OUT(fn)                                                                                                   \
  tg_status st_ = shape_args(shape, ndim, out, fn);                                                                    \
  if (!st_) st_ = tgt_check_dtype(dtype, 1, fn);                                                                       \
  if (st_) return st_;                                                                                                 \
  const char *dev = dev_arg(device);                                                                                   \
  int dt = dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype;                                                                \
  tgt_scope S = {0}

TG_API tg_status tg_tensor_randn(const int64_t *shape, size_t ndim, int dtype, const char *device, tg_tensor **out) {
  RAND_OUT("tg_tensor_randn");
  return tgt_finish_public(&S, randn(&S, shape, ndim, dt, dev), out);
}

TG_API tg_status tg_tensor_randn_like(tg_tensor *x, int dtype, const char *device, int contiguous, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_randn_like: out is NULL");
  tg_tv a;
  tg_status st = tgt_check_dtype(dtype, 1, "tg_tensor_randn_like");
  if (st || (st = tgt_tensor_get(x, "x", &a))) return st;
  if (dtype == TG_DTYPE_NONE && tg_dt_is_weak((tg_dtype)a.u->dtype))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "randn_like requires an explicit dtype for dtypes.%s", tg_dtype_repr_name(a.u->dtype));
  tgt_scope S = {0};
  tgt_shape sh;
  if (tgt_shape_of(&S, a, &sh)) return tgt_scope_end(&S), S.st;
  /* self.stack(self).rand_like(dtype=float32): rand(2, *shape) on device (else self's) */
  const char *dev = device ? dev_arg(device) : a.dev ? a.dev : dev_arg(NULL);
  return tgt_finish_public(&S, box_muller(&S, sh.d, sh.n, dtype == TG_DTYPE_NONE ? (int)a.u->dtype : dtype, dev, contiguous), out);
}

TG_API tg_status tg_tensor_uniform(const int64_t *shape, size_t ndim, tg_tensor *low, tg_tensor *high, int dtype, const char *device,
                                   int contiguous, tg_tensor **out) {
  tgt_py lo, hi;
  RAND_OUT("tg_tensor_uniform");
  if ((st_ = tgt_py_operand(low, "tg_tensor_uniform", "low", &lo)) || (st_ = tgt_py_operand(high, "tg_tensor_uniform", "high", &hi))) return st_;
  return tgt_finish_public(&S, uniform(&S, shape, ndim, lo, hi, dt, dev, contiguous), out);
}

TG_API tg_status tg_tensor_randint(const int64_t *shape, size_t ndim, int64_t low, int64_t high, int dtype, const char *device, int contiguous,
                                   tg_tensor **out) {
  RAND_OUT("tg_tensor_randint");
  if (dtype == TG_DTYPE_NONE) dt = TG_INT32;
  if (!tg_dt_is_int((tg_dtype)dt) || tg_dt_is_weak((tg_dtype)dt))
    return tg_err(TG_ERR_DTYPE, "dtype=dtypes.%s must be int", tg_dtype_repr_name(dt));
  if (low >= high) return tg_err(TG_ERR_INVALID_ARGUMENT, "Tensor.randint requires low < high, got low=%lld, high=%lld", (long long)low, (long long)high);
  return tgt_finish_public(&S, uniform(&S, shape, ndim, tgt_pyint(low), tgt_pyint(high), dt, dev, contiguous), out);
}

TG_API tg_status tg_tensor_normal(const int64_t *shape, size_t ndim, tg_tensor *mean, tg_tensor *std, int dtype, const char *device, tg_tensor **out) {
  tgt_py m, sd;
  RAND_OUT("tg_tensor_normal");
  if ((st_ = tgt_py_operand(mean, "tg_tensor_normal", "mean", &m)) || (st_ = tgt_py_operand(std, "tg_tensor_normal", "std", &sd))) return st_;
  return tgt_finish_public(&S, normal(&S, shape, ndim, m, sd, dt, dev), out);
}

TG_API tg_status tg_tensor_scaled_uniform(const int64_t *shape, size_t ndim, int dtype, const char *device, int contiguous, tg_tensor **out) {
  RAND_OUT("tg_tensor_scaled_uniform");
  /* uniform(-1.0, 1.0).mul(prod(shape) ** -0.5) */
  tg_tv u = uniform(&S, shape, ndim, tgt_pyfloat(-1.0), tgt_pyfloat(1.0), dt, dev, contiguous);
  double p = prod_from(shape, ndim, 0);
  if (u.u && p == 0) return tgt_scope_end(&S), tg_err(TG_ERR_INVALID_ARGUMENT, "0.0 cannot be raised to a negative power");
  return tgt_finish_public(&S, tgt_mul_py(&S, u, tgt_pyfloat(pow(p, -0.5)), 0), out);
}

/* The bound of glorot_uniform / kaiming_uniform, and kaiming_normal's std, as tinygrad's Python floats. */
static tg_status init_bound(const int64_t *shape, size_t ndim, int kind, double a, double *out) {
  if (kind == 0) { /* (6 / (shape[0] + prod(shape[1:]))) ** 0.5 */
    if (!ndim) return tg_err(TG_ERR_OUT_OF_RANGE, "tuple index out of range");
    double den = (double)shape[0] + prod_from(shape, ndim, 1);
    if (den == 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "division by zero");
    return *out = pow(6 / den, 0.5), TG_OK;
  }
  /* (num / (1 + a ** 2) / prod(shape[1:])) ** 0.5, num 6 (kaiming_uniform) or 2 (kaiming_normal) */
  double p = prod_from(shape, ndim, 1);
  if (p == 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "float division by zero");
  return *out = pow((kind == 1 ? 6.0 : 2.0) / (1 + pow(a, 2)) / p, 0.5), TG_OK;
}

TG_API tg_status tg_tensor_glorot_uniform(const int64_t *shape, size_t ndim, int dtype, const char *device, int contiguous, tg_tensor **out) {
  double b = 0;
  RAND_OUT("tg_tensor_glorot_uniform");
  if ((st_ = init_bound(shape, ndim, 0, 0, &b))) return st_;
  return tgt_finish_public(&S, uniform(&S, shape, ndim, tgt_pyfloat(-b), tgt_pyfloat(b), dt, dev, contiguous), out);
}

TG_API tg_status tg_tensor_kaiming_uniform(const int64_t *shape, size_t ndim, double a, int dtype, const char *device, int contiguous, tg_tensor **out) {
  double b = 0;
  RAND_OUT("tg_tensor_kaiming_uniform");
  if ((st_ = init_bound(shape, ndim, 1, a, &b))) return st_;
  return tgt_finish_public(&S, uniform(&S, shape, ndim, tgt_pyfloat(-b), tgt_pyfloat(b), dt, dev, contiguous), out);
}

TG_API tg_status tg_tensor_kaiming_normal(const int64_t *shape, size_t ndim, double a, int dtype, const char *device, tg_tensor **out) {
  double sd = 0;
  RAND_OUT("tg_tensor_kaiming_normal");
  if ((st_ = init_bound(shape, ndim, 2, a, &sd))) return st_;
  return tgt_finish_public(&S, normal(&S, shape, ndim, tgt_pyfloat(0.0), tgt_pyfloat(sd), dt, dev), out);
}

/* ---------------- randperm, multinomial, dropout ---------------- */

TG_API tg_status tg_tensor_randperm(int64_t n, tg_dtype dtype, const char *device, int contiguous, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_randperm: out is NULL");
  tg_status st = tgt_check_dtype((int)dtype, 0, "tg_tensor_randperm");
  if (st) return st;
  tgt_scope S = {0};
  int dft = default_float(&S);
  if (dft < 0) return tgt_scope_end(&S), S.st;
  /* rand(n).argsort().cast(dtype) */
  tg_tv idx = TGT_NONE;
  tgt_sort(&S, rand_draw(&S, &n, 1, dft, dev_arg(device), contiguous), -1, 0, &idx);
  return tgt_finish_public(&S, tgt_cast(&S, idx, dtype), out);
}

TG_API tg_status tg_tensor_multinomial(tg_tensor *x, int64_t num_samples, int replacement, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_multinomial: out is NULL");
  tg_tv self;
  tg_status st = tgt_tensor_get(x, "x", &self);
  if (st) return st;
  tgt_scope S = {0};
  tgt_shape sh;
  if (tgt_shape_of(&S, self, &sh)) return tgt_scope_end(&S), S.st;
  if (sh.n < 1 || sh.n > 2 || num_samples <= 0)
    return tgt_scope_end(&S), tg_err(TG_ERR_INVALID_ARGUMENT, "self.ndim=%u must be 1 or 2 dim, num_samples=%lld must be positive", sh.n,
                                     (long long)num_samples);
  tg_tv w = sh.n == 1 ? tgt_unsqueeze(&S, self, 0) : self;
  tgt_shape ws;
  if (tgt_shape_of(&S, w, &ws)) return tgt_scope_end(&S), S.st;
  if (!replacement && num_samples > ws.d[1])
    return tgt_scope_end(&S), tg_err(TG_ERR_INVALID_ARGUMENT, "no replacement samples must not exceed population size");
  tg_tv ind;
  if (replacement || num_samples == 1) {
    /* cdf = (cw := weight.cumsum(1).float()) / cw[:, -1].unsqueeze(1) */
    tg_tv cw = tgt_cast(&S, tgt_split_cumalu(&S, w, 1, TG_OP_ADD), TG_FLOAT32);
    tgt_index ix[2] = {{.kind = TG_INDEX_SLICE}, {.kind = TG_INDEX_INT, .start = -1}};
    tg_tv cdf = tgt_div(&S, cw, tgt_unsqueeze(&S, tgt_getitem(&S, cw, ix, 2, TGT_NONE), 1), 0, 0);
    /* Tensor.rand(num_samples, cdf.shape[0], 1).to(self.device) */
    int dft = default_float(&S);
    if (dft < 0) return tgt_scope_end(&S), S.st;
    int64_t us[3] = {num_samples, ws.d[0], 1};
    tg_tv unif = rand_draw(&S, us, 3, dft, dev_arg(NULL), 1);
    if (unif.u && self.dev && unif.dev != self.dev) unif = tgt_copy_to_device(&S, unif, self.dev);
    tg_tv ge = tgt_binary(&S, TG_BINARY_GE, unif, cdf);
    ind = tgt_permute(&S, tgt_sum(&S, ge, (int64_t[]){2}, 1, 0, -1), (int64_t[]){1, 0}, 2);
  } else {
    /* Efraimidis-Spirakis: (weight.rand_like(dtype=float32).log2() / weight).topk(num_samples, dim=1)[1] */
    tg_tv r = rand_draw(&S, ws.d, ws.n, TG_FLOAT32, w.dev ? w.dev : dev_arg(NULL), 1);
    tg_tv key = tgt_div(&S, tgt_unary(&S, TG_UNARY_LOG2, r), w, 0, 0);
    tgt_topk(&S, key, num_samples, 1, 1, &ind);
  }
  return tgt_finish_public(&S, tgt_cast(&S, sh.n == 1 ? tgt_squeeze(&S, ind, 0) : ind, TG_INT32), out);
}

/* Tensor.dropout(p) with Tensor.training given (also sdpa's dropout_p):
** (self.rand_like(dtype=default_float, contiguous=False) >= p).contiguous().where(self, 0) / (1.0 - p) */
tg_tv tgt_dropout(tgt_scope *S, tg_tv x, double p, int training) {
  if (!x.u) return TGT_NONE;
  if (!(p >= 0 && p <= 1)) {
    char b[64];
    tg_sb sb = tg_sb_fixed(b, sizeof b);
    if (p == floor(p) && fabs(p) < 9e15) tg_sb_printf(&sb, "%lld", (long long)p);
    else tg_float_repr(p, &sb);
    return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "p=%s is out of range [0, 1]", b);
  }
  if (!training || p == 0) return x;
  if (p == 1) return tgt_const_like(S, x, tgt_pyint(0), TG_DT_AUTO);
  tgt_shape sh;
  int dft = default_float(S);
  if (dft < 0 || tgt_shape_of(S, x, &sh)) return TGT_NONE;
  tg_tv r = rand_draw(S, sh.d, sh.n, dft, x.dev ? x.dev : dev_arg(NULL), 0);
  tg_tv keep = tgt_contiguous(S, tgt_binary(S, TG_BINARY_GE, r, tgt_const(S, tgt_pyfloat(p), TG_DT_AUTO)));
  tg_tv kept = tgt_where(S, keep, x, tgt_const(S, tgt_pyint(0), TG_DT_AUTO));
  return tgt_div(S, kept, tgt_const(S, tgt_pyfloat(1.0 - p), TG_DT_AUTO), 0, 0);
}

TG_API tg_status tg_tensor_dropout(tg_tensor *x, double p, int training, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_dropout: out is NULL");
  tg_tv a;
  tg_status st = tgt_tensor_get(x, "x", &a);
  if (st) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_dropout(&S, a, p, training), out);
}
