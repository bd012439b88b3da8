"""tinygrad 0.14.0's nn.optim: Optimizer, SGD (through LARS), Adam/AdamW (through LAMB), LAMB, LARS. Each step builds the
update graph with tgc.Tensor operations and assigns it into the parameters and optimizer state; step() realizes it.
Needs Tensor.training (tinygrad's TRAINING) to be on, as tinygrad does."""
from __future__ import annotations
from tgc.tensor import Tensor
from tgc.dtype import dtypes, least_upper_dtype, to_dtype

def _dedup(xs): return list({id(x): x for x in xs}.values())

class Optimizer:
  def __init__(self, params: list[Tensor], lr: float, device=None):
    if lr < 0: raise ValueError(f"Invalid learning rate: {lr}")
    self.params: list[Tensor] = _dedup([x for x in params if x.is_param])
    assert len(self.params) != 0, "optimizer must have at least one param"
    self.buffers: list[Tensor] = _dedup([x for x in params if not x.is_param])
    self.device = device or self.params[0].device
    self.param_dtype = dtypes.float32
    self.lr = Tensor([lr], device=self.device, dtype=least_upper_dtype(dtypes.default_float, dtypes.float32))
  def _new_optim_param(self) -> list[Tensor]: return [Tensor.zeros(t.shape, dtype=self.param_dtype, device=self.device) for t in self.params]
  def zero_grad(self):
    for p in self.params: p.grad = None
  def step(self): Tensor.realize(*self.schedule_step())
  def schedule_step(self) -> list[Tensor]:
    if not Tensor.training:
      raise RuntimeError("Tensor.training=False, Tensor.training must be enabled to use the optimizer (with Tensor.train(): ... or TRAINING=1)")
    for t in self.params:
      if t.grad is None: raise RuntimeError("optimizer: a parameter has no gradient; call loss.backward() first")
    updates, extra = self._step(self.params, [t.grad for t in self.params])
    for t, up in zip(self.params, updates): t.assign(t.detach() - up)
    return extra + self.params + self.buffers
  def _step(self, params, grads): raise NotImplementedError

class OptimizerGroup(Optimizer):
  def __init__(self, *optimizers: Optimizer):  # pylint: disable=super-init-not-called
    self.optimizers = optimizers
    self.params = [p for o in optimizers for p in o.params]
    self.buffers = [b for o in optimizers for b in o.buffers]
  def __getitem__(self, i): return self.optimizers[i]
  def zero_grad(self): [o.zero_grad() for o in self.optimizers]
  def schedule_step(self) -> list[Tensor]: return [x for o in self.optimizers for x in o.schedule_step()]

class LARS(Optimizer):
  def __init__(self, params, lr=0.001, momentum=0.9, weight_decay=1e-4, nesterov=False, classic=True, pre_wd=True, tcoef=0.001, device=None):
    if momentum < 0: raise ValueError(f"Invalid momentum value: {momentum}")
    super().__init__(params, lr, device)
    self.momentum, self.wd, self.nesterov, self.classic, self.pre_wd, self.tcoef = momentum, weight_decay, nesterov, classic, pre_wd, tcoef
    self.b = self._new_optim_param() if self.momentum else []
  def _step(self, params, grads):
    ret = []
    for i, (t, g) in enumerate(zip(params, grads)):
      if self.tcoef != 0:
        r1, r2 = t.detach().square().sum().sqrt(), g.square().sum().sqrt()
        r = (r1 > 0).where((r2 > 0).where(self.tcoef * r1 / (r2 + self.wd * r1), 1.0), 1.0)
      else: r = 1.0
      if self.pre_wd and self.wd > 0: g = g + self.wd * t.detach()
      if self.classic: g = g * r * self.lr
      if self.momentum:
        self.b[i].assign(self.momentum * self.b[i] + g)  # zero on the first step
        g = (g + self.momentum * self.b[i]) if self.nesterov else self.b[i]
      if not self.classic: g = g * r * self.lr
      if not self.pre_wd and self.wd > 0: g = g + self.wd * self.lr * t.detach()
      ret.append(g.cast(t.dtype))
    return ret, self.b

def SGD(params, lr=0.001, momentum=0.0, weight_decay=0.0, nesterov=False, classic=False, device=None):
  """SGD with optional momentum, nesterov and weight decay (tinygrad: LARS with trust coefficient 0)."""
  return LARS(params, lr, momentum, weight_decay, nesterov, classic=classic, pre_wd=True, tcoef=0.0, device=device)

class LAMB(Optimizer):
  def __init__(self, params, lr=0.001, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.0, adam=False, device=None):
    if weight_decay < 0: raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    super().__init__(params, lr, device)
    self.b1, self.b2, self.eps, self.wd, self.adam = b1, b2, eps, weight_decay, adam
    self.b1_t, self.b2_t = (Tensor.ones((1,), dtype=dtypes.float32, device=self.device) for _ in (b1, b2))
    self.b1_t.is_param = self.b2_t.is_param = False
    self.m, self.v = self._new_optim_param(), self._new_optim_param()
  def _step(self, params, grads):
    ret = []
    self.b1_t.assign(self.b1_t * self.b1)
    self.b2_t.assign(self.b2_t * self.b2)
    for i, (t, g) in enumerate(zip(params, grads)):
      self.m[i].assign((self.b1 * self.m[i] + (1.0 - self.b1) * g).cast(self.m[i].dtype))
      self.v[i].assign((self.b2 * self.v[i] + (1.0 - self.b2) * (g * g)).cast(self.v[i].dtype))
      m_hat = self.m[i] / (1.0 - self.b1_t)
      v_hat = self.v[i] / (1.0 - self.b2_t)
      up = (m_hat / (v_hat.sqrt() + self.eps)) + self.wd * t.detach()
      if not self.adam:
        r1, r2 = t.detach().square().sum().sqrt(), up.square().sum().sqrt()
        r = (r1 > 0).where((r2 > 0).where(r1 / r2, 1.0), 1.0)
      else: r = 1.0
      ret.append((self.lr * r * up).cast(t.dtype))
    return ret, [self.b1_t, self.b2_t] + self.m + self.v

def AdamW(params, lr=0.001, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01, device=None):
  return LAMB(params, lr, b1, b2, eps, weight_decay, adam=True, device=device)
def Adam(params, lr=0.001, b1=0.9, b2=0.999, eps=1e-8, device=None):
  return LAMB(params, lr, b1, b2, eps, 0.0, adam=True, device=device)
