"""tensorplug.special: torch.special's functions (``import tensorplug as torch; torch.special.erfinv``).

The special functions themselves live in ``ops/special_math.py``; the rest of the namespace is the
library's existing ops under torch.special's names (expit is sigmoid, gammaln is lgamma, psi is
digamma, multigammaln is mvlgamma).
"""
from __future__ import annotations

from .ops.elementwise import erf, expm1, log1p, round, sigmoid as expit  # noqa: A004 - torch's names
from .ops.misc import sinc
from .ops.reduction import logsumexp
from .ops.special_math import (digamma, erfc, erfinv, i0, lgamma as gammaln, mvlgamma as multigammaln,
                               polygamma, special_entr as entr, special_erfcx as erfcx, special_i0e as i0e,
                               special_i1 as i1, special_i1e as i1e, special_log_ndtr as log_ndtr,
                               special_ndtr as ndtr, special_ndtri as ndtri, special_xlog1py as xlog1py,
                               special_zeta as zeta, xlogy, logit)
from .ops.trig import exp2
from ._out import with_out

# every torch.special function but softmax and log_softmax takes out=
(digamma, entr, erf, erfc, erfcx, erfinv, exp2, expit, expm1, gammaln, i0, i0e, i1, i1e, log1p, log_ndtr, logit,
 logsumexp, multigammaln, ndtr, ndtri, polygamma, round, sinc, xlog1py, xlogy, zeta) = map(with_out, (
    digamma, entr, erf, erfc, erfcx, erfinv, exp2, expit, expm1, gammaln, i0, i0e, i1, i1e, log1p, log_ndtr, logit,
    logsumexp, multigammaln, ndtr, ndtri, polygamma, round, sinc, xlog1py, xlogy, zeta))
psi = digamma

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i0e",
           "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"]


def softmax(input, dim, *, dtype=None):
    """``torch.special.softmax``: softmax over ``dim`` (``dim`` is required here)."""
    from .ops.softmax import softmax as _softmax
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """``torch.special.log_softmax``: log-softmax over ``dim``."""
    from .ops.softmax import log_softmax as _log_softmax
    return _log_softmax(input, dim, dtype=dtype)
