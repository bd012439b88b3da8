"""tinygrad 0.14.0's tinygrad.nn, as far as tgc has it: `state` (safetensors, state dicts)."""
from tgc.nn import state  # noqa: F401
