/* runtime/cpu.c -- the built-in CPU backend (tinygrad's runtime/ops_cpu.py), written against include/tg_backend.h
** exactly as an external plugin would be: kernels are C ("c" dialect) compiled by the system C compiler through
** posix_spawn (never a shell), cached on disk, loaded with dlopen and run on a persistent pthread pool.
** See runtime/cpu.h for the symbols and environment variables. */
#define _GNU_SOURCE
#include "runtime/cpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* ---------------- Symbols: one body, two ways of being linked ---------------- */

#if defined(TG_CPU_AS_PLUGIN) && TG_CPU_AS_PLUGIN
#define CPU_MANIFEST tg_backend_manifest
#define CPU_MANIFEST_DEF TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest
#define CPU_ENTRY_DEF TG_BACKEND_EXPORT tg_status tg_backend_entry_v1
#else /* inside libtgc: internal names, hidden by cpu.h */
#define CPU_MANIFEST tg_cpu_backend_manifest
#define CPU_MANIFEST_DEF const tg_manifest tg_cpu_backend_manifest
#define CPU_ENTRY_DEF tg_status tg_cpu_backend_entry
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CPU_FLAVOR TG_BACKEND_FLAVOR_ASAN
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPU_FLAVOR TG_BACKEND_FLAVOR_ASAN
#endif
#endif
#ifndef CPU_FLAVOR
#define CPU_FLAVOR TG_BACKEND_FLAVOR_RELEASE
#endif

CPU_MANIFEST_DEF = {.magic = TG_BACKEND_MAGIC, .struct_size = (uint32_t)sizeof(tg_manifest),
                    .abi_major = TG_BACKEND_ABI_MAJOR, .abi_min_minor = 0, .abi_max_minor = TG_BACKEND_ABI_MINOR,
                    .name = "CPU", .version = "0.1.0", .flavor = CPU_FLAVOR, .dialects = "c"};

/* ---------------- State ---------------- */

#define CPU_ALIGN 64
#define CPU_MAX_THREADS 1024
#define CPU_LOG_MAX 6000 /* compiler output kept in an error message; the first errors are the useful ones */
enum { BUF_MAGIC = 0x46554243, PROG_MAGIC = 0x47525043, EVENT_MAGIC = 0x544e5645 };

/* Every buffer, program and event starts with this node, so shutdown can release what the host left behind. */
typedef struct cpu_obj {
  uint32_t magic;
  struct cpu_obj *prev, *next;
} cpu_obj;

struct tg_backend_device { int index; };
struct tg_backend_buffer { cpu_obj obj; void *base; size_t size; int owns; };
typedef void (*cpu_kernel_fn)(void *const *bufs, const int64_t *vals, const uint32_t gid[3]);
struct tg_backend_program { cpu_obj obj; void *handle; cpu_kernel_fn fn; };
struct tg_backend_event { cpu_obj obj; struct timespec t; int recorded; };

static const tg_backend_host *g_host;
static struct tg_backend_device g_dev;
static int g_nthreads = 1;
static char g_model[TG_TEXT_MAX], g_vendor[64], g_cpu_id[65]; /* g_cpu_id: hash of model + ISA flags */
static char g_cache_warned[512];                              /* last unsafe-cache reason logged */
static uint64_t g_compiles;                                   /* compiler runs, process-wide (atomic) */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;      /* guards the object list */
static cpu_obj g_objs = {0, &g_objs, &g_objs};

uint64_t tg_cpu_compile_count(void) { return __atomic_load_n(&g_compiles, __ATOMIC_RELAXED); }

/* ---------------- Errors and logging (the one funnel to the host) ---------------- */

/* The one funnel to the host (tg_backend.h's helpers). */
#define fail(...) tg_backend_fail(g_host, __VA_ARGS__)
#define say(...) tg_backend_logf(g_host, __VA_ARGS__)

#define CHECK_DEV(fn, dev) \
  do { if ((dev) != &g_dev) return fail(TG_ERR_INVALID_HANDLE, "cpu: " fn ": bad device handle %p", (void *)(dev)); } while (0)
#define CHECK_OBJ(fn, p, MAGIC, kind) \
  do { if (!is_a(p, MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "cpu: " fn ": bad " kind " handle %p", (const void *)(p)); } while (0)
#define CHECK_PTR(fn, p) \
  do { if ((p) == NULL) return fail(TG_ERR_NULL_POINTER, "cpu: " fn ": " #p " is NULL"); } while (0)

static void track(cpu_obj *o, uint32_t magic) {
  pthread_mutex_lock(&g_mu);
  o->magic = magic, o->prev = g_objs.prev, o->next = &g_objs;
  g_objs.prev->next = o, g_objs.prev = o;
  pthread_mutex_unlock(&g_mu);
}

static void untrack(cpu_obj *o) {
  pthread_mutex_lock(&g_mu);
  o->prev->next = o->next, o->next->prev = o->prev;
  o->magic = 0;
  pthread_mutex_unlock(&g_mu);
}

static void destroy(cpu_obj *o) {
  uint32_t magic = o->magic;
  untrack(o);
  if (magic == BUF_MAGIC && ((tg_backend_buffer *)o)->owns) free(((tg_backend_buffer *)o)->base);
  if (magic == PROG_MAGIC) dlclose(((tg_backend_program *)o)->handle);
  free(o);
}

static int is_a(const void *p, uint32_t magic) { return p != NULL && ((const cpu_obj *)p)->magic == magic; }

/* ---------------- Small file helpers ---------------- */

static int write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* Writes all bytes to a freshly opened fd (fd < 0 is passed through as failure) and closes it. */
static int write_fd(int fd, const void *data, size_t n) {
  if (fd < 0) return -1;
  int bad = write_all(fd, data, n) != 0;
  return (close(fd) != 0 || bad) ? -1 : 0;
}

/* Reads at most `max` bytes of a file into a malloc'd buffer (NUL-terminated for text use). */
static int read_file(const char *path, size_t max, char **out, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0 || st.st_size < 0) return close(fd), -1;
  size_t n = (size_t)st.st_size < max ? (size_t)st.st_size : max, got = 0;
  char *buf = malloc(n + 1);
  while (buf && got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (buf == NULL || got != n) return free(buf), -1;
  buf[n] = '\0';
  *out = buf, *size = n;
  return 0;
}

static const char *tmp_root(void) {
  const char *t = getenv("TMPDIR");
  return t && t[0] == '/' ? t : "/tmp";
}

/* ---------------- Host identity (read once at entry) ---------------- */

static void copy_text(char *dst, size_t dstsz, const char *src) {
  size_t n = strlen(src);
  while (n > 0 && (src[n - 1] == '\n' || src[n - 1] == ' ')) n--;
  if (n >= dstsz) n = dstsz - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* The first processor block of /proc/cpuinfo gives the model and vendor; its ISA flags go into the compile cache
** key, because -march=native makes the .so specific to this CPU (a cache on a shared home must not mix them). */
static void read_cpuinfo(void) {
  static const struct { const char *from, *to; } vendors[] = {{"GenuineIntel", "Intel"}, {"AuthenticAMD", "AMD"}};
  tg_sha256_ctx sha;
  char *line = NULL, vendor[64] = "";
  size_t cap = 0;
  snprintf(g_model, sizeof(g_model), "CPU");
  g_vendor[0] = '\0';
  tg_sha256_init(&sha);
  FILE *f = fopen("/proc/cpuinfo", "re");
  while (f && getline(&line, &cap, f) > 0 && line[0] != '\n') {
    char *colon = strchr(line, ':');
    if (colon == NULL) continue;
    const char *val = colon + 1 + (colon[1] == ' ');
    if (strncmp(line, "model name", 10) == 0) copy_text(g_model, sizeof(g_model), val);
    if (strncmp(line, "vendor_id", 9) == 0) copy_text(vendor, sizeof(vendor), val);
    if (strncmp(line, "model name", 10) == 0 || strncmp(line, "flags", 5) == 0 || strncmp(line, "Features", 8) == 0 ||
        strncmp(line, "CPU part", 8) == 0)
      tg_sha256_update(&sha, line, strlen(line));
  }
  free(line);
  if (f) fclose(f);
  snprintf(g_vendor, sizeof(g_vendor), "%s", vendor);
  for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
    if (strcmp(vendor, vendors[i].from) == 0) snprintf(g_vendor, sizeof(g_vendor), "%s", vendors[i].to);
  uint8_t digest[32];
  tg_sha256_final(&sha, digest);
  tg_hex(digest, 32, g_cpu_id);
}

static int thread_count(void) {
  long n = tg_getenv_int("TGC_CPU_THREADS", 0);
  if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > CPU_MAX_THREADS ? CPU_MAX_THREADS : (int)n;
}

/* ---------------- Devices ---------------- */

static tg_status cpu_device_count(int *out_count) {
  CHECK_PTR("device_count", out_count);
  *out_count = 1;
  return TG_OK;
}

static tg_status check_index(const char *fn, int index) {
  if (index != 0) return fail(TG_ERR_OUT_OF_RANGE, "cpu: %s: device index %d out of range (1 device)", fn, index);
  return TG_OK;
}

/* Out-struct rule (tg_backend.h, VERSIONED STRUCTS): write a field only when the host's capacity covers all of
** it, and report in struct_size how far we wrote. `next` belongs to the host and is never touched. */
#define FIELD_END(f) TG_STRUCT_SIZE(__typeof__(*out), f)
#define PUT_AS(f, write) (void)(cap >= FIELD_END(f) && ((write), filled = FIELD_END(f)))
#define PUT(f, v) PUT_AS(f, out->f = (v))
#define PUTARR(f, a) PUT_AS(f, memcpy(out->f, (a), sizeof(out->f)))
#define PUTTXT(f, s) PUT_AS(f, put_text(out->f, sizeof(out->f), (s)))

static void put_text(char *dst, size_t dstsz, const char *src) {
  memset(dst, 0, dstsz);
  copy_text(dst, dstsz, src);
}

static tg_status cpu_device_properties(int index, tg_device_properties *out) {
  CHECK_PTR("device_properties", out);
  if (check_index("device_properties", index) != TG_OK) return TG_ERR_OUT_OF_RANGE;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "cpu: device_properties: struct_size %zu too small", cap);
  PUTTXT(name, g_model), PUTTXT(vendor, g_vendor), PUTTXT(driver_version, "");
  PUT(type, TG_DEVICE_CPU), PUT(reserved, 0);
  out->struct_size = filled;
  return TG_OK;
}

/* tinygrad 0.14.0's ClangRenderer.code_for_op: CStyleLanguage's set minus EXP2, LOG2, SIN, RECIPROCAL (so the
** core decomposes transcendentals into polynomials, as tinygrad does on CPU, and kernels need no libm), with
** SQRT and TRUNC as builtins and FDIV added. MAX is not in it either: tinygrad lowers it to WHERE/CMPLT. */
static uint64_t cpu_alu_ops(void) {
  static const tg_alu_op ops[] = {TG_ALU_SQRT, TG_ALU_NEG, TG_ALU_TRUNC, TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL,
                                  TG_ALU_FDIV, TG_ALU_CDIV, TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT,
                                  TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR, TG_ALU_XOR, TG_ALU_WHERE};
  uint64_t mask = 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) mask |= 1ull << ops[i];
  return mask;
}

static tg_status cpu_device_caps(int index, tg_device_caps *out) {
  CHECK_PTR("device_caps", out);
  if (check_index("device_caps", index) != TG_OK) return TG_ERR_OUT_OF_RANGE;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "cpu: device_caps: struct_size %zu too small", cap);
  struct utsname u;
  if (uname(&u) != 0) snprintf(u.machine, sizeof(u.machine), "unknown");
  uint64_t mem = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
  const uint32_t gmax[3] = {(uint32_t)g_nthreads, 1, 1}, lmax[3] = {1, 1, 1};
  PUTTXT(dialect, "c"), PUTTXT(arch, u.machine);
  PUT(dtypes, (1ull << (TG_FLOAT64 + 1)) - 1); /* bool .. float64: everything but the fp8s */
  PUT(alu_ops, cpu_alu_ops());
  PUT(has_local, 0), PUT(has_shared, 0), PUT(has_threads, 1);
  PUT(vector_width, 4);
  PUTARR(global_max, gmax), PUTARR(local_max, lmax);
  PUT(local_prod_max, 1), PUT(alignment, CPU_ALIGN), PUT(shared_max, 0);
  PUT(mem_total, mem), PUT(mem_max_alloc, mem);
  PUT(n_tensor_cores, 0), PUT(compile_concurrent, 1), PUT(tensor_cores, NULL);
  out->struct_size = filled;
  return TG_OK;
}

static tg_status cpu_device_open(int index, tg_backend_device **out) {
  CHECK_PTR("device_open", out);
  if (check_index("device_open", index) != TG_OK) return TG_ERR_OUT_OF_RANGE;
  *out = &g_dev;
  return TG_OK;
}

static void cpu_device_close(tg_backend_device *dev) { (void)dev; }

/* ---------------- Memory ---------------- */

static tg_status new_buffer(void *base, size_t size, int owns, tg_backend_buffer **out) {
  tg_backend_buffer *b = calloc(1, sizeof(*b));
  if (b == NULL) return TG_ERR_OUT_OF_MEMORY;
  b->base = base, b->size = size, b->owns = owns;
  track(&b->obj, BUF_MAGIC);
  *out = b;
  return TG_OK;
}

static tg_status cpu_alloc(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out) {
  CHECK_DEV("alloc", dev);
  CHECK_PTR("alloc", out);
  void *p = NULL;
  /* 0 bytes still gets its own allocation so that every buffer has a distinct address */
  if (posix_memalign(&p, CPU_ALIGN, nbytes ? nbytes : 1) != 0 || new_buffer(p, nbytes, 1, out) != TG_OK) {
    free(p);
    return fail(TG_ERR_OUT_OF_MEMORY, "cpu: alloc of %zu bytes failed", nbytes);
  }
  return TG_OK;
}

static void cpu_free(tg_backend_device *dev, tg_backend_buffer *buf) {
  (void)dev;
  if (is_a(buf, BUF_MAGIC)) destroy(&buf->obj);
}

static tg_status check_range(const char *fn, const tg_backend_buffer *b, size_t offset, size_t nbytes) {
  if (!is_a(b, BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "cpu: %s: bad buffer handle %p", fn, (const void *)b);
  if (offset > b->size || nbytes > b->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "cpu: %s out of range: offset %zu + %zu bytes > buffer size %zu", fn, offset,
                nbytes, b->size);
  return TG_OK;
}

/* copyin (to_dev) and copyout share the checks. */
static tg_status copy(const char *fn, tg_backend_device *dev, tg_backend_buffer *b, size_t offset, void *host,
                      size_t nbytes, int to_dev) {
  if (dev != &g_dev) return fail(TG_ERR_INVALID_HANDLE, "cpu: %s: bad device handle %p", fn, (void *)dev);
  tg_status s = check_range(fn, b, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  if (host == NULL) return fail(TG_ERR_NULL_POINTER, "cpu: %s: %s is NULL for %zu bytes", fn, to_dev ? "src" : "dst", nbytes);
  if (to_dev) memcpy((char *)b->base + offset, host, nbytes);
  else memcpy(host, (char *)b->base + offset, nbytes);
  return TG_OK;
}

static tg_status cpu_copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  return copy("copyin", dev, dst, offset, (void *)src, nbytes, 1);
}

static tg_status cpu_copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  return copy("copyout", dev, src, offset, dst, nbytes, 0);
}

static tg_status cpu_buffer_view(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes,
                                 tg_backend_buffer **out) {
  CHECK_DEV("buffer_view", dev);
  CHECK_PTR("buffer_view", out);
  tg_status s = check_range("buffer_view", buf, offset, nbytes);
  if (s != TG_OK) return s;
  if (new_buffer((char *)buf->base + offset, nbytes, 0, out) != TG_OK)
    return fail(TG_ERR_OUT_OF_MEMORY, "cpu: buffer_view: out of memory");
  return TG_OK;
}

/* ---------------- Compiler: command line, cache key, cache ---------------- */

/* -fno-math-errno lets __builtin_sqrtf stay one instruction (tinygrad passes it too); -lm covers the rare libm
** call (e.g. truncf without SSE4.1) for processes that loaded libm privately. */
static const char *const cc_flags[] = {"-O2", "-march=native", "-fno-math-errno", "-shared", "-fPIC", "-x", "c"};
#define N_CC_FLAGS (sizeof(cc_flags) / sizeof(cc_flags[0]))
#define CC_MAX_ARGS 32

typedef struct cc_cmd {
  char store[512];
  char *argv[CC_MAX_ARGS + N_CC_FLAGS + 8];
  int argc;        /* words of TGC_CC */
  char exe[4096];  /* resolved path of argv[0] */
  struct stat st;  /* of exe: size and mtime go into the cache key */
} cc_cmd;

/* TGC_CC split on blanks, so that "python -m ziglang cc" works without a shell. */
static tg_status cc_parse(cc_cmd *cc) {
  const char *env = getenv("TGC_CC");
  if (env == NULL || strspn(env, " \t") == strlen(env)) env = "cc";
  if (strlen(env) >= sizeof(cc->store)) return fail(TG_ERR_INVALID_ARGUMENT, "cpu: TGC_CC is too long (%zu bytes)", strlen(env));
  snprintf(cc->store, sizeof(cc->store), "%s", env);
  cc->argc = 0;
  for (char *save = NULL, *w = strtok_r(cc->store, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
    if (cc->argc == CC_MAX_ARGS) return fail(TG_ERR_INVALID_ARGUMENT, "cpu: TGC_CC has more than %d words", CC_MAX_ARGS);
    cc->argv[cc->argc++] = w;
  }
  return TG_OK;
}

/* out: PATH_MAX bytes, receives the resolved path (symlinks followed, so an upgrade behind /usr/bin/cc shows). */
static int find_exe(const char *name, char *out, struct stat *st) {
  char cand[4096];
  if (strchr(name, '/')) {
    snprintf(cand, sizeof(cand), "%s", name);
    return stat(cand, st) == 0 && S_ISREG(st->st_mode) && access(cand, X_OK) == 0 && realpath(cand, out) ? 0 : -1;
  }
  const char *path = getenv("PATH");
  if (path == NULL || *path == '\0') path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, ":");
    snprintf(cand, sizeof(cand), "%.*s/%s", n ? (int)n : 1, n ? p : ".", name);
    if (stat(cand, st) == 0 && S_ISREG(st->st_mode) && access(cand, X_OK) == 0 && realpath(cand, out)) return 0;
    p += n + (p[n] == ':');
  }
  return -1;
}

static tg_status cc_unavailable(const cc_cmd *cc, const char *why) {
  return fail(TG_ERR_UNAVAILABLE,
              "cpu: no C compiler: '%s' %s; install gcc or clang (or set TGC_CC to one), or `pip install ziglang` "
              "and set TGC_CC=\"python -m ziglang cc\"",
              cc->argv[0], why);
}

static tg_status cc_resolve(cc_cmd *cc) {
  if (find_exe(cc->argv[0], cc->exe, &cc->st) != 0)
    return cc_unavailable(cc, strchr(cc->argv[0], '/') ? "does not exist or is not executable" : "not found on PATH");
  return TG_OK;
}

/* Everything that changes the output: the source, the command line, the compiler binary itself (an upgrade
** changes its size or mtime) and the CPU (-march=native). */
static void cache_key(const cc_cmd *cc, const char *source, char key[65]) {
  tg_sha256_ctx c;
  uint8_t d[32];
  const int64_t id[3] = {(int64_t)cc->st.st_size, (int64_t)cc->st.st_mtim.tv_sec, (int64_t)cc->st.st_mtim.tv_nsec};
  tg_sha256_init(&c);
  tg_sha256_update(&c, "tgc-cpu-2", 10);  /* -2: cc_prelude */
  for (int i = 0; i < cc->argc; i++) tg_sha256_update(&c, cc->argv[i], strlen(cc->argv[i]) + 1);
  for (size_t i = 0; i < N_CC_FLAGS; i++) tg_sha256_update(&c, cc_flags[i], strlen(cc_flags[i]) + 1);
  tg_sha256_update(&c, cc->exe, strlen(cc->exe) + 1);
  tg_sha256_update(&c, id, sizeof(id));
  tg_sha256_update(&c, g_cpu_id, sizeof(g_cpu_id));
  tg_sha256_update(&c, source, strlen(source));
  tg_sha256_final(&c, d);
  tg_hex(d, 32, key);
}

/* The cache directory, or 0 when disabled; an unsafe directory is refused with a warning, once per reason. */
static int cache_dir(char *dir, size_t dirsz) {
  char why[512];
  if (tg_getenv_int("TGC_CPU_NOCACHE", 0) != 0) return 0;
  if (tg_cache_dir("cpu", dir, dirsz, why, sizeof(why)) == 0) return 1;
  pthread_mutex_lock(&g_mu); /* compiles run on several threads (caps.compile_concurrent) */
  int fresh = strcmp(why, g_cache_warned) != 0;
  if (fresh) snprintf(g_cache_warned, sizeof(g_cache_warned), "%s", why);
  pthread_mutex_unlock(&g_mu);
  if (fresh) say(TG_LOG_WARN, "cpu: compile cache disabled, compiling without it: %s", why);
  return 0;
}

static int cache_load(const char *dir, const char *key, tg_blob *out) {
  char path[4200], *data;
  size_t size;
  snprintf(path, sizeof(path), "%s/%s.so", dir, key);
  if (read_file(path, (size_t)1 << 31, &data, &size) != 0) return 0;
  if (size == 0) return free(data), 0;
  out->data = data, out->size = size;
  return 1;
}

/* Temp file + rename, so a concurrent reader sees either nothing or the whole .so. */
static void cache_store(const char *dir, const char *key, const void *data, size_t size) {
  char tmp[4200], path[4200];
  snprintf(tmp, sizeof(tmp), "%s/%s.tmp.XXXXXX", dir, key);
  snprintf(path, sizeof(path), "%s/%s.so", dir, key);
  if (write_fd(mkostemp(tmp, O_CLOEXEC), data, size) != 0 || rename(tmp, path) != 0) {
    say(TG_LOG_WARN, "cpu: cannot write compile cache entry %s: %s", path, strerror(errno));
    unlink(tmp);
  }
}

/* ---------------- Compiler: running it ---------------- */

typedef struct work_dir { char dir[4096], src[4200], so[4200], log[4200]; } work_dir;

static int work_open(work_dir *w) {
  snprintf(w->dir, sizeof(w->dir), "%s/tgc-cpu-XXXXXX", tmp_root());
  if (mkdtemp(w->dir) == NULL) return -1;
  snprintf(w->src, sizeof(w->src), "%s/kernel.c", w->dir);
  snprintf(w->so, sizeof(w->so), "%s/kernel.so", w->dir);
  snprintf(w->log, sizeof(w->log), "%s/cc.log", w->dir);
  return 0;
}

static void work_close(work_dir *w) {
  unlink(w->src), unlink(w->so), unlink(w->log);
  rmdir(w->dir);
}

/* posix_spawnp with stdout+stderr to the log file and stdin from /dev/null; returns the exit status, -1 when
** the process could not be started (errno set) or waited for. */
static int spawn_wait(char *const argv[], const char *logpath) {
  extern char **environ;
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int status, logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (logfd < 0) return -1;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, logfd, 1);
  posix_spawn_file_actions_adddup2(&fa, logfd, 2);
  int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(logfd);
  if (err != 0) return errno = err, -1;
  __atomic_fetch_add(&g_compiles, 1, __ATOMIC_RELAXED);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static tg_status compile_failed(const cc_cmd *cc, const work_dir *w, const char *name, int rc) {
  char *log = NULL;
  size_t n = 0;
  if (read_file(w->log, 1 << 20, &log, &n) != 0) log = NULL, n = 0;
  tg_status s = fail(TG_ERR_COMPILE, "cpu: compiling %s failed (%s exited with status %d):\n%.*s%s", name,
                     cc->argv[0], rc, (int)(n < CPU_LOG_MAX ? n : CPU_LOG_MAX), log ? log : "",
                     n > CPU_LOG_MAX ? "\n... (compiler output truncated)" : "");
  free(log);
  return s;
}

/* Written to the compiler ahead of every kernel (not part of the kernel's source, so neither DEBUG=4 nor the cache
** key sees it). GCC 12+ with -march=native on a CPU with AVX512-FP16 emits a zero-masked store (`vmovsh %xmm,
** mem{%k}{z}`) for a _Float16 select, which the assembler rightly rejects: _Float16 math goes through F16C/float
** conversions instead, as on every CPU without AVX512-FP16. Clang defines __GNUC__ too, hence the __clang__ test. */
static const char cc_prelude[] =
  "#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && __GNUC__ >= 12\n"
  "#pragma GCC target(\"no-avx512fp16\")\n"
  "#endif\n";

static int write_source(const char *path, const char *source) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (write_all(fd, cc_prelude, sizeof(cc_prelude) - 1) != 0) return close(fd), -1;
  return write_fd(fd, source, strlen(source));
}

static tg_status run_compiler(cc_cmd *cc, const char *source, const char *name, tg_blob *out) {
  work_dir w;
  if (work_open(&w) != 0) return fail(TG_ERR_IO, "cpu: cannot create a temp dir in %s: %s", tmp_root(), strerror(errno));
  char **a = cc->argv + cc->argc;
  for (size_t i = 0; i < N_CC_FLAGS; i++) *a++ = (char *)cc_flags[i];
  *a++ = w.src, *a++ = (char *)"-o", *a++ = w.so, *a++ = (char *)"-lm", *a = NULL;
  tg_status s = TG_OK;
  int rc = -1;
  if (write_source(w.src, source) != 0) s = fail(TG_ERR_IO, "cpu: cannot write %s: %s", w.src, strerror(errno));
  if (s == TG_OK && (rc = spawn_wait(cc->argv, w.log)) < 0)
    s = errno == ENOENT ? cc_unavailable(cc, "could not be started")
                        : fail(TG_ERR_COMPILE, "cpu: running %s failed: %s", cc->argv[0], strerror(errno));
  if (s == TG_OK && rc != 0) s = compile_failed(cc, &w, name, rc);
  char *data = NULL;
  size_t size = 0;
  if (s == TG_OK && read_file(w.so, (size_t)1 << 31, &data, &size) != 0)
    s = fail(TG_ERR_IO, "cpu: cannot read the compiler's output %s: %s", w.so, strerror(errno));
  if (s == TG_OK) out->data = data, out->size = size;
  work_close(&w);
  return s;
}

static tg_status cpu_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  CHECK_DEV("compile", dev);
  CHECK_PTR("compile", source);
  CHECK_PTR("compile", out);
  if (name == NULL) name = "(unnamed)";
  cc_cmd cc;
  char dir[4096], key[65];
  tg_status s = cc_parse(&cc);
  if (s == TG_OK) s = cc_resolve(&cc);
  if (s != TG_OK) return s;
  *out = (tg_blob){.struct_size = sizeof(tg_blob)};
  int cached = cache_dir(dir, sizeof(dir));
  if (cached) cache_key(&cc, source, key);
  if (cached && cache_load(dir, key, out)) {
    say(TG_LOG_DEBUG, "cpu: cache hit %s", name);
    return TG_OK;
  }
  s = run_compiler(&cc, source, name, out);
  if (s != TG_OK) return s;
  say(TG_LOG_DEBUG, "cpu: compiled %s", name);
  if (cached) cache_store(dir, key, out->data, out->size);
  return TG_OK;
}

static void cpu_blob_free(tg_blob *blob) {
  if (blob) free(blob->data), blob->data = NULL, blob->size = 0;
}

/* ---------------- Loading ---------------- */

/* glibc hands back an already-loaded object whose name matches, even when the file behind the name is new: the
** fd of a loaded program is closed, so the next memfd gets the same "/proc/self/fd/N". A taken name is refused
** (*taken = 1) and the caller loads through a fresh alias instead. */
static void *dlopen_fresh(const char *path, int *taken) {
  void *old = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  *taken = old != NULL;
  if (old != NULL) return dlclose(old), NULL;
  return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

/* A never-used path: a file in a fresh private directory, made for this one load and removed right after it (so a
** process that exits without tg_shutdown leaves nothing behind in the temp directory). */
static const char *alias_path(char *dir, size_t dirsz, char *out, size_t outsz) {
  snprintf(dir, dirsz, "%s/tgc-cpu-load-XXXXXX", tmp_root());
  if (mkdtemp(dir) == NULL) return NULL;
  snprintf(out, outsz, "%s/k.so", dir);
  return out;
}

/* The .so stays in memory (no disk write, works with a noexec /tmp); when its /proc name is taken, a symlink with
** a unique name points at it. */
static void *dlopen_memfd(const void *blob, size_t size) {
  char path[64], dir[4096], alias[4200];
  int fd = memfd_create("tgc-kernel", MFD_CLOEXEC), taken = 0;
  if (fd < 0) return NULL;
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  void *h = write_all(fd, blob, size) == 0 ? dlopen_fresh(path, &taken) : NULL;
  if (h == NULL && taken && alias_path(dir, sizeof(dir), alias, sizeof(alias))) {
    if (symlink(path, alias) == 0) h = dlopen_fresh(alias, &taken), unlink(alias);
    rmdir(dir);
  }
  close(fd); /* the mapping keeps the file alive */
  return h;
}

/* Fallback without memfd (or without /proc): a private regular file, unlinked once mapped. */
static void *dlopen_tmpfile(const void *blob, size_t size) {
  char dir[4096], path[4200];
  int taken;
  if (alias_path(dir, sizeof(dir), path, sizeof(path)) == NULL) return NULL;
  void *h = write_fd(open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700), blob, size) == 0 ? dlopen_fresh(path, &taken) : NULL;
  unlink(path);
  rmdir(dir);
  return h;
}

static tg_status cpu_load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  CHECK_DEV("load", dev);
  CHECK_PTR("load", blob);
  CHECK_PTR("load", name);
  CHECK_PTR("load", out);
  if (size == 0) return fail(TG_ERR_CORRUPT, "cpu: load %s: the blob is empty", name);
  dlerror();
  void *h = dlopen_memfd(blob, size);
  if (h == NULL) h = dlopen_tmpfile(blob, size);
  if (h == NULL) {
    const char *e = dlerror();
    return fail(TG_ERR_LOAD, "cpu: load %s: dlopen of the %zu-byte blob failed: %s", name, size, e ? e : strerror(errno));
  }
  void *sym = dlsym(h, name);
  tg_backend_program *p = sym ? calloc(1, sizeof(*p)) : NULL;
  if (p == NULL) {
    dlclose(h);
    return sym ? fail(TG_ERR_OUT_OF_MEMORY, "cpu: load %s: out of memory", name)
               : fail(TG_ERR_LOAD, "cpu: load: symbol '%s' not found in the program", name);
  }
  p->handle = h;
  memcpy(&p->fn, &sym, sizeof(p->fn)); /* object -> function pointer, the POSIX way */
  track(&p->obj, PROG_MAGIC);
  *out = p;
  return TG_OK;
}

static void cpu_program_free(tg_backend_device *dev, tg_backend_program *prog) {
  (void)dev;
  if (is_a(prog, PROG_MAGIC)) destroy(&prog->obj);
}

/* ---------------- Thread pool ---------------- */

/* One launch: grid points 0..total-1 (x fastest) split into nchunks contiguous chunks. Chunk 0 runs on the
** launching thread, chunk i on worker i-1. */
typedef struct cpu_job {
  cpu_kernel_fn fn;
  void *const *bufs;
  const int64_t *vals;
  uint32_t g[3];
  uint64_t total;
  uint32_t nchunks;
} cpu_job;

/* Chunks are claimed, not assigned: whichever thread comes first runs the next one, so a worker the OS wakes late (a
** loaded machine) costs nothing but parallelism -- the launching thread runs what is left instead of waiting for it. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_t *threads;
  int nworkers, started, stop;
  uint64_t gen;        /* bumped per launch; workers wait for a change */
  uint32_t completed;  /* chunks of the current job finished (under mu) */
  uint64_t claim;      /* (gen & 0xffffffff) << 32 | next unclaimed chunk; atomic */
  cpu_job job;
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

/* The next chunk of launch `gen`, or -1 when they are all taken or that launch is over. */
static int64_t claim_chunk(uint64_t gen, uint32_t nchunks) {
  uint64_t s = __atomic_load_n(&g_pool.claim, __ATOMIC_ACQUIRE);
  for (;;) {
    if ((s >> 32) != (gen & 0xffffffffu) || (uint32_t)s >= nchunks) return -1;
    if (__atomic_compare_exchange_n(&g_pool.claim, &s, s + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return (int64_t)(uint32_t)s;
  }
}

static void run_chunk(const cpu_job *j, uint32_t c) {
  uint64_t base = j->total / j->nchunks, rem = j->total % j->nchunks;
  uint64_t start = c * base + (c < rem ? c : rem), n = base + (c < rem);
  uint64_t q = start / j->g[0];
  uint32_t gid[3] = {(uint32_t)(start % j->g[0]), (uint32_t)(q % j->g[1]), (uint32_t)(q / j->g[1])};
  for (uint64_t i = 0; i < n; i++) {
    j->fn(j->bufs, j->vals, gid);
    if (++gid[0] == j->g[0] && (gid[0] = 0, ++gid[1] == j->g[1])) gid[1] = 0, gid[2]++;
  }
}

static void run_claimed(const cpu_job *j, uint64_t gen, uint32_t *ran);

static void *worker_main(void *arg) {
  (void)arg;
  uint64_t seen = 0;
  pthread_mutex_lock(&g_pool.mu);
  for (;;) {
    while (!g_pool.stop && g_pool.gen == seen) pthread_cond_wait(&g_pool.wake, &g_pool.mu);
    if (g_pool.stop) break;
    seen = g_pool.gen;
    cpu_job j = g_pool.job;
    pthread_mutex_unlock(&g_pool.mu);
    uint32_t ran = 0;
    run_claimed(&j, seen, &ran);
    pthread_mutex_lock(&g_pool.mu);
    /* chunks it ran belong to the current launch: the launcher waits for every claimed chunk before it returns */
    if (ran && (g_pool.completed += ran) == j.nchunks) pthread_cond_signal(&g_pool.done);
  }
  pthread_mutex_unlock(&g_pool.mu);
  return NULL;
}

static void run_claimed(const cpu_job *j, uint64_t gen, uint32_t *ran) {
  for (int64_t c; (c = claim_chunk(gen, j->nchunks)) >= 0; ++*ran) run_chunk(j, (uint32_t)c);
}

/* Workers start on the first parallel launch. They block asynchronous signals, so the host's handlers (Python's
** SIGINT) keep running on the host's threads; faults still reach the faulting thread. */
static void pool_start(void) {
  sigset_t all, old;
  g_pool.started = 1;
  if (g_nthreads <= 1 || (g_pool.threads = calloc((size_t)g_nthreads - 1, sizeof(pthread_t))) == NULL) return;
  sigfillset(&all);
  for (const int *s = (const int[]){SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, 0}; *s; s++) sigdelset(&all, *s);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  while (g_pool.nworkers < g_nthreads - 1 &&
         pthread_create(&g_pool.threads[g_pool.nworkers], NULL, worker_main, (void *)(uintptr_t)g_pool.nworkers) == 0)
    g_pool.nworkers++;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (g_pool.nworkers < g_nthreads - 1) say(TG_LOG_WARN, "cpu: started %d of %d worker threads", g_pool.nworkers, g_nthreads - 1);
}

static void pool_stop(void) {
  pthread_mutex_lock(&g_pool.mu);
  g_pool.stop = 1;
  pthread_cond_broadcast(&g_pool.wake);
  pthread_mutex_unlock(&g_pool.mu);
  for (int i = 0; i < g_pool.nworkers; i++) pthread_join(g_pool.threads[i], NULL);
  free(g_pool.threads);
  g_pool.threads = NULL, g_pool.nworkers = g_pool.started = g_pool.stop = 0, g_pool.gen = 0;
}

static void pool_run(cpu_job *j) {
  if (!g_pool.started) pool_start();
  j->nchunks = (uint32_t)(j->total < (uint64_t)g_pool.nworkers + 1 ? j->total : (uint64_t)g_pool.nworkers + 1);
  if (j->nchunks <= 1) {
    j->nchunks = 1;
    run_chunk(j, 0);
    return;
  }
  pthread_mutex_lock(&g_pool.mu);
  uint64_t gen = ++g_pool.gen;
  g_pool.job = *j, g_pool.completed = 0;
  __atomic_store_n(&g_pool.claim, (gen & 0xffffffffu) << 32, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&g_pool.wake);
  pthread_mutex_unlock(&g_pool.mu);
  uint32_t ran = 0;
  run_claimed(j, gen, &ran);
  pthread_mutex_lock(&g_pool.mu);
  g_pool.completed += ran;
  while (g_pool.completed < j->nchunks) pthread_cond_wait(&g_pool.done, &g_pool.mu);
  pthread_mutex_unlock(&g_pool.mu);
}

/* ---------------- Launch, synchronize, events ---------------- */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static tg_status check_launch(const tg_backend_program *prog, const tg_launch_params *p, uint64_t *total) {
  CHECK_OBJ("launch", prog, PROG_MAGIC, "program");
  CHECK_PTR("launch", p);
  if (p->struct_size < TG_STRUCT_SIZE(tg_launch_params, elapsed_s))
    return fail(TG_ERR_INVALID_ARGUMENT, "cpu: launch: params struct_size %zu < %zu", p->struct_size,
                TG_STRUCT_SIZE(tg_launch_params, elapsed_s));
  if (p->local[0] != 1 || p->local[1] != 1 || p->local[2] != 1)
    return fail(TG_ERR_INVALID_ARGUMENT, "cpu: launch: local size (%u,%u,%u) must be (1,1,1): the CPU has no workgroups",
                p->local[0], p->local[1], p->local[2]);
  if (p->global[0] == 0 || p->global[1] == 0 || p->global[2] == 0)
    return fail(TG_ERR_INVALID_ARGUMENT, "cpu: launch: global size (%u,%u,%u) has a zero dimension", p->global[0],
                p->global[1], p->global[2]);
  if (p->n_bufs > 0 && p->bufs == NULL) return fail(TG_ERR_NULL_POINTER, "cpu: launch: bufs is NULL with n_bufs %zu", p->n_bufs);
  if (p->n_vals > 0 && p->vals == NULL) return fail(TG_ERR_NULL_POINTER, "cpu: launch: vals is NULL with n_vals %zu", p->n_vals);
  for (size_t i = 0; i < p->n_bufs; i++)
    if (!is_a(p->bufs[i], BUF_MAGIC))
      return fail(TG_ERR_INVALID_HANDLE, "cpu: launch: bufs[%zu] is not a buffer handle (%p)", i, (void *)p->bufs[i]);
  if ((uint64_t)p->global[0] * p->global[1] > UINT64_MAX / p->global[2])
    return fail(TG_ERR_INVALID_ARGUMENT, "cpu: launch: global size (%u,%u,%u) has more than 2^64 points", p->global[0],
                p->global[1], p->global[2]);
  *total = (uint64_t)p->global[0] * p->global[1] * p->global[2];
  return TG_OK;
}

static tg_status cpu_launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params) {
  CHECK_DEV("launch", dev);
  uint64_t total = 0;
  tg_status s = check_launch(prog, params, &total);
  if (s != TG_OK) return s;
  void *stack_ptrs[32], **ptrs = stack_ptrs;
  if (params->n_bufs > 32 && (ptrs = malloc(params->n_bufs * sizeof(void *))) == NULL)
    return fail(TG_ERR_OUT_OF_MEMORY, "cpu: launch: out of memory for %zu buffers", params->n_bufs);
  for (size_t i = 0; i < params->n_bufs; i++) ptrs[i] = params->bufs[i]->base;
  static const int64_t no_vals[1] = {0};
  cpu_job j = {.fn = prog->fn, .bufs = ptrs, .vals = params->n_vals ? params->vals : no_vals, .total = total,
               .g = {params->global[0], params->global[1], params->global[2]}};
  double t0 = now_s();
  pool_run(&j); /* synchronous: every grid point has run when this returns */
  if (params->wait && params->elapsed_s) *params->elapsed_s = now_s() - t0;
  if (ptrs != stack_ptrs) free(ptrs);
  return TG_OK;
}

static tg_status cpu_synchronize(tg_backend_device *dev) {
  CHECK_DEV("synchronize", dev);
  return TG_OK; /* launches and copies complete before they return */
}

static tg_status cpu_event_create(tg_backend_device *dev, tg_backend_event **out) {
  CHECK_DEV("event_create", dev);
  CHECK_PTR("event_create", out);
  tg_backend_event *e = calloc(1, sizeof(*e));
  if (e == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "cpu: event_create: out of memory");
  track(&e->obj, EVENT_MAGIC);
  *out = e;
  return TG_OK;
}

static tg_status cpu_event_record(tg_backend_device *dev, tg_backend_event *ev) {
  CHECK_DEV("event_record", dev);
  CHECK_OBJ("event_record", ev, EVENT_MAGIC, "event");
  clock_gettime(CLOCK_MONOTONIC, &ev->t);
  ev->recorded = 1;
  return TG_OK;
}

static tg_status cpu_event_synchronize(tg_backend_device *dev, tg_backend_event *ev) {
  CHECK_DEV("event_synchronize", dev);
  CHECK_OBJ("event_synchronize", ev, EVENT_MAGIC, "event");
  return TG_OK; /* the queue is always drained */
}

static tg_status cpu_event_elapsed(tg_backend_device *dev, tg_backend_event *start, tg_backend_event *end, double *out_seconds) {
  CHECK_DEV("event_elapsed", dev);
  CHECK_PTR("event_elapsed", out_seconds);
  CHECK_OBJ("event_elapsed", start, EVENT_MAGIC, "event");
  CHECK_OBJ("event_elapsed", end, EVENT_MAGIC, "event");
  if (!start->recorded || !end->recorded)
    return fail(TG_ERR_INVALID_ARGUMENT, "cpu: event_elapsed: the %s event was never recorded", start->recorded ? "end" : "start");
  *out_seconds = (double)(end->t.tv_sec - start->t.tv_sec) + (double)(end->t.tv_nsec - start->t.tv_nsec) * 1e-9;
  return TG_OK;
}

static void cpu_event_free(tg_backend_device *dev, tg_backend_event *ev) {
  (void)dev;
  if (is_a(ev, EVENT_MAGIC)) destroy(&ev->obj);
}

/* ---------------- Entry and shutdown ---------------- */

static void cpu_shutdown(void) {
  pool_stop();
  while (g_objs.next != &g_objs) destroy(g_objs.next); /* whatever the host did not free */
  g_cache_warned[0] = '\0';
  g_host = NULL;
}

static tg_backend_api g_api = {
  .struct_size = sizeof(tg_backend_api), .shutdown = cpu_shutdown,
  .device_count = cpu_device_count, .device_properties = cpu_device_properties, .device_caps = cpu_device_caps,
  .device_open = cpu_device_open, .device_close = cpu_device_close,
  .alloc = cpu_alloc, .free = cpu_free, .copyin = cpu_copyin, .copyout = cpu_copyout,
  .compile = cpu_compile, .blob_free = cpu_blob_free, .load = cpu_load, .program_free = cpu_program_free,
  .launch = cpu_launch, .synchronize = cpu_synchronize, .buffer_view = cpu_buffer_view,
  .transfer = NULL, /* one device: nothing to transfer between */
  .event_create = cpu_event_create, .event_record = cpu_event_record, .event_synchronize = cpu_event_synchronize,
  .event_elapsed = cpu_event_elapsed, .event_free = cpu_event_free};

CPU_ENTRY_DEF(const tg_backend_host *host, const tg_backend_api **out) {
  uint32_t minor;
  if (out == NULL) return TG_ERR_NULL_POINTER;
  tg_status s = tg_backend_negotiate(host, &CPU_MANIFEST, &minor);
  if (s == TG_ERR_ABI && host->set_error) {
    char msg[160];
    snprintf(msg, sizeof(msg), "cpu: host ABI %u.%u refused: this backend speaks %u.%u to %u.%u", host->abi_major,
             host->abi_minor, CPU_MANIFEST.abi_major, CPU_MANIFEST.abi_min_minor, CPU_MANIFEST.abi_major,
             CPU_MANIFEST.abi_max_minor);
    host->set_error(host->ctx, s, msg);
  }
  if (s != TG_OK) return s;
  g_host = host;
  g_nthreads = thread_count();
  read_cpuinfo();
  g_api.abi_minor = minor;
  *out = &g_api;
  return TG_OK;
}
