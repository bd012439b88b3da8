/* codegen/opt/opt.h -- tinygrad 0.14.0's codegen/opt: the Scheduler (postrange.py) and hand_coded_optimizations
** (heuristic.py). A cg_sched owns a reference to its AST and the applied Opts (as tinygrad's Opt args). */
#ifndef TG_CODEGEN_OPT_OPT_H
#define TG_CODEGEN_OPT_OPT_H
#include "codegen/passes.h"

/* OptOps, tinygrad's numbering */
enum { CG_OPT_TC = 1, CG_OPT_UPCAST = 2, CG_OPT_UNROLL = 3, CG_OPT_LOCAL = 4, CG_OPT_THREAD = 5, CG_OPT_GROUP = 6,
       CG_OPT_GROUPTOP = 7, CG_OPT_NOLOCALS = 8, CG_OPT_PADTO = 9, CG_OPT_SWAP = 10 };

#define CG_MAX_OPTS 64
typedef struct cg_sched {
  tg_uop *ast;               /* owned */
  const cg_ren *ren;
  int dont_use_locals;
  int64_t next_range;        /* opt_range counter */
  tg_arg opts[CG_MAX_OPTS];  /* applied Opt(op, axis, arg) args, owned */
  size_t nopts;
  tg_uop *last_rep;          /* the range the last apply_opt replaced (apply_opt's ret[0]); borrowed from ast */
  const struct cg_tc *tensor_core;
} cg_sched;

int cg_sched_init(cg_sched *k, tg_uop *ast, const cg_ren *ren);
void cg_sched_free(cg_sched *k);
int cg_sched_copy(const cg_sched *k, cg_sched *out);
void cg_sched_set_ast(cg_sched *k, tg_uop *ast); /* takes the reference */
int cg_sched_rngs(cg_sched *k, cg_list *out);     /* Scheduler.rngs (borrowed from k->ast) */
tg_uop *cg_sched_reduceop(cg_sched *k);           /* the first REDUCE (borrowed) or NULL */
int cg_sched_output_rngs(cg_sched *k, cg_list *out);
int cg_sched_globalizable(cg_sched *k, cg_list *out);
tg_uop *cg_sched_optimized_ast(cg_sched *k);      /* get_optimized_ast: new reference */

/* apply_opt: 0 applied; 1 KernelOptError (not applied, k unchanged); -1 hard error (message set) */
int cg_sched_apply_opt(cg_sched *k, int op, int axis, int64_t arg);

/* apply_opt(Opt(OptOps.TC, axis, (tc_select, tc_opt, use_tensor_cores))): 0 applied, with the (N, M, K) ranges it
** shifted in axes_out (new references); 1 KernelOptError (k unchanged); -1 hard error */
int cg_sched_apply_tc(cg_sched *k, int axis, int tc_select, int tc_opt, int use_tc, tg_uop *axes_out[3]);

/* hand_coded_optimizations on k (in place): 0, or -1 on a hard error */
int cg_hand_coded_optimizations(cg_sched *k);

#endif
