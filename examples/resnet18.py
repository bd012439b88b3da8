"""ResNet-18 (torchvision's architecture: BasicBlock x [2, 2, 2, 2], 7x7 stem, batch norm, global average pool, fc) built
with tgc.nn, its weights loaded from a PyTorch state_dict with tgc.nn.state.load_state_dict.

  pip install . torch && python examples/resnet18.py [--batch 1] [--size 224]

It makes a randomly initialized torch model (torch.manual_seed(0), random batch-norm statistics too), saves its
state_dict with torch.save, reads that file with tgc.nn.state.torch_load (no torch involved) into the tgc model, runs
both on the same input in eval mode and prints the largest relative difference of the logits."""
import argparse, time
import numpy as np
from tgc import Tensor, nn

class BasicBlock:
  expansion = 1
  def __init__(self, in_planes: int, planes: int, stride: int = 1):
    self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
    self.bn1 = nn.BatchNorm(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
    self.bn2 = nn.BatchNorm(planes)
    self.downsample = []
    if stride != 1 or in_planes != planes:
      self.downsample = [nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm(planes)]
  def __call__(self, x: Tensor) -> Tensor:
    out = self.bn1(self.conv1(x)).relu()
    out = self.bn2(self.conv2(out))
    return (out + x.sequential(self.downsample)).relu()

class ResNet18:
  def __init__(self, num_classes: int = 1000):
    self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
    self.bn1 = nn.BatchNorm(64)
    planes, self.in_planes = [64, 128, 256, 512], 64
    for i, p in enumerate(planes):
      blocks = []
      for j in range(2):
        blocks.append(BasicBlock(self.in_planes, p, stride=2 if (i > 0 and j == 0) else 1))
        self.in_planes = p
      setattr(self, f"layer{i + 1}", blocks)
    self.fc = nn.Linear(512, num_classes)
  def __call__(self, x: Tensor) -> Tensor:
    x = self.bn1(self.conv1(x)).relu().max_pool2d(kernel_size=(3, 3), stride=2, padding=1)
    for i in range(4): x = x.sequential(getattr(self, f"layer{i + 1}"))
    return self.fc(x.mean((2, 3)))

def torch_resnet18(num_classes: int = 1000):
  """The same architecture in torch (torchvision.models.resnet18 without torchvision)."""
  import torch.nn as tnn
  class TBlock(tnn.Module):
    def __init__(self, inp, p, stride):
      super().__init__()
      self.conv1, self.bn1 = tnn.Conv2d(inp, p, 3, stride, 1, bias=False), tnn.BatchNorm2d(p)
      self.conv2, self.bn2 = tnn.Conv2d(p, p, 3, 1, 1, bias=False), tnn.BatchNorm2d(p)
      self.downsample = tnn.Sequential(tnn.Conv2d(inp, p, 1, stride, bias=False), tnn.BatchNorm2d(p)) if stride != 1 or inp != p else None
    def forward(self, x):
      out = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
      return (out + (self.downsample(x) if self.downsample is not None else x)).relu()
  class TResNet(tnn.Module):
    def __init__(self):
      super().__init__()
      self.conv1, self.bn1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False), tnn.BatchNorm2d(64)
      self.maxpool = tnn.MaxPool2d(3, 2, 1)
      inp, layers = 64, []
      for i, p in enumerate([64, 128, 256, 512]):
        layers.append(tnn.Sequential(TBlock(inp, p, 2 if i > 0 else 1), TBlock(p, p, 1)))
        inp = p
      self.layer1, self.layer2, self.layer3, self.layer4 = layers
      self.fc = tnn.Linear(512, num_classes)
    def forward(self, x):
      x = self.maxpool(self.bn1(self.conv1(x)).relu())
      x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
      return self.fc(x.mean((2, 3)))
  return TResNet()

def load_from_torch(model: ResNet18, torch_model) -> None:
  """Saves the torch state_dict to a .pth file and loads it into the tgc model with torch_load + load_state_dict."""
  import os, tempfile, torch
  with tempfile.TemporaryDirectory() as d:
    torch.save(torch_model.state_dict(), path := os.path.join(d, "resnet18.pth"))
    nn.state.load_state_dict(model, nn.state.torch_load(path), strict=True, verbose=False)

def randomize_bn(torch_model, seed: int = 0):
  """Random batch-norm statistics and affine terms, so that eval mode is not an identity."""
  import torch
  g = torch.Generator().manual_seed(seed)
  for m in torch_model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
      with torch.no_grad():
        m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
        m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
        m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
        m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)

def main(argv=None) -> float:
  import torch
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--batch", type=int, default=1)
  ap.add_argument("--size", type=int, default=224)
  args = ap.parse_args(argv)
  torch.manual_seed(0)
  tm = torch_resnet18().eval()
  randomize_bn(tm)
  model = ResNet18()
  load_from_torch(model, tm)
  x = np.random.default_rng(0).standard_normal((args.batch, 3, args.size, args.size)).astype(np.float32)
  with torch.no_grad(): want = tm(torch.tensor(x)).numpy()
  t = time.perf_counter()
  got = model(Tensor(x)).numpy()
  dt = time.perf_counter() - t
  rel = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
  print(f"logits {got.shape}, max |tgc - torch| / max |torch| = {rel:.2e}  (tgc forward incl. compile: {dt:.1f} s)")
  return rel

if __name__ == "__main__":
  main()
