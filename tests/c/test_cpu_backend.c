/* The CPU backend as a host sees it: dlopen TGC_CPU_PLUGIN_PATH, read tg_backend_manifest, call
** tg_backend_entry_v1 with a fake host that records errors and logs, then exercise the whole table.
** Also checks helpers.c (SHA-256 vectors, tg_getenv_int, tg_cache_dir), compiled into this test directly because
** libtgc keeps those symbols hidden. */
#define _GNU_SOURCE
#include "helpers.c"

#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tg_backend.h"

static int n_checks, n_failed;
#define CHECK(c)                                                                 \
  do {                                                                           \
    n_checks++;                                                                  \
    if (!(c)) n_failed++, fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
  } while (0)

/* ---------------- The fake host ---------------- */

static struct {
  tg_status code;
  char err[16384], warn[1024];
  int n_compiled, n_hits, n_warn;
} hs;

static void h_set_error(void *ctx, tg_status code, const char *msg) {
  (void)ctx;
  hs.code = code;
  snprintf(hs.err, sizeof(hs.err), "%s", msg);
}

static void h_log(void *ctx, tg_log_level level, const char *msg) {
  (void)ctx;
  if (strncmp(msg, "cpu: compiled ", 14) == 0) hs.n_compiled++;
  if (strncmp(msg, "cpu: cache hit ", 15) == 0) hs.n_hits++;
  if (level == TG_LOG_WARN) hs.n_warn++, snprintf(hs.warn, sizeof(hs.warn), "%s", msg);
}

static tg_backend_host host = {sizeof(tg_backend_host), TG_BACKEND_ABI_MAJOR, TG_BACKEND_ABI_MINOR, &hs, h_set_error, h_log};

/* The call fails with `want`, and the recorded message contains `needle`. */
#define CHECK_ERR(call, want, needle)                                                                              \
  do {                                                                                                             \
    hs.err[0] = '\0';                                                                                              \
    tg_status s_ = (call);                                                                                         \
    n_checks++;                                                                                                    \
    if (s_ != (want) || hs.code != (want) || !strstr(hs.err, (needle)))                                            \
      n_failed++, fprintf(stderr, "%s:%d: %s -> %d \"%s\", expected %d with \"%s\"\n", __FILE__, __LINE__, #call, \
                          s_, hs.err, (want), (needle));                                                           \
  } while (0)
#define CHECK_OK(call)                                                                                                  \
  do {                                                                                                                  \
    tg_status s_ = (call);                                                                                              \
    n_checks++;                                                                                                         \
    if (s_ != TG_OK) n_failed++, fprintf(stderr, "%s:%d: %s -> %d: %s\n", __FILE__, __LINE__, #call, s_, hs.err); \
  } while (0)

static const tg_backend_api *api;
static tg_backend_device *dev;
static tg_backend_entry_fn entry;
static char cache_root[256];

/* ---------------- Small utilities ---------------- */

/* Counts entries of a directory whose name contains `part` ("" for all); -1 when it does not exist. */
static int count_files(const char *dir, const char *part) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) n++;
  closedir(d);
  return n;
}

static void rm_tree(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) {
    unlink(path);
    return;
  }
  chmod(path, 0700);
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char sub[1024];
    snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
    rm_tree(sub);
  }
  closedir(d);
  rmdir(path);
}

static void make_tmpdir(char *out, size_t outsz) {
  snprintf(out, outsz, "%s/tgc-test-cpu-XXXXXX", getenv("TMPDIR") && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(out) == NULL) perror("mkdtemp"), exit(1);
}

/* compile + load in one go; returns NULL (after a failed CHECK) on error. */
static tg_backend_program *build(const char *src, const char *name) {
  tg_blob blob = {.struct_size = sizeof(blob)};
  tg_backend_program *p = NULL;
  tg_status s = api->compile(dev, src, name, &blob);
  CHECK(s == TG_OK);
  if (s != TG_OK) return fprintf(stderr, "  compile %s: %s\n", name, hs.err), NULL;
  CHECK_OK(api->load(dev, blob.data, blob.size, name, &p));
  api->blob_free(&blob);
  return p;
}

static tg_status run(tg_backend_program *p, tg_backend_buffer **bufs, size_t nb, const int64_t *vals, size_t nv,
                     uint32_t gx, uint32_t gy, uint32_t gz) {
  tg_launch_params lp = {.struct_size = sizeof(lp), .bufs = bufs, .n_bufs = nb, .vals = vals, .n_vals = nv,
                         .global = {gx, gy, gz}, .local = {1, 1, 1}, .wait = 1};
  return api->launch(dev, p, &lp);
}

/* ---------------- helpers.c ---------------- */

static int sha_is(const char *msg, size_t n, const char *hex) {
  uint8_t d[32];
  char h[65];
  tg_sha256(msg, n, d);
  tg_hex(d, 32, h);
  return strcmp(h, hex) == 0;
}

static void test_helpers(void) {
  CHECK(sha_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK(sha_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 448 bits: padding needs a 2nd block */
  CHECK(sha_is(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  /* a million 'a' fed in odd-sized pieces exercises the buffering */
  tg_sha256_ctx c;
  uint8_t d[32];
  char h[65], a[997];
  memset(a, 'a', sizeof(a));
  tg_sha256_init(&c);
  for (size_t left = 1000000; left > 0;) {
    size_t k = left < sizeof(a) ? left : sizeof(a);
    tg_sha256_update(&c, a, k);
    left -= k;
  }
  tg_sha256_final(&c, d);
  tg_hex(d, 32, h);
  CHECK(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);

  setenv("TGC_TEST_INT", "42", 1);
  CHECK(tg_getenv_int("TGC_TEST_INT", 7) == 42);
  setenv("TGC_TEST_INT", "4x", 1);
  CHECK(tg_getenv_int("TGC_TEST_INT", 7) == 7);
  unsetenv("TGC_TEST_INT");
  CHECK(tg_getenv_int("TGC_TEST_INT", -3) == -3);

  char root[256], dir[1024], why[512], expect[1024];
  make_tmpdir(root, sizeof(root));
  setenv("XDG_CACHE_HOME", root, 1);
  CHECK(tg_cache_dir("cpu", dir, sizeof(dir), why, sizeof(why)) == 0);
  snprintf(expect, sizeof(expect), "%s/tgc/cpu", root);
  CHECK(strcmp(dir, expect) == 0);
  struct stat st;
  CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
  chmod(dir, 0770); /* group-writable leaf */
  CHECK(tg_cache_dir("cpu", dir, sizeof(dir), why, sizeof(why)) == -1 && strstr(why, "writable"));
  chmod(dir, 0700);
  snprintf(expect, sizeof(expect), "%s/tgc", root);
  chmod(expect, 0757); /* other-writable tgc level */
  CHECK(tg_cache_dir("cpu", dir, sizeof(dir), why, sizeof(why)) == -1 && strstr(why, "writable") && strstr(why, "/tgc"));
  chmod(expect, 0700);
  CHECK(tg_cache_dir("a/b", dir, sizeof(dir), why, sizeof(why)) == -1);
  CHECK(tg_cache_dir("..", dir, sizeof(dir), why, sizeof(why)) == -1);
  /* a parent others can write into (no sticky bit) is refused before anything is created in it */
  rm_tree(expect);
  chmod(root, 0777);
  CHECK(tg_cache_dir("cpu", dir, sizeof(dir), why, sizeof(why)) == -1 && strstr(why, "sticky") && count_files(root, "") == 0);
  chmod(root, 01777); /* like /tmp: fine */
  CHECK(tg_cache_dir("cpu", dir, sizeof(dir), why, sizeof(why)) == 0);
  chmod(root, 0775); /* group-writable parent (user-private groups): fine */
  CHECK(tg_cache_dir("cpu", dir, sizeof(dir), why, sizeof(why)) == 0);
  rm_tree(root);
}

/* ---------------- Manifest and negotiation ---------------- */

static void test_manifest(const tg_manifest *m) {
  CHECK(m->magic == TG_BACKEND_MAGIC);
  CHECK(m->struct_size == sizeof(tg_manifest));
  CHECK(m->abi_major == TG_BACKEND_ABI_MAJOR && m->abi_min_minor == 0 && m->abi_max_minor == TG_BACKEND_ABI_MINOR);
  CHECK(strcmp(m->name, "CPU") == 0 && strcmp(m->version, "0.1.0") == 0 && strcmp(m->dialects, "c") == 0);
#if defined(__SANITIZE_ADDRESS__)
  CHECK(strcmp(m->flavor, TG_BACKEND_FLAVOR_ASAN) == 0);
#else
  CHECK(strcmp(m->flavor, TG_BACKEND_FLAVOR_RELEASE) == 0);
#endif
}

static void test_negotiation(void) {
  tg_backend_host h = host;
  const tg_backend_api *a = NULL;
  CHECK(entry(NULL, &a) == TG_ERR_NULL_POINTER);
  h.abi_major = TG_BACKEND_ABI_MAJOR + 1;
  CHECK_ERR(entry(&h, &a), TG_ERR_ABI, "host ABI 2.");
  h.abi_major = TG_BACKEND_ABI_MAJOR, h.abi_minor = TG_BACKEND_ABI_MINOR + 5; /* a newer host is fine */
  CHECK_OK(entry(&h, &a));
  CHECK(a != NULL && a->abi_minor == TG_BACKEND_ABI_MINOR && a->struct_size >= TG_BACKEND_API_MIN_SIZE);
  if (a && a->shutdown) a->shutdown();
}

/* ---------------- Device description ---------------- */

static void test_device(void) {
  int n = 0;
  CHECK_OK(api->device_count(&n));
  CHECK(n == 1);
  tg_device_properties p = {.struct_size = sizeof(p)};
  CHECK_OK(api->device_properties(0, &p));
  CHECK(p.struct_size == sizeof(p) && p.name[0] != '\0' && p.type == TG_DEVICE_CPU);
  CHECK_ERR(api->device_properties(1, &p), TG_ERR_OUT_OF_RANGE, "index 1");

  tg_device_caps c = {.struct_size = sizeof(c)};
  struct utsname u;
  uname(&u);
  CHECK_OK(api->device_caps(0, &c));
  CHECK(c.struct_size == sizeof(c));
  CHECK(strcmp(c.dialect, "c") == 0 && strcmp(c.arch, u.machine) == 0);
  CHECK((c.dtypes >> TG_FLOAT32 & 1) && (c.dtypes >> TG_INT32 & 1) && (c.dtypes >> TG_BOOL & 1) && (c.dtypes >> TG_FLOAT64 & 1));
  CHECK(!(c.dtypes >> TG_FP8E4M3 & 1) && !(c.dtypes >> TG_FP8E5M2 & 1));
  CHECK((c.alu_ops >> TG_ALU_ADD & 1) && (c.alu_ops >> TG_ALU_WHERE & 1) && (c.alu_ops >> TG_ALU_SQRT & 1));
  CHECK(!(c.alu_ops >> TG_ALU_THREEFRY & 1) && !(c.alu_ops >> TG_ALU_MULACC & 1) && !(c.alu_ops >> TG_ALU_EXP2 & 1));
  CHECK(c.has_local == 0 && c.has_shared == 0 && c.has_threads == 1 && c.vector_width >= 1);
  CHECK(c.global_max[0] == 4 && c.global_max[1] == 1 && c.global_max[2] == 1); /* TGC_CPU_THREADS=4 */
  CHECK(c.local_max[0] == 1 && c.local_max[1] == 1 && c.local_max[2] == 1 && c.local_prod_max == 1);
  CHECK(c.alignment == 64 && c.shared_max == 0 && c.mem_total > 0 && c.mem_max_alloc == c.mem_total);

  /* An older host with a smaller struct: nothing past its capacity is written, `next` is left alone. */
  union { tg_device_caps c; unsigned char b[sizeof(tg_device_caps)]; } small;
  size_t cap = TG_STRUCT_SIZE(tg_device_caps, arch);
  memset(small.b, 0xAB, sizeof(small.b));
  memset(small.b, 0, cap);
  small.c.struct_size = cap, small.c.next = &small;
  CHECK_OK(api->device_caps(0, &small.c));
  CHECK(small.c.struct_size == cap && small.c.next == &small && strcmp(small.c.dialect, "c") == 0);
  int intact = 1;
  for (size_t i = cap; i < sizeof(small.b); i++) intact &= small.b[i] == 0xAB;
  CHECK(intact);

  union { tg_device_properties p; unsigned char b[sizeof(tg_device_properties)]; } sp;
  cap = TG_STRUCT_SIZE(tg_device_properties, name);
  memset(sp.b, 0xAB, sizeof(sp.b));
  memset(sp.b, 0, cap);
  sp.p.struct_size = cap;
  CHECK_OK(api->device_properties(0, &sp.p));
  intact = sp.p.struct_size == cap && strcmp(sp.p.name, p.name) == 0;
  for (size_t i = cap; i < sizeof(sp.b); i++) intact &= sp.b[i] == 0xAB;
  CHECK(intact);

  tg_backend_device *d2 = NULL;
  CHECK_ERR(api->device_open(1, &d2), TG_ERR_OUT_OF_RANGE, "index 1");
  CHECK_OK(api->device_open(0, &dev));
  CHECK(dev != NULL);
}

/* ---------------- Memory ---------------- */

static void test_memory(void) {
  tg_backend_buffer *b = NULL, *z1 = NULL, *z2 = NULL, *v = NULL;
  unsigned char in[16], out[16] = {0};
  for (int i = 0; i < 16; i++) in[i] = (unsigned char)(i * 7 + 1);
  CHECK_OK(api->alloc(dev, 16, &b));
  CHECK_OK(api->copyin(dev, b, 0, in, 16));
  CHECK_OK(api->copyout(dev, b, 8, out, 8));
  CHECK(memcmp(out, in + 8, 8) == 0);
  CHECK_ERR(api->copyin(dev, b, 8, in, 16), TG_ERR_OUT_OF_RANGE, "cpu: copyin out of range: offset 8 + 16 bytes > buffer size 16");
  CHECK_ERR(api->copyout(dev, b, 17, out, 0), TG_ERR_OUT_OF_RANGE, "offset 17 + 0 bytes > buffer size 16");
  CHECK_ERR(api->copyin(dev, b, 8, in, SIZE_MAX), TG_ERR_OUT_OF_RANGE, "copyin out of range"); /* no wrap-around */
  CHECK_ERR(api->copyin(dev, b, 0, NULL, 4), TG_ERR_NULL_POINTER, "src is NULL");
  CHECK_OK(api->copyin(dev, b, 16, NULL, 0));
  uint64_t fake[8] = {0};
  CHECK_ERR(api->copyin(dev, (tg_backend_buffer *)fake, 0, in, 1), TG_ERR_INVALID_HANDLE, "bad buffer handle");
  CHECK_ERR(api->alloc((tg_backend_device *)fake, 4, &z1), TG_ERR_INVALID_HANDLE, "bad device handle");

  /* zero-byte buffers are valid and distinct */
  CHECK_OK(api->alloc(dev, 0, &z1));
  CHECK_OK(api->alloc(dev, 0, &z2));
  CHECK(z1 && z2 && z1 != z2);
  CHECK_OK(api->copyout(dev, z1, 0, out, 0));
  api->free(dev, z1);
  api->free(dev, z2);
  api->free(dev, NULL);

  /* views: bytes [4, 12) of b */
  CHECK_OK(api->buffer_view(dev, b, 4, 8, &v));
  memset(out, 0, sizeof(out));
  CHECK_OK(api->copyout(dev, v, 0, out, 8));
  CHECK(memcmp(out, in + 4, 8) == 0);
  unsigned char ones[2] = {0xEE, 0xEE};
  CHECK_OK(api->copyin(dev, v, 6, ones, 2));
  CHECK_OK(api->copyout(dev, b, 10, out, 2));
  CHECK(out[0] == 0xEE && out[1] == 0xEE);
  CHECK_ERR(api->copyin(dev, v, 4, in, 8), TG_ERR_OUT_OF_RANGE, "offset 4 + 8 bytes > buffer size 8");
  tg_backend_buffer *bad = NULL;
  CHECK_ERR(api->buffer_view(dev, b, 12, 8, &bad), TG_ERR_OUT_OF_RANGE, "offset 12 + 8 bytes > buffer size 16");
  api->free(dev, v);
  api->free(dev, b);
  CHECK_OK(api->synchronize(dev));
}

/* ---------------- Kernels ---------------- */

static const char *vadd_src =
    "#include <stdint.h>\n"
    "void vadd(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n"
    "  float *out = bufs[0]; const float *a = bufs[1], *b = bufs[2];\n"
    "  int64_t n = vals[0], chunk = vals[1], start = (int64_t)gid[0] * chunk;\n"
    "  for (int64_t i = start; i < start + chunk && i < n; i++) out[i] = a[i] + b[i];\n"
    "}\n";

static void test_vadd(void) {
  enum { N = 1000000, CHUNK = 1024 };
  float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float)), *out = malloc(N * sizeof(float));
  for (int i = 0; i < N; i++) a[i] = (float)i * 0.5f - 7.0f, b[i] = 1.0f / (float)(i + 1);
  tg_backend_buffer *bufs[3] = {0};
  for (int i = 0; i < 3; i++) CHECK_OK(api->alloc(dev, N * sizeof(float), &bufs[i]));
  CHECK_OK(api->copyin(dev, bufs[1], 0, a, N * sizeof(float)));
  CHECK_OK(api->copyin(dev, bufs[2], 0, b, N * sizeof(float)));
  int compiled = hs.n_compiled;
  tg_backend_program *p = build(vadd_src, "vadd");
  CHECK(hs.n_compiled == compiled + 1);
  int64_t vals[2] = {N, CHUNK};
  double elapsed = -1;
  tg_launch_params lp = {.struct_size = sizeof(lp), .bufs = bufs, .n_bufs = 3, .vals = vals, .n_vals = 2,
                         .global = {(N + CHUNK - 1) / CHUNK, 1, 1}, .local = {1, 1, 1}, .wait = 1, .elapsed_s = &elapsed};
  if (p) CHECK_OK(api->launch(dev, p, &lp));
  CHECK(elapsed >= 0);
  CHECK_OK(api->copyout(dev, bufs[0], 0, out, N * sizeof(float)));
  int bad = 0;
  for (int i = 0; i < N; i++) bad += out[i] != a[i] + b[i];
  CHECK(bad == 0);

  /* launch argument errors */
  lp.local[0] = 2;
  if (p) CHECK_ERR(api->launch(dev, p, &lp), TG_ERR_INVALID_ARGUMENT, "local size (2,1,1)");
  lp.local[0] = 1, lp.global[1] = 0;
  if (p) CHECK_ERR(api->launch(dev, p, &lp), TG_ERR_INVALID_ARGUMENT, "zero dimension");
  lp.global[1] = 1, lp.bufs = NULL;
  if (p) CHECK_ERR(api->launch(dev, p, &lp), TG_ERR_NULL_POINTER, "bufs is NULL");
  uint64_t fake[8] = {0};
  CHECK_ERR(api->launch(dev, (tg_backend_program *)fake, &lp), TG_ERR_INVALID_HANDLE, "bad program handle");

  /* the second compile of the same source is a cache hit: no compiler run, same bytes */
  tg_blob b1 = {.struct_size = sizeof(b1)}, b2 = {.struct_size = sizeof(b2)};
  compiled = hs.n_compiled;
  int hits = hs.n_hits;
  CHECK_OK(api->compile(dev, vadd_src, "vadd", &b1));
  CHECK_OK(api->compile(dev, vadd_src, "vadd", &b2));
  CHECK(hs.n_compiled == compiled && hs.n_hits == hits + 2);
  CHECK(b1.size > 0 && b1.size == b2.size && memcmp(b1.data, b2.data, b1.size) == 0);
  api->blob_free(&b1);
  api->blob_free(&b2);
  CHECK(b1.data == NULL);
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/tgc/cpu", cache_root);
  CHECK(count_files(dir, ".so") == 1 && count_files(dir, ".tmp") == 0);

  api->program_free(dev, p);
  for (int i = 0; i < 3; i++) api->free(dev, bufs[i]);
  free(a), free(b), free(out);
}

/* out[r] = sum of every k-th element of row r; rows laid out on a 2-D grid (gid[0] + gx * gid[1]). */
static const char *rsum_src =
    "#include <stdint.h>\n"
    "void rsum(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n"
    "  double *out = bufs[0]; const float *in = bufs[1];\n"
    "  int64_t cols = vals[0], k = vals[1], gx = vals[2], r = gid[0] + gx * (int64_t)gid[1];\n"
    "  double acc = 0;\n"
    "  for (int64_t j = 0; j < cols; j += k) acc += in[r * cols + j];\n"
    "  out[r] = acc;\n"
    "}\n";

static void test_reduce(void) {
  enum { GX = 7, GY = 5, ROWS = GX * GY, COLS = 1001, K = 3 };
  float *in = malloc(ROWS * COLS * sizeof(float));
  double out[ROWS], expect[ROWS];
  for (int i = 0; i < ROWS * COLS; i++) in[i] = (float)((i * 37) % 101) * 0.25f - 3.0f;
  for (int r = 0; r < ROWS; r++) {
    expect[r] = 0;
    for (int j = 0; j < COLS; j += K) expect[r] += in[r * COLS + j];
  }
  tg_backend_buffer *bufs[2] = {0};
  CHECK_OK(api->alloc(dev, sizeof(out), &bufs[0]));
  CHECK_OK(api->alloc(dev, ROWS * COLS * sizeof(float), &bufs[1]));
  CHECK_OK(api->copyin(dev, bufs[1], 0, in, ROWS * COLS * sizeof(float)));
  tg_backend_program *p = build(rsum_src, "rsum");
  int64_t vals[3] = {COLS, K, GX};
  if (p) CHECK_OK(run(p, bufs, 2, vals, 3, GX, GY, 1));
  CHECK_OK(api->copyout(dev, bufs[0], 0, out, sizeof(out)));
  CHECK(memcmp(out, expect, sizeof(out)) == 0); /* same order of additions: bit-exact */
  api->program_free(dev, p);
  api->free(dev, bufs[0]);
  api->free(dev, bufs[1]);
  free(in);
}

/* Each grid point counts itself and records the thread it ran on. With vals[2] = n points, it then waits (2 s at most)
** until some other thread has recorded itself: chunks go to whichever thread claims them first, so without the wait the
** launching thread may run them all before a worker wakes. */
static const char *who_src =
    "#include <stdint.h>\n#include <pthread.h>\n#include <sched.h>\n#include <time.h>\n"
    "void who(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n"
    "  uint64_t *out = bufs[0], me = (uint64_t)pthread_self();\n"
    "  uint64_t i = gid[0] + (uint64_t)vals[0] * (gid[1] + (uint64_t)vals[1] * gid[2]);\n"
    "  __atomic_fetch_add(&out[2 * i], 1, __ATOMIC_RELAXED);\n"
    "  __atomic_store_n(&out[2 * i + 1], me, __ATOMIC_RELEASE);\n"
    "  struct timespec t0, t;\n"
    "  clock_gettime(CLOCK_MONOTONIC, &t0);\n"
    "  for (int other = 0; vals[2] > 1 && !other;) {\n"
    "    for (int64_t k = 0; k < vals[2] && !other; k++) {\n"
    "      uint64_t v = __atomic_load_n(&out[2 * k + 1], __ATOMIC_ACQUIRE);\n"
    "      other = v != 0 && v != me;\n"
    "    }\n"
    "    clock_gettime(CLOCK_MONOTONIC, &t);\n"
    "    if (t.tv_sec - t0.tv_sec > 2) break;\n"
    "    sched_yield();\n"
    "  }\n"
    "}\n";

static void check_grid(tg_backend_program *p, uint32_t gx, uint32_t gy, uint32_t gz, int want_threads) {
  size_t n = (size_t)gx * gy * gz;
  uint64_t *out = calloc(2 * n, sizeof(uint64_t)), tids[8];
  tg_backend_buffer *buf = NULL;
  CHECK_OK(api->alloc(dev, 2 * n * sizeof(uint64_t), &buf));
  CHECK_OK(api->copyin(dev, buf, 0, out, 2 * n * sizeof(uint64_t)));
  int64_t vals[3] = {gx, gy, want_threads ? (int64_t)n : 0};
  CHECK_OK(run(p, &buf, 1, vals, 3, gx, gy, gz));
  CHECK_OK(api->copyout(dev, buf, 0, out, 2 * n * sizeof(uint64_t)));
  int once = 1, ntids = 0;
  for (size_t i = 0; i < n; i++) {
    once &= out[2 * i] == 1;
    int seen = 0;
    for (int t = 0; t < ntids; t++) seen |= tids[t] == out[2 * i + 1];
    if (!seen && ntids < 8) tids[ntids++] = out[2 * i + 1];
  }
  CHECK(once);
  if (want_threads) CHECK(ntids > 1 && ntids <= 4);
  api->free(dev, buf);
  free(out);
}

static void test_threads(void) {
  tg_backend_program *p = build(who_src, "who");
  if (p == NULL) return;
  check_grid(p, 8 * 4, 1, 1, 1); /* 4 threads from TGC_CPU_THREADS */
  check_grid(p, 5, 3, 7, 1);
  check_grid(p, 3, 1, 1, 1); /* fewer points than threads */
  check_grid(p, 1, 1, 1, 0);
  /* many back-to-back launches: no lost wake-up, no point run twice or skipped */
  enum { LAUNCHES = 2000, POINTS = 7 };
  uint64_t out[2 * POINTS] = {0};
  tg_backend_buffer *buf = NULL;
  int64_t vals[3] = {POINTS, 1, 0};
  CHECK_OK(api->alloc(dev, sizeof(out), &buf));
  CHECK_OK(api->copyin(dev, buf, 0, out, sizeof(out)));
  int ok = 1;
  for (int i = 0; i < LAUNCHES; i++) ok &= run(p, &buf, 1, vals, 3, POINTS, 1, 1) == TG_OK;
  CHECK_OK(api->copyout(dev, buf, 0, out, sizeof(out)));
  for (int i = 0; i < POINTS; i++) ok &= out[2 * i] == LAUNCHES;
  CHECK(ok);
  api->free(dev, buf);
  api->program_free(dev, p);
}

/* Two programs with the same symbol and different code stay distinct while both are loaded (dlopen by name must not
** hand back the first one). */
static void test_two_programs(void) {
  const char *src1 = "#include <stdint.h>\nvoid k(void *const *b, const int64_t *v, const uint32_t g[3]) { (void)v; (void)g; *(int *)b[0] = 1; }\n";
  const char *src2 = "#include <stdint.h>\nvoid k(void *const *b, const int64_t *v, const uint32_t g[3]) { (void)v; (void)g; *(int *)b[0] = 2; }\n";
  tg_backend_program *p[6] = {0};
  tg_backend_buffer *buf = NULL;
  CHECK_OK(api->alloc(dev, sizeof(int), &buf));
  for (int i = 0; i < 6; i++) p[i] = build(i % 2 ? src2 : src1, "k");
  api->program_free(dev, p[2]), p[2] = build(src1, "k"); /* reuse of a freed slot */
  int ok = 1;
  for (int i = 0; i < 6; i++) {
    int v = 0;
    ok &= p[i] && run(p[i], &buf, 1, NULL, 0, 1, 1, 1) == TG_OK && api->copyout(dev, buf, 0, &v, sizeof v) == TG_OK;
    ok &= v == (i % 2 ? 2 : 1);
  }
  CHECK(ok);
  for (int i = 0; i < 6; i++) api->program_free(dev, p[i]);
  api->free(dev, buf);
}

static void test_program_errors(void) {
  tg_blob blob = {.struct_size = sizeof(blob)};
  const char *bad = "void broken(void) { undeclared_thing = 1; }\n";
  CHECK_ERR(api->compile(dev, bad, "broken", &blob), TG_ERR_COMPILE, "undeclared");
  CHECK(strstr(hs.err, "broken") != NULL);

  CHECK_OK(api->compile(dev, vadd_src, "vadd", &blob));
  tg_backend_program *p = NULL;
  CHECK_ERR(api->load(dev, blob.data, blob.size, "nosuch", &p), TG_ERR_LOAD, "'nosuch'");
  api->blob_free(&blob);
  CHECK_ERR(api->load(dev, "not an ELF file at all", 22, "x", &p), TG_ERR_LOAD, "dlopen");

  /* TGC_CC is split on blanks (no shell): extra words reach the compiler */
  setenv("TGC_CC", "cc -DTGC_TEST_VALUE=7", 1);
  p = build("#include <stdint.h>\nvoid seven(void *const *b, const int64_t *v, const uint32_t g[3]) { (void)v; (void)g; "
            "*(int *)b[0] = TGC_TEST_VALUE; }\n", "seven");
  tg_backend_buffer *buf = NULL;
  int v = 0;
  CHECK_OK(api->alloc(dev, sizeof(int), &buf));
  if (p) CHECK_OK(run(p, &buf, 1, NULL, 0, 1, 1, 1));
  CHECK_OK(api->copyout(dev, buf, 0, &v, sizeof v));
  CHECK(v == 7);
  api->free(dev, buf);
  api->program_free(dev, p);

  setenv("TGC_CC", "/nonexistent/cc", 1);
  CHECK_ERR(api->compile(dev, vadd_src, "vadd", &blob), TG_ERR_UNAVAILABLE, "'/nonexistent/cc'");
  CHECK(strstr(hs.err, "ziglang") != NULL);
  unsetenv("TGC_CC");
}

static void test_events(void) {
  tg_backend_event *e1 = NULL, *e2 = NULL;
  double s = -1;
  CHECK_OK(api->event_create(dev, &e1));
  CHECK_OK(api->event_create(dev, &e2));
  CHECK_ERR(api->event_elapsed(dev, e1, e2, &s), TG_ERR_INVALID_ARGUMENT, "never recorded");
  CHECK_OK(api->event_record(dev, e1));
  CHECK_OK(api->event_record(dev, e2));
  CHECK_OK(api->event_synchronize(dev, e2));
  CHECK_OK(api->event_elapsed(dev, e1, e2, &s));
  CHECK(s >= 0);
  api->event_free(dev, e1);
  api->event_free(dev, e2);
}

/* A cache directory others can write into is refused: a warning, nothing written there, compiling still works. */
static void test_unsafe_cache(void) {
  char root[256];
  make_tmpdir(root, sizeof(root));
  chmod(root, 0777);
  setenv("XDG_CACHE_HOME", root, 1);
  int warns = hs.n_warn, compiled = hs.n_compiled;
  tg_backend_program *p = build(rsum_src, "rsum");
  CHECK(p != NULL && hs.n_warn == warns + 1 && strstr(hs.warn, root) && strstr(hs.warn, "writable"));
  api->program_free(dev, p);
  p = build(rsum_src, "rsum"); /* no cache: the compiler runs again */
  CHECK(p != NULL && hs.n_compiled == compiled + 2);
  api->program_free(dev, p);
  CHECK(count_files(root, "") == 0);
  rm_tree(root);

  /* TGC_CPU_NOCACHE=1: no lookups, nothing stored */
  setenv("XDG_CACHE_HOME", cache_root, 1);
  setenv("TGC_CPU_NOCACHE", "1", 1);
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/tgc/cpu", cache_root);
  int files = count_files(dir, ".so"), hits = hs.n_hits;
  p = build(vadd_src, "vadd");
  CHECK(p != NULL && hs.n_hits == hits && count_files(dir, ".so") == files);
  api->program_free(dev, p);
  unsetenv("TGC_CPU_NOCACHE");
}

/* shutdown releases everything (ASan checks for leaks), and entry works again afterwards. */
static void test_reload(void) {
  tg_backend_buffer *leak = NULL;
  tg_backend_program *p = build(who_src, "who");
  CHECK_OK(api->alloc(dev, 1 << 20, &leak)); /* left for shutdown to free */
  api->shutdown();
  api = NULL;
  CHECK_OK(entry(&host, &api));
  CHECK(api != NULL);
  if (api == NULL) return;
  CHECK_OK(api->device_open(0, &dev));
  int hits = hs.n_hits;
  p = build(who_src, "who");
  CHECK(hs.n_hits == hits + 1);
  if (p) check_grid(p, 16, 1, 1, 1);
  api->program_free(dev, p);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  unsetenv("TGC_CACHE_DIR"), unsetenv("TGC_CPU_NOCACHE"), unsetenv("TGC_CC");
  setenv("TGC_CPU_THREADS", "4", 1);
  test_helpers();
  make_tmpdir(cache_root, sizeof(cache_root));
  setenv("XDG_CACHE_HOME", cache_root, 1);

  void *lib = dlopen(TGC_CPU_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return fprintf(stderr, "cannot load %s: %s\n", TGC_CPU_PLUGIN_PATH, dlerror()), 1;
  const tg_manifest *m = dlsym(lib, TG_BACKEND_MANIFEST_SYMBOL);
  *(void **)&entry = dlsym(lib, TG_BACKEND_ENTRY_SYMBOL);
  CHECK(m != NULL && entry != NULL);
  if (m == NULL || entry == NULL) return 1;
  CHECK(dlsym(lib, "tg_cpu_compile_count") == NULL && dlsym(lib, "tg_sha256") == NULL); /* only the two symbols */
  test_manifest(m);
  test_negotiation();
  CHECK_OK(entry(&host, &api));
  if (api == NULL) return 1;
  test_device();
  test_memory();
  test_vadd();
  test_reduce();
  test_threads();
  test_two_programs();
  test_program_errors();
  test_events();
  test_unsafe_cache();
  test_reload();
  api->shutdown();
  dlclose(lib);
  rm_tree(cache_root);
  if (n_failed) return fprintf(stderr, "FAILED %d of %d checks\n", n_failed, n_checks), 1;
  printf("ok %d checks\n", n_checks);
  return 0;
}
