/* fake_metal.c -- a stand-in for libobjc + Metal.framework on Linux x86-64, so the plugin's host logic (discovery,
** caps, compile/load, argument binding, dispatch sizes, waits, errors, reference counts) is tested with no Mac. Built by
** tests/conftest.py; selected with TGC_METAL_OBJC and TGC_METAL_FRAMEWORK (both this file).
**
** objc_msgSend is what the real runtime is: a trampoline that looks the method up by (receiver, selector) and jumps to
** it with the caller's registers and stack untouched, so each method below is a C function with the exact prototype the
** plugin casts objc_msgSend to, and it sees the real arguments (MTLSize by value included). Every send is logged:
**   "-[MTLBuffer#4 contents] -> 0x..."   "+[NSString alloc] -> NSString#2"   "-[MTLComputeCommandEncoder#9 setBytes:length:atIndex:] 0x3e8 8 3"
** Objects are reference counted as Objective-C's are: alloc/new/copy give +1, other getters +0 (put in the innermost
** autorelease pool, released at its pop); at exit the log gets "live: N ..." (objects never released).
**   FAKE_METAL_LOG=FILE            append the log there
**   FAKE_METAL_DEVICE=0            MTLCreateSystemDefaultDevice returns nil
**   FAKE_METAL_FAMILY=N | macN     the highest GPU family supported (default 7: Apple7)
**   FAKE_METAL_MEM=BYTES           recommendedMaxWorkingSetSize (default 1 GiB); a new buffer past it is nil
**   FAKE_METAL_MAX_THREADS=N       a pipeline's maxTotalThreadsPerThreadgroup (default 1024)
**   FAKE_METAL_FAIL=SEL[,SEL]      that method fails: nil with an NSError, or for commit a command buffer whose error is set
** Kernels named fake_add run on the host at dispatch: out[i] = a[i] + b[i] (float) for i < the int val n. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__) || !defined(__linux__)
#error "fake_metal.c: the objc_msgSend trampoline is written for Linux x86-64"
#endif

#define API __attribute__((visibility("default")))
typedef unsigned long NSUInteger;
typedef struct { NSUInteger width, height, depth; } MTLSize;
typedef const char *SEL;

typedef struct fobj {
  const char *cls;
  int is_class, refs, serial;
  char *str;           /* NSString text, library source, function name, NSError text, command buffer label */
  char *mem;           /* MTLBuffer contents */
  size_t len;
  struct fobj *ref;    /* function -> library, pipeline -> function, encoder -> command buffer */
  struct fobj *pipeline, *bufs[31], *error;
  NSUInteger offsets[31];
  unsigned char bytes[31][8];
  int fast_math;
  struct fobj *next_live;
} fobj;

/* ---------------- Log, knobs, objects ---------------- */

__attribute__((format(printf, 1, 2))) static void logf_(const char *fmt, ...) {
  const char *path = getenv("FAKE_METAL_LOG");
  FILE *f = path ? fopen(path, "a") : NULL;
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fclose(f);
}

static long env_num(const char *name, long dflt) { const char *e = getenv(name); return e && *e ? strtol(e, NULL, 0) : dflt; }
static int failing(const char *sel) {
  const char *e = getenv("FAKE_METAL_FAIL");
  size_t n = strlen(sel);
  for (const char *p = e; p && *p;) {
    if (strncmp(p, sel, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
    p = strchr(p, ',');
    p = p ? p + 1 : NULL;
  }
  return 0;
}

static int g_serial;
static size_t g_used;
static fobj *g_live;
static const char *name_of(const fobj *o) {
  static __thread char buf[4][64];
  static __thread int k;
  if (o == NULL) return "nil";
  char *b = buf[k++ % 4];
  if (o->is_class) snprintf(b, 64, "%s", o->cls);
  else snprintf(b, 64, "%s#%d", o->cls, o->serial);
  return b;
}

static fobj *make(const char *cls) {
  fobj *o = calloc(1, sizeof(fobj));
  o->cls = cls, o->refs = 1, o->serial = ++g_serial;
  o->next_live = g_live, g_live = o;
  return o;
}

static void obj_release(fobj *o);
static void dealloc(fobj *o) {
  if (strcmp(o->cls, "MTLFunction") == 0 || strcmp(o->cls, "MTLComputePipelineState") == 0) obj_release(o->ref);
  obj_release(o->error);
  for (fobj **p = &g_live; *p; p = &(*p)->next_live)
    if (*p == o) { *p = o->next_live; break; }
  if (o->mem) g_used -= o->len;
  free(o->str), free(o->mem);
  free(o);
}

/* ---------------- Autorelease pools ---------------- */

#define POOL_MAX 4096
static fobj *g_pool[POOL_MAX];
static int g_pool_n, g_pool_depth;
API void *objc_autoreleasePoolPush(void) {
  g_pool_depth++;
  return (void *)(intptr_t)(g_pool_n + 1); /* the mark: objects above it belong to this pool */
}
static void obj_release(fobj *o);
API void objc_autoreleasePoolPop(void *mark) {
  int m = (int)(intptr_t)mark - 1;
  while (g_pool_n > m) obj_release(g_pool[--g_pool_n]);
  g_pool_depth--;
}
static fobj *autoreleased(fobj *o) {
  if (o == NULL) return NULL;
  if (g_pool_depth == 0 || g_pool_n == POOL_MAX) logf_("objc: %s autoreleased with no pool in place - just leaking", name_of(o));
  else g_pool[g_pool_n++] = o;
  return o;
}
static void obj_release(fobj *o) {
  if (o && !o->is_class && --o->refs == 0) dealloc(o);
}

static fobj *nsstring(const char *s) { fobj *o = make("NSString"); o->str = strdup(s); return o; }
static fobj *nserror(const char *text) { fobj *e = make("NSError"); e->str = strdup(text); return autoreleased(e); }

/* a source or string for the log: first line, escaped, cut */
static const char *brief(const char *s) {
  static __thread char buf[2][96];
  static __thread int k;
  char *b = buf[k++ % 2];
  size_t j = 0;
  for (const char *p = s; p && *p && j < 60; p++) {
    if (*p == '\n') b[j++] = '\\', b[j++] = 'n';
    else b[j++] = *p;
  }
  b[j] = '\0';
  return b;
}

/* ---------------- Methods ---------------- */

#define SELF fobj *self, SEL _cmd
#define LOG(fmt, ...) logf_("%s[%s %s]" fmt, self->is_class ? "+" : "-", name_of(self), _cmd, ##__VA_ARGS__)

static fobj *m_retain(SELF) { self->refs++; LOG(" -> %d", self->refs); return self; }
static void m_release(SELF) { LOG(" -> %d", self->refs - 1); obj_release(self); }
static fobj *m_alloc(SELF) { fobj *o = make(self->cls); LOG(" -> %s", name_of(o)); return o; }
static fobj *m_init(SELF) { LOG(" -> %s", name_of(self)); return self; }
static fobj *m_initWithUTF8String(SELF, const char *s) { self->str = strdup(s); LOG(" \"%s\" -> %s", brief(s), name_of(self)); return self; }
static const char *m_UTF8String(SELF) { LOG(" -> \"%s\"", brief(self->str)); return self->str; }
static fobj g_process_info = {.cls = "NSProcessInfo", .refs = 1, .serial = 0};
static fobj *m_processInfo(SELF) { LOG(" -> NSProcessInfo#0"); return &g_process_info; }
static fobj *m_osVersion(SELF) { fobj *o = autoreleased(nsstring("Version 14.5 (Build 23F79)")); LOG(" -> %s", name_of(o)); return o; }
static void m_setFastMathEnabled(SELF, unsigned char on) { self->fast_math = on; LOG(" %d", on); }

/* MTLDevice */
static fobj *m_name(SELF) { fobj *o = autoreleased(nsstring("Fake Apple M1")); LOG(" -> %s", name_of(o)); return o; }
static unsigned char m_supportsFamily(SELF, long family) {
  const char *e = getenv("FAKE_METAL_FAMILY");
  long top = e && strncmp(e, "mac", 3) == 0 ? 2000 + atol(e + 3) : 1000 + env_num("FAKE_METAL_FAMILY", 7);
  unsigned char ok = (family / 1000 == top / 1000) && family <= top;
  LOG(" %ld -> %d", family, ok);
  return ok;
}
static NSUInteger m_maxThreadgroupMemoryLength(SELF) { LOG(" -> 32768"); return 32768; }
static uint64_t m_recommendedMaxWorkingSetSize(SELF) { uint64_t m = (uint64_t)env_num("FAKE_METAL_MEM", 1l << 30); LOG(" -> %lu", m); return m; }
static NSUInteger m_maxBufferLength(SELF) { LOG(" -> %lu", 1ul << 30); return 1ul << 30; }
static fobj *m_newCommandQueue(SELF, NSUInteger n) { fobj *q = make("MTLCommandQueue"); LOG(" %lu -> %s", n, name_of(q)); return q; }
static fobj *m_newBuffer(SELF, NSUInteger len, NSUInteger opts) {
  fobj *b = NULL;
  if (!failing(_cmd) && g_used + len <= (size_t)env_num("FAKE_METAL_MEM", 1l << 30)) {
    b = make("MTLBuffer");
    b->mem = calloc(1, len + 16), b->len = len, g_used += len;
  }
  LOG(" %lu %lu -> %s", len, opts, name_of(b));
  return b;
}
static fobj *m_newLibrary(SELF, fobj *src, fobj *opts, fobj **err) {
  fobj *lib = NULL;
  if (strstr(src->str, "#error")) *err = nserror("program_source:1:2: error: the source says #error");
  else if (failing(_cmd)) *err = nserror("fake compiler failure");
  else lib = make("MTLLibrary"), lib->str = strdup(src->str);
  LOG(" %s %s(fastMath=%d) -> %s error=%s", name_of(src), name_of(opts), opts ? opts->fast_math : -1, name_of(lib), err && *err ? name_of(*err) : "nil");
  return lib;
}
static fobj *m_newFunctionWithName(SELF, fobj *name) {
  char pat[160];
  snprintf(pat, sizeof(pat), "kernel void %s(", name->str);
  fobj *f = strstr(self->str, pat) ? make("MTLFunction") : NULL;
  if (f) f->str = strdup(name->str), f->ref = self, self->refs++;
  LOG(" \"%s\" -> %s", name->str, name_of(f));
  return f;
}
static fobj *m_newPipeline(SELF, fobj *fn, fobj **err) {
  fobj *p = NULL;
  if (failing(_cmd)) *err = nserror("fake pipeline failure: Compiler encountered an internal error");
  else p = make("MTLComputePipelineState"), p->ref = fn, fn->refs++;
  LOG(" %s -> %s", name_of(fn), name_of(p));
  return p;
}
static NSUInteger m_maxTotalThreads(SELF) { NSUInteger n = (NSUInteger)env_num("FAKE_METAL_MAX_THREADS", 1024); LOG(" -> %lu", n); return n; }
static NSUInteger m_threadExecutionWidth(SELF) { LOG(" -> 32"); return 32; }
static NSUInteger m_staticThreadgroupMemoryLength(SELF) { LOG(" -> 0"); return 0; }

/* buffers */
static void *m_contents(SELF) { LOG(" -> %p", (void *)self->mem); return self->mem; }

/* queue, command buffer, encoder */
static fobj *m_commandBuffer(SELF) { fobj *cb = autoreleased(make("MTLCommandBuffer")); LOG(" -> %s", name_of(cb)); return cb; }
static fobj *m_computeCommandEncoder(SELF) {
  fobj *e = autoreleased(make("MTLComputeCommandEncoder"));
  e->ref = self;
  LOG(" -> %s", name_of(e));
  return e;
}
static void m_setPipeline(SELF, fobj *p) { self->pipeline = p; LOG(" %s", name_of(p)); }
static void m_setBuffer(SELF, fobj *buf, NSUInteger off, NSUInteger i) {
  if (i < 31) self->bufs[i] = buf, self->offsets[i] = off;
  LOG(" %s %lu %lu", name_of(buf), off, i);
}
static void m_setBytes(SELF, const void *p, NSUInteger n, NSUInteger i) {
  uint64_t v = 0;
  memcpy(&v, p, n < 8 ? n : 8);
  if (i < 31) memcpy(self->bytes[i], &v, 8);
  LOG(" 0x%lx %lu %lu", (unsigned long)v, n, i);
}
static void m_dispatch(SELF, MTLSize grid, MTLSize group) {
  LOG(" grid=%lu,%lu,%lu group=%lu,%lu,%lu", grid.width, grid.height, grid.depth, group.width, group.height, group.depth);
  fobj *fn = self->pipeline ? self->pipeline->ref : NULL;
  if (fn && strcmp(fn->str, "fake_add") == 0) {
    float *out = (float *)(self->bufs[0]->mem + self->offsets[0]), *a = (float *)(self->bufs[1]->mem + self->offsets[1]);
    float *b = (float *)(self->bufs[2]->mem + self->offsets[2]);
    int n;
    memcpy(&n, self->bytes[3], 4);
    size_t total = grid.width * grid.height * grid.depth * group.width * group.height * group.depth;
    for (size_t i = 0; i < total && i < (size_t)n; i++) out[i] = a[i] + b[i];
  }
}
static void m_endEncoding(SELF) { LOG(""); }
static void m_setLabel(SELF, fobj *s) { free(self->str), self->str = strdup(s->str); LOG(" \"%s\"", s->str); }
static fobj *m_label(SELF) { fobj *o = self->str ? autoreleased(nsstring(self->str)) : NULL; LOG(" -> %s", name_of(o)); return o; }
static void m_commit(SELF) {
  if (failing(_cmd)) self->error = make("NSError"), self->error->str = strdup("Execution of the command buffer was aborted due to an error during execution. (fake)");
  LOG("");
}
static void m_waitUntilCompleted(SELF) { LOG(""); }
static fobj *m_error(SELF) { LOG(" -> %s", name_of(self->error)); return self->error; }
static double m_GPUStartTime(SELF) { LOG(" -> 100.0"); return 100.0; }
static double m_GPUEndTime(SELF) { LOG(" -> 100.25"); return 100.25; }
static fobj *m_localizedDescription(SELF) { fobj *o = autoreleased(nsstring(self->str)); LOG(" -> %s", name_of(o)); return o; }

/* ---------------- The method table and the runtime ---------------- */

typedef void (*IMP)(void);
#define M(cls, sel, fn) {cls, sel, (IMP)(fn)}
static const struct { const char *cls, *sel; IMP imp; } methods[] = {
  M("*", "retain", m_retain), M("*", "release", m_release),
  M("+NSString", "alloc", m_alloc), M("NSString", "initWithUTF8String:", m_initWithUTF8String), M("NSString", "UTF8String", m_UTF8String),
  M("+NSProcessInfo", "processInfo", m_processInfo), M("NSProcessInfo", "operatingSystemVersionString", m_osVersion),
  M("+MTLCompileOptions", "alloc", m_alloc), M("MTLCompileOptions", "init", m_init), M("MTLCompileOptions", "setFastMathEnabled:", m_setFastMathEnabled),
  M("MTLDevice", "name", m_name), M("MTLDevice", "supportsFamily:", m_supportsFamily),
  M("MTLDevice", "maxThreadgroupMemoryLength", m_maxThreadgroupMemoryLength), M("MTLDevice", "recommendedMaxWorkingSetSize", m_recommendedMaxWorkingSetSize),
  M("MTLDevice", "maxBufferLength", m_maxBufferLength), M("MTLDevice", "newCommandQueueWithMaxCommandBufferCount:", m_newCommandQueue),
  M("MTLDevice", "newBufferWithLength:options:", m_newBuffer), M("MTLDevice", "newLibraryWithSource:options:error:", m_newLibrary),
  M("MTLDevice", "newComputePipelineStateWithFunction:error:", m_newPipeline),
  M("MTLLibrary", "newFunctionWithName:", m_newFunctionWithName),
  M("MTLComputePipelineState", "maxTotalThreadsPerThreadgroup", m_maxTotalThreads),
  M("MTLComputePipelineState", "threadExecutionWidth", m_threadExecutionWidth),
  M("MTLComputePipelineState", "staticThreadgroupMemoryLength", m_staticThreadgroupMemoryLength),
  M("MTLBuffer", "contents", m_contents),
  M("MTLCommandQueue", "commandBuffer", m_commandBuffer),
  M("MTLCommandBuffer", "computeCommandEncoder", m_computeCommandEncoder), M("MTLCommandBuffer", "setLabel:", m_setLabel),
  M("MTLCommandBuffer", "label", m_label), M("MTLCommandBuffer", "commit", m_commit), M("MTLCommandBuffer", "waitUntilCompleted", m_waitUntilCompleted),
  M("MTLCommandBuffer", "error", m_error), M("MTLCommandBuffer", "GPUStartTime", m_GPUStartTime), M("MTLCommandBuffer", "GPUEndTime", m_GPUEndTime),
  M("MTLComputeCommandEncoder", "setComputePipelineState:", m_setPipeline), M("MTLComputeCommandEncoder", "setBuffer:offset:atIndex:", m_setBuffer),
  M("MTLComputeCommandEncoder", "setBytes:length:atIndex:", m_setBytes),
  M("MTLComputeCommandEncoder", "dispatchThreadgroups:threadsPerThreadgroup:", m_dispatch),
  M("MTLComputeCommandEncoder", "endEncoding", m_endEncoding),
  M("NSError", "localizedDescription", m_localizedDescription),
};

static long m_nil(void) { return 0; }
static long g_unrecognized;
static fobj *g_unknown_self;
static SEL g_unknown_sel;
static long m_unrecognized(void) {
  logf_("objc: -[%s %s]: unrecognized selector sent to instance", name_of(g_unknown_self), g_unknown_sel);
  return 0;
}

/* objc_msgSend's lookup: called by the trampoline with the caller's self and _cmd. */
__attribute__((visibility("hidden"), used)) IMP fake_objc_lookup(fobj *self, SEL sel) {
  if (self == NULL) {
    logf_("objc: [nil %s] -> 0", sel);
    return (IMP)m_nil;
  }
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    const char *c = methods[i].cls;
    int cls_method = c[0] == '+';
    if (strcmp(methods[i].sel, sel) != 0 || (c[0] != '*' && (cls_method != self->is_class || strcmp(c + cls_method, self->cls) != 0))) continue;
    return methods[i].imp;
  }
  g_unrecognized++, g_unknown_self = self, g_unknown_sel = sel;
  return (IMP)m_unrecognized;
}

/* The trampoline: keep the argument registers (6 integer, 8 vector) and the stack as they came, look the method up,
** then jump to it as if the caller had called it directly. */
__asm__(".text\n"
        ".globl objc_msgSend\n"
        ".type objc_msgSend, @function\n"
        "objc_msgSend:\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  subq $176, %rsp\n"
        "  movq %rdi, 0(%rsp)\n  movq %rsi, 8(%rsp)\n  movq %rdx, 16(%rsp)\n"
        "  movq %rcx, 24(%rsp)\n  movq %r8, 32(%rsp)\n  movq %r9, 40(%rsp)\n"
        "  movdqu %xmm0, 48(%rsp)\n  movdqu %xmm1, 64(%rsp)\n  movdqu %xmm2, 80(%rsp)\n  movdqu %xmm3, 96(%rsp)\n"
        "  movdqu %xmm4, 112(%rsp)\n  movdqu %xmm5, 128(%rsp)\n  movdqu %xmm6, 144(%rsp)\n  movdqu %xmm7, 160(%rsp)\n"
        "  call fake_objc_lookup\n"
        "  movq %rax, %r11\n"
        "  movq 0(%rsp), %rdi\n  movq 8(%rsp), %rsi\n  movq 16(%rsp), %rdx\n"
        "  movq 24(%rsp), %rcx\n  movq 32(%rsp), %r8\n  movq 40(%rsp), %r9\n"
        "  movdqu 48(%rsp), %xmm0\n  movdqu 64(%rsp), %xmm1\n  movdqu 80(%rsp), %xmm2\n  movdqu 96(%rsp), %xmm3\n"
        "  movdqu 112(%rsp), %xmm4\n  movdqu 128(%rsp), %xmm5\n  movdqu 144(%rsp), %xmm6\n  movdqu 160(%rsp), %xmm7\n"
        "  leave\n"
        "  jmp *%r11\n"
        ".size objc_msgSend, .-objc_msgSend\n");

static fobj g_classes[] = {{.cls = "NSString", .is_class = 1}, {.cls = "NSProcessInfo", .is_class = 1}, {.cls = "MTLCompileOptions", .is_class = 1}};
API fobj *objc_getClass(const char *name) {
  for (size_t i = 0; i < sizeof(g_classes) / sizeof(g_classes[0]); i++)
    if (strcmp(g_classes[i].cls, name) == 0) return &g_classes[i];
  logf_("objc_getClass %s -> nil", name);
  return NULL;
}

/* Selectors are interned names: the same pointer for the same string, as the real runtime's. */
API SEL sel_registerName(const char *name) {
  static struct sel_node { struct sel_node *next; char name[]; } *head;
  for (struct sel_node *n = head; n; n = n->next)
    if (strcmp(n->name, name) == 0) return n->name;
  struct sel_node *n = malloc(sizeof(*n) + strlen(name) + 1);
  strcpy(n->name, name), n->next = head, head = n;
  return n->name;
}

API fobj *MTLCreateSystemDefaultDevice(void) {
  fobj *d = env_num("FAKE_METAL_DEVICE", 1) ? make("MTLDevice") : NULL;
  logf_("MTLCreateSystemDefaultDevice -> %s", name_of(d));
  return d;
}

__attribute__((destructor)) static void report_live(void) {
  char list[2048] = "";
  int n = 0;
  for (fobj *o = g_live; o; o = o->next_live, n++)
    if (strlen(list) < sizeof(list) - 80) snprintf(list + strlen(list), sizeof(list) - strlen(list), " %s(refs=%d)", name_of(o), o->refs);
  logf_("live: %d%s; unrecognized selectors: %ld", n, list, g_unrecognized);
}
