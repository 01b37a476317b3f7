"""Module backward hooks (``register_full_backward_hook`` / ``register_full_backward_pre_hook``).

As in torch, a module with such hooks passes its positional tensor inputs and
its tensor outputs through an identity Function each: the outputs' identity
receives the gradients w.r.t. the outputs in backward (the pre-hooks may
replace them), the inputs' identity the gradients w.r.t. the inputs, which the
full hooks see beside the output gradients and may replace. The module's
forward therefore receives views of its input tensors, and the caller views
of its outputs.
"""
from __future__ import annotations

import warnings

from ..autograd.function import Function
from ..tensor import Tensor

__all__ = ["BackwardHook"]


class _Identity(Function):
    """The tensors unchanged; backward hands their gradients to ``callback`` (which may replace them)."""

    @staticmethod
    def forward(ctx, callback, *tensors):
        ctx.callback = callback
        # a tensor that needs no gradient stays so; grads that never arrive are zeros (as in torch)
        ctx.mark_non_differentiable(*(t for t in tensors if not t.requires_grad))
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.callback(grads))


class BackwardHook:
    """One module call's backward hooks: wraps its inputs and outputs, runs the hooks in backward."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_positions = None
        self.grad_outputs = None

    def setup_inputs(self, args):
        self.n_inputs = len(args)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not any(args[i].requires_grad for i in positions):
            return args
        self.input_positions = positions
        wrapped = _Identity.apply(self._on_input_grads, *(args[i] for i in positions))
        args = list(args)
        for i, t in zip(positions, wrapped):
            args[i] = t
        return tuple(args)

    def setup_outputs(self, output):
        single = isinstance(output, Tensor)
        outs = (output,) if single else output
        if not isinstance(outs, (tuple, list)):
            return output  # other structures are returned as they are, without the hooks (as torch warns)
        positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        self.n_outputs = len(outs)
        self.output_positions = positions
        wrapped = _Identity.apply(self._on_output_grads, *(outs[i] for i in positions))
        new = list(outs)
        for i, t in zip(positions, wrapped):
            new[i] = t
        return new[0] if single else type(outs)(new)

    @staticmethod
    def _pack(grads, positions, n):
        packed = [None] * n
        for i, g in zip(positions, grads):
            packed[i] = g
        return tuple(packed)

    def _on_output_grads(self, grads):
        packed = self._pack(grads, self.output_positions, self.n_outputs)
        for hook in tuple(self.pre_hooks.values()):
            result = hook(self.module, packed)
            if result is not None:
                packed = _checked(result, len(packed), "backward pre hook")
        self.grad_outputs = packed
        if self.input_positions is None:  # no input needs a gradient: the full hooks run now
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                              "outputs since no inputs require gradients.", UserWarning, stacklevel=2)
            for hook in tuple(self.hooks.values()):
                result = hook(self.module, (None,) * self.n_inputs, packed)
                if result is not None and any(r is not None for r in _as_tuple(result)):
                    raise RuntimeError("Backward hook for Modules where no input requires gradient should "
                                       "always return None or None for all gradients.")
        return tuple(packed[i] for i in self.output_positions)

    def _on_input_grads(self, grads):
        packed = self._pack(grads, self.input_positions, self.n_inputs)
        for hook in tuple(self.hooks.values()):
            result = hook(self.module, packed, self.grad_outputs)
            if result is not None:
                packed = _checked(result, len(packed), "backward hook")
        return tuple(packed[i] for i in self.input_positions)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def _checked(result, n, what):
    result = _as_tuple(result)
    if len(result) != n:
        raise RuntimeError(f"{what} returned an invalid number of grad_output, got {len(result)}, but "
                           f"expected {n}")
    return result
