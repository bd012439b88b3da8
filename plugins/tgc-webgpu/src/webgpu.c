/* webgpu.c -- the WebGPU backend (tinygrad 0.14.0's runtime/ops_webgpu.py) over include/tg_backend.h.
**
** wgpu-native (the library the `wgpu` wheel ships) is dlopen'ed on first use from $TGC_WGPU_LIB (set by the Python hook),
** else by the loader's search; every entry point comes from dlsym, and the types from the webgpu.h/wgpu.h of the wheel the
** plugin was built against (WGPU_SKIP_DECLARATIONS), whose wgpu-native version must match at run time. Nothing waits with
** wgpuInstanceWaitAny (it aborts in wgpu-native 29): callbacks are AllowProcessEvents and the plugin polls.
** Kernels are WGSL (dialect "wgsl"): compile validates the text with naga and the blob is the text itself; load builds a
** compute pipeline whose entry point is the kernel's name. Launch ABI (README): @group(0) @binding(0) is a uniform f32
** holding +inf (tinygrad's INFINITY), binding 1+i is bufs[i] (storage), binding 1+n_bufs+j is vals[j] (uniform i32);
** global = workgroup counts, local must equal the entry point's @workgroup_size. One device: the adapter chosen below. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WGPU_SKIP_DECLARATIONS
#include "wgpu.h" /* includes webgpu.h */
#include "tg_backend.h"
#include "wgsl_abi.h"

#ifndef TGC_WEBGPU_VERSION
#define TGC_WEBGPU_VERSION "0.0.0"
#endif
#ifndef TGC_WEBGPU_FLAVOR
#define TGC_WEBGPU_FLAVOR TG_BACKEND_FLAVOR_RELEASE
#endif
#ifndef TGC_WGPU_NATIVE_VERSION /* the wgpu-native whose headers this was built against (CMake reads it from the wheel) */
#error "TGC_WGPU_NATIVE_VERSION is not defined: build through CMakeLists.txt"
#endif
#ifndef TGC_WGPU_PY_VERSION
#define TGC_WGPU_PY_VERSION "?"
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
  .magic = TG_BACKEND_MAGIC, .struct_size = (uint32_t)sizeof(tg_manifest), .abi_major = TG_BACKEND_ABI_MAJOR, .abi_min_minor = 0,
  .abi_max_minor = TG_BACKEND_ABI_MINOR, .name = "WEBGPU", .version = TGC_WEBGPU_VERSION, .flavor = TGC_WEBGPU_FLAVOR, .dialects = "wgsl"};

/* ---------------- wgpu-native, by dlsym ---------------- */

#define WG_FNS(X)                                                                                                                 \
  X(CreateInstance) X(InstanceRelease) X(InstanceProcessEvents) X(AdapterGetInfo) X(AdapterInfoFreeMembers) X(AdapterGetLimits)   \
  X(AdapterHasFeature) X(AdapterRequestDevice) X(AdapterRelease) X(DeviceGetQueue) X(DeviceRelease) X(DeviceCreateBuffer)          \
  X(BufferDestroy) X(BufferRelease) X(BufferMapAsync) X(BufferGetConstMappedRange) X(BufferUnmap) X(QueueWriteBuffer)              \
  X(QueueSubmit) X(QueueOnSubmittedWorkDone) X(QueueRelease) X(DeviceCreateShaderModule) X(ShaderModuleRelease)                   \
  X(DeviceCreateBindGroupLayout) X(BindGroupLayoutRelease) X(DeviceCreatePipelineLayout) X(PipelineLayoutRelease)                 \
  X(DeviceCreateComputePipeline) X(ComputePipelineRelease) X(DeviceCreateBindGroup) X(BindGroupRelease)                           \
  X(DeviceCreateCommandEncoder) X(CommandEncoderRelease) X(CommandEncoderBeginComputePass) X(ComputePassEncoderSetPipeline)       \
  X(ComputePassEncoderSetBindGroup) X(ComputePassEncoderDispatchWorkgroups) X(ComputePassEncoderEnd) X(ComputePassEncoderRelease) \
  X(CommandEncoderCopyBufferToBuffer) X(CommandEncoderFinish) X(CommandBufferRelease)

#define WG_FIELD(f) WGPUProc##f f;
static struct {
  WG_FNS(WG_FIELD)
  /* wgpu.h's native extras have no WGPUProc typedefs */
  size_t (*InstanceEnumerateAdapters)(WGPUInstance, WGPUInstanceEnumerateAdapterOptions const *, WGPUAdapter *);
  WGPUBool (*DevicePoll)(WGPUDevice, WGPUBool, WGPUSubmissionIndex const *);
  uint32_t (*GetVersion)(void);
} wg;
#define WG_SYM(f) {"wgpu" #f, offsetof(__typeof__(wg), f)},
static const struct { const char *name; size_t off; } wg_syms[] = {
  WG_FNS(WG_SYM) WG_SYM(InstanceEnumerateAdapters) WG_SYM(DevicePoll) WG_SYM(GetVersion)};

/* ---------------- State ---------------- */

enum { BUF_MAGIC = 0x46554257, PROG_MAGIC = 0x47525057 };
typedef struct wg_obj { uint32_t magic; struct wg_obj *prev, *next; } wg_obj; /* every buffer and program: freed at shutdown */

struct tg_backend_device {
  int refs;
  WGPUDevice dev;
  WGPUQueue queue;
  int lost;
  char lost_msg[1024];
  WGPUErrorType err_type; /* the first uncaptured error since begin(); 0 when none */
  char err[6144];
};
struct tg_backend_buffer { wg_obj obj; tg_backend_device *dev; WGPUBuffer buf; uint64_t offset, size; int owns; };
struct tg_backend_program {
  wg_obj obj;
  tg_backend_device *dev;
  WGPUComputePipeline pipeline;
  WGPUBindGroupLayout layout;
  wgsl_abi abi;
  char name[64];
};

typedef struct waiter { volatile int done; int status; char msg[1024]; void *ptr; } waiter; /* one async callback's result */

static const tg_backend_host *g_host;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards the object list and the device's refcount */
static wg_obj g_objs = {0, &g_objs, &g_objs};
static char g_why[1024], g_lib[768], g_native[32], g_name[TG_TEXT_MAX], g_vendor[64], g_driver[64], g_arch[32];
static int g_ndev, g_f16, g_type;
static WGPUInstance g_inst;
static WGPUAdapter g_adapter;
static WGPULimits g_lim;
static tg_backend_device g_dev;

/* ---------------- Errors (the one funnel to the host) ---------------- */

/* The one funnel to the host (tg_backend.h's helper). */
#define fail(...) tg_backend_fail(g_host, __VA_ARGS__)

static WGPUStringView sv(const char *s) { return (WGPUStringView){s, strlen(s)}; }
static void sv_copy(char *dst, size_t n, WGPUStringView v) {
  size_t len = v.data == NULL ? 0 : v.length == WGPU_STRLEN ? strlen(v.data) : v.length;
  snprintf(dst, n, "%.*s", (int)(len < n ? len : n - 1), v.data ? v.data : "");
  for (len = strlen(dst); len > 0 && (dst[len - 1] == ' ' || dst[len - 1] == '\n'); len--) dst[len - 1] = '\0'; /* naga ends in blank lines */
}

/* wgpu reports errors through the device's uncaptured-error callback, synchronously inside the failing call: begin() clears
** the slot, captured() turns what arrived into a status (out of memory stays out of memory, validation -> `code`). */
static void on_error(WGPUDevice const *d, WGPUErrorType type, WGPUStringView msg, void *u1, void *u2) {
  (void)d, (void)u2;
  tg_backend_device *dev = u1;
  if (dev->err_type) return; /* keep the first: the later ones follow from it */
  dev->err_type = type;
  sv_copy(dev->err, sizeof(dev->err), msg);
}

static void on_lost(WGPUDevice const *d, WGPUDeviceLostReason reason, WGPUStringView msg, void *u1, void *u2) {
  (void)d, (void)u2;
  tg_backend_device *dev = u1;
  if (reason == WGPUDeviceLostReason_Destroyed || reason == WGPUDeviceLostReason_CallbackCancelled) return; /* our own release */
  sv_copy(dev->lost_msg, sizeof(dev->lost_msg), msg);
  dev->lost = 1;
}

static void begin(tg_backend_device *d) { d->err_type = 0, d->err[0] = '\0'; }

__attribute__((format(printf, 3, 4))) static tg_status captured(tg_backend_device *d, tg_status code, const char *fmt, ...) {
  if (!d->err_type) return TG_OK;
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  tg_status s = d->err_type == WGPUErrorType_OutOfMemory ? TG_ERR_OUT_OF_MEMORY : d->err_type == WGPUErrorType_Validation ? code : TG_ERR_DEVICE;
  return fail(s, "webgpu: %s: %s", what, d->err);
}

#define CHECK_PTR(fn, p) \
  do { if ((p) == NULL) return fail(TG_ERR_NULL_POINTER, "webgpu: " fn ": " #p " is NULL"); } while (0)
#define ENTER(fn, dev) \
  do { tg_status s_ = enter(fn, dev); if (s_ != TG_OK) return s_; } while (0)

static int is_a(const void *p, uint32_t magic) { return p != NULL && ((const wg_obj *)p)->magic == magic; }

static tg_status enter(const char *fn, tg_backend_device *dev) {
  if (dev != &g_dev || dev->refs <= 0) return fail(TG_ERR_INVALID_HANDLE, "webgpu: %s: bad device handle %p", fn, (void *)dev);
  if (dev->lost) return fail(TG_ERR_DEVICE, "webgpu: %s: the device (%s) was lost: %s", fn, g_name, dev->lost_msg);
  return TG_OK;
}

static void track(wg_obj *o, uint32_t magic) {
  pthread_mutex_lock(&g_mu);
  o->magic = magic, o->prev = g_objs.prev, o->next = &g_objs;
  g_objs.prev->next = o, g_objs.prev = o;
  pthread_mutex_unlock(&g_mu);
}

static void destroy(wg_obj *o) {
  pthread_mutex_lock(&g_mu);
  o->prev->next = o->next, o->next->prev = o->prev;
  uint32_t magic = o->magic;
  o->magic = 0;
  pthread_mutex_unlock(&g_mu);
  WGPUBuffer b = magic == BUF_MAGIC && ((tg_backend_buffer *)o)->owns ? ((tg_backend_buffer *)o)->buf : NULL;
  if (b) wg.BufferDestroy(b), wg.BufferRelease(b);
  else if (magic == PROG_MAGIC) {
    tg_backend_program *p = (tg_backend_program *)o;
    wg.ComputePipelineRelease(p->pipeline), wg.BindGroupLayoutRelease(p->layout), wgsl_abi_free(&p->abi);
  }
  free(o);
}

/* Polls until a callback sets w->done. DevicePoll(wait) returns once the queue is idle; a callback that has still not come
** after many idle polls never will. On failure the waiter is leaked on purpose: a late callback may still write to it. */
static tg_status wait_for(tg_backend_device *d, waiter *w, const char *what) {
  for (int idle = 0; !w->done;) {
    WGPUBool empty = d ? wg.DevicePoll(d->dev, 1, NULL) : 1;
    wg.InstanceProcessEvents(g_inst);
    if (w->done) break;
    if (d && d->lost) return fail(TG_ERR_DEVICE, "webgpu: %s: the device (%s) was lost: %s", what, g_name, d->lost_msg);
    if (empty && ++idle > 20000) return fail(TG_ERR_TIMEOUT, "webgpu: %s: wgpu-native never called back", what);
    if (!d || idle > 100) usleep(1000);
  }
  return TG_OK;
}

/* ---------------- Runtime, adapter, device ---------------- */

/* The async callbacks: record status (and the device) in the waiter passed as userdata1. */
static void record(waiter *w, int st, void *ptr, WGPUStringView msg) {
  sv_copy(w->msg, sizeof(w->msg), msg), w->status = st, w->ptr = ptr, w->done = 1;
}
static void on_device(WGPURequestDeviceStatus st, WGPUDevice dev, WGPUStringView msg, void *u1, void *u2) { (void)u2, record(u1, (int)st, dev, msg); }
static void on_map(WGPUMapAsyncStatus st, WGPUStringView msg, void *u1, void *u2) { (void)u2, record(u1, (int)st, NULL, msg); }
static void on_done(WGPUQueueWorkDoneStatus st, WGPUStringView msg, void *u1, void *u2) { (void)u2, record(u1, (int)st, NULL, msg); }

static const char *backend_name(WGPUBackendType b) {
  static const char *const n[] = {"?", "null", "WebGPU", "D3D11", "D3D12", "Metal", "Vulkan", "OpenGL", "OpenGLES"};
  return (unsigned)b < sizeof(n) / sizeof(n[0]) ? n[b] : "?";
}

/* The adapter to use: Vulkan before anything else, then discrete GPU > integrated GPU > CPU (lavapipe) > other. */
static int adapter_score(WGPUAdapter a) {
  WGPUAdapterInfo info = WGPU_ADAPTER_INFO_INIT;
  if (wg.AdapterGetInfo(a, &info) != WGPUStatus_Success) return -1;
  int s = (info.backendType == WGPUBackendType_Vulkan) * 8 + (info.adapterType == WGPUAdapterType_DiscreteGPU) * 4 +
          (info.adapterType == WGPUAdapterType_IntegratedGPU) * 3 + (info.adapterType == WGPUAdapterType_CPU) * 2;
  wg.AdapterInfoFreeMembers(info);
  return s;
}

/* Instance and adapter, restricted to `backends`; 0 when there is no adapter. Vulkan alone is tried first, so GL/EGL is
** probed only where Vulkan has no device. (Enumerating lavapipe without $XDG_RUNTIME_DIR makes libwayland print a complaint
** on stderr: wgpu-native's, not the plugin's; README.) */
static int pick_adapter(WGPUInstanceBackend backends) {
  WGPUInstanceExtras ex;
  memset(&ex, 0, sizeof(ex));
  ex.chain.sType = (WGPUSType)WGPUSType_InstanceExtras, ex.backends = backends;
  WGPUInstanceDescriptor desc = WGPU_INSTANCE_DESCRIPTOR_INIT;
  desc.nextInChain = &ex.chain;
  if ((g_inst = wg.CreateInstance(&desc)) == NULL) return 0;
  WGPUInstanceEnumerateAdapterOptions opt = {NULL, backends};
  size_t n = wg.InstanceEnumerateAdapters(g_inst, &opt, NULL);
  WGPUAdapter *all = n ? calloc(n, sizeof(*all)) : NULL;
  if (all) n = wg.InstanceEnumerateAdapters(g_inst, &opt, all);
  int best = -1, best_score = -1;
  for (size_t i = 0; all && i < n; i++) {
    int s = adapter_score(all[i]);
    if (s > best_score) best = (int)i, best_score = s;
  }
  for (size_t i = 0; all && i < n; i++)
    if ((int)i != best) wg.AdapterRelease(all[i]);
  g_adapter = best >= 0 ? all[best] : NULL;
  free(all);
  if (g_adapter == NULL) wg.InstanceRelease(g_inst), g_inst = NULL;
  return g_adapter != NULL;
}

static void describe_adapter(void) {
  WGPUAdapterInfo info = WGPU_ADAPTER_INFO_INIT;
  char desc[64] = "";
  wg.AdapterGetInfo(g_adapter, &info);
  sv_copy(g_name, sizeof(g_name), info.device);
  sv_copy(g_vendor, sizeof(g_vendor), info.vendor);
  sv_copy(desc, sizeof(desc), info.description);
  static const struct { uint32_t id; const char *name; } vendors[] = {
    {0x10de, "NVIDIA"}, {0x1002, "AMD"}, {0x8086, "Intel"}, {0x10005, "Mesa"}, {0x13b5, "ARM"}, {0x5143, "Qualcomm"}, {0x106b, "Apple"}};
  for (size_t i = 0; !g_vendor[0] && i < sizeof(vendors) / sizeof(vendors[0]); i++)
    if (vendors[i].id == info.vendorID) snprintf(g_vendor, sizeof(g_vendor), "%s", vendors[i].name);
  if (!g_name[0]) snprintf(g_name, sizeof(g_name), "WebGPU adapter %04x:%04x", info.vendorID, info.deviceID);
  if (snprintf(g_driver, sizeof(g_driver), "wgpu-native %s, %s%s%s", g_native, backend_name(info.backendType), desc[0] ? " " : "", desc) < 0)
    g_driver[0] = '\0'; /* a long description is cut at tg_device_properties' 64 bytes */
  g_type = info.adapterType == WGPUAdapterType_CPU ? TG_DEVICE_CPU
           : info.adapterType == WGPUAdapterType_DiscreteGPU || info.adapterType == WGPUAdapterType_IntegratedGPU ? TG_DEVICE_GPU
                                                                                                                 : TG_DEVICE_OTHER;
  g_f16 = wg.AdapterHasFeature(g_adapter, WGPUFeatureName_ShaderF16) != 0;
  snprintf(g_arch, sizeof(g_arch), "%s%s", backend_name(info.backendType), g_f16 ? ",shader-f16" : ""); /* tinygrad: "shader-f16" in arch */
  for (char *p = g_arch; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
  wg.AdapterInfoFreeMembers(info);
}

static void *open_library(void) {
  const char *path = getenv("TGC_WGPU_LIB");
  void *h = NULL;
  if (path && *path) {
    snprintf(g_lib, sizeof(g_lib), "%s", path);
    if (access(path, F_OK) != 0) snprintf(g_why, sizeof(g_why), "wgpu-native not found (pip install wgpu)");
    else if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
      snprintf(g_why, sizeof(g_why), "wgpu-native at %s could not be loaded: %s", path, dlerror());
    return h;
  }
  static const char *const names[] = {"libwgpu_native-release.so", "libwgpu_native.so"};
  for (size_t i = 0; h == NULL && i < sizeof(names) / sizeof(names[0]); i++)
    if ((h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL)) != NULL) snprintf(g_lib, sizeof(g_lib), "%s", names[i]);
  if (h == NULL) snprintf(g_why, sizeof(g_why), "wgpu-native not found (pip install wgpu)");
  return h;
}

static void load_runtime(void) {
  void *h = open_library();
  if (h == NULL) return;
  for (size_t i = 0; i < sizeof(wg_syms) / sizeof(wg_syms[0]); i++) {
    void *p = dlsym(h, wg_syms[i].name);
    if (p == NULL) {
      snprintf(g_why, sizeof(g_why), "wgpu-native at %s lacks %s: pip install 'wgpu==%s' (wgpu-native %s)", g_lib, wg_syms[i].name,
               TGC_WGPU_PY_VERSION, TGC_WGPU_NATIVE_VERSION);
      memset(&wg, 0, sizeof(wg));
      return;
    }
    memcpy((char *)&wg + wg_syms[i].off, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  }
  uint32_t v = wg.GetVersion();
  snprintf(g_native, sizeof(g_native), "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  unsigned bmaj = 0, bmin = 0; /* webgpu.h changes between wgpu-native majors and minors: the headers must match the library */
  if (sscanf(TGC_WGPU_NATIVE_VERSION, "%u.%u", &bmaj, &bmin) != 2 || bmaj != v >> 24 || bmin != ((v >> 16) & 0xff)) {
    snprintf(g_why, sizeof(g_why), "wgpu-native %s at %s, but this plugin was built against wgpu-native %s's webgpu.h: pip install "
             "'wgpu==%s', or rebuild tgc-webgpu against the installed wgpu", g_native, g_lib, TGC_WGPU_NATIVE_VERSION, TGC_WGPU_PY_VERSION);
    return;
  }
  if (!pick_adapter(WGPUInstanceBackend_Vulkan) && !pick_adapter(WGPUInstanceBackend_All)) {
    snprintf(g_why, sizeof(g_why), "no WebGPU adapter (wgpu-native %s found no Vulkan or GL device; on a machine without a GPU, "
             "install Mesa's lavapipe: apt-get install mesa-vulkan-drivers)", g_native);
    return;
  }
  g_lim = WGPU_LIMITS_INIT;
  if (wg.AdapterGetLimits(g_adapter, &g_lim) != WGPUStatus_Success) {
    snprintf(g_why, sizeof(g_why), "wgpuAdapterGetLimits failed (wgpu-native %s)", g_native);
    return;
  }
  describe_adapter();
  g_ndev = 1;
}

static tg_status check_index(const char *fn, int index) {
  pthread_once(&g_once, load_runtime);
  if (index != 0 || g_ndev == 0)
    return fail(g_ndev ? TG_ERR_OUT_OF_RANGE : TG_ERR_UNAVAILABLE, "webgpu: %s: device index %d out of range (%d devices%s%s)", fn, index,
                g_ndev, g_ndev ? "" : ": ", g_why);
  return TG_OK;
}

static tg_status webgpu_device_count(int *out_count) {
  CHECK_PTR("device_count", out_count);
  pthread_once(&g_once, load_runtime);
  *out_count = g_ndev;
  return g_ndev > 0 ? TG_OK : fail(TG_ERR_UNAVAILABLE, "%s", g_why);
}

#define FIELD_END(f) TG_STRUCT_SIZE(__typeof__(*out), f)
#define PUT_AS(f, write) (void)(cap >= FIELD_END(f) && ((write), filled = FIELD_END(f)))
#define PUT(f, v) PUT_AS(f, out->f = (v))
#define PUTARR(f, a) PUT_AS(f, memcpy(out->f, (a), sizeof(out->f)))
#define PUTTXT(f, s) PUT_AS(f, snprintf(out->f, sizeof(out->f), "%s", (s)))

static tg_status webgpu_device_properties(int index, tg_device_properties *out) {
  CHECK_PTR("device_properties", out);
  tg_status s = check_index("device_properties", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: device_properties: struct_size %zu too small", cap);
  PUTTXT(name, g_name), PUTTXT(vendor, g_vendor), PUTTXT(driver_version, g_driver), PUT(type, (uint32_t)g_type), PUT(reserved, 0);
  out->struct_size = filled;
  return TG_OK;
}

/* tinygrad 0.14.0's WGSLRenderer: CStyleLanguage.code_for_op with WHERE as select(). */
static uint64_t wgsl_alu_ops(void) {
  static const tg_alu_op ops[] = {TG_ALU_EXP2, TG_ALU_LOG2, TG_ALU_SIN, TG_ALU_SQRT, TG_ALU_RECIPROCAL, TG_ALU_NEG, TG_ALU_TRUNC,
                                  TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL, TG_ALU_CDIV, TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT,
                                  TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR, TG_ALU_XOR, TG_ALU_WHERE};
  uint64_t mask = 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) mask |= 1ull << ops[i];
  return mask;
}

/* The largest buffer a kernel can bind whole, in whole words (NVIDIA's Vulkan reports a binding limit of 2**32 - 1). */
static uint64_t mem_max_alloc(void) {
  return (g_lim.maxBufferSize < g_lim.maxStorageBufferBindingSize ? g_lim.maxBufferSize : g_lim.maxStorageBufferBindingSize) & ~(uint64_t)3;
}

static tg_status webgpu_device_caps(int index, tg_device_caps *out) {
  CHECK_PTR("device_caps", out);
  tg_status s = check_index("device_caps", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: device_caps: struct_size %zu too small", cap);
  /* WGSLRenderer.supported_dtypes: 8/16-bit integers and bool are packed into u32 words by the renderer; half with shader-f16;
  ** WGSL has no 64-bit types, so no int64/float64 (the core refuses them before launch). */
  uint64_t dt = 1ull << TG_BOOL | 1ull << TG_INT8 | 1ull << TG_UINT8 | 1ull << TG_INT16 | 1ull << TG_UINT16 | 1ull << TG_INT32 |
                1ull << TG_UINT32 | 1ull << TG_FLOAT32 | (g_f16 ? 1ull << TG_FLOAT16 : 0);
  uint32_t gmax = g_lim.maxComputeWorkgroupsPerDimension, lmax[3] = {g_lim.maxComputeWorkgroupSizeX, g_lim.maxComputeWorkgroupSizeY,
                                                                     g_lim.maxComputeWorkgroupSizeZ};
  for (int k = 0; k < 3; k++) lmax[k] = lmax[k] < gmax ? lmax[k] : gmax;
  const uint32_t gmaxv[3] = {gmax, gmax, gmax};
  PUTTXT(dialect, "wgsl"), PUTTXT(arch, g_arch), PUT(dtypes, dt), PUT(alu_ops, wgsl_alu_ops());
  PUT(has_local, 1), PUT(has_shared, 1), PUT(has_threads, 0), PUT(vector_width, 1); /* WGSLRenderer.supports_float4 = False */
  PUTARR(global_max, gmaxv), PUTARR(local_max, lmax), PUT(local_prod_max, g_lim.maxComputeInvocationsPerWorkgroup);
  PUT(alignment, g_lim.minStorageBufferOffsetAlignment), PUT(shared_max, g_lim.maxComputeWorkgroupStorageSize);
  PUT(mem_total, 0), PUT(mem_max_alloc, mem_max_alloc()); /* WebGPU does not tell the memory size */
  PUT(n_tensor_cores, 0), PUT(compile_concurrent, 0), PUT(tensor_cores, NULL);
  out->struct_size = filled;
  return TG_OK;
}

static tg_status open_device(tg_backend_device *d) {
  WGPUFeatureName feats[1] = {WGPUFeatureName_ShaderF16};
  WGPULimits lim = g_lim; /* everything the adapter offers, not WebGPU's defaults (8 storage buffers, 256 invocations) */
  lim.nextInChain = NULL;
  WGPUDeviceDescriptor dd = WGPU_DEVICE_DESCRIPTOR_INIT;
  dd.label = sv("tgc"), dd.requiredFeatureCount = g_f16 ? 1 : 0, dd.requiredFeatures = feats, dd.requiredLimits = &lim;
  dd.deviceLostCallbackInfo.mode = WGPUCallbackMode_AllowSpontaneous;
  dd.deviceLostCallbackInfo.callback = on_lost, dd.deviceLostCallbackInfo.userdata1 = d;
  dd.uncapturedErrorCallbackInfo.callback = on_error, dd.uncapturedErrorCallbackInfo.userdata1 = d;
  waiter *w = calloc(1, sizeof(*w));
  if (w == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: device_open: out of host memory");
  WGPURequestDeviceCallbackInfo cb = WGPU_REQUEST_DEVICE_CALLBACK_INFO_INIT;
  cb.mode = WGPUCallbackMode_AllowProcessEvents, cb.callback = on_device, cb.userdata1 = w;
  wg.AdapterRequestDevice(g_adapter, &dd, cb);
  tg_status s = wait_for(NULL, w, "device_open: wgpuAdapterRequestDevice");
  if (s != TG_OK) return s;
  if (w->status != WGPURequestDeviceStatus_Success || w->ptr == NULL)
    s = fail(TG_ERR_DEVICE, "webgpu: device_open: wgpuAdapterRequestDevice on %s: %s", g_name, w->msg[0] ? w->msg : "failed");
  else d->dev = w->ptr, d->queue = wg.DeviceGetQueue(d->dev), d->lost = 0;
  free(w);
  return s;
}

static tg_status webgpu_device_open(int index, tg_backend_device **out) {
  CHECK_PTR("device_open", out);
  tg_status s = check_index("device_open", index);
  if (s != TG_OK) return s;
  pthread_mutex_lock(&g_mu);
  if (g_dev.refs == 0) s = open_device(&g_dev);
  if (s == TG_OK) g_dev.refs++;
  pthread_mutex_unlock(&g_mu);
  if (s == TG_OK) *out = &g_dev;
  return s;
}

static void close_device(tg_backend_device *d) {
  wg.QueueRelease(d->queue), wg.DeviceRelease(d->dev);
  d->queue = NULL, d->dev = NULL, d->refs = 0;
}

static void webgpu_device_close(tg_backend_device *dev) {
  if (dev != &g_dev) return;
  pthread_mutex_lock(&g_mu);
  if (dev->refs > 0 && --dev->refs == 0) close_device(dev);
  pthread_mutex_unlock(&g_mu);
}

/* ---------------- Memory ---------------- */

static uint64_t round4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

static WGPUBuffer new_buffer(tg_backend_device *d, uint64_t size, WGPUBufferUsage usage) {
  WGPUBufferDescriptor bd = WGPU_BUFFER_DESCRIPTOR_INIT;
  bd.usage = usage, bd.size = size;
  return wg.DeviceCreateBuffer(d->dev, &bd);
}

static void drop_buffer(WGPUBuffer b) {
  if (b) wg.BufferDestroy(b), wg.BufferRelease(b);
}

static tg_status webgpu_alloc(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out) {
  ENTER("alloc", dev);
  CHECK_PTR("alloc", out);
  if (nbytes > mem_max_alloc())
    return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: alloc of %zu bytes exceeds %s's largest storage buffer of %llu bytes (min of maxBufferSize "
                "%llu and maxStorageBufferBindingSize %llu)", nbytes, g_name, (unsigned long long)mem_max_alloc(),
                (unsigned long long)g_lim.maxBufferSize, (unsigned long long)g_lim.maxStorageBufferBindingSize);
  tg_backend_buffer *b = calloc(1, sizeof(*b));
  if (b == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: alloc: out of host memory");
  begin(dev);
  /* sizes are multiples of 4 in WebGPU; 0 bytes is still a distinct buffer */
  b->buf = new_buffer(dev, nbytes ? round4(nbytes) : 4, WGPUBufferUsage_Storage | WGPUBufferUsage_CopySrc | WGPUBufferUsage_CopyDst);
  tg_status s = captured(dev, TG_ERR_OUT_OF_MEMORY, "alloc of %zu bytes on %s: wgpuDeviceCreateBuffer", nbytes, g_name);
  if (s == TG_OK && b->buf == NULL) s = fail(TG_ERR_DEVICE, "webgpu: alloc of %zu bytes: wgpuDeviceCreateBuffer returned NULL", nbytes);
  if (s != TG_OK) return drop_buffer(b->buf), free(b), s;
  b->dev = dev, b->size = nbytes, b->owns = 1;
  track(&b->obj, BUF_MAGIC);
  *out = b;
  return TG_OK;
}

static void webgpu_free(tg_backend_device *dev, tg_backend_buffer *buf) {
  if (!is_a(buf, BUF_MAGIC)) return;
  tg_backend_device *d = buf->dev == dev ? dev : NULL;
  destroy(&buf->obj);
  /* wgpu-native frees a destroyed buffer's memory, and the staging memory of writes still queued for it, only when the
  ** device is maintained: flush the pending writes with an empty submit and let a non-blocking poll reclaim them */
  if (d && !d->lost) wg.QueueSubmit(d->queue, 0, NULL), wg.DevicePoll(d->dev, 0, NULL);
}

static tg_status check_range(const char *fn, tg_backend_device *dev, const tg_backend_buffer *b, size_t offset, size_t nbytes) {
  if (!is_a(b, BUF_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "webgpu: %s: bad buffer handle %p", fn, (const void *)b);
  if (b->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: %s: the buffer belongs to another device", fn);
  if (offset > b->size || nbytes > b->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "webgpu: %s out of range: offset %zu + %zu bytes > buffer size %llu", fn, offset, nbytes,
                (unsigned long long)b->size);
  return TG_OK;
}

static void submit_copy(tg_backend_device *d, WGPUBuffer src, uint64_t src_off, WGPUBuffer dst, uint64_t dst_off, uint64_t n) {
  WGPUCommandEncoderDescriptor ed = WGPU_COMMAND_ENCODER_DESCRIPTOR_INIT;
  WGPUCommandBufferDescriptor cd = WGPU_COMMAND_BUFFER_DESCRIPTOR_INIT;
  WGPUCommandEncoder enc = wg.DeviceCreateCommandEncoder(d->dev, &ed);
  wg.CommandEncoderCopyBufferToBuffer(enc, src, src_off, dst, dst_off, n);
  WGPUCommandBuffer cmd = wg.CommandEncoderFinish(enc, &cd);
  wg.QueueSubmit(d->queue, 1, &cmd);
  wg.CommandBufferRelease(cmd), wg.CommandEncoderRelease(enc);
}

/* Bytes [a0, a0 + n) of a buffer (a0 and n multiples of 4), after the queued work: a MAP_READ staging copy. */
static tg_status read_words(tg_backend_device *d, WGPUBuffer src, uint64_t a0, uint64_t n, void *dst, size_t skip, size_t len) {
  begin(d);
  WGPUBuffer stage = new_buffer(d, n, WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst);
  submit_copy(d, src, a0, stage, 0, n);
  tg_status s = captured(d, TG_ERR_INVALID_ARGUMENT, "copyout of %llu bytes at %llu", (unsigned long long)n, (unsigned long long)a0);
  waiter *w = s == TG_OK ? calloc(1, sizeof(*w)) : NULL;
  if (s == TG_OK && w == NULL) s = fail(TG_ERR_OUT_OF_MEMORY, "webgpu: copyout: out of host memory");
  if (s != TG_OK) return drop_buffer(stage), s;
  WGPUBufferMapCallbackInfo cb = WGPU_BUFFER_MAP_CALLBACK_INFO_INIT;
  cb.mode = WGPUCallbackMode_AllowProcessEvents, cb.callback = on_map, cb.userdata1 = w;
  wg.BufferMapAsync(stage, WGPUMapMode_Read, 0, n, cb);
  if ((s = wait_for(d, w, "copyout: wgpuBufferMapAsync")) != TG_OK) return s; /* stage and w leak: the map may still complete */
  if (w->status != WGPUMapAsyncStatus_Success) s = fail(TG_ERR_DEVICE, "webgpu: copyout: wgpuBufferMapAsync: %s", w->msg);
  const void *p = s == TG_OK ? wg.BufferGetConstMappedRange(stage, 0, n) : NULL;
  if (s == TG_OK && p == NULL) s = fail(TG_ERR_DEVICE, "webgpu: copyout: wgpuBufferGetConstMappedRange returned NULL");
  if (p) memcpy(dst, (const char *)p + skip, len), wg.BufferUnmap(stage);
  drop_buffer(stage), free(w);
  return s;
}

static tg_status webgpu_copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  ENTER("copyout", dev);
  tg_status s = check_range("copyout", dev, src, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyout", dst);
  uint64_t at = src->offset + offset, a0 = at & ~(uint64_t)3; /* copies move whole 4-byte words */
  return read_words(dev, src->buf, a0, round4(at + nbytes) - a0, dst, (size_t)(at - a0), nbytes);
}

/* wgpuQueueWriteBuffer takes whole 4-byte words: a range that starts or ends inside a word is widened, and the bytes of
** those edge words outside the range are read back first (read-modify-write). */
static tg_status webgpu_copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  ENTER("copyin", dev);
  tg_status s = check_range("copyin", dev, dst, offset, nbytes);
  if (s != TG_OK || nbytes == 0) return s;
  CHECK_PTR("copyin", src);
  uint64_t at = dst->offset + offset, a0 = at & ~(uint64_t)3, a1 = round4(at + nbytes);
  unsigned char *tmp = NULL;
  if (a0 != at || a1 != at + nbytes) {
    if ((tmp = malloc(a1 - a0)) == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: copyin: out of host memory");
    if (a0 != at) s = read_words(dev, dst->buf, a0, 4, tmp, 0, 4);
    if (s == TG_OK && a1 != at + nbytes && (a1 - 4 != a0 || a0 == at)) s = read_words(dev, dst->buf, a1 - 4, 4, tmp + (a1 - 4 - a0), 0, 4);
    if (s != TG_OK) return free(tmp), s;
    memcpy(tmp + (at - a0), src, nbytes);
  }
  begin(dev);
  wg.QueueWriteBuffer(dev->queue, dst->buf, a0, tmp ? tmp : src, a1 - a0);
  free(tmp);
  return captured(dev, TG_ERR_INVALID_ARGUMENT, "copyin of %zu bytes at offset %zu: wgpuQueueWriteBuffer", nbytes, offset);
}

static tg_status webgpu_buffer_view(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes, tg_backend_buffer **out) {
  ENTER("buffer_view", dev);
  CHECK_PTR("buffer_view", out);
  tg_status s = check_range("buffer_view", dev, buf, offset, nbytes);
  if (s != TG_OK) return s;
  uint64_t at = buf->offset + offset;
  if (at % g_lim.minStorageBufferOffsetAlignment)
    return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: buffer_view at byte %llu: a storage binding's offset must be a multiple of "
                "minStorageBufferOffsetAlignment %u on %s", (unsigned long long)at, g_lim.minStorageBufferOffsetAlignment, g_name);
  tg_backend_buffer *v = calloc(1, sizeof(*v));
  if (v == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: buffer_view: out of host memory");
  v->dev = dev, v->buf = buf->buf, v->offset = at, v->size = nbytes, v->owns = 0;
  track(&v->obj, BUF_MAGIC);
  *out = v;
  return TG_OK;
}

/* ---------------- Compile and load ---------------- */

static WGPUShaderModule shader_module(tg_backend_device *d, const char *src, const char *name) {
  WGPUShaderSourceWGSL wgsl = WGPU_SHADER_SOURCE_WGSL_INIT;
  wgsl.code = sv(src);
  WGPUShaderModuleDescriptor md = WGPU_SHADER_MODULE_DESCRIPTOR_INIT;
  md.nextInChain = &wgsl.chain, md.label = sv(name);
  return wg.DeviceCreateShaderModule(d->dev, &md);
}

static tg_status scan(const char *fn, const char *src, const char *name, wgsl_abi *abi) {
  char err[512];
  if (wgsl_abi_scan(src, name, abi, err, sizeof(err)) != 0)
    return fail(strcmp(err, "out of host memory") ? TG_ERR_COMPILE : TG_ERR_OUT_OF_MEMORY, "webgpu: %s %s: %s", fn, name, err);
  if (abi->has_entry) return TG_OK;
  wgsl_abi_free(abi);
  return fail(TG_ERR_LOAD, "webgpu: %s: entry point '%s' not found: the kernel must be `@compute @workgroup_size(...) fn %s(...)`", fn,
              name, name);
}

/* compile = validation: the ABI scan, then naga parses and validates the WGSL while the device builds a shader module. The
** blob is the source text with its NUL (the host may cache it; load() validates again). */
static tg_status webgpu_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  ENTER("compile", dev);
  CHECK_PTR("compile", source);
  CHECK_PTR("compile", name);
  CHECK_PTR("compile", out);
  *out = (tg_blob){.struct_size = sizeof(tg_blob)};
  wgsl_abi abi;
  tg_status s = scan("compile", source, name, &abi);
  if (s != TG_OK) return s;
  wgsl_abi_free(&abi);
  begin(dev);
  WGPUShaderModule m = shader_module(dev, source, name);
  s = captured(dev, TG_ERR_COMPILE, "compile %s", name);
  if (m) wg.ShaderModuleRelease(m);
  if (s != TG_OK) return s;
  size_t n = strlen(source) + 1;
  if ((out->data = malloc(n)) == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: compile %s: out of host memory", name);
  memcpy(out->data, source, n), out->size = n;
  return TG_OK;
}

static void webgpu_blob_free(tg_blob *blob) {
  if (blob) free(blob->data), blob->data = NULL, blob->size = 0;
}

static tg_status make_pipeline(tg_backend_device *d, tg_backend_program *p, const char *src) {
  size_t n = p->abi.n;
  WGPUBindGroupLayoutEntry *e = calloc(n ? n : 1, sizeof(*e));
  if (e == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: load %s: out of host memory", p->name);
  for (size_t i = 0; i < n; i++) {
    e[i] = WGPU_BIND_GROUP_LAYOUT_ENTRY_INIT;
    e[i].binding = p->abi.bindings[i].binding, e[i].visibility = WGPUShaderStage_Compute;
    e[i].buffer.type = p->abi.bindings[i].kind == WGSL_UNIFORM      ? WGPUBufferBindingType_Uniform
                       : p->abi.bindings[i].kind == WGSL_STORAGE_RW ? WGPUBufferBindingType_Storage
                                                                    : WGPUBufferBindingType_ReadOnlyStorage;
  }
  WGPUBindGroupLayoutDescriptor bd = WGPU_BIND_GROUP_LAYOUT_DESCRIPTOR_INIT;
  bd.entryCount = n, bd.entries = e;
  begin(d);
  WGPUShaderModule m = shader_module(d, src, p->name);
  tg_status s = captured(d, TG_ERR_COMPILE, "load %s: wgpuDeviceCreateShaderModule", p->name);
  if (s == TG_OK) p->layout = wg.DeviceCreateBindGroupLayout(d->dev, &bd);
  if (s == TG_OK) s = captured(d, TG_ERR_LOAD, "load %s: wgpuDeviceCreateBindGroupLayout", p->name);
  WGPUPipelineLayout pl = NULL;
  if (s == TG_OK) {
    WGPUPipelineLayoutDescriptor pd = WGPU_PIPELINE_LAYOUT_DESCRIPTOR_INIT;
    pd.bindGroupLayoutCount = 1, pd.bindGroupLayouts = &p->layout;
    pl = wg.DeviceCreatePipelineLayout(d->dev, &pd);
    s = captured(d, TG_ERR_LOAD, "load %s: wgpuDeviceCreatePipelineLayout", p->name);
  }
  if (s == TG_OK) {
    WGPUComputePipelineDescriptor cd = WGPU_COMPUTE_PIPELINE_DESCRIPTOR_INIT;
    cd.label = sv(p->name), cd.layout = pl, cd.compute.module = m, cd.compute.entryPoint = sv(p->name);
    p->pipeline = wg.DeviceCreateComputePipeline(d->dev, &cd);
    s = captured(d, TG_ERR_LOAD, "load %s: wgpuDeviceCreateComputePipeline", p->name);
  }
  if (pl) wg.PipelineLayoutRelease(pl);
  if (m) wg.ShaderModuleRelease(m);
  free(e);
  return s;
}

static tg_status webgpu_load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  ENTER("load", dev);
  CHECK_PTR("load", blob);
  CHECK_PTR("load", name);
  CHECK_PTR("load", out);
  if (size == 0) return fail(TG_ERR_CORRUPT, "webgpu: load %s: the blob is empty", name);
  if (memchr(blob, '\0', size) != NULL && ((const char *)blob)[size - 1] != '\0')
    return fail(TG_ERR_CORRUPT, "webgpu: load %s: the blob is not WGSL text (a NUL byte inside)", name);
  tg_backend_program *p = calloc(1, sizeof(*p));
  char *src = malloc(size + 1); /* a host cache may hand back the text without its NUL */
  if (p == NULL || src == NULL) return free(p), free(src), fail(TG_ERR_OUT_OF_MEMORY, "webgpu: load %s: out of host memory", name);
  memcpy(src, blob, size), src[size] = '\0';
  snprintf(p->name, sizeof(p->name), "%s", name);
  p->dev = dev;
  tg_status s = scan("load", src, name, &p->abi);
  if (s == TG_OK && (s = make_pipeline(dev, p, src)) != TG_OK) {
    if (p->pipeline) wg.ComputePipelineRelease(p->pipeline);
    if (p->layout) wg.BindGroupLayoutRelease(p->layout);
    wgsl_abi_free(&p->abi);
  }
  free(src);
  if (s != TG_OK) return free(p), s;
  track(&p->obj, PROG_MAGIC);
  *out = p;
  return TG_OK;
}

static void webgpu_program_free(tg_backend_device *dev, tg_backend_program *prog) {
  (void)dev;
  if (is_a(prog, PROG_MAGIC)) destroy(&prog->obj);
}

/* ---------------- Launch and synchronize ---------------- */

static tg_status check_launch(tg_backend_device *dev, const tg_backend_program *prog, const tg_launch_params *p) {
  if (!is_a(prog, PROG_MAGIC)) return fail(TG_ERR_INVALID_HANDLE, "webgpu: launch: bad program handle %p", (const void *)prog);
  CHECK_PTR("launch", p);
  if (p->struct_size < TG_STRUCT_SIZE(tg_launch_params, elapsed_s))
    return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: launch: params struct_size %zu < %zu", p->struct_size, TG_STRUCT_SIZE(tg_launch_params, elapsed_s));
  const char *n = prog->name;
  if (prog->dev != dev) return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: launch %s: the program belongs to another device", n);
  if (p->n_bufs > 0 && p->bufs == NULL) return fail(TG_ERR_NULL_POINTER, "webgpu: launch %s: bufs is NULL with n_bufs %zu", n, p->n_bufs);
  if (p->n_vals > 0 && p->vals == NULL) return fail(TG_ERR_NULL_POINTER, "webgpu: launch %s: vals is NULL with n_vals %zu", n, p->n_vals);
  for (size_t i = 0; i < p->n_bufs; i++)
    if (!is_a(p->bufs[i], BUF_MAGIC) || p->bufs[i]->dev != dev)
      return fail(TG_ERR_INVALID_HANDLE, "webgpu: launch %s: bufs[%zu] (%p) is not a buffer of this device", n, i, (void *)p->bufs[i]);
  for (size_t i = 0; i < p->n_vals; i++)
    if (p->vals[i] < INT32_MIN || p->vals[i] > INT32_MAX)
      return fail(TG_ERR_OUT_OF_RANGE, "webgpu: launch %s: vals[%zu] = %lld does not fit the WGSL dialect's i32", n, i, (long long)p->vals[i]);
  for (int k = 0; k < 3; k++)
    if (p->global[k] == 0 || p->global[k] > g_lim.maxComputeWorkgroupsPerDimension)
      return fail(TG_ERR_OUT_OF_RANGE, "webgpu: launch %s: global (%u,%u,%u) must be 1..%u workgroups per dimension on %s", n, p->global[0],
                  p->global[1], p->global[2], g_lim.maxComputeWorkgroupsPerDimension, g_name);
  const uint32_t *wg_ = prog->abi.wg;
  if (prog->abi.wg_known && memcmp(p->local, wg_, sizeof(p->local)) != 0)
    return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: launch %s: local (%u,%u,%u) differs from the kernel's @workgroup_size(%u,%u,%u); in WGSL the "
                "workgroup size is part of the shader", n, p->local[0], p->local[1], p->local[2], wg_[0], wg_[1], wg_[2]);
  uint32_t top = 0;
  for (size_t i = 0; i < prog->abi.n; i++) top = prog->abi.bindings[i].binding > top ? prog->abi.bindings[i].binding : top;
  if (top > p->n_bufs + p->n_vals)
    return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: launch %s: the kernel declares @binding(%u), but the launch passes %zu buffers + %zu vals "
                "(bindings 1..%zu; 0 is INFINITY)", n, top, p->n_bufs, p->n_vals, p->n_bufs + p->n_vals);
  for (size_t i = 0; i < prog->abi.n; i++) {
    uint32_t b = prog->abi.bindings[i].binding;
    int uniform = prog->abi.bindings[i].kind == WGSL_UNIFORM;
    if (uniform != (b == 0 || b > p->n_bufs))
      return fail(TG_ERR_INVALID_ARGUMENT, "webgpu: launch %s: @binding(%u) is var<%s> in the kernel, but the launch puts %s there (binding 0 "
                  "is INFINITY, then %zu buffers, then %zu vals)", n, b, uniform ? "uniform" : "storage", b == 0 ? "INFINITY" : uniform ? "a buffer"
                  : "a val", p->n_bufs, p->n_vals);
  }
  return TG_OK;
}

static tg_status sync_queue(tg_backend_device *d, const char *what) {
  waiter *w = calloc(1, sizeof(*w));
  if (w == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "webgpu: %s: out of host memory", what);
  WGPUQueueWorkDoneCallbackInfo cb = WGPU_QUEUE_WORK_DONE_CALLBACK_INFO_INIT;
  cb.mode = WGPUCallbackMode_AllowProcessEvents, cb.callback = on_done, cb.userdata1 = w;
  wg.QueueOnSubmittedWorkDone(d->queue, cb);
  tg_status s = wait_for(d, w, what);
  if (s != TG_OK) return s;
  if (w->status != WGPUQueueWorkDoneStatus_Success) s = fail(TG_ERR_DEVICE, "webgpu: %s: wgpuQueueOnSubmittedWorkDone: %s", what, w->msg);
  free(w);
  return s;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* One uniform buffer per launch: INFINITY at 0, vals[j] at (1+j) * minUniformBufferOffsetAlignment. */
static tg_status bind_group(tg_backend_device *d, tg_backend_program *prog, const tg_launch_params *p, WGPUBuffer *ubuf, WGPUBindGroup *out) {
  uint64_t ua = g_lim.minUniformBufferOffsetAlignment, usize = (1 + p->n_vals) * ua;
  unsigned char *u = calloc(1, usize);
  WGPUBindGroupEntry *e = calloc(prog->abi.n ? prog->abi.n : 1, sizeof(*e));
  if (u == NULL || e == NULL) return free(u), free(e), fail(TG_ERR_OUT_OF_MEMORY, "webgpu: launch %s: out of host memory", prog->name);
  const float inf = INFINITY;
  memcpy(u, &inf, 4);
  for (size_t j = 0; j < p->n_vals; j++) {
    int32_t v = (int32_t)p->vals[j];
    memcpy(u + (1 + j) * ua, &v, 4);
  }
  begin(d);
  *ubuf = new_buffer(d, usize, WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst);
  wg.QueueWriteBuffer(d->queue, *ubuf, 0, u, usize);
  for (size_t i = 0; i < prog->abi.n; i++) {
    uint32_t b = prog->abi.bindings[i].binding;
    e[i] = WGPU_BIND_GROUP_ENTRY_INIT;
    e[i].binding = b;
    if (b >= 1 && b <= p->n_bufs) {
      const tg_backend_buffer *buf = p->bufs[b - 1];
      e[i].buffer = buf->buf, e[i].offset = buf->offset, e[i].size = buf->size ? round4(buf->size) : 4;
    } else e[i].buffer = *ubuf, e[i].offset = b == 0 ? 0 : (b - p->n_bufs) * ua, e[i].size = 4;
  }
  WGPUBindGroupDescriptor bd = WGPU_BIND_GROUP_DESCRIPTOR_INIT;
  bd.layout = prog->layout, bd.entryCount = prog->abi.n, bd.entries = e;
  *out = wg.DeviceCreateBindGroup(d->dev, &bd);
  free(u), free(e);
  return captured(d, TG_ERR_INVALID_ARGUMENT, "launch %s: wgpuDeviceCreateBindGroup", prog->name);
}

static tg_status webgpu_launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params) {
  ENTER("launch", dev);
  tg_status s = check_launch(dev, prog, params);
  if (s != TG_OK) return s;
  WGPUBuffer ubuf = NULL;
  WGPUBindGroup group = NULL;
  if ((s = bind_group(dev, prog, params, &ubuf, &group)) == TG_OK) {
    double t0 = now();
    WGPUCommandEncoderDescriptor ed = WGPU_COMMAND_ENCODER_DESCRIPTOR_INIT;
    WGPUComputePassDescriptor pd = WGPU_COMPUTE_PASS_DESCRIPTOR_INIT;
    WGPUCommandBufferDescriptor cd = WGPU_COMMAND_BUFFER_DESCRIPTOR_INIT;
    begin(dev);
    WGPUCommandEncoder enc = wg.DeviceCreateCommandEncoder(dev->dev, &ed);
    WGPUComputePassEncoder pass = wg.CommandEncoderBeginComputePass(enc, &pd);
    wg.ComputePassEncoderSetPipeline(pass, prog->pipeline);
    wg.ComputePassEncoderSetBindGroup(pass, 0, group, 0, NULL);
    wg.ComputePassEncoderDispatchWorkgroups(pass, params->global[0], params->global[1], params->global[2]);
    wg.ComputePassEncoderEnd(pass);
    WGPUCommandBuffer cmd = wg.CommandEncoderFinish(enc, &cd);
    if ((s = captured(dev, TG_ERR_INVALID_ARGUMENT, "launch %s: encoding the dispatch", prog->name)) == TG_OK) wg.QueueSubmit(dev->queue, 1, &cmd);
    if (s == TG_OK) s = captured(dev, TG_ERR_DEVICE, "launch %s: wgpuQueueSubmit", prog->name);
    wg.CommandBufferRelease(cmd), wg.ComputePassEncoderRelease(pass), wg.CommandEncoderRelease(enc);
    if (s == TG_OK && params->wait && (s = sync_queue(dev, "launch: waiting for the kernel")) == TG_OK && params->elapsed_s)
      *params->elapsed_s = now() - t0; /* wall clock from submit to done (no timestamp queries) */
  }
  if (group) wg.BindGroupRelease(group);
  if (ubuf) wg.BufferRelease(ubuf); /* wgpu keeps it alive until the dispatch is done */
  return s;
}

static tg_status webgpu_synchronize(tg_backend_device *dev) {
  ENTER("synchronize", dev);
  return sync_queue(dev, "synchronize");
}

/* ---------------- Entry and shutdown ---------------- */

static void webgpu_shutdown(void) {
  while (g_objs.next != &g_objs) destroy(g_objs.next); /* whatever the host did not free */
  if (g_dev.refs > 0) close_device(&g_dev);
  g_host = NULL; /* the runtime, instance and adapter stay: the library may be entered again */
}

static tg_backend_api g_api = {
  .struct_size = sizeof(tg_backend_api), .shutdown = webgpu_shutdown,
  .device_count = webgpu_device_count, .device_properties = webgpu_device_properties, .device_caps = webgpu_device_caps,
  .device_open = webgpu_device_open, .device_close = webgpu_device_close,
  .alloc = webgpu_alloc, .free = webgpu_free, .copyin = webgpu_copyin, .copyout = webgpu_copyout,
  .compile = webgpu_compile, .blob_free = webgpu_blob_free, .load = webgpu_load, .program_free = webgpu_program_free,
  .launch = webgpu_launch, .synchronize = webgpu_synchronize, .buffer_view = webgpu_buffer_view,
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
