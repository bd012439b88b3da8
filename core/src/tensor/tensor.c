/* tensor/tensor.c -- the public tg_tensor API (include/tg.h, "Tensor"): handles over tensor-level UOps, the builder
** scope and construction helpers the other files of tensor/ share, and the host-data table (tinygrad's `buffers`
** entries for Tensor(list)/Tensor(numpy), which tinygrad fills at creation: the "fake realize"). */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tensor.h"
#include "uop/rewrite.h"
#include "uop/serialize.h"

/* ---------------- scope and errors ---------------- */

tg_tv tgt_fail(tgt_scope *S, tg_status st, const char *fmt, ...) {
  if (S->st) return TGT_NONE; /* the first error wins */
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  S->st = tg_err(st, "%s", msg);
  return TGT_NONE;
}

tg_uop *tgt_hold(tgt_scope *S, tg_uop *u, tg_status st_if_null) {
  if (!u) {
    if (!S->st) S->st = st_if_null; /* the message is already set by whoever returned NULL */
    return NULL;
  }
  if (S->n == S->cap) {
    size_t ncap = S->cap ? S->cap * 2 : 32;
    tg_uop **nh = realloc(S->held, ncap * sizeof *nh);
    if (!nh) {
      tg_uop_release(u);
      tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "out of memory building a tensor graph");
      return NULL;
    }
    S->held = nh, S->cap = ncap;
  }
  return S->held[S->n++] = u;
}

void tgt_scope_end(tgt_scope *S) {
  for (size_t i = S->n; i-- > 0;) tg_uop_release(S->held[i]);
  free(S->held);
  S->held = NULL, S->n = S->cap = 0;
}

tg_tv tgt_mk(tgt_scope *S, tg_op op, int dtype, const tg_tv *src, size_t n, tg_arg arg, const char *dev) {
  tg_uop *stack_srcs[8], **srcs = n <= 8 ? stack_srcs : malloc(n * sizeof *srcs);
  if (!srcs) return tgt_fail(S, TG_ERR_OUT_OF_MEMORY, "out of memory building Ops.%s", tg_op_name(op));
  for (size_t i = 0; i < n; i++) {
    if (!src[i].u) {
      if (srcs != stack_srcs) free(srcs);
      return TGT_NONE; /* an operand already failed */
    }
    srcs[i] = src[i].u;
  }
  tg_tv r = TGT_NONE;
  if (dtype == TG_DT_AUTO && (dtype = tg_uop_infer_dtype(op, srcs, n, &arg)) == -2) {
    if (!S->st) S->st = TG_ERR_DTYPE; /* a dtype rule (where cond, shift operands): message set by the UOp layer */
  } else {
    if (dtype == -1) dtype = TG_DT_VOID;
    if ((r.u = tgt_hold(S, tg_uop_new(op, dtype, srcs, n, arg), TG_ERR_OUT_OF_MEMORY))) {
      /* UOp.device: BUFFER and COPY name theirs, AFTER is its target's, anything else the first source's */
      if (dev) r.dev = dev;
      else if (op == TG_OP_AFTER) r.dev = src[0].dev;
      else
        for (size_t i = 0; i < n && !r.dev; i++) r.dev = src[i].dev;
    }
  }
  if (srcs != stack_srcs) free(srcs);
  return r;
}

/* ---------------- devices ---------------- */

static pthread_mutex_t dev_mu = PTHREAD_MUTEX_INITIALIZER;
static char **dev_names;
static size_t dev_n, dev_cap;

const char *tgt_dev_intern(const char *s) {
  if (!s) return NULL;
  const char *r = NULL;
  pthread_mutex_lock(&dev_mu);
  for (size_t i = 0; i < dev_n && !r; i++)
    if (!strcmp(dev_names[i], s)) r = dev_names[i];
  if (!r && (dev_n < dev_cap || (dev_names = realloc(dev_names, (dev_cap = dev_cap ? dev_cap * 2 : 8) * sizeof *dev_names)))) {
    if ((dev_names[dev_n] = strdup(s))) r = dev_names[dev_n++];
  }
  pthread_mutex_unlock(&dev_mu);
  return r;
}

const char *tgt_dev_canonical(const char *device) {
  if (!device || !*device) device = getenv("DEV");
  if (!device || !*device) device = "CPU";
  char buf[256];
  size_t n = strlen(device);
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, device, n), buf[n] = 0;
  for (size_t i = 0; i < n && buf[i] != ':'; i++)
    if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 'a' + 'A');
  if (n >= 2 && !strcmp(buf + n - 2, ":0")) buf[n - 2] = 0;
  return tgt_dev_intern(buf);
}

/* ---------------- shapes and Python arithmetic ---------------- */

const char *tgt_tuple_str(const int64_t *v, size_t n, char *buf, size_t cap) {
  tg_sb b = tg_sb_fixed(buf, cap);
  tg_sb_puts(&b, "(");
  for (size_t i = 0; i < n; i++) tg_sb_printf(&b, i ? ", %lld" : "%lld", (long long)v[i]);
  tg_sb_puts(&b, n == 1 ? ",)" : ")");
  return buf;
}

int tgt_shape_of(tgt_scope *S, tg_tv x, tgt_shape *out) {
  if (!x.u) return -1;
  tg_status st;
  const tg_shape *s = tg_uop_shape(x.u, &st);
  if (st) return S->st ? -1 : (S->st = st, -1);
  if (!s) return tgt_fail(S, TG_ERR_SHAPE, "shape requested, but Ops.%s doesn't have a shape", tg_op_name((tg_op)x.u->op)), -1;
  if (s->ndim > TGT_MAXD) return tgt_fail(S, TG_ERR_UNSUPPORTED, "a tensor has at most %d dims, got %u", TGT_MAXD, s->ndim), -1;
  out->n = s->ndim;
  for (uint32_t i = 0; i < s->ndim; i++) {
    if (s->dims[i].u) return tgt_fail(S, TG_ERR_UNSUPPORTED, "symbolic shapes are not supported by the tensor frontend"), -1;
    out->d[i] = s->dims[i].v;
  }
  return 0;
}

int tgt_default_dtype(tgt_scope *S, int is_float) {
  tg_dtype dt = is_float ? tg_dt_default_float() : tg_dt_default_int();
  if (dt == TG_DT_NONE) return tgt_fail(S, TG_ERR_DTYPE, "%s", tg_dt_env_error()), -1;
  return (int)dt;
}

int64_t tgt_floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---------------- host data ---------------- */

typedef struct host_entry {
  tg_uop *buf; /* a reference held by the table */
  void *data;
  size_t nbytes;
} host_entry;

static pthread_mutex_t host_mu = PTHREAD_MUTEX_INITIALIZER;
static host_entry *host;
static size_t host_n, host_cap;

tg_status tgt_host_attach(tg_uop *buffer, const void *data, size_t nbytes) {
  void *copy = malloc(nbytes ? nbytes : 1);
  if (!copy) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory copying %zu bytes of host data", nbytes);
  if (nbytes) memcpy(copy, data, nbytes);
  pthread_mutex_lock(&host_mu);
  if (host_n == host_cap) {
    size_t ncap = host_cap ? host_cap * 2 : 16;
    host_entry *nh = realloc(host, ncap * sizeof *nh);
    if (!nh) {
      pthread_mutex_unlock(&host_mu);
      free(copy);
      return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory recording host data");
    }
    host = nh, host_cap = ncap;
  }
  host[host_n] = (host_entry){tg_uop_retain(buffer), copy, nbytes};
  __atomic_store_n(&host_n, host_n + 1, __ATOMIC_RELAXED); /* read without the lock by tgt_host_sweep's fast path */
  pthread_mutex_unlock(&host_mu);
  return TG_OK;
}

const void *tg_tensor_host_data(tg_uop *buffer, size_t *nbytes) {
  const void *r = NULL;
  size_t n = 0;
  pthread_mutex_lock(&host_mu);
  for (size_t i = 0; i < host_n && !r; i++)
    if (host[i].buf == buffer) r = host[i].data, n = host[i].nbytes;
  pthread_mutex_unlock(&host_mu);
  if (nbytes) *nbytes = n;
  return r;
}

/* An entry dies with the last reference to its BUFFER other than the table's own: a BUFFER with refcount 1 is
** reachable by nobody but this table (slots are never reused). Runs on every tensor death: O(live host buffers), nothing when there are none. */
void tgt_host_sweep(void) {
  if (!__atomic_load_n(&host_n, __ATOMIC_RELAXED)) return;
  for (size_t ndead = 1; ndead;) {
    tg_uop *dead[64];
    ndead = 0;
    pthread_mutex_lock(&host_mu);
    size_t keep = 0;
    for (size_t i = 0; i < host_n; i++) {
      if (ndead < 64 && tg_uop_refcount(host[i].buf) == 1) free(host[i].data), dead[ndead++] = host[i].buf;
      else host[keep++] = host[i];
    }
    __atomic_store_n(&host_n, keep, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&host_mu);
    for (size_t i = 0; i < ndead; i++) tg_uop_release(dead[i]); /* outside the lock: releasing takes the intern lock */
    if (ndead < 64) break;
  }
}

size_t tgt_host_count(void) {
  pthread_mutex_lock(&host_mu);
  size_t n = host_n;
  pthread_mutex_unlock(&host_mu);
  return n;
}

/* ---------------- tensor objects and handles ---------------- */

typedef struct tensor_obj {
  tg_uop *uop;
  const char *dev;
} tensor_obj;

tg_status tgt_tensor_get(const tg_tensor *t, const char *what, tg_tv *out) {
  void *obj;
  tg_status st = tg_handle_get(t, TG_H_TENSOR, what, &obj);
  if (st) return st;
  *out = (tg_tv){((tensor_obj *)obj)->uop, ((tensor_obj *)obj)->dev};
  return TG_OK;
}

/* Wraps r (retained) in a new handle after checking its shape (tinygrad raises shape errors when the shape is first
** asked for; we ask at once). The scope stays open. */
static tg_status wrap(tgt_scope *S, tg_tv r, tg_tensor **out) {
  tgt_shape sh;
  if (r.u) tgt_shape_of(S, r, &sh);
  tg_status st = S->st;
  if (!st && !r.u) st = tg_err(TG_ERR_INTERNAL, "tensor builder returned nothing without an error");
  tensor_obj *o = NULL;
  if (!st && !(o = malloc(sizeof *o))) st = tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory allocating a tensor");
  if (!st) {
    *o = (tensor_obj){tg_uop_retain(r.u), r.dev};
    void *h = tg_handle_new(TG_H_TENSOR, o);
    if (h) *out = h;
    else tg_uop_release(o->uop), free(o), st = tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory allocating a tensor handle");
  }
  return st;
}

/* Ends the scope; on success wraps r in a new handle. */
static tg_status finish(tgt_scope *S, tg_tv r, tg_tensor **out) {
  tg_status st = wrap(S, r, out);
  tgt_scope_end(S);
  return st;
}

/* finish for two results (values and indices): both handles or neither. */
static tg_status finish2(tgt_scope *S, tg_tv a, tg_tv b, tg_tensor **oa, tg_tensor **ob) {
  tg_status st = wrap(S, a, oa);
  if (!st && (st = wrap(S, b, ob))) tg_tensor_release(*oa), *oa = NULL;
  tgt_scope_end(S);
  return st;
}

tg_status tgt_finish_public(tgt_scope *S, tg_tv r, tg_tensor **out) { return finish(S, r, out); }

tg_status tgt_finish_many(tgt_scope *S, const tg_tv *r, size_t n, tg_tensor **outs) {
  tg_status st = S->st;
  size_t i = 0;
  for (; !st && i < n; i++) st = wrap(S, r[i], &outs[i]);
  if (st)
    for (size_t j = 0; j + 1 < i; j++) tg_tensor_release(outs[j]), outs[j] = NULL;
  tgt_scope_end(S);
  return st;
}

#define NEED_OUT(fn)                                                                                                   \
  do {                                                                                                                 \
    if (!out) return tg_err(TG_ERR_NULL_POINTER, fn ": out is NULL");                                                  \
  } while (0)
#define GET(t, name, var)                                                                                              \
  tg_tv var;                                                                                                           \
  do {                                                                                                                 \
    tg_status st_ = tgt_tensor_get((t), (name), &var);                                                                 \
    if (st_) return st_;                                                                                               \
  } while (0)

tg_status tgt_check_dtype(int dt, int optional, const char *fn) {
  if ((optional && dt == TG_DTYPE_NONE) || tg_dt_public((tg_dtype)dt)) return TG_OK;
  return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: invalid dtype %d", fn, dt);
}

/* n entries of `per` values each (pairs for pad/shrink). */
tg_status tgt_check_vals(const int64_t *v, size_t n, size_t per, const char *fn, const char *what) {
  if (n && !v) return tg_err(TG_ERR_NULL_POINTER, "%s: %s is NULL", fn, what);
  if (n > TGT_MAXD) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: %zu dims, at most %d", fn, n, TGT_MAXD);
  for (size_t i = 0; i < n * per; i++)
    if (v[i] == TGT_NONE_DIM) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: %s[%zu] is INT64_MIN", fn, what, i);
  return TG_OK;
}

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    tg_status st_ = (call);                                                                                            \
    if (st_) return st_;                                                                                               \
  } while (0)

TG_API tg_status tg_tensor_retain(tg_tensor *t) { return tg_handle_retain(t, TG_H_TENSOR, "tensor"); }

TG_API tg_status tg_tensor_release(tg_tensor *t) {
  if (!t) return TG_OK;
  void *dead;
  tg_status st = tg_handle_release(t, TG_H_TENSOR, "tensor", &dead);
  if (dead) {
    tg_uop_release(((tensor_obj *)dead)->uop);
    free(dead);
    tgt_host_sweep();
    tg_realize_sweep();
  }
  return st;
}

TG_API tg_status tg_tensor_shape(tg_tensor *t, int64_t *dims, size_t cap, size_t *ndim) {
  if (!ndim) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_shape: ndim is NULL");
  if (cap && !dims) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_shape: dims is NULL with cap %zu", cap);
  GET(t, "tensor", x);
  tgt_scope S = {0};
  tgt_shape sh;
  if (tgt_shape_of(&S, x, &sh)) return S.st;
  for (size_t i = 0; i < sh.n && i < cap; i++) dims[i] = sh.d[i];
  *ndim = sh.n;
  return TG_OK;
}

TG_API tg_status tg_tensor_dtype(tg_tensor *t, tg_dtype *out) {
  NEED_OUT("tg_tensor_dtype");
  GET(t, "tensor", x);
  *out = (tg_dtype)x.u->dtype;
  return TG_OK;
}

TG_API tg_status tg_tensor_device(tg_tensor *t, const char **out) {
  NEED_OUT("tg_tensor_device");
  GET(t, "tensor", x);
  *out = x.dev;
  return TG_OK;
}

TG_API tg_status tg_tensor_graph_json(tg_tensor *t, char *buf, size_t cap, size_t *len) {
  if (!len) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_graph_json: len is NULL");
  if (cap && !buf) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_graph_json: buf is NULL with cap %zu", cap);
  GET(t, "tensor", x);
  char *s = tg_uop_to_json(x.u);
  if (!s) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory writing the graph as JSON");
  size_t n = strlen(s);
  if (cap) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(buf, s, k), buf[k] = 0;
  }
  free(s);
  *len = n;
  return TG_OK;
}

/* ---------------- creation ---------------- */

TG_API tg_status tg_tensor_from_host(tg_host_kind kind, tg_dtype dtype, const int64_t *shape, size_t ndim, const void *data,
                                     size_t nbytes, const char *device, tg_tensor **out) {
  static const char *fn = "tg_tensor_from_host";
  NEED_OUT("tg_tensor_from_host");
  CHECK(tgt_check_dtype((int)dtype, 0, fn));
  CHECK(tgt_check_vals(shape, ndim, 1, fn, "shape"));
  if (kind != TG_HOST_ARRAY && kind != TG_HOST_LIST) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: invalid host kind %d", fn, (int)kind);
  if (tg_dt_is_weak(dtype))
    return tg_err(TG_ERR_DTYPE, "cannot create storage for weak dtype dtypes.%s", tg_dtype_repr_name(dtype));
  /* tinygrad's _frompy packs bfloat16 and fp8 lists as float32 (no struct format) and casts on the host */
  tg_dtype bdt = kind == TG_HOST_LIST && (dtype == TG_BFLOAT16 || tg_dt_is_fp8(dtype)) ? TG_FLOAT32 : dtype;
  int64_t numel = 1;
  for (size_t i = 0; i < ndim; i++) {
    if (shape[i] < 0) {
      char b[512];
      return tg_err(TG_ERR_SHAPE, "shape can't contain negative numbers %s", tgt_tuple_str(shape, ndim, b, sizeof b));
    }
    if (shape[i] && numel > INT64_MAX / shape[i]) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: shape too large", fn);
    numel *= shape[i];
  }
  size_t isz = (size_t)tg_dt_itemsize(bdt);
  if ((uint64_t)numel > SIZE_MAX / isz || (size_t)numel * isz != nbytes) {
    char b[512];
    return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: nbytes %zu does not match shape %s of dtypes.%s (%lld elements x %zu bytes = %llu)",
                  fn, nbytes, tgt_tuple_str(shape, ndim, b, sizeof b), tg_dtype_repr_name(bdt), (long long)numel, isz,
                  (unsigned long long)numel * isz);
  }
  if (nbytes && !data) return tg_err(TG_ERR_NULL_POINTER, "%s: data is NULL", fn);
  const char *dev = tgt_dev_canonical(device);
  if (!dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory naming a device");
  tgt_scope S = {0};
  tg_tv r;
  if (kind == TG_HOST_ARRAY) { /* _fromnp: new_buffer("NPY").reshape(shape), then Tensor.__init__ copies it */
    r = tgt_new_buffer(&S, tgt_dev_intern("NPY"), numel, bdt);
    if (r.u && tgt_host_attach(r.u, data, nbytes)) S.st = TG_ERR_OUT_OF_MEMORY;
    r = tgt_reshape(&S, r, shape, ndim);
  } else { /* _frompy: UOp.empty(shape, device="PYTHON"), cast on the host when packed as float32 */
    r = tgt_empty(&S, shape, ndim, bdt, tgt_dev_intern("PYTHON"));
    if (r.u && tgt_host_attach(tg_uop_base(r.u), data, nbytes)) S.st = TG_ERR_OUT_OF_MEMORY;
    r = tgt_cast(&S, r, dtype);
  }
  r = tgt_copy_to_device(&S, r, dev);
  return finish(&S, r, out);
}

static tg_status make_const(tg_dtype dtype, tgt_py v, tg_tensor **out) {
  NEED_OUT("tg_tensor_const");
  CHECK(tgt_check_dtype((int)dtype, 0, "tg_tensor_const"));
  tgt_scope S = {0};
  return finish(&S, tgt_const(&S, v, dtype), out);
}

TG_API tg_status tg_tensor_const_int(tg_dtype dtype, int64_t value, tg_tensor **out) {
  return make_const(dtype, dtype == TG_BOOL ? tgt_pybool(value != 0) : tgt_pyint(value), out);
}

TG_API tg_status tg_tensor_const_float(tg_dtype dtype, double value, tg_tensor **out) {
  return make_const(dtype, tgt_pyfloat(value), out);
}

TG_API tg_status tg_tensor_empty(const int64_t *shape, size_t ndim, int dtype, const char *device, tg_tensor **out) {
  NEED_OUT("tg_tensor_empty");
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_empty"));
  CHECK(tgt_check_vals(shape, ndim, 1, "tg_tensor_empty", "shape"));
  const char *dev = tgt_dev_canonical(device);
  if (!dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory naming a device");
  tgt_scope S = {0};
  if (dtype == TG_DTYPE_NONE && (dtype = tgt_default_dtype(&S, 1)) < 0) return S.st;
  return finish(&S, tgt_empty(&S, shape, ndim, dtype, dev), out);
}

TG_API tg_status tg_tensor_full(const int64_t *shape, size_t ndim, tg_tensor *fill, int dtype, const char *device, int buffer,
                                tg_tensor **out) {
  NEED_OUT("tg_tensor_full");
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_full"));
  CHECK(tgt_check_vals(shape, ndim, 1, "tg_tensor_full", "shape"));
  GET(fill, "fill", f);
  const char *dev = device ? tgt_dev_canonical(device) : NULL;
  if (device && !dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "out of memory naming a device");
  tgt_scope S = {0};
  return finish(&S, tgt_full(&S, shape, ndim, f, dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype, dev, buffer), out);
}

static int py_arg(tg_tensor *t, const char *what, tgt_py *out) {
  tg_tv x;
  if (tgt_tensor_get(t, what, &x)) return 0;
  if (tgt_as_py(x, out)) return 1;
  tg_err(TG_ERR_INVALID_ARGUMENT, "arange: %s must be a Python scalar (a 0-d weakint/weakfloat/bool constant), got a dtypes.%s "
                                  "Ops.%s", what, tg_dtype_repr_name(x.u->dtype), tg_op_name((tg_op)x.u->op));
  return 0;
}

tg_status tgt_py_operand(tg_tensor *t, const char *fn, const char *what, tgt_py *out) {
  tg_tv x;
  if (!t) return tg_err(TG_ERR_NULL_POINTER, "%s: %s is NULL", fn, what);
  tg_status st = tgt_tensor_get(t, what, &x);
  if (st) return st;
  if (tgt_as_py(x, out)) return TG_OK;
  return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: %s must be a Python scalar (a 0-d weakint/weakfloat/bool constant), got a dtypes.%s Ops.%s", fn,
                what, tg_dtype_repr_name(x.u->dtype), tg_op_name((tg_op)x.u->op));
}

TG_API tg_status tg_tensor_arange(tg_tensor *start, tg_tensor *stop, tg_tensor *step, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_arange");
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_arange"));
  tgt_py a, b, c = tgt_pyint(1);
  if (!py_arg(start, "start", &a) || (stop && !py_arg(stop, "stop", &b)) || (step && !py_arg(step, "step", &c)))
    return start ? TG_ERR_INVALID_ARGUMENT : TG_ERR_NULL_POINTER;
  tgt_scope S = {0};
  return finish(&S, tgt_arange(&S, a, stop ? &b : NULL, c, dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype), out);
}

/* ---------------- elementwise, dtype ---------------- */

TG_API tg_status tg_tensor_unary(tg_unary_op op, tg_tensor *x, tg_tensor **out) {
  NEED_OUT("tg_tensor_unary");
  GET(x, "x", a);
  if ((unsigned)op > TG_UNARY_CONTIGUOUS_BACKWARD) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_unary: invalid op %d", (int)op);
  tgt_scope S = {0};
  return finish(&S, tgt_unary(&S, (int)op, a), out);
}

TG_API tg_status tg_tensor_binary(tg_binary_op op, tg_tensor *x, tg_tensor *y, tg_tensor **out) {
  NEED_OUT("tg_tensor_binary");
  GET(x, "x", a);
  GET(y, "y", b);
  if ((unsigned)op > TG_BINARY_COPYSIGN) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_binary: invalid op %d", (int)op);
  tgt_scope S = {0};
  return finish(&S, tgt_binary(&S, (int)op, a, b), out);
}

TG_API tg_status tg_tensor_where(tg_tensor *cond, tg_tensor *x, tg_tensor *y, tg_tensor **out) {
  NEED_OUT("tg_tensor_where");
  GET(cond, "cond", c);
  GET(x, "x", a);
  GET(y, "y", b);
  tgt_scope S = {0};
  return finish(&S, tgt_where(&S, c, a, b), out);
}

TG_API tg_status tg_tensor_cast(tg_tensor *x, tg_dtype dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_cast");
  GET(x, "x", a);
  CHECK(tgt_check_dtype((int)dtype, 0, "tg_tensor_cast"));
  tgt_scope S = {0};
  return finish(&S, tgt_cast(&S, a, dtype), out);
}

TG_API tg_status tg_tensor_bitcast(tg_tensor *x, tg_dtype dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_bitcast");
  GET(x, "x", a);
  CHECK(tgt_check_dtype((int)dtype, 0, "tg_tensor_bitcast"));
  tgt_scope S = {0};
  return finish(&S, tgt_bitcast(&S, a, dtype), out);
}

TG_API tg_status tg_tensor_contiguous(tg_tensor *x, tg_tensor **out) {
  NEED_OUT("tg_tensor_contiguous");
  GET(x, "x", a);
  tgt_scope S = {0};
  return finish(&S, tgt_contiguous(&S, a), out);
}

/* ---------------- movement ---------------- */

TG_API tg_status tg_tensor_reshape(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor **out) {
  NEED_OUT("tg_tensor_reshape");
  GET(x, "x", a);
  CHECK(tgt_check_vals(shape, ndim, 1, "tg_tensor_reshape", "shape"));
  tgt_scope S = {0};
  return finish(&S, tgt_reshape(&S, a, shape, ndim), out);
}

TG_API tg_status tg_tensor_permute(tg_tensor *x, const int64_t *order, size_t n, tg_tensor **out) {
  NEED_OUT("tg_tensor_permute");
  GET(x, "x", a);
  CHECK(tgt_check_vals(order, n, 1, "tg_tensor_permute", "order"));
  tgt_scope S = {0};
  return finish(&S, tgt_permute(&S, a, order, n), out);
}

TG_API tg_status tg_tensor_expand(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor **out) {
  NEED_OUT("tg_tensor_expand");
  GET(x, "x", a);
  CHECK(tgt_check_vals(shape, ndim, 1, "tg_tensor_expand", "shape"));
  tgt_scope S = {0};
  return finish(&S, tgt_expand(&S, a, shape, ndim), out);
}

TG_API tg_status tg_tensor_pad(tg_tensor *x, const int64_t *pads, size_t ndim, tg_tensor *value, tg_tensor **out) {
  return tg_tensor_pad_mode(x, pads, ndim, TG_PAD_CONSTANT, value, out);
}

TG_API tg_status tg_tensor_shrink(tg_tensor *x, const int64_t *bounds, size_t ndim, tg_tensor **out) {
  NEED_OUT("tg_tensor_shrink");
  GET(x, "x", a);
  CHECK(tgt_check_vals(bounds, ndim, 2, "tg_tensor_shrink", "bounds"));
  tgt_scope S = {0};
  return finish(&S, tgt_shrink(&S, a, (const int64_t(*)[2])bounds, ndim), out);
}

TG_API tg_status tg_tensor_flip(tg_tensor *x, const int64_t *axes, size_t n, tg_tensor **out) {
  NEED_OUT("tg_tensor_flip");
  GET(x, "x", a);
  CHECK(tgt_check_vals(axes, n, 1, "tg_tensor_flip", "axes"));
  tgt_scope S = {0};
  return finish(&S, tgt_flip(&S, a, axes, n), out);
}

/* ---------------- reduce, dot ---------------- */

TG_API tg_status tg_tensor_reduce(tg_reduce_op op, tg_tensor *x, const int64_t *axes, size_t n, int keepdim, int dtype,
                                  tg_tensor **out) {
  NEED_OUT("tg_tensor_reduce");
  GET(x, "x", a);
  if ((unsigned)op > TG_REDUCE_ALL) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_reduce: invalid op %d", (int)op);
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_reduce"));
  if (axes) CHECK(tgt_check_vals(axes, n, 1, "tg_tensor_reduce", "axes"));
  tgt_scope S = {0};
  return finish(&S, tgt_reduce(&S, (int)op, a, axes, axes ? n : 0, keepdim, dtype), out);
}

TG_API tg_status tg_tensor_dot(tg_tensor *x, tg_tensor *w, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_dot");
  GET(x, "x", a);
  GET(w, "w", b);
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_dot"));
  tgt_scope S = {0};
  return finish(&S, tgt_dot(&S, a, b, dtype), out);
}

/* ---------------- stack, cat, getitem ---------------- */

static tg_status get_list(tg_tensor *const *ts, size_t n, const char *fn, tg_tv *out) {
  if (!ts) return tg_err(TG_ERR_NULL_POINTER, "%s: tensors is NULL", fn);
  if (!n) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: no tensors", fn);
  if (n > 4096) return tg_err(TG_ERR_UNSUPPORTED, "%s: %zu tensors (at most 4096)", fn, n);
  for (size_t i = 0; i < n; i++) {
    char what[48];
    snprintf(what, sizeof what, "tensors[%zu]", i);
    tg_status st = tgt_tensor_get(ts[i], what, &out[i]);
    if (st) return st;
  }
  return TG_OK;
}

TG_API tg_status tg_tensor_stack(tg_tensor *const *tensors, size_t n, int64_t dim, tg_tensor **out) {
  NEED_OUT("tg_tensor_stack");
  tg_tv v[4096];
  CHECK(get_list(tensors, n, "tg_tensor_stack", v));
  tgt_scope S = {0};
  return finish(&S, tgt_stack(&S, v, n, dim), out);
}

TG_API tg_status tg_tensor_cat(tg_tensor *const *tensors, size_t n, int64_t dim, tg_tensor **out) {
  NEED_OUT("tg_tensor_cat");
  tg_tv v[4096];
  CHECK(get_list(tensors, n, "tg_tensor_cat", v));
  tgt_scope S = {0};
  return finish(&S, tgt_cat(&S, v, n, dim), out);
}

/* The tg_index array as tgt_index values (tensor handles resolved). */
static tg_status get_indices(const tg_index *idx, size_t n, const char *fn, tgt_index *out) {
  if (n && !idx) return tg_err(TG_ERR_NULL_POINTER, "%s: idx is NULL with n=%zu", fn, n);
  if (n > TGT_MAXD) return tg_err(TG_ERR_UNSUPPORTED, "indexing: %zu indices (at most %d)", n, TGT_MAXD);
  for (size_t i = 0; i < n; i++) {
    out[i] = (tgt_index){idx[i].kind, idx[i].has, idx[i].start, idx[i].stop, idx[i].step, TGT_NONE};
    if (idx[i].kind != TG_INDEX_TENSOR) continue;
    if (!idx[i].tensor) return tg_err(TG_ERR_NULL_POINTER, "%s: idx[%zu] is TG_INDEX_TENSOR with a NULL tensor", fn, i);
    char what[48];
    snprintf(what, sizeof what, "idx[%zu].tensor", i);
    tg_status st = tgt_tensor_get(idx[i].tensor, what, &out[i].t);
    if (st) return st;
  }
  return TG_OK;
}

TG_API tg_status tg_tensor_getitem(tg_tensor *x, const tg_index *idx, size_t n, tg_tensor **out) {
  NEED_OUT("tg_tensor_getitem");
  GET(x, "x", a);
  tgt_index ix[TGT_MAXD];
  CHECK(get_indices(idx, n, "tg_tensor_getitem", ix));
  tgt_scope S = {0};
  return finish(&S, tgt_getitem(&S, a, ix, n, TGT_NONE), out);
}

/* ---------------- gather, scatter, one_hot, masked_fill ---------------- */

TG_API tg_status tg_tensor_gather(tg_tensor *x, int64_t dim, tg_tensor *index, tg_tensor **out) {
  NEED_OUT("tg_tensor_gather");
  GET(x, "x", a);
  GET(index, "index", i);
  tgt_scope S = {0};
  return finish(&S, tgt_gather(&S, a, dim, i), out);
}

TG_API tg_status tg_tensor_scatter(tg_tensor *x, int64_t dim, tg_tensor *index, tg_tensor *src, tg_scatter_reduce reduce,
                                   tg_tensor **out) {
  NEED_OUT("tg_tensor_scatter");
  GET(x, "x", a);
  GET(index, "index", i);
  GET(src, "src", b);
  tgt_scope S = {0};
  return finish(&S, tgt_scatter(&S, a, dim, i, b, (int)reduce), out);
}

TG_API tg_status tg_tensor_scatter_reduce(tg_tensor *x, int64_t dim, tg_tensor *index, tg_tensor *src, tg_scatter_reduce reduce,
                                          int include_self, tg_tensor **out) {
  NEED_OUT("tg_tensor_scatter_reduce");
  GET(x, "x", a);
  GET(index, "index", i);
  GET(src, "src", b);
  if (reduce == TG_SCATTER_NONE || (unsigned)reduce > TG_SCATTER_AMIN)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_scatter_reduce: reduce=%d must be one of 'sum', 'prod', 'mean', 'amax', 'amin'", (int)reduce);
  tgt_scope S = {0};
  return finish(&S, tgt_scatter_reduce(&S, a, dim, i, b, (int)reduce, include_self), out);
}

TG_API tg_status tg_tensor_one_hot(tg_tensor *x, int64_t num_classes, tg_tensor **out) {
  NEED_OUT("tg_tensor_one_hot");
  GET(x, "x", a);
  tgt_scope S = {0};
  return finish(&S, tgt_one_hot(&S, a, num_classes), out);
}

TG_API tg_status tg_tensor_one_hot_along_dim(tg_tensor *x, int64_t num_classes, int64_t dim, tg_tensor **out) {
  NEED_OUT("tg_tensor_one_hot_along_dim");
  GET(x, "x", a);
  tgt_scope S = {0};
  return finish(&S, tgt_one_hot_along_dim(&S, a, num_classes, dim), out);
}

TG_API tg_status tg_tensor_masked_fill(tg_tensor *x, tg_tensor *mask, tg_tensor *value, tg_tensor **out) {
  NEED_OUT("tg_tensor_masked_fill");
  GET(x, "x", a);
  GET(mask, "mask", m);
  GET(value, "value", v);
  tgt_scope S = {0};
  return finish(&S, tgt_masked_fill(&S, a, m, v), out);
}

/* ---------------- cumulative, triangles, sort ---------------- */

TG_API tg_status tg_tensor_cumalu(tg_reduce_op op, tg_tensor *x, int64_t axis, tg_tensor **out, tg_tensor **indices) {
  NEED_OUT("tg_tensor_cumalu");
  GET(x, "x", a);
  int with_idx = op == TG_REDUCE_MAX || op == TG_REDUCE_MIN;
  if (op != TG_REDUCE_SUM && op != TG_REDUCE_PROD && !with_idx)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_cumalu: op %d is not SUM, PROD, MAX or MIN", (int)op);
  if (indices && !with_idx) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_cumalu: indices are only given for MAX and MIN");
  tgt_scope S = {0};
  if (!with_idx) return finish(&S, tgt_split_cumalu(&S, a, axis, op == TG_REDUCE_SUM ? TG_OP_ADD : TG_OP_MUL), out);
  int inv = op == TG_REDUCE_MIN, isf = tg_dt_is_float((tg_dtype)a.u->dtype); /* cummin: _inverse().cummax, _inverse() */
  if (inv) a = tgt_unary(&S, isf ? TG_UNARY_NEG : TG_UNARY_BITWISE_NOT, a);
  tg_tv idx, v = tgt_cummax(&S, a, axis, &idx);
  if (inv) v = tgt_unary(&S, isf ? TG_UNARY_NEG : TG_UNARY_BITWISE_NOT, v);
  if (indices) return finish2(&S, v, idx, out, indices);
  return finish(&S, v, out);
}

TG_API tg_status tg_tensor_triu(tg_tensor *x, int64_t diagonal, int lower, tg_tensor **out) {
  NEED_OUT("tg_tensor_triu");
  GET(x, "x", a);
  tgt_scope S = {0};
  return finish(&S, tgt_triu(&S, a, diagonal, lower), out);
}

TG_API tg_status tg_tensor_eye(int64_t n, int64_t m, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_eye");
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_eye"));
  tgt_scope S = {0};
  return finish(&S, tgt_eye(&S, n, m, dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype), out);
}

TG_API tg_status tg_tensor_sort(tg_tensor *x, int64_t dim, int descending, tg_tensor **values, tg_tensor **indices) {
  if (!values || !indices) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_sort: values or indices is NULL");
  GET(x, "x", a);
  tgt_scope S = {0};
  tg_tv idx, v = tgt_sort(&S, a, dim, descending, &idx);
  return finish2(&S, v, idx, values, indices);
}

TG_API tg_status tg_tensor_topk(tg_tensor *x, int64_t k, int64_t dim, int largest, tg_tensor **values, tg_tensor **indices) {
  if (!values || !indices) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_topk: values or indices is NULL");
  GET(x, "x", a);
  tgt_scope S = {0};
  tg_tv idx, v = tgt_topk(&S, a, k, dim, largest, &idx);
  return finish2(&S, v, idx, values, indices);
}

/* ---------------- convolutions and pools ---------------- */

static tg_status check_params(const tg_conv_params *p, const char *fn) {
  if (!p) return TG_OK;
  if (p->struct_size < sizeof p->struct_size)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: params->struct_size is %zu (fill params with tg_conv_params_init)", fn, p->struct_size);
  if (p->struct_size >= offsetof(tg_conv_params, dtype) + sizeof p->dtype) return tgt_check_dtype(p->dtype, 1, fn);
  return TG_OK;
}

TG_API tg_status tg_tensor_conv2d(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, const tg_conv_params *params, tg_tensor **out) {
  NEED_OUT("tg_tensor_conv2d");
  GET(x, "x", a);
  GET(weight, "weight", w);
  tg_tv b = TGT_NONE;
  if (bias) CHECK(tgt_tensor_get(bias, "bias", &b));
  CHECK(check_params(params, "tg_tensor_conv2d"));
  tgt_scope S = {0};
  return finish(&S, tgt_conv2d(&S, a, w, b, params), out);
}

TG_API tg_status tg_tensor_conv_transpose2d(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, const tg_conv_params *params,
                                            tg_tensor **out) {
  NEED_OUT("tg_tensor_conv_transpose2d");
  GET(x, "x", a);
  GET(weight, "weight", w);
  tg_tv b = TGT_NONE;
  if (bias) CHECK(tgt_tensor_get(bias, "bias", &b));
  CHECK(check_params(params, "tg_tensor_conv_transpose2d"));
  tgt_scope S = {0};
  return finish(&S, tgt_conv_transpose2d(&S, a, w, b, params), out);
}

static tg_status check_kernel(const int64_t *kernel, size_t n, const char *fn) {
  if (!n) return tg_err(TG_ERR_INVALID_ARGUMENT, "%s: the kernel has no dims", fn);
  return tgt_check_vals(kernel, n, 1, fn, "kernel");
}

TG_API tg_status tg_tensor_avg_pool2d(tg_tensor *x, const int64_t *kernel, size_t n, const tg_conv_params *params, tg_tensor **out) {
  NEED_OUT("tg_tensor_avg_pool2d");
  GET(x, "x", a);
  CHECK(check_kernel(kernel, n, "tg_tensor_avg_pool2d"));
  CHECK(check_params(params, "tg_tensor_avg_pool2d"));
  tgt_scope S = {0};
  return finish(&S, tgt_avg_pool2d(&S, a, kernel, n, params), out);
}

TG_API tg_status tg_tensor_max_pool2d(tg_tensor *x, const int64_t *kernel, size_t n, const tg_conv_params *params,
                                      tg_tensor **indices, tg_tensor **out) {
  NEED_OUT("tg_tensor_max_pool2d");
  GET(x, "x", a);
  CHECK(check_kernel(kernel, n, "tg_tensor_max_pool2d"));
  CHECK(check_params(params, "tg_tensor_max_pool2d"));
  tgt_scope S = {0};
  tg_tv idx = TGT_NONE, r = tgt_max_pool2d(&S, a, kernel, n, params, indices ? &idx : NULL);
  tg_status st = S.st;
  if (!st) {
    tgt_scope R = {0};
    st = finish(&R, r, out);
  }
  if (!st && indices) {
    tgt_scope R = {0};
    st = finish(&R, idx, indices);
    if (st) tg_tensor_release(*out), *out = NULL;
  }
  tgt_scope_end(&S);
  return st;
}

static tg_tv clone_value(tgt_scope *S, tg_tv x, const char *device);

/* ---------------- nn compositions ---------------- */

TG_API tg_status tg_tensor_softmax(tg_tensor *x, int64_t axis, int dtype, int log, tg_tensor **out) {
  NEED_OUT("tg_tensor_softmax");
  GET(x, "x", a);
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_softmax"));
  tgt_scope S = {0};
  return finish(&S, tgt_softmax(&S, a, axis, dtype, log != 0), out);
}

TG_API tg_status tg_tensor_logsumexp(tg_tensor *x, const int64_t *axes, size_t n, int keepdim, tg_tensor **out) {
  NEED_OUT("tg_tensor_logsumexp");
  GET(x, "x", a);
  if (axes) CHECK(tgt_check_vals(axes, n, 1, "tg_tensor_logsumexp", "axes"));
  tgt_scope S = {0};
  return finish(&S, tgt_logsumexp(&S, a, axes, axes ? n : 0, keepdim), out);
}

TG_API tg_status tg_tensor_argmax(tg_tensor *x, const int64_t *axis, int keepdim, int is_min, tg_tensor **out) {
  NEED_OUT("tg_tensor_argmax");
  GET(x, "x", a);
  tgt_scope S = {0};
  return finish(&S, tgt_argmax(&S, a, axis, keepdim, is_min != 0), out);
}

TG_API tg_status tg_tensor_var(tg_tensor *x, const int64_t *axes, size_t n, int keepdim, double correction, int std, tg_tensor **out) {
  NEED_OUT("tg_tensor_var");
  GET(x, "x", a);
  if (axes) CHECK(tgt_check_vals(axes, n, 1, "tg_tensor_var", "axes"));
  tgt_scope S = {0};
  return finish(&S, tgt_var(&S, a, axes, axes ? n : 0, keepdim, correction, std != 0), out);
}

TG_API tg_status tg_tensor_layernorm(tg_tensor *x, const int64_t *axes, size_t n, double eps, tg_tensor **out) {
  NEED_OUT("tg_tensor_layernorm");
  GET(x, "x", a);
  if (!axes || !n) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_layernorm: needs at least one axis");
  CHECK(tgt_check_vals(axes, n, 1, "tg_tensor_layernorm", "axes"));
  tgt_scope S = {0};
  return finish(&S, tgt_layernorm(&S, a, axes, n, eps), out);
}

TG_API tg_status tg_tensor_activation(tg_activation op, tg_tensor *x, const double *p, tg_tensor **out) {
  NEED_OUT("tg_tensor_activation");
  GET(x, "x", a);
  if ((unsigned)op > TG_ACT_ERF) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_activation: invalid op %d", (int)op);
  static const double none[2] = {0, 0};
  tgt_scope S = {0};
  return finish(&S, tgt_activation(&S, (int)op, a, p ? p : none), out);
}

TG_API tg_status tg_tensor_sparse_categorical_crossentropy(tg_tensor *x, tg_tensor *Y, int64_t ignore_index, double label_smoothing,
                                                           tg_reduction reduction, tg_tensor **out) {
  NEED_OUT("tg_tensor_sparse_categorical_crossentropy");
  GET(x, "x", a);
  GET(Y, "Y", y);
  tgt_scope S = {0};
  return finish(&S, tgt_sparse_ce(&S, a, y, ignore_index, label_smoothing, (int)reduction), out);
}

TG_API tg_status tg_tensor_cross_entropy(tg_tensor *x, tg_tensor *Y, tg_reduction reduction, double label_smoothing, tg_tensor **out) {
  NEED_OUT("tg_tensor_cross_entropy");
  GET(x, "x", a);
  GET(Y, "Y", y);
  tgt_scope S = {0};
  return finish(&S, tgt_cross_entropy(&S, a, y, (int)reduction, label_smoothing), out);
}

TG_API tg_status tg_tensor_const_like(tg_tensor *x, tg_tensor *value, int dtype, tg_tensor **out) {
  NEED_OUT("tg_tensor_const_like");
  GET(x, "x", a);
  GET(value, "value", v);
  CHECK(tgt_check_dtype(dtype, 1, "tg_tensor_const_like"));
  tgt_py py;
  if (!tgt_as_py(v, &py)) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_const_like: value must be a Python scalar (a weak or bool constant)");
  tgt_scope S = {0};
  return finish(&S, tgt_const_like(&S, a, py, dtype == TG_DTYPE_NONE ? TG_DT_AUTO : dtype), out);
}

/* ---------------- to, clone ---------------- */

TG_API tg_status tg_tensor_to(tg_tensor *x, const char *device, tg_tensor **out) {
  NEED_OUT("tg_tensor_to");
  GET(x, "x", a);
  if (!device) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_to: device is NULL");
  const char *dev = tgt_dev_canonical(device);
  if (!dev) return tg_err(TG_ERR_OUT_OF_MEMORY, "tg_tensor_to: out of memory");
  tgt_scope S = {0};
  /* Tensor.to: a device-less value or one already there is returned as is; otherwise UOp.copy_to_device */
  return finish(&S, !a.dev || a.dev == dev ? a : tgt_copy_to_device(&S, a, dev), out);
}

TG_API tg_status tg_tensor_clone(tg_tensor *x, const char *device, tg_tensor **out) {
  NEED_OUT("tg_tensor_clone");
  GET(x, "x", a);
  const char *dev = device ? tgt_dev_canonical(device) : a.dev;
  tgt_scope S = {0};
  tg_tv src = a.dev && dev && a.dev != dev ? tgt_copy_to_device(&S, a, dev) : a; /* UOp.clone: copy first when moving */
  return finish(&S, clone_value(&S, src, dev), out);
}

/* ---------------- autograd ---------------- */

/* OpMixin.gradient(*targets, gradient=): d self / d targets. flags & TG_GRADIENT_BACKWARD: the form Tensor.backward
** uses: targets not in self's graph get NULL, and a device-less gradient is cloned onto its target's device. */
TG_API tg_status tg_tensor_gradient(tg_tensor *self, tg_tensor *const *targets, size_t n, tg_tensor *gradient, unsigned flags,
                                    tg_tensor **out) {
  NEED_OUT("tg_tensor_gradient");
  GET(self, "self", a);
  if (n && !targets) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_gradient: targets is NULL with n=%zu", n);
  tg_tv *tv = calloc(n + 1, sizeof *tv), *gr = calloc(n + 1, sizeof *gr);
  if (!tv || !gr) return free(tv), free(gr), tg_err(TG_ERR_OUT_OF_MEMORY, "tg_tensor_gradient: out of memory");
  tg_status st = TG_OK;
  for (size_t i = 0; i < n && !st; i++) {
    char what[48];
    snprintf(what, sizeof what, "targets[%zu]", i);
    st = tgt_tensor_get(targets[i], what, &tv[i]);
  }
  tg_tv g = {0};
  if (!st && gradient) st = tgt_tensor_get(gradient, "gradient", &g);
  tgt_scope S = {0};
  tgt_shape sh;
  if (!st && tgt_shape_of(&S, a, &sh)) st = S.st;
  if (!st && !gradient && sh.n)
    st = tg_err(TG_ERR_SHAPE, "when no gradient is provided, backward must be called on a scalar tensor");
  int all_float = !st && tg_dt_is_float((tg_dtype)a.u->dtype);
  for (size_t i = 0; i < n && all_float; i++) all_float = tg_dt_is_float((tg_dtype)tv[i].u->dtype);
  if (!st && !all_float) st = tg_err(TG_ERR_DTYPE, "only float Tensors have gradient");
  for (size_t i = 0; i < n && !st; i++)
    if (tg_dt_is_weak((tg_dtype)tv[i].u->dtype)) st = tg_err(TG_ERR_DTYPE, "cannot take gradient wrt a weak Tensor");
  if (!st && !gradient) g = tgt_const_like(&S, a, tgt_pyfloat(1.0), TG_DT_AUTO);
  if (!st && !S.st) st = tgt_compute_gradient(&S, a, g, tv, n, gr);
  if (!st) st = S.st;
  for (size_t i = 0; i < n && !st; i++) {
    out[i] = NULL;
    tg_tv r = gr[i];
    if (!r.u) {
      if (flags & TG_GRADIENT_BACKWARD) continue;
      r = tgt_const_like(&S, tv[i], tgt_pyint(0), TG_DT_AUTO);
    } else if ((flags & TG_GRADIENT_BACKWARD) && !r.dev && tv[i].dev) {
      r = clone_value(&S, r, tv[i].dev);
    }
    tgt_scope R = {0};
    st = finish(&R, r, &out[i]);
  }
  if (st)
    for (size_t i = 0; i < n; i++) tg_tensor_release(out[i]), out[i] = NULL;
  tgt_scope_end(&S);
  free(tv), free(gr);
  return st;
}

/* ---------------- assign ---------------- */

int tgt_has_buffer_identity(const tg_uop *u, int after_ok) {
  for (;;) {
    if (u->op == TG_OP_RESHAPE || u->op == TG_OP_UNSHARD || u->op == TG_OP_MSELECT || (after_ok && u->op == TG_OP_AFTER)) {
      if (!u->nsrc) return 0;
      u = u->src[0];
      continue;
    }
    return u->op == TG_OP_BUFFER || u->op == TG_OP_PARAM;
  }
}

/* UOp.clone(): a fresh buffer of the strong dtype on the tensor's device, storing the value. */
static tg_tv clone_value(tgt_scope *S, tg_tv x, const char *device) {
  tgt_shape sh;
  if (tgt_shape_of(S, x, &sh)) return TGT_NONE;
  int dt = (int)tg_dt_strong((tg_dtype)x.u->dtype);
  tg_tv e = tgt_empty(S, sh.d, sh.n, dt, device ? device : tgt_dev_canonical(NULL));
  tg_tv pair[2] = {e, tgt_cast(S, x, dt)};
  pair[1] = tgt_mk(S, TG_OP_STORE, TG_DT_VOID, pair, 2, tg_arg_none(), NULL);
  return tgt_mk(S, TG_OP_AFTER, TG_DT_AUTO, pair, 2, tg_arg_none(), NULL);
}

/* Tensor.assign of x (value b) into the tensor self (value a; self NULL: a temporary view tensor nobody keeps):
** self.uop becomes AFTER(self, STORE(self, x)) (x broadcast to self's shape, same dtype and device); when self is a view
** of a buffer (a shrink, permute... of it), every tensor reading that buffer reads it after the store instead, as
** tinygrad's "Embed View Assign". */
static tg_status assign_tv(tg_tensor *self, tg_tv a, tg_tv b) {
  tgt_scope S = {0};
  if (tg_dt_is_weak((tg_dtype)a.u->dtype)) {
    a = clone_value(&S, a, a.dev);
    if (S.st) return tgt_scope_end(&S), S.st;
    void *obj;
    tg_status st = self ? tg_handle_get(self, TG_H_TENSOR, "tensor", &obj) : TG_OK;
    if (!st && self) ((tensor_obj *)obj)->dev = a.dev, st = tgt_tensor_set_uop(self, a.u);
    if (st) return tgt_scope_end(&S), st;
  }
  if (a.u == b.u) return tgt_scope_end(&S), TG_OK; /* a self assign is a no-op */
  tgt_shape sh;
  if (tgt_shape_of(&S, a, &sh)) return tgt_scope_end(&S), S.st;
  b = tgt_broadcast_to(&S, b, sh.d, sh.n);
  if (b.u && tg_dt_is_weak((tg_dtype)b.u->dtype)) b = tgt_cast(&S, b, tg_dt_least_upper2((tg_dtype)a.u->dtype, (tg_dtype)b.u->dtype));
  if (S.st) return tgt_scope_end(&S), S.st;
  if (b.u->dtype != a.u->dtype) {
    tg_status st = tg_err(TG_ERR_DTYPE, "assign dtype mismatch dtypes.%s != dtypes.%s", tg_dtype_repr_name(a.u->dtype), tg_dtype_repr_name(b.u->dtype));
    return tgt_scope_end(&S), st;
  }
  if (b.dev && a.dev && b.dev != a.dev) {
    tg_status st = tg_err(TG_ERR_INVALID_ARGUMENT, "assign device mismatch %s != %s", a.dev, b.dev);
    return tgt_scope_end(&S), st;
  }
  tg_tv pair[2] = {a, b};
  pair[1] = tgt_mk(&S, TG_OP_STORE, TG_DT_VOID, pair, 2, tg_arg_none(), NULL);
  tg_tv asg = tgt_mk(&S, TG_OP_AFTER, TG_DT_AUTO, pair, 2, tg_arg_none(), NULL);
  if (S.st) return tgt_scope_end(&S), S.st;
  tg_uop *ib = a.u;
  while (!tgt_has_buffer_identity(ib, 0) && ib->nsrc &&
         (tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)ib->op) || ib->op == TG_OP_BITCAST || ib->op == TG_OP_DETACH))
    ib = ib->src[0];
  tg_status st = TG_OK;
  if (ib != a.u && tgt_has_buffer_identity(ib, 1)) {
    tg_tv ibv = {ib, a.dev}, p2[2] = {ibv, asg};
    tg_tv emb = tgt_mk(&S, TG_OP_AFTER, TG_DT_AUTO, p2, 2, tg_arg_none(), NULL);
    st = S.st ? S.st : tgt_apply_map(&ib, &emb.u, 1);
  } else if (self) {
    st = tgt_tensor_set_uop(self, asg.u);
  }
  tgt_scope_end(&S);
  return st;
}

TG_API tg_status tg_tensor_assign(tg_tensor *self, tg_tensor *x) {
  GET(self, "self", a);
  GET(x, "x", b);
  return assign_tv(self, a, b);
}

/* ---------------- setitem ---------------- */

/* UOp.base: through movement ops and DETACH. */
static tg_uop *uop_base(tg_uop *u) {
  while (u->nsrc && (tg_opset_has(TG_GROUP_MOVEMENT, (tg_op)u->op) || u->op == TG_OP_DETACH)) u = u->src[0];
  return u;
}

/* UOp.is_realized of a base: a BUFFER with memory (device memory, or the host bytes tinygrad fake-realizes). */
static int base_realized(tg_uop *base) {
  if (base->op != TG_OP_BUFFER) return 0;
  size_t nb;
  return tg_realize_is_allocated(base) || tg_tensor_host_data(base, &nb) != NULL;
}

static int in_graph(tg_uop *root, tg_uop *u, int *oom) {
  size_t n = 0;
  tg_uop **topo = tg_uop_toposort(root, &n);
  if (!topo) return *oom = 1, 0;
  int hit = 0;
  for (size_t i = 0; i < n && !hit; i++) hit = topo[i] == u;
  free(topo);
  return hit;
}

typedef struct uses_ctx {
  void *self_obj;
  tg_uop *self_u, *v_u, *shared;
  int found, oom;
} uses_ctx;

static void other_use(void *obj, void *user) {
  uses_ctx *c = user;
  tensor_obj *o = obj;
  if (c->found || obj == c->self_obj || o->uop == c->v_u) return;
  if (in_graph(c->v_u, o->uop, &c->oom)) return; /* the right-hand side's own graph (x[i] += 1) */
  if (in_graph(o->uop, c->self_u, &c->oom) && uop_base(o->uop) != c->shared) c->found = 1;
}

/* tinygrad's Tensor.__setitem__: self[idx] = v, as a functional replace (unrealized float tensors, or basic indexing
** of a tensor with no buffer), an assign of the whole new value (advanced indexing) or an assign into the view. */
TG_API tg_status tg_tensor_setitem(tg_tensor *self, const tg_index *idx, size_t n, tg_tensor *v) {
  GET(self, "self", a);
  GET(v, "v", b);
  tgt_index ix[TGT_MAXD];
  CHECK(get_indices(idx, n, "tg_tensor_setitem", ix));
  if (tg_dt_is_weak((tg_dtype)a.u->dtype)) return tg_err(TG_ERR_DTYPE, "cannot setitem into a weak tensor; it has no storage");
  tgt_scope S = {0};
  if (tg_dt_is_weak((tg_dtype)b.u->dtype)) b = tgt_cast(&S, b, tg_dt_least_upper2((tg_dtype)a.u->dtype, (tg_dtype)b.u->dtype));
  if (S.st) return tgt_scope_end(&S), S.st;
  if (b.u->dtype != a.u->dtype) {
    tg_status st = tg_err(TG_ERR_DTYPE, "setitem dtype mismatch: self.dtype=dtypes.%s != v.dtype=dtypes.%s", tg_dtype_repr_name(a.u->dtype),
                          tg_dtype_repr_name(b.u->dtype));
    return tgt_scope_end(&S), st;
  }
  tg_uop *base = uop_base(a.u);
  int realized_base = base_realized(base);
  { /* tinygrad refuses a mutation that would diverge from eager: a graph with a buffer that another tensor reads */
    size_t nt = 0;
    tg_uop **topo = tg_uop_toposort(a.u, &nt);
    if (!topo) return tgt_scope_end(&S), tg_err(TG_ERR_OUT_OF_MEMORY, "setitem: out of memory");
    int any_buf = 0;
    for (size_t i = 0; i < nt && !any_buf; i++) any_buf = topo[i]->op == TG_OP_BUFFER;
    free(topo);
    if (any_buf) {
      void *obj;
      tg_handle_get(self, TG_H_TENSOR, "tensor", &obj);
      uses_ctx c = {obj, a.u, b.u, realized_base ? base : NULL, 0, 0};
      tg_handle_foreach(TG_H_TENSOR, other_use, &c);
      if (c.oom) return tgt_scope_end(&S), tg_err(TG_ERR_OUT_OF_MEMORY, "setitem: out of memory");
      if (c.found) return tgt_scope_end(&S), tg_err(TG_ERR_INVALID_ARGUMENT, "can't setitem on a tensor with other uses");
    }
  }
  int advanced = 0;
  for (size_t i = 0; i < n; i++) advanced |= ix[i].kind == TG_INDEX_TENSOR;
  tg_uop *ab = base;
  while (ab->op == TG_OP_AFTER && ab->nsrc) ab = uop_base(ab->src[0]); /* _base_buffer_is_realized */
  int realized = base->op == TG_OP_BUFFER || base_realized(ab);
  tg_status st;
  if ((!realized_base && tg_dt_is_float((tg_dtype)a.u->dtype)) || !(advanced || realized)) {
    /* x += 1 builds AFTER(view, STORE(view, computed)): take the computed value */
    if (b.u->op == TG_OP_AFTER)
      for (size_t i = 1; i < b.u->nsrc; i++)
        if (b.u->src[i]->op == TG_OP_STORE) {
          b = (tg_tv){b.u->src[1]->src[1], b.dev};
          break;
        }
    tg_tv r = tgt_getitem(&S, a, ix, n, b);
    st = S.st ? S.st : tgt_tensor_set_uop(self, r.u);
    void *obj; /* self.replace(...): a device-less self takes the device of the value written into it */
    if (!st && r.dev && !(st = tg_handle_get(self, TG_H_TENSOR, "tensor", &obj))) ((tensor_obj *)obj)->dev = r.dev;
  } else if (advanced) {
    tg_tv r = tgt_getitem(&S, a, ix, n, b);
    st = S.st ? S.st : assign_tv(self, a, r);
  } else {
    tg_tv view = tgt_getitem(&S, a, ix, n, TGT_NONE);
    st = S.st;
    if (!st) {
      tg_uop *vb = uop_base(view.u);
      int skip = 0;
      if (b.u->op == TG_OP_AFTER)
        for (size_t i = 0; i < vb->nsrc; i++) skip |= vb->src[i] == b.u;
      if (!skip) st = assign_tv(view.u == a.u ? self : NULL, view, b);
    }
  }
  tgt_scope_end(&S);
  return st;
}

/* ---------------- realize support: tinygrad's _apply_map_to_tensors ---------------- */

typedef struct apply_ctx {
  tg_uop *const *from, *const *to;
  size_t n;
  tg_status st;
} apply_ctx;

static int graph_has_key(tg_uop *u, const apply_ctx *c) {
  size_t n = 0;
  tg_uop **topo = tg_uop_toposort(u, &n);
  if (!topo) return -1;
  int hit = 0;
  tg_ptrset keys;
  if (!tg_ptrset_init(&keys, c->n)) return free(topo), -1;
  for (size_t i = 0; i < c->n; i++)
    if (!tg_ptrset_put(&keys, c->from[i], i)) hit = -1;
  for (size_t i = 0; i < n && !hit; i++) hit = tg_ptrset_get(&keys, topo[i]) != NULL;
  tg_ptrset_free(&keys);
  free(topo);
  return hit;
}

static void apply_one(void *obj, void *user) {
  apply_ctx *c = user;
  tensor_obj *o = obj;
  if (c->st) return;
  int hit = graph_has_key(o->uop, c);
  if (hit < 0) c->st = tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory updating tensors");
  if (hit <= 0) return;
  tg_uop *nu = tg_uop_substitute_ex(o->uop, c->from, c->to, c->n, 1); /* tinygrad substitutes with walk=True */
  if (!nu) {
    c->st = TG_ERR_INTERNAL;
    return;
  }
  tg_uop_release(o->uop);
  o->uop = nu;
}

tg_status tgt_apply_map(tg_uop *const *from, tg_uop *const *to, size_t n) {
  apply_ctx c = {from, to, n, TG_OK};
  if (n) tg_handle_foreach(TG_H_TENSOR, apply_one, &c);
  return c.st;
}

tg_status tgt_tensor_set_uop(tg_tensor *t, tg_uop *u) {
  void *obj;
  tg_status st = tg_handle_get(t, TG_H_TENSOR, "tensor", &obj);
  if (st) return st;
  tg_uop_retain(u);
  tg_uop_release(((tensor_obj *)obj)->uop);
  ((tensor_obj *)obj)->uop = u;
  return TG_OK;
}
