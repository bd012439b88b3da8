/* A minimal tg_backend.h implementation for the plugin-discovery tests (tests/test_plugins.py builds it).
** One host-memory device: alloc/free/copyin/copyout with malloc; compile returns the source bytes as a blob;
** load and launch are not implemented (TG_ERR_UNSUPPORTED). Build: cc -shared -fPIC -fvisibility=hidden -I include.
** -DFAKE_NAME='"OTHER"' changes the backend's name. */
#include <stdlib.h>
#include <string.h>
#include "tg_backend.h"

#ifndef FAKE_NAME
#define FAKE_NAME "FAKE"
#endif

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = TG_BACKEND_MANIFEST_INIT(FAKE_NAME, "0.1.0", "c");

static const tg_backend_host *g_host;
static int g_device; /* the one device handle: its address */

static tg_status fail(tg_status code, const char *msg) {
  if (g_host && g_host->set_error) g_host->set_error(g_host->ctx, code, msg);
  return code;
}

/* Copy a backend-side struct into the host's in/out struct, honouring the host's capacity (VERSIONED STRUCTS). */
static void fill(void *out, const void *mine, size_t mine_size) {
  size_t cap = *(const size_t *)out, n = cap < mine_size ? cap : mine_size;
  memcpy(out, mine, n);
  *(size_t *)out = n;
}

static tg_status device_count(int *out) {
  if (!out) return fail(TG_ERR_NULL_POINTER, "device_count: out is NULL");
  *out = 1;
  return TG_OK;
}

static tg_status device_properties(int index, tg_device_properties *out) {
  if (index != 0) return fail(TG_ERR_OUT_OF_RANGE, "device_properties: index out of range");
  if (!out) return fail(TG_ERR_NULL_POINTER, "device_properties: out is NULL");
  tg_device_properties p = {.struct_size = sizeof p, .type = TG_DEVICE_OTHER};
  strcpy(p.name, "fake host-memory device");
  strcpy(p.vendor, "tgc tests");
  fill(out, &p, sizeof p);
  return TG_OK;
}

static tg_status device_caps(int index, tg_device_caps *out) {
  if (index != 0) return fail(TG_ERR_OUT_OF_RANGE, "device_caps: index out of range");
  if (!out) return fail(TG_ERR_NULL_POINTER, "device_caps: out is NULL");
  tg_device_caps c = {.struct_size = sizeof c, .dtypes = (1ull << TG_FLOAT32) | (1ull << TG_INT32),
                      .alu_ops = (1ull << TG_ALU_ADD) | (1ull << TG_ALU_MUL), .vector_width = 1, .global_max = {1, 1, 1},
                      .local_max = {1, 1, 1}, .local_prod_max = 1, .alignment = 16, .mem_total = 0, .mem_max_alloc = 0};
  strcpy(c.dialect, "c");
  strcpy(c.arch, "fake");
  fill(out, &c, sizeof c);
  return TG_OK;
}

static tg_status device_open(int index, tg_backend_device **out) {
  if (index != 0) return fail(TG_ERR_OUT_OF_RANGE, "device_open: index out of range");
  *out = (tg_backend_device *)&g_device;
  return TG_OK;
}
static void device_close(tg_backend_device *dev) { (void)dev; }

typedef struct fake_buf { size_t size; unsigned char data[]; } fake_buf;

static tg_status alloc(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out) {
  (void)dev;
  fake_buf *b = malloc(sizeof(fake_buf) + (nbytes ? nbytes : 1));
  if (!b) return fail(TG_ERR_OUT_OF_MEMORY, "alloc: malloc failed");
  b->size = nbytes;
  *out = (tg_backend_buffer *)b;
  return TG_OK;
}
static void buf_free(tg_backend_device *dev, tg_backend_buffer *buf) { (void)dev; free(buf); }

static tg_status copyin(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes) {
  (void)dev;
  memcpy(((fake_buf *)dst)->data + offset, src, nbytes);
  return TG_OK;
}
static tg_status copyout(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes) {
  (void)dev;
  memcpy(dst, ((fake_buf *)src)->data + offset, nbytes);
  return TG_OK;
}

static tg_status compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
  (void)dev; (void)name;
  size_t n = strlen(source);
  void *data = malloc(n ? n : 1);
  if (!data) return fail(TG_ERR_OUT_OF_MEMORY, "compile: malloc failed");
  memcpy(data, source, n);
  *out = (tg_blob){.struct_size = sizeof(tg_blob), .data = data, .size = n};
  return TG_OK;
}
static void blob_free(tg_blob *blob) { if (blob) { free(blob->data); blob->data = NULL; blob->size = 0; } }

static tg_status load(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out) {
  (void)dev; (void)blob; (void)size; (void)name; (void)out;
  return fail(TG_ERR_UNSUPPORTED, "fake backend: load is not implemented (this device runs no kernels)");
}
static void program_free(tg_backend_device *dev, tg_backend_program *prog) { (void)dev; (void)prog; }
static tg_status launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params) {
  (void)dev; (void)prog; (void)params;
  return fail(TG_ERR_UNSUPPORTED, "fake backend: launch is not implemented");
}
static tg_status synchronize(tg_backend_device *dev) { (void)dev; return TG_OK; }

static tg_backend_api api = {
  .struct_size = sizeof(tg_backend_api), .device_count = device_count, .device_properties = device_properties,
  .device_caps = device_caps, .device_open = device_open, .device_close = device_close, .alloc = alloc, .free = buf_free,
  .copyin = copyin, .copyout = copyout, .compile = compile, .blob_free = blob_free, .load = load,
  .program_free = program_free, .launch = launch, .synchronize = synchronize};

TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *host, const tg_backend_api **out) {
  uint32_t minor;
  tg_status s = tg_backend_negotiate(host, &tg_backend_manifest, &minor);
  if (s != TG_OK) return s;
  if (!out) return TG_ERR_NULL_POINTER;
  g_host = host;
  api.abi_minor = minor;
  *out = &api;
  return TG_OK;
}
