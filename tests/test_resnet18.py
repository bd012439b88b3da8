"""ResNet-18 (torchvision's architecture, examples/resnet18.py) built with tgc.nn, loaded from a torch state_dict of
random weights (random batch-norm statistics too), evaluated on the same input as torch: logits within 1e-4 relative."""
import importlib.util, pathlib
import numpy as np
import pytest
torch = pytest.importorskip("torch", reason="torch==2.13.0 (CPU) is in the test extra")

def _example():
  spec = importlib.util.spec_from_file_location("resnet18", pathlib.Path(__file__).parents[1] / "examples" / "resnet18.py")
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod

def test_resnet18_logits_match_torch():
  assert _example().main(["--batch", "2", "--size", "64"]) < 1e-4

def test_resnet18_state_dict_keys_equal_torchs():
  mod = _example()
  from tgc import nn
  assert set(nn.state.get_state_dict(mod.ResNet18()).keys()) == set(mod.torch_resnet18().state_dict().keys())
