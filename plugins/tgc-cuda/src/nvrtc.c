/* nvrtc.c -- NVRTC loaded at run time (see nvrtc.h for where it is looked for). tinygrad 0.14.0's NVRTCCompiler, in C:
** --gpu-architecture=sm_XX, PTX out, --minimal from NVRTC 12.4 on, the CUDA include directories that exist. */
#define _GNU_SOURCE
#include "nvrtc.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------- NVRTC, declared (nvrtc.h of CUDA 12/13; these signatures have not changed since 11.2) ---------------- */

typedef int nvrtcResult; /* NVRTC_SUCCESS = 0 */
typedef struct _nvrtcProgram *nvrtcProgram;
enum { NVRTC_ERROR_OUT_OF_MEMORY = 1 };

static struct {
  nvrtcResult (*Version)(int *major, int *minor);
  nvrtcResult (*GetNumSupportedArchs)(int *n);
  nvrtcResult (*GetSupportedArchs)(int *archs);
  nvrtcResult (*CreateProgram)(nvrtcProgram *prog, const char *src, const char *name, int nheaders, const char *const *headers,
                               const char *const *include_names);
  nvrtcResult (*CompileProgram)(nvrtcProgram prog, int nopts, const char *const *opts);
  nvrtcResult (*GetPTXSize)(nvrtcProgram prog, size_t *size);
  nvrtcResult (*GetPTX)(nvrtcProgram prog, char *ptx);
  nvrtcResult (*GetProgramLogSize)(nvrtcProgram prog, size_t *size);
  nvrtcResult (*GetProgramLog)(nvrtcProgram prog, char *log);
  nvrtcResult (*DestroyProgram)(nvrtcProgram *prog);
  const char *(*GetErrorString)(nvrtcResult r);
} nv;

#define NV_SYM(f, opt) {"nvrtc" #f, offsetof(__typeof__(nv), f), opt}
static const struct { const char *name; size_t off; int optional; } nv_syms[] = {
  NV_SYM(Version, 0), NV_SYM(GetNumSupportedArchs, 1), NV_SYM(GetSupportedArchs, 1), NV_SYM(CreateProgram, 0),
  NV_SYM(CompileProgram, 0), NV_SYM(GetPTXSize, 0), NV_SYM(GetPTX, 0), NV_SYM(GetProgramLogSize, 0), NV_SYM(GetProgramLog, 0),
  NV_SYM(DestroyProgram, 0), NV_SYM(GetErrorString, 0)};

#define LOG_MAX 6000 /* compiler log kept in a message: the first errors are the useful ones */
#define MAX_INC 3

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_version, g_archs[64], g_narchs, g_ninc;
static char g_why[3072], g_desc[PATH_MAX + 64], g_tried[2048], g_inc[MAX_INC][PATH_MAX + 4];
static const char *const sonames[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};

static int is_kind(const char *path, mode_t kind) {
  struct stat st;
  return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == kind;
}

static void tried(const char *what) {
  size_t n = strlen(g_tried);
  snprintf(g_tried + n, sizeof(g_tried) - n, "%s%.600s", n ? ", " : "", what);
}

/* The 13.0 wheel's libnvrtc has no RPATH, so it cannot find its builtins by itself: open them first, globally. */
static void open_builtins(const char *dir) {
  DIR *d = opendir(dir);
  char path[PATH_MAX];
  for (struct dirent *e; d && (e = readdir(d)) != NULL;)
    if (strncmp(e->d_name, "libnvrtc-builtins.so.", 21) == 0 && snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
      dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (d) closedir(d);
}

/* by_path: `name` is a file to open (after its builtins); otherwise a soname for the loader's search. */
static void *try_open(const char *name, int by_path) {
  if (by_path && !is_kind(name, S_IFREG)) return tried(name), NULL;
  if (by_path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", name);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0', open_builtins(dir[0] ? dir : "/");
  }
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *e = dlerror();
    char what[PATH_MAX + 256];
    snprintf(what, sizeof(what), by_path ? "%s (%.200s)" : "%s", name, e ? e : "dlopen failed");
    tried(what);
  }
  return h;
}

/* Tries dir/<each soname>. */
static void *try_dir(const char *dir) {
  char path[PATH_MAX];
  void *h = NULL;
  for (size_t i = 0; h == NULL && i < sizeof(sonames) / sizeof(sonames[0]); i++)
    if (snprintf(path, sizeof(path), "%s/%s", dir, sonames[i]) < (int)sizeof(path)) h = try_open(path, 1);
  return h;
}

static void *find_nvrtc(void) {
  const char *env = getenv("TGC_NVRTC_PATH"), *cuda = getenv("CUDA_PATH");
  if (env && *env) return is_kind(env, S_IFDIR) ? try_dir(env) : try_open(env, 1); /* explicit: no silent fallback */
  void *h = NULL;
  for (size_t i = 0; h == NULL && i < sizeof(sonames) / sizeof(sonames[0]); i++) h = try_open(sonames[i], 0);
  char dir[PATH_MAX];
  if (h == NULL && cuda && *cuda && snprintf(dir, sizeof(dir), "%s/lib64", cuda) < (int)sizeof(dir)) h = try_dir(dir);
  return h ? h : try_dir("/usr/local/cuda/lib64");
}

static void add_include(const char *dir) {
  char real[PATH_MAX];
  if (g_ninc == MAX_INC || !is_kind(dir, S_IFDIR) || realpath(dir, real) == NULL) return;
  for (int i = 0; i < g_ninc; i++)
    if (strcmp(g_inc[i] + 2, real) == 0) return;
  snprintf(g_inc[g_ninc++], sizeof(g_inc[0]), "-I%s", real);
}

static void load_once(void) {
  void *h = find_nvrtc();
  const char *env = getenv("TGC_NVRTC_PATH");
  if (h == NULL) {
    snprintf(g_why, sizeof(g_why), "NVRTC not found (tried %s%s): pip install 'nvidia-cuda-nvrtc==13.0.*' (or the NVRTC of your driver's "
             "CUDA version), or set TGC_NVRTC_PATH to libnvrtc.so", env && *env ? "TGC_NVRTC_PATH=" : "", g_tried);
    return;
  }
  for (size_t i = 0; i < sizeof(nv_syms) / sizeof(nv_syms[0]); i++) {
    void *p = dlsym(h, nv_syms[i].name);
    if (p == NULL && !nv_syms[i].optional) {
      snprintf(g_why, sizeof(g_why), "NVRTC library lacks %s (too old?)", nv_syms[i].name);
      memset(&nv, 0, sizeof(nv));
      return;
    }
    memcpy((char *)&nv + nv_syms[i].off, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  }
  int major = 0, minor = 0;
  if (nv.Version(&major, &minor) != 0) {
    snprintf(g_why, sizeof(g_why), "nvrtcVersion failed");
    return;
  }
  if (nv.GetNumSupportedArchs && nv.GetSupportedArchs && nv.GetNumSupportedArchs(&g_narchs) == 0 && g_narchs > 0 &&
      g_narchs <= (int)(sizeof(g_archs) / sizeof(g_archs[0])))
    nv.GetSupportedArchs(g_archs);
  else
    g_narchs = 0;
  Dl_info info;
  char path[PATH_MAX] = "?", dir[PATH_MAX + 16];
  void *sym;
  memcpy(&sym, &nv.Version, sizeof(sym));
  if (dladdr(sym, &info) && info.dli_fname && realpath(info.dli_fname, path)) {
    snprintf(dir, sizeof(dir), "%s", path);
    if (strrchr(dir, '/')) strcpy(strrchr(dir, '/'), "/../include"), add_include(dir);
  }
  const char *cuda = getenv("CUDA_PATH");
  if (cuda && *cuda && snprintf(dir, sizeof(dir), "%s/include", cuda) < (int)sizeof(dir)) add_include(dir);
  add_include("/usr/local/cuda/include");
  snprintf(g_desc, sizeof(g_desc), "NVRTC %d.%d (%s)", major, minor, path);
  g_version = major * 1000 + minor * 10; /* set last: nonzero means loaded */
}

tg_status tgcu_nvrtc_load(const char **why) {
  pthread_once(&g_once, load_once);
  if (why) *why = g_version ? "" : g_why;
  return g_version ? TG_OK : TG_ERR_UNAVAILABLE;
}

int tgcu_nvrtc_version(void) { return tgcu_nvrtc_load(NULL) == TG_OK ? g_version : 0; }
const char *tgcu_nvrtc_describe(void) { return tgcu_nvrtc_load(NULL) == TG_OK ? g_desc : ""; }

/* The newest arch NVRTC supports that is not newer than the device; the device's own when NVRTC does not say. */
static int pick_arch(int cc) {
  int best = 0;
  for (int i = 0; i < g_narchs; i++)
    if (g_archs[i] <= cc && g_archs[i] > best) best = g_archs[i];
  return best ? best : cc;
}

__attribute__((format(printf, 3, 4))) static tg_status say(char **msg, tg_status code, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (*msg) vsnprintf(*msg, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  va_end(ap);
  return code;
}

tg_status tgcu_nvrtc_compile(const char *source, const char *name, int cc, char **ptx, size_t *size, char **msg) {
  const char *why;
  *ptx = NULL, *size = 0, *msg = NULL;
  if (tgcu_nvrtc_load(&why) != TG_OK) return say(msg, TG_ERR_UNAVAILABLE, "%s", why);
  char arch[48], file[96];
  const char *opts[4 + MAX_INC];
  int nopts = 0, sm = pick_arch(cc);
  snprintf(arch, sizeof(arch), "--gpu-architecture=sm_%d", sm);
  snprintf(file, sizeof(file), "%.80s.cu", name);
  opts[nopts++] = arch;
  for (int i = 0; i < g_ninc; i++) opts[nopts++] = g_inc[i];
  if (g_version >= 12040) opts[nopts++] = "--minimal"; /* as tinygrad: skips texture/runtime declarations, compiles faster */
  nvrtcProgram prog = NULL;
  nvrtcResult r = nv.CreateProgram(&prog, source, file, 0, NULL, NULL);
  if (r != 0)
    return say(msg, r == NVRTC_ERROR_OUT_OF_MEMORY ? TG_ERR_OUT_OF_MEMORY : TG_ERR_COMPILE, "nvrtcCreateProgram for %s: %s", name,
               nv.GetErrorString(r));
  tg_status st = TG_OK;
  size_t n = 0;
  if ((r = nv.CompileProgram(prog, nopts, opts)) != 0) {
    char *log = nv.GetProgramLogSize(prog, &n) == 0 && n > 0 ? malloc(n + 1) : NULL;
    if (log && nv.GetProgramLog(prog, log) != 0) log[0] = '\0';
    if (log) log[n < LOG_MAX ? n : LOG_MAX] = '\0';
    st = say(msg, TG_ERR_COMPILE, "%s cannot compile %s for sm_%d: %s\n%s", g_desc, name, sm, nv.GetErrorString(r), log ? log : "(no log)");
    free(log);
  } else if ((r = nv.GetPTXSize(prog, &n)) != 0 || n == 0) {
    st = say(msg, TG_ERR_COMPILE, "nvrtcGetPTXSize for %s: %s", name, r ? nv.GetErrorString(r) : "empty PTX");
  } else if ((*ptx = malloc(n + 1)) == NULL) {
    st = say(msg, TG_ERR_OUT_OF_MEMORY, "out of memory for the %zu-byte PTX of %s", n, name);
  } else if ((r = nv.GetPTX(prog, *ptx)) != 0) {
    st = say(msg, TG_ERR_COMPILE, "nvrtcGetPTX for %s: %s", name, nv.GetErrorString(r));
    free(*ptx), *ptx = NULL;
  } else {
    (*ptx)[n] = '\0'; /* NVRTC counts and writes the NUL; this one guards against an NVRTC that does not */
    *size = strlen(*ptx) + 1;
  }
  nv.DestroyProgram(&prog);
  return st;
}
