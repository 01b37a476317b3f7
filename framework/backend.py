"""The backend protocol.

A backend owns the arrays of one device. ``ArrayAPIBackend`` implements every
primitive through ``self.xp``, an Array API namespace, so a backend is often a
few lines: set ``name``, ``device_type`` and ``xp``, and override what the
library does faster. What the standard lacks (random numbers, scatter-add,
sliding windows for convolution, erf, conversion to NumPy) is a named method
here with a default that a backend may override.

Only backends compute: the frontend never imports numpy or cupy to do math.
"""
from __future__ import annotations

import math

from . import dtypes as _dt
from .device import device as _device
from .errors import OutOfMemoryError

__all__ = ["Backend", "ArrayAPIBackend", "BackendSpec"]


class BackendSpec:
    """What a plugin declares for one backend (see ``tensorplug_add_backends``).

    Args:
        name: the name users select it by (``TENSORPLUG_BACKEND=name``).
        device_type: the device type it serves (``"cpu"``, ``"cuda"``).
        factory: ``factory(index)`` returns the Backend for device ``index``;
            it imports the heavy library, so call it only on first use.
        probe: returns ``None`` when usable, else the reason it is not and
            how to fix it. Must be cheap and must not raise.
        priority: which backend serves a bare device type (``device="cpu"``,
            ``TENSORPLUG_BACKEND=cuda``) among those of that type: the highest,
            ties going to the first registered. The default backend (chosen by
            ``use_backend`` or ``TENSORPLUG_BACKEND``) always serves its own
            device type, whatever its priority. numpy and cupy use 10; leave a
            plugin at 0 so it is used only when named.
    """

    __slots__ = ("name", "device_type", "factory", "probe", "priority", "plugin", "distribution")

    def __init__(self, name, device_type, factory, probe=None, priority=0):
        self.name = name
        self.device_type = device_type
        self.factory = factory
        self.probe = probe or (lambda: None)
        self.priority = priority
        self.plugin = None
        self.distribution = None

    def __repr__(self):
        return f"BackendSpec(name={self.name!r}, device_type={self.device_type!r})"


class Backend:
    """The abstract protocol. See ``ArrayAPIBackend`` for the defaults."""

    name: str = "?"
    device_type: str = "cpu"
    xp = None
    #: the lower-precision dtypes (names) whose matmuls and convolutions run faster here than float32's
    #: (tensor cores): ``tensorplug.autocast`` casts only the tensors of a backend that lists its dtype,
    #: so the default, none, keeps every op in its inputs' dtypes under autocast
    autocast_dtypes: tuple = ()

    def __init__(self, index=None):
        self.index = index
        self.device = _device(self.device_type, index)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} on {self.device}>"

    def parallel_for(self, fn, n, grain=1):
        """Run ``fn(start, stop)`` over consecutive parts of ``range(n)`` (each at least ``grain`` long)
        and return the results in order. A backend that computes on CPU threads may run the parts
        concurrently; callers make the parts write disjoint outputs. The default runs ``fn(0, n)``."""
        return [fn(0, n)]

    # optional fused operations -------------------------------------------------------
    # The frontend offers these to every backend and computes with array operations where one
    # declines (returns False / NotImplemented): a backend implements what it does in fewer memory
    # passes or kernel launches. Arrays are the backend's own; updates happen in place; ``sign`` is
    # -1.0 for ``maximize``. A backend may decline any call (dtype, layout, size) at its discretion.

    def axpy(self, y, alpha, x):
        """``y += alpha * x`` in one pass; True when done."""
        return False

    def fused_sgd(self, p, g, buf, *, lr, weight_decay, momentum, dampening, nesterov, sign, first):
        """One SGD update of ``p`` (torch's formula; ``buf`` is the momentum buffer or None, set to the
        update direction when ``first``); True when done."""
        return False

    def fused_adam(self, p, g, m, v, vmax, *, sign, weight_decay, decay, beta1, beta2, step_size, eps):
        """One Adam update: ``p *= decay``, ``d = sign*g + weight_decay*p``, ``m``/``v`` moving averages
        of ``d``/``d*d``, ``vmax = max(vmax, v)`` unless None, ``p -= step_size * m / (sqrt(v) + eps)``
        (bias corrections folded into ``step_size`` and ``eps``); True when done."""
        return False

    def fused_rmsprop(self, p, g, square_avg, buf, grad_avg, *, sign, lr, alpha, eps, weight_decay, momentum):
        """One RMSprop update (``buf`` None without momentum, ``grad_avg`` None unless centered);
        True when done."""
        return False

    def fused_linear(self, x, w, b):
        """``x @ w.T + b`` for the 2-D ``x`` (rows, in), ``w`` (out, in) and ``b`` (out,) or None, all one
        float dtype (``x`` in any layout, a reshaped batch): a linear layer's forward, the bias added as the
        product is written (torch's addmm), the product in whatever layout the backend's GEMM runs fastest.
        Returns a new row-major (rows, out) array, or NotImplemented."""
        return NotImplemented

    def conv_bias(self, x, w, b, stride, pads, dilation, groups):
        """``conv`` with the bias ``b`` (shape ``(O,)``) added while the output is written, or NotImplemented."""
        return NotImplemented

    def conv_weight_bias_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        """``(weight gradient, bias gradient)`` in one pass over ``g``, or NotImplemented."""
        return NotImplemented

    def fused_cross_entropy(self, x, target, ignore_index, reduction):
        """Softmax cross-entropy of ``(M, C)`` logits at int64 class indices, no class weights.

        Returns ``(loss, logp, den, bad)``: the loss (``(M,)`` for ``reduction='none'``, else 0-d),
        the log-probabilities, the mean's denominator (0-d, at least 1) and ``bad``, a 0-d
        array holding the first row whose target is out of range, or -1; or NotImplemented.
        """
        return NotImplemented

    def fused_cross_entropy_backward(self, logp, target, ignore_index, g, den, reduction):
        """The gradient of ``fused_cross_entropy`` w.r.t. the logits for upstream ``g``, or NotImplemented."""
        return NotImplemented

    def fused_layer_norm(self, x, w, b, eps):
        """LayerNorm over the rows of the 2-D float ``x`` (``w``, ``b``: ``(cols,)`` or None): ``(y, xhat,
        rstd)`` with ``xhat = (x - mean) * rstd`` and ``rstd`` of shape ``(rows, 1)``; or NotImplemented."""
        return NotImplemented

    def fused_layer_norm_backward(self, g, w, xhat, rstd, need_x, need_w, need_b):
        """``(gx, gw, gb)`` of ``fused_layer_norm`` for upstream ``g``, None where not needed; or NotImplemented."""
        return NotImplemented

    def fused_relu_backward(self, out, g):
        """ReLU's gradient from its output: ``g`` where ``out > 0`` or is nan, 0 elsewhere (torch's
        threshold_backward: a nan or inf ``g`` where cut gives 0); or NotImplemented."""
        return NotImplemented

    def fused_gelu(self, x, approximate):
        """GELU of the float ``x`` (``approximate``: "none" or "tanh"): ``(y, saved)`` with ``saved`` Phi(x),
        or the tanh for "tanh", which ``fused_gelu_backward`` receives; or NotImplemented."""
        return NotImplemented

    def fused_gelu_backward(self, x, saved, g, approximate):
        """The gradient of ``fused_gelu`` at ``x`` for upstream ``g``, or NotImplemented."""
        return NotImplemented

    def fused_softmax(self, x, log):
        """softmax (``log_softmax`` when ``log``) of the float ``x`` along its last axis, shifted by the
        row's max as torch does (a row holding +inf, or only -inf, is nan throughout); or NotImplemented."""
        return NotImplemented

    def fused_softmax_backward(self, y, g, log):
        """The gradient of ``fused_softmax`` for its output ``y`` and upstream ``g`` (softmax:
        ``g * y - y * sum(g * y)``, log_softmax: ``g - exp(y) * sum(g)``, sums along the last axis);
        or NotImplemented."""
        return NotImplemented

    def fused_attention(self, q, k, v, blocked, bias, scale, keep=None):
        """Attention over ``(..., L, E)`` queries, ``(..., S, E)`` keys and ``(..., S, Ev)`` values of one
        float dtype and batch shape: ``(out, p)`` with ``p = softmax(q * scale @ k^T)`` (``blocked``: a bool
        array broadcasting to the ``(..., L, S)`` scores, True where a query may not attend; ``bias``: one
        added to the scores; either may be None) and ``out = (p * keep) @ v`` (``keep``: dropout's scaled
        keep-mask of the scores' shape, or None for ``p @ v``). A query whose every key is blocked gets
        probabilities 0 (torch's safe softmax). ``p`` is kept for the backward. Or NotImplemented."""
        return NotImplemented

    def fused_attention_backward(self, q, k, v, p, g, scale, needs, keep=None):
        """``(gq, gk, gv)`` of ``fused_attention`` for its ``p``, ``keep`` and upstream ``g`` (None where the
        matching flag of ``needs`` is False), or NotImplemented."""
        return NotImplemented

    def fused_lstm_cell(self, gates, projected, c_prev, c, tanh_c, h):
        """One LSTM step for a block of rows, in place; or NotImplemented (the frontend's array code then
        runs). ``gates`` (rows, 4H) holds the step's recurrent products in the gate order (g, i, f, o);
        with ``projected`` (the step's input projection and biases, same shape) added they are the
        pre-activations, which become the activations ``tanh`` for g and ``sigmoid`` for i, f, o,
        written back into ``gates``. Then, all (rows, H): ``c = f * c_prev + i * g`` (that order),
        ``tanh_c = tanh(c)``, ``h = o * tanh_c``. Called from the backend's threads, a block of
        rows each."""
        return NotImplemented

    def fused_lstm_cell_backward(self, gates, c_prev, tanh_c, dh, dc, dz):
        """One LSTM step's backward for a block of rows, in place; or NotImplemented (a backend declines
        every call of a dtype alike: the frontend asks once with one row). ``gates`` (rows, 4H) holds
        the step's activations g, i, f, o (as ``fused_lstm_cell`` left them); ``c_prev``, ``tanh_c``,
        ``dh`` (the gradient of the step's h) and ``dc`` (of its c, from the later steps) are (rows, H).
        With ``dcell = dh * o * (1 - tanh_c**2) + dc``, writes the gradients of the pre-activations
        into ``dz`` (rows, 4H), laid out as ``gates``: ``dcell * i * (1 - g**2)``, ``dcell * g * i * (1 - i)``,
        ``dcell * c_prev * f * (1 - f)``, ``dh * tanh_c * o * (1 - o)``; and ``dc = dcell * f`` (the
        gradient carried to the step before)."""
        return NotImplemented


class ArrayAPIBackend(Backend):
    """Every primitive written once against ``self.xp`` (an Array API namespace)."""

    #: ``as_strided(x, shape, strides)`` of the library (numpy's, cupy's), or None where it has none:
    #: ``sliding_windows`` then returns strided views instead of stacked copies
    as_strided = None
    #: the same call for views that may be written through (``diagonal_view``, ``unfold_view``), or None:
    #: those ops then return copies
    as_strided_writeable = None
    #: the way out an out-of-memory error names (a GPU backend adds its cache)
    oom_hint = "use a smaller size or free memory"

    #: dtypes this backend stores; others fail with a clear error
    supported_dtypes = ("bool", "uint8", "int8", "int16", "int32", "int64",
                        "float16", "float32", "float64", "complex64", "complex128")

    def __init__(self, index=None):
        super().__init__(index)
        xp = self.xp
        self._native = {}
        self._from_native = {}
        for name in self.supported_dtypes:
            native = getattr(xp, name, None)
            if native is None:
                continue
            self._native[_dt.BY_NAME[name]] = native
            self._from_native[native] = _dt.BY_NAME[name]
            # numpy-like libraries hand out dtype instances, not the scalar types
            self._from_native[xp.empty((0,), dtype=native).dtype] = _dt.BY_NAME[name]
        self._seed = None
        self._rng = None

    # dtypes -----------------------------------------------------------------
    def native_dtype(self, dtype):
        try:
            return self._native[dtype]
        except KeyError:
            raise TypeError(f"backend '{self.name}' does not support {dtype}; "
                            f"supported: {sorted(d.name for d in self._native)}") from None

    def dtype_of(self, array):
        return self._from_native[array.dtype]

    def astype(self, array, dtype):
        return self.xp.astype(array, self.native_dtype(dtype))

    # creation and conversion -------------------------------------------------
    def asarray(self, obj, dtype=None):
        native = None if dtype is None else self.native_dtype(dtype)
        return self.xp.asarray(obj, dtype=native)

    def empty(self, shape, dtype):
        return self._alloc(self.xp.empty, shape, dtype)

    def zeros(self, shape, dtype):
        return self._alloc(self.xp.zeros, shape, dtype)

    def ones(self, shape, dtype):
        return self._alloc(self.xp.ones, shape, dtype)

    def full(self, shape, value, dtype):
        try:
            return self.xp.full(shape, value, dtype=self.native_dtype(dtype))
        except MemoryError:
            raise self.out_of_memory(shape, dtype) from None

    def _alloc(self, fn, shape, dtype):
        try:
            return fn(shape, dtype=self.native_dtype(dtype))
        except MemoryError:
            raise self.out_of_memory(shape, dtype) from None

    def out_of_memory(self, shape, dtype):
        """The error for a failed allocation of ``shape`` x ``dtype`` (torch's phrase, then ``oom_hint``)."""
        nbytes = math.prod(shape) * dtype.itemsize
        return OutOfMemoryError(f"can't allocate memory: you tried to allocate {nbytes} bytes "
                                f"({tuple(shape)} of {dtype}) on {self.device}; {self.oom_hint}")

    def arange(self, start, stop, step, dtype):
        return self.xp.arange(start, stop, step, dtype=self.native_dtype(dtype))

    def linspace(self, start, stop, num, dtype):
        return self.xp.linspace(start, stop, num, dtype=self.native_dtype(dtype))

    def eye(self, n, m, dtype):
        return self.xp.eye(n, m, dtype=self.native_dtype(dtype))

    def to_numpy(self, array):
        """A ``numpy.ndarray`` with the array's values (shares memory where possible)."""
        import numpy
        return numpy.asarray(array)

    def from_numpy(self, ndarray):
        return self.xp.asarray(ndarray)

    def from_dlpack(self, obj):
        return self.xp.from_dlpack(obj)

    def copy(self, array):
        # through a flat copy: the standard's asarray(copy=True) may keep a transposed layout, and
        # contiguous() relies on a copy that view() can reshape
        xp = self.xp
        return xp.reshape(xp.reshape(array, (-1,), copy=True), array.shape)

    def synchronize(self):
        """Wait for queued work (asynchronous devices override)."""

    def memory_stats(self):
        return {}

    def view(self, array, shape):
        """``array`` reshaped without copying, or None where that needs a copy (torch's view rule)."""
        try:
            return self.xp.reshape(array, shape, copy=False)
        except (ValueError, TypeError, AttributeError):
            return None

    def view_dtype(self, array, dtype):
        """The same memory read as ``dtype`` (``Tensor.view(dtype)``), or None where the library cannot
        (the Array API has no such call; NumPy and CuPy arrays have ``.view(dtype)``)."""
        reinterpret = getattr(array, "view", None)
        if reinterpret is None:
            return None
        try:
            return reinterpret(self.native_dtype(dtype))
        except (TypeError, ValueError):
            return None

    def view_as_real(self, array):
        """A complex array's (real, imaginary) pairs as a real array of shape ``(..., 2)``: sharing its
        memory where the library can (``Tensor.real``, ``torch.view_as_real``), else a copy (the standard
        has no such view)."""
        xp = self.xp
        if self.as_strided_writeable is not None:
            # any layout: the parts interleave at half the complex itemsize (.view(dtype) needs a contiguous
            # last axis); asarray: a NumPy scalar's .real would be a copy of one number
            real = xp.asarray(array).real
            return self.as_strided_writeable(real, tuple(array.shape) + (2,), real.strides + (real.itemsize,))
        part = self.native_dtype(_dt.COMPLEX_PARTS[self.dtype_of(array)])
        flat = self.view_dtype(array, _dt.COMPLEX_PARTS[self.dtype_of(array)]) if array.ndim else None
        pairs = None if flat is None else self.view(flat, tuple(array.shape) + (2,))
        if pairs is None:
            pairs = xp.stack([xp.astype(xp.real(array), part), xp.astype(xp.imag(array), part)], axis=-1)
        return pairs

    def view_as_complex(self, array):
        """``view_as_real``'s inverse: a real ``(..., 2)`` array read as complex numbers (shape ``...``),
        sharing memory where the library can, else a copy."""
        xp = self.xp
        dtype = _dt.COMPLEX_OF[self.dtype_of(array)]
        pairs = self.view_dtype(array, dtype)
        if pairs is not None:
            return pairs[..., 0]
        native = self.native_dtype(dtype)
        unit = xp.asarray(1j, dtype=native)
        return xp.astype(array[..., 0], native) + xp.astype(array[..., 1], native) * unit

    def fft(self, x, kind, s, axes, norm):
        """The discrete Fourier transform ``kind`` ("fft", "ifft", "rfft" or "irfft") of ``x`` over
        ``axes``: the Array API fft extension's ``fftn`` / ``ifftn`` / ``rfftn`` / ``irfftn`` with
        ``norm`` "backward", "ortho" or "forward". The frontend passes complex ``x`` (real for "rfft")
        of the result's precision, already sized along ``axes``; ``s`` is None except for "irfft",
        whose last entry is the real output's length."""
        return getattr(self.xp.fft, kind + "n")(x, s=s, axes=axes, norm=norm)

    # indexing ----------------------------------------------------------------
    def getitem(self, array, key):
        try:
            return array[key]
        except IndexError:
            # the standard wants x[i, ...] spelled out and allows an integer array only beside
            # integers: x[idx], x[:, idx] go through xp.take
            out = _take_key(self.xp, array, key)
            if out is None:
                raise
            return out

    def setitem(self, array, key, value):
        try:
            array[key] = value
        except IndexError:
            key = key if isinstance(key, tuple) else (key,)
            if any(k is ... or hasattr(k, "shape") for k in key):
                raise
            array[key + (...,)] = value  # the standard wants x[i, ...] spelled out

    def scatter_add(self, target, index, values):
        """``target[index] += values`` with repeated indices accumulating (in place)."""
        import numpy
        host = numpy.asarray(self.to_numpy(target)).copy()
        numpy.add.at(host, _to_numpy_key(self, index), self.to_numpy(values))
        self.setitem(target, (...,), self.from_numpy(host))

    def take_along_axis(self, array, index, axis):
        return self.xp.take_along_axis(array, index, axis=axis)

    def put_along_axis(self, array, index, values, axis):
        """A copy of ``array`` with ``values`` written at ``index`` along ``axis``."""
        import numpy  # (the standard has no assignment through integer arrays)
        host = numpy.array(self.to_numpy(array))
        numpy.put_along_axis(host, self.to_numpy(index), self.to_numpy(values), axis)
        return self.from_numpy(host)

    def add_along_axis(self, array, index, values, axis):
        """A copy of ``array`` with ``values`` added at ``index`` along ``axis`` (repeats accumulate).
        float16/bfloat16 accumulate in float32 and round once, as torch's scatter_add (in bfloat16 a sum
        of ones would stop at 256)."""
        xp = self.xp
        wide = self.native_dtype(_dt.float32) if self.dtype_of(array) in _dt.NARROW_FLOATS else None
        out = self.copy(array) if wide is None else xp.astype(array, wide)
        values = xp.broadcast_to(values if wide is None else xp.astype(values, wide), index.shape)
        self.scatter_add(out, _along_axis_key(xp, index, axis), values)
        return out if wide is None else xp.astype(out, array.dtype)

    def reduce_along_axis(self, array, index, values, axis, reduce, include_self=True):
        """A copy of ``array`` with ``values`` reduced in at ``index`` along ``axis``: reduce is "add",
        "multiply", "maximum" or "minimum" (repeats accumulate); with ``include_self=False`` the
        positions written start from the reduction's identity instead of ``array``'s value."""
        if reduce in ("add", "multiply") and self.dtype_of(array) in _dt.NARROW_FLOATS:
            # float16/bfloat16 sums and products accumulate in float32 and round once, as torch's
            # (a bfloat16 sum of ones would stop at 256)
            wide = self.native_dtype(_dt.float32)
            out = self.reduce_along_axis(self.xp.astype(array, wide), index, self.xp.astype(values, wide), axis,
                                         reduce, include_self)
            return self.xp.astype(out, array.dtype)
        import numpy
        host = numpy.array(self.to_numpy(array))
        idx = self.to_numpy(index)
        grids = list(numpy.indices(idx.shape, sparse=True))
        grids[axis] = idx
        grids = tuple(grids)
        ufunc = getattr(numpy, reduce)
        values = self.to_numpy(values)
        if not include_self:
            # a max/min starts from one of its scattered values: exact in every dtype, where an identity is
            # not (-inf is True in bool, -iinfo.max misses int8's -128)
            host[grids] = values if reduce in ("maximum", "minimum") else {"add": 0, "multiply": 1}[reduce]
        ufunc.at(host, grids, values)
        return self.from_numpy(host)

    # math the standard lacks -------------------------------------------------
    def erf(self, x):
        xp = self.xp
        if hasattr(xp, "erf"):
            return xp.erf(x)
        import numpy
        import math as _m
        host = self.to_numpy(x)
        out = numpy.vectorize(_m.erf, otypes=[host.dtype])(host)
        return self.from_numpy(out)

    def special(self, name, *args):
        """Special function ``name`` of float64 arrays: lgamma, digamma, polygamma (args n, x), zeta
        (s, q), erfc, erfcx, erfinv, ndtri, i0, i0e, i1 or i1e. The default is array formulas through
        ``xp`` (framework/_specfun.py); a backend with native versions overrides the names it has."""
        from . import _specfun
        if name in ("erfinv", "ndtri"):
            return getattr(_specfun, name)(self.xp, self.erf, *args)
        return getattr(_specfun, name)(self.xp, *args)

    def einsum(self, equation, *operands):
        import numpy
        out = numpy.einsum(equation, *(self.to_numpy(o) for o in operands))
        return self.from_numpy(numpy.asarray(out))

    def pad(self, x, pad_width, value=0):
        """Constant padding; ``pad_width`` is a tuple of (before, after) per axis."""
        xp = self.xp
        shape = tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width))
        out = xp.full(shape, value, dtype=x.dtype)
        key = tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, pad_width))
        out[key] = x
        return out

    @staticmethod
    def strided_windows(x, window, stride, dilation, as_strided):
        """``sliding_windows`` as a view through a library's ``as_strided(x, shape, strides)``: the one
        place the strides of windows are worked out (backends' own kernels transpose the view)."""
        k = len(window)
        spatial, steps = x.shape[-k:], x.strides[-k:]
        outs = tuple((n - d * (w - 1) - 1) // s + 1 for n, w, s, d in zip(spatial, window, stride, dilation))
        strides = (x.strides[:-k] + tuple(st * s for st, s in zip(steps, stride))
                   + tuple(st * d for st, d in zip(steps, dilation)))
        return as_strided(x, x.shape[:-k] + outs + tuple(window), strides)

    def sliding_windows(self, x, window, stride, dilation):
        """Windows over the trailing ``len(window)`` axes of ``x``.

        Returns shape ``x.shape[:-k] + out_sizes + window``; a view where the
        library can make one (``as_strided``), else a copy.
        """
        if self.as_strided is not None:
            return self.strided_windows(x, window, stride, dilation, self.as_strided)
        xp = self.xp
        k = len(window)
        lead = x.shape[:-k]
        spatial = x.shape[-k:]
        outs = [(n - d * (w - 1) - 1) // s + 1 for n, w, s, d in zip(spatial, window, stride, dilation)]
        pieces = []
        import itertools
        for offs in itertools.product(*(range(w) for w in window)):
            key = (...,) + tuple(slice(o * d, o * d + (m - 1) * s + 1, s)
                                 for o, d, s, m in zip(offs, dilation, stride, outs))
            pieces.append(x[key])
        stacked = xp.stack(pieces, axis=-1)
        return xp.reshape(stacked, lead + tuple(outs) + tuple(window))

    def diagonal_view(self, array, offset, axis1, axis2):
        """The ``offset`` diagonal of the ``axis1``/``axis2`` planes as a last axis, sharing ``array``'s
        memory (torch's ``diagonal`` is a view), or None where the library makes no writable strided views
        (the frontend then copies)."""
        if self.as_strided_writeable is None:
            return None
        start = [slice(None)] * array.ndim
        start[axis1] = slice(max(0, -offset), None)
        start[axis2] = slice(max(0, offset), None)
        corner = array[tuple(start)]
        rest = [d for d in range(array.ndim) if d not in (axis1, axis2)]
        shape = tuple(corner.shape[d] for d in rest) + (min(corner.shape[axis1], corner.shape[axis2]),)
        strides = tuple(corner.strides[d] for d in rest) + (corner.strides[axis1] + corner.strides[axis2],)
        return self.as_strided_writeable(corner, shape, strides)

    def unfold_view(self, array, axis, size, step):
        """``Tensor.unfold``'s windows (``size`` long, ``step`` apart along ``axis``, as a new last axis)
        sharing ``array``'s memory, writable as torch's (even where windows overlap), or None where the
        library makes no writable strided views."""
        as_strided = self.as_strided_writeable
        if as_strided is None:
            return None
        shape = list(array.shape)
        shape[axis] = (shape[axis] - size) // step + 1
        strides = list(array.strides)
        strides[axis] *= step
        return as_strided(array, tuple(shape) + (size,), tuple(strides) + (array.strides[axis],))

    # convolution and pooling windows ------------------------------------------
    # Arrays are (N, C, *spatial); ``pads`` holds (before, after) per spatial axis.
    def im2col(self, x, window, stride, pads, dilation, value=0):
        """Windows of ``x`` as an (N, C, *window, *out) array (may be a strided view)."""
        if any(a or b for a, b in pads):
            x = self.pad(x, ((0, 0), (0, 0)) + tuple(pads), value)
        win = self.sliding_windows(x, window, stride, dilation)
        k = len(window)
        n = x.ndim
        return self.xp.permute_dims(win, (0, 1) + tuple(range(n, n + k)) + tuple(range(2, n)))

    def col2im(self, cols, spatial, window, stride, pads, dilation):
        """The adjoint of ``im2col``: sum (N, C, *window, *out) windows back into (N, C, *spatial)."""
        import itertools
        xp = self.xp
        k = len(window)
        out = cols.shape[-k:]
        padded = tuple(s + a + b for s, (a, b) in zip(spatial, pads))
        acc = xp.zeros(cols.shape[:2] + padded, dtype=cols.dtype)
        tail = (slice(None),) * k
        for offs in itertools.product(*(range(w) for w in window)):
            key = (slice(None), slice(None)) + tuple(
                slice(o * d, o * d + (m - 1) * s + 1, s) for o, d, s, m in zip(offs, dilation, stride, out))
            acc[key] += cols[(slice(None), slice(None)) + offs + tail]
        if any(a or b for a, b in pads):
            acc = acc[(slice(None), slice(None)) + tuple(slice(a, a + s) for s, (a, _) in zip(spatial, pads))]
        return acc

    def conv(self, x, w, stride, pads, dilation, groups):
        """N-d cross-correlation (torch's convN d): x (N, C, *S), w (O, C/groups, *K) -> (N, O, *out)."""
        xp = self.xp
        window = tuple(w.shape[2:])
        cols = self.im2col(x, window, stride, pads, dilation)
        n, c = x.shape[:2]
        out = tuple(cols.shape[2 + len(window):])
        cols = xp.reshape(cols, (n, groups, -1, math.prod(out)))
        wm = xp.reshape(w, (groups, w.shape[0] // groups, -1))
        return xp.reshape(xp.matmul(wm, cols), (n, w.shape[0]) + out)

    def conv_input_grad(self, g, w, input_shape, stride, pads, dilation, groups):
        """The gradient of ``conv`` with respect to x (a transposed convolution of g)."""
        xp = self.xp
        window = tuple(w.shape[2:])
        n = g.shape[0]
        out = tuple(g.shape[2:])
        wm = xp.reshape(w, (groups, w.shape[0] // groups, -1))
        gm = xp.reshape(g, (n, groups, w.shape[0] // groups, math.prod(out)))
        cols = xp.matmul(xp.matrix_transpose(wm), gm)
        cols = xp.reshape(cols, (n, input_shape[1]) + window + out)
        return self.col2im(cols, tuple(input_shape[2:]), window, stride, pads, dilation)

    def conv_weight_grad(self, x, g, weight_shape, stride, pads, dilation, groups):
        """The gradient of ``conv`` with respect to w."""
        xp = self.xp
        window = tuple(weight_shape[2:])
        cols = self.im2col(x, window, stride, pads, dilation)
        n = x.shape[0]
        o = weight_shape[0]
        length = math.prod(g.shape[2:])
        cols = xp.reshape(cols, (n, groups, -1, length))
        gm = xp.reshape(g, (n, groups, o // groups, length))
        gw = xp.sum(xp.matmul(gm, xp.matrix_transpose(cols)), axis=0)
        return xp.reshape(gw, tuple(weight_shape))

    def window_sum(self, x, window, stride, pads, dilation):
        """Sum over each window: (N, C, *S) -> (N, C, *out) (average pooling's numerator)."""
        if any(a or b for a, b in pads):
            x = self.pad(x, ((0, 0), (0, 0)) + tuple(pads), 0)
        win = self.sliding_windows(x, window, stride, dilation)
        return self.xp.sum(win, axis=tuple(range(-len(window), 0)))

    def max_pool(self, x, window, stride, pads, dilation):
        """``(values, indices)`` of the max of each window; indices are flat into each input plane."""
        xp = self.xp
        k = len(window)
        spatial = tuple(x.shape[2:])
        if any(a or b for a, b in pads):  # padding never wins: -inf, or an integer dtype's least value
            low = xp.iinfo(x.dtype).min if getattr(x.dtype, "kind", "f") in "iu" else -math.inf
            x = self.pad(x, ((0, 0), (0, 0)) + tuple(pads), low)
        win = self.sliding_windows(x, window, stride, dilation)
        out = tuple(win.shape[2:2 + k])
        flat = xp.reshape(win, tuple(win.shape[:2 + k]) + (math.prod(window),))
        arg = xp.argmax(flat, axis=-1)
        values = xp.take_along_axis(flat, xp.expand_dims(arg, axis=-1), axis=-1)[..., 0]
        index = None
        rest = math.prod(window)
        for i in range(k):
            rest //= window[i]
            off = (arg // rest) % window[i] if rest > 1 else arg % window[i]
            base = xp.arange(out[i], dtype=arg.dtype) * stride[i] - pads[i][0]
            base = xp.reshape(base, (out[i],) + (1,) * (k - 1 - i))
            coord = base + off * dilation[i]
            # an all -inf window picks its first element, which can be left padding: torch reports the
            # window's first in-bounds element instead
            first = xp.where(base < 0, base + ((dilation[i] - 1 - base) // dilation[i]) * dilation[i], base)
            coord = xp.where(coord < 0, first, coord)
            index = coord if index is None else index * spatial[i] + coord
        return values, xp.astype(index, xp.int64)

    def max_unpool(self, values, index, shape, unique=False):
        """Zeros of ``shape`` (N, C, *S) with ``values`` added at flat per-plane ``index`` (repeats add up).

        ``unique=True`` promises no index repeats within a plane (non-overlapping pooling windows),
        so a backend may write the values instead of adding them.
        """
        xp = self.xp
        n, c = shape[:2]
        zeros = xp.zeros((n, c, math.prod(shape[2:])), dtype=values.dtype)
        out = self.add_along_axis(zeros, xp.reshape(index, (n, c, -1)), xp.reshape(values, (n, c, -1)), -1)
        return xp.reshape(out, tuple(shape))

    # random numbers: a seedable generator per backend instance ---------------
    def manual_seed(self, seed):
        import numpy
        self._seed = seed
        self._rng = numpy.random.default_rng(seed)

    def _generator(self):
        if self._rng is None:
            import numpy
            self._rng = numpy.random.default_rng()
        return self._rng

    def get_rng_state(self):
        """A copy of the generator's state, to hand back to ``set_rng_state`` (None where the generator
        cannot be copied)."""
        import copy
        state = getattr(getattr(self._generator(), "bit_generator", None), "state", None)
        return copy.deepcopy(state)

    def set_rng_state(self, state):
        """Restore a ``get_rng_state`` copy: the next draws repeat the ones made after it was taken."""
        import copy
        if state is not None:
            self._generator().bit_generator.state = copy.deepcopy(state)

    def rand(self, shape, dtype):
        return self._from_host(self._generator().random(shape), dtype)

    def randn(self, shape, dtype):
        return self._from_host(self._generator().standard_normal(shape), dtype)

    def randint(self, low, high, shape, dtype):
        return self._from_host(self._generator().integers(low, high, shape), dtype)

    def randperm(self, n, dtype):
        return self._from_host(self._generator().permutation(n), dtype)

    def bernoulli(self, p, dtype):
        host = self._generator().random(tuple(p.shape)) < self.to_numpy(p)
        return self._from_host(host, dtype)

    def exponential(self, shape, lambd, dtype):
        return self._from_host(self._generator().exponential(1.0 / lambd, shape), dtype)

    def _from_host(self, host, dtype):
        import numpy
        return self.from_numpy(numpy.asarray(host, dtype=dtype.name))


def _take_key(xp, array, key):
    """``array[key]`` in the standard's terms (explicit ellipsis; one integer array among full slices -> take)."""
    key = key if isinstance(key, tuple) else (key,)
    full = slice(None)
    if sum(k is ... for k in key) > 1:
        return None
    if any(k is ... for k in key):
        at = [k is ... for k in key].index(True)
        key = key[:at] + (full,) * (array.ndim - len(key) + 1) + key[at + 1:]
    arrays = [i for i, k in enumerate(key) if hasattr(k, "shape") and k.ndim >= 1]
    if not arrays:  # x[i] on a matrix: the standard wants the trailing ellipsis spelled out
        return array[key + (...,)] if not any(k is ... for k in key) else None
    if len(arrays) != 1 or any(not (isinstance(k, slice) and k == full) for i, k in enumerate(key) if i != arrays[0]):
        return None
    axis = arrays[0]
    idx = key[axis]
    if idx.dtype == xp.bool:  # a mask must be the sole index
        return array[idx] if axis == 0 else None
    flat = xp.reshape(idx, (-1,))
    out = xp.take(array, flat, axis=axis)
    return xp.reshape(out, array.shape[:axis] + tuple(idx.shape) + array.shape[axis + 1:])


def _along_axis_key(xp, index, axis):
    """The advanced-indexing key of numpy's ``put_along_axis``: ``index`` along ``axis``, an arange
    broadcast along each other axis."""
    ndim = index.ndim
    key = []
    for i, n in enumerate(index.shape):
        grid = tuple(n if j == i else 1 for j in range(ndim))
        key.append(index if i == axis % ndim else xp.reshape(xp.arange(n), grid))
    return tuple(key)


def _to_numpy_key(backend, key):
    if isinstance(key, tuple):
        return tuple(_to_numpy_key(backend, k) for k in key)
    if isinstance(key, (int, slice, type(None), type(...))):
        return key
    return backend.to_numpy(key)
