/* device.c -- backends, devices, buffers and raw programs (tinygrad's device.py).
** The registry holds the built-in CPU backend and every backend loaded with tg_backend_load() or listed in
** $TGC_BACKEND_PATH. Each backend is checked before it is trusted: manifest, ABI negotiation, function table
** and the caps of each device. A refused backend stays in the registry as quarantined, with its reason. */
#include <dlfcn.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "helpers.h"
#include "runtime/cpu.h"
#include "tgc_internal.h"

typedef struct backend backend;

/* A freed buffer kept for the next allocation of the same size (tinygrad's LRUAllocator): a fresh allocation of a
** large buffer costs an mmap, a page fault per page and an munmap, often more than the kernel that writes it. */
typedef struct cached_buf {
  size_t size;
  tg_backend_buffer *bb;
} cached_buf;

typedef struct device {
  backend *b;
  int index;
  char name[48];
  void *handle;
  pthread_mutex_t mu;          /* serialises calls into the backend for this device */
  tg_backend_device *bdev;     /* opened on first use */
  tg_device_caps caps;
  tg_device_properties props;
  cached_buf *lru;             /* oldest first; under mu */
  size_t lru_n, lru_cap, lru_bytes;
} device;

struct backend {
  char path[512];
  int builtin;
  void *dl;
  tg_manifest man;
  tg_backend_api api;          /* the backend's table, zero-extended to our size: absent entries read as NULL */
  int loaded;
  tg_backend_state state;
  tg_status fail_status; /* what loading it returned, repeated to later loads of the same path */
  char reason[1024];
  int ndev;
  device **devs;
  void *handle;
};

typedef struct buffer {
  device *d;
  tg_backend_buffer *bb;
  size_t size;
  tg_buffer *parent; /* a view keeps its base alive (one reference) */
} buffer;

typedef struct program {
  device *d;
  tg_backend_program *bp;
} program;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static backend **backends;
static int nbackends;

/* ---------------- host callbacks ---------------- */

static _Thread_local char backend_msg[8192]; /* room for a compiler log */

static void host_set_error(void *ctx, tg_status code, const char *msg) {
  (void)ctx;
  (void)code;
  snprintf(backend_msg, sizeof backend_msg, "%s", msg ? msg : "");
}

static void host_log(void *ctx, tg_log_level level, const char *msg) {
  (void)ctx;
  static const char *const lvl[] = {"debug", "info", "warning", "error"};
  long debug = 0;
  const char *e = getenv("DEBUG");
  if (e) debug = strtol(e, NULL, 10);
  /* warnings and errors always; info from DEBUG>=2, debug chatter from DEBUG>=4 */
  if (level >= TG_LOG_WARN || (level == TG_LOG_INFO && debug >= 2) || debug >= 4)
    fprintf(stderr, "tgc %s: %s\n", level <= TG_LOG_ERROR ? lvl[level] : "log", msg ? msg : "");
}

static const tg_backend_host host_table = {sizeof(tg_backend_host), TG_BACKEND_ABI_MAJOR, TG_BACKEND_ABI_MINOR, NULL,
                                           host_set_error, host_log};

/* Turns a failing backend status into the caller's error: "<device>: <op>: <backend's message>". */
static tg_status backend_fail(const char *who, const char *op, tg_status st) {
  return tg_err(st, "%s: %s failed: %s", who, op, backend_msg[0] ? backend_msg : tg_status_string(st));
}

/* ---------------- validation ---------------- */

static int nul_terminated(const char *s, size_t n) { return memchr(s, 0, n) != NULL; }

static tg_status check_manifest(backend *b, const tg_manifest *m) {
  if (m->magic != TG_BACKEND_MAGIC)
    return tg_err(TG_ERR_ABI, "backend '%s': wrong manifest magic 0x%08x (expected 0x%08x \"TGCB\")", b->path, m->magic,
                  TG_BACKEND_MAGIC);
  if (m->abi_major != TG_BACKEND_ABI_MAJOR)
    return tg_err(TG_ERR_ABI, "backend '%s': built for backend ABI %u.x, this host speaks %u.%u", b->path, m->abi_major,
                  TG_BACKEND_ABI_MAJOR, TG_BACKEND_ABI_MINOR);
  if (m->struct_size < TG_STRUCT_SIZE(tg_manifest, dialects))
    return tg_err(TG_ERR_ABI, "backend '%s': manifest struct_size %u is smaller than ABI 1.0's %zu", b->path, m->struct_size,
                  TG_STRUCT_SIZE(tg_manifest, dialects));
  if (m->abi_min_minor > TG_BACKEND_ABI_MINOR)
    return tg_err(TG_ERR_ABI, "backend '%s': requires backend ABI >= %u.%u, this host speaks %u.%u", b->path, m->abi_major,
                  m->abi_min_minor, TG_BACKEND_ABI_MAJOR, TG_BACKEND_ABI_MINOR);
  if (m->abi_min_minor > m->abi_max_minor)
    return tg_err(TG_ERR_ABI, "backend '%s': manifest minor range %u..%u is empty", b->path, m->abi_min_minor, m->abi_max_minor);
  if (!nul_terminated(m->name, sizeof m->name) || !nul_terminated(m->version, sizeof m->version) ||
      !nul_terminated(m->flavor, sizeof m->flavor) || !nul_terminated(m->dialects, sizeof m->dialects))
    return tg_err(TG_ERR_ABI, "backend '%s': manifest strings are not NUL-terminated", b->path);
  if (!m->name[0]) return tg_err(TG_ERR_ABI, "backend '%s': manifest has an empty name", b->path);
  for (const char *p = m->name; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return tg_err(TG_ERR_ABI, "backend '%s': manifest name \"%s\" must be upper-case letters, digits or '_'", b->path, m->name);
  return TG_OK;
}

#define REQ(f) {#f, offsetof(tg_backend_api, f)}
static const struct {
  const char *name;
  size_t offset;
} api_required[] = {REQ(device_count), REQ(device_properties), REQ(device_caps), REQ(device_open), REQ(device_close),
                    REQ(alloc), REQ(free), REQ(copyin), REQ(copyout), REQ(compile), REQ(blob_free), REQ(load),
                    REQ(program_free), REQ(launch), REQ(synchronize)};
#undef REQ

static tg_status check_api(backend *b, const tg_backend_api *api) {
  if (api->struct_size < TG_BACKEND_API_MIN_SIZE)
    return tg_err(TG_ERR_ABI, "backend '%s': function table struct_size %zu is smaller than ABI 1.0's %zu", b->path,
                  api->struct_size, (size_t)TG_BACKEND_API_MIN_SIZE);
  for (size_t i = 0; i < sizeof api_required / sizeof *api_required; i++) {
    void (*fn)(void);
    memcpy(&fn, (const char *)&b->api + api_required[i].offset, sizeof fn);
    if (!fn) return tg_err(TG_ERR_ABI, "backend '%s': required function %s is NULL", b->path, api_required[i].name);
  }
  return TG_OK;
}

/* Defaults for caps fields a smaller (older) struct did not cover. */
static void caps_defaults(tg_device_caps *c, size_t filled) {
#define DFLT(field, value) \
  if (filled < TG_STRUCT_SIZE(tg_device_caps, field)) c->field = value
  DFLT(local_prod_max, c->local_max[0] * c->local_max[1] * c->local_max[2]);
  DFLT(alignment, 16);
  DFLT(compile_concurrent, 0);
#undef DFLT
  c->struct_size = sizeof *c;
}

static tg_status check_caps(backend *b, int i, const tg_device_caps *c) {
  const char *p = b->path[0] ? b->path : b->man.name;
  if (!nul_terminated(c->dialect, sizeof c->dialect) || !c->dialect[0])
    return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: empty dialect", p, i);
  if (!nul_terminated(c->arch, sizeof c->arch)) return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: arch not NUL-terminated", p, i);
  for (int d = 0; d < 3; d++) {
    if (c->global_max[d] < 1 || c->local_max[d] < 1)
      return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: global_max[%d]=%u and local_max[%d]=%u must be >= 1", p, i, d,
                    c->global_max[d], d, c->local_max[d]);
    if (c->local_max[d] > c->global_max[d])
      return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: local_max[%d]=%u > global_max[%d]=%u", p, i, d,
                    c->local_max[d], d, c->global_max[d]);
  }
  if (c->local_prod_max < 1) return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: local_prod_max is 0", p, i);
  if (c->vector_width < 1) return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: vector_width is 0", p, i);
  if (c->alignment == 0 || (c->alignment & (c->alignment - 1)))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: alignment %u is not a power of two", p, i, c->alignment);
  uint64_t need = (1ull << TG_FLOAT32) | (1ull << TG_INT32);
  if ((c->dtypes & need) != need)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: dtypes 0x%llx lack float32 or int32", p, i,
                  (unsigned long long)c->dtypes);
  if (!c->has_shared && c->shared_max) return tg_err(TG_ERR_INVALID_ARGUMENT, "backend '%s': device %d caps: shared_max %llu without has_shared", p, i, (unsigned long long)c->shared_max);
  return TG_OK;
}

/* ---------------- loading ---------------- */

static void quarantine(backend *b, tg_backend_state state) {
  b->state = state;
  snprintf(b->reason, sizeof b->reason, "%s", tg_last_error());
}

/* ---------------- buffer cache (tinygrad's LRUAllocator) ---------------- */

#define LRU_MAX_BYTES ((size_t)1 << 30) /* cached bytes per device above this go back to the backend, oldest first */

/* Caller holds d->mu. */
static void lru_evict(device *d, size_t keep_bytes) {
  size_t i = 0;
  while (i < d->lru_n && d->lru_bytes > keep_bytes) {
    d->b->api.free(d->bdev, d->lru[i].bb);
    d->lru_bytes -= d->lru[i++].size;
  }
  memmove(d->lru, d->lru + i, (d->lru_n - i) * sizeof *d->lru);
  d->lru_n -= i;
}

/* The newest cached buffer of exactly nbytes, taken out of the cache, or NULL. Caller holds d->mu. */
static tg_backend_buffer *lru_take(device *d, size_t nbytes) {
  for (size_t i = d->lru_n; i-- > 0;) {
    if (d->lru[i].size != nbytes) continue;
    tg_backend_buffer *bb = d->lru[i].bb;
    memmove(d->lru + i, d->lru + i + 1, (d->lru_n - i - 1) * sizeof *d->lru);
    d->lru_n--, d->lru_bytes -= nbytes;
    return bb;
  }
  return NULL;
}

/* Keeps a base buffer for reuse; 0 when it must be freed now (LRU=0, as in tinygrad, or no room). Caller holds d->mu. */
static int lru_put(device *d, tg_backend_buffer *bb, size_t nbytes) {
  if (!tg_getenv_int("LRU", 1) || nbytes > LRU_MAX_BYTES) return 0;
  if (d->lru_n == d->lru_cap) {
    size_t ncap = d->lru_cap ? d->lru_cap * 2 : 16;
    cached_buf *nl = realloc(d->lru, ncap * sizeof *nl);
    if (!nl) return 0;
    d->lru = nl, d->lru_cap = ncap;
  }
  d->lru[d->lru_n++] = (cached_buf){nbytes, bb};
  d->lru_bytes += nbytes;
  lru_evict(d, LRU_MAX_BYTES);
  return 1;
}

static void free_devices(backend *b) {
  for (int i = 0; i < b->ndev; i++) {
    if (b->devs[i]->bdev) lru_evict(b->devs[i], 0);
    free(b->devs[i]->lru);
    void *dead;
    if (b->devs[i]->handle) tg_handle_release(b->devs[i]->handle, TG_H_DEVICE, "device", &dead);
    pthread_mutex_destroy(&b->devs[i]->mu);
    free(b->devs[i]);
  }
  free(b->devs);
  b->devs = NULL;
  b->ndev = 0;
}

/* Queries devices and their caps. TG_OK with state UNAVAILABLE when the backend reports no device. */
static tg_status probe_devices(backend *b) {
  int n = 0;
  backend_msg[0] = 0;
  tg_status st = b->api.device_count(&n);
  if (st != TG_OK || n <= 0) {
    b->state = TG_BACKEND_UNAVAILABLE;
    snprintf(b->reason, sizeof b->reason, "%.1000s", st != TG_OK && backend_msg[0] ? backend_msg : st != TG_OK ? tg_status_string(st) : "no devices");
    return TG_OK;
  }
  if (n > 64) n = 64;
  b->devs = calloc((size_t)n, sizeof *b->devs);
  if (!b->devs) return tg_err(TG_ERR_OUT_OF_MEMORY, "backend '%s': out of memory", b->man.name);
  for (int i = 0; i < n; i++) {
    device *d = calloc(1, sizeof *d);
    if (!d) return tg_err(TG_ERR_OUT_OF_MEMORY, "backend '%s': out of memory", b->man.name);
    b->devs[b->ndev++] = d;
    pthread_mutex_init(&d->mu, NULL);
    d->b = b;
    d->index = i;
    if (i == 0) snprintf(d->name, sizeof d->name, "%s", b->man.name);
    else snprintf(d->name, sizeof d->name, "%s:%d", b->man.name, i);
    d->caps.struct_size = sizeof d->caps;
    backend_msg[0] = 0;
    if ((st = b->api.device_caps(i, &d->caps)) != TG_OK) return backend_fail(d->name, "device_caps", st);
    size_t filled = d->caps.struct_size;
    if (filled < TG_STRUCT_SIZE(tg_device_caps, local_max))
      return tg_err(TG_ERR_ABI, "backend '%s': device %d caps struct_size %zu is too small", b->path[0] ? b->path : b->man.name, i, filled);
    caps_defaults(&d->caps, filled);
    if ((st = check_caps(b, i, &d->caps)) != TG_OK) return st;
    d->props.struct_size = sizeof d->props;
    backend_msg[0] = 0;
    if ((st = b->api.device_properties(i, &d->props)) != TG_OK) return backend_fail(d->name, "device_properties", st);
    d->props.struct_size = sizeof d->props;
    d->props.name[sizeof d->props.name - 1] = 0;
    d->props.vendor[sizeof d->props.vendor - 1] = 0;
    d->props.driver_version[sizeof d->props.driver_version - 1] = 0;
    if (!(d->handle = tg_handle_new(TG_H_DEVICE, d))) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory");
  }
  b->state = TG_BACKEND_READY;
  return TG_OK;
}

/* Runs the entry, checks the table, probes devices. Caller holds reg_mu. */
static tg_status activate(backend *b, tg_backend_entry_fn entry) {
  const tg_backend_api *api = NULL;
  backend_msg[0] = 0;
  tg_status st = entry(&host_table, &api);
  if (st != TG_OK)
    return tg_err(st == TG_ERR_ABI ? TG_ERR_ABI : TG_ERR_LOAD, "backend '%s': entry %s returned %s: %s", b->path[0] ? b->path : b->man.name,
                  TG_BACKEND_ENTRY_SYMBOL, tg_status_string(st), backend_msg[0] ? backend_msg : "(no message)");
  if (!api) return tg_err(TG_ERR_LOAD, "backend '%s': entry returned TG_OK but no function table", b->path);
  memset(&b->api, 0, sizeof b->api);
  memcpy(&b->api, api, api->struct_size < sizeof b->api ? api->struct_size : sizeof b->api);
  b->loaded = 1;
  if (api->abi_minor > TG_BACKEND_ABI_MINOR)
    return tg_err(TG_ERR_ABI, "backend '%s': answered ABI minor %u, newer than this host's %u", b->path, api->abi_minor, TG_BACKEND_ABI_MINOR);
  if ((st = check_api(b, api)) != TG_OK) return st;
  return probe_devices(b);
}

static backend *new_backend(const char *path) {
  backend *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  backend **nb = realloc(backends, (size_t)(nbackends + 1) * sizeof *nb);
  if (!nb || !(b->handle = tg_handle_new(TG_H_BACKEND, b))) {
    if (nb) backends = nb;
    free(b);
    return NULL;
  }
  backends = nb;
  backends[nbackends++] = b;
  snprintf(b->path, sizeof b->path, "%s", path ? path : "");
  return b;
}

static backend *find_by_name(const char *name, backend *except) {
  for (int i = 0; i < nbackends; i++)
    if (backends[i] != except && backends[i]->state != TG_BACKEND_QUARANTINED && !strcmp(backends[i]->man.name, name)) return backends[i];
  return NULL;
}

/* Caller holds reg_mu. */
static tg_status load_path(const char *path, backend **out) {
  for (int i = 0; i < nbackends; i++)
    if (!strcmp(backends[i]->path, path)) {
      *out = backends[i];
      if (backends[i]->state == TG_BACKEND_QUARANTINED) return tg_err(backends[i]->fail_status, "%s", backends[i]->reason);
      return TG_OK;
    }
  backend *b = new_backend(path);
  if (!b) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory loading backend '%s'", path);
  *out = b;
  tg_status st = TG_OK;
  b->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!b->dl) {
    const char *e = dlerror();
    st = tg_err(TG_ERR_LOAD, "backend '%s': cannot load: %s", path, e ? e : "dlopen failed");
    goto fail;
  }
  const tg_manifest *m = dlsym(b->dl, TG_BACKEND_MANIFEST_SYMBOL);
  if (!m) {
    st = tg_err(TG_ERR_LOAD, "backend '%s': missing symbol %s (not a tgc backend?)", path, TG_BACKEND_MANIFEST_SYMBOL);
    goto fail;
  }
  if ((st = check_manifest(b, m)) != TG_OK) goto fail;
  memcpy(&b->man, m, sizeof b->man < m->struct_size ? sizeof b->man : m->struct_size);
  backend *other = find_by_name(b->man.name, b);
  if (other) {
    st = tg_err(TG_ERR_LOAD, "backend '%s': name %s is already provided by %s", path, b->man.name, other->builtin ? "the built-in backend" : other->path);
    goto fail;
  }
  tg_backend_entry_fn entry = (tg_backend_entry_fn)dlsym(b->dl, TG_BACKEND_ENTRY_SYMBOL);
  if (!entry) {
    st = tg_err(TG_ERR_LOAD, "backend '%s': missing symbol %s", path, TG_BACKEND_ENTRY_SYMBOL);
    goto fail;
  }
  if ((st = activate(b, entry)) != TG_OK) goto fail;
  return TG_OK;
fail:
  quarantine(b, TG_BACKEND_QUARANTINED);
  b->fail_status = st;
  free_devices(b);
  if (b->loaded && b->api.shutdown) b->api.shutdown();
  /* A library whose code never ran can go; one that ran may have registered state we cannot see, so it stays. */
  if (b->dl && !b->loaded) {
    dlclose(b->dl);
    b->dl = NULL;
  }
  return tg_err(st, "%s", b->reason); /* the cleanup above may have overwritten the message */
}

static void registry_init(void) {
  backend *b = new_backend(NULL);
  if (b) {
    b->builtin = 1;
    memcpy(&b->man, &tg_cpu_backend_manifest, sizeof b->man);
    if (activate(b, tg_cpu_backend_entry) != TG_OK) quarantine(b, TG_BACKEND_QUARANTINED);
  }
  const char *env = getenv("TGC_BACKEND_PATH");
  if (!env || !*env) return;
  char *list = strdup(env), *save = NULL;
  for (char *p = list ? strtok_r(list, ":", &save) : NULL; p; p = strtok_r(NULL, ":", &save)) {
    backend *ignored;
    if (load_path(p, &ignored) != TG_OK) host_log(NULL, TG_LOG_WARN, tg_last_error());
  }
  free(list);
}

static void registry(void) {
  pthread_once(&reg_once, registry_init);
}

/* ---------------- public: backends ---------------- */

TG_API tg_status tg_backend_load(const char *path, tg_backend **out) {
  if (!path) return tg_err(TG_ERR_NULL_POINTER, "tg_backend_load: path is NULL");
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_backend_load: out is NULL");
  if (!*path) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_backend_load: path is empty");
  registry();
  pthread_mutex_lock(&reg_mu);
  backend *b = NULL;
  tg_status st = load_path(path, &b);
  if (st == TG_OK) *out = (tg_backend *)b->handle;
  pthread_mutex_unlock(&reg_mu);
  return st;
}

TG_API tg_status tg_backend_count(int *out_count) {
  if (!out_count) return tg_err(TG_ERR_NULL_POINTER, "tg_backend_count: out_count is NULL");
  registry();
  pthread_mutex_lock(&reg_mu);
  *out_count = nbackends;
  pthread_mutex_unlock(&reg_mu);
  return TG_OK;
}

TG_API tg_status tg_backend_at(int index, tg_backend **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_backend_at: out is NULL");
  registry();
  pthread_mutex_lock(&reg_mu);
  tg_status st = TG_OK;
  if (index < 0 || index >= nbackends) st = tg_err(TG_ERR_OUT_OF_RANGE, "tg_backend_at: index %d not in [0, %d)", index, nbackends);
  else *out = (tg_backend *)backends[index]->handle;
  pthread_mutex_unlock(&reg_mu);
  return st;
}

TG_API tg_status tg_backend_get_info(tg_backend *handle, tg_backend_info *out) {
  backend *b;
  tg_status st = tg_handle_get(handle, TG_H_BACKEND, "tg_backend_get_info: backend", (void **)&b);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_backend_get_info: out is NULL");
  if (out->struct_size < TG_STRUCT_SIZE(tg_backend_info, reason))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_backend_get_info: out->struct_size %zu, expected %zu", out->struct_size, sizeof *out);
  pthread_mutex_lock(&reg_mu);
  tg_backend_info i = {.struct_size = sizeof i};
  memcpy(i.name, b->man.name, sizeof i.name);
  memcpy(i.version, b->man.version, sizeof i.version);
  memcpy(i.flavor, b->man.flavor, sizeof i.flavor);
  memcpy(i.dialects, b->man.dialects, sizeof i.dialects);
  snprintf(i.path, sizeof i.path, "%s", b->path);
  i.abi_major = b->man.abi_major;
  i.abi_minor = b->loaded ? b->api.abi_minor : 0;
  i.state = b->state;
  i.device_count = b->ndev;
  i.builtin = (uint32_t)b->builtin;
  snprintf(i.reason, sizeof i.reason, "%s", b->state == TG_BACKEND_READY ? "" : b->reason);
  pthread_mutex_unlock(&reg_mu);
  *out = i;
  return TG_OK;
}

/* ---------------- public: devices ---------------- */

static tg_status get_device(tg_device *h, const char *what, device **d) { return tg_handle_get(h, TG_H_DEVICE, what, (void **)d); }

TG_API tg_status tg_device_count(int *out_count) {
  if (!out_count) return tg_err(TG_ERR_NULL_POINTER, "tg_device_count: out_count is NULL");
  registry();
  pthread_mutex_lock(&reg_mu);
  int n = 0;
  for (int i = 0; i < nbackends; i++) n += backends[i]->state == TG_BACKEND_READY ? backends[i]->ndev : 0;
  pthread_mutex_unlock(&reg_mu);
  *out_count = n;
  return TG_OK;
}

TG_API tg_status tg_device_at(int index, tg_device **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_device_at: out is NULL");
  registry();
  pthread_mutex_lock(&reg_mu);
  int k = index;
  tg_status st = tg_err(TG_ERR_OUT_OF_RANGE, "tg_device_at: index %d out of range", index);
  for (int i = 0; k >= 0 && i < nbackends; i++) {
    backend *b = backends[i];
    if (b->state != TG_BACKEND_READY) continue;
    if (k < b->ndev) {
      *out = (tg_device *)b->devs[k]->handle;
      st = TG_OK;
      break;
    }
    k -= b->ndev;
  }
  pthread_mutex_unlock(&reg_mu);
  return st;
}

TG_API tg_status tg_device_get(const char *name, tg_device **out) {
  if (!name) return tg_err(TG_ERR_NULL_POINTER, "tg_device_get: name is NULL");
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_device_get: out is NULL");
  const char *colon = strchr(name, ':');
  size_t plen = colon ? (size_t)(colon - name) : strlen(name);
  long idx = 0;
  if (colon) {
    char *end;
    idx = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || idx < 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_device_get: bad device index in \"%s\"", name);
  }
  registry();
  pthread_mutex_lock(&reg_mu);
  tg_status st = tg_err(TG_ERR_OUT_OF_RANGE, "tg_device_get: no backend named \"%.*s\"", (int)plen, name);
  for (int i = 0; i < nbackends; i++) {
    backend *b = backends[i];
    if (strlen(b->man.name) != plen || strncasecmp(b->man.name, name, plen) || b->state == TG_BACKEND_QUARANTINED) continue;
    if (b->state == TG_BACKEND_UNAVAILABLE) st = tg_err(TG_ERR_UNAVAILABLE, "%s: unavailable: %s", b->man.name, b->reason);
    else if (idx >= b->ndev) st = tg_err(TG_ERR_OUT_OF_RANGE, "tg_device_get: %s has %d device(s), index %ld out of range", b->man.name, b->ndev, idx);
    else {
      *out = (tg_device *)b->devs[idx]->handle;
      st = TG_OK;
    }
    break;
  }
  pthread_mutex_unlock(&reg_mu);
  return st;
}

TG_API tg_status tg_device_name(tg_device *h, const char **out) {
  device *d;
  tg_status st = get_device(h, "tg_device_name: device", &d);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_device_name: out is NULL");
  *out = d->name;
  return TG_OK;
}

/* Copies a full-size struct into a caller's versioned out-struct of possibly smaller (older) size. */
static tg_status copy_out_struct(void *dst, const void *src, size_t srcsize, size_t minsize, const char *fn) {
  size_t cap = *(const size_t *)dst;
  if (cap < minsize) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: out->struct_size %zu is smaller than %zu", fn, cap, minsize);
  size_t n = cap < srcsize ? cap : srcsize;
  memcpy(dst, src, n);
  *(size_t *)dst = n;
  return TG_OK;
}

TG_API tg_status tg_device_get_properties(tg_device *h, tg_device_properties *out) {
  device *d;
  tg_status st = get_device(h, "tg_device_get_properties: device", &d);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_device_get_properties: out is NULL");
  return copy_out_struct(out, &d->props, sizeof d->props, TG_STRUCT_SIZE(tg_device_properties, name), "tg_device_get_properties");
}

TG_API tg_status tg_device_get_caps(tg_device *h, tg_device_caps *out) {
  device *d;
  tg_status st = get_device(h, "tg_device_get_caps: device", &d);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_device_get_caps: out is NULL");
  return copy_out_struct(out, &d->caps, sizeof d->caps, TG_STRUCT_SIZE(tg_device_caps, dialect), "tg_device_get_caps");
}

TG_API tg_status tg_device_backend(tg_device *h, tg_backend **out) {
  device *d;
  tg_status st = get_device(h, "tg_device_backend: device", &d);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_device_backend: out is NULL");
  *out = (tg_backend *)d->b->handle;
  return TG_OK;
}

/* Opens the backend device on first use. Caller holds d->mu. */
static tg_status ensure_open(device *d) {
  if (d->bdev) return TG_OK;
  backend_msg[0] = 0;
  tg_status st = d->b->api.device_open(d->index, &d->bdev);
  if (st != TG_OK) {
    d->bdev = NULL;
    return backend_fail(d->name, "device_open", st);
  }
  return TG_OK;
}

TG_API tg_status tg_device_synchronize(tg_device *h) {
  device *d;
  tg_status st = get_device(h, "tg_device_synchronize: device", &d);
  if (st) return st;
  pthread_mutex_lock(&d->mu);
  if (d->bdev) {
    backend_msg[0] = 0;
    if ((st = d->b->api.synchronize(d->bdev)) != TG_OK) st = backend_fail(d->name, "synchronize", st);
  }
  pthread_mutex_unlock(&d->mu);
  return st;
}

/* ---------------- public: buffers ---------------- */

TG_API tg_status tg_buffer_alloc(tg_device *h, size_t nbytes, tg_buffer **out) {
  device *d;
  tg_status st = get_device(h, "tg_buffer_alloc: device", &d);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_buffer_alloc: out is NULL");
  if (nbytes == 0) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_buffer_alloc: size 0 bytes on %s", d->name);
  if (nbytes > (size_t)PTRDIFF_MAX)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_buffer_alloc: size %zu bytes on %s is negative or absurd (%td as signed)", nbytes, d->name,
                  (ptrdiff_t)nbytes);
  if (d->caps.mem_max_alloc && nbytes > d->caps.mem_max_alloc)
    return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_buffer_alloc: %zu bytes exceeds %s's largest allocation of %llu bytes", nbytes, d->name,
                  (unsigned long long)d->caps.mem_max_alloc);
  buffer *buf = calloc(1, sizeof *buf);
  if (!buf) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_buffer_alloc: out of host memory");
  buf->d = d;
  buf->size = nbytes;
  pthread_mutex_lock(&d->mu);
  if ((st = ensure_open(d)) == TG_OK) {
    backend_msg[0] = 0;
    if (!(buf->bb = lru_take(d, nbytes)) && (st = d->b->api.alloc(d->bdev, nbytes, &buf->bb)) != TG_OK && d->lru_n) {
      lru_evict(d, 0); /* out of memory with buffers parked in the cache: give them back and try once more */
      backend_msg[0] = 0;
      st = d->b->api.alloc(d->bdev, nbytes, &buf->bb);
    }
    if (st != TG_OK) st = backend_fail(d->name, "alloc", st);
  }
  pthread_mutex_unlock(&d->mu);
  void *hb = st == TG_OK ? tg_handle_new(TG_H_BUFFER, buf) : NULL;
  if (st == TG_OK && !hb) {
    pthread_mutex_lock(&d->mu);
    d->b->api.free(d->bdev, buf->bb);
    pthread_mutex_unlock(&d->mu);
    st = tg_err(TG_ERR_OUT_OF_MEMORY, "tg_buffer_alloc: out of host memory");
  }
  if (st != TG_OK) {
    free(buf);
    return st;
  }
  *out = hb;
  return TG_OK;
}

static tg_status buffer_range(tg_buffer *h, size_t offset, const void *ptr, size_t nbytes, const char *fn, buffer **out) {
  char what[64];
  snprintf(what, sizeof what, "%s: buffer", fn);
  tg_status st = tg_handle_get(h, TG_H_BUFFER, what, (void **)out);
  if (st) return st;
  if (!ptr && nbytes) return tg_err(TG_ERR_NULL_POINTER, "%s: host pointer is NULL for %zu bytes", fn, nbytes);
  if (offset > (*out)->size || nbytes > (*out)->size - offset)
    return tg_err(TG_ERR_OUT_OF_RANGE, "%s: range [%zu, %zu + %zu) is outside the buffer of %zu bytes", fn, offset, offset, nbytes, (*out)->size);
  return TG_OK;
}

TG_API tg_status tg_buffer_copyin(tg_buffer *h, size_t offset, const void *src, size_t nbytes) {
  buffer *b;
  tg_status st = buffer_range(h, offset, src, nbytes, "tg_buffer_copyin", &b);
  if (st || !nbytes) return st;
  pthread_mutex_lock(&b->d->mu);
  backend_msg[0] = 0;
  if ((st = b->d->b->api.copyin(b->d->bdev, b->bb, offset, src, nbytes)) != TG_OK) st = backend_fail(b->d->name, "copyin", st);
  pthread_mutex_unlock(&b->d->mu);
  return st;
}

TG_API tg_status tg_buffer_copyout(tg_buffer *h, size_t offset, void *dst, size_t nbytes) {
  buffer *b;
  tg_status st = buffer_range(h, offset, dst, nbytes, "tg_buffer_copyout", &b);
  if (st || !nbytes) return st;
  pthread_mutex_lock(&b->d->mu);
  backend_msg[0] = 0;
  if ((st = b->d->b->api.copyout(b->d->bdev, b->bb, offset, dst, nbytes)) != TG_OK) st = backend_fail(b->d->name, "copyout", st);
  pthread_mutex_unlock(&b->d->mu);
  return st;
}

TG_API tg_status tg_buffer_size(tg_buffer *h, size_t *out) {
  buffer *b;
  tg_status st = tg_handle_get(h, TG_H_BUFFER, "tg_buffer_size: buffer", (void **)&b);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_buffer_size: out is NULL");
  *out = b->size;
  return TG_OK;
}

TG_API tg_status tg_buffer_device(tg_buffer *h, tg_device **out) {
  buffer *b;
  tg_status st = tg_handle_get(h, TG_H_BUFFER, "tg_buffer_device: buffer", (void **)&b);
  if (st) return st;
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_buffer_device: out is NULL");
  *out = (tg_device *)b->d->handle;
  return TG_OK;
}

TG_API tg_status tg_buffer_retain(tg_buffer *h) { return tg_handle_retain(h, TG_H_BUFFER, "tg_buffer_retain: buffer"); }

TG_API tg_status tg_buffer_release(tg_buffer *h) {
  if (!h) return TG_OK;
  buffer *b;
  tg_status st = tg_handle_release(h, TG_H_BUFFER, "tg_buffer_release: buffer", (void **)&b);
  if (st || !b) return st;
  pthread_mutex_lock(&b->d->mu);
  if (b->parent || !lru_put(b->d, b->bb, b->size)) b->d->b->api.free(b->d->bdev, b->bb); /* a view is never cached */
  pthread_mutex_unlock(&b->d->mu);
  tg_buffer *parent = b->parent;
  free(b);
  return tg_buffer_release(parent);
}

tg_status tg_buffer_view_internal(tg_buffer *h, size_t offset, size_t nbytes, tg_buffer **out) {
  buffer *base;
  tg_status st = tg_handle_get(h, TG_H_BUFFER, "tg_buffer_view: base", (void **)&base);
  if (st) return st;
  if (offset > base->size || nbytes > base->size - offset)
    return tg_err(TG_ERR_OUT_OF_RANGE, "tg_buffer_view: range [%zu, %zu + %zu) is outside the buffer of %zu bytes", offset, offset, nbytes, base->size);
  if (!base->d->b->api.buffer_view)
    return tg_err(TG_ERR_UNSUPPORTED, "%s: the backend has no buffer views (needed for a planned arena)", base->d->name);
  buffer *v = calloc(1, sizeof *v);
  if (!v) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_buffer_view: out of host memory");
  *v = (buffer){base->d, NULL, nbytes, h};
  pthread_mutex_lock(&base->d->mu);
  backend_msg[0] = 0;
  if ((st = base->d->b->api.buffer_view(base->d->bdev, base->bb, offset, nbytes, &v->bb)) != TG_OK) st = backend_fail(base->d->name, "buffer_view", st);
  pthread_mutex_unlock(&base->d->mu);
  void *hv = st == TG_OK ? tg_handle_new(TG_H_BUFFER, v) : NULL;
  if (st == TG_OK && !hv) {
    pthread_mutex_lock(&base->d->mu);
    base->d->b->api.free(base->d->bdev, v->bb);
    pthread_mutex_unlock(&base->d->mu);
    st = tg_err(TG_ERR_OUT_OF_MEMORY, "tg_buffer_view: out of host memory");
  }
  if (st == TG_OK) st = tg_buffer_retain(h);
  if (st != TG_OK) return free(v), st;
  *out = hv;
  return TG_OK;
}

/* ---------------- public: programs ---------------- */

TG_API tg_status tg_program_compile(tg_device *h, const char *source, const char *name, tg_program **out) {
  device *d;
  tg_status st = get_device(h, "tg_program_compile: device", &d);
  if (st) return st;
  if (!source) return tg_err(TG_ERR_NULL_POINTER, "tg_program_compile: source is NULL");
  if (!name) return tg_err(TG_ERR_NULL_POINTER, "tg_program_compile: name is NULL");
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_program_compile: out is NULL");
  if (!*name) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_program_compile: name is empty");
  program *p = calloc(1, sizeof *p);
  if (!p) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_program_compile: out of host memory");
  p->d = d;
  pthread_mutex_lock(&d->mu);
  tg_blob blob = {.struct_size = sizeof blob};
  if ((st = ensure_open(d)) == TG_OK) {
    backend_msg[0] = 0;
    /* a backend whose compile is thread-safe compiles without holding the device: independent kernels in parallel */
    int concurrent = d->caps.compile_concurrent != 0;
    if (concurrent) pthread_mutex_unlock(&d->mu);
    st = d->b->api.compile(d->bdev, source, name, &blob);
    if (concurrent) pthread_mutex_lock(&d->mu);
    if (st != TG_OK) st = backend_fail(d->name, "compile", st);
    else {
      backend_msg[0] = 0;
      if ((st = d->b->api.load(d->bdev, blob.data, blob.size, name, &p->bp)) != TG_OK) st = backend_fail(d->name, "load", st);
      d->b->api.blob_free(&blob);
    }
  }
  void *hp = st == TG_OK ? tg_handle_new(TG_H_PROGRAM, p) : NULL;
  if (st == TG_OK && !hp) {
    d->b->api.program_free(d->bdev, p->bp);
    st = tg_err(TG_ERR_OUT_OF_MEMORY, "tg_program_compile: out of host memory");
  }
  pthread_mutex_unlock(&d->mu);
  if (st != TG_OK) {
    free(p);
    return st;
  }
  *out = hp;
  return TG_OK;
}

static tg_status check_dims(const device *d, const uint32_t global[3], const uint32_t local[3]) {
  const tg_device_caps *c = &d->caps;
  uint64_t lprod = 1;
  for (int i = 0; i < 3; i++) {
    if (global[i] == 0 || local[i] == 0)
      return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_program_launch: global (%u,%u,%u) and local (%u,%u,%u) must be >= 1", global[0], global[1],
                    global[2], local[0], local[1], local[2]);
    if (!c->has_threads && global[i] > c->global_max[i])
      return tg_err(TG_ERR_OUT_OF_RANGE, "tg_program_launch: global[%d]=%u exceeds %s's global_max[%d]=%u", i, global[i], d->name, i,
                    c->global_max[i]);
    if (local[i] > c->local_max[i])
      return tg_err(TG_ERR_OUT_OF_RANGE, "tg_program_launch: local[%d]=%u exceeds %s's local_max[%d]=%u", i, local[i], d->name, i, c->local_max[i]);
    lprod *= local[i];
  }
  if (lprod > c->local_prod_max)
    return tg_err(TG_ERR_OUT_OF_RANGE, "tg_program_launch: local size %llu threads exceeds %s's local_prod_max %u", (unsigned long long)lprod,
                  d->name, c->local_prod_max);
  return TG_OK;
}

TG_API tg_status tg_program_launch(tg_program *h, tg_buffer *const *bufs, size_t n_bufs, const int64_t *vals, size_t n_vals,
                                   const uint32_t global[3], const uint32_t local[3]) {
  program *p;
  tg_status st = tg_handle_get(h, TG_H_PROGRAM, "tg_program_launch: program", (void **)&p);
  if (st) return st;
  if (n_bufs && !bufs) return tg_err(TG_ERR_NULL_POINTER, "tg_program_launch: bufs is NULL with n_bufs=%zu", n_bufs);
  if (n_vals && !vals) return tg_err(TG_ERR_NULL_POINTER, "tg_program_launch: vals is NULL with n_vals=%zu", n_vals);
  if (!global) return tg_err(TG_ERR_NULL_POINTER, "tg_program_launch: global is NULL");
  if (n_bufs > 4096) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_program_launch: %zu buffers (at most 4096)", n_bufs);
  static const uint32_t one[3] = {1, 1, 1};
  if (!local) local = one;
  if ((st = check_dims(p->d, global, local)) != TG_OK) return st;
  tg_backend_buffer **bb = calloc(n_bufs ? n_bufs : 1, sizeof *bb);
  if (!bb) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_program_launch: out of host memory");
  for (size_t i = 0; i < n_bufs && st == TG_OK; i++) {
    buffer *b;
    if (tg_handle_get(bufs[i], TG_H_BUFFER, "tg_program_launch: bufs[i]", (void **)&b) != TG_OK) {
      char what[64]; /* the message names the index; formatted only on the error path */
      snprintf(what, sizeof what, "tg_program_launch: bufs[%zu]", i);
      st = tg_handle_get(bufs[i], TG_H_BUFFER, what, (void **)&b);
      break;
    }
    if (b->d != p->d) st = tg_err(TG_ERR_INVALID_ARGUMENT, "tg_program_launch: bufs[%zu] is on %s, the program on %s", i, b->d->name, p->d->name);
    else bb[i] = b->bb;
  }
  if (st == TG_OK) {
    tg_launch_params lp = {.struct_size = sizeof lp, .bufs = bb, .n_bufs = n_bufs, .vals = vals, .n_vals = n_vals};
    memcpy(lp.global, global, sizeof lp.global);
    memcpy(lp.local, local, sizeof lp.local);
    pthread_mutex_lock(&p->d->mu);
    backend_msg[0] = 0;
    if ((st = p->d->b->api.launch(p->d->bdev, p->bp, &lp)) != TG_OK) st = backend_fail(p->d->name, "launch", st);
    pthread_mutex_unlock(&p->d->mu);
  }
  free(bb);
  return st;
}

TG_API tg_status tg_program_retain(tg_program *h) { return tg_handle_retain(h, TG_H_PROGRAM, "tg_program_retain: program"); }

TG_API tg_status tg_program_release(tg_program *h) {
  if (!h) return TG_OK;
  program *p;
  tg_status st = tg_handle_release(h, TG_H_PROGRAM, "tg_program_release: program", (void **)&p);
  if (st || !p) return st;
  pthread_mutex_lock(&p->d->mu);
  p->d->b->api.program_free(p->d->bdev, p->bp);
  pthread_mutex_unlock(&p->d->mu);
  free(p);
  return TG_OK;
}

TG_API tg_status tg_debug_live_handles(size_t *out_count) {
  if (!out_count) return tg_err(TG_ERR_NULL_POINTER, "tg_debug_live_handles: out_count is NULL");
  *out_count = tg_handle_live(TG_H_BUFFER) + tg_handle_live(TG_H_PROGRAM) + tg_handle_live(TG_H_TENSOR) +
               tg_handle_live(TG_H_SAFETENSORS) + tg_handle_live(TG_H_JIT);
  return TG_OK;
}
