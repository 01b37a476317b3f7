"""The CuPy backend's Python layer without a GPU: cupy stubbed by numpy in a subprocess, so its dispatch
(``_fastpath``), strided windows and out-of-memory errors run here (the kernels have their own host
tests). A GPU session runs the real thing."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STUB = """
import sys, types
import numpy as np
cupy = types.ModuleType("cupy")
cupy.__dict__.update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
class OutOfMemoryError(MemoryError):
    pass
class Device:
    def __init__(self, i=0): self.id = i
    def __enter__(self): return self
    def __exit__(self, *a): return False
cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1), Device=Device,
                                  memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError))
cupy.lib = np.lib
sys.modules["cupy"] = cupy
for name in ("cupyx", "cupyx.scipy", "cupyx.scipy.special"):
    sys.modules[name] = types.ModuleType(name)
sys.modules["cupyx"].scatter_add = np.add.at
import array_api_compat.numpy
sys.modules["array_api_compat.cupy"] = array_api_compat.numpy
"""

CHECKS = """
import tensorplug
from numpy.lib.stride_tricks import sliding_window_view
from tensorplug_cupy.backend import CupyBackend
b = CupyBackend(0)
x = np.arange(2 * 3 * 9 * 7, dtype=np.float32).reshape(2, 3, 9, 7)
got = b.sliding_windows(x, (3, 2), (2, 1), (1, 2))
want = sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, :, :, ::2]
assert got.shape == want.shape and (got == want).all(), (got.shape, want.shape)
seen = []
class Recorder:
    def run(self, family, op, args, default):
        seen.append((family, op))
        return default(*args)
b._fast = Recorder()
xs = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
ws = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
pads = ((1, 1), (1, 1))
y = b.conv(xs, ws, (1, 1), pads, (1, 1), 1)
b.conv_bias(xs, ws, np.ones(4, np.float32), (1, 1), pads, (1, 1), 1)
b.conv_input_grad(y, ws, xs.shape, (1, 1), pads, (1, 1), 1)
b.conv_weight_grad(xs, y, ws.shape, (1, 1), pads, (1, 1), 1)
v, i = b.max_pool(xs, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
b.max_unpool(v, i, xs.shape)
assert seen == [("conv", "conv"), ("conv", "conv_bias"), ("conv", "conv_input_grad"),
                ("conv", "conv_weight_grad"), ("max_pool", "max_pool"), ("max_unpool", "max_unpool")], seen
def oom(shape, dtype):
    raise OutOfMemoryError()
try:
    b._alloc(oom, (4, 4), tensorplug.float32)
except tensorplug.OutOfMemoryError as exc:
    message = str(exc)
assert message.startswith("can't allocate memory: you tried to allocate 64 bytes ((4, 4) of"), message
assert message.endswith("on cuda:0; use a smaller size, free tensors, or call tensorplug.cuda.empty_cache()")
print("ok")
"""


def test_cupy_backend_dispatch_windows_and_oom_on_a_numpy_stub():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(STUB) + textwrap.dedent(CHECKS)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
