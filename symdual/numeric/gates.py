"""HardConcrete gates (Louizos et al. 2018) as an eta-trick dual, computed exactly.

Gate, with u ~ U(0, 1) and the logistic variable l = log u - log(1 - u)::

    s = clip(sbar, 0, 1),  sbar = (zeta - gamma)*sigmoid(Y) + gamma,  Y = (l + log a)/beta
    eta(a) = 1/(lam*(E[s**2]/E[s]**2 - 1)),   f(a) = P(s > 0) = sigmoid(log a - beta*log(-gamma/zeta))

(docs/catalog.md: the paper's weighting of P(s > 0), i.e. lam/2 on Louizos's
L0 term).  s = 0 for Y <= Y0 = log(-gamma/zeta), s = 1 for Y >= Y1 =
log((1 - gamma)/(zeta - 1)); on [Y0, Y1] the density of Y is
beta*sigmoid'(beta*Y - t), t = log a.  The moments are integrals over this
fixed interval plus the two point masses, by Gauss-Legendre on panels whose
half-width is at most 1/1.6 of the distance pi/max(1, beta) of the nearest
complex singularity of the integrands (Bernstein ellipse rho >= 3.49, error
O(rho**(-2n))): float64 with 24 nodes per panel (below 1e-26), mpmath with
enough nodes for the working precision plus 10 digits.  Never sampling.

Relative precision throughout: for t = log a below the switch (median of
sbar = 1/2) the moments of s are scaled by e**-t, above it those of
d = 1 - s by e**t (no underflow for any t), so Var(s) = E[s**2] - E[s]**2
(resp. E[d**2] - E[d]**2) cancels at most a factor 1/P(s = 0) (resp.
1/P(s = 1)) by Cauchy-Schwarz, below 6 for the defaults; and
sbar = zeta*sigmoid(Y)*(1 - e**(Y0 - Y)), 1 - sbar =
(1 - gamma)*sigmoid(-Y)*(1 - e**(Y - Y1)) are exact at the clip points.

eta(a) and f(a) increase (checked by the tests); as a -> inf, eta -> inf
and f -> 1, so Omega - Omega(0) <= 1/2.  For the defaults the penalty is
capped with a jump: beyond w_critical = 0.534989074777984 (w_critical**2 =
max_a (1 - f(a))*eta(a), attained at log a = 0.3784, eta = 2.35290) the
infimum is reached only as eta -> inf, so eta_hat jumps to inf and Omega'
from 0.2274 to 0 (see ``EtaTrickNumeric.critical_point``).
lam only rescales eta: eta_hat_lam(w) = eta_hat_1(sqrt(lam) w)/lam.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

import mpmath
import numpy as np
from mpmath.calculus.quadrature import GaussLegendre
from scipy.special import expit, log_expit

from ..constants import HARD_CONCRETE
from .eta_trick import DualCurve, EtaTrickNumeric, mp_sigmoid, to_mpf

Array = np.ndarray
LOG_A_RANGE = (-760.0, 30.0)
"""t = log a from below eta_hat(5e-324) to where f = 1 - 1e-13 (the limit takes over)."""
NODES_PER_PANEL = 24
TABLE_W_LO = 1e-8
PRECISION = 2e-14
CERTIFICATE = (
    "measured 8.8e-15 vs mpmath 40 digits (mpmath.quad moments over u; eta_hat, Omega - Omega(0), Omega') "
    "at 401 weights w(a) = eta*sqrt(df/deta), log a evenly spaced over w in [8.4e-7, w_critical), "
    "defaults, lam = 1; w >= w_critical exact (limit values)"
)


@dataclass(frozen=True)
class HardConcrete:
    """HardConcrete gate parameters and the exact moments of s; ``curve()`` is its eta-trick dual.

    Parameters are real numbers; the mpmath path reads floats by their decimal
    repr and Fractions exactly (beta = 2/3 by default).
    """

    beta: numbers.Real = Fraction(HARD_CONCRETE["beta"])
    gamma: numbers.Real = float(Fraction(HARD_CONCRETE["gamma"]))
    zeta: numbers.Real = float(Fraction(HARD_CONCRETE["zeta"]))
    lam: numbers.Real = 1.0

    def __post_init__(self) -> None:
        rules = {
            "beta": (lambda v: v > 0, "beta > 0 (temperature)"),
            "gamma": (lambda v: v < 0, "gamma < 0 (stretch below 0, so that P(s = 0) > 0)"),
            "zeta": (lambda v: v > 1, "zeta > 1 (stretch above 1, so that P(s = 1) > 0)"),
            "lam": (lambda v: v > 0, "lam > 0"),
        }
        for name, (ok, rule) in rules.items():
            value = getattr(self, name)
            real = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(float(value))
            if not (real and ok(value)):
                raise ValueError(f"HardConcrete needs {rule}; got {name} = {value!r}")

    # ---------------------------------------------------------- geometry
    @property
    def _beta(self) -> float:
        return float(self.beta)

    @property
    def _gamma(self) -> float:
        return float(self.gamma)

    @property
    def _zeta(self) -> float:
        return float(self.zeta)

    @property
    def _lam(self) -> float:
        return float(self.lam)

    @property
    def y_lo(self) -> float:
        """Y0 = log(-gamma/zeta): s = 0 below."""
        return float(np.log(-self._gamma / self._zeta))

    @property
    def y_hi(self) -> float:
        """Y1 = log((1 - gamma)/(zeta - 1)): s = 1 above."""
        return float(np.log((1 - self._gamma) / (self._zeta - 1)))

    @property
    def t_switch(self) -> float:
        """log a at which the median of sbar is 1/2: below it moments of s, above it of 1 - s."""
        p = (0.5 - self._gamma) / (self._zeta - self._gamma)
        return float(self._beta * np.log(p / (1 - p)))

    @cached_property
    def _nodes(self) -> tuple[Array, Array, Array, Array]:
        """Gauss-Legendre nodes Y and weights on [Y0, Y1], with sbar(Y) and 1 - sbar(Y)."""
        x, w = np.polynomial.legendre.leggauss(NODES_PER_PANEL)
        edges = np.linspace(self.y_lo, self.y_hi, self.panels + 1)
        mid, rad = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
        y = (mid[:, None] + rad[:, None] * x).ravel()
        weights = (rad[:, None] * w).ravel()
        s = -self._zeta * expit(y) * np.expm1(self.y_lo - y)
        d = -(1 - self._gamma) * expit(-y) * np.expm1(y - self.y_hi)
        return y, weights, s, d

    # ---------------------------------------------------- float64 moments
    def _scaled_moments(self, t: Array, upper: bool) -> tuple[Array, Array, Array, Array]:
        """Lower side: e**-t * (E[s], E[s**2]) and their t-derivatives; upper: e**t * (E[d], E[d**2]), d = 1 - s."""
        y, weights, s, d = self._nodes
        x = self._beta * y[None, :] - t[:, None]
        if upper:
            rho = self._beta * np.exp(self._beta * y) * expit(-x) ** 2
            d_rho = 2 * rho * expit(x)
            b = self._beta * self.y_lo
            mass, d_mass = np.exp(b) * expit(t - b), np.exp(b) * expit(t - b) * expit(b - t)
            g = d
        else:
            rho = self._beta * np.exp(-self._beta * y) * expit(x) ** 2
            d_rho = -2 * rho * expit(-x)
            b = self._beta * self.y_hi
            mass = np.exp(-b) * expit(b - t)
            d_mass = -mass * expit(t - b)
            g = s
        g1, g2 = weights * g, weights * g * g
        return mass + rho @ g1, mass + rho @ g2, d_mass + d_rho @ g1, d_mass + d_rho @ g2

    def log_eta(self, t: Array) -> tuple[Array, Array]:
        """log eta(a) and d log eta/d log a at t = log a (float64, vectorised)."""
        t = np.asarray(t, dtype=float)
        tau, slope = np.empty_like(t), np.empty_like(t)
        for upper in (False, True):
            sel = (t > self.t_switch) if upper else (t <= self.t_switch)
            ts = t[sel]
            m, e2, dm, de2 = self._scaled_moments(ts, upper)
            if upper:
                scale = np.exp(-ts)
                var, d_var = e2 - scale * m * m, de2 + scale * m * m - 2 * scale * m * dm
                r, dr = scale * m, scale * (dm - m)
                tau[sel] = ts - np.log(var) + 2 * np.log1p(-r)
                slope[sel] = 1 - d_var / var - 2 * dr / (1 - r)
            else:
                scale = np.exp(ts)
                var, d_var = e2 - scale * m * m, de2 - scale * m * m - 2 * scale * m * dm
                tau[sel] = ts + 2 * np.log(m) - np.log(var)
                slope[sel] = 1 + 2 * dm / m - d_var / var
        return tau - np.log(self._lam), slope

    def moments(self, log_a: Array) -> tuple[Array, Array]:
        """E[s], E[s**2] at log a (float64)."""
        t = np.atleast_1d(np.asarray(log_a, dtype=float))
        m1, m2 = np.empty_like(t), np.empty_like(t)
        low = t <= self.t_switch
        m, e2, _, _ = self._scaled_moments(t[low], upper=False)
        m1[low], m2[low] = np.exp(t[low]) * m, np.exp(t[low]) * e2
        md, ed2, _, _ = self._scaled_moments(t[~low], upper=True)
        scale = np.exp(-t[~low])
        m1[~low], m2[~low] = 1 - scale * md, 1 - 2 * scale * md + scale * ed2
        return m1.reshape(np.shape(log_a)), m2.reshape(np.shape(log_a))

    def f(self, log_a: Array) -> Array:
        """f(a) = P(s > 0) = sigmoid(log a - beta*log(-gamma/zeta))."""
        return expit(np.asarray(log_a, dtype=float) - self._beta * self.y_lo)

    def _stationarity(self, t: Array) -> Array:
        """L = log(eta**2 df/deta) = log eta + log(f'(t)/tau'(t))."""
        tau, slope = self.log_eta(t)
        z = np.asarray(t, dtype=float) - self._beta * self.y_lo
        return tau + log_expit(z) + log_expit(-z) - np.log(slope)

    # ------------------------------------------------------ mpmath moments
    @property
    def panels(self) -> int:
        """Gauss-Legendre panels on [Y0, Y1]: half-width <= (pi/max(1, beta))/1.6, so rho >= 3.49."""
        distance = np.pi / max(1.0, self._beta)
        return int(np.ceil(0.5 * (self.y_hi - self.y_lo) / (distance / 1.6)))

    def _mp_params(self) -> tuple[mpmath.mpf, ...]:
        """beta, gamma, zeta, Y0, Y1 at the working precision."""
        beta, gamma, zeta = (to_mpf(v) for v in (self.beta, self.gamma, self.zeta))
        return beta, gamma, zeta, mpmath.log(-gamma / zeta), mpmath.log((1 - gamma) / (zeta - 1))

    def _mp_scaled_moments(self, t: mpmath.mpf, upper: bool, slopes: bool) -> list[mpmath.mpf]:
        """mpmath version of ``_scaled_moments``, on the rule of :func:`_mp_rule`."""
        beta, _, _, y0, y1 = self._mp_params()
        sig = mp_sigmoid
        if upper:
            b = beta * y0
            mass = mpmath.exp(b) * sig(t - b)
            d_mass = mass * sig(b - t)
        else:
            b = beta * y1
            mass = mpmath.exp(-b) * sig(b - t)
            d_mass = -mass * sig(t - b)
        sums = [mpmath.mpf(0)] * 4
        for y, weight, e_plus, e_minus, s, d in _mp_rule(self.beta, self.gamma, self.zeta, self.panels, mpmath.mp.prec):
            if upper:
                q = sig(t - beta * y)
                rho, d_rho, g = weight * beta * e_plus * q * q, 2 * (1 - q), d
            else:
                q = sig(beta * y - t)
                rho, d_rho, g = weight * beta * e_minus * q * q, -2 * (1 - q), s
            sums[0] += rho * g
            sums[1] += rho * g * g
            if slopes:
                sums[2] += rho * d_rho * g
                sums[3] += rho * d_rho * g * g
        out = [mass + sums[0], mass + sums[1]]
        return out + [d_mass + sums[2], d_mass + sums[3]] if slopes else out

    def mp_log_eta(self, t: mpmath.mpf, slope: bool = False):
        """log eta at t = log a (and d log eta/dt when ``slope``), mpmath."""
        t = mpmath.mpf(t)
        upper = t > self.t_switch
        vals = self._mp_scaled_moments(t, upper, slope)
        m, e2 = vals[0], vals[1]
        scale = mpmath.exp(-t) if upper else mpmath.exp(t)
        var = e2 - scale * m * m
        if upper:
            tau = t - mpmath.log(var) + 2 * mpmath.log1p(-scale * m)
        else:
            tau = t + 2 * mpmath.log(m) - mpmath.log(var)
        tau -= mpmath.log(to_mpf(self.lam))
        if not slope:
            return tau
        dm, de2 = vals[2], vals[3]
        if upper:
            d_var = de2 + scale * m * m - 2 * scale * m * dm
            r, dr = scale * m, scale * (dm - m)
            return tau, 1 - d_var / var - 2 * dr / (1 - r)
        d_var = de2 - scale * m * m - 2 * scale * m * dm
        return tau, 1 + 2 * dm / m - d_var / var

    def mp_moments(self, log_a: object) -> tuple[mpmath.mpf, mpmath.mpf]:
        """E[s], E[s**2] at log a, mpmath."""
        t = mpmath.mpf(log_a)
        if t > self.t_switch:
            md, ed2 = self._mp_scaled_moments(t, True, False)
            scale = mpmath.exp(-t)
            return 1 - scale * md, 1 - 2 * scale * md + scale * ed2
        m, e2 = self._mp_scaled_moments(t, False, False)
        return mpmath.exp(t) * m, mpmath.exp(t) * e2

    def mp_f(self, log_a: object) -> mpmath.mpf:
        """f(a) = P(s > 0), mpmath."""
        beta, _, _, y0, _ = self._mp_params()
        return mp_sigmoid(mpmath.mpf(log_a) - beta * y0)

    def _mp_stationarity(self, t: mpmath.mpf) -> mpmath.mpf:
        beta, _, _, y0, _ = self._mp_params()
        tau, slope = self.mp_log_eta(t, slope=True)
        z = t - beta * y0
        return tau + mpmath.log(mp_sigmoid(z) * mp_sigmoid(-z) / slope)

    # -------------------------------------------------------------- gates
    def sample_gates(self, log_a: float, size: int, rng: np.random.Generator) -> Array:
        """Gates s drawn by the definition (u ~ U(0, 1)), for Monte Carlo checks."""
        u = rng.random(size)
        sbar = expit((np.log(u) - np.log1p(-u) + log_a) / self._beta) * (self._zeta - self._gamma) + self._gamma
        return np.clip(sbar, 0.0, 1.0)

    def curve(self) -> DualCurve:
        """The dual as a curve in t = log a: (log eta(a), f(a)); f(0+) = 0, f(inf) = 1."""
        return DualCurve(
            log_eta=lambda t: self.log_eta(t)[0],
            f_increment=self.f,
            stationarity=self._stationarity,
            mp_log_eta=self.mp_log_eta,
            mp_f_increment=self.mp_f,
            mp_stationarity=self._mp_stationarity,
            mp_f0=lambda: mpmath.mpf(0),
            f0=0.0,
            f_sup=1.0,
            t_range=LOG_A_RANGE,
            parameter="log(a)",
        )


@lru_cache(maxsize=16)
def _mp_rule(
    beta: numbers.Real, gamma: numbers.Real, zeta: numbers.Real, panels: int, prec: int
) -> list[tuple[mpmath.mpf, ...]]:
    """Gauss-Legendre rule on [Y0, Y1] at ``prec`` bits: (Y, weight, e**(beta Y), e**(-beta Y), sbar, 1 - sbar).

    3*2**(k-1) nodes per panel with 2*nodes*log10(3.49) >= digits + 10 (rho >= 3.49 by the panel width).
    """
    digits = prec * np.log10(2)
    degree = 1
    while 3 * 2 ** (degree - 1) * 2 * np.log10(3.49) < digits + 10:
        degree += 1
    with mpmath.workprec(prec):
        beta_, gamma_, zeta_ = (to_mpf(v) for v in (beta, gamma, zeta))
        y0, y1 = mpmath.log(-gamma_ / zeta_), mpmath.log((1 - gamma_) / (zeta_ - 1))
        edges = [y0 + (y1 - y0) * k / panels for k in range(panels + 1)]
        rule = []
        for left, right in zip(edges[:-1], edges[1:], strict=False):
            mid, half = (left + right) / 2, (right - left) / 2
            for x, weight in GaussLegendre(mpmath.mp).calc_nodes(degree, prec):
                y = mid + half * x
                sbar = -zeta_ * mp_sigmoid(y) * mpmath.expm1(y0 - y)
                dbar = -(1 - gamma_) * mp_sigmoid(-y) * mpmath.expm1(y - y1)
                rule.append((y, half * weight, mpmath.exp(beta_ * y), mpmath.exp(-beta_ * y), sbar, dbar))
        return rule


def hardconcrete(
    beta: numbers.Real = Fraction(HARD_CONCRETE["beta"]),
    gamma: numbers.Real = float(Fraction(HARD_CONCRETE["gamma"])),
    zeta: numbers.Real = float(Fraction(HARD_CONCRETE["zeta"])),
    lam: numbers.Real = 1.0,
    *,
    tabulate: bool = True,
) -> EtaTrickNumeric:
    """Eta-trick numerics of HardConcrete gates.

    ``.w_critical`` is the jump point (mpmath, 40 digits); from there on the
    limit values are returned: eta_hat = inf, Omega - Omega(0) = 1/2,
    Omega' = 0.  Whether there is a jump depends on (beta, gamma, zeta): there
    is one for the defaults, none e.g. for beta = 1/2, gamma = -0.2,
    zeta = 1.2, where eta_hat grows continuously to inf as
    w**2 -> lim_a (1 - f(a))*eta(a) (w_critical = inf).  With ``tabulate``
    (default) and a jump, w in [1e-8, w_critical) is served from a Chebyshev
    table in log w built on first use (its measured error is reported by
    ``describe()``); elsewhere the stationarity equation is solved.
    """
    gate = HardConcrete(beta, gamma, zeta, lam)
    return EtaTrickNumeric(
        gate.curve(),
        precision=PRECISION,
        certificate=CERTIFICATE,
        name=f"HardConcrete beta={beta} gamma={gamma} zeta={zeta} lam={lam}",
        table_range=(TABLE_W_LO, None) if tabulate else None,
        cap_at_critical=True,
    )
