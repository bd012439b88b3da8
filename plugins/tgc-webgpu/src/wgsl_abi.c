/* wgsl_abi.c -- a token scan of WGSL for the plugin's launch ABI (wgsl_abi.h). Comments are blanked first; attributes are
** collected until the declaration they belong to (`var` or `fn`). Anything naga would reject is left for naga to report. */
#include "wgsl_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *s;
  size_t i;
} lexer;

static int is_id0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_id(char c) { return is_id0(c) || (c >= '0' && c <= '9'); }

/* WGSL comments (block comments nest) become spaces, so offsets and line breaks stay where they were. */
static void blank_comments(char *s) {
  for (size_t i = 0; s[i];) {
    if (s[i] == '/' && s[i + 1] == '/') {
      while (s[i] && s[i] != '\n') s[i++] = ' ';
    } else if (s[i] == '/' && s[i + 1] == '*') {
      int depth = 0;
      do {
        if (s[i] == '/' && s[i + 1] == '*') depth++, s[i++] = ' ', s[i++] = ' ';
        else if (s[i] == '*' && s[i + 1] == '/') depth--, s[i++] = ' ', s[i++] = ' ';
        else s[i] = s[i] == '\n' ? '\n' : ' ', i++;
      } while (s[i] && depth > 0);
    } else i++;
  }
}

/* The next token: an identifier or number (letters, digits, '_', '.'), or one punctuation character. "" at the end. */
static size_t next_token(lexer *lx, char *tok, size_t n) {
  while (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t' || lx->s[lx->i] == '\n' || lx->s[lx->i] == '\r') lx->i++;
  size_t start = lx->i;
  if (is_id(lx->s[lx->i]))
    while (is_id(lx->s[lx->i]) || lx->s[lx->i] == '.') lx->i++;
  else if (lx->s[lx->i]) lx->i++;
  size_t len = lx->i - start < n - 1 ? lx->i - start : n - 1;
  memcpy(tok, lx->s + start, len), tok[len] = '\0';
  return lx->i - start;
}

static int peek_is(lexer *lx, const char *want) {
  lexer save = *lx;
  char tok[64];
  next_token(lx, tok, sizeof tok);
  if (strcmp(tok, want) == 0) return 1;
  *lx = save;
  return 0;
}

/* An integer literal as WGSL writes it (12, 12u, 12i, 0x10): 1 and its value, else 0. */
static int int_literal(const char *tok, uint32_t *out) {
  if (!(tok[0] >= '0' && tok[0] <= '9')) return 0;
  char *end;
  unsigned long v = strtoul(tok, &end, tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X') ? 16 : 10);
  if (*end == 'u' || *end == 'i') end++;
  if (*end || v > UINT32_MAX) return 0;
  *out = (uint32_t)v;
  return 1;
}

/* `( args )` after an attribute name: up to 3 integer literals into vals; *known = 0 when an argument is anything else.
** Returns the number of arguments. Skips balanced parentheses. */
static int attr_args(lexer *lx, uint32_t vals[3], int *known) {
  char tok[64];
  int nargs = 0, depth = 0, tokens_in_arg = 0;
  *known = 1;
  if (!peek_is(lx, "(")) return 0;
  for (depth = 1; depth > 0 && next_token(lx, tok, sizeof tok);) {
    if (tok[0] == '(') depth++, *known = 0;
    else if (tok[0] == ')') depth--;
    else if (tok[0] == ',' && depth == 1) nargs += tokens_in_arg > 0, tokens_in_arg = 0;
    else {
      uint32_t v = 0;
      if (tokens_in_arg++ > 0 || !int_literal(tok, &v) || nargs >= 3) *known = 0;
      else vals[nargs] = v;
    }
  }
  return nargs + (tokens_in_arg > 0);
}

static int add_binding(wgsl_abi *abi, uint32_t binding, wgsl_kind kind, char *err, size_t errn) {
  for (size_t i = 0; i < abi->n; i++)
    if (abi->bindings[i].binding == binding) return snprintf(err, errn, "@binding(%u) is declared twice", binding), -1;
  if (binding >= WGSL_MAX_BINDINGS) return snprintf(err, errn, "@binding(%u): at most %d bindings", binding, WGSL_MAX_BINDINGS), -1;
  wgsl_binding *b = realloc(abi->bindings, (abi->n + 1) * sizeof *b);
  if (b == NULL) return snprintf(err, errn, "out of host memory"), -1;
  abi->bindings = b, b[abi->n++] = (wgsl_binding){binding, kind};
  return 0;
}

/* `var<space[, access]>` after @group(0) @binding(n). */
static int resource_var(lexer *lx, wgsl_abi *abi, long group, long binding, char *err, size_t errn) {
  char space[64] = "", access[64] = "";
  if (group != 0 || binding < 0)
    return snprintf(err, errn, "@group(%ld) @binding(%ld): the WGSL dialect binds only @group(0) @binding(n)", group, binding), -1;
  if (peek_is(lx, "<")) {
    next_token(lx, space, sizeof space);
    if (peek_is(lx, ",")) next_token(lx, access, sizeof access);
  }
  wgsl_kind kind = strcmp(space, "uniform") == 0 && !access[0] ? WGSL_UNIFORM
                   : strcmp(space, "storage") != 0          ? 0
                   : strcmp(access, "read_write") == 0      ? WGSL_STORAGE_RW
                   : !access[0] || strcmp(access, "read") == 0 ? WGSL_STORAGE_RO
                                                               : 0;
  if (kind == 0)
    return snprintf(err, errn, "@binding(%ld): only var<storage, read_write>, var<storage, read> and var<uniform> are part of the WGSL "
                    "dialect ABI (got var<%s%s%s>)", binding, space, access[0] ? ", " : "", access), -1;
  return add_binding(abi, (uint32_t)binding, kind, err, errn);
}

int wgsl_abi_scan(const char *src, const char *entry, wgsl_abi *out, char *err, size_t errn) {
  *out = (wgsl_abi){.wg = {1, 1, 1}};
  char *copy = strdup(src);
  if (copy == NULL) return snprintf(err, errn, "out of host memory"), -1;
  blank_comments(copy);
  lexer lx = {copy, 0};
  char tok[256];
  long group = -1, binding = -1;
  int compute = 0, wg_known = 1, rc = 0;
  uint32_t wg[3] = {1, 1, 1};
  while (rc == 0 && next_token(&lx, tok, sizeof tok)) {
    if (tok[0] == '@') {
      uint32_t v[3] = {1, 1, 1};
      int known, nargs;
      next_token(&lx, tok, sizeof tok);
      nargs = attr_args(&lx, v, &known);
      if (strcmp(tok, "group") == 0) group = known && nargs == 1 ? (long)v[0] : -2;
      else if (strcmp(tok, "binding") == 0) binding = known && nargs == 1 ? (long)v[0] : -2;
      else if (strcmp(tok, "compute") == 0) compute = 1;
      else if (strcmp(tok, "workgroup_size") == 0) wg_known = known && nargs >= 1, memcpy(wg, v, sizeof wg);
    } else if (strcmp(tok, "var") == 0 && (group != -1 || binding != -1)) {
      rc = resource_var(&lx, out, group, binding, err, errn);
      group = binding = -1;
    } else if (strcmp(tok, "fn") == 0) {
      next_token(&lx, tok, sizeof tok);
      if (compute && strcmp(tok, entry) == 0) out->has_entry = 1, out->wg_known = wg_known, memcpy(out->wg, wg, sizeof wg);
      group = binding = -1, compute = 0, wg_known = 1, wg[0] = wg[1] = wg[2] = 1;
    } else if (tok[0] == ';' || tok[0] == '{' || tok[0] == '}' || strcmp(tok, "var") == 0) {
      group = binding = -1, compute = 0, wg_known = 1, wg[0] = wg[1] = wg[2] = 1;
    }
  }
  free(copy);
  if (rc != 0) wgsl_abi_free(out);
  return rc;
}

void wgsl_abi_free(wgsl_abi *abi) {
  free(abi->bindings);
  abi->bindings = NULL, abi->n = 0;
}
