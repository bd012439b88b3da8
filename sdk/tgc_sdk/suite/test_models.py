"""Tier "models": small graphs end to end, compared by values against the CPU backend: an MLP training step and a small
conv net forward and backward. They need the engine (Tensor, autograd, the scheduler, codegen): NOT_RUN until issue 3."""
import pytest
from tgc_sdk.suite.plugin import not_run, ENGINE

@pytest.mark.parametrize("model", ["mlp_training_step", "convnet_forward", "convnet_backward"])
def test_model(model):
  not_run(f"{ENGINE}: {model} runs tgc.Tensor on the device and on CPU and compares the values")
