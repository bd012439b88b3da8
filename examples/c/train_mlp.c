/* train_mlp.c -- a small network trained from C through include/tg.h alone: a 2-layer MLP (8 -> 16 -> 1, ReLU) fitted
** to y = sin(x0) + x1*x2 by SGD on mean squared error. Graph building (tg_tensor_*), autograd (tg_tensor_gradient),
** in-place updates (tg_tensor_assign) and realize; the loss is read back each step. Exits 1 unless the loss fell by
** at least 5x. Build: part of `cmake -DBUILD_EXAMPLES=ON`; run by ctest as example_train_mlp. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "tg.h"

#define TRY(call)                                                                                                      \
  do {                                                                                                                 \
    tg_status s_ = (call);                                                                                             \
    if (s_ != TG_OK) {                                                                                                 \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, tg_last_error());                          \
      return 1;                                                                                                        \
    }                                                                                                                  \
  } while (0)

enum { N = 64, IN = 8, HID = 16, STEPS = 100 };

/* a small deterministic generator for the data and the initial weights (uniform in [-1, 1)) */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((rng >> 40) * (1.0 / (1ull << 24))) * 2.0f - 1.0f;
}

static tg_status from_floats(const float *v, const int64_t *shape, size_t ndim, tg_tensor **out) {
  size_t n = 1;
  for (size_t i = 0; i < ndim; i++) n *= (size_t)shape[i];
  return tg_tensor_from_host(TG_HOST_ARRAY, TG_FLOAT32, shape, ndim, v, n * sizeof(float), "CPU", out);
}

/* a new reference to op(x, y), releasing nothing */
static tg_status bin(tg_binary_op op, tg_tensor *x, tg_tensor *y, tg_tensor **out) { return tg_tensor_binary(op, x, y, out); }

int main(void) {
  static float xs[N * IN], ys[N], w1v[IN * HID], b1v[HID], w2v[HID], b2v[1];
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < IN; j++) xs[i * IN + j] = uniform();
    ys[i] = sinf(xs[i * IN]) + xs[i * IN + 1] * xs[i * IN + 2];
  }
  for (int i = 0; i < IN * HID; i++) w1v[i] = uniform() * 0.35f; /* ~ 1/sqrt(IN) */
  for (int i = 0; i < HID; i++) b1v[i] = 0.0f, w2v[i] = uniform() * 0.25f;
  b2v[0] = 0.0f;

  tg_tensor *x, *y, *w1, *b1, *w2, *b2, *lr;
  TRY(from_floats(xs, (int64_t[]){N, IN}, 2, &x));
  TRY(from_floats(ys, (int64_t[]){N, 1}, 2, &y));
  TRY(from_floats(w1v, (int64_t[]){IN, HID}, 2, &w1));
  TRY(from_floats(b1v, (int64_t[]){HID}, 1, &b1));
  TRY(from_floats(w2v, (int64_t[]){HID, 1}, 2, &w2));
  TRY(from_floats(b2v, (int64_t[]){1}, 1, &b2));
  TRY(tg_tensor_const_float(TG_WEAKFLOAT, 0.2, &lr)); /* a Python-float learning rate */
  tg_tensor *params[4] = {w1, b1, w2, b2};
  TRY(tg_tensor_realize(params, 4));

  float first = 0, last = 0;
  for (int step = 0; step < STEPS; step++) {
    /* forward: loss = mean((relu(x @ w1 + b1) @ w2 + b2 - y)^2) */
    tg_tensor *h0, *h1, *h, *o0, *o, *d, *sq, *loss;
    TRY(tg_tensor_dot(x, w1, TG_DTYPE_NONE, &h0));
    TRY(bin(TG_BINARY_ADD, h0, b1, &h1));
    TRY(tg_tensor_unary(TG_UNARY_RELU, h1, &h));
    TRY(tg_tensor_dot(h, w2, TG_DTYPE_NONE, &o0));
    TRY(bin(TG_BINARY_ADD, o0, b2, &o));
    TRY(bin(TG_BINARY_SUB, o, y, &d));
    TRY(tg_tensor_unary(TG_UNARY_SQUARE, d, &sq));
    TRY(tg_tensor_reduce(TG_REDUCE_MEAN, sq, NULL, 0, 0, TG_DTYPE_NONE, &loss));
    tg_tensor *mid[] = {h0, h1, h, o0, o, d, sq};
    for (size_t i = 0; i < sizeof mid / sizeof *mid; i++) tg_tensor_release(mid[i]);
    /* backward + SGD: p.assign(p - lr * grad) for every parameter, then one realize of the loss and the updates */
    tg_tensor *grads[4];
    TRY(tg_tensor_gradient(loss, params, 4, NULL, 0, grads));
    for (int i = 0; i < 4; i++) {
      tg_tensor *scaled, *next;
      TRY(bin(TG_BINARY_MUL, grads[i], lr, &scaled));
      TRY(bin(TG_BINARY_SUB, params[i], scaled, &next));
      TRY(tg_tensor_assign(params[i], next));
      tg_tensor_release(scaled), tg_tensor_release(next), tg_tensor_release(grads[i]);
    }
    tg_tensor *todo[5] = {loss, w1, b1, w2, b2};
    TRY(tg_tensor_realize(todo, 5));
    float l;
    TRY(tg_tensor_data(loss, &l, sizeof l));
    tg_tensor_release(loss);
    if (step == 0) first = l;
    last = l;
    if (step % 10 == 0 || step == STEPS - 1) printf("step %3d  loss %.5f\n", step, l);
  }
  tg_tensor *all[] = {x, y, w1, b1, w2, b2, lr};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) tg_tensor_release(all[i]);
  printf("loss %.5f -> %.5f (%.1fx lower)\n", first, last, first / last);
  return !(isfinite(last) && last * 5.0f < first);
}
