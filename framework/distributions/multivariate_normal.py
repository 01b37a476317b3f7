"""``MultivariateNormal``: a Gaussian over vectors, given by exactly one of its covariance matrix, its
precision matrix or the lower Cholesky factor of its covariance (torch's API; everything is computed
from that factor ``L``, with ``Sigma = L L^T``, so log-probabilities, entropies and reparameterized
samples are differentiable in the parameters)."""
from __future__ import annotations

import math

from .. import creation, linalg
from ..ops import broadcast_shapes
from ..tensor import Tensor
from . import Distribution

__all__ = ["MultivariateNormal"]


def _matrix(name, value):
    if not isinstance(value, Tensor) or value.dim() < 2:
        raise ValueError(f"{name} must be at least two-dimensional, with optional leading batch dimensions")
    return value


class MultivariateNormal(Distribution):
    """Gaussian with mean ``loc`` (..., k) and one of ``covariance_matrix``, ``precision_matrix`` or
    ``scale_tril`` (..., k, k); batch dimensions broadcast.

    Example:
        >>> d = MultivariateNormal(tensorplug.zeros(2), covariance_matrix=tensorplug.eye(2))
        >>> d.log_prob(tensorplug.zeros(2))
        tensor(-1.8379)
    """

    has_rsample = True
    _params = ("loc", "covariance_matrix", "precision_matrix", "scale_tril")

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        if (covariance_matrix is not None) + (precision_matrix is not None) + (scale_tril is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        if not isinstance(loc, Tensor) or loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        # the matrix given, broadcast to the batch; the others are computed on first use (properties below)
        self._scale_tril = self._covariance_matrix = self._precision_matrix = None
        named = (("scale_tril matrix", scale_tril), ("covariance_matrix", covariance_matrix),
                 ("precision_matrix", precision_matrix))
        given = _matrix(*next((n, m) for n, m in named if m is not None))
        batch = tuple(broadcast_shapes(given.shape[:-2], loc.shape[:-1]))
        k = loc.shape[-1]
        super().__init__(batch, (k,), validate_args=validate_args)
        if scale_tril is not None:
            self._scale_tril = scale_tril.expand(*batch, k, k)
            self._check("scale_tril", scale_tril, _is_lower_cholesky(scale_tril), "LowerCholesky()")
            self._tril = scale_tril
        elif covariance_matrix is not None:
            self._covariance_matrix = covariance_matrix.expand(*batch, k, k)
            self._check("covariance_matrix", covariance_matrix, _is_positive_definite(covariance_matrix),
                        "PositiveDefinite()")
            self._tril = linalg.cholesky(covariance_matrix)
        else:
            self._precision_matrix = precision_matrix.expand(*batch, k, k)
            self._check("precision_matrix", precision_matrix, _is_positive_definite(precision_matrix),
                        "PositiveDefinite()")
            self._tril = linalg.cholesky(linalg.inv(precision_matrix))
        self.loc = loc.expand(*batch, k)

    @property
    def scale_tril(self):
        if self._scale_tril is None:
            self._scale_tril = self._tril.expand(*self.batch_shape, *self._tril.shape[-2:])
        return self._scale_tril

    @property
    def covariance_matrix(self):
        if self._covariance_matrix is None:
            self._covariance_matrix = self.scale_tril @ self.scale_tril.mT
        return self._covariance_matrix

    @property
    def precision_matrix(self):
        if self._precision_matrix is None:
            self._precision_matrix = linalg.inv(self.covariance_matrix)
        return self._precision_matrix

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self._tril.pow(2).sum(-1).expand(*self.batch_shape, *self.event_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = creation.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (self._tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        if not isinstance(value, Tensor):
            value = creation.tensor(value, dtype=self.loc.dtype)
        diff = value - self.loc
        L = self._tril.expand(*diff.shape[:-1], *self._tril.shape[-2:])
        solved = linalg.solve_triangular(L, diff.unsqueeze(-1), upper=False).squeeze(-1)
        mahalanobis = solved.pow(2).sum(-1)
        k = self.event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + mahalanobis) - self._half_log_det().expand(mahalanobis.shape)

    def _half_log_det(self):
        return self._tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def entropy(self):
        k = self.event_shape[0]
        return (0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()).expand(self.batch_shape)


def _is_lower_cholesky(m):
    return (m.tril() == m).all(-1).all(-1) & (m.diagonal(dim1=-2, dim2=-1) > 0).all(-1)


def _is_positive_definite(m):
    symmetric = (m - m.mT).abs().le(1e-6 * m.abs().amax((-2, -1), keepdim=True).clamp(min=1)).all(-1).all(-1)
    return symmetric & (linalg.cholesky_ex(m).info == 0)
