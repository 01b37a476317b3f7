"""Special functions as array formulas through an array-API namespace ``xp`` (the Backend defaults).

NumPy has no lgamma, digamma, erfinv or Bessel ufuncs, and SciPy is no dependency, so each function
here is elementwise arithmetic that every backend runs: a Stirling series after an upward recurrence
(lgamma), torch's own Cephes recurrence and asymptotic series (digamma, zeta and so polygamma),
Chebyshev series (erfcx, i0e, i1e) and Halley steps on erf/erfc (erfinv). The Chebyshev coefficients
are interpolants of the exact functions, computed with mpmath at 40 digits (``tests/framework/
test_special_functions.py`` recomputes them); in float64 every function is within a few ulp of mpmath.
Inputs are float64 arrays (the ops compute narrower floats in float64 and round once); special values
(+-0, +-inf, nan, poles) give what torch gives.
"""
from __future__ import annotations

import math

_SQRT_PI_2 = math.sqrt(math.pi) / 2
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
# B_2k / (2k (2k - 1)): the Stirling series of lgamma, in 1/x**2 from the 1/x term
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400)


def _zeta_int(k, n=1000):
    """Riemann zeta(k) for an integer k >= 2: the sum to n and the Euler-Maclaurin tail (error far under 1e-17)."""
    return math.fsum(i ** -k for i in range(1, n)) + n ** (1 - k) / (k - 1) + 0.5 * n ** -k + k / 12 * n ** (-k - 1)


# lgamma(1 + e) = -gamma e + sum_k (-1)^k zeta(k) / k e^k, highest power first (|e| <= 1/4: 28 terms)
_LGAMMA_1P = tuple((-1) ** k * _zeta_int(k) / k for k in range(28, 1, -1)) + (-0.5772156649015329,)
# torch's (Cephes') digamma: psi(10) and the asymptotic series in 1/x**2, highest power first
_PSI_10 = 2.25175258906672110764
_PSI_SERIES = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
               -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
               8.33333333333333333333E-2)
# the Bernoulli numbers B_2k of the trigamma series 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)
# Cephes' zeta: (2k)! / B_2k, the Euler-Maclaurin tail's divisors
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)
_MACHEP = 1.11022302462515654042E-16
# Giles' single-precision erfinv in w = -log((1 - y)(1 + y)) - 2.5, for w < 5: the first guess
_GILES = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
          -0.00417768164, 0.246640727, 1.50140941)
# Chebyshev series: erfcx(x) * (3 + x) / 3 in t = 6 / (3 + x) - 1 for x >= 0; exp(-x) I0(x) and
# exp(-x) I1(x) / x in t = x / 4 - 1 on [0, 8]; sqrt(x) exp(-x) I0(x) and I1 in t = 16 / x - 1 beyond
_ERFCX = (
    0.4711460746602906, 0.37715894969156577, 0.11803603344749546, 0.028362346699695153, 0.004871757757605546,
    0.00045985238787654427, -2.143022238105315e-05, -1.301447369924135e-05, -8.809283582853514e-07,
    2.7464800479702846e-07, 4.415991899223785e-08, -6.398408385575483e-09, -1.6768357212484645e-09,
    1.9473354700890025e-10, 6.247441303469449e-11, -8.124557552246475e-12, -2.330314613226114e-12,
    4.191038539635747e-13, 8.193335263216654e-14, -2.3352472623646297e-14, -2.2442562817274545e-15,
    1.2811463158714795e-15, 1.059407101817768e-18, -6.439422467552231e-17, 7.193412655050566e-18,)
_I0E_SMALL = (
    0.33839763720473803, -0.3046826723431984, 0.17162090152220877, -0.09490109704804764, 0.04930528423967071,
    -0.02373741480589947, 0.010546460394594998, -0.004324309995050576, 0.0016394756169413357,
    -0.0005763755745385824, 0.00018850288509584165, -5.754195010082104e-05, 1.6448448070728896e-05,
    -4.4167383584587505e-06, 1.1173875391201037e-06, -2.670793853940612e-07, 6.046995022541919e-08,
    -1.300025009986248e-08, 2.6598237246823866e-09, -5.189795601635263e-10, 9.675809035373237e-11,
    -1.7268262914415555e-11, 2.95505266312964e-12, -4.856446783111915e-13, 7.676185498603463e-14,
    -1.1685332877849838e-14, 1.7153912841895778e-15, -2.4312797200684995e-16, 3.330783115560841e-17,
    -4.414341593589106e-18, 5.583932512740209e-19,)
_I1E_SMALL = (
    0.12629359322181682, -0.17641651835783406, 0.1026436586898471, -0.05294598120809499, 0.024726449030626516,
    -0.010564084894626197, 0.004156422944312888, -0.0015135724506312532, 0.0005122859561685758,
    -0.00016176081582589674, 4.781565107550054e-05, -1.3273163656039436e-05, 3.4702513081376785e-06,
    -8.568720264695455e-07, 2.0032947535521353e-07, -4.445059128796328e-08, 9.381537386495773e-09,
    -1.8872497517228294e-09, 3.625590281552117e-10, -6.663489723502027e-11, 1.1736186298890901e-11,
    -1.9839743977649436e-12, 3.223793365945575e-13, -5.042185504727903e-14, 7.60068429473453e-15,
    -1.105596947726588e-15, 1.5536319568739943e-16, -2.111421131979944e-17, 2.777906444086022e-18,
    -3.5408866755347217e-19, 4.317999476252119e-20,)
_I0E_LARGE = (
    0.4022452055070544, 0.0033691164782556943, 6.889758346916825e-05, 2.8913705208347567e-06,
    2.0489185894690638e-07, 2.2666689904981784e-08, 3.3962320257083695e-09, 4.940602388225096e-10,
    1.1889147107907448e-11, -3.149916527975893e-11, -1.3215811840597927e-11, -1.7941785307518237e-12,
    7.180124451256837e-13, 3.8527783458728195e-13, 1.54008654460291e-14, -4.150567745332314e-14,
    -9.554875559344272e-15, 3.811616222785648e-15, 1.7727539757019436e-15, -3.42299690984007e-16,
    -2.8395604894250455e-16, 3.3620081135757406e-17, 5.188939469084231e-17,)
_I1E_LARGE = (
    0.38928811750914005, -0.009761097491361469, -0.00011058893876262371, -3.882564808877691e-06,
    -2.512236237870209e-07, -2.6314688468895196e-08, -3.8353803859642205e-09, -5.589743462196721e-10,
    -1.897495812356658e-11, 3.2526035830286703e-11, 1.412580743675906e-11, 2.03562854337109e-12,
    -7.198551775667205e-13, -4.083551073572018e-13, -2.10154219886406e-14, 4.272438403870099e-14,
    1.0420307482253329e-14, -3.8143391297651235e-15, -1.880557469949189e-15, 3.3057880342014753e-16,
    2.9750509303979013e-16, -3.1163841333201717e-17, -5.4020349995735645e-17,)


def _horner(coefs, t):
    out = coefs[0]
    for c in coefs[1:]:
        out = out * t + c
    return out


def _chebyshev(coefs, t):
    """Clenshaw's sum of ``coefs[k] * T_k(t)``."""
    b1 = b2 = 0.0
    two_t = 2 * t
    for c in coefs[:0:-1]:
        b1, b2 = two_t * b1 - b2 + c, b1
    return t * b1 - b2 + coefs[0]


def _sinpi_abs(xp, x):
    """``|sin(pi x)|`` with the argument reduced first: exact zeros at the integers."""
    return xp.abs(xp.sin(math.pi * (x - xp.round(x))))


def _upward(xp, x, stop, step):
    """``(z, acc)``: ``z = x + n`` with the smallest n making ``z >= stop``, ``acc = sum step(x + i)``."""
    z = x
    acc = xp.zeros_like(x)
    for _ in range(int(stop)):
        low = z < stop
        acc = acc + xp.where(low, step(z), 0.0)
        z = xp.where(low, z + 1, z)
    return z, acc


def lgamma(xp, x):
    """``log|Gamma(x)|``: +inf at the poles (0, -0, the negative integers) and at +-inf."""
    neg = x < 0
    pos = xp.where(neg, 1 - x, x)
    pos = xp.where(xp.isinf(pos) | (pos == 0), 1.0, pos)
    z, log_prod = _upward(xp, pos, 10, xp.log)  # lgamma(x) = lgamma(x + n) - log(x (x + 1) ...)
    inv2 = 1 / (z * z)
    series = _horner(_STIRLING[::-1], inv2) / z
    out = (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + series - log_prod
    out = xp.where(neg, math.log(math.pi) - xp.log(_sinpi_abs(xp, x)) - out, out)  # reflection
    # near its zeros 1 and 2 the sums above cancel to an absolute error of ~1e-15: a power series instead
    near_two = xp.abs(x - 2) <= 0.25
    e = xp.where(near_two, x - 2, x - 1)
    series = e * _horner(_LGAMMA_1P, e) + xp.where(near_two, xp.log1p(e), 0.0)  # lgamma(2 + e) = lgamma(1 + e) + log1p(e)
    out = xp.where(xp.abs(e) <= 0.25, series, out)
    pole = (x == xp.floor(x)) & (x <= 0)
    return xp.where(pole | xp.isinf(x), math.inf, out)


def digamma(xp, x):
    """torch's digamma: reflection for x < 0, upward recurrence to 10, asymptotic series; -0 -> +inf,
    0 -> -inf, negative integers and -inf -> nan."""
    neg = x < 0
    pos = xp.where(neg, 1 - x, x)
    pos = xp.where(pos == 0, 1.0, pos)
    z, acc = _upward(xp, pos, 10, lambda v: -1 / v)
    inv2 = 1 / (z * z)
    series = xp.where(z < 1e17, inv2 * _horner(_PSI_SERIES, inv2), 0.0)
    out = xp.where(z == 10, acc + _PSI_10, acc + xp.log(z) - 0.5 / z - series)
    frac = x - xp.trunc(xp.where(xp.isinf(x), 0.0, x))
    out = xp.where(neg, out - math.pi / xp.tan(math.pi * frac), out)
    out = xp.where(neg & (x == xp.trunc(x)), math.nan, out)
    return xp.where(x == 0, xp.copysign(xp.full_like(x, math.inf), -x), out)


def trigamma(xp, x):
    """``polygamma(1, x)``: torch's reflection (``-pi^2 / sin^2(pi x)`` below 0.5, so the poles give
    huge finite values as torch's), then recurrence to 10 and the Bernoulli series to 1/x**17."""
    low = x < 0.5
    s = xp.sin(math.pi * x)
    reflected = -(math.pi * math.pi) / (s * s)
    z, acc = _upward(xp, xp.where(low, 1 - x, x), 10, lambda v: 1 / (v * v))
    inv2 = 1 / (z * z)
    series = (1 + 0.5 / z + inv2 * _horner(_BERNOULLI[::-1], inv2)) / z
    out = acc + series
    return xp.where(low, -(reflected + out), out)


def zeta(xp, s, q):
    """Hurwitz zeta ``sum_k (k + q)**-s``, torch's Cephes algorithm (direct sum, then Euler-Maclaurin):
    inf at s == 1 and at non-positive integer q, nan for s < 1 or a non-integer s with q < 0."""
    s, q = xp.broadcast_arrays(s, q)
    total = xp.pow(q, -s)
    a = q
    b = xp.zeros_like(q)
    done = xp.zeros(q.shape, dtype=xp.bool)
    steps = 9 + int(max(0.0, float(xp.max(xp.where(xp.isfinite(q), -q, 0.0)))) if q.size else 0.0)
    for i in range(1, min(steps, 100_000) + 1):
        live = ~done & ((i <= 9) | (a <= 9.0))
        a = xp.where(live, a + 1, a)
        b = xp.where(live, xp.pow(a, -s), b)
        total = xp.where(live, total + b, total)
        done = done | (live & (xp.abs(b) < _MACHEP * xp.abs(total)))
    early = done  # the direct sum converged: no Euler-Maclaurin tail
    w = a
    out = total + b * w / (s - 1) - 0.5 * b
    fac = xp.ones_like(q)
    k = 0.0
    for divisor in _ZETA_A:
        fac = fac * (s + k)
        b = b / w
        term = fac * b / divisor
        out = xp.where(done, out, out + term)
        done = done | (xp.abs(term / out) < _MACHEP)
        fac = fac * (s + k + 1)
        b = b / w
        k += 2
    out = xp.where(early, total, out)
    out = xp.where((q <= 0) & (s != xp.floor(s)), math.nan, out)
    out = xp.where((q <= 0) & (q == xp.floor(q)), math.inf, out)
    out = xp.where(s < 1, math.nan, out)
    return xp.where(s == 1, math.inf, out)


def polygamma(xp, n, x):
    """``psi^(n)(x)`` for n >= 1: trigamma for 1, else ``(-1)^(n+1) n! zeta(n + 1, x)`` as torch."""
    if n == 1:
        return trigamma(xp, x)
    sign = 1.0 if n % 2 else -1.0
    return sign * math.exp(math.lgamma(n + 1.0)) * zeta(xp, xp.full(x.shape, n + 1.0, dtype=x.dtype), x)


def _exp_square(xp, x):
    """``exp(x * x)`` without the rounding of ``x * x`` (relative 1e-16 * x**2 for large x): x is split
    into a part with 6 significant bits, whose square is exact, and the rest."""
    hi = xp.round(x * 64) / 64
    lo = x - hi
    return xp.exp(hi * hi) * xp.exp(lo * (2 * hi + lo))


def _erfcx_pos(xp, x):
    t = 6 / (3 + x)
    return _chebyshev(_ERFCX, t - 1) * (t / 2)


def erfcx(xp, x):
    """``exp(x**2) * erfc(x)``: +inf at -inf (overflow below about -26.6), 0 at +inf."""
    ax = xp.abs(x)
    pos = _erfcx_pos(xp, xp.where(xp.isnan(ax), 0.0, ax))
    out = xp.where(x < 0, 2 * _exp_square(xp, x) - pos, pos)
    out = xp.where(x == -math.inf, math.inf, out)
    return xp.where(xp.isnan(x), x, out)


def erfc(xp, x):
    """``1 - erf(x)``, accurate in the right tail (down to the smallest subnormal)."""
    ax = xp.abs(x)
    pos = _erfcx_pos(xp, xp.where(xp.isnan(ax), 0.0, ax)) / _exp_square(xp, xp.minimum(ax, 30.0))
    pos = xp.where(ax > 27.3, 0.0, pos)
    out = xp.where(x < 0, 2 - pos, pos)
    return xp.where(xp.isnan(x), x, out)


def _first_guess(xp, y, c):
    """Within about 1e-3 of ``erfinv(y)`` for ``0 <= y = 1 - c < 1``: Giles' polynomial where
    ``w = -log(c (2 - c)) < 5``, else ``erfc(x) ~ exp(-x^2) / (x sqrt(pi))`` solved for x."""
    w = -xp.log(c * (2 - c))
    near = _horner(_GILES, w - 2.5) * y
    big = xp.maximum(w, 5.0)
    far = xp.sqrt(big - 0.5 * xp.log(math.pi * big))
    return xp.where(w < 5, near, far)


def erfcinv(xp, c):
    """``x`` with ``erfc(x) = c`` for ``c`` in (0, 1] (0 -> inf), by three Halley steps from
    :func:`_first_guess`; the residual is ``c - erfc(x)`` scaled by ``exp(x^2)`` as
    ``exp(log(c) + x^2) - erfcx(x)``, which neither underflows nor overflows."""
    safe = xp.where((c > 0) & (c <= 1), c, 0.5)
    x = _first_guess(xp, 1 - safe, safe)
    log_c = xp.log(safe)
    for _ in range(3):
        u = (xp.exp(log_c + x * x) - _erfcx_pos(xp, x)) * _SQRT_PI_2  # (erf(x) - y) / erf'(x)
        x = x - u / (1 + x * u)
    x = xp.where(c == 0, math.inf, x)
    return xp.where((c < 0) | (c > 1) | xp.isnan(c), math.nan, x)


def erfinv(xp, erf, y):
    """The inverse of ``erf`` (the backend's): Halley on erf for ``|y| <= 0.5``, :func:`erfcinv` of
    ``1 - |y|`` (exact there) beyond; +-inf at +-1, nan outside [-1, 1]."""
    ay = xp.abs(y)
    small = xp.where(ay <= 0.5, y, 0.0)
    x = _horner(_GILES, -xp.log1p(-small * small) - 2.5) * small
    for _ in range(2):
        u = (erf(x) - small) * xp.exp(x * x) * _SQRT_PI_2
        x = x - u / (1 + x * u)
    tail = erfcinv(xp, 1 - xp.where(ay <= 0.5, 1.0, ay))
    out = xp.where(ay <= 0.5, x, xp.where(y < 0, -tail, tail))
    return xp.where(xp.isnan(y), y, out)


def ndtri(xp, erf, p):
    """The standard normal quantile ``sqrt(2) erfinv(2p - 1)``, through ``erfcinv(2p)`` in the lower
    quarter and ``erfcinv(2 - 2p)`` in the upper (both exact there)."""
    mid = xp.where((p >= 0.25) & (p <= 0.75), 2 * p - 1, 0.0)
    lower = -erfcinv(xp, xp.where(p < 0.25, 2 * p, 1.0))
    upper = erfcinv(xp, xp.where(p > 0.75, 2 - 2 * p, 1.0))
    out = xp.where(p < 0.25, lower, xp.where(p > 0.75, upper, erfinv(xp, erf, mid)))
    out = xp.where((p < 0) | (p > 1), math.nan, out)
    return math.sqrt(2) * xp.where(xp.isnan(p), p, out)


def _bessel_scaled(xp, x, small, large, odd):
    """``exp(-|x|) I_k(x)`` (k = 1 when ``odd``): Chebyshev series on [0, 8] and beyond."""
    ax = xp.abs(x)
    inner = _chebyshev(small, xp.minimum(ax, 8.0) / 4 - 1)
    if odd:
        inner = inner * ax
    outer = _chebyshev(large, 16 / xp.maximum(ax, 8.0) - 1) / xp.sqrt(xp.maximum(ax, 8.0))
    out = xp.where(ax <= 8, inner, outer)
    out = xp.where(ax == math.inf, 0.0, out)
    return xp.where(x < 0, -out, out) if odd else out


def i0e(xp, x):
    return xp.where(xp.isnan(x), x, _bessel_scaled(xp, x, _I0E_SMALL, _I0E_LARGE, False))


def i1e(xp, x):
    return xp.where(xp.isnan(x), x, _bessel_scaled(xp, x, _I1E_SMALL, _I1E_LARGE, True))


def i0(xp, x):
    """``I0(x) = exp(|x|) * i0e(x)``: as torch's, nan at +-inf (inf * 0)."""
    ax = xp.abs(x)
    return xp.where(ax == math.inf, math.nan, xp.exp(ax) * i0e(xp, x))


def i1(xp, x):
    ax = xp.abs(x)
    return xp.where(ax == math.inf, math.nan, xp.exp(ax) * i1e(xp, x))
