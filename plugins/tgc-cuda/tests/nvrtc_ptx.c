/* nvrtc_ptx.c -- test tool: compiles one CUDA C file to PTX through the plugin's own src/nvrtc.c (same NVRTC lookup, same
** flags), so CI proves kernels compile without a GPU or a driver. Built by tests/test_compile.py.
**   usage: nvrtc_ptx CC NAME FILE   (CC = compute capability, 90 for sm_90)
** stdout: the PTX; stderr: first line "nvrtc: <NVRTC version and path>", then the error if any.
** exit: 0 compiled, 1 compile error (NVRTC's log on stderr), 2 NVRTC unavailable or bad usage. */
#include <stdio.h>
#include <stdlib.h>

#include "../src/nvrtc.h"

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: %s CC NAME FILE\n", argv[0]), 2;
  FILE *f = fopen(argv[3], "rb");
  char *src = f ? calloc(1, 1 << 20) : NULL;
  size_t n = src ? fread(src, 1, (1 << 20) - 1, f) : 0;
  if (f) fclose(f);
  if (src == NULL || n == 0) return fprintf(stderr, "cannot read %s\n", argv[3]), 2;
  char *ptx = NULL, *msg = NULL;
  size_t size = 0;
  tg_status s = tgcu_nvrtc_compile(src, argv[2], atoi(argv[1]), &ptx, &size, &msg);
  fprintf(stderr, "nvrtc: %s\n", tgcu_nvrtc_describe());
  if (s != TG_OK) fprintf(stderr, "%s\n", msg ? msg : "out of memory");
  else fwrite(ptx, 1, size - 1, stdout);
  free(ptx), free(msg), free(src);
  return s == TG_OK ? 0 : s == TG_ERR_COMPILE ? 1 : 2;
}
