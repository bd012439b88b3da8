/* hiprtc_co.c -- test tool: compiles HIP C++ files to code objects through the plugin's own src/hiprtc.c (same hiprtc
** lookup, same flags), so CI proves kernels compile with no AMD GPU. Built by tests/test_compile.py.
**   usage: hiprtc_co ARCH FILE...   (each FILE is DIR/NAME.hip: kernel NAME; writes DIR/NAME.ARCH.co)
** stdout: one line per file, "ok NAME SIZE" or "error NAME" followed by the message (indented); stderr: the hiprtc in use.
** exit: 0 all compiled, 1 a compile error, 2 hiprtc unavailable or bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/hiprtc.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *src = f ? calloc(1, 1 << 22) : NULL;
  size_t n = src ? fread(src, 1, (1 << 22) - 1, f) : 0;
  if (f) fclose(f);
  if (n == 0) free(src), src = NULL;
  return src;
}

int main(int argc, char **argv) {
  if (argc < 3) return fprintf(stderr, "usage: %s ARCH FILE...\n", argv[0]), 2;
  int rc = 0;
  for (int i = 2; i < argc; i++) {
    char *src = slurp(argv[i]), name[256], out[4096];
    if (src == NULL) return fprintf(stderr, "cannot read %s\n", argv[i]), 2;
    const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(base, "."), base);
    char *co = NULL, *msg = NULL;
    size_t size = 0;
    tg_status s = tghip_rtc_compile(NULL, src, name, argv[1], &co, &size, &msg);
    if (s == TG_ERR_UNAVAILABLE) return fprintf(stderr, "%s\n", msg ? msg : "hiprtc unavailable"), 2;
    if (s == TG_OK) {
      snprintf(out, sizeof(out), "%.*s.%s.co", (int)(strrchr(argv[i], '.') - argv[i]), argv[i], argv[1]);
      FILE *f = fopen(out, "wb");
      if (!f || fwrite(co, 1, size, f) != size) return fprintf(stderr, "cannot write %s\n", out), 2;
      fclose(f);
      printf("ok %s %zu\n", name, size);
    } else {
      printf("error %s\n  %s\n", name, msg ? msg : "out of memory");
      rc = 1;
    }
    fflush(stdout);
    free(co), free(msg), free(src);
  }
  fprintf(stderr, "hiprtc: %s\n", tghip_rtc_describe());
  return rc;
}
