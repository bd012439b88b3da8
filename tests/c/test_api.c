/* tg.h from C: versions, errors, devices, buffers, hand-written kernels on the built-in CPU backend, and every public
** function fed NULL, released handles, handles of the wrong kind, zero/negative sizes, bad indices and bad ranges. */
#include <stdint.h>

#include "check.h"
#include "tg.h"

static const char *vadd_src =
    "#include <stdint.h>\n"
    "void vadd(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n"
    "  float *out = bufs[0]; const float *a = bufs[1], *b = bufs[2];\n"
    "  int64_t n = vals[0], per = (n + 3) / 4, lo = gid[0] * per, hi = lo + per < n ? lo + per : n;\n"
    "  for (int64_t i = lo; i < hi; i++) out[i] = a[i] + b[i];\n"
    "}\n";

static void test_versions_and_errors(void) {
  CHECK(!strcmp(tg_version(), TG_VERSION_STRING));
  CHECK(tg_version_number() == TG_VERSION_MAJOR * 10000 + TG_VERSION_MINOR * 100 + TG_VERSION_PATCH);
  CHECK(!strcmp(tg_status_string(TG_OK), "ok"));
  CHECK(!strcmp(tg_status_string(TG_ERR_COMPILE), "compile error"));
  CHECK(!strcmp(tg_status_string((tg_status)9999), "unknown status"));
  CHECK(!strcmp(tg_status_string((tg_status)-1), "unknown status"));
}

static tg_device *cpu(void) {
  tg_device *d = NULL;
  CHECK_OK(tg_device_get("CPU", &d));
  return d;
}

static void test_devices(void) {
  int n = 0;
  CHECK_OK(tg_device_count(&n));
  CHECK(n >= 1);
  tg_device *d0 = NULL, *d = cpu(), *d2 = NULL;
  CHECK_OK(tg_device_at(0, &d0));
  CHECK(d0 == d);
  CHECK_OK(tg_device_get("cpu:0", &d2));
  CHECK(d2 == d);
  const char *name = NULL;
  CHECK_OK(tg_device_name(d, &name));
  CHECK(name && !strcmp(name, "CPU"));
  tg_device_properties p = {.struct_size = sizeof p};
  CHECK_OK(tg_device_get_properties(d, &p));
  CHECK(p.type == TG_DEVICE_CPU && p.name[0]);
  tg_device_caps c = {.struct_size = sizeof c};
  CHECK_OK(tg_device_get_caps(d, &c));
  CHECK(!strcmp(c.dialect, "c") && c.has_threads && !c.has_local && (c.dtypes >> TG_FLOAT64 & 1) && c.global_max[0] >= 1);
  /* an older, smaller caps struct gets exactly its own fields */
  struct { tg_device_caps c; char guard[64]; } g;
  memset(&g, 0xAB, sizeof g);
  g.c.struct_size = TG_STRUCT_SIZE(tg_device_caps, arch);
  CHECK_OK(tg_device_get_caps(d, &g.c));
  CHECK(g.c.struct_size == TG_STRUCT_SIZE(tg_device_caps, arch) && !strcmp(g.c.dialect, "c"));
  CHECK(((unsigned char *)&g.c.dtypes)[0] == 0xAB);
  tg_backend *b = NULL;
  CHECK_OK(tg_device_backend(d, &b));
  tg_backend_info i = {.struct_size = sizeof i};
  CHECK_OK(tg_backend_get_info(b, &i));
  CHECK(i.builtin == 1 && i.state == TG_BACKEND_READY && !strcmp(i.name, "CPU") && !strcmp(i.dialects, "c"));
  CHECK_OK(tg_device_synchronize(d));
}

static void test_buffers(void) {
  tg_device *d = cpu();
  tg_buffer *b = NULL;
  double in[8], out[8];
  for (int i = 0; i < 8; i++) in[i] = i * 1.5 - 3;
  CHECK_OK(tg_buffer_alloc(d, sizeof in, &b));
  size_t sz = 0;
  CHECK_OK(tg_buffer_size(b, &sz));
  CHECK(sz == sizeof in);
  tg_device *bd = NULL;
  CHECK_OK(tg_buffer_device(b, &bd));
  CHECK(bd == d);
  CHECK_OK(tg_buffer_copyin(b, 0, in, sizeof in));
  memset(out, 0, sizeof out);
  CHECK_OK(tg_buffer_copyout(b, 2 * sizeof(double), out, 3 * sizeof(double))); /* at an offset */
  CHECK(out[0] == in[2] && out[2] == in[4]);
  CHECK_OK(tg_buffer_copyin(b, 7 * sizeof(double), &in[0], sizeof(double)));
  CHECK_OK(tg_buffer_copyout(b, 0, out, sizeof out));
  CHECK(out[7] == in[0] && out[6] == in[6]);
  /* references */
  size_t live0 = 0, live1 = 0;
  CHECK_OK(tg_debug_live_handles(&live0));
  CHECK_OK(tg_buffer_retain(b));
  CHECK_OK(tg_buffer_release(b));
  CHECK_OK(tg_buffer_size(b, &sz)); /* still alive: one reference left */
  CHECK_OK(tg_buffer_release(b));
  CHECK_OK(tg_debug_live_handles(&live1));
  CHECK(live1 == live0 - 1);
  /* released handle */
  CHECK_ERR(tg_buffer_size(b, &sz), TG_ERR_INVALID_HANDLE, "released tg_buffer handle");
  CHECK_ERR(tg_buffer_copyin(b, 0, in, 8), TG_ERR_INVALID_HANDLE, "released tg_buffer handle");
  CHECK_ERR(tg_buffer_copyout(b, 0, out, 8), TG_ERR_INVALID_HANDLE, "released tg_buffer handle");
  CHECK_ERR(tg_buffer_release(b), TG_ERR_INVALID_HANDLE, "released tg_buffer handle");
  CHECK_ERR(tg_buffer_retain(b), TG_ERR_INVALID_HANDLE, "released tg_buffer handle");
  CHECK_ERR(tg_buffer_device(b, &bd), TG_ERR_INVALID_HANDLE, "released tg_buffer handle");
  CHECK_OK(tg_buffer_release(NULL));
}

/* A released buffer parks in the device's cache: the next allocations of its size must each get their own memory. */
static void test_buffer_reuse(void) {
  tg_device *d = cpu();
  tg_buffer *a, *b, *c;
  float one[4] = {1, 1, 1, 1}, two[4] = {2, 2, 2, 2}, out[4];
  CHECK_OK(tg_buffer_alloc(d, sizeof one, &a));
  CHECK_OK(tg_buffer_release(a));
  CHECK_OK(tg_buffer_alloc(d, sizeof one, &b));
  CHECK_OK(tg_buffer_alloc(d, sizeof one, &c));
  CHECK_OK(tg_buffer_copyin(b, 0, one, sizeof one));
  CHECK_OK(tg_buffer_copyin(c, 0, two, sizeof two));
  CHECK_OK(tg_buffer_copyout(b, 0, out, sizeof out));
  CHECK(out[0] == 1 && out[3] == 1);
  CHECK_OK(tg_buffer_release(c)); /* cached; the next allocation takes it over, b stays apart */
  CHECK_OK(tg_buffer_alloc(d, sizeof one, &a));
  CHECK_OK(tg_buffer_copyin(a, 0, two, sizeof two));
  CHECK_OK(tg_buffer_copyout(b, 0, out, sizeof out));
  CHECK(out[0] == 1 && out[3] == 1);
  CHECK_OK(tg_buffer_release(a));
  CHECK_OK(tg_buffer_release(b));
}

static void test_bad_input(void) {
  tg_device *d = cpu(), *dout;
  tg_buffer *b = NULL, *bout;
  tg_program *p = NULL;
  int n;
  const char *s;
  char buf[16];
  CHECK_OK(tg_buffer_alloc(d, 16, &b));
  /* NULLs */
  CHECK_ERR(tg_device_count(NULL), TG_ERR_NULL_POINTER, "out_count is NULL");
  CHECK_ERR(tg_device_at(0, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_device_get(NULL, &dout), TG_ERR_NULL_POINTER, "name is NULL");
  CHECK_ERR(tg_device_get("CPU", NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_device_name(NULL, &s), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_device_name(d, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_device_get_properties(NULL, NULL), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_device_get_properties(d, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_device_get_caps(NULL, NULL), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_device_get_caps(d, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_device_backend(NULL, NULL), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_device_synchronize(NULL), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_buffer_alloc(NULL, 16, &bout), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_buffer_alloc(d, 16, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_buffer_copyin(NULL, 0, buf, 4), TG_ERR_NULL_POINTER, "buffer is NULL");
  CHECK_ERR(tg_buffer_copyin(b, 0, NULL, 4), TG_ERR_NULL_POINTER, "host pointer is NULL for 4 bytes");
  CHECK_ERR(tg_buffer_copyout(b, 0, NULL, 4), TG_ERR_NULL_POINTER, "host pointer is NULL for 4 bytes");
  CHECK_ERR(tg_buffer_size(b, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_buffer_device(b, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_buffer_retain(NULL), TG_ERR_NULL_POINTER, "buffer is NULL");
  CHECK_ERR(tg_program_compile(NULL, "x", "f", &p), TG_ERR_NULL_POINTER, "device is NULL");
  CHECK_ERR(tg_program_compile(d, NULL, "f", &p), TG_ERR_NULL_POINTER, "source is NULL");
  CHECK_ERR(tg_program_compile(d, "x", NULL, &p), TG_ERR_NULL_POINTER, "name is NULL");
  CHECK_ERR(tg_program_compile(d, "x", "f", NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_program_compile(d, "x", "", &p), TG_ERR_INVALID_ARGUMENT, "name is empty");
  CHECK_ERR(tg_program_launch(NULL, NULL, 0, NULL, 0, NULL, NULL), TG_ERR_NULL_POINTER, "program is NULL");
  CHECK_ERR(tg_program_retain(NULL), TG_ERR_NULL_POINTER, "program is NULL");
  CHECK_OK(tg_program_release(NULL));
  CHECK_ERR(tg_debug_live_handles(NULL), TG_ERR_NULL_POINTER, "out_count is NULL");
  /* sizes, indices, ranges */
  CHECK_ERR(tg_buffer_alloc(d, 0, &bout), TG_ERR_INVALID_ARGUMENT, "size 0 bytes on CPU");
  CHECK_ERR(tg_buffer_alloc(d, (size_t)-8, &bout), TG_ERR_INVALID_ARGUMENT, "(-8 as signed)");
  CHECK_ERR(tg_buffer_alloc(d, ((size_t)1 << 62), &bout), TG_ERR_OUT_OF_MEMORY, "exceeds CPU's largest allocation");
  CHECK_ERR(tg_buffer_copyin(b, 8, buf, 16), TG_ERR_OUT_OF_RANGE, "range [8, 8 + 16) is outside the buffer of 16 bytes");
  CHECK_ERR(tg_buffer_copyout(b, 17, buf, 0), TG_ERR_OUT_OF_RANGE, "outside the buffer of 16 bytes");
  CHECK_ERR(tg_buffer_copyout(b, (size_t)-1, buf, 2), TG_ERR_OUT_OF_RANGE, "outside the buffer");
  CHECK_ERR(tg_device_at(-1, &dout), TG_ERR_OUT_OF_RANGE, "index -1 out of range");
  CHECK_ERR(tg_device_at(100000, &dout), TG_ERR_OUT_OF_RANGE, "index 100000 out of range");
  CHECK_ERR(tg_device_get("CPU:7", &dout), TG_ERR_OUT_OF_RANGE, "index 7 out of range");
  CHECK_ERR(tg_device_get("CPU:x", &dout), TG_ERR_INVALID_ARGUMENT, "bad device index in \"CPU:x\"");
  CHECK_ERR(tg_device_get("CPU:-1", &dout), TG_ERR_INVALID_ARGUMENT, "bad device index");
  CHECK_ERR(tg_device_get("NOPE", &dout), TG_ERR_OUT_OF_RANGE, "no backend named \"NOPE\"");
  /* handles of the wrong kind and forged handles */
  CHECK_ERR(tg_buffer_size((tg_buffer *)d, &(size_t){0}), TG_ERR_INVALID_HANDLE, "not a tg_buffer handle");
  CHECK_ERR(tg_device_name((tg_device *)b, &s), TG_ERR_INVALID_HANDLE, "not a tg_device handle");
  CHECK_ERR(tg_device_name((tg_device *)(uintptr_t)0x7ffff0001232, &s), TG_ERR_INVALID_HANDLE, "not a tg_device handle");
  CHECK_ERR(tg_program_release((tg_program *)b), TG_ERR_INVALID_HANDLE, "not a tg_program handle");
  (void)n;
  CHECK_OK(tg_buffer_release(b));
}

static void test_kernels(void) {
  tg_device *d = cpu();
  enum { N = 100003 };
  static float a[N], b[N], out[N];
  for (int i = 0; i < N; i++) a[i] = (float)i * 0.5f, b[i] = (float)(N - i) * 0.25f;
  tg_buffer *bo, *ba, *bb;
  CHECK_OK(tg_buffer_alloc(d, sizeof out, &bo));
  CHECK_OK(tg_buffer_alloc(d, sizeof a, &ba));
  CHECK_OK(tg_buffer_alloc(d, sizeof b, &bb));
  CHECK_OK(tg_buffer_copyin(ba, 0, a, sizeof a));
  CHECK_OK(tg_buffer_copyin(bb, 0, b, sizeof b));
  tg_program *p = NULL;
  CHECK_OK(tg_program_compile(d, vadd_src, "vadd", &p));
  tg_buffer *bufs[3] = {bo, ba, bb};
  int64_t vals[1] = {N};
  uint32_t global[3] = {4, 1, 1};
  CHECK_OK(tg_program_launch(p, bufs, 3, vals, 1, global, NULL));
  CHECK_OK(tg_device_synchronize(d));
  CHECK_OK(tg_buffer_copyout(bo, 0, out, sizeof out));
  int bad = 0;
  for (int i = 0; i < N; i++) bad += out[i] != a[i] + b[i];
  CHECK(bad == 0);
  /* launch errors */
  uint32_t zero[3] = {0, 1, 1}, big_local[3] = {2, 1, 1};
  CHECK_ERR(tg_program_launch(p, bufs, 3, vals, 1, zero, NULL), TG_ERR_INVALID_ARGUMENT, "global (0,1,1)");
  CHECK_ERR(tg_program_launch(p, bufs, 3, vals, 1, global, big_local), TG_ERR_OUT_OF_RANGE, "local[0]=2 exceeds CPU's local_max[0]=1");
  CHECK_ERR(tg_program_launch(p, NULL, 3, vals, 1, global, NULL), TG_ERR_NULL_POINTER, "bufs is NULL with n_bufs=3");
  CHECK_ERR(tg_program_launch(p, bufs, 3, NULL, 1, global, NULL), TG_ERR_NULL_POINTER, "vals is NULL with n_vals=1");
  CHECK_ERR(tg_program_launch(p, bufs, 3, vals, 1, NULL, NULL), TG_ERR_NULL_POINTER, "global is NULL");
  tg_buffer *stale[3] = {bo, ba, NULL};
  CHECK_ERR(tg_program_launch(p, stale, 3, vals, 1, global, NULL), TG_ERR_NULL_POINTER, "bufs[2] is NULL");
  /* compile errors carry the compiler's message */
  tg_program *q = NULL;
  CHECK_ERR(tg_program_compile(d, "void f(void) { undeclared_thing++; }", "f", &q), TG_ERR_COMPILE, "undeclared_thing");
  CHECK_ERR(tg_program_compile(d, vadd_src, "no_such_fn", &q), TG_ERR_LOAD, "no_such_fn");
  CHECK_OK(tg_program_retain(p));
  CHECK_OK(tg_program_release(p));
  CHECK_OK(tg_program_release(p));
  CHECK_ERR(tg_program_launch(p, bufs, 3, vals, 1, global, NULL), TG_ERR_INVALID_HANDLE, "released tg_program handle");
  CHECK_ERR(tg_program_release(p), TG_ERR_INVALID_HANDLE, "released tg_program handle");
  tg_buffer_release(bo);
  tg_buffer_release(ba);
  tg_buffer_release(bb);
}

int main(void) {
  test_versions_and_errors();
  test_devices();
  test_buffers();
  test_buffer_reuse();
  test_bad_input();
  test_kernels();
  size_t live = 99;
  CHECK_OK(tg_debug_live_handles(&live));
  CHECK(live == 0);
  CHECK_DONE();
}
