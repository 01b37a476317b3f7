"""tensorplug: a PyTorch-style deep-learning library whose backends are plugins.

``import tensorplug as torch`` and beginner PyTorch code runs unchanged.
Nothing heavy happens at import: backends are found and loaded on first use.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .hookspecs import hookimpl, hookspec
from .errors import (TensorplugError, OutOfMemoryError, BackendUnavailableError, PluginError,
                     CheckpointError)
from .backend import Backend, ArrayAPIBackend, BackendSpec
from .device import device
from .dtypes import (dtype, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64,
                     complex128, promote_types, get_default_dtype, set_default_dtype, finfo, iinfo)
from .dtypes import bool_ as bool  # noqa: A001 - torch.bool
from .registry import use_backend, get_backend
from .tensor import (Tensor, Size, tensor, is_tensor, FloatTensor, DoubleTensor, HalfTensor, LongTensor,
                     IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor)
from .autograd import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .autograd.grad_mode import is_inference_mode_enabled
from .autograd.anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly_enabled
from .creation import *  # noqa: F401,F403
from .ops import *  # noqa: F401,F403
from .ops.aliases import *  # noqa: F401,F403 - torch's aliases, acosh/asinh/atanh, torch.relu_ ...
from .ops.shape_extra import *  # noqa: F401,F403
from .ops.info import *  # noqa: F401,F403
from .ops.windows import *  # noqa: F401,F403
from .ops.statistics_extra import *  # noqa: F401,F403
from ._nn_routes import *  # noqa: F401,F403 - torch.conv2d, torch.layer_norm ... (nn loads on first call)
from .ops.statistics import (quantile, nanquantile, nanmean, nansum, kthvalue, mode, repeat_interleave,
                             normal)
from .ops.take_put import take, put, index_copy, index_put, select, scatter_reduce, masked_scatter
from .ops.strided import as_strided
from .spectral import stft, istft
from ._format import set_printoptions
from . import _out, linalg
from .ops import bind as _bind, _cast_method
_bind({"bfloat16": _cast_method("bfloat16")})  # Tensor.bfloat16(), as .half() / .float()
from .linalg import TOP_LEVEL as _LINALG_TOP_LEVEL
globals().update(_LINALG_TOP_LEVEL)  # torch.inverse, torch.det, torch.svd ... (also Tensor methods)
from .layout import layout, strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc
from . import sparse
from .sparse import sparse_coo_tensor, spmm
from .sparse._coo import DENSE_METHODS as _SPARSE_DENSE_METHODS
from .sparse._ops import dispatching as _sparse_dispatching
_bind(_SPARSE_DENSE_METHODS)  # Tensor.to_sparse / to_dense / layout / is_sparse
mm, matmul = _sparse_dispatching(mm), _sparse_dispatching(matmul)  # noqa: F405 - sparse @ dense too
_out.install(globals())  # torch's out= keyword on the functions that take it
from .generator import Generator, default_generator
from .threads import set_num_threads, get_num_threads
from . import autograd, ops, registry

half = float16
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16
cfloat = complex64
cdouble = complex128


def is_floating_point(input) -> bool:
    return input.is_floating_point()


def numel(input) -> int:
    return input.numel()


def manual_seed(seed) -> Generator:
    """Seed every backend's generator (and those created later); returns the default Generator, as torch."""
    registry.manual_seed(seed)
    return default_generator.manual_seed(seed)


def seed() -> int:
    import random
    s = random.randrange(2 ** 63)
    manual_seed(s)
    return s


_LAZY = {"nn": ".nn", "optim": ".optim", "utils": ".utils", "cuda": ".cuda", "testing": ".testing",
         "serialization": ".serialization", "amp": ".amp", "backends": ".backends",
         "distributions": ".distributions",
         "accelerator": ".accelerator", "onnx": ".onnx", "jit": ".jit", "func": ".func", "fft": ".fft",
         "special": ".special", "multiprocessing": ".multiprocessing", "xpu": ".xpu", "mps": ".mps"}
_FLOAT32_MATMUL_PRECISION = ["highest"]


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,  # noqa: A001
            disable=False):
    """torch.compile's signature; returns ``model`` itself (as a decorator too): tensorplug has no graph
    compiler, so the eager model is what runs, like torch.compile with ``backend="eager"``."""
    if model is None:
        return lambda fn: fn
    return model


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``tensorplug.func.vmap``, as torch.vmap."""
    from .func import vmap as _vmap
    return _vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


def set_default_device(device) -> None:
    """Make ``device`` (``'cpu'``, ``'cuda:0'``, a backend name; None: back to the default) where new
    tensors go when no ``device=`` is given, as torch.set_default_device. It sets the default backend of
    this thread (``use_backend`` blocks still take precedence inside them)."""
    registry._current.set(None if device is None else get_backend(device))


def get_default_device():
    """The device new tensors go to when no ``device=`` is given (``device(type='cpu')`` by default)."""
    return get_backend().device


def get_rng_state():
    """The default backend's generator state (an opaque copy; torch returns a byte tensor)."""
    return get_backend().get_rng_state()


def set_rng_state(new_state):
    """Restore ``get_rng_state()``'s copy on the default backend."""
    get_backend().set_rng_state(new_state)


def set_float32_matmul_precision(precision):
    """Accepts torch's 'highest' / 'high' / 'medium'; matmuls here always use full float32 precision."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid float32 matmul precision: {precision!r}; expected 'highest', 'high' or "
                           f"'medium'")
    _FLOAT32_MATMUL_PRECISION[0] = precision


def get_float32_matmul_precision():
    return _FLOAT32_MATMUL_PRECISION[0]


from .amp import (autocast, is_autocast_enabled, get_autocast_dtype, set_autocast_enabled,  # noqa: E402
                  set_autocast_dtype, is_autocast_cache_enabled, set_autocast_cache_enabled, clear_autocast_cache,
                  autocast_increment_nesting, autocast_decrement_nesting)


def __getattr__(name):
    # submodules that are heavier or rarely needed load on first access
    if name in _LAZY:
        import importlib
        module = importlib.import_module(_LAZY[name], __name__)
        globals()[name] = module
        return module
    if name in ("save", "load", "save_safetensors", "load_safetensors"):
        from . import serialization
        return getattr(serialization, name)
    raise AttributeError(f"module 'tensorplug' has no attribute '{name}'")
