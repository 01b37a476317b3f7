"""Printing tensors the way torch does (precision 4, summarised past 1000 elements)."""
from __future__ import annotations

import math

from . import dtypes as _dt

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Printing options, as ``torch.set_printoptions``."""
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH
    if profile == "default":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, 1000, 3, 80
    elif profile == "short":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 2, 1000, 2, 80
    elif profile == "full":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, math.inf, 3, 80
    PRECISION = PRECISION if precision is None else precision
    THRESHOLD = THRESHOLD if threshold is None else threshold
    EDGEITEMS = EDGEITEMS if edgeitems is None else edgeitems
    LINEWIDTH = LINEWIDTH if linewidth is None else linewidth


def _summarise(values, shape, summarise):
    """Nested lists, with the middle of long dims replaced by Ellipsis when summarising."""
    if not shape:
        return values
    n = shape[0]
    if summarise and n > 2 * EDGEITEMS:
        idx = list(range(EDGEITEMS)) + [None] + list(range(n - EDGEITEMS, n))
    else:
        idx = range(n)
    return [Ellipsis if i is None else _summarise(values[i], shape[1:], summarise) for i in idx]


def _leaves(nested, out):
    if isinstance(nested, list):
        for v in nested:
            _leaves(v, out)
    elif nested is not Ellipsis:
        out.append(nested)
    return out


class _Formatter:
    def __init__(self, values, floating, complex_):
        self.floating = floating
        self.complex = complex_
        if complex_:  # torch formats the real and the imaginary parts each with its own formatter
            self.parts = (_Formatter([v.real for v in values], True, False),
                          _Formatter([v.imag for v in values], True, False))
            self.width = max((len(self.format(v)) for v in values), default=1)
            return
        self.int_mode = True
        self.sci = False
        if floating:
            finite = [abs(v) for v in values if math.isfinite(v)]
            self.int_mode = all(v == math.ceil(v) for v in finite)
            nonzero = [v for v in finite if v != 0]
            if nonzero:
                lo, hi = min(nonzero), max(nonzero)
                if self.int_mode:
                    self.sci = hi / lo > 1000.0 or hi > 1.0e8
                else:
                    self.sci = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # torch sizes columns by the non-zero finite values only (so -0., nan, inf may stick out)
        sized = values
        if floating and not complex_:
            sized = [v for v in values if math.isfinite(v) and v != 0]
        self.width = max((len(self.format(v)) for v in sized), default=1)

    def format(self, v):
        if self.complex:
            real, imag = self.parts
            imag_str = (imag.format(v.imag).rjust(imag.width) + "j").lstrip()
            sign = "" if imag_str[0] in "+-" else "+"
            return real.format(v.real).rjust(real.width) + sign + imag_str
        if not self.floating:
            return str(v)
        return self._real(v)

    def _real(self, v):
        if not math.isfinite(v):
            return str(v)
        if self.sci:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"


def _render(nested, fmt, indent, depth):
    if not isinstance(nested, list):
        return fmt.format(nested).rjust(fmt.width)
    if depth == 1:
        items = [" ..." if v is Ellipsis else fmt.format(v).rjust(fmt.width) for v in nested]
        per_line = max(1, (LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    sep = "," + "\n" * (depth - 1) + " " * (indent + 1)
    rows = ["..." if v is Ellipsis else _render(v, fmt, indent + 1, depth - 1) for v in nested]
    return "[" + sep.join(rows) + "]"


def format_tensor(t, prefix="tensor("):
    dtype = t._dtype
    shape = tuple(t._data.shape)
    numel = t.numel()
    suffixes = []
    if t._backend.device_type != "cpu":
        suffixes.append(f"device='{t._backend.device}'")
    if numel == 0:
        body = "[]"
        if shape != (0,):
            suffixes.append(f"size={shape}")
        if dtype is not _dt.get_default_dtype():
            suffixes.append(f"dtype={dtype!r}")
    else:
        summarise = numel > THRESHOLD
        values = t._backend.to_numpy(t._data).tolist()
        nested = _summarise(values, shape, summarise)
        floating = dtype.category == _dt.FLOAT
        fmt = _Formatter(_leaves(nested, []) if shape else [nested], floating, dtype.category == _dt.COMPLEX)
        body = _render(nested, fmt, len(prefix), len(shape))
        default_for_kind = {_dt.FLOAT: _dt.get_default_dtype(), _dt.INT: _dt.int64, _dt.BOOL: _dt.bool_,
                            _dt.COMPLEX: _dt.complex64}[dtype.category]
        if dtype is not default_for_kind:
            suffixes.append(f"dtype={dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.node_name}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, len(prefix)) + ")"


def _with_suffixes(text, suffixes, indent):
    """torch's layout of the suffixes: each joins the last line, or starts an indented line of its own
    where the last line would pass the line width."""
    last = len(text) - text.rfind("\n") + 1  # (torch's count, one more than the line's length)
    for suffix in suffixes:
        if last + len(suffix) + 2 > LINEWIDTH:
            text += ",\n" + " " * indent + suffix
            last = indent + len(suffix)
        else:
            text += ", " + suffix
            last += len(suffix) + 2
    return text
