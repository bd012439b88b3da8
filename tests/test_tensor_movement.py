"""Creation, movement and random functions built in C (tensor/creation.c, movement.c, random.c), each against tinygrad
0.14.0 (DEV=CPU) in the same run: the UOp graph equals tinygrad's (helper_graph), values and dtypes equal, random draws
equal bit for bit, and bad input raises tinygrad's exception type. Also the pad modes (reflect, replicate, circular),
unfold and rearrange, which tgc did not have before."""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tgc
from test_tensor_graph import helper_graph

GRAPHS = {
 "pad_reflect": lambda T, d: T.empty(3, 4).pad(((1, 2), (2, 1)), mode="reflect"),
 "pad_reflect_neg": lambda T, d: T.empty(3, 4).pad(((1, -1), (-2, 2)), mode="reflect"),
 "pad_replicate": lambda T, d: T.empty(3, 4).pad((1, 2, 3, 0), mode="replicate"),
 "pad_replicate_neg": lambda T, d: T.empty(3, 4).pad((-1, 2, 3, -2), mode="replicate"),
 "pad_circular": lambda T, d: T.empty(3, 4).pad(((1, 2), (2, 1)), mode="circular"),
 "pad_circular_neg": lambda T, d: T.empty(3, 4).pad(((-1, 2), (2, -1)), mode="circular"),
 "pad_reflect_flat": lambda T, d: T.empty(1, 2, 5).pad((2, 3), mode="reflect"),
 "unfold": lambda T, d: T.empty(8).unfold(0, 2, 2),
 "unfold3": lambda T, d: T.empty(3, 3, 3).unfold(-1, 2, 3),
 "unfold_mid": lambda T, d: T.empty(2, 7, 3).unfold(1, 3, 2),
 "rearrange": lambda T, d: T.empty(2, 3).rearrange("batch channel -> (batch channel)"),
 "rearrange2": lambda T, d: T.empty(2, 6, 5).rearrange("b (h w) c -> b c h w", h=2),
 "rearrange_ell": lambda T, d: T.empty(2, 3, 4, 5).rearrange("b ... c -> c ... b"),
 "rearrange_ell2": lambda T, d: T.empty(2, 3, 4, 5).rearrange("b ... -> (b ...)"),
 "rearrange_one": lambda T, d: T.empty(2, 1, 3).rearrange("a 1 b -> b 1 a 1"),
 "rearrange_empty": lambda T, d: T.empty(2, 3).rearrange("a b -> a () b"),
 "rearrange_unicode": lambda T, d: T.empty(2, 3, 4).rearrange("a … -> … a"),
 "repeat": lambda T, d: T.empty(2, 3).repeat(2, 1, 3),
 "split": lambda T, d: T.empty(5, 4).split(2)[2] + T.empty(5, 4).split([1, 4])[1].sum(),
 "chunk": lambda T, d: T.empty(11).chunk(6)[5],
 "flatten": lambda T, d: T.empty(2, 3, 4).flatten(1),
 "flatten0d": lambda T, d: T.empty().flatten(),
 "unflatten": lambda T, d: T.empty(2, 12).unflatten(1, (3, -1)),
 "squeeze": lambda T, d: T.empty(1, 2, 1).squeeze(),
 "unsqueeze": lambda T, d: T.empty(2, 3).unsqueeze(-1),
 "transpose": lambda T, d: T.empty(2, 3, 4).transpose(-1, 0),
 "pad_to_value": lambda T, d: T.empty(2, 3).pad_to((4, None), value=1.5),
 "shrink_to": lambda T, d: T.empty(4, 5).shrink_to((2, None)),
 "empty_like": lambda T, d: T.empty(2, 3, dtype=d.int8).empty_like(),
 "empty_like_dt": lambda T, d: T.empty(2, 3).empty_like(dtype=d.float16),
 "full_like": lambda T, d: T.empty(2, 3).full_like(3),
 "zeros_like": lambda T, d: T.empty(2, 3, dtype=d.int32).zeros_like(),
 "ones_like_nb": lambda T, d: T.empty(2, 3).ones_like(buffer=False, dtype=d.float16),
 "linspace_steps1": lambda T, d: T.linspace(2, 5, 1),
 "linspace_float": lambda T, d: T.linspace(-1.5, 2, 4, dtype=d.float16),
 "meshgrid3": lambda T, d: T.empty(2).meshgrid(T.empty(3), T.empty(4), indexing="xy")[2] + 0,
 "randn": lambda T, d: (T.manual_seed(2), T.randn(3, 4))[1],
 "randn_like": lambda T, d: (T.manual_seed(2), T.empty(2, 3).randn_like(dtype=d.float16))[1],
 "uniform": lambda T, d: (T.manual_seed(2), T.uniform(3, 4, low=-1, high=2.5))[1],
 "randint": lambda T, d: (T.manual_seed(2), T.randint(5, low=2, high=7))[1],
 "normal": lambda T, d: (T.manual_seed(2), T.normal(3, mean=1, std=0.5))[1],
 "scaled_uniform": lambda T, d: (T.manual_seed(2), T.scaled_uniform(3, 4))[1],
 "glorot": lambda T, d: (T.manual_seed(2), T.glorot_uniform(3, 4))[1],
 "kaiming_uniform": lambda T, d: (T.manual_seed(2), T.kaiming_uniform(3, 4, a=0.2))[1],
 "kaiming_normal": lambda T, d: (T.manual_seed(2), T.kaiming_normal(3, 4))[1],
 "randperm": lambda T, d: (T.manual_seed(2), T.randperm(6))[1],
 "multinomial": lambda T, d: (T.manual_seed(2), T.empty(4).multinomial(3, replacement=True))[1],
 "multinomial_norep": lambda T, d: (T.manual_seed(2), T.empty(2, 4).multinomial(3))[1],
 "multinomial_one": lambda T, d: (T.manual_seed(2), T.empty(2, 4).multinomial())[1],
 "diag": lambda T, d: T.empty(3).diag(),
 "diagonal_empty": lambda T, d: T.empty(3, 3).diagonal(3),
 "diagonal_neg": lambda T, d: T.empty(4, 3, 5).diagonal(-2, 2, 0),
 "roll_dup": lambda T, d: T.empty(3, 4).roll((1, 2), (0, 0)),
 "repeat_interleave0d": lambda T, d: T.empty().repeat_interleave(3),
 "threefry": lambda T, d: T.empty(4, dtype=d.uint64).threefry(T.empty(4, dtype=d.uint64)),
}

@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_equals_tinygrads(name): helper_graph(GRAPHS[name])

X = np.arange(12, dtype=np.float32).reshape(3, 4)
ERRORS = {
 "reflect_too_big": lambda T: T(X).pad(((3, 0), (0, 0)), mode="reflect"),
 "reflect_too_big2": lambda T: T(X).pad((0, 4), mode="reflect"),
 "circular_twice": lambda T: T(X).pad(((4, 0), (0, 0)), mode="circular"),
 "bad_mode": lambda T: T(X).pad(((1, 0), (0, 0)), mode="edge"),
 "bad_len": lambda T: T(X).pad(((1, 0),), mode="reflect"),
 "odd_flat": lambda T: T(X).pad((1, 0, 1), mode="reflect"),
 "unfold_size": lambda T: T(X).unfold(0, 4, 1),
 "unfold_neg": lambda T: T(X).unfold(0, -1, 1),
 "unfold_step": lambda T: T(X).unfold(0, 1, 0),
 "unfold_dim": lambda T: T(X).unfold(2, 1, 1),
 "unfold_0d": lambda T: T(1.0).unfold(0, 1, 1),
 "unfold_empty": lambda T: T.empty(0).unfold(0, 0, 1),
 "rr_arrow": lambda T: T(X).rearrange("a b"),
 "rr_arrow2": lambda T: T(X).rearrange("a -> b -> c"),
 "rr_bracket": lambda T: T(X).rearrange("(a b -> a b"),
 "rr_nested": lambda T: T(X).rearrange("((a) b) -> a b"),
 "rr_names": lambda T: T(X).rearrange("a b -> a c"),
 "rr_dup": lambda T: T(X).rearrange("a a -> a a"),
 "rr_invalid": lambda T: T(X).rearrange("a _b -> _b a"),
 "rr_unused": lambda T: T(X).rearrange("a b -> b a", c=3),
 "rr_size": lambda T: T(X).rearrange("a b -> b a", a=2),
 "rr_collapsed": lambda T: T(X).rearrange("(a ...) -> a ...") ,
 "rr_twoinfer": lambda T: T(X).rearrange("a (b c) -> a b c"),
 "rr_ndim": lambda T: T(X).rearrange("a b c -> a b c"),
 "split_sum": lambda T: T(X).split([1, 1]),
 "chunk0": lambda T: T(X).chunk(0),
 "split_0d": lambda T: T(1.0).split(1),
 "diag_2d": lambda T: T(X).diag(),
 "diagonal_same": lambda T: T(X).diagonal(0, 1, -1),
 "diagonal_1d": lambda T: T(X[0]).diagonal(),
 "diagonal_big": lambda T: T(X).diagonal(5),
 "diagonal_bigneg": lambda T: T(X).diagonal(-5),
 "roll_len": lambda T: T(X).roll((1, 2), 0),
 "roll_len2": lambda T: T(X).roll((1, 2)),
 "roll_dim": lambda T: T(X).roll(1, 3),
 "roll_0d": lambda T: T(1.0).roll(1, 0),
 "repeat_short": lambda T: T(X).repeat(2),
 "repeat_neg": lambda T: T(X).repeat(-1, 2),
 "ri_0d": lambda T: T(1.0).repeat_interleave(2, 0),
 "ri_dim": lambda T: T(X).repeat_interleave(2, 2),
 "meshgrid_idx": lambda T: T(X[0]).meshgrid(T(X[1]), indexing="ji"),
 "linspace_neg": lambda T: T.linspace(0, 1, -1),
 "linspace_bool": lambda T: T.linspace(0, 1, 3, dtype="bool"),
 "pad_to_len": lambda T: T(X).pad_to((5,)),
 "shrink_to_len": lambda T: T(X).shrink_to((2,)),
 "full_like_weak": lambda T: T(3).full_like(2),
 "randn_neg": lambda T: T.randn(2, -1),
 "randn_like_weak": lambda T: T(3).randn_like(),
 "uniform_lh": lambda T: T.uniform(3, low=2, high=1),
 "uniform_neg": lambda T: T.uniform(-3),
 "randint_f": lambda T: T.randint(3, low=0.5, high=2),
 "randint_dt": lambda T: T.randint(3, dtype="float32"),
 "randint_lh": lambda T: T.randint(3, low=5, high=5),
 "normal_std": lambda T: T.normal(3, std=-1),
 "scaled_zero": lambda T: T.scaled_uniform(0, 3),
 "glorot_0d": lambda T: T.glorot_uniform(),
 "glorot_zero": lambda T: T.glorot_uniform(0, 0),
 "glorot_neg": lambda T: T.glorot_uniform(-2, 1),
 "kaiming_zero": lambda T: T.kaiming_uniform(3, 0),
 "kaimingn_zero": lambda T: T.kaiming_normal(3, 0),
 "randperm_neg": lambda T: T.randperm(-1),
 "multi_3d": lambda T: T.ones(2, 2, 2).multinomial(),
 "multi_zero": lambda T: T.ones(4).multinomial(0),
 "multi_exceed": lambda T: T.ones(4).multinomial(5),
 "dropout_p": lambda T: T(X).dropout(1.5),
 "flatten_dim": lambda T: T(X).flatten(3),
 "unflatten_bad": lambda T: T(X).unflatten(1, (3, 3)),
 "squeeze_dim": lambda T: T(X).squeeze(4),
 "unsqueeze_dim": lambda T: T(X).unsqueeze(4),
 "transpose_dim": lambda T: T(X).transpose(0, 5),
}

@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_tinygrad(name):
  kinds = []
  for lib in (tg, tgc):
    try:
      r = ERRORS[name](lib.Tensor)
      kinds.append(("ok", (r[0] if isinstance(r, (tuple, list)) else r).shape))
    except Exception as e: kinds.append((type(e).__name__, None))
  assert kinds[1][0] == kinds[0][0] != "ok", kinds
  assert kinds[1] == kinds[0]

R = np.random.default_rng(11)
A = R.standard_normal((3, 4, 5)).astype(np.float32)
VALUES = {
  "pad_reflect": lambda T: T(A).pad(((0, 0), (3, 2), (4, -1)), mode="reflect"),
  "pad_replicate": lambda T: T(A).pad((2, -1, -2, 3), mode="replicate"),
  "pad_circular": lambda T: T(A).pad(((1, 2), (-1, 3), (5, 0)), mode="circular"),
  "pad_int_reflect": lambda T: T(np.arange(12, dtype=np.int32).reshape(3, 4)).pad((3, 3), mode="reflect"),
  "pad_constant_int": lambda T: T(np.arange(12, dtype=np.int32).reshape(3, 4)).pad((1, 1), value=7),
  "pad_to_value": lambda T: T(A).pad_to((4, None, 7), value=-2),
  "unfold": lambda T: T(A).unfold(2, 2, 1), "unfold_step": lambda T: T(A).unfold(-2, 3, 2),
  "rearrange": lambda T: T(A).rearrange("a b c -> c (b a)"), "rearrange_split": lambda T: T(A).rearrange("a (b1 b2) c -> b2 c (a b1)", b1=2),
  "rearrange_ellipsis": lambda T: T(A).rearrange("... c -> c ..."),
  "split": lambda T: T(A).split([2, 1, 2], 2)[1], "chunk": lambda T: T(A).chunk(2, 1)[1], "roll": lambda T: T(A).roll((-7, 2), (2, 0)),
  "diag": lambda T: T(A[0, 0]).diag(), "diagonal": lambda T: T(A).diagonal(1, 2, 1), "repeat_interleave": lambda T: T(A).repeat_interleave(2, 0),
  "meshgrid": lambda T: T(A[0, 0]).meshgrid(T(A[0, :, 0]), indexing="xy")[1], "repeat": lambda T: T(A).repeat(2, 1, 1, 2),
  "linspace": lambda T: T.linspace(-3, 7, 11), "linspace_half": lambda T: T.linspace(0.5, 2.5, 6, dtype="float16"),
  "linspace_int": lambda T: T.linspace(1, 100, 7, dtype="int32"), "linspace_0": lambda T: T.linspace(1, 2, 0),
  "full_like": lambda T: T(A).full_like(3, dtype="int8"), "zeros_like": lambda T: T(A).zeros_like(),
  "ones_like": lambda T: T(np.arange(4, dtype=np.int64)).ones_like(), "flatten": lambda T: T(A).flatten(1),
  "unflatten": lambda T: T(A).unflatten(-1, (5, 1)), "squeeze": lambda T: T(A[:, :1]).squeeze(), "transpose": lambda T: T(A).transpose(0, 2),
}

@pytest.mark.parametrize("name", list(VALUES))
def test_values_equal_tinygrads(name):
  want, got = VALUES[name](tg.Tensor), VALUES[name](tgc.Tensor)
  assert got.shape == want.shape and str(got.dtype) == str(want.dtype)
  np.testing.assert_array_equal(got.numpy(), want.numpy())

RANDOM = {
  "randn_f16": lambda T: T.randn(3, 5, dtype="float16"), "randn_like": lambda T: T.ones(4, 3).randn_like(dtype="float64"),
  "randn_like_nc": lambda T: T.ones(4, 3).randn_like(contiguous=False), "uniform_int": lambda T: T.uniform(6, low=-3, high=4, dtype="int32"),
  "uniform_f": lambda T: T.uniform(2, 5, low=0.25, high=0.5), "randint_i64": lambda T: T.randint(9, low=-5, high=100, dtype="int64"),
  "normal_int_mean": lambda T: T.normal(2, 3, mean=3, std=2), "kaiming_uniform_a": lambda T: T.kaiming_uniform(6, 3, a=1.5),
  "glorot_3d": lambda T: T.glorot_uniform(3, 4, 2), "scaled_uniform_f16": lambda T: T.scaled_uniform(8, dtype="float16"),
  "randperm": lambda T: T.randperm(11), "randperm_i64": lambda T: T.randperm(5, dtype="int64"),
  "multinomial_1d": lambda T: T([0.1, 2.0, 0.5, 1.0]).multinomial(6, replacement=True),
  "multinomial_norep": lambda T: T([[1.0, 2.0, 3.0, 4.0], [4.0, 0.5, 1.0, 1.0]]).multinomial(3),
  "multinomial_one": lambda T: T([[1.0, 2.0, 3.0], [3.0, 0.0, 1.0]]).multinomial(),
  "rand_empty": lambda T: T.rand(0, 3), "randn_0d": lambda T: T.randn(),
}

@pytest.mark.parametrize("name", list(RANDOM))
def test_random_equals_tinygrads_bit_for_bit(name):
  vals = []
  for lib in (tg, tgc):
    lib.Tensor.manual_seed(77)
    vals.append([RANDOM[name](lib.Tensor).numpy() for _ in range(2)])
  for got, want in zip(vals[1], vals[0]):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)

def test_dropout_equals_tinygrads_in_training():
  from tinygrad.helpers import Context
  x = np.random.default_rng(2).standard_normal((6, 7)).astype(np.float32)
  tg.Tensor.manual_seed(5)
  with Context(TRAINING=1): want = [tg.Tensor(x).dropout(p).numpy() for p in (0.3, 0.0, 1.0)]
  tgc.Tensor.manual_seed(5)
  with tgc.Tensor.train(): got = [tgc.Tensor(x).dropout(p).numpy() for p in (0.3, 0.0, 1.0)]
  for g, w in zip(got, want): np.testing.assert_array_equal(g, w)
  np.testing.assert_array_equal(tgc.Tensor(x).dropout(0.3).numpy(), x)  # not training: the input itself
  helper_graph(lambda T, d: T.empty(3, 4).dropout(0.0))

def test_max_shape_and_numel():
  for lib in (tg, tgc):
    t = lib.Tensor.empty(2, 3, 4)
    assert t.max_shape == (2, 3, 4) and t.max_numel() == 24

def test_split_chunk_counts_and_empty_dims():
  for fn in (lambda T: T.empty(0, 3).chunk(4), lambda T: T.empty(0, 3).split(2), lambda T: T.empty(7, 2).chunk(3), lambda T: T.empty(6).split(6), lambda T: T.empty(0).split([])):
    want, got = fn(tg.Tensor), fn(tgc.Tensor)
    assert [g.shape for g in got] == [w.shape for w in want]
