/* A backend "built against an older copy of the structs": its function table stops at synchronize and its caps struct
** at local_max, with struct_size saying so. Every 1.x host must load it, read no field past those sizes, and treat
** the missing optional entries (buffer_view, transfer, events) as not implemented. */
#include <stdlib.h>
#include <string.h>

#include "tg_backend.h"

typedef struct old_caps { /* tg_device_caps as it might have been: no local_prod_max, alignment, memory, tensor cores */
  size_t struct_size;
  const void *next;
  char dialect[16];
  char arch[32];
  uint64_t dtypes, alu_ops;
  uint32_t has_local, has_shared, has_threads, vector_width;
  uint32_t global_max[3], local_max[3];
} old_caps;

typedef struct old_api { /* the table up to synchronize */
  size_t struct_size;
  uint32_t abi_minor, reserved;
  void (*shutdown)(void);
  tg_status (*device_count)(int *);
  tg_status (*device_properties)(int, tg_device_properties *);
  tg_status (*device_caps)(int, old_caps *);
  tg_status (*device_open)(int, tg_backend_device **);
  void (*device_close)(tg_backend_device *);
  tg_status (*alloc)(tg_backend_device *, size_t, tg_backend_buffer **);
  void (*free)(tg_backend_device *, tg_backend_buffer *);
  tg_status (*copyin)(tg_backend_device *, tg_backend_buffer *, size_t, const void *, size_t);
  tg_status (*copyout)(tg_backend_device *, tg_backend_buffer *, size_t, void *, size_t);
  tg_status (*compile)(tg_backend_device *, const char *, const char *, tg_blob *);
  void (*blob_free)(tg_blob *);
  tg_status (*load)(tg_backend_device *, const void *, size_t, const char *, tg_backend_program **);
  void (*program_free)(tg_backend_device *, tg_backend_program *);
  tg_status (*launch)(tg_backend_device *, tg_backend_program *, const tg_launch_params *);
  tg_status (*synchronize)(tg_backend_device *);
} old_api;

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {
    TG_BACKEND_MAGIC, sizeof(tg_manifest), 1, 0, 0, "OLDABI", "0.9.0", "release", "c"};

static const tg_backend_host *host;

static tg_status count(int *n) { *n = 1; return TG_OK; }
static tg_status props(int i, tg_device_properties *p) {
  (void)i;
  strcpy(p->name, "old host memory");
  p->struct_size = TG_STRUCT_SIZE(tg_device_properties, name);
  return TG_OK;
}
static tg_status caps(int i, old_caps *c) {
  (void)i;
  if (c->struct_size < sizeof *c) return TG_ERR_INVALID_ARGUMENT;
  /* write exactly our fields; the host's bigger struct keeps its zeros past them */
  old_caps mine = {sizeof mine, NULL, "c", "host", (1ull << TG_FLOAT32) | (1ull << TG_INT32), 1ull << TG_ALU_ADD, 0, 0, 0, 1,
                   {1024, 1, 1}, {1, 1, 1}};
  memcpy(c, &mine, sizeof mine);
  return TG_OK;
}
static tg_status open_dev(int i, tg_backend_device **out) { (void)i; *out = (tg_backend_device *)&host; return TG_OK; }
static void close_dev(tg_backend_device *d) { (void)d; }
static tg_status alloc(tg_backend_device *d, size_t n, tg_backend_buffer **out) {
  (void)d;
  *out = malloc(n ? n : 1);
  return *out ? TG_OK : TG_ERR_OUT_OF_MEMORY;
}
static void bfree(tg_backend_device *d, tg_backend_buffer *b) { (void)d; free(b); }
static tg_status copyin(tg_backend_device *d, tg_backend_buffer *b, size_t o, const void *s, size_t n) { (void)d; memcpy((char *)b + o, s, n); return TG_OK; }
static tg_status copyout(tg_backend_device *d, tg_backend_buffer *b, size_t o, void *s, size_t n) { (void)d; memcpy(s, (char *)b + o, n); return TG_OK; }
static tg_status compile(tg_backend_device *d, const char *s, const char *n, tg_blob *o) { (void)d, (void)s, (void)n, (void)o; return TG_ERR_UNSUPPORTED; }
static void blob_free(tg_blob *b) { (void)b; }
static tg_status load(tg_backend_device *d, const void *b, size_t s, const char *n, tg_backend_program **o) { (void)d, (void)b, (void)s, (void)n, (void)o; return TG_ERR_UNSUPPORTED; }
static void prog_free(tg_backend_device *d, tg_backend_program *p) { (void)d, (void)p; }
static tg_status launch(tg_backend_device *d, tg_backend_program *p, const tg_launch_params *l) { (void)d, (void)p, (void)l; return TG_ERR_UNSUPPORTED; }
static tg_status sync_dev(tg_backend_device *d) { (void)d; return TG_OK; }

static old_api table = {sizeof(old_api), 0, 0, NULL, count, props, caps, open_dev, close_dev, alloc, bfree, copyin, copyout,
                        compile, blob_free, load, prog_free, launch, sync_dev};

TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *h, const tg_backend_api **out) {
  uint32_t minor;
  tg_status s = tg_backend_negotiate(h, &tg_backend_manifest, &minor);
  if (s != TG_OK) return s;
  host = h;
  table.abi_minor = minor;
  *out = (const tg_backend_api *)(const void *)&table;
  return TG_OK;
}
