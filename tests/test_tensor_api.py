"""The Tensor API beyond the engine's core ops (issue 4), each against tinygrad 0.14.0 (DEV=CPU) in the same run:
the UOp graph equals tinygrad's (helper_graph), values and output dtypes equal, and bad input raises tinygrad's
exception type. Covered here: __getitem__ (int, slice with steps, None, Ellipsis), stack, cat, split, chunk."""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
from conftest import requires_dtypes, TEST_DEV
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tgc
from test_tensor_graph import helper_graph

X = np.arange(60, dtype=np.float32).reshape(3, 4, 5)

INDEXES = [
  1, -1, (0, 2), (slice(None), 1), (slice(1, 3),), (slice(None, None, 2),), (slice(None, None, -1),), (slice(3, 0, -2),),
  (Ellipsis, 2), (None, 1), (1, None, slice(None), None), (slice(-3, -1), Ellipsis, slice(None, None, 3)),
  (slice(10, 20),), (slice(2, 1),), (0, slice(1, 4, 2), slice(None, None, -2)), (Ellipsis,), (slice(-100, 100, 3),),
]

@pytest.mark.parametrize("ix", INDEXES, ids=[repr(i) for i in INDEXES])
def test_getitem_values_and_graph(ix):
  want, got = tg.Tensor(X)[ix], tgc.Tensor(X)[ix]
  assert got.shape == want.shape
  np.testing.assert_array_equal(got.numpy(), want.numpy())
  helper_graph(lambda T, d: T.empty(3, 4, 5)[ix])

@pytest.mark.parametrize("ix,exc", [(3, IndexError), ((0, 0, 0, 0), IndexError), ((Ellipsis, Ellipsis), IndexError),
                                    (slice(None, None, 0), ValueError), (-4, IndexError)])
def test_getitem_errors_match_tinygrad(ix, exc):
  for lib in (tg, tgc):
    with pytest.raises(exc): lib.Tensor(X)[ix]

def _both(fn):
  want, got = fn(tg.Tensor), fn(tgc.Tensor)
  assert got.shape == want.shape and str(got.dtype) == str(want.dtype)
  np.testing.assert_array_equal(got.numpy(), want.numpy())

@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_stack(dim):
  _both(lambda T: T(X[0]).stack(T(X[1]), T(X[2]), dim=dim))
  helper_graph(lambda T, d: T.empty(4, 5).stack(T.empty(4, 5), dim=dim))

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_equal_and_unequal(dim):
  _both(lambda T: T(X[0]).cat(T(X[1]), dim=dim))
  _both(lambda T: T(X).cat(T(X[:, :2] if dim == 1 else X[:, :, :1] if dim == -1 else X[:1]), dim=dim))
  helper_graph(lambda T, d: T.empty(4, 5).cat(T.empty(2, 5), T.empty(1, 5)))
  helper_graph(lambda T, d: T.empty(4, 5).cat(T.empty(4, 5), dim=1))

def test_stack_and_cat_promote_dtypes_and_python_consts():
  _both(lambda T: T([1, 2]).stack(T([1.5, 2.5])))
  _both(lambda T: T([1, 2], dtype="int8").cat(T([3, 4], dtype="int16")))

def test_split_and_chunk():
  for lib in (tg, tgc):
    pass
  for args in ((2,), ([1, 2],), (2, 1), (3, -1)):
    want, got = tg.Tensor(X).split(*args), tgc.Tensor(X).split(*args)
    assert len(got) == len(want)
    for g, w in zip(got, want): np.testing.assert_array_equal(g.numpy(), w.numpy())
  for n in (1, 2, 3, 5):
    want, got = tg.Tensor(X).chunk(n, 2), tgc.Tensor(X).chunk(n, 2)
    assert [g.shape for g in got] == [w.shape for w in want]

def test_stack_cat_errors():
  for lib in (tg, tgc):
    with pytest.raises((AssertionError, ValueError)): lib.Tensor(X).stack(lib.Tensor(X[0]))
    with pytest.raises((AssertionError, ValueError)): lib.Tensor(X).cat(lib.Tensor(X[0]))

def test_getitem_gradient_flows_like_tinygrad():
  res = []
  for lib in (tg, tgc):
    x = lib.Tensor(X).realize()
    g = (x[1:, ::2, -1] * 3).sum().gradient(x)[0]
    res.append(g.numpy())
  np.testing.assert_array_equal(res[1], res[0])

RANDOM = {
  "rand": lambda T: T.rand(5, 7), "rand_f16": lambda T: T.rand(9, dtype="float16"), "rand_f64": lambda T: T.rand(3, 3, dtype="float64"),
  "randn": lambda T: T.randn(4, 6), "uniform": lambda T: T.uniform(10, low=-2, high=3), "randint": lambda T: T.randint(12, low=3, high=9),
  "normal": lambda T: T.normal(6, mean=1, std=2), "kaiming_uniform": lambda T: T.kaiming_uniform(8, 5), "glorot": lambda T: T.glorot_uniform(4, 4),
  "scaled_uniform": lambda T: T.scaled_uniform(3, 5), "kaiming_normal": lambda T: T.kaiming_normal(4, 3), "rand_like": lambda T: T.ones(2, 5).rand_like(),
}

# rand_f16 draws through uint64 bits, which a device without int64 (WebGPU) cannot emulate yet
@pytest.mark.parametrize("name", [pytest.param(n, marks=requires_dtypes({"rand_f64": "float64", "rand_f16": "uint64"}.get(n, "float32"))) for n in RANDOM])
def test_random_streams_equal_tinygrads_bit_for_bit(name):
  vals = []
  for lib in (tg, tgc):
    lib.Tensor.manual_seed(1234)
    first = RANDOM[name](lib.Tensor).numpy()
    second = RANDOM[name](lib.Tensor).numpy()  # the counter advanced: a different draw
    vals.append((first, second))
  for got, want in zip(vals[1], vals[0]):
    assert got.dtype == want.dtype and got.shape == want.shape
    # the threefry bits are equal on every device; on a GPU the float math after them (log, cos, sqrt, a fused multiply-add)
    # runs in the device's builtins, so values may differ from tinygrad's CPU by an ulp
    if TEST_DEV == "CPU": np.testing.assert_array_equal(got, want)
    else: np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
  assert not np.array_equal(vals[1][0], vals[1][1])

def test_random_errors_match_tinygrad():
  for lib in (tg, tgc):
    with pytest.raises(ValueError): lib.Tensor.rand(3, dtype="int32")
    with pytest.raises(ValueError): lib.Tensor.uniform(3, low=2, high=1)
    with pytest.raises(TypeError): lib.Tensor.randint(3, low=0.5, high=2)

def test_to_and_clone_like_tinygrad():
  res = []
  for lib in (tg, tgc):
    a = lib.Tensor([1.0, 2.0, 3.0]).realize()
    b = a.clone()
    c = a.clone().realize()  # realized before the assign: keeps the old values
    a.assign(a * 10).realize()
    res.append((a.numpy(), b.numpy(), c.numpy(), a.to(a.device) is a, lib.Tensor.arange(4).clone().numpy(), lib.Tensor(5).to("CPU").item(),
                a.to("CPU").numpy(), a.to("CPU").device))
  for g, w in zip(res[1], res[0]):
    if isinstance(w, np.ndarray): np.testing.assert_array_equal(g, w)
    else: assert g == w

NN_GRAPHS = {
  "softmax": lambda T, d: T.empty(3, 5).softmax(), "log_softmax": lambda T, d: T.empty(3, 5).log_softmax(0),
  "softmax_dtype": lambda T, d: T.empty(3, 5).softmax(dtype=d.float16), "logsumexp": lambda T, d: T.empty(3, 5).logsumexp(1),
  "logsumexp_all": lambda T, d: T.empty(3, 5).logsumexp(), "logsumexp_keep": lambda T, d: T.empty(3, 5).logsumexp(0, keepdim=True),
  "argmax": lambda T, d: T.empty(3, 5).argmax(1), "argmax_flat": lambda T, d: T.empty(3, 5).argmax(),
  "argmin_int": lambda T, d: T.empty(4, 2, dtype=d.int32).argmin(0, keepdim=True), "var": lambda T, d: T.empty(3, 5).var(1),
  "std_int": lambda T, d: T.empty(6, dtype=d.int32).std(), "var_corr0": lambda T, d: T.empty(3, 5).var((0, 1), correction=0),
  "layernorm": lambda T, d: T.empty(2, 3, 4).layernorm(), "layernorm_axes": lambda T, d: T.empty(2, 3, 4).layernorm((1, 2), eps=1e-3),
}

@pytest.mark.parametrize("name", list(NN_GRAPHS))
def test_nn_compositions_build_tinygrads_graph(name): helper_graph(NN_GRAPHS[name])

ACTS = ["relu6", "hardswish", "hardsigmoid", "hardtanh", "leaky_relu", "elu", "celu", "selu", "softplus", "mish", "logsigmoid",
        "quick_gelu", "gelu", "softsign", "sinh", "cosh", "atanh", "asinh", "acosh", "asin", "acos", "atan", "erf"]

@pytest.mark.parametrize("name", ACTS)
def test_activation_graph_and_values(name):
  helper_graph(lambda T, d: getattr(T.empty(3, 4), name)())
  x = np.linspace(-0.9, 0.9, 12, dtype=np.float32).reshape(3, 4) + (2.0 if name == "acosh" else 0.0)
  want, got = getattr(tg.Tensor(x), name)().numpy(), getattr(tgc.Tensor(x), name)().numpy()
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

@pytest.mark.parametrize("call", ["x.leaky_relu(0.2)", "x.elu(0.5)", "x.celu(2.0)", "x.selu(1.5, 2.0)", "x.softplus(2.0)", "x.hardtanh(-0.5, 0.25)",
                                  "x.hardsigmoid(0.3, 0.1)", "x.gelu('none')", "x.logaddexp(x * 2)", "x.copysign(-x)", "x.logaddexp(1.5)", "x.lerp(x * 3, 0.25)"])
def test_parametrized_compositions(call):
  helper_graph(lambda T, d: eval(call, {"x": T.empty(3, 4)}))

MORE = {
  "linspace": lambda T, d: T.linspace(-1, 2, 7), "linspace_int": lambda T, d: T.linspace(0, 10, 5, dtype=d.int32),
  "diag": lambda T, d: T.empty(4).diag(), "diagonal": lambda T, d: T.empty(3, 4, 5).diagonal(1, 1, 2),
  "diagonal_neg": lambda T, d: T.empty(4, 4).diagonal(-1), "roll": lambda T, d: T.empty(3, 5).roll((1, -2), (0, 1)),
  "roll_flat": lambda T, d: T.empty(3, 5).roll(4), "repeat_interleave": lambda T, d: T.empty(2, 3).repeat_interleave(2, 1),
  "normalize": lambda T, d: T.empty(3, 5).normalize(), "normalize_p1": lambda T, d: T.empty(3, 5).normalize(1.0, 0),
  "isclose": lambda T, d: T.empty(4).isclose(T.empty(4), equal_nan=True), "allclose": lambda T, d: T.empty(4).allclose(T.empty(4)),
  "var_mean": lambda T, d: T.empty(3, 4).var_mean(1)[0] + T.empty(3, 4).var_mean(1)[1], "bce": lambda T, d: T.empty(6).sigmoid().binary_crossentropy(T.empty(6)),
  "bce_logits": lambda T, d: T.empty(6).binary_crossentropy_logits(T.empty(6), reduction="sum"),
  "einsum_mm": lambda T, d: T.einsum("ij,jk->ik", T.empty(3, 4), T.empty(4, 5)), "einsum_implicit": lambda T, d: T.einsum("ij,jk", T.empty(3, 4), T.empty(4, 5)),
  "einsum_trace": lambda T, d: T.einsum("ii", T.empty(4, 4)), "einsum_ellipsis": lambda T, d: T.einsum("...ij,...jk->...ik", T.empty(2, 3, 4), T.empty(2, 4, 5)),
  "einsum_outer": lambda T, d: T.einsum("i,j->ji", T.empty(3), T.empty(4)),
  "meshgrid": lambda T, d: T.empty(3).meshgrid(T.empty(4))[1] * 1, "meshgrid_xy": lambda T, d: T.empty(3).meshgrid(T.empty(4), indexing="xy")[0] * 1,
}

@pytest.mark.parametrize("name", list(MORE))
def test_more_compositions_build_tinygrads_graph(name): helper_graph(MORE[name])

def test_more_compositions_values():
  x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
  for fn in (lambda T: T(x).roll(1, 1), lambda T: T.einsum("ij,kj->ik", T(x), T(x)), lambda T: T(x).normalize(), lambda T: T(x).diagonal(),
             lambda T: T.linspace(0, 1, 5), lambda T: T(x).repeat_interleave(2)):
    np.testing.assert_allclose(fn(tgc.Tensor).numpy(), fn(tg.Tensor).numpy(), rtol=1e-5, atol=1e-6)

LOSS_GRAPHS = {
  "sparse_ce": lambda T, d: T.empty(4, 5).sparse_categorical_crossentropy(T.empty(4, dtype=d.int32)),
  "sparse_ce_opts": lambda T, d: T.empty(4, 5).sparse_categorical_crossentropy(T.empty(4, dtype=d.int32), ignore_index=2, label_smoothing=0.1, reduction="sum"),
  "sparse_ce_none": lambda T, d: T.empty(2, 3, 5).sparse_categorical_crossentropy(T.empty(2, 3, dtype=d.int32), reduction="none"),
  "cross_entropy_idx": lambda T, d: T.empty(4, 5).cross_entropy(T.empty(4, dtype=d.int32)),
  "cross_entropy_probs": lambda T, d: T.empty(4, 5).cross_entropy(T.empty(4, 5), reduction="sum", label_smoothing=0.2),
  "cross_entropy_1d": lambda T, d: T.empty(5).cross_entropy(T.empty((), dtype=d.int32), reduction="none"),
}

@pytest.mark.parametrize("name", list(LOSS_GRAPHS))
def test_losses_build_tinygrads_graph(name): helper_graph(LOSS_GRAPHS[name])

def test_loss_errors_match_tinygrad():
  for lib in (tg, tgc):
    with pytest.raises(RuntimeError, match="shape mismatch"): lib.Tensor.ones(4, 5).cross_entropy(lib.Tensor.ones(3, dtype="int32"))
    with pytest.raises(ValueError): lib.Tensor.ones(4, 5).cross_entropy(lib.Tensor.ones(4, dtype="int32"), reduction="avg")

ATTN = {
  "sdpa": lambda T, d: T.empty(2, 4, 8).scaled_dot_product_attention(T.empty(2, 4, 8), T.empty(2, 4, 8)),
  "sdpa_causal": lambda T, d: T.empty(2, 4, 8).scaled_dot_product_attention(T.empty(2, 4, 8), T.empty(2, 4, 8), is_causal=True),
  "sdpa_mask": lambda T, d: T.empty(2, 4, 8).scaled_dot_product_attention(T.empty(2, 4, 8), T.empty(2, 4, 8), attn_mask=T.empty(4, 4, dtype=d.bool)),
  "interp_linear": lambda T, d: T.empty(1, 2, 5).interpolate((8,)), "interp_ac": lambda T, d: T.empty(1, 1, 3, 4).interpolate((5, 7), align_corners=True),
  "interp_nearest": lambda T, d: T.empty(1, 1, 4, 4).interpolate((7, 3), mode="nearest"),
  "interp_exact": lambda T, d: T.empty(1, 1, 4, 4).interpolate((6, 6), mode="nearest-exact"),
}

@pytest.mark.parametrize("name", list(ATTN))
def test_attention_and_interpolate(name):
  helper_graph(ATTN[name])

def test_attention_and_interpolate_values():
  rng = np.random.default_rng(3)
  q, k, v = (rng.standard_normal((2, 3, 4, 8)).astype(np.float32) for _ in range(3))
  img = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
  for fn in (lambda T: T(q).scaled_dot_product_attention(T(k), T(v), is_causal=True), lambda T: T(img).interpolate((9, 4)),
             lambda T: T(img).interpolate((3, 11), mode="nearest-exact")):
    np.testing.assert_allclose(fn(tgc.Tensor).numpy(), fn(tg.Tensor).numpy(), rtol=1e-5, atol=1e-6)

def test_logcumsumexp_masked_select_nonzero_randperm_multinomial_like_tinygrad():
  x = np.random.default_rng(5).standard_normal((3, 5)).astype(np.float32)
  for fn in (lambda T: T(x).logcumsumexp(1), lambda T: T(x).logcumsumexp(0), lambda T: T(x).masked_select(T(x) > 0),
             lambda T: T(x).masked_select(T(x) > 0.5, size=8, fill_value=-1.0), lambda T: T((x > 0).astype(np.int32)).nonzero(),
             lambda T: T(x).nonzero(size=3)):
    g, w = fn(tgc.Tensor), fn(tg.Tensor)
    assert g.shape == w.shape and str(g.dtype) == str(w.dtype)
    np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
  res = []
  for lib in (tg, tgc):
    lib.Tensor.manual_seed(9)
    w = lib.Tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    res.append((lib.Tensor.randperm(7).numpy(), w.multinomial(5, replacement=True).numpy(), w.multinomial(2).numpy()))
  for g, w in zip(res[1], res[0]): np.testing.assert_array_equal(g, w)
  helper_graph(lambda T, d: T.empty(4, 6).logcumsumexp(1))

@pytest.mark.parametrize("dt", ["float32", "float16", "float64"])
def test_rand_graph_equals_tinygrads(dt):
  def fn(T, d):
    T.manual_seed(3)
    T.rand(2, 3)  # the counter advances: the second draw's graph holds the assign
    return T.rand(3, 5, dtype=dt)
  helper_graph(fn)

# ---------------- functional nn, processing and linear algebra, built in libtgc (functional.c, linalg.c) ----------------

def _nn(T): return __import__("tinygrad.nn" if T.__module__.startswith("tinygrad") else "tgc.nn", fromlist=["Embedding"])

FUNCTIONAL = {
  "max_unpool2d": lambda T, d: T.empty(1, 2, 2, 2).max_unpool2d(T.empty(1, 2, 2, 2, dtype=d.int32)),
  "max_unpool2d_output_size": lambda T, d: T.empty(1, 2, 2, 2).max_unpool2d(T.empty(1, 2, 2, 2, dtype=d.int32), output_size=(5, 5)),
  "max_unpool2d_params": lambda T, d: T.empty(1, 1, 3, 3).max_unpool2d(T.empty(1, 1, 3, 3, dtype=d.int32), kernel_size=3, stride=2, padding=1),
  "nll_loss": lambda T, d: T.empty(4, 5).nll_loss(T.empty(4, dtype=d.int32)),
  "nll_loss_opts": lambda T, d: T.empty(4, 5).nll_loss(T.empty(4, dtype=d.int32), weight=T.empty(5), ignore_index=2, reduction="sum"),
  "qr_Q": lambda T, d: T.empty(3, 3).qr()[0], "qr_R_batched": lambda T, d: T.empty(2, 4, 3).qr()[1],
  "svd_U": lambda T, d: T.empty(3, 2).svd()[0], "svd_S_wide": lambda T, d: T.empty(2, 3).svd()[1],
  "svd_Vt_reduced": lambda T, d: T.empty(3, 3).svd(full_matrices=False)[2],
  "newton_schulz": lambda T, d: T.empty(3, 4).newton_schulz(2, (2, -1.5, 0.5)),
  "newton_schulz_tall": lambda T, d: T.empty(4, 3).newton_schulz(1, (3.4445, -4.775, 2.0315)),
  "embedding": lambda T, d: _nn(T).Embedding(7, 3)(T.empty(2, 4, dtype=d.int32)),
  "linear": lambda T, d: T.empty(3, 4).linear(T.empty(4, 5), T.empty(5)), "linear_1d": lambda T, d: T.empty(3, 4).linear(T.empty(4)),
  "linear_dtype": lambda T, d: T.empty(3, 4).linear(T.empty(4, 5), T.empty(5), dtype=d.float16),
  "batchnorm": lambda T, d: T.empty(2, 3, 4).batchnorm(T.empty(3), T.empty(3), T.empty(3), T.empty(3)),
  "batchnorm_none": lambda T, d: T.empty(2, 3, 4).batchnorm(None, None, T.empty(3), T.empty(1, 3, 1)),
  "batchnorm_axes": lambda T, d: T.empty(2, 3, 4).batchnorm(T.empty(3, 4), None, T.empty(3, 4), T.empty(3, 4), axis=(1, 2)),
  "lerp_uint8": lambda T, d: T.empty(4, dtype=d.uint8).lerp(T.empty(4, dtype=d.uint8), T.empty(4)),
  "lerp_tensor": lambda T, d: T.empty(4).lerp(T.empty(4), T.empty(4)),
  "clamp": lambda T, d: T.empty(4).clamp(-1, 2.5), "clip_max_int": lambda T, d: T.empty(4, dtype=d.int32).clip(max_=3),
  "clamp_tensor": lambda T, d: T.empty(4).clamp(T.empty(4), None),
  "sdpa_gqa": lambda T, d: T.empty(1, 4, 3, 8).scaled_dot_product_attention(T.empty(1, 2, 3, 8), T.empty(1, 2, 3, 8), enable_gqa=True),
  "sdpa_float_mask": lambda T, d: T.empty(2, 4, 8).scaled_dot_product_attention(T.empty(2, 4, 8), T.empty(2, 4, 8), attn_mask=T.empty(4, 4)),
  "sdpa_half": lambda T, d: T.empty(2, 4, 8, dtype=d.float16).scaled_dot_product_attention(T.empty(2, 4, 8, dtype=d.float16), T.empty(2, 4, 8, dtype=d.float16)),
  "masked_select_size": lambda T, d: T.empty(3, 4).masked_select(T.empty(3, 4, dtype=d.bool), size=5, fill_value=-1),
  "masked_select_broadcast": lambda T, d: T.empty(3, 4).masked_select(T.empty(4, dtype=d.bool), size=6),
  "nonzero_size": lambda T, d: T.empty(3, 4).nonzero(size=4),
  "einsum_bool": lambda T, d: T.einsum("ij,jk->ik", T.empty(2, 3, dtype=d.bool), T.empty(3, 4, dtype=d.bool)),
  "einsum_three": lambda T, d: T.einsum("ij,jk,kl->il", T.empty(2, 3), T.empty(3, 4), T.empty(4, 5)),
  "einsum_trace_3d": lambda T, d: T.einsum("iij->j", T.empty(3, 3, 4)), "einsum_dtype": lambda T, d: T.einsum("i,i", T.empty(3), T.empty(3), dtype=d.float64),
  "einsum_ellipsis_implicit": lambda T, d: T.einsum("...i,i", T.empty(2, 3, 4), T.empty(4)),
  "einsum_batched_perm": lambda T, d: T.einsum("bij,bjk->bki", T.empty(2, 3, 4), T.empty(2, 4, 5)),
  "diagonal_3d": lambda T, d: T.empty(3, 4, 5).diagonal(-1, 2, 0), "normalize_p0": lambda T, d: T.empty(3, 5).normalize(0),
  "normalize_int": lambda T, d: T.empty(3, 5, dtype=d.int32).normalize(2, -1), "isclose_scalar": lambda T, d: T.empty(4).isclose(1.5),
  "std_mean": lambda T, d: T.empty(3, 4).std_mean(0, keepdim=True)[0], "std_mean_all": lambda T, d: T.empty(3, 4).std_mean()[1],
  "interpolate_uint8": lambda T, d: T.empty(1, 1, 4, 4, dtype=d.uint8).interpolate((6, 3)),
  "logcumsumexp_0": lambda T, d: T.empty(4, 6).logcumsumexp(0), "logcumsumexp_int": lambda T, d: T.empty(5, dtype=d.int32).logcumsumexp(),
  "bce_logits_pos_weight": lambda T, d: T.empty(6).binary_crossentropy_logits(T.empty(6), pos_weight=T.empty(6), reduction="none"),
  "bce_sum": lambda T, d: T.empty(6).binary_crossentropy(T.empty(6), reduction="sum"),
  "isinf_positive": lambda T, d: T.empty(4).isinf(detect_negative=False), "isinf_negative": lambda T, d: T.empty(4).isinf(False, True),
  "softmin": lambda T, d: T.empty(3, 4).softmin(), "softmin_dtype": lambda T, d: T.empty(3, 4).softmin(0, d.float16),
}

@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_builds_tinygrads_graph(name): helper_graph(FUNCTIONAL[name])

def _train(T):
  from tinygrad.helpers import Context
  return Context(TRAINING=1) if T is tg.Tensor else T.train()

def test_dropout_graph_and_draws_equal_tinygrads():
  def fn(T, d):
    T.manual_seed(2)
    with _train(T): return T.empty(3, 4).dropout(0.25)
  helper_graph(fn)
  x = np.random.default_rng(1).standard_normal((2, 4, 4)).astype(np.float32)
  res = []
  for T in (tg.Tensor, tgc.Tensor):
    T.manual_seed(4)
    with _train(T): res.append((T(x).dropout(0.3).numpy(), T(x).dropout(1.0).numpy(), T(x).scaled_dot_product_attention(T(x), T(x), dropout_p=0.5).numpy()))
    res[-1] += (T(x).dropout(0.3).numpy(),)  # outside training: x itself
  for g, w in zip(res[1], res[0]): np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)

def _values(fn, tol=1e-5):
  want, got = fn(tg.Tensor), fn(tgc.Tensor)
  want, got = (want if isinstance(want, tuple) else (want,)), (got if isinstance(got, tuple) else (got,))
  assert len(want) == len(got)
  for w, g in zip(want, got):
    assert g.shape == w.shape and str(g.dtype) == str(w.dtype)
    np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=tol, atol=tol)

_R = np.random.default_rng(11)
_IMG, _M = _R.standard_normal((1, 2, 4, 4)).astype(np.float32), _R.standard_normal((4, 3)).astype(np.float32)
_LP, _Y = np.log(np.abs(_R.standard_normal((5, 4)))).astype(np.float32), np.array([0, 3, 1, 1, 2], dtype=np.int32)

def _embed(T, w, idx):
  emb = _nn(T).Embedding(*w.shape)
  emb.weight = T(w)
  return emb(T(idx))

def _unpool(T, **kw):
  o, i = T(_IMG).max_pool2d(**kw, return_indices=True)
  return o.max_unpool2d(i, **kw)

FUNCTIONAL_VALUES = {
  "max_unpool2d": lambda T: _unpool(T), "max_unpool2d_pad": lambda T: _unpool(T, kernel_size=3, stride=1, padding=1),
  "qr": lambda T: T(_M).qr(), "svd": lambda T: T(_M).svd(), "svd_wide_reduced": lambda T: T(_M.T).svd(full_matrices=False),
  "newton_schulz": lambda T: T(_M).newton_schulz(3, (2, -1.5, 0.5)), "nll_loss": lambda T: T(_LP).nll_loss(T(_Y)),
  "nll_loss_weight_ignore": lambda T: T(_LP).nll_loss(T(_Y), T([1.0, 2, 3, 4]), ignore_index=1),
  "masked_select": lambda T: T(_IMG).masked_select(T(_IMG) > 0), "masked_select_none": lambda T: T(_IMG).masked_select(T(np.zeros(_IMG.shape, bool))),
  "nonzero_0d": lambda T: T(3.0).nonzero(), "nonzero_0d_zero": lambda T: T(0).nonzero(), "nonzero_2d": lambda T: T([[1, 0], [0, 2]]).nonzero(),
  "nonzero_size_fill": lambda T: T(_IMG > 0).nonzero(size=40, fill_value=-1),
  "einsum_diag": lambda T: T.einsum("ii->i", T(_M[:3])), "einsum_bmm": lambda T: T.einsum("bij,bjk->bik", T(_IMG[0]), T(_IMG[0])),
  "lerp_uint8": lambda T: T([[3, 1], [2, 2]], dtype="uint8").lerp(T([[200, 9], [0, 255]], dtype="uint8"), T([[0.3, 0.5], [0.9, 0.1]])),
  "interpolate_nearest": lambda T: T(_IMG).interpolate((3, 7), mode="nearest"),
  "interpolate_align_corners": lambda T: T(_IMG).interpolate((8, 5), align_corners=True),
  "embedding": lambda T: _embed(T, _M, [[0, 3], [2, 2]]),
  "var_mean": lambda T: T(_M).var_mean(1), "std_mean": lambda T: T(_M).std_mean(0, correction=0),
  "allclose": lambda T: T(_M).allclose(T(_M) + 1e-9), "clamp": lambda T: T(_M).clamp(-0.5, 0.5),
  "batchnorm": lambda T: T(_IMG).batchnorm(T([1.0, 2.0]), T([0.5, -0.5]), T([0.1, 0.2]), T([2.0, 3.0])),
}

@pytest.mark.parametrize("name", list(FUNCTIONAL_VALUES))
def test_functional_values_equal_tinygrads(name): _values(FUNCTIONAL_VALUES[name], 1e-4)

FUNCTIONAL_ERRORS = {
  "interpolate_empty_size": lambda T: T.ones(1, 1, 4).interpolate(()), "interpolate_long_size": lambda T: T.ones(4).interpolate((2, 2)),
  "interpolate_mode": lambda T: T.ones(1, 1, 4).interpolate((2,), mode="cubic"),
  "interpolate_align_corners": lambda T: T.ones(1, 1, 4).interpolate((2,), mode="nearest", align_corners=True),
  "interpolate_float_size": lambda T: T.ones(1, 1, 4).interpolate((2.5,)),
  "qr_1d": lambda T: T.ones(3).qr(), "svd_1d": lambda T: T.ones(3).svd(), "svd_one_column": lambda T: T.ones(3, 1).svd(),
  "newton_schulz_1d": lambda T: T.ones(3).newton_schulz(1, (1,)),
  "embedding_float_index": lambda T: _nn(T).Embedding(4, 2)(T([1.0, 2.0])),
  "masked_select_float_mask": lambda T: T.ones(3).masked_select(T.ones(3)),
  "einsum_operand_count": lambda T: T.einsum("ij,jk->ik", T.ones(2, 3)), "einsum_sizes": lambda T: T.einsum("ij,jk->ik", T.ones(2, 3), T.ones(4, 5)),
  "einsum_two_arrows": lambda T: T.einsum("i->i->i", T.ones(2)),
  "sdpa_causal_and_mask": lambda T: T.ones(2, 4).scaled_dot_product_attention(T.ones(2, 4), T.ones(2, 4), attn_mask=T.ones(2, 2), is_causal=True),
  "sdpa_gqa_zero_heads": lambda T: T.ones(1, 2, 3, 4).scaled_dot_product_attention(T.ones(1, 0, 3, 4), T.ones(1, 0, 3, 4), enable_gqa=True),
  "dropout_p": lambda T: T.ones(3).dropout(1.5), "dropout_negative": lambda T: T.ones(3).dropout(-0.1),
  "bce_reduction": lambda T: T.ones(3).binary_crossentropy(T.ones(3), reduction="avg"),
  "bce_logits_reduction": lambda T: T.ones(3).binary_crossentropy_logits(T.ones(3), reduction="avg"),
  "nll_loss_reduction": lambda T: T.ones(3, 2).nll_loss(T.ones(3, dtype="int32"), reduction="x"),
  "clamp_no_bounds": lambda T: T.ones(3).clamp(), "diagonal_same_dims": lambda T: T.ones(3, 3).diagonal(0, 1, 1),
  "diagonal_dim_range": lambda T: T.ones(3, 3).diagonal(0, 0, 5),
  "max_unpool2d_1d": lambda T: T.ones(4).max_unpool2d(T.ones(4, dtype="int32")),
  "max_unpool2d_padding": lambda T: T.ones(1, 1, 2, 2).max_unpool2d(T.ones(1, 1, 2, 2, dtype="int32"), padding=(1, 1, 1)),
  "normalize_dim": lambda T: T.ones(3, 4).normalize(dim=2), "logcumsumexp_axis": lambda T: T.ones(3, 4).logcumsumexp(3),
  "isclose_shapes": lambda T: T.ones(3, 4).isclose(T.ones(2, 4)), "linear_shapes": lambda T: T.ones(3, 4).linear(T.ones(5, 2)),
  "batchnorm_shapes": lambda T: T.ones(2, 3, 4).batchnorm(None, None, T.ones(4), T.ones(3)),
  "lerp_shapes": lambda T: T.ones(3).lerp(T.ones(4), 0.5),
}

@pytest.mark.parametrize("name", list(FUNCTIONAL_ERRORS))
def test_functional_errors_match_tinygrad(name):
  types = []
  for T in (tg.Tensor, tgc.Tensor):
    with pytest.raises(Exception) as e:
      out = FUNCTIONAL_ERRORS[name](T)
      for o in (out if isinstance(out, tuple) else (out,)): o.realize()
    types.append(type(e.value))
  assert issubclass(types[1], types[0]), f"tgc raised {types[1].__name__}, tinygrad {types[0].__name__}"

@pytest.mark.parametrize("value,dtype,exc", [(float("inf"), "int16", OverflowError), (float("-inf"), "int32", OverflowError), (float("nan"), "int32", ValueError)])
def test_cast_of_non_finite_const_to_int_raises_like_tinygrad(value, dtype, exc):
  """A non-finite float constant cast to an int is folded at realize: Python's int() exception, as tinygrad raises it."""
  for lib in (tg, tgc):
    with pytest.raises(exc, match="cannot convert float"):
      lib.Tensor(value, dtype=lib.dtypes.half).cast(getattr(lib.dtypes, dtype)).numpy()
