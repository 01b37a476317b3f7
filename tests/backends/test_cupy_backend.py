"""The cupy backend: honest availability without a GPU, and its behaviour on one.

Without a GPU, every path that asks for CUDA must raise BackendUnavailableError
(a RuntimeError) naming the reason (cupy absent / no driver / no device) and
that TENSORPLUG_BACKEND=numpy works; nothing may silently fall back to NumPy.
The reasons are produced for real: cupy blocked from import in a subprocess,
the installed cupy with no driver on this machine, and a stand-in CUDA driver
library (built here with the C compiler) that reports no device.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import tensorplug
import tensorplug_cupy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAVE_CUPY = tensorplug_cupy._importable("cupy")
GPU = tensorplug.cuda.is_available()


def run(code, env=None, block_cupy=False, args=None):
    """Run ``code`` in a fresh interpreter (optionally with cupy blocked from import)."""
    prelude = "import sys\nsys.modules['cupy'] = None\n" if block_cupy else ""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORPLUG_")}
    full_env.update(env or {})
    cmd = [sys.executable, "-c", prelude + textwrap.dedent(code)] + list(args or [])
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=120)


ASK_FOR_CUDA = """
import tensorplug, tensorplug_cupy
for label, fn in [("device='cuda'", lambda: tensorplug.zeros(2, device="cuda")),
                  ("device='cuda:0'", lambda: tensorplug.ones(2, device="cuda:0")),
                  (".cuda()", lambda: tensorplug.zeros(2).cuda()),
                  (".to('cuda')", lambda: tensorplug.zeros(2).to("cuda")),
                  ("tensor(device=)", lambda: tensorplug.tensor([1.0], device=tensorplug.device("cuda")))]:
    try:
        fn()
        print(label, "NO ERROR")
    except tensorplug.BackendUnavailableError as exc:
        assert isinstance(exc, RuntimeError)
        print(label, "RAISED", exc)
print("available", tensorplug.cuda.is_available(), tensorplug.cuda.device_count())
print("reason", tensorplug.cuda.unavailable_reason())
print("cupy imported", 'cupy' in sys.modules and sys.modules['cupy'] is not None)
"""


def _check_refusals(out, phrase):
    lines = [l for l in out.splitlines() if "RAISED" in l or "NO ERROR" in l]
    assert len(lines) == 5, out
    for line in lines:
        assert "RAISED" in line, line
        assert phrase in line and "TENSORPLUG_BACKEND=numpy" in line and "backend 'cupy'" in line, line
    assert "available False 0" in out
    reason = [l for l in out.splitlines() if l.startswith("reason ")]
    assert reason and phrase in reason[0], out


@pytest.mark.skipif(GPU, reason="a GPU is present")
def test_cupy_absent_every_cuda_request_says_so():
    proc = run("import sys\n" + ASK_FOR_CUDA, block_cupy=True)
    assert proc.returncode == 0, proc.stderr
    _check_refusals(proc.stdout, "cupy is not installed")
    assert "pip install -e '.[cuda]'" in proc.stdout
    assert "cupy imported False" in proc.stdout


@pytest.mark.skipif(GPU, reason="a GPU is present")
def test_cupy_absent_env_backend_refuses_with_reason():
    proc = run("import tensorplug; tensorplug.zeros(1)", env={"TENSORPLUG_BACKEND": "cupy"}, block_cupy=True)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tensorplug.errors.BackendUnavailableError") or "BackendUnavailableError" in last, last
    assert "cupy is not installed" in last and "TENSORPLUG_BACKEND=numpy" in last


@pytest.mark.skipif(GPU or not HAVE_CUPY, reason="needs cupy installed on a machine without a GPU")
def test_cupy_without_driver_every_cuda_request_says_so():
    """The real cupy, installed here, on a machine with no NVIDIA driver."""
    import ctypes
    try:
        ctypes.CDLL("libcuda.so.1")
        pytest.skip("this machine has a CUDA driver")
    except OSError:
        pass
    proc = run("import sys\n" + ASK_FOR_CUDA)
    assert proc.returncode == 0, proc.stderr
    _check_refusals(proc.stdout, "cupy is installed but no CUDA driver was found")
    assert "cupy imported False" in proc.stdout, "the probe must not import cupy"


@pytest.fixture(scope="module")
def fake_driver(tmp_path_factory):
    """A stand-in libcuda.so.1 whose cuInit reports CUDA_ERROR_NO_DEVICE (100), or another status."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or sys.platform != "linux":
        pytest.skip("needs a C compiler on Linux")
    libs = {}
    for name, status in (("nodevice", 100), ("broken", 999), ("zero", 0)):
        d = tmp_path_factory.mktemp(name)
        src = d / "fake.c"
        src.write_text(textwrap.dedent(f"""
            int cuInit(unsigned flags) {{ return {status}; }}
            int cuDeviceGetCount(int *n) {{ *n = 0; return 0; }}
            int cuGetErrorName(int e, const char **s) {{ *s = e == 100 ? "CUDA_ERROR_NO_DEVICE" : "CUDA_ERROR_UNKNOWN"; return 0; }}
        """))
        subprocess.run([cc, "-shared", "-fPIC", "-o", str(d / "libcuda.so.1"), str(src)], check=True)
        libs[name] = str(d)
    return libs


@pytest.mark.skipif(GPU or not HAVE_CUPY, reason="needs cupy installed on a machine without a GPU")
@pytest.mark.parametrize("case, phrase", [
    ("nodevice", "no CUDA device"),
    ("zero", "no CUDA device"),
    ("broken", "the CUDA driver failed to initialise (CUDA_ERROR_UNKNOWN (999))"),
])
def test_driver_without_device(fake_driver, case, phrase):
    proc = run("import sys\n" + ASK_FOR_CUDA, env={"LD_LIBRARY_PATH": fake_driver[case]})
    assert proc.returncode == 0, proc.stderr
    _check_refusals(proc.stdout, phrase)


@pytest.mark.skipif(GPU, reason="a GPU is present")
def test_info_explains_why_cuda_is_unavailable():
    proc = run("import runpy, sys; sys.argv = ['tensorplug', 'info']; runpy.run_module('tensorplug', run_name='__main__')",
               env={"TENSORPLUG_BACKEND": "cupy"})
    text = proc.stdout + proc.stderr
    reason = tensorplug.cuda.unavailable_reason()
    assert reason and reason in text, text
    assert "cupy" in text and "TENSORPLUG_BACKEND=numpy" in text


def test_probe_is_cheap_and_plugin_import_does_not_import_cupy():
    proc = run("""
        import sys, time, tensorplug, tensorplug_cupy
        t = time.perf_counter()
        reason = tensorplug_cupy.probe()
        print("probe ms", (time.perf_counter() - t) * 1000)
        tensorplug.zeros(2)  # loads every plugin
        print("cupy imported", 'cupy' in sys.modules)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "cupy imported False" in proc.stdout
    ms = float(proc.stdout.split("probe ms")[1].split()[0])
    assert ms < 500, f"the probe took {ms} ms"


def test_probe_never_raises_and_is_cached():
    first = tensorplug_cupy.probe()
    assert first is None or isinstance(first, str)
    assert tensorplug_cupy.probe() is first


def test_spec_is_declared_like_a_third_party_plugin():
    spec = tensorplug.registry.backend_specs()["cupy"]
    assert (spec.device_type, spec.plugin) == ("cuda", "cupy")
    assert spec.probe is tensorplug_cupy.probe
    # the plugin imports only tensorplug's public API
    src = open(tensorplug_cupy.__file__).read() + open(os.path.join(os.path.dirname(tensorplug_cupy.__file__),
                                                                      "backend.py")).read()
    assert "tensorplug." in src
    for private in ("from tensorplug.", "import tensorplug.", "tensorplug._", "tensorplug.registry.REGISTRY"):
        assert private not in src, private


# on a GPU ------------------------------------------------------------------------------

@pytest.mark.gpu
def test_gpu_tensor_roundtrip_and_device():
    x = tensorplug.arange(6, dtype=tensorplug.float32).view(2, 3)
    g = x.cuda()
    assert g.is_cuda and g.device == tensorplug.device("cuda:0") and str(g.device) == "cuda:0"
    assert "device='cuda:0'" in repr(g)
    assert (g * 2).cpu().tolist() == [[0, 2, 4], [6, 8, 10]]
    with pytest.raises(TypeError, match="cpu"):
        g.numpy()
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        g + x


@pytest.mark.gpu
def test_gpu_autograd_through_transfer():
    x = tensorplug.randn(5, 3, requires_grad=True)
    w = tensorplug.randn(3, 2, device="cuda")
    loss = (x.cuda() @ w).relu().sum()
    loss.backward()
    assert x.grad is not None and not x.grad.is_cuda and tuple(x.grad.shape) == (5, 3)


@pytest.mark.gpu
def test_gpu_cuda_module():
    cuda = tensorplug.cuda
    assert cuda.is_available() and cuda.device_count() >= 1 and cuda.current_device() == 0
    assert isinstance(cuda.get_device_name(), str) and cuda.get_device_name()
    before = cuda.memory_allocated()
    keep = tensorplug.zeros(1024, 1024, device="cuda")
    assert cuda.memory_allocated() >= before + 4 * 1024 * 1024
    cuda.synchronize()
    cuda.manual_seed(3)
    a = tensorplug.rand(4, device="cuda")
    cuda.manual_seed(3)
    assert tensorplug.equal(a, tensorplug.rand(4, device="cuda"))
    del keep
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        tensorplug.zeros(1, device=f"cuda:{cuda.device_count()}")
