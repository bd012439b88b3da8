/* tensor/random.c -- tinygrad 0.14.0's counter-based random numbers (Tensor.manual_seed, _next_counter; mixin/rand.py's
** _threefry_random_bits, random_bits, _bits_to_rand, rand): the same per-device key and counter tensors, advanced
** with an assign at every draw, and the same graphs, so a seed gives tinygrad's streams bit for bit. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "helpers.h"
#include "tensor/tensor.h"

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

TG_API tg_status tg_tensor_rand(const int64_t *shape, size_t ndim, tg_dtype dtype, const char *device, int contiguous, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_rand: out is NULL");
  if (ndim && !shape) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_rand: shape is NULL with ndim=%zu", ndim);
  int nmant = dtype == TG_FLOAT16 ? 10 : dtype == TG_BFLOAT16 ? 7 : dtype == TG_FLOAT32 ? 23 : dtype == TG_FLOAT64 ? 52 : -1;
  if (nmant < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "rand only supports concrete float dtypes, got dtypes.%s", tg_dtype_repr_name(dtype));
  int64_t numel = 1;
  for (size_t i = 0; i < ndim; i++) {
    if (shape[i] < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "invalid input shape: dim %zu is %lld", i, (long long)shape[i]);
    if (__builtin_mul_overflow(numel, shape[i], &numel)) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_rand: shape too large");
  }
  const char *dev = tgt_dev_canonical(device);
  if (!dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_tensor_rand: out of memory");
  int isz = tg_dt_itemsize(dtype);
  int64_t words = (numel * isz + 3) / 4;
  pthread_mutex_lock(&rng_mu);
  tgt_scope S = {0};
  tg_tv key = TGT_NONE, ctr = TGT_NONE;
  tg_status st = next_counter(&S, dev, (uint64_t)words, &key, &ctr);
  tg_tv r = TGT_NONE;
  if (!st) {
    /* _bits_to_rand: keep the top nmant bits under the exponent of 1.0, minus 1 */
    tg_dtype udt = isz == 2 ? TG_UINT16 : isz == 4 ? TG_UINT32 : TG_UINT64;
    uint64_t one = isz == 2 ? (dtype == TG_FLOAT16 ? 0x3C00u : 0x3F80u) : isz == 4 ? 0x3F800000u : 0x3FF0000000000000ull;
    tg_tv bits = tgt_bitcast(&S, random_bits(&S, key, ctr, words), udt);
    bits = tgt_binary(&S, TG_BINARY_SHR, bits, tgt_const(&S, tgt_pyint(isz * 8 - nmant), TG_DT_AUTO));
    bits = tgt_binary(&S, TG_BINARY_OR, bits, tgt_const(&S, tgt_pyint((int64_t)one), TG_DT_AUTO));
    r = tgt_reshape(&S, subi(&S, idx_slice(&S, tgt_bitcast(&S, bits, dtype), 0, numel), 1), shape, ndim);
    if (contiguous) r = tgt_contiguous(&S, r);
  }
  pthread_mutex_unlock(&rng_mu);
  if (st) return tgt_scope_end(&S), st;
  return tgt_finish_public(&S, r, out);
}
