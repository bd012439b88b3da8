/* schedtool -- runs the scheduler (core/src/schedule) on a UOp graph read as JSON from stdin (uop/serialize.c's form) and
** prints the result, so that tests/test_schedule.py can hand it what tinygrad 0.14.0's scheduler received and compare.
**   schedtool linear   input: CALL(SINK(...), *buffers), what Tensor.linear_with_vars passes create_linear_with_vars.
**                      Prints every call of the LINEAR as
**                        CALL <i> KERNEL|COPY
**                        <pretty_print of the call's body>
**                        ARGS <buffer>, ...
**                      with buffer identities normalised as tests/test_schedule.py describes (in<k>: the k-th argument of
**                      the input CALL; new<k>: the k-th buffer the scheduler made, by first appearance).
**   schedtool callify  input: UOp.sink of the tensors to realize (what transform_to_call receives). Prints
**                        CALL\n<pretty_print of the CALL>
**                        MAP <i>\n<pretty_print of the buffer view>   per becomes-map entry, i = the key's toposort index
**                      with the BUFFERs callify made renumbered -1000, -1001, ... in toposort order of SINK(call, *views).
**   schedtool realize  input: as callify; runs callify then linear and prints what `linear` prints.
**   schedtool count    input: as callify; runs callify then linear and prints only the number of calls (timing deep graphs).
**   schedtool graph    input: the function body SINK; prints get_kernel_graph's result (pretty_print).
** Then checks that every UOp the schedule made is freed once it is released (tg_uop_live_count back to its baseline).
** Exit status 0 on success; 1 with "error: <tg_last_error>" on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "schedule/schedule.h"
#include "uop/ops.h"
#include "uop/serialize.h"
#include "tool_io.h"


static int fail(void) {
  fprintf(stderr, "error: %s\n", tg_last_error());
  return 1;
}

typedef struct names { tg_uop *b[4096]; char name[4096][16]; size_t n, nnew; } names;

static const char *name_of(names *nm, tg_uop *b) {
  for (size_t i = 0; i < nm->n; i++)
    if (nm->b[i] == b) return nm->name[i];
  if (nm->n == 4096) return "?";
  nm->b[nm->n] = b;
  snprintf(nm->name[nm->n], 16, "new%zu", nm->nnew++);
  return nm->name[nm->n++];
}

static void print_tuple(const int64_t *v, size_t n) {
  printf("(");
  for (size_t i = 0; i < n; i++) printf("%s%lld", i ? ", " : "", (long long)v[i]);
  printf("%s)", n == 1 ? "," : "");
}

static void describe(names *nm, tg_uop *u) {
  int64_t a[TGS_MAXD], b[TGS_MAXD];
  size_t n;
  if (u->op == TG_OP_BUFFER) {
    tgs_shp s;
    if (tgs_shape(u, &s) != 1) s.n = 0;
    const char *dev = tgs_pa_device(u);
    printf("%s:%s:%s:%lld", name_of(nm, u), tg_dtype_repr_name(u->dtype), dev ? dev : "None", (long long)tgs_prod(s.d, s.n));
  } else if (u->op == TG_OP_SHRINK && !tgs_marg(u, a, b, &n)) {
    describe(nm, u->src[0]);
    printf("[(");
    for (size_t i = 0; i < n; i++) printf("%s(%lld, %lld)", i ? ", " : "", (long long)a[i], (long long)b[i]);
    printf("%s)]", n == 1 ? "," : "");
  } else if (u->op == TG_OP_BITCAST) {
    describe(nm, u->src[0]);
    printf(".bitcast(%s)", tg_dtype_repr_name(u->dtype));
  } else if (u->op == TG_OP_RESHAPE && !tgs_marg(u, a, b, &n)) {
    describe(nm, u->src[0]);
    printf(".reshape(");
    print_tuple(a, n);
    printf(")");
  } else printf("<%s>", tg_op_name((tg_op)u->op));
}

static int print_linear(tg_uop *in, tg_uop *lin) {
  static names nm;
  nm.n = nm.nnew = 0;
  for (size_t i = 1; i < in->nsrc && nm.n < 4096; i++)
    if (in->src[i]->op == TG_OP_BUFFER) nm.b[nm.n] = in->src[i], snprintf(nm.name[nm.n++], 16, "in%zu", i - 1);
  for (size_t i = 0; i < lin->nsrc; i++) {
    tg_uop *call = lin->src[i], *body = call->src[0];
    char *s = tg_uop_str(body);
    if (!s) return fail();
    printf("CALL %zu %s\n", i, body->op == TG_OP_SINK ? "KERNEL" : tg_op_name((tg_op)body->op));
    fputs(s, stdout);
    printf("\nARGS ");
    free(s);
    for (size_t k = 1; k < call->nsrc; k++) {
      if (k > 1) printf(", ");
      describe(&nm, call->src[k]);
    }
    printf("\n");
  }
  return 0;
}

/* the BUFFERs of `out` that `in` does not have, renumbered -1000-k in toposort order */
static tg_uop *normalize_new_buffers(tg_uop *in, tg_uop *out, tgs_pool *P) {
  size_t ni, no;
  tg_uop **ti = tgs_toposort(in, NULL, NULL, 1, &ni), **to = ti ? tgs_toposort(out, NULL, NULL, 1, &no) : NULL;
  tg_uop **keys = to ? malloc((no + 1) * sizeof *keys) : NULL, **vals = keys ? malloc((no + 1) * sizeof *vals) : NULL, *ret = NULL;
  size_t nk = 0;
  for (size_t i = 0; vals && i < no; i++) {
    if (to[i]->op != TG_OP_BUFFER) continue;
    int seen = 0;
    for (size_t j = 0; j < ni && !seen; j++) seen = ti[j] == to[i];
    if (seen) continue;
    tg_arg *items = malloc(to[i]->arg.n * sizeof *items);
    if (!items) break;
    memcpy(items, to[i]->arg.items, to[i]->arg.n * sizeof *items);
    items[TG_PARAMARG_SLOT] = tg_arg_int(-1000 - (int64_t)nk);
    tg_arg a = tg_arg_tuple(items, to[i]->arg.n);
    keys[nk] = to[i];
    vals[nk] = tgs_hold(P, tg_uop_replace(to[i], TG_OP_BUFFER, to[i]->dtype, to[i]->src, to[i]->nsrc, &a, NULL));
    free(items);
    if (!vals[nk++]) break;
  }
  if (vals) ret = tgs_substitute(P, out, keys, vals, nk, NULL, 0);
  free(ti), free(to), free(keys), free(vals);
  return ret;
}

static int do_callify(tg_uop *root, int then_linear, int quiet) {
  tg_uop *call = NULL;
  tg_schedule_map m;
  if (tg_schedule_callify(root, &call, &m) != TG_OK) return fail();
  int rc = 0;
  if (then_linear) {
    tg_uop *lin = NULL;
    if (tg_schedule_linear(call, &lin) != TG_OK) rc = fail();
    else if (quiet) printf("%u\n", lin->nsrc);
    else {
      tgs_session_begin();
      rc = print_linear(call, lin);
      tgs_session_end();
    }
    tg_uop_release(lin);
  } else {
    tgs_session_begin();
    tgs_pool P = {0};
    tg_uop **src = malloc((m.n + 1) * sizeof *src);
    tg_uop *sink = NULL, *norm = NULL;
    if (src) {
      src[0] = call;
      if (m.n) memcpy(src + 1, m.to, m.n * sizeof *src);
      sink = tgs_sink(&P, src, m.n + 1, tg_arg_none());
    }
    free(src);
    norm = sink ? normalize_new_buffers(root, sink, &P) : NULL;
    size_t nt;
    tg_uop **topo = norm ? tgs_toposort(root, NULL, NULL, 1, &nt) : NULL;
    if (!topo) rc = fail();
    char *s = topo ? tg_uop_str(norm->src[0]) : NULL;
    if (s) printf("CALL\n%s\n", s), free(s);
    for (size_t i = 0; topo && i < m.n; i++) {
      size_t k = 0;
      while (k < nt && topo[k] != m.from[i]) k++;
      char *v = tg_uop_str(norm->src[i + 1]);
      if (v) printf("MAP %zu\n%s\n", k, v), free(v);
    }
    free(topo);
    tgs_pool_free(&P);
    tgs_session_end();
  }
  tg_schedule_map_free(&m);
  tg_uop_release(call);
  return rc;
}

int main(int argc, char **argv) {
  static const char *const modes[] = {"linear", "graph", "callify", "realize", "count"};
  int mode = -1;
  for (int i = 0; argc == 2 && i < 5; i++)
    if (!strcmp(argv[1], modes[i])) mode = i;
  if (mode < 0) {
    fprintf(stderr, "usage: schedtool linear|graph|callify|realize|count < graph.json\n");
    return 2;
  }
  size_t n;
  char *text = read_all(stdin, &n);
  if (!text) return fprintf(stderr, "error: out of memory\n"), 1;
  tg_uop *root = tg_uop_from_json(text, n);
  free(text);
  if (!root) return fail();
  size_t baseline = tg_uop_live_count();
  int rc = 0;
  if (mode >= 2) {
    rc = do_callify(root, mode >= 3, mode == 4);
  } else if (mode == 0) {
    tg_uop *lin = NULL;
    if (tg_schedule_linear(root, &lin) != TG_OK) rc = fail();
    else {
      tgs_session_begin(); /* describe() reads shapes and devices */
      rc = print_linear(root, lin);
      tgs_session_end();
    }
    tg_uop_release(lin);
  } else {
    tg_uop *g = tg_schedule_kernel_graph(root);
    char *s = g ? tg_uop_str(g) : NULL;
    if (!s) rc = fail();
    else printf("%s\n", s), free(s);
    tg_uop_release(g);
  }
  tg_schedule_cache_clear(); /* the schedule cache holds what it scheduled */
  if (!rc && tg_uop_live_count() != baseline) {
    fprintf(stderr, "error: leak: %zu UOps live after the schedule was released, %zu before\n", tg_uop_live_count(), baseline);
    rc = 1;
  }
  tg_uop_release(root);
  return rc;
}
