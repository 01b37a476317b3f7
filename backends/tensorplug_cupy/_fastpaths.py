"""Fast convolution and pooling for the CuPy backend, in tiers.

For each op family the backend tries, in order:

* ``cudnn``: ``cupyx.cudnn`` (CuPy <= 13 with a matching libcudnn); one cuDNN
  call per convolution, its gradients likewise.
* ``kernels``: the CUDA kernels of ``_kernels.py`` (one im2col / col2im /
  pooling kernel per call) around one cuBLAS GEMM.
* ``default``: ``ArrayAPIBackend``'s implementation (always correct, slower).

A tier that is unavailable, raises, or disagrees with the default on its first
call is dropped for good; the reason lands in ``backend.fastpath_status`` and
its traceback in ``backend.fastpath_errors``. A tier returns NotImplemented
for arguments it does not cover (dtype, dimensionality): those calls go to the
next tier without dropping anything.

``KernelOps`` is written against an ``xp`` (cupy, or numpy in the CPU test of
the kernels compiled with the host compiler) and a ``launch`` callable.
"""
from __future__ import annotations

import math
import os
import traceback

from ._kernels import SOURCE

__all__ = ["KernelOps", "CudnnOps", "cudnn_unavailable_reason", "gpu_launcher", "Dispatcher"]

_FLOAT_CHARS = "fd"  # float32, float64 (``dtype.char``: ``dtype.name`` costs microseconds per read)
_CTYPES = {"f": "float", "d": "double"}


def _out_size(n, lo, hi, k, s, d):
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def as_2d(window, stride, pads, dilation):
    """1-D geometry as 2-D with a unit leading axis; 2-D unchanged; None for other ranks."""
    if len(window) == 2:
        return tuple(window), tuple(stride), tuple(tuple(p) for p in pads), tuple(dilation)
    if len(window) == 1:
        return (1,) + tuple(window), (1,) + tuple(stride), ((0, 0), tuple(pads[0])), (1,) + tuple(dilation)
    return None


def _unsqueeze(a):
    """(N, C, L) -> (N, C, 1, L) (a view)."""
    return a.reshape(a.shape[:2] + (1,) + a.shape[2:])


class KernelOps:
    """Convolution (2-D and 1-D) and max pooling through the ``_kernels`` sources and ``xp.matmul``."""

    def __init__(self, xp, launch):
        self.xp = xp
        self.launch = launch

    def _ok(self, *arrays):
        dtype = arrays[0].dtype
        return dtype.char in _FLOAT_CHARS and all(a.dtype == dtype for a in arrays)

    def _im2col(self, x, geo, layout):
        """Columns of contiguous 2-D ``x``: layout 'fwd' -> (N, CK, L), 'wgrad' -> (CK, N*L)."""
        xp = self.xp
        (kh, kw), (sh, sw), ((ph, ph_hi), (pw, pw_hi)), (dh, dw) = geo
        n, c, h, w = x.shape
        oh, ow = _out_size(h, ph, ph_hi, kh, sh, dh), _out_size(w, pw, pw_hi, kw, sw, dw)
        length = oh * ow
        ck = c * kh * kw
        if layout == "fwd":
            out = xp.empty((n, ck, length), dtype=x.dtype)
            strides = (ck * length, kh * kw * length, kw * length, length, ow, 1)
        else:
            out = xp.empty((ck, n * length), dtype=x.dtype)
            strides = (length, kh * kw * n * length, kw * n * length, n * length, ow, 1)
        total = n * ck * length
        self.launch("tp_im2col", x.dtype, total, (x, out),
                    (total, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw) + strides)
        return out, (oh, ow)

    def _swap01(self, y, a, b, length, bias=None):
        """``y`` read as (a, b, length) -> a contiguous (b, a, length) copy, plus ``bias[a]`` if given."""
        out = self.xp.empty((b, a, length), dtype=y.dtype)
        total = a * b * length
        self.launch("tp_swap01", y.dtype, total, (y, y if bias is None else bias, out),
                    (total, a, b, length, int(bias is not None)))
        return out

    def conv(self, x, w, stride, pads, dilation, groups, bias=None):
        geo = as_2d(w.shape[2:], stride, pads, dilation)
        if geo is None or not self._ok(x, w, *(() if bias is None else (bias,))):
            return NotImplemented
        xp = self.xp
        one_d = x.ndim == 3
        x2 = xp.ascontiguousarray(_unsqueeze(x) if one_d else x)
        n = x2.shape[0]
        o = w.shape[0]
        if groups == 1:
            # one 2-D GEMM over the whole batch, (O, CK) @ (CK, N*L), then (O, N, L) -> (N, O, L) with the
            # bias added: a batched GEMM broadcasting w costs about twice the host time on CuPy
            cols, (oh, ow) = self._im2col(x2, geo, "wgrad")
            y = xp.matmul(xp.ascontiguousarray(w).reshape(o, -1), cols)
            y = self._swap01(y, o, n, oh * ow, None if bias is None else xp.ascontiguousarray(bias))
        else:
            cols, (oh, ow) = self._im2col(x2, geo, "fwd")
            wm = xp.ascontiguousarray(w).reshape(groups, o // groups, -1)
            y = xp.matmul(wm, cols.reshape(n, groups, -1, oh * ow))
            if bias is not None:
                y = y.reshape(n, o, -1)
                y += bias.reshape(o, 1)
        return y.reshape((n, o, ow) if one_d else (n, o, oh, ow))

    def conv_bias(self, x, w, b, stride, pads, dilation, groups):
        return self.conv(x, w, stride, pads, dilation, groups, bias=b)

    def conv_input_grad(self, g, w, input_shape, stride, pads, dilation, groups):
        geo = as_2d(w.shape[2:], stride, pads, dilation)
        if geo is None or not self._ok(g, w):
            return NotImplemented
        xp = self.xp
        (kh, kw), (sh, sw), ((ph, _), (pw, _)), (dh, dw) = geo
        one_d = len(input_shape) == 3
        n, c = input_shape[:2]
        h, wd = (1, input_shape[2]) if one_d else tuple(input_shape[2:])
        o = w.shape[0]
        oh, ow = (1, g.shape[2]) if one_d else tuple(g.shape[2:])
        length = oh * ow
        gm = xp.ascontiguousarray(g).reshape(n, o, length)
        wc = xp.ascontiguousarray(w)
        ck = c * kh * kw
        if groups == 1:
            # one 2-D GEMM: (CK, O) @ (O, N*L) -> columns in the (CK, N*L) layout
            cols = xp.matmul(wc.reshape(o, -1).T, self._swap01(gm, n, o, length).reshape(o, n * length))
            strides = (length, kh * kw * n * length, kw * n * length, n * length, ow, 1)
        else:
            wm = wc.reshape(groups, o // groups, -1).transpose(0, 2, 1)
            cols = xp.matmul(wm, gm.reshape(n, groups, o // groups, length))
            strides = (ck * length, kh * kw * length, kw * length, length, ow, 1)
        cols = xp.ascontiguousarray(cols)  # (CK, N*L); grouped: (N, G, C*K/G, L), the (N, C*K, L) order
        out = xp.empty((n, c, h, wd), dtype=g.dtype)
        total = n * c * h * wd
        self.launch("tp_col2im", g.dtype, total, (cols, out),
                    (total, c, h, wd, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw) + strides)
        return out.reshape(tuple(input_shape))

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        geo = as_2d(tuple(weight_shape[2:]), stride, pads, dilation)
        if geo is None or not self._ok(x, g):
            return NotImplemented
        xp = self.xp
        one_d = x.ndim == 3
        x2 = xp.ascontiguousarray(_unsqueeze(x) if one_d else x)
        n = x2.shape[0]
        o = weight_shape[0]
        cols, (oh, ow) = self._im2col(x2, geo, "wgrad")  # (C*K, N*L)
        nl = n * oh * ow
        gt = self._swap01(xp.ascontiguousarray(g), n, o, oh * ow).reshape(o, nl)
        if groups == 1:
            gw = xp.matmul(gt, cols.T)
        else:
            gw = xp.matmul(gt.reshape(groups, o // groups, nl), cols.reshape(groups, -1, nl).transpose(0, 2, 1))
        return gw.reshape(tuple(weight_shape))

    def max_pool(self, x, window, stride, pads, dilation):
        geo = as_2d(window, stride, pads, dilation)
        if geo is None or not self._ok(x):
            return NotImplemented
        xp = self.xp
        (kh, kw), (sh, sw), ((ph, ph_hi), (pw, pw_hi)), (dh, dw) = geo
        one_d = x.ndim == 3
        x2 = xp.ascontiguousarray(_unsqueeze(x) if one_d else x)
        n, c, h, w = x2.shape
        oh, ow = _out_size(h, ph, ph_hi, kh, sh, dh), _out_size(w, pw, pw_hi, kw, sw, dw)
        shape = (n, c, ow) if one_d else (n, c, oh, ow)
        val = xp.empty(shape, dtype=x.dtype)
        idx = xp.empty(shape, dtype=xp.int64)
        total = n * c * oh * ow
        self.launch("tp_max_pool", x.dtype, total, (x2, val, idx),
                    (total, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw))
        return val, idx

    def max_unpool(self, values, index, shape):
        if not self._ok(values) or values.ndim < 3:
            return NotImplemented
        xp = self.xp
        n, c = shape[:2]
        plane = math.prod(shape[2:])
        length = math.prod(values.shape[2:])
        vals = xp.ascontiguousarray(values)
        idx = xp.ascontiguousarray(index if index.dtype == xp.int64 else index.astype(xp.int64))
        out = xp.zeros(tuple(shape), dtype=values.dtype)
        total = n * c * length
        self.launch("tp_max_unpool", values.dtype, total, (vals, idx, out), (total, length, plane))
        return out


def gpu_launcher(source=SOURCE):
    """A ``launch(name, dtype, total, arrays, ints, scalars=(), one_block=False)`` running the kernels of
    ``source`` with CuPy (compiled once per kernel and dtype). Scalars are passed as the dtype's type;
    ``one_block`` launches a single block of 256 threads (a block reduction), else a grid over ``total``."""
    import cupy
    import numpy
    cache = {}
    i64 = numpy.int64

    def launch(name, dtype, total, arrays, ints, scalars=(), one_block=False):
        if total == 0 and not one_block:
            return
        key = (name, dtype)
        kern = cache.get(key)
        if kern is None:
            src = f"typedef {_CTYPES[dtype.char]} T;\n" + source
            kern = cache[key] = cupy.RawKernel(src, name, options=("--std=c++14",))
        blocks = 1 if one_block else min((total + 255) // 256, 1 << 20)
        # map() over the builtin types: a generator per argument list cost ~10% of a CNN step's host time
        args = tuple(arrays) + tuple(map(i64, ints))
        if scalars:
            args += tuple(map(dtype.type, scalars))
        kern((blocks,), (256,), args)

    return launch


# cuDNN ------------------------------------------------------------------------------------------
def cudnn_unavailable_reason():
    """None when ``cupyx.cudnn`` imports with a loadable libcudnn, else why not."""
    import cupy
    try:
        import cupyx.cudnn  # noqa: F401  (absent in CuPy >= 14)
        from cupy.cuda import cudnn as libcudnn
        version = libcudnn.getVersion()
    except Exception as exc:
        return f"cupyx.cudnn unavailable with cupy {cupy.__version__} ({type(exc).__name__}: {exc})"
    return None if version else "cuDNN reports version 0"


class CudnnOps:
    """Convolution through ``cupyx.cudnn`` (symmetric padding; 1-D as 2-D; float16/32/64)."""

    _DTYPES = ("float16", "float32", "float64")

    def __init__(self):
        import cupy
        import cupyx.cudnn as cudnn
        self.cupy = cupy
        self.cudnn = cudnn

    def _geo(self, arrays, window, stride, pads, dilation):
        if any(a.dtype.name not in self._DTYPES for a in arrays) or len({a.dtype for a in arrays}) != 1:
            return None
        if any(lo != hi for lo, hi in pads) or len(window) not in (1, 2, 3):
            return None  # asymmetric padding: cuDNN takes one pad per axis
        if len(window) == 1:
            return (0, pads[0][0]), (1, stride[0]), (1, dilation[0])
        return tuple(lo for lo, _ in pads), tuple(stride), tuple(dilation)

    def _operands(self, a, b, window, stride, pads, dilation):
        """``((pad, stride, dilation), one_d, a, b)`` for a cuDNN call: the geometry per axis and both
        operands contiguous, 1-D (``a`` is (N, C, L)) as 2-D; None where cuDNN does not apply."""
        geo = self._geo((a, b), window, stride, pads, dilation)
        if geo is None:
            return None
        one_d = a.ndim == 3
        if one_d:
            a, b = _unsqueeze(a), _unsqueeze(b)
        return geo, one_d, self.cupy.ascontiguousarray(a), self.cupy.ascontiguousarray(b)

    def conv(self, x, w, stride, pads, dilation, groups):
        operands = self._operands(x, w, w.shape[2:], stride, pads, dilation)
        if operands is None:
            return NotImplemented
        (pad, st, dil), one_d, xc, wc = operands
        out = tuple(_out_size(n, p, p, k, s, d) for n, p, k, s, d in zip(xc.shape[2:], pad, wc.shape[2:], st, dil))
        y = self.cupy.empty((xc.shape[0], wc.shape[0]) + out, dtype=x.dtype)
        self.cudnn.convolution_forward(xc, wc, None, y, pad, st, dil, groups, auto_tune=False, tensor_core="auto")
        return y.reshape(y.shape[:2] + y.shape[3:]) if one_d else y

    def conv_bias(self, x, w, b, stride, pads, dilation, groups):
        y = self.conv(x, w, stride, pads, dilation, groups)
        if y is not NotImplemented:
            y += b.reshape((-1,) + (1,) * (y.ndim - 2))
        return y

    def conv_input_grad(self, g, w, input_shape, stride, pads, dilation, groups):
        operands = self._operands(g, w, w.shape[2:], stride, pads, dilation)
        if operands is None:
            return NotImplemented
        (pad, st, dil), one_d, gc, wc = operands
        gx = self._empty_grad(input_shape, one_d, g.dtype)
        self.cudnn.convolution_backward_data(wc, gc, None, gx, pad, st, dil, groups, deterministic=False,
                                             auto_tune=False, tensor_core="auto")
        return gx.reshape(tuple(input_shape))

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        operands = self._operands(x, g, tuple(weight_shape[2:]), stride, pads, dilation)
        if operands is None:
            return NotImplemented
        (pad, st, dil), one_d, xc, gc = operands
        gw = self._empty_grad(weight_shape, one_d, x.dtype)
        self.cudnn.convolution_backward_filter(xc, gc, gw, pad, st, dil, groups, deterministic=False,
                                               auto_tune=False, tensor_core="auto")
        return gw.reshape(tuple(weight_shape))

    def _empty_grad(self, shape, one_d, dtype):
        """The gradient's array for cuDNN to fill: ``shape``, with the unit axis of 1-D as 2-D."""
        shape = tuple(shape)
        return self.cupy.empty(shape[:2] + (1,) + shape[2:] if one_d else shape, dtype=dtype)


# choosing a tier ----------------------------------------------------------------------------------
FAMILIES = {"conv": ("conv", "conv_input_grad", "conv_weight_grad"),
            "max_pool": ("max_pool",), "max_unpool": ("max_unpool",)}


def _tolerance(dtype_name):
    # cuDNN may run float32 as TF32 (10-bit mantissa) on Ampere and later, as torch does by default
    return {"float16": 2e-2, "float32": 5e-3}.get(dtype_name, 1e-9)


def agree(out, ref, xp):
    """Whether a fast result matches the default one (values within tolerance, pooling indices equal)."""
    if isinstance(ref, tuple):
        (v, i), (rv, ri) = out, ref
        if v.shape != rv.shape or i.shape != ri.shape:
            return False
        finite = ~xp.isnan(rv)
        return bool(agree(v, rv, xp)) and bool(xp.all((i == ri) | ~finite))
    if out.shape != ref.shape or out.dtype != ref.dtype:
        return False
    if ref.size == 0:
        return True
    scale = float(xp.max(xp.abs(ref))) if ref.size else 0.0
    err = float(xp.max(xp.abs(out - ref)))
    return err <= _tolerance(ref.dtype.name) * max(scale, 1e-30) or err == 0.0


class Dispatcher:
    """Per op family: the live tiers, the status line, the first-call check against the default."""

    def __init__(self, xp, tiers, check=None):
        self.xp = xp
        self.tiers = {fam: list(t) for fam, t in tiers.items()}  # family -> [(name, ops object)]
        self.dropped = {fam: [] for fam in tiers}  # family -> ["tier: reason"]
        self.used = {fam: [] for fam in tiers}  # family -> tiers that served calls, in order
        self.errors = {}
        self.checked = set()
        self.check = os.environ.get("TENSORPLUG_CUPY_FASTPATH_CHECK", "1") != "0" if check is None else check

    def status(self):
        out = {}
        for fam, tiers in self.tiers.items():
            live = [name for name, _ in tiers]
            used = self.used[fam]
            head = "+".join(used) if used else f"not used yet (candidates: {', '.join(live + ['default'])})"
            out[fam] = head + "".join(f"; {d}" for d in self.dropped[fam])
        return out

    def drop(self, fam, name, reason, tb=None):
        self.tiers[fam] = [(n, o) for n, o in self.tiers[fam] if n != name]
        self.dropped[fam].append(f"{name} dropped: {reason}")
        if tb:
            self.errors[f"{fam}/{name}"] = tb

    def run(self, fam, op, args, default):
        for name, ops in self.tiers[fam]:
            try:
                out = getattr(ops, op)(*args)
            except Exception as exc:
                self.drop(fam, name, f"{op} raised {type(exc).__name__}: {str(exc)[:300]}", traceback.format_exc())
                continue
            if out is NotImplemented:
                continue
            if self.check and (name, op) not in self.checked:
                try:
                    ok = agree(out, default(*args), self.xp)
                except Exception as exc:  # the default failed: nothing to compare against, keep the fast one
                    ok = True
                    self.errors[f"{fam}/{name}/check"] = traceback.format_exc()
                if not ok:
                    self.drop(fam, name, f"{op} disagreed with the default implementation on its first call")
                    continue
                self.checked.add((name, op))
            if name not in self.used[fam]:
                self.used[fam].append(name)
            return out
        if "default" not in self.used[fam]:
            self.used[fam].append("default")
        return default(*args)
