/* Plugin loading through tg_backend_load() and $TGC_BACKEND_PATH: each planted defect is refused with a message that
** names the library and the reason, nothing crashes, and the backends already loaded stay usable. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "tg.h"

static char path_buf[1024];
static const char *lib(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/lib%s.so", TGC_TEST_BACKEND_DIR, name);
  return path_buf;
}

/* The device still works: a round trip through a buffer. */
static void roundtrip(const char *devname) {
  tg_device *d = NULL;
  tg_buffer *b = NULL;
  int32_t in[5] = {1, -2, 3, -4, 5}, out[5] = {0};
  CHECK_OK(tg_device_get(devname, &d));
  CHECK_OK(tg_buffer_alloc(d, sizeof in, &b));
  CHECK_OK(tg_buffer_copyin(b, 0, in, sizeof in));
  CHECK_OK(tg_buffer_copyout(b, 0, out, sizeof out));
  CHECK(memcmp(in, out, sizeof in) == 0);
  CHECK_OK(tg_buffer_release(b));
}

static tg_backend_info info_of(tg_backend *b) {
  tg_backend_info i = {.struct_size = sizeof i};
  CHECK_OK(tg_backend_get_info(b, &i));
  return i;
}

/* Finds the registry entry for a library path. */
static int find_info(const char *path, tg_backend_info *out) {
  int n = 0;
  tg_backend_count(&n);
  for (int k = 0; k < n; k++) {
    tg_backend *b;
    if (tg_backend_at(k, &b) != TG_OK) continue;
    tg_backend_info i = info_of(b);
    if (!strcmp(i.path, path)) {
      *out = i;
      return 1;
    }
  }
  return 0;
}

static void refused(const char *name, tg_status code, const char *reason) {
  tg_backend *b = NULL;
  const char *p = lib(name);
  char path[1024];
  snprintf(path, sizeof path, "%s", p);
  CHECK_ERR(tg_backend_load(path, &b), code, reason);
  CHECK(strstr(tg_last_error(), path) != NULL); /* the message names the library */
  tg_backend_info i;
  CHECK(find_info(path, &i) && i.state == TG_BACKEND_QUARANTINED && strstr(i.reason, reason));
  /* a second attempt gives the same answer instead of loading twice */
  CHECK_ERR(tg_backend_load(path, &b), code, reason);
  roundtrip("CPU");
  roundtrip("OLDABI");
}

int main(void) {
  /* $TGC_BACKEND_PATH is read on first use of the registry: one good old-ABI backend and one bad one. */
  char env[2200];
  snprintf(env, sizeof env, "%s:", lib("old_abi"));
  strncat(env, lib("bad_magic"), sizeof env - strlen(env) - 1);
  setenv("TGC_BACKEND_PATH", env, 1);

  int n = 0;
  CHECK_OK(tg_backend_count(&n));
  CHECK(n == 3); /* CPU, OLDABI, the quarantined BADMAGIC */
  tg_backend_info i;
  CHECK(find_info(lib("old_abi"), &i) && i.state == TG_BACKEND_READY && i.device_count == 1 && !strcmp(i.name, "OLDABI"));
  CHECK(find_info(lib("bad_magic"), &i) && i.state == TG_BACKEND_QUARANTINED && strstr(i.reason, "wrong manifest magic 0x12345678"));

  /* The old-ABI backend: its small caps struct was read within its size and defaults filled the rest. */
  tg_device *d;
  tg_device_caps c = {.struct_size = sizeof c};
  CHECK_OK(tg_device_get("oldabi", &d));
  CHECK_OK(tg_device_get_caps(d, &c));
  CHECK(c.global_max[0] == 1024 && c.local_prod_max == 1 && c.alignment == 16 && c.mem_total == 0 && !strcmp(c.dialect, "c"));
  roundtrip("OLDABI");

  refused("bad_magic", TG_ERR_ABI, "wrong manifest magic");
  refused("bad_major", TG_ERR_ABI, "built for backend ABI 2.x");
  refused("newer_minor", TG_ERR_ABI, "requires backend ABI >= 1.5");
  refused("no_entry", TG_ERR_LOAD, "missing symbol tg_backend_entry_v1");
  refused("no_manifest", TG_ERR_LOAD, "missing symbol tg_backend_manifest");
  refused("entry_fails", TG_ERR_LOAD, "cannot initialise the device (planted failure)");
  refused("caps_local", TG_ERR_INVALID_ARGUMENT, "local_max[0]=2048 > global_max[0]=1024");
  refused("caps_dialect", TG_ERR_INVALID_ARGUMENT, "empty dialect");
  refused("null_fn", TG_ERR_ABI, "required function launch is NULL");
  refused("does_not_exist", TG_ERR_LOAD, "cannot load");

  /* A backend with no device is registered as unavailable, with the backend's own reason. */
  tg_backend *b = NULL;
  char upath[1024];
  snprintf(upath, sizeof upath, "%s", lib("unavailable"));
  CHECK_OK(tg_backend_load(upath, &b));
  i = info_of(b);
  CHECK(i.state == TG_BACKEND_UNAVAILABLE && strstr(i.reason, "no ACME driver (libacme.so.1 not found)"));
  CHECK_ERR(tg_device_get("ACME", &d), TG_ERR_UNAVAILABLE, "libacme.so.1 not found");

  /* A good backend loads, and loading it twice returns the same backend. */
  tg_backend *m1 = NULL, *m2 = NULL;
  char mpath[1024];
  snprintf(mpath, sizeof mpath, "%s", lib("mini"));
  CHECK_OK(tg_backend_load(mpath, &m1));
  CHECK_OK(tg_backend_load(mpath, &m2));
  CHECK(m1 && m1 == m2);
  i = info_of(m1);
  CHECK(i.state == TG_BACKEND_READY && i.abi_major == TG_BACKEND_ABI_MAJOR && i.abi_minor == TG_BACKEND_ABI_MINOR && !strcmp(i.flavor, "debug"));
  roundtrip("MINI");
  /* its compile is not implemented: the backend's message comes back */
  CHECK_OK(tg_device_get("MINI", &d));
  tg_program *p = NULL;
  CHECK_ERR(tg_program_compile(d, "x", "f", &p), TG_ERR_UNSUPPORTED, "MINI compiles nothing");

  /* Bad arguments to the loader calls. */
  CHECK_ERR(tg_backend_load(NULL, &b), TG_ERR_NULL_POINTER, "path is NULL");
  CHECK_ERR(tg_backend_load(mpath, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_backend_load("", &b), TG_ERR_INVALID_ARGUMENT, "path is empty");
  CHECK_ERR(tg_backend_at(-1, &b), TG_ERR_OUT_OF_RANGE, "index -1");
  CHECK_ERR(tg_backend_at(1000, &b), TG_ERR_OUT_OF_RANGE, "index 1000");
  CHECK_ERR(tg_backend_count(NULL), TG_ERR_NULL_POINTER, "NULL");
  CHECK_ERR(tg_backend_get_info(NULL, &i), TG_ERR_NULL_POINTER, "backend is NULL");
  CHECK_ERR(tg_backend_get_info((tg_backend *)d, &i), TG_ERR_INVALID_HANDLE, "not a tg_backend handle");
  tg_backend_info small = {.struct_size = 8};
  CHECK_ERR(tg_backend_get_info(m1, &small), TG_ERR_INVALID_ARGUMENT, "struct_size 8");
  CHECK_DONE();
}
