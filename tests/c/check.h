/* check.h -- the few macros the C tests share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks_run, checks_failed;
#define CHECK(cond)                                                                  \
  do {                                                                               \
    checks_run++;                                                                    \
    if (!(cond)) {                                                                   \
      checks_failed++;                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
    }                                                                                \
  } while (0)
/* A call must fail with `code` and a last-error message containing `needle`. */
#define CHECK_ERR(call, code, needle)                                                                                   \
  do {                                                                                                                  \
    tg_status s_ = (call);                                                                                              \
    checks_run++;                                                                                                       \
    if (s_ != (code) || !strstr(tg_last_error(), (needle))) {                                                           \
      checks_failed++;                                                                                                  \
      fprintf(stderr, "%s:%d: %s -> %d (%s) \"%s\", expected %d with \"%s\"\n", __FILE__, __LINE__, #call, s_,         \
              tg_status_string(s_), tg_last_error(), (code), (needle));                                                 \
    }                                                                                                                   \
  } while (0)
#define CHECK_OK(call)                                                                                                \
  do {                                                                                                                \
    tg_status s_ = (call);                                                                                            \
    checks_run++;                                                                                                     \
    if (s_ != TG_OK) {                                                                                                \
      checks_failed++;                                                                                                \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, tg_status_string(s_), tg_last_error());     \
    }                                                                                                                 \
  } while (0)
#define CHECK_DONE()                                                                   \
  do {                                                                                 \
    printf("%s: %d checks, %d failed\n", __FILE__, checks_run, checks_failed);         \
    return checks_failed ? 1 : 0;                                                      \
  } while (0)
