/* uop/rewrite.h -- tinygrad 0.14.0's UPat, PatternMatcher and graph_rewrite (uop/ops.py), in C.
**
** A rule is data: a pattern tree (tg_upat, usually a static table generated from a *.rules file by
** generators/rules/rulegen.py) and a function that receives the matched UOp and the UOps the pattern's names bound.
** Matching follows UPat.match exactly: every match is enumerated in tinygrad's order (permutations of a commutative
** source list in itertools.permutations order, then source by source, depth first) and the rule's function is called
** on each until it returns a UOp.
**
** Ownership: patterns and rule tables are borrowed for the life of the matcher (static tables). Bindings passed to a
** rule function are borrowed; the function returns a NEW reference, or NULL for "no rewrite". A rule that fails
** (out of memory, a Python exception in tinygrad's lambda) calls tg_rw_fail() and returns NULL; the rewrite then
** stops and graph_rewrite returns NULL with the message in tg_last_error() (TG_RW_DEBUG=1 also prints which rule).
** Threading: matchers are immutable after creation and can be shared; a rewrite runs on one thread. */
#ifndef TG_UOP_REWRITE_H
#define TG_UOP_REWRITE_H
#include <stddef.h>
#include <stdint.h>

#include "uop/alu.h"
#include "uop/ops.h"

/* ---------------- UPat ---------------- */

typedef enum tg_upat_src {
  TG_UPAT_SRC_NONE = 0,   /* src=None: any sources */
  TG_UPAT_SRC_TUPLE = 1,  /* src=(a, b): in order */
  TG_UPAT_SRC_PERM = 2,   /* src=[a, b]: every permutation, itertools order (commutative ops) */
  TG_UPAT_SRC_REPEAT = 3, /* src=a: every source matches a */
  TG_UPAT_ANY = 4         /* UPat.any(a, b): the alternatives in order (op/dtype/arg fields unused) */
} tg_upat_src;

#define TG_UPAT_MAX_SLOTS 32 /* names per rule */

typedef struct tg_upat {
  tg_opset ops;             /* valid when has_ops */
  uint64_t dtypes;          /* bit (1 << dtype id), valid when has_dtypes */
  const tg_arg *arg;        /* NULL: any arg (tinygrad's arg=None) */
  const tg_arg *tags;       /* match_tag: NULL for any, else ntags accepted tags */
  const struct tg_upat *const *src;
  uint8_t has_ops, has_dtypes, mode /* tg_upat_src */, nsrc, allow_any_len, ntags;
  int8_t slot;              /* binding slot of the name, -1 when unnamed */
} tg_upat;

/* ---------------- rules ---------------- */

/* The rewrite in progress, as a rule function sees it. */
typedef struct tg_rw {
  void *ctx;  /* graph_rewrite's ctx (tinygrad's ctx=) */
  int failed; /* set by tg_rw_fail: stop, the rewrite returns NULL */
  int gate;   /* set by a bottom-up rule to raise tinygrad's BottomUpGate (do not descend into this node) */
} tg_rw;

/* Marks the rewrite failed (the message is whatever tg_err() set last). Returns NULL for `return tg_rw_fail(rw);`. */
static inline tg_uop *tg_rw_fail(tg_rw *rw) { rw->failed = 1; return NULL; }

/* b[slot] is the UOp bound to each name of the pattern (borrowed); root is the matched UOp. */
typedef tg_uop *(*tg_rule_fn)(tg_rw *rw, tg_uop *const *b, tg_uop *root);

typedef struct tg_rule {
  const tg_upat *pat; /* its top level must name ops (has_ops), as tinygrad asserts */
  tg_rule_fn fn;
  const char *loc;    /* "symbolic.rules:12": where the rule is written, for debugging */
} tg_rule;

/* Tries one pattern against u and calls fn on each match until it returns non-NULL; returns that (new reference) or
** NULL. rw may be NULL only when fn never needs it. This is UPat.match + universal_match. */
tg_uop *tg_upat_apply(const tg_upat *p, tg_uop *u, tg_rule_fn fn, tg_rw *rw);
/* All matches, for tests: calls visit(b, user) per match in tinygrad's order; stops early when it returns nonzero.
** Returns the number of matches visited. */
size_t tg_upat_each_match(const tg_upat *p, tg_uop *u, int (*visit)(tg_uop *const *b, void *user), void *user);

/* ---------------- PatternMatcher ---------------- */

typedef struct tg_pm tg_pm;

/* A matcher over n rules (borrowed; typically a static table). NULL on out of memory or a rule whose pattern names
** no op (message set). Free with tg_pm_free. */
tg_pm *tg_pm_new(const tg_rule *rules, size_t n);
/* tinygrad's pm1 + pm2: the rules of a, then those of b. NULL-safe on out of memory like tg_pm_new. */
tg_pm *tg_pm_cat(const tg_pm *a, const tg_pm *b);
/* parts[0] + parts[1] + ...; NULL (message set) when a part is NULL or out of memory. */
tg_pm *tg_pm_concat(const tg_pm *const *parts, size_t n);
void tg_pm_free(tg_pm *pm);
size_t tg_pm_size(const tg_pm *pm);
/* PatternMatcher.rewrite: the first rule (in order, among those for u's op that pass early reject) whose function
** returns something other than u. New reference, or NULL for none (check rw->failed). */
tg_uop *tg_pm_rewrite(const tg_pm *pm, tg_uop *u, tg_rw *rw);

/* ---------------- graph_rewrite ---------------- */

enum {
  TG_RW_BOTTOM_UP = 1,   /* pm is applied bottom up (tinygrad's bottom_up=True: pm becomes the bpm) */
  TG_RW_WALK = 2,        /* the single-pass walk driver (walk=True) */
  TG_RW_ENTER_CALLS = 4, /* rewrite inside FUNCTION bodies and opaque CALL bodies too (enter_calls=True) */
};

/* tinygrad's graph_rewrite(sink, pm, ctx, bottom_up, bpm=bpm, walk, enter_calls): every node rewritten to a fixed
** point with memoised replacements, iteratively (no recursion on deep graphs). pm or bpm may be NULL.
** Returns a new reference, or NULL with an error (a rule failed, "infinite loop in fixed_point_rewrite",
** "infinite loop in graph_rewrite (stack too big)", out of memory). */
tg_uop *tg_graph_rewrite(tg_uop *sink, const tg_pm *pm, void *ctx, unsigned flags, const tg_pm *bpm);

/* UOp.substitute(dvars): every keys[i] replaced by vals[i] (bottom up, like tinygrad). New reference or NULL. */
tg_uop *tg_uop_substitute(tg_uop *u, tg_uop *const *keys, tg_uop *const *vals, size_t n);
/* substitute(..., walk=True): the single-pass walk, replacements taken as final (a value may contain its key). */
tg_uop *tg_uop_substitute_ex(tg_uop *u, tg_uop *const *keys, tg_uop *const *vals, size_t n, int walk);

/* ---------------- UOp arithmetic as rules write it (tinygrad's ElementwiseMixin on UOp) ----------------
** Every function returns a new reference or NULL with an error; inputs are borrowed and must not be NULL.
** Binary operators promote like _broadcasted: the result dtype is least_upper_dtype of both, a weak CONST stays a
** (re-weakened) CONST, anything else gets a CAST. Python numbers become CONSTs as ufix() does (int -> weakint,
** float -> weakfloat, bool -> bool). */

tg_uop *tg_um_const(int dtype, tg_num v);              /* UOp.const(v, dtype) (dtype TG_DT_AUTO: from the value) */
tg_uop *tg_um_const_like(tg_uop *u, tg_num v);         /* u.const_like(v) */
tg_uop *tg_um_ufix(tg_num v);                          /* UOp.ufix(v): a Python value as a CONST */
tg_uop *tg_um_binop(tg_op op, tg_uop *a, tg_uop *b);   /* a <op> b for ADD MUL AND OR XOR SHL SHR CMPLT CMPNE MAX ... */
tg_uop *tg_um_sub(tg_uop *a, tg_uop *b);               /* a - b == a + (-b) */
tg_uop *tg_um_div(tg_uop *a, tg_uop *b);               /* a / b: true division */
tg_uop *tg_um_floordiv(tg_uop *a, tg_uop *b);          /* a // b */
tg_uop *tg_um_mod(tg_uop *a, tg_uop *b);               /* a % b */
tg_uop *tg_um_neg(tg_uop *a);                          /* -a (logical_not for bool) */
tg_uop *tg_um_invert(tg_uop *a);                       /* ~a */
tg_uop *tg_um_logical_not(tg_uop *a);                  /* a.cast(bool).ne(True) */
tg_uop *tg_um_eq(tg_uop *a, tg_uop *b);                /* a.eq(b) == a.ne(b).logical_not() */
tg_uop *tg_um_where(tg_uop *c, tg_uop *x, tg_uop *y);  /* c.where(x, y) */
tg_uop *tg_um_cast(tg_uop *u, int dtype);              /* u.cast(dtype): u itself when the dtype already matches */
tg_uop *tg_um_bitcast(tg_uop *u, int dtype);
tg_uop *tg_um_unary(tg_op op, tg_uop *u);              /* u.alu(op): RECIPROCAL, TRUNC, SQRT, EXP2, LOG2, SIN */
tg_uop *tg_um_alu(tg_op op, tg_uop *const *src, size_t n); /* x.alu(op, *src) with no promotion */
tg_uop *tg_um_minimum(tg_uop *a, tg_uop *b);
/* usum / uprod: a + b + ... (| for bool), a * b * ... (& for bool), left to right. n >= 1. */
tg_uop *tg_um_usum(tg_uop *const *u, size_t n);
tg_uop *tg_um_uprod(tg_uop *const *u, size_t n);

/* ---------------- UOp properties the rules read ---------------- */

/* The CONST's value (kind NONE for other ops). */
static inline tg_num tg_uop_val(const tg_uop *u) { return u->op == TG_OP_CONST ? tg_num_of_arg(&u->arg) : tg_num_none(); }
/* u.vmin / u.vmax as Python numbers (ints for int and bool dtypes, floats for floats). */
tg_num tg_uop_vmin(tg_uop *u);
tg_num tg_uop_vmax(tg_uop *u);
/* u.tuplize < v.tuplize (tinygrad's structural order); -1 with an error where Python could not compare the args. */
int tg_uop_tuplize_lt(tg_uop *a, tg_uop *b);

#endif
