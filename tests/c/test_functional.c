/* test_functional.c -- the functional nn / processing / linear algebra calls of tg.h from C: results, and every error
** path's status code and message (bad input never crashes). Values are checked against numbers computed here in C. */
#include <math.h>

#include "check.h"
#include "tg.h"

static tg_tensor *from(const float *v, const int64_t *shape, size_t nd) {
  size_t n = 1;
  for (size_t i = 0; i < nd; i++) n *= (size_t)shape[i];
  tg_tensor *t = NULL;
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, shape, nd, v, n * sizeof *v, "CPU", &t));
  return t;
}
static tg_tensor *from_i(const int32_t *v, const int64_t *shape, size_t nd) {
  size_t n = 1;
  for (size_t i = 0; i < nd; i++) n *= (size_t)shape[i];
  tg_tensor *t = NULL;
  CHECK_OK(tg_tensor_from_host(TG_HOST_ARRAY, TG_INT32, shape, nd, v, n * sizeof *v, "CPU", &t));
  return t;
}
static tg_tensor *pyint(int64_t v) {
  tg_tensor *t = NULL;
  CHECK_OK(tg_tensor_const_int(TG_WEAKINT, v, &t));
  return t;
}

static void test_values(void) {
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, out[4], want[4] = {4, 5, 10, 11};
  tg_tensor *x = from(a, (int64_t[]){2, 3}, 2), *y = from(b, (int64_t[]){3, 2}, 2), *r = NULL;
  tg_tensor *ops[2] = {x, y};
  CHECK_OK(tg_tensor_einsum("ij, jk -> ik", ops, 2, TG_DTYPE_NONE, &r));
  CHECK_OK(tg_tensor_data(r, out, sizeof out));
  for (int i = 0; i < 4; i++) CHECK(out[i] == want[i]);
  tg_tensor_release(r);
  /* masked_select without a size realizes the count: 3 elements > 3 */
  tg_tensor *three = pyint(3), *mask = NULL, *sel = NULL;
  CHECK_OK(tg_tensor_binary(TG_BINARY_GT, x, three, &mask));
  CHECK_OK(tg_tensor_masked_select(x, mask, NULL, NULL, &sel));
  int64_t shape[2];
  size_t nd = 0;
  CHECK_OK(tg_tensor_shape(sel, shape, 2, &nd));
  CHECK(nd == 1 && shape[0] == 3);
  float s3[3];
  CHECK_OK(tg_tensor_data(sel, s3, sizeof s3));
  CHECK(s3[0] == 4 && s3[1] == 5 && s3[2] == 6);
  /* var_mean gives both; qr's Q R == x */
  tg_tensor *var = NULL, *mean = NULL, *Q = NULL, *R = NULL, *QR = NULL;
  CHECK_OK(tg_tensor_var_mean(x, NULL, 0, 0, 1.0, 0, &var, &mean));
  float v1, m1;
  CHECK_OK(tg_tensor_data(var, &v1, sizeof v1));
  CHECK_OK(tg_tensor_data(mean, &m1, sizeof m1));
  CHECK(fabsf(v1 - 3.5f) < 1e-5f && fabsf(m1 - 3.5f) < 1e-6f);
  CHECK_OK(tg_tensor_qr(y, &Q, &R));
  CHECK_OK(tg_tensor_dot(Q, R, TG_DTYPE_NONE, &QR));
  float qr[6];
  CHECK_OK(tg_tensor_data(QR, qr, sizeof qr));
  for (int i = 0; i < 6; i++) CHECK(fabsf(qr[i] - b[i]) < 1e-5f);
  /* max_pool2d's indices undo through max_unpool2d */
  float img[16];
  for (int i = 0; i < 16; i++) img[i] = (float)((i * 7) % 16);
  tg_tensor *im = from(img, (int64_t[]){1, 1, 4, 4}, 4), *pooled = NULL, *idx = NULL, *un = NULL;
  int64_t k[2] = {2, 2};
  CHECK_OK(tg_tensor_max_pool2d(im, k, 2, NULL, &idx, &pooled));
  CHECK_OK(tg_tensor_max_unpool2d(pooled, idx, k, 2, NULL, NULL, 0, &un));
  float u[16];
  CHECK_OK(tg_tensor_data(un, u, sizeof u));
  float total = 0;
  for (int i = 0; i < 16; i++) {
    CHECK(u[i] == 0 || u[i] == img[i]);
    total += u[i];
  }
  CHECK(total == 15 + 14 + 13 + 12); /* the max of each 2x2 window of (7i mod 16) */
  tg_tensor *all[] = {x, y, three, mask, sel, var, mean, Q, R, QR, im, pooled, idx, un};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) tg_tensor_release(all[i]);
}

static void test_errors(void) {
  float a[6] = {1, 2, 3, 4, 5, 6};
  int32_t ii[2] = {0, 1};
  tg_tensor *x = from(a, (int64_t[]){2, 3}, 2), *v = from(a, (int64_t[]){6}, 1), *iv = from_i(ii, (int64_t[]){2}, 1), *r = NULL;
  tg_tensor *U = NULL, *S = NULL, *Vt = NULL;
  tg_tensor *ops[2] = {x, x};
  CHECK_ERR(tg_tensor_einsum("ij,jk->ik", ops, 1, TG_DTYPE_NONE, &r), TG_ERR_INVALID_ARGUMENT, "number of operands doesn't match, expected 2, got 1");
  CHECK_ERR(tg_tensor_einsum("ij,jk->ik", ops, 2, TG_DTYPE_NONE, &r), TG_ERR_DTYPE, "contains different values for the same key");
  CHECK_ERR(tg_tensor_einsum(NULL, ops, 2, TG_DTYPE_NONE, &r), TG_ERR_NULL_POINTER, "formula is NULL");
  CHECK_ERR(tg_tensor_einsum("ij", NULL, 1, TG_DTYPE_NONE, &r), TG_ERR_NULL_POINTER, "operands is NULL with n=1");
  CHECK_ERR(tg_tensor_einsum("ij", ops, 1, 999, &r), TG_ERR_INVALID_ARGUMENT, "invalid dtype 999");
  CHECK_ERR(tg_tensor_einsum("ij", ops, 1, TG_DTYPE_NONE, NULL), TG_ERR_NULL_POINTER, "out is NULL");
  CHECK_ERR(tg_tensor_interpolate(x, (int64_t[]){2, 2, 2}, 3, TG_INTERPOLATE_LINEAR, 0, &r), TG_ERR_INVALID_ARGUMENT, "invalid size=(2, 2, 2)");
  CHECK_ERR(tg_tensor_interpolate(x, (int64_t[]){4}, 1, (tg_interpolate_mode)7, 0, &r), TG_ERR_INVALID_ARGUMENT, "only supports linear");
  CHECK_ERR(tg_tensor_interpolate(x, (int64_t[]){4}, 1, TG_INTERPOLATE_NEAREST, 1, &r), TG_ERR_INVALID_ARGUMENT, "align_corners option");
  CHECK_ERR(tg_tensor_qr(v, &U, &S), TG_ERR_SHAPE, "expected two or more dimensions, got 1");
  CHECK_ERR(tg_tensor_qr(x, NULL, &S), TG_ERR_NULL_POINTER, "Q or R is NULL");
  CHECK_ERR(tg_tensor_svd(v, 1, &U, &S, &Vt), TG_ERR_SHAPE, "expected two or more dimensions");
  CHECK_ERR(tg_tensor_svd(x, 1, &U, NULL, &Vt), TG_ERR_NULL_POINTER, "U, S or Vt is NULL");
  CHECK(U == NULL && S == NULL && Vt == NULL);
  CHECK_ERR(tg_tensor_newton_schulz(v, 1, (double[]){1.0}, 1, 1e-7, &r), TG_ERR_SHAPE, "NS only works for two or more dims");
  CHECK_ERR(tg_tensor_newton_schulz(x, 1, NULL, 2, 1e-7, &r), TG_ERR_NULL_POINTER, "params is NULL with n=2");
  CHECK_ERR(tg_tensor_embedding(x, x, &r), TG_ERR_DTYPE, "Expected integer dtype for index in embedding, got dtypes.float");
  CHECK_ERR(tg_tensor_masked_select(x, x, NULL, NULL, &r), TG_ERR_DTYPE, "masked_select expects bool mask tensor, got dtypes.float");
  CHECK_ERR(tg_tensor_masked_select(x, x, NULL, x, &r), TG_ERR_INVALID_ARGUMENT, "fill_value must be a Python scalar");
  CHECK_ERR(tg_tensor_nonzero(x, (int64_t[]){-2}, NULL, &r), TG_ERR_INVALID_ARGUMENT, "size=-2 is negative");
  CHECK_ERR(tg_tensor_scaled_dot_product_attention(x, x, x, x, 0.0, 1, 0, 0, &r), TG_ERR_DTYPE, "cannot set attn_mask when is_causal=True");
  CHECK_ERR(tg_tensor_dropout(x, 1.5, 1, &r), TG_ERR_INVALID_ARGUMENT, "p=1.5 is out of range [0, 1]");
  CHECK_ERR(tg_tensor_dropout(x, NAN, 0, &r), TG_ERR_INVALID_ARGUMENT, "p=nan is out of range [0, 1]");
  CHECK_ERR(tg_tensor_binary_crossentropy(x, x, (tg_reduction)5, &r), TG_ERR_INVALID_ARGUMENT, "reduction=5 must be one of");
  CHECK_ERR(tg_tensor_binary_crossentropy_logits(x, x, (tg_reduction)-1, NULL, &r), TG_ERR_INVALID_ARGUMENT, "reduction=-1");
  CHECK_ERR(tg_tensor_nll_loss(x, iv, NULL, NULL, (tg_reduction)3, &r), TG_ERR_INVALID_ARGUMENT, "reduction=3");
  CHECK_ERR(tg_tensor_clamp(x, NULL, NULL, &r), TG_ERR_DTYPE, "at least one of 'min_' or 'max_' must not be None");
  CHECK_ERR(tg_tensor_diagonal(x, 0, 1, 1, &r), TG_ERR_INVALID_ARGUMENT, "dim1 and dim2 cannot be the same dimension");
  CHECK_ERR(tg_tensor_diagonal(x, 0, 0, 5, &r), TG_ERR_OUT_OF_RANGE, "dim=5 out of range [-2, 1]");
  CHECK_ERR(tg_tensor_max_unpool2d(v, iv, (int64_t[]){2}, 1, NULL, NULL, 0, &r), TG_ERR_INVALID_ARGUMENT, "not enough values to unpack");
  CHECK_ERR(tg_tensor_max_unpool2d(x, iv, NULL, 0, NULL, NULL, 0, &r), TG_ERR_NULL_POINTER, "kernel is NULL");
  tg_conv_params p;
  tg_conv_params_init(&p);
  p.padding = (int64_t[]){1, 1, 1}, p.npadding = 3;
  tg_tensor *x4 = NULL;
  CHECK_OK(tg_tensor_reshape(x, (int64_t[]){1, 1, 2, 3}, 4, &x4));
  CHECK_ERR(tg_tensor_max_unpool2d(x4, x4, (int64_t[]){2, 2}, 2, &p, NULL, 0, &r), TG_ERR_INVALID_ARGUMENT,
            "Padding must be an int or a sequence of length 2 or 4, but got padding=(1, 1, 1) with dims=2.");
  p.struct_size = 4;
  CHECK_ERR(tg_tensor_max_unpool2d(x4, x4, (int64_t[]){2, 2}, 2, &p, NULL, 0, &r), TG_ERR_INVALID_ARGUMENT, "struct_size=4 is too small");
  CHECK_ERR(tg_tensor_normalize(x, x, 1, 1e-12, &r), TG_ERR_INVALID_ARGUMENT, "p must be a Python scalar");
  CHECK_ERR(tg_tensor_normalize(x, NULL, 2, 1e-12, &r), TG_ERR_OUT_OF_RANGE, "dim=2 out of range");
  CHECK_ERR(tg_tensor_logcumsumexp(x, 3, &r), TG_ERR_OUT_OF_RANGE, "");
  CHECK_ERR(tg_tensor_batchnorm(x, NULL, NULL, x, x, NULL, 1, &r), TG_ERR_NULL_POINTER, "axes is NULL with n=1");
  CHECK_ERR(tg_tensor_linear(x, x, NULL, TG_DTYPE_NONE, &r), TG_ERR_SHAPE, "cannot dot (2, 3) and (2, 3)");
  CHECK_ERR(tg_tensor_var_mean(x, NULL, 0, 0, 1.0, 0, NULL, &r), TG_ERR_NULL_POINTER, "var or mean is NULL");
  CHECK_ERR(tg_tensor_lerp(NULL, x, x, &r), TG_ERR_NULL_POINTER, "");
  CHECK(r == NULL);
  tg_tensor_release(x4);
  tg_tensor_release(x);
  tg_tensor_release(v);
  tg_tensor_release(iv);
}

int main(void) {
  test_values(); /* the first realize opens the CPU device (handles that live until exit) */
  size_t live0 = 0, live1 = 99;
  CHECK_OK(tg_debug_live_handles(&live0));
  test_values();
  test_errors();
  CHECK_OK(tg_debug_live_handles(&live1));
  CHECK(live1 == live0); /* no tensor leaked, on success or on error */
  CHECK_DONE();
}
