"""cov, corrcoef, trapezoid/trapz/cumulative_trapezoid, nanmedian, histogram, unique_consecutive, isin and
renorm against torch (values, dtypes, gradients, errors)."""
from __future__ import annotations

import numpy as np
import pytest

import tensorplug as tp

from ._compare import same
from .test_aliases import _errors_alike

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 5))


def test_cov_and_corrcoef():
    same(lambda m, x: (m.cov(x), x.cov(correction=0), m.cov(x[0]), m.corrcoef(x), x[1].corrcoef()), A, rtol=1e-6)
    same(lambda m, x, w: (m.cov(x, fweights=m.tensor([1, 2, 1, 3, 1]), aweights=w), m.cov(x, aweights=w)),
         A, np.array([0.5, 1.0, 2.0, 0.3, 1.0]), rtol=1e-6)
    same(lambda m: m.cov(m.tensor([[1, 2, 4], [0, 3, 3]])), grad=False, rtol=1e-6)
    _errors_alike(lambda m: m.cov(m.ones(2, 2, 2)), "expected input to have two or fewer dimensions")


def test_trapezoid():
    same(lambda m, y, x: (m.trapezoid(y), m.trapezoid(y, dx=0.5), m.trapezoid(y, x), m.trapezoid(y, x[None], dim=1),
                          m.trapz(y, x), m.trapz(y, dx=2.0, dim=0), m.cumulative_trapezoid(y),
                          m.cumulative_trapezoid(y, x), m.cumulative_trapezoid(y, dx=0.1, dim=0)),
         A, np.array([0.0, 0.5, 1.5, 2.0, 4.0]), rtol=1e-6)


def test_nanmedian():
    v = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 0.5, np.nan, np.nan], [2.0, 2.0, 1.0, 7.0]])
    same(lambda m, x: (m.nanmedian(x), *m.nanmedian(x, 1), *x.nanmedian(0, keepdim=True), m.nanmedian(x[0, 0])), v)
    same(lambda m, x: (m.nanmedian(x), *m.nanmedian(x, 1)), A)
    same(lambda m: (m.nanmedian(m.tensor([3, 1, 2, 5])), *m.nanmedian(m.tensor([[3, 1], [2, 5]]), 0)), grad=False)


def test_histogram():
    x = np.array([1.0, 2.0, 1.0, 4.0, 2.5, 0.2, 3.99])
    same(lambda m, a: (*m.histogram(a, 3), *m.histogram(a, 4, range=(1.0, 3.0)),
                       *m.histogram(a, 3, weight=a * 2, density=True), *a.histogram(m.tensor([0.0, 1.0, 2.5, 4.0], dtype=a.dtype)),
                       *m.histogram(a[:0], 2), *m.histogram(a * 0 + 1, 2),
                       *m.histogram(a, density=True), *a.histogram()), x, grad=False, rtol=1e-6)  # 100 bins by default
    _errors_alike(lambda m: m.histogram(m.tensor([1, 2]), 2), "\"histogramdd\" not implemented for 'Long'")
    _errors_alike(lambda m: m.histogram(m.ones(2, dtype=m.float64), m.tensor([0.0, 1.0])), "should have the same dtype")


def test_unique_consecutive():
    same(lambda m: (m.unique_consecutive(m.tensor([1, 1, 2, 2, 3, 1, 1, 2])),
                    *m.unique_consecutive(m.tensor([[1, 1], [2, 2]]), return_inverse=True, return_counts=True),
                    *m.tensor([5.0, 5.0, 1.0]).unique_consecutive(return_counts=True),
                    *m.unique_consecutive(m.tensor([[1, 1, 2], [1, 1, 3]]), return_inverse=True, dim=1),
                    *m.unique_consecutive(m.tensor([[1, 2], [1, 2], [0, 2]]), return_counts=True, dim=0),
                    m.unique_consecutive(m.tensor([], dtype=m.int64))), grad=False)


def test_isin():
    same(lambda m: (m.isin(m.tensor([1, 2, 3, 4]), m.tensor([2, 4, 9])), m.isin(m.tensor([[1.0, 2.5]]), 2.5),
                    m.isin(3, m.tensor([1, 3])), m.isin(m.tensor([1, 2]), m.tensor([2.0, 7.0]), invert=True),
                    m.isin(m.tensor([1.0, float("nan")]), m.tensor([float("nan")])),
                    m.isin(m.tensor([1, 2]), m.tensor([], dtype=m.int64))), grad=False)


def test_renorm():
    same(lambda m, x: (m.renorm(x, 2, 0, 1.5), x.renorm(1, 1, 0.8), m.renorm(x, 3.0, -1, 100.0),
                       (x * 1).renorm_(2, 1, 0.5)), A, rtol=1e-6)
    _errors_alike(lambda m: m.renorm(m.ones(2, 2), 2, 0, -1.0), "expected maxnorm to be >= 0")
