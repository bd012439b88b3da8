"""The indexing family (issue 4) against tinygrad 0.14.0 (DEV=CPU) in the same run: advanced getitem (tensor and list
indices), __setitem__, gather, scatter, scatter_reduce, masked_fill, one_hot, cumsum/cumprod/cummax/cummin, triu/tril,
eye, sort/argsort/topk. Each op: the UOp graph equals tinygrad's (helper_graph), values, dtypes and kernel counts equal,
gradients equal where the op has one, and bad input raises tinygrad's exception type."""
import os
os.environ.setdefault("DEV", "CPU")
import numpy as np
import pytest
tinygrad = pytest.importorskip("tinygrad")
import tinygrad as tg
import tgc
from test_tensor_graph import helper_graph

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4, 5)).astype(np.float32)
XI = RNG.integers(-5, 5, (3, 4, 5)).astype(np.int32)
DUPS = np.array([[3, 1, 2, 1, 0, 3, 3], [0, 5, 4, 4, 1, 5, 2]], dtype=np.float32)  # ties: sort keeps their order

def _run(lib, fn):
  """fn(T, dtypes) -> Tensor or tuple of Tensors, realized with GlobalCounters reset: (arrays, dtypes, kernel count)."""
  out = fn(lib.Tensor, lib.dtypes)
  outs = out if isinstance(out, tuple) else (out,)
  lib.GlobalCounters.reset()
  outs[0].realize(*outs[1:])
  kernels = lib.GlobalCounters.kernel_count
  return [o.numpy() for o in outs], [str(o.dtype) for o in outs], kernels

def check(fn, graph=True):
  (want, wdt, wk), (got, gdt, gk) = _run(tg, fn), _run(tgc, fn)
  assert gdt == wdt
  for g, w in zip(got, want):
    assert g.shape == w.shape
    np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
  assert gk == wk, f"tgc {gk} kernels, tinygrad {wk}"
  if graph: helper_graph(lambda T, d: _first(fn(T, d)))

def _first(r): return r[0] if isinstance(r, tuple) else r

X_ = lambda T: T(X).realize()
I_ = lambda T, a, d=None: T(np.array(a, dtype=np.int32)).realize() if d is None else T(np.array(a), dtype=d).realize()

GETITEM = {
  "tensor": lambda T, d: X_(T)[I_(T, [2, 0, -1])],
  "tensor_2d": lambda T, d: X_(T)[I_(T, [[0, 1], [2, -3]])],
  "list": lambda T, d: X_(T)[[0, -1, 1]],
  "list_nested": lambda T, d: X_(T)[[[0], [2]], 1],
  "int_and_list": lambda T, d: X_(T)[1, [3, 0]],
  "two_consecutive": lambda T, d: X_(T)[I_(T, [0, 2, 1]), I_(T, [3, -1, 0])],
  "three_consecutive": lambda T, d: X_(T)[I_(T, [0, 2]), I_(T, [1, 3]), I_(T, [4, 0])],
  "broadcast": lambda T, d: X_(T)[:, I_(T, [[1], [3]]), I_(T, [0, 2, 4])],
  "permute_case": lambda T, d: X_(T)[I_(T, [1, 2]), :, I_(T, [0, 4])],
  "with_none_and_slice": lambda T, d: X_(T)[None, 1:, I_(T, [1, 3]), ::2],
  "ellipsis_tensor": lambda T, d: X_(T)[..., I_(T, [4, 0])],
  "out_of_range_reads_zero": lambda T, d: X_(T)[I_(T, [0, 7])],
  "int64_index": lambda T, d: X_(T)[I_(T, [1, 0], "int64")],
  "uint8_index": lambda T, d: X_(T)[:, I_(T, [3, 1], "uint8")],
  "zero_d_index": lambda T, d: X_(T)[I_(T, 2)],
}

@pytest.mark.parametrize("name", list(GETITEM))
def test_getitem_advanced(name): check(GETITEM[name])

OPS = {
  "gather": lambda T, d: X_(T).gather(1, I_(T, RNG_IDX)),
  "gather_neg_dim": lambda T, d: X_(T).gather(-1, I_(T, np.zeros((2, 3, 2), dtype=np.int32) + 4)),
  "one_hot": lambda T, d: I_(T, [[3, 1, 2], [0, 5, 4]]).one_hot(6),
  "one_hot_along_dim": lambda T, d: I_(T, [[3, 1, 0]])._one_hot_along_dim(4, 0),
  "masked_fill": lambda T, d: X_(T).masked_fill(X_(T) > 0.5, -1.0),
  "masked_fill_tensor": lambda T, d: X_(T).masked_fill(X_(T) < 0, X_(T) * 2),
  "scatter": lambda T, d: X_(T).scatter(1, I_(T, SC_IDX), (X_(T) * 10).realize()),
  "scatter_scalar": lambda T, d: X_(T).scatter(2, I_(T, SC_IDX[:, :, :3] % 5), 7.0),
  "scatter_add": lambda T, d: X_(T).scatter(1, I_(T, SC_IDX), 1.5, reduce="add"),
  "scatter_multiply": lambda T, d: X_(T).scatter(1, I_(T, SC_IDX), 2.0, reduce="multiply"),
  "scatter_reduce_sum": lambda T, d: X_(T).scatter_reduce(1, I_(T, SC_IDX), X_(T), "sum"),
  "scatter_reduce_prod_excl": lambda T, d: X_(T).scatter_reduce(1, I_(T, SC_IDX), X_(T), "prod", include_self=False),
  "scatter_reduce_mean": lambda T, d: X_(T).scatter_reduce(0, I_(T, SC_IDX[:2] % 3), X_(T), "mean"),
  "scatter_reduce_amax": lambda T, d: X_(T).scatter_reduce(1, I_(T, SC_IDX), X_(T), "amax", include_self=False),
  "scatter_reduce_amin_int": lambda T, d: T(XI).scatter_reduce(1, I_(T, SC_IDX), T(XI), "amin"),
  "cumsum": lambda T, d: X_(T).cumsum(1),
  "cumsum_int8": lambda T, d: T(XI, dtype=d.int8).cumsum(-1),
  "cumsum_long_split": lambda T, d: T(np.arange(700, dtype=np.float32) / 100).cumsum(),
  "cummax_long_split": lambda T, d: T(np.sin(np.arange(600, dtype=np.float32))).cummax(0),
  "cumsum_empty": lambda T, d: T.empty(0, 3, dtype=d.int8).cumsum(1),
  "cumprod": lambda T, d: (X_(T) / 2 + 1).cumprod(2),
  "cummax": lambda T, d: X_(T).cummax(1),
  "cummax_ints": lambda T, d: T(XI).cummax(-1),
  "cummin": lambda T, d: X_(T).cummin(0),
  "cummin_ints": lambda T, d: T(XI).cummin(2),
  "triu": lambda T, d: X_(T).triu(),
  "triu_diag": lambda T, d: X_(T).triu(2),
  "tril": lambda T, d: X_(T).tril(-1),
  "tril_int": lambda T, d: T(XI).tril(1),
  "eye": lambda T, d: T.eye(3),
  "eye_rect_int": lambda T, d: T.eye(2, 4, dtype=d.int32),
  "sort": lambda T, d: T(DUPS).sort(),
  "sort_desc_dim0": lambda T, d: X_(T).sort(0, descending=True),
  "sort_ints": lambda T, d: T(XI).sort(1),
  "sort_len1": lambda T, d: X_(T)[:, :1].sort(1),
  "argsort": lambda T, d: T(DUPS).argsort(descending=True),
  "topk": lambda T, d: T(DUPS).topk(3),
  "topk_smallest": lambda T, d: X_(T).topk(2, dim=1, largest=False),
}
RNG_IDX = RNG.integers(0, 4, (3, 2, 5))
SC_IDX = RNG.integers(0, 4, (3, 2, 5))

@pytest.mark.parametrize("name", list(OPS))
def test_ops(name): check(OPS[name])

SETITEM = {
  "int_slice_realized": lambda T, d: (T(X).contiguous().realize(), (1, slice(2, 4)), 7.0),
  "strided_unrealized_float": lambda T, d: (T(X).contiguous(), (1, slice(None, None, 2)), T.ones(2, 5)),
  "negative_step_int": lambda T, d: (T.arange(10).contiguous().realize(), slice(None, None, -3), -1),
  "step_values_int": lambda T, d: (T.arange(10).contiguous().realize(), slice(2, 8, 3), T([100, 200], dtype=d.int32)),
  "tensor_index": lambda T, d: (T(X).contiguous().realize(), (T([0, 2]), 1), T([5.0, 6.0]).reshape(2, 1)),
  "list_index_int": lambda T, d: (T.zeros(4, 4, dtype=d.int32).contiguous().realize(), ([1, 3], [0, 2]), 9),
  "consecutive_tensors": lambda T, d: (T(X).contiguous().realize(), (slice(None), T([1, 3])), 0.5),
  "repeated_index_last_wins": lambda T, d: (T.zeros(4, dtype=d.int32).contiguous().realize(), [1, 1, 2], T([1, 2, 3], dtype=d.int32)),
  "none_and_ellipsis": lambda T, d: (T(X).contiguous().realize(), (None, Ellipsis, 0), 2.0),
  "two_tensors": lambda T, d: (T(X[0]).contiguous().realize(), (T([1, 3]), T([0, 2])), 0.5),
  "two_tensors_3d": lambda T, d: (T(X).contiguous().realize(), (slice(None), T([1, 3]), T([0, 2])), T([0.5, 1.5])),
  "permuted_broadcast": lambda T, d: (T(X).contiguous().realize(), (T([0, 2]), slice(None), T([[1], [4]])), 3.0),
}

@pytest.mark.parametrize("name", list(SETITEM))
def test_setitem(name):
  res = []
  for lib in (tg, tgc):
    x, ix, v = SETITEM[name](lib.Tensor, lib.dtypes)
    x[ix] = v
    lib.GlobalCounters.reset()
    x.realize()
    res.append((x.numpy(), str(x.dtype), lib.GlobalCounters.kernel_count))
  assert res[1][1:] == res[0][1:]
  np.testing.assert_array_equal(res[1][0], res[0][0])

def test_setitem_graph_equals_tinygrads():
  def f(T, d):
    x = T.empty(3, 4, 5)
    x[1, ::2] = T.empty(2, 5)
    return x
  helper_graph(f)
  def g(T, d):
    x = T.empty(3, 4, 5).realize()
    x[:, T.empty(2, dtype=d.int32), T.empty(2, dtype=d.int32)] = 0.5
    return x
  helper_graph(g)

def test_iadd_through_setitem():
  res = []
  for lib in (tg, tgc):
    x = lib.Tensor(X).contiguous().realize()
    x[1:, lib.Tensor([1, 3])] += 1
    res.append(x.numpy())
  np.testing.assert_allclose(res[1], res[0])

GRADS = {
  "getitem_tensor": lambda x, T: x[T([2, 0, 2])],
  "getitem_consecutive": lambda x, T: x[T([0, 2, 2]), T([1, 3, 1])],
  "getitem_permute": lambda x, T: x[T([1, 2]), :, T([0, 4])],
  "gather": lambda x, T: x.gather(2, T(np.array([[[0, 4, 4]] * 4] * 3, dtype=np.int32))),
  "cumsum": lambda x, T: x.cumsum(1),
  "cummax": lambda x, T: x.cummax(2)[0],
  "sort": lambda x, T: x.sort(1)[0] * T(np.arange(4, dtype=np.float32)).reshape(4, 1),
  "scatter_reduce": lambda x, T: x.scatter_reduce(1, T(SC_IDX.astype(np.int32)), x * 2, "sum"),
  "triu": lambda x, T: x.triu(1),
}

@pytest.mark.parametrize("name", list(GRADS))
def test_gradients_match_tinygrad(name):
  res = []
  for lib in (tg, tgc):
    x = lib.Tensor(X).realize()
    res.append(GRADS[name](x, lib.Tensor).sum().gradient(x)[0].numpy())
  np.testing.assert_allclose(res[1], res[0], rtol=1e-5, atol=1e-6)

ERRORS = {
  "float_index": (lambda T, d: X_(T)[T([0.5])], IndexError),
  "bool_index": (lambda T, d: X_(T)[T([True, False])], IndexError),
  "bool_list": (lambda T, d: X_(T)[[True, False]], IndexError),
  "float_list": (lambda T, d: X_(T)[[0.5, 1]], IndexError),
  "empty_list": (lambda T, d: X_(T)[[]], IndexError),
  "no_broadcast": (lambda T, d: X_(T)[T([0, 1]), T([0, 1, 2])], IndexError),
  "too_many_with_list": (lambda T, d: X_(T)[0, 0, 0, [0]], IndexError),
  "gather_ndim": (lambda T, d: X_(T).gather(0, T([1])), RuntimeError),
  "gather_size": (lambda T, d: X_(T).gather(0, T(np.zeros((1, 5, 1), dtype=np.int32))), AssertionError),
  "gather_float_index": (lambda T, d: X_(T).gather(0, X_(T)), RuntimeError),
  "gather_dim": (lambda T, d: X_(T).gather(3, I_(T, RNG_IDX)), IndexError),
  "one_hot_float": (lambda T, d: X_(T).one_hot(3), RuntimeError),
  "one_hot_negative": (lambda T, d: T([1, 2]).one_hot(-1), ValueError),
  "scatter_dtype": (lambda T, d: X_(T).scatter(1, I_(T, SC_IDX), T(XI)), RuntimeError),
  "scatter_ndim": (lambda T, d: X_(T).scatter(1, T([0]), X_(T)), AssertionError),
  "scatter_bad_reduce": (lambda T, d: X_(T).scatter(1, I_(T, SC_IDX), 1.0, reduce="max"), TypeError),
  "scatter_tensor_with_reduce": (lambda T, d: X_(T).scatter(1, I_(T, SC_IDX), X_(T), reduce="add"), TypeError),
  "scatter_reduce_bad": (lambda T, d: X_(T).scatter_reduce(1, I_(T, SC_IDX), X_(T), "max"), RuntimeError),
  "triu_1d": (lambda T, d: T([1, 2]).triu(), IndexError),
  "eye_negative": (lambda T, d: T.eye(-1), ValueError),
  "topk_k": (lambda T, d: X_(T).topk(6), ValueError),
  "topk_unsorted": (lambda T, d: X_(T).topk(2, sorted_=False), NotImplementedError),
  "cumsum_axis": (lambda T, d: X_(T).cumsum(3), IndexError),
}

def _setitem_weak(T, d):
  x = T(3)
  x[0] = 1
def _setitem_dtype(T, d):
  x = T.zeros(3).contiguous().realize()
  x[0] = T([1], dtype=d.int32)[0]
def _setitem_other_uses(T, d):
  x = T.zeros(3).contiguous().realize()
  y = x + 1  # noqa: F841 -- a live tensor reading x
  x[0] = 1.0
ERRORS.update({"setitem_weak": (_setitem_weak, RuntimeError), "setitem_dtype": (_setitem_dtype, RuntimeError),
               "setitem_other_uses": (_setitem_other_uses, RuntimeError)})

@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_tinygrad(name):
  fn, exc = ERRORS[name]
  msgs = []
  for lib in (tg, tgc):
    with pytest.raises(exc) as e: fn(lib.Tensor, lib.dtypes)
    msgs.append(str(e.value))
  if exc is not AssertionError: assert msgs[1] == msgs[0]
