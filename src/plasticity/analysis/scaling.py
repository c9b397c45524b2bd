"""Scaling-law fits of L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022; "Problems with Chinchilla approach 2", 2026).

* ``fit_vpnls``: variable projection — for fixed (α, β) the loss is linear in (E, A, B), solved in closed form
  by least squares; a grid over (α, β) then a local search refines the profiled objective. Exact on noise-free data.
* ``fit_approach3``: direct nonlinear least squares over all five parameters (several starts).
* ``fit_approach2``: the IsoFLOP method — per compute budget C = 6ND, a parabola in log N gives N_opt(C);
  a line in log-log gives N_opt ∝ C^a. Biased when α ≠ β or the sampled N are off-centre.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError


@dataclass
class ScalingLaw:
    """Parameters of L(N, D) = E + A N^-α + B D^-β."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def loss(self, n: np.ndarray, d: np.ndarray) -> np.ndarray:
        return self.E + self.A * np.asarray(n, float) ** -self.alpha + self.B * np.asarray(d, float) ** -self.beta

    @property
    def a(self) -> float:
        """Compute-optimal exponent: N_opt ∝ C^a with a = β/(α+β)."""
        return self.beta / (self.alpha + self.beta)

    def n_opt(self, c: np.ndarray | float) -> np.ndarray:
        """Exact compute-optimal N for budget C = 6ND: G (C/6)^a with G = (αA/(βB))^{1/(α+β)}."""
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        return g * (np.asarray(c, float) / 6.0) ** self.a

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _check(n: np.ndarray, d: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, d, loss = (np.asarray(v, float).ravel() for v in (n, d, loss))
    if not (n.shape == d.shape == loss.shape):
        raise ConfigError(f"n, d and loss must have the same length, got {n.size}, {d.size}, {loss.size}")
    if n.size < 5:
        raise ConfigError(f"need at least 5 (N, D, L) points to fit 5 parameters, got {n.size}")
    if (n <= 0).any() or (d <= 0).any():
        raise ConfigError("n and d must be positive")
    return n, d, loss


def _linear_part(n, d, loss, alpha: float, beta: float) -> tuple[np.ndarray, float]:
    """Closed-form (E, A, B) for fixed exponents and the residual sum of squares."""
    x = np.stack([np.ones_like(n), n**-alpha, d**-beta], axis=1)
    coef, *_ = np.linalg.lstsq(x, loss, rcond=None)
    r = x @ coef - loss
    return coef, float(r @ r)


def fit_vpnls(n, d, loss, alpha_grid: np.ndarray | None = None, beta_grid: np.ndarray | None = None) -> ScalingLaw:
    """Variable-projection nonlinear least squares: profile out (E, A, B), search (α, β)."""
    n, d, loss = _check(n, d, loss)
    ag = np.linspace(0.05, 1.0, 39) if alpha_grid is None else np.asarray(alpha_grid, float)
    bg = np.linspace(0.05, 1.0, 39) if beta_grid is None else np.asarray(beta_grid, float)
    best = min(((a, b) for a in ag for b in bg), key=lambda ab: _linear_part(n, d, loss, *ab)[1])

    def obj(p: np.ndarray) -> float:
        return _linear_part(n, d, loss, p[0], p[1])[1] / (loss @ loss)

    from scipy.optimize import minimize  # lazy: keeps `import plasticity` light

    res = minimize(obj, np.array(best), method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": 1e-30, "maxiter": 4000, "maxfev": 8000})
    alpha, beta = (float(v) for v in res.x)
    (e, a, b), _ = _linear_part(n, d, loss, alpha, beta)
    return ScalingLaw(float(e), float(a), float(b), alpha, beta)


def fit_approach3(n, d, loss, starts: int = 16, seed: int = 0) -> ScalingLaw:
    """Direct fit of all five parameters (log-parametrised E, A, B), best of ``starts`` random starts."""
    n, d, loss = _check(n, d, loss)
    rng = np.random.default_rng(seed)

    def resid(p: np.ndarray) -> np.ndarray:
        le, la, lb, alpha, beta = p
        return (np.exp(le) + np.exp(la) * n**-alpha + np.exp(lb) * d**-beta - loss) / loss

    best = None
    for _ in range(starts):
        p0 = np.array([rng.uniform(-1, 1.5), rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(0.1, 0.8),
                       rng.uniform(0.1, 0.8)])
        from scipy.optimize import least_squares

        r = least_squares(resid, p0, bounds=([-10, -10, -10, 0.01, 0.01], [5, 30, 30, 2, 2]),
                          xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=5000)
        if best is None or r.cost < best.cost:
            best = r
    le, la, lb, alpha, beta = best.x
    return ScalingLaw(float(np.exp(le)), float(np.exp(la)), float(np.exp(lb)), float(alpha), float(beta))


@dataclass
class Approach2Fit:
    """IsoFLOP result: per-budget vertex N_opt and the power law N_opt = k C^a."""

    budgets: list[float]
    n_opt: list[float]
    a: float
    k: float


def isoflop_grid(law: ScalingLaw, budgets: np.ndarray, points: int = 15, span: float = 16.0,
                 offset: float = 1.0, drift: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample (C, N, D, L): per budget, ``points`` N log-spaced over ×/÷ sqrt(span) around a centre.

    The centre is ``offset`` x N_opt(C) (constant off-centre sampling) times ``drift``^t, t going linearly
    in log C from 0 at the smallest budget to 1 at the largest (sampling that drifts with compute).
    """
    budgets = np.asarray(budgets, float)
    if span <= 1 or points < 3 or offset <= 0 or drift <= 0:
        raise ConfigError("isoflop_grid needs span > 1, points >= 3, offset > 0 and drift > 0")
    lc = np.log(budgets)
    ts = (lc - lc.min()) / (lc.max() - lc.min()) if budgets.size > 1 else np.zeros(1)
    cs, ns = [], []
    for c, t in zip(budgets, ts, strict=True):
        centre = law.n_opt(c) * offset * drift**t
        grid = centre * np.logspace(-0.5 * np.log10(span), 0.5 * np.log10(span), points)
        cs.append(np.full(points, c))
        ns.append(grid)
    c, n = np.concatenate(cs), np.concatenate(ns)
    d = c / (6.0 * n)
    return c, n, d, law.loss(n, d)


def fit_approach2(c, n, loss) -> Approach2Fit:
    """Parabola L ≈ p2 x² + p1 x + p0 in x = log N per budget; vertex -p1/(2 p2); then log N_opt = a log C + log k."""
    c, n, loss = (np.asarray(v, float).ravel() for v in (c, n, loss))
    budgets = np.unique(c)
    if budgets.size < 2:
        raise ConfigError("approach 2 needs at least two compute budgets")
    n_opt = []
    for b in budgets:
        m = c == b
        if m.sum() < 3:
            raise ConfigError(f"budget {b:g} has {int(m.sum())} points; a parabola needs at least 3")
        p2, p1, _ = np.polyfit(np.log(n[m]), loss[m], 2)
        n_opt.append(float(np.exp(-p1 / (2 * p2))))
    a, logk = np.polyfit(np.log(budgets), np.log(n_opt), 1)
    return Approach2Fit([float(b) for b in budgets], n_opt, float(a), float(np.exp(logk)))
