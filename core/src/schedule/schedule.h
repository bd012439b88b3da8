/* schedule/schedule.h -- tinygrad 0.14.0's schedule/ package in C: the tensor-level graph to realize becomes a LINEAR
** list of kernel calls (kernel ASTs) and copies, exactly as tinygrad builds it.
**
**   callify.c   tensor.py             transform_to_call: the tensors to realize -> the CALL the scheduler takes
**   rangeify.c  schedule/rangeify.py  get_kernel_graph: earliest rewrites, split_reduceop, copy rules, the
**                                     remove_bufferize cost model (fusion), bufferize -> store, split_kernels
**   indexing.c  schedule/indexing.py  run_rangeify: realize map, range propagation, movement ops as index math
**   schedule.c  schedule/__init__.py  create_schedule (kernel DAG, toposort) and create_linear_with_vars
**   memory.c    schedule/memory.py    memory_plan_rewrite (TLSF suballocation into arenas)
**   uops.c      the UOp methods these passes use that uop/ does not have yet (ranges, marg, movement builders, ...)
**   valid.c     uop/symbolic.py's pm_simplify_valid / pm_drop_and_clauses and codegen/simplify.py's range rules that
**               the scheduler runs (to move to uop/ and codegen/ once those files grow them)
**
** What Tensor.realize does with them (tensor.py linear_with_vars + engine/realize.py run_linear):
**
**   tg_uop *sink = <SINK of the UOps of the tensors to realize, without views of buffers and virtual ones>;
**   tg_uop *call, *linear;
**   tg_schedule_map becomes;
**   if (tg_schedule_callify(sink, &call, &becomes) != TG_OK) return ...;
**   <substitute becomes.from[i] -> becomes.to[i] in every live tensor>;  tg_schedule_map_free(&becomes);
**   if (tg_schedule_linear(call, &linear) != TG_OK) return ...;
**   for each c in linear->src: c->src[0] is a kernel AST (SINK; codegen it) or a COPY; c->src[1..] are its buffers:
**     BUFFER (a ParamArg: slot, dtype, device; size = its shape), or BITCAST(SHRINK(BUFFER int8 arena, offset, n)),
**     a view into a memory-planner arena at a byte offset (SHRINK/BITCAST left out where they change nothing), or a
**     view callify made of a slice (SHRINK/BITCAST of an input BUFFER); the order is the kernel's PARAM order.
**   tg_uop_release(linear), tg_uop_release(call);
**
** Ownership: functions returning `tg_uop *` return a NEW reference (release with tg_uop_release) unless the comment
** says borrowed; arguments are borrowed. Errors: NULL / a tg_status with the message in tg_last_error().
** Threading: a schedule runs on one thread; several threads may schedule different graphs at once. */
#ifndef TG_SCHEDULE_SCHEDULE_H
#define TG_SCHEDULE_SCHEDULE_H
#include <stddef.h>
#include <stdint.h>

#include "uop/rewrite.h"

/* ================ the entry points ================ */

/* tinygrad's create_linear_with_vars(big_sink). `call` is what Tensor.linear_with_vars hands the scheduler:
**   CALL(SINK(AFTER(PARAM|view, STORE(PARAM|view, value)), ...), *args)
** where PARAM(slot k) in the body stands for args[k] (a BUFFER with device, dtype and size) -- transform_to_call's form.
** On success *out_linear is a new reference to LINEAR(CALL(body, *buffers), ...) in execution order, each body a kernel
** AST (SINK with a KernelInfo arg) or a COPY, its arguments the buffers in PARAM order: the call's own BUFFERs, new
** intermediate BUFFERs, and views of memory-planner arenas (BITCAST(SHRINK(BUFFER int8 arena, off, n))). Buffers the
** scheduler creates take slots from tg_schedule_next_slot(). Variables (bound symbolic values) are not supported yet:
** a graph with one fails with TG_ERR_UNSUPPORTED, as do multi-device graphs. */
tg_status tg_schedule_linear(tg_uop *call, tg_uop **out_linear);

/* tg_schedule_linear keeps each function body's schedule (tinygrad's schedule_cache; SCACHE=0 in the environment turns
** it off), retaining the body and its LINEAR. This drops them all: for a leak check, or to schedule afresh. */
void tg_schedule_cache_clear(void);

/* tinygrad's transform_to_call (tensor.py), the step before tg_schedule_linear: big_sink is UOp.sink of the UOps of the
** tensors to realize (borrowed). On success *out_call is a new reference to the CALL tg_schedule_linear takes, and
** *becomes lists, for every tensor-level UOp now stored in a buffer, the buffer view that replaces it (from[i] -> to[i],
** new references; free with tg_schedule_map_free): the frontend substitutes these in all its live tensors
** (tinygrad's _apply_map_to_tensors). CONTIGUOUS values get new BUFFERs (slots from tg_schedule_next_slot). Tensors
** that are views of a buffer or virtual (no device, weak dtype) need no realize: leave them out of big_sink, as
** Tensor.realize does. DISK, precompiled FUNCTIONs, multi-device and Variables fail with TG_ERR_UNSUPPORTED. */
typedef struct tg_schedule_map { size_t n; tg_uop **from, **to; } tg_schedule_map;
tg_status tg_schedule_callify(tg_uop *big_sink, tg_uop **out_call, tg_schedule_map *becomes);
void tg_schedule_map_free(tg_schedule_map *m);

/* The steps, for tests and tools: get_kernel_graph (function body SINK -> kernel graph SINK), create_schedule (kernel
** graph -> LINEAR), memory_plan_rewrite (held: BUFFERs never planned, borrowed). New references or NULL. */
tg_uop *tg_schedule_kernel_graph(tg_uop *sink);
tg_uop *tg_schedule_create(tg_uop *kernel_graph);
tg_uop *tg_schedule_memory_plan(tg_uop *linear, tg_uop *const *held, size_t nheld);

/* UOp.unique_num for the BUFFERs the scheduler creates. Starts at 2**40 so that it cannot meet the frontend's own
** counter (tensor/creation.c) until the two are one. Thread-safe. */
int64_t tg_schedule_next_slot(void);

/* ================ shared by the schedule files ================ */

/* tg_err that remembers the code (schedule/internal.h routes the schedule files' tg_err through it):
** tg_schedule_linear returns the code of the first failure (TG_ERR_INTERNAL when the failure came from outside
** schedule/, e.g. a shape error in uop/, whose code is not kept). */
#include "tgc_internal.h"
tg_status tgs_err(tg_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
tg_status tgs_last_status(void);
void tgs_clear_status(void);

/* A pool of references: tgs_hold takes ownership of a new reference and returns it borrowed until tgs_pool_free.
** tgs_hold(P, NULL) returns NULL (the error is already set). */
typedef struct tgs_pool { tg_uop **v; size_t n, cap; } tgs_pool;
tg_uop *tgs_hold(tgs_pool *P, tg_uop *u);
void tgs_pool_free(tgs_pool *P);

/* Thread-local caches of derived properties (ranges, device) for the duration of one schedule. tgs_session_begin
** nests (a counter); the caches hold references to their keys so an address is never reused while cached. */
int tgs_session_begin(void);
void tgs_session_end(void);

/* ---- arg helpers ---- */
enum { TGS_AX_DEVICE = 1, TGS_AX_GLOBAL, TGS_AX_WARP, TGS_AX_LOCAL, TGS_AX_WEAK, TGS_AX_GROUP_REDUCE, TGS_AX_REDUCE,
       TGS_AX_UPCAST, TGS_AX_UNROLL, TGS_AX_THREAD, TGS_AX_PLACEHOLDER, TGS_AX_LOOP };
enum { TGS_AS_GLOBAL = 1, TGS_AS_LOCAL, TGS_AS_REG, TGS_AS_ALU };
tg_arg tgs_axis_arg(int axistype);      /* AxisType.X as a TG_ARG_ENUM (static string) */
tg_arg tgs_addrspace_arg(int addrspace); /* AddrSpace.X */
/* ParamArg(slot, dtype, device=device, addrspace=addrspace) into items[TG_PARAMARG_COUNT] (device borrowed). */
tg_arg tgs_paramarg(tg_arg *items, int64_t slot, int dtype, const char *device, int addrspace);
int tgs_is_paramarg(const tg_arg *a);
/* ParamArg fields of a BUFFER/PARAM (defaults when absent). */
int64_t tgs_pa_slot(const tg_uop *u);
const char *tgs_pa_device(const tg_uop *u); /* NULL for None (a tuple device reads as NULL too) */
int tgs_pa_addrspace(const tg_uop *u);      /* 0 for None */
int tgs_pa_has_name(const tg_uop *u);
int tgs_pa_has_vmin_vmax(const tg_uop *u);
int tgs_is_dataclass(const tg_arg *a, const char *cls);
/* RANGE arg: (axis_id, ..., AxisType) */
int64_t tgs_range_id(const tg_uop *r);
int tgs_range_axistype(const tg_uop *r);
/* BufferizeOpts(device, addrspace, removable) */
tg_uop *tgs_stage(tgs_pool *P, tg_uop *const *src, size_t n, const char *device, int addrspace, int removable);
const char *tgs_stage_device(const tg_uop *b);
int tgs_stage_addrspace(const tg_uop *b);
int tgs_stage_removable(const tg_uop *b);

/* ---- shapes (ints only: a symbolic dim fails with TG_ERR_UNSUPPORTED) ---- */
#define TGS_MAXD 64
typedef struct tgs_shp { uint32_t n; int64_t d[TGS_MAXD]; } tgs_shp;
/* 1 with *s filled, 0 when the UOp has no shape, -1 with an error */
int tgs_shape(tg_uop *u, tgs_shp *s);
int64_t tgs_prod(const int64_t *d, size_t n);
/* marg of a movement op: RESHAPE/EXPAND -> a[i]; PAD/SHRINK -> (a[i], b[i]) pairs; PERMUTE/FLIP -> a[i]. n dims. */
int tgs_marg(tg_uop *u, int64_t *a, int64_t *b, size_t *n);
/* UOp.as_shape of a shape arg (CONST or STACK of CONSTs) */
int tgs_as_shape(tg_uop *u, int64_t *d, size_t *n);

/* ---- derived properties (cached in the session) ---- */
/* UOp.ranges: the open RANGEs under u, in tinygrad's dict order. Borrowed array valid for the session. */
tg_uop *const *tgs_ranges(tg_uop *u, size_t *n);
int tgs_in_ranges(tg_uop *u, tg_uop *r);
/* UOp.device: borrowed string, NULL for None. *multi set when it is a tuple (multi-device). */
const char *tgs_device(tg_uop *u);
int tgs_addrspace(tg_uop *u); /* UOp.addrspace, 0 for None */
tg_uop *tgs_buf_uop(tg_uop *u);             /* UOp.buf_uop (borrowed; MSELECT/MSTACK unsupported) */
tg_uop *tgs_base(tg_uop *u);                 /* UOp.base (borrowed) */
int tgs_has_buffer_identity(tg_uop *u, int after_ok);
int tgs_is_variable(tg_uop *u);
int tgs_is_bound_var(tg_uop *u);
int tgs_ended_ranges(tg_uop *u, tg_uop ***out, size_t *n); /* malloc'd array of borrowed UOps */
/* toposort with tinygrad's gate and enter_calls; malloc'd array of borrowed pointers */
tg_uop **tgs_toposort(tg_uop *root, int (*gate)(tg_uop *, void *), void *ctx, int enter_calls, size_t *n);
int tgs_in_toposort(tg_uop *root, tg_uop *x, int enter_calls); /* 1, 0, -1 error */

/* ---- builders (borrowed results held by P; NULL with an error) ---- */
tg_uop *tgs_new(tgs_pool *P, tg_op op, int dtype, tg_uop *const *src, size_t n, tg_arg arg);
tg_uop *tgs_ci(tgs_pool *P, int64_t v);            /* UOp.const(v) weakint */
tg_uop *tgs_cb(tgs_pool *P, int v);                /* UOp.const(bool) */
tg_uop *tgs_cinvalid(tgs_pool *P);
tg_uop *tgs_bin(tgs_pool *P, tg_op op, tg_uop *a, tg_uop *b);  /* a <op> b with promotion (ElementwiseMixin) */
tg_uop *tgs_bin_i(tgs_pool *P, tg_op op, tg_uop *a, int64_t b);
tg_uop *tgs_sub(tgs_pool *P, tg_uop *a, tg_uop *b);
tg_uop *tgs_floordiv_i(tgs_pool *P, tg_uop *a, int64_t b);
tg_uop *tgs_mod_i(tgs_pool *P, tg_uop *a, int64_t b);
tg_uop *tgs_where(tgs_pool *P, tg_uop *c, tg_uop *x, tg_uop *y);
tg_uop *tgs_not(tgs_pool *P, tg_uop *x);
tg_uop *tgs_usum(tgs_pool *P, tg_uop *start, tg_uop *const *u, size_t n); /* start.usum(*u) */
tg_uop *tgs_uprod(tgs_pool *P, tg_uop *start, tg_uop *const *u, size_t n);
tg_uop *tgs_valid(tgs_pool *P, tg_uop *x, tg_uop *cond);  /* x.valid(cond) */
tg_uop *tgs_get_idx(tg_uop *x);                            /* borrowed */
tg_uop *tgs_get_valid(tgs_pool *P, tg_uop *x);
tg_uop *tgs_cast(tgs_pool *P, tg_uop *x, int dtype);
tg_uop *tgs_const_like(tgs_pool *P, tg_uop *x, tg_num v); /* UOp.const_like: expanded to x's shape */
tg_uop *tgs_index(tgs_pool *P, tg_uop *buf, tg_uop *const *idx, size_t n, const tg_arg *arg);
tg_uop *tgs_store(tgs_pool *P, tg_uop *dst, tg_uop *val);
tg_uop *tgs_end(tgs_pool *P, tg_uop *x, tg_uop *const *r, size_t n);   /* x itself when n == 0 */
tg_uop *tgs_after(tgs_pool *P, tg_uop *x, tg_uop *const *d, size_t n); /* x itself when n == 0 */
tg_uop *tgs_sink(tgs_pool *P, tg_uop *const *src, size_t n, tg_arg arg);
tg_uop *tgs_range(tgs_pool *P, int64_t size, int64_t id, int axistype);
tg_uop *tgs_contiguous(tgs_pool *P, tg_uop *x);  /* ElementwiseMixin.contiguous */
tg_uop *tgs_replace_src(tgs_pool *P, tg_uop *x, tg_uop *const *src, size_t n);
tg_uop *tgs_shape_arg(tgs_pool *P, const int64_t *d, size_t n); /* shape_to_shape_arg */
/* MovementMixin on UOps: the same early-outs tinygrad has (no-op reshape/permute/... returns x) */
tg_uop *tgs_mop(tgs_pool *P, tg_uop *x, tg_op op, const int64_t *a, const int64_t *b, size_t n); /* UOp._mop */
tg_uop *tgs_reshape(tgs_pool *P, tg_uop *x, const int64_t *shape, size_t n);
tg_uop *tgs_permute(tgs_pool *P, tg_uop *x, const int64_t *order, size_t n);
tg_uop *tgs_expand(tgs_pool *P, tg_uop *x, const int64_t *shape, size_t n);
tg_uop *tgs_shrink(tgs_pool *P, tg_uop *x, const int64_t *start, const int64_t *end, size_t n);
tg_uop *tgs_flatten(tgs_pool *P, tg_uop *x);
tg_uop *tgs_rop(tgs_pool *P, tg_uop *x, tg_op op, const int64_t *axis, size_t n); /* UOp._rop */
/* UOp.substitute(map, extra_pm=...): keys[i] -> vals[i], bottom up; extra may be NULL. gate: pm_gate_substitute */
tg_uop *tgs_substitute(tgs_pool *P, tg_uop *u, tg_uop *const *keys, tg_uop *const *vals, size_t n, const tg_pm *extra,
                       int gate);
tg_uop *tgs_simplify(tgs_pool *P, tg_uop *u);
tg_uop *tgs_rewrite(tgs_pool *P, tg_uop *u, const tg_pm *pm, void *ctx, unsigned flags);

/* ---- matchers of other schedule files ---- */
const tg_pm *tgs_pm_mops(void);          /* rangeify.c: pm_mops */
const tg_pm *tgs_pm_flatten_range(void); /* valid.c: codegen/simplify.py pm_flatten_range */
const tg_pm *tgs_pm_reduce_simplify(void);
const tg_pm *tgs_pm_symbolic_valid(void);  /* symbolic + pm_simplify_valid */
const tg_pm *tgs_pm_symbolic_valid_drop(void); /* symbolic + pm_simplify_valid + pm_drop_and_clauses */

/* callify.c: UOp.contiguous_view -- 1 with the BUFFER (held by P) and element offset when self is a contiguous range
** of one, 0 when it is not, -1 on failure */
int tgs_contiguous_view(tgs_pool *P, tg_uop *self, tg_uop **buf, int64_t *offset);

/* indexing.c */
tg_uop *tgs_run_rangeify(tg_uop *sink);
/* apply_movement_op(op, in_shape, arg, rngs): the source's index UOps into out (held by P), *nout of them. arg is the
** marg as tgs_marg gives it (a, b, na) -- for RESHAPE a is the output shape. */
int tgs_apply_movement_op(tgs_pool *P, tg_op op, const tgs_shp *in_shape, const int64_t *a, const int64_t *b, size_t na,
                          tg_uop *const *rngs, size_t nr, tg_uop **out, size_t *nout);
#endif
