/* fake_hip.c -- a stand-in for libamdhip64 (runtime + ROCm 5's built-in hiprtc) that records every call, so the plugin's
** host logic (discovery, caps, argument packing, launch dimensions, error paths) is tested with no AMD GPU. Built by
** tests/conftest.py; selected with TGC_HIP_PATH and TGC_HIPRTC_PATH.
**   FAKE_HIP_LOG=FILE      append one line per call: "hipMalloc 4096 -> 0 0x..."
**   FAKE_HIP_DEVICES=N     device count (default 1; 0: hipGetDeviceCount returns hipErrorNoDevice)
**   FAKE_HIP_ARCH=S        gcnArchName (default "gfx90a:sramecc+:xnack-")
**   FAKE_HIP_MEM=BYTES     device memory (default 1 GiB); hipMalloc beyond what is free fails with hipErrorOutOfMemory
**   FAKE_HIP_FAIL=NAME=CODE[,NAME=CODE]   that call returns CODE
** Memory is host memory. "Compiling" wraps the source in an ELF-looking blob; a loaded kernel's parameters are parsed from
** its source, and a launch logs each argument as the kernel reads it (8 bytes for pointers and long long, else 4). Kernels
** named fake_add run on the host: out[i] = a[i] + b[i] (float) for i < the val n, over global*local threads.
** Built with -DFAKE_R0600: ROCm 6's hipGetDevicePropertiesR0600 (gcnArchName at byte 1160) next to ROCm 5's (396). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API __attribute__((visibility("default")))
typedef int hipError_t;
enum { OK = 0, E_INVALID_VALUE = 1, E_OOM = 2, E_NO_DEVICE = 100, E_INVALID_DEVICE = 101, E_INVALID_IMAGE = 200, E_NOT_FOUND = 500 };

static int ndev(void) { const char *e = getenv("FAKE_HIP_DEVICES"); return e ? atoi(e) : 1; }
static const char *arch(void) { const char *e = getenv("FAKE_HIP_ARCH"); return e ? e : "gfx90a:sramecc+:xnack-"; }
static size_t mem_total(void) { const char *e = getenv("FAKE_HIP_MEM"); return e ? strtoull(e, NULL, 10) : (size_t)1 << 30; }
static size_t g_used;

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...) {
  const char *path = getenv("FAKE_HIP_LOG");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fclose(f);
}

/* FAKE_HIP_FAIL=hipMalloc=2,hipModuleLoadData=200 */
static hipError_t injected(const char *fn) {
  const char *e = getenv("FAKE_HIP_FAIL");
  size_t n = strlen(fn);
  for (const char *p = e; p && *p;) {
    if (strncmp(p, fn, n) == 0 && p[n] == '=') return atoi(p + n + 1);
    p = strchr(p, ',');
    p = p ? p + 1 : NULL;
  }
  return OK;
}
#define RET(fn, fmt, ...) do { hipError_t r_ = injected(fn); logf_("%s " fmt " -> %d", fn, __VA_ARGS__, r_); if (r_) return r_; } while (0)

API const char *hipGetErrorName(hipError_t r) {
  switch (r) {
  case OK: return "hipSuccess";
  case E_INVALID_VALUE: return "hipErrorInvalidValue";
  case E_OOM: return "hipErrorOutOfMemory";
  case E_NO_DEVICE: return "hipErrorNoDevice";
  case E_INVALID_DEVICE: return "hipErrorInvalidDevice";
  case E_INVALID_IMAGE: return "hipErrorInvalidImage";
  case E_NOT_FOUND: return "hipErrorNotFound";
  default: return "hipErrorUnknown";
  }
}
API const char *hipGetErrorString(hipError_t r) { return r == E_NO_DEVICE ? "no ROCm-capable device is detected" : r == E_OOM ? "out of memory" : "fake error"; }

API hipError_t hipInit(unsigned flags) { RET("hipInit", "%u", flags); return OK; }
API hipError_t hipDriverGetVersion(int *v) { *v = 50221153; return OK; }
API hipError_t hipRuntimeGetVersion(int *v) { *v = 50221153; return OK; }
API hipError_t hipGetDeviceCount(int *n) {
  *n = ndev();
  RET("hipGetDeviceCount", "%d", *n);
  return *n > 0 ? OK : E_NO_DEVICE;
}
static int g_cur;
API hipError_t hipSetDevice(int d) {
  if (d < 0 || d >= ndev()) return E_INVALID_DEVICE;
  if (d != g_cur) logf_("hipSetDevice %d -> 0", d);
  g_cur = d;
  return OK;
}
API hipError_t hipDeviceGetName(char *name, int len, int d) { snprintf(name, (size_t)len, "Fake AMD Instinct %d", d); return OK; }
API hipError_t hipDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  switch (attr) {
  case 26: case 27: case 28: *v = 1024; break;               /* max block dims */
  case 29: *v = 2147483647; break;                           /* grid x */
  case 30: case 31: *v = 2147483647; break;                  /* grid y, z: AMD reports 2^31-1, tinygrad caps at 65535 */
  case 56: *v = 1024; break;                                 /* threads per block */
  case 74: *v = 65536; break;                                /* shared per block */
  case 63: *v = 104; break;                                  /* CUs */
  case 87: *v = 64; break;                                   /* wavefront */
  default: return E_INVALID_VALUE;
  }
  return injected("hipDeviceGetAttribute");
}
API hipError_t hipDeviceTotalMem(size_t *b, int d) { (void)d; *b = mem_total(); return OK; }
API hipError_t hipGetDeviceProperties(void *props, int d) {
  memset(props, 0, 792);
  hipDeviceGetName(props, 256, d);
  snprintf((char *)props + 396, 256, "%s", arch());
  return OK;
}
#ifdef FAKE_R0600
API hipError_t hipGetDevicePropertiesR0600(void *props, int d) {
  memset(props, 0, 1472);
  hipDeviceGetName(props, 256, d);
  snprintf((char *)props + 1160, 256, "%s", arch());
  return OK;
}
#endif
API hipError_t hipDeviceSynchronize(void) { RET("hipDeviceSynchronize", "%s", ""); return OK; }
API hipError_t hipMemGetInfo(size_t *f, size_t *t) { *t = mem_total(), *f = *t - g_used; return OK; }

typedef struct { size_t size; char data[]; } fake_alloc;
API hipError_t hipMalloc(void **p, size_t n) {
  hipError_t r = injected("hipMalloc");
  if (!r && n > mem_total() - g_used) r = E_OOM;
  fake_alloc *a = r ? NULL : calloc(1, sizeof(fake_alloc) + n);
  if (!r && !a) r = E_OOM;
  if (a) a->size = n, g_used += n, *p = a->data;
  logf_("hipMalloc %zu -> %d %p", n, r, a ? (void *)a->data : NULL);
  return r;
}
API hipError_t hipFree(void *p) {
  logf_("hipFree %p -> 0", p);
  if (p) {
    fake_alloc *a = (fake_alloc *)((char *)p - offsetof(fake_alloc, data));
    g_used -= a->size;
    free(a);
  }
  return OK;
}
API hipError_t hipMemcpy(void *dst, const void *src, size_t n, int kind) {
  RET("hipMemcpy", "%p %p %zu %d", dst, src, n, kind);
  memcpy(dst, src, n);
  return OK;
}

/* ---------------- hiprtc (ROCm 5 builds it into libamdhip64) ---------------- */

typedef struct { char *src, *log, *code; size_t code_size; } fake_prog;
API int hiprtcVersion(int *major, int *minor) { *major = 5, *minor = 2; return 0; }
API const char *hiprtcGetErrorString(int r) { return r == 6 ? "HIPRTC_ERROR_COMPILATION" : r ? "HIPRTC_ERROR" : "HIPRTC_SUCCESS"; }
API int hiprtcCreateProgram(fake_prog **p, const char *src, const char *name, int nh, const char **h, const char **hn) {
  (void)nh, (void)h, (void)hn;
  *p = calloc(1, sizeof(fake_prog));
  (*p)->src = strdup(src);
  logf_("hiprtcCreateProgram %s -> 0", name);
  return 0;
}
API int hiprtcCompileProgram(fake_prog *p, int n, const char **opts) {
  char all[512] = "";
  for (int i = 0; i < n; i++) snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s", i ? " " : "", opts[i]);
  const char *err = strstr(p->src, "#error");
  logf_("hiprtcCompileProgram %s -> %d", all, err ? 6 : 0);
  if (err) {
    p->log = strdup("fake.hip:1:2: error: the source says #error\n1 error generated.\n");
    return 6;
  }
  p->code_size = 4 + strlen(p->src) + 1;
  p->code = malloc(p->code_size);
  memcpy(p->code, "\177ELF", 4), strcpy(p->code + 4, p->src);
  return 0;
}
API int hiprtcGetCodeSize(fake_prog *p, size_t *n) { *n = p->code_size; return 0; }
API int hiprtcGetCode(fake_prog *p, char *code) { memcpy(code, p->code, p->code_size); return 0; }
API int hiprtcGetProgramLogSize(fake_prog *p, size_t *n) { *n = p->log ? strlen(p->log) + 1 : 0; return 0; }
API int hiprtcGetProgramLog(fake_prog *p, char *log) { if (p->log) strcpy(log, p->log); return 0; }
API int hiprtcDestroyProgram(fake_prog **p) {
  if (*p) free((*p)->src), free((*p)->log), free((*p)->code), free(*p), *p = NULL;
  return 0;
}

/* ---------------- Modules and launches ---------------- */

typedef struct { char *src; } fake_module;
typedef struct { fake_module *mod; char name[64]; int nparams, sizes[64], max_threads, shared; } fake_function;

API hipError_t hipModuleLoadData(fake_module **m, const void *image) {
  hipError_t r = injected("hipModuleLoadData");
  if (!r && memcmp(image, "\177ELF", 4) != 0) r = E_INVALID_IMAGE;
  logf_("hipModuleLoadData -> %d", r);
  if (r) return r;
  *m = calloc(1, sizeof(fake_module));
  (*m)->src = strdup((const char *)image + 4);
  return OK;
}
API hipError_t hipModuleUnload(fake_module *m) {
  logf_("hipModuleUnload -> 0");
  free(m->src), free(m);
  return OK;
}
/* "void NAME(float* a, const float* b, long long n)": parameter sizes as the kernel's metadata would give them */
API hipError_t hipModuleGetFunction(fake_function **f, fake_module *m, const char *name) {
  char pat[80];
  snprintf(pat, sizeof(pat), " %s(", name);
  const char *p = strstr(m->src, pat);
  logf_("hipModuleGetFunction %s -> %d", name, p ? 0 : E_NOT_FOUND);
  if (!p) return E_NOT_FOUND;
  fake_function *fn = calloc(1, sizeof(*fn));
  fn->mod = m, fn->max_threads = 1024;
  snprintf(fn->name, sizeof(fn->name), "%s", name);
  const char *s = p + strlen(pat), *end = strchr(s, ')');
  while (s && end && s < end && fn->nparams < 64) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *stop = comma ? comma : end;
    char param[128];
    snprintf(param, sizeof(param), "%.*s", (int)(stop - s), s);
    if (strspn(param, " ") < strlen(param)) fn->sizes[fn->nparams++] = strchr(param, '*') || strstr(param, "long") ? 8 : 4;
    s = comma ? comma + 1 : NULL;
  }
  const char *lb = strstr(m->src, "amdgpu_flat_work_group_size(1, ");
  if (lb) fn->max_threads = atoi(lb + strlen("amdgpu_flat_work_group_size(1, "));
  const char *sh = strstr(m->src, "/* shared: ");
  if (sh) fn->shared = atoi(sh + strlen("/* shared: "));
  *f = fn;
  return OK;
}
API hipError_t hipFuncGetAttribute(int *v, int attr, fake_function *f) {
  if (attr == 0) *v = f->max_threads;
  else if (attr == 1) *v = f->shared;
  else return E_INVALID_VALUE;
  return OK;
}
API hipError_t hipModuleLaunchKernel(fake_function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                     unsigned shared, void *stream, void **params, void **extra) {
  char args[2048] = "";
  int64_t vals[64];
  for (int i = 0; i < f->nparams; i++) {
    int64_t v = 0;
    memcpy(&v, params[i], (size_t)f->sizes[i]);
    vals[i] = f->sizes[i] == 4 ? (int64_t)(int32_t)v : v;
    snprintf(args + strlen(args), sizeof(args) - strlen(args), "%s%s%llx", i ? "," : "", f->sizes[i] == 8 ? "0x" : "i", (unsigned long long)v);
  }
  hipError_t r = injected("hipModuleLaunchKernel");
  logf_("hipModuleLaunchKernel %s grid=%u,%u,%u block=%u,%u,%u shared=%u stream=%p extra=%p args=%s -> %d", f->name, gx, gy, gz, bx, by, bz,
        shared, stream, (void *)extra, args, r);
  if (r) return r;
  if (strcmp(f->name, "fake_add") == 0 && f->nparams == 4) {
    float *out = (float *)(intptr_t)vals[0], *a = (float *)(intptr_t)vals[1], *b = (float *)(intptr_t)vals[2];
    for (int64_t i = 0; i < vals[3] && i < (int64_t)gx * gy * gz * bx * by * bz; i++) out[i] = a[i] + b[i];
  }
  return OK;
}

/* ---------------- Events: a counter stands in for the clock ---------------- */

typedef struct { int id; double t; } fake_event;
static int g_events;
API hipError_t hipEventCreate(fake_event **e) {
  RET("hipEventCreate", "%d", g_events);
  *e = calloc(1, sizeof(fake_event));
  (*e)->id = g_events++;
  return OK;
}
API hipError_t hipEventRecord(fake_event *e, void *s) { (void)s; static double clock; e->t = clock += 0.5; logf_("hipEventRecord %d -> 0", e->id); return OK; }
API hipError_t hipEventSynchronize(fake_event *e) { RET("hipEventSynchronize", "%d", e->id); return OK; }
API hipError_t hipEventElapsedTime(float *ms, fake_event *a, fake_event *b) { *ms = (float)(b->t - a->t); return OK; }
API hipError_t hipEventDestroy(fake_event *e) { logf_("hipEventDestroy %d -> 0", e->id); free(e); return OK; }
