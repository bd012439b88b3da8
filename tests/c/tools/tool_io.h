/* tool_io.h -- what the stage tools in tests/c/tools share: reading a whole stream (the JSON graph on stdin). */
#ifndef TG_TOOL_IO_H
#define TG_TOOL_IO_H
#include <stdio.h>
#include <stdlib.h>

/* The whole of f as a malloc'd buffer (n bytes, not NUL-terminated), or NULL when out of memory. */
static inline char *read_all(FILE *f, size_t *n) {
  size_t cap = 1 << 16;
  char *buf = malloc(cap);
  *n = 0;
  for (size_t r; buf && (r = fread(buf + *n, 1, cap - *n, f)) > 0;) {
    *n += r;
    if (*n == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  return buf;
}
#endif
