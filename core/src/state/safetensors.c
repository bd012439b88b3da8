/* safetensors.c -- the safetensors half of tinygrad 0.14.0's nn/state.py: safe_load's parsing and safe_save's layout.
** The public surface is the "State" section of include/tg.h.
**
** The JSON parser is ours: a recursive descent over (bytes, length) that never reads past the length, validates UTF-8
** up front, decodes only what it needs (names, dtype strings, integer arrays) and checks the rest (the metadata) for
** syntax alone. Every malformed input is a TG_ERR_CORRUPT whose message says what and where. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "tgc_internal.h"

#define ST_HEADER_MAX 100000000ull /* the safetensors format's own cap on the header */
#define ST_MAX_DEPTH 128
#define ST_MAX_DIMS 64 /* what a tgc shape may hold */

/* tinygrad's safe_dtypes, both ways. */
static const struct {
  const char *name;
  tg_dtype dt;
} st_dtypes[] = {{"BOOL", TG_BOOL},    {"I8", TG_INT8},          {"U8", TG_UINT8},         {"I16", TG_INT16},
                 {"U16", TG_UINT16},   {"I32", TG_INT32},        {"U32", TG_UINT32},       {"I64", TG_INT64},
                 {"U64", TG_UINT64},   {"F8_E4M3", TG_FP8E4M3},  {"F8_E5M2", TG_FP8E5M2},  {"F16", TG_FLOAT16},
                 {"BF16", TG_BFLOAT16}, {"F32", TG_FLOAT32},     {"F64", TG_FLOAT64}};
#define ST_NDTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static const char *st_dtype_name(tg_dtype dt) {
  for (size_t i = 0; i < ST_NDTYPES; i++)
    if (st_dtypes[i].dt == dt) return st_dtypes[i].name;
  return NULL;
}

typedef struct st_entry {
  char *name;
  tg_dtype dt;
  size_t ndim;
  int64_t *shape;
  uint64_t begin, end;
} st_entry;

typedef struct st_file {
  unsigned char *blob; /* the whole file, owned */
  size_t nbytes, hlen; /* header: blob[8, 8 + hlen) */
  st_entry *e;
  size_t n, cap;
  st_entry **by_name; /* e sorted by name, for find */
  size_t meta_off, meta_len; /* "__metadata__" value: blob[meta_off, meta_off + meta_len); meta_off 0 when absent */
} st_file;

static tg_status corrupt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static tg_status corrupt(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tg_err(TG_ERR_CORRUPT, "safetensors: %s", msg);
}

static tg_status oom(void) { return tg_err(TG_ERR_OUT_OF_MEMORY, "safetensors: out of memory"); }

/* A name fit for a message: about 60 bytes at most (cut between characters), control characters shown as '?'. */
static const char *shown(const char *s, char *buf, size_t cap) {
  size_t i = 0, o = 0;
  while (s[i]) {
    unsigned c = (unsigned char)s[i];
    size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, j = 1;
    while (j < k && s[i + j]) j++; /* never past the NUL, even in a caller's malformed string */
    if (i >= 60 || o + j + 4 > cap) break;
    if (c < 0x20 || c == 0x7f) buf[o++] = '?';
    else memcpy(buf + o, s + i, j), o += j;
    i += j;
  }
  if (s[i]) memcpy(buf + o, "...", 3), o += 3;
  buf[o] = 0;
  return buf;
}

static const char *shape_str(const int64_t *d, size_t n, char *buf, size_t cap) {
  size_t o = (size_t)snprintf(buf, cap, "(");
  for (size_t i = 0; i < n && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, i ? ", %lld" : "%lld", (long long)d[i]);
  if (o < cap) snprintf(buf + o, cap - o, n == 1 ? ",)" : ")");
  return buf;
}

/* ---------------- UTF-8 ---------------- */

/* Offset of the first byte that breaks UTF-8 (overlongs, surrogates and code points past U+10FFFF included), or n. */
static size_t utf8_bad(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return i;
    if (len > n - i) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80) return i;
    i += len;
  }
  return n;
}

/* ---------------- JSON ---------------- */

typedef struct jp {
  const unsigned char *s;
  size_t n, i, base; /* base: file offset of s[0], for messages */
  const char *what;  /* "the header" or "metadata_json" */
  char *str;         /* the last string decoded, NUL-terminated */
  size_t slen, scap;
  int str_nul;       /* it held U+0000 */
} jp;

static tg_status jfail(jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tg_status jfail(jp *p, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return corrupt("invalid JSON in %s at byte %zu: %s", p->what, p->base + p->i, msg);
}

static tg_status junexpected(jp *p, const char *wanted) {
  if (p->i >= p->n) return jfail(p, "unexpected end, expected %s", wanted);
  unsigned c = p->s[p->i];
  if (c >= 0x20 && c < 0x7f) return jfail(p, "unexpected '%c', expected %s", (char)c, wanted);
  return jfail(p, "unexpected byte 0x%02x, expected %s", c, wanted);
}

static void jws(jp *p) {
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')) p->i++;
}

static int jpeek(jp *p) { return p->i < p->n ? p->s[p->i] : -1; }

static tg_status jexpect(jp *p, char c, const char *wanted) {
  jws(p);
  if (jpeek(p) != (unsigned char)c) return junexpected(p, wanted);
  p->i++;
  return TG_OK;
}

static int str_put(jp *p, const char *b, size_t k) {
  if (p->slen + k + 1 > p->scap) {
    size_t nc = p->scap ? p->scap : 64;
    while (nc < p->slen + k + 1) nc *= 2;
    char *ns = realloc(p->str, nc);
    if (!ns) return -1;
    p->str = ns, p->scap = nc;
  }
  memcpy(p->str + p->slen, b, k);
  p->slen += k;
  p->str[p->slen] = 0;
  return 0;
}

static int hex4(const unsigned char *s, unsigned *out) {
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned c = s[k], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
    if (d == 16) return -1;
    v = v * 16 + d;
  }
  *out = v;
  return 0;
}

/* A string at p->i (after whitespace), decoded into p->str. The input is already valid UTF-8. */
static tg_status jstring(jp *p) {
  jws(p);
  if (jpeek(p) != '"') return junexpected(p, "a string");
  p->i++;
  p->slen = 0, p->str_nul = 0;
  if (str_put(p, "", 0)) return oom();
  for (;;) {
    if (p->i >= p->n) return jfail(p, "unterminated string");
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] != '"' && p->s[p->i] != '\\' && p->s[p->i] >= 0x20) p->i++;
    if (str_put(p, (const char *)p->s + start, p->i - start)) return oom();
    if (p->i >= p->n) return jfail(p, "unterminated string");
    unsigned c = p->s[p->i];
    if (c == '"') { p->i++; return TG_OK; }
    if (c < 0x20) return jfail(p, "control character 0x%02x in a string", c);
    /* an escape */
    if (p->i + 1 >= p->n) return jfail(p, "unterminated escape");
    char e = (char)p->s[p->i + 1], out;
    switch (e) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': out = 0; break;
    default: p->i++; return jfail(p, "invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
    }
    if (e != 'u') {
      if (str_put(p, &out, 1)) return oom();
      p->i += 2;
      continue;
    }
    unsigned cp;
    if (p->n - p->i < 6 || hex4(p->s + p->i + 2, &cp)) return jfail(p, "invalid \\u escape");
    p->i += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) { p->i -= 6; return jfail(p, "lone low surrogate \\u%04x", cp); }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      unsigned lo;
      if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' || hex4(p->s + p->i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
        p->i -= 6;
        return jfail(p, "high surrogate \\u%04x not followed by a low one", cp);
      }
      p->i += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    char u[4];
    size_t k;
    if (cp < 0x80) u[0] = (char)cp, k = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
    else if (cp < 0x10000) u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
    else
      u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F)), u[2] = (char)(0x80 | (cp >> 6 & 0x3F)),
      u[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
    if (cp == 0) p->str_nul = 1;
    if (str_put(p, u, k)) return oom();
  }
}

/* A number at p->i. *is_int: no fraction or exponent; then *v holds it when it fits int64 (*fits). */
static tg_status jnumber(jp *p, int *is_int, int *fits, int64_t *v) {
  jws(p);
  size_t i = p->i;
  int neg = 0;
  if (i < p->n && p->s[i] == '-') neg = 1, i++;
  if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') { p->i = i; return junexpected(p, "a digit"); }
  uint64_t mag = 0;
  int over = 0;
  if (p->s[i] == '0') i++;
  else
    for (; i < p->n && p->s[i] >= '0' && p->s[i] <= '9'; i++) {
      unsigned d = p->s[i] - '0';
      if (mag > (UINT64_MAX - d) / 10) over = 1;
      else mag = mag * 10 + d;
    }
  *is_int = 1;
  if (i < p->n && p->s[i] == '.') {
    *is_int = 0, i++;
    if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') { p->i = i; return junexpected(p, "a digit after '.'"); }
    while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
  }
  if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
    *is_int = 0, i++;
    if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
    if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') { p->i = i; return junexpected(p, "a digit in the exponent"); }
    while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
  }
  *fits = !over && (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX);
  if (*fits) *v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
  p->i = i;
  return TG_OK;
}

/* Any value, checked for syntax only. */
static tg_status jskip(jp *p, int depth) {
  jws(p);
  int c = jpeek(p);
  tg_status st;
  if (c == '{' || c == '[') {
    if (depth >= ST_MAX_DEPTH) return jfail(p, "nested deeper than %d", ST_MAX_DEPTH);
    char close = c == '{' ? '}' : ']';
    p->i++;
    jws(p);
    if (jpeek(p) == close) { p->i++; return TG_OK; }
    for (;;) {
      if (c == '{') {
        if ((st = jstring(p)) || (st = jexpect(p, ':', "':'"))) return st;
      }
      if ((st = jskip(p, depth + 1))) return st;
      jws(p);
      if (jpeek(p) == ',') { p->i++; continue; }
      if (jpeek(p) == close) { p->i++; return TG_OK; }
      return junexpected(p, c == '{' ? "',' or '}'" : "',' or ']'");
    }
  }
  if (c == '"') return jstring(p);
  if (c == '-' || (c >= '0' && c <= '9')) {
    int is_int, fits;
    int64_t v;
    return jnumber(p, &is_int, &fits, &v);
  }
  static const char *const lits[] = {"true", "false", "null"};
  for (int k = 0; k < 3; k++) {
    size_t L = strlen(lits[k]);
    if (p->n - p->i >= L && !memcmp(p->s + p->i, lits[k], L)) { p->i += L; return TG_OK; }
  }
  return junexpected(p, "a value");
}

/* An array of at most `max` integers into v[]; ctx names it in messages ("the shape of tensor 'w'"). */
static tg_status jints(jp *p, const char *ctx, int64_t *v, size_t max, size_t *n) {
  jws(p);
  if (jpeek(p) != '[') return corrupt("%s is not an array", ctx);
  p->i++;
  *n = 0;
  jws(p);
  if (jpeek(p) == ']') { p->i++; return TG_OK; }
  for (;;) {
    jws(p);
    int c = jpeek(p), is_int, fits;
    if (c != '-' && (c < '0' || c > '9')) return corrupt("%s holds a non-integer (byte %zu)", ctx, p->base + p->i);
    size_t at = p->i;
    int64_t x;
    tg_status st = jnumber(p, &is_int, &fits, &x);
    if (st) return st;
    if (!is_int) return corrupt("%s holds %.*s, not an integer", ctx, (int)(p->i - at < 40 ? p->i - at : 40), (const char *)p->s + at);
    if (!fits) return corrupt("%s holds %.*s, too large", ctx, (int)(p->i - at < 40 ? p->i - at : 40), (const char *)p->s + at);
    if (*n == max) return corrupt("%s has more than %zu entries", ctx, max);
    v[(*n)++] = x;
    jws(p);
    if (jpeek(p) == ',') { p->i++; continue; }
    if (jpeek(p) == ']') { p->i++; return TG_OK; }
    return junexpected(p, "',' or ']'");
  }
}

/* ---------------- the header ---------------- */

static void st_free(st_file *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) free(f->e[i].name), free(f->e[i].shape);
  free(f->e), free(f->by_name), free(f->blob), free(f);
}

/* One tensor's object; name is f->e[f->n].name, already stored. */
static tg_status parse_entry(jp *p, st_file *f) {
  st_entry *e = &f->e[f->n];
  char nb[80], ctx[160];
  shown(e->name, nb, sizeof nb);
  jws(p);
  if (jpeek(p) != '{') return corrupt("tensor '%s': expected an object (byte %zu)", nb, p->base + p->i);
  p->i++;
  int seen = 0; /* 1 dtype, 2 shape, 4 data_offsets */
  int64_t dims[ST_MAX_DIMS], offs[2];
  size_t nd = 0, no = 0;
  jws(p);
  if (jpeek(p) == '}') p->i++;
  else
    for (;;) {
      tg_status st = jstring(p);
      if (st || (st = jexpect(p, ':', "':'"))) return st;
      int bit = p->str_nul ? 0 : !strcmp(p->str, "dtype") ? 1 : !strcmp(p->str, "shape") ? 2 : !strcmp(p->str, "data_offsets") ? 4 : 0;
      if (bit & seen) return corrupt("tensor '%s': duplicate field '%s'", nb, p->str);
      seen |= bit;
      if (bit == 1) {
        jws(p);
        if (jpeek(p) != '"') return corrupt("tensor '%s': dtype is not a string", nb);
        if ((st = jstring(p))) return st;
        size_t k = 0;
        while (k < ST_NDTYPES && strcmp(st_dtypes[k].name, p->str)) k++;
        if (k == ST_NDTYPES) {
          char db[80];
          return corrupt("tensor '%s': unknown dtype '%s'", nb, shown(p->str, db, sizeof db));
        }
        e->dt = st_dtypes[k].dt;
      } else if (bit == 2) {
        snprintf(ctx, sizeof ctx, "the shape of tensor '%s'", nb);
        if ((st = jints(p, ctx, dims, ST_MAX_DIMS, &nd))) return st;
      } else if (bit == 4) {
        snprintf(ctx, sizeof ctx, "data_offsets of tensor '%s'", nb);
        if ((st = jints(p, ctx, offs, 2, &no))) return st;
        if (no != 2) return corrupt("tensor '%s': data_offsets has %zu entries, not 2", nb, no);
      } else if ((st = jskip(p, 2))) return st;
      jws(p);
      if (jpeek(p) == ',') { p->i++; continue; }
      if (jpeek(p) == '}') { p->i++; break; }
      return junexpected(p, "',' or '}'");
    }
  static const char *const field[] = {"dtype", "shape", "data_offsets"};
  for (int k = 0; k < 3; k++)
    if (!(seen & 1 << k)) return corrupt("tensor '%s': missing field '%s'", nb, field[k]);
  for (size_t k = 0; k < nd; k++)
    if (dims[k] < 0) return corrupt("tensor '%s': negative dim %lld in shape %s", nb, (long long)dims[k], shape_str(dims, nd, ctx, sizeof ctx));
  if (offs[0] < 0 || offs[1] < 0) return corrupt("tensor '%s': negative data_offsets [%lld, %lld]", nb, (long long)offs[0], (long long)offs[1]);
  if (!(e->shape = malloc((nd ? nd : 1) * sizeof *e->shape))) return oom();
  memcpy(e->shape, dims, nd * sizeof *dims);
  e->ndim = nd, e->begin = (uint64_t)offs[0], e->end = (uint64_t)offs[1];
  return TG_OK;
}

/* The checks that need the whole table: sizes against the data, duplicates, overlaps. */
static int by_name_cmp(const void *a, const void *b) { return strcmp((*(st_entry *const *)a)->name, (*(st_entry *const *)b)->name); }
static int by_begin_cmp(const void *a, const void *b) {
  const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

static tg_status check_table(st_file *f) {
  uint64_t data_len = f->nbytes - 8 - f->hlen;
  char nb[80], sb[512];
  for (size_t i = 0; i < f->n; i++) {
    st_entry *e = &f->e[i];
    shown(e->name, nb, sizeof nb);
    uint64_t isz = (uint64_t)tg_dt_itemsize(e->dt), numel = 1;
    int over = 0, empty = 0;
    for (size_t k = 0; k < e->ndim; k++) empty |= e->shape[k] == 0;
    for (size_t k = 0; k < e->ndim && !empty; k++) { /* numel must fit int64, its bytes uint64 */
      uint64_t d = (uint64_t)e->shape[k];
      if (numel > (uint64_t)INT64_MAX / d) over = 1;
      else numel *= d;
    }
    if (!over && !empty && numel > UINT64_MAX / isz) over = 1;
    uint64_t need = empty ? 0 : numel * isz;
    if (e->begin > e->end) return corrupt("tensor '%s': data_offsets [%llu, %llu] end before they begin", nb, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
      return corrupt("tensor '%s': data_offsets [%llu, %llu] past the end of the data (%llu bytes)", nb, (unsigned long long)e->begin,
                     (unsigned long long)e->end, (unsigned long long)data_len);
    if (over || e->end - e->begin != need)
      return corrupt("tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %s%llu", nb, (unsigned long long)e->begin,
                     (unsigned long long)e->end, (unsigned long long)(e->end - e->begin), shape_str(e->shape, e->ndim, sb, sizeof sb),
                     st_dtype_name(e->dt), over ? "more than " : "", over ? (unsigned long long)UINT64_MAX : (unsigned long long)need);
  }
  if (!(f->by_name = malloc((f->n ? f->n : 1) * sizeof *f->by_name))) return oom();
  for (size_t i = 0; i < f->n; i++) f->by_name[i] = &f->e[i];
  qsort(f->by_name, f->n, sizeof *f->by_name, by_name_cmp);
  for (size_t i = 1; i < f->n; i++)
    if (!strcmp(f->by_name[i - 1]->name, f->by_name[i]->name)) return corrupt("duplicate tensor name '%s'", shown(f->by_name[i]->name, nb, sizeof nb));
  st_entry **order = malloc((f->n ? f->n : 1) * sizeof *order);
  if (!order) return oom();
  size_t m = 0;
  for (size_t i = 0; i < f->n; i++)
    if (f->e[i].end > f->e[i].begin) order[m++] = &f->e[i];
  qsort(order, m, sizeof *order, by_begin_cmp);
  for (size_t i = 1; i < m; i++)
    if (order[i]->begin < order[i - 1]->end) {
      char nb2[80];
      tg_status st = corrupt("tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", shown(order[i - 1]->name, nb, sizeof nb),
                             (unsigned long long)order[i - 1]->begin, (unsigned long long)order[i - 1]->end, shown(order[i]->name, nb2, sizeof nb2),
                             (unsigned long long)order[i]->begin, (unsigned long long)order[i]->end);
      free(order);
      return st;
    }
  free(order);
  return TG_OK;
}

static tg_status parse_header(st_file *f) {
  if (f->nbytes < 8) return corrupt("%zu bytes, shorter than the 8-byte header length", f->nbytes);
  uint64_t hlen = 0;
  for (int k = 7; k >= 0; k--) hlen = hlen << 8 | f->blob[k];
  if (hlen > f->nbytes - 8)
    return corrupt("header length %llu is past the end of the %zu-byte file", (unsigned long long)hlen, f->nbytes);
  if (hlen > ST_HEADER_MAX) return corrupt("header length %llu is above the limit of %llu bytes", (unsigned long long)hlen, ST_HEADER_MAX);
  f->hlen = (size_t)hlen;
  const unsigned char *h = f->blob + 8;
  size_t bad = utf8_bad(h, f->hlen);
  if (bad < f->hlen) return corrupt("the header is not valid UTF-8 (byte 0x%02x at byte %zu)", h[bad], 8 + bad);
  jp p = {.s = h, .n = f->hlen, .base = 8, .what = "the header"};
  tg_status st;
  jws(&p);
  if (jpeek(&p) != '{') { st = junexpected(&p, "'{' (the header must be a JSON object)"); goto done; }
  p.i++;
  jws(&p);
  if (jpeek(&p) == '}') p.i++;
  else
    for (;;) {
      if ((st = jstring(&p)) || (st = jexpect(&p, ':', "':'"))) goto done;
      if (!strcmp(p.str, "__metadata__") && !p.str_nul) {
        if (f->meta_off) { st = corrupt("duplicate '__metadata__'"); goto done; }
        jws(&p);
        if (jpeek(&p) != '{') { st = corrupt("'__metadata__' is not an object (byte %zu)", 8 + p.i); goto done; }
        size_t at = p.i;
        if ((st = jskip(&p, 1))) goto done;
        f->meta_off = 8 + at, f->meta_len = p.i - at;
      } else {
        char nb[80];
        if (p.str_nul) { st = corrupt("tensor name '%s' holds U+0000", shown(p.str, nb, sizeof nb)); goto done; }
        if (f->n == f->cap) {
          size_t nc = f->cap ? f->cap * 2 : 16;
          st_entry *ne = realloc(f->e, nc * sizeof *ne);
          if (!ne) { st = oom(); goto done; }
          f->e = ne, f->cap = nc;
        }
        st_entry *e = &f->e[f->n];
        memset(e, 0, sizeof *e);
        if (!(e->name = strdup(p.str))) { st = oom(); goto done; }
        st = parse_entry(&p, f);
        f->n++; /* owned by f from here, complete or not */
        if (st) goto done;
      }
      jws(&p);
      if (jpeek(&p) == ',') { p.i++; continue; }
      if (jpeek(&p) == '}') { p.i++; break; }
      st = junexpected(&p, "',' or '}'");
      goto done;
    }
  jws(&p);
  if (p.i < p.n) { st = junexpected(&p, "the end of the header after the JSON object"); goto done; }
  st = check_table(f);
done:
  free(p.str);
  return st;
}

/* ---------------- handles ---------------- */

static tg_status from_blob(unsigned char *blob, size_t nbytes, tg_safetensors **out) {
  st_file *f = calloc(1, sizeof *f);
  if (!f) return free(blob), oom();
  f->blob = blob, f->nbytes = nbytes;
  tg_status st = parse_header(f);
  if (st) return st_free(f), st;
  void *h = tg_handle_new(TG_H_SAFETENSORS, f);
  if (!h) return st_free(f), oom();
  *out = h;
  return TG_OK;
}

TG_API tg_status tg_safetensors_parse(const void *data, size_t nbytes, tg_safetensors **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_parse: out is NULL");
  if (!data && nbytes) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_parse: data is NULL for %zu bytes", nbytes);
  unsigned char *blob = malloc(nbytes ? nbytes : 1);
  if (!blob) return oom();
  if (nbytes) memcpy(blob, data, nbytes);
  return from_blob(blob, nbytes, out);
}

TG_API tg_status tg_safetensors_open(const char *path, tg_safetensors **out) {
  if (!path) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_open: path is NULL");
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_open: out is NULL");
  FILE *fp = fopen(path, "rb");
  if (!fp) return tg_err(TG_ERR_IO, "safetensors: cannot open '%s': %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  unsigned char *blob = malloc(cap);
  while (blob) {
    n += fread(blob + n, 1, cap - n, fp);
    if (n < cap) break;
    unsigned char *nb = cap < SIZE_MAX / 2 ? realloc(blob, cap * 2) : NULL;
    if (!nb) free(blob);
    blob = nb, cap *= 2;
  }
  int err = ferror(fp) ? errno : 0;
  fclose(fp);
  if (!blob) return oom();
  if (err) return free(blob), tg_err(TG_ERR_IO, "safetensors: cannot read '%s': %s", path, strerror(err));
  return from_blob(blob, n, out);
}

TG_API tg_status tg_safetensors_release(tg_safetensors *st) {
  if (!st) return TG_OK;
  void *dead;
  tg_status s = tg_handle_release(st, TG_H_SAFETENSORS, "safetensors", &dead);
  st_free(dead);
  return s;
}

#define GET_FILE(h, f)                                                                                                 \
  st_file *f;                                                                                                          \
  do {                                                                                                                 \
    void *o_;                                                                                                          \
    tg_status s_ = tg_handle_get((h), TG_H_SAFETENSORS, "safetensors", &o_);                                           \
    if (s_) return s_;                                                                                                 \
    f = o_;                                                                                                            \
  } while (0)

TG_API tg_status tg_safetensors_count(tg_safetensors *st, size_t *out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_count: out is NULL");
  GET_FILE(st, f);
  *out = f->n;
  return TG_OK;
}

static tg_status get_entry(st_file *f, size_t index, const char *fn, st_entry **e) {
  if (index >= f->n) return tg_err(TG_ERR_OUT_OF_RANGE, "%s: index %zu out of range, the file holds %zu tensors", fn, index, f->n);
  *e = &f->e[index];
  return TG_OK;
}

TG_API tg_status tg_safetensors_entry_get(tg_safetensors *st, size_t index, tg_safetensors_entry *out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_entry_get: out is NULL");
  if (out->struct_size < TG_STRUCT_SIZE(tg_safetensors_entry, file_offset))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_safetensors_entry_get: out->struct_size %zu is smaller than %zu", out->struct_size,
                  (size_t)TG_STRUCT_SIZE(tg_safetensors_entry, file_offset));
  GET_FILE(st, f);
  st_entry *e = NULL;
  tg_status s = get_entry(f, index, "tg_safetensors_entry_get", &e);
  if (s) return s;
  tg_safetensors_entry r = {.struct_size = out->struct_size < sizeof r ? out->struct_size : sizeof r};
  r.name = e->name, r.dtype = e->dt, r.ndim = e->ndim, r.shape = e->shape, r.begin = e->begin, r.end = e->end;
  r.file_offset = 8 + f->hlen + e->begin;
  memcpy(out, &r, r.struct_size);
  return TG_OK;
}

TG_API tg_status tg_safetensors_find(tg_safetensors *st, const char *name, size_t *index) {
  if (!name) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_find: name is NULL");
  if (!index) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_find: index is NULL");
  GET_FILE(st, f);
  size_t lo = 0, hi = f->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(f->by_name[mid]->name, name);
    if (!c) {
      *index = (size_t)(f->by_name[mid] - f->e);
      return TG_OK;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  char nb[80];
  return tg_err(TG_ERR_OUT_OF_RANGE, "tg_safetensors_find: no tensor named '%s'", shown(name, nb, sizeof nb));
}

TG_API tg_status tg_safetensors_tensor(tg_safetensors *st, size_t index, const char *device, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_tensor: out is NULL");
  GET_FILE(st, f);
  st_entry *e = NULL;
  tg_status s = get_entry(f, index, "tg_safetensors_tensor", &e);
  if (s) return s;
  return tg_tensor_from_host(TG_HOST_ARRAY, e->dt, e->shape, e->ndim, f->blob + 8 + f->hlen + e->begin, (size_t)(e->end - e->begin),
                             device, out);
}

TG_API tg_status tg_safetensors_json(tg_safetensors *st, int what, char *buf, size_t cap, size_t *len) {
  if (!len) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_json: len is NULL");
  if (cap && !buf) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_json: buf is NULL with cap %zu", cap);
  if (what != 0 && what != 1) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_safetensors_json: what is %d, not 0 (header) or 1 (metadata)", what);
  GET_FILE(st, f);
  const unsigned char *s = what ? f->blob + f->meta_off : f->blob + 8;
  size_t n = what ? (f->meta_off ? f->meta_len : 0) : f->hlen;
  if (cap) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(buf, s, k), buf[k] = 0;
  }
  *len = n;
  return TG_OK;
}

/* ---------------- safe_save ---------------- */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t k) {
  if (b->oom) return;
  if (b->n + k + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->n + k + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) { b->oom = 1; return; }
    b->p = np, b->cap = nc;
  }
  memcpy(b->p + b->n, s, k);
  b->n += k;
  b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_u64(sbuf *b, uint64_t v) {
  char t[24];
  sb_put(b, t, (size_t)snprintf(t, sizeof t, "%llu", (unsigned long long)v));
}

/* s (valid UTF-8) as Python's json.dumps writes it with ensure_ascii: ASCII ' '..'~' as is (but " and \), \n \r \t \b \f,
** everything else as \uxxxx (lowercase hex; surrogate pairs above U+FFFF). */
static void sb_json_string(sbuf *b, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  sb_put(b, "\"", 1);
  for (size_t i = 0; s[i];) {
    unsigned c = s[i], cp;
    char t[16];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') { sb_put(b, (const char *)s + i++, 1); continue; }
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
    if (esc) { sb_str(b, esc); i++; continue; }
    if (c < 0x80) cp = c, i++;
    else if (c < 0xE0) cp = (c & 0x1F) << 6 | (s[i + 1] & 0x3F), i += 2;
    else if (c < 0xF0) cp = (c & 0x0F) << 12 | (s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F), i += 3;
    else cp = (c & 0x07) << 18 | (s[i + 1] & 0x3F) << 12 | (s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3F), i += 4;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      snprintf(t, sizeof t, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
    } else snprintf(t, sizeof t, "\\u%04x", cp);
    sb_str(b, t);
  }
  sb_put(b, "\"", 1);
}

static int cstr_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Everything but the data: checks the arguments, builds the padded header into *hdr and each tensor's size. */
static tg_status save_plan(const char *const *names, tg_tensor *const *tensors, size_t n, const char *metadata_json, sbuf *hdr,
                           uint64_t *sizes, uint64_t *total) {
  static const char *fn = "tg_safetensors_save";
  if (n && (!names || !tensors)) return tg_err(TG_ERR_NULL_POINTER, "%s: %s is NULL for %zu tensors", fn, names ? "tensors" : "names", n);
  for (size_t i = 0; i < n; i++) {
    if (!names[i]) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: names[%zu] is NULL", fn, i);
    size_t L = strlen(names[i]), bad = utf8_bad((const unsigned char *)names[i], L);
    if (bad < L) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: names[%zu] is not valid UTF-8 (byte 0x%02x at %zu)", fn, i, (unsigned char)names[i][bad], bad);
    if (!strcmp(names[i], "__metadata__")) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: names[%zu] is '__metadata__', which the header reserves", fn, i);
  }
  if (n) {
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted) return oom();
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cstr_cmp);
    for (size_t i = 1; i < n; i++)
      if (!strcmp(sorted[i - 1], sorted[i])) {
        char nb[80];
        tg_status st = tg_err(TG_ERR_INVALID_ARGUMENT, "%s: duplicate name '%s'", fn, shown(sorted[i], nb, sizeof nb));
        free(sorted);
        return st;
      }
    free(sorted);
  }
  size_t mlo = 0, mhi = 0;
  if (metadata_json) {
    size_t L = strlen(metadata_json), bad = utf8_bad((const unsigned char *)metadata_json, L);
    if (bad < L) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: metadata_json is not valid UTF-8 (byte %zu)", fn, bad);
    jp p = {.s = (const unsigned char *)metadata_json, .n = L, .what = "metadata_json"};
    jws(&p);
    mlo = p.i;
    tg_status st = jpeek(&p) == '{' ? jskip(&p, 1) : junexpected(&p, "'{' (metadata must be a JSON object)");
    mhi = p.i;
    if (!st) {
      jws(&p);
      if (p.i < p.n) st = junexpected(&p, "the end after the JSON object");
    }
    free(p.str);
    if (st) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", tg_last_error());
      return tg_err(TG_ERR_INVALID_ARGUMENT, "%s", msg);
    }
  }
  sb_put(hdr, "{", 1);
  if (metadata_json) {
    sb_str(hdr, "\"__metadata__\":");
    sb_put(hdr, metadata_json + mlo, mhi - mlo);
  }
  uint64_t off = 0;
  for (size_t i = 0; i < n; i++) {
    tg_dtype dt;
    int64_t dims[ST_MAX_DIMS + 1];
    size_t nd;
    tg_status st = tg_tensor_dtype(tensors[i], &dt);
    if (!st) st = tg_tensor_shape(tensors[i], dims, ST_MAX_DIMS + 1, &nd);
    if (st) return st;
    char nb[80];
    if (tg_dt_is_weak(dt)) return tg_err(TG_ERR_DTYPE, "safe_save requires concrete dtypes (tensor '%s' is dtypes.%s)", shown(names[i], nb, sizeof nb), tg_dt_name(dt));
    const char *dn = st_dtype_name(dt);
    if (!dn) return tg_err(TG_ERR_DTYPE, "%s: tensor '%s': safetensors has no name for dtypes.%s", fn, shown(names[i], nb, sizeof nb), tg_dt_name(dt));
    if (nd > ST_MAX_DIMS) return tg_err(TG_ERR_SHAPE, "%s: tensor '%s' has %zu dims, at most %d", fn, shown(names[i], nb, sizeof nb), nd, ST_MAX_DIMS);
    uint64_t sz = (uint64_t)tg_dt_itemsize(dt);
    for (size_t k = 0; k < nd; k++) sz *= (uint64_t)dims[k]; /* the tensor exists, so its bytes fit */
    if (off > UINT64_MAX - sz) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: the tensors' bytes do not fit 64 bits", fn);
    if (i || metadata_json) sb_put(hdr, ",", 1);
    sb_json_string(hdr, names[i]);
    sb_str(hdr, ":{\"dtype\":\"");
    sb_str(hdr, dn);
    sb_str(hdr, "\",\"shape\":[");
    for (size_t k = 0; k < nd; k++) {
      if (k) sb_put(hdr, ",", 1);
      sb_u64(hdr, (uint64_t)dims[k]);
    }
    sb_str(hdr, "],\"data_offsets\":[");
    sb_u64(hdr, off);
    sb_put(hdr, ",", 1);
    sb_u64(hdr, off + sz);
    sb_str(hdr, "]}");
    sizes[i] = sz, off += sz;
  }
  sb_put(hdr, "}", 1);
  while (!hdr->oom && hdr->n % 8) sb_put(hdr, " ", 1);
  if (hdr->oom) return oom();
  if (off > UINT64_MAX - 8 - hdr->n || 8 + hdr->n + off > SIZE_MAX) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: the file would not fit in memory", fn);
  *total = 8 + hdr->n + off;
  return TG_OK;
}

static tg_status save(const char *const *names, tg_tensor *const *tensors, size_t n, const char *metadata_json, void *buf, size_t cap,
                      size_t *len, unsigned char **owned) {
  sbuf hdr = {0};
  uint64_t *sizes = malloc((n ? n : 1) * sizeof *sizes), total = 0;
  if (!sizes) return oom();
  tg_status st = save_plan(names, tensors, n, metadata_json, &hdr, sizes, &total);
  if (!st && owned && !(buf = *owned = malloc(total))) st = oom(); /* total >= 8 */
  if (!st && len) *len = (size_t)total;
  if (!st && (owned || cap >= total)) {
    unsigned char *o = buf;
    uint64_t hl = hdr.n;
    for (int k = 0; k < 8; k++) o[k] = (unsigned char)(hl >> (8 * k));
    memcpy(o + 8, hdr.p, hdr.n);
    size_t at = 8 + hdr.n;
    for (size_t i = 0; i < n && !st; i++) {
      if (sizes[i]) st = tg_tensor_data(tensors[i], o + at, (size_t)sizes[i]);
      at += (size_t)sizes[i];
    }
  }
  free(hdr.p), free(sizes);
  return st;
}

TG_API tg_status tg_safetensors_save(const char *const *names, tg_tensor *const *tensors, size_t n, const char *metadata_json, void *buf,
                                     size_t cap, size_t *len) {
  if (!len) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_save: len is NULL");
  if (cap && !buf) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_save: buf is NULL with cap %zu", cap);
  return save(names, tensors, n, metadata_json, buf, cap, len, NULL);
}

TG_API tg_status tg_safetensors_save_file(const char *path, const char *const *names, tg_tensor *const *tensors, size_t n,
                                          const char *metadata_json) {
  if (!path) return tg_err(TG_ERR_NULL_POINTER, "tg_safetensors_save_file: path is NULL");
  unsigned char *blob = NULL;
  size_t len = 0;
  tg_status st = save(names, tensors, n, metadata_json, NULL, 0, &len, &blob);
  if (st) return free(blob), st;
  FILE *fp = fopen(path, "wb");
  if (!fp) st = tg_err(TG_ERR_IO, "safetensors: cannot write '%s': %s", path, strerror(errno));
  else {
    size_t w = fwrite(blob, 1, len, fp);
    int err = w != len ? errno : 0;
    if (fclose(fp) && !err) err = errno ? errno : EIO;
    if (w != len || err) st = tg_err(TG_ERR_IO, "safetensors: cannot write '%s': %s", path, strerror(err ? err : EIO));
  }
  free(blob);
  return st;
}
