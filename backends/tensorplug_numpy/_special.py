"""erf and GELU (exact and tanh) with its gradient, vectorised with NumPy ufuncs.

NumPy has no erf, and ``np.frompyfunc(math.erf)`` costs a Python call per
element: GELU forward and backward on 16384x384 float32 took 100x torch's
time. Here erf is polynomials evaluated by Horner's rule:

- float64, as fdlibm splits the range (``|x|`` below 0.84375, up to 1.25, up
  to 6, beyond), with ``erfc(x) = exp(-x*x) * h(x)`` in the tails: within 1 ulp
  of ``math.erf`` everywhere (subnormals, +-inf and nan included);
- float32 in float32 arithmetic for ``|x| < 1.75`` (within 2 ulp of the
  correctly rounded value; torch's own float32 erf is an Abramowitz-Stegun
  formula good to 1.5e-7 absolute), the rare larger values through the float64
  path; float16 and bfloat16 through float32, as torch computes them.

The coefficients are Chebyshev interpolants of the exact functions, computed
with mpmath at 50 digits and rounded to double (``tests/backends/
test_numpy_special.py`` recomputes them). Arrays are processed in blocks that
keep a kernel's temporaries in the L2 cache (a pass over a block in cache costs
about half of one over the whole array), large ones split over the backend's
threads; every result is elementwise, so it never depends on the split.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import _jit
from ._threads import scratch, split

__all__ = ["erf", "gelu", "gelu_backward"]

#: elements per block. Larger blocks measured faster despite leaving L2 (16384x384 GELU forward
#: and backward, 2 threads: 27.8 + 11.8 ms at 2**14, 22.2 + 7.4 ms at 2**18): the cost is the ufunc
#: calls of the polynomials, a few microseconds each whatever the block's size
BLOCK = 1 << 18
#: from this many elements a kernel runs over the thread pool (a handoff costs ~15 us)
SPLIT_MIN = 1 << 17

#: from this many elements GELU runs through numba's compiled loops where installed (``_loops``):
#: the same values, so the size only decides whether numba's import and compile (~0.5 s once per
#: process, cached on disk) are worth it
JIT_MIN = 1 << 15

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_K = math.sqrt(2 / math.pi)  # tanh GELU: tanh(k * (x + c * x**3)), torch's kBeta and kKappa
_TANH_C = 0.044715

# erf(x)/x - 1 in t = x*x, for |x| < 0.84375 (erf = x + x * poly: the correction is small, so
# the last addition rounds once)
_SMALL = (
    -8.879702704985848e-10, 1.4205594850504056e-08, -1.630309508468887e-07, 1.6457914349746103e-06,
    -1.4925463570287675e-05, 0.00012055327421282683, -0.000854832691425112, 0.005223977624080742,
    -0.026866170645031, 0.11283791670954745, -0.3761263890318375, 0.1283791670955126)
# erf(1 + s) - _ERF1 for s = |x| - 1 in [-0.15625, 0.25]
_ERF1 = 0.8427007929497149
_NEAR_ONE = (
    3.1933346569686056e-05, -0.00020086312275290722, 8.461871552376003e-05, 0.0012264355237814905,
    -0.0018851667279788675, -0.004777035856883553, 0.015154717952365138, 0.004612305602586737,
    -0.06918458290289049, 0.06918458290293396, 0.13836916580686642, -0.4151074974205935, 0.4151074974205947,
    -2.5281614226004374e-17)
# erfc(x) * exp(x*x) for |x| in [1.25, 2.5) and [2.5, 6), in z = (|x| - centre) / half-width
_TAIL_A = (
    -2.2524188116788706e-13, 1.4664035921807876e-12, -8.345678089734981e-12, 5.190841526729009e-11,
    -3.1764234892135315e-10, 1.888307159827298e-09, -1.0948902702312894e-08, 6.184661956061026e-08,
    -3.3970127868776125e-07, 1.8107427674061617e-06, -9.345586754210051e-06, 4.657876559209208e-05,
    -0.000223472754143753, 0.001028143182267182, -0.0045146551733171465, 0.018808058613153666,
    -0.07376045170499898, 0.2694299851646704)
_TAIL_B = (
    6.19202332443258e-10, -2.091295143503896e-09, 4.044217888551993e-09, -1.3135483422807304e-08,
    4.800033821552839e-08, -1.5312337863738423e-07, 4.757207180019287e-07, -1.476177437211989e-06,
    4.5207167905676e-06, -1.3632246843805208e-05, 4.048624541815416e-05, -0.0001183540692437326,
    0.0003403116175739242, -0.0009617329943690538, 0.0026690037168546486, -0.0072669543166608746,
    0.019391340463739106, -0.05065257997558998, 0.12934527478598792)
_TAILS = ((1.25, 2.5, 1.875, 0.625, _TAIL_A), (2.5, 6.0, 4.25, 1.75, _TAIL_B))
# float32: erf(x)/x in t = x*x / _F32_HALF - 1, for x*x < 2 * _F32_HALF (|x| < 1.75); centred,
# because Horner's rule in float32 over t in [0, 3.06] loses up to 9 ulp, over [-1, 1] 2
_F32_HALF = 1.53125
_F32_POLY = (
    1.3387495961878058e-05, -8.177123038567385e-05, 0.0004189301947201566, -0.0020104877515806636,
    0.008448866402533403, -0.030517418774134383, 0.09383792930107705, -0.24967370611378112, 0.743376660860007)
# the same polynomial scaled for GELU's cdf: 0.5 + 0.5 * erf(x / sqrt(2)) = 0.5 + x * poly
_CDF_POLY = tuple(c * 0.5 * _SQRT1_2 for c in _F32_POLY)
# as NumPy rounds them when they meet float32 arrays, for the compiled kernel
_CDF_POLY32 = tuple(np.float32(c) for c in _CDF_POLY)
_CDF_SCALE32 = np.float32(0.5 / _F32_HALF)
# _TAILS as arrays (the shorter polynomial led by a zero, which Horner's rule passes through exactly)
_JIT_TAILS = (np.array([(0.0,) * (len(_TAIL_B) - len(_TAIL_A)) + _TAIL_A, _TAIL_B]),
              np.array([_TAILS[0][2], _TAILS[1][2]]), np.array([_TAILS[0][3], _TAILS[1][3]]))


def _horner(coefs, t, out):
    """``out = coefs[0] * t**n + ... + coefs[n]`` (Python floats: the arrays' dtype is kept)."""
    np.multiply(t, coefs[0], out=out)
    out += coefs[1]
    for c in coefs[2:]:
        out *= t
        out += c
    return out


def _erf64(x):
    """erf of a float64 array, region by region (fdlibm's split)."""
    ax = np.abs(x)
    small = np.flatnonzero(ax < 0.84375)
    if 2 * small.size > x.size:  # mostly small: the polynomial over every element, no gather
        out = np.multiply(x, x)
        poly = _horner(_SMALL, out, np.empty_like(x))
        np.multiply(poly, x, out=out)
        out += x  # also nan, which no region below claims
    else:  # mostly tails (GELU's float64 fix-up of float32's far elements): the small ones alone
        out = x.copy()  # nan stays
        xs = x[small]
        out[small] = xs + xs * _horner(_SMALL, xs * xs, np.empty_like(xs))
    near = np.flatnonzero((ax >= 0.84375) & (ax < 1.25))
    if near.size:
        out[near] = np.copysign(_horner(_NEAR_ONE, ax[near] - 1, np.empty(near.size)) + _ERF1, x[near])
    for lo, hi, centre, half, coefs in _TAILS:
        where = np.flatnonzero((ax >= lo) & (ax < hi))
        if where.size:
            a = ax[where]
            erfc = _horner(coefs, (a - centre) / half, np.empty(where.size))
            erfc *= np.exp(-(a * a))
            out[where] = np.copysign(1 - erfc, x[where])
    flat = np.flatnonzero(ax >= 6.0)  # erfc(6) = 2e-17 rounds away: +-1, +-inf included
    if flat.size:
        out[flat] = np.copysign(1.0, x[flat])
    return out


def _erf32_block(out, x):
    t = scratch("special.t", x.shape, _F32)
    np.multiply(x, x, out=t)
    t -= _F32_HALF  # before the scaling: within 2 ulp, where x * (x / half) - 1 gives 3
    t *= 1 / _F32_HALF
    _horner(_F32_POLY, t, out)
    out *= x
    far = _past_polynomial(t)
    if far.size:
        out[far] = _erf64(x[far].astype(_F64))


def _past_polynomial(t):
    """Where the float32 polynomial's argument ``t`` is past its range (+-inf too): a block's few far
    elements, which take the float64 path. Found per block on the pool's threads (one scan of the
    whole array afterwards took 1.7 ms of a 16384x384 GELU's 27)."""
    return np.flatnonzero(t >= 1)


def _erf64_block(out, x):
    out[...] = _erf64(x)


def _blocks(kernel, outs, ins):
    """``kernel(*out_blocks, *in_blocks)`` over consecutive blocks of flat contiguous arrays."""
    n = outs[0].size

    def run(start, stop):
        for s in range(start, stop, BLOCK):
            e = min(s + BLOCK, stop)
            kernel(*(a[s:e] for a in outs), *(a[s:e] for a in ins))

    if n >= SPLIT_MIN:
        split(run, n, SPLIT_MIN // 2)
    else:
        run(0, n)


def _flat(a):
    return np.ascontiguousarray(a).reshape(-1)


def erf(x):
    """``erf(x)`` elementwise for a float array (the backend's ``erf``)."""
    if not x.size:
        return x.copy()
    if x.dtype == _F64:
        out = np.empty(x.shape, _F64)
        _blocks(_erf64_block, (out.reshape(-1),), (_flat(x),))
        return out
    if x.dtype != _F32:  # float16, bfloat16: in float32, as torch computes them, then rounded
        return erf(x.astype(_F32)).astype(x.dtype)
    out = np.empty(x.shape, _F32)
    _blocks(_erf32_block, (out.reshape(-1),), (_flat(x),))
    return out


# GELU ---------------------------------------------------------------------------------------------

def _cdf_block(cdf, y, x):
    """Exact GELU in float32: ``cdf = Phi(x)``, ``y = x * cdf`` (float64 past the polynomial's range)."""
    t = scratch("special.t", x.shape, _F32)
    np.multiply(x, 0.5 / _F32_HALF, out=t)  # (x / sqrt(2))**2 / half - 1
    t *= x
    t -= 1
    _horner(_CDF_POLY, t, cdf)
    cdf *= x
    cdf += 0.5
    far = _past_polynomial(t)
    if far.size:
        cdf[far] = _cdf64(x[far].astype(_F64))
    np.multiply(x, cdf, out=y)


def _compiled_cdf_block(kernels, cdf, y, x):
    """``_cdf_block`` through numba's loops (``_loops``): the same operations, bit-identical results."""
    main, far_tails, far_store = kernels
    far = scratch("special.far", x.shape, np.bool_)
    n_far = main(x, cdf, y, far, _CDF_POLY32, _CDF_SCALE32)
    if n_far:
        index, z, p, exp_neg_sq = far_tails(x, far, n_far, *_JIT_TAILS)
        np.exp(exp_neg_sq, out=exp_neg_sq)
        far_store(index, z, p, exp_neg_sq, x, cdf, y)


def _cdf64(x):
    return 0.5 + 0.5 * _erf64(x * _SQRT1_2)


def _cdf64_block(cdf, y, x):
    cdf[...] = _cdf64(x)
    np.multiply(x, cdf, out=y)


def _tanh_block(th, y, x):
    """tanh GELU: ``th = tanh(k * (x + c * x**3))``, ``y = 0.5 * x * (1 + th)``."""
    np.multiply(x, x, out=th)
    th *= _TANH_K * _TANH_C
    th += _TANH_K
    th *= x
    np.tanh(th, out=th)
    np.add(th, 1, out=y)
    y *= x
    y *= 0.5


def _exact_grad_block(gx, x, cdf, g):
    """``g * (Phi(x) + x * phi(x))``."""
    np.multiply(x, x, out=gx)
    gx *= -0.5
    np.exp(gx, out=gx)
    gx *= x
    gx *= _INV_SQRT_2PI
    gx += cdf
    gx *= g


def _compiled_exact_grad_block(kernels, gx, x, cdf, g):
    """``_exact_grad_block`` in three passes (numba's loops around NumPy's exp): bit-identical."""
    pre, post = kernels
    dtype = x.dtype.type
    pre(x, gx, dtype(-0.5))
    np.exp(gx, out=gx)
    post(gx, x, cdf, g, dtype(_INV_SQRT_2PI))


def _tanh_grad_block(gx, x, th, g):
    """``g * (0.5 * (1 + th) + 0.5 * x * (1 - th**2) * k * (1 + 3 * c * x**2))``, torch's formula."""
    sech2 = scratch("special.t", x.shape, x.dtype)
    np.multiply(th, th, out=sech2)
    np.subtract(1, sech2, out=sech2)
    np.multiply(x, x, out=gx)
    gx *= 3 * _TANH_K * _TANH_C
    gx += _TANH_K
    gx *= sech2
    gx *= x
    np.add(gx, th, out=gx)
    gx += 1
    gx *= 0.5
    gx *= g


def gelu(x, approximate):
    """``(y, saved)`` of GELU (``saved``: Phi(x), or the tanh for 'tanh'), or NotImplemented."""
    if x.dtype not in (_F32, _F64) or not x.size:
        return NotImplemented
    saved = np.empty(x.shape, x.dtype)
    y = np.empty(x.shape, x.dtype)
    flat = _flat(x)
    outs = (saved.reshape(-1), y.reshape(-1))
    if approximate == "tanh":
        _blocks(_tanh_block, outs, (flat,))
    elif x.dtype == _F64:
        _blocks(_cdf64_block, outs, (flat,))
    else:
        compiled = _jit.kernels("gelu32", "gelu32_far", "gelu32_far_store") if x.size >= JIT_MIN else None
        block = _cdf_block if compiled is None else functools.partial(_compiled_cdf_block, compiled)
        _blocks(block, outs, (flat,))
    return y, saved


def gelu_backward(x, saved, g, approximate):
    """The gradient of :func:`gelu` for upstream ``g``, or NotImplemented."""
    if g.dtype != x.dtype or g.shape != x.shape or saved.dtype != x.dtype:
        return NotImplemented
    if approximate == "tanh":
        kernel = _tanh_grad_block
    else:
        compiled = _jit.kernels("gelu_grad_pre", "gelu_grad_post") if x.size >= JIT_MIN else None
        kernel = _exact_grad_block if compiled is None else functools.partial(_compiled_exact_grad_block, compiled)
    gx = np.empty(x.shape, x.dtype)
    _blocks(kernel, (gx.reshape(-1),), (_flat(x), _flat(saved), _flat(g)))
    return gx
