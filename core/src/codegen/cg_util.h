/* codegen/cg_util.h -- what the codegen passes share: tinygrad 0.14.0's UOp properties that codegen reads (ranges,
** addrspace, max_numel, ended_ranges, buf_uop, marg), arg accessors (ParamArg, RANGE args, KernelInfo), and small
** builders in the style of UOp's syntactic sugar (index, store, end, after, sink, range, placeholder).
**
** Properties are memoised in a scope (tinygrad caches them on the UOp; our UOp struct has no room): cg_scope_begin()
** opens one for the calling thread, cg_scope_end() drops it. Keys are retained while the scope lives, so a cached
** pointer can never be a recycled address. Scopes nest (a counter); the pipeline opens one per kernel.
**
** Ownership: functions returning tg_uop * return a NEW reference (NULL with tg_err() set on failure) unless the
** comment says "borrowed". Lists (cg_list) hold borrowed pointers. Not thread-safe across threads sharing a scope:
** one scope per thread. */
#ifndef TG_CODEGEN_CG_UTIL_H
#define TG_CODEGEN_CG_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "tgc_internal.h"
#include "uop/alu.h"
#include "uop/ops.h"
#include "uop/rewrite.h"

/* ---------------- enums as tinygrad numbers them ---------------- */
enum { CG_AS_NONE = 0, CG_AS_GLOBAL = 1, CG_AS_LOCAL = 2, CG_AS_REG = 3, CG_AS_ALU = 4 }; /* AddrSpace */
enum { /* AxisType */
  CG_AX_DEVICE = 1, CG_AX_GLOBAL = 2, CG_AX_WARP = 3, CG_AX_LOCAL = 4, CG_AX_WEAK = 5, CG_AX_GROUP_REDUCE = 6,
  CG_AX_REDUCE = 7, CG_AX_UPCAST = 8, CG_AX_UNROLL = 9, CG_AX_THREAD = 10, CG_AX_PLACEHOLDER = 11, CG_AX_LOOP = 12
};
tg_arg cg_axis_arg(int axis_type);   /* the ENUM arg "AxisType.X" (static string) */
tg_arg cg_addrspace_arg(int as);     /* "AddrSpace.X" */
const char *cg_axis_letter(int axis_type); /* axis_letters: "g", "L", "R", ... */
const char *cg_axis_color(int axis_type);  /* axis_colors: "blue", "WHITE", ... */
int cg_axis_pos(int axis_type);            /* axis_to_pos */

/* ---------------- lists of borrowed UOps (dict-ordered sets when deduped) ---------------- */
typedef struct cg_list { tg_uop **v; size_t n, cap; } cg_list;
int cg_list_push(cg_list *l, tg_uop *u);   /* 0, or -1 out of memory (error set) */
int cg_list_add(cg_list *l, tg_uop *u);    /* push unless present (dict insert); 0 / -1 */
int cg_list_has(const cg_list *l, const tg_uop *u);
long cg_list_find(const cg_list *l, const tg_uop *u); /* index or -1 */
void cg_list_remove(cg_list *l, const tg_uop *u);     /* dict.pop(u, None), order kept */
void cg_list_free(cg_list *l);

/* ---------------- a pool of owned temporaries ----------------
** Build with K(expr): the new reference is kept in the pool (released by cg_pool_free) and the value is returned; a
** NULL jumps to `fail`. The result of a function is handed out with tg_uop_retain before freeing the pool. */
typedef struct cg_pool { tg_uop **v; size_t n, cap; int failed; } cg_pool;
tg_uop *cg_pool_add(cg_pool *p, tg_uop *u); /* takes the reference; NULL when u is NULL or out of memory */
void cg_pool_free(cg_pool *p);
#define K(expr) ({ tg_uop *k_t_ = cg_pool_add(&pool, (expr)); if (!k_t_) goto fail; k_t_; })

/* ---------------- scope and memoised properties ---------------- */
int cg_scope_begin(void); /* 0 or -1 out of memory */
void cg_scope_end(void);

const cg_list *cg_ranges(tg_uop *u);       /* UOp.ranges (a RANGE first includes itself); NULL + error on OOM */
const cg_list *cg_ranges_excl(tg_uop *u);  /* UOp._ranges */
int cg_addrspace(tg_uop *u);               /* UOp.addrspace, CG_AS_NONE for None */
/* UOp.ended_ranges into out (borrowed). -1 on OOM. */
int cg_ended_ranges(tg_uop *u, cg_list *out);

/* UOp.sink(*xs).ranges without building the sink: the union in order. -1 on OOM. */
int cg_ranges_of(tg_uop *const *xs, size_t n, cg_list *out);

/* toposort / backward_slice as lists (borrowed pointers; the graph under u stays alive while u does). */
int cg_toposort(tg_uop *u, cg_list *out);
int cg_toposort_gated(tg_uop *u, int (*gate)(tg_uop *, void *), void *ctx, cg_list *out);
int cg_in_backward_slice(tg_uop *root, tg_uop *x);  /* x in root.backward_slice_with_self; -1 on OOM */
int cg_op_in_slice(tg_uop *root, tg_op op);         /* op in root.backward_slice_with_self (ops); -1 on OOM */

/* shapes */
int cg_has_shape(tg_uop *u);                   /* u._shape is not None (errors swallowed as "no") */
int64_t cg_max_numel(tg_uop *u);               /* prod(max_shape); -1 with an error when u has no shape */
int cg_shape_eq(tg_uop *a, tg_uop *b);         /* both shapes exist and are equal (ints by value, UOps by identity) */
int cg_shape_ndim(tg_uop *u);                  /* -1 when no shape */
int64_t cg_shape_dim(tg_uop *u, int i);        /* max int of dim i */
/* UOp.marg of a movement op as ints (RESHAPE/EXPAND: n dims; PAD/SHRINK: 2n values (off, sz) pairs; PERMUTE/FLIP:
** the arg's ints). Returns the count, -1 when symbolic or not a movement op. out has room for 64 values. */
int cg_marg(tg_uop *u, int64_t *out);

/* ---------------- arg accessors ---------------- */
const tg_arg *cg_tuple_item(const tg_arg *a, uint32_t i); /* NULL when out of range / not a tuple */
int64_t cg_arg_int(const tg_arg *a, int64_t dflt);        /* INT/BOOL/ENUM value, else dflt */
/* ParamArg fields (defaults when the tuple was written short): slot, dtype, addrspace, name (NULL for None) */
int64_t cg_param_slot(tg_uop *u);
int cg_param_addrspace(tg_uop *u);
const char *cg_param_name(tg_uop *u);
int cg_param_volatile(tg_uop *u);
/* RANGE arg: (axis..., AxisType). cg_range_type is the last item's value, cg_range_axis the first int. */
int cg_range_type(tg_uop *r);
int64_t cg_range_axis(tg_uop *r);
int cg_range_arg_cmp(tg_uop *a, tg_uop *b); /* compares arg[0:-1] tuples as Python does (ints) */

/* KernelInfo(name, axis_types, dont_use_locals, applied_opts, opts_to_apply, estimates, beam) */
int cg_is_kernel_info(const tg_arg *a);
const char *cg_kernel_name(const tg_arg *a);   /* "test" when missing */
/* A KernelInfo arg with the given fields (applied_opts: tuple arg or NULL for ()). Heap-backed; free with tg_arg_free. */
tg_status cg_kernel_info(const char *name, int dont_use_locals, const tg_arg *applied_opts, tg_arg *out);
/* ParamArg(slot, dtype, addrspace=as) with the other fields at their defaults (vmin_vmax optional). Heap-backed. */
tg_status cg_param_arg(int64_t slot, int dtype, int addrspace, const char *name, const tg_num *vmin_vmax, tg_arg *out);

/* ---------------- builders (UOp sugar) ---------------- */
tg_uop *cg_new(tg_op op, int dtype, tg_uop *const *src, size_t n, tg_arg arg);
tg_uop *cg_cint(int64_t v);                           /* UOp.const(v): a weakint CONST */
tg_uop *cg_const(int dtype, tg_num v);                /* UOp.const(v, dtype) */
tg_uop *cg_index(tg_uop *buf, tg_uop *const *idx, size_t n); /* buf.index(*idx): a const index into a STACK picks */
tg_uop *cg_index1(tg_uop *buf, tg_uop *idx);
tg_uop *cg_index_i(tg_uop *buf, int64_t i);            /* buf.index(i) */
tg_uop *cg_load(tg_uop *idx);                          /* idx.load() */
tg_uop *cg_store(tg_uop *idx, tg_uop *val);            /* idx.store(val) */
tg_uop *cg_end(tg_uop *x, tg_uop *const *r, size_t n); /* x.end(*r): x itself (retained) when n == 0 */
tg_uop *cg_after(tg_uop *x, tg_uop *const *s, size_t n);
tg_uop *cg_sink(tg_uop *const *s, size_t n, const tg_arg *arg); /* arg NULL: None */
tg_uop *cg_group(tg_uop *const *s, size_t n);          /* UOp.group: the one source when n == 1 */
tg_uop *cg_stack(tg_uop *const *s, size_t n);          /* UOp(Ops.STACK, src=s) */
tg_uop *cg_valid(tg_uop *x, tg_uop *cond);             /* x.valid(cond) = cond.where(x, Invalid) */
tg_uop *cg_range(tg_uop *end, const int64_t *axis, size_t naxis, int axis_type, int dtype);
tg_uop *cg_range_i(int64_t end, int64_t axis, int axis_type); /* UOp.range(end, axis, type) over weakint */
tg_uop *cg_variable(const char *name, int64_t vmin, int64_t vmax, int dtype); /* UOp.variable(..., param=True) */
tg_uop *cg_variable_num(const char *name, tg_num vmin, tg_num vmax, int dtype);
tg_uop *cg_reshape(tg_uop *x, const int64_t *shape, size_t n);
tg_uop *cg_expand(tg_uop *x, const int64_t *shape, size_t n);
tg_uop *cg_permute(tg_uop *x, const int64_t *order, size_t n);
tg_uop *cg_shape_arg(const int64_t *shape, size_t n);  /* shape_to_shape_arg */
tg_uop *cg_placeholder(const int64_t *shape, size_t n, int dtype, int64_t slot, int addrspace);
tg_uop *cg_uprod(tg_uop *const *u, size_t n);          /* UOp.uprod (& for bools); the const True when n == 0 */
tg_uop *cg_with_src(tg_uop *u, tg_uop *const *src, size_t n); /* u.replace(src=...) */
tg_uop *cg_with_tag(tg_uop *u, tg_arg tag);            /* u.rtag(tag) */
tg_uop *cg_with_arg(tg_uop *u, tg_arg arg);            /* u.replace(arg=...) */
tg_uop *cg_substitute1(tg_uop *u, tg_uop *k, tg_uop *v);

/* the value of a CONST as int (kind INT/BOOL), or dflt */
int64_t cg_cval(tg_uop *c, int64_t dflt);
int cg_is_const(tg_uop *u);
int cg_is_invalid(tg_uop *u);
int64_t cg_vmax_i(tg_uop *u);
int64_t cg_vmin_i(tg_uop *u);

/* tg_err that also records the code for tg_codegen_kernel's return (the thread's last codegen failure) */
void cg_note_status(tg_status code);
tg_status cg_last_status(void); /* and resets it to TG_OK */
#define cg_err(code, ...) (cg_note_status(code), tg_err((code), __VA_ARGS__))

/* memcpy that accepts n == 0 with NULL pointers (empty lists have no storage) */
static inline void cg_memcpy(void *dst, const void *src, size_t n) {
  if (n) __builtin_memcpy(dst, src, n);
}

/* rule helpers: fail the rewrite on a NULL result */
static inline tg_uop *cg_ok(tg_rw *rw, tg_uop *r) { return r ? r : tg_rw_fail(rw); }

/* tinygrad's colored() (ANSI escapes, no NO_COLOR) into a builder */
void cg_colored(tg_sb *b, const char *text, const char *color);
/* helpers.to_function_name: ANSI stripped, non [A-Za-z0-9_] as %02X. malloc'd. */
char *cg_function_name(const char *name);

#endif
