/* metal.c -- the Metal backend (tinygrad 0.14.0's runtime/ops_metal.py) over include/tg_backend.h.
**
** Metal is an Objective-C API. Like tinygrad's ops_metal (ctypes + objc_msgSend), this file reaches it through the
** Objective-C runtime's C entry points -- objc_getClass, sel_registerName, objc_msgSend cast to each method's C
** prototype -- with libobjc and Metal.framework dlopen'ed at run time, so it is plain C that compiles on Linux and on
** macOS and links nothing of Apple's. On anything but macOS there is no Metal: the device count is 0 with "not macOS",
** unless TGC_METAL_OBJC and TGC_METAL_FRAMEWORK name stand-in libraries (the tests' fake_metal.c, which records every
** message send).
**
** Kernels are Metal Shading Language (dialect "metal", tinygrad's MetalRenderer): `kernel void NAME(device T* buf0, ...,
** constant int& var0, ..., uint3 gid [[threadgroup_position_in_grid]], uint3 lid [[thread_position_in_threadgroup]])`.
** compile = newLibraryWithSource:options:error: (fast math off, as tinygrad's -fno-fast-math); the blob is the checked
** source behind a magic line (Metal has no public way to serialise a compiled library), and load compiles it again
** unless it is the library compile just made. Buffers are MTLResourceStorageModeShared: copies are memcpy on
** `contents` after the queue drained. A launch is one command buffer: setBuffer:offset:atIndex: per buffer (view offsets
** included), setBytes:length:atIndex: with each int64 val (8 bytes: a `constant int&` reads the low half),
** dispatchThreadgroups:threadsPerThreadgroup:(global, local), commit. synchronize waits for every committed command
** buffer and reports the first error. One device: MTLCreateSystemDefaultDevice, as tinygrad. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_backend.h"

#ifndef TGC_METAL_VERSION
#define TGC_METAL_VERSION "0.0.0"
#endif
#ifndef TGC_METAL_FLAVOR
#define TGC_METAL_FLAVOR TG_BACKEND_FLAVOR_RELEASE
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
  .magic = TG_BACKEND_MAGIC, .struct_size = (uint32_t)sizeof(tg_manifest), .abi_major = TG_BACKEND_ABI_MAJOR, .abi_min_minor = 0,
  .abi_max_minor = TG_BACKEND_ABI_MINOR, .name = "METAL", .version = TGC_METAL_VERSION, .flavor = TGC_METAL_FLAVOR, .dialects = "metal"};

/* ---------------- The Objective-C runtime, declared ---------------- */

typedef void *id;
typedef void *SEL;
typedef unsigned long NSUInteger;
typedef struct { NSUInteger width, height, depth; } MTLSize;
/* objc_msgSend has no prototype of its own: each call casts it to the method's C signature (self, _cmd, args...). MTLSize
** goes by value (24 bytes: in memory on x86-64, by reference on arm64, as the C ABI says); no method used returns a
** struct or a long double, so objc_msgSend_stret/_fpret are never needed. BOOL is read as its low byte. */
#define MSG(ret, ...) ((ret(*)(id, SEL, ##__VA_ARGS__))rt.msgSend)

static struct {
  id (*getClass)(const char *name);
  SEL (*registerName)(const char *name);
  void (*msgSend)(void);
  void *(*poolPush)(void);
  void (*poolPop)(void *pool);
  id (*CreateSystemDefaultDevice)(void);
} rt;

enum { MTLResourceStorageModeShared = 0, MTLCommandBufferStatusError = 5 };
enum { MTLGPUFamilyApple1 = 1001, MTLGPUFamilyApple9 = 1009, MTLGPUFamilyMac1 = 2001, MTLGPUFamilyMac2 = 2002 };

static SEL sel(const char *name) { return rt.registerName(name); }
static void release(id o) { if (o) MSG(void)(o, sel("release")); }
static id retain(id o) { return o ? MSG(id)(o, sel("retain")) : NULL; }
/* a new NSString (+1: release it) */
static id nsstr(const char *s) {
  id o = MSG(id)(rt.getClass("NSString"), sel("alloc"));
  return o ? MSG(id, const char *)(o, sel("initWithUTF8String:"), s) : NULL;
}
static const char *cstr(id s) { return s ? MSG(const char *)(s, sel("UTF8String")) : NULL; }
/* an NSError's text (inside an autorelease pool) */
static const char *err_text(id err) {
  const char *t = err ? cstr(MSG(id)(err, sel("localizedDescription"))) : NULL;
  return t ? t : "no error description";
}

/* ---------------- State ---------------- */

#define STACK_ARGS 32
#define INFLIGHT_MAX 1024 /* newCommandQueueWithMaxCommandBufferCount: tinygrad's */
enum { BUF_MAGIC = 0x4655424d, PROG_MAGIC = 0x4752504d };
static const char BLOB_MAGIC[] = "// tgc-metal msl v1\n";

typedef struct mtl_obj { uint32_t magic; struct mtl_obj *prev, *next; } mtl_obj; /* every buffer and program: freed at shutdown */

struct tg_backend_device {
  int refs, family; /* family: 1..9 for AppleN, 1001/1002 for Mac1/Mac2, 0 unknown */
  id dev, queue;
  char name[TG_TEXT_MAX], arch[32];
  NSUInteger shared, mem, max_buffer;
  id inflight[INFLIGHT_MAX]; /* committed command buffers not yet waited for (retained) */
  int n_inflight;
};
struct tg_backend_buffer { mtl_obj obj; tg_backend_device *dev; id buf; size_t offset, size; int owns; };
struct tg_backend_program {
  mtl_obj obj;
  tg_backend_device *dev;
  id lib, fn, pipeline;
  NSUInteger max_threads, width, static_shared;
  char name[64];
};

static const tg_backend_host *g_host;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_why[1024];  /* why there is no device; "" when there is */
static char g_driver[64]; /* "macOS Version 14.5 (Build 23F79)" */
static int g_ndev;
static tg_backend_device g_dev;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards the object list, refcounts and the compile slot */
static mtl_obj g_objs = {0, &g_objs, &g_objs};
/* the library compile() built last, kept for the load() that usually follows: Metal cannot serialise it */
static struct { id lib; char *source; } g_last;

/* ---------------- Errors (the one funnel to the host) ---------------- */

#define fail(...) tg_backend_fail(g_host, __VA_ARGS__)
#define say(...) tg_backend_logf(g_host, __VA_ARGS__)
#define CHECK_PTR(fn, p) \
  do { if ((p) == NULL) return fail(TG_ERR_NULL_POINTER, "metal: " fn ": " #p " is NULL"); } while (0)
#define CHECK_DEV(fn, d) \
  do { if ((d) != &g_dev || g_ndev == 0 || g_dev.refs <= 0) return fail(TG_ERR_INVALID_HANDLE, "metal: %s: bad device handle %p", fn, (void *)(d)); } while (0)

static int is_a(const void *p, uint32_t magic) { return p != NULL && ((const mtl_obj *)p)->magic == magic; }

static void track(mtl_obj *o, uint32_t magic) {
  pthread_mutex_lock(&g_mu);
  o->magic = magic, o->prev = g_objs.prev, o->next = &g_objs;
  g_objs.prev->next = o, g_objs.prev = o;
  pthread_mutex_unlock(&g_mu);
}

static void destroy(mtl_obj *o) {
  pthread_mutex_lock(&g_mu);
  o->prev->next = o->next, o->next->prev = o->prev;
  uint32_t magic = o->magic;
  o->magic = 0;
  pthread_mutex_unlock(&g_mu);
  if (magic == BUF_MAGIC && ((tg_backend_buffer *)o)->owns) release(((tg_backend_buffer *)o)->buf);
  if (magic == PROG_MAGIC) {
    tg_backend_program *p = (tg_backend_program *)o;
    release(p->pipeline), release(p->fn), release(p->lib);
  }
  free(o);
}

/* ---------------- The runtime, loaded once ---------------- */

/* $VAR names the library (no fallback), else the macOS path; "" on other systems. *why: dlerror's text on failure. */
static void *open_lib(const char *var, const char *mac_path, char *path, size_t n, char *why, size_t nwhy) {
  const char *env = getenv(var);
#ifdef __APPLE__
  snprintf(path, n, "%s", env && *env ? env : mac_path);
#else
  (void)mac_path;
  snprintf(path, n, "%s", env && *env ? env : "");
#endif
  void *h = path[0] ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
  const char *e = h || !path[0] ? NULL : dlerror();
  if (why) snprintf(why, nwhy, "%s", e ? e : "");
  return h;
}

static int load_symbols(void *objc, void *metal) {
  static const struct { int in_metal; size_t off; const char *name; } syms[] = {
    {0, offsetof(__typeof__(rt), getClass), "objc_getClass"}, {0, offsetof(__typeof__(rt), registerName), "sel_registerName"},
    {0, offsetof(__typeof__(rt), msgSend), "objc_msgSend"}, {0, offsetof(__typeof__(rt), poolPush), "objc_autoreleasePoolPush"},
    {0, offsetof(__typeof__(rt), poolPop), "objc_autoreleasePoolPop"},
    {1, offsetof(__typeof__(rt), CreateSystemDefaultDevice), "MTLCreateSystemDefaultDevice"}};
  for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
    void *p = dlsym(syms[i].in_metal ? metal : objc, syms[i].name);
    if (p == NULL) {
      snprintf(g_why, sizeof(g_why), "%s lacks %s", syms[i].in_metal ? "Metal.framework" : "the Objective-C runtime", syms[i].name);
      memset(&rt, 0, sizeof(rt));
      return 0;
    }
    memcpy((char *)&rt + syms[i].off, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  }
  return 1;
}

/* The highest GPU family the device supports: AppleN (tinygrad's arch "AppleN"), else MacN. */
static void query_family(tg_backend_device *d) {
  for (int f = MTLGPUFamilyApple9; f >= MTLGPUFamilyApple1 && !d->family; f--)
    if (MSG(unsigned char, long)(d->dev, sel("supportsFamily:"), f)) d->family = f - MTLGPUFamilyApple1 + 1;
  for (int f = MTLGPUFamilyMac2; f >= MTLGPUFamilyMac1 && !d->family; f--)
    if (MSG(unsigned char, long)(d->dev, sel("supportsFamily:"), f)) d->family = f - MTLGPUFamilyMac1 + 1001;
  if (d->family >= 1001) snprintf(d->arch, sizeof(d->arch), "Mac%d", d->family - 1000);
  else if (d->family) snprintf(d->arch, sizeof(d->arch), "Apple%d", d->family);
  else snprintf(d->arch, sizeof(d->arch), "unknown");
}

static void load_runtime(void) {
  char objc_path[1024], metal_path[1024], path[1024], objc_err[512], metal_err[512];
  void *objc = open_lib("TGC_METAL_OBJC", "/usr/lib/libobjc.A.dylib", objc_path, sizeof(objc_path), objc_err, sizeof(objc_err));
  void *metal = open_lib("TGC_METAL_FRAMEWORK", "/System/Library/Frameworks/Metal.framework/Metal", metal_path, sizeof(metal_path), metal_err,
                         sizeof(metal_err));
  if (!objc_path[0] && !metal_path[0]) {
    snprintf(g_why, sizeof(g_why), "not macOS");
    return;
  }
  if (!objc || !metal) {
    const char *which = !objc ? "the Objective-C runtime" : "Metal.framework", *p = !objc ? objc_path : metal_path;
    const char *var = !objc ? "TGC_METAL_OBJC" : "TGC_METAL_FRAMEWORK";
    snprintf(g_why, sizeof(g_why), "%s not found (%s%s%s: %s)", which, getenv(var) && *getenv(var) ? var : "", getenv(var) && *getenv(var) ? "=" : "",
             p[0] ? p : "(unset)", p[0] ? (!objc ? objc_err : metal_err) : "set both TGC_METAL_OBJC and TGC_METAL_FRAMEWORK");
    return;
  }
#ifdef __APPLE__
  /* NSString and NSProcessInfo; CoreGraphics: without it MTLCreateSystemDefaultDevice returns nil outside an app (tinygrad) */
  open_lib("TGC_METAL_FOUNDATION", "/System/Library/Frameworks/Foundation.framework/Foundation", path, sizeof(path), NULL, 0);
  open_lib("TGC_METAL_COREGRAPHICS", "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics", path, sizeof(path), NULL, 0);
#else
  (void)path;
#endif
  if (!load_symbols(objc, metal)) return;
  void *pool = rt.poolPush();
  tg_backend_device *d = &g_dev;
  const char *os = cstr(MSG(id)(MSG(id)(rt.getClass("NSProcessInfo"), sel("processInfo")), sel("operatingSystemVersionString")));
  snprintf(g_driver, sizeof(g_driver), "macOS %s", os ? os : "(unknown version)");
  if ((d->dev = rt.CreateSystemDefaultDevice()) == NULL) {
    snprintf(g_why, sizeof(g_why), "no Metal device (MTLCreateSystemDefaultDevice returned nil)");
  } else if ((d->queue = MSG(id, NSUInteger)(d->dev, sel("newCommandQueueWithMaxCommandBufferCount:"), INFLIGHT_MAX)) == NULL) {
    snprintf(g_why, sizeof(g_why), "cannot create a Metal command queue");
    release(d->dev), d->dev = NULL;
  } else {
    const char *name = cstr(MSG(id)(d->dev, sel("name")));
    snprintf(d->name, sizeof(d->name), "%s", name ? name : "Metal device");
    query_family(d);
    d->shared = MSG(NSUInteger)(d->dev, sel("maxThreadgroupMemoryLength"));
    d->mem = (NSUInteger)MSG(uint64_t)(d->dev, sel("recommendedMaxWorkingSetSize"));
    d->max_buffer = MSG(NSUInteger)(d->dev, sel("maxBufferLength"));
    g_ndev = 1;
  }
  rt.poolPop(pool);
}

/* ---------------- Devices ---------------- */

static tg_status mtl_device_count(int *out_count) {
  CHECK_PTR("device_count", out_count);
  pthread_once(&g_once, load_runtime);
  *out_count = g_ndev;
  return g_ndev > 0 ? TG_OK : fail(TG_ERR_UNAVAILABLE, "%s", g_why);
}

static tg_status check_index(const char *fn, int index) {
  pthread_once(&g_once, load_runtime);
  if (index < 0 || index >= g_ndev)
    return fail(g_ndev ? TG_ERR_OUT_OF_RANGE : TG_ERR_UNAVAILABLE, "metal: %s: device index %d out of range (%d devices%s%s)", fn, index, g_ndev,
                g_ndev ? "" : ": ", g_why);
  return TG_OK;
}

/* Out-struct rule (tg_backend.h, VERSIONED STRUCTS): write a field only when the host's capacity covers it, and say in
** struct_size how far we wrote. */
#define FIELD_END(f) TG_STRUCT_SIZE(__typeof__(*out), f)
#define PUT_AS(f, write) (void)(cap >= FIELD_END(f) && ((write), filled = FIELD_END(f)))
#define PUT(f, v) PUT_AS(f, out->f = (v))
#define PUTARR(f, a) PUT_AS(f, memcpy(out->f, (a), sizeof(out->f)))
#define PUTTXT(f, s) PUT_AS(f, snprintf(out->f, sizeof(out->f), "%s", (s)))

static tg_status mtl_device_properties(int index, tg_device_properties *out) {
  CHECK_PTR("device_properties", out);
  tg_status s = check_index("device_properties", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "metal: device_properties: struct_size %zu too small", cap);
  PUTTXT(name, g_dev.name), PUTTXT(vendor, "Apple"), PUTTXT(driver_version, g_driver);
  PUT(type, TG_DEVICE_GPU), PUT(reserved, 0);
  out->struct_size = filled;
  return TG_OK;
}

/* tinygrad 0.14.0's MetalRenderer: CStyleLanguage.code_for_op (SIN as precise::sin). */
static uint64_t mtl_alu_ops(void) {
  static const tg_alu_op ops[] = {TG_ALU_EXP2, TG_ALU_LOG2, TG_ALU_SIN, TG_ALU_SQRT, TG_ALU_RECIPROCAL, TG_ALU_NEG, TG_ALU_TRUNC,
                                  TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL, TG_ALU_CDIV, TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT,
                                  TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR, TG_ALU_XOR, TG_ALU_WHERE};
  uint64_t mask = 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) mask |= 1ull << ops[i];
  return mask;
}

/* MetalRenderer.supported_dtypes: no float64 (Metal has none), no fp8; bfloat16 from Apple6 (MSL's bfloat). */
static uint64_t mtl_dtypes(int family) {
  uint64_t m = (1ull << (TG_FLOAT64 + 1)) - 1;
  m &= ~(1ull << TG_FLOAT64);
  if (!(family >= 6 && family < 1001)) m &= ~(1ull << TG_BFLOAT16);
  return m;
}

/* MetalRenderer.tensor_cores: tinygrad 0.14.0's tc.metal (simdgroup 8x8x8 matrices, 32 threads, 2 elements each of A, B
** and C per thread) on AppleN GPUs with N >= 7; the core holds the swizzles. Not run on Apple hardware yet. */
#define TC(di, dout) {sizeof(tg_tensor_core), {8, 8, 8}, 32, {2, 2, 2}, di, dout}
static const tg_tensor_core g_tcs[] = {TC(TG_FLOAT32, TG_FLOAT32), TC(TG_FLOAT16, TG_FLOAT32), TC(TG_FLOAT16, TG_FLOAT16),
                                       TC(TG_BFLOAT16, TG_FLOAT32), TC(TG_BFLOAT16, TG_BFLOAT16)};
#undef TC

static tg_status mtl_device_caps(int index, tg_device_caps *out) {
  CHECK_PTR("device_caps", out);
  tg_status s = check_index("device_caps", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "metal: device_caps: struct_size %zu too small", cap);
  const tg_backend_device *d = &g_dev;
  /* tinygrad's Renderer defaults (MetalRenderer keeps them): global_max 0x8FFFFFFF, shared_max 32768; threads per
  ** threadgroup: 1024 on every Apple GPU Metal 3 supports (a pipeline may allow fewer: checked at launch) */
  const uint32_t gmax[3] = {0x8FFFFFFFu, 0x8FFFFFFFu, 0x8FFFFFFFu}, lmax[3] = {1024, 1024, 1024};
  PUTTXT(dialect, "metal"), PUTTXT(arch, d->arch);
  PUT(dtypes, mtl_dtypes(d->family)), PUT(alu_ops, mtl_alu_ops());
  PUT(has_local, 1), PUT(has_shared, 1), PUT(has_threads, 0), PUT(vector_width, 4);
  PUTARR(global_max, gmax), PUTARR(local_max, lmax);
  PUT(local_prod_max, 1024), PUT(alignment, 256);
  PUT(shared_max, (uint64_t)(d->shared && d->shared < 32768 ? d->shared : 32768));
  PUT(mem_total, d->mem), PUT(mem_max_alloc, d->max_buffer && d->max_buffer < d->mem ? d->max_buffer : d->mem);
  int tc = d->family >= 7 && d->family < 1001; /* arch "AppleN", N >= 7 */
  PUT(n_tensor_cores, tc ? (uint32_t)(sizeof g_tcs / sizeof g_tcs[0]) : 0), PUT(compile_concurrent, 0), PUT(tensor_cores, tc ? g_tcs : NULL);
  out->struct_size = filled;
  return TG_OK;
}

static tg_status mtl_device_open(int index, tg_backend_device **out) {
  CHECK_PTR("device_open", out);
  tg_status s = check_index("device_open", index);
  if (s != TG_OK) return s;
  pthread_mutex_lock(&g_mu);
  g_dev.refs++;
  pthread_mutex_unlock(&g_mu);
  *out = &g_dev;
  return TG_OK;
}

static void mtl_device_close(tg_backend_device *dev) {
  if (dev != &g_dev) return;
  pthread_mutex_lock(&g_mu);
  if (dev->refs > 0) dev->refs--;
  pthread_mutex_unlock(&g_mu);
}

/* ---------------- Command buffers in flight ---------------- */

/* Waits for every committed command buffer; the first failure is reported (each is released either way). */
static tg_status drain(tg_backend_device *d, const char *fn) {
  tg_status s = TG_OK;
  void *pool = rt.poolPush();
  for (int i = 0; i < d->n_inflight; i++) {
    id cb = d->inflight[i];
    MSG(void)(cb, sel("waitUntilCompleted"));
    id err = MSG(id)(cb, sel("error"));
    if (err && s == TG_OK) {
      const char *label = cstr(MSG(id)(cb, sel("label")));
      s = fail(TG_ERR_DEVICE, "metal: %s: the command buffer of %s failed: %s", fn, label ? label : "a kernel", err_text(err));
    }
    release(cb);
  }
  d->n_inflight = 0;
  rt.poolPop(pool);
  return s;
}

/* ---------------- Memory ---------------- */

static tg_status mtl_alloc(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out) {
  CHECK_DEV("alloc", dev);
  CHECK_PTR("alloc", out);
  if (dev->max_buffer && nbytes > dev->max_buffer)
    return fail(TG_ERR_OUT_OF_MEMORY, "metal: alloc of %zu bytes on %s: larger than its maxBufferLength %lu", nbytes, dev->name, dev->max_buffer);
  /* 0 bytes: Metal returns nil for an empty buffer, so 1 byte keeps it a distinct allocation */
  id buf = MSG(id, NSUInteger, NSUInteger)(dev->dev, sel("newBufferWithLength:options:"), nbytes ? nbytes : 1, MTLResourceStorageModeShared);
  if (buf == NULL)
    return fail(TG_ERR_OUT_OF_MEMORY, "metal: alloc of %zu bytes on %s (recommendedMaxWorkingSetSize %lu): newBufferWithLength returned nil",
                nbytes, dev->name, dev->mem);
  tg_backend_buffer *b = calloc(1, sizeof(*b));
  if (b == NULL) {
    release(buf);
    return fail(TG_ERR_OUT_OF_MEMORY, "metal: alloc: out of host memory");
  }
  b->dev = dev, b->buf = buf, b->size = nbytes, b->owns = 1;
  track(&b->obj, BUF_MAGIC);
  *out = b;
  return TG_OK;
}

static void mtl_free(tg_backend_device *dev, tg_backend_buffer *buf) {
  (void)dev;
  if (is_a(buf, BUF_MAGIC)) destroy(&buf->obj);
}

static tg_status check_range(const char *fn, tg_backend_device *dev, const tg_backend_buffer *b, size_t offset, size_t nbytes) {
  if (!is_a(b, BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "metal: %s: bad buffer handle %p", fn, (const void *)b);
  if (b->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "metal: %s: the buffer is on another device", fn);
  if (offset > b->size || nbytes > b->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "metal: %s out of range: offset %zu + %zu bytes > buffer size %zu", fn, offset, nbytes, b->size);
  return TG_OK;
}

/* Shared storage: the CPU's view of the buffer, once the GPU is done with it (tinygrad's _cp_mv). */
static tg_status host_ptr(const char *fn, tg_backend_device *dev, tg_backend_buffer *b, size_t offset, size_t nbytes, char **out) {
  tg_status s = check_range(fn, dev, b, offset, nbytes);
  if (s == TG_OK && nbytes) s = drain(dev, fn);
  if (s != TG_OK || nbytes == 0) return s;
  char *p = MSG(void *)(b->buf, sel("contents"));
  if (p == NULL) return fail(TG_ERR_DEVICE, "metal: %s: the buffer has no CPU contents", fn);
  *out = p + b->offset + offset;
  return TG_OK;
}

static tg_status mtl_copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  CHECK_DEV("copyin", dev);
  char *p = NULL;
  tg_status s = host_ptr("copyin", dev, dst, offset, nbytes, &p);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyin", src);
  memcpy(p, src, nbytes);
  return TG_OK;
}

static tg_status mtl_copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  CHECK_DEV("copyout", dev);
  char *p = NULL;
  tg_status s = host_ptr("copyout", dev, src, offset, nbytes, &p);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyout", dst);
  memcpy(dst, p, nbytes);
  return TG_OK;
}

static tg_status mtl_buffer_view(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes, tg_backend_buffer **out) {
  CHECK_DEV("buffer_view", dev);
  CHECK_PTR("buffer_view", out);
  tg_status s = check_range("buffer_view", dev, buf, offset, nbytes);
  if (s != TG_OK) return s;
  tg_backend_buffer *v = calloc(1, sizeof(*v));
  if (v == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "metal: buffer_view: out of host memory");
  v->dev = dev, v->buf = buf->buf, v->offset = buf->offset + offset, v->size = nbytes, v->owns = 0;
  track(&v->obj, BUF_MAGIC);
  *out = v;
  return TG_OK;
}

/* ---------------- Compile and load ---------------- */

/* A library from MSL source (+1), or NULL with *err_out set to the compiler's message (malloc'ed). */
static id build_library(tg_backend_device *d, const char *source, char **err_out) {
  void *pool = rt.poolPush();
  id src = nsstr(source), opts = MSG(id)(rt.getClass("MTLCompileOptions"), sel("alloc")), err = NULL, lib = NULL;
  if (opts) opts = MSG(id)(opts, sel("init"));
  if (src && opts) {
    MSG(void, unsigned char)(opts, sel("setFastMathEnabled:"), 0); /* tinygrad: -fno-fast-math */
    lib = MSG(id, id, id, id *)(d->dev, sel("newLibraryWithSource:options:error:"), src, opts, &err);
  }
  *err_out = lib ? NULL : strdup(src && opts ? err_text(err) : "out of memory making the source string");
  release(src), release(opts);
  rt.poolPop(pool);
  return lib;
}

/* Pure in (source, device family): the blob is the source that compiled, behind a magic line. */
static tg_status mtl_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  CHECK_DEV("compile", dev);
  CHECK_PTR("compile", source);
  CHECK_PTR("compile", out);
  if (name == NULL) name = "(unnamed)";
  *out = (tg_blob){.struct_size = sizeof(tg_blob)};
  char *msg = NULL;
  id lib = build_library(dev, source, &msg);
  if (lib == NULL) {
    tg_status s = fail(TG_ERR_COMPILE, "metal: compile %s for %s (%s): %s", name, dev->name, dev->arch, msg ? msg : "out of memory");
    free(msg);
    return s;
  }
  size_t n = strlen(source), m = sizeof(BLOB_MAGIC) - 1;
  char *blob = malloc(m + n + 1), *copy = strdup(source);
  if (blob == NULL || copy == NULL) {
    free(blob), free(copy), release(lib);
    return fail(TG_ERR_OUT_OF_MEMORY, "metal: compile %s: out of host memory", name);
  }
  memcpy(blob, BLOB_MAGIC, m), memcpy(blob + m, source, n + 1);
  pthread_mutex_lock(&g_mu);
  release(g_last.lib), free(g_last.source);
  g_last.lib = lib, g_last.source = copy;
  pthread_mutex_unlock(&g_mu);
  *out = (tg_blob){.struct_size = sizeof(tg_blob), .data = blob, .size = m + n};
  say(TG_LOG_DEBUG, "metal: compiled %s for %s (%s)", name, dev->name, dev->arch);
  return TG_OK;
}

static void mtl_blob_free(tg_blob *blob) {
  if (blob) free(blob->data), blob->data = NULL, blob->size = 0;
}

static tg_status mtl_load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  CHECK_DEV("load", dev);
  CHECK_PTR("load", blob);
  CHECK_PTR("load", name);
  CHECK_PTR("load", out);
  size_t m = sizeof(BLOB_MAGIC) - 1;
  if (size < m || memcmp(blob, BLOB_MAGIC, m) != 0)
    return fail(TG_ERR_CORRUPT, "metal: load %s: the blob is not tgc-metal's (no \"%.*s\" line; %zu bytes)", name, (int)m - 1, BLOB_MAGIC, size);
  char *source = malloc(size - m + 1);
  if (source == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "metal: load %s: out of host memory", name);
  memcpy(source, (const char *)blob + m, size - m), source[size - m] = '\0';
  id lib = NULL;
  pthread_mutex_lock(&g_mu);
  if (g_last.lib && strcmp(g_last.source, source) == 0) lib = g_last.lib, g_last.lib = NULL, free(g_last.source), g_last.source = NULL;
  pthread_mutex_unlock(&g_mu);
  char *msg = NULL;
  if (lib == NULL && (lib = build_library(dev, source, &msg)) == NULL) {
    free(source);
    tg_status s = fail(TG_ERR_LOAD, "metal: load %s: the source does not compile on %s (%s): %s", name, dev->name, dev->arch, msg ? msg : "out of memory");
    free(msg);
    return s;
  }
  free(source);
  tg_backend_program *p = calloc(1, sizeof(*p));
  if (p == NULL) {
    release(lib);
    return fail(TG_ERR_OUT_OF_MEMORY, "metal: load %s: out of host memory", name);
  }
  p->dev = dev, p->lib = lib;
  snprintf(p->name, sizeof(p->name), "%s", name);
  tg_status s = TG_OK;
  void *pool = rt.poolPush();
  id fname = nsstr(name), err = NULL;
  if (fname) p->fn = MSG(id, id)(lib, sel("newFunctionWithName:"), fname);
  release(fname);
  if (p->fn == NULL) s = fail(TG_ERR_LOAD, "metal: load: kernel '%s' not found in the library (declare it `kernel void %s(...)`)", name, name);
  else if ((p->pipeline = MSG(id, id, id *)(dev->dev, sel("newComputePipelineStateWithFunction:error:"), p->fn, &err)) == NULL)
    s = fail(TG_ERR_LOAD, "metal: load %s: newComputePipelineStateWithFunction: %s", name, err_text(err));
  if (s == TG_OK) {
    p->max_threads = MSG(NSUInteger)(p->pipeline, sel("maxTotalThreadsPerThreadgroup"));
    p->width = MSG(NSUInteger)(p->pipeline, sel("threadExecutionWidth"));
    p->static_shared = MSG(NSUInteger)(p->pipeline, sel("staticThreadgroupMemoryLength"));
  }
  rt.poolPop(pool);
  if (s != TG_OK) {
    release(p->pipeline), release(p->fn), release(p->lib), free(p);
    return s;
  }
  track(&p->obj, PROG_MAGIC);
  *out = p;
  return TG_OK;
}

static void mtl_program_free(tg_backend_device *dev, tg_backend_program *prog) {
  (void)dev;
  if (is_a(prog, PROG_MAGIC)) destroy(&prog->obj);
}

/* ---------------- Launch and synchronize ---------------- */

static tg_status check_launch(tg_backend_device *dev, const tg_backend_program *prog, const tg_launch_params *p) {
  if (!is_a(prog, PROG_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "metal: launch: bad program handle %p", (const void *)prog);
  CHECK_PTR("launch", p);
  if (p->struct_size < TG_STRUCT_SIZE(tg_launch_params, elapsed_s))
    return fail(TG_ERR_INVALID_ARGUMENT, "metal: launch: params struct_size %zu < %zu", p->struct_size, TG_STRUCT_SIZE(tg_launch_params, elapsed_s));
  if (prog->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "metal: launch %s: the program is loaded on another device", prog->name);
  if (p->n_bufs > 0 && p->bufs == NULL) return fail(TG_ERR_NULL_POINTER, "metal: launch %s: bufs is NULL with n_bufs %zu", prog->name, p->n_bufs);
  if (p->n_vals > 0 && p->vals == NULL) return fail(TG_ERR_NULL_POINTER, "metal: launch %s: vals is NULL with n_vals %zu", prog->name, p->n_vals);
  if (p->n_bufs + p->n_vals > 31) /* Metal's buffer argument table */
    return fail(TG_ERR_OUT_OF_RANGE, "metal: launch %s: %zu buffers + %zu vals > the 31 buffer arguments a Metal kernel has", prog->name, p->n_bufs, p->n_vals);
  for (size_t i = 0; i < p->n_bufs; i++) {
    if (!is_a(p->bufs[i], BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "metal: launch %s: bufs[%zu] is not a buffer handle (%p)", prog->name, i, (void *)p->bufs[i]);
    if (p->bufs[i]->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "metal: launch %s: bufs[%zu] is on another device", prog->name, i);
  }
  for (int k = 0; k < 3; k++)
    if (p->global[k] == 0 || p->local[k] == 0)
      return fail(TG_ERR_INVALID_ARGUMENT, "metal: launch %s: global (%u,%u,%u) and local (%u,%u,%u) must be >= 1", prog->name, p->global[0],
                  p->global[1], p->global[2], p->local[0], p->local[1], p->local[2]);
  uint64_t threads = (uint64_t)p->local[0] * p->local[1] * p->local[2];
  if (threads > prog->max_threads) /* tinygrad's message, with the numbers */
    return fail(TG_ERR_OUT_OF_RANGE, "metal: launch %s: local size (%u,%u,%u) bigger than %lu with exec width %lu memory length %lu", prog->name,
                p->local[0], p->local[1], p->local[2], prog->max_threads, prog->width, prog->static_shared);
  if (prog->static_shared > dev->shared)
    return fail(TG_ERR_OUT_OF_RANGE, "metal: launch %s: the kernel uses %lu bytes of threadgroup memory, %s has %lu", prog->name,
                prog->static_shared, dev->name, dev->shared);
  return TG_OK;
}

static tg_status mtl_launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params) {
  CHECK_DEV("launch", dev);
  tg_status s = check_launch(dev, prog, params);
  if (s != TG_OK) return s;
  if (dev->n_inflight == INFLIGHT_MAX && (s = drain(dev, "launch")) != TG_OK) return s;
  void *pool = rt.poolPush();
  id cb = retain(MSG(id)(dev->queue, sel("commandBuffer"))); /* +0 (autoreleased): kept until waited for */
  id enc = cb ? MSG(id)(cb, sel("computeCommandEncoder")) : NULL;
  if (enc == NULL) {
    release(cb);
    rt.poolPop(pool);
    return fail(TG_ERR_DEVICE, "metal: launch %s: no %s", prog->name, cb ? "compute command encoder" : "command buffer");
  }
  MSG(void, id)(enc, sel("setComputePipelineState:"), prog->pipeline);
  for (size_t i = 0; i < params->n_bufs; i++)
    MSG(void, id, NSUInteger, NSUInteger)(enc, sel("setBuffer:offset:atIndex:"), params->bufs[i]->buf, params->bufs[i]->offset, i);
  for (size_t i = 0; i < params->n_vals; i++) /* 8 bytes each: `constant int&` reads the low half (little endian) */
    MSG(void, const void *, NSUInteger, NSUInteger)(enc, sel("setBytes:length:atIndex:"), &params->vals[i], sizeof(int64_t), params->n_bufs + i);
  MTLSize grid = {params->global[0], params->global[1], params->global[2]}, group = {params->local[0], params->local[1], params->local[2]};
  MSG(void, MTLSize, MTLSize)(enc, sel("dispatchThreadgroups:threadsPerThreadgroup:"), grid, group);
  MSG(void)(enc, sel("endEncoding"));
  id label = nsstr(prog->name);
  if (label) MSG(void, id)(cb, sel("setLabel:"), label);
  release(label);
  MSG(void)(cb, sel("commit"));
  dev->inflight[dev->n_inflight++] = cb;
  rt.poolPop(pool);
  if (!params->wait) return TG_OK;
  retain(cb); /* drain releases the queue's reference; this one keeps the times readable */
  s = drain(dev, "launch");
  if (s == TG_OK && params->elapsed_s) *params->elapsed_s = MSG(double)(cb, sel("GPUEndTime")) - MSG(double)(cb, sel("GPUStartTime"));
  release(cb);
  return s;
}

static tg_status mtl_synchronize(tg_backend_device *dev) {
  CHECK_DEV("synchronize", dev);
  return drain(dev, "synchronize");
}

/* ---------------- Entry and shutdown ---------------- */

static void mtl_shutdown(void) {
  if (g_ndev) drain(&g_dev, "shutdown");
  while (g_objs.next != &g_objs) destroy(g_objs.next); /* whatever the host did not free */
  release(g_last.lib), free(g_last.source);
  g_last.lib = NULL, g_last.source = NULL;
  g_dev.refs = 0;
  g_host = NULL; /* the device and queue stay: the library may be entered again */
}

static tg_backend_api g_api = {
  .struct_size = sizeof(tg_backend_api), .shutdown = mtl_shutdown,
  .device_count = mtl_device_count, .device_properties = mtl_device_properties, .device_caps = mtl_device_caps,
  .device_open = mtl_device_open, .device_close = mtl_device_close,
  .alloc = mtl_alloc, .free = mtl_free, .copyin = mtl_copyin, .copyout = mtl_copyout,
  .compile = mtl_compile, .blob_free = mtl_blob_free, .load = mtl_load, .program_free = mtl_program_free,
  .launch = mtl_launch, .synchronize = mtl_synchronize, .buffer_view = mtl_buffer_view,
  .transfer = NULL, /* one device */
  .event_create = NULL, .event_record = NULL, .event_synchronize = NULL, .event_elapsed = NULL, .event_free = NULL};

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
