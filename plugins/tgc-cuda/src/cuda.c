/* cuda.c -- the CUDA backend (tinygrad 0.14.0's runtime/ops_cuda.py) over include/tg_backend.h.
**
** The CUDA driver API is declared here, not included, and libcuda.so.1 is dlopen'ed on first use, so the plugin builds
** with no CUDA toolkit and loads on a machine without a driver (it then reports no device and why). Kernels are CUDA C
** (dialect "cuda"), compiled by NVRTC to PTX for the device's sm_XX (nvrtc.c) and loaded with cuModuleLoadDataEx.
** Kernel ABI: extern "C" __global__ void NAME(T *buf0, ..., long long val0, ...); global = grid of blocks, local =
** threads per block, as in tinygrad. All work goes to the primary context's legacy default stream, so launches, copies
** and events are ordered; copyout returns after the queued work. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvrtc.h"

#ifndef TGC_CUDA_VERSION
#define TGC_CUDA_VERSION "0.0.0"
#endif
#ifndef TGC_CUDA_FLAVOR
#define TGC_CUDA_FLAVOR TG_BACKEND_FLAVOR_RELEASE
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
  .magic = TG_BACKEND_MAGIC, .struct_size = (uint32_t)sizeof(tg_manifest), .abi_major = TG_BACKEND_ABI_MAJOR, .abi_min_minor = 0,
  .abi_max_minor = TG_BACKEND_ABI_MINOR, .name = "CUDA", .version = TGC_CUDA_VERSION, .flavor = TGC_CUDA_FLAVOR, .dialects = "cuda"};

/* ---------------- The driver API, declared (cuda.h of CUDA 12/13; _v2 names where cuda.h #defines them) ---------------- */

typedef int CUresult, CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

enum { CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2, CUDA_ERROR_NOT_FOUND = 500, CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222 };
enum { ATTR_MAX_THREADS_PER_BLOCK = 1, ATTR_MAX_BLOCK_DIM_X = 2, ATTR_MAX_GRID_DIM_X = 5, ATTR_MAX_SHARED_PER_BLOCK = 8,
       ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76 };
enum { FUNC_MAX_THREADS_PER_BLOCK = 0 };
enum { JIT_ERROR_LOG_BUFFER = 5, JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6 };

/* X(required, field, parameters, symbol, fallback symbol or NULL) */
#define CU_FNS(X)                                                                                                         \
  X(1, Init, (unsigned flags), "cuInit", NULL)                                                                            \
  X(1, DriverGetVersion, (int *v), "cuDriverGetVersion", NULL)                                                            \
  X(1, DeviceGetCount, (int *n), "cuDeviceGetCount", NULL)                                                                \
  X(1, DeviceGet, (CUdevice * d, int ordinal), "cuDeviceGet", NULL)                                                       \
  X(1, DeviceGetName, (char *name, int len, CUdevice d), "cuDeviceGetName", NULL)                                         \
  X(1, DeviceGetAttribute, (int *v, int attr, CUdevice d), "cuDeviceGetAttribute", NULL)                                  \
  X(1, DeviceTotalMem, (size_t * bytes, CUdevice d), "cuDeviceTotalMem_v2", NULL)                                         \
  X(1, DevicePrimaryCtxRetain, (CUcontext * c, CUdevice d), "cuDevicePrimaryCtxRetain", NULL)                             \
  X(1, DevicePrimaryCtxRelease, (CUdevice d), "cuDevicePrimaryCtxRelease_v2", NULL)                                       \
  X(1, CtxSetCurrent, (CUcontext c), "cuCtxSetCurrent", NULL)                                                             \
  X(1, CtxSynchronize, (void), "cuCtxSynchronize", NULL)                                                                  \
  X(1, MemGetInfo, (size_t * free_bytes, size_t *total), "cuMemGetInfo_v2", NULL)                                        \
  X(1, MemAlloc, (CUdeviceptr * p, size_t n), "cuMemAlloc_v2", NULL)                                                      \
  X(1, MemFree, (CUdeviceptr p), "cuMemFree_v2", NULL)                                                                    \
  X(1, MemcpyHtoD, (CUdeviceptr dst, const void *src, size_t n), "cuMemcpyHtoD_v2", NULL)                                 \
  X(1, MemcpyDtoH, (void *dst, CUdeviceptr src, size_t n), "cuMemcpyDtoH_v2", NULL)                                       \
  X(1, ModuleLoadDataEx, (CUmodule * m, const void *image, unsigned n, int *opts, void **vals), "cuModuleLoadDataEx", NULL) \
  X(1, ModuleGetFunction, (CUfunction * f, CUmodule m, const char *name), "cuModuleGetFunction", NULL)                    \
  X(1, ModuleUnload, (CUmodule m), "cuModuleUnload", NULL)                                                                \
  X(1, FuncGetAttribute, (int *v, int attr, CUfunction f), "cuFuncGetAttribute", NULL)                                    \
  X(0, FuncGetParamInfo, (CUfunction f, size_t i, size_t *off, size_t *size), "cuFuncGetParamInfo", NULL)                 \
  X(1, LaunchKernel, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,          \
                      unsigned shared, CUstream s, void **params, void **extra), "cuLaunchKernel", NULL)                   \
  X(1, EventCreate, (CUevent * e, unsigned flags), "cuEventCreate", NULL)                                                 \
  X(1, EventRecord, (CUevent e, CUstream s), "cuEventRecord", NULL)                                                       \
  X(1, EventSynchronize, (CUevent e), "cuEventSynchronize", NULL)                                                         \
  X(1, EventElapsedTime, (float *ms, CUevent a, CUevent b), "cuEventElapsedTime_v2", "cuEventElapsedTime")                \
  X(1, EventDestroy, (CUevent e), "cuEventDestroy_v2", NULL)                                                              \
  X(1, GetErrorName, (CUresult r, const char **s), "cuGetErrorName", NULL)                                                \
  X(1, GetErrorString, (CUresult r, const char **s), "cuGetErrorString", NULL)

#define CU_FIELD(req, f, params, ...) CUresult(*f) params;
static struct cu_api { CU_FNS(CU_FIELD) } cu;
#define CU_SYM(req, f, params, a, b) {req, offsetof(struct cu_api, f), {a, b}},
static const struct { int required; size_t off; const char *names[2]; } cu_syms[] = {CU_FNS(CU_SYM)};

/* ---------------- State ---------------- */

#define MAX_DEVICES 64
#define STACK_ARGS 32
enum { BUF_MAGIC = 0x46554243, PROG_MAGIC = 0x47525043, EVENT_MAGIC = 0x544e5645 };

typedef struct cu_obj { uint32_t magic; struct cu_obj *prev, *next; } cu_obj; /* every buffer, program, event: freed at shutdown */

struct tg_backend_device {
  int index, refs, cc; /* cc: compute capability major*10 + minor */
  CUdevice cu;
  CUcontext ctx;
  char name[TG_TEXT_MAX];
  int max_threads, block[3], grid[3], shared;
  size_t mem;
};
struct tg_backend_buffer { cu_obj obj; tg_backend_device *dev; CUdeviceptr ptr; size_t size; int owns; };
struct tg_backend_program {
  cu_obj obj;
  tg_backend_device *dev;
  CUmodule mod;
  CUfunction fn;
  int max_threads, nparams; /* nparams: -1 when the driver cannot tell (cuFuncGetParamInfo is CUDA 12.4+) */
  int bad_param;            /* first parameter that is not 8 bytes (pointer or long long), -1 if none */
  size_t bad_size;
  char name[64];
};
struct tg_backend_event { cu_obj obj; tg_backend_device *dev; CUevent ev; int recorded; };

static const tg_backend_host *g_host;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_why[512];   /* why there is no device; "" when there are */
static char g_driver[64]; /* "580.159.04 (CUDA 13.0)" */
static int g_driver_version, g_ndev;
static tg_backend_device g_devs[MAX_DEVICES];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards the object list and device refcounts */
static cu_obj g_objs = {0, &g_objs, &g_objs};

/* ---------------- Errors (the one funnel to the host) ---------------- */

/* The one funnel to the host (tg_backend.h's helpers). */
#define fail(...) tg_backend_fail(g_host, __VA_ARGS__)
#define say(...) tg_backend_logf(g_host, __VA_ARGS__)

/* "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" */
static const char *cu_text(CUresult r, char *buf, size_t n) {
  const char *name = NULL, *text = NULL;
  if (cu.GetErrorName == NULL || cu.GetErrorName(r, &name) != 0) name = NULL;
  if (cu.GetErrorString == NULL || cu.GetErrorString(r, &text) != 0) text = NULL;
  snprintf(buf, n, "%s (%s)", name ? name : "CUDA error", text ? text : "unknown");
  if (!name) snprintf(buf, n, "CUDA error %d", r);
  return buf;
}

/* A failing driver call: out of memory is always TG_ERR_OUT_OF_MEMORY, anything else `code`. */
__attribute__((format(printf, 3, 4))) static tg_status cu_fail(tg_status code, CUresult r, const char *fmt, ...) {
  char what[1024], err[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  return fail(r == CUDA_ERROR_OUT_OF_MEMORY ? TG_ERR_OUT_OF_MEMORY : code, "%s: %s", what, cu_text(r, err, sizeof(err)));
}

#define CHECK_PTR(fn, p) \
  do { if ((p) == NULL) return fail(TG_ERR_NULL_POINTER, "cuda: " fn ": " #p " is NULL"); } while (0)
#define CHECK_OBJ(fn, p, MAGIC, kind) \
  do { if (!is_a(p, MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "cuda: " fn ": bad " kind " handle %p", (const void *)(p)); } while (0)
#define ENTER(fn, dev) \
  do { tg_status s_ = enter(fn, dev); if (s_ != TG_OK) return s_; } while (0)

static int is_a(const void *p, uint32_t magic) { return p != NULL && ((const cu_obj *)p)->magic == magic; }

static void track(cu_obj *o, uint32_t magic) {
  pthread_mutex_lock(&g_mu);
  o->magic = magic, o->prev = g_objs.prev, o->next = &g_objs;
  g_objs.prev->next = o, g_objs.prev = o;
  pthread_mutex_unlock(&g_mu);
}

static void destroy(cu_obj *o) {
  pthread_mutex_lock(&g_mu);
  o->prev->next = o->next, o->next->prev = o->prev;
  uint32_t magic = o->magic;
  o->magic = 0;
  pthread_mutex_unlock(&g_mu);
  if (magic == BUF_MAGIC) {
    tg_backend_buffer *b = (tg_backend_buffer *)o;
    if (b->owns && cu.CtxSetCurrent(b->dev->ctx) == 0) cu.MemFree(b->ptr);
  } else if (magic == PROG_MAGIC) {
    tg_backend_program *p = (tg_backend_program *)o;
    if (cu.CtxSetCurrent(p->dev->ctx) == 0) cu.ModuleUnload(p->mod);
  } else if (magic == EVENT_MAGIC) {
    tg_backend_event *e = (tg_backend_event *)o;
    if (cu.CtxSetCurrent(e->dev->ctx) == 0) cu.EventDestroy(e->ev);
  }
  free(o);
}

/* Every call on a device: a valid, open handle, and its context current on this thread (the host may switch threads). */
static tg_status enter(const char *fn, tg_backend_device *dev) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev || dev != &g_devs[dev->index] || dev->refs <= 0)
    return fail(TG_ERR_INVALID_HANDLE, "cuda: %s: bad device handle %p", fn, (void *)dev);
  CUresult r = cu.CtxSetCurrent(dev->ctx);
  return r ? cu_fail(TG_ERR_DEVICE, r, "cuda: %s: cuCtxSetCurrent on CUDA:%d", fn, dev->index) : TG_OK;
}

/* ---------------- The driver, loaded once ---------------- */

/* The kernel module's version from /proc ("580.159.04" out of "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64
** 580.159.04 Release Build ..."): the first token after "Kernel Module" that starts with a digit and has a dot. */
static void kernel_driver_version(char *out, size_t n) {
  char line[512];
  FILE *f = fopen("/proc/driver/nvidia/version", "re");
  const char *p = f && fgets(line, sizeof(line), f) ? strstr(line, "Kernel Module") : NULL;
  out[0] = '\0';
  for (size_t len = 0; p && *p && !out[0]; p += len) {
    p += strspn(p, " \t\n"), len = strcspn(p, " \t\n");
    if (len > 0 && *p >= '0' && *p <= '9' && memchr(p, '.', len)) snprintf(out, n, "%.*s", (int)len, p);
  }
  if (f) fclose(f);
}

static int query_device(int i, tg_backend_device *d) {
  int major = 0, minor = 0;
  CUresult r = cu.DeviceGet(&d->cu, i);
  if (!r) r = cu.DeviceGetName(d->name, sizeof(d->name), d->cu);
  if (!r) r = cu.DeviceGetAttribute(&major, ATTR_CC_MAJOR, d->cu);
  if (!r) r = cu.DeviceGetAttribute(&minor, ATTR_CC_MINOR, d->cu);
  if (!r) r = cu.DeviceGetAttribute(&d->max_threads, ATTR_MAX_THREADS_PER_BLOCK, d->cu);
  if (!r) r = cu.DeviceGetAttribute(&d->shared, ATTR_MAX_SHARED_PER_BLOCK, d->cu);
  for (int k = 0; k < 3 && !r; k++) r = cu.DeviceGetAttribute(&d->block[k], ATTR_MAX_BLOCK_DIM_X + k, d->cu);
  for (int k = 0; k < 3 && !r; k++) r = cu.DeviceGetAttribute(&d->grid[k], ATTR_MAX_GRID_DIM_X + k, d->cu);
  if (!r) r = cu.DeviceTotalMem(&d->mem, d->cu);
  d->index = i, d->cc = major * 10 + minor;
  return r;
}

static void load_driver(void) {
  char err[256];
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(g_why, sizeof(g_why), "no NVIDIA driver (libcuda.so.1 not found)");
    return;
  }
  for (size_t i = 0; i < sizeof(cu_syms) / sizeof(cu_syms[0]); i++) {
    void *p = dlsym(h, cu_syms[i].names[0]);
    if (p == NULL && cu_syms[i].names[1]) p = dlsym(h, cu_syms[i].names[1]);
    if (p == NULL && cu_syms[i].required) {
      snprintf(g_why, sizeof(g_why), "the NVIDIA driver's libcuda.so.1 lacks %s: update the driver", cu_syms[i].names[0]);
      memset(&cu, 0, sizeof(cu));
      return;
    }
    memcpy((char *)&cu + cu_syms[i].off, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  }
  CUresult r = cu.Init(0);
  if (r) {
    snprintf(g_why, sizeof(g_why), "the NVIDIA driver did not initialise: cuInit: %s", cu_text(r, err, sizeof(err)));
    return;
  }
  cu.DriverGetVersion(&g_driver_version);
  char kmod[32];
  kernel_driver_version(kmod, sizeof(kmod));
  snprintf(g_driver, sizeof(g_driver), "%s%sCUDA %d.%d%s", kmod, kmod[0] ? " (" : "", g_driver_version / 1000,
           g_driver_version % 1000 / 10, kmod[0] ? ")" : "");
  int n = 0;
  if ((r = cu.DeviceGetCount(&n)) != 0) {
    snprintf(g_why, sizeof(g_why), "cuDeviceGetCount: %s", cu_text(r, err, sizeof(err)));
    return;
  }
  if (n > MAX_DEVICES) n = MAX_DEVICES;
  for (int i = 0; i < n; i++)
    if ((r = query_device(i, &g_devs[i])) != 0) {
      snprintf(g_why, sizeof(g_why), "querying CUDA device %d: %s", i, cu_text(r, err, sizeof(err)));
      return;
    }
  if (n == 0) snprintf(g_why, sizeof(g_why), "no CUDA device (NVIDIA driver %s found)", g_driver);
  g_ndev = n;
}

/* ---------------- Devices ---------------- */

static tg_status cuda_device_count(int *out_count) {
  CHECK_PTR("device_count", out_count);
  pthread_once(&g_once, load_driver);
  *out_count = g_ndev;
  return g_ndev > 0 ? TG_OK : fail(TG_ERR_UNAVAILABLE, "%s", g_why);
}

static tg_status check_index(const char *fn, int index) {
  pthread_once(&g_once, load_driver);
  if (index < 0 || index >= g_ndev)
    return fail(g_ndev ? TG_ERR_OUT_OF_RANGE : TG_ERR_UNAVAILABLE, "cuda: %s: device index %d out of range (%d devices%s%s)", fn, index,
                g_ndev, g_ndev ? "" : ": ", g_why);
  return TG_OK;
}

/* Out-struct rule (tg_backend.h, VERSIONED STRUCTS), as in the CPU backend: write a field only when the host's capacity
** covers it, and say in struct_size how far we wrote. */
#define FIELD_END(f) TG_STRUCT_SIZE(__typeof__(*out), f)
#define PUT_AS(f, write) (void)(cap >= FIELD_END(f) && ((write), filled = FIELD_END(f)))
#define PUT(f, v) PUT_AS(f, out->f = (v))
#define PUTARR(f, a) PUT_AS(f, memcpy(out->f, (a), sizeof(out->f)))
#define PUTTXT(f, s) PUT_AS(f, snprintf(out->f, sizeof(out->f), "%s", (s)))

static tg_status cuda_device_properties(int index, tg_device_properties *out) {
  CHECK_PTR("device_properties", out);
  tg_status s = check_index("device_properties", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "cuda: device_properties: struct_size %zu too small", cap);
  PUTTXT(name, g_devs[index].name), PUTTXT(vendor, "NVIDIA"), PUTTXT(driver_version, g_driver);
  PUT(type, TG_DEVICE_GPU), PUT(reserved, 0);
  out->struct_size = filled;
  return TG_OK;
}

/* tinygrad 0.14.0's CUDARenderer.code_for_op: CStyleLanguage's ops, with the transcendentals as CUDA builtins
** (exp2, log2, sin, sqrt, trunc; h* for half/bfloat16) and RECIPROCAL as 1/x; MAX, POW, ... are decomposed. One
** departure: FDIV, which tinygrad's CUDARenderer lacks (so a/b becomes a*(1/b)), is native here as its ClangRenderer has
** it. In half and bfloat16 the rounded reciprocal breaks exact quotients: 5.5*(1/2.75) is 1.999 in half, so fmod(5.5, 2.75)
** came out 2.75 on an H200 where the CPU (and torch) give 0; a/b divides once, as the CPU does. */
static uint64_t cuda_alu_ops(void) {
  static const tg_alu_op ops[] = {TG_ALU_EXP2, TG_ALU_LOG2, TG_ALU_SIN, TG_ALU_SQRT, TG_ALU_RECIPROCAL, TG_ALU_NEG, TG_ALU_TRUNC,
                                  TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL, TG_ALU_CDIV, TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT,
                                  TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR, TG_ALU_XOR, TG_ALU_WHERE, TG_ALU_FDIV};
  uint64_t mask = 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) mask |= 1ull << ops[i];
  return mask;
}

/* CUDARenderer.supported_dtypes: everything up to float64, half from sm_53, bfloat16 from sm_80, the OCP fp8s from sm_89. */
static uint64_t cuda_dtypes(int cc) {
  uint64_t m = (1ull << (TG_FLOAT64 + 1)) - 1;
  if (cc < 53) m &= ~(1ull << TG_FLOAT16);
  if (cc < 80) m &= ~(1ull << TG_BFLOAT16);
  if (cc >= 89) m |= 1ull << TG_FP8E4M3 | 1ull << TG_FP8E5M2;
  return m;
}

/* CUDARenderer.tensor_cores = tinygrad 0.14.0's tc.get_cuda(arch): the mma.sync shapes (N, M, K), 32 threads, the
** elements of A, B and C per thread, dtype in -> accumulator. sm_75: m16n8k8 f16; sm_80: + m16n8k16 f16/bf16 and
** m16n8k8 tf32 (used only with ALLOW_TF32=1, as in tinygrad); sm_89: + m16n8k32 fp8. The core keeps the matching
** swizzles (core/src/codegen/opt/tc.c); order matters: the first that fits a kernel is used. */
#define TC(n, m, k, a, b, c, di, dout) {sizeof(tg_tensor_core), {n, m, k}, 32, {a, b, c}, di, dout}
static const tg_tensor_core g_tc_sm75[] = {TC(8, 16, 8, 4, 2, 4, TG_FLOAT16, TG_FLOAT32), TC(8, 16, 8, 4, 2, 4, TG_FLOAT16, TG_FLOAT16)};
static const tg_tensor_core g_tc_sm89[] = {
  TC(8, 16, 16, 8, 4, 4, TG_FLOAT16, TG_FLOAT32), TC(8, 16, 16, 8, 4, 4, TG_BFLOAT16, TG_FLOAT32), TC(8, 16, 16, 8, 4, 4, TG_FLOAT16, TG_FLOAT16),
  TC(8, 16, 8, 4, 2, 4, TG_FLOAT16, TG_FLOAT32), TC(8, 16, 8, 4, 2, 4, TG_FLOAT16, TG_FLOAT16), TC(8, 16, 8, 4, 2, 4, TG_FLOAT32, TG_FLOAT32),
  TC(8, 16, 32, 16, 8, 4, TG_FP8E4M3, TG_FLOAT32), TC(8, 16, 32, 16, 8, 4, TG_FP8E5M2, TG_FLOAT32)};
#undef TC
static const tg_tensor_core *cuda_tensor_cores(int cc, uint32_t *n) { /* sm_80's list is sm_89's without the fp8 pair */
  *n = cc >= 89 ? 8 : cc >= 80 ? 6 : cc >= 75 ? 2 : 0;
  return cc >= 80 ? g_tc_sm89 : cc >= 75 ? g_tc_sm75 : NULL;
}

static tg_status cuda_device_caps(int index, tg_device_caps *out) {
  CHECK_PTR("device_caps", out);
  tg_status s = check_index("device_caps", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "cuda: device_caps: struct_size %zu too small", cap);
  const tg_backend_device *d = &g_devs[index];
  char arch[16];
  snprintf(arch, sizeof(arch), "sm_%d", d->cc);
  PUTTXT(dialect, "cuda"), PUTTXT(arch, arch);
  PUT(dtypes, cuda_dtypes(d->cc)), PUT(alu_ops, cuda_alu_ops());
  PUT(has_local, 1), PUT(has_shared, 1), PUT(has_threads, 0), PUT(vector_width, 4);
  const uint32_t gmax[3] = {(uint32_t)d->grid[0], (uint32_t)d->grid[1], (uint32_t)d->grid[2]};
  const uint32_t lmax[3] = {(uint32_t)d->block[0], (uint32_t)d->block[1], (uint32_t)d->block[2]};
  PUTARR(global_max, gmax), PUTARR(local_max, lmax);
  PUT(local_prod_max, (uint32_t)d->max_threads), PUT(alignment, 256); /* cuMemAlloc aligns to 256 bytes */
  PUT(shared_max, (uint64_t)d->shared), PUT(mem_total, d->mem), PUT(mem_max_alloc, d->mem);
  uint32_t ntc = 0;
  const tg_tensor_core *tcs = cuda_tensor_cores(d->cc, &ntc);
  PUT(n_tensor_cores, ntc), PUT(compile_concurrent, 0), PUT(tensor_cores, tcs);
  out->struct_size = filled;
  return TG_OK;
}

static tg_status cuda_device_open(int index, tg_backend_device **out) {
  CHECK_PTR("device_open", out);
  tg_status s = check_index("device_open", index);
  if (s != TG_OK) return s;
  tg_backend_device *d = &g_devs[index];
  pthread_mutex_lock(&g_mu);
  CUresult r = d->refs > 0 ? 0 : cu.DevicePrimaryCtxRetain(&d->ctx, d->cu);
  if (r == 0) d->refs++;
  pthread_mutex_unlock(&g_mu);
  if (r) return cu_fail(TG_ERR_DEVICE, r, "cuda: device_open: cuDevicePrimaryCtxRetain on CUDA:%d (%s)", index, d->name);
  *out = d;
  return TG_OK;
}

static void cuda_device_close(tg_backend_device *dev) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev) return;
  pthread_mutex_lock(&g_mu);
  if (dev->refs > 0 && --dev->refs == 0) cu.DevicePrimaryCtxRelease(dev->cu);
  pthread_mutex_unlock(&g_mu);
}

/* ---------------- Memory ---------------- */

static tg_status cuda_alloc(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out) {
  ENTER("alloc", dev);
  CHECK_PTR("alloc", out);
  CUdeviceptr p = 0;
  CUresult r = cu.MemAlloc(&p, nbytes ? nbytes : 1); /* 0 bytes: still a distinct allocation */
  if (r) {
    size_t free_b = 0, total = 0;
    cu.MemGetInfo(&free_b, &total);
    return cu_fail(TG_ERR_DEVICE, r, "cuda: alloc of %zu bytes on CUDA:%d (%s, %zu of %zu bytes free): cuMemAlloc", nbytes, dev->index,
                   dev->name, free_b, total);
  }
  tg_backend_buffer *b = calloc(1, sizeof(*b));
  if (b == NULL) {
    cu.MemFree(p);
    return fail(TG_ERR_OUT_OF_MEMORY, "cuda: alloc: out of host memory");
  }
  b->dev = dev, b->ptr = p, b->size = nbytes, b->owns = 1;
  track(&b->obj, BUF_MAGIC);
  *out = b;
  return TG_OK;
}

static void cuda_free(tg_backend_device *dev, tg_backend_buffer *buf) {
  (void)dev;
  if (is_a(buf, BUF_MAGIC)) destroy(&buf->obj);
}

static tg_status check_range(const char *fn, tg_backend_device *dev, const tg_backend_buffer *b, size_t offset, size_t nbytes) {
  if (!is_a(b, BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "cuda: %s: bad buffer handle %p", fn, (const void *)b);
  if (b->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "cuda: %s: the buffer is on CUDA:%d, not CUDA:%d", fn, b->dev->index, dev->index);
  if (offset > b->size || nbytes > b->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "cuda: %s out of range: offset %zu + %zu bytes > buffer size %zu", fn, offset, nbytes, b->size);
  return TG_OK;
}

static tg_status cuda_copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  ENTER("copyin", dev);
  tg_status s = check_range("copyin", dev, dst, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyin", src);
  CUresult r = cu.MemcpyHtoD(dst->ptr + offset, src, nbytes);
  return r ? cu_fail(TG_ERR_DEVICE, r, "cuda: copyin of %zu bytes at offset %zu: cuMemcpyHtoD", nbytes, offset) : TG_OK;
}

static tg_status cuda_copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  ENTER("copyout", dev);
  tg_status s = check_range("copyout", dev, src, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyout", dst);
  CUresult r = cu.MemcpyDtoH(dst, src->ptr + offset, nbytes); /* synchronous: after the queued launches */
  return r ? cu_fail(TG_ERR_DEVICE, r, "cuda: copyout of %zu bytes at offset %zu: cuMemcpyDtoH", nbytes, offset) : TG_OK;
}

static tg_status cuda_buffer_view(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes, tg_backend_buffer **out) {
  ENTER("buffer_view", dev);
  CHECK_PTR("buffer_view", out);
  tg_status s = check_range("buffer_view", dev, buf, offset, nbytes);
  if (s != TG_OK) return s;
  tg_backend_buffer *v = calloc(1, sizeof(*v));
  if (v == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "cuda: buffer_view: out of host memory");
  v->dev = dev, v->ptr = buf->ptr + offset, v->size = nbytes, v->owns = 0;
  track(&v->obj, BUF_MAGIC);
  *out = v;
  return TG_OK;
}

/* ---------------- Compile and load ---------------- */

static tg_status cuda_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  ENTER("compile", dev);
  CHECK_PTR("compile", source);
  CHECK_PTR("compile", out);
  if (name == NULL) name = "(unnamed)";
  char *ptx = NULL, *msg = NULL;
  size_t size = 0;
  tg_status s = tgcu_nvrtc_compile(source, name, dev->cc, &ptx, &size, &msg);
  *out = (tg_blob){.struct_size = sizeof(tg_blob), .data = ptx, .size = size};
  if (s != TG_OK) fail(s, "cuda: compile %s: %s", name, msg ? msg : "out of memory");
  else say(TG_LOG_DEBUG, "cuda: compiled %s for sm_%d with %s: %zu bytes of PTX", name, dev->cc, tgcu_nvrtc_describe(), size);
  free(msg);
  return s;
}

static void cuda_blob_free(tg_blob *blob) {
  if (blob) free(blob->data), blob->data = NULL, blob->size = 0;
}

/* The PTX ISA a blob asks for (".version 9.0"), for the message when the driver refuses it. */
static void ptx_version(const char *ptx, size_t size, char *out, size_t n) {
  const char *v = memmem(ptx, size, ".version ", 9);
  snprintf(out, n, "%.*s", v ? (int)strcspn(v + 9, " \r\n") : 1, v ? v + 9 : "?");
}

/* Parameter count and sizes, where the driver can tell (CUDA 12.4+), to refuse a launch whose arguments do not fit. */
static void param_info(tg_backend_program *p) {
  size_t off, size;
  CUresult r = 0;
  int i = 0;
  p->nparams = -1, p->bad_param = -1;
  if (cu.FuncGetParamInfo == NULL) return;
  for (; i < 1 << 14 && (r = cu.FuncGetParamInfo(p->fn, (size_t)i, &off, &size)) == 0; i++)
    if (size != 8 && p->bad_param < 0) p->bad_param = i, p->bad_size = size;
  if (i > 0 || r == CUDA_ERROR_INVALID_VALUE) p->nparams = i; /* stopped past the last one; an error at index 0 other than that: unknown */
}

static tg_status load_failed(const char *name, CUresult r, const void *blob, size_t size, const char *jitlog) {
  char hint[1024] = "", ver[16], err[256];
  if (r == CUDA_ERROR_UNSUPPORTED_PTX_VERSION) {
    ptx_version(blob, size, ver, sizeof(ver));
    int major = g_driver_version / 1000, minor = g_driver_version % 1000 / 10;
    snprintf(hint, sizeof(hint), "; the PTX's ISA %s is newer than this driver (CUDA %d.%d) accepts: compile with an NVRTC no newer than the "
             "driver (pip install 'nvidia-cuda-nvrtc==%d.%d.*', or set TGC_NVRTC_PATH)%s%s", ver, major, minor, major, minor,
             tgcu_nvrtc_version() ? "; in use: " : "", tgcu_nvrtc_describe());
  }
  return fail(r == CUDA_ERROR_OUT_OF_MEMORY ? TG_ERR_OUT_OF_MEMORY : TG_ERR_LOAD, "cuda: load %s: cuModuleLoadDataEx: %s%s%s%s", name,
              cu_text(r, err, sizeof(err)), hint, jitlog[0] ? "; JIT log: " : "", jitlog);
}

static tg_status cuda_load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  ENTER("load", dev);
  CHECK_PTR("load", blob);
  CHECK_PTR("load", name);
  CHECK_PTR("load", out);
  if (size == 0) return fail(TG_ERR_CORRUPT, "cuda: load %s: the blob is empty", name);
  /* PTX must end in a NUL for the driver; a host cache may hand back the bytes without it. CUBIN (ELF) goes as is. */
  char *copy = NULL;
  const int elf = size >= 4 && memcmp(blob, "\177ELF", 4) == 0;
  if (!elf && ((const char *)blob)[size - 1] != '\0') {
    if ((copy = malloc(size + 1)) == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "cuda: load %s: out of host memory", name);
    memcpy(copy, blob, size), copy[size] = '\0';
  }
  char jitlog[4096] = "";
  int opts[2] = {JIT_ERROR_LOG_BUFFER, JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[2] = {jitlog, (void *)(uintptr_t)sizeof(jitlog)};
  CUmodule mod = NULL;
  CUresult r = cu.ModuleLoadDataEx(&mod, copy ? copy : blob, 2, opts, vals);
  jitlog[sizeof(jitlog) - 1] = '\0';
  tg_status s = r ? load_failed(name, r, blob, size, jitlog) : TG_OK;
  free(copy);
  if (s != TG_OK) return s;
  tg_backend_program *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    cu.ModuleUnload(mod);
    return fail(TG_ERR_OUT_OF_MEMORY, "cuda: load %s: out of host memory", name);
  }
  p->dev = dev, p->mod = mod;
  snprintf(p->name, sizeof(p->name), "%s", name);
  if ((r = cu.ModuleGetFunction(&p->fn, mod, name)) == 0) r = cu.FuncGetAttribute(&p->max_threads, FUNC_MAX_THREADS_PER_BLOCK, p->fn);
  if (r) {
    cu.ModuleUnload(mod), free(p);
    if (r == CUDA_ERROR_NOT_FOUND)
      return fail(TG_ERR_LOAD, "cuda: load: kernel '%s' not found in the module (declare it extern \"C\" __global__)", name);
    return cu_fail(TG_ERR_LOAD, r, "cuda: load %s: cuModuleGetFunction", name);
  }
  param_info(p);
  track(&p->obj, PROG_MAGIC);
  *out = p;
  return TG_OK;
}

static void cuda_program_free(tg_backend_device *dev, tg_backend_program *prog) {
  (void)dev;
  if (is_a(prog, PROG_MAGIC)) destroy(&prog->obj);
}

/* ---------------- Launch, synchronize, events ---------------- */

static tg_status check_launch(tg_backend_device *dev, const tg_backend_program *prog, const tg_launch_params *p) {
  CHECK_OBJ("launch", prog, PROG_MAGIC, "program");
  CHECK_PTR("launch", p);
  if (p->struct_size < TG_STRUCT_SIZE(tg_launch_params, elapsed_s))
    return fail(TG_ERR_INVALID_ARGUMENT, "cuda: launch: params struct_size %zu < %zu", p->struct_size, TG_STRUCT_SIZE(tg_launch_params, elapsed_s));
  if (prog->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "cuda: launch %s: the program is loaded on CUDA:%d, not CUDA:%d", prog->name, prog->dev->index, dev->index);
  if (p->n_bufs > 0 && p->bufs == NULL) return fail(TG_ERR_NULL_POINTER, "cuda: launch %s: bufs is NULL with n_bufs %zu", prog->name, p->n_bufs);
  if (p->n_vals > 0 && p->vals == NULL) return fail(TG_ERR_NULL_POINTER, "cuda: launch %s: vals is NULL with n_vals %zu", prog->name, p->n_vals);
  for (size_t i = 0; i < p->n_bufs; i++) {
    if (!is_a(p->bufs[i], BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "cuda: launch %s: bufs[%zu] is not a buffer handle (%p)", prog->name, i, (void *)p->bufs[i]);
    if (p->bufs[i]->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "cuda: launch %s: bufs[%zu] is on CUDA:%d", prog->name, i, p->bufs[i]->dev->index);
  }
  uint64_t threads = (uint64_t)p->local[0] * p->local[1] * p->local[2];
  for (int k = 0; k < 3; k++) {
    if (p->global[k] == 0 || p->local[k] == 0)
      return fail(TG_ERR_INVALID_ARGUMENT, "cuda: launch %s: global (%u,%u,%u) and local (%u,%u,%u) must be >= 1", prog->name, p->global[0],
                  p->global[1], p->global[2], p->local[0], p->local[1], p->local[2]);
    if (p->global[k] > (uint32_t)dev->grid[k] || p->local[k] > (uint32_t)dev->block[k])
      return fail(TG_ERR_OUT_OF_RANGE, "cuda: launch %s: global (%u,%u,%u) / local (%u,%u,%u) exceed %s's grid (%d,%d,%d) / block (%d,%d,%d)",
                  prog->name, p->global[0], p->global[1], p->global[2], p->local[0], p->local[1], p->local[2], dev->name, dev->grid[0],
                  dev->grid[1], dev->grid[2], dev->block[0], dev->block[1], dev->block[2]);
  }
  if (threads > (uint64_t)prog->max_threads)
    return fail(TG_ERR_OUT_OF_RANGE, "cuda: launch %s: local size (%u,%u,%u) = %llu threads, but this kernel can run at most %d threads per "
                "block on %s (registers or __launch_bounds__ limit it)", prog->name, p->local[0], p->local[1], p->local[2],
                (unsigned long long)threads, prog->max_threads, dev->name);
  if (prog->nparams >= 0 && (size_t)prog->nparams != p->n_bufs + p->n_vals)
    return fail(TG_ERR_INVALID_ARGUMENT, "cuda: launch %s: the kernel takes %d parameters, the launch passes %zu buffers + %zu vals", prog->name,
                prog->nparams, p->n_bufs, p->n_vals);
  if (prog->bad_param >= 0)
    return fail(TG_ERR_INVALID_ARGUMENT, "cuda: launch %s: parameter %d is %zu bytes; the CUDA dialect passes buffers as pointers and vals as "
                "long long (8 bytes each)", prog->name, prog->bad_param, prog->bad_size);
  return TG_OK;
}

static tg_status event_pair(CUevent ev[2], int create) {
  CUresult r = 0;
  for (int i = 0; i < 2 && create; i++)
    if ((r = cu.EventCreate(&ev[i], 0)) != 0) ev[i] = NULL;
  for (int i = 0; i < 2 && !create; i++)
    if (ev[i]) cu.EventDestroy(ev[i]);
  return r ? cu_fail(TG_ERR_DEVICE, r, "cuda: launch: cuEventCreate") : TG_OK;
}

static tg_status cuda_launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params) {
  ENTER("launch", dev);
  tg_status s = check_launch(dev, prog, params);
  if (s != TG_OK) return s;
  size_t n = params->n_bufs + params->n_vals;
  /* cuLaunchKernel reads each argument through a pointer: device pointers (+ view offsets) first, then int64 vals */
  CUdeviceptr stack_ptrs[STACK_ARGS];
  void *stack_args[STACK_ARGS], **args = stack_args;
  CUdeviceptr *ptrs = stack_ptrs;
  if (n > STACK_ARGS) {
    args = malloc(n * sizeof(void *) + params->n_bufs * sizeof(CUdeviceptr) + 1);
    if (args == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "cuda: launch %s: out of host memory for %zu arguments", prog->name, n);
    ptrs = (CUdeviceptr *)(args + n);
  }
  for (size_t i = 0; i < params->n_bufs; i++) ptrs[i] = params->bufs[i]->ptr, args[i] = &ptrs[i];
  for (size_t i = 0; i < params->n_vals; i++) args[params->n_bufs + i] = (void *)&params->vals[i];
  CUevent ev[2] = {NULL, NULL};
  int timed = params->wait && params->elapsed_s;
  if (timed && (s = event_pair(ev, 1)) != TG_OK) goto out;
  if (timed) cu.EventRecord(ev[0], NULL);
  CUresult r = cu.LaunchKernel(prog->fn, params->global[0], params->global[1], params->global[2], params->local[0], params->local[1],
                               params->local[2], 0, NULL, n ? args : NULL, NULL);
  if (r) {
    s = cu_fail(TG_ERR_DEVICE, r, "cuda: launch %s over (%u,%u,%u)x(%u,%u,%u): cuLaunchKernel", prog->name, params->global[0], params->global[1],
                params->global[2], params->local[0], params->local[1], params->local[2]);
    goto out;
  }
  if (timed) cu.EventRecord(ev[1], NULL);
  if (params->wait && (r = timed ? cu.EventSynchronize(ev[1]) : cu.CtxSynchronize()) != 0) {
    s = cu_fail(TG_ERR_DEVICE, r, "cuda: launch %s: waiting for the kernel", prog->name);
    goto out;
  }
  float ms = 0;
  if (timed && (r = cu.EventElapsedTime(&ms, ev[0], ev[1])) == 0) *params->elapsed_s = ms * 1e-3;
out:
  if (timed) event_pair(ev, 0);
  if (args != stack_args) free(args);
  return s;
}

static tg_status cuda_synchronize(tg_backend_device *dev) {
  ENTER("synchronize", dev);
  CUresult r = cu.CtxSynchronize();
  return r ? cu_fail(TG_ERR_DEVICE, r, "cuda: synchronize CUDA:%d: cuCtxSynchronize", dev->index) : TG_OK;
}

static tg_status cuda_event_create(tg_backend_device *dev, tg_backend_event **out) {
  ENTER("event_create", dev);
  CHECK_PTR("event_create", out);
  tg_backend_event *e = calloc(1, sizeof(*e));
  if (e == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "cuda: event_create: out of host memory");
  CUresult r = cu.EventCreate(&e->ev, 0); /* default flags: timing enabled */
  if (r) return free(e), cu_fail(TG_ERR_DEVICE, r, "cuda: event_create: cuEventCreate");
  e->dev = dev;
  track(&e->obj, EVENT_MAGIC);
  *out = e;
  return TG_OK;
}

static tg_status cuda_event_record(tg_backend_device *dev, tg_backend_event *ev) {
  ENTER("event_record", dev);
  CHECK_OBJ("event_record", ev, EVENT_MAGIC, "event");
  CUresult r = cu.EventRecord(ev->ev, NULL);
  if (r) return cu_fail(TG_ERR_DEVICE, r, "cuda: event_record: cuEventRecord");
  ev->recorded = 1;
  return TG_OK;
}

static tg_status cuda_event_synchronize(tg_backend_device *dev, tg_backend_event *ev) {
  ENTER("event_synchronize", dev);
  CHECK_OBJ("event_synchronize", ev, EVENT_MAGIC, "event");
  CUresult r = cu.EventSynchronize(ev->ev);
  return r ? cu_fail(TG_ERR_DEVICE, r, "cuda: event_synchronize: cuEventSynchronize") : TG_OK;
}

static tg_status cuda_event_elapsed(tg_backend_device *dev, tg_backend_event *start, tg_backend_event *end, double *out_seconds) {
  ENTER("event_elapsed", dev);
  CHECK_PTR("event_elapsed", out_seconds);
  CHECK_OBJ("event_elapsed", start, EVENT_MAGIC, "event");
  CHECK_OBJ("event_elapsed", end, EVENT_MAGIC, "event");
  if (!start->recorded || !end->recorded)
    return fail(TG_ERR_INVALID_ARGUMENT, "cuda: event_elapsed: the %s event was never recorded", start->recorded ? "end" : "start");
  float ms = 0;
  CUresult r = cu.EventElapsedTime(&ms, start->ev, end->ev);
  if (r) return cu_fail(TG_ERR_DEVICE, r, "cuda: event_elapsed: cuEventElapsedTime");
  *out_seconds = ms * 1e-3;
  return TG_OK;
}

static void cuda_event_free(tg_backend_device *dev, tg_backend_event *ev) {
  (void)dev;
  if (is_a(ev, EVENT_MAGIC)) destroy(&ev->obj);
}

/* ---------------- Entry and shutdown ---------------- */

static void cuda_shutdown(void) {
  while (g_objs.next != &g_objs) destroy(g_objs.next); /* whatever the host did not free */
  for (int i = 0; i < g_ndev; i++)
    if (g_devs[i].refs > 0) g_devs[i].refs = 0, cu.DevicePrimaryCtxRelease(g_devs[i].cu);
  g_host = NULL; /* the driver stays loaded: the library may be entered again */
}

static tg_backend_api g_api = {
  .struct_size = sizeof(tg_backend_api), .shutdown = cuda_shutdown,
  .device_count = cuda_device_count, .device_properties = cuda_device_properties, .device_caps = cuda_device_caps,
  .device_open = cuda_device_open, .device_close = cuda_device_close,
  .alloc = cuda_alloc, .free = cuda_free, .copyin = cuda_copyin, .copyout = cuda_copyout,
  .compile = cuda_compile, .blob_free = cuda_blob_free, .load = cuda_load, .program_free = cuda_program_free,
  .launch = cuda_launch, .synchronize = cuda_synchronize, .buffer_view = cuda_buffer_view,
  .transfer = NULL, /* not yet: copies between two GPUs go through the host */
  .event_create = cuda_event_create, .event_record = cuda_event_record, .event_synchronize = cuda_event_synchronize,
  .event_elapsed = cuda_event_elapsed, .event_free = cuda_event_free};

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
