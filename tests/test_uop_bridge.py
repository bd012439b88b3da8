"""Graphs built by tinygrad 0.14.0 cross into C (JSON -> interned UOps) and print back byte for byte as tinygrad prints
them: tensor-level graphs and the kernel ASTs tinygrad's scheduler makes. This is the harness every engine stage's
differential test stands on."""
import json, os, subprocess
import pytest
os.environ.setdefault("DEV", "CPU")
tinygrad = pytest.importorskip("tinygrad", reason="tinygrad==0.14.0 (the reference) is in the test extra")
from tinygrad import Tensor, dtypes
from tinygrad_ir import run_tool, to_json, tool

def _programs():
  a, b = Tensor.rand(4, 4).realize(), Tensor.rand(4, 4).realize()
  i = Tensor([[1, 2], [3, 4]], dtype=dtypes.int32).realize()
  return {
    "add_sum": (a + 1).sum(axis=1),
    "matmul_relu_max": (a @ b.T).relu().max(0),
    "pad_flip": a.pad(((1, 1), (0, 2))).flip(0) * 2,
    "shrink_permute": a.shrink(((1, 3), (0, 2))).permute(1, 0).exp2(),
    "int_where": (i > 2).where(i * 3, i // 2),
    "cast_half": a.cast(dtypes.half).sqrt().cast(dtypes.float) - b,
    "softmax": a.softmax(-1),
    "nan_inf": Tensor([float("nan"), float("inf"), -0.0, 1e-7]).log2(),
  }

@pytest.mark.parametrize("name", list(_programs()))
def test_tensor_graph_roundtrip(name):
  t = _programs()[name]
  assert run_tool("print", t.uop).rstrip("\n") == repr(t.uop)

@pytest.mark.parametrize("name", list(_programs()))
def test_kernel_ast_roundtrip(name):
  t = _programs()[name]
  for call in t.schedule_linear().src:
    body = call.src[0]
    assert run_tool("print", body).rstrip("\n") == repr(body)

def test_json_roundtrip_is_stable():
  ast = _programs()["matmul_relu_max"].schedule_linear().src[0].src[0]
  once = run_tool("json", ast)
  r = subprocess.run([str(tool("uoptool")), "json"], input=once, capture_output=True, text=True, check=True)
  assert json.loads(r.stdout) == json.loads(once)

def test_shape_and_dtype_match():
  for name, t in _programs().items():
    shape, dt = run_tool("shape", t.uop).strip().rsplit(" ", 1)
    assert shape == str(t.shape) and dt == repr(t.dtype).removeprefix("dtypes."), name

@pytest.mark.parametrize("doc", ['{"nodes": [], "root": 0}', '{"nodes": [{"op": "NOPE", "dtype": "float", "src": []}], "root": 0}',
                                 '{"nodes": [{"op": "ADD", "dtype": "float", "src": [0]}], "root": 0}', '{"nodes": [', 'null'])
def test_corrupt_json_is_refused(doc):
  r = subprocess.run([str(tool("uoptool")), "print"], input=doc, capture_output=True, text=True)
  assert r.returncode == 1 and r.stderr.startswith("error: uop json:"), (r.returncode, r.stderr)
