"""dtype objects and torch's type-promotion rules.

A dtype is backend-neutral: backends map it to their own array dtype by
``dtype.name`` (numpy and cupy share names; the array API uses the same ones).
"""
from __future__ import annotations

from . import _display

__all__ = [
    "dtype", "bool_", "uint8", "int8", "int16", "int32", "int64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "promote_types", "result_type", "get_default_dtype", "set_default_dtype", "finfo", "iinfo",
]

# Category decides who wins between a tensor and a scalar (torch's rule:
# a scalar or 0-dim tensor only matters when its category is higher).
BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type, like ``torch.float32``."""

    __slots__ = ("name", "itemsize", "category", "is_signed", "legacy_name", "__weakref__")

    def __init__(self, name, itemsize, category, is_signed, legacy_name):
        self.name = name
        self.itemsize = itemsize
        self.category = category
        self.is_signed = is_signed
        self.legacy_name = legacy_name

    @property
    def is_floating_point(self) -> bool:
        return self.category == FLOAT

    @property
    def is_complex(self) -> bool:
        return self.category == COMPLEX

    def __repr__(self):
        return f"{_display.MODULE}.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = dtype("bool", 1, BOOL, False, "BoolTensor")
uint8 = dtype("uint8", 1, INT, False, "ByteTensor")
int8 = dtype("int8", 1, INT, True, "CharTensor")
int16 = dtype("int16", 2, INT, True, "ShortTensor")
int32 = dtype("int32", 4, INT, True, "IntTensor")
int64 = dtype("int64", 8, INT, True, "LongTensor")
float16 = dtype("float16", 2, FLOAT, True, "HalfTensor")
bfloat16 = dtype("bfloat16", 2, FLOAT, True, "BFloat16Tensor")  # NumPy's through ml_dtypes
float32 = dtype("float32", 4, FLOAT, True, "FloatTensor")
float64 = dtype("float64", 8, FLOAT, True, "DoubleTensor")
complex64 = dtype("complex64", 8, COMPLEX, True, "ComplexFloatTensor")
complex128 = dtype("complex128", 16, COMPLEX, True, "ComplexDoubleTensor")


def scalar_type_name(d):
    """torch's C++ scalar type name (``Float``, ``Long``, ``ComplexDouble``), which its kernel messages quote."""
    return d.legacy_name[:-len("Tensor")]


ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128)
BY_NAME = {d.name: d for d in ALL}
# a complex dtype's parts and back (view_as_real, .real, abs, the FFTs' result dtypes)
#: float16 and bfloat16: torch computes and accumulates them in float32 (its "opmath" type) and rounds once
NARROW_FLOATS = (float16, bfloat16)
COMPLEX_PARTS = {complex64: float32, complex128: float64}
COMPLEX_OF = {float32: complex64, float64: complex128}
# torch's aliases
BY_NAME.update({"half": float16, "float": float32, "double": float64, "long": int64,
                "int": int32, "short": int16, "cfloat": complex64, "cdouble": complex128})


def _by_name(name):
    return BY_NAME[name]


_default = [float32]


def get_default_dtype() -> dtype:
    """The floating dtype of new tensors made from Python floats (float32)."""
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    if not isinstance(d, dtype) or d.category != FLOAT:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def _promote(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == COMPLEX and lo.category == FLOAT and lo.itemsize * 2 > hi.itemsize:
            return complex128
        return hi
    if a.category == INT:
        if a.is_signed == b.is_signed:
            return a if a.itemsize >= b.itemsize else b
        signed, unsigned = (a, b) if a.is_signed else (b, a)
        # uint8 with int8 needs int16 to hold both ranges
        return signed if signed.itemsize > unsigned.itemsize else int16
    if {a, b} == {float16, bfloat16}:
        return float32  # neither holds the other: float16 has the precision, bfloat16 the range
    return a if a.itemsize >= b.itemsize else b


_PROMOTE = {(a, b): _promote(a, b) for a in ALL for b in ALL}


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` convert to (torch.promote_types)."""
    return _PROMOTE[a, b]


def scalar_dtype(value) -> dtype:
    """The dtype torch gives a Python scalar (bool, int64, default float, complex64)."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, complex):
        return complex64 if _default[0] is float32 else complex128
    return _default[0]


def result_type(a: dtype, a_dims: bool, b: dtype, b_dims: bool) -> dtype:
    """torch's result type of a binary op.

    ``a_dims`` tells whether operand ``a`` is a dimensioned tensor; 0-dim
    tensors and Python scalars only take part when their category is higher
    than the dimensioned operand's (``int64 tensor + 2.5 -> float32``).
    """
    if a is b:
        return a
    if a_dims == b_dims:
        return _PROMOTE[a, b]
    dim, zero = (a, b) if a_dims else (b, a)
    if zero.category <= dim.category:
        return dim
    if zero.category == COMPLEX and dim is float64:
        return complex128
    return zero


# finfo / iinfo ------------------------------------------------------------------------
# (mantissa bits with the implicit one, lowest normal exponent, largest exponent, printed resolution)
_FLOAT_FORMATS = {"float16": (11, -14, 15, 1e-3), "bfloat16": (8, -126, 127, 1e-2),
                  "float32": (24, -126, 127, 1e-6), "float64": (53, -1022, 1023, 1e-15)}
_COMPLEX_PARTS = {"complex64": "float32", "complex128": "float64"}


class finfo:
    """Machine limits of a floating dtype, as ``torch.finfo`` (a complex dtype gives its parts').

    Example:
        >>> finfo(bfloat16).eps
        0.0078125
    """

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type: dtype = None):
        type = get_default_dtype() if type is None else type
        if not isinstance(type, dtype) or type.category not in (FLOAT, COMPLEX):
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        name = _COMPLEX_PARTS.get(type.name, type.name)
        digits, min_exp, max_exp, resolution = _FLOAT_FORMATS[name]
        self.bits = BY_NAME[name].itemsize * 8
        self.eps = 2.0 ** (1 - digits)
        self.max = (2.0 - self.eps) * 2.0 ** max_exp
        self.min = -self.max
        self.tiny = self.smallest_normal = 2.0 ** min_exp
        self.resolution = resolution
        self.dtype = name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype, as ``torch.iinfo``.

    Example:
        >>> iinfo(int8).max
        127
    """

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type: dtype):
        if type is bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if not isinstance(type, dtype) or type.category != INT:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                            "'torch.iinfo'")
        self.bits = type.itemsize * 8
        self.min = -2 ** (self.bits - 1) if type.is_signed else 0
        self.max = 2 ** (self.bits - 1) - 1 if type.is_signed else 2 ** self.bits - 1
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"
