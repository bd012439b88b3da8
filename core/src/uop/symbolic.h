/* uop/symbolic.h -- tinygrad 0.14.0's uop/symbolic.py and divandmod.py: the symbolic pattern matchers and the UOp
** helpers they use (UOp.const_factor, divides, pop_const, split_uop, ... from ops.py).
**
** The rules themselves are data: core/src/uop/symbolic.rules, compiled to symbolic_rules.inc by
** generators/rules/rulegen.py. Matchers are built once, on first use, and live for the process (borrowed pointers;
** NULL only when that first build ran out of memory). Thread-safe. */
#ifndef TG_UOP_SYMBOLIC_H
#define TG_UOP_SYMBOLIC_H
#include "uop/rewrite.h"

const tg_pm *tg_pm_pm_data_invalid(void);
const tg_pm *tg_pm_symbolic_simple_rules(void); /* symbolic_simple's own list */
const tg_pm *tg_pm_mop_cleanup(void);
const tg_pm *tg_pm_symbolic_simple(void); /* pm_data_invalid + symbolic_simple_rules + mop_cleanup */
const tg_pm *tg_pm_commutative(void);
const tg_pm *tg_pm_symbolic_rules(void);  /* symbolic's own list (phase 2) */
const tg_pm *tg_pm_div_and_mod_symbolic(void);
const tg_pm *tg_pm_symbolic(void);        /* symbolic_simple + commutative + symbolic_rules + div_and_mod_symbolic */

/* UOp.simplify(): graph_rewrite(u, symbolic) (a CONST is returned as is). New reference or NULL with an error. */
tg_uop *tg_uop_simplify(tg_uop *u);

/* ---- ops.py's "uop symbolic stuff" ---- */
/* split_uop: the terms of a chain of `sep` ops, left to right (borrowed); malloc'd array, free() it. NULL on OOM. */
tg_uop **tg_uop_split(tg_uop *u, tg_op sep, size_t *n);
/* pop_const: (u.src[0], u.src[1].val) for `u = y <op> CONST`, else (u, identity_element(op, u.dtype)). Borrowed. */
tg_uop *tg_uop_pop_const(tg_uop *u, tg_op op, tg_num *c);
/* const_factor: the largest known int that divides u. */
int64_t tg_uop_const_factor(tg_uop *u);
/* divides(v): u / v when exact as a UOp (new reference), NULL when unknown; *err set on failure (else 0). */
tg_uop *tg_uop_divides(tg_uop *u, int64_t v, int *err);
/* divide_exact(v): u / v for a UOp v, NULL when unknown; *err set on failure. */
tg_uop *tg_uop_divide_exact(tg_uop *u, tg_uop *v, int *err);
/* UOp.gcd(*uops). New reference or NULL with an error. */
tg_uop *tg_uop_gcd(tg_uop *const *u, size_t n);

/* ---- divandmod.py (divmod.c) ---- */
/* fold_divmod_general(d) for d = x // y or x % y over weakint: a simpler equivalent (new reference), or NULL for none.
** On failure (division by a zero range, out of memory) returns NULL with *err = 1 and the message set. */
tg_uop *tg_fold_divmod_general(tg_uop *d, int *err);

#endif
