/* symtool -- the symbolic rewriter and exec_alu for tests/symbolic_parity.py, which compares them with tinygrad 0.14.0.
**   symtool rewrite PM [bottom_up]   stdin: one JSON graph per line (uop/serialize.c's form); for each, the pretty_print
**                                    of graph_rewrite(graph, PM), or "ERROR: <message>", then a line with "\x1e"
**   symtool alu                      stdin: "OP DTYPE TRUNC V..." per line, values as i:<int> f:<hex of the double's bits>
**                                    b:0|1 v (Invalid); prints the exec_alu result the same way, or "ERROR: <message>"
** PM is one of symbolic_simple, symbolic, pm_data_invalid, mop_cleanup, commutative, div_and_mod_symbolic. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "uop/alu.h"
#include "uop/serialize.h"
#include "uop/symbolic.h"

static const tg_pm *pm_named(const char *name) {
  static const struct { const char *name; const tg_pm *(*get)(void); } pms[] = {
      {"symbolic_simple", tg_pm_symbolic_simple}, {"symbolic", tg_pm_symbolic}, {"pm_data_invalid", tg_pm_pm_data_invalid},
      {"mop_cleanup", tg_pm_mop_cleanup}, {"commutative", tg_pm_commutative}, {"div_and_mod_symbolic", tg_pm_div_and_mod_symbolic}};
  for (size_t i = 0; i < sizeof pms / sizeof pms[0]; i++)
    if (!strcmp(pms[i].name, name)) return pms[i].get();
  return NULL;
}

static char *read_line(FILE *f, size_t *n) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  int c;
  while (buf && (c = fgetc(f)) != EOF && c != '\n') {
    if (len + 1 == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
    if (buf) buf[len++] = (char)c;
  }
  if (!buf || (c == EOF && len == 0)) { free(buf); return NULL; }
  buf[len] = 0;
  *n = len;
  return buf;
}

static int rewrite(const char *pmname, unsigned flags) {
  const tg_pm *pm = pm_named(pmname); /* a matcher tgc lacks answers every graph with an error */
  size_t n;
  for (char *line; (line = read_line(stdin, &n));) {
    tg_uop *g = pm ? tg_uop_from_json(line, n) : NULL, *out = g ? tg_graph_rewrite(g, pm, NULL, flags, NULL) : NULL;
    char *s = out ? tg_uop_str(out) : NULL;
    if (s) printf("%s\n\x1e\n", s);
    else if (!pm) printf("ERROR: no pattern matcher %s in tgc\n\x1e\n", pmname);
    else printf("ERROR: %s\n\x1e\n", tg_last_error());
    free(s);
    tg_uop_release(out);
    tg_uop_release(g);
    free(line);
    fflush(stdout);
  }
  return 0;
}

static int parse_num(const char *t, tg_num *v) {
  if (t[0] == 'v' && !t[1]) { *v = tg_num_invalid(); return 1; }
  if (t[1] != ':') return 0;
  if (t[0] == 'i') { *v = tg_num_i(strtoll(t + 2, NULL, 10)); return 1; }
  if (t[0] == 'b') { *v = tg_num_b(atoi(t + 2)); return 1; }
  if (t[0] == 'f') {
    uint64_t bits = strtoull(t + 2, NULL, 16);
    double d;
    memcpy(&d, &bits, sizeof d);
    *v = tg_num_f(d);
    return 1;
  }
  return 0;
}

static int alu(void) {
  size_t n;
  for (char *line; (line = read_line(stdin, &n));) {
    char *tok[6] = {0};
    int nt = 0;
    for (char *p = strtok(line, " "); p && nt < 6; p = strtok(NULL, " ")) tok[nt++] = p;
    tg_op op = TG_OP_NONE;
    for (int k = 1; k < TG_OP_COUNT; k++)
      if (nt && !strcmp(tg_op_name((tg_op)k), tok[0])) op = (tg_op)k;
    tg_dtype dt = nt > 1 ? tg_dt_from_name(tok[1]) : TG_DT_NONE;
    tg_num v[3], r;
    int ok = op != TG_OP_NONE && dt != TG_DT_NONE && nt >= 4;
    for (int k = 3; ok && k < nt; k++) ok = parse_num(tok[k], &v[k - 3]);
    if (!ok) printf("ERROR: bad line\n");
    else if (tg_exec_alu(op, (int)dt, v, nt - 3, atoi(tok[2]), &r)) printf("ERROR: %s\n", tg_last_error());
    else if (r.kind == TG_NUM_INT) printf("i:%" PRId64 "\n", r.i);
    else if (r.kind == TG_NUM_BOOL) printf("b:%d\n", (int)r.i);
    else if (r.kind == TG_NUM_INVALID) printf("v\n");
    else {
      uint64_t bits;
      memcpy(&bits, &r.f, sizeof bits);
      printf("f:%016" PRIx64 "\n", bits);
    }
    free(line);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "rewrite")) return rewrite(argv[2], argc > 3 && !strcmp(argv[3], "bottom_up") ? TG_RW_BOTTOM_UP : 0);
  if (argc == 2 && !strcmp(argv[1], "alu")) return alu();
  fprintf(stderr, "usage: symtool rewrite PM [bottom_up] < graphs.jsonl | symtool alu < lines\n");
  return 2;
}
