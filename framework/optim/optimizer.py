"""``Optimizer``: parameter groups, per-parameter state and checkpoints, like torch's.

Subclasses validate their options, then implement ``step`` as a loop over
``self.param_groups`` that updates ``p._data`` in place through the
parameter's backend (``p._backend.xp``): no graph is built and no tensor op
is dispatched, so a step costs the arithmetic and little else.
"""
from __future__ import annotations

import copy
import functools
from collections import defaultdict
from itertools import chain

from ..autograd.grad_mode import GradMode
from ..tensor import Tensor

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

# hooks of every optimizer's step (torch.optim.optimizer.register_optimizer_step_pre/post_hook)
_global_step_pre_hooks = {}
_global_step_post_hooks = {}


def _handle(hooks, hook, prepend=False):
    from ..nn.module import RemovableHandle
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        items = list(hooks.items())
        hooks.clear()
        hooks.update([items[-1]] + items[:-1])
    return handle


def register_optimizer_step_pre_hook(hook):
    """Call ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; it may return
    ``(new_args, new_kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
    return _handle(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Call ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _handle(_global_step_post_hooks, hook)


def _with_step_hooks(step):
    """``step`` running the global and the optimizer's own step hooks around it (as torch patches it)."""

    @functools.wraps(step)
    def hooked_step(*args, **kwargs):
        # args includes the optimizer itself, as the args torch's hooks receive
        self = args[0]
        own = self.__dict__.get("_optimizer_step_pre_hooks")
        if own or _global_step_pre_hooks:
            from ..nn.module import new_args_kwargs
            for hook in (*_global_step_pre_hooks.values(), *(own or {}).values()):
                args, kwargs = new_args_kwargs(hook(self, args, kwargs), args, kwargs, hook)
        out = step(*args, **kwargs)
        own = self.__dict__.get("_optimizer_step_post_hooks")
        if own or _global_step_post_hooks:
            for hook in (*(own or {}).values(), *_global_step_post_hooks.values()):
                hook(self, args, kwargs)
        return out

    hooked_step.hooked = True
    return hooked_step


class _RequiredParameter:
    """Marks an option that has no default (torch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of every optimizer.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each
            holding ``"params"`` and any per-group options.
        defaults: the options a group gets when it does not set them.

    Example:
        >>> opt = tensorplug.optim.SGD(model.parameters(), lr=0.1)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}; pass [tensor] or model.parameters()")
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got dict; pass a list of parameter groups, e.g. [{'params': ...}]")
        self.state = defaultdict(dict)
        self.param_groups = []
        self._init_hooks()
        # like torch, the class's step is wrapped once, on first construction, to run the step hooks
        cls = type(self)
        if not getattr(cls.step, "hooked", False):
            cls.step = _with_step_hooks(cls.step)
        try:
            param_groups = list(params)
        except TypeError:
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}") from None
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list; did the model register its parameters "
                             "(nn.Parameter attributes of an nn.Module)?")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # groups -----------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``"params"`` and options) to optimize."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        index = len(self.param_groups)
        seen = {}
        for i, p in enumerate(param_group["params"]):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}")
            if not (p.grad_fn is None or p._retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaf it was computed from, "
                                 "or a detached copy: x.detach().requires_grad_()")
            if id(p) in seen:
                raise ValueError(f"parameter {i} of parameter group {index} (shape {list(p.shape)}) is the same "
                                 f"tensor as parameter {seen[id(p)]}; list each parameter once")
            seen[id(p)] = i
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        if "lr" in param_group:
            _check_lr(param_group["lr"])
        for group in self.param_groups:
            if any(id(p) in seen for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # hooks ------------------------------------------------------------------------
    def _init_hooks(self):
        self._optimizer_step_pre_hooks = {}
        self._optimizer_step_post_hooks = {}
        self._optimizer_state_dict_pre_hooks = {}
        self._optimizer_state_dict_post_hooks = {}
        self._optimizer_load_state_dict_pre_hooks = {}
        self._optimizer_load_state_dict_post_hooks = {}

    def register_step_pre_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``; it may return ``(new_args, new_kwargs)``."""
        return _handle(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _handle(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` before ``state_dict()`` builds its result."""
        return _handle(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` on ``state_dict()``'s result; a returned dict replaces it."""
        return _handle(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` (a shallow copy) before loading; a returned dict is loaded."""
        return _handle(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` after ``load_state_dict`` has loaded."""
        return _handle(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # gradients --------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True):
        """Reset every parameter's ``.grad``: to None (the default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if g.grad_fn is not None:
                    g = g.detach()
                    p._grad = g
                g._requires_grad = False
                data = g._data
                try:
                    data[...] = 0
                except (TypeError, ValueError):
                    # a read-only broadcast view (e.g. the grad of a sum): give it its own zeros
                    g._data = g._backend.xp.zeros_like(data)
                g._version[0] += 1

    def step(self, closure=None):
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss.

        Runs ``self._update(p, state, group)`` for each parameter with a gradient: an optimizer writes
        its rule for one parameter (and ``_state_keys`` or ``_init_state``), or its own ``step``.
        """
        if type(self)._update is Optimizer._update:
            raise NotImplementedError(f"{type(self).__name__} does not implement step()")
        loss = self._closure(closure)
        for group in self.param_groups:
            for p, state in self._params_with_grad(group):
                self._update(p, state, group)
        return loss

    def _update(self, p, state, group):
        """One parameter's update, in place; ``state`` is filled by ``_init_state`` on the first step."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _closure(self, closure):
        if closure is None:
            return None
        prev = GradMode.enabled
        GradMode.enabled = True
        try:
            return closure()
        finally:
            GradMode.enabled = prev

    # one parameter at a time ---------------------------------------------------------
    _state_keys = ()  # the zero buffers like ``p`` that a parameter's state holds besides ``step``

    def _params_with_grad(self, group):
        """``(p, state)`` for each parameter of ``group`` that has a gradient, its state filled on first use."""
        for p in group["params"]:
            if p._grad is None:
                continue
            state = self.state[p]
            if not state:
                self._init_state(state, p, group)
            yield (_as_real_pairs(p, state) if p._dtype.is_complex else (p, state))

    def _buffers(self, group):
        """The names of the zero buffers of a parameter's state in ``group`` (options may add some)."""
        return self._state_keys

    def _init_state(self, state, p, group):
        """Fill a parameter's empty ``state``: the ``step`` counter and the zero buffers ``_buffers(group)``."""
        init_state(state, p, *self._buffers(group))

    # state ------------------------------------------------------------------------
    def state_dict(self):
        """The optimizer's state: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are replaced by their position across the groups, as torch
        does; the state tensors are included (not copied).
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        mapping = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        out = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, out)
            if result is not None:
                out = result
        return out

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()``: options per group and each parameter's state (copied)."""
        if self._optimizer_load_state_dict_pre_hooks and hasattr(state_dict, "copy"):
            state_dict = state_dict.copy()
            for hook in self._optimizer_load_state_dict_pre_hooks.values():
                result = hook(self, state_dict)
                if result is not None:
                    state_dict = result
        self._load_state_dict(state_dict)
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _load_state_dict(self, state_dict):
        if not hasattr(state_dict, "keys") or "param_groups" not in state_dict or "state" not in state_dict:
            raise TypeError("Expected state_dict to be dict-like with 'state' and 'param_groups', "
                            f"got {type(state_dict).__name__}; pass what optimizer.state_dict() returned")
        groups = self.param_groups
        saved_groups = copy.deepcopy([{k: v for k, v in g.items()} for g in state_dict["param_groups"]])
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) "
                             f"than the optimizer ({len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group: group {i} has {len(s['params'])} parameters in the state "
                                 f"dict and {len(g['params'])} in the optimizer")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = {key: _cast(param, value, key) for key, value in v.items()}
            else:
                state[k] = copy.deepcopy(v)
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
        self.state = state
        self.param_groups = saved_groups

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_hooks()  # hooks are not pickled, as in torch

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


# helpers for subclasses ------------------------------------------------------------

def _typename(obj):
    if isinstance(obj, Tensor):
        return obj.type()
    return type(obj).__module__ + "." + type(obj).__qualname__ if type(obj).__module__ != "builtins" \
        else type(obj).__name__


def _as_float(value):
    if isinstance(value, Tensor):
        return float(value.item())
    if value is None or isinstance(value, (str, bytes)):  # float() would read a string, torch's comparison fails
        raise TypeError(f"'<=' not supported between instances of 'float' and '{type(value).__name__}'")
    return float(value)


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    value = _as_float(lr)
    if not value >= 0.0:  # also refuses NaN, which torch lets through
        raise ValueError(f"Invalid learning rate: {lr} (expected a number >= 0)")


def check_options(lr=None, eps=None, weight_decay=None, momentum=None, betas=None, **others):
    """Validate the common options with torch's messages (NaN is refused everywhere)."""
    if lr is not None:
        _check_lr(lr)
    if eps is not None and not _as_float(eps) >= 0.0:
        raise ValueError(f"Invalid epsilon value: {eps} (expected a number >= 0)")
    if weight_decay is not None and not _as_float(weight_decay) >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay} (expected a number >= 0)")
    if momentum is not None and not _as_float(momentum) >= 0.0:
        raise ValueError(f"Invalid momentum value: {momentum} (expected a number >= 0)")
    if betas is not None:
        for i, beta in enumerate(betas):
            if not 0.0 <= _as_float(beta) < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta} (expected 0 <= beta < 1)")
    for name, (value, low, high) in others.items():
        if not low <= _as_float(value) <= high:
            raise ValueError(f"Invalid {name} value: {value} (expected {low} <= {name} <= {high})")


def check_unsupported(foreach=None, fused=None, differentiable=False, capturable=False, fusable=False):
    """Accept torch's implementation switches; refuse the ones that would change results.

    ``fused=True`` is accepted where torch has a fused CPU kernel (``fusable``: SGD, Adam, AdamW, Adagrad):
    the update is the same one (already a single pass where the backend fuses it)."""
    if fused:
        if not fusable:
            raise RuntimeError("fused=True is not supported by this optimizer; leave fused=None "
                               "(the update already runs in place on the backend arrays)")
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise RuntimeError("differentiable=True is not supported by tensorplug optimizers; leave it False")
    if capturable:
        raise RuntimeError("capturable=True (CUDA graphs) is not supported by tensorplug optimizers; "
                           "leave it False")


def _as_real_pairs(p, state):
    """A complex parameter, its gradient and its state as real ``(..., 2)`` views: torch steps a complex
    parameter as the pairs of its parts (Adam's second moment is per part, not ``|g|^2``)."""
    from ..ops.complex_numbers import view_as_real
    pairs = view_as_real(p.detach())
    pairs._grad = view_as_real(p._grad)
    return pairs, {k: view_as_real(v) if isinstance(v, Tensor) and v.is_complex() else v for k, v in state.items()}


def state_like(p, array):
    """Optimizer state over ``array`` (a backend array shaped like ``p``), with ``p``'s dtype and backend."""
    return Tensor._make(array, p._dtype, p._backend)


def zeros_state(p):
    """A zero tensor shaped like ``p``, on its backend (optimizer state)."""
    return state_like(p, p._backend.xp.zeros_like(p._data))


def step_state():
    """The ``step`` counter: a 0-d float32 tensor on the CPU, as torch keeps it."""
    from ..tensor import tensor
    from ..dtypes import float32
    return tensor(0.0, dtype=float32, device="cpu")


def init_state(state, p, *keys):
    """Fill a parameter's empty ``state``: the ``step`` counter and a zero tensor like ``p`` per key."""
    state["step"] = step_state()
    for key in keys:
        state[key] = zeros_state(p)


def touch(p, state, *keys):
    """Record an in-place update of ``p`` and of ``state[key]`` for each key (bumps their versions)."""
    p._version[0] += 1
    for key in keys:
        state[key]._version[0] += 1


def ema_sq_(v, g, beta):
    """``v = beta * v + (1 - beta) * g * g`` in place (the second-moment average of Adam and RMSprop)."""
    v *= beta
    sq = g * g
    sq *= 1 - beta
    v += sq


def bump_step(state):
    """Add one to ``state['step']`` in place and return the new count as a float."""
    t = state["step"]
    data = t._data
    try:
        data += 1
        t._data = data
    except (TypeError, ValueError):
        t._data = t._backend.asarray(float(data) + 1, t._dtype)
    t._version[0] += 1
    return float(t._data)


def grad_array(p, maximize, weight_decay):
    """The gradient array a step uses: negated when maximizing, plus ``weight_decay * p`` (L2); a fresh
    array wherever it differs from the gradient (which is never written)."""
    g = p._grad._data
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p._data
    return g


def decayed_grad(p, group, lr, weight_decay):
    """``grad_array`` for optimizers with a ``decoupled_weight_decay`` option (NAdam, RAdam): with it the
    weights decay (``p *= 1 - lr * weight_decay``) and the gradient is left alone."""
    if weight_decay != 0 and group["decoupled_weight_decay"]:
        p._data *= 1 - lr * weight_decay
        return grad_array(p, group["maximize"], 0.0)
    return grad_array(p, group["maximize"], weight_decay)


def adam_options(group):
    """An Adam-family group's ``(lr, eps, weight_decay, beta1, beta2)``, as floats."""
    beta1, beta2 = group["betas"]
    return float(group["lr"]), float(group["eps"]), float(group["weight_decay"]), float(beta1), float(beta2)


def update_moments(state, g, beta1, beta2):
    """Adam's moving averages ``state['exp_avg']`` of ``g`` and ``state['exp_avg_sq']`` of ``g * g``,
    updated in place; returns their arrays ``(m, v)`` (RAdam, NAdam, LAMB)."""
    m = state["exp_avg"]._data
    v = state["exp_avg_sq"]._data
    lerp_(m, g, 1 - beta1)
    ema_sq_(v, g, beta2)
    return m, v


def lerp_(m, g, weight):
    """``m += weight * (g - m)`` in place (torch's ``lerp_``)."""
    m *= 1 - weight
    m += weight * g


def axpy(y, alpha, x, fused=None):
    """``y += alpha * x`` in place, with no temporary when alpha is +1 or -1.

    ``fused`` is the backend's ``axpy(y, alpha, x) -> bool`` (``Backend.axpy``):
    one pass over memory (BLAS axpy) instead of a multiply and a subtract; it
    returns False where it cannot (layout, dtype) and the two passes run instead.
    """
    if alpha == 1:
        y += x
    elif alpha == -1:
        y -= x
    elif alpha != 0 and not (fused is not None and fused(y, alpha, x)):
        y += alpha * x
    return y


def _cast(param, value, key):
    if isinstance(value, Tensor):
        if key == "step":
            return Tensor._make(value._backend.copy(value._data), value._dtype, value._backend)
        if value._backend is not param._backend or (param.is_floating_point() and value._dtype is not param._dtype):
            value = value.to(device=param.device, dtype=param._dtype if param.is_floating_point() else value._dtype)
            return Tensor._make(value._data, value._dtype, value._backend)
        return Tensor._make(value._backend.copy(value._data), value._dtype, value._backend)
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v, key) for v in value)
    return copy.deepcopy(value)
