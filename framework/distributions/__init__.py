"""``tensorplug.distributions``: the distributions training scripts use most (torch's API).

``Normal``, ``Uniform``, ``Bernoulli``, ``Categorical`` and ``MultivariateNormal`` with ``sample``
(``rsample``: reparameterized, gradients flow to the parameters for Normal,
Uniform and MultivariateNormal), ``log_prob``, ``entropy``, ``mean``, ``variance``, ``stddev``;
``kl_divergence`` for pairs of the same family (not yet for MultivariateNormal). Everything is written with
tensorplug ops, so log-probabilities and entropies are differentiable (the
policy-gradient pattern ``-(dist.log_prob(action) * advantage).mean()``).
Arguments are validated as torch does by default; samples come from
tensorplug's generator (``tensorplug.manual_seed``), so they differ from
torch's for the same seed.
"""
from __future__ import annotations

import math

from .. import creation
from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..ops import broadcast_shapes
from ..tensor import Tensor

__all__ = ["Distribution", "Normal", "Uniform", "Bernoulli", "Categorical", "MultivariateNormal", "kl_divergence"]


def _as_tensor(value, like=None):
    if isinstance(value, Tensor):
        return value
    if isinstance(like, Tensor):
        return creation.tensor(float(value), dtype=like.dtype if like.is_floating_point() else None,
                               device=like.device)
    return creation.tensor(float(value))


def _size(sample_shape):
    return tuple(sample_shape) if isinstance(sample_shape, (tuple, list)) else tuple(sample_shape)


def _show(t):
    return f"{t.item()}" if t.numel() == 1 else f"{t.shape}"


class Distribution:
    """The base class: ``batch_shape``, ``event_shape`` and the sampling / density interface."""

    has_rsample = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        from ..tensor import Size
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        self._validate = True if validate_args is None else bool(validate_args)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return _size(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape)

    def sample(self, sample_shape=()):
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} does not implement rsample (it has no "
                                  f"reparameterization); use sample()")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _check(self, name, value, ok, constraint):
        if self._validate and not bool(ok.all()):
            raise ValueError(f"Expected parameter {name} (Tensor of shape {tuple(value.shape)}) of distribution "
                             f"{self!r} to satisfy the constraint {constraint}, but found invalid values:\n{value}")

    def _check_value(self, value, ok, support):
        """torch's ``_validate_sample``: a value outside the support is an error (validate_args=False: none)."""
        if self._validate and not bool(ok.all()):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within the "
                             f"support ({support}) of the distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        # as torch's: the parameters given or computed so far (probs/logits are computed on first use)
        shown = [k for k in self._params if self.__dict__.get(k, self.__dict__.get("_" + k)) is not None]
        params = ", ".join(f"{k}: {_show(getattr(self, k))}" for k in shown)
        return f"{type(self).__name__}({params})"


class Normal(Distribution):
    """Gaussian with mean ``loc`` and standard deviation ``scale``."""

    has_rsample = True
    _params = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _as_tensor(loc, scale), _as_tensor(scale, loc)
        super().__init__(broadcast_shapes(self.loc.shape, self.scale.shape), validate_args=validate_args)
        self._check("scale", self.scale, self.scale > 0, "GreaterThan(lower_bound=0.0)")

    @property
    def mean(self):
        return self.loc.expand(self.batch_shape)

    @property
    def variance(self):
        return self.scale.pow(2).expand(self.batch_shape)

    def rsample(self, sample_shape=()):
        eps = creation.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        value = _as_tensor(value, self.loc)
        self._check_value(value, value == value, "Real()")
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - math.log(math.sqrt(2 * math.pi))

    def entropy(self):
        return (0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()).expand(self.batch_shape)

    def cdf(self, value):
        from ..ops import erf
        value = _as_tensor(value, self.loc)
        self._check_value(value, value == value, "Real()")
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        from ..special import erfinv
        return self.loc + self.scale * erfinv(2 * _as_tensor(value, self.loc) - 1) * math.sqrt(2)


class Uniform(Distribution):
    """Uniform on ``[low, high)``."""

    has_rsample = True
    _params = ("low", "high")

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = _as_tensor(low, high), _as_tensor(high, low)
        super().__init__(broadcast_shapes(self.low.shape, self.high.shape), validate_args=validate_args)
        self._check("low", self.low, self.low < self.high, "LessThan(upper_bound=high)")

    @property
    def mean(self):
        return ((self.high + self.low) / 2).expand(self.batch_shape)

    @property
    def variance(self):
        return ((self.high - self.low) ** 2 / 12).expand(self.batch_shape)

    def rsample(self, sample_shape=()):
        u = creation.rand(self._extended_shape(sample_shape), dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        value = _as_tensor(value, self.low)
        self._check_interval(value)
        inside = ((value >= self.low) & (value < self.high)).to(self.low.dtype)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        value = _as_tensor(value, self.low)
        self._check_interval(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return _as_tensor(value, self.low) * (self.high - self.low) + self.low

    def _check_interval(self, value):
        self._check_value(value, (value >= self.low) & (value <= self.high),
                          f"Interval(lower_bound={_show(self.low)}, upper_bound={_show(self.high)})")

    def entropy(self):
        return (self.high - self.low).log().expand(self.batch_shape)


class _Discrete(Distribution):
    """Shared ``probs``/``logits`` handling of Bernoulli and Categorical."""

    def _init_params(self, probs, logits, validate_args):
        self._validate = True if validate_args is None else bool(validate_args)  # the checks below use it
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self._probs = _as_tensor(probs)
            self._logits = None
        else:
            self._logits = _as_tensor(logits)
            self._probs = None


class Bernoulli(_Discrete):
    """1 with probability ``probs`` (or ``sigmoid(logits)``), else 0."""

    _params = ("probs", "logits")

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._init_params(probs, logits, validate_args)
        param = self._probs if self._probs is not None else self._logits
        super().__init__(param.shape, validate_args=validate_args)
        if self._probs is not None:
            self._check("probs", self._probs, (self._probs >= 0) & (self._probs <= 1), "Interval(lower_bound=0.0, "
                        "upper_bound=1.0)")

    @property
    def probs(self):
        if self._probs is None:
            self._probs = self._logits.sigmoid()
        return self._probs

    @property
    def logits(self):
        if self._logits is None:
            eps = 1.1920928955078125e-07 if self._probs.dtype == _dt.float32 else 2.220446049250313e-16
            p = self._probs.clamp(eps, 1 - eps)
            self._logits = p.log() - (-p).log1p()
        return self._logits

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with no_grad():
            p = self.probs.expand(self._extended_shape(sample_shape))
            from ..ops import bernoulli
            return bernoulli(p)

    def log_prob(self, value):
        from ..nn.functional import binary_cross_entropy_with_logits
        logits = self.logits
        value = _as_tensor(value, logits)
        self._check_value(value, (value == 0) | (value == 1), "Boolean()")
        shape = broadcast_shapes(logits.shape, value.shape)
        return -binary_cross_entropy_with_logits(logits.expand(shape), value.expand(shape).to(logits.dtype),
                                                 reduction="none")

    def entropy(self):
        from ..nn.functional import binary_cross_entropy_with_logits
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


class Categorical(_Discrete):
    """One of ``K`` classes with probabilities ``probs`` (normalised) or ``softmax(logits)``, over the last dim."""

    _params = ("probs", "logits")

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._init_params(probs, logits, validate_args)
        if self._probs is not None:
            if self._probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self._check("probs", self._probs, self._probs >= 0, "Simplex()")
            self._probs = self._probs / self._probs.sum(-1, keepdim=True)
        else:
            if self._logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self._logits = self._logits - self._logits.logsumexp(-1, keepdim=True)
        param = self._probs if self._probs is not None else self._logits
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    @property
    def probs(self):
        if self._probs is None:
            self._probs = self._logits.softmax(-1)
        return self._probs

    @property
    def logits(self):
        if self._logits is None:
            # torch's probs_to_logits: probabilities clamped to [eps, 1 - eps] (a zero probability's log-prob is
            # log(eps), -15.9 in float32, not -inf or the log of the least normal number)
            eps = _dt.finfo(self._probs.dtype).eps
            self._logits = self._probs.clamp(eps, 1 - eps).log()
        return self._logits

    @property
    def param_shape(self):
        return self.probs.shape

    @property
    def mean(self):
        return creation.full(self.batch_shape, float("nan"), dtype=self.probs.dtype)

    @property
    def variance(self):
        return creation.full(self.batch_shape, float("nan"), dtype=self.probs.dtype)

    def sample(self, sample_shape=()):
        from ..ops import multinomial
        with no_grad():
            probs = self.probs.reshape(-1, self._num_events)
            n = 1
            for s in _size(sample_shape):
                n *= s
            draws = multinomial(probs, n, replacement=True)  # (batch, n)
            return draws.t().reshape(_size(sample_shape) + tuple(self.batch_shape))

    def log_prob(self, value):
        from ..ops import gather
        value = _as_tensor(value)
        self._check_value(value, (value >= 0) & (value < self._num_events) & (value == value.floor()),
                          f"IntegerInterval(lower_bound=0, upper_bound={self._num_events - 1})")
        value = value.long()
        shape = broadcast_shapes(value.shape, self.batch_shape)
        logits = self.logits.expand(shape + (self._num_events,))
        return gather(logits, -1, value.expand(shape).unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        logits = self.logits
        tiny = -3.4028234663852886e38 if logits.dtype == _dt.float32 else -1.7976931348623157e308
        return -(logits.clamp(min=tiny) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = creation.arange(self._num_events, device=self.probs.device).reshape(
            (-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values


def kl_divergence(p, q):
    """``KL(p || q)`` for two distributions of the same family (Normal, Uniform, Bernoulli, Categorical)."""
    if type(p) is not type(q):
        raise NotImplementedError(f"No KL(p || q) is implemented for p of type {type(p).__name__} and q of type "
                                  f"{type(q).__name__}")
    if isinstance(p, Normal):
        var_ratio = (p.scale / q.scale) ** 2
        t1 = ((p.loc - q.loc) / q.scale) ** 2
        return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())
    if isinstance(p, Categorical):
        t = p.probs * (p.logits - q.logits)
        t = t.masked_fill(q.probs == 0, float("inf")).masked_fill(p.probs == 0, 0.0)
        return t.sum(-1)
    if isinstance(p, Bernoulli):
        from ..nn.functional import softplus
        # as torch: a term is inf where q gives its outcome no chance and 0 where p does (the clamped logits
        # alone give a finite number there)
        t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
        t1 = t1.masked_fill(q.probs == 0, float("inf")).masked_fill(p.probs == 0, 0.0)
        t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
        t2 = t2.masked_fill(q.probs == 1, float("inf")).masked_fill(p.probs == 1, 0.0)
        return t1 + t2
    if isinstance(p, Uniform):
        inside = (q.low <= p.low) & (p.high <= q.high)
        result = ((q.high - q.low) / (p.high - p.low)).log()
        return result.masked_fill(~inside, float("inf"))
    raise NotImplementedError(f"No KL(p || q) is implemented for {type(p).__name__}")


from .multivariate_normal import MultivariateNormal  # noqa: E402  (it subclasses Distribution above)
