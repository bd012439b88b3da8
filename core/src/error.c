/* error.c -- status strings and the per-thread last-error message (SQLite's errcode/errmsg). */
#include <stdarg.h>
#include <stdio.h>

#include "tgc_internal.h"

static _Thread_local char last_error[16384];
static _Thread_local tg_status last_code; /* the status of the last tg_err on this thread (tg_err_code below) */

static const char *const status_text[] = {
    [TG_OK] = "ok",
    [TG_ERR_INVALID_ARGUMENT] = "invalid argument",
    [TG_ERR_NULL_POINTER] = "NULL pointer",
    [TG_ERR_INVALID_HANDLE] = "invalid or released handle",
    [TG_ERR_OUT_OF_RANGE] = "out of range",
    [TG_ERR_OUT_OF_MEMORY] = "out of memory",
    [TG_ERR_UNSUPPORTED] = "unsupported",
    [TG_ERR_SHAPE] = "shape mismatch",
    [TG_ERR_DTYPE] = "dtype mismatch or unsupported dtype",
    [TG_ERR_COMPILE] = "compile error",
    [TG_ERR_LOAD] = "load error",
    [TG_ERR_ABI] = "incompatible ABI",
    [TG_ERR_DEVICE] = "device error",
    [TG_ERR_IO] = "I/O error",
    [TG_ERR_INTERNAL] = "internal error",
    [TG_ERR_UNAVAILABLE] = "unavailable",
    [TG_ERR_TIMEOUT] = "timeout",
    [TG_ERR_CORRUPT] = "corrupt data",
};

TG_API const char *tg_status_string(tg_status s) {
  if ((unsigned)s < sizeof status_text / sizeof status_text[0] && status_text[s]) return status_text[s];
  return "unknown status";
}

TG_API const char *tg_last_error(void) { return last_error; }

tg_status tg_err(tg_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return last_code = code;
}

tg_status tg_err_code(void) { return last_code; }
void tg_err_code_clear(void) { last_code = TG_OK; }

TG_API const char *tg_version(void) { return TG_VERSION_STRING; }
TG_API int tg_version_number(void) { return TG_VERSION_MAJOR * 10000 + TG_VERSION_MINOR * 100 + TG_VERSION_PATCH; }
