"""``tensorplug.backends``: torch's backend switches, so scripts that set them run unchanged.

``cudnn.benchmark``, ``cudnn.deterministic``, ``cuda.matmul.allow_tf32`` and the
like are plain attributes here: tensorplug's CUDA backend (CuPy) picks its
kernels itself and never uses TF32, and results are deterministic, so the
switches have nothing to change. ``is_available()`` answers truthfully:
there is no cuDNN through CuPy 14, no MPS and no MKL-DNN.
"""
from __future__ import annotations

__all__ = ["cudnn", "cuda", "mps", "mkldnn", "openmp", "mkl", "mha"]


class _Switches:
    """A namespace of settable flags and ``is_available()``."""

    def __init__(self, available=False, **flags):
        self._available = available
        self.__dict__.update(flags)

    def is_available(self):
        return self._available

    def is_built(self):
        return self._available

    def __repr__(self):
        flags = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items() if not k.startswith("_"))
        return f"<switches {flags}>"


cudnn = _Switches(enabled=True, benchmark=False, deterministic=False, allow_tf32=True)
cudnn.version = lambda: None
mps = _Switches()
mkldnn = _Switches(enabled=False)
openmp = _Switches()
mkl = _Switches()
cuda = _Switches(matmul=_Switches(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                  allow_bf16_reduced_precision_reduction=True))
cuda.is_built = lambda: True
# torch.backends.mha: the switch of the nested-tensor fast path TransformerEncoder takes in evaluation
# (padded positions come out zero there), which set_fastpath_enabled(False) turns off, as in torch
mha = _Switches(_fastpath=True)
mha.get_fastpath_enabled = lambda: mha._fastpath
mha.set_fastpath_enabled = lambda value: setattr(mha, "_fastpath", bool(value))

# ``import tensorplug.backends.cudnn as cudnn`` (an import statement, as torch scripts write it) finds these
_sys = __import__("sys")
for _name in __all__:
    _sys.modules[f"{__name__}.{_name}"] = globals()[_name]
