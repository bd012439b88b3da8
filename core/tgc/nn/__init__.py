"""tinygrad 0.14.0's tinygrad.nn, as far as tgc has it: layers (Linear, BatchNorm, Conv1d/2d, ConvTranspose1d/2d,
LayerNorm, GroupNorm, RMSNorm, Embedding), `optim` (SGD/LARS, Adam/AdamW/LAMB) and `state` (safetensors, state dicts). Layers are compositions of
tgc.Tensor operations and build the graphs tinygrad builds."""
from __future__ import annotations
import math
from tgc.tensor import Tensor, _call
from tgc.nn import state, optim  # noqa: F401

def _tuple(x, n: int) -> tuple: return tuple(x) if isinstance(x, (list, tuple)) else (x,) * n

class Linear:
  """y = x @ W.T + b, weights uniform in [-1/sqrt(in), 1/sqrt(in)) as tinygrad initializes them."""
  def __init__(self, in_features: int, out_features: int, bias=True):
    bound = 1 / math.sqrt(in_features)
    self.weight = Tensor.uniform(out_features, in_features, low=-bound, high=bound)
    self.bias = Tensor.uniform(out_features, low=-bound, high=bound) if bias else None
  def __call__(self, x: Tensor) -> Tensor: return x.linear(self.weight.transpose(), self.bias)

class BatchNorm:
  """Batch normalization over axis 1 with running statistics (updated while Tensor.training)."""
  def __init__(self, sz: int, eps=1e-5, affine=True, track_running_stats=True, momentum=0.1):
    self.eps, self.track_running_stats, self.momentum = eps, track_running_stats, momentum
    self.weight = Tensor.ones(sz) if affine else None
    self.bias = Tensor.zeros(sz) if affine else None
    self.num_batches_tracked = Tensor.zeros(dtype="long")
    self.num_batches_tracked.is_param = False
    if track_running_stats:
      self.running_mean, self.running_var = Tensor.zeros(sz), Tensor.ones(sz)
      self.running_mean.is_param = self.running_var.is_param = False
  def calc_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
    shape_mask = [1, -1, *([1] * (x.ndim - 2))]
    if self.track_running_stats and not Tensor.training: return self.running_mean, self.running_var.reshape(shape_mask)
    reduce_axes = tuple(a for a in range(x.ndim) if a != 1)
    batch_mean = x.mean(axis=reduce_axes)
    y = x - batch_mean.detach().reshape(shape_mask)  # d(var)/d(mean) = 0
    return batch_mean, (y * y).mean(axis=reduce_axes)
  def __call__(self, x: Tensor) -> Tensor:
    batch_mean, batch_var = self.calc_stats(x)
    if self.track_running_stats and Tensor.training:
      self.running_mean.assign((1 - self.momentum) * self.running_mean + self.momentum * batch_mean.detach())
      self.running_var.assign((1 - self.momentum) * self.running_var + self.momentum * x.numel() / (x.numel() - x.shape[1]) * batch_var.detach())
      self.num_batches_tracked.assign(self.num_batches_tracked + 1)
    return x.batchnorm(self.weight, self.bias, batch_mean, batch_var.add(self.eps).rsqrt())
BatchNorm2d = BatchNorm3d = BatchNorm

def Conv1d(in_channels: int, out_channels: int, kernel_size: int, stride=1, padding: int | str = 0, dilation=1, groups=1, bias=True) -> Conv2d:
  """A 1D convolution: Conv2d with a kernel of one dim."""
  return Conv2d(in_channels, out_channels, (kernel_size,), stride, padding, dilation, groups, bias)

class Conv2d:
  """A convolution over len(kernel_size) spatial dims (an int kernel_size means 2), weights uniform in +-1/sqrt(fan_in)
  as tinygrad initializes them. padding='same' pads so that the output keeps the input's size (stride 1 only)."""
  def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
    self.kernel_size = _tuple(kernel_size, 2)
    if isinstance(padding, str):
      if padding.lower() != "same": raise ValueError(f"Invalid padding string {padding!r}, only 'same' is supported")
      if stride != 1: raise ValueError("padding='same' is not supported for strided convolutions")
      # flat, last dim first; the odd pixel goes after
      spans = [d * (k - 1) for d, k in zip(_tuple(dilation, len(self.kernel_size)), self.kernel_size[::-1])]
      padding = tuple(p for s in spans for p in (s // 2, s - s // 2))
    self.stride, self.dilation, self.groups, self.padding = stride, dilation, groups, padding
    scale = 1 / math.sqrt(in_channels * math.prod(self.kernel_size))
    self.weight = Tensor.uniform(out_channels, in_channels // groups, *self.kernel_size, low=-scale, high=scale)
    self.bias = Tensor.uniform(out_channels, low=-scale, high=scale) if bias else None
  def __call__(self, x: Tensor) -> Tensor: return x.conv2d(self.weight, self.bias, self.groups, self.stride, self.dilation, self.padding)

def ConvTranspose1d(in_channels: int, out_channels: int, kernel_size: int, stride=1, padding=0, output_padding=0, dilation=1, groups=1,
                    bias=True) -> ConvTranspose2d:
  """A 1D transposed convolution: ConvTranspose2d with a kernel of one dim."""
  return ConvTranspose2d(in_channels, out_channels, (kernel_size,), stride, padding, output_padding, dilation, groups, bias)

class ConvTranspose2d(Conv2d):
  """A transposed convolution; the weight is (in_channels, out_channels/groups, *kernel_size). Like tinygrad, it first
  draws Conv2d's weight and bias (so the random stream advances the same way), then its own weight."""
  def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, dilation=1, groups=1,
               bias=True):
    super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
    scale = 1 / math.sqrt(in_channels * math.prod(self.kernel_size))
    self.weight = Tensor.uniform(in_channels, out_channels // groups, *self.kernel_size, low=-scale, high=scale)
    self.output_padding = output_padding
  def __call__(self, x: Tensor) -> Tensor:
    return x.conv_transpose2d(self.weight, self.bias, self.groups, self.stride, self.dilation, self.padding, self.output_padding)

class LayerNorm:
  def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
    self.normalized_shape = _tuple(normalized_shape, 1)
    self.axis, self.eps = tuple(-1 - i for i in range(len(self.normalized_shape))), eps
    self.weight = Tensor.ones(*self.normalized_shape) if elementwise_affine else None
    self.bias = Tensor.zeros(*self.normalized_shape) if elementwise_affine else None
  def __call__(self, x: Tensor) -> Tensor:
    assert self.normalized_shape == x.shape[-len(self.normalized_shape):], f"last dimensions of {x.shape} must match {self.normalized_shape}"
    x = x.layernorm(eps=self.eps, axis=self.axis)
    if self.weight is None or self.bias is None: return x
    return x * self.weight + self.bias

class GroupNorm:
  def __init__(self, num_groups: int, num_channels: int, eps=1e-5, affine=True):
    self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
    self.weight = Tensor.ones(num_channels) if affine else None
    self.bias = Tensor.zeros(num_channels) if affine else None
  def __call__(self, x: Tensor) -> Tensor:
    x = x.reshape(x.shape[0], self.num_groups, -1).layernorm(eps=self.eps).reshape(x.shape)
    if self.weight is None or self.bias is None: return x
    return x * self.weight.reshape(1, -1, *[1] * (x.ndim - 2)) + self.bias.reshape(1, -1, *[1] * (x.ndim - 2))

class RMSNorm:
  def __init__(self, dim: int, eps=1e-6, elementwise_affine=True):
    self.eps = eps
    self.weight = Tensor.ones(dim) if elementwise_affine else None
  def _norm(self, x: Tensor) -> Tensor: return x * (x.square().mean(-1, keepdim=True) + self.eps).rsqrt()
  def __call__(self, x: Tensor) -> Tensor:
    x = self._norm(x.float()).cast(x.dtype)
    return x if self.weight is None else x * self.weight

class Embedding:
  """A lookup table: rows of weight (vocab_size, embed_size) selected by an int index tensor, as tinygrad 0.14.0's
  Embedding.__call__ builds it (a one-hot comparison with arange(vocab_size), summed away)."""
  def __init__(self, vocab_size: int, embed_size: int):
    self.vocab_sz, self.embed_sz = vocab_size, embed_size
    self.weight = Tensor.glorot_uniform(vocab_size, embed_size)
  def __call__(self, idx: Tensor) -> Tensor: return _call("tg_tensor_embedding", self.weight._h, idx._h)
