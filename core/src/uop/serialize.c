/* uop/serialize.c -- UOp graphs to and from a small JSON form, so that graphs built by tinygrad 0.14.0 can be fed to
** the C engine stage by stage (and ours dumped for comparison). tests/tinygrad_ir.py writes the same form from Python.
**
**   {"nodes": [{"op": "CONST", "dtype": "weakint", "src": [], "arg": {"int": "4"}}, ...], "root": 7}
**
** Nodes are in toposort order (sources first). Args: null, true/false, {"int": "<decimal>"}, {"float": "<16 hex digits
** of the IEEE bits>"}, {"invalid": true}, {"dtype": "float"}, {"op": "ADD"}, {"str": "..."}, {"bytes": "<hex>"},
** {"tuple": [...]}, {"enum": "AxisType.REDUCE", "value": 7}, {"dc": "ParamArg", "fields": [...]} (a dataclass: a tuple
** whose first item is the class name). "tag" is optional and takes the same forms. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uop/ops.h"
#include "uop/serialize.h"
#include "tgc_internal.h"

/* ---------------- a minimal JSON reader ---------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;
typedef struct jval jval;
struct jval {
  jkind k;
  int b;
  double num;
  char *s;      /* J_STR: decoded string; J_OBJ: keys are in kids' s? no: see keys */
  size_t n;     /* J_STR length; J_ARR/J_OBJ count */
  jval *kids;   /* J_ARR items, J_OBJ values */
  char **keys;  /* J_OBJ keys */
};

typedef struct { const char *p, *end; const char *err; int depth; } jparser;

static void jfree(jval *v) {
  if (!v) return;
  for (size_t i = 0; (v->k == J_ARR || v->k == J_OBJ) && i < v->n; i++) {
    jfree(&v->kids[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->kids);
  free(v->keys);
  free(v->s);
}

static void ws(jparser *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r')) j->p++;
}

static int jparse(jparser *j, jval *out);

static int jstring(jparser *j, char **out, size_t *outn) {
  if (j->p >= j->end || *j->p != '"') return j->err = "expected a string", -1;
  j->p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  if (!s) return j->err = "out of memory", -1;
  while (j->p < j->end && *j->p != '"') {
    unsigned c = (unsigned char)*j->p++;
    if (c == '\\') {
      if (j->p >= j->end) break;
      char e = *j->p++;
      if (e == 'u') {
        if (j->end - j->p < 4) break;
        char hex[5] = {j->p[0], j->p[1], j->p[2], j->p[3], 0};
        c = (unsigned)strtoul(hex, NULL, 16);
        j->p += 4;
        if (c > 0xFF) { /* only Latin-1 escapes occur in our dumps (bytes are hex) */
          free(s);
          return j->err = "\\u escape above 0xFF", -1;
        }
      } else c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : (unsigned char)e;
    }
    if (n + 2 > cap) {
      char *ns = realloc(s, cap *= 2);
      if (!ns) return free(s), j->err = "out of memory", -1;
      s = ns;
    }
    s[n++] = (char)c;
  }
  if (j->p >= j->end) return free(s), j->err = "unterminated string", -1;
  j->p++;
  s[n] = 0;
  *out = s;
  *outn = n;
  return 0;
}

static int jlist(jparser *j, jval *out, int obj) {
  char close = obj ? '}' : ']';
  j->p++;
  out->k = obj ? J_OBJ : J_ARR;
  size_t cap = 0;
  ws(j);
  if (j->p < j->end && *j->p == close) return j->p++, 0;
  for (;;) {
    if (out->n == cap) {
      cap = cap ? cap * 2 : 4;
      jval *nk = realloc(out->kids, cap * sizeof *nk);
      if (!nk) return j->err = "out of memory", -1;
      out->kids = nk;
      if (obj) {
        char **nkeys = realloc(out->keys, cap * sizeof *nkeys);
        if (!nkeys) return j->err = "out of memory", -1;
        out->keys = nkeys;
      }
    }
    memset(&out->kids[out->n], 0, sizeof out->kids[0]);
    if (obj) {
      size_t kn;
      ws(j);
      out->keys[out->n] = NULL;
      if (jstring(j, &out->keys[out->n], &kn)) return out->n++, -1;
      ws(j);
      if (j->p >= j->end || *j->p != ':') return out->n++, j->err = "expected ':'", -1;
      j->p++;
    }
    if (jparse(j, &out->kids[out->n++])) return -1;
    ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == close) return j->p++, 0;
    return j->err = obj ? "expected ',' or '}'" : "expected ',' or ']'", -1;
  }
}

static int jparse(jparser *j, jval *out) {
  memset(out, 0, sizeof *out);
  ws(j);
  if (j->p >= j->end) return j->err = "unexpected end of input", -1;
  if (++j->depth > 256) return j->err = "nesting too deep", -1;
  int rc = 0;
  char c = *j->p;
  if (c == '{' || c == '[') rc = jlist(j, out, c == '{');
  else if (c == '"') out->k = J_STR, rc = jstring(j, &out->s, &out->n);
  else if (!strncmp(j->p, "null", 4)) out->k = J_NULL, j->p += 4;
  else if (!strncmp(j->p, "true", 4)) out->k = J_BOOL, out->b = 1, j->p += 4;
  else if (!strncmp(j->p, "false", 5)) out->k = J_BOOL, j->p += 5;
  else {
    char *e;
    out->k = J_NUM;
    out->num = strtod(j->p, &e);
    if (e == j->p) rc = -1, j->err = "unexpected character";
    j->p = e;
  }
  j->depth--;
  return rc;
}

static const jval *jget(const jval *o, const char *key) {
  for (size_t i = 0; o && o->k == J_OBJ && i < o->n; i++)
    if (!strcmp(o->keys[i], key)) return &o->kids[i];
  return NULL;
}

/* ---------------- JSON -> arg ---------------- */

static tg_status bad(const char *what, const char *detail) { return tg_err(TG_ERR_CORRUPT, "uop json: %s: %s", what, detail); }

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

/* Builds a heap arg (items and strings malloc'd; free with arg_destroy). */
static tg_status to_arg(const jval *v, tg_arg *a);

static void arg_destroy(tg_arg *a) {
  if (a->kind == TG_ARG_TUPLE)
    for (uint32_t i = 0; i < a->n; i++) arg_destroy((tg_arg *)&a->items[i]);
  free((void *)a->items);
  free((void *)a->s);
  memset(a, 0, sizeof *a);
}

static tg_status to_tuple(const jval *items, const char *cls, tg_arg *a) {
  if (!items || items->k != J_ARR) return bad("tuple", "expected an array");
  uint32_t extra = cls ? 1 : 0, n = (uint32_t)items->n + extra;
  tg_arg *it = calloc(n ? n : 1, sizeof *it);
  if (!it) return tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory");
  a->kind = TG_ARG_TUPLE;
  a->items = it;
  a->n = n;
  if (cls) {
    it[0].kind = TG_ARG_STR;
    if (!(it[0].s = strdup(cls))) return tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory");
    it[0].n = (uint32_t)strlen(cls);
  }
  for (uint32_t i = 0; i < items->n; i++) {
    tg_status st = to_arg(&items->kids[i], &it[i + extra]);
    if (st) return st;
  }
  return TG_OK;
}

static tg_status to_arg(const jval *v, tg_arg *a) {
  memset(a, 0, sizeof *a);
  if (v->k == J_NULL) return TG_OK;
  if (v->k == J_BOOL) return *a = tg_arg_bool(v->b), TG_OK;
  if (v->k != J_OBJ || v->n < 1) return bad("arg", "expected null, a bool or an object");
  const char *key = v->keys[0];
  const jval *x = &v->kids[0];
  if (!strcmp(key, "int")) {
    if (x->k != J_STR) return bad("int", "expected a decimal string");
    errno = 0;
    char *e;
    long long i = strtoll(x->s, &e, 10);
    if (errno == ERANGE) { /* a uint64 above INT64_MAX keeps its bits */
      errno = 0;
      unsigned long long u = strtoull(x->s, &e, 10);
      if (errno) return bad("int", x->s);
      i = (long long)u;
    }
    if (*e) return bad("int", x->s);
    *a = tg_arg_int(i);
  } else if (!strcmp(key, "float")) {
    if (x->k != J_STR || strlen(x->s) != 16) return bad("float", "expected 16 hex digits");
    uint64_t bits = strtoull(x->s, NULL, 16);
    double f;
    memcpy(&f, &bits, sizeof f);
    *a = tg_arg_float(f);
  } else if (!strcmp(key, "invalid")) {
    *a = tg_arg_invalid();
  } else if (!strcmp(key, "dtype")) {
    tg_dtype dt = x->k == J_STR ? (!strcmp(x->s, "void") ? TG_DT_VOID : tg_dt_from_name(x->s)) : TG_DT_NONE;
    if (dt == TG_DT_NONE) return bad("dtype", x->k == J_STR ? x->s : "expected a name");
    *a = tg_arg_dtype(dt);
  } else if (!strcmp(key, "op")) {
    for (int op = 1; op < TG_OP_COUNT; op++)
      if (x->k == J_STR && !strcmp(tg_op_name((tg_op)op), x->s)) return *a = tg_arg_op((tg_op)op), TG_OK;
    return bad("op", x->k == J_STR ? x->s : "expected a name");
  } else if (!strcmp(key, "str") || !strcmp(key, "bytes")) {
    if (x->k != J_STR) return bad(key, "expected a string");
    int is_bytes = key[0] == 'b';
    size_t n = is_bytes ? x->n / 2 : x->n;
    char *s = malloc(n + 1);
    if (!s) return tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory");
    for (size_t i = 0; i < n; i++) {
      if (!is_bytes) s[i] = x->s[i];
      else {
        int hi = hexval(x->s[2 * i]), lo = hexval(x->s[2 * i + 1]);
        if (hi < 0 || lo < 0) return free(s), bad("bytes", "bad hex");
        s[i] = (char)(hi * 16 + lo);
      }
    }
    s[n] = 0;
    a->kind = is_bytes ? TG_ARG_BYTES : TG_ARG_STR;
    a->s = s;
    a->n = (uint32_t)n;
  } else if (!strcmp(key, "tuple")) {
    return to_tuple(x, NULL, a);
  } else if (!strcmp(key, "dc")) {
    if (x->k != J_STR) return bad("dc", "expected a class name");
    return to_tuple(jget(v, "fields"), x->s, a);
  } else if (!strcmp(key, "enum")) {
    const jval *val = jget(v, "value");
    if (x->k != J_STR || !val || val->k != J_NUM) return bad("enum", "expected a name and a value");
    a->kind = TG_ARG_ENUM;
    a->i = (int64_t)val->num;
    if (!(a->s = strdup(x->s))) return tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory");
    a->n = (uint32_t)strlen(a->s);
  } else return bad("arg", key);
  return TG_OK;
}

/* ---------------- JSON -> graph ---------------- */

tg_uop *tg_uop_from_json(const char *text, size_t len) {
  if (!text) return tg_err(TG_ERR_NULL_POINTER, "uop json: text is NULL"), NULL;
  jparser j = {text, text + len, NULL, 0};
  jval doc;
  if (jparse(&j, &doc)) {
    tg_err(TG_ERR_CORRUPT, "uop json: %s at byte %zu", j.err, (size_t)(j.p - text));
    jfree(&doc);
    return NULL;
  }
  const jval *nodes = jget(&doc, "nodes"), *root = jget(&doc, "root");
  tg_uop **made = NULL, *ret = NULL;
  size_t n = nodes && nodes->k == J_ARR ? nodes->n : 0;
  if (!nodes || nodes->k != J_ARR || !root || root->k != J_NUM || root->num < 0 || (size_t)root->num >= n) {
    bad("document", "expected {\"nodes\": [...], \"root\": index}");
    goto done;
  }
  if (!(made = calloc(n, sizeof *made))) {
    tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    const jval *nd = &nodes->kids[i], *op = jget(nd, "op"), *dt = jget(nd, "dtype"), *src = jget(nd, "src"), *arg = jget(nd, "arg"),
               *tag = jget(nd, "tag");
    if (!op || op->k != J_STR || !dt || dt->k != J_STR || !src || src->k != J_ARR) {
      bad("node", "expected op, dtype and src");
      goto done;
    }
    int opv = 0;
    for (int o = 1; o < TG_OP_COUNT && !opv; o++)
      if (!strcmp(tg_op_name((tg_op)o), op->s)) opv = o;
    tg_dtype dtv = !strcmp(dt->s, "void") ? TG_DT_VOID : tg_dt_from_name(dt->s);
    if (!opv || dtv == TG_DT_NONE) {
      bad(opv ? "dtype" : "op", opv ? dt->s : op->s);
      goto done;
    }
    tg_uop *srcs[256];
    if (src->n > 256) {
      bad("node", "more than 256 sources");
      goto done;
    }
    for (size_t k = 0; k < src->n; k++) {
      double si = src->kids[k].num;
      if (src->kids[k].k != J_NUM || si < 0 || (size_t)si >= i) {
        bad("node", "src index must point to an earlier node");
        goto done;
      }
      srcs[k] = made[(size_t)si];
    }
    tg_arg a = {0}, t = {0};
    tg_status st = arg ? to_arg(arg, &a) : TG_OK;
    if (st == TG_OK && tag) st = to_arg(tag, &t);
    if (st == TG_OK) made[i] = tg_uop_new_tagged((tg_op)opv, dtv, srcs, src->n, a, t);
    arg_destroy(&a);
    arg_destroy(&t);
    if (!made[i]) goto done;
  }
  ret = tg_uop_retain(made[(size_t)root->num]);
done:
  for (size_t i = 0; made && i < n; i++) tg_uop_release(made[i]);
  free(made);
  jfree(&doc);
  return ret;
}

/* ---------------- graph -> JSON ---------------- */

static void put_arg(tg_sb *b, const tg_arg *a) {
  switch ((tg_arg_kind)a->kind) {
  case TG_ARG_NONE: return tg_sb_puts(b, "null");
  case TG_ARG_BOOL: return tg_sb_puts(b, a->i ? "true" : "false");
  case TG_ARG_INT: return tg_sb_printf(b, "{\"int\": \"%lld\"}", (long long)a->i);
  case TG_ARG_FLOAT: {
    uint64_t bits;
    memcpy(&bits, &a->f, sizeof bits);
    return tg_sb_printf(b, "{\"float\": \"%016llx\"}", (unsigned long long)bits);
  }
  case TG_ARG_INVALID: return tg_sb_puts(b, "{\"invalid\": true}");
  case TG_ARG_DTYPE: return tg_sb_printf(b, "{\"dtype\": \"%s\"}", a->i == TG_DT_VOID ? "void" : tg_dt_name((tg_dtype)a->i));
  case TG_ARG_OP: return tg_sb_printf(b, "{\"op\": \"%s\"}", tg_op_name((tg_op)a->i));
  case TG_ARG_ENUM: return tg_sb_printf(b, "{\"enum\": \"%s\", \"value\": %lld}", a->s ? a->s : "?", (long long)a->i);
  case TG_ARG_STR:
  case TG_ARG_BYTES: {
    size_t n = a->n == 0xFFFFFFFFu ? (a->s ? strlen(a->s) : 0) : a->n;
    tg_sb_puts(b, a->kind == TG_ARG_STR ? "{\"str\": \"" : "{\"bytes\": \"");
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)a->s[i];
      if (a->kind == TG_ARG_BYTES) tg_sb_printf(b, "%02x", c);
      else if (c == '"' || c == '\\') tg_sb_printf(b, "\\%c", c);
      else if (c < 0x20 || c >= 0x7F) tg_sb_printf(b, "\\u%04x", c);
      else tg_sb_putn(b, (const char *)&c, 1);
    }
    return tg_sb_puts(b, "\"}");
  }
  case TG_ARG_TUPLE: {
    uint32_t start = 0;
    if (a->n && a->items[0].kind == TG_ARG_STR && a->items[0].s && a->items[0].s[0] >= 'A' && a->items[0].s[0] <= 'Z') {
      tg_sb_printf(b, "{\"dc\": \"%s\", \"fields\": [", a->items[0].s); /* a dataclass: class names are capitalised */
      start = 1;
    } else tg_sb_puts(b, "{\"tuple\": [");
    for (uint32_t i = start; i < a->n; i++) {
      if (i > start) tg_sb_puts(b, ", ");
      put_arg(b, &a->items[i]);
    }
    return tg_sb_puts(b, "]}");
  }
  }
  tg_sb_puts(b, "null");
}

char *tg_uop_to_json(tg_uop *root) {
  if (!root) return tg_err(TG_ERR_NULL_POINTER, "uop json: root is NULL"), NULL;
  size_t n = 0;
  tg_uop **topo = tg_uop_toposort(root, &n);
  if (!topo) return tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory"), NULL;
  tg_ptrset index;
  if (!tg_ptrset_init(&index, n)) return free(topo), tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory"), NULL;
  tg_sb b = {0};
  b.grow = 1;
  tg_sb_puts(&b, "{\"nodes\": [");
  for (size_t i = 0; i < n; i++) {
    tg_uop *u = topo[i];
    tg_sb_printf(&b, "%s\n{\"op\": \"%s\", \"dtype\": \"%s\", \"src\": [", i ? "," : "", tg_op_name((tg_op)u->op),
                 u->dtype == TG_DT_VOID ? "void" : tg_dt_name((tg_dtype)u->dtype));
    for (size_t k = 0; k < u->nsrc; k++) {
      uint64_t *idx = tg_ptrset_get(&index, u->src[k]);
      tg_sb_printf(&b, "%s%llu", k ? ", " : "", idx ? (unsigned long long)*idx : 0ull);
    }
    if (!tg_ptrset_put(&index, u, i)) b.failed = 1;
    tg_sb_puts(&b, "], \"arg\": ");
    put_arg(&b, &u->arg);
    if (u->tag.kind != TG_ARG_NONE) tg_sb_puts(&b, ", \"tag\": "), put_arg(&b, &u->tag);
    tg_sb_puts(&b, "}");
  }
  tg_sb_printf(&b, "], \"root\": %zu}\n", n ? n - 1 : 0);
  free(topo);
  tg_ptrset_free(&index);
  if (b.failed) return free(b.buf), tg_err(TG_ERR_OUT_OF_MEMORY, "uop json: out of memory"), NULL;
  return b.buf;
}
