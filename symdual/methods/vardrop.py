"""Variational dropout (Kingma et al. 2015; Molchanov et al. 2017) as an eta-trick dual.

Gaussian noise of variance alpha = 1/eta on each weight, log-uniform prior;
the dual is f(eta) = 2 KL(alpha = 1/eta)/lam (docs/catalog.md; note the
mapping alpha = 1/eta, not lam/eta: lam*Omega = 1/2 inf [lam w**2/eta + 2 KL]).

Exact KL.  KL(N(theta, alpha theta**2) || p(w) ~ 1/|w|) = -1/2 log(alpha)
+ E log|1 + sqrt(alpha) z| + C, z ~ N(0, 1), so up to a constant

    lam f(eta) = log(eta) + 2 E log|1 + z/sqrt(eta)| = 2 E log|sqrt(eta) + z|,
    lam f'(eta) = D(sqrt(eta/2))/sqrt(eta/2)               (D: Dawson's function)
    lam (f(eta) - f(0+)) = eta 2F2(1, 1; 3/2, 2; -eta/2),  lam f(0+) = 2 E log|z| = -(gamma + log 2).

The second line is the Hilbert transform of the Gaussian
(d/dx E log|x + z| = PV E 1/(x + z) = sqrt(2) D(x/sqrt(2))); the third
integrates it term by term: d/deta [eta 2F2(1,1;3/2,2;-eta/2)] =
1F1(1; 3/2; -eta/2) = D(y)/y at y = sqrt(eta/2).  The catalog's f keeps
f(0+) = -(gamma + log 2)/lam, as the catalog writes f, so Omega(0) = f(0+)/2.

Approximate KL (Molchanov's fit, k1 = 0.63576, k2 = 1.87320, k3 = 1.48695):
lam f(eta) = 2 k1 sigmoid(k3 log(eta) - k2) + log(1 + eta).

Neither Omega has a closed form: the numeric engine (symdual.numeric.vardrop)
solves w**2 = eta**2 f'(eta); the series at 0+ and infinity come from
:mod:`symdual.asymptotics`.
"""
from __future__ import annotations

import mpmath
import sympy as sp

from .. import asymptotics as S
from ..constants import MOLCHANOV_K
from ..record import Provenance, Supplement
from ..rules import as_exact, eta

K1, K2, K3 = (sp.Rational(k) for k in MOLCHANOV_K)
"""Molchanov et al. (2017), eq. (14), exact decimals."""

HALF, THREE_HALVES = sp.Rational(1, 2), sp.Rational(3, 2)


# ------------------------------------------------------------------ exact KL
def f_exact(lam: sp.Expr = 1) -> sp.Expr:
    """f(eta) = (f(0+) lam + eta 2F2(1, 1; 3/2, 2; -eta/2))/lam, lam f(0+) = -(gamma + log 2)."""
    return (f_at_zero() + eta * sp.hyper([1, 1], [THREE_HALVES, 2], -eta / 2)) / as_exact(lam)


def dawson(y: sp.Expr) -> sp.Expr:
    """Dawson's function D(y) = exp(-y**2) int_0^y exp(t**2) dt = sqrt(pi)/2 exp(-y**2) erfi(y)."""
    return sp.sqrt(sp.pi) / 2 * sp.exp(-y**2) * sp.erfi(y)


def f_prime_dawson(lam: sp.Expr = 1) -> sp.Expr:
    """f'(eta) = D(sqrt(eta/2))/sqrt(eta/2)/lam."""
    y = sp.sqrt(eta / 2)
    return dawson(y) / y / as_exact(lam)


def f_at_zero() -> sp.Expr:
    """lam f(0+) = 2 E log|z| = d/ds E (z**2)**s at s = 0 = log 2 + digamma(1/2) (exact)."""
    s = sp.Symbol("s")
    mellin = 2**s * sp.gamma(s + HALF) / sp.gamma(HALF)  # E (z**2)**s, z ~ N(0, 1)
    return sp.expand(sp.expand_func(sp.diff(mellin, s).subs(s, 0)))


def derivative_proof() -> str:
    """Prove d/deta [eta 2F2(1,1;3/2,2;-eta/2)] = D(sqrt(eta/2))/sqrt(eta/2) symbolically.

    (1) termwise: eta 2F2 = sum_n t_n eta**(n+1), t_n = (1)_n (1)_n/((3/2)_n (2)_n n!) (-1/2)**n;
        (n+1) t_n equals the n-th coefficient (1)_n/((3/2)_n n!) (-1/2)**n of 1F1(1; 3/2; -eta/2);
    (2) hyperexpand: 1F1(1; 3/2; -y**2) = D(y)/y.
    Raises AssertionError if SymPy does not confirm a step.
    """
    n = sp.Symbol("n", integer=True, nonnegative=True)
    t_n = sp.rf(1, n) ** 2 / (sp.rf(THREE_HALVES, n) * sp.rf(2, n) * sp.factorial(n)) * (-HALF) ** n
    b_n = sp.rf(1, n) / (sp.rf(THREE_HALVES, n) * sp.factorial(n)) * (-HALF) ** n
    assert sp.gammasimp(sp.simplify((n + 1) * t_n / b_n)) == 1, "termwise derivative"
    y = sp.Symbol("y", positive=True)
    expanded = sp.hyperexpand(sp.hyper([1], [THREE_HALVES], -y**2))
    assert sp.simplify((expanded - dawson(y) / y).rewrite(sp.erf)) == 0, "1F1(1; 3/2; -y**2) = D(y)/y"
    return ("d/deta[eta 2F2(1,1;3/2,2;-eta/2)] = 1F1(1;3/2;-eta/2) (termwise: (n+1)(1)_n/(2)_n = 1) "
            "= D(y)/y at y = sqrt(eta/2) (hyperexpand) (SymPy)")


def kl_dual_mp(eta_value: object, dps: int = 40) -> mpmath.mpf:
    """lam f(eta) = log(eta) + 2 E log|1 + z/sqrt(eta)| by tanh-sinh quadrature over z, split at z = -sqrt(eta)."""
    with mpmath.workdps(dps + 5):
        x = mpmath.sqrt(mpmath.mpf(eta_value))
        e = mpmath.quad(lambda z: mpmath.log(abs(1 + z / x)) * mpmath.npdf(z), [-mpmath.inf, -x, 0, mpmath.inf])
        out = mpmath.log(x * x) + 2 * e
    return +out


def kl_dual_prime_mp(eta_value: object, dps: int = 40) -> mpmath.mpf:
    """lam f'(eta) = E[z log|sqrt(eta) + z|]/sqrt(eta) (Stein's lemma: d/dx E log|x + z| = E[z log|x + z|])."""
    with mpmath.workdps(dps + 5):
        x = mpmath.sqrt(mpmath.mpf(eta_value))
        e = mpmath.quad(lambda z: z * mpmath.log(abs(x + z)) * mpmath.npdf(z), [-mpmath.inf, -x, 0, mpmath.inf])
        out = e / x
    return +out


def expectation_check(points: tuple = ("0.01", "0.3", "2.5", "30", "200"), dps: int = 35) -> tuple[float, float]:
    """Max errors of f - f(0+) = eta 2F2 and f' = D(y)/y against the KL expectation (mpmath, ``dps`` digits)."""
    f0 = sp.N(f_at_zero(), dps + 5)
    worst_f = worst_fp = mpmath.mpf(0)
    with mpmath.workdps(dps):
        for x in map(mpmath.mpf, points):
            closed = x * mpmath.hyp2f2(1, 1, 1.5, 2, -x / 2)
            worst_f = max(worst_f, abs(kl_dual_mp(x, dps) - mpmath.mpf(f0) - closed))
            y = mpmath.sqrt(x / 2)
            dawson_y = mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(-y * y) * mpmath.erfi(y)
            worst_fp = max(worst_fp, abs(kl_dual_prime_mp(x, dps) - dawson_y / y))
    return float(worst_f), float(worst_fp)


def expansion_at_infinity(lam: sp.Expr = 1, n: int = 3) -> tuple[sp.Expr, sp.Expr, tuple]:
    """(A, B, ((d, j), ...)): f = A log(eta) + B + sum d eta**(-j) at eta -> oo, from the KL expectation.

    lam f = log(eta) + 2 E log|1 + z/x|, x = sqrt(eta), and 2 E log|1 + z/x| ~
    2 sum_m (-1)**(m+1) E z**m/(m x**m) (Gaussian moments; the part of the
    expectation near z = -x is exponentially small): A = 1/lam, B = 0.
    """
    z, lam = sp.Symbol("z", real=True), as_exact(lam)
    terms = []
    for j in range(1, n + 1):  # eta**(-j) = x**(-2j): only even moments survive
        m = 2 * j
        moment = sp.integrate(z**m * sp.exp(-z**2 / 2), (z, -sp.oo, sp.oo)) / sp.sqrt(2 * sp.pi)
        terms.append((2 * (-1) ** (m + 1) * moment / m / lam, sp.Integer(j)))
    return 1 / lam, sp.Integer(0), tuple(terms)


# --------------------------------------------------------------- approx KL
def f_approx(lam: sp.Expr = 1) -> sp.Expr:
    """(2/lam) (k1 sigmoid(k3 log eta - k2) + log(1 + eta)/2), sigmoid written as eta**k3/(eta**k3 + e**k2)."""
    return 2 / as_exact(lam) * (K1 * eta**K3 / (eta**K3 + sp.exp(K2)) + sp.log(1 + eta) / 2)


# ------------------------------------------------------- what the engine needs
def exact_engine(values: dict):
    """The numeric eta-trick engine of the exact KL at ``values['lam']``."""
    from ..numeric import vardrop_exact

    return vardrop_exact(values["lam"])


def approx_engine(values: dict):
    from ..numeric import vardrop_approx

    return vardrop_approx(values["lam"])


def _series(expansions, how: str, values: dict) -> Supplement:
    zero, (A, B, inf_terms), f0 = expansions(values["lam"])
    ser = S.DualSeries(zero, A, B, inf_terms)
    omega0, eta0 = S.at_zero(ser, f0 / 2)
    omega_oo, eta_oo = S.at_infinity(ser)
    return Supplement(
        series={"omega@0": omega0, "omega@oo": omega_oo, "eta_hat@0": eta0, "eta_hat@oo": eta_oo},
        provenance=Provenance(
            "supplied", "two-term series of the solution of w**2 = eta**2 f'(eta) from the expansion of f "
            "(symdual.asymptotics.DualSeries); " + how, "exact coefficients, asymptotic"))


def _exact_expansions(lam_value):
    """Terms of f at 0+ and oo, and f(0+)."""
    return S.expansion_at_zero(f_exact(lam_value), 4), expansion_at_infinity(lam_value), f_at_zero() / lam_value


def _approx_expansions(lam_value):
    f = f_approx(lam_value)
    return S.expansion_at_zero(f, 3), S.expansion_at_infinity(f, 3), sp.Integer(0)


def exact_series(values: dict, engine: object = None) -> Supplement:
    """Series of Omega, eta_hat at 0+ (SymPy series of the 2F2) and oo (Gaussian moments of the KL)."""
    return _series(_exact_expansions, "f at 0+ by SymPy series of the 2F2, f at oo from Gaussian moments "
                                      "of the KL expectation", values)


def approx_series(values: dict, engine: object = None) -> Supplement:
    return _series(_approx_expansions, "f at 0+ and oo by SymPy series", values)
