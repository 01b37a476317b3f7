"""CupyBackend: the array-API defaults on ``array_api_compat.cupy``, plus CuPy's
native routines for what the standard lacks (RNG per device, scatter-add,
strided windows, erf, einsum, pad, DLPack, synchronize, memory statistics),
and fast convolution / max pooling (cuDNN, else one CUDA kernel + one GEMM;
see ``_fastpaths``), fused optimizer updates, cross-entropy and the LSTM step (``_fused``).
``backend.fastpath_status`` says which path ran and why.

Imported only when the cupy backend is first used.
"""
from __future__ import annotations

import array_api_compat.cupy as xpc
import cupy
import cupyx
import cupyx.scipy.special as _special
import numpy

import tensorplug

from . import _fastpaths, _fused, _fused_kernels

# dtypes cupyx.scatter_add accumulates natively (atomicAdd); int64 goes through a uint64 view,
# which adds the same bits (two's complement), the rest through the host.
_SCATTER_NATIVE = frozenset(numpy.dtype(n) for n in ("float16", "float32", "float64", "int32", "uint32", "uint64"))
_INT64 = numpy.dtype("int64")
_FLOATS = frozenset(numpy.dtype(n) for n in ("float32", "float64"))


class CupyBackend(tensorplug.ArrayAPIBackend):
    """Arrays on one CUDA device (``cuda:N``)."""

    name = "cupy"
    device_type = "cuda"
    xp = xpc
    # sliding_windows (im2col, pooling) as strided views: no copy of the windows
    as_strided = staticmethod(cupy.lib.stride_tricks.as_strided)
    # diagonal and unfold write through to their base (cupy's strided views are writable)
    as_strided_writeable = as_strided
    oom_hint = "use a smaller size, free tensors, or call tensorplug.cuda.empty_cache()"
    # tensor cores: float16 and bfloat16 GEMMs and convolutions run several times faster than float32's,
    # so tensorplug.autocast casts to them (bfloat16 needs this backend to store it: until then such a
    # region's first cast says "backend 'cupy' does not support bfloat16")
    autocast_dtypes = ("float16", "bfloat16")

    def __init__(self, index=None):
        index = 0 if index is None else index
        count = cupy.cuda.runtime.getDeviceCount()
        if index >= count:
            raise RuntimeError(
                f"CUDA error: invalid device ordinal: cuda:{index} was asked for but this machine has "
                f"{count} CUDA device(s) (cuda:0 to cuda:{count - 1})")
        self._dev = cupy.cuda.Device(index)
        with self._dev:
            super().__init__(index)
            self._rs = None
        self._fast = None  # the fast-path Dispatcher, built on first use
        self._fused = None  # FusedOps, built on first use
        self._fused_off = None  # why the fused kernels were turned off, if they were
        self._fused_used = set()
        self._cudnn_reason = None

    # fast paths: cuDNN, else CUDA kernels, else the defaults --------------------------
    def _dispatcher(self):
        if self._fast is None:
            kernels = _fastpaths.KernelOps(cupy, _fastpaths.gpu_launcher())
            conv = []
            try:
                self._cudnn_reason = _fastpaths.cudnn_unavailable_reason()
            except Exception as exc:
                self._cudnn_reason = f"cuDNN probe raised {type(exc).__name__}: {exc}"
            if self._cudnn_reason is None:
                try:
                    conv.append(("cudnn", _fastpaths.CudnnOps()))
                except Exception as exc:
                    self._cudnn_reason = f"cupyx.cudnn setup raised {type(exc).__name__}: {exc}"
            conv.append(("kernels", kernels))
            tiers = {"conv": conv, "max_pool": [("kernels", kernels)], "max_unpool": [("kernels", kernels)]}
            self._fast = _fastpaths.Dispatcher(cupy, tiers)
            if self._cudnn_reason:
                self._fast.dropped["conv"].append(f"cudnn skipped: {self._cudnn_reason}")
        return self._fast

    @property
    def fastpath_status(self):
        """Which implementation served each op family (cudnn / kernels / default), and why others did not."""
        status = self._dispatcher().status()
        if self._fused_off:
            status["fused"] = "off: " + self._fused_off.split("\n")[0]
        else:
            status["fused"] = "kernels: " + (", ".join(sorted(self._fused_used)) or "not used yet")
        return status

    @property
    def fastpath_errors(self):
        """Tracebacks of the fast tiers that failed (family/tier -> text)."""
        errors = dict(self._dispatcher().errors)
        if self._fused_off:
            errors["fused"] = self._fused_off
        return errors

    # fused optimizer updates, cross-entropy, LSTM step: one kernel each (_fused) -------
    def _run_fused(self, op, declined, *args, **kwargs):
        ops = self._fused
        if ops is None:
            if self._fused_off is not None:
                return declined
            ops = self._fused = _fused.FusedOps(cupy, _fastpaths.gpu_launcher(_fused_kernels.SOURCE))
        try:
            with self._dev:
                out = getattr(ops, op)(*args, **kwargs)
        except Exception as exc:  # a kernel that does not compile here: the array code for good, reported
            import traceback
            self._fused = None
            self._fused_off = f"{op} raised {type(exc).__name__}: {str(exc)[:300]}\n{traceback.format_exc()}"
            return declined
        if out is not declined:
            self._fused_used.add(op)
        return out

    def axpy(self, y, alpha, x):
        return self._run_fused("axpy", False, y, alpha, x)

    def fused_sgd(self, p, g, buf, **options):
        return self._run_fused("sgd", False, p, g, buf, **options)

    def fused_adam(self, p, g, m, v, vmax, **options):
        return self._run_fused("adam", False, p, g, m, v, vmax, **options)

    def fused_rmsprop(self, p, g, square_avg, buf, grad_avg, **options):
        return self._run_fused("rmsprop", False, p, g, square_avg, buf, grad_avg, **options)

    def fused_cross_entropy(self, x, target, ignore_index, reduction):
        return self._run_fused("cross_entropy", NotImplemented, x, target, ignore_index, reduction)

    def fused_cross_entropy_backward(self, logp, target, ignore_index, g, den, reduction):
        return self._run_fused("cross_entropy_backward", NotImplemented, logp, target, ignore_index, g, den,
                               reduction)

    def fused_lstm_cell(self, gates, projected, c_prev, c, tanh_c, h):
        return self._run_fused("lstm_cell", NotImplemented, gates, projected, c_prev, c, tanh_c, h)

    def fused_lstm_cell_backward(self, gates, c_prev, tanh_c, dh, dc, dz):
        return self._run_fused("lstm_cell_backward", NotImplemented, gates, c_prev, tanh_c, dh, dc, dz)

    def _fastpath(self, family, op, args, default):
        """``op(*args)`` on the fastest path of ``family`` that takes it (cuDNN, a CUDA kernel), else
        ``default(*args)``, on this backend's device (``fastpath_status`` says which ran, and why)."""
        with self._dev:
            return (self._fast or self._dispatcher()).run(family, op, args, default)

    def conv(self, x, w, stride, pads, dilation, groups):
        return self._fastpath("conv", "conv", (x, w, stride, pads, dilation, groups), super().conv)

    def conv_bias(self, x, w, b, stride, pads, dilation, groups):
        # the bias goes into the kernel that lays the GEMM's result out as (N, O, ...)
        return self._fastpath("conv", "conv_bias", (x, w, b, stride, pads, dilation, groups),
                              self._conv_bias_default)

    def _conv_bias_default(self, x, w, b, stride, pads, dilation, groups):
        y = tensorplug.ArrayAPIBackend.conv(self, x, w, stride, pads, dilation, groups)
        y += self.xp.reshape(b, (-1,) + (1,) * (y.ndim - 2))
        return y

    def conv_input_grad(self, g, w, input_shape, stride, pads, dilation, groups):
        return self._fastpath("conv", "conv_input_grad", (g, w, input_shape, stride, pads, dilation, groups),
                              super().conv_input_grad)

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        return self._fastpath("conv", "conv_weight_grad", (x, g, weight_shape, stride, pads, dilation, groups),
                              super().conv_weight_grad)

    def max_pool(self, x, window, stride, pads, dilation):
        return self._fastpath("max_pool", "max_pool", (x, window, stride, pads, dilation), super().max_pool)

    def max_unpool(self, values, index, shape, unique=False):
        # the kernel adds (atomically), which is right whether or not the indices repeat
        return self._fastpath("max_unpool", "max_unpool", (values, index, shape), super().max_unpool)

    # device management (used by tensorplug.cuda) ---------------------------------
    def device_count(self):
        return cupy.cuda.runtime.getDeviceCount()

    def device_name(self):
        props = cupy.cuda.runtime.getDeviceProperties(self.index)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def set_device(self):
        """Make this backend's GPU CuPy's current device (kernels on its arrays launch there)."""
        self._dev.use()

    def synchronize(self):
        self._dev.synchronize()

    def memory_stats(self):
        with self._dev:
            pool = cupy.get_default_memory_pool()
            return {"allocated_bytes": pool.used_bytes(), "reserved_bytes": pool.total_bytes(),
                    "free_bytes_in_pool": pool.free_bytes()}

    def empty_cache(self):
        with self._dev:
            cupy.get_default_memory_pool().free_all_blocks()

    # creation and conversion: allocate on this backend's device ---------------------
    def asarray(self, obj, dtype=None):
        with self._dev:
            return cupy.asarray(obj, dtype=None if dtype is None else self.native_dtype(dtype))

    def _alloc(self, fn, shape, dtype):
        with self._dev:
            try:
                return fn(shape, dtype=self.native_dtype(dtype))
            except cupy.cuda.memory.OutOfMemoryError:
                raise self.out_of_memory(shape, dtype) from None

    def full(self, shape, value, dtype):
        with self._dev:
            try:
                return cupy.full(shape, value, dtype=self.native_dtype(dtype))
            except cupy.cuda.memory.OutOfMemoryError:
                raise self.out_of_memory(shape, dtype) from None

    def arange(self, start, stop, step, dtype):
        with self._dev:
            return cupy.arange(start, stop, step, dtype=self.native_dtype(dtype))

    def linspace(self, start, stop, num, dtype):
        with self._dev:
            return cupy.linspace(start, stop, num, dtype=self.native_dtype(dtype))

    def eye(self, n, m, dtype):
        with self._dev:
            return cupy.eye(n, m, dtype=self.native_dtype(dtype))

    def astype(self, array, dtype):
        return array.astype(self.native_dtype(dtype))

    def copy(self, array):
        return array.copy()

    def to_numpy(self, array):
        return array.get() if isinstance(array, cupy.ndarray) else numpy.asarray(array)

    def from_numpy(self, ndarray):
        with self._dev:
            return cupy.asarray(ndarray)

    def from_dlpack(self, obj):
        with self._dev:
            return cupy.from_dlpack(obj)

    def view(self, array, shape):
        """``array`` reshaped without a copy, or None where that needs one (torch's view rule)."""
        shape = tuple(shape)
        if -1 in shape:
            known = 1
            for n in shape:
                known *= n if n != -1 else 1
            if known == 0 or array.size % known or shape.count(-1) > 1:
                return None
            shape = tuple(array.size // known if n == -1 else n for n in shape)
        out = array.view()
        try:
            out.shape = shape
        except (AttributeError, ValueError, TypeError):
            return None
        return out

    # indexing ----------------------------------------------------------------------
    def scatter_add(self, target, index, values):
        dt = target.dtype
        if dt in _SCATTER_NATIVE:
            cupyx.scatter_add(target, index, values)
        elif dt == _INT64:
            values = cupy.asarray(values, dtype=_INT64)
            cupyx.scatter_add(target.view(cupy.uint64), index, values.view(cupy.uint64))
        else:  # bool, small ints, complex: rare; exact on the host
            super().scatter_add(target, index, values)

    def take_along_axis(self, array, index, axis):
        return cupy.take_along_axis(array, index, axis)

    def put_along_axis(self, array, index, values, axis):
        out = array.copy()
        cupy.put_along_axis(out, index, values, axis)
        return out

    # math the standard lacks ---------------------------------------------------------
    def erf(self, x):
        out = _special.erf(x)
        return out if out.dtype == x.dtype else out.astype(x.dtype)

    def einsum(self, equation, *operands):
        return cupy.einsum(equation, *operands)

    def pad(self, x, pad_width, value=0):
        return cupy.pad(x, pad_width, constant_values=value)

    # random numbers: one cuRAND generator per device ------------------------------------
    def manual_seed(self, seed):
        self._seed = seed
        with self._dev:
            self._rs = cupy.random.RandomState(seed)

    def _generator(self):
        if self._rs is None:
            with self._dev:
                self._rs = cupy.random.RandomState()
        return self._rs

    def _float(self, dtype):
        native = numpy.dtype(self.native_dtype(dtype))
        return native if native in _FLOATS else numpy.dtype("float32")

    def rand(self, shape, dtype):
        with self._dev:
            out = self._generator().random_sample(shape, dtype=self._float(dtype))
            return self._cast(out, dtype)

    def randn(self, shape, dtype):
        with self._dev:
            out = self._generator().standard_normal(shape, dtype=self._float(dtype))
            return self._cast(out, dtype)

    def randint(self, low, high, shape, dtype):
        with self._dev:
            return self._cast(self._generator().randint(low, high, shape, dtype=numpy.int64), dtype)

    def randperm(self, n, dtype):
        with self._dev:
            return self._cast(self._generator().permutation(n), dtype)

    def bernoulli(self, p, dtype):
        with self._dev:
            u = self._generator().random_sample(tuple(p.shape), dtype=p.dtype if p.dtype in _FLOATS else numpy.float64)
            return self._cast(u < p, dtype)

    def exponential(self, shape, lambd, dtype):
        with self._dev:
            out = self._generator().exponential(1.0 / lambd, shape, dtype=self._float(dtype))
            return self._cast(out, dtype)

    def _cast(self, array, dtype):
        native = self.native_dtype(dtype)
        return array if array.dtype == native else array.astype(native)
