/* hip.c -- the HIP backend (tinygrad 0.14.0's runtime/ops_hip.py) over include/tg_backend.h.
**
** The HIP runtime API is declared here, not included, and libamdhip64 is dlopen'ed on first use, so the plugin builds
** with no ROCm installed and loads on a machine without one (it then reports no device and why). Kernels are HIP C++
** (dialect "hip"), compiled by hiprtc to a code object for the device's gcnArchName (hiprtc.c) and loaded with
** hipModuleLoadData. Kernel ABI: extern "C" __attribute__((global)) void NAME(T *buf0, ..., val0, ...); global = grid of
** workgroups, local = threads per workgroup, as in tinygrad. Arguments go through hipModuleLaunchKernel's kernelParams:
** one pointer per buffer (base + view offset), then a pointer to each int64 val; the runtime copies as many bytes as
** the kernel's parameter takes (its metadata), so an `int` val reads the low half of the little-endian int64.
** All work goes to the device's null stream, so launches, copies and events are ordered; copyout returns after them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hiprtc.h"

#ifndef TGC_HIP_VERSION
#define TGC_HIP_VERSION "0.0.0"
#endif
#ifndef TGC_HIP_FLAVOR
#define TGC_HIP_FLAVOR TG_BACKEND_FLAVOR_RELEASE
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
  .magic = TG_BACKEND_MAGIC, .struct_size = (uint32_t)sizeof(tg_manifest), .abi_major = TG_BACKEND_ABI_MAJOR, .abi_min_minor = 0,
  .abi_max_minor = TG_BACKEND_ABI_MINOR, .name = "HIP", .version = TGC_HIP_VERSION, .flavor = TGC_HIP_FLAVOR, .dialects = "hip"};

/* ---------------- The runtime API, declared (hip_runtime_api.h of ROCm 5.2 and 6.x) ---------------- */

typedef int hipError_t;
typedef struct ihipModule_t *hipModule_t;
typedef struct ihipModuleSymbol_t *hipFunction_t;
typedef struct ihipStream_t *hipStream_t;
typedef struct ihipEvent_t *hipEvent_t;

enum { hipErrorInvalidValue = 1, hipErrorOutOfMemory = 2, hipErrorNoDevice = 100, hipErrorNotFound = 500 };
enum { hipMemcpyHostToDevice = 1, hipMemcpyDeviceToHost = 2 };
/* hipDeviceAttribute_t: the CUDA-compatible block, numbered the same in ROCm 5.2 and 6.x */
enum { ATTR_MAX_BLOCK_DIM_X = 26, ATTR_MAX_GRID_DIM_X = 29, ATTR_MAX_THREADS_PER_BLOCK = 56, ATTR_MAX_SHARED_PER_BLOCK = 74,
       ATTR_MULTIPROCESSORS = 63, ATTR_WARP_SIZE = 87 };
enum { FUNC_MAX_THREADS_PER_BLOCK = 0, FUNC_SHARED_SIZE_BYTES = 1 };
/* gcnArchName ("gfx90a:sramecc+:xnack-") in hipDeviceProp_t: ROCm 6's hipGetDevicePropertiesR0600 layout (1472 bytes),
** else ROCm 5's hipGetDeviceProperties layout (792 bytes). tests/test_fake_hip.py checks 396 against Debian's header. */
enum { PROPS_MAX = 4096, ARCH_OFFSET_R0600 = 1160, ARCH_OFFSET_R0 = 396, ARCH_LEN = 256 };

/* X(required, field, parameters, symbol) */
#define HIP_FNS(X)                                                                                                        \
  X(1, DriverGetVersion, (int *v), "hipDriverGetVersion")                                                                 \
  X(1, RuntimeGetVersion, (int *v), "hipRuntimeGetVersion")                                                               \
  X(1, GetDeviceCount, (int *n), "hipGetDeviceCount")                                                                     \
  X(1, SetDevice, (int d), "hipSetDevice")                                                                                \
  X(1, DeviceGetName, (char *name, int len, int d), "hipDeviceGetName")                                                   \
  X(1, DeviceGetAttribute, (int *v, int attr, int d), "hipDeviceGetAttribute")                                            \
  X(1, DeviceTotalMem, (size_t * bytes, int d), "hipDeviceTotalMem")                                                      \
  X(1, GetDeviceProperties, (void *props, int d), "hipGetDeviceProperties")                                               \
  X(0, GetDevicePropertiesR0600, (void *props, int d), "hipGetDevicePropertiesR0600")                                     \
  X(1, DeviceSynchronize, (void), "hipDeviceSynchronize")                                                                 \
  X(1, MemGetInfo, (size_t * free_bytes, size_t *total), "hipMemGetInfo")                                                 \
  X(1, Malloc, (void **p, size_t n), "hipMalloc")                                                                         \
  X(1, Free, (void *p), "hipFree")                                                                                        \
  X(1, Memcpy, (void *dst, const void *src, size_t n, int kind), "hipMemcpy")                                             \
  X(1, ModuleLoadData, (hipModule_t * m, const void *image), "hipModuleLoadData")                                         \
  X(1, ModuleGetFunction, (hipFunction_t * f, hipModule_t m, const char *name), "hipModuleGetFunction")                   \
  X(1, ModuleUnload, (hipModule_t m), "hipModuleUnload")                                                                  \
  X(1, FuncGetAttribute, (int *v, int attr, hipFunction_t f), "hipFuncGetAttribute")                                      \
  X(1, ModuleLaunchKernel, (hipFunction_t f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, \
                            unsigned shared, hipStream_t s, void **params, void **extra), "hipModuleLaunchKernel")         \
  X(1, EventCreate, (hipEvent_t * e), "hipEventCreate")                                                                   \
  X(1, EventRecord, (hipEvent_t e, hipStream_t s), "hipEventRecord")                                                      \
  X(1, EventSynchronize, (hipEvent_t e), "hipEventSynchronize")                                                           \
  X(1, EventElapsedTime, (float *ms, hipEvent_t a, hipEvent_t b), "hipEventElapsedTime")                                  \
  X(1, EventDestroy, (hipEvent_t e), "hipEventDestroy")

#define HIP_FIELD(req, f, params, ...) hipError_t(*f) params;
static struct hip_api {
  HIP_FNS(HIP_FIELD)
  const char *(*GetErrorName)(hipError_t r);
  const char *(*GetErrorString)(hipError_t r);
} hip;
#define HIP_SYM(req, f, params, a) {req, offsetof(struct hip_api, f), a},
static const struct { int required; size_t off; const char *name; } hip_syms[] = {
  HIP_FNS(HIP_SYM){1, offsetof(struct hip_api, GetErrorName), "hipGetErrorName"},
  {1, offsetof(struct hip_api, GetErrorString), "hipGetErrorString"}};

/* ---------------- State ---------------- */

#define MAX_DEVICES 64
#define STACK_ARGS 32
enum { BUF_MAGIC = 0x46554248, PROG_MAGIC = 0x47525048, EVENT_MAGIC = 0x544e5648 };

typedef struct hip_obj { uint32_t magic; struct hip_obj *prev, *next; } hip_obj; /* every buffer, program, event: freed at shutdown */

struct tg_backend_device {
  int index, refs;
  char name[TG_TEXT_MAX], arch[ARCH_LEN];
  int max_threads, block[3], grid[3], shared, cus, warp;
  size_t mem;
};
struct tg_backend_buffer { hip_obj obj; tg_backend_device *dev; char *ptr; size_t size; int owns; };
struct tg_backend_program {
  hip_obj obj;
  tg_backend_device *dev;
  hipModule_t mod;
  hipFunction_t fn;
  int max_threads, shared;
  char name[64];
};
struct tg_backend_event { hip_obj obj; tg_backend_device *dev; hipEvent_t ev; int recorded; };

static const tg_backend_host *g_host;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void *g_lib;       /* the runtime's dlopen handle (hiprtc may live in it: ROCm 5) */
static char g_why[1024];  /* why there is no device; "" when there are */
static char g_driver[64]; /* "HIP 5.2.21153" */
static int g_ndev;
static tg_backend_device g_devs[MAX_DEVICES];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards the object list and device refcounts */
static hip_obj g_objs = {0, &g_objs, &g_objs};

/* ---------------- Errors (the one funnel to the host) ---------------- */

#define fail(...) tg_backend_fail(g_host, __VA_ARGS__)
#define say(...) tg_backend_logf(g_host, __VA_ARGS__)

/* "hipErrorOutOfMemory (out of memory)" */
static const char *hip_text(hipError_t r, char *buf, size_t n) {
  const char *name = hip.GetErrorName ? hip.GetErrorName(r) : NULL, *text = hip.GetErrorString ? hip.GetErrorString(r) : NULL;
  if (name) snprintf(buf, n, "%s (%s)", name, text ? text : "unknown");
  else snprintf(buf, n, "HIP error %d", r);
  return buf;
}

/* A failing runtime call: out of memory is always TG_ERR_OUT_OF_MEMORY, anything else `code`. */
__attribute__((format(printf, 3, 4))) static tg_status hip_fail(tg_status code, hipError_t r, const char *fmt, ...) {
  char what[1024], err[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return fail(r == hipErrorOutOfMemory ? TG_ERR_OUT_OF_MEMORY : code, "%s: %s", what, hip_text(r, err, sizeof(err)));
}

#define CHECK_PTR(fn, p) \
  do { if ((p) == NULL) return fail(TG_ERR_NULL_POINTER, "hip: " fn ": " #p " is NULL"); } while (0)
#define CHECK_OBJ(fn, p, MAGIC, kind) \
  do { if (!is_a(p, MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "hip: " fn ": bad " kind " handle %p", (const void *)(p)); } while (0)
#define ENTER(fn, dev) \
  do { tg_status s_ = enter(fn, dev); if (s_ != TG_OK) return s_; } while (0)

static int is_a(const void *p, uint32_t magic) { return p != NULL && ((const hip_obj *)p)->magic == magic; }

static void track(hip_obj *o, uint32_t magic) {
  pthread_mutex_lock(&g_mu);
  o->magic = magic, o->prev = g_objs.prev, o->next = &g_objs;
  g_objs.prev->next = o, g_objs.prev = o;
  pthread_mutex_unlock(&g_mu);
}

static void destroy(hip_obj *o) {
  pthread_mutex_lock(&g_mu);
  o->prev->next = o->next, o->next->prev = o->prev;
  uint32_t magic = o->magic;
  o->magic = 0;
  pthread_mutex_unlock(&g_mu);
  if (magic == BUF_MAGIC) {
    tg_backend_buffer *b = (tg_backend_buffer *)o;
    if (b->owns && hip.SetDevice(b->dev->index) == 0) hip.Free(b->ptr);
  } else if (magic == PROG_MAGIC) {
    tg_backend_program *p = (tg_backend_program *)o;
    if (hip.SetDevice(p->dev->index) == 0) hip.ModuleUnload(p->mod);
  } else if (magic == EVENT_MAGIC) {
    tg_backend_event *e = (tg_backend_event *)o;
    if (hip.SetDevice(e->dev->index) == 0) hip.EventDestroy(e->ev);
  }
  free(o);
}

/* Every call on a device: a valid, open handle, and the device current on this thread (the host may switch threads). */
static tg_status enter(const char *fn, tg_backend_device *dev) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev || dev != &g_devs[dev->index] || dev->refs <= 0)
    return fail(TG_ERR_INVALID_HANDLE, "hip: %s: bad device handle %p", fn, (void *)dev);
  hipError_t r = hip.SetDevice(dev->index);
  return r ? hip_fail(TG_ERR_DEVICE, r, "hip: %s: hipSetDevice(%d)", fn, dev->index) : TG_OK;
}

/* ---------------- The runtime, loaded once ---------------- */

/* The gcnArchName out of hipDeviceProp_t, whose layout differs between ROCm 5 and 6 (see ARCH_OFFSET_*). */
static hipError_t device_arch(int i, char *arch) {
  char *props = calloc(1, PROPS_MAX);
  if (props == NULL) return hipErrorOutOfMemory;
  int r06 = hip.GetDevicePropertiesR0600 != NULL;
  hipError_t r = r06 ? hip.GetDevicePropertiesR0600(props, i) : hip.GetDeviceProperties(props, i);
  if (!r) snprintf(arch, ARCH_LEN, "%.*s", ARCH_LEN - 1, props + (r06 ? ARCH_OFFSET_R0600 : ARCH_OFFSET_R0));
  free(props);
  return r;
}

static hipError_t query_device(int i, tg_backend_device *d) {
  hipError_t r = hip.DeviceGetName(d->name, sizeof(d->name), i);
  if (!r) r = device_arch(i, d->arch);
  if (!r) r = hip.DeviceGetAttribute(&d->max_threads, ATTR_MAX_THREADS_PER_BLOCK, i);
  if (!r) r = hip.DeviceGetAttribute(&d->shared, ATTR_MAX_SHARED_PER_BLOCK, i);
  if (!r) r = hip.DeviceGetAttribute(&d->cus, ATTR_MULTIPROCESSORS, i);
  if (!r) r = hip.DeviceGetAttribute(&d->warp, ATTR_WARP_SIZE, i);
  for (int k = 0; k < 3 && !r; k++) r = hip.DeviceGetAttribute(&d->block[k], ATTR_MAX_BLOCK_DIM_X + k, i);
  for (int k = 0; k < 3 && !r; k++) r = hip.DeviceGetAttribute(&d->grid[k], ATTR_MAX_GRID_DIM_X + k, i);
  if (!r) r = hip.DeviceTotalMem(&d->mem, i);
  d->index = i;
  return r;
}

/* The runtime library: $TGC_HIP_PATH (no fallback), else the ROCm sonames by the loader's search, then ROCm's own dirs. */
static void *open_runtime(char *tried, size_t n) {
  static const char *const names[] = {"libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};
  const char *env = getenv("TGC_HIP_PATH"), *rocm = getenv("ROCM_PATH");
  char path[1024];
  void *h = NULL;
  tried[0] = '\0';
  if (env && *env) {
    if ((h = dlopen(env, RTLD_NOW | RTLD_LOCAL)) == NULL) snprintf(tried, n, "TGC_HIP_PATH=%s", env);
    return h;
  }
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !h; i++) h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  const char *dirs[] = {rocm && *rocm ? rocm : NULL, "/opt/rocm"};
  for (size_t i = 0; i < 2 && !h; i++)
    if (dirs[i] && snprintf(path, sizeof(path), "%s/lib/libamdhip64.so", dirs[i]) < (int)sizeof(path)) h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) snprintf(tried, n, "libamdhip64.so.7, .6, .5, libamdhip64.so, %s%s/opt/rocm/lib", rocm && *rocm ? rocm : "", rocm && *rocm ? "/lib, " : "");
  return h;
}

static void load_runtime(void) {
  char err[256], tried[512];
  void *h = open_runtime(tried, sizeof(tried));
  if (h == NULL) {
    snprintf(g_why, sizeof(g_why), "no HIP runtime (libamdhip64.so not found: tried %s; install ROCm, or set TGC_HIP_PATH)", tried);
    return;
  }
  for (size_t i = 0; i < sizeof(hip_syms) / sizeof(hip_syms[0]); i++) {
    void *p = dlsym(h, hip_syms[i].name);
    if (p == NULL && hip_syms[i].required) {
      snprintf(g_why, sizeof(g_why), "the HIP runtime libamdhip64 lacks %s: update ROCm", hip_syms[i].name);
      memset(&hip, 0, sizeof(hip));
      return;
    }
    memcpy((char *)&hip + hip_syms[i].off, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  }
  g_lib = h;
  int v = 0;
  if (hip.RuntimeGetVersion(&v) == 0) snprintf(g_driver, sizeof(g_driver), "HIP %d.%d.%d", v / 10000000, v / 100000 % 100, v % 100000);
  int n = 0;
  hipError_t r = hip.GetDeviceCount(&n); /* initialises the runtime (hipInit first answers hipErrorInvalidDevice without a GPU) */
  if (r == hipErrorNoDevice || (r == 0 && n == 0)) {
    snprintf(g_why, sizeof(g_why), "no AMD GPU (hipGetDeviceCount: no device)");
    return;
  }
  if (r) {
    snprintf(g_why, sizeof(g_why), "no AMD GPU (hipGetDeviceCount: %s)", hip_text(r, err, sizeof(err)));
    return;
  }
  if (n > MAX_DEVICES) n = MAX_DEVICES;
  for (int i = 0; i < n; i++)
    if ((r = query_device(i, &g_devs[i])) != 0) {
      snprintf(g_why, sizeof(g_why), "querying HIP device %d: %s", i, hip_text(r, err, sizeof(err)));
      return;
    }
  g_ndev = n;
}

/* ---------------- Devices ---------------- */

static tg_status hip_device_count(int *out_count) {
  CHECK_PTR("device_count", out_count);
  pthread_once(&g_once, load_runtime);
  *out_count = g_ndev;
  return g_ndev > 0 ? TG_OK : fail(TG_ERR_UNAVAILABLE, "%s", g_why);
}

static tg_status check_index(const char *fn, int index) {
  pthread_once(&g_once, load_runtime);
  if (index < 0 || index >= g_ndev)
    return fail(g_ndev ? TG_ERR_OUT_OF_RANGE : TG_ERR_UNAVAILABLE, "hip: %s: device index %d out of range (%d devices%s%s)", fn, index,
                g_ndev, g_ndev ? "" : ": ", g_why);
  return TG_OK;
}

/* Out-struct rule (tg_backend.h, VERSIONED STRUCTS): write a field only when the host's capacity covers it, and say in
** struct_size how far we wrote. */
#define FIELD_END(f) TG_STRUCT_SIZE(__typeof__(*out), f)
#define PUT_AS(f, write) (void)(cap >= FIELD_END(f) && ((write), filled = FIELD_END(f)))
#define PUT(f, v) PUT_AS(f, out->f = (v))
#define PUTARR(f, a) PUT_AS(f, memcpy(out->f, (a), sizeof(out->f)))
#define PUTTXT(f, s) PUT_AS(f, snprintf(out->f, sizeof(out->f), "%s", (s)))

static tg_status hip_device_properties(int index, tg_device_properties *out) {
  CHECK_PTR("device_properties", out);
  tg_status s = check_index("device_properties", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "hip: device_properties: struct_size %zu too small", cap);
  PUTTXT(name, g_devs[index].name), PUTTXT(vendor, "AMD"), PUTTXT(driver_version, g_driver);
  PUT(type, TG_DEVICE_GPU), PUT(reserved, 0);
  out->struct_size = filled;
  return TG_OK;
}

/* tinygrad 0.14.0's HIPRenderer.code_for_op: CStyleLanguage's ops, the transcendentals through __ocml_*. */
static uint64_t hip_alu_ops(void) {
  static const tg_alu_op ops[] = {TG_ALU_EXP2, TG_ALU_LOG2, TG_ALU_SIN, TG_ALU_SQRT, TG_ALU_RECIPROCAL, TG_ALU_NEG, TG_ALU_TRUNC,
                                  TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL, TG_ALU_CDIV, TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT,
                                  TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR, TG_ALU_XOR, TG_ALU_WHERE};
  uint64_t mask = 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) mask |= 1ull << ops[i];
  return mask;
}

/* HIPRenderer.supported_dtypes: everything up to float64 (bfloat16 emulated through float), the OCP fp8s only on gfx950,
** never the fnuz fp8s. */
static uint64_t hip_dtypes(const char *arch) {
  uint64_t m = (1ull << (TG_FLOAT64 + 1)) - 1;
  if (strncmp(arch, "gfx950", 6) == 0) m |= 1ull << TG_FP8E4M3 | 1ull << TG_FP8E5M2;
  return m;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* tinygrad 0.14.0's tc.amd_rdna3 (HIPRenderer's tensor cores on RDNA3): WMMA 16x16x16 over 32 lanes, half/bfloat16 ->
** float or half, int8 -> int32; declared on gfx11 only (tinygrad's get_amd falls back to these for any arch it does
** not know; only RDNA3 executes them). Rendered as tinygrad renders them; not compiled here (Debian's HIP 5.2 has no
** gfx11 target) nor run on RDNA3 hardware yet. */
#define TC(di, dout) {sizeof(tg_tensor_core), {16, 16, 16}, 32, {16, 16, 8}, di, dout}
static const tg_tensor_core g_tc_rdna3[] = {TC(TG_FLOAT16, TG_FLOAT32), TC(TG_FLOAT16, TG_FLOAT16), TC(TG_BFLOAT16, TG_FLOAT32),
                                            TC(TG_INT8, TG_INT32)};
#undef TC

static tg_status hip_device_caps(int index, tg_device_caps *out) {
  CHECK_PTR("device_caps", out);
  tg_status s = check_index("device_caps", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "hip: device_caps: struct_size %zu too small", cap);
  const tg_backend_device *d = &g_devs[index];
  char arch[32];
  snprintf(arch, sizeof(arch), "%.*s", (int)strcspn(d->arch, ":"), d->arch); /* "gfx90a" of "gfx90a:sramecc+:xnack-" */
  PUTTXT(dialect, "hip"), PUTTXT(arch, arch);
  PUT(dtypes, hip_dtypes(d->arch)), PUT(alu_ops, hip_alu_ops());
  PUT(has_local, 1), PUT(has_shared, 1), PUT(has_threads, 0), PUT(vector_width, 4);
  /* tinygrad's HIPRenderer.global_max (y and z at 65535: gfx12 needs it, gfx11 reports the same), within the device's */
  const uint32_t tg_gmax[3] = {2147483647u, 65535, 65535};
  uint32_t gmax[3], lmax[3];
  for (int k = 0; k < 3; k++) gmax[k] = min_u32(tg_gmax[k], (uint32_t)d->grid[k]), lmax[k] = min_u32((uint32_t)d->block[k], gmax[k]);
  PUTARR(global_max, gmax), PUTARR(local_max, lmax);
  PUT(local_prod_max, (uint32_t)d->max_threads), PUT(alignment, 256);
  PUT(shared_max, (uint64_t)(d->shared < 65536 ? d->shared : 65536)); /* HIPRenderer.shared_max */
  PUT(mem_total, d->mem), PUT(mem_max_alloc, d->mem);
  int rdna3 = strncmp(arch, "gfx11", 5) == 0;
  PUT(n_tensor_cores, rdna3 ? (uint32_t)(sizeof g_tc_rdna3 / sizeof g_tc_rdna3[0]) : 0), PUT(compile_concurrent, 0),
      PUT(tensor_cores, rdna3 ? g_tc_rdna3 : NULL);
  out->struct_size = filled;
  return TG_OK;
}

static tg_status hip_device_open(int index, tg_backend_device **out) {
  CHECK_PTR("device_open", out);
  tg_status s = check_index("device_open", index);
  if (s != TG_OK) return s;
  tg_backend_device *d = &g_devs[index];
  hipError_t r = hip.SetDevice(index);
  if (r) return hip_fail(TG_ERR_DEVICE, r, "hip: device_open: hipSetDevice(%d) (%s)", index, d->name);
  pthread_mutex_lock(&g_mu);
  d->refs++;
  pthread_mutex_unlock(&g_mu);
  *out = d;
  return TG_OK;
}

static void hip_device_close(tg_backend_device *dev) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev) return;
  pthread_mutex_lock(&g_mu);
  if (dev->refs > 0) dev->refs--;
  pthread_mutex_unlock(&g_mu);
}

/* ---------------- Memory ---------------- */

static tg_status hip_alloc(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out) {
  ENTER("alloc", dev);
  CHECK_PTR("alloc", out);
  void *p = NULL;
  hipError_t r = hip.Malloc(&p, nbytes ? nbytes : 1); /* 0 bytes: still a distinct allocation */
  if (r) {
    size_t free_b = 0, total = 0;
    hip.MemGetInfo(&free_b, &total);
    return hip_fail(TG_ERR_DEVICE, r, "hip: alloc of %zu bytes on HIP:%d (%s, %zu of %zu bytes free): hipMalloc", nbytes, dev->index, dev->name,
                    free_b, total);
  }
  tg_backend_buffer *b = calloc(1, sizeof(*b));
  if (b == NULL) {
    hip.Free(p);
    return fail(TG_ERR_OUT_OF_MEMORY, "hip: alloc: out of host memory");
  }
  b->dev = dev, b->ptr = p, b->size = nbytes, b->owns = 1;
  track(&b->obj, BUF_MAGIC);
  *out = b;
  return TG_OK;
}

static void hip_free(tg_backend_device *dev, tg_backend_buffer *buf) {
  (void)dev;
  if (is_a(buf, BUF_MAGIC)) destroy(&buf->obj);
}

static tg_status check_range(const char *fn, tg_backend_device *dev, const tg_backend_buffer *b, size_t offset, size_t nbytes) {
  if (!is_a(b, BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "hip: %s: bad buffer handle %p", fn, (const void *)b);
  if (b->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "hip: %s: the buffer is on HIP:%d, not HIP:%d", fn, b->dev->index, dev->index);
  if (offset > b->size || nbytes > b->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "hip: %s out of range: offset %zu + %zu bytes > buffer size %zu", fn, offset, nbytes, b->size);
  return TG_OK;
}

static tg_status hip_copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  ENTER("copyin", dev);
  tg_status s = check_range("copyin", dev, dst, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyin", src);
  hipError_t r = hip.Memcpy(dst->ptr + offset, src, nbytes, hipMemcpyHostToDevice);
  return r ? hip_fail(TG_ERR_DEVICE, r, "hip: copyin of %zu bytes at offset %zu: hipMemcpy", nbytes, offset) : TG_OK;
}

static tg_status hip_copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  ENTER("copyout", dev);
  tg_status s = check_range("copyout", dev, src, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyout", dst);
  hipError_t r = hip.Memcpy(dst, src->ptr + offset, nbytes, hipMemcpyDeviceToHost); /* null stream: after the queued launches */
  return r ? hip_fail(TG_ERR_DEVICE, r, "hip: copyout of %zu bytes at offset %zu: hipMemcpy", nbytes, offset) : TG_OK;
}

static tg_status hip_buffer_view(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes, tg_backend_buffer **out) {
  ENTER("buffer_view", dev);
  CHECK_PTR("buffer_view", out);
  tg_status s = check_range("buffer_view", dev, buf, offset, nbytes);
  if (s != TG_OK) return s;
  tg_backend_buffer *v = calloc(1, sizeof(*v));
  if (v == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "hip: buffer_view: out of host memory");
  v->dev = dev, v->ptr = buf->ptr + offset, v->size = nbytes, v->owns = 0;
  track(&v->obj, BUF_MAGIC);
  *out = v;
  return TG_OK;
}

/* ---------------- Compile and load ---------------- */

/* Pure in (source, arch): touches no device state, so the host may compile on several threads (compile_concurrent). */
static tg_status hip_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev) return fail(TG_ERR_INVALID_HANDLE, "hip: compile: bad device handle %p", (void *)dev);
  CHECK_PTR("compile", source);
  CHECK_PTR("compile", out);
  if (name == NULL) name = "(unnamed)";
  char *co = NULL, *msg = NULL;
  size_t size = 0;
  tg_status s = tghip_rtc_compile(g_lib, source, name, dev->arch, &co, &size, &msg);
  *out = (tg_blob){.struct_size = sizeof(tg_blob), .data = co, .size = size};
  if (s != TG_OK) fail(s, "hip: compile %s: %s", name, msg ? msg : "out of memory");
  else say(TG_LOG_DEBUG, "hip: compiled %s for %s with %s: %zu-byte code object", name, dev->arch, tghip_rtc_describe(), size);
  free(msg);
  return s;
}

static void hip_blob_free(tg_blob *blob) {
  if (blob) free(blob->data), blob->data = NULL, blob->size = 0;
}

static tg_status hip_load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  ENTER("load", dev);
  CHECK_PTR("load", blob);
  CHECK_PTR("load", name);
  CHECK_PTR("load", out);
  if (size == 0) return fail(TG_ERR_CORRUPT, "hip: load %s: the blob is empty", name);
  if (size < 4 || memcmp(blob, "\177ELF", 4) != 0)
    return fail(TG_ERR_CORRUPT, "hip: load %s: the blob is not a code object (no ELF header; %zu bytes)", name, size);
  hipModule_t mod = NULL;
  hipError_t r = hip.ModuleLoadData(&mod, blob);
  if (r) return hip_fail(TG_ERR_LOAD, r, "hip: load %s on %s (%s): hipModuleLoadData", name, dev->name, dev->arch);
  tg_backend_program *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    hip.ModuleUnload(mod);
    return fail(TG_ERR_OUT_OF_MEMORY, "hip: load %s: out of host memory", name);
  }
  p->dev = dev, p->mod = mod;
  snprintf(p->name, sizeof(p->name), "%s", name);
  if ((r = hip.ModuleGetFunction(&p->fn, mod, name)) == 0) r = hip.FuncGetAttribute(&p->max_threads, FUNC_MAX_THREADS_PER_BLOCK, p->fn);
  if (r == 0) r = hip.FuncGetAttribute(&p->shared, FUNC_SHARED_SIZE_BYTES, p->fn);
  if (r) {
    hip.ModuleUnload(mod), free(p);
    if (r == hipErrorNotFound)
      return fail(TG_ERR_LOAD, "hip: load: kernel '%s' not found in the code object (declare it extern \"C\" __attribute__((global)))", name);
    return hip_fail(TG_ERR_LOAD, r, "hip: load %s: hipModuleGetFunction", name);
  }
  track(&p->obj, PROG_MAGIC);
  *out = p;
  return TG_OK;
}

static void hip_program_free(tg_backend_device *dev, tg_backend_program *prog) {
  (void)dev;
  if (is_a(prog, PROG_MAGIC)) destroy(&prog->obj);
}

/* ---------------- Launch, synchronize, events ---------------- */

static tg_status check_launch(tg_backend_device *dev, const tg_backend_program *prog, const tg_launch_params *p) {
  CHECK_OBJ("launch", prog, PROG_MAGIC, "program");
  CHECK_PTR("launch", p);
  if (p->struct_size < TG_STRUCT_SIZE(tg_launch_params, elapsed_s))
    return fail(TG_ERR_INVALID_ARGUMENT, "hip: launch: params struct_size %zu < %zu", p->struct_size, TG_STRUCT_SIZE(tg_launch_params, elapsed_s));
  if (prog->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "hip: launch %s: the program is loaded on HIP:%d, not HIP:%d", prog->name, prog->dev->index, dev->index);
  if (p->n_bufs > 0 && p->bufs == NULL) return fail(TG_ERR_NULL_POINTER, "hip: launch %s: bufs is NULL with n_bufs %zu", prog->name, p->n_bufs);
  if (p->n_vals > 0 && p->vals == NULL) return fail(TG_ERR_NULL_POINTER, "hip: launch %s: vals is NULL with n_vals %zu", prog->name, p->n_vals);
  for (size_t i = 0; i < p->n_bufs; i++) {
    if (!is_a(p->bufs[i], BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "hip: launch %s: bufs[%zu] is not a buffer handle (%p)", prog->name, i, (void *)p->bufs[i]);
    if (p->bufs[i]->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "hip: launch %s: bufs[%zu] is on HIP:%d", prog->name, i, p->bufs[i]->dev->index);
  }
  uint64_t threads = (uint64_t)p->local[0] * p->local[1] * p->local[2];
  for (int k = 0; k < 3; k++) {
    if (p->global[k] == 0 || p->local[k] == 0)
      return fail(TG_ERR_INVALID_ARGUMENT, "hip: launch %s: global (%u,%u,%u) and local (%u,%u,%u) must be >= 1", prog->name, p->global[0],
                  p->global[1], p->global[2], p->local[0], p->local[1], p->local[2]);
    if (p->global[k] > (uint32_t)dev->grid[k] || p->local[k] > (uint32_t)dev->block[k])
      return fail(TG_ERR_OUT_OF_RANGE, "hip: launch %s: global (%u,%u,%u) / local (%u,%u,%u) exceed %s's grid (%d,%d,%d) / block (%d,%d,%d)",
                  prog->name, p->global[0], p->global[1], p->global[2], p->local[0], p->local[1], p->local[2], dev->name, dev->grid[0],
                  dev->grid[1], dev->grid[2], dev->block[0], dev->block[1], dev->block[2]);
  }
  if (threads > (uint64_t)prog->max_threads)
    return fail(TG_ERR_OUT_OF_RANGE, "hip: launch %s: local size (%u,%u,%u) = %llu threads, but this kernel can run at most %d threads per "
                "workgroup on %s (amdgpu_flat_work_group_size or registers limit it)", prog->name, p->local[0], p->local[1], p->local[2],
                (unsigned long long)threads, prog->max_threads, dev->name);
  if (prog->shared > dev->shared)
    return fail(TG_ERR_OUT_OF_RANGE, "hip: launch %s: the kernel uses %d bytes of shared memory, %s has %d per workgroup", prog->name,
                prog->shared, dev->name, dev->shared);
  return TG_OK;
}

static tg_status event_pair(hipEvent_t ev[2], int create) {
  hipError_t r = 0;
  for (int i = 0; i < 2 && create; i++)
    if ((r = hip.EventCreate(&ev[i])) != 0) ev[i] = NULL;
  for (int i = 0; i < 2 && !create; i++)
    if (ev[i]) hip.EventDestroy(ev[i]);
  return r ? hip_fail(TG_ERR_DEVICE, r, "hip: launch: hipEventCreate") : TG_OK;
}

static tg_status hip_launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params) {
  ENTER("launch", dev);
  tg_status s = check_launch(dev, prog, params);
  if (s != TG_OK) return s;
  size_t n = params->n_bufs + params->n_vals;
  /* kernelParams: a pointer to each argument; device pointers (+ view offsets) first, then the int64 vals */
  void *stack_ptrs[STACK_ARGS], *stack_args[STACK_ARGS], **args = stack_args, **ptrs = stack_ptrs;
  if (n > STACK_ARGS) {
    args = malloc(n * sizeof(void *) + params->n_bufs * sizeof(void *) + 1);
    if (args == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "hip: launch %s: out of host memory for %zu arguments", prog->name, n);
    ptrs = args + n;
  }
  for (size_t i = 0; i < params->n_bufs; i++) ptrs[i] = params->bufs[i]->ptr, args[i] = &ptrs[i];
  for (size_t i = 0; i < params->n_vals; i++) args[params->n_bufs + i] = (void *)&params->vals[i];
  hipEvent_t ev[2] = {NULL, NULL};
  int timed = params->wait && params->elapsed_s;
  if (timed && (s = event_pair(ev, 1)) != TG_OK) goto out;
  if (timed) hip.EventRecord(ev[0], NULL);
  hipError_t r = hip.ModuleLaunchKernel(prog->fn, params->global[0], params->global[1], params->global[2], params->local[0], params->local[1],
                                        params->local[2], 0, NULL, n ? args : NULL, NULL);
  if (r) {
    s = hip_fail(TG_ERR_DEVICE, r, "hip: launch %s over (%u,%u,%u)x(%u,%u,%u): hipModuleLaunchKernel", prog->name, params->global[0],
                 params->global[1], params->global[2], params->local[0], params->local[1], params->local[2]);
    goto out;
  }
  if (timed) hip.EventRecord(ev[1], NULL);
  if (params->wait && (r = timed ? hip.EventSynchronize(ev[1]) : hip.DeviceSynchronize()) != 0) {
    s = hip_fail(TG_ERR_DEVICE, r, "hip: launch %s: waiting for the kernel", prog->name);
    goto out;
  }
  float ms = 0;
  if (timed && (r = hip.EventElapsedTime(&ms, ev[0], ev[1])) == 0) *params->elapsed_s = ms * 1e-3;
out:
  if (timed) event_pair(ev, 0);
  if (args != stack_args) free(args);
  return s;
}

static tg_status hip_synchronize(tg_backend_device *dev) {
  ENTER("synchronize", dev);
  hipError_t r = hip.DeviceSynchronize();
  return r ? hip_fail(TG_ERR_DEVICE, r, "hip: synchronize HIP:%d: hipDeviceSynchronize", dev->index) : TG_OK;
}

static tg_status hip_event_create(tg_backend_device *dev, tg_backend_event **out) {
  ENTER("event_create", dev);
  CHECK_PTR("event_create", out);
  tg_backend_event *e = calloc(1, sizeof(*e));
  if (e == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "hip: event_create: out of host memory");
  hipError_t r = hip.EventCreate(&e->ev);
  if (r) return free(e), hip_fail(TG_ERR_DEVICE, r, "hip: event_create: hipEventCreate");
  e->dev = dev;
  track(&e->obj, EVENT_MAGIC);
  *out = e;
  return TG_OK;
}

static tg_status hip_event_record(tg_backend_device *dev, tg_backend_event *ev) {
  ENTER("event_record", dev);
  CHECK_OBJ("event_record", ev, EVENT_MAGIC, "event");
  hipError_t r = hip.EventRecord(ev->ev, NULL);
  if (r) return hip_fail(TG_ERR_DEVICE, r, "hip: event_record: hipEventRecord");
  ev->recorded = 1;
  return TG_OK;
}

static tg_status hip_event_synchronize(tg_backend_device *dev, tg_backend_event *ev) {
  ENTER("event_synchronize", dev);
  CHECK_OBJ("event_synchronize", ev, EVENT_MAGIC, "event");
  hipError_t r = hip.EventSynchronize(ev->ev);
  return r ? hip_fail(TG_ERR_DEVICE, r, "hip: event_synchronize: hipEventSynchronize") : TG_OK;
}

static tg_status hip_event_elapsed(tg_backend_device *dev, tg_backend_event *start, tg_backend_event *end, double *out_seconds) {
  ENTER("event_elapsed", dev);
  CHECK_PTR("event_elapsed", out_seconds);
  CHECK_OBJ("event_elapsed", start, EVENT_MAGIC, "event");
  CHECK_OBJ("event_elapsed", end, EVENT_MAGIC, "event");
  if (!start->recorded || !end->recorded)
    return fail(TG_ERR_INVALID_ARGUMENT, "hip: event_elapsed: the %s event was never recorded", start->recorded ? "end" : "start");
  float ms = 0;
  hipError_t r = hip.EventElapsedTime(&ms, start->ev, end->ev);
  if (r) return hip_fail(TG_ERR_DEVICE, r, "hip: event_elapsed: hipEventElapsedTime");
  *out_seconds = ms * 1e-3;
  return TG_OK;
}

static void hip_event_free(tg_backend_device *dev, tg_backend_event *ev) {
  (void)dev;
  if (is_a(ev, EVENT_MAGIC)) destroy(&ev->obj);
}

/* ---------------- Entry and shutdown ---------------- */

static void hip_shutdown(void) {
  while (g_objs.next != &g_objs) destroy(g_objs.next); /* whatever the host did not free */
  for (int i = 0; i < g_ndev; i++) g_devs[i].refs = 0;
  g_host = NULL; /* the runtime stays loaded: the library may be entered again */
}

static tg_backend_api g_api = {
  .struct_size = sizeof(tg_backend_api), .shutdown = hip_shutdown,
  .device_count = hip_device_count, .device_properties = hip_device_properties, .device_caps = hip_device_caps,
  .device_open = hip_device_open, .device_close = hip_device_close,
  .alloc = hip_alloc, .free = hip_free, .copyin = hip_copyin, .copyout = hip_copyout,
  .compile = hip_compile, .blob_free = hip_blob_free, .load = hip_load, .program_free = hip_program_free,
  .launch = hip_launch, .synchronize = hip_synchronize, .buffer_view = hip_buffer_view,
  .transfer = NULL, /* not yet: copies between two GPUs go through the host */
  .event_create = hip_event_create, .event_record = hip_event_record, .event_synchronize = hip_event_synchronize,
  .event_elapsed = hip_event_elapsed, .event_free = hip_event_free};

TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *host, const tg_backend_api **out) {
  uint32_t minor;
  if (out == NULL) return TG_ERR_NULL_POINTER;
  tg_status s = tg_backend_negotiate(host, &tg_backend_manifest, &minor);
  if (s != TG_OK) return s;
  g_host = host;
  g_api.abi_minor = minor;
  *out = &g_api;
  return TG_OK;
}
