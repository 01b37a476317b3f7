"""Private Ops behind ``nn.functional``: fused kernels (linear, softmax, cross-entropy...)
and the few primitives the core op library does not offer yet.

Each forward computes on backend arrays through ``ctx.backend.xp``; each
backward is written with tensorplug ops so double backward works.
"""
from __future__ import annotations

from ..autograd.function import Op


class Linear(Op):
    """``x @ w.T + b`` in one node (the backward of a 2-D matmul + bias add, without reshapes)."""

    save_inputs = (0, 1)

    @staticmethod
    def forward(ctx, x, w, b):
        out = ctx.backend.xp.matmul(x, w.T)
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors_list()
        edges = ctx._edges
        gx = g @ w if edges[0] is not None else None
        gw = gb = None
        if edges[1] is not None or edges[2] is not None:
            g2 = g.reshape(-1, w.shape[0]) if g.ndim != 2 else g
            if edges[1] is not None:
                x2 = x.reshape(-1, w.shape[1]) if x.ndim != 2 else x
                gw = g2.t() @ x2
            if edges[2] is not None:
                gb = g2.sum(0)
        return gx, gw, gb
