/* planted_backend.h -- a small host-memory backend that is conformant except for the one defect a file plants before
** including it: PB_CRASH_IN "fn" (segfault on entering fn), PB_HANG_IN "fn" (never return from fn), PB_LEAK (free and
** shutdown release nothing). It declares the "opencl" dialect so that the suite's "c" kernels are NOT_RUN, not FAIL:
** compile is never reached. Built by sdk/tests with cc; -I points at tgc's include directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg_backend.h"

#ifndef PB_NAME
#define PB_NAME "PLANTED"
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {TG_BACKEND_MAGIC, sizeof(tg_manifest), TG_BACKEND_ABI_MAJOR, 0, TG_BACKEND_ABI_MINOR,
                                                           PB_NAME, "0.0.1", "release", "opencl"};

static const tg_backend_host *host;
static tg_status fail(tg_status s, const char *msg) {
  if (host && host->set_error) host->set_error(host->ctx, s, msg);
  return s;
}
static void plant(const char *fn) {
#ifdef PB_CRASH_IN
  if (strcmp(fn, PB_CRASH_IN) == 0) *(volatile int *)(uintptr_t)8 = 1;
#endif
#ifdef PB_HANG_IN
  if (strcmp(fn, PB_HANG_IN) == 0) for (;;) pause();
#endif
  (void)fn;
}

typedef struct buf { struct buf *next; size_t size; unsigned char *mem; int view; } buf;
static buf *bufs;
static int dev;

static tg_status count(int *n) { plant("device_count"); *n = 1; return TG_OK; }
static tg_status props(int i, tg_device_properties *p) {
  plant("device_properties");
  if (i != 0) return fail(TG_ERR_OUT_OF_RANGE, PB_NAME ": no such device");
  size_t cap = p->struct_size, done = sizeof(size_t);
  if (cap >= TG_STRUCT_SIZE(tg_device_properties, name))
    snprintf(p->name, sizeof p->name, "%s", PB_NAME " host memory"), done = TG_STRUCT_SIZE(tg_device_properties, name);
  if (cap >= TG_STRUCT_SIZE(tg_device_properties, type)) p->type = TG_DEVICE_CPU, done = TG_STRUCT_SIZE(tg_device_properties, type);
  p->struct_size = done;
  return TG_OK;
}
static tg_status caps(int i, tg_device_caps *c) {
  plant("device_caps");
  if (i != 0) return fail(TG_ERR_OUT_OF_RANGE, PB_NAME ": no such device");
  tg_device_caps m;
  memset(&m, 0, sizeof m);
  strcpy(m.dialect, "opencl"), strcpy(m.arch, "host");
  m.dtypes = (1ull << TG_FLOAT32) | (1ull << TG_INT32), m.alu_ops = 1ull << TG_ALU_ADD, m.vector_width = 1, m.local_prod_max = 1, m.alignment = 16;
  for (int d = 0; d < 3; d++) m.global_max[d] = 65535, m.local_max[d] = 1;
  size_t cap = c->struct_size, done = TG_STRUCT_SIZE(tg_device_caps, alignment), from = TG_STRUCT_SIZE(tg_device_caps, next);
#define E(f) TG_STRUCT_SIZE(tg_device_caps, f)
  static const size_t ends[] = {E(next), E(dialect), E(arch), E(dtypes), E(alu_ops), E(has_local), E(has_shared), E(has_threads), E(vector_width),
                                E(global_max), E(local_max), E(local_prod_max), E(alignment)};
#undef E
  if (cap < done) {
    done = sizeof(size_t);
    for (size_t k = 0; k < sizeof ends / sizeof *ends; k++) if (ends[k] <= cap) done = ends[k];
  }
  if (done > from) memcpy((char *)c + from, (char *)&m + from, done - from);
  c->struct_size = done;
  return TG_OK;
}
static tg_status open_dev(int i, tg_backend_device **out) {
  if (i != 0) return fail(TG_ERR_OUT_OF_RANGE, PB_NAME ": no such device");
  *out = (tg_backend_device *)&dev;
  return TG_OK;
}
static void close_dev(tg_backend_device *d) { (void)d; }
static tg_status alloc(tg_backend_device *d, size_t n, tg_backend_buffer **out) {
  (void)d;
  plant("alloc");
  buf *b = calloc(1, sizeof *b);
  if (!b || n > ((size_t)1 << 40) || !(b->mem = malloc(n ? n : 1))) return free(b), fail(TG_ERR_OUT_OF_MEMORY, PB_NAME ": alloc failed");
  b->size = n, b->next = bufs, bufs = b;
  *out = (tg_backend_buffer *)b;
  return TG_OK;
}
__attribute__((unused)) static void release(buf *b) {
  for (buf **p = &bufs; *p; p = &(*p)->next)
    if (*p == b) { *p = b->next; break; }
  if (!b->view) free(b->mem);
  free(b);
}
static void bfree(tg_backend_device *d, tg_backend_buffer *b) {
  (void)d;
#ifndef PB_LEAK
  if (b) release((buf *)b);
#else
  (void)b;
#endif
}
static tg_status copyin(tg_backend_device *d, tg_backend_buffer *b, size_t off, const void *src, size_t n) {
  (void)d;
  plant("copyin");
  if (n) memcpy(((buf *)b)->mem + off, src, n);
  return TG_OK;
}
static tg_status copyout(tg_backend_device *d, tg_backend_buffer *b, size_t off, void *dst, size_t n) {
  (void)d;
  plant("copyout");
  if (n) memcpy(dst, ((buf *)b)->mem + off, n);
  return TG_OK;
}
static tg_status view(tg_backend_device *d, tg_backend_buffer *b, size_t off, size_t n, tg_backend_buffer **out) {
  (void)d;
  plant("buffer_view");
  buf *v = calloc(1, sizeof *v);
  if (!v) return fail(TG_ERR_OUT_OF_MEMORY, PB_NAME ": out of memory");
  v->mem = ((buf *)b)->mem + off, v->size = n, v->view = 1, v->next = bufs, bufs = v;
  *out = (tg_backend_buffer *)v;
  return TG_OK;
}
static tg_status compile(tg_backend_device *d, const char *s, const char *n, tg_blob *o) {
  (void)d, (void)s, (void)n, (void)o;
  return fail(TG_ERR_UNSUPPORTED, PB_NAME ": no OpenCL compiler");
}
static void blob_free(tg_blob *b) { (void)b; }
static tg_status load(tg_backend_device *d, const void *b, size_t s, const char *n, tg_backend_program **o) {
  (void)d, (void)b, (void)s, (void)n, (void)o;
  return fail(TG_ERR_UNSUPPORTED, PB_NAME ": no OpenCL loader");
}
static void prog_free(tg_backend_device *d, tg_backend_program *p) { (void)d, (void)p; }
static tg_status launch(tg_backend_device *d, tg_backend_program *p, const tg_launch_params *l) {
  (void)d, (void)p, (void)l;
  return fail(TG_ERR_UNSUPPORTED, PB_NAME ": no programs");
}
static tg_status sync_dev(tg_backend_device *d) { (void)d; plant("synchronize"); return TG_OK; }
static void shutdown_all(void) {
#ifndef PB_LEAK
  while (bufs) release(bufs);
#endif
  host = NULL;
}

static tg_backend_api api = {.struct_size = sizeof(tg_backend_api), .shutdown = shutdown_all, .device_count = count, .device_properties = props,
                             .device_caps = caps, .device_open = open_dev, .device_close = close_dev, .alloc = alloc, .free = bfree,
                             .copyin = copyin, .copyout = copyout, .compile = compile, .blob_free = blob_free, .load = load,
                             .program_free = prog_free, .launch = launch, .synchronize = sync_dev, .buffer_view = view};

TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *h, const tg_backend_api **out) {
  uint32_t minor;
  tg_status s = tg_backend_negotiate(h, &tg_backend_manifest, &minor);
  if (s != TG_OK) return s;
  host = h;
  api.abi_minor = minor;
  *out = &api;
  return TG_OK;
}
