/* hello.c -- the smallest useful tgc program in C: find the CPU device, compile a hand-written kernel in its "c"
** dialect, run it over a buffer and read the result back. Build: part of `cmake -DBUILD_EXAMPLES=ON`. */
#include <stdint.h>
#include <stdio.h>

#include "tg.h"

static const char *src =
    "#include <stdint.h>\n"
    "void saxpy(void *const *bufs, const int64_t *vals, const uint32_t gid[3]) {\n"
    "  float *y = bufs[0]; const float *x = bufs[1];\n"
    "  y[gid[0]] = (float)vals[0] * x[gid[0]] + y[gid[0]];\n"
    "}\n";

#define TRY(call)                                                           \
  do {                                                                      \
    tg_status s_ = (call);                                                  \
    if (s_ != TG_OK) {                                                      \
      fprintf(stderr, "%s failed: %s\n", #call, tg_last_error());           \
      return 1;                                                             \
    }                                                                       \
  } while (0)

int main(void) {
  enum { N = 8 };
  float x[N], y[N], out[N];
  for (int i = 0; i < N; i++) x[i] = (float)i, y[i] = 1.0f;
  tg_device *cpu;
  tg_buffer *bx, *by;
  tg_program *prg;
  TRY(tg_device_get("CPU", &cpu));
  TRY(tg_buffer_alloc(cpu, sizeof x, &bx));
  TRY(tg_buffer_alloc(cpu, sizeof y, &by));
  TRY(tg_buffer_copyin(bx, 0, x, sizeof x));
  TRY(tg_buffer_copyin(by, 0, y, sizeof y));
  TRY(tg_program_compile(cpu, src, "saxpy", &prg));
  tg_buffer *bufs[2] = {by, bx};
  int64_t a = 3;
  uint32_t global[3] = {N, 1, 1};
  TRY(tg_program_launch(prg, bufs, 2, &a, 1, global, NULL));
  TRY(tg_buffer_copyout(by, 0, out, sizeof out));
  const char *name;
  TRY(tg_device_name(cpu, &name));
  printf("tgc %s on %s: 3*x+1 =", tg_version(), name);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    printf(" %g", out[i]);
    bad += out[i] != 3.0f * x[i] + 1.0f;
  }
  printf("\n");
  tg_program_release(prg);
  tg_buffer_release(bx);
  tg_buffer_release(by);
  return bad ? 1 : 0;
}
