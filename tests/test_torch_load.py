"""tgc.nn.state.torch_load: PyTorch zip checkpoints written by torch.save (torch 2.13, CPU) read without torch, compared
with the tensors torch saved; files that are not state_dicts, or that try to run code, are refused with TorchLoadError."""
import io, os, pickle, zipfile
import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="torch==2.13.0 (CPU) is in the test extra")
from tgc.nn.state import torch_load, TorchLoadError

def test_round_trip_of_every_storage_type_and_views(tmp_path):
  torch.manual_seed(0)
  sd = {"w": torch.randn(3, 4), "t": torch.randn(5, 3).t(), "half": torch.randn(6).half(), "bf": torch.randn(6).bfloat16(),
        "f64": torch.randn(2, 2, dtype=torch.float64), "i32": torch.arange(4, dtype=torch.int32), "i64": torch.arange(7),
        "i16": torch.arange(3, dtype=torch.int16), "i8": torch.arange(-2, 2, dtype=torch.int8), "u8": torch.arange(5, dtype=torch.uint8),
        "b": torch.tensor([True, False, True]), "slice": torch.randn(10)[2:7], "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3)}
  import tgc
  if "bfloat16" not in tgc.Device[tgc.Device.DEFAULT].caps["dtypes"]: del sd["bf"]  # DEV=VULKAN: reading bf16 back needs a bf16 kernel
  torch.save(sd, p := tmp_path / "sd.pth")
  got = torch_load(str(p))
  assert set(got) == set(sd)
  for k, v in sd.items():
    g, w = (got[k].float().numpy(), v.float().numpy()) if k == "bf" else (got[k].numpy(), v.numpy())
    assert g.shape == w.shape and g.dtype == w.dtype, k
    np.testing.assert_array_equal(g, w)

def test_module_state_dict_loads_into_a_tgc_model(tmp_path):
  from tgc import Tensor, nn
  torch.manual_seed(1)
  tm = torch.nn.Linear(5, 3)
  torch.save(tm.state_dict(), p := tmp_path / "lin.pth")
  m = nn.Linear(5, 3)
  nn.state.load_state_dict(m, torch_load(p), verbose=False)
  x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
  np.testing.assert_allclose(m(Tensor(x)).numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)

class _Evil:
  def __reduce__(self): return (os.system, ("echo pwned",))

def test_code_in_the_pickle_is_refused(tmp_path):
  torch.save({"w": torch.zeros(2)}, p := tmp_path / "ok.pth")
  zin = zipfile.ZipFile(p)
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w") as zout:
    for n in zin.namelist(): zout.writestr(n, pickle.dumps({"w": _Evil()}) if n.endswith("data.pkl") else zin.read(n))
  (q := tmp_path / "evil.pth").write_bytes(buf.getvalue())
  with pytest.raises(TorchLoadError, match="refusing to unpickle (posix|os).system"): torch_load(str(q))

def test_bad_files(tmp_path):
  (a := tmp_path / "junk.pth").write_bytes(b"not a zip at all")
  with pytest.raises(TorchLoadError, match="not a PyTorch zip"): torch_load(str(a))
  torch.save({"w": torch.randn(100)}, p := tmp_path / "sd.pth")
  raw = p.read_bytes()
  (t := tmp_path / "trunc.pth").write_bytes(raw[: len(raw) // 2])
  with pytest.raises(TorchLoadError): torch_load(str(t))
  torch.save([torch.zeros(1)], l := tmp_path / "list.pth")
  with pytest.raises(TorchLoadError, match="not a state_dict"): torch_load(str(l))
  with pytest.raises(FileNotFoundError): torch_load(str(tmp_path / "missing.pth"))
