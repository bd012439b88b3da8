/* hiprtc.c -- hiprtc loaded at run time (see hiprtc.h for where it is looked for). tinygrad 0.14.0 compiles HIP C++
** through comgr with --offload-arch=ARCH -O3; here hiprtc does the same job (it is comgr underneath): the source the
** "hip" dialect renders, one code object per kernel, for the device's own gcnArchName. */
#define _GNU_SOURCE
#include "hiprtc.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- hiprtc, declared (hiprtc.h of ROCm 5.2 and 6.x: these signatures are unchanged) ---------------- */

typedef int hiprtcResult; /* HIPRTC_SUCCESS = 0 */
typedef struct _hiprtcProgram *hiprtcProgram;
enum { HIPRTC_ERROR_OUT_OF_MEMORY = 1 };

static struct {
  hiprtcResult (*Version)(int *major, int *minor);
  hiprtcResult (*CreateProgram)(hiprtcProgram *prog, const char *src, const char *name, int nheaders, const char **headers,
                                const char **include_names);
  hiprtcResult (*CompileProgram)(hiprtcProgram prog, int nopts, const char **opts);
  hiprtcResult (*GetCodeSize)(hiprtcProgram prog, size_t *size);
  hiprtcResult (*GetCode)(hiprtcProgram prog, char *code);
  hiprtcResult (*GetProgramLogSize)(hiprtcProgram prog, size_t *size);
  hiprtcResult (*GetProgramLog)(hiprtcProgram prog, char *log);
  hiprtcResult (*DestroyProgram)(hiprtcProgram *prog);
  const char *(*GetErrorString)(hiprtcResult r);
} rtc;

#define RTC_SYM(f) {"hiprtc" #f, offsetof(__typeof__(rtc), f)}
static const struct { const char *name; size_t off; } rtc_syms[] = {
  RTC_SYM(Version), RTC_SYM(CreateProgram), RTC_SYM(CompileProgram), RTC_SYM(GetCodeSize), RTC_SYM(GetCode),
  RTC_SYM(GetProgramLogSize), RTC_SYM(GetProgramLog), RTC_SYM(DestroyProgram), RTC_SYM(GetErrorString)};

#define LOG_MAX 6000 /* compiler log kept in a message: the first errors are the useful ones */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_loaded, g_major, g_minor;
static char g_why[2048], g_desc[PATH_MAX + 64], g_tried[1536];

static void tried(const char *what) {
  size_t n = strlen(g_tried);
  snprintf(g_tried + n, sizeof(g_tried) - n, "%s%.400s", n ? ", " : "", what);
}

static void *try_open(const char *name) {
  void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) tried(name);
  return h;
}

/* Binds every symbol from h; 0 when one is missing (then nothing is bound). */
static void *g_handle; /* where hiprtc was found */
static int bind(void *h) {
  g_handle = h;
  for (size_t i = 0; i < sizeof(rtc_syms) / sizeof(rtc_syms[0]); i++) {
    void *p = dlsym(h, rtc_syms[i].name);
    if (p == NULL) return memset(&rtc, 0, sizeof(rtc)), 0;
    memcpy((char *)&rtc + rtc_syms[i].off, &p, sizeof(p)); /* object -> function pointer, the POSIX way */
  }
  return 1;
}

static void describe(void) {
  Dl_info info;
  char path[PATH_MAX] = "?";
  void *sym;
  memcpy(&sym, &rtc.Version, sizeof(sym));
  if (dladdr(sym, &info) && info.dli_fname && !realpath(info.dli_fname, path)) snprintf(path, sizeof(path), "%s", info.dli_fname);
  snprintf(g_desc, sizeof(g_desc), "hiprtc of ROCm %d.%d (%s)", g_major, g_minor, path);
}

static void load_locked(void *runtime) {
  static const char *const sonames[] = {"libhiprtc.so.7", "libhiprtc.so.6", "libhiprtc.so"};
  const char *env = getenv("TGC_HIPRTC_PATH");
  void *h = NULL;
  g_tried[0] = '\0';
  if (env && *env) {
    if ((h = dlopen(env, RTLD_NOW | RTLD_LOCAL)) == NULL) {
      const char *e = dlerror();
      snprintf(g_why, sizeof(g_why), "hiprtc not found (TGC_HIPRTC_PATH=%s: %s)", env, e ? e : "dlopen failed");
      return;
    }
    if (!bind(h)) {
      snprintf(g_why, sizeof(g_why), "TGC_HIPRTC_PATH=%s has no hiprtcCompileProgram & co.", env);
      return;
    }
  } else {
    for (size_t i = 0; i < sizeof(sonames) / sizeof(sonames[0]) && !g_loaded; i++)
      if ((h = try_open(sonames[i])) != NULL && bind(h)) g_loaded = 1;
    if (!g_loaded && runtime) {
      if (bind(runtime)) g_loaded = 1;
      else tried("the HIP runtime library (no hiprtc symbols)");
    }
    if (!g_loaded && (h = try_open("libamdhip64.so.5")) != NULL && bind(h)) g_loaded = 1;
    if (!g_loaded) {
      snprintf(g_why, sizeof(g_why), "hiprtc not found (tried %s): install ROCm's hiprtc (libhiprtc.so, or ROCm 5's libamdhip64), "
               "or set TGC_HIPRTC_PATH to it", g_tried);
      return;
    }
  }
  /* hiprtcVersion answers its own numbering (ROCm 5.2's says 9.0); the ROCm release is what decides the targets, so take
  ** hipRuntimeGetVersion where hiprtc lives in the runtime (ROCm 5), else hiprtcVersion (ROCm 6+ number it as ROCm). */
  int (*runtime_version)(int *) = NULL, v = 0;
  void *sym = dlsym(g_handle, "hipRuntimeGetVersion");
  memcpy(&runtime_version, &sym, sizeof(sym));
  if (runtime_version && runtime_version(&v) == 0 && v > 0) g_major = v / 10000000, g_minor = v / 100000 % 100;
  else if (rtc.Version(&g_major, &g_minor) != 0) g_major = g_minor = 0;
  describe();
  g_loaded = 1;
}

tg_status tghip_rtc_load(void *runtime, const char **why) {
  pthread_mutex_lock(&g_mu); /* not pthread_once: a later call may bring the runtime handle an earlier one lacked */
  if (!g_loaded) load_locked(runtime);
  int ok = g_loaded;
  pthread_mutex_unlock(&g_mu);
  if (why) *why = ok ? "" : g_why;
  return ok ? TG_OK : TG_ERR_UNAVAILABLE;
}

const char *tghip_rtc_describe(void) { return g_loaded ? g_desc : ""; }

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

/* Targets an old hiprtc does not know make it abort the process (ROCm 5.2 with gfx1100: "munmap_chunk(): invalid
** pointer"), so they are refused here with what to install instead. Returns the ROCm version a target needs, 0 if known. */
static int needs_rocm(const char *arch) {
  static const struct { const char *prefix; int version; } table[] = {
    {"gfx950", 607}, {"gfx12", 602}, {"gfx942", 600}, {"gfx1150", 600}, {"gfx11", 505}};
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (strncmp(arch, table[i].prefix, strlen(table[i].prefix)) == 0) return table[i].version;
  return 0;
}

/* hiprtc compiles behind its own runtime header, which defines HIP's vector types (float4 = HIP_vector_type<float, 4>,
** make_float4, ...). tinygrad's HIPRenderer compiles through comgr with -nogpuinc and declares the vector types it uses
** itself (`typedef float float4 __attribute__((ext_vector_type(4)));` + make_float4), which hiprtc then refuses as a
** redefinition. So each vector type the source typedefs is renamed by a macro ahead of it (float4 -> tgc_float4,
** make_float4 -> tgc_make_float4): the kernel gets the clang vectors it was written for. Returns a malloc'd source. */
static char *with_renames(const char *src) {
  size_t cap = strlen(src) + 1, n = 0;
  for (const char *p = src; (p = strstr(p, "ext_vector_type(")) != NULL; p++) cap += 256;
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  out[0] = '\0';
  for (const char *line = src; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    const char *end = strchr(line, '\n') ? strchr(line, '\n') : line + strlen(line), *attr = strstr(line, " __attribute__((ext_vector_type(");
    if (strncmp(line, "typedef ", 8) != 0 || attr == NULL || attr > end) continue;
    const char *id = attr;
    while (id > line && id[-1] != ' ') id--;
    int len = (int)(attr - id);
    if (len > 0 && len < 64) n += (size_t)snprintf(out + n, cap - n, "#define %.*s tgc_%.*s\n#define make_%.*s tgc_make_%.*s\n", len, id, len, id, len, id, len, id);
  }
  snprintf(out + n, cap - n, "%s", src);
  return out;
}

tg_status tghip_rtc_compile(void *runtime, const char *source, const char *name, const char *arch, char **co, size_t *size, char **msg) {
  const char *why;
  *co = NULL, *size = 0, *msg = NULL;
  if (tghip_rtc_load(runtime, &why) != TG_OK) return say(msg, TG_ERR_UNAVAILABLE, "%s", why);
  int need = needs_rocm(arch);
  if (g_major > 0 && need > g_major * 100 + g_minor)
    return say(msg, TG_ERR_COMPILE, "%s cannot target %s: it needs hiprtc from ROCm %d.%d or newer", g_desc, arch, need / 100, need % 100);
  char opt_arch[96], file[96];
  snprintf(opt_arch, sizeof(opt_arch), "--gpu-architecture=%.64s", arch);
  snprintf(file, sizeof(file), "%.80s.hip", name);
  const char *opts[] = {opt_arch, "-O3"};
  char *full = with_renames(source);
  if (full == NULL) return say(msg, TG_ERR_OUT_OF_MEMORY, "out of memory for the source of %s", name);
  hiprtcProgram prog = NULL;
  hiprtcResult r = rtc.CreateProgram(&prog, full, file, 0, NULL, NULL);
  free(full);
  if (r != 0)
    return say(msg, r == HIPRTC_ERROR_OUT_OF_MEMORY ? TG_ERR_OUT_OF_MEMORY : TG_ERR_COMPILE, "hiprtcCreateProgram for %s: %s", name,
               rtc.GetErrorString(r));
  tg_status st = TG_OK;
  size_t n = 0;
  if ((r = rtc.CompileProgram(prog, 2, opts)) != 0) {
    char *log = rtc.GetProgramLogSize(prog, &n) == 0 && n > 0 ? malloc(n + 1) : NULL;
    if (log && rtc.GetProgramLog(prog, log) != 0) log[0] = '\0';
    if (log) log[n < LOG_MAX ? n : LOG_MAX] = '\0';
    st = say(msg, TG_ERR_COMPILE, "%s cannot compile %s for %s: %s\n%s", g_desc, name, arch, rtc.GetErrorString(r), log && *log ? log : "(no log)");
    free(log);
  } else if ((r = rtc.GetCodeSize(prog, &n)) != 0 || n == 0) {
    st = say(msg, TG_ERR_COMPILE, "hiprtcGetCodeSize for %s: %s", name, r ? rtc.GetErrorString(r) : "empty code object");
  } else if ((*co = malloc(n)) == NULL) {
    st = say(msg, TG_ERR_OUT_OF_MEMORY, "out of memory for the %zu-byte code object of %s", n, name);
  } else if ((r = rtc.GetCode(prog, *co)) != 0) {
    st = say(msg, TG_ERR_COMPILE, "hiprtcGetCode for %s: %s", name, rtc.GetErrorString(r));
    free(*co), *co = NULL;
  } else {
    *size = n;
  }
  rtc.DestroyProgram(&prog);
  return st;
}
