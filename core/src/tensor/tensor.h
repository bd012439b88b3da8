/* tensor/tensor.h -- the tensor frontend (tinygrad 0.14.0 tensor.py + mixin/{creation,dtype,elementwise,movement,reduce,
** op}.py): builds the lazy tensor-level UOp graph exactly as tinygrad builds it. Internal; the public surface is the
** "Tensor" section of include/tg.h (tensor.c).
**
** Values. A tg_tv is what tinygrad's mixins operate on: a UOp plus its device (UOp.device, carried along instead of
** recomputed: NULL for device-less values such as CONSTs). Devices are interned strings that live until exit.
**
** Scopes and errors. Every builder takes a tgt_scope that owns the UOps made while building one public result: a
** builder returns a tg_tv whose UOp is borrowed from the scope, and the public call retains what it keeps, then ends
** the scope (tgt_scope_end releases everything else). A failing builder sets S->st and the thread's last error and
** returns TGT_NONE; every builder returns TGT_NONE at once when given a TGT_NONE operand, so calls nest without checks
** (tgt_add(S, tgt_mul(S, a, b), c)) and the first error wins.
**
** Python scalars. Where tinygrad takes a ConstType (int, float, bool) the C side takes a tgt_py; at the public API a
** Python scalar is a bare CONST of dtype weakint, weakfloat or bool (what tinygrad's ufix/Tensor(3) build).
**
** Threading: builders are thread-safe (the UOp layer is); a scope belongs to one thread. */
#ifndef TG_TENSOR_TENSOR_H
#define TG_TENSOR_TENSOR_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "tgc_internal.h"
#include "uop/ops.h"

#define TGT_MAXD 64             /* the most dims a frontend shape may have */
#define TGT_NONE_DIM INT64_MIN /* Python's None in a shape argument (reshape, expand, shrink_to, pad_to): keep the dim */

typedef struct tg_tv {
  tg_uop *u;       /* borrowed from the scope (or from a tensor object) */
  const char *dev; /* interned device name, NULL when the value has none */
} tg_tv;
#define TGT_NONE ((tg_tv){NULL, NULL})

typedef struct tgt_scope {
  tg_uop **held;
  size_t n, cap;
  tg_status st; /* first failure, TG_OK while none */
} tgt_scope;

/* A concrete shape (the frontend refuses symbolic dims). */
typedef struct tgt_shape {
  uint32_t n;
  int64_t d[TGT_MAXD];
} tgt_shape;

/* A Python scalar: kind TG_ARG_BOOL / TG_ARG_INT (i) or TG_ARG_FLOAT (f). */
typedef struct tgt_py {
  uint8_t kind;
  int64_t i;
  double f;
} tgt_py;
static inline tgt_py tgt_pyint(int64_t v) { return (tgt_py){TG_ARG_INT, v, 0}; }
static inline tgt_py tgt_pyfloat(double v) { return (tgt_py){TG_ARG_FLOAT, 0, v}; }
static inline tgt_py tgt_pybool(int v) { return (tgt_py){TG_ARG_BOOL, v != 0, 0}; }

/* ---------------- scope, errors, construction (tensor.c) ---------------- */

tg_tv tgt_fail(tgt_scope *S, tg_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Takes ownership of u (a new reference) into the scope; NULL (or OOM) fails the scope. */
tg_uop *tgt_hold(tgt_scope *S, tg_uop *u, tg_status st_if_null);
void tgt_scope_end(tgt_scope *S);
/* UOp(op, dtype, src, arg) with tinygrad's device rule: BUFFER/COPY carry theirs (dev), AFTER takes src[0]'s, others
** the first source that has one. dtype TG_DT_AUTO derives it (a dtype rule broken -> TG_ERR_DTYPE). */
tg_tv tgt_mk(tgt_scope *S, tg_op op, int dtype, const tg_tv *src, size_t n, tg_arg arg, const char *dev);
/* The interned copy of a device name (never freed); NULL when s is NULL or out of memory. */
const char *tgt_dev_intern(const char *s);
/* tinygrad's Device.canonicalize: "cuda:0" -> "CUDA", "cpu" -> "CPU"; NULL -> $DEV, else "CPU". Interned. */
const char *tgt_dev_canonical(const char *device);
/* The shape of x (0 on success). Symbolic dims and shapeless values fail the scope. */
int tgt_shape_of(tgt_scope *S, tg_tv x, tgt_shape *out);
/* Python's repr of a tuple of ints into buf: "(2, 3)", "(4,)", "()". Returns buf. */
const char *tgt_tuple_str(const int64_t *v, size_t n, char *buf, size_t cap);
/* $DEFAULT_FLOAT / $DEFAULT_INT, failing the scope (with dtype.c's reason) when set to a wrong name. */
int tgt_default_dtype(tgt_scope *S, int is_float);
/* Python's floor division and ceildiv on ints (caller checks for 0). */
int64_t tgt_floordiv(int64_t a, int64_t b);
static inline int64_t tgt_ceildiv(int64_t a, int64_t b) { return -tgt_floordiv(a, -b); }

/* ---------------- host data (tinygrad's `buffers` map for BUFFERs on "NPY"/"PYTHON"), tensor.c ----------------
** tinygrad fake-realizes Tensor(list)/Tensor(numpy) by allocating a host Buffer for the BUFFER UOp at creation. Here the
** bytes are copied into a side table keyed by the BUFFER UOp, which the table holds a reference to; an entry is dropped
** when nothing but the table holds its BUFFER any more (checked whenever a tensor dies, and by tgt_host_sweep). */

/* The bytes behind a host BUFFER UOp, or NULL (with *nbytes = 0) when buffer has none. The pointer stays valid while
** the caller holds a reference to `buffer`. Thread-safe. This is the call the realize step reads host inputs with. */
const void *tg_tensor_host_data(tg_uop *buffer, size_t *nbytes);
/* Copies nbytes of data for `buffer` (retained by the table). */
tg_status tgt_host_attach(tg_uop *buffer, const void *data, size_t nbytes);
/* Drops entries whose BUFFER only the table still holds. */
void tgt_host_sweep(void);
/* Number of host-data entries (tests). */
size_t tgt_host_count(void);

/* The UOp and device of a public tensor handle (borrowed; valid while the handle is). */
tg_status tgt_tensor_get(const tg_tensor *t, const char *what, tg_tv *out);
/* tinygrad's _apply_map_to_tensors: every live tensor whose graph contains a from[i] gets its UOp substituted. */
tg_status tgt_apply_map(tg_uop *const *from, tg_uop *const *to, size_t n);
/* engine/realize.c: frees the device memory of BUFFERs nobody holds any more (run when a tensor dies). */
void tg_realize_sweep(void);
/* engine/realize.c: whether a BUFFER UOp has device memory (tinygrad's Buffer.is_allocated). Thread-safe. */
int tg_realize_is_allocated(tg_uop *buffer);
/* Points t at u (retained). */
tg_status tgt_tensor_set_uop(tg_tensor *t, tg_uop *u);
/* UOp.has_buffer_identity: a RESHAPE/UNSHARD/MSELECT chain down to a BUFFER or PARAM (through AFTER when after_ok). */
int tgt_has_buffer_identity(const tg_uop *u, int after_ok);
/* A new public tensor for r (the wrappers' finish): ends the scope. */
tg_status tgt_finish_public(tgt_scope *S, tg_tv r, tg_tensor **out);
/* The same for n results: all n handles written to outs, or none (and every one released). Ends the scope. */
tg_status tgt_finish_many(tgt_scope *S, const tg_tv *r, size_t n, tg_tensor **outs);
/* Argument checks of the public wrappers: a tg_dtype (TG_DTYPE_NONE allowed when optional); n entries of `per`
** int64 values each (pairs for pad/shrink): non-NULL when n > 0, at most TGT_MAXD entries, no INT64_MIN. */
tg_status tgt_check_dtype(int dt, int optional, const char *fn);
tg_status tgt_check_vals(const int64_t *v, size_t n, size_t per, const char *fn, const char *what);
/* A public "Python scalar" operand (see tgt_as_py); TG_ERR_INVALID_ARGUMENT naming fn and what otherwise. */
tg_status tgt_py_operand(tg_tensor *t, const char *fn, const char *what, tgt_py *out);

/* ---------------- creation (creation.c: mixin/creation.py, tensor.py, UOp.const/new_buffer/_frompy) ---------------- */

tg_tv tgt_const(tgt_scope *S, tgt_py v, int dtype);   /* UOp.const(v, dtype); TG_DT_AUTO = dtypes.from_py(v) */
tg_tv tgt_const_like(tgt_scope *S, tg_tv x, tgt_py v, int dtype); /* UOp.const_like; TG_DT_AUTO = x.dtype */
/* A public "Python scalar" operand: 1 and *out when x is a bare CONST of dtype weakint/weakfloat/bool. */
int tgt_as_py(tg_tv x, tgt_py *out);
tg_tv tgt_new_buffer(tgt_scope *S, const char *device, int64_t size, int dtype); /* UOp.new_buffer */
tg_tv tgt_empty(tgt_scope *S, const int64_t *shape, size_t n, int dtype, const char *device); /* device interned */
tg_tv tgt_full(tgt_scope *S, const int64_t *shape, size_t n, tg_tv fill, int dtype, const char *device, int buffer);
tg_tv tgt_full_py(tgt_scope *S, const int64_t *shape, size_t n, tgt_py fill, int dtype); /* buffer=False */
tg_tv tgt_copy_to_device(tgt_scope *S, tg_tv x, const char *device);
tg_tv tgt_arange(tgt_scope *S, tgt_py start, const tgt_py *stop, tgt_py step, int dtype);
tg_tv tgt_linspace(tgt_scope *S, tgt_py start, tgt_py stop, int64_t steps, int dtype); /* dtype TG_DT_AUTO: default float */
/* UOp.empty_like: x's shape on device (NULL: x's, else the default), dtype TG_DT_AUTO: x's dtype made strong. */
tg_tv tgt_empty_like(tgt_scope *S, tg_tv x, int dtype, const char *device);
/* Python's str() of a scalar (repr for floats) appended to b. */
void tgt_py_str(tg_sb *b, tgt_py v);
/* Python's a - b, a * b (int or float); 0 on int64 overflow. */
int tgt_py_sub(tgt_py a, tgt_py b, tgt_py *out);
static inline long double tgt_py_ld(tgt_py v) { return v.kind == TG_ARG_FLOAT ? (long double)v.f : (long double)v.i; }

/* ---------------- dtype + elementwise (elementwise.c: mixin/dtype.py, mixin/elementwise.py) ---------------- */

tg_tv tgt_cast(tgt_scope *S, tg_tv x, int dtype);
tg_tv tgt_bitcast(tgt_scope *S, tg_tv x, int dtype);
tg_tv tgt_alu(tgt_scope *S, tg_op op, const tg_tv *src, size_t n); /* Tensor.alu: UOp(op, src) */
tg_tv tgt_contiguous(tgt_scope *S, tg_tv x);
/* ElementwiseMixin._broadcasted: the promoted pair (reverse swaps the operands first). 0 on success. */
int tgt_broadcasted(tgt_scope *S, tg_tv x, tg_tv y, int reverse, tg_tv *ox, tg_tv *oy);
tg_tv tgt_binop(tgt_scope *S, tg_op op, tg_tv x, tg_tv y, int reverse); /* _binop */
tg_tv tgt_add(tgt_scope *S, tg_tv x, tg_tv y);
tg_tv tgt_sub(tgt_scope *S, tg_tv x, tg_tv y);
tg_tv tgt_mul(tgt_scope *S, tg_tv x, tg_tv y);
tg_tv tgt_neg(tgt_scope *S, tg_tv x);
tg_tv tgt_logical_not(tgt_scope *S, tg_tv x);
tg_tv tgt_bitwise_not(tgt_scope *S, tg_tv x);
tg_tv tgt_where(tgt_scope *S, tg_tv cond, tg_tv x, tg_tv y);
/* rounding: 0 none, 't' trunc, 'f' floor. */
tg_tv tgt_div(tgt_scope *S, tg_tv x, tg_tv y, int reverse, int rounding);
tg_tv tgt_unary_alu(tgt_scope *S, tg_op op, tg_tv x); /* RECIPROCAL, SQRT, EXP2, LOG2, SIN, TRUNC */
/* Python-scalar shorthands: x OP v (reverse: v OP x). */
tg_tv tgt_binop_py(tgt_scope *S, tg_op op, tg_tv x, tgt_py v, int reverse);
tg_tv tgt_add_py(tgt_scope *S, tg_tv x, tgt_py v, int reverse);
tg_tv tgt_mul_py(tgt_scope *S, tg_tv x, tgt_py v, int reverse);

/* The public op families (values of tg_unary_op / tg_binary_op in tg.h). */
tg_tv tgt_unary(tgt_scope *S, int op, tg_tv x);
tg_tv tgt_binary(tgt_scope *S, int op, tg_tv x, tg_tv y);

/* ---------------- movement (movement.c: mixin/movement.py, UOp._mop, OpMixin.pad) ---------------- */

int tgt_resolve_dim(tgt_scope *S, int64_t dim, uint32_t ndim, int extra, int64_t *out);
tg_tv tgt_shape_arg(tgt_scope *S, const int64_t *v, size_t n); /* shape_to_shape_arg */
tg_tv tgt_mop_shape(tgt_scope *S, tg_tv x, tg_op op, const int64_t *arg, size_t n); /* RESHAPE / EXPAND */
tg_tv tgt_reshape(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n);         /* -1 inferred */
tg_tv tgt_permute(tgt_scope *S, tg_tv x, const int64_t *order, size_t n);
tg_tv tgt_transpose(tgt_scope *S, tg_tv x, int64_t dim0, int64_t dim1);
tg_tv tgt_broadcast_to(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n);
tg_tv tgt_expand(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n);          /* -1 keeps a dim */
/* MovementMixin.pad: pads[i] = {before, after}. */
tg_tv tgt_pad_mm(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n);
/* OpMixin._pad_constant: negative pads shrink; value NULL or == 0 pads with 0, else where(mask, padded, value). */
tg_tv tgt_pad_constant(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n, const tgt_py *value);
tg_tv tgt_shrink(tgt_scope *S, tg_tv x, const int64_t (*bounds)[2], size_t n);      /* {start, end} */
tg_tv tgt_shrink_to(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n);
tg_tv tgt_pad_to(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n);
tg_tv tgt_flip(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n);
tg_tv tgt_repeat(tgt_scope *S, tg_tv x, const int64_t *repeats, size_t n);
/* OpMixin.pad_to(shape, value): value NULL or 0 pads with 0. */
tg_tv tgt_pad_to_value(tgt_scope *S, tg_tv x, const int64_t *shape, size_t n, const tgt_py *value);
/* OpMixin._pad_circular and _pad_reflect_replicate (reflect != 0: "reflect", else "replicate"). */
tg_tv tgt_pad_circular(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n);
tg_tv tgt_pad_reflect_replicate(tgt_scope *S, tg_tv x, const int64_t (*pads)[2], size_t n, int reflect);
tg_tv tgt_flatten(tgt_scope *S, tg_tv x, int64_t start_dim, int64_t end_dim);
tg_tv tgt_unflatten(tgt_scope *S, tg_tv x, int64_t dim, const int64_t *sizes, size_t n);
/* MovementMixin.split: the pieces' sizes along dim (a malloc'd array of *n, freed by the caller); sizes NULL: chunks of
** `size`. Fails the scope as tinygrad's assert when they do not sum to the dim. */
int64_t *tgt_split_sizes(tgt_scope *S, tg_tv x, int64_t size, const int64_t *sizes, size_t nsizes, int64_t *dim, size_t *n);
tg_tv tgt_diag(tgt_scope *S, tg_tv x);
tg_tv tgt_diagonal(tgt_scope *S, tg_tv x, int64_t offset, int64_t dim1, int64_t dim2);
tg_tv tgt_roll(tgt_scope *S, tg_tv x, const int64_t *shifts, size_t ns, const int64_t *dims, size_t nd); /* dims NULL: flat */
tg_tv tgt_repeat_interleave(tgt_scope *S, tg_tv x, int64_t repeats, const int64_t *dim);                 /* dim NULL: flat */
/* meshgrid of n tensors into out[n] (xy: indexing="xy"). 0 on success. */
int tgt_meshgrid(tgt_scope *S, const tg_tv *ts, size_t n, int xy, tg_tv *out);
tg_tv tgt_unfold(tgt_scope *S, tg_tv x, int64_t dim, int64_t size, int64_t step);
/* MovementMixin.rearrange(formula, **sizes): names[i] = sizes[i]. */
tg_tv tgt_rearrange(tgt_scope *S, tg_tv x, const char *formula, const char *const *names, const int64_t *sizes, size_t n);
tg_tv tgt_pool(tgt_scope *S, tg_tv x, const int64_t *k, size_t nk, int64_t stride, int64_t dilation);
/* _pool with per-dim stride and dilation (nk values each; make_tuple's result). */
tg_tv tgt_pool_sd(tgt_scope *S, tg_tv x, const int64_t *k, size_t nk, const int64_t *stride, const int64_t *dilation);

/* ---------------- reduce + processing (reduce.c: mixin/reduce.py, UOp._rop, OpMixin.dot/mean/min/_cumalu) ------- */

/* axes NULL: all of them; keepdim keeps reduced dims as 1. acc_dtype -1: tinygrad's default. */
tg_tv tgt_sum(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim, int acc_dtype);
tg_tv tgt_reduce(tgt_scope *S, int op, tg_tv x, const int64_t *axes, size_t n, int keepdim, int acc_dtype);
tg_tv tgt_dot(tgt_scope *S, tg_tv x, tg_tv w, int acc_dtype);
tg_tv tgt_cumalu(tgt_scope *S, tg_tv x, int64_t axis, tg_op op);
tg_tv tgt_rop(tgt_scope *S, tg_tv x, tg_op op, const int64_t *axes, size_t n); /* UOp._rop (axes sorted, size-1 dropped) */
tg_tv tgt_sub_rev(tgt_scope *S, tg_tv x, tg_tv y, int reverse);               /* ElementwiseMixin.sub */

/* ---------------- convolutions and pools (conv.c: mixin/op.py conv2d, conv_transpose2d, avg_pool2d, max_pool2d) -------
** params NULL: the defaults of tg_conv_params_init. bias.u NULL: no bias. indices NULL: max_pool2d without
** return_indices, else it receives the argmax. */

tg_tv tgt_conv2d(tgt_scope *S, tg_tv x, tg_tv w, tg_tv bias, const tg_conv_params *params);
tg_tv tgt_conv_transpose2d(tgt_scope *S, tg_tv x, tg_tv w, tg_tv bias, const tg_conv_params *params);
tg_tv tgt_avg_pool2d(tgt_scope *S, tg_tv x, const int64_t *k, size_t n, const tg_conv_params *params);
tg_tv tgt_max_pool2d(tgt_scope *S, tg_tv x, const int64_t *k, size_t n, const tg_conv_params *params, tg_tv *indices);

/* ---------------- stack, cat (combine.c) ---------------- */

tg_tv tgt_stack(tgt_scope *S, const tg_tv *ts, size_t n, int64_t dim);
tg_tv tgt_cat(tgt_scope *S, const tg_tv *ts, size_t n, int64_t dim);

/* ---------------- indexing (indexing.c: OpMixin._getitem, gather, scatter, one_hot) ---------------- */

/* One index of _getitem: a tg_index whose tensor (TG_INDEX_TENSOR) is a value of the scope. */
typedef struct tgt_index {
  tg_index_kind kind;
  uint32_t has;
  int64_t start, stop, step;
  tg_tv t;
} tgt_index;
/* OpMixin._getitem(indices, v): x[idx] (v TGT_NONE), or x's whole new value after x[idx] = v (where(mask, vb, x)). */
tg_tv tgt_getitem(tgt_scope *S, tg_tv x, const tgt_index *idx, size_t n, tg_tv v);
tg_tv tgt_unsqueeze(tgt_scope *S, tg_tv x, int64_t dim);
tg_tv tgt_squeeze(tgt_scope *S, tg_tv x, int64_t dim);
tg_tv tgt_split_at(tgt_scope *S, tg_tv x, int64_t dim, int64_t start, int64_t len); /* one chunk of x.split(len, dim) */
tg_tv tgt_one_hot_along_dim(tgt_scope *S, tg_tv x, int64_t num_classes, int64_t dim);
tg_tv tgt_one_hot(tgt_scope *S, tg_tv x, int64_t num_classes);
tg_tv tgt_gather(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index);
tg_tv tgt_scatter(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index, tg_tv src, int reduce); /* TG_SCATTER_NONE/SUM/PROD */
tg_tv tgt_scatter_reduce(tgt_scope *S, tg_tv x, int64_t dim, tg_tv index, tg_tv src, int op, int include_self);
tg_tv tgt_masked_merge(tgt_scope *S, tg_tv self, tg_tv values, tg_tv mask, const int64_t *axes, size_t na);
tg_tv tgt_masked_fill(tgt_scope *S, tg_tv x, tg_tv mask, tg_tv value);
tgt_py tgt_dtype_bound(int dtype, int is_max); /* DType.min / DType.max as a Python value */

/* ---------------- cumulative, triangles, sort (sort.c: mixin/op.py) ---------------- */

tg_tv tgt_split_cumalu(tgt_scope *S, tg_tv x, int64_t axis, tg_op op); /* cumsum (ADD), cumprod (MUL), cummax values (MAX) */
tg_tv tgt_cummax(tgt_scope *S, tg_tv x, int64_t axis, tg_tv *idx);
tg_tv tgt_triu(tgt_scope *S, tg_tv x, int64_t diagonal, int lower); /* lower: tril */
tg_tv tgt_eye(tgt_scope *S, int64_t n, int64_t m, int dtype);      /* dtype TG_DT_AUTO: default float */
tg_tv tgt_sort(tgt_scope *S, tg_tv x, int64_t dim, int descending, tg_tv *idx);
tg_tv tgt_topk(tgt_scope *S, tg_tv x, int64_t k, int64_t dim, int largest, tg_tv *idx);

/* ---------------- nn compositions (nn.c: mixin/op.py) ---------------- */

tg_tv tgt_softmax(tgt_scope *S, tg_tv x, int64_t axis, int dtype, int log);              /* softmax / log_softmax */
tg_tv tgt_logsumexp(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim); /* axes NULL: all */
tg_tv tgt_argmax(tgt_scope *S, tg_tv x, const int64_t *axis, int keepdim, int is_min);  /* axis NULL: flattened */
tg_tv tgt_var(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, int keepdim, double correction, int std);
tg_tv tgt_layernorm(tgt_scope *S, tg_tv x, const int64_t *axes, size_t n, double eps);
tg_tv tgt_sparse_ce(tgt_scope *S, tg_tv x, tg_tv Y, int64_t ignore_index, double label_smoothing, int reduction);
tg_tv tgt_cross_entropy(tgt_scope *S, tg_tv x, tg_tv Y, int reduction, double label_smoothing);
tg_tv tgt_do_reduction(tgt_scope *S, tg_tv x, int reduction); /* _do_reduction: TG_REDUCTION_NONE/MEAN/SUM */
int tgt_check_reduction(tgt_scope *S, int reduction);           /* -1 (failing the scope) unless a tg_reduction */

/* ---------------- functional nn and processing (functional.c: mixin/op.py, mixin/elementwise.py, mixin/rand.py) ----------------
** Optional operands (weight, bias, pos_weight, attn_mask, clamp's bounds) are TGT_NONE when absent. */

tg_tv tgt_normalize(tgt_scope *S, tg_tv x, tgt_py p, int64_t dim, double eps);
tg_tv tgt_isclose(tgt_scope *S, tg_tv x, tg_tv other, double rtol, double atol, int equal_nan);
tg_tv tgt_lerp(tgt_scope *S, tg_tv x, tg_tv end, tg_tv weight); /* weight: a tensor or a Python scalar */
tg_tv tgt_clamp(tgt_scope *S, tg_tv x, tg_tv lo, tg_tv hi);
tg_tv tgt_isinf(tgt_scope *S, tg_tv x, int detect_positive, int detect_negative);
tg_tv tgt_linear(tgt_scope *S, tg_tv x, tg_tv w, tg_tv b, int dtype); /* dtype TG_DTYPE_NONE: no casts */
tg_tv tgt_batchnorm(tgt_scope *S, tg_tv x, tg_tv w, tg_tv b, tg_tv mean, tg_tv invstd, const int64_t *axes, size_t n);
tg_tv tgt_dropout(tgt_scope *S, tg_tv x, double p, int training);
tg_tv tgt_sdpa(tgt_scope *S, tg_tv q, tg_tv k, tg_tv v, tg_tv mask, double dropout_p, int is_causal, int enable_gqa, int training);
tg_tv tgt_interpolate(tgt_scope *S, tg_tv x, const int64_t *size, size_t n, int mode, int align_corners);
tg_tv tgt_max_unpool2d(tgt_scope *S, tg_tv x, tg_tv indices, const int64_t *k, size_t nk, const tg_conv_params *p,
                       const int64_t *out_size, size_t nout); /* out_size NULL: derived from k and p */
tg_tv tgt_embedding(tgt_scope *S, tg_tv weight, tg_tv idx);
tg_tv tgt_bce(tgt_scope *S, tg_tv x, tg_tv Y, int reduction);
tg_tv tgt_bce_logits(tgt_scope *S, tg_tv x, tg_tv Y, int reduction, tg_tv pos_weight);
tg_tv tgt_nll_loss(tgt_scope *S, tg_tv x, tg_tv Y, tg_tv weight, const int64_t *ignore_index, int reduction);
tg_tv tgt_logcumsumexp(tgt_scope *S, tg_tv x, int64_t axis);
/* size NULL: as many as selected (realizes the count, as tinygrad's .item() does) */
tg_tv tgt_masked_select(tgt_scope *S, tg_tv x, tg_tv mask, const int64_t *size, tgt_py fill);
tg_tv tgt_nonzero(tgt_scope *S, tg_tv x, const int64_t *size, tgt_py fill);
tg_tv tgt_einsum(tgt_scope *S, const char *formula, const tg_tv *ops, size_t n, int dtype);

/* linalg.c: mixin/op.py's matrix ops. qr/svd return 0, or -1 with the scope failed. */
int tgt_qr(tgt_scope *S, tg_tv x, tg_tv *Q, tg_tv *R);
int tgt_svd(tgt_scope *S, tg_tv x, int full_matrices, tg_tv *U, tg_tv *Sv, tg_tv *Vt);
tg_tv tgt_newton_schulz(tgt_scope *S, tg_tv x, int64_t steps, const double *params, size_t n, double eps);

/* activation.c: tinygrad's elementwise compositions; p: the op's parameters (see tg_activation in tg.h) */
tg_tv tgt_activation(tgt_scope *S, int op, tg_tv x, const double *p);
tg_tv tgt_logaddexp(tgt_scope *S, tg_tv x, tg_tv y);
tg_tv tgt_copysign(tgt_scope *S, tg_tv x, tg_tv y);

/* ---------------- autograd (gradient.c: mixin/gradient.py) ---------------- */

/* compute_gradient: grads[i] = d root / d targets[i] given root's gradient root_grad; .u NULL where no path leads.
** Returns S->st (TG_ERR_UNSUPPORTED naming the op when one has no gradient rule). */
tg_status tgt_compute_gradient(tgt_scope *S, tg_tv root, tg_tv root_grad, const tg_tv *targets, size_t nt, tg_tv *grads);
#endif
