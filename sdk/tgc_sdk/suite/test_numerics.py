"""Tier "numerics": every ALU op x every declared dtype against the CPU backend, shapes tiny/odd/large/broadcast/strided/
size-0, guard bytes around every output, NaN/Inf/-0.0 semantics, a versioned per-op tolerance table.

The cases need kernels rendered by the engine (tensor ops -> codegen -> the device's dialect), which does not exist yet:
each case reports NOT_RUN with that reason, never PASS, until issue 3 lands."""
import pytest
from tgc_sdk.suite.abi import ALU_OPS
from tgc_sdk.suite.plugin import not_run, ENGINE

SHAPES = ["tiny", "odd", "large", "broadcast", "strided", "size0"]

@pytest.mark.parametrize("op", list(ALU_OPS.values()))
def test_alu(op):
  """The op over every dtype the caps declare, against the CPU backend, with guard bytes around the output."""
  not_run(f"{ENGINE}: {op} is compared once the engine renders kernels for it")

@pytest.mark.parametrize("shape", SHAPES)
def test_shapes(shape):
  not_run(f"{ENGINE}: {shape} shapes are realized through the engine's scheduler")

def test_special_values():
  """NaN, +-Inf and -0.0 in and out of every op, as the CPU backend (and tinygrad 0.14.0) treat them."""
  not_run(ENGINE)

def test_tolerance_table():
  """The versioned per-op, per-dtype tolerance table covers every op the caps declare."""
  not_run(f"{ENGINE}: the table is written with the first numerics cases")
