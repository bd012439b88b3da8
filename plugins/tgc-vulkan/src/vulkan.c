/* vulkan.c -- the Vulkan compute backend over include/tg_backend.h (dialect "glsl").
**
** libvulkan.so.1 (the loader) is dlopen'ed on first use, never linked: on a machine without it the plugin loads and reports
** "no Vulkan loader (libvulkan.so.1 not found)". Vulkan's types come from its headers at build time (VK_NO_PROTOTYPES);
** every function is fetched through vkGetInstanceProcAddr. Kernels are GLSL 4.50 compute shaders compiled to SPIR-V by
** glslang (glsl.c, linked statically); see README "The glsl dialect" for the kernel ABI: binding i = bufs[i] in set 0,
** vals as push constants, global = workgroup count, local = workgroup size through specialization constants 0, 1, 2.
**
** Work goes to one compute queue per device. Each submission (launch, copy, event) is a command buffer of a ring of
** NSLOT, opened and closed by a global memory barrier so that submissions run in order and their writes reach the host,
** and signalled by the slot's fence. Objects remember the serial of the last submission that used them; freeing or
** mapping one waits for that serial only. */
#define _GNU_SOURCE
#define VK_NO_PROTOTYPES
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vulkan/vulkan.h>

#include "tgvk.h"

#ifndef TGC_VULKAN_VERSION
#define TGC_VULKAN_VERSION "0.0.0"
#endif
#ifndef TGC_VULKAN_FLAVOR
#define TGC_VULKAN_FLAVOR TG_BACKEND_FLAVOR_RELEASE
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
  .magic = TG_BACKEND_MAGIC, .struct_size = (uint32_t)sizeof(tg_manifest), .abi_major = TG_BACKEND_ABI_MAJOR, .abi_min_minor = 0,
  .abi_max_minor = TG_BACKEND_ABI_MINOR, .name = "VULKAN", .version = TGC_VULKAN_VERSION, .flavor = TGC_VULKAN_FLAVOR, .dialects = "glsl"};

/* ---------------- The Vulkan functions used, fetched at run time ---------------- */

#define VK_FNS(X)                                                                                                             \
  X(DestroyInstance) X(EnumeratePhysicalDevices) X(GetPhysicalDeviceProperties2) X(GetPhysicalDeviceFeatures2)                \
  X(GetPhysicalDeviceQueueFamilyProperties) X(GetPhysicalDeviceMemoryProperties) X(CreateDevice) X(DestroyDevice)             \
  X(GetDeviceQueue) X(CreateCommandPool) X(DestroyCommandPool) X(AllocateCommandBuffers) X(BeginCommandBuffer)                \
  X(EndCommandBuffer) X(ResetCommandBuffer) X(CreateFence) X(DestroyFence) X(WaitForFences) X(ResetFences) X(QueueSubmit)     \
  X(DeviceWaitIdle) X(CreateBuffer) X(DestroyBuffer) X(GetBufferMemoryRequirements) X(AllocateMemory) X(FreeMemory)           \
  X(BindBufferMemory) X(MapMemory) X(CmdCopyBuffer) X(CmdPipelineBarrier) X(CreateShaderModule) X(DestroyShaderModule)        \
  X(CreateDescriptorSetLayout) X(DestroyDescriptorSetLayout) X(CreatePipelineLayout) X(DestroyPipelineLayout)                 \
  X(CreateComputePipelines) X(DestroyPipeline) X(CreateDescriptorPool) X(DestroyDescriptorPool) X(ResetDescriptorPool)        \
  X(AllocateDescriptorSets) X(UpdateDescriptorSets) X(CmdBindPipeline) X(CmdBindDescriptorSets) X(CmdPushConstants)           \
  X(CmdDispatch) X(CreateQueryPool) X(DestroyQueryPool) X(CmdResetQueryPool) X(CmdWriteTimestamp) X(GetQueryPoolResults)
#define VK_FIELD(f) PFN_vk##f f;
static struct {
  PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
  PFN_vkCreateInstance CreateInstance;
  PFN_vkEnumerateInstanceVersion EnumerateInstanceVersion;
  VK_FNS(VK_FIELD)
} vk;

/* ---------------- State ---------------- */

#define MAX_DEVICES 16
#define NSLOT 32
#define STAGING_BYTES ((VkDeviceSize)16 << 20)
#define PUSH_MAX 256 /* bytes of vals a launch passes at most (32 int64) */
enum { BUF_MAGIC = 0x46554256, PROG_MAGIC = 0x47525056, EVENT_MAGIC = 0x544e5656 };

typedef struct vk_obj { uint32_t magic; struct vk_obj *prev, *next; tg_backend_device *dev; } vk_obj;
typedef struct vk_slot { VkCommandBuffer cb; VkFence fence; VkDescriptorPool pool; uint32_t pool_cap, busy; uint64_t serial; } vk_slot;

struct tg_backend_device {
  int index, refs, lost, mapped; /* mapped: buffers live in host-visible device memory (CPU/integrated); else staging */
  VkPhysicalDevice pd;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;
  uint32_t api, family, ts_bits;
  VkBool32 f64, i64, i16, i8, f16, st8, st16;
  uint64_t dtypes, max_alloc, mem_total;
  const char *alloc_limit; /* the Vulkan limit that max_alloc comes from */
  char vendor[64], driver[64];
  /* while open */
  VkDevice dev;
  VkQueue queue;
  VkCommandPool cpool;
  vk_slot slots[NSLOT];
  uint32_t next;        /* ring position of the next slot to use, which is also the oldest in flight */
  uint64_t serial, done; /* last submitted, last known complete */
  VkQueryPool tq;       /* two timestamps for timed launches */
  VkBuffer stg;
  VkDeviceMemory stg_mem;
  char *stg_map;
};
struct tg_backend_buffer { vk_obj obj; tg_backend_buffer *base; VkBuffer buf; VkDeviceMemory mem; char *map; VkDeviceSize off, size; uint64_t used; };
typedef struct vk_pipe { uint32_t local[3]; VkPipeline pipe; } vk_pipe;
struct tg_backend_program {
  vk_obj obj;
  VkShaderModule mod;
  VkDescriptorSetLayout dsl;
  VkPipelineLayout layout;
  tgvk_module_info info;
  vk_pipe *pipes;
  uint32_t npipes;
  uint64_t used;
  char name[64];
};
struct tg_backend_event { vk_obj obj; VkQueryPool qp; uint64_t serial; int recorded; };

static const tg_backend_host *g_host;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_why[512]; /* why there is no device; "" when there are */
static VkInstance g_inst;
static uint32_t g_inst_api;
static int g_ndev;
static tg_backend_device g_devs[MAX_DEVICES];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;      /* guards the object list */
static pthread_mutex_t g_open_mu = PTHREAD_MUTEX_INITIALIZER; /* guards device refcounts, opening and closing */
static vk_obj g_objs = {0, &g_objs, &g_objs, NULL};

/* ---------------- Errors (the one funnel to the host) ---------------- */

/* The one funnel to the host (tg_backend.h's helpers). */
#define fail(...) tg_backend_fail(g_host, __VA_ARGS__)
#define say(...) tg_backend_logf(g_host, __VA_ARGS__)

static const char *vk_name(VkResult r) {
  static const struct { VkResult r; const char *s; } names[] = {
    {VK_SUCCESS, "VK_SUCCESS"}, {VK_NOT_READY, "VK_NOT_READY"}, {VK_TIMEOUT, "VK_TIMEOUT"}, {VK_INCOMPLETE, "VK_INCOMPLETE"},
    {VK_ERROR_OUT_OF_HOST_MEMORY, "VK_ERROR_OUT_OF_HOST_MEMORY"}, {VK_ERROR_OUT_OF_DEVICE_MEMORY, "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
    {VK_ERROR_INITIALIZATION_FAILED, "VK_ERROR_INITIALIZATION_FAILED"}, {VK_ERROR_DEVICE_LOST, "VK_ERROR_DEVICE_LOST"},
    {VK_ERROR_MEMORY_MAP_FAILED, "VK_ERROR_MEMORY_MAP_FAILED"}, {VK_ERROR_LAYER_NOT_PRESENT, "VK_ERROR_LAYER_NOT_PRESENT"},
    {VK_ERROR_EXTENSION_NOT_PRESENT, "VK_ERROR_EXTENSION_NOT_PRESENT"}, {VK_ERROR_FEATURE_NOT_PRESENT, "VK_ERROR_FEATURE_NOT_PRESENT"},
    {VK_ERROR_INCOMPATIBLE_DRIVER, "VK_ERROR_INCOMPATIBLE_DRIVER"}, {VK_ERROR_TOO_MANY_OBJECTS, "VK_ERROR_TOO_MANY_OBJECTS"},
    {VK_ERROR_FRAGMENTED_POOL, "VK_ERROR_FRAGMENTED_POOL"}, {VK_ERROR_UNKNOWN, "VK_ERROR_UNKNOWN"},
    {VK_ERROR_OUT_OF_POOL_MEMORY, "VK_ERROR_OUT_OF_POOL_MEMORY"}, {VK_ERROR_FRAGMENTATION, "VK_ERROR_FRAGMENTATION"},
    {VK_ERROR_INVALID_SHADER_NV, "VK_ERROR_INVALID_SHADER_NV"}, {VK_ERROR_VALIDATION_FAILED_EXT, "VK_ERROR_VALIDATION_FAILED_EXT"}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (names[i].r == r) return names[i].s;
  return "VkResult (unknown)";
}

/* A failing Vulkan call: out of memory is TG_ERR_OUT_OF_MEMORY, a lost device TG_ERR_DEVICE (and the device stays failed). */
__attribute__((format(printf, 4, 5))) static tg_status vk_fail(tg_backend_device *d, tg_status code, VkResult r, const char *fmt, ...) {
  char what[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY) code = TG_ERR_OUT_OF_MEMORY;
  if (r == VK_ERROR_DEVICE_LOST && d) d->lost = 1;
  if (r == VK_ERROR_DEVICE_LOST) code = TG_ERR_DEVICE;
  return fail(code, "%s: %s (%d)", what, vk_name(r), (int)r);
}

#define CHECK_PTR(fn, p) \
  do { if ((p) == NULL) return fail(TG_ERR_NULL_POINTER, "vulkan: " fn ": " #p " is NULL"); } while (0)
#define CHECK_OBJ(fn, p, MAGIC, kind) \
  do { if (!is_a(p, MAGIC, dev)) return fail(TG_ERR_INVALID_HANDLE, "vulkan: " fn ": bad " kind " handle %p", (const void *)(p)); } while (0)
#define ENTER(fn, dev) \
  do { tg_status s_ = enter(fn, dev); if (s_ != TG_OK) return s_; } while (0)
#define VK_TRY(call, ...) \
  do { VkResult r_ = (call); if (r_ != VK_SUCCESS) return vk_fail(d, TG_ERR_DEVICE, r_, __VA_ARGS__); } while (0)

static int is_a(const void *p, uint32_t magic, const tg_backend_device *d) {
  return p != NULL && ((const vk_obj *)p)->magic == magic && (d == NULL || ((const vk_obj *)p)->dev == d);
}

static void track(vk_obj *o, uint32_t magic, tg_backend_device *d) {
  pthread_mutex_lock(&g_mu);
  o->magic = magic, o->dev = d, o->prev = g_objs.prev, o->next = &g_objs;
  g_objs.prev->next = o, g_objs.prev = o;
  pthread_mutex_unlock(&g_mu);
}

static tg_status enter(const char *fn, tg_backend_device *dev) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev || dev->refs <= 0)
    return fail(TG_ERR_INVALID_HANDLE, "vulkan: %s: bad device handle %p", fn, (void *)dev);
  if (dev->lost)
    return fail(TG_ERR_DEVICE, "vulkan: %s: VULKAN:%d (%s) was lost earlier (VK_ERROR_DEVICE_LOST); it stays unusable in this process", fn,
                dev->index, dev->props.deviceName);
  return TG_OK;
}

/* ---------------- Submissions: a ring of command buffers, each with a fence ---------------- */

static tg_status retire(tg_backend_device *d, vk_slot *s) {
  if (!s->busy) return TG_OK;
  VkResult r = vk.WaitForFences(d->dev, 1, &s->fence, VK_TRUE, UINT64_MAX);
  if (r != VK_SUCCESS) return vk_fail(d, TG_ERR_DEVICE, r, "vulkan: waiting for work on VULKAN:%d: vkWaitForFences", d->index);
  vk.ResetFences(d->dev, 1, &s->fence);
  s->busy = 0;
  if (s->serial > d->done) d->done = s->serial;
  return TG_OK;
}

/* Waits until every submission up to `serial` has finished (oldest first: the ring is in submission order). */
static tg_status wait_serial(tg_backend_device *d, uint64_t serial) {
  for (uint32_t k = 0; k < NSLOT && d->done < serial; k++) {
    vk_slot *s = &d->slots[(d->next + k) % NSLOT];
    tg_status st = s->busy && s->serial <= serial ? retire(d, s) : TG_OK;
    if (st != TG_OK) return st;
  }
  return TG_OK;
}

/* Orders this command buffer after earlier submissions and makes its writes visible to the host and to later ones. */
static void barrier(VkCommandBuffer cb) {
  VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                         VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT};
  vk.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

static tg_status begin(tg_backend_device *d, vk_slot **out) {
  vk_slot *s = &d->slots[d->next % NSLOT];
  tg_status st = retire(d, s);
  if (st != TG_OK) return st;
  if (s->pool) vk.ResetDescriptorPool(d->dev, s->pool, 0);
  vk.ResetCommandBuffer(s->cb, 0);
  VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
  VK_TRY(vk.BeginCommandBuffer(s->cb, &bi), "vulkan: vkBeginCommandBuffer on VULKAN:%d", d->index);
  barrier(s->cb);
  *out = s;
  return TG_OK;
}

static tg_status submit(tg_backend_device *d, vk_slot *s, const char *what) {
  barrier(s->cb);
  VK_TRY(vk.EndCommandBuffer(s->cb), "vulkan: %s: vkEndCommandBuffer", what);
  VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &s->cb};
  VK_TRY(vk.QueueSubmit(d->queue, 1, &si, s->fence), "vulkan: %s: vkQueueSubmit on VULKAN:%d", what, d->index);
  s->busy = 1, s->serial = ++d->serial, d->next++;
  return TG_OK;
}

/* ---------------- The loader and the devices, found once ---------------- */

static const char *vendor_name(uint32_t id) {
  static const struct { uint32_t id; const char *name; } v[] = {{0x10de, "NVIDIA"}, {0x1002, "AMD"}, {0x8086, "Intel"}, {0x13b5, "ARM"},
                                                               {0x5143, "Qualcomm"}, {0x1010, "Imagination"}, {0x106b, "Apple"}, {0x10005, "Mesa"}};
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    if (v[i].id == id) return v[i].name;
  return NULL;
}

/* Features the plugin uses, queried (or, with `enable`, requested) through one pNext chain. */
typedef struct feats {
  VkPhysicalDeviceFeatures2 f2;
  VkPhysicalDevice16BitStorageFeatures s16;
  VkPhysicalDevice8BitStorageFeatures s8;
  VkPhysicalDeviceShaderFloat16Int8Features f16;
} feats;

static void feats_chain(feats *f, uint32_t api) {
  memset(f, 0, sizeof(*f));
  f->f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, f->f2.pNext = &f->s16;
  f->s16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
  if (api < VK_API_VERSION_1_2) return; /* 8-bit storage and float16/int8 arithmetic are core from 1.2 */
  f->s16.pNext = &f->s8, f->s8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
  f->s8.pNext = &f->f16, f->f16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES;
}

/* Fills d from a physical device; returns NULL, or why it cannot be used. */
static const char *query_device(VkPhysicalDevice pd, tg_backend_device *d, char *why, size_t n) {
  VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
  vk.GetPhysicalDeviceProperties2(pd, &p2);
  d->pd = pd, d->props = p2.properties;
  d->api = p2.properties.apiVersion < g_inst_api ? p2.properties.apiVersion : g_inst_api;
  if (d->api < VK_API_VERSION_1_1) return snprintf(why, n, "%s speaks Vulkan 1.0 only (1.1 needed)", d->props.deviceName), why;
  if (d->api >= VK_API_VERSION_1_2) m3.pNext = &drv, vk.GetPhysicalDeviceProperties2(pd, &p2);
  uint32_t nq = 0;
  vk.GetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
  VkQueueFamilyProperties qf[64];
  nq = nq > 64 ? 64 : nq;
  vk.GetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf);
  d->family = UINT32_MAX;
  for (uint32_t i = 0; i < nq && d->family == UINT32_MAX; i++)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) d->family = i, d->ts_bits = qf[i].timestampValidBits;
  if (d->family == UINT32_MAX) return snprintf(why, n, "%s has no compute queue", d->props.deviceName), why;
  feats f;
  feats_chain(&f, d->api);
  vk.GetPhysicalDeviceFeatures2(pd, &f.f2);
  d->f64 = f.f2.features.shaderFloat64, d->i64 = f.f2.features.shaderInt64, d->i16 = f.f2.features.shaderInt16;
  d->st16 = f.s16.storageBuffer16BitAccess, d->st8 = f.s8.storageBuffer8BitAccess, d->i8 = f.f16.shaderInt8, d->f16 = f.f16.shaderFloat16;
  d->dtypes = 1ull << TG_INT32 | 1ull << TG_UINT32 | 1ull << TG_FLOAT32;
  if (d->st8 && d->i8) d->dtypes |= 1ull << TG_BOOL | 1ull << TG_INT8 | 1ull << TG_UINT8; /* bool is stored as a byte */
  if (d->st16 && d->i16) d->dtypes |= 1ull << TG_INT16 | 1ull << TG_UINT16;
  if (d->st16 && d->f16) d->dtypes |= 1ull << TG_FLOAT16;
  if (d->i64) d->dtypes |= 1ull << TG_INT64 | 1ull << TG_UINT64;
  if (d->f64) d->dtypes |= 1ull << TG_FLOAT64;
  const VkDeviceSize range = d->props.limits.maxStorageBufferRange;
  d->max_alloc = m3.maxMemoryAllocationSize < range ? m3.maxMemoryAllocationSize : range;
  d->alloc_limit = m3.maxMemoryAllocationSize < range ? "maxMemoryAllocationSize" : "maxStorageBufferRange";
  vk.GetPhysicalDeviceMemoryProperties(pd, &d->mem);
  int uma = 0;
  for (uint32_t i = 0; i < d->mem.memoryHeapCount; i++)
    if ((d->mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && d->mem.memoryHeaps[i].size > d->mem_total)
      d->mem_total = d->mem.memoryHeaps[i].size;
  const VkMemoryPropertyFlags all = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++) uma |= (d->mem.memoryTypes[i].propertyFlags & all) == all;
  const char *force_staging = getenv("TGC_VULKAN_STAGING");
  d->mapped = uma && (d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU || d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU) &&
              !(force_staging && strcmp(force_staging, "1") == 0);
  const char *vn = vendor_name(d->props.vendorID);
  snprintf(d->vendor, sizeof(d->vendor), "%.63s", vn ? vn : drv.driverName);
  const char *info = drv.driverInfo[0] ? drv.driverInfo : drv.driverName; /* "Mesa 22.3.6 (LLVM 15.0.6)", "580.159.04" */
  uint32_t a = d->props.apiVersion;
  snprintf(d->driver, sizeof(d->driver), "%.40s%sVulkan %u.%u.%u%s", info, info[0] ? " (" : "", VK_API_VERSION_MAJOR(a), VK_API_VERSION_MINOR(a),
           VK_API_VERSION_PATCH(a), info[0] ? ")" : "");
  return NULL;
}

static int type_rank(VkPhysicalDeviceType t) {
  return t == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ? 0 : t == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 1 : t == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU ? 2
         : t == VK_PHYSICAL_DEVICE_TYPE_CPU ? 3 : 4;
}

static void load_vulkan(void) {
  const char *env = getenv("TGC_VULKAN_LOADER"), *name = env && *env ? env : "libvulkan.so.1";
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    say(TG_LOG_INFO, "vulkan: dlopen(%s): %s", name, dlerror());
    snprintf(g_why, sizeof(g_why), "no Vulkan loader (libvulkan.so.1 not found)");
    return;
  }
  void *p = dlsym(h, "vkGetInstanceProcAddr");
  if (p == NULL) {
    snprintf(g_why, sizeof(g_why), "the Vulkan loader %s has no vkGetInstanceProcAddr", name);
    return;
  }
  memcpy(&vk.GetInstanceProcAddr, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  vk.CreateInstance = (PFN_vkCreateInstance)vk.GetInstanceProcAddr(NULL, "vkCreateInstance");
  vk.EnumerateInstanceVersion = (PFN_vkEnumerateInstanceVersion)vk.GetInstanceProcAddr(NULL, "vkEnumerateInstanceVersion");
  uint32_t ver = VK_API_VERSION_1_0;
  if (vk.EnumerateInstanceVersion) vk.EnumerateInstanceVersion(&ver);
  if (vk.CreateInstance == NULL || ver < VK_API_VERSION_1_1) {
    snprintf(g_why, sizeof(g_why), "the Vulkan loader %s is Vulkan %u.%u; tgc needs 1.1", name, VK_API_VERSION_MAJOR(ver), VK_API_VERSION_MINOR(ver));
    return;
  }
  g_inst_api = ver >= VK_API_VERSION_1_2 ? VK_API_VERSION_1_2 : VK_API_VERSION_1_1;
  VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "tgc", .pEngineName = "tgc", .apiVersion = g_inst_api};
  VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
  VkResult r = vk.CreateInstance(&ci, NULL, &g_inst);
  if (r != VK_SUCCESS) {
    snprintf(g_why, sizeof(g_why), "no Vulkan driver: vkCreateInstance: %s (install mesa-vulkan-drivers for lavapipe on the CPU, or your GPU's "
             "Vulkan driver)", vk_name(r));
    return;
  }
#define VK_LOAD(f)                                                                                         \
  if ((vk.f = (PFN_vk##f)vk.GetInstanceProcAddr(g_inst, "vk" #f)) == NULL) {                                \
    snprintf(g_why, sizeof(g_why), "the Vulkan loader %s lacks vk" #f, name);                               \
    return;                                                                                                 \
  }
  VK_FNS(VK_LOAD)
  VkPhysicalDevice pds[MAX_DEVICES];
  uint32_t n = MAX_DEVICES;
  if ((r = vk.EnumeratePhysicalDevices(g_inst, &n, pds)) < 0) {
    snprintf(g_why, sizeof(g_why), "vkEnumeratePhysicalDevices: %s", vk_name(r));
    return;
  }
  char why[256] = "", skipped[384] = "";
  for (uint32_t i = 0; i < n; i++) {
    tg_backend_device *d = &g_devs[g_ndev];
    memset(d, 0, sizeof(*d));
    if (query_device(pds[i], d, why, sizeof(why)) == NULL) g_ndev++;
    else say(TG_LOG_INFO, "vulkan: skipping %s", why), snprintf(skipped, sizeof(skipped), ": %s", why);
  }
  for (int i = 1; i < g_ndev; i++) /* GPUs before lavapipe: VULKAN (= VULKAN:0) is the best device */
    for (int j = i; j > 0 && type_rank(g_devs[j].props.deviceType) < type_rank(g_devs[j - 1].props.deviceType); j--) {
      tg_backend_device t = g_devs[j];
      g_devs[j] = g_devs[j - 1], g_devs[j - 1] = t;
    }
  for (int i = 0; i < g_ndev; i++) g_devs[i].index = i;
  if (g_ndev == 0)
    snprintf(g_why, sizeof(g_why), "no usable Vulkan device (%u found%s; install mesa-vulkan-drivers for lavapipe on the CPU)", n, skipped);
}

/* ---------------- Devices ---------------- */

static tg_status vulkan_device_count(int *out_count) {
  CHECK_PTR("device_count", out_count);
  pthread_once(&g_once, load_vulkan);
  *out_count = g_ndev;
  return g_ndev > 0 ? TG_OK : fail(TG_ERR_UNAVAILABLE, "%s", g_why);
}

static tg_status check_index(const char *fn, int index) {
  pthread_once(&g_once, load_vulkan);
  if (index < 0 || index >= g_ndev)
    return fail(g_ndev ? TG_ERR_OUT_OF_RANGE : TG_ERR_UNAVAILABLE, "vulkan: %s: device index %d out of range (%d devices%s%s)", fn, index,
                g_ndev, g_ndev ? "" : ": ", g_why);
  return TG_OK;
}

/* Out-struct rule (tg_backend.h, VERSIONED STRUCTS): write a field only when the host's capacity covers it. */
#define FIELD_END(f) TG_STRUCT_SIZE(__typeof__(*out), f)
#define PUT_AS(f, write) (void)(cap >= FIELD_END(f) && ((write), filled = FIELD_END(f)))
#define PUT(f, v) PUT_AS(f, out->f = (v))
#define PUTARR(f, a) PUT_AS(f, memcpy(out->f, (a), sizeof(out->f)))
#define PUTTXT(f, s) PUT_AS(f, snprintf(out->f, sizeof(out->f), "%.*s", (int)sizeof(out->f) - 1, (s)))

static tg_status vulkan_device_properties(int index, tg_device_properties *out) {
  CHECK_PTR("device_properties", out);
  tg_status s = check_index("device_properties", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: device_properties: struct_size %zu too small", cap);
  const tg_backend_device *d = &g_devs[index];
  VkPhysicalDeviceType t = d->props.deviceType;
  PUTTXT(name, d->props.deviceName), PUTTXT(vendor, d->vendor), PUTTXT(driver_version, d->driver), PUT(reserved, 0);
  PUT(type, t == VK_PHYSICAL_DEVICE_TYPE_CPU ? TG_DEVICE_CPU : t == VK_PHYSICAL_DEVICE_TYPE_OTHER ? TG_DEVICE_OTHER : TG_DEVICE_GPU);
  out->struct_size = filled;
  return TG_OK;
}

/* GLSL renders these natively and exactly enough. Not declared, so the core decomposes them as tinygrad does on CPU: EXP2,
** LOG2, SIN (Vulkan allows exp2 3+2|x| ULP, sin 2^-11 absolute, and GLSL.std.450 has no float64 versions), FDIV (2.5 ULP),
** MAX (lowered to CMPLT + WHERE, as for CUDA). */
static uint64_t vulkan_alu_ops(void) {
  static const tg_alu_op ops[] = {TG_ALU_SQRT, TG_ALU_RECIPROCAL, TG_ALU_NEG, TG_ALU_TRUNC, TG_ALU_ADD, TG_ALU_SUB, TG_ALU_MUL, TG_ALU_CDIV,
                                  TG_ALU_CMOD, TG_ALU_SHL, TG_ALU_SHR, TG_ALU_CMPLT, TG_ALU_CMPNE, TG_ALU_CMPEQ, TG_ALU_AND, TG_ALU_OR,
                                  TG_ALU_XOR, TG_ALU_WHERE};
  uint64_t mask = 0;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) mask |= 1ull << ops[i];
  return mask;
}

static tg_status vulkan_device_caps(int index, tg_device_caps *out) {
  CHECK_PTR("device_caps", out);
  tg_status s = check_index("device_caps", index);
  if (s != TG_OK) return s;
  size_t cap = out->struct_size, filled = sizeof(size_t);
  if (cap < filled) return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: device_caps: struct_size %zu too small", cap);
  const tg_backend_device *d = &g_devs[index];
  const VkPhysicalDeviceLimits *l = &d->props.limits;
  uint32_t lmax[3];
  for (int k = 0; k < 3; k++) lmax[k] = l->maxComputeWorkGroupSize[k] < l->maxComputeWorkGroupCount[k] ? l->maxComputeWorkGroupSize[k] : l->maxComputeWorkGroupCount[k];
  PUTTXT(dialect, "glsl"), PUTTXT(arch, d->api >= VK_API_VERSION_1_2 ? "vulkan1.2" : "vulkan1.1"); /* glslang's target environment */
  PUT(dtypes, d->dtypes), PUT(alu_ops, vulkan_alu_ops());
  PUT(has_local, 1), PUT(has_shared, 1), PUT(has_threads, 0), PUT(vector_width, 1);
  PUTARR(global_max, l->maxComputeWorkGroupCount), PUTARR(local_max, lmax);
  PUT(local_prod_max, l->maxComputeWorkGroupInvocations), PUT(alignment, (uint32_t)l->minStorageBufferOffsetAlignment);
  PUT(shared_max, l->maxComputeSharedMemorySize), PUT(mem_total, d->mem_total), PUT(mem_max_alloc, d->max_alloc);
  PUT(n_tensor_cores, 0), PUT(compile_concurrent, 0), PUT(tensor_cores, NULL);
  out->struct_size = filled;
  return TG_OK;
}

static void destroy(vk_obj *o);

static void close_device(tg_backend_device *d) {
  if (d->dev == VK_NULL_HANDLE) return;
  vk.DeviceWaitIdle(d->dev);
  for (vk_obj *o;;) { /* whatever the host did not free */
    pthread_mutex_lock(&g_mu);
    for (o = g_objs.next; o != &g_objs && o->dev != d; o = o->next) {}
    pthread_mutex_unlock(&g_mu);
    if (o == &g_objs) break;
    destroy(o);
  }
  for (int i = 0; i < NSLOT; i++) {
    if (d->slots[i].fence) vk.DestroyFence(d->dev, d->slots[i].fence, NULL);
    if (d->slots[i].pool) vk.DestroyDescriptorPool(d->dev, d->slots[i].pool, NULL);
  }
  if (d->tq) vk.DestroyQueryPool(d->dev, d->tq, NULL);
  if (d->stg) vk.DestroyBuffer(d->dev, d->stg, NULL);
  if (d->stg_mem) vk.FreeMemory(d->dev, d->stg_mem, NULL);
  if (d->cpool) vk.DestroyCommandPool(d->dev, d->cpool, NULL);
  vk.DestroyDevice(d->dev, NULL);
  d->dev = VK_NULL_HANDLE, d->queue = VK_NULL_HANDLE, d->cpool = VK_NULL_HANDLE, d->tq = VK_NULL_HANDLE;
  d->stg = VK_NULL_HANDLE, d->stg_mem = VK_NULL_HANDLE, d->stg_map = NULL, d->lost = 0;
  memset(d->slots, 0, sizeof(d->slots));
}

static tg_status open_device(tg_backend_device *d) {
  feats f;
  feats_chain(&f, d->api);
  f.f2.features.shaderFloat64 = d->f64, f.f2.features.shaderInt64 = d->i64, f.f2.features.shaderInt16 = d->i16;
  f.s16.storageBuffer16BitAccess = d->st16, f.s8.storageBuffer8BitAccess = d->st8, f.f16.shaderInt8 = d->i8, f.f16.shaderFloat16 = d->f16;
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = d->family, .queueCount = 1, .pQueuePriorities = &prio};
  VkDeviceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &f.f2, .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi};
  VK_TRY(vk.CreateDevice(d->pd, &ci, NULL, &d->dev), "vulkan: device_open: vkCreateDevice for %s", d->props.deviceName);
  vk.GetDeviceQueue(d->dev, d->family, 0, &d->queue);
  VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                .queueFamilyIndex = d->family};
  VK_TRY(vk.CreateCommandPool(d->dev, &pi, NULL, &d->cpool), "vulkan: device_open: vkCreateCommandPool");
  VkCommandBuffer cbs[NSLOT];
  VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = d->cpool,
                                    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = NSLOT};
  VK_TRY(vk.AllocateCommandBuffers(d->dev, &ai, cbs), "vulkan: device_open: vkAllocateCommandBuffers");
  VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  for (int i = 0; i < NSLOT; i++) {
    d->slots[i].cb = cbs[i];
    VK_TRY(vk.CreateFence(d->dev, &fi, NULL, &d->slots[i].fence), "vulkan: device_open: vkCreateFence");
  }
  VkQueryPoolCreateInfo qp = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2};
  if (d->ts_bits) VK_TRY(vk.CreateQueryPool(d->dev, &qp, NULL, &d->tq), "vulkan: device_open: vkCreateQueryPool");
  d->next = 0, d->serial = d->done = 0;
  say(TG_LOG_INFO, "vulkan: opened VULKAN:%d (%s), queue family %u: buffers %s", d->index, d->props.deviceName, d->family,
      d->mapped ? "in host-visible device memory, copied with memcpy" : "in device-local memory, copied through a staging buffer");
  return TG_OK;
}

static tg_status vulkan_device_open(int index, tg_backend_device **out) {
  CHECK_PTR("device_open", out);
  tg_status s = check_index("device_open", index);
  if (s != TG_OK) return s;
  tg_backend_device *d = &g_devs[index];
  pthread_mutex_lock(&g_open_mu);
  if (d->refs == 0 && (s = open_device(d)) != TG_OK) close_device(d);
  if (s == TG_OK) d->refs++;
  pthread_mutex_unlock(&g_open_mu);
  if (s == TG_OK) *out = d;
  return s;
}

static void vulkan_device_close(tg_backend_device *dev) {
  if (dev == NULL || dev < g_devs || dev >= g_devs + g_ndev) return;
  pthread_mutex_lock(&g_open_mu);
  if (dev->refs > 0 && --dev->refs == 0) close_device(dev);
  pthread_mutex_unlock(&g_open_mu);
}

/* ---------------- Memory ---------------- */

static int mem_type(const tg_backend_device *d, uint32_t bits, VkMemoryPropertyFlags want) {
  for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++)
    if ((bits >> i & 1) && (d->mem.memoryTypes[i].propertyFlags & want) == want) return (int)i;
  return -1;
}

/* A VkBuffer with its own memory; mapped when `host` (host-visible memory). */
static tg_status make_buffer(tg_backend_device *d, VkDeviceSize size, int host, VkBuffer *buf, VkDeviceMemory *mem, char **map) {
  *mem = VK_NULL_HANDLE;
  VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
                           .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT};
  VK_TRY(vk.CreateBuffer(d->dev, &bi, NULL, buf), "vulkan: alloc of %llu bytes: vkCreateBuffer", (unsigned long long)size);
  VkMemoryRequirements req;
  vk.GetBufferMemoryRequirements(d->dev, *buf, &req);
  const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  int t = host ? mem_type(d, req.memoryTypeBits, d->mapped ? hv | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT : hv | VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
               : mem_type(d, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (t < 0) t = mem_type(d, req.memoryTypeBits, host ? hv : 0);
  VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = (uint32_t)t};
  VkResult r = t < 0 ? VK_ERROR_FEATURE_NOT_PRESENT : vk.AllocateMemory(d->dev, &ai, NULL, mem);
  if (r == VK_SUCCESS && (r = vk.BindBufferMemory(d->dev, *buf, *mem, 0)) == VK_SUCCESS && host) r = vk.MapMemory(d->dev, *mem, 0, VK_WHOLE_SIZE, 0, (void **)map);
  if (r == VK_SUCCESS) return TG_OK;
  if (*mem) vk.FreeMemory(d->dev, *mem, NULL);
  vk.DestroyBuffer(d->dev, *buf, NULL);
  *buf = VK_NULL_HANDLE, *mem = VK_NULL_HANDLE;
  if (t < 0) return fail(TG_ERR_DEVICE, "vulkan: alloc: VULKAN:%d has no suitable memory type (bits 0x%x)", d->index, req.memoryTypeBits);
  return vk_fail(d, TG_ERR_DEVICE, r, "vulkan: alloc of %llu bytes on VULKAN:%d (%s, %llu bytes of device memory): vkAllocateMemory",
                 (unsigned long long)size, d->index, d->props.deviceName, (unsigned long long)d->mem_total);
}

static tg_status vulkan_alloc(tg_backend_device *d, size_t nbytes, tg_backend_buffer **out) {
  ENTER("alloc", d);
  CHECK_PTR("alloc", out);
  if (nbytes > d->max_alloc)
    return fail(TG_ERR_OUT_OF_MEMORY, "vulkan: alloc of %zu bytes on VULKAN:%d (%s): larger than the %llu bytes one storage buffer can hold "
                "there (%s); split the data", nbytes, d->index, d->props.deviceName, (unsigned long long)d->max_alloc, d->alloc_limit);
  tg_backend_buffer *b = calloc(1, sizeof(*b));
  if (b == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "vulkan: alloc: out of host memory");
  tg_status s = make_buffer(d, nbytes < 4 ? 4 : (nbytes + 3) & ~(size_t)3, d->mapped, &b->buf, &b->mem, &b->map); /* 0 bytes: still distinct */
  if (s != TG_OK) return free(b), s;
  b->base = b, b->size = nbytes;
  track(&b->obj, BUF_MAGIC, d);
  *out = b;
  return TG_OK;
}

static tg_status vulkan_buffer_view(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes, tg_backend_buffer **out) {
  ENTER("buffer_view", dev);
  CHECK_OBJ("buffer_view", buf, BUF_MAGIC, "buffer");
  CHECK_PTR("buffer_view", out);
  VkDeviceSize align = dev->props.limits.minStorageBufferOffsetAlignment;
  if (offset > buf->size || nbytes > buf->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "vulkan: buffer_view out of range: offset %zu + %zu bytes > buffer size %llu", offset, nbytes, (unsigned long long)buf->size);
  if ((buf->off + offset) % align)
    return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: buffer_view at offset %zu: a storage buffer view must start at a multiple of %llu bytes on "
                "VULKAN:%d (minStorageBufferOffsetAlignment)", offset, (unsigned long long)align, dev->index);
  tg_backend_buffer *v = calloc(1, sizeof(*v));
  if (v == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "vulkan: buffer_view: out of host memory");
  *v = (tg_backend_buffer){.base = buf->base, .buf = buf->buf, .map = buf->map ? buf->map + offset : NULL, .off = buf->off + offset, .size = nbytes};
  track(&v->obj, BUF_MAGIC, dev);
  *out = v;
  return TG_OK;
}

static void destroy(vk_obj *o) {
  pthread_mutex_lock(&g_mu);
  o->prev->next = o->next, o->next->prev = o->prev;
  uint32_t magic = o->magic;
  o->magic = 0;
  pthread_mutex_unlock(&g_mu);
  tg_backend_device *d = o->dev;
  if (magic == BUF_MAGIC && ((tg_backend_buffer *)o)->base == (tg_backend_buffer *)o) {
    tg_backend_buffer *b = (tg_backend_buffer *)o;
    wait_serial(d, b->used);
    vk.DestroyBuffer(d->dev, b->buf, NULL), vk.FreeMemory(d->dev, b->mem, NULL);
  } else if (magic == PROG_MAGIC) {
    tg_backend_program *p = (tg_backend_program *)o;
    wait_serial(d, p->used);
    for (uint32_t i = 0; i < p->npipes; i++) vk.DestroyPipeline(d->dev, p->pipes[i].pipe, NULL);
    free(p->pipes);
    vk.DestroyPipelineLayout(d->dev, p->layout, NULL), vk.DestroyDescriptorSetLayout(d->dev, p->dsl, NULL);
    vk.DestroyShaderModule(d->dev, p->mod, NULL);
  } else if (magic == EVENT_MAGIC) {
    wait_serial(d, ((tg_backend_event *)o)->serial);
    vk.DestroyQueryPool(d->dev, ((tg_backend_event *)o)->qp, NULL);
  }
  free(o);
}

static void vulkan_free(tg_backend_device *dev, tg_backend_buffer *buf) {
  if (is_a(buf, BUF_MAGIC, dev)) destroy(&buf->obj);
}

/* copyin (to_dev) and copyout: memcpy on mapped memory after the buffer's last use, else through the staging buffer. */
static tg_status copy(const char *fn, tg_backend_device *d, tg_backend_buffer *b, size_t offset, char *host, size_t n, int to_dev) {
  ENTER(fn, d);
  if (!is_a(b, BUF_MAGIC, d)) return fail(TG_ERR_INVALID_HANDLE, "vulkan: %s: bad buffer handle %p", fn, (void *)b);
  if (offset > b->size || n > b->size - offset)
    return fail(TG_ERR_OUT_OF_RANGE, "vulkan: %s out of range: offset %zu + %zu bytes > buffer size %llu", fn, offset, n, (unsigned long long)b->size);
  if (n == 0) return TG_OK;
  if (host == NULL) return fail(TG_ERR_NULL_POINTER, "vulkan: %s: %s is NULL for %zu bytes", fn, to_dev ? "src" : "dst", n);
  tg_status s = wait_serial(d, b->base->used);
  if (s != TG_OK || b->map) {
    if (s == TG_OK) to_dev ? memcpy(b->map + offset, host, n) : memcpy(host, b->map + offset, n);
    return s;
  }
  if (d->stg == VK_NULL_HANDLE && (s = make_buffer(d, STAGING_BYTES, 1, &d->stg, &d->stg_mem, &d->stg_map)) != TG_OK) return s;
  for (size_t done = 0, c; done < n; done += c) {
    c = n - done < STAGING_BYTES ? n - done : STAGING_BYTES;
    vk_slot *sl;
    if (to_dev) memcpy(d->stg_map, host + done, c);
    if ((s = begin(d, &sl)) != TG_OK) return s;
    VkBufferCopy r = {.srcOffset = to_dev ? 0 : b->off + offset + done, .dstOffset = to_dev ? b->off + offset + done : 0, .size = c};
    vk.CmdCopyBuffer(sl->cb, to_dev ? d->stg : b->buf, to_dev ? b->buf : d->stg, 1, &r);
    if ((s = submit(d, sl, fn)) != TG_OK || (s = retire(d, sl)) != TG_OK) return s;
    if (!to_dev) memcpy(host + done, d->stg_map, c);
  }
  return TG_OK;
}

static tg_status vulkan_copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  return copy("copyin", dev, dst, offset, (char *)(uintptr_t)src, nbytes, 1);
}

static tg_status vulkan_copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  return copy("copyout", dev, src, offset, dst, nbytes, 0);
}

/* ---------------- Compile and load ---------------- */

static tg_status vulkan_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  ENTER("compile", dev);
  CHECK_PTR("compile", source);
  CHECK_PTR("compile", out);
  if (name == NULL) name = "(unnamed)";
  uint32_t *words = NULL;
  size_t size = 0;
  char *log = NULL;
  tg_status s = tgvk_glsl_compile(source, dev->api >= VK_API_VERSION_1_2 ? 2 : 1, &words, &size, &log);
  *out = (tg_blob){.struct_size = sizeof(tg_blob), .data = words, .size = size};
  if (s != TG_OK) fail(s, "vulkan: compile %s: glslang: %s", name, log ? log : "out of host memory");
  else say(log ? TG_LOG_WARN : TG_LOG_DEBUG, "vulkan: compiled %s: %zu bytes of SPIR-V%s%s", name, size, log ? "; glslang: " : "", log ? log : "");
  free(log);
  return s;
}

static void vulkan_blob_free(tg_blob *blob) {
  if (blob) free(blob->data), blob->data = NULL, blob->size = 0;
}

/* The pipeline for one workgroup size (specialization constants 0, 1, 2), made on first use. */
static tg_status get_pipe(tg_backend_device *d, tg_backend_program *p, const uint32_t local[3], VkPipeline *out) {
  for (uint32_t i = 0; i < p->npipes; i++)
    if (memcmp(p->pipes[i].local, local, sizeof(p->pipes[i].local)) == 0) return *out = p->pipes[i].pipe, TG_OK;
  vk_pipe *grown = realloc(p->pipes, (p->npipes + 1) * sizeof(vk_pipe));
  if (grown == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "vulkan: %s: out of host memory", p->name);
  p->pipes = grown;
  const VkSpecializationMapEntry me[3] = {{0, 0, 4}, {1, 4, 4}, {2, 8, 4}};
  VkSpecializationInfo spec = {.mapEntryCount = 3, .pMapEntries = me, .dataSize = 12, .pData = local};
  VkComputePipelineCreateInfo ci = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, .layout = p->layout,
    .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = p->mod, .pName = "main",
              .pSpecializationInfo = &spec}};
  VK_TRY(vk.CreateComputePipelines(d->dev, VK_NULL_HANDLE, 1, &ci, NULL, out), "vulkan: %s: vkCreateComputePipelines for local size (%u,%u,%u)",
         p->name, local[0], local[1], local[2]);
  memcpy(p->pipes[p->npipes].local, local, sizeof(p->pipes[p->npipes].local));
  p->pipes[p->npipes++].pipe = *out;
  return TG_OK;
}

static tg_status load_program(tg_backend_device *d, tg_backend_program *p, const uint32_t *code, size_t size) {
  const VkPhysicalDeviceLimits *l = &d->props.limits;
  if (p->info.n_bindings > l->maxPerStageDescriptorStorageBuffers)
    return fail(TG_ERR_LOAD, "vulkan: load %s: the kernel binds %u storage buffers; VULKAN:%d allows %u (maxPerStageDescriptorStorageBuffers)",
                p->name, p->info.n_bindings, d->index, l->maxPerStageDescriptorStorageBuffers);
  const uint32_t pc_max = l->maxPushConstantsSize < PUSH_MAX ? l->maxPushConstantsSize : PUSH_MAX;
  if (p->info.push_size > pc_max)
    return fail(TG_ERR_LOAD, "vulkan: load %s: the kernel's push-constant block (its vals) is %u bytes; VULKAN:%d takes %u (maxPushConstantsSize %u)",
                p->name, p->info.push_size, d->index, pc_max, l->maxPushConstantsSize);
  VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = size, .pCode = code};
  VK_TRY(vk.CreateShaderModule(d->dev, &mi, NULL, &p->mod), "vulkan: load %s: vkCreateShaderModule", p->name);
  VkDescriptorSetLayoutBinding bind[64], *bp = p->info.n_bindings <= 64 ? bind : calloc(p->info.n_bindings, sizeof(*bp));
  if (bp == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "vulkan: load %s: out of host memory", p->name);
  for (uint32_t i = 0; i < p->info.n_bindings; i++)
    bp[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 1,
                                           .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
  VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = p->info.n_bindings, .pBindings = bp};
  VkResult r = vk.CreateDescriptorSetLayout(d->dev, &li, NULL, &p->dsl);
  if (bp != bind) free(bp);
  if (r != VK_SUCCESS) return vk_fail(d, TG_ERR_LOAD, r, "vulkan: load %s: vkCreateDescriptorSetLayout", p->name);
  VkPushConstantRange pc = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = p->info.push_size};
  VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &p->dsl,
                                    .pushConstantRangeCount = p->info.push_size ? 1 : 0, .pPushConstantRanges = &pc};
  VK_TRY(vk.CreatePipelineLayout(d->dev, &pli, NULL, &p->layout), "vulkan: load %s: vkCreatePipelineLayout", p->name);
  VkPipeline pipe; /* the compiled-in workgroup size: the driver checks the module now, not at the first launch */
  tg_status s = get_pipe(d, p, p->info.local, &pipe);
  return s == TG_OK || s == TG_ERR_OUT_OF_MEMORY || s == TG_ERR_DEVICE ? s : TG_ERR_LOAD;
}

static tg_status vulkan_load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  ENTER("load", dev);
  CHECK_PTR("load", blob);
  CHECK_PTR("load", name);
  CHECK_PTR("load", out);
  if (size == 0 || size % 4) return fail(TG_ERR_CORRUPT, "vulkan: load %s: a SPIR-V blob is a whole number of 32-bit words, got %zu bytes", name, size);
  uint32_t *code = malloc(size); /* the host's copy may be unaligned */
  tg_backend_program *p = calloc(1, sizeof(*p));
  if (code == NULL || p == NULL) return free(code), free(p), fail(TG_ERR_OUT_OF_MEMORY, "vulkan: load %s: out of host memory", name);
  memcpy(code, blob, size);
  snprintf(p->name, sizeof(p->name), "%s", name);
  char why[512];
  tg_status s = TG_OK;
  if (tgvk_spirv_info(code, size / 4, &p->info, why, sizeof(why)) != 0)
    s = fail(code[0] == 0x07230203u ? TG_ERR_LOAD : TG_ERR_CORRUPT, "vulkan: load %s: %s", name, why);
  if (s == TG_OK) s = load_program(dev, p, code, size);
  free(code);
  track(&p->obj, PROG_MAGIC, dev);
  if (s != TG_OK) return destroy(&p->obj), s;
  *out = p;
  return TG_OK;
}

static void vulkan_program_free(tg_backend_device *dev, tg_backend_program *prog) {
  if (is_a(prog, PROG_MAGIC, dev)) destroy(&prog->obj);
}

/* ---------------- Launch, synchronize, events ---------------- */

static tg_status check_launch(tg_backend_device *d, const tg_backend_program *p, const tg_launch_params *lp) {
  const VkPhysicalDeviceLimits *l = &d->props.limits;
  if (lp->struct_size < TG_STRUCT_SIZE(tg_launch_params, elapsed_s))
    return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: launch: params struct_size %zu < %zu", lp->struct_size, TG_STRUCT_SIZE(tg_launch_params, elapsed_s));
  if ((lp->n_bufs && lp->bufs == NULL) || (lp->n_vals && lp->vals == NULL))
    return fail(TG_ERR_NULL_POINTER, "vulkan: launch %s: bufs or vals is NULL with n_bufs %zu, n_vals %zu", p->name, lp->n_bufs, lp->n_vals);
  for (size_t i = 0; i < lp->n_bufs; i++)
    if (!is_a(lp->bufs[i], BUF_MAGIC, d)) return fail(TG_ERR_INVALID_HANDLE, "vulkan: launch %s: bufs[%zu] is not a buffer of VULKAN:%d", p->name, i, d->index);
  if (lp->n_bufs != p->info.n_bindings)
    return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: launch %s: the kernel binds %u storage buffers (bindings 0..%d), the launch passes %zu", p->name,
                p->info.n_bindings, (int)p->info.n_bindings - 1, lp->n_bufs);
  size_t vsz = d->i64 ? 8 : 4;
  if (lp->n_vals * vsz != p->info.push_size)
    return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: launch %s: the kernel's push-constant block is %u bytes, the launch passes %zu vals of %zu bytes "
                "(%s each on this device)", p->name, p->info.push_size, lp->n_vals, vsz, d->i64 ? "int64_t" : "int");
  uint64_t threads = (uint64_t)lp->local[0] * lp->local[1] * lp->local[2];
  for (int k = 0; k < 3; k++) {
    if (lp->global[k] == 0 || lp->local[k] == 0 || lp->global[k] > l->maxComputeWorkGroupCount[k] || lp->local[k] > l->maxComputeWorkGroupSize[k] ||
        threads > l->maxComputeWorkGroupInvocations)
      return fail(lp->global[k] && lp->local[k] ? TG_ERR_OUT_OF_RANGE : TG_ERR_INVALID_ARGUMENT,
                  "vulkan: launch %s: global (%u,%u,%u) / local (%u,%u,%u) outside VULKAN:%d's maxComputeWorkGroupCount (%u,%u,%u) / "
                  "maxComputeWorkGroupSize (%u,%u,%u), maxComputeWorkGroupInvocations %u", p->name, lp->global[0], lp->global[1], lp->global[2],
                  lp->local[0], lp->local[1], lp->local[2], d->index, l->maxComputeWorkGroupCount[0], l->maxComputeWorkGroupCount[1],
                  l->maxComputeWorkGroupCount[2], l->maxComputeWorkGroupSize[0], l->maxComputeWorkGroupSize[1], l->maxComputeWorkGroupSize[2],
                  l->maxComputeWorkGroupInvocations);
    if (!p->info.spec_local[k] && lp->local[k] != p->info.local[k])
      return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: launch %s: local (%u,%u,%u), but the kernel fixes local_size (%u,%u,%u); declare "
                  "`layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;` to take it from the launch", p->name, lp->local[0],
                  lp->local[1], lp->local[2], p->info.local[0], p->info.local[1], p->info.local[2]);
  }
  return TG_OK;
}

static tg_status vulkan_launch(tg_backend_device *d, tg_backend_program *prog, const tg_launch_params *lp) {
  ENTER("launch", d);
  CHECK_PTR("launch", lp);
  if (!is_a(prog, PROG_MAGIC, d)) return fail(TG_ERR_INVALID_HANDLE, "vulkan: launch: bad program handle %p", (void *)prog);
  tg_status s = check_launch(d, prog, lp);
  uint8_t pc[PUSH_MAX];
  for (size_t i = 0; s == TG_OK && i < lp->n_vals; i++) {
    if (d->i64) memcpy(pc + 8 * i, &lp->vals[i], 8);
    else if (lp->vals[i] < INT32_MIN || lp->vals[i] > INT32_MAX)
      s = fail(TG_ERR_OUT_OF_RANGE, "vulkan: launch %s: vals[%zu] = %lld does not fit the int32 push constants of VULKAN:%d (no shaderInt64)",
               prog->name, i, (long long)lp->vals[i], d->index);
    else memcpy(pc + 4 * i, &(int32_t){(int32_t)lp->vals[i]}, 4);
  }
  VkPipeline pipe;
  vk_slot *sl;
  if (s != TG_OK || (s = get_pipe(d, prog, lp->local, &pipe)) != TG_OK || (s = begin(d, &sl)) != TG_OK) return s;
  uint32_t n = prog->info.n_bindings;
  VkDescriptorSet set = VK_NULL_HANDLE;
  if (n > 0 && sl->pool_cap < n) { /* each slot's pool holds one set; grown for the widest kernel */
    if (sl->pool) vk.DestroyDescriptorPool(d->dev, sl->pool, NULL), sl->pool = VK_NULL_HANDLE, sl->pool_cap = 0;
    VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = n < 16 ? 16 : n};
    VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1, .poolSizeCount = 1, .pPoolSizes = &ps};
    VK_TRY(vk.CreateDescriptorPool(d->dev, &pi, NULL, &sl->pool), "vulkan: launch %s: vkCreateDescriptorPool", prog->name);
    sl->pool_cap = ps.descriptorCount;
  }
  if (n > 0) {
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, .descriptorPool = sl->pool, .descriptorSetCount = 1,
                                      .pSetLayouts = &prog->dsl};
    VK_TRY(vk.AllocateDescriptorSets(d->dev, &ai, &set), "vulkan: launch %s: vkAllocateDescriptorSets", prog->name);
    VkDescriptorBufferInfo bi[64], *bip = n <= 64 ? bi : calloc(n, sizeof(*bip));
    VkWriteDescriptorSet w[64], *wp = n <= 64 ? w : calloc(n, sizeof(*wp));
    if (bip == NULL || wp == NULL) return bip != bi ? free(bip) : (void)0, wp != w ? free(wp) : (void)0, fail(TG_ERR_OUT_OF_MEMORY, "vulkan: launch: out of host memory");
    for (uint32_t i = 0; i < n; i++) {
      const tg_backend_buffer *b = lp->bufs[i];
      bip[i] = (VkDescriptorBufferInfo){.buffer = b->buf, .offset = b->off, .range = b->size ? b->size : VK_WHOLE_SIZE};
      wp[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set, .dstBinding = i, .descriptorCount = 1,
                                     .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &bip[i]};
    }
    vk.UpdateDescriptorSets(d->dev, n, wp, 0, NULL);
    if (bip != bi) free(bip);
    if (wp != w) free(wp);
  }
  int timed = lp->wait && lp->elapsed_s && d->tq;
  vk.CmdBindPipeline(sl->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
  if (n > 0) vk.CmdBindDescriptorSets(sl->cb, VK_PIPELINE_BIND_POINT_COMPUTE, prog->layout, 0, 1, &set, 0, NULL);
  if (prog->info.push_size) vk.CmdPushConstants(sl->cb, prog->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, prog->info.push_size, pc);
  if (timed) vk.CmdResetQueryPool(sl->cb, d->tq, 0, 2), vk.CmdWriteTimestamp(sl->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, d->tq, 0);
  vk.CmdDispatch(sl->cb, lp->global[0], lp->global[1], lp->global[2]);
  if (timed) vk.CmdWriteTimestamp(sl->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, d->tq, 1);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if ((s = submit(d, sl, prog->name)) != TG_OK) return s;
  prog->used = sl->serial;
  for (size_t i = 0; i < lp->n_bufs; i++) lp->bufs[i]->base->used = sl->serial;
  if (!lp->wait || (s = retire(d, sl)) != TG_OK) return s;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  uint64_t ts[2];
  if (timed && vk.GetQueryPoolResults(d->dev, d->tq, 0, 2, sizeof(ts), ts, 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
    uint64_t mask = d->ts_bits >= 64 ? UINT64_MAX : (1ull << d->ts_bits) - 1;
    *lp->elapsed_s = (double)((ts[1] - ts[0]) & mask) * d->props.limits.timestampPeriod * 1e-9;
  } else if (lp->elapsed_s) {
    *lp->elapsed_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  }
  return TG_OK;
}

static tg_status vulkan_synchronize(tg_backend_device *dev) {
  ENTER("synchronize", dev);
  return wait_serial(dev, dev->serial);
}

static tg_status vulkan_event_create(tg_backend_device *dev, tg_backend_event **out) {
  ENTER("event_create", dev);
  CHECK_PTR("event_create", out);
  if (dev->ts_bits == 0)
    return fail(TG_ERR_UNSUPPORTED, "vulkan: event_create: VULKAN:%d's compute queue has no timestamps (timestampValidBits 0)", dev->index);
  tg_backend_event *e = calloc(1, sizeof(*e));
  if (e == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "vulkan: event_create: out of host memory");
  VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 1};
  VkResult r = vk.CreateQueryPool(dev->dev, &qi, NULL, &e->qp);
  if (r != VK_SUCCESS) return free(e), vk_fail(dev, TG_ERR_DEVICE, r, "vulkan: event_create: vkCreateQueryPool");
  track(&e->obj, EVENT_MAGIC, dev);
  *out = e;
  return TG_OK;
}

static tg_status vulkan_event_record(tg_backend_device *dev, tg_backend_event *ev) {
  ENTER("event_record", dev);
  CHECK_OBJ("event_record", ev, EVENT_MAGIC, "event");
  vk_slot *sl;
  tg_status s = wait_serial(dev, ev->serial); /* a re-record must not reset a query still in flight */
  if (s != TG_OK || (s = begin(dev, &sl)) != TG_OK) return s;
  vk.CmdResetQueryPool(sl->cb, ev->qp, 0, 1);
  vk.CmdWriteTimestamp(sl->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, ev->qp, 0);
  if ((s = submit(dev, sl, "event_record")) != TG_OK) return s;
  ev->serial = sl->serial, ev->recorded = 1;
  return TG_OK;
}

static tg_status vulkan_event_synchronize(tg_backend_device *dev, tg_backend_event *ev) {
  ENTER("event_synchronize", dev);
  CHECK_OBJ("event_synchronize", ev, EVENT_MAGIC, "event");
  return wait_serial(dev, ev->serial);
}

static tg_status vulkan_event_elapsed(tg_backend_device *d, tg_backend_event *start, tg_backend_event *end, double *out_seconds) {
  ENTER("event_elapsed", d);
  tg_backend_device *dev = d;
  CHECK_PTR("event_elapsed", out_seconds);
  CHECK_OBJ("event_elapsed", start, EVENT_MAGIC, "event");
  CHECK_OBJ("event_elapsed", end, EVENT_MAGIC, "event");
  if (!start->recorded || !end->recorded)
    return fail(TG_ERR_INVALID_ARGUMENT, "vulkan: event_elapsed: the %s event was never recorded", start->recorded ? "end" : "start");
  tg_status s = wait_serial(d, start->serial > end->serial ? start->serial : end->serial);
  if (s != TG_OK) return s;
  uint64_t t[2];
  const VkQueryResultFlags fl = VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT;
  VK_TRY(vk.GetQueryPoolResults(d->dev, start->qp, 0, 1, 8, &t[0], 8, fl), "vulkan: event_elapsed: vkGetQueryPoolResults");
  VK_TRY(vk.GetQueryPoolResults(d->dev, end->qp, 0, 1, 8, &t[1], 8, fl), "vulkan: event_elapsed: vkGetQueryPoolResults");
  uint64_t mask = d->ts_bits >= 64 ? UINT64_MAX : (1ull << d->ts_bits) - 1;
  *out_seconds = (double)((t[1] - t[0]) & mask) * d->props.limits.timestampPeriod * 1e-9;
  return TG_OK;
}

static void vulkan_event_free(tg_backend_device *dev, tg_backend_event *ev) {
  if (is_a(ev, EVENT_MAGIC, dev)) destroy(&ev->obj);
}

/* ---------------- Entry and shutdown ---------------- */

static void vulkan_shutdown(void) {
  for (int i = 0; i < g_ndev; i++)
    if (g_devs[i].refs > 0) g_devs[i].refs = 0, close_device(&g_devs[i]); /* frees whatever the host did not */
  g_host = NULL; /* the instance stays: the library may be entered again */
}

static tg_backend_api g_api = {
  .struct_size = sizeof(tg_backend_api), .shutdown = vulkan_shutdown,
  .device_count = vulkan_device_count, .device_properties = vulkan_device_properties, .device_caps = vulkan_device_caps,
  .device_open = vulkan_device_open, .device_close = vulkan_device_close,
  .alloc = vulkan_alloc, .free = vulkan_free, .copyin = vulkan_copyin, .copyout = vulkan_copyout,
  .compile = vulkan_compile, .blob_free = vulkan_blob_free, .load = vulkan_load, .program_free = vulkan_program_free,
  .launch = vulkan_launch, .synchronize = vulkan_synchronize, .buffer_view = vulkan_buffer_view,
  .transfer = NULL, /* not yet: copies between two Vulkan devices go through the host */
  .event_create = vulkan_event_create, .event_record = vulkan_event_record, .event_synchronize = vulkan_event_synchronize,
  .event_elapsed = vulkan_event_elapsed, .event_free = vulkan_event_free};

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
