"""``tensorplug.nn.functional``: the stateless functions behind the layers and losses."""
from __future__ import annotations

import math
import warnings

from .. import dtypes as _dt
from ..tensor import Tensor
from . import _ops


def _dtype_error(a, b, what="mat1 and mat2"):
    return RuntimeError(f"{what} must have the same dtype, but got {a._dtype.legacy_name[:-6]} and "
                        f"{b._dtype.legacy_name[:-6]}; convert one, e.g. model.double() or x.float()")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``.

    Example:
        >>> F.linear(tensorplug.ones(2, 3), tensorplug.ones(4, 3)).shape
        tensorplug.Size([2, 4])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' must be Tensor, not {type(input).__name__}")
    ws = weight._data.shape
    xs = input._data.shape
    if not xs or xs[-1] != ws[-1]:
        left = "x".join(map(str, (math.prod(xs[:-1]), xs[-1]) if xs else ()))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {ws[-1]}x{ws[0]}); "
                           f"the input's last dimension must equal in_features={ws[-1]}")
    if input._dtype is not weight._dtype:
        raise _dtype_error(input, weight)
    if len(ws) != 2:
        out = input @ weight.t()
        return out if bias is None else out + bias
    if bias is not None and bias._dtype is not input._dtype:
        raise _dtype_error(input, bias)
    return _ops.Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]``."""
    out_f, in1, in2 = weight.shape
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    tmp = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    out = (tmp * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(tuple(lead) + (out_f,))
