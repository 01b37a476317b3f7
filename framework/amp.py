"""``tensorplug.amp``: ``autocast`` and ``GradScaler`` with torch's API.

``autocast`` applies torch's CUDA rules to the tensors of a backend that declares lower-precision
kernels worth switching to (``Backend.autocast_dtypes``: CuPy declares float16 and bfloat16, the tensor
cores' dtypes). Inside an enabled region, the ops torch runs in lower precision (matmul, linear, the
convolutions, attention, prelu, einsum, ...) cast their floating inputs to the region's dtype; the ops
it runs in float32 (softmax, the norms, exp/log/pow, sums and products, the losses, ...) cast them to
float32; its promote ops (addcmul, atan2, index_put, ...) cast them to the widest input dtype; every
other op runs in its inputs' dtypes. float64 tensors are never cast. The cast of a float32 leaf that
requires grad is cached for the outermost region, so a weight used many times is cast once and its
gradient arrives in float32. The state is per thread, as torch's.

A backend that declares none keeps every dtype: the NumPy backend, because NumPy has no fast float16
or bfloat16 GEMM (its bfloat16 matmul runs a generic loop, orders of magnitude slower than float32's
BLAS), so an AMP script runs there in full precision and ``GradScaler`` finds nothing to rescue.

``GradScaler`` is torch's loss scaler, step for step: it multiplies the loss, unscales the gradients,
skips a step whose gradients hold inf/nan and adapts the scale, so scripts and checkpoints that use it
behave as with torch.
"""
from __future__ import annotations

import functools
import math
import threading
import warnings

from . import dtypes as _dt
from .autograd.grad_mode import GradMode, no_grad

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
           "set_autocast_enabled", "set_autocast_dtype", "is_autocast_cache_enabled",
           "set_autocast_cache_enabled", "clear_autocast_cache", "autocast_increment_nesting",
           "autocast_decrement_nesting", "custom_fwd", "custom_bwd"]

# torch's rules (aten/src/ATen/autocast_mode.h, the CUDA lists); each listed op's entry point reads
# ``active`` and, while it is set, runs itself through ``run(rule, ...)``
LOWER, FLOAT32, PROMOTE, BANNED = "lower", "float32", "promote", "banned"

#: True while some thread has an enabled autocast region: the one flag every listed op reads (a module
#: global costs ~5 ns; a decorator's extra call would cost ~75-240 ns on ops of about 1 us)
active = False

_DEFAULT_DTYPES = {"cpu": _dt.bfloat16, "hpu": _dt.bfloat16, "xla": _dt.bfloat16}  # others: float16
_AUTOCAST_DEVICE_TYPES = ("cpu", "cuda", "xpu", "hpu", "mps", "xla", "mtia", "maia", "ipu", "privateuseone")
_ELIGIBLE = (_dt.float16, _dt.bfloat16, _dt.float32)  # torch never casts float64 (nor non-floats)
_BCE_BANNED = ("torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
               "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
               "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
               "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
               "safe to autocast.")


class _ThreadState(threading.local):
    def __init__(self):
        self.enabled = {}  # device type -> bool
        self.dtypes = {}  # device type -> dtype (set_autocast_dtype)
        self.on = 0  # how many device types are enabled on this thread
        self.nesting = 0
        self.cache_enabled = True
        self.cache = {}  # (id(leaf), dtype) -> (leaf, its cast): the leaf is held so its id stays unique
        self.in_op = False  # inside a listed op: the ops it calls are not cast again (torch's redispatch)


_state = _ThreadState()
_lock = threading.Lock()
_enabled_count = [0]  # enabled (thread, device type) pairs; a thread that ends inside a region keeps it set


def is_autocast_available(device_type):
    """True for torch's autocast device types and those of the registered backends."""
    if device_type in _AUTOCAST_DEVICE_TYPES:
        return True
    from .registry import backend_specs
    types = sorted(set(_AUTOCAST_DEVICE_TYPES) | {s.device_type for s in backend_specs().values()})
    if device_type in types:
        return True
    raise RuntimeError(f"Expected one of {', '.join(types)} device type at start of device string: "
                       f"{device_type}")


def is_autocast_enabled(device_type="cuda"):
    """Whether autocast is enabled on this thread for ``device_type`` (torch's no-argument form: cuda)."""
    return _state.enabled.get(device_type, False)


def set_autocast_enabled(device_type, enabled=None):
    """Enable or disable autocast for ``device_type`` on this thread (``set_autocast_enabled(flag)``: cuda)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    enabled = bool(enabled)
    s = _state
    if s.enabled.get(device_type, False) != enabled:
        s.on += 1 if enabled else -1
        global active
        with _lock:
            _enabled_count[0] += 1 if enabled else -1
            active = _enabled_count[0] > 0
    s.enabled[device_type] = enabled


def get_autocast_dtype(device_type):
    """The dtype ``device_type``'s lower-precision ops run in (default float16; bfloat16 on the CPU)."""
    dtype = _state.dtypes.get(device_type)
    return dtype if dtype is not None else _DEFAULT_DTYPES.get(device_type, _dt.float16)


def set_autocast_dtype(device_type, dtype):
    _state.dtypes[device_type] = dtype


def is_autocast_cache_enabled():
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """Drop the cached casts of leaves (autocast does so when its outermost region ends)."""
    _state.cache.clear()


def autocast_increment_nesting():
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting():
    _state.nesting -= 1
    return _state.nesting


class autocast:
    """Run the ops of a region in mixed precision, as torch's autocast: a context manager and a decorator.

    Args:
        device_type: the device type whose tensors are cast (``"cuda"``, ``"cpu"``, ...).
        dtype: the lower precision (default: ``get_autocast_dtype(device_type)``, float16 for CUDA).
        enabled: False turns autocast off inside the region.
        cache_enabled: cache the casts of leaves that require grad for the region (default True).

    Only the tensors of a backend listing ``dtype`` in ``autocast_dtypes`` are cast (CuPy's); on the NumPy
    backend every op keeps its dtypes (see ``tensorplug.amp``).

    Example:
        >>> with tensorplug.autocast("cuda"):  # doctest: +SKIP
        ...     loss = F.cross_entropy(model(x), y)   # linear in float16, the loss in float32
    """

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        self._enabled = bool(enabled) and self._supported()

    @property
    def device_type(self):
        return self.device

    def _supported(self):
        """torch's checks of an enabled region: CUDA present, a lower-precision dtype elsewhere."""
        if self.device == "cuda":
            from . import cuda
            if not cuda.is_available():
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=3)
                return False
        elif self.fast_dtype not in (_dt.bfloat16, _dt.float16):
            name = self.device.upper()
            warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{name} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                          stacklevel=3)
            return False
        return True

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, *exc):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(fn).__name__}. Did you mean "
                            f"to use autocast as a context manager? For example:\n"
                            f"    with torch.autocast(device_type=...):\n        output = model(input)")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return wrapper


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorate a custom ``autograd.Function``'s ``forward`` for autocast, as torch's: with
    ``cast_inputs`` (a dtype), inside an enabled region its floating tensors of ``device_type`` are cast
    to it and it runs with autocast off; without, it runs in the current state, which ``custom_bwd``
    restores for the backward."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = enabled and cast_inputs is None
        if cast_inputs is None or not enabled:
            return fwd(*args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(*_cast_inputs(args, device_type, cast_inputs), **_cast_inputs(kwargs, device_type, cast_inputs))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorate a custom ``autograd.Function``'s ``backward``: it runs in the autocast state its
    ``custom_fwd``-decorated forward ran in."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd


def _cast_inputs(value, device_type, dtype):
    """``custom_fwd``'s cast: floating tensors of ``device_type`` but float64, inside lists, tuples and dicts."""
    from .tensor import Tensor
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type and value.dtype is not _dt.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, dict):
        return {k: _cast_inputs(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_inputs(v, device_type, dtype) for v in value)
    return value


# the listed ops' side -----------------------------------------------------------------------------

def applies():
    """True when this thread may cast: an enabled region, outside a listed op's body."""
    s = _state
    return s.on > 0 and not s.in_op


def run(rule, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` as torch's autocast runs a listed op: the floating tensors of backends that
    opt in cast by ``rule`` (LOWER: to the region's dtype, FLOAT32, PROMOTE: to the widest; BANNED
    raises), and the ops ``fn`` calls not cast again."""
    tensors = [t for t in _tensors(args, kwargs) if _region_dtype(t) is not None]
    if rule is BANNED and tensors:
        raise RuntimeError(_BCE_BANNED)
    to = None
    if rule is FLOAT32:
        to = _dt.float32
    elif rule is PROMOTE:
        to = _region_dtype(tensors[0]) if tensors else None
        for t in tensors:
            to = _dt.promote_types(to, t._dtype)
    s = _state
    s.in_op = True
    try:
        if tensors:
            args = tuple(_cast_arg(a, to) for a in args)
            kwargs = {k: _cast_arg(v, to) for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    finally:
        s.in_op = False


def _tensors(args, kwargs):
    from .tensor import Tensor
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            yield a
        elif type(a) in (list, tuple):
            yield from (t for t in a if isinstance(t, Tensor))


def _region_dtype(t):
    """The region's lower precision for ``t`` where autocast casts it (enabled for its device type, its
    backend opting in to that dtype, a float16/bfloat16/float32 tensor), else None."""
    if t._dtype not in _ELIGIBLE:
        return None
    backend = t._backend
    kind = backend.device_type
    if not _state.enabled.get(kind, False):
        return None
    dtype = get_autocast_dtype(kind)
    return dtype if dtype.name in backend.autocast_dtypes else None


def _cast_arg(a, to):
    from .tensor import Tensor
    if isinstance(a, Tensor):
        return _cast(a, to)
    if type(a) in (list, tuple) and any(isinstance(t, Tensor) for t in a):
        return type(a)(_cast(t, to) if isinstance(t, Tensor) else t for t in a)
    return a


def _cast(t, to):
    """``t`` in ``to`` (the region's dtype when None); a float32 leaf that requires grad is cast to the
    region's dtype once per outermost region (torch's cache; not under no_grad, whose cast has no graph)."""
    region = _region_dtype(t)
    if region is None:
        return t
    to = region if to is None else to
    if t._dtype is to:
        return t
    from .ops.conversion import Cast
    s = _state
    cacheable = (to is region and t._dtype is _dt.float32 and t._requires_grad and t.grad_fn is None
                 and t._view is None and s.cache_enabled and GradMode.enabled)
    if not cacheable:
        return Cast.apply(t, dtype=to)
    key = (id(t), to)
    hit = s.cache.get(key)
    if hit is None:
        hit = s.cache[key] = (t, Cast.apply(t, dtype=to))
    return hit[1]


class GradScaler:
    """Scale the loss so small gradients survive low precision, unscale before the step, skip steps whose
    gradients overflowed, and adapt the scale (torch's algorithm and defaults).

    Example:
        >>> scaler = tensorplug.amp.GradScaler()
        >>> scaler.scale(loss).backward()
        >>> scaler.step(optimizer)
        >>> scaler.update()
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and str(device).startswith("cuda"):
            from . import cuda
            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                              UserWarning, stacklevel=2)
                self._enabled = False
        if self._enabled:  # torch checks these only when enabled, with AssertionError
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer = {}  # id(optimizer) -> {"unscaled": bool, "found_inf": bool, "stepped": bool}

    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def get_growth_interval(self):
        return self._growth_interval

    def scale(self, outputs):
        """``outputs`` times the current scale (a tensor, or tensors in lists/tuples)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return outputs * self._scale

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": False,
                                                              "stepped": False})

    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by the scale in place and note whether any is inf/nan."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stepped"]:
            raise RuntimeError("unscale_() is being called after step().")
        inv = 1.0 / self._scale
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    g.mul_(inv)
                    if not found and not bool(g.isfinite().all()):
                        found = True
        state["unscaled"] = True
        state["found_inf"] = found

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless this iteration's gradients held inf/nan (then the step is skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stepped"]:
            raise RuntimeError("step() has already been called since the last update().")
        if not state["unscaled"]:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stepped"] = True
        return result

    def update(self, new_scale=None):
        """Adapt the scale: back off after an overflow, grow after ``growth_interval`` clean steps."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        else:
            states = self._per_optimizer.values()
            if not any(s["unscaled"] for s in states):
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(s["found_inf"] for s in states):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    if math.isfinite(self._scale * self._growth_factor):
                        self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer = {}

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
