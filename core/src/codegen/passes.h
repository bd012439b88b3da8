/* codegen/passes.h -- the pattern matchers and pass functions of the codegen files, shared with pipeline.c.
** Matchers are built once and live for the process (borrowed; NULL only when that build ran out of memory).
** Pass functions return a new reference, or NULL with an error. */
#ifndef TG_CODEGEN_PASSES_H
#define TG_CODEGEN_PASSES_H
#include "codegen/cg_util.h"
#include "codegen/codegen.h"

/* ---- sym.c (uop/symbolic.py, the parts codegen uses) ---- */
const tg_pm *cg_pm_sym(void);                         /* sym */
const tg_pm *tg_pm_cg_simplify_valid(void);
const tg_pm *tg_pm_cg_clean_up_group_sink(void);
const tg_pm *tg_pm_cg_wmma_add(void);                  /* codegen/__init__.py pm_wmma_add (expander.rules) */
const tg_pm *tg_pm_cg_move_where_on_load(void);
const tg_pm *tg_pm_cg_remove_invalid(void);
const tg_pm *tg_pm_cg_drop_and_clauses(void);
int cg_parse_valid(tg_uop *v, tg_uop **X, int *upper, int64_t *c);
tg_uop *cg_uop_given_valid(tg_uop *valid, tg_uop *uop, int try_simplex);
tg_uop *cg_commit_weak(tg_uop *s, int dt);            /* weak.py commit_weak */

/* ---- weak.c (uop/weak.py) ---- */
const tg_pm *cg_pm_commit_weak(void);
const tg_pm *cg_pm_cast_weak(void);
const tg_pm *cg_pm_lower_index_dtype(void);           /* ctx: a cg_weak_ctx */
typedef struct cg_weak_ctx { tg_ptrset memo; cg_pool keep; } cg_weak_ctx;

/* ---- simplify.c (codegen/simplify.py) ---- */
const tg_pm *cg_pm_flatten_range(void);
const tg_pm *cg_pm_simplify_ranges(void);             /* ctx: cg_rmap */
const tg_pm *cg_pm_split_ranges(void);                /* ctx: cg_rmap */
const tg_pm *cg_pm_reduce_unparented(void);
const tg_pm *cg_pm_load_collapse(void);
/* a dict UOp -> UOp|None as the range passes keep it (keys and values retained) */
typedef struct cg_rmap { cg_list k; cg_list v; cg_pool keep; } cg_rmap;
void cg_rmap_free(cg_rmap *m);

/* ---- mops.c (schedule/rangeify.py pm_mops, schedule/indexing.py apply_movement_op) ---- */
const tg_pm *cg_pm_mops(void);

/* ---- expander.c (codegen/__init__.py: expander2, pm_reduce_local) ---- */
const tg_pm *cg_pm_expander(void);                    /* ctx: cg_range_map */
typedef struct cg_range_map { int64_t axis[64]; int n; } cg_range_map;
int cg_build_range_map(tg_uop *sink, cg_range_map *m);
const tg_pm *cg_pm_reduce_local(void);                /* ctx: int *acc_num */

/* ---- devectorize.c (codegen/__init__.py: expand broadcast, add loads, devectorizer2; late/coalesce.py) ---- */
const tg_pm *cg_pm_expand_broadcast_loads(void);      /* symbolic_simple+pm_expand_broadcast+pm_add_loads */
const tg_pm *cg_pm_devectorize2(void);                /* symbolic_simple+devectorizer2+indexing_simplify */
const tg_pm *cg_pm_ew_devectorize(void);              /* symbolic_simple+ew_devectorizer */
const tg_pm *cg_pm_indexing_simplify(void);
tg_uop *cg_memory_coalescing(tg_uop *sink, const cg_ren *ren);

/* ---- gpudims.c ---- */
const tg_pm *cg_pm_add_gpudims(void);                 /* ctx: const cg_ren * */

/* ---- decomp_op.c (codegen/decomp/op.py, late/gater.py) ---- */
const tg_pm *cg_pm_simplifying_decomp(const cg_ren *ren); /* symbolic_simple + simplifying patterns (cached per op set) */
const tg_pm *cg_pm_late_decomp(const cg_ren *ren);    /* + late patterns + transcendental */
const tg_pm *cg_pm_final_rewrite(const cg_ren *ren);  /* commit/cast weak + late decomp + extra_matcher + split ends + remove invalid */
const tg_pm *cg_pm_move_gates_from_index(void);
const tg_pm *cg_pm_cast_float_alu(void);

/* ---- decomp_transcendental.c ---- */
tg_uop *cg_xpow(tg_uop *base, tg_uop *exponent);
tg_uop *cg_xexp2(tg_uop *d);
tg_uop *cg_xlog2(tg_uop *d);
tg_uop *cg_xsin(tg_uop *d);

/* ---- decomp_dtype.c: dtype emulation ---- */
tg_uop *cg_dtype_decomps(tg_uop *sink, const cg_ren *ren);

/* ---- linearize.c (late/linearizer.py) ---- */
const tg_pm *cg_pm_split_ends(void);
tg_uop *cg_add_control_flow(tg_uop *sink);
tg_uop **cg_linearize(tg_uop *sink, size_t *n);       /* owned refs */

/* ---- locals.c: LOCAL memory (codegen/__init__.py) ---- */
const tg_pm *cg_pm_add_local_buffers(void);           /* ctx: int64_t *next slot */
const tg_pm *cg_pm_implicit_barriers(void);

/* ---- renderer ---- */
const tg_pm *cg_pm_clang_extra(void);                 /* ClangRenderer.extra_matcher */

/* ---- opt (codegen/opt) ---- */
tg_uop *cg_apply_opts(tg_uop *ast, const cg_ren *ren, int noopt);

#endif
