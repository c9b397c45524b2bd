"""Recurrent population with per-neuron gains adapted for efficient coding (after Duong et al. 2023,
"Adaptive coding efficiency in recurrent cortical circuits via gain control", arXiv:2305.19869).

Dynamics tau dr/dt = -r + g * (h + W r) with fixed recurrent weights W and adaptive gains g; the steady
state is r = (I - G W)^{-1} G h. Gains only (never W) adapt to the stimulus ensemble by minimising
    L(g) = -1/2 log det(I + M Sigma_h M^T / sigma^2) + alpha * tr(M S_h M^T),    M = (I - G W)^{-1} G,
i.e. maximise the information the responses carry about the feedforward drive (Gaussian output noise
sigma^2) while penalising overall activity E||r||^2 (Sigma_h: drive covariance, S_h: second moment).
This is our reading of the paper's fidelity-vs-activity objective; their exact form may differ.
``fidelity='neuron'`` sums single-neuron information terms instead, -1/2 sum_i log(1 + C_ii / sigma^2) with
C = M Sigma_h M^T; its per-neuron stationarity condition has a closed form (:func:`analytic_gains`).

Closed form. Hold neuron i's total input u_i = h_i + (W r)_i fixed (r_i = g_i u_i, variance v_i, second
moment m_i). Its terms of the 'neuron' objective are -1/2 log(1 + g_i^2 v_i / sigma^2) + alpha g_i^2 m_i;
setting the derivative in g_i^2 to zero gives
    g_i^2 = max(0, 1 / (2 alpha m_i) - sigma^2 / v_i),
exact for W = 0 (u = h), and in the recurrent network a self-consistent solution once u's statistics are
those the gains themselves produce (:func:`self_consistent_gains`), which ignores how g_i moves other neurons'
inputs (the global optimum, found by :func:`adapt_gains`, does not).
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError, check_choice, check_range

FIDELITY = ("population", "neuron")


def von_mises_tuning(stimuli: torch.Tensor, preferred: torch.Tensor, kappa: float) -> torch.Tensor:
    """Orientation tuning exp(kappa (cos 2(s - phi) - 1)) (period pi): (K,) x (N,) -> (K, N)."""
    return torch.exp(kappa * (torch.cos(2 * (stimuli[:, None] - preferred[None, :])) - 1))


def ring_connectivity(preferred: torch.Tensor, w_exc: float, w_inh: float, width: float, radius: float) -> torch.Tensor:
    """Orientation-ring weights: local excitation exp(width (cos 2dphi - 1)) minus uniform inhibition, zero
    diagonal, scaled to spectral radius ``radius`` (< 1 keeps the g = 1 network stable)."""
    check_range("radius", radius, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    d = preferred[:, None] - preferred[None, :]
    w = w_exc * torch.exp(width * (torch.cos(2 * d) - 1)) - w_inh
    w.fill_diagonal_(0.0)
    rho = torch.linalg.eigvals(w).abs().max().real
    return w * (radius / rho)


class GainPopulation(torch.nn.Module):
    """N neurons on an orientation ring; fixed W, trainable per-neuron gains in (0, g_max).

    Gains are parameterised as g = g_max * sigmoid(u) with u initialised so that g = 1 (unadapted).
    Keep g_max * radius < 1 so every gain setting stays stable.
    """

    def __init__(self, n: int, kappa: float = 1.0, w_exc: float = 1.0, w_inh: float = 0.5, width: float = 1.0,
                 radius: float = 0.9, g_max: float = 1.1, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if n < 2:
            raise ConfigError(f"n={n} is out of range; allowed: [2, inf)")
        check_range("g_max", g_max, 1.0, 1.0 / radius, low_inclusive=False, high_inclusive=False)
        self.kappa, self.g_max = kappa, g_max
        pref = torch.arange(n, device=device, dtype=dtype) * math.pi / n
        self.register_buffer("preferred", pref)
        self.register_buffer("weight", ring_connectivity(pref, w_exc, w_inh, width, radius))
        self.gain_logit = torch.nn.Parameter(torch.full((n,), -math.log(g_max - 1.0), device=device, dtype=dtype))

    @property
    def gains(self) -> torch.Tensor:
        return self.g_max * torch.sigmoid(self.gain_logit)

    def reset_gains(self) -> None:
        with torch.no_grad():
            self.gain_logit.fill_(-math.log(self.g_max - 1.0))

    def drive(self, stimuli: torch.Tensor) -> torch.Tensor:
        """Feedforward drive h(s) for orientations ``stimuli`` (K,) -> (K, N)."""
        return von_mises_tuning(stimuli.to(self.preferred), self.preferred, self.kappa)

    def transfer(self, gains: torch.Tensor | None = None) -> torch.Tensor:
        """M = (I - G W)^{-1} G, so that steady-state r = M h."""
        g = self.gains if gains is None else gains
        eye = torch.eye(len(g), dtype=g.dtype, device=g.device)
        return torch.linalg.solve(eye - g[:, None] * self.weight, torch.diag(g))

    def forward(self, h: torch.Tensor, gains: torch.Tensor | None = None) -> torch.Tensor:
        """Steady-state responses for drives h (..., N)."""
        return h @ self.transfer(gains).T

    def simulate(self, h: torch.Tensor, steps: int = 200, dt: float = 0.1) -> torch.Tensor:
        """Euler-integrate tau dr/dt = -r + g (h + W r) from r = 0 (tau = 1); returns r at the end."""
        g = self.gains.detach()
        r = torch.zeros_like(h)
        for _ in range(steps):
            r = r + dt * (-r + g * (h + r @ self.weight.T))
        return r


def stimulus_moments(h: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Covariance and second moment of drives h (K, N) under stimulus probabilities p (K,)."""
    p = p / p.sum()
    mu = p @ h
    hc = h - mu
    return (p[:, None] * hc).T @ hc, (p[:, None] * h).T @ h


def efficient_coding_loss(model: GainPopulation, cov: torch.Tensor, second: torch.Tensor, noise_var: float,
                          alpha: float, fidelity: str = "population") -> torch.Tensor:
    """-information (Gaussian output noise) + alpha * total squared activity; see module docstring.

    ``fidelity='population'``: the population's information; ``'neuron'``: the sum of single-neuron terms."""
    check_choice("fidelity", fidelity, FIDELITY)
    m = model.transfer()
    c = m @ cov @ m.T
    if fidelity == "neuron":
        info = 0.5 * torch.log1p(c.diagonal() / noise_var).sum()
    else:
        eye = torch.eye(m.shape[0], dtype=m.dtype, device=m.device)
        info = 0.5 * torch.logdet(eye + c / noise_var)
    return -info + alpha * torch.trace(m @ second @ m.T)


def analytic_gains(var: torch.Tensor, second: torch.Tensor, noise_var: float, alpha: float) -> torch.Tensor:
    """Closed-form optimal gains g_i = sqrt(max(0, 1/(2 alpha m_i) - sigma^2/v_i)) for inputs of variance
    ``var`` and second moment ``second`` (per neuron); see the module docstring."""
    check_range("noise_var", noise_var, 0.0, math.inf, low_inclusive=False)
    check_range("alpha", alpha, 0.0, math.inf, low_inclusive=False)
    return (1.0 / (2 * alpha * second) - noise_var / var).clamp_min(0.0).sqrt()


def self_consistent_gains(weight: torch.Tensor, cov: torch.Tensor, second: torch.Tensor, noise_var: float,
                          alpha: float, g_max: float, iters: int = 500, damping: float = 0.5) -> torch.Tensor:
    """Gains that satisfy :func:`analytic_gains` for the input statistics they produce themselves:
    u = (I - W G)^{-1} h, iterated from g = 1 with ``damping`` and clipped to [0, g_max)."""
    eye = torch.eye(len(weight), dtype=weight.dtype, device=weight.device)
    g = torch.ones(len(weight), dtype=weight.dtype, device=weight.device)
    for _ in range(iters):
        t = torch.linalg.inv(eye - weight * g[None, :])           # u = T h
        v = (t @ cov @ t.T).diagonal()
        m = (t @ second @ t.T).diagonal()
        new = analytic_gains(v, m, noise_var, alpha).clamp(max=g_max * (1 - 1e-6))
        g = damping * g + (1 - damping) * new
    return g


def adapt_gains(model: GainPopulation, stimuli: torch.Tensor, p: torch.Tensor, noise_var: float = 0.01,
                alpha: float = 0.3, steps: int = 500, lr: float = 0.05, fidelity: str = "population") -> list[float]:
    """Adapt only the gains to the ensemble (stimuli, p) with Adam on ``efficient_coding_loss``; returns losses."""
    cov, second = stimulus_moments(model.drive(stimuli), p.to(model.preferred))
    opt = torch.optim.Adam([model.gain_logit], lr=lr)
    hist = []
    for _ in range(steps):
        loss = efficient_coding_loss(model, cov, second, noise_var, alpha, fidelity)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(float(loss.detach()))
    return hist


def mean_abs_correlation(r: torch.Tensor, p: torch.Tensor) -> float:
    """Mean |Pearson correlation| over neuron pairs of responses r (K, N) across stimuli weighted by p."""
    cov, _ = stimulus_moments(r, p.to(r))
    sd = cov.diagonal().clamp_min(1e-30).sqrt()
    corr = cov / sd[:, None] / sd[None, :]
    off = ~torch.eye(len(sd), dtype=torch.bool, device=r.device)
    return float(corr[off].abs().mean())


def preferred_orientation(r: torch.Tensor, stimuli: torch.Tensor) -> torch.Tensor:
    """Circular-mean preferred orientation (in [0, pi)) of each tuning curve r (K stimuli, N neurons)."""
    z = (r * torch.exp(2j * stimuli.to(r))[:, None]).sum(0)
    return torch.remainder(torch.angle(z) / 2, math.pi)


def wrap_orientation(x: torch.Tensor) -> torch.Tensor:
    """Wrap orientation differences to [-pi/2, pi/2)."""
    return torch.remainder(x + math.pi / 2, math.pi) - math.pi / 2


def adapter_prior(stimuli: torch.Tensor, adapter: float, weight: float, concentration: float = 8.0) -> torch.Tensor:
    """Biased ensemble: (1 - weight) uniform + weight von-Mises bump at ``adapter`` (probabilities over stimuli)."""
    check_range("weight", weight, 0.0, 1.0)
    bump = torch.softmax(concentration * torch.cos(2 * (stimuli - adapter)), 0)
    p = (1 - weight) / len(stimuli) + weight * bump
    return p / p.sum()
