/* Bad input through tg.h, fuzzed (issue 3): a seeded random walk over the tg_tensor_* calls with shapes, axes, orders,
** pads, bounds, dtypes and op codes that are often invalid, and with NULL, released, wrong-kind and made-up handles.
** Every call must return TG_OK or a TG_ERR_* code with a non-empty tg_last_error() message (never TG_ERR_INTERNAL, which
** is a bug by definition), never crash; the run ends with no tensor handle leaked. Built and run under ASan+UBSan in CI.
** Usage: test_fuzz [seed [iterations]] (also TGC_FUZZ_SEED / TGC_FUZZ_C_N); a failing check prints the seed and step. */
#include <stdint.h>

#include "check.h"
#include "tg.h"

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static int64_t rint_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }
static int chance(int pct) { return (int)(rnd() % 100) < pct; }

/* ---------------- the pool of live tensors, and handles that must be refused ---------------- */

#define POOL 48
static tg_tensor *pool[POOL];
static tg_tensor *released[16]; /* handles already released: every call must refuse them */
static size_t n_released;
static tg_device *cpu;
static uint64_t seed, step;
static const char *step_name = "";

static tg_tensor *pick(void) {
  int r = (int)(rnd() % 100);
  if (r < 4) return NULL;
  if (r < 8 && n_released) return released[rnd() % n_released];
  if (r < 9) return (tg_tensor *)(void *)cpu;                 /* a handle of another kind */
  if (r < 10) return (tg_tensor *)(uintptr_t)(rnd() | 1u);    /* not a handle at all */
  tg_tensor *t = NULL;
  for (int tries = 0; tries < 8 && !t; tries++) t = pool[rnd() % POOL];
  return t;
}

static void keep(tg_tensor *t) {
  size_t i = rnd() % POOL;
  if (pool[i]) {
    tg_tensor *old = pool[i];
    CHECK(tg_tensor_release(old) == TG_OK);
    released[n_released < 16 ? n_released++ : rnd() % 16] = old;
  }
  pool[i] = t;
}

/* A status is fine when it is TG_OK or a known error with a message; TG_ERR_INTERNAL is a bug in tgc. */
static size_t n_ok, n_err[TG_ERR_CORRUPT + 1];
static void check_status(tg_status s, tg_tensor **out) {
  checks_run++;
  if (s == TG_OK) n_ok++;
  else if ((int)s > 0 && s <= TG_ERR_CORRUPT) n_err[s]++;
  int bad = (int)s < 0 || s > TG_ERR_CORRUPT || s == TG_ERR_INTERNAL || (s != TG_OK && !tg_last_error()[0]);
  if (out && s == TG_OK && !*out) bad = 1;
  if (out && s != TG_OK && *out) bad = 1; /* out-parameters are left untouched on failure */
  if (bad) {
    checks_failed++;
    fprintf(stderr, "seed %llu step %llu %s: status %d (%s) \"%s\"\n", (unsigned long long)seed, (unsigned long long)step, step_name, s,
            tg_status_string(s), tg_last_error());
  }
  if (out && s == TG_OK && *out) keep(*out);
}

/* ---------------- random arguments, mostly small and sometimes absurd ---------------- */

static int64_t dim(void) {
  int r = (int)(rnd() % 100);
  if (r < 85) return rint_in(0, 4);
  if (r < 93) return rint_in(-3, -1);
  if (r < 97) return rint_in(5, 9);
  return chance(50) ? INT64_MAX : ((int64_t)1 << 40);
}
static size_t ndims(void) {
  int r = (int)(rnd() % 100);
  return r < 95 ? (size_t)rint_in(0, 4) : r < 98 ? (size_t)rint_in(5, 8) : (size_t)rint_in(64, 300);
}
#define MAXN 300
static int64_t buf_a[MAXN * 2];
/* An int64 array argument of n values; sometimes NULL with n > 0. */
static const int64_t *ints(size_t n, int64_t (*gen)(void)) {
  if (n && chance(3)) return NULL;
  for (size_t i = 0; i < n; i++) buf_a[i] = gen();
  return buf_a;
}
static int64_t axis(void) { return chance(90) ? rint_in(-4, 3) : (chance(50) ? rint_in(-70, 70) : (chance(50) ? INT64_MIN : INT64_MAX)); }
static int64_t padv(void) { return chance(90) ? rint_in(-3, 3) : (chance(50) ? INT64_MIN / 2 : INT64_MAX / 2); }
static int64_t bound(void) { return chance(90) ? rint_in(-1, 5) : (chance(50) ? INT64_MIN : INT64_MAX); }
static int dtype(void) {
  int r = (int)(rnd() % 100);
  if (r < 80) return (int)rint_in(0, TG_DTYPE_COUNT - 1);
  if (r < 88) return chance(50) ? TG_WEAKINT : TG_WEAKFLOAT;
  if (r < 94) return TG_DTYPE_NONE;
  return (int)rint_in(-5, 100);
}
static int opcode(int n) { return chance(95) ? (int)rint_in(0, n - 1) : (int)rint_in(-3, n + 5); }

static int64_t numel_of(tg_tensor *t, int *ok) {
  int64_t d[64];
  size_t n = 0;
  *ok = tg_tensor_shape(t, d, 64, &n) == TG_OK && n <= 64;
  int64_t p = 1;
  for (size_t i = 0; *ok && i < n; i++)
    if (d[i] < 0 || __builtin_mul_overflow(p, d[i], &p)) *ok = 0;
  return p;
}

/* ---------------- one random call ---------------- */

static int realizes_left, trace;
static unsigned char host[1 << 16];

static void one_step(void) {
  tg_tensor *out = NULL, *x = pick();
  int what = (int)(rnd() % 39);
  if (trace) fprintf(stderr, "seed %llu step %llu: case %d\n", (unsigned long long)seed, (unsigned long long)step, what);
  switch (what) {
  case 0: { /* from_host: the byte count sometimes wrong */
    step_name = "from_host";
    size_t n = ndims() % 5;
    const int64_t *sh = ints(n, dim);
    int dt = dtype();
    size_t nbytes = chance(80) ? (size_t)rint_in(0, 64) * 4 : (size_t)rnd();
    if (nbytes > sizeof host) nbytes = chance(50) ? sizeof host : SIZE_MAX;
    check_status(tg_tensor_from_host(chance(95) ? (tg_host_kind)rint_in(0, 1) : (tg_host_kind)7, (tg_dtype)dt, sh, n, chance(97) ? host : NULL,
                                     nbytes, chance(95) ? NULL : chance(50) ? "CPU" : "NOPE:3", &out), &out);
    break;
  }
  case 1:
    step_name = "const";
    if (chance(50)) check_status(tg_tensor_const_int((tg_dtype)dtype(), (int64_t)rnd(), &out), &out);
    else {
      double v = chance(80) ? (double)rint_in(-5, 5) * 0.75 : chance(50) ? 1.0 / 0.0 : 0.0 / 0.0;
      check_status(tg_tensor_const_float((tg_dtype)dtype(), v, &out), &out);
    }
    break;
  case 2: {
    step_name = "empty";
    size_t n = ndims();
    const int64_t *sh = ints(n, dim);
    check_status(tg_tensor_empty(sh, n, dtype(), chance(95) ? NULL : "NOPE", &out), &out);
    break;
  }
  case 3: {
    step_name = "full";
    size_t n = ndims() % 6;
    const int64_t *sh = ints(n, dim);
    check_status(tg_tensor_full(sh, n, x, dtype(), NULL, (int)rint_in(0, 1), &out), &out);
    break;
  }
  case 4:
    step_name = "arange";
    check_status(tg_tensor_arange(x, chance(50) ? pick() : NULL, chance(50) ? pick() : NULL, dtype(), &out), &out);
    break;
  case 5: step_name = "unary"; check_status(tg_tensor_unary((tg_unary_op)opcode(28), x, &out), &out); break;
  case 6: case 7: step_name = "binary"; check_status(tg_tensor_binary((tg_binary_op)opcode(22), x, pick(), &out), &out); break;
  case 8: step_name = "where"; check_status(tg_tensor_where(x, pick(), pick(), &out), &out); break;
  case 9: step_name = "cast"; check_status(tg_tensor_cast(x, (tg_dtype)dtype(), &out), &out); break;
  case 10: step_name = "bitcast"; check_status(tg_tensor_bitcast(x, (tg_dtype)dtype(), &out), &out); break;
  case 11: {
    step_name = "reshape";
    size_t n = ndims();
    const int64_t *sh = ints(n, dim);
    check_status(tg_tensor_reshape(x, sh, n, &out), &out);
    break;
  }
  case 12: {
    step_name = "permute";
    size_t n = ndims();
    const int64_t *o = ints(n, axis);
    if (o && chance(50)) for (size_t i = 0; i < n; i++) buf_a[i] = (int64_t)((n - 1 - i + (size_t)rnd() % 2) % (n ? n : 1));
    check_status(tg_tensor_permute(x, o, n, &out), &out);
    break;
  }
  case 13: {
    step_name = "expand";
    size_t n = ndims();
    const int64_t *sh = ints(n, dim);
    check_status(tg_tensor_expand(x, sh, n, &out), &out);
    break;
  }
  case 14: {
    step_name = "pad";
    size_t n = ndims();
    const int64_t *p = ints(2 * n, padv);
    check_status(tg_tensor_pad(x, p, n, chance(70) ? NULL : pick(), &out), &out);
    break;
  }
  case 15: {
    step_name = "shrink";
    size_t n = ndims();
    const int64_t *b = ints(2 * n, bound);
    check_status(tg_tensor_shrink(x, b, n, &out), &out);
    break;
  }
  case 16: {
    step_name = "flip";
    size_t n = ndims();
    const int64_t *a = ints(n, axis);
    check_status(tg_tensor_flip(x, a, n, &out), &out);
    break;
  }
  case 17: case 18: {
    step_name = "reduce";
    size_t n = ndims() % 6;
    const int64_t *a = chance(20) ? NULL : ints(n, axis);
    check_status(tg_tensor_reduce((tg_reduce_op)opcode(7), x, a, n, (int)rint_in(0, 1), chance(80) ? TG_DTYPE_NONE : dtype(), &out), &out);
    break;
  }
  case 19: step_name = "contiguous"; check_status(tg_tensor_contiguous(x, &out), &out); break;
  case 20: step_name = "dot"; check_status(tg_tensor_dot(x, pick(), chance(80) ? TG_DTYPE_NONE : dtype(), &out), &out); break;
  case 21: { /* queries, with NULL or short out-arguments */
    step_name = "queries";
    int64_t d[4];
    size_t n = 0;
    tg_dtype dt;
    const char *dev;
    check_status(tg_tensor_shape(x, chance(90) ? d : NULL, (size_t)rint_in(0, 4), chance(95) ? &n : NULL), NULL);
    check_status(tg_tensor_dtype(x, chance(95) ? &dt : NULL), NULL);
    check_status(tg_tensor_device(x, chance(95) ? &dev : NULL), NULL);
    char js[256];
    size_t len = 0;
    check_status(tg_tensor_graph_json(x, chance(50) ? js : NULL, chance(50) ? sizeof js : 0, chance(95) ? &len : NULL), NULL);
    break;
  }
  case 22: { /* realize (only small tensors: each one may compile kernels) */
    step_name = "realize";
    int ok = 0;
    int64_t ne = x ? numel_of(x, &ok) : 0;
    if (realizes_left <= 0 || (x && (!ok || ne > 256))) break;
    realizes_left--;
    tg_tensor *ts[2] = {x, pick()};
    size_t n = (size_t)rint_in(0, 1) + 1;
    if (n == 2) {
      int ok2 = 0;
      int64_t ne2 = ts[1] ? numel_of(ts[1], &ok2) : 0;
      if (ts[1] && (!ok2 || ne2 > 256)) n = 1;
    }
    check_status(tg_tensor_realize(chance(97) ? ts : NULL, n), NULL);
    break;
  }
  case 23: { /* data with a right or wrong byte count */
    step_name = "data";
    int ok = 0;
    int64_t ne = x ? numel_of(x, &ok) : 0;
    if (realizes_left <= 0 || (x && (!ok || ne > 256))) break;
    realizes_left--;
    tg_dtype dt = TG_FLOAT32;
    tg_dtype_info info = {.struct_size = sizeof info};
    size_t nbytes = 0;
    if (x && tg_tensor_dtype(x, &dt) == TG_OK && tg_dtype_get_info(dt, &info) == TG_OK) nbytes = (size_t)ne * info.itemsize;
    if (chance(20)) nbytes += (size_t)rint_in(1, 8);
    if (nbytes > sizeof host) break;
    if (trace && x) {
      static char gj[1 << 20];
      size_t len = 0;
      if (tg_tensor_graph_json(x, gj, sizeof gj, &len) == TG_OK) fprintf(stderr, "  graph %s\n", gj);
    }
    check_status(tg_tensor_data(x, chance(97) ? host : NULL, nbytes), NULL);
    break;
  }
  case 25: { /* indexing with ints, slices, None, Ellipsis and tensors */
    step_name = "getitem/setitem";
    tg_index ix[4];
    size_t n = (size_t)rint_in(0, 4);
    for (size_t i = 0; i < n; i++) {
      ix[i] = (tg_index){.kind = chance(95) ? (tg_index_kind)rint_in(0, 4) : (tg_index_kind)rint_in(5, 9), .has = (uint32_t)rint_in(0, 15),
                         .start = axis(), .stop = axis(), .step = chance(90) ? rint_in(-3, 3) : axis()};
      ix[i].tensor = ix[i].kind == TG_INDEX_TENSOR && chance(95) ? pick() : NULL;
    }
    if (chance(70)) check_status(tg_tensor_getitem(x, chance(97) ? ix : NULL, n, &out), &out);
    else check_status(tg_tensor_setitem(x, chance(97) ? ix : NULL, n, pick()), NULL);
    break;
  }
  case 26: step_name = "gather"; check_status(tg_tensor_gather(x, axis(), pick(), &out), &out); break;
  case 27:
    step_name = "scatter";
    if (chance(50)) check_status(tg_tensor_scatter(x, axis(), pick(), pick(), (tg_scatter_reduce)opcode(3), &out), &out);
    else check_status(tg_tensor_scatter_reduce(x, axis(), pick(), pick(), (tg_scatter_reduce)opcode(6), (int)rint_in(0, 1), &out), &out);
    break;
  case 28:
    step_name = "one_hot/masked_fill";
    if (chance(40)) check_status(tg_tensor_one_hot(x, chance(90) ? rint_in(-1, 6) : axis(), &out), &out);
    else if (chance(50)) check_status(tg_tensor_one_hot_along_dim(x, rint_in(0, 6), axis(), &out), &out);
    else check_status(tg_tensor_masked_fill(x, pick(), pick(), &out), &out);
    break;
  case 29: {
    step_name = "cumalu";
    tg_tensor *idx = NULL;
    tg_status st = tg_tensor_cumalu((tg_reduce_op)opcode(7), x, axis(), &out, chance(50) ? &idx : NULL);
    check_status(st, &out);
    if (idx) check_status(st, &idx);
    break;
  }
  case 30:
    step_name = "triu/eye";
    if (chance(70)) check_status(tg_tensor_triu(x, rint_in(-3, 3), (int)rint_in(0, 1), &out), &out);
    else check_status(tg_tensor_eye(rint_in(-1, 5), chance(90) ? rint_in(0, 5) : axis(), chance(80) ? TG_DTYPE_NONE : dtype(), &out), &out);
    break;
  case 31: { /* sort / topk (only small dims: the network is log^2 of the length deep) */
    step_name = "sort/topk";
    int ok = 0;
    if (x && (numel_of(x, &ok) > 4096 || !ok)) break;
    tg_tensor *idx = NULL;
    tg_status st = chance(50) ? tg_tensor_sort(x, axis(), (int)rint_in(0, 1), &out, &idx)
                              : tg_tensor_topk(x, rint_in(-1, 6), axis(), (int)rint_in(0, 1), &out, &idx);
    check_status(st, &out);
    check_status(st, &idx);
    break;
  }
  case 32: { /* pad modes, pad_to, shrink_to */
    step_name = "pad_mode/pad_to/shrink_to";
    size_t n = ndims() % 6;
    tg_tensor *v = NULL;
    if (chance(50)) tg_tensor_const_float(chance(80) ? TG_WEAKFLOAT : TG_FLOAT32, 1.5, &v);
    if (chance(50)) check_status(tg_tensor_pad_mode(x, ints(n, padv), n, (tg_pad_mode)opcode(4), v, &out), &out);
    else if (chance(50)) check_status(tg_tensor_pad_to(x, ints(n, bound), n, v, &out), &out);
    else check_status(tg_tensor_shrink_to(x, ints(n, bound), n, &out), &out);
    tg_tensor_release(v);
    break;
  }
  case 33: { /* flatten, unflatten, squeeze, unsqueeze, transpose, repeat, repeat_interleave */
    step_name = "flatten/.../repeat_interleave";
    size_t n = ndims() % 6;
    int64_t d = axis();
    switch (rnd() % 7) {
    case 0: check_status(tg_tensor_flatten(x, axis(), axis(), &out), &out); break;
    case 1: check_status(tg_tensor_unflatten(x, axis(), ints(n, dim), n, &out), &out); break;
    case 2: check_status(tg_tensor_squeeze(x, chance(30) ? NULL : &d, &out), &out); break;
    case 3: check_status(tg_tensor_unsqueeze(x, d, &out), &out); break;
    case 4: check_status(tg_tensor_transpose(x, axis(), d, &out), &out); break;
    case 5: check_status(tg_tensor_repeat(x, ints(n, dim), n, &out), &out); break;
    default: check_status(tg_tensor_repeat_interleave(x, dim(), chance(30) ? NULL : &d, &out), &out); break;
    }
    break;
  }
  case 34: { /* roll, diag, diagonal, unfold, rearrange */
    step_name = "roll/diag/diagonal/unfold/rearrange";
    static const char *const formulas[] = {"a b -> b a", "a (b c) -> a b c", "... c -> c ...", "a 1 b -> b a", "(a b -> a b", "a -> a -> a",
                                           "a b -> a c", "_a b -> b _a", "b ... (c d) -> (b c) ... d", "\xe2\x80\xa6 -> \xe2\x80\xa6 1", "", "->"};
    static const char *const names[] = {"a", "b", "c", "z"};
    size_t n = ndims() % 4, m = ndims() % 4;
    int sub = (int)(rnd() % 5);
    if (trace) fprintf(stderr, "  sub %d\n", sub);
    switch (sub) {
    case 0: {
      const int64_t *sh = ints(n, padv);
      int64_t sv[8] = {0};
      for (size_t i = 0; sh && i < n; i++) sv[i] = sh[i];
      check_status(tg_tensor_roll(x, sh ? sv : NULL, n, chance(30) ? NULL : ints(m, axis), m, &out), &out);
      break;
    }
    case 1: check_status(tg_tensor_diag(x, &out), &out); break;
    case 2: check_status(tg_tensor_diagonal(x, padv(), axis(), axis(), &out), &out); break;
    case 3: check_status(tg_tensor_unfold(x, axis(), bound(), chance(90) ? rint_in(-1, 3) : bound(), &out), &out); break;
    default: {
      size_t k = rnd() % 3;
      check_status(tg_tensor_rearrange(x, chance(97) ? formulas[rnd() % 12] : NULL, names + rnd() % 2, ints(k, dim), k, &out), &out);
    }
    }
    break;
  }
  case 35: { /* split, chunk: the count query, a short cap, a full cap */
    step_name = "split/chunk";
    tg_tensor *outs[8] = {0};
    size_t nout = 0, cap = (size_t)rint_in(0, 8), n = ndims() % 5;
    tg_status st = chance(50) ? tg_tensor_split(x, chance(50) ? dim() : padv(), chance(50) ? NULL : ints(n, dim), n, axis(), chance(97) ? outs : NULL, cap,
                                                chance(97) ? &nout : NULL)
                              : tg_tensor_chunk(x, chance(90) ? rint_in(-1, 6) : bound(), axis(), outs, cap, &nout);
    check_status(st, NULL);
    for (size_t i = 0; st == TG_OK && nout <= cap && i < nout; i++) check_status(TG_OK, &outs[i]);
    break;
  }
  case 36: { /* meshgrid, linspace, empty_like, full_like */
    step_name = "meshgrid/linspace/*_like";
    tg_tensor *ts[3] = {x, pick(), pick()}, *outs[3] = {0}, *a = NULL, *b = NULL;
    switch (rnd() % 4) {
    case 0: {
      size_t n = (size_t)rint_in(chance(95) ? 1 : 0, 3);
      tg_status st = tg_tensor_meshgrid(ts, n, (int)rint_in(0, 1), outs);
      check_status(st, NULL);
      for (size_t i = 0; st == TG_OK && i < n; i++) check_status(TG_OK, &outs[i]);
      break;
    }
    case 1:
      tg_tensor_const_int(TG_WEAKINT, rint_in(-5, 5), &a);
      tg_tensor_const_float(chance(80) ? TG_WEAKFLOAT : TG_FLOAT16, 2.5, &b);
      check_status(tg_tensor_linspace(chance(98) ? a : NULL, b, chance(90) ? rint_in(-1, 6) : bound(), chance(70) ? TG_DTYPE_NONE : dtype(), &out), &out);
      break;
    case 2: check_status(tg_tensor_empty_like(x, chance(70) ? TG_DTYPE_NONE : dtype(), chance(90) ? NULL : "CPU", &out), &out); break;
    default:
      tg_tensor_const_int(TG_WEAKINT, 3, &a);
      check_status(tg_tensor_full_like(x, chance(95) ? a : pick(), chance(70) ? TG_DTYPE_NONE : dtype(), NULL, (int)rint_in(0, 1), &out), &out);
    }
    tg_tensor_release(a), tg_tensor_release(b);
    break;
  }
  case 37: case 38: { /* the random draws */
    step_name = "random";
    size_t n = ndims() % 4;
    const int64_t *sh = ints(n, dim);
    tg_tensor *lo = NULL, *hi = NULL;
    tg_tensor_const_int(TG_WEAKINT, rint_in(-3, 3), &lo);
    tg_tensor_const_float(TG_WEAKFLOAT, (double)rint_in(-3, 3), &hi);
    int dt = chance(60) ? TG_DTYPE_NONE : dtype();
    const char *dev = chance(95) ? NULL : chance(50) ? "CPU" : "NOPE";
    switch (rnd() % 10) {
    case 0: check_status(tg_tensor_randn(sh, n, dt, dev, &out), &out); break;
    case 1: check_status(tg_tensor_randn_like(x, dt, dev, (int)rint_in(0, 1), &out), &out); break;
    case 2: check_status(tg_tensor_uniform(sh, n, chance(95) ? lo : pick(), hi, dt, dev, 1, &out), &out); break;
    case 3: check_status(tg_tensor_randint(sh, n, rint_in(-3, 3), rint_in(-3, 3), dt, dev, 1, &out), &out); break;
    case 4: check_status(tg_tensor_normal(sh, n, lo, hi, dt, dev, &out), &out); break;
    case 5:
      check_status(chance(50) ? tg_tensor_glorot_uniform(sh, n, dt, dev, 1, &out) : tg_tensor_scaled_uniform(sh, n, dt, dev, 0, &out), &out);
      break;
    case 6:
      check_status(chance(50) ? tg_tensor_kaiming_uniform(sh, n, 0.1, dt, dev, 1, &out) : tg_tensor_kaiming_normal(sh, n, 2.0, dt, dev, &out), &out);
      break;
    case 7: check_status(tg_tensor_randperm(chance(90) ? rint_in(-1, 9) : bound(), (tg_dtype)(chance(70) ? TG_INT32 : dtype()), dev, 1, &out), &out); break;
    case 8: check_status(tg_tensor_multinomial(x, rint_in(-1, 5), (int)rint_in(0, 1), &out), &out); break;
    default: check_status(tg_tensor_dropout(x, chance(90) ? (double)rint_in(0, 4) / 4 : -1.0, (int)rint_in(0, 1), &out), &out);
    }
    tg_tensor_release(lo), tg_tensor_release(hi);
    break;
  }
  case 24: /* retain + release keeps the tensor alive */
    step_name = "retain/release";
    if (tg_tensor_retain(x) == TG_OK) check_status(tg_tensor_release(x), NULL);
    else check_status(tg_tensor_retain(x), NULL);
    break;
  default: { /* release a pool entry (it joins the released handles), or release a released one again */
    step_name = "release";
    size_t i = rnd() % POOL;
    if (pool[i] && chance(70)) {
      CHECK(tg_tensor_release(pool[i]) == TG_OK);
      released[n_released < 16 ? n_released++ : rnd() % 16] = pool[i];
      pool[i] = NULL;
    } else if (n_released) {
      tg_tensor *r = released[rnd() % n_released];
      /* a stale handle is refused as such: its slot's generation has moved on */
      tg_status s = tg_tensor_release(r);
      CHECK(s == TG_ERR_INVALID_HANDLE && tg_last_error()[0]);
    }
    break;
  }
  }
}

/* A few of the creation/movement/random calls with bad input, each for its code and tinygrad's message. */
static void named_errors(void) {
  tg_tensor *x = NULL, *out = NULL, *outs[4] = {0}, *one = NULL;
  size_t n = 0;
  CHECK_OK(tg_tensor_empty((int64_t[]){3, 4}, 2, TG_DTYPE_NONE, NULL, &x));
  CHECK_OK(tg_tensor_const_int(TG_WEAKINT, 1, &one));
  CHECK_ERR(tg_tensor_pad_mode(x, (int64_t[]){3, 0, 0, 0}, 2, TG_PAD_REFLECT, NULL, &out), TG_ERR_INVALID_ARGUMENT,
            "Padding (3, 0) should be less than the input size=3 for dim=0.");
  CHECK_ERR(tg_tensor_pad_mode(x, (int64_t[]){0, 5, 0, 0}, 2, TG_PAD_CIRCULAR, NULL, &out), TG_ERR_INVALID_ARGUMENT, "wrapping around more than once");
  CHECK_ERR(tg_tensor_pad_mode(x, (int64_t[]){0, 1}, 1, TG_PAD_REPLICATE, NULL, &out), TG_ERR_SHAPE, "padding length is improper, padding=((0, 1),) self.ndim=2");
  CHECK_ERR(tg_tensor_pad_mode(x, (int64_t[]){0, 1, 0, 0}, 2, (tg_pad_mode)9, NULL, &out), TG_ERR_UNSUPPORTED, "mode=9 is not supported");
  CHECK_ERR(tg_tensor_rearrange(x, "(a b -> a b", NULL, NULL, 0, &out), TG_ERR_INVALID_ARGUMENT, "bracket mismatch");
  CHECK_ERR(tg_tensor_rearrange(x, "a b -> b a", (const char *const[]){"c"}, (int64_t[]){2}, 1, &out), TG_ERR_INVALID_ARGUMENT,
            "axis c is not used in transform");
  CHECK_ERR(tg_tensor_rearrange(x, "a b -> b a", (const char *const[]){"a"}, (int64_t[]){2}, 1, &out), TG_ERR_INVALID_ARGUMENT,
            "size provided for dimension a incorrect");
  CHECK_ERR(tg_tensor_unfold(x, 1, 5, 1, &out), TG_ERR_INVALID_ARGUMENT, "maximum size for tensor at dimension 1 is 4 but size is 5");
  CHECK_ERR(tg_tensor_unfold(x, 1, 2, 0, &out), TG_ERR_INVALID_ARGUMENT, "step must be > 0 but got step=0");
  CHECK_ERR(tg_tensor_split(x, 0, (int64_t[]){1, 1}, 2, 0, outs, 4, &n), TG_ERR_INVALID_ARGUMENT, "expect sizes to sum exactly to 3, but got 2");
  CHECK_OK(tg_tensor_split(x, 3, NULL, 0, 1, NULL, 0, &n)); /* the count only */
  CHECK(n == 2 && !outs[0]);
  CHECK_OK(tg_tensor_split(x, 3, NULL, 0, 1, outs, 1, &n)); /* too short: nothing written */
  CHECK(n == 2 && !outs[0]);
  CHECK_OK(tg_tensor_chunk(x, 2, -1, outs, 4, &n));
  CHECK(n == 2 && outs[0] && outs[1]);
  tg_tensor_release(outs[0]), tg_tensor_release(outs[1]);
  CHECK_ERR(tg_tensor_chunk(x, 0, 0, outs, 4, &n), TG_ERR_INVALID_ARGUMENT, "expect chunks to be greater than 0, got: 0");
  CHECK_ERR(tg_tensor_roll(x, (int64_t[]){1, 2}, 2, (int64_t[]){0}, 1, &out), TG_ERR_INVALID_ARGUMENT, "len(dims)=1 != len(shifts)=2");
  CHECK_ERR(tg_tensor_diag(x, &out), TG_ERR_INVALID_ARGUMENT, "expect input to be 1-D, getting 2-D");
  CHECK_ERR(tg_tensor_diagonal(x, 0, 1, -1, &out), TG_ERR_INVALID_ARGUMENT, "dim1 and dim2 cannot be the same dimension");
  CHECK_ERR(tg_tensor_randint((int64_t[]){3}, 1, 0, 5, TG_FLOAT32, NULL, 1, &out), TG_ERR_DTYPE, "dtype=dtypes.float must be int");
  CHECK_ERR(tg_tensor_uniform((int64_t[]){3, -1}, 2, one, one, TG_DTYPE_NONE, NULL, 1, &out), TG_ERR_INVALID_ARGUMENT, "invalid input shape=(3, -1)");
  CHECK_ERR(tg_tensor_uniform((int64_t[]){3}, 1, one, one, TG_DTYPE_NONE, NULL, 1, &out), TG_ERR_INVALID_ARGUMENT,
            "Tensor.uniform requires low < high, got low=1, high=1");
  CHECK_ERR(tg_tensor_uniform((int64_t[]){3}, 1, x, one, TG_DTYPE_NONE, NULL, 1, &out), TG_ERR_INVALID_ARGUMENT, "low must be a Python scalar");
  CHECK_ERR(tg_tensor_glorot_uniform((int64_t[]){0, 0}, 2, TG_DTYPE_NONE, NULL, 1, &out), TG_ERR_INVALID_ARGUMENT, "division by zero");
  CHECK_ERR(tg_tensor_multinomial(x, 5, 0, &out), TG_ERR_INVALID_ARGUMENT, "no replacement samples must not exceed population size");
  CHECK_ERR(tg_tensor_dropout(x, 1.5, 1, &out), TG_ERR_INVALID_ARGUMENT, "p=1.5 is out of range [0, 1]");
  CHECK_ERR(tg_tensor_linspace(one, one, -1, TG_DTYPE_NONE, &out), TG_ERR_INVALID_ARGUMENT, "number of steps must be non-negative");
  CHECK_ERR(tg_tensor_meshgrid((tg_tensor *const[]){x}, 0, 0, outs), TG_ERR_INVALID_ARGUMENT, "no tensors");
  CHECK(out == NULL);
  tg_tensor_release(x), tg_tensor_release(one);
  CHECK_OK(tg_tensor_manual_seed(0));
}

int main(int argc, char **argv) {
  const char *es = getenv("TGC_FUZZ_SEED"), *en = getenv("TGC_FUZZ_C_N");
  seed = argc > 1 ? strtoull(argv[1], NULL, 10) : es ? strtoull(es, NULL, 10) : 1;
  uint64_t iters = argc > 2 ? strtoull(argv[2], NULL, 10) : en ? strtoull(en, NULL, 10) : 20000;
  trace = getenv("TGC_FUZZ_TRACE") != NULL;
  CHECK_OK(tg_device_get("CPU", &cpu));
  size_t live0 = 0, live1 = 0;
  CHECK_OK(tg_debug_live_handles(&live0));
  for (int i = 0; i < (int)sizeof host; i++) host[i] = (unsigned char)(i * 7 + 3);
  named_errors();
  /* a few seeds, each from a fresh pool: a failing check names its seed and step. The first two build graphs only, and
  ** must leave no handle behind; the others also realize (compiled programs stay cached, so handles are not counted). */
  for (int round = 0; round < 4; round++, seed++) {
    if (round == 2) {
      CHECK_OK(tg_tensor_manual_seed(0)); /* drops the per-device random key and counter tensors */
      CHECK_OK(tg_debug_live_handles(&live1));
      CHECK(live1 == live0);
      if (live1 != live0) fprintf(stderr, "live handles: %zu before, %zu after building graphs\n", live0, live1);
    }
    rng_state = seed;
    realizes_left = round < 2 ? 0 : 16;
    n_released = 0;
    for (step = 0; step < iters / 4; step++) one_step();
    for (int i = 0; i < POOL; i++) {
      if (pool[i]) CHECK(tg_tensor_release(pool[i]) == TG_OK);
      pool[i] = NULL;
    }
  }
  printf("calls: %zu ok", n_ok);
  for (int i = 1; i <= TG_ERR_CORRUPT; i++)
    if (n_err[i]) printf(", %zu %s", n_err[i], tg_status_string((tg_status)i));
  printf("\n");
  CHECK_DONE();
}
