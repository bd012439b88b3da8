/* test_tensor.c -- the tg_tensor API (core/src/tensor): error paths (NULL, released and foreign handles, bad shapes and
** dtypes, with tinygrad's messages), getters, the host-data table the realize step reads, and reference counts back to
** baseline after 10,000 eager graph-building ops on fresh tensors, from one thread and from several. Graph parity with
** tinygrad itself is tests/test_tensor_graph.py. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "tensor/tensor.h"
#include "tg.h"

static tg_tensor *empty(int dtype, size_t ndim, ...) {
  int64_t shape[8];
  va_list ap;
  va_start(ap, ndim);
  for (size_t i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
  va_end(ap);
  tg_tensor *t = NULL;
  CHECK_OK(tg_tensor_empty(shape, ndim, dtype, "CPU", &t));
  return t;
}
#define E2(dt, a, b) empty((dt), 2, (int64_t)(a), (int64_t)(b))
#define E1(dt, a) empty((dt), 1, (int64_t)(a))

static tg_tensor *cint(int64_t v) {
  tg_tensor *t = NULL;
  CHECK_OK(tg_tensor_const_int(TG_WEAKINT, v, &t));
  return t;
}

static void shape_is(tg_tensor *t, const char *want) {
  int64_t d[8];
  size_t n = 0;
  char buf[128];
  CHECK_OK(tg_tensor_shape(t, d, 8, &n));
  tgt_tuple_str(d, n, buf, sizeof buf);
  CHECK(!strcmp(buf, want));
  if (strcmp(buf, want)) fprintf(stderr, "  shape %s, want %s\n", buf, want);
}

static void test_null_and_handles(void) {
  tg_tensor *a = E2(TG_FLOAT32, 2, 3), *out = NULL, *b = NULL;
  int64_t sh[2] = {3, 2};
  CHECK_ERR(tg_tensor_reshape(a, sh, 2, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_tensor_reshape(NULL, sh, 2, &out), TG_ERR_NULL_POINTER, "x is NULL");
  CHECK_ERR(tg_tensor_reshape(a, NULL, 2, &out), TG_ERR_NULL_POINTER, "shape is NULL");
  CHECK_ERR(tg_tensor_binary(TG_BINARY_ADD, a, NULL, &out), TG_ERR_NULL_POINTER, "y is NULL");
  CHECK_ERR(tg_tensor_shape(a, NULL, 0, NULL), TG_ERR_NULL_POINTER, "ndim is NULL");
  CHECK_ERR(tg_tensor_graph_json(a, NULL, 4, &(size_t){0}), TG_ERR_NULL_POINTER, "buf is NULL");
  CHECK_ERR(tg_tensor_binary((tg_binary_op)99, a, a, &out), TG_ERR_INVALID_ARGUMENT, "invalid op 99");
  CHECK_ERR(tg_tensor_unary((tg_unary_op)-1, a, &out), TG_ERR_INVALID_ARGUMENT, "invalid op");
  CHECK_ERR(tg_tensor_reduce((tg_reduce_op)7, a, NULL, 0, 0, TG_DTYPE_NONE, &out), TG_ERR_INVALID_ARGUMENT, "invalid op 7");
  CHECK_ERR(tg_tensor_cast(a, (tg_dtype)20, &out), TG_ERR_INVALID_ARGUMENT, "invalid dtype 20");
  CHECK_ERR(tg_tensor_empty(sh, 2, 31, NULL, &out), TG_ERR_INVALID_ARGUMENT, "invalid dtype 31"); /* void is internal */
  CHECK_OK(tg_tensor_release(NULL));
  /* retain/release pairs; a released handle is detected, also through a copy of it and for a double release */
  CHECK_OK(tg_tensor_retain(a));
  CHECK_OK(tg_tensor_release(a));
  CHECK_OK(tg_tensor_reshape(a, sh, 2, &b));
  CHECK_OK(tg_tensor_release(a));
  CHECK_ERR(tg_tensor_release(a), TG_ERR_INVALID_HANDLE, "released tg_tensor handle");
  CHECK_ERR(tg_tensor_reshape(a, sh, 2, &out), TG_ERR_INVALID_HANDLE, "released tg_tensor handle");
  CHECK_ERR(tg_tensor_binary(TG_BINARY_ADD, b, a, &out), TG_ERR_INVALID_HANDLE, "y");
  CHECK_ERR(tg_tensor_dtype(a, &(tg_dtype){0}), TG_ERR_INVALID_HANDLE, "released");
  shape_is(b, "(3, 2)"); /* b keeps the graph it was built from */
  /* a handle of another kind is refused */
  tg_device *cpu;
  CHECK_OK(tg_device_get("CPU", &cpu));
  tg_buffer *buf;
  CHECK_OK(tg_buffer_alloc(cpu, 16, &buf));
  CHECK_ERR(tg_tensor_retain((tg_tensor *)buf), TG_ERR_INVALID_HANDLE, "not a tg_tensor handle");
  CHECK_ERR(tg_tensor_release((tg_tensor *)(uintptr_t)0x12345), TG_ERR_INVALID_HANDLE, "not a tg_tensor handle");
  CHECK_OK(tg_buffer_release(buf));
  CHECK_OK(tg_tensor_release(b));
}

static void test_getters(void) {
  tg_tensor *a = E2(TG_FLOAT16, 2, 3), *c = cint(3), *s = NULL;
  tg_dtype dt;
  const char *dev;
  size_t n = 99;
  CHECK_OK(tg_tensor_dtype(a, &dt));
  CHECK(dt == TG_FLOAT16);
  CHECK_OK(tg_tensor_device(a, &dev));
  CHECK(dev && !strcmp(dev, "CPU"));
  CHECK_OK(tg_tensor_shape(a, NULL, 0, &n));
  CHECK(n == 2);
  CHECK_OK(tg_tensor_device(c, &dev));
  CHECK(dev == NULL); /* constants have no device, as in tinygrad */
  CHECK_OK(tg_tensor_dtype(c, &dt));
  CHECK(dt == TG_WEAKINT);
  shape_is(c, "()");
  CHECK_OK(tg_tensor_binary(TG_BINARY_ADD, c, a, &s)); /* the device comes from the first operand that has one */
  CHECK_OK(tg_tensor_device(s, &dev));
  CHECK(dev && !strcmp(dev, "CPU"));
  tg_tensor *e = NULL;
  CHECK_OK(tg_tensor_empty((int64_t[]){4}, 1, TG_DTYPE_NONE, "cuda:0", &e));
  CHECK_OK(tg_tensor_device(e, &dev));
  CHECK(dev && !strcmp(dev, "CUDA")); /* canonicalised as tinygrad's Device.canonicalize */
  CHECK_OK(tg_tensor_dtype(e, &dt));
  CHECK(dt == TG_FLOAT32);
  /* graph JSON: sized by a first call, truncated safely by a short buffer */
  size_t len = 0, len2 = 0;
  CHECK_OK(tg_tensor_graph_json(a, NULL, 0, &len));
  char *js = malloc(len + 1), small[8];
  CHECK_OK(tg_tensor_graph_json(a, js, len + 1, &len2));
  CHECK(len2 == len && strlen(js) == len && strstr(js, "\"BUFFER\"") && strstr(js, "\"RESHAPE\""));
  CHECK_OK(tg_tensor_graph_json(a, small, sizeof small, &len2));
  CHECK(len2 == len && strlen(small) == sizeof small - 1);
  free(js);
  tg_tensor_release(a), tg_tensor_release(c), tg_tensor_release(s), tg_tensor_release(e);
}

/* Bad input gets tinygrad's exception message, with a status naming its kind. */
static void test_errors(void) {
  tg_tensor *a = E2(TG_FLOAT32, 2, 3), *i = E2(TG_INT32, 2, 3), *v = E1(TG_FLOAT32, 4), *out = NULL;
  CHECK_ERR(tg_tensor_reshape(a, (int64_t[]){4}, 1, &out), TG_ERR_SHAPE, "size mismatch, can't reshape ((2, 3)) -> ((4,))");
  CHECK_ERR(tg_tensor_reshape(a, (int64_t[]){-1, -1}, 2, &out), TG_ERR_INVALID_ARGUMENT,
            "only one dimension can be inferred using -1, getting (-1, -1)");
  CHECK_ERR(tg_tensor_reshape(a, (int64_t[]){-2, -3}, 2, &out), TG_ERR_SHAPE, "shape can't contain negative numbers (-2, -3)");
  CHECK_ERR(tg_tensor_permute(a, (int64_t[]){0, 0}, 2, &out), TG_ERR_INVALID_ARGUMENT, "order is not a valid permutation, getting (0, 0)");
  CHECK_ERR(tg_tensor_permute(a, (int64_t[]){0, 2}, 2, &out), TG_ERR_OUT_OF_RANGE, "dim=2 out of range [-2, 1]");
  CHECK_ERR(tg_tensor_expand(a, (int64_t[]){4, 3}, 2, &out), TG_ERR_SHAPE, "cannot broadcast (2, 3) to new_shape=(4, 3)");
  CHECK_ERR(tg_tensor_expand(a, (int64_t[]){3}, 1, &out), TG_ERR_SHAPE, "cannot broadcast (2, 3) to new_shape=(1, 3)");
  CHECK_ERR(tg_tensor_binary(TG_BINARY_ADD, a, v, &out), TG_ERR_SHAPE,
            "shape mismatch: objects cannot be broadcast to a single shape ((2, 3), (4,))");
  CHECK_ERR(tg_tensor_pad(a, (int64_t[]){1, 1}, 1, NULL, &out), TG_ERR_SHAPE, "padding length is improper, padding=((1, 1),) self.ndim=2");
  CHECK_ERR(tg_tensor_shrink(a, (int64_t[]){0, 5, 0, 3}, 2, &out), TG_ERR_SHAPE, "invalid shrink ((0, 5), (0, 3)) for (2, 3)");
  CHECK_ERR(tg_tensor_shrink(a, (int64_t[]){0, 1}, 1, &out), TG_ERR_SHAPE, "self.ndim=2 != len(arg)=1");
  CHECK_ERR(tg_tensor_flip(a, (int64_t[]){1, -1}, 2, &out), TG_ERR_INVALID_ARGUMENT, "dim can appear at most once, getting (1, 1)");
  CHECK_ERR(tg_tensor_reduce(TG_REDUCE_SUM, a, (int64_t[]){2}, 1, 0, TG_DTYPE_NONE, &out), TG_ERR_OUT_OF_RANGE, "dim=2 out of range");
  CHECK_ERR(tg_tensor_where(a, a, a, &out), TG_ERR_DTYPE, "where cond must be bool, got dtypes.float");
  CHECK_ERR(tg_tensor_binary(TG_BINARY_SHL, a, i, &out), TG_ERR_DTYPE, "shift operands must be int");
  CHECK_ERR(tg_tensor_dot(a, a, TG_DTYPE_NONE, &out), TG_ERR_SHAPE, "cannot dot (2, 3) and (2, 3)");
  CHECK_ERR(tg_tensor_assign(a, i), TG_ERR_DTYPE, "assign dtype mismatch dtypes.float != dtypes.int");
  CHECK_ERR(tg_tensor_assign(a, v), TG_ERR_SHAPE, "cannot broadcast (4,) to new_shape=(2, 3)");
  CHECK_ERR(tg_tensor_assign(NULL, a), TG_ERR_NULL_POINTER, "self is NULL");
  CHECK_ERR(tg_tensor_assign(a, NULL), TG_ERR_NULL_POINTER, "x is NULL");
  CHECK_ERR(tg_tensor_lower(NULL, 1, NULL), TG_ERR_NULL_POINTER, "tensors is NULL");
  CHECK_ERR(tg_tensor_softmax(a, 2, TG_DTYPE_NONE, 0, &out), TG_ERR_OUT_OF_RANGE, "dim=2 out of range");
  CHECK_ERR(tg_tensor_softmax(a, 0, 99, 0, &out), TG_ERR_INVALID_ARGUMENT, "invalid dtype 99");
  CHECK_ERR(tg_tensor_argmax(a, (int64_t[]){-3}, 0, 0, &out), TG_ERR_OUT_OF_RANGE, "out of range");
  CHECK_ERR(tg_tensor_var(NULL, NULL, 0, 0, 1, 0, &out), TG_ERR_NULL_POINTER, "x is NULL");
  CHECK_ERR(tg_tensor_layernorm(a, NULL, 0, 1e-5, &out), TG_ERR_INVALID_ARGUMENT, "at least one axis");
  CHECK_ERR(tg_tensor_cross_entropy(a, i, (tg_reduction)7, 0.0, &out), TG_ERR_INVALID_ARGUMENT, "must be one of");
  CHECK_ERR(tg_tensor_sparse_categorical_crossentropy(a, NULL, -1, 0.0, TG_REDUCTION_MEAN, &out), TG_ERR_NULL_POINTER, "Y is NULL");
  CHECK_ERR(tg_tensor_sparse_categorical_crossentropy(a, i, -1, 1.5, TG_REDUCTION_MEAN, &out), TG_ERR_INVALID_ARGUMENT, "label_smoothing");
  CHECK_ERR(tg_tensor_logsumexp(a, (int64_t[]){5}, 1, 0, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  tg_jit *jit = NULL;
  CHECK_ERR(tg_jit_capture_end(NULL, 0, &jit), TG_ERR_INVALID_ARGUMENT, "no capture in progress");
  CHECK_OK(tg_jit_capture_begin());
  CHECK_ERR(tg_jit_capture_begin(), TG_ERR_INVALID_ARGUMENT, "inside another TinyJit");
  CHECK_ERR(tg_jit_capture_end(NULL, 0, &jit), TG_ERR_INVALID_ARGUMENT, "didn't JIT anything!");
  CHECK(jit == NULL);
  CHECK_ERR(tg_jit_run(NULL, NULL, 0), TG_ERR_NULL_POINTER, "jit");
  CHECK_ERR(tg_jit_run((tg_jit *)a, NULL, 0), TG_ERR_INVALID_HANDLE, "not a tg_jit handle");
  CHECK_OK(tg_jit_release(NULL));
  tg_tensor *g[1] = {NULL};
  CHECK_ERR(tg_tensor_gradient(a, (tg_tensor *[]){a}, 1, NULL, 0, g), TG_ERR_SHAPE, "backward must be called on a scalar tensor");
  CHECK_ERR(tg_tensor_gradient(i, (tg_tensor *[]){i}, 1, i, 0, g), TG_ERR_DTYPE, "only float Tensors have gradient");
  CHECK_ERR(tg_tensor_gradient(a, NULL, 1, a, 0, g), TG_ERR_NULL_POINTER, "targets is NULL");
  CHECK_ERR(tg_tensor_gradient(a, (tg_tensor *[]){NULL}, 1, a, 0, g), TG_ERR_NULL_POINTER, "targets[0]");
  CHECK_ERR(tg_tensor_gradient(a, (tg_tensor *[]){a}, 1, a, 0, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_OK(tg_tensor_gradient(a, (tg_tensor *[]){a}, 1, a, 0, g)); /* d a / d a with gradient a: a */
  tg_tensor_release(g[0]);
  CHECK_ERR(tg_tensor_lower((tg_tensor *[]){a, NULL}, 2, NULL), TG_ERR_NULL_POINTER, "tensors[1]");
  tg_tensor *c = cint(-1), *two = cint(2), *zero = cint(0);
  CHECK_ERR(tg_tensor_binary(TG_BINARY_POW, i, c, &out), TG_ERR_DTYPE, "base needs to be float");
  CHECK_ERR(tg_tensor_dot(c, a, TG_DTYPE_NONE, &out), TG_ERR_SHAPE, "both tensors need to be at least 1D, got 0D and 2D");
  CHECK_ERR(tg_tensor_bitcast(c, TG_INT32, &out), TG_ERR_DTYPE, "bitcast requires concrete dtypes, got dtypes.weakint -> dtypes.int");
  CHECK_ERR(tg_tensor_arange(zero, two, zero, TG_DTYPE_NONE, &out), TG_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
  CHECK_ERR(tg_tensor_arange(two, NULL, NULL, TG_UINT8, &out), TG_OK, ""); /* fits: arange(2, dtype=uint8) */
  tg_tensor_release(out);
  CHECK_ERR(tg_tensor_arange(c, NULL, NULL, TG_UINT8, &out), TG_OK, ""); /* arange(-1) is empty */
  tg_tensor_release(out);
  CHECK_ERR(tg_tensor_arange(a, NULL, NULL, TG_DTYPE_NONE, &out), TG_ERR_INVALID_ARGUMENT, "start must be a Python scalar");
  CHECK_ERR(tg_tensor_pad(a, (int64_t[]){1, 1, 0, 0}, 2, a, &out), TG_ERR_INVALID_ARGUMENT, "value must be a Python scalar");
  /* host data: byte count, dtype and shape checked before anything is built */
  float data[6] = {0};
  CHECK_ERR(tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, (int64_t[]){2, 3}, 2, data, 20, NULL, &out), TG_ERR_INVALID_ARGUMENT,
            "nbytes 20 does not match shape (2, 3) of dtypes.float (6 elements x 4 bytes = 24)");
  CHECK_ERR(tg_tensor_from_host(TG_HOST_LIST, TG_BFLOAT16, (int64_t[]){6}, 1, data, 12, NULL, &out), TG_ERR_INVALID_ARGUMENT,
            "nbytes 12 does not match shape (6,) of dtypes.float (6 elements x 4 bytes = 24)"); /* bfloat16 lists are float32 */
  CHECK_ERR(tg_tensor_from_host(TG_HOST_ARRAY, TG_WEAKINT, (int64_t[]){6}, 1, data, 24, NULL, &out), TG_ERR_DTYPE,
            "cannot create storage for weak dtype dtypes.weakint");
  CHECK_ERR(tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, (int64_t[]){-2, -3}, 2, data, 24, NULL, &out), TG_ERR_SHAPE,
            "shape can't contain negative numbers (-2, -3)");
  CHECK_ERR(tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, (int64_t[]){6}, 1, NULL, 24, NULL, &out), TG_ERR_NULL_POINTER, "data is NULL");
  CHECK_ERR(tg_tensor_from_host((tg_host_kind)5, TG_FLOAT32, (int64_t[]){6}, 1, data, 24, NULL, &out), TG_ERR_INVALID_ARGUMENT,
            "invalid host kind 5");
  CHECK_ERR(tg_tensor_empty((int64_t[]){-1}, 1, TG_DTYPE_NONE, NULL, &out), TG_ERR_SHAPE, "shape can't contain negative numbers (-1,)");
  CHECK_ERR(tg_tensor_const_float(TG_INT32, 0.0 / 0.0, &out), TG_ERR_INVALID_ARGUMENT, "NaN");
  int64_t many[TGT_MAXD + 1] = {0};
  CHECK_ERR(tg_tensor_reshape(a, many, TGT_MAXD + 1, &out), TG_ERR_INVALID_ARGUMENT, "at most 64");
  tg_tensor_release(a), tg_tensor_release(i), tg_tensor_release(v), tg_tensor_release(c), tg_tensor_release(two),
      tg_tensor_release(zero);
}

/* The realize step finds the bytes of Tensor(array) through the BUFFER UOp; the entry dies with the graph. */
static tg_tensor *empty4(int64_t a, int64_t b, int64_t c, int64_t d) { return empty(TG_FLOAT32, 4, a, b, c, d); }

/* conv2d / conv_transpose2d / pools: bad input, tg_conv_params versioning, both max_pool2d results. */
static void conv_cases(void) {
  tg_tensor *x = empty4(1, 4, 6, 6), *w = empty4(6, 2, 3, 3), *w3 = empty4(6, 3, 3, 3), *wt = empty4(4, 2, 3, 3), *x1 = E1(TG_FLOAT32, 4);
  tg_tensor *out = NULL, *idx = NULL;
  tg_conv_params p;
  tg_conv_params_init(&p);
  CHECK(p.struct_size == sizeof p && p.groups == 1 && p.count_include_pad == 1 && p.dtype == TG_DTYPE_NONE && !p.stride);
  tg_conv_params_init(NULL);
  int64_t k[2] = {2, 2}, three[3] = {1, 2, 3}, one[1] = {1}, zero2[2] = {0, 0};
  CHECK_ERR(tg_tensor_conv2d(x, w, NULL, NULL, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_tensor_conv2d(x, NULL, NULL, NULL, &out), TG_ERR_NULL_POINTER, "weight is NULL");
  CHECK_ERR(tg_tensor_conv2d(x, w, NULL, &(tg_conv_params){0}, &out), TG_ERR_INVALID_ARGUMENT, "tg_conv_params_init");
  CHECK_ERR(tg_tensor_conv2d(x, w3, NULL, NULL, &out), TG_ERR_SHAPE,
            "Input Tensor shape (1, 4, 6, 6) does not match the shape of the weights (6, 3, 3, 3). (3 vs. 4)");
  p.groups = 2, p.padding = three, p.npadding = 3;
  CHECK_ERR(tg_tensor_conv2d(x, w, NULL, &p, &out), TG_ERR_INVALID_ARGUMENT,
            "Padding must be an int or a sequence of length 2 or 4, but got padding=(1, 2, 3) with dims=2.");
  p.padding = NULL, p.stride = one, p.nstride = 1;
  CHECK_ERR(tg_tensor_conv2d(x, w, NULL, &p, &out), TG_ERR_INVALID_ARGUMENT, "stride/dilation mismatch kernel:(3, 3) stride:(1,) dilation:(1, 1)");
  p.stride = zero2, p.nstride = 2;
  CHECK_ERR(tg_tensor_conv2d(x, w, NULL, &p, &out), TG_ERR_INVALID_ARGUMENT, "stride must be positive");
  p.stride = NULL, p.dtype = 77;
  CHECK_ERR(tg_tensor_conv2d(x, w, NULL, &p, &out), TG_ERR_INVALID_ARGUMENT, "invalid dtype 77");
  p.dtype = TG_DTYPE_NONE;
  CHECK_OK(tg_tensor_conv2d(x, w, NULL, &p, &out));
  shape_is(out, "(1, 6, 4, 4)");
  tg_tensor_release(out), out = NULL;
  /* a caller built against a header that ended at `groups`: the later fields are not read */
  p.padding = three, p.npadding = 3, p.struct_size = offsetof(tg_conv_params, stride);
  CHECK_OK(tg_tensor_conv2d(x, w, NULL, &p, &out));
  shape_is(out, "(1, 6, 4, 4)");
  tg_tensor_release(out), out = NULL;
  tg_conv_params_init(&p);
  p.groups = 0;
  CHECK_ERR(tg_tensor_conv_transpose2d(x, w, NULL, &p, &out), TG_ERR_INVALID_ARGUMENT, "groups must be positive, got 0");
  p.groups = 1, p.output_padding = one, p.noutput_padding = 1;
  CHECK_ERR(tg_tensor_conv_transpose2d(x, wt, NULL, &p, &out), TG_ERR_INVALID_ARGUMENT, "output_padding needs 2 values, got 1");
  CHECK_ERR(tg_tensor_avg_pool2d(x, NULL, 2, NULL, &out), TG_ERR_NULL_POINTER, "kernel is NULL");
  CHECK_ERR(tg_tensor_avg_pool2d(x, k, 0, NULL, &out), TG_ERR_INVALID_ARGUMENT, "the kernel has no dims");
  CHECK_ERR(tg_tensor_max_pool2d(x, (int64_t[]){7, 7}, 2, NULL, NULL, &out), TG_ERR_SHAPE, "kernel size cannot be greater than actual input size");
  CHECK_ERR(tg_tensor_max_pool2d(x1, k, 2, NULL, NULL, &out), TG_ERR_SHAPE, "self.ndim=1 != len(arg)=2");
  CHECK(out == NULL);
  CHECK_OK(tg_tensor_max_pool2d(x, k, 2, NULL, &idx, &out));
  shape_is(out, "(1, 4, 3, 3)");
  shape_is(idx, "(1, 4, 3, 3)");
  tg_dtype dt;
  CHECK_OK(tg_tensor_dtype(idx, &dt));
  CHECK(dt == TG_INT32);
  tg_tensor_release(out), tg_tensor_release(idx);
  tg_tensor_release(x), tg_tensor_release(w), tg_tensor_release(w3), tg_tensor_release(wt), tg_tensor_release(x1);
}

static void test_conv(void) {
  conv_cases(); /* first-use state outside the count */
  size_t uops = tg_uop_live_count();
  conv_cases();
  CHECK(tg_uop_live_count() == uops);
}

static void test_host_data(void) {
  size_t base = tgt_host_count(), n = 0;
  int32_t data[6] = {1, 2, 3, 4, 5, 6};
  tg_tensor *t = NULL, *u = NULL;
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_INT32, (int64_t[]){2, 3}, 2, data, sizeof data, "CPU", &t));
  data[0] = 99; /* copied before return */
  tg_tv v;
  CHECK_OK(tgt_tensor_get(t, "t", &v));
  CHECK(v.u->op == TG_OP_COPY && !strcmp(v.dev, "CPU"));
  tg_uop *b = tg_uop_base(v.u->src[0]);
  CHECK(b->op == TG_OP_BUFFER);
  const int32_t *got = tg_tensor_host_data(b, &n);
  CHECK(got && n == sizeof data && got[0] == 1 && got[5] == 6);
  CHECK(tg_tensor_host_data(v.u, &n) == NULL && n == 0);
  CHECK(tgt_host_count() == base + 1);
  CHECK_OK(tg_tensor_unary(TG_UNARY_NEG, t, &u));
  CHECK_OK(tg_tensor_release(t));
  CHECK(tgt_host_count() == base + 1); /* u still holds the graph */
  CHECK_OK(tg_tensor_release(u));
  CHECK(tgt_host_count() == base);
  /* the list form: bfloat16 is staged as float32 on "PYTHON" and cast there, before the copy */
  float f[3] = {1, 2, 3};
  CHECK_OK(tg_tensor_from_host(TG_HOST_LIST, TG_BFLOAT16, (int64_t[]){3}, 1, f, sizeof f, "CPU", &t));
  CHECK_OK(tgt_tensor_get(t, "t", &v));
  CHECK(v.u->op == TG_OP_COPY && v.u->dtype == TG_BFLOAT16 && v.u->src[0]->op == TG_OP_CAST);
  CHECK(tg_tensor_host_data(tg_uop_base(v.u->src[0]->src[0]), &n) && n == sizeof f);
  CHECK_OK(tg_tensor_release(t));
  /* zero elements, NULL data */
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, (int64_t[]){0, 3}, 2, NULL, 0, NULL, &t));
  shape_is(t, "(0, 3)");
  CHECK_OK(tg_tensor_release(t));
  CHECK(tgt_host_count() == base);
}

/* One eager step on fresh tensors, touching every family; returns 0 on failure. */
static int eager_step(int k) {
  int ok = 1;
  float d[6] = {(float)k, 1, 2, 3, 4, 5};
  tg_tensor *x = NULL, *y = NULL, *w = NULL, *s = NULL, *r[12] = {0};
  ok &= tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, (int64_t[]){2, 3}, 2, d, sizeof d, "CPU", &x) == TG_OK;
  ok &= tg_tensor_empty((int64_t[]){3, 4}, 2, TG_DTYPE_NONE, "CPU", &w) == TG_OK;
  ok &= tg_tensor_const_float(TG_WEAKFLOAT, 0.5 * k, &s) == TG_OK;
  ok &= tg_tensor_binary((tg_binary_op)(k % 22), x, s, &r[0]) == TG_OK || k % 22 >= TG_BINARY_AND; /* bitwise on floats is fine too */
  ok &= tg_tensor_unary((tg_unary_op)(k % 28), x, &r[1]) == TG_OK;
  ok &= tg_tensor_dot(x, w, TG_DTYPE_NONE, &r[2]) == TG_OK;
  ok &= tg_tensor_reduce((tg_reduce_op)(k % 7), r[2] ? r[2] : x, (int64_t[]){-1}, 1, k & 1, TG_DTYPE_NONE, &r[3]) == TG_OK;
  ok &= tg_tensor_pad(x, (int64_t[]){1, 0, -1, 2}, 2, s, &r[4]) == TG_OK;
  ok &= tg_tensor_permute(x, (int64_t[]){1, 0}, 2, &r[5]) == TG_OK;
  ok &= tg_tensor_expand(r[5], (int64_t[]){4, 3, 2}, 3, &r[6]) == TG_OK;
  ok &= tg_tensor_flip(r[6], (int64_t[]){0, 2}, 2, &r[7]) == TG_OK;
  ok &= tg_tensor_full((int64_t[]){2, 3}, 2, s, TG_DTYPE_NONE, NULL, 1, &r[8]) == TG_OK;
  ok &= tg_tensor_arange(s, NULL, NULL, TG_DTYPE_NONE, &r[9]) == TG_OK || k == 0;
  ok &= tg_tensor_reshape(x, (int64_t[]){-1}, 1, &r[10]) == TG_OK;
  ok &= tg_tensor_contiguous(r[10], &r[11]) == TG_OK;
  tg_tensor_reshape(x, (int64_t[]){4}, 1, &y); /* an error path in the loop too */
  ok &= y == NULL;
  tg_tensor_release(x), tg_tensor_release(w), tg_tensor_release(s);
  for (int i = 0; i < 12; i++) tg_tensor_release(r[i]);
  return ok;
}

static void test_refcounts_back_to_baseline(void) {
  eager_step(1); /* first-use state (device names) outside the count */
  size_t uops = tg_uop_live_count(), host = tgt_host_count();
  int ok = 1;
  for (int k = 0; k < 10000; k++) ok &= eager_step(k);
  CHECK(ok);
  CHECK(tg_uop_live_count() == uops);
  CHECK(tgt_host_count() == host);
  if (tg_uop_live_count() != uops) fprintf(stderr, "  live UOps %zu, baseline %zu\n", tg_uop_live_count(), uops);
}

static void *worker(void *arg) {
  int ok = 1, id = (int)(intptr_t)arg;
  for (int k = 0; k < 1000; k++) ok &= eager_step(k * 4 + id);
  return (void *)(intptr_t)ok;
}

static void test_threads(void) {
  size_t uops = tg_uop_live_count(), host = tgt_host_count();
  pthread_t th[4];
  for (intptr_t i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, (void *)i);
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    ok &= (int)(intptr_t)r;
  }
  CHECK(ok);
  CHECK(tg_uop_live_count() == uops);
  CHECK(tgt_host_count() == host);
}

int main(void) {
  test_null_and_handles();
  test_getters();
  test_errors();
  test_conv();
  test_host_data();
  test_refcounts_back_to_baseline();
  test_threads();
  CHECK_DONE();
}
