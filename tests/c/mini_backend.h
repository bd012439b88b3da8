/* mini_backend.h -- a throwaway host-memory backend for the loader tests. Each file in tests/c/backends defines a few
** MB_* macros to plant one defect, then includes this file. Not a model of a good backend: see runtime/cpu.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg_backend.h"

#ifndef MB_NAME
#define MB_NAME "MINI"
#endif
#ifndef MB_MAGIC
#define MB_MAGIC TG_BACKEND_MAGIC
#endif
#ifndef MB_MAJOR
#define MB_MAJOR TG_BACKEND_ABI_MAJOR
#endif
#ifndef MB_MIN_MINOR
#define MB_MIN_MINOR 0
#endif
#ifndef MB_ENTRY_STATUS
#define MB_ENTRY_STATUS TG_OK
#endif
#ifndef MB_CAPS_TWEAK
#define MB_CAPS_TWEAK(c) (void)(c)
#endif
#ifndef MB_API_TWEAK
#define MB_API_TWEAK(a) (void)(a)
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
    MB_MAGIC, sizeof(tg_manifest), MB_MAJOR, MB_MIN_MINOR, TG_BACKEND_ABI_MINOR + MB_MIN_MINOR, MB_NAME, "0.0.1", "debug", "c"};

static const tg_backend_host *host;
static int live_buffers;

static tg_status fail(tg_status s, const char *msg) {
  if (host && host->set_error) host->set_error(host->ctx, s, msg);
  return s;
}
static tg_status mb_count(int *n) {
#ifdef MB_UNAVAILABLE
  *n = 0;
  return fail(TG_ERR_UNAVAILABLE, MB_UNAVAILABLE);
#else
  *n = 1;
  return TG_OK;
#endif
}
static tg_status mb_props(int i, tg_device_properties *p) {
  if (i != 0) return fail(TG_ERR_OUT_OF_RANGE, "no such device");
  snprintf(p->name, sizeof p->name, "%s host memory", MB_NAME);
  p->type = TG_DEVICE_OTHER;
  return TG_OK;
}
static tg_status mb_caps(int i, tg_device_caps *c) {
  if (i != 0) return fail(TG_ERR_OUT_OF_RANGE, "no such device");
  if (c->struct_size < sizeof *c) return fail(TG_ERR_INVALID_ARGUMENT, "caps struct too small");
  strcpy(c->dialect, "c");
  strcpy(c->arch, "host");
  c->dtypes = (1ull << TG_FLOAT32) | (1ull << TG_INT32);
  c->alu_ops = 1ull << TG_ALU_ADD;
  c->vector_width = 1;
  for (int d = 0; d < 3; d++) c->global_max[d] = 65535, c->local_max[d] = 1;
  c->local_prod_max = 1;
  c->alignment = 16;
  MB_CAPS_TWEAK(c);
  return TG_OK;
}
static tg_status mb_open(int i, tg_backend_device **out) {
  if (i != 0) return fail(TG_ERR_OUT_OF_RANGE, "no such device");
  *out = (tg_backend_device *)&host;
  return TG_OK;
}
static void mb_close(tg_backend_device *d) { (void)d; }
static tg_status mb_alloc(tg_backend_device *d, size_t n, tg_backend_buffer **out) {
  (void)d;
  void *p = malloc(n ? n : 1);
  if (!p) return fail(TG_ERR_OUT_OF_MEMORY, "malloc failed");
  live_buffers++;
  *out = p;
  return TG_OK;
}
static void mb_free(tg_backend_device *d, tg_backend_buffer *b) {
  (void)d;
  if (b) live_buffers--;
  free(b);
}
static tg_status mb_copyin(tg_backend_device *d, tg_backend_buffer *b, size_t off, const void *src, size_t n) {
  (void)d;
  memcpy((char *)b + off, src, n);
  return TG_OK;
}
static tg_status mb_copyout(tg_backend_device *d, tg_backend_buffer *b, size_t off, void *dst, size_t n) {
  (void)d;
  memcpy(dst, (char *)b + off, n);
  return TG_OK;
}
static tg_status mb_compile(tg_backend_device *d, const char *src, const char *name, tg_blob *out) {
  (void)d, (void)src, (void)name, (void)out;
  return fail(TG_ERR_UNSUPPORTED, MB_NAME " compiles nothing");
}
static void mb_blob_free(tg_blob *b) { (void)b; }
static tg_status mb_load(tg_backend_device *d, const void *blob, size_t n, const char *name, tg_backend_program **out) {
  (void)d, (void)blob, (void)n, (void)name, (void)out;
  return fail(TG_ERR_UNSUPPORTED, MB_NAME " loads nothing");
}
static void mb_program_free(tg_backend_device *d, tg_backend_program *p) { (void)d, (void)p; }
static tg_status mb_launch(tg_backend_device *d, tg_backend_program *p, const tg_launch_params *lp) {
  (void)d, (void)p, (void)lp;
  return fail(TG_ERR_UNSUPPORTED, MB_NAME " launches nothing");
}
static tg_status mb_sync(tg_backend_device *d) {
  (void)d;
  return TG_OK;
}

static tg_backend_api api __attribute__((used)) = {
    .struct_size = sizeof(tg_backend_api), .device_count = mb_count, .device_properties = mb_props, .device_caps = mb_caps,
    .device_open = mb_open, .device_close = mb_close, .alloc = mb_alloc, .free = mb_free, .copyin = mb_copyin,
    .copyout = mb_copyout, .compile = mb_compile, .blob_free = mb_blob_free, .load = mb_load, .program_free = mb_program_free,
    .launch = mb_launch, .synchronize = mb_sync};

#ifndef MB_NO_ENTRY
TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *h, const tg_backend_api **out) {
  uint32_t minor;
  tg_status s = tg_backend_negotiate(h, &tg_backend_manifest, &minor);
  if (s != TG_OK) return s;
  host = h;
  if (MB_ENTRY_STATUS != TG_OK) return fail(MB_ENTRY_STATUS, MB_NAME ": cannot initialise the device (planted failure)");
  api.abi_minor = minor;
  MB_API_TWEAK(&api);
  *out = &api;
  return TG_OK;
}
#endif
