"""In-place sampling: random_, uniform_, normal_, log_normal_, cauchy_, bernoulli_, exponential_,
geometric_; bernoulli, multinomial."""
from __future__ import annotations

import math
import warnings

from .. import dtypes as _dt
from ..generator import drawing_from
from ..tensor import Tensor
from .inplace import assign, check_leaf


def _write(self, data):
    check_leaf(self)
    assign(self, data)
    self._version[0] += 1
    return self


_MANTISSA = {"float16": 11, "float32": 24, "float64": 53}


def random_(self, from_=None, to=None, *, generator=None):
    """Fill with integers from ``[from_, to)``; ``random_(n)`` means ``[0, n)``."""
    dtype = self._dtype
    if from_ is not None and to is None:
        from_, to = 0, from_
    if from_ is None:
        from_ = 0
        if dtype.category == _dt.FLOAT:
            to = 2 ** _MANTISSA[dtype.name] + 1
        elif dtype is _dt.bool_:
            to = 2
        else:
            bits = dtype.itemsize * 8 - (1 if dtype.is_signed else 0)
            to = 2 ** bits
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    if dtype.category == _dt.FLOAT:
        limit = 2 ** _MANTISSA[dtype.name]
        if from_ < -limit or to - 1 > limit:
            warnings.warn(f"to - 1 is out of bounds [-(2^{_MANTISSA[dtype.name]}), 2^{_MANTISSA[dtype.name]}]. "
                          f"This warning will become an error in a future release; values above it "
                          f"cannot be represented exactly in {dtype}", UserWarning, stacklevel=2)
    backend = self._backend
    with drawing_from(generator, backend, "random_()"):
        values = backend.randint(from_, to, tuple(self._data.shape), _dt.int64)
    return _write(self, backend.astype(values, dtype))


def _continuous(self, kernel):
    """torch's NotImplementedError where a continuous fill meets an integer tensor (it filled truncated draws)."""
    if self._dtype.category < _dt.FLOAT:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_dt.scalar_type_name(self._dtype)}'; "
                                  f"fill a floating-point tensor (x.float())")


# torch's Cauchy message names the C++ type, its Exponential one the scalar type
_C_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}


def _continuous_distribution(self, name):
    if self._dtype.category < _dt.FLOAT:
        dtype = _C_NAMES[self._dtype.name] if name == "Cauchy" else _dt.scalar_type_name(self._dtype)
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. dtype must be a "
                           f"floating point but you specified {dtype}")


def uniform_(self, from_=0.0, to=1.0, *, generator=None):
    """Fill with samples from U[from_, to)."""
    _continuous(self, "check_uniform_bounds")
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_} > to={to}")
    backend = self._backend
    with drawing_from(generator, backend, "uniform_()"):
        data = backend.rand(tuple(self._data.shape), _dt.float64) * (to - from_) + from_
    return _write(self, backend.astype(data, self._dtype))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with samples from N(mean, std^2)."""
    _continuous(self, "normal_kernel_cpu")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    backend = self._backend
    with drawing_from(generator, backend, "normal_()"):
        data = backend.randn(tuple(self._data.shape), _dt.float64) * std + mean
    return _write(self, backend.astype(data, self._dtype))


def bernoulli_(self, p=0.5, *, generator=None):
    backend = self._backend
    if isinstance(p, Tensor):
        prob = backend.astype(p._data, _dt.float64)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        prob = backend.full(tuple(self._data.shape), float(p), _dt.float64)
    with drawing_from(generator, backend, "bernoulli_()"):
        data = backend.bernoulli(prob, self._dtype)
    return _write(self, data)


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill with exp of samples from N(mean, std^2)."""
    _continuous(self, "log_normal_cpu")
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std:g}")
    backend = self._backend
    with drawing_from(generator, backend, "log_normal_()"):
        data = backend.xp.exp(backend.randn(tuple(self._data.shape), _dt.float64) * std + mean)
    return _write(self, backend.astype(data, self._dtype))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill with samples from the Cauchy distribution: ``median + sigma * tan(pi * (U - 1/2))``."""
    _continuous_distribution(self, "Cauchy")
    if sigma <= 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma:g}")
    backend = self._backend
    with drawing_from(generator, backend, "cauchy_()"):
        u = backend.rand(tuple(self._data.shape), _dt.float64)
    data = median + sigma * backend.xp.tan(math.pi * (u - 0.5))
    return _write(self, backend.astype(data, self._dtype))


def geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p:g}")
    backend = self._backend
    with drawing_from(generator, backend, "geometric_()"):
        u = backend.rand(tuple(self._data.shape), _dt.float64)
    xp = backend.xp
    # 1 - u lies in (0, 1]: log1p(-p) < 0, so the count is at least 1
    data = xp.maximum(xp.ceil(xp.log(1.0 - u) / math.log1p(-p)), 1.0)
    return _write(self, backend.astype(data, self._dtype))


def exponential_(self, lambd=1.0, *, generator=None):
    _continuous_distribution(self, "Exponential")
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    backend = self._backend
    with drawing_from(generator, backend, "exponential_()"):
        data = backend.exponential(tuple(self._data.shape), lambd, self._dtype)
    return _write(self, data)


def bernoulli(input, p=None, *, generator=None):
    """Samples 0/1 with probabilities ``input`` (or a fixed ``p``)."""
    backend = input._backend
    prob = input._data if p is None else backend.full(tuple(input._data.shape), float(p), input._dtype)
    if bool(backend.xp.any((prob < 0) | (prob > 1))):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    with drawing_from(generator, backend, "bernoulli()"):
        data = backend.bernoulli(prob, input._dtype)
    return Tensor._make(data, input._dtype, backend)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Sample category indices from rows of non-negative weights."""
    import random as _random
    probs = input.detach().double().tolist()
    rows = probs if input.dim() == 2 else [probs]
    backend = input._backend
    with drawing_from(generator, backend, "multinomial()"):
        seed = int(backend.randint(0, 2 ** 62, (), _dt.int64).item())
    rng = _random.Random(seed)
    out = []
    for w in rows:
        if any(x < 0 for x in w) or sum(w) <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0 or a negative one)")
        if not replacement and num_samples > sum(1 for x in w if x > 0):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        w = list(w)
        picks = []
        for _ in range(num_samples):
            i = rng.choices(range(len(w)), weights=w)[0]
            picks.append(i)
            if not replacement:
                w[i] = 0.0
        out.append(picks)
    from ..tensor import tensor
    result = tensor(out if input.dim() == 2 else out[0], dtype=_dt.int64, device=backend)
    return result
