/* tensor/creation.c -- tinygrad 0.14.0's ways to make a tensor: UOp.const/const_like, UOp.new_buffer, Tensor.empty/full
** (mixin/creation.py), copy_to_device, and Tensor.arange (mixin/op.py). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"

/* ---------------- constants ---------------- */

/* UOp.const(b, dtype): CONST of dtype with arg dtype.const(b); dtype None is dtypes.from_py(b). */
tg_tv tgt_const(tgt_scope *S, tgt_py v, int dtype) {
  if (S->st) return TGT_NONE;
  if (dtype == TG_DT_AUTO) dtype = v.kind == TG_ARG_BOOL ? TG_BOOL : v.kind == TG_ARG_FLOAT ? TG_WEAKFLOAT : TG_WEAKINT;
  tg_uop *u = v.kind == TG_ARG_FLOAT ? tg_uop_const_float(dtype, v.f) : tg_uop_const_int(dtype, v.i);
  return (tg_tv){tgt_hold(S, u, TG_ERR_INVALID_ARGUMENT), NULL};
}

/* UOp.const_like: the constant, expanded to x's shape when x has dims. */
tg_tv tgt_const_like(tgt_scope *S, tg_tv x, tgt_py v, int dtype) {
  tgt_shape sh;
  if (tgt_shape_of(S, x, &sh)) return TGT_NONE;
  tg_tv c = tgt_const(S, v, dtype == TG_DT_AUTO ? x.u->dtype : dtype);
  return sh.n ? tgt_mop_shape(S, c, TG_OP_EXPAND, sh.d, sh.n) : c;
}

int tgt_as_py(tg_tv x, tgt_py *out) {
  if (!x.u || x.u->op != TG_OP_CONST) return 0;
  if (x.u->dtype != TG_WEAKINT && x.u->dtype != TG_WEAKFLOAT && x.u->dtype != TG_BOOL) return 0;
  switch (x.u->arg.kind) {
  case TG_ARG_BOOL: *out = tgt_pybool((int)x.u->arg.i); return 1;
  case TG_ARG_INT: *out = tgt_pyint(x.u->arg.i); return 1;
  case TG_ARG_FLOAT: *out = tgt_pyfloat(x.u->arg.f); return 1;
  }
  return 0;
}

/* ---------------- buffers ---------------- */

static int64_t unique_num; /* UOp.unique_num: every new BUFFER takes the next slot */

static tg_tv weak_storage(tgt_scope *S, int dtype) {
  return tgt_fail(S, TG_ERR_DTYPE, "cannot create storage for weak dtype dtypes.%s", tg_dtype_repr_name(dtype));
}

tg_tv tgt_new_buffer(tgt_scope *S, const char *device, int64_t size, int dtype) {
  if (S->st) return TGT_NONE;
  if (tg_dt_is_weak((tg_dtype)dtype)) return weak_storage(S, dtype);
  tg_tv n = tgt_shape_arg(S, &size, 1);
  /* ParamArg(slot, dtype, vmin_vmax=None, multiple_of=None, name=None, addrspace=GLOBAL, axis=None, device, volatile) */
  tg_arg addr = {0};
  addr.kind = TG_ARG_ENUM, addr.i = 1, addr.s = "AddrSpace.GLOBAL";
  tg_arg items[TG_PARAMARG_COUNT] = {
      [0] = tg_arg_str("ParamArg"),
      [TG_PARAMARG_SLOT] = tg_arg_int(__atomic_fetch_add(&unique_num, 1, __ATOMIC_RELAXED)),
      [TG_PARAMARG_DTYPE] = tg_arg_dtype(dtype),
      [TG_PARAMARG_ADDRSPACE] = addr,
      [TG_PARAMARG_DEVICE] = tg_arg_str(device),
      [TG_PARAMARG_VOLATILE] = tg_arg_bool(0),
  };
  return tgt_mk(S, TG_OP_BUFFER, dtype, &n, 1, tg_arg_tuple(items, TG_PARAMARG_COUNT), device);
}

/* CreationMixin.empty / UOp.empty: new_buffer(prod(shape)).reshape(shape).shrink_to(shape). */
tg_tv tgt_empty(tgt_scope *S, const int64_t *shape, size_t n, int dtype, const char *device) {
  if (S->st) return TGT_NONE;
  int64_t numel = 1;
  for (size_t i = 0; i < n; i++) {
    if (shape[i] < 0) {
      char b[512];
      return tgt_fail(S, TG_ERR_SHAPE, "shape can't contain negative numbers %s", tgt_tuple_str(shape, n, b, sizeof b));
    }
    if (__builtin_mul_overflow(numel, shape[i], &numel)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "empty: shape too large");
  }
  tg_tv b = tgt_new_buffer(S, device, numel, dtype);
  return tgt_shrink_to(S, tgt_reshape(S, b, shape, n), shape, n);
}

/* UOp.copy_to_device: COPY(x.pad_to(max_shape)).shrink_to(shape); both are no-ops on concrete shapes. */
tg_tv tgt_copy_to_device(tgt_scope *S, tg_tv x, const char *device) {
  if (!x.u) return TGT_NONE;
  if (x.dev == device) return x; /* Tensor.__init__ copies only when the device differs */
  if (tg_dt_is_weak((tg_dtype)x.u->dtype)) return weak_storage(S, x.u->dtype);
  return tgt_mk(S, TG_OP_COPY, TG_DT_AUTO, &x, 1, tg_arg_str(device), device);
}

/* ---------------- full ---------------- */

static tg_tv broadcast_value(tgt_scope *S, tg_tv val, const int64_t *shape, size_t n) {
  int64_t ones[TGT_MAXD];
  for (size_t i = 0; i < n; i++) ones[i] = 1;
  return tgt_expand(S, tgt_reshape(S, val, ones, n), shape, n);
}

tg_tv tgt_full_py(tgt_scope *S, const int64_t *shape, size_t n, tgt_py fill, int dtype) {
  return broadcast_value(S, tgt_const(S, fill, dtype), shape, n);
}

/* CreationMixin.full: const(fill, dtype).reshape(1s).expand(shape), stored into a new buffer when `buffer`. A Python
** scalar fill goes through UOp.const(value, dtype); another tensor fill is cast (UOp.const of a UOp). */
tg_tv tgt_full(tgt_scope *S, const int64_t *shape, size_t n, tg_tv fill, int dtype, const char *device, int buffer) {
  if (!fill.u) return TGT_NONE;
  int dt = dtype == TG_DT_AUTO ? fill.u->dtype : dtype;
  tgt_py v;
  tg_tv val = tgt_as_py(fill, &v) ? tgt_const(S, v, dt) : tgt_cast(S, fill, dt);
  val = broadcast_value(S, val, shape, n);
  if (!buffer || !val.u) return val;
  /* UOp.empty_like: on the given device, else the value's, else the default; strong dtype unless one was given */
  const char *dev = device ? device : val.dev ? val.dev : tgt_dev_canonical(NULL);
  int edt = dtype == TG_DT_AUTO ? (int)tg_dt_strong((tg_dtype)val.u->dtype) : dtype;
  tgt_shape sh;
  if (tgt_shape_of(S, val, &sh)) return TGT_NONE;
  tg_tv ret = tgt_empty(S, sh.d, sh.n, edt, dev);
  tg_tv st_src[2] = {ret, val};
  tg_tv store = tgt_mk(S, TG_OP_STORE, TG_DT_AUTO, st_src, 2, tg_arg_none(), NULL);
  tg_tv af_src[2] = {ret, store};
  return tgt_mk(S, TG_OP_AFTER, TG_DT_AUTO, af_src, 2, tg_arg_none(), NULL);
}

/* UOp.empty_like: a new buffer of x's shape; device NULL: x's (the default device for a device-less x). */
tg_tv tgt_empty_like(tgt_scope *S, tg_tv x, int dtype, const char *device) {
  tgt_shape sh;
  if (tgt_shape_of(S, x, &sh)) return TGT_NONE;
  const char *dev = device ? device : x.dev ? x.dev : tgt_dev_canonical(NULL);
  if (!dev) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "empty_like: out of memory");
  return tgt_empty(S, sh.d, sh.n, dtype == TG_DT_AUTO ? (int)tg_dt_strong((tg_dtype)x.u->dtype) : dtype, dev);
}

/* ---------------- arange: Python number arithmetic first ---------------- */

static int py_is_float(tgt_py v) { return v.kind == TG_ARG_FLOAT; }
static long double py_ld(tgt_py v) { return py_is_float(v) ? (long double)v.f : (long double)v.i; }

/* a - b with Python's int/float rules; 0 on int64 overflow. */
int tgt_py_sub(tgt_py a, tgt_py b, tgt_py *out) {
  if (py_is_float(a) || py_is_float(b)) return *out = tgt_pyfloat((double)(py_ld(a) - py_ld(b))), 1;
  int64_t r;
  if (__builtin_sub_overflow(a.i, b.i, &r)) return 0;
  return *out = tgt_pyint(r), 1;
}

/* Python's float floor division (floatobject.c's float_floor_div). */
static double py_float_floordiv(double vx, double wx) {
  double mod = fmod(vx, wx), div = (vx - mod) / wx, floordiv;
  if (mod) {
    if ((wx < 0) != (mod < 0)) mod += wx, div -= 1.0;
  }
  if (div) {
    floordiv = floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else floordiv = copysign(0.0, vx / wx);
  return floordiv;
}

void tgt_py_str(tg_sb *b, tgt_py v) {
  if (py_is_float(v)) tg_float_repr(v.f, b);
  else if (v.kind == TG_ARG_BOOL) tg_sb_puts(b, v.i ? "True" : "False");
  else tg_sb_printf(b, "%lld", (long long)v.i);
}

/* DType.min / DType.max, exact for 64-bit ints (a long double holds them). */
static long double dt_min(int dt) {
  if (tg_dt_is_unsigned((tg_dtype)dt) || dt == TG_BOOL) return 0;
  if (!tg_dt_is_int((tg_dtype)dt) || dt == TG_WEAKINT) return (long double)tg_dt_min((tg_dtype)dt);
  return -ldexpl(1, tg_dt_bitsize((tg_dtype)dt) - 1);
}
static long double dt_max(int dt) {
  if (dt == TG_BOOL) return 1;
  if (!tg_dt_is_int((tg_dtype)dt) || dt == TG_WEAKINT) return (long double)tg_dt_max((tg_dtype)dt);
  int bits = tg_dt_bitsize((tg_dtype)dt);
  return tg_dt_is_unsigned((tg_dtype)dt) ? ldexpl(1, bits) - 1 : ldexpl(1, bits - 1) - 1;
}

/* OpMixin.arange: the cumulative sum of `step`s (full + _cumalu), shifted by start - step, cast to dtype. */
tg_tv tgt_arange(tgt_scope *S, tgt_py start, const tgt_py *stop_p, tgt_py step, int dtype) {
  tgt_py stop = stop_p ? *stop_p : start;
  if (!stop_p) start = tgt_pyint(0);
  int is_f = py_is_float(start) || py_is_float(stop) || py_is_float(step);
  long double ls = py_ld(step), lo, hi;
  tgt_py t;
  if (!tgt_py_sub(stop, step, &t)) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "arange: integer overflow");
  if (ls > 0) lo = py_ld(start), hi = py_ld(t);
  else lo = py_ld(t), hi = py_ld(start);
  if (dtype == TG_DT_AUTO) {
    if ((dtype = tgt_default_dtype(S, is_f)) < 0) return TGT_NONE;
    if (!is_f && (lo < dt_min(dtype) || dt_max(dtype) < hi)) dtype = TG_INT64; /* a range too large for default_int */
  }
  if (lo < dt_min(dtype) || dt_max(dtype) < hi) {
    char b[256];
    tg_sb sb = tg_sb_fixed(b, sizeof b);
    tg_sb_puts(&sb, "arange ["), tgt_py_str(&sb, start), tg_sb_puts(&sb, ", "), tgt_py_str(&sb, stop);
    return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "%s) is not representable in dtype dtypes.%s", b, tg_dtype_repr_name(dtype));
  }
  /* output_len = ceildiv(stop - start, step) = -((stop - start) // -step) */
  tgt_py span;
  if (!tgt_py_sub(stop, start, &span)) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "arange: integer overflow");
  int64_t len;
  if (!is_f) {
    if (step.i == 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
    if (step.i == INT64_MIN) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "arange: integer overflow");
    len = -tgt_floordiv(span.i, -step.i);
  } else {
    double num = (double)py_ld(span), amt = (double)ls;
    if (amt == 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "float floor division by zero");
    double r = -py_float_floordiv(num, -amt);
    if (isnan(r)) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "cannot convert float NaN to integer");
    if (isinf(r) || fabs(r) >= 9.2e18) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "cannot convert float infinity to integer");
    len = (int64_t)r;
  }
  if (len <= 0) return tgt_full_py(S, (int64_t[]){0}, 1, tgt_pyint(0), dtype);
  tg_tv steps = tgt_full_py(S, &len, 1, step, dtype);
  tgt_py shift;
  if (!tgt_py_sub(start, step, &shift)) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "arange: integer overflow");
  return tgt_cast(S, tgt_add_py(S, tgt_cumalu(S, steps, 0, TG_OP_ADD), shift, 0), dtype);
}

/* OpMixin.linspace: start + arange(steps) * ((stop - start) / (steps - 1)), in the default float, cast to dtype. */
tg_tv tgt_linspace(tgt_scope *S, tgt_py start, tgt_py stop, int64_t steps, int dtype) {
  if (S->st) return TGT_NONE;
  if (steps < 0) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "number of steps must be non-negative");
  int dft = tgt_default_dtype(S, 1);
  if (dft < 0) return TGT_NONE;
  if (dtype == TG_DT_AUTO) dtype = dft;
  if (dtype == TG_BOOL) return tgt_fail(S, TG_ERR_INVALID_ARGUMENT, "linspace with bool dtype is not supported");
  if (steps == 1) return tgt_full_py(S, (int64_t[]){1}, 1, start, dtype);
  /* Python's (stop - start) / (steps - 1): exact int subtraction, or float subtraction of the values as floats */
  double span;
  if (py_is_float(start) || py_is_float(stop)) span = (py_is_float(stop) ? stop.f : (double)stop.i) - (py_is_float(start) ? start.f : (double)start.i);
  else {
    int64_t d;
    if (__builtin_sub_overflow(stop.i, start.i, &d)) return tgt_fail(S, TG_ERR_OUT_OF_RANGE, "linspace: integer overflow");
    span = (double)d;
  }
  double step = span / (double)(steps - 1);
  tg_tv ar = tgt_arange(S, tgt_pyint(steps), NULL, tgt_pyint(1), dft);
  return tgt_cast(S, tgt_add_py(S, tgt_mul_py(S, ar, tgt_pyfloat(step), 0), start, 1), dtype);
}

/* ---------------- public: linspace, empty_like, full_like ---------------- */

TG_API tg_status tg_tensor_linspace(tg_tensor *start, tg_tensor *stop, int64_t steps, int dtype, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_linspace: out is NULL");
  tg_status st = tgt_check_dtype(dtype, 1, "tg_tensor_linspace");
  tgt_py a, b;
  if (st || (st = tgt_py_operand(start, "tg_tensor_linspace", "start", &a)) || (st = tgt_py_operand(stop, "tg_tensor_linspace", "stop", &b))) return st;
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_linspace(&S, a, b, steps, dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype), out);
}

TG_API tg_status tg_tensor_empty_like(tg_tensor *x, int dtype, const char *device, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_empty_like: out is NULL");
  tg_tv a;
  tg_status st = tgt_check_dtype(dtype, 1, "tg_tensor_empty_like");
  if (st || (st = tgt_tensor_get(x, "x", &a))) return st;
  const char *dev = device ? tgt_dev_canonical(device) : NULL;
  if (device && !dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_tensor_empty_like: out of memory");
  tgt_scope S = {0};
  return tgt_finish_public(&S, tgt_empty_like(&S, a, dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype, dev), out);
}

TG_API tg_status tg_tensor_full_like(tg_tensor *x, tg_tensor *fill, int dtype, const char *device, int buffer, tg_tensor **out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_full_like: out is NULL");
  tg_tv a, f;
  tg_status st = tgt_check_dtype(dtype, 1, "tg_tensor_full_like");
  if (st || (st = tgt_tensor_get(x, "x", &a)) || (st = tgt_tensor_get(fill, "fill", &f))) return st;
  const char *dev = device ? tgt_dev_canonical(device) : a.dev;
  if (device && !dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_tensor_full_like: out of memory");
  tgt_scope S = {0};
  tgt_shape sh;
  if (tgt_shape_of(&S, a, &sh)) return tgt_scope_end(&S), S.st;
  /* Tensor.full(self.shape, fill, dtype=dtype or self.dtype, device=self.device if device is None else device, buffer) */
  return tgt_finish_public(&S, tgt_full(&S, sh.d, sh.n, f, dtype == TG_DTYPE_NONE ? (int)a.u->dtype : dtype, dev, buffer), out);
}
