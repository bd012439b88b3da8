/* uoptool -- runs one engine stage on a UOp graph read as JSON from stdin (the form of uop/serialize.c) and prints the
** result, so that Python tests can hand graphs built by tinygrad 0.14.0 to the C engine and compare.
**   uoptool print     tinygrad's pretty_print of the graph
**   uoptool json      the graph written back as JSON (round trip)
**   uoptool shape     the root's shape and dtype: "(2, 3) float"
** Exit status 0 on success; 1 with "error: <tg_last_error>" on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "uop/ops.h"
#include "uop/serialize.h"
#include "tool_io.h"


static int fail(void) {
  fprintf(stderr, "error: %s\n", tg_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: uoptool print|json|shape < graph.json\n");
    return 2;
  }
  size_t n;
  char *text = read_all(stdin, &n);
  if (!text) return fprintf(stderr, "error: out of memory\n"), 1;
  tg_uop *root = tg_uop_from_json(text, n);
  free(text);
  if (!root) return fail();
  int rc = 0;
  if (!strcmp(argv[1], "print") || !strcmp(argv[1], "json")) {
    char *s = argv[1][0] == 'p' ? tg_uop_str(root) : tg_uop_to_json(root);
    if (!s) rc = fail();
    else printf("%s%s", s, argv[1][0] == 'p' ? "\n" : ""), free(s);
  } else if (!strcmp(argv[1], "shape")) {
    tg_status st = TG_OK;
    const tg_shape *sh = tg_uop_shape(root, &st);
    if (st != TG_OK) rc = fail();
    else if (!sh) printf("None %s\n", tg_dtype_repr_name(root->dtype));
    else {
      printf("(");
      for (uint32_t i = 0; i < sh->ndim; i++) printf("%s%lld", i ? ", " : "", (long long)sh->dims[i].v);
      printf("%s) %s\n", sh->ndim == 1 ? "," : "", tg_dtype_repr_name(root->dtype));
    }
  } else {
    fprintf(stderr, "error: unknown command %s\n", argv[1]);
    rc = 2;
  }
  tg_uop_release(root);
  return rc;
}
